/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the native upstream client's HTTP/1.x response parser
 * (src/upstream/h1_response.c). The first byte picks a piece size and
 * whether the request was HEAD; the rest is the response. Fed whole and in
 * pieces, then EOF, it must give the same head, the same body bytes and
 * the same end, never consume more than it is given, and never report
 * body bytes outside the input. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "switchboard/buf.h"
#include "upstream/h1_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  int heads, status;
  bool keep_alive, done, error;
  size_t used;
  sb_buf_t out; /* body bytes, then the two kept header values */
} result_t;

static void run(const char *d, size_t n, size_t step, bool no_body, result_t *r)
{
  sb_h1_response_t p;
  sb_h1_response_init(&p, no_body);
  for (size_t start = 0; start < n && !r->done && !r->error; start += step) {
    size_t end = n - start < step ? n : start + step;
    size_t off = start;
    while (!r->done && !r->error) {
      size_t used = 0;
      sb_slice_t body = {NULL, 0};
      sb_h1_event_t ev = sb_h1_response_next(&p, d + off, end - off, &used, &body);
      assert(used <= end - off);
      off += used;
      r->used += used;
      if (ev == SB_H1_NEED_MORE) {
        assert(off == end);
        break;
      }
      if (ev == SB_H1_HEAD) {
        assert(p.status >= 200 && p.status <= 599);
        assert(memchr(p.content_type, '\0', sizeof(p.content_type)) != NULL);
        assert(memchr(p.retry_after, '\0', sizeof(p.retry_after)) != NULL);
        r->heads++;
        r->status = p.status;
        r->keep_alive = p.keep_alive;
        sb_buf_append(&r->out, p.content_type, strlen(p.content_type));
        sb_buf_append(&r->out, "\x1f", 1);
        sb_buf_append(&r->out, p.retry_after, strlen(p.retry_after));
        sb_buf_append(&r->out, "\x1e", 1);
      } else if (ev == SB_H1_BODY) {
        assert(r->heads == 1);
        assert(body.ptr >= d + off - used && body.ptr + body.len <= d + off);
        sb_buf_append(&r->out, body.ptr, body.len);
      } else if (ev == SB_H1_DONE) {
        r->done = true;
      } else {
        assert(p.error != NULL);
        r->error = true;
      }
    }
  }
  if (!r->done && !r->error) {
    if (sb_h1_response_eof(&p) == SB_H1_DONE)
      r->done = true;
    else
      r->error = true;
  }
  assert(r->heads <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t step = 1 + data[0] % 31;
  bool no_body = (data[0] & 0x80) != 0;
  const char *d = (const char *)data + 1;
  size--;
  result_t a, b;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  sb_buf_init(&a.out, 0);
  sb_buf_init(&b.out, 0);
  run(d, size, size == 0 ? 1 : size, no_body, &a);
  run(d, size, step, no_body, &b);
  assert(a.heads == b.heads && a.status == b.status);
  assert(a.done == b.done && a.error == b.error);
  assert(a.keep_alive == b.keep_alive);
  assert(a.used == b.used);
  assert(a.out.len == b.out.len);
  assert(a.out.len == 0 || memcmp(a.out.data, b.out.data, a.out.len) == 0);
  sb_buf_free(&a.out);
  sb_buf_free(&b.out);
  return 0;
}
