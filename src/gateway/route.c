/* Model id -> provider endpoint; see include/switchboard/gateway.h. */
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

sb_route_status_t sb_route(const sb_gateway_t *gw, sb_slice_t model,
                           sb_route_t *out)
{
  memset(out, 0, sizeof(*out));
  const sb_model_t *m = sb_catalog_find(&gw->catalog, model);
  if (m == NULL && memchr(model.ptr, '/', model.len) == NULL)
    m = find_by_slug(&gw->catalog, model);
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
  const sb_provider_t *p = sb_config_provider(gw->config, prefix);
  if (p == NULL) {
    /* "anthropic/claude-x" with only OpenRouter configured: OpenRouter
     * knows more models than our catalog, so let it try. */
    p = sb_config_provider(gw->config, SB_SLICE_LIT("openrouter"));
    if (p == NULL || p->codec == NULL)
      return SB_ROUTE_UNKNOWN_MODEL;
    out->provider = p;
    out->model_id = model;
    out->upstream_model = model;
    return SB_ROUTE_OK;
  }
  if (p->codec == NULL)
    return SB_ROUTE_UNSUPPORTED;
  out->provider = p;
  out->model_id = model;
  out->upstream_model = sb_slice(slash + 1, model.len - prefix.len - 1);
  return SB_ROUTE_OK;
}
