/* SPDX-License-Identifier: MIT */
/*
 * A Gemini client's body checked against the API's schema before it is
 * translated or forwarded (docs/gemini.md, "Validation"): the members
 * Google's GenerateContentRequest defines, their types and ranges, the
 * contents and their parts, tools, toolConfig and generationConfig, as
 * Gemini itself would refuse them (a 400 INVALID_ARGUMENT). Members the
 * API does not define are not looked at: they pass (to a Gemini provider
 * on the pass-through path). The message names the member by its path,
 * as Google's do ("contents[0].parts[1].inlineData.data: must be a
 * string").
 */
#include <stdarg.h>
#include <stdio.h>

#include "gemini.h"

#define MAX_STOP_SEQUENCES 5
#define MAX_CANDIDATES 8

typedef struct {
  char *why;
  size_t whylen;
} ck_t;

static sb_status_t bad(ck_t *k, const char *path, const char *fmt, ...)
    SB_PRINTF(3, 4);
static sb_status_t bad(ck_t *k, const char *path, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(k->why, k->whylen, "%s: %s", path, msg);
  return SB_DECLINED;
}

/* A member's path, printf-style, into `out` (cut short when it does not
 * fit: it only names the member in a message). */
static const char *at(char *out, size_t cap, const char *fmt, ...)
    SB_PRINTF(3, 4);
static const char *at(char *out, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  return out;
}

/* "<path>.<key>" into `out` */
static const char *sub(char *out, size_t cap, const char *path,
                       const char *key)
{
  return at(out, cap, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
}

static const char *type_name(sb_json_type_t t)
{
  switch (t) {
  case SB_JSON_STRING: return "a string";
  case SB_JSON_OBJECT: return "an object";
  case SB_JSON_ARRAY: return "an array";
  case SB_JSON_NUMBER: return "a number";
  default: return "a boolean";
  }
}

/* Member `key` of `obj`, when present (null is absent), must be of type
 * `t` (SB_JSON_TRUE: a boolean); *out: the member or NULL. */
static sb_status_t member(ck_t *k, const char *path, const sb_json_t *obj,
                          const char *key, sb_json_type_t t,
                          const sb_json_t **out)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  char p[160];
  *out = NULL;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  bool ok = t == SB_JSON_TRUE
                ? v->type == SB_JSON_TRUE || v->type == SB_JSON_FALSE
                : v->type == t;
  if (!ok)
    return bad(k, sub(p, sizeof(p), path, key), "must be %s", type_name(t));
  *out = v;
  return SB_OK;
}

/* Several members of one type at once (NULL-ended names). */
static sb_status_t members(ck_t *k, const char *path, const sb_json_t *obj,
                           sb_json_type_t t, const char *const *keys)
{
  const sb_json_t *v;
  for (size_t i = 0; keys[i] != NULL; i++)
    if (member(k, path, obj, keys[i], t, &v) != SB_OK)
      return SB_DECLINED;
  return SB_OK;
}

/* A number member within [lo, hi]; integers only when `integer`. */
static sb_status_t number(ck_t *k, const char *path, const sb_json_t *obj,
                          const char *key, bool integer, double lo, double hi)
{
  const sb_json_t *v;
  char p[160];
  double d;
  int64_t i;
  if (member(k, path, obj, key, SB_JSON_NUMBER, &v) != SB_OK)
    return SB_DECLINED;
  if (v == NULL)
    return SB_OK;
  sub(p, sizeof(p), path, key);
  if (integer && (sb_json_int64(v, &i) != SB_OK || (double)i < lo ||
                  (double)i > hi))
    return bad(k, p, "must be an integer between %.0f and %.0f", lo, hi);
  if (sb_json_double(v, &d) != SB_OK || d < lo || d > hi)
    return bad(k, p, "must be a number between %g and %g", lo, hi);
  return SB_OK;
}

/* A string member that is one of `set` (NULL-ended). */
static sb_status_t one_of(ck_t *k, const char *path, const sb_json_t *obj,
                          const char *key, const char *const *set)
{
  const sb_json_t *v;
  char p[160];
  if (member(k, path, obj, key, SB_JSON_STRING, &v) != SB_OK)
    return SB_DECLINED;
  if (v == NULL)
    return SB_OK;
  for (size_t i = 0; set[i] != NULL; i++)
    if (sb_json_str_eq(v, set[i], strlen(set[i])))
      return SB_OK;
  char list[256] = "";
  size_t n = 0;
  for (size_t i = 0; set[i] != NULL && n < sizeof(list); i++)
    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                          i > 0 ? ", " : "", set[i]);
  return bad(k, sub(p, sizeof(p), path, key), "must be one of %s", list);
}

/* An array member whose items are all strings (at most `max`). */
static sb_status_t strings(ck_t *k, const char *path, const sb_json_t *obj,
                           const char *key, size_t max)
{
  const sb_json_t *v;
  char p[160];
  if (member(k, path, obj, key, SB_JSON_ARRAY, &v) != SB_OK)
    return SB_DECLINED;
  if (v == NULL)
    return SB_OK;
  sub(p, sizeof(p), path, key);
  if (v->count > max)
    return bad(k, p, "must have at most %zu items", max);
  for (const sb_json_t *x = v->child; x != NULL; x = x->next)
    if (!sb_json_is(x, SB_JSON_STRING))
      return bad(k, p, "must hold strings only");
  return SB_OK;
}

/* ---- contents -------------------------------------------------------------------- */

/* The members a part may hold its data in: exactly one (a part may also
 * carry only a thoughtSignature, as Gemini's last streamed part does). */
static const char *const data_members[] = {
    "text",           "inlineData",          "fileData",
    "functionCall",   "functionResponse",    "executableCode",
    "codeExecutionResult", NULL};

static sb_status_t blob(ck_t *k, const char *path, const sb_json_t *b,
                        bool file)
{
  static const char *const inline_keys[] = {"mimeType", "data",
                                            "displayName", NULL};
  static const char *const file_keys[] = {"mimeType", "fileUri",
                                          "displayName", NULL};
  if (members(k, path, b, SB_JSON_STRING, file ? file_keys : inline_keys) !=
      SB_OK)
    return SB_DECLINED;
  const char *need = file ? "fileUri" : "data";
  char p[160];
  if (!sb_json_is(sb_json_getn(b, need, strlen(need)), SB_JSON_STRING))
    return bad(k, sub(p, sizeof(p), path, need), "required");
  return SB_OK;
}

static sb_status_t part(ck_t *k, const char *path, const sb_json_t *p);

static sb_status_t function_response(ck_t *k, const char *path,
                                     const sb_json_t *fr)
{
  static const char *const strs[] = {"name", "id", NULL};
  const sb_json_t *v;
  char p[160];
  if (members(k, path, fr, SB_JSON_STRING, strs) != SB_OK ||
      member(k, path, fr, "response", SB_JSON_OBJECT, &v) != SB_OK ||
      member(k, path, fr, "parts", SB_JSON_ARRAY, &v) != SB_OK)
    return SB_DECLINED;
  if (!sb_json_is(sb_json_get(fr, "name"), SB_JSON_STRING))
    return bad(k, sub(p, sizeof(p), path, "name"), "required");
  size_t i = 0;
  for (const sb_json_t *x = v != NULL ? v->child : NULL; x != NULL;
       x = x->next, i++) {
    at(p, sizeof(p), "%s.parts[%zu]", path, i);
    if (part(k, p, x) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}

static sb_status_t part_data(ck_t *k, const char *path, const char *key,
                             const sb_json_t *v)
{
  static const char *const call_strs[] = {"name", "id", NULL};
  static const char *const code_strs[] = {"language", "code", NULL};
  static const char *const result_strs[] = {"outcome", "output", NULL};
  char p[160];
  const sb_json_t *args;
  sub(p, sizeof(p), path, key);
  if (strcmp(key, "text") == 0)
    return v->type == SB_JSON_STRING ? SB_OK : bad(k, p, "must be a string");
  if (v->type != SB_JSON_OBJECT)
    return bad(k, p, "must be an object");
  if (strcmp(key, "inlineData") == 0 || strcmp(key, "fileData") == 0)
    return blob(k, p, v, key[0] == 'f');
  if (strcmp(key, "functionCall") == 0) {
    if (members(k, p, v, SB_JSON_STRING, call_strs) != SB_OK ||
        member(k, p, v, "args", SB_JSON_OBJECT, &args) != SB_OK)
      return SB_DECLINED;
    char q[160];
    return sb_json_is(sb_json_get(v, "name"), SB_JSON_STRING)
               ? SB_OK
               : bad(k, sub(q, sizeof(q), p, "name"), "required");
  }
  if (strcmp(key, "functionResponse") == 0)
    return function_response(k, p, v);
  return members(k, p, v, SB_JSON_STRING,
                 strcmp(key, "executableCode") == 0 ? code_strs
                                                    : result_strs);
}

static sb_status_t part(ck_t *k, const char *path, const sb_json_t *p)
{
  static const char *const strs[] = {"thoughtSignature", NULL};
  const sb_json_t *v;
  if (!sb_json_is(p, SB_JSON_OBJECT))
    return bad(k, path, "must be an object");
  if (members(k, path, p, SB_JSON_STRING, strs) != SB_OK ||
      member(k, path, p, "thought", SB_JSON_TRUE, &v) != SB_OK)
    return SB_DECLINED;
  const char *seen = NULL;
  for (size_t i = 0; data_members[i] != NULL; i++) {
    const sb_json_t *d = sb_json_getn(p, data_members[i],
                                      strlen(data_members[i]));
    if (d == NULL || d->type == SB_JSON_NULL)
      continue;
    if (seen != NULL)
      return bad(k, path, "a part holds one of text, inlineData, fileData, "
                          "functionCall, functionResponse, executableCode "
                          "and codeExecutionResult (both %s and %s given)",
                 seen, data_members[i]);
    seen = data_members[i];
    if (part_data(k, path, seen, d) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}

/* A Content: {role?, parts}. */
static sb_status_t content(ck_t *k, const char *path, const sb_json_t *c)
{
  static const char *const roles[] = {"user", "model", "function", NULL};
  const sb_json_t *parts;
  char p[160];
  if (!sb_json_is(c, SB_JSON_OBJECT))
    return bad(k, path, "must be an object");
  if (one_of(k, path, c, "role", roles) != SB_OK ||
      member(k, path, c, "parts", SB_JSON_ARRAY, &parts) != SB_OK)
    return SB_DECLINED;
  if (parts == NULL)
    return bad(k, sub(p, sizeof(p), path, "parts"), "required");
  size_t i = 0;
  for (const sb_json_t *x = parts->child; x != NULL; x = x->next, i++) {
    at(p, sizeof(p), "%s.parts[%zu]", path, i);
    if (part(k, p, x) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}

static sb_status_t contents(ck_t *k, const sb_json_t *body, bool required)
{
  const sb_json_t *list;
  char p[160];
  if (member(k, "", body, "contents", SB_JSON_ARRAY, &list) != SB_OK)
    return SB_DECLINED;
  if (list == NULL || list->count == 0)
    return required ? bad(k, "contents", "must not be empty") : SB_OK;
  size_t i = 0;
  for (const sb_json_t *c = list->child; c != NULL; c = c->next, i++) {
    at(p, sizeof(p), "contents[%zu]", i);
    if (content(k, p, c) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}

/* ---- tools and settings ----------------------------------------------------------- */

static sb_status_t declaration(ck_t *k, const char *path, const sb_json_t *f)
{
  static const char *const strs[] = {"name", "description", "behavior", NULL};
  static const char *const objs[] = {"parameters", "parametersJsonSchema",
                                     "response", "responseJsonSchema", NULL};
  char p[160];
  if (!sb_json_is(f, SB_JSON_OBJECT))
    return bad(k, path, "must be an object");
  if (members(k, path, f, SB_JSON_STRING, strs) != SB_OK ||
      members(k, path, f, SB_JSON_OBJECT, objs) != SB_OK)
    return SB_DECLINED;
  const sb_json_t *name = sb_json_get(f, "name");
  if (name == NULL)
    return bad(k, sub(p, sizeof(p), path, "name"), "required");
  if (name->raw.len < 3 || name->raw.len > 130)
    return bad(k, sub(p, sizeof(p), path, "name"),
               "must have 1 to 128 characters");
  if (sb_json_truthy(sb_json_get(f, "parameters")) &&
      sb_json_truthy(sb_json_get(f, "parametersJsonSchema")))
    return bad(k, path, "give parameters or parametersJsonSchema, not both");
  return SB_OK;
}

static sb_status_t tools(ck_t *k, const sb_json_t *body)
{
  const sb_json_t *list, *decls;
  char p[160], q[160];
  if (member(k, "", body, "tools", SB_JSON_ARRAY, &list) != SB_OK)
    return SB_DECLINED;
  size_t i = 0;
  for (const sb_json_t *t = list != NULL ? list->child : NULL; t != NULL;
       t = t->next, i++) {
    at(p, sizeof(p), "tools[%zu]", i);
    if (!sb_json_is(t, SB_JSON_OBJECT))
      return bad(k, p, "must be an object");
    if (member(k, p, t, "functionDeclarations", SB_JSON_ARRAY, &decls) !=
        SB_OK)
      return SB_DECLINED;
    size_t j = 0;
    for (const sb_json_t *f = decls != NULL ? decls->child : NULL; f != NULL;
         f = f->next, j++) {
      at(q, sizeof(q), "%s.functionDeclarations[%zu]", p, j);
      if (declaration(k, q, f) != SB_OK)
        return SB_DECLINED;
    }
  }
  return SB_OK;
}

static sb_status_t tool_config(ck_t *k, const sb_json_t *body)
{
  static const char *const modes[] = {"MODE_UNSPECIFIED", "AUTO", "ANY",
                                      "NONE", "VALIDATED", NULL};
  const sb_json_t *tc, *fc;
  if (member(k, "", body, "toolConfig", SB_JSON_OBJECT, &tc) != SB_OK)
    return SB_DECLINED;
  if (tc == NULL)
    return SB_OK;
  if (member(k, "toolConfig", tc, "functionCallingConfig", SB_JSON_OBJECT,
             &fc) != SB_OK)
    return SB_DECLINED;
  const char *path = "toolConfig.functionCallingConfig";
  if (fc == NULL)
    return SB_OK;
  if (one_of(k, path, fc, "mode", modes) != SB_OK ||
      strings(k, path, fc, "allowedFunctionNames", SIZE_MAX) != SB_OK)
    return SB_DECLINED;
  const sb_json_t *mode = sb_json_get(fc, "mode");
  if (sb_json_truthy(sb_json_get(fc, "allowedFunctionNames")) &&
      !SB_JSON_STR_IS(mode, "ANY") && !SB_JSON_STR_IS(mode, "VALIDATED"))
    return bad(k, path,
               "allowedFunctionNames may only be set when mode is ANY or "
               "VALIDATED");
  return SB_OK;
}

static sb_status_t thinking_config(ck_t *k, const sb_json_t *gc)
{
  static const char *const levels[] = {"THINKING_LEVEL_UNSPECIFIED",
                                       "MINIMAL", "LOW", "MEDIUM", "HIGH",
                                       NULL};
  const char *path = "generationConfig.thinkingConfig";
  const sb_json_t *th, *v;
  if (member(k, "generationConfig", gc, "thinkingConfig", SB_JSON_OBJECT,
             &th) != SB_OK)
    return SB_DECLINED;
  if (th == NULL)
    return SB_OK;
  if (number(k, path, th, "thinkingBudget", true, -1, (double)INT32_MAX) !=
          SB_OK ||
      member(k, path, th, "includeThoughts", SB_JSON_TRUE, &v) != SB_OK ||
      one_of(k, path, th, "thinkingLevel", levels) != SB_OK)
    return SB_DECLINED;
  if (sb_json_truthy(sb_json_get(th, "thinkingBudget")) &&
      sb_json_truthy(sb_json_get(th, "thinkingLevel")))
    return bad(k, path, "give thinkingBudget or thinkingLevel, not both");
  return SB_OK;
}

static sb_status_t generation_config(ck_t *k, const sb_json_t *body)
{
  static const char *const strs[] = {"responseMimeType", NULL};
  static const char *const objs[] = {"responseSchema", "responseJsonSchema",
                                     NULL};
  static const char *const bools[] = {"responseLogprobs", NULL};
  const char *path = "generationConfig";
  const sb_json_t *gc;
  if (member(k, "", body, path, SB_JSON_OBJECT, &gc) != SB_OK)
    return SB_DECLINED;
  if (gc == NULL)
    return SB_OK;
  if (number(k, path, gc, "temperature", false, 0, 2) != SB_OK ||
      number(k, path, gc, "topP", false, 0, 1) != SB_OK ||
      number(k, path, gc, "topK", false, 1, (double)INT32_MAX) != SB_OK ||
      number(k, path, gc, "candidateCount", true, 1, MAX_CANDIDATES) !=
          SB_OK ||
      number(k, path, gc, "maxOutputTokens", true, 1, (double)INT32_MAX) !=
          SB_OK ||
      number(k, path, gc, "presencePenalty", false, -2, 2) != SB_OK ||
      number(k, path, gc, "frequencyPenalty", false, -2, 2) != SB_OK ||
      number(k, path, gc, "seed", true, (double)INT32_MIN,
             (double)INT32_MAX) != SB_OK ||
      number(k, path, gc, "logprobs", true, 0, 20) != SB_OK ||
      strings(k, path, gc, "stopSequences", MAX_STOP_SEQUENCES) != SB_OK ||
      strings(k, path, gc, "responseModalities", SIZE_MAX) != SB_OK ||
      members(k, path, gc, SB_JSON_STRING, strs) != SB_OK ||
      members(k, path, gc, SB_JSON_OBJECT, objs) != SB_OK ||
      members(k, path, gc, SB_JSON_TRUE, bools) != SB_OK)
    return SB_DECLINED;
  if (sb_json_truthy(sb_json_get(gc, "responseSchema")) &&
      sb_json_truthy(sb_json_get(gc, "responseJsonSchema")))
    return bad(k, path, "give responseSchema or responseJsonSchema, not both");
  return thinking_config(k, gc);
}

static sb_status_t safety_settings(ck_t *k, const sb_json_t *body)
{
  static const char *const strs[] = {"category", "threshold", "method", NULL};
  const sb_json_t *list;
  char p[160];
  if (member(k, "", body, "safetySettings", SB_JSON_ARRAY, &list) != SB_OK)
    return SB_DECLINED;
  size_t i = 0;
  for (const sb_json_t *s = list != NULL ? list->child : NULL; s != NULL;
       s = s->next, i++) {
    at(p, sizeof(p), "safetySettings[%zu]", i);
    if (!sb_json_is(s, SB_JSON_OBJECT))
      return bad(k, p, "must be an object");
    if (members(k, p, s, SB_JSON_STRING, strs) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}

/* A GenerateContentRequest; `required`: contents must not be empty. */
static sb_status_t request(ck_t *k, const sb_json_t *body, bool required)
{
  static const char *const strs[] = {"cachedContent", "model", NULL};
  const sb_json_t *si;
  if (!sb_json_is(body, SB_JSON_OBJECT))
    return bad(k, "request", "must be an object");
  if (contents(k, body, required) != SB_OK ||
      member(k, "", body, "systemInstruction", SB_JSON_OBJECT, &si) !=
          SB_OK ||
      (si != NULL && content(k, "systemInstruction", si) != SB_OK) ||
      tools(k, body) != SB_OK || tool_config(k, body) != SB_OK ||
      generation_config(k, body) != SB_OK || safety_settings(k, body) != SB_OK ||
      members(k, "", body, SB_JSON_STRING, strs) != SB_OK)
    return SB_DECLINED;
  return SB_OK;
}

sb_status_t sb_gemini_check(const sb_json_t *body, char *why, size_t whylen)
{
  ck_t k = {why, whylen};
  why[0] = '\0';
  return request(&k, body, true);
}

sb_status_t sb_gemini_check_count(const sb_json_t *body, char *why,
                                  size_t whylen)
{
  ck_t k = {why, whylen};
  const sb_json_t *gcr;
  why[0] = '\0';
  if (member(&k, "", body, "generateContentRequest", SB_JSON_OBJECT, &gcr) !=
      SB_OK)
    return SB_DECLINED;
  if (gcr != NULL) {
    if (sb_json_truthy(sb_json_get(body, "contents")))
      return bad(&k, "contents",
                 "give contents or generateContentRequest, not both");
    if (request(&k, gcr, true) != SB_OK) {
      char inner[512];
      snprintf(inner, sizeof(inner), "%s", why);
      snprintf(why, whylen, "generateContentRequest.%s", inner);
      return SB_DECLINED;
    }
    return SB_OK;
  }
  return contents(&k, body, true);
}

/* One EmbedContentRequest at `path`. */
static sb_status_t embed_request(ck_t *k, const char *path,
                                 const sb_json_t *r)
{
  static const char *const strs[] = {"model", "taskType", "title", NULL};
  const sb_json_t *c;
  char p[160];
  if (!sb_json_is(r, SB_JSON_OBJECT))
    return bad(k, path[0] != '\0' ? path : "request", "must be an object");
  if (members(k, path, r, SB_JSON_STRING, strs) != SB_OK ||
      number(k, path, r, "outputDimensionality", true, 1, 65536) != SB_OK ||
      member(k, path, r, "content", SB_JSON_OBJECT, &c) != SB_OK)
    return SB_DECLINED;
  sub(p, sizeof(p), path, "content");
  if (c == NULL)
    return bad(k, p, "required");
  return content(k, p, c);
}

sb_status_t sb_gemini_check_embed(const sb_json_t *body, bool batch, char *why,
                                  size_t whylen)
{
  ck_t k = {why, whylen};
  const sb_json_t *list;
  char p[64];
  why[0] = '\0';
  if (!batch)
    return embed_request(&k, "", body);
  if (member(&k, "", body, "requests", SB_JSON_ARRAY, &list) != SB_OK)
    return SB_DECLINED;
  if (list == NULL || list->count == 0)
    return bad(&k, "requests", "must not be empty");
  size_t i = 0;
  for (const sb_json_t *r = list->child; r != NULL; r = r->next, i++) {
    at(p, sizeof(p), "requests[%zu]", i);
    if (embed_request(&k, p, r) != SB_OK)
      return SB_DECLINED;
  }
  return SB_OK;
}
