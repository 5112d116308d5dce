/* HTTP/1.1 request parsing: well-formed, split at every byte, pipelined,
 * malformed and oversized input. */
#include "test_helpers.h"

#include "switchboard/http.h"

static const sb_http_limits_t limits = {
    .max_header_bytes = 4096, .max_headers = 16, .max_body_bytes = 1024};

typedef struct {
  sb_status_t rc;
  size_t consumed;
  int status;
} feed_result_t;

/* Feed `req` in pieces of `step` bytes (0 = all at once). */
static feed_result_t feed(sb_http_parser_t *p, const char *req, size_t len,
                          size_t step)
{
  feed_result_t r = {SB_AGAIN, 0, 0};
  size_t off = 0;
  while (off < len) {
    size_t n = step == 0 ? len - off : SB_MIN(step, len - off);
    size_t used = 0;
    r.rc = sb_http_parser_feed(p, req + off, n, &used);
    r.consumed = off + used;
    if (r.rc != SB_AGAIN) {
      r.status = p->error_status;
      return r;
    }
    off += n;
  }
  return r;
}

static void test_get_with_headers(void **state)
{
  (void)state;
  const char req[] = "GET /v1/models?all=true&x=a%20b+c HTTP/1.1\r\n"
                     "Host: localhost\r\n"
                     "Authorization:  Bearer sk-1  \r\n"
                     "X-Agent: cursor\r\n\r\n";
  sb_http_parser_t p;
  sb_arena_t a;
  sb_http_request_t r;
  sb_http_parser_init(&p, &limits);
  sb_arena_init(&a, 4096, 0);
  feed_result_t fr = feed(&p, req, sizeof(req) - 1, 0);
  assert_int_equal(fr.rc, SB_OK);
  assert_int_equal(fr.consumed, sizeof(req) - 1);
  assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
  assert_int_equal(r.method, HTTP_GET);
  assert_slice_equal(r.path, "/v1/models");
  assert_slice_equal(r.query, "all=true&x=a%20b+c");
  assert_int_equal(r.n_headers, 3);
  assert_slice_equal(SB_HTTP_HEADER(&r, "AUTHORIZATION"), "Bearer sk-1");
  assert_slice_equal(SB_HTTP_HEADER(&r, "x-agent"), "cursor");
  assert_null(SB_HTTP_HEADER(&r, "x-missing").ptr);
  assert_true(r.keep_alive);
  assert_slice_equal(sb_http_query_param(&a, r.query, "all"), "true");
  assert_slice_equal(sb_http_query_param(&a, r.query, "x"), "a b c");
  assert_null(sb_http_query_param(&a, r.query, "y").ptr);
  assert_int_equal(r.body.len, 0);
  sb_arena_destroy(&a);
  sb_http_parser_free(&p);
}

/* Every split of the request (1..n byte steps) yields the same request. */
static void check_every_split(const char *req, size_t len, const char *body,
                              size_t body_len)
{
  for (size_t step = 1; step <= len; step++) {
    sb_http_parser_t p;
    sb_arena_t a;
    sb_http_request_t r;
    sb_http_parser_init(&p, &limits);
    sb_arena_init(&a, 4096, 0);
    feed_result_t fr = feed(&p, req, len, step);
    if (fr.rc != SB_OK)
      fail_msg("step %zu: status %d rc %d", step, fr.status, fr.rc);
    assert_int_equal(fr.consumed, len);
    assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
    assert_int_equal(r.method, HTTP_POST);
    assert_slice_equal(r.path, "/v1/chat/completions");
    assert_slice_equal(SB_HTTP_HEADER(&r, "content-type"), "application/json");
    assert_int_equal(r.body.len, body_len);
    assert_memory_equal(r.body.ptr, body, body_len);
    sb_arena_destroy(&a);
    sb_http_parser_free(&p);
  }
}

static void test_post_content_length_every_split(void **state)
{
  (void)state;
  const char req[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 27\r\n\r\n"
                     "{\"model\":\"x\",\"messages\":[]}";
  check_every_split(req, sizeof(req) - 1, "{\"model\":\"x\",\"messages\":[]}", 27);
}

static void test_post_chunked_every_split(void **state)
{
  (void)state;
  const char req[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                     "Content-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "5\r\n{\"mod\r\n"
                     "16;ext=1\r\nel\":\"x\",\"messages\":[]}\r\n"
                     "0\r\n\r\n";
  check_every_split(req, sizeof(req) - 1, "{\"model\":\"x\",\"messages\":[]}", 27);
}

static void test_pipelined(void **state)
{
  (void)state;
  const char req[] = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t first = strlen("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
  sb_http_parser_t p;
  sb_arena_t a;
  sb_http_request_t r;
  size_t used;
  sb_http_parser_init(&p, &limits);
  sb_arena_init(&a, 4096, 0);
  assert_int_equal(sb_http_parser_feed(&p, req, sizeof(req) - 1, &used), SB_OK);
  assert_int_equal(used, first);
  assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
  assert_slice_equal(r.path, "/health");
  sb_http_parser_reset(&p);
  assert_int_equal(
      sb_http_parser_feed(&p, req + first, sizeof(req) - 1 - first, &used),
      SB_OK);
  assert_int_equal(used, sizeof(req) - 1 - first);
  assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
  assert_slice_equal(r.path, "/v1/models");
  sb_arena_destroy(&a);
  sb_http_parser_free(&p);
}

static void test_expect_continue(void **state)
{
  (void)state;
  const char head[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                      "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  sb_http_parser_t p;
  size_t used;
  sb_http_parser_init(&p, &limits);
  assert_int_equal(sb_http_parser_feed(&p, head, sizeof(head) - 1, &used),
                   SB_AGAIN);
  assert_true(p.headers_done);
  assert_true(p.expect_continue);
  assert_int_equal(sb_http_parser_feed(&p, "{}", 2, &used), SB_OK);
  sb_http_parser_free(&p);

  const char odd[] = "POST / HTTP/1.1\r\nExpect: something-else\r\n"
                     "Content-Length: 2\r\n\r\n{}";
  sb_http_parser_init(&p, &limits);
  feed_result_t fr = feed(&p, odd, sizeof(odd) - 1, 0);
  assert_int_equal(fr.rc, SB_ERROR);
  assert_int_equal(fr.status, 417);
  sb_http_parser_free(&p);
}

typedef struct {
  const char *name;
  const char *req;
  int status;
} bad_case_t;

static void test_refused(void **state)
{
  (void)state;
  static char big_header[6000];
  static char many_headers[2000];
  memcpy(big_header, "GET / HTTP/1.1\r\nX-Big: ", 23);
  memset(big_header + 23, 'a', 5000);
  memcpy(big_header + 5023, "\r\n\r\n", 5);
  size_t o = (size_t)snprintf(many_headers, sizeof(many_headers),
                              "GET / HTTP/1.1\r\n");
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(many_headers + o, sizeof(many_headers) - o,
                          "X-H%d: v\r\n", i);
  snprintf(many_headers + o, sizeof(many_headers) - o, "\r\n");
  const bad_case_t cases[] = {
      {"garbage request line", "HELLO\r\n\r\n", 400},
      {"bad method", "GE T / HTTP/1.1\r\n\r\n", 400},
      {"bad version", "GET / HTTP/9.9x\r\n\r\n", 400},
      {"space in header name", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400},
      {"control char in header", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
      {"body over the cap (content-length)",
       "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},
      {"bad content-length", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
      {"two content-lengths",
       "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"bad chunk size",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"upgrade", "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
       400},
      {"header too large", big_header, 431},
      {"too many headers", many_headers, 431},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_http_parser_t p;
    sb_http_parser_init(&p, &limits);
    feed_result_t fr = feed(&p, cases[i].req, strlen(cases[i].req), 0);
    if (fr.rc != SB_ERROR || fr.status != cases[i].status)
      fail_msg("%s: rc %d status %d, want status %d", cases[i].name, fr.rc,
               fr.status, cases[i].status);
    sb_http_parser_free(&p);
  }
}

static void test_chunked_body_over_cap(void **state)
{
  (void)state;
  sb_http_parser_t p;
  sb_http_parser_init(&p, &limits);
  const char head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  size_t used;
  assert_int_equal(sb_http_parser_feed(&p, head, sizeof(head) - 1, &used),
                   SB_AGAIN);
  char chunk[600];
  int n = snprintf(chunk, sizeof(chunk), "200\r\n");
  memset(chunk + n, 'x', 512);
  memcpy(chunk + n + 512, "\r\n", 2);
  size_t clen = (size_t)n + 514;
  assert_int_equal(sb_http_parser_feed(&p, chunk, clen, &used), SB_AGAIN);
  assert_int_equal(sb_http_parser_feed(&p, chunk, clen, &used), SB_AGAIN);
  /* the third chunk passes 1024 bytes */
  assert_int_equal(sb_http_parser_feed(&p, chunk, clen, &used), SB_ERROR);
  assert_int_equal(p.error_status, 413);
  sb_http_parser_free(&p);
}

static void test_eof_mid_request(void **state)
{
  (void)state;
  sb_http_parser_t p;
  size_t used;
  sb_http_parser_init(&p, &limits);
  assert_int_equal(sb_http_parser_feed(&p, "GET / HT", 8, &used), SB_AGAIN);
  assert_int_equal(sb_http_parser_feed(&p, "", 0, &used), SB_ERROR);
  assert_int_equal(p.error_status, 400);
  sb_http_parser_free(&p);
}

static void test_keep_alive_rules(void **state)
{
  (void)state;
  const struct {
    const char *req;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_http_parser_t p;
    sb_arena_t a;
    sb_http_request_t r;
    sb_http_parser_init(&p, &limits);
    sb_arena_init(&a, 4096, 0);
    assert_int_equal(feed(&p, cases[i].req, strlen(cases[i].req), 0).rc, SB_OK);
    assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
    assert_int_equal(r.keep_alive, cases[i].keep_alive);
    sb_arena_destroy(&a);
    sb_http_parser_free(&p);
  }
}

static void test_reset_reuses_parser(void **state)
{
  (void)state;
  sb_http_parser_t p;
  sb_arena_t a;
  sb_http_request_t r;
  sb_http_parser_init(&p, &limits);
  sb_arena_init(&a, 4096, 0);
  for (int i = 0; i < 100; i++) {
    char req[128];
    int n = snprintf(req, sizeof(req),
                     "POST /r%d HTTP/1.1\r\nContent-Length: 1\r\n\r\n%d", i, i % 10);
    assert_int_equal(feed(&p, req, (size_t)n, 7).rc, SB_OK);
    assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
    char path[16];
    snprintf(path, sizeof(path), "/r%d", i);
    assert_slice_equal(r.path, path);
    assert_int_equal(r.body.ptr[0], '0' + i % 10);
    sb_http_parser_reset(&p);
  }
  sb_arena_destroy(&a);
  sb_http_parser_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_with_headers),
      cmocka_unit_test(test_post_content_length_every_split),
      cmocka_unit_test(test_post_chunked_every_split),
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_chunked_body_over_cap),
      cmocka_unit_test(test_eof_mid_request),
      cmocka_unit_test(test_keep_alive_rules),
      cmocka_unit_test(test_reset_reuses_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
