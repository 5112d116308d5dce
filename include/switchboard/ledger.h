/*
 * The ledger: one compact row per request (who, which model, which
 * provider, tokens, exact cost, latency, outcome).
 *
 * Workers never touch the disk: sb_ledger_record() copies the row into an
 * in-memory queue (a mutex held for a pointer swap) and one writer thread
 * commits queued rows in batches. sb_ledger_close() drains the queue before
 * it returns, so a graceful shutdown loses nothing.
 */
#ifndef SWITCHBOARD_LEDGER_H
#define SWITCHBOARD_LEDGER_H

#include "switchboard/pricing.h"

typedef struct {
  char id[48];
  int64_t created_ms;
  char api[16];
  char key_label[80];
  char agent[80];
  char app[160];
  char requested_model[160];
  char model[160];
  char provider[64];
  char upstream_model[160];
  sb_usage_t usage;
  bool usage_estimated;
  int64_t cost_pico;
  uint32_t latency_ms;
  uint32_t ttft_ms;
  int status;
  char finish_reason[32];
  char native_finish_reason[64];
  bool streamed;
  bool cancelled;
  char error[256];
} sb_ledger_row_t;

typedef struct sb_ledger sb_ledger_t;

/* Open (creating or migrating) the store named by `database`
 * ("sqlite:PATH"). */
sb_ledger_t *sb_ledger_open(const char *database, char *err, size_t errlen);
/* Flush everything queued, stop the writer, close the store. */
void sb_ledger_close(sb_ledger_t *l);

/* Queue a row (copied). Never blocks on I/O. */
void sb_ledger_record(sb_ledger_t *l, const sb_ledger_row_t *row);

/* One row by generation id, from the queue or the store. Blocks on the
 * store: call it off the event loop. SB_DECLINED when unknown. */
sb_status_t sb_ledger_get(sb_ledger_t *l, const char *id, sb_ledger_row_t *out);

/* Wait until every row queued so far is committed (tests, shutdown). */
void sb_ledger_flush(sb_ledger_t *l);

/* Rows committed since open, and rows waiting. */
uint64_t sb_ledger_committed(sb_ledger_t *l);

#endif
