/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the OpenAI format's provider side as hostile bytes
 * would reach it (stream and whole body, translated and on the pass-through
 * path, and a client's request built both ways); see format_fuzz.h. */
#include "format_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return format_fuzz_run(&sb_codec_openai, data, size);
}
