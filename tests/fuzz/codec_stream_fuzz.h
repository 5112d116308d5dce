/* Shared body of the codec fuzz drivers (fuzz_<codec>_stream.c): a codec
 * as hostile bytes would reach it. The input is fed (1) as the provider's
 * SSE stream, (2) as a whole non-stream response body, and (3) when it is
 * JSON, as a client's chat request to translate. Every chunk, response and
 * upstream body produced must be valid JSON, and every chunk one line. A
 * driver names its codec in a codec_fuzz_t and calls codec_fuzz_run() from
 * LLVMFuzzerTestOneInput. */
#ifndef SB_TESTS_FUZZ_CODEC_STREAM_FUZZ_H
#define SB_TESTS_FUZZ_CODEC_STREAM_FUZZ_H

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "switchboard/call.h"
#include "switchboard/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const sb_codec_t *codec;
  const char *name;         /* provider name, e.g. "gemini" */
  const char *display_name; /* e.g. "Gemini" */
  sb_slice_t j_provider;    /* display_name as a JSON string */
  sb_slice_t upstream_model;
} codec_fuzz_t;

static void fuzz_assert_json(sb_slice_t json)
{
  sb_json_error_t e;
  assert(sb_json_validate(json.ptr, json.len, 0, &e) == SB_OK);
  (void)e;
}

static sb_status_t fuzz_begin(sb_call_t *c)
{
  (void)c;
  return SB_OK;
}
static sb_status_t fuzz_chunk(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  fuzz_assert_json(json);
  /* a chunk is written as one `data:` line */
  assert(memchr(json.ptr, '\n', json.len) == NULL);
  assert(memchr(json.ptr, '\r', json.len) == NULL);
  return SB_OK;
}
static void fuzz_end(sb_call_t *c) { (void)c; }
static void fuzz_error(sb_call_t *c, const sb_call_error_t *e)
{
  (void)c;
  (void)e;
}
static void fuzz_response(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  fuzz_assert_json(json);
}
static bool fuzz_backlogged(sb_call_t *c)
{
  (void)c;
  return false;
}

static const sb_call_sink_t fuzz_sink = {fuzz_response, fuzz_begin, fuzz_chunk,
                                         fuzz_end,      fuzz_error, fuzz_backlogged};

static sb_status_t fuzz_on_event(void *ud, const sb_sse_event_t *ev)
{
  sb_call_t *c = ud;
  sb_arena_reset(&c->scratch);
  return c->route.provider->codec->chat_event(c, ev);
}

static void fuzz_call_init(sb_call_t *c, const codec_fuzz_t *f, sb_arena_t *arena,
                           const sb_json_t *req)
{
  static sb_provider_t provider;
  static sb_config_t cfg;
  static sb_gateway_t gw;
  static sb_worker_t worker;      /* only its counters are used */
  static sb_http_exchange_t x;    /* only its arena and extra_head are used */
  provider.name = f->name;
  provider.display_name = f->display_name;
  provider.base_url = "http://127.0.0.1:9";
  provider.auth_header = "x-key";
  provider.auth_prefix = "";
  provider.codec = f->codec;
  cfg.max_body_bytes = 1 << 20;
  gw.config = &cfg;
  memset(c, 0, sizeof(*c));
  c->arena = arena;
  c->gw = &gw;
  memset(&x, 0, sizeof(x));
  sb_arena_init(&x.arena, 4096, 0);
  c->x = &x;
  c->worker = &worker;
  c->sink = &fuzz_sink;
  c->route.provider = &provider;
  c->route.upstream_model = f->upstream_model;
  c->j_id = SB_SLICE_LIT("\"gen-x\"");
  c->j_model = SB_SLICE_LIT("\"m\"");
  c->j_provider = f->j_provider;
  c->j_created = SB_SLICE_LIT("1");
  snprintf(c->id, sizeof(c->id), "gen-x");
  sb_buf_init(&c->out, 1 << 20);
  sb_buf_init(&c->up_body, 2 << 20);
  sb_arena_init(&c->scratch, 4096, 16u << 20);
  c->req = req;
  c->stream = true;
}

static void fuzz_call_free(sb_call_t *c)
{
  sb_buf_free(&c->out);
  sb_buf_free(&c->up_body);
  sb_arena_destroy(&c->scratch);
  sb_arena_destroy(&c->x->arena);
}

static int codec_fuzz_run(const codec_fuzz_t *f, const uint8_t *data, size_t size)
{
  static const char req_text[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[]}";
  sb_arena_t arena;
  sb_call_t c;
  sb_json_t *req;

  sb_arena_init(&arena, 4096, 0);
  sb_json_parse(&arena, req_text, sizeof(req_text) - 1, 0, &req, NULL);

  /* (1) a stream */
  fuzz_call_init(&c, f, &arena, req);
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  p.data_join = ' '; /* as the gateway reads a provider's stream */
  (void)sb_sse_feed(&p, (const char *)data, size, fuzz_on_event, &c);
  sb_sse_free(&p);
  fuzz_call_free(&c);

  /* (2) a whole body */
  fuzz_call_init(&c, f, &arena, req);
  c.stream = false;
  f->codec->chat_response(&c, sb_slice((const char *)data, size));
  fuzz_call_free(&c);

  /* (3) a client request */
  sb_json_t *in;
  if (sb_json_parse(&arena, (const char *)data, size, 0, &in, NULL) == SB_OK &&
      in->type == SB_JSON_OBJECT) {
    fuzz_call_init(&c, f, &arena, in);
    c.req_raw = sb_slice((const char *)data, size);
    c.stream = sb_json_is(sb_json_get(in, "stream"), SB_JSON_TRUE);
    sb_upstream_request_t r;
    memset(&r, 0, sizeof(r));
    if (f->codec->chat_request(&c, &r) == SB_OK)
      fuzz_assert_json(r.body);
    fuzz_call_free(&c);
  }
  sb_arena_destroy(&arena);
  return 0;
}

#endif
