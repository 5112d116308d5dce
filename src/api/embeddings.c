/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/embeddings (and /api/v1/embeddings): OpenAI's embeddings API
 * through the routed provider, metered like chat. The door: the body is
 * parsed, the OpenAI format checks and reads it, and a call with api
 * "embeddings" answers; an endpoint whose format has no embeddings API is
 * not tried.
 */
#include "endpoint.h"

void sb_api_embeddings(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *body = sb_api_parse_object(x, SB_API_OPENAI);
  if (body == NULL)
    return;
  sb_call_t *c = sb_api_call(x, who, &sb_codec_openai, "embeddings",
                             SB_API_OPENAI, NULL);
  if (c == NULL)
    return;
  char why[256] = "";
  sb_hub_embed_req_t *req = sb_call_embed(c);
  sb_status_t rc = sb_codec_openai.embed_door->decode(body, &x->arena, req, why,
                                                      sizeof(why));
  if (rc != SB_OK) {
    sb_api_fail(x, SB_API_OPENAI, rc == SB_DECLINED ? 400 : 503,
                rc == SB_DECLINED ? "invalid_request" : "server", "%s",
                rc == SB_DECLINED ? why : "out of memory");
    return;
  }
  /* The model's own provider must have an embeddings API: say which one
   * does not, rather than that none serves the model. */
  sb_route_t route;
  const sb_codec_t *f;
  if (sb_route(sb_gateway_catalog(x), req->model, &route) == SB_ROUTE_OK &&
      (f = sb_codec_find(route.provider->format)) != NULL &&
      f->embed_provider == NULL) {
    sb_api_fail(x, SB_API_OPENAI, 400, "invalid_request",
                "model '%.*s' is served by provider %s (format %s), which has "
                "no embeddings API",
                (int)SB_MIN(req->model.len, 200), req->model.ptr,
                route.provider->name, route.provider->format);
    return;
  }
  sb_call_start(c);
}
