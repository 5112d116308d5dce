/* SPDX-License-Identifier: MIT */
/*
 * The response object (`object: "response"`) and its output items, as the
 * OpenAI SDK types them member for member: what the answer says (id,
 * status, output, usage, error, incomplete_details) and what the request
 * set, echoed (instructions, tools, tool_choice, text, reasoning,
 * sampling, store, metadata ...; their defaults when it did not).
 */
#include <stdio.h>

#include "responses.h"
#include "switchboard/json_edit.h"

/* ---- output items ------------------------------------------------------------ */

static const char *const kind_prefix[] = {
    [SB_RS_MESSAGE] = "msg",
    [SB_RS_REASONING] = "rs",
    [SB_RS_CALL] = "fc",
    [SB_RS_CUSTOM] = "ctc",
};

void sb_responses_write_item_id(sb_buf_t *out, const sb_rs_item_t *it,
                                sb_slice_t tail)
{
  sb_buf_reset(out);
  sb_responses_item_id(out, kind_prefix[it->kind], tail, "", it->n);
}

static void key_jtext(sb_jw_t *w, const char *k, size_t kn, sb_slice_t jtext)
{
  sb_jw_key(w, k, kn);
  sb_jw_str_raw(w, jtext.ptr != NULL ? jtext.ptr : "", jtext.len);
}

void sb_responses_write_item(sb_jw_t *w, sb_arena_t *a, const sb_rs_item_t *it,
                             sb_slice_t tail, bool done, bool failed)
{
  sb_buf_t id;
  sb_buf_init(&id, 256);
  sb_responses_write_item_id(&id, it, tail);
  const char *status = !done ? "in_progress" : failed ? "incomplete"
                                                      : "completed";
  sb_slice_t text = sb_buf_slice(&it->text);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("id"), id.data, id.len);
  switch (it->kind) {
  case SB_RS_MESSAGE:
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("message"));
    sb_jw_kv_str(w, SB_STRLIT("status"), status, strlen(status));
    sb_jw_kv_str(w, SB_STRLIT("role"), SB_STRLIT("assistant"));
    sb_jw_key_lit(w, "content");
    sb_jw_arr_begin(w);
    if (done) {
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("output_text"));
      sb_jw_kv_raw(w, SB_STRLIT("annotations"), SB_STRLIT("[]"));
      sb_jw_kv_raw(w, SB_STRLIT("logprobs"), SB_STRLIT("[]"));
      key_jtext(w, SB_STRLIT("text"), text);
      sb_jw_obj_end(w);
    }
    sb_jw_arr_end(w);
    break;
  case SB_RS_REASONING:
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("reasoning"));
    sb_jw_key_lit(w, "summary");
    sb_jw_arr_begin(w);
    if (done && it->has_summary) {
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("summary_text"));
      key_jtext(w, SB_STRLIT("text"), text);
      sb_jw_obj_end(w);
    }
    sb_jw_arr_end(w);
    if (done && it->opaque.len > 0)
      sb_jw_kv_raw(w, SB_STRLIT("encrypted_content"), it->opaque.ptr,
                   it->opaque.len);
    break;
  case SB_RS_CALL:
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("function_call"));
    sb_jw_kv_str(w, SB_STRLIT("status"), status, strlen(status));
    key_jtext(w, SB_STRLIT("arguments"),
              done && text.len == 0 ? SB_SLICE_LIT("{}")
                                    : done ? text : SB_SLICE_LIT(""));
    key_jtext(w, SB_STRLIT("call_id"), it->call_id);
    key_jtext(w, SB_STRLIT("name"), it->name);
    break;
  case SB_RS_CUSTOM:
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("custom_tool_call"));
    sb_jw_kv_str(w, SB_STRLIT("status"), status, strlen(status));
    key_jtext(w, SB_STRLIT("call_id"), it->call_id);
    key_jtext(w, SB_STRLIT("input"),
              done ? sb_responses_custom_input(a, text) : SB_SLICE_LIT(""));
    key_jtext(w, SB_STRLIT("name"), it->name);
    break;
  }
  sb_jw_obj_end(w);
  sb_buf_free(&id);
}

/* ---- usage ---------------------------------------------------------------------- */

void sb_responses_write_usage(sb_jw_t *w, const sb_answer_end_t *end)
{
  const sb_usage_t *u = end->usage;
  sb_slice_t cost = end->cost.len > 0 ? end->cost : SB_SLICE_LIT("0");
  if (sb_openai_usage_with_cost(w, end->usage_json, cost))
    return;
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("input_tokens"), (int64_t)u->prompt);
  sb_jw_key_lit(w, "input_tokens_details");
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("cached_tokens"), (int64_t)u->cached);
  sb_jw_kv_int(w, SB_STRLIT("cache_write_tokens"), (int64_t)u->cache_write);
  sb_jw_obj_end(w);
  sb_jw_kv_int(w, SB_STRLIT("output_tokens"), (int64_t)u->completion);
  sb_jw_key_lit(w, "output_tokens_details");
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("reasoning_tokens"), (int64_t)u->reasoning);
  sb_jw_obj_end(w);
  sb_jw_kv_int(w, SB_STRLIT("total_tokens"),
               (int64_t)(u->prompt + u->completion));
  sb_jw_kv_raw(w, SB_STRLIT("cost"), cost.ptr, cost.len);
  if (end->usage_estimated)
    sb_jw_kv_raw(w, SB_STRLIT("estimated"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
}

/* ---- the object ------------------------------------------------------------------ */

/* The request's member `name`, or `dflt` (JSON text) when absent or null. */
static void echo(sb_jw_t *w, const sb_json_t *req, const char *name,
                 const char *dflt)
{
  const sb_json_t *v = sb_json_getn(req, name, strlen(name));
  sb_jw_key(w, name, strlen(name));
  if (v != NULL && v->type != SB_JSON_NULL)
    sb_jw_value(w, v);
  else
    sb_jw_raw(w, dflt, strlen(dflt));
}

static void echo_reasoning(sb_jw_t *w, const sb_json_t *req)
{
  const sb_json_t *r = sb_json_get(req, "reasoning");
  sb_jw_key_lit(w, "reasoning");
  sb_jw_obj_begin(w);
  echo(w, r, "effort", "null");
  echo(w, r, "summary", "null");
  sb_jw_obj_end(w);
}

static void echo_text(sb_jw_t *w, const sb_json_t *req)
{
  const sb_json_t *t = sb_json_get(req, "text");
  sb_jw_key_lit(w, "text");
  sb_jw_obj_begin(w);
  echo(w, t, "format", "{\"type\":\"text\"}");
  echo(w, t, "verbosity", "\"medium\"");
  sb_jw_obj_end(w);
}

static void error_member(sb_jw_t *w, const sb_rs_object_t *o)
{
  sb_jw_key_lit(w, "error");
  if (o->error_status == 0) {
    sb_jw_null(w);
    return;
  }
  const char *code = o->error_code != NULL ? o->error_code
                     : o->error_status == 429 ? "rate_limit_exceeded"
                                              : "server_error";
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("code"), code, strlen(code));
  sb_jw_kv_str(w, SB_STRLIT("message"), o->error_message.ptr,
               o->error_message.len);
  sb_jw_obj_end(w);
}

void sb_responses_write_object(sb_jw_t *w, sb_arena_t *a, const sb_rs_object_t *o)
{
  const sb_json_t *req = o->req;
  bool failed = o->error_status != 0;
  sb_jw_obj_begin(w);
  key_jtext(w, SB_STRLIT("id"), o->id);
  sb_jw_kv_str(w, SB_STRLIT("object"), SB_STRLIT("response"));
  sb_jw_kv_int(w, SB_STRLIT("created_at"), o->created_s);
  sb_jw_kv_str(w, SB_STRLIT("status"), o->status, strlen(o->status));
  sb_jw_kv_raw(w, SB_STRLIT("background"), SB_STRLIT("false"));
  if (strcmp(o->status, "completed") == 0)
    sb_jw_kv_int(w, SB_STRLIT("completed_at"), o->created_s);
  error_member(w, o);
  sb_jw_key_lit(w, "incomplete_details");
  if (o->incomplete != NULL) {
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("reason"), o->incomplete, strlen(o->incomplete));
    sb_jw_obj_end(w);
  } else {
    sb_jw_null(w);
  }
  echo(w, req, "instructions", "null");
  echo(w, req, "max_output_tokens", "null");
  echo(w, req, "max_tool_calls", "null");
  sb_jw_kv_raw(w, SB_STRLIT("model"), o->model.ptr, o->model.len);
  sb_jw_key_lit(w, "output");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < o->n_items; i++)
    sb_responses_write_item(w, a, &o->items[i], o->tail, true,
                            failed && o->items[i].open);
  sb_jw_arr_end(w);
  echo(w, req, "parallel_tool_calls", "true");
  echo(w, req, "previous_response_id", "null");
  echo(w, req, "prompt_cache_key", "null");
  echo_reasoning(w, req);
  echo(w, req, "safety_identifier", "null");
  echo(w, req, "service_tier", "\"default\"");
  echo(w, req, "store", "true");
  echo(w, req, "temperature", "1");
  echo_text(w, req);
  echo(w, req, "tool_choice", "\"auto\"");
  echo(w, req, "tools", "[]");
  echo(w, req, "top_logprobs", "0");
  echo(w, req, "top_p", "1");
  echo(w, req, "truncation", "\"disabled\"");
  sb_jw_key_lit(w, "usage");
  if (o->with_usage && o->end != NULL)
    sb_responses_write_usage(w, o->end);
  else
    sb_jw_null(w);
  echo(w, req, "user", "null");
  echo(w, req, "metadata", "{}");
  sb_jw_obj_end(w);
}
