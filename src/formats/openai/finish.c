/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI format's finish reasons and reasoning efforts, both ways:
 * the canonical reasons are OpenAI's own words, plus the legacy
 * "function_call".
 */
#include "openai.h"

sb_finish_t sb_openai_finish_in(sb_slice_t native)
{
  if (SB_SLICE_IS(native, "function_call"))
    return SB_FINISH_TOOL_CALLS;
  sb_finish_t f = sb_finish_parse(native);
  return f != SB_FINISH_NONE ? f : SB_FINISH_STOP;
}

const char *sb_openai_finish_out(sb_finish_t f)
{
  return sb_finish_name(f);
}

static const char *const effort_names[] = {
    [SB_HUB_EFFORT_UNSET] = NULL,       [SB_HUB_EFFORT_NONE] = "none",
    [SB_HUB_EFFORT_MINIMAL] = "minimal", [SB_HUB_EFFORT_LOW] = "low",
    [SB_HUB_EFFORT_MEDIUM] = "medium",   [SB_HUB_EFFORT_HIGH] = "high",
    [SB_HUB_EFFORT_XHIGH] = "xhigh",
};

const char *sb_openai_effort_name(sb_hub_effort_t e)
{
  return (size_t)e < SB_ARRAY_LEN(effort_names) ? effort_names[e] : NULL;
}

sb_hub_effort_t sb_openai_effort(const sb_json_t *s)
{
  for (size_t i = 1; i < SB_ARRAY_LEN(effort_names); i++)
    if (sb_json_str_eq(s, effort_names[i], strlen(effort_names[i])))
      return (sb_hub_effort_t)i;
  return SB_HUB_EFFORT_UNSET;
}
