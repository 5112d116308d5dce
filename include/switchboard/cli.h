/* SPDX-License-Identifier: MIT */
/* The command line: one function per subcommand (src/cli/). Each returns
 * the process exit status. */
#ifndef SWITCHBOARD_CLI_H
#define SWITCHBOARD_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "switchboard/config.h"

int sb_cli_serve(int argc, char **argv);
/* With no provider configured: add each local OpenAI-compatible model
 * server that answers on its default loopback port (src/cli/local_servers.c). */
void sb_cli_find_local_servers(sb_config_t *cfg);
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
  bool refresh; /* models --refresh */
} sb_cli_common_t;

/* Parses the options a subcommand accepts; prints usage and returns -1 on
 * an unknown option. */
int sb_cli_parse_common(int argc, char **argv, const char *usage,
                        sb_cli_common_t *out);

/* Options that each take a value (`--name VALUE`, or `alias VALUE`),
 * parsed from argv[1..] (src/cli/util.c). Returns 0, or the index of the
 * first argument that is no such option or lacks its value. */
typedef struct {
  const char *name, *alias;
  const char **value;
} sb_cli_opt_t;
int sb_cli_options(int argc, char **argv, const sb_cli_opt_t *opts, size_t n);

/* The running gateway (src/cli/util.c): SWITCHBOARD_URL's root (a /v1
 * suffix dropped) followed by `path` into `url`, and the request headers
 * (JSON content type; SWITCHBOARD_KEY as a bearer when set), to be freed
 * with curl_slist_free_all. */
struct curl_slist;
void sb_cli_gateway_url(char *url, size_t n, const char *path);
struct curl_slist *sb_cli_gateway_headers(void);

#endif
