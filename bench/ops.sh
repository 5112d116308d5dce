#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the access log and the request metrics cost (see bench/README.md,
# "Access log and metrics"). One fake provider; in front of it, each with
# one worker on the same CPU(s):
#   off  switchboard with `log: {access: false}` (its metrics still count
#        every request: they cannot be turned off);
#   on   the same with the access log on, JSON lines to a file;
# and the fake provider alone for the added latency. Interleaved runs (RUNS
# of DURATION s, medians): 1 connection, non-stream and stream; 64
# connections, non-stream and stream. Targets: at 1 connection the added
# p50 with the log on within 5% of off, at 64 connections the throughput
# within 5%.
#
# Usage: bench/ops.sh BUILD_DIR [OUT.md]   (run.sh calls it; it runs alone too)
# Knobs: RUNS (5), DURATION (5). OUT defaults to bench/results/ops.md.
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPORT=${2:-$HERE/results/ops.md}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
WORK=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
bench_require ops.sh switchboard fake_provider loadgen

start_fake
config() { # name access -> $WORK/NAME.yaml
  cat >"$WORK/$1.yaml" <<CFG
listen: 127.0.0.1:0
workers: 1
database: sqlite:$WORK/$1.db
log: { access: $2, file: "$WORK/$1-access.log" }
providers:
  openai: { format: openai, base_url: "http://127.0.0.1:$FAKE_PORT/v1", api_key: bench }
CFG
}
config off false
config on true
declare -A URL PID
start_switchboard_with "$WORK/off.yaml" "$WORK/off.out" || { say "switchboard (off) did not start"; cat "$WORK/off.out" >&2; exit 1; }
URL[off]="http://127.0.0.1:$SB_STARTED_PORT/v1/chat/completions" PID[off]=$SB_STARTED
start_switchboard_with "$WORK/on.yaml" "$WORK/on.out" || { say "switchboard (on) did not start"; cat "$WORK/on.out" >&2; exit 1; }
URL[on]="http://127.0.0.1:$SB_STARTED_PORT/v1/chat/completions" PID[on]=$SB_STARTED
URL[direct]="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"
TARGETS=(direct off on)
for t in "${TARGETS[@]}"; do
  model=openai/gpt-4o-mini
  [ "$t" = direct ] && model=gpt-4o-mini
  for s in false true; do
    printf '{"model":"%s","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about gateways."}],"temperature":0.2,"max_tokens":64,"stream":%s}' \
      "$model" "$s" >"$WORK/body-$t-$s.json"
  done
done
say "ops: fake :$FAKE_PORT, switchboard log off ${URL[off]}, on ${URL[on]}"

# measure label stream loadgen-args...: RUNS interleaved runs per target;
# lines in $WORK/res-LABEL-TARGET, switchboard's CPU ticks in cpu-LABEL-TARGET
measure() {
  local label=$1 stream=$2
  shift 2
  for t in "${TARGETS[@]}"; do : >"$WORK/res-$label-$t"; : >"$WORK/cpu-$label-$t"; done
  for i in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      local c0=""
      [ "$t" != direct ] && c0=$(cpu_ticks "${PID[$t]}")
      loadgen "ops $label/$t" --url "${URL[$t]}" --body "$WORK/body-$t-$stream.json" \
        -H "Authorization: Bearer bench" "$@"
      echo "$LINE" >>"$WORK/res-$label-$t"
      if [ -n "$c0" ]; then
        local c1 n
        c1=$(cpu_ticks "${PID[$t]}")
        n=$(kv "$LINE" requests)
        # µs of switchboard CPU (user + system) per request in this run
        awk -v a="$c0" -v b="$c1" -v n="${n:-0}" -v hz="$CLK_TCK" \
          'BEGIN { split(a, x, " "); split(b, y, " "); if (n > 0) printf "%.2f\n", (y[1] + y[2] - x[1] - x[2]) * 1e6 / hz / n }' \
          >>"$WORK/cpu-$label-$t"
      fi
      say "ops $label $t run $i/$RUNS: p50 $(kv "$LINE" lat_p50_us) us, p99 $(kv "$LINE" lat_p99_us) us, $(kv "$LINE" rps) req/s"
    done
  done
}
M() { med "$WORK/res-$1-$2" "$3"; }
CPU() { median <"$WORK/cpu-$1-$2"; }
runs_of() { # label target key: the key's value in each run, a line each
  while read -r l; do kv "$l" "$3"; done <"$WORK/res-$1-$2"
}
# The median over runs of each run's on / off ratio (each run measures
# direct, off and on back to back, so a host that speeds up or slows down
# between runs moves both sides of a ratio alike): of the added p50 with
# `added`, else of `key`.
paired() { # label key [added]
  paste -d' ' <(runs_of "$1" direct "$2") <(runs_of "$1" off "$2") \
    <(runs_of "$1" on "$2") |
    awk -v added="${3:-}" '{ off = $2; on = $3; if (added != "") { off -= $1; on -= $1 }
      if (off > 0) printf "%.4f\n", on / off }' | median
}

fake_default '{"content":"Gateways route requests between clients and model providers.","times":-1}'
say "ops 1/2: 1 connection, non-stream and stream"
measure lat-plain false --conns 1 --duration "$DURATION" --warmup 0.5
measure lat-stream true --conns 1 --duration "$DURATION" --warmup 0.5
say "ops 2/2: 64 connections, non-stream and stream"
measure tput-plain false --conns 64 --duration "$DURATION" --warmup 0.5
measure tput-stream true --conns 64 --duration "$DURATION" --warmup 0.5

# what the log holds: a line per request, none lost
metric() { curl -s "${URL[$1]%/v1/chat/completions}/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
sleep 0.2
LINES=$(wc -l <"$WORK/on-access.log")
LOGGED=$(metric on switchboard_access_log_lines_total)
LOST=$(metric on switchboard_access_records_lost_total)
OFF_LINES=$(wc -l <"$WORK/off-access.log" 2>/dev/null || echo 0)

{
  echo "## Access log and metrics: on vs off"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), loadgen on CPU $LG_CPU, servers on CPU $SRV_CPUS; median of $RUNS runs of ${DURATION}s."
  echo "switchboard with one worker, the log off (\`log: {access: false}\`) and on (JSON lines to a file); metrics count in both."
  echo "Times in µs; *added* = the target's p50 minus the fake provider's own; CPU = switchboard's user + system time per request."
  echo
  echo "| | non-stream p50 | added | p99 | stream p50 | added | p99 | 64 conns non-stream req/s | CPU µs/req | 64 conns stream req/s | CPU µs/req |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    row="| $t "
    for l in lat-plain lat-stream; do
      p50=$(M "$l" "$t" lat_p50_us) d50=$(M "$l" direct lat_p50_us)
      add=-
      [ "$t" != direct ] && add=$(f1 "$(calc "$p50 - $d50")")
      row+="| $(f1 "$p50") | $add | $(f1 "$(M "$l" "$t" lat_p99_us)") "
    done
    for l in tput-plain tput-stream; do
      cpu=-
      [ "$t" != direct ] && cpu=$(f1 "$(CPU "$l" "$t")")
      row+="| $(f0 "$(M "$l" "$t" rps)") | $cpu "
    done
    echo "$row|"
  done
  echo
  add_off=$(calc "$(M lat-plain off lat_p50_us) - $(M lat-plain direct lat_p50_us)" 2)
  add_on=$(calc "$(M lat-plain on lat_p50_us) - $(M lat-plain direct lat_p50_us)" 2)
  tp_off=$(M tput-plain off rps) tp_on=$(M tput-plain on rps)
  pr_lat=$(paired lat-plain lat_p50_us added) pr_tp=$(paired tput-plain rps)
  echo "| target | off (median) | on (median) | on / off of the medians | on / off, median of the runs' ratios | result (runs' ratios) |"
  echo "|---|---|---|---|---|---|"
  echo "| added p50, 1 connection, non-stream (µs) | $(f1 "$add_off") | $(f1 "$add_on") | $(ratio "$add_on" "$add_off") | $(calc "$pr_lat" 2) | ≤ 1.05: $(passfail "$pr_lat <= 1.05") |"
  echo "| throughput, 64 connections, non-stream (req/s) | $(f0 "$tp_off") | $(f0 "$tp_on") | $(ratio "$tp_on" "$tp_off") | $(calc "$pr_tp" 2) | ≥ 0.95: $(passfail "$pr_tp >= 0.95") |"
  echo
  echo "The log written: $LINES lines ($LOGGED counted, $LOST records lost for a full queue); with the log off: $OFF_LINES lines."
  if [ "${#NOTES[@]}" -gt 0 ]; then
    echo
    echo "Errors seen:"
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
  fi
} >"$REPORT"
cat "$REPORT"
