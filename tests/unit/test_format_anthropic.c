/* SPDX-License-Identifier: MIT */
/* The Anthropic Messages format through its face, both directions:
 * - provider side: hub requests (decoded from OpenAI chat bodies) -> the
 *   exact Messages bodies, refusals with their messages, URL and headers,
 *   the pass-through body; recorded Messages streams
 *   (tests/fixtures/anthropic/, .sse) cut at every byte and whole bodies
 *   (.json) -> golden `.events`; streams that break the rules;
 * - door side: Messages bodies -> the hub request (checked block by
 *   block), the schema's refusals with their member paths, the
 *   count_tokens estimate; events files (tests/fixtures/anthropic/
 *   encode_*.events) -> golden Messages streams (`.stream`) and messages
 *   (`.message`); the pass-through path, stream in to stream out, byte for
 *   byte; the round trip of another format's reasoning through
 *   redacted_thinking.
 * JSON in the door's tables is written with ' for " (the texts have no
 * apostrophes) to stay readable. */
#include "format_harness.h"

#include "formats/anthropic/anthropic.h"

static const fmt_cfg_t cfg = {
    .format = "anthropic",
    .display = "Anthropic",
    .base_url = "http://127.0.0.1:9",
    .model_id = "anthropic/claude-3.5-haiku",
    .upstream_model = "claude-3-5-haiku-20241022",
    .max_output = 8192,
    .reasons = 1,
};

#define FIX "tests/fixtures/anthropic/"

/* ---- provider side: requests -------------------------------------------- */

#define M "\"model\":\"anthropic/claude-3.5-haiku\","
#define UP "{\"model\":\"claude-3-5-haiku-20241022\","

static const fmt_req_case_t request_cases[] = {
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
    {"image data URL not base64",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png,AAAA\"}}]}]}",
     NULL, "image data URLs must be base64"},
    {"image data that is not base64 refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png;base64,ab\\\"}c\"}}]}]}",
     NULL, "image data URLs must be base64"},
    {"another format's provider-run tool left out (the gateway names it)",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
     "[{\"type\":\"web_search\"}]}",
     UP "\"max_tokens\":8192,\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"x\"}]}]}",
     NULL},
    {"a file part refused",
     "{" M "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
     "{\"file_id\":\"f1\"}}]}]}",
     NULL, "content parts of type \"file\" are not supported"},
    {"assistant parts other than text refused, a refusal left out",
     "{" M "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\","
     "\"refusal\":\"no\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
     "\"https://x.test/a.png\"}}]}]}",
     NULL, "assistant content parts may only hold text"},
    {"a system image refused",
     "{" M "\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"https://x.test/a.png\"}}]}]}",
     NULL, "system messages may only hold text"},
    {"reasoning of another format, or unsigned, is not replayed; a refusal is "
     "left out; an empty budget with effort none",
     "{" M "\"max_tokens\":10,\"reasoning_effort\":\"none\",\"messages\":[{\"role\":"
     "\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"},{\"type\":"
     "\"text\",\"text\":\"ok\"}],\"reasoning\":\"plain\",\"reasoning_details\":[{\"type\":"
     "\"reasoning.text\",\"text\":\"g\",\"signature\":\"GS\",\"format\":"
     "\"google-gemini-v1\"},{\"type\":\"reasoning.text\",\"text\":\"u\",\"format\":"
     "\"anthropic-claude-v1\"}]},{\"role\":\"tool\",\"tool_call_id\":\"t\",\"content\":"
     "\"r\",\"is_error\":true}]}",
     UP "\"max_tokens\":10,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"ok\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"r\",\"is_error\":true}]}]}",
     NULL},
    {"max_tokens raised for a budget when none was asked",
     "{" M "\"reasoning\":{\"max_tokens\":9000},\"messages\":[]}",
     UP "\"max_tokens\":13096,\"messages\":[],\"thinking\":{\"type\":\"enabled\","
        "\"budget_tokens\":9000}}",
     NULL},
    {"a budget at max_tokens takes one less",
     "{" M "\"max_tokens\":2000,\"reasoning\":{\"max_tokens\":5000},\"messages\":[]}",
     UP "\"max_tokens\":2000,\"messages\":[],\"thinking\":{\"type\":\"enabled\","
        "\"budget_tokens\":1999}}",
     NULL},
};

static void test_requests(void **state)
{
  (void)state;
  fmt_request_cases(&cfg, &sb_anthropic_provider, request_cases,
                    SB_ARRAY_LEN(request_cases));
}

/* A response_format the hub has no form for (OpenRouter's grammar) is
 * refused. */
static void test_request_other_format(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"messages\":[]}");
  f.req.response_format = SB_HUB_FORMAT_OTHER;
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, false, &r), SB_ERROR);
  assert_string_equal(r.error,
                      "response_format must be text, json_object or json_schema");
  fmt_free(&f);
}

static void test_request_headers(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"x\"}]}");
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, false, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages");
  assert_string_equal(fmt_header(&r, "anthropic-version"), "2023-06-01");
  assert_string_equal(fmt_header(&r, "accept"), "text/event-stream");
  assert_string_equal(fmt_header(&r, "content-type"), "application/json");
  assert_null(fmt_header(&r, "x-api-key")); /* the gateway adds the key */
  assert_int_equal(r.n_headers, 3);
  fmt_free(&f);

  /* a base URL that already names /v1; a provider that sets its own
   * version */
  static const sb_kv_t own[] = {{"anthropic-version", "2024-01-01"}};
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"messages\":[]}");
  f.provider.base_url = "https://gw.example/anthropic/v1";
  f.provider.headers = own;
  f.provider.n_headers = 1;
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, false, &r), SB_OK);
  assert_string_equal(r.url, "https://gw.example/anthropic/v1/messages");
  assert_string_equal(fmt_header(&r, "accept"), "application/json");
  assert_null(fmt_header(&r, "anthropic-version")); /* the gateway adds it */
  fmt_free(&f);

  /* a body that does not fit its buffer */
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"a long enough question\"}]}");
  sb_buf_free(&f.body);
  sb_buf_init(&f.body, 40);
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, false, &r),
                   SB_DECLINED);
  fmt_free(&f);
}

/* The door's hub request of a Messages body (envelope and decode). */
static void messages_req(fmt_t *f, const char *json)
{
  sb_json_t *root;
  sb_json_error_t e;
  char why[256] = "";
  char *copy = fmt_q(&f->arena, json);
  if (sb_json_parse(&f->arena, copy, strlen(copy), 0, &root, &e) != SB_OK)
    fail_msg("request JSON invalid at %zu: %s\n%s", e.offset, e.message, copy);
  memset(&f->req, 0, sizeof(f->req));
  if (sb_messages_validate(root, false, why, sizeof(why)) != SB_OK ||
      sb_anthropic_envelope(root, &f->arena, &f->req, why, sizeof(why)) !=
          SB_OK ||
      sb_anthropic_decode(&f->req, &f->arena, why, sizeof(why)) != SB_OK)
    fail_msg("the Messages door refused the request: %s\n%s", why, copy);
}

/* The pass-through path: the client's body with only `model` rewritten,
 * every other member byte for byte; the client's headers and query the
 * door kept. */
static void test_request_passthrough(void **state)
{
  (void)state;
  static const char body[] =
      "{'model':'anthropic/claude-3.5-haiku','max_tokens':100, 'stream':true,"
      "'system':[{'type':'text','text':'Be kind.','cache_control':{'type':"
      "'ephemeral'}}],'messages':[{'role':'user','content':'Hello'}],"
      "'a_field_switchboard_does_not_know':{'kept':[1, 2]}}";
  static const sb_kv_t fwd[] = {{"anthropic-version", "2023-06-01"},
                                {"anthropic-beta", "interleaved-thinking"}};
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  messages_req(&f, body);
  f.req.forward_headers = fwd;
  f.req.n_forward_headers = 2;
  f.req.forward_query = SB_SLICE_LIT("beta=true");
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, true, &r), SB_OK);
  sb_buf_cstr(&f.body);
  assert_string_equal(
      f.body.data,
      fmt_q(&f.arena,
        "{'model':'claude-3-5-haiku-20241022','max_tokens':100, 'stream':true,"
        "'system':[{'type':'text','text':'Be kind.','cache_control':{'type':"
        "'ephemeral'}}],'messages':[{'role':'user','content':'Hello'}],"
        "'a_field_switchboard_does_not_know':{'kept':[1, 2]}}"));
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages?beta=true");
  assert_string_equal(fmt_header(&r, "accept"), "text/event-stream");
  assert_string_equal(fmt_header(&r, "anthropic-version"), "2023-06-01");
  assert_string_equal(fmt_header(&r, "anthropic-beta"), "interleaved-thinking");
  assert_int_equal(r.n_headers, 4);
  fmt_free(&f);

  /* the provider's own anthropic-beta wins; no version from the client:
   * the default */
  static const sb_kv_t own[] = {{"Anthropic-Beta", "mine"}};
  fmt_init(&f, &cfg);
  messages_req(&f, "{'model':'m','max_tokens':1,'messages':[{'role':'user',"
                   "'content':'x'}]}");
  f.req.forward_headers = &fwd[1];
  f.req.n_forward_headers = 1;
  f.provider.headers = own;
  f.provider.n_headers = 1;
  assert_int_equal(fmt_build(&f, &sb_anthropic_provider, true, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages");
  assert_null(fmt_header(&r, "anthropic-beta"));
  assert_string_equal(fmt_header(&r, "anthropic-version"), "2023-06-01");
  fmt_free(&f);
}

/* ---- provider side: answers --------------------------------------------- */

static const char stream_req[] =
    "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char json_req[] =
    "{" M "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
    "\"response_format\":{\"type\":\"json_object\"}}";

static void test_stream_transcripts(void **state)
{
  (void)state;
  static const char *const files[] = {
      "plain", "tool_call", "parallel_tool_calls", "thinking", "cache_hit",
      "max_tokens", "refusal", "error_midstream", "error_before",
      "server_tool",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.sse", files[i]);
    fmt_check_stream(&cfg, &sb_anthropic_provider, path, stream_req, false);
  }
  /* the forced tool's input comes back as text, streamed and not */
  fmt_check_stream(&cfg, &sb_anthropic_provider, FIX "json_response.sse",
                   json_req, false);
  fmt_check_response(&cfg, &sb_anthropic_provider, FIX "response_json.json",
                     json_req, false);
}

static void test_responses(void **state)
{
  (void)state;
  static const char *const files[] = {
      "response_text.json", "response_tools_thinking.json", "error_body.json",
      "overloaded_body.json",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s", files[i]);
    fmt_check_response(&cfg, &sb_anthropic_provider, path, stream_req, false);
  }
}

/* Streams that break the rules fail with one ERROR event (502). */
static void test_stream_violations(void **state)
{
  (void)state;
  static const struct {
    const char *stream, *why;
  } bad[] = {
      {"data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"text\",\"text\":\"\"}}\n\n",
       "did not start with message_start"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
       "\"text_delta\",\"text\":\"x\"}}\n\n",
       "a delta for a block it did not start"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"content_block_start\",\"index\":100000,\"content_block\":"
       "{\"type\":\"text\",\"text\":\"\"}}\n\n",
       "index out of range"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\ndata: {oops\n\n",
       "an invalid stream event"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"tool_use\",\"id\":\"x\"}}\n\n",
       "a tool_use block without id or name"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"message_start\",\"message\":{}}\n\n",
       "started its message twice"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"text\",\"text\":\"\"}}\n\n"
       "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"text\",\"text\":\"\"}}\n\n",
       "started a content block twice"},
      {"data: {\"type\":\"message_start\",\"message\":{}}\n\n"
       "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
       "{\"type\":\"redacted_thinking\"}}\n\n",
       "redacted thinking without data"},
      {"data: {\"index\":0}\n\n", "without a type"},
      {"data: [1]\n\n", "an invalid stream event"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++)
    for (int pt = 0; pt < 2; pt++) {
      fmt_t f;
      fmt_init(&f, &cfg);
      fmt_openai_req(&f, stream_req);
      assert_int_equal(fmt_feed(&f, &sb_anthropic_provider, bad[i].stream, pt),
                       SB_ERROR);
      sb_buf_cstr(&f.dump);
      const char *err = strstr(f.dump.data, "error 502 \"");
      if (err == NULL || strstr(err, bad[i].why) == NULL ||
          strchr(err, '\n')[1] != '\0')
        fail_msg("case %zu: %s", i, f.dump.data);
      fmt_free(&f);
    }
}

/* A bad 2xx body: one ERROR event (502) with what is wrong. */
static void test_response_errors(void **state)
{
  (void)state;
  static const struct {
    const char *body, *contains;
  } cases[] = {
      {"not json", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {"{\"type\":\"message\"}", "has no content"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}",
       "provider anthropic reported an error: boom"},
      {"{\"error\":\"flat\"}", "reported an error: flat"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, stream_req);
    fmt_answer_t t;
    fmt_answer_init(&t, &f, &sb_anthropic_provider, false);
    assert_int_equal(sb_anthropic_response(&t.an, sb_slice_z(cases[i].body)),
                     SB_ERROR);
    sb_buf_cstr(&f.dump);
    if (strncmp(f.dump.data, "error 502 ", 10) != 0 ||
        strstr(f.dump.data, cases[i].contains) == NULL)
      fail_msg("case %zu: %s", i, f.dump.data);
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
      {"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
       "\"Overloaded\"}}",
       "Overloaded", "overloaded_error"},
      {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
       "\"bad \\\"x\\\"\"}}",
       "bad \"x\"", "invalid_request_error"},
      {"<html>502</html>", "<html>502</html>", ""},
      {"{}", "", ""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_slice_t m, c;
    sb_arena_init(&a, 4096, 0);
    sb_anthropic_error_info(&a, sb_slice_z(cases[i].body), &m, &c);
    assert_slice_equal(m.ptr != NULL ? m : SB_SLICE_LIT(""), cases[i].message);
    assert_slice_equal(c.ptr != NULL ? c : SB_SLICE_LIT(""), cases[i].code);
    sb_arena_destroy(&a);
  }
}

/* ---- the pass-through path ---------------------------------------------- */

/* The Messages door's encoder in pass-through mode, fed the events the
 * decoder gives. */
typedef struct {
  void *enc;
  sb_buf_t out;
  fmt_t *f;
  int error_status;
  sb_slice_t error;
} relay_t;

static sb_status_t relay_emit(void *data, const sb_hub_event_t *ev)
{
  relay_t *r = data;
  fmt_dump_event(&r->f->dump, ev);
  if (ev->kind == SB_HUB_EV_ERROR) {
    r->error_status = ev->status;
    r->error = sb_arena_slice_dup(&r->f->arena, ev->text);
  }
  return sb_anthropic_encoder.event(r->enc, ev, &r->out);
}

/* The stream (or body) at `path`, decoded on the pass-through path (cut
 * at every byte) and encoded by the Messages door, comes out byte for
 * byte as it went in (its first `keep` bytes, then `tail`: what the
 * gateway adds when it failed); the events the gateway reads beside it
 * (finish, usage, output) are the golden `.passthrough.events`. */
static void check_relay(const char *path, bool whole, size_t keep,
                        const char *tail)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  if (keep == 0)
    keep = n;
  for (size_t cut = 0; cut <= (whole ? 0 : n); cut++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    messages_req(&f, "{'model':'anthropic/claude-3.5-haiku','max_tokens':9,"
                     "'stream':true,'messages':[{'role':'user','content':'x'}]}");
    relay_t r = {sb_arena_calloc(&f.arena, sb_anthropic_encoder.state_size),
                 {0}, &f, 0, SB_NULL_SLICE};
    sb_buf_init(&r.out, 0);
    sb_anthropic_encoder.begin(r.enc, &f.arena, &f.req, &f.names, !whole,
                               true);
    fmt_answer_t t;
    fmt_answer_init(&t, &f, &sb_anthropic_provider, true);
    t.an.sink.emit = relay_emit;
    t.an.sink.data = &r;
    sb_status_t rc;
    if (whole) {
      rc = sb_anthropic_response(&t.an, sb_slice(d, n));
    } else {
      sb_sse_parser_t p;
      sb_sse_init(&p, 1 << 20);
      p.data_join = ' ';
      rc = sb_sse_feed(&p, d, cut, fmt_feed_event, &t);
      if (rc == SB_OK)
        rc = sb_sse_feed(&p, d + cut, n - cut, fmt_feed_event, &t);
      sb_sse_free(&p);
    }
    fmt_outcome(&t, rc);
    sb_usage_t u = {0};
    sb_answer_end_t end = {.usage = &u,
                           .error_status = r.error_status,
                           .error_message = r.error};
    assert_int_equal(sb_anthropic_encoder.end(r.enc, &end, &r.out), SB_OK);
    if (r.out.len != keep + strlen(tail) || memcmp(r.out.data, d, keep) != 0 ||
        memcmp(r.out.data + keep, tail, strlen(tail)) != 0)
      fail_msg("%s (cut %zu): relayed\n%.*s", path, cut, (int)r.out.len,
               r.out.data);
    if (cut == 0)
      fmt_golden(path, "passthrough.events", &f.dump);
    sb_buf_free(&r.out);
    sb_arena_destroy(&t.scratch);
    fmt_free(&f);
  }
  free(d);
}

static void test_passthrough(void **state)
{
  (void)state;
  static const char *const files[] = {"plain", "thinking", "tool_call",
                                      "cache_hit", "parallel_tool_calls",
                                      "server_tool"};
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.sse", files[i]);
    check_relay(path, false, 0, "");
  }
  check_relay(FIX "response_tools_thinking.json", true, 0, "");
  /* the upstream's error event is not relayed: the stream ends with the
   * gateway's own, Anthropic's type and message kept */
  size_t n = 0;
  char *d = read_file(FIX "error_midstream.sse", &n);
  assert_non_null(d);
  const char *err = strstr(d, "event: error");
  assert_non_null(err);
  check_relay(FIX "error_midstream.sse", false, (size_t)(err - d),
              "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
              "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
  free(d);
}

/* ---- the door: requests ------------------------------------------------- */

/* A Messages body (' for ") -> the hub request dumped (' for "). */
static void expect_decode(const char *in, const char *want)
{
  fmt_t f;
  fmt_init(&f, &cfg);
  messages_req(&f, in);
  sb_buf_t got;
  sb_buf_init(&got, 0);
  fmt_hub_dump(&got, &f.req);
  sb_buf_cstr(&got);
  const char *w = fmt_q(&f.arena, want);
  if (strcmp(got.data, w) != 0)
    fail_msg("request %s\ngot:\n%s\nwant:\n%s", fmt_q(&f.arena, in), got.data, w);
  sb_buf_free(&got);
  fmt_free(&f);
}

static void test_decode_basic(void **state)
{
  (void)state;
  expect_decode("{'model':'m','max_tokens':10,'messages':[{'role':'user',"
                "'content':'hi'}]}",
      "user\n"
      "  text 'hi'\n"
      "max_tokens 10\n");
  /* every parameter */
  expect_decode(
      "{'model':'openai/gpt-4o-mini','system':'Be terse.','max_tokens':64,"
      "'stop_sequences':['END'],'temperature':0.5,'top_p':0.9,'top_k':40,"
      "'metadata':{'user_id':'u-1'},'stream':true,"
      "'thinking':{'type':'enabled','budget_tokens':2048},"
      "'tools':[{'name':'get_weather','description':'Weather','input_schema':"
      "{'type':'object','properties':{'city':{'type':'string'}}}}],"
      "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"
      "'messages':[{'role':'user','content':'go'}]}",
      "system\n"
      "  text 'Be terse.'\n"
      "user\n"
      "  text 'go'\n"
      "tool function 'get_weather' 'Weather' {'type':'object','properties':{'city':{'type':'string'}}}\n"
      "choice required\n"
      "parallel 0\n"
      "reasoning 1 effort=unset budget=2048\n"
      "max_tokens 64\n"
      "stream\n"
      "stop 'END'\n"
      "temperature 0.5\n"
      "top_p 0.9\n"
      "top_k 40\n"
      "user 'u-1'\n");
#define ONE_TOOL "'tools':[{'name':'f','input_schema':{'type':'object'}}],"
  expect_decode("{'model':'m','max_tokens':1," ONE_TOOL "'tool_choice':{"
                "'type':'tool','name':'f'},'thinking':{'type':'disabled'},"
                "'stream':false,'messages':[{'role':'user','content':'x'}]}",
      "user\n"
      "  text 'x'\n"
      "tool function 'f' {'type':'object'}\n"
      "choice tool 'f'\n"
      "reasoning 0 effort=unset budget=0\n"
      "max_tokens 1\n");
  expect_decode("{'model':'m','max_tokens':1," ONE_TOOL "'tool_choice':{"
                "'type':'none','disable_parallel_tool_use':true},'messages':"
                "[{'role':'user','content':'x'}]}",
      "user\n"
      "  text 'x'\n"
      "tool function 'f' {'type':'object'}\n"
      "choice none\n"
      "max_tokens 1\n");
  expect_decode("{'model':'m','max_tokens':0,'tool_choice':{'type':'auto'},"
                "'messages':[{'role':'user','content':'x'}]}",
      "user\n"
      "  text 'x'\n"
      "choice auto\n");
}

static void test_decode_blocks(void **state)
{
  (void)state;
  expect_decode(
      "{'model':'m','max_tokens':5,'system':[{'type':'text','text':'A'},"
      "{'type':'text','text':'B','cache_control':{'type':'ephemeral'}}],"
      "'messages':[{'role':'user','content':[{'type':'text','text':'look',"
      "'cache_control':{'type':'ephemeral'}},{'type':'image','source':{'type':"
      "'base64','media_type':'image/png','data':'iVBOR'}},{'type':'image',"
      "'source':{'type':'url','url':'https://x.test/a.png'}}]}]}",
      "system\n"
      "  text 'A'\n"
      "  text 'B' cc={'type':'ephemeral'}\n"
      "user\n"
      "  text 'look' cc={'type':'ephemeral'}\n"
      "  image media='image/png' data='iVBOR'\n"
      "  image url='https://x.test/a.png'\n"
      "max_tokens 5\n");
  expect_decode(
      "{'model':'m','max_tokens':5,'messages':["
      "{'role':'user','content':'weather?'},"
      "{'role':'assistant','content':[{'type':'thinking','thinking':'Let me "
      "check.','signature':'SIG1'},{'type':'redacted_thinking','data':'ENC'},"
      "{'type':'text','text':'Checking.'},{'type':'tool_use','id':'toolu_1',"
      "'name':'get_weather','input':{'city':'Paris', 'n': [1, 2]}},{'type':"
      "'tool_use','id':'toolu_2','name':'now','input':{}}]},"
      "{'role':'user','content':[{'type':'tool_result','tool_use_id':"
      "'toolu_1','content':'sunny','is_error':true},{'type':'tool_result',"
      "'tool_use_id':'toolu_2','content':[{'type':'text','text':'12:00'},"
      "{'type':'text','text':'UTC'}]},{'type':'text','text':'thanks'}]}]}",
      "user\n"
      "  text 'weather?'\n"
      "assistant\n"
      "  reasoning anthropic 'Let me check.' sig='SIG1'\n"
      "  redacted anthropic data='ENC'\n"
      "  text 'Checking.'\n"
      "  tool_call id='toolu_1' name='get_weather' args={'city':'Paris', 'n': [1, 2]}\n"
      "  tool_call id='toolu_2' name='now' args={}\n"
      "tool\n"
      "  tool_result error id='toolu_1' 'sunny'\n"
      "  tool_result id='toolu_2'\n"
      "    text '12:00'\n"
      "    text 'UTC'\n"
      "user\n"
      "  text 'thanks'\n"
      "max_tokens 5\n");
  expect_decode(
      "{'model':'m','max_tokens':5,'messages':[{'role':'assistant','content':"
      "[{'type':'tool_use','id':'t','name':'f','input':{}}]},{'role':'user',"
      "'content':[{'type':'tool_result','tool_use_id':'t'}]},{'role':'user',"
      "'content':[]}]}",
      "assistant\n"
      "  tool_call id='t' name='f' args={}\n"
      "tool\n"
      "  tool_result id='t'\n"
      "user\n"
      "max_tokens 5\n");
  expect_decode(
      "{'model':'m','max_tokens':5,'messages':[{'role':'assistant','content':"
      "[{'type':'redacted_thinking','data':'sb-rd:{\\'type\\':\\'reasoning."
      "encrypted\\',\\'data\\':\\'G\\',\\'format\\':\\'google-gemini-v1\\',"
      "\\'id\\':\\'c1\\',\\'index\\':0}'},{'type':'redacted_thinking','data':"
      "'sb-rd:{\\'type\\':\\'reasoning.text\\',\\'text\\':\\'\\',"
      "\\'signature\\':\\'S\\\\\\'q\\',\\'format\\':\\'my-format\\'}'},"
      "{'type':'redacted_thinking','data':'sb-rd:not json'}]}]}",
      "assistant\n"
      "  redacted gemini id='c1' data='G'\n"
      "  reasoning other my-format '' sig='S\\'q'\n"
      "  redacted anthropic data='sb-rd:not json'\n"
      "max_tokens 5\n");
  expect_decode(
      "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':["
      "{'type':'document','title':'r.pdf','source':{'type':'base64',"
      "'media_type':'application/pdf','data':'JVBE'}},{'type':'document',"
      "'source':{'type':'base64','media_type':'application/pdf','data':'QQ'},"
      "'cache_control':{'type':'ephemeral'}},{'type':'document','source':"
      "{'type':'url','url':'https://x.test/a.pdf'}},{'type':'document',"
      "'source':{'type':'text','media_type':'text/plain','data':'plain'}}]}]}",
      "user\n"
      "  file name='r.pdf' media='application/pdf' data='JVBE'\n"
      "  file name='document.pdf' media='application/pdf' data='QQ' cc={'type':'ephemeral'}\n"
      "  file url='https://x.test/a.pdf'\n"
      "  text 'plain'\n"
      "max_tokens 5\n");
}

/* What Claude Code sends (its shape, shortened): adaptive thinking with the
 * thinking omitted, an effort, context_management, system blocks with
 * cache_control, a system message inside the conversation, a deferred
 * tool, a thinking block signed in an earlier turn, a tool_result with
 * cache_control. */
static void test_decode_claude_code(void **state)
{
  (void)state;
  expect_decode(
      "{'model':'openai/gpt-4o-mini','max_tokens':32000,'stream':true,"
      "'metadata':{'user_id':'{\\'session_id\\':\\'s1\\'}'},"
      "'thinking':{'type':'adaptive','display':'omitted'},"
      "'output_config':{'effort':'high'},"
      "'context_management':{'edits':[{'type':'clear_thinking_20251015',"
      "'keep':'all'}]},"
      "'system':[{'type':'text','text':'billing'},{'type':'text','text':"
      "'You are an agent.','cache_control':{'type':'ephemeral'}}],"
      "'tools':[{'name':'Bash','description':'Run','input_schema':{'type':"
      "'object','properties':{'command':{'type':'string'}}}},{'name':'Later',"
      "'description':'Deferred','input_schema':{'type':'object'},"
      "'defer_loading':true,'cache_control':{'type':'ephemeral','ttl':'1h'}}],"
      "'messages':[{'role':'user','content':[{'type':'text','text':'run it'}]},"
      "{'role':'system','content':[{'type':'text','text':'# Environment',"
      "'cache_control':{'type':'ephemeral'}}]},"
      "{'role':'assistant','content':[{'type':'thinking','thinking':'','signature'"
      ":'SIG'},{'type':'tool_use','id':'toolu_1','name':'Bash','input':{"
      "'command':'ls'}}]},"
      "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1',"
      "'content':'a.txt','is_error':false,'cache_control':{'type':"
      "'ephemeral'}}]}]}",
      "system\n"
      "  text 'billing'\n"
      "  text 'You are an agent.' cc={'type':'ephemeral'}\n"
      "user\n"
      "  text 'run it'\n"
      "system\n"
      "  text '# Environment' cc={'type':'ephemeral'}\n"
      "assistant\n"
      "  reasoning anthropic '' sig='SIG'\n"
      "  tool_call id='toolu_1' name='Bash' args={'command':'ls'}\n"
      "tool\n"
      "  tool_result id='toolu_1' 'a.txt' cc={'type':'ephemeral'}\n"
      "tool function 'Bash' 'Run' {'type':'object','properties':{'command':{'type':'string'}}}\n"
      "tool function 'Later' 'Deferred' {'type':'object'} cc={'type':'ephemeral','ttl':'1h'}\n"
      "reasoning 1 effort=high budget=0 exclude\n"
      "max_tokens 32000\n"
      "stream\n"
      "user '{\\'session_id\\':\\'s1\\'}'\n");
}

/* thinking and output_config.effort -> the reasoning settings */
static void test_decode_reasoning(void **state)
{
  (void)state;
  static const struct {
    const char *params, *reasoning;
  } cases[] = {
      /* adaptive: the provider's default, or the effort asked for */
      {"'thinking':{'type':'adaptive'}", "reasoning 1 effort=unset budget=0"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'low'}",
       "reasoning 1 effort=low budget=0"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'medium'}",
       "reasoning 1 effort=medium budget=0"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'xhigh'}",
       "reasoning 1 effort=high budget=0"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'max'}",
       "reasoning 1 effort=high budget=0"},
      {"'thinking':{'type':'between_tools'}", "reasoning 1 effort=unset budget=0"},
      {"'thinking':{'type':'adaptive','display':'summarized'}",
       "reasoning 1 effort=unset budget=0"},
      /* an effort without thinking still asks for that effort */
      {"'output_config':{'effort':'medium'}", "reasoning 1 effort=medium budget=0"},
      /* a budget: the effort is not needed */
      {"'thinking':{'type':'enabled','budget_tokens':1024,'display':"
       "'omitted'},'output_config':{'effort':'low'}",
       "reasoning 1 effort=unset budget=1024 exclude"},
      /* thinking off: none, whatever the effort */
      {"'thinking':{'type':'disabled'},'output_config':{'effort':'high'}",
       "reasoning 0 effort=unset budget=0"},
      {"'thinking':null,'output_config':{'effort':null}", NULL},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char in[512], want[512];
    snprintf(in, sizeof(in),
             "{'model':'m','max_tokens':2000,%s,'messages':[{'role':'user',"
             "'content':'x'}]}",
             cases[i].params);
    snprintf(want, sizeof(want), "user\n  text 'x'\n%s%smax_tokens 2000\n",
             cases[i].reasoning != NULL ? cases[i].reasoning : "",
             cases[i].reasoning != NULL ? "\n" : "");
    expect_decode(in, want);
  }
}

/* What the other formats have a form for is typed; the rest is NATIVE. */
static void test_decode_other_blocks(void **state)
{
  (void)state;
  /* server tools are NATIVE; custom tools functions; Anthropic-only
   * request members (container, context_management, mcp_servers,
   * service_tier, top-level cache_control, speed, inference_geo,
   * diagnostics) have no place in the hub; output_config.format -> a
   * json_schema response format */
  expect_decode(
      "{'model':'m','max_tokens':9,'tools':[{'type':'web_search_20250305',"
      "'name':'web_search','max_uses':3},{'type':'bash_20250124','name':"
      "'bash'},{'type':'custom','name':'f','input_schema':{'type':'object'},"
      "'strict':true,'input_examples':[{}]},{'type':'mcp_toolset',"
      "'mcp_server_name':'s'}],'tool_choice':{'type':'tool','name':"
      "'web_search'},'container':'cont_1','context_management':{'edits':[]},"
      "'mcp_servers':[{'type':'url','url':'https://mcp.test','name':'s'}],"
      "'service_tier':'auto','cache_control':{'type':'ephemeral'},'speed':"
      "'fast','inference_geo':'us','diagnostics':{'previous_message_id':"
      "'msg_1'},'output_config':{'format':{'type':'json_schema','schema':"
      "{'type':'object'}}},'messages':[{'role':'user','content':'x'}]}",
      "user\n"
      "  text 'x'\n"
      "tool native anthropic 'web_search' {'type':'web_search_20250305','name':'web_search','max_uses':3}\n"
      "tool native anthropic 'bash' {'type':'bash_20250124','name':'bash'}\n"
      "tool function 'f' {'type':'object'}\n"
      "tool native anthropic 'mcp_toolset' {'type':'mcp_toolset','mcp_server_name':'s'}\n"
      "choice tool 'web_search'\n"
      "format json_schema 'response' {'type':'object'}\n"
      "max_tokens 9\n");
  /* the older output_format */
  expect_decode(
      "{'model':'m','max_tokens':9,'output_format':{'type':'json_schema',"
      "'schema':{'type':'object','properties':{}}},'messages':[{'role':"
      "'user','content':'x'}]}",
      "user\n"
      "  text 'x'\n"
      "format json_schema 'response' {'type':'object','properties':{}}\n"
      "max_tokens 9\n");
  /* the assistant's server-tool blocks are NATIVE; a compaction summary
   * is text; in user turns: search results become text (in a tool result
   * too), a content document its blocks, file sources and
   * container_upload are NATIVE; a system message with only tool changes
   * has no text and is left out */
  expect_decode(
      "{'model':'m','max_tokens':9,'messages':["
      "{'role':'user','content':[{'type':'search_result','source':"
      "'https://s.test','title':'T','content':[{'type':'text','text':'a'},"
      "{'type':'text','text':'b'}]},{'type':'document','source':{'type':"
      "'content','content':[{'type':'text','text':'c'}]}},{'type':'image',"
      "'source':{'type':'file','file_id':'file_1'}},{'type':'document',"
      "'source':{'type':'file','file_id':'file_2'}},{'type':"
      "'container_upload','file_id':'file_3'}]},"
      "{'role':'assistant','content':[{'type':'compaction','content':"
      "'Earlier: hello. '},{'type':'server_tool_use','id':'srvtoolu_1',"
      "'name':'web_search','input':{'query':'q'}},{'type':"
      "'web_search_tool_result','tool_use_id':'srvtoolu_1','content':[]},"
      "{'type':'mcp_tool_use','id':'mcptoolu_1','name':'n','server_name':'s',"
      "'input':{}},{'type':'mcp_tool_result','tool_use_id':'mcptoolu_1',"
      "'content':'r'},{'type':'text','text':'Found it.'}]},"
      "{'role':'system','content':[{'type':'tool_addition','tool':{'name':"
      "'x'}}]},{'role':'system','output_config':{'effort':'low'}},"
      "{'role':'user','content':[{'type':'tool_result','tool_use_id':'t1',"
      "'content':[{'type':'search_result','source':'u','title':'V','content':"
      "[{'type':'text','text':'d'}]},{'type':'tool_reference','tool_name':"
      "'x'},{'type':'document','source':{'type':'text','media_type':"
      "'text/plain','data':'e'}}]}]},"
      "{'role':'user','content':[{'type':'document','source':{'type':"
      "'content','content':'as a string'}},{'type':'thinking','thinking':"
      "'t','signature':'s'}]}]}",
      "user\n"
      "  text 'T (https://s.test)\\na\\nb'\n"
      "  text 'c'\n"
      "  native anthropic name='image' {'type':'image','source':{'type':'file','file_id':'file_1'}}\n"
      "  native anthropic name='document' {'type':'document','source':{'type':'file','file_id':'file_2'}}\n"
      "  native anthropic name='container_upload' {'type':'container_upload','file_id':'file_3'}\n"
      "assistant\n"
      "  text 'Earlier: hello. '\n"
      "  native anthropic name='server_tool_use' {'type':'server_tool_use','id':'srvtoolu_1','name':'web_search','input':{'query':'q'}}\n"
      "  native anthropic name='web_search_tool_result' {'type':'web_search_tool_result','tool_use_id':'srvtoolu_1','content':[]}\n"
      "  native anthropic name='mcp_tool_use' {'type':'mcp_tool_use','id':'mcptoolu_1','name':'n','server_name':'s','input':{}}\n"
      "  native anthropic name='mcp_tool_result' {'type':'mcp_tool_result','tool_use_id':'mcptoolu_1','content':'r'}\n"
      "  text 'Found it.'\n"
      "tool\n"
      "  tool_result id='t1'\n"
      "    text 'V (u)\\nd'\n"
      "    native anthropic name='tool_reference' {'type':'tool_reference','tool_name':'x'}\n"
      "    text 'e'\n"
      "user\n"
      "  text 'as a string'\n"
      "  native anthropic name='thinking' {'type':'thinking','thinking':'t','signature':'s'}\n"
      "max_tokens 9\n");
}

/* ---- the door: the schema ----------------------------------------------- */

/* Every member of the schema, its type and its range; the message names
 * the member by its path. */
static void test_validate_refused(void **state)
{
  (void)state;
#define MSGS "'messages':[{'role':'user','content':'x'}]"
#define REQ(more) "{'model':'m','max_tokens':1," more MSGS "}"
#define USER(block) "{'model':'m','max_tokens':1,'messages':[{'role':'user',"  \
  "'content':[" block "]}]}"
#define ASSISTANT(block) "{'model':'m','max_tokens':1,'messages':[{'role':"    \
  "'assistant','content':[" block "]}]}"
  /* every member of the schema, its type and its range; the message names
   * the member */
  static const struct {
    const char *in, *why;
  } cases[] = {
      {"[]", "the body must be a JSON object"},
      {"{'max_tokens':1," MSGS "}", "model: required"},
      {"{'model':5,'max_tokens':1," MSGS "}", "model: must be a string"},
      {"{'model':'','max_tokens':1," MSGS "}", "model: must have 1 to 256"},
      {"{'model':'m'," MSGS "}", "max_tokens: required"},
      {"{'model':'m','max_tokens':-1," MSGS "}", "max_tokens: must be at least 0"},
      {"{'model':'m','max_tokens':'5'," MSGS "}", "max_tokens: must be an integer"},
      {"{'model':'m','max_tokens':1.5," MSGS "}", "max_tokens: must be an integer"},
      {"{'model':'m','max_tokens':1,'messages':[]}",
       "messages: at least one message is required"},
      {"{'model':'m','max_tokens':1,'messages':{}}", "messages: must be an array"},
      {"{'model':'m','max_tokens':1,'messages':[5]}", "messages.0: must be an object"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'tool','content':'x'}]}",
       "messages.0.role: must be 'user', 'assistant' or 'system'"},
      {"{'model':'m','max_tokens':1,'messages':[{'content':'x'}]}",
       "messages.0.role: required"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user'}]}",
       "messages.0.content: required"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':5}]}",
       "messages.0.content: must be a string or an array of content blocks"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system','content':"
       "[{'type':'image','source':{'type':'url','url':'u'}}]}]}",
       "messages.0.content.0.type: must be 'text', 'tool_addition' or "
       "'tool_removal'"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system','clear_at':"
       "'soon'}]}", "messages.0.clear_at: must be 'next_user_message' or 'never'"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system',"
       "'output_config':{'effort':'huge'}}]}",
       "messages.0.output_config.effort: must be 'low', 'medium', 'high', "
       "'xhigh' or 'max'"},
      /* blocks */
      {USER("{'type':'bogus'}"), "messages.0.content.0: unknown content block type 'bogus'"},
      {USER("{'text':'x'}"), "messages.0.content.0.type: required"},
      {USER("{'type':'text','text':5}"), "messages.0.content.0.text: must be a string"},
      {USER("{'type':'text','text':'x','cache_control':{'type':'persistent'}}"),
       "messages.0.content.0.cache_control.type: must be 'ephemeral'"},
      {USER("{'type':'text','text':'x','cache_control':{'type':'ephemeral',"
            "'ttl':'2h'}}"),
       "messages.0.content.0.cache_control.ttl: must be '5m' or '1h'"},
      {USER("{'type':'text','text':'x','citations':{}}"),
       "messages.0.content.0.citations: must be an array"},
      {USER("{'type':'image','source':{'type':'base64','media_type':"
            "'image/bmp','data':'x'}}"),
       "messages.0.content.0.source.media_type: must be 'image/jpeg', "
       "'image/png', 'image/gif' or 'image/webp'"},
      {USER("{'type':'image','source':{'type':'path','path':'x'}}"),
       "messages.0.content.0.source.type: must be 'base64', 'url' or 'file'"},
      {USER("{'type':'image','source':{'type':'file'}}"),
       "messages.0.content.0.source.file_id: required"},
      {USER("{'type':'document','source':{'type':'base64','media_type':"
            "'text/plain','data':'x'}}"),
       "messages.0.content.0.source.media_type: must be 'application/pdf'"},
      {USER("{'type':'document','source':{'type':'text','media_type':"
            "'text/plain','data':'x'},'title':5}"),
       "messages.0.content.0.title: must be a string"},
      {USER("{'type':'document','source':{'type':'content','content':[{'type':"
            "'text'}]}}"),
       "messages.0.content.0.source.content.0.text: required"},
      {USER("{'type':'search_result','source':'s','title':'t','content':"
            "[{'type':'image'}]}"),
       "messages.0.content.0.content.0.type: must be 'text'"},
      {USER("{'type':'tool_result'}"), "messages.0.content.0.tool_use_id: required"},
      {USER("{'type':'tool_result','tool_use_id':'t','is_error':'yes'}"),
       "messages.0.content.0.is_error: must be a boolean"},
      {USER("{'type':'tool_result','tool_use_id':'t','content':[{'type':"
            "'text','text':1}]}"),
       "messages.0.content.0.content.0.text: must be a string"},
      {ASSISTANT("{'type':'tool_use','id':'a','name':'b','input':[1]}"),
       "messages.0.content.0.input: must be an object"},
      {ASSISTANT("{'type':'tool_use','id':'a','name':'b'}"),
       "messages.0.content.0.input: required"},
      {ASSISTANT("{'type':'thinking','thinking':'t'}"),
       "messages.0.content.0.signature: required"},
      {ASSISTANT("{'type':'redacted_thinking','data':null}"),
       "messages.0.content.0.data: must be a string"},
      {ASSISTANT("{'type':'server_tool_use','id':'a','name':'web_search'}"),
       "messages.0.content.0.input: required"},
      {ASSISTANT("{'type':'web_search_tool_result','content':[]}"),
       "messages.0.content.0.tool_use_id: required"},
      {ASSISTANT("{'type':'mcp_tool_use','id':'a','name':'b','input':{}}"),
       "messages.0.content.0.server_name: required"},
      {ASSISTANT("{'type':'mcp_tool_result','tool_use_id':'a','content':"
                 "[{'type':'image'}]}"),
       "messages.0.content.0.content.0.type: must be 'text'"},
      {USER("{'type':'container_upload'}"), "messages.0.content.0.file_id: required"},
      /* the other members */
      {REQ("'system':5,"), "system: must be a string or an array of text blocks"},
      {REQ("'system':[{'type':'image'}],"), "system.0.type: must be 'text'"},
      {REQ("'temperature':'hot',"), "temperature: must be a number"},
      {REQ("'temperature':1.5,"), "temperature: must be between 0 and 1"},
      {REQ("'top_p':-0.1,"), "top_p: must be between 0 and 1"},
      {REQ("'top_k':-1,"), "top_k: must be at least 0"},
      {REQ("'top_k':2.5,"), "top_k: must be an integer"},
      {REQ("'stop_sequences':'END',"), "stop_sequences: must be an array"},
      {REQ("'stop_sequences':[1],"), "stop_sequences.0: must be a string"},
      {REQ("'stream':'yes',"), "stream: must be a boolean"},
      {REQ("'metadata':[],"), "metadata: must be an object"},
      {REQ("'metadata':{'user_id':5},"), "metadata.user_id: must be a string"},
      {REQ("'tools':{},"), "tools: must be an array"},
      {REQ("'tools':[{'name':'f'}],"), "tools.0.input_schema: required"},
      {REQ("'tools':[{'input_schema':{'type':'object'}}],"), "tools.0.name: required"},
      {REQ("'tools':[{'name':'a b','input_schema':{'type':'object'}}],"),
       "tools.0.name: may hold only letters, digits"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'array'}}],"),
       "tools.0.input_schema.type: must be 'object'"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'object'},"
           "'description':3}],"),
       "tools.0.description: must be a string"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'object'},"
           "'strict':'yes'}],"),
       "tools.0.strict: must be a boolean"},
      {REQ("'tools':[{'type':'web_search_20250305','name':7}],"),
       "tools.0.name: must be a string"},
      {REQ("'tools':[{'type':7}],"), "tools.0.type: must be a string"},
      {REQ("'tool_choice':'auto',"), "tool_choice: must be an object"},
      {REQ("'tool_choice':{'type':'some'},"),
       "tool_choice.type: must be 'auto', 'any', 'tool' or 'none'"},
      {REQ("'tool_choice':{'type':'tool'},"), "tool_choice.name: required"},
      {REQ("'tool_choice':{'type':'auto','disable_parallel_tool_use':1},"),
       "tool_choice.disable_parallel_tool_use: must be a boolean"},
      {REQ("'thinking':{'type':'enabled'},"), "thinking.budget_tokens: required"},
      {REQ("'thinking':{'type':'enabled','budget_tokens':1023},"),
       "thinking.budget_tokens: must be at least 1024"},
      {REQ("'thinking':{'type':'sometimes'},"),
       "thinking.type: must be 'enabled', 'disabled', 'adaptive' or "
       "'between_tools'"},
      {REQ("'thinking':{'type':'adaptive','display':'full'},"),
       "thinking.display: must be 'summarized' or 'omitted'"},
      {REQ("'output_config':{'effort':'extreme'},"),
       "output_config.effort: must be 'low', 'medium', 'high', 'xhigh' or "
       "'max'"},
      {REQ("'output_config':{'format':{'type':'json_object'}},"),
       "output_config.format.type: must be 'json_schema'"},
      {REQ("'output_config':{'format':{'type':'json_schema'}},"),
       "output_config.format.schema: required"},
      {REQ("'output_config':{'task_budget':{'type':'tokens','total':-5}},"),
       "output_config.task_budget.total: must be at least 0"},
      {REQ("'output_format':{'type':'json_schema','schema':[]},"),
       "output_format.schema: must be an object"},
      {REQ("'service_tier':'priority',"),
       "service_tier: must be 'auto' or 'standard_only'"},
      {REQ("'container':5,"), "container: must be a string or an object"},
      {REQ("'container':{'skills':[{'skill_id':'x','type':'mine'}]},"),
       "container.skills.0.type: must be 'anthropic' or 'custom'"},
      {REQ("'context_management':'clear',"), "context_management: must be an object"},
      {REQ("'context_management':{'edits':[{'keep':'all'}]},"),
       "context_management.edits.0.type: required"},
      {REQ("'mcp_servers':[{'type':'url','name':'s'}],"), "mcp_servers.0.url: required"},
      {REQ("'mcp_servers':[{'type':'stdio','name':'s','url':'u'}],"),
       "mcp_servers.0.type: must be 'url'"},
      {REQ("'mcp_servers':[{'type':'url','name':'s','url':'u',"
           "'tool_configuration':{'enabled':'on'}}],"),
       "mcp_servers.0.tool_configuration.enabled: must be a boolean"},
      {REQ("'cache_control':{'type':'ephemeral','ttl':5},"),
       "cache_control.ttl: must be a string"},
      {REQ("'speed':'ludicrous',"), "speed: must be 'standard' or 'fast'"},
      {REQ("'inference_geo':1,"), "inference_geo: must be a string"},
      {REQ("'diagnostics':{'previous_message_id':1},"),
       "diagnostics.previous_message_id: must be a string"},
      {REQ("'fallbacks':'any',"), "fallbacks: must be an array or 'default'"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_json_t *req;
    char why[512];
    sb_arena_init(&a, 4096, 0);
    char *in = fmt_q(&a, cases[i].in);
    assert_int_equal(sb_json_parse(&a, in, strlen(in), 0, &req, NULL), SB_OK);
    sb_status_t rc = sb_messages_validate(req, false, why, sizeof(why));
    if (rc != SB_DECLINED || strstr(why, cases[i].why) == NULL)
      fail_msg("case %zu %s: rc %d, why '%s' (want '%s')", i, in, rc, why,
               cases[i].why);
    sb_arena_destroy(&a);
  }
}

static void check_json(sb_slice_t s)
{
  sb_json_error_t e;
  if (s.len > 0 && sb_json_validate(s.ptr, s.len, 0, &e) != SB_OK)
    fail_msg("not JSON: %.*s", (int)s.len, s.ptr);
}

static void check_block_json(const sb_hub_block_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    check_json(b[i].args);
    check_json(b[i].native);
    check_json(b[i].cache_control);
    check_block_json(b[i].parts, b[i].n_parts);
  }
}

static void check_json_slices(const sb_hub_req_t *r)
{
  for (size_t i = 0; i < r->n_msgs; i++)
    check_block_json(r->msgs[i].blocks, r->msgs[i].n_blocks);
  for (size_t i = 0; i < r->n_tools; i++) {
    check_json(r->tools[i].parameters);
    check_json(r->tools[i].native);
    check_json(r->tools[i].cache_control);
  }
  check_json(r->schema);
}

/* Every shape the API accepts today passes, beta members included, and
 * decodes into a hub request whose JSON members are JSON. */
static void test_validate_accepted(void **state)
{
  (void)state;
  static const char *const ok[] = {
      /* the request members, each in a valid form (null for the optional
       * ones counts as absent) */
      "{'model':'m','max_tokens':0,'system':null,'temperature':null,'top_p':"
      "null,'top_k':null,'stop_sequences':null,'stream':null,'tools':null,"
      "'tool_choice':null,'metadata':null,'thinking':null,'output_config':"
      "null,'service_tier':null,'container':null,'context_management':null,"
      "'mcp_servers':null,'cache_control':null," MSGS "}",
      "{'model':'claude-sonnet-4-6','max_tokens':32000,'temperature':1,"
      "'top_p':0.95,'top_k':40,'stop_sequences':['END'],'stream':false,"
      "'metadata':{'user_id':null},'service_tier':'standard_only',"
      "'container':{'id':'c','skills':[{'skill_id':'pptx','type':'anthropic',"
      "'version':'latest'}]},'context_management':{'edits':[{'type':"
      "'clear_tool_uses_20250919','trigger':{'type':'input_tokens','value':"
      "30000},'keep':{'type':'tool_uses','value':3},'clear_at_least':{'type':"
      "'input_tokens','value':5000},'exclude_tools':['web_search']},{'type':"
      "'compact_20260112'}]},'mcp_servers':[{'type':'url','url':"
      "'https://mcp.test/sse','name':'s','authorization_token':'tok',"
      "'tool_configuration':{'enabled':true,'allowed_tools':['a']}}],"
      "'cache_control':{'type':'ephemeral','ttl':'5m'},'speed':'standard',"
      "'inference_geo':'us','diagnostics':{'previous_message_id':'msg_1'},"
      "'output_config':{'effort':'max','format':{'type':'json_schema',"
      "'schema':{'type':'object'}},'task_budget':{'type':'tokens','total':"
      "1000,'remaining':null}},'output_format':null,'thinking':{'type':"
      "'enabled','budget_tokens':1024,'display':'summarized'},'compaction':"
      "{'type':'summarize'},'fallbacks':'default','fallback_credit_token':"
      "'t','an_unknown_member':{'anything':[1,'x',null]}," MSGS "}",
      REQ("'thinking':{'type':'adaptive'},'output_config':{'effort':'xhigh'},"),
      REQ("'thinking':{'type':'disabled'},'container':'cont_1',"),
      REQ("'thinking':{'type':'between_tools'},"),
      /* tools: custom in every form, server tools of any version */
      REQ("'tools':[{'name':'f-1_x','input_schema':{'type':'object',"
          "'properties':{'a':{'type':'string'}},'required':['a']},"
          "'description':'d','cache_control':{'type':'ephemeral'},'strict':"
          "true,'defer_loading':false,'eager_input_streaming':null,"
          "'input_examples':[{'a':'x'}],'allowed_callers':['direct'],'type':"
          "'custom'},{'type':'web_search_20250305','name':'web_search',"
          "'max_uses':5,'allowed_domains':['a.test']},{'type':"
          "'bash_20250124','name':'bash'},{'type':'text_editor_20250728',"
          "'name':'str_replace_based_edit_tool'},{'type':"
          "'code_execution_20250825','name':'code_execution'},{'type':"
          "'computer_20250124','name':'computer','display_width_px':1024,"
          "'display_height_px':768},{'type':'mcp_toolset','mcp_server_name':"
          "'s'},{'type':'web_search_20990101','name':'web_search'}],"
          "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"),
      REQ("'tool_choice':{'type':'none'},"),
      REQ("'system':[{'type':'text','text':'s','cache_control':{'type':"
          "'ephemeral','ttl':'1h'},'citations':null}],"),
      /* every content block */
      USER("{'type':'text','text':'t','citations':[{'type':'char_location',"
           "'cited_text':'c','document_index':0,'start_char_index':0,"
           "'end_char_index':1}]},{'type':'image','source':{'type':'base64',"
           "'media_type':'image/webp','data':'AA'}},{'type':'image','source':"
           "{'type':'url','url':'https://i.test/a.png'}},{'type':'image',"
           "'source':{'type':'file','file_id':'file_1'},'cache_control':"
           "{'type':'ephemeral'}},{'type':'document','source':{'type':"
           "'base64','media_type':'application/pdf','data':'JVBE'},'title':"
           "'t','context':'c','citations':{'enabled':true}},{'type':"
           "'document','source':{'type':'text','media_type':'text/plain',"
           "'data':'d'}},{'type':'document','source':{'type':'content',"
           "'content':[{'type':'text','text':'a'},{'type':'image','source':"
           "{'type':'url','url':'u'}}]}},{'type':'document','source':{'type':"
           "'content','content':'plain'}},{'type':'document','source':"
           "{'type':'url','url':'https://d.test/a.pdf'}},{'type':'document',"
           "'source':{'type':'file','file_id':'file_2'}},{'type':"
           "'search_result','source':'s','title':'t','content':[{'type':"
           "'text','text':'x'}],'citations':{'enabled':false}},{'type':"
           "'tool_result','tool_use_id':'t','content':[{'type':'text','text':"
           "'r'},{'type':'image','source':{'type':'url','url':'u'}},{'type':"
           "'search_result','source':'s','title':'t','content':[]},{'type':"
           "'tool_reference','tool_name':'x'}],'is_error':true},{'type':"
           "'tool_result','tool_use_id':'t2'},{'type':'container_upload',"
           "'file_id':'f'}"),
      ASSISTANT("{'type':'thinking','thinking':'','signature':'S'},{'type':"
                "'redacted_thinking','data':'D'},{'type':'text','text':'t'},"
                "{'type':'tool_use','id':'a','name':'b','input':{},'caller':"
                "{'type':'direct'}},{'type':'server_tool_use','id':'s','name':"
                "'web_search','input':{'query':'q'}},{'type':"
                "'web_search_tool_result','tool_use_id':'s','content':[]},"
                "{'type':'web_fetch_tool_result','tool_use_id':'s','content':"
                "{}},{'type':'code_execution_tool_result','tool_use_id':'s',"
                "'content':{}},{'type':'bash_code_execution_tool_result',"
                "'tool_use_id':'s','content':{}},{'type':"
                "'text_editor_code_execution_tool_result','tool_use_id':'s',"
                "'content':{}},{'type':'tool_search_tool_result','tool_use_id'"
                ":'s','content':{}},{'type':'mcp_tool_use','id':'m','name':"
                "'n','server_name':'s','input':{}},{'type':'mcp_tool_result',"
                "'tool_use_id':'m','content':[{'type':'text','text':'r'}],"
                "'is_error':false},{'type':'compaction','content':'sum',"
                "'encrypted_content':null},{'type':'fallback','from':{},'to':{}}"),
      /* system messages inside the conversation */
      "{'model':'m','max_tokens':1,'messages':[{'role':'user','content':'x'},"
      "{'role':'system','content':'s'},{'role':'system','content':[{'type':"
      "'text','text':'t'},{'type':'tool_addition','tool':{'type':'tool',"
      "'name':'x'}},{'type':'tool_removal','tool':{'name':'y'}}],'clear_at':"
      "'next_user_message'},{'role':'system','output_config':{'effort':"
      "'low'},'clear_at':null}]}",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(ok); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    messages_req(&f, ok[i]); /* fails the test when refused */
    check_json_slices(&f.req);
    (void)sb_hub_estimate_input(&f.req);
    fmt_free(&f);
  }
}

static void test_count_tokens(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_json_t *req;
  sb_hub_req_t r;
  char why[256];
  sb_arena_init(&a, 4096, 0);
  char *in = fmt_q(&a, "{'model':'m','system':'12345678','messages':[{'role':"
                   "'user','content':[{'type':'text','text':'abcd'},{'type':"
                   "'image','source':{'type':'url','url':'u'}}]},{'role':"
                   "'assistant','content':'ab'}]}");
  assert_int_equal(sb_json_parse(&a, in, strlen(in), 0, &req, NULL), SB_OK);
  /* count_tokens does not need max_tokens */
  assert_int_equal(sb_messages_validate(req, true, why, sizeof(why)), SB_OK);
  assert_int_equal(sb_messages_validate(req, false, why, sizeof(why)),
                   SB_DECLINED);
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_anthropic_envelope(req, &a, &r, why, sizeof(why)), SB_OK);
  assert_int_equal(sb_anthropic_decode(&r, &a, why, sizeof(why)), SB_OK);
  /* (8 + 4 + 2) bytes -> 4 tokens, 2 messages x 3 (the system prompt is
   * none), one image 1600 */
  assert_int_equal(sb_hub_estimate_input(&r), 4 + 6 + 1600);
  sb_arena_destroy(&a);
}

/* ---- the door: answers -------------------------------------------------- */

/* Events files -> the golden Messages stream (`.stream`) and message
 * (`.message`); a stream that failed has no whole form. */
static void test_encoder(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    bool whole;
  } files[] = {
      {"encode_text", true},          {"encode_thinking_tools", true},
      {"encode_parallel_redacted", true}, {"encode_details", true},
      {"encode_other_reasoning", true}, {"encode_stop_sequence", true},
      {"encode_empty", true},         {"encode_error", false},
      {"encode_overloaded", false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.events", files[i].name);
    fmt_check_encoder(&cfg, &sb_anthropic_encoder, path, "stream", true,
                      false);
    if (files[i].whole)
      fmt_check_encoder(&cfg, &sb_anthropic_encoder, path, "message", false,
                        false);
  }
}

/* Every event of a golden stream is an `event:` line and a `data:` line
 * whose JSON has that type. */
static void test_encoder_framing(void **state)
{
  (void)state;
  static const char *const files[] = {
      "encode_text", "encode_thinking_tools", "encode_parallel_redacted",
      "encode_details", "encode_other_reasoning", "encode_error"};
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    size_t n;
    snprintf(path, sizeof(path), FIX "%s.events.stream", files[i]);
    char *d = read_file(path, &n);
    assert_non_null(d);
    sb_arena_t a;
    sb_arena_init(&a, 4096, 0);
    for (char *p = d; p < d + n;) {
      char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
      assert_true(strncmp(p, "event: ", 7) == 0 && nl != NULL && end != NULL);
      assert_true(strncmp(nl + 1, "data: ", 6) == 0);
      sb_json_t *v;
      assert_int_equal(sb_json_parse(&a, nl + 7, (size_t)(end - nl - 7), 0,
                                     &v, NULL),
                       SB_OK);
      assert_true(sb_json_str_eq(sb_json_get(v, "type"), p + 7,
                                 (size_t)(nl - p - 7)));
      p = end + 2;
    }
    sb_arena_destroy(&a);
    free(d);
  }
}

/* Reasoning of other formats, handed to the client in redacted_thinking
 * blocks, comes back from the client's next turn as it was. */
static void test_other_reasoning_round_trip(void **state)
{
  (void)state;
  size_t n;
  char *msg = read_file(FIX "encode_other_reasoning.events.message", &n);
  assert_non_null(msg);
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  sb_json_t *m;
  assert_int_equal(sb_json_parse(&a, msg, n, 0, &m, NULL), SB_OK);
  const sb_json_t *content = sb_json_get(m, "content");
  char *body = sb_arena_printf(
      &a,
      "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
      "\"content\":\"q\"},{\"role\":\"assistant\",\"content\":%.*s}]}",
      (int)content->raw.len, content->raw.ptr);
  fmt_t f;
  fmt_init(&f, &cfg);
  messages_req(&f, body);
  sb_buf_t got;
  sb_buf_init(&got, 0);
  fmt_hub_dump(&got, &f.req);
  sb_buf_cstr(&got);
  assert_string_equal(
      got.data,
      fmt_q(&f.arena,
        "user\n"
        "  text 'q'\n"
        "assistant\n"
        "  reasoning anthropic 'Need the weather.' sig=''\n"
        "  tool_call id='call_g1' name='get_weather' args={'city':'Rome'}\n"
        "  redacted gemini id='call_g1' data='GSIG-1'\n"
        "  reasoning anthropic 'Summary.' sig=''\n"
        "  reasoning openai '' sig='ENC\\'SIG'\n"
        "  redacted anthropic data='PLAIN'\n"
        "  text 'Calling.'\n"
        "max_tokens 9\n"));
  sb_buf_free(&got);
  fmt_free(&f);
  sb_arena_destroy(&a);
  free(msg);
}

static void test_stop_reasons(void **state)
{
  (void)state;
  static const struct {
    sb_finish_t finish;
    const char *native, *want;
  } t[] = {
      {SB_FINISH_STOP, "", "end_turn"},
      {SB_FINISH_STOP, "stop_sequence", "stop_sequence"},
      {SB_FINISH_LENGTH, "", "max_tokens"},
      {SB_FINISH_TOOL_CALLS, "", "tool_use"},
      {SB_FINISH_CONTENT_FILTER, "", "refusal"},
      {SB_FINISH_STOP, "refusal", "refusal"},
      {SB_FINISH_ERROR, "", "end_turn"},
      {SB_FINISH_NONE, "", "end_turn"},
      {SB_FINISH_STOP, "STOP", "end_turn"},
      {SB_FINISH_LENGTH, "model_context_window_exceeded",
       "model_context_window_exceeded"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(t); i++)
    assert_string_equal(
        sb_anthropic_stop_reason(t[i].finish, sb_slice_z(t[i].native)),
        t[i].want);
  /* the table both ways, through the face */
  static const struct {
    const char *native;
    sb_finish_t finish;
  } in[] = {
      {"end_turn", SB_FINISH_STOP},
      {"stop_sequence", SB_FINISH_STOP},
      {"pause_turn", SB_FINISH_STOP},
      {"max_tokens", SB_FINISH_LENGTH},
      {"model_context_window_exceeded", SB_FINISH_LENGTH},
      {"tool_use", SB_FINISH_TOOL_CALLS},
      {"refusal", SB_FINISH_CONTENT_FILTER},
      {"a_reason_added_later", SB_FINISH_STOP},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(in); i++)
    assert_int_equal(sb_codec_anthropic.finish_in(sb_slice_z(in[i].native)),
                     in[i].finish);
  assert_string_equal(sb_codec_anthropic.finish_out(SB_FINISH_STOP), "end_turn");
  assert_string_equal(sb_codec_anthropic.finish_out(SB_FINISH_LENGTH),
                      "max_tokens");
  assert_string_equal(sb_codec_anthropic.finish_out(SB_FINISH_TOOL_CALLS),
                      "tool_use");
  assert_string_equal(sb_codec_anthropic.finish_out(SB_FINISH_CONTENT_FILTER),
                      "refusal");
  assert_string_equal(sb_codec_anthropic.finish_out(SB_FINISH_ERROR),
                      "end_turn");
  assert_null(sb_codec_anthropic.finish_out(SB_FINISH_NONE));
  assert_string_equal(sb_codec_anthropic.name, "anthropic");
  assert_ptr_equal(sb_codec_anthropic.door->encoder, &sb_anthropic_encoder);
}

static void test_errors(void **state)
{
  (void)state;
  assert_string_equal(sb_anthropic_error_type(400), "invalid_request_error");
  assert_string_equal(sb_anthropic_error_type(401), "authentication_error");
  assert_string_equal(sb_anthropic_error_type(402), "billing_error");
  assert_string_equal(sb_anthropic_error_type(403), "permission_error");
  assert_string_equal(sb_anthropic_error_type(404), "not_found_error");
  assert_string_equal(sb_anthropic_error_type(408), "timeout_error");
  assert_string_equal(sb_anthropic_error_type(413), "request_too_large");
  assert_string_equal(sb_anthropic_error_type(429), "rate_limit_error");
  assert_string_equal(sb_anthropic_error_type(500), "api_error");
  assert_string_equal(sb_anthropic_error_type(502), "api_error");
  assert_string_equal(sb_anthropic_error_type(529), "overloaded_error");
  /* before the first byte: Anthropic's shape; an overloaded provider is a
   * 529 */
  static const struct {
    int status;
    long upstream;
    const char *body;
    int want_status;
    const char *want;
  } cases[] = {
      {400, 0, "", 400,
       "{'type':'error','error':{'type':'invalid_request_error','message':"
       "'bad \\'x\\''}}"},
      {502, 529, "", 529,
       "{'type':'error','error':{'type':'overloaded_error','message':"
       "'bad \\'x\\''}}"},
      {502, 500, "{'error':{'type':'overloaded_error'}}", 529,
       "{'type':'error','error':{'type':'overloaded_error','message':"
       "'bad \\'x\\''}}"},
      {503, 503, "", 529,
       "{'type':'error','error':{'type':'overloaded_error','message':"
       "'bad \\'x\\''}}"},
      {502, 500, "", 502,
       "{'type':'error','error':{'type':'api_error','message':'bad \\'x\\''}}"},
      {429, 429, "", 429,
       "{'type':'error','error':{'type':'rate_limit_error','message':"
       "'bad \\'x\\''}}"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_buf_t out;
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&out, 0);
    sb_answer_error_t e = {.status = cases[i].status,
                           .type = "provider_unavailable",
                           .message = SB_SLICE_LIT("bad \"x\""),
                           .provider_body = sb_slice_z(fmt_q(&a, cases[i].body)),
                           .upstream_status = cases[i].upstream};
    int status = e.status;
    sb_anthropic_encoder.error(&e, &status, &out);
    sb_buf_cstr(&out);
    assert_int_equal(status, cases[i].want_status);
    assert_string_equal(out.data, fmt_q(&a, cases[i].want));
    sb_buf_free(&out);
    sb_arena_destroy(&a);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_request_other_format),
      cmocka_unit_test(test_request_headers),
      cmocka_unit_test(test_request_passthrough),
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_stream_violations),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
      cmocka_unit_test(test_passthrough),
      cmocka_unit_test(test_decode_basic),
      cmocka_unit_test(test_decode_blocks),
      cmocka_unit_test(test_decode_claude_code),
      cmocka_unit_test(test_decode_reasoning),
      cmocka_unit_test(test_decode_other_blocks),
      cmocka_unit_test(test_validate_refused),
      cmocka_unit_test(test_validate_accepted),
      cmocka_unit_test(test_count_tokens),
      cmocka_unit_test(test_encoder),
      cmocka_unit_test(test_encoder_framing),
      cmocka_unit_test(test_other_reasoning_round_trip),
      cmocka_unit_test(test_stop_reasons),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
