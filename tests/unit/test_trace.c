/* SPDX-License-Identifier: MIT */
/* W3C trace context: traceparent read and written (src/core/trace.c). */
#include "test_helpers.h"

#include "switchboard/trace.h"

static const char *const good =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void test_parse(void **state)
{
  (void)state;
  sb_traceparent_t t;
  assert_int_equal(sb_traceparent_parse(sb_slice_z(good), &t), SB_OK);
  assert_int_equal(t.trace_id[0], 0x4b);
  assert_int_equal(t.trace_id[15], 0x36);
  assert_int_equal(t.span_id[0], 0x00);
  assert_int_equal(t.span_id[1], 0xf0);
  assert_int_equal(t.span_id[7], 0xb7);
  assert_int_equal(t.flags, SB_TRACE_FLAG_SAMPLED);
  /* spaces around the value are fine */
  assert_int_equal(
      sb_traceparent_parse(
          sb_slice_z("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 "),
          &t),
      SB_OK);
  assert_int_equal(t.flags, 0);
  /* a later version may carry more fields after a dash */
  assert_int_equal(
      sb_traceparent_parse(
          sb_slice_z("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"
                     "what-the-future-holds"),
          &t),
      SB_OK);
}

static void test_parse_refuses(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "",
      "00",
      /* upper case hex */
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      /* all-zero trace id, span id */
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      /* version ff is invalid */
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      /* version 00 with something after it */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
      /* wrong separators and lengths */
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
  };
  sb_traceparent_t t;
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++)
    if (sb_traceparent_parse(sb_slice_z(bad[i]), &t) != SB_ERROR)
      fail_msg("accepted \"%s\"", bad[i]);
  assert_int_equal(sb_traceparent_parse(SB_NULL_SLICE, &t), SB_ERROR);
}

static void test_format_round_trip(void **state)
{
  (void)state;
  sb_traceparent_t t;
  char out[SB_TRACEPARENT_LEN + 1];
  assert_int_equal(sb_traceparent_parse(sb_slice_z(good), &t), SB_OK);
  sb_traceparent_format(t.trace_id, t.span_id, t.flags, out);
  assert_string_equal(out, good);
  uint8_t span[8] = {1, 2, 3, 4, 5, 6, 7, 0xfe};
  sb_traceparent_format(t.trace_id, span, 0, out);
  assert_string_equal(
      out, "00-4bf92f3577b34da6a3ce929d0e0e4736-01020304050607fe-00");
}

/* 0, 0, then 2, 3, 4 ...: the first id drawn is all zero */
static uint64_t seq_next(void *p)
{
  uint64_t *v = p;
  uint64_t n = (*v)++;
  return n < 2 ? 0 : n;
}

static void test_random_and_sample(void **state)
{
  (void)state;
  /* a draw of zeros is drawn again: an id is never all zero */
  uint64_t seq = 0;
  uint8_t id[16];
  sb_trace_random_id(id, 16, seq_next, &seq);
  bool nonzero = false;
  for (int i = 0; i < 16; i++)
    nonzero |= id[i] != 0;
  assert_true(nonzero);
  assert_int_equal(seq, 4); /* drawn twice */
  uint8_t span[8];
  sb_trace_random_id(span, 8, seq_next, &seq);
  uint64_t v;
  memcpy(&v, span, 8);
  assert_true(v != 0);

  assert_true(sb_trace_sample(1.0, 0));
  assert_true(sb_trace_sample(1.0, UINT64_MAX));
  assert_false(sb_trace_sample(0.0, 0));
  assert_false(sb_trace_sample(0.0, UINT64_MAX));
  /* a half: draws below the middle are kept */
  assert_true(sb_trace_sample(0.5, 0));
  assert_true(sb_trace_sample(0.5, (UINT64_MAX >> 1) - 4096));
  assert_false(sb_trace_sample(0.5, (UINT64_MAX >> 1) + 4096));
  /* over many draws, about the ratio */
  unsigned kept = 0;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    kept += sb_trace_sample(0.1, x);
  }
  assert_in_range(kept, 9000, 11000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_refuses),
      cmocka_unit_test(test_format_round_trip),
      cmocka_unit_test(test_random_and_sample),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
