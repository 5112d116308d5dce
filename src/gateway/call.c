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
#include <strings.h>
#include <time.h>

#include "switchboard/health.h"
#include "switchboard/json_edit.h"
#include "switchboard/ledger.h"
#include "switchboard/log.h"
#include "switchboard/schema.h"

#define MAX_SSE_EVENT (8u << 20)
#define MAX_CHUNK_OUT (16u << 20)

/* The endpoints a call tries and where it is (docs/routing.md). */
typedef struct sb_plan {
  sb_candidate_t cands[SB_PLAN_MAX];
  size_t n, cur;          /* candidates, the one being tried */
  unsigned retries;       /* retries of the current candidate so far */
  unsigned attempts;      /* upstream attempts of the call */
  int key;                /* provider key of the current attempt, -1 none */
  uint64_t deadline_ns;   /* no attempt starts after this; 0 = no budget */
  uint64_t att_start_ns, att_first_ns;
  uv_timer_t *timer;      /* backoff / next attempt; freed in its close cb */
  bool in_attempt;        /* failures now are the attempt's, not the call's */
  bool acquired;          /* took the endpoint's breaker */
  /* request-level timeouts (X-Switchboard-*-Timeout-Ms), 0 = none */
  uint32_t req_total_ms, req_first_ms, req_idle_ms;
  /* cheap-first escalation: candidates' model_rank is the rung */
  bool escalate;
  bool holding;           /* a stream's chunks are held until output shows */
  sb_slice_t held[64];    /* copies in the call's arena */
  size_t n_held;
  unsigned climbs;
  int64_t discarded_pico; /* what the rungs that did not answer cost */
  uint32_t esc_on;        /* SB_CLIMB_*: the key's conditions or the config's */
  size_t esc_head_at;     /* where the rung's lines start in extra_head */
  bool esc_head_set;
} sb_plan_t;

static void timer_free_cb(uv_handle_t *h)
{
  free(h);
}

/* The call's clock (docs/observability.md): time is the gateway's own
 * unless the call is waiting, for a provider (a transfer in flight between
 * its callbacks), a backoff, or a slow client (a paused transfer). */
static void wait_begin(sb_call_t *c)
{
  if (c->wait_from == 0)
    c->wait_from = sb_now_ns();
}

static void wait_end(sb_call_t *c)
{
  if (c->wait_from != 0) {
    c->wait_ns += sb_now_ns() - c->wait_from;
    c->wait_from = 0;
  }
}

/* Cancel the transfer in flight, if any; the wait for it ends here. */
static void drop_upstream(sb_call_t *c)
{
  wait_end(c);
  if (c->up != NULL) {
    sb_upstream_cancel(c->up);
    c->up = NULL;
  }
}

static void call_cleanup(void *data)
{
  sb_call_t *c = data;
  if (c->plan != NULL && c->plan->timer != NULL) {
    uv_timer_stop(c->plan->timer);
    c->plan->timer->data = NULL;
    uv_close((uv_handle_t *)c->plan->timer, timer_free_cb);
    c->plan->timer = NULL;
  }
  drop_upstream(c);
  sb_buf_free(&c->up_body);
  sb_buf_free(&c->up_resp);
  sb_buf_free(&c->out);
  sb_sse_free(&c->sse);
  sb_arena_destroy(&c->scratch);
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
  /* Every provider's events are JSON, and parts of them reach the client
   * byte for byte inside one `data:` line. */
  c->sse.data_join = ' ';
  /* one stream event's parse fits in a chunk; the chunk stays while the
   * stream is open, so it is kept small */
  sb_arena_init(&c->scratch, 8 * 1024, 256u << 20);
  if (sb_arena_on_destroy(&x->arena, call_cleanup, c) != SB_OK) {
    call_cleanup(c);
    return NULL;
  }
  int64_t wall_us = sb_wall_us();
  c->created = wall_us / 1000000;
  sb_ledger_make_id(c->id, wall_us, sb_worker_rand(c->worker),
                    sb_worker_rand(c->worker));
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
  wait_end(c);
  uint64_t total = now - c->t_start;
  uint64_t own = total > c->wait_ns ? total - c->wait_ns : 0;
  row.overhead_us = (uint32_t)SB_MIN(own / 1000, UINT32_MAX);
  sb_worker_note_overhead(c->worker, own);
  if (!c->committed)
    sb_http_add_head_num(c->x, "X-Switchboard-Overhead-Us", row.overhead_us);
  copy_slice(row.finish_reason, sizeof(row.finish_reason),
             sb_slice_z(c->finish_reason));
  copy_slice(row.native_finish_reason, sizeof(row.native_finish_reason),
             sb_slice_z(c->native_finish_reason));
  row.streamed = c->stream;
  row.cancelled = c->cancelled;
  if (error != NULL)
    copy_slice(row.error, sizeof(row.error), sb_slice_z(error));
  if (c->plan != NULL && c->plan->escalate && status == 200) {
    const sb_plan_t *pl = c->plan;
    row.rung = pl->cands[pl->cur].model_rank + 1;
    row.escalation_pico = pl->discarded_pico;
    /* the top rung: the plan's last model, at its first endpoint */
    size_t top = pl->n - 1;
    while (top > 0 &&
           pl->cands[top - 1].model_rank == pl->cands[pl->n - 1].model_rank)
      top--;
    row.top_rung_pico = sb_cost_pico(&pl->cands[top].route.price, &c->usage);
  }
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

static bool attempt_failed(sb_call_t *c, const sb_call_error_t *e);
static void health_success(sb_call_t *c);
static bool climb(sb_call_t *c, sb_slice_t json);
static size_t next_rung(const sb_plan_t *pl);
static bool climb_to_next(sb_call_t *c, const char *why, const char *detail);
static bool stream_hold(sb_call_t *c, sb_slice_t json);
static sb_status_t stream_flush(sb_call_t *c);
static void escalation_head(sb_call_t *c);

/* Before any byte reached the client. */
static void finish_error(sb_call_t *c, const sb_call_error_t *e)
{
  if (c->finished)
    return;
  /* An attempt that failed before the client saw a byte: retry it, or
   * fall back to the next endpoint, if any is left. */
  if (attempt_failed(c, e))
    return;
  c->finished = true;
  char msg[256];
  copy_slice(msg, sizeof(msg), e->message);
  /* A failed request is not billed; its row keeps whatever usage the
   * provider reported ... */
  if (!c->usage_known)
    memset(&c->usage, 0, sizeof(c->usage));
  /* ... except for escalation rungs that answered and were discarded:
   * they were spent upstream. */
  c->cost_pico = c->plan != NULL ? c->plan->discarded_pico : 0;
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
  if (climb(c, json))
    return;
  c->finished = true;
  estimate_usage(c);
  compute_cost(c);
  if (c->plan != NULL && c->plan->escalate) {
    c->cost_pico += c->plan->discarded_pico;
    escalation_head(c);
  }
  c->t_first_token = sb_now_ns();
  health_success(c);
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
  health_success(c);
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
  if (!c->committed && c->plan != NULL && c->plan->holding) {
    if (stream_hold(c, json))
      return SB_OK;
    if (stream_flush(c) != SB_OK)
      return SB_ERROR;
  }
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

bool sb_call_event_root(sb_call_t *c, sb_slice_t data, sb_json_t **root)
{
  if (sb_json_parse(&c->scratch, data.ptr, data.len, 0, root, NULL) == SB_OK &&
      (*root)->type == SB_JSON_OBJECT)
    return true;
  sb_call_stream_error(c, 502,
                       SB_SLICE_LIT("the provider sent an invalid stream event"));
  return false;
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

static void on_done(sb_upstream_t *u, void *data,
                    const sb_upstream_outcome_t *o);

/* The stream's end marker ([DONE], message_stop) arrived: the answer is
 * complete. The client gets its end now rather than when the provider's
 * body ends (a paced provider sends its last chunk one interval later);
 * the transfer reads that rest alone and keeps the connection. SB_DONE:
 * the call ended here (`c` may be gone); SB_OK: the transport cannot go
 * on alone, the call waits for the body's end as before. */
static sb_status_t end_at_done(sb_call_t *c)
{
  if (c->up == NULL || !sb_upstream_detach(c->up))
    return SB_OK;
  static const sb_upstream_outcome_t complete = {.result = SB_UP_OK};
  on_done(c->up, c, &complete);
  return SB_DONE;
}

static sb_status_t take_data(sb_call_t *c, const char *p, size_t n)
{
  if (c->finished || c->x->aborted)
    return SB_ERROR;
  if (c->plan != NULL && c->plan->att_first_ns == 0)
    c->plan->att_first_ns = sb_now_ns();
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
    return end_at_done(c);
  if (rc == SB_ERROR && !c->stream_failed)
    sb_call_stream_error(c, 502, SB_SLICE_LIT("the provider's stream is malformed"));
  if (c->x->aborted)
    return SB_ERROR;
  return rc == SB_OK ? SB_OK : SB_ERROR;
}

static sb_status_t on_data(sb_upstream_t *u, void *data, const char *p,
                           size_t n)
{
  sb_call_t *c = data;
  (void)u;
  wait_end(c);
  sb_status_t rc = take_data(c, p, n);
  if (rc == SB_DONE)
    return SB_OK; /* the call ended; the transfer drops the rest */
  /* back to waiting: for more bytes, or for the client when paused */
  wait_begin(c);
  return rc;
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
  wait_end(c);
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
    if (!c->stream_failed && !c->committed && c->plan != NULL &&
        c->plan->holding) {
      /* An escalating stream that ended without any output: climb, or
       * hand over what was held. */
      if (climb_to_next(c, "empty", ""))
        return;
      if (stream_flush(c) != SB_OK) {
        finish_cancelled(c);
        return;
      }
    }
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
  drop_upstream(c);
  finish_cancelled(c);
}

static void on_drain(sb_http_exchange_t *x)
{
  sb_call_t *c = x->data;
  if (c->up != NULL && sb_upstream_paused(c->up))
    sb_upstream_resume(c->up);
}

/* ---- attempts: retries and fallbacks (docs/routing.md) ----------------- */

static void start_attempt(sb_call_t *c);

static int64_t now_wall(void)
{
  return sb_wall_ms();
}

static void health_success(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->acquired)
    return;
  pl->acquired = false;
  uint64_t now = sb_now_ns();
  double lat = (double)(now - pl->att_start_ns) / 1e6;
  double ttft = pl->att_first_ns != 0
                    ? (double)(pl->att_first_ns - pl->att_start_ns) / 1e6
                    : lat;
  sb_health_report(c->gw->health, pl->cands[pl->cur].slot, !c->stream_failed,
                   now_wall(), lat, ttft,
                   c->usage_known ? c->usage.completion : 0);
}

static void retry_timer_cb(uv_timer_t *t)
{
  sb_call_t *c = t->data;
  if (c == NULL || c->finished)
    return;
  wait_end(c);
  start_attempt(c);
}

static bool schedule_attempt(sb_call_t *c, uint32_t delay_ms)
{
  sb_plan_t *pl = c->plan;
  if (pl->timer == NULL) {
    pl->timer = malloc(sizeof(*pl->timer));
    if (pl->timer == NULL)
      return false;
    if (uv_timer_init(&c->worker->loop, pl->timer) != 0) {
      free(pl->timer);
      pl->timer = NULL;
      return false;
    }
  }
  pl->timer->data = c;
  if (uv_timer_start(pl->timer, retry_timer_cb, delay_ms, 0) != 0)
    return false;
  wait_begin(c);
  return true;
}

/* Returns true when the failure was taken over (a retry or a fallback is
 * scheduled); false when the call should fail with `e` now. */
static bool attempt_failed(sb_call_t *c, const sb_call_error_t *e)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->in_attempt || c->committed || c->x->aborted)
    return false;
  pl->in_attempt = false;
  drop_upstream(c);
  const sb_candidate_t *cand = &pl->cands[pl->cur];
  const sb_provider_t *p = cand->route.provider;
  long us = e->upstream_status;
  /* Transport failures (no HTTP status) and server-side statuses count
   * against the endpoint; a 4xx about the request does not, nor does a
   * 429 (throttling is the key's state, not the endpoint's health). */
  bool transport = us == 0 && (e->status == 408 || e->status == 502);
  bool endpoint_fault = transport || (sb_retry_status(us) && us != 429);
  int64_t now = now_wall();
  uint32_t ra_ms = 0;
  if (e->retry_after.len > 0 &&
      sb_retry_after_parse(e->retry_after, &ra_ms) != SB_OK)
    ra_ms = 0;
  if (pl->acquired) {
    pl->acquired = false;
    if (us == 429)
      sb_health_release(c->gw->health, cand->slot);
    else
      sb_health_report(c->gw->health, cand->slot, !endpoint_fault, now, 0, 0,
                       0);
  }
  if (us != 0)
    sb_health_key_result(c->gw->health, p, pl->key, us, ra_ms, now);
  uint64_t tnow = sb_now_ns();
  bool in_budget = pl->deadline_ns == 0 || tnow < pl->deadline_ns;
  /* A key the provider refused or throttled, and another key is free: the
   * same endpoint at once with that key. */
  bool other_key = p->n_keys > 1 &&
                   sb_health_key_until(c->gw->health, p,
                                       sb_health_pick_key(c->gw->health, p,
                                                          now)) <= now;
  bool key_refused =
      (us == 401 || us == 402 || us == 403 || us == 429) && other_key;
  if (in_budget && (key_refused || transport || sb_retry_status(us)) &&
      pl->retries < (key_refused ? p->n_keys : p->retry.attempts)) {
    uint32_t d = key_refused ? 0
                             : sb_retry_backoff_ms(&p->retry, pl->retries,
                                                   ra_ms,
                                                   sb_worker_rand(c->worker));
    if (d != UINT32_MAX &&
        (pl->deadline_ns == 0 ||
         tnow + (uint64_t)d * 1000000u < pl->deadline_ns)) {
      pl->retries++;
      SB_DEBUG("call %s: retry %u of %s in %u ms", c->id, pl->retries, p->name,
               d);
      if (schedule_attempt(c, d))
        return true;
    }
  }
  if (in_budget && pl->cur + 1 < pl->n) {
    pl->cur++;
    pl->retries = 0;
    SB_DEBUG("call %s: falling back to %s", c->id,
             pl->cands[pl->cur].route.provider->name);
    if (schedule_attempt(c, 0))
      return true;
  }
  return false;
}

/* Where the next attempt goes: the current candidate unless its breaker is
 * open and a later one's is not. */
static void choose_candidate(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  int64_t now = now_wall();
  for (size_t i = pl->cur; i < pl->n; i++) {
    if (sb_health_acquire(c->gw->health, pl->cands[i].slot, now)) {
      if (i != pl->cur) {
        pl->cur = i;
        pl->retries = 0;
      }
      pl->acquired = true;
      return;
    }
  }
  /* Every breaker left is open: try the current one anyway (its outcome
   * still counts: a success closes it). */
  pl->acquired = true;
}

/* ---- cheap-first escalation (docs/routing.md) ---------------------------- */

/* The router id. Its ladder is the request's `models`, else the calling
 * key's default escalation.ladder, else the config's; its conditions are
 * the key's escalation.on when the key has an escalation, else the
 * config's. */
#define AUTO_MODEL "switchboard/auto"

/* The tool's parameters schema in the request, by function name. */
static const sb_json_t *tool_schema(const sb_call_t *c, sb_slice_t name)
{
  const sb_json_t *tools = c->req != NULL ? sb_json_get(c->req, "tools") : NULL;
  if (!sb_json_is(tools, SB_JSON_ARRAY))
    return NULL;
  for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
    const sb_json_t *fn = sb_json_get(t, "function");
    const sb_json_t *n = sb_json_get(fn, "name");
    if (sb_json_is(n, SB_JSON_STRING) && sb_slice_eq(sb_json_str_raw(n), name))
      return sb_json_get(fn, "parameters");
  }
  return NULL;
}

/* Why this (OpenAI-shaped, non-stream) answer should climb, or NULL. */
static const char *climb_reason(sb_call_t *c, sb_slice_t json, uint32_t on,
                                char *detail, size_t cap)
{
  const char *why = NULL;
  sb_arena_t a;
  sb_json_t *root;
  sb_arena_init(&a, 16 * 1024, 64u << 20);
  if (sb_json_parse(&a, json.ptr, json.len, 0, &root, NULL) != SB_OK)
    goto out;
  const sb_json_t *ch = sb_json_get(root, "choices");
  const sb_json_t *choice = sb_json_is(ch, SB_JSON_ARRAY) ? ch->child : NULL;
  if (choice == NULL)
    goto out;
  const sb_json_t *fr = sb_json_get(choice, "finish_reason");
  const sb_json_t *msg = sb_json_get(choice, "message");
  const sb_json_t *calls = sb_json_get(msg, "tool_calls");
  const sb_json_t *content = sb_json_get(msg, "content");
  bool has_calls = sb_json_is(calls, SB_JSON_ARRAY) && calls->count > 0;
  if ((on & SB_CLIMB_LENGTH) && sb_json_is(fr, SB_JSON_STRING) &&
      SB_SLICE_IS(sb_json_str_raw(fr), "length")) {
    why = "length";
    goto out;
  }
  if ((on & SB_CLIMB_TOOL_ARGS) && has_calls) {
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
      const sb_json_t *fn = sb_json_get(tc, "function");
      const sb_json_t *name = sb_json_get(fn, "name");
      const sb_json_t *args = sb_json_get(fn, "arguments");
      sb_slice_t text;
      sb_json_t *parsed;
      if (!sb_json_is(args, SB_JSON_STRING) ||
          sb_json_string(&a, args, &text) != SB_OK ||
          sb_json_parse(&a, text.ptr != NULL ? text.ptr : "", text.len, 0,
                        &parsed, NULL) != SB_OK) {
        snprintf(detail, cap, "tool arguments are not valid JSON");
        why = "invalid_tool_args";
        goto out;
      }
      const sb_json_t *schema =
          sb_json_is(name, SB_JSON_STRING)
              ? tool_schema(c, sb_json_str_raw(name))
              : NULL;
      if (schema != NULL && !sb_schema_check(schema, parsed, detail, cap)) {
        why = "invalid_tool_args";
        goto out;
      }
    }
  }
  if ((on & SB_CLIMB_EMPTY) && !has_calls) {
    sb_slice_t text = SB_NULL_SLICE;
    if (sb_json_is(content, SB_JSON_STRING))
      text = sb_slice_trim(sb_json_str_raw(content));
    if (text.len == 0)
      why = "empty";
  }
out:
  sb_arena_destroy(&a);
  return why;
}

/* A non-stream answer that meets a climbing condition, with a stronger
 * rung left: bill what it cost and go up. True when the call goes on. */
static bool climb(sb_call_t *c, sb_slice_t json)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->escalate || c->stream || !pl->in_attempt ||
      next_rung(pl) >= pl->n)
    return false;
  char detail[256] = "";
  const char *why = climb_reason(c, json, pl->esc_on, detail, sizeof(detail));
  if (why == NULL)
    return false;
  return climb_to_next(c, why, detail);
}

/* The index of the first candidate of the next rung, or pl->n. */
static size_t next_rung(const sb_plan_t *pl)
{
  unsigned rung = pl->cands[pl->cur].model_rank;
  size_t next = pl->cur + 1;
  while (next < pl->n && pl->cands[next].model_rank <= rung)
    next++;
  return next;
}

static bool climb_to_next(sb_call_t *c, const char *why, const char *detail)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->escalate || !pl->in_attempt || c->committed)
    return false;
  unsigned rung = pl->cands[pl->cur].model_rank;
  size_t next = next_rung(pl);
  if (next >= pl->n)
    return false;
  estimate_usage(c);
  compute_cost(c);
  pl->discarded_pico += c->cost_pico;
  health_success(c);
  SB_INFO("call %s: rung %u (%.*s) answered with %s%s%s; climbing", c->id,
          rung + 1, (int)c->route.model_id.len, c->route.model_id.ptr, why,
          detail[0] ? ": " : "", detail);
  pl->in_attempt = false;
  drop_upstream(c);
  pl->cur = next;
  pl->retries = 0;
  pl->climbs++;
  if (!schedule_attempt(c, 0))
    return false;
  return true;
}

/* Does this chunk carry output: content that is not blank, a tool call, or
 * reasoning (held back no longer: it is the answer under way)? */
static bool chunk_has_output(sb_slice_t json)
{
  sb_arena_t a;
  sb_json_t *root;
  bool out = true; /* unreadable: do not hold it back */
  sb_arena_init(&a, 4096, 16u << 20);
  if (sb_json_parse(&a, json.ptr, json.len, 0, &root, NULL) == SB_OK) {
    const sb_json_t *ch = sb_json_get(root, "choices");
    const sb_json_t *d = sb_json_is(ch, SB_JSON_ARRAY) && ch->child != NULL
                             ? sb_json_get(ch->child, "delta")
                             : NULL;
    const sb_json_t *content = sb_json_get(d, "content");
    out = (sb_json_is(content, SB_JSON_STRING) &&
           sb_slice_trim(sb_json_str_raw(content)).len > 0) ||
          sb_json_truthy(sb_json_get(d, "tool_calls")) ||
          sb_json_is(sb_json_get(d, "reasoning"), SB_JSON_STRING);
  }
  sb_arena_destroy(&a);
  return out;
}

/* An escalating stream holds its chunks until the first output, so that
 * an empty answer can still climb. True when `json` was held. */
static bool stream_hold(sb_call_t *c, sb_slice_t json)
{
  sb_plan_t *pl = c->plan;
  if (pl->n_held >= SB_ARRAY_LEN(pl->held) || chunk_has_output(json))
    return false;
  sb_slice_t copy = sb_arena_slice_dup(c->arena, json);
  if (copy.ptr == NULL)
    return false;
  pl->held[pl->n_held++] = copy;
  return true;
}

/* Stop holding: what was held goes to the client (committing the stream). */
static sb_status_t stream_flush(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  pl->holding = false;
  size_t n = pl->n_held;
  pl->n_held = 0;
  for (size_t i = 0; i < n; i++)
    if (sb_call_emit_chunk(c, pl->held[i]) == SB_ERROR)
      return SB_ERROR;
  return SB_OK;
}

/* X-Switchboard-Rung (1 = the cheapest) and what the rungs below it cost. */
static void escalation_head(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  char cost[40];
  sb_cost_format(pl->discarded_pico, cost, sizeof(cost));
  /* replaces the lines of an earlier rung */
  if (pl->esc_head_set)
    c->x->extra_head.len = pl->esc_head_at;
  pl->esc_head_at = c->x->extra_head.len;
  pl->esc_head_set = true;
  sb_http_add_head(
      c->x, "X-Switchboard-Rung: %u\r\nX-Switchboard-Escalation-Cost: %s\r\n",
      pl->cands[pl->cur].model_rank + 1, cost);
}

static void reset_attempt(sb_call_t *c)
{
  sb_buf_reset(&c->up_body);
  sb_buf_reset(&c->up_resp);
  sb_buf_reset(&c->out);
  sb_sse_reset(&c->sse);
  sb_arena_reset(&c->scratch);
  c->n_up_headers = 0;
  c->up_status = 0;
  c->up_sse = false;
  c->up_head_seen = false;
  c->retry_after[0] = '\0';
  c->codec_state = NULL;
  c->codec_error = NULL;
  c->saw_done = false;
  c->saw_finish = false;
  c->stream_failed = false;
  c->stream_error_code = 0;
  c->stream_error[0] = '\0';
  c->chunks = 0;
  c->content_bytes = 0;
  memset(&c->usage, 0, sizeof(c->usage));
  c->usage_known = false;
  c->usage_json = SB_NULL_SLICE;
  c->finish_reason[0] = '\0';
  c->native_finish_reason[0] = '\0';
}

/* The provider key of this attempt replaces whatever key the request
 * builder wrote (rotation, keys set aside). */
void sb_call_up_header(sb_call_t *c, const char *name, const char *value)
{
  if (name != NULL && value != NULL &&
      c->n_up_headers < SB_ARRAY_LEN(c->up_headers)) {
    c->up_headers[c->n_up_headers].name = name;
    c->up_headers[c->n_up_headers].value = value;
    c->n_up_headers++;
  }
}

/* The authentication header's value for the provider's key `i`. */
static const char *auth_value(sb_call_t *c, const sb_provider_t *p, size_t i)
{
  return sb_arena_join(c->arena, p->auth_prefix != NULL ? p->auth_prefix : "",
                       p->keys[i]);
}

void sb_call_up_auth(sb_call_t *c)
{
  const sb_provider_t *p = c->route.provider;
  if (p->n_keys > 0)
    sb_call_up_header(
        c, p->auth_header,
        auth_value(c, p,
                   p->n_keys == 1 ? 0 : sb_worker_rand(c->worker) % p->n_keys));
  for (size_t i = 0; i < p->n_headers; i++)
    sb_call_up_header(c, p->headers[i].name, p->headers[i].value);
}

static void apply_key(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  const sb_provider_t *p = c->route.provider;
  pl->key = sb_health_pick_key(c->gw->health, p, now_wall());
  if (pl->key < 0 || p->n_keys < 2 || p->auth_header == NULL)
    return;
  for (size_t i = 0; i < c->n_up_headers; i++)
    if (c->up_headers[i].name != NULL &&
        strcasecmp(c->up_headers[i].name, p->auth_header) == 0) {
      const char *v = auth_value(c, p, (size_t)pl->key);
      if (v != NULL)
        c->up_headers[i].value = v;
    }
}

static void start_attempt(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  if (c->finished)
    return;
  if (pl->attempts > 0)
    reset_attempt(c);
  choose_candidate(c);
  pl->attempts++;
  pl->in_attempt = true;
  pl->att_start_ns = sb_now_ns();
  pl->att_first_ns = 0;
  c->route = pl->cands[pl->cur].route;
  pl->n_held = 0;
  pl->holding = false;
  if (pl->escalate) {
    escalation_head(c); /* a stream's head goes with the first chunk */
    pl->holding = c->stream &&
                  (pl->esc_on & SB_CLIMB_EMPTY) != 0 &&
                  next_rung(pl) < pl->n;
  }
  c->j_model = quote(c, c->route.model_id);
  c->j_provider = quote(c, sb_slice_z(c->route.provider->display_name));
  if (c->j_model.ptr == NULL || c->j_provider.ptr == NULL) {
    pl->in_attempt = false;
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  r.timeouts = c->route.provider->timeouts;
  /* A request may only shorten its provider's timeouts; the total is what
   * is left of the request's own. */
  if (pl->req_first_ms > 0 &&
      (r.timeouts.first_byte_ms == 0 || pl->req_first_ms < r.timeouts.first_byte_ms))
    r.timeouts.first_byte_ms = pl->req_first_ms;
  if (pl->req_idle_ms > 0 &&
      (r.timeouts.idle_ms == 0 || pl->req_idle_ms < r.timeouts.idle_ms))
    r.timeouts.idle_ms = pl->req_idle_ms;
  if (pl->req_total_ms > 0) {
    uint64_t spent = (pl->att_start_ns - c->t_start) / 1000000u;
    uint32_t left = spent < pl->req_total_ms
                        ? (uint32_t)(pl->req_total_ms - spent)
                        : 1;
    if (r.timeouts.total_ms == 0 || left < r.timeouts.total_ms)
      r.timeouts.total_ms = left;
  }
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
  apply_key(c);
  c->up = sb_upstream_start(c->worker->upstream, &r, &upstream_cbs, c);
  if (c->up == NULL)
    sb_call_fail(c, 502, "provider_unavailable",
                 "the upstream request could not be started");
  else
    wait_begin(c);
}

/* ---- start -------------------------------------------------------------- */

/* The model ids to try: `model` then `models` (OpenRouter's fallbacks),
 * without repeats, routing suffixes stripped into the preferences. */
static size_t model_ids(sb_call_t *c, sb_prefs_t *prefs, sb_slice_t *ids,
                        const char **err)
{
  size_t n = 0;
  sb_slice_t m = c->requested_model;
  sb_prefs_suffix(&m, prefs);
  bool autom = SB_SLICE_IS(m, AUTO_MODEL);
  if (autom)
    c->plan->escalate = true;
  else
    ids[n++] = m;
  const sb_json_t *list = c->req != NULL ? sb_json_get(c->req, "models")
                                         : NULL;
  c->plan->esc_on = c->gw->config->escalation_on;
  if (autom && c->x->principal != NULL) {
    const sb_json_t *key_ladder = NULL;
    uint32_t key_on;
    if (sb_key_escalation(c->x->principal, c->arena, &key_ladder, &key_on) ==
        SB_OK) {
      c->plan->esc_on = key_on;
      if (list == NULL || list->type == SB_JSON_NULL)
        list = key_ladder;
    }
  }
  if (autom && (list == NULL || list->type == SB_JSON_NULL))
    list = c->gw->config->escalation_ladder;
  if (autom && list == NULL) {
    *err = "'switchboard/auto' needs a ladder of models, cheap first: the "
           "request's 'models', the key's escalation.ladder or the config's";
    return 0;
  }
  if (list == NULL || list->type == SB_JSON_NULL)
    return n;
  if (list->type != SB_JSON_ARRAY) {
    *err = "'models' must be a list of model ids";
    return 0;
  }
  for (const sb_json_t *e = list->child; e != NULL; e = e->next) {
    if (e->type != SB_JSON_STRING) {
      *err = "'models' must be a list of model ids";
      return 0;
    }
    sb_slice_t id;
    if (sb_json_string(c->arena, e, &id) != SB_OK) {
      *err = "'models' holds an invalid string";
      return 0;
    }
    sb_prefs_suffix(&id, prefs);
    bool dup = false;
    for (size_t i = 0; i < n && !dup; i++)
      dup = sb_slice_eq(ids[i], id);
    if (!dup && id.len > 0 && n < SB_MODELS_MAX &&
        !SB_SLICE_IS(id, AUTO_MODEL))
      ids[n++] = id;
  }
  if (n == 0)
    *err = "'models' names no model";
  return n;
}

/* X-Switchboard-Timeout-Ms and friends: a number of milliseconds. */
static sb_status_t header_ms(sb_call_t *c, sb_slice_t v, const char *name,
                             uint32_t *out)
{
  uint64_t n;
  if (v.ptr == NULL)
    return SB_OK;
  if (sb_slice_to_u64(sb_slice_trim(v), 24u * 3600u * 1000u, &n) != SB_OK ||
      n == 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s must be a number of milliseconds (1 to "
             "86400000)", name);
    sb_call_fail(c, 400, "invalid_request", msg);
    return SB_ERROR;
  }
  *out = (uint32_t)n;
  return SB_OK;
}

void sb_call_start(sb_call_t *c)
{
  char msg[512];
  if (c->requested_model.len == 0) {
    sb_call_fail(c, 400, "invalid_request", "'model' is required");
    return;
  }
  sb_plan_t *pl = sb_arena_calloc(c->arena, sizeof(*pl));
  if (pl == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  if (header_ms(c, SB_HTTP_HEADER(&c->x->req, "x-switchboard-timeout-ms"),
                "X-Switchboard-Timeout-Ms", &pl->req_total_ms) != SB_OK ||
      header_ms(c,
                SB_HTTP_HEADER(&c->x->req, "x-switchboard-first-token-timeout-ms"),
                "X-Switchboard-First-Token-Timeout-Ms",
                &pl->req_first_ms) != SB_OK ||
      header_ms(c, SB_HTTP_HEADER(&c->x->req, "x-switchboard-idle-timeout-ms"),
                "X-Switchboard-Idle-Timeout-Ms", &pl->req_idle_ms) != SB_OK)
    return;
  sb_prefs_t prefs;
  const char *perr = NULL;
  if (sb_prefs_parse(c->req != NULL ? sb_json_get(c->req, "provider") : NULL,
                     &prefs, &perr) != SB_OK) {
    sb_call_fail(c, 400, "invalid_request", perr);
    return;
  }
  sb_slice_t ids[SB_MODELS_MAX];
  c->plan = pl; /* model_ids marks escalation */
  size_t n_ids = model_ids(c, &prefs, ids, &perr);
  c->plan = NULL;
  if (n_ids == 0) {
    sb_call_fail(c, 400, "invalid_request", perr);
    return;
  }
  sb_route_status_t why;
  pl->n = sb_route_plan(c->gw, sb_gateway_catalog(c->x), ids, n_ids, &prefs,
                        c->req, now_wall(), pl->cands, SB_PLAN_MAX, &why);
  if (pl->n > 0 && c->build_request != NULL) {
    /* Endpoints with their own request builder (embeddings, Messages)
     * chose it for the first endpoint's wire format: keep to that one. */
    size_t k = 1;
    for (size_t i = 1; i < pl->n; i++)
      if (strcmp(pl->cands[i].route.provider->format,
                 pl->cands[0].route.provider->format) == 0)
        pl->cands[k++] = pl->cands[i];
    pl->n = k;
  }
  if (pl->n == 0) {
    switch (why) {
    case SB_ROUTE_OK:
    case SB_ROUTE_UNKNOWN_MODEL:
      snprintf(msg, sizeof(msg),
               "model '%.*s' is not in the catalog and its prefix names no "
               "configured provider",
               (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr);
      sb_call_fail(c, 404, "not_found", msg);
      return;
    case SB_ROUTE_NO_PROVIDER:
      snprintf(msg, sizeof(msg),
               "no configured provider serves model '%.*s'%s; configure one of "
               "its providers (see GET /api/v1/models)",
               (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr,
               prefs.n_only + prefs.n_ignore > 0 || prefs.has_max_prompt ||
                       prefs.has_max_completion || prefs.require_parameters
                   ? " within the request's provider preferences"
                   : "");
      sb_call_fail(c, prefs.n_only + prefs.n_ignore > 0 ? 404 : 503,
                   prefs.n_only + prefs.n_ignore > 0 ? "not_found"
                                                     : "provider_unavailable",
                   msg);
      return;
    case SB_ROUTE_UNSUPPORTED:
      snprintf(msg, sizeof(msg),
               "model '%.*s' is served only by providers whose API format this "
               "build does not speak yet",
               (int)SB_MIN(c->requested_model.len, 200), c->requested_model.ptr);
      sb_call_fail(c, 503, "provider_unavailable", msg);
      return;
    }
  }
  /* Admission reserves the worst case over every endpoint the call may
   * end up using; settlement bills the one that answered. */
  c->route = pl->cands[0].route;
  for (size_t i = 1; i < pl->n; i++) {
    const sb_price_t *q = &pl->cands[i].route.price;
    sb_price_t *m = &c->route.price;
    m->unknown = m->unknown || q->unknown;
    m->prompt = SB_MAX(m->prompt, q->prompt);
    m->completion = SB_MAX(m->completion, q->completion);
    m->request = SB_MAX(m->request, q->request);
    if (q->has_reasoning) {
      m->reasoning = SB_MAX(m->reasoning, q->reasoning);
      m->has_reasoning = true;
    }
  }
  if (sb_call_admit(c) != SB_OK)
    return;
  c->plan = pl;
  pl->key = -1;
  uint32_t budget = c->gw->config->retry.budget_ms;
  if (pl->req_total_ms > 0 && (budget == 0 || pl->req_total_ms < budget))
    budget = pl->req_total_ms;
  pl->deadline_ns = budget > 0 ? c->t_start + (uint64_t)budget * 1000000u : 0;
  c->j_id = quote(c, sb_slice_z(c->id));
  char created[24];
  size_t cl = sb_u64_dec(created, (uint64_t)c->created);
  c->j_created = sb_arena_slice_dup(c->arena, sb_slice(created, cl));
  if (c->j_id.ptr == NULL || c->j_created.ptr == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  start_attempt(c);
}
