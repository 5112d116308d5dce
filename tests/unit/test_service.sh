#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The systemd unit (dist/switchboard.service.in) with the sample config and
# environment file (dist/), run as systemd would run them, without systemd
# (tests/unit/service_harness.sh): the hardening the unit promises, READY=1 on the
# notify socket only once the port accepts, the environment file feeding
# the config, the ledger in the state directory, ExecReload (SIGHUP)
# reading the config again without stopping the service, and SIGTERM
# ending it cleanly with STOPPING=1.
# `systemd-analyze verify` checks the unit when systemd's tools are there.
#
#   bash tests/unit/test_service.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: test_service.sh BUILD_DIR}" && pwd)
BIN=$BUILD/switchboard
for tool in curl perl; do
  command -v "$tool" >/dev/null || { echo "test_service: $tool is required" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "test_service: no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d)
UNIT_PID=
NOTIFY_PID=
cleanup() {
  [ -n "$UNIT_PID" ] && kill "$UNIT_PID" 2>/dev/null
  [ -n "$NOTIFY_PID" ] && kill "$NOTIFY_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"
# shellcheck source=tests/unit/service_harness.sh
. "$(dirname "$0")/service_harness.sh"

# ---- the unit's promises ----------------------------------------------------

TEMPLATE=dist/switchboard.service.in
# shellcheck disable=SC2016 # $MAINPID is the unit's text, not ours
for setting in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' \
  'ExecStart=@BINDIR@/switchboard serve --config /etc/switchboard/switchboard.yaml' \
  EnvironmentFile=-/etc/default/switchboard DynamicUser=yes \
  ConfigurationDirectory=switchboard StateDirectory=switchboard \
  WorkingDirectory=/var/lib/switchboard LimitNOFILE=65536 LimitNICE=+0 \
  NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
  PrivateDevices=yes CapabilityBoundingSet= \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  'SystemCallFilter=~@privileged' WantedBy=multi-user.target; do
  eq "unit: $setting" "${setting#*=}" "$(unit_value "$TEMPLATE" "${setting%%=*}")"
done
eq "unit: stopped with SIGTERM (KillSignal not changed)" "" "$(unit_value "$TEMPLATE" KillSignal)"
# a stop waits for the drain: TimeoutStopSec beyond the config's grace
GRACE_MS=$(sed -n 's/^shutdown_grace_ms: *\([0-9]*\).*/\1/p' dist/switchboard.yaml)
STOP_S=$(unit_value "$TEMPLATE" TimeoutStopSec)
ok "unit: TimeoutStopSec ($STOP_S s) > shutdown_grace_ms ($GRACE_MS ms)" \
  test "$((STOP_S * 1000))" -gt "$GRACE_MS"
eq "sample config: the ledger in the StateDirectory" \
  "database: sqlite:/var/lib/switchboard/switchboard.db" "$(grep '^database:' dist/switchboard.yaml)"

# ---- the unit as installed for this build, under a scratch root -------------

ROOT=$WORK/root
UNIT=$WORK/switchboard.service
sed "s|@BINDIR@|$BUILD|" "$TEMPLATE" >"$UNIT"
mkdir -p "$ROOT/etc/switchboard" "$ROOT/etc/default"
# the sample config, its paths under ROOT; on port 0 so that it never
# collides with a gateway already running here
sed -e "s|/var/lib/switchboard|$ROOT/var/lib/switchboard|" \
  -e 's|^listen: .*|listen: 127.0.0.1:0|' dist/switchboard.yaml >"$ROOT/etc/switchboard/switchboard.yaml"
{
  cat dist/switchboard.default
  echo 'SWITCHBOARD_ADMIN_KEY=sb-test-admin'
  echo 'OPENAI_API_KEY="sk-test-from-env-file"'
} >"$ROOT/etc/default/switchboard"

if command -v systemd-analyze >/dev/null; then
  ok "systemd-analyze verify" systemd-analyze verify --man=no "$UNIT"
fi

notify_listen "$WORK/notify.sock" "$WORK/notify.log" || exit 1
start_unit "$UNIT" "$ROOT"
if ! wait_notify "$WORK/notify.log" 1; then
  fail "READY=1 on the notify socket" "$(cat "$WORK/unit.err")"
  summary test_service
  exit 1
fi
eq "first message" "READY=1" "$(head -n1 "$WORK/notify.log")"
# READY=1 came after the listening line, and the port accepts at once (no retry)
PORT=$(listening_port)
ok "the listening line preceded READY=1" test -n "$PORT"
U=http://127.0.0.1:$PORT
eq "/health right after READY=1" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")"

# the environment file reached the config's ${VAR}s
eq "admin key from the environment file: no key, 401" 401 \
  "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/models")"
eq "admin key from the environment file: with it, 200" 200 \
  "$(curl -s -o "$WORK/models.json" -w '%{http_code}' -H 'Authorization: Bearer sb-test-admin' "$U/v1/models")"
ok "OPENAI_API_KEY from the environment file: openai models routable" \
  grep -q '"openai/' "$WORK/models.json"
ok "the ledger in the state directory" test -f "$ROOT/var/lib/switchboard/switchboard.db"
eq "state directory mode (StateDirectoryMode)" 750 "$(stat -c %a "$ROOT/var/lib/switchboard")"

# ExecReload: SIGHUP does not stop the service; RELOADING=1, then READY=1
ok "ExecReload runs" reload_unit "$UNIT"
wait_notify "$WORK/notify.log" 3
eq "reload: RELOADING=1 then READY=1" "READY=1 RELOADING=1 READY=1" "$(paste -sd' ' "$WORK/notify.log")"
ok "reload: still running" kill -0 "$UNIT_PID"
eq "reload: still serving" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")"
ok "reload: the config file read again" grep -q 'configuration reloaded from .*etc/switchboard/switchboard.yaml' "$WORK/unit.err"

# stop: SIGTERM, STOPPING=1, a clean exit
kill -TERM "$UNIT_PID"
wait "$UNIT_PID"
eq "SIGTERM: exit status 0" 0 "$?"
UNIT_PID=
notify_wait_end
eq "notify messages, in order" "READY=1 RELOADING=1 READY=1 STOPPING=1" "$(paste -sd' ' "$WORK/notify.log")"
ok "SIGTERM: logged" grep -q 'SIGTERM: shutting down' "$WORK/unit.err"

summary test_service
