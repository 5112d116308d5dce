/*
 * A chat call from routing to ledger; see include/switchboard/call.h.
 *
 * States, in order: routed -> upstream started -> (stream: committed on
 * the first chunk) -> finished. Every path ends in finish_*(), which writes
 * the ledger row and then hands the exchange back through one of the
 * sink's finishing callbacks; after that the call's memory is gone.
 */
#include "switchboard/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/json_edit.h"
#include "switchboard/ledger.h"
#include "switchboard/log.h"

#define MAX_SSE_EVENT (8u << 20)
#define MAX_CHUNK_OUT (16u << 20)

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void call_cleanup(void *data)
{
  sb_call_t *c = data;
  if (c->up != NULL) {
    sb_upstream_cancel(c->up);
    c->up = NULL;
  }
  sb_buf_free(&c->up_body);
  sb_buf_free(&c->up_resp);
  sb_buf_free(&c->out);
  sb_sse_free(&c->sse);
  sb_arena_destroy(&c->scratch);
}

static void make_id(sb_call_t *c)
{
  int n = snprintf(c->id, sizeof(c->id), "gen-%lld-", (long long)c->created);
  uint64_t r = sb_worker_rand(c->worker), r2 = sb_worker_rand(c->worker);
  for (int i = 0; i < 20; i++) {
    uint64_t *src = i < 10 ? &r : &r2;
    c->id[n++] = base62[*src % 62];
    *src /= 62;
  }
  c->id[n] = '\0';
}

/* JSON string literal of `s`, in the call's arena. */
static sb_slice_t quote(sb_call_t *c, sb_slice_t s)
{
  sb_buf_t b;
  sb_buf_init(&b, 1 << 20);
  sb_slice_t out = SB_NULL_SLICE;
  if (sb_json_escape(&b, s.ptr, s.len) == SB_OK)
    out = sb_arena_slice_dup(c->arena, sb_buf_slice(&b));
  sb_buf_free(&b);
  return out;
}

static void on_abort(sb_http_exchange_t *x);
static void on_drain(sb_http_exchange_t *x);

sb_call_t *sb_call_new(sb_http_exchange_t *x, const sb_call_sink_t *sink,
                       void *sink_data)
{
  sb_call_t *c = sb_arena_calloc(&x->arena, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->arena = &x->arena;
  c->x = x;
  c->worker = x->worker;
  c->gw = x->worker->gw;
  c->sink = sink;
  c->sink_data = sink_data;
  c->api = "chat";
  c->agent = SB_SLICE_LIT("local");
  const sb_config_t *cfg = c->gw->config;
  sb_buf_init(&c->up_body, cfg->max_body_bytes + 64 * 1024);
  sb_buf_init(&c->up_resp, cfg->max_upstream_body_bytes);
  sb_buf_init(&c->out, MAX_CHUNK_OUT);
  sb_sse_init(&c->sse, MAX_SSE_EVENT);
  sb_arena_init(&c->scratch, 16 * 1024, 256u << 20);
  if (sb_arena_on_destroy(&x->arena, call_cleanup, c) != SB_OK) {
    call_cleanup(c);
    return NULL;
  }
  c->created = sb_wall_ms() / 1000;
  make_id(c);
  c->t_start = x->start_ns;
  x->data = c;
  x->on_abort = on_abort;
  x->on_drain = on_drain;
  return c;
}

/* ---- ledger and finishing -------------------------------------------- */

static void copy_slice(char *dst, size_t cap, sb_slice_t s)
{
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  if (n > 0)
    memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

static void estimate_usage(sb_call_t *c)
{
  if (c->usage_known)
    return;
  /* No usage from the provider (it was cut off, or does not report it):
   * about four bytes a token, marked as an estimate in the ledger. */
  c->usage.prompt = (c->req_raw.len + 3) / 4;
  c->usage.completion = (c->content_bytes + 3) / 4;
}

static void compute_cost(sb_call_t *c)
{
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);
  if (c->cost_pico == 0 && c->usage_json.len > 0) {
    /* An unpriced pass-through model behind a provider that reports its
     * own cost (OpenRouter): use the provider's figure. */
    sb_arena_t a;
    sb_json_t *u;
    sb_arena_init(&a, 4096, 0);
    if (sb_json_parse(&a, c->usage_json.ptr, c->usage_json.len, 0, &u, NULL) ==
        SB_OK) {
      const sb_json_t *cost = sb_json_get(u, "cost");
      int64_t p;
      if (sb_json_is(cost, SB_JSON_NUMBER) &&
          sb_price_parse(cost->raw, &p) == SB_OK)
        c->cost_pico = p;
    }
    sb_arena_destroy(&a);
  }
}

static void record(sb_call_t *c, int status, const char *error)
{
  sb_ledger_row_t row;
  memset(&row, 0, sizeof(row));
  copy_slice(row.id, sizeof(row.id), sb_slice_z(c->id));
  row.created_ms = c->created * 1000;
  copy_slice(row.api, sizeof(row.api), sb_slice_z(c->api));
  copy_slice(row.key_label, sizeof(row.key_label), c->key_label);
  copy_slice(row.agent, sizeof(row.agent), c->agent);
  copy_slice(row.app, sizeof(row.app), c->app);
  copy_slice(row.requested_model, sizeof(row.requested_model),
             c->requested_model);
  copy_slice(row.model, sizeof(row.model), c->route.model_id);
  if (c->route.provider != NULL)
    copy_slice(row.provider, sizeof(row.provider),
               sb_slice_z(c->route.provider->name));
  copy_slice(row.upstream_model, sizeof(row.upstream_model),
             c->route.upstream_model);
  row.usage = c->usage;
  row.usage_estimated = !c->usage_known;
  row.cost_pico = c->cost_pico;
  uint64_t now = sb_now_ns();
  row.latency_ms = (uint32_t)((now - c->t_start) / 1000000);
  row.ttft_ms = c->t_first_token != 0
                    ? (uint32_t)((c->t_first_token - c->t_start) / 1000000)
                    : 0;
  row.status = status;
  copy_slice(row.finish_reason, sizeof(row.finish_reason),
             sb_slice_z(c->finish_reason));
  copy_slice(row.native_finish_reason, sizeof(row.native_finish_reason),
             sb_slice_z(c->native_finish_reason));
  row.streamed = c->stream;
  row.cancelled = c->cancelled;
  if (error != NULL)
    copy_slice(row.error, sizeof(row.error), sb_slice_z(error));
  c->final_status = status;
  sb_call_settle(c, row.key_hash, sizeof(row.key_hash));
  if (c->gw->ledger != NULL)
    c->ledger_seq = sb_ledger_record(c->gw->ledger, &row);
}

/* `durable`: hand the response's end to the sink only once its row is
 * committed (group commit, ledger.h). */
static void committed_cb(void *data)
{
  sb_call_t *c = data;
  if (c->deferred_json.ptr != NULL)
    c->sink->response(c, c->deferred_json);
  else
    c->sink->stream_end(c);
}

static bool defer_until_committed(sb_call_t *c, sb_slice_t json)
{
  if (!sb_ledger_is_durable(c->gw->ledger) || c->ledger_seq == 0)
    return false;
  sb_ledger_waiter_t *w = sb_arena_calloc(c->arena, sizeof(*w));
  if (w == NULL)
    return false;
  if (json.ptr != NULL) {
    c->deferred_json = sb_arena_slice_dup(c->arena, json);
    if (c->deferred_json.ptr == NULL)
      return false;
  }
  c->commit_wait = w;
  return sb_ledger_when_committed(c->gw->ledger, &c->worker->loop, w,
                                  c->ledger_seq, committed_cb, c) == SB_OK;
}

/* Before any byte reached the client. */
static void finish_error(sb_call_t *c, const sb_call_error_t *e)
{
  if (c->finished)
    return;
  c->finished = true;
  char msg[256];
  copy_slice(msg, sizeof(msg), e->message);
  /* A failed request is not billed; its row keeps whatever usage the
   * provider reported. */
  if (!c->usage_known)
    memset(&c->usage, 0, sizeof(c->usage));
  c->cost_pico = 0;
  snprintf(c->finish_reason, sizeof(c->finish_reason), "error");
  record(c, e->status, msg);
  c->sink->error(c, e);
}

void sb_call_fail_with(sb_call_t *c, const sb_call_error_t *e)
{
  finish_error(c, e);
}

void sb_call_fail(sb_call_t *c, int status, const char *type,
                  const char *message)
{
  sb_call_error_t e;
  memset(&e, 0, sizeof(e));
  e.status = status;
  e.type = type;
  e.message = sb_slice_z(message);
  finish_error(c, &e);
}

void sb_call_respond(sb_call_t *c, sb_slice_t json)
{
  if (c->finished)
    return;
  c->finished = true;
  estimate_usage(c);
  compute_cost(c);
  c->t_first_token = sb_now_ns();
  record(c, 200, NULL);
  if (defer_until_committed(c, json))
    return;
  c->sink->response(c, json);
}

void sb_call_take_usage(sb_call_t *c, const sb_json_t *u)
{
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return;
  int64_t v;
  const sb_json_t *d;
  memset(&c->usage, 0, sizeof(c->usage));
  if (sb_json_int64(sb_json_get(u, "prompt_tokens"), &v) == SB_OK && v > 0)
    c->usage.prompt = (uint64_t)v;
  if (sb_json_int64(sb_json_get(u, "completion_tokens"), &v) == SB_OK && v > 0)
    c->usage.completion = (uint64_t)v;
  if ((d = sb_json_get(u, "prompt_tokens_details")) != NULL) {
    if (sb_json_int64(sb_json_get(d, "cached_tokens"), &v) == SB_OK && v > 0)
      c->usage.cached = (uint64_t)v;
    if (sb_json_int64(sb_json_get(d, "cache_write_tokens"), &v) == SB_OK &&
        v > 0)
      c->usage.cache_write = (uint64_t)v;
  }
  if ((d = sb_json_get(u, "completion_tokens_details")) != NULL &&
      sb_json_int64(sb_json_get(d, "reasoning_tokens"), &v) == SB_OK && v > 0)
    c->usage.reasoning = (uint64_t)v;
  c->usage_known = true;
  c->usage_json = sb_arena_slice_dup(c->arena, u->raw);
}

void sb_call_set_finish(sb_call_t *c, sb_slice_t finish, sb_slice_t native)
{
  copy_slice(c->finish_reason, sizeof(c->finish_reason), finish);
  copy_slice(c->native_finish_reason, sizeof(c->native_finish_reason),
             native.len > 0 ? native : finish);
}

void sb_call_write_usage(sb_call_t *c, sb_jw_t *w)
{
  char cost[40];
  size_t cn = sb_cost_format(c->cost_pico, cost, sizeof(cost));
  if (c->usage_json.len > 0) {
    sb_arena_t a;
    sb_json_t *u;
    sb_arena_init(&a, 4096, 0);
    if (sb_json_parse(&a, c->usage_json.ptr, c->usage_json.len, 0, &u, NULL) ==
        SB_OK) {
      sb_json_edit_t e[] = {SB_EDIT_SET("cost", cost, cn)};
      sb_json_rewrite(w, u, e, 1);
      sb_arena_destroy(&a);
      return;
    }
    sb_arena_destroy(&a);
  }
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("prompt_tokens"), (int64_t)c->usage.prompt);
  sb_jw_kv_int(w, SB_STRLIT("completion_tokens"), (int64_t)c->usage.completion);
  sb_jw_kv_int(w, SB_STRLIT("total_tokens"),
               (int64_t)(c->usage.prompt + c->usage.completion));
  sb_jw_kv_raw(w, SB_STRLIT("cost"), cost, cn);
  sb_jw_obj_end(w);
}

/* The envelope every gateway-made chunk starts with. */
static void chunk_head(sb_call_t *c, sb_jw_t *w)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_raw(w, SB_STRLIT("id"), c->j_id.ptr, c->j_id.len);
  sb_jw_kv_str(w, SB_STRLIT("object"), SB_STRLIT("chat.completion.chunk"));
  sb_jw_kv_raw(w, SB_STRLIT("created"), c->j_created.ptr, c->j_created.len);
  sb_jw_kv_raw(w, SB_STRLIT("model"), c->j_model.ptr, c->j_model.len);
  sb_jw_kv_raw(w, SB_STRLIT("provider"), c->j_provider.ptr, c->j_provider.len);
}

/* End of a committed stream: an error event if it failed, then exactly
 * one usage chunk, then [DONE] (the sink writes that). */
static void finish_stream(sb_call_t *c)
{
  if (c->finished)
    return;
  c->finished = true;
  estimate_usage(c);
  compute_cost(c);
  sb_jw_t w;
  if (c->stream_failed) {
    sb_buf_reset(&c->out);
    sb_jw_init(&w, &c->out);
    chunk_head(c, &w);
    sb_jw_key_lit(&w, "error");
    sb_jw_obj_begin(&w);
    sb_jw_kv_int(&w, SB_STRLIT("code"), c->stream_error_code);
    sb_jw_kv_str(&w, SB_STRLIT("message"), c->stream_error,
                 strlen(c->stream_error));
    sb_jw_key_lit(&w, "metadata");
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("error_type"),
                 c->stream_error_code == 408 ? "timeout" : "provider_unavailable",
                 c->stream_error_code == 408 ? 7 : 20);
    sb_jw_obj_end(&w);
    sb_jw_obj_end(&w);
    sb_jw_key_lit(&w, "choices");
    sb_jw_raw(&w, SB_STRLIT("[{\"index\":0,\"delta\":{\"content\":\"\"},"
                            "\"finish_reason\":\"error\","
                            "\"native_finish_reason\":\"error\"}]"));
    sb_jw_obj_end(&w);
    if (sb_jw_status(&w) == SB_OK)
      c->sink->stream_chunk(c, sb_buf_slice(&c->out));
    snprintf(c->finish_reason, sizeof(c->finish_reason), "error");
  }
  sb_buf_reset(&c->out);
  sb_jw_init(&w, &c->out);
  chunk_head(c, &w);
  sb_jw_key_lit(&w, "choices");
  sb_jw_arr_begin(&w);
  sb_jw_arr_end(&w);
  sb_jw_key_lit(&w, "usage");
  sb_call_write_usage(c, &w);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) == SB_OK)
    c->sink->stream_chunk(c, sb_buf_slice(&c->out));
  record(c, c->stream_failed ? c->stream_error_code : 200,
         c->stream_failed ? c->stream_error : NULL);
  if (defer_until_committed(c, SB_NULL_SLICE))
    return;
  c->sink->stream_end(c);
}

/* The client went away (or was dropped): bill what was used and give the
 * exchange back. */
static void finish_cancelled(sb_call_t *c)
{
  if (c->finished)
    return;
  c->finished = true;
  c->cancelled = true;
  estimate_usage(c);
  compute_cost(c);
  snprintf(c->finish_reason, sizeof(c->finish_reason), "cancelled");
  record(c, 499, "client closed the connection");
  if (c->committed)
    c->sink->stream_end(c);
  else
    sb_http_respond(c->x, 499, NULL, 0, NULL, SB_NULL_SLICE);
}

sb_status_t sb_call_emit_chunk(sb_call_t *c, sb_slice_t json)
{
  if (!c->committed) {
    c->committed = true;
    c->t_first_token = sb_now_ns();
    if (c->sink->stream_begin(c) != SB_OK)
      return SB_ERROR;
  }
  c->chunks++;
  return c->sink->stream_chunk(c, json);
}

void sb_call_stream_error(sb_call_t *c, int code, sb_slice_t message)
{
  c->stream_failed = true;
  c->stream_error_code = code;
  copy_slice(c->stream_error, sizeof(c->stream_error), message);
}

/* ---- upstream callbacks ------------------------------------------------ */

static void on_head(sb_upstream_t *u, void *data, const sb_upstream_head_t *h)
{
  sb_call_t *c = data;
  (void)u;
  c->up_status = h->status;
  c->up_head_seen = true;
  copy_slice(c->retry_after, sizeof(c->retry_after), h->retry_after);
  c->up_sse = c->stream && h->status >= 200 && h->status < 300 &&
              sb_slice_case_eq(sb_slice(h->content_type.ptr,
                                        SB_MIN(h->content_type.len, 17)),
                               SB_SLICE_LIT("text/event-stream"));
}

static sb_status_t on_event(void *data, const sb_sse_event_t *ev)
{
  sb_call_t *c = data;
  sb_arena_reset(&c->scratch);
  sb_status_t rc = c->take_event != NULL
                       ? c->take_event(c, ev)
                       : c->route.provider->codec->chat_event(c, ev);
  if (rc == SB_DONE)
    c->saw_done = true;
  return rc;
}

static sb_status_t on_data(sb_upstream_t *u, void *data, const char *p,
                           size_t n)
{
  sb_call_t *c = data;
  (void)u;
  if (c->finished || c->x->aborted)
    return SB_ERROR;
  if (!c->up_sse) {
    if (sb_buf_append(&c->up_resp, p, n) != SB_OK)
      return SB_ERROR;
    return SB_OK;
  }
  if (c->saw_done)
    return SB_OK; /* nothing after [DONE] matters */
  /* Backpressure: take nothing while the client is behind; these bytes
   * come again once it has drained (on_drain resumes the transfer). */
  if (c->committed && c->sink->backlogged(c))
    return SB_AGAIN;
  sb_status_t rc = sb_sse_feed(&c->sse, p, n, on_event, c);
  if (rc == SB_DONE)
    return SB_OK;
  if (rc == SB_ERROR && !c->stream_failed)
    sb_call_stream_error(c, 502, SB_SLICE_LIT("the provider's stream is malformed"));
  if (c->x->aborted)
    return SB_ERROR;
  return rc == SB_OK ? SB_OK : SB_ERROR;
}

static void transport_error(sb_call_t *c, const sb_upstream_outcome_t *o,
                            sb_call_error_t *e)
{
  memset(e, 0, sizeof(*e));
  switch (o->result) {
  case SB_UP_TIMEOUT_FIRST_BYTE:
  case SB_UP_TIMEOUT_IDLE:
  case SB_UP_TIMEOUT_TOTAL:
    e->status = 408;
    e->type = "timeout";
    break;
  default:
    e->status = 502;
    e->type = "provider_unavailable";
    break;
  }
  const char *msg = sb_arena_printf(
      c->arena, "provider %s: %s (%s)", c->route.provider->name,
      o->error != NULL ? o->error : "request failed",
      sb_upstream_result_name(o->result));
  e->message = sb_slice_z(msg != NULL ? msg : "upstream request failed");
}

/* Map an upstream HTTP error to what the client sees. */
static void http_error(sb_call_t *c, sb_call_error_t *e)
{
  memset(e, 0, sizeof(*e));
  long s = c->up_status;
  e->upstream_status = s;
  e->provider_body = sb_buf_slice(&c->up_resp);
  if (s == 400 || s == 422) {
    e->status = 400;
    e->type = "invalid_request";
  } else if (s == 404) {
    e->status = 404;
    e->type = "not_found";
  } else if (s == 408) {
    e->status = 408;
    e->type = "timeout";
  } else if (s == 413) {
    e->status = 413;
    e->type = "payload_too_large";
  } else if (s == 429) {
    e->status = 429;
    e->type = "rate_limit_exceeded";
    e->retry_after = sb_slice_z(c->retry_after);
  } else if (s == 401 || s == 403) {
    /* The provider refused switchboard's own credentials: the client
     * cannot fix that, the operator can. */
    e->status = 502;
    e->type = "provider_auth";
  } else if (s >= 400 && s < 500 && s != 402) {
    e->status = 400;
    e->type = "invalid_request";
  } else {
    e->status = 502;
    e->type = "provider_unavailable";
  }
  sb_slice_t msg = SB_NULL_SLICE, code = SB_NULL_SLICE;
  if (e->provider_body.len > 0)
    c->route.provider->codec->error_info(c, e->provider_body, &msg, &code);
  const char *text = sb_arena_printf(
      c->arena, "provider %s returned %ld%s%.*s", c->route.provider->name, s,
      msg.len > 0 ? ": " : "", (int)SB_MIN(msg.len, 1000), msg.ptr ? msg.ptr : "");
  e->message = sb_slice_z(text != NULL ? text : "provider error");
}

static void on_done(sb_upstream_t *u, void *data,
                    const sb_upstream_outcome_t *o)
{
  sb_call_t *c = data;
  sb_call_error_t e;
  (void)u;
  c->up = NULL;
  if (c->finished)
    return;
  if (c->x->aborted) {
    finish_cancelled(c);
    return;
  }
  if (c->up_sse) {
    if (!c->stream_failed && o->result != SB_UP_OK) {
      transport_error(c, o, &e);
      sb_call_stream_error(c, e.status, e.message);
    }
    if (!c->stream_failed && !c->saw_done && !c->saw_finish)
      sb_call_stream_error(c, 502, SB_SLICE_LIT(
          "the provider's stream ended before the response was complete"));
    if (c->stream_failed && !c->committed) {
      /* Nothing reached the client yet: a plain error response. */
      memset(&e, 0, sizeof(e));
      e.status = c->stream_error_code;
      e.type = e.status == 408 ? "timeout" : "provider_unavailable";
      e.message = sb_slice_z(c->stream_error);
      finish_error(c, &e);
      return;
    }
    finish_stream(c);
    return;
  }
  if (o->result != SB_UP_OK) {
    if (o->result == SB_UP_ABORTED && c->up_resp.len >= c->up_resp.max) {
      sb_call_fail(c, 502, "provider_unavailable",
                   "the provider's response is larger than the gateway "
                   "accepts (upstream.max_body_bytes)");
      return;
    }
    transport_error(c, o, &e);
    finish_error(c, &e);
    return;
  }
  if (c->up_status < 200 || c->up_status >= 300) {
    http_error(c, &e);
    finish_error(c, &e);
    return;
  }
  if (c->stream) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider answered a streaming request without a stream");
    return;
  }
  /* Ends in sb_call_respond() or sb_call_fail(): `c` is gone after this. */
  if (c->take_response != NULL)
    c->take_response(c, sb_buf_slice(&c->up_resp));
  else
    c->route.provider->codec->chat_response(c, sb_buf_slice(&c->up_resp));
}

static const sb_upstream_callbacks_t upstream_cbs = {
    .on_head = on_head,
    .on_data = on_data,
    .on_done = on_done,
};

static void on_abort(sb_http_exchange_t *x)
{
  sb_call_t *c = x->data;
  if (c->finished)
    return;
  if (c->up != NULL) {
    sb_upstream_cancel(c->up);
    c->up = NULL;
  }
  finish_cancelled(c);
}

static void on_drain(sb_http_exchange_t *x)
{
  sb_call_t *c = x->data;
  if (c->up != NULL && sb_upstream_paused(c->up))
    sb_upstream_resume(c->up);
}

/* ---- start -------------------------------------------------------------- */

void sb_call_start(sb_call_t *c)
{
  char msg[512];
  if (c->requested_model.len == 0) {
    sb_call_fail(c, 400, "invalid_request", "'model' is required");
    return;
  }
  switch (sb_route(c->gw, c->requested_model, &c->route)) {
  case SB_ROUTE_OK:
    break;
  case SB_ROUTE_UNKNOWN_MODEL:
    snprintf(msg, sizeof(msg),
             "model '%.*s' is not in the catalog and its prefix names no "
             "configured provider",
             (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr);
    sb_call_fail(c, 404, "not_found", msg);
    return;
  case SB_ROUTE_NO_PROVIDER:
    snprintf(msg, sizeof(msg),
             "no configured provider serves model '%.*s'; configure one of "
             "its providers (see GET /api/v1/models)",
             (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr);
    sb_call_fail(c, 503, "provider_unavailable", msg);
    return;
  case SB_ROUTE_UNSUPPORTED:
    snprintf(msg, sizeof(msg),
             "model '%.*s' is served only by providers whose API format this "
             "build does not speak yet",
             (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr);
    sb_call_fail(c, 503, "provider_unavailable", msg);
    return;
  }
  if (sb_call_admit(c) != SB_OK)
    return;
  c->j_id = quote(c, sb_slice_z(c->id));
  c->j_model = quote(c, c->route.model_id);
  c->j_provider = quote(c, sb_slice_z(c->route.provider->display_name));
  char created[24];
  int cl = snprintf(created, sizeof(created), "%lld", (long long)c->created);
  c->j_created = sb_arena_slice_dup(c->arena, sb_slice(created, (size_t)cl));
  if (c->j_id.ptr == NULL || c->j_model.ptr == NULL ||
      c->j_provider.ptr == NULL || c->j_created.ptr == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  r.timeouts = c->route.provider->timeouts;
  sb_status_t rc = c->build_request != NULL
                       ? c->build_request(c, &r)
                       : c->route.provider->codec->chat_request(c, &r);
  if (rc == SB_DECLINED) {
    sb_call_fail(c, 413, "payload_too_large",
                 "the request is too large for the provider");
    return;
  }
  if (rc != SB_OK) {
    sb_call_fail(c, 400, "invalid_request",
                 c->codec_error != NULL
                     ? c->codec_error
                     : "the request could not be translated for the provider");
    return;
  }
  c->up = sb_upstream_start(c->worker->upstream, &r, &upstream_cbs, c);
  if (c->up == NULL)
    sb_call_fail(c, 502, "provider_unavailable",
                 "the upstream request could not be started");
}
