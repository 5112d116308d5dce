/* SPDX-License-Identifier: MIT */
/*
 * Growable buffers, JSON string writing and UTF-8 checks.
 *
 * Responses are written by hand into buffers rather than built as jansson
 * trees: a stream of 10,000 slow connections produces one small event per
 * timer tick, and assembling it from a precomputed prefix plus an escaped
 * delta costs no allocation once the buffer has grown. User-supplied JSON
 * values (usage, error bodies) still go through jansson's dumper.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

bool fp_buf_reserve(fp_buf_t *b, size_t extra)
{
  if (b->failed)
    return false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (p == NULL) {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void fp_buf_add(fp_buf_t *b, const void *p, size_t n)
{
  if (!fp_buf_reserve(b, n))
    return;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void fp_buf_adds(fp_buf_t *b, const char *s) { fp_buf_add(b, s, strlen(s)); }

void fp_buf_printf(fp_buf_t *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if (!fp_buf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* The same escapes jansson's dumper uses, so hand-written and dumped JSON
 * look alike: the two mandatory ones, short forms for common controls,
 * \u00XX for the other controls; everything else (UTF-8 included) raw. */
void fp_buf_json_str(fp_buf_t *b, const char *s, size_t n)
{
  if (!fp_buf_reserve(b, n + 2))
    return;
  b->data[b->len++] = '"';
  size_t run = 0; /* bytes copied as they are, flushed in one memcpy */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') {
      run++;
      continue;
    }
    fp_buf_add(b, s + i - run, run);
    run = 0;
    char esc[8];
    switch (ch) {
    case '"': fp_buf_add(b, "\\\"", 2); break;
    case '\\': fp_buf_add(b, "\\\\", 2); break;
    case '\b': fp_buf_add(b, "\\b", 2); break;
    case '\f': fp_buf_add(b, "\\f", 2); break;
    case '\n': fp_buf_add(b, "\\n", 2); break;
    case '\r': fp_buf_add(b, "\\r", 2); break;
    case '\t': fp_buf_add(b, "\\t", 2); break;
    default:
      snprintf(esc, sizeof(esc), "\\u%04x", ch);
      fp_buf_add(b, esc, 6);
    }
  }
  fp_buf_add(b, s + n - run, run);
  fp_buf_add(b, "\"", 1);
}

void fp_buf_json(fp_buf_t *b, const json_t *v)
{
  const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
  if (!fp_buf_reserve(b, 64))
    return;
  size_t room = b->cap - b->len - 1;
  size_t n = json_dumpb(v, b->data + b->len, room, flags);
  if (n == 0) { /* jansson failed (allocation) */
    b->failed = true;
    return;
  }
  if (n > room) { /* too small: json_dumpb told us the size */
    if (!fp_buf_reserve(b, n))
      return;
    json_dumpb(v, b->data + b->len, n, flags);
  }
  b->len += n;
  b->data[b->len] = '\0';
}

void fp_buf_reset(fp_buf_t *b)
{
  b->len = 0;
  b->failed = false;
  if (b->data != NULL)
    b->data[0] = '\0';
}

void fp_buf_free(fp_buf_t *b)
{
  free(b->data);
  memset(b, 0, sizeof(*b));
}

/* ---- UTF-8 ------------------------------------------------------------------ */

size_t fp_utf8_seq(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

bool fp_utf8_valid(const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t k = fp_utf8_seq(p, end);
    if (k == 0)
      return false;
    p += k;
  }
  return true;
}

json_t *fp_json_string_lossy(const char *s, size_t n)
{
  if (fp_utf8_valid(s, n))
    return json_stringn(s, n);
  fp_buf_t b = {0};
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    size_t k = *p < 0x80 ? 1 : fp_utf8_seq(p, end);
    if (k == 0) {
      fp_buf_printf(&b, "\\x%02X", *p);
      p++;
    } else {
      fp_buf_add(&b, p, k);
      p += k;
    }
  }
  json_t *v = b.failed ? NULL : json_stringn(b.data ? b.data : "", b.len);
  fp_buf_free(&b);
  return v;
}
