/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages door, request half: a Messages body into the hub
 * request (include/switchboard/hub.h).
 *
 * The door checked the body against the Messages schema first
 * (messages_validate.c), so this reads what it finds. The envelope (model,
 * stream, max_tokens) is read for every request; the conversation only
 * when a provider of another format needs it (a Messages provider gets
 * the client's body itself).
 *
 * What the other formats have a form for becomes typed blocks; what is
 * Anthropic's alone (its server tools' calls and results, Files API ids,
 * container uploads, MCP blocks, server tools) becomes NATIVE blocks and
 * tools of format "anthropic", which other providers leave out
 * (docs/messages.md has the mapping, with the reasons). In detail:
 * - `system` and system messages inside the conversation -> SYSTEM
 *   messages where they stand (their text blocks; tool_addition /
 *   tool_removal change Anthropic's tool list, which `tools` gives);
 * - a user message -> its tool_result blocks as one TOOL message, then
 *   the rest as a USER message (an empty one when there is neither);
 * - documents: a PDF (base64 or URL) -> FILE, a text source -> TEXT, a
 *   content source -> its blocks; search results -> TEXT ("TITLE
 *   (SOURCE)" and its texts, one a line);
 * - thinking -> REASONING signed by Anthropic, redacted_thinking ->
 *   REDACTED, or the reasoning of another format it carries (opaque.c);
 * - thinking / output_config.effort -> the reasoning settings, with
 *   xhigh and max as high (the highest every reasoning API takes);
 * - output_config.format (or the older output_format) -> a json_schema
 *   response format named "response".
 */
#include <stdio.h>

#include "anthropic.h"

typedef struct {
  sb_arena_t *a;
  char *why;
  size_t whylen;
} dec_t;

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

static bool type_is(const sb_json_t *b, const char *type)
{
  return sb_json_str_eq(sb_json_get(b, "type"), type, strlen(type));
}

static sb_status_t refuse(dec_t *d, const char *msg)
{
  snprintf(d->why, d->whylen, "%s", msg);
  return SB_DECLINED;
}

/* ---- envelope ----------------------------------------------------------- */

/* The members the gateway reads. */
static sb_status_t envelope(const sb_json_t *body, sb_arena_t *a,
                            sb_hub_req_t *req, char *why, size_t whylen)
{
  const sb_json_t *model = sb_json_get(body, "model");
  if (!is_str(model) || sb_json_string(a, model, &req->model) != SB_OK) {
    snprintf(why, whylen, "model: must be a string");
    return SB_DECLINED;
  }
  req->door_format = "anthropic";
  req->native = body;
  req->native_raw = body->raw;
  req->stream = sb_json_is(sb_json_get(body, "stream"), SB_JSON_TRUE);
  int64_t v;
  if (sb_json_int64(sb_json_get(body, "max_tokens"), &v) == SB_OK && v > 0)
    req->max_tokens = v;
  return SB_OK;
}

sb_status_t sb_anthropic_envelope(const sb_json_t *body, sb_arena_t *a,
                                  sb_hub_req_t *req, char *why, size_t whylen)
{
  return envelope(body, a, req, why, whylen);
}

sb_status_t sb_anthropic_check(const sb_json_t *body, char *why, size_t whylen)
{
  return sb_messages_validate(body, false, why, whylen);
}

/* count_tokens: {"input_tokens": the estimate} (an estimate, not a
 * tokenizer: docs/messages.md). */
sb_status_t sb_anthropic_count(const sb_json_t *body, sb_arena_t *a,
                               sb_hub_req_t *req, sb_buf_t *out, char *why,
                               size_t whylen)
{
  /* max_tokens is optional here */
  sb_status_t rc = sb_messages_validate(body, true, why, whylen);
  if (rc == SB_OK)
    rc = envelope(body, a, req, why, whylen);
  if (rc == SB_OK)
    rc = sb_anthropic_decode(req, a, why, whylen);
  if (rc != SB_OK)
    return rc;
  return sb_buf_appendf(out, "{\"input_tokens\":%llu}",
                        (unsigned long long)sb_hub_estimate_input(req));
}

/* ---- blocks ------------------------------------------------------------- */

typedef sb_hub_blocks_t blocks_t;

/* A new block, with the cache_control of the block it comes from. */
static sb_hub_block_t *add(dec_t *d, blocks_t *b, sb_hub_block_kind_t kind,
                           const sb_json_t *src)
{
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, kind);
  if (k != NULL)
    k->cache_control = sb_hub_json(sb_json_get(src, "cache_control"));
  return k;
}

static sb_status_t add_text(dec_t *d, blocks_t *b, sb_slice_t text,
                            const sb_json_t *src)
{
  sb_hub_block_t *k = add(d, b, SB_HUB_TEXT, src);
  if (k == NULL)
    return SB_ERROR;
  k->text = text;
  return SB_OK;
}

/* A block only Anthropic knows, as it came. */
static sb_status_t add_native(dec_t *d, blocks_t *b, const sb_json_t *src)
{
  sb_hub_block_t *k = add(d, b, SB_HUB_NATIVE, src);
  if (k == NULL)
    return SB_ERROR;
  k->native = src->raw;
  k->name = sb_hub_jtext(sb_json_get(src, "type"));
  k->format = "anthropic";
  return SB_OK;
}

/* A search result's text: "TITLE (SOURCE)", then its texts, one a line. */
static sb_status_t search_result(dec_t *d, blocks_t *b, const sb_json_t *sr)
{
  const sb_json_t *content = sb_json_get(sr, "content");
  size_t n = 4 + 2 * (sb_json_is(content, SB_JSON_ARRAY) ? content->count : 0);
  sb_slice_t *parts = sb_arena_alloc(d->a, n * sizeof(*parts));
  if (parts == NULL)
    return SB_ERROR;
  size_t k = 0;
  parts[k++] = sb_hub_jtext(sb_json_get(sr, "title"));
  parts[k++] = SB_SLICE_LIT(" (");
  parts[k++] = sb_hub_jtext(sb_json_get(sr, "source"));
  parts[k++] = SB_SLICE_LIT(")");
  if (sb_json_is(content, SB_JSON_ARRAY))
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      parts[k++] = SB_SLICE_LIT("\\n");
      parts[k++] = sb_hub_jtext(sb_json_get(p, "text"));
    }
  sb_slice_t text = sb_hub_join(d->a, parts, k);
  return text.ptr != NULL ? add_text(d, b, text, sr) : SB_ERROR;
}

/* image: a base64 or URL source; a file source (Anthropic's Files API)
 * means nothing to another provider. */
static sb_status_t image(dec_t *d, blocks_t *b, const sb_json_t *img)
{
  const sb_json_t *src = sb_json_get(img, "source");
  if (!type_is(src, "base64") && !type_is(src, "url"))
    return add_native(d, b, img);
  sb_hub_block_t *k = add(d, b, SB_HUB_IMAGE, img);
  if (k == NULL)
    return SB_ERROR;
  if (type_is(src, "url")) {
    k->url = sb_hub_jtext(sb_json_get(src, "url"));
  } else {
    k->media_type = sb_hub_jtext(sb_json_get(src, "media_type"));
    k->data = sb_hub_jtext(sb_json_get(src, "data"));
  }
  return SB_OK;
}

static sb_status_t user_block(dec_t *d, blocks_t *b, const sb_json_t *x);

/* document: a PDF (base64, named by its title else "document.pdf", or a
 * URL) -> FILE; a text source -> TEXT; a content source -> its blocks. */
static sb_status_t document(dec_t *d, blocks_t *b, const sb_json_t *doc)
{
  const sb_json_t *src = sb_json_get(doc, "source");
  if (type_is(src, "text"))
    return add_text(d, b, sb_hub_jtext(sb_json_get(src, "data")), doc);
  if (type_is(src, "content")) {
    const sb_json_t *c = sb_json_get(src, "content");
    if (is_str(c))
      return add_text(d, b, sb_hub_jtext(c), NULL);
    for (const sb_json_t *x = c != NULL ? c->child : NULL; x != NULL;
         x = x->next)
      if (user_block(d, b, x) != SB_OK)
        return SB_ERROR;
    return SB_OK;
  }
  if (!type_is(src, "base64") && !type_is(src, "url"))
    return add_native(d, b, doc);
  sb_hub_block_t *k = add(d, b, SB_HUB_FILE, doc);
  if (k == NULL)
    return SB_ERROR;
  if (type_is(src, "url")) {
    k->url = sb_hub_jtext(sb_json_get(src, "url"));
  } else {
    const sb_json_t *title = sb_json_get(doc, "title");
    k->name =
        is_str(title) ? sb_hub_jtext(title) : SB_SLICE_LIT("document.pdf");
    k->media_type = sb_hub_jtext(sb_json_get(src, "media_type"));
    k->data = sb_hub_jtext(sb_json_get(src, "data"));
  }
  return SB_OK;
}

/* A block of a user turn (or of a tool result's content). */
static sb_status_t user_block(dec_t *d, blocks_t *b, const sb_json_t *x)
{
  if (type_is(x, "text"))
    return add_text(d, b, sb_hub_jtext(sb_json_get(x, "text")), x);
  if (type_is(x, "image"))
    return image(d, b, x);
  if (type_is(x, "document"))
    return document(d, b, x);
  if (type_is(x, "search_result"))
    return search_result(d, b, x);
  if (type_is(x, "compaction") && is_str(sb_json_get(x, "content")))
    return add_text(d, b, sb_hub_jtext(sb_json_get(x, "content")), x);
  /* container_upload, tool_reference, and what has no place in a user
   * turn elsewhere (thinking, tool_use, ...) */
  return add_native(d, b, x);
}

static sb_status_t tool_result(dec_t *d, blocks_t *b, const sb_json_t *x)
{
  const sb_json_t *content = sb_json_get(x, "content");
  sb_hub_block_t *k = add(d, b, SB_HUB_TOOL_RESULT, x);
  if (k == NULL)
    return SB_ERROR;
  k->id = sb_hub_jtext(sb_json_get(x, "tool_use_id"));
  k->is_error = sb_json_is(sb_json_get(x, "is_error"), SB_JSON_TRUE);
  if (is_str(content)) {
    k->text = sb_hub_jtext(content);
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    blocks_t parts = {0};
    for (const sb_json_t *p = content->child; p != NULL; p = p->next)
      if (user_block(d, &parts, p) != SB_OK)
        return SB_ERROR;
    k->parts = parts.v;
    k->n_parts = parts.n;
  }
  return SB_OK;
}

static sb_status_t assistant_block(dec_t *d, blocks_t *b, const sb_json_t *x)
{
  sb_hub_block_t *k;
  if (type_is(x, "text"))
    return add_text(d, b, sb_hub_jtext(sb_json_get(x, "text")), x);
  if (type_is(x, "compaction") && is_str(sb_json_get(x, "content")))
    return add_text(d, b, sb_hub_jtext(sb_json_get(x, "content")), x);
  if (type_is(x, "thinking")) {
    if ((k = add(d, b, SB_HUB_REASONING, x)) == NULL)
      return SB_ERROR;
    k->text = sb_hub_jtext(sb_json_get(x, "thinking"));
    k->signature = sb_hub_jtext(sb_json_get(x, "signature"));
    k->sig_format = SB_HUB_SIG_ANTHROPIC;
    return SB_OK;
  }
  if (type_is(x, "redacted_thinking")) {
    sb_slice_t data = sb_hub_jtext(sb_json_get(x, "data"));
    if ((k = add(d, b, SB_HUB_REDACTED, x)) == NULL)
      return SB_ERROR;
    if (sb_hub_opaque_read(d->a, data, k) == SB_OK)
      return SB_OK; /* another format's, restored */
    k->kind = SB_HUB_REDACTED;
    k->data = data;
    k->sig_format = SB_HUB_SIG_ANTHROPIC;
    return SB_OK;
  }
  if (type_is(x, "tool_use")) {
    const sb_json_t *input = sb_json_get(x, "input");
    if ((k = add(d, b, SB_HUB_TOOL_CALL, x)) == NULL)
      return SB_ERROR;
    k->id = sb_hub_jtext(sb_json_get(x, "id"));
    k->name = sb_hub_jtext(sb_json_get(x, "name"));
    k->args = input != NULL ? input->raw : SB_SLICE_LIT("{}");
    return SB_OK;
  }
  /* server_tool_use, *_tool_result, mcp_tool_use / _result, ...: work
   * Anthropic's servers ran */
  return add_native(d, b, x);
}

/* ---- messages ----------------------------------------------------------- */

static void put_msg(sb_hub_msg_t *m, size_t *n, sb_hub_role_t role,
                    const blocks_t *b, bool plain)
{
  sb_hub_msg_t *out = &m[(*n)++];
  memset(out, 0, sizeof(*out));
  out->role = role;
  out->blocks = b->v;
  out->n_blocks = b->n;
  out->plain = plain;
}

/* A turn's content (a string is one text block), block by block: a
 * user's tool results into `results`, the rest into `rest`; a system
 * message keeps its text blocks only (its tool_addition / tool_removal
 * blocks change Anthropic's tool list, which `tools` gives). */
static sb_status_t turn_blocks(dec_t *d, sb_hub_role_t role,
                               const sb_json_t *content, blocks_t *results,
                               blocks_t *rest)
{
  if (is_str(content))
    return add_text(d, rest, sb_hub_jtext(content), NULL);
  if (!sb_json_is(content, SB_JSON_ARRAY))
    return SB_OK;
  for (const sb_json_t *x = content->child; x != NULL; x = x->next) {
    sb_status_t rc = SB_OK;
    if (role == SB_HUB_ASSISTANT)
      rc = assistant_block(d, rest, x);
    else if (role == SB_HUB_SYSTEM)
      rc = type_is(x, "text")
               ? add_text(d, rest, sb_hub_jtext(sb_json_get(x, "text")), x)
               : SB_OK;
    else if (type_is(x, "tool_result"))
      rc = tool_result(d, results, x);
    else
      rc = user_block(d, rest, x);
    if (rc != SB_OK)
      return rc;
  }
  return SB_OK;
}

/* One Messages turn as hub messages. A system message without text is
 * none; a user turn's tool results come first (they answer the calls
 * just before) as a TOOL message, then the rest, with an empty user
 * message when there is neither, so turns keep alternating. */
static sb_status_t turn(dec_t *d, sb_hub_role_t role, const sb_json_t *content,
                        sb_hub_msg_t *m, size_t *n)
{
  blocks_t results = {0}, rest = {0};
  if (turn_blocks(d, role, content, &results, &rest) != SB_OK)
    return SB_ERROR;
  if (results.n > 0)
    put_msg(m, n, SB_HUB_TOOL, &results, false);
  if (rest.n > 0 || (role == SB_HUB_USER && results.n == 0) ||
      role == SB_HUB_ASSISTANT)
    put_msg(m, n, role, &rest, is_str(content));
  return SB_OK;
}

/* ---- tools and settings ------------------------------------------------- */

static bool is_custom_tool(const sb_json_t *t)
{
  const sb_json_t *type = sb_json_get(t, "type");
  return type == NULL || type->type == SB_JSON_NULL ||
         SB_JSON_STR_IS(type, "custom");
}

/* Custom tools -> functions; server tools (web search, bash, code
 * execution, MCP toolsets, ...) run on Anthropic's servers or follow its
 * client-side contracts: NATIVE. Anthropic's `strict` and the like are its
 * own and left out. */
static sb_status_t tools(dec_t *d, sb_hub_req_t *req, const sb_json_t *list)
{
  req->tools_given = sb_json_is(list, SB_JSON_ARRAY);
  if (!sb_json_is(list, SB_JSON_ARRAY) || list->count == 0)
    return SB_OK;
  sb_hub_tool_t *t = sb_arena_calloc(d->a, list->count * sizeof(*t));
  if (t == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next, n++) {
    t[n].strict = -1;
    t[n].cache_control = sb_hub_json(sb_json_get(x, "cache_control"));
    t[n].name = sb_hub_jtext(sb_json_get(x, "name"));
    if (is_custom_tool(x)) {
      t[n].kind = SB_HUB_TOOL_FUNCTION;
      t[n].description = sb_hub_jtext(sb_json_get(x, "description"));
      t[n].parameters = sb_hub_json(sb_json_get(x, "input_schema"));
    } else {
      t[n].kind = SB_HUB_TOOL_NATIVE;
      t[n].native = x->raw;
      t[n].format = "anthropic";
      if (t[n].name.ptr == NULL)
        t[n].name = sb_hub_jtext(sb_json_get(x, "type"));
    }
  }
  req->tools = t;
  req->n_tools = n;
  return SB_OK;
}

/* auto / any / tool / none; disable_parallel_tool_use -> no parallel
 * calls (meaningless beside none). */
static void tool_choice(sb_hub_req_t *req, const sb_json_t *tc)
{
  req->parallel_tool_calls = -1;
  if (!sb_json_is(tc, SB_JSON_OBJECT))
    return;
  if (type_is(tc, "auto"))
    req->choice = SB_HUB_CHOICE_AUTO;
  else if (type_is(tc, "any"))
    req->choice = SB_HUB_CHOICE_REQUIRED;
  else if (type_is(tc, "none"))
    req->choice = SB_HUB_CHOICE_NONE;
  else if (type_is(tc, "tool")) {
    req->choice = SB_HUB_CHOICE_TOOL;
    req->choice_name = sb_hub_jtext(sb_json_get(tc, "name"));
  }
  if (sb_json_is(sb_json_get(tc, "disable_parallel_tool_use"), SB_JSON_TRUE) &&
      req->choice != SB_HUB_CHOICE_NONE)
    req->parallel_tool_calls = 0;
}

static sb_hub_effort_t effort_of(const sb_json_t *e)
{
  if (SB_JSON_STR_IS(e, "low"))
    return SB_HUB_EFFORT_LOW;
  if (SB_JSON_STR_IS(e, "medium"))
    return SB_HUB_EFFORT_MEDIUM;
  if (is_str(e)) /* high, xhigh, max */
    return SB_HUB_EFFORT_HIGH;
  return SB_HUB_EFFORT_UNSET;
}

/* thinking + output_config.effort:
 * - enabled: a budget of budget_tokens;
 * - adaptive or between_tools (the model decides how much), or no
 *   thinking but an effort: that effort, else the provider's default;
 * - disabled: none, whatever the effort.
 * display "omitted": reasoning that is not shown. */
static void reasoning(sb_hub_req_t *req, const sb_json_t *body)
{
  sb_hub_reasoning_t *r = &req->reasoning;
  const sb_json_t *th = sb_json_get(body, "thinking");
  sb_hub_effort_t effort =
      effort_of(sb_json_get(sb_json_get(body, "output_config"), "effort"));
  int64_t v;
  r->enabled = -1;
  if (type_is(th, "disabled")) {
    r->enabled = 0;
    return;
  }
  if (type_is(th, "enabled")) {
    r->enabled = 1;
    if (sb_json_int64(sb_json_get(th, "budget_tokens"), &v) == SB_OK && v > 0)
      r->budget = v;
  } else if (sb_json_is(th, SB_JSON_OBJECT) || effort != SB_HUB_EFFORT_UNSET) {
    r->enabled = 1;
    r->effort = effort;
  }
  r->exclude = SB_JSON_STR_IS(sb_json_get(th, "display"), "omitted");
}

static void response_format(sb_hub_req_t *req, const sb_json_t *body)
{
  const sb_json_t *fmt =
      sb_json_get(sb_json_get(body, "output_config"), "format");
  req->schema_strict = -1;
  if (!sb_json_is(fmt, SB_JSON_OBJECT))
    fmt = sb_json_get(body, "output_format");
  if (!sb_json_is(fmt, SB_JSON_OBJECT))
    return;
  req->response_format = SB_HUB_FORMAT_JSON_SCHEMA;
  req->schema = sb_hub_json(sb_json_get(fmt, "schema"));
  req->schema_name = SB_SLICE_LIT("response");
}

sb_status_t sb_anthropic_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                                size_t whylen)
{
  dec_t d = {a, why, whylen};
  const sb_json_t *body = req->native;
  if (req->decoded)
    return SB_OK;
  const sb_json_t *msgs = sb_json_get(body, "messages");
  if (!sb_json_is(msgs, SB_JSON_ARRAY))
    return refuse(&d, "messages: must be an array");
  /* a user message may become two (its tool results, the rest) */
  sb_hub_msg_t *m =
      sb_arena_calloc(a, (2 * (size_t)msgs->count + 1) * sizeof(*m));
  if (m == NULL)
    return SB_ERROR;
  size_t n = 0;
  if (turn(&d, SB_HUB_SYSTEM, sb_json_get(body, "system"), m, &n) != SB_OK)
    return SB_ERROR;
  for (const sb_json_t *x = msgs->child; x != NULL; x = x->next) {
    const sb_json_t *role = sb_json_get(x, "role");
    const sb_json_t *content = sb_json_get(x, "content");
    sb_hub_role_t r = SB_JSON_STR_IS(role, "user")        ? SB_HUB_USER
                      : SB_JSON_STR_IS(role, "assistant") ? SB_HUB_ASSISTANT
                                                          : SB_HUB_SYSTEM;
    if (turn(&d, r, content, m, &n) != SB_OK)
      return SB_ERROR;
  }
  req->msgs = m;
  req->n_msgs = n;
  if (tools(&d, req, sb_json_get(body, "tools")) != SB_OK ||
      sb_hub_strings(a, sb_json_get(body, "stop_sequences"), &req->stop,
                     &req->n_stop) != SB_OK)
    return SB_ERROR;
  tool_choice(req, sb_json_get(body, "tool_choice"));
  reasoning(req, body);
  response_format(req, body);
  sb_hub_number(&req->temperature, sb_json_get(body, "temperature"));
  sb_hub_number(&req->top_p, sb_json_get(body, "top_p"));
  sb_hub_number(&req->top_k, sb_json_get(body, "top_k"));
  req->user =
      sb_hub_jtext(sb_json_get(sb_json_get(body, "metadata"), "user_id"));
  req->decoded = true;
  return SB_OK;
}
