/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the door files (endpoint.h, api.h): errors in each
 * API's shape (written by its format), the request body, and starting a
 * call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* An error type for the access log when the shape has none (skills). */
static const char *status_type(int status)
{
  switch (status) {
  case 400: return "invalid_request";
  case 401: return "authentication";
  case 403: return "permission_denied";
  case 404: return "not_found";
  case 405: return "method_not_allowed";
  case 413: return "payload_too_large";
  case 429: return "rate_limit_exceeded";
  default: return status >= 500 ? "server" : "error";
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
  x->error_type = type != NULL ? type : status_type(status);
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

/* ---- shared by the endpoints -------------------------------------------- */

/* "2026-12-31T23:59:59Z", with optional fraction and "Z" / "+00:00". */
sb_status_t sb_api_parse_utc(sb_slice_t s, int64_t *ms)
{
  unsigned v[6] = {0};
  static const char seps[] = "--T::";
  const unsigned widths[6] = {4, 2, 2, 2, 2, 2};
  size_t i = 0;
  for (unsigned f = 0; f < 6; f++) {
    if (f > 0) {
      if (i >= s.len || (s.ptr[i] != seps[f - 1] && !(f == 3 && s.ptr[i] == ' ')))
        return SB_ERROR;
      i++;
    }
    for (unsigned d = 0; d < widths[f]; d++, i++) {
      if (i >= s.len || s.ptr[i] < '0' || s.ptr[i] > '9')
        return SB_ERROR;
      v[f] = v[f] * 10 + (unsigned)(s.ptr[i] - '0');
    }
  }
  unsigned frac = 0, fd = 0;
  if (i < s.len && s.ptr[i] == '.') {
    for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
      if (fd < 3) {
        frac = frac * 10 + (unsigned)(s.ptr[i] - '0');
        fd++;
      }
    while (fd < 3) {
      frac *= 10;
      fd++;
    }
  }
  sb_slice_t tz = sb_slice(s.ptr + i, s.len - i);
  if (!(SB_SLICE_IS(tz, "Z") || SB_SLICE_IS(tz, "+00:00") || tz.len == 0))
    return SB_ERROR;
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
      v[4] > 59 || v[5] > 60)
    return SB_ERROR;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = (int)v[0] - 1900;
  tm.tm_mon = (int)v[1] - 1;
  tm.tm_mday = (int)v[2];
  tm.tm_hour = (int)v[3];
  tm.tm_min = (int)v[4];
  tm.tm_sec = (int)v[5];
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return SB_ERROR;
  *ms = (int64_t)t * 1000 + frac;
  return SB_OK;
}

typedef struct {
  uv_work_t work;
  sb_http_exchange_t *x;
  void (*run)(void *data);
  void (*done)(sb_http_exchange_t *x, void *data);
  void *data;
  bool aborted;
} offload_t;

static void offload_run(uv_work_t *w)
{
  offload_t *o = w->data;
  o->run(o->data);
}

static void offload_abort(sb_http_exchange_t *x)
{
  offload_t *o = x->data;
  o->aborted = true;
}

static void offload_done(uv_work_t *w, int status)
{
  offload_t *o = w->data;
  sb_http_exchange_t *x = o->x;
  (void)status;
  if (o->aborted) {
    /* the client left; the exchange waited for us to finish it */
    sb_http_respond(x, 499, NULL, 0, NULL, SB_NULL_SLICE);
    o->done(NULL, o->data);
  } else {
    x->on_abort = NULL;
    o->done(x, o->data);
  }
  free(o);
}

bool sb_api_offload(sb_http_exchange_t *x, void (*work)(void *data),
                    void (*done)(sb_http_exchange_t *x, void *data),
                    void *data)
{
  offload_t *o = calloc(1, sizeof(*o));
  if (o == NULL) {
    sb_api_error(x, 503, "server", "out of memory");
    return false;
  }
  o->x = x;
  o->run = work;
  o->done = done;
  o->data = data;
  o->work.data = o;
  x->data = o;
  x->on_abort = offload_abort;
  if (uv_queue_work(&x->worker->loop, &o->work, offload_run, offload_done) != 0) {
    x->on_abort = NULL;
    free(o);
    sb_api_error(x, 503, "server", "cannot schedule the read");
    return false;
  }
  return true;
}

void sb_api_data_begin(sb_buf_t *b, sb_jw_t *w, size_t cap)
{
  sb_buf_init(b, cap);
  sb_jw_init(w, b);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "data");
}

void sb_api_data_reply(sb_http_exchange_t *x, int status, sb_buf_t *b, sb_jw_t *w)
{
  if (sb_jw_status(w) != SB_OK)
    sb_api_error(x, 500, "server", "response too large");
  else
    sb_api_json(x, status, sb_buf_slice(b));
  sb_buf_free(b);
}

bool sb_api_need_admin(sb_http_exchange_t *x, const sb_identity_t *who,
                       const char *what)
{
  if (who->admin)
    return true;
  sb_api_error(x, 403, "permission_denied", "%s needs the admin key", what);
  return false;
}
