/* SPDX-License-Identifier: MIT */
/*
 * Embeddings through Gemini's batchEmbedContents: one request per input
 * text, {model: "models/<model>", content: {parts: [{text}]},
 * outputDimensionality?}; the answer's {"embeddings": [{"values": [...]}]}
 * are the vectors, in input order. Gemini embeds text only (token arrays
 * have no form here) and reports no token counts: the usage is estimated
 * from the input's text, and marked so.
 *
 * The pass-through path (a Gemini client's embedContent or
 * batchEmbedContents): its requests go as they came (taskType, title and
 * the content's parts kept), each with the route's model.
 */
#include "gemini.h"
#include "switchboard/json_edit.h"

/* The client's request(s) with `model` set to the route's (`jmodel`: its
 * JSON text). */
static void passthrough_requests(sb_jw_t *w, const sb_json_t *body,
                                 const char *jmodel)
{
  sb_json_edit_t set[] = {
      {"model", 5, jmodel, strlen(jmodel), SB_EDIT_MODE_SET}};
  const sb_json_t *list = sb_json_get(body, "requests");
  sb_jw_arr_begin(w);
  if (sb_json_is(list, SB_JSON_ARRAY))
    for (const sb_json_t *r = list->child; r != NULL; r = r->next)
      sb_json_rewrite(w, r, set, 1);
  else
    sb_json_rewrite(w, body, set, 1);
  sb_jw_arr_end(w);
}

static sb_status_t embed_request(const sb_hub_embed_req_t *req,
                                 const sb_codec_route_t *route,
                                 bool passthrough, sb_arena_t *a,
                                 sb_codec_request_t *out)
{
  const sb_json_t *in = req->input;
  passthrough = passthrough && sb_json_is(req->native, SB_JSON_OBJECT);
  bool texts = sb_json_is(in, SB_JSON_STRING);
  if (sb_json_is(in, SB_JSON_ARRAY) && in->count > 0) {
    texts = true;
    for (const sb_json_t *it = in->child; it != NULL; it = it->next)
      texts = texts && sb_json_is(it, SB_JSON_STRING);
  }
  if (!texts && !passthrough)
    return sb_gemini_refuse(
        a, out,
        "provider %s (format gemini) embeds text only: 'input' must be a "
        "string or an array of strings",
        route->provider->name != NULL ? route->provider->name : "gemini");
  sb_slice_t model;
  out->url = sb_gemini_url(a, route, "batchEmbedContents", &model);
  if (out->url == NULL)
    return sb_gemini_refuse(a, out, SB_GEMINI_BAD_MODEL);
  /* the name was checked: nothing in it needs escaping */
  const char *jmodel =
      sb_arena_printf(a, "\"models/%.*s\"", (int)model.len, model.ptr);
  if (jmodel == NULL)
    return sb_gemini_refuse(a, out, "out of memory");
  sb_jw_t w;
  sb_jw_init(&w, out->body);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "requests");
  if (passthrough)
    passthrough_requests(&w, req->native, jmodel);
  else
    sb_jw_arr_begin(&w);
  const sb_json_t *one = sb_json_is(in, SB_JSON_STRING) ? in : NULL;
  for (const sb_json_t *it = passthrough ? NULL
                           : one != NULL  ? one
                                          : in->child;
       it != NULL; it = one != NULL ? NULL : it->next) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_raw(&w, SB_STRLIT("model"), jmodel, strlen(jmodel));
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
    if (req->dimensions > 0)
      sb_jw_kv_int(&w, SB_STRLIT("outputDimensionality"), req->dimensions);
    sb_jw_obj_end(&w);
  }
  if (!passthrough)
    sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(out, "Accept", "application/json");
  return SB_OK;
}

/* Input tokens, estimated from the bytes of the input's text. */
static uint64_t estimate(const sb_json_t *in)
{
  uint64_t bytes = 0;
  if (sb_json_is(in, SB_JSON_STRING))
    bytes = in->raw.len - 2;
  else if (sb_json_is(in, SB_JSON_ARRAY))
    for (const sb_json_t *it = in->child; it != NULL; it = it->next)
      if (sb_json_is(it, SB_JSON_STRING))
        bytes += it->raw.len - 2;
  return sb_usage_estimate(bytes);
}

static sb_status_t embed_response(const sb_hub_embed_req_t *req,
                                  sb_slice_t body, bool passthrough,
                                  sb_arena_t *a, sb_hub_embeddings_t *out,
                                  sb_slice_t *native, const char **why)
{
  sb_json_t *root;
  const sb_json_t *embs;
  memset(out, 0, sizeof(*out));
  *native = passthrough ? body : SB_NULL_SLICE;
  if (sb_json_parse(a, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      !sb_json_is(embs = sb_json_get(root, "embeddings"), SB_JSON_ARRAY)) {
    *why = "the provider's embeddings response is not a JSON object with an "
           "'embeddings' array";
    return SB_ERROR;
  }
  sb_slice_t *v = sb_arena_alloc(a, (embs->count + 1) * sizeof(*v));
  if (v == NULL) {
    *why = "out of memory";
    return SB_ERROR;
  }
  size_t n = 0;
  for (const sb_json_t *e = embs->child; e != NULL; e = e->next) {
    const sb_json_t *values = sb_json_get(e, "values");
    if (!sb_json_is(values, SB_JSON_ARRAY)) {
      *why = "an embedding in the provider's response has no values";
      return SB_ERROR;
    }
    v[n++] = values->raw;
  }
  out->vectors = v;
  out->n = n;
  out->has_usage = false; /* the estimate, marked so */
  out->usage.prompt = estimate(req->input);
  return SB_OK;
}

const sb_codec_embed_provider_t sb_gemini_embed_provider = {
    .request = embed_request,
    .response = embed_response,
};
