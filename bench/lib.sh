# SPDX-License-Identifier: MIT
# Shared by the benchmark scripts (run.sh, https.sh, gemini.sh, ops.sh,
# scaleout.sh); sourced, not run.
# Before sourcing: BUILD (the build dir) and WORK (a temp dir, removed at
# exit with everything in PIDS stopped). It defines the CPU pinning
# (PIN_LG for the load generator, PIN_SRV for the servers), starting the
# fake provider, nginx and switchboard, the loadgen wrapper, and the
# helpers that read loadgen's key=value lines and format the tables.

LOADGEN="$BUILD/loadgen"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || { echo "bench: nginx is missing (scripts/install-deps --bench)" >&2; exit 2; }

# A script's arguments: RUNS and DURATION (when set) whole numbers, and
# the binaries it names built in BUILD; otherwise a message and exit 2.
bench_require() { # script-name binary...
  local name=$1 n bin
  shift
  for n in RUNS DURATION; do
    [ -n "${!n+x}" ] || continue
    case "${!n}" in '' | *[!0-9]*) echo "$name: $n must be a whole number" >&2; exit 2 ;; esac
  done
  for bin in "$@"; do
    [ -x "$BUILD/$bin" ] || { echo "$name: $BUILD/$bin is missing (build first)" >&2; exit 2; }
  done
}

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- limits and CPUs ------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
cpus=$(nproc)
if [ "$cpus" -ge 2 ]; then
  LG_CPU=$((cpus - 1)); SRV_CPUS="0-$((cpus - 2))"
  [ "$cpus" = 2 ] && SRV_CPUS=0
else
  LG_CPU=0; SRV_CPUS=0
fi
PIN_LG=(taskset -c "$LG_CPU")
PIN_SRV=(taskset -c "$SRV_CPUS")

# ---- helpers ----------------------------------------------------------------------
wait_line() { # file pattern -> prints the first match
  for _ in $(seq 1 200); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -m1 -o "$2" "$1"; return 0; fi
    sleep 0.05
  done
  say "timed out waiting for '$2' in $1"; cat "$1" >&2; return 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; } # port -> 0 when something accepts
free_port() { # a free port below the ephemeral range
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 10000))
    if ! listening "$p"; then echo "$p"; return 0; fi
  done
  return 1
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU time a process has used, user and system, in clock ticks: "U S"
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }
CLK_TCK=$(getconf CLK_TCK)
kv() { # line key -> value ("" when absent)
  awk -v k="$2" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' <<<"$1"
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maximum() { sort -g | tail -n1; }
med() { # file key -> median of key over the lines
  local f=$1 k=$2
  while IFS= read -r l; do kv "$l" "$k"; done <"$f" | median
}
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
fake_default() { # scenario JSON
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$FAKE_PORT/_fake/default" -d "$1" ||
    { say "the fake provider refused scenario $1"; exit 1; }
}

NOTES=()
LINE=""
loadgen() { # label args... -> sets LINE to the result line (not in a subshell: NOTES must stick)
  local label=$1
  shift
  if ! LINE=$("${PIN_LG[@]}" "$LOADGEN" "$@" 2>"$WORK/loadgen.err"); then
    say "$label: loadgen failed"; cat "$WORK/loadgen.err" >&2; exit 1
  fi
  local e n
  e=$(kv "$LINE" errors); n=$(kv "$LINE" non2xx)
  if [ "${e:-0}" != 0 ] || [ "${n:-0}" != 0 ]; then
    NOTES+=("$label: $e errors, $n non-2xx responses")
    say "$label: $e errors, $n non-2xx responses"
  fi
}

# Formatting for the report.
f1() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.1f", v }'; }
f0() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b <= 0) print "-"; else printf "%.2f", a / b }'; }
passfail() { if awk "BEGIN { exit !($1) }"; then echo "**pass**"; else echo "**FAIL**"; fi; }
TARGET_ROWS=()
target() { TARGET_ROWS+=("| $1 | $2 | $3 | $4 |"); }

# ---- servers ------------------------------------------------------------------------
start_fake() { # -> FAKE_PID, FAKE_PORT
  "${PIN_SRV[@]}" "$BUILD/fake_provider" --port 0 --max-recorded 16 --max-recorded-mb 8 >"$WORK/fake.out" 2>&1 &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  FAKE_PORT=$(wait_line "$WORK/fake.out" 'listening on 127.0.0.1:[0-9]*' | sed 's/.*://')
}

# What every nginx configuration of the bench starts with (`user` when
# root, the temp paths of the modules this build has), for the top level
# and the http block.
nginx_preamble() { # dir -> prints the top-level lines
  [ "$(id -u)" = 0 ] && echo "user root root;"
  echo "worker_processes 1;"
  echo "worker_rlimit_nofile $NOFILE;"
  echo "pid $1/nginx.pid;"
  echo "error_log $1/logs/error.log warn;"
  echo "events { worker_connections $((NOFILE - 50)); }"
}
nginx_temp_paths() { # dir -> prints the http-level temp path lines
  local m
  for m in client_body proxy fastcgi uwsgi scgi; do
    if [ "$m" = client_body ] || [ "$m" = proxy ] || ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
      echo "  ${m}_temp_path $1/${m}_temp;"
    fi
  done
}
nginx_pass() { # upstream URL -> the lines of a location that proxies to it: keep-alive, unbuffered
  echo "      proxy_pass $1;"
  echo "      proxy_http_version 1.1;"
  echo "      proxy_set_header Connection \"\";"
  echo "      proxy_buffering off;"
  echo "      proxy_request_buffering off;"
}
start_nginx() { # dir port -> NGX_STARTED (master pid), NGX_STARTED_WORKER; dir/nginx.conf written
  local dir=$1 port=$2 pid worker=""
  mkdir -p "$dir/logs"
  "${PIN_SRV[@]}" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
    -g 'daemon off;' >"$dir/nginx.out" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    listening "$port" && break
    kill -0 "$pid" 2>/dev/null || { say "nginx did not start:"; cat "$dir/nginx.out" "$dir/logs/error.log" >&2; exit 1; }
    sleep 0.05
  done
  for _ in $(seq 1 50); do
    worker=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{ print $1 }' || true)
    if [ -z "$worker" ]; then # kernels without the children file
      for st in /proc/[0-9]*/stat; do
        read -r wpid _ _ ppid _ <"$st" 2>/dev/null || continue
        if [ "$ppid" = "$pid" ]; then worker=$wpid; break; fi
      done
    fi
    [ -n "$worker" ] && break
    sleep 0.05
  done
  [ -n "$worker" ] || { say "nginx has no worker process"; exit 1; }
  NGX_STARTED=$pid NGX_STARTED_WORKER=$worker
}

# switchboard with 1 worker and the config file `conf`, in the environment
# `env...` (NAME=value words): -> SB_STARTED (pid), SB_STARTED_PORT.
start_switchboard_with() { # conf log env...
  local conf=$1 log=$2 pid
  shift 2
  : >"$log"
  env SWITCHBOARD_LOG=warn "$@" "${PIN_SRV[@]}" "$BUILD/switchboard" serve --config "$conf" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    if grep -q 'listening on http://127.0.0.1:[0-9]*' "$log"; then
      SB_STARTED_PORT=$(grep -m1 -o 'listening on http://127.0.0.1:[0-9]*' "$log" | sed 's/.*://')
      SB_STARTED=$pid
      PIDS+=("$pid")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  return 1
}
