/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the Anthropic format's provider side as hostile bytes
 * would reach it (stream, whole body, client request; see format_fuzz.h),
 * and its pass-through path: the stream again as the Messages door's own
 * provider, every event relayed as it came (NATIVE) beside the typed
 * ones. */
#include "format_fuzz.h"

#include "formats/anthropic/anthropic.h"

/* On the pass-through path every NATIVE event is one of the provider's
 * events, its data as it came. */
static sb_status_t relay_emit(void *data, const sb_hub_event_t *ev)
{
  if (ev->kind == SB_HUB_EV_NATIVE) {
    const sb_sse_event_t *in = data;
    assert(ev->text.ptr == in->data.ptr && ev->text.len == in->data.len);
    return SB_OK;
  }
  return fuzz_emit(NULL, ev);
}

static sb_status_t relay_event(void *data, const sb_sse_event_t *ev)
{
  format_fuzz_t *f = data;
  sb_arena_reset(&f->scratch);
  f->an.sink.data = (void *)ev;
  sb_status_t rc = f->codec->provider->event(&f->an, ev);
  return rc == SB_DONE ? SB_ERROR : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  format_fuzz_run(&sb_codec_anthropic, data, size);

  format_fuzz_t f;
  memset(&f, 0, sizeof(f));
  f.codec = &sb_codec_anthropic;
  f.provider.name = "anthropic";
  f.route.provider = &f.provider;
  f.names.id = SB_SLICE_LIT("\"gen-x\"");
  fuzz_answer_init(&f);
  f.an.passthrough = true;
  f.an.sink.emit = relay_emit;
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  p.data_join = ' ';
  (void)sb_sse_feed(&p, (const char *)data, size, relay_event, &f);
  sb_sse_free(&p);
  fuzz_answer_free(&f);

  /* a whole body, relayed */
  sb_sse_event_t whole = {.data = sb_slice((const char *)data, size)};
  fuzz_answer_init(&f);
  f.an.passthrough = true;
  f.an.sink.emit = relay_emit;
  f.an.sink.data = &whole;
  (void)f.codec->provider->response(&f.an, whole.data);
  fuzz_answer_free(&f);
  return 0;
}
