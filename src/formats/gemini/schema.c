/* SPDX-License-Identifier: MIT */
/*
 * Schemas both ways.
 * - Provider side: JSON schemas (tool parameters, response schemas)
 *   reduced to the OpenAPI subset Gemini accepts: members it does not know
 *   ($schema, default, additionalProperties ...) are left out, a type list
 *   with "null" becomes the type and nullable, and only the formats
 *   Gemini knows are kept.
 * - The door: a Gemini client's schemas (OpenAPI's Schema with its types
 *   in capitals, or a JSON Schema, which Gemini clients also write in
 *   capitals) as JSON Schema for other providers: type names in lower
 *   case, nullable folded into the type, Gemini's propertyOrdering left
 *   out. Only the members that hold schemas are walked; every other
 *   member (enum, default, description ...) is copied as it is.
 */
#include "gemini.h"

#define MAX_SCHEMA_DEPTH 32

static sb_status_t schema(sb_jw_t *w, const sb_json_t *s, int depth,
                          sb_arena_t *a, sb_codec_request_t *out);

static void write_type(sb_jw_t *w, const sb_json_t *s)
{
  const sb_json_t *type = sb_json_get(s, "type");
  bool nullable = sb_json_is(sb_json_get(s, "nullable"), SB_JSON_TRUE);
  if (sb_json_is(type, SB_JSON_STRING)) {
    sb_jw_kv_raw(w, SB_STRLIT("type"), type->raw.ptr, type->raw.len);
  } else if (sb_json_is(type, SB_JSON_ARRAY)) {
    /* ["string","null"] -> "string" + nullable */
    const sb_json_t *first = NULL;
    for (const sb_json_t *t = type->child; t != NULL; t = t->next) {
      if (SB_JSON_STR_IS(t, "null"))
        nullable = true;
      else if (first == NULL && sb_json_is(t, SB_JSON_STRING))
        first = t;
    }
    if (first != NULL)
      sb_jw_kv_raw(w, SB_STRLIT("type"), first->raw.ptr, first->raw.len);
  }
  static const char *const formats[] = {"date-time", "enum",  "int32",
                                        "int64",     "float", "double"};
  const sb_json_t *format = sb_json_get(s, "format");
  for (size_t i = 0;
       sb_json_is(format, SB_JSON_STRING) && i < SB_ARRAY_LEN(formats); i++)
    if (sb_json_str_eq(format, formats[i], strlen(formats[i])))
      sb_jw_kv_raw(w, SB_STRLIT("format"), format->raw.ptr, format->raw.len);
  static const char *const plain[] = {"title",     "description", "enum",
                                      "required",  "minItems",    "maxItems",
                                      "minimum",   "maximum",     "minLength",
                                      "maxLength", "pattern"};
  for (size_t i = 0; i < SB_ARRAY_LEN(plain); i++) {
    const sb_json_t *v = sb_json_getn(s, plain[i], strlen(plain[i]));
    if (v != NULL && v->type != SB_JSON_NULL)
      sb_jw_kv_raw(w, plain[i], strlen(plain[i]), v->raw.ptr, v->raw.len);
  }
  if (nullable)
    sb_jw_kv_raw(w, SB_STRLIT("nullable"), SB_STRLIT("true"));
}

static sb_status_t nested(sb_jw_t *w, const sb_json_t *s, int depth,
                          sb_arena_t *a, sb_codec_request_t *out)
{
  const sb_json_t *props = sb_json_get(s, "properties");
  if (sb_json_is(props, SB_JSON_OBJECT)) {
    sb_jw_key_lit(w, "properties");
    sb_jw_obj_begin(w);
    for (const sb_json_t *p = props->child; p != NULL; p = p->next) {
      sb_jw_key_raw(w, p->key.ptr, p->key.len);
      if (schema(w, p, depth + 1, a, out) != SB_OK)
        return SB_ERROR;
    }
    sb_jw_obj_end(w);
  }
  const sb_json_t *items = sb_json_get(s, "items");
  if (sb_json_is(items, SB_JSON_OBJECT)) {
    sb_jw_key_lit(w, "items");
    if (schema(w, items, depth + 1, a, out) != SB_OK)
      return SB_ERROR;
  }
  const sb_json_t *any = sb_json_get(s, "anyOf");
  if (sb_json_is(any, SB_JSON_ARRAY)) {
    sb_jw_key_lit(w, "anyOf");
    sb_jw_arr_begin(w);
    for (const sb_json_t *x = any->child; x != NULL; x = x->next)
      if (schema(w, x, depth + 1, a, out) != SB_OK)
        return SB_ERROR;
    sb_jw_arr_end(w);
  }
  return SB_OK;
}

static sb_status_t schema(sb_jw_t *w, const sb_json_t *s, int depth,
                          sb_arena_t *a, sb_codec_request_t *out)
{
  if (depth > MAX_SCHEMA_DEPTH)
    return sb_gemini_refuse(a, out, "a tool schema is nested too deeply");
  if (!sb_json_is(s, SB_JSON_OBJECT)) {
    sb_jw_raw(w, SB_STRLIT("{}"));
    return SB_OK;
  }
  if (sb_json_get(s, "$ref") != NULL)
    return sb_gemini_refuse(a, out,
                            "schemas with $ref are not supported by the "
                            "Gemini provider; inline the definitions");
  sb_jw_obj_begin(w);
  write_type(w, s);
  if (nested(w, s, depth, a, out) != SB_OK)
    return SB_ERROR;
  sb_jw_obj_end(w);
  return SB_OK;
}

sb_status_t sb_gemini_schema(sb_jw_t *w, const sb_json_t *s, sb_arena_t *a,
                             sb_codec_request_t *out)
{
  return schema(w, s, 0, a, out);
}

/* ---- Gemini's schemas as JSON Schema (the door) ----------------------------------- */

/* A type name in lower case ("OBJECT" -> "object"), as a JSON string. */
static void lower_name(sb_jw_t *w, const sb_json_t *t)
{
  char name[32];
  sb_slice_t s = sb_json_str_raw(t);
  if (s.len >= sizeof(name) || memchr(s.ptr, '\\', s.len) != NULL) {
    sb_jw_raw(w, t->raw.ptr, t->raw.len);
    return;
  }
  for (size_t i = 0; i < s.len; i++)
    name[i] = (char)(s.ptr[i] >= 'A' && s.ptr[i] <= 'Z' ? s.ptr[i] + 32
                                                          : s.ptr[i]);
  sb_jw_str(w, name, s.len);
}

/* "type": its name(s) in lower case, with "null" when nullable. */
static void json_type(sb_jw_t *w, const sb_json_t *type, bool nullable)
{
  bool has_null = false;
  sb_jw_key_lit(w, "type");
  if (sb_json_is(type, SB_JSON_STRING) && !nullable) {
    lower_name(w, type);
    return;
  }
  sb_jw_arr_begin(w);
  for (const sb_json_t *t = sb_json_is(type, SB_JSON_ARRAY) ? type->child
                                                            : type;
       t != NULL; t = sb_json_is(type, SB_JSON_ARRAY) ? t->next : NULL) {
    if (!sb_json_is(t, SB_JSON_STRING))
      continue;
    has_null = has_null || sb_json_str_eq(t, SB_STRLIT("null")) ||
               sb_json_str_eq(t, SB_STRLIT("NULL"));
    lower_name(w, t);
  }
  if (nullable && !has_null)
    sb_jw_str_lit(w, "null");
  sb_jw_arr_end(w);
}

static sb_status_t to_json(sb_jw_t *w, const sb_json_t *s, int depth);

/* A member whose value is a map of schemas (properties, $defs). */
static sb_status_t schema_map(sb_jw_t *w, const sb_json_t *m, int depth)
{
  sb_jw_obj_begin(w);
  for (const sb_json_t *p = m->child; p != NULL; p = p->next) {
    sb_jw_key_raw(w, p->key.ptr, p->key.len);
    if (to_json(w, p, depth + 1) != SB_OK)
      return SB_ERROR;
  }
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t schema_list(sb_jw_t *w, const sb_json_t *m, int depth)
{
  sb_jw_arr_begin(w);
  for (const sb_json_t *x = m->child; x != NULL; x = x->next)
    if (to_json(w, x, depth + 1) != SB_OK)
      return SB_ERROR;
  sb_jw_arr_end(w);
  return SB_OK;
}

static bool key_in(const sb_json_t *m, const char *const *names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (sb_json_key_is(m, names[i], strlen(names[i])))
      return true;
  return false;
}

static sb_status_t to_json(sb_jw_t *w, const sb_json_t *s, int depth)
{
  static const char *const maps[] = {"properties", "$defs", "definitions",
                                     "patternProperties"};
  static const char *const lists[] = {"anyOf", "oneOf", "allOf",
                                      "prefixItems"};
  static const char *const ones[] = {"items", "additionalProperties", "not",
                                     "contains", "if", "then", "else"};
  if (depth > MAX_SCHEMA_DEPTH)
    return SB_ERROR;
  if (!sb_json_is(s, SB_JSON_OBJECT)) {
    sb_jw_raw(w, s->raw.ptr, s->raw.len);
    return SB_OK;
  }
  bool nullable = sb_json_is(sb_json_get(s, "nullable"), SB_JSON_TRUE);
  sb_jw_obj_begin(w);
  for (const sb_json_t *m = s->child; m != NULL; m = m->next) {
    sb_status_t rc = SB_OK;
    if (sb_json_key_is(m, SB_STRLIT("type"))) {
      json_type(w, m, nullable);
      continue;
    }
    if (sb_json_key_is(m, SB_STRLIT("nullable")) ||
        sb_json_key_is(m, SB_STRLIT("propertyOrdering")))
      continue;
    sb_jw_key_raw(w, m->key.ptr, m->key.len);
    if (key_in(m, maps, SB_ARRAY_LEN(maps)) && sb_json_is(m, SB_JSON_OBJECT))
      rc = schema_map(w, m, depth);
    else if (key_in(m, lists, SB_ARRAY_LEN(lists)) &&
             sb_json_is(m, SB_JSON_ARRAY))
      rc = schema_list(w, m, depth);
    else if (key_in(m, ones, SB_ARRAY_LEN(ones)) && sb_json_is(m, SB_JSON_ARRAY))
      rc = schema_list(w, m, depth); /* items as a list (old tuples) */
    else if (key_in(m, ones, SB_ARRAY_LEN(ones)))
      rc = to_json(w, m, depth + 1);
    else
      sb_jw_raw(w, m->raw.ptr, m->raw.len);
    if (rc != SB_OK)
      return SB_ERROR;
  }
  sb_jw_obj_end(w);
  return SB_OK;
}

sb_status_t sb_gemini_json_schema(sb_jw_t *w, const sb_json_t *s)
{
  return to_json(w, s, 0);
}
