/*
 * Ledger queue and writer thread over SQLite; see ledger.h.
 *
 * An idle writer is woken by the first row of a batch (or every 50 ms),
 * lets the batch gather for BATCH_WINDOW_MS (unless it is full, a flush
 * is waiting, or the store is durable), then takes the queue (at most
 * BATCH_MAX rows) and commits it in one transaction (rows, the per-key
 * daily totals they add to, and key changes, in queue order). After a
 * commit it looks again one window later before it sleeps, so steady
 * traffic never has to signal it. Its priority: see writer_yield. WAL mode
 * with synchronous=NORMAL: a committed batch survives a process crash; an
 * OS crash may lose the last batches. With `durable`, synchronous=FULL and
 * the gateway holds each response's last byte until its row's batch is
 * committed (group commit: one fsync covers every row of the batch).
 *
 * When the store fails. A batch is one transaction: if any statement or
 * the commit fails, it is rolled back and the batch goes back to the head
 * of the queue, to be retried after a pause (RETRY_FIRST_MS, doubling to
 * RETRY_MAX_MS); later rows queue behind it, so the store still receives
 * everything in queue order. Every error counts as the store's (the
 * gateway's own rows break no constraint of its schema; one that a changed
 * schema rejects waits, loudly, until the schema is fixed). The first
 * failure of a burst is logged with the store's reason, and the burst's
 * end (once every row queued before the last failure is committed) with
 * how many rows waited and for how long. While the last commit failed: workers never wait for room in the
 * queue (sb_ledger_admit refuses new requests instead once it is full),
 * and waiters (durable responses, key changes) are answered SB_ERROR at
 * once, their entries made final under the lock so that the answer and
 * the store agree: a key change is withdrawn (NODE_VOID), a durable row
 * becomes an undelivered, unbilled 503. Every retry also rewrites the
 * schema version, so that a batch with nothing left to write still tells
 * whether the store takes writes again. At close a failing store is
 * retried for close_grace_ms; what it still refuses is spilled to
 * PATH-unsaved.jsonl (ledger_spill.h), which open() writes into the store.
 *
 * Schema (PRAGMA user_version):
 *   1  generations: one compact row per request
 *   2  generations.key_hash; keys; usage_daily (key_hash, UTC day) totals
 *      that survive the retention of ledger rows.
 *   3  generations.rung, escalation_cost_pico, top_rung_cost_pico
 *      (cheap-first escalation, docs/routing.md).
 *   4  keys.escalation: a key's default escalation ladder (compact JSON).
 *   5  generations.overhead_us: the gateway's own time on the request
 *      (docs/observability.md).
 */
#include "switchboard/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ledger_read.h"
#include "ledger_spill.h"
#include "switchboard/common.h"
#include "switchboard/log.h"

#define SCHEMA_VERSION 5
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define DAY_MS 86400000LL
/* How long a batch may gather before it is committed, and how many rows
 * commit at once without waiting for the window: under load one commit
 * (and one wake-up of this thread) covers many requests instead of one.
 * Each commit rewrites the pages its rows touch, the half-filled last
 * ones included, so a longer window means fewer WAL frames per row: at
 * one connection (~12k requests/s) the added p99 was ~90 µs with 5 ms,
 * ~75 with 20 ms and ~65 with 50 ms. But a row becomes visible, and safe
 * from a crash of the process, only when committed: after kill -9 at
 * ~1,100 requests/s, 50 ms lost 74 rows where 5 ms lost almost none.
 * 20 ms is the compromise; `durable` does not wait at all. */
#define BATCH_WINDOW_MS 20
#define BATCH_MAX 512
/* Rows queued and not yet committed, at most. A worker that would queue
 * more waits for the writer's next commit (of at most BATCH_MAX rows): under an overload the writer
 * cannot keep up with, the gateway slows down to the store's pace instead
 * of growing without bound (and no row is ever dropped). */
#define QUEUE_MAX 8192
/* The pause before a refused batch is retried: doubling from the first to
 * the last, so a store that is back is used again within a second. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 1000

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

size_t sb_ledger_make_id(char *out, int64_t wall_us, uint64_t r1, uint64_t r2)
{
  size_t n = 4;
  memcpy(out, "gen-", 4);
  n += sb_u64_dec(out + n, (uint64_t)(wall_us / 1000000));
  out[n++] = '-';
  uint64_t sub = (uint64_t)(wall_us % 1000000);
  for (int i = 3; i >= 0; i--) {
    out[n + (size_t)i] = base62[sub % 62];
    sub /= 62;
  }
  n += 4;
  for (int i = 0; i < 16; i++) {
    uint64_t *src = i < 8 ? &r1 : &r2;
    out[n++] = base62[*src % 62];
    *src /= 62;
  }
  out[n] = '\0';
  return n;
}

/* NODE_VOID: a key change withdrawn after the store refused it (its
 * waiter was answered SB_ERROR): skipped, but still counted in sequence. */
typedef enum { NODE_ROW, NODE_KEY, NODE_KEY_DELETE, NODE_VOID } node_kind_t;

typedef struct row_node {
  struct row_node *next;
  uint64_t seq;
  node_kind_t kind;
  bool awaited; /* a waiter waits for it (sb_ledger_when_committed) */
  union {
    sb_ledger_row_t row;
    sb_key_record_t key;
  } u;
} row_node_t;

struct sb_ledger {
  sqlite3 *db;      /* writer's connection */
  sqlite3 *reader;  /* lookups (sb_ledger_get) */
  pthread_mutex_t read_lock;
  sqlite3_stmt *insert;
  sqlite3_stmt *add_usage;
  sqlite3_stmt *put_key;
  sqlite3_stmt *del_key;
  sb_keys_t *keys;
  sb_ledger_options_t opts;
  int64_t last_prune_ms;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t flushed;
  row_node_t *head, *tail; /* queued, oldest first */
  row_node_t *writing;     /* taken by the writer, not yet committed */
  uint64_t queued_seq;     /* rows ever queued */
  uint64_t committed_seq;  /* rows ever committed (or dropped on error) */
  size_t n_queued;         /* rows in head..tail */
  bool urgent;             /* a flush waits: commit without the window */
  uint64_t full_waits;     /* times a worker waited for room in the queue */
  bool stop;
  bool sleeping;           /* the writer waits for a wake-up (idle) */
  bool can_yield;          /* the writer may run at idle priority */
  bool yielding;           /* ... and does now */
  uint64_t boosts;         /* times it was raised back to normal */
  char *path;              /* the database file */
  /* the writer's own: the first statement of a batch that failed */
  int batch_rc;
  char batch_err[160];
  /* failures (see "When the store fails" above), under `lock` */
  bool failing;            /* the last commit failed (also read without the
                              lock, atomically, by sb_ledger_admit) */
  bool degraded;           /* a burst: until what it held back is written */
  int64_t degraded_since_ms;
  uint64_t degraded_until; /* the burst ends once this seq is committed */
  uint64_t burst_from;     /* committed_seq when the burst began */
  uint64_t burst_errors;   /* failed commits in the burst */
  uint64_t errors;         /* failed commits since open */
  uint64_t refused;        /* requests refused by sb_ledger_admit */
  uint64_t undelivered;    /* durable rows made undelivered */
  char reason[192];        /* the store's last error */
  int64_t stop_deadline_ms; /* close: a failing store is retried until then */
  bool tried_after_stop;   /* ... and at least once after close began */
  bool closed;             /* the writer is gone: waits end */
};

static const char *const migrations[] = {
    /* 1: the generations table */
    "CREATE TABLE IF NOT EXISTS generations ("
    " id TEXT PRIMARY KEY,"
    " created_ms INTEGER NOT NULL,"
    " api TEXT NOT NULL,"
    " key_label TEXT,"
    " agent TEXT,"
    " app TEXT,"
    " requested_model TEXT,"
    " model TEXT,"
    " provider TEXT,"
    " upstream_model TEXT,"
    " tokens_prompt INTEGER NOT NULL DEFAULT 0,"
    " tokens_completion INTEGER NOT NULL DEFAULT 0,"
    " tokens_cached INTEGER NOT NULL DEFAULT 0,"
    " tokens_cache_write INTEGER NOT NULL DEFAULT 0,"
    " tokens_reasoning INTEGER NOT NULL DEFAULT 0,"
    " usage_estimated INTEGER NOT NULL DEFAULT 0,"
    " cost_pico INTEGER NOT NULL DEFAULT 0,"
    " latency_ms INTEGER NOT NULL DEFAULT 0,"
    " ttft_ms INTEGER NOT NULL DEFAULT 0,"
    " status INTEGER NOT NULL,"
    " finish_reason TEXT,"
    " native_finish_reason TEXT,"
    " streamed INTEGER NOT NULL DEFAULT 0,"
    " cancelled INTEGER NOT NULL DEFAULT 0,"
    " error TEXT"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS generations_created ON generations(created_ms);",
    /* 2: keys and per-key daily totals */
    "ALTER TABLE generations ADD COLUMN key_hash TEXT;"
    "CREATE INDEX generations_key ON generations(key_hash, created_ms);"
    "CREATE TABLE keys ("
    " hash TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " label TEXT NOT NULL,"
    " limit_pico INTEGER,"
    " limit_reset TEXT,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " expires_ms INTEGER,"
    " models TEXT,"
    " rpm INTEGER NOT NULL DEFAULT 0,"
    " tpm INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " deleted_ms INTEGER"
    ") WITHOUT ROWID;"
    "CREATE TABLE usage_daily ("
    " key_hash TEXT NOT NULL,"
    " day INTEGER NOT NULL,"
    " requests INTEGER NOT NULL,"
    " cost_pico INTEGER NOT NULL,"
    " tokens_prompt INTEGER NOT NULL,"
    " tokens_completion INTEGER NOT NULL,"
    " PRIMARY KEY (key_hash, day)"
    ") WITHOUT ROWID;"
    "INSERT INTO usage_daily SELECT '', (created_ms + latency_ms) / 86400000,"
    " count(*), sum(cost_pico), sum(tokens_prompt), sum(tokens_completion)"
    " FROM generations GROUP BY 2;",
    /* 3: cheap-first escalation */
    "ALTER TABLE generations ADD COLUMN rung INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE generations ADD COLUMN escalation_cost_pico INTEGER NOT NULL"
    " DEFAULT 0;"
    "ALTER TABLE generations ADD COLUMN top_rung_cost_pico INTEGER NOT NULL"
    " DEFAULT 0;",
    /* 4: a key's default escalation ladder */
    "ALTER TABLE keys ADD COLUMN escalation TEXT;",
    /* 5: the gateway's overhead per request */
    "ALTER TABLE generations ADD COLUMN overhead_us INTEGER NOT NULL"
    " DEFAULT 0;"
    /* no query reads rows by key (per-key totals are usage_daily's): one
     * index fewer for every row to update */
    "DROP INDEX IF EXISTS generations_key;",
};

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The name of an SQLite result code's primary code, for the log and
 * /health ("SQLITE_FULL"). */
static const char *rc_name(int rc)
{
  static const struct {
    int rc;
    const char *name;
  } names[] = {
      {SQLITE_ERROR, "SQLITE_ERROR"},       {SQLITE_PERM, "SQLITE_PERM"},
      {SQLITE_BUSY, "SQLITE_BUSY"},         {SQLITE_LOCKED, "SQLITE_LOCKED"},
      {SQLITE_NOMEM, "SQLITE_NOMEM"},       {SQLITE_READONLY, "SQLITE_READONLY"},
      {SQLITE_IOERR, "SQLITE_IOERR"},       {SQLITE_CORRUPT, "SQLITE_CORRUPT"},
      {SQLITE_FULL, "SQLITE_FULL"},         {SQLITE_CANTOPEN, "SQLITE_CANTOPEN"},
      {SQLITE_PROTOCOL, "SQLITE_PROTOCOL"}, {SQLITE_NOTADB, "SQLITE_NOTADB"},
      {SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(names); i++)
    if (names[i].rc == (rc & 0xff))
      return names[i].name;
  return "SQLITE_ERROR";
}

/* A write at open (a pragma, a migration) to the database at `path`. */
static sb_status_t exec(sqlite3 *db, const char *path, const char *sql,
                        char *err, size_t errlen)
{
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: cannot write %s: %s (%s)", path,
             msg ? msg : sqlite3_errmsg(db),
             rc_name(sqlite3_extended_errcode(db)));
    sqlite3_free(msg);
    return SB_ERROR;
  }
  return SB_OK;
}

static sb_status_t migrate(sqlite3 *db, const char *path, char *err,
                           size_t errlen)
{
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (version > SCHEMA_VERSION) {
    snprintf(err, errlen,
             "ledger: the database has schema version %d, newer than this "
             "build's %d", version, SCHEMA_VERSION);
    return SB_ERROR;
  }
  for (int v = version; v < SCHEMA_VERSION; v++) {
    char sql[64];
    if (exec(db, path, "BEGIN", err, errlen) != SB_OK ||
        exec(db, path, migrations[v], err, errlen) != SB_OK)
      return SB_ERROR;
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
    if (exec(db, path, sql, err, errlen) != SB_OK ||
        exec(db, path, "COMMIT", err, errlen) != SB_OK)
      return SB_ERROR;
  }
  return SB_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
  if (s[0] == '\0')
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Note a failed step of the batch being written (the first one counts:
 * the rest of the batch is not attempted). */
static void batch_fail(sb_ledger_t *l, int rc)
{
  if (l->batch_rc != SQLITE_OK)
    return;
  l->batch_rc = rc;
  snprintf(l->batch_err, sizeof(l->batch_err), "%s (%s)",
           sqlite3_errmsg(l->db), rc_name(sqlite3_extended_errcode(l->db)));
}

/* Run a bound write statement and make it ready for the next. */
static void run_write(sb_ledger_t *l, sqlite3_stmt *st)
{
  if (l->batch_rc == SQLITE_OK) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
      batch_fail(l, rc);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void run_sql(sb_ledger_t *l, const char *sql)
{
  if (l->batch_rc != SQLITE_OK)
    return;
  int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    batch_fail(l, rc);
}

static void insert_row(sb_ledger_t *l, const sb_ledger_row_t *r)
{
  sqlite3_stmt *st = l->insert;
  int i = 1;
  sqlite3_bind_text(st, i++, r->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, i++, r->created_ms);
  sqlite3_bind_text(st, i++, r->api, -1, SQLITE_STATIC);
  bind_text(st, i++, r->key_label);
  bind_text(st, i++, r->agent);
  bind_text(st, i++, r->app);
  bind_text(st, i++, r->requested_model);
  bind_text(st, i++, r->model);
  bind_text(st, i++, r->provider);
  bind_text(st, i++, r->upstream_model);
  sqlite3_bind_int64(st, i++, (sqlite3_int64)r->usage.prompt);
  sqlite3_bind_int64(st, i++, (sqlite3_int64)r->usage.completion);
  sqlite3_bind_int64(st, i++, (sqlite3_int64)r->usage.cached);
  sqlite3_bind_int64(st, i++, (sqlite3_int64)r->usage.cache_write);
  sqlite3_bind_int64(st, i++, (sqlite3_int64)r->usage.reasoning);
  sqlite3_bind_int(st, i++, r->usage_estimated);
  sqlite3_bind_int64(st, i++, r->cost_pico);
  sqlite3_bind_int64(st, i++, r->latency_ms);
  sqlite3_bind_int64(st, i++, r->ttft_ms);
  sqlite3_bind_int(st, i++, r->status);
  bind_text(st, i++, r->finish_reason);
  bind_text(st, i++, r->native_finish_reason);
  sqlite3_bind_int(st, i++, r->streamed);
  sqlite3_bind_int(st, i++, r->cancelled);
  bind_text(st, i++, r->error);
  bind_text(st, i++, r->key_hash);
  sqlite3_bind_int64(st, i++, r->rung);
  sqlite3_bind_int64(st, i++, r->escalation_pico);
  sqlite3_bind_int64(st, i++, r->top_rung_pico);
  sqlite3_bind_int64(st, i++, r->overhead_us);
  run_write(l, st);
}

/* A batch's additions to usage_daily, summed per (key, day) before they
 * are written: one upsert per key and day instead of one per row. */
#define USAGE_SUMS_MAX 32

typedef struct {
  char key_hash[65];
  int64_t day;
  int64_t requests, cost_pico, prompt, completion;
} usage_sum_t;

typedef struct {
  usage_sum_t s[USAGE_SUMS_MAX];
  size_t n;
} usage_sums_t;

static void usage_flush(sb_ledger_t *l, usage_sums_t *u)
{
  sqlite3_stmt *st = l->add_usage;
  for (size_t i = 0; i < u->n; i++) {
    const usage_sum_t *s = &u->s[i];
    sqlite3_bind_text(st, 1, s->key_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->day);
    sqlite3_bind_int64(st, 3, s->requests);
    sqlite3_bind_int64(st, 4, s->cost_pico);
    sqlite3_bind_int64(st, 5, s->prompt);
    sqlite3_bind_int64(st, 6, s->completion);
    run_write(l, st);
  }
  u->n = 0;
}

static void usage_add(sb_ledger_t *l, usage_sums_t *u, const sb_ledger_row_t *r)
{
  /* The day a request is billed to is the day it ended, as for budgets. */
  int64_t day = (r->created_ms + r->latency_ms) / DAY_MS;
  usage_sum_t *s = NULL;
  for (size_t i = 0; i < u->n && s == NULL; i++)
    if (u->s[i].day == day && strcmp(u->s[i].key_hash, r->key_hash) == 0)
      s = &u->s[i];
  if (s == NULL) {
    if (u->n == USAGE_SUMS_MAX)
      usage_flush(l, u);
    s = &u->s[u->n++];
    memset(s, 0, sizeof(*s));
    memcpy(s->key_hash, r->key_hash, sizeof(s->key_hash));
    s->key_hash[sizeof(s->key_hash) - 1] = '\0';
    s->day = day;
  }
  s->requests++;
  s->cost_pico += r->cost_pico;
  s->prompt += (int64_t)r->usage.prompt;
  s->completion += (int64_t)r->usage.completion;
}

static void store_key(sb_ledger_t *l, const sb_key_record_t *k, bool deleted)
{
  sqlite3_stmt *st;
  if (deleted) {
    st = l->del_key;
    sqlite3_bind_int64(st, 1, wall_ms());
    sqlite3_bind_text(st, 2, k->hash, -1, SQLITE_STATIC);
  } else {
    int i = 1;
    st = l->put_key;
    sqlite3_bind_text(st, i++, k->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, k->label, -1, SQLITE_STATIC);
    if (k->limit_pico >= 0)
      sqlite3_bind_int64(st, i++, k->limit_pico);
    else
      sqlite3_bind_null(st, i++);
    const char *reset = sb_reset_name(k->limit_reset);
    if (reset != NULL)
      sqlite3_bind_text(st, i++, reset, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, k->disabled);
    if (k->expires_ms != 0)
      sqlite3_bind_int64(st, i++, k->expires_ms);
    else
      sqlite3_bind_null(st, i++);
    bind_text(st, i++, k->models);
    sqlite3_bind_int64(st, i++, k->rpm);
    sqlite3_bind_int64(st, i++, k->tpm);
    sqlite3_bind_int64(st, i++, k->created_ms);
    sqlite3_bind_int64(st, i++, k->updated_ms);
    bind_text(st, i++, k->escalation);
  }
  run_write(l, st);
}

/* Retention: delete ledger rows older than the window, a slice at a time
 * so one pass never holds the write lock for long. */
static void prune(sb_ledger_t *l)
{
  if (l->opts.retention_days == 0)
    return;
  int64_t now = wall_ms();
  if (now - l->last_prune_ms < 60000)
    return;
  l->last_prune_ms = now;
  int64_t cutoff = now - (int64_t)l->opts.retention_days * DAY_MS;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(l->db,
                         "DELETE FROM generations WHERE id IN (SELECT id FROM "
                         "generations WHERE created_ms < ? LIMIT 5000)",
                         -1, &st, NULL) != SQLITE_OK) {
    SB_ERR("ledger: retention: %s", sqlite3_errmsg(l->db));
    return;
  }
  for (int pass = 0; pass < 100; pass++) {
    sqlite3_bind_int64(st, 1, cutoff);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || sqlite3_changes(l->db) == 0)
      break;
  }
  sqlite3_finalize(st);
}

/* ---- the writer's priority ---------------------------------------------
 *
 * A commit is a burst of CPU (~10 µs per row), and the scheduler lets a
 * running thread finish its time slice before a woken one runs: a request
 * that arrives during a commit waits for it (the 1-connection p99 was
 * ~0.5 ms with the writer at the workers' priority and ~0.25 ms at idle
 * priority, docs/accounts.md). So while it keeps up, the writer runs at
 * SCHED_IDLE, on whatever CPU time requests leave. Once BOOST_AT rows
 * wait, or anyone waits for a commit (a flush, a full queue, shutdown),
 * it is raised to normal priority until a commit leaves at most RELAX_AT.
 * The kernel lets a thread leave SCHED_IDLE only with CAP_SYS_NICE or an
 * RLIMIT_NICE of 20 or more; without either the writer stays at normal
 * priority throughout (decided once, by a probe thread), and durable
 * stores, whose responses wait for their commits, never yield. A fixed
 * lower priority does not work: at nice 10 a commit still finished its
 * slice before a woken worker ran, and under a load that kept the CPU
 * busy the writer starved until the queue was full and every worker
 * stalled on it at once (p99 30 ms instead of 9 ms at 64 connections). */
#define BOOST_AT BATCH_MAX
#define RELAX_AT (BATCH_MAX / 8)

static void *probe_main(void *arg)
{
  struct sched_param sp = {0};
  bool *ok = arg;
  *ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 &&
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp) == 0;
  return NULL;
}

/* Whether a thread may go to SCHED_IDLE and come back. */
static bool can_leave_idle(void)
{
  pthread_t t;
  bool ok = false;
  if (pthread_create(&t, NULL, probe_main, &ok) != 0)
    return false;
  pthread_join(t, NULL);
  return ok;
}

/* With the lock held. */
static void writer_yield(sb_ledger_t *l, bool yield)
{
  if (!l->can_yield || l->yielding == yield)
    return;
  struct sched_param sp = {0};
  if (pthread_setschedparam(l->thread, yield ? SCHED_IDLE : SCHED_OTHER,
                            &sp) != 0)
    return;
  l->yielding = yield;
  if (!yield)
    l->boosts++;
}

/* The writer's wake-up condition's clock, `ms` from now. */
static struct timespec deadline_after(long ms)
{
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

/* With the lock held: wait for a signal or until `ms` from now. */
static void wait_ms(sb_ledger_t *l, long ms)
{
  struct timespec deadline = deadline_after(ms);
  pthread_cond_timedwait(&l->wake, &l->lock, &deadline);
}

/* Called with the lock held and rows queued: wait up to BATCH_WINDOW_MS
 * for more, unless the batch is full or someone waits for a commit. */
static void gather(sb_ledger_t *l)
{
  struct timespec deadline = deadline_after(BATCH_WINDOW_MS);
  while (!l->stop && !l->urgent && l->n_queued < BATCH_MAX)
    if (pthread_cond_timedwait(&l->wake, &l->lock, &deadline) != 0)
      break; /* the window is over */
}

/* Called with the lock held and the queue empty, after a commit: traffic
 * tends to go on, so the writer looks again one window later before it
 * asks the workers to wake it. While requests keep coming, no worker
 * signals it (a futex call and a context switch in the request path,
 * before the response is written); the rows found then have gathered for
 * the window already. Returns whether rows were found. */
static bool poll_once(sb_ledger_t *l)
{
  if (l->stop || l->opts.durable)
    return false;
  wait_ms(l, BATCH_WINDOW_MS);
  return l->head != NULL;
}

/* End a transaction begun with run_sql(l, "BEGIN"): commit it, or roll it
 * back if a step failed. Whether it committed. */
static bool batch_end(sb_ledger_t *l)
{
  run_sql(l, "COMMIT");
  if (l->batch_rc == SQLITE_OK)
    return true;
  /* A failed statement may have rolled the transaction back already; a
   * failed COMMIT (SQLITE_BUSY) leaves it open. */
  if (!sqlite3_get_autocommit(l->db))
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
  return false;
}

/* Write one batch in one transaction. False if the store refused any of
 * it: then nothing of it is kept (rolled back) and `l->batch_err` says
 * why. `probe`: also rewrite the schema version, so that the commit
 * writes to the store even if every entry was withdrawn. */
static bool write_batch(sb_ledger_t *l, row_node_t *batch, bool probe)
{
  usage_sums_t usage;
  usage.n = 0;
  l->batch_rc = SQLITE_OK;
  run_sql(l, "BEGIN");
  for (row_node_t *r = batch; r != NULL && l->batch_rc == SQLITE_OK;
       r = r->next) {
    switch (r->kind) {
    case NODE_ROW:
      insert_row(l, &r->u.row);
      usage_add(l, &usage, &r->u.row);
      break;
    case NODE_KEY:
    case NODE_KEY_DELETE:
      store_key(l, &r->u.key, r->kind == NODE_KEY_DELETE);
      break;
    case NODE_VOID:
      break;
    }
  }
  usage_flush(l, &usage);
  if (probe)
    run_sql(l, "PRAGMA user_version=" STRINGIFY(SCHEMA_VERSION));
  return batch_end(l);
}

static uint64_t count_entries(const row_node_t *n, node_kind_t kind)
{
  uint64_t c = 0;
  for (; n != NULL; n = n->next)
    c += n->kind == kind;
  return c;
}

/* With the lock held: the store took a batch of `n` entries. Ends the
 * failure burst once every entry it held back is committed; the line to
 * log then is written into `note`. */
static void batch_committed(sb_ledger_t *l, uint64_t n, char *note,
                            size_t cap)
{
  l->committed_seq += n;
  __atomic_store_n(&l->failing, false, __ATOMIC_RELAXED);
  if (!l->degraded || l->committed_seq < l->degraded_until)
    return;
  l->degraded = false;
  int64_t ms = wall_ms() - l->degraded_since_ms;
  snprintf(note, cap,
           "ledger: the store takes writes again: %llu entries that waited "
           "are written, after %lld.%03lld s and %llu refused commits",
           (unsigned long long)(l->committed_seq - l->burst_from),
           (long long)(ms / 1000), (long long)(ms % 1000),
           (unsigned long long)l->burst_errors);
}

/* With the lock held: the store refused the batch `batch`..`last` (`n`
 * entries, taken from the head of the queue): put it back there. The line
 * to log if a burst begins is written into `note`. */
static void batch_refused(sb_ledger_t *l, row_node_t *batch, row_node_t *last,
                          size_t n, char *note, size_t cap)
{
  last->next = l->head;
  l->head = batch;
  if (l->tail == NULL)
    l->tail = last;
  l->n_queued += n;
  l->errors++;
  __atomic_store_n(&l->failing, true, __ATOMIC_RELAXED);
  if (l->stop)
    l->tried_after_stop = true;
  snprintf(l->reason, sizeof(l->reason), "%s", l->batch_err);
  if (!l->degraded) {
    l->degraded = true;
    l->degraded_since_ms = wall_ms();
    l->burst_from = l->committed_seq;
    l->burst_errors = 0;
    snprintf(note, cap,
             "ledger: the store refuses writes: %s; %llu entries wait in "
             "memory and are retried (GET /health, "
             "switchboard_ledger_errors_total)",
             l->reason, (unsigned long long)(l->queued_seq - l->committed_seq));
  }
  l->burst_errors++;
  l->degraded_until = l->queued_seq;
  /* waiters decide now (see wait_work); full-queue waits end */
  pthread_cond_broadcast(&l->flushed);
}

/* With the lock held, after a refused batch: wait before the retry,
 * RETRY_FIRST_MS doubling to RETRY_MAX_MS, or until close's deadline. New
 * rows do not cut the pause short. */
static void retry_pause(sb_ledger_t *l)
{
  uint64_t shift = l->burst_errors > 5 ? 5 : l->burst_errors - 1;
  long ms = SB_MIN(RETRY_MAX_MS, RETRY_FIRST_MS << shift);
  int64_t until = wall_ms() + ms;
  for (;;) {
    int64_t end = l->stop ? SB_MIN(until, l->stop_deadline_ms) : until;
    int64_t left = end - wall_ms();
    if (left <= 0)
      return;
    wait_ms(l, (long)left);
  }
}

/* With the lock held: the queued entry with sequence `seq`, or NULL (it is
 * being written, or no longer queued). */
static row_node_t *find_seq(row_node_t *n, uint64_t seq)
{
  for (; n != NULL && n->seq <= seq; n = n->next)
    if (n->seq == seq)
      return n;
  return NULL;
}

/* With the lock held: the store refused the entry a waiter waits for, and
 * the waiter is told so; make that final. A key change is withdrawn. A
 * row becomes what the client got: a 503 that billed nothing (the cost
 * the upstream charged is named in its error), written once the store
 * takes it. */
static void refuse_entry(sb_ledger_t *l, row_node_t *n)
{
  if (n->kind != NODE_ROW) {
    n->kind = NODE_VOID;
    return;
  }
  sb_ledger_row_t *r = &n->u.row;
  char cost[40];
  sb_cost_format(r->cost_pico, cost, sizeof(cost));
  snprintf(r->error, sizeof(r->error),
           "ledger unavailable: the response was not delivered and $%s was "
           "not billed (%.120s)",
           cost, l->reason);
  r->status = 503;
  r->cost_pico = 0;
  snprintf(r->finish_reason, sizeof(r->finish_reason), "error");
  l->undelivered++;
}

/* Append `list`'s entries as JSON lines to `b`. */
static void spill_lines(sb_buf_t *b, const row_node_t *list)
{
  for (const row_node_t *n = list; n != NULL; n = n->next) {
    sb_status_t rc = SB_OK;
    if (n->kind == NODE_ROW)
      rc = sb_spill_row(b, &n->u.row);
    else if (n->kind != NODE_VOID)
      rc = sb_spill_key(b, &n->u.key, n->kind == NODE_KEY_DELETE);
    if (rc != SB_OK)
      SB_ERR("ledger: out of memory: an unsaved entry is lost");
  }
}

/* Append `b` to `path` and sync it; errno on failure, else 0. A failed
 * append is taken back whole (the file is cut to its former size, or
 * removed if it is new), so the file never holds half an entry. */
static int append_file(const char *path, sb_slice_t b)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  int e = 0;
  off_t was = lseek(fd, 0, SEEK_END);
  for (size_t off = 0; off < b.len && e == 0 && was >= 0;) {
    ssize_t w = write(fd, b.ptr + off, b.len - off);
    if (w < 0 && errno != EINTR)
      e = errno;
    else if (w > 0)
      off += (size_t)w;
  }
  if (was < 0)
    e = errno;
  if (e == 0 && fsync(fd) != 0)
    e = errno;
  if (e != 0 && was >= 0 && ftruncate(fd, was) == 0 && was == 0)
    unlink(path);
  if (close(fd) != 0 && e == 0)
    e = errno;
  return e;
}

/* The file a failing store's last entries are kept in. */
static void unsaved_path(const sb_ledger_t *l, char *out, size_t cap)
{
  snprintf(out, cap, "%s-unsaved.jsonl", l->path);
}

/* Write each line of `lines` to the log as "ledger: unsaved <line>", whole
 * (log lines are cut at 2 KB; a row can be longer). */
static void log_unsaved(sb_slice_t lines)
{
  static const char prefix[] = "ledger: unsaved ";
  while (lines.len > 0) {
    const char *nl = memchr(lines.ptr, '\n', lines.len);
    size_t n = nl != NULL ? (size_t)(nl - lines.ptr) + 1 : lines.len;
    struct iovec iov[2] = {{(void *)prefix, sizeof(prefix) - 1},
                           {(void *)lines.ptr, n}};
    ssize_t w = writev(STDERR_FILENO, iov, 2);
    (void)w;
    lines = sb_slice(lines.ptr + n, lines.len - n);
  }
}

/* Close: the store still refuses what is queued. Keep it in the unsaved
 * file, or else in the log. Called with the lock held; takes the queue. */
static void spill(sb_ledger_t *l)
{
  row_node_t *list = l->head;
  /* Their waiters are answered SB_ERROR (l->closed): make that final, as
   * wait_work does. */
  for (row_node_t *n = list; n != NULL; n = n->next)
    if (n->awaited)
      refuse_entry(l, n);
  l->head = l->tail = NULL;
  l->n_queued = 0;
  char reason[sizeof(l->reason)], path[4096];
  memcpy(reason, l->reason, sizeof(reason));
  pthread_mutex_unlock(&l->lock);
  uint64_t rows = count_entries(list, NODE_ROW);
  uint64_t keys = count_entries(list, NODE_KEY) +
                  count_entries(list, NODE_KEY_DELETE);
  unsaved_path(l, path, sizeof(path));
  sb_buf_t b;
  sb_buf_init(&b, 0); /* no cap */
  spill_lines(&b, list);
  int e = append_file(path, sb_buf_slice(&b));
  if (e == 0) {
    SB_ERR("ledger: at shutdown the store still refuses writes (%s): %llu "
           "rows and %llu key changes are kept in %s and will be written "
           "into the store at the next start",
           reason, (unsigned long long)rows, (unsigned long long)keys, path);
  } else {
    SB_ERR("ledger: at shutdown the store still refuses writes (%s) and %s "
           "cannot be written either (%s): the %llu rows and %llu key "
           "changes follow, one JSON line each after \"ledger: unsaved \"; "
           "put those lines into %s to have them written at the next start",
           reason, path, strerror(e), (unsigned long long)rows,
           (unsigned long long)keys, path);
    log_unsaved(sb_buf_slice(&b));
  }
  sb_buf_free(&b);
  while (list != NULL) {
    row_node_t *next = list->next;
    free(list);
    list = next;
  }
  pthread_mutex_lock(&l->lock);
}

/* The writer; its priority is set from outside (writer_yield). */
static void *writer_main(void *arg)
{
  sb_ledger_t *l = arg;
  char note[512];
  pthread_setname_np(pthread_self(), "sb-ledger");
  pthread_mutex_lock(&l->lock);
  for (;;) {
    bool gathered = l->head == NULL && poll_once(l);
    while (l->head == NULL && !l->stop) {
      if (l->opts.retention_days > 0 &&
          wall_ms() - l->last_prune_ms >= 60000) {
        pthread_mutex_unlock(&l->lock);
        prune(l);
        pthread_mutex_lock(&l->lock);
        continue;
      }
      l->sleeping = true;
      wait_ms(l, 50);
    }
    l->sleeping = false;
    if (l->head == NULL && l->stop)
      break;
    if (l->failing && l->stop && l->tried_after_stop &&
        wall_ms() >= l->stop_deadline_ms) {
      spill(l);
      break;
    }
    if (!l->opts.durable && !gathered && !l->failing)
      gather(l);
    /* At most BATCH_MAX rows per transaction: a worker waiting for room
     * in a full queue waits for one such commit, not for all of it. */
    row_node_t *batch = l->head, *last = batch;
    size_t taken = 1;
    while (last->next != NULL && taken < BATCH_MAX) {
      last = last->next;
      taken++;
    }
    l->head = last->next;
    last->next = NULL;
    if (l->head == NULL) {
      l->tail = NULL;
      l->n_queued = 0;
      l->urgent = false;
    } else {
      l->n_queued -= taken;
    }
    l->writing = batch;
    bool probe = l->degraded;
    pthread_mutex_unlock(&l->lock);

    bool ok = write_batch(l, batch, probe);

    note[0] = '\0';
    pthread_mutex_lock(&l->lock);
    l->writing = NULL;
    if (!ok) {
      batch_refused(l, batch, last, taken, note, sizeof(note));
      if (note[0] != '\0') {
        pthread_mutex_unlock(&l->lock);
        SB_ERR("%s", note);
        pthread_mutex_lock(&l->lock);
      }
      retry_pause(l);
      continue;
    }
    batch_committed(l, taken, note, sizeof(note));
    if (note[0] != '\0') {
      /* before anyone learns of the commit: the burst's last word */
      pthread_mutex_unlock(&l->lock);
      SB_WARN("%s", note);
      pthread_mutex_lock(&l->lock);
    }
    if (l->n_queued <= RELAX_AT && !l->urgent && !l->stop)
      writer_yield(l, true);
    pthread_cond_broadcast(&l->flushed);
    pthread_mutex_unlock(&l->lock);
    while (batch != NULL) {
      row_node_t *next = batch->next;
      free(batch);
      batch = next;
    }
    pthread_mutex_lock(&l->lock);
  }
  l->closed = true;
  pthread_cond_broadcast(&l->flushed);
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

/* SQLite keeps global memory statistics behind a process-wide mutex taken
 * on every allocation; the store never reads them. Must run before SQLite
 * initialises (later it is refused, harmlessly). */
static void sqlite_setup(void)
{
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static sqlite3 *open_db(const char *path, int flags, char *err, size_t errlen)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sqlite_setup);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "ledger: cannot open %s: %s", path,
             db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static sb_status_t prepare(sb_ledger_t *l, const char *sql, sqlite3_stmt **st,
                           char *err, size_t errlen)
{
  if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(l->db));
    return SB_ERROR;
  }
  return SB_OK;
}

/* Sum of usage_daily's `what` for `hash` from day `from` on. */
static int64_t usage_since(sqlite3 *db, const char *what, const char *hash,
                           int64_t from_ms)
{
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  char sql[160];
  snprintf(sql, sizeof(sql),
           "SELECT coalesce(sum(%s), 0) FROM usage_daily WHERE key_hash = ? "
           "AND day >= ?",
           what);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from_ms / DAY_MS);
    if (sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return v;
}

static int64_t spend_since(sqlite3 *db, const char *hash, int64_t from_ms)
{
  return usage_since(db, "cost_pico", hash, from_ms);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);

/* Load the live keys with their spend into the key table. */
static sb_status_t load_keys(sb_ledger_t *l, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int64_t now = wall_ms(), keyed = 0;
  if (sqlite3_prepare_v2(l->db,
                         "SELECT hash, name, label, limit_pico, limit_reset, "
                         "disabled, expires_ms, models, rpm, tpm, created_ms, "
                         "updated_ms, escalation FROM keys "
                         "WHERE deleted_ms IS NULL",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(l->db));
    return SB_ERROR;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    sb_key_record_t r;
    memset(&r, 0, sizeof(r));
    int i = 0;
    col_text(st, i++, r.hash, sizeof(r.hash));
    col_text(st, i++, r.name, sizeof(r.name));
    col_text(st, i++, r.label, sizeof(r.label));
    r.limit_pico = sqlite3_column_type(st, i) == SQLITE_NULL
                       ? -1 : sqlite3_column_int64(st, i);
    i++;
    const unsigned char *reset = sqlite3_column_text(st, i++);
    if (reset == NULL ||
        sb_reset_parse(sb_slice_z((const char *)reset), &r.limit_reset) != SB_OK)
      r.limit_reset = SB_RESET_NONE;
    r.disabled = sqlite3_column_int(st, i++) != 0;
    r.expires_ms = sqlite3_column_int64(st, i++);
    col_text(st, i++, r.models, sizeof(r.models));
    r.rpm = (uint32_t)sqlite3_column_int64(st, i++);
    r.tpm = (uint32_t)sqlite3_column_int64(st, i++);
    r.created_ms = sqlite3_column_int64(st, i++);
    r.updated_ms = sqlite3_column_int64(st, i++);
    col_text(st, i++, r.escalation, sizeof(r.escalation));
    int64_t total = spend_since(l->db, r.hash, 0);
    keyed += total;
    if (sb_keys_load(l->keys, &r, total,
                     spend_since(l->db, r.hash,
                                 sb_period_start(r.limit_reset, now)),
                     spend_since(l->db, r.hash,
                                 sb_period_start(SB_RESET_DAILY, now)),
                     spend_since(l->db, r.hash,
                                 sb_period_start(SB_RESET_WEEKLY, now)),
                     spend_since(l->db, r.hash,
                                 sb_period_start(SB_RESET_MONTHLY, now)),
                     (uint64_t)usage_since(l->db, "requests", r.hash, 0),
                     now) != SB_OK) {
      sqlite3_finalize(st);
      snprintf(err, errlen, "ledger: out of memory loading keys");
      return SB_ERROR;
    }
  }
  sqlite3_finalize(st);
  /* Everything else (admin, local, deleted keys) counts in the totals. */
  int64_t all = 0;
  if (sqlite3_prepare_v2(l->db,
                         "SELECT coalesce(sum(cost_pico), 0) FROM usage_daily",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    all = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sb_keys_set_unkeyed_usage(l->keys, all - keyed);
  return SB_OK;
}

/* Whether the store takes writes: a read-only file (or file system), a
 * full disk or a lock held by another process refuse the probe. */
static sb_status_t check_writable(sb_ledger_t *l, char *err, size_t errlen)
{
  if (sqlite3_db_readonly(l->db, "main") == 1) {
    snprintf(err, errlen,
             "ledger: cannot write %s: the file (or its file system) is "
             "read-only for this process",
             l->path);
    return SB_ERROR;
  }
  if (write_batch(l, NULL, true))
    return SB_OK;
  snprintf(err, errlen, "ledger: cannot write %s: %s", l->path, l->batch_err);
  return SB_ERROR;
}

static bool row_stored(sb_ledger_t *l, const char *id)
{
  sqlite3_stmt *st = NULL;
  bool found = false;
  if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM generations WHERE id = ?", -1,
                         &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

/* Read all of `path` into `b`; errno on failure, else 0. */
static int read_file(const char *path, sb_buf_t *b)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int e = 0;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      e = errno;
    else if (n > 0 && sb_buf_append(b, chunk, (size_t)n) != SB_OK)
      e = ENOMEM;
    if (n <= 0 || e != 0)
      break;
  }
  close(fd);
  return e;
}

/* Write the entries a failing store left in the unsaved file at its last
 * close into the store, in one transaction, then remove the file. A row
 * that is already stored is not written (nor counted) twice; a line that
 * is not an entry is logged and left out. */
static sb_status_t replay_unsaved(sb_ledger_t *l, char *err, size_t errlen)
{
  char path[4096];
  unsaved_path(l, path, sizeof(path));
  sb_buf_t b;
  sb_buf_init(&b, 0); /* no cap */
  int e = read_file(path, &b);
  if (e == ENOENT) {
    sb_buf_free(&b);
    return SB_OK;
  }
  if (e != 0) {
    snprintf(err, errlen, "ledger: cannot read %s: %s", path, strerror(e));
    sb_buf_free(&b);
    return SB_ERROR;
  }
  usage_sums_t usage;
  usage.n = 0;
  uint64_t rows = 0, keys = 0, bad = 0, line_no = 0;
  l->batch_rc = SQLITE_OK;
  run_sql(l, "BEGIN");
  sb_slice_t rest = sb_buf_slice(&b);
  while (rest.len > 0 && l->batch_rc == SQLITE_OK) {
    const char *nl = memchr(rest.ptr, '\n', rest.len);
    size_t n = nl != NULL ? (size_t)(nl - rest.ptr) : rest.len;
    sb_slice_t line = sb_slice(rest.ptr, n);
    rest = sb_slice(rest.ptr + n + (nl != NULL), rest.len - n - (nl != NULL));
    line_no++;
    if (line.len == 0)
      continue;
    sb_spill_kind_t kind;
    sb_ledger_row_t row;
    sb_key_record_t key;
    if (sb_spill_parse(line, &kind, &row, &key) != SB_OK) {
      SB_ERR("ledger: %s line %llu is not a ledger entry; left out: %.*s",
             path, (unsigned long long)line_no, (int)SB_MIN(line.len, 4096),
             line.ptr);
      bad++;
    } else if (kind == SB_SPILL_ROW) {
      if (!row_stored(l, row.id)) {
        insert_row(l, &row);
        usage_add(l, &usage, &row);
        rows++;
      }
    } else {
      store_key(l, &key, kind == SB_SPILL_KEY_DELETED);
      keys++;
    }
  }
  usage_flush(l, &usage);
  sb_buf_free(&b);
  if (!batch_end(l)) {
    snprintf(err, errlen, "ledger: cannot write the entries of %s: %s", path,
             l->batch_err);
    return SB_ERROR;
  }
  if (unlink(path) != 0) {
    snprintf(err, errlen,
             "ledger: wrote the entries of %s but cannot remove it (%s); "
             "remove it before the next start",
             path, strerror(errno));
    return SB_ERROR;
  }
  SB_WARN("ledger: wrote %llu rows and %llu key changes kept in %s at the "
          "last shutdown into the store%s",
          (unsigned long long)rows, (unsigned long long)keys, path,
          bad > 0 ? " (lines that were not entries are in the log)" : "");
  return SB_OK;
}

sb_ledger_t *sb_ledger_open(const char *database, char *err, size_t errlen)
{
  sb_ledger_options_t opts = {false, 0, 0};
  return sb_ledger_open_with(database, &opts, err, errlen);
}

sb_ledger_t *sb_ledger_open_with(const char *database,
                                 const sb_ledger_options_t *opts, char *err,
                                 size_t errlen)
{
  if (strncmp(database, "sqlite:", 7) != 0) {
    snprintf(err, errlen,
             "ledger: '%s': only sqlite:PATH is supported by this build "
             "(the Postgres store is not built yet)", database);
    return NULL;
  }
  const char *path = database + 7;
  sb_ledger_t *l = calloc(1, sizeof(*l));
  if (l == NULL)
    return NULL;
  l->opts = *opts;
  l->keys = sb_keys_new();
  l->path = strdup(path);
  if (l->keys == NULL || l->path == NULL)
    goto fail;
  l->db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
  if (l->db == NULL)
    goto fail;
  if (sqlite3_db_readonly(l->db, "main") == 1) {
    check_writable(l, err, errlen);
    goto fail;
  }
  if (exec(l->db, path,
           opts->durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
           err, errlen) != SB_OK ||
      migrate(l->db, path, err, errlen) != SB_OK ||
      check_writable(l, err, errlen) != SB_OK)
    goto fail;
  if (prepare(l,
          "INSERT OR REPLACE INTO generations (id, created_ms, api, key_label, "
          "agent, app, requested_model, model, provider, upstream_model, "
          "tokens_prompt, tokens_completion, tokens_cached, tokens_cache_write, "
          "tokens_reasoning, usage_estimated, cost_pico, latency_ms, ttft_ms, "
          "status, finish_reason, native_finish_reason, streamed, cancelled, "
          "error, key_hash, rung, escalation_cost_pico, top_rung_cost_pico, "
          "overhead_us) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
          &l->insert, err, errlen) != SB_OK ||
      prepare(l,
          "INSERT INTO usage_daily (key_hash, day, requests, cost_pico, "
          "tokens_prompt, tokens_completion) VALUES (coalesce(?, ''),?,?,?,?,?) "
          "ON CONFLICT (key_hash, day) DO UPDATE SET "
          "requests = requests + excluded.requests, "
          "cost_pico = cost_pico + excluded.cost_pico, "
          "tokens_prompt = tokens_prompt + excluded.tokens_prompt, "
          "tokens_completion = tokens_completion + excluded.tokens_completion",
          &l->add_usage, err, errlen) != SB_OK ||
      prepare(l,
          "INSERT OR REPLACE INTO keys (hash, name, label, limit_pico, "
          "limit_reset, disabled, expires_ms, models, rpm, tpm, created_ms, "
          "updated_ms, escalation, deleted_ms) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
          &l->put_key, err, errlen) != SB_OK ||
      prepare(l, "UPDATE keys SET deleted_ms = ? WHERE hash = ?", &l->del_key,
              err, errlen) != SB_OK)
    goto fail;
  if (replay_unsaved(l, err, errlen) != SB_OK ||
      load_keys(l, err, errlen) != SB_OK)
    goto fail;
  sb_keys_set_store(l->keys, l);
  prune(l);
  l->reader = open_db(path, SQLITE_OPEN_READONLY, err, errlen);
  if (l->reader == NULL)
    goto fail;
  pthread_mutex_init(&l->lock, NULL);
  pthread_mutex_init(&l->read_lock, NULL);
  pthread_cond_init(&l->wake, NULL);
  pthread_cond_init(&l->flushed, NULL);
  l->can_yield = !l->opts.durable && can_leave_idle();
  if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
    snprintf(err, errlen, "ledger: cannot start the writer thread");
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->read_lock);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->flushed);
    goto fail;
  }
  pthread_mutex_lock(&l->lock);
  writer_yield(l, true);
  pthread_mutex_unlock(&l->lock);
  return l;
fail:
  sqlite3_finalize(l->insert);
  sqlite3_finalize(l->add_usage);
  sqlite3_finalize(l->put_key);
  sqlite3_finalize(l->del_key);
  sqlite3_close(l->reader);
  sqlite3_close(l->db);
  sb_keys_free(l->keys);
  free(l->path);
  free(l);
  return NULL;
}

bool sb_ledger_is_durable(const sb_ledger_t *l)
{
  return l != NULL && l->opts.durable;
}

sb_keys_t *sb_ledger_keys(sb_ledger_t *l)
{
  return l != NULL ? l->keys : NULL;
}

void sb_ledger_close(sb_ledger_t *l)
{
  if (l == NULL)
    return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  l->stop_deadline_ms = wall_ms() + l->opts.close_grace_ms;
  l->urgent = true;
  writer_yield(l, false);
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  sqlite3_finalize(l->insert);
  sqlite3_finalize(l->add_usage);
  sqlite3_finalize(l->put_key);
  sqlite3_finalize(l->del_key);
  sb_keys_free(l->keys);
  sqlite3_close(l->reader);
  sqlite3_close(l->db);
  pthread_mutex_destroy(&l->lock);
  pthread_mutex_destroy(&l->read_lock);
  pthread_cond_destroy(&l->wake);
  pthread_cond_destroy(&l->flushed);
  free(l->path);
  free(l);
}

/* With the lock held: no room for another entry while the store keeps up
 * (a failing store gets its entries anyway: the wait could be endless;
 * sb_ledger_admit keeps their number bounded instead). */
static bool must_wait_for_room(const sb_ledger_t *l)
{
  return l->queued_seq - l->committed_seq >= QUEUE_MAX && !l->stop &&
         !l->failing;
}

static uint64_t enqueue(sb_ledger_t *l, row_node_t *n)
{
  n->next = NULL;
  pthread_mutex_lock(&l->lock);
  if (must_wait_for_room(l)) {
    if (l->full_waits++ == 0)
      SB_WARN("ledger: %d rows wait for the store; requests now wait for "
              "its commits (switchboard_ledger_full_waits_total)",
              QUEUE_MAX);
    while (must_wait_for_room(l)) {
      l->urgent = true;
      writer_yield(l, false);
      pthread_cond_signal(&l->wake);
      pthread_cond_wait(&l->flushed, &l->lock);
    }
  }
  bool first = l->head == NULL;
  if (l->tail != NULL)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
  uint64_t seq = n->seq = ++l->queued_seq;
  n->awaited = false;
  /* Wake the writer for the first row of a batch if it sleeps (or a
   * durable response waits for it) and for a full batch; other rows join
   * the batch without a wake-up. */
  l->n_queued = first ? 1 : l->n_queued + 1;
  if ((first && (l->sleeping || l->opts.durable)) || l->n_queued >= BATCH_MAX)
    pthread_cond_signal(&l->wake);
  if (l->n_queued >= BOOST_AT)
    writer_yield(l, false);
  pthread_mutex_unlock(&l->lock);
  return seq;
}

uint64_t sb_ledger_record(sb_ledger_t *l, const sb_ledger_row_t *row)
{
  row_node_t *n = malloc(sizeof(row_node_t));
  if (n == NULL) {
    SB_ERR("ledger: out of memory, row %s not recorded", row->id);
    return 0;
  }
  n->kind = NODE_ROW;
  memcpy(&n->u.row, row, sizeof(*row));
  return enqueue(l, n);
}

uint64_t sb_ledger_save_key(sb_ledger_t *l, const sb_key_record_t *rec,
                            bool deleted)
{
  row_node_t *n = malloc(sizeof(row_node_t));
  if (n == NULL) {
    SB_ERR("ledger: out of memory, key %s not saved", rec->hash);
    return 0;
  }
  n->kind = deleted ? NODE_KEY_DELETE : NODE_KEY;
  memcpy(&n->u.key, rec, sizeof(*rec));
  return enqueue(l, n);
}

static void wait_work(uv_work_t *req)
{
  sb_ledger_waiter_t *w = SB_CONTAINER_OF(req, sb_ledger_waiter_t, work);
  sb_ledger_t *l = w->l;
  pthread_mutex_lock(&l->lock);
  for (;;) {
    if (l->committed_seq >= w->seq) {
      w->status = SB_OK;
      break;
    }
    /* The store refused the last commit: an entry that waits in the queue
     * (not one being written now) is refused. */
    row_node_t *n = l->failing ? find_seq(l->head, w->seq) : NULL;
    if (n != NULL || l->closed) {
      if (n != NULL)
        refuse_entry(l, n);
      w->status = SB_ERROR;
      break;
    }
    pthread_cond_wait(&l->flushed, &l->lock);
  }
  pthread_mutex_unlock(&l->lock);
}

static void wait_done(uv_work_t *req, int status)
{
  sb_ledger_waiter_t *w = SB_CONTAINER_OF(req, sb_ledger_waiter_t, work);
  (void)status;
  w->cb(w->data);
}

sb_status_t sb_ledger_when_committed(sb_ledger_t *l, uv_loop_t *loop,
                                     sb_ledger_waiter_t *w, uint64_t seq,
                                     void (*cb)(void *data), void *data)
{
  w->l = l;
  w->seq = seq;
  w->status = SB_ERROR;
  w->cb = cb;
  w->data = data;
  /* Mark the entry (usually the last one queued), so that whoever takes
   * it off the queue without committing it (spill) knows its waiter will
   * be told it failed. */
  pthread_mutex_lock(&l->lock);
  row_node_t *n = l->tail != NULL && l->tail->seq == seq
                      ? l->tail
                      : find_seq(l->head, seq);
  if (n == NULL)
    n = find_seq(l->writing, seq);
  if (n != NULL)
    n->awaited = true;
  pthread_mutex_unlock(&l->lock);
  return uv_queue_work(loop, &w->work, wait_work, wait_done) == 0 ? SB_OK
                                                                 : SB_ERROR;
}

void sb_ledger_flush(sb_ledger_t *l)
{
  pthread_mutex_lock(&l->lock);
  uint64_t target = l->queued_seq;
  l->urgent = true;
  writer_yield(l, false);
  pthread_cond_signal(&l->wake);
  while (l->committed_seq < target)
    pthread_cond_wait(&l->flushed, &l->lock);
  pthread_mutex_unlock(&l->lock);
}

uint64_t sb_ledger_committed(sb_ledger_t *l)
{
  pthread_mutex_lock(&l->lock);
  uint64_t n = l->committed_seq;
  pthread_mutex_unlock(&l->lock);
  return n;
}

/* With the lock held. */
static bool refusing(const sb_ledger_t *l)
{
  return l->failing &&
         (l->opts.durable || l->queued_seq - l->committed_seq >= QUEUE_MAX);
}

sb_status_t sb_ledger_admit(sb_ledger_t *l, char *why, size_t cap)
{
  /* every model request asks: no lock while the store takes writes */
  if (!__atomic_load_n(&l->failing, __ATOMIC_RELAXED))
    return SB_OK;
  pthread_mutex_lock(&l->lock);
  bool no = refusing(l);
  if (no) {
    l->refused++;
    if (l->opts.durable)
      snprintf(why, cap, "ledger unavailable: the store refuses writes (%s)",
               l->reason);
    else
      snprintf(why, cap,
               "ledger unavailable: %llu rows wait for the store, which "
               "refuses writes (%s)",
               (unsigned long long)(l->queued_seq - l->committed_seq),
               l->reason);
  }
  pthread_mutex_unlock(&l->lock);
  return no ? SB_DECLINED : SB_OK;
}

void sb_ledger_stats(sb_ledger_t *l, sb_ledger_stats_t *out)
{
  pthread_mutex_lock(&l->lock);
  out->committed = l->committed_seq;
  out->waiting = l->queued_seq - l->committed_seq;
  out->full_waits = l->full_waits;
  out->writer_yields = l->yielding;
  out->writer_boosts = l->boosts;
  out->errors = l->errors;
  out->refused = l->refused;
  out->undelivered = l->undelivered;
  out->failing = l->failing;
  out->degraded = l->degraded;
  out->refusing = refusing(l);
  out->degraded_since_ms = l->degraded ? l->degraded_since_ms : 0;
  snprintf(out->reason, sizeof(out->reason), "%s",
           l->degraded ? l->reason : "");
  pthread_mutex_unlock(&l->lock);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", s != NULL ? (const char *)s : "");
}

static bool find_queued(row_node_t *n, const char *id, sb_ledger_row_t *out)
{
  for (; n != NULL; n = n->next)
    if (n->kind == NODE_ROW && strcmp(n->u.row.id, id) == 0) {
      *out = n->u.row;
      return true;
    }
  return false;
}

void sb_ledger_read_row(sqlite3_stmt *st, sb_ledger_row_t *out)
{
  memset(out, 0, sizeof(*out));
  int i = 0;
  col_text(st, i++, out->id, sizeof(out->id));
  out->created_ms = sqlite3_column_int64(st, i++);
  col_text(st, i++, out->api, sizeof(out->api));
  col_text(st, i++, out->key_label, sizeof(out->key_label));
  col_text(st, i++, out->agent, sizeof(out->agent));
  col_text(st, i++, out->app, sizeof(out->app));
  col_text(st, i++, out->requested_model, sizeof(out->requested_model));
  col_text(st, i++, out->model, sizeof(out->model));
  col_text(st, i++, out->provider, sizeof(out->provider));
  col_text(st, i++, out->upstream_model, sizeof(out->upstream_model));
  out->usage.prompt = (uint64_t)sqlite3_column_int64(st, i++);
  out->usage.completion = (uint64_t)sqlite3_column_int64(st, i++);
  out->usage.cached = (uint64_t)sqlite3_column_int64(st, i++);
  out->usage.cache_write = (uint64_t)sqlite3_column_int64(st, i++);
  out->usage.reasoning = (uint64_t)sqlite3_column_int64(st, i++);
  out->usage_estimated = sqlite3_column_int(st, i++) != 0;
  out->cost_pico = sqlite3_column_int64(st, i++);
  out->latency_ms = (uint32_t)sqlite3_column_int64(st, i++);
  out->ttft_ms = (uint32_t)sqlite3_column_int64(st, i++);
  out->status = sqlite3_column_int(st, i++);
  col_text(st, i++, out->finish_reason, sizeof(out->finish_reason));
  col_text(st, i++, out->native_finish_reason, sizeof(out->native_finish_reason));
  out->streamed = sqlite3_column_int(st, i++) != 0;
  out->cancelled = sqlite3_column_int(st, i++) != 0;
  col_text(st, i++, out->error, sizeof(out->error));
  col_text(st, i++, out->key_hash, sizeof(out->key_hash));
  out->overhead_us = (uint32_t)sqlite3_column_int64(st, i++);
}

const char *sb_ledger_file(const sb_ledger_t *l)
{
  return l->path;
}

sb_status_t sb_ledger_get(sb_ledger_t *l, const char *id, sb_ledger_row_t *out)
{
  /* Rows not committed yet are answered from memory, so a client can look
   * up a generation right after its response. */
  pthread_mutex_lock(&l->lock);
  bool hit = find_queued(l->head, id, out) || find_queued(l->writing, id, out);
  pthread_mutex_unlock(&l->lock);
  if (hit)
    return SB_OK;
  sb_status_t rc = SB_DECLINED;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&l->read_lock);
  if (sqlite3_prepare_v2(l->reader,
                         "SELECT " SB_LEDGER_ROW_COLUMNS
                         " FROM generations g WHERE g.id = ?",
                         -1, &st, NULL) != SQLITE_OK) {
    rc = SB_ERROR;
    goto out;
  }
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    sb_ledger_read_row(st, out);
    rc = SB_OK;
  }
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&l->read_lock);
  return rc;
}
