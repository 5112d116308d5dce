/* SPDX-License-Identifier: MIT */
/* The OpenAI chat format through its face: the door's decoding of a
 * client's request into the hub, and its encoder writing hub events as
 * chat.completion chunks and as one chat.completion. */
#include "format_harness.h"

#include "formats/openai/openai.h"

static const fmt_cfg_t cfg = {
    .format = "openai",
    .display = "OpenAI",
    .base_url = "http://127.0.0.1:9/v1",
    .model_id = "openai/gpt-4o-mini",
    .upstream_model = "gpt-4o-mini",
};

static void test_decode(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(
      &f,
      "{\"model\":\"openai/gpt-4o-mini\",\"stream\":true,\"max_tokens\":50,"
      "\"messages\":[{\"role\":\"system\",\"content\":\"Be \\\"brief\\\"\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\","
      "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"}}]},"
      "{\"role\":\"assistant\",\"content\":null,\"reasoning_details\":[{\"type\":"
      "\"reasoning.text\",\"text\":\"t\",\"signature\":\"S\",\"format\":"
      "\"anthropic-claude-v1\"},{\"type\":\"reasoning.encrypted\",\"data\":\"G\","
      "\"id\":\"c1\",\"format\":\"google-gemini-v1\"}],\"tool_calls\":[{\"id\":\"c1\","
      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
      "\"{\\\"a\\\":1}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
      "{\"type\":\"object\"},\"strict\":true}},{\"type\":\"web_search\"}],"
      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
      "\"parallel_tool_calls\":false,\"reasoning\":{\"effort\":\"high\"},"
      "\"temperature\":0.25,\"stop\":[\"X\",\"Y\"],\"user\":\"u\","
      "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
      "\"schema\":{\"type\":\"object\"},\"strict\":true}}}");
  const sb_hub_req_t *r = &f.req;
  assert_true(SB_SLICE_IS(r->model, "openai/gpt-4o-mini"));
  assert_true(r->stream);
  assert_int_equal(r->max_tokens, 50);
  assert_int_equal(r->n_msgs, 4);
  assert_int_equal(r->msgs[0].role, SB_HUB_SYSTEM);
  assert_slice_equal(r->msgs[0].blocks[0].text, "Be \\\"brief\\\"");
  const sb_hub_msg_t *u = &r->msgs[1];
  assert_int_equal(u->n_blocks, 2);
  assert_slice_equal(u->blocks[0].cache_control, "{\"type\":\"ephemeral\"}");
  assert_int_equal(u->blocks[1].kind, SB_HUB_IMAGE);
  assert_slice_equal(u->blocks[1].media_type, "image/png");
  assert_slice_equal(u->blocks[1].data, "AAAA");
  assert_slice_equal(u->blocks[1].detail, "low");
  const sb_hub_msg_t *a = &r->msgs[2];
  assert_int_equal(a->n_blocks, 3);
  assert_int_equal(a->blocks[0].kind, SB_HUB_REASONING);
  assert_int_equal(a->blocks[0].sig_format, SB_HUB_SIG_ANTHROPIC);
  assert_slice_equal(a->blocks[0].signature, "S");
  assert_int_equal(a->blocks[1].kind, SB_HUB_REDACTED);
  assert_int_equal(a->blocks[1].sig_format, SB_HUB_SIG_GEMINI);
  assert_slice_equal(a->blocks[1].id, "c1");
  assert_int_equal(a->blocks[2].kind, SB_HUB_TOOL_CALL);
  assert_slice_equal(a->blocks[2].args, "{\"a\":1}");
  assert_int_equal(r->msgs[3].blocks[0].kind, SB_HUB_TOOL_RESULT);
  assert_slice_equal(r->msgs[3].blocks[0].text, "ok");
  assert_int_equal(r->n_tools, 2);
  assert_int_equal(r->tools[0].strict, 1);
  assert_int_equal(r->tools[1].kind, SB_HUB_TOOL_NATIVE);
  assert_int_equal(r->choice, SB_HUB_CHOICE_TOOL);
  assert_slice_equal(r->choice_name, "f");
  assert_int_equal(r->parallel_tool_calls, 0);
  assert_int_equal(r->reasoning.enabled, 1);
  assert_int_equal(r->reasoning.effort, SB_HUB_EFFORT_HIGH);
  assert_true(r->temperature.set);
  assert_slice_equal(r->temperature.raw, "0.25");
  assert_int_equal(r->n_stop, 2);
  assert_int_equal(r->response_format, SB_HUB_FORMAT_JSON_SCHEMA);
  assert_int_equal(r->schema_strict, 1);
  fmt_free(&f);
}

/* A data URL whose payload holds bytes outside base64's is kept whole as a
 * URL (its parts would not be safe as JSON string contents); a
 * response_format the hub has no form for is marked so a provider that
 * cannot honour it refuses. */
static void test_decode_hostile_parts(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(
      &f,
      "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/png;base64,ab\\\"}c\"}},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:image/p\\\"ng;base64,AAAA\"}},"
      "{\"type\":\"image_url\",\"image_url\":\"data:image/png;base64,"
      "iVBORw0KGgo=\"}]}],"
      "\"response_format\":{\"type\":\"grammar\",\"grammar\":\"root ::= x\"}}");
  const sb_hub_msg_t *u = &f.req.msgs[0];
  assert_int_equal(u->n_blocks, 3);
  assert_int_equal(u->blocks[0].kind, SB_HUB_IMAGE);
  assert_int_equal(u->blocks[0].data.len, 0);
  assert_int_equal(u->blocks[0].media_type.len, 0);
  assert_slice_equal(u->blocks[0].url, "data:image/png;base64,ab\\\"}c");
  assert_int_equal(u->blocks[1].data.len, 0);
  assert_slice_equal(u->blocks[2].media_type, "image/png");
  assert_slice_equal(u->blocks[2].data, "iVBORw0KGgo=");
  assert_int_equal(f.req.response_format, SB_HUB_FORMAT_OTHER);
  fmt_free(&f);
}

static void test_encoder(void **state)
{
  (void)state;
  static const char *const files[] = {
      "tests/fixtures/openai/encode_reasoning_tools.events",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    fmt_check_encoder(&cfg, &sb_openai_chat_encoder, files[i], "chunks", true,
                      false);
    fmt_check_encoder(&cfg, &sb_openai_chat_encoder, files[i], "completion",
                      false, false);
  }
}

/* ---- provider side: requests ------------------------------------------------- */

static void build_pass(fmt_t *f, uint32_t quirks, const char *json,
                       sb_codec_request_t *r)
{
  fmt_openai_req(f, json);
  f->provider.quirks = quirks;
  assert_int_equal(fmt_build(f, &sb_openai_chat_provider, true, r), SB_OK);
}

static void want_body(const fmt_t *f, const char *want)
{
  if (f->body.len != strlen(want) || memcmp(f->body.data, want, f->body.len) != 0)
    fail_msg("body:\n%.*s\nwant:\n%s", (int)f->body.len, f->body.data, want);
}

static void test_request_passthrough(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  /* members the gateway does not know are forwarded byte for byte */
  build_pass(&f, 0,
             "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi \\u00e9\"}],\"stream\":true,\"temperature\":0.25,"
             "\"x_custom\":{\"keep\":[1, 2]},\"models\":[\"a\",\"b\"],"
             "\"provider\":{\"order\":[\"x\"]},\"transforms\":[],"
             "\"reasoning\":{\"effort\":\"high\"},\"tools\":[],"
             "\"tool_choice\":\"auto\",\"stream_options\":{\"include_usage\":false,"
             "\"other\":1}}",
             &r);
  assert_string_equal(r.url, "http://127.0.0.1:9/v1/chat/completions");
  want_body(&f, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                "\"content\":\"hi \\u00e9\"}],\"stream\":true,\"temperature\":0.25,"
                "\"x_custom\":{\"keep\":[1, 2]},"
                "\"stream_options\":{\"include_usage\":true,\"other\":1},"
                "\"reasoning_effort\":\"high\"}");
  assert_string_equal(fmt_header(&r, "content-type"), "application/json");
  assert_string_equal(fmt_header(&r, "accept"), "text/event-stream");
  assert_null(fmt_header(&r, "HTTP-Referer"));
  fmt_free(&f);
}

static void test_request_openrouter(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  static const sb_kv_t app[] = {{"HTTP-Referer", "https://app.example"},
                                {"X-Title", "My App"},
                                {"anthropic-beta", "x"}};
  const char *req = "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"models\":[\"a\"],\"provider\":{\"sort\":\"price\"},"
                    "\"tools\":[],\"reasoning\":{\"effort\":\"low\"}}";
  fmt_init(&f, &cfg);
  f.route.upstream_model = SB_SLICE_LIT("openai/gpt-4o-mini");
  fmt_openai_req(&f, req);
  f.req.client_headers = app;
  f.req.n_client_headers = 3;
  f.provider.quirks = SB_QUIRK_OPENROUTER_FIELDS | SB_QUIRK_FORWARD_APP_HEADERS;
  assert_int_equal(fmt_build(&f, &sb_openai_chat_provider, true, &r), SB_OK);
  /* OpenRouter understands its own fields: all kept; not streaming, so no
   * stream_options */
  want_body(&f, req);
  assert_string_equal(fmt_header(&r, "HTTP-Referer"), "https://app.example");
  assert_string_equal(fmt_header(&r, "X-Title"), "My App");
  assert_null(fmt_header(&r, "anthropic-beta"));
  assert_string_equal(fmt_header(&r, "accept"), "application/json");
  /* a key restricted to some models: OpenRouter gets no fallbacks */
  f.route.no_fallbacks = true;
  assert_int_equal(fmt_build(&f, &sb_openai_chat_provider, true, &r), SB_OK);
  want_body(&f, "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                "\"provider\":{\"sort\":\"price\"},"
                "\"tools\":[],\"reasoning\":{\"effort\":\"low\"}}");
  fmt_free(&f);
}

static void test_request_no_stream_options(void **state)
{
  (void)state;
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &cfg);
  build_pass(&f, SB_QUIRK_NO_STREAM_OPTIONS,
             "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
             "\"stream_options\":{\"include_usage\":true}}",
             &r);
  want_body(&f, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
  fmt_free(&f);
}

/* Bodies written from the hub (another door's request): what a plain
 * service and OpenRouter get. */
static const fmt_req_case_t translate_cases[] = {
    {"plain: reasoning details and cache_control left out, effort as "
     "reasoning_effort, a stream asks for usage",
     "{\"model\":\"m\",\"stream\":true,\"max_tokens\":20,\"messages\":["
     "{\"role\":\"system\",\"content\":\"be brief\"},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\","
     "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
     "{\"role\":\"assistant\",\"content\":null,\"reasoning_details\":[{\"type\":"
     "\"reasoning.text\",\"text\":\"t\",\"signature\":\"S\",\"format\":"
     "\"anthropic-claude-v1\"}],\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
     "\"function\":{\"name\":\"f\",\"arguments\":\"{ \\\"a\\\" : 1 }\"}}]},"
     "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"}],"
     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"required\","
     "\"reasoning\":{\"effort\":\"high\"},\"stop\":\"X\",\"user\":\"u\"}",
     "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
     "\"be brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
     "\"hi\"}]},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
     "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
     "\"{\\\"a\\\":1}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":"
     "\"ok\"}],\"max_tokens\":20,\"stop\":[\"X\"],\"tools\":[{\"type\":\"function\","
     "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],"
     "\"tool_choice\":\"required\",\"user\":\"u\",\"stream\":true,"
     "\"reasoning_effort\":\"high\",\"stream_options\":{\"include_usage\":true}}",
     NULL},
};

static void test_request_translate(void **state)
{
  (void)state;
  fmt_cfg_t c = cfg;
  c.reasons = 1;
  fmt_request_cases(&c, &sb_openai_chat_provider, translate_cases,
                    SB_ARRAY_LEN(translate_cases));
  /* OpenRouter takes the details, cache_control and `reasoning` */
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, &c);
  f.provider.quirks = SB_QUIRK_OPENROUTER_FIELDS;
  fmt_openai_req(&f, translate_cases[0].in);
  assert_int_equal(fmt_build(&f, &sb_openai_chat_provider, false, &r), SB_OK);
  sb_buf_cstr(&f.body);
  assert_non_null(strstr(f.body.data, "\"cache_control\":{\"type\":\"ephemeral\"}"));
  assert_non_null(strstr(f.body.data, "\"reasoning_details\":[{\"type\":"
                                      "\"reasoning.text\",\"text\":\"t\","
                                      "\"signature\":\"S\",\"format\":"
                                      "\"anthropic-claude-v1\",\"index\":0}]"));
  assert_non_null(strstr(f.body.data, "\"reasoning\":{\"effort\":\"high\"}"));
  assert_null(strstr(f.body.data, "reasoning_effort"));
  /* a model that does not reason gets no reasoning settings */
  f.route.reasons = 0;
  assert_int_equal(fmt_build(&f, &sb_openai_chat_provider, false, &r), SB_OK);
  sb_buf_cstr(&f.body);
  assert_null(strstr(f.body.data, "\"reasoning\":"));
  fmt_free(&f);
}

/* ---- provider side: answers --------------------------------------------------------- */

static const char *const streams[] = {
    "tests/fixtures/openai/plain.sse",
    "tests/fixtures/openai/plain_crlf.sse",
    "tests/fixtures/openai/tool_call.sse",
    "tests/fixtures/openai/parallel_tool_calls.sse",
    "tests/fixtures/openai/usage_in_finish.sse",
    "tests/fixtures/openai/reasoning_cached.sse",
    "tests/fixtures/openai/multiline.sse",
    "tests/fixtures/openai/error_midstream.sse",
};

#define STREAM_REQ "{\"model\":\"openai/gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"

static void test_streams(void **state)
{
  (void)state;
  for (size_t i = 0; i < SB_ARRAY_LEN(streams); i++) {
    fmt_check_stream(&cfg, &sb_openai_chat_provider, streams[i], STREAM_REQ,
                     false);
    fmt_check_stream(&cfg, &sb_openai_chat_provider, streams[i], STREAM_REQ,
                     true);
    /* what the client gets on the pass-through path */
    fmt_check_chain(&cfg, &sb_openai_chat_provider, &sb_openai_chat_encoder,
                    streams[i], STREAM_REQ, true, true, "chunks");
  }
}

static void test_stream_garbage(void **state)
{
  (void)state;
  static const char bad[] =
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {not json\n\n";
  for (int pass = 0; pass < 2; pass++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, STREAM_REQ);
    fmt_answer_t t;
    fmt_answer_init(&t, &f, &sb_openai_chat_provider, pass == 1);
    sb_sse_parser_t p;
    sb_sse_init(&p, 1 << 20);
    assert_int_equal(sb_sse_feed(&p, bad, sizeof(bad) - 1, fmt_feed_event, &t),
                     SB_ERROR);
    sb_buf_cstr(&f.dump);
    assert_non_null(strstr(f.dump.data, "error 502 \"the provider sent an "
                                        "invalid stream event\""));
    sb_sse_free(&p);
    sb_arena_destroy(&t.scratch);
    fmt_free(&f);
  }
}

static void test_response(void **state)
{
  (void)state;
  const char *path = "tests/fixtures/openai/response_tools.json";
  const char *req = "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
  fmt_check_response(&cfg, &sb_openai_chat_provider, path, req, false);
  fmt_check_response(&cfg, &sb_openai_chat_provider, path, req, true);
  fmt_check_chain(&cfg, &sb_openai_chat_provider, &sb_openai_chat_encoder,
                  path, req, true, true, "completion");
}

static void test_response_errors(void **state)
{
  (void)state;
  static const struct {
    const char *body, *contains;
  } cases[] = {
      {"not json", "error 502 \"the provider returned a response that is not"},
      {"[1,2]", "error 502 \"the provider returned a response that is not"},
      {"{\"error\":{\"message\":\"quota exceeded\"}}",
       "error 502 \"quota exceeded\""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    fmt_answer_t t;
    fmt_answer_init(&t, &f, &sb_openai_chat_provider, true);
    assert_int_equal(
        sb_openai_chat_provider.response(&t.an, sb_slice_z(cases[i].body)),
        SB_ERROR);
    sb_buf_cstr(&f.dump);
    if (strstr(f.dump.data, cases[i].contains) == NULL)
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
      {"{\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\",\"code\":"
       "\"rate_limit_exceeded\"}}", "Rate limit", "rate_limit_exceeded"},
      {"{\"error\":{\"message\":\"bad \\\"x\\\"\",\"code\":400}}", "bad \"x\"", "400"},
      {"{\"error\":\"plain string\"}", "plain string", ""},
      {"{\"message\":\"top level\"}", "top level", ""},
      {"<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>", ""},
  };
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_slice_t m, c;
    sb_openai_chat_provider.error_info(&a, sb_slice_z(cases[i].body), &m, &c);
    assert_slice_equal(m, cases[i].message);
    if (cases[i].code[0] != '\0')
      assert_slice_equal(c, cases[i].code);
    else
      assert_int_equal(c.len, 0);
  }
  sb_arena_destroy(&a);
}

/* The provider's usage object with the gateway's cost: a member walk
 * over the provider's text, its own "cost" replaced where it stands (the
 * first of duplicates), else "cost" added last; nested objects untouched. */
static void usage_case(const char *in, const char *want)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 0);
  sb_jw_init(&w, &b);
  bool ok = sb_openai_usage_with_cost(&w, sb_slice_z(in), SB_SLICE_LIT("0.25"));
  if (want == NULL) {
    assert_false(ok);
    assert_int_equal(b.len, 0);
  } else {
    assert_true(ok);
    assert_int_equal(sb_jw_status(&w), SB_OK);
    assert_int_equal(sb_buf_cstr(&b), SB_OK);
    assert_string_equal(b.data, want);
  }
  sb_buf_free(&b);
}

static void test_usage_with_cost(void **state)
{
  (void)state;
  usage_case("{\"prompt_tokens\":3,\"completion_tokens\":4}",
             "{\"prompt_tokens\":3,\"completion_tokens\":4,\"cost\":0.25}");
  usage_case("{\"cost\":9,\"prompt_tokens\":3}",
             "{\"cost\":0.25,\"prompt_tokens\":3}");
  usage_case("{\"a\":1,\"cost\":9,\"b\":{\"cost\":7},\"cost\":8}",
             "{\"a\":1,\"cost\":0.25,\"b\":{\"cost\":7}}");
  usage_case("{\"c\\u006fst\":9}", "{\"cost\":0.25}");
  usage_case("{}", "{\"cost\":0.25}");
  usage_case("", NULL);
  usage_case("[1]", NULL);
  usage_case("null", NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_decode_hostile_parts),
      cmocka_unit_test(test_encoder),
      cmocka_unit_test(test_request_passthrough),
      cmocka_unit_test(test_request_openrouter),
      cmocka_unit_test(test_request_no_stream_options),
      cmocka_unit_test(test_request_translate),
      cmocka_unit_test(test_streams),
      cmocka_unit_test(test_stream_garbage),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_info),
      cmocka_unit_test(test_usage_with_cost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
