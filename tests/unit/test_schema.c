/* SPDX-License-Identifier: MIT */
/* The tool-schema subset validator (src/gateway/schema.c). */
#include "test_helpers.h"

#include "switchboard/schema.h"

static sb_arena_t arena;

static sb_json_t *j(const char *text)
{
  sb_json_t *v = NULL;
  if (sb_json_parse(&arena, text, strlen(text), 0, &v, NULL) != SB_OK)
    fail_msg("bad test JSON: %s", text);
  return v;
}

static const char *weather =
    "{\"type\":\"object\",\"properties\":{"
    "\"city\":{\"type\":\"string\"},"
    "\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]},"
    "\"days\":{\"type\":\"integer\"},"
    "\"score\":{\"type\":[\"number\",\"null\"]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"where\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}},"
    "\"required\":[\"lat\"],\"additionalProperties\":false}},"
    "\"required\":[\"city\"]}";

static void test_accepts(void **state)
{
  (void)state;
  const sb_json_t *s = j(weather);
  const char *ok[] = {
      "{\"city\":\"Paris\"}",
      "{\"city\":\"Paris\",\"unit\":\"c\",\"days\":3,\"score\":0.5}",
      "{\"city\":\"Paris\",\"score\":null,\"tags\":[],\"extra\":true}",
      "{\"city\":\"x\",\"tags\":[\"a\",\"b\"],\"where\":{\"lat\":1.5}}",
      "{\"city\":\"x\",\"days\":-2}",
  };
  char why[128];
  for (size_t i = 0; i < SB_ARRAY_LEN(ok); i++)
    if (!sb_schema_check(s, j(ok[i]), why, sizeof(why)))
      fail_msg("%s refused: %s", ok[i], why);
  /* no schema, or an empty one: anything */
  assert_true(sb_schema_check(NULL, j("[1]"), why, sizeof(why)));
  assert_true(sb_schema_check(j("{}"), j("\"x\""), why, sizeof(why)));
  assert_true(sb_schema_check(j("{\"type\":\"boolean\"}"), j("false"), NULL, 0));
  assert_true(sb_schema_check(j("{\"enum\":[1,\"a\",null]}"), j("null"), NULL, 0));
}

static void test_refuses(void **state)
{
  (void)state;
  const sb_json_t *s = j(weather);
  const struct {
    const char *v, *why;
  } bad[] = {
      {"{}", "$: missing required 'city'"},
      {"[]", "$: expected object"},
      {"{\"city\":3}", "$.city: expected string"},
      {"{\"city\":\"x\",\"unit\":\"k\"}", "$.unit: not one of the enum values"},
      {"{\"city\":\"x\",\"days\":1.5}", "$.days: expected integer"},
      {"{\"city\":\"x\",\"days\":1e3}", "$.days: expected integer"},
      {"{\"city\":\"x\",\"score\":\"high\"}", "$.score: not one of the allowed types"},
      {"{\"city\":\"x\",\"tags\":[\"a\",2]}", "$.tags[1]: expected string"},
      {"{\"city\":\"x\",\"where\":{}}", "$.where: missing required 'lat'"},
      {"{\"city\":\"x\",\"where\":{\"lat\":1,\"lon\":2}}",
       "$.where.lon: not an allowed property"},
  };
  char why[128];
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    if (sb_schema_check(s, j(bad[i].v), why, sizeof(why)))
      fail_msg("%s accepted", bad[i].v);
    if (strcmp(why, bad[i].why) != 0)
      fail_msg("%s: \"%s\", want \"%s\"", bad[i].v, why, bad[i].why);
  }
  assert_false(sb_schema_check(s, NULL, why, sizeof(why)));
  /* a tiny buffer is still terminated */
  char small[8];
  assert_false(sb_schema_check(s, j("{}"), small, sizeof(small)));
  assert_int_equal(strlen(small), 7);
}

static void test_depth_bounded(void **state)
{
  (void)state;
  /* a schema and a value nested 100 levels deep */
  char sch[4096] = "", val[1024] = "";
  for (int i = 0; i < 100; i++) {
    strcat(sch, "{\"type\":\"array\",\"items\":");
    strcat(val, "[");
  }
  strcat(sch, "{}");
  for (int i = 0; i < 100; i++) {
    strcat(sch, "}");
    strcat(val, "]");
  }
  /* an empty innermost array: every level is visited down to depth 65 */
  char why[512]; /* the path is capped at 256 bytes */
  assert_false(sb_schema_check(j(sch), j(val), why, sizeof(why)));
  assert_non_null(strstr(why, "too deeply nested"));
}

static int setup(void **state)
{
  (void)state;
  sb_arena_init(&arena, 16384, 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  sb_arena_destroy(&arena);
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepts),
      cmocka_unit_test(test_refuses),
      cmocka_unit_test(test_depth_bounded),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
