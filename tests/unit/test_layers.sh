#!/bin/bash
# SPDX-License-Identifier: MIT
# Who may use whom (DESIGN.md): no #include in src/ runs against the layers.
set -u
cd "$(dirname "$0")/../.."
out=$(scripts/check-layers) || {
  echo "imports against the layers:"
  echo "$out"
  exit 1
}
echo "ok: every #include in src/ follows the layers"
