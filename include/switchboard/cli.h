/* The command line: one function per subcommand (src/cli/). Each returns
 * the process exit status. */
#ifndef SWITCHBOARD_CLI_H
#define SWITCHBOARD_CLI_H

#include <stdbool.h>

int sb_cli_serve(int argc, char **argv);
int sb_cli_chat(int argc, char **argv);
int sb_cli_models(int argc, char **argv);
int sb_cli_check(int argc, char **argv);
int sb_cli_keys(int argc, char **argv);
int sb_cli_usage(int argc, char **argv);

/* Shared option parsing for --config / --listen. */
typedef struct {
  const char *config;
  const char *listen;
  bool all;
} sb_cli_common_t;

/* Parses the options a subcommand accepts; prints usage and returns -1 on
 * an unknown option. */
int sb_cli_parse_common(int argc, char **argv, const char *usage,
                        sb_cli_common_t *out);

#endif
