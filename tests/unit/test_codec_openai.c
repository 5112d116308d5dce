/* The OpenAI codec (the pass-through path): the upstream request keeps the
 * client's body but for the routed fields; recorded stream transcripts,
 * split at every byte boundary, give the same client chunks; responses get
 * the gateway's id, model, provider and cost. */
#include "codec_harness.h"

#include "switchboard/json_edit.h"

static const harness_cfg_t openai_cfg = {
    .codec = &sb_codec_openai,
    .format = "openai",
    .display = "OpenAI",
    .base_url = "http://127.0.0.1:9/v1",
    .auth_header = "Authorization",
    .auth_prefix = "Bearer ",
    .model_id = "openai/gpt-4o-mini",
    .upstream_model = "gpt-4o-mini",
    .model_json = NULL,
    .prompt_price = "0.00000015",
    .completion_price = "0.0000006",
    .cache_read_price = NULL,
    .cache_write_price = NULL,
};

/* The harness's call, for a provider with these quirks. */
static void openai_init(harness_t *h, uint32_t quirks, const char *req_json)
{
  harness_init(h, req_json);
  h->provider.quirks = quirks;
}

static void test_request_openai(void **state)
{
  (void)state;
  harness_t h;
  /* members the gateway does not know are forwarded byte for byte */
  openai_init(&h, 0,
               "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi \\u00e9\"}],\"stream\":true,\"temperature\":0.25,"
               "\"x_custom\":{\"keep\":[1, 2]},\"models\":[\"a\",\"b\"],"
               "\"provider\":{\"order\":[\"x\"]},\"transforms\":[],"
               "\"reasoning\":{\"effort\":\"high\"},\"tools\":[],"
               "\"tool_choice\":\"auto\",\"stream_options\":{\"include_usage\":false,"
               "\"other\":1}}");
  h.c.referer = SB_SLICE_LIT("https://app.example");
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_openai.chat_request(&h.c, &r), SB_OK);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/chat/completions");
  sb_buf_t want;
  sb_buf_init(&want, 0);
  sb_buf_appendz(&want,
                 "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi \\u00e9\"}],\"stream\":true,\"temperature\":0.25,"
                 "\"x_custom\":{\"keep\":[1, 2]},"
                 "\"stream_options\":{\"include_usage\":true,\"other\":1},"
                 "\"reasoning_effort\":\"high\"}");
  if (r.body.len != want.len || memcmp(r.body.ptr, want.data, want.len) != 0)
    fail_msg("body:\n%.*s\nwant:\n%.*s", (int)r.body.len, r.body.ptr,
             (int)want.len, want.data);
  assert_string_equal(header(&r, "authorization"), "Bearer sk-test");
  assert_string_equal(header(&r, "content-type"), "application/json");
  assert_string_equal(header(&r, "accept"), "text/event-stream");
  /* app attribution goes only to providers that use it */
  assert_null(header(&r, "HTTP-Referer"));
  sb_buf_free(&want);
  harness_free(&h);
}

static void test_request_openrouter(void **state)
{
  (void)state;
  harness_t h;
  const char *req = "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[],"
                    "\"models\":[\"a\"],\"provider\":{\"sort\":\"price\"},"
                    "\"tools\":[],\"reasoning\":{\"effort\":\"low\"}}";
  openai_init(&h, SB_QUIRK_OPENROUTER_FIELDS | SB_QUIRK_FORWARD_APP_HEADERS, req);
  h.c.route.upstream_model = SB_SLICE_LIT("openai/gpt-4o-mini");
  h.c.referer = SB_SLICE_LIT("https://app.example");
  h.c.title = SB_SLICE_LIT("My App");
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_openai.chat_request(&h.c, &r), SB_OK);
  /* OpenRouter understands its own fields: all kept; not streaming, so no
   * stream_options */
  assert_int_equal(r.body.len, strlen(req));
  assert_memory_equal(r.body.ptr, req, r.body.len);
  assert_string_equal(header(&r, "HTTP-Referer"), "https://app.example");
  assert_string_equal(header(&r, "X-Title"), "My App");
  assert_string_equal(header(&r, "accept"), "application/json");
  harness_free(&h);
}

static void test_request_no_stream_options(void **state)
{
  (void)state;
  harness_t h;
  openai_init(&h, SB_QUIRK_NO_STREAM_OPTIONS,
               "{\"model\":\"m\",\"messages\":[],\"stream\":true,"
               "\"stream_options\":{\"include_usage\":true}}");
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  assert_int_equal(sb_codec_openai.chat_request(&h.c, &r), SB_OK);
  const char want[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[],\"stream\":true}";
  assert_int_equal(r.body.len, sizeof(want) - 1);
  assert_memory_equal(r.body.ptr, want, r.body.len);
  harness_free(&h);
}

static void check_openai_transcript(const char *path, size_t want_chunks,
                             const char *finish, uint64_t prompt,
                             uint64_t completion, uint64_t cached)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  assert_non_null(d);
  const char *req = "{\"model\":\"openai/gpt-4o-mini\",\"stream\":true,"
                    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  sb_buf_t first, again;
  sb_buf_init(&first, 0);
  sb_buf_init(&again, 0);
  for (size_t cut = 0; cut <= n; cut++) {
    harness_t h;
    openai_init(&h, 0, req);
    sb_status_t rc = run_stream(&h, d, n, cut);
    sb_buf_t *out = cut == 0 ? &first : &again;
    sb_buf_reset(out);
    sb_buf_append(out, cap.chunks.data, cap.chunks.len);
    assert_int_equal(rc, SB_OK);
    assert_true(h.c.saw_done);
    assert_true(h.c.saw_finish);
    assert_string_equal(h.c.finish_reason, finish);
    assert_true(h.c.usage_known);
    assert_int_equal(h.c.usage.prompt, prompt);
    assert_int_equal(h.c.usage.completion, completion);
    assert_int_equal(h.c.usage.cached, cached);
    assert_int_equal(cap.begun, 1);
    if (cut > 0 && (again.len != first.len ||
                    memcmp(again.data, first.data, first.len) != 0))
      fail_msg("%s: cut at %zu changes the output", path, cut);
    harness_free(&h);
  }
  /* every forwarded chunk carries the gateway's envelope and no usage */
  size_t count = 0;
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  for (char *line = first.data, *end = first.data + first.len; line < end;) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    sb_json_t *chunk;
    assert_int_equal(sb_json_parse(&a, line, (size_t)(nl - line), 0, &chunk, NULL),
                     SB_OK);
    assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "id"), "gen-1-test"));
    assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "model"), "openai/gpt-4o-mini"));
    assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "provider"), "OpenAI"));
    assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "object"), "chat.completion.chunk"));
    assert_null(sb_json_get(chunk, "usage"));
    const sb_json_t *fr = sb_json_get(sb_json_at(sb_json_get(chunk, "choices"), 0),
                                      "finish_reason");
    if (sb_json_is(fr, SB_JSON_STRING))
      assert_non_null(sb_json_get(sb_json_at(sb_json_get(chunk, "choices"), 0),
                                  "native_finish_reason"));
    count++;
    line = nl + 1;
  }
  if (count != want_chunks)
    fail_msg("%s: %zu chunks, want %zu", path, count, want_chunks);
  sb_arena_destroy(&a);
  sb_buf_free(&first);
  sb_buf_free(&again);
  free(d);
}

static void test_stream_transcripts(void **state)
{
  (void)state;
  /* chunks forwarded = events - [DONE] - the separate usage chunk */
  check_openai_transcript("tests/fixtures/openai/plain.sse", 6, "stop", 19, 6, 0);
  check_openai_transcript("tests/fixtures/openai/plain_crlf.sse", 6, "stop", 19, 6, 0);
  check_openai_transcript("tests/fixtures/openai/tool_call.sse", 10, "tool_calls", 81, 22, 0);
  check_openai_transcript("tests/fixtures/openai/parallel_tool_calls.sse", 7, "tool_calls",
                   90, 40, 0);
  check_openai_transcript("tests/fixtures/openai/usage_in_finish.sse", 2, "length", 5, 1, 0);
  check_openai_transcript("tests/fixtures/openai/reasoning_cached.sse", 4, "stop", 2048, 30,
                   1920);
}

static void test_stream_error_event(void **state)
{
  (void)state;
  size_t n = 0;
  char *d = read_file("tests/fixtures/openai/error_midstream.sse", &n);
  assert_non_null(d);
  for (size_t cut = 0; cut <= n; cut++) {
    harness_t h;
    openai_init(&h, 0, "{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    assert_int_equal(run_stream(&h, d, n, cut), SB_ERROR);
    assert_true(h.c.stream_failed);
    assert_int_equal(h.c.stream_error_code, 502);
    assert_non_null(strstr(h.c.stream_error, "server had an error"));
    assert_int_equal(cap.begun, 1); /* the partial content went out */
    harness_free(&h);
  }
  free(d);
}

static void test_stream_garbage(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {not json\n\n",
  };
  check_stream_violations(bad, SB_ARRAY_LEN(bad),
                          "{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
}

static void test_response_rewrite(void **state)
{
  (void)state;
  harness_t h;
  openai_init(&h, 0, "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[]}");
  const char body[] =
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
      "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
      "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{\\\"a\\\":1}\"}}]},\"logprobs\":null,"
      "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,"
      "\"completion_tokens\":3,\"total_tokens\":13},\"system_fingerprint\":\"fp\"}";
  sb_codec_openai.chat_response(&h.c, sb_slice(body, sizeof(body) - 1));
  sb_buf_cstr(&cap.response);
  const char want[] =
      "{\"id\":\"gen-1-test\",\"object\":\"chat.completion\",\"created\":1800000000,"
      "\"model\":\"openai/gpt-4o-mini\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
      "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{\\\"a\\\":1}\"}}]},\"logprobs\":null,"
      "\"finish_reason\":\"tool_calls\",\"native_finish_reason\":\"tool_calls\"}],"
      "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,\"total_tokens\":13,"
      "\"cost\":0.0000033},\"system_fingerprint\":\"fp\",\"provider\":\"OpenAI\"}";
  assert_string_equal(cap.response.data, want);
  assert_string_equal(h.c.finish_reason, "tool_calls");
  assert_int_equal(h.c.cost_pico, 3300000);
  harness_free(&h);
}

static void test_response_errors(void **state)
{
  (void)state;
  static const resp_error_case_t cases[] = {
      {"not json", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {"{\"error\":{\"message\":\"quota exceeded\"}}", "quota exceeded"},
  };
  check_response_errors(cases, SB_ARRAY_LEN(cases), "{\"model\":\"m\",\"messages\":[]}");
}

static void test_error_info(void **state)
{
  (void)state;
  static const error_info_case_t cases[] = {
      {"{\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\",\"code\":"
       "\"rate_limit_exceeded\"}}", "Rate limit", "rate_limit_exceeded"},
      {"{\"error\":{\"message\":\"bad \\\"x\\\"\",\"code\":400}}", "bad \"x\"", "400"},
      {"{\"error\":\"plain string\"}", "plain string", ""},
      {"{\"message\":\"top level\"}", "top level", ""},
      {"<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>", ""},
  };
  check_error_info(cases, SB_ARRAY_LEN(cases));
}

int main(void)
{
  hcfg = &openai_cfg;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_openai),
      cmocka_unit_test(test_request_openrouter),
      cmocka_unit_test(test_request_no_stream_options),
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_stream_error_event),
      cmocka_unit_test(test_stream_garbage),
      cmocka_unit_test(test_response_rewrite),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
