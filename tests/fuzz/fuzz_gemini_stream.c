/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the Gemini format's provider side as hostile bytes
 * would reach it (stream, whole body, client request); see format_fuzz.h. */
#include "format_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return format_fuzz_run(&sb_codec_gemini, data, size);
}
