/* The table of wire formats this build speaks. */
#include <string.h>

#include "switchboard/codec.h"

static const sb_codec_t *const codecs[] = {
    &sb_codec_openai,
    &sb_codec_anthropic,
    &sb_codec_gemini,
};

const sb_codec_t *sb_codec_find(const char *format)
{
  if (format == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
    if (strcmp(codecs[i]->name, format) == 0)
      return codecs[i];
  return NULL;
}
