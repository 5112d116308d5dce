/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the SSE parser. The same input fed whole and in
 * pieces (sizes from the input) must give the same events. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "switchboard/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sb_status_t collect(void *ud, const sb_sse_event_t *ev)
{
  sb_buf_t *b = ud;
  sb_buf_append_slice(b, ev->event);
  sb_buf_append(b, "\x1f", 1);
  sb_buf_append_slice(b, ev->id);
  sb_buf_append(b, "\x1f", 1);
  sb_buf_append_slice(b, ev->data);
  sb_buf_append(b, "\x1e", 1);
  return SB_OK;
}

static sb_status_t run(const uint8_t *d, size_t n, size_t step, sb_buf_t *out)
{
  sb_sse_parser_t p;
  sb_status_t rc = SB_OK;
  sb_sse_init(&p, 4096);
  for (size_t off = 0; off < n && rc == SB_OK; off += step) {
    size_t k = n - off < step ? n - off : step;
    rc = sb_sse_feed(&p, (const char *)d + off, k, collect, out);
  }
  sb_sse_free(&p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t step = 1 + data[0] % 17;
  data++;
  size--;
  sb_buf_t a, b;
  sb_buf_init(&a, 0);
  sb_buf_init(&b, 0);
  sb_status_t ra = run(data, size, size == 0 ? 1 : size, &a);
  sb_status_t rb = run(data, size, step, &b);
  /* overflow can only be reported the same way whatever the split */
  assert(ra == rb);
  if (ra == SB_OK) {
    assert(a.len == b.len);
    assert(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
  }
  sb_buf_free(&a);
  sb_buf_free(&b);
  return 0;
}
