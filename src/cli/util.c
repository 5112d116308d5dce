/* SPDX-License-Identifier: MIT */
/*
 * Helpers the subcommands share: options that take a value, and how the
 * client subcommands (chat, keys) reach a running gateway: SWITCHBOARD_URL
 * (default http://127.0.0.1:3456, with or without a /v1 suffix) and
 * SWITCHBOARD_KEY (sent as a bearer when set).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard/cli.h"

int sb_cli_options(int argc, char **argv, const sb_cli_opt_t *opts, size_t n)
{
  for (int i = 1; i < argc; i++) {
    const sb_cli_opt_t *o = NULL;
    for (size_t k = 0; k < n && o == NULL; k++)
      if (strcmp(argv[i], opts[k].name) == 0 ||
          (opts[k].alias != NULL && strcmp(argv[i], opts[k].alias) == 0))
        o = &opts[k];
    if (o == NULL || i + 1 >= argc)
      return i;
    *o->value = argv[++i];
  }
  return 0;
}

void sb_cli_gateway_url(char *url, size_t n, const char *path)
{
  const char *base = getenv("SWITCHBOARD_URL");
  if (base == NULL || base[0] == '\0')
    base = "http://127.0.0.1:3456";
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/')
    bl--;
  if (bl >= 3 && memcmp(base + bl - 3, "/v1", 3) == 0)
    bl -= 3;
  snprintf(url, n, "%.*s%s", (int)bl, base, path);
}

struct curl_slist *sb_cli_gateway_headers(void)
{
  const char *key = getenv("SWITCHBOARD_KEY");
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  if (key != NULL && key[0] != '\0') {
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    h = curl_slist_append(h, auth);
  }
  return h;
}
