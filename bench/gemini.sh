#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Gemini door, streamed, against what the chat door costs (see
# bench/README.md, "Gemini door").
#
# One fake provider (OpenAI format) and switchboard in front of it (one
# worker, the SQLite ledger), three ways to the same answer (8 chunks),
# 1 connection, interleaved runs (RUNS of DURATION s, medians), to the
# last byte:
#   direct       the fake's own /v1/chat/completions;
#   chat         switchboard's chat door, the pass-through path (the
#                provider speaks the client's format);
#   gemini       switchboard's Gemini door (/v1beta/models/...:
#                streamGenerateContent?alt=sse), translated for the OpenAI
#                provider and back into Gemini's stream.
# "added" is a target's number minus the direct one. Target: the Gemini
# door's added p50 within 1.3x the chat door's pass-through.
#
# Usage: bench/gemini.sh BUILD_DIR [OUT.md]   (run.sh calls it; it runs alone too)
# Knobs: RUNS (5), DURATION (5). OUT defaults to bench/results/gemini.md.
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPORT=${2:-$HERE/results/gemini.md}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
WORK=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
bench_require gemini.sh switchboard fake_provider loadgen

start_fake
cat >"$WORK/switchboard.yaml" <<CFG
listen: 127.0.0.1:0
workers: 1
database: sqlite:$WORK/bench.db
providers:
  openai: { format: openai, base_url: "http://127.0.0.1:$FAKE_PORT/v1", api_key: bench }
CFG
start_switchboard_with "$WORK/switchboard.yaml" "$WORK/sb.out" ||
  { say "switchboard did not start:"; cat "$WORK/sb.out" >&2; exit 1; }
SB_PORT=$SB_STARTED_PORT
fake_default '{"content":"Gateways route requests between clients and model providers.","times":-1}'

# The same conversation three ways.
Q="Write one short sentence about gateways."
S="You are a helpful assistant."
printf '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}],"temperature":0.2,"max_tokens":64,"stream":true}' \
  "$S" "$Q" >"$WORK/body-direct.json"
sed 's#"model":"gpt-4o-mini"#"model":"openai/gpt-4o-mini"#' "$WORK/body-direct.json" >"$WORK/body-chat.json"
printf '{"systemInstruction":{"parts":[{"text":"%s"}]},"contents":[{"role":"user","parts":[{"text":"%s"}]}],"generationConfig":{"temperature":0.2,"maxOutputTokens":64}}' \
  "$S" "$Q" >"$WORK/body-gemini.json"
TARGETS=(direct chat gemini)
declare -A URL
URL[direct]="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"
URL[chat]="http://127.0.0.1:$SB_PORT/v1/chat/completions"
URL[gemini]="http://127.0.0.1:$SB_PORT/v1beta/models/openai%2Fgpt-4o-mini:streamGenerateContent?alt=sse"

# every target answers, and the Gemini door in Gemini's stream, before it is measured
code=$(curl -s -o "$WORK/probe.txt" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H 'x-goog-api-key: bench' --data-binary @"$WORK/body-gemini.json" "${URL[gemini]}" || true)
if [ "$code" != 200 ] || ! grep -q '"finishReason":"STOP"' "$WORK/probe.txt"; then
  say "gemini: the probe request failed (HTTP $code)"; cat "$WORK/probe.txt" >&2; exit 1
fi

say "Gemini door: 1 connection, streamed, $RUNS interleaved runs of ${DURATION}s"
for t in "${TARGETS[@]}"; do : >"$WORK/res-$t"; done
for i in $(seq 1 "$RUNS"); do
  for t in "${TARGETS[@]}"; do
    loadgen "gemini/$t" --url "${URL[$t]}" --body "$WORK/body-$t.json" -H "Authorization: Bearer bench" \
      --conns 1 --duration "$DURATION" --warmup 0.5
    echo "$LINE" >>"$WORK/res-$t"
    say "gemini $t run $i/$RUNS: p50 $(kv "$LINE" lat_p50_us) us, p99 $(kv "$LINE" lat_p99_us) us"
  done
done
M() { med "$WORK/res-$1" "$2"; }

d50=$(M direct lat_p50_us) d99=$(M direct lat_p99_us)
c50=$(M chat lat_p50_us) c99=$(M chat lat_p99_us)
g50=$(M gemini lat_p50_us) g99=$(M gemini lat_p99_us)
ca=$(calc "$c50 - $d50") ga=$(calc "$g50 - $d50")
r=$(ratio "$ga" "$ca")
{
  echo "# The Gemini door (streamed, 1 connection)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, $RUNS runs of ${DURATION}s (medians), µs to the last byte; added = minus direct."
  echo
  echo "| path | p50 | p99 | added p50 | added p99 |"
  echo "|---|---|---|---|---|"
  echo "| direct (the fake's chat completions) | $(f1 "$d50") | $(f1 "$d99") | | |"
  echo "| chat door, pass-through (openai provider) | $(f1 "$c50") | $(f1 "$c99") | $(f1 "$ca") | $(f1 "$(calc "$c99 - $d99")") |"
  echo "| Gemini door, translated (openai provider) | $(f1 "$g50") | $(f1 "$g99") | $(f1 "$ga") | $(f1 "$(calc "$g99 - $d99")") |"
  echo
  echo "| target | measured | wanted | |"
  echo "|---|---|---|---|"
  echo "| Gemini door's added p50 / chat pass-through's | ${r}× | ≤ 1.3× | $(passfail "$ga <= 1.3 * $ca") |"
  if [ "${#NOTES[@]}" -gt 0 ]; then
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
  fi
} >"$REPORT"
say "wrote $REPORT: added p50 chat $(f1 "$ca") us, gemini $(f1 "$ga") us (${r}x)"
