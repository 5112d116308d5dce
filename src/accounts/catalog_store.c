/* SPDX-License-Identifier: MIT */
/*
 * The SQLite store of refreshed model lists, and the choice of store by
 * the database's name (Postgres: catalog_store_pg.c); see
 * include/switchboard/catalog_store.h.
 *
 * Its own connection to the gateway's database file: the ledger's writer
 * keeps its connection to itself, and WAL lets both work at once (a save
 * waits at most busy_timeout for the ledger's commit).
 */
#include "switchboard/catalog_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store_pg_internal.h"
#include "switchboard/store.h"

typedef struct {
  sb_catalog_store_t base;
  sqlite3 *db; /* NULL: a read-only store of a database that does not exist */
} sqlite_store_t;

static sb_status_t db_error(sqlite3 *db, const char *what, char *err,
                            size_t errlen)
{
  snprintf(err, errlen, "catalog store: %s: %s", what, sqlite3_errmsg(db));
  return SB_ERROR;
}

static sb_status_t sq_load(sb_catalog_store_t *s, const char *source,
                           sb_buf_t *body, int64_t *fetched_at, char *err,
                           size_t errlen)
{
  sqlite_store_t *q = (sqlite_store_t *)s;
  sqlite3_stmt *st = NULL;
  sb_status_t rc = SB_DECLINED;
  if (q->db == NULL)
    return SB_DECLINED;
  int r = sqlite3_prepare_v2(
      q->db, "SELECT fetched_at, body FROM catalog_snapshot WHERE source = ?",
      -1, &st, NULL);
  if (r != SQLITE_OK) {
    /* a read-only store of a database the gateway never refreshed into */
    if (sqlite3_strnicmp(sqlite3_errmsg(q->db), "no such table", 13) == 0)
      return SB_DECLINED;
    return db_error(q->db, "read", err, errlen);
  }
  sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    const void *b = sqlite3_column_blob(st, 1);
    int n = sqlite3_column_bytes(st, 1);
    *fetched_at = sqlite3_column_int64(st, 0);
    rc = sb_buf_append(body, b, (size_t)n) == SB_OK ? SB_OK : SB_ERROR;
    if (rc != SB_OK)
      snprintf(err, errlen, "catalog store: the stored %s list is too large",
               source);
  } else if (r != SQLITE_DONE) {
    rc = db_error(q->db, "read", err, errlen);
  }
  sqlite3_finalize(st);
  return rc;
}

static sb_status_t sq_save(sb_catalog_store_t *s, const char *source,
                           int64_t fetched_at, sb_slice_t body, char *err,
                           size_t errlen)
{
  sqlite_store_t *q = (sqlite_store_t *)s;
  sqlite3_stmt *st = NULL;
  if (q->db == NULL || body.len > INT32_MAX) {
    snprintf(err, errlen, "catalog store: not writable");
    return SB_ERROR;
  }
  if (sqlite3_prepare_v2(q->db,
                         "INSERT OR REPLACE INTO catalog_snapshot (source, "
                         "fetched_at, body) VALUES (?, ?, ?)",
                         -1, &st, NULL) != SQLITE_OK)
    return db_error(q->db, "write", err, errlen);
  sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, fetched_at);
  sqlite3_bind_blob(st, 3, body.ptr, (int)body.len, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? SB_OK : db_error(q->db, "write", err, errlen);
}

static void sq_close(sb_catalog_store_t *s)
{
  sqlite_store_t *q = (sqlite_store_t *)s;
  sqlite3_close(q->db);
  free(q);
}

static const sb_catalog_store_ops_t sqlite_ops = {sq_load, sq_save, sq_close};

sb_catalog_store_t *sb_catalog_store_open(const char *database, bool writable,
                                          char *err, size_t errlen)
{
  if (sb_store_is_postgres(database))
    return sb_catalog_store_open_pg(database, writable, err, errlen);
  if (strncmp(database, "sqlite:", 7) != 0) {
    char shown[256];
    sb_store_redact(database, shown, sizeof(shown));
    snprintf(err, errlen,
             "catalog store: '%s': the database must be sqlite:PATH or "
             "postgres://...",
             shown);
    return NULL;
  }
  const char *path = database + 7;
  sqlite_store_t *q = calloc(1, sizeof(*q));
  if (q == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  q->base.ops = &sqlite_ops;
  if (!writable && access(path, F_OK) != 0)
    return &q->base; /* nothing stored yet; nothing created */
  int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                       : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path, &q->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "catalog store: cannot open %s: %s", path,
             q->db != NULL ? sqlite3_errmsg(q->db) : "out of memory");
    sq_close(&q->base);
    return NULL;
  }
  sqlite3_busy_timeout(q->db, 5000);
  /* a few reads and writes a day: a small page cache is plenty */
  sqlite3_exec(q->db, "PRAGMA cache_size=-256", NULL, NULL, NULL);
  if (writable &&
      sqlite3_exec(q->db,
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE IF NOT EXISTS catalog_snapshot ("
                   "source TEXT PRIMARY KEY, fetched_at INTEGER NOT NULL, "
                   "body BLOB NOT NULL)",
                   NULL, NULL, NULL) != SQLITE_OK) {
    db_error(q->db, path, err, errlen);
    sq_close(&q->base);
    return NULL;
  }
  return &q->base;
}
