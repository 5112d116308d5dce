/* SPDX-License-Identifier: MIT */
/*
 * A call's trace context: the ids of its span and of each upstream
 * attempt's, the traceparent each attempt sends upstream, and the spans
 * a sampled call hands to its access record (docs/observability.md,
 * "Traces").
 *
 * With tracing on (otel.endpoint), the call is a span of its own: a child
 * of the client's when it sent a traceparent (whose sampled flag then
 * decides, as the parent's sampler did), else the root of a new trace
 * sampled at otel.sample; each attempt is a child span, and the provider
 * gets the attempt's id as its parent. With tracing off, a client's
 * traceparent is passed upstream as it came, and no id is made.
 */
#include "call.h"

#include "switchboard/ops.h"
#include "switchboard/trace.h"

static uint64_t next_rand(void *w) { return sb_worker_rand(w); }

void sb_call_trace_begin(sb_call_t *c)
{
  sb_call_trace_t *t = &c->trace;
  const sb_ops_t *ops = c->gw->ops;
  sb_traceparent_t tp;
  bool parent = sb_traceparent_parse(SB_HTTP_HEADER(&c->x->req, "traceparent"),
                                     &tp) == SB_OK;
  t->own = sb_ops_tracing(ops);
  if (!parent && !t->own)
    return;
  t->on = true;
  if (parent) {
    t->has_parent = true;
    memcpy(t->trace_id, tp.trace_id, 16);
    memcpy(t->parent_span_id, tp.span_id, 8);
    memcpy(t->span_id, tp.span_id, 8);
    t->flags = tp.flags;
  } else {
    sb_trace_random_id(t->trace_id, 16, next_rand, c->worker);
    t->flags = sb_trace_sample(sb_ops_sample(ops), sb_worker_rand(c->worker))
                   ? SB_TRACE_FLAG_SAMPLED
                   : 0;
  }
  if (!t->own)
    return;
  sb_trace_random_id(t->span_id, 8, next_rand, c->worker);
  if ((t->flags & SB_TRACE_FLAG_SAMPLED) == 0)
    return;
  t->tries = sb_arena_calloc(c->arena, SB_ACCESS_MAX_SPANS * sizeof(*t->tries));
  t->exported = t->tries != NULL;
}

/* The last attempt noted, if it has not ended. */
static sb_call_try_t *open_try(const sb_call_t *c)
{
  const sb_call_trace_t *t = &c->trace;
  if (t->tries == NULL || t->n_tries == 0 ||
      t->tries[t->n_tries - 1].end_ns != 0)
    return NULL;
  return &t->tries[t->n_tries - 1];
}

const char *sb_call_trace_attempt(sb_call_t *c)
{
  sb_call_trace_t *t = &c->trace;
  char *header;
  if (!t->on)
    return NULL;
  if (!t->own) {
    /* pass the client's context on as it came */
    header = sb_arena_alloc(c->arena, SB_TRACEPARENT_LEN + 1);
    if (header != NULL)
      sb_traceparent_format(t->trace_id, t->span_id, t->flags, header);
    return header;
  }
  uint8_t span[8];
  sb_trace_random_id(span, 8, next_rand, c->worker);
  if (t->tries != NULL && t->n_tries < SB_ACCESS_MAX_SPANS) {
    sb_call_try_t *r = &t->tries[t->n_tries++];
    memset(r, 0, sizeof(*r));
    memcpy(r->span_id, span, 8);
    r->provider = c->route.provider;
    r->model = c->route.upstream_model;
    r->start_ns = c->plan != NULL ? c->plan->att_start_ns : sb_now_ns();
  }
  header = sb_arena_alloc(c->arena, SB_TRACEPARENT_LEN + 1);
  if (header != NULL)
    sb_traceparent_format(t->trace_id, span, t->flags, header);
  return header;
}

static void end_try(const sb_call_t *c, sb_call_try_t *r, uint64_t now,
                    long status, const char *type)
{
  r->end_ns = now;
  r->status = (int)status;
  r->error_type = type;
  if (c->plan != NULL && c->plan->att_first_ns >= r->start_ns)
    r->first_ns = c->plan->att_first_ns;
}

void sb_call_trace_attempt_end(sb_call_t *c, long status, const char *type)
{
  sb_call_try_t *r = open_try(c);
  if (r != NULL)
    end_try(c, r, sb_now_ns(), status, type);
}

/* "host[:port]" of a base URL. */
static sb_slice_t host_of(const char *url)
{
  if (url == NULL)
    return SB_NULL_SLICE;
  const char *p = strstr(url, "://");
  p = p != NULL ? p + 3 : url;
  size_t n = strcspn(p, "/?#");
  const char *at = memchr(p, '@', n); /* credentials in a URL: not shown */
  if (at != NULL) {
    n -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  return sb_slice(p, n);
}

void sb_call_trace_describe(const sb_call_t *c, sb_access_t *a)
{
  const sb_call_trace_t *t = &c->trace;
  if (!t->on)
    return;
  memcpy(a->trace_id, t->trace_id, 16);
  memcpy(a->span_id, t->span_id, 8);
  memcpy(a->parent_span_id, t->parent_span_id, 8);
  a->has_parent = t->has_parent;
  a->traced = t->exported;
  if (!t->exported)
    return;
  /* the answering attempt ends with the request (the record's clock) */
  sb_call_try_t *last = open_try(c);
  if (last != NULL)
    end_try(c, last, c->t_start + a->latency_ns, c->up_status,
            c->stream_failed ? c->x->error_type : NULL);
  uint64_t t0 = c->t_start;
  for (size_t i = 0; i < t->n_tries; i++) {
    const sb_call_try_t *r = &t->tries[i];
    sb_access_attempt_t *s = &a->spans[a->n_spans++];
    memcpy(s->span_id, r->span_id, 8);
    s->start_ns = r->start_ns - t0;
    s->end_ns = r->end_ns - t0;
    s->first_byte_ns = r->first_ns != 0 ? r->first_ns - t0 : 0;
    s->status = r->status;
    if (r->provider != NULL) {
      s->provider = sb_slice_z(r->provider->name);
      s->format = sb_slice_z(r->provider->format);
      s->host = host_of(r->provider->base_url);
    }
    s->model = r->model;
    s->error_type = sb_slice_z(r->error_type);
  }
}
