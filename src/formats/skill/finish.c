/* SPDX-License-Identifier: MIT */
/*
 * The skill contract's stop reasons and the canonical finish reasons,
 * both ways: response.transform's `tool_calls -> tool_use, length ->
 * max_tokens, else end_turn`.
 */
#include "skill.h"

static const struct {
  const char *name;
  sb_finish_t finish;
} reasons[] = {
    {"end_turn", SB_FINISH_STOP},
    {"tool_use", SB_FINISH_TOOL_CALLS},
    {"max_tokens", SB_FINISH_LENGTH},
};

sb_finish_t sb_skill_finish_in(sb_slice_t native)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (sb_slice_eq(native, sb_slice_z(reasons[i].name)))
      return reasons[i].finish;
  return SB_FINISH_STOP;
}

/* Every other end (a filter, an error, none) is an end_turn. */
const char *sb_skill_finish_out(sb_finish_t f)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (reasons[i].finish == f)
      return reasons[i].name;
  return reasons[0].name;
}
