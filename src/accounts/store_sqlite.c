/* SPDX-License-Identifier: MIT */
/*
 * The embedded store: one SQLite file (`database: sqlite:PATH`), WAL mode;
 * see store.h and docs/accounts.md.
 *
 * The writer's connection writes each batch in one transaction: the rows
 * (INSERT OR REPLACE by id), the per-key daily totals they add to (summed
 * per key and day first, one upsert each), and the key changes, in order.
 * A second, read-only connection answers lookups. WAL with
 * synchronous=NORMAL: a committed batch survives a crash of the process;
 * `durable` makes it synchronous=FULL.
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
 *   6  counters_epoch: how often the shared counters were rebuilt from
 *      this store (docs/scale-out.md).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_read.h"
#include "switchboard/log.h"
#include "switchboard/store.h"

#define SCHEMA_VERSION 6
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define DAY_MS 86400000LL

typedef struct {
  sb_store_t base;
  sqlite3 *db;     /* the writer's connection (the reader's, read-only) */
  sqlite3 *reader; /* lookups (get), under read_lock */
  pthread_mutex_t read_lock;
  sqlite3_stmt *insert;
  sqlite3_stmt *add_usage;
  sqlite3_stmt *put_key;
  sqlite3_stmt *del_key;
  sqlite3_stmt *stored;
  char *path;
  /* the batch being written: the first statement that failed */
  int batch_rc;
  char batch_err[160];
} sqlite_store_t;

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
    /* 6: the shared counters' rebuilds */
    "CREATE TABLE counters_epoch (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " epoch INTEGER NOT NULL);"
    "INSERT INTO counters_epoch VALUES (1, 0);",
};

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

static int user_version(sqlite3 *db)
{
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  return version;
}

static sb_status_t migrate(sqlite3 *db, const char *path, char *err,
                           size_t errlen)
{
  int version = user_version(db);
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

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", s != NULL ? (const char *)s : "");
}

/* Note a failed step of the batch being written (the first one counts:
 * the rest of the batch is not attempted). */
static void batch_fail(sqlite_store_t *s, int rc)
{
  if (s->batch_rc != SQLITE_OK)
    return;
  s->batch_rc = rc;
  snprintf(s->batch_err, sizeof(s->batch_err), "%s (%s)",
           sqlite3_errmsg(s->db), rc_name(sqlite3_extended_errcode(s->db)));
}

/* Run a bound write statement and make it ready for the next. */
static void run_write(sqlite_store_t *s, sqlite3_stmt *st)
{
  if (s->batch_rc == SQLITE_OK) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
      batch_fail(s, rc);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void run_sql(sqlite_store_t *s, const char *sql)
{
  if (s->batch_rc != SQLITE_OK)
    return;
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    batch_fail(s, rc);
}

static void insert_row(sqlite_store_t *s, const sb_ledger_row_t *r)
{
  sqlite3_stmt *st = s->insert;
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
  run_write(s, st);
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

static void usage_flush(sqlite_store_t *s, usage_sums_t *u)
{
  sqlite3_stmt *st = s->add_usage;
  for (size_t i = 0; i < u->n; i++) {
    const usage_sum_t *a = &u->s[i];
    sqlite3_bind_text(st, 1, a->key_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->day);
    sqlite3_bind_int64(st, 3, a->requests);
    sqlite3_bind_int64(st, 4, a->cost_pico);
    sqlite3_bind_int64(st, 5, a->prompt);
    sqlite3_bind_int64(st, 6, a->completion);
    run_write(s, st);
  }
  u->n = 0;
}

static void usage_add(sqlite_store_t *s, usage_sums_t *u,
                      const sb_ledger_row_t *r)
{
  /* The day a request is billed to is the day it ended, as for budgets. */
  int64_t day = (r->created_ms + r->latency_ms) / DAY_MS;
  usage_sum_t *a = NULL;
  for (size_t i = 0; i < u->n && a == NULL; i++)
    if (u->s[i].day == day && strcmp(u->s[i].key_hash, r->key_hash) == 0)
      a = &u->s[i];
  if (a == NULL) {
    if (u->n == USAGE_SUMS_MAX)
      usage_flush(s, u);
    a = &u->s[u->n++];
    memset(a, 0, sizeof(*a));
    memcpy(a->key_hash, r->key_hash, sizeof(a->key_hash));
    a->key_hash[sizeof(a->key_hash) - 1] = '\0';
    a->day = day;
  }
  a->requests++;
  a->cost_pico += r->cost_pico;
  a->prompt += (int64_t)r->usage.prompt;
  a->completion += (int64_t)r->usage.completion;
}

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_key(sqlite_store_t *s, const sb_key_record_t *k,
                      bool deleted)
{
  sqlite3_stmt *st;
  if (deleted) {
    st = s->del_key;
    sqlite3_bind_int64(st, 1, wall_ms());
    sqlite3_bind_text(st, 2, k->hash, -1, SQLITE_STATIC);
  } else {
    int i = 1;
    st = s->put_key;
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
  run_write(s, st);
}

static bool row_stored(sqlite_store_t *s, const char *id)
{
  sqlite3_stmt *st = s->stored;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return found;
}

static int64_t read_epoch(sqlite_store_t *s)
{
  sqlite3_stmt *st = NULL;
  int64_t epoch = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT epoch FROM counters_epoch", -1, &st,
                         NULL) != SQLITE_OK) {
    batch_fail(s, sqlite3_errcode(s->db));
    return 0;
  }
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    epoch = sqlite3_column_int64(st, 0);
  else if (rc != SQLITE_DONE)
    batch_fail(s, rc);
  sqlite3_finalize(st);
  return epoch;
}

/* End a transaction begun with run_sql(s, "BEGIN"): commit it, or roll it
 * back if a step failed. Whether it committed. */
static bool batch_end(sqlite_store_t *s)
{
  run_sql(s, "COMMIT");
  if (s->batch_rc == SQLITE_OK)
    return true;
  /* A failed statement may have rolled the transaction back already; a
   * failed COMMIT (SQLITE_BUSY) leaves it open. */
  if (!sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return false;
}

static sb_status_t sq_write(sb_store_t *base, const sb_store_entry_t *e,
                            size_t n, unsigned flags, uint64_t *epoch,
                            char *err, size_t errlen)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  usage_sums_t usage;
  usage.n = 0;
  s->batch_rc = SQLITE_OK;
  /* IMMEDIATE: the write lock from the start, so that the epoch read
   * below is the one in force when the rows commit (seed takes it too). */
  run_sql(s, flags & SB_STORE_READ_EPOCH ? "BEGIN IMMEDIATE" : "BEGIN");
  for (size_t i = 0; i < n && s->batch_rc == SQLITE_OK; i++) {
    switch (e[i].kind) {
    case SB_STORE_ROW:
      if ((flags & SB_STORE_SKIP_STORED) && row_stored(s, e[i].row->id))
        break;
      insert_row(s, e[i].row);
      usage_add(s, &usage, e[i].row);
      break;
    case SB_STORE_KEY:
    case SB_STORE_KEY_DELETE:
      store_key(s, e[i].key, e[i].kind == SB_STORE_KEY_DELETE);
      break;
    }
  }
  usage_flush(s, &usage);
  if (flags & SB_STORE_READ_EPOCH) {
    int64_t v = read_epoch(s);
    if (epoch != NULL)
      *epoch = (uint64_t)v;
  }
  if (flags & SB_STORE_PROBE)
    run_sql(s, "PRAGMA user_version=" STRINGIFY(SCHEMA_VERSION));
  if (batch_end(s))
    return SB_OK;
  snprintf(err, errlen, "%s", s->batch_err);
  return SB_ERROR;
}

/* Sum of usage_daily's `what` for `hash` from the day of `from_ms` on. */
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

/* Each live key with its spend at `now`, on connection `db`. */
static sb_status_t each_key(sqlite3 *db, int64_t now, sb_store_key_fn fn,
                            void *data, int64_t *others, char *err,
                            size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int64_t keyed = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT hash, name, label, limit_pico, limit_reset, "
                         "disabled, expires_ms, models, rpm, tpm, created_ms, "
                         "updated_ms, escalation FROM keys "
                         "WHERE deleted_ms IS NULL",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
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
    sb_key_spend_t sp;
    sp.total = spend_since(db, r.hash, 0);
    sp.period = spend_since(db, r.hash, sb_period_start(r.limit_reset, now));
    sp.day = spend_since(db, r.hash, sb_period_start(SB_RESET_DAILY, now));
    sp.week = spend_since(db, r.hash, sb_period_start(SB_RESET_WEEKLY, now));
    sp.month = spend_since(db, r.hash, sb_period_start(SB_RESET_MONTHLY, now));
    sp.requests = (uint64_t)usage_since(db, "requests", r.hash, 0);
    keyed += sp.total;
    if (fn(data, &r, &sp) != SB_OK) {
      sqlite3_finalize(st);
      snprintf(err, errlen, "ledger: out of memory loading keys");
      return SB_ERROR;
    }
  }
  sqlite3_finalize(st);
  if (others != NULL) {
    /* Everything else (admin, local, deleted keys) counts in the totals. */
    int64_t all = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(sum(cost_pico), 0) FROM usage_daily",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      all = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    *others = all - keyed;
  }
  return SB_OK;
}

static sb_status_t sq_load_keys(sb_store_t *base, int64_t now,
                                sb_store_key_fn fn, void *data,
                                int64_t *others, char *err, size_t errlen)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  /* the reader's connection: the writer's is the writer thread's */
  pthread_mutex_lock(&s->read_lock);
  sb_status_t rc = each_key(s->reader, now, fn, data, others, err, errlen);
  pthread_mutex_unlock(&s->read_lock);
  return rc;
}

static sb_status_t sq_seed(sb_store_t *base, int64_t now, sb_store_key_fn fn,
                           void *data, uint64_t *epoch, char *err,
                           size_t errlen)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  /* Its own connection: the writer's belongs to the writer thread. */
  sqlite3 *db = NULL;
  sb_status_t rc = SB_ERROR;
  if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: cannot open %s: %s", s->path,
             db ? sqlite3_errmsg(db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  if (exec(db, s->path, "BEGIN IMMEDIATE", err, errlen) != SB_OK ||
      exec(db, s->path, "UPDATE counters_epoch SET epoch = epoch + 1", err,
           errlen) != SB_OK)
    goto out;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT epoch FROM counters_epoch", -1, &st,
                         NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    goto out;
  }
  *epoch = (uint64_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (each_key(db, now, fn, data, NULL, err, errlen) != SB_OK ||
      exec(db, s->path, "COMMIT", err, errlen) != SB_OK)
    goto out;
  rc = SB_OK;
out:
  if (db != NULL && !sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
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
  col_text(st, i++, out->native_finish_reason,
           sizeof(out->native_finish_reason));
  out->streamed = sqlite3_column_int(st, i++) != 0;
  out->cancelled = sqlite3_column_int(st, i++) != 0;
  col_text(st, i++, out->error, sizeof(out->error));
  col_text(st, i++, out->key_hash, sizeof(out->key_hash));
  out->overhead_us = (uint32_t)sqlite3_column_int64(st, i++);
}

static sb_status_t sq_get(sb_store_t *base, const char *id,
                          sb_ledger_row_t *out)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  sb_status_t rc = SB_DECLINED;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&s->read_lock);
  if (sqlite3_prepare_v2(s->reader,
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
  pthread_mutex_unlock(&s->read_lock);
  return rc;
}

/* Retention: a slice at a time, so one pass never holds the write lock
 * for long. */
static void sq_prune(sb_store_t *base, int64_t cutoff)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "DELETE FROM generations WHERE id IN (SELECT id FROM "
                         "generations WHERE created_ms < ? LIMIT 5000)",
                         -1, &st, NULL) != SQLITE_OK) {
    SB_ERR("ledger: retention: %s", sqlite3_errmsg(s->db));
    return;
  }
  for (int pass = 0; pass < 100; pass++) {
    sqlite3_bind_int64(st, 1, cutoff);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || sqlite3_changes(s->db) == 0)
      break;
  }
  sqlite3_finalize(st);
}

static sb_status_t sq_usage(sb_store_t *base, sb_usage_by_t by, int64_t from,
                            sb_usage_fn fn, void *data,
                            sb_escalation_sum_t *esc, char *err, size_t errlen)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  const char *group = "coalesce(g.model, g.requested_model, '-')";
  if (by == SB_USAGE_BY_KEY)
    group = "CASE WHEN g.key_hash IS NULL THEN coalesce(g.key_label, '-') "
            "ELSE coalesce(k.name, g.key_label, '?') || ' (' || "
            "substr(g.key_hash, 1, 8) || ')' END";
  else if (by == SB_USAGE_BY_AGENT)
    group = "coalesce(g.agent, '-')";
  else if (by == SB_USAGE_BY_DAY)
    group = "strftime('%Y-%m-%d', g.created_ms / 1000, 'unixepoch')";
  char sql[1024];
  snprintf(sql, sizeof(sql),
           "SELECT %s AS grp, count(*), sum(g.status <> 200), "
           "sum(g.tokens_prompt), sum(g.tokens_completion), sum(g.cost_pico) "
           "FROM generations g LEFT JOIN keys k ON k.hash = g.key_hash "
           "WHERE g.created_ms >= ? GROUP BY grp ORDER BY %s",
           group,
           by == SB_USAGE_BY_DAY ? "grp" : "sum(g.cost_pico) DESC, grp");
  sqlite3_stmt *st = NULL;
  sb_status_t rc = SB_ERROR;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen,
             "cannot read the ledger in %s: %s (has a gateway of this version "
             "opened it yet?)",
             s->path, sqlite3_errmsg(s->db));
    goto out;
  }
  sqlite3_bind_int64(st, 1, from);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *g = sqlite3_column_text(st, 0);
    sb_usage_line_t line = {g != NULL ? (const char *)g : "-",
                            sqlite3_column_int64(st, 1),
                            sqlite3_column_int64(st, 2),
                            sqlite3_column_int64(st, 3),
                            sqlite3_column_int64(st, 4),
                            sqlite3_column_int64(st, 5)};
    fn(data, &line);
  }
  if (step != SQLITE_DONE) {
    snprintf(err, errlen, "reading the ledger failed: %s",
             sqlite3_errmsg(s->db));
    goto out;
  }
  sqlite3_finalize(st);
  st = NULL;
  memset(esc, 0, sizeof(*esc));
  /* silent on a ledger older than schema 3 */
  if (sqlite3_prepare_v2(
          s->db,
          "SELECT count(*), coalesce(sum(cost_pico), 0), "
          "coalesce(sum(escalation_cost_pico), 0), "
          "coalesce(sum(top_rung_cost_pico), 0) FROM generations "
          "WHERE rung > 0 AND created_ms >= ?",
          -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, from);
    if (sqlite3_step(st) == SQLITE_ROW) {
      esc->requests = sqlite3_column_int64(st, 0);
      esc->spent_pico = sqlite3_column_int64(st, 1);
      esc->discarded_pico = sqlite3_column_int64(st, 2);
      esc->top_rung_pico = sqlite3_column_int64(st, 3);
    }
  }
  rc = SB_OK;
out:
  sqlite3_finalize(st);
  return rc;
}

static sb_status_t sq_describe(sb_store_t *base, char *out, size_t cap,
                               char *err, size_t errlen)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  (void)err;
  (void)errlen;
  int v = user_version(s->db);
  snprintf(out, cap, "SQLite %s, schema %d%s", sqlite3_libversion(), v,
           v == 0 ? " (new: created by the first serve)"
           : v < SCHEMA_VERSION ? " (migrated by the next serve)"
           : v > SCHEMA_VERSION ? " (newer than this build: refused)"
                                : "");
  return SB_OK;
}

static void sq_unsaved_path(const sb_store_t *base, char *out, size_t cap)
{
  const sqlite_store_t *s = (const sqlite_store_t *)base;
  snprintf(out, cap, "%s-unsaved.jsonl", s->path);
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

static sb_status_t prepare(sqlite_store_t *s, const char *sql,
                           sqlite3_stmt **st, char *err, size_t errlen)
{
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(s->db));
    return SB_ERROR;
  }
  return SB_OK;
}

/* Whether the store takes writes: a read-only file (or file system), a
 * full disk or a lock held by another process refuse the probe. */
static sb_status_t check_writable(sqlite_store_t *s, char *err, size_t errlen)
{
  char why[160];
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    snprintf(err, errlen,
             "ledger: cannot write %s: the file (or its file system) is "
             "read-only for this process",
             s->path);
    return SB_ERROR;
  }
  if (sq_write(&s->base, NULL, 0, SB_STORE_PROBE, NULL, why, sizeof(why)) ==
      SB_OK)
    return SB_OK;
  snprintf(err, errlen, "ledger: cannot write %s: %s", s->path, why);
  return SB_ERROR;
}

static void sq_close(sb_store_t *base)
{
  sqlite_store_t *s = (sqlite_store_t *)base;
  if (s == NULL)
    return;
  sqlite3_finalize(s->insert);
  sqlite3_finalize(s->add_usage);
  sqlite3_finalize(s->put_key);
  sqlite3_finalize(s->del_key);
  sqlite3_finalize(s->stored);
  sqlite3_close(s->reader);
  sqlite3_close(s->db);
  pthread_mutex_destroy(&s->read_lock);
  free(s->path);
  free(s);
}

static sb_status_t open_writer(sqlite_store_t *s, const sb_ledger_options_t *o,
                               char *err, size_t errlen)
{
  const char *path = s->path;
  s->db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err,
                  errlen);
  if (s->db == NULL)
    return SB_ERROR;
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    check_writable(s, err, errlen);
    return SB_ERROR;
  }
  if (exec(s->db, path,
           o->durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
           err, errlen) != SB_OK ||
      migrate(s->db, path, err, errlen) != SB_OK ||
      check_writable(s, err, errlen) != SB_OK)
    return SB_ERROR;
  if (prepare(s,
          "INSERT OR REPLACE INTO generations (id, created_ms, api, key_label, "
          "agent, app, requested_model, model, provider, upstream_model, "
          "tokens_prompt, tokens_completion, tokens_cached, tokens_cache_write, "
          "tokens_reasoning, usage_estimated, cost_pico, latency_ms, ttft_ms, "
          "status, finish_reason, native_finish_reason, streamed, cancelled, "
          "error, key_hash, rung, escalation_cost_pico, top_rung_cost_pico, "
          "overhead_us) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
          &s->insert, err, errlen) != SB_OK ||
      prepare(s,
          "INSERT INTO usage_daily (key_hash, day, requests, cost_pico, "
          "tokens_prompt, tokens_completion) VALUES (coalesce(?, ''),?,?,?,?,?) "
          "ON CONFLICT (key_hash, day) DO UPDATE SET "
          "requests = requests + excluded.requests, "
          "cost_pico = cost_pico + excluded.cost_pico, "
          "tokens_prompt = tokens_prompt + excluded.tokens_prompt, "
          "tokens_completion = tokens_completion + excluded.tokens_completion",
          &s->add_usage, err, errlen) != SB_OK ||
      prepare(s,
          "INSERT OR REPLACE INTO keys (hash, name, label, limit_pico, "
          "limit_reset, disabled, expires_ms, models, rpm, tpm, created_ms, "
          "updated_ms, escalation, deleted_ms) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
          &s->put_key, err, errlen) != SB_OK ||
      prepare(s, "UPDATE keys SET deleted_ms = ? WHERE hash = ?", &s->del_key,
              err, errlen) != SB_OK ||
      prepare(s, "SELECT 1 FROM generations WHERE id = ?", &s->stored, err,
              errlen) != SB_OK)
    return SB_ERROR;
  s->reader = open_db(path, SQLITE_OPEN_READONLY, err, errlen);
  return s->reader != NULL ? SB_OK : SB_ERROR;
}

static sb_store_t *sq_open(const char *database, sb_store_mode_t mode,
                           const sb_ledger_options_t *o, char *err,
                           size_t errlen)
{
  sqlite_store_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    return NULL;
  }
  s->base.ops = &sb_store_sqlite;
  pthread_mutex_init(&s->read_lock, NULL);
  s->path = strdup(database + strlen("sqlite:"));
  if (s->path == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    goto fail;
  }
  if (mode == SB_STORE_WRITER) {
    if (open_writer(s, o, err, errlen) != SB_OK)
      goto fail;
  } else {
    s->db = open_db(s->path, SQLITE_OPEN_READONLY, err, errlen);
    if (s->db == NULL)
      goto fail;
    s->reader = open_db(s->path, SQLITE_OPEN_READONLY, err, errlen);
    if (s->reader == NULL)
      goto fail;
  }
  return &s->base;
fail:
  sq_close(&s->base);
  return NULL;
}

const sb_store_ops_t sb_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .unsaved_path = sq_unsaved_path,
    .write = sq_write,
    .load_keys = sq_load_keys,
    .get = sq_get,
    .prune = sq_prune,
    .usage = sq_usage,
    .describe = sq_describe,
    .seed = sq_seed,
};
