/*
 * POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages
 * API in front of any model of any provider.
 *
 * The request is translated into the OpenAI-shaped chat request every
 * codec takes (docs/messages.md has the full mapping), and the call's
 * OpenAI-shaped output is translated back: a `message` object, or the
 * Messages stream events (messages_stream.c). Thinking travels as
 * OpenRouter's `reasoning_details`, so signatures survive the round trip.
 *
 * Fast path: when the routed provider speaks the Messages API itself
 * (format "anthropic"), nothing is translated. The client's body goes
 * upstream with only `model` rewritten, and the response body or the
 * stream's events come back byte for byte while usage and the stop reason
 * are read from them (the call's build_request / take_response /
 * take_event hooks replace the codec for that call).
 */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "endpoint.h"
#include "switchboard/json_edit.h"

/* ---- errors ------------------------------------------------------------- */

const char *sb_anthropic_error_type(int status)
{
  switch (status) {
  case 400:
    return "invalid_request_error";
  case 401:
    return "authentication_error";
  case 402:
    return "billing_error";
  case 403:
    return "permission_error";
  case 404:
    return "not_found_error";
  case 408:
  case 504:
    return "timeout_error";
  case 413:
    return "request_too_large";
  case 429:
    return "rate_limit_error";
  case 529:
    return "overloaded_error";
  default:
    return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

sb_status_t sb_anthropic_error_body(sb_buf_t *b, const char *type,
                                    const char *msg, size_t n)
{
  sb_jw_t w;
  sb_jw_init(&w, b);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("error"));
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg, n);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- request: Anthropic Messages -> OpenAI chat ------------------------- */

typedef struct {
  sb_arena_t *a;
  sb_jw_t *w;
  char *why;
  size_t whylen;
} tx_t;

static sb_status_t bad(tx_t *t, const char *fmt, ...) SB_PRINTF(2, 3);
static sb_status_t bad(tx_t *t, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->why, t->whylen, fmt, ap);
  va_end(ap);
  return SB_DECLINED;
}

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

/* Block type as a short printable name for messages. */
static int type_len(const sb_json_t *type)
{
  return is_str(type) ? (int)SB_MIN(type->raw.len - 2, 60) : 0;
}
static const char *type_ptr(const sb_json_t *type)
{
  return is_str(type) ? type->raw.ptr + 1 : "";
}

/* {"type":"text","text":...,"cache_control"?} */
static sb_status_t text_part(tx_t *t, const sb_json_t *b, const char *where,
                             size_t i)
{
  const sb_json_t *text = sb_json_get(b, "text");
  if (!is_str(text))
    return bad(t, "%s: content block %zu: 'text' must be a string", where, i);
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("text"));
  sb_jw_key_lit(t->w, "text");
  sb_jw_value(t->w, text);
  const sb_json_t *cc = sb_json_get(b, "cache_control");
  if (sb_json_truthy(cc)) {
    sb_jw_key_lit(t->w, "cache_control");
    sb_jw_value(t->w, cc);
  }
  sb_jw_obj_end(t->w);
  return SB_OK;
}

/* A string value made of escaped pieces: "prefix" + raw contents... */
static void write_joined(sb_jw_t *w, sb_buf_t *tmp, const sb_slice_t *parts,
                         size_t n)
{
  sb_buf_reset(tmp);
  for (size_t i = 0; i < n; i++)
    if (sb_buf_append(tmp, parts[i].ptr, parts[i].len) != SB_OK) {
      w->status = SB_ERROR;
      return;
    }
  sb_jw_str_raw(w, tmp->data != NULL ? tmp->data : "", tmp->len);
}

/* Open an OpenAI image_url part ({"type":"image_url","image_url":{"url":)
 * or file part ({"type":"file","file":{"filename"?,"file_data":); the
 * caller writes the value and closes the inner object. A named file gets
 * `title`, or "document.pdf" without a string title. */
static void media_part_begin(tx_t *t, bool image, bool named,
                             const sb_json_t *title)
{
  sb_jw_obj_begin(t->w);
  if (image) {
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("image_url"));
    sb_jw_key_lit(t->w, "image_url");
    sb_jw_obj_begin(t->w);
    sb_jw_key_lit(t->w, "url");
    return;
  }
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("file"));
  sb_jw_key_lit(t->w, "file");
  sb_jw_obj_begin(t->w);
  if (named) {
    sb_jw_key_lit(t->w, "filename");
    if (is_str(title))
      sb_jw_value(t->w, title);
    else
      sb_jw_str_lit(t->w, "document.pdf");
  }
  sb_jw_key_lit(t->w, "file_data");
}

/* image / document blocks -> image_url / file parts */
static sb_status_t media_part(tx_t *t, const sb_json_t *b, bool image,
                              const char *where, size_t i)
{
  const sb_json_t *src = sb_json_get(b, "source");
  const sb_json_t *st = sb_json_get(src, "type");
  sb_buf_t tmp;
  sb_status_t rc = SB_OK;
  if (!sb_json_is(src, SB_JSON_OBJECT) || !is_str(st))
    return bad(t, "%s: content block %zu: 'source' must be an object with a "
                  "'type'", where, i);
  sb_buf_init(&tmp, t->w->buf->max != 0 ? t->w->buf->max : SIZE_MAX);
  if (SB_JSON_STR_IS(st, "base64")) {
    const sb_json_t *mt = sb_json_get(src, "media_type");
    const sb_json_t *data = sb_json_get(src, "data");
    if (!is_str(mt) || !is_str(data)) {
      rc = bad(t, "%s: content block %zu: a base64 source needs string "
                  "'media_type' and 'data'", where, i);
      goto out;
    }
    sb_slice_t parts[4] = {SB_SLICE_LIT("data:"), sb_json_str_raw(mt),
                           SB_SLICE_LIT(";base64,"), sb_json_str_raw(data)};
    media_part_begin(t, image, true, sb_json_get(b, "title"));
    write_joined(t->w, &tmp, parts, 4);
    sb_jw_obj_end(t->w);
  } else if (SB_JSON_STR_IS(st, "url")) {
    const sb_json_t *url = sb_json_get(src, "url");
    if (!is_str(url)) {
      rc = bad(t, "%s: content block %zu: a url source needs a string 'url'",
               where, i);
      goto out;
    }
    media_part_begin(t, image, false, NULL);
    sb_jw_value(t->w, url);
    sb_jw_obj_end(t->w);
  } else if (!image && SB_JSON_STR_IS(st, "text")) {
    const sb_json_t *data = sb_json_get(src, "data");
    if (!is_str(data)) {
      rc = bad(t, "%s: content block %zu: a text source needs a string "
                  "'data'", where, i);
      goto out;
    }
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("text"));
    sb_jw_key_lit(t->w, "text");
    sb_jw_value(t->w, data);
  } else {
    rc = bad(t, "%s: content block %zu: source type '%.*s' is not supported",
             where, i, type_len(st), type_ptr(st));
    goto out;
  }
  const sb_json_t *cc = sb_json_get(b, "cache_control");
  if (sb_json_truthy(cc)) {
    sb_jw_key_lit(t->w, "cache_control");
    sb_jw_value(t->w, cc);
  }
  sb_jw_obj_end(t->w);
out:
  sb_buf_free(&tmp);
  return rc;
}

/* system: a string, or text blocks (cache_control kept) */
static sb_status_t write_system(tx_t *t, const sb_json_t *sys)
{
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("system"));
  sb_jw_key_lit(t->w, "content");
  if (is_str(sys)) {
    sb_jw_value(t->w, sys);
  } else {
    sb_jw_arr_begin(t->w);
    size_t i = 0;
    for (const sb_json_t *b = sys->child; b != NULL; b = b->next, i++) {
      if (!SB_JSON_STR_IS(sb_json_get(b, "type"), "text"))
        return bad(t, "system: block %zu must be a text block", i);
      sb_status_t rc = text_part(t, b, "system", i);
      if (rc != SB_OK)
        return rc;
    }
    sb_jw_arr_end(t->w);
  }
  sb_jw_obj_end(t->w);
  return SB_OK;
}

static bool is_media(const sb_json_t *type)
{
  return SB_JSON_STR_IS(type, "image") || SB_JSON_STR_IS(type, "document");
}

/* One tool message per tool_result; returns whether `b` was one. The
 * result's text blocks are joined with newlines; is_error prefixes
 * "Error: " (OpenAI tool messages have no error flag). Images inside a
 * result go to the user message that follows. */
static sb_status_t tool_message(tx_t *t, const sb_json_t *b, const char *where,
                                size_t i, bool *has_media)
{
  const sb_json_t *id = sb_json_get(b, "tool_use_id");
  const sb_json_t *content = sb_json_get(b, "content");
  bool is_error = sb_json_is(sb_json_get(b, "is_error"), SB_JSON_TRUE);
  if (!is_str(id))
    return bad(t, "%s: content block %zu: 'tool_use_id' must be a string",
               where, i);
  sb_buf_t tmp;
  sb_buf_init(&tmp, t->w->buf->max != 0 ? t->w->buf->max : SIZE_MAX);
  if (is_error)
    sb_buf_append(&tmp, SB_STRLIT("Error: "));
  if (is_str(content)) {
    sb_buf_append_slice(&tmp, sb_json_str_raw(content));
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    bool first = true;
    size_t j = 0;
    for (const sb_json_t *p = content->child; p != NULL; p = p->next, j++) {
      const sb_json_t *pt = sb_json_get(p, "type");
      if (SB_JSON_STR_IS(pt, "text") && is_str(sb_json_get(p, "text"))) {
        if (!first)
          sb_buf_append(&tmp, SB_STRLIT("\\n"));
        sb_buf_append_slice(&tmp, sb_json_str_raw(sb_json_get(p, "text")));
        first = false;
      } else if (is_media(pt)) {
        *has_media = true;
      } else {
        sb_buf_free(&tmp);
        return bad(t, "%s: content block %zu: tool_result content block %zu "
                      "must be text, image or document", where, i, j);
      }
    }
  } else if (content != NULL && content->type != SB_JSON_NULL) {
    sb_buf_free(&tmp);
    return bad(t, "%s: content block %zu: tool_result 'content' must be a "
                  "string or an array of blocks", where, i);
  }
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("tool"));
  sb_jw_key_lit(t->w, "tool_call_id");
  sb_jw_value(t->w, id);
  sb_jw_key_lit(t->w, "content");
  sb_jw_str_raw(t->w, tmp.data != NULL ? tmp.data : "", tmp.len);
  sb_jw_obj_end(t->w);
  sb_buf_free(&tmp);
  return SB_OK;
}

static sb_status_t user_message(tx_t *t, const sb_json_t *content,
                                const char *where)
{
  if (is_str(content)) {
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("user"));
    sb_jw_key_lit(t->w, "content");
    sb_jw_value(t->w, content);
    sb_jw_obj_end(t->w);
    return SB_OK;
  }
  /* Tool results first (they must follow the assistant's tool calls), in
   * order; then one user message with everything else. */
  size_t others = 0, i = 0;
  bool result_media = false;
  sb_status_t rc;
  for (const sb_json_t *b = content->child; b != NULL; b = b->next, i++) {
    const sb_json_t *type = sb_json_get(b, "type");
    if (!sb_json_is(b, SB_JSON_OBJECT) || !is_str(type))
      return bad(t, "%s: content block %zu must be an object with a string "
                    "'type'", where, i);
    if (SB_JSON_STR_IS(type, "tool_result")) {
      if ((rc = tool_message(t, b, where, i, &result_media)) != SB_OK)
        return rc;
    } else if (SB_JSON_STR_IS(type, "text") || is_media(type)) {
      others++;
    } else {
      return bad(t, "%s: content block %zu: type '%.*s' is not supported in "
                    "a user message", where, i, type_len(type),
                 type_ptr(type));
    }
  }
  if (others == 0 && !result_media) {
    if (i == 0) { /* an empty content array */
      sb_jw_obj_begin(t->w);
      sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("user"));
      sb_jw_kv_str(t->w, SB_STRLIT("content"), SB_STRLIT(""));
      sb_jw_obj_end(t->w);
    }
    return SB_OK;
  }
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("user"));
  sb_jw_key_lit(t->w, "content");
  sb_jw_arr_begin(t->w);
  i = 0;
  for (const sb_json_t *b = content->child; b != NULL; b = b->next, i++) {
    const sb_json_t *type = sb_json_get(b, "type");
    if (SB_JSON_STR_IS(type, "text"))
      rc = text_part(t, b, where, i);
    else if (is_media(type))
      rc = media_part(t, b, SB_JSON_STR_IS(type, "image"), where, i);
    else if (SB_JSON_STR_IS(type, "tool_result") &&
             sb_json_is(sb_json_get(b, "content"), SB_JSON_ARRAY)) {
      rc = SB_OK;
      const sb_json_t *rcont = sb_json_get(b, "content");
      for (const sb_json_t *p = rcont->child; p != NULL && rc == SB_OK;
           p = p->next) {
        const sb_json_t *pt = sb_json_get(p, "type");
        if (is_media(pt))
          rc = media_part(t, p, SB_JSON_STR_IS(pt, "image"), where, i);
      }
    } else
      rc = SB_OK;
    if (rc != SB_OK)
      return rc;
  }
  sb_jw_arr_end(t->w);
  sb_jw_obj_end(t->w);
  return SB_OK;
}

#define RD_PREFIX "sb-rd:"

/* An Anthropic reasoning detail: {"type", `field`: value, "signature"?
 * (when a string), "format":"anthropic-claude-v1", "index"}. */
static void write_detail(sb_jw_t *w, const char *type, const char *field,
                         const sb_json_t *value, const sb_json_t *sig,
                         int64_t index)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_key(w, field, strlen(field));
  sb_jw_value(w, value);
  if (is_str(sig)) {
    sb_jw_key_lit(w, "signature");
    sb_jw_value(w, sig);
  }
  sb_jw_kv_str(w, SB_STRLIT("format"), SB_STRLIT("anthropic-claude-v1"));
  sb_jw_kv_int(w, SB_STRLIT("index"), index);
  sb_jw_obj_end(w);
}

static sb_status_t assistant_message(tx_t *t, const sb_json_t *content,
                                     const char *where)
{
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  if (is_str(content)) {
    sb_jw_key_lit(t->w, "content");
    sb_jw_value(t->w, content);
    sb_jw_obj_end(t->w);
    return SB_OK;
  }
  size_t n_text = 0, n_tools = 0, n_reason = 0, i = 0;
  for (const sb_json_t *b = content->child; b != NULL; b = b->next, i++) {
    const sb_json_t *type = sb_json_get(b, "type");
    if (!sb_json_is(b, SB_JSON_OBJECT) || !is_str(type))
      return bad(t, "%s: content block %zu must be an object with a string "
                    "'type'", where, i);
    if (SB_JSON_STR_IS(type, "text")) {
      if (!is_str(sb_json_get(b, "text")))
        return bad(t, "%s: content block %zu: 'text' must be a string", where,
                   i);
      n_text++;
    } else if (SB_JSON_STR_IS(type, "tool_use")) {
      if (!is_str(sb_json_get(b, "id")) || !is_str(sb_json_get(b, "name")))
        return bad(t, "%s: content block %zu: tool_use needs string 'id' and "
                      "'name'", where, i);
      const sb_json_t *input = sb_json_get(b, "input");
      if (input != NULL && !sb_json_is(input, SB_JSON_OBJECT))
        return bad(t, "%s: content block %zu: tool_use 'input' must be an "
                      "object", where, i);
      n_tools++;
    } else if (SB_JSON_STR_IS(type, "thinking")) {
      if (!is_str(sb_json_get(b, "thinking")))
        return bad(t, "%s: content block %zu: 'thinking' must be a string",
                   where, i);
      const sb_json_t *sig = sb_json_get(b, "signature");
      if (sig != NULL && !is_str(sig) && sig->type != SB_JSON_NULL)
        return bad(t, "%s: content block %zu: 'signature' must be a string",
                   where, i);
      n_reason++;
    } else if (SB_JSON_STR_IS(type, "redacted_thinking")) {
      if (!is_str(sb_json_get(b, "data")))
        return bad(t, "%s: content block %zu: 'data' must be a string", where,
                   i);
      n_reason++;
    } else {
      return bad(t, "%s: content block %zu: type '%.*s' is not supported in "
                    "an assistant message", where, i, type_len(type),
                 type_ptr(type));
    }
  }
  /* content: the text blocks joined; null beside tool calls when empty */
  sb_jw_key_lit(t->w, "content");
  if (n_text == 0 && n_tools > 0) {
    sb_jw_null(t->w);
  } else {
    sb_buf_t tmp;
    sb_buf_init(&tmp, t->w->buf->max != 0 ? t->w->buf->max : SIZE_MAX);
    for (const sb_json_t *b = content->child; b != NULL; b = b->next)
      if (SB_JSON_STR_IS(sb_json_get(b, "type"), "text"))
        sb_buf_append_slice(&tmp, sb_json_str_raw(sb_json_get(b, "text")));
    sb_jw_str_raw(t->w, tmp.data != NULL ? tmp.data : "", tmp.len);
    sb_buf_free(&tmp);
  }
  if (n_tools > 0) {
    sb_buf_t args;
    sb_jw_t aw;
    sb_buf_init(&args, t->w->buf->max != 0 ? t->w->buf->max : SIZE_MAX);
    sb_jw_key_lit(t->w, "tool_calls");
    sb_jw_arr_begin(t->w);
    for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
      if (!SB_JSON_STR_IS(sb_json_get(b, "type"), "tool_use"))
        continue;
      const sb_json_t *input = sb_json_get(b, "input");
      sb_jw_obj_begin(t->w);
      sb_jw_key_lit(t->w, "id");
      sb_jw_value(t->w, sb_json_get(b, "id"));
      sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("function"));
      sb_jw_key_lit(t->w, "function");
      sb_jw_obj_begin(t->w);
      sb_jw_key_lit(t->w, "name");
      sb_jw_value(t->w, sb_json_get(b, "name"));
      sb_jw_key_lit(t->w, "arguments");
      sb_buf_reset(&args);
      sb_jw_init(&aw, &args);
      if (input != NULL)
        sb_json_write_compact(&aw, input);
      else
        sb_jw_raw(&aw, SB_STRLIT("{}"));
      if (sb_jw_status(&aw) != SB_OK)
        t->w->status = SB_ERROR;
      sb_jw_str(t->w, args.data != NULL ? args.data : "", args.len);
      sb_jw_obj_end(t->w);
      sb_jw_obj_end(t->w);
    }
    sb_jw_arr_end(t->w);
    sb_buf_free(&args);
  }
  if (n_reason > 0) {
    int64_t idx = 0;
    sb_jw_key_lit(t->w, "reasoning_details");
    sb_jw_arr_begin(t->w);
    for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
      const sb_json_t *type = sb_json_get(b, "type");
      if (SB_JSON_STR_IS(type, "thinking")) {
        write_detail(t->w, "reasoning.text", "text", sb_json_get(b, "thinking"),
                     sb_json_get(b, "signature"), idx++);
      } else if (SB_JSON_STR_IS(type, "redacted_thinking")) {
        const sb_json_t *data = sb_json_get(b, "data");
        /* A reasoning detail of another format, carried opaquely by this
         * gateway (see messages_stream.c): restore it exactly. */
        sb_slice_t raw = sb_json_str_raw(data);
        sb_slice_t d;
        sb_json_t *obj;
        if (sb_slice_starts(raw, SB_STRLIT(RD_PREFIX)) &&
            sb_json_string(t->a, data, &d) == SB_OK &&
            sb_json_parse(t->a, d.ptr + 6, d.len - 6, 0, &obj, NULL) ==
                SB_OK &&
            obj->type == SB_JSON_OBJECT) {
          sb_json_write_compact(t->w, obj);
          idx++;
          continue;
        }
        write_detail(t->w, "reasoning.encrypted", "data", data, NULL, idx++);
      }
    }
    sb_jw_arr_end(t->w);
  }
  sb_jw_obj_end(t->w);
  return SB_OK;
}

static sb_status_t write_tools(tx_t *t, const sb_json_t *tools)
{
  size_t i = 0;
  sb_jw_key_lit(t->w, "tools");
  sb_jw_arr_begin(t->w);
  for (const sb_json_t *tl = tools->child; tl != NULL; tl = tl->next, i++) {
    if (!sb_json_is(tl, SB_JSON_OBJECT))
      return bad(t, "tools.%zu must be an object", i);
    const sb_json_t *type = sb_json_get(tl, "type");
    if (sb_json_truthy(type) && !SB_JSON_STR_IS(type, "custom"))
      return bad(t, "tools.%zu: tool type '%.*s' is not supported (only "
                    "custom tools with an input_schema)", i, type_len(type),
                 type_ptr(type));
    const sb_json_t *name = sb_json_get(tl, "name");
    const sb_json_t *desc = sb_json_get(tl, "description");
    const sb_json_t *schema = sb_json_get(tl, "input_schema");
    if (!is_str(name))
      return bad(t, "tools.%zu: 'name' must be a string", i);
    if (!sb_json_is(schema, SB_JSON_OBJECT))
      return bad(t, "tools.%zu: 'input_schema' must be an object", i);
    if (desc != NULL && !is_str(desc) && desc->type != SB_JSON_NULL)
      return bad(t, "tools.%zu: 'description' must be a string", i);
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(t->w, "function");
    sb_jw_obj_begin(t->w);
    sb_jw_key_lit(t->w, "name");
    sb_jw_value(t->w, name);
    if (is_str(desc)) {
      sb_jw_key_lit(t->w, "description");
      sb_jw_value(t->w, desc);
    }
    sb_jw_key_lit(t->w, "parameters");
    sb_jw_value(t->w, schema);
    sb_jw_obj_end(t->w);
    const sb_json_t *cc = sb_json_get(tl, "cache_control");
    if (sb_json_truthy(cc)) {
      sb_jw_key_lit(t->w, "cache_control");
      sb_jw_value(t->w, cc);
    }
    sb_jw_obj_end(t->w);
  }
  sb_jw_arr_end(t->w);
  return SB_OK;
}

static sb_status_t write_tool_choice(tx_t *t, const sb_json_t *tc)
{
  const sb_json_t *type = sb_json_get(tc, "type");
  if (!sb_json_is(tc, SB_JSON_OBJECT) || !is_str(type))
    return bad(t, "'tool_choice' must be an object with a 'type'");
  sb_jw_key_lit(t->w, "tool_choice");
  if (SB_JSON_STR_IS(type, "auto")) {
    sb_jw_str_lit(t->w, "auto");
  } else if (SB_JSON_STR_IS(type, "any")) {
    sb_jw_str_lit(t->w, "required");
  } else if (SB_JSON_STR_IS(type, "none")) {
    sb_jw_str_lit(t->w, "none");
  } else if (SB_JSON_STR_IS(type, "tool")) {
    const sb_json_t *name = sb_json_get(tc, "name");
    if (!is_str(name))
      return bad(t, "tool_choice: type 'tool' needs a string 'name'");
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(t->w, "function");
    sb_jw_obj_begin(t->w);
    sb_jw_key_lit(t->w, "name");
    sb_jw_value(t->w, name);
    sb_jw_obj_end(t->w);
    sb_jw_obj_end(t->w);
  } else {
    return bad(t, "tool_choice: unknown type '%.*s'", type_len(type),
               type_ptr(type));
  }
  if (sb_json_is(sb_json_get(tc, "disable_parallel_tool_use"), SB_JSON_TRUE) &&
      !SB_JSON_STR_IS(type, "none")) {
    sb_jw_key_lit(t->w, "parallel_tool_calls");
    sb_jw_bool(t->w, false);
  }
  return SB_OK;
}

static bool is_number(const sb_json_t *v) { return sb_json_is(v, SB_JSON_NUMBER); }

sb_status_t sb_messages_to_openai(sb_arena_t *a, const sb_json_t *req,
                                  bool for_count, sb_buf_t *out, char *why,
                                  size_t whylen)
{
  sb_jw_t w;
  tx_t t = {a, &w, why, whylen};
  sb_status_t rc;
  int64_t v;
  why[0] = '\0';
  if (!sb_json_is(req, SB_JSON_OBJECT))
    return bad(&t, "the body must be a JSON object");
  const sb_json_t *model = sb_json_get(req, "model");
  const sb_json_t *messages = sb_json_get(req, "messages");
  const sb_json_t *system = sb_json_get(req, "system");
  const sb_json_t *max_tokens = sb_json_get(req, "max_tokens");
  const sb_json_t *stop = sb_json_get(req, "stop_sequences");
  const sb_json_t *temperature = sb_json_get(req, "temperature");
  const sb_json_t *top_p = sb_json_get(req, "top_p");
  const sb_json_t *top_k = sb_json_get(req, "top_k");
  const sb_json_t *tools = sb_json_get(req, "tools");
  const sb_json_t *tool_choice = sb_json_get(req, "tool_choice");
  const sb_json_t *thinking = sb_json_get(req, "thinking");
  const sb_json_t *metadata = sb_json_get(req, "metadata");
  const sb_json_t *stream = sb_json_get(req, "stream");

  if (!is_str(model))
    return bad(&t, "model: a string is required");
  if (!sb_json_is(messages, SB_JSON_ARRAY) || messages->count == 0)
    return bad(&t, "messages: a non-empty array is required");
  if (!for_count || max_tokens != NULL) {
    if (sb_json_int64(max_tokens, &v) != SB_OK || v < 1)
      return bad(&t, "max_tokens: a positive integer is required");
  }
  if (system != NULL && system->type != SB_JSON_NULL && !is_str(system) &&
      !sb_json_is(system, SB_JSON_ARRAY))
    return bad(&t, "system: must be a string or an array of text blocks");
  if (stop != NULL && stop->type != SB_JSON_NULL) {
    if (!sb_json_is(stop, SB_JSON_ARRAY))
      return bad(&t, "stop_sequences: must be an array of strings");
    for (const sb_json_t *s = stop->child; s != NULL; s = s->next)
      if (!is_str(s))
        return bad(&t, "stop_sequences: must be an array of strings");
  }
  if (temperature != NULL && temperature->type != SB_JSON_NULL &&
      !is_number(temperature))
    return bad(&t, "temperature: must be a number");
  if (top_p != NULL && top_p->type != SB_JSON_NULL && !is_number(top_p))
    return bad(&t, "top_p: must be a number");
  if (top_k != NULL && top_k->type != SB_JSON_NULL &&
      (sb_json_int64(top_k, &v) != SB_OK || v < 0))
    return bad(&t, "top_k: must be a non-negative integer");
  if (stream != NULL && stream->type != SB_JSON_TRUE &&
      stream->type != SB_JSON_FALSE && stream->type != SB_JSON_NULL)
    return bad(&t, "stream: must be a boolean");
  if (tools != NULL && tools->type != SB_JSON_NULL &&
      !sb_json_is(tools, SB_JSON_ARRAY))
    return bad(&t, "tools: must be an array");
  if (metadata != NULL && metadata->type != SB_JSON_NULL &&
      !sb_json_is(metadata, SB_JSON_OBJECT))
    return bad(&t, "metadata: must be an object");
  const sb_json_t *budget = NULL;
  if (sb_json_truthy(thinking)) {
    const sb_json_t *tt = sb_json_get(thinking, "type");
    if (!sb_json_is(thinking, SB_JSON_OBJECT) || !is_str(tt))
      return bad(&t, "thinking: must be an object with a 'type'");
    if (SB_JSON_STR_IS(tt, "enabled")) {
      budget = sb_json_get(thinking, "budget_tokens");
      if (sb_json_int64(budget, &v) != SB_OK || v < 1)
        return bad(&t, "thinking.budget_tokens: a positive integer is "
                       "required");
    } else if (!SB_JSON_STR_IS(tt, "disabled")) {
      return bad(&t, "thinking.type: must be 'enabled' or 'disabled'");
    }
  }

  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "model");
  sb_jw_value(&w, model);
  sb_jw_key_lit(&w, "messages");
  sb_jw_arr_begin(&w);
  if (is_str(system) || sb_json_is(system, SB_JSON_ARRAY))
    if ((rc = write_system(&t, system)) != SB_OK)
      return rc;
  size_t i = 0;
  for (const sb_json_t *m = messages->child; m != NULL; m = m->next, i++) {
    char where[32];
    snprintf(where, sizeof(where), "messages.%zu", i);
    const sb_json_t *role = sb_json_get(m, "role");
    const sb_json_t *content = sb_json_get(m, "content");
    if (!sb_json_is(m, SB_JSON_OBJECT))
      return bad(&t, "%s: must be an object", where);
    if (!is_str(content) && !sb_json_is(content, SB_JSON_ARRAY))
      return bad(&t, "%s: 'content' must be a string or an array of blocks",
                 where);
    if (SB_JSON_STR_IS(role, "user"))
      rc = user_message(&t, content, where);
    else if (SB_JSON_STR_IS(role, "assistant"))
      rc = assistant_message(&t, content, where);
    else
      return bad(&t, "%s: 'role' must be 'user' or 'assistant'", where);
    if (rc != SB_OK)
      return rc;
  }
  sb_jw_arr_end(&w);
  if (max_tokens != NULL) {
    sb_jw_key_lit(&w, "max_tokens");
    sb_jw_value(&w, max_tokens);
  }
  if (sb_json_is(stop, SB_JSON_ARRAY) && stop->count > 0) {
    sb_jw_key_lit(&w, "stop");
    sb_jw_value(&w, stop);
  }
  if (is_number(temperature)) {
    sb_jw_key_lit(&w, "temperature");
    sb_jw_value(&w, temperature);
  }
  if (is_number(top_p)) {
    sb_jw_key_lit(&w, "top_p");
    sb_jw_value(&w, top_p);
  }
  if (is_number(top_k)) {
    sb_jw_key_lit(&w, "top_k");
    sb_jw_value(&w, top_k);
  }
  if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count > 0)
    if ((rc = write_tools(&t, tools)) != SB_OK)
      return rc;
  if (sb_json_truthy(tool_choice))
    if ((rc = write_tool_choice(&t, tool_choice)) != SB_OK)
      return rc;
  if (budget != NULL) {
    sb_jw_key_lit(&w, "reasoning");
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "max_tokens");
    sb_jw_value(&w, budget);
    sb_jw_obj_end(&w);
  }
  const sb_json_t *user = sb_json_get(metadata, "user_id");
  if (is_str(user)) {
    sb_jw_key_lit(&w, "user");
    sb_jw_value(&w, user);
  }
  if (sb_json_is(stream, SB_JSON_TRUE)) {
    sb_jw_key_lit(&w, "stream");
    sb_jw_bool(&w, true);
  }
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- count_tokens -------------------------------------------------------- */

/* An estimate, not a tokenizer: see docs/messages.md. */
#define IMAGE_TOKENS 1600
#define MESSAGE_OVERHEAD 3

static uint64_t text_bytes(const sb_json_t *v)
{
  /* Escaped length of string values, recursively: close enough to the
   * byte length for an estimate, and no allocation. */
  if (v == NULL)
    return 0;
  if (v->type == SB_JSON_STRING)
    return v->raw.len - 2;
  uint64_t n = 0;
  if (v->type == SB_JSON_ARRAY || v->type == SB_JSON_OBJECT)
    for (const sb_json_t *c = v->child; c != NULL; c = c->next)
      n += text_bytes(c);
  return n;
}

static void count_blocks(const sb_json_t *content, uint64_t *bytes,
                         uint64_t *images)
{
  if (sb_json_is(content, SB_JSON_STRING)) {
    *bytes += content->raw.len - 2;
    return;
  }
  if (!sb_json_is(content, SB_JSON_ARRAY))
    return;
  for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
    const sb_json_t *type = sb_json_get(b, "type");
    if (SB_JSON_STR_IS(type, "text"))
      *bytes += text_bytes(sb_json_get(b, "text"));
    else if (SB_JSON_STR_IS(type, "thinking"))
      *bytes += text_bytes(sb_json_get(b, "thinking"));
    else if (SB_JSON_STR_IS(type, "image"))
      (*images)++;
    else if (SB_JSON_STR_IS(type, "document")) {
      const sb_json_t *data = sb_json_get(sb_json_get(b, "source"), "data");
      /* base64 PDFs: about one token per 3 bytes of decoded text would be
       * wild; count the text source only and a page-sized flat rate */
      if (SB_JSON_STR_IS(sb_json_get(sb_json_get(b, "source"), "type"), "text"))
        *bytes += text_bytes(data);
      else
        (*images)++;
    } else if (SB_JSON_STR_IS(type, "tool_use")) {
      const sb_json_t *in = sb_json_get(b, "input");
      *bytes += text_bytes(sb_json_get(b, "name"));
      if (in != NULL)
        *bytes += in->raw.len;
    } else if (SB_JSON_STR_IS(type, "tool_result")) {
      count_blocks(sb_json_get(b, "content"), bytes, images);
    }
  }
}

uint64_t sb_messages_estimate_tokens(const sb_json_t *req)
{
  uint64_t bytes = 0, images = 0, messages = 0;
  const sb_json_t *sys = sb_json_get(req, "system");
  if (sb_json_is(sys, SB_JSON_STRING))
    bytes += sys->raw.len - 2;
  else
    count_blocks(sys, &bytes, &images);
  const sb_json_t *ms = sb_json_get(req, "messages");
  if (sb_json_is(ms, SB_JSON_ARRAY))
    for (const sb_json_t *m = ms->child; m != NULL; m = m->next, messages++)
      count_blocks(sb_json_get(m, "content"), &bytes, &images);
  const sb_json_t *tools = sb_json_get(req, "tools");
  if (sb_json_is(tools, SB_JSON_ARRAY))
    for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
      const sb_json_t *schema = sb_json_get(t, "input_schema");
      bytes += text_bytes(sb_json_get(t, "name")) +
               text_bytes(sb_json_get(t, "description"));
      if (schema != NULL)
        bytes += schema->raw.len;
    }
  return (bytes + 3) / 4 + messages * MESSAGE_OVERHEAD + images * IMAGE_TOKENS;
}

/* ---- response: OpenAI chat.completion -> Anthropic message ------------- */

const char *sb_messages_stop_reason(sb_slice_t finish, sb_slice_t native)
{
  static const char *const anthropic[] = {"end_turn", "max_tokens",
                                          "stop_sequence", "tool_use",
                                          "pause_turn", "refusal"};
  for (size_t i = 0; i < SB_ARRAY_LEN(anthropic); i++)
    if (sb_slice_eq(native, sb_slice_z(anthropic[i])))
      return anthropic[i];
  if (SB_SLICE_IS(finish, "length"))
    return "max_tokens";
  if (SB_SLICE_IS(finish, "tool_calls") || SB_SLICE_IS(finish, "function_call"))
    return "tool_use";
  if (SB_SLICE_IS(finish, "content_filter"))
    return "refusal";
  return "end_turn";
}

void sb_messages_write_usage(sb_jw_t *w, const sb_usage_t *u)
{
  uint64_t cached = u->cached + u->cache_write;
  uint64_t input = u->prompt > cached ? u->prompt - cached : 0;
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("input_tokens"), (int64_t)input);
  sb_jw_kv_int(w, SB_STRLIT("cache_creation_input_tokens"),
               (int64_t)u->cache_write);
  sb_jw_kv_int(w, SB_STRLIT("cache_read_input_tokens"), (int64_t)u->cached);
  sb_jw_kv_int(w, SB_STRLIT("output_tokens"), (int64_t)u->completion);
  sb_jw_obj_end(w);
}

/* The tool input: the arguments parsed when they are a JSON object, else
 * {} (Anthropic's input is always an object). */
static void write_input(sb_arena_t *a, sb_jw_t *w, const sb_json_t *args)
{
  sb_slice_t text;
  sb_json_t *parsed;
  if (sb_json_is(args, SB_JSON_OBJECT)) {
    sb_jw_value(w, args);
    return;
  }
  if (is_str(args) && sb_json_string(a, args, &text) == SB_OK &&
      sb_json_parse(a, text.ptr, text.len, 0, &parsed, NULL) == SB_OK &&
      parsed->type == SB_JSON_OBJECT) {
    sb_jw_value(w, parsed);
    return;
  }
  sb_jw_raw(w, SB_STRLIT("{}"));
}

/* A reasoning detail this API cannot show natively, carried as a
 * redacted_thinking block whose data is RD_PREFIX + the detail's JSON. */
void sb_messages_opaque_detail(sb_jw_t *w, sb_buf_t *tmp, const sb_json_t *d)
{
  sb_jw_t dw;
  sb_buf_reset(tmp);
  sb_buf_append(tmp, SB_STRLIT(RD_PREFIX));
  sb_jw_init(&dw, tmp);
  sb_json_write_compact(&dw, d);
  if (sb_jw_status(&dw) != SB_OK)
    w->status = SB_ERROR;
  sb_jw_str(w, tmp->data != NULL ? tmp->data : "", tmp->len);
}

bool sb_messages_detail_native(const sb_json_t *d)
{
  const sb_json_t *fmt = sb_json_get(d, "format");
  return fmt == NULL || fmt->type == SB_JSON_NULL ||
         SB_JSON_STR_IS(fmt, "anthropic-claude-v1") ||
         SB_JSON_STR_IS(fmt, "unknown");
}

static void write_thinking(sb_jw_t *w, sb_buf_t *text, sb_slice_t sig)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("thinking"));
  sb_jw_key_lit(w, "thinking");
  sb_jw_str_raw(w, text->data != NULL ? text->data : "", text->len);
  sb_jw_key_lit(w, "signature");
  sb_jw_str_raw(w, sig.ptr != NULL ? sig.ptr : "", sig.len);
  sb_jw_obj_end(w);
}

static void write_reasoning_blocks(sb_jw_t *w, const sb_json_t *details,
                                   const sb_json_t *reasoning, size_t cap)
{
  sb_buf_t text;
  sb_buf_init(&text, cap);
  if (!sb_json_is(details, SB_JSON_ARRAY) || details->count == 0) {
    if (is_str(reasoning) && reasoning->raw.len > 2) {
      sb_buf_append_slice(&text, sb_json_str_raw(reasoning));
      write_thinking(w, &text, SB_NULL_SLICE);
    }
    sb_buf_free(&text);
    return;
  }
  /* Consecutive reasoning.text entries with the same index are one block
   * (text concatenated, the last signature kept). */
  bool open = false;
  const sb_json_t *open_index = NULL;
  sb_slice_t sig = SB_NULL_SLICE;
  for (const sb_json_t *d = details->child; d != NULL; d = d->next) {
    const sb_json_t *type = sb_json_get(d, "type");
    const sb_json_t *index = sb_json_get(d, "index");
    bool txt = SB_JSON_STR_IS(type, "reasoning.text") ||
               SB_JSON_STR_IS(type, "reasoning.summary");
    if (open && (!txt || index == NULL || open_index == NULL ||
                 !sb_slice_eq(index->raw, open_index->raw))) {
      write_thinking(w, &text, sig);
      open = false;
    }
    if (txt) {
      const sb_json_t *tx = SB_JSON_STR_IS(type, "reasoning.text")
                                ? sb_json_get(d, "text")
                                : sb_json_get(d, "summary");
      const sb_json_t *s = sb_json_get(d, "signature");
      if (!open) {
        sb_buf_reset(&text);
        sig = SB_NULL_SLICE;
        open = true;
        open_index = index;
      }
      if (is_str(tx))
        sb_buf_append_slice(&text, sb_json_str_raw(tx));
      if (is_str(s) && s->raw.len > 2)
        sig = sb_json_str_raw(s);
    } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("redacted_thinking"));
      sb_jw_key_lit(w, "data");
      const sb_json_t *data = sb_json_get(d, "data");
      if (sb_messages_detail_native(d) && is_str(data))
        sb_jw_value(w, data);
      else
        sb_messages_opaque_detail(w, &text, d);
      sb_jw_obj_end(w);
    }
  }
  if (open)
    write_thinking(w, &text, sig);
  sb_buf_free(&text);
}

sb_status_t sb_messages_from_openai(sb_arena_t *a, const sb_json_t *r,
                                    const sb_usage_t *u, sb_slice_t j_id,
                                    sb_slice_t j_model, sb_buf_t *out)
{
  const sb_json_t *choice = sb_json_at(sb_json_get(r, "choices"), 0);
  const sb_json_t *msg = sb_json_get(choice, "message");
  const sb_json_t *content = sb_json_get(msg, "content");
  const sb_json_t *refusal = sb_json_get(msg, "refusal");
  const sb_json_t *calls = sb_json_get(msg, "tool_calls");
  const sb_json_t *fr = sb_json_get(choice, "finish_reason");
  const sb_json_t *nat = sb_json_get(choice, "native_finish_reason");
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("id"), j_id.ptr, j_id.len);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("message"));
  sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  sb_jw_kv_raw(&w, SB_STRLIT("model"), j_model.ptr, j_model.len);
  sb_jw_key_lit(&w, "content");
  sb_jw_arr_begin(&w);
  write_reasoning_blocks(&w, sb_json_get(msg, "reasoning_details"),
                         sb_json_get(msg, "reasoning"),
                         out->max != 0 ? out->max : SIZE_MAX);
  if (is_str(content) && content->raw.len > 2) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
    sb_jw_key_lit(&w, "text");
    sb_jw_value(&w, content);
    sb_jw_obj_end(&w);
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      const sb_json_t *text = sb_json_get(p, "text");
      if (SB_JSON_STR_IS(sb_json_get(p, "type"), "text") && is_str(text)) {
        sb_jw_obj_begin(&w);
        sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
        sb_jw_key_lit(&w, "text");
        sb_jw_value(&w, text);
        sb_jw_obj_end(&w);
      }
    }
  } else if (is_str(refusal) && refusal->raw.len > 2) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
    sb_jw_key_lit(&w, "text");
    sb_jw_value(&w, refusal);
    sb_jw_obj_end(&w);
  }
  if (sb_json_is(calls, SB_JSON_ARRAY)) {
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
      const sb_json_t *id = sb_json_get(tc, "id");
      const sb_json_t *fn = sb_json_get(tc, "function");
      const sb_json_t *name = sb_json_get(fn, "name");
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("tool_use"));
      sb_jw_key_lit(&w, "id");
      if (is_str(id))
        sb_jw_value(&w, id);
      else
        sb_jw_str_lit(&w, "");
      sb_jw_key_lit(&w, "name");
      if (is_str(name))
        sb_jw_value(&w, name);
      else
        sb_jw_str_lit(&w, "");
      sb_jw_key_lit(&w, "input");
      write_input(a, &w, sb_json_get(fn, "arguments"));
      sb_jw_obj_end(&w);
    }
  }
  sb_jw_arr_end(&w);
  const char *sr = sb_messages_stop_reason(
      is_str(fr) ? sb_json_str_raw(fr) : SB_NULL_SLICE,
      is_str(nat) ? sb_json_str_raw(nat) : SB_NULL_SLICE);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), sr, strlen(sr));
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "usage");
  sb_messages_write_usage(&w, u);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- the sink ------------------------------------------------------------ */

/* The sink's state for one call. */
typedef struct {
  sb_msg_stream_t s;
  bool passthrough;         /* the provider speaks Messages: no translation */
  const sb_json_t *orig;    /* the client's Messages request */
  sb_slice_t version, beta; /* the client's anthropic-version / -beta */
  int64_t in, cache_read, cache_write, out; /* Anthropic usage, as read */
} msg_call_t;

/* "msg_" + the generation id, as a JSON string */
static sb_slice_t message_id(sb_call_t *c)
{
  const char *s = sb_arena_printf(c->arena, "\"msg_%s\"", c->id);
  return s != NULL ? sb_slice_z(s) : SB_SLICE_LIT("\"msg_\"");
}

static void messages_response(sb_call_t *c, sb_slice_t json)
{
  sb_arena_t a;
  sb_json_t *root;
  sb_buf_t b;
  sb_http_header_t h = sb_api_gen_header(c);
  msg_call_t *m = c->sink_data;
  if (m->passthrough) {
    sb_http_respond(c->x, 200, &h, 1, "application/json", json);
    return;
  }
  sb_arena_init(&a, 16 * 1024, 0);
  sb_buf_init(&b, 64u << 20);
  if (sb_json_parse(&a, json.ptr, json.len, 0, &root, NULL) != SB_OK ||
      sb_messages_from_openai(&a, root, &c->usage, message_id(c), c->j_model,
                              &b) != SB_OK) {
    sb_buf_reset(&b);
    const char *why = "the provider's response could not be translated";
    sb_anthropic_error_body(&b, "api_error", why, strlen(why));
    sb_http_respond(c->x, 502, &h, 1, "application/json", sb_buf_slice(&b));
  } else {
    sb_http_respond(c->x, 200, &h, 1, "application/json", sb_buf_slice(&b));
  }
  sb_buf_free(&b);
  sb_arena_destroy(&a);
}

static sb_status_t messages_stream_begin(sb_call_t *c)
{
  sb_http_header_t h[] = {
      sb_api_gen_header(c),
      {SB_SLICE_LIT("Cache-Control"), SB_SLICE_LIT("no-cache")},
      {SB_SLICE_LIT("X-Accel-Buffering"), SB_SLICE_LIT("no")},
  };
  sb_msg_stream_t *s = &((msg_call_t *)c->sink_data)->s;
  s->j_id = message_id(c);
  s->j_model = c->j_model;
  return sb_http_stream_begin(c->x, 200, "text/event-stream", h, 3);
}

static sb_status_t messages_stream_chunk(sb_call_t *c, sb_slice_t json)
{
  msg_call_t *m = c->sink_data;
  sb_msg_stream_t *s = &m->s;
  sb_json_t *root;
  if (m->passthrough && json.len > 0 && json.ptr[0] != '{')
    return sb_http_stream_write(c->x, &json, 1); /* upstream event bytes */
  if (sb_json_parse(&c->scratch, json.ptr, json.len, 0, &root, NULL) != SB_OK)
    return SB_OK; /* our own chunk: cannot happen */
  if (m->passthrough) {
    /* the call's closing chunks: only a failure matters (the error event
     * is written at the end) */
    sb_msg_stream_chunk(s, root);
    return SB_OK;
  }
  sb_buf_reset(&s->out);
  if (sb_msg_stream_chunk(s, root) != SB_OK)
    sb_msg_stream_fail(s, 502, SB_SLICE_LIT("a stream event is too large"));
  if (s->out.len == 0)
    return SB_OK;
  sb_slice_t part = sb_buf_slice(&s->out);
  return sb_http_stream_write(c->x, &part, 1);
}

static void messages_stream_end(sb_call_t *c)
{
  msg_call_t *m = c->sink_data;
  sb_msg_stream_t *s = &m->s;
  /* A pass-through stream already has its own ending, unless it failed. */
  if (!c->cancelled && (!m->passthrough || s->failed)) {
    sb_buf_reset(&s->out);
    sb_msg_stream_end(s, &c->usage);
    sb_slice_t part = sb_buf_slice(&s->out);
    if (part.len > 0)
      sb_http_stream_write(c->x, &part, 1);
  }
  sb_http_stream_end(c->x);
}

/* The client-facing status and Anthropic type for a call error. */
static void sb_messages_map_error(const sb_call_error_t *e, int *status,
                           const char **type)
{
  *status = e->status;
  bool overloaded =
      e->upstream_status == 529 || e->upstream_status == 503 ||
      (e->provider_body.len > 0 &&
       memmem(e->provider_body.ptr, e->provider_body.len,
              SB_STRLIT("overloaded_error")) != NULL);
  if (overloaded && e->status >= 500)
    *status = 529;
  *type = sb_anthropic_error_type(*status);
}

static void messages_error(sb_call_t *c, const sb_call_error_t *e)
{
  int status;
  const char *type;
  sb_buf_t b;
  sb_messages_map_error(e, &status, &type);
  sb_buf_init(&b, 64 * 1024);
  sb_anthropic_error_body(&b, type, e->message.ptr != NULL ? e->message.ptr : "",
                          e->message.len);
  sb_api_call_error_reply(c, status, e, sb_buf_slice(&b));
  sb_buf_free(&b);
}

static const sb_call_sink_t messages_sink = {
    .response = messages_response,
    .stream_begin = messages_stream_begin,
    .stream_chunk = messages_stream_chunk,
    .stream_end = messages_stream_end,
    .error = messages_error,
    .backlogged = sb_api_call_backlogged,
};

static void stream_cleanup(void *data) { sb_msg_stream_free(data); }

/* ---- the pass-through to Messages providers ------------------------------ */

static bool provider_has_header(const sb_provider_t *p, const char *name)
{
  for (size_t i = 0; i < p->n_headers; i++)
    if (strcasecmp(p->headers[i].name, name) == 0)
      return true;
  return false;
}

/* Anthropic usage -> the call's (prompt = every input token). */
static void note_usage(sb_call_t *c, msg_call_t *m, const sb_json_t *u)
{
  int64_t v;
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return;
  if (sb_json_int64(sb_json_get(u, "input_tokens"), &v) == SB_OK && v >= 0)
    m->in = v;
  if (sb_json_int64(sb_json_get(u, "cache_read_input_tokens"), &v) == SB_OK &&
      v >= 0)
    m->cache_read = v;
  if (sb_json_int64(sb_json_get(u, "cache_creation_input_tokens"), &v) ==
          SB_OK &&
      v >= 0)
    m->cache_write = v;
  if (sb_json_int64(sb_json_get(u, "output_tokens"), &v) == SB_OK && v >= 0)
    m->out = v;
  c->usage.prompt = (uint64_t)(m->in + m->cache_read + m->cache_write);
  c->usage.cached = (uint64_t)m->cache_read;
  c->usage.cache_write = (uint64_t)m->cache_write;
  c->usage.completion = (uint64_t)m->out;
  c->usage_known = true;
}

/* Anthropic stop_reason -> the canonical finish reason, native kept. */
static void note_stop(sb_call_t *c, const sb_json_t *sr)
{
  if (!sb_json_is(sr, SB_JSON_STRING))
    return;
  sb_slice_t v = sb_json_str_raw(sr);
  sb_slice_t fin = SB_SLICE_LIT("stop");
  if (SB_SLICE_IS(v, "max_tokens"))
    fin = SB_SLICE_LIT("length");
  else if (SB_SLICE_IS(v, "tool_use"))
    fin = SB_SLICE_LIT("tool_calls");
  else if (SB_SLICE_IS(v, "refusal"))
    fin = SB_SLICE_LIT("content_filter");
  sb_call_set_finish(c, fin, v);
}

static void passthrough_response(sb_call_t *c, sb_slice_t body)
{
  msg_call_t *m = c->sink_data;
  sb_json_t *root;
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider returned a response that is not a JSON object");
    return;
  }
  note_usage(c, m, sb_json_get(root, "usage"));
  note_stop(c, sb_json_get(root, "stop_reason"));
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);
  sb_call_respond(c, body);
}

static sb_status_t passthrough_event(sb_call_t *c, const sb_sse_event_t *ev)
{
  msg_call_t *m = c->sink_data;
  sb_json_t *root;
  if (!sb_call_event_root(c, ev->data, &root))
    return SB_ERROR;
  const sb_json_t *type = sb_json_get(root, "type");
  if (SB_JSON_STR_IS(type, "error")) {
    const sb_json_t *err = sb_json_get(root, "error");
    const sb_json_t *msg = sb_json_get(err, "message");
    bool overloaded = SB_JSON_STR_IS(sb_json_get(err, "type"), "overloaded_error");
    sb_call_stream_error(c, overloaded ? 529 : 502,
                         sb_json_is(msg, SB_JSON_STRING)
                             ? sb_json_str_raw(msg)
                             : SB_SLICE_LIT("the provider reported an error"));
    return SB_ERROR;
  }
  if (SB_JSON_STR_IS(type, "message_start"))
    note_usage(c, m, sb_json_get(sb_json_get(root, "message"), "usage"));
  else if (SB_JSON_STR_IS(type, "message_delta")) {
    note_usage(c, m, sb_json_get(root, "usage"));
    note_stop(c, sb_json_get(sb_json_get(root, "delta"), "stop_reason"));
    c->saw_finish = true;
  } else if (SB_JSON_STR_IS(type, "content_block_delta"))
    c->content_bytes += ev->data.len;
  /* the event as it came: `event:` (the stream's, else the data's type)
   * and `data:` */
  sb_slice_t name = ev->event.len > 0 ? ev->event
                    : sb_json_is(type, SB_JSON_STRING) ? sb_json_str_raw(type)
                                                       : SB_SLICE_LIT("message");
  sb_buf_reset(&c->out);
  if (sb_buf_append(&c->out, SB_STRLIT("event: ")) != SB_OK ||
      sb_buf_append_slice(&c->out, name) != SB_OK ||
      sb_buf_append(&c->out, SB_STRLIT("\ndata: ")) != SB_OK ||
      sb_buf_append_slice(&c->out, ev->data) != SB_OK ||
      sb_buf_append(&c->out, SB_STRLIT("\n\n")) != SB_OK) {
    sb_call_stream_error(c, 502, SB_SLICE_LIT("a stream event is too large"));
    return SB_ERROR;
  }
  if (sb_call_emit_chunk(c, sb_buf_slice(&c->out)) == SB_ERROR)
    return SB_ERROR;
  return SB_JSON_STR_IS(type, "message_stop") ? SB_DONE : SB_OK;
}

/* The call's request builder: the codec's, unless the provider speaks the
 * Messages API, in which case the client's body goes as it is. */
static sb_status_t messages_build(sb_call_t *c, sb_upstream_request_t *r)
{
  msg_call_t *m = c->sink_data;
  const sb_provider_t *p = c->route.provider;
  if (strcmp(p->format, "anthropic") != 0)
    return p->codec->chat_request(c, r);
  m->passthrough = true;
  m->s.started = true; /* the upstream writes message_start */
  c->take_response = passthrough_response;
  c->take_event = passthrough_event;

  sb_buf_reset(&c->up_body);
  sb_status_t rc = sb_api_up_body_with_model(c, m->orig);
  if (rc != SB_OK)
    return rc;
  /* base_url is the API root; one ending in /v1 is accepted too */
  size_t n = strlen(p->base_url);
  bool v1 = n >= 3 && strcmp(p->base_url + n - 3, "/v1") == 0;
  r->url = sb_arena_printf(c->arena, "%s%s/messages", p->base_url,
                           v1 ? "" : "/v1");
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept",
                   c->stream ? "text/event-stream" : "application/json");
  if (!provider_has_header(p, "anthropic-version"))
    sb_call_up_header(c, "anthropic-version",
                     m->version.len > 0
                         ? sb_arena_strndup(c->arena, m->version.ptr,
                                            SB_MIN(m->version.len, 64))
                         : "2023-06-01");
  if (m->beta.len > 0 && !provider_has_header(p, "anthropic-beta"))
    sb_call_up_header(c, "anthropic-beta",
                     sb_arena_strndup(c->arena, m->beta.ptr,
                                      SB_MIN(m->beta.len, 1024)));
  return sb_api_up_finish(c, r);
}

/* ---- the endpoints ------------------------------------------------------ */

/* Translate the client's request (sb_messages_to_openai); the OpenAI body
 * goes to `body` in the exchange's arena unless `body` is NULL. False: the
 * request is answered (400 with why, 413 with `too_large`). */
static bool translate(sb_http_exchange_t *x, const sb_json_t *req,
                      bool for_count, const char *too_large, sb_slice_t *body)
{
  char why[512];
  sb_buf_t b;
  sb_buf_init(&b, x->worker->gw->config->max_body_bytes + (1u << 20));
  sb_status_t rc = sb_messages_to_openai(&x->arena, req, for_count, &b, why,
                                         sizeof(why));
  if (rc == SB_OK && body != NULL)
    *body = sb_arena_slice_dup(&x->arena, sb_buf_slice(&b));
  sb_buf_free(&b);
  if (rc == SB_DECLINED)
    sb_api_anthropic_error(x, 400, "%s", why);
  else if (rc != SB_OK)
    sb_api_anthropic_error(x, 413, "%s", too_large);
  return rc == SB_OK;
}

void sb_api_messages(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *req = sb_api_parse_object(x, SB_API_ANTHROPIC);
  sb_slice_t body;
  if (req == NULL ||
      !translate(x, req, false, "the translated request is too large", &body))
    return;
  sb_json_t *oreq;
  if (body.ptr == NULL ||
      sb_json_parse(&x->arena, body.ptr, body.len, 0, &oreq, NULL) != SB_OK) {
    sb_api_anthropic_error(x, 500, "the request could not be translated");
    return;
  }
  msg_call_t *m = sb_arena_calloc(&x->arena, sizeof(*m));
  if (m == NULL) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  sb_msg_stream_init(&m->s);
  if (sb_arena_on_destroy(&x->arena, stream_cleanup, &m->s) != SB_OK) {
    sb_msg_stream_free(&m->s);
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  m->s.input_estimate = sb_messages_estimate_tokens(req);
  m->orig = req;
  m->version = SB_HTTP_HEADER(&x->req, "anthropic-version");
  m->beta = SB_HTTP_HEADER(&x->req, "anthropic-beta");
  sb_call_t *c = sb_call_new(x, &messages_sink, m);
  if (c == NULL) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  c->api = "messages";
  c->build_request = messages_build;
  c->req = oreq;
  c->req_raw = body;
  if (sb_json_string(&x->arena, sb_json_get(req, "model"),
                     &c->requested_model) != SB_OK) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  c->stream = sb_json_is(sb_json_get(req, "stream"), SB_JSON_TRUE);
  sb_api_attribute(x, who, c);
  sb_call_start(c);
}

void sb_api_messages_count_tokens(sb_http_exchange_t *x,
                                  const sb_identity_t *who)
{
  (void)who;
  sb_json_t *req = sb_api_parse_object(x, SB_API_ANTHROPIC);
  if (req == NULL || !translate(x, req, true, "the request is too large", NULL))
    return;
  sb_slice_t model;
  sb_route_t route;
  if (sb_json_string(&x->arena, sb_json_get(req, "model"), &model) != SB_OK) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  if (sb_route(x->worker->gw, model, &route) == SB_ROUTE_UNKNOWN_MODEL) {
    sb_api_anthropic_error(x, 404,
                           "model '%.*s' is not in the catalog and its prefix "
                           "names no configured provider",
                           (int)SB_MIN(model.len, 200), model.ptr);
    return;
  }
  char out[64];
  int n = snprintf(out, sizeof(out), "{\"input_tokens\":%llu}",
                   (unsigned long long)sb_messages_estimate_tokens(req));
  sb_http_header_t h = {SB_SLICE_LIT("X-Token-Count"), SB_SLICE_LIT("estimate")};
  sb_http_respond(x, 200, &h, 1, "application/json",
                  sb_slice(out, (size_t)n));
}
