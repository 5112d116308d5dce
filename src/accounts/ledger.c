/*
 * Ledger queue and writer thread over SQLite; see ledger.h.
 *
 * The writer wakes when rows are queued (or every 50 ms), takes the whole
 * queue in one swap and commits it in one transaction. WAL mode with
 * synchronous=NORMAL: a committed batch survives a process crash; an OS
 * crash may lose the last batches (the `durable` mode of a later release
 * changes that trade).
 */
#include "switchboard/ledger.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/log.h"

#define SCHEMA_VERSION 1

typedef struct row_node {
  struct row_node *next;
  sb_ledger_row_t row;
} row_node_t;

struct sb_ledger {
  sqlite3 *db;      /* writer's connection */
  sqlite3 *reader;  /* lookups (sb_ledger_get) */
  pthread_mutex_t read_lock;
  sqlite3_stmt *insert;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t flushed;
  row_node_t *head, *tail; /* queued, oldest first */
  row_node_t *writing;     /* taken by the writer, not yet committed */
  uint64_t queued_seq;     /* rows ever queued */
  uint64_t committed_seq;  /* rows ever committed (or dropped on error) */
  bool stop;
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
};

static sb_status_t exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return SB_ERROR;
  }
  return SB_OK;
}

static sb_status_t migrate(sqlite3 *db, char *err, size_t errlen)
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
    if (exec(db, "BEGIN", err, errlen) != SB_OK ||
        exec(db, migrations[v], err, errlen) != SB_OK)
      return SB_ERROR;
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
    if (exec(db, sql, err, errlen) != SB_OK || exec(db, "COMMIT", err, errlen) != SB_OK)
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
  if (sqlite3_step(st) != SQLITE_DONE)
    SB_ERR("ledger: cannot store row %s: %s", r->id, sqlite3_errmsg(l->db));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void *writer_main(void *arg)
{
  sb_ledger_t *l = arg;
  pthread_mutex_lock(&l->lock);
  for (;;) {
    while (l->head == NULL && !l->stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50 * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&l->wake, &l->lock, &ts);
    }
    if (l->head == NULL && l->stop)
      break;
    row_node_t *batch = l->head;
    l->head = l->tail = NULL;
    l->writing = batch;
    pthread_mutex_unlock(&l->lock);

    uint64_t n = 0;
    sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL);
    for (row_node_t *r = batch; r != NULL; r = r->next, n++)
      insert_row(l, &r->row);
    if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
      SB_ERR("ledger: commit failed: %s", sqlite3_errmsg(l->db));
      sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    }

    pthread_mutex_lock(&l->lock);
    l->writing = NULL;
    l->committed_seq += n;
    pthread_cond_broadcast(&l->flushed);
    pthread_mutex_unlock(&l->lock);
    while (batch != NULL) {
      row_node_t *next = batch->next;
      free(batch);
      batch = next;
    }
    pthread_mutex_lock(&l->lock);
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

static sqlite3 *open_db(const char *path, int flags, char *err, size_t errlen)
{
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

sb_ledger_t *sb_ledger_open(const char *database, char *err, size_t errlen)
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
  l->db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
  if (l->db == NULL)
    goto fail;
  if (exec(l->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err,
           errlen) != SB_OK ||
      migrate(l->db, err, errlen) != SB_OK)
    goto fail;
  if (sqlite3_prepare_v2(
          l->db,
          "INSERT OR REPLACE INTO generations (id, created_ms, api, key_label, "
          "agent, app, requested_model, model, provider, upstream_model, "
          "tokens_prompt, tokens_completion, tokens_cached, tokens_cache_write, "
          "tokens_reasoning, usage_estimated, cost_pico, latency_ms, ttft_ms, "
          "status, finish_reason, native_finish_reason, streamed, cancelled, "
          "error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
          -1, &l->insert, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(l->db));
    goto fail;
  }
  l->reader = open_db(path, SQLITE_OPEN_READONLY, err, errlen);
  if (l->reader == NULL)
    goto fail;
  pthread_mutex_init(&l->lock, NULL);
  pthread_mutex_init(&l->read_lock, NULL);
  pthread_cond_init(&l->wake, NULL);
  pthread_cond_init(&l->flushed, NULL);
  if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
    snprintf(err, errlen, "ledger: cannot start the writer thread");
    goto fail;
  }
  return l;
fail:
  sqlite3_finalize(l->insert);
  sqlite3_close(l->reader);
  sqlite3_close(l->db);
  free(l);
  return NULL;
}

void sb_ledger_close(sb_ledger_t *l)
{
  if (l == NULL)
    return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  sqlite3_finalize(l->insert);
  sqlite3_close(l->reader);
  sqlite3_close(l->db);
  pthread_mutex_destroy(&l->lock);
  pthread_mutex_destroy(&l->read_lock);
  pthread_cond_destroy(&l->wake);
  pthread_cond_destroy(&l->flushed);
  free(l);
}

void sb_ledger_record(sb_ledger_t *l, const sb_ledger_row_t *row)
{
  row_node_t *n = malloc(sizeof(*n));
  if (n == NULL) {
    SB_ERR("ledger: out of memory, row %s not recorded", row->id);
    return;
  }
  n->next = NULL;
  n->row = *row;
  pthread_mutex_lock(&l->lock);
  if (l->tail != NULL)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
  l->queued_seq++;
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
}

void sb_ledger_flush(sb_ledger_t *l)
{
  pthread_mutex_lock(&l->lock);
  uint64_t target = l->queued_seq;
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

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", s != NULL ? (const char *)s : "");
}

static bool find_queued(row_node_t *n, const char *id, sb_ledger_row_t *out)
{
  for (; n != NULL; n = n->next)
    if (strcmp(n->row.id, id) == 0) {
      *out = n->row;
      return true;
    }
  return false;
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
  if (sqlite3_prepare_v2(
          l->reader,
          "SELECT id, created_ms, api, key_label, agent, app, requested_model, "
          "model, provider, upstream_model, tokens_prompt, tokens_completion, "
          "tokens_cached, tokens_cache_write, tokens_reasoning, "
          "usage_estimated, cost_pico, latency_ms, ttft_ms, status, "
          "finish_reason, native_finish_reason, streamed, cancelled, error "
          "FROM generations WHERE id = ?",
          -1, &st, NULL) != SQLITE_OK) {
    rc = SB_ERROR;
    goto out;
  }
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
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
    rc = SB_OK;
  }
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&l->read_lock);
  return rc;
}
