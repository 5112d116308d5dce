#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The man pages and the bash completion against the code: both pages are
# clean for `mandoc -T lint`; every subcommand and long option the CLI
# parses (src/cli/) is in switchboard(1) and in the completion; every key
# the config and catalog loaders accept is in switchboard.yaml(5); and the
# completion completes what it should.
#
#   bash tests/unit/test_cli_docs.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: test_cli_docs.sh BUILD_DIR}" && pwd)
command -v mandoc >/dev/null ||
  { echo "test_cli_docs: mandoc is required (scripts/install-deps --test)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=tests/unit/checks.sh
. "$(dirname "$0")/checks.sh"

MAN1=man/switchboard.1
MAN5=man/switchboard.yaml.5
COMPLETION=dist/switchboard.bash

# ---- the pages are well-formed ------------------------------------------------

for page in "$MAN1" "$MAN5"; do
  eq "mandoc -T lint: $page" "" "$(mandoc -T lint -W warning "$page" 2>&1)"
  ok "renders: $page" test "$(mandoc -T utf8 "$page" 2>/dev/null | wc -l)" -gt 50
done

# ---- true to the command line -------------------------------------------------

# subcommands: the names main() dispatches on
COMMANDS=$(grep -o 'strcmp(cmd, "[a-z-]*")' src/cli/main.c | cut -d'"' -f2 | sort -u)
ok "main.c dispatches subcommands" test "$(wc -w <<<"$COMMANDS")" -ge 8
for c in $COMMANDS; do
  case $c in
    -*) ok "switchboard(1): $c" grep -q "^\\.\\(It\\|Nm\\|Cm\\).*Fl ${c#-}\\b" "$MAN1" ;;
    *) ok "switchboard(1): $c" grep -q "^\\.\\(It \\)\\?Cm $c\\b" "$MAN1" ;;
  esac
  # the completion offers the long forms (--help, not -h)
  case $c in -?) continue ;; esac
  ok "completion: $c" grep -q "_switchboard_words '[^']*${c}[ ']" "$COMPLETION"
done
# keys subcommands
for c in create list revoke; do
  ok "switchboard(1): keys $c" grep -q "^\\.\\(It \\)\\?Cm keys $c" "$MAN1"
  ok "completion: keys $c" grep -q "_switchboard_words 'create list revoke" "$COMPLETION"
done

# long options: every "--name" string the CLI's parsers compare against
OPTIONS=$(grep -ho '"--[a-z][a-z-]*' src/cli/*.c | tr -d '"' | sort -u)
ok "the CLI has long options" test "$(wc -w <<<"$OPTIONS")" -ge 15
for o in $OPTIONS; do
  ok "switchboard(1): $o" grep -q "Fl -${o#--}\\b" "$MAN1"
  ok "completion: $o" grep -q -- "$o\\b" "$COMPLETION"
done

# ---- true to the configuration ------------------------------------------------

# the keys every level of the config accepts (the loaders' allow-lists) and
# the members the catalog reads from a `models:` entry
CONFIG_KEYS=$(awk '/static const char \*const [a-z_]*keys\[\] = \{/ { on = 1 } on { print } /NULL\};/ { on = 0 }' \
  src/core/config.c | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
MODEL_KEYS=$( {
  awk '/^static sb_status_t load_entry\(/,/^}/' src/gateway/catalog.c |
    grep -o '\(sb_cb_str\|sb_cb_u32\|sb_json_get\)([^"]*"[a-z_]*"' | cut -d'"' -f2
  grep -o '{"[a-z_]*", offsetof(sb_price_t' src/gateway/catalog_feed.c | cut -d'"' -f2
} | sort -u)
ok "config.c has key lists" test "$(wc -w <<<"$CONFIG_KEYS")" -ge 40
ok "catalog.c reads model members" test "$(wc -w <<<"$MODEL_KEYS")" -ge 10
for k in $CONFIG_KEYS $MODEL_KEYS; do
  ok "switchboard.yaml(5): $k" grep -q "^\\.\\(It \\)\\?Ic \\(.* \\)\\?$k\\b" "$MAN5"
done
# and the config example of each page loads
sed -n '/^\.Bd -literal/,/^\.Ed/p' "$MAN5" | sed '1d;$d' >"$WORK/example.yaml"
ok "switchboard.yaml(5): its example passes \`switchboard check\`" \
  env -i PATH="$PATH" "$BUILD/switchboard" check --config "$WORK/example.yaml" >/dev/null 2>&1
ok "the sample config passes \`switchboard check\`" \
  env -i PATH="$PATH" "$BUILD/switchboard" check --config dist/switchboard.yaml >/dev/null 2>&1

# ---- the completion completes ------------------------------------------------

# shellcheck source=dist/switchboard.bash
. "$COMPLETION"
complete_at() { # WORD... (the last one is the one being completed) -> the candidates
  COMP_WORDS=("$BUILD/switchboard" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _switchboard
  printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' '
}
eq "registered for switchboard" "complete -F _switchboard switchboard" "$(complete -p switchboard)"
eq "subcommands" "--help --version chat check help keys models serve usage version" "$(complete_at '')"
eq "a prefix" "keys" "$(complete_at ke)"
eq "serve's options" "--config --listen" "$(complete_at serve --)"
eq "models' options" "--all --config --refresh" "$(complete_at models --)"
eq "keys' subcommands" "create help list revoke" "$(complete_at keys '')"
eq "keys create's options" "--reset --rpm" "$(complete_at keys create --name x --r)"
eq "--reset's values" "daily monthly weekly" "$(complete_at keys create --reset '')"
eq "usage --by's values" "agent day key model" "$(complete_at usage --by '')"
eq "--config completes files" "dist/switchboard.yaml" "$(complete_at serve --config dist/switchboard.y)"
eq "--database completes sqlite:FILE" "sqlite:dist/switchboard.yaml" "$(complete_at usage --database sqlite:dist/switchboard.y)"
eq "chat -m completes catalog ids" "openai/gpt-4o-mini" "$(complete_at chat -m openai/gpt-4o-mi)"
eq "a free-form value: nothing" "" "$(complete_at serve --listen '')"

summary test_cli_docs
