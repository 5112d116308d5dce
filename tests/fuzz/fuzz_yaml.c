/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: YAML to JSON (configs and skill files). Whatever the
 * input, a successful conversion must be valid JSON. */
#include <assert.h>
#include <stdint.h>

#include "switchboard/json.h"
#include "switchboard/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sb_buf_t out;
  char err[256];
  sb_buf_init(&out, 1 << 20);
  if (sb_yaml_to_json((const char *)data, size, SB_YAML_EXPAND_ENV, &out, err,
                      sizeof(err)) == SB_OK) {
    sb_json_error_t jerr;
    assert(sb_json_validate(out.data ? out.data : "", out.len, 256, &jerr) ==
           SB_OK);
  }
  sb_slice_t fm;
  (void)sb_yaml_front_matter(sb_slice((const char *)data, size), &fm);
  sb_buf_free(&out);
  return 0;
}
