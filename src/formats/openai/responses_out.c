/* SPDX-License-Identifier: MIT */
/*
 * The Responses door, answer half: hub events into the response's typed
 * event stream (`event: <type>` and `data: {...}` with `type` and
 * `sequence_number`), or into the response object of a whole answer.
 *
 * Output items open and close as the answer goes: text is a message item
 * (output_item.added, content_part.added, output_text.delta ..., then
 * output_text.done, content_part.done, output_item.done), reasoning a
 * reasoning item with one summary part (reasoning_summary_part.added,
 * reasoning_summary_text.delta ...), a signature or another format's
 * opaque reasoning its encrypted_content (SB_HUB_OPAQUE_PREFIX), a tool
 * call a function_call item (function_call_arguments.delta ...) or, for a
 * custom tool, a custom_tool_call item whose input is given whole when the
 * call ends (the model wrote it as a function's {"input": ...}). Parallel
 * calls are items of their own, their deltas by output_index. The stream
 * begins with response.created and response.in_progress and ends with
 * response.completed, or response.incomplete (the output cap, a content
 * filter); a failure after the first byte ends it with an `error` event
 * and response.failed, never a silent cut.
 *
 * On the pass-through path (the provider speaks Responses) the provider's
 * events go out as they came, its ids and model rewritten by the provider
 * side; only the terminal event waits for the end, which puts the
 * gateway's cost in its usage.
 *
 * Every answer's final object is kept (`kept`) for the stored responses.
 */
#include "responses.h"
#include "switchboard/json_edit.h"
#include "switchboard/json_scan.h"

#define MAX_ITEMS 4096
#define MAX_TOOLS 256
#define MAX_TEXT (64u << 20)

typedef struct {
  sb_arena_t *a;
  const sb_hub_req_t *req;
  const sb_answer_names_t *names;
  bool stream, passthrough, registered;
  sb_slice_t tail; /* every id's */
  sb_slice_t id;   /* jtext: "resp_..." */
  int64_t seq;
  bool created;
  sb_rs_item_t *items;
  size_t n_items, cap_items;
  int cur; /* the open message or reasoning item, -1: none */
  int tool_item[MAX_TOOLS]; /* the item of each tool index + 1; 0: none */
  sb_finish_t finish;
  sb_buf_t kept;
  sb_buf_t tmp;
  /* pass-through */
  sb_slice_t body;  /* a whole answer: the provider's (rewritten) */
  sb_buf_t held;    /* a stream's terminal event, until the end */
  char held_name[32];
} rs_enc_t;

static void enc_free(void *data)
{
  rs_enc_t *e = data;
  for (size_t i = 0; i < e->n_items; i++)
    sb_buf_free(&e->items[i].text);
  sb_buf_free(&e->kept);
  sb_buf_free(&e->tmp);
  sb_buf_free(&e->held);
}

static void enc_begin(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                      const sb_answer_names_t *names, bool stream,
                      bool passthrough)
{
  rs_enc_t *e = st;
  if (!e->registered) {
    sb_buf_init(&e->kept, MAX_TEXT);
    sb_buf_init(&e->tmp, MAX_TEXT);
    sb_buf_init(&e->held, MAX_TEXT);
    e->registered = sb_arena_on_destroy(a, enc_free, e) == SB_OK;
  }
  for (size_t i = 0; i < e->n_items; i++)
    sb_buf_free(&e->items[i].text);
  e->n_items = 0;
  sb_buf_reset(&e->kept);
  sb_buf_reset(&e->held);
  e->held_name[0] = '\0';
  e->a = a;
  e->req = req;
  e->names = names;
  e->stream = stream;
  e->passthrough = passthrough;
  e->tail = sb_responses_tail(names->id);
  char *id = sb_arena_printf(a, "resp_%.*s", (int)e->tail.len, e->tail.ptr);
  e->id = id != NULL ? sb_slice_z(id) : SB_SLICE_LIT("resp_");
  e->seq = 0;
  e->created = false;
  e->cur = -1;
  memset(e->tool_item, 0, sizeof(e->tool_item));
  e->finish = SB_FINISH_NONE;
  e->body = SB_NULL_SLICE;
}

/* ---- events on the wire ------------------------------------------------------- */

/* "event: T\ndata: {"type":"T","sequence_number":N, then the caller's
 * members and ev_end(). */
static void ev_begin(rs_enc_t *e, sb_jw_t *w, sb_buf_t *out, const char *type)
{
  sb_buf_appendz(out, "event: ");
  sb_buf_appendz(out, type);
  sb_buf_append(out, SB_STRLIT("\ndata: "));
  sb_jw_init(w, out);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_int(w, SB_STRLIT("sequence_number"), e->seq++);
}

static sb_status_t ev_end(sb_jw_t *w, sb_buf_t *out)
{
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\n\n"));
}

/* "item_id" and "output_index" of item i. */
static void item_ref(rs_enc_t *e, sb_jw_t *w, size_t i)
{
  sb_responses_write_item_id(&e->tmp, &e->items[i], e->tail);
  sb_jw_kv_str(w, SB_STRLIT("item_id"), e->tmp.data, e->tmp.len);
  sb_jw_kv_int(w, SB_STRLIT("output_index"), (int64_t)i);
}

/* The object as it stands: in progress, or the end's. */
static void object(rs_enc_t *e, sb_jw_t *w, const char *status,
                   const char *incomplete, const sb_answer_end_t *end)
{
  sb_rs_object_t o = {
      .id = e->id,
      .created_s = e->names->created_s,
      .model = e->names->model,
      .status = status,
      .incomplete = incomplete,
      .req = e->req != NULL ? e->req->native : NULL,
      .items = e->items,
      .n_items = end != NULL ? e->n_items : 0,
      .tail = e->tail,
      .with_usage = end != NULL,
      .end = end,
  };
  if (end != NULL && end->error_status != 0) {
    o.error_status = end->error_status;
    o.error_message = end->error_message;
    o.error_code = end->error_status == 429 ? "rate_limit_exceeded"
                                            : "server_error";
  }
  sb_responses_write_object(w, e->a, &o);
}

static sb_status_t created(rs_enc_t *e, sb_buf_t *out)
{
  if (!e->stream || e->created)
    return SB_OK;
  e->created = true;
  static const char *const types[] = {"response.created",
                                      "response.in_progress"};
  for (size_t i = 0; i < 2; i++) {
    sb_jw_t w;
    ev_begin(e, &w, out, types[i]);
    sb_jw_key_lit(&w, "response");
    object(e, &w, "in_progress", NULL, NULL);
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
  }
  return SB_OK;
}

/* ---- items ------------------------------------------------------------------ */

static int new_item(rs_enc_t *e, sb_rs_kind_t kind)
{
  if (e->n_items >= MAX_ITEMS)
    return -1;
  if (e->n_items == e->cap_items) {
    size_t cap = e->cap_items == 0 ? 8 : e->cap_items * 2;
    sb_rs_item_t *v = sb_arena_alloc(e->a, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    if (e->n_items > 0)
      memcpy(v, e->items, e->n_items * sizeof(*v));
    e->items = v;
    e->cap_items = cap;
  }
  sb_rs_item_t *it = &e->items[e->n_items];
  memset(it, 0, sizeof(*it));
  it->kind = kind;
  it->n = (unsigned)e->n_items;
  it->tool = -1;
  it->open = true;
  sb_buf_init(&it->text, MAX_TEXT);
  return (int)e->n_items++;
}

static void part_fields(sb_jw_t *w, const char *type, sb_slice_t text)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  if (strcmp(type, "output_text") == 0) {
    sb_jw_kv_raw(w, SB_STRLIT("annotations"), SB_STRLIT("[]"));
    sb_jw_kv_raw(w, SB_STRLIT("logprobs"), SB_STRLIT("[]"));
  }
  sb_jw_key_lit(w, "text");
  sb_jw_str_raw(w, text.ptr != NULL ? text.ptr : "", text.len);
  sb_jw_obj_end(w);
}

static sb_status_t item_added(rs_enc_t *e, int i, sb_buf_t *out)
{
  if (!e->stream)
    return SB_OK;
  sb_jw_t w;
  ev_begin(e, &w, out, "response.output_item.added");
  sb_jw_kv_int(&w, SB_STRLIT("output_index"), i);
  sb_jw_key_lit(&w, "item");
  sb_responses_write_item(&w, e->a, &e->items[i], e->tail, false, false);
  if (ev_end(&w, out) != SB_OK)
    return SB_ERROR;
  if (e->items[i].kind != SB_RS_MESSAGE)
    return SB_OK;
  ev_begin(e, &w, out, "response.content_part.added");
  item_ref(e, &w, (size_t)i);
  sb_jw_kv_int(&w, SB_STRLIT("content_index"), 0);
  sb_jw_key_lit(&w, "part");
  part_fields(&w, "output_text", SB_SLICE_LIT(""));
  return ev_end(&w, out);
}

/* The done events of item i: its text's, its part's, the item's. */
static sb_status_t item_done(rs_enc_t *e, int i, sb_buf_t *out)
{
  sb_rs_item_t *it = &e->items[i];
  if (!it->open)
    return SB_OK;
  it->open = false;
  if (e->cur == i)
    e->cur = -1;
  if (!e->stream)
    return SB_OK;
  sb_slice_t text = sb_buf_slice(&it->text);
  sb_jw_t w;
  switch (it->kind) {
  case SB_RS_MESSAGE:
    ev_begin(e, &w, out, "response.output_text.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_kv_int(&w, SB_STRLIT("content_index"), 0);
    sb_jw_kv_raw(&w, SB_STRLIT("logprobs"), SB_STRLIT("[]"));
    sb_jw_key_lit(&w, "text");
    sb_jw_str_raw(&w, text.ptr != NULL ? text.ptr : "", text.len);
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
    ev_begin(e, &w, out, "response.content_part.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_kv_int(&w, SB_STRLIT("content_index"), 0);
    sb_jw_key_lit(&w, "part");
    part_fields(&w, "output_text", text);
    break;
  case SB_RS_REASONING:
    if (!it->has_summary)
      goto item;
    ev_begin(e, &w, out, "response.reasoning_summary_text.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_kv_int(&w, SB_STRLIT("summary_index"), 0);
    sb_jw_key_lit(&w, "text");
    sb_jw_str_raw(&w, text.ptr != NULL ? text.ptr : "", text.len);
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
    ev_begin(e, &w, out, "response.reasoning_summary_part.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_kv_int(&w, SB_STRLIT("summary_index"), 0);
    sb_jw_key_lit(&w, "part");
    part_fields(&w, "summary_text", text);
    break;
  case SB_RS_CALL:
    ev_begin(e, &w, out, "response.function_call_arguments.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_key_lit(&w, "arguments");
    if (text.len > 0)
      sb_jw_str_raw(&w, text.ptr, text.len);
    else
      sb_jw_str_lit(&w, "{}");
    sb_jw_key_lit(&w, "name");
    sb_jw_str_raw(&w, it->name.ptr != NULL ? it->name.ptr : "", it->name.len);
    break;
  case SB_RS_CUSTOM: {
    /* the input is whole only now: one delta, then done */
    sb_slice_t in = sb_responses_custom_input(e->a, text);
    ev_begin(e, &w, out, "response.custom_tool_call_input.delta");
    item_ref(e, &w, (size_t)i);
    sb_jw_key_lit(&w, "delta");
    sb_jw_str_raw(&w, in.ptr != NULL ? in.ptr : "", in.len);
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
    ev_begin(e, &w, out, "response.custom_tool_call_input.done");
    item_ref(e, &w, (size_t)i);
    sb_jw_key_lit(&w, "input");
    sb_jw_str_raw(&w, in.ptr != NULL ? in.ptr : "", in.len);
    break;
  }
  }
  if (ev_end(&w, out) != SB_OK)
    return SB_ERROR;
item:
  ev_begin(e, &w, out, "response.output_item.done");
  sb_jw_kv_int(&w, SB_STRLIT("output_index"), i);
  sb_jw_key_lit(&w, "item");
  sb_responses_write_item(&w, e->a, it, e->tail, true, false);
  return ev_end(&w, out);
}

static sb_status_t close_cur(rs_enc_t *e, sb_buf_t *out)
{
  return e->cur >= 0 ? item_done(e, e->cur, out) : SB_OK;
}

static sb_status_t close_all(rs_enc_t *e, sb_buf_t *out)
{
  for (size_t i = 0; i < e->n_items; i++)
    if (item_done(e, (int)i, out) != SB_OK)
      return SB_ERROR;
  return SB_OK;
}

/* The open item of `kind`, or a new one (the open one closed). */
static int current(rs_enc_t *e, sb_rs_kind_t kind, sb_buf_t *out)
{
  if (e->cur >= 0 && e->items[e->cur].kind == kind &&
      e->items[e->cur].opaque.len == 0)
    return e->cur;
  if (close_cur(e, out) != SB_OK)
    return -1;
  int i = new_item(e, kind);
  if (i < 0 || item_added(e, i, out) != SB_OK)
    return -1;
  e->cur = i;
  return i;
}

/* A delta event of item i: `type` with `field` (an index member) 0. */
static sb_status_t delta(rs_enc_t *e, int i, const char *type,
                         const char *field, sb_slice_t text, sb_buf_t *out)
{
  if (!e->stream)
    return SB_OK;
  sb_jw_t w;
  ev_begin(e, &w, out, type);
  item_ref(e, &w, (size_t)i);
  if (field != NULL)
    sb_jw_kv_int(&w, field, strlen(field), 0);
  sb_jw_key_lit(&w, "delta");
  sb_jw_str_raw(&w, text.ptr, text.len);
  if (strcmp(type, "response.output_text.delta") == 0)
    sb_jw_kv_raw(&w, SB_STRLIT("logprobs"), SB_STRLIT("[]"));
  return ev_end(&w, out);
}

static sb_status_t text_event(rs_enc_t *e, const sb_hub_event_t *ev,
                              sb_buf_t *out)
{
  int i = current(e, SB_RS_MESSAGE, out);
  if (i < 0 || sb_buf_append_slice(&e->items[i].text, ev->text) != SB_OK)
    return SB_ERROR;
  return delta(e, i, "response.output_text.delta", "content_index", ev->text,
               out);
}

static sb_status_t reasoning_event(rs_enc_t *e, const sb_hub_event_t *ev,
                                   sb_buf_t *out)
{
  int i = current(e, SB_RS_REASONING, out);
  if (i < 0)
    return SB_ERROR;
  sb_rs_item_t *it = &e->items[i];
  if (!it->has_summary) {
    it->has_summary = true;
    if (e->stream) {
      sb_jw_t w;
      ev_begin(e, &w, out, "response.reasoning_summary_part.added");
      item_ref(e, &w, (size_t)i);
      sb_jw_kv_int(&w, SB_STRLIT("summary_index"), 0);
      sb_jw_key_lit(&w, "part");
      part_fields(&w, "summary_text", SB_SLICE_LIT(""));
      if (ev_end(&w, out) != SB_OK)
        return SB_ERROR;
    }
  }
  if (sb_buf_append_slice(&it->text, ev->text) != SB_OK)
    return SB_ERROR;
  return delta(e, i, "response.reasoning_summary_text.delta", "summary_index",
               ev->text, out);
}

/* A signature closes the reasoning it signs; opaque reasoning is an item
 * of its own. OpenAI's own encrypted content is given as it is, another
 * format's as opaque reasoning switchboard can restore. */
static sb_status_t opaque_event(rs_enc_t *e, const sb_hub_event_t *ev,
                                sb_buf_t *out)
{
  int i = ev->kind == SB_HUB_EV_SIGNATURE && e->cur >= 0 &&
                  e->items[e->cur].kind == SB_RS_REASONING &&
                  e->items[e->cur].opaque.len == 0
              ? e->cur
              : -1;
  if (i < 0) {
    if (close_cur(e, out) != SB_OK || (i = new_item(e, SB_RS_REASONING)) < 0 ||
        item_added(e, i, out) != SB_OK)
      return SB_ERROR;
  }
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, MAX_TEXT);
  sb_jw_init(&w, &b);
  if (ev->kind == SB_HUB_EV_REDACTED && ev->sig_format == SB_HUB_SIG_OPENAI)
    sb_jw_str_raw(&w, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
  else
    sb_hub_opaque_write(&w, ev);
  e->items[i].opaque = sb_arena_slice_dup(e->a, sb_buf_slice(&b));
  sb_status_t rc = sb_jw_status(&w) == SB_OK && e->items[i].opaque.ptr != NULL
                       ? item_done(e, i, out)
                       : SB_ERROR;
  sb_buf_free(&b);
  return rc;
}

static int tool_item(rs_enc_t *e, int64_t index)
{
  if (index < 0 || index >= MAX_TOOLS)
    return -1;
  return e->tool_item[index] - 1;
}

static sb_status_t tool_start(rs_enc_t *e, const sb_hub_event_t *ev,
                              sb_buf_t *out)
{
  if (ev->index < 0 || ev->index >= MAX_TOOLS || close_cur(e, out) != SB_OK)
    return SB_ERROR;
  bool custom = e->req != NULL &&
                sb_responses_custom_tool(e->req->native, ev->name);
  int i = new_item(e, custom ? SB_RS_CUSTOM : SB_RS_CALL);
  if (i < 0)
    return SB_ERROR;
  sb_rs_item_t *it = &e->items[i];
  it->tool = ev->index;
  it->call_id = sb_arena_slice_dup(e->a, ev->id);
  it->name = sb_arena_slice_dup(e->a, ev->name);
  e->tool_item[ev->index] = i + 1;
  return item_added(e, i, out);
}

static sb_status_t tool_args(rs_enc_t *e, const sb_hub_event_t *ev,
                             sb_buf_t *out)
{
  int i = tool_item(e, ev->index);
  if (i < 0) {
    /* arguments of a call that was never started: it starts now */
    sb_hub_event_t start = {.kind = SB_HUB_EV_TOOL_START, .index = ev->index};
    if (tool_start(e, &start, out) != SB_OK || (i = tool_item(e, ev->index)) < 0)
      return SB_ERROR;
  }
  sb_rs_item_t *it = &e->items[i];
  if (ev->text.len == 0)
    return SB_OK;
  if (sb_buf_append_slice(&it->text, ev->text) != SB_OK)
    return SB_ERROR;
  if (it->kind == SB_RS_CUSTOM)
    return SB_OK; /* given whole when the call ends */
  return delta(e, i, "response.function_call_arguments.delta", NULL, ev->text,
               out);
}

/* ---- the pass-through path --------------------------------------------------- */

static bool terminal(sb_slice_t name)
{
  return SB_SLICE_IS(name, "response.completed") ||
         SB_SLICE_IS(name, "response.incomplete") ||
         SB_SLICE_IS(name, "response.failed");
}

static sb_status_t native_event(rs_enc_t *e, const sb_hub_event_t *ev,
                                sb_buf_t *out)
{
  if (!e->stream) {
    e->body = ev->text;
    return SB_OK;
  }
  if (terminal(ev->name) && ev->name.len < sizeof(e->held_name)) {
    memcpy(e->held_name, ev->name.ptr, ev->name.len);
    e->held_name[ev->name.len] = '\0';
    sb_buf_reset(&e->held);
    return sb_buf_append_slice(&e->held, ev->text);
  }
  /* the provider numbers its events from 0: an event of the gateway's
   * own at the end (a failure) goes on from there */
  e->seq++;
  sb_buf_appendz(out, "event: ");
  sb_buf_append_slice(out, ev->name);
  sb_buf_append(out, SB_STRLIT("\ndata: "));
  sb_buf_append_slice(out, ev->text);
  return sb_buf_append(out, SB_STRLIT("\n\n"));
}

/* `obj` (a response object) with the end's usage, cost included, into
 * `w`. */
static void with_cost(sb_jw_t *w, const sb_json_t *obj,
                      const sb_answer_end_t *end, sb_buf_t *tmp)
{
  sb_jw_t uw;
  sb_buf_reset(tmp);
  sb_jw_init(&uw, tmp);
  sb_responses_write_usage(&uw, end);
  sb_json_edit_t ed[] = {{"usage", 5, tmp->data, tmp->len, SB_EDIT_MODE_SET}};
  sb_json_rewrite(w, obj, ed, sb_jw_status(&uw) == SB_OK ? 1 : 0);
}

static sb_status_t passthrough_end(rs_enc_t *e, const sb_answer_end_t *end,
                                   sb_buf_t *out)
{
  sb_arena_t a;
  sb_json_t *root = NULL;
  sb_jw_t w;
  sb_status_t rc = SB_OK;
  sb_slice_t held = e->stream ? sb_buf_slice(&e->held) : e->body;
  sb_arena_init(&a, 16 * 1024, 0);
  if (held.len == 0 ||
      sb_json_parse(&a, held.ptr, held.len, 0, &root, NULL) != SB_OK)
    root = NULL;
  const sb_json_t *resp = e->stream ? sb_json_get(root, "response") : root;
  if (end->error_status != 0 || !sb_json_is(resp, SB_JSON_OBJECT)) {
    /* the provider's stream broke off: the gateway's own failure */
    sb_arena_destroy(&a);
    sb_buf_reset(&e->kept);
    sb_jw_init(&w, &e->kept);
    sb_answer_end_t failed = *end;
    if (failed.error_status == 0) {
      failed.error_status = 502;
      failed.error_message = SB_SLICE_LIT("the provider's answer ended "
                                          "without its response");
    }
    object(e, &w, "failed", NULL, &failed);
    if (sb_jw_status(&w) != SB_OK)
      return SB_ERROR;
    if (!e->stream)
      return sb_buf_append_slice(out, sb_buf_slice(&e->kept));
    ev_begin(e, &w, out, "error");
    sb_jw_kv_str(&w, SB_STRLIT("code"), SB_STRLIT("server_error"));
    sb_jw_kv_str(&w, SB_STRLIT("message"), failed.error_message.ptr,
                 failed.error_message.len);
    sb_jw_kv_raw(&w, SB_STRLIT("param"), SB_STRLIT("null"));
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
    ev_begin(e, &w, out, "response.failed");
    sb_jw_key_lit(&w, "response");
    sb_jw_raw(&w, e->kept.data, e->kept.len);
    return ev_end(&w, out);
  }
  sb_buf_reset(&e->kept);
  sb_jw_init(&w, &e->kept);
  with_cost(&w, resp, end, &e->tmp);
  if (sb_jw_status(&w) != SB_OK)
    rc = SB_ERROR;
  else if (!e->stream) {
    rc = sb_buf_append_slice(out, sb_buf_slice(&e->kept));
  } else {
    /* the terminal event, its response with the cost */
    sb_json_edit_t ed[] = {
        {"response", 8, e->kept.data, e->kept.len, SB_EDIT_MODE_SET}};
    sb_buf_appendz(out, "event: ");
    sb_buf_appendz(out, e->held_name);
    sb_buf_append(out, SB_STRLIT("\ndata: "));
    sb_jw_init(&w, out);
    sb_json_rewrite(&w, root, ed, 1);
    rc = sb_jw_status(&w) == SB_OK ? sb_buf_append(out, SB_STRLIT("\n\n"))
                                   : SB_ERROR;
  }
  sb_arena_destroy(&a);
  return rc;
}

/* ---- the face ------------------------------------------------------------------ */

static sb_status_t enc_event(void *st, const sb_hub_event_t *ev, sb_buf_t *out)
{
  rs_enc_t *e = st;
  if (e->passthrough) {
    if (ev->kind == SB_HUB_EV_NATIVE)
      return native_event(e, ev, out);
    if (ev->kind == SB_HUB_EV_FINISH)
      e->finish = ev->finish;
    return SB_OK;
  }
  if (ev->kind != SB_HUB_EV_USAGE && ev->kind != SB_HUB_EV_ERROR &&
      created(e, out) != SB_OK)
    return SB_ERROR;
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    return ev->text.len > 0 ? text_event(e, ev, out) : SB_OK;
  case SB_HUB_EV_REASONING:
    return ev->text.len > 0 ? reasoning_event(e, ev, out) : SB_OK;
  case SB_HUB_EV_SIGNATURE:
  case SB_HUB_EV_REDACTED:
    return opaque_event(e, ev, out);
  case SB_HUB_EV_TOOL_START:
    return tool_start(e, ev, out);
  case SB_HUB_EV_TOOL_ARGS:
    return tool_args(e, ev, out);
  case SB_HUB_EV_BLOCK_STOP:
    if (e->cur >= 0)
      return close_cur(e, out);
    /* a tool call's block: the last item, when it is one */
    if (e->n_items > 0 && e->items[e->n_items - 1].tool >= 0)
      return item_done(e, (int)e->n_items - 1, out);
    return SB_OK;
  case SB_HUB_EV_FINISH:
    e->finish = ev->finish;
    return close_all(e, out);
  case SB_HUB_EV_START:
  case SB_HUB_EV_USAGE:
  case SB_HUB_EV_ERROR:
  case SB_HUB_EV_NATIVE:
    return SB_OK;
  }
  return SB_OK;
}

static sb_status_t enc_end(void *st, const sb_answer_end_t *end, sb_buf_t *out)
{
  rs_enc_t *e = st;
  if (e->passthrough)
    return passthrough_end(e, end, out);
  bool failed = end->error_status != 0;
  sb_finish_t f = end->finish != SB_FINISH_NONE ? end->finish : e->finish;
  const char *incomplete = NULL;
  if (f == SB_FINISH_LENGTH)
    incomplete = "max_output_tokens";
  else if (f == SB_FINISH_CONTENT_FILTER)
    incomplete = "content_filter";
  const char *status = failed       ? "failed"
                       : incomplete ? "incomplete"
                                    : "completed";
  if (created(e, out) != SB_OK || (!failed && close_all(e, out) != SB_OK))
    return SB_ERROR;
  sb_jw_t w;
  sb_buf_reset(&e->kept);
  sb_jw_init(&w, &e->kept);
  object(e, &w, status, failed ? NULL : incomplete, end);
  if (sb_jw_status(&w) != SB_OK)
    return SB_ERROR;
  if (!e->stream)
    return sb_buf_append_slice(out, sb_buf_slice(&e->kept));
  if (failed) {
    ev_begin(e, &w, out, "error");
    sb_jw_kv_str(&w, SB_STRLIT("code"),
                 end->error_type != NULL ? end->error_type : "server_error",
                 strlen(end->error_type != NULL ? end->error_type
                                                : "server_error"));
    sb_jw_kv_str(&w, SB_STRLIT("message"), end->error_message.ptr,
                 end->error_message.len);
    sb_jw_kv_raw(&w, SB_STRLIT("param"), SB_STRLIT("null"));
    if (ev_end(&w, out) != SB_OK)
      return SB_ERROR;
  }
  ev_begin(e, &w, out,
           failed       ? "response.failed"
           : incomplete ? "response.incomplete"
                        : "response.completed");
  sb_jw_key_lit(&w, "response");
  sb_jw_raw(&w, e->kept.data, e->kept.len);
  return ev_end(&w, out);
}

static void enc_error(const sb_answer_error_t *err, int *status, sb_buf_t *out)
{
  (void)status;
  sb_responses_error_body(err, out);
}

static bool header_safe(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The tools the provider was not given (OpenAI's own), named for the
 * client; none on the pass-through path, where the provider runs them. */
static size_t enc_head(void *st, sb_kv_t *out, size_t cap)
{
  rs_enc_t *e = st;
  const sb_json_t *tools =
      e->req != NULL ? sb_json_get(e->req->native, "tools") : NULL;
  if (e->passthrough || cap == 0 || !sb_json_is(tools, SB_JSON_ARRAY))
    return 0;
  sb_buf_t b;
  sb_buf_init(&b, 4096);
  for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
    const sb_json_t *type = sb_json_get(t, "type");
    if (sb_responses_tool_is_function(t) || !sb_json_is(type, SB_JSON_STRING))
      continue;
    sb_slice_t name = sb_json_str_raw(type);
    /* each type once, and only header-safe bytes */
    bool seen = false, safe = true;
    for (size_t i = 0; i < name.len; i++)
      safe &= header_safe((unsigned char)name.ptr[i]);
    for (const sb_json_t *p = tools->child; p != t && !seen; p = p->next)
      seen = sb_json_str_eq(sb_json_get(p, "type"), name.ptr, name.len);
    if (seen || !safe)
      continue;
    if (b.len > 0)
      sb_buf_append(&b, SB_STRLIT(", "));
    sb_buf_append_slice(&b, name);
  }
  size_t n = 0;
  if (b.len > 0 && sb_buf_cstr(&b) == SB_OK) {
    out[0].name = "X-Switchboard-Dropped-Tools";
    out[0].value = sb_arena_strndup(e->a, b.data, b.len);
    n = out[0].value != NULL;
  }
  sb_buf_free(&b);
  return n;
}

static sb_slice_t enc_kept(void *st)
{
  rs_enc_t *e = st;
  return sb_buf_slice(&e->kept);
}

const sb_codec_encoder_t sb_responses_encoder = {
    .state_size = sizeof(rs_enc_t),
    .begin = enc_begin,
    .stream_type = "text/event-stream",
    .body_type = "application/json",
    .event = enc_event,
    .end = enc_end,
    .error = enc_error,
    .head = enc_head,
    .kept = enc_kept,
};
