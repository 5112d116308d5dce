/*
 * A Messages request -> the OpenAI-shaped chat request every codec takes,
 * and count_tokens' estimate.
 *
 * The request is validated first (messages_validate.c): what reaches the
 * translation has the API's shapes, so it only decides, member by member
 * and block by block, what is translated and what is left out because the
 * other formats have no equivalent. docs/messages.md lists both, with the
 * reasons. Nothing valid is refused here.
 *
 * Flags say what the target takes: SB_MSG_NO_REASONING (the catalog says
 * the model does not reason) leaves out `reasoning`; SB_MSG_PLAIN (an
 * OpenAI-compatible service without OpenRouter's extensions) leaves out
 * `cache_control` and the `reasoning_details` of earlier turns, which such
 * services refuse as unknown parameters.
 */
#include "switchboard/api.h"
#include "switchboard/json_edit.h"

typedef struct {
  sb_arena_t *a;
  sb_jw_t *w;
  unsigned flags;
} tx_t;

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

static bool type_is(const sb_json_t *b, const char *type)
{
  return sb_json_str_eq(sb_json_get(b, "type"), type, strlen(type));
}

static size_t cap_of(const tx_t *t)
{
  return t->w->buf->max != 0 ? t->w->buf->max : SIZE_MAX;
}

static void cache_control(tx_t *t, const sb_json_t *b)
{
  const sb_json_t *cc = sb_json_get(b, "cache_control");
  if ((t->flags & SB_MSG_PLAIN) == 0 && sb_json_truthy(cc)) {
    sb_jw_key_lit(t->w, "cache_control");
    sb_jw_value(t->w, cc);
  }
}

/* {"type":"text","text":`text`,"cache_control"? (the block's)} */
static void text_part(tx_t *t, const sb_json_t *text, const sb_json_t *b)
{
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("text"));
  sb_jw_key_lit(t->w, "text");
  sb_jw_value(t->w, text);
  cache_control(t, b);
  sb_jw_obj_end(t->w);
}

/* A base64 source as a data: URL string (escaped pieces joined). */
static void data_url(tx_t *t, const sb_json_t *src)
{
  sb_slice_t parts[4] = {SB_SLICE_LIT("data:"),
                         sb_json_str_raw(sb_json_get(src, "media_type")),
                         SB_SLICE_LIT(";base64,"),
                         sb_json_str_raw(sb_json_get(src, "data"))};
  sb_buf_t tmp;
  sb_buf_init(&tmp, cap_of(t));
  for (size_t i = 0; i < SB_ARRAY_LEN(parts); i++)
    if (sb_buf_append(&tmp, parts[i].ptr, parts[i].len) != SB_OK)
      t->w->status = SB_ERROR;
  sb_jw_str_raw(t->w, tmp.data != NULL ? tmp.data : "", tmp.len);
  sb_buf_free(&tmp);
}

/* ---- user content -------------------------------------------------------- */

static void user_parts(tx_t *t, const sb_json_t *content);

/* image: base64 -> a data: URL, url -> the URL (image_url parts); a file
 * source (Anthropic's Files API) has no meaning elsewhere: left out. */
static void image_part(tx_t *t, const sb_json_t *b)
{
  const sb_json_t *src = sb_json_get(b, "source");
  if (!type_is(src, "base64") && !type_is(src, "url"))
    return;
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("image_url"));
  sb_jw_key_lit(t->w, "image_url");
  sb_jw_obj_begin(t->w);
  sb_jw_key_lit(t->w, "url");
  if (type_is(src, "url"))
    sb_jw_value(t->w, sb_json_get(src, "url"));
  else
    data_url(t, src);
  sb_jw_obj_end(t->w);
  cache_control(t, b);
  sb_jw_obj_end(t->w);
}

/* document: a PDF (base64 or URL) -> a file part, named by its title (else
 * "document.pdf" for data); a text source -> a text part; a content source
 * -> its blocks; a file source: left out, as for images. */
static void document_part(tx_t *t, const sb_json_t *b)
{
  const sb_json_t *src = sb_json_get(b, "source");
  if (type_is(src, "text")) {
    text_part(t, sb_json_get(src, "data"), b);
    return;
  }
  if (type_is(src, "content")) {
    user_parts(t, sb_json_get(src, "content"));
    return;
  }
  if (!type_is(src, "base64") && !type_is(src, "url"))
    return;
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("file"));
  sb_jw_key_lit(t->w, "file");
  sb_jw_obj_begin(t->w);
  if (type_is(src, "url")) {
    sb_jw_key_lit(t->w, "file_data");
    sb_jw_value(t->w, sb_json_get(src, "url"));
  } else {
    const sb_json_t *title = sb_json_get(b, "title");
    sb_jw_key_lit(t->w, "filename");
    if (is_str(title))
      sb_jw_value(t->w, title);
    else
      sb_jw_str_lit(t->w, "document.pdf");
    sb_jw_key_lit(t->w, "file_data");
    data_url(t, src);
  }
  sb_jw_obj_end(t->w);
  cache_control(t, b);
  sb_jw_obj_end(t->w);
}

/* The text of a search_result block: its title, source and texts, one per
 * line (escaped pieces appended to `out`). */
static void search_result_text(sb_buf_t *out, const sb_json_t *b)
{
  sb_buf_append_slice(out, sb_json_str_raw(sb_json_get(b, "title")));
  sb_buf_append(out, SB_STRLIT(" ("));
  sb_buf_append_slice(out, sb_json_str_raw(sb_json_get(b, "source")));
  sb_buf_append(out, SB_STRLIT(")"));
  const sb_json_t *content = sb_json_get(b, "content");
  for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
    sb_buf_append(out, SB_STRLIT("\\n"));
    sb_buf_append_slice(out, sb_json_str_raw(sb_json_get(p, "text")));
  }
}

static void search_result_part(tx_t *t, const sb_json_t *b)
{
  sb_buf_t text;
  sb_buf_init(&text, cap_of(t));
  search_result_text(&text, b);
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("text"));
  sb_jw_key_lit(t->w, "text");
  sb_jw_str_raw(t->w, text.data != NULL ? text.data : "", text.len);
  cache_control(t, b);
  sb_jw_obj_end(t->w);
  sb_buf_free(&text);
}

/* The parts a user block becomes; tool_result blocks are written apart
 * (as tool messages), except for their images and PDFs, which have no
 * place in a tool message and come here. What has no user-message form
 * (thinking, tool_use, server tools' blocks, container_upload, ...) is
 * left out. */
static void user_block(tx_t *t, const sb_json_t *b)
{
  if (type_is(b, "text"))
    text_part(t, sb_json_get(b, "text"), b);
  else if (type_is(b, "image"))
    image_part(t, b);
  else if (type_is(b, "document"))
    document_part(t, b);
  else if (type_is(b, "search_result"))
    search_result_part(t, b);
  else if (type_is(b, "compaction") && is_str(sb_json_get(b, "content")))
    text_part(t, sb_json_get(b, "content"), b);
  else if (type_is(b, "tool_result") &&
           sb_json_is(sb_json_get(b, "content"), SB_JSON_ARRAY)) {
    const sb_json_t *rc = sb_json_get(b, "content");
    for (const sb_json_t *p = rc->child; p != NULL; p = p->next)
      if (type_is(p, "image"))
        image_part(t, p);
      else if (type_is(p, "document") &&
               !type_is(sb_json_get(p, "source"), "text"))
        document_part(t, p);
  }
}

static void user_parts(tx_t *t, const sb_json_t *content)
{
  if (is_str(content)) {
    text_part(t, content, NULL);
    return;
  }
  for (const sb_json_t *b = content->child; b != NULL; b = b->next)
    user_block(t, b);
}

/* A tool_result -> a tool message. Its text (text blocks, search results,
 * text documents) is joined with newlines; is_error prefixes "Error: "
 * (OpenAI tool messages have no error flag). */
static void tool_message(tx_t *t, const sb_json_t *b)
{
  const sb_json_t *content = sb_json_get(b, "content");
  sb_buf_t text;
  sb_buf_init(&text, cap_of(t));
  if (sb_json_is(sb_json_get(b, "is_error"), SB_JSON_TRUE))
    sb_buf_append(&text, SB_STRLIT("Error: "));
  if (is_str(content)) {
    sb_buf_append_slice(&text, sb_json_str_raw(content));
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    bool first = true;
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      const sb_json_t *src = sb_json_get(p, "source");
      size_t before = text.len;
      if (!first)
        sb_buf_append(&text, SB_STRLIT("\\n"));
      if (type_is(p, "text"))
        sb_buf_append_slice(&text, sb_json_str_raw(sb_json_get(p, "text")));
      else if (type_is(p, "search_result"))
        search_result_text(&text, p);
      else if (type_is(p, "document") && type_is(src, "text"))
        sb_buf_append_slice(&text, sb_json_str_raw(sb_json_get(src, "data")));
      else {
        text.len = before; /* not text: nothing joined */
        continue;
      }
      first = false;
    }
  }
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("tool"));
  sb_jw_key_lit(t->w, "tool_call_id");
  sb_jw_value(t->w, sb_json_get(b, "tool_use_id"));
  sb_jw_key_lit(t->w, "content");
  sb_jw_str_raw(t->w, text.data != NULL ? text.data : "", text.len);
  sb_jw_obj_end(t->w);
  sb_buf_free(&text);
}

/* Tool results first, in order (they must follow the assistant's tool
 * calls), then one user message with everything else; an empty user
 * message when there is neither, so the turns keep alternating. */
static void user_message(tx_t *t, const sb_json_t *content)
{
  size_t results = 0;
  if (sb_json_is(content, SB_JSON_ARRAY))
    for (const sb_json_t *b = content->child; b != NULL; b = b->next)
      if (type_is(b, "tool_result")) {
        tool_message(t, b);
        results++;
      }
  if (is_str(content)) {
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("user"));
    sb_jw_key_lit(t->w, "content");
    sb_jw_value(t->w, content);
    sb_jw_obj_end(t->w);
    return;
  }
  sb_buf_t parts;
  sb_jw_t pw, *w = t->w;
  sb_buf_init(&parts, cap_of(t));
  sb_jw_init(&pw, &parts);
  t->w = &pw;
  sb_jw_arr_begin(&pw);
  user_parts(t, content);
  sb_jw_arr_end(&pw);
  t->w = w;
  if (sb_jw_status(&pw) != SB_OK)
    w->status = SB_ERROR;
  if (parts.len > 2 || results == 0) {
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("role"), SB_STRLIT("user"));
    if (parts.len > 2)
      sb_jw_kv_raw(w, SB_STRLIT("content"), parts.data, parts.len);
    else
      sb_jw_kv_str(w, SB_STRLIT("content"), SB_STRLIT(""));
    sb_jw_obj_end(w);
  }
  sb_buf_free(&parts);
}

/* ---- system -------------------------------------------------------------- */

/* The top-level system, or a system message in the conversation: a
 * `system` message at that place (the Gemini and Anthropic codecs gather
 * them into their system prompt). Only text blocks have a system-message
 * form (a system message's tool_addition / tool_removal blocks are left
 * out); one without text is left out. */
static void system_message(tx_t *t, const sb_json_t *content)
{
  size_t texts = 0;
  if (sb_json_is(content, SB_JSON_ARRAY))
    for (const sb_json_t *b = content->child; b != NULL; b = b->next)
      texts += type_is(b, "text");
  if (!is_str(content) && texts == 0)
    return;
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("system"));
  sb_jw_key_lit(t->w, "content");
  if (is_str(content)) {
    sb_jw_value(t->w, content);
  } else {
    sb_jw_arr_begin(t->w);
    for (const sb_json_t *b = content->child; b != NULL; b = b->next)
      if (type_is(b, "text"))
        text_part(t, sb_json_get(b, "text"), b);
    sb_jw_arr_end(t->w);
  }
  sb_jw_obj_end(t->w);
}

/* ---- assistant content ---------------------------------------------------- */

/* An Anthropic reasoning detail: {"type", `field`: value, "signature"?,
 * "format":"anthropic-claude-v1", "index"}. */
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

static void tool_calls(tx_t *t, const sb_json_t *content)
{
  sb_buf_t args;
  sb_jw_t aw;
  sb_buf_init(&args, cap_of(t));
  sb_jw_key_lit(t->w, "tool_calls");
  sb_jw_arr_begin(t->w);
  for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
    if (!type_is(b, "tool_use"))
      continue;
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
    sb_json_write_compact(&aw, sb_json_get(b, "input"));
    if (sb_jw_status(&aw) != SB_OK)
      t->w->status = SB_ERROR;
    sb_jw_str(t->w, args.data != NULL ? args.data : "", args.len);
    sb_jw_obj_end(t->w);
    sb_jw_obj_end(t->w);
  }
  sb_jw_arr_end(t->w);
  sb_buf_free(&args);
}

/* thinking / redacted_thinking -> reasoning_details, signatures kept */
static void reasoning_details(tx_t *t, const sb_json_t *content)
{
  int64_t idx = 0;
  sb_jw_key_lit(t->w, "reasoning_details");
  sb_jw_arr_begin(t->w);
  for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
    if (type_is(b, "thinking")) {
      write_detail(t->w, "reasoning.text", "text", sb_json_get(b, "thinking"),
                   sb_json_get(b, "signature"), idx++);
    } else if (type_is(b, "redacted_thinking")) {
      const sb_json_t *data = sb_json_get(b, "data");
      /* A reasoning detail of another format, carried opaquely by this
       * gateway (messages.c): restore it exactly. */
      sb_slice_t raw = sb_json_str_raw(data);
      size_t plen = sizeof(SB_MESSAGES_RD_PREFIX) - 1;
      sb_slice_t d;
      sb_json_t *obj;
      if (sb_slice_starts(raw, SB_MESSAGES_RD_PREFIX, plen) &&
          sb_json_string(t->a, data, &d) == SB_OK &&
          sb_json_parse(t->a, d.ptr + plen, d.len - plen, 0, &obj, NULL) ==
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

/* text (and a compaction summary) -> content, joined; tool_use ->
 * tool_calls; thinking -> reasoning_details. The blocks of Anthropic's
 * server tools (server_tool_use, *_tool_result, mcp_tool_use / _result)
 * record work Anthropic ran: no other provider can take them as calls,
 * so they are left out. */
static void assistant_message(tx_t *t, const sb_json_t *content)
{
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  if (is_str(content)) {
    sb_jw_key_lit(t->w, "content");
    sb_jw_value(t->w, content);
    sb_jw_obj_end(t->w);
    return;
  }
  size_t n_text = 0, n_tools = 0, n_reason = 0;
  sb_buf_t text;
  sb_buf_init(&text, cap_of(t));
  for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
    const sb_json_t *s = type_is(b, "text")         ? sb_json_get(b, "text")
                         : type_is(b, "compaction") ? sb_json_get(b, "content")
                                                    : NULL;
    if (is_str(s)) {
      sb_buf_append_slice(&text, sb_json_str_raw(s));
      n_text++;
    }
    n_tools += type_is(b, "tool_use");
    n_reason += type_is(b, "thinking") || type_is(b, "redacted_thinking");
  }
  /* content: null beside tool calls when there is no text */
  sb_jw_key_lit(t->w, "content");
  if (n_text == 0 && n_tools > 0)
    sb_jw_null(t->w);
  else
    sb_jw_str_raw(t->w, text.data != NULL ? text.data : "", text.len);
  sb_buf_free(&text);
  if (n_tools > 0)
    tool_calls(t, content);
  if (n_reason > 0 && (t->flags & SB_MSG_PLAIN) == 0)
    reasoning_details(t, content);
  sb_jw_obj_end(t->w);
}

/* ---- tools ----------------------------------------------------------------- */

static bool is_custom_tool(const sb_json_t *tl)
{
  const sb_json_t *type = sb_json_get(tl, "type");
  return type == NULL || type->type == SB_JSON_NULL ||
         SB_JSON_STR_IS(type, "custom");
}

/* Custom tools -> functions (cache_control kept). Server tools (web search,
 * bash, text editor, code execution, computer use, MCP toolsets, ...) run
 * on Anthropic's servers or need its client-side contracts: left out.
 * Returns how many were written. */
static size_t write_tools(tx_t *t, const sb_json_t *tools)
{
  size_t n = 0;
  if (!sb_json_is(tools, SB_JSON_ARRAY))
    return 0;
  for (const sb_json_t *tl = tools->child; tl != NULL; tl = tl->next) {
    if (!is_custom_tool(tl))
      continue;
    if (n++ == 0) {
      sb_jw_key_lit(t->w, "tools");
      sb_jw_arr_begin(t->w);
    }
    const sb_json_t *desc = sb_json_get(tl, "description");
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(t->w, "function");
    sb_jw_obj_begin(t->w);
    sb_jw_key_lit(t->w, "name");
    sb_jw_value(t->w, sb_json_get(tl, "name"));
    if (is_str(desc)) {
      sb_jw_key_lit(t->w, "description");
      sb_jw_value(t->w, desc);
    }
    sb_jw_key_lit(t->w, "parameters");
    sb_jw_value(t->w, sb_json_get(tl, "input_schema"));
    sb_jw_obj_end(t->w);
    cache_control(t, tl);
    sb_jw_obj_end(t->w);
  }
  if (n > 0)
    sb_jw_arr_end(t->w);
  return n;
}

static bool has_custom_tool(const sb_json_t *tools, const sb_json_t *name)
{
  for (const sb_json_t *tl = tools->child; tl != NULL; tl = tl->next)
    if (is_custom_tool(tl) &&
        sb_slice_eq(sb_json_get(tl, "name")->raw, name->raw))
      return true;
  return false;
}

/* auto / any / tool / none -> "auto" / "required" / the function / "none";
 * disable_parallel_tool_use -> parallel_tool_calls: false. Written only
 * beside tools; a named tool that was left out (a server tool) leaves the
 * choice to the model. */
static void write_tool_choice(tx_t *t, const sb_json_t *tc,
                              const sb_json_t *tools)
{
  const sb_json_t *name = sb_json_get(tc, "name");
  if (type_is(tc, "tool") && !has_custom_tool(tools, name))
    return;
  sb_jw_key_lit(t->w, "tool_choice");
  if (type_is(tc, "any")) {
    sb_jw_str_lit(t->w, "required");
  } else if (type_is(tc, "none")) {
    sb_jw_str_lit(t->w, "none");
  } else if (type_is(tc, "tool")) {
    sb_jw_obj_begin(t->w);
    sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(t->w, "function");
    sb_jw_obj_begin(t->w);
    sb_jw_key_lit(t->w, "name");
    sb_jw_value(t->w, name);
    sb_jw_obj_end(t->w);
    sb_jw_obj_end(t->w);
  } else {
    sb_jw_str_lit(t->w, "auto");
  }
  if (sb_json_is(sb_json_get(tc, "disable_parallel_tool_use"), SB_JSON_TRUE) &&
      !type_is(tc, "none")) {
    sb_jw_key_lit(t->w, "parallel_tool_calls");
    sb_jw_bool(t->w, false);
  }
}

/* ---- thinking and output ----------------------------------------------------- */

/* thinking + output_config.effort -> OpenRouter's `reasoning`:
 * - enabled: {max_tokens: budget_tokens};
 * - adaptive or between_tools (the model decides how much), or no thinking
 *   but an effort: {effort} when output_config has one (xhigh and max are
 *   "high", the highest every reasoning API takes), else {enabled: true},
 *   the target's own default budget;
 * - disabled: nothing.
 * display "omitted" adds exclude: true (the thinking is not shown). */
static void write_reasoning(tx_t *t, const sb_json_t *req)
{
  const sb_json_t *th = sb_json_get(req, "thinking");
  const sb_json_t *effort =
      sb_json_get(sb_json_get(req, "output_config"), "effort");
  bool has_effort = is_str(effort);
  if ((t->flags & SB_MSG_NO_REASONING) || type_is(th, "disabled") ||
      (!sb_json_truthy(th) && !has_effort))
    return;
  sb_jw_key_lit(t->w, "reasoning");
  sb_jw_obj_begin(t->w);
  if (type_is(th, "enabled")) {
    sb_jw_key_lit(t->w, "max_tokens");
    sb_jw_value(t->w, sb_json_get(th, "budget_tokens"));
  } else if (has_effort) {
    sb_jw_key_lit(t->w, "effort");
    if (SB_JSON_STR_IS(effort, "low") || SB_JSON_STR_IS(effort, "medium"))
      sb_jw_value(t->w, effort);
    else
      sb_jw_str_lit(t->w, "high");
  } else {
    sb_jw_key_lit(t->w, "enabled");
    sb_jw_bool(t->w, true);
  }
  if (SB_JSON_STR_IS(sb_json_get(th, "display"), "omitted")) {
    sb_jw_key_lit(t->w, "exclude");
    sb_jw_bool(t->w, true);
  }
  sb_jw_obj_end(t->w);
}

/* output_config.format (or the older beta output_format), a JSON schema ->
 * response_format json_schema */
static void write_response_format(tx_t *t, const sb_json_t *req)
{
  const sb_json_t *fmt = sb_json_get(sb_json_get(req, "output_config"), "format");
  if (!sb_json_is(fmt, SB_JSON_OBJECT))
    fmt = sb_json_get(req, "output_format");
  if (!sb_json_is(fmt, SB_JSON_OBJECT))
    return;
  sb_jw_key_lit(t->w, "response_format");
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("type"), SB_STRLIT("json_schema"));
  sb_jw_key_lit(t->w, "json_schema");
  sb_jw_obj_begin(t->w);
  sb_jw_kv_str(t->w, SB_STRLIT("name"), SB_STRLIT("response"));
  sb_jw_key_lit(t->w, "schema");
  sb_jw_value(t->w, sb_json_get(fmt, "schema"));
  sb_jw_obj_end(t->w);
  sb_jw_obj_end(t->w);
}

/* ---- the request ------------------------------------------------------------- */

static void copy_if(sb_jw_t *w, const sb_json_t *req, const char *from,
                    const char *to, sb_json_type_t type)
{
  const sb_json_t *v = sb_json_getn(req, from, strlen(from));
  if (sb_json_is(v, type)) {
    sb_jw_key(w, to, strlen(to));
    sb_jw_value(w, v);
  }
}

sb_status_t sb_messages_to_openai(sb_arena_t *a, const sb_json_t *req,
                                  unsigned flags, sb_buf_t *out, char *why,
                                  size_t whylen)
{
  sb_status_t rc = sb_messages_validate(req, (flags & SB_MSG_FOR_COUNT) != 0,
                                        why, whylen);
  if (rc != SB_OK)
    return rc;
  sb_jw_t w;
  tx_t t = {a, &w, flags};
  const sb_json_t *system = sb_json_get(req, "system");
  const sb_json_t *stop = sb_json_get(req, "stop_sequences");
  const sb_json_t *tools = sb_json_get(req, "tools");
  const sb_json_t *tool_choice = sb_json_get(req, "tool_choice");

  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  copy_if(&w, req, "model", "model", SB_JSON_STRING);
  sb_jw_key_lit(&w, "messages");
  sb_jw_arr_begin(&w);
  if (is_str(system) || sb_json_is(system, SB_JSON_ARRAY))
    system_message(&t, system);
  const sb_json_t *messages = sb_json_get(req, "messages");
  for (const sb_json_t *m = messages->child; m != NULL; m = m->next) {
    const sb_json_t *role = sb_json_get(m, "role");
    const sb_json_t *content = sb_json_get(m, "content");
    if (SB_JSON_STR_IS(role, "user"))
      user_message(&t, content);
    else if (SB_JSON_STR_IS(role, "assistant"))
      assistant_message(&t, content);
    else if (content != NULL)
      system_message(&t, content);
  }
  sb_jw_arr_end(&w);
  copy_if(&w, req, "max_tokens", "max_tokens", SB_JSON_NUMBER);
  if (sb_json_is(stop, SB_JSON_ARRAY) && stop->count > 0) {
    sb_jw_key_lit(&w, "stop");
    sb_jw_value(&w, stop);
  }
  copy_if(&w, req, "temperature", "temperature", SB_JSON_NUMBER);
  copy_if(&w, req, "top_p", "top_p", SB_JSON_NUMBER);
  copy_if(&w, req, "top_k", "top_k", SB_JSON_NUMBER);
  if (write_tools(&t, tools) > 0 && sb_json_is(tool_choice, SB_JSON_OBJECT))
    write_tool_choice(&t, tool_choice, tools);
  write_reasoning(&t, req);
  write_response_format(&t, req);
  copy_if(&w, sb_json_get(req, "metadata"), "user_id", "user", SB_JSON_STRING);
  if (sb_json_is(sb_json_get(req, "stream"), SB_JSON_TRUE)) {
    sb_jw_key_lit(&w, "stream");
    sb_jw_bool(&w, true);
  }
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- count_tokens -------------------------------------------------------------- */

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
    const sb_json_t *src = sb_json_get(b, "source");
    if (type_is(b, "text"))
      *bytes += text_bytes(sb_json_get(b, "text"));
    else if (type_is(b, "thinking"))
      *bytes += text_bytes(sb_json_get(b, "thinking"));
    else if (type_is(b, "image"))
      (*images)++;
    else if (type_is(b, "document")) {
      /* a text source counts as text; a PDF at a page-sized flat rate */
      if (type_is(src, "text"))
        *bytes += text_bytes(sb_json_get(src, "data"));
      else if (type_is(src, "content"))
        count_blocks(sb_json_get(src, "content"), bytes, images);
      else
        (*images)++;
    } else if (type_is(b, "search_result")) {
      *bytes += text_bytes(sb_json_get(b, "content"));
    } else if (type_is(b, "tool_use")) {
      const sb_json_t *in = sb_json_get(b, "input");
      *bytes += text_bytes(sb_json_get(b, "name"));
      if (in != NULL)
        *bytes += in->raw.len;
    } else if (type_is(b, "tool_result")) {
      count_blocks(sb_json_get(b, "content"), bytes, images);
    }
  }
}

uint64_t sb_messages_estimate_tokens(const sb_json_t *req)
{
  uint64_t bytes = 0, images = 0, messages = 0;
  count_blocks(sb_json_get(req, "system"), &bytes, &images);
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
