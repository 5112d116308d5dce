/* SPDX-License-Identifier: MIT */
/*
 * Authentication (SPEC.md and README, "Auth").
 *
 * A request that presents a credential (`Authorization: Bearer KEY`, or
 * `x-api-key: KEY` as Anthropic clients send it, `x-goog-api-key: KEY` or,
 * on the Gemini API's paths only, `?key=KEY` as Google's clients do, or
 * any other Authorization value) is judged by it, on every door:
 * - a live client key (`sk-sb-...`) is that key, held to its limits; a
 *   disabled or expired one is a 401;
 * - the admin key (admin_key mode) is the admin;
 * - in local mode (no admin_key; only allowed on loopback) any other
 *   bearer is accepted as local (SDKs always send one), except one in the
 *   client-key format (`sk-sb-` prefix) that names no live key: a revoked
 *   or mistyped key is a 401, never unlimited local use;
 * - in admin_key mode anything else is a 401.
 * Only a request with no credential is trusted: in local mode, and on the
 * skill paths from a loopback peer when local_trust is on.
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

/* Every client key's secret starts with this, whatever its version. */
#define CLIENT_KEY_FAMILY "sk-sb-"

/* The key a request presents: a bearer token, else x-api-key or
 * x-goog-api-key, else (`query`) the query's key. *presented is also set
 * by an Authorization value of another scheme (which names no key we
 * know, so it is judged as a wrong key). An empty one presents nothing.
 * A key from the query is in the exchange's arena and goes nowhere else
 * (no log line, no error message, no provider sees the query). */
static sb_slice_t credential(sb_http_exchange_t *x, bool query,
                             bool *presented)
{
  const sb_http_request_t *r = &x->req;
  *presented = false;
  sb_slice_t v = sb_slice_trim(SB_HTTP_HEADER(r, "authorization"));
  if (v.len > 0) {
    if (v.len >= 6 && sb_slice_case_eq(sb_slice(v.ptr, 6), SB_SLICE_LIT("bearer")) &&
        (v.len == 6 || v.ptr[6] == ' ' || v.ptr[6] == '\t')) {
      sb_slice_t t = sb_slice_trim(sb_slice(v.ptr + 6, v.len - 6));
      if (t.len > 0) {
        *presented = true;
        return t;
      }
    } else {
      *presented = true;
    }
  }
  sb_slice_t k = sb_slice_trim(SB_HTTP_HEADER(r, "x-api-key"));
  if (k.len == 0)
    k = sb_slice_trim(SB_HTTP_HEADER(r, "x-goog-api-key"));
  if (k.len == 0 && query)
    k = sb_slice_trim(sb_http_query_param(&x->arena, r->query, "key"));
  if (k.len > 0) {
    *presented = true;
    return k;
  }
  return SB_NULL_SLICE;
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
  const sb_config_t *cfg = sb_gateway_config(x);
  memset(who, 0, sizeof(*who));
  bool presented;
  sb_slice_t key = credential(x, shape == SB_API_GEMINI, &presented);
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
  if (presented) {
    if (cfg->admin_key != NULL && key.len > 0 &&
        key_equals(key, cfg->admin_key)) {
      who->admin = true;
      who->label = SB_SLICE_LIT("admin");
      return SB_OK;
    }
    if (sb_slice_starts(key, SB_STRLIT(CLIENT_KEY_FAMILY)))
      return refuse(x, shape, "invalid API key: no such client key (revoked, "
                              "deleted or mistyped)");
    if (cfg->admin_key != NULL)
      return refuse(x, shape, "invalid API key");
    /* local mode: any other bearer is accepted (below) */
  }
  if (cfg->admin_key == NULL ||
      (!presented && shape == SB_API_SKILL && cfg->local_trust &&
       x->peer_is_loopback)) {
    who->admin = cfg->admin_key == NULL;
    who->local = true;
    who->label = SB_SLICE_LIT("local");
    return SB_OK;
  }
  return refuse(x, shape,
                shape == SB_API_GEMINI
                    ? "missing API key: send x-goog-api-key: KEY (or "
                      "Authorization: Bearer KEY)"
                    : "missing API key: send Authorization: Bearer KEY");
}
