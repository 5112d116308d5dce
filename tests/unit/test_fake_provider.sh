#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of the fake provider (tests/fake_provider/): every scenario
# control, the recorder, the control API, HTTP framing, and 200 concurrent
# streams, with curl and jq against the real binary.
#
#   bash tests/unit/test_fake_provider.sh BUILD_DIR
#
# FAKE_PROVIDER_BIN overrides the binary; FAKE_PROVIDER_WRAP runs it under a
# tool, e.g. FAKE_PROVIDER_WRAP="valgrind --leak-check=full --errors-for-leak-kinds=all
# --error-exitcode=99" (the clean-exit check then also fails on leaks).
set -uo pipefail

BUILD=${1:?usage: test_fake_provider.sh BUILD_DIR}
BIN=${FAKE_PROVIDER_BIN:-$BUILD/fake_provider}
WRAP=${FAKE_PROVIDER_WRAP:-}
SLOW=1 # timing slack factor (a wrapper slows everything down)
[ -n "$WRAP" ] && SLOW=10
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "test_fake_provider: $tool is required" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "test_fake_provider: no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"
START=$(date +%s.%N)
le() { # name a b: passes when a <= b (numbers)
  if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= b) }'; then pass; else fail "$1" "want $2 <= $3"; fi
}

# ---- the server ------------------------------------------------------------------

START_URL=
start() { # out-file args... -> START_URL (the base URL); the pid goes to PIDS
  local out=$1
  shift
  $WRAP "$BIN" --port 0 "$@" >"$out" 2>"$out.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 3000); do # bounded: ~30 s at most (valgrind starts slowly)
    if grep -q '^listening on ' "$out"; then
      START_URL=$(sed -n 's/^listening on \(.*\)$/http:\/\/\1/p' "$out")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "fake provider did not start: $(cat "$out.err")" >&2
  return 1
}

start "$WORK/main.out" || exit 1
U=$START_URL
eq "one line on stdout" "1" "$(wc -l <"$WORK/main.out")"
ok "the line names 127.0.0.1 and a port" grep -Eq '^listening on 127\.0\.0\.1:[0-9]+$' "$WORK/main.out"
# the only listening socket on that port is 127.0.0.1 (0100007F in /proc/net/tcp)
PORT_HEX=$(printf '%04X' "${U##*:}")
eq "bound to 127.0.0.1 only" "0100007F:$PORT_HEX" \
  "$(awk -v p=":$PORT_HEX" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)"

# ---- helpers ----------------------------------------------------------------------

# call METHOD PATH [curl args...]: body in $WORK/body, head in $WORK/head,
# the status printed.
call() {
  local m=$1 p=$2
  shift 2
  : >"$WORK/body" # curl leaves -o untouched when no body byte arrives
  : >"$WORK/head"
  curl -s -X "$m" -D "$WORK/head" -o "$WORK/body" -w '%{http_code}' "$@" "$U$p"
}
chat() { # JSON [curl args...] -> status; the body in $WORK/body
  local body=$1
  shift
  call POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary "$body" "$@"
}
header() { # name -> value of the last response's header
  grep -i "^$1:" "$WORK/head" | head -n1 | cut -d: -f2- | sed 's/^ //' | tr -d '\r'
}
body() { cat "$WORK/body"; }
control() { # METHOD NAME [JSON]
  if [ $# -ge 3 ]; then
    curl -s -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$U/_fake/$2"
  else
    curl -s -X "$1" "$U/_fake/$2"
  fi
}
script() { # JSON array of scenarios
  local r
  r=$(control POST script "{\"scenarios\":$1}")
  [ "$(jq -r '.queued' <<<"$r")" == "$(jq 'length' <<<"$1")" ] || fail "script $1" "answer: $r"
}
reset() { control POST reset >/dev/null; }
stats_field() { control GET stats | jq -r ".$1"; }
last() { control GET requests | jq -c ".requests[-1]$1"; }
bytes() { printf '%s' "$1" | wc -c; }
# SSE helpers over $WORK/body
events() { grep '^data: ' "$WORK/body" | sed 's/^data: //'; }
json_events() { events | grep -v '^\[DONE\]$'; }
deltas() { json_events | jq -j ".choices[0].delta.$1 // empty"; }
# tool-call deltas as "INDEX[h] " (h: the call's first delta)
tool_order() { json_events | jq -j '.choices[0].delta.tool_calls // empty | .[0] | "\(.index)\(if .id then "h" else "" end) "'; }
tool_pieces() { json_events | jq -c '.choices[0].delta.tool_calls // empty | .[0] | select(.id == null and .index == 0) | .function.arguments'; }

USER_MSG='{"model":"gpt-x","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello big world"}]}'
P=$(($(bytes "$USER_MSG") / 4))

# ---- endpoints -----------------------------------------------------------------------

reset
eq "models: status" 200 "$(call GET /v1/models)"
eq "models: body" '{"object":"list","data":[{"id":"fake-model","object":"model","created":0,"owned_by":"fake"}]}' "$(body)"
eq "unknown path: 404" 404 "$(call GET /v1/nothing)"
eq "unknown path: OpenAI error shape" "not_found_error" "$(jq -r '.error.type' "$WORK/body")"
eq "GET chat/completions: 404" 404 "$(call GET /v1/chat/completions)"

# ---- the default scenario: echo ---------------------------------------------------------

reset
eq "echo: status" 200 "$(chat "$USER_MSG")"
eq "echo: content type" "application/json" "$(header content-type)"
eq "echo: content length" "$(bytes "$(body)")" "$(header content-length)"
eq "echo: exact body" \
  "{\"id\":\"chatcmpl-fake-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-x\",\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"echo: hello big world\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":$P,\"completion_tokens\":4,\"total_tokens\":$((P + 4))}}" \
  "$(body)"
chat '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"part one, "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"part two"}]},{"role":"assistant","content":"ignored"}]}' >/dev/null
eq "echo: array content" "echo: part one, part two" "$(jq -r '.choices[0].message.content' "$WORK/body")"
chat '{"model":"m","messages":[{"role":"system","content":"x"}]}' >/dev/null
eq "echo: no user message" "ok" "$(jq -r '.choices[0].message.content' "$WORK/body")"
chat 'not json at all' >/dev/null
eq "echo: a body that is not JSON" "ok fake-model" "$(jq -r '.choices[0].message.content + " " + .model' "$WORK/body")"

S='data: {"id":"chatcmpl-fake-5","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","system_fingerprint":"fp_fake","choices":['
STREAM_MSG=${USER_MSG%\}}',"stream":true}'
eq "stream: status" 200 "$(chat "$STREAM_MSG" -N)"
eq "stream: content type" "text/event-stream" "$(header content-type)"
eq "stream: chunked" "chunked" "$(header transfer-encoding)"
EXPECTED="$S"'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

'"$S"'{"index":0,"delta":{"content":"echo: "},"logprobs":null,"finish_reason":null}]}

'"$S"'{"index":0,"delta":{"content":"hello "},"logprobs":null,"finish_reason":null}]}

'"$S"'{"index":0,"delta":{"content":"big "},"logprobs":null,"finish_reason":null}]}

'"$S"'{"index":0,"delta":{"content":"world"},"logprobs":null,"finish_reason":null}]}

'"$S"'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]'
eq "stream: exact bytes" "$EXPECTED" "$(body)"
eq "stream: ends with a blank line" "$(printf 'E]\n\n' | od -c)" "$(tail -c 4 "$WORK/body" | od -c)"
chat "${STREAM_MSG%\}}"',"stream_options":{"include_usage":true}}' -N >/dev/null
P2=$(($(bytes "${STREAM_MSG%\}}"',"stream_options":{"include_usage":true}}') / 4))
eq "stream: usage chunk when requested" \
  "{\"id\":\"chatcmpl-fake-6\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-x\",\"system_fingerprint\":\"fp_fake\",\"choices\":[],\"usage\":{\"prompt_tokens\":$P2,\"completion_tokens\":4,\"total_tokens\":$((P2 + 4))}}" \
  "$(json_events | tail -n1)"

# ---- the recorder ------------------------------------------------------------------------

reset
control GET stats >/dev/null # control requests are not recorded
curl -s -o /dev/null -H 'X-Twice: one' -H 'X-Twice: two' -H 'Authorization: Bearer sk-test' \
  -H 'Content-Type: application/json' --data-binary '{"model":"m","messages":[]}' \
  "$U/api/v1/chat/completions?a=1&b=two"
R=$(last '')
eq "recorded: seq" 1 "$(jq '.seq' <<<"$R")"
eq "recorded: method" POST "$(jq -r '.method' <<<"$R")"
eq "recorded: path without query" /api/v1/chat/completions "$(jq -r '.path' <<<"$R")"
eq "recorded: query" 'a=1&b=two' "$(jq -r '.query' <<<"$R")"
eq "recorded: header names lower-cased" "Bearer sk-test" "$(jq -r '.headers.authorization' <<<"$R")"
eq "recorded: repeated headers joined" "one, two" "$(jq -r '.headers["x-twice"]' <<<"$R")"
eq "recorded: raw body" '{"model":"m","messages":[]}' "$(jq -r '.body' <<<"$R")"
eq "recorded: parsed body" '{"model":"m","messages":[]}' "$(jq -c '.json' <<<"$R")"
eq "recorded: default scenario" -1 "$(jq '.scenario' <<<"$R")"
call GET /v1/models >/dev/null
call POST /v1/elsewhere --data-binary 'x' >/dev/null
eq "recorded: models and 404s, without scenario" '[2,"/v1/models","",null,3,"/v1/elsewhere",null]' \
  "$(control GET requests | jq -c '[.requests[1].seq, .requests[1].path, .requests[1].query, .requests[1].scenario, .requests[2].seq, .requests[2].path, .requests[2].json]')"
eq "recorded: since" '[3]' "$(control GET 'requests?since=2' | jq -c '[.requests[].seq]')"
eq "recorded: since past the end" '[]' "$(control GET 'requests?since=99' | jq -c '[.requests[].seq]')"
eq "recorded: bad since" 400 "$(call GET '/_fake/requests?since=abc')"
printf '{"x":"\xff\xfe"}' >"$WORK/bad.bin"
curl -s -o /dev/null --data-binary @"$WORK/bad.bin" "$U/v1/chat/completions"
eq "recorded: invalid UTF-8 as body_hex" '[null,"7b2278223a22fffe227d",null]' "$(last '|[.body,.body_hex,.json]')"
printf '{"model":"m","messages":[{"role":"user","content":"in chunks"}]}' >"$WORK/chunked.json"
curl -s -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary @"$WORK/chunked.json" -o "$WORK/body" "$U/v1/chat/completions"
eq "chunked request body: answered" "echo: in chunks" "$(jq -r '.choices[0].message.content' "$WORK/body")"
eq "chunked request body: recorded" "$(cat "$WORK/chunked.json")" "$(last '.body' | jq -r .)"
# 2 MB: curl asks "Expect: 100-continue", which must be answered at once
head -c 2097152 /dev/zero | tr '\0' 'a' | sed 's/^/{"model":"big","messages":[{"role":"user","content":"/; s/$/"}]}/' >"$WORK/big.json"
BIG=$(stat -c %s "$WORK/big.json")
T=$(curl -s -o "$WORK/body" -w '%{time_total}' -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" "$U/v1/chat/completions")
eq "2 MB body: prompt tokens" $((BIG / 4)) "$(jq '.usage.prompt_tokens' "$WORK/body")"
eq "2 MB body: recorded whole" "$BIG" "$(last '.body|length')"
le "2 MB body: no wait for 100-continue" "$T" "$((1 * SLOW)).5"
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$WORK/huge.bin"
eq "body over 64 MB: 413" 413 "$(call POST /v1/chat/completions --data-binary @"$WORK/huge.bin")"
rm -f "$WORK/huge.bin"

# ---- keep-alive and pipelining ---------------------------------------------------------

reset
eq "keep-alive: one connection for two requests" "10" \
  "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' "$U/v1/models" "$U/v1/models")"
HOSTPORT=${U#http://}
exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT#*:}"
B1='{"model":"p","messages":[{"role":"user","content":"first"}]}'
B2='{"model":"p","messages":[{"role":"user","content":"second"}]}'
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sPOST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "$(bytes "$B1")" "$B1" "$(bytes "$B2")" "$B2" >&3
PIPELINED=$(timeout 10 cat <&3)
exec 3<&-
eq "pipelining: two responses in order" "echo: first|echo: second" \
  "$(grep -o '"content":"echo: [a-z]*"' <<<"$PIPELINED" | cut -d'"' -f4 | paste -sd'|')"
eq "pipelining: the second says close" 1 "$(grep -c '^Connection: close' <<<"$PIPELINED")"

# ---- the scenario queue -----------------------------------------------------------------

reset
script '[{"content":"A"},{"content":"B"}]'
script '[{"content":"C"}]'
got=""
for _ in 1 2 3 4; do chat "$USER_MSG" >/dev/null; got="$got$(jq -r '.choices[0].message.content' "$WORK/body")|"; done
eq "queue: first in, first out, then the default" "A|B|C|echo: hello big world|" "$got"
eq "queue: scenario indexes recorded" "[0,1,2,-1]" "$(control GET requests | jq -c '[.requests[].scenario]')"

reset
script '[{"match":{"model":"x"},"content":"for x"},{"match":{"path_contains":"/special/"},"content":"special"},{"content":"any","times":2}]'
chat '{"model":"y","messages":[]}' >/dev/null
got="$(jq -r '.choices[0].message.content' "$WORK/body")"
curl -s -o "$WORK/body" --data-binary '{"model":"x"}' "$U/special/v1/chat/completions"
got="$got|$(jq -r '.choices[0].message.content' "$WORK/body")"
curl -s -o "$WORK/body" --data-binary '{"model":"y"}' "$U/special/v1/chat/completions"
got="$got|$(jq -r '.choices[0].message.content' "$WORK/body")"
chat '{"model":"x","messages":[]}' >/dev/null
got="$got|$(jq -r '.choices[0].message.content' "$WORK/body")"
chat '{"model":"x","messages":[]}' >/dev/null
got="$got|$(jq -r '.choices[0].message.content' "$WORK/body")"
eq "queue: match model / path_contains, times 2" "any|for x|special|any|ok" "$got"
eq "queue: indexes of matched scenarios" "[2,0,1,2,-1]" "$(control GET requests | jq -c '[.requests[].scenario]')"

reset
script '[{"content":"forever","times":-1}]'
for _ in 1 2 3; do chat "$USER_MSG" >/dev/null; done
eq "times -1: serves forever" "forever" "$(jq -r '.choices[0].message.content' "$WORK/body")"
eq "times -1: stays queued" 1 "$(stats_field queued)"
reset
eq "reset: queue cleared" 0 "$(stats_field queued)"
eq "reset: recorder cleared" 0 "$(control GET requests | jq '.requests|length')"
chat "$USER_MSG" >/dev/null
eq "reset: default is echo again, seq from 1" "echo: hello big world chatcmpl-fake-1" \
  "$(jq -r '.choices[0].message.content + " " + .id' "$WORK/body")"

eq "default: set" '{"ok":true}' "$(control POST default '{"content":"the default","model":"dm"}')"
script '[{"content":"queued"}]'
chat "$USER_MSG" >/dev/null
chat "$USER_MSG" >/dev/null
eq "default: used when the queue is empty" "the default dm" "$(jq -r '.choices[0].message.content + " " + .model' "$WORK/body")"

# control API errors: nothing half-done
reset
eq "script: unknown field is 400" 400 "$(call POST /_fake/script --data-binary '{"scenarios":[{"content":"ok"},{"contnet":"typo"}]}')"
ok "script: the message names the field" grep -q 'scenarios\[1\]: unknown field \\"contnet\\"' "$WORK/body"
eq "script: all or nothing" 0 "$(stats_field queued)"
eq "script: bad type is 400" 400 "$(call POST /_fake/script --data-binary '{"scenarios":[{"latency_ms":"slow"}]}')"
eq "script: times 0 is 400" 400 "$(call POST /_fake/script --data-binary '{"scenarios":[{"times":0}]}')"
eq "script: framing header is 400" 400 "$(call POST /_fake/script --data-binary '{"scenarios":[{"headers":{"Content-Length":"1"}}]}')"
eq "script: not JSON is 400" 400 "$(call POST /_fake/script --data-binary '{"scenarios":')"
eq "script: no scenarios array is 400" 400 "$(call POST /_fake/script --data-binary '{"scenario":{}}')"
eq "default: bad scenario is 400" 400 "$(call POST /_fake/default --data-binary '{"status":"teapot"}')"
eq "control: wrong method is 405" 405 "$(call GET /_fake/script)"
eq "control: unknown endpoint is 404" 404 "$(call GET /_fake/nothing)"

# ---- status, errors, headers ----------------------------------------------------------------

reset
script '[{"status":429,"retry_after":7,"headers":{"X-Ratelimit-Remaining":0,"X-Extra":"yes"}},{"status":400},{"status":503},{"status":400,"error_body":{"error":{"message":"bad role","type":"invalid_request_error"}}},{"status":502,"error_body":"<html>down</html>"},{"status":401,"body":"raw text","headers":{"Content-Type":"text/x-custom"}}]'
eq "429: status" 429 "$(chat "$USER_MSG")"
eq "429: default body" '{"error":{"message":"fake error 429","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}' "$(body)"
eq "429: Retry-After" 7 "$(header retry-after)"
eq "429: extra headers" "0|yes" "$(header x-ratelimit-remaining)|$(header x-extra)"
eq "400: status" 400 "$(chat "$STREAM_MSG")"
eq "400: never a stream" "application/json|invalid_request_error" "$(header content-type)|$(jq -r '.error.code' "$WORK/body")"
eq "503: server_error" "503 server_error" "$(chat "$USER_MSG") $(jq -r '.error.type' "$WORK/body")"
eq "error_body object: sent as is" '400 {"error":{"message":"bad role","type":"invalid_request_error"}}' "$(chat "$USER_MSG") $(body)"
eq "error_body string: raw text" "502 <html>down</html>" "$(chat "$USER_MSG") $(body)"
eq "error_body string: text/plain" "text/plain; charset=utf-8" "$(header content-type)"
eq "body override and Content-Type header" "401 raw text text/x-custom" "$(chat "$USER_MSG") $(body) $(header content-type)"
eq "errors: completed in stats" 6 "$(stats_field completed)"

# ---- content, chunks, reasoning ------------------------------------------------------------------

reset
script '[{"content":"one two  three"},{"content":"one two  three"},{"chunks":["x","","y z"]},{"chunks":["x","y"]},{"reasoning":"let me think","content":"done"},{"reasoning":"let me think","content":"done"},{"content":""}]'
chat "$USER_MSG" >/dev/null
eq "content: non-stream" "one two  three" "$(jq -r '.choices[0].message.content' "$WORK/body")"
eq "content: completion tokens = chunks" 4 "$(jq '.usage.completion_tokens' "$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "content: split after each space" '["one ","two "," ","three"]' "$(json_events | jq -c '.choices[0].delta.content // empty' | jq -sc '.[1:]')"
chat "$STREAM_MSG" -N >/dev/null
eq "chunks: streamed as given" '["x","","y z"]' "$(json_events | jq -c '.choices[0].delta.content // empty' | jq -sc '.[1:]')"
chat "$USER_MSG" >/dev/null
eq "chunks: joined when not streaming" "xy" "$(jq -r '.choices[0].message.content' "$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "reasoning: streamed before content" "reasoning:let |reasoning:me |reasoning:think|content:done|" \
  "$(json_events | jq -j '.choices[0].delta | to_entries[] | select(.key == "reasoning" or (.key == "content" and .value != "")) | "\(.key):\(.value)|"')"
chat "$USER_MSG" >/dev/null
eq "reasoning: message.reasoning after refusal" '["role","content","refusal","reasoning"]' "$(jq -c '.choices[0].message | keys_unsorted' "$WORK/body")"
eq "reasoning: value" "let me think" "$(jq -r '.choices[0].message.reasoning' "$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "empty content: role, finish, done" 3 "$(events | wc -l)"

# ---- tool calls ---------------------------------------------------------------------------

reset
ARGS='{"city":"Zürich","unit":"c"}'
TC='[{"id":"call_a","name":"get_weather","arguments":"{\"city\":\"Zürich\",\"unit\":\"c\"}"},{"name":"noop"}]'
script "[{\"tool_calls\":$TC},{\"tool_calls\":$TC},{\"tool_calls\":$TC,\"parallel\":true,\"arg_chunk\":10},{\"tool_calls\":[{\"name\":\"f\",\"arguments\":\"ééé\"}],\"arg_chunk\":1,\"content\":\"first\"}]"
chat "$USER_MSG" >/dev/null
eq "tools non-stream: message" "{\"role\":\"assistant\",\"content\":null,\"refusal\":null,\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":$(jq -c -n --arg a "$ARGS" '$a')}},{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"noop\",\"arguments\":\"{}\"}}]}" \
  "$(jq -c '.choices[0].message' "$WORK/body")"
eq "tools non-stream: finish_reason" tool_calls "$(jq -r '.choices[0].finish_reason' "$WORK/body")"
eq "tools non-stream: completion tokens = pieces" 6 "$(jq '.usage.completion_tokens' "$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "tools stream: first delta per call" '[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}},{"index":1,"id":"call_1","type":"function","function":{"name":"noop","arguments":""}}]' \
  "$(json_events | jq -c '.choices[0].delta.tool_calls[0]? | select(.id)' | jq -sc .)"
eq "tools stream: arguments in pieces of 7 bytes" '["{\"city\"",":\"Züri","ch\",\"un","it\":\"c\"","}"]' "$(tool_pieces | jq -sc .)"
eq "tools stream: pieces join to the arguments" "$ARGS" "$(tool_pieces | jq -j .)"
eq "tools stream: sequential order" "0h 0 0 0 0 0 1h 1 " "$(tool_order)"
eq "tools stream: finish_reason" tool_calls "$(json_events | jq -r '.choices[0].finish_reason // empty')"
chat "$STREAM_MSG" -N >/dev/null
eq "tools parallel: interleaved" "0h 0 1h 1 0 0 " "$(tool_order)"
eq "tools parallel: pieces join" "$ARGS" "$(tool_pieces | jq -j .)"
chat "$STREAM_MSG" -N >/dev/null
eq "tools: arg_chunk 1 never splits UTF-8" '["é","é","é"]' "$(tool_pieces | jq -sc .)"
eq "tools: content streamed first" "first" "$(deltas content)"

# ---- finish_reason, usage, envelope -----------------------------------------------------------

reset
script '[{"finish_reason":"length","usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":64}}},{"usage_mode":"never"},{"usage_mode":"never"},{"usage_mode":"always"},{"usage_mode":"in_finish_chunk"},{"usage":{"total_tokens":5}},{"id":"my-id","model":"other","system_fingerprint":null,"created":42},{"id":"my-id","model":"other","system_fingerprint":"fp_x","created":42}]'
chat "$USER_MSG" >/dev/null
eq "finish_reason override" length "$(jq -r '.choices[0].finish_reason' "$WORK/body")"
eq "usage merged, total follows" '{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":64}}' "$(jq -c '.usage' "$WORK/body")"
chat "$USER_MSG" >/dev/null
eq "usage never: no usage key" false "$(jq 'has("usage")' "$WORK/body")"
chat "${STREAM_MSG%\}}"',"stream_options":{"include_usage":true}}' -N >/dev/null
eq "usage never: no usage chunk even when requested" 0 "$(json_events | jq -c 'select(.usage)' | wc -l)"
chat "$STREAM_MSG" -N >/dev/null
eq "usage always: usage chunk unrequested" '[]' "$(json_events | jq -c 'select(.usage) | .choices')"
chat "$STREAM_MSG" -N >/dev/null
eq "usage in_finish_chunk: on the finish chunk only" '["stop"]' "$(json_events | jq -c 'select(.usage) | .choices[0].finish_reason' | jq -sc .)"
chat "$USER_MSG" >/dev/null
eq "usage: explicit total kept" 5 "$(jq '.usage.total_tokens' "$WORK/body")"
chat "$USER_MSG" >/dev/null
eq "envelope: id, model, fingerprint, created" '["my-id","other",null,42]' "$(jq -c '[.id,.model,.system_fingerprint,.created]' "$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "envelope: the same on every chunk" '["my-id","other","fp_x",42]' "$(json_events | jq -c '[.id,.model,.system_fingerprint,.created]' | sort -u)"

# ---- timing --------------------------------------------------------------------------------

reset
script '[{"latency_ms":300},{"first_token_ms":400},{"chunks":["a","b","c","d"],"token_interval_ms":60}]'
T=$(chat "$USER_MSG" -w ' %{time_starttransfer}' | cut -d' ' -f2)
le "latency_ms: nothing before 300 ms" 0.29 "$T"
le "latency_ms: not much later" "$T" "$((1 * SLOW)).5"
TIMES=$(chat "$STREAM_MSG" -N -w ' %{time_starttransfer} %{time_total}')
le "first_token_ms: headers at once" "$(cut -d' ' -f2 <<<"$TIMES")" "$(awk -v s="$SLOW" 'BEGIN { print 0.3 * s }')"
le "first_token_ms: then the wait" 0.39 "$(cut -d' ' -f3 <<<"$TIMES")"
eq "first_token_ms: whole stream" "echo: hello big world" "$(deltas content)"
T=$(chat "$STREAM_MSG" -N -w ' %{time_total}' | cut -d' ' -f2)
# 7 events (role, 4 content, finish, [DONE]): 6 intervals
le "token_interval_ms: 6 intervals of 60 ms" 0.35 "$T"
le "token_interval_ms: not much more" "$T" "$((1 * SLOW)).5"
eq "token_interval_ms: content" "abcd" "$(deltas content)"

# ---- faults -------------------------------------------------------------------------------

reset
script '[{"chunks":["one ","two ","three ","four"],"cut_after":2},{"chunks":["a","b"],"cut_after":0},{"chunks":["a","b"],"cut_after":9},{"chunks":["a","b"],"cut_after":1,"reset":true}]'
chat "$STREAM_MSG" -N >/dev/null
eq "cut_after: transfer left incomplete (curl 18)" 18 "$?"
eq "cut_after: the first N chunks" "one two " "$(deltas content)"
eq "cut_after: no finish, no [DONE]" "0 0" "$(json_events | jq -c 'select(.choices[0].finish_reason)' | wc -l) $(events | grep -c DONE)"
chat "$STREAM_MSG" -N >/dev/null
eq "cut_after 0: headers only" "18 0" "$? $(events | wc -l)"
chat "$STREAM_MSG" -N >/dev/null
eq "cut_after beyond the end: after the last chunk" "18 ab 0" "$? $(deltas content) $(json_events | jq -c 'select(.choices[0].finish_reason)' | wc -l)"
chat "$STREAM_MSG" -N >/dev/null
RC=$?
ok "cut with reset: an error for the client" test "$RC" -ne 0
eq "cuts counted as dropped" 4 "$(stats_field dropped)"

reset
script '[{"chunks":["ok ","then"],"garbage":"data: {this is not json\n\n","garbage_after":1},{"chunks":["a"],"garbage_hex":"fffe0a0a"},{"chunks":["a","b"],"no_done":true},{"drop_connection":true,"times":2},{"raw_events":["{\"x\":1}","not json"]},{"raw_events":["a"],"no_done":true},{"chunks":["a","b"],"sse_comments":true}]'
chat "$STREAM_MSG" -N >/dev/null
eq "garbage: curl happy" 0 "$?"
eq "garbage: after the first chunk, then the rest" '"ok "|{this is not json|"then"|' \
  "$(events | while read -r l; do case $l in '{this'*) printf '%s|' "$l" ;; '{'*) jq -j '.choices[0].delta.content // empty | select(. != "") | tojson + "|"' <<<"$l" ;; esac; done)"
eq "garbage: stream still ends with [DONE]" "data: [DONE]" "$(tail -n2 "$WORK/body" | head -n1)"
chat "$STREAM_MSG" -N >/dev/null
eq "garbage_hex: raw bytes right after the head" "ff fe 0a 0a" "$(head -c 4 "$WORK/body" | od -An -tx1 | sed 's/^ //')"
chat "$STREAM_MSG" -N >/dev/null
eq "no_done: proper end, no [DONE]" "0 0 ab" "$? $(events | grep -c DONE) $(deltas content)"
chat "$STREAM_MSG" -N >/dev/null
eq "drop_connection: empty reply (curl 52)" 52 "$?"
eq "drop_connection: still recorded" "$(bytes "$STREAM_MSG")" "$(last '.body|length')"
chat "$USER_MSG" >/dev/null
eq "drop_connection: times 2" 52 "$?"
chat "$STREAM_MSG" -N >/dev/null
eq "raw_events: exactly these, then [DONE]" "$(printf 'data: {"x":1}\n\ndata: not json\n\ndata: [DONE]\n\n' | od -c)" "$(od -c <"$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "raw_events with no_done" "$(printf 'data: a\n\n' | od -c)" "$(od -c <"$WORK/body")"
chat "$STREAM_MSG" -N >/dev/null
eq "sse_comments: between every two events" "5 4" "$(events | wc -l) $(grep -c '^: keep-alive$' "$WORK/body")"
ok "sse_comments: not before the first event" grep -q '^data' <(head -n1 "$WORK/body")

# ---- Anthropic Messages -----------------------------------------------------------------------

an() { # JSON [curl args...] -> status; POST /v1/messages
  local body=$1
  shift
  call POST /v1/messages -H 'Content-Type: application/json' --data-binary "$body" "$@"
}
AN_MSG='{"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi there"}]}]}'
AN_STREAM='{"model":"claude-x","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
reset
eq "anthropic: status" 200 "$(an '{"model":"claude-x","messages":[{"role":"user","content":"hello"}]}')"
eq "anthropic: echo by default" \
  '{"id":"msg_fake_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"echo: hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":16,"output_tokens":2}}' "$(body)"
script '[{"match":{"model":"nobody"}},{"reasoning":"a b","signature":"SIG","content":"x y","usage":{"cache_read_input_tokens":7}},{"reasoning":"a b","signature":"SIG","chunks":["x","y"],"tool_calls":[{"id":"toolu_1","name":"f","arguments":"{\"k\":12345}"}],"arg_chunk":5},{"status":529},{"raw_events":["{\"type\":\"ping\"}"],"no_done":true}]'
an "$AN_MSG" >/dev/null
eq "anthropic: thinking, text, usage merged" \
  '[{"type":"thinking","thinking":"a b","signature":"SIG"},{"type":"text","text":"x y"}]|{"input_tokens":27,"output_tokens":2,"cache_read_input_tokens":7}' \
  "$(jq -c '.content' "$WORK/body")|$(jq -c '.usage' "$WORK/body")"
an "$AN_STREAM" -N >/dev/null
eq "anthropic stream: content type" "text/event-stream" "$(header content-type)"
eq "anthropic stream: event names match the data types" 0 \
  "$(paste -d' ' <(grep '^event: ' "$WORK/body" | sed 's/^event: //') <(json_events | jq -r .type) | awk '$1 != $2' | wc -l)"
eq "anthropic stream: event sequence" \
  "message_start ping content_block_start content_block_delta content_block_delta content_block_delta content_block_stop content_block_start content_block_delta content_block_delta content_block_stop content_block_start content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop " \
  "$(json_events | jq -j '.type + " "')"
eq "anthropic stream: deltas" 'thinking_delta:"a " thinking_delta:"b" signature_delta:"SIG" text_delta:"x" text_delta:"y" input_json_delta:"{\"k\":" input_json_delta:"12345" input_json_delta:"}" ' \
  "$(json_events | jq -j 'select(.type == "content_block_delta") | .delta | "\(.type):\(.thinking // .signature // .text // .partial_json | tojson) "')"
eq "anthropic stream: tool_use block" '{"type":"tool_use","id":"toolu_1","name":"f","input":{}}' \
  "$(json_events | jq -c 'select(.type == "content_block_start" and .index == 2) | .content_block')"
eq "anthropic stream: stop reason and usage" '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":5}}' \
  "$(json_events | jq -c 'select(.type == "message_delta")')"
eq "anthropic: 529 overloaded" "529|overloaded_error" "$(an "$AN_MSG")|$(jq -r '.error.type' "$WORK/body")"
an "$AN_STREAM" -N >/dev/null
eq "anthropic: raw events, no message_stop" '{"type":"ping"}' "$(json_events)"
eq "anthropic: recorded path" '"/v1/messages"' "$(last .path)"

# ---- Gemini generateContent ---------------------------------------------------------------------

GM_MSG='{"contents":[{"role":"user","parts":[{"text":"hi "},{"text":"gem"}]}]}'
reset
script '[{"match":{"model":"gemini-x"},"reasoning":"hmm","content":"a b","usage":{"cachedContentTokenCount":3}},{"tool_calls":[{"name":"f","arguments":"{\"k\":1}"},{"name":"g"}],"signature":"TS"},{"status":429,"retry_after":2},{"content":"s","finish_reason":"SAFETY"}]'
eq "gemini: status" 200 "$(call POST /v1beta/models/gemini-x:generateContent --data-binary "$GM_MSG")"
eq "gemini: model from the path, thought and text parts, usage merged" \
  '[{"text":"hmm","thought":true},{"text":"a b"}]|STOP|{"promptTokenCount":17,"candidatesTokenCount":2,"cachedContentTokenCount":3,"totalTokenCount":19}|"gemini-x"' \
  "$(jq -c '.candidates[0].content.parts' "$WORK/body")|$(jq -r '.candidates[0].finishReason' "$WORK/body")|$(jq -c '.usageMetadata' "$WORK/body")|$(jq -c '.modelVersion' "$WORK/body")"
call POST '/v1beta/models/gemini-y:streamGenerateContent?alt=sse' -N --data-binary "$GM_MSG" >/dev/null
eq "gemini stream: CRLF framing" 3 "$(grep -c $'^data: .*\r$' "$WORK/body")"
eq "gemini stream: one call per event, signature on the first, finish last" \
  '[{"functionCall":{"name":"f","args":{"k":1}},"thoughtSignature":"TS"}]|[{"functionCall":{"name":"g","args":{}}}]|[{"text":""}]STOP' \
  "$(events | tr -d '\r' | jq -j '(.candidates[0].content.parts | tojson) + (.candidates[0].finishReason // "|")')"
eq "gemini: 429 with Retry-After and Google's error shape" "429|2|RESOURCE_EXHAUSTED" \
  "$(call POST /v1beta/models/m:generateContent --data-binary "$GM_MSG")|$(header retry-after)|$(jq -r '.error.status' "$WORK/body")"
call POST /v1beta/models/m:generateContent --data-binary "$GM_MSG" >/dev/null
eq "gemini: finish_reason as written" SAFETY "$(jq -r '.candidates[0].finishReason' "$WORK/body")"
eq "gemini: recorded path and query" '"/v1beta/models/gemini-y:streamGenerateContent"|"alt=sse"' \
  "$(control GET requests | jq -c '.requests[1].path')|$(control GET requests | jq -c '.requests[1].query')"

# ---- stats: a client that hangs up ------------------------------------------------------------

reset
script '[{"chunks":["t0 ","t1 ","t2 ","t3 ","t4 ","t5 ","t6 ","t7 ","t8 ","t9 "],"token_interval_ms":100}]'
chat "$STREAM_MSG" -N --max-time 0.35 >/dev/null
eq "hang-up: curl timed out (28)" 28 "$?"
# poll (no sleep): the fake notices the close as soon as it reads it
for _ in $(seq 1 200); do [ "$(stats_field cancelled)" == 1 ] && break; done
eq "hang-up: counted as cancelled" '{"requests":1,"active_streams":0,"completed":0,"cancelled":1,"dropped":0,"queued":0}' "$(control GET stats)"

# ---- 200 concurrent streams -----------------------------------------------------------------

reset
eq "concurrency: default set" '{"ok":true}' "$(control POST default '{"chunks":["a ","b ","c ","d ","e"],"token_interval_ms":20}')"
printf '%s\n' "$STREAM_MSG" >"$WORK/stream.json"
export U WORK
seq 1 200 | xargs -P 200 -I{} sh -c \
  'curl -s -N --max-time 60 -H "Content-Type: application/json" --data-binary @"$WORK/stream.json" "$U/v1/chat/completions" >"$WORK/c{}.out"'
done_count=$(grep -l '^data: \[DONE\]$' "$WORK"/c*.out | wc -l)
eq "concurrency: 200 streams complete" 200 "$done_count"
eq "concurrency: stats" '{"requests":200,"active_streams":0,"completed":200,"cancelled":0,"dropped":0,"queued":0}' "$(control GET stats)"
eq "concurrency: 200 recorded" 200 "$(control GET requests | jq '[.requests[].seq] | unique | length')"

# ---- --max-recorded ----------------------------------------------------------------------

start "$WORK/small.out" --max-recorded 3 || exit 1
U2=$START_URL
for i in 1 2 3 4 5; do curl -s -o /dev/null --data-binary "{\"n\":$i}" "$U2/v1/chat/completions"; done
eq "--max-recorded: the newest kept" '[[3,4,5],[3,4,5]]' \
  "$(curl -s "$U2/_fake/requests" | jq -c '[[.requests[].seq], [.requests[].json.n]]')"
eq "--max-recorded: since" '[5]' "$(curl -s "$U2/_fake/requests?since=4" | jq -c '[.requests[].seq]')"
eq "--max-recorded: since before the oldest" '[3,4,5]' "$(curl -s "$U2/_fake/requests?since=1" | jq -c '[.requests[].seq]')"
eq "bad argument: exit 2" 2 "$("$BIN" --port nope >/dev/null 2>&1; echo $?)"

# ---- clean exit -------------------------------------------------------------------------------

for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do
  wait "$pid"
  eq "SIGTERM: exit status 0 (pid $pid)" 0 "$?"
done
PIDS=()
# (under a wrapper the tool writes there; its --error-exitcode speaks instead)
if [ -z "$WRAP" ] && [ -s "$WORK/main.out.err" ]; then
  fail "stderr of the fake provider is not empty" "$(head -c 2000 "$WORK/main.out.err")"
fi

ELAPSED=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
if [ "$FAILS" -gt 0 ]; then
  echo "test_fake_provider: $FAILS failed, $PASSES passed (${ELAPSED}s)" >&2
  exit 1
fi
echo "test_fake_provider: all $PASSES checks passed (${ELAPSED}s)"
