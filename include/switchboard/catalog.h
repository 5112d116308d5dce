/*
 * The model catalog: the embedded catalog/models.json plus the config's
 * `models:` entries, indexed by provider-qualified id. Each model has one
 * or more endpoints (a provider, the provider's own model name, prices).
 *
 * Built once at start-up and read-only afterwards (shared by all workers).
 */
#ifndef SWITCHBOARD_CATALOG_H
#define SWITCHBOARD_CATALOG_H

#include "switchboard/arena.h"
#include "switchboard/config.h"
#include "switchboard/json.h"
#include "switchboard/pricing.h"

typedef struct {
  const char *provider_name;
  const sb_provider_t *provider; /* NULL when that provider is not configured */
  const char *upstream_model;
  sb_price_t price;
  const sb_json_t *pricing;      /* the pricing object as written, or NULL */
  uint32_t context_length;       /* 0 = the model's */
  bool implicit;                 /* added by the gateway (OpenRouter route) */
  uint32_t slot;                 /* its health slot (health.h), 0.. */
} sb_endpoint_t;

typedef struct {
  const char *id;            /* "openai/gpt-4o-mini" */
  const char *name;
  const sb_json_t *json;     /* the catalog entry (architecture, ...) */
  uint32_t context_length;
  sb_endpoint_t *endpoints;
  size_t n_endpoints;
} sb_model_t;

typedef struct {
  sb_arena_t arena;
  sb_model_t *models;
  size_t n_models;
  uint32_t *index; /* open addressing: model index + 1, 0 = empty */
  size_t index_mask;
  size_t n_endpoints; /* over every model: the health slots they number */
} sb_catalog_t;

/* Build from the embedded catalog and cfg->models. Endpoints whose provider
 * is configured are bound to it. Every model also gets an implicit
 * endpoint on the `openrouter` provider when one is configured. */
sb_status_t sb_catalog_load(sb_catalog_t *cat, const sb_config_t *cfg,
                            char *err, size_t errlen);
void sb_catalog_free(sb_catalog_t *cat);

const sb_model_t *sb_catalog_find(const sb_catalog_t *cat, sb_slice_t id);

/* Does the model reason (its supported_parameters name reasoning)? True
 * when the catalog does not say. */
bool sb_model_reasons(const sb_model_t *m);

/* The endpoint requests go to by default: the cheapest endpoint whose
 * provider is configured and supported, or NULL. */
const sb_endpoint_t *sb_model_default_endpoint(const sb_model_t *m);

#endif
