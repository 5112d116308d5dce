/* SPDX-License-Identifier: MIT */
/*
 * Endpoint health, circuit breakers, provider key rotation and retry
 * backoff (docs/routing.md).
 *
 * One sb_health_t per gateway, built after the catalog and shared by every
 * worker thread. Each endpoint (a catalog model's provider endpoint, or a
 * provider as a whole for pass-through ids) has a slot with its own mutex:
 * a request takes it twice (choosing, reporting) for a few dozen
 * nanoseconds, never across I/O. Key states are single atomics.
 */
#ifndef SWITCHBOARD_HEALTH_H
#define SWITCHBOARD_HEALTH_H

#include <stdatomic.h>
#include <uv.h>

#include "switchboard/common.h"
#include "switchboard/config.h"
#include "switchboard/provider.h"

/* ---- retry backoff (pure) ---------------------------------------------- */

/* The wait before retry number `retry` (0 for the first retry): exponential
 * from base_ms, capped at max_ms, with "equal jitter" (half fixed, half
 * drawn from `rnd`). A Retry-After from the upstream (`retry_after_ms`,
 * 0 = none) is honoured when it is longer, but never beyond max_ms:
 * returns UINT32_MAX when the upstream asks for more than that (the caller
 * should not retry this endpoint). */
uint32_t sb_retry_backoff_ms(const sb_retry_policy_t *p, unsigned retry,
                             uint32_t retry_after_ms, uint64_t rnd);

/* Retry-After as seconds (possibly fractional, "1.5"); SB_ERROR when it is
 * not a number (HTTP dates are not honoured). Capped at one day. */
sb_status_t sb_retry_after_parse(sb_slice_t v, uint32_t *ms);

/* Upstream HTTP statuses worth retrying on the same endpoint. */
bool sb_retry_status(long status);

/* ---- circuit breaker (pure; the caller holds the slot's lock) ---------- */

typedef enum {
  SB_BREAKER_CLOSED = 0,
  SB_BREAKER_OPEN,
  SB_BREAKER_HALF_OPEN
} sb_breaker_state_t;

typedef struct {
  sb_breaker_state_t state;
  uint32_t consecutive; /* failures in a row */
  int64_t opened_ms;    /* when it last opened */
  bool probing;         /* half-open: the one probe is in flight */
  uint64_t opens;       /* times it opened */
} sb_breaker_t;

/* Could a request go to this endpoint now (without taking the probe)? */
bool sb_breaker_usable(const sb_breaker_t *b, int64_t now_ms,
                       uint32_t cooldown_ms);
/* A request is going: false when the breaker is open (or its half-open
 * probe is taken). Takes the probe when the cooldown is over. */
bool sb_breaker_acquire(sb_breaker_t *b, int64_t now_ms, uint32_t cooldown_ms);
/* The outcome of a request that acquired. */
void sb_breaker_record(sb_breaker_t *b, bool ok, int64_t now_ms,
                       uint32_t threshold);

/* ---- health table -------------------------------------------------------- */

#define SB_HEALTH_MINUTES 30

typedef struct {
  uv_mutex_t lock;
  char label[128];    /* "model via provider", for the log */
  char *key;          /* "model\0provider" for registered endpoint slots */
  sb_breaker_t breaker;
  bool seeded;        /* the averages hold at least one sample */
  double latency_ms;  /* EWMA of the whole attempt */
  double ttft_ms;     /* EWMA of the time to the first body byte */
  double tps;         /* EWMA of completion tokens per second */
  double error_rate;  /* EWMA of 0 (ok) / 1 (failed) */
  uint64_t requests, failures;
  struct {
    int64_t minute;   /* unix minute this bucket counts, 0 = unused */
    uint32_t ok, failed;
  } buckets[SB_HEALTH_MINUTES];
} sb_health_slot_t;

/* A consistent copy of a slot for reports and routing. */
typedef struct {
  sb_breaker_state_t state;
  bool usable;
  bool seeded;
  double latency_ms, ttft_ms, tps, error_rate;
  uint64_t requests, failures;
  uint64_t opens;     /* times its breaker opened */
  double uptime_30m;  /* share of successes in the last 30 minutes; 1 if none */
  uint32_t samples_30m;
} sb_health_view_t;

#define SB_HEALTH_CHUNK 256        /* slots per block */
#define SB_HEALTH_MAX_CHUNKS 1024  /* so at most 262,144 slots */

typedef struct sb_health {
  /* Slots live in blocks that never move, so a slot added while workers
   * read others (a catalog refresh brought a new endpoint) needs no lock
   * on the read side: slot i is chunks[i / SB_HEALTH_CHUNK][i % ...]. */
  sb_health_slot_t *chunks[SB_HEALTH_MAX_CHUNKS];
  _Atomic size_t n_slots;
  size_t n_endpoint_slots;        /* numbered endpoint slots come first */
  uv_mutex_t grow_lock;           /* adding slots, the registry below */
  uint32_t *registry;             /* slot + 1 by model and provider */
  size_t registry_mask, registry_used;
  struct sb_provider_run *runs;   /* every provider attached, newest first */
  /* the config's `health` settings (a reload changes them) */
  _Atomic uint32_t threshold, cooldown_ms, key_auth_cooldown_ms;
} sb_health_t;

/* A configured provider's state (sb_provider_t.run): the slot of its
 * pass-through ids and its keys' cool-downs. Made when its config is
 * attached; kept (and freed) by the table, so a config loaded again finds
 * the state of the provider of the same name, and of each of its keys
 * that did not change. */
typedef struct sb_provider_run {
  struct sb_provider_run *next;
  char *name;
  size_t slot;
  size_t n_keys;
  _Atomic uint64_t rr;     /* key rotation */
  uint64_t *key_hash;      /* per key: which key (a hash of it) */
  _Atomic int64_t *until;  /* per key: unusable before this */
} sb_provider_run_t;

/* `n_endpoint_slots` catalog endpoints (numbered by the catalog), then
 * cfg's providers attached (below). NULL on allocation failure. */
sb_health_t *sb_health_new(const sb_config_t *cfg,
                           size_t n_endpoint_slots);
void sb_health_free(sb_health_t *h);

/* Give each provider of `cfg` its state (sb_provider_t.run): the slot and
 * key states of the provider of the same name attached before (a key with
 * the same secret keeps its cool-down), else new ones; and take cfg's
 * `health` settings. Before requests can see cfg (its providers are
 * written); any thread. SB_ERROR when out of memory. */
sb_status_t sb_health_attach(sb_health_t *h, sb_config_t *cfg);
/* Undo sb_health_attach for a config no request has seen (a reload that
 * is refused): its providers' states are taken out and freed, so that the
 * next config attached takes over the states in use. */
void sb_health_detach(sb_health_t *h, sb_config_t *cfg);

/* Name a slot for the log: before the workers start, or a slot just made. */
void sb_health_set_label(sb_health_t *h, size_t slot, const char *model,
                         const char *provider);

/* The slot of a catalog endpoint (model id, provider name): the same one
 * every time it is asked, added (and labelled) the first time, so every
 * catalog built for this gateway shares the endpoint's breaker and
 * averages. Called by whoever builds catalogs (any thread). SIZE_MAX when
 * out of memory or slots. */
size_t sb_health_endpoint_slot(sb_health_t *h, const char *model,
                               const char *provider);

/* Slot of a provider as a whole (pass-through ids). */
size_t sb_health_provider_slot(const sb_health_t *h, const sb_provider_t *p);

void sb_health_view(sb_health_t *h, size_t slot, int64_t now_ms,
                    sb_health_view_t *out);
bool sb_health_acquire(sb_health_t *h, size_t slot, int64_t now_ms);
/* An attempt that says nothing about the endpoint (a throttled key): gives
 * back a half-open probe without counting. */
void sb_health_release(sb_health_t *h, size_t slot);
/* `ok`: the attempt succeeded. Timing of a success feeds the averages:
 * latency and time to first byte in ms, completion tokens (0 = unknown). */
void sb_health_report(sb_health_t *h, size_t slot, bool ok, int64_t now_ms,
                      double latency_ms, double ttft_ms, uint64_t tokens);

/* ---- provider keys ---------------------------------------------------------- */

/* The next key of provider `p` in rotation that is neither set aside nor
 * cooling down; when every key is, the one that frees up first. -1 when
 * the provider has no keys. */
int sb_health_pick_key(sb_health_t *h, const sb_provider_t *p, int64_t now_ms);
/* The upstream answered `status` with key `k`: 401/402/403 set it aside,
 * 429 cools it down for `retry_after_ms` (at least one second). */
void sb_health_key_result(sb_health_t *h, const sb_provider_t *p, int k,
                          long status, uint32_t retry_after_ms, int64_t now_ms);
/* 0 when usable at now_ms, else when it frees up (INT64_MAX: set aside). */
int64_t sb_health_key_until(sb_health_t *h, const sb_provider_t *p, int k);

#endif
