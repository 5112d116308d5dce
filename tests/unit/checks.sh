# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by the script tests (tests/unit/test_*.sh): counted checks.
#   eq NAME EXPECTED ACTUAL    ok NAME COMMAND...    fail NAME [DETAIL...]
# and `summary NAME` for the closing line and the exit status.

PASSES=0
FAILS=0
pass() { PASSES=$((PASSES + 1)); }
fail() { # name [detail lines...]
  FAILS=$((FAILS + 1))
  printf 'FAIL: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '    %s\n' "$line" >&2; done
}
eq() { # name expected actual
  if [ "$2" == "$3" ]; then pass; else fail "$1" "expected: $2" "actual:   $3"; fi
}
ok() { # name command...: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then pass; else fail "$name" "command failed: $*"; fi
}
# summary NAME: the closing line; the exit status for the caller
summary() {
  if [ "$FAILS" -gt 0 ]; then
    echo "$1: $FAILS failed, $PASSES passed" >&2
    return 1
  fi
  echo "$1: all $PASSES checks passed"
}
