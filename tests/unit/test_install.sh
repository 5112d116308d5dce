#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install` and `make uninstall` with PREFIX and DESTDIR, for this
# build tree: the exact files and modes, the unit naming the installed
# binary, the files in /etc installed only where absent and kept by
# uninstall once edited, and nothing left behind otherwise.
#
#   bash tests/unit/test_install.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: test_install.sh BUILD_DIR}" && pwd)
SRC=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"
# shellcheck source=tests/unit/service_harness.sh
. "$(dirname "$0")/service_harness.sh"

# make, as an operator runs it (not as a sub-make of the test run). Each
# make first brings the build up to date, which costs seconds even when
# there is nothing to do, so the later rounds run what the two targets
# run (install: cmake --install; uninstall: scripts/uninstall) directly.
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$SRC" --no-print-directory BUILD="$BUILD" "$@"; }
install_into() { DESTDIR=$2 cmake --install "$BUILD" --prefix "$1"; }
uninstall_from() { scripts/uninstall "$BUILD" "$1" "$2"; }
files() { (cd "$1" && find . ! -type d | sed 's|^\./||' | sort); }

# What an install under PREFIX (relative, no leading slash) must hold.
expected() {
  local p=$1
  {
    echo etc/default/switchboard
    echo etc/switchboard/switchboard.yaml
    echo "$p/bin/switchboard"
    echo "$p/lib/systemd/system/switchboard.service"
    echo "$p/share/bash-completion/completions/switchboard"
    for f in LICENSE README.md THIRD-PARTY switchboard.yaml; do echo "$p/share/doc/switchboard/$f"; done
    for f in docs/*.md; do echo "$p/share/doc/switchboard/docs/${f#docs/}"; done
    echo "$p/share/man/man1/switchboard.1"
    echo "$p/share/man/man5/switchboard.yaml.5"
  } | sort
}

# ---- PREFIX=/usr/local -------------------------------------------------------

A=$WORK/a
ok "make install PREFIX=/usr/local" mk install PREFIX=/usr/local DESTDIR="$A" >"$WORK/install.log"
eq "the installed files" "$(expected usr/local)" "$(files "$A")"
eq "the unit names the installed binary" \
  "/usr/local/bin/switchboard serve --config /etc/switchboard/switchboard.yaml" \
  "$(unit_value "$A/usr/local/lib/systemd/system/switchboard.service" ExecStart)"
eq "the unit is the template otherwise" "" \
  "$(diff <(sed 's|@BINDIR@|/usr/local/bin|' dist/switchboard.service.in) "$A/usr/local/lib/systemd/system/switchboard.service")"
eq "modes: binary, config, environment file (keys), unit" "755 644 600 644" \
  "$(stat -c %a "$A/usr/local/bin/switchboard" "$A/etc/switchboard/switchboard.yaml" \
    "$A/etc/default/switchboard" "$A/usr/local/lib/systemd/system/switchboard.service" | paste -sd' ')"
eq "the installed binary is this build" "$("$BUILD/switchboard" --version)" "$("$A/usr/local/bin/switchboard" --version)"
for pair in man/switchboard.1:share/man/man1/switchboard.1 man/switchboard.yaml.5:share/man/man5/switchboard.yaml.5 \
  dist/switchboard.bash:share/bash-completion/completions/switchboard \
  dist/switchboard.yaml:share/doc/switchboard/switchboard.yaml LICENSE:share/doc/switchboard/LICENSE; do
  ok "installed as is: ${pair%%:*}" cmp -s "${pair%%:*}" "$A/usr/local/${pair#*:}"
done
ok "the config in /etc is the sample" cmp -s dist/switchboard.yaml "$A/etc/switchboard/switchboard.yaml"
ok "the environment file is the template" cmp -s dist/switchboard.default "$A/etc/default/switchboard"

# an operator's edited config survives a reinstall, and an uninstall
echo 'workers: 2   # edited' >>"$A/etc/switchboard/switchboard.yaml"
cp "$A/etc/switchboard/switchboard.yaml" "$WORK/edited.yaml"
ok "install again" install_into /usr/local "$A" >"$WORK/install2.log"
ok "reinstall: the edited config is kept" cmp -s "$WORK/edited.yaml" "$A/etc/switchboard/switchboard.yaml"
ok "reinstall: says so" grep -q "Keeping: $A/etc/switchboard/switchboard.yaml" "$WORK/install2.log"
ok "make uninstall" mk uninstall PREFIX=/usr/local DESTDIR="$A" >"$WORK/uninstall.log"
eq "uninstall: only the edited config is left" "etc/switchboard/switchboard.yaml" "$(files "$A")"
ok "uninstall: says so" grep -q "Keeping: $A/etc/switchboard/switchboard.yaml (changed" "$WORK/uninstall.log"

# unchanged, it goes too, with every directory named after switchboard
cp dist/switchboard.yaml "$A/etc/switchboard/switchboard.yaml"
ok "uninstall again" uninstall_from /usr/local "$A" >/dev/null
eq "uninstall: no file left" "" "$(files "$A")"
eq "uninstall: no directory of switchboard's left" "" "$(cd "$A" && find . -path '*switchboard*')"

# ---- PREFIX=/usr: the layout of a distribution package ----------------------

B=$WORK/b
ok "install with prefix /usr" install_into /usr "$B" >/dev/null
eq "/usr: the installed files" "$(expected usr)" "$(files "$B")"
eq "/usr: the unit names /usr/bin/switchboard" \
  "/usr/bin/switchboard serve --config /etc/switchboard/switchboard.yaml" \
  "$(unit_value "$B/usr/lib/systemd/system/switchboard.service" ExecStart)"
ok "/usr: uninstall" uninstall_from /usr "$B" >/dev/null
eq "/usr: no file left" "" "$(files "$B")"

summary test_install
