/* SPDX-License-Identifier: MIT */
/* Circuit breaker state machine, health averages and provider key
 * rotation (src/gateway/health.c). */
#include "test_helpers.h"

#include "switchboard/health.h"

static void test_breaker_opens_after_threshold(void **state)
{
  (void)state;
  sb_breaker_t b;
  memset(&b, 0, sizeof(b));
  int64_t t = 1000000;
  for (int i = 0; i < 2; i++) {
    assert_true(sb_breaker_acquire(&b, t, 500));
    sb_breaker_record(&b, false, t, 3);
    assert_int_equal(b.state, SB_BREAKER_CLOSED);
  }
  /* a success in between resets the count */
  assert_true(sb_breaker_acquire(&b, t, 500));
  sb_breaker_record(&b, true, t, 3);
  assert_int_equal(b.consecutive, 0);
  for (int i = 0; i < 3; i++) {
    assert_true(sb_breaker_acquire(&b, t, 500));
    sb_breaker_record(&b, false, t + i, 3);
  }
  assert_int_equal(b.state, SB_BREAKER_OPEN);
  assert_int_equal(b.opened_ms, t + 2);
  assert_false(sb_breaker_usable(&b, t + 100, 500));
  assert_false(sb_breaker_acquire(&b, t + 100, 500));
  /* a late failure of a request that started before it opened does not
   * extend the cooldown */
  sb_breaker_record(&b, false, t + 300, 3);
  assert_int_equal(b.opened_ms, t + 2);
}

static void test_breaker_half_open_probe(void **state)
{
  (void)state;
  sb_breaker_t b = {.state = SB_BREAKER_OPEN, .consecutive = 5,
                    .opened_ms = 1000};
  assert_false(sb_breaker_usable(&b, 1499, 500));
  assert_true(sb_breaker_usable(&b, 1500, 500));
  /* one probe at a time */
  assert_true(sb_breaker_acquire(&b, 1500, 500));
  assert_int_equal(b.state, SB_BREAKER_HALF_OPEN);
  assert_false(sb_breaker_usable(&b, 1501, 500));
  assert_false(sb_breaker_acquire(&b, 1501, 500));
  /* the probe fails: open again, a new cooldown */
  sb_breaker_record(&b, false, 1600, 5);
  assert_int_equal(b.state, SB_BREAKER_OPEN);
  assert_int_equal(b.opened_ms, 1600);
  assert_false(sb_breaker_acquire(&b, 2000, 500));
  assert_true(sb_breaker_acquire(&b, 2100, 500));
  /* an inconclusive probe (a throttled key) is given back */
  b.probing = false;
  assert_true(sb_breaker_acquire(&b, 2101, 500));
  assert_int_equal(b.state, SB_BREAKER_HALF_OPEN);
  /* the probe succeeds: closed */
  sb_breaker_record(&b, true, 2150, 5);
  assert_int_equal(b.state, SB_BREAKER_CLOSED);
  assert_int_equal(b.consecutive, 0);
  assert_true(sb_breaker_acquire(&b, 2151, 500));
  assert_true(sb_breaker_acquire(&b, 2151, 500));
}

/* A config of one provider, `p`, named `name`, with `keys`. */
static void one_provider(sb_config_t *cfg, sb_provider_t *p, const char *name,
                         const char **keys, size_t n_keys)
{
  memset(cfg, 0, sizeof(*cfg));
  memset(p, 0, sizeof(*p));
  p->name = name;
  p->keys = keys;
  p->n_keys = n_keys;
  cfg->providers = p;
  cfg->n_providers = 1;
}

static sb_health_t *table(sb_config_t *cfg, sb_provider_t *p, const char **keys,
                          size_t n_keys)
{
  one_provider(cfg, p, "groq", keys, n_keys);
  cfg->breaker_failures = 2;
  cfg->breaker_cooldown_ms = 1000;
  sb_health_t *h = sb_health_new(cfg, 4);
  assert_non_null(h);
  return h;
}

static void test_health_slots(void **state)
{
  (void)state;
  sb_config_t cfg;
  sb_provider_t p;
  sb_health_t *h = table(&cfg, &p, NULL, 0);
  assert_int_equal(h->n_slots, 5);
  assert_int_equal(sb_health_provider_slot(h, &p), 4);
  int64_t now = 60000 * 1000;
  sb_health_view_t v;
  sb_health_view(h, 1, now, &v);
  assert_true(v.usable);
  assert_false(v.seeded);
  assert_true(v.uptime_30m == 1.0);
  sb_health_report(h, 1, true, now, 100, 20, 80); /* 80 tokens in 80 ms */
  sb_health_view(h, 1, now, &v);
  assert_true(v.seeded);
  assert_true(v.latency_ms == 100);
  assert_true(v.ttft_ms == 20);
  assert_true(v.tps > 999 && v.tps < 1001);
  sb_health_report(h, 1, true, now, 200, 20, 0);
  sb_health_view(h, 1, now, &v);
  assert_true(v.latency_ms > 100 && v.latency_ms < 200); /* moving average */
  /* two failures open it (threshold 2) */
  assert_true(sb_health_acquire(h, 1, now));
  sb_health_report(h, 1, false, now, 0, 0, 0);
  sb_health_report(h, 1, false, now, 0, 0, 0);
  sb_health_view(h, 1, now, &v);
  assert_int_equal(v.state, SB_BREAKER_OPEN);
  assert_false(v.usable);
  assert_false(sb_health_acquire(h, 1, now + 10));
  assert_true(v.uptime_30m == 0.5);
  assert_int_equal(v.samples_30m, 4);
  assert_int_equal(v.failures, 2);
  /* old minutes fall out of the 30-minute window */
  sb_health_view(h, 1, now + 31 * 60000, &v);
  assert_int_equal(v.samples_30m, 0);
  /* other slots are untouched; out of range slots are harmless */
  sb_health_view(h, 2, now, &v);
  assert_int_equal(v.requests, 0);
  assert_true(sb_health_acquire(h, 99, now));
  sb_health_report(h, 99, false, now, 0, 0, 0);
  sb_health_free(h);
}

static void test_keys_rotate_and_cool(void **state)
{
  (void)state;
  const char *keys[] = {"a", "b", "c"};
  sb_config_t cfg;
  sb_provider_t p;
  sb_health_t *h = table(&cfg, &p, keys, 3);
  int64_t now = 1000000;
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 9; i++)
    seen[sb_health_pick_key(h, &p, now)]++;
  assert_int_equal(seen[0], 3);
  assert_int_equal(seen[1], 3);
  assert_int_equal(seen[2], 3);
  /* 429 cools key 1 for its Retry-After */
  sb_health_key_result(h, &p, 1, 429, 2000, now);
  assert_int_equal(sb_health_key_until(h, &p, 1), now + 2000);
  for (int i = 0; i < 6; i++)
    assert_int_not_equal(sb_health_pick_key(h, &p, now + 1999), 1);
  /* back in rotation once it is over */
  bool back = false;
  for (int i = 0; i < 3; i++)
    back |= sb_health_pick_key(h, &p, now + 2000) == 1;
  assert_true(back);
  /* a shorter later Retry-After does not shorten the cooldown */
  sb_health_key_result(h, &p, 1, 429, 5000, now);
  sb_health_key_result(h, &p, 1, 429, 1000, now);
  assert_int_equal(sb_health_key_until(h, &p, 1), now + 5000);
  /* 401 sets key 0 aside for good */
  sb_health_key_result(h, &p, 0, 401, 0, now);
  assert_int_equal(sb_health_key_until(h, &p, 0), INT64_MAX);
  for (int i = 0; i < 6; i++)
    assert_int_equal(sb_health_pick_key(h, &p, now + 100), 2);
  /* every key out: the one that frees up first */
  sb_health_key_result(h, &p, 2, 403, 0, now);
  assert_int_equal(sb_health_pick_key(h, &p, now + 100), 1);
  /* other statuses change nothing; bad indexes are ignored */
  sb_health_key_result(h, &p, 2, 500, 0, now);
  sb_health_key_result(h, &p, 7, 401, 0, now);
  sb_health_key_result(h, &p, -1, 401, 0, now);
  assert_int_equal(sb_health_key_until(h, &p, 2), INT64_MAX);
  sb_health_free(h);
}

static void test_key_auth_cooldown(void **state)
{
  (void)state;
  const char *keys[] = {"a", "b"};
  sb_config_t cfg;
  sb_provider_t p;
  one_provider(&cfg, &p, "x", keys, 2);
  cfg.key_auth_cooldown_ms = 60000;
  sb_health_t *h = sb_health_new(&cfg, 0);
  assert_non_null(h);
  sb_health_key_result(h, &p, 0, 402, 0, 1000);
  assert_int_equal(sb_health_key_until(h, &p, 0), 61000);
  /* one key only: always key 0; no keys: -1 */
  p.n_keys = 1;
  assert_int_equal(sb_health_pick_key(h, &p, 1000), 0);
  p.n_keys = 0;
  assert_int_equal(sb_health_pick_key(h, &p, 1000), -1);
  sb_health_free(h);
}

/* Providers' state across configs (a reload): a provider of the same name
 * keeps its slot and the cool-down of each key it still has; new keys and
 * new providers start fresh; a config detached (a refused reload) leaves
 * the state in use to the next one. */
static void test_attach_across_configs(void **state)
{
  (void)state;
  const char *keys1[] = {"a", "b", "c"};
  sb_config_t c1;
  sb_provider_t p1;
  sb_health_t *h = table(&c1, &p1, keys1, 3);
  int64_t now = 1000000;
  size_t slot = sb_health_provider_slot(h, &p1);
  sb_health_key_result(h, &p1, 1, 429, 5000, now); /* "b" */
  sb_health_key_result(h, &p1, 2, 401, 0, now);    /* "c", for good */
  for (int i = 0; i < 2; i++)
    sb_health_report(h, slot, false, now, 0, 0, 0);

  /* groq with the keys reordered, one dropped and one added; and a new
   * provider; other breaker settings */
  const char *keys2[] = {"b", "d", "c"};
  sb_provider_t p2[2];
  sb_config_t c2;
  memset(&c2, 0, sizeof(c2));
  memset(p2, 0, sizeof(p2));
  p2[0].name = "groq";
  p2[0].keys = keys2;
  p2[0].n_keys = 3;
  p2[1].name = "lab";
  p2[1].index = 1;
  c2.providers = p2;
  c2.n_providers = 2;
  c2.breaker_failures = 7;
  c2.breaker_cooldown_ms = 3000;
  c2.key_auth_cooldown_ms = 1234;
  assert_int_equal(sb_health_attach(h, &c2), SB_OK);
  assert_int_equal(sb_health_provider_slot(h, &p2[0]), slot);
  assert_int_not_equal(sb_health_provider_slot(h, &p2[1]), slot);
  assert_int_equal(sb_health_key_until(h, &p2[0], 0), now + 5000); /* b */
  assert_int_equal(sb_health_key_until(h, &p2[0], 1), 0);          /* d */
  assert_int_equal(sb_health_key_until(h, &p2[0], 2), INT64_MAX);  /* c */
  for (int i = 0; i < 6; i++)
    assert_int_equal(sb_health_pick_key(h, &p2[0], now + 10), 1);
  sb_health_view_t v;
  sb_health_view(h, slot, now, &v);
  assert_int_equal(v.state, SB_BREAKER_OPEN); /* the breaker stays open */
  assert_int_equal(atomic_load(&h->threshold), 7);
  assert_int_equal(atomic_load(&h->cooldown_ms), 3000);
  /* the new auth cool-down applies to the next refusal */
  sb_health_key_result(h, &p2[0], 1, 403, 0, now);
  assert_int_equal(sb_health_key_until(h, &p2[0], 1), now + 1234);

  /* a config attached, then detached: its states are gone, and the next
   * one takes over c2's (as they are now, not as they were copied) */
  sb_provider_t p3;
  sb_config_t c3;
  one_provider(&c3, &p3, "groq", keys2, 3);
  assert_int_equal(sb_health_attach(h, &c3), SB_OK);
  assert_non_null(p3.run);
  sb_health_detach(h, &c3);
  assert_null(p3.run);
  sb_health_key_result(h, &p2[0], 0, 429, 9000, now); /* b, on c2 */
  sb_provider_t p4 = p3;
  sb_config_t c4 = c3;
  c4.providers = &p4;
  assert_int_equal(sb_health_attach(h, &c4), SB_OK);
  assert_int_equal(sb_health_key_until(h, &p4, 0), now + 9000);
  assert_int_equal(sb_health_key_until(h, &p4, 1), now + 1234);
  sb_health_free(h);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_breaker_opens_after_threshold),
      cmocka_unit_test(test_breaker_half_open_probe),
      cmocka_unit_test(test_health_slots),
      cmocka_unit_test(test_keys_rotate_and_cool),
      cmocka_unit_test(test_key_auth_cooldown),
      cmocka_unit_test(test_attach_across_configs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
