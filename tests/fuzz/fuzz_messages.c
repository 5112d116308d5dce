/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the Anthropic Messages door, fed hostile bytes. The
 * first byte picks the target:
 * 0: a Messages request: checked against the schema; one that passes is
 *    decoded into the hub (every jtext must be a JSON string's contents,
 *    every json member JSON) and built into an Anthropic request both
 *    ways (translated and passed through), which must be valid JSON;
 * 1, 2: hub events, one a line (the first byte of a line picks the kind,
 *    the second an index or format, the rest is the text), through the
 *    encoder as a stream (1: every event an `event:` line and a `data:`
 *    line of JSON) or a whole message (2: valid JSON). */
#include "door_fuzz.h"
#include "formats/anthropic/anthropic.h"

static void build(const sb_hub_req_t *req, bool passthrough, sb_arena_t *a)
{
  static const sb_provider_t provider = {.name = "anthropic",
                                         .base_url = "http://127.0.0.1:9"};
  door_fuzz_build(&sb_anthropic_provider, &provider, "claude-x", req,
                  passthrough, a);
}

static void request(const char *in, size_t n, bool for_count)
{
  sb_arena_t a;
  sb_json_t *v;
  char why[256];
  sb_arena_init(&a, 4096, 64u << 20);
  if (sb_json_parse_flags(&a, in, n, 0, SB_JSON_REJECT_DUPLICATES, &v, NULL) ==
          SB_OK &&
      sb_messages_validate(v, for_count, why, sizeof(why)) == SB_OK) {
    sb_hub_req_t req;
    memset(&req, 0, sizeof(req));
    if (sb_anthropic_envelope(v, &a, &req, why, sizeof(why)) == SB_OK) {
      build(&req, true, &a);
      if (sb_anthropic_decode(&req, &a, why, sizeof(why)) == SB_OK) {
        for (size_t i = 0; i < req.n_msgs; i++)
          door_check_blocks(req.msgs[i].blocks, req.msgs[i].n_blocks);
        (void)sb_hub_estimate_input(&req);
        build(&req, false, &a);
      }
    }
  }
  sb_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 3) {
  case 0:
    request(in, n, (n & 1) != 0);
    break;
  default:
    door_encode(&sb_anthropic_encoder, NULL, in, n, data[0] % 3 == 1,
                door_check_named);
    break;
  }
  return 0;
}
