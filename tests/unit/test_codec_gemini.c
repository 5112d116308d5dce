/* The Gemini codec: OpenAI requests in, exact generateContent bodies out
 * (schemas reduced, tool results named, thought signatures restored);
 * recorded streams (tests/fixtures/gemini/, .sse files), cut at every byte
 * boundary, give the golden OpenAI chunks; non-stream bodies give the
 * golden chat.completion. */
#include "codec_harness.h"

static const harness_cfg_t gemini_cfg = {
    .codec = &sb_codec_gemini,
    .format = "gemini",
    .display = "Google AI Studio",
    .base_url = "http://127.0.0.1:9",
    .auth_header = "x-goog-api-key",
    .model_id = "google/gemini-2.5-flash",
    .upstream_model = "gemini-2.5-flash",
    .model_json = NULL,
    .prompt_price = "0.0000003",
    .completion_price = "0.0000025",
    .cache_read_price = "0.00000003",
    .cache_write_price = NULL,
};

#define M "\"model\":\"google/gemini-2.5-flash\","

static const req_case_t request_cases[] = {
    {"system, merged users, sampling",
     "{" M "\"messages\":[{\"role\":\"system\",\"content\":\"Be terse.\"},{\"role\":\"user\","
     "\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
     "\"there\"}]}],\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,\"max_tokens\":100,"
     "\"stop\":\"END\",\"seed\":7,\"stream\":true,\"logit_bias\":{}}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"},{\"text\":\"there\"}]}],"
     "\"systemInstruction\":{\"parts\":[{\"text\":\"Be terse.\"}]},\"generationConfig\":"
     "{\"temperature\":0.5,\"topP\":0.9,\"topK\":40,\"maxOutputTokens\":100,"
     "\"stopSequences\":[\"END\"],\"candidateCount\":1,\"seed\":7}}",
     NULL},
    {"tool round trip: names found, signatures restored by id, schemas reduced",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":\"assistant\","
     "\"content\":null,\"reasoning_details\":[{\"type\":\"reasoning.encrypted\",\"data\":"
     "\"SIG_B\",\"format\":\"google-gemini-v1\",\"id\":\"call_x_1\",\"index\":1},{\"type\":"
     "\"reasoning.encrypted\",\"data\":\"SIG_A\",\"format\":\"google-gemini-v1\",\"id\":"
     "\"call_x_0\",\"index\":0},{\"type\":\"reasoning.text\",\"text\":\"x\",\"signature\":"
     "\"ant\",\"format\":\"anthropic-claude-v1\"}],\"tool_calls\":[{\"id\":\"call_x_0\","
     "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
     "\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"call_x_1\",\"type\":\"function\","
     "\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},{\"role\":\"tool\","
     "\"tool_call_id\":\"call_x_0\",\"content\":\"{\\\"temp\\\":18}\"},{\"role\":\"tool\","
     "\"tool_call_id\":\"call_x_1\",\"content\":\"noon\"}],\"tools\":[{\"type\":\"function\","
     "\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":"
     "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
     "\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City\",\"default\":"
     "\"Paris\"},\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"c\",\"f\"]},\"tags\":"
     "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"uri\"}}},\"required\":"
     "[\"city\"],\"additionalProperties\":false}}},{\"type\":\"function\",\"function\":"
     "{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"weather?\"}]},{\"role\":"
     "\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":"
     "\"Paris\"}},\"thoughtSignature\":\"SIG_A\"},{\"functionCall\":{\"name\":\"get_time\","
     "\"args\":{}},\"thoughtSignature\":\"SIG_B\"}]},{\"role\":\"user\",\"parts\":["
     "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"temp\":18}}},"
     "{\"functionResponse\":{\"name\":\"get_time\",\"response\":{\"content\":\"noon\"}}}]}],"
     "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"description\":"
     "\"Weather\",\"parameters\":{\"type\":\"object\",\"required\":[\"city\"],\"properties\":"
     "{\"city\":{\"type\":\"string\",\"description\":\"City\"},\"unit\":{\"type\":\"string\","
     "\"enum\":[\"c\",\"f\"],\"nullable\":true},\"tags\":{\"type\":\"array\",\"items\":"
     "{\"type\":\"string\"}}}}},{\"name\":\"get_time\"}]}],\"toolConfig\":"
     "{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":"
     "[\"get_weather\"]}},\"generationConfig\":{\"candidateCount\":1}}",
     NULL},
    {"images, json_schema, reasoning effort",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},{\"type\":"
     "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.webp\"}},{\"type\":"
     "\"text\",\"text\":\"what?\"}]}],\"response_format\":{\"type\":\"json_schema\","
     "\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":"
     "{\"type\":\"integer\",\"format\":\"int32\"}},\"additionalProperties\":false}}},"
     "\"reasoning\":{\"effort\":\"low\"}}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"inlineData\":{\"mimeType\":"
     "\"image/png\",\"data\":\"iVBORw0KGgo=\"}},{\"fileData\":{\"mimeType\":\"image/webp\","
     "\"fileUri\":\"https://example.com/a.webp\"}},{\"text\":\"what?\"}]}],"
     "\"generationConfig\":{\"candidateCount\":1,\"responseMimeType\":\"application/json\","
     "\"responseSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
     "\"format\":\"int32\"}}},\"thinkingConfig\":{\"thinkingBudget\":1024,"
     "\"includeThoughts\":true}}}",
     NULL},
    {"text signature by position, excluded thoughts",
     "{" M "\"max_completion_tokens\":64,\"reasoning\":{\"max_tokens\":2000,\"exclude\":true},"
     "\"tool_choice\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":"
     "\"assistant\",\"content\":\"b\",\"reasoning_details\":[{\"type\":"
     "\"reasoning.encrypted\",\"data\":\"TS\",\"format\":\"google-gemini-v1\",\"index\":0}]},"
     "{\"role\":\"user\",\"content\":\"c\"}]}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"}]},{\"role\":\"model\","
     "\"parts\":[{\"text\":\"b\",\"thoughtSignature\":\"TS\"}]},{\"role\":\"user\",\"parts\":"
     "[{\"text\":\"c\"}]}],\"generationConfig\":{\"maxOutputTokens\":64,\"candidateCount\":1,"
     "\"thinkingConfig\":{\"thinkingBudget\":2000,\"includeThoughts\":false}}}",
     NULL},
    {"unknown tool_call_id refused",
     "{" M "\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
     NULL, "matches no earlier assistant tool call"},
    {"n > 1 refused", "{" M "\"messages\":[],\"n\":3}", NULL, "n > 1"},
    {"$ref refused",
     "{" M "\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/A\"}}}}}]}",
     NULL, "$ref"},
    {"audio refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}", NULL,
     "\"input_audio\" are not supported"},
    {"bad arguments refused",
     "{" M "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t\",\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"nope\"}}]}]}",
     NULL, "not a JSON object"},
};

static void test_requests(void **state)
{
  (void)state;
  check_request_cases(request_cases, SB_ARRAY_LEN(request_cases));
}

static void test_request_url_and_headers(void **state)
{
  (void)state;
  harness_t h;
  harness_init(&h, "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_gemini.chat_request(&h.c, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:"
                             "streamGenerateContent?alt=sse");
  assert_string_equal(header(&r, "x-goog-api-key"), "sk-test");
  assert_string_equal(header(&r, "accept"), "text/event-stream");
  assert_null(header(&r, "authorization"));
  harness_free(&h);

  harness_init(&h, "{" M "\"messages\":[]}");
  h.provider.base_url = "https://generativelanguage.googleapis.com/v1beta";
  h.c.route.upstream_model = SB_SLICE_LIT("models/gemini-2.0-flash-001");
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_gemini.chat_request(&h.c, &r), SB_OK);
  assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/models/"
                             "gemini-2.0-flash-001:generateContent");
  harness_free(&h);

  /* a model name cannot smuggle a path or query */
  harness_init(&h, "{" M "\"messages\":[]}");
  h.c.route.upstream_model = SB_SLICE_LIT("../files?x=1");
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_gemini.chat_request(&h.c, &r), SB_ERROR);
  assert_non_null(strstr(h.c.codec_error, "not a valid Gemini model name"));
  harness_free(&h);
}

static const char stream_req[] =
    "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

static void test_stream_transcripts(void **state)
{
  (void)state;
  static const char *const files[] = {
      "plain",  "tool_call",      "parallel_tool_calls", "thinking",       "cache_hit",
      "max_tokens", "safety",     "blocked_prompt",      "error_midstream", "no_finish",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/gemini/%s.sse", files[i]);
    check_transcript(path, stream_req);
  }
}

static void test_stream_violations(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "data: {oops\n\n",
      "data: [1,2]\n\n",
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}\n\n",
  };
  check_stream_violations(bad, SB_ARRAY_LEN(bad), stream_req);
}

static void test_responses(void **state)
{
  (void)state;
  const char *req = "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  check_response("tests/fixtures/gemini/response_text.json", req);
  check_response("tests/fixtures/gemini/response_tools_thinking.json", req);
  check_response("tests/fixtures/gemini/response_blocked.json", req);
  check_response("tests/fixtures/gemini/error_body.json", req);
}

static void test_response_errors(void **state)
{
  (void)state;
  static const resp_error_case_t cases[] = {
      {"not json", "not a JSON object"},
      {"{}", "no candidates"},
      {"{\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}", "boom"},
  };
  check_response_errors(cases, SB_ARRAY_LEN(cases), "{" M "\"messages\":[]}");
}

static void test_error_info(void **state)
{
  (void)state;
  static const error_info_case_t cases[] = {
      {"{\"error\":{\"code\":429,\"message\":\"Resource exhausted\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}",
       "Resource exhausted", "RESOURCE_EXHAUSTED"},
      {"[{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":\"INVALID_ARGUMENT\"}}]", "bad",
       "INVALID_ARGUMENT"},
      {"<html>502</html>", "<html>502</html>", ""},
  };
  check_error_info(cases, SB_ARRAY_LEN(cases));
}

int main(void)
{
  hcfg = &gemini_cfg;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_request_url_and_headers),
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_stream_violations),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
