/* SPDX-License-Identifier: MIT */
/*
 * streamGenerateContent?alt=sse: each event is a whole
 * GenerateContentResponse holding the next parts and the usage so far;
 * the one with a finishReason ends the answer (events after it may still
 * update the usage). The stream has no end marker: it ends with the body,
 * so this never returns SB_DONE, and a stream cut before a finishReason
 * has no FINISH (the gateway tells). An {"error": ...} event is the
 * provider failing mid-answer: UNAVAILABLE is a 503, RESOURCE_EXHAUSTED a
 * 429, anything else a 502. On the pass-through path (a Gemini client)
 * each event also goes on as it came (a NATIVE event).
 */
#include "gemini.h"

static sb_status_t stream_error(sb_codec_answer_t *an, sb_slice_t data)
{
  sb_slice_t msg, code;
  sb_gemini_error_info(an->scratch, data, &msg, &code);
  int status = 502;
  if (SB_SLICE_IS(code, "UNAVAILABLE"))
    status = 503;
  else if (SB_SLICE_IS(code, "RESOURCE_EXHAUSTED"))
    status = 429;
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = status,
                       .text = msg.len > 0 ? msg : SB_SLICE_LIT("provider error"),
                       .from_provider = true};
  (void)sb_gemini_emit(an, &ev);
  return SB_ERROR;
}

sb_status_t sb_gemini_event(sb_codec_answer_t *an, const sb_sse_event_t *ev)
{
  sb_gemini_state_t *st = sb_gemini_state(an);
  sb_json_t *root;
  if (st == NULL)
    return sb_gemini_fail(an, 502, SB_SLICE_LIT("out of memory"));
  if (ev->data.len == 0)
    return SB_OK;
  if (sb_json_parse(an->scratch, ev->data.ptr, ev->data.len, 0, &root,
                    NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT)
    return sb_gemini_fail(an, 502,
                          SB_SLICE_LIT("the provider sent an invalid stream "
                                       "event"));
  if (sb_json_truthy(sb_json_get(root, "error")))
    return stream_error(an, ev->data);
  if (!st->finished) {
    if (!st->started) {
      sb_hub_event_t start = {.kind = SB_HUB_EV_START};
      st->started = true;
      if (sb_gemini_emit(an, &start) != SB_OK)
        return SB_ERROR;
    }
    if (sb_gemini_parts(an, st, root) != SB_OK ||
        sb_gemini_end(an, st, root, SB_NULL_SLICE) != SB_OK)
      return SB_ERROR;
  }
  if (sb_gemini_usage(an, st, root) != SB_OK)
    return SB_ERROR;
  return an->passthrough ? sb_gemini_native(an, ev->data) : SB_OK;
}
