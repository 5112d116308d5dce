/* SPDX-License-Identifier: MIT */
/* Choosing the store a `database` URL names; see store.h. */
#include "switchboard/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

sb_store_t *sb_store_open(const char *database, sb_store_mode_t mode,
                          const sb_ledger_options_t *opts, char *err,
                          size_t errlen)
{
  sb_ledger_options_t none = {false, 0, 0};
  if (opts == NULL)
    opts = &none;
  if (starts_with(database, "sqlite:"))
    return sb_store_sqlite.open(database, mode, opts, err, errlen);
  if (sb_store_is_postgres(database))
    return sb_store_postgres.open(database, mode, opts, err, errlen);
  char shown[256];
  sb_store_redact(database, shown, sizeof(shown));
  snprintf(err, errlen,
           "ledger: '%s': the database must be sqlite:PATH or "
           "postgres://USER:PASSWORD@HOST:PORT/DB",
           shown);
  return NULL;
}

bool sb_store_is_postgres(const char *database)
{
  return starts_with(database, "postgres://") ||
         starts_with(database, "postgresql://");
}

void sb_store_state_file(const char *name, char *out, size_t cap)
{
  const char *dir = getenv("STATE_DIRECTORY");
  size_t n = dir != NULL ? strcspn(dir, ":") : 0;
  if (n == 0) {
    dir = ".";
    n = 1;
  }
  snprintf(out, cap, "%.*s/%s", (int)n, dir, name);
}

void sb_store_close(sb_store_t *s)
{
  if (s != NULL)
    s->ops->close(s);
}

void sb_store_redact(const char *database, char *out, size_t cap)
{
  /* scheme://user:password@host...: the password is between the first
   * ':' after "//" and the last '@' before the path */
  const char *auth = strstr(database, "://");
  const char *at = NULL, *colon = NULL;
  if (auth != NULL) {
    auth += 3;
    size_t n = strcspn(auth, "/?");
    for (size_t i = 0; i < n; i++)
      if (auth[i] == '@')
        at = auth + i;
    if (at != NULL)
      colon = memchr(auth, ':', (size_t)(at - auth));
  }
  if (colon == NULL) {
    snprintf(out, cap, "%s", database);
    return;
  }
  snprintf(out, cap, "%.*s:***%s", (int)(colon - database), database, at);
}
