#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sample template unit of several instances on one host
# (dist/scale-out/switchboard@.service, docs/scale-out.md): the same
# sandbox as the packaged unit, one port per instance, its own state
# directory, and `systemd-analyze verify` when systemd's tools are there.
#
#   bash tests/unit/test_scaleout_unit.sh BUILD_DIR
set -uo pipefail
BUILD=$(cd "${1:?usage: test_scaleout_unit.sh BUILD_DIR}" && pwd)
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"

UNIT=dist/scale-out/switchboard@.service
MAIN=dist/switchboard.service.in
sandbox() { sed -n '/^NoNewPrivileges=/,/^\[Install\]/p' "$1"; }
eq "the template's sandbox is the packaged unit's" "$(sandbox "$MAIN")" "$(sandbox "$UNIT")"
ok "each instance listens on its own port" grep -q -- '--listen 127.0.0.1:%i$' "$UNIT"
ok "each instance has its own state directory" grep -qx 'StateDirectory=switchboard-%i' "$UNIT"
ok "and works in it" grep -qx 'WorkingDirectory=/var/lib/switchboard-%i' "$UNIT"
ok "it waits for the network" grep -qx 'After=network-online.target postgresql.service redis-server.service' "$UNIT"

if command -v systemd-analyze >/dev/null 2>&1; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  sed "s|/usr/bin/switchboard|$BUILD/switchboard|" "$UNIT" >"$WORK/switchboard@.service"
  # the man pages are not installed here: only the unit's own findings count
  out=$(cd "$WORK" && systemd-analyze verify "$WORK/switchboard@3456.service" 2>&1 | grep -v "Command 'man " || true)
  eq "systemd-analyze verify finds nothing" "" "$out"
fi
summary test_scaleout_unit
