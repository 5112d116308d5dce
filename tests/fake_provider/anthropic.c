/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic Messages wire format (POST .../v1/messages): the message
 * body, and its stream of named events (message_start, ping, a thinking
 * block with its signature, a text block, one tool_use block per call with
 * input_json_delta pieces, message_delta with the stop reason and output
 * usage, message_stop).
 *
 * Scenario fields keep their meaning; `usage` is merged over the default
 * {"input_tokens":P,"output_tokens":C} in Anthropic's own keys (add
 * cache_read_input_tokens / cache_creation_input_tokens there), and
 * `finish_reason` is the stop_reason as Anthropic writes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

static void an_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  static const char *const keys[] = {"model", "stream", "messages"};
  fp_span_t sp[3];
  if (r->body.len == 0 || !fp_json_scan(r->body.data, r->body.len, keys, 3, sp))
    return;
  fp_req_model(q, sp[0]);
  q->stream = fp_span_is_true(sp[1]);
  q->messages = sp[2];
}

/* default usage with the scenario's merged over it */
static json_t *an_usage(const fp_scn_t *sc, size_t body_len, size_t completion)
{
  json_int_t p = (json_int_t)(body_len / 4), c = (json_int_t)completion;
  json_t *u = json_pack("{s:I,s:I}", "input_tokens", p < 1 ? 1 : p, "output_tokens",
                        c < 1 ? 1 : c);
  if (u != NULL && sc->usage != NULL)
    json_object_update(u, (json_t *)sc->usage);
  return u;
}

static void event(fp_evlist_t *l, const char *name, bool counted, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "event: NAME\ndata: " + formatted text; the caller may append more before
 * ev_close(). */
static void event(fp_evlist_t *l, const char *name, bool counted, const char *fmt, ...)
{
  (void)counted;
  fp_buf_t *b = fp_ev_buf(l);
  fp_buf_printf(b, "event: %s\ndata: ", name);
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  fp_buf_adds(b, tmp);
}

static void ev_close(fp_evlist_t *l, bool counted)
{
  fp_buf_adds(fp_ev_buf(l), "\n\n");
  fp_ev_mark(l, counted);
}

static void call_id(fp_buf_t *b, const fp_scn_t *sc, size_t m)
{
  const json_t *id = fp_call_field(sc, m, "id");
  if (id != NULL) {
    fp_buf_json(b, id);
  } else {
    char def[32];
    int n = snprintf(def, sizeof(def), "toolu_fake_%zu", m);
    fp_buf_json_str(b, def, (size_t)n);
  }
}

/* The input object of a call: its arguments when they are a JSON object. */
static void call_input(fp_buf_t *b, const fp_scn_t *sc, size_t m)
{
  size_t alen;
  const char *a = fp_call_args(sc, m, &alen);
  json_t *v = json_loadb(a, alen, 0, NULL);
  if (json_is_object(v))
    fp_buf_add(b, a, alen);
  else
    fp_buf_adds(b, "{}");
  json_decref(v);
}

typedef struct {
  fp_buf_t text;
  bool has_text;
  size_t ncalls;
  fp_buf_t id, model, stop;
} an_reply_t;

static void render_stream(fp_evlist_t *l, const fp_scn_t *sc, const an_reply_t *a,
                          json_t *usage)
{
  fp_buf_t *b = fp_ev_buf(l);
  if (sc->raw_events != NULL) {
    size_t k;
    const json_t *ev;
    json_array_foreach(sc->raw_events, k, ev)
    {
      fp_buf_adds(b, "data: ");
      fp_buf_add(b, json_string_value(ev), json_string_length(ev));
      ev_close(l, true);
    }
    return;
  }
  /* message_start carries the input usage and output_tokens 1 */
  json_t *start_usage = json_deep_copy(usage);
  if (start_usage != NULL)
    json_object_set_new(start_usage, "output_tokens", json_integer(1));
  event(l, "message_start", false, "{\"type\":\"message_start\",\"message\":{\"id\":");
  fp_buf_add(b, a->id.data, a->id.len);
  fp_buf_adds(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
  fp_buf_add(b, a->model.data, a->model.len);
  fp_buf_adds(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
  if (sc->usage_mode != FP_USAGE_NEVER && start_usage != NULL) {
    fp_buf_adds(b, ",\"usage\":");
    fp_buf_json(b, start_usage);
  }
  fp_buf_adds(b, "}}");
  ev_close(l, false);
  json_decref(start_usage);
  event(l, "ping", false, "{\"type\": \"ping\"}");
  ev_close(l, false);

  int block = 0;
  if (sc->reasoning != NULL) {
    const char *s = json_string_value(sc->reasoning);
    size_t n = json_string_length(sc->reasoning);
    event(l, "content_block_start", false,
          "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":"
          "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}",
          block);
    ev_close(l, false);
    for (size_t off = 0; off < n;) {
      size_t end = fp_word_end(s, n, off);
      event(l, "content_block_delta", true,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":"
            "\"thinking_delta\",\"thinking\":",
            block);
      fp_buf_json_str(b, s + off, end - off);
      fp_buf_adds(b, "}}");
      ev_close(l, true);
      off = end;
    }
    if (sc->signature != NULL) {
      event(l, "content_block_delta", false,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":"
            "\"signature_delta\",\"signature\":",
            block);
      fp_buf_json(b, sc->signature);
      fp_buf_adds(b, "}}");
      ev_close(l, false);
    }
    event(l, "content_block_stop", false, "{\"type\":\"content_block_stop\",\"index\":%d}",
          block);
    ev_close(l, false);
    block++;
  }
  if (a->has_text) {
    event(l, "content_block_start", false,
          "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":"
          "\"text\",\"text\":\"\"}}",
          block);
    ev_close(l, false);
    size_t off = 0;
    const char *piece;
    size_t plen;
    for (size_t i = 0; fp_text_pieces(sc, a->text.data, a->text.len, i, &off, &piece, &plen);
         i++) {
      event(l, "content_block_delta", true,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":"
            "\"text_delta\",\"text\":",
            block);
      fp_buf_json_str(b, piece, plen);
      fp_buf_adds(b, "}}");
      ev_close(l, true);
    }
    event(l, "content_block_stop", false, "{\"type\":\"content_block_stop\",\"index\":%d}",
          block);
    ev_close(l, false);
    block++;
  }
  for (size_t m = 0; m < a->ncalls; m++, block++) {
    event(l, "content_block_start", false,
          "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":"
          "\"tool_use\",\"id\":",
          block);
    call_id(b, sc, m);
    fp_buf_adds(b, ",\"name\":");
    fp_buf_json(b, fp_call_field(sc, m, "name"));
    fp_buf_adds(b, ",\"input\":{}}}");
    ev_close(l, false);
    size_t alen;
    const char *args = fp_call_args(sc, m, &alen);
    for (size_t off = 0; off < alen;) {
      size_t end = fp_piece_end(args, alen, off, sc->arg_chunk);
      event(l, "content_block_delta", true,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":"
            "\"input_json_delta\",\"partial_json\":",
            block);
      fp_buf_json_str(b, args + off, end - off);
      fp_buf_adds(b, "}}");
      ev_close(l, true);
      off = end;
    }
    event(l, "content_block_stop", false, "{\"type\":\"content_block_stop\",\"index\":%d}",
          block);
    ev_close(l, false);
  }
  event(l, "message_delta", false, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
  fp_buf_add(b, a->stop.data, a->stop.len);
  fp_buf_adds(b, ",\"stop_sequence\":null}");
  if (sc->usage_mode != FP_USAGE_NEVER) {
    fp_buf_adds(b, ",\"usage\":{\"output_tokens\":");
    fp_buf_json(b, json_object_get(usage, "output_tokens"));
    fp_buf_adds(b, "}");
  }
  fp_buf_adds(b, "}");
  ev_close(l, false);
  if (!sc->no_done) {
    event(l, "message_stop", false, "{\"type\":\"message_stop\"}");
    ev_close(l, false);
  }
}

static void render_body(fp_buf_t *b, const fp_scn_t *sc, const an_reply_t *a, json_t *usage)
{
  fp_buf_adds(b, "{\"id\":");
  fp_buf_add(b, a->id.data, a->id.len);
  fp_buf_adds(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
  fp_buf_add(b, a->model.data, a->model.len);
  fp_buf_adds(b, ",\"content\":[");
  bool first = true;
  if (sc->reasoning != NULL) {
    fp_buf_adds(b, "{\"type\":\"thinking\",\"thinking\":");
    fp_buf_json(b, sc->reasoning);
    fp_buf_adds(b, ",\"signature\":");
    if (sc->signature != NULL)
      fp_buf_json(b, sc->signature);
    else
      fp_buf_adds(b, "\"\"");
    fp_buf_adds(b, "}");
    first = false;
  }
  if (a->has_text) {
    fp_buf_adds(b, first ? "" : ",");
    fp_buf_adds(b, "{\"type\":\"text\",\"text\":");
    fp_buf_json_str(b, a->text.data, a->text.len);
    fp_buf_adds(b, "}");
    first = false;
  }
  for (size_t m = 0; m < a->ncalls; m++) {
    fp_buf_adds(b, first ? "" : ",");
    fp_buf_adds(b, "{\"type\":\"tool_use\",\"id\":");
    call_id(b, sc, m);
    fp_buf_adds(b, ",\"name\":");
    fp_buf_json(b, fp_call_field(sc, m, "name"));
    fp_buf_adds(b, ",\"input\":");
    call_input(b, sc, m);
    fp_buf_adds(b, "}");
    first = false;
  }
  fp_buf_adds(b, "],\"stop_reason\":");
  fp_buf_add(b, a->stop.data, a->stop.len);
  fp_buf_adds(b, ",\"stop_sequence\":null");
  if (sc->usage_mode != FP_USAGE_NEVER) {
    fp_buf_adds(b, ",\"usage\":");
    fp_buf_json(b, usage);
  }
  fp_buf_adds(b, "}");
}

static bool an_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                     const fp_scn_t *sc, uint64_t seq)
{
  an_reply_t a;
  memset(&a, 0, sizeof(a));
  a.ncalls = json_array_size(sc->tool_calls);
  fp_buf_t user = {0};
  bool has_user = fp_last_user_text(q->messages, &user);
  a.has_text = fp_reply_text(sc, has_user ? user.data : NULL, user.len, &a.text);
  fp_buf_free(&user);
  fp_reply_id_model(sc, q, "msg_fake_", seq, &a.id, &a.model);
  if (sc->finish_reason != NULL)
    fp_buf_json(&a.stop, sc->finish_reason);
  else
    fp_buf_adds(&a.stop, a.ncalls > 0 ? "\"tool_use\"" : "\"end_turn\"");

  /* output tokens: text pieces + argument pieces, as for OpenAI */
  size_t pieces = a.has_text ? fp_text_piece_count(sc, a.text.data, a.text.len) : 0;
  for (size_t m = 0; m < a.ncalls; m++) {
    size_t alen;
    const char *args = fp_call_args(sc, m, &alen);
    for (size_t o = 0; o < alen; pieces++)
      o = fp_piece_end(args, alen, o, sc->arg_chunk);
  }
  json_t *usage = an_usage(sc, r->body.len, pieces);
  bool ok = usage != NULL;
  if (q->stream) {
    fp_evlist_t *l = fp_ev_new();
    ok = ok && l != NULL;
    if (l != NULL) {
      if (ok)
        render_stream(l, sc, &a, usage);
      ok = ok && !fp_ev_failed(l);
      fp_job_set_stream(j, &fp_evlist_ops, l, fp_ev_counted(l));
    }
  } else {
    fp_buf_t b = {0};
    if (ok)
      render_body(&b, sc, &a, usage);
    ok = ok && !b.failed;
    fp_job_set_body(j, &b, "application/json");
  }
  ok = ok && !a.text.failed && !a.id.failed && !a.model.failed && !a.stop.failed;
  json_decref(usage);
  fp_buf_free(&a.text);
  fp_buf_free(&a.id);
  fp_buf_free(&a.model);
  fp_buf_free(&a.stop);
  return ok;
}

/* Anthropic's error shape; 529 is its "overloaded". */
static void an_error_body(fp_buf_t *out, int status)
{
  const char *type = status == 429   ? "rate_limit_error"
                     : status == 401 ? "authentication_error"
                     : status == 403 ? "permission_error"
                     : status == 404 ? "not_found_error"
                     : status == 413 ? "request_too_large"
                     : status == 529 ? "overloaded_error"
                     : status >= 500 ? "api_error"
                                     : "invalid_request_error";
  fp_buf_printf(out,
                "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"fake error %d\"}}",
                type, status);
}

const fp_format_t fp_anthropic_messages = {
    .name = "anthropic",
    .parse = an_parse,
    .build = an_build,
    .error_body = an_error_body,
};
