/* SPDX-License-Identifier: MIT */
/* Retry backoff math and Retry-After parsing (src/gateway/health.c). */
#include "test_helpers.h"

#include "switchboard/health.h"

static void test_backoff_grows_and_caps(void **state)
{
  (void)state;
  sb_retry_policy_t p = {.attempts = 5, .base_ms = 100, .max_ms = 1000,
                         .budget_ms = 10000};
  /* equal jitter: [step/2, step] with step = base * 2^n capped at max */
  const uint32_t steps[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (unsigned n = 0; n < SB_ARRAY_LEN(steps); n++) {
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint64_t r = 0; r < 5000; r++) {
      uint32_t d = sb_retry_backoff_ms(&p, n, 0, r * 2654435761u);
      lo = d < lo ? d : lo;
      hi = d > hi ? d : hi;
    }
    assert_int_equal(lo, steps[n] / 2);
    assert_int_equal(hi, steps[n]);
  }
  /* a huge retry number does not overflow */
  assert_true(sb_retry_backoff_ms(&p, 1000, 0, 12345) <= 1000);
  /* rnd picks the jitter deterministically */
  assert_int_equal(sb_retry_backoff_ms(&p, 0, 0, 0), 50);
  assert_int_equal(sb_retry_backoff_ms(&p, 0, 0, 50), 100);
}

static void test_backoff_retry_after(void **state)
{
  (void)state;
  sb_retry_policy_t p = {.attempts = 3, .base_ms = 100, .max_ms = 2000,
                         .budget_ms = 10000};
  /* honoured when longer than the backoff */
  assert_int_equal(sb_retry_backoff_ms(&p, 0, 1500, 7), 1500);
  /* the backoff wins when it is longer */
  assert_true(sb_retry_backoff_ms(&p, 5, 10, 7) >= 1000);
  /* longer than the cap: do not retry here */
  assert_int_equal(sb_retry_backoff_ms(&p, 0, 2001, 7), UINT32_MAX);
  assert_int_equal(sb_retry_backoff_ms(&p, 0, 2000, 7), 2000);
  /* base 0: no wait at all */
  sb_retry_policy_t z = {.attempts = 1, .base_ms = 0, .max_ms = 0};
  assert_int_equal(sb_retry_backoff_ms(&z, 3, 0, 99), 0);
}

static void test_retry_after_parse(void **state)
{
  (void)state;
  uint32_t ms = 0;
  assert_int_equal(sb_retry_after_parse(SB_SLICE_LIT("7"), &ms), SB_OK);
  assert_int_equal(ms, 7000);
  assert_int_equal(sb_retry_after_parse(SB_SLICE_LIT(" 1.5 "), &ms), SB_OK);
  assert_int_equal(ms, 1500);
  assert_int_equal(sb_retry_after_parse(SB_SLICE_LIT("0.25"), &ms), SB_OK);
  assert_int_equal(ms, 250);
  assert_int_equal(sb_retry_after_parse(SB_SLICE_LIT("0"), &ms), SB_OK);
  assert_int_equal(ms, 0);
  /* capped at a day */
  assert_int_equal(sb_retry_after_parse(SB_SLICE_LIT("99999999"), &ms), SB_OK);
  assert_int_equal(ms, 24u * 3600u * 1000u);
  const char *bad[] = {"", "abc", "-1", "1e3", "1.2.3", "Wed, 21 Oct 2015 07:28:00 GMT",
                       "12345678901234567"};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++)
    assert_int_equal(sb_retry_after_parse(sb_slice_z(bad[i]), &ms), SB_ERROR);
}

static void test_retry_statuses(void **state)
{
  (void)state;
  assert_true(sb_retry_status(429));
  assert_true(sb_retry_status(500));
  assert_true(sb_retry_status(502));
  assert_true(sb_retry_status(503));
  assert_true(sb_retry_status(529));
  assert_true(sb_retry_status(408));
  assert_false(sb_retry_status(400));
  assert_false(sb_retry_status(401));
  assert_false(sb_retry_status(404));
  assert_false(sb_retry_status(200));
  assert_false(sb_retry_status(0));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff_grows_and_caps),
      cmocka_unit_test(test_backoff_retry_after),
      cmocka_unit_test(test_retry_after_parse),
      cmocka_unit_test(test_retry_statuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
