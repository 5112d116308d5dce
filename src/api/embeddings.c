/*
 * POST /v1/embeddings (and /api/v1/embeddings): OpenAI's embeddings API
 * through the routed provider, metered like chat.
 *
 * It runs as a call (routing, upstream, timeouts, the ledger row with api
 * "embeddings" and a generation id) with its own request builder and
 * response handler in place of the codec's chat ones. OpenAI-compatible
 * providers get the client's body with `model` rewritten; the answer comes
 * back with `id`, `model`, `provider` and `usage.cost` written in. Gemini
 * providers get batchEmbedContents, translated both ways.
 */
#include <stdio.h>

#include "endpoint.h"
#include "switchboard/json_edit.h"

#define MAX_INPUTS 2048

/* ---- the upstream request and response --------------------------------- */

static sb_status_t embed_request(sb_call_t *c, sb_upstream_request_t *r)
{
  const sb_provider_t *p = c->route.provider;
  sb_status_t rc = sb_api_up_body_with_model(c, c->req);
  if (rc != SB_OK)
    return rc;
  r->url = sb_arena_join(c->arena, p->base_url, "/embeddings");
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept", "application/json");
  return sb_api_up_finish(c, r);
}

static void embed_response(sb_call_t *c, sb_slice_t body)
{
  sb_json_t *root;
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT ||
      !sb_json_is(sb_json_get(root, "data"), SB_JSON_ARRAY)) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's embeddings response is not a JSON object "
                 "with a 'data' array");
    return;
  }
  sb_call_take_usage(c, sb_json_get(root, "usage"));
  if (!c->usage_known)
    c->usage.prompt = (c->req_raw.len + 3) / 4; /* marked estimated */
  c->usage.completion = 0;
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);

  sb_buf_t ub;
  sb_jw_t w;
  sb_buf_init(&ub, 1 << 20);
  sb_jw_init(&w, &ub);
  sb_call_write_usage(c, &w);
  sb_slice_t usage = sb_arena_slice_dup(&c->scratch, sb_buf_slice(&ub));
  sb_buf_free(&ub);
  sb_json_edit_t e[] = {
      {"id", 2, c->j_id.ptr, c->j_id.len, SB_EDIT_MODE_SET},
      {"model", 5, c->j_model.ptr, c->j_model.len, SB_EDIT_MODE_SET},
      {"provider", 8, c->j_provider.ptr, c->j_provider.len, SB_EDIT_MODE_SET},
      {"usage", 5, usage.ptr, usage.len, SB_EDIT_MODE_SET},
  };
  sb_buf_reset(&c->out);
  sb_jw_init(&w, &c->out);
  sb_json_rewrite(&w, root, e, usage.ptr != NULL ? 4 : 3);
  if (sb_jw_status(&w) != SB_OK) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response is too large");
    return;
  }
  sb_call_respond(c, sb_buf_slice(&c->out));
}

/* ---- Gemini: batchEmbedContents ------------------------------------------ */

static bool gemini_model_ok(sb_slice_t m)
{
  if (m.len == 0)
    return false;
  for (size_t i = 0; i < m.len; i++) {
    char ch = m.ptr[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
      return false;
  }
  return true;
}

static sb_slice_t gemini_model(const sb_call_t *c)
{
  sb_slice_t m = c->route.upstream_model;
  if (sb_slice_starts(m, SB_STRLIT("models/")))
    m = sb_slice(m.ptr + 7, m.len - 7);
  return m;
}

/* One request per input string: {model, content: {parts: [{text}]},
 * outputDimensionality?}. */
static sb_status_t gemini_request(sb_call_t *c, sb_upstream_request_t *r)
{
  const sb_provider_t *p = c->route.provider;
  sb_slice_t model = gemini_model(c);
  if (!gemini_model_ok(model))
    return SB_ERROR;
  const sb_json_t *input = sb_json_get(c->req, "input");
  const sb_json_t *dims = sb_json_get(c->req, "dimensions");
  /* checked above: nothing in the name needs escaping */
  const char *jmodel = sb_arena_printf(c->arena, "\"models/%.*s\"",
                                       (int)model.len, model.ptr);
  if (jmodel == NULL)
    return SB_ERROR;
  sb_jw_t w;
  sb_buf_reset(&c->up_body);
  sb_jw_init(&w, &c->up_body);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "requests");
  sb_jw_arr_begin(&w);
  const sb_json_t *one = sb_json_is(input, SB_JSON_STRING) ? input : NULL;
  for (const sb_json_t *it = one != NULL ? one : input->child; it != NULL;
       it = one != NULL ? NULL : it->next) {
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "model");
    sb_jw_raw(&w, jmodel, strlen(jmodel));
    sb_jw_key_lit(&w, "content");
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "parts");
    sb_jw_arr_begin(&w);
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "text");
    sb_jw_value(&w, it);
    sb_jw_obj_end(&w);
    sb_jw_arr_end(&w);
    sb_jw_obj_end(&w);
    if (sb_json_is(dims, SB_JSON_NUMBER)) {
      sb_jw_key_lit(&w, "outputDimensionality");
      sb_jw_value(&w, dims);
    }
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  const char *base = p->base_url;
  const char *slash = strrchr(base, '/');
  bool versioned = slash != NULL && strncmp(slash, "/v1", 3) == 0;
  r->url = sb_arena_printf(c->arena, "%s%s/models/%.*s:batchEmbedContents",
                           base, versioned ? "" : "/v1beta", (int)model.len,
                           model.ptr);
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept", "application/json");
  return sb_api_up_finish(c, r);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A vector as OpenAI's base64 string: float32 little-endian bytes. */
static sb_status_t write_base64(sb_buf_t *b, const sb_json_t *values)
{
  sb_buf_t raw;
  sb_status_t rc = SB_OK;
  sb_buf_init(&raw, 64u << 20);
  for (const sb_json_t *v = values->child; v != NULL && rc == SB_OK;
       v = v->next) {
    double d;
    if (sb_json_double(v, &d) != SB_OK) {
      rc = SB_ERROR;
      break;
    }
    float f = (float)d;
    uint32_t u;
    unsigned char le[4];
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
      le[i] = (unsigned char)(u >> (8 * i));
    rc = sb_buf_append(&raw, le, 4);
  }
  if (rc == SB_OK)
    rc = sb_buf_append(b, SB_STRLIT("\""));
  const unsigned char *p = (const unsigned char *)raw.data;
  for (size_t i = 0; rc == SB_OK && i < raw.len; i += 3) {
    size_t left = raw.len - i;
    uint32_t x = (uint32_t)p[i] << 16 |
                 (left > 1 ? (uint32_t)p[i + 1] << 8 : 0) |
                 (left > 2 ? (uint32_t)p[i + 2] : 0);
    char o[4] = {b64[(x >> 18) & 63], b64[(x >> 12) & 63],
                 left > 1 ? b64[(x >> 6) & 63] : '=',
                 left > 2 ? b64[x & 63] : '='};
    rc = sb_buf_append(b, o, 4);
  }
  if (rc == SB_OK)
    rc = sb_buf_append(b, SB_STRLIT("\""));
  sb_buf_free(&raw);
  return rc;
}

/* {"embeddings":[{"values":[...]}]} -> OpenAI's list. Gemini reports no
 * token counts here: usage is estimated (bytes / 4) and the ledger row
 * says so. */
static void gemini_response(sb_call_t *c, sb_slice_t body)
{
  sb_json_t *root;
  const sb_json_t *embs;
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      !sb_json_is(embs = sb_json_get(root, "embeddings"), SB_JSON_ARRAY)) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's embeddings response is not a JSON object "
                 "with an 'embeddings' array");
    return;
  }
  bool as_base64 =
      SB_JSON_STR_IS(sb_json_get(c->req, "encoding_format"), "base64");
  const sb_json_t *input = sb_json_get(c->req, "input");
  uint64_t bytes = 0;
  if (sb_json_is(input, SB_JSON_STRING))
    bytes = input->raw.len - 2;
  else
    for (const sb_json_t *it = input->child; it != NULL; it = it->next)
      bytes += it->raw.len - 2;
  c->usage.prompt = (bytes + 3) / 4;
  c->usage.completion = 0;
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);

  sb_jw_t w;
  sb_buf_reset(&c->out);
  sb_jw_init(&w, &c->out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("object"), SB_STRLIT("list"));
  sb_jw_key_lit(&w, "data");
  sb_jw_arr_begin(&w);
  int64_t i = 0;
  for (const sb_json_t *e = embs->child; e != NULL; e = e->next, i++) {
    const sb_json_t *values = sb_json_get(e, "values");
    if (!sb_json_is(values, SB_JSON_ARRAY)) {
      sb_call_fail(c, 502, "provider_unavailable",
                   "an embedding in the provider's response has no values");
      return;
    }
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("object"), SB_STRLIT("embedding"));
    sb_jw_kv_int(&w, SB_STRLIT("index"), i);
    sb_jw_key_lit(&w, "embedding");
    if (as_base64) {
      sb_buf_t tmp;
      sb_buf_init(&tmp, 64u << 20);
      sb_status_t rc = write_base64(&tmp, values);
      if (rc == SB_OK)
        sb_jw_raw(&w, tmp.data, tmp.len);
      sb_buf_free(&tmp);
      if (rc != SB_OK) {
        sb_call_fail(c, 502, "provider_unavailable",
                     "the provider's embedding values are not numbers");
        return;
      }
    } else {
      sb_jw_value(&w, values);
    }
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("model"), c->j_model.ptr, c->j_model.len);
  sb_jw_key_lit(&w, "usage");
  sb_call_write_usage(c, &w);
  sb_jw_kv_raw(&w, SB_STRLIT("id"), c->j_id.ptr, c->j_id.len);
  sb_jw_kv_raw(&w, SB_STRLIT("provider"), c->j_provider.ptr, c->j_provider.len);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response is too large");
    return;
  }
  sb_call_respond(c, sb_buf_slice(&c->out));
}

/* ---- the sink: OpenAI JSON ---------------------------------------------- */

static void embed_sink_response(sb_call_t *c, sb_slice_t json)
{
  sb_http_header_t h = sb_api_gen_header(c);
  sb_http_respond(c->x, 200, &h, 1, "application/json", json);
}

/* Never streamed: these are never called. */
static sb_status_t embed_stream_begin(sb_call_t *c) { (void)c; return SB_ERROR; }
static sb_status_t embed_stream_chunk(sb_call_t *c, sb_slice_t j)
{
  (void)c;
  (void)j;
  return SB_ERROR;
}
static void embed_stream_end(sb_call_t *c) { sb_http_stream_end(c->x); }
static bool embed_backlogged(sb_call_t *c) { (void)c; return false; }

static const sb_call_sink_t embed_sink = {
    .response = embed_sink_response,
    .stream_begin = embed_stream_begin,
    .stream_chunk = embed_stream_chunk,
    .stream_end = embed_stream_end,
    .error = sb_api_call_error_openai,
    .backlogged = embed_backlogged,
};

/* ---- the endpoint -------------------------------------------------------- */

/* input: a string, an array of strings, an array of tokens (integers), or
 * an array of token arrays; never empty. */
static const char *check_input(const sb_json_t *in)
{
  if (sb_json_is(in, SB_JSON_STRING))
    return NULL;
  if (!sb_json_is(in, SB_JSON_ARRAY) || in->count == 0)
    return "'input' must be a string, or a non-empty array of strings, of "
           "tokens or of token arrays";
  if (in->count > MAX_INPUTS)
    return "'input' has more than 2048 items";
  uint8_t kind = in->child->type;
  for (const sb_json_t *v = in->child; v != NULL; v = v->next) {
    if (v->type != kind)
      return "'input' mixes item types";
    if (kind == SB_JSON_NUMBER) {
      int64_t t;
      if (sb_json_int64(v, &t) != SB_OK || t < 0)
        return "token ids in 'input' must be non-negative integers";
    } else if (kind == SB_JSON_ARRAY) {
      if (v->count == 0)
        return "token arrays in 'input' must not be empty";
      for (const sb_json_t *t = v->child; t != NULL; t = t->next) {
        int64_t n;
        if (sb_json_int64(t, &n) != SB_OK || n < 0)
          return "token ids in 'input' must be non-negative integers";
      }
    } else if (kind != SB_JSON_STRING) {
      return "'input' items must be strings, tokens or token arrays";
    }
  }
  return NULL;
}

void sb_api_embeddings(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *req = sb_api_parse_object(x, SB_API_OPENAI);
  if (req == NULL)
    return;
  const sb_json_t *model = sb_json_get(req, "model");
  if (!sb_json_is(model, SB_JSON_STRING)) {
    sb_api_error(x, 400, "invalid_request", "'model' must be a string");
    return;
  }
  const char *why = check_input(sb_json_get(req, "input"));
  if (why != NULL) {
    sb_api_error(x, 400, "invalid_request", "%s", why);
    return;
  }
  const sb_json_t *fmt = sb_json_get(req, "encoding_format");
  if (fmt != NULL && fmt->type != SB_JSON_NULL &&
      !SB_JSON_STR_IS(fmt, "float") && !SB_JSON_STR_IS(fmt, "base64")) {
    sb_api_error(x, 400, "invalid_request",
                 "'encoding_format' must be \"float\" or \"base64\"");
    return;
  }
  const sb_json_t *dims = sb_json_get(req, "dimensions");
  int64_t d;
  if (dims != NULL && dims->type != SB_JSON_NULL &&
      (sb_json_int64(dims, &d) != SB_OK || d < 1)) {
    sb_api_error(x, 400, "invalid_request",
                 "'dimensions' must be a positive integer");
    return;
  }
  sb_slice_t name;
  if (sb_json_string(&x->arena, model, &name) != SB_OK) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }
  /* OpenAI-compatible and Gemini providers have this API here. Routing is
   * deterministic, so the call routes the same way below. */
  sb_route_t route;
  bool gemini = false;
  if (sb_route(sb_gateway_catalog(x), name, &route) == SB_ROUTE_OK) {
    gemini = strcmp(route.provider->format, "gemini") == 0;
    if (!gemini && strcmp(route.provider->format, "openai") != 0) {
      sb_api_error(x, 400, "invalid_request",
                   "model '%.*s' is served by provider %s (format %s), which "
                   "has no embeddings API",
                   (int)SB_MIN(name.len, 200), name.ptr, route.provider->name,
                   route.provider->format);
      return;
    }
    const sb_json_t *in = sb_json_get(req, "input");
    if (gemini && !sb_json_is(in, SB_JSON_STRING) &&
        !sb_json_is(in->child, SB_JSON_STRING)) {
      sb_api_error(x, 400, "invalid_request",
                   "provider %s (format gemini) embeds text only: 'input' "
                   "must be a string or an array of strings",
                   route.provider->name);
      return;
    }
  }
  sb_call_t *c = sb_call_new(x, &embed_sink, NULL);
  if (c == NULL) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }
  c->api = "embeddings";
  c->req = req;
  c->req_raw = x->req.body;
  c->requested_model = name;
  c->stream = false;
  c->build_request = gemini ? gemini_request : embed_request;
  c->take_response = gemini ? gemini_response : embed_response;
  sb_api_attribute(x, who, c);
  sb_call_start(c);
}
