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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_encoder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
