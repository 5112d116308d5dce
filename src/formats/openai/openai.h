/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI chat-completions format (with OpenRouter's extensions),
 * internal to src/formats/openai/:
 *   chat_in.c      the door: a client's request -> the hub
 *   chat_out.c     the door: hub events -> chat.completion / chunks
 *   request.c      the provider: the hub (or the client's own body) ->
 *                  the provider's request
 *   response.c     the provider: responses and streams -> hub events
 *   passthrough.c  the byte-level rewrite of the pass-through path
 *   finish.c       finish reasons both ways
 */
#ifndef SB_FORMATS_OPENAI_H
#define SB_FORMATS_OPENAI_H

#include "switchboard/codec.h"

/* OpenRouter's names of the formats reasoning details come in. */
#define SB_OPENAI_FMT_ANTHROPIC "anthropic-claude-v1"
#define SB_OPENAI_FMT_GEMINI "google-gemini-v1"
#define SB_OPENAI_FMT_RESPONSES "openai-responses-v1"

extern const sb_codec_door_t sb_openai_chat_door;
extern const sb_codec_encoder_t sb_openai_chat_encoder;
extern const sb_codec_provider_t sb_openai_chat_provider;
extern const sb_codec_embed_door_t sb_openai_embed_door;
extern const sb_codec_embed_provider_t sb_openai_embed_provider;

/* The provider's request (request.c): the client's body rewritten on the
 * pass-through path, else a body written from the hub. */
sb_status_t sb_openai_request(const sb_hub_req_t *req,
                              const sb_codec_route_t *route, bool passthrough,
                              sb_arena_t *a, sb_codec_request_t *out);

/* "data:<media type>;base64,<data>" (jtext): the media type and the data.
 * The URL is unescaped first (JSON may escape its slashes); a URL whose
 * parts hold anything but base64 and media-type bytes is kept whole as a
 * URL (both empty), so what comes out serves as jtext too. In `a`. */
void sb_openai_data_url(sb_arena_t *a, sb_slice_t url_jtext, sb_slice_t *media,
                        sb_slice_t *data);

/* What every OpenAI-style door reads first (chat_in.c): `model` (or,
 * OpenRouter's way, the first of `models` alone), `models`, `provider`,
 * `stream`, and the body itself for a provider of `door_format`. The
 * output cap is the door's. SB_DECLINED with `why`. */
sb_status_t sb_openai_envelope(const sb_json_t *body, const char *door_format,
                               sb_arena_t *a, sb_hub_req_t *req, char *why,
                               size_t whylen);

/* The output format of `type` ("text", "json_object", "json_schema"; an
 * unknown one is SB_HUB_FORMAT_OTHER) into `req`, a JSON schema's name,
 * schema and strictness read from `schema` (chat_in.c). */
void sb_openai_output_format(sb_hub_req_t *req, const sb_json_t *type,
                             const sb_json_t *schema);

/* "low" -> SB_HUB_EFFORT_LOW; UNSET for anything else. */
sb_hub_effort_t sb_openai_effort(const sb_json_t *s);
/* SB_HUB_EFFORT_LOW -> "low"; NULL for UNSET. */
const char *sb_openai_effort_name(sb_hub_effort_t e);

/* An error in OpenRouter's shape: {"error":{"code","message","metadata"}}
 * (chat_out.c; the embeddings door answers with it too). */
void sb_openai_error_body(const sb_answer_error_t *err, sb_buf_t *out);
/* The error's provider details (provider_name, provider_status, raw) as
 * the members of an open `metadata` object (chat_out.c). */
void sb_openai_error_metadata(sb_jw_t *w, const sb_answer_error_t *err);

/* The provider's own usage object (its format is the door's) with `cost`
 * set, into `w` (chat_out.c). False when `usage_json` is empty or not an
 * object: nothing was written. */
bool sb_openai_usage_with_cost(sb_jw_t *w, sb_slice_t usage_json,
                               sb_slice_t cost);

/* What the pass-through path reads in a chat.completion.chunk while it
 * rewrites it (passthrough.c). */
typedef struct {
  sb_slice_t finish, native; /* the first choice's reasons (jtext), if any */
  sb_slice_t usage;          /* the usage object's text, if any */
  bool error;                /* an `error` member that is not null/false */
  bool has_choices;
  size_t n_choices;
  bool has_output;           /* text that is not blank, a tool call,
                                reasoning */
  uint64_t output_bytes;     /* the content's escaped length */
} sb_openai_chunk_t;

/* Text (a jtext) with something but spaces and line breaks in it
 * (passthrough.c). */
bool sb_openai_nonblank(sb_slice_t jtext);

/* `"name":value` after a comma unless it is an object's first member
 * (*comma says; set after), for rewriting an object member by member
 * (passthrough.c). */
sb_status_t sb_openai_put_member(sb_buf_t *out, bool *comma, const char *name,
                                 size_t nn, sb_slice_t value);

/* Check `data` (one stream event's JSON) and append it to `out` with the
 * gateway's id, created, model and provider, without usage, and with
 * native_finish_reason beside finish_reason; fills `f`. SB_ERROR: not a
 * JSON object, or `out` is full. */
sb_status_t sb_openai_rewrite_chunk(sb_slice_t data,
                                    const sb_answer_names_t *names,
                                    sb_buf_t *out, sb_openai_chunk_t *f);

/* The canonical counts of an OpenAI usage object (prompt_tokens with its
 * cached and cache-write details, completion_tokens with its reasoning
 * details). False when `v` is not an object. */
bool sb_openai_usage(const sb_json_t *v, sb_usage_t *u);

/* The format's reasons (finish.c). */
sb_finish_t sb_openai_finish_in(sb_slice_t native);
const char *sb_openai_finish_out(sb_finish_t f);

#endif
