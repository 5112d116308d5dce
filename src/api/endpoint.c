/*
 * Helpers shared by the door files (endpoint.h, api.h): errors in each
 * API's shape (written by its format), the request body, and starting a
 * call.
 */
#include <stdarg.h>
#include <stdio.h>

#include "endpoint.h"

/* The format a shape's errors are written in: its door's encoder writes
 * the body. */
static const sb_codec_t *shape_format(sb_api_shape_t shape)
{
  switch (shape) {
  case SB_API_ANTHROPIC: return &sb_codec_anthropic;
  case SB_API_SKILL: return &sb_codec_skill;
  case SB_API_RESPONSES: return &sb_codec_responses;
  case SB_API_GEMINI: return &sb_codec_gemini;
  default: return &sb_codec_openai;
  }
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
  sb_answer_error_t e = {.status = status, .type = type,
                         .message = sb_slice_z(msg)};
  shape_format(shape)->door->encoder->error(&e, &status, &b);
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


void sb_api_count(sb_http_exchange_t *x, const sb_codec_t *door,
                  const sb_json_t *body, sb_api_shape_t shape,
                  sb_slice_t model)
{
  char why[512] = "";
  sb_hub_req_t req;
  sb_buf_t out;
  sb_route_t route;
  memset(&req, 0, sizeof(req));
  sb_buf_init(&out, 1 << 16);
  sb_status_t rc = door->door->count(body, &x->arena, &req, &out, why,
                                     sizeof(why));
  if (model.len == 0)
    model = req.model;
  if (rc != SB_OK) {
    sb_api_fail(x, shape, rc == SB_DECLINED ? 400 : 500, "invalid_request",
                "%s", rc == SB_DECLINED ? why : "out of memory");
  } else if (sb_route(sb_gateway_catalog(x), model, &route) ==
             SB_ROUTE_UNKNOWN_MODEL) {
    sb_api_fail(x, shape, 404, "not_found",
                "model '%.*s' is not in the catalog and its prefix names no "
                "configured provider",
                (int)SB_MIN(model.len, 200), model.ptr);
  } else {
    sb_http_header_t h = {SB_SLICE_LIT("X-Token-Count"),
                          SB_SLICE_LIT("estimate")};
    sb_http_respond(x, 200, &h, 1, "application/json", sb_buf_slice(&out));
  }
  sb_buf_free(&out);
}

/* ---- calls ------------------------------------------------------------------------ */

#define MAX_CLIENT_HEADERS 8

sb_call_t *sb_api_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       const sb_codec_t *door, const char *api,
                       sb_api_shape_t shape, const char *const *extra)
{
  sb_call_t *c = sb_call_new(x, door, api);
  if (c == NULL) {
    sb_api_fail(x, shape, 503, "server", "out of memory");
    return NULL;
  }
  const sb_http_request_t *r = &x->req;
  sb_slice_t agent = SB_HTTP_HEADER(r, "x-agent");
  if (agent.len > 0)
    agent = sb_slice(agent.ptr, SB_MIN(agent.len, 64));
  else if (who->local)
    agent = SB_SLICE_LIT("local");
  sb_slice_t referer = SB_HTTP_HEADER(r, "http-referer");
  sb_slice_t title = SB_HTTP_HEADER(r, "x-title");
  if (title.len == 0)
    title = SB_HTTP_HEADER(r, "x-openrouter-title");
  sb_call_attribute(c, agent, who->label, title.len > 0 ? title : referer);
  /* the headers a provider may get */
  sb_kv_t *h = sb_arena_calloc(&x->arena, MAX_CLIENT_HEADERS * sizeof(*h));
  if (h == NULL) {
    sb_api_fail(x, shape, 503, "server", "out of memory");
    return NULL;
  }
  size_t n = 0;
  if (referer.len > 0)
    h[n++] = (sb_kv_t){"HTTP-Referer",
                       sb_arena_strndup(&x->arena, referer.ptr, referer.len)};
  if (title.len > 0)
    h[n++] = (sb_kv_t){"X-Title",
                       sb_arena_strndup(&x->arena, title.ptr, title.len)};
  sb_hub_req_t *req = sb_call_hub(c);
  req->client_headers = h;
  req->n_client_headers = n;
  /* the door format's own headers, for a provider of that format */
  size_t nf = 0;
  sb_kv_t *fwd = h + n;
  for (size_t i = 0; extra != NULL && extra[i] != NULL &&
                     n + nf < MAX_CLIENT_HEADERS;
       i++) {
    sb_slice_t v = sb_http_header(r, extra[i], strlen(extra[i]));
    if (v.ptr != NULL)
      fwd[nf++] = (sb_kv_t){
          extra[i], sb_arena_strndup(&x->arena, v.ptr, SB_MIN(v.len, 1024))};
  }
  req->forward_headers = fwd;
  req->n_forward_headers = nf;
  return c;
}

bool sb_api_envelope(sb_http_exchange_t *x, sb_call_t *c, const sb_codec_t *door,
                     const sb_json_t *body, sb_api_shape_t shape)
{
  char why[512] = "";
  sb_status_t rc = door->door->check != NULL
                       ? door->door->check(body, why, sizeof(why))
                       : SB_OK;
  if (rc == SB_OK)
    rc = door->door->envelope(body, &x->arena, sb_call_hub(c), why,
                              sizeof(why));
  if (rc == SB_OK)
    return true;
  sb_api_fail(x, shape, rc == SB_DECLINED ? 400 : 503,
              rc == SB_DECLINED ? "invalid_request" : "server", "%s",
              rc == SB_DECLINED ? why : "out of memory");
  return false;
}

