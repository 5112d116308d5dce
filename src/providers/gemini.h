/* The Gemini generateContent codec's two halves (internal to
 * src/providers/): gemini.c builds the request, gemini_stream.c decodes
 * answers. */
#ifndef SB_PROVIDERS_GEMINI_H
#define SB_PROVIDERS_GEMINI_H

#include "codec_util.h"

#define SB_GEMINI_FORMAT "google-gemini-v1"

sb_status_t sb_gemini_chat_request(sb_call_t *c, sb_upstream_request_t *r);
void sb_gemini_chat_response(sb_call_t *c, sb_slice_t body);
sb_status_t sb_gemini_chat_event(sb_call_t *c, const sb_sse_event_t *ev);
void sb_gemini_error_info(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                          sb_slice_t *code);

/* finishReason -> canonical finish reason */
const char *sb_gemini_finish(sb_slice_t reason, bool tool_calls);

#endif
