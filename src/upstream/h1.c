/* SPDX-License-Identifier: MIT */
/*
 * The native HTTP/1.1 transport for http:// and https:// upstreams:
 * non-blocking sockets watched by one uv_poll each, TLS on them for https
 * (tls.c), a per-worker pool of kept-alive connections per
 * scheme://host:port, a per-worker DNS cache, and the response parser of
 * h1_response.c. See docs/upstream.md.
 *
 * Lifetimes and re-entrancy, the rules that keep it safe:
 * - a connection belongs to at most one transfer (c->u / u->conn) or to
 *   the idle pool; it is freed only in its poll handle's close callback;
 * - reads land in the multi's one read buffer (one worker, one reader);
 *   only bytes left unread when a transfer pauses are copied (c->saved);
 * - a callback may cancel, pause, or start another transfer (on_done often
 *   does): after every callback the code below checks u->cancelled /
 *   u->finished and touches neither u's connection nor the buffer again
 *   once the transfer is over;
 * - the connection goes back to the pool before on_done runs, so a
 *   transfer started from on_done reuses it;
 * - nothing calls back from inside sb_upstream_start() or resume(): work
 *   that could end the transfer there goes to a 0 ms timer (u->kick);
 * - TLS holds bytes the socket no longer has (a record read whole, of which
 *   only part was delivered): a poll event never announces them, so every
 *   place that would wait for the socket looks at sb_up_tls_pending first
 *   and reads at once, or on the loop's next turn (tls_read_later).
 * Not done: HTTP/2, 100-continue, happy eyeballs (addresses are tried one
 * after another).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "switchboard/version.h"
#include "switchboard/clock.h"
#include "upstream/internal.h"

#define MAX_IDLE 1024u
#define IDLE_MS 60000u
#define DNS_TTL_MS 60000u
#define MAX_HEAD_BYTES (256u * 1024u) /* the request head we build */

struct sb_h1_conn {
  uv_poll_t poll;
  int fd;
  int events;                  /* what the poll handle watches */
  sb_upstream_multi_t *m;
  sb_h1_host_t *host;
  sb_upstream_t *u;            /* NULL when idle */
  sb_h1_conn_t *prev, *next;   /* idle: every idle connection */
  sb_h1_conn_t *hnext, *hprev; /* idle: its host's */
  uint64_t idle_since;         /* loop time */
  char *saved;                 /* bytes kept while the transfer is paused */
  size_t saved_off, saved_len;
  size_t piece;                /* at saved_off: the piece to deliver again */
  SSL *ssl;                    /* https: the TLS connection; NULL: http */
  int hs_want;                 /* handshaking: the event TLS waits for */
  bool connecting;             /* TCP connect under way */
  bool handshaking;            /* TLS handshake under way */
  bool tls_sound;              /* handshake done, no fatal TLS error */
  bool drained;                /* TLS: the socket's last read came short */
  bool rd_wants_write;         /* TLS: the read waits for writability */
  bool wr_wants_read;          /* TLS: the write waits for readability */
  bool reused;
  bool idle;
};

struct sb_h1_resolve {
  uv_getaddrinfo_t req;
  sb_upstream_t *u;            /* NULL once the transfer is gone */
};

static void conn_poll_cb(uv_poll_t *h, int status, int events);
static void open_connection(sb_upstream_t *u);
static void feed(sb_h1_conn_t *c, const char *p, size_t n);

/* ---- URLs and hosts -------------------------------------------------------- */

typedef struct {
  char host[256];
  size_t host_len;
  bool v6;
  bool tls;                    /* https */
  uint16_t port;
  const char *path;            /* path and query, without the fragment */
  size_t path_len;
} h1_url_t;

static bool host_char(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Only clean URLs are taken; anything unusual (user info, odd bytes) is
 * left to curl, which knows every corner of URL syntax. */
static bool parse_url(const char *url, h1_url_t *out)
{
  const char *p;
  if (strncasecmp(url, "http://", 7) == 0) {
    p = url + 7;
    out->tls = false;
  } else if (strncasecmp(url, "https://", 8) == 0) {
    p = url + 8;
    out->tls = true;
  } else {
    return false;
  }
  const char *a = p;
  while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
    p++;
  const char *aend = p;
  if (memchr(a, '@', (size_t)(aend - a)) != NULL)
    return false;
  const char *h = a, *hend;
  out->v6 = false;
  if (*h == '[') {
    hend = memchr(h, ']', (size_t)(aend - h));
    if (hend == NULL)
      return false;
    h++;
    out->v6 = true;
    for (const char *q = h; q < hend; q++)
      if (!((*q >= '0' && *q <= '9') || ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f') ||
            *q == ':' || *q == '.'))
        return false;
    a = hend + 1;
  } else {
    hend = h;
    while (hend < aend && *hend != ':') {
      if (!host_char(*hend))
        return false;
      hend++;
    }
    a = hend;
  }
  size_t hl = (size_t)(hend - h);
  if (hl == 0 || hl >= sizeof(out->host))
    return false;
  memcpy(out->host, h, hl);
  out->host[hl] = '\0';
  out->host_len = hl;
  out->port = out->tls ? 443 : 80;
  if (a < aend) {
    if (*a != ':' || a + 1 == aend || aend - a > 6)
      return false;
    unsigned v = 0;
    for (const char *q = a + 1; q < aend; q++) {
      if (*q < '0' || *q > '9')
        return false;
      v = v * 10 + (unsigned)(*q - '0');
    }
    if (v == 0 || v > 65535)
      return false;
    out->port = (uint16_t)v;
  }
  const char *path = aend;
  const char *end = path;
  while (*end != '\0' && *end != '#') {
    if ((unsigned char)*end <= 0x20 || (unsigned char)*end >= 0x7f)
      return false;
    end++;
  }
  out->path = path;
  out->path_len = (size_t)(end - path);
  return true;
}

/* `tls`: the https profile, or NULL for http. */
static sb_h1_host_t *host_get(sb_upstream_multi_t *m, const h1_url_t *url,
                              sb_up_tls_t *tls)
{
  for (size_t i = 0; i < m->n_hosts; i++) {
    sb_h1_host_t *h = m->hosts[i];
    if (h->port == url->port && h->tls == tls && strcmp(h->name, url->host) == 0)
      return h;
  }
  if (m->n_hosts == SB_H1_MAX_HOSTS)
    return NULL; /* curl takes the rest */
  sb_h1_host_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  memcpy(h->name, url->host, url->host_len + 1);
  h->port = url->port;
  h->tls = tls;
  const char *lb = url->v6 ? "[" : "", *rb = url->v6 ? "]" : "";
  if (url->port == (url->tls ? 443 : 80))
    snprintf(h->authority, sizeof(h->authority), "%s%s%s", lb, h->name, rb);
  else
    snprintf(h->authority, sizeof(h->authority), "%s%s%s:%u", lb, h->name, rb,
             (unsigned)url->port);
  /* Numeric addresses are parsed here once: no resolver round trip. */
  sb_h1_addr_t *ad = &h->addrs[0];
  if (inet_pton(AF_INET, h->name, &ad->in.sin_addr) == 1) {
    ad->in.sin_family = AF_INET;
    ad->in.sin_port = htons(h->port);
    h->n_addrs = 1;
    h->numeric = true;
  } else if (inet_pton(AF_INET6, h->name, &ad->in6.sin6_addr) == 1) {
    ad->in6.sin6_family = AF_INET6;
    ad->in6.sin6_port = htons(h->port);
    h->n_addrs = 1;
    h->numeric = true;
  } else if (url->v6) {
    free(h);
    return NULL;
  }
  m->hosts[m->n_hosts++] = h;
  return h;
}

/* ---- request head -------------------------------------------------------------- */

static bool clean_field(const char *s)
{
  for (; *s != '\0'; s++)
    if (*s == '\r' || *s == '\n')
      return false;
  return true;
}

static bool caller_has(const sb_upstream_request_t *r, const char *name)
{
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->headers[i].name, name) == 0)
      return true;
  return false;
}

/* Returns the head's length, 0 if a header would inject a line; writes
 * the head into out[0..cap) when it fits. */
static size_t build_head(const sb_upstream_request_t *r, const h1_url_t *url,
                         const sb_h1_host_t *host, const char *method,
                         char *out, size_t cap)
{
  size_t n = 0;
#define PUT(s, len)                                                            \
  do {                                                                         \
    if (n + (len) <= cap)                                                      \
      memcpy(out + n, (s), (len));                                             \
    n += (len);                                                                \
  } while (0)
#define PUTZ(s) PUT((s), strlen(s))
  PUTZ(method);
  PUT(" ", 1);
  if (url->path_len == 0 || url->path[0] != '/')
    PUT("/", 1);
  PUT(url->path, url->path_len);
  PUT(" HTTP/1.1\r\n", 11);
  if (!caller_has(r, "Host")) {
    PUT("Host: ", 6);
    PUTZ(host->authority);
    PUT("\r\n", 2);
  }
  if (!caller_has(r, "User-Agent"))
    PUTZ("User-Agent: " SB_USER_AGENT "\r\n");
  if (!caller_has(r, "Accept"))
    PUTZ("Accept: */*\r\n");
  for (size_t i = 0; i < r->n_headers; i++) {
    const sb_kv_t *kv = &r->headers[i];
    if (kv->name[0] == '\0' || !clean_field(kv->name) || !clean_field(kv->value) ||
        strchr(kv->name, ':') != NULL)
      return 0;
    PUTZ(kv->name);
    PUT(": ", 2);
    PUTZ(kv->value);
    PUT("\r\n", 2);
  }
  if (r->body.ptr != NULL) {
    char digits[20];
    PUT("Content-Length: ", 16);
    PUT(digits, sb_u64_dec(digits, r->body.len));
    PUT("\r\n", 2);
  }
  PUT("\r\n", 2);
#undef PUT
#undef PUTZ
  return n;
}

sb_upstream_t *sb_up_h1_alloc(sb_upstream_multi_t *m,
                              const sb_upstream_request_t *r, bool http,
                              bool https, bool *failed)
{
  h1_url_t url;
  if (r->url == NULL || !parse_url(r->url, &url) || !(url.tls ? https : http))
    return NULL;
  const char *method = r->method != NULL ? r->method
                       : r->body.ptr != NULL ? "POST" : "GET";
  for (const char *q = method; *q != '\0'; q++)
    if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
      return NULL;
  sb_up_tls_t *tls = NULL;
  if (url.tls && (tls = sb_up_tls_profile(m, r->tls)) == NULL) {
    *failed = true; /* out of memory */
    return NULL;
  }
  sb_h1_host_t *host = host_get(m, &url, tls);
  if (host == NULL)
    return NULL;
  /* one pass for the usual head; a second for one longer than `first` */
  char first[4096];
  size_t n = build_head(r, &url, host, method, first, sizeof(first));
  if (n == 0 || n > MAX_HEAD_BYTES) {
    *failed = true;
    return NULL;
  }
  sb_upstream_t *u = calloc(1, sizeof(*u) + n);
  if (u == NULL) {
    *failed = true;
    return NULL;
  }
  u->native = true;
  u->req = (char *)(u + 1);
  if (n <= sizeof(first))
    memcpy(u->req, first, n);
  else
    build_head(r, &url, host, method, u->req, n);
  u->req_len = n;
  u->body = r->body.ptr != NULL ? r->body : sb_slice(NULL, 0);
  u->host = host;
  sb_h1_response_init(&u->resp, strcmp(method, "HEAD") == 0);
  return u;
}

/* ---- connections --------------------------------------------------------------- */

static void conn_watch(sb_h1_conn_t *c, int events)
{
  if (events == c->events)
    return;
  c->events = events;
  if (events == 0)
    uv_poll_stop(&c->poll);
  else
    uv_poll_start(&c->poll, events, conn_poll_cb);
}

static bool request_unsent(const sb_upstream_t *u)
{
  return u->sent < u->req_len + u->body.len && !u->write_failed;
}

/* What the connection waits for, from its state: connecting, the TLS
 * handshake, idle (readable: the server closed it), or a transfer's
 * reading (unless paused) and writing (while the request is unsent), each
 * of which TLS may turn into waiting for the other direction. */
static int wanted_events(const sb_h1_conn_t *c)
{
  const sb_upstream_t *u = c->u;
  if (u == NULL)
    return UV_READABLE;
  if (c->connecting)
    return UV_WRITABLE;
  if (c->handshaking)
    return c->hs_want;
  int ev = 0;
  if (request_unsent(u))
    ev |= c->wr_wants_read ? UV_READABLE : UV_WRITABLE;
  if (!u->paused)
    ev |= c->rd_wants_write ? UV_WRITABLE : UV_READABLE;
  return ev;
}

static void rewatch(sb_h1_conn_t *c)
{
  conn_watch(c, wanted_events(c));
}

static void conn_close_cb(uv_handle_t *h)
{
  sb_h1_conn_t *c = h->data;
  sb_upstream_multi_t *m = c->m;
  free(c);
  sb_up_handle_closed(m);
}

static void idle_unlink(sb_h1_conn_t *c)
{
  sb_upstream_multi_t *m = c->m;
  if (!c->idle)
    return;
  c->idle = false;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    m->idle_head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    m->idle_tail = c->prev;
  if (c->hprev != NULL)
    c->hprev->hnext = c->hnext;
  else
    c->host->idle = c->hnext;
  if (c->hnext != NULL)
    c->hnext->hprev = c->hprev;
  c->prev = c->next = c->hprev = c->hnext = NULL;
  m->n_idle--;
}

static void conn_close(sb_h1_conn_t *c)
{
  idle_unlink(c);
  if (c->u != NULL && c->u->conn == c)
    c->u->conn = NULL;
  c->u = NULL;
  free(c->saved);
  c->saved = NULL;
  /* close_notify on a sound connection, before the socket goes */
  sb_up_tls_free(c->ssl, c->tls_sound);
  c->ssl = NULL;
  /* uv_close takes the descriptor out of epoll at once: close it now. */
  uv_close((uv_handle_t *)&c->poll, conn_close_cb);
  close(c->fd);
  c->fd = -1;
}

static void idle_timer_cb(uv_timer_t *t)
{
  sb_upstream_multi_t *m = t->data;
  uint64_t now = uv_now(m->loop);
  while (m->idle_tail != NULL && m->idle_tail->idle_since + IDLE_MS <= now)
    conn_close(m->idle_tail);
  if (m->idle_tail != NULL)
    uv_timer_start(&m->idle_timer, idle_timer_cb,
                   m->idle_tail->idle_since + IDLE_MS - now, 0);
}

static void pool_put(sb_h1_conn_t *c)
{
  sb_upstream_multi_t *m = c->m;
  c->u = NULL;
  c->idle = true;
  c->reused = true;
  c->rd_wants_write = c->wr_wants_read = false;
  c->idle_since = uv_now(m->loop);
  c->next = m->idle_head;
  if (m->idle_head != NULL)
    m->idle_head->prev = c;
  m->idle_head = c;
  if (m->idle_tail == NULL)
    m->idle_tail = c;
  c->hnext = c->host->idle;
  if (c->host->idle != NULL)
    c->host->idle->hprev = c;
  c->host->idle = c;
  m->n_idle++;
  /* Readable while idle means the server closed it (or sent garbage). */
  rewatch(c);
  if (m->n_idle > MAX_IDLE)
    conn_close(m->idle_tail);
  if (!uv_is_active((uv_handle_t *)&m->idle_timer))
    uv_timer_start(&m->idle_timer, idle_timer_cb, IDLE_MS, 0);
}

/* An idle connection has something to read: only TLS housekeeping (a
 * session ticket, a key update) leaves it fit for another request. */
static bool idle_still_good(sb_h1_conn_t *c)
{
  return c->ssl != NULL && c->tls_sound &&
         sb_up_tls_idle_ok(c->ssl, c->m->rbuf, sizeof(c->m->rbuf));
}

/* ---- transfer outcomes --------------------------------------------------------- */

/* Inside sb_upstream_start a failure must not call back: defer it. */
static void fail(sb_upstream_t *u, sb_upstream_result_t r, const char *why)
{
  if (u->starting) {
    u->pend_set = true;
    u->pend_result = r;
    u->pend_why = why;
    u->kick = true;
    if (u->conn != NULL)
      conn_watch(u->conn, 0); /* nothing more happens on it until then */
    return; /* sb_upstream_start arms the timer */
  }
  if (u->conn != NULL)
    conn_close(u->conn);
  sb_up_finish(u, r, why);
}

static const char *conn_why(sb_upstream_t *u, const char *what, const char *s)
{
  snprintf(u->errbuf, sizeof(u->errbuf), "%s %.100s:%u: %s", what, u->host->name,
           (unsigned)u->host->port, s);
  return u->errbuf;
}

static const char *errno_why(sb_upstream_t *u, const char *what, int err)
{
  return conn_why(u, what, strerror(err));
}

/* The connection ended while the transfer was using it: the end of the
 * stream (`why` NULL), or an error (`why` says what). */
static void conn_lost(sb_h1_conn_t *c, const char *why)
{
  sb_upstream_t *u = c->u;
  /* A kept-alive connection the server had closed (idle timeout, a limit
   * of requests per connection, a close_notify that crossed the request):
   * the request never got an answer, send it again at once, once, on a
   * fresh connection. The caller sees one transfer. */
  if (c->reused && !u->resp.any_byte && !u->retried) {
    u->retried = true;
    conn_close(c);
    u->sent = 0;
    u->write_failed = false;
    sb_h1_response_init(&u->resp, u->resp.no_body);
    u->connected = false;
    u->connect_from_ms = uv_now(u->m->loop);
    sb_up_arm(u);
    open_connection(u);
    return;
  }
  sb_upstream_result_t r = u->head_done ? SB_UP_CUT
                           : u->resp.any_byte ? SB_UP_FAILED
                                              : SB_UP_CONNECT_FAILED;
  if (why == NULL) {
    if (sb_h1_response_eof(&u->resp) == SB_H1_DONE) {
      conn_close(c); /* close-delimited body: complete */
      sb_up_finish(u, SB_UP_OK, NULL);
      return;
    }
    fail(u, r, u->resp.error);
    return;
  }
  fail(u, r, conn_why(u, "connection to", why));
}

/* The response is complete; `extra` bytes followed it. */
static void complete(sb_h1_conn_t *c, size_t extra)
{
  sb_upstream_t *u = c->u;
  bool reuse = u->resp.keep_alive && extra == 0 && !u->write_failed &&
               u->sent == u->req_len + u->body.len && !c->m->closing;
  /* Anything TLS still holds past the response must be housekeeping. */
  if (reuse && c->ssl != NULL && sb_up_tls_pending(c->ssl))
    reuse = idle_still_good(c);
  c->u = NULL;
  u->conn = NULL;
  free(c->saved);
  c->saved = NULL;
  if (reuse)
    pool_put(c);
  else
    conn_close(c);
  sb_up_finish(u, SB_UP_OK, NULL);
}

/* ---- writing ------------------------------------------------------------------- */

/* The request from byte `u->sent` on, up to `cap` bytes of it, copied
 * into `dst`: the same bytes for the same `u->sent` (TLS retries a write
 * with them). */
static size_t gather_request(const sb_upstream_t *u, char *dst, size_t cap)
{
  size_t n = 0, off = u->sent;
  if (off < u->req_len) {
    n = SB_MIN(u->req_len - off, cap);
    memcpy(dst, u->req + off, n);
    off += n;
  }
  if (n < cap && off < u->req_len + u->body.len) {
    size_t b = off - u->req_len;
    size_t k = SB_MIN(u->body.len - b, cap - n);
    memcpy(dst + n, u->body.ptr + b, k);
    n += k;
  }
  return n;
}

/* One write of the request: false when it would block or failed. */
static bool write_plain(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  struct iovec iov[2];
  int k = 0;
  if (u->sent < u->req_len) {
    iov[k].iov_base = u->req + u->sent;
    iov[k++].iov_len = u->req_len - u->sent;
    if (u->body.len > 0) {
      iov[k].iov_base = (void *)u->body.ptr;
      iov[k++].iov_len = u->body.len;
    }
  } else {
    size_t off = u->sent - u->req_len;
    iov[k].iov_base = (void *)(u->body.ptr + off);
    iov[k++].iov_len = u->body.len - off;
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = (size_t)k;
  ssize_t n;
  do
    n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    /* The server may have answered and closed (a 413 before reading a
     * large body): what it said, if anything, is read next. */
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      u->write_failed = true;
    return false;
  }
  u->sent += (size_t)n;
  return true;
}

/* One TLS record of the request: false when it would block, or failed
 * (then the connection is lost: TLS cannot read after a failed write). */
static bool write_tls(sb_h1_conn_t *c, bool *lost)
{
  sb_upstream_t *u = c->u;
  char *buf = c->m->wbuf;
  size_t put, len = gather_request(u, buf, sizeof(c->m->wbuf));
  char why[200];
  switch (sb_up_tls_write(c->ssl, buf, len, &put, why, sizeof(why))) {
  case SB_TLS_OK:
    u->sent += put;
    return true;
  case SB_TLS_WANT_READ:
    c->wr_wants_read = true;
    return false;
  case SB_TLS_WANT_WRITE:
    return false;
  case SB_TLS_EOF:
  case SB_TLS_ERROR:
    break;
  }
  c->tls_sound = false;
  u->write_failed = true;
  *lost = true;
  conn_lost(c, why);
  return false;
}

static void write_request(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  bool lost = false;
  c->wr_wants_read = false;
  while (request_unsent(u))
    if (!(c->ssl != NULL ? write_tls(c, &lost) : write_plain(c)))
      break;
  if (!lost)
    rewatch(c);
}

/* ---- reading and delivery ------------------------------------------------------ */

/* The transfer paused on `piece` bytes at `p`, with `rest` unparsed bytes
 * after them: keep both until sb_upstream_resume. */
static bool keep_unread(sb_h1_conn_t *c, const char *p, size_t piece,
                        size_t rest)
{
  if (c->saved != NULL && p >= c->saved && p < c->saved + c->saved_len) {
    c->saved_off = (size_t)(p - c->saved); /* already ours */
    c->piece = piece;
    return true;
  }
  free(c->saved);
  c->saved = NULL;
  c->saved_off = c->saved_len = c->piece = 0;
  if (piece + rest == 0)
    return true;
  c->saved = malloc(piece + rest);
  if (c->saved == NULL)
    return false;
  memcpy(c->saved, p, piece + rest);
  c->saved_len = piece + rest;
  c->piece = piece;
  return true;
}

static void paused_now(sb_h1_conn_t *c, const char *p, size_t piece,
                       size_t rest)
{
  sb_upstream_t *u = c->u;
  if (!keep_unread(c, p, piece, rest)) {
    fail(u, SB_UP_FAILED, "out of memory");
    return;
  }
  rewatch(c);
}

/* Parse and deliver `n` bytes read for c's transfer. Returns when they are
 * all consumed, the transfer paused, or it is over. */
static void feed(sb_h1_conn_t *c, const char *p, size_t n)
{
  sb_upstream_t *u = c->u;
  size_t off = 0;
  for (;;) {
    size_t used = 0;
    sb_slice_t body = {NULL, 0};
    sb_h1_event_t ev = sb_h1_response_next(&u->resp, p + off, n - off, &used,
                                           &body);
    off += used;
    switch (ev) {
    case SB_H1_NEED_MORE:
      return;
    case SB_H1_HEAD:
      sb_up_deliver_head(u, u->resp.status, u->resp.content_type,
                         u->resp.retry_after);
      if (u->cancelled) {
        sb_up_release(u);
        return;
      }
      if (u->paused) { /* sb_upstream_pause() from inside on_head */
        paused_now(c, p + off, 0, n - off);
        return;
      }
      break;
    case SB_H1_BODY: {
      if (body.len == 0)
        break;
      sb_status_t rc = sb_up_deliver_data(u, body.ptr, body.len);
      if (u->cancelled) {
        sb_up_release(u);
        return;
      }
      if (rc == SB_AGAIN) {
        paused_now(c, body.ptr, body.len, n - off);
        return;
      }
      if (rc != SB_OK) {
        fail(u, SB_UP_ABORTED, "the response was refused by the caller");
        return;
      }
      if (u->paused) { /* sb_upstream_pause() from inside on_data */
        paused_now(c, p + off, 0, n - off);
        return;
      }
      break;
    }
    case SB_H1_DONE:
      complete(c, n - off);
      return;
    case SB_H1_ERROR:
      fail(u, u->head_done ? SB_UP_CUT : SB_UP_FAILED, u->resp.error);
      return;
    }
  }
}

typedef enum { RD_DATA, RD_AGAIN, RD_EOF, RD_ERROR } rd_t;

/* One read into the worker's buffer. RD_ERROR: `why` says what. */
static rd_t conn_read(sb_h1_conn_t *c, size_t *got, char *why, size_t whylen)
{
  sb_upstream_multi_t *m = c->m;
  if (c->ssl == NULL) {
    ssize_t n;
    do
      n = recv(c->fd, m->rbuf, sizeof(m->rbuf), 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
      *got = (size_t)n;
      return RD_DATA;
    }
    if (n == 0)
      return RD_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return RD_AGAIN;
    snprintf(why, whylen, "%s", strerror(errno));
    return RD_ERROR;
  }
  switch (sb_up_tls_read(c->ssl, m->rbuf, sizeof(m->rbuf), got, why, whylen)) {
  case SB_TLS_OK:
    return RD_DATA;
  case SB_TLS_WANT_WRITE:
    c->rd_wants_write = true; /* a key update or renegotiation to send */
    return RD_AGAIN;
  case SB_TLS_WANT_READ:
    return RD_AGAIN;
  case SB_TLS_EOF:
    return RD_EOF;
  case SB_TLS_ERROR:
    break;
  }
  c->tls_sound = false;
  return RD_ERROR;
}

/* Bytes TLS holds would wait for a poll event that never comes: read them
 * on the loop's next turn (the deferred step), not from here, so that one
 * busy connection does not starve the others. */
static void tls_read_later(sb_upstream_t *u)
{
  u->kick = true;
  sb_up_arm(u);
}

#define READ_ROUNDS 8 /* reads per wake-up before the others get a turn */

static void read_some(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  if (u->paused)
    return;
  c->rd_wants_write = false;
  for (int round = 0; round < READ_ROUNDS; round++) {
    size_t n = 0;
    char why[200];
    switch (conn_read(c, &n, why, sizeof(why))) {
    case RD_DATA:
      break;
    case RD_AGAIN:
      rewatch(c);
      return;
    case RD_EOF:
      conn_lost(c, NULL);
      return;
    case RD_ERROR:
      conn_lost(c, why);
      return;
    }
    feed(c, c->m->rbuf, n);
    if (u->finished || u->cancelled || u->paused || u->conn != c)
      return;
    /* A short read emptied the socket. TLS hands out a record at a time:
     * it is done when it holds nothing more and its last read of the
     * socket came short (no need to hear EAGAIN from another). */
    if (c->ssl == NULL ? n < sizeof(c->m->rbuf)
                       : c->drained && !sb_up_tls_pending(c->ssl)) {
      rewatch(c);
      return;
    }
  }
  if (c->ssl != NULL && sb_up_tls_pending(c->ssl))
    tls_read_later(u);
  rewatch(c);
}

/* The connection carries the transfer now: TCP (and TLS) are up. */
static void ready(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  u->connected = true;
  u->connect_ns = sb_now_ns() - u->start_ns;
  sb_up_arm(u); /* the connect deadline no longer applies */
  write_request(c);
}

static void handshake_step(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  char peer[300];
  snprintf(peer, sizeof(peer), "%.255s:%u", u->host->name,
           (unsigned)u->host->port);
  switch (sb_up_tls_handshake(c->ssl, peer, u->errbuf, sizeof(u->errbuf))) {
  case SB_TLS_OK:
    c->handshaking = false;
    c->tls_sound = true;
    ready(c);
    return;
  case SB_TLS_WANT_READ:
    c->hs_want = UV_READABLE;
    rewatch(c);
    return;
  case SB_TLS_WANT_WRITE:
    c->hs_want = UV_WRITABLE;
    rewatch(c);
    return;
  case SB_TLS_EOF:
  case SB_TLS_ERROR:
    break;
  }
  /* Certificates, protocol versions, a server that is not TLS: the same
   * on every address, so no other one is tried. */
  fail(u, SB_UP_CONNECT_FAILED, u->errbuf);
}

/* The address that took the connection goes first in the host's cache:
 * the next connection does not wait again on one that refused or timed
 * out (a name whose IPv6 address is unreachable from here). */
static void address_worked(sb_upstream_t *u)
{
  sb_h1_host_t *h = u->host;
  if (u->addr_i == 0 || u->addr_i >= h->n_addrs ||
      memcmp(&h->addrs[u->addr_i], &u->addrs[u->addr_i], sizeof(h->addrs[0])) != 0)
    return;
  sb_h1_addr_t first = h->addrs[0];
  h->addrs[0] = h->addrs[u->addr_i];
  h->addrs[u->addr_i] = first;
}

static void connected(sb_h1_conn_t *c)
{
  sb_upstream_t *u = c->u;
  c->connecting = false;
  address_worked(u);
  if (u->host->tls == NULL) {
    ready(c);
    return;
  }
  c->ssl = sb_up_tls_new(u->host, c->fd, &c->drained, u->errbuf,
                         sizeof(u->errbuf));
  if (c->ssl == NULL) {
    fail(u, SB_UP_FAILED, u->errbuf);
    return;
  }
  c->handshaking = true;
  handshake_step(c);
}

static void connect_failed(sb_h1_conn_t *c, int err)
{
  sb_upstream_t *u = c->u;
  conn_close(c);
  u->addr_i++;
  if (u->addr_i < u->n_addrs) {
    open_connection(u);
    return;
  }
  fail(u, SB_UP_CONNECT_FAILED, errno_why(u, "connect to", err));
}

static void conn_poll_cb(uv_poll_t *h, int status, int events)
{
  sb_h1_conn_t *c = h->data;
  sb_upstream_t *u = c->u;
  if (u == NULL) {
    /* Idle and readable: closed by the server or garbage, unless it was
     * TLS housekeeping. */
    if (status < 0 || !idle_still_good(c))
      conn_close(c);
    return;
  }
  if (status < 0) {
    /* libuv stopped the handle (POLLERR): find out what happened. */
    c->events = 0;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (c->connecting) {
      connect_failed(c, err != 0 ? err : ECONNREFUSED);
      return;
    }
    events = UV_READABLE; /* the read tells the error, or the last bytes */
  }
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err != 0) {
      connect_failed(c, err);
      return;
    }
    connected(c);
    return;
  }
  if (c->handshaking) {
    handshake_step(c);
    return;
  }
  bool readable = (events & UV_READABLE) != 0;
  bool writable = (events & UV_WRITABLE) != 0;
  if ((writable && !c->wr_wants_read) || (readable && c->wr_wants_read)) {
    if (request_unsent(u)) {
      write_request(c);
      if (u->finished || u->conn != c)
        return;
    }
  }
  if ((readable && !c->rd_wants_write) || (writable && c->rd_wants_write))
    read_some(c);
  if (status < 0 && !u->finished && u->conn == c)
    rewatch(c);
}

/* ---- opening connections ------------------------------------------------------- */

static void connect_addr(sb_upstream_t *u)
{
  sb_upstream_multi_t *m = u->m;
  int err = 0;
  for (; u->addr_i < u->n_addrs; u->addr_i++) {
    const sb_h1_addr_t *a = &u->addrs[u->addr_i];
    socklen_t alen = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
    int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int rc;
    do
      rc = connect(fd, &a->sa, alen);
    while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
      err = errno;
      close(fd);
      continue;
    }
    sb_h1_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || uv_poll_init_socket(m->loop, &c->poll, fd) != 0) {
      free(c);
      close(fd);
      fail(u, SB_UP_FAILED, "out of memory");
      return;
    }
    m->open_handles++;
    c->poll.data = c;
    c->fd = fd;
    c->m = m;
    c->host = u->host;
    c->u = u;
    u->conn = c;
    if (rc != 0) {
      c->connecting = true;
      rewatch(c);
    } else {
      connected(c);
    }
    return;
  }
  fail(u, SB_UP_CONNECT_FAILED,
       errno_why(u, "connect to", err != 0 ? err : EHOSTUNREACH));
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  sb_h1_resolve_t *rs = req->data;
  sb_upstream_t *u = rs->u;
  free(rs);
  if (u == NULL) { /* the transfer is gone */
    uv_freeaddrinfo(res);
    return;
  }
  u->resolving = NULL;
  sb_h1_host_t *h = u->host;
  if (status == 0) {
    h->n_addrs = 0;
    for (struct addrinfo *ai = res; ai != NULL && h->n_addrs < SB_H1_MAX_ADDRS;
         ai = ai->ai_next) {
      sb_h1_addr_t *a = &h->addrs[h->n_addrs];
      if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(a->in)) {
        memcpy(&a->in, ai->ai_addr, sizeof(a->in));
        a->in.sin_port = htons(h->port);
      } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(a->in6)) {
        memcpy(&a->in6, ai->ai_addr, sizeof(a->in6));
        a->in6.sin6_port = htons(h->port);
      } else {
        continue;
      }
      h->n_addrs++;
    }
    h->expires_ms = uv_now(u->m->loop) + DNS_TTL_MS;
  }
  uv_freeaddrinfo(res);
  if (status != 0 || h->n_addrs == 0) {
    snprintf(u->errbuf, sizeof(u->errbuf), "could not resolve host %.100s: %s",
             h->name, status != 0 ? uv_strerror(status) : "no address");
    fail(u, SB_UP_CONNECT_FAILED, u->errbuf);
    return;
  }
  memcpy(u->addrs, h->addrs, sizeof(u->addrs));
  u->n_addrs = h->n_addrs;
  u->addr_i = 0;
  connect_addr(u);
}

/* A fresh connection: addresses from the cache, or the resolver first. */
static void open_connection(sb_upstream_t *u)
{
  sb_h1_host_t *h = u->host;
  if (u->addr_i == 0 || u->addr_i >= u->n_addrs) {
    u->addr_i = 0;
    if (h->n_addrs == 0 ||
        (!h->numeric && uv_now(u->m->loop) >= h->expires_ms)) {
      sb_h1_resolve_t *rs = calloc(1, sizeof(*rs));
      if (rs == NULL) {
        fail(u, SB_UP_FAILED, "out of memory");
        return;
      }
      rs->u = u;
      rs->req.data = rs;
      struct addrinfo hints;
      memset(&hints, 0, sizeof(hints));
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      int rc = uv_getaddrinfo(u->m->loop, &rs->req, resolved_cb, h->name, NULL,
                              &hints);
      if (rc != 0) {
        free(rs);
        snprintf(u->errbuf, sizeof(u->errbuf), "could not resolve host %.100s: %s",
                 h->name, uv_strerror(rc));
        fail(u, SB_UP_CONNECT_FAILED, u->errbuf);
        return;
      }
      u->resolving = rs;
      return;
    }
    memcpy(u->addrs, h->addrs, sizeof(u->addrs));
    u->n_addrs = h->n_addrs;
  }
  connect_addr(u);
}

/* ---- the transport's entry points --------------------------------------------- */

bool sb_up_h1_start(sb_upstream_t *u)
{
  sb_h1_host_t *h = u->host;
  const char *tls_err = h->tls != NULL ? sb_up_tls_profile_error(h->tls) : NULL;
  u->starting = true;
  if (tls_err != NULL) {
    fail(u, SB_UP_CONNECT_FAILED, tls_err);
  } else if (h->idle != NULL) {
    sb_h1_conn_t *c = h->idle;
    idle_unlink(c);
    c->u = u;
    u->conn = c;
    u->connected = true;
    u->connect_ns = 0;
    write_request(c);
  } else {
    open_connection(u);
  }
  u->starting = false;
  return true;
}

void sb_up_h1_release(sb_upstream_t *u)
{
  if (u->resolving != NULL) {
    u->resolving->u = NULL; /* its callback frees it */
    uv_cancel((uv_req_t *)&u->resolving->req);
    u->resolving = NULL;
  }
  if (u->conn != NULL)
    conn_close(u->conn); /* never pool a connection with unread bytes */
}

void sb_up_h1_pause(sb_upstream_t *u)
{
  sb_h1_conn_t *c = u->conn;
  if (c == NULL || c->connecting || c->handshaking)
    return;
  rewatch(c);
}

void sb_up_h1_resume(sb_upstream_t *u)
{
  u->kick = true; /* deliver on the loop's next turn, not inside resume */
  sb_up_arm(u);
}

/* The deferred step: a failure from inside start, or the bytes kept while
 * paused (and those TLS holds), then reading again. */
void sb_up_h1_step(sb_upstream_t *u)
{
  if (u->finished)
    return;
  if (u->pend_set) {
    u->pend_set = false;
    fail(u, u->pend_result, u->pend_why);
    return;
  }
  sb_h1_conn_t *c = u->conn;
  if (c == NULL || u->paused || c->connecting || c->handshaking) {
    sb_up_arm(u);
    return;
  }
  if (c->saved != NULL) {
    if (c->piece > 0) {
      sb_status_t rc = sb_up_deliver_data(u, c->saved + c->saved_off, c->piece);
      if (u->cancelled) {
        sb_up_release(u);
        return;
      }
      if (rc == SB_AGAIN)
        return; /* paused on the same bytes again */
      if (rc != SB_OK) {
        fail(u, SB_UP_ABORTED, "the response was refused by the caller");
        return;
      }
      c->saved_off += c->piece;
      c->piece = 0;
      if (u->paused)
        return;
    }
    char *s = c->saved;
    feed(c, s + c->saved_off, c->saved_len - c->saved_off);
    if (u->finished || u->conn != c || u->paused)
      return;
    if (c->saved == s) { /* everything kept was consumed */
      free(c->saved);
      c->saved = NULL;
      c->saved_off = c->saved_len = c->piece = 0;
    }
  }
  if (c->ssl != NULL && sb_up_tls_pending(c->ssl))
    read_some(c); /* no poll event would say so */
  else
    rewatch(c);
  if (!u->finished)
    sb_up_arm(u);
}

/* ---- the multi's part ---------------------------------------------------------- */

static void idle_timer_close_cb(uv_handle_t *h)
{
  sb_up_handle_closed(h->data);
}

void sb_up_h1_init(sb_upstream_multi_t *m)
{
  uv_timer_init(m->loop, &m->idle_timer);
  m->idle_timer.data = m;
  m->open_handles++;
}

void sb_up_h1_free(sb_upstream_multi_t *m)
{
  while (m->idle_head != NULL)
    conn_close(m->idle_head);
  for (size_t i = 0; i < m->n_hosts; i++) {
    sb_up_tls_host_free(m->hosts[i]);
    free(m->hosts[i]);
  }
  m->n_hosts = 0;
  sb_up_tls_free_all(m);
  uv_timer_stop(&m->idle_timer);
  uv_close((uv_handle_t *)&m->idle_timer, idle_timer_close_cb);
}
