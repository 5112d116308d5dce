/* SPDX-License-Identifier: MIT */
/*
 * The Responses request's schema (the door's check, before anything goes
 * upstream): the type, and where the gateway relies on it the range, of
 * every member it reads or that OpenAI's API defines; members it does not
 * define pass, so fields a provider adds tomorrow still reach a provider
 * that speaks Responses. `null` stands for an absent member.
 *
 * What the gateway cannot do is refused here too, with the reason:
 * `background` (no queued responses), `conversation` (conversation
 * objects; previous_response_id continues a conversation) and `prompt`
 * (stored prompt templates).
 */
#include <math.h>
#include <stdio.h>

#include "responses.h"

typedef struct {
  char *why;
  size_t whylen;
} ck_t;

static bool absent(const sb_json_t *v)
{
  return v == NULL || v->type == SB_JSON_NULL;
}

static bool bad(ck_t *k, const char *path, const char *what)
{
  snprintf(k->why, k->whylen, "'%s' must be %s", path, what);
  return false;
}

static bool want(ck_t *k, const sb_json_t *v, sb_json_type_t t,
                 const char *path, const char *what)
{
  return absent(v) || v->type == t || bad(k, path, what);
}

static bool want_bool(ck_t *k, const sb_json_t *v, const char *path)
{
  return absent(v) || v->type == SB_JSON_TRUE || v->type == SB_JSON_FALSE ||
         bad(k, path, "a boolean");
}

static bool want_number(ck_t *k, const sb_json_t *v, const char *path,
                        double lo, double hi)
{
  double x;
  char what[64];
  if (absent(v) || (v->type == SB_JSON_NUMBER &&
                    sb_json_double(v, &x) == SB_OK && isfinite(x) &&
                    x >= lo && x <= hi))
    return true;
  snprintf(what, sizeof(what), "a number between %g and %g", lo, hi);
  return bad(k, path, what);
}

static bool want_int(ck_t *k, const sb_json_t *v, const char *path, int64_t lo,
                     int64_t hi)
{
  int64_t x;
  char what[64];
  if (absent(v) || (sb_json_int64(v, &x) == SB_OK && x >= lo && x <= hi))
    return true;
  snprintf(what, sizeof(what), "an integer between %lld and %lld",
           (long long)lo, (long long)hi);
  return bad(k, path, what);
}

static bool want_strings(ck_t *k, const sb_json_t *v, const char *path)
{
  if (absent(v))
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, path, "an array of strings");
  for (const sb_json_t *e = v->child; e != NULL; e = e->next)
    if (e->type != SB_JSON_STRING)
      return bad(k, path, "an array of strings");
  return true;
}

/* ---- input items ------------------------------------------------------------- */

static bool item(ck_t *k, const sb_json_t *x, size_t i)
{
  char path[96];
  snprintf(path, sizeof(path), "input[%zu]", i);
  if (x->type != SB_JSON_OBJECT)
    return bad(k, path, "an object (an input item)");
  const sb_json_t *type = sb_json_get(x, "type");
  if (!want(k, type, SB_JSON_STRING, path, "an item with a string 'type'"))
    return false;
  char sub[128];
  if (absent(type) || SB_JSON_STR_IS(type, "message")) {
    const sb_json_t *c = sb_json_get(x, "content");
    snprintf(sub, sizeof(sub), "%s.role", path);
    if (!sb_json_is(sb_json_get(x, "role"), SB_JSON_STRING))
      return bad(k, sub, "one of user, assistant, system, developer");
    snprintf(sub, sizeof(sub), "%s.content", path);
    if (!sb_json_is(c, SB_JSON_STRING) && !sb_json_is(c, SB_JSON_ARRAY))
      return bad(k, sub, "a string or an array of content parts");
    if (sb_json_is(c, SB_JSON_ARRAY))
      for (const sb_json_t *p = c->child; p != NULL; p = p->next)
        if (!sb_json_is(sb_json_get(p, "type"), SB_JSON_STRING))
          return bad(k, sub, "an array of content parts, each with a 'type'");
    return true;
  }
  if (SB_JSON_STR_IS(type, "function_call") ||
      SB_JSON_STR_IS(type, "custom_tool_call")) {
    bool fn = SB_JSON_STR_IS(type, "function_call");
    snprintf(sub, sizeof(sub), "%s.call_id", path);
    if (!sb_json_is(sb_json_get(x, "call_id"), SB_JSON_STRING))
      return bad(k, sub, "a string");
    snprintf(sub, sizeof(sub), "%s.name", path);
    if (!sb_json_is(sb_json_get(x, "name"), SB_JSON_STRING))
      return bad(k, sub, "a string");
    const char *field = fn ? "arguments" : "input";
    snprintf(sub, sizeof(sub), "%s.%s", path, field);
    if (!sb_json_is(sb_json_getn(x, field, strlen(field)), SB_JSON_STRING))
      return bad(k, sub, "a string");
    return true;
  }
  if (SB_JSON_STR_IS(type, "function_call_output") ||
      SB_JSON_STR_IS(type, "custom_tool_call_output")) {
    const sb_json_t *out = sb_json_get(x, "output");
    snprintf(sub, sizeof(sub), "%s.call_id", path);
    if (!sb_json_is(sb_json_get(x, "call_id"), SB_JSON_STRING))
      return bad(k, sub, "a string");
    snprintf(sub, sizeof(sub), "%s.output", path);
    if (!sb_json_is(out, SB_JSON_STRING) && !sb_json_is(out, SB_JSON_ARRAY))
      return bad(k, sub, "a string or an array of content parts");
    return true;
  }
  if (SB_JSON_STR_IS(type, "reasoning")) {
    snprintf(sub, sizeof(sub), "%s.summary", path);
    if (!want(k, sb_json_get(x, "summary"), SB_JSON_ARRAY, sub, "an array"))
      return false;
    snprintf(sub, sizeof(sub), "%s.encrypted_content", path);
    return want(k, sb_json_get(x, "encrypted_content"), SB_JSON_STRING, sub,
                "a string");
  }
  return true;
}

static bool input(ck_t *k, const sb_json_t *v)
{
  if (absent(v) || v->type == SB_JSON_STRING)
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, "input", "a string or an array of input items");
  size_t i = 0;
  for (const sb_json_t *x = v->child; x != NULL; x = x->next, i++)
    if (!item(k, x, i))
      return false;
  return true;
}

/* ---- tools and settings ------------------------------------------------------- */

static bool tools(ck_t *k, const sb_json_t *v)
{
  if (absent(v))
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, "tools", "an array of tools");
  size_t i = 0;
  for (const sb_json_t *t = v->child; t != NULL; t = t->next, i++) {
    char path[64];
    snprintf(path, sizeof(path), "tools[%zu]", i);
    const sb_json_t *type = sb_json_get(t, "type");
    if (!sb_json_is(type, SB_JSON_STRING))
      return bad(k, path, "a tool object with a string 'type'");
    if (!SB_JSON_STR_IS(type, "function") && !SB_JSON_STR_IS(type, "custom"))
      continue; /* OpenAI's own tools: its to judge */
    snprintf(path, sizeof(path), "tools[%zu].name", i);
    if (!sb_json_is(sb_json_get(t, "name"), SB_JSON_STRING))
      return bad(k, path, "a string");
    snprintf(path, sizeof(path), "tools[%zu].parameters", i);
    if (!want(k, sb_json_get(t, "parameters"), SB_JSON_OBJECT, path,
              "an object (a JSON schema)"))
      return false;
    snprintf(path, sizeof(path), "tools[%zu].strict", i);
    if (!want_bool(k, sb_json_get(t, "strict"), path))
      return false;
    snprintf(path, sizeof(path), "tools[%zu].description", i);
    if (!want(k, sb_json_get(t, "description"), SB_JSON_STRING, path,
              "a string"))
      return false;
  }
  return true;
}

static bool tool_choice(ck_t *k, const sb_json_t *v)
{
  if (absent(v))
    return true;
  if (v->type == SB_JSON_STRING) {
    if (SB_JSON_STR_IS(v, "auto") || SB_JSON_STR_IS(v, "none") ||
        SB_JSON_STR_IS(v, "required"))
      return true;
    return bad(k, "tool_choice", "'auto', 'none', 'required' or an object");
  }
  if (v->type != SB_JSON_OBJECT ||
      !sb_json_is(sb_json_get(v, "type"), SB_JSON_STRING))
    return bad(k, "tool_choice", "'auto', 'none', 'required' or an object "
                                 "with a 'type'");
  const sb_json_t *type = sb_json_get(v, "type");
  if ((SB_JSON_STR_IS(type, "function") || SB_JSON_STR_IS(type, "custom")) &&
      !sb_json_is(sb_json_get(v, "name"), SB_JSON_STRING))
    return bad(k, "tool_choice.name", "a string");
  return true;
}

static bool text(ck_t *k, const sb_json_t *v)
{
  if (!want(k, v, SB_JSON_OBJECT, "text", "an object"))
    return false;
  const sb_json_t *f = sb_json_get(v, "format");
  if (!want(k, sb_json_get(v, "verbosity"), SB_JSON_STRING, "text.verbosity",
            "a string") ||
      !want(k, f, SB_JSON_OBJECT, "text.format", "an object"))
    return false;
  if (absent(f))
    return true;
  const sb_json_t *type = sb_json_get(f, "type");
  if (!sb_json_is(type, SB_JSON_STRING))
    return bad(k, "text.format.type", "'text', 'json_object' or 'json_schema'");
  if (!SB_JSON_STR_IS(type, "json_schema"))
    return true;
  if (!sb_json_is(sb_json_get(f, "name"), SB_JSON_STRING))
    return bad(k, "text.format.name", "a string");
  if (!sb_json_is(sb_json_get(f, "schema"), SB_JSON_OBJECT))
    return bad(k, "text.format.schema", "an object (a JSON schema)");
  return want_bool(k, sb_json_get(f, "strict"), "text.format.strict");
}

static bool reasoning(ck_t *k, const sb_json_t *v)
{
  return want(k, v, SB_JSON_OBJECT, "reasoning", "an object") &&
         want(k, sb_json_get(v, "effort"), SB_JSON_STRING, "reasoning.effort",
              "a string") &&
         want(k, sb_json_get(v, "summary"), SB_JSON_STRING,
              "reasoning.summary", "a string");
}

static bool metadata(ck_t *k, const sb_json_t *v)
{
  if (!want(k, v, SB_JSON_OBJECT, "metadata", "an object of strings"))
    return false;
  if (!absent(v))
    for (const sb_json_t *m = v->child; m != NULL; m = m->next)
      if (m->type != SB_JSON_STRING)
        return bad(k, "metadata", "an object of strings");
  return true;
}

static bool unsupported(ck_t *k, const sb_json_t *body)
{
  if (sb_json_truthy(sb_json_get(body, "background"))) {
    snprintf(k->why, k->whylen, "'background' responses are not supported: "
                                "send the request with stream or wait for it");
    return false;
  }
  if (!absent(sb_json_get(body, "conversation"))) {
    snprintf(k->why, k->whylen, "'conversation' objects are not supported: "
                                "continue a conversation with "
                                "previous_response_id");
    return false;
  }
  if (!absent(sb_json_get(body, "prompt"))) {
    snprintf(k->why, k->whylen, "'prompt' templates are not supported: send "
                                "the instructions and input themselves");
    return false;
  }
  return true;
}

sb_status_t sb_responses_check(const sb_json_t *body, char *why, size_t whylen)
{
  ck_t k = {why, whylen};
  if (!sb_json_is(body, SB_JSON_OBJECT)) {
    snprintf(why, whylen, "the body must be a JSON object");
    return SB_DECLINED;
  }
  const sb_json_t *ins = sb_json_get(body, "instructions");
  bool ok =
      want(&k, sb_json_get(body, "model"), SB_JSON_STRING, "model",
           "a string") &&
      want_strings(&k, sb_json_get(body, "models"), "models") &&
      input(&k, sb_json_get(body, "input")) &&
      (absent(ins) || ins->type == SB_JSON_STRING ||
       ins->type == SB_JSON_ARRAY ||
       bad(&k, "instructions", "a string or an array of input items")) &&
      tools(&k, sb_json_get(body, "tools")) &&
      tool_choice(&k, sb_json_get(body, "tool_choice")) &&
      want_bool(&k, sb_json_get(body, "parallel_tool_calls"),
                "parallel_tool_calls") &&
      want_int(&k, sb_json_get(body, "max_output_tokens"), "max_output_tokens",
               1, INT32_MAX) &&
      want_int(&k, sb_json_get(body, "max_tool_calls"), "max_tool_calls", 1,
               INT32_MAX) &&
      want_number(&k, sb_json_get(body, "temperature"), "temperature", 0, 2) &&
      want_number(&k, sb_json_get(body, "top_p"), "top_p", 0, 1) &&
      want_int(&k, sb_json_get(body, "top_logprobs"), "top_logprobs", 0, 20) &&
      text(&k, sb_json_get(body, "text")) &&
      reasoning(&k, sb_json_get(body, "reasoning")) &&
      want_strings(&k, sb_json_get(body, "include"), "include") &&
      metadata(&k, sb_json_get(body, "metadata")) &&
      want(&k, sb_json_get(body, "user"), SB_JSON_STRING, "user", "a string") &&
      want(&k, sb_json_get(body, "safety_identifier"), SB_JSON_STRING,
           "safety_identifier", "a string") &&
      want(&k, sb_json_get(body, "prompt_cache_key"), SB_JSON_STRING,
           "prompt_cache_key", "a string") &&
      want_bool(&k, sb_json_get(body, "store"), "store") &&
      want_bool(&k, sb_json_get(body, "stream"), "stream") &&
      want(&k, sb_json_get(body, "previous_response_id"), SB_JSON_STRING,
           "previous_response_id", "a string") &&
      want(&k, sb_json_get(body, "service_tier"), SB_JSON_STRING,
           "service_tier", "a string") &&
      want(&k, sb_json_get(body, "truncation"), SB_JSON_STRING, "truncation",
           "a string") &&
      want(&k, sb_json_get(body, "stream_options"), SB_JSON_OBJECT,
           "stream_options", "an object") &&
      want_bool(&k, sb_json_get(body, "background"), "background") &&
      unsupported(&k, body);
  return ok ? SB_OK : SB_DECLINED;
}
