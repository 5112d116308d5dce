/*
 * The Gemini format's table: the provider side (chat and embeddings) and
 * its finish reasons. No door speaks Gemini yet.
 */
#include "gemini.h"

static const sb_codec_provider_t provider = {
    .request = sb_gemini_request,
    .response = sb_gemini_response,
    .event = sb_gemini_event,
    .error_info = sb_gemini_error_info,
};

const sb_codec_t sb_codec_gemini = {
    .name = "gemini",
    .provider = &provider,
    .door = NULL,
    .embed_provider = &sb_gemini_embed_provider,
    .embed_door = NULL,
    .finish_in = sb_gemini_finish_in,
    .finish_out = sb_gemini_finish_out,
};
