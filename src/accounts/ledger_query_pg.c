/* SPDX-License-Identifier: MIT */
/*
 * The reports' reader of the Postgres store (ledger_query_reader.h): a
 * connection of its own, made for the call (never the ledger writer's nor
 * the store's reader), in one read-only REPEATABLE READ transaction, so a
 * report and its key names see one snapshot. Every statement is a
 * constant below; the filter's values are bound parameters.
 *
 * No statement runs long: the server cancels any after
 * STATEMENT_TIMEOUT_MS (below the client's own wait, SB_PG_QUERY_TIMEOUT_MS,
 * so the server stops working when the client stops waiting), and a
 * report reads its rows through a cursor, FETCH_ROWS at a time (memory
 * stays small whatever the range), for at most REPORT_DEADLINE_MS in all.
 * Either limit reached, or the server unreachable or lost, is SB_AGAIN.
 *
 * The range is one of the created_ms index (generations_created): unlike
 * SQLite, Postgres reads an index range in table order (a bitmap scan),
 * so the id range of the SQLite reader is not needed here. The newest
 * rows come first by created_ms, then by id in byte order (COLLATE "C",
 * whatever the database's collation), which is the order of the ids
 * alone, as on SQLite (an id begins with its row's second).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger_query_reader.h"
#include "ledger_read.h"
#include "store_pg_internal.h"
#include "switchboard/buf.h"
#include "switchboard/store.h"

#define FETCH_ROWS 5000
#define STATEMENT_TIMEOUT_MS 10000
#define REPORT_DEADLINE_MS 60000
#define STR_(x) #x
#define STR(x) STR_(x)
#define QUERY_CANCELED "SQLSTATE 57014" /* statement_timeout */

/* Parameters $1 $2: the range; $3 .. $6: the matches, in dimension
 * order (NULL: any). */
#define WHERE                                                                  \
  " WHERE g.created_ms >= $1::bigint AND g.created_ms < $2::bigint"            \
  " AND ($3::text IS NULL OR coalesce(g.model, g.requested_model, '-') = $3)"  \
  " AND ($4::text IS NULL OR coalesce(g.provider, '-') = $4)"                  \
  " AND ($5::text IS NULL OR coalesce(g.key_hash, g.key_label, '-') = $5)"     \
  " AND ($6::text IS NULL OR coalesce(g.agent, '-') = $6)"

#define NEWEST_FIRST " ORDER BY g.created_ms DESC, g.id COLLATE \"C\" DESC"

typedef struct {
  sb_report_reader_t base;
  PGconn *db;
  char shown[256]; /* the URL without its password */
} pg_reader_t;

/* The filter's parameters (vals[0..6) and one more slot), as text. */
typedef struct {
  char from[24], to[24], extra[24];
  char *match[SB_DIM_N]; /* malloc'd, cleaned as rows are (sb_pg_text) */
  const char *vals[7];
} params_t;

static void params_free(params_t *p)
{
  for (int d = 0; d < SB_DIM_N; d++)
    free(p->match[d]);
}

static bool params_set(params_t *p, const sb_ledger_filter_t *f)
{
  memset(p, 0, sizeof(*p));
  snprintf(p->from, sizeof(p->from), "%" PRId64, f->from_ms);
  snprintf(p->to, sizeof(p->to), "%" PRId64, f->to_ms);
  p->vals[0] = p->from;
  p->vals[1] = p->to;
  for (int d = 0; d < SB_DIM_N; d++) {
    if (f->match[d] == NULL)
      continue;
    if ((p->match[d] = sb_pg_text(f->match[d])) == NULL)
      return false;
    p->vals[2 + d] = p->match[d];
  }
  p->vals[6] = p->extra;
  return true;
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Why `what` failed; SB_AGAIN when the server is gone or did not answer
 * in time, SB_ERROR otherwise. */
static sb_status_t fail(pg_reader_t *r, const char *what, const char *why)
{
  bool again = r->db == NULL || strstr(why, QUERY_CANCELED) != NULL;
  snprintf(r->base.err, r->base.errlen, "ledger: cannot %s in %s: %s", what,
           r->shown, why);
  return again ? SB_AGAIN : SB_ERROR;
}

static sb_status_t pg_scan(sb_report_reader_t *base,
                           const sb_ledger_filter_t *f, sb_tally_t *t)
{
  pg_reader_t *r = (pg_reader_t *)base;
  char why[256];
  params_t p;
  sb_status_t rc = SB_ERROR;
  PGresult *res = NULL;
  if (!params_set(&p, f)) {
    snprintf(r->base.err, r->base.errlen, "ledger: out of memory");
    goto out;
  }
  if (!sb_pg_ok(&r->db,
                "DECLARE report NO SCROLL CURSOR FOR SELECT " SB_REPORT_COLUMNS
                " FROM generations g" WHERE,
                6, p.vals, why, sizeof(why))) {
    rc = fail(r, "read the ledger", why);
    goto out;
  }
  int64_t deadline = mono_ms() + REPORT_DEADLINE_MS;
  for (;;) {
    res = sb_pg_run(&r->db, "FETCH FORWARD " STR(FETCH_ROWS) " FROM report",
                    0, NULL, PGRES_TUPLES_OK, why, sizeof(why));
    if (res == NULL) {
      rc = fail(r, "read the ledger", why);
      goto out;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
      sb_tally_row_t tr;
      int c = 0;
      tr.created_ms = sb_pg_i64(res, i, c++);
      for (int d = 0; d < SB_DIM_N; d++)
        tr.dim[d] = PQgetvalue(res, i, c++);
      tr.status = (int)sb_pg_i64(res, i, c++);
      tr.prompt = (uint64_t)sb_pg_i64(res, i, c++);
      tr.completion = (uint64_t)sb_pg_i64(res, i, c++);
      tr.cached = (uint64_t)sb_pg_i64(res, i, c++);
      tr.reasoning = (uint64_t)sb_pg_i64(res, i, c++);
      tr.cost_pico = sb_pg_i64(res, i, c++);
      tr.latency_ms = (uint32_t)sb_pg_i64(res, i, c++);
      tr.ttft_ms = (uint32_t)sb_pg_i64(res, i, c++);
      if (sb_tally_add(t, &tr) != SB_OK) {
        snprintf(r->base.err, r->base.errlen,
                 "ledger: out of memory for the report");
        goto out;
      }
    }
    PQclear(res);
    res = NULL;
    if (n < FETCH_ROWS)
      break;
    if (mono_ms() > deadline) {
      snprintf(r->base.err, r->base.errlen,
               "ledger: the report took longer than %d s in %s: choose a "
               "shorter range",
               REPORT_DEADLINE_MS / 1000, r->shown);
      rc = SB_AGAIN;
      goto out;
    }
  }
  rc = SB_OK;
out:
  PQclear(res);
  params_free(&p);
  return rc;
}

/* `v` as an element of an array literal: quoted, '"' and '\' escaped. */
static sb_status_t array_item(sb_buf_t *b, const char *v, bool first)
{
  sb_status_t rc = sb_buf_appendz(b, first ? "\"" : ",\"");
  for (const char *p = v; *p != '\0' && rc == SB_OK; p++) {
    if (*p == '"' || *p == '\\')
      rc = sb_buf_append(b, "\\", 1);
    if (rc == SB_OK)
      rc = sb_buf_append(b, p, 1);
  }
  return rc == SB_OK ? sb_buf_appendz(b, "\"") : rc;
}

/* One query for every group: the keys table keeps a deleted key's name
 * too. */
static sb_status_t pg_key_names(sb_report_reader_t *base, sb_ledger_group_t *g,
                                size_t n)
{
  pg_reader_t *r = (pg_reader_t *)base;
  if (n == 0)
    return SB_OK;
  sb_buf_t list;
  sb_buf_init(&list, 0);
  sb_status_t rc = sb_buf_appendz(&list, "{");
  for (size_t i = 0; i < n && rc == SB_OK; i++)
    rc = array_item(&list, g[i].id, i == 0);
  if (rc == SB_OK)
    rc = sb_buf_appendz(&list, "}");
  if (rc == SB_OK)
    rc = sb_buf_cstr(&list);
  if (rc != SB_OK) {
    sb_buf_free(&list);
    snprintf(r->base.err, r->base.errlen, "ledger: out of memory");
    return SB_ERROR;
  }
  char why[256];
  const char *vals[] = {list.data};
  PGresult *res = sb_pg_run(
      &r->db, "SELECT hash, name FROM keys WHERE hash = ANY($1::text[])", 1,
      vals, PGRES_TUPLES_OK, why, sizeof(why));
  sb_buf_free(&list);
  if (res == NULL)
    return fail(r, "read the keys", why);
  for (int k = 0; k < PQntuples(res); k++)
    for (size_t i = 0; i < n; i++)
      if (strcmp(g[i].id, PQgetvalue(res, k, 0)) == 0)
        snprintf(g[i].name, sizeof(g[i].name), "%s", PQgetvalue(res, k, 1));
  PQclear(res);
  return SB_OK;
}

static sb_status_t pg_recent(sb_report_reader_t *base,
                             const sb_ledger_filter_t *f, bool errors_only,
                             size_t limit, sb_ledger_row_t *rows, size_t *n)
{
  pg_reader_t *r = (pg_reader_t *)base;
  params_t p;
  char why[256];
  sb_status_t rc = SB_ERROR;
  if (!params_set(&p, f)) {
    snprintf(r->base.err, r->base.errlen, "ledger: out of memory");
    goto out;
  }
  snprintf(p.extra, sizeof(p.extra), "%zu", limit);
  PGresult *res = sb_pg_run(
      &r->db,
      errors_only ? "SELECT " SB_LEDGER_ROW_COLUMNS " FROM generations g" WHERE
                    " AND g.status >= 400" NEWEST_FIRST " LIMIT $7::bigint"
                  : "SELECT " SB_LEDGER_ROW_COLUMNS
                    " FROM generations g" WHERE NEWEST_FIRST
                    " LIMIT $7::bigint",
      7, p.vals, PGRES_TUPLES_OK, why, sizeof(why));
  if (res == NULL) {
    rc = fail(r, "read the ledger", why);
    goto out;
  }
  for (int i = 0; i < PQntuples(res) && *n < limit; i++)
    sb_pg_read_row(res, i, &rows[(*n)++]);
  PQclear(res);
  rc = SB_OK;
out:
  params_free(&p);
  return rc;
}

static void pg_close(sb_report_reader_t *base)
{
  pg_reader_t *r = (pg_reader_t *)base;
  PQfinish(r->db); /* ends the read-only transaction */
  free(r);
}

static const sb_report_reader_ops_t pg_ops = {pg_scan, pg_key_names, pg_recent,
                                              pg_close};

sb_report_reader_t *sb_report_reader_pg(const char *url, char *err,
                                        size_t errlen, sb_status_t *rc)
{
  *rc = SB_ERROR;
  pg_reader_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    snprintf(err, errlen, "ledger: out of memory for the report");
    return NULL;
  }
  r->base = (sb_report_reader_t){&pg_ops, err, errlen};
  sb_store_redact(url, r->shown, sizeof(r->shown));
  char why[256];
  r->db = sb_pg_connect(url, r->shown, why, sizeof(why));
  if (r->db == NULL) {
    snprintf(err, errlen, "ledger: %s", why);
    *rc = SB_AGAIN;
    goto fail;
  }
  if (!sb_pg_ok(&r->db,
                "BEGIN TRANSACTION READ ONLY ISOLATION LEVEL REPEATABLE READ;"
                "SET LOCAL statement_timeout = " STR(STATEMENT_TIMEOUT_MS),
                0, NULL, why, sizeof(why))) {
    *rc = fail(r, "read the ledger", why);
    goto fail;
  }
  *rc = SB_OK;
  return &r->base;
fail:
  pg_close(&r->base);
  return NULL;
}
