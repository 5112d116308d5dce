/* SPDX-License-Identifier: MIT */
/* The tool-schema subset validator; see include/switchboard/schema.h. */
#include "switchboard/schema.h"

#include <stdio.h>

#define MAX_DEPTH 64

static bool type_is(sb_slice_t name, const sb_json_t *v)
{
  switch (v->type) {
  case SB_JSON_NULL:
    return SB_SLICE_IS(name, "null");
  case SB_JSON_TRUE:
  case SB_JSON_FALSE:
    return SB_SLICE_IS(name, "boolean");
  case SB_JSON_STRING:
    return SB_SLICE_IS(name, "string");
  case SB_JSON_ARRAY:
    return SB_SLICE_IS(name, "array");
  case SB_JSON_OBJECT:
    return SB_SLICE_IS(name, "object");
  case SB_JSON_NUMBER:
    if (SB_SLICE_IS(name, "number"))
      return true;
    if (SB_SLICE_IS(name, "integer")) {
      /* no fraction and no exponent (1.0 is not written by models) */
      for (size_t i = 0; i < v->raw.len; i++)
        if (v->raw.ptr[i] == '.' || v->raw.ptr[i] == 'e' ||
            v->raw.ptr[i] == 'E')
          return false;
      return true;
    }
    return false;
  }
  return false;
}

/* Structural equality for `enum`: same type and the same text (strings
 * compared as written, which is what models and schemas both emit). */
static bool same(const sb_json_t *a, const sb_json_t *b)
{
  if (a->type != b->type)
    return false;
  if (a->type == SB_JSON_STRING)
    return sb_slice_eq(sb_json_str_raw(a), sb_json_str_raw(b));
  return sb_slice_eq(a->raw, b->raw);
}

static bool fail(char *why, size_t cap, const char *path, const char *msg)
{
  if (why != NULL && cap > 0)
    snprintf(why, cap, "%s: %s", path, msg);
  return false;
}

static bool check(const sb_json_t *s, const sb_json_t *v, char *why,
                  size_t cap, const char *path, int depth)
{
  if (s == NULL || s->type != SB_JSON_OBJECT)
    return true;
  if (depth > MAX_DEPTH)
    return fail(why, cap, path, "too deeply nested");
  const sb_json_t *t = sb_json_get(s, "type");
  if (t != NULL && t->type == SB_JSON_STRING) {
    if (!type_is(sb_json_str_raw(t), v)) {
      char msg[96];
      snprintf(msg, sizeof(msg), "expected %.*s",
               (int)SB_MIN(sb_json_str_raw(t).len, 40), sb_json_str_raw(t).ptr);
      return fail(why, cap, path, msg);
    }
  } else if (t != NULL && t->type == SB_JSON_ARRAY) {
    bool any = false;
    for (const sb_json_t *e = t->child; e != NULL && !any; e = e->next)
      any = e->type == SB_JSON_STRING && type_is(sb_json_str_raw(e), v);
    if (!any)
      return fail(why, cap, path, "not one of the allowed types");
  }
  const sb_json_t *en = sb_json_get(s, "enum");
  if (en != NULL && en->type == SB_JSON_ARRAY) {
    bool found = false;
    for (const sb_json_t *e = en->child; e != NULL && !found; e = e->next)
      found = same(e, v);
    if (!found)
      return fail(why, cap, path, "not one of the enum values");
  }
  char sub[256];
  if (v->type == SB_JSON_OBJECT) {
    const sb_json_t *req = sb_json_get(s, "required");
    if (req != NULL && req->type == SB_JSON_ARRAY)
      for (const sb_json_t *r = req->child; r != NULL; r = r->next) {
        if (r->type != SB_JSON_STRING)
          continue;
        sb_slice_t k = sb_json_str_raw(r);
        if (sb_json_getn(v, k.ptr, k.len) == NULL) {
          char msg[128];
          snprintf(msg, sizeof(msg), "missing required '%.*s'",
                   (int)SB_MIN(k.len, 60), k.ptr);
          return fail(why, cap, path, msg);
        }
      }
    const sb_json_t *props = sb_json_get(s, "properties");
    const sb_json_t *addl = sb_json_get(s, "additionalProperties");
    bool closed = addl != NULL && addl->type == SB_JSON_FALSE;
    for (const sb_json_t *m = v->child; m != NULL; m = m->next) {
      const sb_json_t *ps = props != NULL && props->type == SB_JSON_OBJECT
                                ? sb_json_getn(props, m->key.ptr, m->key.len)
                                : NULL;
      snprintf(sub, sizeof(sub), "%s.%.*s", path, (int)SB_MIN(m->key.len, 60),
               m->key.ptr);
      if (ps == NULL && closed)
        return fail(why, cap, sub, "not an allowed property");
      if (ps != NULL && !check(ps, m, why, cap, sub, depth + 1))
        return false;
    }
  } else if (v->type == SB_JSON_ARRAY) {
    const sb_json_t *items = sb_json_get(s, "items");
    size_t i = 0;
    for (const sb_json_t *e = v->child; e != NULL; e = e->next, i++) {
      snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
      if (!check(items, e, why, cap, sub, depth + 1))
        return false;
    }
  }
  return true;
}

bool sb_schema_check(const sb_json_t *schema, const sb_json_t *v, char *why,
                     size_t cap)
{
  if (why != NULL && cap > 0)
    why[0] = '\0';
  if (v == NULL)
    return fail(why, cap, "$", "no value");
  return check(schema, v, why, cap, "$", 0);
}
