/*
 * Helpers shared by the endpoint files (endpoint.h, api.h): errors in each
 * API's shape, the request body, and the endpoint-independent parts of a
 * call's answer and upstream request.
 */
#include <stdarg.h>
#include <stdio.h>

#include "endpoint.h"
#include "switchboard/json_edit.h"

/* {"error":{"code","message","metadata":{"error_type"}?}} */
static void openai_error_body(sb_buf_t *b, int status, const char *type,
                              const char *msg)
{
  sb_jw_t w;
  sb_jw_init(&w, b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("code"), status);
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg, strlen(msg));
  if (type != NULL) {
    sb_jw_key_lit(&w, "metadata");
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("error_type"), type, strlen(type));
    sb_jw_obj_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
}

static void vfail(sb_http_exchange_t *x, sb_api_shape_t shape, int status,
                  const char *type, const char *fmt, va_list ap)
    SB_PRINTF(5, 0);
static void vfail(sb_http_exchange_t *x, sb_api_shape_t shape, int status,
                  const char *type, const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  sb_buf_t b;
  sb_buf_init(&b, 64 * 1024);
  switch (shape) {
  case SB_API_ANTHROPIC:
    sb_anthropic_error_body(&b, sb_anthropic_error_type(status), msg,
                            strlen(msg));
    break;
  case SB_API_SKILL: {
    sb_jw_t w;
    sb_jw_init(&w, &b);
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("error"), msg, strlen(msg));
    sb_jw_obj_end(&w);
    break;
  }
  default:
    openai_error_body(&b, status, type, msg);
    break;
  }
  sb_api_json(x, status, sb_buf_slice(&b));
  sb_buf_free(&b);
}

void sb_api_fail(sb_http_exchange_t *x, sb_api_shape_t shape, int status,
                 const char *type, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(x, shape, status, type, fmt, ap);
  va_end(ap);
}

void sb_api_error(sb_http_exchange_t *x, int status, const char *type,
                  const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(x, SB_API_OPENAI, status, type, fmt, ap);
  va_end(ap);
}

void sb_api_anthropic_error(sb_http_exchange_t *x, int status,
                            const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(x, SB_API_ANTHROPIC, status, NULL, fmt, ap);
  va_end(ap);
}

void sb_api_skill_error(sb_http_exchange_t *x, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(x, SB_API_SKILL, status, NULL, fmt, ap);
  va_end(ap);
}

sb_json_t *sb_api_parse_json(sb_http_exchange_t *x, sb_api_shape_t shape)
{
  sb_json_t *req;
  sb_json_error_t jerr;
  if (x->req.body.len == 0) {
    sb_api_fail(x, shape, 400, "invalid_request", "the request body is empty");
    return NULL;
  }
  /* A repeated member is refused: the gateway reads one value (to route,
   * meter and reserve by) and must forward no other (docs/json.md). */
  if (sb_json_parse_flags(&x->arena, x->req.body.ptr, x->req.body.len, 0,
                          SB_JSON_REJECT_DUPLICATES, &req, &jerr) != SB_OK) {
    if (jerr.name.ptr != NULL)
      sb_api_fail(x, shape, 400, "invalid_request",
                  "duplicate member \"%.*s\" at byte %zu: a member may appear "
                  "only once in an object",
                  (int)SB_MIN(jerr.name.len, 100), jerr.name.ptr, jerr.offset);
    else
      sb_api_fail(x, shape, 400, "invalid_request",
                  "invalid JSON at byte %zu: %s", jerr.offset, jerr.message);
    return NULL;
  }
  return req;
}

sb_json_t *sb_api_parse_object(sb_http_exchange_t *x, sb_api_shape_t shape)
{
  sb_json_t *req = sb_api_parse_json(x, shape);
  if (req != NULL && req->type != SB_JSON_OBJECT) {
    sb_api_fail(x, shape, 400, "invalid_request",
                "the body must be a JSON object");
    return NULL;
  }
  return req;
}

/* ---- a call's answer ----------------------------------------------------- */

sb_http_header_t sb_api_gen_header(sb_call_t *c)
{
  sb_http_header_t h = {SB_SLICE_LIT("X-Generation-Id"), sb_slice_z(c->id)};
  return h;
}

void sb_api_call_error_reply(sb_call_t *c, int status, const sb_call_error_t *e,
                             sb_slice_t body)
{
  sb_http_header_t h[2] = {sb_api_gen_header(c)};
  size_t nh = 1;
  if (status == 429) {
    h[nh].name = SB_SLICE_LIT("Retry-After");
    h[nh].value = e->retry_after.len > 0 ? e->retry_after : SB_SLICE_LIT("1");
    nh++;
  }
  sb_http_respond(c->x, status, h, nh, "application/json", body);
}

void sb_api_call_error_openai(sb_call_t *c, const sb_call_error_t *e)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 256 * 1024);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("code"), e->status);
  sb_jw_kv_str(&w, SB_STRLIT("message"), e->message.ptr, e->message.len);
  sb_jw_key_lit(&w, "metadata");
  sb_jw_obj_begin(&w);
  if (e->type != NULL)
    sb_jw_kv_str(&w, SB_STRLIT("error_type"), e->type, strlen(e->type));
  if (c->route.provider != NULL)
    sb_jw_kv_str(&w, SB_STRLIT("provider_name"), c->route.provider->name,
                 strlen(c->route.provider->name));
  if (e->upstream_status != 0)
    sb_jw_kv_int(&w, SB_STRLIT("provider_status"), e->upstream_status);
  if (e->provider_body.len > 0)
    sb_jw_kv_str(&w, SB_STRLIT("raw"), e->provider_body.ptr,
                 SB_MIN(e->provider_body.len, 4096));
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  sb_api_call_error_reply(c, e->status, e, sb_buf_slice(&b));
  sb_buf_free(&b);
}

bool sb_api_call_backlogged(sb_call_t *c)
{
  return sb_http_pending_bytes(c->x) > c->worker->http.write_high_water;
}

/* ---- the upstream request ------------------------------------------------ */

sb_status_t sb_api_up_body_with_model(sb_call_t *c, const sb_json_t *body)
{
  sb_buf_t q;
  sb_buf_init(&q, 4096);
  sb_status_t rc = sb_json_escape(&q, c->route.upstream_model.ptr,
                                  c->route.upstream_model.len);
  sb_slice_t model = sb_arena_slice_dup(c->arena, sb_buf_slice(&q));
  sb_buf_free(&q);
  if (rc != SB_OK || model.ptr == NULL)
    return SB_ERROR;
  sb_json_edit_t e[] = {{"model", 5, model.ptr, model.len, SB_EDIT_MODE_SET}};
  sb_jw_t w;
  sb_jw_init(&w, &c->up_body);
  sb_json_rewrite(&w, body, e, 1);
  return sb_jw_status(&w) == SB_OK ? SB_OK : SB_DECLINED;
}

sb_status_t sb_api_up_finish(sb_call_t *c, sb_upstream_request_t *r)
{
  sb_call_up_auth(c);
  r->headers = c->up_headers;
  r->n_headers = c->n_up_headers;
  return r->url != NULL ? SB_OK : SB_ERROR;
}
