/* SPDX-License-Identifier: MIT */
/*
 * A call's attempts (docs/routing.md): the endpoints to try (the model's
 * providers, OpenRouter's `models` fallbacks, escalation rungs, within the
 * caller's allow-list and provider preferences), one upstream transfer at a
 * time, retries with backoff, key rotation, circuit breakers, and the
 * transfer's callbacks feeding the provider's format.
 */
#include "call.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "switchboard/health.h"
#include "switchboard/keys.h"
#include "switchboard/log.h"
#include "switchboard/ops.h"

static void timer_free_cb(uv_handle_t *h)
{
  free(h);
}

void sb_attempt_drop_upstream(sb_call_t *c)
{
  sb_call_wait_end(c);
  if (c->up != NULL) {
    sb_upstream_cancel(c->up);
    c->up = NULL;
  }
}

void sb_attempt_cleanup(sb_call_t *c)
{
  if (c->plan != NULL) {
    if (c->plan->timer != NULL) {
      uv_timer_stop(c->plan->timer);
      c->plan->timer->data = NULL;
      uv_close((uv_handle_t *)c->plan->timer, timer_free_cb);
      c->plan->timer = NULL;
    }
    sb_buf_free(&c->plan->held);
  }
  sb_attempt_drop_upstream(c);
}

static int64_t now_wall(void)
{
  return sb_wall_ms();
}

static void copy_z(char *dst, size_t cap, sb_slice_t s)
{
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  if (n > 0)
    memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

/* ---- the upstream transfer's callbacks -------------------------------------------- */

static void on_head(sb_upstream_t *u, void *data, const sb_upstream_head_t *h)
{
  sb_call_t *c = data;
  (void)u;
  c->up_status = h->status;
  c->up_head_seen = true;
  copy_z(c->retry_after, sizeof(c->retry_after), h->retry_after);
  c->up_sse = c->stream && h->status >= 200 && h->status < 300 &&
              sb_slice_case_eq(sb_slice(h->content_type.ptr,
                                        SB_MIN(h->content_type.len, 17)),
                               SB_SLICE_LIT("text/event-stream"));
}

static sb_status_t on_event(void *data, const sb_sse_event_t *ev)
{
  sb_call_t *c = data;
  sb_arena_reset(&c->scratch);
  sb_status_t rc = c->codec->provider->event(&c->an, ev);
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
  if (!c->up_sse)
    return sb_buf_append(&c->up_resp, p, n) == SB_OK ? SB_OK : SB_ERROR;
  if (c->saw_done)
    return SB_OK; /* nothing after the end marker matters */
  /* Backpressure: take nothing while the client is behind; these bytes
   * come again once it has drained (on_drain resumes the transfer). */
  if (c->committed &&
      sb_http_pending_bytes(c->x) > c->worker->http.write_high_water)
    return SB_AGAIN;
  sb_status_t rc = sb_sse_feed(&c->sse, p, n, on_event, c);
  if (rc == SB_DONE)
    return end_at_done(c);
  if (rc == SB_ERROR && !c->stream_failed)
    sb_call_stream_error(c, 502,
                         SB_SLICE_LIT("the provider's stream is malformed"));
  if (c->x->aborted)
    return SB_ERROR;
  return rc == SB_OK ? SB_OK : SB_ERROR;
}

static sb_status_t on_data(sb_upstream_t *u, void *data, const char *p,
                           size_t n)
{
  sb_call_t *c = data;
  (void)u;
  sb_call_wait_end(c);
  sb_status_t rc = take_data(c, p, n);
  if (rc == SB_DONE)
    return SB_OK; /* the call ended; the transfer drops the rest */
  /* back to waiting: for more bytes, or for the client when paused */
  sb_call_wait_begin(c);
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

/* An upstream HTTP error as the client sees it. */
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
    c->codec->provider->error_info(&c->scratch, e->provider_body, &msg, &code);
  const char *text = sb_arena_printf(
      c->arena, "provider %s returned %ld%s%.*s", c->route.provider->name, s,
      msg.len > 0 ? ": " : "", (int)SB_MIN(msg.len, 1000),
      msg.ptr ? msg.ptr : "");
  e->message = sb_slice_z(text != NULL ? text : "provider error");
}

/* A whole 2xx body: the format's events, then the end (or an error). */
static void take_body(sb_call_t *c)
{
  sb_slice_t body = sb_buf_slice(&c->up_resp);
  if (c->embeddings) {
    const char *why = "the provider's embeddings response is not valid";
    sb_hub_embeddings_t v;
    sb_slice_t native = SB_NULL_SLICE;
    memset(&v, 0, sizeof(v));
    if (c->codec->embed_provider->response(&c->ereq, body, c->passthrough,
                                           c->arena, &v, &native,
                                           &why) != SB_OK) {
      sb_call_fail(c, 502, "provider_unavailable", why);
      return;
    }
    c->usage = v.usage;
    c->usage_known = v.has_usage;
    c->usage_json = v.usage_json;
    c->usage.completion = 0;
    if (!c->usage_known && c->usage.prompt == 0) /* marked estimated */
      c->usage.prompt = sb_usage_estimate(c->req_raw.len);
    sb_record_cost(c);
    sb_buf_reset(&c->out);
    if (c->door->embed_door->encode(&c->ereq, &c->names, &v, native,
                                    &c->usage, sb_record_cost_text(c),
                                    c->arena, &c->out) != SB_OK) {
      sb_call_fail(c, 502, "provider_unavailable",
                   "the provider's embeddings response is too large");
      return;
    }
    c->finished = true;
    sb_attempt_health_success(c);
    sb_record(c, 200, NULL);
    if (sb_record_defer(c, sb_buf_slice(&c->out)))
      return;
    sb_http_header_t h = {SB_SLICE_LIT("X-Generation-Id"), sb_slice_z(c->id)};
    sb_http_respond(c->x, 200, &h, 1, "application/json",
                    sb_buf_slice(&c->out));
    return;
  }
  if (c->codec->provider->response(&c->an, body) != SB_OK) {
    sb_call_error_t e;
    memset(&e, 0, sizeof(e));
    e.status = c->stream_error_code > 0 ? c->stream_error_code : 502;
    e.type = "provider_unavailable";
    e.message = sb_slice_z(c->stream_error);
    e.upstream_status = c->up_status;
    c->stream_failed = false;
    sb_call_fail_with(c, &e);
    return;
  }
  sb_call_respond(c);
}

static void on_done(sb_upstream_t *u, void *data,
                    const sb_upstream_outcome_t *o)
{
  sb_call_t *c = data;
  sb_call_error_t e;
  (void)u;
  c->up = NULL;
  sb_call_wait_end(c);
  if (c->finished)
    return;
  if (c->x->aborted) {
    sb_call_finish_cancelled(c);
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
      if (sb_escalate_climb_empty(c))
        return;
      if (sb_escalate_flush(c) != SB_OK) {
        sb_call_finish_cancelled(c);
        return;
      }
    }
    if (c->stream_failed && !c->committed) {
      /* Nothing reached the client yet: a plain error response. */
      memset(&e, 0, sizeof(e));
      e.status = c->stream_error_code;
      e.type = e.status == 408 ? "timeout" : "provider_unavailable";
      e.message = sb_slice_z(c->stream_error);
      sb_call_fail_with(c, &e);
      return;
    }
    sb_call_finish_stream(c);
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
    sb_call_fail_with(c, &e);
    return;
  }
  if (c->up_status < 200 || c->up_status >= 300) {
    http_error(c, &e);
    sb_call_fail_with(c, &e);
    return;
  }
  if (c->stream) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider answered a streaming request without a stream");
    return;
  }
  /* Ends in the call's end or failure: `c` is gone after this. */
  take_body(c);
}

static const sb_upstream_callbacks_t upstream_cbs = {
    .on_head = on_head,
    .on_data = on_data,
    .on_done = on_done,
};

/* ---- retries and fallbacks ---------------------------------------------------------- */

void sb_attempt_health_success(sb_call_t *c)
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
  sb_call_wait_end(c);
  sb_attempt_start(c);
}

bool sb_attempt_schedule(sb_call_t *c, uint32_t delay_ms)
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
  sb_call_wait_begin(c);
  return true;
}

bool sb_attempt_failed(sb_call_t *c, const sb_call_error_t *e)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->in_attempt || c->committed || c->x->aborted)
    return false;
  pl->in_attempt = false;
  sb_attempt_drop_upstream(c);
  sb_call_trace_attempt_end(c, e->upstream_status, e->type);
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
      sb_metrics_note_failover(sb_ops_metrics(c->gw->ops), c->worker->id,
                               sb_slice_z(p->name), false);
      if (sb_attempt_schedule(c, d))
        return true;
    }
  }
  if (in_budget && pl->cur + 1 < pl->n) {
    sb_metrics_note_failover(sb_ops_metrics(c->gw->ops), c->worker->id,
                             sb_slice_z(p->name), true);
    pl->cur++;
    pl->retries = 0;
    SB_DEBUG("call %s: falling back to %s", c->id,
             pl->cands[pl->cur].route.provider->name);
    if (sb_attempt_schedule(c, 0))
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

/* ---- one attempt ----------------------------------------------------------------------- */

/* The authentication header's value for the provider's key `i`. */
static const char *auth_value(sb_call_t *c, const sb_provider_t *p, size_t i)
{
  return sb_arena_join(c->arena, p->auth_prefix != NULL ? p->auth_prefix : "",
                       p->keys[i]);
}

static void up_header(sb_call_t *c, const char *name, const char *value)
{
  if (name != NULL && value != NULL &&
      c->n_up_headers < SB_ARRAY_LEN(c->up_headers)) {
    c->up_headers[c->n_up_headers].name = name;
    c->up_headers[c->n_up_headers].value = value;
    c->n_up_headers++;
  }
}

/* The format's headers, then authentication with the attempt's key (one
 * of the provider's, rotated, set aside when refused) and the provider's
 * configured headers. */
static void headers(sb_call_t *c, const sb_codec_request_t *r)
{
  sb_plan_t *pl = c->plan;
  const sb_provider_t *p = c->route.provider;
  c->n_up_headers = 0;
  for (size_t i = 0; i < r->n_headers; i++)
    up_header(c, r->headers[i].name, r->headers[i].value);
  pl->key = sb_health_pick_key(c->gw->health, p, now_wall());
  if (p->n_keys > 0 && p->auth_header != NULL) {
    size_t k = pl->key >= 0 && (size_t)pl->key < p->n_keys
                   ? (size_t)pl->key
                   : (p->n_keys == 1 ? 0
                                     : sb_worker_rand(c->worker) % p->n_keys);
    up_header(c, p->auth_header, auth_value(c, p, k));
  }
  for (size_t i = 0; i < p->n_headers; i++) {
    /* the provider's configuration wins over the format's defaults */
    for (size_t k = 0; k < c->n_up_headers; k++)
      if (strcasecmp(c->up_headers[k].name, p->headers[i].name) == 0)
        c->up_headers[k].name = NULL;
    up_header(c, p->headers[i].name, p->headers[i].value);
  }
  /* drop the ones overridden */
  size_t n = 0;
  for (size_t i = 0; i < c->n_up_headers; i++)
    if (c->up_headers[i].name != NULL)
      c->up_headers[n++] = c->up_headers[i];
  c->n_up_headers = n;
}

/* The names the answer carries, and the route as the format sees it. */
static sb_status_t route_view(sb_call_t *c)
{
  const sb_route_t *r = &c->route;
  sb_answer_names_t *n = &c->names;
  if (sb_hub_quote(c->arena, r->model_id.ptr, r->model_id.len, &n->model) !=
          SB_OK ||
      sb_hub_quote(c->arena, r->provider->display_name,
                   strlen(r->provider->display_name), &n->provider) != SB_OK)
    return SB_ERROR;
  sb_codec_route_t *cr = &c->croute;
  bool no_fallbacks = cr->no_fallbacks;
  memset(cr, 0, sizeof(*cr));
  cr->provider = r->provider;
  cr->upstream_model = r->upstream_model;
  cr->model_id = r->model_id;
  cr->no_fallbacks = no_fallbacks;
  cr->reasons = -1;
  if (r->model != NULL) {
    const sb_json_t *tp = sb_json_get(r->model->json, "top_provider");
    int64_t v;
    if (sb_json_int64(sb_json_get(tp, "max_completion_tokens"), &v) == SB_OK &&
        v > 0)
      cr->max_output = v;
    cr->reasons = sb_model_reasons(r->model) ? 1 : 0;
  }
  return SB_OK;
}

void sb_attempt_start(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  if (c->finished)
    return;
  if (pl->attempts > 0) {
    sb_buf_reset(&c->up_body);
    sb_buf_reset(&c->up_resp);
    sb_sse_reset(&c->sse);
    sb_arena_reset(&c->scratch);
    c->up_status = 0;
    c->up_sse = false;
    c->up_head_seen = false;
    c->retry_after[0] = '\0';
    c->codec_error = NULL;
  }
  choose_candidate(c);
  pl->attempts++;
  pl->in_attempt = true;
  pl->att_start_ns = sb_now_ns();
  pl->att_first_ns = 0;
  c->route = pl->cands[pl->cur].route;
  c->codec = sb_codec_find(c->route.provider->format);
  /* a provider may speak the door's format beside its own (OpenAI's
   * Responses API): then that format carries the call, untranslated */
  if (c->door->spoken_by != NULL && c->door->spoken_by(c->route.provider))
    c->codec = c->door;
  c->passthrough = strcmp(c->codec->name, c->door->name) == 0;
  if (pl->escalate) {
    sb_escalate_head(c); /* a stream's head goes with the first chunk */
    pl->holding = c->stream && (pl->esc_on & SB_CLIMB_EMPTY) != 0 &&
                  sb_escalate_next_rung(pl) < pl->n;
    sb_buf_reset(&pl->held);
  }
  if (route_view(c) != SB_OK) {
    pl->in_attempt = false;
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  sb_call_answer_reset(c);
  char why[400] = "";
  /* A provider of another format needs the whole request decoded (once). */
  if (!c->embeddings && !c->passthrough && !c->req.decoded) {
    sb_status_t rc = c->door->door->decode(&c->req, c->arena, why,
                                           sizeof(why));
    if (rc != SB_OK) {
      pl->in_attempt = false;
      sb_call_fail(c, rc == SB_DECLINED ? 400 : 500,
                   rc == SB_DECLINED ? "invalid_request" : "server",
                   rc == SB_DECLINED ? why : "out of memory");
      return;
    }
  }
  sb_codec_request_t r;
  memset(&r, 0, sizeof(r));
  r.body = &c->up_body;
  sb_status_t rc;
  if (c->embeddings)
    rc = c->codec->embed_provider->request(&c->ereq, &c->croute,
                                           c->passthrough, c->arena, &r);
  else
    rc = c->codec->provider->request(&c->req, &c->croute, c->passthrough,
                                     c->arena, &r);
  if (rc == SB_DECLINED) {
    sb_call_fail(c, 413, "payload_too_large",
                 "the request is too large for the provider");
    return;
  }
  if (rc != SB_OK) {
    sb_call_fail(c, 400, "invalid_request",
                 r.error != NULL
                     ? r.error
                     : "the request could not be translated for the provider");
    return;
  }
  headers(c, &r);
  up_header(c, "traceparent", sb_call_trace_attempt(c));
  sb_upstream_request_t ur;
  memset(&ur, 0, sizeof(ur));
  ur.url = r.url;
  ur.body = sb_buf_slice(&c->up_body);
  ur.headers = c->up_headers;
  ur.n_headers = c->n_up_headers;
  ur.timeouts = c->route.provider->timeouts;
  ur.tls = &c->route.provider->tls;
  ur.proxy = c->route.provider->proxy;
  /* A request may only shorten its provider's timeouts; the total is what
   * is left of the request's own. */
  if (pl->req_first_ms > 0 && (ur.timeouts.first_byte_ms == 0 ||
                               pl->req_first_ms < ur.timeouts.first_byte_ms))
    ur.timeouts.first_byte_ms = pl->req_first_ms;
  if (pl->req_idle_ms > 0 &&
      (ur.timeouts.idle_ms == 0 || pl->req_idle_ms < ur.timeouts.idle_ms))
    ur.timeouts.idle_ms = pl->req_idle_ms;
  if (pl->req_total_ms > 0) {
    uint64_t spent = (pl->att_start_ns - c->t_start) / 1000000u;
    uint32_t left = spent < pl->req_total_ms
                        ? (uint32_t)(pl->req_total_ms - spent)
                        : 1;
    if (ur.timeouts.total_ms == 0 || left < ur.timeouts.total_ms)
      ur.timeouts.total_ms = left;
  }
  c->up = sb_upstream_start(c->worker->upstream, &ur, &upstream_cbs, c);
  if (c->up == NULL)
    sb_call_fail(c, 502, "provider_unavailable",
                 "the upstream request could not be started");
  else
    sb_call_wait_begin(c);
}

/* ---- the plan ---------------------------------------------------------------------------- */

/* The router id. Its ladder is the request's `models`, else the calling
 * key's default escalation.ladder, else the config's; its conditions are
 * the key's escalation.on when the key has an escalation, else the
 * config's. */
#define AUTO_MODEL "switchboard/auto"

/* The model ids to try: `model` then `models` (OpenRouter's fallbacks),
 * without repeats, routing suffixes stripped into the preferences. */
static size_t model_ids(sb_call_t *c, sb_plan_t *pl, sb_prefs_t *prefs,
                        sb_slice_t *ids, const char **err)
{
  size_t n = 0;
  sb_slice_t m = c->requested_model;
  sb_prefs_suffix(&m, prefs);
  bool autom = SB_SLICE_IS(m, AUTO_MODEL);
  if (autom)
    pl->escalate = true;
  else
    ids[n++] = m;
  const sb_json_t *list = c->embeddings ? NULL : c->req.models;
  const sb_config_t *cfg = sb_gateway_config(c->x);
  pl->esc_on = cfg->escalation_on;
  if (autom && c->x->principal != NULL) {
    const sb_json_t *key_ladder = NULL;
    uint32_t key_on;
    if (sb_key_escalation(c->x->principal, c->arena, &key_ladder, &key_on) ==
        SB_OK) {
      pl->esc_on = key_on;
      if (list == NULL || list->type == SB_JSON_NULL)
        list = key_ladder;
    }
  }
  if (autom && (list == NULL || list->type == SB_JSON_NULL))
    list = cfg->escalation_ladder;
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

/* A client key with a model allow-list may use only the candidates whose
 * model it names: the others (fallbacks from `models`, escalation rungs,
 * a primary the key may not use) are dropped before anything is tried, so
 * they never go upstream nor count as failures. When none is left the
 * first stays, and admission refuses it with the key's 403 as it would
 * refuse a lone primary. A restricted key's provider must not fall back
 * to other models by itself either: `models` is not forwarded. */
static void keep_allowed_models(sb_call_t *c, sb_plan_t *pl)
{
  sb_key_t *k = c->x->principal;
  bool restricted = false;
  if (k == NULL || pl->n == 0)
    return;
  size_t kept = 0;
  for (size_t i = 0; i < pl->n; i++) {
    if (sb_key_allows_model(k, pl->cands[i].route.model_id, &restricted))
      pl->cands[kept++] = pl->cands[i];
    if (!restricted)
      return; /* no allow-list: every candidate stays */
  }
  pl->n = kept > 0 ? kept : 1;
  c->croute.no_fallbacks = true;
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

static void no_route(sb_call_t *c, sb_route_status_t why,
                     const sb_prefs_t *prefs)
{
  char msg[512];
  int ml = (int)SB_MIN(c->requested_model.len, 200);
  const char *mp = c->requested_model.ptr;
  switch (why) {
  case SB_ROUTE_OK:
  case SB_ROUTE_UNKNOWN_MODEL:
    snprintf(msg, sizeof(msg),
             "model '%.*s' is not in the catalog and its prefix names no "
             "configured provider",
             ml, mp);
    sb_call_fail(c, 404, "not_found", msg);
    return;
  case SB_ROUTE_NO_PROVIDER: {
    bool limited = prefs->n_only + prefs->n_ignore > 0 ||
                   prefs->has_max_prompt || prefs->has_max_completion ||
                   prefs->require_parameters;
    snprintf(msg, sizeof(msg),
             "no configured provider serves model '%.*s'%s; configure one of "
             "its providers (see GET /api/v1/models)",
             ml, mp,
             limited ? " within the request's provider preferences" : "");
    sb_call_fail(c, prefs->n_only + prefs->n_ignore > 0 ? 404 : 503,
                 prefs->n_only + prefs->n_ignore > 0 ? "not_found"
                                                     : "provider_unavailable",
                 msg);
    return;
  }
  case SB_ROUTE_UNSUPPORTED:
    snprintf(msg, sizeof(msg),
             "model '%.*s' is served only by providers whose API format this "
             "build does not speak yet",
             ml, mp);
    sb_call_fail(c, 503, "provider_unavailable", msg);
    return;
  }
}

/* Endpoints whose format cannot take this call (embeddings from a format
 * without them) are not candidates. */
static void keep_capable(sb_call_t *c, sb_plan_t *pl)
{
  size_t k = 0;
  for (size_t i = 0; i < pl->n; i++) {
    const sb_codec_t *f = sb_codec_find(pl->cands[i].route.provider->format);
    bool ok = f != NULL && (c->embeddings ? f->embed_provider != NULL
                                          : f->provider != NULL);
    if (ok)
      pl->cands[k++] = pl->cands[i];
  }
  pl->n = k;
}

void sb_attempt_plan_and_start(sb_call_t *c)
{
  sb_plan_t *pl = sb_arena_calloc(c->arena, sizeof(*pl));
  if (pl != NULL) /* filled by the routing plan, never read past n */
    pl->cands = sb_arena_alloc(c->arena, SB_PLAN_MAX * sizeof(*pl->cands));
  if (pl == NULL || pl->cands == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  const sb_http_request_t *hr = &c->x->req;
  if (header_ms(c, SB_HTTP_HEADER(hr, "x-switchboard-timeout-ms"),
                "X-Switchboard-Timeout-Ms", &pl->req_total_ms) != SB_OK ||
      header_ms(c, SB_HTTP_HEADER(hr, "x-switchboard-first-token-timeout-ms"),
                "X-Switchboard-First-Token-Timeout-Ms",
                &pl->req_first_ms) != SB_OK ||
      header_ms(c, SB_HTTP_HEADER(hr, "x-switchboard-idle-timeout-ms"),
                "X-Switchboard-Idle-Timeout-Ms", &pl->req_idle_ms) != SB_OK)
    return;
  sb_prefs_t prefs;
  const char *perr = NULL;
  if (sb_prefs_parse(c->embeddings ? NULL : c->req.provider, &prefs, &perr) !=
      SB_OK) {
    sb_call_fail(c, 400, "invalid_request", perr);
    return;
  }
  sb_slice_t ids[SB_MODELS_MAX];
  size_t n_ids = model_ids(c, pl, &prefs, ids, &perr);
  if (n_ids == 0) {
    sb_call_fail(c, 400, "invalid_request", perr);
    return;
  }
  /* From here on the call frees `held` with the plan; before, a failure
   * may free the call (and `pl` with its arena) at once. */
  sb_buf_init(&pl->held, 16u << 20);
  c->plan = pl;
  const sb_json_t *openai_req =
      !c->embeddings && strcmp(c->door->name, "openai") == 0 ? c->req.native
                                                             : NULL;
  sb_route_status_t why;
  pl->n = sb_route_plan(c->gw, sb_gateway_catalog(c->x), ids, n_ids, &prefs,
                        openai_req, now_wall(),
                        pl->cands, SB_PLAN_MAX, &why);
  keep_capable(c, pl);
  if (pl->n == 0 && sb_gateway_config(c->x)->n_providers == 0) {
    c->plan = NULL;
    sb_buf_free(&pl->held);
    sb_call_fail(c, 503, "provider_unavailable", SB_NO_PROVIDER_HINT);
    return;
  }
  if (pl->n == 0) {
    c->plan = NULL; /* no attempt: failures are the call's */
    sb_buf_free(&pl->held);
    no_route(c, why, &prefs);
    return;
  }
  keep_allowed_models(c, pl);
  /* Admission reserves the worst case over every endpoint the call may
   * end up using; settlement bills the one that answered. */
  c->route = pl->cands[0].route;
  for (size_t i = 1; i < pl->n; i++) {
    const sb_price_t *q = &pl->cands[i].route.price;
    sb_price_t *m = &c->route.price;
    m->prompt = SB_MAX(m->prompt, q->prompt);
    m->completion = SB_MAX(m->completion, q->completion);
    m->request = SB_MAX(m->request, q->request);
    m->unknown = m->unknown || q->unknown;
    if (q->has_reasoning) {
      m->reasoning = SB_MAX(m->reasoning, q->reasoning);
      m->has_reasoning = true;
    }
  }
  /* Admission failures are the call's, not an attempt's. A refusal may
   * end the call (and free it) at once: nothing is held yet, so the plan
   * is simply not handed back. */
  c->plan = NULL;
  c->admit_plan = pl;
  if (sb_admit(c) == SB_OK)
    sb_attempt_admitted(c);
}

void sb_attempt_admitted(sb_call_t *c)
{
  sb_plan_t *pl = c->admit_plan;
  c->admit_plan = NULL;
  c->plan = pl;
  pl->key = -1;
  uint32_t budget = sb_gateway_config(c->x)->retry.budget_ms;
  if (pl->req_total_ms > 0 && (budget == 0 || pl->req_total_ms < budget))
    budget = pl->req_total_ms;
  pl->deadline_ns = budget > 0 ? c->t_start + (uint64_t)budget * 1000000u : 0;
  char created[24];
  size_t cl = sb_u64_dec(created, (uint64_t)c->created);
  if (sb_hub_quote(c->arena, c->id, strlen(c->id), &c->names.id) != SB_OK)
    c->names.id = SB_NULL_SLICE;
  c->names.created = sb_arena_slice_dup(c->arena, sb_slice(created, cl));
  c->names.created_s = c->created;
  if (c->names.id.ptr == NULL || c->names.created.ptr == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  sb_attempt_start(c);
}
