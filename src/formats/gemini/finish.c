/* SPDX-License-Identifier: MIT */
/*
 * Gemini's finish reasons and the canonical ones, both ways, from one
 * table. Reading: a reason Gemini gives -> its canonical reason (one this
 * table lacks, or OTHER, is a natural end; the decoders make a natural
 * end with function calls TOOL_CALLS). Writing: the row marked for a
 * canonical reason (function calls end with STOP, as Gemini's own do; an
 * error is OTHER).
 */
#include "gemini.h"

#define OUT(f) (1u << (f))

static const struct {
  const char *name;
  sb_finish_t in;
  unsigned out; /* the canonical reasons written as `name` */
} reasons[] = {
    {"STOP", SB_FINISH_STOP, OUT(SB_FINISH_STOP) | OUT(SB_FINISH_TOOL_CALLS)},
    {"MAX_TOKENS", SB_FINISH_LENGTH, OUT(SB_FINISH_LENGTH)},
    {"SAFETY", SB_FINISH_CONTENT_FILTER, OUT(SB_FINISH_CONTENT_FILTER)},
    {"RECITATION", SB_FINISH_CONTENT_FILTER, 0},
    {"BLOCKLIST", SB_FINISH_CONTENT_FILTER, 0},
    {"PROHIBITED_CONTENT", SB_FINISH_CONTENT_FILTER, 0},
    {"SPII", SB_FINISH_CONTENT_FILTER, 0},
    {"LANGUAGE", SB_FINISH_CONTENT_FILTER, 0},
    {"IMAGE_SAFETY", SB_FINISH_CONTENT_FILTER, 0},
    {"IMAGE_PROHIBITED_CONTENT", SB_FINISH_CONTENT_FILTER, 0},
    {"IMAGE_RECITATION", SB_FINISH_CONTENT_FILTER, 0},
    {"MALFORMED_FUNCTION_CALL", SB_FINISH_ERROR, 0},
    {"UNEXPECTED_TOOL_CALL", SB_FINISH_ERROR, 0},
    {"OTHER", SB_FINISH_STOP, OUT(SB_FINISH_ERROR)},
};

sb_finish_t sb_gemini_finish_in(sb_slice_t native)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (sb_slice_eq(native, sb_slice_z(reasons[i].name)))
      return reasons[i].in;
  return SB_FINISH_STOP;
}

const char *sb_gemini_finish_out(sb_finish_t f)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(reasons); i++)
    if (reasons[i].out & OUT(f))
      return reasons[i].name;
  return NULL;
}
