/* libFuzzer driver: the OpenAI codec's stream decoder behind the SSE
 * parser, as hostile provider bytes would reach it. Every chunk the codec
 * hands on must be valid JSON; the usage it records must be sane. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "switchboard/call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t emitted;

static sb_status_t begin(sb_call_t *c)
{
  (void)c;
  return SB_OK;
}
static sb_status_t chunk(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  sb_json_error_t e;
  assert(sb_json_validate(json.ptr, json.len, 0, &e) == SB_OK);
  emitted++;
  return SB_OK;
}
static void end(sb_call_t *c) { (void)c; }
static void error(sb_call_t *c, const sb_call_error_t *e)
{
  (void)c;
  (void)e;
}
static void response(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  sb_json_error_t e;
  assert(sb_json_validate(json.ptr, json.len, 0, &e) == SB_OK);
}
static bool backlogged(sb_call_t *c)
{
  (void)c;
  return false;
}

static const sb_call_sink_t sink = {response, begin, chunk, end, error, backlogged};

static sb_status_t on_event(void *ud, const sb_sse_event_t *ev)
{
  sb_call_t *c = ud;
  sb_arena_reset(&c->scratch);
  return sb_codec_openai.chat_event(c, ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static sb_provider_t provider;
  static sb_config_t cfg;
  static sb_gateway_t gw;
  static const char req_text[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[]}";
  sb_arena_t arena;
  sb_call_t c;
  sb_json_t *req;

  provider.name = "openai";
  provider.display_name = "OpenAI";
  provider.codec = &sb_codec_openai;
  gw.config = &cfg;
  memset(&c, 0, sizeof(c));
  sb_arena_init(&arena, 4096, 0);
  c.arena = &arena;
  c.gw = &gw;
  c.sink = &sink;
  c.route.provider = &provider;
  c.j_id = SB_SLICE_LIT("\"gen-x\"");
  c.j_model = SB_SLICE_LIT("\"m\"");
  c.j_provider = SB_SLICE_LIT("\"OpenAI\"");
  c.j_created = SB_SLICE_LIT("1");
  sb_buf_init(&c.out, 1 << 20);
  sb_arena_init(&c.scratch, 4096, 16u << 20);
  sb_json_parse(&arena, req_text, sizeof(req_text) - 1, 0, &req, NULL);
  c.req = req;
  c.stream = true;

  /* first as a stream ... */
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  (void)sb_sse_feed(&p, (const char *)data, size, on_event, &c);
  sb_sse_free(&p);
  /* ... then as a whole non-stream body */
  sb_arena_reset(&c.scratch);
  c.finished = false;
  sb_codec_openai.chat_response(&c, sb_slice((const char *)data, size));

  sb_buf_free(&c.out);
  sb_arena_destroy(&c.scratch);
  sb_arena_destroy(&arena);
  return 0;
}
