/* SPDX-License-Identifier: MIT */
/*
 * The Postgres store, through libpq (`database: postgres://USER:PASSWORD@
 * HOST:PORT/DB?sslmode=...`); see store.h and docs/scale-out.md.
 *
 * Several gateways share one database. Each has a writer connection (the
 * ledger's thread) and a reader connection (lookups, under a mutex); both
 * reconnect when the server went away, at the ledger's next retry.
 *
 * A batch is one transaction. Its rows are streamed with COPY into
 * `generations`, and the per-key daily totals they add are upserted. After
 * a write that failed, the next (the same entries, written again) goes
 * through a temporary staging table instead, moved into `generations` by
 * one INSERT that leaves out the ids stored already, whose RETURNING feeds
 * the daily totals: a batch written twice changes nothing the second time,
 * which is what a retry needs after a connection lost during COMMIT (was
 * it committed?): the retry is safe either way. That question is also asked:
 * the transaction's id is read before COMMIT, and after reconnecting
 * txid_status() tells whether it committed, so that a batch the server
 * took is not reported as refused (its durable responses are then
 * delivered). Key changes are upserts of the whole record, in order.
 *
 * No statement waits forever: each result is awaited with poll() for at
 * most QUERY_TIMEOUT_MS (a server that stops answering is given up on and
 * the connection closed), connects give up after CONNECT_TIMEOUT_S, and
 * TCP keepalives and a TCP user timeout catch a vanished host.
 *
 * Schema (table switchboard_schema), migrated at open under an advisory
 * lock, so that of several gateways starting at once exactly one
 * migrates while the others wait:
 *   1  generations, keys, usage_daily, counters_epoch: the SQLite store's
 *      schema 6, with the same columns.
 *   2  responses, response_items: the stored responses
 *      (response_store_pg.c), with the SQLite backend's columns.
 *   3  catalog_snapshot: the catalog's refreshed model lists
 *      (catalog_store_pg.c), the SQLite store's table with body as bytea.
 *
 * The connection helpers and the migration serve response_store_pg.c,
 * ledger_query_pg.c and catalog_store_pg.c too (store_pg_internal.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger_read.h"
#include "store_pg_internal.h"
#include "switchboard/buf.h"
#include "switchboard/log.h"
#include "switchboard/store.h"

#define SCHEMA_VERSION 3
#define DAY_MS INT64_C(86400000)
#define QUERY_TIMEOUT_MS SB_PG_QUERY_TIMEOUT_MS
#define CONNECT_TIMEOUT_S "5"
/* advisory lock keys ("SB" and a number) */
#define LOCK_MIGRATE "1396834305"
#define LOCK_EPOCH "1396834306"

typedef struct {
  sb_store_t base;
  char *url;               /* as configured */
  char shown[256];         /* the URL without its password, for messages */
  sb_store_mode_t mode;
  PGconn *db;              /* the writer's (or the reader's, read-only) */
  PGconn *reader;          /* lookups (get), under read_lock */
  bool unsure;             /* the last write failed: rows it held may be
                              stored (the writer's) */
  pthread_mutex_t read_lock;
} pg_store_t;

static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE generations ("
    " id text PRIMARY KEY,"
    " created_ms bigint NOT NULL,"
    " api text NOT NULL,"
    " key_label text,"
    " agent text,"
    " app text,"
    " requested_model text,"
    " model text,"
    " provider text,"
    " upstream_model text,"
    " tokens_prompt bigint NOT NULL DEFAULT 0,"
    " tokens_completion bigint NOT NULL DEFAULT 0,"
    " tokens_cached bigint NOT NULL DEFAULT 0,"
    " tokens_cache_write bigint NOT NULL DEFAULT 0,"
    " tokens_reasoning bigint NOT NULL DEFAULT 0,"
    " usage_estimated integer NOT NULL DEFAULT 0,"
    " cost_pico bigint NOT NULL DEFAULT 0,"
    " latency_ms bigint NOT NULL DEFAULT 0,"
    " ttft_ms bigint NOT NULL DEFAULT 0,"
    " status integer NOT NULL,"
    " finish_reason text,"
    " native_finish_reason text,"
    " streamed integer NOT NULL DEFAULT 0,"
    " cancelled integer NOT NULL DEFAULT 0,"
    " error text,"
    " key_hash text,"
    " rung bigint NOT NULL DEFAULT 0,"
    " escalation_cost_pico bigint NOT NULL DEFAULT 0,"
    " top_rung_cost_pico bigint NOT NULL DEFAULT 0,"
    " overhead_us bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX generations_created ON generations (created_ms);"
    "CREATE TABLE keys ("
    " hash text PRIMARY KEY,"
    " name text NOT NULL,"
    " label text NOT NULL,"
    " limit_pico bigint,"
    " limit_reset text,"
    " disabled integer NOT NULL DEFAULT 0,"
    " expires_ms bigint,"
    " models text,"
    " rpm bigint NOT NULL DEFAULT 0,"
    " tpm bigint NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL,"
    " deleted_ms bigint,"
    " escalation text);"
    "CREATE TABLE usage_daily ("
    " key_hash text NOT NULL,"
    " day bigint NOT NULL,"
    " requests bigint NOT NULL,"
    " cost_pico bigint NOT NULL,"
    " tokens_prompt bigint NOT NULL,"
    " tokens_completion bigint NOT NULL,"
    " PRIMARY KEY (key_hash, day));"
    "CREATE TABLE counters_epoch (id integer PRIMARY KEY CHECK (id = 1),"
    " epoch bigint NOT NULL);"
    "INSERT INTO counters_epoch VALUES (1, 0);",
    /* 2 */
    "CREATE TABLE responses ("
    " id text PRIMARY KEY,"
    " owner text NOT NULL,"
    " previous_id text,"
    " created_ms bigint NOT NULL,"
    " response text NOT NULL);"
    "CREATE INDEX responses_created ON responses (created_ms);"
    "CREATE TABLE response_items ("
    " response_id text NOT NULL REFERENCES responses (id) ON DELETE CASCADE,"
    " seq bigint NOT NULL,"
    " item_id text,"
    " item text NOT NULL,"
    " PRIMARY KEY (response_id, seq));",
    /* 3 */
    "CREATE TABLE catalog_snapshot ("
    " source text PRIMARY KEY,"
    " fetched_at bigint NOT NULL,"
    " body bytea NOT NULL);",
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SCHEMA_VERSION,
               "one migration per schema version");

/* The generations columns a row is written with, in COPY's order. */
#define ROW_COLUMNS                                                            \
  "id, created_ms, api, key_label, agent, app, requested_model, model, "      \
  "provider, upstream_model, tokens_prompt, tokens_completion, "              \
  "tokens_cached, tokens_cache_write, tokens_reasoning, usage_estimated, "    \
  "cost_pico, latency_ms, ttft_ms, status, finish_reason, "                   \
  "native_finish_reason, streamed, cancelled, error, key_hash, rung, "        \
  "escalation_cost_pico, top_rung_cost_pico, overhead_us"

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line (breaks and tabs as single spaces), into
 * `out`. */
static void one_line(const char *msg, char *out, size_t cap)
{
  size_t n = 0;
  for (const char *p = msg; *p != '\0' && n + 1 < cap; p++) {
    bool space = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
    if (space && (n == 0 || out[n - 1] == ' '))
      continue;
    out[n++] = space ? ' ' : *p;
  }
  while (n > 0 && out[n - 1] == ' ')
    n--;
  out[n] = '\0';
}

/* Why `c` failed (with the result, if any): the server's message and its
 * SQLSTATE, or the connection's. */
static void reason(PGconn *c, const PGresult *r, char *out, size_t cap)
{
  char msg[200];
  const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                : NULL;
  const char *primary = r != NULL
                            ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                            : NULL;
  if (primary != NULL) {
    one_line(primary, msg, sizeof(msg));
    snprintf(out, cap, "%s (SQLSTATE %s)", msg, state != NULL ? state : "?");
    return;
  }
  one_line(c != NULL ? PQerrorMessage(c) : "out of memory", msg, sizeof(msg));
  snprintf(out, cap, "%s", msg[0] != '\0' ? msg : "the connection was lost");
}

/* The server's notices ("already exists, skipping") are not the log's. */
static void quiet(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

PGconn *sb_pg_connect(const char *url, const char *shown, char *err,
                      size_t errlen)
{
  /* Defaults first: what the URL sets wins over them. */
  const char *const keys[] = {"connect_timeout", "application_name",
                              "keepalives", "keepalives_idle",
                              "keepalives_interval", "keepalives_count",
                              "tcp_user_timeout", "dbname", NULL};
  const char *const vals[] = {CONNECT_TIMEOUT_S, "switchboard", "1", "10",
                              "5", "3", "15000", url, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (c == NULL || PQstatus(c) != CONNECTION_OK) {
    char why[200];
    reason(c, NULL, why, sizeof(why));
    snprintf(err, errlen, "cannot connect to %s: %s", shown, why);
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, quiet, NULL);
  return c;
}

bool sb_pg_ensure(PGconn **cp, const char *url, const char *shown,
                  bool *fresh, char *why, size_t cap)
{
  if (fresh != NULL)
    *fresh = false;
  if (*cp != NULL && PQstatus(*cp) == CONNECTION_OK)
    return true;
  PQfinish(*cp);
  *cp = sb_pg_connect(url, shown, why, cap);
  if (fresh != NULL)
    *fresh = *cp != NULL;
  return *cp != NULL;
}

/* The last result of what was sent on `c`, waiting at most
 * QUERY_TIMEOUT_MS; a COPY IN result is returned at once. NULL when the
 * connection failed or the server did not answer (then `c` is finished
 * and *cp NULL: the next use reconnects), with the reason in `why`. */
static PGresult *await(PGconn **cp, char *why, size_t cap)
{
  PGconn *c = *cp;
  PGresult *last = NULL;
  int64_t deadline = mono_ms() + QUERY_TIMEOUT_MS;
  for (;;) {
    while (PQisBusy(c)) {
      int64_t left = deadline - mono_ms();
      struct pollfd p = {PQsocket(c), POLLIN, 0};
      int n = left > 0 ? poll(&p, 1, (int)left) : 0;
      if (n == 0) {
        snprintf(why, cap, "the server did not answer within %d s",
                 QUERY_TIMEOUT_MS / 1000);
        goto lost;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || PQconsumeInput(c) == 0) {
        reason(c, NULL, why, cap);
        goto lost;
      }
    }
    PGresult *r = PQgetResult(c);
    if (r == NULL)
      break;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COPY_IN) {
      PQclear(last);
      return r;
    }
    if (last == NULL || PQresultStatus(last) != PGRES_FATAL_ERROR) {
      PQclear(last);
      last = r;
    } else {
      PQclear(r); /* the first error is the one to report */
    }
  }
  if (last == NULL || PQstatus(c) == CONNECTION_BAD) {
    reason(c, last, why, cap);
    PQclear(last);
    goto lost;
  }
  return last;
lost:
  PQclear(last);
  PQfinish(c);
  *cp = NULL;
  return NULL;
}

/* Send `sql` (with `n` text parameters; none: the simple protocol, which
 * takes several statements) and await its result; the result when its
 * status is `want`, else NULL with the reason in `why`. */
PGresult *sb_pg_run(PGconn **cp, const char *sql, int n,
                    const char *const *vals, ExecStatusType want, char *why,
                    size_t cap)
{
  if (*cp == NULL) {
    snprintf(why, cap, "not connected");
    return NULL;
  }
  int sent = n == 0 ? PQsendQuery(*cp, sql)
                    : PQsendQueryParams(*cp, sql, n, NULL, vals, NULL, NULL, 0);
  if (!sent) {
    reason(*cp, NULL, why, cap);
    if (PQstatus(*cp) == CONNECTION_BAD) {
      PQfinish(*cp);
      *cp = NULL;
    }
    return NULL;
  }
  PGresult *r = await(cp, why, cap);
  if (r == NULL)
    return NULL;
  if (PQresultStatus(r) != want) {
    reason(*cp, r, why, cap);
    PQclear(r);
    return NULL;
  }
  return r;
}

/* A statement without a result to read. */
bool sb_pg_ok(PGconn **cp, const char *sql, int n, const char *const *vals,
              char *why, size_t cap)
{
  PGresult *r = sb_pg_run(cp, sql, n, vals, PGRES_COMMAND_OK, why, cap);
  PQclear(r);
  return r != NULL;
}

int64_t sb_pg_i64(const PGresult *r, int row, int col)
{
  if (PQgetisnull(r, row, col))
    return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_text(const PGresult *r, int row, int col, char *dst,
                     size_t cap)
{
  snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? ""
                                                     : PQgetvalue(r, row, col));
}

/* ---- writing ------------------------------------------------------------- */

/* `s` (at most `cap` bytes, up to a NUL) as Postgres takes text: valid
 * UTF-8, each invalid byte replaced by '?' (a row must never be refused
 * for the bytes a client or a provider sent). Calls `put` for each run. */
static void utf8_clean(const char *s, size_t cap,
                       void (*put)(void *data, const char *p, size_t n),
                       void *data)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t len = strnlen(s, cap), start = 0, i = 0;
  while (i < len) {
    unsigned char c = p[i];
    size_t need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1
                             : (c & 0xf0) == 0xe0 ? 2
                             : (c & 0xf8) == 0xf0 ? 3 : 4;
    bool good = need < 4 && i + need < len && !(c >= 0xc0 && c < 0xc2) &&
                c < 0xf5;
    for (size_t k = 1; good && k <= need; k++)
      good = (p[i + k] & 0xc0) == 0x80;
    /* no surrogates, no overlong 3- and 4-byte forms */
    if (good && need == 2)
      good = !(c == 0xe0 && p[i + 1] < 0xa0) && !(c == 0xed && p[i + 1] >= 0xa0);
    if (good && need == 3)
      good = !(c == 0xf0 && p[i + 1] < 0x90) && !(c == 0xf4 && p[i + 1] >= 0x90);
    if (good) {
      i += need + 1;
      continue;
    }
    put(data, s + start, i - start);
    put(data, "?", 1);
    start = ++i;
  }
  put(data, s + start, len - start);
}

/* Text being built; `failed` once an append did not fit in memory. */
typedef struct {
  sb_buf_t b;
  bool failed;
} text_t;

static void put(text_t *t, const char *p, size_t n)
{
  if (sb_buf_append(&t->b, p, n) != SB_OK)
    t->failed = true;
}

/* COPY's text format: backslash, tab and line breaks escaped. */
static void copy_put(void *data, const char *p, size_t n)
{
  text_t *b = data;
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    const char *esc = p[i] == '\\'   ? "\\\\"
                      : p[i] == '\t' ? "\\t"
                      : p[i] == '\n' ? "\\n"
                      : p[i] == '\r' ? "\\r"
                                     : NULL;
    if (esc == NULL)
      continue;
    put(b, p + from, i - from);
    put(b, esc, 2);
    from = i + 1;
  }
  put(b, p + from, n - from);
}

/* A text column; "" is NULL, as in the SQLite store. */
static void copy_text(text_t *b, const char *s, size_t cap, bool last)
{
  if (s[0] == '\0')
    put(b, "\\N", 2);
  else
    utf8_clean(s, cap, copy_put, b);
  put(b, last ? "\n" : "\t", 1);
}

static void copy_num(text_t *b, int64_t v, bool last)
{
  char num[24];
  int n = snprintf(num, sizeof(num), "%" PRId64 "%c", v, last ? '\n' : '\t');
  put(b, num, (size_t)n);
}

#define TEXT(field) copy_text(b, r->field, sizeof(r->field), false)

static void copy_row(text_t *b, const sb_ledger_row_t *r)
{
  TEXT(id);
  copy_num(b, r->created_ms, false);
  TEXT(api);
  TEXT(key_label);
  TEXT(agent);
  TEXT(app);
  TEXT(requested_model);
  TEXT(model);
  TEXT(provider);
  TEXT(upstream_model);
  copy_num(b, (int64_t)r->usage.prompt, false);
  copy_num(b, (int64_t)r->usage.completion, false);
  copy_num(b, (int64_t)r->usage.cached, false);
  copy_num(b, (int64_t)r->usage.cache_write, false);
  copy_num(b, (int64_t)r->usage.reasoning, false);
  copy_num(b, r->usage_estimated, false);
  copy_num(b, r->cost_pico, false);
  copy_num(b, r->latency_ms, false);
  copy_num(b, r->ttft_ms, false);
  copy_num(b, r->status, false);
  TEXT(finish_reason);
  TEXT(native_finish_reason);
  copy_num(b, r->streamed, false);
  copy_num(b, r->cancelled, false);
  TEXT(error);
  TEXT(key_hash);
  copy_num(b, r->rung, false);
  copy_num(b, r->escalation_pico, false);
  copy_num(b, r->top_rung_pico, false);
  copy_num(b, r->overhead_us, true);
}

#undef TEXT

/* Stream `b` (COPY's text) into `table` (its ROW_COLUMNS). */
static bool copy_in(pg_store_t *s, const char *table, const sb_buf_t *b,
                    char *why, size_t cap)
{
  char sql[640];
  snprintf(sql, sizeof(sql), "COPY %s (" ROW_COLUMNS ") FROM STDIN", table);
  PGresult *r = sb_pg_run(&s->db, sql, 0, NULL, PGRES_COPY_IN, why, cap);
  if (r == NULL)
    return false;
  PQclear(r);
  for (size_t off = 0; off < b->len;) {
    int chunk = (int)SB_MIN(b->len - off, (size_t)1 << 20);
    if (PQputCopyData(s->db, b->data + off, chunk) != 1) {
      reason(s->db, NULL, why, cap);
      return false;
    }
    off += (size_t)chunk;
  }
  if (PQputCopyEnd(s->db, NULL) != 1) {
    reason(s->db, NULL, why, cap);
    return false;
  }
  r = await(&s->db, why, cap);
  if (r == NULL)
    return false;
  bool copied = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!copied)
    reason(s->db, r, why, cap);
  PQclear(r);
  return copied;
}

/* The daily totals the batch's rows add, summed per (key, day) here: one
 * upsert of a few rows. */
static bool add_usage(pg_store_t *s, const sb_store_entry_t *e, size_t n,
                      char *why, size_t cap)
{
  typedef struct {
    const char *hash;
    int64_t day, requests, cost, prompt, completion;
  } sum_t;
  sum_t *sums = calloc(n > 0 ? n : 1, sizeof(*sums));
  size_t m = 0;
  if (sums == NULL) {
    snprintf(why, cap, "out of memory");
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (e[i].kind != SB_STORE_ROW)
      continue;
    const sb_ledger_row_t *r = e[i].row;
    /* the day a request is billed to is the day it ended */
    int64_t day = (r->created_ms + r->latency_ms) / DAY_MS;
    size_t j = 0;
    while (j < m && !(sums[j].day == day && strcmp(sums[j].hash, r->key_hash) == 0))
      j++;
    if (j == m)
      sums[m++] = (sum_t){r->key_hash, day, 0, 0, 0, 0};
    sums[j].requests++;
    sums[j].cost += r->cost_pico;
    sums[j].prompt += (int64_t)r->usage.prompt;
    sums[j].completion += (int64_t)r->usage.completion;
  }
  bool done = true;
  /* at most 1000 (key, day) pairs a statement: 6000 parameters */
  for (size_t at = 0; at < m && done; at += 1000) {
    size_t k = SB_MIN(m - at, (size_t)1000);
    sb_buf_t sql;
    sb_buf_init(&sql, 0);
    char (*num)[24] = calloc(5 * k, 24);
    const char **vals = calloc(6 * k, sizeof(char *));
    bool built = num != NULL && vals != NULL &&
                 sb_buf_appendz(&sql, "INSERT INTO usage_daily (key_hash, "
                                      "day, requests, cost_pico, "
                                      "tokens_prompt, tokens_completion) "
                                      "VALUES ") == SB_OK;
    for (size_t i = 0; built && i < k; i++) {
      const sum_t *u = &sums[at + i];
      int64_t v[5] = {u->day, u->requests, u->cost, u->prompt, u->completion};
      vals[6 * i] = u->hash;
      for (int c = 0; c < 5; c++) {
        snprintf(num[5 * i + (size_t)c], 24, "%" PRId64, v[c]);
        vals[6 * i + 1 + (size_t)c] = num[5 * i + (size_t)c];
      }
      size_t p = 6 * i + 1;
      built = sb_buf_appendf(&sql,
                             "%s($%zu, $%zu::bigint, $%zu::bigint, "
                             "$%zu::bigint, $%zu::bigint, $%zu::bigint)",
                             i > 0 ? ", " : "", p, p + 1, p + 2, p + 3,
                             p + 4, p + 5) == SB_OK;
    }
    built = built &&
            sb_buf_appendz(&sql,
                           " ON CONFLICT (key_hash, day) DO UPDATE SET "
                           "requests = usage_daily.requests + excluded.requests, "
                           "cost_pico = usage_daily.cost_pico + "
                           "excluded.cost_pico, tokens_prompt = "
                           "usage_daily.tokens_prompt + excluded.tokens_prompt, "
                           "tokens_completion = usage_daily.tokens_completion "
                           "+ excluded.tokens_completion") == SB_OK &&
            sb_buf_cstr(&sql) == SB_OK;
    if (!built)
      snprintf(why, cap, "out of memory");
    done = built && sb_pg_ok(&s->db, sql.data, (int)(6 * k), vals, why, cap);
    sb_buf_free(&sql);
    free(num);
    free(vals);
  }
  free(sums);
  return done;
}

/* The batch's rows into generations and the daily totals. `safe`: some
 * may be stored already (a batch written again after a failure, which may
 * have committed; entries read back from the unsaved file): through the
 * staging table, leaving those out, and the totals from what was
 * inserted. Otherwise (none can be: the last write succeeded and rows are
 * written once) straight in with COPY, the cheaper way. */
static bool write_rows(pg_store_t *s, const sb_store_entry_t *e, size_t n,
                       bool safe, char *why, size_t cap)
{
  text_t t = {.failed = false};
  sb_buf_t *b = &t.b;
  sb_buf_init(b, 0);
  for (size_t i = 0; i < n; i++)
    if (e[i].kind == SB_STORE_ROW)
      copy_row(&t, e[i].row);
  bool done = false;
  if (b->len == 0 && !t.failed) {
    sb_buf_free(b);
    return true;
  }
  if (t.failed) {
    snprintf(why, cap, "out of memory");
    goto out;
  }
  if (!safe) {
    done = copy_in(s, "generations", b, why, cap) && add_usage(s, e, n, why, cap);
    goto out;
  }
  done =
      copy_in(s, "sb_stage", b, why, cap) &&
      sb_pg_ok(
          &s->db,
          /* a row stored already is left out; no two instances write one
           * id (ids are random), so a plain anti-join suffices, cheaper
           * than ON CONFLICT */
          "WITH ins AS (INSERT INTO generations (" ROW_COLUMNS
          ") SELECT " ROW_COLUMNS
          " FROM sb_stage s WHERE NOT EXISTS (SELECT 1 FROM "
          "generations g WHERE g.id = s.id) "
          "RETURNING key_hash, created_ms + latency_ms AS ended_ms, "
          "cost_pico, tokens_prompt, tokens_completion) "
          "INSERT INTO usage_daily (key_hash, day, requests, cost_pico, "
          "tokens_prompt, tokens_completion) "
          "SELECT coalesce(key_hash, ''), ended_ms / 86400000, count(*), "
          "sum(cost_pico), sum(tokens_prompt), sum(tokens_completion) "
          "FROM ins GROUP BY 1, 2 "
          "ON CONFLICT (key_hash, day) DO UPDATE SET "
          "requests = usage_daily.requests + excluded.requests, "
          "cost_pico = usage_daily.cost_pico + excluded.cost_pico, "
          "tokens_prompt = usage_daily.tokens_prompt + excluded.tokens_prompt, "
          "tokens_completion = usage_daily.tokens_completion + "
          "excluded.tokens_completion",
          0, NULL, why, cap);
out:
  sb_buf_free(b);
  return done;
}

static void text_put(void *data, const char *p, size_t n)
{
  put(data, p, n);
}

/* A text parameter whose bytes that are not UTF-8 become '?', in `t` with
 * its NUL; its offset (the data may move as `t` grows). */
static size_t param_text(text_t *t, const char *s, size_t cap)
{
  size_t at = t->b.len;
  utf8_clean(s, cap, text_put, t);
  put(t, "", 1);
  return at;
}

char *sb_pg_text(const char *s)
{
  text_t t = {.failed = false};
  sb_buf_init(&t.b, 0);
  param_text(&t, s, strlen(s) + 1);
  if (t.failed) {
    sb_buf_free(&t.b);
    return NULL;
  }
  return t.b.data;
}

static bool write_key(pg_store_t *s, const sb_key_record_t *k, bool deleted,
                      char *why, size_t cap)
{
  if (deleted) {
    char at[24];
    snprintf(at, sizeof(at), "%" PRId64, wall_ms());
    const char *vals[] = {at, k->hash};
    return sb_pg_ok(&s->db, "UPDATE keys SET deleted_ms = $1 WHERE hash = $2",
                    2, vals, why, cap);
  }
  char limit[24], expires[24], rpm[16], tpm[16], created[24], updated[24];
  snprintf(limit, sizeof(limit), "%" PRId64, k->limit_pico);
  snprintf(expires, sizeof(expires), "%" PRId64, k->expires_ms);
  snprintf(rpm, sizeof(rpm), "%" PRIu32, k->rpm);
  snprintf(tpm, sizeof(tpm), "%" PRIu32, k->tpm);
  snprintf(created, sizeof(created), "%" PRId64, k->created_ms);
  snprintf(updated, sizeof(updated), "%" PRId64, k->updated_ms);
  text_t t = {.failed = false};
  sb_buf_init(&t.b, 0);
  size_t name = param_text(&t, k->name, sizeof(k->name));
  size_t models = param_text(&t, k->models, sizeof(k->models));
  size_t esc = param_text(&t, k->escalation, sizeof(k->escalation));
  if (t.failed) {
    sb_buf_free(&t.b);
    snprintf(why, cap, "out of memory");
    return false;
  }
  const char *text = t.b.data;
  const char *vals[] = {
      k->hash,
      text + name,
      k->label,
      k->limit_pico >= 0 ? limit : NULL,
      sb_reset_name(k->limit_reset),
      k->disabled ? "1" : "0",
      k->expires_ms != 0 ? expires : NULL,
      k->models[0] != '\0' ? text + models : NULL,
      rpm,
      tpm,
      created,
      updated,
      k->escalation[0] != '\0' ? text + esc : NULL,
  };
  bool done =
      sb_pg_ok(&s->db,
               "INSERT INTO keys (hash, name, label, limit_pico, "
               "limit_reset, disabled, expires_ms, models, rpm, tpm, "
               "created_ms, updated_ms, escalation, deleted_ms) VALUES "
               "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
               "NULL) ON CONFLICT (hash) DO UPDATE SET name = excluded.name, "
               "label = excluded.label, limit_pico = excluded.limit_pico, "
               "limit_reset = excluded.limit_reset, "
               "disabled = excluded.disabled, "
               "expires_ms = excluded.expires_ms, models = excluded.models, "
               "rpm = excluded.rpm, tpm = excluded.tpm, "
               "created_ms = excluded.created_ms, "
               "updated_ms = excluded.updated_ms, "
               "escalation = excluded.escalation, deleted_ms = NULL",
               13, vals, why, cap);
  sb_buf_free(&t.b);
  return done;
}

/* The writer's connection, (re)made when needed: the session's staging
 * table (gone with the session) and commit mode. */
static bool writer_ready(pg_store_t *s, char *why, size_t cap)
{
  bool fresh;
  if (!sb_pg_ensure(&s->db, s->url, s->shown, &fresh, why, cap))
    return false;
  return !fresh ||
         sb_pg_ok(&s->db,
                  "SET synchronous_commit = on;"
                  "CREATE TEMP TABLE IF NOT EXISTS sb_stage (LIKE generations "
                  "INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                  0, NULL, why, cap);
}

/* The connection was lost while COMMIT was on its way: did the server
 * commit transaction `xid`? Asked on a new connection for up to ~2 s. */
static bool committed_anyway(pg_store_t *s, const char *xid)
{
  char why[200];
  for (int i = 0; i < 20; i++) {
    if (writer_ready(s, why, sizeof(why))) {
      const char *vals[] = {xid};
      PGresult *r = sb_pg_run(&s->db, "SELECT txid_status($1::bigint)", 1, vals,
                              PGRES_TUPLES_OK, why, sizeof(why));
      const char *st = r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
                           ? PQgetvalue(r, 0, 0)
                           : NULL;
      bool committed = st != NULL && strcmp(st, "committed") == 0;
      bool pending = st != NULL && strcmp(st, "in progress") == 0;
      PQclear(r);
      if (r != NULL && !pending)
        return committed;
    }
    usleep(100 * 1000);
  }
  return false;
}

static sb_status_t pg_write(sb_store_t *base, const sb_store_entry_t *e,
                            size_t n, unsigned flags, uint64_t *epoch,
                            char *err, size_t errlen)
{
  pg_store_t *s = (pg_store_t *)base;
  char xid[24] = "";
  if (!writer_ready(s, err, errlen))
    return SB_ERROR;
  /* one round trip: the transaction, the lock that orders it against
   * seed() (which takes it exclusively), then (a statement later, so that
   * it is read once the lock is held) the epoch and the transaction's id */
  PGresult *r =
      sb_pg_run(&s->db,
                flags & SB_STORE_READ_EPOCH
                    ? "BEGIN; SELECT pg_advisory_xact_lock_shared(" LOCK_EPOCH
                      "); SELECT txid_current(), epoch FROM counters_epoch"
                    : "BEGIN; SELECT txid_current()",
                0, NULL, PGRES_TUPLES_OK, err, errlen);
  if (r == NULL || PQntuples(r) != 1) {
    if (r != NULL)
      snprintf(err, errlen, "counters_epoch has no row");
    PQclear(r);
    goto fail;
  }
  snprintf(xid, sizeof(xid), "%s", PQgetvalue(r, 0, 0));
  if ((flags & SB_STORE_READ_EPOCH) && epoch != NULL)
    *epoch = (uint64_t)sb_pg_i64(r, 0, 1);
  PQclear(r);
  bool safe = s->unsure || (flags & SB_STORE_SKIP_STORED);
  if (!write_rows(s, e, n, safe, err, errlen))
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (e[i].kind != SB_STORE_ROW &&
        !write_key(s, e[i].key, e[i].kind == SB_STORE_KEY_DELETE, err, errlen))
      goto fail;
  if ((flags & SB_STORE_PROBE) &&
      !sb_pg_ok(&s->db, "UPDATE switchboard_schema SET version = version", 0,
                NULL, err, errlen))
    goto fail;
  if (!PQsendQuery(s->db, "COMMIT")) {
    reason(s->db, NULL, err, errlen);
    goto fail;
  }
  r = await(&s->db, err, errlen);
  bool committed;
  if (r == NULL) {
    /* lost on the way: the answer is the server's */
    committed = committed_anyway(s, xid);
  } else {
    committed = PQresultStatus(r) == PGRES_COMMAND_OK &&
                strcmp(PQcmdStatus(r), "COMMIT") == 0;
    if (!committed)
      reason(s->db, r, err, errlen);
    PQclear(r);
  }
  /* a batch refused now is written again: perhaps over rows it stored */
  s->unsure = !committed;
  return committed ? SB_OK : SB_ERROR;
fail:
  if (s->db != NULL && PQtransactionStatus(s->db) != PQTRANS_IDLE) {
    char ignored[200];
    sb_pg_ok(&s->db, "ROLLBACK", 0, NULL, ignored, sizeof(ignored));
  }
  s->unsure = true;
  return SB_ERROR;
}

/* ---- reading -------------------------------------------------------------- */

/* With read_lock held: the reader's connection, (re)made when needed. */
static bool reader_ready(pg_store_t *s, char *why, size_t cap)
{
  return sb_pg_ensure(&s->reader, s->url, s->shown, NULL, why, cap);
}

/* Day numbers since the epoch of the UTC day, week and month `now` is in
 * (text, for parameters). */
static void period_days(int64_t now, char d[3][24])
{
  snprintf(d[0], 24, "%" PRId64, sb_period_start(SB_RESET_DAILY, now) / DAY_MS);
  snprintf(d[1], 24, "%" PRId64,
           sb_period_start(SB_RESET_WEEKLY, now) / DAY_MS);
  snprintf(d[2], 24, "%" PRId64,
           sb_period_start(SB_RESET_MONTHLY, now) / DAY_MS);
}

/* Each live key with its spend at `now`, on connection *cp. */
static sb_status_t each_key(PGconn **cp, int64_t now, sb_store_key_fn fn,
                            void *data, int64_t *others, char *err,
                            size_t errlen)
{
  char days[3][24], why[200];
  period_days(now, days);
  const char *vals[] = {days[0], days[1], days[2]};
  PGresult *r = sb_pg_run(
      cp,
      "SELECT k.hash, k.name, k.label, k.limit_pico, k.limit_reset, "
      "k.disabled, k.expires_ms, k.models, k.rpm, k.tpm, k.created_ms, "
      "k.updated_ms, k.escalation, "
      "coalesce(sum(u.cost_pico), 0)::bigint, "
      "coalesce(sum(u.cost_pico) FILTER (WHERE u.day >= CASE k.limit_reset "
      "WHEN 'daily' THEN $1::bigint WHEN 'weekly' THEN $2::bigint "
      "WHEN 'monthly' THEN $3::bigint ELSE 0 END), 0)::bigint, "
      "coalesce(sum(u.cost_pico) FILTER (WHERE u.day >= $1::bigint), "
      "0)::bigint, "
      "coalesce(sum(u.cost_pico) FILTER (WHERE u.day >= $2::bigint), "
      "0)::bigint, "
      "coalesce(sum(u.cost_pico) FILTER (WHERE u.day >= $3::bigint), "
      "0)::bigint, "
      "coalesce(sum(u.requests), 0)::bigint "
      "FROM keys k LEFT JOIN usage_daily u ON u.key_hash = k.hash "
      "WHERE k.deleted_ms IS NULL GROUP BY k.hash",
      3, vals, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL) {
    snprintf(err, errlen, "ledger: cannot read the keys: %s", why);
    return SB_ERROR;
  }
  int64_t keyed = 0;
  for (int i = 0; i < PQntuples(r); i++) {
    sb_key_record_t k;
    sb_key_spend_t sp;
    memset(&k, 0, sizeof(k));
    int c = 0;
    col_text(r, i, c++, k.hash, sizeof(k.hash));
    col_text(r, i, c++, k.name, sizeof(k.name));
    col_text(r, i, c++, k.label, sizeof(k.label));
    k.limit_pico = PQgetisnull(r, i, c) ? -1 : sb_pg_i64(r, i, c);
    c++;
    if (PQgetisnull(r, i, c) || sb_reset_parse(sb_slice_z(PQgetvalue(r, i, c)),
                                               &k.limit_reset) != SB_OK)
      k.limit_reset = SB_RESET_NONE;
    c++;
    k.disabled = sb_pg_i64(r, i, c++) != 0;
    k.expires_ms = sb_pg_i64(r, i, c++);
    col_text(r, i, c++, k.models, sizeof(k.models));
    k.rpm = (uint32_t)sb_pg_i64(r, i, c++);
    k.tpm = (uint32_t)sb_pg_i64(r, i, c++);
    k.created_ms = sb_pg_i64(r, i, c++);
    k.updated_ms = sb_pg_i64(r, i, c++);
    col_text(r, i, c++, k.escalation, sizeof(k.escalation));
    sp.total = sb_pg_i64(r, i, c++);
    sp.period = sb_pg_i64(r, i, c++);
    sp.day = sb_pg_i64(r, i, c++);
    sp.week = sb_pg_i64(r, i, c++);
    sp.month = sb_pg_i64(r, i, c++);
    sp.requests = (uint64_t)sb_pg_i64(r, i, c++);
    keyed += sp.total;
    if (fn(data, &k, &sp) != SB_OK) {
      PQclear(r);
      snprintf(err, errlen, "ledger: out of memory loading keys");
      return SB_ERROR;
    }
  }
  PQclear(r);
  if (others != NULL) {
    r = sb_pg_run(cp,
                  "SELECT coalesce(sum(cost_pico), 0)::bigint FROM usage_daily",
                  0, NULL, PGRES_TUPLES_OK, why, sizeof(why));
    if (r == NULL) {
      snprintf(err, errlen, "ledger: cannot read the totals: %s", why);
      return SB_ERROR;
    }
    *others = sb_pg_i64(r, 0, 0) - keyed;
    PQclear(r);
  }
  return SB_OK;
}

static sb_status_t pg_load_keys(sb_store_t *base, int64_t now,
                                sb_store_key_fn fn, void *data,
                                int64_t *others, char *err, size_t errlen)
{
  pg_store_t *s = (pg_store_t *)base;
  /* the reader's connection: the writer's is the writer thread's */
  char why[200];
  sb_status_t rc = SB_ERROR;
  pthread_mutex_lock(&s->read_lock);
  if (reader_ready(s, why, sizeof(why)))
    rc = each_key(&s->reader, now, fn, data, others, err, errlen);
  else
    snprintf(err, errlen, "ledger: %s", why);
  pthread_mutex_unlock(&s->read_lock);
  return rc;
}

static sb_status_t pg_seed(sb_store_t *base, int64_t now, sb_store_key_fn fn,
                           void *data, uint64_t *epoch, char *err,
                           size_t errlen)
{
  pg_store_t *s = (pg_store_t *)base;
  /* its own connection: the writer's belongs to the writer thread */
  PGconn *c = sb_pg_connect(s->url, s->shown, err, errlen);
  sb_status_t rc = SB_ERROR;
  char why[200];
  if (c == NULL)
    return SB_ERROR;
  PGresult *r = NULL;
  if (!sb_pg_ok(&c, "BEGIN", 0, NULL, why, sizeof(why)))
    goto fail;
  r = sb_pg_run(&c, "SELECT pg_advisory_xact_lock(" LOCK_EPOCH ")", 0, NULL,
                PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL)
    goto fail;
  PQclear(r);
  r = sb_pg_run(&c,
                "UPDATE counters_epoch SET epoch = epoch + 1 RETURNING epoch",
                0, NULL, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL || PQntuples(r) != 1)
    goto fail;
  *epoch = (uint64_t)sb_pg_i64(r, 0, 0);
  PQclear(r);
  r = NULL;
  if (each_key(&c, now, fn, data, NULL, err, errlen) != SB_OK)
    goto out;
  if (!sb_pg_ok(&c, "COMMIT", 0, NULL, why, sizeof(why)))
    goto fail;
  rc = SB_OK;
  goto out;
fail:
  snprintf(err, errlen, "ledger: cannot rebuild the counters from %s: %s",
           s->shown, r != NULL ? "counters_epoch has no row" : why);
out:
  PQclear(r);
  PQfinish(c);
  return rc;
}

void sb_pg_read_row(const PGresult *r, int i, sb_ledger_row_t *out)
{
  memset(out, 0, sizeof(*out));
  int c = 0;
  col_text(r, i, c++, out->id, sizeof(out->id));
  out->created_ms = sb_pg_i64(r, i, c++);
  col_text(r, i, c++, out->api, sizeof(out->api));
  col_text(r, i, c++, out->key_label, sizeof(out->key_label));
  col_text(r, i, c++, out->agent, sizeof(out->agent));
  col_text(r, i, c++, out->app, sizeof(out->app));
  col_text(r, i, c++, out->requested_model, sizeof(out->requested_model));
  col_text(r, i, c++, out->model, sizeof(out->model));
  col_text(r, i, c++, out->provider, sizeof(out->provider));
  col_text(r, i, c++, out->upstream_model, sizeof(out->upstream_model));
  out->usage.prompt = (uint64_t)sb_pg_i64(r, i, c++);
  out->usage.completion = (uint64_t)sb_pg_i64(r, i, c++);
  out->usage.cached = (uint64_t)sb_pg_i64(r, i, c++);
  out->usage.cache_write = (uint64_t)sb_pg_i64(r, i, c++);
  out->usage.reasoning = (uint64_t)sb_pg_i64(r, i, c++);
  out->usage_estimated = sb_pg_i64(r, i, c++) != 0;
  out->cost_pico = sb_pg_i64(r, i, c++);
  out->latency_ms = (uint32_t)sb_pg_i64(r, i, c++);
  out->ttft_ms = (uint32_t)sb_pg_i64(r, i, c++);
  out->status = (int)sb_pg_i64(r, i, c++);
  col_text(r, i, c++, out->finish_reason, sizeof(out->finish_reason));
  col_text(r, i, c++, out->native_finish_reason,
           sizeof(out->native_finish_reason));
  out->streamed = sb_pg_i64(r, i, c++) != 0;
  out->cancelled = sb_pg_i64(r, i, c++) != 0;
  col_text(r, i, c++, out->error, sizeof(out->error));
  col_text(r, i, c++, out->key_hash, sizeof(out->key_hash));
  out->overhead_us = (uint32_t)sb_pg_i64(r, i, c++);
}

static sb_status_t pg_get(sb_store_t *base, const char *id,
                          sb_ledger_row_t *out)
{
  pg_store_t *s = (pg_store_t *)base;
  sb_status_t rc = SB_ERROR;
  char why[200];
  pthread_mutex_lock(&s->read_lock);
  /* a connection the server dropped is made again, once */
  for (int attempt = 0; attempt < 2 && rc == SB_ERROR; attempt++) {
    if (!reader_ready(s, why, sizeof(why)))
      break;
    const char *vals[] = {id};
    PGresult *r = sb_pg_run(
        &s->reader,
        "SELECT " SB_LEDGER_ROW_COLUMNS " FROM generations g WHERE g.id = $1",
        1, vals, PGRES_TUPLES_OK, why, sizeof(why));
    if (r == NULL)
      continue;
    rc = SB_DECLINED;
    if (PQntuples(r) == 1) {
      sb_pg_read_row(r, 0, out);
      rc = SB_OK;
    }
    PQclear(r);
  }
  pthread_mutex_unlock(&s->read_lock);
  return rc;
}

static void pg_prune(sb_store_t *base, int64_t cutoff)
{
  pg_store_t *s = (pg_store_t *)base;
  char at[24], why[200];
  snprintf(at, sizeof(at), "%" PRId64, cutoff);
  const char *vals[] = {at};
  if (!writer_ready(s, why, sizeof(why)))
    return;
  for (int pass = 0; pass < 100; pass++) {
    PGresult *r =
        sb_pg_run(&s->db,
                  "DELETE FROM generations WHERE id IN (SELECT id FROM "
                  "generations WHERE created_ms < $1::bigint LIMIT 5000)",
                  1, vals, PGRES_COMMAND_OK, why, sizeof(why));
    if (r == NULL) {
      SB_ERR("ledger: retention: %s", why);
      return;
    }
    bool more = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    if (!more)
      return;
  }
}

static sb_status_t pg_usage(sb_store_t *base, sb_usage_by_t by, int64_t from,
                            sb_usage_fn fn, void *data,
                            sb_escalation_sum_t *esc, char *err, size_t errlen)
{
  pg_store_t *s = (pg_store_t *)base;
  const char *group = "coalesce(g.model, g.requested_model, '-')";
  if (by == SB_USAGE_BY_KEY)
    group = "CASE WHEN g.key_hash IS NULL THEN coalesce(g.key_label, '-') "
            "ELSE coalesce(k.name, g.key_label, '?') || ' (' || "
            "substr(g.key_hash, 1, 8) || ')' END";
  else if (by == SB_USAGE_BY_AGENT)
    group = "coalesce(g.agent, '-')";
  else if (by == SB_USAGE_BY_DAY)
    group = "to_char(to_timestamp(g.created_ms / 1000) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD')";
  char sql[1024], since[24], why[200];
  snprintf(sql, sizeof(sql),
           "SELECT %s AS grp, count(*), sum((g.status <> 200)::int), "
           "sum(g.tokens_prompt), sum(g.tokens_completion), "
           "sum(g.cost_pico) FROM generations g LEFT JOIN keys k "
           "ON k.hash = g.key_hash WHERE g.created_ms >= $1::bigint "
           "GROUP BY grp ORDER BY %s",
           group,
           by == SB_USAGE_BY_DAY ? "grp" : "sum(g.cost_pico) DESC, grp");
  snprintf(since, sizeof(since), "%" PRId64, from);
  const char *vals[] = {since};
  PGresult *r =
      sb_pg_run(&s->db, sql, 1, vals, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL) {
    snprintf(err, errlen,
             "cannot read the ledger in %s: %s (has a gateway "
             "of this version opened it yet?)",
             s->shown, why);
    return SB_ERROR;
  }
  for (int i = 0; i < PQntuples(r); i++) {
    sb_usage_line_t line = {PQgetvalue(r, i, 0), sb_pg_i64(r, i, 1),
                            sb_pg_i64(r, i, 2),  sb_pg_i64(r, i, 3),
                            sb_pg_i64(r, i, 4),  sb_pg_i64(r, i, 5)};
    fn(data, &line);
  }
  PQclear(r);
  memset(esc, 0, sizeof(*esc));
  r = sb_pg_run(&s->db,
                "SELECT count(*), coalesce(sum(cost_pico), 0), "
                "coalesce(sum(escalation_cost_pico), 0), "
                "coalesce(sum(top_rung_cost_pico), 0) FROM generations "
                "WHERE rung > 0 AND created_ms >= $1::bigint",
                1, vals, PGRES_TUPLES_OK, why, sizeof(why));
  if (r != NULL && PQntuples(r) == 1) {
    esc->requests = sb_pg_i64(r, 0, 0);
    esc->spent_pico = sb_pg_i64(r, 0, 1);
    esc->discarded_pico = sb_pg_i64(r, 0, 2);
    esc->top_rung_pico = sb_pg_i64(r, 0, 3);
  }
  PQclear(r);
  return SB_OK;
}

static sb_status_t pg_describe(sb_store_t *base, char *out, size_t cap,
                               char *err, size_t errlen)
{
  pg_store_t *s = (pg_store_t *)base;
  char why[200];
  PGresult *r =
      sb_pg_run(&s->db,
                "SELECT current_setting('server_version'), CASE WHEN "
                "to_regclass('switchboard_schema') IS NULL THEN -1 ELSE "
                "(SELECT max(version) FROM switchboard_schema) END",
                0, NULL, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL || PQntuples(r) != 1) {
    snprintf(err, errlen, "%s: %s", s->shown, r != NULL ? "no answer" : why);
    PQclear(r);
    return SB_ERROR;
  }
  int64_t v = sb_pg_i64(r, 0, 1);
  snprintf(out, cap, "PostgreSQL %s, schema %" PRId64 "%s", PQgetvalue(r, 0, 0),
           v < 0 ? 0 : v,
           v <= 0               ? " (new: created by the first serve)"
           : v < SCHEMA_VERSION ? " (migrated by the next serve)"
           : v > SCHEMA_VERSION ? " (newer than this build: refused)"
                                : "");
  PQclear(r);
  return SB_OK;
}

static void pg_unsaved_path(const sb_store_t *base, char *out, size_t cap)
{
  (void)base;
  sb_store_state_file("switchboard-postgres-unsaved.jsonl", out, cap);
}

/* ---- opening ----------------------------------------------------------------- */

sb_status_t sb_pg_migrate(PGconn **cp, const char *shown, char *err,
                          size_t errlen)
{
  char why[200];
  sb_status_t rc = SB_ERROR;
  PGresult *r = sb_pg_run(cp, "SELECT pg_advisory_lock(" LOCK_MIGRATE ")", 0,
                          NULL, PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL)
    goto fail;
  PQclear(r);
  if (!sb_pg_ok(
          cp,
          "CREATE TABLE IF NOT EXISTS switchboard_schema (version integer "
          "NOT NULL)",
          0, NULL, why, sizeof(why)))
    goto fail;
  r = sb_pg_run(cp, "SELECT max(version) FROM switchboard_schema", 0, NULL,
                PGRES_TUPLES_OK, why, sizeof(why));
  if (r == NULL)
    goto fail;
  bool fresh = PQgetisnull(r, 0, 0);
  int64_t version = sb_pg_i64(r, 0, 0);
  PQclear(r);
  if (fresh && !sb_pg_ok(cp, "INSERT INTO switchboard_schema VALUES (0)", 0,
                         NULL, why, sizeof(why)))
    goto fail;
  if (version > SCHEMA_VERSION) {
    snprintf(err, errlen,
             "the database %s has schema version %" PRId64
             ", newer than this build's %d",
             shown, version, SCHEMA_VERSION);
    goto unlock;
  }
  for (int64_t v = version; v < SCHEMA_VERSION; v++) {
    char set[80];
    snprintf(set, sizeof(set), "UPDATE switchboard_schema SET version = %d",
             (int)v + 1);
    if (!sb_pg_ok(cp, "BEGIN", 0, NULL, why, sizeof(why)) ||
        !sb_pg_ok(cp, migrations[v], 0, NULL, why, sizeof(why)) ||
        !sb_pg_ok(cp, set, 0, NULL, why, sizeof(why)) ||
        !sb_pg_ok(cp, "COMMIT", 0, NULL, why, sizeof(why))) {
      char ignored[200];
      if (*cp != NULL)
        sb_pg_ok(cp, "ROLLBACK", 0, NULL, ignored, sizeof(ignored));
      goto fail;
    }
  }
  rc = SB_OK;
  goto unlock;
fail:
  snprintf(err, errlen, "cannot migrate %s: %s", shown, why);
unlock:
  if (*cp != NULL) {
    r = sb_pg_run(cp, "SELECT pg_advisory_unlock(" LOCK_MIGRATE ")", 0, NULL,
                  PGRES_TUPLES_OK, why, sizeof(why));
    PQclear(r);
  }
  return rc;
}

static void pg_close(sb_store_t *base)
{
  pg_store_t *s = (pg_store_t *)base;
  if (s == NULL)
    return;
  PQfinish(s->db);
  PQfinish(s->reader);
  pthread_mutex_destroy(&s->read_lock);
  free(s->url);
  free(s);
}

static sb_store_t *pg_open(const char *database, sb_store_mode_t mode,
                           const sb_ledger_options_t *o, char *err,
                           size_t errlen)
{
  (void)o; /* every commit is synchronous (docs/scale-out.md) */
  char why[200];
  pg_store_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    return NULL;
  }
  s->base.ops = &sb_store_postgres;
  s->mode = mode;
  pthread_mutex_init(&s->read_lock, NULL);
  s->url = strdup(database);
  sb_store_redact(database, s->shown, sizeof(s->shown));
  if (s->url == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    goto fail;
  }
  s->db = sb_pg_connect(s->url, s->shown, why, sizeof(why));
  if (s->db == NULL) {
    snprintf(err, errlen, "ledger: %s", why);
    goto fail;
  }
  if (mode == SB_STORE_READER)
    return &s->base;
  char failed[512];
  if (sb_pg_migrate(&s->db, s->shown, failed, sizeof(failed)) != SB_OK) {
    snprintf(err, errlen, "ledger: %s", failed);
    goto fail;
  }
  /* the session's set-up, then a write that must be taken */
  PQfinish(s->db);
  s->db = NULL;
  if (!writer_ready(s, why, sizeof(why)) ||
      pg_write(&s->base, NULL, 0, SB_STORE_PROBE, NULL, why, sizeof(why)) !=
          SB_OK) {
    snprintf(err, errlen, "ledger: cannot write %s: %s", s->shown, why);
    goto fail;
  }
  return &s->base;
fail:
  pg_close(&s->base);
  return NULL;
}

const sb_store_ops_t sb_store_postgres = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .unsaved_path = pg_unsaved_path,
    .write = pg_write,
    .load_keys = pg_load_keys,
    .get = pg_get,
    .prune = pg_prune,
    .usage = pg_usage,
    .describe = pg_describe,
    .seed = pg_seed,
};
