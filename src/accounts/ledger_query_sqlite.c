/* SPDX-License-Identifier: MIT */
/*
 * The reports' reader of the SQLite store (ledger_query_reader.h): a
 * read-only connection to the database file, opened for the call. Every
 * statement is built from the constant fragments below (never from
 * input: the filter's values are bound).
 *
 * Generation ids begin with the second they were made in
 * ("gen-<unix seconds>-...", sb_ledger_make_id), which is also their
 * row's created_ms: a range of times is a range of the table's primary
 * key, read in order, where the created_ms index would look every row up
 * in the table on its own. The id range is a day wider than the range on
 * both sides; created_ms decides.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "ledger_query_reader.h"
#include "ledger_read.h"

/* Parameters ?1 ?2: the range; ?3 .. ?6: the matches, in dimension
 * order; ?7 ?8: the ids that may be in the range (see the top). */
#define WHERE                                                                  \
  " WHERE g.id >= ?7 AND g.id < ?8"                                            \
  " AND g.created_ms >= ?1 AND g.created_ms < ?2"                              \
  " AND (?3 IS NULL OR coalesce(g.model, g.requested_model, '-') = ?3)"        \
  " AND (?4 IS NULL OR coalesce(g.provider, '-') = ?4)"                        \
  " AND (?5 IS NULL OR coalesce(g.key_hash, g.key_label, '-') = ?5)"           \
  " AND (?6 IS NULL OR coalesce(g.agent, '-') = ?6)"

typedef struct {
  sb_report_reader_t base;
  sqlite3 *db;
} sq_reader_t;

static sb_status_t fail(sq_reader_t *r, const char *what)
{
  snprintf(r->base.err, r->base.errlen, "ledger: cannot %s: %s", what,
           r->db != NULL ? sqlite3_errmsg(r->db) : "out of memory");
  return SB_ERROR;
}

/* "gen-<seconds>" as ids write them (10 digits: until the year 2286),
 * to compare ids with; past 10 digits, above every id. */
static void id_bound(char *out, size_t cap, int64_t seconds)
{
  if (seconds >= 10000000000LL)
    snprintf(out, cap, "gen-:"); /* ':' follows '9' */
  else
    snprintf(out, cap, "gen-%010lld", (long long)SB_MAX(seconds, 0));
}

/* A statement with the filter bound; NULL on failure (err set). */
static sqlite3_stmt *prepare(sq_reader_t *r, const char *sql,
                             const sb_ledger_filter_t *f)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
    fail(r, "read the ledger");
    sqlite3_finalize(st);
    return NULL;
  }
  sqlite3_bind_int64(st, 1, f->from_ms);
  sqlite3_bind_int64(st, 2, f->to_ms);
  for (int d = 0; d < SB_DIM_N; d++)
    if (f->match[d] != NULL)
      sqlite3_bind_text(st, 3 + d, f->match[d], -1, SQLITE_STATIC);
  char lo[32], hi[32];
  id_bound(lo, sizeof(lo), f->from_ms / 1000 - 86400);
  id_bound(hi, sizeof(hi), f->to_ms / 1000 + 86400);
  sqlite3_bind_text(st, 7, lo, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 8, hi, -1, SQLITE_TRANSIENT);
  return st;
}

/* Step through the rows of `st`; SB_ERROR (err set) if a step fails. */
static sb_status_t step(sq_reader_t *r, sqlite3_stmt *st, bool *row)
{
  int rc = sqlite3_step(st);
  *row = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return SB_OK;
  return fail(r, "read the ledger");
}

static void read_row(sqlite3_stmt *st, sb_tally_row_t *r)
{
  int i = 0;
  r->created_ms = sqlite3_column_int64(st, i++);
  for (int d = 0; d < SB_DIM_N; d++)
    r->dim[d] = (const char *)sqlite3_column_text(st, i++);
  r->status = sqlite3_column_int(st, i++);
  r->prompt = (uint64_t)sqlite3_column_int64(st, i++);
  r->completion = (uint64_t)sqlite3_column_int64(st, i++);
  r->cached = (uint64_t)sqlite3_column_int64(st, i++);
  r->reasoning = (uint64_t)sqlite3_column_int64(st, i++);
  r->cost_pico = sqlite3_column_int64(st, i++);
  r->latency_ms = (uint32_t)sqlite3_column_int64(st, i++);
  r->ttft_ms = (uint32_t)sqlite3_column_int64(st, i++);
}

static sb_status_t sq_scan(sb_report_reader_t *base,
                           const sb_ledger_filter_t *f, sb_tally_t *t)
{
  sq_reader_t *r = (sq_reader_t *)base;
  sqlite3_stmt *st =
      prepare(r, "SELECT " SB_REPORT_COLUMNS " FROM generations g" WHERE, f);
  if (st == NULL)
    return SB_ERROR;
  sb_status_t rc;
  bool row;
  while ((rc = step(r, st, &row)) == SB_OK && row) {
    sb_tally_row_t tr;
    read_row(st, &tr);
    if (sb_tally_add(t, &tr) != SB_OK) {
      rc = fail(r, "sum the report");
      break;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

/* The keys table keeps a deleted key's name too. */
static sb_status_t sq_key_names(sb_report_reader_t *base, sb_ledger_group_t *g,
                                size_t n)
{
  sq_reader_t *r = (sq_reader_t *)base;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT name FROM keys WHERE hash = ?", -1, &st,
                         NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return fail(r, "read the keys");
  }
  sb_status_t rc = SB_OK;
  for (size_t i = 0; i < n && rc == SB_OK; i++) {
    bool row;
    sqlite3_bind_text(st, 1, g[i].id, -1, SQLITE_STATIC);
    if ((rc = step(r, st, &row)) == SB_OK && row) {
      const unsigned char *s = sqlite3_column_text(st, 0);
      snprintf(g[i].name, sizeof(g[i].name), "%s",
               s != NULL ? (const char *)s : "");
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}

static sb_status_t sq_recent(sb_report_reader_t *base,
                             const sb_ledger_filter_t *f, bool errors_only,
                             size_t limit, sb_ledger_row_t *rows, size_t *n)
{
  sq_reader_t *r = (sq_reader_t *)base;
  /* newest first: ids sort by creation time (to the microsecond), so
   * the primary key read backwards */
  sqlite3_stmt *st =
      prepare(r,
              errors_only ? "SELECT " SB_LEDGER_ROW_COLUMNS
                            " FROM generations g" WHERE " AND g.status >= 400"
                            " ORDER BY g.id DESC LIMIT ?9"
                          : "SELECT " SB_LEDGER_ROW_COLUMNS
                            " FROM generations g" WHERE
                            " ORDER BY g.id DESC LIMIT ?9",
              f);
  if (st == NULL)
    return SB_ERROR;
  sqlite3_bind_int64(st, 9, (sqlite3_int64)limit);
  sb_status_t rc;
  bool row;
  while ((rc = step(r, st, &row)) == SB_OK && row && *n < limit)
    sb_ledger_read_row(st, &rows[(*n)++]);
  sqlite3_finalize(st);
  return rc;
}

static void sq_close(sb_report_reader_t *base)
{
  sq_reader_t *r = (sq_reader_t *)base;
  sqlite3_close(r->db);
  free(r);
}

static const sb_report_reader_ops_t sqlite_ops = {sq_scan, sq_key_names,
                                                  sq_recent, sq_close};

sb_report_reader_t *sb_report_reader_sqlite(const char *path, char *err,
                                            size_t errlen, sb_status_t *rc)
{
  *rc = SB_ERROR;
  sq_reader_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    snprintf(err, errlen, "ledger: out of memory for the report");
    return NULL;
  }
  r->base = (sb_report_reader_t){&sqlite_ops, err, errlen};
  if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    fail(r, "open the store for reading");
    sq_close(&r->base);
    return NULL;
  }
  /* a checkpoint may hold the WAL index for a moment */
  sqlite3_busy_timeout(r->db, 2000);
  *rc = SB_OK;
  return &r->base;
}
