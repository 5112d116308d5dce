/* SPDX-License-Identifier: MIT */
/* YAML to JSON: scalar typing, flow and block forms, ${VAR} expansion that
 * cannot change the document's structure, and front matter. */
#include "test_helpers.h"

#include "switchboard/yaml.h"

static void expect_json(const char *yaml, unsigned flags, const char *want)
{
  sb_buf_t out;
  char err[256];
  sb_buf_init(&out, 0);
  if (sb_yaml_to_json(yaml, strlen(yaml), flags, &out, err, sizeof(err)) != SB_OK)
    fail_msg("yaml %s: %s", yaml, err);
  sb_buf_cstr(&out);
  if (strcmp(out.data, want) != 0)
    fail_msg("yaml:\n%s\ngot:  %s\nwant: %s", yaml, out.data, want);
  sb_buf_free(&out);
}

static void test_scalars(void **state)
{
  (void)state;
  expect_json("a: 1\nb: -2.5\nc: true\nd: False\ne: ~\nf:\ng: null\n"
              "h: '1'\ni: \"true\"\nj: 1.5e3\nk: 0.00000059\nl: abc def\n"
              "m: +7\nn: .5\no: 1e\n",
              0,
              "{\"a\":1,\"b\":-2.5,\"c\":true,\"d\":false,\"e\":null,\"f\":null,"
              "\"g\":null,\"h\":\"1\",\"i\":\"true\",\"j\":1.5e3,\"k\":0.00000059,"
              "\"l\":\"abc def\",\"m\":7,\"n\":0.5,\"o\":\"1e\"}");
}

static void test_structures(void **state)
{
  (void)state;
  expect_json("list:\n  - a\n  - {x: 1, y: [2, 3]}\nempty: {}\nnone: []\n", 0,
              "{\"list\":[\"a\",{\"x\":1,\"y\":[2,3]}],\"empty\":{},\"none\":[]}");
  expect_json("- 1\n- two\n", 0, "[1,\"two\"]");
  expect_json("", 0, "null");
  expect_json("text: |\n  line one\n  line \"two\"\n", 0,
              "{\"text\":\"line one\\nline \\\"two\\\"\\n\"}");
  expect_json("1: numeric key\n", 0, "{\"1\":\"numeric key\"}");
}

static void test_env_expansion(void **state)
{
  (void)state;
  setenv("SB_Y_KEY", "sk-abc}: {injected: 1", 1);
  setenv("SB_Y_PORT", "8080", 1);
  unsetenv("SB_Y_UNSET");
  /* a value with YAML syntax in it stays one string */
  expect_json("p: { key: ${SB_Y_KEY} }\n", SB_YAML_EXPAND_ENV,
              "{\"p\":{\"key\":\"sk-abc}: {injected: 1\"}}");
  /* typing happens after expansion for plain scalars */
  expect_json("port: ${SB_Y_PORT}\nq: '${SB_Y_PORT}'\n", SB_YAML_EXPAND_ENV,
              "{\"port\":8080,\"q\":\"8080\"}");
  /* unset: null when alone, empty inside text; defaults */
  expect_json("a: ${SB_Y_UNSET}\nb: x${SB_Y_UNSET}y\nc: ${SB_Y_UNSET:-d e}\n"
              "d: ${SB_Y_UNSET:-}\ne: { k: ${SB_Y_UNSET} }\n",
              SB_YAML_EXPAND_ENV,
              "{\"a\":null,\"b\":\"xy\",\"c\":\"d e\",\"d\":null,"
              "\"e\":{\"k\":null}}");
  /* without the flag, nothing is expanded; malformed references stay */
  expect_json("a: ${SB_Y_PORT}\n", 0, "{\"a\":\"${SB_Y_PORT}\"}");
  expect_json("a: $SB_Y_PORT ${ x} ${}\n", SB_YAML_EXPAND_ENV,
              "{\"a\":\"$SB_Y_PORT ${ x} ${}\"}");
}

static void test_errors(void **state)
{
  (void)state;
  const char *bad[] = {"a: [1, 2\n", "a: b: c\n", "? [1]\n: x\n", "a: *ref\n",
                       "\t- tab\n"};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    sb_buf_t out;
    char err[256] = "";
    sb_buf_init(&out, 0);
    if (sb_yaml_to_json(bad[i], strlen(bad[i]), 0, &out, err, sizeof(err)) !=
        SB_ERROR)
      fail_msg("accepted: %s", bad[i]);
    assert_true(err[0] != '\0');
    sb_buf_free(&out);
  }
}

static void test_front_matter(void **state)
{
  (void)state;
  sb_slice_t y;
  const char md[] = "---\nid: x\nname: X\n---\n\n# Body\n";
  assert_int_equal(sb_yaml_front_matter(sb_slice(md, sizeof(md) - 1), &y), SB_OK);
  assert_slice_equal(y, "id: x\nname: X\n");
  assert_int_equal(sb_yaml_front_matter(SB_SLICE_LIT("# no front matter\n"), &y),
                   SB_DECLINED);
  assert_int_equal(sb_yaml_front_matter(SB_SLICE_LIT("---\nid: x\n"), &y),
                   SB_DECLINED);
  size_t n = 0;
  char *seed = read_file("skills/openrouter.md", &n);
  assert_non_null(seed);
  assert_int_equal(sb_yaml_front_matter(sb_slice(seed, n), &y), SB_OK);
  sb_buf_t out;
  char err[256];
  sb_buf_init(&out, 0);
  assert_int_equal(sb_yaml_to_json(y.ptr, y.len, 0, &out, err, sizeof(err)), SB_OK);
  sb_buf_cstr(&out);
  assert_non_null(strstr(out.data, "\"id\":\"openrouter\""));
  assert_non_null(strstr(out.data, "\"default\":4096"));
  sb_buf_free(&out);
  free(seed);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_structures),
      cmocka_unit_test(test_env_expansion),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_front_matter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
