/* SPDX-License-Identifier: MIT */
/*
 * The script: a FIFO of scenarios, the default scenario, the stats, and
 * the control API under /_fake/.
 *
 * The queue is a doubly linked list: a chat request takes the first entry
 * that matches and an exhausted entry leaves from wherever it is, in O(1).
 * With nothing queued (benchmarks) a request costs one pointer check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

typedef struct entry {
  struct entry *prev, *next;
  fp_scn_t *sc;
  int index; /* position in the script since the last reset */
  long left; /* requests still to serve; -1 = forever */
} entry_t;

fp_stats_t fp_stats;

static entry_t *head, *tail;
static size_t queued;
static int next_index;
static fp_scn_t *dflt;

static fp_scn_t *echo_default(void)
{
  char err[16];
  json_t *empty = json_object();
  fp_scn_t *s = empty != NULL ? fp_scn_compile(empty, err, sizeof(err)) : NULL;
  json_decref(empty);
  return s;
}

void fp_script_init(void)
{
  dflt = echo_default();
  if (dflt == NULL) {
    fprintf(stderr, "fake_provider: out of memory\n");
    exit(1);
  }
}

static void unlink_entry(entry_t *e)
{
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    head = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  else
    tail = e->prev;
  fp_scn_unref(e->sc);
  free(e);
  queued--;
}

static void clear_queue(void)
{
  while (head != NULL)
    unlink_entry(head);
}

void fp_script_free(void)
{
  clear_queue();
  fp_scn_unref(dflt);
  dflt = NULL;
}

static bool matches(const fp_scn_t *sc, const char *model, size_t model_len, const char *path)
{
  if (sc->match_model != NULL &&
      (model == NULL || model_len != sc->match_model_len ||
       memcmp(model, sc->match_model, model_len) != 0))
    return false;
  if (sc->match_path != NULL && strstr(path, sc->match_path) == NULL)
    return false;
  return true;
}

fp_scn_t *fp_script_take(const char *model, size_t model_len, const char *path, int *index)
{
  for (entry_t *e = head; e != NULL; e = e->next) {
    if (!matches(e->sc, model, model_len, path))
      continue;
    fp_scn_t *sc = fp_scn_ref(e->sc);
    *index = e->index;
    if (e->left > 0 && --e->left == 0)
      unlink_entry(e);
    return sc;
  }
  *index = -1;
  return fp_scn_ref(dflt);
}

/* ---- the control API ------------------------------------------------------------ */

static json_t *parse_body(fp_conn_t *c, const fp_request_t *r)
{
  json_error_t jerr;
  json_t *v = r->body.len > 0 ? json_loadb(r->body.data, r->body.len, JSON_ALLOW_NUL, &jerr)
                              : NULL;
  if (v == NULL) {
    char msg[256];
    snprintf(msg, sizeof(msg), "the body is not JSON: %s",
             r->body.len > 0 ? jerr.text : "empty body");
    fp_respond_error(c, 400, "invalid_request_error", msg);
  }
  return v;
}

static void post_script(fp_conn_t *c, const fp_request_t *r)
{
  json_t *body = parse_body(c, r);
  if (body == NULL)
    return;
  json_t *list = json_object_get(body, "scenarios");
  if (!json_is_array(list)) {
    json_decref(body);
    fp_respond_error(c, 400, "invalid_request_error", "want {\"scenarios\": [scenario, ...]}");
    return;
  }
  /* All or nothing: compile every scenario before queueing any. */
  size_t n = json_array_size(list);
  entry_t **made = calloc(n + 1, sizeof(*made));
  char err[256], msg[300];
  size_t i;
  for (i = 0; made != NULL && i < n; i++) {
    fp_scn_t *sc = fp_scn_compile(json_array_get(list, i), err, sizeof(err));
    made[i] = sc != NULL ? calloc(1, sizeof(entry_t)) : NULL;
    if (made[i] == NULL) {
      if (sc == NULL)
        snprintf(msg, sizeof(msg), "scenarios[%zu]: %s", i, err);
      else
        snprintf(msg, sizeof(msg), "out of memory");
      fp_scn_unref(sc);
      break;
    }
    made[i]->sc = sc;
  }
  if (made == NULL || i < n) {
    bool oom = made == NULL;
    for (size_t k = 0; !oom && k < i; k++) {
      fp_scn_unref(made[k]->sc);
      free(made[k]);
    }
    free(made);
    json_decref(body);
    fp_respond_error(c, oom ? 500 : 400, "invalid_request_error", oom ? "out of memory" : msg);
    return;
  }
  for (i = 0; i < n; i++) {
    entry_t *e = made[i];
    e->index = next_index++;
    e->left = e->sc->times;
    e->prev = tail;
    if (tail != NULL)
      tail->next = e;
    else
      head = e;
    tail = e;
    queued++;
  }
  free(made);
  json_decref(body);
  fp_respond_json(c, 200, json_pack("{s:I}", "queued", (json_int_t)n));
}

static void post_default(fp_conn_t *c, const fp_request_t *r)
{
  json_t *body = parse_body(c, r);
  if (body == NULL)
    return;
  char err[256];
  fp_scn_t *sc = fp_scn_compile(body, err, sizeof(err));
  json_decref(body);
  if (sc == NULL) {
    fp_respond_error(c, 400, "invalid_request_error", err);
    return;
  }
  fp_scn_unref(dflt);
  dflt = sc;
  fp_respond_json(c, 200, json_pack("{s:b}", "ok", 1));
}

static void post_reset(fp_conn_t *c)
{
  fp_scn_t *echo = echo_default();
  if (echo == NULL) {
    fp_respond_error(c, 500, "server_error", "out of memory");
    return;
  }
  clear_queue();
  fp_scn_unref(dflt);
  dflt = echo;
  next_index = 0;
  fp_recorder_reset();
  fp_models_free();
  /* Streams still running stay counted until they end. */
  uint64_t active = fp_stats.active_streams;
  memset(&fp_stats, 0, sizeof(fp_stats));
  fp_stats.active_streams = active;
  fp_respond_json(c, 200, json_pack("{s:b}", "ok", 1));
}

/* ?since=N (other parameters are ignored); false when N is not a number. */
static bool since_param(const char *query, uint64_t *since)
{
  *since = 0;
  for (const char *p = query; *p != '\0';) {
    const char *end = strchr(p, '&');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (len > 6 && strncmp(p, "since=", 6) == 0) {
      char num[32];
      if (len - 6 >= sizeof(num))
        return false;
      memcpy(num, p + 6, len - 6);
      num[len - 6] = '\0';
      char *stop;
      errno = 0;
      unsigned long long v = strtoull(num, &stop, 10);
      if (errno != 0 || *stop != '\0' || num[0] == '-')
        return false;
      *since = v;
    } else if (len == 5 && strncmp(p, "since", 5) == 0) {
      return false;
    }
    p += len;
    if (*p == '&')
      p++;
  }
  return true;
}

static void get_requests(fp_conn_t *c, const fp_request_t *r)
{
  uint64_t since;
  if (!since_param(fp_req_query(r), &since)) {
    fp_respond_error(c, 400, "invalid_request_error", "since: want a sequence number");
    return;
  }
  fp_buf_t out = {0};
  fp_recorder_render(&out, since);
  if (out.failed)
    fp_respond_error(c, 500, "server_error", "out of memory");
  else
    fp_conn_respond(c, 200, "application/json", out.data, out.len);
  fp_buf_free(&out);
}

static void get_stats(fp_conn_t *c)
{
  json_t *v = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)fp_stats.requests,
                        "active_streams", (json_int_t)fp_stats.active_streams, "completed",
                        (json_int_t)fp_stats.completed, "cancelled",
                        (json_int_t)fp_stats.cancelled, "dropped", (json_int_t)fp_stats.dropped,
                        "queued", (json_int_t)queued);
  fp_respond_json(c, 200, v);
}

void fp_control(fp_conn_t *c, fp_request_t *r)
{
  static const struct {
    const char *name, *method;
  } endpoints[] = {
      {"script", "POST"}, {"default", "POST"}, {"reset", "POST"},
      {"requests", "GET"}, {"stats", "GET"},
  };
  const char *name = fp_req_path(r) + strlen("/_fake/");
  for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
    if (strcmp(name, endpoints[i].name) != 0)
      continue;
    if (strcmp(r->method, endpoints[i].method) != 0) {
      char msg[64];
      snprintf(msg, sizeof(msg), "use %s /_fake/%s", endpoints[i].method, endpoints[i].name);
      fp_respond_error(c, 405, "invalid_request_error", msg);
      return;
    }
    switch (i) {
    case 0: post_script(c, r); return;
    case 1: post_default(c, r); return;
    case 2: post_reset(c); return;
    case 3: get_requests(c, r); return;
    default: get_stats(c); return;
    }
  }
  fp_respond_error(c, 404, "not_found_error",
                   "control endpoints: POST /_fake/script, /_fake/default, /_fake/reset; "
                   "GET /_fake/requests, /_fake/stats");
}
