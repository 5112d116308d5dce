/*
 * Reports over the ledger; see ledger_query.h. Every statement is built
 * from the constant fragments below (never from input: the filter's
 * values are bound), runs on a read-only connection opened for the call,
 * and reads inside one transaction, so the totals, the series and the
 * groups of a report describe the same rows.
 */
#include "switchboard/ledger_query.h"

#include <stdio.h>
#include <stdlib.h>

#include "ledger_read.h"

const char *const sb_ledger_dim_names[SB_DIM_N] = {"model", "provider", "key",
                                                   "agent"};

/* A row's value of each dimension (ledger_query.h). */
static const char *const dim_value[SB_DIM_N] = {
    "coalesce(g.model, g.requested_model, '-')",
    "coalesce(g.provider, '-')",
    "coalesce(g.key_hash, g.key_label, '-')",
    "coalesce(g.agent, '-')",
};

/* What a group is shown as: a client key by its name (deleted keys keep
 * theirs in the keys table), anything else by its value. */
static const char *const dim_name[SB_DIM_N] = {
    "min(coalesce(g.model, g.requested_model, '-'))",
    "min(coalesce(g.provider, '-'))",
    "coalesce(max(k.name), max(g.key_label), '-')",
    "min(coalesce(g.agent, '-'))",
};

/* Parameters ?1 ?2: the range; ?3 .. ?6: the matches, in dimension order. */
#define WHERE                                                                  \
  " WHERE g.created_ms >= ?1 AND g.created_ms < ?2"                            \
  " AND (?3 IS NULL OR coalesce(g.model, g.requested_model, '-') = ?3)"        \
  " AND (?4 IS NULL OR coalesce(g.provider, '-') = ?4)"                        \
  " AND (?5 IS NULL OR coalesce(g.key_hash, g.key_label, '-') = ?5)"           \
  " AND (?6 IS NULL OR coalesce(g.agent, '-') = ?6)"

/* The sums' columns, read by read_sums() from its first column on. */
#define SUMS                                                                   \
  "count(*), coalesce(sum(g.status >= 400), 0), "                             \
  "coalesce(sum(g.tokens_prompt), 0), coalesce(sum(g.tokens_completion), 0), " \
  "coalesce(sum(g.tokens_cached), 0), coalesce(sum(g.tokens_reasoning), 0), "  \
  "coalesce(sum(g.cost_pico), 0), coalesce(avg(g.latency_ms), 0), "           \
  "coalesce(avg(nullif(g.ttft_ms, 0)), 0)"

static void read_sums(sqlite3_stmt *st, int i, sb_ledger_sums_t *s)
{
  s->requests = (uint64_t)sqlite3_column_int64(st, i++);
  s->errors = (uint64_t)sqlite3_column_int64(st, i++);
  s->prompt = (uint64_t)sqlite3_column_int64(st, i++);
  s->completion = (uint64_t)sqlite3_column_int64(st, i++);
  s->cached = (uint64_t)sqlite3_column_int64(st, i++);
  s->reasoning = (uint64_t)sqlite3_column_int64(st, i++);
  s->cost_pico = sqlite3_column_int64(st, i++);
  s->latency_ms = sqlite3_column_double(st, i++);
  s->ttft_ms = sqlite3_column_double(st, i++);
}

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

static sb_status_t totals(reader_t *r, const sb_ledger_filter_t *f,
                          sb_ledger_report_t *out)
{
  sqlite3_stmt *st = prepare(r, "SELECT " SUMS " FROM generations g" WHERE, f);
  bool row;
  sb_status_t rc = st != NULL ? step(r, st, &row) : SB_ERROR;
  if (rc == SB_OK && row)
    read_sums(st, 0, &out->total);
  sqlite3_finalize(st);
  return rc;
}

/* The latency at nearest rank ceil(p * n), p in percent. */
static sb_status_t percentile(reader_t *r, const sb_ledger_filter_t *f,
                              uint64_t n, unsigned p, uint32_t *out)
{
  *out = 0;
  if (n == 0)
    return SB_OK;
  uint64_t rank = (n * p + 99) / 100;
  sqlite3_stmt *st = prepare(r,
                             "SELECT g.latency_ms FROM generations g" WHERE
                             " ORDER BY g.latency_ms LIMIT 1 OFFSET ?7",
                             f);
  if (st == NULL)
    return SB_ERROR;
  sqlite3_bind_int64(st, 7, (sqlite3_int64)(rank > 0 ? rank - 1 : 0));
  bool row;
  sb_status_t rc = step(r, st, &row);
  if (rc == SB_OK && row)
    *out = (uint32_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

static sb_status_t series(reader_t *r, const sb_ledger_report_query_t *q,
                          sb_ledger_report_t *out)
{
  const sb_ledger_filter_t *f = &q->filter;
  uint64_t n = sb_ledger_bucket_count(f->from_ms, f->to_ms, q->bucket_ms);
  out->series_start_ms = f->from_ms / q->bucket_ms * q->bucket_ms;
  if (n == 0)
    return SB_OK;
  out->series = calloc((size_t)n, sizeof(*out->series));
  if (out->series == NULL)
    return fail(r, "allocate the series");
  out->n_series = (size_t)n;
  sqlite3_stmt *st = prepare(r,
                             "SELECT (g.created_ms - ?7) / ?8, " SUMS
                             " FROM generations g" WHERE " GROUP BY 1",
                             f);
  if (st == NULL)
    return SB_ERROR;
  sqlite3_bind_int64(st, 7, out->series_start_ms);
  sqlite3_bind_int64(st, 8, q->bucket_ms);
  bool row;
  sb_status_t rc;
  while ((rc = step(r, st, &row)) == SB_OK && row) {
    int64_t b = sqlite3_column_int64(st, 0);
    if (b >= 0 && (uint64_t)b < n)
      read_sums(st, 1, &out->series[b]);
  }
  sqlite3_finalize(st);
  return rc;
}

static sb_status_t groups(reader_t *r, const sb_ledger_report_query_t *q,
                          sb_ledger_dim_t d, sb_ledger_report_t *out)
{
  size_t limit = SB_MIN(q->group_limit, (size_t)SB_LEDGER_MAX_GROUPS);
  if (limit == 0)
    return SB_OK;
  out->groups[d] = calloc(limit, sizeof(*out->groups[d]));
  if (out->groups[d] == NULL)
    return fail(r, "allocate the groups");
  char sql[2048];
  snprintf(sql, sizeof(sql),
           "SELECT %s, %s, " SUMS " FROM generations g%s" WHERE
           " GROUP BY 1 ORDER BY 9 DESC, 3 DESC, 1 LIMIT ?7",
           dim_value[d], dim_name[d],
           d == SB_DIM_KEY ? " LEFT JOIN keys k ON k.hash = g.key_hash" : "");
  sqlite3_stmt *st = prepare(r, sql, &q->filter);
  if (st == NULL)
    return SB_ERROR;
  sqlite3_bind_int64(st, 7, (sqlite3_int64)limit);
  bool row;
  sb_status_t rc;
  while ((rc = step(r, st, &row)) == SB_OK && row && out->n_groups[d] < limit) {
    sb_ledger_group_t *g = &out->groups[d][out->n_groups[d]++];
    col_copy(st, 0, g->id, sizeof(g->id));
    col_copy(st, 1, g->name, sizeof(g->name));
    read_sums(st, 2, &g->s);
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
  if (reader_open(&r, l, err, errlen) != SB_OK) {
    reader_close(&r);
    return SB_ERROR;
  }
  sb_status_t rc = SB_ERROR;
  /* one snapshot for every statement below */
  if (sqlite3_exec(r.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    fail(&r, "read the ledger");
    goto out;
  }
  if (totals(&r, f, out) != SB_OK ||
      percentile(&r, f, out->total.requests, 50, &out->latency_p50_ms) != SB_OK ||
      percentile(&r, f, out->total.requests, 95, &out->latency_p95_ms) != SB_OK)
    goto out;
  if (q->bucket_ms > 0 && series(&r, q, out) != SB_OK)
    goto out;
  for (int d = 0; d < SB_DIM_N; d++)
    if ((q->dims & (1u << d)) != 0 && groups(&r, q, (sb_ledger_dim_t)d, out) != SB_OK)
      goto out;
  rc = SB_OK;
out:
  sqlite3_exec(r.db, "COMMIT", NULL, NULL, NULL);
  reader_close(&r);
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
  /* newest first: the created_ms index, read backwards */
  st = prepare(&r,
               errors_only ? "SELECT " SB_LEDGER_ROW_COLUMNS
                             " FROM generations g" WHERE
                             " AND g.status >= 400"
                             " ORDER BY g.created_ms DESC LIMIT ?7"
                           : "SELECT " SB_LEDGER_ROW_COLUMNS
                             " FROM generations g" WHERE
                             " ORDER BY g.created_ms DESC LIMIT ?7",
               f);
  if (st == NULL)
    goto out;
  sqlite3_bind_int64(st, 7, (sqlite3_int64)limit);
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
