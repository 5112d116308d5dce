/* SPDX-License-Identifier: MIT */
/*
 * One client connection: reading, request timeouts, dispatch to the
 * handler, response and stream writing, and closing.
 *
 * A connection handles one exchange at a time. Bytes that arrive while an
 * exchange is in flight (a pipelined request) wait in `pending` and are
 * parsed once the response is finished; reading continues meanwhile so a
 * client that hangs up is noticed at once and its upstream transfer can be
 * cancelled.
 *
 * Memory rules: the connection is freed only in the close callback of its
 * last handle, and only when no exchange is still owned by a handler (an
 * aborted exchange keeps the connection alive until the handler finishes
 * it). Write buffers live until their write callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "switchboard/log.h"
#include "switchboard/worker.h"

#define PENDING_MAX (64 * 1024)

typedef enum {
  READ_IDLE,    /* waiting for the first byte of a request */
  READ_HEAD,    /* request line and headers */
  READ_BODY,    /* body */
  READ_HANDLER  /* request complete; an exchange is in flight */
} read_state_t;

struct sb_http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  sb_worker_t *w;
  const sb_http_settings_t *settings;
  sb_http_parser_t parser;
  sb_http_exchange_t *x;
  sb_buf_t pending;
  size_t write_queue; /* bytes handed to uv_write, not yet written */
  sb_buf_t out;       /* written during this loop turn, sent at its end */
  sb_http_conn_t *flush_prev, *flush_next; /* in w->flush_list */
  bool flush_listed;
  struct sockaddr_storage peer;
  bool loopback;
  read_state_t state;
  bool keep_alive;    /* after the current response */
  bool closing;       /* uv_close started (or about to) */
  bool shutting_down; /* waiting for queued writes before closing */
  bool over_high_water;
  bool reading;
  int open_handles;
  sb_http_conn_t *prev, *next;
};

typedef struct {
  uv_write_t req;
  sb_http_conn_t *conn;
  size_t len;
  char data[];
} write_req_t;

static void conn_close(sb_http_conn_t *c);
static void conn_process(sb_http_conn_t *c, const char *data, size_t len);
static void conn_error_response(sb_http_conn_t *c, int status,
                                const char *message);
static void conn_read_start(sb_http_conn_t *c);

/* ---- helpers ------------------------------------------------------------ */

uint64_t sb_worker_rand(sb_worker_t *w)
{
  uint64_t s1 = w->rng[0];
  const uint64_t s0 = w->rng[1];
  w->rng[0] = s0;
  s1 ^= s1 << 23;
  w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return w->rng[1] + s0;
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                               0, 0, 0, 0, 0xff, 0xff};
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return true;
    return memcmp(in6->sin6_addr.s6_addr, v4mapped, 12) == 0 &&
           in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

static void timer_arm(sb_http_conn_t *c, uint32_t ms);

static void conn_set_state(sb_http_conn_t *c, read_state_t s)
{
  /* a body and a handler follow a request's head */
  SB_INVARIANT((s != READ_BODY && s != READ_HANDLER) ||
               c->state == READ_HEAD || c->state == READ_BODY);
  c->state = s;
  switch (s) {
  case READ_IDLE:
    timer_arm(c, c->settings->idle_timeout_ms);
    break;
  case READ_HEAD:
    timer_arm(c, c->settings->request_timeout_ms);
    break;
  case READ_BODY:
    /* The body deadline restarts with every read: a large upload on a
     * slow link is fine, a stalled one is not. */
    timer_arm(c, c->settings->request_timeout_ms);
    break;
  case READ_HANDLER:
    uv_timer_stop(&c->timer);
    break;
  }
}

/* ---- writing ------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status)
{
  write_req_t *wr = SB_CONTAINER_OF(req, write_req_t, req);
  sb_http_conn_t *c = wr->conn;
  c->write_queue -= wr->len;
  free(wr);
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->over_high_water && c->write_queue <= c->settings->write_low_water) {
    c->over_high_water = false;
    if (c->x != NULL && !c->x->aborted && c->x->on_drain != NULL)
      c->x->on_drain(c->x);
  }
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
  sb_http_conn_t *c = req->data;
  free(req);
  (void)status;
  conn_close(c);
}

/* Write `bufs` now if the socket takes them, else copy what is left into
 * one heap block and queue it. Returns SB_ERROR if the connection is dead
 * or over its hard cap. */
static sb_status_t write_now(sb_http_conn_t *c, uv_buf_t *bufs, unsigned n)
{
  size_t total = 0;
  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  size_t done = 0;
  if (c->write_queue == 0) {
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (r >= 0)
      done = (size_t)r;
    else if (r != UV_EAGAIN)
      return SB_ERROR;
    if (done == total)
      return SB_OK;
  }
  size_t rest = total - done;
  if (c->write_queue + rest > c->settings->max_write_queue) {
    SB_WARN("client write queue over %zu bytes: dropping the client",
            c->settings->max_write_queue);
    return SB_ERROR;
  }
  write_req_t *wr = malloc(sizeof(*wr) + rest);
  if (wr == NULL)
    return SB_ERROR;
  size_t off = 0, skip = done;
  for (unsigned i = 0; i < n; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(wr->data + off, bufs[i].base + skip, len - skip);
    off += len - skip;
    skip = 0;
  }
  wr->conn = c;
  wr->len = rest;
  uv_buf_t b = uv_buf_init(wr->data, (unsigned)rest);
  if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(wr);
    return SB_ERROR;
  }
  c->write_queue += rest;
  if (c->write_queue > c->settings->write_high_water)
    c->over_high_water = true;
  return SB_OK;
}

/* ---- coalescing ----------------------------------------------------------
 * Everything a connection is given to write during one turn of the loop
 * (a response head, the SSE events decoded from one upstream read, the
 * end of the stream, the next pipelined response) leaves in one write
 * at the end of the turn (see flush_check_cb): one system call instead
 * of one per event, and no added delay. Writes too big to be worth a copy
 * go out at once, behind what was gathered. */
#define OUT_COALESCE_MAX (64 * 1024)
#define OUT_KEEP_CAP (4 * 1024) /* a bigger buffer is freed once flushed */

static void flush_unlist(sb_http_conn_t *c)
{
  if (!c->flush_listed)
    return;
  if (c->flush_prev != NULL)
    c->flush_prev->flush_next = c->flush_next;
  else
    c->w->flush_list = c->flush_next;
  if (c->flush_next != NULL)
    c->flush_next->flush_prev = c->flush_prev;
  c->flush_prev = c->flush_next = NULL;
  c->flush_listed = false;
}

static void out_done(sb_http_conn_t *c)
{
  flush_unlist(c);
  if (c->out.cap > OUT_KEEP_CAP)
    sb_buf_free(&c->out);
  else
    sb_buf_reset(&c->out);
}

/* Send what was gathered. On failure the connection is closed. */
static sb_status_t conn_flush(sb_http_conn_t *c)
{
  if (c->out.len == 0) {
    out_done(c);
    return SB_OK;
  }
  uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  sb_status_t rc = write_now(c, &b, 1);
  out_done(c);
  if (rc != SB_OK) {
    c->keep_alive = false;
    conn_close(c);
  }
  return rc;
}

static void flush_list_add(sb_http_conn_t *c)
{
  if (c->flush_listed)
    return;
  sb_worker_t *w = c->w;
  c->flush_prev = NULL;
  c->flush_next = w->flush_list;
  if (w->flush_list != NULL)
    w->flush_list->flush_prev = c;
  w->flush_list = c;
  c->flush_listed = true;
}

/* A handler told SB_AGAIN waits for on_drain: it comes from write_cb when
 * queued bytes drain, or from here when gathered bytes went out at once.
 * Only ever called from the loop, never from inside a handler's write. */
static void maybe_drained(sb_http_conn_t *c)
{
  if (!c->over_high_water || c->write_queue > c->settings->write_low_water)
    return;
  c->over_high_water = false;
  if (c->x != NULL && !c->x->aborted && c->x->on_drain != NULL)
    c->x->on_drain(c->x);
}

static void flush_all(sb_worker_t *w)
{
  sb_http_conn_t *c;
  /* A drained handler may write again: c is listed anew and sent below. */
  while ((c = w->flush_list) != NULL)
    if (conn_flush(c) == SB_OK) /* unlists c; closes it on failure */
      maybe_drained(c);
}

/* After the I/O callbacks of a turn (check), and before the loop blocks
 * for the next one (prepare), so that writes made in timer callbacks (a
 * transfer that curl completes from its timer) do not wait for the next
 * event. */
static void flush_check_cb(uv_check_t *h)
{
  flush_all(h->data);
}

static void flush_prepare_cb(uv_prepare_t *h)
{
  flush_all(h->data);
}

void sb_http_worker_init(sb_worker_t *w)
{
  w->flush_list = NULL;
  uv_check_init(&w->loop, &w->flush_check);
  w->flush_check.data = w;
  uv_check_start(&w->flush_check, flush_check_cb);
  uv_unref((uv_handle_t *)&w->flush_check); /* never keeps the loop alive */
  uv_prepare_init(&w->loop, &w->flush_prepare);
  w->flush_prepare.data = w;
  uv_prepare_start(&w->flush_prepare, flush_prepare_cb);
  uv_unref((uv_handle_t *)&w->flush_prepare);
}

void sb_http_worker_close(sb_worker_t *w, uv_close_cb cb)
{
  uv_check_stop(&w->flush_check);
  uv_close((uv_handle_t *)&w->flush_check, cb);
  uv_prepare_stop(&w->flush_prepare);
  uv_close((uv_handle_t *)&w->flush_prepare, cb);
}

static sb_status_t conn_write(sb_http_conn_t *c, uv_buf_t *bufs, unsigned n)
{
  if (c->closing || c->shutting_down)
    return SB_ERROR;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  if (c->out.len + total <= OUT_COALESCE_MAX) {
    for (unsigned i = 0; i < n; i++)
      if (sb_buf_append(&c->out, bufs[i].base, bufs[i].len) != SB_OK)
        return SB_ERROR;
    flush_list_add(c);
    if (c->write_queue + c->out.len > c->settings->write_high_water)
      c->over_high_water = true;
    return SB_OK;
  }
  /* Big: what was gathered, then these, in one write. */
  uv_buf_t all[12];
  unsigned k = 0;
  if (n + 1 > SB_ARRAY_LEN(all))
    return SB_ERROR;
  if (c->out.len > 0)
    all[k++] = uv_buf_init(c->out.data, (unsigned)c->out.len);
  for (unsigned i = 0; i < n; i++)
    all[k++] = bufs[i];
  sb_status_t rc = write_now(c, all, k);
  out_done(c);
  if (rc == SB_OK && c->over_high_water &&
      c->write_queue <= c->settings->write_low_water)
    flush_list_add(c); /* the check callback tells the handler */
  return rc;
}

/* Close once everything queued has been written. */
static void conn_close_after_writes(sb_http_conn_t *c)
{
  if (c->closing || c->shutting_down)
    return;
  if (conn_flush(c) != SB_OK)
    return; /* closed */
  if (c->write_queue == 0) {
    conn_close(c);
    return;
  }
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
    free(req);
    conn_close(c);
    return;
  }
  req->data = c;
  c->shutting_down = true;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

/* ---- exchanges ---------------------------------------------------------- */

static void exchange_free(sb_http_exchange_t *x)
{
  sb_arena_destroy(&x->arena);
  free(x);
}

static void conn_free(sb_http_conn_t *c)
{
  sb_http_parser_free(&c->parser);
  sb_buf_free(&c->pending);
  sb_buf_free(&c->out);
  free(c);
}

/* The handler is done with the exchange: free it and move the connection
 * on to the next request (or close it). */
static void exchange_finish(sb_http_exchange_t *x)
{
  sb_http_conn_t *c = x->conn;
  x->finished = true;
  if (x->streaming && c->w->n_active_streams > 0)
    sb_worker_count(&c->w->n_active_streams, (uint64_t)-1);
  if (c->settings->on_finish != NULL)
    c->settings->on_finish(x);
  c->x = NULL;
  exchange_free(x);
  if (c->closing) {
    /* The connection may have waited for this exchange to be freed. */
    if (c->open_handles == 0)
      conn_free(c);
    return;
  }
  if (!c->keep_alive || c->w->stopping) {
    conn_close_after_writes(c);
    return;
  }
  sb_http_parser_reset(&c->parser);
  /* A pipelined request may be waiting in `pending`: it is parsed from the
   * timer on the next loop turn rather than from here, which is still
   * inside the previous handler's call. */
  c->state = READ_IDLE;
  timer_arm(c, c->pending.len > 0 ? 0 : c->settings->idle_timeout_ms);
  if (!c->reading && !c->shutting_down)
    conn_read_start(c);
}

static void format_head(sb_buf_t *b, int status, const char *content_type,
                        const sb_http_header_t *headers, size_t n_headers,
                        sb_slice_t extra, bool chunked, size_t content_length,
                        bool close)
{
  /* plain appends: this runs for every response */
  sb_buf_append(b, "HTTP/1.1 ", 9);
  sb_buf_append_u64(b, (uint64_t)status);
  sb_buf_append(b, " ", 1);
  sb_buf_appendz(b, sb_http_status_text(status));
  sb_buf_append(b, "\r\n", 2);
  if (content_type != NULL) {
    sb_buf_append(b, "Content-Type: ", 14);
    sb_buf_appendz(b, content_type);
    sb_buf_append(b, "\r\n", 2);
  }
  for (size_t i = 0; i < n_headers; i++) {
    sb_buf_append_slice(b, headers[i].name);
    sb_buf_append(b, ": ", 2);
    sb_buf_append_slice(b, headers[i].value);
    sb_buf_append(b, "\r\n", 2);
  }
  if (extra.len > 0)
    sb_buf_append_slice(b, extra);
  if (chunked) {
    sb_buf_appendz(b, "Transfer-Encoding: chunked\r\n");
  } else if (content_length != SIZE_MAX) {
    sb_buf_appendz(b, "Content-Length: ");
    sb_buf_append_u64(b, content_length);
    sb_buf_append(b, "\r\n", 2);
  }
  if (close)
    sb_buf_appendz(b, "Connection: close\r\n");
  sb_buf_append(b, "\r\n", 2);
}

/* extra_head := extra_head + line, in the exchange's arena. */
static void append_head(sb_http_exchange_t *x, const char *line, size_t n)
{
  char *h = sb_arena_alloc(&x->arena, x->extra_head.len + n + 1);
  if (h == NULL)
    return;
  if (x->extra_head.len > 0)
    memcpy(h, x->extra_head.ptr, x->extra_head.len);
  memcpy(h + x->extra_head.len, line, n);
  h[x->extra_head.len + n] = '\0';
  x->extra_head = sb_slice(h, x->extra_head.len + n);
}

void sb_http_add_head(sb_http_exchange_t *x, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof(line))
    append_head(x, line, (size_t)n);
}

void sb_http_add_head_num(sb_http_exchange_t *x, const char *name, uint64_t v)
{
  char line[128];
  size_t nn = strlen(name);
  if (nn > sizeof(line) - 24)
    return;
  memcpy(line, name, nn);
  line[nn++] = ':';
  line[nn++] = ' ';
  nn += sb_u64_dec(line + nn, v);
  line[nn++] = '\r';
  line[nn++] = '\n';
  append_head(x, line, nn);
}

void sb_http_respond(sb_http_exchange_t *x, int status,
                     const sb_http_header_t *headers, size_t n_headers,
                     const char *content_type, sb_slice_t body)
{
  sb_http_conn_t *c = x->conn;
  if (x->finished)
    return;
  if (!x->aborted && !c->closing) {
    x->status = status;
    bool close = !c->keep_alive || c->w->stopping;
    c->keep_alive = !close;
    sb_buf_t head;
    sb_buf_init(&head, 64 * 1024);
    /* a 304 has no body, and a Content-Length would have to be the
     * 200's (RFC 9110, 8.6): none */
    format_head(&head, status, content_type, headers, n_headers,
                x->extra_head, false, status == 304 ? SIZE_MAX : body.len,
                close);
    uv_buf_t bufs[2] = {uv_buf_init(head.data, (unsigned)head.len),
                        uv_buf_init((char *)body.ptr, (unsigned)body.len)};
    bool head_only = x->req.method == HTTP_HEAD;
    if (head.data == NULL ||
        conn_write(c, bufs, head_only || body.len == 0 ? 1 : 2) != SB_OK) {
      c->keep_alive = false;
      conn_close(c);
    }
    sb_buf_free(&head);
  }
  exchange_finish(x);
}

sb_status_t sb_http_stream_begin(sb_http_exchange_t *x, int status,
                                 const char *content_type,
                                 const sb_http_header_t *headers,
                                 size_t n_headers)
{
  sb_http_conn_t *c = x->conn;
  if (x->aborted || c->closing)
    return SB_ERROR;
  x->status = status;
  x->streaming = true;
  sb_worker_count(&c->w->n_active_streams, 1);
  /* HTTP/1.0 has no chunked encoding: the end of the stream is the end of
   * the connection. */
  bool chunked = !(x->req.http_major == 1 && x->req.http_minor == 0);
  if (!chunked)
    c->keep_alive = false;
  if (c->w->stopping)
    c->keep_alive = false;
  sb_buf_t head;
  sb_buf_init(&head, 64 * 1024);
  format_head(&head, status, content_type, headers, n_headers,
              x->extra_head, chunked, SIZE_MAX, !c->keep_alive);
  uv_buf_t b = uv_buf_init(head.data, (unsigned)head.len);
  sb_status_t rc = head.data != NULL ? conn_write(c, &b, 1) : SB_ERROR;
  sb_buf_free(&head);
  if (rc != SB_OK) {
    c->keep_alive = false;
    conn_close(c);
  }
  return rc;
}

sb_status_t sb_http_stream_write(sb_http_exchange_t *x, const sb_slice_t *parts,
                                 size_t n)
{
  sb_http_conn_t *c = x->conn;
  if (x->aborted || c->closing || c->shutting_down)
    return SB_ERROR;
  uv_buf_t bufs[10];
  char size_line[24];
  size_t total = 0;
  if (n > SB_ARRAY_LEN(bufs) - 2)
    return SB_ERROR;
  for (size_t i = 0; i < n; i++)
    total += parts[i].len;
  if (total == 0)
    return SB_OK;
  bool chunked = !(x->req.http_major == 1 && x->req.http_minor == 0);
  unsigned nb = 0;
  if (chunked) {
    /* the chunk's size in hex, then CRLF (written backwards) */
    static const char hexdig[] = "0123456789abcdef";
    size_t at = sizeof(size_line);
    size_line[--at] = '\n';
    size_line[--at] = '\r';
    for (size_t v = total; v != 0; v >>= 4)
      size_line[--at] = hexdig[v & 15];
    bufs[nb++] = uv_buf_init(size_line + at, (unsigned)(sizeof(size_line) - at));
  }
  for (size_t i = 0; i < n; i++)
    if (parts[i].len > 0)
      bufs[nb++] = uv_buf_init((char *)parts[i].ptr, (unsigned)parts[i].len);
  if (chunked)
    bufs[nb++] = uv_buf_init("\r\n", 2);
  if (conn_write(c, bufs, nb) != SB_OK) {
    c->keep_alive = false;
    conn_close(c);
    return SB_ERROR;
  }
  return c->over_high_water ? SB_AGAIN : SB_OK;
}

void sb_http_stream_end(sb_http_exchange_t *x)
{
  sb_http_conn_t *c = x->conn;
  if (x->finished)
    return;
  if (!x->aborted && !c->closing) {
    bool chunked = !(x->req.http_major == 1 && x->req.http_minor == 0);
    if (chunked) {
      uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
      if (conn_write(c, &b, 1) != SB_OK)
        c->keep_alive = false;
    }
  }
  exchange_finish(x);
}

size_t sb_http_pending_bytes(const sb_http_exchange_t *x)
{
  return x->conn->write_queue + x->conn->out.len;
}

/* ---- reading and dispatch ---------------------------------------------- */

static void dispatch(sb_http_conn_t *c)
{
  sb_http_exchange_t *x = calloc(1, sizeof(*x));
  if (x == NULL) {
    conn_error_response(c, 503, "out of memory");
    return;
  }
  sb_arena_init(&x->arena, 16 * 1024, 0);
  if (sb_http_parser_request(&c->parser, &x->arena, &x->req) != SB_OK) {
    exchange_free(x);
    conn_error_response(c, 503, "out of memory");
    return;
  }
  x->worker = c->w;
  x->conn = c;
  x->peer = c->peer;
  x->peer_is_loopback = c->loopback;
  x->start_ns = sb_now_ns();
  c->x = x;
  c->keep_alive = x->req.keep_alive;
  sb_worker_count(&c->w->n_requests, 1);
  conn_set_state(c, READ_HANDLER);
  c->settings->handler(x);
}

static void conn_error_response(sb_http_conn_t *c, int status,
                                const char *message)
{
  /* A refused request: answer in the OpenAI/OpenRouter error shape (the
   * most common client here) and close, since the stream position is no
   * longer trustworthy. */
  char body[512];
  int n = snprintf(body, sizeof(body),
                   "{\"error\":{\"code\":%d,\"message\":\"%s\"}}", status,
                   message);
  char head[256];
  int h = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n",
                   status, sb_http_status_text(status), n);
  uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)h),
                      uv_buf_init(body, (unsigned)n)};
  c->keep_alive = false;
  uv_timer_stop(&c->timer);
  if (conn_write(c, bufs, 2) != SB_OK)
    conn_close(c);
  else
    conn_close_after_writes(c);
}

/* Feed bytes to the parser; dispatch a complete request. */
static void conn_process(sb_http_conn_t *c, const char *data, size_t len)
{
  if (c->state == READ_HANDLER) {
    if (sb_buf_append(&c->pending, data, len) != SB_OK) {
      /* Too much pipelined data: stop reading until this exchange is
       * done. A disconnect will still show as a write error. */
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = false;
    }
    return;
  }
  if (c->state == READ_IDLE && len > 0)
    conn_set_state(c, READ_HEAD);
  size_t consumed = 0;
  sb_status_t rc = sb_http_parser_feed(&c->parser, data, len, &consumed);
  if (rc == SB_ERROR) {
    const char *why = c->parser.error ? c->parser.error : "bad request";
    SB_DEBUG("refusing request: %d %s", c->parser.error_status, why);
    conn_error_response(c, c->parser.error_status, why);
    return;
  }
  if (c->parser.headers_done && c->state == READ_HEAD) {
    conn_set_state(c, READ_BODY);
    if (c->parser.expect_continue && rc == SB_AGAIN) {
      uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
      if (conn_write(c, &b, 1) != SB_OK) {
        conn_close(c);
        return;
      }
    }
  } else if (c->state == READ_BODY) {
    conn_set_state(c, READ_BODY);
  }
  if (rc == SB_OK) {
    if (consumed < len &&
        sb_buf_append(&c->pending, data + consumed, len - consumed) != SB_OK) {
      conn_error_response(c, 431, "too much pipelined data");
      return;
    }
    dispatch(c);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  sb_http_conn_t *c = h->data;
  (void)suggested;
  /* One read buffer per worker: everything read is copied by the parser
   * before the next read can happen. */
  *buf = uv_buf_init(c->w->read_buf, sizeof(c->w->read_buf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  sb_http_conn_t *c = s->data;
  (void)buf;
  if (nread == 0)
    return;
  if (nread < 0) {
    /* EOF or error. A client that half-closes after sending its request
     * is treated as gone, as proxies usually do. */
    if (c->state == READ_HEAD || c->state == READ_BODY)
      SB_DEBUG("client closed mid-request");
    conn_close(c);
    return;
  }
  conn_process(c, c->w->read_buf, (size_t)nread);
}

static void conn_read_start(sb_http_conn_t *c)
{
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
    c->reading = true;
}

static void timer_cb(uv_timer_t *t)
{
  sb_http_conn_t *c = t->data;
  switch (c->state) {
  case READ_IDLE:
    if (c->pending.len > 0) {
      /* Parse a waiting pipelined request from a copy, since processing
       * may append to `pending` again. */
      sb_buf_t p = c->pending;
      sb_buf_init(&c->pending, PENDING_MAX);
      conn_set_state(c, READ_IDLE);
      conn_process(c, p.data, p.len);
      sb_buf_free(&p);
    } else {
      conn_close(c);
    }
    break;
  case READ_HEAD:
  case READ_BODY:
    SB_DEBUG("request timeout");
    conn_error_response(c, 408, "request timeout");
    break;
  case READ_HANDLER:
    break;
  }
}

static void timer_arm(sb_http_conn_t *c, uint32_t ms)
{
  if (!c->closing)
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* ---- open and close ----------------------------------------------------- */

static void close_cb(uv_handle_t *h)
{
  sb_http_conn_t *c = h->data;
  if (--c->open_handles > 0)
    return;
  sb_http_exchange_t *x = c->x;
  if (x == NULL) {
    conn_free(c);
    return;
  }
  /* The client went away while a handler owned an exchange. Tell the
   * handler now, from the loop (never from inside one of its own calls);
   * the connection is freed when it finishes the exchange. */
  if (x->on_abort != NULL)
    x->on_abort(x);
}

static void conn_close(sb_http_conn_t *c)
{
  if (c->closing)
    return;
  c->closing = true;
  c->keep_alive = false;
  flush_unlist(c); /* what was gathered is dropped with the connection */
  if (c->x != NULL)
    c->x->aborted = true; /* writes are dropped from now on */
  sb_worker_t *w = c->w;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  w->n_conns--;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, close_cb);
  uv_close((uv_handle_t *)&c->tcp, close_cb);
}

void sb_http_conn_accept(sb_worker_t *w, uv_stream_t *server,
                         const sb_http_settings_t *settings)
{
  sb_http_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->w = w;
  c->settings = settings;
  uv_tcp_init(&w->loop, &c->tcp);
  uv_timer_init(&w->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  sb_http_parser_init(&c->parser, &settings->limits);
  sb_buf_init(&c->pending, PENDING_MAX);
  sb_buf_init(&c->out, c->settings->max_write_queue);
  c->next = w->conns;
  if (w->conns != NULL)
    w->conns->prev = c;
  w->conns = c;
  w->n_conns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int len = sizeof(c->peer);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) == 0)
    c->loopback = addr_is_loopback(&c->peer);
  conn_set_state(c, READ_IDLE);
  conn_read_start(c);
  if (!c->reading)
    conn_close(c);
}

size_t sb_http_conn_shutdown(sb_worker_t *w, bool force)
{
  sb_http_conn_t *c = w->conns;
  while (c != NULL) {
    sb_http_conn_t *next = c->next;
    if (force || (c->x == NULL && c->state == READ_IDLE))
      conn_close(c);
    else
      c->keep_alive = false;
    c = next;
  }
  return w->n_conns;
}
