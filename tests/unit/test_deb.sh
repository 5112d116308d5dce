#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package, end to end on this machine: build it from this build
# tree (scripts/build-deb), install it with dpkg, run `switchboard
# --version`, start the installed unit's command line as systemd would
# (tests/unit/service_harness.sh: its environment file, state directory and notify
# socket; as root, since DynamicUser= needs systemd), GET /health, stop it,
# then purge the package and check that nothing is left.
#
# It installs a system package, so it runs only as root and only where
# switchboard is not installed already (an operator's install is never
# touched); otherwise it is skipped (exit 77). CI is root on a fresh
# Debian 12.
#
#   bash tests/unit/test_deb.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: test_deb.sh BUILD_DIR}" && pwd)
skip() { echo "test_deb: SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "installs a package: needs root"
for tool in dpkg dpkg-deb dpkg-shlibdeps curl perl; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/install-deps --test)"
done
if dpkg-query -W -f='${Status}' switchboard 2>/dev/null | grep -qv 'not-installed'; then
  skip "a switchboard package is installed here; not touching it"
fi
for p in /etc/switchboard /etc/default/switchboard /var/lib/switchboard /var/lib/private/switchboard \
  /usr/bin/switchboard /usr/lib/systemd/system/switchboard.service; do
  [ -e "$p" ] || [ -L "$p" ] && skip "$p exists; not touching this machine's switchboard"
done

WORK=$(mktemp -d)
UNIT_PID=
NOTIFY_PID=
INSTALLED=no
cleanup() {
  [ -n "$UNIT_PID" ] && kill "$UNIT_PID" 2>/dev/null
  [ -n "$NOTIFY_PID" ] && kill "$NOTIFY_PID" 2>/dev/null
  wait 2>/dev/null
  # whatever happened, the machine is left as it was
  [ "$INSTALLED" = yes ] && dpkg --purge switchboard >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"
# shellcheck source=tests/unit/service_harness.sh
. "$(dirname "$0")/service_harness.sh"

# ---- build ------------------------------------------------------------------

DEB=$(scripts/build-deb "$BUILD" "$WORK" 2>"$WORK/build.err")
if [ ! -f "$DEB" ]; then
  fail "scripts/build-deb" "$(cat "$WORK/build.err")"
  summary test_deb
  exit 1
fi
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
eq "file name" "switchboard_${VERSION}_$(dpkg --print-architecture).deb" "$(basename "$DEB")"
eq "Package, Version" "switchboard $VERSION" "$(dpkg-deb -f "$DEB" Package Version | cut -d' ' -f2 | paste -sd' ')"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for lib in libc6 libuv1 libcurl4 libhttp-parser2.9 libyaml-0-2 libsqlite3-0 libssl3; do
  ok "Depends: $lib" grep -Eq "(^|, )$lib( |,|$)" <<<"$DEPENDS"
done
eq "conffiles" "/etc/default/switchboard /etc/switchboard/switchboard.yaml" \
  "$(dpkg-deb -I "$DEB" conffiles | paste -sd' ')"
dpkg-deb -c "$DEB" >"$WORK/contents"
eq "contents: the binary, the unit, compressed man pages, copyright" 5 "$(grep -c -e ' ./usr/bin/switchboard$' -e ' ./usr/lib/systemd/system/switchboard.service$' \
  -e ' ./usr/share/man/man1/switchboard.1.gz$' -e ' ./usr/share/man/man5/switchboard.yaml.5.gz$' \
  -e ' ./usr/share/doc/switchboard/copyright$' "$WORK/contents")"
ok "contents: owned by root" test "$(awk '$2 != "root/root"' "$WORK/contents" | wc -l)" -eq 0

# ---- install ----------------------------------------------------------------

INSTALLED=yes
if ! dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1; then
  fail "dpkg -i" "$(cat "$WORK/dpkg-i.log")"
  summary test_deb
  exit 1
fi
eq "installed" "install ok installed" "$(dpkg-query -W -f='${Status}' switchboard)"
ok "dpkg --verify: the files are the package's" dpkg --verify switchboard
eq "switchboard --version" "$("$BUILD/switchboard" --version)" "$(switchboard --version)"
ok "the binary on PATH is the package's" test "$(command -v switchboard)" = /usr/bin/switchboard
eq "the environment file: root only" 600 "$(stat -c %a /etc/default/switchboard)"
ok "man pages readable" test "$(zcat /usr/share/man/man1/switchboard.1.gz | mandoc -T utf8 2>/dev/null | wc -l)" -gt 50
ok "the completion loads" bash -c '. /usr/share/bash-completion/completions/switchboard && complete -p switchboard >/dev/null'
UNIT=/usr/lib/systemd/system/switchboard.service
eq "the unit runs /usr/bin/switchboard" "/usr/bin/switchboard serve --config /etc/switchboard/switchboard.yaml" \
  "$(unit_value "$UNIT" ExecStart)"
if command -v deb-systemd-helper >/dev/null; then
  ok "enabled at install (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/switchboard.service
fi
ok "the installed config is valid" switchboard check --config /etc/switchboard/switchboard.yaml >/dev/null 2>&1

# ---- run the installed unit --------------------------------------------------

notify_listen "$WORK/notify.sock" "$WORK/notify.log" || exit 1
# The unit's command line as is, plus --listen on port 0 so that a gateway
# already running on 3456 cannot make this test fail.
start_unit "$UNIT" "" --listen 127.0.0.1:0
if wait_notify "$WORK/notify.log" 1; then
  eq "READY=1" "READY=1" "$(head -n1 "$WORK/notify.log")"
  PORT=$(listening_port)
  eq "GET /health" 200 "$(curl -s -o "$WORK/health" -w '%{http_code}' "http://127.0.0.1:$PORT/health")"
  ok "the ledger in /var/lib/switchboard" test -f /var/lib/switchboard/switchboard.db
  kill -TERM "$UNIT_PID"
  wait "$UNIT_PID"
  eq "SIGTERM: exit status 0" 0 "$?"
  UNIT_PID=
else
  fail "the installed service did not get ready" "$(cat "$WORK/unit.err")"
fi
notify_wait_end

# ---- purge ------------------------------------------------------------------

if dpkg --purge switchboard >"$WORK/purge.log" 2>&1; then pass; else fail "dpkg --purge" "$(cat "$WORK/purge.log")"; fi
INSTALLED=no
eq "purged: unknown to dpkg" "" "$(dpkg-query -W -f='${Status}' switchboard 2>/dev/null | grep -v not-installed)"
LEFT=
for p in /usr/bin/switchboard "$UNIT" /etc/switchboard /etc/default/switchboard /var/lib/switchboard \
  /var/lib/private/switchboard /usr/share/doc/switchboard /usr/share/man/man1/switchboard.1.gz \
  /usr/share/bash-completion/completions/switchboard \
  /etc/systemd/system/multi-user.target.wants/switchboard.service \
  /var/lib/systemd/deb-systemd-helper-enabled/switchboard.service.dsh-also \
  /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/switchboard.service; do
  if [ -e "$p" ] || [ -L "$p" ]; then LEFT="$LEFT $p"; fi
done
eq "purged: nothing left" "" "$LEFT"

summary test_deb
