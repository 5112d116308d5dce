/* SPDX-License-Identifier: MIT */
/*
 * The Gemini door, answer half: hub events into a GenerateContentResponse
 * (a whole answer), its SSE stream (streamGenerateContent?alt=sse: each
 * event `data: {...}\r\n\r\n`, a whole GenerateContentResponse with the
 * parts since the last one), or Google's streamed JSON array (without
 * alt=sse: `[{...},\r\n{...}]`, the same responses as its elements).
 *
 * - Text deltas are text parts, reasoning deltas thought parts ("thought":
 *   true), shown only when the client asked (thinkingConfig.
 *   includeThoughts), as Gemini does.
 * - Tool calls are functionCall parts with their id, name and args (the
 *   arguments object; {} when the provider's are not one). Gemini sends a
 *   call whole, so a stream holds a call's arguments until the calls end:
 *   the calls go out with the next text, or with the last chunk.
 * - Reasoning of another format (a signed thinking block, redacted or
 *   encrypted reasoning) rides as the thoughtSignature of the next part
 *   that is not a thought (opaque.c); a Gemini signature (from a provider
 *   that relays Gemini, OpenRouter) as it is. When nothing follows, an
 *   empty text part carries it.
 * - Every streamed chunk carries the usage so far, as Google's do: the
 *   prompt (the provider's count when it gave one at the start, else the
 *   estimate of the request) and the output so far estimated; the last
 *   chunk, with finishReason, the provider's figures.
 * - The last chunk has finishReason (from the finish table) and the
 *   usage; a stream that failed after its first byte ends with a chunk
 *   holding only {"error": {code, message, status}}.
 *
 * On the pass-through path (the provider speaks Gemini too) the
 * provider's events and body are written as they came; only a stream
 * that failed gets the gateway's own error chunk at its end.
 */
#include <stdio.h>

#include "gemini.h"

#define MAX_TOOLS 128
#define MAX_PARTS 4096
#define MAX_CARRIED 64
#define MAX_STORE (128u << 20)
#define MAX_ARGS (16u << 20)

/* Reasoning waiting for a part to ride on. */
typedef struct {
  bool redacted;
  sb_slice_t text, sig, id; /* jtext, in the arena */
  sb_hub_sig_t format;
} carried_t;

typedef struct {
  int64_t index;
  sb_slice_t id, name; /* jtext, in the arena */
  sb_buf_t args;       /* jtext */
  sb_slice_t sig;      /* its thoughtSignature (a JSON string), or none */
  bool written;        /* a stream sent it */
} gtool_t;

enum { P_TEXT, P_THOUGHT, P_CALL };

/* A part of a whole answer. */
typedef struct {
  uint8_t kind;
  size_t off, len; /* P_TEXT, P_THOUGHT: the text in the store */
  size_t tool;     /* P_CALL */
  sb_slice_t sig;  /* thoughtSignature (a JSON string), or none */
} gpart_t;

typedef struct {
  sb_arena_t *a;
  const sb_hub_req_t *req;
  const sb_answer_names_t *names;
  bool stream, passthrough, registered;
  bool array;         /* a stream as Google's JSON array */
  bool show_thoughts; /* includeThoughts */
  carried_t carried[MAX_CARRIED];
  size_t n_carried;
  sb_buf_t reasoning; /* the reasoning block's text so far (jtext) */
  gtool_t *tools;     /* MAX_TOOLS, in the arena, on first use */
  size_t n_tools;
  sb_finish_t finish;
  sb_slice_t native;
  sb_buf_t tmp;
  /* a stream */
  size_t n_chunks;
  uint64_t prompt, out_bytes;
  /* a whole answer */
  sb_buf_t store;
  gpart_t *parts; /* MAX_PARTS, in the arena, on first use */
  size_t n_parts;
  int64_t current; /* the part text or thoughts go on in; -1 none */
} ge_t;

static void enc_free(void *data)
{
  ge_t *e = data;
  sb_buf_free(&e->reasoning);
  sb_buf_free(&e->store);
  sb_buf_free(&e->tmp);
  for (size_t i = 0; e->tools != NULL && i < MAX_TOOLS; i++)
    sb_buf_free(&e->tools[i].args);
}

static void begin(ge_t *e, sb_arena_t *a, const sb_hub_req_t *req,
                  const sb_answer_names_t *names, bool stream,
                  bool passthrough)
{
  if (!e->registered) {
    sb_buf_init(&e->reasoning, MAX_STORE);
    sb_buf_init(&e->store, MAX_STORE);
    sb_buf_init(&e->tmp, MAX_STORE);
    e->registered = sb_arena_on_destroy(a, enc_free, e) == SB_OK;
  }
  sb_buf_reset(&e->reasoning);
  sb_buf_reset(&e->store);
  for (size_t i = 0; e->tools != NULL && i < e->n_tools; i++)
    sb_buf_reset(&e->tools[i].args);
  e->a = a;
  e->req = req;
  e->names = names;
  e->stream = stream;
  e->passthrough = passthrough;
  e->show_thoughts =
      req != NULL &&
      sb_json_is(sb_json_get(sb_json_get(sb_json_get(req->native,
                                                     "generationConfig"),
                                         "thinkingConfig"),
                             "includeThoughts"),
                 SB_JSON_TRUE);
  e->n_carried = e->n_tools = e->n_chunks = e->n_parts = 0;
  e->finish = SB_FINISH_NONE;
  e->native = SB_NULL_SLICE;
  e->prompt = 0;
  e->out_bytes = 0;
  e->current = -1;
}

static void begin_sse(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                      const sb_answer_names_t *names, bool stream,
                      bool passthrough)
{
  ge_t *e = st;
  begin(e, a, req, names, stream, passthrough);
  e->array = false;
}

static void begin_array(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                        const sb_answer_names_t *names, bool stream,
                        bool passthrough)
{
  ge_t *e = st;
  begin(e, a, req, names, stream, passthrough);
  e->array = true;
}

/* ---- signatures --------------------------------------------------------------- */

static sb_status_t carry(ge_t *e, bool redacted, sb_slice_t text,
                         const sb_hub_event_t *ev)
{
  if (e->n_carried == MAX_CARRIED)
    return SB_ERROR;
  carried_t *c = &e->carried[e->n_carried++];
  c->redacted = redacted;
  c->text = sb_arena_slice_dup(e->a, text);
  c->sig = sb_arena_slice_dup(e->a, ev->text);
  c->id = sb_arena_slice_dup(e->a, ev->id);
  c->format = ev->sig_format;
  return (c->text.ptr != NULL || text.len == 0) &&
                 (c->sig.ptr != NULL || ev->text.len == 0)
             ? SB_OK
             : SB_ERROR;
}

/* The thoughtSignature of what waits, as a JSON string in the arena (none
 * when nothing does): a Gemini signature alone as it is, else the sealed
 * payload. */
static sb_status_t take_signature(ge_t *e, sb_slice_t *out)
{
  *out = SB_NULL_SLICE;
  if (e->n_carried == 0)
    return SB_OK;
  sb_buf_reset(&e->tmp);
  if (e->n_carried == 1 && e->carried[0].redacted &&
      e->carried[0].format == SB_HUB_SIG_GEMINI) {
    sb_buf_append(&e->tmp, "\"", 1);
    sb_buf_append_slice(&e->tmp, e->carried[0].sig);
    sb_buf_append(&e->tmp, "\"", 1);
  } else {
    sb_buf_t entries;
    sb_jw_t w;
    sb_buf_init(&entries, MAX_STORE);
    sb_jw_init(&w, &entries);
    sb_jw_arr_begin(&w);
    for (size_t i = 0; i < e->n_carried; i++) {
      const carried_t *c = &e->carried[i];
      sb_gemini_rd_entry(&w, c->redacted, c->text, c->sig, c->id, c->format);
    }
    sb_jw_arr_end(&w);
    sb_status_t rc = sb_jw_status(&w) == SB_OK
                         ? sb_gemini_rd_seal(sb_buf_slice(&entries), &e->tmp)
                         : SB_ERROR;
    sb_buf_free(&entries);
    if (rc != SB_OK)
      return SB_ERROR;
  }
  e->n_carried = 0;
  *out = sb_arena_slice_dup(e->a, sb_buf_slice(&e->tmp));
  return out->ptr != NULL ? SB_OK : SB_ERROR;
}

/* A REDACTED Gemini signature that names a call not sent yet goes on it. */
static bool signature_for_call(ge_t *e, const sb_hub_event_t *ev)
{
  if (ev->sig_format != SB_HUB_SIG_GEMINI || ev->id.len == 0)
    return false;
  for (size_t i = 0; i < e->n_tools; i++) {
    gtool_t *t = &e->tools[i];
    if (!t->written && t->sig.ptr == NULL && sb_slice_eq(t->id, ev->id)) {
      const char *s = sb_arena_printf(e->a, "\"%.*s\"", (int)ev->text.len,
                                      ev->text.ptr != NULL ? ev->text.ptr : "");
      t->sig = s != NULL ? sb_slice_z(s) : SB_NULL_SLICE;
      return s != NULL;
    }
  }
  return false;
}

/* The reasoning events: a signature or opaque reasoning waits for a part;
 * the reasoning text is kept for the signature that follows it. */
static sb_status_t reasoning_event(ge_t *e, const sb_hub_event_t *ev)
{
  sb_status_t rc = SB_OK;
  if (ev->kind == SB_HUB_EV_REASONING)
    return sb_buf_append_slice(&e->reasoning, ev->text);
  if (ev->kind == SB_HUB_EV_SIGNATURE)
    rc = carry(e, false, sb_buf_slice(&e->reasoning), ev);
  else if (!signature_for_call(e, ev))
    rc = carry(e, true, SB_NULL_SLICE, ev);
  sb_buf_reset(&e->reasoning);
  return rc;
}

/* ---- tool calls ----------------------------------------------------------------- */

static gtool_t *tool_at(ge_t *e, const sb_hub_event_t *ev)
{
  if (e->tools == NULL) {
    e->tools = sb_arena_calloc(e->a, MAX_TOOLS * sizeof(*e->tools));
    if (e->tools == NULL)
      return NULL;
    for (size_t i = 0; i < MAX_TOOLS; i++)
      sb_buf_init(&e->tools[i].args, MAX_ARGS);
  }
  for (size_t i = 0; i < e->n_tools; i++)
    if (e->tools[i].index == ev->index)
      return &e->tools[i];
  if (e->n_tools == MAX_TOOLS)
    return NULL;
  gtool_t *t = &e->tools[e->n_tools++];
  sb_buf_reset(&t->args);
  t->index = ev->index;
  t->id = t->name = t->sig = SB_NULL_SLICE;
  t->written = false;
  return t;
}

static sb_status_t tool_event(ge_t *e, const sb_hub_event_t *ev)
{
  gtool_t *t = tool_at(e, ev);
  if (t == NULL)
    return SB_ERROR;
  sb_buf_reset(&e->reasoning);
  if (ev->kind == SB_HUB_EV_TOOL_ARGS)
    return sb_buf_append_slice(&t->args, ev->text);
  if (t->id.len == 0)
    t->id = sb_arena_slice_dup(e->a, ev->id);
  if (t->name.len == 0)
    t->name = sb_arena_slice_dup(e->a, ev->name);
  if (t->sig.ptr == NULL && take_signature(e, &t->sig) != SB_OK)
    return SB_ERROR;
  return SB_OK;
}

/* {"functionCall":{"id","name","args"},"thoughtSignature"?} */
static void write_call(ge_t *e, sb_jw_t *w, const gtool_t *t)
{
  sb_slice_t args = sb_buf_slice(&t->args), bytes;
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionCall");
  sb_jw_obj_begin(w);
  if (t->id.len > 0) {
    sb_jw_key_lit(w, "id");
    sb_jw_str_raw(w, t->id.ptr, t->id.len);
  }
  sb_jw_key_lit(w, "name");
  sb_jw_str_raw(w, t->name.ptr != NULL ? t->name.ptr : "", t->name.len);
  sb_jw_key_lit(w, "args");
  bool written = false;
  if (args.len > 0 && sb_hub_unescape(e->a, args, &bytes) == SB_OK) {
    bytes = sb_slice_trim(bytes);
    if (bytes.len > 0 && bytes.ptr[0] == '{' &&
        sb_json_validate(bytes.ptr, bytes.len, 0, NULL) == SB_OK) {
      sb_jw_raw(w, bytes.ptr, bytes.len);
      written = true;
    }
  }
  if (!written)
    sb_jw_raw(w, SB_STRLIT("{}"));
  sb_jw_obj_end(w);
  if (t->sig.len > 0)
    sb_jw_kv_raw(w, SB_STRLIT("thoughtSignature"), t->sig.ptr, t->sig.len);
  sb_jw_obj_end(w);
}

/* ---- the response object ----------------------------------------------------------- */

static void write_usage(sb_jw_t *w, const sb_usage_t *u)
{
  uint64_t thoughts = u->reasoning <= u->completion ? u->reasoning : 0;
  sb_jw_key_lit(w, "usageMetadata");
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("promptTokenCount"), (int64_t)u->prompt);
  sb_jw_kv_int(w, SB_STRLIT("candidatesTokenCount"),
               (int64_t)(u->completion - thoughts));
  sb_jw_kv_int(w, SB_STRLIT("totalTokenCount"),
               (int64_t)(u->prompt + u->completion));
  if (u->cached > 0)
    sb_jw_kv_int(w, SB_STRLIT("cachedContentTokenCount"), (int64_t)u->cached);
  sb_jw_key_lit(w, "promptTokensDetails");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("modality"), SB_STRLIT("TEXT"));
  sb_jw_kv_int(w, SB_STRLIT("tokenCount"), (int64_t)u->prompt);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  if (thoughts > 0)
    sb_jw_kv_int(w, SB_STRLIT("thoughtsTokenCount"), (int64_t)thoughts);
  sb_jw_obj_end(w);
}

/* {"candidates":[{"content":{"parts":[ ... up to the first part. */
static void response_begin(sb_jw_t *w)
{
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "candidates");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "content");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "parts");
  sb_jw_arr_begin(w);
}

/* ... ]}, finishReason?, index}], usageMetadata, modelVersion, responseId} */
static void response_end(ge_t *e, sb_jw_t *w, const char *finish,
                         const sb_usage_t *u)
{
  sb_jw_arr_end(w);
  sb_jw_kv_str(w, SB_STRLIT("role"), SB_STRLIT("model"));
  sb_jw_obj_end(w);
  if (finish != NULL)
    sb_jw_kv_str(w, SB_STRLIT("finishReason"), finish, strlen(finish));
  sb_jw_kv_int(w, SB_STRLIT("index"), 0);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  write_usage(w, u);
  if (e->names->model.len > 0)
    sb_jw_kv_raw(w, SB_STRLIT("modelVersion"), e->names->model.ptr,
                 e->names->model.len);
  if (e->names->id.len > 0)
    sb_jw_kv_raw(w, SB_STRLIT("responseId"), e->names->id.ptr,
                 e->names->id.len);
  sb_jw_obj_end(w);
}

static void text_part(sb_jw_t *w, sb_slice_t text, bool thought,
                      sb_slice_t sig)
{
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "text");
  sb_jw_str_raw(w, text.ptr != NULL ? text.ptr : "", text.len);
  if (thought)
    sb_jw_kv_raw(w, SB_STRLIT("thought"), SB_STRLIT("true"));
  if (sig.len > 0)
    sb_jw_kv_raw(w, SB_STRLIT("thoughtSignature"), sig.ptr, sig.len);
  sb_jw_obj_end(w);
}

static const char *finish_name(sb_finish_t f)
{
  const char *name = sb_gemini_finish_out(f);
  return name != NULL ? name : "STOP";
}

/* ---- a stream ---------------------------------------------------------------------- */

/* A stream element's framing: `data: ` for SSE; `[` or `,\r\n` in an
 * array. */
static sb_status_t element_open(ge_t *e, sb_buf_t *out)
{
  if (!e->array)
    return sb_buf_append(out, SB_STRLIT("data: "));
  return e->n_chunks++ == 0 ? sb_buf_append(out, "[", 1)
                            : sb_buf_append(out, SB_STRLIT(",\r\n"));
}

static sb_status_t element_close(ge_t *e, sb_buf_t *out)
{
  return e->array ? SB_OK : sb_buf_append(out, SB_STRLIT("\r\n\r\n"));
}

static void chunk_begin(ge_t *e, sb_jw_t *w, sb_buf_t *out)
{
  element_open(e, out);
  sb_jw_init(w, out);
  response_begin(w);
}

/* The usage while streaming: the prompt, and the output so far. */
static sb_status_t chunk_end(ge_t *e, sb_jw_t *w, sb_buf_t *out,
                             const char *finish, const sb_usage_t *u)
{
  /* the request is decoded once a provider of another format is tried */
  if (e->prompt == 0 && e->req != NULL && e->req->decoded)
    e->prompt = sb_hub_estimate_input(e->req);
  sb_usage_t running = {.prompt = e->prompt,
                        .completion = sb_usage_estimate(e->out_bytes)};
  response_end(e, w, finish, u != NULL ? u : &running);
  if (sb_jw_status(w) != SB_OK)
    return SB_ERROR;
  return element_close(e, out);
}

/* The calls not sent yet, as parts of the chunk being written. */
static void pending_calls(ge_t *e, sb_jw_t *w)
{
  for (size_t i = 0; i < e->n_tools; i++)
    if (!e->tools[i].written) {
      write_call(e, w, &e->tools[i]);
      e->tools[i].written = true;
    }
}

/* A chunk with one text or thought part (after the calls that wait). */
static sb_status_t stream_text(ge_t *e, const sb_hub_event_t *ev,
                               sb_buf_t *out)
{
  bool thought = ev->kind == SB_HUB_EV_REASONING;
  sb_slice_t sig = SB_NULL_SLICE;
  sb_jw_t w;
  if (ev->text.len == 0 || (thought && !e->show_thoughts))
    return SB_OK;
  if (!thought && take_signature(e, &sig) != SB_OK)
    return SB_ERROR;
  e->out_bytes += ev->text.len;
  chunk_begin(e, &w, out);
  pending_calls(e, &w);
  text_part(&w, ev->text, thought, sig);
  return chunk_end(e, &w, out, NULL, NULL);
}

static sb_status_t stream_event(ge_t *e, const sb_hub_event_t *ev,
                                sb_buf_t *out)
{
  switch (ev->kind) {
  case SB_HUB_EV_START:
    if (ev->has_usage && ev->usage.prompt > 0)
      e->prompt = ev->usage.prompt;
    return SB_OK;
  case SB_HUB_EV_TEXT:
    if (ev->text.len > 0)
      sb_buf_reset(&e->reasoning);
    return stream_text(e, ev, out);
  case SB_HUB_EV_REASONING:
    if (reasoning_event(e, ev) != SB_OK)
      return SB_ERROR;
    return stream_text(e, ev, out);
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED:
    return reasoning_event(e, ev);
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS:
    e->out_bytes += ev->text.len + ev->name.len;
    return tool_event(e, ev);
  default:
    return SB_OK; /* the end writes the rest */
  }
}

/* The last chunk: the calls that wait, what reasoning still waits for a
 * part, the finish and the usage. */
static sb_status_t stream_last(ge_t *e, const sb_answer_end_t *end,
                               sb_buf_t *out)
{
  sb_slice_t sig;
  sb_jw_t w;
  if (take_signature(e, &sig) != SB_OK)
    return SB_ERROR;
  chunk_begin(e, &w, out);
  pending_calls(e, &w);
  if (sig.len > 0)
    text_part(&w, SB_SLICE_LIT(""), false, sig);
  return chunk_end(e, &w, out,
                   finish_name(e->finish != SB_FINISH_NONE ? e->finish
                                                           : end->finish),
                   end->usage);
}

/* {"error":{...}} as the stream's last element. */
static sb_status_t stream_error(ge_t *e, const sb_answer_end_t *end,
                                sb_buf_t *out)
{
  sb_slice_t m = end->error_message;
  if (element_open(e, out) != SB_OK ||
      sb_gemini_error_body(out, end->error_status,
                           m.ptr != NULL ? m : SB_SLICE_LIT("")) != SB_OK)
    return SB_ERROR;
  return element_close(e, out);
}

static sb_status_t stream_end(ge_t *e, const sb_answer_end_t *end,
                              sb_buf_t *out)
{
  sb_status_t rc = SB_OK;
  if (end->error_status != 0)
    rc = stream_error(e, end, out);
  else if (!e->passthrough)
    rc = stream_last(e, end, out);
  if (rc != SB_OK || !e->array)
    return rc;
  if (e->n_chunks == 0 && sb_buf_append(out, "[", 1) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, "]", 1);
}

/* ---- a whole answer ------------------------------------------------------------------ */

static gpart_t *new_part(ge_t *e, uint8_t kind)
{
  if (e->parts == NULL &&
      (e->parts = sb_arena_calloc(e->a, MAX_PARTS * sizeof(*e->parts))) ==
          NULL)
    return NULL;
  if (e->n_parts == MAX_PARTS)
    return NULL;
  gpart_t *p = &e->parts[e->n_parts];
  memset(p, 0, sizeof(*p));
  p->kind = kind;
  p->off = e->store.len;
  e->current = (int64_t)e->n_parts++;
  return p;
}

/* Text or thoughts: on in the current part of that kind (whose text is
 * the store's end), else in a new one (with the signature that waits). */
static sb_status_t gather_text(ge_t *e, const sb_hub_event_t *ev)
{
  uint8_t kind = ev->kind == SB_HUB_EV_TEXT ? P_TEXT : P_THOUGHT;
  gpart_t *p = e->current >= 0 ? &e->parts[e->current] : NULL;
  if (ev->text.len == 0 || (kind == P_THOUGHT && !e->show_thoughts))
    return SB_OK;
  if (p == NULL || p->kind != kind ||
      (kind == P_TEXT && e->n_carried > 0)) {
    if ((p = new_part(e, kind)) == NULL)
      return SB_ERROR;
    if (kind == P_TEXT && take_signature(e, &p->sig) != SB_OK)
      return SB_ERROR;
  }
  p->len += ev->text.len;
  return sb_buf_append_slice(&e->store, ev->text);
}

static sb_status_t gather(ge_t *e, const sb_hub_event_t *ev)
{
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    if (ev->text.len > 0)
      sb_buf_reset(&e->reasoning);
    return gather_text(e, ev);
  case SB_HUB_EV_REASONING:
    if (reasoning_event(e, ev) != SB_OK)
      return SB_ERROR;
    return gather_text(e, ev);
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED:
    e->current = -1;
    return reasoning_event(e, ev);
  case SB_HUB_EV_TOOL_START: {
    size_t before = e->n_tools;
    if (tool_event(e, ev) != SB_OK)
      return SB_ERROR;
    if (e->n_tools > before) {
      gpart_t *p = new_part(e, P_CALL);
      if (p == NULL)
        return SB_ERROR;
      p->tool = e->n_tools - 1;
    }
    e->current = -1;
    return SB_OK;
  }
  case SB_HUB_EV_TOOL_ARGS:
    return tool_event(e, ev);
  case SB_HUB_EV_BLOCK_STOP:
    e->current = -1;
    return SB_OK;
  case SB_HUB_EV_NATIVE:
    /* the provider's own body (the pass-through path) */
    sb_buf_reset(&e->store);
    return sb_buf_append_slice(&e->store, ev->text);
  default:
    return SB_OK;
  }
}

static sb_status_t whole_end(ge_t *e, const sb_answer_end_t *end,
                             sb_buf_t *out)
{
  sb_jw_t w;
  sb_slice_t sig;
  if (e->passthrough)
    return sb_buf_append_slice(out, sb_buf_slice(&e->store));
  if (take_signature(e, &sig) != SB_OK)
    return SB_ERROR;
  sb_jw_init(&w, out);
  response_begin(&w);
  for (size_t i = 0; i < e->n_parts; i++) {
    const gpart_t *p = &e->parts[i];
    if (p->kind == P_CALL)
      write_call(e, &w, &e->tools[p->tool]);
    else
      text_part(&w, sb_slice(e->store.data + p->off, p->len),
                p->kind == P_THOUGHT, p->sig);
  }
  if (sig.len > 0)
    text_part(&w, SB_SLICE_LIT(""), false, sig);
  response_end(e, &w,
               finish_name(e->finish != SB_FINISH_NONE ? e->finish
                                                       : end->finish),
               end->usage);
  return sb_jw_status(&w);
}

/* ---- the face ------------------------------------------------------------------------ */

static sb_status_t enc_event(void *st, const sb_hub_event_t *ev, sb_buf_t *out)
{
  ge_t *e = st;
  if (ev->kind == SB_HUB_EV_FINISH) {
    e->finish = ev->finish;
    e->native = sb_arena_slice_dup(e->a, ev->native);
    return SB_OK;
  }
  if (e->passthrough) {
    /* the provider's own bytes say it all */
    if (ev->kind != SB_HUB_EV_NATIVE)
      return SB_OK;
    if (!e->stream)
      return gather(e, ev);
    if (element_open(e, out) != SB_OK ||
        sb_buf_append_slice(out, ev->text) != SB_OK)
      return SB_ERROR;
    return element_close(e, out);
  }
  return e->stream ? stream_event(e, ev, out) : gather(e, ev);
}

static sb_status_t enc_end(void *st, const sb_answer_end_t *end, sb_buf_t *out)
{
  ge_t *e = st;
  return e->stream ? stream_end(e, end, out) : whole_end(e, end, out);
}

/* ---- errors -------------------------------------------------------------------------- */

const char *sb_gemini_status_name(int status)
{
  switch (status) {
  case 400:
  case 413:
  case 422: return "INVALID_ARGUMENT";
  case 401: return "UNAUTHENTICATED";
  case 402: return "FAILED_PRECONDITION";
  case 403: return "PERMISSION_DENIED";
  case 404: return "NOT_FOUND";
  case 405: return "UNIMPLEMENTED";
  case 408:
  case 504: return "DEADLINE_EXCEEDED";
  case 409: return "ABORTED";
  case 429: return "RESOURCE_EXHAUSTED";
  case 499: return "CANCELLED";
  case 501: return "UNIMPLEMENTED";
  case 502:
  case 503:
  case 529: return "UNAVAILABLE";
  default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

sb_status_t sb_gemini_error_body(sb_buf_t *b, int status, sb_slice_t msg)
{
  const char *name = sb_gemini_status_name(status);
  sb_jw_t w;
  sb_jw_init(&w, b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("code"), status);
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg.ptr != NULL ? msg.ptr : "",
               msg.len);
  sb_jw_kv_str(&w, SB_STRLIT("status"), name, strlen(name));
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* An error before anything was sent, with the status as it is (Google's
 * codes are HTTP's). */
static void enc_error(const sb_answer_error_t *err, int *status, sb_buf_t *out)
{
  sb_gemini_error_body(out, *status, err->message);
}

const sb_codec_encoder_t sb_gemini_encoder = {
    .state_size = sizeof(ge_t),
    .begin = begin_sse,
    .stream_type = "text/event-stream",
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
};

const sb_codec_encoder_t sb_gemini_array_encoder = {
    .state_size = sizeof(ge_t),
    .begin = begin_array,
    .stream_type = "application/json",
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
};
