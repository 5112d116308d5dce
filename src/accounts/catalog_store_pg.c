/* SPDX-License-Identifier: MIT */
/*
 * The Postgres store of refreshed model lists (`database: postgres://...`;
 * see include/switchboard/catalog_store.h): table catalog_snapshot of the
 * Postgres schema (version 3, store_pg.c), shared by every gateway on the
 * database, so each starts from the newest lists any of them fetched.
 *
 * A connection of its own, made at open and again at the next call after
 * it was lost. A writable store brings the schema up to date at open (the
 * ledger has done so already in a gateway; `models --refresh` may be the
 * first to open the database). A read-only one creates nothing: a database
 * whose schema predates the table has no stored lists. A save never
 * replaces a list with one fetched earlier (two gateways refreshing at
 * once).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"
#include "switchboard/catalog_store.h"
#include "switchboard/store.h"

#define UNDEFINED_TABLE "SQLSTATE 42P01"

typedef struct {
  sb_catalog_store_t base;
  char *url;
  char shown[256]; /* the URL without its password */
  bool writable;
  PGconn *db;      /* NULL: connect at the next call */
} pg_catalog_t;

static bool ready(pg_catalog_t *q, char *why, size_t cap)
{
  return sb_pg_ensure(&q->db, q->url, q->shown, NULL, why, cap);
}

static sb_status_t pg_load(sb_catalog_store_t *s, const char *source,
                           sb_buf_t *body, int64_t *fetched_at, char *err,
                           size_t errlen)
{
  pg_catalog_t *q = (pg_catalog_t *)s;
  char why[256];
  if (!ready(q, why, sizeof(why))) {
    snprintf(err, errlen, "catalog store: %s", why);
    return SB_ERROR;
  }
  const char *vals[] = {source};
  PGresult *r = sb_pg_run(
      &q->db, "SELECT fetched_at, body FROM catalog_snapshot WHERE source = $1",
      1, vals, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL) {
    /* read-only, on a database no gateway of this version migrated */
    if (strstr(why, UNDEFINED_TABLE) != NULL)
      return SB_DECLINED;
    snprintf(err, errlen, "catalog store: cannot read %s: %s", q->shown, why);
    return SB_ERROR;
  }
  sb_status_t rc = SB_DECLINED;
  if (PQntuples(r) == 1) {
    size_t n = 0;
    unsigned char *b =
        PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
    *fetched_at = sb_pg_i64(r, 0, 0);
    rc = b != NULL && sb_buf_append(body, b, n) == SB_OK ? SB_OK : SB_ERROR;
    if (rc != SB_OK)
      snprintf(err, errlen, "catalog store: the stored %s list is too large",
               source);
    PQfreemem(b);
  }
  PQclear(r);
  return rc;
}

/* `body` as bytea's text form ("\x" and two hex digits a byte), NUL-ended
 * in `out`. */
static sb_status_t hex(sb_slice_t body, sb_buf_t *out)
{
  static const char digits[] = "0123456789abcdef";
  if (sb_buf_grow(out, 2 * body.len + 3) != SB_OK ||
      sb_buf_appendz(out, "\\x") != SB_OK)
    return SB_ERROR;
  for (size_t i = 0; i < body.len; i++) {
    unsigned char c = (unsigned char)body.ptr[i];
    out->data[out->len++] = digits[c >> 4];
    out->data[out->len++] = digits[c & 15];
  }
  return sb_buf_cstr(out);
}

static sb_status_t pg_save(sb_catalog_store_t *s, const char *source,
                           int64_t fetched_at, sb_slice_t body, char *err,
                           size_t errlen)
{
  pg_catalog_t *q = (pg_catalog_t *)s;
  char why[256], at[24];
  if (!q->writable) {
    snprintf(err, errlen, "catalog store: not writable");
    return SB_ERROR;
  }
  if (!ready(q, why, sizeof(why))) {
    snprintf(err, errlen, "catalog store: %s", why);
    return SB_ERROR;
  }
  sb_buf_t b;
  sb_buf_init(&b, 0);
  if (hex(body, &b) != SB_OK) {
    sb_buf_free(&b);
    snprintf(err, errlen, "catalog store: out of memory");
    return SB_ERROR;
  }
  snprintf(at, sizeof(at), "%" PRId64, fetched_at);
  const char *vals[] = {source, at, b.data};
  bool done = sb_pg_ok(
      &q->db,
      "INSERT INTO catalog_snapshot (source, fetched_at, body) VALUES ($1, "
      "$2::bigint, $3::bytea) ON CONFLICT (source) DO UPDATE SET "
      "fetched_at = excluded.fetched_at, body = excluded.body "
      "WHERE catalog_snapshot.fetched_at <= excluded.fetched_at",
      3, vals, why, sizeof(why));
  sb_buf_free(&b);
  if (!done) {
    snprintf(err, errlen, "catalog store: cannot write %s: %s", q->shown, why);
    return SB_ERROR;
  }
  return SB_OK;
}

static void pg_close(sb_catalog_store_t *s)
{
  pg_catalog_t *q = (pg_catalog_t *)s;
  PQfinish(q->db);
  free(q->url);
  free(q);
}

static const sb_catalog_store_ops_t pg_ops = {pg_load, pg_save, pg_close};

sb_catalog_store_t *sb_catalog_store_open_pg(const char *url, bool writable,
                                             char *err, size_t errlen)
{
  pg_catalog_t *q = calloc(1, sizeof(*q));
  char why[512];
  if (q == NULL || (q->url = strdup(url)) == NULL) {
    free(q);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  q->base.ops = &pg_ops;
  q->writable = writable;
  sb_store_redact(url, q->shown, sizeof(q->shown));
  if (!ready(q, why, sizeof(why)) ||
      (writable && sb_pg_migrate(&q->db, q->shown, why, sizeof(why)) != SB_OK)) {
    snprintf(err, errlen, "catalog store: %s", why);
    pg_close(&q->base);
    return NULL;
  }
  return &q->base;
}
