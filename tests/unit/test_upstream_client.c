/* SPDX-License-Identifier: MIT */
/* The upstream client against an in-process loopback server, scripted per
 * case, on a real libuv loop (tests/unit/upstream_harness.h): every case
 * runs over http:// and over https:// (the server speaking TLS with a
 * certificate from the test's own CA, trusted through tls.ca_file), each
 * through the native transport (src/upstream/h1.c, tls.c) and through
 * curl (SWITCHBOARD_UPSTREAM_CLIENT=curl). Each case asserts what the
 * caller sees (head, exact body bytes, outcome) and what the server saw
 * (the request, how many connections). */
#include "upstream_harness.h"
#include "switchboard/version.h"

/* answer_trickle: pieces of "ab", one every trickle_ms; trickle_pieces of
 * them, then silence (0: until the client goes). Reset for every test. */
static unsigned trickle_ms, trickle_pieces;

static int setup(void **state)
{
  trickle_ms = 10;
  trickle_pieces = 0;
  *state = fixture_new(harness_tls ? tls_server_ctx(&harness_srv, false) : NULL);
  return 0;
}

static int teardown(void **state)
{
  fixture_free(*state);
  return 0;
}

/* ---- cases ----------------------------------------------------------------------- */

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
  assert_non_null(strstr(q, "\r\nUser-Agent: " SB_USER_AGENT "\r\n"));
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

/* Over https both transports offer HTTP/1.1 only (ALPN): curl would
 * otherwise take HTTP/2 from a server that offers it. */
static void test_alpn_http1_only(void **state)
{
  fixture_t *f = *state;
  if (!harness_tls)
    skip();
  rec_t r;
  rec_init(&r, f);
  f->srv.on_request = answer_hello;
  start(f, &r, url(f, "/"), SB_SLICE_LIT("{}"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_string_equal(f->srv.conns->seen.alpn, "http/1.1");
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

/* The server ends the kept-alive connection when the second request
 * arrives (it had timed it out): with a close (close_notify and a FIN over
 * TLS), or with a reset when `drop_reset`. The request is sent again at
 * once on a fresh connection. */
static bool drop_reset;

static void answer_then_drop(sconn_t *c, const char *req, size_t hl,
                             const char *b, size_t bl)
{
  if (c->id == 1 && c->served == 1) {
    if (drop_reset)
      srv_reset(c);
    else
      srv_close(c);
    return;
  }
  answer_hello(c, req, hl, b, bl);
}

static void stale_connection_case(fixture_t *f)
{
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

static void test_retry_on_stale_connection(void **state)
{
  drop_reset = false;
  stale_connection_case(*state);
}

/* Through curl, a reset was "select/poll returned error", not retried. */
static void test_retry_on_reset_connection(void **state)
{
  drop_reset = true;
  stale_connection_case(*state);
}

/* A request head longer than the first buffer it is built in (h1.c
 * build_head): built again at its size, sent whole. */
static char long_value[6000];
static size_t long_head_len;
static bool long_head_seen;

static void answer_long_head(sconn_t *c, const char *req, size_t hl,
                             const char *b, size_t bl)
{
  long_head_len = hl;
  long_head_seen = memmem(req, hl, long_value, sizeof(long_value) - 1) != NULL &&
                   memmem(req, hl, "\r\nContent-Length: 5\r\n", 21) != NULL;
  answer_hello(c, req, hl, b, bl);
}

static void test_long_request_head(void **state)
{
  fixture_t *f = *state;
  rec_t r;
  rec_init(&r, f);
  memset(long_value, 'v', sizeof(long_value) - 1);
  long_value[sizeof(long_value) - 1] = '\0';
  f->srv.on_request = answer_long_head;
  const sb_kv_t hdrs[] = {{"X-Long", long_value}};
  sb_upstream_request_t req;
  memset(&req, 0, sizeof(req));
  req.url = url(f, "/v1/chat");
  req.body = SB_SLICE_LIT("{\"a\"}");
  req.headers = hdrs;
  req.n_headers = 1;
  req.tls = harness_tls ? &harness_client_tls : NULL;
  r.u = sb_upstream_start(f->m, &req, &harness_cbs, &r);
  assert_non_null(r.u);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.dones, 1);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_true(long_head_seen);
  assert_true(long_head_len > 6000);
  rec_free(&r);
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
  snprintf(u, sizeof(u), "%s://127.0.0.1:%d/", harness_tls ? "https" : "http",
           ntohs(a.sin_port));
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

/* The idle deadline follows the data: a stream that keeps coming for two
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
  to.idle_ms = 150; /* 7 pieces' worth: room for a busy machine */
  start(f, &r, url(f, "/"), SB_SLICE_LIT("x"), to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_TIMEOUT_IDLE);
  assert_int_equal(r.body.len, 3 + 15 * 2);
  assert_true(r.o.total_ns >= (15 * 20 + 150 - 10) * 1000000ull);
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
  to.total_ms = 400; /* room for the handshake on a loaded machine (ASan,
                        TLS through curl) and a few pieces after it */
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

static void make_big_body(void)
{
  big_body = malloc(BIG);
  assert_non_null(big_body);
  for (size_t i = 0; i < BIG; i++)
    big_body[i] = (char)('a' + (i * 7 + i / 1000) % 26);
}

static void test_big_request_body(void **state)
{
  fixture_t *f = *state;
  make_big_body();
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
  start(f, &r, url_host(f, "localhost", "/"), sb_slice(NULL, 0), no_to);
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

/* The second request carries `body`. */
static void two_requests(fixture_t *f, sb_slice_t body, int *requests,
                         int *accepted)
{
  rec_t r1, r2;
  rec_init(&r1, f);
  rec_init(&r2, f);
  start(f, &r1, url(f, "/a"), SB_SLICE_LIT("1"), no_to);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r1.o.result, SB_UP_OK);
  /* Give the server's close time to arrive at the idle connection. */
  run_for(f, 20);
  start(f, &r2, url(f, "/b"), body, no_to);
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
  two_requests(f, SB_SLICE_LIT("2"), &requests, &accepted);
  assert_int_equal(requests, 2);
  assert_int_equal(accepted, 2);
}

static void test_idle_closed_by_server(void **state)
{
  fixture_t *f = *state;
  int requests, accepted;
  f->srv.on_request = answer_then_close;
  two_requests(f, SB_SLICE_LIT("2"), &requests, &accepted);
  /* Noticed while idle (or, if the close comes late, sent again). */
  assert_int_equal(requests, 2);
  assert_int_equal(accepted, 2);
}

static void answer_then_close_then_big(sconn_t *c, const char *req, size_t hl,
                                       const char *b, size_t bl)
{
  if (c->id == 1)
    answer_then_close(c, req, hl, b, bl);
  else
    answer_big(c, req, hl, b, bl);
}

/* The same with a 1 MB body next: over TLS, curl takes the closed
 * connection for a live one (the close_notify waiting on it is a byte to
 * read), and the broken pipe comes while the body is being sent, a
 * failure curl does not retry itself. Sent again on a fresh connection. */
static void test_idle_closed_then_big_body(void **state)
{
  fixture_t *f = *state;
  int requests, accepted;
  make_big_body();
  f->srv.on_request = answer_then_close_then_big;
  two_requests(f, sb_slice(big_body, BIG), &requests, &accepted);
  assert_true(f->srv.body_ok);
  assert_int_equal(accepted, 2);
  free(big_body);
  big_body = NULL;
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
  start(f, &r1, url_host(f, "localhost", "/"), sb_slice(NULL, 0), no_to);
  start(f, &r2, url_host(f, "localhost", "/"), sb_slice(NULL, 0), no_to);
  sb_upstream_cancel(r1.u);
  assert_int_equal(sb_upstream_multi_active(f->m), 1);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(r1.dones + r1.heads + r1.datas, 0);
  /* r2 is cancelled by sb_upstream_multi_free in the teardown; until then
   * (through curl it may get its answer) it records nothing. */
  r2.ignore = true;
  r2.u = NULL;
  rec_free(&r1);
  rec_free(&r2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_pieces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alpn_http1_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keep_alive_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_on_stale_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_on_reset_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_request_head, setup, teardown),
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
      cmocka_unit_test_setup_teardown(test_idle_closed_then_big_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_while_resolving, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_keeps_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_detach_rest_never_comes, setup, teardown),
  };
  /* The native transport, then curl (the transport is chosen at the
   * global init, from the environment). */
  int rc = 0;
  harness_tls_init();
  for (int curl = 0; curl < 2; curl++) {
    if (curl)
      setenv("SWITCHBOARD_UPSTREAM_CLIENT", "curl", 1);
    sb_upstream_global_init();
    harness_tls = false;
    rc |= cmocka_run_group_tests_name(curl ? "http through curl" : "http",
                                      tests, NULL, NULL);
    harness_tls = true;
    rc |= cmocka_run_group_tests_name(curl ? "https through curl" : "https",
                                      tests, NULL, NULL);
    sb_upstream_global_cleanup();
  }
  harness_tls_cleanup();
  return rc;
}
