/* SPDX-License-Identifier: MIT */
/*
 * The Gemini wire format: POST .../models/{model}:generateContent (a
 * GenerateContentResponse) and ...:streamGenerateContent?alt=sse (a series
 * of GenerateContentResponse events, "data: {...}\r\n\r\n").
 *
 * The model comes from the path. Stream events, in order: one thought part
 * per reasoning word ({"text":..,"thought":true}), one text part per content
 * piece, one functionCall part per tool call (Gemini sends calls whole),
 * then a last event with the finishReason. Every event carries
 * usageMetadata, as Gemini's do. `signature` becomes the thoughtSignature
 * of the first functionCall part (or of the first text part without
 * calls). `usage` is merged over the default usageMetadata in Gemini's own
 * keys; `finish_reason` is the finishReason as Gemini writes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

static void gm_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  const char *path = fp_req_path(r);
  const char *m = strstr(path, "/models/");
  if (m != NULL) {
    m += 8;
    const char *colon = strchr(m, ':');
    size_t n = colon != NULL ? (size_t)(colon - m) : strlen(m);
    q->own = json_stringn(m, n);
    q->model = json_string_value(q->own);
    q->model_len = json_string_length(q->own);
  }
  q->stream = strstr(path, ":streamGenerateContent") != NULL;
}

/* The text parts of the last user content. */
static bool last_user_text(const fp_request_t *r, fp_buf_t *out)
{
  json_t *body = json_loadb(r->body.data, r->body.len, 0, NULL);
  const json_t *contents = json_object_get(body, "contents");
  const json_t *last = NULL;
  size_t k;
  const json_t *c;
  json_array_foreach(contents, k, c)
  {
    const json_t *role = json_object_get(c, "role");
    if (role == NULL || (json_is_string(role) && strcmp(json_string_value(role), "user") == 0))
      last = c;
  }
  bool found = false;
  if (last != NULL) {
    const json_t *p;
    json_array_foreach(json_object_get(last, "parts"), k, p)
    {
      const json_t *t = json_object_get(p, "text");
      if (json_is_string(t)) {
        fp_buf_add(out, json_string_value(t), json_string_length(t));
        found = true;
      }
    }
  }
  json_decref(body);
  return found;
}

typedef struct {
  fp_buf_t text;
  bool has_text;
  size_t ncalls;
  fp_buf_t id, model, finish, usage;
} gm_reply_t;

static void function_call(fp_buf_t *b, const fp_scn_t *sc, size_t m, bool sig)
{
  fp_buf_adds(b, "{\"functionCall\":{\"name\":");
  fp_buf_json(b, fp_call_field(sc, m, "name"));
  fp_buf_adds(b, ",\"args\":");
  size_t alen;
  const char *a = fp_call_args(sc, m, &alen);
  json_t *v = json_loadb(a, alen, 0, NULL);
  if (json_is_object(v))
    fp_buf_json(b, v);
  else
    fp_buf_adds(b, "{}");
  json_decref(v);
  fp_buf_adds(b, "}");
  if (sig) {
    fp_buf_adds(b, ",\"thoughtSignature\":");
    fp_buf_json(b, sc->signature);
  }
  fp_buf_adds(b, "}");
}

static void text_part(fp_buf_t *b, const char *s, size_t n, bool thought, const fp_scn_t *sc,
                      bool sig)
{
  fp_buf_adds(b, "{\"text\":");
  fp_buf_json_str(b, s, n);
  if (thought)
    fp_buf_adds(b, ",\"thought\":true");
  if (sig) {
    fp_buf_adds(b, ",\"thoughtSignature\":");
    fp_buf_json(b, sc->signature);
  }
  fp_buf_adds(b, "}");
}

/* {"candidates":[{"content":{"parts":[ */
static void response_head(fp_buf_t *b)
{
  fp_buf_adds(b, "{\"candidates\":[{\"content\":{\"parts\":[");
}

/* ]},"role":"model"}[,"finishReason":F],"index":0}],"usageMetadata":..,...} */
static void response_tail(fp_buf_t *b, const fp_scn_t *sc, const gm_reply_t *g, bool finish)
{
  fp_buf_adds(b, "],\"role\":\"model\"}");
  if (finish) {
    fp_buf_adds(b, ",\"finishReason\":");
    fp_buf_add(b, g->finish.data, g->finish.len);
  }
  fp_buf_adds(b, ",\"index\":0}]");
  if (sc->usage_mode != FP_USAGE_NEVER) {
    fp_buf_adds(b, ",\"usageMetadata\":");
    fp_buf_add(b, g->usage.data, g->usage.len);
  }
  fp_buf_adds(b, ",\"modelVersion\":");
  fp_buf_add(b, g->model.data, g->model.len);
  fp_buf_adds(b, ",\"responseId\":");
  fp_buf_add(b, g->id.data, g->id.len);
  fp_buf_adds(b, "}");
}

static void render_stream(fp_evlist_t *l, const fp_scn_t *sc, const gm_reply_t *g)
{
  fp_buf_t *b = fp_ev_buf(l);
  if (sc->raw_events != NULL) {
    size_t k;
    const json_t *ev;
    json_array_foreach(sc->raw_events, k, ev)
    {
      fp_buf_adds(b, "data: ");
      fp_buf_add(b, json_string_value(ev), json_string_length(ev));
      fp_buf_adds(b, "\r\n\r\n");
      fp_ev_mark(l, true);
    }
    return;
  }
  bool sig_left = sc->signature != NULL;
  if (sc->reasoning != NULL) {
    const char *s = json_string_value(sc->reasoning);
    size_t n = json_string_length(sc->reasoning);
    for (size_t off = 0; off < n;) {
      size_t end = fp_word_end(s, n, off);
      fp_buf_adds(b, "data: ");
      response_head(b);
      text_part(b, s + off, end - off, true, sc, false);
      response_tail(b, sc, g, false);
      fp_buf_adds(b, "\r\n\r\n");
      fp_ev_mark(l, true);
      off = end;
    }
  }
  if (g->has_text) {
    size_t off = 0, plen;
    const char *piece;
    for (size_t i = 0; fp_text_pieces(sc, g->text.data, g->text.len, i, &off, &piece, &plen);
         i++) {
      fp_buf_adds(b, "data: ");
      response_head(b);
      bool sig = sig_left && g->ncalls == 0;
      text_part(b, piece, plen, false, sc, sig);
      sig_left = sig_left && !sig;
      response_tail(b, sc, g, false);
      fp_buf_adds(b, "\r\n\r\n");
      fp_ev_mark(l, true);
    }
  }
  for (size_t m = 0; m < g->ncalls; m++) {
    fp_buf_adds(b, "data: ");
    response_head(b);
    function_call(b, sc, m, sig_left);
    sig_left = false;
    response_tail(b, sc, g, false);
    fp_buf_adds(b, "\r\n\r\n");
    fp_ev_mark(l, true);
  }
  if (!sc->no_done) {
    fp_buf_adds(b, "data: ");
    response_head(b);
    fp_buf_adds(b, "{\"text\":\"\"}");
    response_tail(b, sc, g, true);
    fp_buf_adds(b, "\r\n\r\n");
    fp_ev_mark(l, false);
  }
}

static void render_body(fp_buf_t *b, const fp_scn_t *sc, const gm_reply_t *g)
{
  response_head(b);
  bool first = true, sig_left = sc->signature != NULL;
  if (sc->reasoning != NULL) {
    text_part(b, json_string_value(sc->reasoning), json_string_length(sc->reasoning), true, sc,
              false);
    first = false;
  }
  if (g->has_text) {
    fp_buf_adds(b, first ? "" : ",");
    bool sig = sig_left && g->ncalls == 0;
    text_part(b, g->text.data, g->text.len, false, sc, sig);
    sig_left = sig_left && !sig;
    first = false;
  }
  for (size_t m = 0; m < g->ncalls; m++) {
    fp_buf_adds(b, first ? "" : ",");
    function_call(b, sc, m, sig_left);
    sig_left = false;
    first = false;
  }
  response_tail(b, sc, g, true);
}

static bool gm_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                     const fp_scn_t *sc, uint64_t seq)
{
  gm_reply_t g;
  memset(&g, 0, sizeof(g));
  g.ncalls = json_array_size(sc->tool_calls);
  fp_buf_t user = {0};
  bool has_user = last_user_text(r, &user);
  g.has_text = fp_reply_text(sc, has_user ? user.data : NULL, user.len, &g.text);
  fp_buf_free(&user);
  fp_reply_id_model(sc, q, "resp-fake-", seq, &g.id, &g.model);
  if (sc->finish_reason != NULL)
    fp_buf_json(&g.finish, sc->finish_reason);
  else
    fp_buf_adds(&g.finish, "\"STOP\"");

  size_t pieces = g.has_text ? fp_text_piece_count(sc, g.text.data, g.text.len) : 0;
  pieces += g.ncalls;
  json_int_t p = (json_int_t)(r->body.len / 4), c = (json_int_t)pieces;
  json_t *u = json_pack("{s:I,s:I}", "promptTokenCount", p < 1 ? 1 : p,
                        "candidatesTokenCount", c < 1 ? 1 : c);
  if (u != NULL && sc->usage != NULL)
    json_object_update(u, (json_t *)sc->usage);
  if (u != NULL && json_object_get(u, "totalTokenCount") == NULL) {
    json_int_t total = json_integer_value(json_object_get(u, "promptTokenCount")) +
                       json_integer_value(json_object_get(u, "candidatesTokenCount")) +
                       json_integer_value(json_object_get(u, "thoughtsTokenCount"));
    json_object_set_new(u, "totalTokenCount", json_integer(total));
  }
  if (u != NULL)
    fp_buf_json(&g.usage, u);
  bool ok = u != NULL;
  json_decref(u);
  if (q->stream) {
    fp_evlist_t *l = fp_ev_new();
    ok = ok && l != NULL;
    if (l != NULL) {
      if (ok)
        render_stream(l, sc, &g);
      ok = ok && !fp_ev_failed(l);
      fp_job_set_stream(j, &fp_evlist_ops, l, fp_ev_counted(l));
    }
  } else {
    fp_buf_t b = {0};
    if (ok)
      render_body(&b, sc, &g);
    ok = ok && !b.failed;
    fp_job_set_body(j, &b, "application/json");
  }
  ok = ok && !g.text.failed && !g.id.failed && !g.model.failed && !g.finish.failed &&
       !g.usage.failed;
  fp_buf_free(&g.text);
  fp_buf_free(&g.id);
  fp_buf_free(&g.model);
  fp_buf_free(&g.finish);
  fp_buf_free(&g.usage);
  return ok;
}

/* Google's error shape: {"error":{"code","message","status"}}. */
static void gm_error_body(fp_buf_t *out, int status)
{
  const char *st = status == 429   ? "RESOURCE_EXHAUSTED"
                   : status == 401 ? "UNAUTHENTICATED"
                   : status == 403 ? "PERMISSION_DENIED"
                   : status == 404 ? "NOT_FOUND"
                   : status == 503 ? "UNAVAILABLE"
                   : status == 504 ? "DEADLINE_EXCEEDED"
                   : status >= 500 ? "INTERNAL"
                                   : "INVALID_ARGUMENT";
  fp_google_error_body(out, status, st);
}

const fp_format_t fp_gemini_generate = {
    .name = "gemini",
    .parse = gm_parse,
    .build = gm_build,
    .error_body = gm_error_body,
};
