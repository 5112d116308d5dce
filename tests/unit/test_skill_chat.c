/* The canonical chat contract in C: the jq semantics of the seed, case by
 * case. (tests/e2e/skill_contract.test.mjs compares against jq itself.) */
#include "test_helpers.h"

#include "switchboard/skills.h"

static void expect_body(const char *params, const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  sb_json_t *p;
  const char *why;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_json_parse(&a, params, strlen(params), 0, &p, NULL), SB_OK);
  assert_int_equal(sb_skill_chat_body(&a, p, &out, &why), SB_OK);
  sb_buf_cstr(&out);
  if (strcmp(out.data, want) != 0)
    fail_msg("params %s\ngot:  %s\nwant: %s", params, out.data, want);
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

static void test_body(void **state)
{
  (void)state;
  /* defaults: no system, tools [], max_tokens 4096, temperature 0 */
  expect_body("{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"hi\"}]}",
              "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"hi\"}],\"tools\":[],\"max_tokens\":4096,"
              "\"temperature\":0}");
  /* system prepended; tools mapped with their defaults; values kept */
  expect_body("{\"model\":\"m\",\"system\":\"Be brief.\",\"messages\":[{\"role\":"
              "\"user\",\"content\":\"x\"}],\"tools\":[{\"name\":\"get\","
              "\"description\":\"Get it\",\"input_schema\":{\"type\":\"object\","
              "\"properties\":{\"q\":{\"type\":\"string\"}}}},{\"name\":\"bare\"}],"
              "\"max_tokens\":100,\"temperature\":0.7}",
              "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
              "\"Be brief.\"},{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
              "[{\"type\":\"function\",\"function\":{\"name\":\"get\",\"description\":"
              "\"Get it\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":"
              "{\"type\":\"string\"}}}}},{\"type\":\"function\",\"function\":{\"name\":"
              "\"bare\",\"description\":\"\",\"parameters\":{\"type\":\"object\","
              "\"properties\":{}}}}],\"max_tokens\":100,\"temperature\":0.7}");
  /* jq's `//` and `if`: null/false fall back, "" and 0 do not... */
  expect_body("{\"model\":\"m\",\"messages\":[],\"system\":\"\",\"max_tokens\":1,"
              "\"temperature\":0,\"tools\":null}",
              "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"\"}],"
              "\"tools\":[],\"max_tokens\":1,\"temperature\":0}");
  /* ...except that false counts as absent */
  expect_body("{\"model\":\"m\",\"messages\":[],\"system\":false,\"max_tokens\":false}",
              "{\"model\":\"m\",\"messages\":[],\"tools\":[],\"max_tokens\":4096,"
              "\"temperature\":0}");
}

/* The params' declared types (and the chat door's ranges and message
 * schema); each refusal names the param. */
static void test_body_refused(void **state)
{
  (void)state;
  static const struct {
    const char *params, *why;
  } bad[] = {
      {"[]", "the body must be a JSON object of params"},
      {"{\"messages\":[]}", "'model' is required and must be a string"},
      {"{\"model\":1,\"messages\":[]}", "'model' is required and must be a string"},
      {"{\"model\":\"m\"}", "'messages' is required and must be an array"},
      {"{\"model\":\"m\",\"messages\":{}}", "'messages' is required and must be an array"},
      {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}",
       "'messages[0].role' is required"},
      {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":7}]}",
       "'messages[0].content' must be a string or an array of content parts"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":\"x\"}",
       "'tools' must be an array of {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":{\"a\":{\"name\":\"x\"}}}",
       "'tools' must be an array of {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[1]}",
       "'tools[0]' must be an object {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"description\":\"d\"}]}",
       "'tools[0]' must have a string 'name'"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"a\"},{\"name\":\"b\","
       "\"description\":3}]}",
       "'tools[1]' must have a string 'description' (or none)"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"a\",\"input_schema\":"
       "\"{}\"}]}",
       "'tools[0]' must have an object 'input_schema' (or none)"},
      {"{\"model\":\"m\",\"messages\":[],\"system\":[\"s\"]}", "'system' must be a string"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":0}",
       "'max_tokens' must be an integer between 1 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"100\"}",
       "'max_tokens' must be an integer between 1 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":-1}",
       "'max_tokens' must be an integer between 1 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":9223372036854775808}",
       "'max_tokens' must be an integer between 1 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"temperature\":3}",
       "'temperature' must be a number between 0 and 2"},
      {"{\"model\":\"m\",\"messages\":[],\"temperature\":\"hot\"}",
       "'temperature' must be a number between 0 and 2"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    sb_arena_t a;
    sb_buf_t out;
    sb_json_t *p;
    const char *why = NULL;
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&out, 0);
    assert_int_equal(sb_json_parse(&a, bad[i].params, strlen(bad[i].params), 0, &p,
                                   NULL),
                     SB_OK);
    if (sb_skill_chat_body(&a, p, &out, &why) != SB_DECLINED || why == NULL)
      fail_msg("accepted: %s", bad[i].params);
    if (strcmp(why, bad[i].why) != 0)
      fail_msg("%s:\n got  %s\n want %s", bad[i].params, why, bad[i].why);
    sb_buf_free(&out);
    sb_arena_destroy(&a);
  }
}

static void expect_reply(const char *response, const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  sb_json_t *r;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_json_parse(&a, response, strlen(response), 0, &r, NULL),
                   SB_OK);
  assert_int_equal(sb_skill_chat_reply(&a, r, sb_json_get(r, "usage"), &out),
                   SB_OK);
  sb_buf_cstr(&out);
  if (strcmp(out.data, want) != 0)
    fail_msg("response %s\ngot:  %s\nwant: %s", response, out.data, want);
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

static void test_reply(void **state)
{
  (void)state;
  expect_reply("{\"choices\":[{\"message\":{\"content\":\"Hi\"},\"finish_reason\":"
               "\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}",
               "{\"content\":\"Hi\",\"tool_calls\":[],\"stop_reason\":\"end_turn\","
               "\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}");
  /* tool calls: valid JSON args parsed, invalid ones {}, objects kept,
   * absent "{}", a JSON null {} */
  expect_reply(
      "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":["
      "{\"id\":\"c1\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\": [1, 2]}\"}},"
      "{\"id\":\"c2\",\"function\":{\"name\":\"b\",\"arguments\":\"{oops\"}},"
      "{\"id\":\"c3\",\"function\":{\"name\":\"c\",\"arguments\":{\"already\":true}}},"
      "{\"id\":\"c4\",\"function\":{\"name\":\"d\"}},"
      "{\"id\":\"c5\",\"function\":{\"name\":\"e\",\"arguments\":\"null\"}},"
      "{\"id\":\"c6\",\"function\":{\"name\":\"f\",\"arguments\":\"7\"}}"
      "]},\"finish_reason\":\"tool_calls\"}]}",
      "{\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"name\":\"a\",\"input\":"
      "{\"x\": [1, 2]}},{\"id\":\"c2\",\"name\":\"b\",\"input\":{}},{\"id\":\"c3\","
      "\"name\":\"c\",\"input\":{\"already\":true}},{\"id\":\"c4\",\"name\":\"d\","
      "\"input\":{}},{\"id\":\"c5\",\"name\":\"e\",\"input\":{}},{\"id\":\"c6\","
      "\"name\":\"f\",\"input\":7}],\"stop_reason\":\"tool_use\",\"usage\":"
      "{\"input_tokens\":0,\"output_tokens\":0}}");
  expect_reply("{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":"
               "\"length\"}]}",
               "{\"content\":\"\",\"tool_calls\":[],\"stop_reason\":\"max_tokens\","
               "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}");
  const char *ends[] = {"content_filter", "error", "stop", "something_new"};
  for (size_t i = 0; i < SB_ARRAY_LEN(ends); i++) {
    char resp[256];
    snprintf(resp, sizeof(resp),
             "{\"choices\":[{\"message\":{\"content\":false},\"finish_reason\":\"%s\"}]}",
             ends[i]);
    expect_reply(resp, "{\"content\":null,\"tool_calls\":[],\"stop_reason\":"
                       "\"end_turn\",\"usage\":{\"input_tokens\":0,"
                       "\"output_tokens\":0}}");
  }
  expect_reply("{}", "{\"content\":null,\"tool_calls\":[],\"stop_reason\":"
                     "\"end_turn\",\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_body),
      cmocka_unit_test(test_body_refused),
      cmocka_unit_test(test_reply),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
