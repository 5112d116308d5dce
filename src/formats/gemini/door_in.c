/* SPDX-License-Identifier: MIT */
/*
 * The Gemini door, request half: a GenerateContentRequest into the hub
 * (the body was checked first, door_check.c; its messages are read by
 * door_parts.c). The envelope is read for every request; the rest only
 * when a provider of another format needs it (a Gemini provider gets the
 * client's body itself).
 *
 * - tools: functionDeclarations -> functions, their parameters (or
 *   parametersJsonSchema) as JSON Schema; googleSearch, codeExecution,
 *   urlContext and Gemini's other tools -> NATIVE tools of format
 *   "gemini" (a Gemini provider runs them, others leave them out);
 * - toolConfig.functionCallingConfig: AUTO / VALIDATED -> auto, NONE ->
 *   none, ANY -> required, or the one function of allowedFunctionNames
 *   (with several, the tools are narrowed to those);
 * - generationConfig: sampling numbers as written, maxOutputTokens (the
 *   envelope), stopSequences, candidateCount, responseMimeType
 *   application/json (with responseSchema or responseJsonSchema, a JSON
 *   schema named "response"), thinkingConfig (a budget, -1 dynamic, 0
 *   off; thinkingLevel as an effort; includeThoughts false: reason
 *   without showing it), seed and the penalties;
 * - cachedContent names a Gemini context cache: only a Gemini model can
 *   read it, so another provider refuses the request rather than answer
 *   without the cached context; safetySettings are Gemini's alone.
 */
#include <stdio.h>

#include "gemini.h"

static sb_status_t refuse(char *why, size_t whylen, const char *msg)
{
  snprintf(why, whylen, "%s", msg);
  return SB_DECLINED;
}

/* ---- envelope ------------------------------------------------------------------ */

sb_status_t sb_gemini_envelope(const sb_json_t *body, sb_arena_t *a,
                               sb_hub_req_t *req, char *why, size_t whylen)
{
  (void)a;
  (void)why;
  (void)whylen;
  int64_t v;
  req->door_format = "gemini";
  req->native = body;
  req->native_raw = body->raw;
  if (sb_json_int64(sb_json_get(sb_json_get(body, "generationConfig"),
                                "maxOutputTokens"),
                    &v) == SB_OK &&
      v > 0)
    req->max_tokens = v;
  return SB_OK;
}

/* ---- tools -------------------------------------------------------------------- */

/* A schema as JSON Schema, in the arena (empty for none). */
static sb_status_t json_schema(sb_arena_t *a, const sb_json_t *s,
                               sb_slice_t *out)
{
  sb_buf_t b;
  sb_jw_t w;
  *out = SB_NULL_SLICE;
  if (!sb_json_is(s, SB_JSON_OBJECT))
    return SB_OK;
  sb_buf_init(&b, 0);
  sb_jw_init(&w, &b);
  sb_status_t rc = sb_gemini_json_schema(&w, s);
  if (rc == SB_OK && sb_jw_status(&w) == SB_OK) {
    *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
    rc = out->ptr != NULL ? SB_OK : SB_ERROR;
  } else {
    rc = SB_DECLINED;
  }
  sb_buf_free(&b);
  return rc;
}

/* Is function `name` (jtext) among allowedFunctionNames (when narrowed)? */
static bool allowed(const sb_json_t *names, sb_slice_t name)
{
  if (!sb_json_is(names, SB_JSON_ARRAY) || names->count < 2)
    return true;
  for (const sb_json_t *n = names->child; n != NULL; n = n->next)
    if (sb_json_is(n, SB_JSON_STRING) && sb_slice_eq(sb_json_str_raw(n), name))
      return true;
  return false;
}

static sb_status_t function(sb_arena_t *a, sb_hub_tool_t *t,
                            const sb_json_t *f)
{
  const sb_json_t *params = sb_json_get(f, "parametersJsonSchema");
  if (!sb_json_is(params, SB_JSON_OBJECT))
    params = sb_json_get(f, "parameters");
  t->kind = SB_HUB_TOOL_FUNCTION;
  t->strict = -1;
  t->name = sb_hub_jtext(sb_json_get(f, "name"));
  t->description = sb_hub_jtext(sb_json_get(f, "description"));
  return json_schema(a, params, &t->parameters);
}

static sb_status_t tools(sb_arena_t *a, sb_hub_req_t *req,
                         const sb_json_t *body, const sb_json_t *narrow,
                         char *why, size_t whylen)
{
  const sb_json_t *list = sb_json_get(body, "tools");
  size_t total = 0;
  req->tools_given = sb_json_is(list, SB_JSON_ARRAY);
  if (!req->tools_given)
    return SB_OK;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next) {
    const sb_json_t *decls = sb_json_get(x, "functionDeclarations");
    total += x->count + (sb_json_is(decls, SB_JSON_ARRAY) ? decls->count : 0);
  }
  sb_hub_tool_t *t = sb_arena_calloc(a, (total + 1) * sizeof(*t));
  if (t == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next)
    for (const sb_json_t *m = x->child; m != NULL; m = m->next) {
      if (!sb_json_key_is(m, SB_STRLIT("functionDeclarations"))) {
        /* googleSearch, codeExecution, urlContext ...: {"<key>": {...}} */
        const char *one = sb_arena_printf(a, "{\"%.*s\":%.*s}",
                                          (int)m->key.len, m->key.ptr,
                                          (int)m->raw.len, m->raw.ptr);
        if (one == NULL)
          return SB_ERROR;
        t[n].kind = SB_HUB_TOOL_NATIVE;
        t[n].format = "gemini";
        t[n].name = m->key;
        t[n].native = sb_slice_z(one);
        t[n++].strict = -1;
        continue;
      }
      for (const sb_json_t *f = sb_json_is(m, SB_JSON_ARRAY) ? m->child : NULL;
           f != NULL; f = f->next) {
        if (!allowed(narrow, sb_hub_jtext(sb_json_get(f, "name"))))
          continue;
        sb_status_t rc = function(a, &t[n++], f);
        if (rc == SB_DECLINED)
          return refuse(why, whylen, "tools: a function's parameters are "
                                     "nested too deeply");
        if (rc != SB_OK)
          return SB_ERROR;
      }
    }
  req->tools = t;
  req->n_tools = n;
  return SB_OK;
}

/* functionCallingConfig; *narrow: allowedFunctionNames when mode ANY
 * names several. */
static void tool_choice(sb_hub_req_t *req, const sb_json_t *body,
                        const sb_json_t **narrow)
{
  const sb_json_t *fc =
      sb_json_get(sb_json_get(body, "toolConfig"), "functionCallingConfig");
  const sb_json_t *mode = sb_json_get(fc, "mode");
  const sb_json_t *names = sb_json_get(fc, "allowedFunctionNames");
  *narrow = NULL;
  req->parallel_tool_calls = -1;
  if (SB_JSON_STR_IS(mode, "AUTO") || SB_JSON_STR_IS(mode, "VALIDATED")) {
    req->choice = SB_HUB_CHOICE_AUTO;
  } else if (SB_JSON_STR_IS(mode, "NONE")) {
    req->choice = SB_HUB_CHOICE_NONE;
  } else if (SB_JSON_STR_IS(mode, "ANY")) {
    req->choice = SB_HUB_CHOICE_REQUIRED;
    if (sb_json_is(names, SB_JSON_ARRAY) && names->count == 1 &&
        sb_json_is(names->child, SB_JSON_STRING)) {
      req->choice = SB_HUB_CHOICE_TOOL;
      req->choice_name = sb_json_str_raw(names->child);
    } else {
      *narrow = names;
    }
  }
  if (SB_JSON_STR_IS(mode, "VALIDATED"))
    *narrow = names;
}

/* ---- generationConfig ---------------------------------------------------------- */

static sb_hub_effort_t effort_of(const sb_json_t *level)
{
  if (SB_JSON_STR_IS(level, "MINIMAL"))
    return SB_HUB_EFFORT_MINIMAL;
  if (SB_JSON_STR_IS(level, "LOW"))
    return SB_HUB_EFFORT_LOW;
  if (SB_JSON_STR_IS(level, "MEDIUM"))
    return SB_HUB_EFFORT_MEDIUM;
  if (SB_JSON_STR_IS(level, "HIGH"))
    return SB_HUB_EFFORT_HIGH;
  return SB_HUB_EFFORT_UNSET;
}

static void reasoning(sb_hub_req_t *req, const sb_json_t *gc)
{
  const sb_json_t *th = sb_json_get(gc, "thinkingConfig");
  sb_hub_reasoning_t *r = &req->reasoning;
  int64_t budget;
  r->enabled = -1;
  if (!sb_json_is(th, SB_JSON_OBJECT))
    return;
  r->effort = effort_of(sb_json_get(th, "thinkingLevel"));
  if (sb_json_int64(sb_json_get(th, "thinkingBudget"), &budget) == SB_OK) {
    if (budget == 0) {
      r->enabled = 0;
      return;
    }
    r->enabled = 1;
    if (budget > 0)
      r->budget = budget;
  } else if (r->effort != SB_HUB_EFFORT_UNSET) {
    r->enabled = 1;
  }
  /* Gemini shows thoughts only when asked to */
  r->exclude = !sb_json_is(sb_json_get(th, "includeThoughts"), SB_JSON_TRUE);
}

static sb_status_t response_format(sb_arena_t *a, sb_hub_req_t *req,
                                   const sb_json_t *gc, char *why,
                                   size_t whylen)
{
  const sb_json_t *mime = sb_json_get(gc, "responseMimeType");
  const sb_json_t *schema = sb_json_get(gc, "responseJsonSchema");
  if (!sb_json_is(schema, SB_JSON_OBJECT))
    schema = sb_json_get(gc, "responseSchema");
  req->schema_strict = -1;
  if (!SB_JSON_STR_IS(mime, "application/json")) {
    if (SB_JSON_STR_IS(mime, "text/x.enum"))
      req->response_format = SB_HUB_FORMAT_OTHER;
    return SB_OK;
  }
  if (!sb_json_is(schema, SB_JSON_OBJECT)) {
    req->response_format = SB_HUB_FORMAT_JSON;
    return SB_OK;
  }
  req->response_format = SB_HUB_FORMAT_JSON_SCHEMA;
  req->schema_name = SB_SLICE_LIT("response");
  sb_status_t rc = json_schema(a, schema, &req->schema);
  return rc == SB_DECLINED ? refuse(why, whylen,
                                    "generationConfig.responseSchema: nested "
                                    "too deeply")
                           : rc;
}

static sb_status_t generation_config(sb_arena_t *a, sb_hub_req_t *req,
                                     const sb_json_t *body, char *why,
                                     size_t whylen)
{
  const sb_json_t *gc = sb_json_get(body, "generationConfig");
  int64_t v;
  sb_hub_number(&req->temperature, sb_json_get(gc, "temperature"));
  sb_hub_number(&req->top_p, sb_json_get(gc, "topP"));
  sb_hub_number(&req->top_k, sb_json_get(gc, "topK"));
  sb_hub_number(&req->presence_penalty, sb_json_get(gc, "presencePenalty"));
  sb_hub_number(&req->frequency_penalty, sb_json_get(gc, "frequencyPenalty"));
  sb_hub_number(&req->seed, sb_json_get(gc, "seed"));
  if (sb_json_int64(sb_json_get(gc, "candidateCount"), &v) == SB_OK && v > 0)
    req->n = v;
  reasoning(req, gc);
  if (sb_hub_strings(a, sb_json_get(gc, "stopSequences"), &req->stop,
                     &req->n_stop) != SB_OK)
    return SB_ERROR;
  return response_format(a, req, gc, why, whylen);
}

/* ---- the request ---------------------------------------------------------------- */

sb_status_t sb_gemini_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                             size_t whylen)
{
  const sb_json_t *body = req->native;
  const sb_json_t *narrow;
  if (req->decoded)
    return SB_OK;
  if (sb_json_truthy(sb_json_get(body, "cachedContent")))
    return refuse(why, whylen,
                  "cachedContent names a Gemini context cache, which only a "
                  "Gemini model can read; send the conversation itself to "
                  "this model");
  sb_status_t rc = sb_gemini_door_contents(body, a, req, why, whylen);
  if (rc != SB_OK)
    return rc;
  tool_choice(req, body, &narrow);
  if ((rc = tools(a, req, body, narrow, why, whylen)) != SB_OK ||
      (rc = generation_config(a, req, body, why, whylen)) != SB_OK)
    return rc;
  req->decoded = true;
  return SB_OK;
}

/* countTokens: {"totalTokens": the estimate, "promptTokensDetails": [...]}
 * (an estimate, not a tokenizer, as the other doors' counts). Its body is
 * {contents} or {generateContentRequest: a whole request}. */
sb_status_t sb_gemini_count(const sb_json_t *body, sb_arena_t *a,
                            sb_hub_req_t *req, sb_buf_t *out, char *why,
                            size_t whylen)
{
  sb_status_t rc = sb_gemini_check_count(body, why, whylen);
  if (rc != SB_OK)
    return rc;
  const sb_json_t *gcr = sb_json_get(body, "generateContentRequest");
  const sb_json_t *inner = sb_json_is(gcr, SB_JSON_OBJECT) ? gcr : body;
  if ((rc = sb_gemini_envelope(inner, a, req, why, whylen)) != SB_OK)
    return rc;
  /* the tokens of the request as written: a cache it names is not read */
  rc = sb_gemini_door_contents(inner, a, req, why, whylen);
  const sb_json_t *narrow;
  tool_choice(req, inner, &narrow);
  if (rc == SB_OK)
    rc = tools(a, req, inner, narrow, why, whylen);
  if (rc != SB_OK)
    return rc;
  uint64_t n = sb_hub_estimate_input(req);
  return sb_buf_appendf(out,
                        "{\"totalTokens\":%llu,\"promptTokensDetails\":"
                        "[{\"modality\":\"TEXT\",\"tokenCount\":%llu}]}",
                        (unsigned long long)n, (unsigned long long)n);
}
