/* SPDX-License-Identifier: MIT */
/*
 * Where refreshed model lists are kept between runs (docs/catalog.md), so
 * that a gateway restarted without network still has the last good
 * catalog: one row per source ("openrouter", "provider:NAME") with when it
 * was fetched and its normal form (catalog_feed.h).
 *
 * An interface with two stores, the gateway's database's: table
 * catalog_snapshot(source, fetched_at, body), on a connection of its own
 * (the ledger keeps its own). In SQLite (src/accounts/catalog_store.c)
 * created if absent; in Postgres (src/accounts/catalog_store_pg.c) part of
 * the schema, migrated at open, and shared by every gateway on the
 * database: each starts from the newest lists any of them fetched.
 *
 * A store is used by one thread at a time (the gateway's refresh thread;
 * a CLI command).
 */
#ifndef SWITCHBOARD_CATALOG_STORE_H
#define SWITCHBOARD_CATALOG_STORE_H

#include "switchboard/buf.h"
#include "switchboard/common.h"

typedef struct sb_catalog_store sb_catalog_store_t;

typedef struct {
  /* The stored list of `source` into `body` (appended) and its time.
   * SB_DECLINED when there is none; SB_ERROR with the reason in err. */
  sb_status_t (*load)(sb_catalog_store_t *s, const char *source, sb_buf_t *body,
                      int64_t *fetched_at, char *err, size_t errlen);
  /* Keep `body` as the list of `source`, replacing the previous one. */
  sb_status_t (*save)(sb_catalog_store_t *s, const char *source,
                      int64_t fetched_at, sb_slice_t body, char *err,
                      size_t errlen);
  void (*close)(sb_catalog_store_t *s);
} sb_catalog_store_ops_t;

struct sb_catalog_store {
  const sb_catalog_store_ops_t *ops;
};

/*
 * Open the store of `database` (the config's "sqlite:PATH" or
 * "postgres://..."). Read-only when `writable` is false: a database that
 * does not exist yet (or a Postgres schema without the table) is then an
 * empty store (nothing is created). NULL with the reason in err.
 */
sb_catalog_store_t *sb_catalog_store_open(const char *database, bool writable,
                                          char *err, size_t errlen);

static inline void sb_catalog_store_close(sb_catalog_store_t *s)
{
  if (s != NULL)
    s->ops->close(s);
}

#endif
