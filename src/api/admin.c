/* SPDX-License-Identifier: MIT */
/*
 * The admin API under /api/v1/admin (the admin key, or local mode):
 *   GET  /admin/logs/live   the live request feed (docs/observability.md)
 *   POST /admin/reload      re-read the config file (README, "Live reload")
 */
#include <stdio.h>

#include "switchboard/api.h"
#include "switchboard/gateway.h"
#include "switchboard/ops.h"

/* `status=2xx,5xx` (or `4xx`, `5`): a bit per class; SB_ERROR when a
 * member is none of 1xx..5xx. */
static sb_status_t status_classes(sb_slice_t v, unsigned *bits)
{
  const char *p = v.ptr, *end = v.ptr + v.len;
  *bits = 0;
  for (;;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma != NULL ? comma : end;
    sb_slice_t one = sb_slice_trim(sb_slice(p, (size_t)(stop - p)));
    bool form = one.len == 1 || (one.len == 3 && (one.ptr[1] | 0x20) == 'x' &&
                                 (one.ptr[2] | 0x20) == 'x');
    if (!form || one.ptr[0] < '1' || one.ptr[0] > '5')
      return SB_ERROR;
    *bits |= 1u << (one.ptr[0] - '0');
    if (comma == NULL)
      return SB_OK;
    p = comma + 1;
  }
}

static void logs_live(sb_http_exchange_t *x)
{
  sb_live_filter_t f;
  memset(&f, 0, sizeof(f));
  sb_slice_t q = x->req.query;
  f.door = sb_http_query_param(&x->arena, q, "door");
  f.model = sb_http_query_param(&x->arena, q, "model");
  f.provider = sb_http_query_param(&x->arena, q, "provider");
  f.key = sb_http_query_param(&x->arena, q, "key");
  sb_slice_t status = sb_http_query_param(&x->arena, q, "status");
  if (status.len > 0 && status_classes(status, &f.status) != SB_OK) {
    sb_api_error(x, 400, "invalid_request",
                 "'status' must list status classes: 2xx, 4xx, 5xx ...");
    return;
  }
  sb_live_start(x, &f);
}

/* The reload's outcome, on the request's worker: 200 with what was
 * reloaded; 422 when the file is invalid (the configuration in use stays);
 * 409 when there is nothing to reload or the gateway is stopping. */
static void reload_done(sb_http_exchange_t *x, sb_status_t rc, const char *msg)
{
  if (rc == SB_ERROR) {
    sb_api_error(x, 422, "invalid_config", "%s", msg);
    return;
  }
  if (rc != SB_OK) {
    sb_api_error(x, 409, "reload_declined", "%s", msg);
    return;
  }
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 8192);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "reloaded");
  sb_jw_bool(&w, true);
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg, strlen(msg));
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    sb_api_error(x, 500, "server", "out of memory");
  else
    sb_api_json(x, 200, sb_buf_slice(&b));
  sb_buf_free(&b);
}

void sb_api_admin(sb_http_exchange_t *x, const sb_identity_t *who,
                  sb_slice_t rest)
{
  unsigned m = x->req.method;
  if (!who->admin) {
    sb_api_error(x, 403, "permission_denied",
                 "the admin API needs the admin key");
    return;
  }
  if (SB_SLICE_IS(rest, "/logs/live")) {
    if (m != HTTP_GET)
      sb_api_error(x, 405, "invalid_request", "method not allowed (use GET)");
    else
      logs_live(x);
    return;
  }
  if (SB_SLICE_IS(rest, "/reload")) {
    if (m != HTTP_POST)
      sb_api_error(x, 405, "invalid_request", "method not allowed (use POST)");
    else
      sb_gateway_reload_request(x, reload_done);
    return;
  }
  sb_api_error(x, 404, "not_found", "no endpoint %s /api/v1/admin%.*s",
               http_method_str((enum http_method)m), (int)SB_MIN(rest.len, 200),
               rest.ptr);
}
