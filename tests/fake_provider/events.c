/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the Anthropic and Gemini wire formats: a stream rendered as a
 * list of events when the answer is built (these formats serve tests, not
 * the benchmarks, so holding a reply's events is fine), the reply text a
 * scenario asks for, and what every format shares: word / piece splitting,
 * the request's model, the reply's id and model, and the OpenAI and Google
 * error bodies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

struct fp_evlist {
  fp_buf_t data;
  size_t *ends;
  bool *counted;
  size_t n, cap, next;
  bool failed;
};

fp_evlist_t *fp_ev_new(void) { return calloc(1, sizeof(fp_evlist_t)); }

fp_buf_t *fp_ev_buf(fp_evlist_t *l) { return &l->data; }

void fp_ev_mark(fp_evlist_t *l, bool counted)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    size_t *e = realloc(l->ends, cap * sizeof(*e));
    if (e != NULL)
      l->ends = e;
    bool *c = realloc(l->counted, cap * sizeof(*c));
    if (c != NULL)
      l->counted = c;
    if (e == NULL || c == NULL) {
      l->failed = true;
      return;
    }
    l->cap = cap;
  }
  l->ends[l->n] = l->data.len;
  l->counted[l->n] = counted;
  l->n++;
}

bool fp_ev_failed(const fp_evlist_t *l) { return l->failed || l->data.failed; }

long fp_ev_counted(const fp_evlist_t *l)
{
  long k = 0;
  for (size_t i = 0; i < l->n; i++)
    k += l->counted[i];
  return k;
}

static bool ev_next(void *state, fp_buf_t *out, bool *counted)
{
  fp_evlist_t *l = state;
  if (l->next >= l->n)
    return false;
  size_t start = l->next > 0 ? l->ends[l->next - 1] : 0;
  fp_buf_add(out, l->data.data + start, l->ends[l->next] - start);
  *counted = l->counted[l->next];
  l->next++;
  return true;
}

void fp_ev_free(void *state)
{
  fp_evlist_t *l = state;
  if (l == NULL)
    return;
  fp_buf_free(&l->data);
  free(l->ends);
  free(l->counted);
  free(l);
}

const fp_stream_ops_t fp_evlist_ops = {ev_next, fp_ev_free};

size_t fp_word_end(const char *s, size_t n, size_t off)
{
  const char *sp = memchr(s + off, ' ', n - off);
  return sp != NULL ? (size_t)(sp - s) + 1 : n;
}

size_t fp_piece_end(const char *s, size_t n, size_t off, size_t size)
{
  size_t end = off + size;
  if (end >= n)
    return n;
  while (end < n && ((unsigned char)s[end] & 0xC0) == 0x80)
    end++;
  return end;
}

const json_t *fp_call_field(const fp_scn_t *sc, size_t m, const char *key)
{
  return json_object_get(json_array_get(sc->tool_calls, m), key);
}

const char *fp_call_args(const fp_scn_t *sc, size_t m, size_t *len)
{
  const json_t *a = fp_call_field(sc, m, "arguments");
  if (a == NULL) {
    *len = 2;
    return "{}";
  }
  *len = json_string_length(a);
  return json_string_value(a);
}

static bool reply_text(const fp_scn_t *sc, const char *user, size_t user_len, fp_buf_t *text)
{
  if (sc->content != NULL) {
    if (!json_is_string(sc->content))
      return false;
    fp_buf_add(text, json_string_value(sc->content), json_string_length(sc->content));
    return true;
  }
  if (sc->chunks != NULL) {
    size_t k;
    const json_t *c;
    json_array_foreach(sc->chunks, k, c)
      fp_buf_add(text, json_string_value(c), json_string_length(c));
    return true;
  }
  if (json_array_size(sc->tool_calls) > 0)
    return false;
  if (user != NULL) {
    fp_buf_adds(text, "echo: ");
    fp_buf_add(text, user, user_len);
  } else {
    fp_buf_adds(text, "ok");
  }
  return true;
}

bool fp_reply_text(const fp_scn_t *sc, const char *user, size_t user_len, fp_buf_t *text)
{
  if (!reply_text(sc, user, user_len, text))
    return false;
  if (text->data == NULL)
    fp_buf_add(text, "", 0); /* empty, but text all the same */
  return true;
}

size_t fp_text_pieces(const fp_scn_t *sc, const char *text, size_t n, size_t i, size_t *off,
                      const char **piece, size_t *len)
{
  if (sc->chunks != NULL && sc->content == NULL) {
    if (i >= json_array_size(sc->chunks))
      return 0;
    const json_t *c = json_array_get(sc->chunks, i);
    *piece = json_string_value(c);
    *len = json_string_length(c);
    return 1;
  }
  if (*off >= n)
    return 0;
  size_t end = fp_word_end(text, n, *off);
  *piece = text + *off;
  *len = end - *off;
  *off = end;
  return 1;
}

size_t fp_text_piece_count(const fp_scn_t *sc, const char *text, size_t n)
{
  size_t count = 0, off = 0, len;
  const char *piece;
  while (fp_text_pieces(sc, text, n, count, &off, &piece, &len))
    count++;
  return count;
}

void fp_req_model(fp_chat_req_t *q, fp_span_t model)
{
  if (model.p == NULL || model.p[0] != '"')
    return;
  q->own = json_loadb(model.p, model.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  q->model = json_string_value(q->own);
  q->model_len = json_string_length(q->own);
}

void fp_reply_id_model(const fp_scn_t *sc, const fp_chat_req_t *q, const char *id_prefix,
                       uint64_t seq, fp_buf_t *id, fp_buf_t *model)
{
  if (sc->id != NULL)
    fp_buf_json(id, sc->id);
  else
    fp_buf_printf(id, "\"%s%llu\"", id_prefix, (unsigned long long)seq);
  if (sc->model != NULL)
    fp_buf_json(model, sc->model);
  else if (q->model != NULL)
    fp_buf_json_str(model, q->model, q->model_len);
  else
    fp_buf_adds(model, "\"fake-model\"");
}

void fp_openai_error_body(fp_buf_t *out, int status, const char *kind)
{
  fp_buf_printf(out,
                "{\"error\":{\"message\":\"fake error %d\",\"type\":\"%s\",\"param\":null,"
                "\"code\":\"%s\"}}",
                status, kind, kind);
}

void fp_google_error_body(fp_buf_t *out, int status, const char *st)
{
  fp_buf_printf(out, "{\"error\":{\"code\":%d,\"message\":\"fake error %d\",\"status\":\"%s\"}}",
                status, status, st);
}
