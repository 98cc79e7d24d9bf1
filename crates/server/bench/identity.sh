#!/usr/bin/env bash
# The identity provider's figures over loopback, measured with wrk: code-for-token exchanges
# per second (ID tokens signed EdDSA, then RS256), UserInfo per second, and password logins
# per second at the platform's Argon2id parameters.
#
#   crates/server/bench/identity.sh [SECONDS] [CONNECTIONS]
#
# Builds the release binary, makes a small province (the server needs islands and a ledger),
# starts `errandless serve`, and for each algorithm makes 10,000 codes with
# `examples/bench_identity.rs` (a code lives a minute, so each exchange run lasts 2 s). Every exchange
# checks the client's secret, the code, the redirect URI and the PKCE verifier, stores two
# token hashes and signs an ID token. Needs wrk (Debian package `wrk`).
#
# IDENTITY_ONLY=1 builds this crate alone and serves the provider with
# `examples/serve_identity.rs` instead of `errandless serve` over a demo province: the same
# endpoints over the same store, without the policy engine's long release build (and without
# the exchange, which the code exchange does not touch).
set -euo pipefail
SECONDS_PER_RUN=${1:-5}
CONNECTIONS=${2:-32}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ "${IDENTITY_ONLY:-0}" = 1 ]; then
  cargo build --release --locked -q -p errandless-server --example serve_identity --example bench_identity
else
  cargo build --release --locked -q -p errandless-cli -p errandless-server --examples --bins
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
BIN=$TARGET/errandless
BENCH=$TARGET/examples/bench_identity
WORK=$(mktemp -d)
DATA=$WORK/data
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export ERRANDLESS_DATA=$DATA
unset ERRANDLESS_STORE_URL ERRANDLESS_CONFIG
PORT=$((20000 + RANDOM % 20000))
ISSUER=http://127.0.0.1:$PORT
if [ "${IDENTITY_ONLY:-0}" = 1 ]; then
  mkdir -p "$DATA"
  "$TARGET/examples/serve_identity" "$DATA" "$ISSUER" 127.0.0.1:$PORT 2>"$WORK/serve.log" &
else
  "$BIN" demo --no-serve --people 2000 >/dev/null 2>&1
  "$BIN" serve --listen 127.0.0.1:$PORT --issuer "$ISSUER" 2>"$WORK/serve.log" &
fi
SERVER=$!
for _ in $(seq 100); do curl -sf "$ISSUER/healthz" >/dev/null && break; sleep 0.1; done
# A code lives a minute, so the exchange runs are two seconds long over codes made just
# before; a non-2xx count above zero means codes ran out or expired, and the figure is void.
for ALG in EdDSA RS256; do
  "$BENCH" prepare "$DATA" "$ISSUER" 10000 "$ALG" "$WORK/bodies.txt"
  OUT=$(BODIES=$WORK/bodies.txt wrk -t2 -c"$CONNECTIONS" -d2s --latency \
    -s crates/server/bench/token.lua "$ISSUER")
  RPS=$(echo "$OUT" | awk '/^Requests\/sec/ {print $2}')
  P99=$(echo "$OUT" | awk '$1 == "99%" {print $2}')
  BAD=$(echo "$OUT" | awk '/Non-2xx/ {print $5}')
  echo "code exchange ($ALG): ${RPS} requests/s, p99 ${P99}, non-2xx ${BAD:-0}"
done
ACCESS=$("$BENCH" token "$DATA" "$ISSUER")
OUT=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
  -H "Authorization: Bearer $ACCESS" "$ISSUER/oauth/userinfo")
RPS=$(echo "$OUT" | awk '/^Requests\/sec/ {print $2}')
P99=$(echo "$OUT" | awk '$1 == "99%" {print $2}')
BAD=$(echo "$OUT" | awk '/Non-2xx/ {print $5}')
echo "userinfo: ${RPS} requests/s, p99 ${P99}, non-2xx ${BAD:-0}"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
"$BENCH" logins "$SECONDS_PER_RUN"
