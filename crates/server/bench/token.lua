-- wrk script: posts pre-made token requests (one form body a line, from
-- examples/bench_identity.rs), each thread its own share, so no code is sent twice (a reused
-- code is refused and revokes what it gave). The file is named by the environment variable
-- BODIES.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  requests = {}
  local n = 0
  local i = 0
  for line in io.lines(os.getenv("BODIES")) do
    if i % 2 == id % 2 then
      n = n + 1
      requests[n] = wrk.format("POST", "/oauth/token",
        { ["Content-Type"] = "application/x-www-form-urlencoded" }, line)
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
