#!/usr/bin/env bash
# The portal's figures over loopback: the logged-in home page under load (requests per second
# and latency percentiles, measured with wrk and a session cookie), and the size of every page
# the demo accounts see.
#
#   crates/server/bench/portal.sh [PEOPLE] [SECONDS] [CONNECTIONS]
#
# Builds the release binary, runs `errandless demo` (PEOPLE, default 100,000) which ends by
# serving the portal, stops it, and serves the same data directory with `errandless serve`
# (the multi-threaded server). It then logs in as the demo's freshman through the provider's
# login and consent pages, as a browser would, and loads the home page with wrk at
# CONNECTIONS (default 200) concurrent connections for SECONDS (default 10), three times.
# Every request reads the session, the account and its staff roles, the citizen's decisions,
# entitlements and cases from the platform store, and renders the page. Needs wrk and curl.
set -euo pipefail
PEOPLE=${1:-100000}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-200}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked -q -p errandless-cli
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/errandless
WORK=$(mktemp -d)
DATA=$WORK/data
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
unset ERRANDLESS_STORE_URL ERRANDLESS_CONFIG ERRANDLESS_DATA ERRANDLESS_LISTEN
PORT=$((20000 + RANDOM % 20000))
BASE=http://127.0.0.1:$PORT

echo "demo of $PEOPLE people…"
"$BIN" demo --people "$PEOPLE" --data "$DATA" --listen 127.0.0.1:$PORT >"$WORK/demo.log" 2>&1 &
SERVER=$!
for _ in $(seq 1200); do curl -sf "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
PHONE=$(awk '/^freshman \(paid\)/ {print $3}' "$WORK/demo.log" | head -1)
PASSWORD=$(awk '/^password of every demo account:/ {print $NF}' "$WORK/demo.log")
[ -n "$PHONE" ] || { cat "$WORK/demo.log" >&2; echo "the demo printed no freshman" >&2; exit 1; }

"$BIN" --data "$DATA" serve --listen 127.0.0.1:$PORT 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 200); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

# Log in as a browser does: the portal's login, the provider's form, consent, the callback.
JAR=$WORK/cookies
field() { grep -o "name=\"$1\" value=\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
LOGIN=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' "$BASE/login?next=%2F")
PAGE=$(curl -s -c "$JAR" -b "$JAR" "$LOGIN")
REQUEST=$(echo "$PAGE" | field request)
TOKEN=$(echo "$PAGE" | field form_token)
NEXT=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "request=$REQUEST" --data-urlencode "form_token=$TOKEN" \
  --data-urlencode "phone=$PHONE" --data-urlencode "password=$PASSWORD" --data-urlencode "totp=" \
  "$BASE/oauth/login")
if [[ "$NEXT" == *consent* ]]; then
  TOKEN=$(curl -s -c "$JAR" -b "$JAR" "$NEXT" | field form_token)
  NEXT=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' \
    --data-urlencode "request=$REQUEST" --data-urlencode "form_token=$TOKEN" \
    --data-urlencode "decision=allow" "$BASE/oauth/consent")
fi
curl -s -c "$JAR" -b "$JAR" -o /dev/null "$NEXT"
SESSION=$(awk '$6 == "portal" {print $7}' "$JAR")
[ -n "$SESSION" ] || { echo "the login did not give a portal session" >&2; exit 1; }
COOKIE="portal=$SESSION"
# The greeting shows only to a signed-in citizen: the landing page would not count.
curl -s -H "Cookie: $COOKIE" "$BASE/" | grep -q 'action="/logout"' || { echo "the cookie gives no signed-in home page" >&2; exit 1; }

echo
echo "page sizes (bytes, without images; the stylesheet and htmx are cached files of their own):"
LINK=$(curl -s -H "Cookie: $COOKIE" "$BASE/" | grep -o 'href="/benefits/[^"]*"' | head -1 | cut -d'"' -f2)
for path in / "$LINK" /my-data /services /services/student-status-certificate \
  /services/student-status-certificate/apply /no/such/page /assets/portal.css /assets/htmx.min.js; do
  [ -n "$path" ] || continue
  printf '  %-48s %8s\n' "$path" "$(curl -s -o /dev/null -w '%{size_download}' -H "Cookie: $COOKIE" "$BASE$path")"
done

echo
echo "the logged-in home page, $CONNECTIONS connections, ${SECONDS_PER_RUN} s per run:"
for run in 1 2 3; do
  OUT=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" "$BASE/")
  RPS=$(echo "$OUT" | awk '/^Requests\/sec/ {print $2}')
  P50=$(echo "$OUT" | awk '$1 == "50%" {print $2}')
  P99=$(echo "$OUT" | awk '$1 == "99%" {print $2}')
  BAD=$(echo "$OUT" | awk '/Non-2xx/ {print $5}')
  echo "  run $run: ${RPS} pages/s, p50 ${P50}, p99 ${P99}, non-2xx ${BAD:-0}"
done
