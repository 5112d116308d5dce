/* SPDX-License-Identifier: MIT */
/* The key table: secrets and hashes, lookups, revocation with references
 * still held, admission (disabled, expiry, models, RPM, TPM, credits) and
 * a concurrency test: many threads reserving and settling against one
 * key never settle more than its limit; a key's default escalation; the
 * shared counters' figures against this instance's settlements in flight. */
#include "test_helpers.h"

#include <pthread.h>

#include "switchboard/config.h"
#include "switchboard/keys.h"

static const int64_t NOW = 1796023510500LL;

static sb_key_t *make(sb_keys_t *t, const char *name, int64_t limit,
                      char *secret)
{
  sb_key_record_t r;
  memset(&r, 0, sizeof(r));
  snprintf(r.name, sizeof(r.name), "%s", name);
  r.limit_pico = limit;
  r.created_ms = r.updated_ms = NOW;
  return sb_keys_create(t, &r, secret, 96);
}

static void test_create_lookup_revoke(void **state)
{
  (void)state;
  sb_keys_t *t = sb_keys_new();
  char secret[96], hash[65];
  sb_key_t *k = make(t, "app", -1, secret);
  assert_non_null(k);
  /* sk-sb-v1- and 64 hex digits */
  assert_int_equal(strlen(secret), 9 + 64);
  assert_memory_equal(secret, "sk-sb-v1-", 9);
  sb_key_hash_hex(sb_slice_z(secret), hash);
  assert_string_equal(k->rec.hash, hash);
  /* the label shows only the ends */
  assert_int_equal(strncmp(k->rec.label, secret, 12), 0);
  assert_null(strstr(k->rec.label, secret + 12));

  sb_key_t *a = sb_keys_lookup_secret(t, sb_slice_z(secret));
  assert_ptr_equal(a, k);
  sb_key_t *b = sb_keys_lookup_hash(t, sb_slice_z(hash));
  assert_ptr_equal(b, k);
  /* one wrong character, a prefix, or junk: nothing */
  secret[20] = secret[20] == 'a' ? 'b' : 'a';
  assert_null(sb_keys_lookup_secret(t, sb_slice_z(secret)));
  assert_null(sb_keys_lookup_secret(t, sb_slice(secret, 30)));
  assert_null(sb_keys_lookup_hash(t, SB_SLICE_LIT("zz")));
  assert_null(sb_keys_lookup_hash(t, sb_slice(hash, 63)));

  /* revoked while three references are held: gone from the table at
   * once, still usable by whoever holds it (to settle) */
  assert_int_equal(sb_keys_revoke(t, sb_slice_z(hash)), SB_OK);
  assert_null(sb_keys_lookup_hash(t, sb_slice_z(hash)));
  assert_int_equal(sb_keys_revoke(t, sb_slice_z(hash)), SB_DECLINED);
  sb_admit_info_t info;
  assert_int_equal(sb_key_admit(a, SB_SLICE_LIT("m"), 0, NOW, &info),
                   SB_ADMIT_DISABLED);
  sb_key_settle(t, a, 0, 5, 10, NOW);
  assert_int_equal(sb_keys_total_usage(t), 5);
  sb_key_unref(a);
  sb_key_unref(b);
  sb_key_unref(k);
  sb_keys_free(t);
}

/* The allow-list question, alone: exact routed ids, no prefixes or
 * suffixes; a key without a list allows everything and says so. */
static void test_allows_model(void **state)
{
  (void)state;
  sb_keys_t *t = sb_keys_new();
  char secret[96];
  sb_key_t *k = make(t, "allow", 0, secret);
  bool restricted = true;
  assert_true(sb_key_allows_model(k, SB_SLICE_LIT("any/model"), &restricted));
  assert_false(restricted);
  pthread_mutex_lock(&k->lock);
  snprintf(k->rec.models, sizeof(k->rec.models), "openai/gpt-4o-mini,x/y");
  pthread_mutex_unlock(&k->lock);
  static const struct {
    const char *model;
    bool ok;
  } cases[] = {
      {"openai/gpt-4o-mini", true}, {"x/y", true},
      {"openai/gpt-4o", false},     {"openai/gpt-4o-mini:floor", false},
      {"gpt-4o-mini", false},       {"openai/gpt-4o-mini,x/y", false},
      {"x", false},                 {"", false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    restricted = false;
    if (sb_key_allows_model(k, sb_slice_z(cases[i].model), &restricted) !=
        cases[i].ok)
      fail_msg("%s: expected %s", cases[i].model,
               cases[i].ok ? "allowed" : "refused");
    assert_true(restricted);
  }
  assert_true(sb_key_allows_model(k, SB_SLICE_LIT("x/y"), NULL));
  sb_key_unref(k);
  sb_keys_free(t);
}

static void test_admission(void **state)
{
  (void)state;
  sb_keys_t *t = sb_keys_new();
  char secret[96];
  sb_key_t *k = make(t, "limited", 1000, secret);
  sb_admit_info_t info;
  pthread_mutex_lock(&k->lock);
  snprintf(k->rec.models, sizeof(k->rec.models), "openai/gpt-4o-mini,x/y");
  k->rec.rpm = 3;
  pthread_mutex_unlock(&k->lock);

  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("openai/gpt-4o"), 0, NOW, &info),
                   SB_ADMIT_MODEL);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 100, NOW, &info),
                   SB_ADMIT_OK);
  assert_true(info.has_limit);
  assert_int_equal(info.limit, 3);
  assert_int_equal(info.remaining, 2);
  assert_int_equal(info.remaining_pico, 900);
  /* does not fit: 402, and the RPM window is not charged for it */
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 901, NOW, &info),
                   SB_ADMIT_CREDITS);
  assert_int_equal(info.remaining_pico, 900);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 900, NOW, &info),
                   SB_ADMIT_OK);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW, &info),
                   SB_ADMIT_OK);
  /* the fourth request in the minute */
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW + 5000, &info),
                   SB_ADMIT_RPM);
  assert_int_equal(info.limit, 3);
  assert_int_equal(info.remaining, 0);
  assert_int_equal(info.retry_after_s, 55);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW + 60000, &info),
                   SB_ADMIT_OK);

  /* settle: cost 40 of 100 reserved, 700 of 900 */
  sb_key_settle(t, k, 100, 40, 50, NOW);
  sb_key_settle(t, k, 900, 700, 50, NOW);
  sb_key_view_t v;
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 740);
  assert_int_equal(v.reserved, 0);
  assert_int_equal(v.remaining, 260);

  /* TPM: 100 tokens a minute; 100 were used above */
  pthread_mutex_lock(&k->lock);
  k->rec.rpm = 0;
  k->rec.tpm = 100;
  pthread_mutex_unlock(&k->lock);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW + 1000, &info),
                   SB_ADMIT_TPM);
  assert_int_equal(info.retry_after_s, 59);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW + 60000, &info),
                   SB_ADMIT_OK);

  /* expiry and disabling */
  pthread_mutex_lock(&k->lock);
  k->rec.tpm = 0;
  k->rec.expires_ms = NOW + 1;
  pthread_mutex_unlock(&k->lock);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW + 1, &info),
                   SB_ADMIT_EXPIRED);
  pthread_mutex_lock(&k->lock);
  k->rec.expires_ms = 0;
  k->rec.disabled = true;
  pthread_mutex_unlock(&k->lock);
  assert_int_equal(sb_key_admit(k, SB_SLICE_LIT("x/y"), 0, NOW, &info),
                   SB_ADMIT_DISABLED);

  /* switching to a daily reset counts today's spend */
  pthread_mutex_lock(&k->lock);
  k->rec.limit_reset = SB_RESET_DAILY;
  pthread_mutex_unlock(&k->lock);
  sb_key_apply_limits(k, NOW);
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.period_used, 740);
  sb_key_view(k, NOW + 86400000LL, &v);
  assert_int_equal(v.period_used, 0);
  assert_int_equal(v.usage_total, 740);
  sb_key_unref(k);
  sb_keys_free(t);
}

typedef struct {
  sb_keys_t *t;
  sb_key_t *k;
  int admitted, refused;
} worker_t;

#define RESERVE 1000
#define PER_THREAD 2000

static void *hammer(void *arg)
{
  worker_t *w = arg;
  sb_admit_info_t info;
  for (int i = 0; i < PER_THREAD; i++) {
    if (sb_key_admit(w->k, SB_SLICE_LIT("m"), RESERVE, NOW, &info) ==
        SB_ADMIT_OK) {
      w->admitted++;
      /* actual cost: between 1/4 and all of the reservation */
      sb_key_settle(w->t, w->k, RESERVE, RESERVE / 4 + (i % 4) * RESERVE / 4,
                    1, NOW);
    } else {
      w->refused++;
    }
  }
  return NULL;
}

static void test_concurrent_budget(void **state)
{
  (void)state;
  sb_keys_t *t = sb_keys_new();
  char secret[96];
  const int64_t limit = 1000003; /* a few hundred calls' worth */
  sb_key_t *k = make(t, "shared", limit, secret);
  worker_t w[8];
  pthread_t th[8];
  for (int i = 0; i < 8; i++) {
    w[i] = (worker_t){t, k, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
  }
  int admitted = 0, refused = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    admitted += w[i].admitted;
    refused += w[i].refused;
  }
  sb_key_view_t v;
  sb_key_view(k, NOW, &v);
  assert_int_equal(admitted + refused, 8 * PER_THREAD);
  assert_true(refused > 0);
  assert_true(v.usage_total <= limit);
  assert_int_equal(v.reserved, 0);
  assert_int_equal(v.requests, (uint64_t)admitted);
  /* the budget was used up: a refusal means less than one reservation
   * was free, and at most 8 reservations were in flight then */
  assert_true(limit - v.usage_total < 9 * RESERVE);
  sb_key_unref(k);
  sb_keys_free(t);
}

/* A key's default escalation: checked and written in a compact normal
 * form, parsed back into a ladder and conditions. */
static const char *normalize(sb_arena_t *a, const char *json, char *out,
                             size_t cap, char *err)
{
  sb_json_t *v;
  assert_int_equal(sb_json_parse(a, json, strlen(json), 0, &v, NULL), SB_OK);
  err[0] = '\0';
  return sb_escalation_normalize(v, out, cap, err, 256) == SB_OK ? out : NULL;
}

static void test_escalation(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_arena_init(&a, 4096, 1u << 20);
  char out[SB_KEY_MAX_ESCALATION + 1], err[256];
  /* whitespace goes, escapes stay, conditions by name with "error" */
  assert_string_equal(
      normalize(&a, " { \"on\" : [\"empty\", \"length\", \"empty\"], "
                    "\"ladder\": [\"a/x\", \"b/\\u0079\"] } ",
                out, sizeof(out), err),
      "{\"ladder\":[\"a/x\",\"b/\\u0079\"],\"on\":[\"error\",\"length\","
      "\"empty\"]}");
  const sb_json_t *ladder;
  uint32_t on;
  assert_int_equal(sb_escalation_parse(&a, out, &ladder, &on), SB_OK);
  assert_non_null(ladder);
  assert_int_equal(ladder->count, 2);
  assert_int_equal(on, SB_CLIMB_ERROR | SB_CLIMB_LENGTH | SB_CLIMB_EMPTY);
  /* no "on": every condition; "on": [] is "error" only */
  assert_string_equal(normalize(&a, "{\"ladder\":[\"m\"]}", out, sizeof(out), err),
                      "{\"ladder\":[\"m\"]}");
  assert_int_equal(sb_escalation_parse(&a, out, &ladder, &on), SB_OK);
  assert_int_equal(on, SB_CLIMB_ALL);
  assert_string_equal(normalize(&a, "{\"on\":[],\"ladder\":null}", out,
                                sizeof(out), err),
                      "{\"on\":[\"error\"]}");
  assert_int_equal(sb_escalation_parse(&a, out, &ladder, &on), SB_OK);
  assert_null(ladder);
  assert_int_equal(on, SB_CLIMB_ERROR);
  /* null and {} are no escalation */
  assert_string_equal(normalize(&a, "null", out, sizeof(out), err), "");
  assert_string_equal(normalize(&a, "{}", out, sizeof(out), err), "");
  assert_int_equal(sb_escalation_parse(&a, "", &ladder, &on), SB_DECLINED);
  /* bad shapes */
  const char *bad[] = {"5", "[\"a\"]", "{\"ladder\":[]}", "{\"ladder\":\"a\"}",
                       "{\"ladder\":[\"a\",1]}", "{\"ladder\":[\"\"]}",
                       "{\"ladder\":[\"a\"],\"on\":[\"often\"]}",
                       "{\"ladder\":[\"a\"],\"on\":\"length\"}",
                       "{\"ladder\":[\"a\"],\"x\":1}"};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    assert_null(normalize(&a, bad[i], out, sizeof(out), err));
    assert_non_null(strstr(err, "escalation"));
  }
  /* too long for the record: refused, not cut */
  assert_null(normalize(&a, "{\"ladder\":[\"aaaaaaaaaa\",\"bbbbbbbbbb\"]}", out,
                        20, err));
  assert_non_null(strstr(err, "longer than 19 bytes"));
  /* stored text that is not a normal form is refused */
  assert_int_equal(sb_escalation_parse(&a, "{\"ladder\":5}", &ladder, &on),
                   SB_ERROR);
  assert_int_equal(sb_escalation_parse(&a, "nope", &ladder, &on), SB_ERROR);

  /* on a key: read under its lock */
  sb_keys_t *t = sb_keys_new();
  char secret[96];
  sb_key_t *k = make(t, "laddered", -1, secret);
  assert_int_equal(sb_key_escalation(k, &a, &ladder, &on), SB_DECLINED);
  snprintf(k->rec.escalation, sizeof(k->rec.escalation),
           "{\"ladder\":[\"c/1\",\"c/2\",\"c/3\"],\"on\":[\"error\",\"length\"]}");
  assert_int_equal(sb_key_escalation(k, &a, &ladder, &on), SB_OK);
  assert_int_equal(ladder->count, 3);
  assert_true(SB_SLICE_IS(sb_json_str_raw(ladder->child->next->next), "c/3"));
  assert_int_equal(on, SB_CLIMB_ERROR | SB_CLIMB_LENGTH);
  sb_key_unref(k);
  sb_keys_free(t);
  sb_arena_destroy(&a);
}

/* The shared counters' figures against this instance's settlements in
 * flight (counters_conn.c): taken when they count them all, else each
 * figure the larger of the two, never fewer than this instance spent. */
static void test_shared_figures(void **state)
{
  (void)state;
  sb_keys_t *t = sb_keys_new();
  char secret[96];
  sb_key_t *k = make(t, "shared", 1000000, secret);
  sb_key_view_t v;
  sb_key_spend_t redis = {.total = 40, .period = 40, .day = 40, .week = 40,
                          .month = 40, .requests = 2};
  /* nothing in flight: Redis's figures are the key's */
  uint64_t mark = sb_key_settle_mark(k);
  assert_true(sb_key_set_shared(k, &redis, 7, mark, NOW));
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 40);
  assert_int_equal(v.requests, 2);
  /* a call of 100 settles here and goes to Redis... */
  sb_key_settle(t, k, 0, 100, 0, NOW);
  sb_key_settle_sent(k);
  /* ...a view read meanwhile lacks it, and has another instance's 30 */
  mark = sb_key_settle_mark(k);
  redis.total = redis.period = redis.day = redis.week = redis.month = 70;
  redis.requests = 3;
  assert_false(sb_key_set_shared(k, &redis, 7, mark, NOW));
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 140); /* 40 + 100: the larger */
  assert_int_equal(v.usage_month, 140);
  assert_int_equal(v.requests, 3);
  assert_int_equal(v.reserved, 7);
  /* a second call of 50 goes out; the first one's answer (Redis: 40 + 30
   * + 100 = 170) is not exact while the second is on its way */
  sb_key_settle(t, k, 0, 50, 0, NOW);
  sb_key_settle_sent(k);
  redis.total = redis.period = redis.day = redis.week = redis.month = 170;
  redis.requests = 4;
  sb_key_settle_answered(k, &redis, NOW);
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 190); /* 140 + 50, above Redis's 170 */
  assert_int_equal(v.requests, 4);
  /* a view read before the second's answer is not taken... */
  mark = sb_key_settle_mark(k);
  assert_false(sb_key_set_shared(k, &redis, 7, mark, NOW));
  /* ...the second's answer is: 170 + 50, exact */
  redis.total = redis.period = redis.day = redis.week = redis.month = 220;
  redis.requests = 5;
  sb_key_settle_answered(k, &redis, NOW);
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 220);
  assert_int_equal(v.requests, 5);
  /* quiet again: a view is taken as it is, lower figures too (a refund) */
  mark = sb_key_settle_mark(k);
  redis.total = redis.period = redis.day = redis.week = redis.month = 200;
  assert_true(sb_key_set_shared(k, &redis, 0, mark, NOW));
  sb_key_view(k, NOW, &v);
  assert_int_equal(v.usage_total, 200);
  assert_int_equal(v.remaining, 1000000 - 200);
  sb_key_unref(k);
  sb_keys_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_lookup_revoke),
      cmocka_unit_test(test_allows_model),
      cmocka_unit_test(test_admission),
      cmocka_unit_test(test_concurrent_budget),
      cmocka_unit_test(test_escalation),
      cmocka_unit_test(test_shared_figures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
