#!/bin/bash
# SPDX-License-Identifier: MIT
# Instructions switchboard runs per request and per stream event, counted
# by callgrind (repeatable, whatever else the machine is doing): the
# gateway (1 worker, SQLite ledger) under valgrind serves K requests of
# each kind from one keep-alive connection, once with K = 0 and once with
# K = $N; the difference over N is one request's instructions (worker,
# ledger writer and all). Streams are OpenAI's, `"usage":null` in each
# chunk as it sends them under include_usage.
#   bench/callgrind.sh BUILD_DIR        (N=200 by default)
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/callgrind.sh BUILD_DIR}" && pwd)
N=${N:-200}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed" >&2; exit 2; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

wait_line() { # file pattern
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && { grep -m1 -o "$2" "$1"; return 0; }
    sleep 0.05
  done
  echo "callgrind.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

"$BUILD/fake_provider" --port 0 --max-recorded 4 >"$WORK/fake.out" 2>&1 &
PIDS+=($!)
FAKE=$(wait_line "$WORK/fake.out" 'listening on 127.0.0.1:[0-9]*' | sed 's/.*://')
cat >"$WORK/sb.yaml" <<CFG
listen: 127.0.0.1:0
workers: 1
database: sqlite:$WORK/ledger.db
providers:
  openai: { format: openai, base_url: http://127.0.0.1:$FAKE/v1, api_key: sk-bench, retry: { attempts: 0 } }
CFG

# instructions of one gateway run serving K requests of body $1
run() { # body K
  rm -f "$WORK"/cg.* "$WORK/sb.out" "$WORK/ledger.db"*
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
    "$BUILD/switchboard" serve --config "$WORK/sb.yaml" >"$WORK/sb.out" 2>"$WORK/sb.err" &
  local pid=$!
  local port
  port=$(wait_line "$WORK/sb.out" 'listening on http://[^:]*:[0-9]*' | sed 's/.*://')
  if [ "$2" -gt 0 ]; then
    "$BUILD/loadgen" --url "http://127.0.0.1:$port$3" --body "$1" --conns 1 \
      --requests-per-conn "$2" --timeout 600 >"$WORK/lg.out" 2>&1
    grep -q " errors=0 " "$WORK/lg.out" || { echo "callgrind.sh: loadgen failed" >&2; cat "$WORK/lg.out" >&2; exit 1; }
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  # every file's "summary: N" (a file also ends with "totals: N", the
  # same number: counted once), summed
  for f in "$WORK"/cg.*; do
    awk '/^summary:/ { s = $2 } /^totals:/ && s == "" { s = $2 } END { print s + 0 }' "$f"
  done | awk '{ s += $1 } END { print s }'
}

per_request() { # label body path
  local i0 iN
  i0=$(run "$2" 0 "$3")
  iN=$(run "$2" "$N" "$3")
  echo $(((iN - i0) / N))
}

scenario() { # events
  local words
  words=$(for i in $(seq 1 "$1"); do printf 'tok%d ' "$i"; done)
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$FAKE/_fake/default" \
    -d "{\"content\":\"${words% }\",\"times\":-1}"
}

printf '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Write one short sentence about gateways."}]}' >"$WORK/plain.json"
printf '{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}' >"$WORK/stream.json"
printf '{"model":"openai/gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}' >"$WORK/messages.json"

echo "instructions per request (callgrind, N=$N, 1 worker):"
scenario 8
echo "non-stream:                  $(per_request x "$WORK/plain.json" /v1/chat/completions)"
scenario 30
s30=$(per_request x "$WORK/stream.json" /v1/chat/completions)
echo "stream, 30 events:           $s30"
m30=$(per_request x "$WORK/messages.json" /v1/messages)
echo "Messages door, 30 events:    $m30 (translated: Anthropic client, OpenAI provider)"
scenario 300
s300=$(per_request x "$WORK/stream.json" /v1/chat/completions)
echo "stream, 300 events:          $s300"
echo "per pass-through event:      $(((s300 - s30) / 270))"
