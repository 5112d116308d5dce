/* SPDX-License-Identifier: MIT */
/*
 * Building a catalog, internal to src/gateway/: catalog.c builds from the
 * embedded catalog and the config and finishes the table; catalog_lists.c
 * merges the refreshed lists (OpenRouter's, the providers' own) in
 * between. docs/catalog.md.
 */
#ifndef SB_GATEWAY_CATALOG_BUILD_H
#define SB_GATEWAY_CATALOG_BUILD_H

#include "switchboard/catalog.h"

/* A string index over `n` names (model ids, a provider's model names):
 * open addressing, name index + 1 per cell, 0 = empty. */
typedef struct {
  uint32_t *cells;
  size_t mask;
} sb_cb_names_t;

/* What a model under construction has from OpenRouter's list. */
typedef struct {
  bool listed;   /* OpenRouter's list has it */
  bool replaced; /* a config entry replaced it since: its prices win */
  sb_price_t price;
  const sb_json_t *pricing;
  int64_t at;
} sb_cb_or_info_t;

/* A catalog being built: the table grows model by model, then finish()
 * (catalog.c) drops what is not served and indexes it. */
typedef struct {
  sb_catalog_t *cat;
  const sb_config_t *cfg;
  char *err;
  size_t errlen;
  size_t cap;               /* models the table can hold */
  sb_cb_names_t ids;        /* cat->models by id, while building */
  sb_cb_or_info_t *or_info; /* per model */
  size_t *ep_cap;           /* per model: room in its endpoints array */
  bool or_list; /* OpenRouter's list is in: it says what it serves */
} sb_cb_t;

bool sb_cb_names_init(sb_arena_t *a, sb_cb_names_t *t, size_t n);
/* The cell for `key`: the one holding it, or the empty one it would go
 * in. `name_of(ctx, i)` is the name at index i. */
uint32_t *sb_cb_names_cell(const sb_cb_names_t *t, sb_slice_t key,
                           sb_slice_t (*name_of)(const void *ctx, uint32_t i),
                           const void *ctx);
/* name_of for the catalog's models (ctx: the catalog) */
sb_slice_t sb_cb_model_id_at(const void *ctx, uint32_t i);

/* A string member unescaped into the arena (NULL when absent or not a
 * string); a count member (0 when absent or not one). */
const char *sb_cb_str(sb_arena_t *a, const sb_json_t *obj, const char *key);
uint32_t sb_cb_u32(const sb_json_t *obj, const char *key);

/* The model at id, or NULL; a new one at the end of the table with room
 * for `eps` endpoints (NULL when the table or the memory is full); a
 * model's position. */
sb_model_t *sb_cb_find(sb_cb_t *b, sb_slice_t id);
sb_model_t *sb_cb_add_model(sb_cb_t *b, const char *id, size_t eps);
size_t sb_cb_index(const sb_cb_t *b, const sb_model_t *m);
/* One more endpoint: zeroed, or bound to a provider of the config. NULL
 * when out of memory. */
sb_endpoint_t *sb_cb_push_endpoint(sb_cb_t *b, sb_model_t *m);
sb_endpoint_t *sb_cb_add_endpoint(sb_cb_t *b, sb_model_t *m,
                                  const char *provider, const char *upstream);
void sb_cb_set_price(sb_endpoint_t *ep, const sb_price_t *p,
                     const sb_json_t *pricing, const char *source, int64_t at);

/* Merge a refreshed list (catalog_lists.c); the number of its entries
 * used (0 when it does not parse: left out with a warning). */
size_t sb_cb_merge_openrouter(sb_cb_t *b, const sb_catalog_source_t *s);
size_t sb_cb_merge_provider(sb_cb_t *b, const sb_catalog_source_t *s,
                            const sb_provider_t *p);

#endif
