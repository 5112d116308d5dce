/* SPDX-License-Identifier: MIT */
/*
 * The Gemini API (Google's generateContent family) for any model: the
 * door of @google/genai, the Gemini CLI and other Gemini clients.
 *
 *   POST /v1beta/models/{model}:generateContent
 *                              :streamGenerateContent  (?alt=sse: SSE;
 *                                   without it, Google's JSON array)
 *                              :countTokens            (an estimate)
 *                              :embedContent, :batchEmbedContents
 *   and the same under /v1/; the model lists are gemini_models.c's.
 *
 * {model} is a Gemini model's bare id ("gemini-2.5-flash", which means
 * google/gemini-2.5-flash when the catalog has it), or any catalog id,
 * its slash percent-encoded or not ("openai%2Fgpt-4o-mini",
 * "openai/gpt-4o-mini"). The body is parsed, the Gemini format checks and
 * reads it (src/formats/gemini/), and a call answers in Google's shape;
 * a Gemini model gets the client's body itself (the pass-through path).
 * The ledger's api is "gemini" ("embeddings" for the embedding methods).
 */
#include "endpoint.h"
#include "formats/gemini/gemini.h"

/* ---- the model in the path --------------------------------------------------------- */

/* A path segment percent-decoded into `a`; empty when it is malformed or
 * decodes to a control character. */
static sb_slice_t percent_decode(sb_arena_t *a, sb_slice_t s)
{
  char *d = sb_arena_alloc(a, s.len + 1);
  size_t o = 0;
  if (d == NULL)
    return SB_NULL_SLICE;
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (c == '%') {
      int hi = i + 2 < s.len ? sb_hex_digit(s.ptr[i + 1]) : -1;
      int lo = i + 2 < s.len ? sb_hex_digit(s.ptr[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return SB_NULL_SLICE;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if ((unsigned char)c < 0x20 || c == 0x7f)
      return SB_NULL_SLICE;
    d[o++] = c;
  }
  return sb_slice(d, o);
}

sb_slice_t sb_api_gemini_model_id(sb_http_exchange_t *x, sb_slice_t name)
{
  sb_slice_t id = percent_decode(&x->arena, name);
  if (sb_slice_starts(id, SB_STRLIT("models/")))
    id = sb_slice(id.ptr + 7, id.len - 7);
  if (id.len == 0 || memchr(id.ptr, '/', id.len) != NULL)
    return id; /* a catalog id (or nothing) */
  /* a bare Gemini id: Google's model in the catalog (a routing suffix,
   * ":nitro", kept) */
  const char *colon = memchr(id.ptr, ':', id.len);
  size_t base = colon != NULL ? (size_t)(colon - id.ptr) : id.len;
  const char *google = sb_arena_printf(&x->arena, "google/%.*s", (int)id.len,
                                       id.ptr);
  if (google != NULL &&
      sb_catalog_find(sb_gateway_catalog(x), sb_slice(google, 7 + base)) != NULL)
    return sb_slice_z(google);
  /* routable as it is (a slug the catalog has once) */
  sb_route_t route;
  if (sb_route(sb_gateway_catalog(x), id, &route) == SB_ROUTE_OK)
    return id;
  /* a Gemini model the catalog does not list: the first Gemini provider */
  const sb_config_t *cfg = sb_gateway_config(x); /* the request's */
  for (size_t i = 0; i < cfg->n_providers; i++) {
    const sb_provider_t *p = &cfg->providers[i];
    if (p->format != NULL && strcmp(p->format, "gemini") == 0) {
      const char *q = sb_arena_printf(&x->arena, "%s/%.*s", p->name,
                                      (int)id.len, id.ptr);
      return q != NULL ? sb_slice_z(q) : id;
    }
  }
  return id;
}

/* ---- the methods ----------------------------------------------------------------- */

static void generate(sb_http_exchange_t *x, const sb_identity_t *who,
                     sb_slice_t model, bool stream)
{
  sb_json_t *body = sb_api_parse_object(x, SB_API_GEMINI);
  if (body == NULL)
    return;
  /* a stream as SSE (alt=sse, as the SDKs ask) or as Google's JSON array */
  bool sse = SB_SLICE_IS(sb_http_query_param(&x->arena, x->req.query, "alt"),
                         "sse");
  const sb_codec_t *door =
      stream && !sse ? &sb_codec_gemini_array : &sb_codec_gemini;
  sb_call_t *c = sb_api_call(x, who, door, "gemini", SB_API_GEMINI, NULL);
  if (c == NULL || !sb_api_envelope(x, c, door, body, SB_API_GEMINI))
    return;
  sb_hub_req_t *req = sb_call_hub(c);
  req->model = model;
  req->stream = stream;
  sb_call_start(c);
}

static void embed(sb_http_exchange_t *x, const sb_identity_t *who,
                  sb_slice_t model, bool batch)
{
  char why[512] = "";
  sb_json_t *body = sb_api_parse_object(x, SB_API_GEMINI);
  if (body == NULL)
    return;
  if (sb_gemini_check_embed(body, batch, why, sizeof(why)) != SB_OK) {
    sb_api_fail(x, SB_API_GEMINI, 400, "invalid_request", "%s", why);
    return;
  }
  sb_call_t *c = sb_api_call(x, who, &sb_codec_gemini, "embeddings",
                             SB_API_GEMINI, NULL);
  if (c == NULL)
    return;
  sb_hub_embed_req_t *req = sb_call_embed(c);
  sb_status_t rc = sb_codec_gemini.embed_door->decode(body, &x->arena, req,
                                                      why, sizeof(why));
  if (rc != SB_OK) {
    sb_api_fail(x, SB_API_GEMINI, rc == SB_DECLINED ? 400 : 503,
                rc == SB_DECLINED ? "invalid_request" : "server", "%s",
                rc == SB_DECLINED ? why : "out of memory");
    return;
  }
  req->model = model;
  /* The model's own provider must have an embeddings API. */
  sb_route_t route;
  const sb_codec_t *f;
  if (sb_route(sb_gateway_catalog(x), model, &route) == SB_ROUTE_OK &&
      (f = sb_codec_find(route.provider->format)) != NULL &&
      f->embed_provider == NULL) {
    sb_api_fail(x, SB_API_GEMINI, 400, "invalid_request",
                "model '%.*s' is served by provider %s (format %s), which has "
                "no embeddings API",
                (int)SB_MIN(model.len, 200), model.ptr, route.provider->name,
                route.provider->format);
    return;
  }
  sb_call_start(c);
}

/* countTokens: the body counted for the model in the path. */
static void count(sb_http_exchange_t *x, sb_slice_t model)
{
  sb_json_t *body = sb_api_parse_object(x, SB_API_GEMINI);
  if (body != NULL)
    sb_api_count(x, &sb_codec_gemini, body, SB_API_GEMINI, model);
}

void sb_api_gemini(sb_http_exchange_t *x, const sb_identity_t *who,
                   sb_slice_t target)
{
  const char *colon = NULL;
  for (size_t i = target.len; i > 0 && colon == NULL; i--)
    if (target.ptr[i - 1] == ':')
      colon = target.ptr + i - 1;
  sb_slice_t name = sb_slice(target.ptr, colon != NULL
                                             ? (size_t)(colon - target.ptr)
                                             : target.len);
  sb_slice_t method = colon != NULL
                          ? sb_slice(colon + 1, target.len - name.len - 1)
                          : SB_NULL_SLICE;
  sb_slice_t model = sb_api_gemini_model_id(x, name);
  if (model.len == 0) {
    sb_api_fail(x, SB_API_GEMINI, 400, "invalid_request",
                "the model name in the path is not valid");
    return;
  }
  bool stream = SB_SLICE_IS(method, "streamGenerateContent");
  bool batch = SB_SLICE_IS(method, "batchEmbedContents");
  if (stream || SB_SLICE_IS(method, "generateContent"))
    generate(x, who, model, stream);
  else if (SB_SLICE_IS(method, "countTokens"))
    count(x, model);
  else if (batch || SB_SLICE_IS(method, "embedContent"))
    embed(x, who, model, batch);
  else
    sb_api_fail(x, SB_API_GEMINI, 404, "not_found",
                "the method '%.*s' is not served (generateContent, "
                "streamGenerateContent, countTokens, embedContent and "
                "batchEmbedContents are)",
                (int)SB_MIN(method.len, 60), method.ptr != NULL ? method.ptr : "");
}
