/* SPDX-License-Identifier: MIT */
/*
 * A call from the door to its ledger row; see include/switchboard/call.h
 * and the map in call.h (private).
 *
 * The answer travels as hub events: the provider's format decodes the
 * upstream bytes and emits them to answer_emit() below, which counts what
 * the gateway bills and records (usage, finish, output) and hands each to
 * the door format's encoder, whose bytes go to the client (a stream) or
 * are gathered (a whole answer). States, in order: routed -> upstream
 * started -> (stream: committed on the first bytes) -> finished. Every
 * path ends in one finish_*() that records the row and then ends the
 * exchange; after that the call's memory is gone.
 */
#include "call.h"

#include <stdio.h>
#include <stdlib.h>

#include "switchboard/ledger.h"
#include "switchboard/log.h"

#define MAX_SSE_EVENT (8u << 20)
#define MAX_OUT (64u << 20)
#define MAX_ARGS (1u << 20)

/* ---- the clock ------------------------------------------------------------ */

/* The call's clock (docs/observability.md): time is the gateway's own
 * unless the call is waiting, for a provider (a transfer in flight between
 * its callbacks), a backoff, or a slow client (a paused transfer). */
void sb_call_wait_begin(sb_call_t *c)
{
  if (c->wait_from == 0)
    c->wait_from = sb_now_ns();
}

void sb_call_wait_end(sb_call_t *c)
{
  if (c->wait_from != 0) {
    c->wait_ns += sb_now_ns() - c->wait_from;
    c->wait_from = 0;
  }
}

/* ---- creating ----------------------------------------------------------------- */

static void call_cleanup(void *data)
{
  sb_call_t *c = data;
  sb_attempt_cleanup(c);
  sb_buf_free(&c->up_body);
  sb_buf_free(&c->up_resp);
  sb_buf_free(&c->out);
  sb_sse_free(&c->sse);
  sb_arena_destroy(&c->scratch);
  if (c->tools != NULL)
    for (size_t i = 0; i < SB_CALL_MAX_TOOLS; i++)
      sb_buf_free(&c->tools[i].args);
}

static void on_abort(sb_http_exchange_t *x);
static void on_drain(sb_http_exchange_t *x);
static sb_status_t answer_emit(void *data, const sb_hub_event_t *ev);

sb_call_t *sb_call_new(sb_http_exchange_t *x, const sb_codec_t *door,
                       const char *api)
{
  sb_call_t *c = sb_arena_calloc(&x->arena, sizeof(*c));
  if (c == NULL)
    return NULL;
  const sb_codec_encoder_t *enc = door->door != NULL ? door->door->encoder
                                                     : NULL;
  c->arena = &x->arena;
  c->x = x;
  c->worker = x->worker;
  c->gw = x->worker->gw;
  c->door = door;
  c->enc = enc;
  c->api = api;
  c->embeddings = strcmp(api, "embeddings") == 0;
  c->agent = SB_SLICE_LIT("local");
  c->req_raw = x->req.body;
  if (enc != NULL) {
    c->enc_state = sb_arena_calloc(&x->arena, enc->state_size);
    if (c->enc_state == NULL)
      return NULL;
  }
  const sb_config_t *cfg = sb_gateway_config(x);
  sb_buf_init(&c->up_body, cfg->max_body_bytes + 64 * 1024);
  sb_buf_init(&c->up_resp, cfg->max_upstream_body_bytes);
  sb_buf_init(&c->out, MAX_OUT);
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
  c->an.arena = c->arena;
  c->an.scratch = &c->scratch;
  c->an.req = &c->req;
  c->an.route = &c->croute;
  c->an.names = &c->names;
  c->an.sink.emit = answer_emit;
  c->an.sink.data = c;
  x->data = c;
  x->on_abort = on_abort;
  x->on_drain = on_drain;
  x->describe = sb_record_describe;
  sb_call_trace_begin(c);
  return c;
}

void sb_call_on_answered(sb_call_t *c, sb_call_answered_fn fn, void *data)
{
  c->answered = fn;
  c->answered_data = data;
}

/* The door hears that the call answered, with what its encoder kept. */
static void tell_answered(sb_call_t *c, int status)
{
  if (c->answered == NULL)
    return;
  sb_slice_t kept = c->enc->kept != NULL ? c->enc->kept(c->enc_state)
                                         : SB_NULL_SLICE;
  c->answered(c->answered_data, status, kept);
}

sb_hub_req_t *sb_call_hub(sb_call_t *c) { return &c->req; }
sb_hub_embed_req_t *sb_call_embed(sb_call_t *c) { return &c->ereq; }
const char *sb_call_id(const sb_call_t *c) { return c->id; }

void sb_call_attribute(sb_call_t *c, sb_slice_t agent, sb_slice_t key_label,
                       sb_slice_t app)
{
  c->agent = agent;
  c->key_label = key_label;
  c->app = app;
}

/* ---- writing to the client ------------------------------------------------------ */

static sb_http_header_t gen_header(const sb_call_t *c)
{
  sb_http_header_t h = {SB_SLICE_LIT("X-Generation-Id"), sb_slice_z(c->id)};
  return h;
}

#define MAX_DOOR_HEADERS 4

/* X-Switchboard-Dropped-Tools: the tools another format's provider runs
 * (a Gemini client's googleSearch, an Anthropic client's web search) that
 * the answering provider, of another format, left out; in the exchange's
 * arena, empty when none. */
static sb_slice_t dropped_tools(sb_call_t *c)
{
  char names[512];
  size_t n = 0;
  if (c->passthrough || c->embeddings || !c->req.decoded || c->codec == NULL)
    return SB_NULL_SLICE;
  for (size_t i = 0; i < c->req.n_tools; i++) {
    const sb_hub_tool_t *t = &c->req.tools[i];
    if (t->kind != SB_HUB_TOOL_NATIVE || t->format == NULL ||
        strcmp(t->format, c->codec->name) == 0 || t->name.len == 0 ||
        n + t->name.len + 2 >= sizeof(names))
      continue;
    if (n > 0)
      names[n++] = ',';
    for (size_t k = 0; k < t->name.len; k++) /* a header value: no CR/LF */
      names[n++] = (unsigned char)t->name.ptr[k] < 0x20 ? ' ' : t->name.ptr[k];
  }
  char *v = n > 0 ? sb_arena_strndup(&c->x->arena, names, n) : NULL;
  return v != NULL ? sb_slice(v, n) : SB_NULL_SLICE;
}

/* The door encoder's own headers (codec.h, `head`) and the dropped tools
 * after `h[n]` (room for MAX_DOOR_HEADERS more); the new count. */
static size_t door_headers(sb_call_t *c, sb_http_header_t *h, size_t n)
{
  sb_kv_t kv[MAX_DOOR_HEADERS - 1];
  size_t k = c->enc->head != NULL
                 ? c->enc->head(c->enc_state, kv, SB_ARRAY_LEN(kv))
                 : 0;
  for (size_t i = 0; i < k && i < SB_ARRAY_LEN(kv); i++)
    h[n++] = (sb_http_header_t){sb_slice_z(kv[i].name), sb_slice_z(kv[i].value)};
  sb_slice_t dropped = dropped_tools(c);
  if (dropped.len > 0)
    h[n++] = (sb_http_header_t){SB_SLICE_LIT("X-Switchboard-Dropped-Tools"),
                                dropped};
  return n;
}

static sb_status_t stream_begin(sb_call_t *c)
{
  sb_http_header_t h[3 + MAX_DOOR_HEADERS] = {
      gen_header(c),
      {SB_SLICE_LIT("Cache-Control"), SB_SLICE_LIT("no-cache")},
      {SB_SLICE_LIT("X-Accel-Buffering"), SB_SLICE_LIT("no")},
  };
  size_t n = door_headers(c, h, 3);
  return sb_http_stream_begin(c->x, 200, c->enc->stream_type, h, n);
}

sb_status_t sb_call_flush(sb_call_t *c)
{
  if (c->out.len == 0)
    return SB_OK;
  sb_plan_t *pl = c->plan;
  if (!c->committed && pl != NULL && pl->holding) {
    /* an escalating stream: held until output shows (escalate.c) */
    sb_status_t rc = sb_buf_append_slice(&pl->held, sb_buf_slice(&c->out));
    sb_buf_reset(&c->out);
    return rc;
  }
  if (!c->committed) {
    c->committed = true;
    c->t_first_token = sb_now_ns();
    if (stream_begin(c) != SB_OK)
      return SB_ERROR;
  }
  sb_slice_t part = sb_buf_slice(&c->out);
  sb_status_t rc = sb_http_stream_write(c->x, &part, 1);
  sb_buf_reset(&c->out);
  return rc;
}

/* ---- the answer's events ----------------------------------------------------------- */

static void copy_z(char *dst, size_t cap, sb_slice_t s)
{
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  if (n > 0)
    memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

void sb_call_stream_error(sb_call_t *c, int code, sb_slice_t message)
{
  c->stream_failed = true;
  c->stream_error_code = code;
  copy_z(c->stream_error, sizeof(c->stream_error), message);
}

/* The arguments of tool call `index`, gathered for escalation's check. */
static void gather_args(sb_call_t *c, const sb_hub_event_t *ev)
{
  if (ev->index < 0 || ev->index >= SB_CALL_MAX_TOOLS)
    return;
  if (c->tools == NULL) {
    c->tools = sb_arena_calloc(c->arena, SB_CALL_MAX_TOOLS * sizeof(*c->tools));
    if (c->tools == NULL)
      return;
    for (size_t i = 0; i < SB_CALL_MAX_TOOLS; i++)
      sb_buf_init(&c->tools[i].args, MAX_ARGS);
  }
  size_t i = (size_t)ev->index;
  if (i >= c->n_calls)
    c->n_calls = i + 1;
  if (ev->kind == SB_HUB_EV_TOOL_START)
    c->tools[i].name = sb_arena_slice_dup(c->arena, ev->name);
  else
    sb_buf_append_slice(&c->tools[i].args, ev->text);
}

/* What the gateway counts of each event, before the encoder sees it. */
static void count(sb_call_t *c, const sb_hub_event_t *ev)
{
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    c->content_bytes += ev->text.len;
    c->has_text |= sb_hub_nonblank(ev->text);
    break;
  case SB_HUB_EV_NATIVE:
    c->content_bytes += ev->output_bytes;
    break;
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS:
    c->has_calls = true;
    if (c->plan != NULL && c->plan->escalate && !c->stream)
      gather_args(c, ev);
    break;
  case SB_HUB_EV_FINISH:
    c->finish = ev->finish;
    c->saw_finish = true;
    copy_z(c->native_finish, sizeof(c->native_finish),
           ev->native.len > 0 ? ev->native
                              : sb_slice_z(sb_finish_name(ev->finish)));
    break;
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_START:
    if (ev->kind == SB_HUB_EV_START && !ev->has_usage)
      break;
    c->usage = ev->usage;
    c->usage_known = true;
    c->usage_json = ev->kind == SB_HUB_EV_USAGE
                        ? sb_arena_slice_dup(c->arena, ev->usage_json)
                        : SB_NULL_SLICE;
    break;
  case SB_HUB_EV_ERROR:
    sb_call_stream_error(c, ev->status > 0 ? ev->status : 502, ev->text);
    break;
  default:
    break;
  }
}

/* Does this event carry output (not blank text, a tool call, reasoning)?
 * An escalating stream holds its bytes until one does. */
static bool is_output(const sb_hub_event_t *ev)
{
  switch (ev->kind) {
  case SB_HUB_EV_TEXT: return sb_hub_nonblank(ev->text);
  case SB_HUB_EV_NATIVE: return ev->has_output;
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS:
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_REDACTED: return true;
  default: return false;
  }
}

static sb_status_t answer_emit(void *data, const sb_hub_event_t *ev)
{
  sb_call_t *c = data;
  if (c->finished || c->x->aborted)
    return SB_ERROR;
  count(c, ev);
  if (ev->kind == SB_HUB_EV_ERROR)
    return SB_OK; /* the end writes it */
  if (c->embeddings)
    return SB_OK;
  if (c->enc->event(c->enc_state, ev, &c->out) != SB_OK) {
    sb_call_stream_error(c, 502, SB_SLICE_LIT("a stream event is too large"));
    return SB_ERROR;
  }
  if (!c->stream)
    return SB_OK;
  if (!c->committed && c->plan != NULL && c->plan->holding && is_output(ev)) {
    if (sb_escalate_flush(c) != SB_OK)
      return SB_ERROR;
  }
  c->chunks++;
  return sb_call_flush(c);
}

void sb_call_answer_reset(sb_call_t *c)
{
  c->saw_done = false;
  c->saw_finish = false;
  c->stream_failed = false;
  c->stream_error_code = 0;
  c->stream_error[0] = '\0';
  c->chunks = 0;
  c->content_bytes = 0;
  c->finish = SB_FINISH_NONE;
  c->native_finish[0] = '\0';
  memset(&c->usage, 0, sizeof(c->usage));
  c->usage_known = false;
  c->usage_json = SB_NULL_SLICE;
  c->has_text = c->has_calls = false;
  if (c->tools != NULL)
    for (size_t i = 0; i < c->n_calls; i++)
      sb_buf_reset(&c->tools[i].args);
  c->n_calls = 0;
  c->an.state = NULL;
  c->an.passthrough = c->passthrough;
  sb_buf_reset(&c->out);
  if (c->enc != NULL && !c->embeddings)
    c->enc->begin(c->enc_state, c->arena, &c->req, &c->names, c->stream,
                  c->passthrough);
}

/* ---- ends ------------------------------------------------------------------------- */

static void error_reply(sb_call_t *c, const sb_call_error_t *e)
{
  sb_answer_error_t ae = {
      .status = e->status,
      .type = e->type,
      .message = e->message,
      .provider_body = e->provider_body,
      .upstream_status = e->upstream_status,
      .provider_name = c->route.provider != NULL ? c->route.provider->name
                                                 : NULL,
  };
  int status = e->status;
  sb_buf_t b;
  sb_buf_init(&b, 256 * 1024);
  c->door->door->encoder->error(&ae, &status, &b);
  sb_http_header_t h[2] = {gen_header(c)};
  size_t nh = 1;
  if (e->status == 429) {
    h[nh].name = SB_SLICE_LIT("Retry-After");
    h[nh].value = e->retry_after.len > 0 ? e->retry_after : SB_SLICE_LIT("1");
    nh++;
  }
  sb_http_respond(c->x, status, h, nh, "application/json", sb_buf_slice(&b));
  sb_buf_free(&b);
}

/* Before any byte reached the client. */
void sb_call_fail_with(sb_call_t *c, const sb_call_error_t *e)
{
  if (c->finished)
    return;
  /* An attempt that failed before the client saw a byte: retry it, or
   * fall back to the next endpoint, if any is left. */
  if (sb_attempt_failed(c, e))
    return;
  c->finished = true;
  char msg[256];
  copy_z(msg, sizeof(msg), e->message);
  /* A failed request is not billed; its row keeps whatever usage the
   * provider reported ... */
  if (!c->usage_known)
    memset(&c->usage, 0, sizeof(c->usage));
  /* ... except for escalation rungs that answered and were discarded:
   * they were spent upstream. */
  c->cost_pico = c->plan != NULL ? c->plan->discarded_pico : 0;
  c->finish = SB_FINISH_ERROR;
  snprintf(c->native_finish, sizeof(c->native_finish), "error");
  c->x->error_type = e->type;
  sb_record(c, e->status, msg);
  error_reply(c, e);
}

void sb_call_fail(sb_call_t *c, int status, const char *type,
                  const char *message)
{
  sb_call_error_t e;
  memset(&e, 0, sizeof(e));
  e.status = status;
  e.type = type;
  e.message = sb_slice_z(message);
  sb_call_fail_with(c, &e);
}

void sb_call_refuse(sb_call_t *c, const sb_call_error_t *e)
{
  if (c->finished)
    return;
  c->finished = true;
  c->final_status = e->status;
  c->x->error_type = e->type;
  error_reply(c, e);
}

/* The end an answer gets from the encoder. */
static void answer_end(sb_call_t *c, sb_answer_end_t *end)
{
  memset(end, 0, sizeof(*end));
  end->finish = c->finish;
  end->native_finish = sb_slice_z(c->native_finish);
  end->usage = &c->usage;
  end->usage_estimated = !c->usage_known;
  /* the provider's own object goes out only in its own format */
  end->usage_json = c->passthrough ? c->usage_json : SB_NULL_SLICE;
  end->cost = sb_record_cost_text(c);
  if (c->stream_failed) {
    end->error_status = c->stream_error_code;
    end->error_message = sb_slice_z(c->stream_error);
    end->error_type =
        c->stream_error_code == 408 ? "timeout" : "provider_unavailable";
  }
}

/* A whole answer's end: the body goes out (or waits for its row). */
void sb_call_respond_body(sb_call_t *c, sb_slice_t body)
{
  sb_http_header_t h[1 + MAX_DOOR_HEADERS] = {gen_header(c)};
  size_t n = c->embeddings ? 1 : door_headers(c, h, 1);
  sb_http_respond(c->x, 200, h, n,
                  c->embeddings ? "application/json" : c->enc->body_type, body);
}

void sb_call_respond(sb_call_t *c)
{
  if (c->finished)
    return;
  if (sb_escalate_climb(c))
    return;
  c->finished = true;
  sb_record_estimate(c);
  sb_record_cost(c);
  /* the answer's usage shows its own cost; the row adds what the rungs
   * below cost */
  sb_answer_end_t end;
  answer_end(c, &end);
  if (c->plan != NULL && c->plan->escalate) {
    c->cost_pico += c->plan->discarded_pico;
    sb_escalate_head(c);
  }
  c->t_first_token = sb_now_ns();
  sb_buf_reset(&c->out);
  if (c->enc->end(c->enc_state, &end, &c->out) != SB_OK) {
    c->finished = false;
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response is too large");
    return;
  }
  sb_attempt_health_success(c);
  sb_record(c, 200, NULL);
  tell_answered(c, 200);
  if (sb_record_defer(c, sb_buf_slice(&c->out)))
    return;
  sb_call_respond_body(c, sb_buf_slice(&c->out));
}

void sb_call_finish_stream(sb_call_t *c)
{
  if (c->finished)
    return;
  c->finished = true;
  sb_record_estimate(c);
  sb_record_cost(c);
  if (c->stream_failed) {
    c->finish = SB_FINISH_ERROR;
    snprintf(c->native_finish, sizeof(c->native_finish), "error");
    c->x->error_type =
        c->stream_error_code == 408 ? "timeout" : "provider_unavailable";
  }
  sb_answer_end_t end;
  answer_end(c, &end);
  if (c->enc->end(c->enc_state, &end, &c->out) != SB_OK)
    sb_buf_reset(&c->out);
  sb_attempt_health_success(c);
  sb_record(c, c->stream_failed ? c->stream_error_code : 200,
            c->stream_failed ? c->stream_error : NULL);
  tell_answered(c, c->stream_failed ? c->stream_error_code : 200);
  /* `durable`: the closing bytes wait for the row (record.c) */
  if (sb_record_defer(c, SB_NULL_SLICE))
    return;
  sb_call_flush(c);
  sb_http_stream_end(c->x);
}

void sb_call_finish_cancelled(sb_call_t *c)
{
  if (c->finished)
    return;
  c->finished = true;
  c->cancelled = true;
  sb_record_estimate(c);
  sb_record_cost(c);
  snprintf(c->native_finish, sizeof(c->native_finish), "cancelled");
  c->finish = SB_FINISH_NONE;
  c->x->error_type = "cancelled";
  sb_record(c, 499, "client closed the connection");
  if (c->committed)
    sb_http_stream_end(c->x);
  else
    sb_http_respond(c->x, 499, NULL, 0, NULL, SB_NULL_SLICE);
}

/* ---- the exchange's hooks ---------------------------------------------------------- */

static void on_abort(sb_http_exchange_t *x)
{
  sb_call_t *c = x->data;
  if (c->finished || c->admitting)
    return; /* admitting: the counters' answer ends it (admit.c) */
  sb_attempt_drop_upstream(c);
  sb_call_finish_cancelled(c);
}

static void on_drain(sb_http_exchange_t *x)
{
  sb_call_t *c = x->data;
  if (c->up != NULL && sb_upstream_paused(c->up))
    sb_upstream_resume(c->up);
}

/* ---- start ------------------------------------------------------------------------- */

void sb_call_start(sb_call_t *c)
{
  c->requested_model = c->embeddings ? c->ereq.model : c->req.model;
  c->stream = !c->embeddings && c->req.stream;
  if (c->requested_model.len == 0) {
    sb_call_fail(c, 400, "invalid_request", "'model' is required");
    return;
  }
  sb_attempt_plan_and_start(c);
}
