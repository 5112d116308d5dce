/*
 * The Gemini generateContent format (Google AI Studio, Vertex's Gemini
 * API), internal to src/formats/gemini/. The provider side only: no door
 * speaks Gemini yet, so the pass-through path is never taken here.
 *   url.c       model names and request URLs (chat and embeddings)
 *   schema.c    JSON schemas reduced to the subset Gemini accepts
 *   contents.c  the conversation -> contents and systemInstruction
 *   request.c   tools, toolConfig, generationConfig; the request
 *   answer.c    what answers share: parts -> events, usage, call ids,
 *               error bodies
 *   response.c  a whole generateContent response -> events
 *   stream.c    streamGenerateContent?alt=sse events -> events
 *   embed.c     batchEmbedContents both ways
 *   finish.c    finish reasons both ways
 *   gemini.c    the format's table
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
} sb_gemini_state_t;

sb_gemini_state_t *sb_gemini_state(sb_codec_answer_t *an);

/* Emit one event; SB_ERROR when the sink says stop (SB_AGAIN, "taken but
 * the client is behind", is the gateway's to act on). */
sb_status_t sb_gemini_emit(sb_codec_answer_t *an, const sb_hub_event_t *ev);

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

/* ---- finish reasons (finish.c) ------------------------------------------------ */

sb_finish_t sb_gemini_finish_in(sb_slice_t native);
const char *sb_gemini_finish_out(sb_finish_t f);

#endif
