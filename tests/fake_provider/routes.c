/* SPDX-License-Identifier: MIT */
/*
 * Which handler serves a request, and the chat entry point shared by every
 * wire format: read the request, choose the scenario, build the answer,
 * record the request, run the answer.
 *
 * A new wire format is one fp_format_t and one line in chat_routes.
 */
#include <stdio.h>
#include <string.h>

#include "fake_provider.h"

typedef struct {
  const char *method;
  const char *suffix; /* the path ends with it, whatever the prefix */
  const fp_format_t *format;
} chat_route_t;

static const chat_route_t chat_routes[] = {
    {"POST", "/chat/completions", &fp_openai_chat},
    {"POST", "/embeddings", &fp_openai_embeddings},
    {"POST", ":batchEmbedContents", &fp_gemini_embeddings},
    {"POST", "/messages", &fp_anthropic_messages},
    {"POST", "/responses", &fp_openai_responses},
    {"POST", ":generateContent", &fp_gemini_generate},
    {"POST", ":streamGenerateContent", &fp_gemini_generate},
};

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

void fp_respond_json(fp_conn_t *c, int status, json_t *v)
{
  fp_buf_t b = {0};
  if (v != NULL)
    fp_buf_json(&b, v);
  json_decref(v);
  if (v == NULL || b.failed) {
    static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
    fp_conn_respond(c, 500, "application/json", oom, sizeof(oom) - 1);
  } else {
    fp_conn_respond(c, status, "application/json", b.data, b.len);
  }
  fp_buf_free(&b);
}

void fp_respond_error(fp_conn_t *c, int status, const char *type, const char *msg)
{
  json_t *e = json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", msg, "type", type, "param",
                        "code", type);
  fp_respond_json(c, status, e);
}

static void chat(fp_conn_t *c, fp_request_t *r, const fp_format_t *fmt)
{
  fp_chat_req_t q = {0};
  fmt->parse(r, &q);
  int index;
  fp_scn_t *sc = fp_script_take(q.model, q.model_len, fp_req_path(r), &index);
  fp_stats.requests++;
  uint64_t seq = fp_recorder_next_seq();
  fp_job_t *j = sc != NULL ? fp_job_new(c, fmt, sc) : NULL;
  bool ok = j != NULL && fp_job_prepare(j, r, &q, seq);
  json_decref(q.own);
  if (sc != NULL && j == NULL)
    fp_scn_unref(sc);
  /* The answer is built: the request's buffers can move to the recorder. */
  fp_recorder_add(r, index);
  if (!ok) {
    if (j != NULL)
      fp_job_free(j);
    fp_respond_error(c, 500, "server_error", "fake provider: out of memory");
    return;
  }
  fp_job_start(j);
}

static void models(fp_conn_t *c)
{
  json_t *v = json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data", "id",
                        "fake-model", "object", "model", "created", 0, "owned_by", "fake");
  fp_respond_json(c, 200, v);
}

void fp_dispatch(fp_conn_t *c, fp_request_t *r)
{
  const char *path = fp_req_path(r);
  if (strcmp(path, "/_fake/models") == 0) {
    fp_models_control(c, r); /* models_list.c */
    return;
  }
  if (strncmp(path, "/_fake/", 7) == 0) {
    fp_control(c, r); /* control requests are not recorded */
    return;
  }
  for (size_t i = 0; i < sizeof(chat_routes) / sizeof(chat_routes[0]); i++) {
    const chat_route_t *rt = &chat_routes[i];
    if (strcmp(r->method, rt->method) == 0 && ends_with(path, rt->suffix)) {
      chat(c, r, rt->format);
      return;
    }
  }
  if (strcmp(r->method, "GET") == 0 && fp_models_list(c, r))
    return;
  if (strcmp(r->method, "GET") == 0 && ends_with(path, "/models")) {
    fp_recorder_add(r, FP_NO_SCENARIO);
    models(c);
    return;
  }
  char msg[160];
  snprintf(msg, sizeof(msg), "fake provider: no endpoint %s %.100s", r->method, path);
  fp_recorder_add(r, FP_NO_SCENARIO);
  fp_respond_error(c, 404, "not_found_error", msg);
}
