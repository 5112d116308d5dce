/* libFuzzer driver: the Anthropic Messages translation, fed hostile JSON.
 * The first byte picks the target: a Messages request (-> OpenAI request),
 * a chat.completion (-> message), or chunks separated by newlines (-> the
 * stream events). Whatever is produced must be valid JSON, and every
 * stream event must have an `event:` and a valid `data:` line. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "switchboard/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_events(const sb_buf_t *out)
{
  const char *p = out->data, *end = out->data + out->len;
  while (p < end) {
    assert((size_t)(end - p) > 7 && memcmp(p, "event: ", 7) == 0);
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert(nl != NULL && (size_t)(end - nl) > 6 && memcmp(nl + 1, "data: ", 6) == 0);
    const char *d = nl + 7;
    const char *stop = memmem(d, (size_t)(end - d), "\n\n", 2);
    assert(stop != NULL);
    sb_json_error_t e;
    assert(sb_json_validate(d, (size_t)(stop - d), 0, &e) == SB_OK);
    p = stop + 2;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0] % 3;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  sb_arena_t a;
  sb_buf_t out;
  sb_json_t *v;
  sb_json_error_t e;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 1u << 20);
  if (mode == 0) {
    char why[256];
    if (sb_json_parse(&a, in, n, 0, &v, NULL) == SB_OK) {
      (void)sb_messages_estimate_tokens(v);
      if (sb_messages_to_openai(&a, v, (n & 1) != 0, &out, why, sizeof(why)) ==
          SB_OK)
        assert(sb_json_validate(out.data, out.len, 0, &e) == SB_OK);
    }
  } else if (mode == 1) {
    sb_usage_t u = {.prompt = n, .completion = 3, .cached = n / 2};
    if (sb_json_parse(&a, in, n, 0, &v, NULL) == SB_OK &&
        sb_messages_from_openai(&a, v, &u, SB_SLICE_LIT("\"msg_x\""),
                                SB_SLICE_LIT("\"m\""), &out) == SB_OK)
      assert(sb_json_validate(out.data, out.len, 0, &e) == SB_OK);
  } else {
    sb_msg_stream_t s;
    sb_usage_t u = {.prompt = 5, .completion = 5};
    sb_msg_stream_init(&s);
    const char *p = in, *end = in + n;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
      sb_arena_reset(&a);
      sb_buf_reset(&s.out);
      if (sb_json_parse(&a, p, len, 0, &v, NULL) == SB_OK &&
          sb_msg_stream_chunk(&s, v) == SB_OK)
        check_events(&s.out);
      p += len + (nl != NULL ? 1 : 0);
    }
    sb_buf_reset(&s.out);
    sb_msg_stream_end(&s, &u);
    check_events(&s.out);
    sb_msg_stream_free(&s);
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
  return 0;
}
