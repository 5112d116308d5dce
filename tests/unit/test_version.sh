#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `switchboard --version`: the project's version and the git revision of
# the tree it was built from; and scripts/version.cmake, which writes the
# file holding them: "unknown" without git metadata (also inside another
# repository), "-dirty" for uncommitted changes to tracked files, an
# explicit SB_REVISION, and no rewrite (so no recompile) when nothing
# changed. The file is compiled into the executable alone.
#
#   bash tests/unit/test_version.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: test_version.sh BUILD_DIR}" && pwd)
SRC=$PWD
BIN=$BUILD/switchboard
for tool in git jq; do
  command -v "$tool" >/dev/null || { echo "test_version: $tool is required" >&2; exit 1; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"

VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
eq "the version is project()'s" "$VERSION" \
  "$(sed -n 's/^project(switchboard VERSION \([0-9.]*\) .*/\1/p' CMakeLists.txt)"

# ---- the binary ------------------------------------------------------------

OUT=$("$BIN" --version)
eq "--version exits 0" 0 "$?"
eq "version: the same as --version" "$OUT" "$("$BIN" version)"
if [ -e "$SRC/.git" ]; then
  HEAD=$(git -C "$SRC" rev-parse --short=7 HEAD)
  # -dirty depends on the tree at build time; the generator's own test
  # below pins it down
  ok "--version: '$OUT' is version $VERSION at commit $HEAD" \
    grep -Eqx "switchboard $VERSION \\(git $HEAD(-dirty)?\\)" <<<"$OUT"
else
  eq "--version without git metadata" "switchboard $VERSION (git unknown)" "$OUT"
fi
eq "the usage names --version" 1 "$("$BIN" --help | grep -c -- '--version')"

# only the executable compiles the generated file: a new revision
# recompiles one file, not the library every test links
eq "generated/version.c: compiled once, for the executable" \
  '["CMakeFiles/switchboard.dir/generated/version.c.o"]' \
  "$(jq -c '[.[] | select(.file | endswith("/generated/version.c")) | .command | capture("-o (?<o>[^ ]+)").o]' "$BUILD/compile_commands.json")"

# ---- the generator ---------------------------------------------------------

gen() { # SOURCE_DIR OUT [extra -D...]
  local src=$1 out=$2
  shift 2
  cmake -DOUT="$out" -DSOURCE_DIR="$src" -DVERSION=1.2.3 -DGIT="$(command -v git)" "$@" \
    -P "$SRC/scripts/version.cmake"
}
revision() { sed -n 's/^const char sb_revision\[\] = "\(.*\)";$/\1/p' "$1"; }
git_quiet() { git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main "$@" >/dev/null 2>&1; }

mkdir -p "$WORK/tarball"
gen "$WORK/tarball" "$WORK/v.c"
eq "no .git: unknown" unknown "$(revision "$WORK/v.c")"
ok "the version is written too" grep -q 'const char sb_version\[\] = "1.2.3";' "$WORK/v.c"

# a tarball unpacked inside some other repository: still unknown
git_quiet init "$WORK/outer"
mkdir -p "$WORK/outer/switchboard-1.2.3"
git_quiet -C "$WORK/outer" commit --allow-empty -m outer
gen "$WORK/outer/switchboard-1.2.3" "$WORK/v.c"
eq "inside another repository: unknown" unknown "$(revision "$WORK/v.c")"

# a checkout: the abbreviated commit; -dirty for changed tracked files only
R=$WORK/repo
git_quiet init "$R"
echo one >"$R/file"
git_quiet -C "$R" add file
git_quiet -C "$R" commit -m one
gen "$R" "$WORK/v.c"
eq "a clean checkout: the commit" "$(git -C "$R" rev-parse --short=7 HEAD)" "$(revision "$WORK/v.c")"
echo new >"$R/untracked"
gen "$R" "$WORK/v.c"
eq "an untracked file: still clean" "$(git -C "$R" rev-parse --short=7 HEAD)" "$(revision "$WORK/v.c")"
echo two >"$R/file"
gen "$R" "$WORK/v.c"
eq "a changed tracked file: dirty" "$(git -C "$R" rev-parse --short=7 HEAD)-dirty" "$(revision "$WORK/v.c")"

# unchanged text is not rewritten: the timestamp that make compares stays
BEFORE=$(stat -c %y "$WORK/v.c")
gen "$R" "$WORK/v.c"
eq "same revision: the file is not rewritten" "$BEFORE" "$(stat -c %y "$WORK/v.c")"
git_quiet -C "$R" commit -am two
gen "$R" "$WORK/v.c"
eq "a new commit: rewritten" "$(git -C "$R" rev-parse --short=7 HEAD)" "$(revision "$WORK/v.c")"

# SB_REVISION (-DREVISION) wins; a revision that is not plain text is refused
gen "$R" "$WORK/v.c" -DREVISION=deb-1.2.3
eq "an explicit revision" deb-1.2.3 "$(revision "$WORK/v.c")"
gen "$R" "$WORK/bad.c" '-DREVISION=a"b' 2>/dev/null
ok "a revision with a quote is refused" test $? -ne 0 -a ! -e "$WORK/bad.c"
gen "$R" "$WORK/bad.c" -DVERSION= 2>/dev/null
ok "an empty version is refused" test $? -ne 0 -a ! -e "$WORK/bad.c"

summary test_version
