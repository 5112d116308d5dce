/* SPDX-License-Identifier: MIT */
/*
 * The store behind the ledger: where ledger rows, client keys, the per-key
 * daily totals and the schema live. Two implementations share this table
 * of operations: the embedded SQLite store (`database: sqlite:PATH`, the
 * default, src/accounts/store_sqlite.c) and Postgres through libpq
 * (`database: postgres://user:pass@host:port/db?sslmode=...`,
 * src/accounts/store_pg.c).
 *
 * Who calls what. The ledger (ledger.h) owns the queue and the writer
 * thread and is the only writer: it opens the store, writes each batch in
 * one transaction (write), loads the keys with their spend at start
 * (load_keys), answers /api/v1/generation (get) and deletes old rows
 * (prune). The command line opens a store to read (`switchboard usage`,
 * `switchboard check`). The shared counters (counters.h) rebuild Redis from
 * the store (seed). Every operation blocks: never call one on a worker's
 * event loop.
 *
 * Each store keeps its schema versioned and migrates it at open, in one
 * transaction per version; a store newer than the binary is refused.
 * Postgres instances that start together take an advisory lock for the
 * migration, so exactly one of them migrates.
 *
 * Adding a table (for instance stored Responses API objects: put, get,
 * delete, list input items, expire) means a migration in each
 * implementation and operations here beside the ledger's; writes that must
 * not wait for the ledger's batch window get their own connection in the
 * implementation, as `get` has.
 */
#ifndef SWITCHBOARD_STORE_H
#define SWITCHBOARD_STORE_H

#include "switchboard/ledger.h"

typedef struct sb_store sb_store_t;

/* One entry of a batch, in queue order. */
typedef enum {
  SB_STORE_ROW,        /* a ledger row (and its addition to the daily totals) */
  SB_STORE_KEY,        /* a key's new state */
  SB_STORE_KEY_DELETE, /* a key deleted (kept, marked deleted) */
} sb_store_kind_t;

typedef struct {
  sb_store_kind_t kind;
  const sb_ledger_row_t *row; /* SB_STORE_ROW */
  const sb_key_record_t *key; /* the others */
} sb_store_entry_t;

/* Flags of a write. */
enum {
  /* Also write something when the batch is empty (the schema version), so
   * that the commit tells whether the store takes writes. */
  SB_STORE_PROBE = 1,
  /* A row whose id is stored already is neither written nor counted again
   * (entries read back from the unsaved file). */
  SB_STORE_SKIP_STORED = 2,
  /* Read the counters' epoch inside the transaction, ordered against
   * seed() (counters.h): *epoch is the rebuild that did not see this
   * batch's rows. */
  SB_STORE_READ_EPOCH = 4,
};

typedef sb_status_t (*sb_store_key_fn)(void *data, const sb_key_record_t *rec,
                                       const sb_key_spend_t *spend);

/* `switchboard usage`: one group's sums. */
typedef enum {
  SB_USAGE_BY_MODEL,
  SB_USAGE_BY_KEY,
  SB_USAGE_BY_AGENT,
  SB_USAGE_BY_DAY,
} sb_usage_by_t;

typedef struct {
  const char *group; /* valid during the callback */
  int64_t requests, errors, tokens_in, tokens_out, cost_pico;
} sb_usage_line_t;

typedef void (*sb_usage_fn)(void *data, const sb_usage_line_t *line);

/* What `switchboard/auto` spent against the top rung (docs/routing.md). */
typedef struct {
  int64_t requests, spent_pico, discarded_pico, top_rung_pico;
} sb_escalation_sum_t;

typedef enum {
  SB_STORE_WRITER, /* migrate, check that writes are taken, then write */
  SB_STORE_READER, /* read only: no migration, no write */
} sb_store_mode_t;

typedef struct {
  const char *name; /* "sqlite", "postgres" */
  sb_store_t *(*open)(const char *database, sb_store_mode_t mode,
                      const sb_ledger_options_t *opts, char *err,
                      size_t errlen);
  void (*close)(sb_store_t *s);
  /* Where entries the store still refuses at close are kept (ledger.h). */
  void (*unsaved_path)(const sb_store_t *s, char *out, size_t cap);
  /* One batch in one transaction. SB_ERROR when any of it is refused:
   * then nothing of it is kept, and `err` says why. */
  sb_status_t (*write)(sb_store_t *s, const sb_store_entry_t *e, size_t n,
                       unsigned flags, uint64_t *epoch, char *err,
                       size_t errlen);
  /* Every live key with its spend at `now_ms`; *others: the spend of all
   * else (admin, local, deleted keys). */
  sb_status_t (*load_keys)(sb_store_t *s, int64_t now_ms, sb_store_key_fn fn,
                           void *data, int64_t *others, char *err,
                           size_t errlen);
  /* One row by id. SB_DECLINED when unknown, SB_ERROR when unreadable. */
  sb_status_t (*get)(sb_store_t *s, const char *id, sb_ledger_row_t *out);
  /* Delete rows created before `cutoff_ms`, a slice at a time. */
  void (*prune)(sb_store_t *s, int64_t cutoff_ms);
  /* `switchboard usage`: rows created since `from_ms`, grouped. */
  sb_status_t (*usage)(sb_store_t *s, sb_usage_by_t by, int64_t from_ms,
                       sb_usage_fn fn, void *data, sb_escalation_sum_t *esc,
                       char *err, size_t errlen);
  /* `switchboard check`: what the store is (engine version, schema). */
  sb_status_t (*describe)(sb_store_t *s, char *out, size_t cap, char *err,
                          size_t errlen);
  /* Rebuilding the shared counters: in one transaction ordered against
   * every write with SB_STORE_READ_EPOCH, raise the counters' epoch and
   * report every live key's spend at `now_ms` as of that moment. */
  sb_status_t (*seed)(sb_store_t *s, int64_t now_ms, sb_store_key_fn fn,
                      void *data, uint64_t *epoch, char *err, size_t errlen);
} sb_store_ops_t;

struct sb_store {
  const sb_store_ops_t *ops;
};

extern const sb_store_ops_t sb_store_sqlite;
extern const sb_store_ops_t sb_store_postgres;

/* The store `database` names ("sqlite:PATH", "postgres://...",
 * "postgresql://..."), opened. NULL with the reason in `err`. */
sb_store_t *sb_store_open(const char *database, sb_store_mode_t mode,
                          const sb_ledger_options_t *opts, char *err,
                          size_t errlen);
void sb_store_close(sb_store_t *s);

/* `database` with any password replaced by "***", for messages. */
void sb_store_redact(const char *database, char *out, size_t cap);

/* True when `database` names a Postgres store. */
bool sb_store_is_postgres(const char *database);

/* The path of this instance's own file `name`, for what a Postgres store
 * does not hold: in systemd's StateDirectory= (the first of a list), else
 * in the working directory. */
void sb_store_state_file(const char *name, char *out, size_t cap);

#endif
