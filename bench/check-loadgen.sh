#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-check the load generator against wrk on the fake provider: the same
# request, the same connection counts, one after the other. The two should
# agree on p50 and requests/s within the machine's noise; it fails when they
# are off by more than a factor of two, or when loadgen reports errors.
# Usage: bench/check-loadgen.sh BUILD_DIR [SECONDS]
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
FAKE_PID=""
cleanup() {
  [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "check-loadgen: wrk is missing (scripts/install-deps --bench)" >&2; exit 2; }

"$BUILD/fake_provider" --port 0 >"$WORK/fake.out" 2>&1 &
FAKE_PID=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$WORK/fake.out" && break; sleep 0.05; done
PORT=$(grep -m1 -o 'listening on 127.0.0.1:[0-9]*' "$WORK/fake.out" | sed 's/.*://')
[ -n "$PORT" ] || { echo "check-loadgen: the fake provider did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT/v1/chat/completions"
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/_fake/default" \
  -d '{"content":"Gateways route requests between clients and model providers.","times":-1}'
printf '{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false}' >"$WORK/body.json"

to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
status=0
printf '%-6s %-8s %10s %10s %10s\n' conns tool p50_us p99_us rps
for c in 1 16; do
  t=1; [ "$c" -gt 1 ] && t=2
  BENCH_BODY="$WORK/body.json" wrk -t"$t" -c"$c" -d"${SECS}s" --latency -s "$HERE/post.lua" "$URL" >"$WORK/wrk.txt"
  w50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")")
  w99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")")
  wrps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
  line=$("$BUILD/loadgen" --url "$URL" --body "$WORK/body.json" -H "Authorization: Bearer bench" --conns "$c" --duration "$SECS")
  l50=$(kv "$line" lat_p50_us) l99=$(kv "$line" lat_p99_us) lrps=$(kv "$line" rps)
  printf '%-6s %-8s %10.1f %10.1f %10.0f\n' "$c" wrk "$w50" "$w99" "$wrps" "$c" loadgen "$l50" "$l99" "$lrps"
  if [ "$(kv "$line" errors)" != 0 ] || [ "$(kv "$line" non2xx)" != 0 ]; then
    echo "check-loadgen: loadgen saw errors: $line" >&2; status=1
  fi
  if ! awk -v a="$l50" -v b="$w50" -v x="$lrps" -v y="$wrps" \
    'BEGIN { exit !(a < 2 * b + 20 && b < 2 * a + 20 && x < 2 * y && y < 2 * x) }'; then
    echo "check-loadgen: loadgen and wrk disagree at $c connection(s)" >&2; status=1
  fi
done
exit $status
