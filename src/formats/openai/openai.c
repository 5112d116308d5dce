/* SPDX-License-Identifier: MIT */
/* The OpenAI chat format's table (include/switchboard/codec.h). */
#include "openai.h"

const sb_codec_t sb_codec_openai = {
    .name = "openai",
    .provider = &sb_openai_chat_provider,
    .door = &sb_openai_chat_door,
    .embed_provider = &sb_openai_embed_provider,
    .embed_door = &sb_openai_embed_door,
    .finish_in = sb_openai_finish_in,
    .finish_out = sb_openai_finish_out,
};
