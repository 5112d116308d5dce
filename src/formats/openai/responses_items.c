/* SPDX-License-Identifier: MIT */
/*
 * The Responses door, request half: input items into hub messages.
 *
 * - message items: system and developer messages as they are; user
 *   messages with input_text, input_image, input_file and input_audio
 *   parts; assistant messages (output_text, refusal) join the assistant
 *   turn;
 * - function_call and custom_tool_call join the assistant turn as tool
 *   calls (a custom tool was offered as a function taking {"input":
 *   string}, and its call is given back that way);
 * - reasoning joins the assistant turn: its encrypted_content is OpenAI's
 *   own (opaque reasoning to replay on OpenAI), or reasoning another
 *   provider made that switchboard handed out (SB_HUB_OPAQUE_PREFIX),
 *   restored with the summary text it came with; without encrypted
 *   content it is shown text only;
 * - function_call_output and custom_tool_call_output: one tool message
 *   each;
 * - the hosted tools' items (web_search_call, file_search_call,
 *   computer_call, mcp_*, local_shell_call, image_generation_call,
 *   code_interpreter_call ...) only the provider that ran them can read:
 *   left out.
 * Consecutive assistant-side items make one assistant message, so a turn
 * with reasoning, text and parallel calls stays one turn.
 */
#include <stdio.h>

#include "responses.h"

static sb_status_t refuse(sb_rs_items_t *d, const char *msg)
{
  snprintf(d->why, d->whylen, "%s", msg);
  return SB_DECLINED;
}

static bool type_is(const sb_json_t *v, const char *lit, size_t n)
{
  return sb_json_str_eq(sb_json_get(v, "type"), lit, n);
}
#define TYPE_IS(v, lit) type_is((v), SB_STRLIT(lit))

sb_status_t sb_responses_add_msg(sb_rs_items_t *d, sb_hub_role_t role,
                                 const sb_hub_blocks_t *blocks, bool plain)
{
  if (d->n == d->cap) {
    size_t cap = d->cap == 0 ? 8 : d->cap * 2;
    sb_hub_msg_t *m = sb_arena_alloc(d->a, cap * sizeof(*m));
    if (m == NULL)
      return SB_ERROR;
    if (d->n > 0)
      memcpy(m, d->msgs, d->n * sizeof(*m));
    d->msgs = m;
    d->cap = cap;
  }
  sb_hub_msg_t *m = &d->msgs[d->n++];
  memset(m, 0, sizeof(*m));
  m->role = role;
  m->blocks = blocks->v;
  m->n_blocks = blocks->n;
  m->plain = plain;
  return SB_OK;
}

sb_status_t sb_responses_end_turn(sb_rs_items_t *d)
{
  if (!d->in_turn)
    return SB_OK;
  d->in_turn = false;
  sb_hub_blocks_t b = d->turn;
  memset(&d->turn, 0, sizeof(d->turn));
  return sb_responses_add_msg(d, SB_HUB_ASSISTANT, &b, false);
}

static sb_hub_block_t *turn_block(sb_rs_items_t *d, sb_hub_block_kind_t kind)
{
  d->in_turn = true;
  return sb_hub_blocks_add(d->a, &d->turn, kind);
}

/* ---- content parts ------------------------------------------------------------- */

static sb_status_t part(sb_rs_items_t *d, sb_hub_blocks_t *b,
                        const sb_json_t *p)
{
  sb_hub_block_t *k;
  if (TYPE_IS(p, "input_text") || TYPE_IS(p, "output_text") ||
      TYPE_IS(p, "text")) {
    if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_TEXT)) == NULL)
      return SB_ERROR;
    k->text = sb_hub_jtext(sb_json_get(p, "text"));
  } else if (TYPE_IS(p, "input_image")) {
    const sb_json_t *url = sb_json_get(p, "image_url");
    if (!sb_json_is(url, SB_JSON_STRING)) {
      /* an uploaded file's id: a reference only OpenAI resolves */
      if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_FILE)) == NULL)
        return SB_ERROR;
      k->id = sb_hub_jtext(sb_json_get(p, "file_id"));
      return SB_OK;
    }
    if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_IMAGE)) == NULL)
      return SB_ERROR;
    k->url = sb_hub_jtext(url);
    k->detail = sb_hub_jtext(sb_json_get(p, "detail"));
    sb_openai_data_url(d->a, k->url, &k->media_type, &k->data);
  } else if (TYPE_IS(p, "input_file")) {
    if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_FILE)) == NULL)
      return SB_ERROR;
    k->id = sb_hub_jtext(sb_json_get(p, "file_id"));
    k->name = sb_hub_jtext(sb_json_get(p, "filename"));
    k->url = sb_hub_jtext(sb_json_get(p, "file_data"));
    if (k->url.ptr != NULL)
      sb_openai_data_url(d->a, k->url, &k->media_type, &k->data);
    else
      k->url = sb_hub_jtext(sb_json_get(p, "file_url"));
  } else if (TYPE_IS(p, "input_audio")) {
    const sb_json_t *ia = sb_json_get(p, "input_audio");
    if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_AUDIO)) == NULL)
      return SB_ERROR;
    k->data = sb_hub_jtext(sb_json_get(ia, "data"));
    k->media_type = sb_hub_jtext(sb_json_get(ia, "format"));
  } else {
    /* refusal parts, and whatever comes next: the format's own */
    if ((k = sb_hub_blocks_add(d->a, b, SB_HUB_NATIVE)) == NULL)
      return SB_ERROR;
    k->native = p->raw;
    k->name = sb_hub_jtext(sb_json_get(p, "type"));
    k->format = SB_RESPONSES_FORMAT;
  }
  return SB_OK;
}

/* A string (one text block) or an array of parts into `b`. */
static sb_status_t content(sb_rs_items_t *d, sb_hub_blocks_t *b,
                           const sb_json_t *c)
{
  if (sb_json_is(c, SB_JSON_STRING)) {
    sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, SB_HUB_TEXT);
    if (k == NULL)
      return SB_ERROR;
    k->text = sb_hub_jtext(c);
    return SB_OK;
  }
  if (sb_json_is(c, SB_JSON_ARRAY))
    for (const sb_json_t *p = c->child; p != NULL; p = p->next)
      if (part(d, b, p) != SB_OK)
        return SB_ERROR;
  return SB_OK;
}

/* ---- items --------------------------------------------------------------------- */

static sb_status_t message(sb_rs_items_t *d, const sb_json_t *m)
{
  const sb_json_t *role = sb_json_get(m, "role");
  const sb_json_t *c = sb_json_get(m, "content");
  if (SB_JSON_STR_IS(role, "assistant")) {
    d->in_turn = true;
    return content(d, &d->turn, c);
  }
  sb_hub_role_t r;
  if (SB_JSON_STR_IS(role, "user"))
    r = SB_HUB_USER;
  else if (SB_JSON_STR_IS(role, "system"))
    r = SB_HUB_SYSTEM;
  else if (SB_JSON_STR_IS(role, "developer"))
    r = SB_HUB_DEVELOPER;
  else
    return refuse(d, "a message's 'role' must be user, assistant, system or "
                     "developer");
  sb_hub_blocks_t b = {0};
  if (sb_responses_end_turn(d) != SB_OK || content(d, &b, c) != SB_OK)
    return SB_ERROR;
  return sb_responses_add_msg(d, r, &b, sb_json_is(c, SB_JSON_STRING));
}

static sb_status_t function_call(sb_rs_items_t *d, const sb_json_t *x,
                                 bool custom)
{
  sb_hub_block_t *k = turn_block(d, SB_HUB_TOOL_CALL);
  if (k == NULL)
    return SB_ERROR;
  k->id = sb_hub_jtext(sb_json_get(x, "call_id"));
  k->name = sb_hub_jtext(sb_json_get(x, "name"));
  if (custom) {
    /* the function the custom tool was offered as takes {"input": ...} */
    const sb_json_t *in = sb_json_get(x, "input");
    sb_slice_t v = sb_json_is(in, SB_JSON_STRING) ? in->raw : SB_SLICE_LIT("\"\"");
    char *args = sb_arena_printf(d->a, "{\"input\":%.*s}", (int)v.len, v.ptr);
    if (args == NULL)
      return SB_ERROR;
    k->args = sb_slice_z(args);
    return SB_OK;
  }
  const sb_json_t *args = sb_json_get(x, "arguments");
  if (sb_json_is(args, SB_JSON_STRING))
    return sb_json_string(d->a, args, &k->args);
  return SB_OK;
}

/* The text of a reasoning item: its reasoning_text content when it has
 * some, else its summary texts (jtext, joined by a blank line). */
static sb_slice_t reasoning_text(sb_rs_items_t *d, const sb_json_t *x)
{
  const sb_json_t *parts = sb_json_get(x, "content");
  if (!sb_json_is(parts, SB_JSON_ARRAY) || parts->count == 0)
    parts = sb_json_get(x, "summary");
  if (!sb_json_is(parts, SB_JSON_ARRAY) || parts->count == 0)
    return SB_NULL_SLICE;
  if (parts->count == 1)
    return sb_hub_jtext(sb_json_get(parts->child, "text"));
  sb_buf_t b;
  sb_buf_init(&b, 0);
  for (const sb_json_t *p = parts->child; p != NULL; p = p->next) {
    if (b.len > 0)
      sb_buf_append(&b, SB_STRLIT("\\n\\n"));
    sb_buf_append_slice(&b, sb_hub_jtext(sb_json_get(p, "text")));
  }
  sb_slice_t s = sb_arena_slice_dup(d->a, sb_buf_slice(&b));
  sb_buf_free(&b);
  return s;
}

static sb_status_t reasoning(sb_rs_items_t *d, const sb_json_t *x)
{
  sb_slice_t data = sb_hub_jtext(sb_json_get(x, "encrypted_content"));
  sb_hub_block_t *k = turn_block(d, SB_HUB_REASONING);
  if (k == NULL)
    return SB_ERROR;
  if (data.len > 0 && sb_hub_opaque_read(d->a, data, k) == SB_OK) {
    /* another provider's, which switchboard handed out: its text is the
     * summary it came with */
    if (k->kind == SB_HUB_REASONING)
      k->text = reasoning_text(d, x);
    return SB_OK;
  }
  if (data.len > 0) {
    k->kind = SB_HUB_REDACTED;
    k->data = data;
    k->id = sb_hub_jtext(sb_json_get(x, "id"));
    k->sig_format = SB_HUB_SIG_OPENAI;
    return SB_OK;
  }
  k->text = reasoning_text(d, x);
  return SB_OK;
}

static sb_status_t tool_output(sb_rs_items_t *d, const sb_json_t *x)
{
  if (sb_responses_end_turn(d) != SB_OK)
    return SB_ERROR;
  sb_hub_blocks_t b = {0};
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, &b, SB_HUB_TOOL_RESULT);
  if (k == NULL)
    return SB_ERROR;
  k->id = sb_hub_jtext(sb_json_get(x, "call_id"));
  const sb_json_t *out = sb_json_get(x, "output");
  if (sb_json_is(out, SB_JSON_STRING)) {
    k->text = sb_hub_jtext(out);
  } else if (sb_json_is(out, SB_JSON_ARRAY)) {
    sb_hub_blocks_t parts = {0};
    if (content(d, &parts, out) != SB_OK)
      return SB_ERROR;
    k->parts = parts.v;
    k->n_parts = parts.n;
  }
  return sb_responses_add_msg(d, SB_HUB_TOOL, &b, false);
}

static sb_status_t item(sb_rs_items_t *d, const sb_json_t *x)
{
  const sb_json_t *type = sb_json_get(x, "type");
  /* a message may leave its type out */
  if (type == NULL || type->type == SB_JSON_NULL || TYPE_IS(x, "message"))
    return message(d, x);
  if (TYPE_IS(x, "function_call"))
    return function_call(d, x, false);
  if (TYPE_IS(x, "custom_tool_call"))
    return function_call(d, x, true);
  if (TYPE_IS(x, "reasoning"))
    return reasoning(d, x);
  if (TYPE_IS(x, "function_call_output") ||
      TYPE_IS(x, "custom_tool_call_output"))
    return tool_output(d, x);
  if (TYPE_IS(x, "item_reference"))
    return refuse(d, "an item_reference can only be resolved by a provider "
                     "that stores OpenAI's items: send the item itself, or "
                     "continue with previous_response_id");
  return SB_OK; /* a hosted tool's item: its provider's alone */
}

sb_status_t sb_responses_items(sb_rs_items_t *d, const sb_json_t *items)
{
  if (sb_json_is(items, SB_JSON_STRING)) {
    sb_hub_blocks_t b = {0};
    sb_hub_block_t *k = sb_hub_blocks_add(d->a, &b, SB_HUB_TEXT);
    if (k == NULL || sb_responses_end_turn(d) != SB_OK)
      return SB_ERROR;
    k->text = sb_hub_jtext(items);
    return sb_responses_add_msg(d, SB_HUB_USER, &b, true);
  }
  if (!sb_json_is(items, SB_JSON_ARRAY))
    return SB_OK;
  for (const sb_json_t *x = items->child; x != NULL; x = x->next) {
    sb_status_t rc = item(d, x);
    if (rc != SB_OK)
      return rc;
  }
  return SB_OK;
}

/* ---- custom tools' input ------------------------------------------------------- */

sb_slice_t sb_responses_custom_input(sb_arena_t *a, sb_slice_t args)
{
  sb_slice_t text;
  sb_json_t *obj;
  if (sb_hub_unescape(a, args, &text) == SB_OK &&
      sb_json_parse(a, text.ptr, text.len, 0, &obj, NULL) == SB_OK) {
    const sb_json_t *in = sb_json_get(obj, "input");
    if (sb_json_is(in, SB_JSON_STRING) && obj->count == 1)
      return sb_json_str_raw(in);
  }
  return args;
}
