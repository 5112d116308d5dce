/* SPDX-License-Identifier: MIT */
/*
 * Shared counters: budgets, rate limits and key changes exact across
 * several gateway instances, in one Redis (`redis: redis://[:PASSWORD@]
 * HOST:PORT[/DB]`); docs/scale-out.md.
 *
 * Without Redis every function here falls back to the key table's own
 * counters (keys.h), which are exact across one process's workers; the
 * gateway calls the same functions either way (a NULL connection).
 *
 * In Redis, per key: the settled spend of the current budget period (and
 * of the day, week, month, all time), every instance's outstanding
 * reservations, and the RPM and TPM windows. Admission (check the windows
 * and reserve the worst case) and settlement (release, add the cost and
 * the tokens) are Lua scripts that Redis runs atomically, so however many
 * instances admit at once, a key never goes past its limit. Each worker
 * talks to Redis on its own event loop (hiredis, async); a key with no
 * limit and no rate never waits for Redis to be admitted.
 *
 * Key changes (create, update, disable, delete) are announced on a
 * channel once the store has them, and every instance applies them as
 * they come (well within a second); an instance that missed some (it was
 * not subscribed) reads every key from the store again.
 *
 * Redis is a cache of the store: the spend it holds is rebuilt from the
 * store when Redis comes back empty (a restart), numbered by an epoch the
 * store keeps. A settlement Redis did not take (it was down, or the epoch
 * changed) is owed: it is added once its ledger row is committed, unless
 * the rebuild that followed had already read that row from the store.
 *
 * When Redis cannot be reached (`redis_down`): `deny` (the default)
 * answers 503 to keys with a limit or a rate, and lets keys with neither
 * go on; `local` falls back to each instance's own counters. Connections
 * are retried with backoff; service resumes by itself when Redis is back.
 */
#ifndef SWITCHBOARD_COUNTERS_H
#define SWITCHBOARD_COUNTERS_H

#include <uv.h>

#include "switchboard/keys.h"
#include "switchboard/ledger.h"

typedef struct sb_counters sb_counters_t;
typedef struct sb_counters_conn sb_counters_conn_t;

typedef struct {
  const char *url;     /* redis://[:PASSWORD@]HOST[:PORT][/DB] */
  bool down_local;     /* redis_down: local (else deny) */
  sb_ledger_t *ledger; /* its keys, its store, its commits */
} sb_counters_options_t;

/* A Redis URL, parsed. */
typedef struct {
  char host[256];
  int port;
  char password[256]; /* "" : none */
  int db;
} sb_redis_url_t;

sb_status_t sb_redis_url_parse(const char *url, sb_redis_url_t *out,
                               char *err, size_t errlen);
/* `url` without its password, for messages. */
void sb_redis_url_redact(const char *url, char *out, size_t cap);

/* Start the shared counters of this process (a thread of its own keeps
 * the instance alive in Redis, applies key changes and rebuilds Redis
 * when it comes back empty). Redis need not be up: it is waited for. */
sb_counters_t *sb_counters_open(const sb_counters_options_t *o, char *err,
                                size_t errlen);
/* After the workers stopped: what is owed is written if Redis takes it
 * within a second, then everything stops. Before the ledger closes. */
void sb_counters_close(sb_counters_t *c);

/* `switchboard check`: connect once, describe the server in `out`. */
sb_status_t sb_counters_probe(const char *url, char *out, size_t cap,
                              char *err, size_t errlen);

/* One worker's connection, on its loop (NULL when `c` is NULL). */
sb_counters_conn_t *sb_counters_attach(sb_counters_t *c, uv_loop_t *loop,
                                       unsigned worker);
/* Close it: what waits is answered as if Redis were down. */
void sb_counters_detach(sb_counters_conn_t *w);

/* What an admission holds until its call settles. */
typedef struct {
  bool shared;       /* reserved in Redis (else in the key's own budget) */
  uint64_t epoch;    /* the counters' epoch of the reservation */
  int64_t reserved;  /* picodollars */
  /* the settlement: whether it went to Redis, in which epoch */
  bool settle_sent;
  uint64_t settle_epoch;
} sb_counters_ticket_t;

typedef struct sb_counters_admission sb_counters_admission_t;
typedef void (*sb_counters_admit_fn)(sb_counters_admission_t *a, void *data);

struct sb_counters_admission {
  /* the answer */
  sb_admit_t result;
  sb_admit_info_t info;
  sb_counters_ticket_t ticket;
  char why[256]; /* SB_ADMIT_UNAVAILABLE: why, for the client */
  /* the question (private) */
  sb_counters_conn_t *w;
  sb_key_t *k;
  sb_slice_t model;
  uint32_t rpm;
  int64_t reserve, now_ms;
  sb_counters_admit_fn cb;
  void *data;
};

/* Admit a call of key `k` (a reference the caller keeps until the
 * answer): the key's own checks (disabled, expired, model), then its
 * windows and budget, shared or local (keys.h, sb_key_admit). SB_OK when
 * answered at once (a->result); SB_AGAIN when `cb` will be called on the
 * connection's loop. `a` must stay valid until then. */
sb_status_t sb_counters_admit(sb_counters_conn_t *w, sb_key_t *k,
                              sb_slice_t model, int64_t reserve,
                              int64_t now_ms, sb_counters_admission_t *a,
                              sb_counters_admit_fn cb, void *data);

/* The call of key `k` ended: release what `t` reserved, settle `cost`
 * and `tokens`, and count the request, in the key's table `keys` and in
 * Redis. `seq`: the call's ledger row (what is owed waits for it). */
void sb_counters_settle(sb_counters_conn_t *w, sb_keys_t *keys, sb_key_t *k,
                        sb_counters_ticket_t *t, int64_t cost,
                        uint64_t tokens, uint64_t seq, int64_t now_ms);
/* Give back `cost` settled for a response that was not delivered
 * (ledger.h); `k` NULL: a keyless call's. */
void sb_counters_refund(sb_counters_conn_t *w, sb_keys_t *keys, sb_key_t *k,
                        const sb_counters_ticket_t *t, int64_t cost,
                        uint64_t seq, int64_t now_ms);

/* Bring the spend of `keys` (references the caller holds) up to date from
 * Redis, then call `done(data)` on the loop. SB_DECLINED when there is
 * nothing to wait for (no Redis, or it is down): answer at once. */
sb_status_t sb_counters_refresh(sb_counters_conn_t *w, sb_key_t *const *keys,
                                size_t n, void (*done)(void *data),
                                void *data);

/* A key change the store has: tell the other instances. */
void sb_counters_publish(sb_counters_conn_t *w, const sb_key_record_t *rec,
                         bool deleted);

typedef struct {
  bool configured;
  bool ready;          /* Redis answers and holds this epoch */
  uint64_t epoch;
  uint64_t unavailable; /* admissions answered 503 because of it */
  uint64_t owed;        /* settlements waiting to be added */
  char reason[200];     /* why it is not ready */
} sb_counters_stats_t;
void sb_counters_stats(sb_counters_t *c, sb_counters_stats_t *out);

#endif
