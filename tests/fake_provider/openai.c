/*
 * OpenAI chat completions, as scripted by a scenario: non-stream bodies and
 * SSE streams (content, reasoning and tool-call deltas, usage chunks), with
 * the timing and the faults the scenario asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

typedef enum { ITEM_EVENT, ITEM_RAW, ITEM_CUT } item_kind_t;

typedef struct {
  item_kind_t kind;
  char *data;
  size_t len;
} item_t;

typedef struct {
  fake_conn_t *c;
  uv_timer_t timer;
  bool stream;
  int status;
  json_t *headers;
  char *body; /* non-stream response */
  size_t body_len;
  const char *ctype;
  item_t *items;
  size_t n, cap, next;
  uint64_t first_ms, interval_ms;
  bool started; /* stream head written */
  bool done;
} job_t;

static void job_close_cb(uv_handle_t *h)
{
  job_t *j = h->data;
  for (size_t i = 0; i < j->n; i++)
    free(j->items[i].data);
  free(j->items);
  free(j->body);
  json_decref(j->headers);
  free(j);
}

static void job_free(job_t *j)
{
  j->done = true;
  uv_timer_stop(&j->timer);
  uv_close((uv_handle_t *)&j->timer, job_close_cb);
}

static void push(job_t *j, item_kind_t kind, const char *data, size_t len)
{
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 16;
    j->items = realloc(j->items, j->cap * sizeof(item_t));
  }
  item_t *it = &j->items[j->n++];
  it->kind = kind;
  it->len = len;
  it->data = malloc(len + 1);
  memcpy(it->data, data, len);
  it->data[len] = '\0';
}

static void push_event(job_t *j, json_t *v)
{
  char *s = json_dumps(v, JSON_COMPACT);
  size_t n = strlen(s);
  char *e = malloc(n + 9);
  memcpy(e, "data: ", 6);
  memcpy(e + 6, s, n);
  memcpy(e + 6 + n, "\n\n", 2);
  push(j, ITEM_EVENT, e, n + 8);
  free(e);
  free(s);
  json_decref(v);
}

/* ---- the scenario's answer ------------------------------------------------- */

static char *last_user_text(const json_t *req)
{
  const json_t *msgs = json_object_get(req, "messages");
  for (size_t i = json_array_size(msgs); i > 0; i--) {
    const json_t *m = json_array_get(msgs, i - 1);
    const char *role = json_string_value(json_object_get(m, "role"));
    if (role == NULL || strcmp(role, "user") != 0)
      continue;
    const json_t *content = json_object_get(m, "content");
    if (json_is_string(content))
      return strdup(json_string_value(content));
    size_t len = 0, k;
    json_t *part;
    char *out = calloc(1, 1);
    json_array_foreach(content, k, part)
    {
      const char *t = json_string_value(json_object_get(part, "text"));
      if (t == NULL)
        continue;
      size_t tl = strlen(t);
      out = realloc(out, len + tl + 1);
      memcpy(out + len, t, tl + 1);
      len += tl;
    }
    return out;
  }
  return NULL;
}

/* Split after each space, so the pieces join back to the text. */
static json_t *split_words(const char *s)
{
  json_t *a = json_array();
  const char *start = s;
  for (const char *p = s; *p; p++)
    if (*p == ' ') {
      json_array_append_new(a, json_stringn(start, (size_t)(p + 1 - start)));
      start = p + 1;
    }
  if (*start || json_array_size(a) == 0)
    json_array_append_new(a, json_string(start));
  return a;
}

/* Pieces of at most `n` bytes, never splitting a UTF-8 sequence. */
static json_t *split_bytes(const char *s, size_t n)
{
  json_t *a = json_array();
  size_t len = strlen(s), i = 0;
  if (n == 0)
    n = 7;
  while (i < len) {
    size_t k = i + n < len ? i + n : len;
    while (k < len && ((unsigned char)s[k] & 0xC0) == 0x80)
      k++;
    json_array_append_new(a, json_stringn(s + i, k - i));
    i = k;
  }
  if (len == 0)
    json_array_append_new(a, json_string(""));
  return a;
}

static json_int_t int_or(const json_t *sc, const char *key, json_int_t dflt)
{
  const json_t *v = json_object_get(sc, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool bool_of(const json_t *sc, const char *key)
{
  return json_is_true(json_object_get(sc, key));
}

typedef struct {
  json_t *id, *model, *fingerprint;
  json_int_t created;
} envelope_t;

static json_t *chunk(const envelope_t *env, json_t *delta, json_t *finish)
{
  json_t *choice = json_pack("{s:i,s:o,s:n,s:o}", "index", 0, "delta", delta, "logprobs",
                             "finish_reason", finish ? finish : json_null());
  return json_pack("{s:O,s:s,s:I,s:O,s:O,s:[o]}", "id", env->id, "object",
                   "chat.completion.chunk", "created", env->created, "model", env->model,
                   "system_fingerprint", env->fingerprint, "choices", choice);
}

static void build_error(job_t *j, const json_t *sc, int status)
{
  const json_t *eb = json_object_get(sc, "error_body");
  if (json_is_string(eb)) {
    j->body = strdup(json_string_value(eb));
    j->ctype = "text/plain";
  } else if (eb != NULL) {
    j->body = json_dumps(eb, JSON_COMPACT | JSON_ENCODE_ANY);
  } else {
    const char *kind = status == 429   ? "rate_limit_exceeded"
                       : status == 401 ? "invalid_api_key"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    char msg[64];
    snprintf(msg, sizeof(msg), "fake error %d", status);
    json_t *e = json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", msg, "type", kind,
                          "param", "code", kind);
    j->body = json_dumps(e, JSON_COMPACT);
    json_decref(e);
  }
  j->body_len = strlen(j->body);
}

static void build(job_t *j, fake_request_t *r, const json_t *req, const json_t *sc)
{
  static uint64_t seq;
  seq++;
  envelope_t env;
  char idbuf[64];
  snprintf(idbuf, sizeof(idbuf), "chatcmpl-fake-%llu", (unsigned long long)seq);
  env.id = json_object_get(sc, "id") ? json_incref(json_object_get(sc, "id")) : json_string(idbuf);
  env.model = json_object_get(sc, "model") ? json_incref(json_object_get(sc, "model"))
              : json_object_get(req, "model") ? json_incref(json_object_get(req, "model"))
                                               : json_string("fake-model");
  env.fingerprint = json_object_get(sc, "system_fingerprint")
                        ? json_incref(json_object_get(sc, "system_fingerprint"))
                        : json_string("fp_fake");
  env.created = int_or(sc, "created", 1700000000);

  /* content */
  const json_t *sc_content = json_object_get(sc, "content");
  const json_t *tools = json_object_get(sc, "tool_calls");
  bool has_tools = json_array_size(tools) > 0;
  json_t *content;
  if (sc_content != NULL) {
    content = json_incref((json_t *)sc_content);
  } else if (has_tools) {
    content = json_null();
  } else {
    char *u = last_user_text(req);
    char *t = NULL;
    if (u != NULL && asprintf(&t, "echo: %s", u) < 0)
      t = NULL;
    content = json_string(t != NULL ? t : "ok");
    free(u);
    free(t);
  }
  json_t *chunks = json_object_get(sc, "chunks")
                       ? json_incref(json_object_get(sc, "chunks"))
                       : json_is_string(content) ? split_words(json_string_value(content))
                                                 : json_array();
  size_t arg_chunk = (size_t)int_or(sc, "arg_chunk", 7);
  json_t *pieces = json_array(); /* per call: array of argument pieces */
  size_t n_pieces = 0, i;
  json_t *tc;
  json_array_foreach(tools, i, tc)
  {
    const char *args = json_string_value(json_object_get(tc, "arguments"));
    json_t *p = split_bytes(args ? args : "", arg_chunk);
    n_pieces += json_array_size(p);
    json_array_append_new(pieces, p);
  }
  const json_t *fr = json_object_get(sc, "finish_reason");
  json_t *finish = fr ? json_incref((json_t *)fr) : json_string(has_tools ? "tool_calls" : "stop");
  json_int_t prompt = (json_int_t)(r->body_len / 4);
  if (prompt < 1)
    prompt = 1;
  json_int_t completion = (json_int_t)(json_array_size(chunks) + n_pieces);
  if (completion < 1)
    completion = 1;
  json_t *usage = json_pack("{s:I,s:I,s:I}", "prompt_tokens", prompt, "completion_tokens",
                            completion, "total_tokens", prompt + completion);
  if (json_is_object(json_object_get(sc, "usage")))
    json_object_update(usage, json_object_get(sc, "usage"));
  const char *mode = json_string_value(json_object_get(sc, "usage_mode"));
  if (mode == NULL)
    mode = "requested";
  const json_t *reasoning = json_object_get(sc, "reasoning");

  if (!j->stream) {
    const json_t *raw = json_object_get(sc, "body");
    if (raw != NULL) {
      j->body = json_is_string(raw) ? strdup(json_string_value(raw))
                                    : json_dumps(raw, JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
      json_t *msg = json_pack("{s:s,s:O,s:n}", "role", "assistant", "content", content, "refusal");
      if (json_is_string(reasoning))
        json_object_set(msg, "reasoning", (json_t *)reasoning);
      if (has_tools) {
        json_t *calls = json_array();
        json_array_foreach(tools, i, tc)
        {
          json_array_append_new(
              calls, json_pack("{s:O,s:s,s:{s:O,s:O}}", "id", json_object_get(tc, "id"), "type",
                               "function", "function", "name", json_object_get(tc, "name"),
                               "arguments", json_object_get(tc, "arguments")));
        }
        json_object_set_new(msg, "tool_calls", calls);
      }
      json_t *resp = json_pack("{s:O,s:s,s:I,s:O,s:O,s:[{s:i,s:o,s:n,s:O}]}", "id", env.id,
                               "object", "chat.completion", "created", env.created, "model",
                               env.model, "system_fingerprint", env.fingerprint, "choices",
                               "index", 0, "message", msg, "logprobs", "finish_reason", finish);
      if (strcmp(mode, "never") != 0)
        json_object_set(resp, "usage", usage);
      j->body = json_dumps(resp, JSON_COMPACT);
      json_decref(resp);
    }
    j->body_len = strlen(j->body);
    goto out;
  }

  /* stream: the plan of events */
  long cut_after = (long)int_or(sc, "cut_after", -1);
  long garbage_after = (long)int_or(sc, "garbage_after", 0);
  const char *garbage = json_string_value(json_object_get(sc, "garbage"));
  bool comments = bool_of(sc, "sse_comments");
  long produced = 0; /* content / reasoning / argument chunks so far */
  bool cut = false;
#define AFTER_CONTENT_CHUNK()                                                  \
  do {                                                                         \
    produced++;                                                                \
    if (garbage != NULL && produced == garbage_after)                          \
      push(j, ITEM_RAW, garbage, strlen(garbage));                             \
    if (cut_after >= 0 && produced == cut_after) {                             \
      push(j, ITEM_CUT, "", 0);                                                \
      cut = true;                                                              \
      goto planned;                                                            \
    }                                                                          \
  } while (0)
#define EVENT(v)                                                               \
  do {                                                                         \
    if (comments)                                                              \
      push(j, ITEM_RAW, ": keep-alive\n\n", 14);                               \
    push_event(j, (v));                                                        \
  } while (0)

  const json_t *raw_events = json_object_get(sc, "raw_events");
  if (json_is_array(raw_events)) {
    json_t *ev;
    json_array_foreach(raw_events, i, ev)
    {
      const char *s = json_string_value(ev);
      if (s == NULL)
        continue;
      char *e = NULL;
      int n = asprintf(&e, "data: %s\n\n", s);
      if (n > 0)
        push(j, ITEM_EVENT, e, (size_t)n);
      free(e);
      AFTER_CONTENT_CHUNK();
    }
  } else {
    EVENT(chunk(&env, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL));
    if (garbage != NULL && garbage_after == 0)
      push(j, ITEM_RAW, garbage, strlen(garbage));
    if (cut_after == 0) {
      push(j, ITEM_CUT, "", 0);
      cut = true;
      goto planned;
    }
    if (json_is_string(reasoning)) {
      json_t *rp = split_words(json_string_value(reasoning));
      json_t *piece;
      json_array_foreach(rp, i, piece)
      {
        EVENT(chunk(&env, json_pack("{s:O}", "reasoning", piece), NULL));
        AFTER_CONTENT_CHUNK();
      }
      json_decref(rp);
    }
    json_t *piece;
    json_array_foreach(chunks, i, piece)
    {
      EVENT(chunk(&env, json_pack("{s:O}", "content", piece), NULL));
      AFTER_CONTENT_CHUNK();
    }
    /* Tool calls: each call opens with its id and name, then its argument
     * pieces follow; sequentially, or (parallel) one piece of each call per
     * round, interleaved. */
    size_t ncalls = json_array_size(tools);
    bool parallel = bool_of(sc, "parallel");
    size_t rounds = 0;
    for (size_t k = 0; k < ncalls; k++)
      if (json_array_size(json_array_get(pieces, k)) > rounds)
        rounds = json_array_size(json_array_get(pieces, k));
    for (size_t k = 0; k < ncalls; k++) {
      for (size_t round = 0; round < (parallel ? rounds : 1); round++) {
        for (size_t m = parallel ? 0 : k; m < (parallel ? ncalls : k + 1); m++) {
          json_t *p = json_array_get(pieces, m);
          tc = json_array_get(tools, m);
          if (round == 0)
            EVENT(chunk(&env,
                        json_pack("{s:[{s:i,s:O,s:s,s:{s:O,s:s}}]}", "tool_calls", "index",
                                  (int)m, "id", json_object_get(tc, "id"), "type",
                                  "function", "function", "name",
                                  json_object_get(tc, "name"), "arguments", ""),
                        NULL));
          size_t from = parallel ? round : 0;
          size_t to = parallel ? round + 1 : json_array_size(p);
          for (size_t q = from; q < to && q < json_array_size(p); q++) {
            json_t *arg = json_array_get(p, q);
            if (json_string_length(arg) == 0)
              continue;
            EVENT(chunk(&env,
                        json_pack("{s:[{s:i,s:{s:O}}]}", "tool_calls", "index", (int)m,
                                  "function", "arguments", arg),
                        NULL));
            AFTER_CONTENT_CHUNK();
          }
        }
      }
      if (parallel)
        break;
    }
    json_t *fin = chunk(&env, json_object(), json_incref(finish));
    if (strcmp(mode, "in_finish_chunk") == 0)
      json_object_set(fin, "usage", usage);
    EVENT(fin);
    bool want_usage = strcmp(mode, "always") == 0 ||
                      (strcmp(mode, "requested") == 0 &&
                       json_is_true(json_object_get(json_object_get(req, "stream_options"),
                                                    "include_usage")));
    if (want_usage)
      EVENT(json_pack("{s:O,s:s,s:I,s:O,s:O,s:[],s:O}", "id", env.id, "object",
                      "chat.completion.chunk", "created", env.created, "model", env.model,
                      "system_fingerprint", env.fingerprint, "choices", "usage", usage));
  }
  if (!bool_of(sc, "no_done"))
    push(j, ITEM_EVENT, "data: [DONE]\n\n", 14);
planned:
  (void)cut;
#undef AFTER_CONTENT_CHUNK
#undef EVENT
out:
  json_decref(pieces);
  json_decref(chunks);
  json_decref(content);
  json_decref(finish);
  json_decref(usage);
  json_decref(env.id);
  json_decref(env.model);
  json_decref(env.fingerprint);
}

/* ---- running the plan ------------------------------------------------------ */

static void on_abort(void *data)
{
  job_t *j = data;
  if (j->stream && j->started) {
    fake_stats.active_streams--;
    fake_stats.cancelled++;
  }
  job_free(j);
}

static void step(uv_timer_t *t);

/* Emit items until one needs waiting for; returns when the job is over. */
static void run_items(job_t *j, bool one)
{
  while (j->next < j->n) {
    item_t *it = &j->items[j->next++];
    if (it->kind == ITEM_CUT) {
      fake_stats.active_streams--;
      fake_conn_drop(j->c);
      job_free(j);
      return;
    }
    fake_stream_write(j->c, it->data, it->len);
    if (fake_conn_gone(j->c))
      return; /* on_abort has run */
    if (one && j->interval_ms > 0 && j->next < j->n) {
      uv_timer_start(&j->timer, step, j->interval_ms, 0);
      return;
    }
  }
  fake_stats.active_streams--;
  fake_stats.completed++;
  fake_stream_end(j->c);
  job_free(j);
}

static void step(uv_timer_t *t)
{
  run_items(t->data, true);
}

static void start(uv_timer_t *t)
{
  job_t *j = t->data;
  if (!j->stream) {
    fake_respond(j->c, j->status, j->ctype, j->headers, j->body, j->body_len);
    fake_stats.completed++;
    job_free(j);
    return;
  }
  j->started = true;
  fake_stats.active_streams++;
  fake_stream_begin(j->c, j->headers);
  if (j->first_ms > 0) {
    uv_timer_start(&j->timer, step, j->first_ms, 0);
    return;
  }
  run_items(j, j->interval_ms > 0);
}

void openai_chat(fake_conn_t *c, fake_request_t *r, json_t *req, json_t *sc)
{
  if (bool_of(sc, "drop_connection")) {
    fake_conn_drop(c);
    return;
  }
  job_t *j = calloc(1, sizeof(*j));
  j->c = c;
  j->ctype = "application/json";
  j->status = (int)int_or(sc, "status", 200);
  j->headers = json_object();
  if (json_is_object(json_object_get(sc, "headers")))
    json_object_update(j->headers, json_object_get(sc, "headers"));
  const json_t *ra = json_object_get(sc, "retry_after");
  if (json_is_number(ra)) {
    char v[32];
    snprintf(v, sizeof(v), "%g", json_number_value(ra));
    json_object_set_new(j->headers, "Retry-After", json_string(v));
  }
  j->stream = j->status < 400 && json_is_true(json_object_get(req, "stream"));
  j->first_ms = (uint64_t)int_or(sc, "first_token_ms", 0);
  j->interval_ms = (uint64_t)int_or(sc, "token_interval_ms", 0);
  if (j->status >= 400)
    build_error(j, sc, j->status);
  else
    build(j, r, req, sc);
  uv_timer_init(fake_loop(), &j->timer);
  j->timer.data = j;
  fake_conn_set_abort(c, on_abort, j);
  json_int_t latency = int_or(sc, "latency_ms", 0);
  if (latency > 0)
    uv_timer_start(&j->timer, start, (uint64_t)latency, 0);
  else
    start(&j->timer);
}
