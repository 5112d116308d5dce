/* SPDX-License-Identifier: MIT */
/*
 * Merging the refreshed lists into a catalog being built (catalog_build.h):
 * OpenRouter's models, names, context lengths and prices, and what each
 * provider's own list says it serves. docs/catalog.md, "Sources and what
 * each one decides".
 */
#include <stdio.h>

#include "catalog_build.h"
#include "switchboard/catalog_feed.h"
#include "switchboard/log.h"

/* A refreshed list's normal form, copied into the catalog and parsed;
 * its `data` array or NULL (with a warning). */
static const sb_json_t *source_list(sb_cb_t *b, const sb_catalog_source_t *s)
{
  sb_json_t *root;
  sb_json_error_t jerr;
  char *copy = sb_arena_strndup(&b->cat->arena, s->body.ptr, s->body.len);
  if (copy == NULL ||
      sb_json_parse(&b->cat->arena, copy, s->body.len, SB_FEED_MAX_DEPTH + 2,
                    &root, &jerr) != SB_OK ||
      !sb_json_is(sb_json_get(root, "data"), SB_JSON_ARRAY)) {
    SB_WARN("catalog: the stored %s list is not usable (%s); left out", s->name,
            copy == NULL ? "out of memory" : jerr.message);
    return NULL;
  }
  return sb_json_get(root, "data");
}

/* Does `provider` serve the models of `id`'s author first hand? The
 * provider named after the author, or the known service of an author
 * whose name differs. */
static bool first_party(const char *id, const char *provider)
{
  static const char *const alias[][2] = {
      {"google", "gemini"}, {"mistralai", "mistral"}, {"x-ai", "xai"}};
  const char *slash = strchr(id, '/');
  sb_slice_t author = sb_slice(id, (size_t)(slash - id));
  if (sb_slice_eq(author, sb_slice_z(provider)))
    return true;
  for (size_t i = 0; i < SB_ARRAY_LEN(alias); i++)
    if (sb_slice_eq(author, sb_slice_z(alias[i][0])) &&
        strcmp(provider, alias[i][1]) == 0)
      return true;
  return false;
}

/* OpenRouter's list: new models, and fresher names, context lengths and
 * metadata for known ones. Its prices are OpenRouter's: they go to the
 * OpenRouter endpoint and to a direct endpoint of the model's own author
 * (whose list price OpenRouter passes on), not to other hosts'. */
size_t sb_cb_merge_openrouter(sb_cb_t *b, const sb_catalog_source_t *s)
{
  const sb_json_t *list = source_list(b, s);
  size_t used = 0, bad = 0;
  if (list == NULL)
    return 0;
  b->or_list = true;
  for (const sb_json_t *e = list->child; e != NULL; e = e->next) {
    sb_price_t price;
    const char *why;
    if (sb_feed_openrouter_entry(e, &price, &why) != SB_OK) {
      bad++;
      continue;
    }
    const char *id = sb_cb_str(&b->cat->arena, e, "id");
    if (id == NULL)
      break; /* out of memory */
    sb_model_t *m = sb_cb_find(b, sb_slice_z(id));
    if (m == NULL) {
      if ((m = sb_cb_add_model(b, id, 0)) == NULL)
        break;
      m->source = "openrouter";
    } else if (b->or_info[sb_cb_index(b, m)].listed) {
      continue; /* a second entry with the same id */
    }
    const char *name = sb_cb_str(&b->cat->arena, e, "name");
    uint32_t ctx = sb_cb_u32(e, "context_length");
    m->json = e;
    m->name = name != NULL ? name : m->id;
    if (ctx > 0)
      m->context_length = ctx;
    sb_cb_or_info_t *oi = &b->or_info[sb_cb_index(b, m)];
    oi->listed = true;
    oi->price = price;
    oi->pricing = sb_json_get(e, "pricing");
    oi->at = s->fetched_at;
    for (size_t i = 0; i < m->n_endpoints; i++)
      if (strcmp(m->endpoints[i].provider_name, "openrouter") == 0 ||
          first_party(m->id, m->endpoints[i].provider_name))
        sb_cb_set_price(&m->endpoints[i], &price, oi->pricing, "openrouter",
                        oi->at);
    used++;
  }
  if (bad > 0)
    SB_WARN("catalog: %zu entries of the stored %s list are malformed; left "
            "out",
            bad, s->name);
  return used;
}

/* A provider's list as a set of its model names, and of their families. */
typedef struct {
  const sb_json_t **entries;
  bool *matched;
  sb_slice_t *family; /* per entry: its name's family (family_of) */
  size_t n;
  sb_cb_names_t names;
  sb_cb_names_t families; /* the newest entry of each family */
} served_t;

static sb_slice_t served_name_at(const void *ctx, uint32_t i)
{
  return sb_json_str_raw(
      sb_json_get(((const served_t *)ctx)->entries[i], "id"));
}

static sb_slice_t served_family_at(const void *ctx, uint32_t i)
{
  return ((const served_t *)ctx)->family[i];
}

static bool all_digits(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return false;
  return true;
}

/* A model name's family, for matching OpenRouter's slugs to a provider's
 * own names: lower case, '.' as '-', without a trailing release date
 * ("-20250514", "-2024-11-20") or "-latest". "claude-3-5-haiku-20241022"
 * and OpenRouter's "claude-3.5-haiku" are both "claude-3-5-haiku". */
static sb_slice_t family_of(sb_arena_t *a, sb_slice_t name)
{
  char *f = sb_arena_strndup(a, name.ptr, name.len);
  size_t n = name.len;
  if (f == NULL)
    return SB_NULL_SLICE;
  for (size_t i = 0; i < n; i++)
    f[i] = f[i] == '.' ? '-' : (f[i] >= 'A' && f[i] <= 'Z') ? f[i] + 32 : f[i];
  if (n > 9 && f[n - 9] == '-' && all_digits(f + n - 8, 8))
    n -= 9;
  else if (n > 11 && f[n - 11] == '-' && all_digits(f + n - 10, 4) &&
           f[n - 6] == '-' && all_digits(f + n - 5, 2) && f[n - 3] == '-' &&
           all_digits(f + n - 2, 2))
    n -= 11;
  else if (n > 7 && memcmp(f + n - 7, "-latest", 7) == 0)
    n -= 7;
  return sb_slice(f, n);
}

/* The entry of `name` in the list, or -1. Names are compared as written
 * in the normal form (which the gateway wrote without escapes but for
 * quotes and backslashes, which no model name has). */
static long served_find(const served_t *sv, sb_slice_t name)
{
  uint32_t c = *sb_cb_names_cell(&sv->names, name, served_name_at, sv);
  return c != 0 ? (long)c - 1 : -1;
}

/* The provider's price for a model it lists, when its list has one. */
static bool served_price(const served_t *sv, long i, sb_price_t *p,
                         const sb_json_t **pricing)
{
  const char *why;
  *pricing = sb_json_get(sv->entries[i], "pricing");
  return *pricing != NULL && sb_feed_price(*pricing, p, &why) == SB_OK;
}

/* A provider's own list: which of its endpoints still exist, which models
 * of its author OpenRouter's list has and it serves directly, and models
 * only it lists (as PROVIDER/name, price unknown unless the list says). */
size_t sb_cb_merge_provider(sb_cb_t *b, const sb_catalog_source_t *s,
                            const sb_provider_t *p)
{
  const sb_json_t *list = source_list(b, s);
  sb_arena_t *a = &b->cat->arena;
  const char *source = sb_arena_join(a, "provider:", p->name);
  served_t sv;
  memset(&sv, 0, sizeof(sv));
  if (list == NULL || source == NULL)
    return 0;
  sv.entries = sb_arena_calloc(a, (list->count + 1) * sizeof(*sv.entries));
  sv.matched = sb_arena_calloc(a, list->count + 1);
  sv.family = sb_arena_calloc(a, (list->count + 1) * sizeof(sb_slice_t));
  if (sv.entries == NULL || sv.matched == NULL || sv.family == NULL ||
      !sb_cb_names_init(a, &sv.names, list->count) ||
      !sb_cb_names_init(a, &sv.families, list->count))
    return 0;
  for (const sb_json_t *e = list->child; e != NULL; e = e->next) {
    const sb_json_t *id = sb_json_get(e, "id");
    if (!sb_json_is(id, SB_JSON_STRING) || !sb_feed_id_ok(sb_json_str_raw(id)))
      continue;
    sb_slice_t name = sb_json_str_raw(id);
    uint32_t *c = sb_cb_names_cell(&sv.names, name, served_name_at, &sv);
    if (*c != 0)
      continue;
    sv.entries[sv.n] = e;
    sv.family[sv.n] = family_of(a, name);
    *c = (uint32_t)++sv.n;
    /* a family's newest release: the greatest name (dates sort) */
    uint32_t *f = sb_cb_names_cell(&sv.families, sv.family[sv.n - 1],
                                   served_family_at, &sv);
    if (*f == 0)
      *f = (uint32_t)sv.n;
    else {
      sb_slice_t have = served_name_at(&sv, *f - 1);
      int cmp = memcmp(name.ptr, have.ptr, SB_MIN(name.len, have.len));
      if (cmp > 0 || (cmp == 0 && name.len > have.len))
        *f = (uint32_t)sv.n;
    }
  }
  bool gemini = strcmp(p->format, "gemini") == 0;
  size_t n_models = b->cat->n_models;
  for (size_t mi = 0; mi < n_models; mi++) {
    sb_model_t *m = &b->cat->models[mi];
    bool has = false;
    for (size_t i = 0; i < m->n_endpoints; i++) {
      sb_endpoint_t *ep = &m->endpoints[i];
      if (strcmp(ep->provider_name, p->name) != 0)
        continue;
      sb_slice_t name = sb_slice_z(ep->upstream_model);
      if (gemini && sb_slice_starts(name, SB_STRLIT("models/")))
        name = sb_slice(name.ptr + 7, name.len - 7);
      long k = served_find(&sv, name);
      if (k < 0) {
        ep->upstream_model = NULL; /* not served any more: dropped below */
        continue;
      }
      has = true;
      sv.matched[k] = true;
      sb_price_t price;
      const sb_json_t *pricing;
      if (served_price(&sv, k, &price, &pricing))
        sb_cb_set_price(ep, &price, pricing, source, s->fetched_at);
    }
    const sb_cb_or_info_t *oi = &b->or_info[mi];
    if (has || !oi->listed || !first_party(m->id, p->name))
      continue;
    /* OpenRouter's slug as the provider names it, or the newest release
     * of its family ("claude-sonnet-4" as "claude-sonnet-4-20250514") */
    const char *slug = strchr(m->id, '/') + 1;
    long k = served_find(&sv, sb_slice_z(slug));
    if (k < 0) {
      uint32_t f = *sb_cb_names_cell(
          &sv.families, family_of(a, sb_slice_z(slug)), served_family_at, &sv);
      k = (long)f - 1;
    }
    if (k < 0)
      continue;
    sb_slice_t upstream = served_name_at(&sv, (uint32_t)k);
    sb_endpoint_t *ep = sb_cb_add_endpoint(
        b, m, p->name, sb_arena_strndup(a, upstream.ptr, upstream.len));
    if (ep == NULL)
      continue;
    sv.matched[k] = true;
    sb_price_t price;
    const sb_json_t *pricing;
    if (served_price(&sv, k, &price, &pricing))
      sb_cb_set_price(ep, &price, pricing, source, s->fetched_at);
    else
      sb_cb_set_price(ep, &oi->price, oi->pricing, "openrouter", oi->at);
  }
  for (size_t k = 0; k < sv.n; k++) {
    if (sv.matched[k])
      continue;
    sb_slice_t name = served_name_at(&sv, (uint32_t)k);
    char *id = sb_arena_printf(a, "%s/%.*s", p->name, (int)name.len, name.ptr);
    if (id == NULL || sb_cb_find(b, sb_slice_z(id)) != NULL)
      continue;
    sb_model_t *m = sb_cb_add_model(b, id, 1);
    if (m == NULL)
      break;
    m->name = id;
    m->json = sv.entries[k];
    m->source = source;
    sb_endpoint_t *ep =
        sb_cb_add_endpoint(b, m, p->name, id + strlen(p->name) + 1);
    if (ep == NULL)
      break;
    sb_price_t price;
    const sb_json_t *pricing;
    if (!served_price(&sv, k, &price, &pricing)) {
      memset(&price, 0, sizeof(price));
      price.unknown = true;
      pricing = NULL;
    }
    sb_cb_set_price(ep, &price, pricing, source, s->fetched_at);
  }
  return sv.n;
}
