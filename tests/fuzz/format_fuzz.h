/* SPDX-License-Identifier: MIT */
/* Shared body of the drivers that fuzz a wire format's provider side
 * through its face (codec.h), linking the formats alone: the input is fed
 * (1) as the provider's SSE stream, event by event, (2) as a whole
 * response body, and (3) when it is a JSON object, as a client's OpenAI
 * chat body decoded by the OpenAI door and built into the provider's
 * request; (1) and (2) both translating and on the pass-through path
 * (the client speaks the format: native events), (3) both built from the
 * hub and forwarded. Every event's text must be a JSON string's contents,
 * every native event and request body valid JSON, every refusal must say
 * why. A driver names its
 * format and calls format_fuzz_run() from LLVMFuzzerTestOneInput. */
#ifndef SB_TESTS_FUZZ_FORMAT_FUZZ_H
#define SB_TESTS_FUZZ_FORMAT_FUZZ_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_assert.h"
#include "switchboard/codec.h"
#include "switchboard/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sb_status_t fuzz_emit(void *data, const sb_hub_event_t *ev)
{
  (void)data;
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED:
  case SB_HUB_EV_TOOL_ARGS:
    fuzz_assert_jtext(ev->text);
    fuzz_assert_jtext(ev->id);
    break;
  case SB_HUB_EV_TOOL_START:
    fuzz_assert_jtext(ev->id);
    fuzz_assert_jtext(ev->name);
    break;
  case SB_HUB_EV_FINISH:
    assert(ev->finish != SB_FINISH_NONE);
    fuzz_assert_jtext(ev->native);
    break;
  case SB_HUB_EV_ERROR:
    assert(ev->status >= 400 && ev->status <= 599);
    break;
  case SB_HUB_EV_NATIVE: {
    /* what the pass-through path hands the client is one JSON value */
    sb_json_error_t e;
    assert(sb_json_validate(ev->text.ptr, ev->text.len, 0, &e) == SB_OK);
    (void)e;
    break;
  }
  default:
    break;
  }
  return SB_OK;
}

typedef struct {
  const sb_codec_t *codec;
  sb_provider_t provider;
  sb_codec_route_t route;
  sb_answer_names_t names;
  sb_hub_req_t req;
  sb_arena_t arena, scratch;
  sb_codec_answer_t an;
} format_fuzz_t;

static void fuzz_answer_init(format_fuzz_t *f)
{
  sb_arena_init(&f->arena, 4096, 64u << 20);
  sb_arena_init(&f->scratch, 4096, 64u << 20);
  memset(&f->an, 0, sizeof(f->an));
  f->an.req = &f->req;
  f->an.route = &f->route;
  f->an.names = &f->names;
  f->an.arena = &f->arena;
  f->an.scratch = &f->scratch;
  f->an.sink.emit = fuzz_emit;
}

static void fuzz_answer_free(format_fuzz_t *f)
{
  sb_arena_destroy(&f->scratch);
  sb_arena_destroy(&f->arena);
}

static sb_status_t fuzz_on_event(void *data, const sb_sse_event_t *ev)
{
  format_fuzz_t *f = data;
  sb_arena_reset(&f->scratch);
  sb_status_t rc = f->codec->provider->event(&f->an, ev);
  return rc == SB_DONE ? SB_ERROR : rc; /* nothing after the end counts */
}

static int format_fuzz_run(const sb_codec_t *codec, const uint8_t *data,
                           size_t size)
{
  format_fuzz_t f;
  memset(&f, 0, sizeof(f));
  f.codec = codec;
  f.provider.name = codec->name;
  f.provider.display_name = codec->name;
  f.provider.format = codec->name;
  f.provider.base_url = "http://127.0.0.1:9";
  f.route.provider = &f.provider;
  f.route.upstream_model = SB_SLICE_LIT("model-1");
  f.route.model_id = SB_SLICE_LIT("x/model-1");
  f.route.reasons = -1;
  f.names.id = SB_SLICE_LIT("\"gen-x\"");
  f.names.model = SB_SLICE_LIT("\"x/model-1\"");
  f.names.provider = SB_SLICE_LIT("\"X\"");
  f.names.created = SB_SLICE_LIT("1");
  f.req.stream = true;
  f.req.decoded = true;

  for (int pass = 0; pass < 2; pass++) {
    /* (1) a stream */
    fuzz_answer_init(&f);
    f.an.passthrough = pass == 1;
    sb_sse_parser_t p;
    sb_sse_init(&p, 1 << 20);
    p.data_join = ' '; /* as the gateway reads a provider's stream */
    (void)sb_sse_feed(&p, (const char *)data, size, fuzz_on_event, &f);
    sb_sse_free(&p);
    fuzz_answer_free(&f);

    /* (2) a whole body */
    fuzz_answer_init(&f);
    f.an.passthrough = pass == 1;
    (void)codec->provider->response(&f.an, sb_slice((const char *)data, size));
    fuzz_answer_free(&f);
  }

  /* (3) a client's request */
  sb_arena_t a;
  sb_json_t *in;
  char why[256];
  sb_arena_init(&a, 4096, 64u << 20);
  if (sb_json_parse(&a, (const char *)data, size, 0, &in, NULL) == SB_OK &&
      in->type == SB_JSON_OBJECT) {
    sb_hub_req_t req;
    memset(&req, 0, sizeof(req));
    const sb_codec_door_t *door = sb_codec_openai.door;
    if (door->envelope(in, &a, &req, why, sizeof(why)) == SB_OK &&
        door->decode(&req, &a, why, sizeof(why)) == SB_OK) {
      for (int pass = 0; pass < 2; pass++) {
        /* a pass-through forwards a body of its own format only */
        if (pass == 1 && codec != &sb_codec_openai)
          break;
        sb_buf_t body;
        sb_codec_request_t r;
        sb_buf_init(&body, 2u << 20);
        memset(&r, 0, sizeof(r));
        r.body = &body;
        sb_status_t rc =
            codec->provider->request(&req, &f.route, pass == 1, &a, &r);
        if (rc == SB_OK) {
          sb_json_error_t e;
          assert(r.url != NULL);
          assert(sb_json_validate(body.data, body.len, 0, &e) == SB_OK);
        } else if (rc == SB_ERROR) {
          assert(r.error != NULL && r.error[0] != '\0');
        }
        sb_buf_free(&body);
      }
    }
  }
  sb_arena_destroy(&a);
  return 0;
}

#endif
