/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 connections on one libuv loop: http_parser for requests
 * (Content-Length and chunked bodies), keep-alive, pipelining, and writes
 * that go straight to the kernel when they can.
 *
 * A connection answers one request at a time. It keeps reading while a
 * response is in progress, so a client that hangs up mid-stream is noticed
 * at once; bytes of pipelined requests wait in `in` until the response is
 * over. Each connection owns one timer, lent to the job answering it.
 *
 * Lifetimes: a connection is freed when both of its handles are closed.
 * The job attached to it is ended exactly once (end_job) before that, and
 * the current request's buffers are reset only when the next request is
 * parsed, never while a handler may still be on the stack.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

enum { H_URL, H_FIELD, H_VALUE };

struct fp_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  int open_handles;    /* freed when it drops to 0 */
  http_parser parser;
  fp_request_t req;
  int hstate;          /* which part of the head the parser is in */
  int err_status;      /* set by a callback that rejects the request */
  bool msg_complete;   /* the parser finished a request */
  bool need_reset;     /* req belongs to the previous request */
  bool busy;           /* a request is being answered */
  bool keep_alive;
  bool processing;     /* inside process_in: do not re-enter */
  bool resp_done;      /* response written, waiting for writes to drain */
  bool closing;        /* no more writes: shutting down or closed */
  bool closed;         /* uv_close called */
  unsigned writes;     /* uv_write requests in flight */
  fp_buf_t in;         /* received, not parsed yet */
  size_t in_off;
  void *job;
  fp_end_cb end_cb;
};

typedef struct {
  uv_write_t req;
  fp_conn_t *c;
  char data[];
} wreq_t;

static uv_loop_t *loop;
static http_parser_settings settings;
static char read_buf[64 * 1024];

static void process_in(fp_conn_t *c);

/* ---- closing ------------------------------------------------------------------ */

static void free_cb(uv_handle_t *h)
{
  /* the timer's data belongs to the job, so find the conn by offset */
  fp_conn_t *c = h->type == UV_TCP ? h->data
                                   : (fp_conn_t *)(void *)((char *)h - offsetof(fp_conn_t, timer));
  if (--c->open_handles > 0)
    return;
  fp_buf_free(&c->req.head);
  fp_buf_free(&c->req.body);
  fp_buf_free(&c->in);
  free(c);
}

static void end_job(fp_conn_t *c, fp_end_t how)
{
  if (c->job == NULL)
    return;
  void *job = c->job;
  fp_end_cb cb = c->end_cb;
  c->job = NULL;
  c->end_cb = NULL;
  uv_timer_stop(&c->timer);
  cb(job, how);
}

static void close_handles(fp_conn_t *c, bool reset)
{
  if (c->closed)
    return;
  c->closed = c->closing = true;
  if (reset && uv_tcp_close_reset(&c->tcp, free_cb) == 0) {
    /* closing with RST */
  } else {
    uv_close((uv_handle_t *)&c->tcp, free_cb);
  }
  uv_close((uv_handle_t *)&c->timer, free_cb);
}

/* The client went away, or I/O failed: whatever was in progress is
 * cancelled. */
static void conn_abort(fp_conn_t *c)
{
  end_job(c, FP_END_CANCELLED);
  close_handles(c, false);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
  fp_conn_t *c = req->data;
  free(req);
  close_handles(c, false);
}

/* A FIN once every queued write is flushed, then the close. */
static void conn_shutdown(fp_conn_t *c)
{
  if (c->closing)
    return;
  c->closing = true;
  uv_shutdown_t *req = malloc(sizeof(*req)); /* freed in shutdown_cb */
  if (req != NULL)
    req->data = c;
  if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
    free(req);
    close_handles(c, false);
  }
}

/* ---- writing ------------------------------------------------------------------ */

static void response_complete(fp_conn_t *c)
{
  c->resp_done = false;
  end_job(c, FP_END_COMPLETED);
  c->busy = false;
  c->need_reset = true;
  if (!c->keep_alive) {
    conn_shutdown(c);
    return;
  }
  process_in(c); /* a pipelined request may be waiting */
}

static void write_cb(uv_write_t *req, int status)
{
  wreq_t *w = (wreq_t *)req;
  fp_conn_t *c = w->c;
  free(w);
  c->writes--;
  if (status < 0) {
    if (!c->closed)
      conn_abort(c);
    return;
  }
  if (c->writes == 0 && c->resp_done && !c->closing)
    response_complete(c);
}

int fp_conn_write(fp_conn_t *c, const uv_buf_t *bufs, unsigned n)
{
  if (c->closing)
    return -1;
  size_t total = 0, done = 0;
  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  if (total == 0)
    return 0;
  /* Straight to the kernel when nothing is queued (the usual case on
   * loopback): no copy, no allocation. */
  if (c->writes == 0) {
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (r >= 0)
      done = (size_t)r;
    else if (r != UV_EAGAIN)
      goto fail;
    if (done == total)
      return 0;
  }
  wreq_t *w = malloc(sizeof(*w) + total - done);
  if (w == NULL)
    goto fail;
  w->c = c;
  size_t off = 0, skip = done;
  for (unsigned i = 0; i < n; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(w->data + off, bufs[i].base + skip, len - skip);
    off += len - skip;
    skip = 0;
  }
  uv_buf_t b = uv_buf_init(w->data, (unsigned)off);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(w);
    goto fail;
  }
  c->writes++;
  return 0;
fail:
  conn_abort(c);
  return -1;
}

void fp_conn_finish(fp_conn_t *c)
{
  if (c->closing)
    return;
  c->resp_done = true;
  if (c->writes == 0)
    response_complete(c);
}

void fp_conn_cut(fp_conn_t *c, bool reset)
{
  end_job(c, FP_END_CUT);
  if (reset)
    close_handles(c, true);
  else
    conn_shutdown(c);
}

void fp_conn_attach(fp_conn_t *c, void *job, fp_end_cb cb)
{
  c->job = job;
  c->end_cb = cb;
}

uv_timer_t *fp_conn_timer(fp_conn_t *c) { return &c->timer; }
bool fp_conn_keep_alive(const fp_conn_t *c) { return c->keep_alive; }

const char *fp_http_reason(int status)
{
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 529: return "Overloaded";
  default: return status < 400 ? "OK" : "Error";
  }
}

void fp_conn_respond(fp_conn_t *c, int status, const char *ctype, const char *body, size_t len)
{
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\n\r\n",
                   status, fp_http_reason(status), ctype, len,
                   c->keep_alive ? "keep-alive" : "close");
  uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)n), uv_buf_init((char *)body, (unsigned)len)};
  if (fp_conn_write(c, bufs, 2) == 0)
    fp_conn_finish(c);
}

/* ---- parsing ------------------------------------------------------------------ */

const char *fp_req_header(const fp_request_t *r, const char *name)
{
  const char *p = r->head.data + r->headers_off, *end = r->head.data + r->head.len;
  while (p < end) {
    const char *value = p + strlen(p) + 1;
    if (strcmp(p, name) == 0)
      return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

static void request_reset(fp_conn_t *c)
{
  fp_buf_reset(&c->req.head);
  /* a connection that once received a big body does not keep its memory */
  if (c->req.body.cap > (1u << 20))
    fp_buf_free(&c->req.body);
  fp_buf_reset(&c->req.body);
  c->req.method = NULL;
  c->req.query_off = c->req.headers_off = 0;
  c->hstate = H_URL;
  c->err_status = 0;
  c->need_reset = false;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
}

/* The URL is complete: "path\0query\0" at the start of head. */
static void end_url(fp_conn_t *c)
{
  fp_buf_t *h = &c->req.head;
  char *q = h->data != NULL ? memchr(h->data, '?', h->len) : NULL;
  if (q != NULL) {
    *q = '\0';
    c->req.query_off = (size_t)(q - h->data) + 1;
    fp_buf_add(h, "", 1);
  } else {
    fp_buf_add(h, "", 1);
    c->req.query_off = h->len;
    fp_buf_add(h, "", 1);
  }
  c->req.headers_off = h->len;
}

static int head_add(fp_conn_t *c, const char *at, size_t n, bool lower)
{
  fp_buf_t *h = &c->req.head;
  if (h->len + n > FP_MAX_HEAD) {
    c->err_status = 431;
    return -1;
  }
  if (!fp_buf_reserve(h, n))
    return -1;
  for (size_t i = 0; i < n; i++)
    h->data[h->len + i] = lower ? (char)tolower((unsigned char)at[i]) : at[i];
  h->len += n;
  h->data[h->len] = '\0';
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
  return head_add(p->data, at, n, false);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
  fp_conn_t *c = p->data;
  if (c->hstate == H_URL)
    end_url(c);
  else if (c->hstate == H_VALUE)
    fp_buf_add(&c->req.head, "", 1); /* ends the previous value */
  c->hstate = H_FIELD;
  return head_add(c, at, n, true);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
  fp_conn_t *c = p->data;
  if (c->hstate == H_FIELD)
    fp_buf_add(&c->req.head, "", 1); /* ends the name */
  c->hstate = H_VALUE;
  return head_add(c, at, n, false);
}

static int on_headers_complete(http_parser *p)
{
  fp_conn_t *c = p->data;
  fp_buf_t *h = &c->req.head;
  if (c->hstate == H_URL)
    end_url(c);
  else if (c->hstate == H_FIELD)
    fp_buf_add(h, "\0", 2); /* a name without a value */
  else
    fp_buf_add(h, "", 1);
  if (h->failed)
    return -1;
  if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX) {
    if (p->content_length > FP_MAX_BODY) {
      c->err_status = 413;
      return -1;
    }
    if (!fp_buf_reserve(&c->req.body, (size_t)p->content_length))
      return -1;
  }
  /* libcurl waits up to a second for this before sending a large body */
  const char *expect = fp_req_header(&c->req, "expect");
  if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
    if (fp_conn_write(c, &b, 1) != 0)
      return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
  fp_conn_t *c = p->data;
  if (c->req.body.len + n > FP_MAX_BODY) {
    c->err_status = 413;
    return -1;
  }
  fp_buf_add(&c->req.body, at, n);
  return c->req.body.failed ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
  fp_conn_t *c = p->data;
  c->msg_complete = true;
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static void reject(fp_conn_t *c, int status, const char *msg)
{
  c->busy = true;
  c->keep_alive = false;
  fp_respond_error(c, status, "invalid_request_error", msg);
}

/* Parse until a request is complete; returns the bytes used. */
static size_t parse(fp_conn_t *c, const char *data, size_t len)
{
  if (c->need_reset)
    request_reset(c);
  size_t n = http_parser_execute(&c->parser, &settings, data, len);
  if (c->closing)
    return len;
  if (c->msg_complete) {
    c->msg_complete = false;
    c->busy = true;
    c->keep_alive = http_should_keep_alive(&c->parser) != 0;
    c->req.method = http_method_str((enum http_method)c->parser.method);
    fp_dispatch(c, &c->req);
    return n;
  }
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e != HPE_OK || n != len) {
    int status = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    reject(c, status,
           status == 413   ? "request body too large (64 MB max)"
           : status == 431 ? "request head too large"
                           : http_errno_description(e));
    return len;
  }
  return n;
}

/* Parse what is buffered in c->in while no request is being answered. */
static void process_in(fp_conn_t *c)
{
  if (c->processing)
    return; /* the caller up the stack carries on */
  c->processing = true;
  while (!c->busy && !c->closing && c->in_off < c->in.len)
    c->in_off += parse(c, c->in.data + c->in_off, c->in.len - c->in_off);
  if (c->in_off >= c->in.len || c->closing) {
    if (c->in.cap > sizeof(read_buf) * 4)
      fp_buf_free(&c->in);
    fp_buf_reset(&c->in);
    c->in_off = 0;
  } else if (c->in_off > 0) {
    memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
  }
  c->processing = false;
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *b)
{
  /* one shared buffer: every read is parsed before the next one */
  *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  fp_conn_t *c = s->data;
  if (nread < 0) {
    if (!c->closed)
      conn_abort(c);
    return;
  }
  if (nread == 0 || c->closing)
    return;
  size_t len = (size_t)nread;
  if (c->busy || c->processing || c->in_off < c->in.len) {
    if (c->in.len + len > FP_MAX_BODY + 2 * FP_MAX_HEAD) {
      conn_abort(c); /* pipelining more than one maximal request */
      return;
    }
    fp_buf_add(&c->in, b->base, len);
    if (c->in.failed)
      conn_abort(c);
    else
      process_in(c);
    return;
  }
  /* Nothing buffered: parse straight from the read buffer and keep only
   * what follows a complete request. */
  c->processing = true;
  size_t used = 0;
  while (used < len && !c->busy && !c->closing)
    used += parse(c, b->base + used, len - used);
  c->processing = false;
  if (used < len && !c->closing) {
    fp_buf_add(&c->in, b->base + used, len - used);
    if (c->in.failed) {
      conn_abort(c);
      return;
    }
  }
  if (!c->busy)
    process_in(c);
}

void fp_http_on_connection(uv_stream_t *server, int status)
{
  if (status < 0)
    return;
  fp_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->open_handles = 2;
  c->tcp.data = c;
  c->need_reset = true;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    close_handles(c, false);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  request_reset(c);
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
    close_handles(c, false);
}

void fp_http_init(uv_loop_t *l)
{
  loop = l;
  http_parser_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
  if (h->type != UV_TCP || h->data == NULL)
    return; /* the listener has no data; timers close with their conn */
  fp_conn_t *c = h->data;
  if (!c->closed)
    conn_abort(c);
}

void fp_http_close_all(void) { uv_walk(loop, close_walk_cb, NULL); }
