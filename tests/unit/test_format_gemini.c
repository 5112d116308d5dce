/* SPDX-License-Identifier: MIT */
/* The Gemini format through its face: OpenAI chat bodies decoded by the
 * OpenAI door become exact generateContent bodies and URLs (schemas
 * reduced, tool results named, thought signatures restored, refusals);
 * recorded streams (tests/fixtures/gemini/, .sse), cut at every byte, and
 * whole bodies (.json) give the golden `.events`; error bodies, the
 * finish table both ways, and batchEmbedContents both ways. The door
 * side is test_format_gemini_door.c. */
#include "format_harness.h"

#include "formats/gemini/gemini.h"

static const fmt_cfg_t cfg = {
    .format = "gemini",
    .display = "Google AI Studio",
    .base_url = "http://127.0.0.1:9",
    .model_id = "google/gemini-2.5-flash",
    .upstream_model = "gemini-2.5-flash",
    .max_output = 65535,
    .reasons = 1,
};

static const sb_codec_provider_t *provider(void)
{
  return sb_codec_gemini.provider;
}

#define M "\"model\":\"google/gemini-2.5-flash\","
/* the OpenAI door wants a message */
#define ONE "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"

/* ---- requests ------------------------------------------------------------------ */

static const fmt_req_case_t request_cases[] = {
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
    {"base64 audio and files are inline data; a developer message mid-way joins "
     "the system instruction; json_object; reasoning on without a budget",
     "{" M "\"messages\":[{\"role\":\"system\",\"content\":\"S1\"},{\"role\":\"user\","
     "\"content\":[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\","
     "\"format\":\"wav\"}},{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
     "\"file_data\":\"data:application/pdf;base64,JVBERi0=\"}}]},{\"role\":\"developer\","
     "\"content\":[{\"type\":\"text\",\"text\":\"S2\"}]},{\"role\":\"assistant\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"text\",\"text\":\"\"}]}],"
     "\"response_format\":{\"type\":\"json_object\"},\"reasoning\":{\"enabled\":true}}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"inlineData\":{\"mimeType\":"
     "\"audio/wav\",\"data\":\"UklGRg==\"}},{\"inlineData\":{\"mimeType\":"
     "\"application/pdf\",\"data\":\"JVBERi0=\"}}]},{\"role\":\"model\",\"parts\":"
     "[{\"text\":\"ok\"}]}],\"systemInstruction\":{\"parts\":[{\"text\":\"S1\"},{\"text\":"
     "\"S2\"}]},\"generationConfig\":{\"candidateCount\":1,\"responseMimeType\":"
     "\"application/json\",\"thinkingConfig\":{\"includeThoughts\":true}}}",
     NULL},
    {"reasoning off; a tool result named by the message; other formats' tools "
     "left out; penalties; tool choice none",
     "{" M "\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"t9\",\"name\":\"lookup\","
     "\"content\":[{\"type\":\"text\",\"text\":\" {\\\"a\\\":\"},{\"type\":\"text\","
     "\"text\":\"1} \"}]}],\"tools\":[{\"type\":\"web_search\"},{\"type\":\"function\","
     "\"function\":{\"name\":\"lookup\",\"parameters\":{\"type\":\"object\"}}}],"
     "\"tool_choice\":\"none\",\"presence_penalty\":0.5,\"frequency_penalty\":-0.25,"
     "\"reasoning\":{\"effort\":\"high\",\"enabled\":false}}",
     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
     "\"lookup\",\"response\":{\"a\":1}}}]}],\"tools\":[{\"functionDeclarations\":"
     "[{\"name\":\"lookup\"}]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
     "\"NONE\"}},\"generationConfig\":{\"candidateCount\":1,\"presencePenalty\":0.5,"
     "\"frequencyPenalty\":-0.25,\"thinkingConfig\":{\"thinkingBudget\":0,"
     "\"includeThoughts\":false}}}",
     NULL},
    {"unknown tool_call_id refused",
     "{" M "\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
     NULL, "matches no earlier assistant tool call"},
    {"n > 1 refused", "{" M ONE ",\"n\":3}", NULL, "n > 1"},
    {"$ref refused",
     "{" M ONE ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/A\"}}}}}]}",
     NULL, "$ref"},
    {"audio without data refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
     "\"input_audio\":{\"data\":\"\",\"format\":\"wav\"}}]}]}",
     NULL, "\"input_audio\" are not supported"},
    {"a file by id refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
     "{\"file_id\":\"file-1\"}}]}]}",
     NULL, "\"file\" are not supported"},
    {"an image URL of another scheme refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}",
     NULL, "image URLs must be data: or http(s): URLs"},
    {"a data URL that is not base64 refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
     NULL, "must be base64"},
    {"a system message holding an image refused",
     "{" M "\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"https://x/a.png\"}}]}]}",
     NULL, "system messages may only hold text"},
    {"bad arguments refused",
     "{" M "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t\",\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"nope\"}}]}]}",
     NULL, "not a JSON object"},
    {"arguments that are JSON but not an object refused",
     "{" M "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t\",\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
     NULL, "not a JSON object"},
};

static void test_requests(void **state)
{
  (void)state;
  fmt_request_cases(&cfg, provider(), request_cases,
                    SB_ARRAY_LEN(request_cases));
}

/* A model the catalog says does not reason gets no thinkingConfig. */
static void test_request_model_without_reasoning(void **state)
{
  (void)state;
  fmt_cfg_t lite = cfg;
  lite.reasons = 0;
  static const fmt_req_case_t cases[] = {
      {"reasoning asked of a model that does not reason",
       "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning\":"
       "{\"effort\":\"high\"}}",
       "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],"
       "\"generationConfig\":{\"candidateCount\":1}}",
       NULL},
  };
  fmt_request_cases(&lite, provider(), cases, SB_ARRAY_LEN(cases));
}

/* Gemini's own blocks and tools (NATIVE, format "gemini") go as they are. */
static void test_request_native(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M ONE "}");
  static const sb_hub_block_t user[] = {
      {.kind = SB_HUB_TEXT, .text = SB_SLICE_LIT("look")},
      {.kind = SB_HUB_NATIVE, .format = "gemini",
       .native = SB_SLICE_LIT("{\"executableCode\":{\"code\":\"1\"}}")},
  };
  static const sb_hub_msg_t msgs[] = {{.role = SB_HUB_USER, .blocks = user,
                                       .n_blocks = 2}};
  static const sb_hub_tool_t tools[] = {
      {.kind = SB_HUB_TOOL_NATIVE, .format = "gemini",
       .native = SB_SLICE_LIT("{\"googleSearch\":{}}")},
      {.kind = SB_HUB_TOOL_NATIVE, .format = "anthropic",
       .native = SB_SLICE_LIT("{\"type\":\"web_search_20250305\"}")},
  };
  f.req.msgs = msgs;
  f.req.n_msgs = 1;
  f.req.tools = tools;
  f.req.n_tools = 2;
  f.req.choice = SB_HUB_CHOICE_REQUIRED;
  sb_codec_request_t r;
  assert_int_equal(fmt_build(&f, provider(), false, &r), SB_OK);
  sb_buf_cstr(&f.body);
  assert_string_equal(
      f.body.data,
      "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"look\"},"
      "{\"executableCode\":{\"code\":\"1\"}}]}],\"tools\":[{\"googleSearch\":{}}],"
      "\"generationConfig\":{\"candidateCount\":1}}");
  fmt_free(&f);
}

/* What the OpenAI door never gives but another door may: a tool call
 * without a name, a tool result without a name or a matching call. */
static void test_request_refused_blocks(void **state)
{
  (void)state;
  static const sb_hub_block_t call[] = {
      {.kind = SB_HUB_TOOL_CALL, .id = SB_SLICE_LIT("t1"),
       .args = SB_SLICE_LIT("{}")},
  };
  static const sb_hub_block_t result[] = {
      {.kind = SB_HUB_TOOL_RESULT, .id = SB_SLICE_LIT("t2"),
       .text = SB_SLICE_LIT("ok")},
  };
  static const sb_hub_msg_t with_call[] = {
      {.role = SB_HUB_ASSISTANT, .blocks = call, .n_blocks = 1}};
  static const sb_hub_msg_t with_result[] = {
      {.role = SB_HUB_USER, .blocks = result, .n_blocks = 1}};
  static const struct {
    const sb_hub_msg_t *msgs;
    const char *error;
  } cases[] = {
      {with_call, "an assistant tool call needs a function name"},
      {with_result, "matches no earlier assistant tool call"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    sb_codec_request_t r;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, "{" M ONE "}");
    f.req.msgs = cases[i].msgs;
    f.req.n_msgs = 1;
    assert_int_equal(fmt_build(&f, provider(), false, &r), SB_ERROR);
    if (strstr(r.error, cases[i].error) == NULL)
      fail_msg("case %zu: %s", i, r.error);
    fmt_free(&f);
  }
}

static void test_request_url_and_headers(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"x\"}]}");
  assert_int_equal(fmt_build(&f, provider(), false, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:"
                             "streamGenerateContent?alt=sse");
  assert_string_equal(fmt_header(&r, "accept"), "text/event-stream");
  assert_string_equal(fmt_header(&r, "content-type"), "application/json");
  assert_null(fmt_header(&r, "authorization")); /* the gateway's to add */
  assert_null(fmt_header(&r, "x-goog-api-key"));
  fmt_free(&f);

  fmt_init(&f, &cfg);
  f.provider.base_url = "https://generativelanguage.googleapis.com/v1beta";
  f.route.upstream_model = SB_SLICE_LIT("models/gemini-2.0-flash-001");
  fmt_openai_req(&f, "{" M ONE "}");
  assert_int_equal(fmt_build(&f, provider(), false, &r), SB_OK);
  assert_string_equal(r.url, "https://generativelanguage.googleapis.com/v1beta/"
                             "models/gemini-2.0-flash-001:generateContent");
  assert_string_equal(fmt_header(&r, "accept"), "application/json");
  fmt_free(&f);

  /* a model name cannot smuggle a path or query */
  static const char *const bad[] = {"../files?x=1", "models/", "a b", ""};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    fmt_init(&f, &cfg);
    f.route.upstream_model = sb_slice_z(bad[i]);
    fmt_openai_req(&f, "{" M ONE "}");
    assert_int_equal(fmt_build(&f, provider(), false, &r), SB_ERROR);
    assert_non_null(strstr(r.error, "not a valid Gemini model name"));
    fmt_free(&f);
  }
}

/* The body does not fit the caller's buffer: SB_DECLINED. */
static void test_request_too_large(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  sb_buf_t small;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"a longer text than the buffer holds\"}]}");
  sb_buf_init(&small, 32);
  memset(&r, 0, sizeof(r));
  r.body = &small;
  assert_int_equal(provider()->request(&f.req, &f.route, false, &f.arena, &r),
                   SB_DECLINED);
  sb_buf_free(&small);
  fmt_free(&f);
}

/* ---- answers --------------------------------------------------------------------- */

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
    fmt_check_stream(&cfg, provider(), path, stream_req, false);
  }
}

/* Feed `stream` whole; the events it gave, one a line, in f->dump. */
static sb_status_t feed_whole(fmt_t *f, const char *stream)
{
  fmt_answer_t t;
  sb_sse_parser_t p;
  fmt_answer_init(&t, f, provider(), false);
  sb_sse_init(&p, 1 << 20);
  p.data_join = ' ';
  sb_status_t rc = sb_sse_feed(&p, stream, strlen(stream), fmt_feed_event, &t);
  sb_sse_free(&p);
  sb_arena_destroy(&t.scratch);
  return rc;
}

/* Garbage in a stream ends it with one ERROR event (502). */
static void test_stream_violations(void **state)
{
  (void)state;
  static const struct {
    const char *stream, *error;
  } bad[] = {
      {"data: {oops\n\n", "error 502 \"the provider sent an invalid stream event\"\n"},
      {"data: [1,2]\n\n", "error 502 \"the provider sent an invalid stream event\"\n"},
      {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}\n\n",
       "error 502 \"the provider sent a function call without a name\"\n"},
      {"data: {\"error\":{\"code\":429,\"message\":\"slow down\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}\n\n",
       "error 429 \"slow down\"\n"},
      {"data: {\"error\":{\"code\":500}}\n\n", "error 502 \"provider error\"\n"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, stream_req);
    assert_int_equal(feed_whole(&f, bad[i].stream), SB_ERROR);
    sb_buf_cstr(&f.dump);
    const char *last = strstr(f.dump.data, "error ");
    if (last == NULL || strcmp(last, bad[i].error) != 0)
      fail_msg("case %zu: events\n%s\nwant the last\n%s", i, f.dump.data,
               bad[i].error);
    fmt_free(&f);
  }
}

/* A usage the provider repeats is reported once; hostile counts never. */
static void test_stream_usage(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, stream_req);
  assert_int_equal(
      feed_whole(&f,
                 "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
                 "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,"
                 "\"toolUsePromptTokenCount\":2,\"candidatesTokenCount\":1}}\n\n"
                 "data: {\"usageMetadata\":{\"promptTokenCount\":3,"
                 "\"toolUsePromptTokenCount\":2,\"candidatesTokenCount\":1}}\n\n"
                 "data: {\"usageMetadata\":{\"promptTokenCount\":-1}}\n\n"
                 "data: {\"usageMetadata\":{\"promptTokenCount\":99999999999999999}}\n\n"
                 "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"late\"}]}}],"
                 "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}\n\n"),
      SB_OK);
  sb_buf_cstr(&f.dump);
  assert_string_equal(f.dump.data, "start\ntext \"a\"\nfinish stop \"STOP\"\n"
                                   "usage 5 1 0 0 0\nusage 3 4 0 0 0\n");
  fmt_free(&f);
}

static void test_responses(void **state)
{
  (void)state;
  static const char *const files[] = {
      "tests/fixtures/gemini/response_text.json",
      "tests/fixtures/gemini/response_tools_thinking.json",
      "tests/fixtures/gemini/response_blocked.json",
      "tests/fixtures/gemini/error_body.json",
  };
  const char *req = "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++)
    fmt_check_response(&cfg, provider(), files[i], req, false);
}

static void test_response_errors(void **state)
{
  (void)state;
  static const struct {
    const char *body, *error;
  } cases[] = {
      {"not json", "error 502 \"the provider returned a response that is not a JSON "
                   "object\"\n"},
      {"[]", "error 502 \"the provider returned a response that is not a JSON object\"\n"},
      {"{}", "error 502 \"the provider's response has no candidates\"\n"},
      {"{\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}",
       "error 502 \"provider gemini reported an error: boom\"\n"},
      {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{}}]}}]}",
       "error 502 \"the provider sent a function call without a name\"\n"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    fmt_answer_t t;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, "{" M ONE "}");
    fmt_answer_init(&t, &f, provider(), false);
    assert_int_equal(provider()->response(&t.an, sb_slice_z(cases[i].body)),
                     SB_ERROR);
    sb_buf_cstr(&f.dump);
    const char *last = strstr(f.dump.data, "error ");
    if (last == NULL || strcmp(last, cases[i].error) != 0)
      fail_msg("case %zu: events\n%s\nwant the last\n%s", i, f.dump.data,
               cases[i].error);
    sb_arena_destroy(&t.scratch);
    fmt_free(&f);
  }
}

static void test_error_info(void **state)
{
  (void)state;
  static const struct {
    const char *body, *message, *code;
  } cases[] = {
      {"{\"error\":{\"code\":429,\"message\":\"Resource exhausted\",\"status\":"
       "\"RESOURCE_EXHAUSTED\"}}",
       "Resource exhausted", "RESOURCE_EXHAUSTED"},
      {"[{\"error\":{\"code\":400,\"message\":\"bad \\\"x\\\"\",\"status\":"
       "\"INVALID_ARGUMENT\"}}]",
       "bad \"x\"", "INVALID_ARGUMENT"},
      {"<html>502</html>", "<html>502</html>", ""},
      {"{\"error\":\"flat\"}", "", ""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_slice_t m, c;
    sb_arena_init(&a, 4096, 0);
    provider()->error_info(&a, sb_slice_z(cases[i].body), &m, &c);
    assert_slice_equal(m.ptr != NULL ? m : SB_SLICE_LIT(""), cases[i].message);
    assert_slice_equal(c.ptr != NULL ? c : SB_SLICE_LIT(""), cases[i].code);
    sb_arena_destroy(&a);
  }
}

/* ---- the finish table ------------------------------------------------------------ */

static void test_finish(void **state)
{
  (void)state;
  static const struct {
    const char *native;
    sb_finish_t want;
  } in[] = {
      {"STOP", SB_FINISH_STOP},
      {"MAX_TOKENS", SB_FINISH_LENGTH},
      {"SAFETY", SB_FINISH_CONTENT_FILTER},
      {"RECITATION", SB_FINISH_CONTENT_FILTER},
      {"BLOCKLIST", SB_FINISH_CONTENT_FILTER},
      {"PROHIBITED_CONTENT", SB_FINISH_CONTENT_FILTER},
      {"SPII", SB_FINISH_CONTENT_FILTER},
      {"LANGUAGE", SB_FINISH_CONTENT_FILTER},
      {"IMAGE_SAFETY", SB_FINISH_CONTENT_FILTER},
      {"MALFORMED_FUNCTION_CALL", SB_FINISH_ERROR},
      {"UNEXPECTED_TOOL_CALL", SB_FINISH_ERROR},
      {"OTHER", SB_FINISH_STOP},
      {"FINISH_REASON_UNSPECIFIED", SB_FINISH_STOP},
      {"SOMETHING_NEW", SB_FINISH_STOP},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(in); i++)
    assert_int_equal(sb_codec_gemini.finish_in(sb_slice_z(in[i].native)),
                     in[i].want);
  assert_string_equal(sb_codec_gemini.finish_out(SB_FINISH_STOP), "STOP");
  assert_string_equal(sb_codec_gemini.finish_out(SB_FINISH_TOOL_CALLS), "STOP");
  assert_string_equal(sb_codec_gemini.finish_out(SB_FINISH_LENGTH), "MAX_TOKENS");
  assert_string_equal(sb_codec_gemini.finish_out(SB_FINISH_CONTENT_FILTER), "SAFETY");
  assert_string_equal(sb_codec_gemini.finish_out(SB_FINISH_ERROR), "OTHER");
  assert_null(sb_codec_gemini.finish_out(SB_FINISH_NONE));
  assert_string_equal(sb_codec_gemini.name, "gemini");
  assert_non_null(sb_codec_gemini.door);
}

/* ---- embeddings -------------------------------------------------------------------- */

/* An embeddings request as the door decodes it. */
static void embed_req(sb_arena_t *a, const char *input, int64_t dims,
                      sb_hub_embed_req_t *req)
{
  sb_json_t *in;
  char *copy = sb_arena_strndup(a, input, strlen(input));
  assert_int_equal(sb_json_parse(a, copy, strlen(copy), 0, &in, NULL), SB_OK);
  memset(req, 0, sizeof(*req));
  req->door_format = "openai";
  req->model = SB_SLICE_LIT("google/gemini-embedding-001");
  req->input = in;
  req->n_inputs = in->type == SB_JSON_ARRAY ? in->count : 1;
  req->dimensions = dims;
}

static void test_embed_request(void **state)
{
  (void)state;
  const sb_codec_embed_provider_t *ep = sb_codec_gemini.embed_provider;
  static const struct {
    const char *input;
    int64_t dims;
    const char *body, *err;
  } cases[] = {
      {"[\"hello world\",\"second text\"]", 4,
       "{\"requests\":[{\"model\":\"models/gemini-embedding-001\",\"content\":{\"parts\":"
       "[{\"text\":\"hello world\"}]},\"outputDimensionality\":4},{\"model\":"
       "\"models/gemini-embedding-001\",\"content\":{\"parts\":[{\"text\":"
       "\"second text\"}]},\"outputDimensionality\":4}]}",
       NULL},
      {"\"one \\\"quoted\\\"\"", 0,
       "{\"requests\":[{\"model\":\"models/gemini-embedding-001\",\"content\":{\"parts\":"
       "[{\"text\":\"one \\\"quoted\\\"\"}]}}]}",
       NULL},
      {"[[1,2]]", 0, NULL,
       "provider gemini (format gemini) embeds text only: 'input' must be a string "
       "or an array of strings"},
      {"[1,2]", 0, NULL, "embeds text only"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    sb_hub_embed_req_t req;
    sb_codec_request_t r;
    fmt_init(&f, &cfg);
    f.route.upstream_model = SB_SLICE_LIT("gemini-embedding-001");
    embed_req(&f.arena, cases[i].input, cases[i].dims, &req);
    memset(&r, 0, sizeof(r));
    r.body = &f.body;
    sb_status_t rc = ep->request(&req, &f.route, false, &f.arena, &r);
    if (cases[i].body != NULL) {
      assert_int_equal(rc, SB_OK);
      sb_buf_cstr(&f.body);
      assert_string_equal(f.body.data, cases[i].body);
      assert_string_equal(r.url, "http://127.0.0.1:9/v1beta/models/"
                                 "gemini-embedding-001:batchEmbedContents");
      assert_string_equal(fmt_header(&r, "accept"), "application/json");
      assert_string_equal(fmt_header(&r, "content-type"), "application/json");
    } else {
      assert_int_equal(rc, SB_ERROR);
      if (strstr(r.error, cases[i].err) == NULL)
        fail_msg("case %zu: %s", i, r.error);
    }
    fmt_free(&f);
  }
  /* the model name is checked here too */
  fmt_t f;
  sb_hub_embed_req_t req;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  f.route.upstream_model = SB_SLICE_LIT("x/../y");
  embed_req(&f.arena, "\"x\"", 0, &req);
  memset(&r, 0, sizeof(r));
  r.body = &f.body;
  assert_int_equal(ep->request(&req, &f.route, false, &f.arena, &r), SB_ERROR);
  assert_string_equal(r.error, "the model name is not a valid Gemini model name");
  fmt_free(&f);
}

static void test_embed_response(void **state)
{
  (void)state;
  const sb_codec_embed_provider_t *ep = sb_codec_gemini.embed_provider;
  fmt_t f;
  sb_hub_embed_req_t req;
  sb_hub_embeddings_t e;
  sb_slice_t native;
  const char *why = NULL;
  fmt_init(&f, &cfg);
  embed_req(&f.arena, "[\"hello world\",\"second text\"]", 0, &req);
  assert_int_equal(
      ep->response(&req,
                   SB_SLICE_LIT("{\"embeddings\":[{\"values\":[0.1,-0.2]},"
                                "{\"values\":[1e-3, 0]}]}"),
                   false, &f.arena, &e, &native, &why),
      SB_OK);
  assert_int_equal(e.n, 2);
  assert_slice_equal(e.vectors[0], "[0.1,-0.2]");
  assert_slice_equal(e.vectors[1], "[1e-3, 0]");
  assert_null(native.ptr);
  /* no usage from Gemini: 22 bytes of text, 6 tokens, estimated */
  assert_false(e.has_usage);
  assert_int_equal(e.usage.prompt, 6);
  assert_int_equal(e.usage.completion, 0);

  static const struct {
    const char *body, *why;
  } bad[] = {
      {"nope", "the provider's embeddings response is not a JSON object with an "
               "'embeddings' array"},
      {"{\"data\":[]}", "the provider's embeddings response is not a JSON object "
                        "with an 'embeddings' array"},
      {"{\"embeddings\":[{\"values\":[1]},{}]}",
       "an embedding in the provider's response has no values"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    why = NULL;
    assert_int_equal(ep->response(&req, sb_slice_z(bad[i].body), false, &f.arena,
                                  &e, &native, &why),
                     SB_ERROR);
    assert_string_equal(why, bad[i].why);
  }
  fmt_free(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_request_model_without_reasoning),
      cmocka_unit_test(test_request_native),
      cmocka_unit_test(test_request_refused_blocks),
      cmocka_unit_test(test_request_url_and_headers),
      cmocka_unit_test(test_request_too_large),
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_stream_violations),
      cmocka_unit_test(test_stream_usage),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
      cmocka_unit_test(test_finish),
      cmocka_unit_test(test_embed_request),
      cmocka_unit_test(test_embed_response),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
