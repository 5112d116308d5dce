/* SPDX-License-Identifier: MIT */
/* Giving freed memory back: the decision and its pacing. That a burst's
 * memory really goes back is tested end to end (tests/e2e/memory.test.mjs):
 * what glibc can release depends on how the burst's chunks lie. */
#include "test_helpers.h"

#include "switchboard/heap.h"

#define MB (1u << 20)

static void test_decision(void **state)
{
  (void)state;
  const struct {
    size_t in_use, free, anon;
    bool quiet, trim;
  } cases[] = {
      /* after a burst: most of the resident memory is free */
      {3 * MB, 60 * MB, 64 * MB, false, true},
      {3 * MB, 60 * MB, 64 * MB, true, true},
      /* steady load: what is free is small next to what is in use */
      {60 * MB, 8 * MB, 68 * MB, false, false},
      /* free, but already given back (not resident) */
      {3 * MB, 60 * MB, 5 * MB, false, false},
      /* little to give back: only when quiet */
      {1 * MB, 2 * MB, 4 * MB, false, false},
      {1 * MB, 2 * MB, 4 * MB, true, true},
      {1 * MB, 100 << 10, 4 * MB, true, false},
      /* more free than in use, but under the floor */
      {1 * MB, 3 * MB, 5 * MB, false, false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_heap_stats_t s = {.in_use = cases[i].in_use,
                         .free = cases[i].free,
                         .anon_rss = cases[i].anon};
    if (sb_heap_should_trim(&s, cases[i].quiet) != cases[i].trim)
      fail_msg("case %zu: expected %s", i, cases[i].trim ? "trim" : "no trim");
  }
}

/* The tick after a trim only measures it. A trim that gives back nothing
 * makes the next wait 2, 4, 8 ... ticks after that (up to the cap); one that pays
 * lets the next come as soon as the tick after the measurement. */
static void test_pacing(void **state)
{
  (void)state;
  sb_heap_trim_t t;
  memset(&t, 0, sizeof(t));
  sb_heap_stats_t s = {.in_use = 3 * MB, .free = 60 * MB, .anon_rss = 64 * MB};
  unsigned at[16], n = 0;
  for (unsigned tick = 1; tick <= 200 && n < SB_ARRAY_LEN(at); tick++)
    if (sb_heap_decide(&t, &s, false))
      at[n++] = tick; /* the resident set never falls: futile trims */
  const unsigned want[] = {1, 4, 9, 18, 35, 68, 133, 198};
  assert_int_equal(n, SB_ARRAY_LEN(want));
  for (unsigned i = 0; i < n; i++)
    if (at[i] != want[i])
      fail_msg("trim %u at tick %u, expected %u", i, at[i], want[i]);

  /* A trim that pays resets the wait. */
  memset(&t, 0, sizeof(t));
  assert_true(sb_heap_decide(&t, &s, false));     /* tick 1: trim */
  sb_heap_stats_t after = {.in_use = 3 * MB, .free = 60 * MB, .anon_rss = 6 * MB};
  assert_false(sb_heap_decide(&t, &after, false)); /* tick 2: measures */
  assert_false(sb_heap_decide(&t, &after, false)); /* nothing left */
  assert_true(sb_heap_decide(&t, &s, false));     /* a new burst: at once */
  assert_int_equal(t.trims, 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decision),
      cmocka_unit_test(test_pacing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
