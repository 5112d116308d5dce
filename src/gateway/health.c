/* SPDX-License-Identifier: MIT */
/*
 * Endpoint health, breakers, key rotation and backoff; see
 * include/switchboard/health.h and docs/routing.md.
 */
#include "switchboard/health.h"

#include <stdio.h>
#include <stdlib.h>

#include "switchboard/log.h"

#define EWMA_ALPHA 0.2
#define DAY_MS (24u * 3600u * 1000u)

/* ---- backoff ------------------------------------------------------------- */

uint32_t sb_retry_backoff_ms(const sb_retry_policy_t *p, unsigned retry,
                             uint32_t retry_after_ms, uint64_t rnd)
{
  if (retry_after_ms > p->max_ms)
    return UINT32_MAX;
  uint64_t exp = p->base_ms;
  for (unsigned i = 0; i < retry && exp < p->max_ms; i++)
    exp *= 2;
  if (exp > p->max_ms)
    exp = p->max_ms;
  /* Equal jitter: never less than half the step, so clients that failed
   * together spread out without retrying at once. */
  uint64_t half = exp / 2;
  uint64_t d = half + (half > 0 ? rnd % (exp - half + 1) : 0);
  if (d < retry_after_ms)
    d = retry_after_ms;
  return (uint32_t)d;
}

sb_status_t sb_retry_after_parse(sb_slice_t v, uint32_t *ms)
{
  v = sb_slice_trim(v);
  if (v.len == 0 || v.len > 16)
    return SB_ERROR;
  uint64_t whole = 0, frac = 0, scale = 1;
  size_t i = 0;
  for (; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++)
    whole = whole * 10 + (uint64_t)(v.ptr[i] - '0');
  if (i == 0)
    return SB_ERROR;
  if (i < v.len && v.ptr[i] == '.') {
    for (i++; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++)
      if (scale < 1000) {
        frac = frac * 10 + (uint64_t)(v.ptr[i] - '0');
        scale *= 10;
      }
  }
  if (i != v.len)
    return SB_ERROR;
  uint64_t total = whole * 1000 + frac * 1000 / scale;
  *ms = total > DAY_MS ? DAY_MS : (uint32_t)total;
  return SB_OK;
}

bool sb_retry_status(long status)
{
  return status == 408 || status == 429 || status >= 500;
}

/* ---- breaker ------------------------------------------------------------- */

bool sb_breaker_usable(const sb_breaker_t *b, int64_t now_ms,
                       uint32_t cooldown_ms)
{
  switch (b->state) {
  case SB_BREAKER_CLOSED:
    return true;
  case SB_BREAKER_OPEN:
    return now_ms - b->opened_ms >= (int64_t)cooldown_ms;
  case SB_BREAKER_HALF_OPEN:
    return !b->probing;
  }
  return false;
}

bool sb_breaker_acquire(sb_breaker_t *b, int64_t now_ms, uint32_t cooldown_ms)
{
  if (!sb_breaker_usable(b, now_ms, cooldown_ms))
    return false;
  if (b->state != SB_BREAKER_CLOSED) {
    b->state = SB_BREAKER_HALF_OPEN;
    b->probing = true;
  }
  return true;
}

void sb_breaker_record(sb_breaker_t *b, bool ok, int64_t now_ms,
                       uint32_t threshold)
{
  if (ok) {
    b->state = SB_BREAKER_CLOSED;
    b->consecutive = 0;
    b->probing = false;
    return;
  }
  if (b->consecutive < UINT32_MAX)
    b->consecutive++;
  if (b->state == SB_BREAKER_HALF_OPEN ||
      (b->state == SB_BREAKER_CLOSED && b->consecutive >= threshold)) {
    b->state = SB_BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->probing = false;
    b->opens++;
  }
  /* A failure reported while already open (a request that started before
   * it opened) does not extend the cooldown. */
}

/* ---- table --------------------------------------------------------------- */

/* Slot i, or NULL past the last one. The acquire pairs with the release
 * in add_slot(): a slot number handed out is only ever seen after it. */
static sb_health_slot_t *slot_at(sb_health_t *h, size_t i)
{
  if (h == NULL || i >= atomic_load_explicit(&h->n_slots, memory_order_acquire))
    return NULL;
  return &h->chunks[i / SB_HEALTH_CHUNK][i % SB_HEALTH_CHUNK];
}

/* One more slot (under grow_lock, or before the table is shared). */
static size_t add_slot(sb_health_t *h)
{
  size_t i = atomic_load_explicit(&h->n_slots, memory_order_relaxed);
  size_t c = i / SB_HEALTH_CHUNK;
  if (c >= SB_HEALTH_MAX_CHUNKS)
    return SIZE_MAX;
  if (h->chunks[c] == NULL) {
    sb_health_slot_t *block = calloc(SB_HEALTH_CHUNK, sizeof(*block));
    if (block == NULL)
      return SIZE_MAX;
    for (size_t k = 0; k < SB_HEALTH_CHUNK; k++)
      uv_mutex_init(&block[k].lock);
    h->chunks[c] = block;
  }
  atomic_store_explicit(&h->n_slots, i + 1, memory_order_release);
  return i;
}

sb_health_t *sb_health_new(const sb_config_t *cfg, size_t n_endpoint_slots)
{
  sb_health_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  atomic_init(&h->n_slots, 0);
  uv_mutex_init(&h->grow_lock);
  h->n_endpoint_slots = n_endpoint_slots;
  bool ok = true;
  for (size_t i = 0; ok && i < n_endpoint_slots; i++)
    ok = add_slot(h) != SIZE_MAX;
  /* the providers' slots follow the endpoints' */
  if (!ok || sb_health_attach(h, (sb_config_t *)cfg) != SB_OK) {
    sb_health_free(h);
    return NULL;
  }
  return h;
}

void sb_health_set_label(sb_health_t *h, size_t slot, const char *model,
                         const char *provider)
{
  sb_health_slot_t *s = slot_at(h, slot);
  if (s == NULL)
    return;
  if (model != NULL)
    snprintf(s->label, sizeof(s->label), "%s via %s", model, provider);
  else
    snprintf(s->label, sizeof(s->label), "provider %s", provider);
}

void sb_health_free(sb_health_t *h)
{
  if (h == NULL)
    return;
  for (size_t c = 0; c < SB_HEALTH_MAX_CHUNKS && h->chunks[c] != NULL; c++) {
    for (size_t k = 0; k < SB_HEALTH_CHUNK; k++) {
      uv_mutex_destroy(&h->chunks[c][k].lock);
      free(h->chunks[c][k].key);
    }
    free(h->chunks[c]);
  }
  uv_mutex_destroy(&h->grow_lock);
  free(h->registry);
  for (sb_provider_run_t *r = h->runs, *next; r != NULL; r = next) {
    next = r->next;
    free(r);
  }
  free(h);
}

size_t sb_health_provider_slot(const sb_health_t *h, const sb_provider_t *p)
{
  (void)h;
  return p->run != NULL ? p->run->slot : SIZE_MAX;
}

/* ---- endpoint slots by model and provider ------------------------------ */

static uint64_t key_hash(const char *k, size_t n)
{
  uint64_t x = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    x ^= (unsigned char)k[i];
    x *= 1099511628211ull;
  }
  return x;
}

/* The registry entry for key k[0..n): its cell (0 = empty, else slot+1). */
static uint32_t *registry_cell(sb_health_t *h, const char *k, size_t n)
{
  size_t i = (size_t)key_hash(k, n) & h->registry_mask;
  while (h->registry[i] != 0) {
    const char *have = slot_at(h, h->registry[i] - 1)->key;
    size_t hn = strlen(have);
    hn += strlen(have + hn + 1) + 1;
    if (hn == n && memcmp(have, k, n) == 0)
      break;
    i = (i + 1) & h->registry_mask;
  }
  return &h->registry[i];
}

static bool registry_grow(sb_health_t *h)
{
  size_t size = h->registry == NULL ? 256 : (h->registry_mask + 1) * 2;
  uint32_t *old = h->registry;
  size_t old_size = old == NULL ? 0 : h->registry_mask + 1;
  h->registry = calloc(size, sizeof(uint32_t));
  if (h->registry == NULL) {
    h->registry = old;
    return false;
  }
  h->registry_mask = size - 1;
  for (size_t i = 0; i < old_size; i++)
    if (old[i] != 0) {
      const char *k = slot_at(h, old[i] - 1)->key;
      size_t n = strlen(k);
      n += strlen(k + n + 1) + 1;
      *registry_cell(h, k, n) = old[i];
    }
  free(old);
  return true;
}

size_t sb_health_endpoint_slot(sb_health_t *h, const char *model,
                               const char *provider)
{
  size_t mn = strlen(model), pn = strlen(provider);
  char *k = malloc(mn + pn + 2);
  size_t slot = SIZE_MAX;
  if (k == NULL)
    return SIZE_MAX;
  memcpy(k, model, mn + 1);
  memcpy(k + mn + 1, provider, pn + 1);
  uv_mutex_lock(&h->grow_lock);
  if ((h->registry_used + 1) * 2 > (h->registry == NULL
                                        ? 0
                                        : h->registry_mask + 1) &&
      !registry_grow(h))
    goto out;
  uint32_t *cell = registry_cell(h, k, mn + pn + 1);
  if (*cell != 0) {
    slot = *cell - 1;
    goto out;
  }
  slot = add_slot(h);
  if (slot == SIZE_MAX || slot >= UINT32_MAX)
    goto out;
  sb_health_slot_t *s = slot_at(h, slot);
  s->key = k;
  k = NULL;
  snprintf(s->label, sizeof(s->label), "%s via %s", model, provider);
  *cell = (uint32_t)slot + 1;
  h->registry_used++;
out:
  uv_mutex_unlock(&h->grow_lock);
  free(k);
  return slot;
}

static void ewma(double *v, double x, bool seeded)
{
  *v = seeded ? *v + EWMA_ALPHA * (x - *v) : x;
}

void sb_health_view(sb_health_t *h, size_t slot, int64_t now_ms,
                    sb_health_view_t *out)
{
  memset(out, 0, sizeof(*out));
  out->uptime_30m = 1.0;
  out->usable = true;
  sb_health_slot_t *s = slot_at(h, slot);
  if (s == NULL)
    return;
  int64_t minute = now_ms / 60000;
  uint64_t ok = 0, failed = 0;
  uv_mutex_lock(&s->lock);
  out->state = s->breaker.state;
  out->usable = sb_breaker_usable(&s->breaker, now_ms, h->cooldown_ms);
  out->seeded = s->seeded;
  out->latency_ms = s->latency_ms;
  out->ttft_ms = s->ttft_ms;
  out->tps = s->tps;
  out->error_rate = s->error_rate;
  out->requests = s->requests;
  out->failures = s->failures;
  out->opens = s->breaker.opens;
  for (size_t i = 0; i < SB_HEALTH_MINUTES; i++)
    if (s->buckets[i].minute != 0 &&
        minute - s->buckets[i].minute < SB_HEALTH_MINUTES) {
      ok += s->buckets[i].ok;
      failed += s->buckets[i].failed;
    }
  uv_mutex_unlock(&s->lock);
  out->samples_30m = (uint32_t)SB_MIN(ok + failed, UINT32_MAX);
  if (ok + failed > 0)
    out->uptime_30m = (double)ok / (double)(ok + failed);
}

bool sb_health_acquire(sb_health_t *h, size_t slot, int64_t now_ms)
{
  sb_health_slot_t *s = slot_at(h, slot);
  if (s == NULL)
    return true;
  uv_mutex_lock(&s->lock);
  bool ok = sb_breaker_acquire(&s->breaker, now_ms, h->cooldown_ms);
  uv_mutex_unlock(&s->lock);
  return ok;
}

void sb_health_release(sb_health_t *h, size_t slot)
{
  sb_health_slot_t *s = slot_at(h, slot);
  if (s == NULL)
    return;
  uv_mutex_lock(&s->lock);
  s->breaker.probing = false;
  uv_mutex_unlock(&s->lock);
}

void sb_health_report(sb_health_t *h, size_t slot, bool ok, int64_t now_ms,
                      double latency_ms, double ttft_ms, uint64_t tokens)
{
  sb_health_slot_t *s = slot_at(h, slot);
  if (s == NULL)
    return;
  int64_t minute = now_ms / 60000;
  size_t b = (size_t)(minute % SB_HEALTH_MINUTES);
  uv_mutex_lock(&s->lock);
  sb_breaker_state_t before = s->breaker.state;
  sb_breaker_record(&s->breaker, ok, now_ms, h->threshold);
  sb_breaker_state_t after = s->breaker.state;
  uint32_t in_a_row = s->breaker.consecutive;
  s->requests++;
  if (!ok)
    s->failures++;
  ewma(&s->error_rate, ok ? 0.0 : 1.0, s->requests > 1);
  if (ok) {
    ewma(&s->latency_ms, latency_ms, s->seeded);
    ewma(&s->ttft_ms, ttft_ms, s->seeded);
    double gen_s = (latency_ms - ttft_ms) / 1000.0;
    if (tokens > 0 && gen_s > 0.001)
      ewma(&s->tps, (double)tokens / gen_s, s->seeded && s->tps > 0);
    s->seeded = true;
  }
  if (s->buckets[b].minute != minute) {
    s->buckets[b].minute = minute;
    s->buckets[b].ok = 0;
    s->buckets[b].failed = 0;
  }
  if (ok)
    s->buckets[b].ok++;
  else
    s->buckets[b].failed++;
  uv_mutex_unlock(&s->lock);
  if (before != after) {
    if (after == SB_BREAKER_OPEN)
      SB_WARN("%s: circuit breaker open after %u failures in a row",
              s->label, in_a_row);
    else if (after == SB_BREAKER_CLOSED)
      SB_INFO("%s: circuit breaker closed", s->label);
  }
}

/* ---- keys ----------------------------------------------------------------- */

int sb_health_pick_key(sb_health_t *h, const sb_provider_t *p, int64_t now_ms)
{
  (void)h;
  if (p->n_keys == 0)
    return -1;
  sb_provider_run_t *r = p->run;
  if (p->n_keys == 1 || r == NULL)
    return 0;
  uint64_t start = atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed);
  int best = -1;
  int64_t best_until = INT64_MAX;
  for (size_t i = 0; i < p->n_keys; i++) {
    size_t k = (size_t)((start + i) % p->n_keys);
    int64_t u = atomic_load_explicit(&r->until[k], memory_order_relaxed);
    if (u <= now_ms)
      return (int)k;
    if (best < 0 || u < best_until) {
      best = (int)k;
      best_until = u;
    }
  }
  return best;
}

void sb_health_key_result(sb_health_t *h, const sb_provider_t *p, int k,
                          long status, uint32_t retry_after_ms, int64_t now_ms)
{
  if (h == NULL || p->run == NULL || k < 0 || (size_t)k >= p->run->n_keys)
    return;
  _Atomic int64_t *u = &p->run->until[k];
  uint32_t auth_cooldown = atomic_load(&h->key_auth_cooldown_ms);
  if (status == 401 || status == 402 || status == 403) {
    int64_t until =
        auth_cooldown > 0 ? now_ms + (int64_t)auth_cooldown : INT64_MAX;
    if (atomic_exchange(u, until) != until)
      SB_WARN("provider %s: key #%d refused with %ld; set aside %s", p->name,
              k + 1, status,
              until == INT64_MAX ? "for the life of the process"
                                 : "for key_auth_cooldown_ms");
  } else if (status == 429) {
    int64_t until = now_ms + (retry_after_ms > 1000 ? retry_after_ms : 1000);
    int64_t cur = atomic_load(u);
    while (cur < until && !atomic_compare_exchange_weak(u, &cur, until))
      ;
  }
}

int64_t sb_health_key_until(sb_health_t *h, const sb_provider_t *p, int k)
{
  (void)h;
  if (p->run == NULL || k < 0 || (size_t)k >= p->run->n_keys)
    return 0;
  return atomic_load(&p->run->until[k]);
}

/* ---- providers' state, across configs ---------------------------------- */

static uint64_t secret_hash(const char *k)
{
  return key_hash(k, strlen(k));
}

/* One provider's state, taking over `prev`'s (the same name) for the keys
 * it still has. */
static sb_provider_run_t *run_new(const sb_provider_t *p, size_t slot,
                                  const sb_provider_run_t *prev)
{
  size_t nk = p->n_keys, name_len = strlen(p->name);
  sb_provider_run_t *r =
      malloc(sizeof(*r) + nk * (sizeof(uint64_t) + sizeof(int64_t)) +
             name_len + 1);
  if (r == NULL)
    return NULL;
  r->next = NULL;
  r->slot = slot;
  r->n_keys = nk;
  r->key_hash = (uint64_t *)(r + 1);
  r->until = (_Atomic int64_t *)(r->key_hash + nk);
  r->name = (char *)(r->until + nk);
  memcpy(r->name, p->name, name_len + 1);
  atomic_init(&r->rr, prev != NULL ? atomic_load(&prev->rr) : 0);
  for (size_t k = 0; k < nk; k++) {
    r->key_hash[k] = secret_hash(p->keys[k]);
    int64_t until = 0;
    for (size_t j = 0; prev != NULL && j < prev->n_keys; j++)
      if (prev->key_hash[j] == r->key_hash[k])
        until = atomic_load(&prev->until[j]);
    atomic_init(&r->until[k], until);
  }
  return r;
}

sb_status_t sb_health_attach(sb_health_t *h, sb_config_t *cfg)
{
  atomic_store(&h->threshold,
               cfg->breaker_failures > 0 ? cfg->breaker_failures : 5);
  atomic_store(&h->cooldown_ms, cfg->breaker_cooldown_ms);
  atomic_store(&h->key_auth_cooldown_ms, cfg->key_auth_cooldown_ms);
  for (size_t i = 0; i < cfg->n_providers; i++) {
    sb_provider_t *p = &cfg->providers[i];
    /* a provider's pass-through ids: the slot of model "" */
    size_t slot = sb_health_endpoint_slot(h, "", p->name);
    if (slot == SIZE_MAX)
      return SB_ERROR;
    uv_mutex_lock(&h->grow_lock);
    const sb_provider_run_t *prev = h->runs;
    while (prev != NULL && strcmp(prev->name, p->name) != 0)
      prev = prev->next;
    /* named once: a slot in use may be read by the scrape meanwhile */
    if (prev == NULL)
      sb_health_set_label(h, slot, NULL, p->name);
    sb_provider_run_t *r = run_new(p, slot, prev);
    if (r != NULL) {
      r->next = h->runs;
      h->runs = r;
    }
    uv_mutex_unlock(&h->grow_lock);
    if (r == NULL)
      return SB_ERROR;
    p->run = r;
  }
  return SB_OK;
}

void sb_health_detach(sb_health_t *h, sb_config_t *cfg)
{
  uv_mutex_lock(&h->grow_lock);
  for (size_t i = 0; i < cfg->n_providers; i++) {
    sb_provider_run_t *r = cfg->providers[i].run;
    for (sb_provider_run_t **p = &h->runs; r != NULL && *p != NULL;
         p = &(*p)->next)
      if (*p == r) {
        *p = r->next;
        free(r);
        break;
      }
    cfg->providers[i].run = NULL;
  }
  uv_mutex_unlock(&h->grow_lock);
}
