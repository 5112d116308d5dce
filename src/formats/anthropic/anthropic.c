/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages format's table: the provider side (request.c,
 * response.c), the Messages door (messages_in.c, messages_out.c) and the
 * stop reasons (finish.c). Anthropic has no embeddings API.
 */
#include "anthropic.h"

const sb_codec_provider_t sb_anthropic_provider = {
    .request = sb_anthropic_request,
    .response = sb_anthropic_response,
    .event = sb_anthropic_event,
    .error_info = sb_anthropic_error_info,
};

const sb_codec_door_t sb_anthropic_door = {
    .check = sb_anthropic_check,
    .envelope = sb_anthropic_envelope,
    .decode = sb_anthropic_decode,
    .encoder = &sb_anthropic_encoder,
    .count = sb_anthropic_count,
};

const sb_codec_t sb_codec_anthropic = {
    .name = "anthropic",
    .provider = &sb_anthropic_provider,
    .door = &sb_anthropic_door,
    .finish_in = sb_anthropic_finish_in,
    .finish_out = sb_anthropic_finish_out,
};
