/* SPDX-License-Identifier: MIT */
/* switchboard: the entry point; dispatches to src/cli/ subcommands. */
#include <stdio.h>
#include <string.h>

#include "switchboard/cli.h"
#include "switchboard/log.h"
#include "switchboard/upstream.h"
#include "switchboard/version.h"

static const char usage[] =
    "switchboard - one API and one key for language models across providers\n"
    "\n"
    "usage:\n"
    "  switchboard serve [--config FILE] [--listen HOST:PORT]   run the gateway\n"
    "  switchboard chat -m MODEL [--system S] [--no-stream] PROMPT...\n"
    "                                        talk to a running gateway\n"
    "  switchboard models [--config FILE] [--all] [--refresh]\n"
    "                                        list the catalog with prices\n"
    "                                        (--refresh: fetch the lists now)\n"
    "  switchboard check [--config FILE]    validate a config, print what it "
    "resolves to\n"
    "  switchboard keys create --name N [--limit USD] [--reset daily|weekly|"
    "monthly]\n"
    "                   [--rpm N] [--tpm N] [--models a,b]\n"
    "  switchboard keys list | keys revoke HASH\n"
    "                                        manage client keys (running "
    "gateway)\n"
    "  switchboard usage [--by model|key|agent|day] [--since 7d|2026-11-01]\n"
    "                                        spend from the ledger\n"
    "  switchboard version | --version      the version and git revision\n"
    "\n"
    "Without --config, providers come from the environment (OPENAI_API_KEY,\n"
    "ANTHROPIC_API_KEY, OPENROUTER_API_KEY, GROQ_API_KEY, ... OLLAMA_HOST).\n"
    "`chat` and `keys` read SWITCHBOARD_URL (default http://127.0.0.1:3456)\n"
    "and SWITCHBOARD_KEY.\n";

int main(int argc, char **argv)
{
  sb_log_init();
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  int rc;
  sb_upstream_global_init();
  if (strcmp(cmd, "serve") == 0)
    rc = sb_cli_serve(argc - 1, argv + 1);
  else if (strcmp(cmd, "chat") == 0)
    rc = sb_cli_chat(argc - 1, argv + 1);
  else if (strcmp(cmd, "models") == 0)
    rc = sb_cli_models(argc - 1, argv + 1);
  else if (strcmp(cmd, "check") == 0)
    rc = sb_cli_check(argc - 1, argv + 1);
  else if (strcmp(cmd, "keys") == 0)
    rc = sb_cli_keys(argc - 1, argv + 1);
  else if (strcmp(cmd, "usage") == 0)
    rc = sb_cli_usage(argc - 1, argv + 1);
  else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("switchboard %s (git %s)\n", sb_version, sb_revision);
    rc = 0;
  } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
             strcmp(cmd, "-h") == 0) {
    fputs(usage, stdout);
    rc = 0;
  } else {
    fprintf(stderr, "switchboard: unknown command '%s'\n\n%s", cmd, usage);
    rc = 2;
  }
  sb_upstream_global_cleanup();
  return rc;
}
