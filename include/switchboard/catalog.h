/* SPDX-License-Identifier: MIT */
/*
 * The model catalog: models by provider-qualified id, each with one or more
 * endpoints (a provider, the provider's own model name, prices and where
 * the prices came from). docs/catalog.md.
 *
 * A catalog is built from, in order of precedence (a later layer wins):
 *   1. the embedded catalog/models.json (the offline fallback);
 *   2. refreshed lists (catalog_feed.h): OpenRouter's models, context
 *      lengths and prices, and each provider's own list of the models it
 *      serves (availability);
 *   3. the config's `models:` entries, which always win.
 *
 * A built catalog is immutable and reference-counted (snapshot.h): the
 * gateway publishes a new one after each refresh, and a request keeps the
 * one it started with until it ends. Its endpoints are bound to the
 * providers of the config it was built with.
 */
#ifndef SWITCHBOARD_CATALOG_H
#define SWITCHBOARD_CATALOG_H

#include <stdatomic.h>

#include "switchboard/arena.h"
#include "switchboard/config.h"
#include "switchboard/json.h"
#include "switchboard/pricing.h"
#include "switchboard/snapshot.h"

struct sb_health;

typedef struct {
  const char *provider_name;
  const sb_provider_t *provider; /* NULL when that provider is not configured */
  const char *upstream_model;
  sb_price_t price;         /* price.unknown: no known price */
  const sb_json_t *pricing; /* the pricing object as written, or NULL */
  /* where the price came from: "embedded", "openrouter", "config" or
   * "provider:NAME" (that provider's own list), and when (unix seconds;
   * 0 when not known) */
  const char *pricing_source;
  int64_t pricing_updated_at;
  uint32_t context_length; /* 0 = the model's */
  bool implicit;           /* the OpenRouter route the gateway adds */
  uint32_t slot;           /* its health slot (health.h), 0.. */
} sb_endpoint_t;

typedef struct {
  const char *id; /* "openai/gpt-4o-mini" */
  const char *name;
  const sb_json_t *json; /* the entry (architecture, ...) */
  const char *source;    /* where the entry came from, as above */
  uint32_t context_length;
  bool reasons; /* sb_model_reasons(), read once when the catalog is built */
  sb_endpoint_t *endpoints;
  size_t n_endpoints;
} sb_model_t;

/* A refreshed list in its normal form (catalog_feed.h), as stored: its
 * source ("openrouter" or "provider:NAME"), when it was fetched (unix
 * seconds) and the body. */
typedef struct {
  const char *name;
  int64_t fetched_at;
  sb_slice_t body;
} sb_catalog_source_t;

#define SB_CATALOG_MAX_SOURCES 64

/* Something the API layer renders from a catalog once and keeps with it
 * (the model lists): freed with the catalog. Each has a slot of its own. */
typedef enum {
  SB_CATALOG_EXTRA_MODELS,        /* GET /v1/models */
  SB_CATALOG_EXTRA_GEMINI_MODELS, /* GET /v1beta/models */
  SB_CATALOG_N_EXTRAS
} sb_catalog_extra_slot_t;
typedef struct sb_catalog_extra sb_catalog_extra_t;
struct sb_catalog_extra {
  void (*free)(sb_catalog_extra_t *e);
};

typedef struct sb_catalog {
  sb_snap_t snap; /* the reference count; sb_catalog_release() */
  sb_arena_t arena;
  const sb_config_t *config; /* the providers its endpoints are bound to */
  sb_model_t *models;
  size_t n_models;
  uint32_t *index; /* open addressing: model index + 1, 0 = empty */
  size_t index_mask;
  size_t n_endpoints;
  int64_t embedded_at; /* when the embedded prices were recorded */
  /* the refreshed lists it was built from */
  struct {
    const char *name;
    int64_t fetched_at;
    size_t models; /* entries of the list used */
  } sources[SB_CATALOG_MAX_SOURCES];
  size_t n_sources;
  _Atomic(sb_catalog_extra_t *) extra[SB_CATALOG_N_EXTRAS];
} sb_catalog_t;

/*
 * Build a catalog from the embedded one, the refreshed lists `src` (may be
 * NULL when n_src is 0) and cfg->models. Endpoints whose provider is
 * configured are bound to it. With `health`, each endpoint gets the health
 * slot of its model and provider (the same slot in every catalog, so a
 * refresh keeps breakers and averages); without, slots are numbered 0..
 * A list that does not parse is left out with a warning; an invalid
 * embedded catalog or config entry fails with the reason in `err`.
 * Returns a catalog with one reference (the caller's), or NULL.
 */
sb_catalog_t *sb_catalog_build(const sb_config_t *cfg,
                               const sb_catalog_source_t *src, size_t n_src,
                               struct sb_health *health, char *err,
                               size_t errlen);

/* The embedded catalog and cfg->models only. */
sb_catalog_t *sb_catalog_load(const sb_config_t *cfg, char *err, size_t errlen);

/* Give back a reference (NULL is a no-op); the last one frees it. */
void sb_catalog_release(const sb_catalog_t *cat);

const sb_model_t *sb_catalog_find(const sb_catalog_t *cat, sb_slice_t id);

/* Does the model reason (its supported_parameters name reasoning)? True
 * when the catalog does not say, or for no model (a pass-through id). */
static inline bool sb_model_reasons(const sb_model_t *m)
{
  return m == NULL || m->reasons;
}

/* The endpoint requests go to by default: the cheapest endpoint whose
 * provider is configured and supported (a known price before an unknown
 * one, the implicit OpenRouter route last), or NULL. */
const sb_endpoint_t *sb_model_default_endpoint(const sb_model_t *m);

/* Attach `e` in `slot` unless something is attached there already: true
 * when attached (the catalog frees it), false when the caller keeps it
 * (use sb_catalog_extra()'s instead). */
bool sb_catalog_attach(const sb_catalog_t *cat, sb_catalog_extra_slot_t slot,
                       sb_catalog_extra_t *e);
static inline sb_catalog_extra_t *sb_catalog_extra(const sb_catalog_t *cat,
                                                   sb_catalog_extra_slot_t slot)
{
  return atomic_load_explicit(&((sb_catalog_t *)cat)->extra[slot],
                              memory_order_acquire);
}

/* ---- what changed between two catalogs (a refresh's summary) ---------- */

#define SB_CATALOG_DIFF_SHOW 5

typedef struct {
  size_t added, removed, repriced; /* models */
  /* the first few ids of each */
  const char *added_ids[SB_CATALOG_DIFF_SHOW];
  const char *removed_ids[SB_CATALOG_DIFF_SHOW];
  const char *repriced_ids[SB_CATALOG_DIFF_SHOW];
} sb_catalog_diff_t;

/* Models of `now` missing from `before` (added), the reverse (removed),
 * and models in both with an endpoint (by provider) whose price differs.
 * The ids point into the catalogs. */
void sb_catalog_diff(const sb_catalog_t *before, const sb_catalog_t *now,
                     sb_catalog_diff_t *d);

/* ---- prices worth a warning (`switchboard check`) ---------------------- */

typedef struct {
  size_t stale, unknown; /* routable models */
  const char *stale_ids[SB_CATALOG_DIFF_SHOW];
  const char *unknown_ids[SB_CATALOG_DIFF_SHOW];
} sb_catalog_age_t;

/* Routable models whose default endpoint's price was recorded more than
 * `max_age_s` before `now_s`, or is unknown. */
void sb_catalog_age(const sb_catalog_t *cat, int64_t now_s, int64_t max_age_s,
                    sb_catalog_age_t *out);

#endif
