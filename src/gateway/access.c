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
/* The longest access line: every field at its cut, every byte escaped. */
#define LINE_MAX_BYTES                                                         \
  (1024 + 6 * (N_TEXT * SB_ACCESS_FIELD_MAX + SB_ACCESS_PATH_MAX))

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

size_t sb_access_packed_size(const sb_access_t *ca)
{
  sb_access_t *a = (sb_access_t *)ca; /* texts() only reads through it */
  sb_slice_t *t[N_TEXT];
  size_t n = sizeof(fixed_t), spans = SB_MIN(a->n_spans, SB_ACCESS_MAX_SPANS);
  texts(a, t);
  for (size_t i = 0; i < N_TEXT; i++)
    n += 2 + cut(t[i], t[i] == &a->path);
  for (size_t k = 0; k < spans; k++) {
    sb_slice_t *st[N_SPAN_TEXT];
    span_texts(&a->spans[k], st);
    n += sizeof(span_fixed_t);
    for (size_t i = 0; i < N_SPAN_TEXT; i++)
      n += 2 + cut(st[i], false);
  }
  return n;
}

static unsigned char *put_text(unsigned char *p, const sb_slice_t *s, bool path)
{
  uint16_t n = (uint16_t)cut(s, path);
  memcpy(p, &n, 2);
  if (n > 0)
    memcpy(p + 2, s->ptr, n);
  return p + 2 + n;
}

void sb_access_pack(const sb_access_t *ca, unsigned char *p)
{
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

/* ---- lines ----------------------------------------------------------------
 */

/* "2026-12-05T13:54:25.123Z" (24 bytes) */
static size_t utc_ms(int64_t unix_ns, char out[32])
{
  time_t s = (time_t)(unix_ns / 1000000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  int n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (int)((unix_ns / 1000000) % 1000));
  return n > 0 ? (size_t)SB_MIN(n, 31) : 0;
}

/* Milliseconds with three decimals ("12.345"). */
static size_t ms3(uint64_t ns, char out[32])
{
  uint64_t us = ns / 1000;
  size_t n = sb_u64_dec(out, us / 1000);
  out[n++] = '.';
  out[n++] = (char)('0' + us / 100 % 10);
  out[n++] = (char)('0' + us / 10 % 10);
  out[n++] = (char)('0' + us % 10);
  return n;
}

static void jw_str_or_null(sb_jw_t *w, const char *k, size_t kn, sb_slice_t v)
{
  sb_jw_key(w, k, kn);
  if (v.len > 0)
    sb_jw_str_slice(w, v);
  else
    sb_jw_null(w);
}
#define KV_STR(w, lit, v) jw_str_or_null((w), SB_STRLIT(lit), (v))

static void jw_ms(sb_jw_t *w, const char *k, size_t kn, uint64_t ns, bool known)
{
  char num[32];
  sb_jw_key(w, k, kn);
  if (known)
    sb_jw_raw(w, num, ms3(ns, num));
  else
    sb_jw_null(w);
}

static bool has_trace(const sb_access_t *a)
{
  for (size_t i = 0; i < 16; i++)
    if (a->trace_id[i] != 0)
      return true;
  return false;
}

sb_status_t sb_access_json(const sb_access_t *a, sb_buf_t *out)
{
  char tmp[32];
  sb_jw_t w;
  size_t start = out->len;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("time"), tmp, utc_ms(a->start_unix_ns, tmp));
  KV_STR(&w, "id", a->id);
  KV_STR(&w, "door", a->door);
  KV_STR(&w, "method", a->method);
  KV_STR(&w, "path", a->path);
  sb_jw_kv_int(&w, SB_STRLIT("status"), a->status);
  KV_STR(&w, "model_requested", a->model_requested);
  KV_STR(&w, "model", a->model);
  KV_STR(&w, "provider", a->provider);
  sb_jw_kv_int(&w, SB_STRLIT("attempts"), a->attempts);
  KV_STR(&w, "key", a->key_label);
  KV_STR(&w, "agent", a->agent);
  sb_jw_kv_int(&w, SB_STRLIT("prompt_tokens"), (int64_t)a->usage.prompt);
  sb_jw_kv_int(&w, SB_STRLIT("completion_tokens"),
               (int64_t)a->usage.completion);
  sb_jw_kv_int(&w, SB_STRLIT("cached_tokens"), (int64_t)a->usage.cached);
  sb_jw_kv_int(&w, SB_STRLIT("reasoning_tokens"), (int64_t)a->usage.reasoning);
  sb_jw_key_lit(&w, "usage_estimated");
  sb_jw_bool(&w, a->usage_estimated);
  sb_jw_kv_raw(&w, SB_STRLIT("cost"), tmp,
               sb_cost_format(a->cost_pico, tmp, sizeof(tmp)));
  jw_ms(&w, SB_STRLIT("latency_ms"), a->latency_ns, true);
  jw_ms(&w, SB_STRLIT("ttft_ms"), a->ttft_ns, a->ttft_ns != 0);
  sb_jw_kv_int(&w, SB_STRLIT("overhead_us"), (int64_t)(a->overhead_ns / 1000));
  KV_STR(&w, "finish_reason", a->finish_reason);
  KV_STR(&w, "error_type", a->error_type);
  sb_jw_key_lit(&w, "stream");
  sb_jw_bool(&w, a->stream);
  if (has_trace(a)) {
    char hex[32];
    sb_trace_hex(a->trace_id, 16, hex);
    sb_jw_kv_str(&w, SB_STRLIT("trace_id"), hex, 32);
  }
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK || sb_buf_append(out, "\n", 1) != SB_OK) {
    out->len = start;
    return SB_ERROR;
  }
  return SB_OK;
}

/* A text value: as it is when it is plain, else quoted with \" \\ and
 * control characters escaped; "-" when empty. */
static void text_value(sb_buf_t *b, sb_slice_t v)
{
  bool plain = v.len > 0;
  for (size_t i = 0; i < v.len && plain; i++) {
    unsigned char c = (unsigned char)v.ptr[i];
    plain = c > ' ' && c != '"' && c != '\\' && c != '=' && c != 0x7f;
  }
  if (v.len == 0) {
    sb_buf_append(b, "-", 1);
    return;
  }
  if (plain) {
    sb_buf_append(b, v.ptr, v.len);
    return;
  }
  sb_buf_append(b, "\"", 1);
  for (size_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.ptr[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_buf_append(b, e, 2);
    } else if (c < ' ' || c == 0x7f) {
      sb_buf_appendf(b, "\\x%02x", c);
    } else {
      sb_buf_append(b, &v.ptr[i], 1);
    }
  }
  sb_buf_append(b, "\"", 1);
}

static void text_kv(sb_buf_t *b, const char *k, sb_slice_t v)
{
  sb_buf_appendf(b, " %s=", k);
  text_value(b, v);
}

static void text_num(sb_buf_t *b, const char *k, uint64_t v)
{
  sb_buf_appendf(b, " %s=%llu", k, (unsigned long long)v);
}

static void text_ms(sb_buf_t *b, const char *k, uint64_t ns, bool known)
{
  char num[32];
  size_t n = known ? ms3(ns, num) : 0;
  text_kv(b, k, sb_slice(num, n));
}

sb_status_t sb_access_text(const sb_access_t *a, sb_buf_t *out)
{
  char tmp[32];
  size_t start = out->len;
  /* room for the longest line (every field escaped), so that no append
   * below fails half way */
  if (sb_buf_reserve(out, LINE_MAX_BYTES) != SB_OK)
    return SB_ERROR;
  sb_buf_append(out, tmp, utc_ms(a->start_unix_ns, tmp));
  text_num(out, "status", (uint64_t)a->status);
  text_kv(out, "door", a->door);
  text_kv(out, "method", a->method);
  text_kv(out, "path", a->path);
  text_kv(out, "id", a->id);
  text_kv(out, "model_requested", a->model_requested);
  text_kv(out, "model", a->model);
  text_kv(out, "provider", a->provider);
  text_num(out, "attempts", a->attempts);
  text_kv(out, "key", a->key_label);
  text_kv(out, "agent", a->agent);
  text_num(out, "prompt_tokens", a->usage.prompt);
  text_num(out, "completion_tokens", a->usage.completion);
  text_num(out, "cached_tokens", a->usage.cached);
  text_num(out, "reasoning_tokens", a->usage.reasoning);
  text_kv(out, "cost",
          sb_slice(tmp, sb_cost_format(a->cost_pico, tmp, sizeof(tmp))));
  text_ms(out, "latency_ms", a->latency_ns, true);
  text_ms(out, "ttft_ms", a->ttft_ns, a->ttft_ns != 0);
  text_num(out, "overhead_us", a->overhead_ns / 1000);
  text_kv(out, "finish_reason", a->finish_reason);
  text_kv(out, "error_type", a->error_type);
  text_kv(out, "stream",
          a->stream ? SB_SLICE_LIT("true") : SB_SLICE_LIT("false"));
  if (has_trace(a)) {
    char hex[32];
    sb_trace_hex(a->trace_id, 16, hex);
    text_kv(out, "trace_id", sb_slice(hex, 32));
  }
  if (sb_buf_append(out, "\n", 1) != SB_OK) {
    out->len = start;
    return SB_ERROR;
  }
  return SB_OK;
}
