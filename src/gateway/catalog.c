/* SPDX-License-Identifier: MIT */
/*
 * Building a catalog and looking models up; see include/switchboard/catalog.h
 * and docs/catalog.md.
 *
 * Every catalog owns all its memory in one arena: the embedded catalog is
 * parsed in place (its bytes are static), each refreshed list is copied in
 * and parsed there, and config entries are read from the config's own
 * tree (the config outlives every catalog built from it). Models and
 * endpoints point into those trees; nothing else is copied.
 */
#include "switchboard/codec.h"
#include "switchboard/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "switchboard/catalog_feed.h"
#include "switchboard/embedded.h"
#include "switchboard/health.h"
#include "switchboard/log.h"

#include "catalog_build.h"

#define CATALOG_FILE "catalog/models.json"

static uint64_t hash_slice(sb_slice_t s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < s.len; i++) {
    h ^= (unsigned char)s.ptr[i];
    h *= 1099511628211ull;
  }
  return h;
}

bool sb_cb_names_init(sb_arena_t *a, sb_cb_names_t *t, size_t n)
{
  size_t size = 16;
  while (size < n * 2)
    size *= 2;
  t->cells = sb_arena_calloc(a, size * sizeof(uint32_t));
  t->mask = size - 1;
  return t->cells != NULL;
}

uint32_t *sb_cb_names_cell(const sb_cb_names_t *t, sb_slice_t key,
                           sb_slice_t (*name_of)(const void *ctx, uint32_t i),
                           const void *ctx)
{
  size_t h = (size_t)hash_slice(key) & t->mask;
  while (t->cells[h] != 0 && !sb_slice_eq(name_of(ctx, t->cells[h] - 1), key))
    h = (h + 1) & t->mask;
  return &t->cells[h];
}

sb_slice_t sb_cb_model_id_at(const void *ctx, uint32_t i)
{
  return sb_slice_z(((const sb_catalog_t *)ctx)->models[i].id);
}

/* ---- the builder -------------------------------------------------------- */

const char *sb_cb_str(sb_arena_t *a, const sb_json_t *obj, const char *key)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  sb_slice_t s;
  if (v == NULL || v->type != SB_JSON_STRING ||
      sb_json_string(a, v, &s) != SB_OK)
    return NULL;
  return sb_arena_strndup(a, s.ptr, s.len);
}

uint32_t sb_cb_u32(const sb_json_t *obj, const char *key)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  int64_t n;
  if (v == NULL || sb_json_int64(v, &n) != SB_OK || n < 0 || n > UINT32_MAX)
    return 0;
  return (uint32_t)n;
}

/* The model at id, or NULL. */
sb_model_t *sb_cb_find(sb_cb_t *b, sb_slice_t id)
{
  uint32_t *c = sb_cb_names_cell(&b->ids, id, sb_cb_model_id_at, b->cat);
  return *c != 0 ? &b->cat->models[*c - 1] : NULL;
}

/* A new model at the end of the table with room for `eps` endpoints (and
 * the two the builder usually adds: a direct provider's, OpenRouter's). */
sb_model_t *sb_cb_add_model(sb_cb_t *b, const char *id, size_t eps)
{
  sb_catalog_t *cat = b->cat;
  if (cat->n_models >= b->cap)
    return NULL;
  size_t i = cat->n_models;
  sb_model_t *m = &cat->models[i];
  memset(m, 0, sizeof(*m));
  m->id = id;
  m->endpoints =
      sb_arena_calloc(&cat->arena, (eps + 2) * sizeof(sb_endpoint_t));
  if (m->endpoints == NULL)
    return NULL;
  b->ep_cap[i] = eps + 2;
  uint32_t *c =
      sb_cb_names_cell(&b->ids, sb_slice_z(id), sb_cb_model_id_at, cat);
  cat->n_models++; /* before the cell is read back by sb_cb_names_cell */
  *c = (uint32_t)i + 1;
  return m;
}

size_t sb_cb_index(const sb_cb_t *b, const sb_model_t *m)
{
  return (size_t)(m - b->cat->models);
}

/* One more endpoint, zeroed (the array grows when full); NULL when out of
 * memory. */
sb_endpoint_t *sb_cb_push_endpoint(sb_cb_t *b, sb_model_t *m)
{
  size_t *cap = &b->ep_cap[sb_cb_index(b, m)];
  if (m->n_endpoints == *cap) {
    sb_endpoint_t *more =
        sb_arena_alloc(&b->cat->arena, *cap * 2 * sizeof(sb_endpoint_t));
    if (more == NULL)
      return NULL;
    memcpy(more, m->endpoints, m->n_endpoints * sizeof(sb_endpoint_t));
    m->endpoints = more;
    *cap *= 2;
  }
  sb_endpoint_t *ep = &m->endpoints[m->n_endpoints++];
  memset(ep, 0, sizeof(*ep));
  return ep;
}

sb_endpoint_t *sb_cb_add_endpoint(sb_cb_t *b, sb_model_t *m,
                                  const char *provider, const char *upstream)
{
  sb_endpoint_t *ep = sb_cb_push_endpoint(b, m);
  if (ep == NULL)
    return NULL;
  ep->provider_name = provider;
  ep->upstream_model = upstream;
  ep->provider = sb_config_provider(b->cfg, sb_slice_z(provider));
  return ep;
}

/* A model entry of the embedded catalog or the config (their shape: id,
 * name, context_length, endpoints [{provider, model, pricing}]). */
static sb_status_t load_entry(sb_cb_t *b, const sb_json_t *e, const char *where,
                              const char *source, int64_t at)
{
  sb_arena_t *a = &b->cat->arena;
  if (e->type != SB_JSON_OBJECT)
    return sb_catalog_errf(b->err, b->errlen,
                           "%s: each model must be a mapping", where);
  const char *id = sb_cb_str(a, e, "id");
  if (id == NULL || strchr(id, '/') == NULL)
    return sb_catalog_errf(b->err, b->errlen,
                           "%s: a model needs an id like author/slug", where);
  const sb_json_t *eps = sb_json_get(e, "endpoints");
  if (eps == NULL || eps->type != SB_JSON_ARRAY || eps->count == 0)
    return sb_catalog_errf(b->err, b->errlen,
                           "%s: model %s needs a list of endpoints", where, id);
  /* An entry with an id already in the table replaces it, in place. */
  sb_model_t *m = sb_cb_find(b, sb_slice_z(id));
  if (m != NULL) {
    size_t i = sb_cb_index(b, m);
    b->or_info[i].replaced = true;
    memset(m, 0, sizeof(*m));
    m->id = id;
    m->endpoints = sb_arena_calloc(a, (eps->count + 2) * sizeof(sb_endpoint_t));
    b->ep_cap[i] = eps->count + 2;
    if (m->endpoints == NULL)
      return sb_catalog_errf(b->err, b->errlen, "out of memory");
  } else if ((m = sb_cb_add_model(b, id, eps->count)) == NULL) {
    return sb_catalog_errf(b->err, b->errlen, "out of memory");
  }
  m->name = sb_cb_str(a, e, "name");
  if (m->name == NULL)
    m->name = m->id;
  m->json = e;
  m->source = source;
  m->context_length = sb_cb_u32(e, "context_length");
  for (const sb_json_t *x = eps->child; x != NULL; x = x->next) {
    if (x->type != SB_JSON_OBJECT)
      return sb_catalog_errf(b->err, b->errlen,
                             "%s: %s: endpoints must be mappings", where,
                             m->id);
    const char *provider = sb_cb_str(a, x, "provider");
    const char *upstream = sb_cb_str(a, x, "model");
    if (provider == NULL || upstream == NULL)
      return sb_catalog_errf(b->err, b->errlen,
                             "%s: %s: an endpoint needs provider and model",
                             where, m->id);
    sb_endpoint_t *ep = sb_cb_add_endpoint(b, m, provider, upstream);
    const char *why;
    if (ep == NULL)
      return sb_catalog_errf(b->err, b->errlen, "out of memory");
    ep->pricing = sb_json_get(x, "pricing");
    if (sb_feed_price(ep->pricing, &ep->price, &why) != SB_OK)
      return sb_catalog_errf(
          b->err, b->errlen,
          "%s: %s: %s (prices are decimal strings in USD per token, "
          "\"-1\" for unknown)",
          where, m->id, why);
    ep->pricing_source = source;
    ep->pricing_updated_at = at;
    ep->context_length = sb_cb_u32(x, "context_length");
  }
  return SB_OK;
}

/* "2026-11-24" -> unix seconds at 00:00 UTC; 0 when it is not a date. */
static int64_t date_seconds(const sb_json_t *v)
{
  struct tm tm;
  char buf[16];
  sb_slice_t s =
      sb_json_is(v, SB_JSON_STRING) ? sb_json_str_raw(v) : SB_NULL_SLICE;
  if (s.len != 10)
    return 0;
  memcpy(buf, s.ptr, 10);
  buf[10] = '\0';
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(buf, "%Y-%m-%d", &tm);
  return end != NULL && *end == '\0' ? (int64_t)timegm(&tm) : 0;
}

static sb_status_t load_embedded(sb_cb_t *b, const sb_json_t **list_out)
{
  const sb_embedded_file_t *f = sb_embedded_find(CATALOG_FILE);
  if (f == NULL)
    return sb_catalog_errf(b->err, b->errlen,
                           "the embedded catalog is missing");
  sb_json_t *root;
  sb_json_error_t jerr;
  if (sb_json_parse(&b->cat->arena, f->data, f->len, 0, &root, &jerr) != SB_OK)
    return sb_catalog_errf(b->err, b->errlen, "%s: %s at byte %zu",
                           CATALOG_FILE, jerr.message, jerr.offset);
  const sb_json_t *list = sb_json_get(root, "models");
  if (list == NULL || list->type != SB_JSON_ARRAY)
    return sb_catalog_errf(b->err, b->errlen, "%s: no models list",
                           CATALOG_FILE);
  b->cat->embedded_at = date_seconds(sb_json_get(root, "updated"));
  *list_out = list;
  return SB_OK;
}

void sb_cb_set_price(sb_endpoint_t *ep, const sb_price_t *p,
                     const sb_json_t *pricing, const char *source, int64_t at)
{
  ep->price = *p;
  ep->pricing = pricing;
  ep->pricing_source = source;
  ep->pricing_updated_at = at;
}

/* The config's entries win over everything else. Their prices date from
 * the file's last change. */
static sb_status_t load_config(sb_cb_t *b)
{
  struct stat st;
  int64_t at = 0;
  if (b->cfg->models == NULL)
    return SB_OK;
  if (b->cfg->root != NULL && stat(b->cfg->source, &st) == 0)
    at = (int64_t)st.st_mtime;
  for (const sb_json_t *e = b->cfg->models->child; e != NULL; e = e->next)
    if (load_entry(b, e, "config models", "config", at) != SB_OK)
      return SB_ERROR;
  return SB_OK;
}

/* Per model: drop endpoints that are not served any more, add the
 * OpenRouter route (to the models on OpenRouter's list when the catalog
 * has one, else to every model with an endpoint when OpenRouter is
 * configured), number health slots; drop models left with no endpoint;
 * index the rest. */
/* Whether an entry's supported_parameters name reasoning; true when it
 * has none. */
static bool entry_reasons(const sb_json_t *json)
{
  const sb_json_t *sp = sb_json_get(json, "supported_parameters");
  if (!sb_json_is(sp, SB_JSON_ARRAY))
    return true;
  for (const sb_json_t *e = sp->child; e != NULL; e = e->next)
    if (SB_JSON_STR_IS(e, "reasoning") || SB_JSON_STR_IS(e, "reasoning_effort"))
      return true;
  return false;
}

static sb_status_t finish(sb_cb_t *b, sb_health_t *health)
{
  sb_catalog_t *cat = b->cat;
  const sb_provider_t *openrouter =
      sb_config_provider(b->cfg, SB_SLICE_LIT("openrouter"));
  size_t kept = 0;
  for (size_t mi = 0; mi < cat->n_models; mi++) {
    sb_model_t *m = &cat->models[mi];
    const sb_cb_or_info_t *oi = &b->or_info[mi];
    m->reasons = entry_reasons(m->json);
    size_t n = 0;
    bool via_openrouter = false;
    for (size_t i = 0; i < m->n_endpoints; i++)
      if (m->endpoints[i].upstream_model != NULL) {
        m->endpoints[n++] = m->endpoints[i];
        if (strcmp(m->endpoints[i].provider_name, "openrouter") == 0)
          via_openrouter = true;
      }
    m->n_endpoints = n;
    bool own_name =
        m->source != NULL && strncmp(m->source, "provider:", 9) == 0;
    if (!via_openrouter && !own_name &&
        (b->or_list ? oi->listed : openrouter != NULL && n > 0)) {
      /* OpenRouter serves catalog models under their own ids: at the price
       * of its list (unless a config entry set the model's), else at about
       * the list price of the first endpoint. */
      sb_endpoint_t *ep = sb_cb_push_endpoint(b, m);
      if (ep == NULL)
        return sb_catalog_errf(b->err, b->errlen, "out of memory");
      if (oi->listed && !oi->replaced)
        sb_cb_set_price(ep, &oi->price, oi->pricing, "openrouter", oi->at);
      else if (n > 0)
        *ep = m->endpoints[0];
      else
        m->n_endpoints--; /* a config entry whose endpoints all went */
      ep->provider_name = "openrouter";
      ep->provider = openrouter;
      ep->upstream_model = m->id;
      ep->context_length = 0;
      ep->implicit = true;
    }
    if (m->n_endpoints == 0)
      continue;
    for (size_t i = 0; i < m->n_endpoints; i++) {
      sb_endpoint_t *ep = &m->endpoints[i];
      size_t slot = health != NULL ? sb_health_endpoint_slot(health, m->id,
                                                             ep->provider_name)
                                   : cat->n_endpoints;
      if (slot == SIZE_MAX || slot > UINT32_MAX)
        return sb_catalog_errf(b->err, b->errlen,
                               "out of memory (health slots)");
      ep->slot = (uint32_t)slot;
      cat->n_endpoints++;
    }
    cat->models[kept++] = *m;
  }
  cat->n_models = kept;
  sb_cb_names_t idx;
  if (!sb_cb_names_init(&cat->arena, &idx, kept))
    return sb_catalog_errf(b->err, b->errlen, "out of memory");
  for (size_t i = 0; i < kept; i++)
    *sb_cb_names_cell(&idx, sb_slice_z(cat->models[i].id), sb_cb_model_id_at,
                      cat) = (uint32_t)i + 1;
  cat->index = idx.cells;
  cat->index_mask = idx.mask;
  return SB_OK;
}

static void catalog_destroy(sb_snap_t *s)
{
  sb_catalog_t *cat = SB_CONTAINER_OF(s, sb_catalog_t, snap);
  for (size_t i = 0; i < SB_CATALOG_N_EXTRAS; i++) {
    sb_catalog_extra_t *e = sb_catalog_extra(cat, (sb_catalog_extra_slot_t)i);
    if (e != NULL)
      e->free(e);
  }
  sb_arena_destroy(&cat->arena);
  sb_config_unref(cat->config); /* a reloaded config: kept while in use */
  free(cat);
}

/* How many entries a list's normal form has, without parsing it: an
 * upper bound from its "id" members, for sizing the table. */
static size_t count_ids(sb_slice_t body)
{
  size_t n = 0;
  for (const char *p = body.ptr, *end = body.ptr + body.len;
       (p = memmem(p, (size_t)(end - p), "\"id\":", 5)) != NULL; p += 5)
    n++;
  return n;
}

sb_catalog_t *sb_catalog_build(const sb_config_t *cfg,
                               const sb_catalog_source_t *src, size_t n_src,
                               sb_health_t *health, char *err, size_t errlen)
{
  sb_catalog_t *cat = calloc(1, sizeof(*cat));
  sb_cb_t b;
  const sb_json_t *embedded = NULL;
  memset(&b, 0, sizeof(b));
  if (cat == NULL) {
    sb_catalog_errf(err, errlen, "out of memory");
    return NULL;
  }
  sb_snap_init(&cat->snap, catalog_destroy);
  for (size_t i = 0; i < SB_CATALOG_N_EXTRAS; i++)
    atomic_init(&cat->extra[i], NULL);
  sb_arena_init(&cat->arena, 64 * 1024, 0);
  cat->config = sb_config_ref(cfg);
  b.cat = cat;
  b.cfg = cfg;
  b.err = err;
  b.errlen = errlen;
  if (load_embedded(&b, &embedded) != SB_OK)
    goto fail;
  b.cap = embedded->count + (cfg->models != NULL ? cfg->models->count : 0) + 1;
  for (size_t i = 0; i < n_src; i++)
    b.cap += count_ids(src[i].body);
  cat->models = sb_arena_calloc(&cat->arena, b.cap * sizeof(sb_model_t));
  b.or_info = sb_arena_calloc(&cat->arena, b.cap * sizeof(sb_cb_or_info_t));
  b.ep_cap = sb_arena_calloc(&cat->arena, b.cap * sizeof(size_t));
  if (cat->models == NULL || b.or_info == NULL || b.ep_cap == NULL ||
      !sb_cb_names_init(&cat->arena, &b.ids, b.cap)) {
    sb_catalog_errf(err, errlen, "out of memory");
    goto fail;
  }
  for (const sb_json_t *e = embedded->child; e != NULL; e = e->next)
    if (load_entry(&b, e, CATALOG_FILE, "embedded", cat->embedded_at) != SB_OK)
      goto fail;
  /* OpenRouter's list first: the provider lists match against its models. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n_src && cat->n_sources < SB_CATALOG_MAX_SOURCES;
         i++) {
      bool is_or = strcmp(src[i].name, "openrouter") == 0;
      const sb_provider_t *p =
          strncmp(src[i].name, "provider:", 9) == 0
              ? sb_config_provider(cfg, sb_slice_z(src[i].name + 9))
              : NULL;
      if ((pass == 0) != is_or || (!is_or && p == NULL))
        continue; /* the other pass's, or a provider no longer configured */
      size_t used = is_or ? sb_cb_merge_openrouter(&b, &src[i])
                          : sb_cb_merge_provider(&b, &src[i], p);
      cat->sources[cat->n_sources].name =
          sb_arena_strndup(&cat->arena, src[i].name, strlen(src[i].name));
      cat->sources[cat->n_sources].fetched_at = src[i].fetched_at;
      cat->sources[cat->n_sources].models = used;
      cat->n_sources++;
    }
  if (load_config(&b) != SB_OK || finish(&b, health) != SB_OK)
    goto fail;
  return cat;
fail:
  sb_catalog_release(cat);
  return NULL;
}

sb_catalog_t *sb_catalog_load(const sb_config_t *cfg, char *err, size_t errlen)
{
  return sb_catalog_build(cfg, NULL, 0, NULL, err, errlen);
}

void sb_catalog_release(const sb_catalog_t *cat)
{
  if (cat != NULL)
    sb_snap_release(&((sb_catalog_t *)cat)->snap);
}

bool sb_catalog_attach(const sb_catalog_t *cat, sb_catalog_extra_slot_t slot,
                       sb_catalog_extra_t *e)
{
  sb_catalog_extra_t *none = NULL;
  return atomic_compare_exchange_strong_explicit(&((sb_catalog_t *)cat)->extra[slot],
                                                 &none, e, memory_order_acq_rel,
                                                 memory_order_acquire);
}

const sb_model_t *sb_catalog_find(const sb_catalog_t *cat, sb_slice_t id)
{
  if (cat == NULL || cat->index == NULL)
    return NULL;
  sb_cb_names_t idx = {cat->index, cat->index_mask};
  uint32_t c = *sb_cb_names_cell(&idx, id, sb_cb_model_id_at, cat);
  return c != 0 ? &cat->models[c - 1] : NULL;
}

/* Prompt + completion; an unknown price after every known one. */
static int64_t list_price(const sb_endpoint_t *e)
{
  return e->price.unknown ? INT64_MAX / 4
                          : e->price.prompt + e->price.completion;
}

const sb_endpoint_t *sb_model_default_endpoint(const sb_model_t *m)
{
  const sb_endpoint_t *best = NULL;
  for (size_t i = 0; i < m->n_endpoints; i++) {
    const sb_endpoint_t *e = &m->endpoints[i];
    if (e->provider == NULL || sb_codec_find(e->provider->format) == NULL)
      continue;
    /* The implicit OpenRouter route is a last resort, not a price win. */
    if (best == NULL || (best->implicit && !e->implicit) ||
        (!e->implicit && list_price(e) < list_price(best)))
      best = e;
  }
  return best;
}

/* ---- reports ------------------------------------------------------------- */

static void note(size_t *count, const char **ids, const char *id)
{
  if (*count < SB_CATALOG_DIFF_SHOW)
    ids[*count] = id;
  (*count)++;
}

static bool same_price(const sb_price_t *a, const sb_price_t *b)
{
  return a->unknown == b->unknown && a->prompt == b->prompt &&
         a->completion == b->completion && a->request == b->request &&
         a->cache_read == b->cache_read && a->cache_write == b->cache_write &&
         a->reasoning == b->reasoning &&
         a->has_cache_read == b->has_cache_read &&
         a->has_cache_write == b->has_cache_write &&
         a->has_reasoning == b->has_reasoning;
}

void sb_catalog_diff(const sb_catalog_t *before, const sb_catalog_t *now,
                     sb_catalog_diff_t *d)
{
  memset(d, 0, sizeof(*d));
  for (size_t i = 0; i < now->n_models; i++) {
    const sb_model_t *m = &now->models[i];
    const sb_model_t *o = sb_catalog_find(before, sb_slice_z(m->id));
    if (o == NULL) {
      note(&d->added, d->added_ids, m->id);
      continue;
    }
    bool changed = false;
    for (size_t j = 0; j < m->n_endpoints && !changed; j++)
      for (size_t k = 0; k < o->n_endpoints; k++)
        if (strcmp(m->endpoints[j].provider_name,
                   o->endpoints[k].provider_name) == 0) {
          changed = !same_price(&m->endpoints[j].price, &o->endpoints[k].price);
          break;
        }
    if (changed)
      note(&d->repriced, d->repriced_ids, m->id);
  }
  for (size_t i = 0; before != NULL && i < before->n_models; i++)
    if (sb_catalog_find(now, sb_slice_z(before->models[i].id)) == NULL)
      note(&d->removed, d->removed_ids, before->models[i].id);
}

void sb_catalog_age(const sb_catalog_t *cat, int64_t now_s, int64_t max_age_s,
                    sb_catalog_age_t *out)
{
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < cat->n_models; i++) {
    const sb_model_t *m = &cat->models[i];
    const sb_endpoint_t *e = sb_model_default_endpoint(m);
    if (e == NULL)
      continue;
    if (e->price.unknown)
      note(&out->unknown, out->unknown_ids, m->id);
    else if (e->pricing_updated_at > 0 &&
             now_s - e->pricing_updated_at > max_age_s)
      note(&out->stale, out->stale_ids, m->id);
  }
}
