/* What the libFuzzer drivers of a door (a client's request into the hub,
 * hub events into the client's answer) share: the checks that every jtext
 * the door decoded is a JSON string's contents and every json member JSON,
 * and hostile bytes made into hub events, one a line. */
#ifndef SB_TESTS_FUZZ_DOOR_FUZZ_H
#define SB_TESTS_FUZZ_DOOR_FUZZ_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_assert.h"
#include "switchboard/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void door_check_blocks(const sb_hub_block_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++, b++) {
    fuzz_assert_jtext(b->text);
    fuzz_assert_jtext(b->id);
    fuzz_assert_jtext(b->name);
    fuzz_assert_jtext(b->url);
    fuzz_assert_jtext(b->data);
    fuzz_assert_jtext(b->media_type);
    fuzz_assert_jtext(b->signature);
    fuzz_assert_json(b->args);
    fuzz_assert_json(b->native);
    fuzz_assert_json(b->cache_control);
    door_check_blocks(b->parts, b->n_parts);
  }
}

/* One line -> one event (its text escaped into a jtext). */
static bool door_line_event(sb_arena_t *a, const char *p, size_t n,
                            sb_hub_event_t *ev, sb_usage_t *u)
{
  static const sb_hub_ev_kind_t kinds[] = {
      SB_HUB_EV_START,     SB_HUB_EV_TEXT,       SB_HUB_EV_REASONING,
      SB_HUB_EV_SIGNATURE, SB_HUB_EV_REDACTED,   SB_HUB_EV_TOOL_START,
      SB_HUB_EV_TOOL_ARGS, SB_HUB_EV_BLOCK_STOP, SB_HUB_EV_FINISH,
      SB_HUB_EV_USAGE,     SB_HUB_EV_ERROR,
  };
  memset(ev, 0, sizeof(*ev));
  if (n < 2)
    return false;
  ev->kind = kinds[(uint8_t)p[0] % SB_ARRAY_LEN(kinds)];
  uint8_t k = (uint8_t)p[1];
  ev->index = k % 4;
  ev->sig_format = (sb_hub_sig_t)(k % 5);
  ev->finish = (sb_finish_t)(k % 6);
  ev->status = 500 + k % 30;
  sb_slice_t text;
  if (sb_hub_escape(a, p + 2, n - 2, &text) != SB_OK)
    return false;
  if (ev->kind == SB_HUB_EV_ERROR)
    ev->text = sb_slice(p + 2, n - 2);
  else
    ev->text = text;
  ev->id = ev->name = ev->native = text;
  ev->usage.prompt = u->prompt = n;
  ev->usage.completion = u->completion = k;
  ev->has_usage = k & 1;
  return true;
}

/* The events of `in` (one a line, door_line_event) through `enc`, begun
 * for `req` (may be NULL) as a stream or a whole answer; `check` sees
 * what each event wrote (end false) and what the end wrote (end true). */
static void door_encode(const sb_codec_encoder_t *enc, const sb_hub_req_t *req,
                        const char *in, size_t n, bool stream,
                        void (*check)(const sb_buf_t *out, bool stream,
                                      bool end))
{
  static const sb_answer_names_t names = {.id = SB_SLICE_LIT("\"gen-x\""),
                                          .model = SB_SLICE_LIT("\"m\"")};
  sb_arena_t a;
  sb_buf_t one;
  sb_usage_t u = {0};
  sb_answer_end_t end = {.usage = &u, .cost = SB_SLICE_LIT("0")};
  sb_arena_init(&a, 4096, 64u << 20);
  sb_buf_init(&one, 16u << 20);
  void *st = sb_arena_calloc(&a, enc->state_size);
  enc->begin(st, &a, req, &names, stream, false);
  bool ok = true;
  for (const char *p = in, *stop = in + n; p < stop && ok;) {
    const char *nl = memchr(p, '\n', (size_t)(stop - p));
    size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(stop - p);
    sb_hub_event_t ev;
    if (door_line_event(&a, p, len, &ev, &u)) {
      if (ev.kind == SB_HUB_EV_ERROR) {
        end.error_status = ev.status;
        end.error_message = ev.text;
      }
      sb_buf_reset(&one);
      ok = enc->event(st, &ev, &one) == SB_OK;
      if (ok)
        check(&one, stream, false);
    }
    p += len + (nl != NULL ? 1 : 0);
  }
  if (ok) {
    sb_buf_reset(&one);
    if (enc->end(st, &end, &one) == SB_OK)
      check(&one, stream, true);
  }
  sb_buf_free(&one);
  sb_arena_destroy(&a);
}

#endif
