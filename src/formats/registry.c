/* SPDX-License-Identifier: MIT */
/* The wire formats by name (include/switchboard/codec.h). */
#include "switchboard/codec.h"

static const sb_codec_t *const formats[] = {
    &sb_codec_openai,
    &sb_codec_anthropic,
    &sb_codec_gemini,
    &sb_codec_skill,
    &sb_codec_responses,
};

const sb_codec_t *sb_codec_find(const char *name)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(formats); i++)
    if (strcmp(formats[i]->name, name) == 0)
      return formats[i];
  return NULL;
}
