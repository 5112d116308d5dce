/* SPDX-License-Identifier: MIT */
/*
 * Anthropic's stop reasons, both ways: the one table the provider side
 * reads stop_reason with and the Messages door writes it from.
 */
#include "anthropic.h"

/* In -> canonical; out: the first entry of a canonical reason. */
static const struct {
  const char *name;
  sb_finish_t finish;
} reasons[] = {
    {"end_turn", SB_FINISH_STOP},
    {"stop_sequence", SB_FINISH_STOP},
    {"pause_turn", SB_FINISH_STOP},
    {"max_tokens", SB_FINISH_LENGTH},
    {"model_context_window_exceeded", SB_FINISH_LENGTH},
    {"tool_use", SB_FINISH_TOOL_CALLS},
    {"refusal", SB_FINISH_CONTENT_FILTER},
};

/* The table's entry for `native`, or NULL. */
static const char *known(sb_slice_t native, sb_finish_t *f)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (sb_slice_eq(native, sb_slice_z(reasons[i].name))) {
      *f = reasons[i].finish;
      return reasons[i].name;
    }
  return NULL;
}

sb_finish_t sb_anthropic_finish_in(sb_slice_t native)
{
  sb_finish_t f = SB_FINISH_STOP; /* a reason added later ends the turn */
  known(native, &f);
  return f;
}

const char *sb_anthropic_finish_out(sb_finish_t f)
{
  if (f == SB_FINISH_NONE)
    return NULL;
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (reasons[i].finish == f)
      return reasons[i].name;
  return "end_turn"; /* SB_FINISH_ERROR: the turn ended, if badly */
}

const char *sb_anthropic_stop_reason(sb_finish_t f, sb_slice_t native)
{
  sb_finish_t ignored;
  const char *name = known(native, &ignored);
  if (name != NULL)
    return name;
  name = sb_anthropic_finish_out(f);
  return name != NULL ? name : "end_turn";
}
