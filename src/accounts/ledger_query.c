/* SPDX-License-Identifier: MIT */
/*
 * Reports over the ledger; see ledger_query.h. The same for every store:
 * a reader of the store the ledger has (ledger_query_reader.h: SQLite or
 * Postgres) is opened for the call; a report reads the range's rows once
 * and sums them in memory (ledger_tally.c): one pass instead of one per
 * figure.
 */
#include "switchboard/ledger_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_query_reader.h"
#include "ledger_read.h"
#include "switchboard/store.h"

const char *const sb_ledger_dim_names[SB_DIM_N] = {"model", "provider", "key",
                                                   "agent"};

uint64_t sb_ledger_bucket_count(int64_t from_ms, int64_t to_ms,
                                int64_t bucket_ms)
{
  if (bucket_ms <= 0 || to_ms <= from_ms || from_ms < 0)
    return 0;
  int64_t start = from_ms / bucket_ms * bucket_ms;
  return (uint64_t)((to_ms - 1 - start) / bucket_ms) + 1;
}

/* A reader of the ledger's store; NULL with *rc and `err` set. */
static sb_report_reader_t *reader_open(sb_ledger_t *l, char *err,
                                       size_t errlen, sb_status_t *rc)
{
  const char *db = sb_ledger_database(l);
  if (strncmp(db, "sqlite:", 7) == 0)
    return sb_report_reader_sqlite(db + 7, err, errlen, rc);
  if (sb_store_is_postgres(db))
    return sb_report_reader_pg(db, err, errlen, rc);
  *rc = SB_ERROR;
  snprintf(err, errlen, "ledger: no reports for this store");
  return NULL;
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
  sb_status_t rc = SB_ERROR;
  sb_report_reader_t *r = NULL;
  sb_tally_t *t = sb_tally_new(q);
  if (t == NULL) {
    snprintf(err, errlen, "ledger: out of memory for the report");
    goto out;
  }
  if ((r = reader_open(l, err, errlen, &rc)) == NULL)
    goto out;
  if ((rc = r->ops->scan(r, f, t)) != SB_OK)
    goto out;
  if (sb_tally_finish(t, out) != SB_OK) {
    snprintf(err, errlen, "ledger: out of memory for the report");
    rc = SB_ERROR;
    goto out;
  }
  if ((q->dims & (1u << SB_DIM_KEY)) != 0)
    rc = r->ops->key_names(r, out->groups[SB_DIM_KEY],
                           out->n_groups[SB_DIM_KEY]);
out:
  if (r != NULL)
    r->ops->close(r);
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
  sb_status_t rc = SB_ERROR;
  sb_report_reader_t *r = NULL;
  *rows = calloc(limit, sizeof(**rows));
  if (*rows == NULL) {
    snprintf(err, errlen, "ledger: out of memory for the rows");
    goto out;
  }
  if ((r = reader_open(l, err, errlen, &rc)) == NULL)
    goto out;
  rc = r->ops->recent(r, f, errors_only, limit, *rows, n);
out:
  if (r != NULL)
    r->ops->close(r);
  if (rc != SB_OK) {
    free(*rows);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}
