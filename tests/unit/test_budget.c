/* SPDX-License-Identifier: MIT */
/* Budgets: UTC reset periods, reservation and settlement arithmetic, and
 * worst-case costs checked against values computed by hand. */
#include "test_helpers.h"

#include "switchboard/limits.h"
#include "switchboard/pricing.h"

#define DAY 86400000LL

/* 2026-11-30T07:25:10.500Z is a Monday. */
static const int64_t MON = 1796023510500LL;

static void test_periods(void **state)
{
  (void)state;
  /* 2026-11-30T00:00:00Z = 1795996800 s */
  assert_int_equal(sb_period_start(SB_RESET_DAILY, MON), 1795996800000LL);
  assert_int_equal(sb_period_next(SB_RESET_DAILY, MON), 1795996800000LL + DAY);
  /* Monday: the week starts the same midnight */
  assert_int_equal(sb_period_start(SB_RESET_WEEKLY, MON), 1795996800000LL);
  /* Sunday 2026-12-06T23:59:59.999Z is still that week */
  assert_int_equal(sb_period_start(SB_RESET_WEEKLY, 1795996800000LL + 7 * DAY - 1),
                   1795996800000LL);
  assert_int_equal(sb_period_start(SB_RESET_WEEKLY, 1795996800000LL + 7 * DAY),
                   1795996800000LL + 7 * DAY);
  /* 2026-11-01T00:00:00Z = 1793491200 s; 2026-12-01 = 1796083200 s */
  assert_int_equal(sb_period_start(SB_RESET_MONTHLY, MON), 1793491200000LL);
  assert_int_equal(sb_period_next(SB_RESET_MONTHLY, MON), 1796083200000LL);
  /* December rolls into January: 2027-01-01 = 1798761600 s */
  assert_int_equal(sb_period_next(SB_RESET_MONTHLY, 1796083200000LL + 5 * DAY),
                   1798761600000LL);
  /* leap February: 2028-02-29T12:00Z -> 2028-02-01 (1832976000 s) .. 2028-03-01 (1835481600 s) */
  assert_int_equal(sb_period_start(SB_RESET_MONTHLY, 1835438400000LL), 1832976000000LL);
  assert_int_equal(sb_period_next(SB_RESET_MONTHLY, 1835438400000LL), 1835481600000LL);
  /* the epoch itself was a Thursday: its week began Monday 1969-12-29 */
  assert_int_equal(sb_period_start(SB_RESET_WEEKLY, 0), -3 * DAY);
  assert_int_equal(sb_period_start(SB_RESET_NONE, MON), 0);
  assert_true(sb_period_next(SB_RESET_NONE, MON) == INT64_MAX);
}

static void test_reset_names(void **state)
{
  (void)state;
  sb_reset_t r;
  assert_int_equal(sb_reset_parse(SB_SLICE_LIT("weekly"), &r), SB_OK);
  assert_int_equal(r, SB_RESET_WEEKLY);
  assert_string_equal(sb_reset_name(SB_RESET_MONTHLY), "monthly");
  assert_int_equal(sb_reset_parse(SB_SLICE_LIT("hourly"), &r), SB_ERROR);
  assert_int_equal(sb_reset_parse(SB_SLICE_LIT("Daily"), &r), SB_ERROR);
  assert_null(sb_reset_name(SB_RESET_NONE));
}

static void test_reserve_settle(void **state)
{
  (void)state;
  sb_budget_t b = {.limit = 1000, .reset = SB_RESET_NONE};
  assert_int_equal(sb_budget_reserve(&b, 600, MON), SB_OK);
  assert_int_equal(sb_budget_remaining(&b), 400);
  /* 600 reserved: another 500 does not fit, 400 does exactly */
  assert_int_equal(sb_budget_reserve(&b, 500, MON), SB_DECLINED);
  assert_int_equal(b.reserved, 600);
  assert_int_equal(sb_budget_reserve(&b, 400, MON), SB_OK);
  assert_int_equal(sb_budget_remaining(&b), 0);
  assert_int_equal(sb_budget_reserve(&b, 1, MON), SB_DECLINED);
  assert_int_equal(sb_budget_reserve(&b, 0, MON), SB_OK); /* free call */
  /* the first call cost 250 of its 600 */
  sb_budget_settle(&b, 600, 250, MON);
  assert_int_equal(b.used, 250);
  assert_int_equal(b.reserved, 400);
  assert_int_equal(sb_budget_remaining(&b), 350);
  sb_budget_settle(&b, 400, 400, MON);
  assert_int_equal(b.used, 650);
  assert_int_equal(b.reserved, 0);
  assert_int_equal(sb_budget_remaining(&b), 350);
  assert_int_equal(sb_budget_reserve(&b, 351, MON), SB_DECLINED);
  assert_int_equal(sb_budget_reserve(&b, 350, MON), SB_OK);

  /* no limit: anything fits, remaining is -1 */
  sb_budget_t u = {.limit = -1};
  assert_int_equal(sb_budget_reserve(&u, INT64_MAX, MON), SB_OK);
  assert_int_equal(sb_budget_remaining(&u), -1);
  /* a zero limit admits only free calls */
  sb_budget_t z = {.limit = 0};
  assert_int_equal(sb_budget_reserve(&z, 1, MON), SB_DECLINED);
  assert_int_equal(sb_budget_reserve(&z, 0, MON), SB_OK);
}

static void test_daily_reset(void **state)
{
  (void)state;
  sb_budget_t b = {.limit = 100, .reset = SB_RESET_DAILY};
  sb_budget_roll(&b, MON);
  assert_int_equal(sb_budget_reserve(&b, 100, MON), SB_OK);
  sb_budget_settle(&b, 100, 100, MON);
  assert_int_equal(sb_budget_reserve(&b, 1, MON), SB_DECLINED);
  /* one millisecond before midnight: still spent */
  int64_t midnight = sb_period_next(SB_RESET_DAILY, MON);
  assert_int_equal(sb_budget_reserve(&b, 1, midnight - 1), SB_DECLINED);
  /* at midnight UTC the period starts again */
  assert_int_equal(sb_budget_reserve(&b, 100, midnight), SB_OK);
  assert_int_equal(b.used, 0);
  /* a reservation made before midnight and settled after it counts in
   * the new period, and the old reservation is released */
  sb_budget_t c = {.limit = 100, .reset = SB_RESET_DAILY};
  assert_int_equal(sb_budget_reserve(&c, 60, midnight - 10), SB_OK);
  sb_budget_settle(&c, 60, 30, midnight + 10);
  assert_int_equal(c.reserved, 0);
  assert_int_equal(c.used, 30);
}

/* Worst cases at gpt-4o-mini's list prices, by hand:
 * prompt 0.00000015 USD = 150000 pico, completion 0.0000006 = 600000. */
static void test_costs_by_hand(void **state)
{
  (void)state;
  sb_price_t p;
  memset(&p, 0, sizeof(p));
  assert_int_equal(sb_price_parse(SB_SLICE_LIT("0.00000015"), &p.prompt), SB_OK);
  assert_int_equal(sb_price_parse(SB_SLICE_LIT("0.0000006"), &p.completion), SB_OK);
  sb_usage_t u = {.prompt = 1234, .completion = 567};
  /* 1234 * 150000 + 567 * 600000 = 185100000 + 340200000 */
  assert_int_equal(sb_cost_pico(&p, &u), 525300000LL);
  char buf[40];
  sb_cost_format(525300000LL, buf, sizeof(buf));
  assert_string_equal(buf, "0.0005253");
  /* the prompt estimate: 400 request bytes -> 100 tokens + 32 margin */
  assert_int_equal(sb_estimate_prompt_tokens(400), 132);
  assert_int_equal(sb_estimate_prompt_tokens(401), 133);
  /* the reservation for that request with max_tokens 100:
   * 132 * 150000 + 100 * 600000 = 19800000 + 60000000 */
  sb_usage_t w = {.prompt = sb_estimate_prompt_tokens(400), .completion = 100};
  assert_int_equal(sb_cost_pico(&p, &w), 79800000LL);
  /* a thousand such settlements sum exactly (no float drift) */
  sb_budget_t b = {.limit = -1};
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(sb_budget_reserve(&b, 79800000LL, MON), SB_OK);
    sb_budget_settle(&b, 79800000LL, sb_cost_pico(&p, &u), MON);
  }
  assert_int_equal(b.used, 525300000000LL);
  sb_cost_format(b.used, buf, sizeof(buf));
  assert_string_equal(buf, "0.5253");
  assert_int_equal(b.reserved, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_periods),
      cmocka_unit_test(test_reset_names),
      cmocka_unit_test(test_reserve_settle),
      cmocka_unit_test(test_daily_reset),
      cmocka_unit_test(test_costs_by_hand),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
