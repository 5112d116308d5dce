/* SPDX-License-Identifier: MIT */
/*
 * The form in which ledger entries a failing store refused until the end
 * are kept outside it (src/accounts/ledger.c, docs/accounts.md): one JSON
 * object per line, written to `PATH-unsaved.jsonl` at close (or to the log
 * when even that fails) and read back by the next open.
 *
 *   {"row": {"id": "gen-...", "created_ms": ..., "cost_pico": ..., ...}}
 *   {"key": {"hash": "...", "name": "...", ...}}
 *   {"key_deleted": {"hash": "...", ...}}
 *
 * Members are named after the `generations` and `keys` columns. Private to
 * src/accounts/.
 */
#ifndef SWITCHBOARD_LEDGER_SPILL_H
#define SWITCHBOARD_LEDGER_SPILL_H

#include "switchboard/buf.h"
#include "switchboard/ledger.h"

typedef enum {
  SB_SPILL_ROW,
  SB_SPILL_KEY,
  SB_SPILL_KEY_DELETED,
} sb_spill_kind_t;

/* Append one entry as a JSON line (with its '\n') to `b`. */
sb_status_t sb_spill_row(sb_buf_t *b, const sb_ledger_row_t *r);
sb_status_t sb_spill_key(sb_buf_t *b, const sb_key_record_t *k, bool deleted);

/* Read one line back into `row` or `key` (the other is left alone).
 * SB_ERROR for a line that is not such an entry. Members it lacks are
 * zero, strings longer than their field are cut. */
sb_status_t sb_spill_parse(sb_slice_t line, sb_spill_kind_t *kind,
                           sb_ledger_row_t *row, sb_key_record_t *key);

#endif
