/* SPDX-License-Identifier: MIT */
/* Model id -> provider endpoint; see include/switchboard/gateway.h. */
#include "switchboard/codec.h"
#include "switchboard/gateway.h"

/* A bare slug ("gpt-4o-mini") matches a catalog id ending in "/gpt-4o-mini"
 * when exactly one does. Linear, but only taken for ids without '/'. */
static const sb_model_t *find_by_slug(const sb_catalog_t *cat, sb_slice_t slug)
{
  const sb_model_t *found = NULL;
  for (size_t i = 0; i < cat->n_models; i++) {
    const char *id = cat->models[i].id;
    const char *s = strchr(id, '/');
    if (s != NULL && sb_slice_eq(sb_slice_z(s + 1), slug)) {
      if (found != NULL)
        return NULL; /* ambiguous */
      found = &cat->models[i];
    }
  }
  return found;
}

sb_route_status_t sb_route(const sb_catalog_t *cat, sb_slice_t model,
                           sb_route_t *out)
{
  memset(out, 0, sizeof(*out));
  const sb_model_t *m = sb_catalog_find(cat, model);
  if (m == NULL && memchr(model.ptr, '/', model.len) == NULL)
    m = find_by_slug(cat, model);
  if (m != NULL) {
    const sb_endpoint_t *ep = sb_model_default_endpoint(m);
    if (ep == NULL) {
      for (size_t i = 0; i < m->n_endpoints; i++)
        if (m->endpoints[i].provider != NULL)
          return SB_ROUTE_UNSUPPORTED;
      return SB_ROUTE_NO_PROVIDER;
    }
    out->model = m;
    out->endpoint = ep;
    out->provider = ep->provider;
    out->model_id = sb_slice_z(m->id);
    out->upstream_model = sb_slice_z(ep->upstream_model);
    out->price = ep->price;
    return SB_ROUTE_OK;
  }
  const char *slash = memchr(model.ptr, '/', model.len);
  if (slash == NULL || slash == model.ptr || slash + 1 == model.ptr + model.len)
    return SB_ROUTE_UNKNOWN_MODEL;
  sb_slice_t prefix = sb_slice(model.ptr, (size_t)(slash - model.ptr));
  const sb_provider_t *p = sb_config_provider(cat->config, prefix);
  /* A pass-through id has no price the gateway knows. */
  out->price.unknown = true;
  if (p == NULL) {
    /* "anthropic/claude-x" with only OpenRouter configured: OpenRouter
     * knows more models than our catalog, so let it try. */
    p = sb_config_provider(cat->config, SB_SLICE_LIT("openrouter"));
    if (p == NULL || sb_codec_find(p->format) == NULL)
      return SB_ROUTE_UNKNOWN_MODEL;
    out->provider = p;
    out->model_id = model;
    out->upstream_model = model;
    return SB_ROUTE_OK;
  }
  if (sb_codec_find(p->format) == NULL)
    return SB_ROUTE_UNSUPPORTED;
  out->provider = p;
  out->model_id = model;
  out->upstream_model = sb_slice(slash + 1, model.len - prefix.len - 1);
  return SB_ROUTE_OK;
}

/* ---- plans: fallbacks and provider preferences ------------------------- */

#include "switchboard/health.h"

void sb_prefs_init(sb_prefs_t *p)
{
  memset(p, 0, sizeof(*p));
  p->allow_fallbacks = true;
}

static sb_status_t str_list(const sb_json_t *v, sb_slice_t *out, size_t *n,
                            const char **err, const char *msg)
{
  *n = 0;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_ARRAY) {
    *err = msg;
    return SB_ERROR;
  }
  for (const sb_json_t *e = v->child; e != NULL; e = e->next) {
    if (e->type != SB_JSON_STRING) {
      *err = msg;
      return SB_ERROR;
    }
    if (*n < SB_PREFS_MAX)
      out[(*n)++] = sb_json_str_raw(e);
  }
  return SB_OK;
}

/* USD per million tokens -> picodollars per token. */
static sb_status_t per_million(const sb_json_t *v, int64_t *out, bool *has)
{
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_NUMBER && v->type != SB_JSON_STRING)
    return SB_ERROR;
  int64_t pico;
  sb_slice_t s = v->type == SB_JSON_STRING ? sb_json_str_raw(v) : v->raw;
  if (sb_price_parse(s, &pico) != SB_OK || pico < 0)
    return SB_ERROR;
  *out = pico / 1000000;
  *has = true;
  return SB_OK;
}

sb_status_t sb_prefs_parse(const sb_json_t *obj, sb_prefs_t *p,
                           const char **err)
{
  sb_prefs_init(p);
  if (obj == NULL || obj->type == SB_JSON_NULL)
    return SB_OK;
  if (obj->type != SB_JSON_OBJECT) {
    *err = "'provider' must be an object";
    return SB_ERROR;
  }
  if (str_list(sb_json_get(obj, "order"), p->order, &p->n_order, err,
               "'provider.order' must be a list of provider names") != SB_OK ||
      str_list(sb_json_get(obj, "only"), p->only, &p->n_only, err,
               "'provider.only' must be a list of provider names") != SB_OK ||
      str_list(sb_json_get(obj, "ignore"), p->ignore, &p->n_ignore, err,
               "'provider.ignore' must be a list of provider names") != SB_OK)
    return SB_ERROR;
  const sb_json_t *v = sb_json_get(obj, "allow_fallbacks");
  if (v != NULL && v->type != SB_JSON_NULL) {
    if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE) {
      *err = "'provider.allow_fallbacks' must be a boolean";
      return SB_ERROR;
    }
    p->allow_fallbacks = v->type == SB_JSON_TRUE;
  }
  v = sb_json_get(obj, "require_parameters");
  if (v != NULL && v->type != SB_JSON_NULL) {
    if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE) {
      *err = "'provider.require_parameters' must be a boolean";
      return SB_ERROR;
    }
    p->require_parameters = v->type == SB_JSON_TRUE;
  }
  v = sb_json_get(obj, "sort");
  if (v != NULL && v->type == SB_JSON_OBJECT)
    v = sb_json_get(v, "by");
  if (v != NULL && v->type != SB_JSON_NULL) {
    sb_slice_t s = v->type == SB_JSON_STRING ? sb_json_str_raw(v) : SB_NULL_SLICE;
    if (sb_slice_eq(s, SB_SLICE_LIT("price")))
      p->sort = SB_SORT_PRICE;
    else if (sb_slice_eq(s, SB_SLICE_LIT("latency")))
      p->sort = SB_SORT_LATENCY;
    else if (sb_slice_eq(s, SB_SLICE_LIT("throughput")))
      p->sort = SB_SORT_THROUGHPUT;
    else {
      *err = "'provider.sort' must be \"price\", \"latency\" or \"throughput\"";
      return SB_ERROR;
    }
  }
  v = sb_json_get(obj, "max_price");
  if (v != NULL && v->type != SB_JSON_NULL) {
    if (v->type != SB_JSON_OBJECT ||
        per_million(sb_json_get(v, "prompt"), &p->max_prompt_pico,
                    &p->has_max_prompt) != SB_OK ||
        per_million(sb_json_get(v, "completion"), &p->max_completion_pico,
                    &p->has_max_completion) != SB_OK) {
      *err = "'provider.max_price' must be an object of USD per million "
             "tokens ({\"prompt\": 1, \"completion\": 2})";
      return SB_ERROR;
    }
  }
  return SB_OK;
}

void sb_prefs_suffix(sb_slice_t *model, sb_prefs_t *p)
{
  static const struct {
    const char *s;
    size_t n;
    sb_sort_t sort;
  } sfx[] = {{":floor", 6, SB_SORT_PRICE}, {":nitro", 6, SB_SORT_THROUGHPUT}};
  for (size_t i = 0; i < SB_ARRAY_LEN(sfx); i++)
    if (model->len > sfx[i].n &&
        memcmp(model->ptr + model->len - sfx[i].n, sfx[i].s, sfx[i].n) == 0) {
      model->len -= sfx[i].n;
      if (p->sort == SB_SORT_DEFAULT)
        p->sort = sfx[i].sort;
      return;
    }
}

/* Prompt + completion; an unknown price after every known one. */
static int64_t ep_price(const sb_route_t *r)
{
  return r->price.unknown ? INT64_MAX / 4
                          : r->price.prompt + r->price.completion;
}

/* <0 when a goes before b. */
static int cand_cmp(const sb_candidate_t *a, const sb_candidate_t *b,
                    const sb_prefs_t *p)
{
  if (a->model_rank != b->model_rank)
    return a->model_rank < b->model_rank ? -1 : 1;
  if (a->usable != b->usable)
    return a->usable ? -1 : 1;
  if (a->order_rank != b->order_rank)
    return a->order_rank < b->order_rank ? -1 : 1;
  bool ai = a->route.endpoint != NULL && a->route.endpoint->implicit;
  bool bi = b->route.endpoint != NULL && b->route.endpoint->implicit;
  switch (p->sort) {
  case SB_SORT_LATENCY:
    if (a->seeded != b->seeded)
      return a->seeded ? -1 : 1;
    if (a->seeded && a->latency_ms != b->latency_ms)
      return a->latency_ms < b->latency_ms ? -1 : 1;
    break;
  case SB_SORT_THROUGHPUT:
    if ((a->tps > 0) != (b->tps > 0))
      return a->tps > 0 ? -1 : 1;
    if (a->tps != b->tps)
      return a->tps > b->tps ? -1 : 1;
    break;
  case SB_SORT_PRICE:
    break;
  case SB_SORT_DEFAULT:
    /* The implicit OpenRouter route is a last resort, not a price win. */
    if (ai != bi)
      return ai ? 1 : -1;
    break;
  }
  if (ep_price(&a->route) != ep_price(&b->route))
    return ep_price(&a->route) < ep_price(&b->route) ? -1 : 1;
  if (ai != bi)
    return ai ? 1 : -1;
  if (a->weight != b->weight)
    return a->weight > b->weight ? -1 : 1;
  return 0;
}

void sb_candidates_sort(sb_candidate_t *c, size_t n, const sb_prefs_t *p)
{
  /* insertion sort: stable, and n <= SB_PLAN_MAX */
  for (size_t i = 1; i < n; i++) {
    sb_candidate_t x = c[i];
    size_t j = i;
    while (j > 0 && cand_cmp(&x, &c[j - 1], p) < 0) {
      c[j] = c[j - 1];
      j--;
    }
    c[j] = x;
  }
}

static bool name_in(const sb_provider_t *pr, const char *ep_name,
                    const sb_slice_t *list, size_t n, unsigned *rank)
{
  for (size_t i = 0; i < n; i++)
    if (sb_slice_case_eq(list[i], sb_slice_z(ep_name)) ||
        sb_slice_case_eq(list[i], sb_slice_z(pr->name)) ||
        (pr->display_name != NULL &&
         sb_slice_case_eq(list[i], sb_slice_z(pr->display_name)))) {
      if (rank != NULL)
        *rank = (unsigned)i;
      return true;
    }
  return false;
}

/* require_parameters: every parameter the request sets that a model may
 * not support must be in its catalog `supported_parameters`. */
static bool model_supports(const sb_model_t *m, const sb_json_t *req)
{
  static const char *const params[] = {
      "tools", "tool_choice", "response_format", "temperature", "top_p",
      "top_k", "stop", "seed", "frequency_penalty", "presence_penalty",
      "logit_bias", "logprobs", "top_logprobs", "reasoning",
      "structured_outputs", "max_tokens"};
  const sb_json_t *sp = sb_json_get(m->json, "supported_parameters");
  if (req == NULL || !sb_json_is(sp, SB_JSON_ARRAY))
    return true;
  for (size_t i = 0; i < SB_ARRAY_LEN(params); i++) {
    if (sb_json_get(req, params[i]) == NULL)
      continue;
    bool found = false;
    for (const sb_json_t *e = sp->child; e != NULL && !found; e = e->next)
      found = e->type == SB_JSON_STRING &&
              sb_slice_eq(sb_json_str_raw(e), sb_slice_z(params[i]));
    if (!found)
      return false;
  }
  return true;
}

static void fill_health(const sb_gateway_t *gw, sb_candidate_t *c,
                        int64_t now_ms)
{
  sb_health_view_t v;
  sb_health_view(gw->health, c->slot, now_ms, &v);
  c->usable = v.usable;
  c->seeded = v.seeded;
  c->latency_ms = v.latency_ms;
  c->tps = v.tps;
  c->weight = c->route.provider->weight;
}

size_t sb_route_plan(const sb_gateway_t *gw, const sb_catalog_t *cat,
                     const sb_slice_t *ids, size_t n_ids, const sb_prefs_t *p,
                     const sb_json_t *req, int64_t now_ms, sb_candidate_t *out,
                     size_t cap, sb_route_status_t *why)
{
  size_t n = 0;
  *why = SB_ROUTE_OK;
  for (size_t mi = 0; mi < n_ids && n < cap; mi++) {
    sb_route_t r;
    sb_route_status_t st = sb_route(cat, ids[mi], &r);
    if (st != SB_ROUTE_OK) {
      if (mi == 0)
        *why = st;
      continue;
    }
    size_t first = n;
    if (r.model == NULL) {
      /* a pass-through id: its one provider */
      sb_candidate_t *c = &out[n];
      memset(c, 0, sizeof(*c));
      c->route = r;
      c->model_rank = (unsigned)mi;
      c->order_rank = SB_PREFS_MAX;
      if (p->n_only > 0 && !name_in(r.provider, r.provider->name, p->only,
                                    p->n_only, NULL))
        continue;
      if (name_in(r.provider, r.provider->name, p->ignore, p->n_ignore, NULL))
        continue;
      name_in(r.provider, r.provider->name, p->order, p->n_order,
              &c->order_rank);
      c->slot = gw->health != NULL
                    ? sb_health_provider_slot(gw->health, r.provider)
                    : 0;
      fill_health(gw, c, now_ms);
      n++;
    } else {
      const sb_model_t *m = r.model;
      if (p->require_parameters && !model_supports(m, req))
        continue;
      for (size_t ei = 0; ei < m->n_endpoints && n < cap; ei++) {
        const sb_endpoint_t *e = &m->endpoints[ei];
        if (e->provider == NULL || sb_codec_find(e->provider->format) == NULL)
          continue;
        if (p->n_only > 0 &&
            !name_in(e->provider, e->provider_name, p->only, p->n_only, NULL))
          continue;
        if (name_in(e->provider, e->provider_name, p->ignore, p->n_ignore,
                    NULL))
          continue;
        /* an unknown price is not known to be under max_price */
        if ((p->has_max_prompt &&
             (e->price.unknown || e->price.prompt > p->max_prompt_pico)) ||
            (p->has_max_completion &&
             (e->price.unknown ||
              e->price.completion > p->max_completion_pico)))
          continue;
        sb_candidate_t *c = &out[n];
        memset(c, 0, sizeof(*c));
        c->route.model = m;
        c->route.endpoint = e;
        c->route.provider = e->provider;
        c->route.model_id = sb_slice_z(m->id);
        c->route.upstream_model = sb_slice_z(e->upstream_model);
        c->route.price = e->price;
        c->model_rank = (unsigned)mi;
        c->order_rank = SB_PREFS_MAX;
        name_in(e->provider, e->provider_name, p->order, p->n_order,
                &c->order_rank);
        c->slot = e->slot;
        fill_health(gw, c, now_ms);
        n++;
      }
    }
    sb_candidates_sort(out + first, n - first, p);
    if (!p->allow_fallbacks && n > first) {
      /* Only the listed providers (or the first choice) of this model. */
      size_t keep = 1;
      if (p->n_order > 0) {
        keep = 0;
        while (first + keep < n && out[first + keep].order_rank < SB_PREFS_MAX)
          keep++;
        if (keep == 0)
          keep = 1;
      }
      n = first + keep;
    }
  }
  if (n == 0 && *why == SB_ROUTE_OK)
    *why = SB_ROUTE_NO_PROVIDER;
  return n;
}
