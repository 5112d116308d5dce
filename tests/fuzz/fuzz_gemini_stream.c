/* libFuzzer driver: the Gemini codec as hostile bytes would reach it (stream,
 * whole body, client request); see codec_stream_fuzz.h. */
#include "codec_stream_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const codec_fuzz_t f = {&sb_codec_gemini, "gemini", "Gemini", SB_SLICE_LIT("\"Gemini\""),
                          SB_SLICE_LIT("gemini-2.5-flash")};
  return codec_fuzz_run(&f, data, size);
}
