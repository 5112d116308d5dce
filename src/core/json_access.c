/* SPDX-License-Identifier: MIT */
/*
 * Reading a parsed DOM: member lookup, lazy unescaping, numbers.
 * Strings were validated by the parser, so decoding here trusts escapes
 * and surrogate pairs to be well formed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l (the build defines it; direct builds may not) */
#endif
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>

#include "json_internal.h"

static inline int hexval(unsigned char c)
{
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static uint32_t hex4(const char *p)
{
  return (uint32_t)(hexval((unsigned char)p[0]) << 12 |
                    hexval((unsigned char)p[1]) << 8 |
                    hexval((unsigned char)p[2]) << 4 | hexval((unsigned char)p[3]));
}

/* Decode the escape at s[*i] (a backslash) into out (up to 4 bytes);
 * returns the number of bytes written and advances *i past it. */
static size_t decode_escape(const char *s, size_t *i, char *out)
{
  char c = s[*i + 1];
  *i += 2;
  switch (c) {
  case 'b': out[0] = '\b'; return 1;
  case 'f': out[0] = '\f'; return 1;
  case 'n': out[0] = '\n'; return 1;
  case 'r': out[0] = '\r'; return 1;
  case 't': out[0] = '\t'; return 1;
  case 'u': break;
  default: out[0] = c; return 1;
  }
  uint32_t cp = hex4(s + *i);
  *i += 4;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    uint32_t lo = hex4(s + *i + 2);
    *i += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static sb_status_t unescape(sb_arena_t *a, sb_slice_t raw, sb_slice_t *out)
{
  /* Unescaped text is never longer than its escaped form. */
  char *d = sb_arena_alloc(a, raw.len + 1);
  if (d == NULL)
    return SB_ERROR;
  size_t i = 0, o = 0;
  while (i < raw.len) {
    const char *bs = memchr(raw.ptr + i, '\\', raw.len - i);
    size_t run = bs != NULL ? (size_t)(bs - raw.ptr) - i : raw.len - i;
    memcpy(d + o, raw.ptr + i, run);
    o += run;
    i += run;
    if (bs != NULL)
      o += decode_escape(raw.ptr, &i, d + o);
  }
  d[o] = '\0';
  *out = sb_slice(d, o);
  return SB_OK;
}

/* Does the escaped text `raw` decode to exactly p[0..n)? No allocation. */
static bool escaped_equals(sb_slice_t raw, const char *p, size_t n)
{
  size_t i = 0, o = 0;
  while (i < raw.len) {
    if (raw.ptr[i] != '\\') {
      if (o >= n || raw.ptr[i] != p[o])
        return false;
      i++;
      o++;
      continue;
    }
    char buf[4];
    size_t k = decode_escape(raw.ptr, &i, buf);
    if (o + k > n || memcmp(p + o, buf, k) != 0)
      return false;
    o += k;
  }
  return o == n;
}

/* A member name's unescaped bytes, one at a time (names with escapes are
 * compared and hashed without being copied). */
typedef struct {
  sb_slice_t raw;
  size_t i;
  char buf[4];
  uint8_t n, at; /* bytes of the current escape in buf, and the next one */
} name_reader_t;

static void name_reader(name_reader_t *r, const sb_json_t *m)
{
  r->raw = m->key;
  r->i = 0;
  r->n = r->at = 0;
}

/* The next byte (0..255), or -1 at the end. */
static int name_next(name_reader_t *r)
{
  if (r->at < r->n)
    return (unsigned char)r->buf[r->at++];
  if (r->i >= r->raw.len)
    return -1;
  if (r->raw.ptr[r->i] != '\\')
    return (unsigned char)r->raw.ptr[r->i++];
  r->n = (uint8_t)decode_escape(r->raw.ptr, &r->i, r->buf);
  r->at = 1;
  return (unsigned char)r->buf[0];
}

bool sb__json_names_equal(const sb_json_t *a, const sb_json_t *b)
{
  name_reader_t x, y;
  name_reader(&x, a);
  name_reader(&y, b);
  for (;;) {
    int p = name_next(&x), q = name_next(&y);
    if (p != q)
      return false;
    if (p < 0)
      return true;
  }
}

uint32_t sb__json_name_hash(const sb_json_t *m)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  if ((m->flags & SB_JSON_F_KEY_ESCAPED) == 0) {
    for (size_t i = 0; i < m->key.len; i++)
      h = (h ^ (unsigned char)m->key.ptr[i]) * 16777619u;
    return h;
  }
  name_reader_t r;
  name_reader(&r, m);
  for (int c; (c = name_next(&r)) >= 0;)
    h = (h ^ (uint32_t)c) * 16777619u;
  return h;
}

sb_status_t sb_json_unescape(sb_arena_t *a, sb_slice_t raw, sb_slice_t *out)
{
  if (raw.len == 0 || memchr(raw.ptr, '\\', raw.len) == NULL) {
    *out = raw;
    return SB_OK;
  }
  return unescape(a, raw, out);
}

sb_status_t sb_json_string(sb_arena_t *a, const sb_json_t *s, sb_slice_t *out)
{
  if (s == NULL || s->type != SB_JSON_STRING)
    return SB_ERROR;
  sb_slice_t raw = sb_json_str_raw(s);
  if ((s->flags & SB_JSON_F_ESCAPED) == 0) {
    *out = raw;
    return SB_OK;
  }
  return unescape(a, raw, out);
}

sb_status_t sb_json_key(sb_arena_t *a, const sb_json_t *m, sb_slice_t *out)
{
  if (m == NULL || m->key.ptr == NULL)
    return SB_ERROR;
  if ((m->flags & SB_JSON_F_KEY_ESCAPED) == 0) {
    *out = m->key;
    return SB_OK;
  }
  return unescape(a, m->key, out);
}

bool sb_json_str_eq(const sb_json_t *s, const char *p, size_t n)
{
  if (s == NULL || s->type != SB_JSON_STRING)
    return false;
  sb_slice_t raw = sb_json_str_raw(s);
  if ((s->flags & SB_JSON_F_ESCAPED) == 0)
    return raw.len == n && memcmp(raw.ptr, p, n) == 0;
  return escaped_equals(raw, p, n);
}

bool sb_json_key_is(const sb_json_t *m, const char *name, size_t n)
{
  if ((m->flags & SB_JSON_F_KEY_ESCAPED) != 0)
    return escaped_equals(m->key, name, n);
  /* the first byte first: most names differ there, and memcmp is a call */
  return m->key.len == n &&
         (n == 0 || (m->key.ptr[0] == name[0] &&
                     memcmp(m->key.ptr, name, n) == 0));
}

sb_json_t *sb_json_getn(const sb_json_t *obj, const char *name, size_t n)
{
  if (obj == NULL || obj->type != SB_JSON_OBJECT)
    return NULL;
  for (sb_json_t *m = obj->child; m != NULL; m = m->next)
    if (sb_json_key_is(m, name, n))
      return m;
  return NULL;
}

sb_json_t *sb_json_at(const sb_json_t *arr, size_t i)
{
  if (arr == NULL || arr->type != SB_JSON_ARRAY || i >= arr->count)
    return NULL;
  sb_json_t *c = arr->child;
  while (c != NULL && i-- > 0)
    c = c->next;
  return c;
}

sb_status_t sb_json_int64(const sb_json_t *n, int64_t *out)
{
  if (n == NULL || n->type != SB_JSON_NUMBER || (n->flags & SB_JSON_F_INTEGER) == 0)
    return SB_ERROR;
  const char *p = n->raw.ptr, *end = p + n->raw.len;
  bool neg = *p == '-';
  if (neg)
    p++;
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; p < end; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (limit - d) / 10)
      return SB_ERROR;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return SB_OK;
}

/* Numbers are converted in the "C" locale whatever the process's locale
 * is (a "," decimal separator must not change what a request means). The
 * locale object is created once, on first use, by whichever thread gets
 * there first. */
static locale_t c_loc;
static pthread_once_t c_loc_once = PTHREAD_ONCE_INIT;

static void c_loc_init(void)
{
  c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t sb__json_c_locale(void)
{
  pthread_once(&c_loc_once, c_loc_init);
  return c_loc;
}

/* Numbers up to this length are converted from a stack copy; longer ones
 * (valid JSON allows any number of digits) from a heap copy. */
#define NUMBER_STACK_MAX 64

sb_status_t sb_json_double(const sb_json_t *n, double *out)
{
  char small[NUMBER_STACK_MAX + 1];
  char *buf = small;
  locale_t loc = sb__json_c_locale();
  if (n == NULL || n->type != SB_JSON_NUMBER || loc == (locale_t)0)
    return SB_ERROR;
  if (n->raw.len > NUMBER_STACK_MAX && (buf = malloc(n->raw.len + 1)) == NULL)
    return SB_ERROR;
  memcpy(buf, n->raw.ptr, n->raw.len);
  buf[n->raw.len] = '\0';
  /* Out of range: strtod gives +-HUGE_VAL or 0 (with ERANGE), like jq and
   * JavaScript give Infinity / 0; that is the documented strtod semantics. */
  *out = strtod_l(buf, NULL, loc);
  if (buf != small)
    free(buf);
  return SB_OK;
}
