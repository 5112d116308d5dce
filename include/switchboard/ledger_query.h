/* SPDX-License-Identifier: MIT */
/*
 * Reports over the ledger (docs/dashboard.md): totals, a time series and
 * the top groups by model, provider, key or agent over a time range, and
 * the most recent rows. Read-only.
 *
 * Each call opens a read-only connection of its own to the store (SQLite
 * or Postgres, the same answers from either) and closes it before it
 * returns, so a long report never holds up the writer or generation
 * lookups. The calls block on the store: run them
 * off the event loop. They see committed rows only; rows the writer has
 * not committed yet (at most one batch window, docs/accounts.md) are
 * counted by sb_ledger_stats()'s `waiting`.
 */
#ifndef SWITCHBOARD_LEDGER_QUERY_H
#define SWITCHBOARD_LEDGER_QUERY_H

#include "switchboard/ledger.h"

/* What a row is grouped or filtered by. A row's value: its model (the one
 * used, else the one asked for), its provider, its key (the client key's
 * hash, else the label: "admin", "local"), its agent; "-" where the row
 * has none. */
typedef enum {
  SB_DIM_MODEL,
  SB_DIM_PROVIDER,
  SB_DIM_KEY,
  SB_DIM_AGENT,
  SB_DIM_N
} sb_ledger_dim_t;

/* "model", "provider", "key", "agent". */
extern const char *const sb_ledger_dim_names[SB_DIM_N];

/* Rows created in [from_ms, to_ms) whose value of each dimension equals
 * match[dim] (NULL: any value). */
typedef struct {
  int64_t from_ms, to_ms;
  const char *match[SB_DIM_N];
} sb_ledger_filter_t;

/* Sums over a set of rows. An error is a row with status >= 400. */
typedef struct {
  uint64_t requests, errors;
  uint64_t prompt, completion, cached, reasoning; /* tokens */
  int64_t cost_pico;
  double latency_ms; /* average; 0 without rows */
  double ttft_ms;    /* average over the rows that have a first token */
} sb_ledger_sums_t;

typedef struct {
  char id[160];   /* the dimension's value (what a filter matches) */
  char name[160]; /* what to show: for a client key its name */
  sb_ledger_sums_t s;
} sb_ledger_group_t;

/* The most buckets a series may have, and groups per dimension. */
#define SB_LEDGER_MAX_BUCKETS 1000
#define SB_LEDGER_MAX_GROUPS 500

typedef struct {
  sb_ledger_filter_t filter;
  /* The series' step (0: no series). Buckets are aligned on multiples of
   * it since the epoch; the first holds `from`, the last `to - 1`. */
  int64_t bucket_ms;
  unsigned dims;      /* groupings wanted: a bit (1u << dim) each */
  size_t group_limit; /* per dimension: the top groups by cost, then by
                         requests (at most SB_LEDGER_MAX_GROUPS) */
} sb_ledger_report_query_t;

typedef struct {
  sb_ledger_sums_t total;
  uint32_t latency_p50_ms, latency_p95_ms; /* nearest rank; 0 without rows */
  int64_t series_start_ms;                 /* the first bucket's start */
  sb_ledger_sums_t *series;                /* every bucket, empty ones too */
  size_t n_series;
  sb_ledger_group_t *groups[SB_DIM_N];
  size_t n_groups[SB_DIM_N];
} sb_ledger_report_t;

/* Fill `out` (free it with sb_ledger_report_free, also after a failure).
 * SB_DECLINED when the query asks for more than SB_LEDGER_MAX_BUCKETS
 * buckets or a range that ends before it starts; SB_AGAIN when the store
 * cannot be reached now (Postgres down or restarting) or the report took
 * too long; SB_ERROR when it cannot be read. `err` says why. */
sb_status_t sb_ledger_report(sb_ledger_t *l, const sb_ledger_report_query_t *q,
                             sb_ledger_report_t *out, char *err, size_t errlen);
void sb_ledger_report_free(sb_ledger_report_t *r);

/* The buckets a series over [from, to) with step `bucket_ms` has (0 when
 * the range is empty). */
uint64_t sb_ledger_bucket_count(int64_t from_ms, int64_t to_ms,
                                int64_t bucket_ms);

/* At most `limit` rows that pass `f` (only errors: `errors_only`), newest
 * first, into a malloc'd array (*rows; free() it). SB_AGAIN and SB_ERROR
 * as for sb_ledger_report() (`err` says why). */
sb_status_t sb_ledger_recent(sb_ledger_t *l, const sb_ledger_filter_t *f,
                             bool errors_only, size_t limit,
                             sb_ledger_row_t **rows, size_t *n, char *err,
                             size_t errlen);

#endif
