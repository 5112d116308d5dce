/* SPDX-License-Identifier: MIT */
/*
 * Stored responses in SQLite (response_store.h's backend), in the ledger's
 * database file with a connection of their own (WAL lets the ledger's
 * writer and this one take turns):
 *
 *   responses      (id, owner, previous_id, created_ms, response)
 *   response_items (response_id, seq, item_id, item)   one row per input
 *                                                      item, in order
 *
 * A key's responses are found only with its own hash as owner (an
 * unknown id and another key's are the same "not found"). Called from the
 * store's thread only.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "switchboard/json.h"
#include "switchboard/response_store.h"

typedef struct {
  sqlite3 *db;
} sq_t;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS responses ("
    " id TEXT PRIMARY KEY, owner TEXT NOT NULL, previous_id TEXT,"
    " created_ms INTEGER NOT NULL, response TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS responses_created ON responses (created_ms);"
    "CREATE TABLE IF NOT EXISTS response_items ("
    " response_id TEXT NOT NULL, seq INTEGER NOT NULL, item_id TEXT,"
    " item TEXT NOT NULL, PRIMARY KEY (response_id, seq)) WITHOUT ROWID;";

void *sb_rstore_sqlite_open(const char *path, char *err, size_t errlen)
{
  sq_t *q = calloc(1, sizeof(*q));
  if (q == NULL) {
    snprintf(err, errlen, "stored responses: out of memory");
    return NULL;
  }
  char *msg = NULL;
  if (sqlite3_open_v2(path, &q->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(q->db, 5000) != SQLITE_OK ||
      sqlite3_exec(q->db, "PRAGMA synchronous=NORMAL;", NULL, NULL, &msg) !=
          SQLITE_OK ||
      sqlite3_exec(q->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "stored responses: %s: %s", path,
             msg != NULL ? msg : q->db ? sqlite3_errmsg(q->db) : "out of memory");
    sqlite3_free(msg);
    sqlite3_close(q->db);
    free(q);
    return NULL;
  }
  return q;
}

static void sq_close(void *impl)
{
  sq_t *q = impl;
  sqlite3_close(q->db);
  free(q);
}

/* ---- statements ------------------------------------------------------------------ */

static sqlite3_stmt *prep(sq_t *q, const char *sql)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
    return NULL;
  return st;
}

static void bind_slice(sqlite3_stmt *st, int i, sb_slice_t s)
{
  if (s.ptr == NULL)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, s.ptr, (int)s.len, SQLITE_TRANSIENT);
}

static sb_slice_t column(sb_arena_t *a, sqlite3_stmt *st, int i)
{
  const char *p = (const char *)sqlite3_column_text(st, i);
  if (p == NULL)
    return SB_NULL_SLICE;
  return sb_arena_slice_dup(a, sb_slice(p, (size_t)sqlite3_column_bytes(st, i)));
}

/* Run a statement with no rows. */
static sb_status_t step_done(sqlite3_stmt *st)
{
  int rc = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SB_OK : SB_ERROR;
}

static sb_status_t exec(sq_t *q, const char *sql)
{
  return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? SB_OK
                                                                 : SB_ERROR;
}

/* A statement with one parameter, the id (or, with `ms`, a time). */
static sb_status_t run_with(sq_t *q, const char *sql, sb_slice_t id, int64_t ms)
{
  sqlite3_stmt *st = prep(q, sql);
  if (st != NULL && id.ptr != NULL)
    bind_slice(st, 1, id);
  else if (st != NULL)
    sqlite3_bind_int64(st, 1, ms);
  return step_done(st);
}

/* The end of a transaction: committed when `rc` is SB_OK, else rolled
 * back; SB_ERROR when the commit fails. */
static sb_status_t end_tx(sq_t *q, sb_status_t rc)
{
  if (exec(q, rc == SB_OK ? "COMMIT" : "ROLLBACK") != SB_OK) {
    exec(q, "ROLLBACK");
    rc = SB_ERROR;
  }
  return rc;
}

/* ---- put ---------------------------------------------------------------------- */

static sb_status_t put_items(sq_t *q, sb_slice_t id, sb_slice_t input)
{
  sb_arena_t a;
  sb_json_t *arr;
  sb_status_t rc = SB_OK;
  sb_arena_init(&a, 16 * 1024, 0);
  if (sb_json_parse(&a, input.ptr, input.len, 0, &arr, NULL) != SB_OK ||
      arr->type != SB_JSON_ARRAY) {
    sb_arena_destroy(&a);
    return SB_ERROR;
  }
  sqlite3_stmt *st = prep(q, "INSERT INTO response_items (response_id, seq, "
                             "item_id, item) VALUES (?,?,?,?)");
  int64_t seq = 0;
  for (const sb_json_t *x = arr->child; x != NULL && rc == SB_OK && st != NULL;
       x = x->next, seq++) {
    const sb_json_t *iid = sb_json_get(x, "id");
    sb_slice_t item_id = SB_NULL_SLICE;
    if (sb_json_is(iid, SB_JSON_STRING) &&
        sb_json_string(&a, iid, &item_id) != SB_OK)
      rc = SB_ERROR;
    bind_slice(st, 1, id);
    sqlite3_bind_int64(st, 2, seq);
    bind_slice(st, 3, item_id);
    bind_slice(st, 4, x->raw);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = SB_ERROR;
    sqlite3_reset(st);
  }
  if (st == NULL)
    rc = SB_ERROR;
  sqlite3_finalize(st);
  sb_arena_destroy(&a);
  return rc;
}

static sb_status_t sq_put(void *impl, const sb_rstore_entry_t *e)
{
  sq_t *q = impl;
  if (exec(q, "BEGIN IMMEDIATE") != SB_OK)
    return SB_ERROR;
  sqlite3_stmt *st = prep(q, "INSERT OR REPLACE INTO responses (id, owner, "
                             "previous_id, created_ms, response) "
                             "VALUES (?,?,?,?,?)");
  if (st != NULL) {
    bind_slice(st, 1, e->id);
    bind_slice(st, 2, e->owner.ptr != NULL ? e->owner : SB_SLICE_LIT(""));
    bind_slice(st, 3, e->previous_id.len > 0 ? e->previous_id : SB_NULL_SLICE);
    sqlite3_bind_int64(st, 4, e->created_ms);
    bind_slice(st, 5, e->response);
  }
  sb_status_t rc = step_done(st);
  if (rc == SB_OK)
    rc = run_with(q, "DELETE FROM response_items WHERE response_id = ?", e->id,
                  0);
  if (rc == SB_OK && e->input.len > 0)
    rc = put_items(q, e->id, e->input);
  return end_tx(q, rc);
}

/* ---- get, delete ------------------------------------------------------------------- */

/* SB_OK when the response exists for the owner. */
static sb_status_t owned(sq_t *q, sb_slice_t id, sb_slice_t owner)
{
  sqlite3_stmt *st = prep(q, "SELECT 1 FROM responses WHERE id = ? AND "
                             "owner = ?");
  if (st == NULL)
    return SB_ERROR;
  bind_slice(st, 1, id);
  bind_slice(st, 2, owner.ptr != NULL ? owner : SB_SLICE_LIT(""));
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? SB_OK : rc == SQLITE_DONE ? SB_DECLINED : SB_ERROR;
}

/* The response's input items as one JSON array, in `a`. */
static sb_status_t items_array(sq_t *q, sb_slice_t id, sb_arena_t *a,
                               sb_slice_t *out)
{
  sqlite3_stmt *st = prep(q, "SELECT item FROM response_items WHERE "
                             "response_id = ? ORDER BY seq");
  if (st == NULL)
    return SB_ERROR;
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_buf_append(&b, "[", 1);
  bind_slice(st, 1, id);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (b.len > 1)
      sb_buf_append(&b, ",", 1);
    sb_buf_append(&b, sqlite3_column_text(st, 0),
                  (size_t)sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  sb_status_t s = rc == SQLITE_DONE && sb_buf_append(&b, "]", 1) == SB_OK
                      ? SB_OK
                      : SB_ERROR;
  if (s == SB_OK) {
    *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
    s = out->ptr != NULL ? SB_OK : SB_ERROR;
  }
  sb_buf_free(&b);
  return s;
}

static sb_status_t sq_get(void *impl, sb_slice_t id, sb_slice_t owner,
                          sb_arena_t *a, sb_rstore_entry_t *out)
{
  sq_t *q = impl;
  memset(out, 0, sizeof(*out));
  sqlite3_stmt *st = prep(q, "SELECT previous_id, created_ms, response FROM "
                             "responses WHERE id = ? AND owner = ?");
  if (st == NULL)
    return SB_ERROR;
  bind_slice(st, 1, id);
  bind_slice(st, 2, owner.ptr != NULL ? owner : SB_SLICE_LIT(""));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->id = sb_arena_slice_dup(a, id);
    out->owner = sb_arena_slice_dup(a, owner);
    out->previous_id = column(a, st, 0);
    out->created_ms = sqlite3_column_int64(st, 1);
    out->response = column(a, st, 2);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return SB_DECLINED;
  if (rc != SQLITE_ROW || out->response.ptr == NULL)
    return SB_ERROR;
  return items_array(q, id, a, &out->input);
}

static sb_status_t sq_del(void *impl, sb_slice_t id, sb_slice_t owner)
{
  sq_t *q = impl;
  sb_status_t rc = owned(q, id, owner);
  if (rc != SB_OK)
    return rc;
  if (exec(q, "BEGIN IMMEDIATE") != SB_OK)
    return SB_ERROR;
  rc = run_with(q, "DELETE FROM responses WHERE id = ?", id, 0);
  if (rc == SB_OK)
    rc = run_with(q, "DELETE FROM response_items WHERE response_id = ?", id, 0);
  return end_tx(q, rc);
}

/* ---- input items, a page at a time ------------------------------------------------ */

/* The position of item `item_id` in the response; -1 when absent. */
static int64_t seq_of(sq_t *q, sb_slice_t id, sb_slice_t item_id)
{
  sqlite3_stmt *st = prep(q, "SELECT seq FROM response_items WHERE "
                             "response_id = ? AND item_id = ?");
  if (st == NULL)
    return -1;
  bind_slice(st, 1, id);
  bind_slice(st, 2, item_id);
  int64_t seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0)
                                              : -1;
  sqlite3_finalize(st);
  return seq;
}

static sb_status_t sq_list(void *impl, sb_slice_t id, sb_slice_t owner,
                           const sb_rstore_page_t *pg, sb_arena_t *a,
                           sb_slice_t **items, size_t *n, bool *has_more)
{
  sq_t *q = impl;
  *items = NULL;
  *n = 0;
  *has_more = false;
  sb_status_t rc = owned(q, id, owner);
  if (rc != SB_OK)
    return rc;
  /* the window of positions, exclusive: after and before follow the
   * listing's order */
  int64_t lo = -1, hi = INT64_MAX;
  int64_t after = pg->after.len > 0 ? seq_of(q, id, pg->after) : -1;
  int64_t before = pg->before.len > 0 ? seq_of(q, id, pg->before) : -1;
  if (pg->desc) {
    if (after >= 0)
      hi = after;
    if (before >= 0)
      lo = before;
  } else {
    if (after >= 0)
      lo = after;
    if (before >= 0)
      hi = before;
  }
  uint32_t limit = pg->limit > 0 && pg->limit <= 100 ? pg->limit : 20;
  sqlite3_stmt *st = prep(q, pg->desc
                                 ? "SELECT item FROM response_items WHERE "
                                   "response_id = ? AND seq > ? AND seq < ? "
                                   "ORDER BY seq DESC LIMIT ?"
                                 : "SELECT item FROM response_items WHERE "
                                   "response_id = ? AND seq > ? AND seq < ? "
                                   "ORDER BY seq ASC LIMIT ?");
  sb_slice_t *v = sb_arena_alloc(a, (limit + 1) * sizeof(*v));
  if (st == NULL || v == NULL) {
    sqlite3_finalize(st);
    return SB_ERROR;
  }
  bind_slice(st, 1, id);
  sqlite3_bind_int64(st, 2, lo);
  sqlite3_bind_int64(st, 3, hi);
  sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
  int s;
  size_t k = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (k == limit) {
      *has_more = true;
      continue;
    }
    v[k] = column(a, st, 0);
    if (v[k].ptr == NULL)
      break;
    k++;
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE)
    return SB_ERROR;
  *items = v;
  *n = k;
  return SB_OK;
}

/* ---- retention ------------------------------------------------------------------ */

static sb_status_t sq_expire(void *impl, int64_t before_ms, uint64_t *n)
{
  sq_t *q = impl;
  *n = 0;
  if (exec(q, "BEGIN IMMEDIATE") != SB_OK)
    return SB_ERROR;
  sb_status_t rc = run_with(q, "DELETE FROM response_items WHERE response_id "
                               "IN (SELECT id FROM responses WHERE "
                               "created_ms < ?)",
                            SB_NULL_SLICE, before_ms);
  if (rc == SB_OK) {
    rc = run_with(q, "DELETE FROM responses WHERE created_ms < ?",
                  SB_NULL_SLICE, before_ms);
    if (rc == SB_OK)
      *n = (uint64_t)sqlite3_changes(q->db);
  }
  return end_tx(q, rc);
}

const sb_rstore_backend_t sb_rstore_sqlite = {
    .name = "sqlite",
    .put = sq_put,
    .get = sq_get,
    .del = sq_del,
    .list_input = sq_list,
    .expire = sq_expire,
    .close = sq_close,
};
