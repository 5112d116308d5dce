/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI embeddings wire format (POST <anything>/embeddings).
 *
 * Vectors are deterministic: component k of the vector for input item i is
 * derived from a hash of the item's bytes and k, rounded to 1/1000, so a
 * test can recompute or compare them. `dimensions` sets the length (8 by
 * default, at most 4096); `encoding_format: "base64"` returns the float32
 * little-endian bytes in base64, as OpenAI does. Usage: each string item
 * counts max(1, bytes / 4) tokens, each token array its length. Scenario
 * fields that apply to every format (status, error_body, body, headers,
 * retry_after, latency_ms, drop_connection, match, times) work here too.
 *
 * The Gemini form (POST .../models/MODEL:batchEmbedContents) answers
 * {"embeddings":[{"values":[...]}]} for its `requests`, with the same
 * vectors the OpenAI form gives for the same text (`outputDimensionality`
 * sets the length) and no usage, as Gemini does.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fake_provider.h"

#define DEFAULT_DIMS 8
#define MAX_DIMS 4096

static void emb_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  static const char *const keys[] = {"model"};
  fp_span_t sp[1];
  if (r->body.len == 0 || !fp_json_scan(r->body.data, r->body.len, keys, 1, sp))
    return;
  fp_req_model(q, sp[0]);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(fp_buf_t *b, const unsigned char *p, size_t n)
{
  fp_buf_add(b, "\"", 1);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    char o[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                 i + 1 < n ? b64[(v >> 6) & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
    fp_buf_add(b, o, 4);
  }
  fp_buf_add(b, "\"", 1);
}

/* One item's vector, from the hash of its JSON text. */
static void vector(fp_buf_t *b, uint64_t seed, size_t dims, bool as_base64)
{
  unsigned char *raw = as_base64 ? malloc(dims * 4) : NULL;
  if (as_base64 && raw == NULL) {
    b->failed = true;
    return;
  }
  if (!as_base64)
    fp_buf_add(b, "[", 1);
  for (size_t k = 0; k < dims; k++) {
    uint64_t h = fnv(&k, sizeof(k), seed);
    int milli = (int)(h % 2001) - 1000; /* -1.000 .. 1.000 */
    if (as_base64) {
      float f = (float)milli / 1000.0f;
      uint32_t u;
      memcpy(&u, &f, 4);
      for (int i = 0; i < 4; i++)
        raw[k * 4 + (size_t)i] = (unsigned char)(u >> (8 * i));
    } else {
      fp_buf_printf(b, "%s%s%d.%03d", k > 0 ? "," : "", milli < 0 ? "-" : "",
                    abs(milli) / 1000, abs(milli) % 1000);
    }
  }
  if (as_base64) {
    base64(b, raw, dims * 4);
    free(raw);
  } else {
    fp_buf_add(b, "]", 1);
  }
}

static bool emb_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                      const fp_scn_t *sc, uint64_t seq)
{
  (void)sc;
  (void)seq;
  json_t *root = r->body.len > 0 ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
  json_t *input = json_object_get(root, "input");
  json_t *dims_v = json_object_get(root, "dimensions");
  json_t *fmt = json_object_get(root, "encoding_format");
  size_t dims = DEFAULT_DIMS;
  if (json_is_integer(dims_v) && json_integer_value(dims_v) > 0)
    dims = (size_t)json_integer_value(dims_v) > MAX_DIMS ? MAX_DIMS
                                                          : (size_t)json_integer_value(dims_v);
  bool as_base64 = json_is_string(fmt) && strcmp(json_string_value(fmt), "base64") == 0;
  /* A single string or a single token array is one item. */
  json_t *items = json_array();
  if (json_is_string(input) ||
      (json_is_array(input) && json_array_size(input) > 0 &&
       json_is_integer(json_array_get(input, 0))))
    json_array_append(items, input);
  else if (json_is_array(input))
    json_array_extend(items, input);

  fp_buf_t b = {0};
  uint64_t tokens = 0;
  fp_buf_adds(&b, "{\"object\":\"list\",\"data\":[");
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    char *text = json_dumps(it, JSON_COMPACT | JSON_ENCODE_ANY);
    uint64_t seed = fnv(text != NULL ? text : "", text != NULL ? strlen(text) : 0,
                        14695981039346656037ULL);
    free(text);
    if (json_is_string(it)) {
      size_t n = json_string_length(it) / 4;
      tokens += n > 0 ? n : 1;
    } else if (json_is_array(it)) {
      tokens += json_array_size(it);
    } else {
      tokens += 1;
    }
    fp_buf_printf(&b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i > 0 ? "," : "",
                  i);
    vector(&b, seed, dims, as_base64);
    fp_buf_adds(&b, "}");
  }
  fp_buf_adds(&b, "],\"model\":");
  if (q->model != NULL)
    fp_buf_json_str(&b, q->model, q->model_len);
  else
    fp_buf_adds(&b, "\"fake-embedding\"");
  fp_buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%llu,\"total_tokens\":%llu}}",
                (unsigned long long)tokens, (unsigned long long)tokens);
  json_decref(items);
  json_decref(root);
  bool ok = !b.failed;
  fp_job_set_body(j, &b, "application/json");
  fp_buf_free(&b);
  return ok;
}

/* ---- Gemini batchEmbedContents ------------------------------------------- */

static void gem_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  const char *path = fp_req_path(r);
  const char *m = strstr(path, "/models/");
  const char *colon = m != NULL ? strchr(m + 8, ':') : NULL;
  if (colon == NULL)
    return;
  q->own = json_stringn(m + 8, (size_t)(colon - m - 8));
  q->model = json_string_value(q->own);
  q->model_len = json_string_length(q->own);
}

static bool gem_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                      const fp_scn_t *sc, uint64_t seq)
{
  (void)q;
  (void)sc;
  (void)seq;
  json_t *root = r->body.len > 0 ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
  json_t *reqs = json_object_get(root, "requests");
  fp_buf_t b = {0};
  fp_buf_adds(&b, "{\"embeddings\":[");
  for (size_t i = 0; i < json_array_size(reqs); i++) {
    json_t *rq = json_array_get(reqs, i);
    json_t *parts = json_object_get(json_object_get(rq, "content"), "parts");
    json_t *dims_v = json_object_get(rq, "outputDimensionality");
    size_t dims = DEFAULT_DIMS;
    if (json_is_integer(dims_v) && json_integer_value(dims_v) > 0)
      dims = (size_t)json_integer_value(dims_v) > MAX_DIMS ? MAX_DIMS
                                                            : (size_t)json_integer_value(dims_v);
    fp_buf_t text = {0};
    for (size_t k = 0; k < json_array_size(parts); k++) {
      json_t *t = json_object_get(json_array_get(parts, k), "text");
      if (json_is_string(t))
        fp_buf_add(&text, json_string_value(t), json_string_length(t));
    }
    /* the seed of the same text in the OpenAI form: its JSON string */
    json_t *as_json = json_stringn(text.data != NULL ? text.data : "", text.len);
    char *dumped = json_dumps(as_json, JSON_COMPACT | JSON_ENCODE_ANY);
    uint64_t seed = fnv(dumped != NULL ? dumped : "", dumped != NULL ? strlen(dumped) : 0,
                        14695981039346656037ULL);
    free(dumped);
    json_decref(as_json);
    fp_buf_free(&text);
    fp_buf_printf(&b, "%s{\"values\":", i > 0 ? "," : "");
    vector(&b, seed, dims, false);
    fp_buf_adds(&b, "}");
  }
  fp_buf_adds(&b, "]}");
  json_decref(root);
  bool ok = !b.failed;
  fp_job_set_body(j, &b, "application/json");
  fp_buf_free(&b);
  return ok;
}

static void gem_error_body(fp_buf_t *out, int status)
{
  const char *st = status == 429   ? "RESOURCE_EXHAUSTED"
                   : status == 404 ? "NOT_FOUND"
                   : status >= 500 ? "INTERNAL"
                                   : "INVALID_ARGUMENT";
  fp_google_error_body(out, status, st);
}

const fp_format_t fp_gemini_embeddings = {
    .name = "gemini-embeddings",
    .parse = gem_parse,
    .build = gem_build,
    .error_body = gem_error_body,
};

static void emb_error_body(fp_buf_t *out, int status)
{
  const char *kind = status == 429   ? "rate_limit_exceeded"
                     : status == 404 ? "not_found_error"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  fp_openai_error_body(out, status, kind);
}

const fp_format_t fp_openai_embeddings = {
    .name = "openai-embeddings",
    .parse = emb_parse,
    .build = emb_build,
    .error_body = emb_error_body,
};
