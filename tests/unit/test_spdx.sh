#!/bin/bash
# SPDX-License-Identifier: MIT
# Every source file says its license (SPDX-License-Identifier: MIT).
set -u
cd "$(dirname "$0")/../.."
if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "skip: not a git checkout (the check lists the files git tracks)"
  exit 77
fi
out=$(scripts/check-spdx) || {
  echo "source files without an SPDX-License-Identifier line:"
  echo "$out"
  exit 1
}
echo "ok: every source file names its license"
