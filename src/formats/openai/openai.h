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

/* "low" -> SB_HUB_EFFORT_LOW; UNSET for anything else. */
sb_hub_effort_t sb_openai_effort(const sb_json_t *s);
/* SB_HUB_EFFORT_LOW -> "low"; NULL for UNSET. */
const char *sb_openai_effort_name(sb_hub_effort_t e);

/* An error in OpenRouter's shape: {"error":{"code","message","metadata"}}
 * (chat_out.c; the embeddings door answers with it too). */
void sb_openai_error_body(const sb_answer_error_t *err, sb_buf_t *out);

/* The format's reasons (finish.c). */
sb_finish_t sb_openai_finish_in(sb_slice_t native);
const char *sb_openai_finish_out(sb_finish_t f);

#endif
