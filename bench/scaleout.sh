#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The scale-out step of `make bench` (not a test; docs/scale-out.md):
# two instances on Postgres + Redis against one on SQLite, all in front of
# the fake provider, with a client key that has a credit limit (so every
# admission goes to Redis when it is configured). It measures
#   - the added p50 at 1 connection (the Redis round trip of admission;
#     settlement does not wait for Redis), instance on Postgres + Redis
#     against the same instance on SQLite alone;
#   - throughput at 64 connections: one SQLite instance, and two instances
#     sharing Postgres + Redis (32 connections each);
#   - ledger rows per second into Postgres (bench/ledger_bench).
# Postgres and Redis are Debian's, started privately (scripts/scaleout-servers).
# Prints a markdown section on stdout.
#
# Usage: bench/scaleout.sh BUILD_DIR
# Knobs: RUNS (3), DURATION (s per run, 5), ROWS (100000, per ledger run).
set -euo pipefail
BUILD=$(cd "${1:-build-test}" && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
ROWS=${ROWS:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
bench_require scaleout.sh switchboard fake_provider loadgen ledger_bench
# its own directory: Postgres (as root, the postgres user) must reach it
SERVERS=$(mktemp -d /tmp/sb-bench-servers.XXXXXX)
stop_all() {
  "$ROOT/scripts/scaleout-servers" stop "$SERVERS" >/dev/null 2>&1 || true
  rm -rf "$SERVERS"
  cleanup
}
trap stop_all EXIT

start_fake
read -r PG REDIS < <("$ROOT/scripts/scaleout-servers" start "$SERVERS" "$(free_port)" "$(free_port)")
DB=$("$ROOT/scripts/scaleout-servers" createdb "$SERVERS" bench)
ADMIN=sk-bench-admin

config() { # file database [redis]
  {
    echo "listen: 127.0.0.1:0"
    echo "workers: 1"
    echo "admin_key: $ADMIN"
    echo "database: \"$2\""
    [ -n "${3:-}" ] && echo "redis: \"$3\""
    echo "providers: { openai: { format: openai, base_url: \"http://127.0.0.1:$FAKE_PORT/v1\", api_key: x, retry: { attempts: 0 } } }"
  } >"$1"
}
new_key() { # port -> the secret of a key with a credit limit
  curl -sf -H "authorization: Bearer $ADMIN" -d '{"name":"bench","limit":1000000}' \
    "http://127.0.0.1:$1/api/v1/keys" | sed -n 's/.*"key":"\(sk-sb-v1-[0-9a-f]*\)".*/\1/p'
}

mkdir -p "$WORK/a" "$WORK/b" # each shared instance's own files
config "$WORK/sqlite.yaml" "sqlite:$WORK/ledger.db"
config "$WORK/shared.yaml" "$DB" "$REDIS"
start_switchboard_with "$WORK/sqlite.yaml" "$WORK/sqlite.log" || { say "switchboard (SQLite) did not start"; exit 1; }
SQ_PORT=$SB_STARTED_PORT
start_switchboard_with "$WORK/shared.yaml" "$WORK/a.log" STATE_DIRECTORY="$WORK/a" || { say "instance A did not start"; cat "$WORK/a.log" >&2; exit 1; }
A_PORT=$SB_STARTED_PORT
start_switchboard_with "$WORK/shared.yaml" "$WORK/b.log" STATE_DIRECTORY="$WORK/b" || { say "instance B did not start"; cat "$WORK/b.log" >&2; exit 1; }
B_PORT=$SB_STARTED_PORT
SQ_KEY=$(new_key "$SQ_PORT")
SH_KEY=$(new_key "$A_PORT")
[ -n "$SQ_KEY" ] && [ -n "$SH_KEY" ] || { say "could not create the keys"; exit 1; }
# the shared key is admitted through Redis once it is rebuilt and ready
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $SH_KEY" \
    -d '{"model":"openai/gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' \
    "http://127.0.0.1:$B_PORT/v1/chat/completions")
  [ "$code" = 200 ] && break
  sleep 0.1
done
[ "$code" = 200 ] || { say "the shared key is not admitted ($code)"; exit 1; }
echo '{"model":"openai/gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"Say hello"}]}' >"$WORK/body.json"
say "fake :$FAKE_PORT, SQLite instance :$SQ_PORT, shared instances :$A_PORT :$B_PORT ($PG, $REDIS)"

run_lg() { # label port key conns -> LINE
  loadgen "$1" --url "http://127.0.0.1:$2/v1/chat/completions" --body "$WORK/body.json" \
    -H "Authorization: Bearer $3" --conns "$4" --duration "$DURATION" --warmup 1
}

# ---- 1 connection: p50 -------------------------------------------------------------
# Also a key with neither a limit nor a rate on the shared instance: no
# admission in Redis, only the settlement (sent after the answer), to
# tell the two apart.
NL_KEY=$(curl -sf -H "authorization: Bearer $ADMIN" -d '{"name":"bench-unlimited"}' \
  "http://127.0.0.1:$A_PORT/api/v1/keys" | sed -n 's/.*"key":"\(sk-sb-v1-[0-9a-f]*\)".*/\1/p')
[ -n "$NL_KEY" ] || { say "could not create the key without a limit"; exit 1; }
redis_info() { "$ROOT/scripts/scaleout-servers" redis-cli "$SERVERS" info "$1"; }
# Redis's CPU (user + system, s) and its EVALSHA calls and µs so far
redis_cpu() { redis_info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
redis_evalsha() { redis_info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2/p'; }
: >"$WORK/p50-sqlite" ; : >"$WORK/p50-shared"; : >"$WORK/p50-unlimited"
REDIS_S=0; EVAL_CALLS=0; EVAL_US=0
for r in $(seq 1 "$RUNS"); do
  run_lg "sqlite 1 conn" "$SQ_PORT" "$SQ_KEY" 1; echo "$LINE" >>"$WORK/p50-sqlite"
  cpu0=$(redis_cpu); read -r calls0 us0 < <(redis_evalsha)
  run_lg "shared 1 conn" "$A_PORT" "$SH_KEY" 1; echo "$LINE" >>"$WORK/p50-shared"
  cpu1=$(redis_cpu); read -r calls1 us1 < <(redis_evalsha)
  REDIS_S=$(calc "$REDIS_S + $cpu1 - $cpu0" 6); EVAL_CALLS=$((EVAL_CALLS + calls1 - calls0)); EVAL_US=$((EVAL_US + us1 - us0))
  run_lg "shared 1 conn, no limit" "$A_PORT" "$NL_KEY" 1; echo "$LINE" >>"$WORK/p50-unlimited"
  say "1 conn run $r: SQLite p50 $(kv "$(tail -1 "$WORK/p50-sqlite")" lat_p50_us) µs, Postgres + Redis p50 $(kv "$(tail -1 "$WORK/p50-shared")" lat_p50_us) µs, without a limit $(kv "$LINE" lat_p50_us) µs"
done
SQ50=$(med "$WORK/p50-sqlite" lat_p50_us); SH50=$(med "$WORK/p50-shared" lat_p50_us)
SQ99=$(med "$WORK/p50-sqlite" lat_p99_us); SH99=$(med "$WORK/p50-shared" lat_p99_us)
NL50=$(med "$WORK/p50-unlimited" lat_p50_us); NL99=$(med "$WORK/p50-unlimited" lat_p99_us)
ADDED=$(calc "$SH50 - $SQ50")
# each request of the limited key runs two scripts (admission, settlement)
REDIS_REQ=$((EVAL_CALLS / 2))
REDIS_CPU_US=$(calc "$REDIS_S * 1000000 / ($REDIS_REQ > 0 ? $REDIS_REQ : 1)")
EVAL_PER_CALL=$(calc "$EVAL_US / ($EVAL_CALLS > 0 ? $EVAL_CALLS : 1)")

# ---- 64 connections: throughput ------------------------------------------------------
: >"$WORK/rps-sqlite"; : >"$WORK/rps-shared"
for r in $(seq 1 "$RUNS"); do
  run_lg "sqlite 64 conns" "$SQ_PORT" "$SQ_KEY" 64; kv "$LINE" rps >>"$WORK/rps-sqlite"
  # both instances at once, 32 connections each
  "${PIN_LG[@]}" "$LOADGEN" --url "http://127.0.0.1:$A_PORT/v1/chat/completions" --body "$WORK/body.json" \
    -H "Authorization: Bearer $SH_KEY" --conns 32 --duration "$DURATION" --warmup 1 >"$WORK/a.lg" 2>"$WORK/a.err" &
  lga=$!
  "${PIN_LG[@]}" "$LOADGEN" --url "http://127.0.0.1:$B_PORT/v1/chat/completions" --body "$WORK/body.json" \
    -H "Authorization: Bearer $SH_KEY" --conns 32 --duration "$DURATION" --warmup 1 >"$WORK/b.lg" 2>"$WORK/b.err"
  wait "$lga"
  for f in a b; do
    l=$(cat "$WORK/$f.lg")
    [ "$(kv "$l" errors)" = 0 ] && [ "$(kv "$l" non2xx)" = 0 ] ||
      NOTES+=("shared 64 conns, instance $f: $(kv "$l" errors) errors, $(kv "$l" non2xx) non-2xx")
  done
  calc "$(kv "$(cat "$WORK/a.lg")" rps) + $(kv "$(cat "$WORK/b.lg")" rps)" >>"$WORK/rps-shared"
  echo >>"$WORK/rps-shared"
  say "64 conns run $r: SQLite $(tail -1 "$WORK/rps-sqlite") req/s, two shared instances $(tail -1 "$WORK/rps-shared") req/s"
done
SQRPS=$(median <"$WORK/rps-sqlite"); SHRPS=$(grep -v '^$' "$WORK/rps-shared" | median)

# ---- rows into Postgres --------------------------------------------------------------
ROWS_DB=$("$ROOT/scripts/scaleout-servers" createdb "$SERVERS" rows)
ROWLINE=$("${PIN_SRV[@]}" "$BUILD/ledger_bench" "$ROWS" "$ROWS_DB" 2>"$WORK/rows.err") ||
  { say "ledger_bench failed"; cat "$WORK/rows.err" >&2; exit 1; }
RPS_ROWS=$(sed -n 's/.*: \([0-9]*\) rows\/s.*/\1/p' <<<"$ROWLINE")

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<MD
## Scale-out: two instances on Postgres + Redis

$(date -u +%Y-%m-%d), $(nproc) CPUs, load average $LOAD; Postgres $("$ROOT/scripts/scaleout-servers" psql "$SERVERS" "show server_version" 2>/dev/null | head -1 || echo "?"), Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'); medians of $RUNS runs of $DURATION s, a client key with a credit limit, the fake provider answering at once.

| measure | SQLite, one instance | Postgres + Redis | target |
|---|---|---|---|
| p50 at 1 connection | $(f1 "$SQ50") µs | $(f1 "$SH50") µs (added $(f1 "$ADDED") µs) | added ≤ 40 µs: $(passfail "$ADDED <= 40") |
| p99 at 1 connection | $(f1 "$SQ99") µs | $(f1 "$SH99") µs | |
| p50 / p99 at 1 connection, a key without a limit (settlement only) | | $(f1 "$NL50") / $(f1 "$NL99") µs | |
| Redis's CPU per request at 1 connection (user + system) | | $(f1 "$REDIS_CPU_US") µs (of which running the two scripts $(f1 "$(calc "$EVAL_PER_CALL * 2")") µs) | |
| requests/s at 64 connections | $(f0 "$SQRPS") | $(f0 "$SHRPS") (two instances, 32 each) | |
| ledger rows/s into Postgres | | $RPS_ROWS | ≥ 20,000: $(passfail "${RPS_ROWS:-0} >= 20000") |
MD
if [ "${#NOTES[@]}" -gt 0 ]; then
  echo
  for n in "${NOTES[@]}"; do echo "- $n"; done
fi
