/* SPDX-License-Identifier: MIT */
/*
 * Hub events -> the skill reply, as `response.transform` builds it from
 * an OpenAI chat completion:
 *
 *   content:     (.choices[0].message.content // null)
 *   tool_calls:  [(.choices[0].message.tool_calls // [])[] | {id: .id,
 *                name: .function.name, input: (((.function.arguments //
 *                "{}") | (if type == "string" then (fromjson? // {}) else
 *                . end)) // {})}]
 *   stop_reason: tool_calls -> tool_use, length -> max_tokens, else end_turn
 *   usage:       {input_tokens: (.usage.prompt_tokens // 0),
 *                output_tokens: (.usage.completion_tokens // 0)}
 *
 * The contract has no stream: the reply is written whole at the end. The
 * usage is what the provider reported (the gateway's own estimate is not
 * part of the contract: 0). Errors are {"error": message}.
 */
#include "skill.h"

#define MAX_TOOLS 256
#define MAX_TEXT (64u << 20)
#define MAX_ARGS (16u << 20)

typedef struct {
  sb_slice_t id, name; /* jtext, in the arena; ptr NULL: none */
  sb_buf_t args;       /* jtext */
  bool used;
} sk_tool_t;

typedef struct {
  sb_arena_t *a;
  bool registered;
  bool has_text;
  sb_buf_t text;        /* jtext */
  sk_tool_t *tools;     /* MAX_TOOLS, in the arena, on first use */
  size_t n_tools;       /* highest index + 1 */
  sb_finish_t finish;
} sk_enc_t;

static void enc_free(void *data)
{
  sk_enc_t *e = data;
  sb_buf_free(&e->text);
  if (e->tools != NULL)
    for (size_t i = 0; i < MAX_TOOLS; i++)
      sb_buf_free(&e->tools[i].args);
}

static void enc_begin(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                      const sb_answer_names_t *names, bool stream,
                      bool passthrough)
{
  sk_enc_t *e = st;
  (void)req;
  (void)names;
  (void)stream;      /* written whole either way */
  (void)passthrough; /* no provider speaks the skill contract */
  if (!e->registered) {
    sb_buf_init(&e->text, MAX_TEXT);
    e->registered = sb_arena_on_destroy(a, enc_free, e) == SB_OK;
  }
  sb_buf_reset(&e->text);
  if (e->tools != NULL)
    for (size_t i = 0; i < e->n_tools; i++) {
      sb_buf_reset(&e->tools[i].args);
      e->tools[i].used = false;
      e->tools[i].id = e->tools[i].name = SB_NULL_SLICE;
    }
  e->a = a;
  e->has_text = false;
  e->n_tools = 0;
  e->finish = SB_FINISH_NONE;
}

static sk_tool_t *tool_at(sk_enc_t *e, int64_t index)
{
  if (index < 0 || index >= MAX_TOOLS)
    return NULL;
  if (e->tools == NULL) {
    e->tools = sb_arena_calloc(e->a, MAX_TOOLS * sizeof(*e->tools));
    if (e->tools == NULL)
      return NULL;
    for (size_t i = 0; i < MAX_TOOLS; i++)
      sb_buf_init(&e->tools[i].args, MAX_ARGS);
  }
  if ((size_t)index >= e->n_tools)
    e->n_tools = (size_t)index + 1;
  e->tools[index].used = true;
  return &e->tools[index];
}

static sb_status_t enc_event(void *st, const sb_hub_event_t *ev, sb_buf_t *out)
{
  sk_enc_t *e = st;
  sk_tool_t *t;
  (void)out;
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    e->has_text = true;
    return sb_buf_append_slice(&e->text, ev->text);
  case SB_HUB_EV_TOOL_START:
    if ((t = tool_at(e, ev->index)) == NULL)
      return SB_ERROR;
    t->id = sb_arena_slice_dup(e->a, ev->id);
    t->name = sb_arena_slice_dup(e->a, ev->name);
    return SB_OK;
  case SB_HUB_EV_TOOL_ARGS:
    if ((t = tool_at(e, ev->index)) == NULL)
      return SB_ERROR;
    return sb_buf_append_slice(&t->args, ev->text);
  case SB_HUB_EV_FINISH:
    e->finish = ev->finish;
    return SB_OK;
  default:
    return SB_OK; /* reasoning is not part of the contract; usage and
                     errors come with the end */
  }
}

/* input: the arguments' JSON value when it is one and neither null nor
 * false, else {}. */
static void write_input(sk_enc_t *e, sb_jw_t *w, const sk_tool_t *t)
{
  sb_slice_t text;
  sb_json_t *parsed;
  if (t->args.len == 0 ||
      sb_hub_unescape(e->a, sb_buf_slice(&t->args), &text) != SB_OK ||
      sb_json_parse(e->a, text.ptr, text.len, 0, &parsed, NULL) != SB_OK ||
      !sb_json_truthy(parsed)) {
    sb_jw_raw(w, SB_STRLIT("{}"));
    return;
  }
  sb_jw_value(w, parsed);
}

static void jtext_or_null(sb_jw_t *w, sb_slice_t s)
{
  if (s.ptr != NULL)
    sb_jw_str_raw(w, s.ptr, s.len);
  else
    sb_jw_null(w);
}

static void write_error(sb_buf_t *out, sb_slice_t message)
{
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("error"),
               message.ptr != NULL ? message.ptr : "", message.len);
  sb_jw_obj_end(&w);
}

static sb_status_t enc_end(void *st, const sb_answer_end_t *end, sb_buf_t *out)
{
  sk_enc_t *e = st;
  if (end->error_status != 0) {
    write_error(out, end->error_message);
    return SB_OK;
  }
  sb_finish_t finish = e->finish != SB_FINISH_NONE ? e->finish : end->finish;
  const char *stop = sb_skill_finish_out(finish);
  const sb_usage_t *u =
      end->usage != NULL && !end->usage_estimated ? end->usage : NULL;
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "content");
  if (e->has_text)
    sb_jw_str_raw(&w, e->text.data != NULL ? e->text.data : "", e->text.len);
  else
    sb_jw_null(&w);
  sb_jw_key_lit(&w, "tool_calls");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < e->n_tools; i++) {
    const sk_tool_t *t = &e->tools[i];
    if (!t->used)
      continue;
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "id");
    jtext_or_null(&w, t->id);
    sb_jw_key_lit(&w, "name");
    jtext_or_null(&w, t->name);
    sb_jw_key_lit(&w, "input");
    write_input(e, &w, t);
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), stop, strlen(stop));
  sb_jw_key_lit(&w, "usage");
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "input_tokens");
  sb_jw_uint(&w, u != NULL ? u->prompt : 0);
  sb_jw_key_lit(&w, "output_tokens");
  sb_jw_uint(&w, u != NULL ? u->completion : 0);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

static void enc_error(const sb_answer_error_t *err, int *status, sb_buf_t *out)
{
  (void)status;
  write_error(out, err->message);
}

const sb_codec_encoder_t sb_skill_encoder = {
    .state_size = sizeof(sk_enc_t),
    .begin = enc_begin,
    .stream_type = "application/json", /* never streamed */
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
};
