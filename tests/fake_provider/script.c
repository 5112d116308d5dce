/*
 * Scenarios, the request recorder and the control API (/_fake/...).
 * A chat request takes the first queued scenario whose `match` fits; a
 * scenario serves `times` requests (default 1, -1 = forever) and then
 * leaves the queue; without a match the default scenario is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

fake_stats_t fake_stats;

static json_t *queue;       /* array of {scenario, index, left} */
static json_t *default_sc;  /* object */
static json_t *recorded;    /* array, oldest first */
static size_t max_recorded;
static uint64_t next_seq = 1;
static int next_index;

void script_init(size_t max)
{
  queue = json_array();
  default_sc = json_object();
  recorded = json_array();
  max_recorded = max == 0 ? 1 : max;
}

static bool matches(const json_t *sc, const json_t *req, const char *path)
{
  const json_t *m = json_object_get(sc, "match");
  if (!json_is_object(m))
    return true;
  const char *model = json_string_value(json_object_get(m, "model"));
  if (model != NULL) {
    const char *got = json_string_value(json_object_get(req, "model"));
    if (got == NULL || strcmp(got, model) != 0)
      return false;
  }
  const char *pc = json_string_value(json_object_get(m, "path_contains"));
  if (pc != NULL && strstr(path, pc) == NULL)
    return false;
  return true;
}

json_t *script_take(const json_t *req, const char *path, int *index)
{
  size_t i;
  json_t *entry;
  json_array_foreach(queue, i, entry)
  {
    json_t *sc = json_object_get(entry, "scenario");
    if (!matches(sc, req, path))
      continue;
    *index = (int)json_integer_value(json_object_get(entry, "index"));
    json_incref(sc);
    json_int_t left = json_integer_value(json_object_get(entry, "left"));
    if (left > 0) {
      if (left == 1)
        json_array_remove(queue, i);
      else
        json_object_set_new(entry, "left", json_integer(left - 1));
    }
    return sc;
  }
  *index = -1;
  return json_incref(default_sc);
}

/* ---- the recorder ------------------------------------------------------- */

static bool valid_utf8(const unsigned char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      k = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += k + 1;
  }
  return true;
}

static void record(fake_request_t *r, json_t *parsed, int scenario)
{
  json_t *e = json_object();
  json_object_set_new(e, "seq", json_integer((json_int_t)next_seq++));
  json_object_set_new(e, "method", json_string(r->method));
  json_object_set_new(e, "path", json_string(r->path));
  json_object_set_new(e, "query", json_string(r->query));
  json_object_set(e, "headers", r->headers);
  if (valid_utf8((const unsigned char *)r->body, r->body_len)) {
    json_object_set_new(e, "body", json_stringn(r->body, r->body_len));
  } else {
    char *hex = malloc(r->body_len * 2 + 1);
    for (size_t i = 0; i < r->body_len; i++)
      sprintf(hex + 2 * i, "%02x", (unsigned char)r->body[i]);
    json_object_set_new(e, "body", json_null());
    json_object_set_new(e, "body_hex", json_stringn(hex, r->body_len * 2));
    free(hex);
  }
  json_object_set(e, "json", parsed != NULL ? parsed : json_null());
  json_object_set_new(e, "scenario", json_integer(scenario));
  json_array_append_new(recorded, e);
  while (json_array_size(recorded) > max_recorded)
    json_array_remove(recorded, 0);
}

/* ---- the control API ---------------------------------------------------- */

static void reply_json(fake_conn_t *c, int status, json_t *v)
{
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  fake_respond(c, status, "application/json", NULL, s, strlen(s));
  free(s);
  json_decref(v);
}

static void reply_error(fake_conn_t *c, int status, const char *msg)
{
  json_t *e = json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", msg, "type",
                        "invalid_request_error", "param", "code", "not_found");
  reply_json(c, status, e);
}

static void control(fake_conn_t *c, fake_request_t *r, json_t *body)
{
  const char *p = r->path + strlen("/_fake/");
  if (strcmp(p, "script") == 0 && strcmp(r->method, "POST") == 0) {
    json_t *list = json_object_get(body, "scenarios");
    if (!json_is_array(list)) {
      reply_error(c, 400, "want {\"scenarios\": [...]}");
      return;
    }
    size_t i;
    json_t *sc;
    json_array_foreach(list, i, sc)
    {
      if (!json_is_object(sc))
        continue;
      json_t *times = json_object_get(sc, "times");
      json_int_t left = json_is_integer(times) ? json_integer_value(times) : 1;
      json_array_append_new(queue, json_pack("{s:O,s:i,s:I}", "scenario", sc, "index",
                                             next_index++, "left", left));
    }
    reply_json(c, 200, json_pack("{s:i}", "queued", (int)json_array_size(list)));
  } else if (strcmp(p, "default") == 0 && strcmp(r->method, "POST") == 0) {
    if (!json_is_object(body)) {
      reply_error(c, 400, "want a scenario object");
      return;
    }
    json_decref(default_sc);
    default_sc = json_incref(body);
    reply_json(c, 200, json_pack("{s:b}", "ok", 1));
  } else if (strcmp(p, "reset") == 0 && strcmp(r->method, "POST") == 0) {
    json_array_clear(queue);
    json_array_clear(recorded);
    json_decref(default_sc);
    default_sc = json_object();
    next_index = 0;
    uint64_t active = fake_stats.active_streams;
    memset(&fake_stats, 0, sizeof(fake_stats));
    fake_stats.active_streams = active;
    reply_json(c, 200, json_pack("{s:b}", "ok", 1));
  } else if (strcmp(p, "requests") == 0) {
    uint64_t since = 0;
    const char *q = strstr(r->query, "since=");
    if (q != NULL)
      since = strtoull(q + 6, NULL, 10);
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(recorded, i, e)
    {
      if ((uint64_t)json_integer_value(json_object_get(e, "seq")) > since)
        json_array_append(out, e);
    }
    reply_json(c, 200, json_pack("{s:o}", "requests", out));
  } else if (strcmp(p, "stats") == 0) {
    reply_json(c, 200, json_pack("{s:I,s:I,s:I,s:I}", "requests",
                                 (json_int_t)fake_stats.requests, "active_streams",
                                 (json_int_t)fake_stats.active_streams, "completed",
                                 (json_int_t)fake_stats.completed, "cancelled",
                                 (json_int_t)fake_stats.cancelled));
  } else {
    reply_error(c, 404, "unknown control endpoint");
  }
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

void script_handle(fake_conn_t *c, fake_request_t *r)
{
  json_t *body = r->body_len > 0 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
  if (strncmp(r->path, "/_fake/", 7) == 0) {
    control(c, r, body);
  } else if (ends_with(r->path, "/chat/completions") && strcmp(r->method, "POST") == 0) {
    int index;
    fake_stats.requests++;
    json_t *sc = script_take(body, r->path, &index);
    record(r, body, index);
    openai_chat(c, r, body, sc);
    json_decref(sc);
  } else if (ends_with(r->path, "/models") && strcmp(r->method, "GET") == 0) {
    reply_json(c, 200, json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data",
                                 "id", "fake-model", "object", "model", "created", 0,
                                 "owned_by", "fake"));
  } else {
    record(r, body, -1);
    reply_error(c, 404, "no such endpoint on the fake provider");
  }
  json_decref(body);
}
