/* SPDX-License-Identifier: MIT */
/*
 * GET /v1beta/models and /v1beta/models/{model} (and /v1/ for a Gemini
 * client) in Google's shape: every routable model of the catalog, so a
 * Gemini client can pick any of them.
 *
 *   {"models": [{"name": "models/gemini-2.5-flash", "baseModelId",
 *     "displayName", "description", "inputTokenLimit", "outputTokenLimit",
 *     "supportedGenerationMethods": [...], "thinking"?}, ...],
 *    "nextPageToken"?}
 *
 * Google's models are named by their bare id ("models/gemini-2.5-flash"),
 * the others by their catalog id ("models/openai/gpt-4o-mini"), which is
 * what a client then puts in its URL. Chat models support
 * generateContent, streamGenerateContent and countTokens; embedding
 * models embedContent and batchEmbedContents. Pages: pageSize (50 by
 * default, at most 1000) and the pageToken a page gave. A catalog is
 * immutable, so each model's object is rendered once per catalog (by the
 * first request that wants the list after a refresh) and kept with it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "switchboard/api.h"

#define DEFAULT_PAGE 50
#define MAX_PAGE 1000

typedef struct {
  sb_catalog_extra_t base;
  sb_buf_t json;  /* the objects, one after the other */
  size_t *start;  /* per listed model: its object's offset (n + 1) */
  int64_t *slot;  /* per catalog model: its listed position, -1 none */
  size_t n, n_models;
} gemini_models_t;

static bool is_embedding(const sb_model_t *m)
{
  const sb_json_t *out = sb_json_get(sb_json_get(m->json, "architecture"),
                                     "output_modalities");
  for (const sb_json_t *o = sb_json_is(out, SB_JSON_ARRAY) ? out->child : NULL;
       o != NULL; o = o->next)
    if (SB_JSON_STR_IS(o, "embeddings"))
      return true;
  return false;
}

/* "gemini-2.5-flash" for Google's models, else the catalog id. */
static const char *gemini_name(const sb_model_t *m)
{
  return strncmp(m->id, "google/", 7) == 0 ? m->id + 7 : m->id;
}

static void write_model(sb_jw_t *w, const sb_model_t *m)
{
  const char *name = gemini_name(m);
  bool embedding = is_embedding(m);
  char full[512];
  int n = snprintf(full, sizeof(full), "models/%s", name);
  int64_t out = embedding ? 1 : m->context_length;
  int64_t v;
  if (!embedding &&
      sb_json_int64(sb_json_get(sb_json_get(m->json, "top_provider"),
                                "max_completion_tokens"),
                    &v) == SB_OK &&
      v > 0)
    out = v;
  const sb_json_t *desc = sb_json_get(m->json, "description");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("name"), full,
               (size_t)SB_MIN((size_t)n, sizeof(full) - 1));
  sb_jw_kv_str(w, SB_STRLIT("baseModelId"), name, strlen(name));
  sb_jw_kv_str(w, SB_STRLIT("displayName"), m->name, strlen(m->name));
  sb_jw_key_lit(w, "description");
  if (sb_json_is(desc, SB_JSON_STRING))
    sb_jw_value(w, desc);
  else
    sb_jw_str_lit(w, "");
  sb_jw_kv_int(w, SB_STRLIT("inputTokenLimit"), m->context_length);
  sb_jw_kv_int(w, SB_STRLIT("outputTokenLimit"), out);
  sb_jw_key_lit(w, "supportedGenerationMethods");
  if (embedding)
    sb_jw_raw(w, SB_STRLIT("[\"embedContent\",\"batchEmbedContents\"]"));
  else
    sb_jw_raw(w, SB_STRLIT("[\"generateContent\",\"streamGenerateContent\","
                           "\"countTokens\"]"));
  if (!embedding && sb_model_reasons(m))
    sb_jw_kv_raw(w, SB_STRLIT("thinking"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
}

static void list_free(sb_catalog_extra_t *e)
{
  gemini_models_t *list = (gemini_models_t *)e;
  sb_buf_free(&list->json);
  free(list->start);
  free(list->slot);
  free(list);
}

static sb_status_t render(const sb_catalog_t *cat, gemini_models_t *list)
{
  sb_buf_init(&list->json, 64u << 20);
  list->start = calloc(cat->n_models + 1, sizeof(*list->start));
  list->slot = calloc(cat->n_models + 1, sizeof(*list->slot));
  if (list->start == NULL || list->slot == NULL)
    return SB_ERROR;
  list->n_models = cat->n_models;
  for (size_t i = 0; i < cat->n_models; i++) {
    list->slot[i] = -1;
    if (sb_model_default_endpoint(&cat->models[i]) == NULL)
      continue;
    sb_jw_t w;
    list->slot[i] = (int64_t)list->n;
    list->start[list->n++] = list->json.len;
    sb_jw_init(&w, &list->json);
    write_model(&w, &cat->models[i]);
    if (sb_jw_status(&w) != SB_OK)
      return SB_ERROR;
  }
  list->start[list->n] = list->json.len;
  return SB_OK;
}

/* The list of `cat`, rendered by whichever request asks first (two that
 * race both render; one copy is kept). NULL when out of memory. */
static const gemini_models_t *list_of(const sb_catalog_t *cat)
{
  gemini_models_t *l =
      (gemini_models_t *)sb_catalog_extra(cat, SB_CATALOG_EXTRA_GEMINI_MODELS);
  if (l != NULL)
    return l;
  l = calloc(1, sizeof(*l));
  if (l == NULL)
    return NULL;
  l->base.free = list_free;
  if (render(cat, l) != SB_OK) {
    list_free(&l->base);
    return NULL;
  }
  if (!sb_catalog_attach(cat, SB_CATALOG_EXTRA_GEMINI_MODELS, &l->base)) {
    list_free(&l->base);
    l = (gemini_models_t *)sb_catalog_extra(cat, SB_CATALOG_EXTRA_GEMINI_MODELS);
  }
  return l;
}

static sb_slice_t listed(const gemini_models_t *list, size_t k)
{
  return sb_slice(list->json.data + list->start[k],
                  list->start[k + 1] - list->start[k]);
}

/* A query number (pageSize, pageToken); `fallback` when absent, -1 when
 * it is not a non-negative integer. */
static int64_t query_number(sb_http_exchange_t *x, const char *name,
                            int64_t fallback)
{
  sb_slice_t v = sb_http_query_param(&x->arena, x->req.query, name);
  int64_t n = 0;
  if (v.len == 0)
    return fallback;
  for (size_t i = 0; i < v.len; i++) {
    if (v.ptr[i] < '0' || v.ptr[i] > '9' || n > INT32_MAX)
      return -1;
    n = n * 10 + (v.ptr[i] - '0');
  }
  return n;
}

void sb_api_gemini_models(sb_http_exchange_t *x)
{
  const gemini_models_t *list = list_of(sb_gateway_catalog(x));
  if (list == NULL) {
    sb_api_fail(x, SB_API_GEMINI, 500, "server",
                "the model list could not be rendered");
    return;
  }
  int64_t size = query_number(x, "pageSize", DEFAULT_PAGE);
  int64_t from = query_number(x, "pageToken", 0);
  if (size < 0 || from < 0 || (size_t)from > list->n) {
    sb_api_fail(x, SB_API_GEMINI, 400, "invalid_request",
                "%s", size < 0 ? "pageSize must be a non-negative integer"
                               : "pageToken is not one this list gave");
    return;
  }
  if (size == 0 || size > MAX_PAGE)
    size = size == 0 ? DEFAULT_PAGE : MAX_PAGE;
  size_t end = SB_MIN(list->n, (size_t)from + (size_t)size);
  sb_buf_t b;
  sb_buf_init(&b, 64u << 20);
  sb_buf_appendz(&b, "{\"models\":[");
  for (size_t k = (size_t)from; k < end; k++) {
    if (k > (size_t)from)
      sb_buf_append(&b, ",", 1);
    sb_buf_append_slice(&b, listed(list, k));
  }
  sb_buf_append(&b, "]", 1);
  if (end < list->n)
    sb_buf_appendf(&b, ",\"nextPageToken\":\"%zu\"", end);
  if (sb_buf_append(&b, "}", 1) == SB_OK)
    sb_api_json(x, 200, sb_buf_slice(&b));
  else
    sb_api_fail(x, SB_API_GEMINI, 500, "server",
                "the model list could not be rendered");
  sb_buf_free(&b);
}

void sb_api_gemini_model(sb_http_exchange_t *x, sb_slice_t name)
{
  const sb_catalog_t *cat = sb_gateway_catalog(x);
  const gemini_models_t *list = list_of(cat);
  sb_slice_t id = sb_api_gemini_model_id(x, name);
  const sb_model_t *m = id.len > 0 ? sb_catalog_find(cat, id) : NULL;
  size_t i = m != NULL ? (size_t)(m - cat->models) : 0;
  if (list == NULL) {
    sb_api_fail(x, SB_API_GEMINI, 500, "server",
                "the model list could not be rendered");
    return;
  }
  if (m == NULL || i >= list->n_models || list->slot[i] < 0) {
    sb_api_fail(x, SB_API_GEMINI, 404, "not_found",
                "models/%.*s is not found: no configured provider serves it "
                "(GET /v1beta/models lists those that are)",
                (int)SB_MIN(id.len, 200), id.ptr != NULL ? id.ptr : "");
    return;
  }
  sb_api_json(x, 200, listed(list, (size_t)list->slot[i]));
}
