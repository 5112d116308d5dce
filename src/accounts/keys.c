/* SPDX-License-Identifier: MIT */
/* The shared key table; see keys.h. */
#include "switchboard/keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>

#include "switchboard/clock.h"
#include "switchboard/config.h"
#include "switchboard/ledger.h"
#include "switchboard/log.h"

#define N_BUCKETS 256
/* How long a deletion is remembered against a listing of the store that
 * was read before it (sb_keys_sync). */
#define TOMB_MS (10 * 60 * 1000)

/* A key deleted: by this instance (its deletion's sequence number in the
 * ledger) or by another (the generation of the announcement). */
typedef struct {
  unsigned char digest[32];
  uint64_t seq, gen;
  int64_t at_ms;
} tomb_t;

struct sb_keys {
  pthread_rwlock_t lock;
  sb_key_t *bucket[N_BUCKETS];
  struct sb_ledger *store;
  pthread_mutex_t totals_lock;
  int64_t unkeyed_usage; /* admin / local callers */
  int64_t revoked_usage; /* keys deleted since start-up */
  tomb_t *tombs;         /* under `lock` */
  size_t n_tombs;
};

static const char hexd[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexd[d[i] >> 4];
    out[2 * i + 1] = hexd[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static bool from_hex(sb_slice_t s, unsigned char out[32])
{
  if (s.len != 64)
    return false;
  for (size_t i = 0; i < 32; i++) {
    int hi = sb_hex_digit(s.ptr[2 * i]);
    int lo = sb_hex_digit(s.ptr[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

void sb_key_hash_hex(sb_slice_t secret, char out[65])
{
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)secret.ptr, secret.len, d);
  to_hex(d, sizeof(d), out);
}

sb_keys_t *sb_keys_new(void)
{
  sb_keys_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  pthread_rwlock_init(&t->lock, NULL);
  pthread_mutex_init(&t->totals_lock, NULL);
  return t;
}

static void key_free(sb_key_t *k)
{
  pthread_mutex_destroy(&k->lock);
  free(k);
}

void sb_keys_free(sb_keys_t *t)
{
  if (t == NULL)
    return;
  for (unsigned i = 0; i < N_BUCKETS; i++) {
    sb_key_t *k = t->bucket[i];
    while (k != NULL) {
      sb_key_t *next = k->next;
      sb_key_unref(k);
      k = next;
    }
  }
  pthread_rwlock_destroy(&t->lock);
  pthread_mutex_destroy(&t->totals_lock);
  free(t->tombs);
  free(t);
}

void sb_keys_set_store(sb_keys_t *t, struct sb_ledger *store)
{
  t->store = store;
}

void sb_key_ref(sb_key_t *k)
{
  __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
}

void sb_key_unref(sb_key_t *k)
{
  if (k != NULL && __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) == 0)
    key_free(k);
}

static void roll_usage(sb_key_t *k, int64_t now_ms)
{
  int64_t d = sb_period_start(SB_RESET_DAILY, now_ms);
  int64_t w = sb_period_start(SB_RESET_WEEKLY, now_ms);
  int64_t m = sb_period_start(SB_RESET_MONTHLY, now_ms);
  if (d > k->day_start) {
    k->day_start = d;
    k->usage_day = 0;
  }
  if (w > k->week_start) {
    k->week_start = w;
    k->usage_week = 0;
  }
  if (m > k->month_start) {
    k->month_start = m;
    k->usage_month = 0;
  }
}

static sb_key_t *key_new(const sb_key_record_t *rec, int64_t now_ms)
{
  sb_key_t *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return NULL;
  k->rec = *rec;
  pthread_mutex_init(&k->lock, NULL);
  k->refs = 1; /* the table's */
  from_hex(sb_slice_z(rec->hash), k->digest);
  k->budget.limit = rec->limit_pico;
  k->budget.reset = rec->limit_reset;
  k->budget.period_start = sb_period_start(rec->limit_reset, now_ms);
  roll_usage(k, now_ms);
  return k;
}

/* Caller holds the write lock. */
static void insert(sb_keys_t *t, sb_key_t *k)
{
  unsigned b = k->digest[0];
  k->next = t->bucket[b];
  t->bucket[b] = k;
}

sb_status_t sb_keys_load(sb_keys_t *t, const sb_key_record_t *rec,
                         int64_t usage_total, int64_t usage_period,
                         int64_t usage_day, int64_t usage_week,
                         int64_t usage_month, uint64_t requests,
                         int64_t now_ms)
{
  sb_key_t *k = key_new(rec, now_ms);
  if (k == NULL)
    return SB_ERROR;
  k->usage_total = usage_total;
  k->budget.used = usage_period;
  k->usage_day = usage_day;
  k->usage_week = usage_week;
  k->usage_month = usage_month;
  k->requests = requests;
  pthread_rwlock_wrlock(&t->lock);
  insert(t, k);
  pthread_rwlock_unlock(&t->lock);
  return SB_OK;
}

sb_key_t *sb_keys_create(sb_keys_t *t, sb_key_record_t *rec, char *secret,
                         size_t secret_cap)
{
  unsigned char rnd[32];
  char hex[65];
  if (secret_cap < sizeof(SB_KEY_SECRET_PREFIX) + 64 ||
      RAND_bytes(rnd, sizeof(rnd)) != 1)
    return NULL;
  to_hex(rnd, sizeof(rnd), hex);
  OPENSSL_cleanse(rnd, sizeof(rnd));
  int n = snprintf(secret, secret_cap, "%s%s", SB_KEY_SECRET_PREFIX, hex);
  OPENSSL_cleanse(hex, sizeof(hex));
  sb_key_hash_hex(sb_slice(secret, (size_t)n), rec->hash);
  /* The label shows the start and end of the secret, as OpenRouter's
   * key listing does: enough to recognise it, useless to an attacker. */
  snprintf(rec->label, sizeof(rec->label), "%.12s...%.3s", secret,
           secret + n - 3);
  sb_key_t *k = key_new(rec, rec->created_ms);
  if (k == NULL)
    return NULL;
  sb_key_ref(k); /* the caller's */
  pthread_rwlock_wrlock(&t->lock);
  insert(t, k);
  pthread_rwlock_unlock(&t->lock);
  sb_keys_save(t, k);
  return k;
}

static sb_key_t *lookup_digest(sb_keys_t *t, const unsigned char d[32])
{
  sb_key_t *found = NULL;
  pthread_rwlock_rdlock(&t->lock);
  /* Every key in the bucket is compared in constant time and the loop
   * does not stop early, so timing does not tell how much matched. */
  for (sb_key_t *k = t->bucket[d[0]]; k != NULL; k = k->next)
    if (CRYPTO_memcmp(k->digest, d, 32) == 0 && found == NULL)
      found = k;
  if (found != NULL)
    sb_key_ref(found);
  pthread_rwlock_unlock(&t->lock);
  return found;
}

sb_key_t *sb_keys_lookup_secret(sb_keys_t *t, sb_slice_t secret)
{
  unsigned char d[SHA256_DIGEST_LENGTH];
  if (secret.len == 0 || secret.len > 256)
    return NULL;
  SHA256((const unsigned char *)secret.ptr, secret.len, d);
  return lookup_digest(t, d);
}

sb_key_t *sb_keys_lookup_hash(sb_keys_t *t, sb_slice_t hash)
{
  unsigned char d[32];
  if (!from_hex(hash, d))
    return NULL;
  return lookup_digest(t, d);
}

static int by_created(const void *a, const void *b)
{
  const sb_key_record_t *x = a, *y = b;
  if (x->created_ms != y->created_ms)
    return x->created_ms < y->created_ms ? -1 : 1;
  return strcmp(x->hash, y->hash);
}

sb_key_record_t *sb_keys_snapshot(sb_keys_t *t, size_t *n)
{
  size_t cap = 16, len = 0;
  sb_key_record_t *out = malloc(cap * sizeof(*out));
  if (out == NULL)
    return NULL;
  pthread_rwlock_rdlock(&t->lock);
  for (unsigned i = 0; i < N_BUCKETS; i++)
    for (sb_key_t *k = t->bucket[i]; k != NULL; k = k->next) {
      if (len == cap) {
        sb_key_record_t *m = realloc(out, 2 * cap * sizeof(*out));
        if (m == NULL) {
          pthread_rwlock_unlock(&t->lock);
          free(out);
          return NULL;
        }
        out = m;
        cap *= 2;
      }
      pthread_mutex_lock(&k->lock);
      out[len++] = k->rec;
      pthread_mutex_unlock(&k->lock);
    }
  pthread_rwlock_unlock(&t->lock);
  qsort(out, len, sizeof(*out), by_created);
  *n = len;
  return out;
}

void sb_key_apply_limits(sb_key_t *k, int64_t now_ms)
{
  pthread_mutex_lock(&k->lock);
  k->budget.limit = k->rec.limit_pico;
  if (k->budget.reset != k->rec.limit_reset) {
    /* A new reset period: the spend that counts is what the key spent
     * since that period's start, which the usage counters know exactly. */
    roll_usage(k, now_ms);
    k->budget.reset = k->rec.limit_reset;
    k->budget.period_start = sb_period_start(k->budget.reset, now_ms);
    switch (k->budget.reset) {
    case SB_RESET_DAILY:
      k->budget.used = k->usage_day;
      break;
    case SB_RESET_WEEKLY:
      k->budget.used = k->usage_week;
      break;
    case SB_RESET_MONTHLY:
      k->budget.used = k->usage_month;
      break;
    default:
      k->budget.used = k->usage_total;
      break;
    }
  }
  pthread_mutex_unlock(&k->lock);
}

uint64_t sb_keys_save(sb_keys_t *t, sb_key_t *k)
{
  uint64_t seq = 0;
  if (t->store == NULL)
    return 0;
  /* Queued under the key's lock, so a save and a revoke reach the store
   * in the order they happened (a deleted key is never written back). */
  pthread_mutex_lock(&k->lock);
  if (!k->revoked)
    seq = k->saved_seq = sb_ledger_save_key(t->store, &k->rec, false);
  pthread_mutex_unlock(&k->lock);
  return seq;
}

/* Take the key with digest `d` out of the table; returns the table's
 * reference, or NULL. */
static sb_key_t *unlink_digest(sb_keys_t *t, const unsigned char d[32])
{
  sb_key_t *found = NULL;
  pthread_rwlock_wrlock(&t->lock);
  for (sb_key_t **pp = &t->bucket[d[0]]; *pp != NULL; pp = &(*pp)->next)
    if (CRYPTO_memcmp((*pp)->digest, d, 32) == 0) {
      found = *pp;
      *pp = found->next;
      found->next = NULL;
      break;
    }
  pthread_rwlock_unlock(&t->lock);
  return found;
}

/* Remember a deletion (sb_keys_sync); forget those older than TOMB_MS. */
static void bury(sb_keys_t *t, const unsigned char d[32], uint64_t seq,
                 uint64_t gen, int64_t now_ms)
{
  pthread_rwlock_wrlock(&t->lock);
  size_t kept = 0;
  for (size_t i = 0; i < t->n_tombs; i++)
    if (now_ms - t->tombs[i].at_ms < TOMB_MS)
      t->tombs[kept++] = t->tombs[i];
  t->n_tombs = kept;
  tomb_t *m = realloc(t->tombs, (kept + 1) * sizeof(*m));
  if (m != NULL) {
    t->tombs = m;
    memcpy(m[kept].digest, d, 32);
    m[kept].seq = seq;
    m[kept].gen = gen;
    m[kept].at_ms = now_ms;
    t->n_tombs = kept + 1;
  }
  pthread_rwlock_unlock(&t->lock);
}

sb_key_t *sb_keys_remove(sb_keys_t *t, sb_slice_t hash)
{
  unsigned char d[32];
  if (!from_hex(hash, d))
    return NULL;
  sb_key_t *found = unlink_digest(t, d);
  if (found == NULL)
    return NULL;
  pthread_mutex_lock(&found->lock);
  found->revoked = true;
  int64_t spent = found->usage_total;
  if (t->store != NULL)
    found->saved_seq = sb_ledger_save_key(t->store, &found->rec, true);
  uint64_t seq = found->saved_seq;
  pthread_mutex_unlock(&found->lock);
  bury(t, d, seq, 0, sb_wall_ms());
  pthread_mutex_lock(&t->totals_lock);
  t->revoked_usage += spent;
  pthread_mutex_unlock(&t->totals_lock);
  return found; /* the table's reference, now the caller's */
}

sb_status_t sb_keys_revoke(sb_keys_t *t, sb_slice_t hash)
{
  sb_key_t *k = sb_keys_remove(t, hash);
  if (k == NULL)
    return SB_DECLINED;
  sb_key_unref(k);
  return SB_OK;
}

void sb_keys_forget(sb_keys_t *t, sb_key_t *k)
{
  sb_key_t *found = unlink_digest(t, k->digest);
  pthread_mutex_lock(&k->lock);
  k->revoked = true; /* references still held refuse it too */
  pthread_mutex_unlock(&k->lock);
  sb_key_unref(found);
}

void sb_keys_restore(sb_keys_t *t, sb_key_t *k)
{
  pthread_mutex_lock(&k->lock);
  k->revoked = false;
  int64_t spent = k->usage_total; /* what the removal moved to the totals,
                                     and what was settled on it since */
  pthread_mutex_unlock(&k->lock);
  pthread_mutex_lock(&t->totals_lock);
  t->revoked_usage -= spent;
  pthread_mutex_unlock(&t->totals_lock);
  sb_key_ref(k); /* the table's again */
  pthread_rwlock_wrlock(&t->lock);
  insert(t, k);
  pthread_rwlock_unlock(&t->lock);
}

void sb_key_undo_update(sb_key_t *k, const sb_key_record_t *written,
                        const sb_key_record_t *before, int64_t now_ms)
{
  pthread_mutex_lock(&k->lock);
  bool ours = memcmp(&k->rec, written, sizeof(*written)) == 0;
  if (ours)
    k->rec = *before;
  pthread_mutex_unlock(&k->lock);
  if (ours)
    sb_key_apply_limits(k, now_ms);
}

/* The sum over the live keys of their usage, or of their limits (keys
 * without a limit count 0). */
static int64_t sum_keys(sb_keys_t *t, bool limits)
{
  int64_t sum = 0;
  pthread_rwlock_rdlock(&t->lock);
  for (unsigned i = 0; i < N_BUCKETS; i++)
    for (sb_key_t *k = t->bucket[i]; k != NULL; k = k->next) {
      pthread_mutex_lock(&k->lock);
      if (!limits)
        sum += k->usage_total;
      else if (k->rec.limit_pico >= 0)
        sum += k->rec.limit_pico;
      pthread_mutex_unlock(&k->lock);
    }
  pthread_rwlock_unlock(&t->lock);
  return sum;
}

int64_t sb_keys_total_usage(sb_keys_t *t)
{
  int64_t sum = sum_keys(t, false);
  pthread_mutex_lock(&t->totals_lock);
  sum += t->unkeyed_usage + t->revoked_usage;
  pthread_mutex_unlock(&t->totals_lock);
  return sum;
}

int64_t sb_keys_total_limits(sb_keys_t *t) { return sum_keys(t, true); }

void sb_keys_add_unkeyed(sb_keys_t *t, int64_t cost)
{
  pthread_mutex_lock(&t->totals_lock);
  t->unkeyed_usage += cost;
  pthread_mutex_unlock(&t->totals_lock);
}

void sb_keys_set_unkeyed_usage(sb_keys_t *t, int64_t total)
{
  pthread_mutex_lock(&t->totals_lock);
  t->unkeyed_usage = total;
  pthread_mutex_unlock(&t->totals_lock);
}

/* Is `model` in the comma-separated allow-list? */
static bool model_allowed(const char *list, sb_slice_t model)
{
  if (list[0] == '\0')
    return true;
  const char *p = list;
  while (*p != '\0') {
    const char *e = strchr(p, ',');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    if (sb_slice_eq(sb_slice(p, n), model))
      return true;
    if (e == NULL)
      break;
    p = e + 1;
  }
  return false;
}

bool sb_key_allows_model(sb_key_t *k, sb_slice_t model, bool *restricted)
{
  pthread_mutex_lock(&k->lock);
  bool ok = model_allowed(k->rec.models, model);
  if (restricted != NULL)
    *restricted = k->rec.models[0] != '\0';
  pthread_mutex_unlock(&k->lock);
  return ok;
}

static void window_info(const sb_window_t *w, int64_t now_s, uint32_t limit,
                        uint64_t sum, sb_admit_info_t *info)
{
  info->has_limit = true;
  info->limit = limit;
  info->remaining = sum >= limit ? 0 : (uint32_t)(limit - sum);
  info->reset_s = sb_window_reset(w, now_s);
}

/* With the key's lock held: the checks that need no counter. */
static sb_admit_t check_locked(const sb_key_t *k, sb_slice_t model,
                               int64_t now_ms)
{
  if (k->revoked || k->rec.disabled)
    return SB_ADMIT_DISABLED;
  if (k->rec.expires_ms != 0 && now_ms >= k->rec.expires_ms)
    return SB_ADMIT_EXPIRED;
  if (!model_allowed(k->rec.models, model))
    return SB_ADMIT_MODEL;
  return SB_ADMIT_OK;
}

sb_admit_t sb_key_check(sb_key_t *k, sb_slice_t model, int64_t now_ms,
                        sb_key_record_t *limits)
{
  pthread_mutex_lock(&k->lock);
  sb_admit_t rc = check_locked(k, model, now_ms);
  if (rc == SB_ADMIT_OK) {
    limits->limit_pico = k->rec.limit_pico;
    limits->limit_reset = k->rec.limit_reset;
    limits->rpm = k->rec.rpm;
    limits->tpm = k->rec.tpm;
  }
  pthread_mutex_unlock(&k->lock);
  return rc;
}

sb_admit_t sb_key_admit(sb_key_t *k, sb_slice_t model, int64_t reserve_pico,
                        int64_t now_ms, sb_admit_info_t *info)
{
  int64_t now_s = now_ms / 1000;
  memset(info, 0, sizeof(*info));
  pthread_mutex_lock(&k->lock);
  sb_admit_t rc = check_locked(k, model, now_ms);
  if (rc != SB_ADMIT_OK)
    goto out;
  if (k->rec.tpm > 0) {
    /* Tokens are known when a request ends: a request is admitted while
     * the window is under the limit. */
    uint64_t used = sb_window_sum(&k->tok_window, now_s);
    window_info(&k->tok_window, now_s, k->rec.tpm, used, info);
    if (used >= k->rec.tpm) {
      info->retry_after_s = sb_window_retry_after(&k->tok_window, now_s, k->rec.tpm);
      rc = SB_ADMIT_TPM;
      goto out;
    }
  }
  if (k->rec.rpm > 0) {
    uint64_t used = sb_window_sum(&k->req_window, now_s);
    if (used >= k->rec.rpm) {
      window_info(&k->req_window, now_s, k->rec.rpm, used, info);
      info->retry_after_s = sb_window_retry_after(&k->req_window, now_s, k->rec.rpm);
      rc = SB_ADMIT_RPM;
      goto out;
    }
  }
  if (sb_budget_reserve(&k->budget, reserve_pico, now_ms) != SB_OK) {
    info->remaining_pico = sb_budget_remaining(&k->budget);
    rc = SB_ADMIT_CREDITS;
    goto out;
  }
  info->remaining_pico = sb_budget_remaining(&k->budget);
  if (k->rec.rpm > 0) {
    sb_window_add(&k->req_window, now_s, 1);
    /* The RPM window is the one reported in the headers when set. */
    window_info(&k->req_window, now_s, k->rec.rpm,
                sb_window_sum(&k->req_window, now_s), info);
  }
out:
  pthread_mutex_unlock(&k->lock);
  return rc;
}

void sb_key_settle(sb_keys_t *t, sb_key_t *k, int64_t reserved_pico,
                   int64_t cost_pico, uint64_t tokens, int64_t now_ms)
{
  (void)t;
  pthread_mutex_lock(&k->lock);
  sb_budget_settle(&k->budget, reserved_pico, cost_pico, now_ms);
  roll_usage(k, now_ms);
  k->usage_total += cost_pico;
  k->usage_day += cost_pico;
  k->usage_week += cost_pico;
  k->usage_month += cost_pico;
  k->requests++;
  if (tokens > 0)
    sb_window_add(&k->tok_window, now_ms / 1000, tokens);
  bool revoked = k->revoked;
  pthread_mutex_unlock(&k->lock);
  if (revoked && t != NULL) {
    /* Spend that lands after the key was deleted still counts in the
     * totals. */
    pthread_mutex_lock(&t->totals_lock);
    t->revoked_usage += cost_pico;
    pthread_mutex_unlock(&t->totals_lock);
  }
}

/* `v` less `cost`, not below 0 (a period may have begun since). */
static int64_t less(int64_t v, int64_t cost)
{
  return v > cost ? v - cost : 0;
}

void sb_keys_refund(sb_keys_t *t, sb_key_t *k, int64_t cost_pico,
                    int64_t now_ms)
{
  if (cost_pico <= 0)
    return;
  if (k == NULL) {
    pthread_mutex_lock(&t->totals_lock);
    t->unkeyed_usage -= cost_pico;
    pthread_mutex_unlock(&t->totals_lock);
    return;
  }
  pthread_mutex_lock(&k->lock);
  sb_budget_roll(&k->budget, now_ms);
  roll_usage(k, now_ms);
  k->budget.used = less(k->budget.used, cost_pico);
  k->usage_total = less(k->usage_total, cost_pico);
  k->usage_day = less(k->usage_day, cost_pico);
  k->usage_week = less(k->usage_week, cost_pico);
  k->usage_month = less(k->usage_month, cost_pico);
  bool revoked = k->revoked;
  pthread_mutex_unlock(&k->lock);
  if (revoked) {
    pthread_mutex_lock(&t->totals_lock);
    t->revoked_usage -= cost_pico;
    pthread_mutex_unlock(&t->totals_lock);
  }
}

void sb_key_view(sb_key_t *k, int64_t now_ms, sb_key_view_t *out)
{
  pthread_mutex_lock(&k->lock);
  sb_budget_roll(&k->budget, now_ms);
  roll_usage(k, now_ms);
  out->rec = k->rec;
  out->usage_total = k->usage_total;
  out->usage_day = k->usage_day;
  out->usage_week = k->usage_week;
  out->usage_month = k->usage_month;
  out->period_used = k->budget.used;
  out->reserved = k->budget.reserved;
  out->remaining = sb_budget_remaining(&k->budget);
  if (k->shared && k->budget.limit >= 0) {
    /* every instance's reservations, not only this one's */
    out->reserved = k->shared_reserved;
    int64_t left = k->budget.limit - k->budget.used - k->shared_reserved;
    out->remaining = left > 0 ? left : 0;
  }
  out->requests = k->requests;
  pthread_mutex_unlock(&k->lock);
}

static int64_t max64(int64_t a, int64_t b)
{
  return a > b ? a : b;
}

/* With `k->lock` held: the shared counters' figures `s` replace the local
 * ones when they are known to count every settlement of this instance
 * (`exact`); else each figure is the larger of the two: both count less
 * than has been spent (Redis lacks this instance's settlements still on
 * their way, the local figures other instances' spend since the last
 * exact reading), so the larger is the nearer, and a budget errs on the
 * safe side. */
static void take_spend(sb_key_t *k, const sb_key_spend_t *s, bool exact,
                       int64_t now_ms)
{
  sb_budget_roll(&k->budget, now_ms);
  roll_usage(k, now_ms);
  if (exact) {
    k->usage_total = s->total;
    k->usage_day = s->day;
    k->usage_week = s->week;
    k->usage_month = s->month;
    k->budget.used = s->period;
    k->requests = s->requests;
    return;
  }
  k->usage_total = max64(k->usage_total, s->total);
  k->usage_day = max64(k->usage_day, s->day);
  k->usage_week = max64(k->usage_week, s->week);
  k->usage_month = max64(k->usage_month, s->month);
  k->budget.used = max64(k->budget.used, s->period);
  if (s->requests > k->requests)
    k->requests = s->requests;
}

void sb_key_settle_sent(sb_key_t *k)
{
  pthread_mutex_lock(&k->lock);
  k->settling++;
  pthread_mutex_unlock(&k->lock);
}

void sb_key_settle_answered(sb_key_t *k, const sb_key_spend_t *s,
                            int64_t now_ms)
{
  pthread_mutex_lock(&k->lock);
  if (k->settling > 0)
    k->settling--;
  k->settled++;
  /* with others still in flight, Redis's figures may lack them */
  if (s != NULL)
    take_spend(k, s, k->settling == 0, now_ms);
  pthread_mutex_unlock(&k->lock);
}

uint64_t sb_key_settle_mark(sb_key_t *k)
{
  pthread_mutex_lock(&k->lock);
  uint64_t mark = k->settled;
  pthread_mutex_unlock(&k->lock);
  return mark;
}

bool sb_key_set_shared(sb_key_t *k, const sb_key_spend_t *s, int64_t reserved,
                       uint64_t mark, int64_t now_ms)
{
  pthread_mutex_lock(&k->lock);
  /* none in flight at the mark or since */
  bool take = k->settling == 0 && k->settled == mark;
  take_spend(k, s, take, now_ms);
  if (reserved >= 0) {
    k->shared_reserved = reserved;
    k->shared = true;
  }
  pthread_mutex_unlock(&k->lock);
  return take;
}

/* ---- keys changed by other instances --------------------------------------- */

/* With the table's lock held: the key with digest `d`, or NULL. */
static sb_key_t *find_locked(sb_keys_t *t, const unsigned char d[32])
{
  for (sb_key_t *k = t->bucket[d[0]]; k != NULL; k = k->next)
    if (memcmp(k->digest, d, 32) == 0)
      return k;
  return NULL;
}

/* With the table's write lock held: take `k` out (it is refused from now
 * on; its spend stays in the totals). */
static void drop_locked(sb_keys_t *t, sb_key_t *k)
{
  for (sb_key_t **pp = &t->bucket[k->digest[0]]; *pp != NULL;
       pp = &(*pp)->next)
    if (*pp == k) {
      *pp = k->next;
      k->next = NULL;
      break;
    }
  pthread_mutex_lock(&k->lock);
  k->revoked = true;
  int64_t spent = k->usage_total;
  pthread_mutex_unlock(&k->lock);
  pthread_mutex_lock(&t->totals_lock);
  t->revoked_usage += spent;
  pthread_mutex_unlock(&t->totals_lock);
  sb_key_unref(k); /* the table's */
}

/* With the key's lock held: take `rec` (the whole record) if it is not
 * older than the one held. Whether the limits must be applied. */
static bool take_record(sb_key_t *k, const sb_key_record_t *rec)
{
  if (rec->updated_ms < k->rec.updated_ms ||
      memcmp(&k->rec, rec, sizeof(*rec)) == 0)
    return false;
  k->rec = *rec;
  return true;
}

void sb_keys_apply(sb_keys_t *t, const sb_key_record_t *rec, bool deleted,
                   uint64_t gen, int64_t now_ms)
{
  unsigned char d[32];
  if (!from_hex(sb_slice_z(rec->hash), d))
    return;
  if (deleted)
    bury(t, d, 0, gen, now_ms);
  pthread_rwlock_wrlock(&t->lock);
  sb_key_t *k = find_locked(t, d);
  bool apply = false;
  if (k != NULL && deleted) {
    drop_locked(t, k);
    k = NULL;
  } else if (k != NULL) {
    pthread_mutex_lock(&k->lock);
    apply = take_record(k, rec);
    k->touched = gen;
    pthread_mutex_unlock(&k->lock);
    sb_key_ref(k);
  } else if (!deleted) {
    k = key_new(rec, now_ms);
    if (k != NULL) {
      k->touched = gen;
      insert(t, k);
      sb_key_ref(k);
    }
  }
  pthread_rwlock_unlock(&t->lock);
  if (k != NULL) {
    if (apply)
      sb_key_apply_limits(k, now_ms);
    sb_key_unref(k);
  }
}

/* Was the key with digest `d` deleted after the listing was read? */
static bool buried_since(const sb_keys_t *t, const unsigned char d[32],
                         uint64_t gen, uint64_t committed)
{
  for (size_t i = 0; i < t->n_tombs; i++)
    if (memcmp(t->tombs[i].digest, d, 32) == 0 &&
        (t->tombs[i].gen > gen || t->tombs[i].seq > committed))
      return true;
  return false;
}

static int by_digest(const void *a, const void *b)
{
  return memcmp(a, b, 32);
}

void sb_keys_sync(sb_keys_t *t, const sb_key_stored_t *keys, size_t n,
                  uint64_t gen, uint64_t committed, int64_t now_ms)
{
  unsigned char (*listed)[32] = calloc(n > 0 ? n : 1, 32);
  if (listed == NULL)
    return;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (from_hex(sb_slice_z(keys[i].rec.hash), listed[m]))
      m++;
  qsort(listed, m, 32, by_digest);
  pthread_rwlock_wrlock(&t->lock);
  for (size_t i = 0; i < n; i++) {
    const sb_key_stored_t *s = &keys[i];
    unsigned char d[32];
    if (!from_hex(sb_slice_z(s->rec.hash), d))
      continue;
    sb_key_t *k = find_locked(t, d);
    if (k == NULL) {
      if (buried_since(t, d, gen, committed))
        continue;
      k = key_new(&s->rec, now_ms);
      if (k == NULL)
        continue;
      k->usage_total = s->spend.total;
      k->budget.used = s->spend.period;
      k->usage_day = s->spend.day;
      k->usage_week = s->spend.week;
      k->usage_month = s->spend.month;
      k->requests = s->spend.requests;
      insert(t, k);
      continue;
    }
    pthread_mutex_lock(&k->lock);
    bool apply = k->touched <= gen && k->saved_seq <= committed &&
                 take_record(k, &s->rec);
    pthread_mutex_unlock(&k->lock);
    if (apply) /* the table's lock, then the key's: the order of every walk */
      sb_key_apply_limits(k, now_ms);
  }
  for (unsigned b = 0; b < N_BUCKETS; b++) {
    sb_key_t *k = t->bucket[b];
    while (k != NULL) {
      sb_key_t *next = k->next;
      pthread_mutex_lock(&k->lock);
      bool keep = k->touched > gen || k->saved_seq > committed;
      pthread_mutex_unlock(&k->lock);
      if (!keep && bsearch(k->digest, listed, m, 32, by_digest) == NULL)
        drop_locked(t, k);
      k = next;
    }
  }
  pthread_rwlock_unlock(&t->lock);
  free(listed);
}

/* ---- a key's default escalation (docs/routing.md) ------------------------ */

sb_status_t sb_escalation_normalize(const sb_json_t *e, char *out, size_t cap,
                                    char *err, size_t errlen)
{
  out[0] = '\0';
  if (e == NULL || e->type == SB_JSON_NULL)
    return SB_OK;
  if (e->type != SB_JSON_OBJECT) {
    snprintf(err, errlen, "'escalation' must be null or an object with "
             "'ladder' and 'on'");
    return SB_ERROR;
  }
  for (const sb_json_t *m = e->child; m != NULL; m = m->next)
    if (!SB_SLICE_IS(m->key, "ladder") && !SB_SLICE_IS(m->key, "on")) {
      snprintf(err, errlen, "'escalation': unknown field '%.*s' (ladder, on)",
               (int)SB_MIN(m->key.len, 64), m->key.ptr);
      return SB_ERROR;
    }
  const sb_json_t *ladder = sb_json_get(e, "ladder");
  const sb_json_t *on = sb_json_get(e, "on");
  if (ladder != NULL && ladder->type == SB_JSON_NULL)
    ladder = NULL;
  if (on != NULL && on->type == SB_JSON_NULL)
    on = NULL;
  if (ladder != NULL) {
    bool ok = ladder->type == SB_JSON_ARRAY && ladder->count > 0;
    for (const sb_json_t *m = ok ? ladder->child : NULL; m != NULL && ok;
         m = m->next)
      ok = sb_json_is(m, SB_JSON_STRING) && m->raw.len > 2 &&
           m->raw.len <= 2 + 256;
    if (!ok) {
      snprintf(err, errlen, "'escalation.ladder' must be a list of model ids, "
               "cheap first");
      return SB_ERROR;
    }
  }
  uint32_t bits = SB_CLIMB_ALL;
  if (on != NULL && sb_climb_bits(on, &bits) != SB_OK) {
    snprintf(err, errlen, "'escalation.on' must be a list of conditions "
             "(error, length, invalid_tool_args, empty)");
    return SB_ERROR;
  }
  if (ladder == NULL && on == NULL)
    return SB_OK;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, cap - 1);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  if (ladder != NULL) {
    sb_jw_key_lit(&w, "ladder");
    sb_jw_arr_begin(&w);
    for (const sb_json_t *m = ladder->child; m != NULL; m = m->next) {
      sb_slice_t raw = sb_json_str_raw(m);
      sb_jw_str_raw(&w, raw.ptr, raw.len);
    }
    sb_jw_arr_end(&w);
  }
  if (on != NULL) {
    sb_jw_key_lit(&w, "on");
    sb_jw_arr_begin(&w);
    for (size_t i = 0; i < SB_CLIMB_N; i++)
      if (bits & sb_climb_conds[i].bit)
        sb_jw_str(&w, sb_climb_conds[i].name, strlen(sb_climb_conds[i].name));
    sb_jw_arr_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_status_t rc = sb_jw_status(&w);
  if (rc == SB_OK) {
    sb_slice_t s = sb_buf_slice(&b);
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
  } else {
    snprintf(err, errlen, "'escalation' is longer than %zu bytes as compact "
             "JSON", cap - 1);
  }
  sb_buf_free(&b);
  return rc;
}

sb_status_t sb_escalation_parse(sb_arena_t *a, const char *text,
                                const sb_json_t **ladder, uint32_t *on)
{
  *ladder = NULL;
  *on = SB_CLIMB_ALL;
  if (text[0] == '\0')
    return SB_DECLINED;
  sb_json_t *root;
  if (sb_json_parse(a, text, strlen(text), 4, &root, NULL) != SB_OK ||
      !sb_json_is(root, SB_JSON_OBJECT))
    return SB_ERROR;
  const sb_json_t *l = sb_json_get(root, "ladder");
  const sb_json_t *o = sb_json_get(root, "on");
  if (l != NULL && !sb_json_is(l, SB_JSON_ARRAY))
    return SB_ERROR;
  if (o != NULL && sb_climb_bits(o, on) != SB_OK)
    return SB_ERROR;
  *ladder = l;
  return SB_OK;
}

sb_status_t sb_key_escalation(sb_key_t *k, sb_arena_t *a,
                              const sb_json_t **ladder, uint32_t *on)
{
  char copy[SB_KEY_MAX_ESCALATION + 1];
  pthread_mutex_lock(&k->lock);
  memcpy(copy, k->rec.escalation, sizeof(copy));
  pthread_mutex_unlock(&k->lock);
  copy[sizeof(copy) - 1] = '\0';
  *ladder = NULL;
  *on = SB_CLIMB_ALL;
  if (copy[0] == '\0')
    return SB_DECLINED;
  /* The DOM points into its text: keep the text in the arena too. */
  char *text = sb_arena_strndup(a, copy, strlen(copy));
  if (text == NULL)
    return SB_ERROR;
  return sb_escalation_parse(a, text, ladder, on);
}
