/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the Responses API door, fed hostile bytes. The first
 * byte picks the target:
 * 0: a Responses request: checked against the schema; one that passes
 *    has its envelope read and is forwarded (the pass-through request must
 *    be JSON), is decoded into the hub (every jtext a JSON string's
 *    contents, every json member JSON, the input estimated), and is kept
 *    as the stored responses keep it (its input items, a JSON array) and
 *    continued from a conversation (a JSON object whose input holds both);
 * 1, 2: hub events, one a line, through the encoder as a stream (1: every
 *    event `event:` and `data:` lines of JSON) or a whole response (2:
 *    JSON); the object kept for the store JSON too;
 * 3: the input as a provider's Responses stream on the pass-through path:
 *    every event handed on is JSON, and the door's encoder writes it. */
#include "door_fuzz.h"
#include "formats/openai/responses.h"
#include "switchboard/sse.h"

static const sb_answer_names_t pass_names = {
    .id = SB_SLICE_LIT("\"gen-1-x\""),
    .model = SB_SLICE_LIT("\"m\""),
    .created = SB_SLICE_LIT("1"),
};

static void forward(const sb_hub_req_t *req, sb_arena_t *a)
{
  static const sb_provider_t provider = {.name = "openai",
                                         .format = "openai",
                                         .base_url = "http://127.0.0.1:9/v1",
                                         .quirks = SB_QUIRK_RESPONSES_API};
  door_fuzz_build(&sb_responses_provider, &provider, "gpt-x", req, true, a);
}

static void keep(const sb_json_t *body, sb_arena_t *a)
{
  sb_buf_t items;
  sb_buf_init(&items, 8u << 20);
  if (sb_responses_input_items(body, SB_SLICE_LIT("resp_1-x"), &items) ==
      SB_OK) {
    fuzz_assert_json(sb_buf_slice(&items));
    sb_buf_t conv;
    sb_buf_init(&conv, 8u << 20);
    sb_json_t *cont;
    if (sb_responses_history_add(&conv, sb_buf_slice(&items),
                                 SB_SLICE_LIT("{\"output\":[{\"type\":"
                                              "\"message\"}]}")) == SB_OK &&
        sb_responses_continue(a, body, sb_buf_slice(&conv), &cont) == SB_OK)
      assert(sb_json_is(sb_json_get(cont, "input"), SB_JSON_ARRAY));
    sb_buf_free(&conv);
  }
  sb_buf_free(&items);
}

static void request(const char *in, size_t n)
{
  sb_arena_t a;
  sb_json_t *v;
  char why[256];
  sb_arena_init(&a, 4096, 64u << 20);
  if (sb_json_parse_flags(&a, in, n, 0, SB_JSON_REJECT_DUPLICATES, &v, NULL) ==
          SB_OK &&
      sb_responses_check(v, why, sizeof(why)) == SB_OK) {
    sb_hub_req_t req;
    memset(&req, 0, sizeof(req));
    if (sb_responses_door.envelope(v, &a, &req, why, sizeof(why)) == SB_OK) {
      forward(&req, &a);
      if (sb_responses_door.decode(&req, &a, why, sizeof(why)) == SB_OK) {
        for (size_t i = 0; i < req.n_msgs; i++)
          door_check_blocks(req.msgs[i].blocks, req.msgs[i].n_blocks);
        for (size_t i = 0; i < req.n_tools; i++) {
          fuzz_assert_jtext(req.tools[i].name);
          fuzz_assert_jtext(req.tools[i].description);
          fuzz_assert_json(req.tools[i].parameters);
        }
        (void)sb_hub_estimate_input(&req);
      }
      keep(v, &a);
    }
  }
  sb_arena_destroy(&a);
}

/* ---- a provider's stream, passed through ---------------------------------------- */

typedef struct {
  sb_codec_answer_t an;
  sb_arena_t scratch;
  void *enc;
  sb_buf_t out;
  bool done;
} pass_t;

static sb_status_t pass_emit(void *data, const sb_hub_event_t *ev)
{
  pass_t *p = data;
  if (ev->kind == SB_HUB_EV_NATIVE)
    fuzz_assert_json(ev->text);
  sb_buf_reset(&p->out);
  sb_status_t rc = sb_responses_encoder.event(p->enc, ev, &p->out);
  door_check_events(&p->out);
  return rc;
}

static sb_status_t pass_event(void *data, const sb_sse_event_t *ev)
{
  pass_t *p = data;
  if (p->done)
    return SB_OK;
  sb_arena_reset(&p->scratch);
  sb_status_t rc = sb_responses_provider.event(&p->an, ev);
  if (rc == SB_DONE)
    p->done = true;
  return rc == SB_DONE ? SB_OK : rc;
}

static void stream(const char *in, size_t n)
{
  sb_arena_t a;
  sb_hub_req_t req;
  pass_t p;
  memset(&req, 0, sizeof(req));
  memset(&p, 0, sizeof(p));
  sb_arena_init(&a, 4096, 64u << 20);
  sb_arena_init(&p.scratch, 4096, 64u << 20);
  sb_buf_init(&p.out, 64u << 20);
  p.enc = sb_arena_calloc(&a, sb_responses_encoder.state_size);
  sb_responses_encoder.begin(p.enc, &a, &req, &pass_names, true, true);
  p.an.req = &req;
  p.an.names = &pass_names;
  p.an.arena = &a;
  p.an.scratch = &p.scratch;
  p.an.passthrough = true;
  p.an.sink.emit = pass_emit;
  p.an.sink.data = &p;
  sb_sse_parser_t sse;
  sb_sse_init(&sse, 4u << 20);
  sse.data_join = ' ';
  sb_status_t rc = sb_sse_feed(&sse, in, n, pass_event, &p);
  sb_usage_t u = {0};
  sb_answer_end_t end = {.usage = &u, .cost = SB_SLICE_LIT("0")};
  if (rc != SB_OK || !p.done) {
    end.error_status = 502;
    end.error_message = SB_SLICE_LIT("broken");
  }
  sb_buf_reset(&p.out);
  if (sb_responses_encoder.end(p.enc, &end, &p.out) == SB_OK) {
    door_check_events(&p.out);
    fuzz_assert_json(sb_responses_encoder.kept(p.enc));
  }
  sb_sse_free(&sse);
  sb_buf_free(&p.out);
  sb_arena_destroy(&p.scratch);
  sb_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 4) {
  case 0:
    request(in, n);
    break;
  case 3:
    stream(in, n);
    break;
  default:
    door_encode(&sb_responses_encoder, NULL, in, n, data[0] % 4 == 1,
                door_check_named);
    break;
  }
  return 0;
}
