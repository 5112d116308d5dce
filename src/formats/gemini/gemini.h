/* SPDX-License-Identifier: MIT */
/*
 * The Gemini generateContent format (Google AI Studio, Vertex's Gemini
 * API), internal to src/formats/gemini/, both sides.
 * The provider side:
 *   url.c         model names and request URLs (chat and embeddings)
 *   schema.c      JSON schemas reduced to the subset Gemini accepts, and
 *                 Gemini's schemas read back as JSON Schema (the door)
 *   contents.c    the conversation -> contents and systemInstruction
 *   request.c     tools, toolConfig, generationConfig; the request (or the
 *                 client's own body on the pass-through path)
 *   answer.c      what answers share: parts -> events, usage, call ids,
 *                 error bodies
 *   response.c    a whole generateContent response -> events
 *   stream.c      streamGenerateContent?alt=sse events -> events
 *   embed.c       batchEmbedContents both ways (the provider's)
 * The door (a Gemini client: src/api/gemini.c):
 *   door_check.c  a client's body checked against the API's schema
 *   door_in.c     the envelope, settings, tools; countTokens
 *   door_parts.c  contents and systemInstruction -> hub messages
 *   door_out.c    hub events -> a response, its SSE stream or its
 *                 streamed JSON array; errors in Google's shape
 *   door_embed.c  embedContent / batchEmbedContents for any model
 *   opaque.c      other formats' reasoning carried in thoughtSignature
 * And:
 *   finish.c      finish reasons both ways
 *   gemini.c      the format's tables
 */
#ifndef SB_FORMATS_GEMINI_H
#define SB_FORMATS_GEMINI_H

#include "switchboard/codec.h"

/* Token counts above this are treated as absent: a hostile or broken
 * provider must not overflow sums or costs. */
#define SB_GEMINI_MAX_TOKENS ((int64_t)1 << 40)

extern const sb_codec_embed_provider_t sb_gemini_embed_provider;

/* The provider side's entries (codec.h, sb_codec_provider_t). */
sb_status_t sb_gemini_request(const sb_hub_req_t *req,
                              const sb_codec_route_t *route, bool passthrough,
                              sb_arena_t *a, sb_codec_request_t *out);
sb_status_t sb_gemini_response(sb_codec_answer_t *an, sb_slice_t body);
sb_status_t sb_gemini_event(sb_codec_answer_t *an, const sb_sse_event_t *ev);
void sb_gemini_error_info(sb_arena_t *a, sb_slice_t body, sb_slice_t *message,
                          sb_slice_t *code);

/* ---- requests ------------------------------------------------------------ */

/* Why a request cannot be sent: printf-style, into out->error (in `a`);
 * returns SB_ERROR. */
sb_status_t sb_gemini_refuse(sb_arena_t *a, sb_codec_request_t *out,
                             const char *fmt, ...) SB_PRINTF(3, 4);

/* "<base>[/v1beta]/models/<model>:<method>" in `a` for the route's
 * upstream model (a leading "models/" dropped); NULL when the model name
 * is empty or holds anything but letters, digits, '-', '.' and '_' (it
 * must not smuggle a path or a query into the URL). A base URL that
 * already names an API version (/v1, /v1beta) is used as it is.
 * *model (may be NULL): the bare model name. */
const char *sb_gemini_url(sb_arena_t *a, const sb_codec_route_t *route,
                          const char *method, sb_slice_t *model);
#define SB_GEMINI_BAD_MODEL "the model name is not a valid Gemini model name"

/* Write `s` (a JSON schema) reduced to what Gemini accepts: type (a list
 * with "null" becomes nullable), format (the ones Gemini knows), title,
 * description, enum, required, the bounds, pattern, properties, items and
 * anyOf, recursively. Refused (SB_ERROR): $ref, nesting past 32 levels. */
sb_status_t sb_gemini_schema(sb_jw_t *w, const sb_json_t *s, sb_arena_t *a,
                             sb_codec_request_t *out);

/* "contents" (and "systemInstruction" when there are system messages) of
 * the request body being written in `w`. */
sb_status_t sb_gemini_contents(sb_jw_t *w, const sb_hub_req_t *req,
                               sb_arena_t *a, sb_codec_request_t *out);

/* ---- answers ----------------------------------------------------------------- */

/* Per answer state (an->state). */
typedef struct {
  bool started, finished, any_calls, usage_seen;
  int64_t n_calls;       /* function calls so far: the next one's index */
  sb_usage_t usage;      /* the last usage reported (each event repeats it) */
  bool output;           /* the event being decoded gave output (text that
                            is not blank, reasoning, a call, a signature) */
} sb_gemini_state_t;

sb_gemini_state_t *sb_gemini_state(sb_codec_answer_t *an);

/* Emit one event; SB_ERROR when the sink says stop (SB_AGAIN, "taken but
 * the client is behind", is the gateway's to act on). Notes output in the
 * answer's state. */
sb_status_t sb_gemini_emit(sb_codec_answer_t *an, const sb_hub_event_t *ev);

/* The pass-through path: the provider's event or body as it came, one
 * NATIVE event after its typed events (which counted its text). */
sb_status_t sb_gemini_native(sb_codec_answer_t *an, sb_slice_t data);

/* An ERROR event (`message`: bytes) and SB_ERROR. */
sb_status_t sb_gemini_fail(sb_codec_answer_t *an, int status,
                           sb_slice_t message);

/* The events of one candidate's parts, in order: thought text (REASONING),
 * text (TEXT), function calls (TOOL_START and TOOL_ARGS, numbered from
 * st->n_calls), then a part's thoughtSignature (REDACTED, its id the
 * call's when the part is a call). Empty texts give nothing. */
sb_status_t sb_gemini_parts(sb_codec_answer_t *an, sb_gemini_state_t *st,
                            const sb_json_t *root);

/* usageMetadata -> a USAGE event, unless it says what the last one said
 * (or is hostile: negative or huge counts are ignored). */
sb_status_t sb_gemini_usage(sb_codec_answer_t *an, sb_gemini_state_t *st,
                            const sb_json_t *root);

/* The prompt's blockReason (jtext) when the answer has no candidates
 * because the prompt was blocked; empty otherwise. */
sb_slice_t sb_gemini_block_reason(const sb_json_t *root);

/* The FINISH event of `root`, when it reports the end: a blocked prompt
 * (CONTENT_FILTER, native: the blockReason) or the first candidate's
 * finishReason (a natural end with function calls is TOOL_CALLS);
 * `fallback` is the reason taken when it reports none (empty: no FINISH
 * then). Marks the state finished. */
sb_status_t sb_gemini_end(sb_codec_answer_t *an, sb_gemini_state_t *st,
                          const sb_json_t *root, sb_slice_t fallback);

/* ---- the door ---------------------------------------------------------------- */

/* The door's face, and the same format whose streams are Google's JSON
 * array (streamGenerateContent without alt=sse) instead of SSE: a table
 * of its own (an encoder's content type is fixed), named "gemini" too so
 * that a Gemini provider behind it takes the pass-through path. It is not
 * in the registry (sb_codec_find). */
extern const sb_codec_door_t sb_gemini_door;
extern const sb_codec_t sb_codec_gemini_array;
extern const sb_codec_embed_door_t sb_gemini_embed_door;
extern const sb_codec_encoder_t sb_gemini_encoder, sb_gemini_array_encoder;

/* The door's entries (codec.h, sb_codec_door_t). The model and the
 * stream flag are in a Gemini request's URL, not its body: the door sets
 * req->model and req->stream itself, and countTokens leaves req->model
 * alone. */
sb_status_t sb_gemini_check(const sb_json_t *body, char *why, size_t whylen);
sb_status_t sb_gemini_envelope(const sb_json_t *body, sb_arena_t *a,
                               sb_hub_req_t *req, char *why, size_t whylen);
sb_status_t sb_gemini_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                             size_t whylen);
sb_status_t sb_gemini_count(const sb_json_t *body, sb_arena_t *a,
                            sb_hub_req_t *req, sb_buf_t *out, char *why,
                            size_t whylen);

/* The checks of door_check.c, for countTokens (its body is {contents} or
 * {generateContentRequest}) and embedContent / batchEmbedContents. */
sb_status_t sb_gemini_check_count(const sb_json_t *body, char *why,
                                  size_t whylen);
sb_status_t sb_gemini_check_embed(const sb_json_t *body, bool batch, char *why,
                                  size_t whylen);

/* The messages of a Gemini body (systemInstruction, contents) into `req`
 * (door_parts.c). SB_DECLINED: `why`. */
sb_status_t sb_gemini_door_contents(const sb_json_t *body, sb_arena_t *a,
                                    sb_hub_req_t *req, char *why,
                                    size_t whylen);

/* Gemini's status name for an HTTP status ("INVALID_ARGUMENT" for 400,
 * "RESOURCE_EXHAUSTED" for 429, "UNAVAILABLE" for 502 and 503 ...). */
const char *sb_gemini_status_name(int status);
/* {"error":{"code":STATUS,"message":MSG,"status":NAME}} (MSG: bytes). */
sb_status_t sb_gemini_error_body(sb_buf_t *b, int status, sb_slice_t msg);

/* Write `s`, a Gemini Schema (OpenAPI's, types in capitals, nullable) or
 * a JSON Schema, as JSON Schema: type names in lower case, nullable
 * folded into the type, propertyOrdering left out, sub-schemas alike.
 * SB_ERROR: nested past 32 levels. */
sb_status_t sb_gemini_json_schema(sb_jw_t *w, const sb_json_t *s);

/* ---- other formats' reasoning (opaque.c) ------------------------------------ */

/* A thoughtSignature the door hands out for reasoning a Gemini client has
 * no form for (Anthropic's signed thinking, redacted or encrypted
 * reasoning): base64 of this prefix and a JSON array of the reasoning, as
 * OpenRouter's reasoning_details entries. The client sends it back on the
 * part it came with, and the door restores the reasoning. */
#define SB_GEMINI_RD_PREFIX "sb-rd:"

/* One entry of such a payload, written into `w` (an open array): a
 * REASONING block (`text` its text, `sig` its signature) or a REDACTED
 * one (`sig` its data, `id` its call's id). Slices are jtext. */
void sb_gemini_rd_entry(sb_jw_t *w, bool redacted, sb_slice_t text,
                        sb_slice_t sig, sb_slice_t id, sb_hub_sig_t format);
/* The thoughtSignature (a JSON string, quoted) of the entries `json`
 * (an array's text), into `out`. */
sb_status_t sb_gemini_rd_seal(sb_slice_t json, sb_buf_t *out);
/* The blocks a thoughtSignature (jtext) carries, appended to `b`:
 * SB_OK; SB_DECLINED when it is not such a payload (a Gemini signature);
 * SB_ERROR when out of memory. */
sb_status_t sb_gemini_rd_open(sb_arena_t *a, sb_slice_t sig,
                              sb_hub_blocks_t *b);

/* ---- finish reasons (finish.c) ------------------------------------------------ */

sb_finish_t sb_gemini_finish_in(sb_slice_t native);
const char *sb_gemini_finish_out(sb_finish_t f);

#endif
