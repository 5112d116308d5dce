/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/messages and /v1/messages/count_tokens (and /api/v1/...): the
 * Anthropic Messages API for any model. The door: the body is parsed, the
 * Anthropic format checks and reads it (src/formats/anthropic/), and a
 * call answers in that format; Anthropic models get the client's body
 * with its version and beta headers (the pass-through path).
 */
#include "endpoint.h"

/* The client's headers an Anthropic provider gets. */
static const char *const anthropic_headers[] = {"anthropic-version",
                                                "anthropic-beta", NULL};

void sb_api_messages(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *body = sb_api_parse_object(x, SB_API_ANTHROPIC);
  if (body == NULL)
    return;
  sb_call_t *c = sb_api_call(x, who, &sb_codec_anthropic, "messages",
                             SB_API_ANTHROPIC, anthropic_headers);
  if (c == NULL ||
      !sb_api_envelope(x, c, &sb_codec_anthropic, body, SB_API_ANTHROPIC))
    return;
  /* the SDK's beta client asks with ?beta=true: so does the pass-through */
  if (SB_SLICE_IS(sb_http_query_param(&x->arena, x->req.query, "beta"), "true"))
    sb_call_hub(c)->forward_query = SB_SLICE_LIT("beta=true");
  sb_call_start(c);
}

void sb_api_messages_count_tokens(sb_http_exchange_t *x,
                                  const sb_identity_t *who)
{
  (void)who;
  sb_json_t *body = sb_api_parse_object(x, SB_API_ANTHROPIC);
  if (body != NULL)
    sb_api_count(x, &sb_codec_anthropic, body, SB_API_ANTHROPIC,
                 SB_NULL_SLICE);
}
