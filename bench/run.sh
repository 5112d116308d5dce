#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark harness (`make bench`; not a test). See bench/README.md.
#
# On loopback, against one fake provider, it measures three targets in the same
# run: the fake provider directly, nginx as a plain reverse proxy in front of it,
# and switchboard in front of it; then (bench/https.sh) the same provider behind
# a TLS terminator, through nginx and through switchboard. The load generator (bench/loadgen.c) runs on
# one CPU, the servers on the other(s). Each measurement is repeated RUNS times
# and the medians are reported; "added" is a target's number minus the direct
# one.
#
# Usage: bench/run.sh BUILD_DIR
# Knobs: RUNS (5), DURATION (s per run, 5), STREAMS (10000), STREAM_SECONDS
#        (10), SOAK_SECONDS (600; 0 skips the soak), SOAK_RATE (1000 req/s),
#        OUT (bench/results: where the report and charts go), SCALEOUT (1;
#        0 skips the scale-out step, bench/scaleout.sh).
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
STREAMS=${STREAMS:-10000}
STREAM_SECONDS=${STREAM_SECONDS:-10}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_RATE=${SOAK_RATE:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/results}
WORK=$(mktemp -d)
mkdir -p "$OUT"

for n in RUNS DURATION STREAMS STREAM_SECONDS SOAK_SECONDS SOAK_RATE; do
  case "${!n}" in '' | *[!0-9]*) echo "run.sh: $n must be a whole number" >&2; exit 2 ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$STREAMS" -ge 1 ] && [ "$STREAM_SECONDS" -ge 1 ] ||
  { echo "run.sh: RUNS, DURATION, STREAMS and STREAM_SECONDS must be at least 1" >&2; exit 2; }
for bin in switchboard fake_provider loadgen json_bench; do
  [ -x "$BUILD/$bin" ] || { echo "run.sh: $BUILD/$bin is missing (build first)" >&2; exit 2; }
done
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# Every stream holds a client socket and, through a proxy, an upstream one.
STREAMS_WANTED=$STREAMS
if [ $((2 * STREAMS + 200)) -gt "$NOFILE" ]; then
  STREAMS=$(((NOFILE - 200) / 2))
  say "open-file limit $NOFILE: $STREAMS concurrent streams instead of $STREAMS_WANTED"
fi

# ---- servers ------------------------------------------------------------------------
start_fake

# nginx: a plain reverse proxy with a keep-alive pool to the fake, no buffering.
NGX_PORT=$(free_port) || { say "no free port for nginx"; exit 1; }
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CFG
$(nginx_preamble "$WORK/nginx")
http {
  access_log off;
$(nginx_temp_paths "$WORK/nginx")
  client_max_body_size 64m;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  upstream fake {
    server 127.0.0.1:$FAKE_PORT;
    keepalive 1024;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:$NGX_PORT backlog=4096;
    location / {
$(nginx_pass http://fake)
      proxy_read_timeout 300s;
    }
  }
}
CFG
start_nginx "$WORK/nginx" "$NGX_PORT"
NGX_PID=$NGX_STARTED NGX_WORKER=$NGX_STARTED_WORKER

# switchboard: 1 worker, SQLite ledger in the temp dir, the fake as provider
# `openai` and as provider `anthropic`.
start_switchboard() {
  {
    echo "listen: 127.0.0.1:0"
    echo "workers: 1"
    echo "database: sqlite:$WORK/bench.db"
    echo "log: { access: false }" # as nginx's access_log off; its cost: bench/ops.sh
    echo "providers:"
    echo "  openai: { format: openai, base_url: \"http://127.0.0.1:$FAKE_PORT/v1\", api_key: bench }"
    echo "  anthropic: { format: anthropic, base_url: \"http://127.0.0.1:$FAKE_PORT\", api_key: bench }"
    echo "  chatonly: { format: openai, base_url: \"http://127.0.0.1:$FAKE_PORT/v1\", api_key: bench, responses_api: false }"
  } >"$WORK/switchboard.yaml"
  start_switchboard_with "$WORK/switchboard.yaml" "$WORK/sb.out" || return 1
  SB_PID=$SB_STARTED SB_PORT=$SB_STARTED_PORT
}
start_switchboard || { say "switchboard did not start:"; cat "$WORK/sb.out" >&2; exit 1; }
sleep 0.5
IDLE_RSS_KB=$(rss_kb "$SB_PID")
NGX_IDLE_RSS_KB=$(( $(rss_kb "$NGX_PID") + $(rss_kb "$NGX_WORKER") ))
say "fake provider :$FAKE_PORT, nginx :$NGX_PORT, switchboard :$SB_PORT (idle RSS $((IDLE_RSS_KB / 1024)) MB); loadgen on CPU $LG_CPU, servers on $SRV_CPUS"

TARGETS=(direct nginx switchboard)
declare -A URL PORT_OF
PORT_OF[direct]=$FAKE_PORT; PORT_OF[nginx]=$NGX_PORT; PORT_OF[switchboard]=$SB_PORT
for t in "${TARGETS[@]}"; do URL[$t]="http://127.0.0.1:${PORT_OF[$t]}/v1/chat/completions"; done
AUTH=(-H "Authorization: Bearer bench")

# ---- request bodies -------------------------------------------------------------------
body() { # name stream(true|false) [system-text-file] -> writes $WORK/NAME-{direct,switchboard}.json
  local sys="You are a helpful assistant."
  [ -n "${3:-}" ] && sys=$(cat "$3")
  for t in direct switchboard; do
    local model=gpt-4o-mini
    [ "$t" = switchboard ] && model=openai/gpt-4o-mini
    # a stream asks for usage as OpenAI's clients do, so that every target
    # gets the same chunks (each with "usage":null, then the usage chunk)
    local opts=""
    [ "$2" = true ] && opts=',"stream_options":{"include_usage":true}'
    printf '{"model":"%s","messages":[{"role":"system","content":"%s"},{"role":"user","content":"Write one short sentence about gateways."}],"temperature":0.2,"max_tokens":64,"stream":%s%s}' \
      "$model" "$sys" "$2" "$opts" >"$WORK/$1-$t.json"
  done
}
bodyfor() { # name target -> file (nginx forwards the direct body)
  if [ "$2" = switchboard ]; then echo "$WORK/$1-switchboard.json"; else echo "$WORK/$1-direct.json"; fi
}
body plain false
body stream true
# ~1 MB of context in the system message (plain ASCII words, no escapes needed)
yes "the agent read the file and found the function it was looking for" | head -n 16000 | tr '\n' ' ' | head -c 1048576 >"$WORK/big.txt" || true
body big false "$WORK/big.txt"
rm -f "$WORK/big.txt"
SOAK_BODIES=(--body "$WORK/plain-switchboard.json" --body "$WORK/stream-switchboard.json")

# The default answer: eight short chunks, sent at once.
FAST='{"content":"Gateways route requests between clients and model providers.","times":-1}'

# measure section label loadgen-args... : RUNS runs per target, interleaved
# (direct, nginx, switchboard, direct, ...); lines in $WORK/res-LABEL-TARGET.
measure() {
  local label=$1 bodyname=$2
  shift 2
  for t in "${TARGETS[@]}"; do : >"$WORK/res-$label-$t"; done
  for i in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      local line
      loadgen "$label/$t" --url "${URL[$t]}" --body "$(bodyfor "$bodyname" "$t")" "${AUTH[@]}" "$@"
      line=$LINE
      echo "$line" >>"$WORK/res-$label-$t"
      say "$label $t run $i/$RUNS: p50 $(kv "$line" lat_p50_us) us, p99 $(kv "$line" lat_p99_us) us, $(kv "$line" rps) req/s"
    done
  done
}
M() { med "$WORK/res-$1-$2" "$3"; } # label target key -> median

# ---- 1. added latency at 1 connection ----------------------------------------------------
fake_default "$FAST"
say "1/10 latency at 1 connection (non-stream, stream)"
measure lat-plain plain --conns 1 --duration "$DURATION" --warmup 0.5
measure lat-stream stream --conns 1 --duration "$DURATION" --warmup 0.5

# ---- 2. throughput --------------------------------------------------------------------------
say "2/10 throughput at 64 and 256 connections"
measure tput-plain-64 plain --conns 64 --duration "$DURATION" --warmup 0.5
measure tput-plain-256 plain --conns 256 --duration "$DURATION" --warmup 0.5 --ramp 0.2
measure tput-stream-64 stream --conns 64 --duration "$DURATION" --warmup 0.5

# ---- 3. realistic streams: 30 and 300 events, CPU per event -------------------------------------
# One event per token as providers send them. CPU per event: the proxy's
# user + system ticks over its runs divided by the events its clients
# received (nginx: its worker).
say "3/10 realistic streams (30 and 300 events per answer)"
declare -A EV_CPU
measure_cpu() { # label body loadgen-args... : like measure, with CPU per event per target
  local label=$1 bodyname=$2
  shift 2
  for t in "${TARGETS[@]}"; do : >"$WORK/res-$label-$t"; EV_CPU[$label/$t]="0 0"; done
  for i in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      local pid=0 u0=0 s0=0 u1=0 s1=0 ticks events
      case $t in nginx) pid=$NGX_WORKER ;; switchboard) pid=$SB_PID ;; esac
      [ "$pid" != 0 ] && read -r u0 s0 < <(cpu_ticks "$pid")
      loadgen "$label/$t" --url "${URL[$t]}" --body "$(bodyfor "$bodyname" "$t")" "${AUTH[@]}" "$@"
      [ "$pid" != 0 ] && read -r u1 s1 < <(cpu_ticks "$pid")
      echo "$LINE" >>"$WORK/res-$label-$t"
      read -r ticks events <<<"${EV_CPU[$label/$t]}"
      EV_CPU[$label/$t]="$((ticks + u1 - u0 + s1 - s0)) $((events + $(kv "$LINE" events)))"
      say "$label $t run $i/$RUNS: p50 $(kv "$LINE" lat_p50_us) us, $(kv "$LINE" rps) req/s"
    done
  done
}
cpu_per_event() { # label target -> µs of CPU per event received
  local ticks events
  read -r ticks events <<<"${EV_CPU[$1/$2]}"
  [ "${events:-0}" -gt 0 ] || { echo 0; return; }
  calc "$ticks * 1000000 / $CLK_TCK / $events" 2
}
for n in 30 300; do
  words=$(for i in $(seq 1 "$n"); do printf 'tok%d ' "$i"; done)
  fake_default "{\"content\":\"${words% }\",\"times\":-1}"
  measure "lat-stream$n" stream --conns 1 --duration "$DURATION" --warmup 0.5
  measure_cpu "tput-stream$n" stream --conns 64 --duration "$DURATION" --warmup 0.5
done
# the Messages door translating for an OpenAI-format provider (the
# Anthropic SDK's request), 30 events, against the same direct stream
words=$(for i in $(seq 1 30); do printf 'tok%d ' "$i"; done)
fake_default "{\"content\":\"${words% }\",\"times\":-1}"
printf '{"model":"openai/gpt-4o-mini","max_tokens":64,"stream":true,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Write one short sentence about gateways."}]}' >"$WORK/msg30.json"
: >"$WORK/res-msg30-switchboard"; : >"$WORK/res-msg30-direct"
for i in $(seq 1 "$RUNS"); do
  loadgen msg30/direct --url "${URL[direct]}" --body "$(bodyfor stream direct)" --conns 1 --duration "$DURATION" --warmup 0.5
  echo "$LINE" >>"$WORK/res-msg30-direct"
  loadgen msg30/switchboard --url "http://127.0.0.1:$SB_PORT/v1/messages" --body "$WORK/msg30.json" \
    -H "x-api-key: bench" -H "anthropic-version: 2023-06-01" --conns 1 --duration "$DURATION" --warmup 0.5
  echo "$LINE" >>"$WORK/res-msg30-switchboard"
  say "messages door run $i/$RUNS: p50 $(kv "$LINE" lat_p50_us) us"
done
fake_default "$FAST"

# ---- 4. rate sweep: the highest rate with p99 under 20 ms ------------------------------------
say "4/10 rate sweep (open loop, 64 connections, p99 < 20 ms)"
declare -A SWEEP_RATE SWEEP_P99
: >"$WORK/sweep.txt"
sweep_step() { # target rate -> 0 when p99 < 20 ms, no errors and the rate was reached
  local t=$1 rate=$2 line p99 got errs
  loadgen "sweep/$t@$rate" --url "${URL[$t]}" --body "$(bodyfor plain "$t")" "${AUTH[@]}" \
    --conns 64 --rate "$rate" --duration "$DURATION" --warmup 0.5
  line=$LINE
  p99=$(kv "$line" lat_p99_us); got=$(kv "$line" rps); errs=$(kv "$line" errors)
  echo "$t $rate $got $p99 $errs" >>"$WORK/sweep.txt"
  say "sweep $t at $rate req/s: p99 $p99 us, achieved $got req/s"
  SWEEP_LAST_P99=$p99
  awk -v p="$p99" -v g="$got" -v r="$rate" -v e="$errs" 'BEGIN { exit !(p < 20000 && g >= 0.95 * r && e == 0) }'
}
for t in "${TARGETS[@]}"; do
  top=$(M tput-plain-64 "$t" rps)
  best=0 bestp99=-
  # Up from half the closed-loop rate while it holds; down from there if
  # even half fails.
  steps="0.5 0.7 0.8 0.9 1.0 1.1"
  for f in $steps; do
    rate=$(calc "$top * $f" 0)
    [ "$rate" -ge 1 ] || continue
    if sweep_step "$t" "$rate"; then best=$rate bestp99=$SWEEP_LAST_P99; else break; fi
  done
  if [ "$best" = 0 ]; then
    for f in 0.3 0.2 0.1 0.05; do
      rate=$(calc "$top * $f" 0)
      [ "$rate" -ge 1 ] || continue
      if sweep_step "$t" "$rate"; then best=$rate bestp99=$SWEEP_LAST_P99; break; fi
    done
  fi
  SWEEP_RATE[$t]=$best SWEEP_P99[$t]=$bestp99
done

# ---- 5. streams: time to first token, per-chunk lateness ----------------------------------------
# 20 content chunks 5 ms apart; a chunk's lateness is its arrival minus the
# time the fake provider scheduled it (send + k x 5 ms).
say "5/10 paced streams (8 connections, a chunk every 5 ms)"
words=$(for i in $(seq 1 20); do printf 'tok%d ' "$i"; done)
fake_default "{\"content\":\"${words% }\",\"token_interval_ms\":5,\"times\":-1}"
measure paced stream --conns 8 --duration "$DURATION" --warmup 0.5 --sse-first-ms 0 --sse-interval-ms 5

# ---- 6. slow streams: STREAMS at once, ~20 tokens/s -------------------------------------------------
say "6/10 $STREAMS concurrent slow streams (a chunk every 50 ms for ${STREAM_SECONDS}s)"
nchunks=$((STREAM_SECONDS * 20 - 2))
[ "$nchunks" -ge 1 ] || nchunks=1
words=$(for i in $(seq 1 "$nchunks"); do printf 't%d ' "$i"; done)
fake_default "{\"content\":\"${words% }\",\"token_interval_ms\":50,\"times\":-1}"
RAMP=$(calc "$STREAMS / 5000 + 0.5" 1)
declare -A SLOW_LINE SLOW_RSS SLOW_IDLE SLOW_PEAK SLOW_CPU
SLOW_AFTER=0
for t in "${TARGETS[@]}"; do
  case $t in
    direct) pid=0 ;;
    nginx) pid=$NGX_WORKER ;;
    switchboard) pid=$SB_PID ;;
  esac
  idle=0; [ "$pid" != 0 ] && idle=$(rss_kb "$pid")
  read -r fu0 fs0 < <(cpu_ticks "$FAKE_PID")
  tu0=0 ts0=0; [ "$pid" != 0 ] && read -r tu0 ts0 < <(cpu_ticks "$pid")
  "${PIN_LG[@]}" "$LOADGEN" --url "${URL[$t]}" --body "$(bodyfor stream "$t")" "${AUTH[@]}" \
    --conns "$STREAMS" --requests-per-conn 1 --ramp "$RAMP" --stall-ms 2000 \
    --sse-first-ms 0 --sse-interval-ms 50 --timeout $((STREAM_SECONDS * 3 + 30)) \
    >"$WORK/slow-$t.out" 2>"$WORK/slow-$t.err" &
  lgpid=$!
  peak_rss=$idle peak_active=0
  while kill -0 "$lgpid" 2>/dev/null; do
    if [ "$pid" != 0 ]; then
      r=$(rss_kb "$pid"); [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    fi
    a=$(curl -sf "http://127.0.0.1:$FAKE_PORT/_fake/stats" | sed -n 's/.*"active_streams":\([0-9]*\).*/\1/p')
    [ -n "$a" ] && [ "$a" -gt "$peak_active" ] && peak_active=$a
    sleep 0.5
  done
  wait "$lgpid" || { say "slow streams/$t: loadgen failed"; cat "$WORK/slow-$t.err" >&2; exit 1; }
  read -r fu1 fs1 < <(cpu_ticks "$FAKE_PID")
  tu1=0 ts1=0; [ "$pid" != 0 ] && read -r tu1 ts1 < <(cpu_ticks "$pid")
  line=$(cat "$WORK/slow-$t.out")
  SLOW_LINE[$t]=$line SLOW_IDLE[$t]=$idle SLOW_RSS[$t]=$peak_rss SLOW_PEAK[$t]=$peak_active
  # CPU per chunk the client received, user and system, in µs: the fake's
  # and the target's (whose system share is the loopback TCP work of a
  # read and a write per chunk)
  ev=$(kv "$line" events); [ "${ev:-0}" -gt 0 ] || ev=1
  per_chunk() { calc "($2 - $1) * 1000000 / $CLK_TCK / $ev" 1; } # ticks before, after
  SLOW_CPU[$t]="$(per_chunk "$fu0" "$fu1") $(per_chunk "$fs0" "$fs1") $(per_chunk "$tu0" "$tu1") $(per_chunk "$ts0" "$ts1")"
  say "slow streams $t: $(kv "$line" requests) done, $(kv "$line" stalls) stalled, chunk p99 $(kv "$line" chunk_p99_us) us, peak $peak_active open at the fake, RSS $((idle / 1024)) -> $((peak_rss / 1024)) MB"
  sleep 1 # let the closed sockets go
  if [ "$t" = switchboard ]; then
    # switchboard hands free memory back on a 5 s tick once the load has
    # fallen; a monitor polls /health meanwhile, as one would in production
    for _ in $(seq 1 12); do
      curl -s -o /dev/null "http://127.0.0.1:$SB_PORT/health" || true
      sleep 1
    done
    SLOW_AFTER=$(rss_kb "$SB_PID")
    say "slow streams switchboard: RSS $((SLOW_AFTER / 1024)) MB 12 s later (/health polled every second)"
  fi
done

# ---- 7. a 1 MB request body -------------------------------------------------------------------
say "7/10 1 MB request body (1 connection)"
fake_default '{"content":"ok","times":-1}'
measure big big --conns 1 --duration "$DURATION" --warmup 0.5

# ---- 8. translation: OpenAI in, Anthropic out (streamed) ------------------------------------------
say "8/10 translation path (OpenAI in, Anthropic provider, streamed)"
fake_default "$FAST"
sed 's#"model":"openai/gpt-4o-mini"#"model":"anthropic/claude-3.5-haiku"#' "$WORK/stream-switchboard.json" >"$WORK/anth-sb.json"
printf '{"model":"claude-3.5-haiku","max_tokens":64,"stream":true,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Write one short sentence about gateways."}]}' >"$WORK/anth-direct.json"
code=$(curl -s -o "$WORK/anth-probe.txt" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Authorization: Bearer bench' \
  --data-binary @"$WORK/anth-sb.json" "http://127.0.0.1:$SB_PORT/v1/chat/completions" || true)
if [ "$code" != 200 ] || ! grep -q 'chat.completion.chunk' "$WORK/anth-probe.txt"; then
  say "translation: the probe request failed (HTTP $code)"; cat "$WORK/anth-probe.txt" >&2; exit 1
fi
: >"$WORK/res-anth-direct"; : >"$WORK/res-anth-switchboard"
for i in $(seq 1 "$RUNS"); do
  loadgen anth/direct --url "http://127.0.0.1:$FAKE_PORT/v1/messages" --body "$WORK/anth-direct.json" \
    -H "x-api-key: bench" -H "anthropic-version: 2023-06-01" --conns 1 --duration "$DURATION" --warmup 0.5
  line=$LINE
  echo "$line" >>"$WORK/res-anth-direct"
  say "anthropic direct run $i/$RUNS: p50 $(kv "$line" lat_p50_us) us, p99 $(kv "$line" lat_p99_us) us"
  loadgen anth/switchboard --url "${URL[switchboard]}" --body "$WORK/anth-sb.json" "${AUTH[@]}" \
    --conns 1 --duration "$DURATION" --warmup 0.5
  line=$LINE
  echo "$line" >>"$WORK/res-anth-switchboard"
  say "anthropic switchboard run $i/$RUNS: p50 $(kv "$line" lat_p50_us) us, p99 $(kv "$line" lat_p99_us) us"
done

# ---- 7b. the Responses door, streamed, translated to an OpenAI chat provider ----------------------
# The same answer as the chat door's pass-through stream (step 3), asked on
# POST /v1/responses of a provider that serves chat completions only, so
# every event is translated; direct = the fake's chat stream, interleaved.
say "7b/9 Responses door (streamed, OpenAI chat provider: translated)"
fake_default "$FAST"
printf '{"model":"chatonly/gpt-4o-mini","instructions":"You are a helpful assistant.","input":"Write one short sentence about gateways.","temperature":0.2,"max_output_tokens":64,"stream":true,"store":false}' >"$WORK/resp-sb.json"
code=$(curl -s -o "$WORK/resp-probe.txt" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Authorization: Bearer bench' \
  --data-binary @"$WORK/resp-sb.json" "http://127.0.0.1:$SB_PORT/v1/responses" || true)
if [ "$code" != 200 ] || ! grep -q 'response.completed' "$WORK/resp-probe.txt"; then
  say "responses: the probe request failed (HTTP $code)"; cat "$WORK/resp-probe.txt" >&2; exit 1
fi
: >"$WORK/res-resp-direct"; : >"$WORK/res-resp-switchboard"
for i in $(seq 1 "$RUNS"); do
  loadgen resp/direct --url "${URL[direct]}" --body "$WORK/stream-direct.json" "${AUTH[@]}" \
    --conns 1 --duration "$DURATION" --warmup 0.5
  line=$LINE
  echo "$line" >>"$WORK/res-resp-direct"
  say "responses direct run $i/$RUNS: p50 $(kv "$line" lat_p50_us) us, p99 $(kv "$line" lat_p99_us) us"
  loadgen resp/switchboard --url "http://127.0.0.1:$SB_PORT/v1/responses" --body "$WORK/resp-sb.json" \
    "${AUTH[@]}" --conns 1 --duration "$DURATION" --warmup 0.5
  line=$LINE
  echo "$line" >>"$WORK/res-resp-switchboard"
  say "responses switchboard run $i/$RUNS: p50 $(kv "$line" lat_p50_us) us, p99 $(kv "$line" lat_p99_us) us"
done

# ---- 9. soak: switchboard at a steady rate, RSS every 10 s -------------------------------------------
: >"$OUT/soak.dat"
SOAK_FLAT=- SOAK_GROWTH=- SOAK_LINE=""
if [ "$SOAK_SECONDS" -gt 0 ]; then
  INTERVAL=10
  [ "$SOAK_SECONDS" -lt 120 ] && INTERVAL=$(( SOAK_SECONDS / 10 > 0 ? SOAK_SECONDS / 10 : 1 ))
  WINDOW=60
  [ "$SOAK_SECONDS" -lt 240 ] && WINDOW=$(( SOAK_SECONDS / 4 > 0 ? SOAK_SECONDS / 4 : 1 ))
  say "9/10 soak: switchboard at $SOAK_RATE req/s (half streamed) for ${SOAK_SECONDS}s, RSS every ${INTERVAL}s"
  "${PIN_LG[@]}" "$LOADGEN" --url "${URL[switchboard]}" "${SOAK_BODIES[@]}" "${AUTH[@]}" \
    --conns 32 --rate "$SOAK_RATE" --duration "$SOAK_SECONDS" >"$WORK/soak.out" 2>"$WORK/soak.err" &
  lgpid=$!
  start=$(date +%s)
  echo "0 $(calc "$(rss_kb "$SB_PID") / 1024" 2)" >>"$OUT/soak.dat"
  while kill -0 "$lgpid" 2>/dev/null; do
    sleep "$INTERVAL"
    kill -0 "$lgpid" 2>/dev/null || break
    now=$(( $(date +%s) - start ))
    r=$(rss_kb "$SB_PID")
    echo "$now $(calc "$r / 1024" 2)" >>"$OUT/soak.dat"
    say "soak ${now}s/${SOAK_SECONDS}s: RSS $(calc "$r / 1024" 1) MB"
  done
  wait "$lgpid" || { say "soak: loadgen failed"; cat "$WORK/soak.err" >&2; exit 1; }
  SOAK_LINE=$(cat "$WORK/soak.out")
  read -r SOAK_GROWTH SOAK_FLAT < <(awk -v w="$WINDOW" -v end="$SOAK_SECONDS" '
    { t[NR] = $1; r[NR] = $2 }
    END {
      f = -1; l = -1
      for (i = 1; i <= NR; i++) {
        if (t[i] <= w && r[i] > f) f = r[i]
        if (t[i] >= end - w && r[i] > l) l = r[i]
      }
      if (f < 0 || l < 0) { print "- -"; exit }
      printf "%.2f %s\n", l - f, (l - f < 2) ? "yes" : "no"
    }' "$OUT/soak.dat")
  e=$(kv "$SOAK_LINE" errors); n=$(kv "$SOAK_LINE" non2xx)
  [ "${e:-0}" = 0 ] && [ "${n:-0}" = 0 ] || NOTES+=("soak: $e errors, $n non-2xx responses")
else
  say "9/10 soak skipped (SOAK_SECONDS=0)"
  rm -f "$OUT/soak.png"
fi
END_RSS_KB=$(rss_kb "$SB_PID")

# ---- 10. https providers: its own servers (bench/https.sh) -----------------------------
say "10/10 https providers (bench/https.sh)"
RUNS=$RUNS DURATION=$DURATION "$HERE/https.sh" "$BUILD" "$OUT/https.md" ||
  { say "https.sh failed"; exit 1; }
# ---- the Gemini door: its own servers (bench/gemini.sh) -------------------------
say "Gemini door (bench/gemini.sh)"
RUNS=$RUNS DURATION=$DURATION "$HERE/gemini.sh" "$BUILD" "$OUT/gemini.md" ||
  { say "gemini.sh failed"; exit 1; }

# ---- the access log and metrics, on vs off: their own servers (bench/ops.sh) -------------
say "ops: the access log and metrics on vs off (bench/ops.sh)"
RUNS=$RUNS DURATION=$DURATION "$HERE/ops.sh" "$BUILD" "$OUT/ops.md" ||
  { say "ops.sh failed"; exit 1; }
JSON_LINE="json parse: (json_bench failed)"
"$BUILD/json_bench" >"$WORK/json.out" 2>/dev/null || true
grep -q 'json parse' "$WORK/json.out" && JSON_LINE=$(grep -m1 'json parse' "$WORK/json.out")

# ---- report --------------------------------------------------------------------------------------
say "writing $OUT/latest.md"

: >"$OUT/latency.dat"
{
  echo "# Benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), loopback;"
  echo "loadgen on CPU $LG_CPU, servers on CPU $SRV_CPUS; median of $RUNS runs of ${DURATION}s unless noted."
  echo "$("$BUILD/switchboard" --version 2>/dev/null | head -n1 || echo switchboard) with 1 worker; $("$NGINX" -v 2>&1 | sed 's/.*: //') with 1 worker."
  echo "Times in µs. *added* = the target's number minus the direct call's."
  echo

  echo "## Latency at 1 connection"
  echo
  echo "| request | direct p50 | direct p99 | nginx added p50 | nginx added p99 | switchboard added p50 | switchboard added p99 | switchboard/nginx (added p50) |"
  echo "|---|---|---|---|---|---|---|---|"
  for s in plain:non-stream stream:stream big:"1 MB body"; do
    label=${s%%:*} name=${s#*:}
    [ "$label" = big ] && lab=big || lab="lat-$label"
    d50=$(M "$lab" direct lat_p50_us) d99=$(M "$lab" direct lat_p99_us)
    n50=$(calc "$(M "$lab" nginx lat_p50_us) - $d50") n99=$(calc "$(M "$lab" nginx lat_p99_us) - $d99")
    s50=$(calc "$(M "$lab" switchboard lat_p50_us) - $d50") s99=$(calc "$(M "$lab" switchboard lat_p99_us) - $d99")
    echo "| $name | $(f1 "$d50") | $(f1 "$d99") | $(f1 "$n50") | $(f1 "$n99") | $(f1 "$s50") | $(f1 "$s99") | $(ratio "$s50" "$n50") |"
    echo "\"$name\" $n50 $n99 $s50 $s99" >>"$OUT/latency.dat"
    if [ "$label" = big ]; then
      target "1 MB body adds ≤ 2 ms (added p50)" "$(f1 "$s50") µs" "≤ 2000 µs" "$(passfail "$s50 <= 2000")"
    else
      target "added p50 at 1 conn, $name, ≤ 1.0× nginx" "$(f1 "$s50") µs vs nginx $(f1 "$n50") µs" "≤ $(f1 "$n50") µs" "$(passfail "$s50 <= $n50")"
      target "added p99 at 1 conn, $name, ≤ 100 µs" "$(f1 "$s99") µs" "≤ 100 µs" "$(passfail "$s99 <= 100")"
    fi
  done
  echo

  echo "## Throughput (closed loop)"
  echo
  echo "| load | direct req/s | nginx req/s | switchboard req/s | switchboard/nginx | nginx p99 | switchboard p99 |"
  echo "|---|---|---|---|---|---|---|"
  for s in tput-plain-64:"non-stream, 64 conns" tput-plain-256:"non-stream, 256 conns" tput-stream-64:"stream, 64 conns"; do
    label=${s%%:*} name=${s#*:}
    d=$(M "$label" direct rps) n=$(M "$label" nginx rps) w=$(M "$label" switchboard rps)
    echo "| $name | $(f0 "$d") | $(f0 "$n") | $(f0 "$w") | $(ratio "$w" "$n") | $(f1 "$(M "$label" nginx lat_p99_us)") | $(f1 "$(M "$label" switchboard lat_p99_us)") |"
    case $label in
      tput-plain-64) target "throughput, $name, ≥ 0.95× nginx" "$(f0 "$w") req/s ($(ratio "$w" "$n")×)" "≥ $(calc "0.95 * $n" 0) req/s" "$(passfail "$w >= 0.95 * $n")" ;;
      *-64) target "throughput, $name, ≥ 0.8× nginx" "$(f0 "$w") req/s ($(ratio "$w" "$n")×)" "≥ $(calc "0.8 * $n" 0) req/s" "$(passfail "$w >= 0.8 * $n")" ;;
    esac
  done
  echo
  echo "Highest rate with p99 under 20 ms (open loop at fixed rates, 64 connections, latency from each request's due time; steps of 50–110 % of the target's own closed-loop rate, or down to 5 % when half already fails, one run of ${DURATION}s each):"
  echo
  echo "| target | rate (req/s) | p99 at that rate |"
  echo "|---|---|---|"
  for t in "${TARGETS[@]}"; do echo "| $t | ${SWEEP_RATE[$t]} | $(f1 "${SWEEP_P99[$t]}") |"; done
  echo

  echo "## Realistic streams"
  echo
  echo 'One event per token, as OpenAI sends them under `include_usage` (`"usage":null` in each, then the usage chunk), sent at once. CPU per event = the proxy'"'"'s user + system time over the 64-connection runs divided by the events its clients received.'
  echo
  echo "| events | direct p50 | nginx added p50 | switchboard added p50 | switchboard/nginx | nginx req/s (64) | switchboard req/s (64) | switchboard/nginx | nginx CPU/event | switchboard CPU/event | switchboard/nginx |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for n in 30 300; do
    d50=$(M "lat-stream$n" direct lat_p50_us)
    n50=$(calc "$(M "lat-stream$n" nginx lat_p50_us) - $d50") s50=$(calc "$(M "lat-stream$n" switchboard lat_p50_us) - $d50")
    nr=$(M "tput-stream$n" nginx rps) sr=$(M "tput-stream$n" switchboard rps)
    nc=$(cpu_per_event "tput-stream$n" nginx) sc=$(cpu_per_event "tput-stream$n" switchboard)
    echo "| $n | $(f1 "$d50") | $(f1 "$n50") | $(f1 "$s50") | $(ratio "$s50" "$n50") | $(f0 "$nr") | $(f0 "$sr") | $(ratio "$sr" "$nr") | $nc | $sc | $(ratio "$sc" "$nc") |"
    if [ "$n" = 30 ]; then
      target "added p50 at 1 conn, 30-event stream, ≤ 1.0× nginx" "$(f1 "$s50") µs vs nginx $(f1 "$n50") µs" "≤ $(f1 "$n50") µs" "$(passfail "$s50 <= $n50")"
      target "throughput, 30-event streams, 64 conns, ≥ 0.9× nginx" "$(f0 "$sr") req/s ($(ratio "$sr" "$nr")×)" "≥ $(calc "0.9 * $nr" 0) req/s" "$(passfail "$sr >= 0.9 * $nr")"
    else
      target "CPU per pass-through stream event ≤ 1.2× nginx (300-event streams)" "$sc µs vs nginx $nc µs" "≤ $(calc "1.2 * $nc" 2) µs" "$(passfail "$sc <= 1.2 * $nc")"
    fi
  done
  d50=$(M lat-stream30 direct lat_p50_us)
  p50=$(calc "$(M lat-stream30 switchboard lat_p50_us) - $d50")
  md50=$(M msg30 direct lat_p50_us)
  m50=$(calc "$(M msg30 switchboard lat_p50_us) - $md50")
  echo
  echo "The Messages door (an Anthropic client) translating for an OpenAI-format provider, 30 events, 1 connection: added p50 $(f1 "$m50") µs against the chat pass-through's $(f1 "$p50") µs ($(ratio "$m50" "$p50")×)."
  target "Messages door, translated, 30-event stream, added p50 ≤ 1.1× the pass-through's" "$(f1 "$m50") µs vs $(f1 "$p50") µs" "≤ $(calc "1.1 * $p50" 1) µs" "$(passfail "$m50 <= 1.1 * $p50")"
  echo

  echo "## Streams"
  echo
  echo "8 connections, 20 content chunks 5 ms apart. TTFT = time to the first event; lateness = a chunk's arrival minus the time the fake provider scheduled it."
  echo
  echo "| target | TTFT p50 | TTFT p99 | added TTFT p50 | chunk lateness p50 | chunk lateness p99 | added per chunk p50 | added per chunk p99 |"
  echo "|---|---|---|---|---|---|---|---|"
  dt=$(M paced direct ttft_p50_us) dc50=$(M paced direct chunk_p50_us) dc99=$(M paced direct chunk_p99_us)
  for t in "${TARGETS[@]}"; do
    t50=$(M paced "$t" ttft_p50_us) c50=$(M paced "$t" chunk_p50_us) c99=$(M paced "$t" chunk_p99_us)
    echo "| $t | $(f1 "$t50") | $(f1 "$(M paced "$t" ttft_p99_us)") | $(f1 "$(calc "$t50 - $dt")") | $(f1 "$c50") | $(f1 "$c99") | $(f1 "$(calc "$c50 - $dc50")") | $(f1 "$(calc "$c99 - $dc99")") |"
  done
  echo

  echo "## $STREAMS concurrent slow streams"
  echo
  echo "One run. Each connection opens one stream (connections opened over ${RAMP}s); the fake provider sends a chunk every 50 ms (20 tokens/s) for ${STREAM_SECONDS}s."
  echo "Stalled = no chunk for more than 2 s, or not completed. RSS per stream = (peak RSS during − RSS before) / streams (nginx: its worker process)."
  [ "$STREAMS" != "$STREAMS_WANTED" ] && echo "($STREAMS_WANTED were asked for; the open-file limit of $NOFILE allows $STREAMS through a proxy.)"
  echo
  echo "| target | completed | stalled | errors | peak open at the fake | chunk lateness p99 | added per chunk p99 | gap max | RSS before (MB) | peak RSS (MB) | RSS per stream (KB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  dcl=$(kv "${SLOW_LINE[direct]}" chunk_p99_us)
  for t in "${TARGETS[@]}"; do
    l=${SLOW_LINE[$t]}
    c99=$(kv "$l" chunk_p99_us)
    if [ "$t" = direct ]; then per="-" before="-" peak="-"; else
      per=$(calc "(${SLOW_RSS[$t]} - ${SLOW_IDLE[$t]}) / $STREAMS" 1)
      before=$(calc "${SLOW_IDLE[$t]} / 1024" 1) peak=$(calc "${SLOW_RSS[$t]} / 1024" 1)
    fi
    echo "| $t | $(kv "$l" requests) | $(kv "$l" stalls) | $(kv "$l" errors) | ${SLOW_PEAK[$t]} | $(f1 "$c99") | $(f1 "$(calc "$c99 - $dcl")") | $(f1 "$(kv "$l" gap_max_us)") | $before | $peak | $per |"
  done
  echo
  echo "switchboard RSS 13 s after the last stream ended, /health polled every second meanwhile: $(calc "$SLOW_AFTER / 1024" 1) MB (idle at start: $(calc "$IDLE_RSS_KB / 1024" 1) MB)."
  echo
  echo "CPU time per chunk received (µs, user + system; fake provider and proxy share CPU 0). The streams need $(calc "$STREAMS * 20" 0) chunks/s; CPU 0 can carry 1 s / (fake + proxy per chunk) of them."
  echo
  echo "| target | fake provider user | fake provider system | proxy user | proxy system | chunks/s one core carries, fake + proxy (streams at 20/s) |"
  echo "|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    read -r fu fs tu ts <<<"${SLOW_CPU[$t]}"
    per=$(calc "$fu + $fs + $tu + $ts" 2)
    cap="-"; [ "$(calc "($per > 0)" 0)" = 1 ] && cap="$(calc "1000000 / $per" 0) ($(calc "1000000 / $per / 20" 0))"
    if [ "$t" = direct ]; then tu="-" ts="-"; fi
    echo "| $t | $fu | $fs | $tu | $ts | $cap |"
  done
  sl=${SLOW_LINE[switchboard]}
  target "$STREAMS streams with zero stalls" "$(kv "$sl" stalls) stalled" "0" "$(passfail "$(kv "$sl" stalls) == 0 && $(kv "$sl" requests) == $STREAMS")"
  sper=$(calc "(${SLOW_RSS[switchboard]} - ${SLOW_IDLE[switchboard]}) / $STREAMS" 1)
  target "RSS per open stream ≤ 32 KB" "$sper KB" "≤ 32 KB" "$(passfail "$sper <= 32")"
  echo

  echo "## Translation (OpenAI in, streamed, 1 connection)"
  echo
  echo "| path | direct p50 | direct p99 | switchboard p50 | switchboard p99 | added p50 | added p99 |"
  echo "|---|---|---|---|---|---|---|"
  d50=$(M lat-stream direct lat_p50_us) d99=$(M lat-stream direct lat_p99_us)
  g50=$(M lat-stream switchboard lat_p50_us) g99=$(M lat-stream switchboard lat_p99_us)
  echo "| pass-through (openai provider) | $(f1 "$d50") | $(f1 "$d99") | $(f1 "$g50") | $(f1 "$g99") | $(f1 "$(calc "$g50 - $d50")") | $(f1 "$(calc "$g99 - $d99")") |"
  d50=$(M anth direct lat_p50_us) d99=$(M anth direct lat_p99_us)
  g50=$(M anth switchboard lat_p50_us) g99=$(M anth switchboard lat_p99_us)
  echo "| translated (anthropic provider; direct = the fake's /v1/messages) | $(f1 "$d50") | $(f1 "$d99") | $(f1 "$g50") | $(f1 "$g99") | $(f1 "$(calc "$g50 - $d50")") | $(f1 "$(calc "$g99 - $d99")") |"
  pt50=$(calc "$(M lat-stream switchboard lat_p50_us) - $(M lat-stream direct lat_p50_us)")
  d50=$(M resp direct lat_p50_us) d99=$(M resp direct lat_p99_us)
  g50=$(M resp switchboard lat_p50_us) g99=$(M resp switchboard lat_p99_us)
  rs50=$(calc "$g50 - $d50")
  echo "| Responses door, translated (openai chat provider; direct = the fake's chat stream) | $(f1 "$d50") | $(f1 "$d99") | $(f1 "$g50") | $(f1 "$g99") | $(f1 "$rs50") | $(f1 "$(calc "$g99 - $d99")") |"
  target "Responses door stream, added p50 ≤ 1.3× the chat pass-through's" "$(f1 "$rs50") µs vs $(f1 "$pt50") µs" "≤ $(calc "1.3 * $pt50" 1) µs" "$(passfail "$rs50 <= 1.3 * $pt50")"
  echo

  echo "## Memory and soak"
  echo
  echo "switchboard RSS: $(calc "$IDLE_RSS_KB / 1024" 1) MB idle at start, $(calc "$END_RSS_KB / 1024" 1) MB at the end (nginx, master + worker: $(calc "$NGX_IDLE_RSS_KB / 1024" 1) MB idle)."
  target "idle RSS ≤ 20 MB" "$(calc "$IDLE_RSS_KB / 1024" 1) MB" "≤ 20 MB" "$(passfail "$IDLE_RSS_KB <= 20480")"
  if [ "$SOAK_SECONDS" -gt 0 ]; then
    echo
    echo "Soak: ${SOAK_SECONDS}s at $SOAK_RATE req/s (open loop, 32 connections, half streamed), RSS every ${INTERVAL}s (\`soak.png\`)."
    echo "$(kv "$SOAK_LINE" requests) requests, $(kv "$SOAK_LINE" errors) errors, p99 $(f1 "$(kv "$SOAK_LINE" lat_p99_us)") µs."
    echo "Flat = the highest RSS of the last ${WINDOW}s minus the highest of the first ${WINDOW}s is under 2 MB: $SOAK_GROWTH MB, **$SOAK_FLAT**."
    target "flat in the soak (growth < 2 MB)" "$SOAK_GROWTH MB" "< 2 MB" "$([ "$SOAK_FLAT" = yes ] && echo "**pass**" || echo "**FAIL**")"
  else
    echo
    echo "Soak: skipped (SOAK_SECONDS=0)."
    target "flat in the soak" "skipped" "< 2 MB" "-"
  fi
  echo

  cat "$OUT/https.md"
  echo
  cat "$OUT/gemini.md"
  echo

  cat "$OUT/ops.md"
  echo

  echo "## Targets"
  echo
  echo "| target | measured | limit | result |"
  echo "|---|---|---|---|"
  printf '%s\n' "${TARGET_ROWS[@]}"
  echo
  if [ "${#NOTES[@]}" -gt 0 ]; then
    echo "Errors seen:"
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
    echo
  fi
  echo "$JSON_LINE"
} >"$OUT/latest.md"

# ---- charts ---------------------------------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot <<GP || say "gnuplot failed (charts not written)"
set terminal pngcairo size 1000,500 font ",10"
set output "$OUT/latency.png"
set multiplot layout 1,2 title "Added latency at 1 connection over the direct call (µs, median of $RUNS runs)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key below
set ylabel "µs"
set grid ytics
set xzeroaxis
set yrange [*<0:*]
set title "small request"
plot "$OUT/latency.dat" every ::0::1 using 2:xtic(1) title "nginx p50", '' every ::0::1 using 3 title "nginx p99", \
     '' every ::0::1 using 4 title "switchboard p50", '' every ::0::1 using 5 title "switchboard p99"
set title "1 MB request body"
plot "$OUT/latency.dat" every ::2::2 using 2:xtic(1) title "nginx p50", '' every ::2::2 using 3 title "nginx p99", \
     '' every ::2::2 using 4 title "switchboard p50", '' every ::2::2 using 5 title "switchboard p99"
unset multiplot
GP
  if [ -s "$OUT/soak.dat" ]; then
    gnuplot <<GP || say "gnuplot failed (soak chart not written)"
set terminal pngcairo size 900,400 font ",10"
set output "$OUT/soak.png"
set title "switchboard RSS during the soak ($SOAK_RATE req/s)"
set xlabel "seconds"
set ylabel "RSS (MB)"
set grid
set yrange [0:*]
plot "$OUT/soak.dat" using 1:2 with linespoints title "RSS" lw 2
GP
  fi
else
  say "gnuplot is missing: no charts (scripts/install-deps --bench)"
fi

# ---- scale-out: two instances on Postgres + Redis (bench/scaleout.sh) ------------------------
# SCALEOUT=0 skips it.
if [ "${SCALEOUT:-1}" != 0 ]; then
  { echo; RUNS=$RUNS DURATION=$DURATION "$HERE/scaleout.sh" "$BUILD"; } >>"$OUT/latest.md" ||
    say "the scale-out step failed (bench/scaleout.sh)"
fi
cat "$OUT/latest.md"
