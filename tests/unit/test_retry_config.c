/* SPDX-License-Identifier: MIT */
/* The routing settings in the config file: retry (global and per
 * provider), health, escalation (src/core/config.c, docs/routing.md). */
#include "test_helpers.h"

#include <unistd.h>

#include "switchboard/config.h"

static sb_status_t load(sb_config_t *cfg, const char *yaml, char *err,
                        size_t errlen)
{
  char path[] = "/tmp/sb-test-routing-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  close(fd);
  sb_status_t rc = sb_config_load(cfg, path, NULL, err, errlen);
  unlink(path);
  return rc;
}

static void test_defaults(void **state)
{
  (void)state;
  sb_config_t cfg;
  char err[256];
  assert_int_equal(load(&cfg,
                        "providers:\n"
                        "  groq: {format: openai, base_url: 'http://h/v1', "
                        "api_keys: [a, b]}\n",
                        err, sizeof(err)),
                   SB_OK);
  assert_int_equal(cfg.retry.attempts, 2);
  assert_int_equal(cfg.retry.base_ms, 250);
  assert_int_equal(cfg.retry.max_ms, 5000);
  assert_int_equal(cfg.retry.budget_ms, 30000);
  assert_int_equal(cfg.breaker_failures, 5);
  assert_int_equal(cfg.breaker_cooldown_ms, 30000);
  assert_int_equal(cfg.key_auth_cooldown_ms, 0);
  assert_null(cfg.escalation_ladder);
  assert_int_equal(cfg.escalation_on, SB_CLIMB_ALL);
  assert_int_equal(cfg.n_providers, 1);
  assert_int_equal(cfg.providers[0].n_keys, 2);
  assert_int_equal(cfg.providers[0].retry.attempts, 2);
  sb_config_free(&cfg);
}

static void test_settings(void **state)
{
  (void)state;
  sb_config_t cfg;
  char err[256];
  assert_int_equal(
      load(&cfg,
           "retry: {attempts: 3, base_ms: 10, max_ms: 900, budget_ms: 4000}\n"
           "health: {breaker_failures: 2, breaker_cooldown_ms: 100, "
           "key_auth_cooldown_ms: 60000}\n"
           "escalation: {ladder: [a/b, c/d], on: [length, empty]}\n"
           "providers:\n"
           "  groq: {format: openai, base_url: 'http://h/v1', api_key: k,"
           " retry: {attempts: 1}}\n"
           "  together: {format: openai, base_url: 'http://t/v1', api_key: k}\n",
           err, sizeof(err)),
      SB_OK);
  assert_int_equal(cfg.retry.attempts, 3);
  assert_int_equal(cfg.retry.base_ms, 10);
  /* a provider's retry overrides only what it names */
  assert_int_equal(cfg.providers[0].retry.attempts, 1);
  assert_int_equal(cfg.providers[0].retry.base_ms, 10);
  assert_int_equal(cfg.providers[0].retry.max_ms, 900);
  assert_int_equal(cfg.providers[1].retry.attempts, 3);
  assert_int_equal(cfg.breaker_failures, 2);
  assert_int_equal(cfg.breaker_cooldown_ms, 100);
  assert_int_equal(cfg.key_auth_cooldown_ms, 60000);
  assert_non_null(cfg.escalation_ladder);
  assert_int_equal(cfg.escalation_ladder->count, 2);
  assert_int_equal(cfg.escalation_on,
                   SB_CLIMB_ERROR | SB_CLIMB_LENGTH | SB_CLIMB_EMPTY);
  sb_config_free(&cfg);
}

static void test_refused(void **state)
{
  (void)state;
  const struct {
    const char *yaml, *msg;
  } bad[] = {
      {"retry: 3\n", "'retry' must be a mapping"},
      {"retry: {attempt: 3}\n", "attempt"},
      {"retry: {attempts: 11}\n", "at most 10"},
      {"retry: {attempts: -1}\n", "attempts"},
      {"health: {breaker_failures: 0}\n", "at least 1"},
      {"health: []\n", "'health' must be a mapping"},
      {"escalation: {ladder: []}\n", "list of model ids"},
      {"escalation: {ladder: [1]}\n", "list of model ids"},
      {"escalation: {on: [sometimes]}\n", "unknown condition"},
      {"providers:\n  groq: {format: openai, base_url: 'http://h', "
       "retry: {wait: 1}}\n",
       "wait"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    sb_config_t cfg;
    char err[256];
    if (load(&cfg, bad[i].yaml, err, sizeof(err)) == SB_OK)
      fail_msg("accepted: %s", bad[i].yaml);
    if (strstr(err, bad[i].msg) == NULL)
      fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].yaml, err, bad[i].msg);
    sb_config_free(&cfg);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_settings),
      cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
