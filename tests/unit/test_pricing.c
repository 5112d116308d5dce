/* SPDX-License-Identifier: MIT */
/* Exact prices and costs: decimal strings to picodollars and back, and
 * costs checked against values computed by hand. */
#include "test_helpers.h"

#include "switchboard/pricing.h"

static void test_parse(void **state)
{
  (void)state;
  const struct {
    const char *s;
    sb_status_t rc;
    int64_t pico;
  } cases[] = {
      {"0", SB_OK, 0},
      {"0.0000025", SB_OK, 2500000},
      {"0.00000015", SB_OK, 150000},
      {"0.0000000375", SB_OK, 37500},
      {"0.000000000001", SB_OK, 1},
      {"0.0000000000010000", SB_OK, 1},
      {"15", SB_OK, 15 * SB_PICO_PER_USD},
      {"1.5", SB_OK, 1500000000000LL},
      {"2.5e-6", SB_OK, 2500000},
      {"1E-12", SB_OK, 1},
      {"3.", SB_OK, 3 * SB_PICO_PER_USD},
      {".5", SB_OK, 500000000000LL},
      {"0.0000000000001", SB_ERROR, 0}, /* finer than a picodollar */
      {"1e-13", SB_ERROR, 0},
      {"-1", SB_ERROR, 0},
      {"", SB_ERROR, 0},
      {".", SB_ERROR, 0},
      {"abc", SB_ERROR, 0},
      {"1.2.3", SB_ERROR, 0},
      {"1e", SB_ERROR, 0},
      {"99999999", SB_ERROR, 0},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    int64_t v = -7;
    sb_status_t rc = sb_price_parse(sb_slice_z(cases[i].s), &v);
    if (rc != cases[i].rc || (rc == SB_OK && v != cases[i].pico))
      fail_msg("'%s': rc %d value %lld, want rc %d value %lld", cases[i].s, rc,
               (long long)v, cases[i].rc, (long long)cases[i].pico);
  }
}

static void test_format(void **state)
{
  (void)state;
  const struct {
    int64_t pico;
    const char *s;
  } cases[] = {
      {0, "0"},
      {1, "0.000000000001"},
      {3300000, "0.0000033"},
      {14000000, "0.000014"},
      {SB_PICO_PER_USD, "1"},
      {12500000000000LL, "12.5"},
      {-2500000, "-0.0000025"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char buf[40];
    sb_cost_format(cases[i].pico, buf, sizeof(buf));
    assert_string_equal(buf, cases[i].s);
    int64_t back;
    if (cases[i].pico >= 0) {
      assert_int_equal(sb_price_parse(sb_slice_z(buf), &back), SB_OK);
      assert_int_equal(back, cases[i].pico);
    }
  }
}

static sb_price_t price(const char *prompt, const char *completion)
{
  sb_price_t p;
  memset(&p, 0, sizeof(p));
  sb_price_parse(sb_slice_z(prompt), &p.prompt);
  sb_price_parse(sb_slice_z(completion), &p.completion);
  return p;
}

static void test_cost(void **state)
{
  (void)state;
  /* gpt-4o-mini: $0.15 / $0.60 per million; 10 in, 3 out:
   * 10 * 0.00000015 + 3 * 0.0000006 = 0.0000015 + 0.0000018 = 0.0000033 */
  sb_price_t p = price("0.00000015", "0.0000006");
  sb_usage_t u = {.prompt = 10, .completion = 3};
  assert_int_equal(sb_cost_pico(&p, &u), 3300000);

  /* cached input: 2048 in of which 1920 cached at $0.075/M, 30 out:
   * 128 * 150000 + 1920 * 75000 + 30 * 600000
   * = 19200000 + 144000000 + 18000000 = 181200000 */
  p.has_cache_read = true;
  sb_price_parse(SB_SLICE_LIT("0.000000075"), &p.cache_read);
  sb_usage_t cached = {.prompt = 2048, .completion = 30, .cached = 1920};
  assert_int_equal(sb_cost_pico(&p, &cached), 181200000);
  /* without a cache price, cached tokens cost the prompt price */
  p.has_cache_read = false;
  assert_int_equal(sb_cost_pico(&p, &cached), 2048 * 150000 + 30 * 600000);

  /* claude-3.5-haiku: $0.80 in, $4 out, cache read $0.08, write $1.00;
   * 5000 in = 1000 plain + 3000 read + 1000 written, 200 out:
   * 1000*800000 + 3000*80000 + 1000*1000000 + 200*4000000
   * = 800000000 + 240000000 + 1000000000 + 800000000 = 2840000000 */
  sb_price_t h = price("0.0000008", "0.000004");
  h.has_cache_read = h.has_cache_write = true;
  sb_price_parse(SB_SLICE_LIT("0.00000008"), &h.cache_read);
  sb_price_parse(SB_SLICE_LIT("0.000001"), &h.cache_write);
  sb_usage_t w = {.prompt = 5000, .completion = 200, .cached = 3000,
                  .cache_write = 1000};
  assert_int_equal(sb_cost_pico(&h, &w), 2840000000LL);

  /* reasoning priced apart; per-request fee */
  sb_price_t r = price("0.000001", "0.000002");
  r.has_reasoning = true;
  sb_price_parse(SB_SLICE_LIT("0.000003"), &r.reasoning);
  sb_price_parse(SB_SLICE_LIT("0.001"), &r.request);
  sb_usage_t ru = {.prompt = 100, .completion = 50, .reasoning = 20};
  /* 100*1e6 + 30*2e6 + 20*3e6 + 1e9 = 1e8 + 6e7 + 6e7 + 1e9 */
  assert_int_equal(sb_cost_pico(&r, &ru), 1220000000LL);

  /* counts that do not add up are clamped, never negative */
  sb_usage_t odd = {.prompt = 10, .completion = 1, .cached = 50,
                    .cache_write = 50, .reasoning = 9};
  assert_true(sb_cost_pico(&h, &odd) >= 0);
  /* saturation instead of overflow */
  sb_price_t big = price("9000000", "0");
  sb_usage_t huge = {.prompt = UINT64_MAX / 2};
  assert_int_equal(sb_cost_pico(&big, &huge), INT64_MAX);
}

static void test_sums_are_exact(void **state)
{
  (void)state;
  /* A million requests at 0.1 USD each sum to exactly 100000 USD, which
   * a double accumulator does not manage. */
  sb_price_t p = price("0.1", "0");
  sb_usage_t u = {.prompt = 1};
  int64_t total = 0;
  double dtotal = 0;
  for (int i = 0; i < 1000000; i++) {
    total += sb_cost_pico(&p, &u);
    dtotal += 0.1;
  }
  assert_int_equal(total, 100000 * SB_PICO_PER_USD);
  assert_true(dtotal != 100000.0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_cost),
      cmocka_unit_test(test_sums_are_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
