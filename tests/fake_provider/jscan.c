/* SPDX-License-Identifier: MIT */
/*
 * A validating JSON scanner that builds nothing.
 *
 * A chat request only needs a few top-level members (model, stream,
 * stream_options, and messages when the reply echoes the user). Parsing a
 * 1 MB benchmark body into a jansson tree would cost ~13 ms per request and
 * make the fake provider the bottleneck; scanning it costs ~1 ms and the
 * members that matter are then parsed from their spans alone.
 */
#include <string.h>

#include "fake_provider.h"

typedef struct {
  const unsigned char *p, *end;
  int depth;
} scan_t;

static void skip_ws(scan_t *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static bool hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
  if (end - p < 4)
    return false;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return false;
  }
  *out = v;
  return true;
}

/* Eight bytes at a time: nonzero when any byte is a quote, a backslash,
 * a control character or non-ASCII (the bytes a string scan must stop at). */
static inline uint64_t special8(const unsigned char *p)
{
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t quote = x ^ (ones * '"'), bslash = x ^ (ones * '\\');
  /* a byte b is zero (or < 0x20) when b - k borrows into its high bit */
  uint64_t zero_q = (quote - ones) & ~quote, zero_b = (bslash - ones) & ~bslash;
  uint64_t ctrl = (x - ones * 0x20) & ~x;
  return (zero_q | zero_b | ctrl | x) & highs;
}

/* At the opening quote; leaves p after the closing one. */
static bool scan_string(scan_t *s)
{
  const unsigned char *p = s->p + 1, *end = s->end;
  for (;;) {
    /* the common case, plain ASCII text, eight bytes at a time (a false
     * alarm from special8 only costs one byte-wise step) */
    while (p < end) {
      if (end - p >= 8 && special8(p) == 0)
        p += 8;
      else if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
      else
        break;
    }
    if (p >= end)
      return false;
    unsigned char c = *p;
    if (c == '"') {
      s->p = p + 1;
      return true;
    }
    if (c < 0x20)
      return false;
    if (c >= 0x80) {
      size_t k = fp_utf8_seq(p, end);
      if (k == 0)
        return false;
      p += k;
      continue;
    }
    /* an escape */
    if (++p >= end)
      return false;
    switch (*p) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      p++;
      break;
    case 'u': {
      unsigned u;
      if (!hex4(p + 1, end, &u))
        return false;
      p += 5;
      if (u >= 0xDC00 && u <= 0xDFFF)
        return false; /* a lone low surrogate */
      if (u >= 0xD800 && u <= 0xDBFF) { /* must be followed by a low one */
        unsigned lo;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
          return false;
        p += 6;
      }
      break;
    }
    default:
      return false;
    }
  }
}

static bool digits(scan_t *s)
{
  const unsigned char *start = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
    s->p++;
  return s->p > start;
}

static bool scan_number(scan_t *s)
{
  if (*s->p == '-')
    s->p++;
  if (s->p >= s->end)
    return false;
  if (*s->p == '0')
    s->p++;
  else if (!digits(s))
    return false;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (!digits(s))
      return false;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    if (!digits(s))
      return false;
  }
  return true;
}

static bool literal(scan_t *s, const char *word, size_t n)
{
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
    return false;
  s->p += n;
  return true;
}

static bool scan_value(scan_t *s);

/* Members of an object; when keys is non-NULL (top level), records the
 * spans of the wanted ones. */
static bool scan_object(scan_t *s, const char *const *keys, size_t nkeys, fp_span_t *spans)
{
  s->p++; /* { */
  skip_ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return true;
  }
  for (;;) {
    if (s->p >= s->end || *s->p != '"')
      return false;
    const unsigned char *key = s->p + 1;
    if (!scan_string(s))
      return false;
    size_t key_len = (size_t)(s->p - 1 - key);
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
      return false;
    s->p++;
    skip_ws(s);
    const unsigned char *value = s->p;
    if (!scan_value(s))
      return false;
    for (size_t i = 0; i < nkeys; i++)
      if (strlen(keys[i]) == key_len && memcmp(keys[i], key, key_len) == 0) {
        spans[i].p = (const char *)value;
        spans[i].n = (size_t)(s->p - value);
      }
    skip_ws(s);
    if (s->p >= s->end)
      return false;
    if (*s->p == '}') {
      s->p++;
      return true;
    }
    if (*s->p != ',')
      return false;
    s->p++;
    skip_ws(s);
  }
}

static bool scan_array(scan_t *s)
{
  s->p++; /* [ */
  skip_ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return true;
  }
  for (;;) {
    if (!scan_value(s))
      return false;
    skip_ws(s);
    if (s->p >= s->end)
      return false;
    if (*s->p == ']') {
      s->p++;
      return true;
    }
    if (*s->p != ',')
      return false;
    s->p++;
    skip_ws(s);
  }
}

/* At the first byte of a value (whitespace already skipped). */
static bool scan_value(scan_t *s)
{
  if (s->p >= s->end)
    return false;
  bool ok;
  switch (*s->p) {
  case '{':
  case '[':
    if (++s->depth > FP_JSON_MAX_DEPTH)
      return false;
    ok = *s->p == '{' ? scan_object(s, NULL, 0, NULL) : scan_array(s);
    s->depth--;
    return ok;
  case '"': return scan_string(s);
  case 't': return literal(s, "true", 4);
  case 'f': return literal(s, "false", 5);
  case 'n': return literal(s, "null", 4);
  default: return scan_number(s);
  }
}

bool fp_json_scan(const char *text, size_t n, const char *const *keys, size_t nkeys,
                  fp_span_t *spans)
{
  scan_t s = {(const unsigned char *)text, (const unsigned char *)text + n, 0};
  for (size_t i = 0; i < nkeys; i++)
    spans[i] = (fp_span_t){NULL, 0};
  skip_ws(&s);
  bool ok;
  if (s.p < s.end && *s.p == '{') {
    s.depth = 1;
    ok = scan_object(&s, keys, nkeys, spans);
  } else {
    ok = scan_value(&s);
  }
  if (!ok)
    return false;
  skip_ws(&s);
  return s.p == s.end;
}

bool fp_span_is_true(fp_span_t sp) { return sp.p != NULL && sp.n == 4 && memcmp(sp.p, "true", 4) == 0; }

bool fp_json_array_each(fp_span_t array, void (*fn)(fp_span_t item, void *arg), void *arg)
{
  if (array.p == NULL || array.n == 0 || array.p[0] != '[')
    return false;
  scan_t s = {(const unsigned char *)array.p + 1, (const unsigned char *)array.p + array.n, 1};
  skip_ws(&s);
  if (s.p < s.end && *s.p == ']')
    return true;
  for (;;) {
    const unsigned char *item = s.p;
    if (!scan_value(&s))
      return false;
    fn((fp_span_t){(const char *)item, (size_t)(s.p - item)}, arg);
    skip_ws(&s);
    if (s.p >= s.end)
      return false;
    if (*s.p == ']')
      return true;
    if (*s.p != ',')
      return false;
    s.p++;
    skip_ws(&s);
  }
}
