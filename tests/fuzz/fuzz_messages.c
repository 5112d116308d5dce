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
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "door_fuzz.h"
#include "formats/anthropic/anthropic.h"

static void build(const sb_hub_req_t *req, bool passthrough, sb_arena_t *a)
{
  static sb_provider_t provider = {.name = "anthropic",
                                   .base_url = "http://127.0.0.1:9"};
  sb_codec_route_t route = {.provider = &provider,
                            .upstream_model = SB_SLICE_LIT("claude-x")};
  sb_buf_t body;
  sb_codec_request_t r;
  memset(&r, 0, sizeof(r));
  sb_buf_init(&body, 4u << 20);
  r.body = &body;
  sb_status_t rc = sb_anthropic_request(req, &route, passthrough, a, &r);
  if (rc == SB_OK) {
    assert(r.url != NULL);
    fuzz_assert_json(sb_buf_slice(&body));
  } else if (rc == SB_ERROR) {
    assert(r.error != NULL && r.error[0] != '\0');
  }
  sb_buf_free(&body);
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

/* Every event an `event:` line and a `data:` line of JSON. */
static void check_events(const sb_buf_t *out)
{
  const char *p = out->data, *end = out->data + out->len;
  while (p < end) {
    assert((size_t)(end - p) > 7 && memcmp(p, "event: ", 7) == 0);
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert(nl != NULL && (size_t)(end - nl) > 6 &&
           memcmp(nl + 1, "data: ", 6) == 0);
    const char *d = nl + 7;
    const char *stop = memmem(d, (size_t)(end - d), "\n\n", 2);
    assert(stop != NULL);
    fuzz_assert_json(sb_slice(d, (size_t)(stop - d)));
    p = stop + 2;
  }
}

/* A stream's events, or the whole message (valid JSON). */
static void check_output(const sb_buf_t *out, bool stream, bool end)
{
  if (stream)
    check_events(out);
  else if (end)
    fuzz_assert_json(sb_buf_slice(out));
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
                check_output);
    break;
  }
  return 0;
}
