/*
 * The Messages stream: OpenAI-shaped chat.completion.chunk objects in,
 * Anthropic stream events out (message_start, content_block_start /
 * _delta / _stop, message_delta, message_stop, error). Every event is
 * written with both its `event:` and `data:` lines.
 *
 * Delta pieces are copied as escaped JSON text: an OpenAI `content` or
 * `arguments` string is already a valid JSON string, so its bytes become
 * the `text` / `partial_json` of the event without being unescaped.
 */
#include <stdio.h>

#include "switchboard/api.h"

#define MAX_PENDING (64u << 20)

void sb_msg_stream_init(sb_msg_stream_t *s)
{
  memset(s, 0, sizeof(*s));
  sb_arena_init(&s->arena, 4096, 64u << 20);
  /* room for every held argument byte plus the events around them */
  sb_buf_init(&s->out, 2 * MAX_PENDING + (1u << 20));
  sb_buf_init(&s->tmp, 64u << 20);
  s->open = SB_MSG_NONE;
}

void sb_msg_stream_free(sb_msg_stream_t *s)
{
  for (size_t i = 0; i < s->n_tools; i++)
    sb_buf_free(&s->tools[i].pending);
  s->n_tools = 0;
  sb_buf_free(&s->out);
  sb_buf_free(&s->tmp);
  sb_arena_destroy(&s->arena);
}

static void copy_z(char *dst, size_t cap, sb_slice_t s)
{
  size_t n = SB_MIN(s.len, cap - 1);
  if (n > 0)
    memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

void sb_msg_stream_fail(sb_msg_stream_t *s, int code, sb_slice_t message)
{
  if (s->failed)
    return;
  s->failed = true;
  s->error_code = code;
  copy_z(s->error, sizeof(s->error), message);
}

/* ---- event framing ------------------------------------------------------ */

static void ev_begin(sb_msg_stream_t *s, sb_jw_t *w, const char *name)
{
  sb_buf_appendf(&s->out, "event: %s\ndata: ", name);
  sb_jw_init(w, &s->out);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), name, strlen(name));
}

static sb_status_t ev_end(sb_msg_stream_t *s, sb_jw_t *w)
{
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(&s->out, SB_STRLIT("\n\n"));
}

static void start(sb_msg_stream_t *s)
{
  sb_jw_t w;
  if (s->started)
    return;
  s->started = true;
  ev_begin(s, &w, "message_start");
  sb_jw_key_lit(&w, "message");
  sb_jw_obj_begin(&w);
  if (s->j_id.len > 0)
    sb_jw_kv_raw(&w, SB_STRLIT("id"), s->j_id.ptr, s->j_id.len);
  else
    sb_jw_kv_str(&w, SB_STRLIT("id"), SB_STRLIT("msg_"));
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("message"));
  sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  if (s->j_model.len > 0)
    sb_jw_kv_raw(&w, SB_STRLIT("model"), s->j_model.ptr, s->j_model.len);
  else
    sb_jw_kv_str(&w, SB_STRLIT("model"), SB_STRLIT(""));
  sb_jw_key_lit(&w, "content");
  sb_jw_arr_begin(&w);
  sb_jw_arr_end(&w);
  sb_jw_key_lit(&w, "stop_reason");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "usage");
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("input_tokens"), (int64_t)s->input_estimate);
  sb_jw_kv_int(&w, SB_STRLIT("cache_creation_input_tokens"), 0);
  sb_jw_kv_int(&w, SB_STRLIT("cache_read_input_tokens"), 0);
  sb_jw_kv_int(&w, SB_STRLIT("output_tokens"), 0);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  ev_end(s, &w);
}

static void block_stop(sb_msg_stream_t *s)
{
  sb_jw_t w;
  if (s->open == SB_MSG_NONE)
    return;
  ev_begin(s, &w, "content_block_stop");
  sb_jw_kv_int(&w, SB_STRLIT("index"), (int64_t)s->next_block - 1);
  ev_end(s, &w);
  if (s->open == SB_MSG_TOOL)
    s->tools[s->open_tool].closed = true;
  s->open = SB_MSG_NONE;
}

/* content_block_start for a new block; the caller writes the block. */
static void block_start_begin(sb_msg_stream_t *s, sb_jw_t *w)
{
  block_stop(s);
  ev_begin(s, w, "content_block_start");
  sb_jw_kv_int(w, SB_STRLIT("index"), (int64_t)s->next_block++);
  sb_jw_key_lit(w, "content_block");
  sb_jw_obj_begin(w);
}

static void block_start_end(sb_msg_stream_t *s, sb_jw_t *w)
{
  sb_jw_obj_end(w);
  ev_end(s, w);
}

/* content_block_delta with one string field, written from escaped text. */
static void delta(sb_msg_stream_t *s, const char *type, const char *field,
                  sb_slice_t escaped)
{
  sb_jw_t w;
  ev_begin(s, &w, "content_block_delta");
  sb_jw_kv_int(&w, SB_STRLIT("index"), (int64_t)s->next_block - 1);
  sb_jw_key_lit(&w, "delta");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_key(&w, field, strlen(field));
  sb_jw_str_raw(&w, escaped.ptr != NULL ? escaped.ptr : "", escaped.len);
  sb_jw_obj_end(&w);
  ev_end(s, &w);
}

static void open_text(sb_msg_stream_t *s)
{
  sb_jw_t w;
  if (s->open == SB_MSG_TEXT)
    return;
  block_start_begin(s, &w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
  sb_jw_kv_str(&w, SB_STRLIT("text"), SB_STRLIT(""));
  block_start_end(s, &w);
  s->open = SB_MSG_TEXT;
}

static void open_thinking(sb_msg_stream_t *s, sb_slice_t index)
{
  sb_jw_t w;
  if (s->open == SB_MSG_THINKING &&
      (index.len == 0 || s->think_index.len == 0 ||
       sb_slice_eq(index, s->think_index)))
    return;
  block_start_begin(s, &w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("thinking"));
  sb_jw_kv_str(&w, SB_STRLIT("thinking"), SB_STRLIT(""));
  sb_jw_kv_str(&w, SB_STRLIT("signature"), SB_STRLIT(""));
  block_start_end(s, &w);
  s->open = SB_MSG_THINKING;
  s->think_index = sb_arena_slice_dup(&s->arena, index);
}

static void open_tool(sb_msg_stream_t *s, size_t i)
{
  sb_jw_t w;
  sb_msg_tool_t *t = &s->tools[i];
  block_start_begin(s, &w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("tool_use"));
  if (t->id.len > 0)
    sb_jw_kv_raw(&w, SB_STRLIT("id"), t->id.ptr, t->id.len);
  else
    sb_jw_kv_str(&w, SB_STRLIT("id"), SB_STRLIT(""));
  if (t->name.len > 0)
    sb_jw_kv_raw(&w, SB_STRLIT("name"), t->name.ptr, t->name.len);
  else
    sb_jw_kv_str(&w, SB_STRLIT("name"), SB_STRLIT(""));
  sb_jw_key_lit(&w, "input");
  sb_jw_obj_begin(&w);
  sb_jw_obj_end(&w);
  block_start_end(s, &w);
  s->open = SB_MSG_TOOL;
  s->open_tool = i;
  t->block = (int32_t)s->next_block - 1;
  if (t->pending.len > 0) {
    delta(s, "input_json_delta", "partial_json", sb_buf_slice(&t->pending));
    sb_buf_free(&t->pending);
    sb_buf_init(&t->pending, MAX_PENDING);
  }
}

/* ---- chunk translation -------------------------------------------------- */

static void reasoning_detail(sb_msg_stream_t *s, const sb_json_t *d)
{
  const sb_json_t *type = sb_json_get(d, "type");
  const sb_json_t *index = sb_json_get(d, "index");
  sb_slice_t ix = index != NULL ? index->raw : SB_NULL_SLICE;
  if (SB_JSON_STR_IS(type, "reasoning.text") ||
      SB_JSON_STR_IS(type, "reasoning.summary")) {
    const sb_json_t *text = SB_JSON_STR_IS(type, "reasoning.text")
                                ? sb_json_get(d, "text")
                                : sb_json_get(d, "summary");
    const sb_json_t *sig = sb_json_get(d, "signature");
    open_thinking(s, ix);
    if (sb_json_is(text, SB_JSON_STRING) && text->raw.len > 2)
      delta(s, "thinking_delta", "thinking", sb_json_str_raw(text));
    if (sb_json_is(sig, SB_JSON_STRING) && sig->raw.len > 2)
      delta(s, "signature_delta", "signature", sb_json_str_raw(sig));
  } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
    sb_jw_t w;
    const sb_json_t *data = sb_json_get(d, "data");
    block_start_begin(s, &w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("redacted_thinking"));
    sb_jw_key_lit(&w, "data");
    if (sb_messages_detail_native(d) && sb_json_is(data, SB_JSON_STRING))
      sb_jw_value(&w, data);
    else
      sb_messages_opaque_detail(&w, &s->tmp, d);
    block_start_end(s, &w);
    /* a redacted block has no deltas: it ends at once */
    s->open = SB_MSG_THINKING;
    s->think_index = SB_NULL_SLICE;
    block_stop(s);
  }
}

static sb_msg_tool_t *find_tool(sb_msg_stream_t *s, int64_t oa_index,
                                size_t *pos)
{
  for (size_t i = 0; i < s->n_tools; i++)
    if (s->tools[i].oa_index == oa_index) {
      *pos = i;
      return &s->tools[i];
    }
  return NULL;
}

static sb_status_t tool_delta(sb_msg_stream_t *s, const sb_json_t *tc,
                              int64_t position)
{
  int64_t oa_index;
  if (sb_json_int64(sb_json_get(tc, "index"), &oa_index) != SB_OK)
    oa_index = position;
  const sb_json_t *id = sb_json_get(tc, "id");
  const sb_json_t *fn = sb_json_get(tc, "function");
  const sb_json_t *name = sb_json_get(fn, "name");
  const sb_json_t *args = sb_json_get(fn, "arguments");
  size_t pos = 0;
  sb_msg_tool_t *t = find_tool(s, oa_index, &pos);
  if (t == NULL) {
    if (s->tools == NULL) {
      s->tools = sb_arena_calloc(&s->arena,
                                 SB_MSG_MAX_TOOLS * sizeof(sb_msg_tool_t));
      if (s->tools == NULL)
        return SB_ERROR;
    }
    if (s->n_tools == SB_MSG_MAX_TOOLS) {
      sb_msg_stream_fail(s, 502, SB_SLICE_LIT("too many tool calls"));
      return SB_OK;
    }
    pos = s->n_tools++;
    t = &s->tools[pos];
    t->oa_index = oa_index;
    t->block = -1;
    sb_buf_init(&t->pending, MAX_PENDING);
  }
  if (sb_json_is(id, SB_JSON_STRING) && t->id.len == 0)
    t->id = sb_arena_slice_dup(&s->arena, id->raw);
  if (sb_json_is(name, SB_JSON_STRING) && t->name.len == 0)
    t->name = sb_arena_slice_dup(&s->arena, name->raw);
  sb_slice_t piece = sb_json_is(args, SB_JSON_STRING) ? sb_json_str_raw(args)
                                                      : SB_NULL_SLICE;
  if (s->open == SB_MSG_TOOL && s->open_tool == pos) {
    if (piece.len > 0)
      delta(s, "input_json_delta", "partial_json", piece);
    return SB_OK;
  }
  /* Open this call's block when no other call holds the open block;
   * otherwise keep its pieces for when it opens (at the end at the
   * latest). Pieces for a block already closed cannot be sent. */
  if (t->block < 0 && s->pending_total + piece.len > MAX_PENDING) {
    sb_msg_stream_fail(s, 502, SB_SLICE_LIT("tool call arguments too large"));
    return SB_OK;
  }
  if (t->block < 0 && s->open != SB_MSG_TOOL) {
    if (sb_buf_append_slice(&t->pending, piece) != SB_OK)
      return SB_ERROR;
    open_tool(s, pos);
    return SB_OK;
  }
  if (t->block < 0) {
    s->pending_total += piece.len;
    return sb_buf_append_slice(&t->pending, piece);
  }
  /* TODO(issue 3): argument bytes for a tool call whose block was closed
   * (text between pieces of one call) have no Anthropic form; dropped. */
  return SB_OK;
}

sb_status_t sb_msg_stream_chunk(sb_msg_stream_t *s, const sb_json_t *chunk)
{
  if (s->ended || s->failed)
    return SB_OK;
  const sb_json_t *err = sb_json_get(chunk, "error");
  if (sb_json_truthy(err)) {
    /* the gateway's final error chunk (or an upstream's) */
    const sb_json_t *msg = sb_json_get(err, "message");
    int64_t code = 502;
    sb_json_int64(sb_json_get(err, "code"), &code);
    sb_msg_stream_fail(s, (int)code,
                       sb_json_is(msg, SB_JSON_STRING) ? sb_json_str_raw(msg)
                                                       : SB_SLICE_LIT("error"));
    return SB_OK;
  }
  const sb_json_t *choice = sb_json_at(sb_json_get(chunk, "choices"), 0);
  if (choice == NULL)
    return SB_OK; /* the usage chunk: read from the call at the end */
  start(s);
  const sb_json_t *d = sb_json_get(choice, "delta");
  const sb_json_t *details = sb_json_get(d, "reasoning_details");
  const sb_json_t *reasoning = sb_json_get(d, "reasoning");
  const sb_json_t *content = sb_json_get(d, "content");
  const sb_json_t *refusal = sb_json_get(d, "refusal");
  const sb_json_t *calls = sb_json_get(d, "tool_calls");
  if (sb_json_is(details, SB_JSON_ARRAY) && details->count > 0) {
    for (const sb_json_t *x = details->child; x != NULL; x = x->next)
      reasoning_detail(s, x);
  } else if (sb_json_is(reasoning, SB_JSON_STRING) && reasoning->raw.len > 2) {
    open_thinking(s, s->open == SB_MSG_THINKING ? s->think_index
                                                : SB_NULL_SLICE);
    delta(s, "thinking_delta", "thinking", sb_json_str_raw(reasoning));
  }
  if (sb_json_is(content, SB_JSON_STRING) && content->raw.len > 2) {
    open_text(s);
    delta(s, "text_delta", "text", sb_json_str_raw(content));
  }
  if (sb_json_is(refusal, SB_JSON_STRING) && refusal->raw.len > 2) {
    open_text(s);
    delta(s, "text_delta", "text", sb_json_str_raw(refusal));
  }
  if (sb_json_is(calls, SB_JSON_ARRAY)) {
    int64_t p = 0;
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next, p++)
      if (tool_delta(s, tc, p) != SB_OK)
        return SB_ERROR;
  }
  const sb_json_t *fr = sb_json_get(choice, "finish_reason");
  if (sb_json_is(fr, SB_JSON_STRING)) {
    const sb_json_t *nat = sb_json_get(choice, "native_finish_reason");
    copy_z(s->finish, sizeof(s->finish), sb_json_str_raw(fr));
    if (sb_json_is(nat, SB_JSON_STRING))
      copy_z(s->native, sizeof(s->native), sb_json_str_raw(nat));
  }
  return SB_OK;
}

void sb_msg_stream_end(sb_msg_stream_t *s, const sb_usage_t *u)
{
  sb_jw_t w;
  if (s->ended)
    return;
  s->ended = true;
  start(s);
  if (s->failed) {
    bool overloaded =
        s->error_code == 529 || s->error_code == 503 ||
        memmem(s->error, strlen(s->error), SB_STRLIT("verloaded")) != NULL;
    sb_buf_appendf(&s->out, "event: error\ndata: ");
    sb_anthropic_error_body(&s->out,
                            overloaded ? "overloaded_error" : "api_error",
                            s->error, strlen(s->error));
    sb_buf_append(&s->out, SB_STRLIT("\n\n"));
    return;
  }
  block_stop(s);
  /* calls whose pieces all waited (interleaved parallel calls) */
  for (size_t i = 0; i < s->n_tools; i++)
    if (s->tools[i].block < 0) {
      open_tool(s, i);
      block_stop(s);
    }
  const char *sr = sb_messages_stop_reason(sb_slice_z(s->finish),
                                           sb_slice_z(s->native));
  ev_begin(s, &w, "message_delta");
  sb_jw_key_lit(&w, "delta");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), sr, strlen(sr));
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_obj_end(&w);
  sb_jw_key_lit(&w, "usage");
  sb_messages_write_usage(&w, u);
  ev_end(s, &w);
  ev_begin(s, &w, "message_stop");
  ev_end(s, &w);
}
