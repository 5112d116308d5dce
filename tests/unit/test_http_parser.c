/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 request parsing: well-formed, split at every byte, pipelined,
 * malformed and oversized input, and what RFC 9112 refuses where a front
 * proxy could read the bytes differently (request smuggling). */
#include "test_helpers.h"

#include "switchboard/http.h"

static const sb_http_limits_t limits = {.max_header_bytes = 4096,
                                        .max_headers = 16,
                                        .max_body_bytes = 1024,
                                        .max_target_bytes = 256};

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

typedef struct {
  const char *name;
  const char *req;    /* then, for pipelining, the start of another request */
  size_t used;        /* bytes of the first request; 0: all of `req` */
  const char *path;
  const char *body;
  const char *content_type; /* NULL: not checked */
} accepted_case_t;

/* Every split of the request (pieces of 1..n bytes, and all at once)
 * yields the same request. */
static void check_every_split(const accepted_case_t *c)
{
  size_t len = strlen(c->req);
  size_t want = c->used != 0 ? c->used : len;
  for (size_t step = 0; step <= len; step++) {
    sb_http_parser_t p;
    sb_arena_t a;
    sb_http_request_t r;
    sb_http_parser_init(&p, &limits);
    sb_arena_init(&a, 4096, 0);
    feed_result_t fr = feed(&p, c->req, len, step);
    if (fr.rc != SB_OK || fr.consumed != want)
      fail_msg("%s (pieces of %zu): rc %d status %d (%s), used %zu of %zu",
               c->name, step, fr.rc, fr.status, p.error ? p.error : "",
               fr.consumed, want);
    assert_int_equal(sb_http_parser_request(&p, &a, &r), SB_OK);
    assert_slice_equal(r.path, c->path);
    assert_int_equal(r.body.len, strlen(c->body));
    assert_memory_equal(r.body.ptr, c->body, r.body.len);
    if (c->content_type != NULL)
      assert_slice_equal(SB_HTTP_HEADER(&r, "content-type"), c->content_type);
    sb_arena_destroy(&a);
    sb_http_parser_free(&p);
  }
}

static void test_post_content_length_every_split(void **state)
{
  (void)state;
  const accepted_case_t c = {
      "content-length",
      "POST /v1/chat/completions HTTP/1.1\r\n"
      "Host: h\r\nContent-Type: application/json\r\n"
      "Content-Length: 27\r\n\r\n"
      "{\"model\":\"x\",\"messages\":[]}",
      0, "/v1/chat/completions", "{\"model\":\"x\",\"messages\":[]}", "application/json"};
  check_every_split(&c);
}

static void test_post_chunked_every_split(void **state)
{
  (void)state;
  const accepted_case_t c = {
      "chunked",
      "POST /v1/chat/completions HTTP/1.1\r\n"
      "Host: h\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"mod\r\n"
      "16;ext=1\r\nel\":\"x\",\"messages\":[]}\r\n"
      "0\r\n\r\n",
      0, "/v1/chat/completions", "{\"model\":\"x\",\"messages\":[]}", "application/json"};
  check_every_split(&c);
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
  const char head[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
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

  const char odd[] = "POST / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\n"
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
  memcpy(big_header + 5023, "\r\nHost: h\r\n\r\n", 14);
  size_t o = (size_t)snprintf(many_headers, sizeof(many_headers),
                              "GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(many_headers + o, sizeof(many_headers) - o,
                          "X-H%d: v\r\n", i);
  snprintf(many_headers + o, sizeof(many_headers) - o, "\r\n");
  const bad_case_t cases[] = {
      {"garbage request line", "HELLO\r\n\r\n", 400},
      {"bad method", "GE T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bad version", "GET / HTTP/9.9x\r\nHost: h\r\n\r\n", 400},
      {"space in header name", "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n", 400},
      {"control char in header", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400},
      {"body over the cap (content-length)",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n", 413},
      {"bad content-length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400},
      {"two content-lengths",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"bad chunk size",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
       426},
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
  const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
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
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
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
                     "POST /r%d HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n%d",
                     i, i % 10);
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

/* ---- what a front proxy could read differently: refused ---------------- */

#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

typedef struct {
  const char *name;
  const char *req;
  size_t len; /* 0: strlen(req) */
  int status;
} strict_case_t;

/* `req` refused with `status` whether it arrives at once or in pieces of
 * any size (the refusal must not depend on where reads split it). */
static void check_refused_every_split(const strict_case_t *c)
{
  size_t len = c->len != 0 ? c->len : strlen(c->req);
  for (size_t step = 0; step <= len; step++) {
    sb_http_parser_t p;
    sb_http_parser_init(&p, &limits);
    feed_result_t fr = feed(&p, c->req, len, step);
    if (fr.rc != SB_ERROR || fr.status != c->status)
      fail_msg("%s (pieces of %zu): rc %d status %d, want status %d (%s)",
               c->name, step, fr.rc, fr.status, c->status,
               p.error != NULL ? p.error : "accepted");
    assert_non_null(p.error);
    sb_http_parser_free(&p);
  }
}

static void test_refused_strictly(void **state)
{
  (void)state;
  /* Unended lines: refused as soon as they pass a limit, not when they
   * end (they never do) nor at the request timeout. */
  static char long_chunk_line[sizeof(CHUNKED_HEAD) + 5000];
  static char zeros_chunk_line[sizeof(CHUNKED_HEAD) + 5000];
  static char long_target[400];
  size_t h = sizeof(CHUNKED_HEAD) - 1;
  memcpy(long_chunk_line, CHUNKED_HEAD "1;", h + 2);
  memset(long_chunk_line + h + 2, 'a', 4500);
  memcpy(zeros_chunk_line, CHUNKED_HEAD, h);
  memset(zeros_chunk_line + h, '0', 4500);
  memcpy(long_target, "GET /", 5);
  memset(long_target + 5, 'a', 300);
  const strict_case_t cases[] = {
      /* chunked framing */
      {"chunk data followed by XY, then a smuggled request",
       CHUNKED_HEAD "5\r\nhelloXY0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"chunk data longer than its size", CHUNKED_HEAD "3\r\nhello\r\n0\r\n\r\n", 0, 400},
      {"chunk data shorter than its size", CHUNKED_HEAD "6\r\nhello\r\n0\r\n\r\n", 0, 400},
      {"bare LF after chunk data", CHUNKED_HEAD "1\r\na\n0\r\n\r\n", 0, 400},
      {"bare LF after a chunk size", CHUNKED_HEAD "1\na\r\n0\r\n\r\n", 0, 400},
      {"bare CR after a chunk size", CHUNKED_HEAD "1\rXa\r\n0\r\n\r\n", 0, 400},
      {"whitespace after a chunk size", CHUNKED_HEAD "1 \r\na\r\n0\r\n\r\n", 0, 400},
      {"no chunk size", CHUNKED_HEAD "\r\na\r\n0\r\n\r\n", 0, 400},
      {"signed chunk size", CHUNKED_HEAD "+1\r\na\r\n0\r\n\r\n", 0, 400},
      {"control byte in a chunk extension", CHUNKED_HEAD "1;a\x01\r\na\r\n0\r\n\r\n", 0, 400},
      {"bare LF at the end of the body", CHUNKED_HEAD "0\r\n\n", 0, 400},
      {"folded trailer field", CHUNKED_HEAD "0\r\nX: a\r\n b\r\n\r\n", 0, 400},
      {"trailer field without a colon", CHUNKED_HEAD "0\r\nX a\r\n\r\n", 0, 400},
      {"chunk size past the body limit", CHUNKED_HEAD "401\r\n", 0, 413},
      {"chunk size past 64 bits", CHUNKED_HEAD "fffffffffffffffffffff", 0, 413},
      {"a chunk-size line of 4.5 KB, unended", long_chunk_line, h + 4502, 413},
      {"4.5 KB of leading zeros, unended", zeros_chunk_line, h + 4500, 413},
      /* Transfer-Encoding */
      {"Transfer-Encoding: chunked, chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
       "1\r\na\r\n0\r\n\r\n", 0, 400},
      {"chunked in two Transfer-Encoding fields",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0, 400},
      {"Transfer-Encoding without chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 400},
      {"chunked not the last coding",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 400},
      {"empty Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 0, 400},
      {"an unknown coding before chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
       "1\r\na\r\n0\r\n\r\n", 0, 501},
      {"Transfer-Encoding in HTTP/1.0",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0, 400},
      {"Transfer-Encoding and Content-Length",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0, 400},
      /* Host */
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 0, 400},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
      {"two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 0, 400},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, 400},
      /* the request line */
      {"HTTP/9.9", "GET / HTTP/9.9\r\nHost: h\r\n\r\n", 0, 505},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, 505},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 0, 505},
      {"HTTP/0.9 named", "GET / HTTP/0.9\r\n\r\n", 0, 505},
      {"HTTP/2.0, refused at the line's end", "GET / HTTP/2.0\r\n", 0, 505},
      {"request line without a version", "GET /\r\nHost: h\r\n\r\n", 0, 400},
      {"request line without a version, no fields", "GET /\r\n\r\n", 0, 400},
      {"request line of one word", "GET\r\n\r\n", 0, 400},
      {"four words", "GET / x HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"a space before the method", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"a space after the version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 0, 400},
      {"a tab in the target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"bare CR after the request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 0, 400},
      {"too many empty lines first", "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
      {"a target over the limit, unended", long_target, 305, 414},
      /* field lines */
      {"obsolete line folding", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", 0, 400},
      {"folding with a tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n", 0, 400},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 0, 400},
      {"CR without LF after the fields", "GET / HTTP/1.1\r\nHost: h\r\n\rX", 0, 400},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++)
    check_refused_every_split(&cases[i]);
}

/* ---- strict, but not stricter than RFC 9112: accepted ------------------- */

static void test_accepted_edges(void **state)
{
  (void)state;
  static char target_at_limit[300], path_at_limit[260];
  memcpy(path_at_limit, "/", 1);
  memset(path_at_limit + 1, 'a', 255); /* a target of 256 bytes: the limit */
  snprintf(target_at_limit, sizeof(target_at_limit),
           "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path_at_limit);
  const accepted_case_t cases[] = {
      {"chunk extensions and trailer fields",
       CHUNKED_HEAD "2;name=value;q=\"x y\"\r\nab\r\n1 ; e\r\nc\r\n0;last\r\n"
                    "X-Trailer: 1\r\nChecksum: abc\r\n\r\n",
       0, "/", "abc", NULL},
      {"last chunk of several zeros", CHUNKED_HEAD "1\r\na\r\n000\r\n\r\n", 0, "/", "a", NULL},
      {"upper-case hex and Chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
       "A\r\n0123456789\r\n0\r\n\r\n",
       0, "/", "0123456789", NULL},
      {"empty list elements in Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
       0, "/", "a", NULL},
      {"a request after a chunked body",
       CHUNKED_HEAD "1\r\na\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
       sizeof(CHUNKED_HEAD "1\r\na\r\n0\r\n\r\n") - 1, "/", "a", NULL},
      {"HTTP/1.0 without Host", "GET /old HTTP/1.0\r\n\r\n", 0, "/old", "", NULL},
      {"empty Host", "GET /e HTTP/1.1\r\nHost:\r\n\r\n", 0, "/e", "", NULL},
      {"Host with a port and an IPv6 literal",
       "GET /6 HTTP/1.1\r\nHost: [::1]:3456\r\n\r\n", 0, "/6", "", NULL},
      {"an empty line before the request", "\r\nGET /l HTTP/1.1\r\nHost: h\r\n\r\n", 0,
       "/l", "", NULL},
      {"bare LF line ends in the head", "GET /lf HTTP/1.1\nHost: h\n\n", 0, "/lf", "", NULL},
      {"a target at the limit", target_at_limit, 0, path_at_limit, "", NULL},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++)
    check_every_split(&cases[i]);
}

/* The chunked decoder on its own: trailers have their own cap (431). */
static void test_chunked_trailer_cap(void **state)
{
  (void)state;
  sb_http_chunked_t ck;
  sb_buf_t body;
  size_t used;
  const char ok[] = "0\r\nX: 123\r\n\r\n"; /* 10 bytes of trailer section */
  sb_buf_init(&body, 100);
  sb_http_chunked_init(&ck);
  assert_int_equal(sb_http_chunked_feed(&ck, &body, 10, ok, sizeof(ok) - 1, &used),
                   SB_OK);
  assert_int_equal(used, sizeof(ok) - 1);
  sb_http_chunked_init(&ck);
  const char big[] = "0\r\nX: 1234\r\n\r\n";
  assert_int_equal(sb_http_chunked_feed(&ck, &body, 10, big, sizeof(big) - 1, &used),
                   SB_ERROR);
  assert_int_equal(ck.status, 431);
  /* a refused decoder stays refused */
  assert_int_equal(sb_http_chunked_feed(&ck, &body, 10, "0", 1, &used), SB_ERROR);
  sb_buf_free(&body);
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
      cmocka_unit_test(test_refused_strictly),
      cmocka_unit_test(test_accepted_edges),
      cmocka_unit_test(test_chunked_trailer_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
