/* SPDX-License-Identifier: MIT */
/*
 * Model lists: OpenRouter's GET /api/v1/models (hundreds of generated
 * models, malformed entries mixed in) and the providers' own lists
 * (OpenAI-format, Anthropic's, Gemini's, with their paging), each with
 * scripted faults. README.md, "Model lists".
 *
 * Set with POST /_fake/models (the whole state is replaced; reset by
 * /_fake/reset too):
 *   {"openrouter": {"generate": N, "malformed": M, "models": [entry...]},
 *    "lists": {"/exact/path/models": ["id" or {entry}, ...]},
 *    "page_size": N,
 *    "faults": [{"path_contains": "...", "kind": "timeout" | "status" |
 *                "garbage" | "truncated", "status": 500, "times": 1}]}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

static json_t *state; /* the last POST /_fake/models body, or NULL */

void fp_models_free(void)
{
  json_decref(state);
  state = NULL;
}

static long int_member(const json_t *obj, const char *key, long def)
{
  const json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ?name=value from the raw query (no decoding: the gateway's cursors are
 * plain), into out; false when absent. */
static bool query_param(const char *query, const char *name, char *out,
                        size_t cap)
{
  size_t nl = strlen(name);
  for (const char *p = query; *p != '\0';) {
    const char *end = strchr(p, '&');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
      size_t vl = len - nl - 1;
      if (vl >= cap)
        vl = cap - 1;
      memcpy(out, p + nl + 1, vl);
      out[vl] = '\0';
      return true;
    }
    p += len;
    if (*p == '&')
      p++;
  }
  return false;
}

/* ---- faults -------------------------------------------------------------- */

/* The first fault whose path matches, counting it down; NULL when none. */
static json_t *take_fault(const char *path)
{
  json_t *faults = json_object_get(state, "faults");
  size_t i;
  json_t *f;
  json_array_foreach(faults, i, f) {
    const char *want = json_string_value(json_object_get(f, "path_contains"));
    long times = int_member(f, "times", 1);
    if (times == 0 || (want != NULL && strstr(path, want) == NULL))
      continue;
    if (times > 0)
      json_object_set_new(f, "times", json_integer(times - 1));
    return f;
  }
  return NULL;
}

/* Answer with fault f (true), or false when it has no known kind. */
static bool serve_fault(fp_conn_t *c, const json_t *f)
{
  const char *kind = json_string_value(json_object_get(f, "kind"));
  if (kind == NULL)
    return false;
  if (strcmp(kind, "timeout") == 0)
    return true; /* never answered: the client gives up and closes */
  if (strcmp(kind, "status") == 0) {
    int status = (int)int_member(f, "status", 500);
    char msg[64];
    snprintf(msg, sizeof(msg), "fake error %d", status);
    fp_respond_error(c, status, "server_error", msg);
    return true;
  }
  if (strcmp(kind, "garbage") == 0) {
    static const char junk[] = "<html><body>502 Bad Gateway</body></html>";
    fp_conn_respond(c, 200, "application/json", junk, sizeof(junk) - 1);
    return true;
  }
  if (strcmp(kind, "truncated") == 0) {
    static const char cut[] =
        "{\"data\":[{\"id\":\"fake-lab-0/model-0\",\"pricing\":{\"pro";
    fp_conn_respond(c, 200, "application/json", cut, sizeof(cut) - 1);
    return true;
  }
  return false;
}

/* ---- OpenRouter's list --------------------------------------------------- */

/* Picodollars as a decimal string of USD ("0.000000125"). */
static void usd(char *out, size_t cap, long long pico)
{
  long long whole = pico / 1000000000000LL, frac = pico % 1000000000000LL;
  if (frac == 0) {
    snprintf(out, cap, "%lld", whole);
    return;
  }
  char f[16];
  snprintf(f, sizeof(f), "%012lld", frac);
  size_t n = strlen(f);
  while (n > 0 && f[n - 1] == '0')
    f[--n] = '\0';
  snprintf(out, cap, "%lld.%s", whole, f);
}

/* Model i of the generated list: fake-lab-K/model-I, prices growing with
 * i so that every one differs. */
static json_t *generated(long i)
{
  char id[64], name[64], prompt[32], completion[32], cache[32];
  snprintf(id, sizeof(id), "fake-lab-%ld/model-%ld", i % 7, i);
  snprintf(name, sizeof(name), "Fake Lab %ld: Model %ld", i % 7, i);
  usd(prompt, sizeof(prompt), (i + 1) * 10000LL);
  usd(completion, sizeof(completion), (i + 1) * 40000LL);
  usd(cache, sizeof(cache), (i + 1) * 2500LL);
  long ctx = 4096L * (1 + i % 32);
  return json_pack(
      "{s:s,s:s,s:s,s:s,s:I,s:s,s:i,s:{s:s,s:[s],s:[s],s:s,s:n},"
      "s:{s:s,s:s,s:s,s:s,s:s,s:s},s:{s:i,s:i,s:b},s:n,s:[s,s,s,s],s:{},"
      "s:{s:s}}",
      "id", id, "canonical_slug", id, "hugging_face_id", "", "name", name,
      "created", (json_int_t)(1700000000 + i), "description",
      "A generated model of the fake provider.", "context_length", (int)ctx,
      "architecture", "modality", "text->text", "input_modalities", "text",
      "output_modalities", "text", "tokenizer", "Other", "instruct_type",
      "pricing", "prompt", prompt, "completion", completion, "request", "0",
      "image", "0", "web_search", "0", "input_cache_read", cache,
      "top_provider", "context_length", (int)ctx, "max_completion_tokens", 4096,
      "is_moderated", 0, "per_request_limits", "supported_parameters",
      "max_tokens", "temperature", "tools", "tool_choice", "default_parameters",
      "links", "details", "/api/v1/models/x/endpoints");
}

/* Malformed entry k (of ten kinds, each id unique). */
static json_t *malformed(long k)
{
  char id[400];
  json_t *ok_price =
      json_pack("{s:s,s:s}", "prompt", "0.000001", "completion", "0.000002");
  switch (k % 10) {
  case 0:
    json_decref(ok_price);
    return json_integer(42); /* not an object */
  case 1:
    return json_pack("{s:s,s:o}", "name", "no id", "pricing", ok_price);
  case 2:
    snprintf(id, sizeof(id), "no-slash-%ld", k);
    return json_pack("{s:s,s:o}", "id", id, "pricing", ok_price);
  case 3:
    json_decref(ok_price);
    snprintf(id, sizeof(id), "bad/price-%ld", k);
    return json_pack("{s:s,s:{s:s,s:s}}", "id", id, "pricing", "prompt", "abc",
                     "completion", "0");
  case 4:
    json_decref(ok_price);
    snprintf(id, sizeof(id), "bad/negative-%ld", k);
    return json_pack("{s:s,s:{s:s,s:s}}", "id", id, "pricing", "prompt", "-0.5",
                     "completion", "0");
  case 5:
    snprintf(id, sizeof(id), "bad/context-%ld", k);
    return json_pack("{s:s,s:s,s:o}", "id", id, "context_length", "lots",
                     "pricing", ok_price);
  case 6: {
    json_t *deep = json_object();
    for (int d = 0; d < 40; d++)
      deep = json_pack("{s:o}", "x", deep);
    snprintf(id, sizeof(id), "bad/deep-%ld", k);
    return json_pack("{s:s,s:o,s:o}", "id", id, "architecture", deep, "pricing",
                     ok_price);
  }
  case 7:
    json_decref(ok_price);
    snprintf(id, sizeof(id), "bad/no-pricing-%ld", k);
    return json_pack("{s:s}", "id", id);
  case 8:
    json_decref(ok_price);
    snprintf(id, sizeof(id), "bad/too-fine-%ld", k);
    return json_pack("{s:s,s:{s:s,s:s}}", "id", id, "pricing", "prompt",
                     "0.0000000000001", "completion", "0");
  default:
    memset(id, 'x', 300);
    snprintf(id + 300, sizeof(id) - 300, "/too-long-%ld", k);
    return json_pack("{s:s,s:o}", "id", id, "pricing", ok_price);
  }
}

static void serve_openrouter(fp_conn_t *c)
{
  const json_t *o = json_object_get(state, "openrouter");
  long n = int_member(o, "generate", 0), bad = int_member(o, "malformed", 0);
  json_t *data = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(o, "models"), i, m) {
    json_array_append(data, m);
  }
  /* the malformed entries spread evenly through the generated ones */
  long every = bad > 0 ? n / bad + 1 : 0;
  for (long k = 0, b = 0; k < n || b < bad; k++) {
    if (every > 0 && b < bad && (k % every == 0 || k >= n))
      json_array_append_new(data, malformed(b++));
    if (k < n)
      json_array_append_new(data, generated(k));
  }
  fp_respond_json(c, 200, json_pack("{s:o}", "data", data));
}

/* ---- a provider's own list
 * --------------------------------------------------- */

/* Entry i of a list as the format shows it: a string is an id. */
static json_t *list_entry(const json_t *e, int shape)
{
  const char *id = json_string_value(e);
  char name[300];
  if (id == NULL)
    return json_incref((json_t *)e);
  switch (shape) {
  case 1: /* Anthropic */
    return json_pack("{s:s,s:s,s:s,s:s}", "type", "model", "id", id,
                     "display_name", id, "created_at", "2025-01-01T00:00:00Z");
  case 2: /* Gemini */
    snprintf(name, sizeof(name), "models/%s", id);
    return json_pack("{s:s,s:s,s:[s,s]}", "name", name, "displayName", id,
                     "supportedGenerationMethods", "generateContent",
                     "countTokens");
  default:
    return json_pack("{s:s,s:s,s:i,s:s}", "id", id, "object", "model",
                     "created", 0, "owned_by", "fake");
  }
}

static void serve_list(fp_conn_t *c, fp_request_t *r, const json_t *list)
{
  int shape = fp_req_header(r, "anthropic-version") != NULL ? 1
              : strstr(fp_req_path(r), "/v1beta/") != NULL  ? 2
                                                            : 0;
  long total = (long)json_array_size(list), from = 0, size = total;
  char v[64];
  if (shape == 1) {
    size = query_param(fp_req_query(r), "limit", v, sizeof(v)) ? atol(v) : 20;
    if (query_param(fp_req_query(r), "after_id", v, sizeof(v)))
      for (long i = 0; i < total; i++) {
        json_t *e = list_entry(json_array_get(list, (size_t)i), 1);
        bool at = strcmp(json_string_value(json_object_get(e, "id")), v) == 0;
        json_decref(e);
        if (at) {
          from = i + 1;
          break;
        }
      }
  } else if (shape == 2) {
    size =
        query_param(fp_req_query(r), "pageSize", v, sizeof(v)) ? atol(v) : 50;
    if (query_param(fp_req_query(r), "pageToken", v, sizeof(v)) && v[0] == 'p')
      from = atol(v + 1);
  }
  long page = int_member(state, "page_size", 0);
  if (page > 0 && page < size)
    size = page;
  if (size < 1)
    size = 1;
  long to = shape == 0 ? total : (from + size < total ? from + size : total);
  json_t *data = json_array();
  for (long i = from; i < to; i++)
    json_array_append_new(data,
                          list_entry(json_array_get(list, (size_t)i), shape));
  json_t *body;
  if (shape == 1) {
    json_t *first = json_array_get(data, 0),
           *last = json_array_get(data, json_array_size(data) - 1);
    body = json_pack(
        "{s:o,s:b,s:O,s:O}", "data", data, "has_more", to < total, "first_id",
        first ? json_object_get(first, "id") : json_null(), "last_id",
        last ? json_object_get(last, "id") : json_null());
  } else if (shape == 2) {
    body = json_pack("{s:o}", "models", data);
    if (to < total) {
      snprintf(v, sizeof(v), "p%ld", to);
      json_object_set_new(body, "nextPageToken", json_string(v));
    }
  } else {
    body = json_pack("{s:s,s:o}", "object", "list", "data", data);
  }
  fp_respond_json(c, 200, body);
}

bool fp_models_list(fp_conn_t *c, fp_request_t *r)
{
  const char *path = fp_req_path(r);
  const json_t *list = json_object_get(json_object_get(state, "lists"), path);
  bool openrouter = ends_with(path, "/api/v1/models") && list == NULL;
  /* a fault applies to any model list, scripted or the default one */
  json_t *fault =
      state != NULL && ends_with(path, "/models") ? take_fault(path) : NULL;
  if (fault == NULL && (state == NULL || (list == NULL && !openrouter)))
    return false;
  if (fault != NULL && serve_fault(c, fault))
    ; /* answered (or, for a timeout, never will be) */
  else if (openrouter)
    serve_openrouter(c);
  else
    serve_list(c, r, list);
  /* recorded last: the recorder takes the request's buffers */
  fp_recorder_add(r, FP_NO_SCENARIO);
  return true;
}

void fp_models_control(fp_conn_t *c, fp_request_t *r)
{
  json_error_t jerr;
  if (strcmp(r->method, "POST") != 0) {
    fp_respond_error(c, 405, "invalid_request_error", "use POST /_fake/models");
    return;
  }
  json_t *v = json_loadb(r->body.data != NULL ? r->body.data : "", r->body.len,
                         0, &jerr);
  if (!json_is_object(v)) {
    json_decref(v);
    fp_respond_error(
        c, 400, "invalid_request_error",
        "want {\"openrouter\": {...}, \"lists\": {...}, \"faults\": [...]}");
    return;
  }
  json_decref(state);
  state = v;
  fp_respond_json(c, 200, json_pack("{s:b}", "ok", 1));
}
