/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages door, answer half: hub events into the Messages
 * stream (message_start, content_block_start / _delta / _stop,
 * message_delta, message_stop, or an `error` event; each written with its
 * `event:` and `data:` lines) or one `message` object.
 *
 * Blocks get dense indexes in the order they appear: thinking
 * (thinking_delta, then signature_delta), text (text_delta), each tool
 * call (tool_use with input {}, then input_json_delta with the argument
 * bytes as they come), redacted_thinking (start and stop, no delta). A
 * block closes when the output switches to another kind, after a
 * signature, or at the provider's block stop. A Messages stream cannot
 * interleave blocks: when a provider interleaves the arguments of parallel
 * tool calls, the call whose block is open streams live and the others'
 * pieces wait for their block (at the end at the latest), so every input
 * is exact.
 *
 * Reasoning Anthropic cannot replay (another format's signature or
 * encrypted reasoning) goes out as a redacted_thinking block carrying it
 * (opaque.c), which the client sends back.
 *
 * On the pass-through path (the provider speaks Messages too) the
 * provider's events and body are written as they came; only a stream
 * that failed gets the gateway's own `error` event at its end.
 */
#include <stdio.h>

#include "anthropic.h"

#define MAX_TOOLS 128
#define MAX_BLOCKS 4096
#define MAX_STORE (128u << 20)
#define MAX_PENDING (64u << 20)

/* Bytes of a block or a waiting tool call: runs of the store. */
typedef struct piece {
  size_t off, len;
  struct piece *next;
} piece_t;

typedef struct {
  piece_t *head, *tail;
  size_t len;
} pieces_t;

typedef struct {
  int64_t index;       /* the hub's */
  sb_slice_t id, name; /* jtext, in the arena */
  int32_t block;       /* its block; -1 while it waits (a stream) or has
                          none yet (a whole answer) */
  bool closed;
  pieces_t args; /* a stream: the pieces waiting; whole: all */
} tool_t;

enum { W_TEXT, W_THINKING, W_REDACTED, W_TOOL };

/* A block of a whole answer. */
typedef struct {
  uint8_t kind;
  bool signed_;     /* W_THINKING: its signature came (it is closed) */
  pieces_t text;    /* W_TEXT, W_THINKING */
  sb_slice_t extra; /* W_THINKING: the signature (jtext); W_REDACTED:
                       the data as a JSON string */
  size_t tool;      /* W_TOOL: its tools[] entry */
} wblock_t;

enum { OPEN_NONE, OPEN_TEXT, OPEN_THINKING, OPEN_TOOL };

typedef struct {
  sb_arena_t *a;
  const sb_hub_req_t *req;
  const sb_answer_names_t *names;
  sb_slice_t msg_id; /* jtext */
  bool stream, passthrough, registered;
  sb_buf_t store; /* pieces' bytes; a whole pass-through answer's body */
  sb_buf_t tmp;   /* pieces gathered */
  tool_t *tools;  /* MAX_TOOLS, in the arena, on first use */
  size_t n_tools;
  sb_finish_t finish;
  sb_slice_t native; /* jtext, in the arena */
  /* a stream */
  bool started;
  uint64_t input; /* message_start's input tokens */
  int open;       /* OPEN_* */
  bool signed_;   /* the open thinking block has its signature */
  size_t open_tool;
  size_t next_block;
  size_t pending; /* bytes of tool calls waiting */
  /* a whole answer */
  wblock_t *blocks; /* MAX_BLOCKS, in the arena, on first use */
  size_t n_blocks;
  int64_t current; /* the block text or reasoning goes on in; -1 none */
} an_enc_t;

static void enc_free(void *data)
{
  an_enc_t *e = data;
  sb_buf_free(&e->store);
  sb_buf_free(&e->tmp);
}

static void enc_begin(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                      const sb_answer_names_t *names, bool stream,
                      bool passthrough)
{
  an_enc_t *e = st;
  if (!e->registered) {
    sb_buf_init(&e->store, MAX_STORE);
    sb_buf_init(&e->tmp, MAX_STORE);
    e->registered = sb_arena_on_destroy(a, enc_free, e) == SB_OK;
  }
  sb_buf_reset(&e->store);
  e->a = a;
  e->req = req;
  e->names = names;
  sb_slice_t id = names->id;
  e->msg_id = SB_SLICE_LIT("msg_");
  if (id.len >= 2 && id.ptr[0] == '"') {
    const char *m =
        sb_arena_printf(a, "msg_%.*s", (int)(id.len - 2), id.ptr + 1);
    if (m != NULL)
      e->msg_id = sb_slice_z(m);
  }
  e->stream = stream;
  e->passthrough = passthrough;
  e->n_tools = e->n_blocks = 0;
  e->finish = SB_FINISH_NONE;
  e->native = SB_NULL_SLICE;
  e->started = false;
  /* the estimate, until the provider says (the real figure is in
   * message_delta) */
  e->input = req != NULL && req->decoded ? sb_hub_estimate_input(req) : 0;
  e->open = OPEN_NONE;
  e->signed_ = false;
  e->next_block = e->pending = 0;
  e->current = -1;
}

/* ---- pieces ------------------------------------------------------------- */

static sb_status_t add_piece(an_enc_t *e, pieces_t *p, sb_slice_t s)
{
  piece_t *x = sb_arena_alloc(e->a, sizeof(*x));
  if (x == NULL)
    return SB_ERROR;
  x->off = e->store.len;
  x->len = s.len;
  x->next = NULL;
  if (sb_buf_append_slice(&e->store, s) != SB_OK)
    return SB_ERROR;
  if (p->tail != NULL)
    p->tail->next = x;
  else
    p->head = x;
  p->tail = x;
  p->len += s.len;
  return SB_OK;
}

/* The pieces joined (in e->tmp, until the next call). */
static sb_slice_t joined(an_enc_t *e, const pieces_t *p)
{
  sb_buf_reset(&e->tmp);
  for (const piece_t *x = p->head; x != NULL; x = x->next)
    if (x->len > 0 &&
        sb_buf_append(&e->tmp, e->store.data + x->off, x->len) != SB_OK)
      return SB_NULL_SLICE;
  return sb_slice(e->tmp.data != NULL ? e->tmp.data : "", e->tmp.len);
}

static tool_t *tool_at(an_enc_t *e, const sb_hub_event_t *ev)
{
  if (e->tools == NULL &&
      (e->tools = sb_arena_calloc(e->a, MAX_TOOLS * sizeof(*e->tools))) == NULL)
    return NULL;
  for (size_t i = 0; i < e->n_tools; i++)
    if (e->tools[i].index == ev->index)
      return &e->tools[i];
  if (e->n_tools == MAX_TOOLS)
    return NULL;
  tool_t *t = &e->tools[e->n_tools++];
  memset(t, 0, sizeof(*t));
  t->index = ev->index;
  t->block = -1;
  return t;
}

/* A tool call's id and name, from its start. */
static sb_status_t name_tool(an_enc_t *e, tool_t *t, const sb_hub_event_t *ev)
{
  if (ev->kind != SB_HUB_EV_TOOL_START)
    return SB_OK;
  if (t->id.len == 0)
    t->id = sb_arena_slice_dup(e->a, ev->id);
  if (t->name.len == 0)
    t->name = sb_arena_slice_dup(e->a, ev->name);
  return (t->id.ptr != NULL || ev->id.len == 0) &&
                 (t->name.ptr != NULL || ev->name.len == 0)
             ? SB_OK
             : SB_ERROR;
}

static bool native_sig(const sb_hub_event_t *ev)
{
  return sb_anthropic_sig_native(ev->sig_format);
}

/* The answer's id: the generation's with "msg_" before it. */
static void message_id(an_enc_t *e, sb_jw_t *w)
{
  sb_jw_key_lit(w, "id");
  sb_jw_str_raw(w, e->msg_id.ptr, e->msg_id.len);
}

static void write_usage(sb_jw_t *w, const sb_usage_t *u)
{
  static const sb_usage_t none;
  if (u == NULL)
    u = &none;
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

/* ---- a stream: framing -------------------------------------------------- */

/* An event's lines up to its data's first member, `type` (the event's
 * name, a literal). */
static void ev_begin(sb_jw_t *w, sb_buf_t *out, const char *name)
{
  size_t n = strlen(name);
  sb_buf_append(out, SB_STRLIT("event: "));
  sb_buf_append(out, name, n);
  sb_buf_append(out, SB_STRLIT("\ndata: "));
  sb_jw_init(w, out);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "type");
  sb_jw_str_raw(w, name, n);
}

static sb_status_t ev_end(sb_jw_t *w, sb_buf_t *out)
{
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\n\n"));
}

static sb_status_t start(an_enc_t *e, sb_buf_t *out)
{
  sb_jw_t w;
  if (e->started)
    return SB_OK;
  e->started = true;
  ev_begin(&w, out, "message_start");
  sb_jw_key_lit(&w, "message");
  sb_jw_obj_begin(&w);
  message_id(e, &w);
  sb_jw_kv_lit(&w, "type", "message");
  sb_jw_kv_lit(&w, "role", "assistant");
  sb_jw_key_lit(&w, "model");
  if (e->names->model.len > 0)
    sb_jw_raw(&w, e->names->model.ptr, e->names->model.len);
  else
    sb_jw_str(&w, "", 0);
  sb_jw_key_lit(&w, "content");
  sb_jw_raw(&w, SB_STRLIT("[]"));
  sb_jw_key_lit(&w, "stop_reason");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_usage_t u = {.prompt = e->input};
  sb_jw_key_lit(&w, "usage");
  write_usage(&w, &u);
  sb_jw_obj_end(&w);
  return ev_end(&w, out);
}

static sb_status_t block_stop(an_enc_t *e, sb_buf_t *out)
{
  sb_jw_t w;
  if (e->open == OPEN_NONE)
    return SB_OK;
  SB_INVARIANT(e->next_block > 0); /* an open block was started */
  if (e->open == OPEN_TOOL) {
    SB_INVARIANT(e->open_tool < e->n_tools);
    e->tools[e->open_tool].closed = true;
  }
  e->open = OPEN_NONE;
  ev_begin(&w, out, "content_block_stop");
  sb_jw_kv_int(&w, SB_STRLIT("index"), (int64_t)e->next_block - 1);
  return ev_end(&w, out);
}

/* content_block_start for a new block, up to its content_block's first
 * member; block_start_end closes it. */
static void block_start_begin(an_enc_t *e, sb_jw_t *w, sb_buf_t *out)
{
  block_stop(e, out);
  ev_begin(w, out, "content_block_start");
  sb_jw_kv_int(w, SB_STRLIT("index"), (int64_t)e->next_block++);
  sb_jw_key_lit(w, "content_block");
  sb_jw_obj_begin(w);
}

static sb_status_t block_start_end(sb_jw_t *w, sb_buf_t *out)
{
  sb_jw_obj_end(w);
  return ev_end(w, out);
}

/* content_block_delta with one string member, from a jtext. */
static sb_status_t delta(an_enc_t *e, sb_buf_t *out, const char *type,
                         const char *field, sb_slice_t text)
{
  sb_jw_t w;
  ev_begin(&w, out, "content_block_delta");
  sb_jw_kv_int(&w, SB_STRLIT("index"), (int64_t)e->next_block - 1);
  sb_jw_key_lit(&w, "delta");
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "type");
  sb_jw_str_raw(&w, type, strlen(type));
  sb_jw_key_raw(&w, field, strlen(field));
  sb_jw_str_raw(&w, text.ptr != NULL ? text.ptr : "", text.len);
  sb_jw_obj_end(&w);
  return ev_end(&w, out);
}

static sb_status_t open_text(an_enc_t *e, sb_buf_t *out)
{
  sb_jw_t w;
  if (e->open == OPEN_TEXT)
    return SB_OK;
  block_start_begin(e, &w, out);
  sb_jw_kv_lit(&w, "type", "text");
  sb_jw_kv_str(&w, SB_STRLIT("text"), "", 0);
  e->open = OPEN_TEXT;
  return block_start_end(&w, out);
}

/* The open thinking block, or a new one when it has its signature. */
static sb_status_t open_thinking(an_enc_t *e, sb_buf_t *out)
{
  sb_jw_t w;
  if (e->open == OPEN_THINKING && !e->signed_)
    return SB_OK;
  block_start_begin(e, &w, out);
  sb_jw_kv_lit(&w, "type", "thinking");
  sb_jw_kv_str(&w, SB_STRLIT("thinking"), "", 0);
  sb_jw_kv_str(&w, SB_STRLIT("signature"), "", 0);
  e->open = OPEN_THINKING;
  e->signed_ = false;
  return block_start_end(&w, out);
}

/* A redacted_thinking block, whole: Anthropic's data, or another format's
 * reasoning carried. */
static sb_status_t redacted(an_enc_t *e, sb_buf_t *out,
                            const sb_hub_event_t *ev)
{
  sb_jw_t w;
  block_start_begin(e, &w, out);
  sb_jw_kv_lit(&w, "type", "redacted_thinking");
  sb_jw_key_lit(&w, "data");
  if (ev->kind == SB_HUB_EV_REDACTED && native_sig(ev))
    sb_jw_str_raw(&w, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
  else
    sb_hub_opaque_write(&w, ev);
  if (block_start_end(&w, out) != SB_OK)
    return SB_ERROR;
  e->open = OPEN_THINKING; /* no deltas: it ends at once */
  return block_stop(e, out);
}

/* The tool call's block opens, with the pieces that waited for it. */
static sb_status_t open_tool(an_enc_t *e, sb_buf_t *out, tool_t *t)
{
  sb_jw_t w;
  block_start_begin(e, &w, out);
  sb_jw_kv_lit(&w, "type", "tool_use");
  sb_jw_key_lit(&w, "id");
  sb_jw_str_raw(&w, t->id.ptr != NULL ? t->id.ptr : "", t->id.len);
  sb_jw_key_lit(&w, "name");
  sb_jw_str_raw(&w, t->name.ptr != NULL ? t->name.ptr : "", t->name.len);
  sb_jw_key_lit(&w, "input");
  sb_jw_raw(&w, SB_STRLIT("{}"));
  if (block_start_end(&w, out) != SB_OK)
    return SB_ERROR;
  e->open = OPEN_TOOL;
  e->open_tool = (size_t)(t - e->tools);
  t->block = (int32_t)e->next_block - 1;
  if (t->args.len == 0)
    return SB_OK;
  sb_slice_t waited = joined(e, &t->args);
  e->pending -= t->args.len;
  memset(&t->args, 0, sizeof(t->args));
  if (e->pending == 0)
    sb_buf_reset(&e->store); /* a stream keeps nothing else there */
  if (waited.ptr == NULL)
    return SB_ERROR;
  return delta(e, out, "input_json_delta", "partial_json", waited);
}

/* A tool call's start or a piece of its arguments. */
static sb_status_t stream_tool(an_enc_t *e, const sb_hub_event_t *ev,
                               sb_buf_t *out)
{
  tool_t *t = tool_at(e, ev);
  if (t == NULL || name_tool(e, t, ev) != SB_OK)
    return SB_ERROR; /* more calls than a stream can hold apart */
  bool live = e->open == OPEN_TOOL && &e->tools[e->open_tool] == t;
  if (ev->kind == SB_HUB_EV_TOOL_ARGS && live)
    return delta(e, out, "input_json_delta", "partial_json", ev->text);
  if (t->block >= 0)
    return SB_OK; /* a piece after its block closed has no Messages form
                     (text came between pieces of one call): left out */
  if (ev->kind == SB_HUB_EV_TOOL_ARGS) {
    if (e->pending + ev->text.len > MAX_PENDING ||
        add_piece(e, &t->args, ev->text) != SB_OK)
      return SB_ERROR;
    e->pending += ev->text.len;
  }
  /* its block opens unless another call's is open */
  return e->open != OPEN_TOOL ? open_tool(e, out, t) : SB_OK;
}

static sb_status_t stream_event(an_enc_t *e, const sb_hub_event_t *ev,
                                sb_buf_t *out)
{
  switch (ev->kind) {
  case SB_HUB_EV_START:
    if (ev->has_usage && !e->started) {
      uint64_t cached = ev->usage.cached + ev->usage.cache_write;
      e->input = ev->usage.prompt > cached ? ev->usage.prompt - cached : 0;
    }
    return start(e, out);
  case SB_HUB_EV_TEXT:
    if (ev->text.len == 0)
      return SB_OK;
    if (start(e, out) != SB_OK || open_text(e, out) != SB_OK)
      return SB_ERROR;
    return delta(e, out, "text_delta", "text", ev->text);
  case SB_HUB_EV_REASONING:
    if (ev->text.len == 0)
      return SB_OK;
    if (start(e, out) != SB_OK || open_thinking(e, out) != SB_OK)
      return SB_ERROR;
    return delta(e, out, "thinking_delta", "thinking", ev->text);
  case SB_HUB_EV_SIGNATURE:
    if (start(e, out) != SB_OK)
      return SB_ERROR;
    if (!native_sig(ev))
      return redacted(e, out, ev);
    if (open_thinking(e, out) != SB_OK)
      return SB_ERROR;
    e->signed_ = true;
    return delta(e, out, "signature_delta", "signature", ev->text);
  case SB_HUB_EV_REDACTED:
    if (start(e, out) != SB_OK)
      return SB_ERROR;
    return redacted(e, out, ev);
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS:
    if (ev->kind == SB_HUB_EV_TOOL_ARGS && ev->text.len == 0)
      return SB_OK;
    if (start(e, out) != SB_OK)
      return SB_ERROR;
    return stream_tool(e, ev, out);
  case SB_HUB_EV_BLOCK_STOP:
    return block_stop(e, out);
  case SB_HUB_EV_FINISH:
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_ERROR:
  case SB_HUB_EV_NATIVE:
    return SB_OK; /* the end writes them */
  }
  return SB_OK;
}

/* ---- a whole answer ----------------------------------------------------- */

static wblock_t *new_block(an_enc_t *e, uint8_t kind)
{
  if (e->blocks == NULL && (e->blocks = sb_arena_calloc(
                                e->a, MAX_BLOCKS * sizeof(*e->blocks))) == NULL)
    return NULL;
  if (e->n_blocks == MAX_BLOCKS)
    return NULL;
  wblock_t *b = &e->blocks[e->n_blocks];
  memset(b, 0, sizeof(*b));
  b->kind = kind;
  e->current = (int64_t)e->n_blocks++;
  return b;
}

/* The block text or reasoning goes on in: the current one when it is of
 * that kind (and, for thinking, not signed yet), else a new one. */
static wblock_t *block_for(an_enc_t *e, uint8_t kind)
{
  if (e->current >= 0) {
    wblock_t *b = &e->blocks[e->current];
    if (b->kind == kind && !b->signed_)
      return b;
  }
  return new_block(e, kind);
}

/* A redacted_thinking block's data, as a JSON string, in the arena. */
static sb_status_t redacted_data(an_enc_t *e, wblock_t *b,
                                 const sb_hub_event_t *ev)
{
  sb_jw_t w;
  sb_buf_reset(&e->tmp);
  sb_jw_init(&w, &e->tmp);
  if (ev->kind == SB_HUB_EV_REDACTED && native_sig(ev))
    sb_jw_str_raw(&w, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
  else
    sb_hub_opaque_write(&w, ev);
  if (sb_jw_status(&w) != SB_OK)
    return SB_ERROR;
  b->extra = sb_arena_slice_dup(e->a, sb_buf_slice(&e->tmp));
  e->current = -1;
  return b->extra.ptr != NULL ? SB_OK : SB_ERROR;
}

static sb_status_t gather(an_enc_t *e, const sb_hub_event_t *ev)
{
  wblock_t *b;
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
  case SB_HUB_EV_REASONING:
    if (ev->text.len == 0)
      return SB_OK;
    b = block_for(e, ev->kind == SB_HUB_EV_TEXT ? W_TEXT : W_THINKING);
    return b != NULL ? add_piece(e, &b->text, ev->text) : SB_ERROR;
  case SB_HUB_EV_SIGNATURE:
    if (!native_sig(ev)) {
      b = new_block(e, W_REDACTED);
      return b != NULL ? redacted_data(e, b, ev) : SB_ERROR;
    }
    if ((b = block_for(e, W_THINKING)) == NULL)
      return SB_ERROR;
    b->signed_ = true;
    b->extra = sb_arena_slice_dup(e->a, ev->text);
    return b->extra.ptr != NULL || ev->text.len == 0 ? SB_OK : SB_ERROR;
  case SB_HUB_EV_REDACTED:
    b = new_block(e, W_REDACTED);
    return b != NULL ? redacted_data(e, b, ev) : SB_ERROR;
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS: {
    tool_t *t = tool_at(e, ev);
    if (t == NULL || name_tool(e, t, ev) != SB_OK)
      return SB_ERROR;
    if (t->block < 0) {
      if ((b = new_block(e, W_TOOL)) == NULL)
        return SB_ERROR;
      b->tool = (size_t)(t - e->tools);
      t->block = (int32_t)(e->n_blocks - 1);
    }
    e->current = -1;
    return ev->kind == SB_HUB_EV_TOOL_ARGS ? add_piece(e, &t->args, ev->text)
                                           : SB_OK;
  }
  case SB_HUB_EV_BLOCK_STOP:
    e->current = -1;
    return SB_OK;
  case SB_HUB_EV_NATIVE:
    /* the provider's own body (the pass-through path) */
    sb_buf_reset(&e->store);
    return sb_buf_append_slice(&e->store, ev->text);
  case SB_HUB_EV_START:
  case SB_HUB_EV_FINISH:
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_ERROR:
    return SB_OK;
  }
  return SB_OK;
}

/* A tool call's input: its arguments when they are a JSON object, else
 * {} (Anthropic's input is always an object). */
static void write_input(an_enc_t *e, sb_jw_t *w, const tool_t *t)
{
  sb_slice_t args = joined(e, &t->args), bytes;
  sb_json_error_t err;
  if (args.len > 0 && sb_hub_unescape(e->a, args, &bytes) == SB_OK) {
    bytes = sb_slice_trim(bytes);
    if (bytes.len > 0 && bytes.ptr[0] == '{' &&
        sb_json_validate(bytes.ptr, bytes.len, 0, &err) == SB_OK) {
      sb_jw_raw(w, bytes.ptr, bytes.len);
      return;
    }
  }
  sb_jw_raw(w, SB_STRLIT("{}"));
}

static void write_block(an_enc_t *e, sb_jw_t *w, const wblock_t *b)
{
  sb_slice_t s;
  sb_jw_obj_begin(w);
  switch (b->kind) {
  case W_TEXT:
    s = joined(e, &b->text);
    sb_jw_kv_lit(w, "type", "text");
    sb_jw_key_lit(w, "text");
    sb_jw_str_raw(w, s.ptr != NULL ? s.ptr : "", s.len);
    break;
  case W_THINKING:
    s = joined(e, &b->text);
    sb_jw_kv_lit(w, "type", "thinking");
    sb_jw_key_lit(w, "thinking");
    sb_jw_str_raw(w, s.ptr != NULL ? s.ptr : "", s.len);
    sb_jw_key_lit(w, "signature");
    sb_jw_str_raw(w, b->extra.ptr != NULL ? b->extra.ptr : "", b->extra.len);
    break;
  case W_REDACTED:
    sb_jw_kv_lit(w, "type", "redacted_thinking");
    sb_jw_kv_raw(w, SB_STRLIT("data"), b->extra.ptr, b->extra.len);
    break;
  case W_TOOL: {
    const tool_t *t = &e->tools[b->tool];
    sb_jw_kv_lit(w, "type", "tool_use");
    sb_jw_key_lit(w, "id");
    sb_jw_str_raw(w, t->id.ptr != NULL ? t->id.ptr : "", t->id.len);
    sb_jw_key_lit(w, "name");
    sb_jw_str_raw(w, t->name.ptr != NULL ? t->name.ptr : "", t->name.len);
    sb_jw_key_lit(w, "input");
    write_input(e, w, t);
    break;
  }
  }
  sb_jw_obj_end(w);
}

static sb_status_t whole_end(an_enc_t *e, const sb_answer_end_t *end,
                             sb_buf_t *out)
{
  sb_jw_t w;
  if (e->passthrough)
    return sb_buf_append_slice(out, sb_buf_slice(&e->store));
  const char *sr = sb_anthropic_stop_reason(e->finish, e->native);
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  message_id(e, &w);
  sb_jw_kv_lit(&w, "type", "message");
  sb_jw_kv_lit(&w, "role", "assistant");
  sb_jw_kv_raw(&w, SB_STRLIT("model"), e->names->model.ptr,
               e->names->model.len);
  sb_jw_key_lit(&w, "content");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < e->n_blocks; i++)
    write_block(e, &w, &e->blocks[i]);
  sb_jw_arr_end(&w);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), sr, strlen(sr));
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "usage");
  write_usage(&w, end->usage);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- the face ----------------------------------------------------------- */

static sb_status_t enc_event(void *st, const sb_hub_event_t *ev, sb_buf_t *out)
{
  an_enc_t *e = st;
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
    sb_slice_t name = ev->name.len > 0 ? ev->name : SB_SLICE_LIT("message");
    if (sb_buf_append(out, SB_STRLIT("event: ")) != SB_OK ||
        sb_buf_append_slice(out, name) != SB_OK ||
        sb_buf_append(out, SB_STRLIT("\ndata: ")) != SB_OK ||
        sb_buf_append_slice(out, ev->text) != SB_OK)
      return SB_ERROR;
    return sb_buf_append(out, SB_STRLIT("\n\n"));
  }
  return e->stream ? stream_event(e, ev, out) : gather(e, ev);
}

/* `event: error`, ending a stream that failed after its first byte. */
static sb_status_t stream_error(const sb_answer_end_t *end, sb_buf_t *out)
{
  sb_slice_t m = end->error_message;
  bool overloaded = end->error_status == 529 || end->error_status == 503 ||
                    (m.len > 0 && memmem(m.ptr, m.len, SB_STRLIT("verloaded")));
  if (sb_buf_append(out, SB_STRLIT("event: error\ndata: ")) != SB_OK ||
      sb_anthropic_error_body(out,
                              overloaded ? "overloaded_error" : "api_error",
                              m.ptr != NULL ? m.ptr : "", m.len) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\n\n"));
}

static sb_status_t stream_end(an_enc_t *e, const sb_answer_end_t *end,
                              sb_buf_t *out)
{
  sb_jw_t w;
  if (e->passthrough) /* the provider's stream has its own ending */
    return end->error_status != 0 ? stream_error(end, out) : SB_OK;
  if (start(e, out) != SB_OK)
    return SB_ERROR;
  if (end->error_status != 0)
    return stream_error(end, out);
  if (block_stop(e, out) != SB_OK)
    return SB_ERROR;
  /* calls whose pieces all waited (interleaved parallel calls) */
  for (size_t i = 0; i < e->n_tools; i++)
    if (e->tools[i].block < 0 && (open_tool(e, out, &e->tools[i]) != SB_OK ||
                                  block_stop(e, out) != SB_OK))
      return SB_ERROR;
  const char *sr = sb_anthropic_stop_reason(
      e->finish != SB_FINISH_NONE ? e->finish : end->finish,
      e->native.len > 0 ? e->native : end->native_finish);
  ev_begin(&w, out, "message_delta");
  sb_jw_key_lit(&w, "delta");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), sr, strlen(sr));
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_obj_end(&w);
  sb_jw_key_lit(&w, "usage");
  write_usage(&w, end->usage);
  if (ev_end(&w, out) != SB_OK)
    return SB_ERROR;
  ev_begin(&w, out, "message_stop");
  return ev_end(&w, out);
}

static sb_status_t enc_end(void *st, const sb_answer_end_t *end, sb_buf_t *out)
{
  an_enc_t *e = st;
  if (e->finish == SB_FINISH_NONE) {
    e->finish = end->finish;
    e->native = end->native_finish;
  }
  return e->stream ? stream_end(e, end, out) : whole_end(e, end, out);
}

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
  sb_jw_kv_lit(&w, "type", "error");
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg, n);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* An error before anything was sent. An overloaded provider (a 529 or 503
 * upstream, or Anthropic's overloaded_error) is a 529, as Anthropic
 * answers it. */
static void enc_error(const sb_answer_error_t *err, int *status, sb_buf_t *out)
{
  sb_slice_t pb = err->provider_body;
  bool overloaded =
      err->upstream_status == 529 || err->upstream_status == 503 ||
      (pb.len > 0 && memmem(pb.ptr, pb.len, SB_STRLIT("overloaded_error")));
  *status = err->status;
  if (overloaded && err->status >= 500)
    *status = 529;
  sb_anthropic_error_body(out, sb_anthropic_error_type(*status),
                          err->message.ptr != NULL ? err->message.ptr : "",
                          err->message.len);
}

const sb_codec_encoder_t sb_anthropic_encoder = {
    .state_size = sizeof(an_enc_t),
    .begin = enc_begin,
    .stream_type = "text/event-stream",
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
};
