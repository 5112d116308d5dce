#!/usr/bin/env bash
# The benchmark harness (`make bench`; not a test). On loopback, it measures
# the fake provider directly and the same requests through switchboard, and
# reports medians of several runs:
#   - added latency p50 / p99 at 1 connection, non-stream and stream
#   - throughput at 64 connections and its ratio to the direct call
#   - the gateway's RSS, idle and after the load
#   - JSON parse speed on a ~130 KB chat body
# Usage: bench/run.sh BUILD_DIR   (RUNS=5 DURATION=5 to change the defaults)
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/results"
WORK=$(mktemp -d)
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }
cpus=$(nproc)
# Load generator on the last CPU, servers on the others (when there are any).
if [ "$cpus" -ge 2 ]; then
  WRK_CPU=$((cpus - 1)); SRV_CPUS="0-$((cpus - 2))"
else
  WRK_CPU=0; SRV_CPUS=0
fi

# ---- servers ----------------------------------------------------------------
wait_line() { # file pattern -> prints the first match
  for _ in $(seq 1 200); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -m1 -o "$2" "$1"; return 0; fi
    sleep 0.05
  done
  say "timed out waiting for '$2' in $1"; cat "$1" >&2; return 1
}

taskset -c "$SRV_CPUS" "$BUILD/fake_provider" --port 0 >"$WORK/fake.out" 2>&1 &
PIDS+=($!)
FAKE_PORT=$(wait_line "$WORK/fake.out" 'listening on 127.0.0.1:[0-9]*' | sed 's/.*://')

cat >"$WORK/switchboard.yaml" <<CFG
listen: 127.0.0.1:0
workers: 1
database: sqlite:$WORK/bench.db
providers:
  openai: { format: openai, base_url: "http://127.0.0.1:$FAKE_PORT/v1", api_key: bench }
CFG
SWITCHBOARD_LOG=warn taskset -c "$SRV_CPUS" "$BUILD/switchboard" serve --config "$WORK/switchboard.yaml" >"$WORK/sb.out" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
SB_PORT=$(wait_line "$WORK/sb.out" 'listening on http://127.0.0.1:[0-9]*' | sed 's/.*://')
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SB_PID/status"; }
IDLE_RSS=$(rss_mb)

# ---- request bodies -----------------------------------------------------------
body() { # stream(true|false) -> file
  local f="$WORK/body-$1.json"
  printf '{"model":"%s","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about gateways."}],"temperature":0.2,"max_tokens":64,"stream":%s}' \
    "$2" "$1" >"$f"
  echo "$f"
}

# ---- measurement ---------------------------------------------------------------
to_us() { # "123.45us" / "1.20ms" / "1.00s" -> microseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'
}

# one wrk run -> "p50_us p99_us rps"
wrk_once() { # url conns bodyfile
  local threads=1
  [ "$2" -gt 1 ] && threads=2
  BENCH_BODY="$3" taskset -c "$WRK_CPU" wrk -t"$threads" -c"$2" -d"${DURATION}s" --latency \
    -s "$HERE/post.lua" "$1" >"$WORK/wrk.txt" 2>&1
  if grep -q "Non-2xx" "$WORK/wrk.txt"; then
    say "non-2xx responses from $1:"; cat "$WORK/wrk.txt" >&2; exit 1
  fi
  local p50 p99 rps
  p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
  rps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
  echo "$(to_us "$p50") $(to_us "$p99") $rps"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# measure label url conns bodyfile -> sets M_P50 M_P99 M_RPS (medians)
measure() {
  local f="$WORK/runs-$1"
  : >"$f"
  for i in $(seq 1 "$RUNS"); do
    wrk_once "$2" "$3" "$4" >>"$f"
    say "  $1 run $i/$RUNS: $(tail -n1 "$f")"
  done
  M_P50=$(awk '{ print $1 }' "$f" | median)
  M_P99=$(awk '{ print $2 }' "$f" | median)
  M_RPS=$(awk '{ print $3 }' "$f" | median)
}

DIRECT="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"
GATEWAY="http://127.0.0.1:$SB_PORT/v1/chat/completions"
ROWS=()
for mode in false true; do
  name=$([ "$mode" = true ] && echo "stream" || echo "non-stream")
  direct_body=$(body "$mode" "gpt-4o-mini")
  gw_body="$WORK/gw-$mode.json"
  sed 's/"model":"gpt-4o-mini"/"model":"openai\/gpt-4o-mini"/' "$direct_body" >"$gw_body"
  for conns in 1 64; do
    say "$name, $conns connection(s):"
    measure "direct-$mode-$conns" "$DIRECT" "$conns" "$direct_body"
    d50=$M_P50 d99=$M_P99 drps=$M_RPS
    measure "gateway-$mode-$conns" "$GATEWAY" "$conns" "$gw_body"
    g50=$M_P50 g99=$M_P99 grps=$M_RPS
    ROWS+=("$(awk -v n="$name" -v c="$conns" -v d50="$d50" -v d99="$d99" -v g50="$g50" -v g99="$g99" \
      -v drps="$drps" -v grps="$grps" 'BEGIN {
        printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |",
          n, c, d50, d99, g50, g99, g50 - d50, g99 - d99, drps, grps, grps / drps }')")
  done
done
LOAD_RSS=$(rss_mb)
JSON_LINE=$("$BUILD/json_bench" 2>/dev/null | grep -m1 'json parse' || echo "json parse: (json_bench not built)")

{
  echo "## Benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, loopback, median of $RUNS runs of ${DURATION}s)"
  echo
  echo "fake provider answering at once; switchboard with 1 worker; wrk pinned to its own CPU."
  echo "Latencies in µs; throughput in requests/s."
  echo
  echo "| mode | conns | direct p50 | direct p99 | gateway p50 | gateway p99 | added p50 | added p99 | direct rps | gateway rps | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Gateway RSS: ${IDLE_RSS} MB idle, ${LOAD_RSS} MB after the runs."
  echo
  echo "$JSON_LINE"
} | tee "$OUT/latest.md"
