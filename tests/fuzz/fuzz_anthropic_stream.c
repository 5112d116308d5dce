/* libFuzzer driver: the Anthropic codec as hostile bytes would reach it (stream,
 * whole body, client request); see codec_stream_fuzz.h. */
#include "codec_stream_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const codec_fuzz_t f = {&sb_codec_anthropic, "anthropic", "Anthropic", SB_SLICE_LIT("\"Anthropic\""),
                          SB_SLICE_LIT("claude-3-5-haiku-20241022")};
  return codec_fuzz_run(&f, data, size);
}
