/*
 * JSON schemas (tool parameters, response schemas) reduced to the OpenAPI
 * subset Gemini accepts: members it does not know ($schema, default,
 * additionalProperties ...) are left out, a type list with "null" becomes
 * the type and nullable, and only the formats Gemini knows are kept.
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
