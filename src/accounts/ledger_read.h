/* SPDX-License-Identifier: MIT */
/*
 * Reading ledger rows back from the SQLite store: what sb_ledger_get()
 * (store_sqlite.c) and the reports (ledger_query.c) share. Private to
 * src/accounts/.
 */
#ifndef SWITCHBOARD_LEDGER_READ_H
#define SWITCHBOARD_LEDGER_READ_H

#include <sqlite3.h>

#include "switchboard/ledger.h"

/* The `generations` columns sb_ledger_read_row() reads, in its order (a
 * SELECT list; each prefixed with `g.` so that a query may join). */
#define SB_LEDGER_ROW_COLUMNS                                                  \
  "g.id, g.created_ms, g.api, g.key_label, g.agent, g.app, "                  \
  "g.requested_model, g.model, g.provider, g.upstream_model, "                \
  "g.tokens_prompt, g.tokens_completion, g.tokens_cached, "                   \
  "g.tokens_cache_write, g.tokens_reasoning, g.usage_estimated, "             \
  "g.cost_pico, g.latency_ms, g.ttft_ms, g.status, g.finish_reason, "         \
  "g.native_finish_reason, g.streamed, g.cancelled, g.error, g.key_hash, "    \
  "g.overhead_us"

/* The row a statement that selected SB_LEDGER_ROW_COLUMNS stands on. */
void sb_ledger_read_row(sqlite3_stmt *st, sb_ledger_row_t *out);

/* The database the ledger was opened on ("sqlite:PATH", "postgres://..."),
 * for a reader of its own. */
const char *sb_ledger_database(const sb_ledger_t *l);

#endif
