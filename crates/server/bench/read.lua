-- wrk script: cycles through pre-signed read requests, each thread through its own share, so
-- no request id is sent twice (a replay would be refused with 409).
-- The file is named by the environment variable REQUESTS; lines are
-- "path<TAB>request id<TAB>signature" (see examples/bench_requests.rs).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  thread:set("nthreads", 0)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  nthreads = counter
  requests = {}
  local n = 0
  local path = os.getenv("REQUESTS")
  local i = 0
  for line in io.lines(path) do
    if i % 2 == id % 2 then
      local p, rid, sig = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
      n = n + 1
      requests[n] = wrk.format("GET", p, {
        ["Information-Mediator-Client"] = "ERRANDLESS/GOV/civil_affairs/bench",
        ["X-Purpose"] = "benefit_eligibility",
        ["X-Request-Id"] = rid,
        ["X-Signature"] = sig,
      })
    end
    i = i + 1
  end
  total = n
  next_request = 0
end

function request()
  next_request = next_request + 1
  if next_request > total then next_request = 1 end
  return requests[next_request]
end
