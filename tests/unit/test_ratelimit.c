/* SPDX-License-Identifier: MIT */
/* Rate-limit windows: a sliding 60-second window in one-second buckets,
 * with Retry-After and reset times. */
#include "test_helpers.h"

#include "switchboard/limits.h"

static const int64_t T = 1796023500; /* any second */

static void test_sliding(void **state)
{
  (void)state;
  sb_window_t w;
  memset(&w, 0, sizeof(w));
  assert_int_equal(sb_window_sum(&w, T), 0);
  assert_int_equal(sb_window_reset(&w, T), 0);
  sb_window_add(&w, T, 1);
  sb_window_add(&w, T, 1);
  sb_window_add(&w, T + 10, 3);
  sb_window_add(&w, T + 59, 1);
  assert_int_equal(sb_window_sum(&w, T + 59), 6);
  /* at T+60 the two requests of second T have left the window */
  assert_int_equal(sb_window_sum(&w, T + 60), 4);
  assert_int_equal(sb_window_sum(&w, T + 69), 4);
  assert_int_equal(sb_window_sum(&w, T + 70), 1);
  assert_int_equal(sb_window_sum(&w, T + 118), 1);
  assert_int_equal(sb_window_sum(&w, T + 119), 0);
  /* a bucket reused 60 s later starts from zero */
  sb_window_add(&w, T + 120, 2);
  assert_int_equal(sb_window_sum(&w, T + 120), 2);
  /* time going backwards (another thread's clock) does not count the
   * future */
  assert_int_equal(sb_window_sum(&w, T + 119), 0);
}

static void test_retry_after(void **state)
{
  (void)state;
  sb_window_t w;
  memset(&w, 0, sizeof(w));
  /* 5 rpm: 3 requests at T, 2 at T+20 */
  sb_window_add(&w, T, 3);
  sb_window_add(&w, T + 20, 2);
  assert_int_equal(sb_window_sum(&w, T + 30), 5);
  /* full: one slot frees when second T leaves, at T+60: 30 s from T+30 */
  assert_int_equal(sb_window_retry_after(&w, T + 30, 5), 30);
  assert_int_equal(sb_window_reset(&w, T + 30), 30);
  /* with a limit of 2, T's three and one of T+20's must go: T+80 */
  assert_int_equal(sb_window_retry_after(&w, T + 30, 2), 50);
  /* under the limit: no wait */
  assert_int_equal(sb_window_retry_after(&w, T + 30, 6), 0);
  /* at T+60 only T+20's two remain */
  assert_int_equal(sb_window_sum(&w, T + 60), 2);
  assert_int_equal(sb_window_reset(&w, T + 60), 20);
}

/* An RPM limit admits exactly N requests in any 60-second window. */
static void test_exact_rpm(void **state)
{
  (void)state;
  sb_window_t w;
  memset(&w, 0, sizeof(w));
  const uint64_t limit = 7;
  unsigned admitted = 0;
  /* one attempt every 250 ms for 3 minutes */
  for (int64_t ms = 0; ms < 180000; ms += 250) {
    int64_t s = T + ms / 1000;
    if (sb_window_sum(&w, s) < limit) {
      sb_window_add(&w, s, 1);
      admitted++;
    }
    assert_true(sb_window_sum(&w, s) <= limit);
  }
  /* 7 in each of the three minutes */
  assert_int_equal(admitted, 21);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sliding),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_exact_rpm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
