#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An https provider, as every real one is (see bench/README.md, "https").
#
# The fake provider behind a TLS terminator (nginx with a private CA made
# here, HTTP/1.1 and HTTP/2 offered, nginx's default keep-alive limits: it
# closes a connection after 1,000 requests), and in front of that, each
# with one worker on the same CPU(s):
#   nginx        a reverse proxy to the TLS upstream (keep-alive pool,
#                session reuse, certificate checked): the reference;
#   switchboard  the same upstream through its native client;
#   curl         the same, with SWITCHBOARD_UPSTREAM_CLIENT=curl;
#   http         switchboard to the fake over plain http (what the other
#                sections measure), for comparison.
# Interleaved runs (RUNS of DURATION s, medians): 1 connection, non-stream
# and stream (8 chunks), to their last byte; 64 connections, non-stream and
# 30-event streams. "added" is a target's number minus the fake's own.
#
# Usage: bench/https.sh BUILD_DIR [OUT.md]   (run.sh calls it; it runs alone too)
# Knobs: RUNS (5), DURATION (5). OUT defaults to bench/results/https.md.
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPORT=${2:-$HERE/results/https.md}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
WORK=$(mktemp -d)
command -v openssl >/dev/null || { echo "https.sh: the openssl command is missing" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
bench_require https.sh switchboard fake_provider loadgen

# ---- certificates: a private CA and a server certificate for localhost -----------
T=$WORK/tls
mkdir -p "$T"
ossl() { openssl "$@" >/dev/null 2>&1 || { say "openssl $1 failed"; exit 1; }; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" \
  -out "$T/ca.pem" -days 2 -subj "/CN=switchboard bench CA"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/srv.key" \
  -out "$T/srv.csr" -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/srv.ext"
ossl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/srv.ext" -out "$T/srv.pem"

# ---- servers ------------------------------------------------------------------------
start_fake

# The TLS upstream: nginx's defaults for its clients (keepalive_requests
# 1000, keepalive_timeout 75s), a session cache and tickets.
TLS_PORT=$(free_port) || { say "no free port"; exit 1; }
mkdir -p "$WORK/front"
cat >"$WORK/front/nginx.conf" <<CFG
$(nginx_preamble "$WORK/front")
http {
  access_log off;
$(nginx_temp_paths "$WORK/front")
  upstream fake { server 127.0.0.1:$FAKE_PORT; keepalive 1024; keepalive_requests 10000000; }
  ssl_session_cache shared:bench:10m;
  server {
    listen 127.0.0.1:$TLS_PORT ssl http2 backlog=4096;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    location / {
$(nginx_pass http://fake)
    }
  }
}
CFG
start_nginx "$WORK/front" "$TLS_PORT"
UPSTREAM="https://localhost:$TLS_PORT"

# nginx as the gateway: a proxy to the TLS upstream.
NGX_PORT=$(free_port) || { say "no free port"; exit 1; }
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CFG
$(nginx_preamble "$WORK/nginx")
http {
  access_log off;
$(nginx_temp_paths "$WORK/nginx")
  keepalive_requests 10000000;
  upstream tls { server 127.0.0.1:$TLS_PORT; keepalive 1024; }
  server {
    listen 127.0.0.1:$NGX_PORT backlog=4096;
    location / {
$(nginx_pass https://tls)
      proxy_ssl_server_name on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $T/ca.pem;
    }
  }
}
CFG
start_nginx "$WORK/nginx" "$NGX_PORT"

# switchboard, natively and through curl: provider `openai` is the TLS
# upstream, provider `plain` the fake over http.
cat >"$WORK/sb.yaml" <<CFG
listen: 127.0.0.1:0
workers: 1
database: sqlite:$WORK/sb.db
log: { access: false }
providers:
  openai: { format: openai, base_url: "$UPSTREAM/v1", api_key: bench, tls: { ca_file: "$T/ca.pem" } }
  plain: { format: openai, base_url: "http://127.0.0.1:$FAKE_PORT/v1", api_key: bench }
CFG
sed "s#sqlite:$WORK/sb.db#sqlite:$WORK/sb-curl.db#" "$WORK/sb.yaml" >"$WORK/sb-curl.yaml"
start_switchboard_with "$WORK/sb.yaml" "$WORK/sb.out" ||
  { say "switchboard did not start:"; cat "$WORK/sb.out" >&2; exit 1; }
SB_PORT=$SB_STARTED_PORT
start_switchboard_with "$WORK/sb-curl.yaml" "$WORK/sb-curl.out" SWITCHBOARD_UPSTREAM_CLIENT=curl ||
  { say "switchboard (curl) did not start:"; cat "$WORK/sb-curl.out" >&2; exit 1; }
SBC_PORT=$SB_STARTED_PORT
say "https: fake :$FAKE_PORT, TLS upstream :$TLS_PORT, nginx :$NGX_PORT, switchboard :$SB_PORT (curl :$SBC_PORT)"

TARGETS=(direct nginx switchboard curl http)
declare -A URL MODEL LABEL
URL[direct]="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"; MODEL[direct]=gpt-4o-mini
URL[nginx]="http://127.0.0.1:$NGX_PORT/v1/chat/completions"; MODEL[nginx]=gpt-4o-mini
URL[switchboard]="http://127.0.0.1:$SB_PORT/v1/chat/completions"; MODEL[switchboard]=openai/gpt-4o-mini
URL[curl]="http://127.0.0.1:$SBC_PORT/v1/chat/completions"; MODEL[curl]=openai/gpt-4o-mini
URL[http]="http://127.0.0.1:$SB_PORT/v1/chat/completions"; MODEL[http]=plain/gpt-4o-mini
LABEL[direct]="fake provider (http, no hop)"
LABEL[nginx]="nginx → https upstream"
LABEL[switchboard]="switchboard → https upstream (native)"
LABEL[curl]="switchboard → https upstream (libcurl)"
LABEL[http]="switchboard → http upstream (native)"
for t in "${TARGETS[@]}"; do
  for s in false true; do
    printf '{"model":"%s","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about gateways."}],"temperature":0.2,"max_tokens":64,"stream":%s}' \
      "${MODEL[$t]}" "$s" >"$WORK/body-$t-$s.json"
  done
  # every target answers before it is measured
  code=$(curl -s -o "$WORK/probe.txt" -w '%{http_code}' -H 'Authorization: Bearer bench' \
    --data-binary @"$WORK/body-$t-false.json" "${URL[$t]}" || true)
  [ "$code" = 200 ] || { say "https: the probe through $t failed (HTTP $code)"; cat "$WORK/probe.txt" >&2; exit 1; }
done

# measure label stream(true|false) loadgen-args...: RUNS interleaved runs
# per target; lines in $WORK/res-LABEL-TARGET
measure() {
  local label=$1 stream=$2
  shift 2
  for t in "${TARGETS[@]}"; do : >"$WORK/res-$label-$t"; done
  for i in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      loadgen "https $label/$t" --url "${URL[$t]}" --body "$WORK/body-$t-$stream.json" \
        -H "Authorization: Bearer bench" "$@"
      echo "$LINE" >>"$WORK/res-$label-$t"
      say "https $label $t run $i/$RUNS: p50 $(kv "$LINE" lat_p50_us) us, p99 $(kv "$LINE" lat_p99_us) us, max $(kv "$LINE" lat_max_us) us, $(kv "$LINE" rps) req/s"
    done
  done
}
M() { med "$WORK/res-$1-$2" "$3"; }                                      # label target key -> median
MAX() { while IFS= read -r l; do kv "$l" "$3"; done <"$WORK/res-$1-$2" | maximum; } # ... -> highest
SUM() { while IFS= read -r l; do kv "$l" "$3"; done <"$WORK/res-$1-$2" | awk '{ s += $1 } END { print s + 0 }'; }

FAST='{"content":"Gateways route requests between clients and model providers.","times":-1}'
words=$(for i in $(seq 1 28); do printf 'tok%d ' "$i"; done)
THIRTY="{\"content\":\"${words% }\",\"times\":-1}" # 28 content chunks + role and finish: 30 events

fake_default "$FAST"
say "https 1/3: 1 connection, non-stream and stream"
measure lat-plain false --conns 1 --duration "$DURATION" --warmup 0.5
measure lat-stream true --conns 1 --duration "$DURATION" --warmup 0.5
say "https 2/3: 64 connections, non-stream"
measure tput-plain false --conns 64 --duration "$DURATION" --warmup 0.5
fake_default "$THIRTY"
say "https 3/3: 64 connections, 30-event streams"
measure tput-stream true --conns 64 --duration "$DURATION" --warmup 0.5

# ---- report ---------------------------------------------------------------------------
{
  echo "## https providers"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), loadgen on CPU $LG_CPU, servers on CPU $SRV_CPUS; median of $RUNS runs of ${DURATION}s."
  echo "The upstream: the fake provider behind nginx as TLS terminator (private CA, ECDSA P-256, HTTP/1.1 and HTTP/2 offered, nginx's default limit of 1,000 requests per connection)."
  echo "Times in µs; *added* = the target's number minus the fake provider's own over plain http."
  echo
  echo "### 1 connection"
  echo
  echo "| target | non-stream p50 | p99 | added p50 | added p99 | stream p50 | p99 | added p50 | added p99 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    row="| ${LABEL[$t]} "
    for l in lat-plain lat-stream; do
      p50=$(M "$l" "$t" lat_p50_us) p99=$(M "$l" "$t" lat_p99_us)
      d50=$(M "$l" direct lat_p50_us) d99=$(M "$l" direct lat_p99_us)
      row+="| $(f1 "$p50") | $(f1 "$p99") | $(f1 "$(calc "$p50 - $d50")") | $(f1 "$(calc "$p99 - $d99")") "
    done
    echo "$row|"
  done
  echo
  echo "### 64 connections"
  echo
  echo "| target | non-stream req/s | /nginx | p99 | max | 30-event streams req/s | /nginx | p99 | max | errors + non-2xx |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for t in "${TARGETS[@]}"; do
    row="| ${LABEL[$t]} "
    fails=0
    for l in tput-plain tput-stream; do
      rps=$(M "$l" "$t" rps)
      row+="| $(f0 "$rps") | $(ratio "$rps" "$(M "$l" nginx rps)") | $(f1 "$(M "$l" "$t" lat_p99_us)") | $(f1 "$(MAX "$l" "$t" lat_max_us)") "
      fails=$((fails + $(SUM "$l" "$t" errors) + $(SUM "$l" "$t" non2xx)))
    done
    echo "$row| $fails |"
  done
  echo
  # the targets, for the native client against nginx
  for l in lat-plain:non-stream lat-stream:stream; do
    lab=${l%%:*} name=${l#*:}
    s99=$(M "$lab" switchboard lat_p99_us) n99=$(M "$lab" nginx lat_p99_us)
    target "https, 1 conn, $name: p99 ≤ 2× nginx's" "$(f1 "$s99") µs vs nginx $(f1 "$n99") µs" "≤ $(calc "2 * $n99" 1) µs" "$(passfail "$s99 <= 2 * $n99")"
  done
  for l in tput-plain:non-stream tput-stream:"30-event streams"; do
    lab=${l%%:*} name=${l#*:}
    w=$(M "$lab" switchboard rps) n=$(M "$lab" nginx rps)
    target "https, 64 conns, $name: throughput ≥ 0.9× nginx's" "$(f0 "$w") req/s ($(ratio "$w" "$n")×)" "≥ $(calc "0.9 * $n" 0) req/s" "$(passfail "$w >= 0.9 * $n")"
    mx=$(MAX "$lab" switchboard lat_max_us)
    target "https, 64 conns, $name: no request over 100 ms" "max $(f1 "$mx") µs" "≤ 100000 µs" "$(passfail "$mx <= 100000")"
  done
  fails=0
  for l in lat-plain lat-stream tput-plain tput-stream; do
    fails=$((fails + $(SUM "$l" switchboard errors) + $(SUM "$l" switchboard non2xx)))
  done
  target "https: zero failures (errors + non-2xx, every run)" "$fails" "0" "$(passfail "$fails == 0")"
  echo "### Targets (native client)"
  echo
  echo "| target | measured | limit | result |"
  echo "|---|---|---|---|"
  printf '%s\n' "${TARGET_ROWS[@]}"
  if [ "${#NOTES[@]}" -gt 0 ]; then
    echo
    echo "Errors seen:"
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
  fi
} >"$REPORT"
say "https: wrote $REPORT"
