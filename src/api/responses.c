/* SPDX-License-Identifier: MIT */
/*
 * OpenAI's Responses API for any model (and /api/v1/...):
 *   POST   /v1/responses                    a response (the door: the
 *          Responses format reads it, a call answers in it)
 *   POST   /v1/responses/input_tokens       an estimate of its input tokens
 *   GET    /v1/responses/{id}               a stored response
 *   DELETE /v1/responses/{id}
 *   GET    /v1/responses/{id}/input_items   its input items, a page
 *   POST   /v1/responses/{id}/cancel        400: only background responses
 *                                           are cancellable, and there are
 *                                           none
 *
 * Stored responses (docs/responses.md): unless the request says `store:
 * false`, its answer and input items are kept (switchboard/
 * response_store.h) under the calling key, which alone sees them. A
 * request naming `previous_response_id` first has its conversation read
 * from the store (off the worker, on the store's thread), and goes on with
 * that conversation ahead of its own input, to whichever model it names.
 * WebSocket mode is refused by the HTTP layer before it gets here (426,
 * which clients take as "use HTTP").
 */
#include <stdio.h>
#include <stdlib.h>

#include "endpoint.h"
#include "switchboard/keys.h"
#include "switchboard/response_store.h"
#include "switchboard/responses.h"

#define SHAPE SB_API_RESPONSES

/* A request of the door, in the exchange's arena. */
typedef struct {
  sb_http_exchange_t *x;
  sb_identity_t who;
  sb_json_t *body;
  sb_slice_t owner;      /* the key's hash; empty: admin or local */
  sb_slice_t id;         /* a stored response's id (the other endpoints) */
  bool counting;         /* POST /input_tokens */
  bool aborted;          /* the client left while the store worked */
  /* the answer, kept when the call answers */
  sb_rstore_t *store;
  char resp_id[SB_RESPONSES_ID_MAX];
  sb_slice_t previous_id;
  sb_slice_t input_items;
  int64_t created_ms;
} rs_req_t;

static sb_rstore_t *store_of(sb_http_exchange_t *x)
{
  return x->worker->gw->responses;
}

static rs_req_t *new_req(sb_http_exchange_t *x, const sb_identity_t *who)
{
  rs_req_t *r = sb_arena_calloc(&x->arena, sizeof(*r));
  if (r == NULL) {
    sb_api_fail(x, SHAPE, 503, "server", "out of memory");
    return NULL;
  }
  r->x = x;
  r->who = *who;
  const sb_key_t *k = who->key;
  r->owner = k != NULL ? sb_arena_slice_dup(&x->arena, sb_slice_z(k->rec.hash))
                       : SB_SLICE_LIT("");
  return r;
}

static void not_found(sb_http_exchange_t *x, sb_slice_t id, const char *what)
{
  sb_api_fail(x, SHAPE, 404, "not_found", "%s with id '%.*s' not found.", what,
              (int)SB_MIN(id.len, 80), id.ptr);
}

static void store_failed(sb_http_exchange_t *x)
{
  sb_api_fail(x, SHAPE, 503, "server",
              "the stored responses could not be read; retry later");
}

/* ---- a job for the store, the exchange waiting ----------------------------------- */

static void job_abort(sb_http_exchange_t *x)
{
  rs_req_t *r = x->data;
  r->aborted = true;
}

/* Queue `j` for `r`; `done` answers the exchange. False: answered. */
static bool submit(rs_req_t *r, sb_rstore_job_t *j, sb_rstore_done_fn done)
{
  sb_http_exchange_t *x = r->x;
  x->data = r;
  x->on_abort = job_abort;
  if (sb_rstore_submit(store_of(x), &x->worker->loop, j, done, r) != SB_OK) {
    x->on_abort = NULL;
    sb_api_fail(x, SHAPE, 503, "server", "the stored responses' queue refused "
                                        "the request");
    return false;
  }
  return true;
}

/* The job's request, back on the worker, when the job found what it
 * looked for; NULL when the exchange was ended here: the client left, the
 * response (`what` with the id asked for) is not there, or the store
 * failed. */
static rs_req_t *answered(sb_rstore_job_t *j, const char *what)
{
  rs_req_t *r = j->data;
  if (r->aborted) {
    sb_http_respond(r->x, 499, NULL, 0, NULL, SB_NULL_SLICE);
    return NULL;
  }
  r->x->on_abort = NULL;
  r->x->data = NULL;
  if (j->status == SB_DECLINED)
    not_found(r->x, j->id, what);
  else if (j->status != SB_OK)
    store_failed(r->x);
  return j->status == SB_OK ? r : NULL;
}

static sb_rstore_job_t *job(rs_req_t *r, sb_rstore_op_t op, sb_slice_t id)
{
  sb_rstore_job_t *j = sb_rstore_job_new(op);
  if (j != NULL) {
    j->id = sb_arena_slice_dup(&j->arena, id);
    j->owner = sb_arena_slice_dup(&j->arena, r->owner);
    if (j->id.ptr == NULL || j->owner.ptr == NULL) {
      sb_rstore_job_free(j);
      j = NULL;
    }
  }
  if (j == NULL)
    sb_api_fail(r->x, SHAPE, 503, "server", "out of memory");
  return j;
}

/* ---- POST /v1/responses --------------------------------------------------------- */

/* The call answered: its response and input items are kept. */
static void keep(void *data, int status, sb_slice_t kept)
{
  rs_req_t *r = data;
  (void)status;
  if (kept.len == 0)
    return;
  sb_rstore_job_t *j = sb_rstore_job_new(SB_RSTORE_PUT);
  if (j == NULL)
    return;
  sb_rstore_entry_t *e = &j->entry;
  e->id = sb_arena_slice_dup(&j->arena, sb_slice_z(r->resp_id));
  e->owner = sb_arena_slice_dup(&j->arena, r->owner);
  e->previous_id = sb_arena_slice_dup(&j->arena, r->previous_id);
  e->created_ms = r->created_ms;
  e->response = sb_arena_slice_dup(&j->arena, kept);
  e->input = sb_arena_slice_dup(&j->arena, r->input_items);
  if (e->id.ptr == NULL || e->response.ptr == NULL) {
    sb_rstore_job_free(j);
    return;
  }
  sb_rstore_submit(r->store, &r->x->worker->loop, j, NULL, NULL);
}

/* What is kept of the request when its answer is (the input as the
 * client gave it, before any conversation was put ahead of it). */
static bool prepare_keeping(rs_req_t *r, sb_call_t *c, const sb_json_t *own)
{
  sb_http_exchange_t *x = r->x;
  if (sb_json_is(sb_json_get(own, "store"), SB_JSON_FALSE) ||
      store_of(x) == NULL)
    return true;
  sb_responses_id(sb_call_id(c), r->resp_id, sizeof(r->resp_id));
  sb_buf_t b;
  sb_buf_init(&b, sb_gateway_config(x)->max_body_bytes + 65536);
  bool ok = sb_responses_input_items(own, sb_slice_z(r->resp_id), &b) == SB_OK;
  r->input_items = sb_arena_slice_dup(&x->arena, sb_buf_slice(&b));
  sb_buf_free(&b);
  if (!ok || r->input_items.ptr == NULL)
    return false;
  r->store = store_of(x);
  r->created_ms = sb_wall_ms();
  sb_call_on_answered(c, keep, r);
  return true;
}

/* The call, with `body` (the client's, or continued from its
 * conversation). */
static void start_call(rs_req_t *r, sb_json_t *body)
{
  sb_http_exchange_t *x = r->x;
  const sb_json_t *own = r->body;
  sb_call_t *c = sb_api_call(x, &r->who, &sb_codec_responses, "responses",
                             SHAPE, NULL);
  if (c == NULL || !sb_api_envelope(x, c, &sb_codec_responses, body, SHAPE))
    return;
  if (!prepare_keeping(r, c, own)) {
    sb_api_fail(x, SHAPE, 400, "invalid_request",
                "'input' must be a string or an array of input items");
    return;
  }
  sb_call_start(c);
}

/* The request goes on with `body`: a call, or a count. */
static void proceed(rs_req_t *r, sb_json_t *body)
{
  if (r->counting)
    sb_api_count(r->x, &sb_codec_responses, body, SHAPE, SB_NULL_SLICE);
  else
    start_call(r, body);
}

/* The conversation `previous_response_id` names is read: the request goes
 * on with it ahead of its own input. */
static void chain_read(sb_rstore_job_t *j)
{
  rs_req_t *r = answered(j, "Previous response");
  if (r == NULL)
    return;
  sb_http_exchange_t *x = r->x;
  sb_buf_t conv;
  sb_buf_init(&conv, 256u << 20);
  sb_status_t rc = SB_OK;
  for (size_t i = 0; i < j->n_chain && rc == SB_OK; i++)
    rc = sb_responses_history_add(&conv, j->chain[i].input,
                                  j->chain[i].response);
  sb_json_t *body = NULL;
  if (rc == SB_OK)
    rc = sb_responses_continue(&x->arena, r->body, sb_buf_slice(&conv), &body);
  sb_buf_free(&conv);
  if (rc != SB_OK) {
    sb_api_fail(x, SHAPE, 500, "server", "the conversation of '%.*s' could "
                                         "not be continued",
                (int)SB_MIN(r->previous_id.len, 80), r->previous_id.ptr);
    return;
  }
  proceed(r, body);
}

static void create(sb_http_exchange_t *x, const sb_identity_t *who,
                   bool counting)
{
  sb_json_t *body = sb_api_parse_object(x, SHAPE);
  if (body == NULL)
    return;
  rs_req_t *r = new_req(x, who);
  if (r == NULL)
    return;
  r->body = body;
  r->counting = counting;
  const sb_json_t *prev = sb_json_get(body, "previous_response_id");
  if (!sb_json_is(prev, SB_JSON_STRING) || prev->raw.len <= 2) {
    proceed(r, body);
    return;
  }
  if (sb_json_string(&x->arena, prev, &r->previous_id) != SB_OK) {
    sb_api_fail(x, SHAPE, 503, "server", "out of memory");
    return;
  }
  if (store_of(x) == NULL) {
    not_found(x, r->previous_id, "Previous response");
    return;
  }
  sb_rstore_job_t *j = job(r, SB_RSTORE_CHAIN, r->previous_id);
  if (j != NULL)
    submit(r, j, chain_read);
}

/* ---- the stored responses' endpoints ---------------------------------------------- */

static void got(sb_rstore_job_t *j)
{
  rs_req_t *r = answered(j, "Response");
  if (r != NULL)
    sb_api_json(r->x, 200, j->entry.response);
}

static void deleted(sb_rstore_job_t *j)
{
  rs_req_t *r = answered(j, "Response");
  if (r == NULL)
    return;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 1024);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("id"), r->id.ptr, r->id.len);
  sb_jw_kv_str(&w, SB_STRLIT("object"), SB_STRLIT("response"));
  sb_jw_kv_raw(&w, SB_STRLIT("deleted"), SB_STRLIT("true"));
  sb_jw_obj_end(&w);
  sb_api_json(r->x, 200, sb_buf_slice(&b));
  sb_buf_free(&b);
}

/* An item's id (an item's JSON text), for first_id and last_id. */
static void item_id(sb_jw_t *w, const char *key, sb_slice_t item)
{
  sb_arena_t a;
  sb_json_t *v;
  sb_arena_init(&a, 4096, 0);
  sb_jw_key(w, key, strlen(key));
  const sb_json_t *id =
      item.ptr != NULL &&
              sb_json_parse(&a, item.ptr, item.len, 0, &v, NULL) == SB_OK
          ? sb_json_get(v, "id")
          : NULL;
  if (sb_json_is(id, SB_JSON_STRING))
    sb_jw_value(w, id);
  else
    sb_jw_null(w);
  sb_arena_destroy(&a);
}

static void listed(sb_rstore_job_t *j)
{
  rs_req_t *r = answered(j, "Response");
  if (r == NULL)
    return;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 0);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("object"), SB_STRLIT("list"));
  sb_jw_key_lit(&w, "data");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < j->n_items; i++)
    sb_jw_raw(&w, j->items[i].ptr, j->items[i].len);
  sb_jw_arr_end(&w);
  item_id(&w, "first_id", j->n_items > 0 ? j->items[0] : SB_NULL_SLICE);
  item_id(&w, "last_id",
          j->n_items > 0 ? j->items[j->n_items - 1] : SB_NULL_SLICE);
  sb_jw_kv_raw(&w, SB_STRLIT("has_more"), j->has_more ? "true" : "false",
               j->has_more ? 4 : 5);
  sb_jw_obj_end(&w);
  sb_api_json(r->x, 200, sb_buf_slice(&b));
  sb_buf_free(&b);
}

static void cancel_checked(sb_rstore_job_t *j)
{
  rs_req_t *r = answered(j, "Response");
  if (r != NULL)
    sb_api_fail(r->x, SHAPE, 400, "invalid_request",
                "Only responses created with background: true can be "
                "cancelled; '%.*s' was answered in the request that made it",
                (int)SB_MIN(r->id.len, 80), r->id.ptr);
}

/* A page's parameters from the query: limit (1 to 100, 20 by default),
 * order (asc, the default, or desc), after, before. False: answered. */
static bool page(rs_req_t *r, sb_rstore_page_t *pg)
{
  sb_http_exchange_t *x = r->x;
  sb_arena_t *a = &x->arena;
  sb_slice_t q = x->req.query;
  sb_slice_t limit = sb_http_query_param(a, q, "limit");
  sb_slice_t order = sb_http_query_param(a, q, "order");
  uint64_t n = 20;
  memset(pg, 0, sizeof(*pg));
  if (limit.ptr != NULL &&
      (sb_slice_to_u64(limit, 100, &n) != SB_OK || n == 0)) {
    sb_api_fail(x, SHAPE, 400, "invalid_request",
                "'limit' must be an integer between 1 and 100");
    return false;
  }
  if (order.ptr != NULL && !SB_SLICE_IS(order, "asc") &&
      !SB_SLICE_IS(order, "desc")) {
    sb_api_fail(x, SHAPE, 400, "invalid_request",
                "'order' must be 'asc' or 'desc'");
    return false;
  }
  pg->limit = (uint32_t)n;
  pg->desc = SB_SLICE_IS(order, "desc");
  pg->after = sb_http_query_param(a, q, "after");
  pg->before = sb_http_query_param(a, q, "before");
  return true;
}

/* A response id as switchboard makes them (letters, digits, '_', '-'). */
static bool id_ok(sb_slice_t id)
{
  if (id.len == 0 || id.len >= SB_RESPONSES_ID_MAX)
    return false;
  for (size_t i = 0; i < id.len; i++) {
    unsigned char c = (unsigned char)id.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static void stored(sb_http_exchange_t *x, const sb_identity_t *who,
                   sb_slice_t id, sb_slice_t sub)
{
  unsigned m = x->req.method;
  bool get = m == HTTP_GET || m == HTTP_HEAD;
  if (!id_ok(id)) {
    not_found(x, id, "Response");
    return;
  }
  if (store_of(x) == NULL) {
    not_found(x, id, "Response");
    return;
  }
  rs_req_t *r = new_req(x, who);
  if (r == NULL)
    return;
  r->id = id;
  sb_rstore_job_t *j;
  if (sub.len == 0 && get) {
    if ((j = job(r, SB_RSTORE_GET, id)) != NULL)
      submit(r, j, got);
  } else if (sub.len == 0 && m == HTTP_DELETE) {
    if ((j = job(r, SB_RSTORE_DELETE, id)) != NULL)
      submit(r, j, deleted);
  } else if (SB_SLICE_IS(sub, "/input_items") && get) {
    sb_rstore_page_t pg;
    if (!page(r, &pg) || (j = job(r, SB_RSTORE_LIST, id)) == NULL)
      return;
    j->page = pg;
    j->page.after = sb_arena_slice_dup(&j->arena, pg.after);
    j->page.before = sb_arena_slice_dup(&j->arena, pg.before);
    submit(r, j, listed);
  } else if (SB_SLICE_IS(sub, "/cancel") && m == HTTP_POST) {
    if ((j = job(r, SB_RSTORE_GET, id)) != NULL)
      submit(r, j, cancel_checked);
  } else if (sub.len == 0 || SB_SLICE_IS(sub, "/input_items") ||
             SB_SLICE_IS(sub, "/cancel")) {
    sb_api_fail(x, SHAPE, 405, "invalid_request", "method not allowed (use %s)",
                sub.len == 0 ? "GET or DELETE"
                : SB_SLICE_IS(sub, "/cancel") ? "POST"
                                              : "GET");
  } else {
    sb_api_fail(x, SHAPE, 404, "not_found", "no endpoint %s %.*s",
                http_method_str((enum http_method)m),
                (int)SB_MIN(x->req.path.len, 200), x->req.path.ptr);
  }
}

void sb_api_responses(sb_http_exchange_t *x, sb_slice_t rest)
{
  sb_identity_t who;
  if (sb_api_auth(x, SHAPE, &who) != SB_OK)
    return;
  bool post = x->req.method == HTTP_POST;
  if (rest.len == 0 || SB_SLICE_IS(rest, "/")) {
    if (post)
      create(x, &who, false);
    else
      sb_api_fail(x, SHAPE, 405, "invalid_request",
                  "method not allowed (use POST; WebSocket mode is not "
                  "served)");
    return;
  }
  if (SB_SLICE_IS(rest, "/input_tokens")) {
    if (post)
      create(x, &who, true);
    else
      sb_api_fail(x, SHAPE, 405, "invalid_request",
                  "method not allowed (use POST)");
    return;
  }
  /* "/{id}" or "/{id}/input_items" or "/{id}/cancel" */
  sb_slice_t s = sb_slice(rest.ptr + 1, rest.len - 1);
  const char *slash = memchr(s.ptr, '/', s.len);
  sb_slice_t id = slash != NULL ? sb_slice(s.ptr, (size_t)(slash - s.ptr)) : s;
  stored(x, &who, id, sb_slice(s.ptr + id.len, s.len - id.len));
}
