#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every libFuzzer driver for SECONDS each (`make fuzz`), starting from
# the seed corpora in tests/fuzz/corpus/<name>/; new inputs go to a scratch
# directory, not into the repository. Fails if any driver finds a crash.
set -euo pipefail
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
status=0
for bin in "$BUILD"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  short=${name#fuzz_}
  scratch=$(mktemp -d)
  seeds="$HERE/corpus/$short"
  args=(-max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$scratch/")
  [ -f "$HERE/$short.dict" ] && args+=(-dict="$HERE/$short.dict")
  dirs=("$scratch")
  [ -d "$seeds" ] && dirs+=("$seeds")
  echo "== $name: ${SECONDS_EACH}s"
  if ! "$bin" "${args[@]}" "${dirs[@]}" 2>"$scratch/log"; then
    echo "$name found a problem; log and artifacts in $scratch" >&2
    tail -40 "$scratch/log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$scratch/log" | tail -2
    rm -rf "$scratch"
  fi
done
exit $status
