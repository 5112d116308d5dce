/* SPDX-License-Identifier: MIT */
/*
 * The shared counters' parts (counters.h), private to src/accounts/:
 * counters.c (the process: its thread, what is owed, rebuilding Redis,
 * key changes), counters_conn.c (one connection on one event loop:
 * admission, settlement), counters_lua.c (the scripts).
 *
 * Redis keys (H: a key's hash; F: "INSTANCE/WORKER", a connection's
 * field, the same across its reconnections):
 *   sb:epoch      the epoch Redis was rebuilt in; absent: not rebuilt yet
 *   sb:seeding    the lock of the instance rebuilding it (30 s)
 *   sb:inst       sorted set: instance -> when it was last seen (ms)
 *   sb:k:H        hash: tot, req (all time); ps/pu, ds/du, ws/wu, ms/mu:
 *                 the start and the spend of the budget period, the day,
 *                 the week and the month
 *   sb:r:H        hash: F -> what F has reserved and not yet settled
 *                 (fields of instances not seen for LIVE_MS are dropped)
 *   sb:w:H        hash: rSECOND -> requests, tSECOND -> tokens (60 s)
 *   sb:ack:F      the number of F's last settlement Redis took
 *   sb:keys       the channel of key changes
 */
#ifndef SWITCHBOARD_COUNTERS_INTERNAL_H
#define SWITCHBOARD_COUNTERS_INTERNAL_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "switchboard/counters.h"
#include "switchboard/store.h"

#define SB_LIVE_MS 10000     /* an instance not seen for this long is dead */
#define SB_BEAT_MS 2000      /* how often each instance says it is alive */
#define SB_REPLY_MS 2000     /* a connection whose answer takes longer is dropped */
#define SB_SEED_LOCK_MS 30000

enum {
  SB_SCRIPT_ADMIT,
  SB_SCRIPT_SETTLE,
  SB_SCRIPT_VIEW,
  SB_SCRIPT_BEAT,
  SB_SCRIPT_SEED,
  SB_SCRIPT_SEEDED,
  SB_SCRIPT_UNLOCK,
  SB_SCRIPT_N
};
extern const char *const sb_counters_lua[SB_SCRIPT_N];

/* A settlement Redis has not taken: added later (see counters.h). */
typedef struct {
  char hash[65];
  int64_t cost;
  uint64_t requests;
  int64_t ps, ds, ws, ms; /* the period starts when it was settled */
  uint64_t seq;           /* its ledger row */
  uint64_t epoch;         /* add it in this epoch only; 0: the epoch its
                             row was committed in */
  uint64_t no;            /* on a connection: its number (sb:ack:F) */
  bool sending;
} sb_owed_t;

typedef enum {
  CONN_DOWN,       /* waiting to (re)connect */
  CONN_CONNECTING, /* loading scripts, reading the epoch and the ack */
  CONN_UNSEEDED,   /* connected; Redis holds no epoch yet */
  CONN_READY,
} conn_state_t;

/* What a connection has reserved in Redis per key (its field's value). */
typedef struct {
  char hash[65];
  int64_t amount;
  bool dirty; /* an admission whose answer was lost: reset the field */
} sb_held_t;

struct sb_counters_conn {
  sb_counters_t *c;
  uv_loop_t *loop;
  char field[48];
  redisAsyncContext *ac;
  conn_state_t state;
  uint64_t epoch;          /* while READY */
  uv_timer_t timer;        /* reconnects, the answer watchdog, epoch polls */
  bool timer_open;
  uint32_t backoff_ms;
  int64_t next_try_ms;
  unsigned pending;        /* commands sent, not answered */
  int64_t last_answer_ms;  /* monotonic */
  bool polling;            /* an epoch poll is out */
  bool closing;
  int64_t close_ms;        /* when closing began (monotonic) */
  char reason[160];        /* why it is not READY */
  sb_held_t *held;         /* reservations per key (in `epoch`) */
  size_t n_held;
  uint64_t held_epoch;
  sb_owed_t *unsure;       /* settlements whose answer was lost */
  size_t n_unsure;
  uint64_t settle_no;      /* numbers settlements (sb:ack:F) */
  void (*on_ready)(sb_counters_conn_t *w); /* the control thread's */
};

struct sb_counters {
  char url[512];
  char shown[512];
  sb_redis_url_t addr;
  bool down_local;
  sb_ledger_t *ledger;
  sb_keys_t *keys;
  sb_store_t *store;
  char inst[20];                    /* this instance: 16 hex digits */
  char sha[SB_SCRIPT_N][41];

  /* the control thread */
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  uv_timer_t tick;
  sb_counters_conn_t *cmd;          /* its command connection */
  redisAsyncContext *sub;           /* subscribed to sb:keys */
  bool sub_up;
  int64_t sub_next_try_ms;
  uint32_t sub_backoff_ms;
  bool reloading;                   /* a listing of the store is out */
  int64_t next_reload_ms;
  bool seeding;                     /* rebuilding Redis */
  int64_t next_beat_ms;
  uint64_t gen;                     /* key changes applied (sb_keys_apply) */
  bool stopping;
  int64_t stop_ms;
  bool was_ready;                   /* Redis was ready once (the log) */

  /* shared with the workers and the ledger's writer, under `lock` */
  pthread_mutex_t lock;
  sb_owed_t *owed;
  size_t n_owed;
  struct {
    uint64_t first, epoch;
  } seg[32];                        /* the commit epoch from entry `first` on */
  size_t n_seg;
  uint64_t committed;               /* entries committed, as told */
  bool announce;                    /* a key change could not be published */
  uint64_t unavailable;
  uint64_t ready_epoch;             /* the control connection's, 0: down */
  char reason[160];
};

/* counters_conn.c */
sb_counters_conn_t *sb_counters_conn_new(sb_counters_t *c, uv_loop_t *loop,
                                         const char *name);
void sb_counters_conn_close(sb_counters_conn_t *w);
bool sb_counters_conn_ready(const sb_counters_conn_t *w);
/* Run a script on `w` (ready or not: the caller checks). Returns SB_ERROR
 * when it could not be sent (then `fn` is not called). */
sb_status_t sb_counters_eval(sb_counters_conn_t *w, int script, int nkeys,
                             int argc, const char **argv, const size_t *lens,
                             redisCallbackFn *fn, void *data);
/* The epoch is set (this instance rebuilt Redis): ready at once. */
void sb_counters_conn_adopt(sb_counters_conn_t *w, uint64_t epoch);
/* Send a plain command (argv form). */
sb_status_t sb_counters_cmd(sb_counters_conn_t *w, int argc, const char **argv,
                            redisCallbackFn *fn, void *data);
/* Settle `o` (reserved 0) in epoch `epoch`; `fn`/`data` get the answer. */
sb_status_t sb_counters_send_owed(sb_counters_conn_t *w, const sb_owed_t *o,
                                  uint64_t epoch, redisCallbackFn *fn,
                                  void *data);

/* Every answer on a connection passes here first: its connection. */
sb_counters_conn_t *sb_counters_answered(redisAsyncContext *ac);

/* counters.c */
void sb_counters_owe(sb_counters_t *c, const sb_owed_t *o);
int64_t sb_counters_mono_ms(void);
/* A reply's integer (or numeric string) element `i`; `def` if absent. */
int64_t sb_counters_int(const redisReply *r, size_t i, int64_t def);

#endif
