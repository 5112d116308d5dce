/*
 * Authentication (SPEC.md, "Auth").
 * - Local mode (no admin_key; only allowed on loopback): every caller is
 *   accepted, whatever bearer it sends.
 * - admin_key mode: `Authorization: Bearer KEY` (or `x-api-key: KEY`, as
 *   Anthropic clients send) must be the admin key. Skill paths from a
 *   loopback peer need no key when local_trust is on.
 * Keys are compared through their SHA-256 digests with a constant-time
 * compare, so neither content nor length leaks through timing.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "switchboard/api.h"

static sb_slice_t bearer(const sb_http_request_t *r)
{
  sb_slice_t v = SB_HTTP_HEADER(r, "authorization");
  if (v.ptr != NULL) {
    if (v.len > 7 && sb_slice_case_eq(sb_slice(v.ptr, 7), SB_SLICE_LIT("bearer ")))
      return sb_slice_trim(sb_slice(v.ptr + 7, v.len - 7));
    return SB_NULL_SLICE;
  }
  v = SB_HTTP_HEADER(r, "x-api-key");
  return v;
}

static bool key_equals(sb_slice_t given, const char *expected)
{
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)given.ptr, given.len, a);
  SHA256((const unsigned char *)expected, strlen(expected), b);
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

sb_status_t sb_api_auth(sb_http_exchange_t *x, bool skills_path,
                        sb_identity_t *who)
{
  const sb_config_t *cfg = x->worker->gw->config;
  memset(who, 0, sizeof(*who));
  if (cfg->admin_key == NULL) {
    who->admin = true;
    who->local = true;
    who->label = SB_SLICE_LIT("local");
    return SB_OK;
  }
  if (skills_path && cfg->local_trust && x->peer_is_loopback) {
    who->local = true;
    who->label = SB_SLICE_LIT("local");
    return SB_OK;
  }
  sb_slice_t key = bearer(&x->req);
  if (key.ptr != NULL && key.len > 0 && key_equals(key, cfg->admin_key)) {
    who->admin = true;
    who->label = SB_SLICE_LIT("admin");
    return SB_OK;
  }
  const char *why = key.ptr == NULL || key.len == 0
                        ? "missing API key: send Authorization: Bearer KEY"
                        : "invalid API key";
  if (skills_path)
    sb_api_skill_error(x, 401, "%s", why);
  else
    sb_api_error(x, 401, "authentication", "%s", why);
  return SB_ERROR;
}
