/* SPDX-License-Identifier: MIT */
/* The operations' configuration: `log` and `otel` (src/core/config.c). */
#include "test_helpers.h"

#include <unistd.h>

#include "switchboard/config.h"

static char path[64];

static sb_status_t load(const char *text, sb_config_t *c, char *err,
                        size_t errlen)
{
  snprintf(path, sizeof(path), "/tmp/sb-config-ops-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  sb_status_t rc = sb_config_load(c, path, NULL, err, errlen);
  unlink(path);
  return rc;
}

static void test_defaults(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  assert_int_equal(load("listen: 127.0.0.1:0\n", &c, err, sizeof(err)), SB_OK);
  assert_true(c.log.json);
  assert_true(c.log.access);
  assert_null(c.log.file);
  assert_int_equal(c.log.level, -1);
  assert_null(c.otel.endpoint);
  assert_true(c.otel.sample == 1.0);
  assert_string_equal(c.otel.service_name, "switchboard");
  sb_config_free(&c);
}

static void test_full(void **state)
{
  (void)state;
  sb_config_t c;
  char err[256];
  setenv("SB_TEST_OTEL_TOKEN", "Bearer t0k", 1);
  unsetenv("SB_TEST_UNSET_FILE");
  if (load("log: {format: text, level: warn, access: false, file: "
           "/var/log/sb.log}\n"
           "otel:\n"
           "  endpoint: http://127.0.0.1:4318/\n"
           "  headers: {Authorization: \"${SB_TEST_OTEL_TOKEN}\", x-tenant: a}\n"
           "  sample: 0.25\n"
           "  service_name: gw-eu\n",
           &c, err, sizeof(err)) != SB_OK)
    fail_msg("load: %s", err);
  assert_false(c.log.json);
  assert_false(c.log.access);
  assert_string_equal(c.log.file, "/var/log/sb.log");
  assert_int_equal(c.log.level, 1); /* warn */
  assert_string_equal(c.otel.endpoint, "http://127.0.0.1:4318");
  assert_true(c.otel.sample == 0.25);
  assert_string_equal(c.otel.service_name, "gw-eu");
  assert_int_equal(c.otel.n_headers, 2);
  assert_string_equal(c.otel.headers[0].name, "Authorization");
  assert_string_equal(c.otel.headers[0].value, "Bearer t0k");
  assert_string_equal(c.otel.headers[1].name, "x-tenant");
  sb_config_free(&c);

  /* a file or endpoint that expands to nothing: stderr, no tracing */
  if (load("log: {file: \"${SB_TEST_UNSET_FILE}\"}\n"
           "otel: {endpoint: \"${SB_TEST_UNSET_FILE}\"}\n",
           &c, err, sizeof(err)) != SB_OK)
    fail_msg("load: %s", err);
  assert_null(c.log.file);
  assert_null(c.otel.endpoint);
  sb_config_free(&c);
}

static void test_errors(void **state)
{
  (void)state;
  static const struct {
    const char *yaml, *error;
  } cases[] = {
      {"log: json\n", "'log' must be a mapping"},
      {"log: {format: xml}\n", "'log.format' must be json or text"},
      {"log: {level: loud}\n", "'log.level' must be error, warn, info or debug"},
      {"log: {access: yes please}\n", "'access' must be true or false"},
      {"log: {rotate: daily}\n", "log: unknown key 'rotate'"},
      {"otel: {endpoint: collector:4318}\n",
       "'otel.endpoint' must start with http:// or https://"},
      {"otel: {sample: 2}\n", "'otel.sample' must be a number from 0 to 1"},
      {"otel: {sample: \"half\"}\n",
       "'otel.sample' must be a number from 0 to 1"},
      {"otel: {headers: [a]}\n",
       "'otel.headers' must be a mapping of name to value"},
      {"otel: {headers: {\"bad name\": x}}\n",
       "'otel.headers': 'bad name' is not a header name"},
      {"otel: {headers: {x-a: 1}}\n", "'otel.headers' values must be strings"},
      {"otel: {protocol: grpc}\n", "otel: unknown key 'protocol'"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_config_t c;
    char err[256] = "";
    if (load(cases[i].yaml, &c, err, sizeof(err)) != SB_ERROR)
      fail_msg("accepted: %s", cases[i].yaml);
    if (strstr(err, cases[i].error) == NULL)
      fail_msg("%s: got \"%s\", want \"%s\"", cases[i].yaml, err,
               cases[i].error);
    sb_config_free(&c);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
