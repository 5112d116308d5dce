/* SPDX-License-Identifier: MIT */
/*
 * Reports from the ledger for the dashboard (docs/dashboard.md), admin key
 * only (or local mode):
 *
 *   GET /api/v1/stats?from=&to=&bucket=&by=&limit=&model=&provider=&key=&agent=
 *       totals, latency percentiles, a series over time and the top groups
 *       by model, provider, key and agent;
 *   GET /api/v1/generations?from=&to=&limit=&errors=&model=&provider=&key=&agent=
 *       the most recent rows, newest first, in GET /api/v1/generation's
 *       shape.
 *
 * Times are milliseconds since the epoch, a UTC time
 * ("2026-12-05T13:00:00Z"), `now`, or a duration before now ("24h",
 * "7d"). The reads may take a while on a large ledger: they run on
 * libuv's thread pool (ledger_query.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpoint.h"
#include "reports.h"
#include "switchboard/clock.h"
#include "switchboard/ledger_query.h"
#include "switchboard/pricing.h"

#define DEFAULT_GROUPS 20
#define DEFAULT_ROWS 50
#define MAX_ROWS 500
/* a series of at most this many buckets when the bucket is "auto" */
#define AUTO_BUCKETS 100

/* "30s", "15m", "24h", "7d", "2w" in ms; SB_ERROR otherwise. */
static sb_status_t parse_duration(sb_slice_t s, int64_t *ms)
{
  static const struct {
    char unit;
    int64_t ms;
  } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000},
               {'w', 604800000}};
  uint64_t n;
  if (s.len < 2 ||
      sb_slice_to_u64(sb_slice(s.ptr, s.len - 1), 100000000, &n) != SB_OK)
    return SB_ERROR;
  for (size_t i = 0; i < SB_ARRAY_LEN(units); i++)
    if (s.ptr[s.len - 1] == units[i].unit) {
      *ms = (int64_t)n * units[i].ms;
      return SB_OK;
    }
  return SB_ERROR;
}

/* A time parameter (see the top); `dflt` when absent. */
static sb_status_t param_time(sb_http_exchange_t *x, const char *name,
                              int64_t now, int64_t dflt, int64_t *out)
{
  sb_slice_t v = sb_http_query_param(&x->arena, x->req.query, name);
  uint64_t n;
  int64_t ago;
  if (v.ptr == NULL || v.len == 0)
    *out = dflt;
  else if (SB_SLICE_IS(v, "now"))
    *out = now;
  else if (sb_slice_to_u64(v, (uint64_t)INT64_MAX / 2, &n) == SB_OK)
    *out = (int64_t)n;
  else if (parse_duration(v, &ago) == SB_OK)
    *out = SB_MAX(now - ago, 0);
  else if (sb_api_parse_utc(v, out) != SB_OK || *out < 0) {
    sb_api_error(x, 400, "invalid_request",
                 "'%s' must be milliseconds since the epoch, a UTC time like "
                 "2026-12-05T13:00:00Z, 'now' or a duration before now like "
                 "24h or 7d", name);
    return SB_ERROR;
  }
  return SB_OK;
}

/* The range [from, to): by default the last 24 hours. */
static sb_status_t param_range(sb_http_exchange_t *x, int64_t dflt_span,
                               sb_ledger_filter_t *f)
{
  int64_t now = sb_wall_ms();
  if (param_time(x, "to", now, now + 1, &f->to_ms) != SB_OK ||
      param_time(x, "from", now, SB_MAX(f->to_ms - dflt_span, 0),
                 &f->from_ms) != SB_OK)
    return SB_ERROR;
  if (f->to_ms < f->from_ms) {
    sb_api_error(x, 400, "invalid_request", "'to' is before 'from'");
    return SB_ERROR;
  }
  /* the rest of the filter: model=, provider=, key=, agent= */
  for (int d = 0; d < SB_DIM_N; d++) {
    sb_slice_t v = sb_http_query_param(&x->arena, x->req.query,
                                       sb_ledger_dim_names[d]);
    if (v.ptr != NULL && v.len > 0)
      f->match[d] = sb_arena_strndup(&x->arena, v.ptr, v.len);
  }
  return SB_OK;
}

static sb_status_t param_count(sb_http_exchange_t *x, const char *name,
                               size_t dflt, size_t max, size_t *out)
{
  sb_slice_t v = sb_http_query_param(&x->arena, x->req.query, name);
  uint64_t n = dflt;
  if (v.ptr != NULL && v.len > 0 &&
      (sb_slice_to_u64(v, max, &n) != SB_OK || n == 0)) {
    sb_api_error(x, 400, "invalid_request", "'%s' must be a number from 1 to %zu",
                 name, max);
    return SB_ERROR;
  }
  *out = (size_t)n;
  return SB_OK;
}

/* The smallest usual step that draws the range in at most AUTO_BUCKETS. */
static int64_t auto_bucket(int64_t from, int64_t to)
{
  static const int64_t steps[] = {60000,    300000,   900000,   1800000,
                                  3600000,  10800000, 21600000, 43200000,
                                  86400000, 604800000};
  for (size_t i = 0; i < SB_ARRAY_LEN(steps); i++)
    if (sb_ledger_bucket_count(from, to, steps[i]) <= AUTO_BUCKETS)
      return steps[i];
  int64_t week = steps[SB_ARRAY_LEN(steps) - 1];
  return ((to - from) / AUTO_BUCKETS / week + 1) * week;
}

static sb_status_t param_bucket(sb_http_exchange_t *x,
                                const sb_ledger_filter_t *f, int64_t *out)
{
  sb_slice_t v = sb_http_query_param(&x->arena, x->req.query, "bucket");
  uint64_t n;
  if (v.ptr == NULL || v.len == 0 || SB_SLICE_IS(v, "auto"))
    *out = auto_bucket(f->from_ms, f->to_ms);
  else if (SB_SLICE_IS(v, "none"))
    *out = 0;
  else if (sb_slice_to_u64(v, (uint64_t)INT64_MAX / 2, &n) == SB_OK && n > 0)
    *out = (int64_t)n;
  else if (parse_duration(v, out) != SB_OK || *out == 0) {
    sb_api_error(x, 400, "invalid_request",
                 "'bucket' must be auto, none, a duration like 5m or 1h, or "
                 "milliseconds");
    return SB_ERROR;
  }
  if (sb_ledger_bucket_count(f->from_ms, f->to_ms, *out) > SB_LEDGER_MAX_BUCKETS) {
    sb_api_error(x, 400, "invalid_request",
                 "the range would have more than %d buckets: choose a longer "
                 "bucket", SB_LEDGER_MAX_BUCKETS);
    return SB_ERROR;
  }
  return SB_OK;
}

/* by=model,provider,key,agent: the groupings asked for (default: model). */
static sb_status_t param_dims(sb_http_exchange_t *x, unsigned *dims)
{
  sb_slice_t v = sb_http_query_param(&x->arena, x->req.query, "by");
  *dims = 0;
  if (v.ptr == NULL || v.len == 0) {
    *dims = 1u << SB_DIM_MODEL;
    return SB_OK;
  }
  while (v.len > 0) {
    const char *comma = memchr(v.ptr, ',', v.len);
    sb_slice_t name = sb_slice(v.ptr, comma != NULL ? (size_t)(comma - v.ptr) : v.len);
    int d = 0;
    while (d < SB_DIM_N && !sb_slice_eq(name, sb_slice_z(sb_ledger_dim_names[d])))
      d++;
    if (d == SB_DIM_N) {
      sb_api_error(x, 400, "invalid_request",
                   "'by' takes model, provider, key and agent, separated by "
                   "commas");
      return SB_ERROR;
    }
    *dims |= 1u << d;
    v = comma != NULL ? sb_slice(comma + 1, v.len - name.len - 1) : SB_NULL_SLICE;
  }
  return SB_OK;
}

/* A report's job (`size` bytes, zeroed), once the caller may read the
 * ledger; NULL: answered (403, 503). */
static void *job_new(sb_http_exchange_t *x, const sb_identity_t *who,
                     size_t size)
{
  if (!sb_api_need_admin(x, who, "the ledger's reports"))
    return NULL;
  if (x->worker->gw->ledger == NULL) {
    sb_api_error(x, 503, "server", "no ledger is configured");
    return NULL;
  }
  void *j = calloc(1, size);
  if (j == NULL)
    sb_api_error(x, 503, "server", "out of memory");
  return j;
}

/* Stats reports being read at once, at most. They share libuv's thread
 * pool (4 threads unless UV_THREADPOOL_SIZE says otherwise) with the
 * waits of durable responses and key changes for their commits, and a
 * long range can take seconds: the other threads stay free for those.
 * (The most recent rows are a short read backwards: not counted.) */
#define MAX_REPORTS 2
static _Atomic int reports;

/* Take a slot; false: answered 503 with Retry-After. */
static bool report_slot(sb_http_exchange_t *x)
{
  if (atomic_fetch_add(&reports, 1) < MAX_REPORTS)
    return true;
  atomic_fetch_sub(&reports, 1);
  sb_http_add_head(x, "Retry-After: 1\r\n");
  sb_api_error(x, 503, "busy",
               "%d reports are being read already: retry in a moment",
               MAX_REPORTS);
  return false;
}

static void report_free(void *j)
{
  free(j);
  atomic_fetch_sub(&reports, 1);
}

/* A report the store did not answer: 503 when it cannot be reached now (a
 * Postgres down or restarting, SB_AGAIN), else 500. */
static void read_failed(sb_http_exchange_t *x, sb_status_t rc, const char *err)
{
  if (rc == SB_AGAIN)
    sb_api_error(x, 503, "ledger_unavailable", "%s", err);
  else
    sb_api_error(x, 500, "server", "%s", err);
}

static void kv_cost(sb_jw_t *w, const char *k, int64_t pico)
{
  char buf[40];
  size_t n = sb_cost_format(pico, buf, sizeof(buf));
  sb_jw_key(w, k, strlen(k));
  sb_jw_raw(w, buf, n);
}

/* An average in ms, to a tenth. */
static void kv_ms(sb_jw_t *w, const char *k, double v)
{
  sb_jw_key(w, k, strlen(k));
  sb_jw_double(w, (double)(int64_t)(v * 10.0 + 0.5) / 10.0);
}

static void write_sums(sb_jw_t *w, const sb_ledger_sums_t *s)
{
  sb_jw_kv_int(w, SB_STRLIT("requests"), (int64_t)s->requests);
  sb_jw_kv_int(w, SB_STRLIT("errors"), (int64_t)s->errors);
  sb_jw_kv_int(w, SB_STRLIT("tokens_prompt"), (int64_t)s->prompt);
  sb_jw_kv_int(w, SB_STRLIT("tokens_completion"), (int64_t)s->completion);
  sb_jw_kv_int(w, SB_STRLIT("tokens_cached"), (int64_t)s->cached);
  sb_jw_kv_int(w, SB_STRLIT("tokens_reasoning"), (int64_t)s->reasoning);
  kv_cost(w, "cost", s->cost_pico);
  kv_ms(w, "latency_ms", s->latency_ms);
  kv_ms(w, "ttft_ms", s->ttft_ms);
}

/* ---- GET /api/v1/stats ----------------------------------------------------- */

typedef struct {
  sb_ledger_t *ledger;
  sb_ledger_report_query_t q;
  sb_ledger_report_t report;
  sb_status_t rc;
  char err[256];
} report_job_t;

static void report_work(void *data)
{
  report_job_t *j = data;
  j->rc = sb_ledger_report(j->ledger, &j->q, &j->report, j->err, sizeof(j->err));
}

/* The report's object ("data"). */
static void write_report(sb_jw_t *w, const report_job_t *j, uint64_t pending)
{
  const sb_ledger_report_t *r = &j->report;
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("from_ms"), j->q.filter.from_ms);
  sb_jw_kv_int(w, SB_STRLIT("to_ms"), j->q.filter.to_ms);
  sb_jw_kv_int(w, SB_STRLIT("bucket_ms"), j->q.bucket_ms);
  sb_jw_key_lit(w, "pending");
  sb_jw_uint(w, pending);
  sb_jw_key_lit(w, "totals");
  sb_jw_obj_begin(w);
  write_sums(w, &r->total);
  sb_jw_kv_int(w, SB_STRLIT("latency_ms_p50"), r->latency_p50_ms);
  sb_jw_kv_int(w, SB_STRLIT("latency_ms_p95"), r->latency_p95_ms);
  sb_jw_obj_end(w);
  sb_jw_key_lit(w, "series");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < r->n_series; i++) {
    sb_jw_obj_begin(w);
    sb_jw_kv_int(w, SB_STRLIT("start_ms"),
                 r->series_start_ms + (int64_t)i * j->q.bucket_ms);
    write_sums(w, &r->series[i]);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  sb_jw_key_lit(w, "groups");
  sb_jw_obj_begin(w);
  for (int d = 0; d < SB_DIM_N; d++) {
    if ((j->q.dims & (1u << d)) == 0)
      continue;
    sb_jw_key(w, sb_ledger_dim_names[d], strlen(sb_ledger_dim_names[d]));
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < r->n_groups[d]; i++) {
      const sb_ledger_group_t *g = &r->groups[d][i];
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("id"), g->id, strlen(g->id));
      sb_jw_kv_str(w, SB_STRLIT("name"), g->name, strlen(g->name));
      write_sums(w, &g->s);
      sb_jw_obj_end(w);
    }
    sb_jw_arr_end(w);
  }
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

static void report_done(sb_http_exchange_t *x, void *data)
{
  report_job_t *j = data;
  if (x != NULL) {
    if (j->rc == SB_DECLINED) {
      sb_api_error(x, 400, "invalid_request", "%s", j->err);
    } else if (j->rc != SB_OK) {
      read_failed(x, j->rc, j->err);
    } else {
      sb_ledger_stats_t ls;
      sb_ledger_stats(j->ledger, &ls);
      sb_buf_t b;
      sb_jw_t w;
      sb_api_data_begin(&b, &w, 16u << 20);
      write_report(&w, j, ls.waiting);
      sb_jw_obj_end(&w);
      sb_api_data_reply(x, 200, &b, &w);
    }
  }
  sb_ledger_report_free(&j->report);
  report_free(j);
}

void sb_api_stats(sb_http_exchange_t *x, const sb_identity_t *who)
{
  report_job_t *j = job_new(x, who, sizeof(*j));
  if (j == NULL)
    return;
  if (!report_slot(x)) {
    free(j);
    return;
  }
  j->ledger = x->worker->gw->ledger;
  if (param_range(x, 86400000, &j->q.filter) != SB_OK ||
      param_bucket(x, &j->q.filter, &j->q.bucket_ms) != SB_OK ||
      param_dims(x, &j->q.dims) != SB_OK ||
      param_count(x, "limit", DEFAULT_GROUPS, SB_LEDGER_MAX_GROUPS,
                  &j->q.group_limit) != SB_OK ||
      !sb_api_offload(x, report_work, report_done, j))
    report_free(j);
}

/* ---- GET /api/v1/generations ------------------------------------------- */

typedef struct {
  sb_ledger_t *ledger;
  sb_ledger_filter_t filter;
  bool errors_only;
  size_t limit;
  sb_ledger_row_t *rows;
  size_t n;
  sb_status_t rc;
  char err[256];
} recent_job_t;

static void recent_work(void *data)
{
  recent_job_t *j = data;
  j->rc = sb_ledger_recent(j->ledger, &j->filter, j->errors_only, j->limit,
                           &j->rows, &j->n, j->err, sizeof(j->err));
}

static void recent_done(sb_http_exchange_t *x, void *data)
{
  recent_job_t *j = data;
  if (x != NULL && j->rc != SB_OK) {
    read_failed(x, j->rc, j->err);
  } else if (x != NULL) {
    sb_buf_t b;
    sb_jw_t w;
    sb_api_data_begin(&b, &w, 16u << 20);
    sb_jw_arr_begin(&w);
    for (size_t i = 0; i < j->n; i++)
      sb_api_generation_json(&w, &j->rows[i]);
    sb_jw_arr_end(&w);
    sb_jw_obj_end(&w);
    sb_api_data_reply(x, 200, &b, &w);
  }
  free(j->rows);
  free(j);
}

void sb_api_generations(sb_http_exchange_t *x, const sb_identity_t *who)
{
  recent_job_t *j = job_new(x, who, sizeof(*j));
  if (j == NULL)
    return;
  j->ledger = x->worker->gw->ledger;
  sb_slice_t errors = sb_http_query_param(&x->arena, x->req.query, "errors");
  j->errors_only = SB_SLICE_IS(errors, "true") || SB_SLICE_IS(errors, "1");
  /* by default every row: the newest come first anyway */
  if (param_range(x, INT64_MAX / 2, &j->filter) != SB_OK ||
      param_count(x, "limit", DEFAULT_ROWS, MAX_ROWS, &j->limit) != SB_OK ||
      !sb_api_offload(x, recent_work, recent_done, j))
    free(j);
}
