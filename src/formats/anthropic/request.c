/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic format, provider side, request: the hub request becomes a
 * POST /v1/messages body.
 *
 * - system and developer messages, wherever they stand -> top-level
 *   `system` (one string when each is one plain text, else text blocks,
 *   which keep cache_control);
 * - consecutive messages of the same Anthropic role are merged (tool
 *   results are user content, so parallel results share one message);
 * - reasoning Anthropic made (a signed thinking block, redacted data) is
 *   replayed as thinking / redacted_thinking blocks; other formats'
 *   reasoning cannot be, and is left out;
 * - tool calls -> tool_use with the arguments as the `input` object;
 * - images: base64 data -> base64 sources, http(s) URLs -> url sources;
 * - max_tokens is always set (the request's, else the model's largest
 *   output, else 4096), and raised to make room for a thinking budget;
 * - response_format json_schema / json_object -> a forced tool
 *   (SB_ANTHROPIC_JSON_TOOL) whose input the decoder turns into text.
 * What cannot be expressed is refused, with a message that says why.
 *
 * The pass-through path (the client spoke the Messages API): its body goes
 * as it is with only `model` rewritten, with the client's headers and
 * query the door kept for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "anthropic.h"
#include "switchboard/json_edit.h"

#define DEFAULT_MAX_TOKENS 4096
#define MIN_THINKING_BUDGET 1024
#define MAX_EFFORT_BUDGET 32000
#define API_VERSION "2023-06-01"

enum { ROLE_NONE, ROLE_USER, ROLE_ASSISTANT };

typedef struct {
  const sb_hub_req_t *req;
  sb_arena_t *a;
  sb_jw_t *w;
  sb_codec_request_t *out;
  int role; /* the Anthropic message being written */
} rq_t;

static sb_status_t refuse(rq_t *q, const char *fmt, ...) SB_PRINTF(2, 3);
static sb_status_t refuse(rq_t *q, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  q->out->error = sb_arena_strndup(q->a, msg, strlen(msg));
  return SB_ERROR;
}

bool sb_anthropic_json_tool(const sb_hub_req_t *req, bool passthrough)
{
  return !passthrough && req->decoded &&
         (req->response_format == SB_HUB_FORMAT_JSON ||
          req->response_format == SB_HUB_FORMAT_JSON_SCHEMA);
}

static bool is_object(sb_slice_t json)
{
  return json.len > 0 && json.ptr[0] == '{';
}

/* ---- messages ----------------------------------------------------------- */

static void open_role(rq_t *q, int role)
{
  if (q->role == role || role == ROLE_NONE)
    return;
  if (q->role != ROLE_NONE) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_obj_begin(q->w);
  if (role == ROLE_USER)
    sb_jw_kv_lit(q->w, "role", "user");
  else
    sb_jw_kv_lit(q->w, "role", "assistant");
  sb_jw_key_lit(q->w, "content");
  sb_jw_arr_begin(q->w);
  q->role = role;
}

static void cache_control(rq_t *q, const sb_hub_block_t *b)
{
  if (is_object(b->cache_control))
    sb_jw_kv_raw(q->w, SB_STRLIT("cache_control"), b->cache_control.ptr,
                 b->cache_control.len);
}

/* {"type":"text","text":...}; empty text is left out (Anthropic refuses
 * empty text blocks). ROLE_NONE: written in place (a tool result's). */
static void text_block(rq_t *q, int role, const sb_hub_block_t *b)
{
  if (b->text.len == 0)
    return;
  open_role(q, role);
  sb_jw_obj_begin(q->w);
  sb_jw_kv_lit(q->w, "type", "text");
  sb_jw_key_lit(q->w, "text");
  sb_jw_str_raw(q->w, b->text.ptr, b->text.len);
  cache_control(q, b);
  sb_jw_obj_end(q->w);
}

/* Base64 data (or a media type) as jtext: its alphabet, and "\/" for a
 * slash escaped. Anything else is not an image's data. */
static bool base64_jtext(sb_slice_t s, const char *extra)
{
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
        (c != '\0' && strchr(extra, c) != NULL))
      continue;
    if (c == '\\' && i + 1 < s.len && s.ptr[i + 1] == '/') {
      i++;
      continue;
    }
    return false;
  }
  return true;
}

static sb_status_t image_block(rq_t *q, int role, const sb_hub_block_t *b)
{
  sb_slice_t url = SB_NULL_SLICE;
  if (b->data.len > 0 &&
      (!base64_jtext(b->data, "") || !base64_jtext(b->media_type, ".-")))
    return refuse(q, "image data URLs must be base64 "
                     "(data:<media type>;base64,<data>)");
  if (b->data.len == 0) {
    if (b->url.ptr == NULL || sb_hub_unescape(q->a, b->url, &url) != SB_OK)
      return refuse(q, "an image_url part has no url");
    if (sb_slice_starts(url, SB_STRLIT("data:")))
      return refuse(q, "image data URLs must be base64 "
                       "(data:<media type>;base64,<data>)");
    if (!sb_slice_starts(url, SB_STRLIT("https://")) &&
        !sb_slice_starts(url, SB_STRLIT("http://")))
      return refuse(q, "image URLs must be data: or http(s): URLs");
  }
  open_role(q, role);
  sb_jw_t *w = q->w;
  sb_jw_obj_begin(w);
  sb_jw_kv_lit(w, "type", "image");
  sb_jw_key_lit(w, "source");
  sb_jw_obj_begin(w);
  if (b->data.len > 0) {
    sb_jw_kv_lit(w, "type", "base64");
    sb_jw_key_lit(w, "media_type");
    sb_jw_str_raw(w, b->media_type.ptr, b->media_type.len);
    sb_jw_key_lit(w, "data");
    sb_jw_str_raw(w, b->data.ptr, b->data.len);
  } else {
    sb_jw_kv_lit(w, "type", "url");
    sb_jw_kv_str(w, SB_STRLIT("url"), url.ptr, url.len);
  }
  sb_jw_obj_end(w);
  cache_control(q, b);
  sb_jw_obj_end(w);
  return SB_OK;
}

/* A block that is this format's own (the Messages door's), as it came. */
static bool own_native(const sb_hub_block_t *b)
{
  return b->kind == SB_HUB_NATIVE && b->format != NULL &&
         strcmp(b->format, "anthropic") == 0 && b->native.len > 0;
}

static void native_block(rq_t *q, int role, const sb_hub_block_t *b)
{
  open_role(q, role);
  sb_jw_raw(q->w, b->native.ptr, b->native.len);
}

/* What a client called a content part the provider cannot take, as its
 * JSON string ("\"input_audio\""), in the arena. */
static const char *part_type(rq_t *q, const sb_hub_block_t *b)
{
  static const char *const kinds[] = {
      [SB_HUB_TEXT] = "text",           [SB_HUB_IMAGE] = "image_url",
      [SB_HUB_FILE] = "file",           [SB_HUB_AUDIO] = "input_audio",
      [SB_HUB_TOOL_CALL] = "tool_call", [SB_HUB_TOOL_RESULT] = "tool_result",
      [SB_HUB_REASONING] = "reasoning", [SB_HUB_REDACTED] = "reasoning",
  };
  if (b->kind == SB_HUB_NATIVE) {
    if (b->name.ptr == NULL)
      return "none";
    return sb_arena_printf(q->a, "\"%.*s\"", (int)SB_MIN(b->name.len, 38),
                           b->name.ptr);
  }
  const char *k = (size_t)b->kind < SB_ARRAY_LEN(kinds) ? kinds[b->kind] : NULL;
  return k != NULL ? sb_arena_printf(q->a, "\"%s\"", k) : "none";
}

/* One content part of a user message (of a tool result for ROLE_NONE:
 * written in place). */
static sb_status_t user_part(rq_t *q, int role, const sb_hub_block_t *b)
{
  if (b->kind == SB_HUB_TEXT) {
    text_block(q, role, b);
    return SB_OK;
  }
  if (b->kind == SB_HUB_IMAGE)
    return image_block(q, role, b);
  if (own_native(b)) {
    native_block(q, role, b);
    return SB_OK;
  }
  const char *type = part_type(q, b);
  return refuse(q,
                "content parts of type %s are not supported by the "
                "Anthropic provider (text and image_url are)",
                type != NULL ? type : "none");
}

static sb_status_t tool_result(rq_t *q, const sb_hub_block_t *b)
{
  if (b->kind != SB_HUB_TOOL_RESULT)
    return user_part(q, ROLE_USER, b);
  if (b->id.ptr == NULL)
    return refuse(q, "a tool message needs a tool_call_id");
  open_role(q, ROLE_USER);
  sb_jw_t *w = q->w;
  sb_jw_obj_begin(w);
  sb_jw_kv_lit(w, "type", "tool_result");
  sb_jw_key_lit(w, "tool_use_id");
  sb_jw_str_raw(w, b->id.ptr, b->id.len);
  if (b->text.len > 0) {
    sb_jw_key_lit(w, "content");
    sb_jw_str_raw(w, b->text.ptr, b->text.len);
  } else if (b->n_parts > 0) {
    sb_jw_key_lit(w, "content");
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < b->n_parts; i++)
      if (user_part(q, ROLE_NONE, &b->parts[i]) != SB_OK)
        return SB_ERROR;
    sb_jw_arr_end(w);
  }
  if (b->is_error)
    sb_jw_kv_raw(w, SB_STRLIT("is_error"), SB_STRLIT("true"));
  cache_control(q, b);
  sb_jw_obj_end(w);
  return SB_OK;
}

/* The tool call's arguments (the client's JSON text) as `input`: an
 * object, "{}" when empty. */
static sb_status_t tool_use(rq_t *q, const sb_hub_block_t *b)
{
  if (b->id.ptr == NULL || b->name.ptr == NULL)
    return refuse(q, "an assistant tool call needs an id and a function name");
  sb_slice_t input = sb_slice_trim(b->args);
  sb_json_error_t e;
  if (input.len == 0)
    input = SB_SLICE_LIT("{}");
  else if (input.ptr[0] != '{' ||
           sb_json_validate(input.ptr, input.len, 0, &e) != SB_OK)
    return refuse(q,
                  "the arguments of tool call \"%.*s\" are not a JSON "
                  "object; the Anthropic provider needs one",
                  (int)SB_MIN(b->id.len, 80), b->id.ptr);
  open_role(q, ROLE_ASSISTANT);
  sb_jw_obj_begin(q->w);
  sb_jw_kv_lit(q->w, "type", "tool_use");
  sb_jw_key_lit(q->w, "id");
  sb_jw_str_raw(q->w, b->id.ptr, b->id.len);
  sb_jw_key_lit(q->w, "name");
  sb_jw_str_raw(q->w, b->name.ptr, b->name.len);
  sb_jw_kv_raw(q->w, SB_STRLIT("input"), input.ptr, input.len);
  cache_control(q, b);
  sb_jw_obj_end(q->w);
  return SB_OK;
}

/* Anthropic's own reasoning, replayed; a thinking block needs its
 * signature. */
static void thinking_block(rq_t *q, const sb_hub_block_t *b)
{
  if (b->sig_format != SB_HUB_SIG_ANTHROPIC)
    return;
  if (b->kind == SB_HUB_REASONING) {
    if (b->signature.len == 0)
      return;
    open_role(q, ROLE_ASSISTANT);
    sb_jw_obj_begin(q->w);
    sb_jw_kv_lit(q->w, "type", "thinking");
    sb_jw_key_lit(q->w, "thinking");
    sb_jw_str_raw(q->w, b->text.ptr != NULL ? b->text.ptr : "", b->text.len);
    sb_jw_key_lit(q->w, "signature");
    sb_jw_str_raw(q->w, b->signature.ptr, b->signature.len);
    sb_jw_obj_end(q->w);
  } else if (b->data.ptr != NULL) {
    open_role(q, ROLE_ASSISTANT);
    sb_jw_obj_begin(q->w);
    sb_jw_kv_lit(q->w, "type", "redacted_thinking");
    sb_jw_key_lit(q->w, "data");
    sb_jw_str_raw(q->w, b->data.ptr, b->data.len);
    sb_jw_obj_end(q->w);
  }
}

static sb_status_t assistant_block(rq_t *q, const sb_hub_block_t *b)
{
  switch (b->kind) {
  case SB_HUB_TEXT:
    text_block(q, ROLE_ASSISTANT, b);
    return SB_OK;
  case SB_HUB_REASONING:
  case SB_HUB_REDACTED:
    thinking_block(q, b);
    return SB_OK;
  case SB_HUB_TOOL_CALL:
    return tool_use(q, b);
  case SB_HUB_NATIVE:
    if (own_native(b)) {
      native_block(q, ROLE_ASSISTANT, b);
      return SB_OK;
    }
    if (SB_SLICE_IS(b->name, "refusal"))
      return SB_OK; /* an earlier refusal: nothing to replay */
    break;
  default:
    break;
  }
  return refuse(q, "assistant content parts may only hold text for the "
                   "Anthropic provider");
}

static bool is_system(const sb_hub_msg_t *m)
{
  return m->role == SB_HUB_SYSTEM || m->role == SB_HUB_DEVELOPER;
}

/* `system`: one string when each system message is one plain text
 * (joined by a blank line), else text blocks (keeping cache_control). */
static sb_status_t write_system(rq_t *q)
{
  const sb_hub_req_t *r = q->req;
  bool any = false, plain = true;
  size_t total = 0;
  for (size_t i = 0; i < r->n_msgs; i++) {
    const sb_hub_msg_t *m = &r->msgs[i];
    if (!is_system(m))
      continue;
    any = true;
    for (size_t k = 0; k < m->n_blocks; k++)
      if (m->blocks[k].kind != SB_HUB_TEXT)
        return refuse(q, "system messages may only hold text");
    if (m->n_blocks != 1 || m->blocks[0].cache_control.len > 0)
      plain = false;
    else
      total += m->blocks[0].text.len + 4;
  }
  if (!any)
    return SB_OK;
  sb_jw_key_lit(q->w, "system");
  if (plain) {
    char *d = sb_arena_alloc(q->a, total + 1);
    size_t n = 0;
    if (d == NULL)
      return SB_ERROR;
    for (size_t i = 0; i < r->n_msgs; i++) {
      const sb_hub_msg_t *m = &r->msgs[i];
      if (!is_system(m))
        continue;
      if (n > 0) {
        memcpy(d + n, "\\n\\n", 4);
        n += 4;
      }
      memcpy(d + n, m->blocks[0].text.ptr, m->blocks[0].text.len);
      n += m->blocks[0].text.len;
    }
    sb_jw_str_raw(q->w, d, n);
    return SB_OK;
  }
  sb_jw_arr_begin(q->w);
  for (size_t i = 0; i < r->n_msgs; i++)
    if (is_system(&r->msgs[i]))
      for (size_t k = 0; k < r->msgs[i].n_blocks; k++)
        text_block(q, ROLE_NONE, &r->msgs[i].blocks[k]);
  sb_jw_arr_end(q->w);
  return SB_OK;
}

static sb_status_t write_messages(rq_t *q)
{
  const sb_hub_req_t *r = q->req;
  sb_jw_key_lit(q->w, "messages");
  sb_jw_arr_begin(q->w);
  for (size_t i = 0; i < r->n_msgs; i++) {
    const sb_hub_msg_t *m = &r->msgs[i];
    for (size_t k = 0; k < m->n_blocks; k++) {
      const sb_hub_block_t *b = &m->blocks[k];
      sb_status_t rc = SB_OK;
      if (m->role == SB_HUB_USER)
        rc = user_part(q, ROLE_USER, b);
      else if (m->role == SB_HUB_ASSISTANT)
        rc = assistant_block(q, b);
      else if (m->role == SB_HUB_TOOL)
        rc = tool_result(q, b);
      if (rc != SB_OK)
        return rc;
    }
  }
  if (q->role != ROLE_NONE) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_arr_end(q->w);
  return SB_OK;
}

/* ---- tools -------------------------------------------------------------- */

static bool own_tool(const sb_hub_tool_t *t)
{
  return t->kind == SB_HUB_TOOL_NATIVE && t->format != NULL &&
         strcmp(t->format, "anthropic") == 0 && t->native.len > 0;
}

/* Functions and Anthropic's own tools; the provider-run tools of other
 * formats (a Gemini client's googleSearch) are left out, and the gateway
 * names them in X-Switchboard-Dropped-Tools. */
static size_t tools_taken(const sb_hub_req_t *r)
{
  size_t n = 0;
  for (size_t i = 0; i < r->n_tools; i++)
    n += r->tools[i].kind == SB_HUB_TOOL_FUNCTION || own_tool(&r->tools[i]);
  return n;
}

static sb_status_t write_tools(rq_t *q)
{
  const sb_hub_req_t *r = q->req;
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < r->n_tools; i++) {
    const sb_hub_tool_t *t = &r->tools[i];
    if (own_tool(t)) {
      sb_jw_raw(w, t->native.ptr, t->native.len);
      continue;
    }
    if (t->kind != SB_HUB_TOOL_FUNCTION)
      continue;
    sb_jw_obj_begin(w);
    sb_jw_key_lit(w, "name");
    sb_jw_str_raw(w, t->name.ptr, t->name.len);
    if (t->description.ptr != NULL) {
      sb_jw_key_lit(w, "description");
      sb_jw_str_raw(w, t->description.ptr, t->description.len);
    }
    if (is_object(t->parameters))
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"), t->parameters.ptr,
                   t->parameters.len);
    else
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"),
                   SB_STRLIT("{\"type\":\"object\",\"properties\":{}}"));
    if (is_object(t->cache_control))
      sb_jw_kv_raw(w, SB_STRLIT("cache_control"), t->cache_control.ptr,
                   t->cache_control.len);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  return SB_OK;
}

static void write_tool_choice(rq_t *q)
{
  const sb_hub_req_t *r = q->req;
  bool no_parallel = r->parallel_tool_calls == 0;
  sb_jw_t *w = q->w;
  if (r->choice == SB_HUB_CHOICE_UNSET && !no_parallel)
    return;
  const char *type = r->choice == SB_HUB_CHOICE_NONE       ? "none"
                     : r->choice == SB_HUB_CHOICE_REQUIRED ? "any"
                     : r->choice == SB_HUB_CHOICE_TOOL     ? "tool"
                                                           : "auto";
  sb_jw_key_lit(w, "tool_choice");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  if (r->choice == SB_HUB_CHOICE_TOOL) {
    sb_jw_key_lit(w, "name");
    sb_jw_str_raw(w, r->choice_name.ptr, r->choice_name.len);
  }
  if (no_parallel && r->choice != SB_HUB_CHOICE_NONE)
    sb_jw_kv_raw(w, SB_STRLIT("disable_parallel_tool_use"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
}

/* The forced tool of a json response_format. */
static void write_json_tool(rq_t *q)
{
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("name"), SB_STRLIT(SB_ANTHROPIC_JSON_TOOL));
  sb_jw_kv_str(w, SB_STRLIT("description"),
               SB_STRLIT("Give the answer as this tool's input."));
  if (q->req->response_format == SB_HUB_FORMAT_JSON_SCHEMA)
    sb_jw_kv_raw(w, SB_STRLIT("input_schema"), q->req->schema.ptr,
                 q->req->schema.len);
  else
    sb_jw_kv_raw(w, SB_STRLIT("input_schema"),
                 SB_STRLIT("{\"type\":\"object\"}"));
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_kv_raw(
      w, SB_STRLIT("tool_choice"),
      SB_STRLIT("{\"type\":\"tool\",\"name\":\"" SB_ANTHROPIC_JSON_TOOL "\"}"));
}

/* ---- settings ----------------------------------------------------------- */

/* The thinking budget asked for: a budget of tokens as it is; an effort
 * (or reasoning merely switched on) as a share of max_tokens, between
 * 1024 and 32000. 0 = no thinking. */
static int64_t thinking_budget(const sb_hub_reasoning_t *r, int64_t max_tokens)
{
  if (r->enabled == 0 || r->effort == SB_HUB_EFFORT_NONE)
    return 0;
  if (r->budget > 0)
    return r->budget;
  int pct = 0;
  switch (r->effort) {
  case SB_HUB_EFFORT_HIGH:
  case SB_HUB_EFFORT_XHIGH:
    pct = 80;
    break;
  case SB_HUB_EFFORT_MEDIUM:
    pct = 50;
    break;
  case SB_HUB_EFFORT_LOW:
  case SB_HUB_EFFORT_MINIMAL:
    pct = 20;
    break;
  default:
    pct = r->enabled == 1 ? 50 : 0;
    break;
  }
  if (pct == 0)
    return 0;
  int64_t budget = SB_MIN(max_tokens * pct / 100, MAX_EFFORT_BUDGET);
  return SB_MAX(budget, MIN_THINKING_BUDGET);
}

/* A json_schema's schema must be an object schema: the forced tool's
 * input is an object. */
static bool object_schema(rq_t *q)
{
  sb_json_t *s;
  return is_object(q->req->schema) &&
         sb_json_parse(q->a, q->req->schema.ptr, q->req->schema.len, 0, &s,
                       NULL) == SB_OK &&
         SB_JSON_STR_IS(sb_json_get(s, "type"), "object");
}

static void numbers(rq_t *q)
{
  const sb_hub_req_t *r = q->req;
  const struct {
    const char *name;
    const sb_hub_num_t *v;
  } nums[] = {{"temperature", &r->temperature},
              {"top_p", &r->top_p},
              {"top_k", &r->top_k}};
  for (size_t i = 0; i < SB_ARRAY_LEN(nums); i++)
    if (nums[i].v->set)
      sb_jw_kv_raw(q->w, nums[i].name, strlen(nums[i].name), nums[i].v->raw.ptr,
                   nums[i].v->raw.len);
}

static sb_status_t write_body(rq_t *q, const sb_codec_route_t *route)
{
  const sb_hub_req_t *r = q->req;
  sb_jw_t *w = q->w;
  if (!r->decoded)
    return refuse(q, "the request was not decoded");
  if (r->n > 1)
    return refuse(q, "n > 1 is not supported by the Anthropic provider");
  bool json_tool = sb_anthropic_json_tool(r, false);
  if (r->response_format == SB_HUB_FORMAT_OTHER)
    return refuse(q, "response_format must be text, json_object or "
                     "json_schema");
  if (r->response_format == SB_HUB_FORMAT_JSON_SCHEMA && !object_schema(q))
    return refuse(q, "response_format json_schema needs a schema of type "
                     "object for the Anthropic provider");
  if (json_tool && r->n_tools > 0)
    return refuse(q, "response_format json_schema / json_object cannot be "
                     "combined with tools for the Anthropic provider");

  int64_t asked = r->max_tokens;
  if (asked < 0 || asked > SB_ANTHROPIC_MAX_TOKENS)
    return refuse(q, "max_tokens is out of range");
  int64_t max_tokens = asked > 0               ? asked
                       : route->max_output > 0 ? route->max_output
                                               : DEFAULT_MAX_TOKENS;
  int64_t budget = thinking_budget(&r->reasoning, max_tokens);
  if (budget < 0 || budget > SB_ANTHROPIC_MAX_TOKENS)
    return refuse(q, "the reasoning budget is out of range");
  if (budget > 0 && budget >= max_tokens) {
    if (asked > MIN_THINKING_BUDGET)
      budget = asked - 1;
    else if (asked > 0)
      return refuse(q,
                    "max_tokens must be above %d when reasoning is enabled "
                    "for an Anthropic model",
                    MIN_THINKING_BUDGET);
    else
      max_tokens = budget + DEFAULT_MAX_TOKENS;
  }
  if (json_tool && budget > 0)
    return refuse(q, "response_format json_schema / json_object cannot be "
                     "combined with reasoning for the Anthropic provider (it "
                     "does not force a tool while thinking)");

  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("model"), route->upstream_model.ptr,
               route->upstream_model.len);
  sb_jw_kv_int(w, SB_STRLIT("max_tokens"), max_tokens);
  if (write_system(q) != SB_OK || write_messages(q) != SB_OK)
    return SB_ERROR;
  if (json_tool) {
    write_json_tool(q);
  } else if (tools_taken(r) > 0) {
    if (write_tools(q) != SB_OK)
      return SB_ERROR;
    write_tool_choice(q);
  }
  if (r->n_stop > 0) {
    sb_jw_key_lit(w, "stop_sequences");
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < r->n_stop; i++)
      sb_jw_str_raw(w, r->stop[i].ptr, r->stop[i].len);
    sb_jw_arr_end(w);
  }
  numbers(q);
  if (r->user.ptr != NULL) {
    sb_jw_key_lit(w, "metadata");
    sb_jw_obj_begin(w);
    sb_jw_key_lit(w, "user_id");
    sb_jw_str_raw(w, r->user.ptr, r->user.len);
    sb_jw_obj_end(w);
  }
  if (budget > 0) {
    sb_jw_key_lit(w, "thinking");
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "type", "enabled");
    sb_jw_kv_int(w, SB_STRLIT("budget_tokens"), budget);
    sb_jw_obj_end(w);
  }
  if (r->stream)
    sb_jw_kv_raw(w, SB_STRLIT("stream"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
  return SB_OK;
}

/* The client's Messages body with only `model` rewritten. */
static sb_status_t passthrough_body(rq_t *q, const sb_codec_route_t *route)
{
  if (!sb_json_is(q->req->native, SB_JSON_OBJECT))
    return refuse(q, "the request body is not a JSON object");
  sb_slice_t model;
  if (sb_hub_escape(q->a, route->upstream_model.ptr, route->upstream_model.len,
                    &model) != SB_OK)
    return SB_ERROR;
  /* the escaped name between quotes: its JSON text */
  char *v = sb_arena_alloc(q->a, model.len + 2);
  if (v == NULL)
    return SB_ERROR;
  v[0] = '"';
  memcpy(v + 1, model.ptr, model.len);
  v[model.len + 1] = '"';
  sb_json_edit_t e[] = {{"model", 5, v, model.len + 2, SB_EDIT_MODE_SET}};
  sb_json_rewrite(q->w, q->req->native, e, 1);
  return SB_OK;
}

/* ---- the request -------------------------------------------------------- */

static bool provider_has_header(const sb_provider_t *p, const char *name)
{
  for (size_t i = 0; i < p->n_headers; i++)
    if (strcasecmp(p->headers[i].name, name) == 0)
      return true;
  return false;
}

/* base_url is the API root ("https://api.anthropic.com"); one that already
 * ends in /v1 is accepted too. */
static const char *messages_url(sb_arena_t *a, const char *base,
                                sb_slice_t query)
{
  size_t n = strlen(base);
  bool v1 = n >= 3 && strcmp(base + n - 3, "/v1") == 0;
  return sb_arena_printf(a, "%s%s/messages%s%.*s", base, v1 ? "" : "/v1",
                         query.len > 0 ? "?" : "", (int)query.len,
                         query.len > 0 ? query.ptr : "");
}

sb_status_t sb_anthropic_request(const sb_hub_req_t *req,
                                 const sb_codec_route_t *route,
                                 bool passthrough, sb_arena_t *a,
                                 sb_codec_request_t *out)
{
  sb_jw_t w;
  rq_t q = {req, a, &w, out, ROLE_NONE};
  const sb_provider_t *p = route->provider;
  sb_jw_init(&w, out->body);
  out->error = NULL;
  sb_status_t rc =
      passthrough ? passthrough_body(&q, route) : write_body(&q, route);
  if (rc != SB_OK) {
    if (out->error == NULL)
      out->error = "out of memory";
    return SB_ERROR;
  }
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  out->url = messages_url(a, p->base_url,
                          passthrough ? req->forward_query : SB_NULL_SLICE);
  if (out->url == NULL) {
    out->error = "out of memory";
    return SB_ERROR;
  }
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(
      out, "Accept", req->stream ? "text/event-stream" : "application/json");
  bool version = provider_has_header(p, "anthropic-version");
  if (passthrough)
    for (size_t i = 0; i < req->n_forward_headers; i++) {
      const sb_kv_t *h = &req->forward_headers[i];
      if (provider_has_header(p, h->name))
        continue;
      sb_codec_request_header(out, h->name, h->value);
      version = version || strcasecmp(h->name, "anthropic-version") == 0;
    }
  if (!version)
    sb_codec_request_header(out, "anthropic-version", API_VERSION);
  return SB_OK;
}
