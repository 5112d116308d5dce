/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages format, internal to src/formats/anthropic/:
 *   anthropic.c          the table (sb_codec_anthropic)
 *   request.c            the provider: the hub (or the client's own body)
 *                        -> POST /v1/messages
 *   response.c           the provider: responses and streams -> hub events
 *   messages_validate.c  the door: a client's body checked against the
 *                        Messages schema
 *   messages_in.c        the door: a client's body -> the hub
 *   messages_out.c       the door: hub events -> a message / its stream
 *   opaque.c             reasoning of other formats carried through
 *                        redacted_thinking blocks ("sb-rd:")
 *   finish.c             stop reasons both ways
 * The Messages door (src/api/messages.c) includes this header for the
 * validator and the error shape.
 */
#ifndef SB_FORMATS_ANTHROPIC_H
#define SB_FORMATS_ANTHROPIC_H

#include "switchboard/codec.h"

extern const sb_codec_provider_t sb_anthropic_provider;
extern const sb_codec_door_t sb_anthropic_door;
extern const sb_codec_encoder_t sb_anthropic_encoder;

/* ---- the provider side -------------------------------------------------- */

/* The face's provider functions (codec.h): request.c, response.c. */
sb_status_t sb_anthropic_request(const sb_hub_req_t *req,
                                 const sb_codec_route_t *route,
                                 bool passthrough, sb_arena_t *a,
                                 sb_codec_request_t *out);
sb_status_t sb_anthropic_response(sb_codec_answer_t *an, sb_slice_t body);
sb_status_t sb_anthropic_event(sb_codec_answer_t *an, const sb_sse_event_t *ev);
void sb_anthropic_error_info(sb_arena_t *a, sb_slice_t body,
                             sb_slice_t *message, sb_slice_t *code);

/* The tool that carries a json_object / json_schema response_format: the
 * request forces it, and its input is the answer's text. */
#define SB_ANTHROPIC_JSON_TOOL "json_response"

/* Does the request for `req` force SB_ANTHROPIC_JSON_TOOL? (The request
 * builder decides, the answer's decoder asks again.) */
bool sb_anthropic_json_tool(const sb_hub_req_t *req, bool passthrough);

/* Token counts above this are taken as absent (a hostile or broken
 * upstream must not overflow sums or costs). */
#define SB_ANTHROPIC_MAX_TOKENS ((int64_t)1 << 40)

/* ---- the door ----------------------------------------------------------- */

/* The face's door functions (codec.h): messages_in.c. */
sb_status_t sb_anthropic_check(const sb_json_t *body, char *why, size_t whylen);
sb_status_t sb_anthropic_count(const sb_json_t *body, sb_arena_t *a,
                               sb_hub_req_t *req, sb_buf_t *out, char *why,
                               size_t whylen);
sb_status_t sb_anthropic_envelope(const sb_json_t *body, sb_arena_t *a,
                                  sb_hub_req_t *req, char *why, size_t whylen);
sb_status_t sb_anthropic_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                                size_t whylen);

/* Check a Messages request against the API's schema (messages_validate.c):
 * every member the API defines, its type and range, nested content blocks
 * included. SB_DECLINED with `why` naming the member by its path
 * ("messages.1.content.0.source.media_type: must be ..."). count_tokens
 * (`for_count`) takes no max_tokens. */
sb_status_t sb_messages_validate(const sb_json_t *req, bool for_count,
                                 char *why, size_t whylen);

/* Anthropic's error type for an HTTP status ("invalid_request_error",
 * "overloaded_error" for 529, "api_error" for other 5xx, ...). */
const char *sb_anthropic_error_type(int status);
/* {"type":"error","error":{"type":TYPE,"message":MSG}} (MSG: bytes). */
sb_status_t sb_anthropic_error_body(sb_buf_t *b, const char *type,
                                    const char *msg, size_t n);

/* ---- reasoning of other formats ----------------------------------------- */

/* A redacted_thinking block whose data starts with SB_HUB_OPAQUE_PREFIX
 * carries reasoning the Messages API has no form for (a Gemini thought
 * signature, another format's encrypted reasoning): sb_hub_opaque_write()
 * writes it, sb_hub_opaque_read() restores it from the client's next
 * turn. */

/* Can Anthropic replay this reasoning (its own, or of no format named)? */
static inline bool sb_anthropic_sig_native(sb_hub_sig_t f)
{
  return f == SB_HUB_SIG_NONE || f == SB_HUB_SIG_ANTHROPIC;
}

/* ---- stop reasons (finish.c) -------------------------------------------- */

sb_finish_t sb_anthropic_finish_in(sb_slice_t native);
/* end_turn, max_tokens, tool_use, refusal (end_turn for an error); NULL
 * for SB_FINISH_NONE. */
const char *sb_anthropic_finish_out(sb_finish_t f);
/* The stop_reason of an answer: `native` when it is one of Anthropic's
 * (a stop_sequence, a pause_turn), else the one of `f` (end_turn when
 * none). */
const char *sb_anthropic_stop_reason(sb_finish_t f, sb_slice_t native);

#endif
