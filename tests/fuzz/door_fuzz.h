/* SPDX-License-Identifier: MIT */
/* What the libFuzzer drivers of a door (a client's request into the hub,
 * hub events into the client's answer) share, linking the formats alone:
 * the checks that every jtext the door decoded is a JSON string's contents
 * and every json member JSON, a request built by a provider side, hostile
 * bytes made into hub events (one a line: the first byte picks the kind,
 * the second an index, format, finish or status, the rest is the text)
 * fed to a door's encoder, and the check of `event:` / `data:` streams. */
#ifndef SB_TESTS_FUZZ_DOOR_FUZZ_H
#define SB_TESTS_FUZZ_DOOR_FUZZ_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_assert.h"
#include "switchboard/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static SB_UNUSED void door_check_blocks(const sb_hub_block_t *b, size_t n)
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

/* `req` built by a provider side on `provider` (as the model
 * `upstream`): a body of JSON and a URL, or a refusal that says why. */
static SB_UNUSED void door_fuzz_build(const sb_codec_provider_t *side,
                                      const sb_provider_t *provider,
                                      const char *upstream,
                                      const sb_hub_req_t *req, bool passthrough,
                                      sb_arena_t *a)
{
  sb_codec_route_t route = {.provider = provider,
                            .upstream_model = sb_slice_z(upstream)};
  sb_buf_t body;
  sb_codec_request_t r;
  memset(&r, 0, sizeof(r));
  sb_buf_init(&body, 4u << 20);
  r.body = &body;
  sb_status_t rc = side->request(req, &route, passthrough, a, &r);
  if (rc == SB_OK) {
    assert(r.url != NULL);
    fuzz_assert_json(sb_buf_slice(&body));
  } else if (rc == SB_ERROR) {
    assert(r.error != NULL && r.error[0] != '\0');
  }
  sb_buf_free(&body);
}

/* Every event an `event:` line and a `data:` line of JSON. */
static SB_UNUSED void door_check_events(const sb_buf_t *out)
{
  if (out->len == 0)
    return;
  const char *p = out->data, *end = out->data + out->len;
  while (p < end) {
    assert((size_t)(end - p) > 7 && memcmp(p, "event: ", 7) == 0);
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert(nl != NULL && (size_t)(end - nl) > 6 &&
           memcmp(nl + 1, "data: ", 6) == 0);
    const char *d = nl + 7;
    const char *stop = memmem(d, (size_t)(end - d), "\n\n", 2);
    assert(stop != NULL);
    fuzz_assert_json(sb_slice(d, (size_t)(stop - d)));
    p = stop + 2;
  }
}

/* door_encode's check for a door of named events (Messages, Responses):
 * a stream's events, or the whole answer (valid JSON). */
static SB_UNUSED void door_check_named(const sb_buf_t *out, bool stream,
                                       bool end)
{
  if (stream)
    door_check_events(out);
  else if (end)
    fuzz_assert_json(sb_buf_slice(out));
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
 * what each event wrote (end false) and what the end wrote (end true);
 * what the encoder keeps, when it keeps something, is JSON. */
static SB_UNUSED void door_encode(const sb_codec_encoder_t *enc, const sb_hub_req_t *req,
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
    if (enc->end(st, &end, &one) == SB_OK) {
      check(&one, stream, true);
      if (enc->kept != NULL)
        fuzz_assert_json(enc->kept(st));
    }
  }
  sb_buf_free(&one);
  sb_arena_destroy(&a);
}

#endif
