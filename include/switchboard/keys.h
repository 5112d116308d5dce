/* SPDX-License-Identifier: MIT */
/*
 * Client keys: the in-memory key table every worker shares, with each
 * key's budget, rate-limit windows and usage counters.
 *
 * Secrets look like `sk-sb-v1-<64 hex>` (32 bytes from RAND_bytes). Only
 * their SHA-256 (hex, the `hash` of the key API) is kept, in memory and in
 * the store; a presented secret is hashed and its digest compared in
 * constant time.
 *
 * Concurrency: the table is a hash map under a read-write lock (lookups
 * take the read side); every key has its own mutex for its counters. A
 * lookup returns a counted reference, so a key revoked while requests are
 * in flight stays valid for them (they still settle their cost), while
 * every later lookup on every worker fails at once.
 *
 * Persistence: changes go through the ledger's queue (ledger.h), in order
 * with the ledger rows, so the request path never waits on the disk. A
 * change is made in memory first and queued; the key API answers once the
 * store has it (sb_ledger_when_committed with the change's sequence
 * number), and undoes it in memory if the store refused it. At start the
 * table is loaded from the store together with each key's spend (from the
 * per-key daily totals the writer keeps next to the ledger).
 */
#ifndef SWITCHBOARD_KEYS_H
#define SWITCHBOARD_KEYS_H

#include <pthread.h>

#include "switchboard/json.h"
#include "switchboard/limits.h"

#define SB_KEY_SECRET_PREFIX "sk-sb-v1-"
#define SB_KEY_MAX_NAME 80
#define SB_KEY_MAX_MODELS 512 /* bytes of the comma-separated allow-list */
#define SB_KEY_MAX_ESCALATION 512 /* bytes of the compact escalation JSON */

/* The persistent part of a key (what the store keeps). */
typedef struct {
  char hash[65];              /* SHA-256 of the secret, lowercase hex */
  char name[SB_KEY_MAX_NAME + 1];
  char label[32];             /* "sk-sb-v1-1a2…c3d": safe to display */
  int64_t limit_pico;         /* < 0: no credit limit */
  sb_reset_t limit_reset;
  bool disabled;
  int64_t expires_ms;         /* 0: never */
  char models[SB_KEY_MAX_MODELS + 1]; /* "a,b,c"; empty: every model */
  uint32_t rpm, tpm;          /* 0: unlimited */
  int64_t created_ms, updated_ms;
  /* default cheap-first escalation for `switchboard/auto` (docs/routing.md):
   * compact JSON {"ladder":[...],"on":[...]} as sb_escalation_normalize
   * writes it; empty: none */
  char escalation[SB_KEY_MAX_ESCALATION + 1];
} sb_key_record_t;

typedef struct sb_key {
  sb_key_record_t rec;        /* under `lock` */
  unsigned char digest[32];
  pthread_mutex_t lock;
  int refs;                   /* atomic */
  bool revoked;               /* deleted: no longer in the table */
  sb_budget_t budget;
  int64_t usage_total;        /* all-time settled spend, picodollars */
  int64_t usage_day, usage_week, usage_month;
  int64_t day_start, week_start, month_start;
  uint64_t requests;          /* ledger rows, refused requests included */
  sb_window_t req_window, tok_window;
  uint64_t saved_seq;         /* the store's sequence number of the last
                                 change queued for it (0: none) */
  /* several instances (counters.h): the generation of the last change
   * another instance announced; every instance's reservations as the
   * shared counters last reported them (with `shared` set) */
  uint64_t touched;
  int64_t shared_reserved;
  bool shared;
  /* this instance's settlements of the key sent to the shared counters
   * and not yet answered, and the answers so far (sb_key_settle_sent) */
  unsigned settling;
  uint64_t settled;
  struct sb_key *next;        /* hash chain */
} sb_key_t;

/* A key's settled spend (picodollars), as the store or the shared
 * counters report it. */
typedef struct {
  int64_t total;    /* all time */
  int64_t period;   /* the key's budget period (its limit_reset) */
  int64_t day, week, month;
  uint64_t requests;
} sb_key_spend_t;

typedef struct sb_keys sb_keys_t;

struct sb_ledger;

sb_keys_t *sb_keys_new(void);
void sb_keys_free(sb_keys_t *t);
/* Where changes are persisted (NULL: memory only, as in unit tests). */
void sb_keys_set_store(sb_keys_t *t, struct sb_ledger *store);

/* Insert a loaded key (start-up) with its spend so far. */
sb_status_t sb_keys_load(sb_keys_t *t, const sb_key_record_t *rec,
                         int64_t usage_total, int64_t usage_period,
                         int64_t usage_day, int64_t usage_week,
                         int64_t usage_month, uint64_t requests,
                         int64_t now_ms);

/* Create a key from `rec` (name, limits...; hash/label/created are filled
 * in) and queue it for the store (its sequence number: k->saved_seq).
 * Writes the secret (NUL-terminated) into `secret` (>= 80 bytes).
 * Returns a reference, or NULL (out of memory / no randomness). */
sb_key_t *sb_keys_create(sb_keys_t *t, sb_key_record_t *rec, char *secret,
                         size_t secret_cap);

/* The key a presented secret names, as a new reference; NULL if none.
 * Disabled and expired keys are returned too (the caller says why they
 * are refused). */
sb_key_t *sb_keys_lookup_secret(sb_keys_t *t, sb_slice_t secret);
/* By hash (hex); new reference or NULL. */
sb_key_t *sb_keys_lookup_hash(sb_keys_t *t, sb_slice_t hash);
void sb_key_ref(sb_key_t *k);
void sb_key_unref(sb_key_t *k);

/* Copy every key's record out (for listing). Returns a malloc'd array
 * the caller frees, sorted by creation time; *n its length. */
sb_key_record_t *sb_keys_snapshot(sb_keys_t *t, size_t *n);

/* After `k->rec` changed (under its lock): make its budget follow the
 * record's limit and reset period. */
void sb_key_apply_limits(sb_key_t *k, int64_t now_ms);
/* Persist `k`'s current record (after an update under its lock). Returns
 * the store's sequence number of the change (0: no store, or the key is
 * revoked). */
uint64_t sb_keys_save(sb_keys_t *t, sb_key_t *k);
/* Remove a key: refused at once everywhere. SB_DECLINED if unknown. */
sb_status_t sb_keys_revoke(sb_keys_t *t, sb_slice_t hash);
/* The same, returning the removed key as a new reference (NULL if
 * unknown); the deletion's sequence number is in k->saved_seq. */
sb_key_t *sb_keys_remove(sb_keys_t *t, sb_slice_t hash);

/* Undoing a change the store refused (the key API's 503). */
/* A key just created: out of the table, nothing written. */
void sb_keys_forget(sb_keys_t *t, sb_key_t *k);
/* A key just removed (sb_keys_remove): back in the table. */
void sb_keys_restore(sb_keys_t *t, sb_key_t *k);
/* An update: put `before` back, unless the record is no longer the one
 * the update wrote (`written`: a later change won). */
void sb_key_undo_update(sb_key_t *k, const sb_key_record_t *written,
                        const sb_key_record_t *before, int64_t now_ms);

/* Spend of everything settled since start-up plus what was loaded,
 * keys and keyless callers (admin, local) together. */
int64_t sb_keys_total_usage(sb_keys_t *t);
/* Sum of the limits of keys that have one. */
int64_t sb_keys_total_limits(sb_keys_t *t);
/* Settle a keyless call (admin / local) into the totals. */
void sb_keys_add_unkeyed(sb_keys_t *t, int64_t cost);
void sb_keys_set_unkeyed_usage(sb_keys_t *t, int64_t total);

/* ---- admission and settlement (called by the gateway per call) ---- */

typedef enum {
  SB_ADMIT_OK = 0,
  SB_ADMIT_DISABLED,   /* 401/403 */
  SB_ADMIT_EXPIRED,    /* 401 */
  SB_ADMIT_MODEL,      /* 403: model not allowed for the key */
  SB_ADMIT_RPM,        /* 429 */
  SB_ADMIT_TPM,        /* 429 */
  SB_ADMIT_CREDITS,    /* 402 */
  SB_ADMIT_UNAVAILABLE /* 503: the shared counters cannot be reached */
} sb_admit_t;

typedef struct {
  uint32_t limit, remaining, reset_s; /* the binding window (rpm or tpm) */
  bool has_limit;
  uint32_t retry_after_s;
  int64_t remaining_pico;             /* for 402 messages; -1: no limit */
} sb_admit_info_t;

/* Check and reserve under the key's lock: not disabled or expired, model
 * allowed, RPM and TPM windows open, `reserve_pico` fits the budget. On
 * SB_ADMIT_OK the request is counted in the RPM window and the amount is
 * reserved (give it back with sb_key_settle). */
sb_admit_t sb_key_admit(sb_key_t *k, sb_slice_t model, int64_t reserve_pico,
                        int64_t now_ms, sb_admit_info_t *info);
/* The checks of sb_key_admit that need no counter: SB_ADMIT_DISABLED,
 * _EXPIRED, _MODEL or _OK; on OK, the record's limits are copied to
 * `limits` (its limit_pico, limit_reset, rpm and tpm) for the shared
 * counters to apply (counters.h). */
sb_admit_t sb_key_check(sb_key_t *k, sb_slice_t model, int64_t now_ms,
                        sb_key_record_t *limits);
/* May the key use `model`, a routed model id (the catalog id, or a
 * pass-through id as requested; never with a `:floor` / `:nitro` suffix)?
 * True when its allow-list is empty or names the id exactly: the same
 * question sb_key_admit asks. *restricted (if not NULL) is set when the
 * key has an allow-list. */
bool sb_key_allows_model(sb_key_t *k, sb_slice_t model, bool *restricted);
/* Release the reservation, add the cost and tokens. */
void sb_key_settle(sb_keys_t *t, sb_key_t *k, int64_t reserved_pico,
                   int64_t cost_pico, uint64_t tokens, int64_t now_ms);
/* Give back spend settled for a response that was not delivered (its
 * ledger row records it as unbilled): from key `k`'s counters, or from
 * the keyless totals when `k` is NULL. */
void sb_keys_refund(sb_keys_t *t, sb_key_t *k, int64_t cost_pico,
                    int64_t now_ms);

/* A settlement of `k` went to the shared counters; its answer came
 * (`s`: the key's spend there just after it, which replaces the local
 * figures when no other settlement of this instance is in flight, else
 * raises those it exceeds; NULL: no answer, or a refusal). */
void sb_key_settle_sent(sb_key_t *k);
void sb_key_settle_answered(sb_key_t *k, const sb_key_spend_t *s,
                            int64_t now_ms);

/* Reading the key's spend back from the shared counters without losing
 * this instance's own settlements: the counters' connections are several
 * (one per worker), so a settlement sent on one may reach Redis after a
 * read sent on another. sb_key_settle_mark before the read: the answers
 * so far. sb_key_set_shared after it: takes the spend `s` if no
 * settlement was in flight then or answered since the mark (returns
 * whether it did; the caller may read again), else only raises the local
 * figures it exceeds; `reserved` (every instance's outstanding
 * reservations, < 0: not known) is taken either way. */
uint64_t sb_key_settle_mark(sb_key_t *k);
bool sb_key_set_shared(sb_key_t *k, const sb_key_spend_t *s, int64_t reserved,
                       uint64_t mark, int64_t now_ms);

/* ---- keys changed by other instances (counters.h) ---- */

/* Apply a key another instance stored (created or changed: a record
 * older than the one held is ignored) or deleted, without writing to the
 * store; `gen` marks the change (see sb_keys_sync). */
void sb_keys_apply(sb_keys_t *t, const sb_key_record_t *rec, bool deleted,
                   uint64_t gen, int64_t now_ms);

typedef struct {
  sb_key_record_t rec;
  sb_key_spend_t spend;
} sb_key_stored_t;

/* Make the table what the store listed (its live keys, read after change
 * `gen` was applied and once `committed` ledger entries were committed):
 * new keys are added, changed ones updated, missing ones removed. Keys
 * changed since the read began (a later sb_keys_apply, or a change of
 * this instance the store did not have yet) are left as they are. */
void sb_keys_sync(sb_keys_t *t, const sb_key_stored_t *keys, size_t n,
                  uint64_t gen, uint64_t committed, int64_t now_ms);

/* A consistent copy of a key's counters for reporting. */
typedef struct {
  sb_key_record_t rec;
  int64_t usage_total, usage_day, usage_week, usage_month;
  int64_t period_used, reserved, remaining; /* remaining: -1 = no limit */
  uint64_t requests;
} sb_key_view_t;
void sb_key_view(sb_key_t *k, int64_t now_ms, sb_key_view_t *out);

/* ---- a key's default escalation (docs/routing.md) ---- */

/* Check an `escalation` object, the shape of the config's
 * ({"ladder": [model ids, cheap first], "on": [conditions]}), and write
 * its compact normal form into `out` (`cap` bytes with the NUL): the
 * ladder's ids as given, the conditions by name with "error" always
 * among them. Members left out stay out; an object with neither writes
 * "" (no escalation). On a bad value returns SB_ERROR and a message for
 * the user in `err`. */
sb_status_t sb_escalation_normalize(const sb_json_t *e, char *out, size_t cap,
                                    char *err, size_t errlen);
/* Parse a normal form (as above) into arena `a`: the ladder (an array of
 * strings, or NULL when it has none) and the climbing conditions
 * (SB_CLIMB_*; every condition when "on" is left out). SB_DECLINED for
 * "" and SB_ERROR for text that is not a normal form. */
sb_status_t sb_escalation_parse(sb_arena_t *a, const char *text,
                                const sb_json_t **ladder, uint32_t *on);
/* The key's default escalation, parsed into `a` (sb_escalation_parse on a
 * copy taken under the key's lock). */
sb_status_t sb_key_escalation(sb_key_t *k, sb_arena_t *a,
                              const sb_json_t **ladder, uint32_t *on);

/* SHA-256 hex of a secret (65 bytes with the NUL). */
void sb_key_hash_hex(sb_slice_t secret, char out[65]);

#endif
