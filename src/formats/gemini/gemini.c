/* SPDX-License-Identifier: MIT */
/*
 * The Gemini format's tables: the provider side (chat and embeddings),
 * the door (its streams as SSE, or, in a table of its own, as Google's
 * JSON array) and its finish reasons.
 */
#include "gemini.h"

static const sb_codec_provider_t provider = {
    .request = sb_gemini_request,
    .response = sb_gemini_response,
    .event = sb_gemini_event,
    .error_info = sb_gemini_error_info,
};

const sb_codec_door_t sb_gemini_door = {
    .check = sb_gemini_check,
    .envelope = sb_gemini_envelope,
    .decode = sb_gemini_decode,
    .encoder = &sb_gemini_encoder,
    .count = sb_gemini_count,
};

static const sb_codec_door_t array_door = {
    .check = sb_gemini_check,
    .envelope = sb_gemini_envelope,
    .decode = sb_gemini_decode,
    .encoder = &sb_gemini_array_encoder,
    .count = sb_gemini_count,
};

const sb_codec_t sb_codec_gemini = {
    .name = "gemini",
    .provider = &provider,
    .door = &sb_gemini_door,
    .embed_provider = &sb_gemini_embed_provider,
    .embed_door = &sb_gemini_embed_door,
    .finish_in = sb_gemini_finish_in,
    .finish_out = sb_gemini_finish_out,
};

const sb_codec_t sb_codec_gemini_array = {
    .name = "gemini",
    .provider = &provider,
    .door = &array_door,
    .embed_provider = &sb_gemini_embed_provider,
    .embed_door = &sb_gemini_embed_door,
    .finish_in = sb_gemini_finish_in,
    .finish_out = sb_gemini_finish_out,
};
