/* SPDX-License-Identifier: MIT */
/*
 * The JSON writer: values appended to a capped sb_buf_t, separators
 * inserted automatically, errors sticky. Strings are escaped so the output
 * is always valid JSON, even from invalid UTF-8 input (replaced by U+FFFD).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l (the build defines it; direct builds may not) */
#endif
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void sb_jw_init(sb_jw_t *w, sb_buf_t *buf)
{
  w->buf = buf;
  w->need_comma = 0;
  w->objects = 0;
  w->depth = 0;
  w->after_key = false;
  w->status = SB_OK;
}

static inline void put(sb_jw_t *w, const char *s, size_t n)
{
  if (w->status == SB_OK && sb_buf_append(w->buf, s, n) != SB_OK)
    w->status = SB_ERROR;
}

/* Before a key (is_key) or a value: the separator, and the checks that a
 * value in an object has a key and that keys only appear in objects. */
static void before(sb_jw_t *w, bool is_key)
{
  if (w->status != SB_OK)
    return;
  if (w->after_key) {
    if (is_key)
      w->status = SB_ERROR; /* two keys in a row */
    w->after_key = false;
    return;
  }
  if (w->depth == 0) {
    if (is_key)
      w->status = SB_ERROR;
    return;
  }
  uint64_t bit = 1ull << (w->depth - 1);
  if (((w->objects & bit) != 0) != is_key) {
    w->status = SB_ERROR; /* a value without a key, or a key in an array */
    return;
  }
  if (w->need_comma & bit)
    put(w, ",", 1);
  else
    w->need_comma |= bit;
}

static inline void before_value(sb_jw_t *w)
{
  before(w, false);
}

static void open_level(sb_jw_t *w, char c)
{
  before_value(w);
  if (w->status != SB_OK)
    return; /* sticky: the nesting state stays as it was */
  if (w->depth >= SB_JW_MAX_DEPTH) {
    w->status = SB_ERROR;
    return;
  }
  put(w, &c, 1);
  w->depth++;
  uint64_t bit = 1ull << (w->depth - 1);
  w->need_comma &= ~bit;
  if (c == '{')
    w->objects |= bit;
  else
    w->objects &= ~bit;
}

static void close_level(sb_jw_t *w, char c)
{
  if (w->status != SB_OK)
    return;
  if (w->depth == 0 || w->after_key ||
      ((w->objects >> (w->depth - 1)) & 1) != (c == '}')) {
    w->status = SB_ERROR;
    return;
  }
  put(w, &c, 1);
  w->depth--;
}

void sb_jw_obj_begin(sb_jw_t *w) { open_level(w, '{'); }
void sb_jw_obj_end(sb_jw_t *w) { close_level(w, '}'); }
void sb_jw_arr_begin(sb_jw_t *w) { open_level(w, '['); }
void sb_jw_arr_end(sb_jw_t *w) { close_level(w, ']'); }

/* ---- escaping --------------------------------------------------------------- */

static const char hex[] = "0123456789abcdef";

/* Does byte c need attention (quote, backslash, control, non-ASCII)? */
static inline bool special(unsigned char c)
{
  return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* First byte at or after p that needs attention, or end. */
static inline const unsigned char *plain_run(const unsigned char *p,
                                             const unsigned char *end)
{
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: non-ASCII bytes are negative, below 0x20 too */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                          _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    if (mask != 0)
      return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && !special(*p))
    p++;
  return p;
}

/* Length of the invalid stretch at p (where sb__json_utf8_len() said 0) that
 * one U+FFFD replaces: the lead byte and the continuation bytes that were
 * still acceptable ("maximal subpart", what the Unicode standard recommends
 * and Python and browsers do). Always at least 1. */
static size_t invalid_len(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0], lo = 0x80, hi = 0xBF;
  size_t need, i = 1;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0)
      lo = 0xA0; /* below is overlong */
    else if (c == 0xED)
      hi = 0x9F; /* above is a surrogate */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0)
      lo = 0x90; /* below is overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above is past U+10FFFF */
  } else {
    return 1;
  }
  while (i <= need && p + i < end && p[i] >= lo && p[i] <= hi) {
    i++;
    lo = 0x80;
    hi = 0xBF;
  }
  return i;
}

static sb_status_t escape_into(sb_buf_t *b, const unsigned char *p,
                               const unsigned char *end)
{
  /* The common case (nothing to escape) fits the reservation; escapes
   * grow the buffer as needed. */
  if (sb_buf_reserve(b, (size_t)(end - p) + 2) != SB_OK ||
      sb_buf_append(b, "\"", 1) != SB_OK)
    return SB_ERROR;
  for (;;) {
    const unsigned char *run = p;
    p = plain_run(p, end);
    if (p > run && sb_buf_append(b, run, (size_t)(p - run)) != SB_OK)
      return SB_ERROR;
    if (p >= end)
      break;
    unsigned char c = *p;
    char e[6];
    size_t en;
    if (c >= 0x80) {
      size_t k = sb__json_utf8_len(p, end);
      if (k > 0) {
        if (sb_buf_append(b, p, k) != SB_OK)
          return SB_ERROR;
        p += k;
      } else {
        if (sb_buf_append(b, "\xEF\xBF\xBD", 3) != SB_OK)
          return SB_ERROR;
        p += invalid_len(p, end);
      }
      continue;
    }
    e[0] = '\\';
    switch (c) {
    case '"': e[1] = '"'; en = 2; break;
    case '\\': e[1] = '\\'; en = 2; break;
    case '\n': e[1] = 'n'; en = 2; break;
    case '\r': e[1] = 'r'; en = 2; break;
    case '\t': e[1] = 't'; en = 2; break;
    case '\b': e[1] = 'b'; en = 2; break;
    case '\f': e[1] = 'f'; en = 2; break;
    default:
      e[1] = 'u';
      e[2] = '0';
      e[3] = '0';
      e[4] = hex[c >> 4];
      e[5] = hex[c & 15];
      en = 6;
    }
    if (sb_buf_append(b, e, en) != SB_OK)
      return SB_ERROR;
    p++;
  }
  return sb_buf_append(b, "\"", 1);
}

sb_status_t sb_json_escape(sb_buf_t *b, const char *s, size_t n)
{
  size_t mark = b->len;
  const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
  if (s == NULL)
    n = 0;
  /* All or nothing: a literal cut short by the cap is taken back out. */
  if (escape_into(b, p, p + n) != SB_OK) {
    b->len = mark;
    return SB_ERROR;
  }
  return SB_OK;
}

void sb_jw_key(sb_jw_t *w, const char *k, size_t n)
{
  before(w, true);
  if (w->status != SB_OK)
    return;
  if (sb_json_escape(w->buf, k, n) != SB_OK) {
    w->status = SB_ERROR;
    return;
  }
  put(w, ":", 1);
  w->after_key = true;
}

void sb_jw_key_raw(sb_jw_t *w, const char *k, size_t n)
{
  before(w, true);
  if (w->status != SB_OK)
    return;
  if (sb_buf_reserve(w->buf, n + 3) != SB_OK) {
    w->status = SB_ERROR;
    return;
  }
  char *d = w->buf->data + w->buf->len; /* "k": in one step */
  d[0] = '"';
  memcpy(d + 1, k, n);
  d[n + 1] = '"';
  d[n + 2] = ':';
  w->buf->len += n + 3;
  w->after_key = true;
}

void sb_jw_str(sb_jw_t *w, const char *s, size_t n)
{
  before_value(w);
  if (w->status == SB_OK && sb_json_escape(w->buf, s, n) != SB_OK)
    w->status = SB_ERROR;
}

void sb_jw_str_raw(sb_jw_t *w, const char *s, size_t n)
{
  before_value(w);
  put(w, "\"", 1);
  put(w, s, n);
  put(w, "\"", 1);
}

void sb_jw_int(sb_jw_t *w, int64_t v)
{
  char tmp[21];
  size_t n = 0;
  if (v < 0)
    tmp[n++] = '-';
  n += sb_u64_dec(tmp + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
  before_value(w);
  put(w, tmp, n);
}

void sb_jw_uint(sb_jw_t *w, uint64_t v)
{
  char tmp[20];
  size_t n = sb_u64_dec(tmp, v);
  before_value(w);
  put(w, tmp, n);
}

void sb_jw_double(sb_jw_t *w, double v)
{
  char tmp[40];
  int n = 0;
  if (!isfinite(v)) {
    sb_jw_null(w); /* JSON has no NaN or Infinity */
    return;
  }
  /* Integral values that a double holds exactly print as integers: no
   * exponent, no ".0" (the range test comes before the cast, which would
   * be undefined out of int64 range). -0 keeps its sign. */
  if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
      v == (double)(int64_t)v) {
    if (v == 0 && signbit(v)) {
      before_value(w);
      put(w, "-0", 2);
      return;
    }
    sb_jw_int(w, (int64_t)v);
    return;
  }
  /* The shortest of %.15g .. %.17g that reads back as the same double
   * (%.17g always does). snprintf has no _l variant: switch this thread to
   * the C locale for the call. */
  locale_t c = sb__json_c_locale();
  if (c == (locale_t)0) {
    w->status = SB_ERROR;
    return;
  }
  locale_t old = uselocale(c);
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
    if (strtod_l(tmp, NULL, c) == v)
      break;
  }
  uselocale(old);
  before_value(w);
  if (n > 0 && (size_t)n < sizeof(tmp))
    put(w, tmp, (size_t)n);
  else
    w->status = SB_ERROR;
}

void sb_jw_bool(sb_jw_t *w, bool v)
{
  before_value(w);
  put(w, v ? "true" : "false", v ? 4 : 5);
}

void sb_jw_null(sb_jw_t *w)
{
  before_value(w);
  put(w, "null", 4);
}

void sb_jw_members_raw(sb_jw_t *w, const char *json, size_t n)
{
  before(w, true);
  put(w, json, n);
}

void sb_jw_raw(sb_jw_t *w, const char *json, size_t n)
{
  before_value(w);
  put(w, json, n);
}

void sb_jw_kv_str(sb_jw_t *w, const char *k, size_t kn, const char *s, size_t n)
{
  sb_jw_key(w, k, kn);
  sb_jw_str(w, s, n);
}

void sb_jw_kv_int(sb_jw_t *w, const char *k, size_t kn, int64_t v)
{
  sb_jw_key(w, k, kn);
  sb_jw_int(w, v);
}

void sb_jw_kv_raw(sb_jw_t *w, const char *k, size_t kn, const char *json, size_t n)
{
  sb_jw_key(w, k, kn);
  sb_jw_raw(w, json, n);
}
