/* SPDX-License-Identifier: MIT */
/*
 * OpenAI's Responses API (POST .../responses): the response object, and
 * its stream of typed events (`event: <type>` and `data:` with `type` and
 * `sequence_number`): response.created, response.in_progress, a
 * reasoning item (summary deltas, the scenario's `signature` as its
 * encrypted_content), a message item (output_text deltas), one
 * function_call item per call (argument deltas, interleaved with
 * `parallel`), and response.completed, or response.incomplete when the
 * scenario's finish_reason is "length" (max_output_tokens) or
 * "content_filter". There is no [DONE]; `no_done` leaves the terminal
 * event out.
 *
 * Scenario fields keep their meaning; `usage` is merged over the default
 * {"input_tokens":P,"input_tokens_details":{"cached_tokens":0},
 * "output_tokens":C,"output_tokens_details":{"reasoning_tokens":0},
 * "total_tokens":P+C}. The echo reply answers the last user message of
 * `input` (a string input is one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

static void rs_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  static const char *const keys[] = {"model", "stream", "input"};
  fp_span_t sp[3];
  if (r->body.len == 0 || !fp_json_scan(r->body.data, r->body.len, keys, 3, sp))
    return;
  fp_req_model(q, sp[0]);
  q->stream = fp_span_is_true(sp[1]);
  q->messages = sp[2];
}

/* The last user message's text: a string input, or the last user item's
 * string content or input_text parts. */
static bool last_user(fp_span_t input, fp_buf_t *out)
{
  if (input.p == NULL)
    return false;
  json_t *v = json_loadb(input.p, input.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  bool found = false;
  if (json_is_string(v)) {
    fp_buf_add(out, json_string_value(v), json_string_length(v));
    found = true;
  } else if (json_is_array(v)) {
    const json_t *last = NULL, *x;
    size_t k;
    json_array_foreach(v, k, x)
    {
      const json_t *role = json_object_get(x, "role");
      if (json_is_string(role) && strcmp(json_string_value(role), "user") == 0)
        last = x;
    }
    const json_t *content = json_object_get(last, "content");
    if (json_is_string(content)) {
      fp_buf_add(out, json_string_value(content), json_string_length(content));
    } else {
      const json_t *part;
      json_array_foreach(content, k, part)
      {
        const json_t *t = json_object_get(part, "text");
        if (json_is_string(t))
          fp_buf_add(out, json_string_value(t), json_string_length(t));
      }
    }
    found = last != NULL;
  }
  json_decref(v);
  return found;
}

typedef struct {
  const fp_scn_t *sc;
  uint64_t seq;
  json_t *resp;   /* the response object (output and usage filled at the end) */
  fp_buf_t text;
  bool has_text;
  size_t ncalls;
  long seqno;     /* the events' sequence_number */
  const char *status, *reason;
} rs_reply_t;

/* One event: "event: T\ndata: {type, sequence_number, ...fields}". */
static void event(fp_evlist_t *l, rs_reply_t *a, const char *type, json_t *fields,
                  bool counted)
{
  json_t *ev = json_pack("{s:s,s:I}", "type", type, "sequence_number",
                         (json_int_t)a->seqno++);
  if (ev != NULL && fields != NULL)
    json_object_update(ev, fields);
  json_decref(fields);
  fp_buf_t *b = fp_ev_buf(l);
  fp_buf_printf(b, "event: %s\ndata: ", type);
  fp_buf_json(b, ev);
  fp_buf_adds(b, "\n\n");
  fp_ev_mark(l, counted);
  json_decref(ev);
}

static json_t *call_item(const rs_reply_t *a, size_t m, bool done)
{
  char id[64], defid[32];
  snprintf(id, sizeof(id), "fc_fake_%llu_%zu", (unsigned long long)a->seq, m);
  snprintf(defid, sizeof(defid), "call_%zu", m);
  const json_t *cid = fp_call_field(a->sc, m, "id");
  size_t alen;
  const char *args = fp_call_args(a->sc, m, &alen);
  json_t *it = json_pack("{s:s,s:s,s:s,s:s%}", "id", id, "type", "function_call", "status",
                         done ? "completed" : "in_progress", "arguments", done ? args : "",
                         done ? alen : (size_t)0);
  json_object_set_new(it, "call_id", cid != NULL ? json_deep_copy(cid) : json_string(defid));
  json_object_set_new(it, "name", json_deep_copy(fp_call_field(a->sc, m, "name")));
  return it;
}

static json_t *reasoning_item(const rs_reply_t *a, bool done)
{
  char id[48];
  snprintf(id, sizeof(id), "rs_fake_%llu", (unsigned long long)a->seq);
  json_t *it = json_pack("{s:s,s:s,s:[]}", "id", id, "type", "reasoning", "summary");
  if (done) {
    json_array_append_new(json_object_get(it, "summary"),
                          json_pack("{s:s,s:O}", "type", "summary_text", "text",
                                    a->sc->reasoning));
    if (a->sc->signature != NULL)
      json_object_set(it, "encrypted_content", (json_t *)a->sc->signature);
  }
  return it;
}

static json_t *message_item(const rs_reply_t *a, bool done)
{
  char id[48];
  snprintf(id, sizeof(id), "msg_fake_%llu", (unsigned long long)a->seq);
  json_t *it = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", id, "type", "message", "status",
                         done ? "completed" : "in_progress", "role", "assistant",
                         "content");
  if (done)
    json_array_append_new(json_object_get(it, "content"),
                          json_pack("{s:s,s:s%,s:[]}", "type", "output_text", "text",
                                    a->text.data, a->text.len, "annotations"));
  return it;
}

/* The output items, whole. */
static json_t *output(const rs_reply_t *a)
{
  json_t *out = json_array();
  if (a->sc->reasoning != NULL)
    json_array_append_new(out, reasoning_item(a, true));
  if (a->has_text)
    json_array_append_new(out, message_item(a, true));
  for (size_t m = 0; m < a->ncalls; m++)
    json_array_append_new(out, call_item(a, m, true));
  return out;
}

static json_t *with_status(const rs_reply_t *a, const char *status, json_t *usage)
{
  json_t *r = json_deep_copy(a->resp);
  json_object_set_new(r, "status", json_string(status));
  if (usage != NULL) {
    json_object_set_new(r, "output", output(a));
    json_object_set(r, "usage", usage);
    if (a->reason != NULL)
      json_object_set_new(r, "incomplete_details", json_pack("{s:s}", "reason", a->reason));
  }
  return r;
}

static void item_added(fp_evlist_t *l, rs_reply_t *a, size_t index, json_t *item)
{
  event(l, a, "response.output_item.added",
        json_pack("{s:I,s:o}", "output_index", (json_int_t)index, "item", item), false);
}

static void render_stream(fp_evlist_t *l, rs_reply_t *a, json_t *usage)
{
  const fp_scn_t *sc = a->sc;
  if (sc->raw_events != NULL) {
    size_t k;
    const json_t *ev;
    json_array_foreach(sc->raw_events, k, ev)
    {
      fp_buf_t *b = fp_ev_buf(l);
      fp_buf_adds(b, "data: ");
      fp_buf_add(b, json_string_value(ev), json_string_length(ev));
      fp_buf_adds(b, "\n\n");
      fp_ev_mark(l, true);
    }
    return;
  }
  event(l, a, "response.created", json_pack("{s:o}", "response", with_status(a, "in_progress", NULL)),
        false);
  event(l, a, "response.in_progress",
        json_pack("{s:o}", "response", with_status(a, "in_progress", NULL)), false);
  size_t index = 0;
  if (sc->reasoning != NULL) {
    json_t *done = reasoning_item(a, true);
    const char *rid = json_string_value(json_object_get(done, "id"));
    item_added(l, a, index, reasoning_item(a, false));
    event(l, a, "response.reasoning_summary_part.added",
          json_pack("{s:s,s:I,s:i,s:{s:s,s:s}}", "item_id", rid, "output_index",
                    (json_int_t)index, "summary_index", 0, "part", "type", "summary_text",
                    "text", ""),
          false);
    const char *s = json_string_value(sc->reasoning);
    size_t n = json_string_length(sc->reasoning);
    for (size_t off = 0; off < n;) {
      size_t end = fp_word_end(s, n, off);
      event(l, a, "response.reasoning_summary_text.delta",
            json_pack("{s:s,s:I,s:i,s:s%}", "item_id", rid, "output_index", (json_int_t)index,
                      "summary_index", 0, "delta", s + off, end - off),
            true);
      off = end;
    }
    event(l, a, "response.reasoning_summary_text.done",
          json_pack("{s:s,s:I,s:i,s:O}", "item_id", rid, "output_index", (json_int_t)index,
                    "summary_index", 0, "text", sc->reasoning),
          false);
    event(l, a, "response.reasoning_summary_part.done",
          json_pack("{s:s,s:I,s:i,s:{s:s,s:O}}", "item_id", rid, "output_index",
                    (json_int_t)index, "summary_index", 0, "part", "type", "summary_text",
                    "text", sc->reasoning),
          false);
    event(l, a, "response.output_item.done",
          json_pack("{s:I,s:o}", "output_index", (json_int_t)index, "item", done), false);
    index++;
  }
  if (a->has_text) {
    json_t *done = message_item(a, true);
    const char *mid = json_string_value(json_object_get(done, "id"));
    item_added(l, a, index, message_item(a, false));
    event(l, a, "response.content_part.added",
          json_pack("{s:s,s:I,s:i,s:{s:s,s:s,s:[]}}", "item_id", mid, "output_index",
                    (json_int_t)index, "content_index", 0, "part", "type", "output_text",
                    "text", "", "annotations"),
          false);
    size_t off = 0, plen;
    const char *piece;
    for (size_t i = 0; fp_text_pieces(sc, a->text.data, a->text.len, i, &off, &piece, &plen);
         i++)
      event(l, a, "response.output_text.delta",
            json_pack("{s:s,s:I,s:i,s:s%,s:[]}", "item_id", mid, "output_index",
                      (json_int_t)index, "content_index", 0, "delta", piece, plen, "logprobs"),
            true);
    event(l, a, "response.output_text.done",
          json_pack("{s:s,s:I,s:i,s:s%,s:[]}", "item_id", mid, "output_index",
                    (json_int_t)index, "content_index", 0, "text", a->text.data, a->text.len,
                    "logprobs"),
          false);
    event(l, a, "response.content_part.done",
          json_pack("{s:s,s:I,s:i,s:{s:s,s:s%,s:[]}}", "item_id", mid, "output_index",
                    (json_int_t)index, "content_index", 0, "part", "type", "output_text",
                    "text", a->text.data, a->text.len, "annotations"),
          false);
    event(l, a, "response.output_item.done",
          json_pack("{s:I,s:o}", "output_index", (json_int_t)index, "item", done), false);
    index++;
  }
  /* the calls: each added, its argument pieces (interleaved with
   * `parallel`), each done */
  size_t first = index;
  size_t *offs = calloc(a->ncalls + 1, sizeof(*offs));
  for (size_t m = 0; m < a->ncalls; m++)
    item_added(l, a, first + m, call_item(a, m, false));
  for (bool more = true; more && offs != NULL;) {
    more = false;
    for (size_t m = 0; m < a->ncalls; m++) {
      size_t alen;
      const char *args = fp_call_args(sc, m, &alen);
      while (offs[m] < alen) {
        size_t end = fp_piece_end(args, alen, offs[m], sc->arg_chunk);
        char id[64];
        snprintf(id, sizeof(id), "fc_fake_%llu_%zu", (unsigned long long)a->seq, m);
        event(l, a, "response.function_call_arguments.delta",
              json_pack("{s:s,s:I,s:s%}", "item_id", id, "output_index",
                        (json_int_t)(first + m), "delta", args + offs[m], end - offs[m]),
              true);
        offs[m] = end;
        if (sc->parallel) {
          more |= offs[m] < alen;
          break;
        }
      }
    }
  }
  free(offs);
  for (size_t m = 0; m < a->ncalls; m++) {
    size_t alen;
    const char *args = fp_call_args(sc, m, &alen);
    char id[64];
    snprintf(id, sizeof(id), "fc_fake_%llu_%zu", (unsigned long long)a->seq, m);
    event(l, a, "response.function_call_arguments.done",
          json_pack("{s:s,s:I,s:s%,s:O}", "item_id", id, "output_index",
                    (json_int_t)(first + m), "arguments", args, alen, "name",
                    fp_call_field(sc, m, "name")),
          false);
    event(l, a, "response.output_item.done",
          json_pack("{s:I,s:o}", "output_index", (json_int_t)(first + m), "item",
                    call_item(a, m, true)),
          false);
  }
  if (!sc->no_done) {
    const char *type = a->reason != NULL ? "response.incomplete" : "response.completed";
    event(l, a, type,
          json_pack("{s:o}", "response", with_status(a, a->status, usage)), false);
  }
}

static bool rs_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                     const fp_scn_t *sc, uint64_t seq)
{
  rs_reply_t a;
  memset(&a, 0, sizeof(a));
  a.sc = sc;
  a.seq = seq;
  a.ncalls = json_array_size(sc->tool_calls);
  fp_buf_t user = {0};
  bool has_user = last_user(q->messages, &user);
  a.has_text = fp_reply_text(sc, has_user ? user.data : NULL, user.len, &a.text);
  fp_buf_free(&user);
  fp_buf_t id = {0}, model = {0};
  fp_reply_id_model(sc, q, "resp_fake_", seq, &id, &model);
  const char *fr = json_string_value(sc->finish_reason);
  a.status = "completed";
  if (fr != NULL && (strcmp(fr, "length") == 0 || strcmp(fr, "max_output_tokens") == 0))
    a.reason = "max_output_tokens";
  else if (fr != NULL && strcmp(fr, "content_filter") == 0)
    a.reason = "content_filter";
  if (a.reason != NULL)
    a.status = "incomplete";
  a.resp = json_pack("{s:o,s:s,s:I,s:s,s:n,s:n,s:o,s:[],s:b,s:[],s:n}", "id",
                     json_loadb(id.data, id.len, JSON_DECODE_ANY, NULL), "object", "response",
                     "created_at", (json_int_t)sc->created, "status", "in_progress", "error",
                     "incomplete_details", "model",
                     json_loadb(model.data, model.len, JSON_DECODE_ANY, NULL), "output",
                     "parallel_tool_calls", 1, "tools", "usage");

  /* output tokens: text pieces + argument pieces, as for chat */
  size_t pieces = a.has_text ? fp_text_piece_count(sc, a.text.data, a.text.len) : 0;
  for (size_t m = 0; m < a.ncalls; m++) {
    size_t alen;
    const char *args = fp_call_args(sc, m, &alen);
    for (size_t o = 0; o < alen; pieces++)
      o = fp_piece_end(args, alen, o, sc->arg_chunk);
  }
  json_int_t p = (json_int_t)(r->body.len / 4), c = (json_int_t)pieces;
  if (p < 1)
    p = 1;
  if (c < 1)
    c = 1;
  json_t *usage = json_pack("{s:I,s:{s:i},s:I,s:{s:i},s:I}", "input_tokens", p,
                            "input_tokens_details", "cached_tokens", 0, "output_tokens", c,
                            "output_tokens_details", "reasoning_tokens", 0, "total_tokens",
                            p + c);
  if (usage != NULL && sc->usage != NULL) {
    json_object_update(usage, (json_t *)sc->usage);
    if (json_object_get(sc->usage, "total_tokens") == NULL)
      json_object_set_new(
          usage, "total_tokens",
          json_integer(json_integer_value(json_object_get(usage, "input_tokens")) +
                       json_integer_value(json_object_get(usage, "output_tokens"))));
  }
  json_t *u = sc->usage_mode == FP_USAGE_NEVER ? json_null() : usage;
  bool ok = a.resp != NULL && usage != NULL;
  if (q->stream) {
    fp_evlist_t *l = fp_ev_new();
    ok = ok && l != NULL;
    if (l != NULL) {
      if (ok)
        render_stream(l, &a, u);
      ok = ok && !fp_ev_failed(l);
      fp_job_set_stream(j, &fp_evlist_ops, l, fp_ev_counted(l));
    }
  } else {
    fp_buf_t b = {0};
    if (ok) {
      json_t *whole = with_status(&a, a.status, u);
      fp_buf_json(&b, whole);
      json_decref(whole);
    }
    ok = ok && !b.failed;
    fp_job_set_body(j, &b, "application/json");
  }
  if (sc->usage_mode == FP_USAGE_NEVER)
    json_decref(u);
  json_decref(usage);
  json_decref(a.resp);
  ok = ok && !a.text.failed && !id.failed && !model.failed;
  fp_buf_free(&a.text);
  fp_buf_free(&id);
  fp_buf_free(&model);
  return ok;
}

static void rs_error_body(fp_buf_t *out, int status)
{
  const char *kind = status == 429   ? "rate_limit_exceeded"
                     : status == 401 ? "invalid_api_key"
                     : status == 404 ? "not_found_error"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  fp_openai_error_body(out, status, kind);
}

const fp_format_t fp_openai_responses = {
    .name = "responses",
    .parse = rs_parse,
    .build = rs_build,
    .error_body = rs_error_body,
};
