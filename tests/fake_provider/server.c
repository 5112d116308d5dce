/*
 * The fake provider's HTTP/1.1 server: one libuv loop, keep-alive,
 * Content-Length and chunked request bodies, chunked streaming responses.
 * A connection serves one request at a time; bytes that arrive while a
 * response is in progress wait in `pending` (reading goes on, so a client
 * that hangs up mid-stream is noticed and counted as cancelled).
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fake_provider.h"

#define MAX_BODY (64u << 20)
#define MAX_HEAD (64u << 10)

struct fake_conn {
  uv_tcp_t tcp;
  http_parser parser;
  fake_request_t req;
  char *url;
  size_t url_len;
  char *field;     /* header name being read */
  size_t field_len;
  char *value;
  size_t value_len;
  bool in_value;
  size_t head_bytes;
  size_t body_cap;
  bool busy;       /* a response is in progress */
  bool closing;
  bool keep_alive;
  bool chunked;    /* the response in progress is chunked */
  char *pending;   /* bytes received while busy */
  size_t pending_len;
  void (*on_abort)(void *);
  void *abort_data;
};

static uv_loop_t *loop;
static http_parser_settings settings;

uv_loop_t *fake_loop(void) { return loop; }

static char *grow(char *p, size_t *len, const char *at, size_t n, size_t cap)
{
  if (*len + n > cap)
    return NULL;
  char *q = realloc(p, *len + n + 1);
  if (q == NULL)
    return NULL;
  memcpy(q + *len, at, n);
  *len += n;
  q[*len] = '\0';
  return q;
}

static void request_clear(fake_conn_t *c)
{
  free(c->url);
  free(c->field);
  free(c->value);
  free(c->req.path);
  free(c->req.query);
  free(c->req.body);
  json_decref(c->req.headers);
  c->url = c->field = c->value = NULL;
  c->url_len = c->field_len = c->value_len = 0;
  c->in_value = false;
  c->head_bytes = 0;
  c->body_cap = 0;
  memset(&c->req, 0, sizeof(c->req));
  c->req.headers = json_object();
}

static void close_cb(uv_handle_t *h)
{
  fake_conn_t *c = h->data;
  request_clear(c);
  json_decref(c->req.headers);
  free(c->pending);
  free(c);
}

static void conn_close(fake_conn_t *c)
{
  if (c->closing)
    return;
  c->closing = true;
  if (c->busy && c->on_abort != NULL) {
    void (*fn)(void *) = c->on_abort;
    c->on_abort = NULL;
    fn(c->abort_data); /* the handler stops its timers */
  }
  uv_close((uv_handle_t *)&c->tcp, close_cb);
}

bool fake_conn_gone(const fake_conn_t *c) { return c->closing; }

void fake_conn_set_abort(fake_conn_t *c, void (*fn)(void *), void *data)
{
  c->on_abort = fn;
  c->abort_data = data;
}

/* ---- writing ----------------------------------------------------------- */

typedef struct {
  uv_write_t req;
  char data[];
} wreq_t;

static void write_cb(uv_write_t *w, int status)
{
  (void)status;
  free(w); /* the uv_write_t is the first member of wreq_t */
}

static void raw_write(fake_conn_t *c, const char *data, size_t len)
{
  if (c->closing || len == 0)
    return;
  wreq_t *w = malloc(sizeof(*w) + len);
  if (w == NULL)
    return;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(w);
    conn_close(c);
  }
}

static const char *reason(int status)
{
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 529: return "Overloaded";
  default: return "Status";
  }
}

static size_t head(char *buf, size_t cap, int status, const char *ctype,
                   json_t *extra, const char *framing, bool close)
{
  size_t n = (size_t)snprintf(buf, cap, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s",
                              status, reason(status), ctype, framing);
  const char *k;
  json_t *v;
  json_object_foreach(extra, k, v)
  {
    char num[32];
    const char *s = json_string_value(v);
    if (s == NULL && json_is_number(v)) {
      snprintf(num, sizeof(num), "%g", json_number_value(v));
      s = num;
    }
    if (s != NULL && n < cap)
      n += (size_t)snprintf(buf + n, cap - n, "%s: %s\r\n", k, s);
  }
  if (close && n < cap)
    n += (size_t)snprintf(buf + n, cap - n, "Connection: close\r\n");
  if (n < cap)
    n += (size_t)snprintf(buf + n, cap - n, "\r\n");
  return n < cap ? n : cap;
}

static void finish_response(fake_conn_t *c);

void fake_respond(fake_conn_t *c, int status, const char *ctype, json_t *extra,
                  const char *body, size_t len)
{
  char h[4096], framing[64];
  snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n", len);
  size_t n = head(h, sizeof(h), status, ctype, extra, framing, !c->keep_alive);
  raw_write(c, h, n);
  raw_write(c, body, len);
  finish_response(c);
}

void fake_stream_begin(fake_conn_t *c, json_t *extra)
{
  char h[4096];
  size_t n = head(h, sizeof(h), 200, "text/event-stream", extra,
                  "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n",
                  !c->keep_alive);
  c->chunked = true;
  raw_write(c, h, n);
}

void fake_stream_write(fake_conn_t *c, const char *data, size_t len)
{
  if (c->closing || len == 0)
    return;
  char size[24];
  int sl = snprintf(size, sizeof(size), "%zx\r\n", len);
  wreq_t *w = malloc(sizeof(*w) + (size_t)sl + len + 2);
  if (w == NULL)
    return;
  memcpy(w->data, size, (size_t)sl);
  memcpy(w->data + sl, data, len);
  memcpy(w->data + sl + len, "\r\n", 2);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)((size_t)sl + len + 2));
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(w);
    conn_close(c);
  }
}

void fake_stream_end(fake_conn_t *c)
{
  raw_write(c, "0\r\n\r\n", 5);
  c->chunked = false;
  finish_response(c);
}

static void drop_shutdown_cb(uv_shutdown_t *req, int status)
{
  fake_conn_t *c = req->data;
  (void)status;
  free(req);
  uv_close((uv_handle_t *)&c->tcp, close_cb);
}

void fake_conn_drop(fake_conn_t *c)
{
  c->on_abort = NULL;
  c->busy = false;
  if (c->closing)
    return;
  c->closing = true;
  /* A plain close once what was written is flushed: the client sees the
   * stream end without its terminating chunk (data a reset could discard
   * on the client side is delivered first). */
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, drop_shutdown_cb) != 0) {
    free(req);
    uv_close((uv_handle_t *)&c->tcp, close_cb);
    return;
  }
  req->data = c;
}

/* ---- reading ------------------------------------------------------------ */

static int on_url(http_parser *p, const char *at, size_t n)
{
  fake_conn_t *c = p->data;
  c->head_bytes += n;
  c->url = grow(c->url, &c->url_len, at, n, MAX_HEAD);
  return c->url == NULL ? -1 : 0;
}

static void flush_header(fake_conn_t *c)
{
  if (c->field == NULL)
    return;
  for (size_t i = 0; i < c->field_len; i++)
    c->field[i] = (char)tolower((unsigned char)c->field[i]);
  json_t *old = json_object_get(c->req.headers, c->field);
  const char *v = c->value != NULL ? c->value : "";
  if (old != NULL) {
    size_t n = strlen(json_string_value(old)) + strlen(v) + 3;
    char *joined = malloc(n);
    snprintf(joined, n, "%s, %s", json_string_value(old), v);
    json_object_set_new(c->req.headers, c->field, json_string(joined));
    free(joined);
  } else {
    json_object_set_new(c->req.headers, c->field, json_string(v));
  }
  free(c->field);
  free(c->value);
  c->field = c->value = NULL;
  c->field_len = c->value_len = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
  fake_conn_t *c = p->data;
  if (c->in_value) {
    flush_header(c);
    c->in_value = false;
  }
  c->head_bytes += n;
  c->field = grow(c->field, &c->field_len, at, n, MAX_HEAD);
  return c->field == NULL || c->head_bytes > MAX_HEAD ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
  fake_conn_t *c = p->data;
  c->in_value = true;
  c->head_bytes += n;
  if (n == 0 && c->value == NULL)
    c->value = calloc(1, 1);
  else
    c->value = grow(c->value, &c->value_len, at, n, MAX_HEAD);
  return c->value == NULL || c->head_bytes > MAX_HEAD ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
  fake_conn_t *c = p->data;
  flush_header(c);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
  fake_conn_t *c = p->data;
  if (c->req.body_len + n > MAX_BODY)
    return -1;
  if (c->req.body_len + n + 1 > c->body_cap) {
    size_t cap = c->body_cap ? c->body_cap : 4096;
    while (cap < c->req.body_len + n + 1)
      cap *= 2;
    char *b = realloc(c->req.body, cap);
    if (b == NULL)
      return -1;
    c->req.body = b;
    c->body_cap = cap;
  }
  memcpy(c->req.body + c->req.body_len, at, n);
  c->req.body_len += n;
  c->req.body[c->req.body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p)
{
  fake_conn_t *c = p->data;
  snprintf(c->req.method, sizeof(c->req.method), "%s",
           http_method_str((enum http_method)p->method));
  const char *u = c->url != NULL ? c->url : "/";
  const char *q = strchr(u, '?');
  c->req.path = q ? strndup(u, (size_t)(q - u)) : strdup(u);
  c->req.query = strdup(q ? q + 1 : "");
  if (c->req.body == NULL)
    c->req.body = calloc(1, 1);
  c->keep_alive = http_should_keep_alive(p) != 0;
  c->busy = true;
  http_parser_pause(p, 1);
  return 0;
}

static void feed(fake_conn_t *c, const char *data, size_t len);

static void finish_response(fake_conn_t *c)
{
  c->busy = false;
  c->on_abort = NULL;
  if (c->closing)
    return;
  if (!c->keep_alive) {
    uv_close((uv_handle_t *)&c->tcp, close_cb);
    c->closing = true;
    return;
  }
  request_clear(c);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (c->pending_len > 0) {
    char *p = c->pending;
    size_t n = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    feed(c, p, n);
    free(p);
  }
}

static void feed(fake_conn_t *c, const char *data, size_t len)
{
  if (c->busy) {
    size_t n = c->pending_len;
    c->pending = grow(c->pending, &n, data, len, MAX_BODY);
    c->pending_len = n;
    return;
  }
  size_t used = http_parser_execute(&c->parser, &settings, data, len);
  if (c->busy) {
    if (used < len) {
      size_t n = 0;
      c->pending = grow(c->pending, &n, data + used, len - used, MAX_BODY);
      c->pending_len = n;
    }
    script_handle(c, &c->req);
    return;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
    const char *msg = "{\"error\":{\"message\":\"bad request\"}}";
    c->keep_alive = false;
    c->busy = true;
    fake_respond(c, 400, "application/json", NULL, msg, strlen(msg));
  }
}

static char read_buf[256 * 1024];

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b)
{
  (void)h;
  (void)s;
  *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  fake_conn_t *c = s->data;
  (void)b;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n > 0 && !c->closing)
    feed(c, read_buf, (size_t)n);
}

static void on_connection(uv_stream_t *server, int status)
{
  if (status < 0)
    return;
  fake_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->req.headers = json_object();
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, close_cb);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void on_signal(uv_signal_t *s, int sig)
{
  (void)sig;
  uv_stop(s->loop);
}

int main(int argc, char **argv)
{
  const char *host = "127.0.0.1";
  int port = 0;
  size_t max_recorded = 1000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp(argv[i], "--max-recorded") == 0 && i + 1 < argc)
      max_recorded = (size_t)atol(argv[++i]);
    else {
      fprintf(stderr, "usage: fake_provider [--port N] [--host H] [--max-recorded N]\n");
      return 2;
    }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  http_parser_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
  script_init(max_recorded);

  uv_tcp_t server;
  struct sockaddr_in addr;
  uv_tcp_init(loop, &server);
  if (uv_ip4_addr(host, port, &addr) != 0 ||
      uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&server, 8192, on_connection) != 0) {
    fprintf(stderr, "fake_provider: cannot listen on %s:%d\n", host, port);
    return 1;
  }
  struct sockaddr_in bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  printf("listening on %s:%d\n", host, ntohs(bound.sin_port));
  fflush(stdout);
  uv_signal_t sigint, sigterm;
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
