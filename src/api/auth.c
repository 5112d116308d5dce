/*
 * Authentication (SPEC.md, "Auth").
 * - Local mode (no admin_key; only allowed on loopback): every caller is
 *   accepted, whatever bearer it sends. A bearer that is a client key
 *   (`sk-sb-...`) is still attributed to that key and held to its limits.
 * - admin_key mode: `Authorization: Bearer KEY` (or `x-api-key: KEY`, as
 *   Anthropic clients send) must be the admin key or a live client key.
 *   Skill paths from a loopback peer need no key when local_trust is on.
 * A refusal is a 401 in the shape of the API asked (the Messages endpoints
 * answer authentication_error in Anthropic's shape).
 * Keys are compared through their SHA-256 digests with a constant-time
 * compare, so neither content nor length leaks through timing. A client
 * key is looked up in the shared key table on every request, so a deleted
 * or disabled key is refused at once on every worker.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "switchboard/api.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"

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

static void drop_key(void *data)
{
  sb_key_unref(data);
}

/* A client key named by `secret`, attached to the exchange. NULL if the
 * secret names no live key. */
static sb_key_t *client_key(sb_http_exchange_t *x, sb_slice_t secret)
{
  sb_keys_t *keys = sb_ledger_keys(x->worker->gw->ledger);
  if (keys == NULL || secret.len < sizeof(SB_KEY_SECRET_PREFIX) - 1 ||
      memcmp(secret.ptr, SB_KEY_SECRET_PREFIX, sizeof(SB_KEY_SECRET_PREFIX) - 1) != 0)
    return NULL;
  sb_key_t *k = sb_keys_lookup_secret(keys, secret);
  if (k == NULL)
    return NULL;
  if (sb_arena_on_destroy(&x->arena, drop_key, k) != SB_OK) {
    sb_key_unref(k);
    return NULL;
  }
  x->principal = k;
  return k;
}

static sb_status_t refuse(sb_http_exchange_t *x, sb_api_shape_t shape,
                          const char *why)
{
  sb_api_fail(x, shape, 401, "authentication", "%s", why);
  return SB_ERROR;
}

/* Why a key that exists may not be used now (NULL: it may). */
static const char *key_refusal(sb_key_t *k, sb_key_view_t *v)
{
  int64_t now = sb_wall_ms();
  sb_key_view(k, now, v);
  if (v->rec.disabled)
    return "this API key is disabled";
  if (v->rec.expires_ms != 0 && now >= v->rec.expires_ms)
    return "this API key has expired";
  return NULL;
}

sb_status_t sb_api_auth(sb_http_exchange_t *x, sb_api_shape_t shape,
                        sb_identity_t *who)
{
  const sb_config_t *cfg = x->worker->gw->config;
  memset(who, 0, sizeof(*who));
  sb_slice_t key = bearer(&x->req);
  sb_key_t *k = x->principal;
  if (k == NULL && key.len > 0)
    k = client_key(x, key);
  if (k != NULL) {
    sb_key_view_t v;
    const char *why = key_refusal(k, &v);
    if (why != NULL)
      return refuse(x, shape, why);
    who->key = k;
    who->label = sb_arena_slice_dup(&x->arena, sb_slice_z(v.rec.name));
    return SB_OK;
  }
  if (cfg->admin_key == NULL) {
    who->admin = true;
    who->local = true;
    who->label = SB_SLICE_LIT("local");
    return SB_OK;
  }
  if (shape == SB_API_SKILL && cfg->local_trust && x->peer_is_loopback) {
    who->local = true;
    who->label = SB_SLICE_LIT("local");
    return SB_OK;
  }
  if (key.ptr != NULL && key.len > 0 && key_equals(key, cfg->admin_key)) {
    who->admin = true;
    who->label = SB_SLICE_LIT("admin");
    return SB_OK;
  }
  return refuse(x, shape,
                key.ptr == NULL || key.len == 0
                    ? "missing API key: send Authorization: Bearer KEY"
                    : "invalid API key");
}
