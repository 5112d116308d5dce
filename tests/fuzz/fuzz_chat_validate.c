/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the chat request's schema check (src/api/chat_validate.c)
 * on hostile JSON. Any parsed document is checked (the whole request, its
 * `messages` alone, and `max_tokens` / `temperature` as single members):
 * the verdict is the same twice, a refusal always has a message that fits
 * its buffer and names a member ('...' must be / is required) or the body,
 * and a request whose messages are refused is refused as a whole. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "formats/openai/chat_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(sb_status_t rc, const char *why, size_t cap)
{
  if (rc == SB_OK)
    return;
  size_t n = strnlen(why, cap);
  assert(n > 0 && n < cap);
  assert(why[0] == '\'' || strcmp(why, "the body must be a JSON object") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sb_arena_t a;
  sb_json_t *req;
  char why[512], again[512], small[24];
  sb_arena_init(&a, 4096, 64u << 20);
  if (sb_json_parse_flags(&a, (const char *)data, size, 0,
                          SB_JSON_REJECT_DUPLICATES, &req, NULL) == SB_OK) {
    sb_status_t rc = sb_chat_validate(req, why, sizeof(why));
    check_message(rc, why, sizeof(why));
    assert(sb_chat_validate(req, again, sizeof(again)) == rc);
    assert(rc == SB_OK || strcmp(why, again) == 0);
    /* a short buffer: the same verdict, a terminated message */
    assert(sb_chat_validate(req, small, sizeof(small)) == rc);
    assert(rc == SB_OK || strnlen(small, sizeof(small)) < sizeof(small));
    if (sb_json_is(req, SB_JSON_OBJECT)) {
      const sb_json_t *m = sb_json_get(req, "messages");
      sb_status_t mrc = sb_chat_validate_messages(m, again, sizeof(again));
      check_message(mrc, again, sizeof(again));
      if (mrc != SB_OK)
        assert(rc == SB_ERROR);
      static const char *const members[] = {"max_tokens", "temperature"};
      for (size_t i = 0; i < 2; i++) {
        const sb_json_t *v = sb_json_getn(req, members[i], strlen(members[i]));
        if (v != NULL)
          check_message(sb_chat_validate_member(members[i], v, again,
                                                sizeof(again)),
                        again, sizeof(again));
      }
    }
  }
  sb_arena_destroy(&a);
  return 0;
}
