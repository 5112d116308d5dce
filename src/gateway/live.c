/* SPDX-License-Identifier: MIT */
/*
 * The live request feed (GET /api/v1/admin/logs/live): each subscriber is
 * an event stream on its worker; see include/switchboard/ops.h and
 * docs/observability.md, "The live request feed".
 *
 * The operations thread appends each record that passes a subscriber's
 * filter to that subscriber's queue (under the subscriber's lock) and
 * pokes its worker with a libuv async handle; the worker moves the queue
 * into the client's connection. The queue is bounded: while the client
 * reads too slowly (its connection holds more than the write high-water
 * mark, so the worker stops moving lines), new lines are dropped and
 * counted, and the next line delivered is preceded by an `event: dropped`
 * telling how many. Requests never wait for a subscriber.
 */
#include "ops_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "switchboard/gateway.h"
#include "switchboard/log.h"

#define QUEUE_MAX (256u << 10)
#define HEARTBEAT_MS 15000

struct sb_live_sub {
  sb_live_sub_t *next; /* in ops->subs, under ops->subs_lock */
  sb_ops_t *ops;
  sb_http_exchange_t *x; /* NULL once the stream ended */
  uv_async_t async;
  uv_timer_t heartbeat;
  int open_handles;
  bool ended;
  pthread_mutex_t lock; /* queue, dropped, closing */
  sb_buf_t queue;
  sb_buf_t sending; /* the worker's: what it is writing */
  uint64_t dropped; /* lines lost since the last one queued */
  bool closing;     /* the gateway stops */
  char *door, *model, *provider, *key; /* filters; NULL: any */
  unsigned status;
};

static char *dup_filter(sb_slice_t s)
{
  if (s.len == 0)
    return NULL;
  char *d = malloc(s.len + 1);
  if (d != NULL) {
    memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
  }
  return d;
}

static void sub_free(sb_live_sub_t *s)
{
  sb_buf_free(&s->queue);
  sb_buf_free(&s->sending);
  pthread_mutex_destroy(&s->lock);
  free(s->door);
  free(s->model);
  free(s->provider);
  free(s->key);
  free(s);
}

static void handle_closed(uv_handle_t *h)
{
  sb_live_sub_t *s = h->data;
  if (--s->open_handles == 0)
    sub_free(s);
}

/* ---- the operations thread's side ------------------------------------------
 */

static bool field_matches(const char *want, sb_slice_t v)
{
  return want == NULL || sb_slice_eq(sb_slice_z(want), v);
}

static bool matches(const sb_live_sub_t *s, const sb_access_t *a)
{
  if (s->status != 0 && (a->status < 100 || a->status > 599 ||
                         (s->status & (1u << (a->status / 100))) == 0))
    return false;
  return field_matches(s->door, a->door) && field_matches(s->model, a->model) &&
         field_matches(s->provider, a->provider) &&
         field_matches(s->key, a->key_label);
}

void sb_live_publish(sb_ops_t *ops, const sb_access_t *a, sb_slice_t json)
{
  char notice[96];
  pthread_mutex_lock(&ops->subs_lock);
  for (sb_live_sub_t *s = ops->subs; s != NULL; s = s->next) {
    if (!matches(s, a))
      continue;
    pthread_mutex_lock(&s->lock);
    size_t n = 0;
    if (s->dropped > 0)
      n = (size_t)snprintf(notice, sizeof(notice),
                           "event: dropped\ndata: {\"dropped\":%llu}\n\n",
                           (unsigned long long)s->dropped);
    bool fits = s->queue.len + n + json.len + 7 <= QUEUE_MAX;
    if (fits) {
      sb_buf_append(&s->queue, notice, n);
      sb_buf_append(&s->queue, "data: ", 6);
      sb_buf_append(&s->queue, json.ptr, json.len);
      sb_buf_append(&s->queue, "\n", 1);
      s->dropped = 0;
      atomic_fetch_add_explicit(&ops->live_lines, 1, memory_order_relaxed);
    } else {
      s->dropped++;
      atomic_fetch_add_explicit(&ops->live_dropped, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    if (fits)
      uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&ops->subs_lock);
}

void sb_live_close_all(sb_ops_t *ops)
{
  if (ops == NULL)
    return;
  pthread_mutex_lock(&ops->subs_lock);
  for (sb_live_sub_t *s = ops->subs; s != NULL; s = s->next) {
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_mutex_unlock(&s->lock);
    uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&ops->subs_lock);
}

/* ---- the worker's side
 * -------------------------------------------------------- */

static void unregister(sb_live_sub_t *s)
{
  sb_ops_t *ops = s->ops;
  pthread_mutex_lock(&ops->subs_lock);
  for (sb_live_sub_t **p = &ops->subs; *p != NULL; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      atomic_fetch_sub(&ops->n_subs, 1);
      break;
    }
  pthread_mutex_unlock(&ops->subs_lock);
}

/* The stream ends (client gone, or the gateway stops). After unregister
 * the operations thread no longer touches `s`; its handles close, and the
 * last close frees it. */
static void end(sb_live_sub_t *s)
{
  if (s->ended)
    return;
  s->ended = true;
  unregister(s);
  uv_timer_stop(&s->heartbeat);
  uv_close((uv_handle_t *)&s->async, handle_closed);
  uv_close((uv_handle_t *)&s->heartbeat, handle_closed);
  sb_http_exchange_t *x = s->x;
  s->x = NULL;
  x->data = NULL;
  sb_http_stream_end(x);
}

/* Move what the queue holds into the connection, unless the client is
 * behind (then the queue fills and drops until it catches up). */
static void flush(sb_live_sub_t *s)
{
  if (s->ended)
    return;
  sb_http_exchange_t *x = s->x;
  pthread_mutex_lock(&s->lock);
  bool closing = s->closing;
  bool behind = sb_http_pending_bytes(x) > x->worker->http.write_high_water;
  if (!closing && !behind && s->queue.len > 0) {
    sb_buf_t t = s->sending;
    s->sending = s->queue;
    s->queue = t;
  }
  pthread_mutex_unlock(&s->lock);
  if (closing) {
    end(s);
    return;
  }
  if (s->sending.len == 0)
    return;
  sb_slice_t part = sb_buf_slice(&s->sending);
  sb_status_t rc = sb_http_stream_write(x, &part, 1);
  sb_buf_reset(&s->sending);
  if (rc == SB_ERROR)
    end(s);
}

static void async_cb(uv_async_t *h) { flush(h->data); }

static void heartbeat_cb(uv_timer_t *t)
{
  sb_live_sub_t *s = t->data;
  if (s->ended || sb_http_pending_bytes(s->x) > 0)
    return;
  /* a comment line: keeps proxies from closing an idle stream, and finds
   * a client that went away */
  sb_slice_t ping = SB_SLICE_LIT(": keep-alive\n\n");
  if (sb_http_stream_write(s->x, &ping, 1) == SB_ERROR)
    end(s);
}

static void on_abort(sb_http_exchange_t *x)
{
  if (x->data != NULL)
    end(x->data);
}

static void on_drain(sb_http_exchange_t *x)
{
  if (x->data != NULL)
    flush(x->data);
}

void sb_live_start(sb_http_exchange_t *x, const sb_live_filter_t *f)
{
  sb_worker_t *w = x->worker;
  sb_ops_t *ops = w->gw->ops;
  sb_live_sub_t *s = ops != NULL ? calloc(1, sizeof(*s)) : NULL;
  if (s == NULL) {
    sb_http_respond(x, 503, NULL, 0, "application/json",
                    SB_SLICE_LIT("{\"error\":{\"code\":503,\"message\":"
                                 "\"the live request feed is unavailable\"}}"));
    return;
  }
  s->ops = ops;
  s->x = x;
  s->status = f->status;
  s->door = dup_filter(f->door);
  s->model = dup_filter(f->model);
  s->provider = dup_filter(f->provider);
  s->key = dup_filter(f->key);
  pthread_mutex_init(&s->lock, NULL);
  sb_buf_init(&s->queue, QUEUE_MAX);
  sb_buf_init(&s->sending, QUEUE_MAX);
  sb_http_header_t h[] = {
      {SB_SLICE_LIT("Cache-Control"), SB_SLICE_LIT("no-cache")},
      {SB_SLICE_LIT("X-Accel-Buffering"), SB_SLICE_LIT("no")},
  };
  if (sb_http_stream_begin(x, 200, "text/event-stream", h, 2) != SB_OK) {
    sub_free(s);
    sb_http_stream_end(x);
    return;
  }
  uv_async_init(&w->loop, &s->async, async_cb);
  uv_timer_init(&w->loop, &s->heartbeat);
  s->async.data = s;
  s->heartbeat.data = s;
  s->open_handles = 2;
  x->data = s;
  x->on_abort = on_abort;
  x->on_drain = on_drain;
  pthread_mutex_lock(&ops->subs_lock);
  s->next = ops->subs;
  ops->subs = s;
  atomic_fetch_add(&ops->n_subs, 1);
  pthread_mutex_unlock(&ops->subs_lock);
  uv_timer_start(&s->heartbeat, heartbeat_cb, HEARTBEAT_MS, HEARTBEAT_MS);
  /* the stream's first bytes: the client knows it is connected */
  sb_slice_t hello = SB_SLICE_LIT(": switchboard live request log\n\n");
  if (sb_http_stream_write(x, &hello, 1) == SB_ERROR)
    end(s);
}
