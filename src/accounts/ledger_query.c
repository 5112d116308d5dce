/* SPDX-License-Identifier: MIT */
/*
 * Reports over the ledger; see ledger_query.h. Every statement is built
 * from the constant fragments below (never from input: the filter's
 * values are bound) and runs on a read-only connection opened for the
 * call. A report reads the range's rows once and sums them in memory
 * (ledger_tally.c): one pass instead of one per figure.
 *
 * Generation ids begin with the second they were made in
 * ("gen-<unix seconds>-...", sb_ledger_make_id), which is also their
 * row's created_ms: a range of times is a range of the table's primary
 * key, read in order, where the created_ms index would look every row up
 * in the table on its own. The id range is a day wider than the range on
 * both sides; created_ms decides.
 */
#include "switchboard/ledger_query.h"

#include <stdio.h>
#include <stdlib.h>

#include "ledger_read.h"
#include "ledger_tally.h"

const char *const sb_ledger_dim_names[SB_DIM_N] = {"model", "provider", "key",
                                                   "agent"};

/* Parameters ?1 ?2: the range; ?3 .. ?6: the matches, in dimension
 * order; ?7 ?8: the ids that may be in the range (see the top). */
#define WHERE                                                                  \
  " WHERE g.id >= ?7 AND g.id < ?8"                                            \
  " AND g.created_ms >= ?1 AND g.created_ms < ?2"                              \
  " AND (?3 IS NULL OR coalesce(g.model, g.requested_model, '-') = ?3)"        \
  " AND (?4 IS NULL OR coalesce(g.provider, '-') = ?4)"                        \
  " AND (?5 IS NULL OR coalesce(g.key_hash, g.key_label, '-') = ?5)"           \
  " AND (?6 IS NULL OR coalesce(g.agent, '-') = ?6)"

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", s != NULL ? (const char *)s : "");
}

typedef struct {
  sqlite3 *db;
  char *err;
  size_t errlen;
} reader_t;

static sb_status_t fail(reader_t *r, const char *what)
{
  snprintf(r->err, r->errlen, "ledger: cannot %s: %s", what,
           r->db != NULL ? sqlite3_errmsg(r->db) : "out of memory");
  return SB_ERROR;
}

static sb_status_t reader_open(reader_t *r, sb_ledger_t *l, char *err,
                               size_t errlen)
{
  r->db = NULL;
  r->err = err;
  r->errlen = errlen;
  if (sb_ledger_file(l) == NULL) {
    snprintf(err, errlen, "ledger: these reports read a SQLite store; they "
                          "are not built for Postgres yet");
    return SB_ERROR;
  }
  if (sqlite3_open_v2(sb_ledger_file(l), &r->db,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    return fail(r, "open the store for reading");
  /* a checkpoint may hold the WAL index for a moment */
  sqlite3_busy_timeout(r->db, 2000);
  return SB_OK;
}

static void reader_close(reader_t *r)
{
  sqlite3_close(r->db);
  r->db = NULL;
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
static sqlite3_stmt *prepare(reader_t *r, const char *sql,
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
static sb_status_t step(reader_t *r, sqlite3_stmt *st, bool *row)
{
  int rc = sqlite3_step(st);
  *row = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return SB_OK;
  return fail(r, "read the ledger");
}

uint64_t sb_ledger_bucket_count(int64_t from_ms, int64_t to_ms,
                                int64_t bucket_ms)
{
  if (bucket_ms <= 0 || to_ms <= from_ms || from_ms < 0)
    return 0;
  int64_t start = from_ms / bucket_ms * bucket_ms;
  return (uint64_t)((to_ms - 1 - start) / bucket_ms) + 1;
}

/* The columns a report reads, in the order read_row() takes them. */
#define REPORT_COLUMNS                                                         \
  "g.created_ms, coalesce(g.model, g.requested_model, '-'), "                 \
  "coalesce(g.provider, '-'), coalesce(g.key_hash, g.key_label, '-'), "        \
  "coalesce(g.agent, '-'), g.status, g.tokens_prompt, g.tokens_completion, "   \
  "g.tokens_cached, g.tokens_reasoning, g.cost_pico, g.latency_ms, g.ttft_ms"

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

/* Show client keys by name: the keys table keeps a deleted key's too. */
static sb_status_t key_names(reader_t *r, sb_ledger_report_t *out)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT name FROM keys WHERE hash = ?", -1, &st,
                         NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return fail(r, "read the keys");
  }
  sb_status_t rc = SB_OK;
  for (size_t i = 0; i < out->n_groups[SB_DIM_KEY] && rc == SB_OK; i++) {
    sb_ledger_group_t *g = &out->groups[SB_DIM_KEY][i];
    bool row;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    if ((rc = step(r, st, &row)) == SB_OK && row)
      col_copy(st, 0, g->name, sizeof(g->name));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc;
}

sb_status_t sb_ledger_report(sb_ledger_t *l, const sb_ledger_report_query_t *q,
                             sb_ledger_report_t *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  const sb_ledger_filter_t *f = &q->filter;
  if (f->from_ms < 0 || f->to_ms < f->from_ms) {
    snprintf(err, errlen, "the range ends before it starts");
    return SB_DECLINED;
  }
  if (q->bucket_ms < 0 ||
      sb_ledger_bucket_count(f->from_ms, f->to_ms, q->bucket_ms) >
          SB_LEDGER_MAX_BUCKETS) {
    snprintf(err, errlen, "at most %d buckets: choose a longer bucket",
             SB_LEDGER_MAX_BUCKETS);
    return SB_DECLINED;
  }
  reader_t r;
  sb_status_t rc = SB_ERROR;
  sqlite3_stmt *st = NULL;
  sb_tally_t *t = sb_tally_new(q);
  if (reader_open(&r, l, err, errlen) != SB_OK)
    goto out;
  if (t == NULL) {
    snprintf(err, errlen, "ledger: out of memory for the report");
    goto out;
  }
  st = prepare(&r, "SELECT " REPORT_COLUMNS " FROM generations g" WHERE, f);
  if (st == NULL)
    goto out;
  bool row;
  while ((rc = step(&r, st, &row)) == SB_OK && row) {
    sb_tally_row_t tr;
    read_row(st, &tr);
    if (sb_tally_add(t, &tr) != SB_OK) {
      rc = fail(&r, "sum the report");
      break;
    }
  }
  if (rc == SB_OK && sb_tally_finish(t, out) != SB_OK)
    rc = fail(&r, "sum the report");
  if (rc == SB_OK && (q->dims & (1u << SB_DIM_KEY)) != 0)
    rc = key_names(&r, out);
out:
  sqlite3_finalize(st);
  reader_close(&r);
  sb_tally_free(t);
  return rc;
}

void sb_ledger_report_free(sb_ledger_report_t *r)
{
  free(r->series);
  for (int d = 0; d < SB_DIM_N; d++)
    free(r->groups[d]);
  memset(r, 0, sizeof(*r));
}

sb_status_t sb_ledger_recent(sb_ledger_t *l, const sb_ledger_filter_t *f,
                             bool errors_only, size_t limit,
                             sb_ledger_row_t **rows, size_t *n, char *err,
                             size_t errlen)
{
  *rows = NULL;
  *n = 0;
  if (limit == 0)
    return SB_OK;
  reader_t r;
  sb_status_t rc = SB_ERROR;
  sqlite3_stmt *st = NULL;
  if (reader_open(&r, l, err, errlen) != SB_OK)
    goto out;
  *rows = calloc(limit, sizeof(**rows));
  if (*rows == NULL) {
    fail(&r, "allocate the rows");
    goto out;
  }
  /* newest first: ids sort by creation time (to the microsecond), so
   * the primary key read backwards */
  st = prepare(&r,
               errors_only ? "SELECT " SB_LEDGER_ROW_COLUMNS
                             " FROM generations g" WHERE
                             " AND g.status >= 400"
                             " ORDER BY g.id DESC LIMIT ?9"
                           : "SELECT " SB_LEDGER_ROW_COLUMNS
                             " FROM generations g" WHERE
                             " ORDER BY g.id DESC LIMIT ?9",
               f);
  if (st == NULL)
    goto out;
  sqlite3_bind_int64(st, 9, (sqlite3_int64)limit);
  bool row;
  while ((rc = step(&r, st, &row)) == SB_OK && row && *n < limit)
    sb_ledger_read_row(st, &(*rows)[(*n)++]);
out:
  sqlite3_finalize(st);
  reader_close(&r);
  if (rc != SB_OK) {
    free(*rows);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}
