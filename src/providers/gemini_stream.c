/*
 * The Gemini codec, answer half: a GenerateContentResponse (or, streaming,
 * a series of them, each event complete in itself) becomes OpenAI-shaped
 * output (see gemini.c for the request half).
 *
 * Gemini gives function calls no ids: each gets "call_<generation>_<n>",
 * unique across the conversation's turns, so a tool result (and a thought
 * signature's reasoning_details entry, which names the id) can be matched
 * back. Thought parts become `reasoning`; a part's thoughtSignature becomes
 * a reasoning_details entry {"type":"reasoning.encrypted","data":SIG,
 * "format":"google-gemini-v1","id":<the call's id, for a functionCall>}.
 */
#include "gemini.h"

typedef struct {
  bool started, finished, any_calls, usage_seen;
  unsigned n_tools, n_details;
  int64_t usage[4]; /* the last usage reported: each event repeats it */
} gm_state_t;

const char *sb_gemini_finish(sb_slice_t r, bool tool_calls)
{
  if (SB_SLICE_IS(r, "MAX_TOKENS"))
    return "length";
  if (SB_SLICE_IS(r, "SAFETY") || SB_SLICE_IS(r, "RECITATION") ||
      SB_SLICE_IS(r, "BLOCKLIST") || SB_SLICE_IS(r, "PROHIBITED_CONTENT") ||
      SB_SLICE_IS(r, "SPII") || SB_SLICE_IS(r, "IMAGE_SAFETY") ||
      SB_SLICE_IS(r, "LANGUAGE"))
    return "content_filter";
  if (SB_SLICE_IS(r, "MALFORMED_FUNCTION_CALL") ||
      SB_SLICE_IS(r, "UNEXPECTED_TOOL_CALL"))
    return "error";
  if (tool_calls)
    return "tool_calls";
  return "stop";
}

static void take_usage(sb_call_t *c, gm_state_t *s, const sb_json_t *u)
{
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return;
  int64_t v[5] = {SB_CU_INT(u, "promptTokenCount", 0),
                  SB_CU_INT(u, "toolUsePromptTokenCount", 0),
                  SB_CU_INT(u, "candidatesTokenCount", 0),
                  SB_CU_INT(u, "thoughtsTokenCount", 0),
                  SB_CU_INT(u, "cachedContentTokenCount", 0)};
  for (size_t i = 0; i < SB_ARRAY_LEN(v); i++)
    if (v[i] < 0 || v[i] > SB_CU_MAX_TOKENS)
      return; /* hostile or broken: ignored, not summed */
  int64_t prompt = v[0] + v[1], cand = v[2], thoughts = v[3], cached = v[4];
  if (s != NULL) {
    int64_t now[4] = {prompt, cand, thoughts, cached};
    if (s->usage_seen && memcmp(now, s->usage, sizeof(now)) == 0)
      return; /* unchanged: keep the call's arena from growing per event */
    memcpy(s->usage, now, sizeof(now));
    s->usage_seen = true;
  }
  sb_cu_usage(c, (uint64_t)prompt, (uint64_t)(cand + thoughts),
              (uint64_t)cached, 0, (uint64_t)thoughts);
}

/* The id of the n-th function call of this answer. */
/* A function call's "args" as OpenAI's "arguments" string ("{}" when not
 * an object). */
static void call_arguments(sb_jw_t *w, const sb_json_t *args)
{
  if (sb_json_is(args, SB_JSON_OBJECT))
    sb_jw_kv_str(w, SB_STRLIT("arguments"), args->raw.ptr, args->raw.len);
  else
    sb_jw_kv_str(w, SB_STRLIT("arguments"), SB_STRLIT("{}"));
}

static void call_id(sb_call_t *c, const sb_json_t *fc, unsigned n, sb_jw_t *w)
{
  const sb_json_t *id = sb_json_get(fc, "id");
  if (sb_json_is(id, SB_JSON_STRING) && id->raw.len > 2) {
    sb_jw_kv_raw(w, SB_STRLIT("id"), id->raw.ptr, id->raw.len);
    return;
  }
  char buf[80];
  const char *gen = strncmp(c->id, "gen-", 4) == 0 ? c->id + 4 : c->id;
  int len = snprintf(buf, sizeof(buf), "call_%s_%u", gen, n);
  sb_jw_kv_str(w, SB_STRLIT("id"), buf, (size_t)len);
}

static void signature_detail(sb_call_t *c, sb_jw_t *w, const sb_json_t *sig,
                             const sb_json_t *fc, unsigned tool, unsigned index)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("reasoning.encrypted"));
  sb_jw_kv_raw(w, SB_STRLIT("data"), sig->raw.ptr, sig->raw.len);
  sb_jw_kv_str(w, SB_STRLIT("format"), SB_STRLIT(SB_GEMINI_FORMAT));
  if (fc != NULL)
    call_id(c, fc, tool, w);
  sb_jw_kv_int(w, SB_STRLIT("index"), index);
  sb_jw_obj_end(w);
}

static const sb_json_t *parts_of(const sb_json_t *root)
{
  const sb_json_t *cand = sb_json_at(sb_json_get(root, "candidates"), 0);
  return sb_json_get(sb_json_get(cand, "content"), "parts");
}

static sb_slice_t block_reason(const sb_json_t *root)
{
  const sb_json_t *br =
      sb_json_get(sb_json_get(root, "promptFeedback"), "blockReason");
  if (sb_json_is(br, SB_JSON_STRING) && sb_json_get(root, "candidates") == NULL)
    return sb_json_str_raw(br);
  return SB_NULL_SLICE;
}

/* ---- non-stream --------------------------------------------------------- */

void sb_gemini_chat_response(sb_call_t *c, sb_slice_t body)
{
  sb_json_t *root;
  if (!sb_cu_response_root(c, body, &root))
    return;
  sb_slice_t blocked = block_reason(root);
  const sb_json_t *parts = parts_of(root);
  if (blocked.len == 0 && sb_json_get(root, "candidates") == NULL) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response has no candidates");
    return;
  }
  take_usage(c, NULL, sb_json_get(root, "usageMetadata"));

  sb_buf_t text, thoughts;
  sb_buf_init(&text, 0);
  sb_buf_init(&thoughts, 0);
  size_t n_text = 0, n_thought = 0, n_calls = 0, n_sigs = 0;
  for (const sb_json_t *p = sb_json_is(parts, SB_JSON_ARRAY) ? parts->child
                                                             : NULL;
       p != NULL; p = p->next) {
    const sb_json_t *t = sb_json_get(p, "text");
    if (sb_json_is(sb_json_get(p, "thoughtSignature"), SB_JSON_STRING))
      n_sigs++;
    if (sb_json_is(sb_json_get(p, "functionCall"), SB_JSON_OBJECT)) {
      n_calls++;
    } else if (sb_json_is(t, SB_JSON_STRING)) {
      if (sb_json_truthy(sb_json_get(p, "thought"))) {
        sb_buf_append(&thoughts, t->raw.ptr + 1, t->raw.len - 2);
        n_thought++;
      } else {
        sb_buf_append(&text, t->raw.ptr + 1, t->raw.len - 2);
        c->content_bytes += t->raw.len - 2;
        n_text++;
      }
    }
  }

  sb_jw_t w;
  sb_cu_completion_begin(c, &w);
  sb_cu_message_begin(&w, &text, n_text, &thoughts, n_thought);
  if (n_sigs > 0) {
    sb_jw_key_lit(&w, "reasoning_details");
    sb_jw_arr_begin(&w);
    unsigned tool = 0, idx = 0;
    for (const sb_json_t *p = parts->child; p != NULL; p = p->next) {
      const sb_json_t *fc = sb_json_get(p, "functionCall");
      const sb_json_t *sig = sb_json_get(p, "thoughtSignature");
      bool is_call = sb_json_is(fc, SB_JSON_OBJECT);
      if (sb_json_is(sig, SB_JSON_STRING))
        signature_detail(c, &w, sig, is_call ? fc : NULL, tool, idx++);
      tool += is_call;
    }
    sb_jw_arr_end(&w);
  }
  if (n_calls > 0) {
    sb_jw_key_lit(&w, "tool_calls");
    sb_jw_arr_begin(&w);
    unsigned tool = 0;
    for (const sb_json_t *p = parts->child; p != NULL; p = p->next) {
      const sb_json_t *fc = sb_json_get(p, "functionCall");
      if (!sb_json_is(fc, SB_JSON_OBJECT))
        continue;
      const sb_json_t *name = sb_json_get(fc, "name");
      const sb_json_t *args = sb_json_get(fc, "args");
      sb_jw_obj_begin(&w);
      call_id(c, fc, tool++, &w);
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
      sb_jw_key_lit(&w, "function");
      sb_jw_obj_begin(&w);
      if (sb_json_is(name, SB_JSON_STRING))
        sb_jw_kv_raw(&w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
      call_arguments(&w, args);
      sb_jw_obj_end(&w);
      sb_jw_obj_end(&w);
    }
    sb_jw_arr_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_buf_free(&text);
  sb_buf_free(&thoughts);

  if (blocked.len > 0) {
    sb_cu_completion_end(c, &w, "content_filter", blocked);
    return;
  }
  const sb_json_t *fr = sb_json_get(
      sb_json_at(sb_json_get(root, "candidates"), 0), "finishReason");
  sb_slice_t native = sb_json_is(fr, SB_JSON_STRING) ? sb_json_str_raw(fr)
                                                     : SB_SLICE_LIT("STOP");
  sb_cu_completion_end(c, &w, sb_gemini_finish(native, n_calls > 0), native);
}

/* ---- stream ----------------------------------------------------------- */

static sb_status_t bad_event(sb_call_t *c, const char *why)
{
  sb_call_stream_error(c, 502, sb_slice_z(why));
  return SB_ERROR;
}

static sb_status_t text_chunk(sb_call_t *c, const char *key, size_t kn,
                              const sb_json_t *text)
{
  sb_jw_t w;
  sb_cu_chunk_begin(c, &w);
  sb_jw_obj_begin(&w);
  sb_jw_kv_raw(&w, key, kn, text->raw.ptr, text->raw.len);
  sb_jw_obj_end(&w);
  return sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE);
}

static sb_status_t call_chunks(sb_call_t *c, gm_state_t *s, const sb_json_t *fc)
{
  const sb_json_t *name = sb_json_get(fc, "name");
  const sb_json_t *args = sb_json_get(fc, "args");
  if (!sb_json_is(name, SB_JSON_STRING))
    return bad_event(c, "the provider sent a function call without a name");
  sb_jw_t w;
  sb_cu_tool_chunk_begin(c, &w, s->n_tools);
  call_id(c, fc, s->n_tools, &w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
  sb_jw_key_lit(&w, "function");
  sb_jw_obj_begin(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
  sb_jw_kv_str(&w, SB_STRLIT("arguments"), "", 0);
  sb_jw_obj_end(&w);
  if (sb_cu_tool_chunk_end(c, &w) != SB_OK)
    return SB_ERROR;
  sb_cu_tool_chunk_begin(c, &w, s->n_tools);
  sb_jw_key_lit(&w, "function");
  sb_jw_obj_begin(&w);
  call_arguments(&w, args);
  sb_jw_obj_end(&w);
  return sb_cu_tool_chunk_end(c, &w);
}

static sb_status_t finish_chunk(sb_call_t *c, gm_state_t *s, const char *finish,
                                sb_slice_t native)
{
  s->finished = true;
  sb_jw_t w;
  sb_cu_chunk_begin(c, &w);
  sb_jw_raw(&w, SB_STRLIT("{}"));
  return sb_cu_chunk_end(c, &w, finish, native);
}

static sb_status_t stream_error(sb_call_t *c, sb_slice_t data)
{
  sb_slice_t msg, code;
  sb_gemini_error_info(c, data, &msg, &code);
  int status = 502;
  if (SB_SLICE_IS(code, "UNAVAILABLE"))
    status = 503;
  else if (SB_SLICE_IS(code, "RESOURCE_EXHAUSTED"))
    status = 429;
  sb_call_stream_error(c, status,
                       msg.len > 0 ? msg : SB_SLICE_LIT("provider error"));
  return SB_ERROR;
}

sb_status_t sb_gemini_chat_event(sb_call_t *c, const sb_sse_event_t *ev)
{
  if (c->codec_state == NULL)
    c->codec_state = sb_arena_calloc(c->arena, sizeof(gm_state_t));
  gm_state_t *s = c->codec_state;
  if (s == NULL)
    return bad_event(c, "out of memory");
  if (ev->data.len == 0)
    return SB_OK;
  sb_json_t *root;
  if (!sb_call_event_root(c, ev->data, &root))
    return SB_ERROR;
  if (sb_json_truthy(sb_json_get(root, "error")))
    return stream_error(c, ev->data);
  take_usage(c, s, sb_json_get(root, "usageMetadata"));
  if (s->finished)
    return SB_OK; /* a trailing usage-only event */
  if (!s->started) {
    s->started = true;
    sb_jw_t w;
    sb_cu_chunk_begin(c, &w);
    sb_jw_raw(&w, SB_STRLIT("{\"role\":\"assistant\",\"content\":\"\"}"));
    if (sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE) != SB_OK)
      return SB_ERROR;
  }
  sb_slice_t blocked = block_reason(root);
  if (blocked.len > 0)
    return finish_chunk(c, s, "content_filter", blocked);
  const sb_json_t *parts = parts_of(root);
  for (const sb_json_t *p = sb_json_is(parts, SB_JSON_ARRAY) ? parts->child
                                                             : NULL;
       p != NULL; p = p->next) {
    const sb_json_t *t = sb_json_get(p, "text");
    const sb_json_t *fc = sb_json_get(p, "functionCall");
    const sb_json_t *sig = sb_json_get(p, "thoughtSignature");
    bool is_call = sb_json_is(fc, SB_JSON_OBJECT);
    if (is_call) {
      if (call_chunks(c, s, fc) != SB_OK)
        return SB_ERROR;
      s->any_calls = true;
    } else if (sb_json_is(t, SB_JSON_STRING) && t->raw.len > 2) {
      bool thought = sb_json_truthy(sb_json_get(p, "thought"));
      if (!thought)
        c->content_bytes += t->raw.len - 2;
      if ((thought ? text_chunk(c, SB_STRLIT("reasoning"), t)
                   : text_chunk(c, SB_STRLIT("content"), t)) != SB_OK)
        return SB_ERROR;
    }
    if (sb_json_is(sig, SB_JSON_STRING)) {
      sb_jw_t w;
      sb_cu_chunk_begin(c, &w);
      sb_jw_obj_begin(&w);
      sb_jw_key_lit(&w, "reasoning_details");
      sb_jw_arr_begin(&w);
      signature_detail(c, &w, sig, is_call ? fc : NULL, s->n_tools,
                       s->n_details++);
      sb_jw_arr_end(&w);
      sb_jw_obj_end(&w);
      if (sb_cu_chunk_end(c, &w, NULL, SB_NULL_SLICE) != SB_OK)
        return SB_ERROR;
    }
    if (is_call)
      s->n_tools++;
  }
  const sb_json_t *fr = sb_json_get(
      sb_json_at(sb_json_get(root, "candidates"), 0), "finishReason");
  if (sb_json_is(fr, SB_JSON_STRING)) {
    sb_slice_t native = sb_json_str_raw(fr);
    return finish_chunk(c, s, sb_gemini_finish(native, s->any_calls), native);
  }
  return SB_OK;
}

void sb_gemini_error_info(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                          sb_slice_t *code)
{
  sb_json_t *root;
  if (!sb_cu_error_root(c, body, message, code, &root))
    return;
  /* {"error":{...}}, or a list of them as some Google front ends send */
  if (sb_json_is(root, SB_JSON_ARRAY))
    root = sb_json_at(root, 0);
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = sb_json_get(err, "message");
  const sb_json_t *status = sb_json_get(err, "status");
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(&c->scratch, msg, message);
  if (sb_json_is(status, SB_JSON_STRING))
    sb_json_string(&c->scratch, status, code);
}
