/* SPDX-License-Identifier: MIT */
/*
 * Reading ledger rows back: what sb_ledger_get() and the reports share,
 * on SQLite (store_sqlite.c, ledger_query_sqlite.c) and on Postgres (the
 * same columns: store_pg.c, ledger_query_pg.c). Private to src/accounts/.
 */
#ifndef SWITCHBOARD_LEDGER_READ_H
#define SWITCHBOARD_LEDGER_READ_H

#include <sqlite3.h>

#include "switchboard/ledger.h"

/* The `generations` columns sb_ledger_read_row() and sb_pg_read_row()
 * read, in their order (a SELECT list; each prefixed with `g.` so that a
 * query may join). */
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
