/* SPDX-License-Identifier: MIT */
/*
 * A scenario, checked once when it is scripted and compiled to fp_scn_t.
 *
 * Every field is checked for its type and range, and unknown fields are
 * refused: a test that misspells `latncy_ms` gets a 400 naming it instead of
 * a silently different scenario.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

static const char *const known_fields[] = {
    "match", "times", "status", "headers", "retry_after", "error_body", "body", "content",
    "chunks", "reasoning", "tool_calls", "arg_chunk", "parallel", "finish_reason", "usage",
    "usage_mode", "latency_ms", "first_token_ms", "token_interval_ms", "cut_after", "garbage",
    "garbage_hex", "garbage_after", "no_done", "no_end", "drop_connection", "sse_comments", "reset",
    "raw_events", "id", "model", "system_fingerprint", "created", "comment", "signature",
};

/* Headers the engine writes itself: letting a scenario set them would
 * break the framing the test relies on. */
static const char *const reserved_headers[] = {"content-length", "transfer-encoding",
                                               "connection"};

#define FAIL(...)                                                                              \
  do {                                                                                         \
    snprintf(err, errlen, __VA_ARGS__);                                                        \
    goto fail;                                                                                 \
  } while (0)

static bool is_known(const char *key)
{
  for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
    if (strcmp(key, known_fields[i]) == 0)
      return true;
  return false;
}

/* An integer field within [min, max]; absent leaves *out as it is. */
static bool get_int(const json_t *o, const char *key, json_int_t min, json_int_t max,
                    json_int_t *out, char *err, size_t errlen)
{
  const json_t *v = json_object_get(o, key);
  if (v == NULL)
    return true;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    snprintf(err, errlen, "%s: want an integer in [%lld, %lld]", key, (long long)min,
             (long long)max);
    return false;
  }
  *out = json_integer_value(v);
  return true;
}

static bool get_bool(const json_t *o, const char *key, bool *out, char *err, size_t errlen)
{
  const json_t *v = json_object_get(o, key);
  if (v == NULL)
    return true;
  if (!json_is_boolean(v)) {
    snprintf(err, errlen, "%s: want true or false", key);
    return false;
  }
  *out = json_is_true(v);
  return true;
}

/* A string field (or, when null_ok, null); NULL when absent. */
static bool get_str(const json_t *o, const char *key, bool null_ok, const json_t **out,
                    char *err, size_t errlen)
{
  const json_t *v = json_object_get(o, key);
  if (v != NULL && !json_is_string(v) && !(null_ok && json_is_null(v))) {
    snprintf(err, errlen, "%s: want a string%s", key, null_ok ? " or null" : "");
    return false;
  }
  *out = v;
  return true;
}

static bool string_array(const json_t *v)
{
  size_t i;
  const json_t *e;
  if (!json_is_array(v))
    return false;
  json_array_foreach(v, i, e)
  {
    if (!json_is_string(e))
      return false;
  }
  return true;
}

static bool token_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool check_headers(const json_t *h, char *err, size_t errlen)
{
  const char *k;
  json_t *v;
  if (!json_is_object(h)) {
    snprintf(err, errlen, "headers: want an object");
    return false;
  }
  json_object_foreach((json_t *)h, k, v)
  {
    if (*k == '\0') {
      snprintf(err, errlen, "headers: empty name");
      return false;
    }
    for (const char *p = k; *p; p++)
      if (!token_char((unsigned char)*p)) {
        snprintf(err, errlen, "headers: bad name \"%s\"", k);
        return false;
      }
    for (size_t i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
      if (strcasecmp(k, reserved_headers[i]) == 0) {
        snprintf(err, errlen, "headers: %s is written by the fake provider itself", k);
        return false;
      }
    if (!json_is_string(v) && !json_is_number(v)) {
      snprintf(err, errlen, "headers.%s: want a string or a number", k);
      return false;
    }
    if (json_is_string(v) && strpbrk(json_string_value(v), "\r\n") != NULL) {
      snprintf(err, errlen, "headers.%s: a value cannot hold CR or LF", k);
      return false;
    }
  }
  return true;
}

static bool check_tool_calls(const json_t *calls, char *err, size_t errlen)
{
  size_t i;
  const json_t *c;
  if (!json_is_array(calls)) {
    snprintf(err, errlen, "tool_calls: want an array");
    return false;
  }
  json_array_foreach(calls, i, c)
  {
    const char *k;
    json_t *v;
    if (!json_is_object(c) || !json_is_string(json_object_get(c, "name"))) {
      snprintf(err, errlen, "tool_calls[%zu]: want {\"name\": string, ...}", i);
      return false;
    }
    json_object_foreach((json_t *)c, k, v)
    {
      if (strcmp(k, "id") != 0 && strcmp(k, "name") != 0 && strcmp(k, "arguments") != 0) {
        snprintf(err, errlen, "tool_calls[%zu]: unknown field \"%s\"", i, k);
        return false;
      }
      if (!json_is_string(v)) {
        snprintf(err, errlen, "tool_calls[%zu].%s: want a string", i, k);
        return false;
      }
    }
  }
  return true;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static bool compile_match(fp_scn_t *s, const json_t *m, char *err, size_t errlen)
{
  const char *k;
  json_t *v;
  if (!json_is_object(m)) {
    snprintf(err, errlen, "match: want an object");
    return false;
  }
  json_object_foreach((json_t *)m, k, v)
  {
    if (strcmp(k, "model") != 0 && strcmp(k, "path_contains") != 0) {
      snprintf(err, errlen, "match: unknown field \"%s\"", k);
      return false;
    }
    if (!json_is_string(v)) {
      snprintf(err, errlen, "match.%s: want a string", k);
      return false;
    }
  }
  const json_t *model = json_object_get(m, "model");
  if (model != NULL) {
    s->match_model = json_string_value(model);
    s->match_model_len = json_string_length(model);
  }
  s->match_path = json_string_value(json_object_get(m, "path_contains"));
  return true;
}

fp_scn_t *fp_scn_compile(json_t *json, char *err, size_t errlen)
{
  if (!json_is_object(json)) {
    snprintf(err, errlen, "a scenario is a JSON object");
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(json, key, v)
  {
    if (!is_known(key)) {
      snprintf(err, errlen, "unknown field \"%s\"", key);
      return NULL;
    }
  }
  fp_scn_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->refs = 1;
  s->json = json_incref(json);
  s->times = 1;
  s->status = 200;
  s->arg_chunk = 7;
  s->created = 1700000000;
  s->cut_after = -1;

  json_int_t n;
  if ((v = json_object_get(json, "match")) != NULL && !compile_match(s, v, err, errlen))
    goto fail;
  if ((v = json_object_get(json, "times")) != NULL) {
    if (!json_is_integer(v) || (json_integer_value(v) < 1 && json_integer_value(v) != -1))
      FAIL("times: want a count >= 1, or -1 for forever");
    s->times = (long)json_integer_value(v);
  }
  n = s->status;
  if (!get_int(json, "status", 200, 599, &n, err, errlen))
    goto fail;
  s->status = (int)n;
  if ((v = json_object_get(json, "headers")) != NULL) {
    if (!check_headers(v, err, errlen))
      goto fail;
    s->headers = v;
  }
  if ((v = json_object_get(json, "retry_after")) != NULL) {
    if (!json_is_number(v) || json_number_value(v) < 0)
      FAIL("retry_after: want a number >= 0");
    s->retry_after = v;
  }
  s->error_body = json_object_get(json, "error_body");
  s->body = json_object_get(json, "body");
  if (!get_str(json, "content", true, &s->content, err, errlen) ||
      !get_str(json, "reasoning", false, &s->reasoning, err, errlen) ||
      !get_str(json, "signature", false, &s->signature, err, errlen) ||
      !get_str(json, "finish_reason", true, &s->finish_reason, err, errlen) ||
      !get_str(json, "id", false, &s->id, err, errlen) ||
      !get_str(json, "model", false, &s->model, err, errlen) ||
      !get_str(json, "system_fingerprint", true, &s->fingerprint, err, errlen))
    goto fail;
  if ((v = json_object_get(json, "chunks")) != NULL) {
    if (!string_array(v))
      FAIL("chunks: want an array of strings");
    s->chunks = v;
  }
  if ((v = json_object_get(json, "raw_events")) != NULL) {
    if (!string_array(v))
      FAIL("raw_events: want an array of strings");
    s->raw_events = v;
  }
  if ((v = json_object_get(json, "tool_calls")) != NULL) {
    if (!check_tool_calls(v, err, errlen))
      goto fail;
    s->tool_calls = v;
  }
  n = 7;
  if (!get_int(json, "arg_chunk", 1, 1 << 30, &n, err, errlen))
    goto fail;
  s->arg_chunk = (size_t)n;
  if ((v = json_object_get(json, "usage")) != NULL) {
    if (!json_is_object(v))
      FAIL("usage: want an object");
    s->usage = v;
  }
  if ((v = json_object_get(json, "usage_mode")) != NULL) {
    const char *m = json_string_value(v);
    if (m != NULL && strcmp(m, "requested") == 0)
      s->usage_mode = FP_USAGE_REQUESTED;
    else if (m != NULL && strcmp(m, "always") == 0)
      s->usage_mode = FP_USAGE_ALWAYS;
    else if (m != NULL && strcmp(m, "never") == 0)
      s->usage_mode = FP_USAGE_NEVER;
    else if (m != NULL && strcmp(m, "in_finish_chunk") == 0)
      s->usage_mode = FP_USAGE_IN_FINISH;
    else
      FAIL("usage_mode: want \"requested\", \"always\", \"never\" or \"in_finish_chunk\"");
  }
  const json_int_t day = 86400000; /* a day is longer than any test */
  json_int_t lat = 0, first = 0, interval = 0, cut = -1, gafter = 0, created = s->created;
  if (!get_int(json, "latency_ms", 0, day, &lat, err, errlen) ||
      !get_int(json, "first_token_ms", 0, day, &first, err, errlen) ||
      !get_int(json, "token_interval_ms", 0, day, &interval, err, errlen) ||
      !get_int(json, "cut_after", 0, 1L << 30, &cut, err, errlen) ||
      !get_int(json, "garbage_after", 0, 1L << 30, &gafter, err, errlen) ||
      !get_int(json, "created", 0, (json_int_t)1 << 53, &created, err, errlen))
    goto fail;
  s->latency_ms = (uint64_t)lat;
  s->first_token_ms = (uint64_t)first;
  s->token_interval_ms = (uint64_t)interval;
  s->cut_after = (long)cut;
  s->garbage_after = (long)gafter;
  s->created = created;
  if (!get_bool(json, "parallel", &s->parallel, err, errlen) ||
      !get_bool(json, "no_done", &s->no_done, err, errlen) ||
      !get_bool(json, "no_end", &s->no_end, err, errlen) ||
      !get_bool(json, "drop_connection", &s->drop_connection, err, errlen) ||
      !get_bool(json, "sse_comments", &s->sse_comments, err, errlen) ||
      !get_bool(json, "reset", &s->reset, err, errlen))
    goto fail;

  const json_t *g = json_object_get(json, "garbage");
  const json_t *gh = json_object_get(json, "garbage_hex");
  if (g != NULL && gh != NULL)
    FAIL("garbage and garbage_hex: give one of them");
  if (g != NULL) {
    if (!json_is_string(g))
      FAIL("garbage: want a string");
    fp_buf_add(&s->garbage, json_string_value(g), json_string_length(g));
    s->has_garbage = true;
  } else if (gh != NULL) {
    const char *h = json_string_value(gh);
    size_t len = json_string_length(gh);
    if (h == NULL || len % 2 != 0)
      FAIL("garbage_hex: want an even number of hex digits");
    for (size_t i = 0; i < len; i += 2) {
      int hi = hexval(h[i]), lo = hexval(h[i + 1]);
      if (hi < 0 || lo < 0)
        FAIL("garbage_hex: want hex digits");
      unsigned char byte = (unsigned char)(hi << 4 | lo);
      fp_buf_add(&s->garbage, &byte, 1);
    }
    s->has_garbage = true;
  }
  if (s->garbage.failed)
    FAIL("out of memory");
  return s;
fail:
  fp_scn_unref(s);
  return NULL;
}

fp_scn_t *fp_scn_ref(fp_scn_t *s)
{
  s->refs++;
  return s;
}

void fp_scn_unref(fp_scn_t *s)
{
  if (s == NULL || --s->refs > 0)
    return;
  fp_buf_free(&s->garbage);
  json_decref(s->json);
  free(s);
}
