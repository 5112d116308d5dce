/* SPDX-License-Identifier: MIT */
/*
 * The chat request's schema (chat_validate.h): OpenAI's chat completions
 * request and OpenRouter's additions, as rule tables.
 *
 * A rule names a member and what it must be: a boolean, a string, an
 * integer or a number within a range, an array of strings, an object
 * whose own members follow a table, or a check of its own (messages,
 * content parts, tools, tool_choice, response_format: their shape depends
 * on a `type` or `role`). An object's members are checked in one pass,
 * each looked up in its table; members a table does not name pass
 * untouched, so fields a provider adds tomorrow still reach it.
 *
 * The rules are about types and ranges. `null` stands for an absent
 * optional member (the SDKs send it so). Where providers disagree or add
 * values often (reasoning effort, verbosity, service tier, image detail,
 * counts such as `stop`'s four strings or `metadata`'s sixteen pairs) a
 * value's type is checked and the provider judges the value; enumerations
 * the gateway itself relies on (message roles, `tool_choice`'s words) are
 * checked in full.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "formats/openai/chat_validate.h"

/* The largest token count a request may ask for: the providers' own
 * bound is the context length; anything past 32 bits is not a count. */
#define MAX_TOKENS_CAP INT32_MAX

/* The member being checked, as a path of names and indices
 * (messages[3].content[0]); written out only for a message. */
#define MAX_PATH 16

typedef struct {
  const char *name; /* NULL: an index */
  size_t n;         /* the name's length, or the index */
} segment_t;

typedef struct {
  segment_t path[MAX_PATH];
  size_t depth; /* may exceed MAX_PATH: deeper segments are not kept */
  char *why;
  size_t cap;
} checker_t;

typedef enum {
  R_BOOL,
  R_STRING,
  R_INT,         /* lo..hi */
  R_NUMBER,      /* flo..fhi */
  R_STRINGS,     /* an array of strings */
  R_STRING_LIST, /* a string or an array of strings */
  R_OBJECT,      /* any object */
  R_STRING_MAP,  /* an object of strings */
  R_FIELDS,      /* an object whose members follow `fields` */
  R_OBJECTS,     /* an array of objects whose members follow `fields` */
  R_CHECK,       /* `check` */
} rule_kind_t;

typedef struct rules rules_t;
typedef bool (*check_fn)(checker_t *k, const sb_json_t *v);

typedef struct {
  const char *name;
  uint8_t len;
  uint8_t kind;
  bool required;
  int64_t lo, hi;
  double flo, fhi;
  const rules_t *fields;
  check_fn check;
} rule_t;

/* Slots of a table's name index: a power of two, over twice the rules of
 * the largest table. */
#define INDEX_SLOTS 128

struct rules {
  const rule_t *r;
  size_t n;
  /* built once, before the first check (index_tables) */
  bool indexed;
  uint64_t required;         /* bit i: rule i is required */
  uint8_t slot[INDEX_SLOTS]; /* 1 + a rule's index, by name_hash; 0: empty */
};

#define RULES(arr) {(arr), SB_ARRAY_LEN(arr), false, 0, {0}}
#define NAME(s) .name = (s), .len = sizeof(s) - 1
#define BOOL(s) {NAME(s), .kind = R_BOOL}
#define STR(s) {NAME(s), .kind = R_STRING}
#define STR_REQ(s) {NAME(s), .kind = R_STRING, .required = true}
#define INT(s, a, b) {NAME(s), .kind = R_INT, .lo = (a), .hi = (b)}
#define NUM(s, a, b) {NAME(s), .kind = R_NUMBER, .flo = (a), .fhi = (b)}
#define STRS(s) {NAME(s), .kind = R_STRINGS}
#define OBJ(s) {NAME(s), .kind = R_OBJECT}
#define FIELDS(s, t) {NAME(s), .kind = R_FIELDS, .fields = &(t)}
#define FIELDS_REQ(s, t) {NAME(s), .kind = R_FIELDS, .fields = &(t), .required = true}
#define OBJECTS(s, t) {NAME(s), .kind = R_OBJECTS, .fields = &(t)}
#define CHECK(s, f) {NAME(s), .kind = R_CHECK, .check = (f)}

/* ---- the path and the message ------------------------------------------ */

static size_t push(checker_t *k, const char *name, size_t n)
{
  size_t at = k->depth;
  if (at < MAX_PATH)
    k->path[at] = (segment_t){name, n};
  k->depth++;
  return at;
}

static size_t push_name(checker_t *k, const char *name, size_t n)
{
  return push(k, name, n);
}

static size_t push_index(checker_t *k, size_t i)
{
  return push(k, NULL, i);
}

static void pop(checker_t *k, size_t at)
{
  k->depth = at;
}

/* The path as the client wrote it: messages[3].content[0]. */
static void write_path(const checker_t *k, char *out, size_t cap)
{
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < SB_MIN(k->depth, MAX_PATH) && len < cap; i++) {
    const segment_t *s = &k->path[i];
    int w = s->name != NULL
                ? snprintf(out + len, cap - len, "%s%.*s", i > 0 ? "." : "",
                           (int)s->n, s->name)
                : snprintf(out + len, cap - len, "[%zu]", s->n);
    if (w < 0)
      break;
    len += (size_t)w;
  }
}

/* Always false: the first problem ends the check. */
static bool bad(checker_t *k, const char *what)
{
  char path[192];
  write_path(k, path, sizeof(path));
  snprintf(k->why, k->cap, "'%s' must be %s", path, what);
  return false;
}

static bool missing(checker_t *k)
{
  char path[192];
  write_path(k, path, sizeof(path));
  snprintf(k->why, k->cap, "'%s' is required", path);
  return false;
}

/* ---- values -------------------------------------------------------------- */

static bool is_null(const sb_json_t *v)
{
  return v->type == SB_JSON_NULL;
}

static bool is_bool(const sb_json_t *v)
{
  return v->type == SB_JSON_TRUE || v->type == SB_JSON_FALSE;
}

static bool check_int(checker_t *k, const sb_json_t *v, int64_t lo, int64_t hi)
{
  int64_t x;
  if (sb_json_int64(v, &x) == SB_OK && x >= lo && x <= hi)
    return true;
  char what[96];
  if (lo == INT64_MIN && hi == INT64_MAX)
    snprintf(what, sizeof(what), "an integer (64 bits)");
  else
    snprintf(what, sizeof(what), "an integer between %" PRId64 " and %" PRId64,
             lo, hi);
  return bad(k, what);
}

static bool check_number(checker_t *k, const sb_json_t *v, double lo, double hi)
{
  double x;
  if (v->type == SB_JSON_NUMBER && sb_json_double(v, &x) == SB_OK &&
      isfinite(x) && x >= lo && x <= hi)
    return true;
  char what[96];
  snprintf(what, sizeof(what), "a number between %g and %g", lo, hi);
  return bad(k, what);
}

static bool check_strings(checker_t *k, const sb_json_t *v, const char *what)
{
  if (v->type != SB_JSON_ARRAY)
    return bad(k, what);
  size_t i = 0;
  for (const sb_json_t *e = v->child; e != NULL; e = e->next, i++)
    if (e->type != SB_JSON_STRING) {
      size_t at = push_index(k, i);
      bool ok = bad(k, "a string");
      pop(k, at);
      return ok;
    }
  return true;
}

static bool check_fields(checker_t *k, const sb_json_t *obj, const rules_t *t);

/* Member `v` (its name is already on the path) against rule `r`. */
static bool check_value(checker_t *k, const rule_t *r, const sb_json_t *v)
{
  if (is_null(v)) {
    if (r->required)
      return missing(k);
    if (r->kind != R_CHECK)
      return true; /* null stands for an absent member */
  }
  switch ((rule_kind_t)r->kind) {
  case R_BOOL:
    return is_bool(v) || bad(k, "a boolean");
  case R_STRING:
    return v->type == SB_JSON_STRING || bad(k, "a string");
  case R_INT:
    return check_int(k, v, r->lo, r->hi);
  case R_NUMBER:
    return check_number(k, v, r->flo, r->fhi);
  case R_STRINGS:
    return check_strings(k, v, "an array of strings");
  case R_STRING_LIST:
    return v->type == SB_JSON_STRING ||
           check_strings(k, v, "a string or an array of strings");
  case R_OBJECT:
    return v->type == SB_JSON_OBJECT || bad(k, "an object");
  case R_STRING_MAP:
    if (v->type != SB_JSON_OBJECT)
      return bad(k, "an object of strings");
    for (const sb_json_t *m = v->child; m != NULL; m = m->next)
      if (m->type != SB_JSON_STRING)
        return bad(k, "an object of strings");
    return true;
  case R_FIELDS:
    if (v->type != SB_JSON_OBJECT)
      return bad(k, "an object");
    return check_fields(k, v, r->fields);
  case R_OBJECTS: {
    if (v->type != SB_JSON_ARRAY)
      return bad(k, "an array of objects");
    size_t i = 0;
    for (const sb_json_t *e = v->child; e != NULL; e = e->next, i++) {
      size_t at = push_index(k, i);
      bool ok = e->type == SB_JSON_OBJECT ? check_fields(k, e, r->fields)
                                          : bad(k, "an object");
      if (!ok)
        return false;
      pop(k, at);
    }
    return true;
  }
  case R_CHECK:
    return r->check(k, v);
  }
  return true;
}

/* ---- finding a member's rule ---------------------------------------------- */

static inline size_t name_hash(const char *p, size_t n)
{
  return (n * 131u + (unsigned char)p[0] * 31u + (unsigned char)p[n / 2] * 7u +
          (unsigned char)p[n - 1]) &
         (INDEX_SLOTS - 1);
}

static void index_table(rules_t *t)
{
  assert(t->n <= 64 && t->n < INDEX_SLOTS / 2);
  for (size_t i = 0; i < t->n; i++) {
    if (t->r[i].required)
      t->required |= 1ull << i;
    size_t h = name_hash(t->r[i].name, t->r[i].len);
    while (t->slot[h] != 0)
      h = (h + 1) & (INDEX_SLOTS - 1);
    t->slot[h] = (uint8_t)(i + 1);
  }
  t->indexed = true;
}

/* The rule for member `m` (NULL: the table does not name it), and its
 * index. Names written with escapes, which no SDK sends, are compared
 * decoded, rule by rule. */
static const rule_t *rule_for(const rules_t *t, const sb_json_t *m, size_t *idx)
{
  if ((m->flags & SB_JSON_F_KEY_ESCAPED) != 0) {
    for (size_t i = 0; i < t->n; i++)
      if (sb_json_key_is(m, t->r[i].name, t->r[i].len)) {
        *idx = i;
        return &t->r[i];
      }
    return NULL;
  }
  if (m->key.len == 0)
    return NULL;
  for (size_t h = name_hash(m->key.ptr, m->key.len); t->slot[h] != 0;
       h = (h + 1) & (INDEX_SLOTS - 1)) {
    const rule_t *r = &t->r[t->slot[h] - 1];
    if (r->len == m->key.len && memcmp(r->name, m->key.ptr, r->len) == 0) {
      *idx = (size_t)(t->slot[h] - 1);
      return r;
    }
  }
  return NULL;
}

/* One pass over the object's members, each looked up in the table; then
 * the required members the pass did not see. */
static bool check_fields(checker_t *k, const sb_json_t *obj, const rules_t *t)
{
  assert(t->indexed); /* every table is listed in `tables` */
  uint64_t seen = 0;
  for (const sb_json_t *m = obj->child; m != NULL; m = m->next) {
    size_t i;
    const rule_t *r = rule_for(t, m, &i);
    if (r == NULL)
      continue;
    seen |= 1ull << i;
    size_t at = push_name(k, r->name, r->len);
    if (!check_value(k, r, m))
      return false;
    pop(k, at);
  }
  uint64_t absent = t->required & ~seen;
  if (absent != 0) {
    const rule_t *r = &t->r[__builtin_ctzll(absent)];
    push_name(k, r->name, r->len);
    return missing(k);
  }
  return true;
}

/* The value of member `type` of an object that must have one. */
static const sb_json_t *type_of(checker_t *k, const sb_json_t *obj)
{
  const sb_json_t *t = sb_json_get(obj, "type");
  if (sb_json_is(t, SB_JSON_STRING))
    return t;
  push_name(k, "type", 4);
  if (t == NULL || is_null(t))
    missing(k);
  else
    bad(k, "a string");
  return NULL;
}

/* ---- messages -------------------------------------------------------------- */

static const rule_t text_part_r[] = {STR_REQ("text")};
static rules_t text_part = RULES(text_part_r);
static const rule_t image_url_r[] = {STR_REQ("url"), STR("detail")};
static rules_t image_url = RULES(image_url_r);
static const rule_t image_part_r[] = {FIELDS_REQ("image_url", image_url)};
static rules_t image_part = RULES(image_part_r);
static const rule_t input_audio_r[] = {STR_REQ("data"), STR_REQ("format")};
static rules_t input_audio = RULES(input_audio_r);
static const rule_t audio_part_r[] = {FIELDS_REQ("input_audio", input_audio)};
static rules_t audio_part = RULES(audio_part_r);
static const rule_t file_r[] = {STR("filename"), STR("file_data"), STR("file_id")};
static rules_t file = RULES(file_r);
static const rule_t file_part_r[] = {FIELDS_REQ("file", file)};
static rules_t file_part = RULES(file_part_r);
static const rule_t refusal_part_r[] = {STR_REQ("refusal")};
static rules_t refusal_part = RULES(refusal_part_r);

/* A content part: {type, ...} with the member its type names. Types this
 * table does not know (video, provider extensions) pass. */
static bool check_part(checker_t *k, const sb_json_t *p)
{
  if (p->type != SB_JSON_OBJECT)
    return bad(k, "a content part object with a 'type'");
  const sb_json_t *t = type_of(k, p);
  if (t == NULL)
    return false;
  static const struct {
    const char *type;
    size_t n;
    const rules_t *rules;
  } parts[] = {
      {SB_STRLIT("text"), &text_part},         {SB_STRLIT("image_url"), &image_part},
      {SB_STRLIT("input_audio"), &audio_part}, {SB_STRLIT("file"), &file_part},
      {SB_STRLIT("refusal"), &refusal_part},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(parts); i++)
    if (sb_json_str_eq(t, parts[i].type, parts[i].n))
      return check_fields(k, p, parts[i].rules);
  return true;
}

/* A string, or an array of content parts. */
static bool check_content(checker_t *k, const sb_json_t *v)
{
  if (v->type == SB_JSON_STRING || is_null(v))
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, "a string or an array of content parts");
  size_t i = 0;
  for (const sb_json_t *p = v->child; p != NULL; p = p->next, i++) {
    size_t at = push_index(k, i);
    if (!check_part(k, p))
      return false;
    pop(k, at);
  }
  return true;
}

static const rule_t call_function_r[] = {STR_REQ("name"), STR("arguments")};
static rules_t call_function = RULES(call_function_r);
static const rule_t custom_call_r[] = {STR_REQ("name"), STR("input")};
static rules_t custom_call = RULES(custom_call_r);
static const rule_t tool_call_r[] = {
    STR("id"), STR_REQ("type"), FIELDS("function", call_function),
    FIELDS("custom", custom_call)};
static rules_t tool_call = RULES(tool_call_r);
static const rule_t function_call_r[] = {STR("name"), STR("arguments")};
static rules_t function_call = RULES(function_call_r);
static const rule_t message_audio_r[] = {STR_REQ("id")};
static rules_t message_audio = RULES(message_audio_r);

static bool check_role(checker_t *k, const sb_json_t *v)
{
  static const struct {
    const char *s;
    size_t n;
  } roles[] = {{SB_STRLIT("user")},   {SB_STRLIT("assistant")},
               {SB_STRLIT("system")}, {SB_STRLIT("tool")},
               {SB_STRLIT("developer")}, {SB_STRLIT("function")}};
  for (size_t i = 0; i < SB_ARRAY_LEN(roles); i++)
    if (sb_json_str_eq(v, roles[i].s, roles[i].n))
      return true;
  return bad(k, "one of \"system\", \"developer\", \"user\", \"assistant\", "
                "\"tool\", \"function\"");
}

/* The members a message has most often come first. */
static const rule_t message_r[] = {
    {NAME("role"), .kind = R_CHECK, .required = true, .check = check_role},
    CHECK("content", check_content),
    STR("name"),
    OBJECTS("tool_calls", tool_call),
    STR("tool_call_id"),
    STR("refusal"),
    STR("reasoning"),
    FIELDS("function_call", function_call),
    FIELDS("audio", message_audio),
};
static rules_t message = RULES(message_r);

static bool check_message(checker_t *k, const sb_json_t *m)
{
  if (m->type != SB_JSON_OBJECT)
    return bad(k, "an object with a 'role'");
  return check_fields(k, m, &message);
}

static bool check_messages(checker_t *k, const sb_json_t *v)
{
  if (v->type != SB_JSON_ARRAY || v->count == 0)
    return bad(k, "a non-empty array of messages");
  size_t i = 0;
  for (const sb_json_t *m = v->child; m != NULL; m = m->next, i++) {
    size_t at = push_index(k, i);
    if (!check_message(k, m))
      return false;
    pop(k, at);
  }
  return true;
}

/* ---- tools ------------------------------------------------------------------ */

static const rule_t function_def_r[] = {
    STR_REQ("name"), STR("description"), OBJ("parameters"), BOOL("strict")};
static rules_t function_def = RULES(function_def_r);
static const rule_t function_tool_r[] = {FIELDS_REQ("function", function_def)};
static rules_t function_tool = RULES(function_tool_r);
static const rule_t custom_def_r[] = {STR_REQ("name"), STR("description"),
                                      OBJ("format")};
static rules_t custom_def = RULES(custom_def_r);
static const rule_t custom_tool_r[] = {FIELDS_REQ("custom", custom_def)};
static rules_t custom_tool = RULES(custom_tool_r);

/* {type: "function", function: {...}}, {type: "custom", custom: {...}}, or
 * another type (OpenRouter's server tools) with whatever it carries. */
static bool check_tool(checker_t *k, const sb_json_t *t)
{
  if (t->type != SB_JSON_OBJECT)
    return bad(k, "a tool object with a 'type'");
  const sb_json_t *type = type_of(k, t);
  if (type == NULL)
    return false;
  if (SB_JSON_STR_IS(type, "function"))
    return check_fields(k, t, &function_tool);
  if (SB_JSON_STR_IS(type, "custom"))
    return check_fields(k, t, &custom_tool);
  return true;
}

static bool check_tools(checker_t *k, const sb_json_t *v)
{
  if (is_null(v))
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, "an array of tools");
  size_t i = 0;
  for (const sb_json_t *t = v->child; t != NULL; t = t->next, i++) {
    size_t at = push_index(k, i);
    if (!check_tool(k, t))
      return false;
    pop(k, at);
  }
  return true;
}

static const rule_t named_r[] = {STR_REQ("name")};
static rules_t named_fn = RULES(named_r);
static const rule_t choose_function_r[] = {FIELDS_REQ("function", named_fn)};
static rules_t choose_function = RULES(choose_function_r);
static const rule_t choose_custom_r[] = {FIELDS_REQ("custom", named_fn)};
static rules_t choose_custom = RULES(choose_custom_r);
static const rule_t allowed_tools_r[] = {
    STR_REQ("mode"), {NAME("tools"), .kind = R_CHECK, .required = true,
                      .check = check_tools}};
static rules_t allowed_tools = RULES(allowed_tools_r);
static const rule_t choose_allowed_r[] = {
    FIELDS_REQ("allowed_tools", allowed_tools)};
static rules_t choose_allowed = RULES(choose_allowed_r);

/* "none" | "auto" | "required" | {type, ...}: a named function or custom
 * tool, allowed tools, or another type (OpenRouter's server tools). */
static bool check_tool_choice(checker_t *k, const sb_json_t *v)
{
  if (is_null(v))
    return true;
  if (v->type == SB_JSON_STRING) {
    if (SB_JSON_STR_IS(v, "none") || SB_JSON_STR_IS(v, "auto") ||
        SB_JSON_STR_IS(v, "required"))
      return true;
    return bad(k, "\"none\", \"auto\", \"required\" or an object naming a "
                  "tool");
  }
  if (v->type != SB_JSON_OBJECT)
    return bad(k, "\"none\", \"auto\", \"required\" or an object naming a "
                  "tool");
  const sb_json_t *type = type_of(k, v);
  if (type == NULL)
    return false;
  if (SB_JSON_STR_IS(type, "function"))
    return check_fields(k, v, &choose_function);
  if (SB_JSON_STR_IS(type, "custom"))
    return check_fields(k, v, &choose_custom);
  if (SB_JSON_STR_IS(type, "allowed_tools"))
    return check_fields(k, v, &choose_allowed);
  return true;
}

/* The deprecated function_call: "none" | "auto" | {name}. */
static bool check_function_call(checker_t *k, const sb_json_t *v)
{
  if (is_null(v))
    return true;
  if (v->type == SB_JSON_STRING) {
    if (SB_JSON_STR_IS(v, "none") || SB_JSON_STR_IS(v, "auto"))
      return true;
    return bad(k, "\"none\", \"auto\" or {\"name\": ...}");
  }
  if (v->type != SB_JSON_OBJECT)
    return bad(k, "\"none\", \"auto\" or {\"name\": ...}");
  return check_fields(k, v, &named_fn);
}

/* ---- response_format ----------------------------------------------------------- */

static const rule_t json_schema_r[] = {STR_REQ("name"), STR("description"),
                                       OBJ("schema"), BOOL("strict")};
static rules_t json_schema = RULES(json_schema_r);
static const rule_t json_schema_format_r[] = {
    FIELDS_REQ("json_schema", json_schema)};
static rules_t json_schema_format = RULES(json_schema_format_r);
static const rule_t grammar_format_r[] = {STR_REQ("grammar")};
static rules_t grammar_format = RULES(grammar_format_r);

/* {type: "text" | "json_object" | "json_schema" (with json_schema) |
 * OpenRouter's "grammar" (with grammar) | "python" | ...}. */
static bool check_response_format(checker_t *k, const sb_json_t *v)
{
  if (is_null(v))
    return true;
  if (v->type != SB_JSON_OBJECT)
    return bad(k, "an object with a 'type'");
  const sb_json_t *type = type_of(k, v);
  if (type == NULL)
    return false;
  if (SB_JSON_STR_IS(type, "json_schema"))
    return check_fields(k, v, &json_schema_format);
  if (SB_JSON_STR_IS(type, "grammar"))
    return check_fields(k, v, &grammar_format);
  return true;
}

/* ---- smaller shapes ---------------------------------------------------------------- */

static bool check_logit_bias(checker_t *k, const sb_json_t *v)
{
  if (is_null(v))
    return true;
  if (v->type != SB_JSON_OBJECT)
    return bad(k, "an object of token ids to numbers between -100 and 100");
  for (const sb_json_t *m = v->child; m != NULL; m = m->next) {
    double x;
    if (m->type != SB_JSON_NUMBER || sb_json_double(m, &x) != SB_OK ||
        !(x >= -100 && x <= 100))
      return bad(k, "an object of token ids to numbers between -100 and 100");
  }
  return true;
}

static bool text_parts(checker_t *k, const sb_json_t *v, const char *what)
{
  if (v->type == SB_JSON_STRING || is_null(v))
    return true;
  if (v->type != SB_JSON_ARRAY)
    return bad(k, what);
  size_t i = 0;
  for (const sb_json_t *p = v->child; p != NULL; p = p->next, i++) {
    size_t at = push_index(k, i);
    if (p->type != SB_JSON_OBJECT)
      return bad(k, "a text part object");
    if (!check_fields(k, p, &text_part))
      return false;
    pop(k, at);
  }
  return true;
}

static bool check_prediction_content(checker_t *k, const sb_json_t *v)
{
  return text_parts(k, v, "a string or an array of text parts");
}

static bool check_voice(checker_t *k, const sb_json_t *v)
{
  if (v->type == SB_JSON_STRING || is_null(v))
    return true;
  if (v->type != SB_JSON_OBJECT)
    return bad(k, "a voice name or {\"id\": ...}");
  return check_fields(k, v, &message_audio);
}

static const rule_t stream_options_r[] = {BOOL("include_usage"),
                                          BOOL("include_obfuscation")};
static rules_t stream_options = RULES(stream_options_r);
static const rule_t reasoning_r[] = {
    STR("effort"), INT("max_tokens", 0, MAX_TOKENS_CAP), BOOL("exclude"),
    BOOL("enabled"), STR("summary")};
static rules_t reasoning = RULES(reasoning_r);
static const rule_t audio_r[] = {CHECK("voice", check_voice), STR("format")};
static rules_t audio = RULES(audio_r);
static const rule_t prediction_r[] = {
    STR_REQ("type"), CHECK("content", check_prediction_content)};
static rules_t prediction = RULES(prediction_r);
static const rule_t location_r[] = {STR("type"), OBJ("approximate")};
static rules_t location = RULES(location_r);
static const rule_t web_search_r[] = {STR("search_context_size"),
                                      FIELDS("user_location", location)};
static rules_t web_search = RULES(web_search_r);
static const rule_t usage_r[] = {BOOL("include")};
static rules_t usage = RULES(usage_r);
static const rule_t plugin_r[] = {STR_REQ("id"), BOOL("enabled")};
static rules_t plugin = RULES(plugin_r);
static const rule_t function_decl_r[] = {STR_REQ("name"), STR("description"),
                                         OBJ("parameters")};
static rules_t function_decl = RULES(function_decl_r);
/* `provider`'s routing members (order, only, ignore, sort, max_price,
 * allow_fallbacks, require_parameters) are read, and checked, by the
 * router (sb_prefs_parse); these are the ones it passes on. */
static const rule_t provider_r[] = {STR("data_collection"), BOOL("zdr"),
                                    STRS("quantizations"),
                                    BOOL("enforce_distillable_text")};
static rules_t provider = RULES(provider_r);

/* ---- the request ---------------------------------------------------------------------- */

static const rule_t request_r[] = {
    CHECK("messages", check_messages),
    STR("model"),
    STRS("models"),
    INT("max_tokens", 1, MAX_TOKENS_CAP),
    INT("max_completion_tokens", 1, MAX_TOKENS_CAP),
    NUM("temperature", 0, 2),
    NUM("top_p", 0, 1),
    INT("n", 1, 128),
    {NAME("stop"), .kind = R_STRING_LIST},
    NUM("presence_penalty", -2, 2),
    NUM("frequency_penalty", -2, 2),
    CHECK("logit_bias", check_logit_bias),
    BOOL("logprobs"),
    INT("top_logprobs", 0, 20),
    INT("seed", INT64_MIN, INT64_MAX),
    STR("user"),
    CHECK("tools", check_tools),
    CHECK("tool_choice", check_tool_choice),
    BOOL("parallel_tool_calls"),
    CHECK("response_format", check_response_format),
    BOOL("stream"),
    FIELDS("stream_options", stream_options),
    STR("reasoning_effort"),
    STR("verbosity"),
    STR("service_tier"),
    BOOL("store"),
    {NAME("metadata"), .kind = R_STRING_MAP},
    STRS("modalities"),
    FIELDS("audio", audio),
    FIELDS("prediction", prediction),
    FIELDS("web_search_options", web_search),
    STR("prompt_cache_key"),
    STR("safety_identifier"),
    CHECK("function_call", check_function_call),
    OBJECTS("functions", function_decl),
    /* OpenRouter's */
    FIELDS("provider", provider),
    FIELDS("reasoning", reasoning),
    BOOL("include_reasoning"),
    STRS("transforms"),
    STR("route"),
    FIELDS("usage", usage),
    OBJECTS("plugins", plugin),
    INT("top_k", 0, MAX_TOKENS_CAP),
    NUM("min_p", 0, 1),
    NUM("top_a", 0, 1),
    NUM("repetition_penalty", 0, 2),
    STR("session_id"),
    BOOL("structured_outputs"),
    OBJ("debug"),
};
static rules_t request = RULES(request_r);

/* Every table, indexed once before the first check. */
static rules_t *const tables[] = {
    &text_part,     &image_url,       &image_part,     &input_audio,
    &audio_part,    &file,            &file_part,      &refusal_part,
    &call_function, &custom_call,     &tool_call,      &function_call,
    &message_audio, &message,         &function_def,   &function_tool,
    &custom_def,    &custom_tool,     &named_fn,       &choose_function,
    &choose_custom, &allowed_tools,   &choose_allowed, &json_schema,
    &json_schema_format, &grammar_format, &stream_options, &reasoning,
    &audio,         &prediction,      &location,       &web_search,
    &usage,         &plugin,          &function_decl,  &provider,
    &request,
};
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void index_tables(void)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(tables); i++)
    index_table(tables[i]);
}

static void start(checker_t *k, char *why, size_t cap)
{
  pthread_once(&tables_once, index_tables);
  k->depth = 0;
  k->why = why;
  k->cap = cap;
  if (cap > 0)
    why[0] = '\0';
}

sb_status_t sb_chat_validate(const sb_json_t *req, char *why, size_t cap)
{
  checker_t k;
  start(&k, why, cap);
  if (!sb_json_is(req, SB_JSON_OBJECT)) {
    snprintf(why, cap, "the body must be a JSON object");
    return SB_ERROR;
  }
  if (sb_json_get(req, "messages") == NULL) {
    push_name(&k, "messages", 8);
    missing(&k);
    return SB_ERROR;
  }
  return check_fields(&k, req, &request) ? SB_OK : SB_ERROR;
}

sb_status_t sb_chat_validate_messages(const sb_json_t *messages, char *why,
                                      size_t cap)
{
  checker_t k;
  start(&k, why, cap);
  push_name(&k, "messages", 8);
  if (messages == NULL) {
    missing(&k);
    return SB_ERROR;
  }
  return check_messages(&k, messages) ? SB_OK : SB_ERROR;
}

sb_status_t sb_chat_validate_member(const char *name, const sb_json_t *v,
                                    char *why, size_t cap)
{
  checker_t k;
  start(&k, why, cap);
  size_t n = strlen(name);
  for (size_t i = 0; i < request.n; i++) {
    const rule_t *r = &request.r[i];
    if (r->len == n && memcmp(r->name, name, n) == 0) {
      push_name(&k, r->name, r->len);
      return check_value(&k, r, v) ? SB_OK : SB_ERROR;
    }
  }
  return SB_OK;
}
