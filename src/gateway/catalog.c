/*
 * Model catalog loading and lookup; see include/switchboard/catalog.h.
 * The embedded catalog is parsed in place (its bytes are static), config
 * entries are read from the config's own tree; both keep pointing at their
 * source, so nothing is copied but the endpoint tables.
 */
#include "switchboard/codec.h"
#include "switchboard/catalog.h"

#include <stdarg.h>
#include <stdio.h>

#include "switchboard/embedded.h"
#include "switchboard/log.h"

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

static sb_status_t fail(char *err, size_t errlen, const char *fmt, ...)
    SB_PRINTF(3, 4);
static sb_status_t fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return SB_ERROR;
}

static const char *str_member(sb_catalog_t *cat, const sb_json_t *obj,
                              const char *key)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  sb_slice_t s;
  if (v == NULL || v->type != SB_JSON_STRING ||
      sb_json_string(&cat->arena, v, &s) != SB_OK)
    return NULL;
  return sb_arena_strndup(&cat->arena, s.ptr, s.len);
}

static uint32_t u32_member(const sb_json_t *obj, const char *key)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  int64_t n;
  if (v == NULL || sb_json_int64(v, &n) != SB_OK || n < 0 || n > UINT32_MAX)
    return 0;
  return (uint32_t)n;
}

/* One price field: a decimal string (or a plain number). */
static sb_status_t price_field(const sb_json_t *pricing, const char *key,
                               int64_t *out, bool *present)
{
  const sb_json_t *v = sb_json_getn(pricing, key, strlen(key));
  if (present != NULL)
    *present = false;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  sb_slice_t s = v->type == SB_JSON_STRING ? sb_json_str_raw(v) : v->raw;
  if ((v->type != SB_JSON_STRING && v->type != SB_JSON_NUMBER) ||
      sb_price_parse(s, out) != SB_OK)
    return SB_ERROR;
  if (present != NULL)
    *present = true;
  return SB_OK;
}

static sb_status_t parse_price(const sb_json_t *pricing, sb_price_t *p)
{
  memset(p, 0, sizeof(*p));
  if (pricing == NULL || pricing->type != SB_JSON_OBJECT)
    return pricing == NULL || pricing->type == SB_JSON_NULL ? SB_OK : SB_ERROR;
  if (price_field(pricing, "prompt", &p->prompt, NULL) != SB_OK ||
      price_field(pricing, "completion", &p->completion, NULL) != SB_OK ||
      price_field(pricing, "request", &p->request, NULL) != SB_OK ||
      price_field(pricing, "input_cache_read", &p->cache_read,
                  &p->has_cache_read) != SB_OK ||
      price_field(pricing, "input_cache_write", &p->cache_write,
                  &p->has_cache_write) != SB_OK ||
      price_field(pricing, "internal_reasoning", &p->reasoning,
                  &p->has_reasoning) != SB_OK)
    return SB_ERROR;
  return SB_OK;
}

static sb_status_t load_model(sb_catalog_t *cat, const sb_config_t *cfg,
                              const sb_json_t *e, sb_model_t *m,
                              const char *source, char *err, size_t errlen)
{
  memset(m, 0, sizeof(*m));
  if (e->type != SB_JSON_OBJECT)
    return fail(err, errlen, "%s: each model must be a mapping", source);
  m->id = str_member(cat, e, "id");
  if (m->id == NULL || strchr(m->id, '/') == NULL)
    return fail(err, errlen, "%s: a model needs an id like author/slug", source);
  m->name = str_member(cat, e, "name");
  if (m->name == NULL)
    m->name = m->id;
  m->json = e;
  m->context_length = u32_member(e, "context_length");
  const sb_json_t *eps = sb_json_get(e, "endpoints");
  if (eps == NULL || eps->type != SB_JSON_ARRAY || eps->count == 0)
    return fail(err, errlen, "%s: model %s needs a list of endpoints", source,
                m->id);
  const sb_provider_t *openrouter =
      sb_config_provider(cfg, SB_SLICE_LIT("openrouter"));
  size_t cap = eps->count + 1;
  m->endpoints = sb_arena_calloc(&cat->arena, cap * sizeof(sb_endpoint_t));
  if (m->endpoints == NULL)
    return fail(err, errlen, "out of memory");
  bool via_openrouter = false;
  for (const sb_json_t *x = eps->child; x != NULL; x = x->next) {
    sb_endpoint_t *ep = &m->endpoints[m->n_endpoints];
    if (x->type != SB_JSON_OBJECT)
      return fail(err, errlen, "%s: %s: endpoints must be mappings", source,
                  m->id);
    ep->provider_name = str_member(cat, x, "provider");
    ep->upstream_model = str_member(cat, x, "model");
    if (ep->provider_name == NULL || ep->upstream_model == NULL)
      return fail(err, errlen, "%s: %s: an endpoint needs provider and model",
                  source, m->id);
    ep->pricing = sb_json_get(x, "pricing");
    if (parse_price(ep->pricing, &ep->price) != SB_OK)
      return fail(err, errlen,
                  "%s: %s: prices must be decimal strings in USD per token",
                  source, m->id);
    ep->context_length = u32_member(x, "context_length");
    ep->provider = sb_config_provider(cfg, sb_slice_z(ep->provider_name));
    if (strcmp(ep->provider_name, "openrouter") == 0)
      via_openrouter = true;
    m->n_endpoints++;
  }
  if (openrouter != NULL && !via_openrouter) {
    /* OpenRouter serves every catalog model under its own id, at about the
     * list price of the first endpoint. */
    sb_endpoint_t *ep = &m->endpoints[m->n_endpoints++];
    *ep = m->endpoints[0];
    ep->provider_name = "openrouter";
    ep->provider = openrouter;
    ep->upstream_model = m->id;
    ep->implicit = true;
  }
  return SB_OK;
}

static sb_status_t index_build(sb_catalog_t *cat)
{
  size_t size = 16;
  while (size < cat->n_models * 2)
    size *= 2;
  cat->index = sb_arena_calloc(&cat->arena, size * sizeof(uint32_t));
  if (cat->index == NULL)
    return SB_ERROR;
  cat->index_mask = size - 1;
  for (size_t i = 0; i < cat->n_models; i++) {
    size_t h = (size_t)hash_slice(sb_slice_z(cat->models[i].id)) &
               cat->index_mask;
    while (cat->index[h] != 0)
      h = (h + 1) & cat->index_mask;
    cat->index[h] = (uint32_t)i + 1;
  }
  return SB_OK;
}

sb_status_t sb_catalog_load(sb_catalog_t *cat, const sb_config_t *cfg,
                            char *err, size_t errlen)
{
  memset(cat, 0, sizeof(*cat));
  sb_arena_init(&cat->arena, 64 * 1024, 0);
  const sb_embedded_file_t *f = sb_embedded_find(CATALOG_FILE);
  if (f == NULL)
    return fail(err, errlen, "the embedded catalog is missing");
  sb_json_t *root;
  sb_json_error_t jerr;
  if (sb_json_parse(&cat->arena, f->data, f->len, 0, &root, &jerr) != SB_OK)
    return fail(err, errlen, "%s: %s at byte %zu", CATALOG_FILE, jerr.message,
                jerr.offset);
  const sb_json_t *list = sb_json_get(root, "models");
  if (list == NULL || list->type != SB_JSON_ARRAY)
    return fail(err, errlen, "%s: no models list", CATALOG_FILE);
  size_t extra = cfg->models != NULL ? cfg->models->count : 0;
  cat->models = sb_arena_calloc(&cat->arena,
                                (list->count + extra + 1) * sizeof(sb_model_t));
  if (cat->models == NULL)
    return fail(err, errlen, "out of memory");
  for (const sb_json_t *e = list->child; e != NULL; e = e->next)
    if (load_model(cat, cfg, e, &cat->models[cat->n_models++], CATALOG_FILE,
                   err, errlen) != SB_OK)
      return SB_ERROR;
  if (cfg->models != NULL) {
    for (const sb_json_t *e = cfg->models->child; e != NULL; e = e->next) {
      sb_model_t m;
      if (load_model(cat, cfg, e, &m, "config models", err, errlen) != SB_OK)
        return SB_ERROR;
      /* A config entry with a catalog id replaces the catalog's entry. */
      size_t i;
      for (i = 0; i < cat->n_models; i++)
        if (strcmp(cat->models[i].id, m.id) == 0)
          break;
      cat->models[i] = m;
      if (i == cat->n_models)
        cat->n_models++;
    }
  }
  if (index_build(cat) != SB_OK)
    return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < cat->n_models; i++)
    for (size_t j = 0; j < cat->models[i].n_endpoints; j++)
      cat->models[i].endpoints[j].slot = (uint32_t)cat->n_endpoints++;
  return SB_OK;
}

void sb_catalog_free(sb_catalog_t *cat)
{
  sb_arena_destroy(&cat->arena);
}

const sb_model_t *sb_catalog_find(const sb_catalog_t *cat, sb_slice_t id)
{
  if (cat->index == NULL)
    return NULL;
  size_t h = (size_t)hash_slice(id) & cat->index_mask;
  while (cat->index[h] != 0) {
    const sb_model_t *m = &cat->models[cat->index[h] - 1];
    if (sb_slice_eq(sb_slice_z(m->id), id))
      return m;
    h = (h + 1) & cat->index_mask;
  }
  return NULL;
}

static int64_t list_price(const sb_endpoint_t *e)
{
  return e->price.prompt + e->price.completion;
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

bool sb_model_reasons(const sb_model_t *m)
{
  const sb_json_t *sp =
      m != NULL ? sb_json_get(m->json, "supported_parameters") : NULL;
  if (!sb_json_is(sp, SB_JSON_ARRAY))
    return true;
  for (const sb_json_t *e = sp->child; e != NULL; e = e->next)
    if (SB_JSON_STR_IS(e, "reasoning") || SB_JSON_STR_IS(e, "reasoning_effort"))
      return true;
  return false;
}
