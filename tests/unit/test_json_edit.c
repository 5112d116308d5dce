/* SPDX-License-Identifier: MIT */
/* Member-level rewriting: replaced, removed and added members; everything
 * else byte for byte. */
#include "test_helpers.h"

#include "switchboard/json_edit.h"

static void expect(const char *in, const sb_json_edit_t *e, size_t n,
                   const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  sb_jw_t w;
  sb_json_t *v;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_json_parse(&a, in, strlen(in), 0, &v, NULL), SB_OK);
  sb_jw_init(&w, &out);
  sb_json_rewrite(&w, v, e, n);
  assert_int_equal(sb_jw_status(&w), SB_OK);
  sb_buf_cstr(&out);
  if (strcmp(out.data, want) != 0)
    fail_msg("got:  %s\nwant: %s", out.data, want);
  sb_json_t *check; /* and the result is JSON */
  assert_int_equal(sb_json_parse(&a, out.data, out.len, 0, &check, NULL), SB_OK);
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

static void test_rewrite(void **state)
{
  (void)state;
  sb_json_edit_t e[] = {
      SB_EDIT_SET("model", "\"m2\"", 4),
      SB_EDIT_DELETE("drop"),
      SB_EDIT_SET("added", "[1]", 3),
      SB_EDIT_REPLACE("only_if_present", "true", 4),
  };
  expect("{ \"a\" : [1,  2], \"model\": \"m1\", \"drop\": {\"x\":1},"
         " \"model\": \"dup\", \"z\": \"\\u00e9\" }",
         e, 4,
         "{\"a\" : [1,  2],\"model\":\"m2\",\"z\": \"\\u00e9\",\"added\":[1]}");
  /* members kept side by side are copied as one run, spacing and all;
   * a removed member between two runs leaves one separator */
  expect("{\"p\":1, \"q\" :2,\"drop\":3 ,\t\"r\":[ ],\"s\":{}}", e, 4,
         "{\"p\":1, \"q\" :2,\"r\":[ ],\"s\":{},\"model\":\"m2\",\"added\":[1]}");
  expect("{\"drop\":0,\"p\":1}", e, 4, "{\"p\":1,\"model\":\"m2\",\"added\":[1]}");
  expect("{\"only_if_present\":false}", e, 4,
         "{\"only_if_present\":true,\"model\":\"m2\",\"added\":[1]}");
  expect("{}", e, 4, "{\"model\":\"m2\",\"added\":[1]}");
  /* a default is kept where present, inside the run around it; its
   * duplicate goes */
  sb_json_edit_t d[] = {SB_EDIT_DEFAULT("n", "5", 1), SB_EDIT_DELETE("drop")};
  expect("{\"a\":1,\"n\": 2,\"b\":3,\"n\":4}", d, 2, "{\"a\":1,\"n\": 2,\"b\":3}");
  expect("{\"a\":1}", d, 2, "{\"a\":1,\"n\":5}");
  /* an escaped member name is matched by its value */
  expect("{\"mod\\u0065l\":1}", e, 1, "{\"model\":\"m2\"}");
}

static void test_compact(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_buf_t out;
  sb_jw_t w;
  sb_json_t *v;
  const char in[] = "{ \"a\" : [ 1 , { \"b\" : \"x y\" } ],\n \"c\": null }";
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_json_parse(&a, in, sizeof(in) - 1, 0, &v, NULL), SB_OK);
  sb_jw_init(&w, &out);
  sb_json_write_compact(&w, v);
  sb_buf_cstr(&out);
  assert_string_equal(out.data, "{\"a\":[1,{\"b\":\"x y\"}],\"c\":null}");
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

static void test_not_an_object(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_buf_t out;
  sb_jw_t w;
  sb_json_t *v;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_json_parse(&a, "[1]", 3, 0, &v, NULL), SB_OK);
  sb_jw_init(&w, &out);
  sb_json_rewrite(&w, v, NULL, 0);
  assert_int_equal(sb_jw_status(&w), SB_ERROR);
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rewrite),
      cmocka_unit_test(test_compact),
      cmocka_unit_test(test_not_an_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
