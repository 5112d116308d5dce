/* The Anthropic Messages codec: OpenAI requests in, exact Messages bodies
 * out; recorded Messages streams (tests/fixtures/anthropic/, .sse files), cut at
 * every byte boundary, give the golden OpenAI chunks; non-stream bodies
 * give the golden chat.completion. */
#include "codec_harness.h"

static const harness_cfg_t anthropic_cfg = {
    .codec = &sb_codec_anthropic,
    .format = "anthropic",
    .display = "Anthropic",
    .base_url = "http://127.0.0.1:9",
    .auth_header = "x-api-key",
    .model_id = "anthropic/claude-3.5-haiku",
    .upstream_model = "claude-3-5-haiku-20241022",
    .model_json = "{\"id\":\"anthropic/claude-3.5-haiku\",\"top_provider\":"
                  "{\"context_length\":200000,\"max_completion_tokens\":8192}}",
    .prompt_price = "0.0000008",
    .completion_price = "0.000004",
    .cache_read_price = "0.00000008",
    .cache_write_price = "0.000001",
};

#define M "\"model\":\"anthropic/claude-3.5-haiku\","
#define UP "{\"model\":\"claude-3-5-haiku-20241022\","

static const req_case_t request_cases[] = {
    {"system, merged users, sampling, stop, user, stream",
     "{" M "\"messages\":[{\"role\":\"system\",\"content\":\"Be terse.\"},"
     "{\"role\":\"developer\",\"content\":\"Use \\\"metric\\\".\"},"
     "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"there\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],"
     "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,\"stop\":\"END\",\"user\":\"u-1\","
     "\"stream\":true,\"frequency_penalty\":0.1}",
     UP "\"max_tokens\":8192,\"system\":\"Be terse.\\n\\nUse \\\"metric\\\".\","
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
        "{\"type\":\"text\",\"text\":\"there\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],"
        "\"stop_sequences\":[\"END\"],\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
        "\"metadata\":{\"user_id\":\"u-1\"},\"stream\":true}",
     NULL},
    {"tool round trip with thinking, parallel results merged",
     "{" M "\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
     "{\"role\":\"assistant\",\"content\":null,\"reasoning_details\":["
     "{\"type\":\"reasoning.text\",\"text\":\"need tool\",\"signature\":\"SIG==\","
     "\"format\":\"anthropic-claude-v1\",\"index\":0},"
     "{\"type\":\"reasoning.encrypted\",\"data\":\"REDACT\",\"format\":"
     "\"anthropic-claude-v1\",\"index\":1},"
     "{\"type\":\"reasoning.encrypted\",\"data\":\"gem\",\"format\":\"google-gemini-v1\"}],"
     "\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
     "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
     "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
     "\"arguments\":\"\"}}]},"
     "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"18C\"},"
     "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":\"text\","
     "\"text\":\"noon\"}]},{\"role\":\"user\",\"content\":\"thanks\"}],"
     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
     "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
     "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
     "\"tool_choice\":\"required\",\"parallel_tool_calls\":false}",
     UP "\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"weather?\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":\"need tool\",\"signature\":\"SIG==\"},{\"type\":\"redacted_thinking\","
        "\"data\":\"REDACT\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
        "\"get_weather\",\"input\":{\"city\":\"Paris\"}},{\"type\":\"tool_use\",\"id\":"
        "\"toolu_2\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\",\"content\":["
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"noon\"}]},{\"type\":\"text\",\"text\":\"thanks\"}]}],"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":"
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":"
        "[\"city\"]}}],\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}",
     NULL},
    {"images and reasoning effort",
     "{" M "\"max_tokens\":2000,\"reasoning\":{\"effort\":\"high\"},\"messages\":[{\"role\":"
     "\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
     "\"data:image/png;base64,iVBORw0KGgo=\"}},{\"type\":\"image_url\",\"image_url\":"
     "{\"url\":\"https://example.com/a.jpg\"}},{\"type\":\"text\",\"text\":\"what?\"}]}]}",
     UP "\"max_tokens\":2000,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
        "\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
        "\"https://example.com/a.jpg\"}},{\"type\":\"text\",\"text\":\"what?\"}]}],"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1600}}",
     NULL},
    {"system blocks with cache_control, named tool, stop list",
     "{" M "\"max_completion_tokens\":50,\"messages\":[{\"role\":\"system\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"Long doc\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
     "{\"role\":\"user\",\"content\":\"q\"}],\"tools\":[{\"type\":\"function\",\"function\":"
     "{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
     "\"f\"}},\"stop\":[\"a\",\"b\"]}",
     UP "\"max_tokens\":50,\"system\":[{\"type\":\"text\",\"text\":\"Long doc\","
        "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"q\"}]}],\"tools\":[{\"name\":\"f\","
        "\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],\"tool_choice\":"
        "{\"type\":\"tool\",\"name\":\"f\"},\"stop_sequences\":[\"a\",\"b\"]}",
     NULL},
    {"consecutive assistants merged, thinking budget from reasoning.max_tokens",
     "{" M "\"reasoning\":{\"max_tokens\":3000},\"messages\":[{\"role\":\"user\",\"content\":"
     "\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"assistant\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"c\"}]},{\"role\":\"user\",\"content\":\"\"}],"
     "\"tool_choice\":\"none\",\"tools\":[]}",
     UP "\"max_tokens\":8192,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"a\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
        "\"text\":\"b\"},{\"type\":\"text\",\"text\":\"c\"}]}],\"thinking\":{\"type\":"
        "\"enabled\",\"budget_tokens\":3000}}",
     NULL},
    {"json_schema through a forced tool",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"response_format\":"
     "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"strict\":true,\"schema\":"
     "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":"
     "[\"a\"]}}}}",
     UP "\"max_tokens\":8192,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"q\"}]}],\"tools\":[{\"name\":\"json_response\",\"description\":"
        "\"Give the answer as this tool's input.\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}}],"
        "\"tool_choice\":{\"type\":\"tool\",\"name\":\"json_response\"}}",
     NULL},
    {"json_object through a forced tool",
     "{" M "\"messages\":[],\"response_format\":{\"type\":\"json_object\"}}",
     UP "\"max_tokens\":8192,\"messages\":[],\"tools\":[{\"name\":\"json_response\","
        "\"description\":\"Give the answer as this tool's input.\",\"input_schema\":"
        "{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"tool\",\"name\":"
        "\"json_response\"}}",
     NULL},
    {"json_schema with a non-object schema refused",
     "{" M "\"messages\":[],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
     "{\"schema\":{\"type\":\"array\"}}}}",
     NULL, "needs a schema of type object"},
    {"json_schema with tools refused",
     "{" M "\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
     "\"f\"}}],\"response_format\":{\"type\":\"json_object\"}}",
     NULL, "cannot be combined with tools"},
    {"json_object with reasoning refused",
     "{" M "\"messages\":[],\"reasoning\":{\"effort\":\"low\"},\"response_format\":"
     "{\"type\":\"json_object\"}}",
     NULL, "cannot be combined with reasoning"},
    {"other response_format refused",
     "{" M "\"messages\":[],\"response_format\":{\"type\":\"grammar\"}}", NULL,
     "must be text, json_object or json_schema"},
    {"n > 1 refused", "{" M "\"messages\":[],\"n\":2}", NULL, "n > 1"},
    {"absurd max_tokens refused",
     "{" M "\"messages\":[],\"max_tokens\":99999999999999999,\"reasoning\":"
     "{\"effort\":\"high\"}}",
     NULL, "max_tokens is out of range"},
    {"absurd thinking budget refused",
     "{" M "\"messages\":[],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
     "9223372036854775807}}",
     NULL, "reasoning budget is out of range"},
    {"audio refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}", NULL,
     "\"input_audio\" are not supported"},
    {"tool arguments that are not an object refused",
     "{" M "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t\",\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1\"}}]}]}",
     NULL, "not a JSON object"},
    {"thinking needs room",
     "{" M "\"max_tokens\":500,\"reasoning\":{\"effort\":\"high\"},\"messages\":[]}", NULL,
     "max_tokens must be above 1024"},
    {"image URL scheme",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"ftp://x\"}}]}]}",
     NULL, "data: or http(s)"},
};

static void test_requests(void **state)
{
  (void)state;
  check_request_cases(request_cases, SB_ARRAY_LEN(request_cases));
}

static void test_request_headers(void **state)
{
  (void)state;
  harness_t h;
  harness_init(&h, "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_anthropic.chat_request(&h.c, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages");
  assert_string_equal(header(&r, "x-api-key"), "sk-test");
  assert_string_equal(header(&r, "anthropic-version"), "2023-06-01");
  assert_string_equal(header(&r, "accept"), "text/event-stream");
  assert_string_equal(header(&r, "content-type"), "application/json");
  assert_null(header(&r, "authorization"));
  harness_free(&h);
  /* a base URL that already names /v1 */
  harness_init(&h, "{" M "\"messages\":[]}");
  h.provider.base_url = "https://gw.example/anthropic/v1";
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_anthropic.chat_request(&h.c, &r), SB_OK);
  assert_string_equal(r.url, "https://gw.example/anthropic/v1/messages");
  harness_free(&h);
}

static const char stream_req[] =
    "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static void test_stream_transcripts(void **state)
{
  (void)state;
  static const char *const files[] = {
      "plain", "tool_call", "parallel_tool_calls", "thinking", "cache_hit",
      "max_tokens", "refusal", "error_midstream", "error_before",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/anthropic/%s.sse", files[i]);
    check_transcript(path, stream_req);
  }
}

static void test_stream_violations(void **state)
{
  (void)state;
  static const char *const bad[] = {
      /* no message_start */
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
      "{\"type\":\"text\",\"text\":\"\"}}\n\n",
      /* a delta for a block never started */
      "data: {\"type\":\"message_start\",\"message\":{}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"x\"}}\n\n",
      /* an index past the cap */
      "data: {\"type\":\"message_start\",\"message\":{}}\n\n"
      "data: {\"type\":\"content_block_start\",\"index\":100000,\"content_block\":"
      "{\"type\":\"text\",\"text\":\"\"}}\n\n",
      /* not JSON */
      "data: {\"type\":\"message_start\",\"message\":{}}\n\ndata: {oops\n\n",
      /* tool_use without a name */
      "data: {\"type\":\"message_start\",\"message\":{}}\n\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
      "{\"type\":\"tool_use\",\"id\":\"x\"}}\n\n",
  };
  check_stream_violations(bad, SB_ARRAY_LEN(bad), stream_req);
}

static void test_json_response_format(void **state)
{
  (void)state;
  /* the forced tool's input comes back as content, streamed and not */
  const char *req = "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"q\"}],\"response_format\":{\"type\":\"json_object\"}}";
  check_transcript("tests/fixtures/anthropic/json_response.sse", req);
  check_response("tests/fixtures/anthropic/response_json.json", req);
}

static void test_responses(void **state)
{
  (void)state;
  const char *req = "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  check_response("tests/fixtures/anthropic/response_text.json", req);
  check_response("tests/fixtures/anthropic/response_tools_thinking.json", req);
  check_response("tests/fixtures/anthropic/error_body.json", req);
}

static void test_response_errors(void **state)
{
  (void)state;
  static const resp_error_case_t cases[] = {
      {"not json", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {"{\"type\":\"message\"}", "has no content"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}", "boom"},
  };
  check_response_errors(cases, SB_ARRAY_LEN(cases), "{" M "\"messages\":[]}");
}

static void test_error_info(void **state)
{
  (void)state;
  static const error_info_case_t cases[] = {
      {"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
       "\"Overloaded\"}}",
       "Overloaded", "overloaded_error"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
       "\"bad \\\"x\\\"\"}}",
       "bad \"x\"", "invalid_request_error"},
      {"<html>502</html>", "<html>502</html>", ""},
  };
  check_error_info(cases, SB_ARRAY_LEN(cases));
}

int main(void)
{
  hcfg = &anthropic_cfg;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_request_headers),
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_stream_violations),
      cmocka_unit_test(test_json_response_format),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
