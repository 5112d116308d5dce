/* SPDX-License-Identifier: MIT */
/*
 * The ledger (DESIGN.md, "Store"): one compact row per request (who, which
 * model, which provider, tokens, exact cost, latency, outcome), the client
 * keys and their spend totals. This header is the whole interface the
 * gateway uses; the rows go into a store (store.h): the embedded SQLite
 * file (`database: sqlite:PATH`) or Postgres (`database: postgres://...`).
 *
 * Workers never touch the disk: sb_ledger_record() copies the row into an
 * in-memory queue (a mutex held for a pointer swap) and one writer thread
 * commits queued rows in batches. The queue is bounded: when the writer
 * is 8192 rows behind, sb_ledger_record() waits for its next commit.
 * sb_ledger_close() drains the queue before it returns, so a graceful
 * shutdown loses nothing.
 *
 * When the store refuses a commit (a full disk, an I/O error, a lock held
 * too long), the batch goes back to the head of the queue and is retried,
 * with a growing pause, until the store takes it: no row is dropped. While
 * it fails, nobody waits for room in the queue (a full queue makes
 * sb_ledger_admit() refuse new requests instead), waits for commits end
 * with SB_ERROR at once (see sb_ledger_when_committed), the failure is
 * logged once when it begins and once when it ends, and sb_ledger_stats()
 * says why. A store that still fails at close gets its rows written to
 * `PATH-unsaved.jsonl` next to the database (Postgres:
 * `switchboard-postgres-unsaved.jsonl` in $STATE_DIRECTORY or the working
 * directory), which the next open writes into the store (docs/accounts.md,
 * "When the store fails").
 */
#ifndef SWITCHBOARD_LEDGER_H
#define SWITCHBOARD_LEDGER_H

#include <uv.h>

#include "switchboard/keys.h"
#include "switchboard/pricing.h"

typedef struct {
  char id[48];
  int64_t created_ms;
  char api[16];
  char key_label[96];  /* the key's name, "admin" or "local" */
  char key_hash[65];   /* client keys only */
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
  /* cheap-first escalation (docs/routing.md); 0 when not escalated */
  uint32_t rung;             /* the rung that answered, 1 = cheapest */
  int64_t escalation_pico;   /* what the rungs below it cost */
  int64_t top_rung_pico;     /* the same usage at the top rung's prices */
  /* the gateway's own time on the request: latency minus the time spent
   * waiting for providers, backoffs and a slow client (µs) */
  uint32_t overhead_us;
} sb_ledger_row_t;

typedef struct sb_ledger sb_ledger_t;

typedef struct {
  /* Commit a request's row before its last byte goes out (the caller
   * waits with sb_ledger_when_committed); the store also syncs to disk at
   * every commit (synchronous=FULL) instead of at checkpoints. */
  bool durable;
  /* Delete ledger rows older than this many days (0: keep forever). The
   * per-key daily totals are kept, so budgets and totals stay exact. */
  uint32_t retention_days;
  /* At close, how long a failing store is still retried before what it
   * refused is written to `PATH-unsaved.jsonl` (0: one last attempt). */
  uint32_t close_grace_ms;
} sb_ledger_options_t;

/* A generation id, "gen-<unix seconds>-<20 base62 characters>", written to
 * `out` (48 bytes) with its terminating NUL; returns its length. The first
 * 4 characters after the seconds are the microsecond within that second
 * (62^4 > 10^6), the other 16 come from `r1` and `r2` (95 random bits).
 * Ids therefore sort by creation time: the generations table is keyed by
 * id, and a batch of rows lands at the end of its b-tree instead of on as
 * many pages as it has rows (2.5x less CPU per row, bench/ledger_bench).
 * The reports read a range of times as a range of ids (ledger_query.c):
 * a row's created_ms is its id's second. */
size_t sb_ledger_make_id(char *out, int64_t wall_us, uint64_t r1, uint64_t r2);

/* Open (creating or migrating) the store named by `database`
 * ("sqlite:PATH" or "postgres://..."), write any `PATH-unsaved.jsonl` a failing store left at
 * its last close into it, load the client keys with their spend, start
 * the writer. NULL, with the reason in `err`, when the store cannot be
 * opened or cannot be written (a read-only file or file system, a full
 * disk): a gateway that could not keep its ledger must not start. */
sb_ledger_t *sb_ledger_open(const char *database, char *err, size_t errlen);
sb_ledger_t *sb_ledger_open_with(const char *database,
                                 const sb_ledger_options_t *opts, char *err,
                                 size_t errlen);
bool sb_ledger_is_durable(const sb_ledger_t *l);

/* Told, on the writer's thread, of every batch the store committed: the
 * entries with sequence numbers `first`..`last`, and the shared counters'
 * epoch the commit was ordered in (store.h, SB_STORE_READ_EPOCH; asked
 * only while a function is set). One function at most; NULL removes it. */
typedef void (*sb_ledger_commit_fn)(void *data, uint64_t first, uint64_t last,
                                    uint64_t epoch);
void sb_ledger_on_commit(sb_ledger_t *l, sb_ledger_commit_fn fn, void *data);

/* The store the ledger writes to (store.h; owned by the ledger). Its
 * operations other than load_keys, get, seed and usage are the writer's. */
struct sb_store *sb_ledger_store(sb_ledger_t *l);

/* The client key table loaded from the store (owned by the ledger). */
sb_keys_t *sb_ledger_keys(sb_ledger_t *l);
/* Queue a key's new state (or its deletion) for the store. Returns its
 * sequence number (for sb_ledger_when_committed), 0 if it could not be
 * queued. */
uint64_t sb_ledger_save_key(sb_ledger_t *l, const sb_key_record_t *rec,
                            bool deleted);
/* Flush everything queued, stop the writer, close the store. A store that
 * fails is retried for `close_grace_ms`; what it still refuses then is
 * written to `PATH-unsaved.jsonl` (or, if that cannot be written either,
 * to the log, one JSON line per entry, in the same form). */
void sb_ledger_close(sb_ledger_t *l);

/* Whether a new model request may start. SB_DECLINED, with a message for
 * the client in `why`, while the store fails and either the store is
 * durable (the response could not be delivered) or the queue is full (the
 * request's row could not be kept). Each refusal is counted (`refused`). */
sb_status_t sb_ledger_admit(sb_ledger_t *l, char *why, size_t cap);

/* Queue a row (copied). Never blocks on I/O. Returns the row's sequence
 * number (for sb_ledger_when_committed), 0 if it could not be queued. */
uint64_t sb_ledger_record(sb_ledger_t *l, const sb_ledger_row_t *row);

/* Group commit: call `cb(data)` on `loop`'s thread once the entry with
 * sequence `seq` is committed (w->status SB_OK), or once the store has
 * refused it (SB_ERROR). The writer commits whatever is queued in one
 * transaction and wakes every waiter it covers; the wait itself runs on
 * libuv's thread pool, so the loop never blocks. `w` must stay valid
 * until the callback. SB_ERROR if the wait cannot be started (then call
 * `cb` yourself).
 *
 * A refusal is final and decided together with the entry's fate, so the
 * caller's answer and the store always agree: a key change is withdrawn
 * (it will never be written; undo it in memory), and a ledger row is
 * kept as a response that was not delivered: status 503, cost 0 (its
 * upstream cost named in `error`), written once the store takes it (give
 * the settled spend back: sb_keys_refund). */
typedef struct {
  uv_work_t work;
  sb_ledger_t *l;
  uint64_t seq;
  sb_status_t status;
  void (*cb)(void *data);
  void *data;
} sb_ledger_waiter_t;
sb_status_t sb_ledger_when_committed(sb_ledger_t *l, uv_loop_t *loop,
                                     sb_ledger_waiter_t *w, uint64_t seq,
                                     void (*cb)(void *data), void *data);

/* One row by generation id, from the queue or the store. Blocks on the
 * store: call it off the event loop. SB_DECLINED when unknown. */
sb_status_t sb_ledger_get(sb_ledger_t *l, const char *id, sb_ledger_row_t *out);

/* Wait until every row queued so far is committed (tests, shutdown); while
 * the store fails, that is until it takes them. */
void sb_ledger_flush(sb_ledger_t *l);

/* Rows committed since open. */
uint64_t sb_ledger_committed(sb_ledger_t *l);

typedef struct {
  uint64_t committed;  /* rows (and key changes) committed since open */
  uint64_t waiting;    /* queued, not committed yet */
  uint64_t full_waits; /* times a worker waited because the queue was full */
  bool writer_yields;    /* the writer runs at idle priority now */
  uint64_t writer_boosts; /* times it was raised to normal priority */
  /* when the store fails */
  uint64_t errors;      /* commits the store refused since open */
  uint64_t refused;     /* requests refused by sb_ledger_admit */
  uint64_t undelivered; /* responses not delivered: their rows failed */
  bool failing;         /* the last commit failed */
  bool degraded;        /* failing, or rows held back by failures wait */
  bool refusing;        /* sb_ledger_admit refuses new requests now */
  int64_t degraded_since_ms; /* when the failures began (while degraded) */
  char reason[192];     /* the store's last error (while degraded) */
} sb_ledger_stats_t;
void sb_ledger_stats(sb_ledger_t *l, sb_ledger_stats_t *out);

#endif
