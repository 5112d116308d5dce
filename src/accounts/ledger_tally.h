/* SPDX-License-Identifier: MIT */
/*
 * A report's figures summed in memory, row by row, in one pass over the
 * ledger (ledger_query.c reads the rows; this adds them up): the totals,
 * exact latency percentiles (a histogram of whole milliseconds), the
 * series' buckets and one table per grouping. Private to src/accounts/.
 *
 * A grouping keeps at most SB_TALLY_MAX_GROUPS distinct values; the rows
 * of any value past those count under "(other)", so memory stays bounded
 * whatever values clients send (an agent name is theirs to choose).
 */
#ifndef SWITCHBOARD_LEDGER_TALLY_H
#define SWITCHBOARD_LEDGER_TALLY_H

#include "switchboard/ledger_query.h"

#define SB_TALLY_MAX_GROUPS 65536
#define SB_TALLY_OTHER "(other)"

typedef struct sb_tally sb_tally_t;

/* One row as the tally reads it (dim[d]: the row's value, NUL-terminated;
 * only those of the groupings asked for are read). */
typedef struct {
  int64_t created_ms;
  const char *dim[SB_DIM_N];
  int status;
  uint64_t prompt, completion, cached, reasoning;
  int64_t cost_pico;
  uint32_t latency_ms, ttft_ms;
} sb_tally_row_t;

/* For query `q` (its range, bucket, groupings and group limit, which
 * must stay valid); NULL when out of memory. */
sb_tally_t *sb_tally_new(const sb_ledger_report_query_t *q);
/* SB_ERROR when out of memory (the tally is then incomplete). */
sb_status_t sb_tally_add(sb_tally_t *t, const sb_tally_row_t *r);
/* The report: totals, percentiles, series, and per grouping the top
 * groups by cost, then requests, then value (each group's name is its
 * value). SB_ERROR when out of memory. */
sb_status_t sb_tally_finish(sb_tally_t *t, sb_ledger_report_t *out);
void sb_tally_free(sb_tally_t *t);

#endif
