/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI / OpenRouter chat door, request half: a chat.completions body
 * into the hub request (include/switchboard/hub.h).
 *
 * The body is checked against the chat schema first (chat_validate.c,
 * the door's `check`). The envelope (model, models, provider, stream, the
 * output cap) is read for every request; the conversation only when a
 * provider of another format needs it (a pass-through call forwards the
 * body itself). It reads what it finds and leaves out what it does not
 * know; it never trusts a type it did not check.
 *
 * OpenRouter's extensions are understood: `reasoning` ({effort,
 * max_tokens, exclude, enabled}) and the assistant's `reasoning_details`
 * (reasoning.text with a signature, reasoning.encrypted, in the format of
 * the provider that made them), `cache_control` on content parts and
 * tools, `top_k`. Anthropic's `thinking` ({type, budget_tokens}) is taken
 * as a reasoning budget.
 */
#include <stdio.h>

#include "chat_validate.h"
#include "openai.h"

typedef struct {
  sb_arena_t *a;
  char *why;
  size_t whylen;
} dec_t;

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

static sb_slice_t jtext(const sb_json_t *s)
{
  return is_str(s) ? sb_json_str_raw(s) : SB_NULL_SLICE;
}

static sb_slice_t raw_of(const sb_json_t *v)
{
  return v != NULL && v->type != SB_JSON_NULL ? v->raw : SB_NULL_SLICE;
}

static sb_status_t refuse(dec_t *d, const char *msg)
{
  snprintf(d->why, d->whylen, "%s", msg);
  return SB_DECLINED;
}

/* ---- envelope ------------------------------------------------------------ */

sb_status_t sb_openai_envelope(const sb_json_t *body, const char *door_format,
                               sb_arena_t *a, sb_hub_req_t *req, char *why,
                               size_t whylen)
{
  const sb_json_t *model = sb_json_get(body, "model");
  if (model == NULL || model->type == SB_JSON_NULL)
    /* OpenRouter allows `models` alone: the first is the primary. */
    model = sb_json_at(sb_json_get(body, "models"), 0);
  if (model != NULL && model->type != SB_JSON_NULL) {
    if (!is_str(model) || sb_json_string(a, model, &req->model) != SB_OK) {
      snprintf(why, whylen, "'model' must be a string");
      return SB_DECLINED;
    }
  }
  req->door_format = door_format;
  req->native = body;
  req->native_raw = body->raw;
  req->models = sb_json_get(body, "models");
  req->provider = sb_json_get(body, "provider");
  req->stream = sb_json_is(sb_json_get(body, "stream"), SB_JSON_TRUE);
  return SB_OK;
}

static sb_status_t chat_envelope(const sb_json_t *body, sb_arena_t *a,
                                 sb_hub_req_t *req, char *why, size_t whylen)
{
  sb_status_t rc = sb_openai_envelope(body, "openai", a, req, why, whylen);
  if (rc != SB_OK)
    return rc;
  int64_t v;
  if (sb_json_int64(sb_json_get(body, "max_completion_tokens"), &v) == SB_OK &&
      v > 0)
    req->max_tokens = v;
  else if (sb_json_int64(sb_json_get(body, "max_tokens"), &v) == SB_OK && v > 0)
    req->max_tokens = v;
  return SB_OK;
}

/* ---- content ------------------------------------------------------------- */

/* A growing array of blocks in the arena. */
typedef struct {
  sb_hub_block_t *v;
  size_t n, cap;
} blocks_t;

static sb_hub_block_t *add(dec_t *d, blocks_t *b, sb_hub_block_kind_t kind)
{
  if (b->n == b->cap) {
    size_t cap = b->cap == 0 ? 4 : b->cap * 2;
    sb_hub_block_t *v = sb_arena_alloc(d->a, cap * sizeof(*v));
    if (v == NULL)
      return NULL;
    if (b->n > 0)
      memcpy(v, b->v, b->n * sizeof(*v));
    b->v = v;
    b->cap = cap;
  }
  sb_hub_block_t *k = &b->v[b->n++];
  memset(k, 0, sizeof(*k));
  k->kind = kind;
  return k;
}

/* Whether every byte of s is one of base64's (either alphabet) or of a
 * media type's: nothing a JSON string would escape. */
static bool data_url_safe(sb_slice_t s)
{
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || strchr("+/=-_.;", c) != NULL))
      return false;
  }
  return true;
}

void sb_openai_data_url(sb_arena_t *a, sb_slice_t url_jtext, sb_slice_t *media,
                        sb_slice_t *data)
{
  sb_slice_t u;
  *media = *data = SB_NULL_SLICE;
  if (!sb_slice_starts(url_jtext, SB_STRLIT("data:")) ||
      sb_json_unescape(a, url_jtext, &u) != SB_OK)
    return;
  const char *comma = memchr(u.ptr, ',', u.len);
  size_t head = comma != NULL ? (size_t)(comma - u.ptr) : 0;
  if (comma == NULL || head < 12 || memcmp(comma - 7, ";base64", 7) != 0)
    return;
  sb_slice_t m = sb_slice(u.ptr + 5, head - 5 - 7);
  sb_slice_t b = sb_slice(comma + 1, u.len - head - 1);
  if (!data_url_safe(m) || !data_url_safe(b))
    return;
  *media = m;
  *data = b;
}

/* One content part (a string is a text part). */
static sb_status_t part(dec_t *d, blocks_t *b, const sb_json_t *p)
{
  sb_hub_block_t *k;
  if (is_str(p)) {
    if ((k = add(d, b, SB_HUB_TEXT)) == NULL)
      return SB_ERROR;
    k->text = jtext(p);
    return SB_OK;
  }
  const sb_json_t *type = sb_json_get(p, "type");
  if (SB_JSON_STR_IS(type, "text")) {
    if ((k = add(d, b, SB_HUB_TEXT)) == NULL)
      return SB_ERROR;
    k->text = jtext(sb_json_get(p, "text"));
  } else if (SB_JSON_STR_IS(type, "image_url")) {
    const sb_json_t *iu = sb_json_get(p, "image_url");
    const sb_json_t *url = is_str(iu) ? iu : sb_json_get(iu, "url");
    if ((k = add(d, b, SB_HUB_IMAGE)) == NULL)
      return SB_ERROR;
    k->url = jtext(url);
    k->detail = jtext(sb_json_get(iu, "detail"));
    sb_openai_data_url(d->a, k->url, &k->media_type, &k->data);
  } else if (SB_JSON_STR_IS(type, "input_audio")) {
    const sb_json_t *ia = sb_json_get(p, "input_audio");
    if ((k = add(d, b, SB_HUB_AUDIO)) == NULL)
      return SB_ERROR;
    k->data = jtext(sb_json_get(ia, "data"));
    k->media_type = jtext(sb_json_get(ia, "format"));
  } else if (SB_JSON_STR_IS(type, "file")) {
    const sb_json_t *f = sb_json_get(p, "file");
    if ((k = add(d, b, SB_HUB_FILE)) == NULL)
      return SB_ERROR;
    k->id = jtext(sb_json_get(f, "file_id"));
    k->name = jtext(sb_json_get(f, "filename"));
    k->url = jtext(sb_json_get(f, "file_data"));
    sb_openai_data_url(d->a, k->url, &k->media_type, &k->data);
  } else {
    /* refusal parts, and whatever comes next: OpenAI's own */
    if ((k = add(d, b, SB_HUB_NATIVE)) == NULL)
      return SB_ERROR;
    k->native = p->raw;
    k->name = jtext(type);
    k->format = "openai";
  }
  k->cache_control = raw_of(sb_json_get(p, "cache_control"));
  return SB_OK;
}

static sb_status_t content(dec_t *d, blocks_t *b, const sb_json_t *c)
{
  if (is_str(c))
    return part(d, b, c);
  if (sb_json_is(c, SB_JSON_ARRAY))
    for (const sb_json_t *p = c->child; p != NULL; p = p->next)
      if (part(d, b, p) != SB_OK)
        return SB_ERROR;
  return SB_OK;
}

/* OpenRouter's reasoning_details format names. */
static sb_hub_sig_t sig_format(const sb_json_t *f, const char **other)
{
  *other = NULL;
  if (f == NULL || f->type == SB_JSON_NULL)
    return SB_HUB_SIG_NONE;
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_ANTHROPIC))
    return SB_HUB_SIG_ANTHROPIC;
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_GEMINI))
    return SB_HUB_SIG_GEMINI;
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_RESPONSES))
    return SB_HUB_SIG_OPENAI;
  return SB_HUB_SIG_OTHER;
}

/* An assistant's reasoning_details, in order: reasoning.text (with or
 * without a signature) and reasoning.encrypted; summaries are shown text,
 * not replayed. */
static sb_status_t reasoning_details(dec_t *d, blocks_t *b,
                                     const sb_json_t *details)
{
  for (const sb_json_t *x = details->child; x != NULL; x = x->next) {
    const sb_json_t *type = sb_json_get(x, "type");
    const sb_json_t *fmt = sb_json_get(x, "format");
    sb_hub_block_t *k;
    const char *other;
    sb_hub_sig_t sf = sig_format(fmt, &other);
    if (SB_JSON_STR_IS(type, "reasoning.text")) {
      if ((k = add(d, b, SB_HUB_REASONING)) == NULL)
        return SB_ERROR;
      k->text = jtext(sb_json_get(x, "text"));
      k->signature = jtext(sb_json_get(x, "signature"));
    } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
      if ((k = add(d, b, SB_HUB_REDACTED)) == NULL)
        return SB_ERROR;
      k->data = jtext(sb_json_get(x, "data"));
      k->id = jtext(sb_json_get(x, "id"));
    } else {
      continue;
    }
    k->sig_format = sf;
    if (sf == SB_HUB_SIG_OTHER)
      k->format = sb_arena_strndup(d->a, fmt->raw.ptr + 1, fmt->raw.len - 2);
  }
  return SB_OK;
}

/* The arguments string of a tool call, unescaped: the arguments' JSON text
 * as the client wrote it (a format that needs an object checks it). */
static sb_status_t tool_calls(dec_t *d, blocks_t *b, const sb_json_t *calls)
{
  for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
    const sb_json_t *fn = sb_json_get(tc, "function");
    const sb_json_t *args = sb_json_get(fn, "arguments");
    sb_hub_block_t *k = add(d, b, SB_HUB_TOOL_CALL);
    if (k == NULL)
      return SB_ERROR;
    k->id = jtext(sb_json_get(tc, "id"));
    k->name = jtext(sb_json_get(fn, "name"));
    if (is_str(args)) {
      if (sb_json_string(d->a, args, &k->args) != SB_OK)
        return SB_ERROR;
    } else if (sb_json_is(args, SB_JSON_OBJECT)) {
      k->args = args->raw;
    }
  }
  return SB_OK;
}

static sb_status_t message(dec_t *d, const sb_json_t *m, sb_hub_msg_t *out)
{
  const sb_json_t *role = sb_json_get(m, "role");
  const sb_json_t *c = sb_json_get(m, "content");
  blocks_t b = {0};
  memset(out, 0, sizeof(*out));
  out->name = jtext(sb_json_get(m, "name"));
  out->plain = is_str(c);
  if (SB_JSON_STR_IS(role, "system") || SB_JSON_STR_IS(role, "developer")) {
    out->role = SB_JSON_STR_IS(role, "system") ? SB_HUB_SYSTEM
                                               : SB_HUB_DEVELOPER;
    if (content(d, &b, c) != SB_OK)
      return SB_ERROR;
  } else if (SB_JSON_STR_IS(role, "user")) {
    out->role = SB_HUB_USER;
    if (content(d, &b, c) != SB_OK)
      return SB_ERROR;
  } else if (SB_JSON_STR_IS(role, "assistant")) {
    out->role = SB_HUB_ASSISTANT;
    const sb_json_t *details = sb_json_get(m, "reasoning_details");
    const sb_json_t *reasoning = sb_json_get(m, "reasoning");
    if (sb_json_is(details, SB_JSON_ARRAY) && details->count > 0) {
      if (reasoning_details(d, &b, details) != SB_OK)
        return SB_ERROR;
    } else if (is_str(reasoning) && reasoning->raw.len > 2) {
      sb_hub_block_t *k = add(d, &b, SB_HUB_REASONING);
      if (k == NULL)
        return SB_ERROR;
      k->text = jtext(reasoning);
    }
    if (content(d, &b, c) != SB_OK)
      return SB_ERROR;
    const sb_json_t *calls = sb_json_get(m, "tool_calls");
    if (sb_json_is(calls, SB_JSON_ARRAY) && tool_calls(d, &b, calls) != SB_OK)
      return SB_ERROR;
  } else if (SB_JSON_STR_IS(role, "tool")) {
    out->role = SB_HUB_TOOL;
    sb_hub_block_t *k = add(d, &b, SB_HUB_TOOL_RESULT);
    if (k == NULL)
      return SB_ERROR;
    k->id = jtext(sb_json_get(m, "tool_call_id"));
    k->name = out->name;
    k->is_error = sb_json_truthy(sb_json_get(m, "is_error"));
    if (is_str(c)) {
      k->text = jtext(c);
    } else if (sb_json_is(c, SB_JSON_ARRAY)) {
      blocks_t parts = {0};
      if (content(d, &parts, c) != SB_OK)
        return SB_ERROR;
      k->parts = parts.v;
      k->n_parts = parts.n;
    }
  } else {
    return refuse(d, "unknown message role (system, developer, user, "
                     "assistant and tool are understood)");
  }
  out->blocks = b.v;
  out->n_blocks = b.n;
  return SB_OK;
}

/* ---- tools and settings ---------------------------------------------------- */

static sb_status_t tools(dec_t *d, sb_hub_req_t *req, const sb_json_t *list)
{
  req->tools_given = sb_json_is(list, SB_JSON_ARRAY);
  if (!req->tools_given || list->count == 0)
    return SB_OK;
  sb_hub_tool_t *t = sb_arena_calloc(d->a, list->count * sizeof(*t));
  if (t == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next, n++) {
    const sb_json_t *fn = sb_json_get(x, "function");
    t[n].cache_control = raw_of(sb_json_get(x, "cache_control"));
    t[n].strict = -1;
    if (SB_JSON_STR_IS(sb_json_get(x, "type"), "function") &&
        is_str(sb_json_get(fn, "name"))) {
      const sb_json_t *strict = sb_json_get(fn, "strict");
      t[n].kind = SB_HUB_TOOL_FUNCTION;
      t[n].name = jtext(sb_json_get(fn, "name"));
      t[n].description = jtext(sb_json_get(fn, "description"));
      t[n].parameters = raw_of(sb_json_get(fn, "parameters"));
      if (sb_json_is(strict, SB_JSON_TRUE) || sb_json_is(strict, SB_JSON_FALSE))
        t[n].strict = sb_json_is(strict, SB_JSON_TRUE);
    } else {
      t[n].kind = SB_HUB_TOOL_NATIVE;
      t[n].native = x->raw;
      t[n].name = jtext(sb_json_get(x, "type"));
      t[n].format = "openai";
    }
  }
  req->tools = t;
  req->n_tools = n;
  return SB_OK;
}

static void tool_choice(sb_hub_req_t *req, const sb_json_t *c)
{
  if (c == NULL || c->type == SB_JSON_NULL)
    return;
  if (SB_JSON_STR_IS(c, "auto"))
    req->choice = SB_HUB_CHOICE_AUTO;
  else if (SB_JSON_STR_IS(c, "none"))
    req->choice = SB_HUB_CHOICE_NONE;
  else if (SB_JSON_STR_IS(c, "required"))
    req->choice = SB_HUB_CHOICE_REQUIRED;
  else if (is_str(sb_json_get(sb_json_get(c, "function"), "name"))) {
    req->choice = SB_HUB_CHOICE_TOOL;
    req->choice_name = jtext(sb_json_get(sb_json_get(c, "function"), "name"));
  }
}

void sb_openai_output_format(sb_hub_req_t *req, const sb_json_t *type,
                             const sb_json_t *schema)
{
  if (SB_JSON_STR_IS(type, "text")) {
    req->response_format = SB_HUB_FORMAT_TEXT;
  } else if (SB_JSON_STR_IS(type, "json_object")) {
    req->response_format = SB_HUB_FORMAT_JSON;
  } else if (SB_JSON_STR_IS(type, "json_schema")) {
    const sb_json_t *strict = sb_json_get(schema, "strict");
    req->response_format = SB_HUB_FORMAT_JSON_SCHEMA;
    req->schema = raw_of(sb_json_get(schema, "schema"));
    req->schema_name = jtext(sb_json_get(schema, "name"));
    if (sb_json_is(strict, SB_JSON_TRUE) || sb_json_is(strict, SB_JSON_FALSE))
      req->schema_strict = sb_json_is(strict, SB_JSON_TRUE);
  } else if (is_str(type)) {
    req->response_format = SB_HUB_FORMAT_OTHER;
  }
}

static void response_format(sb_hub_req_t *req, const sb_json_t *rf)
{
  sb_openai_output_format(req, sb_json_get(rf, "type"),
                          sb_json_get(rf, "json_schema"));
}

/* `reasoning` (OpenRouter), `reasoning_effort` (OpenAI) and `thinking`
 * (Anthropic's, as some clients send it to any model). */
static void reasoning(sb_hub_req_t *req, const sb_json_t *body)
{
  sb_hub_reasoning_t *r = &req->reasoning;
  const sb_json_t *ro = sb_json_get(body, "reasoning");
  const sb_json_t *th = sb_json_get(body, "thinking");
  int64_t v;
  r->enabled = -1;
  if (sb_json_is(ro, SB_JSON_OBJECT)) {
    const sb_json_t *en = sb_json_get(ro, "enabled");
    r->effort = sb_openai_effort(sb_json_get(ro, "effort"));
    if (sb_json_int64(sb_json_get(ro, "max_tokens"), &v) == SB_OK && v > 0)
      r->budget = v;
    r->exclude = sb_json_is(sb_json_get(ro, "exclude"), SB_JSON_TRUE);
    if (sb_json_is(en, SB_JSON_FALSE))
      r->enabled = 0;
    else if (sb_json_is(en, SB_JSON_TRUE) || r->effort != SB_HUB_EFFORT_UNSET ||
             r->budget > 0)
      r->enabled = 1;
  }
  if (r->effort == SB_HUB_EFFORT_UNSET) {
    r->effort = sb_openai_effort(sb_json_get(body, "reasoning_effort"));
    if (r->effort != SB_HUB_EFFORT_UNSET && r->enabled < 0)
      r->enabled = 1;
  }
  if (r->enabled < 0 && sb_json_is(th, SB_JSON_OBJECT)) {
    const sb_json_t *type = sb_json_get(th, "type");
    if (SB_JSON_STR_IS(type, "enabled") || SB_JSON_STR_IS(type, "adaptive")) {
      r->enabled = 1;
      if (sb_json_int64(sb_json_get(th, "budget_tokens"), &v) == SB_OK && v > 0)
        r->budget = v;
    } else if (SB_JSON_STR_IS(type, "disabled")) {
      r->enabled = 0;
    }
  }
  if (r->effort == SB_HUB_EFFORT_NONE)
    r->enabled = 0;
}

static void number(sb_hub_num_t *n, const sb_json_t *v)
{
  if (!sb_json_is(v, SB_JSON_NUMBER) || sb_json_double(v, &n->value) != SB_OK)
    return;
  n->set = true;
  n->raw = v->raw;
}

static sb_status_t stop(dec_t *d, sb_hub_req_t *req, const sb_json_t *s)
{
  if (is_str(s)) {
    sb_slice_t *v = sb_arena_alloc(d->a, sizeof(*v));
    if (v == NULL)
      return SB_ERROR;
    *v = jtext(s);
    req->stop = v;
    req->n_stop = 1;
  } else if (sb_json_is(s, SB_JSON_ARRAY) && s->count > 0) {
    sb_slice_t *v = sb_arena_alloc(d->a, s->count * sizeof(*v));
    if (v == NULL)
      return SB_ERROR;
    size_t n = 0;
    for (const sb_json_t *x = s->child; x != NULL; x = x->next)
      if (is_str(x))
        v[n++] = jtext(x);
    req->stop = v;
    req->n_stop = n;
  }
  return SB_OK;
}

static sb_status_t chat_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                               size_t whylen)
{
  dec_t d = {a, why, whylen};
  const sb_json_t *body = req->native;
  if (req->decoded)
    return SB_OK;
  const sb_json_t *msgs = sb_json_get(body, "messages");
  if (!sb_json_is(msgs, SB_JSON_ARRAY))
    return refuse(&d, "'messages' must be an array");
  sb_hub_msg_t *m = sb_arena_calloc(a, (msgs->count + 1) * sizeof(*m));
  if (m == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = msgs->child; x != NULL; x = x->next) {
    sb_status_t rc = message(&d, x, &m[n]);
    if (rc != SB_OK)
      return rc;
    n++;
  }
  req->msgs = m;
  req->n_msgs = n;
  if (tools(&d, req, sb_json_get(body, "tools")) != SB_OK ||
      stop(&d, req, sb_json_get(body, "stop")) != SB_OK)
    return SB_ERROR;
  tool_choice(req, sb_json_get(body, "tool_choice"));
  const sb_json_t *ptc = sb_json_get(body, "parallel_tool_calls");
  req->parallel_tool_calls =
      sb_json_is(ptc, SB_JSON_TRUE) ? 1 : sb_json_is(ptc, SB_JSON_FALSE) ? 0 : -1;
  req->schema_strict = -1;
  response_format(req, sb_json_get(body, "response_format"));
  reasoning(req, body);
  number(&req->temperature, sb_json_get(body, "temperature"));
  number(&req->top_p, sb_json_get(body, "top_p"));
  number(&req->top_k, sb_json_get(body, "top_k"));
  number(&req->presence_penalty, sb_json_get(body, "presence_penalty"));
  number(&req->frequency_penalty, sb_json_get(body, "frequency_penalty"));
  number(&req->seed, sb_json_get(body, "seed"));
  int64_t v;
  if (sb_json_int64(sb_json_get(body, "n"), &v) == SB_OK)
    req->n = v;
  req->user = jtext(sb_json_get(body, "user"));
  req->verbosity = jtext(sb_json_get(body, "verbosity"));
  req->service_tier = jtext(sb_json_get(body, "service_tier"));
  req->metadata = raw_of(sb_json_get(body, "metadata"));
  req->decoded = true;
  return SB_OK;
}

static sb_status_t chat_check(const sb_json_t *body, char *why, size_t whylen)
{
  return sb_chat_validate(body, why, whylen) == SB_OK ? SB_OK : SB_DECLINED;
}

const sb_codec_door_t sb_openai_chat_door = {
    .check = chat_check,
    .envelope = chat_envelope,
    .decode = chat_decode,
    .encoder = &sb_openai_chat_encoder,
};
