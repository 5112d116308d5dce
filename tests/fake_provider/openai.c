/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI chat completions wire format: the non-stream body, and a
 * generator of stream events (role, reasoning, content, tool-call deltas,
 * finish, usage, [DONE]) produced one at a time on demand, so a slow
 * stream holds a few hundred bytes of state rather than its whole text.
 *
 * Every event of a response shares the prefix
 *   data: {"id":..,"object":"chat.completion.chunk","created":..,"model":..,
 *          "system_fingerprint":..,"choices":[
 * computed once; an event is that prefix, one delta, and a fixed tail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

enum { P_RAW, P_ROLE, P_REASONING, P_CONTENT, P_TOOLS, P_FINISH, P_USAGE, P_DONE, P_END };

typedef struct {
  const fp_scn_t *sc; /* the job keeps it alive */
  fp_buf_t prefix;    /* data: {...,"choices":[ */
  fp_buf_t usage;     /* the usage object */
  fp_buf_t finish;    /* the finish_reason value */
  fp_buf_t text;      /* the reply text when it is generated (echo) */
  const char *content; /* text split into content deltas (no `chunks`) */
  size_t content_len;
  int phase;
  size_t i, off;   /* position in the current phase */
  size_t call;     /* tool call being streamed */
  size_t ncalls;
  size_t *arg_off; /* per call: argument bytes sent */
  bool *opened;    /* per call: first delta sent */
  bool usage_chunk, usage_in_finish;
} oai_stream_t;

/* ---- reading the request -------------------------------------------------------- */

static void oai_parse(const fp_request_t *r, fp_chat_req_t *q)
{
  static const char *const keys[] = {"model", "stream", "stream_options", "messages"};
  fp_span_t sp[4];
  if (r->body.len == 0 || !fp_json_scan(r->body.data, r->body.len, keys, 4, sp))
    return;
  fp_req_model(q, sp[0]);
  q->stream = fp_span_is_true(sp[1]);
  if (sp[2].p != NULL && sp[2].p[0] == '{') {
    static const char *const iu_key[] = {"include_usage"};
    fp_span_t iu;
    if (fp_json_scan(sp[2].p, sp[2].n, iu_key, 1, &iu))
      q->include_usage = fp_span_is_true(iu);
  }
  q->messages = sp[3];
}

static void find_user(fp_span_t item, void *arg)
{
  static const char *const role_key[] = {"role"};
  fp_span_t role;
  if (item.p[0] == '{' && fp_json_scan(item.p, item.n, role_key, 1, &role) && role.n == 6 &&
      memcmp(role.p, "\"user\"", 6) == 0)
    *(fp_span_t *)arg = item;
}

/* A conversation can be megabytes long (benchmarks send 1 MB bodies):
 * scan it for the last user message and parse only that one. */
bool fp_last_user_text(fp_span_t messages, fp_buf_t *out)
{
  fp_span_t last = {NULL, 0};
  fp_json_array_each(messages, find_user, &last);
  if (last.p == NULL)
    return false;
  json_t *m = json_loadb(last.p, last.n, JSON_ALLOW_NUL, NULL);
  const json_t *content = json_object_get(m, "content");
  if (json_is_string(content)) {
    fp_buf_add(out, json_string_value(content), json_string_length(content));
  } else {
    size_t k;
    const json_t *part;
    json_array_foreach(content, k, part)
    {
      const json_t *t = json_object_get(part, "text");
      if (json_is_string(t))
        fp_buf_add(out, json_string_value(t), json_string_length(t));
    }
  }
  json_decref(m);
  return true;
}

/* ---- splitting ------------------------------------------------------------------- */

static size_t count_words(const char *s, size_t n)
{
  size_t count = 0;
  for (size_t off = 0; off < n; count++)
    off = fp_word_end(s, n, off);
  return count;
}

static size_t count_pieces(const char *s, size_t n, size_t size)
{
  size_t count = 0;
  for (size_t off = 0; off < n; count++)
    off = fp_piece_end(s, n, off, size);
  return count;
}

static const json_t *call_field(const fp_scn_t *sc, size_t m, const char *key)
{
  return json_object_get(json_array_get(sc->tool_calls, m), key);
}

/* A call's arguments; "{}" when the scenario gives none (a call without
 * parameters still carries a JSON object). */
static const char *call_args(const fp_scn_t *sc, size_t m, size_t *len)
{
  const json_t *a = call_field(sc, m, "arguments");
  if (a == NULL) {
    *len = 2;
    return "{}";
  }
  *len = json_string_length(a);
  return json_string_value(a);
}

static void call_id(fp_buf_t *b, const fp_scn_t *sc, size_t m)
{
  const json_t *id = call_field(sc, m, "id");
  if (id != NULL) {
    fp_buf_json(b, id);
  } else {
    char def[32];
    int n = snprintf(def, sizeof(def), "call_%zu", m);
    fp_buf_json_str(b, def, (size_t)n);
  }
}

/* ---- the stream ---------------------------------------------------------------- */

static void delta_begin(oai_stream_t *o, fp_buf_t *out)
{
  fp_buf_add(out, o->prefix.data, o->prefix.len);
  fp_buf_adds(out, "{\"index\":0,\"delta\":");
}

/* With include_usage OpenAI writes "usage":null into every chunk before
 * the usage chunk, as the gateway must expect. */
static void chunk_tail(const oai_stream_t *o, fp_buf_t *out)
{
  fp_buf_adds(out, o->usage_chunk ? "],\"usage\":null}\n\n" : "]}\n\n");
}

static void delta_end(const oai_stream_t *o, fp_buf_t *out)
{
  fp_buf_adds(out, ",\"logprobs\":null,\"finish_reason\":null}");
  chunk_tail(o, out);
}

static void add_str(fp_buf_t *out, const json_t *s)
{
  fp_buf_json_str(out, json_string_value(s), json_string_length(s));
}

/* The next call with work left, round robin, for parallel tool calls. */
static void next_parallel_call(oai_stream_t *o)
{
  for (size_t k = 1; k <= o->ncalls; k++) {
    size_t m = (o->call + k) % o->ncalls;
    size_t alen;
    call_args(o->sc, m, &alen);
    if (!o->opened[m] || o->arg_off[m] < alen) {
      o->call = m;
      return;
    }
  }
  o->call = o->ncalls;
}

/* One tool-call event, or false when every call is streamed. */
static bool tool_event(oai_stream_t *o, fp_buf_t *out, bool *counted)
{
  const fp_scn_t *sc = o->sc;
  while (o->call < o->ncalls) {
    size_t m = o->call;
    size_t alen;
    const char *a = call_args(sc, m, &alen);
    if (!o->opened[m]) {
      o->opened[m] = true;
      delta_begin(o, out);
      fp_buf_printf(out, "{\"tool_calls\":[{\"index\":%zu,\"id\":", m);
      call_id(out, sc, m);
      fp_buf_adds(out, ",\"type\":\"function\",\"function\":{\"name\":");
      add_str(out, call_field(sc, m, "name"));
      fp_buf_adds(out, ",\"arguments\":\"\"}}]}");
      delta_end(o, out);
      return true;
    }
    if (o->arg_off[m] < alen) {
      size_t end = fp_piece_end(a, alen, o->arg_off[m], sc->arg_chunk);
      delta_begin(o, out);
      fp_buf_printf(out, "{\"tool_calls\":[{\"index\":%zu,\"function\":{\"arguments\":", m);
      fp_buf_json_str(out, a + o->arg_off[m], end - o->arg_off[m]);
      fp_buf_adds(out, "}}]}");
      delta_end(o, out);
      o->arg_off[m] = end;
      *counted = true;
      if (sc->parallel)
        next_parallel_call(o);
      return true;
    }
    if (sc->parallel)
      next_parallel_call(o);
    else
      o->call++;
  }
  return false;
}

static bool oai_next(void *state, fp_buf_t *out, bool *counted)
{
  oai_stream_t *o = state;
  const fp_scn_t *sc = o->sc;
  for (;;) {
    switch (o->phase) {
    case P_RAW:
      if (o->i < json_array_size(sc->raw_events)) {
        fp_buf_adds(out, "data: ");
        const json_t *ev = json_array_get(sc->raw_events, o->i++);
        fp_buf_add(out, json_string_value(ev), json_string_length(ev));
        fp_buf_adds(out, "\n\n");
        *counted = true;
        return true;
      }
      o->phase = P_DONE;
      continue;
    case P_ROLE:
      delta_begin(o, out);
      fp_buf_adds(out, "{\"role\":\"assistant\",\"content\":\"\"}");
      delta_end(o, out);
      o->phase = P_REASONING;
      return true;
    case P_REASONING: {
      const char *s = json_string_value(sc->reasoning);
      size_t n = json_string_length(sc->reasoning);
      if (o->off < n) {
        size_t end = fp_word_end(s, n, o->off);
        delta_begin(o, out);
        fp_buf_adds(out, "{\"reasoning\":");
        fp_buf_json_str(out, s + o->off, end - o->off);
        fp_buf_adds(out, "}");
        delta_end(o, out);
        o->off = end;
        *counted = true;
        return true;
      }
      o->phase = P_CONTENT;
      o->off = 0;
      continue;
    }
    case P_CONTENT:
      if (sc->chunks != NULL ? o->i < json_array_size(sc->chunks) : o->off < o->content_len) {
        delta_begin(o, out);
        fp_buf_adds(out, "{\"content\":");
        if (sc->chunks != NULL) {
          add_str(out, json_array_get(sc->chunks, o->i++));
        } else {
          size_t end = fp_word_end(o->content, o->content_len, o->off);
          fp_buf_json_str(out, o->content + o->off, end - o->off);
          o->off = end;
        }
        fp_buf_adds(out, "}");
        delta_end(o, out);
        *counted = true;
        return true;
      }
      o->phase = P_TOOLS;
      continue;
    case P_TOOLS:
      if (tool_event(o, out, counted))
        return true;
      o->phase = P_FINISH;
      continue;
    case P_FINISH:
      fp_buf_add(out, o->prefix.data, o->prefix.len);
      fp_buf_adds(out, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":");
      fp_buf_add(out, o->finish.data, o->finish.len);
      fp_buf_adds(out, "}");
      if (o->usage_in_finish) {
        fp_buf_adds(out, "],\"usage\":");
        fp_buf_add(out, o->usage.data, o->usage.len);
        fp_buf_adds(out, "}\n\n");
      } else {
        chunk_tail(o, out);
      }
      o->phase = o->usage_chunk ? P_USAGE : P_DONE;
      return true;
    case P_USAGE:
      fp_buf_add(out, o->prefix.data, o->prefix.len);
      fp_buf_adds(out, "],\"usage\":");
      fp_buf_add(out, o->usage.data, o->usage.len);
      fp_buf_adds(out, "}\n\n");
      o->phase = P_DONE;
      return true;
    case P_DONE:
      o->phase = P_END;
      if (sc->no_done)
        continue;
      fp_buf_adds(out, "data: [DONE]\n\n");
      return true;
    default:
      return false;
    }
  }
}

static void oai_destroy(void *state)
{
  oai_stream_t *o = state;
  fp_buf_free(&o->prefix);
  fp_buf_free(&o->usage);
  fp_buf_free(&o->finish);
  fp_buf_free(&o->text);
  free(o->arg_off);
  free(o->opened);
  free(o);
}

static const fp_stream_ops_t oai_stream_ops = {oai_next, oai_destroy};

/* ---- building the answer ------------------------------------------------------ */

/* {"prompt_tokens":P,"completion_tokens":C,"total_tokens":P+C} with the
 * scenario's usage merged over it; total_tokens follows merged prompt and
 * completion counts unless the scenario sets it too. */
static void render_usage(fp_buf_t *out, const fp_scn_t *sc, size_t body_len, size_t completion)
{
  json_int_t p = (json_int_t)(body_len / 4), c = (json_int_t)completion;
  if (p < 1)
    p = 1;
  if (c < 1)
    c = 1;
  json_t *u = json_pack("{s:I,s:I,s:I}", "prompt_tokens", p, "completion_tokens", c,
                        "total_tokens", p + c);
  if (u == NULL) {
    out->failed = true;
    return;
  }
  if (sc->usage != NULL) {
    json_object_update(u, (json_t *)sc->usage);
    const json_t *pt = json_object_get(u, "prompt_tokens");
    const json_t *ct = json_object_get(u, "completion_tokens");
    if (json_object_get(sc->usage, "total_tokens") == NULL && json_is_integer(pt) &&
        json_is_integer(ct))
      json_object_set_new(u, "total_tokens",
                          json_integer(json_integer_value(pt) + json_integer_value(ct)));
  }
  fp_buf_json(out, u);
  json_decref(u);
}

/* The reply text when the scenario gives none: echo the last user message. */
static void echo(fp_buf_t *text, const fp_chat_req_t *q)
{
  fp_buf_t user = {0};
  if (fp_last_user_text(q->messages, &user)) {
    fp_buf_adds(text, "echo: ");
    fp_buf_add(text, user.data, user.len);
  } else {
    fp_buf_adds(text, "ok");
  }
  if (user.failed)
    text->failed = true;
  fp_buf_free(&user);
}

/* The envelope fields every event and the body share, rendered once. */
typedef struct {
  fp_buf_t id, model, fingerprint;
} envelope_t;

static void envelope_init(envelope_t *e, const fp_scn_t *sc, const fp_chat_req_t *q, uint64_t seq)
{
  memset(e, 0, sizeof(*e));
  fp_reply_id_model(sc, q, "chatcmpl-fake-", seq, &e->id, &e->model);
  if (sc->fingerprint != NULL)
    fp_buf_json(&e->fingerprint, sc->fingerprint);
  else
    fp_buf_adds(&e->fingerprint, "\"fp_fake\"");
}

/* {"id":..,"object":OBJECT,"created":..,"model":..,"system_fingerprint":.. */
static void envelope_write(fp_buf_t *b, const envelope_t *e, const char *object,
                           const fp_scn_t *sc)
{
  fp_buf_adds(b, "{\"id\":");
  fp_buf_add(b, e->id.data, e->id.len);
  fp_buf_printf(b, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object,
                (long long)sc->created);
  fp_buf_add(b, e->model.data, e->model.len);
  fp_buf_adds(b, ",\"system_fingerprint\":");
  fp_buf_add(b, e->fingerprint.data, e->fingerprint.len);
}

static void envelope_free(envelope_t *e)
{
  fp_buf_free(&e->id);
  fp_buf_free(&e->model);
  fp_buf_free(&e->fingerprint);
}

static void write_body(fp_buf_t *b, const oai_stream_t *o, const envelope_t *e, bool content_null)
{
  const fp_scn_t *sc = o->sc;
  envelope_write(b, e, "chat.completion", sc);
  fp_buf_adds(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (content_null)
    fp_buf_adds(b, "null");
  else
    fp_buf_json_str(b, o->content, o->content_len);
  fp_buf_adds(b, ",\"refusal\":null");
  if (o->ncalls > 0) {
    fp_buf_adds(b, ",\"tool_calls\":[");
    for (size_t m = 0; m < o->ncalls; m++) {
      fp_buf_adds(b, m > 0 ? ",{\"id\":" : "{\"id\":");
      call_id(b, sc, m);
      fp_buf_adds(b, ",\"type\":\"function\",\"function\":{\"name\":");
      add_str(b, call_field(sc, m, "name"));
      size_t alen;
      const char *a = call_args(sc, m, &alen);
      fp_buf_adds(b, ",\"arguments\":");
      fp_buf_json_str(b, a, alen);
      fp_buf_adds(b, "}}");
    }
    fp_buf_adds(b, "]");
  }
  if (sc->reasoning != NULL) {
    fp_buf_adds(b, ",\"reasoning\":");
    add_str(b, sc->reasoning);
  }
  fp_buf_adds(b, "},\"logprobs\":null,\"finish_reason\":");
  fp_buf_add(b, o->finish.data, o->finish.len);
  fp_buf_adds(b, "}]");
  if (sc->usage_mode != FP_USAGE_NEVER) {
    fp_buf_adds(b, ",\"usage\":");
    fp_buf_add(b, o->usage.data, o->usage.len);
  }
  fp_buf_adds(b, "}");
}

static bool oai_build(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                      const fp_scn_t *sc, uint64_t seq)
{
  oai_stream_t *o = calloc(1, sizeof(*o));
  if (o == NULL)
    return false;
  o->sc = sc;
  o->phase = sc->raw_events != NULL ? P_RAW : P_ROLE;
  o->ncalls = json_array_size(sc->tool_calls);

  /* The reply text: `content`, else the joined `chunks`, else null beside
   * tool calls, else the echo of the user. */
  bool content_null = false;
  if (sc->content != NULL) {
    content_null = !json_is_string(sc->content);
    o->content = json_string_value(sc->content);
    o->content_len = json_string_length(sc->content);
  } else {
    if (sc->chunks != NULL) {
      size_t k;
      const json_t *c;
      json_array_foreach(sc->chunks, k, c)
        fp_buf_add(&o->text, json_string_value(c), json_string_length(c));
      fp_buf_add(&o->text, "", 0); /* non-NULL even when empty */
    } else if (o->ncalls > 0) {
      content_null = true;
    } else {
      echo(&o->text, q);
    }
    o->content = o->text.data;
    o->content_len = o->text.len;
  }

  /* Counts: completion_tokens, and the chunks that faults count. */
  size_t content_chunks = sc->chunks != NULL   ? json_array_size(sc->chunks)
                          : o->content != NULL ? count_words(o->content, o->content_len)
                                               : 0;
  size_t arg_pieces = 0;
  for (size_t m = 0; m < o->ncalls; m++) {
    size_t alen;
    const char *a = call_args(sc, m, &alen);
    arg_pieces += count_pieces(a, alen, sc->arg_chunk);
  }
  size_t reasoning_chunks =
      sc->reasoning != NULL
          ? count_words(json_string_value(sc->reasoning), json_string_length(sc->reasoning))
          : 0;
  render_usage(&o->usage, sc, r->body.len, content_chunks + arg_pieces);
  if (sc->finish_reason != NULL)
    fp_buf_json(&o->finish, sc->finish_reason);
  else
    fp_buf_adds(&o->finish, o->ncalls > 0 ? "\"tool_calls\"" : "\"stop\"");

  envelope_t e;
  envelope_init(&e, sc, q, seq);
  bool ok = !e.id.failed && !e.model.failed && !e.fingerprint.failed && !o->usage.failed &&
            !o->finish.failed && !o->text.failed;
  if (q->stream) {
    fp_buf_adds(&o->prefix, "data: ");
    envelope_write(&o->prefix, &e, "chat.completion.chunk", sc);
    fp_buf_adds(&o->prefix, ",\"choices\":[");
    o->usage_in_finish = sc->usage_mode == FP_USAGE_IN_FINISH;
    o->usage_chunk = sc->usage_mode == FP_USAGE_ALWAYS ||
                     (sc->usage_mode == FP_USAGE_REQUESTED && q->include_usage);
    o->arg_off = calloc(o->ncalls + 1, sizeof(*o->arg_off));
    o->opened = calloc(o->ncalls + 1, sizeof(*o->opened));
    ok = ok && o->arg_off != NULL && o->opened != NULL && !o->prefix.failed;
    long counted = sc->raw_events != NULL
                       ? (long)json_array_size(sc->raw_events)
                       : (long)(reasoning_chunks + content_chunks + arg_pieces);
    fp_job_set_stream(j, &oai_stream_ops, o, counted); /* the job owns o now */
  } else {
    fp_buf_t b = {0};
    write_body(&b, o, &e, content_null);
    ok = ok && !b.failed;
    fp_job_set_body(j, &b, "application/json");
    oai_destroy(o);
  }
  envelope_free(&e);
  return ok;
}

/* OpenAI's error shape; the kind names the class of failure. */
static void oai_error_body(fp_buf_t *out, int status)
{
  const char *kind = status == 429   ? "rate_limit_exceeded"
                     : status == 401 ? "invalid_api_key"
                     : status == 403 ? "permission_denied"
                     : status == 404 ? "not_found_error"
                     : status == 408 ? "timeout"
                     : status == 413 ? "request_too_large"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  fp_openai_error_body(out, status, kind);
}

const fp_format_t fp_openai_chat = {
    .name = "openai",
    .parse = oai_parse,
    .build = oai_build,
    .error_body = oai_error_body,
};
