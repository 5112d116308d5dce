/* SPDX-License-Identifier: MIT */
/*
 * The upstream client's public API (include/switchboard/upstream.h) and
 * what its two transports share: delivering the head and the body to the
 * caller, the per-transfer timer, the end of a transfer.
 *
 * Which transport: `http://` and `https://` URLs without a proxy go to the
 * native HTTP/1.1 client (h1.c, TLS in tls.c), everything else to libcurl
 * (curl.c): a provider's `proxy`, a proxy in the environment for that
 * scheme, odd URLs. SWITCHBOARD_UPSTREAM_CLIENT=curl sends everything to
 * curl.
 *
 * The timer: first byte and idle for both transports (curl has no such
 * notion); for the native one also connect and total (curl does its own),
 * and a 0 ms "deferred step" (kick) so that nothing reaches a caller from
 * inside sb_upstream_start() or sb_upstream_resume(), where the caller does
 * not expect on_done.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard/log.h"
#include "switchboard/clock.h"
#include "upstream/internal.h"

/* ---- delivery ------------------------------------------------------------ */

void sb_up_deliver_head(sb_upstream_t *u, long status, const char *ct,
                        const char *ra)
{
  u->head_done = true;
  u->status = status;
  if (u->cb->on_head == NULL)
    return;
  sb_upstream_head_t h;
  h.status = status;
  h.content_type = sb_slice_z(ct);
  h.retry_after = sb_slice_z(ra);
  u->in_callback = true;
  u->cb->on_head(u, u->data, &h);
  u->in_callback = false;
}

sb_status_t sb_up_deliver_data(sb_upstream_t *u, const char *p, size_t n)
{
  if (u->first_byte_ns == 0)
    u->first_byte_ns = sb_now_ns();
  u->in_callback = true;
  sb_status_t rc = u->cb->on_data(u, u->data, p, n);
  u->in_callback = false;
  if (u->cancelled)
    return SB_ERROR;
  if (rc == SB_AGAIN) {
    /* The same bytes come back after sb_upstream_resume(). */
    u->paused = true;
    sb_up_arm(u);
    return SB_AGAIN;
  }
  if (rc != SB_OK) {
    u->forced = SB_UP_ABORTED;
    u->forced_set = true;
    return SB_ERROR;
  }
  u->activity_ms = uv_now(u->m->loop);
  sb_up_arm(u);
  return SB_OK;
}

/* ---- timers -------------------------------------------------------------- */

static void transfer_timer_cb(uv_timer_t *t);

static uint64_t min_u64(uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* Arm the timer at the nearest deadline (or now for a deferred step).
 *
 * Lazily: every delivery moves the idle deadline later, and re-sorting the
 * loop's timer heap for each chunk of each stream costs more than the
 * chunk's own parsing once thousands of streams are open. A timer already
 * due no later than the new deadline stays as it is; when it fires early,
 * transfer_timer_cb finds nothing expired and arms it again. */
void sb_up_arm(sb_upstream_t *u)
{
  if (u->finished)
    return;
  uint64_t now = uv_now(u->m->loop);
  uint64_t due = UINT64_MAX;
  if (u->kick)
    due = now;
  uint32_t ms = u->first_byte_ns == 0 ? u->to.first_byte_ms : u->to.idle_ms;
  if (ms > 0 && !u->paused)
    due = min_u64(due, u->activity_ms + ms);
  if (u->native) {
    if (!u->connected && u->to.connect_ms > 0)
      due = min_u64(due, u->connect_from_ms + u->to.connect_ms);
    if (u->to.total_ms > 0)
      due = min_u64(due, u->start_ms + u->to.total_ms);
  }
  if (due == UINT64_MAX) {
    uv_timer_stop(&u->timer);
    u->timer_due = 0;
    return;
  }
  if (due < now)
    due = now;
  if (u->timer_due != 0 && u->timer_due <= due)
    return; /* fires first; the callback looks again */
  u->timer_due = due;
  uv_timer_start(&u->timer, transfer_timer_cb, due - now, 0);
}

static void transfer_timer_cb(uv_timer_t *t)
{
  sb_upstream_t *u = t->data;
  u->timer_due = 0; /* one-shot: no longer armed */
  if (u->kick) {
    u->kick = false;
    sb_up_h1_step(u);
    return;
  }
  uint64_t now = uv_now(u->m->loop);
  if (u->native) {
    bool total = u->to.total_ms > 0 && now >= u->start_ms + u->to.total_ms;
    if (!u->connected &&
        (total || (u->to.connect_ms > 0 &&
                   now >= u->connect_from_ms + u->to.connect_ms))) {
      sb_up_finish(u, SB_UP_TIMEOUT_CONNECT, "timed out connecting");
      return;
    }
    if (total) {
      sb_up_finish(u, SB_UP_TIMEOUT_TOTAL, "timed out (total)");
      return;
    }
  }
  uint32_t ms = u->first_byte_ns == 0 ? u->to.first_byte_ms : u->to.idle_ms;
  if (ms > 0 && !u->paused && now >= u->activity_ms + ms) {
    bool first = u->first_byte_ns == 0;
    sb_up_finish(u, first ? SB_UP_TIMEOUT_FIRST_BYTE : SB_UP_TIMEOUT_IDLE,
                 first ? "timed out waiting for the first byte"
                       : "timed out waiting for the next chunk");
    return;
  }
  sb_up_arm(u);
}

/* ---- the end of a transfer ------------------------------------------------ */

static void transfer_close_cb(uv_handle_t *h)
{
  sb_upstream_t *u = h->data;
  free(u->url);
  free(u);
}

/* Detach from the transport and free (the struct after its timer closes). */
void sb_up_release(sb_upstream_t *u)
{
  sb_upstream_multi_t *m = u->m;
  if (u->finished)
    return;
  u->finished = true;
  if (u->native)
    sb_up_h1_release(u);
  else
    sb_up_curl_release(u);
  if (u->prev != NULL)
    u->prev->next = u->next;
  else
    m->transfers = u->next;
  if (u->next != NULL)
    u->next->prev = u->prev;
  m->active--;
  uv_timer_stop(&u->timer);
  uv_close((uv_handle_t *)&u->timer, transfer_close_cb);
}

void sb_up_finish(sb_upstream_t *u, sb_upstream_result_t r, const char *why)
{
  if (u->finished)
    return;
  sb_upstream_outcome_t o;
  memset(&o, 0, sizeof(o));
  o.result = r;
  o.status = u->status;
  o.error = why;
  uint64_t now = sb_now_ns();
  o.total_ns = now - u->start_ns;
  o.first_byte_ns = u->first_byte_ns != 0 ? u->first_byte_ns - u->start_ns : 0;
  o.connect_ns = u->native ? u->connect_ns : sb_up_curl_connect_ns(u);
  bool cancelled = u->cancelled;
  const sb_upstream_callbacks_t *cb = u->cb;
  void *data = u->data;
  sb_up_release(u);
  if (!cancelled && cb->on_done != NULL)
    cb->on_done(u, data, &o);
}

/* A handle of the multi closed (h1 connections, the multi's timers): the
 * multi is freed with the last one once sb_upstream_multi_free was called. */
void sb_up_handle_closed(sb_upstream_multi_t *m)
{
  if (--m->open_handles == 0 && m->closing)
    free(m);
}

/* ---- public API ---------------------------------------------------------- */

/* Read once by sb_upstream_global_init: a scheme goes through curl when
 * SWITCHBOARD_UPSTREAM_CLIENT=curl, or when the environment names a proxy
 * that curl must apply to it. */
static bool http_via_curl, https_via_curl;

static bool env_set(const char *const *names, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const char *p = getenv(names[i]);
    if (p != NULL && p[0] != '\0')
      return true;
  }
  return false;
}

void sb_upstream_global_init(void)
{
  /* curl honours these (not HTTP_PROXY for http://: httpoxy), and no_proxy
   * with them: leave that whole logic to curl. */
  static const char *const http_proxies[] = {"http_proxy", "ALL_PROXY",
                                             "all_proxy"};
  static const char *const https_proxies[] = {"HTTPS_PROXY", "https_proxy",
                                              "ALL_PROXY", "all_proxy"};
  sb_up_curl_global_init();
  /* TLS writes go through OpenSSL's socket BIO, a plain write() that
   * raises SIGPIPE on a connection the server closed. */
  signal(SIGPIPE, SIG_IGN);
  const char *v = getenv("SWITCHBOARD_UPSTREAM_CLIENT");
  bool all_curl = v != NULL && strcmp(v, "curl") == 0;
  http_via_curl = all_curl || env_set(http_proxies, 3);
  https_via_curl = all_curl || env_set(https_proxies, 4);
}

void sb_upstream_global_cleanup(void)
{
  sb_up_curl_global_cleanup();
}

sb_upstream_multi_t *sb_upstream_multi_new(uv_loop_t *loop)
{
  sb_upstream_multi_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  m->loop = loop;
  if (!sb_up_curl_init(m)) {
    free(m);
    return NULL;
  }
  sb_up_h1_init(m);
  return m;
}

void sb_upstream_multi_free(sb_upstream_multi_t *m)
{
  if (m == NULL)
    return;
  while (m->transfers != NULL)
    sb_upstream_cancel(m->transfers);
  m->closing = true;
  sb_up_curl_free(m);
  sb_up_h1_free(m); /* the multi goes with the last handle's close */
}

size_t sb_upstream_multi_active(const sb_upstream_multi_t *m)
{
  return m->active;
}

static void link_transfer(sb_upstream_multi_t *m, sb_upstream_t *u)
{
  u->next = m->transfers;
  if (m->transfers != NULL)
    m->transfers->prev = u;
  m->transfers = u;
  m->active++;
}

static void early_close_cb(uv_handle_t *h)
{
  sb_upstream_t *u = h->data;
  free(u->url);
  free(u);
}

sb_upstream_t *sb_upstream_start(sb_upstream_multi_t *m,
                                 const sb_upstream_request_t *r,
                                 const sb_upstream_callbacks_t *cb, void *data)
{
  if (m->closing)
    return NULL;
  sb_upstream_t *u = NULL;
  if (r->proxy == NULL) {
    bool failed = false;
    u = sb_up_h1_alloc(m, r, !http_via_curl, !https_via_curl, &failed);
    if (failed)
      return NULL;
  }
  if (u == NULL) {
    u = calloc(1, sizeof(*u));
    if (u == NULL)
      return NULL;
  }
  u->m = m;
  u->cb = cb;
  u->data = data;
  u->to = r->timeouts;
  uv_timer_init(m->loop, &u->timer);
  u->timer.data = u;
  u->start_ns = sb_now_ns();
  u->start_ms = uv_now(m->loop);
  u->activity_ms = u->start_ms;
  u->connect_from_ms = u->start_ms;
  bool ok = u->native ? sb_up_h1_start(u) : sb_up_curl_start(u, r);
  if (!ok) {
    /* Nothing was registered: free through the timer's close callback. */
    uv_close((uv_handle_t *)&u->timer, early_close_cb);
    return NULL;
  }
  link_transfer(m, u);
  sb_up_arm(u);
  return u;
}

void sb_upstream_pause(sb_upstream_t *u)
{
  if (u->finished || u->paused)
    return;
  u->paused = true;
  sb_up_arm(u);
  if (u->native)
    sb_up_h1_pause(u);
  else
    sb_up_curl_pause(u);
}

void sb_upstream_resume(sb_upstream_t *u)
{
  if (u->finished || !u->paused || u->in_callback)
    return;
  u->paused = false;
  u->activity_ms = uv_now(u->m->loop);
  sb_up_arm(u);
  if (u->native)
    sb_up_h1_resume(u);
  else
    sb_up_curl_resume(u);
}

bool sb_upstream_paused(const sb_upstream_t *u)
{
  return u->paused;
}

void sb_upstream_cancel(sb_upstream_t *u)
{
  if (u->finished || u->cancelled)
    return;
  u->cancelled = true;
  if (u->in_callback)
    return; /* the transport fails the transfer when the callback returns */
  sb_up_release(u);
}

/* A detached transfer's only callback: the rest of the body is dropped. */
static sb_status_t drop_data(sb_upstream_t *u, void *data, const char *p,
                             size_t n)
{
  (void)u;
  (void)data;
  (void)p;
  (void)n;
  return SB_OK;
}

static const sb_upstream_callbacks_t detached_cbs = {.on_data = drop_data};

bool sb_upstream_detach(sb_upstream_t *u)
{
  if (u->finished || u->cancelled || u->paused || !u->native ||
      u->write_failed || u->sent < u->req_len + u->body.len)
    return false;
  u->cb = &detached_cbs;
  u->data = NULL;
  /* u->body is all sent and never read again: the caller may free it */
  uint64_t total = uv_now(u->m->loop) - u->start_ms + SB_UPSTREAM_DETACH_MS;
  if (u->to.total_ms == 0 || u->to.total_ms > total)
    u->to.total_ms = (uint32_t)SB_MIN(total, UINT32_MAX);
  sb_up_arm(u);
  return true;
}

const char *sb_upstream_result_name(sb_upstream_result_t r)
{
  switch (r) {
  case SB_UP_OK: return "ok";
  case SB_UP_CONNECT_FAILED: return "connect_failed";
  case SB_UP_TIMEOUT_CONNECT: return "connect_timeout";
  case SB_UP_TIMEOUT_FIRST_BYTE: return "first_byte_timeout";
  case SB_UP_TIMEOUT_IDLE: return "idle_timeout";
  case SB_UP_TIMEOUT_TOTAL: return "timeout";
  case SB_UP_CUT: return "cut";
  case SB_UP_ABORTED: return "aborted";
  case SB_UP_FAILED: return "failed";
  }
  return "unknown";
}
