/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI / OpenRouter chat door, answer half: hub events into
 * chat.completion.chunk events (a stream, as SSE `data:` lines) or one
 * chat.completion (a whole answer).
 *
 * Reasoning goes out as OpenRouter shows it: `reasoning` (the text) and
 * `reasoning_details` (reasoning.text with its signature, and
 * reasoning.encrypted), each detail naming the format of the provider that
 * made it and the index of its reasoning block, so that a client sending
 * the details back lets the same provider replay them.
 *
 * A stream always ends with exactly one usage chunk (`choices: []`) and
 * `data: [DONE]`; one that failed after its first byte first gets a chunk
 * with the error and finish_reason "error".
 */
#include "openai.h"
#include "switchboard/json_scan.h"

#define MAX_TOOLS 256
#define MAX_TEXT (64u << 20)
#define MAX_ARGS (16u << 20)

typedef struct {
  sb_slice_t id, name;  /* jtext, in the arena */
  sb_buf_t args;        /* jtext */
  bool used;
} oa_tool_t;

/* A reasoning block of a whole answer: its text gathered, and the
 * signature or data that comes with it. */
typedef struct {
  bool encrypted;
  sb_slice_t text;        /* jtext, in the arena */
  sb_slice_t signature;   /* jtext */
  sb_slice_t data, id;    /* jtext: encrypted */
  sb_hub_sig_t format;
} oa_detail_t;

#define MAX_DETAILS 256

typedef struct {
  sb_arena_t *a;
  const sb_hub_req_t *req;
  const sb_answer_names_t *names;
  bool stream, passthrough, registered;
  /* reasoning blocks: the one open, and how many there were */
  bool in_reasoning;
  unsigned n_reasoning;
  sb_hub_sig_t reasoning_format;
  const char *reasoning_other;
  /* a whole answer, gathered */
  sb_buf_t text, reasoning;
  size_t n_text;
  oa_detail_t *details; /* MAX_DETAILS, in the arena, on first use */
  size_t n_details;
  oa_tool_t *tools;     /* MAX_TOOLS, in the arena, on first use */
  size_t n_tools;       /* highest index + 1 */
  sb_finish_t finish;
  sb_slice_t native;    /* jtext, in the arena */
  sb_slice_t body;      /* pass-through: the provider's body, rewritten */
} oa_enc_t;

static void enc_free(void *data)
{
  oa_enc_t *e = data;
  sb_buf_free(&e->text);
  sb_buf_free(&e->reasoning);
  if (e->tools != NULL)
    for (size_t i = 0; i < MAX_TOOLS; i++)
      sb_buf_free(&e->tools[i].args);
}

static void enc_begin(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                      const sb_answer_names_t *names, bool stream,
                      bool passthrough)
{
  oa_enc_t *e = st;
  if (!e->registered) {
    sb_buf_init(&e->text, MAX_TEXT);
    sb_buf_init(&e->reasoning, MAX_TEXT);
    e->registered = sb_arena_on_destroy(a, enc_free, e) == SB_OK;
  }
  sb_buf_reset(&e->text);
  sb_buf_reset(&e->reasoning);
  if (e->tools != NULL)
    for (size_t i = 0; i < e->n_tools; i++) {
      sb_buf_reset(&e->tools[i].args);
      e->tools[i].used = false;
    }
  e->a = a;
  e->req = req;
  e->names = names;
  e->stream = stream;
  e->passthrough = passthrough;
  e->in_reasoning = false;
  e->n_reasoning = 0;
  e->n_text = e->n_details = e->n_tools = 0;
  e->finish = SB_FINISH_NONE;
  e->native = e->body = SB_NULL_SLICE;
}

/* ---- pieces ---------------------------------------------------------------- */

static const char *format_name(sb_hub_sig_t f, const char *other)
{
  switch (f) {
  case SB_HUB_SIG_ANTHROPIC: return SB_OPENAI_FMT_ANTHROPIC;
  case SB_HUB_SIG_GEMINI: return SB_OPENAI_FMT_GEMINI;
  case SB_HUB_SIG_OPENAI: return SB_OPENAI_FMT_RESPONSES;
  case SB_HUB_SIG_OTHER: return other != NULL ? other : "unknown";
  case SB_HUB_SIG_NONE: break;
  }
  return "unknown";
}

/* Gemini's thought text carries no signature of its own (a signature
 * comes apart, on the part that follows): it is shown as `reasoning` and
 * has no detail to replay. */
static bool has_detail(const sb_hub_event_t *ev)
{
  return !(ev->kind == SB_HUB_EV_REASONING &&
           ev->sig_format == SB_HUB_SIG_GEMINI);
}

/* The reasoning block an event belongs to: a new one unless the previous
 * event was reasoning of the same block. */
static unsigned reasoning_block(oa_enc_t *e, const sb_hub_event_t *ev)
{
  bool same = e->in_reasoning && ev->kind != SB_HUB_EV_REDACTED &&
              ev->sig_format == e->reasoning_format;
  if (!same)
    e->n_reasoning++;
  e->in_reasoning = ev->kind != SB_HUB_EV_REDACTED &&
                    ev->kind != SB_HUB_EV_SIGNATURE;
  e->reasoning_format = ev->sig_format;
  return e->n_reasoning - 1;
}

/* One reasoning_details entry; `sig`: a signature for a text detail (a
 * whole answer's block), else the event's own when it is one. */
static void detail(sb_jw_t *w, const sb_hub_event_t *ev, unsigned index,
                   const sb_slice_t *sig)
{
  sb_jw_obj_begin(w);
  if (ev->kind == SB_HUB_EV_REDACTED) {
    sb_jw_kv_lit(w, "type", "reasoning.encrypted");
    sb_jw_key_lit(w, "data");
    sb_jw_str_raw(w, ev->text.ptr, ev->text.len);
  } else {
    sb_jw_kv_lit(w, "type", "reasoning.text");
    sb_jw_key_lit(w, "text");
    if (ev->kind == SB_HUB_EV_REASONING)
      sb_jw_str_raw(w, ev->text.ptr, ev->text.len);
    else
      sb_jw_str_raw(w, "", 0);
    if (ev->kind == SB_HUB_EV_SIGNATURE)
      sig = &ev->text;
    if (sig != NULL) {
      sb_jw_key_lit(w, "signature");
      sb_jw_str_raw(w, sig->ptr, sig->len);
    }
  }
  const char *f = format_name(ev->sig_format, NULL);
  sb_jw_kv_str(w, SB_STRLIT("format"), f, strlen(f));
  if (ev->kind == SB_HUB_EV_REDACTED && ev->id.len > 0) {
    sb_jw_key_lit(w, "id");
    sb_jw_str_raw(w, ev->id.ptr, ev->id.len);
  }
  sb_jw_kv_int(w, SB_STRLIT("index"), index);
  sb_jw_obj_end(w);
}

static void envelope(oa_enc_t *e, sb_jw_t *w, const char *object)
{
  const sb_answer_names_t *n = e->names;
  sb_jw_obj_begin(w);
  sb_jw_kv_raw(w, SB_STRLIT("id"), n->id.ptr, n->id.len);
  sb_jw_kv_str(w, SB_STRLIT("object"), object, strlen(object));
  sb_jw_kv_raw(w, SB_STRLIT("created"), n->created.ptr, n->created.len);
  sb_jw_kv_raw(w, SB_STRLIT("model"), n->model.ptr, n->model.len);
  sb_jw_kv_raw(w, SB_STRLIT("provider"), n->provider.ptr, n->provider.len);
}

static void finish_fields(sb_jw_t *w, sb_finish_t f, sb_slice_t native)
{
  const char *name = sb_openai_finish_out(f);
  if (name != NULL) {
    sb_jw_kv_str(w, SB_STRLIT("finish_reason"), name, strlen(name));
    sb_jw_key_lit(w, "native_finish_reason");
    if (native.len > 0)
      sb_jw_str_raw(w, native.ptr, native.len);
    else
      sb_jw_str(w, name, strlen(name));
  } else {
    sb_jw_kv_raw(w, SB_STRLIT("finish_reason"), SB_STRLIT("null"));
    sb_jw_kv_raw(w, SB_STRLIT("native_finish_reason"), SB_STRLIT("null"));
  }
}

/* "data: " + the chunk, up to "delta": */
static void chunk_begin(oa_enc_t *e, sb_jw_t *w, sb_buf_t *out)
{
  sb_buf_append(out, SB_STRLIT("data: "));
  sb_jw_init(w, out);
  envelope(e, w, "chat.completion.chunk");
  sb_jw_key_lit(w, "choices");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("index"), 0);
  sb_jw_key_lit(w, "delta");
}

static sb_status_t chunk_end(sb_jw_t *w, sb_buf_t *out, sb_finish_t f,
                             sb_slice_t native)
{
  finish_fields(w, f, native);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\n\n"));
}

static oa_tool_t *tool_at(oa_enc_t *e, int64_t index)
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
  return &e->tools[index];
}

/* ---- a stream ---------------------------------------------------------------- */

static sb_status_t stream_event(oa_enc_t *e, const sb_hub_event_t *ev,
                                sb_buf_t *out)
{
  sb_jw_t w;
  switch (ev->kind) {
  case SB_HUB_EV_START:
    chunk_begin(e, &w, out);
    sb_jw_raw(&w, SB_STRLIT("{\"role\":\"assistant\",\"content\":\"\"}"));
    return chunk_end(&w, out, SB_FINISH_NONE, SB_NULL_SLICE);
  case SB_HUB_EV_TEXT:
    if (ev->text.len == 0)
      return SB_OK;
    e->in_reasoning = false;
    chunk_begin(e, &w, out);
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "content");
    sb_jw_str_raw(&w, ev->text.ptr, ev->text.len);
    sb_jw_obj_end(&w);
    return chunk_end(&w, out, SB_FINISH_NONE, SB_NULL_SLICE);
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED: {
    if (ev->kind == SB_HUB_EV_REASONING && ev->text.len == 0)
      return SB_OK;
    bool with_detail = has_detail(ev);
    unsigned index = with_detail ? reasoning_block(e, ev) : 0;
    if (e->req != NULL && e->req->reasoning.exclude)
      return SB_OK;
    chunk_begin(e, &w, out);
    sb_jw_obj_begin(&w);
    if (ev->kind == SB_HUB_EV_REASONING) {
      sb_jw_key_lit(&w, "reasoning");
      sb_jw_str_raw(&w, ev->text.ptr, ev->text.len);
    }
    if (with_detail) {
      sb_jw_key_lit(&w, "reasoning_details");
      sb_jw_arr_begin(&w);
      detail(&w, ev, index, NULL);
      sb_jw_arr_end(&w);
    }
    sb_jw_obj_end(&w);
    return chunk_end(&w, out, SB_FINISH_NONE, SB_NULL_SLICE);
  }
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_TOOL_ARGS:
    if (ev->kind == SB_HUB_EV_TOOL_ARGS && ev->text.len == 0)
      return SB_OK;
    e->in_reasoning = false;
    chunk_begin(e, &w, out);
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "tool_calls");
    sb_jw_arr_begin(&w);
    sb_jw_obj_begin(&w);
    sb_jw_kv_int(&w, SB_STRLIT("index"), ev->index);
    if (ev->kind == SB_HUB_EV_TOOL_START) {
      sb_jw_key_lit(&w, "id");
      sb_jw_str_raw(&w, ev->id.ptr, ev->id.len);
      sb_jw_kv_lit(&w, "type", "function");
    }
    sb_jw_key_lit(&w, "function");
    sb_jw_obj_begin(&w);
    if (ev->kind == SB_HUB_EV_TOOL_START) {
      sb_jw_key_lit(&w, "name");
      sb_jw_str_raw(&w, ev->name.ptr, ev->name.len);
      sb_jw_kv_str(&w, SB_STRLIT("arguments"), "", 0);
    } else {
      sb_jw_key_lit(&w, "arguments");
      sb_jw_str_raw(&w, ev->text.ptr, ev->text.len);
    }
    sb_jw_obj_end(&w);
    sb_jw_obj_end(&w);
    sb_jw_arr_end(&w);
    sb_jw_obj_end(&w);
    return chunk_end(&w, out, SB_FINISH_NONE, SB_NULL_SLICE);
  case SB_HUB_EV_FINISH:
    e->finish = ev->finish;
    chunk_begin(e, &w, out);
    sb_jw_raw(&w, SB_STRLIT("{}"));
    return chunk_end(&w, out, ev->finish, ev->native);
  case SB_HUB_EV_NATIVE:
    if (sb_buf_append(out, SB_STRLIT("data: ")) != SB_OK ||
        sb_buf_append_slice(out, ev->text) != SB_OK)
      return SB_ERROR;
    return sb_buf_append(out, SB_STRLIT("\n\n"));
  case SB_HUB_EV_BLOCK_STOP:
    e->in_reasoning = false;
    return SB_OK;
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_ERROR:
    return SB_OK; /* the end writes both */
  }
  return SB_OK;
}

/* ---- a whole answer ----------------------------------------------------------- */

/* The block's detail: a new one, or more of the current one (its text
 * grows; a signature closes it). */
static sb_status_t gather_detail(oa_enc_t *e, const sb_hub_event_t *ev,
                                 unsigned index)
{
  if (e->details == NULL) {
    e->details = sb_arena_calloc(e->a, MAX_DETAILS * sizeof(*e->details));
    if (e->details == NULL)
      return SB_ERROR;
  }
  if (index >= MAX_DETAILS)
    return SB_OK; /* shown in `reasoning`, not replayable past this */
  oa_detail_t *d = &e->details[index];
  if (index >= e->n_details) {
    memset(d, 0, sizeof(*d));
    e->n_details = index + 1;
    d->format = ev->sig_format;
  }
  switch (ev->kind) {
  case SB_HUB_EV_REDACTED:
    d->encrypted = true;
    d->data = sb_arena_slice_dup(e->a, ev->text);
    d->id = sb_arena_slice_dup(e->a, ev->id);
    return d->data.ptr != NULL || ev->text.len == 0 ? SB_OK : SB_ERROR;
  case SB_HUB_EV_SIGNATURE:
    d->signature = sb_arena_slice_dup(e->a, ev->text);
    return SB_OK;
  default: {
    char *t = sb_arena_alloc(e->a, d->text.len + ev->text.len + 1);
    if (t == NULL)
      return SB_ERROR;
    if (d->text.len > 0)
      memcpy(t, d->text.ptr, d->text.len);
    memcpy(t + d->text.len, ev->text.ptr, ev->text.len);
    d->text = sb_slice(t, d->text.len + ev->text.len);
    return SB_OK;
  }
  }
}

static void write_details(oa_enc_t *e, sb_jw_t *w)
{
  for (size_t i = 0; i < e->n_details; i++) {
    const oa_detail_t *d = &e->details[i];
    sb_hub_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.sig_format = d->format;
    if (d->encrypted) {
      ev.kind = SB_HUB_EV_REDACTED;
      ev.text = d->data;
      ev.id = d->id;
      detail(w, &ev, (unsigned)i, NULL);
    } else {
      ev.kind = SB_HUB_EV_REASONING;
      ev.text = d->text;
      detail(w, &ev, (unsigned)i, d->signature.ptr != NULL ? &d->signature
                                                          : NULL);
    }
  }
}

static sb_status_t gather(oa_enc_t *e, const sb_hub_event_t *ev)
{
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    e->in_reasoning = false;
    if (ev->text.len == 0)
      return SB_OK;
    e->n_text++;
    return sb_buf_append_slice(&e->text, ev->text);
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED: {
    if (ev->kind == SB_HUB_EV_REASONING && ev->text.len == 0)
      return SB_OK;
    if (ev->kind == SB_HUB_EV_REASONING &&
        sb_buf_append_slice(&e->reasoning, ev->text) != SB_OK)
      return SB_ERROR;
    if (!has_detail(ev))
      return SB_OK;
    return gather_detail(e, ev, reasoning_block(e, ev));
  }
  case SB_HUB_EV_TOOL_START: {
    oa_tool_t *t = tool_at(e, ev->index);
    if (t == NULL)
      return SB_ERROR;
    e->in_reasoning = false;
    t->used = true;
    t->id = sb_arena_slice_dup(e->a, ev->id);
    t->name = sb_arena_slice_dup(e->a, ev->name);
    return SB_OK;
  }
  case SB_HUB_EV_TOOL_ARGS: {
    oa_tool_t *t = tool_at(e, ev->index);
    if (t == NULL)
      return SB_ERROR;
    t->used = true;
    return sb_buf_append_slice(&t->args, ev->text);
  }
  case SB_HUB_EV_FINISH:
    e->finish = ev->finish;
    e->native = sb_arena_slice_dup(e->a, ev->native);
    return SB_OK;
  case SB_HUB_EV_NATIVE:
    e->body = ev->text;
    return SB_OK;
  case SB_HUB_EV_BLOCK_STOP:
    e->in_reasoning = false;
    return SB_OK;
  case SB_HUB_EV_START:
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_ERROR:
    return SB_OK;
  }
  return SB_OK;
}

static sb_status_t enc_event(void *st, const sb_hub_event_t *ev, sb_buf_t *out)
{
  oa_enc_t *e = st;
  if (e->passthrough && ev->kind != SB_HUB_EV_NATIVE &&
      ev->kind != SB_HUB_EV_FINISH)
    return SB_OK; /* the provider's own bytes say it all */
  if (e->passthrough && ev->kind == SB_HUB_EV_FINISH) {
    e->finish = ev->finish;
    return SB_OK;
  }
  return e->stream ? stream_event(e, ev, out) : gather(e, ev);
}

/* ---- the end ------------------------------------------------------------------ */

/* `usage`: the provider's own object (an OpenAI-format provider's) with
 * `cost` set, or one made from the counts. */
bool sb_openai_usage_with_cost(sb_jw_t *w, sb_slice_t usage_json,
                               sb_slice_t cost)
{
  /* the provider's object was valid JSON when its answer was read: a
   * member walk, no DOM; its own "cost" (first of duplicates) replaced
   * in place, else "cost" added last */
  sb_json_iter_t it;
  if (usage_json.len == 0 || !sb_json_iter_object(&it, usage_json))
    return false;
  sb_jw_obj_begin(w);
  bool set = false;
  sb_json_member_t m;
  while (sb_json_iter_next(&it, &m)) {
    if (!SB_JSON_NAME_IS(&m, "cost")) {
      sb_jw_members_raw(w, m.member.ptr, m.member.len);
    } else if (!set) {
      sb_jw_kv_raw(w, SB_STRLIT("cost"), cost.ptr, cost.len);
      set = true;
    }
  }
  if (!set)
    sb_jw_kv_raw(w, SB_STRLIT("cost"), cost.ptr, cost.len);
  sb_jw_obj_end(w);
  return true;
}

static void write_usage(sb_jw_t *w, const sb_answer_end_t *end)
{
  const sb_usage_t *u = end->usage;
  sb_slice_t cost = end->cost.len > 0 ? end->cost : SB_SLICE_LIT("0");
  if (sb_openai_usage_with_cost(w, end->usage_json, cost))
    return;
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("prompt_tokens"), (int64_t)u->prompt);
  sb_jw_kv_int(w, SB_STRLIT("completion_tokens"), (int64_t)u->completion);
  sb_jw_kv_int(w, SB_STRLIT("total_tokens"),
               (int64_t)(u->prompt + u->completion));
  if (!end->usage_estimated) {
    sb_jw_key_lit(w, "prompt_tokens_details");
    sb_jw_obj_begin(w);
    sb_jw_kv_int(w, SB_STRLIT("cached_tokens"), (int64_t)u->cached);
    sb_jw_kv_int(w, SB_STRLIT("cache_write_tokens"), (int64_t)u->cache_write);
    sb_jw_obj_end(w);
    sb_jw_key_lit(w, "completion_tokens_details");
    sb_jw_obj_begin(w);
    sb_jw_kv_int(w, SB_STRLIT("reasoning_tokens"), (int64_t)u->reasoning);
    sb_jw_obj_end(w);
  }
  sb_jw_kv_raw(w, SB_STRLIT("cost"), cost.ptr, cost.len);
  sb_jw_obj_end(w);
}

static sb_status_t stream_end(oa_enc_t *e, const sb_answer_end_t *end,
                              sb_buf_t *out)
{
  sb_jw_t w;
  if (end->error_status != 0) {
    const char *type = end->error_type != NULL ? end->error_type
                                               : "provider_unavailable";
    sb_buf_append(out, SB_STRLIT("data: "));
    sb_jw_init(&w, out);
    envelope(e, &w, "chat.completion.chunk");
    sb_jw_key_lit(&w, "error");
    sb_jw_obj_begin(&w);
    sb_jw_kv_int(&w, SB_STRLIT("code"), end->error_status);
    sb_jw_kv_str(&w, SB_STRLIT("message"), end->error_message.ptr,
                 end->error_message.len);
    sb_jw_key_lit(&w, "metadata");
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("error_type"), type, strlen(type));
    sb_jw_obj_end(&w);
    sb_jw_obj_end(&w);
    sb_jw_key_lit(&w, "choices");
    sb_jw_raw(&w, SB_STRLIT("[{\"index\":0,\"delta\":{\"content\":\"\"},"
                            "\"finish_reason\":\"error\","
                            "\"native_finish_reason\":\"error\"}]"));
    sb_jw_obj_end(&w);
    if (sb_jw_status(&w) != SB_OK ||
        sb_buf_append(out, SB_STRLIT("\n\n")) != SB_OK)
      return SB_ERROR;
  }
  sb_buf_append(out, SB_STRLIT("data: "));
  sb_jw_init(&w, out);
  envelope(e, &w, "chat.completion.chunk");
  sb_jw_key_lit(&w, "choices");
  sb_jw_raw(&w, SB_STRLIT("[]"));
  sb_jw_key_lit(&w, "usage");
  write_usage(&w, end);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\n\ndata: [DONE]\n\n"));
}

static void message(oa_enc_t *e, sb_jw_t *w)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_lit(w, "role", "assistant");
  sb_jw_key_lit(w, "content");
  if (e->n_text > 0)
    sb_jw_str_raw(w, e->text.data, e->text.len);
  else
    sb_jw_null(w);
  sb_jw_kv_raw(w, SB_STRLIT("refusal"), SB_STRLIT("null"));
  bool show = e->req == NULL || !e->req->reasoning.exclude;
  if (show && e->reasoning.len > 0) {
    sb_jw_key_lit(w, "reasoning");
    sb_jw_str_raw(w, e->reasoning.data, e->reasoning.len);
  }
  if (show && e->n_details > 0) {
    sb_jw_key_lit(w, "reasoning_details");
    sb_jw_arr_begin(w);
    write_details(e, w);
    sb_jw_arr_end(w);
  }
  size_t used = 0;
  for (size_t i = 0; i < e->n_tools; i++)
    used += e->tools[i].used;
  if (used > 0) {
    sb_jw_key_lit(w, "tool_calls");
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < e->n_tools; i++) {
      const oa_tool_t *t = &e->tools[i];
      if (!t->used)
        continue;
      sb_jw_obj_begin(w);
      sb_jw_key_lit(w, "id");
      sb_jw_str_raw(w, t->id.ptr, t->id.len);
      sb_jw_kv_lit(w, "type", "function");
      sb_jw_key_lit(w, "function");
      sb_jw_obj_begin(w);
      sb_jw_key_lit(w, "name");
      sb_jw_str_raw(w, t->name.ptr, t->name.len);
      sb_jw_key_lit(w, "arguments");
      if (t->args.len > 0)
        sb_jw_str_raw(w, t->args.data, t->args.len);
      else
        sb_jw_str_raw(w, SB_STRLIT("{}"));
      sb_jw_obj_end(w);
      sb_jw_obj_end(w);
    }
    sb_jw_arr_end(w);
  }
  sb_jw_obj_end(w);
}

static sb_status_t whole_end(oa_enc_t *e, const sb_answer_end_t *end,
                             sb_buf_t *out)
{
  sb_jw_t w;
  if (e->passthrough && e->body.len > 1) {
    /* the provider's body, rewritten without its usage: ours goes last */
    sb_slice_t b = sb_slice_trim(e->body);
    if (b.len < 2 || b.ptr[b.len - 1] != '}')
      return SB_ERROR;
    /* `{` ... members ... `}`: the members, then ours */
    sb_slice_t inner = sb_slice_trim(sb_slice(b.ptr + 1, b.len - 2));
    sb_buf_append(out, b.ptr, b.len - 1);
    sb_buf_appendz(out, inner.len > 0 ? ",\"usage\":" : "\"usage\":");
    sb_jw_init(&w, out);
    write_usage(&w, end);
    if (sb_jw_status(&w) != SB_OK)
      return SB_ERROR;
    return sb_buf_append(out, SB_STRLIT("}"));
  }
  sb_jw_init(&w, out);
  envelope(e, &w, "chat.completion");
  sb_jw_kv_raw(&w, SB_STRLIT("system_fingerprint"), SB_STRLIT("null"));
  sb_jw_key_lit(&w, "choices");
  sb_jw_arr_begin(&w);
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("index"), 0);
  sb_jw_key_lit(&w, "message");
  message(e, &w);
  sb_jw_kv_raw(&w, SB_STRLIT("logprobs"), SB_STRLIT("null"));
  finish_fields(&w, e->finish, e->native);
  sb_jw_obj_end(&w);
  sb_jw_arr_end(&w);
  sb_jw_key_lit(&w, "usage");
  write_usage(&w, end);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

static sb_status_t enc_end(void *st, const sb_answer_end_t *end, sb_buf_t *out)
{
  oa_enc_t *e = st;
  return e->stream ? stream_end(e, end, out) : whole_end(e, end, out);
}

void sb_openai_error_metadata(sb_jw_t *w, const sb_answer_error_t *err)
{
  if (err->provider_name != NULL)
    sb_jw_kv_str(w, SB_STRLIT("provider_name"), err->provider_name,
                 strlen(err->provider_name));
  if (err->upstream_status != 0)
    sb_jw_kv_int(w, SB_STRLIT("provider_status"), err->upstream_status);
  if (err->provider_body.len > 0)
    sb_jw_kv_str(w, SB_STRLIT("raw"), err->provider_body.ptr,
                 SB_MIN(err->provider_body.len, 4096));
}

/* {"error":{"code","message","metadata":{error_type, provider_name,
 * provider_status, raw}}}: OpenRouter's shape. */
void sb_openai_error_body(const sb_answer_error_t *err, sb_buf_t *out)
{
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("code"), err->status);
  sb_jw_kv_str(&w, SB_STRLIT("message"), err->message.ptr, err->message.len);
  sb_jw_key_lit(&w, "metadata");
  sb_jw_obj_begin(&w);
  if (err->type != NULL)
    sb_jw_kv_str(&w, SB_STRLIT("error_type"), err->type, strlen(err->type));
  sb_openai_error_metadata(&w, err);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
}

static void enc_error(const sb_answer_error_t *err, int *status, sb_buf_t *out)
{
  (void)status;
  sb_openai_error_body(err, out);
}

const sb_codec_encoder_t sb_openai_chat_encoder = {
    .state_size = sizeof(oa_enc_t),
    .begin = enc_begin,
    .stream_type = "text/event-stream",
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
};
