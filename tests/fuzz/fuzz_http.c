/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the HTTP request parser, fed the input in pieces whose
 * sizes come from the input itself (its first byte: 1 + byte % 64; the
 * seeds in corpus/http/ begin with it), with pipelined requests. Checks that
 * it never reads out of bounds, that a complete request converts to slices
 * within its bounds, and that the caps hold. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "switchboard/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const sb_http_limits_t limits = {.max_header_bytes = 2048,
                                          .max_headers = 16,
                                          .max_body_bytes = 4096,
                                          .max_target_bytes = 512};
  if (size < 1)
    return 0;
  size_t step = 1 + data[0] % 64;
  data++;
  size--;
  sb_http_parser_t p;
  sb_http_parser_init(&p, &limits);
  size_t off = 0;
  int requests = 0;
  while (off < size && requests < 8) {
    size_t n = size - off < step ? size - off : step;
    size_t used = 0;
    sb_status_t rc = sb_http_parser_feed(&p, (const char *)data + off, n, &used);
    assert(used <= n);
    if (rc == SB_ERROR) {
      assert(p.error_status >= 400 && p.error_status < 600);
      break;
    }
    off += rc == SB_OK ? used : n;
    if (rc == SB_OK) {
      sb_arena_t a;
      sb_http_request_t r;
      sb_arena_init(&a, 4096, 0);
      if (sb_http_parser_request(&p, &a, &r) == SB_OK) {
        assert(r.body.len <= limits.max_body_bytes);
        assert(r.n_headers <= limits.max_headers);
        assert(r.path.len <= r.url.len);
        for (size_t i = 0; i < r.n_headers; i++)
          (void)sb_http_header(&r, r.headers[i].name.ptr, r.headers[i].name.len);
        (void)sb_http_query_param(&a, r.query, "id");
      }
      sb_arena_destroy(&a);
      sb_http_parser_reset(&p);
      requests++;
    }
  }
  sb_http_parser_free(&p);
  return 0;
}
