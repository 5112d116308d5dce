/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages request checked against the API's schema before
 * anything is translated or sent upstream (docs/messages.md, "Validation").
 *
 * Every member the API defines is checked for its type and range: strings,
 * booleans, integers and numbers with their bounds, the closed sets of
 * values (roles, thinking types, tool_choice types, effort levels, ...),
 * and the shape of every content block type, nested ones included.
 * Members the API does not define are not looked at: they pass through.
 * Two families stay open because Anthropic adds to them with every tool
 * release: the `type` of a server tool (web_search_20250305, bash_20250124,
 * ...) and the server-tool result blocks (`*_tool_result`), checked only
 * for what they all share.
 *
 * A failure names the member by its path ("messages.1.content.0.source.
 * media_type: must be one of ..."), as Anthropic's own errors do.
 */
#include <stdarg.h>
#include <stdio.h>

#include "anthropic.h"

typedef struct {
  char *why;
  size_t whylen;
  char path[192]; /* "messages.1.content.0", NUL-terminated */
  size_t plen;
} vc_t;

static bool fail(vc_t *v, const char *fmt, ...) SB_PRINTF(2, 3);
static bool fail(vc_t *v, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (v->plen > 0)
    snprintf(v->why, v->whylen, "%s: %s", v->path, msg);
  else
    snprintf(v->why, v->whylen, "%s", msg);
  return false;
}

/* Path segments: push returns the length to pop back to. The path is cut
 * short when it does not fit (it only names the member in a message). */
static size_t push_seg(vc_t *v, const char *seg, size_t n)
{
  size_t old = v->plen;
  size_t room = sizeof(v->path) - 1 - v->plen;
  if (v->plen > 0 && room > 0) {
    v->path[v->plen++] = '.';
    room--;
  }
  n = SB_MIN(n, room);
  memcpy(v->path + v->plen, seg, n);
  v->plen += n;
  v->path[v->plen] = '\0';
  return old;
}

static size_t push_key(vc_t *v, const char *name)
{
  return push_seg(v, name, strlen(name));
}

static size_t push_index(vc_t *v, size_t i)
{
  char num[24];
  return push_seg(v, num, sb_u64_dec(num, i));
}

static void pop(vc_t *v, size_t len)
{
  v->plen = len;
  v->path[len] = '\0';
}

/* ---- member specifications ----------------------------------------------- */

typedef bool (*check_fn)(vc_t *v, const sb_json_t *val);

enum { T_STRING = 1, T_BOOL, T_INT, T_NUMBER, T_OBJECT, T_ARRAY, T_CUSTOM };
#define REQ 0x1 /* required */
#define NUL 0x2 /* null accepted (as absent) */

#define NO_MAX 1e18

typedef struct {
  const char *name;
  uint8_t type;
  uint8_t flags;
  double lo, hi;             /* T_INT, T_NUMBER: the range; T_STRING: length */
  const char *const *one_of; /* T_STRING: the accepted values, NULL-ended */
  check_fn check; /* T_OBJECT: the object; T_ARRAY: each item; T_CUSTOM: it */
} field_t;

#define F_STR(n, fl) {n, T_STRING, fl, 0, 0, NULL, NULL}
#define F_STRLEN(n, fl, lo, hi) {n, T_STRING, fl, lo, hi, NULL, NULL}
#define F_ENUM(n, fl, set) {n, T_STRING, fl, 0, 0, set, NULL}
#define F_BOOL(n, fl) {n, T_BOOL, fl, 0, 0, NULL, NULL}
#define F_INT(n, fl, lo, hi) {n, T_INT, fl, lo, hi, NULL, NULL}
#define F_NUM(n, fl, lo, hi) {n, T_NUMBER, fl, lo, hi, NULL, NULL}
#define F_OBJ(n, fl, fn) {n, T_OBJECT, fl, 0, 0, NULL, fn}
#define F_ARR(n, fl, fn) {n, T_ARRAY, fl, 0, 0, NULL, fn}
#define F_CUSTOM(n, fl, fn) {n, T_CUSTOM, fl, 0, 0, NULL, fn}

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

static bool str_in(const sb_json_t *s, const char *const *set)
{
  for (size_t i = 0; set[i] != NULL; i++)
    if (sb_json_str_eq(s, set[i], strlen(set[i])))
      return true;
  return false;
}

/* "'a', 'b' or 'c'" */
static void list_values(char *out, size_t cap, const char *const *set)
{
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; set[i] != NULL && len < cap; i++) {
    const char *sep = i == 0 ? "" : set[i + 1] == NULL ? " or " : ", ";
    int n = snprintf(out + len, cap - len, "%s'%s'", sep, set[i]);
    if (n < 0)
      break;
    len += (size_t)n;
  }
}

static bool check_value(vc_t *v, const field_t *f, const sb_json_t *val)
{
  int64_t iv;
  switch (f->type) {
  case T_STRING:
    if (!is_str(val))
      return fail(v, "must be a string");
    if (f->one_of != NULL && !str_in(val, f->one_of)) {
      char set[256];
      list_values(set, sizeof(set), f->one_of);
      return fail(v, "must be %s", set);
    }
    /* the length bounds count escaped bytes: exact for the plain names
     * they apply to */
    if (f->hi > 0 && ((double)(val->raw.len - 2) < f->lo ||
                      (double)(val->raw.len - 2) > f->hi))
      return fail(v, "must have %.0f to %.0f characters", f->lo, f->hi);
    return true;
  case T_BOOL:
    if (val->type != SB_JSON_TRUE && val->type != SB_JSON_FALSE)
      return fail(v, "must be a boolean");
    return true;
  case T_INT:
    if (sb_json_int64(val, &iv) != SB_OK)
      return fail(v, "must be an integer");
    if ((double)iv < f->lo)
      return fail(v, "must be at least %.0f", f->lo);
    if ((double)iv > f->hi)
      return fail(v, "must be at most %.0f", f->hi);
    return true;
  case T_NUMBER: {
    double d;
    if (val->type != SB_JSON_NUMBER || sb_json_double(val, &d) != SB_OK)
      return fail(v, "must be a number");
    if (d < f->lo || d > f->hi)
      return fail(v, "must be between %g and %g", f->lo, f->hi);
    return true;
  }
  case T_OBJECT:
    if (!sb_json_is(val, SB_JSON_OBJECT))
      return fail(v, "must be an object");
    return f->check == NULL || f->check(v, val);
  case T_ARRAY: {
    if (!sb_json_is(val, SB_JSON_ARRAY))
      return fail(v, "must be an array");
    size_t i = 0;
    for (const sb_json_t *e = val->child; e != NULL && f->check != NULL;
         e = e->next, i++) {
      size_t mark = push_index(v, i);
      if (!f->check(v, e))
        return false;
      pop(v, mark);
    }
    return true;
  }
  default:
    return f->check(v, val);
  }
}

/* The members `fields` names, in the object `obj` (which is one). */
static bool check_fields(vc_t *v, const sb_json_t *obj, const field_t *fields,
                         size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const field_t *f = &fields[i];
    const sb_json_t *val = sb_json_getn(obj, f->name, strlen(f->name));
    bool absent = val == NULL;
    if (absent ? (f->flags & REQ) == 0
               : val->type == SB_JSON_NULL && (f->flags & NUL))
      continue;
    size_t mark = push_key(v, f->name);
    if (absent)
      return fail(v, "required");
    if (!check_value(v, f, val))
      return false;
    pop(v, mark);
  }
  return true;
}

#define FIELDS(v, obj, arr) check_fields(v, obj, arr, SB_ARRAY_LEN(arr))

static bool check_object(vc_t *v, const sb_json_t *val)
{
  return sb_json_is(val, SB_JSON_OBJECT) || fail(v, "must be an object");
}

static bool check_string(vc_t *v, const sb_json_t *val)
{
  return is_str(val) || fail(v, "must be a string");
}

/* An object with a string `type`, its other members unchecked. */
static bool check_typed(vc_t *v, const sb_json_t *val)
{
  static const field_t f[] = {F_STR("type", REQ)};
  return check_object(v, val) && FIELDS(v, val, f);
}

/* ---- shared pieces --------------------------------------------------------- */

static const char *const ephemeral[] = {"ephemeral", NULL};
static const char *const ttls[] = {"5m", "1h", NULL};

static bool check_cache_control(vc_t *v, const sb_json_t *cc)
{
  static const field_t f[] = {F_ENUM("type", REQ, ephemeral),
                              F_ENUM("ttl", NUL, ttls)};
  return FIELDS(v, cc, f);
}

#define CACHE_CONTROL F_OBJ("cache_control", NUL, check_cache_control)

static bool check_citations_config(vc_t *v, const sb_json_t *c)
{
  static const field_t f[] = {F_BOOL("enabled", NUL)};
  return FIELDS(v, c, f);
}

static bool check_json_format(vc_t *v, const sb_json_t *fmt)
{
  static const char *const types[] = {"json_schema", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, types),
                              F_OBJ("schema", REQ, NULL)};
  return FIELDS(v, fmt, f);
}

static const char *const efforts[] = {"low", "medium", "high", "xhigh", "max",
                                      NULL};

/* ---- content blocks --------------------------------------------------------- */

static bool check_block(vc_t *v, const sb_json_t *b);

/* Objects whose `type` picks their members: one variant per type. */
typedef struct {
  const char *type;
  const field_t *fields;
  size_t n;
} variant_t;
#define VARIANT(name, fields) {name, fields, SB_ARRAY_LEN(fields)}

/* The variant `obj`'s type names (a string `type` is checked already), or
 * NULL. */
static const variant_t *variant_of(const sb_json_t *obj, const variant_t *vs,
                                   size_t n)
{
  const sb_json_t *type = sb_json_get(obj, "type");
  for (size_t i = 0; i < n; i++)
    if (sb_json_str_eq(type, vs[i].type, strlen(vs[i].type)))
      return &vs[i];
  return NULL;
}

/* A source: `type` one of the variants', then that variant's members. */
static bool check_source(vc_t *v, const sb_json_t *src, const variant_t *vs,
                         size_t n)
{
  const char *types[8];
  size_t k = 0;
  for (; k < n && k + 1 < SB_ARRAY_LEN(types); k++)
    types[k] = vs[k].type;
  types[k] = NULL;
  const field_t kind[] = {F_ENUM("type", REQ, types)};
  if (!FIELDS(v, src, kind))
    return false;
  const variant_t *var = variant_of(src, vs, n);
  return check_fields(v, src, var->fields, var->n);
}

static const char *const image_media[] = {"image/jpeg", "image/png",
                                          "image/gif", "image/webp", NULL};
static const char *const pdf_media[] = {"application/pdf", NULL};
static const char *const text_media[] = {"text/plain", NULL};
static const field_t image_base64[] = {F_ENUM("media_type", REQ, image_media),
                                       F_STR("data", REQ)};
static const field_t pdf_base64[] = {F_ENUM("media_type", REQ, pdf_media),
                                     F_STR("data", REQ)};
static const field_t plain_text[] = {F_ENUM("media_type", REQ, text_media),
                                     F_STR("data", REQ)};
static const field_t url_source[] = {F_STR("url", REQ)};
static const field_t file_source[] = {F_STR("file_id", REQ)};

static bool check_image_source(vc_t *v, const sb_json_t *src)
{
  static const variant_t vs[] = {VARIANT("base64", image_base64),
                                 VARIANT("url", url_source),
                                 VARIANT("file", file_source)};
  return check_source(v, src, vs, SB_ARRAY_LEN(vs));
}

/* A string, or an array whose items `item` checks (`what` names them). */
static bool string_or_list(vc_t *v, const sb_json_t *c, check_fn item,
                           const char *what)
{
  const field_t as_array = F_ARR("", 0, item);
  if (is_str(c))
    return true;
  if (!sb_json_is(c, SB_JSON_ARRAY))
    return fail(v, "must be a string or an array of %s", what);
  return check_value(v, &as_array, c);
}

static bool check_block_list(vc_t *v, const sb_json_t *c)
{
  return string_or_list(v, c, check_block, "content blocks");
}

static bool check_doc_source(vc_t *v, const sb_json_t *src)
{
  static const field_t content[] = {
      F_CUSTOM("content", REQ, check_block_list)};
  static const variant_t vs[] = {
      VARIANT("base64", pdf_base64), VARIANT("text", plain_text),
      VARIANT("content", content), VARIANT("url", url_source),
      VARIANT("file", file_source)};
  return check_source(v, src, vs, SB_ARRAY_LEN(vs));
}

static bool check_text_block(vc_t *v, const sb_json_t *b)
{
  static const char *const text[] = {"text", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, text)};
  return check_object(v, b) && FIELDS(v, b, f) && check_block(v, b);
}

/* the top-level system prompt, an mcp_tool_result's content */
static bool check_text_list(vc_t *v, const sb_json_t *c)
{
  return string_or_list(v, c, check_text_block, "text blocks");
}

static const field_t text_block[] = {
    F_STR("text", REQ), CACHE_CONTROL, F_ARR("citations", NUL, check_object)};
static const field_t image_block[] = {
    F_OBJ("source", REQ, check_image_source), CACHE_CONTROL};
static const field_t document_block[] = {
    F_OBJ("source", REQ, check_doc_source), F_STR("title", NUL),
    F_STR("context", NUL), F_OBJ("citations", NUL, check_citations_config),
    CACHE_CONTROL};
static const field_t search_result_block[] = {
    F_ARR("content", REQ, check_text_block), F_STR("source", REQ),
    F_STR("title", REQ), F_OBJ("citations", NUL, check_citations_config),
    CACHE_CONTROL};
static const field_t thinking_block[] = {F_STR("thinking", REQ),
                                         F_STR("signature", REQ)};
static const field_t redacted_block[] = {F_STR("data", REQ)};
static const field_t tool_use_block[] = {
    F_STR("id", REQ), F_STR("name", REQ), F_OBJ("input", REQ, NULL),
    F_OBJ("caller", NUL, NULL), CACHE_CONTROL};
static const field_t tool_result_block[] = {
    F_STR("tool_use_id", REQ), F_CUSTOM("content", NUL, check_block_list),
    F_BOOL("is_error", NUL), CACHE_CONTROL};
static const field_t server_tool_use_block[] = {
    F_STR("id", REQ), F_STR("name", REQ), F_OBJ("input", REQ, NULL),
    CACHE_CONTROL};
static const field_t mcp_tool_use_block[] = {
    F_STR("id", REQ), F_STR("name", REQ), F_STR("server_name", REQ),
    F_OBJ("input", REQ, NULL), CACHE_CONTROL};
static const field_t mcp_tool_result_block[] = {
    F_STR("tool_use_id", REQ), F_CUSTOM("content", NUL, check_text_list),
    F_BOOL("is_error", NUL), CACHE_CONTROL};
static const field_t server_result_block[] = {F_STR("tool_use_id", REQ),
                                              CACHE_CONTROL};
static const field_t container_upload_block[] = {F_STR("file_id", REQ),
                                                 CACHE_CONTROL};
static const field_t compaction_block[] = {
    F_STR("content", NUL), F_STR("encrypted_content", NUL),
    F_STR("signature", NUL), CACHE_CONTROL};
static const field_t tool_reference_block[] = {F_STR("tool_name", REQ),
                                               CACHE_CONTROL};
static const field_t tool_change_block[] = {F_OBJ("tool", REQ, NULL),
                                            CACHE_CONTROL};
static const field_t mcp_listing_block[] = {F_STR("mcp_server_name", REQ),
                                            F_ARR("tools", REQ, check_object)};
static const field_t fallback_block[] = {F_OBJ("from", REQ, NULL),
                                         F_OBJ("to", REQ, NULL)};
static const field_t browser_state_block[] = {F_ARR("tabs", REQ, check_object),
                                              CACHE_CONTROL};

static const variant_t blocks[] = {
    VARIANT("text", text_block),
    VARIANT("image", image_block),
    VARIANT("document", document_block),
    VARIANT("search_result", search_result_block),
    VARIANT("thinking", thinking_block),
    VARIANT("redacted_thinking", redacted_block),
    VARIANT("tool_use", tool_use_block),
    VARIANT("tool_result", tool_result_block),
    VARIANT("server_tool_use", server_tool_use_block),
    VARIANT("mcp_tool_use", mcp_tool_use_block),
    VARIANT("mcp_tool_result", mcp_tool_result_block),
    VARIANT("container_upload", container_upload_block),
    VARIANT("compaction", compaction_block),
    VARIANT("tool_reference", tool_reference_block),
    VARIANT("tool_addition", tool_change_block),
    VARIANT("tool_removal", tool_change_block),
    VARIANT("mcp_tool_listing", mcp_listing_block),
    VARIANT("fallback", fallback_block),
    VARIANT("browser_state", browser_state_block),
};

static bool check_block(vc_t *v, const sb_json_t *b)
{
  if (!check_typed(v, b))
    return false;
  sb_slice_t type = sb_json_str_raw(sb_json_get(b, "type"));
  const variant_t *var = variant_of(b, blocks, SB_ARRAY_LEN(blocks));
  if (var != NULL)
    return check_fields(v, b, var->fields, var->n);
  /* web_search_tool_result, code_execution_tool_result, ...: the results
   * of Anthropic's server tools, a family that grows with its tools */
  static const char suffix[] = "_tool_result";
  if (type.len > sizeof(suffix) - 1 &&
      memcmp(type.ptr + type.len - (sizeof(suffix) - 1), suffix,
             sizeof(suffix) - 1) == 0)
    return FIELDS(v, b, server_result_block);
  return fail(v, "unknown content block type '%.*s'",
              (int)SB_MIN(type.len, 60), type.ptr);
}

/* ---- messages and system ---------------------------------------------------- */

/* A system message's blocks: text, tool_addition, tool_removal. */
static bool check_system_block(vc_t *v, const sb_json_t *b)
{
  static const char *const types[] = {"text", "tool_addition", "tool_removal",
                                      NULL};
  static const field_t f[] = {F_ENUM("type", REQ, types)};
  return check_object(v, b) && FIELDS(v, b, f) && check_block(v, b);
}

static bool check_system_content(vc_t *v, const sb_json_t *c)
{
  return string_or_list(v, c, check_system_block, "text blocks");
}

static bool check_message_output_config(vc_t *v, const sb_json_t *oc)
{
  static const field_t f[] = {F_ENUM("effort", NUL, efforts)};
  return FIELDS(v, oc, f);
}

static bool check_message(vc_t *v, const sb_json_t *m)
{
  static const char *const roles[] = {"user", "assistant", "system", NULL};
  static const char *const clear_at[] = {"next_user_message", "never", NULL};
  static const field_t f[] = {
      F_ENUM("role", REQ, roles), F_ENUM("clear_at", NUL, clear_at),
      F_OBJ("output_config", NUL, check_message_output_config)};
  /* a system message may carry only output_config */
  static const field_t system_content[] = {
      F_CUSTOM("content", NUL, check_system_content)};
  static const field_t content[] = {F_CUSTOM("content", REQ, check_block_list)};
  if (!check_object(v, m) || !FIELDS(v, m, f))
    return false;
  if (SB_JSON_STR_IS(sb_json_get(m, "role"), "system"))
    return FIELDS(v, m, system_content);
  return FIELDS(v, m, content);
}

static bool check_messages(vc_t *v, const sb_json_t *ms)
{
  static const field_t each[] = {F_ARR("", 0, check_message)};
  if (!sb_json_is(ms, SB_JSON_ARRAY))
    return fail(v, "must be an array");
  if (ms->count == 0)
    return fail(v, "at least one message is required");
  return check_value(v, &each[0], ms);
}

/* ---- tools ---------------------------------------------------------------- */

static bool check_tool_name(vc_t *v, const sb_json_t *name)
{
  sb_slice_t s = sb_json_str_raw(name);
  if (s.len < 1 || s.len > 128)
    return fail(v, "must have 1 to 128 characters");
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return fail(v, "may hold only letters, digits, '_' and '-'");
  }
  return true;
}

static bool check_input_schema(vc_t *v, const sb_json_t *s)
{
  static const char *const object[] = {"object", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, object),
                              F_OBJ("properties", NUL, NULL),
                              F_ARR("required", NUL, check_string)};
  return FIELDS(v, s, f);
}

static bool check_tool(vc_t *v, const sb_json_t *t)
{
  static const char *const custom[] = {"custom", NULL};
  static const field_t custom_tool[] = {
      F_ENUM("type", NUL, custom),
      F_STR("name", REQ),
      F_STR("description", NUL),
      F_OBJ("input_schema", REQ, check_input_schema),
      CACHE_CONTROL,
      F_BOOL("strict", NUL),
      F_BOOL("defer_loading", NUL),
      F_BOOL("eager_input_streaming", NUL),
      F_ARR("input_examples", NUL, check_object),
      F_ARR("allowed_callers", NUL, check_string)};
  static const field_t server_tool[] = {F_STR("type", REQ), F_STR("name", NUL),
                                        CACHE_CONTROL};
  if (!check_object(v, t))
    return false;
  const sb_json_t *type = sb_json_get(t, "type");
  if (type == NULL || type->type == SB_JSON_NULL ||
      SB_JSON_STR_IS(type, "custom")) {
    if (!FIELDS(v, t, custom_tool))
      return false;
    size_t mark = push_key(v, "name");
    if (!check_tool_name(v, sb_json_get(t, "name")))
      return false;
    pop(v, mark);
    return true;
  }
  /* a server tool: its type names the tool and its version */
  return FIELDS(v, t, server_tool);
}

static bool check_tool_choice(vc_t *v, const sb_json_t *tc)
{
  static const char *const types[] = {"auto", "any", "tool", "none", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, types), F_STR("name", NUL),
                              F_BOOL("disable_parallel_tool_use", NUL)};
  static const field_t named[] = {F_STR("name", REQ)};
  if (!FIELDS(v, tc, f))
    return false;
  return !SB_JSON_STR_IS(sb_json_get(tc, "type"), "tool") ||
         FIELDS(v, tc, named);
}

/* ---- thinking and the other request objects ------------------------------- */

static bool check_thinking(vc_t *v, const sb_json_t *th)
{
  static const char *const types[] = {"enabled", "disabled", "adaptive",
                                      "between_tools", NULL};
  static const char *const displays[] = {"summarized", "omitted", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, types),
                              F_INT("budget_tokens", NUL, 1024, NO_MAX),
                              F_ENUM("display", NUL, displays)};
  static const field_t enabled[] = {F_INT("budget_tokens", REQ, 1024, NO_MAX)};
  if (!FIELDS(v, th, f))
    return false;
  return !SB_JSON_STR_IS(sb_json_get(th, "type"), "enabled") ||
         FIELDS(v, th, enabled);
}

static bool check_task_budget(vc_t *v, const sb_json_t *tb)
{
  static const char *const tokens[] = {"tokens", NULL};
  static const field_t f[] = {F_ENUM("type", REQ, tokens),
                              F_INT("total", REQ, 0, NO_MAX),
                              F_INT("remaining", NUL, 0, NO_MAX)};
  return FIELDS(v, tb, f);
}

static bool check_output_config(vc_t *v, const sb_json_t *oc)
{
  static const field_t f[] = {F_ENUM("effort", NUL, efforts),
                              F_OBJ("format", NUL, check_json_format),
                              F_OBJ("task_budget", NUL, check_task_budget)};
  return FIELDS(v, oc, f);
}

static bool check_metadata(vc_t *v, const sb_json_t *md)
{
  static const field_t f[] = {F_STR("user_id", NUL)};
  return FIELDS(v, md, f);
}

static bool check_skill(vc_t *v, const sb_json_t *s)
{
  static const char *const types[] = {"anthropic", "custom", NULL};
  static const field_t f[] = {F_STR("skill_id", REQ), F_ENUM("type", REQ, types),
                              F_STR("version", NUL)};
  return check_object(v, s) && FIELDS(v, s, f);
}

/* a container id, or {id?, skills?} */
static bool check_container(vc_t *v, const sb_json_t *c)
{
  static const field_t f[] = {F_STR("id", NUL),
                              F_ARR("skills", NUL, check_skill)};
  if (is_str(c))
    return true;
  if (!sb_json_is(c, SB_JSON_OBJECT))
    return fail(v, "must be a string or an object");
  return FIELDS(v, c, f);
}

static bool check_context_management(vc_t *v, const sb_json_t *cm)
{
  static const field_t f[] = {F_ARR("edits", NUL, check_typed)};
  return FIELDS(v, cm, f);
}

static bool check_mcp_tool_configuration(vc_t *v, const sb_json_t *tc)
{
  static const field_t f[] = {F_ARR("allowed_tools", NUL, check_string),
                              F_BOOL("enabled", NUL)};
  return FIELDS(v, tc, f);
}

static bool check_mcp_server(vc_t *v, const sb_json_t *s)
{
  static const char *const url[] = {"url", NULL};
  static const field_t f[] = {
      F_STR("name", REQ), F_ENUM("type", REQ, url), F_STR("url", REQ),
      F_STR("authorization_token", NUL),
      F_OBJ("tool_configuration", NUL, check_mcp_tool_configuration)};
  return check_object(v, s) && FIELDS(v, s, f);
}

static bool check_diagnostics(vc_t *v, const sb_json_t *d)
{
  static const field_t f[] = {F_STR("previous_message_id", NUL)};
  return FIELDS(v, d, f);
}

/* a list of fallbacks, or "default" */
static bool check_fallbacks(vc_t *v, const sb_json_t *fb)
{
  if (SB_JSON_STR_IS(fb, "default") || sb_json_is(fb, SB_JSON_ARRAY))
    return true;
  return fail(v, "must be an array or 'default'");
}

/* a token, or {token, mode?} */
static bool check_credit_token(vc_t *v, const sb_json_t *t)
{
  static const char *const modes[] = {"strict", "best_effort", NULL};
  static const field_t f[] = {F_STR("token", REQ), F_ENUM("mode", NUL, modes)};
  if (is_str(t))
    return true;
  if (!sb_json_is(t, SB_JSON_OBJECT))
    return fail(v, "must be a string or an object");
  return FIELDS(v, t, f);
}

static const char *const tiers[] = {"auto", "standard_only", NULL};
static const char *const speeds[] = {"standard", "fast", NULL};

/* Every body member of the Messages API (beta members included), in the
 * reference's order; max_tokens is handled by the caller. */
static const field_t request[] = {
    F_STRLEN("model", REQ, 1, 256),
    F_CUSTOM("messages", REQ, check_messages),
    F_CUSTOM("system", NUL, check_text_list),
    F_NUM("temperature", NUL, 0, 1),
    F_NUM("top_p", NUL, 0, 1),
    F_INT("top_k", NUL, 0, NO_MAX),
    F_ARR("stop_sequences", NUL, check_string),
    F_BOOL("stream", NUL),
    F_ARR("tools", NUL, check_tool),
    F_OBJ("tool_choice", NUL, check_tool_choice),
    F_OBJ("metadata", NUL, check_metadata),
    F_OBJ("thinking", NUL, check_thinking),
    F_OBJ("output_config", NUL, check_output_config),
    F_OBJ("output_format", NUL, check_json_format),
    F_ENUM("service_tier", NUL, tiers),
    F_CUSTOM("container", NUL, check_container),
    F_OBJ("context_management", NUL, check_context_management),
    F_ARR("mcp_servers", NUL, check_mcp_server),
    F_OBJ("cache_control", NUL, check_cache_control),
    F_OBJ("diagnostics", NUL, check_diagnostics),
    F_STR("inference_geo", NUL),
    F_ENUM("speed", NUL, speeds),
    F_OBJ("compaction", NUL, check_typed),
    F_OBJ("thread", NUL, NULL),
    F_CUSTOM("fallbacks", NUL, check_fallbacks),
    F_OBJ("billing_policy", NUL, check_typed),
    F_CUSTOM("fallback_credit_token", NUL, check_credit_token),
};

sb_status_t sb_messages_validate(const sb_json_t *req, bool for_count,
                                 char *why, size_t whylen)
{
  vc_t v = {.why = why, .whylen = whylen};
  /* max_tokens: 0 is Anthropic's cache pre-warming; count_tokens takes
   * none */
  static const field_t max_tokens[] = {F_INT("max_tokens", REQ, 0, NO_MAX)};
  static const field_t max_tokens_opt[] = {F_INT("max_tokens", NUL, 0, NO_MAX)};
  why[0] = '\0';
  if (!sb_json_is(req, SB_JSON_OBJECT)) {
    fail(&v, "the body must be a JSON object");
    return SB_DECLINED;
  }
  bool ok = FIELDS(&v, req, request) &&
            (for_count ? FIELDS(&v, req, max_tokens_opt)
                       : FIELDS(&v, req, max_tokens));
  return ok ? SB_OK : SB_DECLINED;
}
