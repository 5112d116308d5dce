/* SPDX-License-Identifier: MIT */
/* The skill contract's table: a door, no provider side. */
#include "skill.h"

static const sb_codec_door_t door = {
    .envelope = sb_skill_envelope,
    .decode = sb_skill_decode,
    .encoder = &sb_skill_encoder,
};

const sb_codec_t sb_codec_skill = {
    .name = "skill",
    .door = &door,
    .finish_in = sb_skill_finish_in,
    .finish_out = sb_skill_finish_out,
};
