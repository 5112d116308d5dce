/* SPDX-License-Identifier: MIT */
/*
 * What the reports (ledger_query.c) need from a store, read-only: the
 * rows of a range, the names of client keys, the most recent rows. One
 * implementation per store: SQLite (ledger_query_sqlite.c) and Postgres
 * (ledger_query_pg.c). The summing (ledger_tally.c) and everything else
 * of a report is the same for both. Private to src/accounts/.
 *
 * A reader is opened for one call, on a connection of its own (never the
 * ledger writer's), used by one thread and closed before the call returns.
 * Every operation returns SB_OK, SB_AGAIN when the store cannot be
 * reached or did not answer in time (a server down or restarting: worth
 * asking again later), or SB_ERROR for anything else; on failure the
 * reader's `err` says why.
 */
#ifndef SWITCHBOARD_LEDGER_QUERY_READER_H
#define SWITCHBOARD_LEDGER_QUERY_READER_H

#include "ledger_tally.h"
#include "switchboard/ledger_query.h"

/* The columns a report reads, in the order of sb_tally_row_t (a SELECT
 * list over `generations g`, the same SQL for every store). */
#define SB_REPORT_COLUMNS                                                      \
  "g.created_ms, coalesce(g.model, g.requested_model, '-'), "                 \
  "coalesce(g.provider, '-'), coalesce(g.key_hash, g.key_label, '-'), "        \
  "coalesce(g.agent, '-'), g.status, g.tokens_prompt, g.tokens_completion, "   \
  "g.tokens_cached, g.tokens_reasoning, g.cost_pico, g.latency_ms, g.ttft_ms"

typedef struct sb_report_reader sb_report_reader_t;

typedef struct {
  /* Every row that passes `f`, added to `t`. */
  sb_status_t (*scan)(sb_report_reader_t *r, const sb_ledger_filter_t *f,
                      sb_tally_t *t);
  /* The name of each client key among `g` (its id is the key's hash) into
   * its `name`; the others keep theirs. */
  sb_status_t (*key_names)(sb_report_reader_t *r, sb_ledger_group_t *g,
                           size_t n);
  /* At most `limit` rows that pass `f` (only errors: `errors_only`),
   * newest first (by id), into rows[0..*n). */
  sb_status_t (*recent)(sb_report_reader_t *r, const sb_ledger_filter_t *f,
                        bool errors_only, size_t limit, sb_ledger_row_t *rows,
                        size_t *n);
  void (*close)(sb_report_reader_t *r);
} sb_report_reader_ops_t;

struct sb_report_reader {
  const sb_report_reader_ops_t *ops;
  char *err; /* the caller's, for the reason of a failure */
  size_t errlen;
};

/* A reader of the SQLite store in file `path`, or of the Postgres
 * database `url`. NULL with *rc (SB_ERROR, SB_AGAIN) and the reason in
 * `err`. */
sb_report_reader_t *sb_report_reader_sqlite(const char *path, char *err,
                                            size_t errlen, sb_status_t *rc);
sb_report_reader_t *sb_report_reader_pg(const char *url, char *err,
                                        size_t errlen, sb_status_t *rc);

#endif
