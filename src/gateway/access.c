/* SPDX-License-Identifier: MIT */
/*
 * The access record packed for a worker's ring and rendered as a log line;
 * see include/switchboard/access.h.
 *
 * Packed form: the numbers (a fixed struct, copied as bytes: the reader is
 * the same process), one fixed struct per span, then every text field as
 * a 16-bit length and its bytes, in the order of the tables below.
 */
#include "switchboard/access.h"

#include <stdio.h>
#include <time.h>

#include "switchboard/json.h"
#include "switchboard/pricing.h"
#include "switchboard/trace.h"

#define F_ESTIMATED 0x1
#define F_STREAM 0x2
#define F_TRACED 0x4
#define F_PARENT 0x8

typedef struct {
  int64_t start_unix_ns;
  int64_t cost_pico;
  sb_usage_t usage;
  uint64_t latency_ns, ttft_ns, overhead_ns, upstream_ns, upstream_ttfb_ns;
  int32_t status;
  uint32_t attempts;
  uint8_t trace_id[16], span_id[8], parent_span_id[8];
  uint8_t flags;
  uint8_t n_spans;
} fixed_t;

typedef struct {
  uint64_t start_ns, first_byte_ns, end_ns;
  int32_t status;
  uint8_t span_id[8];
} span_fixed_t;

#define N_TEXT 12
#define N_SPAN_TEXT 5
/* The longest access line: every text field at most SB_ACCESS_PATH_MAX
 * bytes (the writers cut there), each byte escaped to at most six. */
#define LINE_MAX_BYTES (1024 + 6 * N_TEXT * SB_ACCESS_PATH_MAX)

/* The record's text fields, in packed order. */
static void texts(sb_access_t *a, sb_slice_t *t[N_TEXT])
{
  sb_slice_t *v[N_TEXT] = {&a->id,
                           &a->door,
                           &a->method,
                           &a->path,
                           &a->model_requested,
                           &a->model,
                           &a->provider,
                           &a->key_label,
                           &a->agent,
                           &a->finish_reason,
                           &a->error_type,
                           &a->operation};
  memcpy(t, v, sizeof(v));
}

static void span_texts(sb_access_attempt_t *s, sb_slice_t *t[N_SPAN_TEXT])
{
  sb_slice_t *v[N_SPAN_TEXT] = {&s->provider, &s->format, &s->model, &s->host,
                                &s->error_type};
  memcpy(t, v, sizeof(v));
}

static size_t cut(const sb_slice_t *s, bool path)
{
  size_t max = path ? SB_ACCESS_PATH_MAX : SB_ACCESS_FIELD_MAX;
  return s->ptr == NULL ? 0 : SB_MIN(s->len, max);
}

size_t sb_access_pack_bound(const sb_access_t *a)
{
  size_t spans = SB_MIN(a->n_spans, SB_ACCESS_MAX_SPANS);
  return sizeof(fixed_t) + (N_TEXT - 1) * (2 + SB_ACCESS_FIELD_MAX) +
         (2 + SB_ACCESS_PATH_MAX) +
         spans *
             (sizeof(span_fixed_t) + N_SPAN_TEXT * (2 + SB_ACCESS_FIELD_MAX));
}

static unsigned char *put_text(unsigned char *p, const sb_slice_t *s, bool path)
{
  uint16_t n = (uint16_t)cut(s, path);
  memcpy(p, &n, 2);
  if (n > 0)
    memcpy(p + 2, s->ptr, n);
  return p + 2 + n;
}

size_t sb_access_pack(const sb_access_t *ca, unsigned char *dst)
{
  unsigned char *p = dst;
  sb_access_t *a = (sb_access_t *)ca;
  fixed_t f;
  memset(&f, 0, sizeof(f));
  f.start_unix_ns = a->start_unix_ns;
  f.cost_pico = a->cost_pico;
  f.usage = a->usage;
  f.latency_ns = a->latency_ns;
  f.ttft_ns = a->ttft_ns;
  f.overhead_ns = a->overhead_ns;
  f.upstream_ns = a->upstream_ns;
  f.upstream_ttfb_ns = a->upstream_ttfb_ns;
  f.status = a->status;
  f.attempts = a->attempts;
  memcpy(f.trace_id, a->trace_id, 16);
  memcpy(f.span_id, a->span_id, 8);
  memcpy(f.parent_span_id, a->parent_span_id, 8);
  f.flags = (uint8_t)((a->usage_estimated ? F_ESTIMATED : 0) |
                      (a->stream ? F_STREAM : 0) | (a->traced ? F_TRACED : 0) |
                      (a->has_parent ? F_PARENT : 0));
  f.n_spans = (uint8_t)SB_MIN(a->n_spans, SB_ACCESS_MAX_SPANS);
  memcpy(p, &f, sizeof(f));
  p += sizeof(f);
  sb_slice_t *t[N_TEXT];
  texts(a, t);
  for (size_t i = 0; i < N_TEXT; i++)
    p = put_text(p, t[i], t[i] == &a->path);
  for (size_t k = 0; k < f.n_spans; k++) {
    sb_access_attempt_t *s = &a->spans[k];
    span_fixed_t sf;
    memset(&sf, 0, sizeof(sf));
    sf.start_ns = s->start_ns;
    sf.first_byte_ns = s->first_byte_ns;
    sf.end_ns = s->end_ns;
    sf.status = s->status;
    memcpy(sf.span_id, s->span_id, 8);
    memcpy(p, &sf, sizeof(sf));
    p += sizeof(sf);
    sb_slice_t *st[N_SPAN_TEXT];
    span_texts(s, st);
    for (size_t i = 0; i < N_SPAN_TEXT; i++)
      p = put_text(p, st[i], false);
  }
  return (size_t)(p - dst);
}

static bool get_text(const unsigned char **p, const unsigned char *end,
                     sb_slice_t *out)
{
  uint16_t n;
  if (end - *p < 2)
    return false;
  memcpy(&n, *p, 2);
  if ((size_t)(end - *p - 2) < n)
    return false;
  *out = n > 0 ? sb_slice((const char *)*p + 2, n) : SB_NULL_SLICE;
  *p += 2 + n;
  return true;
}

sb_status_t sb_access_unpack(const unsigned char *p, size_t len, sb_access_t *a)
{
  const unsigned char *end = p + len;
  fixed_t f;
  memset(a, 0, sizeof(*a));
  if (len < sizeof(f))
    return SB_ERROR;
  memcpy(&f, p, sizeof(f));
  p += sizeof(f);
  if (f.n_spans > SB_ACCESS_MAX_SPANS)
    return SB_ERROR;
  a->start_unix_ns = f.start_unix_ns;
  a->cost_pico = f.cost_pico;
  a->usage = f.usage;
  a->latency_ns = f.latency_ns;
  a->ttft_ns = f.ttft_ns;
  a->overhead_ns = f.overhead_ns;
  a->upstream_ns = f.upstream_ns;
  a->upstream_ttfb_ns = f.upstream_ttfb_ns;
  a->status = f.status;
  a->attempts = f.attempts;
  memcpy(a->trace_id, f.trace_id, 16);
  memcpy(a->span_id, f.span_id, 8);
  memcpy(a->parent_span_id, f.parent_span_id, 8);
  a->usage_estimated = (f.flags & F_ESTIMATED) != 0;
  a->stream = (f.flags & F_STREAM) != 0;
  a->traced = (f.flags & F_TRACED) != 0;
  a->has_parent = (f.flags & F_PARENT) != 0;
  a->n_spans = f.n_spans;
  sb_slice_t *t[N_TEXT];
  texts(a, t);
  for (size_t i = 0; i < N_TEXT; i++)
    if (!get_text(&p, end, t[i]))
      return SB_ERROR;
  for (size_t k = 0; k < a->n_spans; k++) {
    sb_access_attempt_t *s = &a->spans[k];
    span_fixed_t sf;
    if ((size_t)(end - p) < sizeof(sf))
      return SB_ERROR;
    memcpy(&sf, p, sizeof(sf));
    p += sizeof(sf);
    s->start_ns = sf.start_ns;
    s->first_byte_ns = sf.first_byte_ns;
    s->end_ns = sf.end_ns;
    s->status = sf.status;
    memcpy(s->span_id, sf.span_id, 8);
    sb_slice_t *st[N_SPAN_TEXT];
    span_texts(s, st);
    for (size_t i = 0; i < N_SPAN_TEXT; i++)
      if (!get_text(&p, end, st[i]))
        return SB_ERROR;
  }
  return p == end ? SB_OK : SB_ERROR;
}

const char *sb_access_status_class(int status)
{
  static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return status >= 100 && status <= 599 ? classes[status / 100 - 1] : "other";
}

/* ---- lines ------------------------------------------------------------------
 *
 * Written by hand, not with the JSON writer: the operations thread writes
 * one line per request, and a generic writer's per-member checks cost
 * several times the line's own bytes. Room for the longest line is
 * reserved first (LINE_MAX_BYTES), so the writes below cannot run out. */

static void put(sb_buf_t *b, const char *s, size_t n)
{
  memcpy(b->data + b->len, s, n);
  b->len += n;
}
#define PUT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_u64(sb_buf_t *b, uint64_t v)
{
  b->len += sb_u64_dec(b->data + b->len, v);
}

/* Per byte: 1 when it needs no escape in a JSON string (printable ASCII
 * but the quote and the backslash), 2 when it needs none in a text value
 * (the same without the space and '='). */
#define PLAIN(c)                                                               \
  (((c) >= 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\' ? 1 : 0) |          \
   ((c) > 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\' && (c) != '=' ? 2    \
                                                                        : 0))
#define PLAIN4(c) PLAIN(c), PLAIN(c + 1), PLAIN(c + 2), PLAIN(c + 3)
#define PLAIN16(c) PLAIN4(c), PLAIN4(c + 4), PLAIN4(c + 8), PLAIN4(c + 12)
#define PLAIN64(c) PLAIN16(c), PLAIN16(c + 16), PLAIN16(c + 32), PLAIN16(c + 48)
static const unsigned char plain_tab[256] = {PLAIN64(0), PLAIN64(64),
                                             PLAIN64(128), PLAIN64(192)};

static bool plain(sb_slice_t v, bool text)
{
  unsigned char want = text ? 2 : 1;
  const unsigned char *p = (const unsigned char *)v.ptr;
  for (size_t i = 0; i < v.len; i++)
    if ((plain_tab[p[i]] & want) == 0)
      return false;
  return true;
}

/* "2026-12-05T13:54:25.123Z": the date and time of the second are kept
 * until the second changes (the operations thread's lines come in order). */
static void put_time(sb_buf_t *b, int64_t unix_ns)
{
  static _Thread_local int64_t sec = -1;
  static _Thread_local char text[72];
  int64_t s = unix_ns / 1000000000;
  if (s != sec) {
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d",
             (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    sec = s;
  }
  unsigned ms = (unsigned)((unix_ns / 1000000) % 1000);
  put(b, text, 19);
  char frac[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
                  (char)('0' + ms % 10), 'Z'};
  put(b, frac, 5);
}

/* Milliseconds with three decimals ("12.345"). */
static void put_ms(sb_buf_t *b, uint64_t ns)
{
  uint64_t us = ns / 1000;
  put_u64(b, us / 1000);
  char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                  (char)('0' + us % 10)};
  put(b, frac, 4);
}

static void put_cost(sb_buf_t *b, int64_t pico)
{
  char tmp[40];
  put(b, tmp, sb_cost_format(pico, tmp, sizeof(tmp)));
}

static bool has_trace(const sb_access_t *a)
{
  for (size_t i = 0; i < 16; i++)
    if (a->trace_id[i] != 0)
      return true;
  return false;
}

/* ---- JSON ---- */

/* A JSON string, or null when empty. */
static void json_str(sb_buf_t *b, sb_slice_t v)
{
  v.len = SB_MIN(v.len, SB_ACCESS_PATH_MAX);
  if (v.len == 0) {
    PUT(b, "null");
  } else if (plain(v, false)) {
    b->data[b->len++] = '"';
    put(b, v.ptr, v.len);
    b->data[b->len++] = '"';
  } else {
    sb_json_escape(b, v.ptr, v.len);
  }
}

sb_status_t sb_access_json(const sb_access_t *a, sb_buf_t *b)
{
  if (sb_buf_reserve(b, LINE_MAX_BYTES) != SB_OK)
    return SB_ERROR;
  PUT(b, "{\"time\":\"");
  put_time(b, a->start_unix_ns);
  PUT(b, "\",\"id\":");
  json_str(b, a->id);
  PUT(b, ",\"door\":");
  json_str(b, a->door);
  PUT(b, ",\"method\":");
  json_str(b, a->method);
  PUT(b, ",\"path\":");
  json_str(b, a->path);
  PUT(b, ",\"status\":");
  put_u64(b, (uint64_t)(a->status > 0 ? a->status : 0));
  PUT(b, ",\"model_requested\":");
  json_str(b, a->model_requested);
  PUT(b, ",\"model\":");
  json_str(b, a->model);
  PUT(b, ",\"provider\":");
  json_str(b, a->provider);
  PUT(b, ",\"attempts\":");
  put_u64(b, a->attempts);
  PUT(b, ",\"key\":");
  json_str(b, a->key_label);
  PUT(b, ",\"agent\":");
  json_str(b, a->agent);
  PUT(b, ",\"prompt_tokens\":");
  put_u64(b, a->usage.prompt);
  PUT(b, ",\"completion_tokens\":");
  put_u64(b, a->usage.completion);
  PUT(b, ",\"cached_tokens\":");
  put_u64(b, a->usage.cached);
  PUT(b, ",\"reasoning_tokens\":");
  put_u64(b, a->usage.reasoning);
  if (a->usage_estimated)
    PUT(b, ",\"usage_estimated\":true,\"cost\":");
  else
    PUT(b, ",\"usage_estimated\":false,\"cost\":");
  put_cost(b, a->cost_pico);
  PUT(b, ",\"latency_ms\":");
  put_ms(b, a->latency_ns);
  PUT(b, ",\"ttft_ms\":");
  if (a->ttft_ns != 0)
    put_ms(b, a->ttft_ns);
  else
    PUT(b, "null");
  PUT(b, ",\"overhead_us\":");
  put_u64(b, a->overhead_ns / 1000);
  PUT(b, ",\"finish_reason\":");
  json_str(b, a->finish_reason);
  PUT(b, ",\"error_type\":");
  json_str(b, a->error_type);
  if (a->stream)
    PUT(b, ",\"stream\":true");
  else
    PUT(b, ",\"stream\":false");
  if (has_trace(a)) {
    PUT(b, ",\"trace_id\":\"");
    sb_trace_hex(a->trace_id, 16, b->data + b->len);
    b->len += 32;
    PUT(b, "\"");
  }
  PUT(b, "}\n");
  return SB_OK;
}

/* ---- text ---- */

/* A text value: as it is when plain, else quoted with \" \\ and control
 * characters (\xNN) escaped; "-" when empty. */
static void text_value(sb_buf_t *b, sb_slice_t v)
{
  static const char hexdig[] = "0123456789abcdef";
  v.len = SB_MIN(v.len, SB_ACCESS_PATH_MAX);
  if (v.len == 0) {
    PUT(b, "-");
    return;
  }
  if (plain(v, true)) {
    put(b, v.ptr, v.len);
    return;
  }
  b->data[b->len++] = '"';
  for (size_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.ptr[i];
    if (c == '"' || c == '\\') {
      b->data[b->len++] = '\\';
      b->data[b->len++] = (char)c;
    } else if (c < ' ' || c == 0x7f) {
      char e[4] = {'\\', 'x', hexdig[c >> 4], hexdig[c & 15]};
      put(b, e, 4);
    } else {
      b->data[b->len++] = (char)c;
    }
  }
  b->data[b->len++] = '"';
}

static void text_kv(sb_buf_t *b, const char *k, size_t kn, sb_slice_t v)
{
  b->data[b->len++] = ' ';
  put(b, k, kn);
  b->data[b->len++] = '=';
  text_value(b, v);
}
#define TEXT(b, lit, v) text_kv((b), (lit), sizeof(lit) - 1, (v))

static void text_num(sb_buf_t *b, const char *k, size_t kn, uint64_t v)
{
  b->data[b->len++] = ' ';
  put(b, k, kn);
  b->data[b->len++] = '=';
  put_u64(b, v);
}
#define NUM(b, lit, v) text_num((b), (lit), sizeof(lit) - 1, (v))

sb_status_t sb_access_text(const sb_access_t *a, sb_buf_t *b)
{
  if (sb_buf_reserve(b, LINE_MAX_BYTES) != SB_OK)
    return SB_ERROR;
  put_time(b, a->start_unix_ns);
  NUM(b, "status", (uint64_t)(a->status > 0 ? a->status : 0));
  TEXT(b, "door", a->door);
  TEXT(b, "method", a->method);
  TEXT(b, "path", a->path);
  TEXT(b, "id", a->id);
  TEXT(b, "model_requested", a->model_requested);
  TEXT(b, "model", a->model);
  TEXT(b, "provider", a->provider);
  NUM(b, "attempts", a->attempts);
  TEXT(b, "key", a->key_label);
  TEXT(b, "agent", a->agent);
  NUM(b, "prompt_tokens", a->usage.prompt);
  NUM(b, "completion_tokens", a->usage.completion);
  NUM(b, "cached_tokens", a->usage.cached);
  NUM(b, "reasoning_tokens", a->usage.reasoning);
  PUT(b, " cost=");
  put_cost(b, a->cost_pico);
  PUT(b, " latency_ms=");
  put_ms(b, a->latency_ns);
  PUT(b, " ttft_ms=");
  if (a->ttft_ns != 0)
    put_ms(b, a->ttft_ns);
  else
    PUT(b, "-");
  NUM(b, "overhead_us", a->overhead_ns / 1000);
  TEXT(b, "finish_reason", a->finish_reason);
  TEXT(b, "error_type", a->error_type);
  if (a->stream)
    PUT(b, " stream=true");
  else
    PUT(b, " stream=false");
  if (has_trace(a)) {
    PUT(b, " trace_id=");
    sb_trace_hex(a->trace_id, 16, b->data + b->len);
    b->len += 32;
  }
  PUT(b, "\n");
  return SB_OK;
}
