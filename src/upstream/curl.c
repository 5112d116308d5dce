/* SPDX-License-Identifier: MIT */
/*
 * The libcurl transport: curl's multi interface on a libuv loop, for
 * proxies, and everything when SWITCHBOARD_UPSTREAM_CLIENT=curl.
 *
 * The shape follows curl's documented multi-socket pattern: curl tells us
 * which sockets to watch (socket_cb -> uv_poll) and when to wake it
 * (timer_cb -> uv_timer); we call curl_multi_socket_action from those
 * watchers and then collect finished transfers. Rules that keep it safe:
 * - never call curl_multi_socket_action from inside curl's timer callback:
 *   a 0 ms timeout becomes a 0 ms libuv timer (the loop's next turn);
 * - a socket's poll handle lives as long as the socket (curl closes it
 *   through close_socket_cb), not just while a transfer uses it;
 * - a socket context is freed only in its uv_close callback;
 * - a transfer cancelled from inside one of its own callbacks is only
 *   flagged; the write callback then fails the transfer and it is freed
 *   silently when curl reports it done.
 * First-byte and idle timeouts are ours (client.c); connect and total
 * timeouts are curl's.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "switchboard/version.h"
#include "switchboard/log.h"
#include "switchboard/clock.h"
#include "upstream/internal.h"

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  int events;                /* what curl asked to watch (UV_*) */
  sb_upstream_multi_t *m;
} sock_ctx_t;

static void check_done(sb_upstream_multi_t *m);
/* ---- curl <-> libuv glue ------------------------------------------------ */

static void sock_close_cb(uv_handle_t *h)
{
  free(h->data);
}

static sock_ctx_t *sock_get(sb_upstream_multi_t *m, curl_socket_t s);

static void poll_cb(uv_poll_t *h, int status, int events)
{
  sock_ctx_t *ctx = h->data;
  sb_upstream_multi_t *m = ctx->m;
  curl_socket_t fd = ctx->fd;
  int flags = 0, running;
  if (status < 0) {
    /* POLLERR (a reset): libuv stopped the handle and says no more. curl
     * must read or write to learn what happened: told only "error", it
     * fails the transfer ("select/poll returned error") where a reset on a
     * reused connection would have been retried on a fresh one. */
    flags = CURL_CSELECT_ERR;
    events = ctx->events;
  }
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(m->multi, fd, flags, &running);
  /* Still wanted (curl did not close it nor change its mind): watch it
   * again, since libuv stopped watching on the error. */
  if (status < 0 && sock_get(m, fd) == ctx && ctx->events != 0 &&
      !uv_is_active((uv_handle_t *)&ctx->poll))
    uv_poll_start(&ctx->poll, ctx->events, poll_cb);
  check_done(m);
}

static sock_ctx_t *sock_get(sb_upstream_multi_t *m, curl_socket_t s)
{
  return s >= 0 && (size_t)s < m->n_socks ? m->socks[s] : NULL;
}

static sock_ctx_t *sock_new(sb_upstream_multi_t *m, curl_socket_t s)
{
  if (s < 0)
    return NULL;
  if ((size_t)s >= m->n_socks) {
    size_t n = m->n_socks > 0 ? m->n_socks : 64;
    while (n <= (size_t)s)
      n *= 2;
    sock_ctx_t **t = realloc(m->socks, n * sizeof(*t));
    if (t == NULL)
      return NULL;
    memset(t + m->n_socks, 0, (n - m->n_socks) * sizeof(*t));
    m->socks = t;
    m->n_socks = n;
  }
  sock_ctx_t *ctx = malloc(sizeof(*ctx));
  if (ctx == NULL)
    return NULL;
  ctx->fd = s;
  ctx->events = 0;
  ctx->m = m;
  if (uv_poll_init_socket(m->loop, &ctx->poll, s) != 0) {
    free(ctx);
    return NULL;
  }
  ctx->poll.data = ctx;
  m->socks[s] = ctx;
  return ctx;
}

/* curl closes a socket (CURLOPT_CLOSESOCKETFUNCTION): drop its poll handle
 * first (uv_close takes the descriptor out of epoll at once), then close. */
static int close_socket_cb(void *clientp, curl_socket_t s)
{
  sb_upstream_multi_t *m = clientp;
  sock_ctx_t *ctx = sock_get(m, s);
  if (ctx != NULL) {
    m->socks[s] = NULL;
    uv_close((uv_handle_t *)&ctx->poll, sock_close_cb);
  }
  return close(s);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp)
{
  sb_upstream_multi_t *m = userp;
  sock_ctx_t *ctx = sock_get(m, s);
  (void)easy;
  (void)socketp;
  if (what == CURL_POLL_REMOVE) {
    /* Idle (kept alive) or about to be closed: stop watching, keep the
     * handle for the next transfer on this connection. */
    if (ctx != NULL) {
      ctx->events = 0;
      uv_poll_stop(&ctx->poll);
    }
    return 0;
  }
  if (ctx == NULL && (ctx = sock_new(m, s)) == NULL)
    return -1;
  int events = 0;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  ctx->events = events;
  uv_poll_start(&ctx->poll, events, poll_cb);
  return 0;
}

static void multi_timer_fired(uv_timer_t *t)
{
  sb_upstream_multi_t *m = t->data;
  int running;
  curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(m);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  sb_upstream_multi_t *m = userp;
  (void)multi;
  if (m->closing)
    return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&m->curl_timer);
    return 0;
  }
  /* 0 means "as soon as possible", but not from inside this callback: a
   * 0 ms libuv timer runs on the loop's next turn without sleeping (a 1 ms
   * one would add a millisecond to every request). */
  uv_timer_start(&m->curl_timer, multi_timer_fired, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- transfers ----------------------------------------------------------- */

void sb_up_curl_release(sb_upstream_t *u)
{
  sb_upstream_multi_t *m = u->m;
  curl_multi_remove_handle(m->multi, u->easy);
  if (m->n_pool < SB_UP_EASY_POOL_MAX && !m->closing) {
    curl_easy_reset(u->easy);
    m->pool[m->n_pool++] = u->easy;
  } else {
    curl_easy_cleanup(u->easy);
  }
  u->easy = NULL;
  curl_slist_free_all(u->headers);
  u->headers = NULL;
}

uint64_t sb_up_curl_connect_ns(sb_upstream_t *u)
{
  double ct = 0;
  if (u->easy != NULL &&
      curl_easy_getinfo(u->easy, CURLINFO_CONNECT_TIME, &ct) == CURLE_OK)
    return (uint64_t)(ct * 1e9);
  return 0;
}

static sb_upstream_result_t map_curl_error(sb_upstream_t *u, CURLcode rc)
{
  switch (rc) {
  case CURLE_OK:
    return SB_UP_OK;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
    return u->head_done ? SB_UP_CUT : SB_UP_CONNECT_FAILED;
  case CURLE_OPERATION_TIMEDOUT: {
    long connect_code = 0;
    double ct = 0;
    curl_easy_getinfo(u->easy, CURLINFO_CONNECT_TIME, &ct);
    curl_easy_getinfo(u->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    /* A reused connection has no connect time: it is connected once the
     * request was on its way (pre-transfer time). */
    double pt = 0;
    curl_easy_getinfo(u->easy, CURLINFO_PRETRANSFER_TIME, &pt);
    return ct == 0 && pt == 0 && !u->head_done ? SB_UP_TIMEOUT_CONNECT
                                               : SB_UP_TIMEOUT_TOTAL;
  }
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
    return u->head_done ? SB_UP_CUT : SB_UP_FAILED;
  case CURLE_WRITE_ERROR:
    return SB_UP_ABORTED;
  default:
    return SB_UP_FAILED;
  }
}

/* A request sent on a kept-alive connection that the server had closed
 * (an idle timeout, a limit of requests per connection, a close_notify
 * that curl took for data): it failed to go out or got nothing back.
 * curl retries some of these itself, not all (a broken pipe while the
 * body is being sent fails the transfer). The same rule as the native
 * client's: once, at once, on a fresh connection; the body is the
 * caller's buffer, sent again as it is. True when restarted. */
static bool retry_on_fresh_connection(sb_upstream_t *u, CURLcode rc)
{
  sb_upstream_multi_t *m = u->m;
  CURL *e = u->easy;
  long connects = -1, header_bytes = -1;
  curl_off_t received = -1;
  if (u->retried || u->forced_set || u->head_done ||
      (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR &&
       rc != CURLE_GOT_NOTHING))
    return false;
  if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK ||
      curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &header_bytes) != CURLE_OK ||
      curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &received) != CURLE_OK ||
      connects != 0 || header_bytes != 0 || received != 0)
    return false; /* a new connection, or an answer had begun */
  u->retried = true;
  curl_multi_remove_handle(m->multi, e);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  if (u->to.total_ms > 0) {
    /* the total deadline still counts from the start */
    uint64_t spent = uv_now(m->loop) - u->start_ms;
    long left = spent < u->to.total_ms ? (long)(u->to.total_ms - spent) : 1;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left);
  }
  u->errbuf[0] = '\0';
  u->status = 0;
  return curl_multi_add_handle(m->multi, e) == CURLM_OK;
}

static void check_done(sb_upstream_multi_t *m)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result; /* msg is invalid after remove_handle */
    sb_upstream_t *u = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&u);
    if (u == NULL || u->finished)
      continue;
    if (u->cancelled) {
      sb_up_release(u); /* cancelled from inside a callback */
      continue;
    }
    if (retry_on_fresh_connection(u, rc))
      continue;
    if (u->status == 0)
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &u->status);
    sb_upstream_result_t r =
        u->forced_set ? u->forced : map_curl_error(u, rc);
    const char *why = r == SB_UP_OK ? NULL
                      : u->errbuf[0] != '\0' ? u->errbuf
                                             : curl_easy_strerror(rc);
    sb_up_finish(u, r, why);
  }
}

static void copy_header_value(char *dst, size_t cap, const char *v, size_t n)
{
  while (n > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    n--;
  }
  while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
}

static size_t header_cb(char *p, size_t size, size_t n, void *userdata)
{
  sb_upstream_t *u = userdata;
  size_t len = size * n;
  if (u->cancelled)
    return 0;
  sb_slice_t line = sb_slice(p, len);
  if (sb_slice_starts(line, SB_STRLIT("HTTP/"))) {
    /* A new response head (after a 1xx, or the first one). */
    u->content_type[0] = '\0';
    u->retry_after[0] = '\0';
    return len;
  }
  if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) {
    long status = 0;
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && !u->head_done) {
      sb_up_deliver_head(u, status, u->content_type, u->retry_after);
      if (u->cancelled)
        return 0;
    }
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (colon == NULL)
    return len;
  sb_slice_t name = sb_slice(p, (size_t)(colon - p));
  const char *v = colon + 1;
  size_t vn = len - (size_t)(v - p);
  if (sb_slice_case_eq(name, SB_SLICE_LIT("content-type")))
    copy_header_value(u->content_type, sizeof(u->content_type), v, vn);
  else if (sb_slice_case_eq(name, SB_SLICE_LIT("retry-after")))
    copy_header_value(u->retry_after, sizeof(u->retry_after), v, vn);
  return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *userdata)
{
  sb_upstream_t *u = userdata;
  size_t len = size * n;
  if (u->cancelled || u->finished)
    return 0;
  if (!u->head_done) {
    long status = 0;
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
    sb_up_deliver_head(u, status, u->content_type, u->retry_after);
    if (u->cancelled)
      return 0;
  }
  sb_status_t rc = sb_up_deliver_data(u, p, len);
  if (rc == SB_AGAIN)
    return CURL_WRITEFUNC_PAUSE;
  return rc == SB_OK ? len : 0;
}

/* ---- set-up -------------------------------------------------------------- */

/* True when the environment names a proxy. Without one, every transfer
 * tells curl so (CURLOPT_PROXY ""), which spares it looking the proxy
 * variables up again on each request; with one, curl's own environment
 * handling (per scheme, no_proxy) applies unchanged. */
static bool env_proxy;

void sb_up_curl_global_init(void)
{
  static const char *const vars[] = {"http_proxy", "HTTPS_PROXY", "https_proxy",
                                     "ALL_PROXY", "all_proxy"};
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0')
      env_proxy = true;
  }
}

void sb_up_curl_global_cleanup(void)
{
  curl_global_cleanup();
}

bool sb_up_curl_init(sb_upstream_multi_t *m)
{
  m->multi = curl_multi_init();
  if (m->multi == NULL)
    return false;
  uv_timer_init(m->loop, &m->curl_timer);
  m->curl_timer.data = m;
  m->open_handles++;
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
  /* Keep enough idle connections for a busy worker's concurrency. */
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, 1024L);
  return true;
}

static void multi_timer_close_cb(uv_handle_t *h)
{
  sb_up_handle_closed(h->data);
}

void sb_up_curl_free(sb_upstream_multi_t *m)
{
  for (size_t i = 0; i < m->n_pool; i++)
    curl_easy_cleanup(m->pool[i]);
  m->n_pool = 0;
  /* Closing cached connections goes through close_socket_cb: the poll
   * handles are closed on the loop, which must run once more afterwards. */
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  for (size_t i = 0; i < m->n_socks; i++)
    if (m->socks[i] != NULL)
      uv_close((uv_handle_t *)&m->socks[i]->poll, sock_close_cb);
  free(m->socks);
  m->socks = NULL;
  m->n_socks = 0;
  uv_timer_stop(&m->curl_timer);
  uv_close((uv_handle_t *)&m->curl_timer, multi_timer_close_cb);
}

/* A provider's TLS settings in curl's terms. curl keeps its default CA
 * bundle and directory beside a `ca_file` or a `ca_path` (the system's
 * store stays trusted, as with the native client) and tells connections
 * with different settings apart. */
static void set_tls(CURL *e, const sb_upstream_tls_t *t)
{
  bool verify = t == NULL || !t->no_verify;
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  if (t == NULL)
    return;
  if (t->ca_file != NULL)
    curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
  if (t->ca_path != NULL)
    curl_easy_setopt(e, CURLOPT_CAPATH, t->ca_path);
  if (t->cert != NULL) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert);
    curl_easy_setopt(e, CURLOPT_SSLKEY, t->key != NULL ? t->key : t->cert);
  }
}

void sb_upstream_curl_link(void *easy, const sb_upstream_tls_t *tls,
                           const char *proxy)
{
  CURL *e = easy;
  /* HTTP/1.1, as the native client: a connection per transfer, pooled per
   * worker. libcurl 7.88's HTTP/2 multiplexes every transfer of a worker
   * on one connection, where a busy host's streams wait on each other and
   * some stall (a stream's data held while no socket event comes). */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  set_tls(e, tls);
  if (proxy != NULL)
    curl_easy_setopt(e, CURLOPT_PROXY, proxy);
  else if (!env_proxy)
    curl_easy_setopt(e, CURLOPT_PROXY, "");
}

bool sb_up_curl_start(sb_upstream_t *u, const sb_upstream_request_t *r)
{
  sb_upstream_multi_t *m = u->m;
  u->url = strdup(r->url);
  u->easy = m->n_pool > 0 ? m->pool[--m->n_pool] : curl_easy_init();
  if (u->url == NULL || u->easy == NULL)
    goto fail;
  for (size_t i = 0; i < r->n_headers; i++) {
    /* any length, as the native transport takes (curl copies the line) */
    char small[1024];
    size_t nl = strlen(r->headers[i].name), vl = strlen(r->headers[i].value);
    char *line = nl + vl + 2 < sizeof(small) ? small : malloc(nl + vl + 3);
    if (line == NULL)
      goto fail;
    memcpy(line, r->headers[i].name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, r->headers[i].value, vl + 1);
    struct curl_slist *h = curl_slist_append(u->headers, line);
    if (line != small)
      free(line);
    if (h == NULL)
      goto fail;
    u->headers = h;
  }
  /* No "Expect: 100-continue" round trip for large bodies. */
  struct curl_slist *h = curl_slist_append(u->headers, "Expect:");
  if (h == NULL)
    goto fail;
  u->headers = h;

  CURL *e = u->easy;
  curl_easy_setopt(e, CURLOPT_URL, u->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)u);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, m);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, u->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, SB_USER_AGENT);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, u->errbuf);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, u);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, u);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  sb_upstream_curl_link(e, r->tls, r->proxy);
  if (u->to.connect_ms > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)u->to.connect_ms);
  if (u->to.total_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)u->to.total_ms);
  if (r->body.ptr != NULL) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.ptr);
  }
  if (r->method != NULL)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  else if (r->body.ptr == NULL)
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  if (curl_multi_add_handle(m->multi, e) != CURLM_OK)
    goto fail;
  return true;
fail:
  if (u->easy != NULL)
    curl_easy_cleanup(u->easy);
  u->easy = NULL;
  curl_slist_free_all(u->headers);
  u->headers = NULL;
  return false; /* u->url is freed with u */
}

void sb_up_curl_pause(sb_upstream_t *u)
{
  curl_easy_pause(u->easy, CURLPAUSE_RECV);
}

void sb_up_curl_resume(sb_upstream_t *u)
{
  /* May deliver buffered bytes right away through write_cb. */
  curl_easy_pause(u->easy, CURLPAUSE_CONT);
}
