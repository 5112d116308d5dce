/* SPDX-License-Identifier: MIT */
/*
 * A whole generateContent response (2xx) -> hub events: the start, the
 * parts (answer.c), the end (finishReason, STOP when it gives none; a
 * blocked prompt is CONTENT_FILTER) and the usage; on the pass-through
 * path (a Gemini client), then the body as it came.
 */
#include <stdio.h>

#include "gemini.h"

/* A 2xx body carrying {"error": ...}: the provider's message. */
static sb_status_t error_body(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_slice_t msg, code;
  sb_gemini_error_info(an->scratch, body, &msg, &code);
  const char *name = an->route != NULL && an->route->provider != NULL &&
                             an->route->provider->name != NULL
                         ? an->route->provider->name
                         : "gemini";
  char text[512];
  int n = snprintf(text, sizeof(text), "provider %s reported an error: %.*s",
                   name, (int)SB_MIN(msg.len, 400),
                   msg.ptr != NULL ? msg.ptr : "");
  return sb_gemini_fail(an, 502, sb_slice(text, (size_t)SB_MIN(n, 511)));
}

sb_status_t sb_gemini_response(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_gemini_state_t *st = sb_gemini_state(an);
  sb_json_t *root;
  if (st == NULL)
    return sb_gemini_fail(an, 502, SB_SLICE_LIT("out of memory"));
  if (sb_json_parse(an->scratch, body.ptr, body.len, 0, &root, NULL) !=
          SB_OK ||
      root->type != SB_JSON_OBJECT)
    return sb_gemini_fail(an, 502,
                          SB_SLICE_LIT("the provider returned a response "
                                       "that is not a JSON object"));
  if (sb_json_truthy(sb_json_get(root, "error")))
    return error_body(an, body);
  if (sb_gemini_block_reason(root).len == 0 &&
      sb_json_get(root, "candidates") == NULL)
    return sb_gemini_fail(an, 502,
                          SB_SLICE_LIT("the provider's response has no "
                                       "candidates"));
  sb_hub_event_t start = {.kind = SB_HUB_EV_START};
  st->started = true;
  if (sb_gemini_emit(an, &start) != SB_OK ||
      sb_gemini_parts(an, st, root) != SB_OK ||
      sb_gemini_end(an, st, root, SB_SLICE_LIT("STOP")) != SB_OK ||
      sb_gemini_usage(an, st, root) != SB_OK)
    return SB_ERROR;
  return an->passthrough ? sb_gemini_native(an, body) : SB_OK;
}
