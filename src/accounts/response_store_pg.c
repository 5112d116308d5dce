/* SPDX-License-Identifier: MIT */
/*
 * Stored responses in Postgres (response_store.h's backend), in the
 * database of the Postgres store (`database: postgres://...`) with a
 * connection of their own, so that every gateway on that database reads,
 * continues and deletes the responses any of them stored:
 *
 *   responses      (id, owner, previous_id, created_ms, response)
 *   response_items (response_id, seq, item_id, item)   one row per input
 *                                                      item, in order;
 *                                                      deleted with their
 *                                                      response (cascade)
 *
 * The tables are the schema's version 2, migrated at open under the
 * store's advisory lock (store_pg.c). The columns and their meaning are
 * the SQLite backend's; a key's responses are found only with its own
 * hash as owner (an unknown id and another key's are the same "not
 * found"). Every statement is parameterised; client data never becomes
 * SQL text.
 *
 * A call whose connection, made by an earlier call, was lost (the server
 * restarted, a network break, no answer within the query timeout)
 * connects again and is made once more; each call is safe to repeat (a
 * put replaces the response whole). The reason of a call that still fails is logged, once until
 * one succeeds. Called from the store's thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"
#include "switchboard/log.h"
#include "switchboard/response_store.h"
#include "switchboard/store.h"

typedef struct {
  char *url;
  char shown[256]; /* the URL without its password, for messages */
  PGconn *db;
  bool failing; /* the last call failed: its reason was logged */
} rp_t;

/* What one call asks and answers (the fields its operation uses). */
typedef struct call call_t;
typedef sb_status_t (*call_fn)(rp_t *p, call_t *c, char *why, size_t cap);

struct call {
  const char *what; /* for the log: "put", "get", ... */
  call_fn fn;
  sb_arena_t *a;    /* the answer's memory, and the parameters' */
  const sb_rstore_entry_t *entry;
  sb_slice_t id, owner;
  const sb_rstore_page_t *page;
  int64_t before_ms;
  /* answers */
  sb_rstore_entry_t *out;
  sb_slice_t *items;
  size_t n;
  bool has_more;
  uint64_t expired;
};

/* ---- parameters and columns ------------------------------------------------- */

/* `s` as a text parameter: NUL-terminated, in the call's arena. NULL when
 * it holds a NUL byte (text cannot) or memory ran out: the call fails. */
static const char *param(sb_arena_t *a, sb_slice_t s)
{
  if (s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL)
    return NULL;
  return sb_arena_strndup(a, s.ptr != NULL ? s.ptr : "", s.len);
}

/* Every parameter in `v` present (`n` of them); else the reason. */
static bool params_ok(const char *const *v, size_t n, char *why, size_t cap)
{
  for (size_t i = 0; i < n; i++)
    if (v[i] == NULL) {
      snprintf(why, cap, "a value holds a NUL byte, or out of memory");
      return false;
    }
  return true;
}

static sb_slice_t column(sb_arena_t *a, const PGresult *r, int row, int col)
{
  if (PQgetisnull(r, row, col))
    return SB_NULL_SLICE;
  return sb_arena_slice_dup(a, sb_slice(PQgetvalue(r, row, col),
                                        (size_t)PQgetlength(r, row, col)));
}

/* A statement with no rows to read; its count of rows in *rows. */
static bool exec(rp_t *p, const char *sql, int n, const char *const *vals,
                 uint64_t *rows, char *why, size_t cap)
{
  PGresult *r = sb_pg_run(&p->db, sql, n, vals, PGRES_COMMAND_OK, why, cap);
  if (r == NULL)
    return false;
  if (rows != NULL)
    *rows = strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return true;
}

/* ---- the calls --------------------------------------------------------------- */

static sb_status_t do_put(rp_t *p, call_t *c, char *why, size_t cap)
{
  const sb_rstore_entry_t *e = c->entry;
  char created[24];
  snprintf(created, sizeof(created), "%" PRId64, e->created_ms);
  const char *v[] = {param(c->a, e->id), param(c->a, e->owner),
                     e->previous_id.len > 0 ? param(c->a, e->previous_id)
                                            : "",
                     created, param(c->a, e->response),
                     e->input.len > 0 ? param(c->a, e->input) : "[]"};
  if (!params_ok(v, SB_ARRAY_LEN(v), why, cap))
    return SB_ERROR;
  /* no previous response: NULL, as in the SQLite backend */
  const char *row[] = {v[0], v[1], e->previous_id.len > 0 ? v[2] : NULL, v[3],
                       v[4]};
  bool done =
      exec(p, "BEGIN", 0, NULL, NULL, why, cap) &&
      exec(p,
           "INSERT INTO responses (id, owner, previous_id, created_ms, "
           "response) VALUES ($1, $2, $3, $4::bigint, $5) ON CONFLICT (id) "
           "DO UPDATE SET owner = excluded.owner, previous_id = "
           "excluded.previous_id, created_ms = excluded.created_ms, "
           "response = excluded.response",
           5, row, NULL, why, cap) &&
      exec(p, "DELETE FROM response_items WHERE response_id = $1", 1, v, NULL,
           why, cap) &&
      /* the items as the client sent them, each element's own text */
      exec(p,
           "INSERT INTO response_items (response_id, seq, item_id, item) "
           "SELECT $1, t.n - 1, CASE WHEN json_typeof(t.e -> 'id') = "
           "'string' THEN t.e ->> 'id' END, t.e::text FROM "
           "json_array_elements($2::json) WITH ORDINALITY AS t(e, n)",
           2, (const char *const[]){v[0], v[5]}, NULL, why, cap) &&
      exec(p, "COMMIT", 0, NULL, NULL, why, cap);
  if (!done && p->db != NULL &&
      PQtransactionStatus(p->db) != PQTRANS_IDLE) {
    char ignored[200];
    exec(p, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored));
  }
  return done ? SB_OK : SB_ERROR;
}

static sb_status_t do_get(rp_t *p, call_t *c, char *why, size_t cap)
{
  sb_rstore_entry_t *out = c->out;
  memset(out, 0, sizeof(*out));
  const char *v[] = {param(c->a, c->id), param(c->a, c->owner)};
  if (!params_ok(v, 2, why, cap))
    return SB_ERROR;
  /* the input items as one JSON array, "[]" for none */
  PGresult *r = sb_pg_run(
      &p->db,
      "SELECT r.previous_id, r.created_ms, r.response, coalesce((SELECT "
      "'[' || string_agg(i.item, ',' ORDER BY i.seq) || ']' FROM "
      "response_items i WHERE i.response_id = r.id), '[]') FROM responses r "
      "WHERE r.id = $1 AND r.owner = $2",
      2, v, PGRES_TUPLES_OK, why, cap);
  if (r == NULL)
    return SB_ERROR;
  sb_status_t rc = SB_DECLINED;
  if (PQntuples(r) == 1) {
    out->id = sb_arena_slice_dup(c->a, c->id);
    out->owner = sb_arena_slice_dup(c->a, c->owner);
    out->previous_id = column(c->a, r, 0, 0);
    out->created_ms = sb_pg_i64(r, 0, 1);
    out->response = column(c->a, r, 0, 2);
    out->input = column(c->a, r, 0, 3);
    rc = out->response.ptr != NULL && out->input.ptr != NULL ? SB_OK
                                                             : SB_ERROR;
    if (rc == SB_ERROR)
      snprintf(why, cap, "out of memory");
  }
  PQclear(r);
  return rc;
}

static sb_status_t do_del(rp_t *p, call_t *c, char *why, size_t cap)
{
  const char *v[] = {param(c->a, c->id), param(c->a, c->owner)};
  uint64_t n = 0;
  if (!params_ok(v, 2, why, cap) ||
      !exec(p, "DELETE FROM responses WHERE id = $1 AND owner = $2", 2, v, &n,
            why, cap))
    return SB_ERROR;
  return n > 0 ? SB_OK : SB_DECLINED;
}

/* The position of the item `item` names (v[0] the response's id, v[1]
 * the item's); -1 when absent; false when the query failed. */
static bool seq_of(rp_t *p, const char *const *v, int64_t *seq, char *why,
                   size_t cap)
{
  *seq = -1;
  PGresult *r = sb_pg_run(&p->db,
                          "SELECT seq FROM response_items WHERE "
                          "response_id = $1 AND item_id = $2",
                          2, v, PGRES_TUPLES_OK, why, cap);
  if (r == NULL)
    return false;
  if (PQntuples(r) > 0)
    *seq = sb_pg_i64(r, 0, 0);
  PQclear(r);
  return true;
}

static sb_status_t do_list(rp_t *p, call_t *c, char *why, size_t cap)
{
  const sb_rstore_page_t *pg = c->page;
  const char *v[] = {param(c->a, c->id), param(c->a, c->owner),
                     param(c->a, pg->after), param(c->a, pg->before)};
  if (!params_ok(v, SB_ARRAY_LEN(v), why, cap))
    return SB_ERROR;
  PGresult *r = sb_pg_run(&p->db,
                          "SELECT 1 FROM responses WHERE id = $1 AND "
                          "owner = $2",
                          2, v, PGRES_TUPLES_OK, why, cap);
  if (r == NULL)
    return SB_ERROR;
  bool found = PQntuples(r) > 0;
  PQclear(r);
  if (!found)
    return SB_DECLINED;
  /* the window of positions, exclusive: after and before follow the
   * listing's order */
  int64_t after = -1, before = -1;
  if ((pg->after.len > 0 &&
       !seq_of(p, (const char *const[]){v[0], v[2]}, &after, why, cap)) ||
      (pg->before.len > 0 &&
       !seq_of(p, (const char *const[]){v[0], v[3]}, &before, why, cap)))
    return SB_ERROR;
  int64_t lo = -1, hi = INT64_MAX;
  if (after >= 0)
    *(pg->desc ? &hi : &lo) = after;
  if (before >= 0)
    *(pg->desc ? &lo : &hi) = before;
  uint32_t limit = pg->limit > 0 && pg->limit <= 100 ? pg->limit : 20;
  char num[3][24];
  snprintf(num[0], sizeof(num[0]), "%" PRId64, lo);
  snprintf(num[1], sizeof(num[1]), "%" PRId64, hi);
  snprintf(num[2], sizeof(num[2]), "%" PRIu32, limit + 1);
  /* one more than the page: whether more lie beyond; newest first is the
   * order of -seq */
  const char *w[] = {v[0], num[0], num[1], num[2], pg->desc ? "-1" : "1"};
  r = sb_pg_run(&p->db,
                "SELECT item FROM response_items WHERE response_id = $1 AND "
                "seq > $2::bigint AND seq < $3::bigint ORDER BY "
                "seq * $5::bigint LIMIT $4::bigint",
                5, w, PGRES_TUPLES_OK, why, cap);
  if (r == NULL)
    return SB_ERROR;
  size_t rows = (size_t)PQntuples(r);
  size_t k = SB_MIN(rows, (size_t)limit);
  sb_slice_t *items = sb_arena_alloc(c->a, (k + 1) * sizeof(*items));
  sb_status_t rc = items != NULL ? SB_OK : SB_ERROR;
  for (size_t i = 0; i < k && rc == SB_OK; i++) {
    items[i] = column(c->a, r, (int)i, 0);
    if (items[i].ptr == NULL)
      rc = SB_ERROR;
  }
  PQclear(r);
  if (rc != SB_OK) {
    snprintf(why, cap, "out of memory");
    return rc;
  }
  c->items = items;
  c->n = k;
  c->has_more = rows > limit;
  return SB_OK;
}

static sb_status_t do_expire(rp_t *p, call_t *c, char *why, size_t cap)
{
  char at[24];
  snprintf(at, sizeof(at), "%" PRId64, c->before_ms);
  const char *v[] = {at};
  /* their items go with them (ON DELETE CASCADE) */
  return exec(p, "DELETE FROM responses WHERE created_ms < $1::bigint", 1, v,
              &c->expired, why, cap)
             ? SB_OK
             : SB_ERROR;
}

/* ---- one call, made again once on a new connection ---------------------- */

static sb_status_t call(rp_t *p, call_t *c)
{
  char why[300] = "";
  sb_status_t rc = SB_ERROR;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool fresh;
    if (!sb_pg_ensure(&p->db, p->url, p->shown, &fresh, why, sizeof(why)))
      break;
    rc = c->fn(p, c, why, sizeof(why));
    /* only a connection made earlier and lost since (a restarted server,
     * a dropped link) is worth another try, on a new one; a server that
     * cannot be reached is not asked twice per call */
    if (rc != SB_ERROR || p->db != NULL || fresh)
      break;
  }
  if (rc == SB_ERROR && !p->failing)
    SB_ERR("stored responses: %s in %s failed: %s", c->what, p->shown, why);
  else if (rc != SB_ERROR && p->failing)
    SB_INFO("stored responses: %s answers again", p->shown);
  p->failing = rc == SB_ERROR;
  return rc;
}

static sb_status_t rp_put(void *impl, const sb_rstore_entry_t *e)
{
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  call_t c = {.what = "put", .fn = do_put, .a = &a, .entry = e};
  sb_status_t rc = call(impl, &c);
  sb_arena_destroy(&a);
  return rc;
}

static sb_status_t rp_get(void *impl, sb_slice_t id, sb_slice_t owner,
                          sb_arena_t *a, sb_rstore_entry_t *out)
{
  call_t c = {.what = "get", .fn = do_get, .a = a, .id = id, .owner = owner,
              .out = out};
  return call(impl, &c);
}

static sb_status_t rp_del(void *impl, sb_slice_t id, sb_slice_t owner)
{
  sb_arena_t a;
  sb_arena_init(&a, 1024, 0);
  call_t c = {.what = "delete", .fn = do_del, .a = &a, .id = id,
              .owner = owner};
  sb_status_t rc = call(impl, &c);
  sb_arena_destroy(&a);
  return rc;
}

static sb_status_t rp_list(void *impl, sb_slice_t id, sb_slice_t owner,
                           const sb_rstore_page_t *pg, sb_arena_t *a,
                           sb_slice_t **items, size_t *n, bool *has_more)
{
  call_t c = {.what = "input items", .fn = do_list, .a = a, .id = id,
              .owner = owner, .page = pg};
  sb_status_t rc = call(impl, &c);
  *items = rc == SB_OK ? c.items : NULL;
  *n = rc == SB_OK ? c.n : 0;
  *has_more = rc == SB_OK && c.has_more;
  return rc;
}

static sb_status_t rp_expire(void *impl, int64_t before_ms, uint64_t *n)
{
  call_t c = {.what = "retention", .fn = do_expire, .before_ms = before_ms};
  sb_status_t rc = call(impl, &c);
  *n = rc == SB_OK ? c.expired : 0;
  return rc;
}

/* ---- opening ------------------------------------------------------------------ */

static void rp_close(void *impl)
{
  rp_t *p = impl;
  if (p == NULL)
    return;
  PQfinish(p->db);
  free(p->url);
  free(p);
}

void *sb_rstore_pg_open(const char *url, char *err, size_t errlen)
{
  char why[512];
  rp_t *p = calloc(1, sizeof(*p));
  if (p == NULL || (p->url = strdup(url)) == NULL) {
    snprintf(err, errlen, "stored responses: out of memory");
    free(p);
    return NULL;
  }
  sb_store_redact(url, p->shown, sizeof(p->shown));
  p->db = sb_pg_connect(p->url, p->shown, why, sizeof(why));
  if (p->db == NULL ||
      sb_pg_migrate(&p->db, p->shown, why, sizeof(why)) != SB_OK) {
    snprintf(err, errlen, "stored responses: %s", why);
    rp_close(p);
    return NULL;
  }
  return p;
}

const sb_rstore_backend_t sb_rstore_pg = {
    .name = "postgres",
    .put = rp_put,
    .get = rp_get,
    .del = rp_del,
    .list_input = rp_list,
    .expire = rp_expire,
    .close = rp_close,
};
