/* SPDX-License-Identifier: MIT */
/* Configuration: the SPEC example, environment expansion, defaults from
 * the environment, and the errors a user should get. */
#include "test_helpers.h"

#include <unistd.h>

#include "switchboard/config.h"
#include "switchboard/yaml.h"

static void clear_env(void)
{
  static const char *const vars[] = {
      "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
      "OPENROUTER_API_KEY", "GROQ_API_KEY", "GEMINI_API_KEY",
      "MISTRAL_API_KEY", "DEEPSEEK_API_KEY", "TOGETHER_API_KEY",
      "FIREWORKS_API_KEY", "XAI_API_KEY", "OLLAMA_HOST", "LLAMACPP_HOST",
      "VLLM_HOST", "LMSTUDIO_HOST", "SWITCHBOARD_LISTEN",
      "SWITCHBOARD_ADMIN_KEY", "SWITCHBOARD_DATABASE", "SWITCHBOARD_WORKERS",
      "SB_TEST_ADMIN", "SB_TEST_OPENAI", "SB_TEST_UNSET_KEY", "SB_TEST_DB"};
  for (size_t i = 0; i < SB_ARRAY_LEN(vars); i++)
    unsetenv(vars[i]);
}

static char *write_temp(const char *text)
{
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/sb-config-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_full_example(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  clear_env();
  setenv("SB_TEST_ADMIN", "admin-secret", 1);
  setenv("SB_TEST_OPENAI", "sk-openai", 1);
  if (sb_config_load(&c, "tests/fixtures/config/full.yaml", NULL, err,
                     sizeof(err)) != SB_OK)
    fail_msg("load: %s", err);
  assert_string_equal(c.listen_host, "127.0.0.1");
  assert_int_equal(c.listen_port, 4567);
  assert_int_equal(c.workers, 3);
  assert_string_equal(c.database, "sqlite:/tmp/sb-test.db");
  assert_string_equal(c.admin_key, "admin-secret");
  assert_true(c.local_trust);
  /* anthropic's key is unset: that provider is left out */
  assert_int_equal(c.n_providers, 4);
  const sb_provider_t *p = sb_config_provider(&c, SB_SLICE_LIT("openai"));
  assert_non_null(p);
  assert_string_equal(p->base_url, "https://api.openai.com/v1");
  assert_int_equal(p->n_keys, 1);
  assert_string_equal(p->keys[0], "sk-openai");
  assert_string_equal(p->auth_header, "Authorization");
  assert_string_equal(p->format, "openai");
  assert_null(sb_config_provider(&c, SB_SLICE_LIT("anthropic")));
  p = sb_config_provider(&c, SB_SLICE_LIT("openrouter"));
  assert_true(p->quirks & SB_QUIRK_OPENROUTER_FIELDS);
  p = sb_config_provider(&c, SB_SLICE_LIT("local"));
  assert_int_equal(p->n_keys, 0);
  assert_string_equal(p->display_name, "local");
  p = sb_config_provider(&c, SB_SLICE_LIT("groq"));
  assert_non_null(p);
  assert_string_equal(p->format, "openai"); /* from the known-provider table */
  assert_string_equal(p->base_url, "https://api.groq.com/openai/v1");
  assert_int_equal(p->n_keys, 2);
  assert_string_equal(p->keys[1], "gk-2");
  assert_int_equal(p->n_headers, 1);
  assert_string_equal(p->headers[0].name, "X-Team");
  assert_int_equal(p->timeouts.total_ms, 5000);
  assert_int_equal(p->timeouts.connect_ms, 250);
  assert_int_equal(p->timeouts.first_byte_ms, 1500);
  assert_int_equal(p->timeouts.idle_ms, 800);
  assert_int_equal(p->weight, 3);
  assert_non_null(c.models);
  assert_int_equal(c.models->count, 2);
  sb_config_free(&c);
}

static void test_env_only(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  clear_env();
  setenv("OPENAI_API_KEY", "sk-1", 1);
  setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/", 1);
  setenv("GROQ_API_KEY", "", 1); /* empty = unset */
  setenv("OLLAMA_HOST", "127.0.0.1:11434", 1);
  setenv("SWITCHBOARD_WORKERS", "2", 1);
  assert_int_equal(sb_config_load(&c, NULL, NULL, err, sizeof(err)), SB_OK);
  assert_string_equal(c.source, "environment");
  assert_string_equal(c.listen_host, "127.0.0.1");
  assert_int_equal(c.listen_port, 3456);
  assert_string_equal(c.database, "sqlite:switchboard.db");
  assert_null(c.admin_key);
  assert_int_equal(c.workers, 2);
  assert_int_equal(c.n_providers, 2);
  const sb_provider_t *p = sb_config_provider(&c, SB_SLICE_LIT("openai"));
  assert_string_equal(p->base_url, "http://127.0.0.1:9/v1");
  p = sb_config_provider(&c, SB_SLICE_LIT("ollama"));
  assert_non_null(p);
  assert_string_equal(p->base_url, "http://127.0.0.1:11434/v1");
  assert_int_equal(p->n_keys, 0);
  sb_config_free(&c);
  clear_env();
}

static void test_listen_override_and_parse(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256], host[64];
  uint16_t port;
  clear_env();
  assert_int_equal(sb_config_load(&c, NULL, "127.0.0.1:0", err, sizeof(err)),
                   SB_OK);
  assert_int_equal(c.listen_port, 0);
  sb_config_free(&c);
  assert_int_equal(sb_parse_listen("[::1]:80", host, sizeof(host), &port), SB_OK);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 80);
  assert_int_equal(sb_parse_listen(":8080", host, sizeof(host), &port), SB_OK);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(sb_parse_listen("9000", host, sizeof(host), &port), SB_OK);
  assert_int_equal(port, 9000);
  assert_int_equal(sb_parse_listen("h:99999", host, sizeof(host), &port), SB_ERROR);
  assert_int_equal(sb_parse_listen("h:x", host, sizeof(host), &port), SB_ERROR);
}

typedef struct {
  const char *yaml;
  const char *error_contains;
} bad_config_t;

static void test_errors(void **state)
{
  (void)state;
  const bad_config_t cases[] = {
      {"listen: 0.0.0.0:3456\n", "refusing to listen on 0.0.0.0"},
      {"lisen: 127.0.0.1:1\n", "unknown key 'lisen'"},
      {"providers:\n  x: { format: openai }\n", "'base_url' is required"},
      {"providers:\n  x: { base_url: http://a }\n", "'format' is required"},
      {"providers:\n  x: { format: cobol, base_url: http://a }\n",
       "unknown format 'cobol'"},
      {"providers:\n  x: { format: openai, base_url: ftp://a }\n",
       "must start with http"},
      {"providers:\n  x: { format: openai, base_url: http://a, tmeout_ms: 1 }\n",
       "unknown key 'tmeout_ms'"},
      {"workers: many\n", "'workers' must be an integer"},
      {"listen: [1, 2]\n", "'listen' must be a string"},
      {"database: mysql://x\n", "database must be"},
      {"models: {}\n", "'models' must be a list"},
      {"- just\n- a list\n", "must be a mapping"},
      {"key: [unclosed\n", "line"},
      {"a: &x 1\nb: *x\n", "aliases are not supported"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_config_t c;
    char err[256];
    clear_env();
    char *path = write_temp(cases[i].yaml);
    sb_status_t rc = sb_config_load(&c, path, NULL, err, sizeof(err));
    unlink(path);
    sb_config_free(&c);
    if (rc != SB_ERROR || strstr(err, cases[i].error_contains) == NULL)
      fail_msg("case %zu: rc %d, error \"%s\", want \"%s\"", i, rc, err,
               cases[i].error_contains);
  }
}

static void test_admin_key_allows_any_address(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  clear_env();
  char *path = write_temp("listen: 0.0.0.0:3456\nadmin_key: k\n");
  assert_int_equal(sb_config_load(&c, path, NULL, err, sizeof(err)), SB_OK);
  unlink(path);
  assert_false(c.listen_loopback);
  assert_false(c.local_trust);
  sb_config_free(&c);
}

static void test_missing_file(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  assert_int_equal(sb_config_load(&c, "/nonexistent/sb.yaml", NULL, err,
                                  sizeof(err)), SB_ERROR);
  assert_non_null(strstr(err, "cannot open config /nonexistent/sb.yaml"));
  sb_config_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_env_only),
      cmocka_unit_test(test_listen_override_and_parse),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_admin_key_allows_any_address),
      cmocka_unit_test(test_missing_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
