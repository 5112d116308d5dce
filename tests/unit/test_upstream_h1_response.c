/* SPDX-License-Identifier: MIT */
/* The native client's HTTP/1.x response parser (src/upstream/h1_response.c):
 * each response fed whole, split at every byte boundary, and one byte at a
 * time gives the same head, the same body bytes and the same end. */
#include "test_helpers.h"

#include "switchboard/buf.h"
#include "upstream/h1_response.h"

typedef struct {
  int heads;          /* HEAD events */
  int status;
  bool keep_alive;
  bool done;
  bool error;
  size_t used;        /* input bytes consumed in total */
  char ct[128], ra[64];
  char body[4096];
  size_t body_len;
  char why[128];
} result_t;

/* Feed `len` bytes in pieces ending at cuts[]; then EOF when `eof`. */
static void run(const char *d, size_t len, const size_t *cuts, size_t ncuts,
                bool eof, bool no_body, result_t *r)
{
  sb_h1_response_t p;
  sb_h1_response_init(&p, no_body);
  memset(r, 0, sizeof(*r));
  size_t start = 0;
  for (size_t k = 0; k <= ncuts && !r->done && !r->error; k++) {
    size_t end = k < ncuts ? cuts[k] : len;
    size_t off = start;
    while (!r->done && !r->error) {
      size_t used = 0;
      sb_slice_t body = {NULL, 0};
      sb_h1_event_t ev = sb_h1_response_next(&p, d + off, end - off, &used, &body);
      assert_true(used <= end - off);
      off += used;
      r->used += used;
      if (ev == SB_H1_NEED_MORE) {
        assert_int_equal(off, end);
        break;
      }
      if (ev == SB_H1_HEAD) {
        r->heads++;
        r->status = p.status;
        r->keep_alive = p.keep_alive;
        snprintf(r->ct, sizeof(r->ct), "%s", p.content_type);
        snprintf(r->ra, sizeof(r->ra), "%s", p.retry_after);
      } else if (ev == SB_H1_BODY) {
        assert_true(body.ptr >= d + off - used && body.ptr + body.len <= d + off);
        assert_true(r->body_len + body.len <= sizeof(r->body));
        memcpy(r->body + r->body_len, body.ptr, body.len);
        r->body_len += body.len;
      } else if (ev == SB_H1_DONE) {
        r->done = true;
      } else {
        r->error = true;
        snprintf(r->why, sizeof(r->why), "%s", p.error ? p.error : "?");
      }
    }
    start = end;
  }
  if (eof && !r->done && !r->error) {
    if (sb_h1_response_eof(&p) == SB_H1_DONE) {
      r->done = true;
      r->keep_alive = p.keep_alive;
    } else {
      r->error = true;
      snprintf(r->why, sizeof(r->why), "%s", p.error ? p.error : "?");
    }
  }
}

static void same(const result_t *a, const result_t *b)
{
  assert_int_equal(a->heads, b->heads);
  assert_int_equal(a->status, b->status);
  assert_int_equal(a->keep_alive, b->keep_alive);
  assert_int_equal(a->done, b->done);
  assert_int_equal(a->error, b->error);
  assert_int_equal(a->used, b->used);
  assert_string_equal(a->ct, b->ct);
  assert_string_equal(a->ra, b->ra);
  assert_int_equal(a->body_len, b->body_len);
  assert_memory_equal(a->body, b->body, a->body_len);
  assert_string_equal(a->why, b->why);
}

/* Whole, at every split point, one byte at a time: the same result. */
static void run_all(const char *d, size_t len, bool eof, bool no_body,
                    result_t *whole)
{
  result_t r;
  run(d, len, NULL, 0, eof, no_body, whole);
  for (size_t i = 0; i <= len; i++) {
    size_t cut = i;
    run(d, len, &cut, 1, eof, no_body, &r);
    same(whole, &r);
  }
  size_t *cuts = malloc(len * sizeof(*cuts) + 1);
  assert_non_null(cuts);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i;
  run(d, len, cuts, len, eof, no_body, &r);
  free(cuts);
  same(whole, &r);
}

#define RUN(lit, eof, nobody, r) run_all((lit), sizeof(lit) - 1, (eof), (nobody), (r))

static void test_content_length(void **state)
{
  (void)state;
  static const char resp[] =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json; charset=utf-8\r\n"
      "X-Other:   v  \r\n"
      "content-length: 13\r\n"
      "\r\n"
      "{\"ok\":\"yes\"}\n"
      "HTTP/1.1 200 OK\r\n"; /* bytes after the message are not consumed */
  result_t r;
  RUN(resp, false, false, &r);
  assert_int_equal(r.heads, 1);
  assert_int_equal(r.status, 200);
  assert_true(r.keep_alive);
  assert_true(r.done);
  assert_false(r.error);
  assert_string_equal(r.ct, "application/json; charset=utf-8");
  assert_string_equal(r.ra, "");
  assert_int_equal(r.body_len, 13);
  assert_memory_equal(r.body, "{\"ok\":\"yes\"}\n", 13);
  assert_int_equal(r.used, sizeof(resp) - 1 - strlen("HTTP/1.1 200 OK\r\n"));
}

static void test_chunked(void **state)
{
  (void)state;
  static const char resp[] =
      "HTTP/1.1 429 Too Many Requests\r\n"
      "Transfer-Encoding: gzip, chunked\r\n"
      "Retry-After: 7\r\n"
      "Content-Type: text/event-stream\r\n"
      "\r\n"
      "5;name=value;other=\"q\"\r\n"
      "hello\r\n"
      "6 \r\n"
      " world\r\n"
      "1A\r\n"
      "abcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\n"
      "X-Trailer: yes\r\n"
      "Other: 1\r\n"
      "\r\n";
  result_t r;
  RUN(resp, false, false, &r);
  assert_int_equal(r.status, 429);
  assert_true(r.done);
  assert_true(r.keep_alive);
  assert_string_equal(r.ra, "7");
  assert_string_equal(r.ct, "text/event-stream");
  assert_int_equal(r.body_len, 37);
  assert_memory_equal(r.body, "hello worldabcdefghijklmnopqrstuvwxyz", 37);
  assert_int_equal(r.used, sizeof(resp) - 1);
}

static void test_close_delimited(void **state)
{
  (void)state;
  static const char resp[] = "HTTP/1.1 200 OK\nContent-Type: text/plain\n\nabc\r\ndef";
  result_t r;
  RUN(resp, true, false, &r);
  assert_int_equal(r.status, 200);
  assert_true(r.done);
  assert_false(r.keep_alive);
  assert_int_equal(r.body_len, 8);
  assert_memory_equal(r.body, "abc\r\ndef", 8);
  /* Without the EOF it is not complete. */
  run(resp, sizeof(resp) - 1, NULL, 0, false, false, &r);
  assert_false(r.done);
  assert_false(r.error);
}

static void test_interim_then_final(void **state)
{
  (void)state;
  static const char resp[] =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nContent-Type: x/early\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  result_t r;
  RUN(resp, false, false, &r);
  assert_int_equal(r.heads, 1);
  assert_int_equal(r.status, 201);
  assert_string_equal(r.ct, ""); /* the interim head's value is dropped */
  assert_true(r.done);
  assert_int_equal(r.body_len, 2);
}

static void test_no_body(void **state)
{
  (void)state;
  static const char r204[] = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  static const char r304[] = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n";
  static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  result_t r;
  RUN(r204, false, false, &r);
  assert_true(r.done);
  assert_int_equal(r.status, 204);
  assert_int_equal(r.body_len, 0);
  assert_true(r.keep_alive);
  RUN(r304, false, false, &r);
  assert_true(r.done);
  assert_int_equal(r.body_len, 0);
  RUN(head, false, true, &r); /* a HEAD request */
  assert_true(r.done);
  assert_int_equal(r.body_len, 0);
  assert_int_equal(r.used, sizeof(head) - 1);
}

static void test_keep_alive_rules(void **state)
{
  (void)state;
  static const char close11[] = "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n";
  static const char ka10[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx";
  static const char plain10[] = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
  static const char both[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
  result_t r;
  RUN(close11, false, false, &r);
  assert_true(r.done);
  assert_false(r.keep_alive);
  RUN(ka10, false, false, &r);
  assert_true(r.keep_alive);
  RUN(plain10, false, false, &r);
  assert_false(r.keep_alive);
  RUN(both, false, false, &r);
  assert_true(r.done);
  assert_false(r.keep_alive);
  assert_int_equal(r.body_len, 1);
}

static void test_oversized_head(void **state)
{
  (void)state;
  size_t n = SB_H1_MAX_HEAD + 100;
  char *d = malloc(n);
  assert_non_null(d);
  memcpy(d, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
  memset(d + 24, 'a', n - 24);
  result_t r;
  run(d, n, NULL, 0, false, false, &r);
  assert_true(r.error);
  assert_string_equal(r.why, "response header too large");
  assert_true(r.used <= SB_H1_MAX_HEAD + 1); /* the byte over the cap */
  /* Many small headers count as well. */
  size_t off = 0;
  off += (size_t)sprintf(d, "HTTP/1.1 200 OK\r\n");
  while (off + 8 < n)
    off += (size_t)sprintf(d + off, "A: b\r\n");
  run(d, off, NULL, 0, false, false, &r);
  assert_true(r.error);
  free(d);
}

/* Names and values read in runs (sb_h1_response_next's fast paths): a
 * long name, a value past the field that keeps it, blanks and stray
 * control bytes inside a value, a name too long for the head. */
static void test_long_names_and_values(void **state)
{
  (void)state;
  char d[1024];
  int n = snprintf(d, sizeof(d),
                   "HTTP/1.1 429 Too Many\r\n"
                   "X-%0300d: v\r\n"
                   "Content-Type: %0300d\r\n"
                   "Retry-After: \t 7\t\x01x \r\n"
                   "Content-Length:  \t2\r\n"
                   "\r\nok",
                   0, 0);
  assert_true(n > 0 && (size_t)n < sizeof(d));
  result_t r;
  run_all(d, (size_t)n, false, false, &r);
  assert_true(r.done);
  assert_int_equal(r.status, 429);
  assert_int_equal(strlen(r.ct), 127); /* the field's size, less its NUL */
  assert_int_equal(strspn(r.ct, "0"), 127);
  assert_string_equal(r.ra, "7\t\x01x");
  assert_int_equal(r.body_len, 2);
  /* a Content-Length longer than the line buffer is refused, not cut */
  n = snprintf(d, sizeof(d), "HTTP/1.1 200 OK\r\nContent-Length: %0200d\r\n\r\n", 5);
  run_all(d, (size_t)n, true, false, &r);
  assert_true(r.error);
  assert_string_equal(r.why, "bad Content-Length in the response");
  /* a CR inside a value is dropped, as it always was */
  static const char cr[] = "HTTP/1.1 200 OK\r\nContent-Type: text/\rplain\r\n"
                           "Content-Length: 0\r\n\r\n";
  RUN(cr, false, false, &r);
  assert_string_equal(r.ct, "text/plain");
  /* a name that alone passes the head's limit */
  size_t big = SB_H1_MAX_HEAD + 100;
  char *h = malloc(big);
  assert_non_null(h);
  memcpy(h, "HTTP/1.1 200 OK\r\n", 17);
  memset(h + 17, 'n', big - 17);
  run(h, big, NULL, 0, false, false, &r);
  assert_true(r.error);
  assert_string_equal(r.why, "response header too large");
  assert_true(r.used <= SB_H1_MAX_HEAD + 1);
  free(h);
}

static void test_garbage(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "SSH-2.0-OpenSSH_9.6\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 20\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    result_t r;
    run_all(bad[i], strlen(bad[i]), true, false, &r);
    if (!r.error)
      fail_msg("accepted: %s", bad[i]);
    assert_false(r.done);
  }
}

static void test_eof_cases(void **state)
{
  (void)state;
  result_t r;
  run("", 0, NULL, 0, true, false, &r);
  assert_true(r.error);
  assert_string_equal(r.why, "the server closed the connection without a response");
  static const char half_head[] = "HTTP/1.1 200 OK\r\nContent-";
  RUN(half_head, true, false, &r);
  assert_true(r.error);
  assert_int_equal(r.heads, 0);
  static const char half_body[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  RUN(half_body, true, false, &r);
  assert_true(r.error);
  assert_int_equal(r.heads, 1);
  assert_int_equal(r.body_len, 3);
  assert_string_equal(r.why, "the connection closed before the end of the body");
  static const char half_chunk[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
  RUN(half_chunk, true, false, &r);
  assert_true(r.error);
  assert_int_equal(r.body_len, 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_length),
      cmocka_unit_test(test_chunked),
      cmocka_unit_test(test_close_delimited),
      cmocka_unit_test(test_interim_then_final),
      cmocka_unit_test(test_no_body),
      cmocka_unit_test(test_keep_alive_rules),
      cmocka_unit_test(test_oversized_head),
      cmocka_unit_test(test_long_names_and_values),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_eof_cases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
