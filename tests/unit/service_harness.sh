# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by the packaging script tests (test_service.sh, test_deb.sh): a
# systemd stand-in that runs a unit's command line the way systemd would,
# so the unit is tested where systemd does not run (containers, CI), and
# the notify socket it listens on. Expects WORK (a scratch directory).

# ---- reading a unit ---------------------------------------------------------

# unit_value FILE KEY: the value of KEY= (the last one, as systemd takes it)
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n1; }

# ---- the notify socket --------------------------------------------------------

# notify_listen SOCKET LOG: bind a unix datagram socket at SOCKET, as systemd
# binds the one it names in NOTIFY_SOCKET, and append each datagram to LOG as
# one line (its own newlines as '|'), until one says STOPPING=1. Returns once
# the socket exists; NOTIFY_PID is the listener.
notify_listen() {
  perl -MIO::Socket::UNIX -MSocket -e '
    my ($path, $log) = @ARGV;
    my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
      or die "notify_listen: bind $path: $!\n";
    open(my $out, ">>", $log) or die "notify_listen: $log: $!\n";
    $out->autoflush(1);
    while (defined $s->recv(my $msg, 65536)) {
      $msg =~ s/\n/|/g;
      print $out "$msg\n";
      last if $msg =~ /(^|\|)STOPPING=1(\||$)/;
    }' "$1" "$2" &
  NOTIFY_PID=$!
  for _ in $(seq 1 1000); do # bounded: ~10 s
    [ -S "$1" ] && return 0
    kill -0 "$NOTIFY_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "notify_listen: no socket at $1" >&2
  return 1
}

# wait_notify LOG N: wait until LOG holds N messages while UNIT_PID lives.
# Returns 1 if the service exited first or after ~60 s.
wait_notify() {
  for _ in $(seq 1 6000); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    kill -0 "$UNIT_PID" 2>/dev/null || break
    sleep 0.01
  done
  [ "$(wc -l <"$1")" -ge "$2" ]
}

# notify_wait_end: wait (~10 s at most) for the listener to end on its own,
# at STOPPING=1, then end it: a service that died without STOPPING=1 must
# not hang the test.
notify_wait_end() {
  for _ in $(seq 1 1000); do
    kill -0 "$NOTIFY_PID" 2>/dev/null || break
    sleep 0.01
  done
  kill "$NOTIFY_PID" 2>/dev/null
  wait "$NOTIFY_PID" 2>/dev/null
  NOTIFY_PID=
}

# ---- running a unit as systemd would ---------------------------------------

# start_unit UNIT ROOT [ARG...]: start the unit's ExecStart= the way systemd
# starts it: a clean environment (PATH, STATE_DIRECTORY,
# CONFIGURATION_DIRECTORY, NOTIFY_SOCKET=$WORK/notify.sock) plus the
# variables of EnvironmentFile= (when it exists), StateDirectory= created
# with StateDirectoryMode=, in WorkingDirectory=, with LimitNOFILE= when the
# hard limit allows it. Paths under /etc and /var/lib (in the command line
# and those settings) are taken under ROOT; ROOT empty means the real ones.
# ARGs are appended to the command line. The service's stdout and stderr go
# to $WORK/unit.out and $WORK/unit.err; UNIT_PID is its process (MAINPID).
# The notify socket must be listening (notify_listen) first.
start_unit() {
  local unit=$1 root=$2
  shift 2
  local exec_start envfile wd state statemode nofile
  exec_start=$(unit_value "$unit" ExecStart)
  envfile=$(unit_value "$unit" EnvironmentFile)
  wd=$(unit_value "$unit" WorkingDirectory)
  state=$(unit_value "$unit" StateDirectory)
  statemode=$(unit_value "$unit" StateDirectoryMode)
  nofile=$(unit_value "$unit" LimitNOFILE)
  case $exec_start in
    *[\"\'\\]*) echo "start_unit: quoting in ExecStart is not emulated" >&2; return 1 ;;
  esac
  local -a cmd env
  read -r -a cmd <<<"$exec_start"
  local i
  for i in "${!cmd[@]}"; do
    case ${cmd[i]} in /etc/* | /var/lib/*) cmd[i]=$root${cmd[i]} ;; esac
  done
  cmd+=("$@")
  if [ -n "$state" ]; then
    mkdir -p "$root/var/lib/$state"
    chmod "${statemode:-0755}" "$root/var/lib/$state"
  fi
  env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
       NOTIFY_SOCKET="$WORK/notify.sock")
  [ -n "$state" ] && env+=(STATE_DIRECTORY="$root/var/lib/$state")
  local confdir
  confdir=$(unit_value "$unit" ConfigurationDirectory)
  [ -n "$confdir" ] && env+=(CONFIGURATION_DIRECTORY="$root/etc/$confdir")
  # the sanitizers' settings of a sanitizer build pass through
  local v
  for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    [ -n "${!v:-}" ] && env+=("$v=${!v}")
  done
  # EnvironmentFile=-PATH: '-' means a missing file is fine
  local file=$root${envfile#-} line
  if [ -n "$envfile" ] && [ -f "$file" ]; then
    while IFS= read -r line; do
      case $line in
        [A-Za-z_]*=*)
          v=${line#*=}
          case $v in \"*\") v=${v:1:${#v}-2} ;; esac
          env+=("${line%%=*}=$v") ;;
      esac
    done <"$file"
  fi
  (
    cd "${wd:+$root}${wd:-/}" || exit 127
    [ -n "$nofile" ] && ulimit -n "$nofile" 2>/dev/null
    exec env -i "${env[@]}" "${cmd[@]}"
  ) >"$WORK/unit.out" 2>"$WORK/unit.err" &
  UNIT_PID=$!
}

# reload_unit UNIT: run its ExecReload= with $MAINPID set, as systemctl
# reload does.
reload_unit() {
  local -a cmd
  read -r -a cmd <<<"$(unit_value "$1" ExecReload)"
  local i
  for i in "${!cmd[@]}"; do
    # shellcheck disable=SC2016 # the literal text systemd replaces
    case ${cmd[i]} in '$MAINPID' | '${MAINPID}') cmd[i]=$UNIT_PID ;; esac
  done
  "${cmd[@]}"
}

# listening_port: the port of the service's "listening on" line
listening_port() {
  sed -n 's/^switchboard listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$WORK/unit.out"
}
