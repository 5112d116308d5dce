/* The upstream client against an in-process loopback HTTP server, scripted
 * per case, on a real libuv loop: plain http:// goes through the native
 * HTTP/1.1 transport (src/upstream/h1.c). Each case asserts what the
 * caller sees (head, exact body bytes, outcome) and what the server saw
 * (the request, how many connections). */
#include "test_helpers.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <uv.h>

#include "switchboard/buf.h"
#include "switchboard/upstream.h"

/* ---- the scripted server ---------------------------------------------------- */

typedef struct server server_t;

typedef struct sconn {
  uv_tcp_t tcp;
  server_t *s;
  int id;                /* 1, 2, ... in accept order */
  int served;            /* requests answered on this connection */
  sb_buf_t in;           /* bytes of the request being received */
  uv_timer_t timer;      /* staged writes */
  int step;
  bool closed;
  struct sconn *next;
} sconn_t;

struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  int accepted;
  int requests;
  sconn_t *conns;
  /* what the case does with a complete request (head + body) */
  void (*on_request)(sconn_t *c, const char *req, size_t head_len,
                     const char *body, size_t body_len);
  void (*on_step)(sconn_t *c); /* staged writes, on c->timer */
  char last_req[2048];
  size_t last_body_len;
  bool body_ok;          /* the 1 MB case: the body was intact */
};

typedef struct {
  uv_write_t req;
  char data[];
} wreq_t;

static void write_done(uv_write_t *w, int status)
{
  (void)status;
  free(w);
}

static void srv_write(sconn_t *c, const char *s, size_t n)
{
  if (c->closed)
    return;
  wreq_t *w = malloc(sizeof(*w) + n);
  assert_non_null(w);
  memcpy(w->data, s, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0)
    free(w);
}

#define SRV_SEND(c, lit) srv_write((c), (lit), sizeof(lit) - 1)

static void sconn_close_cb(uv_handle_t *h)
{
  (void)h; /* freed when the server goes */
}

static void srv_close(sconn_t *c)
{
  if (c->closed)
    return;
  c->closed = true;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, sconn_close_cb);
  uv_close((uv_handle_t *)&c->tcp, sconn_close_cb);
}

static void srv_step_cb(uv_timer_t *t)
{
  sconn_t *c = t->data;
  c->step++;
  c->s->on_step(c);
}

/* Call on_step every `ms` (until srv_stop_steps). */
static void srv_steps(sconn_t *c, uint64_t ms)
{
  uv_timer_start(&c->timer, srv_step_cb, ms, ms);
}

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
  static char buf[65536];
  (void)h;
  (void)hint;
  *b = uv_buf_init(buf, sizeof(buf));
}

static size_t content_length(const char *head, size_t n)
{
  const char *p = head;
  while ((p = memmem(p, n - (size_t)(p - head), "\r\nContent-Length: ", 18)) != NULL)
    return (size_t)strtoul(p + 18, NULL, 10);
  return 0;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
  sconn_t *c = st->data;
  if (n < 0) {
    srv_close(c);
    return;
  }
  sb_buf_append(&c->in, b->base, (size_t)n);
  for (;;) {
    const char *d = c->in.data;
    const char *end = c->in.len > 0 ? memmem(d, c->in.len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
      return;
    size_t head = (size_t)(end - d) + 4;
    size_t blen = content_length(d, head);
    if (c->in.len < head + blen)
      return;
    server_t *s = c->s;
    s->requests++;
    snprintf(s->last_req, sizeof(s->last_req), "%.*s", (int)head, d);
    s->last_body_len = blen;
    s->on_request(c, d, head, d + head, blen);
    c->served++;
    if (c->closed)
      return;
    memmove(c->in.data, c->in.data + head + blen, c->in.len - head - blen);
    c->in.len -= head + blen;
  }
}

static void srv_accept(uv_stream_t *l, int status)
{
  server_t *s = l->data;
  assert_int_equal(status, 0);
  sconn_t *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  c->s = s;
  c->id = ++s->accepted;
  sb_buf_init(&c->in, 0);
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->next = s->conns;
  s->conns = c;
  assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
  uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

static void srv_start(server_t *s, uv_loop_t *loop)
{
  struct sockaddr_in a;
  s->loop = loop;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 64, srv_accept), 0);
  int len = sizeof(a);
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&a, &len);
  s->port = ntohs(a.sin_port);
}

static void srv_stop(server_t *s)
{
  for (sconn_t *c = s->conns; c != NULL; c = c->next)
    srv_close(c);
  uv_close((uv_handle_t *)&s->listener, NULL);
}

static void srv_free(server_t *s)
{
  sconn_t *c = s->conns;
  while (c != NULL) {
    sconn_t *next = c->next;
    sb_buf_free(&c->in);
    free(c);
    c = next;
  }
  s->conns = NULL;
}

/* ---- the client side ---------------------------------------------------------- */

typedef struct rec rec_t;
struct rec {
  uv_loop_t *loop;
  sb_upstream_multi_t *m;
  sb_upstream_t *u;
  int heads, dones, datas;
  long status;
  char ct[128];
  char ra[64];
  sb_buf_t body;
  sb_upstream_outcome_t o;
  /* behaviours */
  bool cancel_on_data;
  bool detach_on_data;      /* detach at the first piece */
  bool detached;            /* ... and the transfer took over */
  bool pause_every_other;   /* refuse each new piece once */
  bool refused_pending;
  sb_buf_t refused;         /* the piece refused last */
  int redelivered;
  uv_timer_t resume_timer;
  void (*then)(rec_t *r);   /* from on_done */
  rec_t *next_rec;
  bool stop_on_done;
};

static void on_head(sb_upstream_t *u, void *data, const sb_upstream_head_t *h)
{
  rec_t *r = data;
  (void)u;
  r->heads++;
  r->status = h->status;
  snprintf(r->ct, sizeof(r->ct), "%.*s", (int)h->content_type.len,
           h->content_type.ptr ? h->content_type.ptr : "");
  snprintf(r->ra, sizeof(r->ra), "%.*s", (int)h->retry_after.len,
           h->retry_after.ptr ? h->retry_after.ptr : "");
}

static void resume_cb(uv_timer_t *t)
{
  rec_t *r = t->data;
  if (r->u != NULL)
    sb_upstream_resume(r->u);
}

static sb_status_t on_data(sb_upstream_t *u, void *data, const char *p, size_t n)
{
  rec_t *r = data;
  assert_int_equal(r->dones, 0);
  r->datas++;
  if (r->cancel_on_data) {
    sb_upstream_cancel(u);
    r->u = NULL;
    uv_stop(r->loop);
    return SB_OK;
  }
  if (r->detach_on_data) {
    sb_buf_append(&r->body, p, n);
    r->detached = sb_upstream_detach(u);
    r->u = NULL;
    return SB_OK;
  }
  if (r->pause_every_other) {
    if (r->refused_pending) {
      /* The same bytes again, exactly. */
      assert_int_equal(n, r->refused.len);
      assert_memory_equal(p, r->refused.data, n);
      r->refused_pending = false;
      r->redelivered++;
    } else {
      r->refused.len = 0;
      sb_buf_append(&r->refused, p, n);
      r->refused_pending = true;
      sb_upstream_resume(u); /* a no-op inside a callback */
      uv_timer_start(&r->resume_timer, resume_cb, 1, 0);
      return SB_AGAIN;
    }
  }
  sb_buf_append(&r->body, p, n);
  return SB_OK;
}

static const sb_upstream_callbacks_t cbs;

static void on_done(sb_upstream_t *u, void *data, const sb_upstream_outcome_t *o)
{
  rec_t *r = data;
  (void)u;
  r->dones++;
  r->o = *o;
  r->u = NULL;
  uv_timer_stop(&r->resume_timer);
  if (r->then != NULL)
    r->then(r);
  else
    uv_stop(r->loop);
}

static const sb_upstream_callbacks_t cbs = {on_head, on_data, on_done};

typedef struct {
  uv_loop_t loop;
  server_t srv;
  sb_upstream_multi_t *m;
  uv_timer_t guard;
} fixture_t;

static void rec_init(rec_t *r, fixture_t *f)
{
  memset(r, 0, sizeof(*r));
  r->loop = &f->loop;
  r->m = f->m;
  sb_buf_init(&r->body, 0);
  sb_buf_init(&r->refused, 0);
  uv_timer_init(&f->loop, &r->resume_timer);
  r->resume_timer.data = r;
}

static void rec_free(rec_t *r)
{
  sb_buf_free(&r->body);
  sb_buf_free(&r->refused);
  uv_close((uv_handle_t *)&r->resume_timer, NULL);
  uv_run(r->loop, UV_RUN_NOWAIT); /* the handle is on the caller's stack */
}

static void guard_cb(uv_timer_t *t)
{
  (void)t;
  /* Not fail_msg: a longjmp out of the loop would hang the teardown. */
  fprintf(stderr, "the case took more than 10 s\n");
  abort();
}

/* answer_trickle: pieces of "ab", one every trickle_ms; trickle_pieces of
 * them, then silence (0: until the client goes). Reset for every test. */
static unsigned trickle_ms, trickle_pieces;

static int setup(void **state)
{
  trickle_ms = 10;
  trickle_pieces = 0;
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  uv_loop_init(&f->loop);
  srv_start(&f->srv, &f->loop);
  f->m = sb_upstream_multi_new(&f->loop);
  assert_non_null(f->m);
  uv_timer_init(&f->loop, &f->guard);
  uv_timer_start(&f->guard, guard_cb, 10000, 0);
  uv_unref((uv_handle_t *)&f->guard);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  sb_upstream_multi_free(f->m);
  srv_stop(&f->srv);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  srv_free(&f->srv);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static char url_buf[256];

static const char *url(fixture_t *f, const char *path)
{
  snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%d%s", f->srv.port, path);
  return url_buf;
}

static sb_upstream_t *start(fixture_t *f, rec_t *r, const char *u, sb_slice_t body,
                            sb_upstream_timeouts_t to)
{
  static const sb_kv_t hdrs[] = {{"X-Test", "1"}, {"Content-Type", "application/json"}};
  sb_upstream_request_t req;
  memset(&req, 0, sizeof(req));
  req.url = u;
  req.body = body;
  req.headers = hdrs;
  req.n_headers = 2;
  req.timeouts = to;
  r->u = sb_upstream_start(f->m, &req, &cbs, r);
  assert_non_null(r->u);
  return r->u;
}

static const sb_upstream_timeouts_t no_to = {0};

/* ---- cases ----------------------------------------------------------------------- */

static void answer_hello(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Retry-After: 3\r\nContent-Length: 11\r\n\r\nhello world");
}

static void test_plain(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_hello;
  start(f, &r, url(f, "/v1/chat?x=1#frag"), SB_SLICE_LIT("{\"a\"}"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.heads, 1);
  assert_int_equal(r.dones, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.ct, "application/json");
  assert_string_equal(r.ra, "3");
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_int_equal(r.o.status, 200);
  assert_null(r.o.error);
  assert_true(r.o.connect_ns > 0);
  assert_true(r.o.first_byte_ns > 0);
  assert_true(r.o.total_ns >= r.o.first_byte_ns);
  assert_int_equal(r.body.len, 11);
  assert_memory_equal(r.body.data, "hello world", 11);
  char host[64];
  snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", f->srv.port);
  const char *q = f->srv.last_req;
  assert_true(strncmp(q, "POST /v1/chat?x=1 HTTP/1.1\r\n", 28) == 0);
  assert_non_null(strstr(q, host));
  assert_non_null(strstr(q, "\r\nUser-Agent: switchboard/0.1\r\n"));
  assert_non_null(strstr(q, "\r\nAccept: */*\r\n"));
  assert_non_null(strstr(q, "\r\nX-Test: 1\r\n"));
  assert_non_null(strstr(q, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(strstr(q, "\r\nContent-Length: 5\r\n"));
  assert_int_equal(f->srv.last_body_len, 5);
  rec_free(&r);
}

/* Chunked, written in pieces that cut chunk sizes and data anywhere. */
static const char *const chunked_pieces[] = {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    "6\r\ndata: \r", "\n", "e;x=y\r\n{\"n\": 1}\n\n", "abcd", "\r\n", "8\r\nlast one",
    "\r\n0\r\n", "Trailer: t\r\n", "\r\n"};

static void chunk_step(sconn_t *c)
{
  size_t n = sizeof(chunked_pieces) / sizeof(chunked_pieces[0]);
  if ((size_t)c->step <= n)
    srv_write(c, chunked_pieces[c->step - 1], strlen(chunked_pieces[c->step - 1]));
  if ((size_t)c->step >= n)
    uv_timer_stop(&c->timer);
}

static void answer_chunked(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  c->step = 0;
  srv_steps(c, 2);
}

static const char chunked_body[] = "data: {\"n\": 1}\n\nabcdlast one";

static void test_chunked_pieces(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_chunked;
  f->srv.on_step = chunk_step;
  start(f, &r, url(f, "/stream"), SB_SLICE_LIT("{}"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_int_equal(r.heads, 1);
  assert_string_equal(r.ct, "text/event-stream");
  assert_true(r.datas >= 3);
  assert_int_equal(r.body.len, sizeof(chunked_body) - 1);
  assert_memory_equal(r.body.data, chunked_body, r.body.len);
  rec_free(&r);
}

/* Every byte refused once, then resumed from a timer: the caller ends
 * with the exact stream, and each refused piece came back identical. */
static void test_pause_resume(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  r.pause_every_other = true;
  f->srv.on_request = answer_chunked;
  f->srv.on_step = chunk_step;
  start(f, &r, url(f, "/stream"), SB_SLICE_LIT("{}"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_true(r.redelivered >= 3);
  assert_int_equal(r.body.len, sizeof(chunked_body) - 1);
  assert_memory_equal(r.body.data, chunked_body, r.body.len);
  rec_free(&r);
}

static void test_keep_alive_reuse(void **state)
{
  fixture_t *f = *state;
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  f->srv.on_request = answer_hello;
  start(f, &r1, url(f, "/a"), SB_SLICE_LIT("1"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r1.o.result, SB_UP_OK);
  start(f, &r2, url(f, "/b"), sb_slice(NULL, 0), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.o.connect_ns, 0);
  assert_int_equal(f->srv.accepted, 1);
  assert_int_equal(f->srv.conns->served, 2);
  assert_true(strncmp(f->srv.last_req, "GET /b HTTP/1.1\r\n", 17) == 0);
  assert_null(strstr(f->srv.last_req, "Content-Length"));
  rec_free(&r1);
  rec_free(&r2);
}

/* The server closes the kept-alive connection when the second request
 * arrives (it had timed it out): sent again on a fresh one. */
static void answer_then_drop(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  if (c->id == 1 && c->served == 1) {
    srv_close(c);
    return;
  }
  answer_hello(c, req, hl, b, bl);
}

static void test_retry_on_stale_connection(void **state)
{
  fixture_t *f = *state;
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  f->srv.on_request = answer_then_drop;
  start(f, &r1, url(f, "/a"), SB_SLICE_LIT("1"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r1.o.result, SB_UP_OK);
  start(f, &r2, url(f, "/b"), SB_SLICE_LIT("22"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.heads, 1);
  assert_int_equal(r2.body.len, 11);
  assert_int_equal(f->srv.accepted, 2);
  assert_int_equal(f->srv.requests, 3);
  assert_true(r2.o.connect_ns > 0);
  rec_free(&r1);
  rec_free(&r2);
}

static void test_refused(void **state)
{
  fixture_t *f = *state;
  /* A port that was just free. */
  uv_tcp_t t;
  struct sockaddr_in a;
  int len = sizeof(a);
  uv_tcp_init(&f->loop, &t);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
  uv_tcp_getsockname(&t, (struct sockaddr *)&a, &len);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  char u[64];
  snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(a.sin_port));
  rec_t r;
  rec_init(&r, f);
  start(f, &r, u, SB_SLICE_LIT("x"), no_to);
  assert_int_equal(r.dones, 0); /* never from inside start */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.dones, 1);
  assert_int_equal(r.heads, 0);
  assert_int_equal(r.o.result, SB_UP_CONNECT_FAILED);
  assert_non_null(r.o.error);
  rec_free(&r);
}

static void answer_nothing(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)c;
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
}

static void test_first_byte_timeout(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_nothing;
  sb_upstream_timeouts_t to = {0};
  to.first_byte_ms = 60;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_TIMEOUT_FIRST_BYTE);
  assert_true(r.o.total_ns >= 50 * 1000000ull);
  rec_free(&r);
}

static void answer_head_then_stall(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
}

static void test_idle_timeout(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_head_then_stall;
  sb_upstream_timeouts_t to = {0};
  to.first_byte_ms = 5000;
  to.idle_ms = 60;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_TIMEOUT_IDLE);
  assert_int_equal(r.body.len, 3);
  assert_int_equal(r.o.status, 200);
  rec_free(&r);
}

static void trickle_step(sconn_t *c)
{
  SRV_SEND(c, "2\r\nab\r\n");
  if (trickle_pieces > 0 && (unsigned)c->step >= trickle_pieces)
    uv_timer_stop(&c->timer);
}

static void answer_trickle(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  answer_head_then_stall(c, req, hl, b, bl);
  c->step = 0;
  srv_steps(c, trickle_ms);
}

/* The idle deadline follows the data: a stream that keeps coming for five
 * idle periods is not cut (the timer, armed lazily, fires early and looks
 * again), and the silence after it still ends the transfer. */
static void test_idle_timeout_follows_data(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_trickle;
  f->srv.on_step = trickle_step;
  trickle_ms = 20;
  trickle_pieces = 15;
  sb_upstream_timeouts_t to = {0};
  to.first_byte_ms = 5000;
  to.idle_ms = 60;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_TIMEOUT_IDLE);
  assert_int_equal(r.body.len, 3 + 15 * 2);
  assert_true(r.o.total_ns >= (15 * 20 + 60 - 10) * 1000000ull);
  rec_free(&r);
}

static void test_total_timeout(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_trickle;
  f->srv.on_step = trickle_step;
  sb_upstream_timeouts_t to = {0};
  to.idle_ms = 1000;
  to.total_ms = 120;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_TIMEOUT_TOTAL);
  assert_true(r.body.len > 3);
  rec_free(&r);
}

static void answer_cut(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  srv_close(c);
}

static void test_cut_mid_body(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_cut;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_CUT);
  assert_int_equal(r.body.len, 10);
  rec_free(&r);
}

static void answer_garbage(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "SSH-2.0-OpenSSH\r\n\r\n");
}

static void test_garbage(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_garbage;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_FAILED);
  assert_int_equal(r.heads, 0);
  rec_free(&r);
}

static void stop_cb(uv_timer_t *t)
{
  uv_stop(t->loop);
}

/* Runs the loop for `ms` (the server's handles keep it alive otherwise). */
static void run_for(fixture_t *f, uint64_t ms)
{
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  uv_timer_start(&t, stop_cb, ms, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_cancel_in_on_data(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  r.cancel_on_data = true;
  f->srv.on_request = answer_trickle;
  f->srv.on_step = trickle_step;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* stopped from on_data */
  assert_int_equal(r.datas, 1);
  /* Let the server go on writing for a while: nothing more arrives. */
  run_for(f, 50);
  assert_int_equal(r.datas, 1);
  assert_int_equal(r.dones, 0);
  assert_int_equal(sb_upstream_multi_active(f->m), 0);
  rec_free(&r);
}

static char *big_body;
#define BIG (1024 * 1024)

static void answer_big(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  c->s->body_ok = bl == BIG && memcmp(b, big_body, BIG) == 0;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static void test_big_request_body(void **state)
{
  fixture_t *f = *state;
  big_body = malloc(BIG);
  assert_non_null(big_body);
  for (size_t i = 0; i < BIG; i++)
    big_body[i] = (char)('a' + (i * 7 + i / 1000) % 26);
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_big;
  start(f, &r, url(f, "/big"), sb_slice(big_body, BIG), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_true(f->srv.body_ok);
  assert_int_equal(f->srv.last_body_len, BIG);
  free(big_body);
  big_body = NULL;
  rec_free(&r);
}

/* on_done starts the next transfer: it gets the connection just freed. */
static fixture_t *chain_f;

static void chain_next(rec_t *r)
{
  r->then = NULL;
  start(chain_f, r->next_rec, url(chain_f, "/second"), SB_SLICE_LIT("2"), no_to);
}

static void test_on_done_starts_next(void **state)
{
  fixture_t *f = *state;
  chain_f = f;
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  r1.then = chain_next;
  r1.next_rec = &r2;
  f->srv.on_request = answer_hello;
  start(f, &r1, url(f, "/first"), SB_SLICE_LIT("1"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r1.dones, 1);
  assert_int_equal(r1.o.result, SB_UP_OK);
  assert_int_equal(r2.dones, 1);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.body.len, 11);
  assert_int_equal(f->srv.accepted, 1);
  assert_int_equal(f->srv.requests, 2);
  rec_free(&r1);
  rec_free(&r2);
}

/* Detached after the first piece: no callback runs again; the transfer
 * reads the rest of the body alone and the connection is reused. */
static void detach_step(sconn_t *c)
{
  uv_timer_stop(&c->timer);
  SRV_SEND(c, "4\r\nrest\r\n0\r\n\r\n");
}

static void answer_first_then_rest(sconn_t *c, const char *req, size_t hl,
                                   const char *b, size_t bl)
{
  if (c->served > 0) {
    answer_hello(c, req, hl, b, bl);
    return;
  }
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nfirst\r\n");
  srv_steps(c, 30);
}

/* Runs the loop until no transfer is left (the server's handles keep it
 * alive otherwise). */
static void until_idle_cb(uv_timer_t *t)
{
  fixture_t *f = t->data;
  if (sb_upstream_multi_active(f->m) == 0)
    uv_stop(t->loop);
}

static void run_until_idle(fixture_t *f)
{
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = f;
  uv_timer_start(&t, until_idle_cb, 5, 5);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* curl's transfers cannot go on alone (sb_upstream_detach says so). */
static bool curl_forced(void)
{
  const char *v = getenv("SWITCHBOARD_UPSTREAM_CLIENT");
  return v != NULL && strcmp(v, "curl") == 0;
}

static void test_detach_keeps_connection(void **state)
{
  fixture_t *f = *state;
  if (curl_forced())
    skip();
  rec_t r, r2;
  rec_init(&r, f);
  rec_init(&r2, f);
  r.detach_on_data = true;
  f->srv.on_request = answer_first_then_rest;
  f->srv.on_step = detach_step;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), no_to);
  run_until_idle(f);
  assert_true(r.detached);
  assert_int_equal(r.datas, 1);
  assert_int_equal(r.dones, 0);
  assert_int_equal(r.body.len, 5);
  assert_memory_equal(r.body.data, "first", 5);
  /* the next request goes out on the same connection */
  start(f, &r2, url(f, "/again"), SB_SLICE_LIT("y"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.body.len, 11);
  assert_int_equal(f->srv.accepted, 1);
  assert_int_equal(f->srv.requests, 2);
  rec_free(&r);
  rec_free(&r2);
}

/* Detached, and the rest never comes: the transfer gives up within
 * SB_UPSTREAM_DETACH_MS and closes the connection. */
static void test_detach_rest_never_comes(void **state)
{
  fixture_t *f = *state;
  if (curl_forced())
    skip();
  rec_t r;
  rec_init(&r, f);
  r.detach_on_data = true;
  f->srv.on_request = answer_head_then_stall;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), no_to);
  uint64_t t0 = uv_hrtime();
  run_until_idle(f);
  uint64_t took_ms = (uv_hrtime() - t0) / 1000000;
  assert_true(r.detached);
  assert_int_equal(r.dones, 0);
  assert_true(took_ms >= SB_UPSTREAM_DETACH_MS - 50);
  /* the server sees the connection closed */
  run_for(f, 50);
  assert_true(f->srv.conns->closed);
  rec_free(&r);
}

/* A name, not an address: resolved, then connected. */
static void test_resolved_name(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_hello;
  char u[64];
  snprintf(u, sizeof(u), "http://localhost:%d/", f->srv.port);
  start(f, &r, u, sb_slice(NULL, 0), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_int_equal(r.body.len, 11);
  rec_free(&r);
}

/* Connection: close, or a server that closes a connection once idle: the
 * next request goes on a fresh connection and succeeds. */
static void answer_close(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
}

static void answer_then_close(sconn_t *c, const char *req, size_t hl, const char *b, size_t bl)
{
  answer_hello(c, req, hl, b, bl);
  srv_close(c);
}

static void two_requests(fixture_t *f, int *requests, int *accepted)
{
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  start(f, &r1, url(f, "/a"), SB_SLICE_LIT("1"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r1.o.result, SB_UP_OK);
  /* Give the server's close time to arrive at the idle connection. */
  run_for(f, 20);
  start(f, &r2, url(f, "/b"), SB_SLICE_LIT("2"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_true(r2.o.connect_ns > 0);
  *requests = f->srv.requests;
  *accepted = f->srv.accepted;
  rec_free(&r1);
  rec_free(&r2);
}

static void test_connection_close(void **state)
{
  fixture_t *f = *state;
  int requests, accepted;
  f->srv.on_request = answer_close;
  two_requests(f, &requests, &accepted);
  assert_int_equal(requests, 2);
  assert_int_equal(accepted, 2);
}

static void test_idle_closed_by_server(void **state)
{
  fixture_t *f = *state;
  int requests, accepted;
  f->srv.on_request = answer_then_close;
  two_requests(f, &requests, &accepted);
  /* Noticed while idle (or, if the close comes late, sent again). */
  assert_int_equal(requests, 2);
  assert_int_equal(accepted, 2);
}

/* Cancelled while the name is being resolved, and one left to the
 * multi's free: nothing calls back, nothing leaks. */
static void test_cancel_while_resolving(void **state)
{
  fixture_t *f = *state;
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  f->srv.on_request = answer_hello;
  char u[64];
  snprintf(u, sizeof(u), "http://localhost:%d/", f->srv.port);
  start(f, &r1, u, sb_slice(NULL, 0), no_to);
  start(f, &r2, u, sb_slice(NULL, 0), no_to);
  sb_upstream_cancel(r1.u);
  assert_int_equal(sb_upstream_multi_active(f->m), 1);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(r1.dones + r1.heads + r1.datas, 0);
  rec_free(&r1);
  /* r2 is cancelled by sb_upstream_multi_free in the teardown. */
  r2.u = NULL;
  sb_buf_free(&r2.body);
  sb_buf_free(&r2.refused);
  uv_close((uv_handle_t *)&r2.resume_timer, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_pieces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keep_alive_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_on_stale_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_byte_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout_follows_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_total_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_mid_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_in_on_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_request_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_on_done_starts_next, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resolved_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_closed_by_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_while_resolving, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_keeps_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_rest_never_comes, setup, teardown),
  };
  sb_upstream_global_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  sb_upstream_global_cleanup();
  return rc;
}
