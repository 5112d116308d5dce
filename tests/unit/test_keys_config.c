/* SPDX-License-Identifier: MIT */
/* The accounts settings of the config: durable, retention_days,
 * default_max_tokens, from a file and from the environment. */
#include "test_helpers.h"

#include <unistd.h>

#include "switchboard/config.h"

static char *write_temp(const char *text)
{
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/sb-keys-config-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0)
    return NULL;
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    close(fd);
    return NULL;
  }
  close(fd);
  return path;
}

static sb_status_t load_text(sb_config_t *c, const char *text, char *err,
                             size_t errlen)
{
  char *path = write_temp(text);
  assert_non_null(path);
  sb_status_t rc = sb_config_load(c, path, NULL, err, errlen);
  unlink(path);
  return rc;
}

static void test_defaults_and_file(void **state)
{
  (void)state;
  sb_config_t c;
  char err[512];
  assert_int_equal(load_text(&c, "listen: 127.0.0.1:0\n", err, sizeof(err)), SB_OK);
  assert_false(c.durable);
  assert_int_equal(c.retention_days, 0);
  assert_int_equal(c.default_max_tokens, 4096);
  sb_config_free(&c);
  assert_int_equal(load_text(&c,
                             "durable: true\nretention_days: 90\n"
                             "default_max_tokens: 1000\n",
                             err, sizeof(err)),
                   SB_OK);
  assert_true(c.durable);
  assert_int_equal(c.retention_days, 90);
  assert_int_equal(c.default_max_tokens, 1000);
  sb_config_free(&c);
  assert_int_equal(load_text(&c, "durable: sometimes\n", err, sizeof(err)), SB_ERROR);
  assert_non_null(strstr(err, "durable"));
  sb_config_free(&c);
  assert_int_equal(load_text(&c, "retention_days: -3\n", err, sizeof(err)), SB_ERROR);
  assert_non_null(strstr(err, "retention_days"));
  sb_config_free(&c);
}

static void test_environment(void **state)
{
  (void)state;
  sb_config_t c;
  char err[512];
  setenv("SWITCHBOARD_DURABLE", "true", 1);
  setenv("SWITCHBOARD_RETENTION_DAYS", "30", 1);
  assert_int_equal(sb_config_load(&c, NULL, "127.0.0.1:0", err, sizeof(err)), SB_OK);
  assert_true(c.durable);
  assert_int_equal(c.retention_days, 30);
  sb_config_free(&c);
  setenv("SWITCHBOARD_RETENTION_DAYS", "lots", 1);
  assert_int_equal(sb_config_load(&c, NULL, "127.0.0.1:0", err, sizeof(err)), SB_ERROR);
  sb_config_free(&c);
  unsetenv("SWITCHBOARD_DURABLE");
  unsetenv("SWITCHBOARD_RETENTION_DAYS");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_file),
      cmocka_unit_test(test_environment),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
