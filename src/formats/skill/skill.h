/* SPDX-License-Identifier: MIT */
/*
 * The canonical skill contract (POST /api/skills/{skill}/chat; SPEC.md,
 * "The canonical skill contract"), internal to src/formats/skill/: a door
 * only, whose semantics are the jq programs of the seed skill file
 * (seeds/openrouter.md: `rest.body` and `response.transform`).
 *   params.c   the params -> the hub request (rest.body); the messages
 *              are OpenAI chat messages, checked and decoded as the OpenAI
 *              chat door does
 *   reply.c    hub events -> {content, tool_calls, stop_reason, usage}
 *              (response.transform), errors as {"error": message}
 *   finish.c   stop reasons both ways
 *   skill.c    the format's table
 * jq semantics that matter here: `a // b` is `a` unless `a` is null or
 * false (0 and "" are kept); `if x then` is taken unless x is null or
 * false; `fromjson?` yields nothing on invalid JSON, and `// {}` turns
 * that (and null or false) into {}.
 */
#ifndef SB_FORMATS_SKILL_H
#define SB_FORMATS_SKILL_H

#include "switchboard/codec.h"

/* max_tokens when the params give none (`.params.max_tokens // 4096`). */
#define SB_SKILL_MAX_TOKENS 4096

sb_status_t sb_skill_envelope(const sb_json_t *params, sb_arena_t *a,
                              sb_hub_req_t *req, char *why, size_t whylen);
sb_status_t sb_skill_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                            size_t whylen);

extern const sb_codec_encoder_t sb_skill_encoder;

sb_finish_t sb_skill_finish_in(sb_slice_t native);
const char *sb_skill_finish_out(sb_finish_t f);

#endif
