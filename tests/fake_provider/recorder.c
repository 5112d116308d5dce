/* SPDX-License-Identifier: MIT */
/*
 * The recorder: the most recent requests in a ring, kept as their raw
 * bytes (the head and body buffers move here from the connection, no
 * copy), rendered as JSON only when a test asks for them.
 *
 * Sequence numbers are consecutive, so the record for `since` is found by
 * arithmetic, and recording costs O(1) however many are kept. A byte cap
 * bounds memory when a benchmark sends large bodies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

typedef struct {
  uint64_t seq;
  int scenario;
  fp_request_t req;
} record_t;

static record_t *ring;
static size_t cap, first, count;
static size_t bytes, max_bytes;
static uint64_t next_seq = 1;

void fp_recorder_init(size_t max_records, size_t max_total_bytes)
{
  cap = max_records > 0 ? max_records : 1;
  max_bytes = max_total_bytes;
  ring = calloc(cap, sizeof(*ring));
  if (ring == NULL) {
    fprintf(stderr, "fake_provider: cannot allocate %zu records\n", cap);
    exit(1);
  }
}

static size_t record_size(const record_t *rec) { return rec->req.head.len + rec->req.body.len; }

static void drop_oldest(void)
{
  record_t *rec = &ring[first];
  bytes -= record_size(rec);
  fp_buf_free(&rec->req.head);
  fp_buf_free(&rec->req.body);
  first = (first + 1) % cap;
  count--;
}

uint64_t fp_recorder_next_seq(void) { return next_seq; }

void fp_recorder_add(fp_request_t *r, int scenario)
{
  size_t size = r->head.len + r->body.len;
  while (count > 0 && (count == cap || bytes + size > max_bytes))
    drop_oldest();
  record_t *rec = &ring[(first + count) % cap];
  rec->seq = next_seq++;
  rec->scenario = scenario;
  rec->req = *r;
  /* the connection starts its next request with fresh buffers */
  memset(&r->head, 0, sizeof(r->head));
  memset(&r->body, 0, sizeof(r->body));
  count++;
  bytes += size;
}

void fp_recorder_reset(void)
{
  while (count > 0)
    drop_oldest();
  first = 0;
  next_seq = 1;
}

void fp_recorder_free(void)
{
  fp_recorder_reset();
  free(ring);
  ring = NULL;
}

/* Lower-cased names; a repeated header's values joined with ", ". */
static json_t *headers_json(const fp_request_t *r)
{
  json_t *h = json_object();
  const char *p = r->head.data + r->headers_off, *end = r->head.data + r->head.len;
  while (h != NULL && p < end) {
    const char *name = p;
    const char *value = name + strlen(name) + 1;
    size_t vlen = strlen(value);
    p = value + vlen + 1;
    const json_t *old = json_object_get(h, name);
    json_t *v;
    if (old != NULL) {
      fp_buf_t joined = {0};
      fp_buf_add(&joined, json_string_value(old), json_string_length(old));
      fp_buf_add(&joined, ", ", 2);
      fp_buf_add(&joined, value, vlen);
      v = joined.failed ? NULL : fp_json_string_lossy(joined.data, joined.len);
      fp_buf_free(&joined);
    } else {
      v = fp_json_string_lossy(value, vlen);
    }
    json_object_set_new(h, name, v != NULL ? v : json_null());
  }
  return h;
}

static json_t *record_json(const record_t *rec)
{
  const fp_request_t *r = &rec->req;
  const char *body = r->body.data != NULL ? r->body.data : "";
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq));
  json_object_set_new(o, "method", json_string(r->method));
  json_object_set_new(o, "path", fp_json_string_lossy(fp_req_path(r), strlen(fp_req_path(r))));
  json_object_set_new(o, "query", fp_json_string_lossy(fp_req_query(r), strlen(fp_req_query(r))));
  json_object_set_new(o, "headers", headers_json(r));
  json_t *text = json_stringn(body, r->body.len); /* NULL when not UTF-8 */
  if (text != NULL) {
    json_object_set_new(o, "body", text);
  } else {
    /* lossless: the bytes as hex */
    static const char digits[] = "0123456789abcdef";
    fp_buf_t hex = {0};
    if (fp_buf_reserve(&hex, r->body.len * 2)) {
      for (size_t i = 0; i < r->body.len; i++) {
        unsigned char ch = (unsigned char)body[i];
        hex.data[hex.len++] = digits[ch >> 4];
        hex.data[hex.len++] = digits[ch & 15];
      }
      hex.data[hex.len] = '\0';
    }
    json_object_set_new(o, "body", json_null());
    json_object_set_new(o, "body_hex", hex.failed ? json_null() : json_stringn(hex.data, hex.len));
    fp_buf_free(&hex);
  }
  json_t *parsed =
      r->body.len > 0 ? json_loadb(body, r->body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                      : NULL;
  json_object_set_new(o, "json", parsed != NULL ? parsed : json_null());
  json_object_set_new(o, "scenario",
                      rec->scenario == FP_NO_SCENARIO ? json_null() : json_integer(rec->scenario));
  return o;
}

void fp_recorder_render(fp_buf_t *out, uint64_t since)
{
  uint64_t oldest = next_seq - count;
  size_t start = 0;
  if (since >= oldest)
    start = since - oldest + 1 >= count ? count : (size_t)(since - oldest + 1);
  fp_buf_adds(out, "{\"requests\":[");
  for (size_t k = start; k < count; k++) {
    json_t *o = record_json(&ring[(first + k) % cap]);
    if (o == NULL) {
      out->failed = true;
      return;
    }
    if (k > start)
      fp_buf_add(out, ",", 1);
    fp_buf_json(out, o);
    json_decref(o);
  }
  fp_buf_adds(out, "]}");
}
