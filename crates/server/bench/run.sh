#!/usr/bin/env bash
# Signed and recorded per-subject reads over loopback, measured with wrk.
#
#   crates/server/bench/run.sh [RUNS] [SECONDS] [CONNECTIONS]
#
# Builds the release binary, runs the demo on a province of 20,000 people in a temporary
# directory (which registers the departments), grants civil_affairs a read of residents,
# pre-signs enough requests (each with its own request id), starts `errandless serve`, and runs wrk RUNS times (default
# 3) with two threads. Prints requests/s and p99 of each run and the median of the runs.
# Every request is checked, answered, signed and recorded in the ledger (fsynced) before wrk
# sees its response. Needs wrk (Debian package `wrk`).
set -euo pipefail
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked -q -p errandless-cli -p errandless-server --examples --bins
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
BIN=$TARGET/errandless
WORK=$(mktemp -d)
DATA=$WORK/data
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export ERRANDLESS_DATA=$DATA
unset ERRANDLESS_STORE_URL ERRANDLESS_CONFIG
# The demo makes the ledger and registers the departments, civil_affairs and public_security
# among them, with their keys under members/.
"$BIN" demo --no-serve --people 20000 >/dev/null 2>&1
PORT=$((20000 + RANDOM % 20000))
"$BIN" serve --listen 127.0.0.1:$PORT 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
RESULTS=()
for run in $(seq "$RUNS"); do
  COUNT=$((SECONDS_PER_RUN * 12000))
  "$TARGET"/examples/bench_requests "$DATA" "$COUNT" "run$run" "$WORK/requests.txt"
  OUT=$(REQUESTS=$WORK/requests.txt wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
    -s crates/server/bench/read.lua "http://127.0.0.1:$PORT")
  RPS=$(echo "$OUT" | awk '/^Requests\/sec/ {print $2}')
  P99=$(echo "$OUT" | awk '$1 == "99%" {print $2}')
  BAD=$(echo "$OUT" | awk '/Non-2xx/ {print $5}')
  echo "run $run: ${RPS} requests/s, p99 ${P99}, non-2xx ${BAD:-0}"
  RESULTS+=("$RPS $P99")
done
printf '%s\n' "${RESULTS[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) {print "median: " $1 " requests/s (p99 of that run " $2 ")"}'
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^errandless_(reads_total|ledger_)' || true
