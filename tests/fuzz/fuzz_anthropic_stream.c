/* libFuzzer driver: the Anthropic codec as hostile bytes would reach it.
 * The input is fed (1) as the provider's SSE stream, (2) as a whole
 * non-stream response body, and (3) when it is JSON, as a client's chat
 * request to translate. Every chunk, response and upstream body produced
 * must be valid JSON. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "switchboard/call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
  return sb_codec_anthropic.chat_event(c, ev);
}

static void call_init(sb_call_t *c, sb_arena_t *arena, const sb_json_t *req)
{
  static sb_provider_t provider;
  static sb_config_t cfg;
  static sb_gateway_t gw;
  provider.name = "anthropic";
  provider.display_name = "Anthropic";
  provider.base_url = "http://127.0.0.1:9";
  provider.auth_header = "x-key";
  provider.auth_prefix = "";
  provider.codec = &sb_codec_anthropic;
  cfg.max_body_bytes = 1 << 20;
  gw.config = &cfg;
  memset(c, 0, sizeof(*c));
  c->arena = arena;
  c->gw = &gw;
  c->sink = &sink;
  c->route.provider = &provider;
  c->route.upstream_model = SB_SLICE_LIT("claude-3-5-haiku-20241022");
  c->j_id = SB_SLICE_LIT("\"gen-x\"");
  c->j_model = SB_SLICE_LIT("\"m\"");
  c->j_provider = SB_SLICE_LIT("\"Anthropic\"");
  c->j_created = SB_SLICE_LIT("1");
  snprintf(c->id, sizeof(c->id), "gen-x");
  sb_buf_init(&c->out, 1 << 20);
  sb_buf_init(&c->up_body, 2 << 20);
  sb_arena_init(&c->scratch, 4096, 16u << 20);
  c->req = req;
  c->stream = true;
}

static void call_free(sb_call_t *c)
{
  sb_buf_free(&c->out);
  sb_buf_free(&c->up_body);
  sb_arena_destroy(&c->scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char req_text[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[]}";
  sb_arena_t arena;
  sb_call_t c;
  sb_json_t *req;

  sb_arena_init(&arena, 4096, 0);
  sb_json_parse(&arena, req_text, sizeof(req_text) - 1, 0, &req, NULL);

  /* (1) a stream */
  call_init(&c, &arena, req);
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  (void)sb_sse_feed(&p, (const char *)data, size, on_event, &c);
  sb_sse_free(&p);
  call_free(&c);

  /* (2) a whole body */
  call_init(&c, &arena, req);
  c.stream = false;
  sb_codec_anthropic.chat_response(&c, sb_slice((const char *)data, size));
  call_free(&c);

  /* (3) a client request */
  sb_json_t *in;
  if (sb_json_parse(&arena, (const char *)data, size, 0, &in, NULL) == SB_OK &&
      in->type == SB_JSON_OBJECT) {
    call_init(&c, &arena, in);
    c.req_raw = sb_slice((const char *)data, size);
    c.stream = sb_json_is(sb_json_get(in, "stream"), SB_JSON_TRUE);
    sb_upstream_request_t r;
    memset(&r, 0, sizeof(r));
    if (sb_codec_anthropic.chat_request(&c, &r) == SB_OK) {
      sb_json_error_t e;
      assert(sb_json_validate(r.body.ptr, r.body.len, 0, &e) == SB_OK);
    }
    call_free(&c);
  }
  sb_arena_destroy(&arena);
  return 0;
}
