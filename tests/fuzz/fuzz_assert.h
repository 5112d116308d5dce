/* SPDX-License-Identifier: MIT */
/* The checks every libFuzzer driver of a wire format makes of what it
 * got: a JSON value's text is JSON, a jtext is a JSON string's contents
 * (empty is both). */
#ifndef SB_TESTS_FUZZ_FUZZ_ASSERT_H
#define SB_TESTS_FUZZ_FUZZ_ASSERT_H

#include <assert.h>

#include "switchboard/json.h"

SB_UNUSED static void fuzz_assert_json(sb_slice_t s)
{
  sb_json_error_t e;
  assert(s.len == 0 || sb_json_validate(s.ptr, s.len, 0, &e) == SB_OK);
  (void)e;
}

SB_UNUSED static void fuzz_assert_jtext(sb_slice_t s)
{
  sb_buf_t q;
  sb_json_error_t e;
  sb_buf_init(&q, 0);
  sb_buf_append(&q, "\"", 1);
  sb_buf_append_slice(&q, s);
  sb_buf_append(&q, "\"", 1);
  assert(sb_json_validate(q.data, q.len, 0, &e) == SB_OK);
  (void)e;
  sb_buf_free(&q);
}

#endif
