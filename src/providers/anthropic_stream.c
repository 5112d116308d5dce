/*
 * The Anthropic Messages codec, answer half: a Messages response, or its
 * stream of events, becomes OpenAI-shaped output with OpenRouter's
 * reasoning extensions (see anthropic.c for the request half).
 *
 * The stream is decoded one event at a time, keeping only a small state
 * per call: which kind of block each content block index is, the tool
 * call index it was given, the usage so far.
 */
#include "anthropic.h"

#define FORMAT "anthropic-claude-v1"

enum { B_NONE, B_TEXT, B_TOOL, B_THINKING, B_REDACTED, B_JSON, B_OTHER };

const char *sb_anthropic_finish(sb_slice_t r)
{
  if (SB_SLICE_IS(r, "end_turn") || SB_SLICE_IS(r, "stop_sequence") ||
      SB_SLICE_IS(r, "pause_turn"))
    return "stop";
  if (SB_SLICE_IS(r, "max_tokens") ||
      SB_SLICE_IS(r, "model_context_window_exceeded"))
    return "length";
  if (SB_SLICE_IS(r, "tool_use"))
    return "tool_calls";
  if (SB_SLICE_IS(r, "refusal"))
    return "content_filter";
  return "stop";
}

static void read_usage(an_state_t *s, const sb_json_t *u)
{
  int64_t v;
  if (sb_json_int64(sb_json_get(u, "input_tokens"), &v) == SB_OK && v >= 0 &&
      v <= SB_CU_MAX_TOKENS)
    s->input = (uint64_t)v;
  if (sb_json_int64(sb_json_get(u, "cache_read_input_tokens"), &v) == SB_OK &&
      v >= 0 && v <= SB_CU_MAX_TOKENS)
    s->cache_read = (uint64_t)v;
  if (sb_json_int64(sb_json_get(u, "cache_creation_input_tokens"), &v) ==
          SB_OK &&
      v >= 0 && v <= SB_CU_MAX_TOKENS)
    s->cache_write = (uint64_t)v;
  if (sb_json_int64(sb_json_get(u, "output_tokens"), &v) == SB_OK && v >= 0 &&
      v <= SB_CU_MAX_TOKENS)
    s->output = (uint64_t)v;
}

static void report_usage(sb_call_t *c, an_state_t *s)
{
  uint64_t now[4] = {s->input, s->cache_read, s->cache_write, s->output};
  if (s->reported_any && memcmp(now, s->reported, sizeof(now)) == 0)
    return; /* unchanged: keep the call's arena from growing per event */
  memcpy(s->reported, now, sizeof(now));
  s->reported_any = true;
  sb_cu_usage(c, s->input + s->cache_read + s->cache_write, s->output,
              s->cache_read, s->cache_write, 0);
}

static void reasoning_detail(sb_jw_t *w, const char *type,
                             const sb_json_t *text, const sb_json_t *sig,
                             unsigned index)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  if (strcmp(type, "reasoning.encrypted") == 0) {
    sb_jw_kv_raw(w, SB_STRLIT("data"), text->raw.ptr, text->raw.len);
  } else {
    if (text != NULL)
      sb_jw_kv_raw(w, SB_STRLIT("text"), text->raw.ptr, text->raw.len);
    else
      sb_jw_kv_str(w, SB_STRLIT("text"), "", 0);
    if (sig != NULL)
      sb_jw_kv_raw(w, SB_STRLIT("signature"), sig->raw.ptr, sig->raw.len);
  }
  sb_jw_kv_str(w, SB_STRLIT("format"), SB_STRLIT(FORMAT));
  sb_jw_kv_int(w, SB_STRLIT("index"), index);
  sb_jw_obj_end(w);
}

/* The forced tool of a json response_format (see anthropic.c). */
static bool is_json_tool(const sb_call_t *c, const sb_json_t *block)
{
  const an_state_t *s = c->codec_state;
  return s != NULL && s->json_tool &&
         SB_JSON_STR_IS(sb_json_get(block, "name"), SB_ANTHROPIC_JSON_TOOL);
}

/* With the json tool, its tool_use stop is the answer's end. */
static const char *finish_for(const sb_call_t *c, sb_slice_t native)
{
  const an_state_t *s = c->codec_state;
  if (s != NULL && s->json_tool && SB_SLICE_IS(native, "tool_use"))
    return "stop";
  return sb_anthropic_finish(native);
}

/* ---- non-stream ------------------------------------------------------- */

void sb_anthropic_chat_response(sb_call_t *c, sb_slice_t body)
{
  sb_json_t *root;
  if (!sb_cu_response_root(c, body, &root))
    return;
  if (SB_JSON_STR_IS(sb_json_get(root, "type"), "error")) {
    sb_cu_fail_error_body(c, body);
    return;
  }
  const sb_json_t *content = sb_json_get(root, "content");
  if (!sb_json_is(content, SB_JSON_ARRAY)) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response has no content");
    return;
  }
  an_state_t s;
  memset(&s, 0, sizeof(s));
  read_usage(&s, sb_json_get(root, "usage"));
  if (sb_json_is(sb_json_get(root, "usage"), SB_JSON_OBJECT))
    report_usage(c, &s);

  sb_buf_t text, reasoning;
  sb_buf_init(&text, 0);
  sb_buf_init(&reasoning, 0);
  size_t n_text = 0, n_tools = 0, n_reasoning = 0;
  for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
    const sb_json_t *type = sb_json_get(b, "type");
    const sb_json_t *t;
    if (SB_JSON_STR_IS(type, "text") &&
        sb_json_is(t = sb_json_get(b, "text"), SB_JSON_STRING)) {
      sb_buf_append(&text, t->raw.ptr + 1, t->raw.len - 2);
      c->content_bytes += t->raw.len - 2;
      n_text++;
    } else if (SB_JSON_STR_IS(type, "thinking") &&
               sb_json_is(t = sb_json_get(b, "thinking"), SB_JSON_STRING)) {
      sb_buf_append(&reasoning, t->raw.ptr + 1, t->raw.len - 2);
      n_reasoning++;
    } else if (SB_JSON_STR_IS(type, "redacted_thinking")) {
      n_reasoning++;
    } else if (SB_JSON_STR_IS(type, "tool_use") && is_json_tool(c, b)) {
      /* the structured answer: its input, as text */
      const sb_json_t *input = sb_json_get(b, "input");
      if (input != NULL) {
        sb_buf_t esc;
        sb_buf_init(&esc, 0);
        sb_json_escape(&esc, input->raw.ptr, input->raw.len);
        if (esc.len >= 2)
          sb_buf_append(&text, esc.data + 1, esc.len - 2);
        c->content_bytes += input->raw.len;
        sb_buf_free(&esc);
        n_text++;
      }
    } else if (SB_JSON_STR_IS(type, "tool_use")) {
      n_tools++;
    }
  }

  sb_jw_t w;
  sb_cu_completion_begin(c, &w);
  sb_cu_message_begin(&w, &text, n_text, &reasoning, n_reasoning);
  if (n_reasoning > 0) {
    sb_jw_key_lit(&w, "reasoning_details");
    sb_jw_arr_begin(&w);
    unsigned idx = 0;
    for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
      const sb_json_t *type = sb_json_get(b, "type");
      const sb_json_t *sig = sb_json_get(b, "signature");
      if (SB_JSON_STR_IS(type, "thinking") &&
          sb_json_is(sb_json_get(b, "thinking"), SB_JSON_STRING))
        reasoning_detail(&w, "reasoning.text", sb_json_get(b, "thinking"),
                         sb_json_is(sig, SB_JSON_STRING) ? sig : NULL, idx++);
      else if (SB_JSON_STR_IS(type, "redacted_thinking") &&
               sb_json_is(sb_json_get(b, "data"), SB_JSON_STRING))
        reasoning_detail(&w, "reasoning.encrypted", sb_json_get(b, "data"),
                         NULL, idx++);
    }
    sb_jw_arr_end(&w);
  }
  if (n_tools > 0) {
    sb_jw_key_lit(&w, "tool_calls");
    sb_jw_arr_begin(&w);
    for (const sb_json_t *b = content->child; b != NULL; b = b->next) {
      if (!SB_JSON_STR_IS(sb_json_get(b, "type"), "tool_use") ||
          is_json_tool(c, b))
        continue;
      const sb_json_t *id = sb_json_get(b, "id");
      const sb_json_t *name = sb_json_get(b, "name");
      const sb_json_t *input = sb_json_get(b, "input");
      sb_jw_obj_begin(&w);
      if (sb_json_is(id, SB_JSON_STRING))
        sb_jw_kv_raw(&w, SB_STRLIT("id"), id->raw.ptr, id->raw.len);
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
      sb_jw_key_lit(&w, "function");
      sb_jw_obj_begin(&w);
      if (sb_json_is(name, SB_JSON_STRING))
        sb_jw_kv_raw(&w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
      if (input != NULL)
        sb_jw_kv_str(&w, SB_STRLIT("arguments"), input->raw.ptr,
                     input->raw.len);
      else
        sb_jw_kv_str(&w, SB_STRLIT("arguments"), SB_STRLIT("{}"));
      sb_jw_obj_end(&w);
      sb_jw_obj_end(&w);
    }
    sb_jw_arr_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_buf_free(&text);
  sb_buf_free(&reasoning);

  const sb_json_t *sr = sb_json_get(root, "stop_reason");
  sb_slice_t native = sb_json_is(sr, SB_JSON_STRING) ? sb_json_str_raw(sr)
                                                     : SB_SLICE_LIT("end_turn");
  sb_cu_completion_end(c, &w, finish_for(c, native), native);
}

/* ---- stream ------------------------------------------------------------ */

an_state_t *sb_anthropic_state(sb_call_t *c)
{
  if (c->codec_state == NULL)
    c->codec_state = sb_arena_calloc(c->arena, sizeof(an_state_t));
  return c->codec_state;
}

static sb_status_t bad_event(sb_call_t *c, const char *why)
{
  sb_call_stream_error(c, 502, sb_slice_z(why));
  return SB_ERROR;
}

static sb_status_t role_chunk(sb_call_t *c)
{
  sb_jw_t w;
  sb_cu_chunk_begin(c, &w);
  sb_jw_raw(&w, SB_STRLIT("{\"role\":\"assistant\",\"content\":\"\"}"));
  return sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE);
}

static sb_status_t content_chunk(sb_call_t *c, const sb_json_t *text)
{
  if (!sb_json_is(text, SB_JSON_STRING) || text->raw.len <= 2)
    return SB_OK;
  c->content_bytes += text->raw.len - 2;
  sb_jw_t w;
  sb_cu_chunk_begin(c, &w);
  sb_jw_obj_begin(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("content"), text->raw.ptr, text->raw.len);
  sb_jw_obj_end(&w);
  return sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE);
}

/* delta.reasoning (for text) and delta.reasoning_details. */
static sb_status_t reasoning_chunk(sb_call_t *c, const char *type,
                                   const sb_json_t *text, const sb_json_t *sig,
                                   unsigned index)
{
  sb_jw_t w;
  sb_cu_chunk_begin(c, &w);
  sb_jw_obj_begin(&w);
  if (text != NULL && sig == NULL && strcmp(type, "reasoning.text") == 0)
    sb_jw_kv_raw(&w, SB_STRLIT("reasoning"), text->raw.ptr, text->raw.len);
  sb_jw_key_lit(&w, "reasoning_details");
  sb_jw_arr_begin(&w);
  reasoning_detail(&w, type, text, sig, index);
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  return sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE);
}

static sb_status_t block_start(sb_call_t *c, an_state_t *s, size_t i,
                               const sb_json_t *b)
{
  const sb_json_t *type = sb_json_get(b, "type");
  s->slot[i] = 0;
  if (SB_JSON_STR_IS(type, "text")) {
    s->kind[i] = B_TEXT;
    return content_chunk(c, sb_json_get(b, "text"));
  }
  if (SB_JSON_STR_IS(type, "tool_use") && is_json_tool(c, b)) {
    s->kind[i] = B_JSON; /* its input streams as content */
    return SB_OK;
  }
  if (SB_JSON_STR_IS(type, "tool_use") ||
      SB_JSON_STR_IS(type, "server_tool_use")) {
    const sb_json_t *id = sb_json_get(b, "id");
    const sb_json_t *name = sb_json_get(b, "name");
    if (!sb_json_is(id, SB_JSON_STRING) || !sb_json_is(name, SB_JSON_STRING))
      return bad_event(c,
                       "the provider sent a tool_use block without id or name");
    s->kind[i] = B_TOOL;
    s->slot[i] = (uint16_t)s->n_tools++;
    sb_jw_t w;
    sb_cu_tool_chunk_begin(c, &w, s->slot[i]);
    sb_jw_kv_raw(&w, SB_STRLIT("id"), id->raw.ptr, id->raw.len);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(&w, "function");
    sb_jw_obj_begin(&w);
    sb_jw_kv_raw(&w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
    sb_jw_kv_str(&w, SB_STRLIT("arguments"), "", 0);
    sb_jw_obj_end(&w);
    return sb_cu_tool_chunk_end(c, &w);
  }
  if (SB_JSON_STR_IS(type, "thinking")) {
    s->kind[i] = B_THINKING;
    s->slot[i] = (uint16_t)s->n_reasoning++;
    const sb_json_t *t = sb_json_get(b, "thinking");
    if (sb_json_is(t, SB_JSON_STRING) && t->raw.len > 2)
      return reasoning_chunk(c, "reasoning.text", t, NULL, s->slot[i]);
    return SB_OK;
  }
  if (SB_JSON_STR_IS(type, "redacted_thinking")) {
    s->kind[i] = B_REDACTED;
    s->slot[i] = (uint16_t)s->n_reasoning++;
    const sb_json_t *d = sb_json_get(b, "data");
    if (!sb_json_is(d, SB_JSON_STRING))
      return bad_event(c, "the provider sent redacted thinking without data");
    return reasoning_chunk(c, "reasoning.encrypted", d, NULL, s->slot[i]);
  }
  s->kind[i] = B_OTHER; /* server tool results, ...: not part of the chat */
  return SB_OK;
}

static sb_status_t block_delta(sb_call_t *c, an_state_t *s, size_t i,
                               const sb_json_t *d)
{
  const sb_json_t *type = sb_json_get(d, "type");
  if (SB_JSON_STR_IS(type, "text_delta"))
    return content_chunk(c, sb_json_get(d, "text"));
  if (SB_JSON_STR_IS(type, "thinking_delta")) {
    const sb_json_t *t = sb_json_get(d, "thinking");
    if (!sb_json_is(t, SB_JSON_STRING) || t->raw.len <= 2)
      return SB_OK;
    return reasoning_chunk(c, "reasoning.text", t, NULL, s->slot[i]);
  }
  if (SB_JSON_STR_IS(type, "signature_delta")) {
    const sb_json_t *sig = sb_json_get(d, "signature");
    if (!sb_json_is(sig, SB_JSON_STRING))
      return SB_OK;
    return reasoning_chunk(c, "reasoning.text", NULL, sig, s->slot[i]);
  }
  if (SB_JSON_STR_IS(type, "input_json_delta")) {
    const sb_json_t *pj = sb_json_get(d, "partial_json");
    if (s->kind[i] == B_JSON)
      return content_chunk(c, pj);
    if (s->kind[i] != B_TOOL)
      return SB_OK;
    if (!sb_json_is(pj, SB_JSON_STRING) || pj->raw.len <= 2)
      return SB_OK;
    sb_jw_t w;
    sb_cu_tool_chunk_begin(c, &w, s->slot[i]);
    sb_jw_key_lit(&w, "function");
    sb_jw_obj_begin(&w);
    sb_jw_kv_raw(&w, SB_STRLIT("arguments"), pj->raw.ptr, pj->raw.len);
    sb_jw_obj_end(&w);
    return sb_cu_tool_chunk_end(c, &w);
  }
  return SB_OK; /* citations and future delta types */
}

static sb_status_t stream_error(sb_call_t *c, const sb_json_t *root)
{
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *type = sb_json_get(err, "type");
  const sb_json_t *msg = sb_json_get(err, "message");
  sb_slice_t m = SB_SLICE_LIT("the provider reported an error in the stream");
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(&c->scratch, msg, &m);
  int code = 502;
  if (SB_JSON_STR_IS(type, "overloaded_error"))
    code = 503;
  else if (SB_JSON_STR_IS(type, "rate_limit_error"))
    code = 429;
  char text[256];
  snprintf(text, sizeof(text), "%.*s%s%.*s",
           sb_json_is(type, SB_JSON_STRING) ? (int)SB_MIN(type->raw.len - 2, 60)
                                            : 0,
           sb_json_is(type, SB_JSON_STRING) ? type->raw.ptr + 1 : "",
           sb_json_is(type, SB_JSON_STRING) ? ": " : "",
           (int)SB_MIN(m.len, 180), m.ptr);
  sb_call_stream_error(c, code, sb_slice_z(text));
  return SB_ERROR;
}

sb_status_t sb_anthropic_chat_event(sb_call_t *c, const sb_sse_event_t *ev)
{
  an_state_t *s = sb_anthropic_state(c);
  if (s == NULL)
    return bad_event(c, "out of memory");
  if (ev->data.len == 0)
    return SB_OK;
  sb_json_t *root;
  if (!sb_call_event_root(c, ev->data, &root))
    return SB_ERROR;
  const sb_json_t *type = sb_json_get(root, "type");
  if (!sb_json_is(type, SB_JSON_STRING))
    return bad_event(c, "the provider sent a stream event without a type");

  if (SB_JSON_STR_IS(type, "ping"))
    return SB_OK;
  if (SB_JSON_STR_IS(type, "error"))
    return stream_error(c, root);
  if (SB_JSON_STR_IS(type, "message_start")) {
    if (s->started)
      return bad_event(c, "the provider started its message twice");
    s->started = true;
    const sb_json_t *u = sb_json_get(sb_json_get(root, "message"), "usage");
    if (sb_json_is(u, SB_JSON_OBJECT)) {
      read_usage(s, u);
      report_usage(c, s);
    }
    return role_chunk(c);
  }
  if (!s->started)
    return bad_event(c,
                     "the provider's stream did not start with message_start");
  if (SB_JSON_STR_IS(type, "message_stop"))
    return SB_DONE;
  if (SB_JSON_STR_IS(type, "message_delta")) {
    const sb_json_t *u = sb_json_get(root, "usage");
    if (sb_json_is(u, SB_JSON_OBJECT)) {
      read_usage(s, u);
      report_usage(c, s);
    }
    const sb_json_t *sr =
        sb_json_get(sb_json_get(root, "delta"), "stop_reason");
    if (!sb_json_is(sr, SB_JSON_STRING))
      return SB_OK;
    sb_slice_t native = sb_json_str_raw(sr);
    sb_jw_t w;
    sb_cu_chunk_begin(c, &w);
    sb_jw_raw(&w, SB_STRLIT("{}"));
    return sb_cu_chunk_end(c, &w, finish_for(c, native), native);
  }
  int64_t idx = SB_CU_INT(root, "index", -1);
  if (SB_JSON_STR_IS(type, "content_block_start") ||
      SB_JSON_STR_IS(type, "content_block_delta") ||
      SB_JSON_STR_IS(type, "content_block_stop")) {
    if (idx < 0 || idx >= SB_ANTHROPIC_MAX_BLOCKS)
      return bad_event(c,
                       "the provider sent a content block index out of range");
    size_t i = (size_t)idx;
    if (SB_JSON_STR_IS(type, "content_block_start")) {
      if (s->kind[i] != B_NONE)
        return bad_event(c, "the provider started a content block twice");
      return block_start(c, s, i, sb_json_get(root, "content_block"));
    }
    if (s->kind[i] == B_NONE)
      return bad_event(
          c, "the provider sent a delta for a block it did not start");
    if (SB_JSON_STR_IS(type, "content_block_delta"))
      return block_delta(c, s, i, sb_json_get(root, "delta"));
    return SB_OK;
  }
  return SB_OK; /* event types added later are ignored */
}

void sb_anthropic_error_info(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                             sb_slice_t *code)
{
  sb_json_t *root;
  if (!sb_cu_error_root(c, body, message, code, &root))
    return;
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = sb_json_get(err, "message");
  const sb_json_t *type = sb_json_get(err, "type");
  if (sb_json_is(err, SB_JSON_STRING))
    msg = err;
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(&c->scratch, msg, message);
  if (sb_json_is(type, SB_JSON_STRING))
    sb_json_string(&c->scratch, type, code);
}
