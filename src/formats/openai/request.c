/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI chat format, provider side, request half: the upstream
 * request for every OpenAI-compatible service (OpenAI, OpenRouter, Groq,
 * Together, DeepSeek, Mistral, Fireworks, xAI, local servers).
 *
 * - Pass-through (the client spoke this format): the client's body, with
 *   `model` rewritten, `stream_options.include_usage` set on streams, and
 *   OpenRouter's own members removed for services that refuse unknown
 *   parameters (OpenRouter's `reasoning.effort` becomes their
 *   `reasoning_effort`); a key restricted to some models sends OpenRouter
 *   no `models`, which it would fall back to by itself.
 * - Translation (another door): a chat body written from the hub. What a
 *   plain service refuses is left out there too (cache_control, earlier
 *   turns' reasoning_details, `reasoning`), and a model the catalog says
 *   does not reason gets no reasoning settings.
 */
#include <stdio.h>
#include <strings.h>

#include "openai.h"
#include "switchboard/json_edit.h"

/* Members OpenRouter understands and plain OpenAI-compatible APIs refuse. */
static const char *const openrouter_only[] = {
    "models", "provider", "route", "transforms", "plugins", "usage", "debug",
    "session_id", "trace", "cache_control", "reasoning", "include_reasoning",
};

#define MAX_EDITS 24

typedef struct {
  const sb_hub_req_t *req;
  const sb_codec_route_t *route;
  sb_arena_t *a;
  sb_jw_t *w;
  bool orf;     /* the service takes OpenRouter's extensions */
  bool reasons; /* reasoning settings may go */
} rq_t;

static void common_headers(const sb_hub_req_t *req,
                           const sb_codec_route_t *route, sb_arena_t *a,
                           sb_codec_request_t *out)
{
  const sb_provider_t *p = route->provider;
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(out, "Accept", req->stream ? "text/event-stream"
                                                     : "application/json");
  if (p->quirks & SB_QUIRK_FORWARD_APP_HEADERS)
    for (size_t i = 0; i < req->n_client_headers; i++) {
      const char *name = req->client_headers[i].name;
      if (strcasecmp(name, "HTTP-Referer") == 0 ||
          strcasecmp(name, "X-Title") == 0)
        sb_codec_request_header(out, name, req->client_headers[i].value);
    }
  out->url = sb_arena_join(a, p->base_url, "/chat/completions");
}

/* ---- pass-through --------------------------------------------------------- */

static sb_status_t forward(const sb_hub_req_t *req,
                           const sb_codec_route_t *route, sb_arena_t *a,
                           sb_codec_request_t *out)
{
  const sb_provider_t *p = route->provider;
  const sb_json_t *body = req->native;
  bool orf = (p->quirks & SB_QUIRK_OPENROUTER_FIELDS) != 0;
  sb_json_edit_t edits[MAX_EDITS];
  size_t n = 0;
  sb_slice_t model;
  if (sb_hub_escape(a, route->upstream_model.ptr, route->upstream_model.len,
                    &model) != SB_OK)
    return SB_ERROR;
  /* the quotes around it */
  char *q = sb_arena_alloc(a, model.len + 2);
  if (q == NULL)
    return SB_ERROR;
  q[0] = '"';
  memcpy(q + 1, model.ptr, model.len);
  q[model.len + 1] = '"';
  edits[n++] = (sb_json_edit_t){"model", 5, q, model.len + 2, SB_EDIT_MODE_SET};
  if (orf && route->no_fallbacks)
    edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("models");
  if (!orf) {
    for (size_t i = 0; i < SB_ARRAY_LEN(openrouter_only); i++)
      edits[n++] = (sb_json_edit_t){openrouter_only[i],
                                    strlen(openrouter_only[i]), NULL, 0,
                                    SB_EDIT_MODE_DELETE};
    /* OpenRouter's reasoning.effort is OpenAI's reasoning_effort. */
    const sb_json_t *effort =
        sb_json_get(sb_json_get(body, "reasoning"), "effort");
    if (sb_json_is(effort, SB_JSON_STRING) &&
        sb_json_get(body, "reasoning_effort") == NULL)
      edits[n++] = (sb_json_edit_t){"reasoning_effort", 16, effort->raw.ptr,
                                    effort->raw.len, SB_EDIT_MODE_SET};
    /* An empty tool list is meaningless and OpenAI refuses it; so is a
     * tool_choice without tools. */
    const sb_json_t *tools = sb_json_get(body, "tools");
    if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count == 0) {
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("tools");
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("tool_choice");
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("parallel_tool_calls");
    }
  }
  sb_buf_t tmp;
  sb_jw_t w;
  sb_buf_init(&tmp, 1 << 20);
  if (req->stream && (p->quirks & SB_QUIRK_NO_STREAM_OPTIONS) == 0) {
    /* Ask for the usage chunk: a stream always ends with usage here. */
    const sb_json_t *so = sb_json_get(body, "stream_options");
    sb_jw_init(&w, &tmp);
    if (sb_json_is(so, SB_JSON_OBJECT)) {
      sb_json_edit_t e[] = {SB_EDIT_SET("include_usage", "true", 4)};
      sb_json_rewrite(&w, so, e, 1);
    } else {
      sb_jw_raw(&w, SB_STRLIT("{\"include_usage\":true}"));
    }
    sb_slice_t v = sb_arena_slice_dup(a, sb_buf_slice(&tmp));
    if (sb_jw_status(&w) != SB_OK || v.ptr == NULL) {
      sb_buf_free(&tmp);
      return SB_ERROR;
    }
    edits[n++] = (sb_json_edit_t){"stream_options", 14, v.ptr, v.len,
                                  SB_EDIT_MODE_SET};
  } else {
    edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("stream_options");
  }
  sb_buf_free(&tmp);
  sb_jw_init(&w, out->body);
  sb_json_rewrite(&w, body, edits, n);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  common_headers(req, route, a, out);
  return out->url != NULL ? SB_OK : SB_ERROR;
}

/* ---- translation: messages ------------------------------------------------- */

static void cache_control(rq_t *t, sb_slice_t cc)
{
  if (t->orf && cc.len > 0)
    sb_jw_kv_raw(t->w, SB_STRLIT("cache_control"), cc.ptr, cc.len);
}

static void jstr(sb_jw_t *w, const char *key, size_t kn, sb_slice_t jtext)
{
  sb_jw_key(w, key, kn);
  sb_jw_str_raw(w, jtext.ptr != NULL ? jtext.ptr : "", jtext.len);
}

/* data:<media type>;base64,<data> as a JSON string */
static void data_url(sb_jw_t *w, const sb_hub_block_t *b)
{
  if (b->data.len == 0) {
    sb_jw_str_raw(w, b->url.ptr != NULL ? b->url.ptr : "", b->url.len);
    return;
  }
  sb_buf_t u;
  sb_buf_init(&u, 0);
  sb_buf_append(&u, SB_STRLIT("data:"));
  sb_buf_append_slice(&u, b->media_type);
  sb_buf_append(&u, SB_STRLIT(";base64,"));
  sb_buf_append_slice(&u, b->data);
  sb_jw_str_raw(w, u.data, u.len);
  sb_buf_free(&u);
}

static void text_part(rq_t *t, sb_slice_t text, sb_slice_t cc)
{
  sb_jw_obj_begin(t->w);
  sb_jw_kv_lit(t->w, "type", "text");
  jstr(t->w, SB_STRLIT("text"), text);
  cache_control(t, cc);
  sb_jw_obj_end(t->w);
}

/* A user content part; false when the block has no such part. */
static bool user_part(rq_t *t, const sb_hub_block_t *b)
{
  sb_jw_t *w = t->w;
  switch (b->kind) {
  case SB_HUB_TEXT:
    text_part(t, b->text, b->cache_control);
    return true;
  case SB_HUB_IMAGE:
    if (b->url.len == 0 && b->data.len == 0)
      return false;
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "type", "image_url");
    sb_jw_key_lit(w, "image_url");
    sb_jw_obj_begin(w);
    sb_jw_key_lit(w, "url");
    data_url(w, b);
    if (b->detail.len > 0)
      jstr(w, SB_STRLIT("detail"), b->detail);
    sb_jw_obj_end(w);
    cache_control(t, b->cache_control);
    sb_jw_obj_end(w);
    return true;
  case SB_HUB_FILE:
    if (b->text.len > 0) { /* a text document */
      text_part(t, b->text, b->cache_control);
      return true;
    }
    if (b->url.len == 0 && b->data.len == 0 && b->id.len == 0)
      return false;
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "type", "file");
    sb_jw_key_lit(w, "file");
    sb_jw_obj_begin(w);
    if (b->id.len > 0) {
      jstr(w, SB_STRLIT("file_id"), b->id);
    } else {
      if (b->data.len > 0 || b->name.len > 0)
        jstr(w, SB_STRLIT("filename"),
             b->name.len > 0 ? b->name : SB_SLICE_LIT("document.pdf"));
      sb_jw_key_lit(w, "file_data");
      data_url(w, b);
    }
    sb_jw_obj_end(w);
    cache_control(t, b->cache_control);
    sb_jw_obj_end(w);
    return true;
  case SB_HUB_AUDIO:
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "type", "input_audio");
    sb_jw_key_lit(w, "input_audio");
    sb_jw_obj_begin(w);
    jstr(w, SB_STRLIT("data"), b->data);
    jstr(w, SB_STRLIT("format"), b->media_type);
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
    return true;
  case SB_HUB_NATIVE:
    if (b->format == NULL || strcmp(b->format, "openai") != 0)
      return false;
    sb_jw_raw(w, b->native.ptr, b->native.len);
    return true;
  default:
    return false;
  }
}

/* The text of a tool result: its own, or its text parts joined with
 * newlines; an error is marked, as tool messages have no error flag. */
static void tool_message(rq_t *t, const sb_hub_block_t *r)
{
  sb_buf_t text;
  sb_buf_init(&text, 0);
  if (r->is_error)
    sb_buf_append(&text, SB_STRLIT("Error: "));
  sb_buf_append_slice(&text, r->text);
  bool first = r->text.len == 0;
  for (size_t i = 0; i < r->n_parts; i++) {
    const sb_hub_block_t *p = &r->parts[i];
    sb_slice_t s = p->kind == SB_HUB_TEXT                      ? p->text
                   : p->kind == SB_HUB_FILE && p->text.len > 0 ? p->text
                                                               : SB_NULL_SLICE;
    if (s.ptr == NULL)
      continue;
    if (!first)
      sb_buf_append(&text, SB_STRLIT("\\n"));
    sb_buf_append_slice(&text, s);
    first = false;
  }
  sb_jw_obj_begin(t->w);
  sb_jw_kv_lit(t->w, "role", "tool");
  jstr(t->w, SB_STRLIT("tool_call_id"), r->id);
  sb_jw_key_lit(t->w, "content");
  sb_jw_str_raw(t->w, text.data != NULL ? text.data : "", text.len);
  sb_jw_obj_end(t->w);
  sb_buf_free(&text);
}

/* Parts a tool message cannot hold (images, binary documents) go to the
 * user message after the results. */
static bool result_media(const sb_hub_block_t *p)
{
  return p->kind == SB_HUB_IMAGE ||
         (p->kind == SB_HUB_FILE && p->text.len == 0);
}

/* A user or tool message: tool results first, each as a tool message,
 * then one user message with the rest; an empty user message when there
 * is neither, so that turns keep alternating. */
static void user_message(rq_t *t, const sb_hub_msg_t *m)
{
  size_t results = 0;
  for (size_t i = 0; i < m->n_blocks; i++)
    if (m->blocks[i].kind == SB_HUB_TOOL_RESULT) {
      tool_message(t, &m->blocks[i]);
      results++;
    }
  if (m->role == SB_HUB_TOOL && results == m->n_blocks)
    return;
  if (m->plain && m->n_blocks == 1 && m->blocks[0].kind == SB_HUB_TEXT) {
    sb_jw_obj_begin(t->w);
    sb_jw_kv_lit(t->w, "role", "user");
    jstr(t->w, SB_STRLIT("content"), m->blocks[0].text);
    if (m->name.len > 0)
      jstr(t->w, SB_STRLIT("name"), m->name);
    sb_jw_obj_end(t->w);
    return;
  }
  sb_buf_t parts;
  sb_jw_t pw, *w = t->w;
  sb_buf_init(&parts, w->buf->max);
  sb_jw_init(&pw, &parts);
  t->w = &pw;
  sb_jw_arr_begin(&pw);
  size_t n = 0;
  for (size_t i = 0; i < m->n_blocks; i++) {
    const sb_hub_block_t *b = &m->blocks[i];
    if (b->kind == SB_HUB_TOOL_RESULT) {
      for (size_t k = 0; k < b->n_parts; k++)
        if (result_media(&b->parts[k]))
          n += user_part(t, &b->parts[k]);
    } else {
      n += user_part(t, b);
    }
  }
  sb_jw_arr_end(&pw);
  t->w = w;
  if (sb_jw_status(&pw) != SB_OK)
    w->status = SB_ERROR;
  if (n > 0 || results == 0) {
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "role", "user");
    if (n > 0)
      sb_jw_kv_raw(w, SB_STRLIT("content"), parts.data, parts.len);
    else
      sb_jw_kv_lit(w, "content", "");
    if (m->name.len > 0)
      jstr(w, SB_STRLIT("name"), m->name);
    sb_jw_obj_end(w);
  }
  sb_buf_free(&parts);
}

/* System and developer messages; one without text is left out. */
static void system_message(rq_t *t, const sb_hub_msg_t *m)
{
  size_t texts = 0;
  for (size_t i = 0; i < m->n_blocks; i++)
    texts += m->blocks[i].kind == SB_HUB_TEXT;
  if (texts == 0)
    return;
  sb_jw_obj_begin(t->w);
  if (m->role == SB_HUB_DEVELOPER)
    sb_jw_kv_lit(t->w, "role", "developer");
  else
    sb_jw_kv_lit(t->w, "role", "system");
  if (m->plain && m->n_blocks == 1) {
    jstr(t->w, SB_STRLIT("content"), m->blocks[0].text);
  } else {
    sb_jw_key_lit(t->w, "content");
    sb_jw_arr_begin(t->w);
    for (size_t i = 0; i < m->n_blocks; i++)
      if (m->blocks[i].kind == SB_HUB_TEXT)
        text_part(t, m->blocks[i].text, m->blocks[i].cache_control);
    sb_jw_arr_end(t->w);
  }
  if (m->name.len > 0)
    jstr(t->w, SB_STRLIT("name"), m->name);
  sb_jw_obj_end(t->w);
}

static const char *detail_format(const sb_hub_block_t *b)
{
  switch (b->sig_format) {
  case SB_HUB_SIG_ANTHROPIC: return SB_OPENAI_FMT_ANTHROPIC;
  case SB_HUB_SIG_GEMINI: return SB_OPENAI_FMT_GEMINI;
  case SB_HUB_SIG_OPENAI: return SB_OPENAI_FMT_RESPONSES;
  case SB_HUB_SIG_OTHER: return b->format != NULL ? b->format : "unknown";
  case SB_HUB_SIG_NONE: break;
  }
  return "unknown";
}

/* An assistant's reasoning blocks as OpenRouter's reasoning_details. */
static void reasoning_details(rq_t *t, const sb_hub_msg_t *m)
{
  int64_t idx = 0;
  sb_jw_t *w = t->w;
  sb_jw_key_lit(w, "reasoning_details");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < m->n_blocks; i++) {
    const sb_hub_block_t *b = &m->blocks[i];
    if (b->kind != SB_HUB_REASONING && b->kind != SB_HUB_REDACTED)
      continue;
    const char *f = detail_format(b);
    sb_jw_obj_begin(w);
    if (b->kind == SB_HUB_REASONING) {
      sb_jw_kv_lit(w, "type", "reasoning.text");
      jstr(w, SB_STRLIT("text"), b->text);
      if (b->signature.ptr != NULL)
        jstr(w, SB_STRLIT("signature"), b->signature);
    } else {
      sb_jw_kv_lit(w, "type", "reasoning.encrypted");
      jstr(w, SB_STRLIT("data"), b->data);
      if (b->id.len > 0)
        jstr(w, SB_STRLIT("id"), b->id);
    }
    sb_jw_kv_str(w, SB_STRLIT("format"), f, strlen(f));
    sb_jw_kv_int(w, SB_STRLIT("index"), idx++);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
}

/* A tool call's arguments as OpenAI's "arguments" string: the JSON text
 * without insignificant whitespace ("{}" when there is none). */
static void arguments(rq_t *t, sb_slice_t args)
{
  sb_arena_t a;
  sb_json_t *v;
  sb_buf_t c;
  sb_jw_t cw;
  sb_jw_key_lit(t->w, "arguments");
  sb_slice_t s = sb_slice_trim(args);
  if (s.len == 0) {
    sb_jw_str_lit(t->w, "{}");
    return;
  }
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&c, 0);
  sb_jw_init(&cw, &c);
  if (sb_json_parse(&a, s.ptr, s.len, 0, &v, NULL) == SB_OK) {
    sb_json_write_compact(&cw, v);
    sb_jw_str(t->w, c.data != NULL ? c.data : "", c.len);
  } else {
    sb_jw_str(t->w, s.ptr, s.len); /* as the client gave it */
  }
  sb_buf_free(&c);
  sb_arena_destroy(&a);
}

/* Text joined into content (null beside tool calls when there is none);
 * tool calls; reasoning_details for services that take them. Blocks other
 * formats ran (their server tools' calls and results) are left out. */
static void assistant_message(rq_t *t, const sb_hub_msg_t *m)
{
  sb_jw_t *w = t->w;
  size_t n_text = 0, n_tools = 0, n_reason = 0;
  for (size_t i = 0; i < m->n_blocks; i++) {
    sb_hub_block_kind_t k = m->blocks[i].kind;
    n_text += k == SB_HUB_TEXT;
    n_tools += k == SB_HUB_TOOL_CALL;
    n_reason += k == SB_HUB_REASONING || k == SB_HUB_REDACTED;
  }
  sb_jw_obj_begin(w);
  sb_jw_kv_lit(w, "role", "assistant");
  sb_jw_key_lit(w, "content");
  if (n_text == 0 && n_tools > 0) {
    sb_jw_null(w);
  } else {
    sb_slice_t text = sb_hub_msg_text(t->a, m);
    sb_jw_str_raw(w, text.ptr != NULL ? text.ptr : "", text.len);
  }
  if (n_tools > 0) {
    sb_jw_key_lit(w, "tool_calls");
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < m->n_blocks; i++) {
      const sb_hub_block_t *b = &m->blocks[i];
      if (b->kind != SB_HUB_TOOL_CALL)
        continue;
      sb_jw_obj_begin(w);
      jstr(w, SB_STRLIT("id"), b->id);
      sb_jw_kv_lit(w, "type", "function");
      sb_jw_key_lit(w, "function");
      sb_jw_obj_begin(w);
      jstr(w, SB_STRLIT("name"), b->name);
      arguments(t, b->args);
      sb_jw_obj_end(w);
      sb_jw_obj_end(w);
    }
    sb_jw_arr_end(w);
  }
  if (n_reason > 0 && t->orf)
    reasoning_details(t, m);
  if (m->name.len > 0)
    jstr(w, SB_STRLIT("name"), m->name);
  sb_jw_obj_end(w);
}

/* ---- translation: the rest -------------------------------------------------- */

/* Function tools (cache_control kept where taken); an OpenAI tool of
 * another kind passes; another format's own tools (server tools) are left
 * out. How many were written. */
static size_t write_tools(rq_t *t)
{
  const sb_hub_req_t *req = t->req;
  sb_jw_t *w = t->w;
  size_t n = 0;
  for (size_t i = 0; i < req->n_tools; i++) {
    const sb_hub_tool_t *tl = &req->tools[i];
    bool native = tl->kind == SB_HUB_TOOL_NATIVE;
    if (native && (tl->format == NULL || strcmp(tl->format, "openai") != 0))
      continue;
    if (n++ == 0) {
      sb_jw_key_lit(w, "tools");
      sb_jw_arr_begin(w);
    }
    if (native) {
      sb_jw_raw(w, tl->native.ptr, tl->native.len);
      continue;
    }
    sb_jw_obj_begin(w);
    sb_jw_kv_lit(w, "type", "function");
    sb_jw_key_lit(w, "function");
    sb_jw_obj_begin(w);
    jstr(w, SB_STRLIT("name"), tl->name);
    if (tl->description.ptr != NULL)
      jstr(w, SB_STRLIT("description"), tl->description);
    if (tl->parameters.len > 0)
      sb_jw_kv_raw(w, SB_STRLIT("parameters"), tl->parameters.ptr,
                   tl->parameters.len);
    if (tl->strict >= 0)
      sb_jw_kv_raw(w, SB_STRLIT("strict"),
                   tl->strict ? "true" : "false", tl->strict ? 4 : 5);
    sb_jw_obj_end(w);
    cache_control(t, tl->cache_control);
    sb_jw_obj_end(w);
  }
  if (n > 0)
    sb_jw_arr_end(w);
  return n;
}

static bool has_function(const sb_hub_req_t *req, sb_slice_t name)
{
  for (size_t i = 0; i < req->n_tools; i++)
    if (req->tools[i].kind == SB_HUB_TOOL_FUNCTION &&
        sb_slice_eq(req->tools[i].name, name))
      return true;
  return false;
}

/* Written only beside tools; a named tool that was left out (another
 * format's server tool) leaves the choice to the model. */
static void write_tool_choice(rq_t *t)
{
  const sb_hub_req_t *req = t->req;
  sb_jw_t *w = t->w;
  if (req->choice == SB_HUB_CHOICE_TOOL &&
      !has_function(req, req->choice_name))
    return;
  if (req->choice != SB_HUB_CHOICE_UNSET) {
    sb_jw_key_lit(w, "tool_choice");
    switch (req->choice) {
    case SB_HUB_CHOICE_REQUIRED: sb_jw_str_lit(w, "required"); break;
    case SB_HUB_CHOICE_NONE: sb_jw_str_lit(w, "none"); break;
    case SB_HUB_CHOICE_TOOL:
      sb_jw_obj_begin(w);
      sb_jw_kv_lit(w, "type", "function");
      sb_jw_key_lit(w, "function");
      sb_jw_obj_begin(w);
      jstr(w, SB_STRLIT("name"), req->choice_name);
      sb_jw_obj_end(w);
      sb_jw_obj_end(w);
      break;
    default: sb_jw_str_lit(w, "auto"); break;
    }
  }
  if (req->parallel_tool_calls >= 0 && req->choice != SB_HUB_CHOICE_NONE) {
    sb_jw_key_lit(w, "parallel_tool_calls");
    sb_jw_bool(w, req->parallel_tool_calls == 1);
  }
}

/* Efforts every reasoning API takes; stronger ones are "high". */
static const char *effort_out(sb_hub_effort_t e)
{
  if (e == SB_HUB_EFFORT_XHIGH)
    return "high";
  return sb_openai_effort_name(e);
}

/* OpenRouter's `reasoning` ({max_tokens}, {effort} or {enabled}, with
 * exclude) for services that take it; `reasoning_effort` for the others
 * (written last, by the caller). */
static void write_reasoning(rq_t *t)
{
  const sb_hub_reasoning_t *r = &t->req->reasoning;
  if (!t->reasons || !t->orf || r->enabled != 1)
    return;
  sb_jw_t *w = t->w;
  sb_jw_key_lit(w, "reasoning");
  sb_jw_obj_begin(w);
  if (r->budget > 0)
    sb_jw_kv_int(w, SB_STRLIT("max_tokens"), r->budget);
  else if (r->effort != SB_HUB_EFFORT_UNSET)
    sb_jw_kv_str(w, SB_STRLIT("effort"), effort_out(r->effort),
                 strlen(effort_out(r->effort)));
  else
    sb_jw_kv_raw(w, SB_STRLIT("enabled"), SB_STRLIT("true"));
  if (r->exclude)
    sb_jw_kv_raw(w, SB_STRLIT("exclude"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
}

static void write_response_format(rq_t *t)
{
  const sb_hub_req_t *req = t->req;
  sb_jw_t *w = t->w;
  if (req->response_format == SB_HUB_FORMAT_JSON) {
    sb_jw_kv_raw(w, SB_STRLIT("response_format"),
                 SB_STRLIT("{\"type\":\"json_object\"}"));
    return;
  }
  if (req->response_format != SB_HUB_FORMAT_JSON_SCHEMA)
    return;
  sb_jw_key_lit(w, "response_format");
  sb_jw_obj_begin(w);
  sb_jw_kv_lit(w, "type", "json_schema");
  sb_jw_key_lit(w, "json_schema");
  sb_jw_obj_begin(w);
  jstr(w, SB_STRLIT("name"),
       req->schema_name.len > 0 ? req->schema_name : SB_SLICE_LIT("response"));
  if (req->schema.len > 0)
    sb_jw_kv_raw(w, SB_STRLIT("schema"), req->schema.ptr, req->schema.len);
  if (req->schema_strict >= 0)
    sb_jw_kv_raw(w, SB_STRLIT("strict"), req->schema_strict ? "true" : "false",
                 req->schema_strict ? 4 : 5);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

static void number(sb_jw_t *w, const char *key, const sb_hub_num_t *n)
{
  if (n->set)
    sb_jw_kv_raw(w, key, strlen(key), n->raw.ptr, n->raw.len);
}

static sb_status_t translate(const sb_hub_req_t *req,
                             const sb_codec_route_t *route, sb_arena_t *a,
                             sb_codec_request_t *out)
{
  const sb_provider_t *p = route->provider;
  sb_jw_t w;
  rq_t t = {req, route, a, &w, (p->quirks & SB_QUIRK_OPENROUTER_FIELDS) != 0,
            route->reasons != 0};
  sb_jw_init(&w, out->body);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("model"), route->upstream_model.ptr,
               route->upstream_model.len);
  sb_jw_key_lit(&w, "messages");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < req->n_msgs; i++) {
    const sb_hub_msg_t *m = &req->msgs[i];
    switch (m->role) {
    case SB_HUB_SYSTEM:
    case SB_HUB_DEVELOPER: system_message(&t, m); break;
    case SB_HUB_ASSISTANT: assistant_message(&t, m); break;
    case SB_HUB_USER:
    case SB_HUB_TOOL: user_message(&t, m); break;
    }
  }
  sb_jw_arr_end(&w);
  if (req->max_tokens > 0)
    sb_jw_kv_int(&w, SB_STRLIT("max_tokens"), req->max_tokens);
  if (req->n_stop > 0) {
    sb_jw_key_lit(&w, "stop");
    sb_jw_arr_begin(&w);
    for (size_t i = 0; i < req->n_stop; i++)
      sb_jw_str_raw(&w, req->stop[i].ptr, req->stop[i].len);
    sb_jw_arr_end(&w);
  }
  number(&w, "temperature", &req->temperature);
  number(&w, "top_p", &req->top_p);
  number(&w, "top_k", &req->top_k);
  number(&w, "presence_penalty", &req->presence_penalty);
  number(&w, "frequency_penalty", &req->frequency_penalty);
  number(&w, "seed", &req->seed);
  if (write_tools(&t) > 0)
    write_tool_choice(&t);
  else if (req->tools_given && req->n_tools == 0 && t.orf)
    /* OpenRouter takes an empty list (plain services refuse one) */
    sb_jw_kv_raw(&w, SB_STRLIT("tools"), SB_STRLIT("[]"));
  write_reasoning(&t);
  write_response_format(&t);
  if (req->user.len > 0)
    jstr(&w, SB_STRLIT("user"), req->user);
  if (req->stream)
    sb_jw_kv_raw(&w, SB_STRLIT("stream"), SB_STRLIT("true"));
  /* what the pass-through adds for services without OpenRouter's
   * extensions, and for every stream: last */
  const sb_hub_reasoning_t *r = &req->reasoning;
  if (!t.orf && t.reasons && r->enabled == 1 &&
      r->effort != SB_HUB_EFFORT_UNSET)
    sb_jw_kv_str(&w, SB_STRLIT("reasoning_effort"), effort_out(r->effort),
                 strlen(effort_out(r->effort)));
  if (req->stream && (p->quirks & SB_QUIRK_NO_STREAM_OPTIONS) == 0)
    sb_jw_kv_raw(&w, SB_STRLIT("stream_options"),
                 SB_STRLIT("{\"include_usage\":true}"));
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  common_headers(req, route, a, out);
  return out->url != NULL ? SB_OK : SB_ERROR;
}

sb_status_t sb_openai_request(const sb_hub_req_t *req,
                              const sb_codec_route_t *route, bool passthrough,
                              sb_arena_t *a, sb_codec_request_t *out)
{
  if (passthrough)
    return forward(req, route, a, out);
  if (!req->decoded) {
    out->error = "the request was not decoded";
    return SB_ERROR;
  }
  return translate(req, route, a, out);
}
