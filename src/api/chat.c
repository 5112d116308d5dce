/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/chat/completions (and /api/v1/...): the OpenAI / OpenRouter
 * chat API. The door: the body is parsed, the OpenAI format checks and
 * reads it (src/formats/openai/), and a call answers in that format.
 */
#include "endpoint.h"

void sb_api_chat(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *body = sb_api_parse_object(x, SB_API_OPENAI);
  if (body == NULL)
    return;
  sb_call_t *c = sb_api_call(x, who, &sb_codec_openai, "chat", SB_API_OPENAI,
                             NULL);
  if (c == NULL || !sb_api_envelope(x, c, &sb_codec_openai, body, SB_API_OPENAI))
    return;
  sb_call_start(c);
}
