/* libFuzzer driver: the OpenAI codec as hostile bytes would reach it (stream,
 * whole body, client request); see codec_stream_fuzz.h. */
#include "codec_stream_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const codec_fuzz_t f = {&sb_codec_openai, "openai", "OpenAI", SB_SLICE_LIT("\"OpenAI\""),
                          SB_SLICE_LIT("gpt-4o-mini")};
  return codec_fuzz_run(&f, data, size);
}
