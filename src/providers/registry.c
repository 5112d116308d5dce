/* The table of wire formats this build speaks. */
#include <string.h>

#include "switchboard/codec.h"

static const sb_codec_t *const codecs[] = {
    &sb_codec_openai,
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
