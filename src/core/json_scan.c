/* SPDX-License-Identifier: MIT */
/*
 * Walking a valid JSON object's members without a DOM; see
 * include/switchboard/json_scan.h. One pass per level, byte loops the
 * compiler keeps tight: a string ends at a quote that no backslash
 * escapes, a container at its matching bracket outside strings.
 */
#include "switchboard/json_scan.h"

#include "switchboard/json.h"

#include "json_lex.h"

/* Whitespace; one compare for the common case, a byte above the space. */
static inline bool is_ws(char c)
{
  return (unsigned char)c <= ' ' &&
         (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

static inline const char *skip_ws(const char *p, const char *end)
{
  while (p < end && is_ws(*p))
    p++;
  return p;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* Bit i set where p[i] is one of the bytes of `set` (n of them), for the
 * 16 bytes at p. */
static inline unsigned block_mask2(const char *p, char a, char b)
{
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(a)),
                           _mm_cmpeq_epi8(v, _mm_set1_epi8(b)));
  return (unsigned)_mm_movemask_epi8(m);
}

static inline unsigned block_structural(const char *p)
{
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  /* '{' 0x7B and '[' 0x5B, '}' 0x7D and ']' 0x5D differ in bit 0x20 */
  __m128i f = _mm_or_si128(v, _mm_set1_epi8(0x20));
  __m128i m = _mm_or_si128(
      _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
      _mm_or_si128(_mm_cmpeq_epi8(f, _mm_set1_epi8('{')),
                   _mm_cmpeq_epi8(f, _mm_set1_epi8('}'))));
  return (unsigned)_mm_movemask_epi8(m);
}
#define SB_SCAN_BLOCK 16
#endif

/* p just past an opening quote: just past the closing one (or end);
 * *escaped when a backslash was seen. */
static inline const char *skip_string_body(const char *p, const char *end,
                                           bool *escaped)
{
#if defined(SB_SCAN_BLOCK)
  while (end - p >= SB_SCAN_BLOCK) {
    unsigned m = block_mask2(p, '"', '\\');
    if (m == 0) {
      p += SB_SCAN_BLOCK;
      continue;
    }
    p += __builtin_ctz(m);
    if (*p == '"')
      return p + 1;
    *escaped = true;
    p += 2; /* the backslash and the byte it escapes */
  }
#endif
  while (p < end) {
    char c = *p++;
    if (c == '"')
      return p;
    if (c == '\\') {
      *escaped = true;
      if (p < end)
        p++;
    }
  }
  return end;
}

/* p at an opening bracket: just past its match (or end). */
static const char *skip_container(const char *p, const char *end)
{
  size_t depth = 0;
  bool escaped = false;
#if defined(SB_SCAN_BLOCK)
  while (end - p >= SB_SCAN_BLOCK) {
    unsigned m = block_structural(p);
    if (m == 0) {
      p += SB_SCAN_BLOCK;
      continue;
    }
    p += __builtin_ctz(m);
    char c = *p++;
    if (c == '"')
      p = skip_string_body(p, end, &escaped);
    else if (c == '{' || c == '[')
      depth++;
    else if (--depth == 0)
      return p;
  }
#endif
  while (p < end) {
    char c = *p++;
    if (c == '"')
      p = skip_string_body(p, end, &escaped);
    else if (c == '{' || c == '[')
      depth++;
    else if ((c == '}' || c == ']') && --depth == 0)
      return p;
  }
  return end;
}

static const char *skip_value(const char *p, const char *end)
{
  if (p >= end)
    return end;
  if (*p == '"') {
    bool escaped = false;
    return skip_string_body(p + 1, end, &escaped);
  }
  if (*p == '{' || *p == '[')
    return skip_container(p, end);
  /* a number or a literal */
  while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
    p++;
  return p;
}

static bool iter_init(sb_json_iter_t *it, sb_slice_t v, char open)
{
  it->checked = it->started = it->bad = false;
  it->depth = 0;
  const char *end = v.ptr + v.len;
  const char *p = skip_ws(v.ptr, end);
  while (end > p && is_ws(end[-1]))
    end--;
  if (p >= end || *p != open)
    return false;
  it->p = p + 1;
  it->end = end - 1; /* at the closing bracket */
  it->array = open == '[';
  return true;
}

bool sb_json_iter_object(sb_json_iter_t *it, sb_slice_t v)
{
  return iter_init(it, v, '{');
}

bool sb_json_iter_array(sb_json_iter_t *it, sb_slice_t v)
{
  return iter_init(it, v, '[');
}

/* ---- the checked walk ------------------------------------------------- */

/* The deepest nesting a checked walk accepts, whatever it is asked (the
 * check recurses; a stream event nests a handful of levels). */
#define CHECKED_MAX_DEPTH 256

typedef const unsigned char *uptr;

static uptr valid_value(uptr p, uptr end, unsigned depth);

static inline uptr uskip_ws(uptr p, uptr end)
{
  while (p < end && is_ws((char)*p))
    p++;
  return p;
}

static uptr valid_literal(uptr p, uptr end, const char *lit, size_t n)
{
  return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

static uptr valid_container(uptr p, uptr end, unsigned depth)
{
  sb__json_fault_t f;
  bool esc;
  if (depth == 0)
    return NULL;
  bool object = *p == '{';
  unsigned char close = object ? '}' : ']';
  p = uskip_ws(p + 1, end);
  if (p < end && *p == close)
    return p + 1;
  for (;;) {
    if (object) {
      if (p >= end || *p != '"' ||
          (p = sb__json_lex_string(p, end, &esc, &f)) == NULL)
        return NULL;
      p = uskip_ws(p, end);
      if (p >= end || *p != ':')
        return NULL;
      p = uskip_ws(p + 1, end);
    }
    if (p < end && *p == '"')
      p = sb__json_lex_string(p, end, &esc, &f);
    else
      p = valid_value(p, end, depth - 1);
    if (p == NULL)
      return NULL;
    p = uskip_ws(p, end);
    if (p >= end)
      return NULL;
    if (*p == close)
      return p + 1;
    if (*p != ',')
      return NULL;
    p = uskip_ws(p + 1, end);
  }
}

/* The value at p, validated: just past it, or NULL. */
static uptr valid_value(uptr p, uptr end, unsigned depth)
{
  sb__json_fault_t f;
  bool b;
  if (p >= end)
    return NULL;
  switch (*p) {
  case '"':
    return sb__json_lex_string(p, end, &b, &f);
  case '{':
  case '[':
    return valid_container(p, end, depth);
  case 't':
    return valid_literal(p, end, "true", 4);
  case 'f':
    return valid_literal(p, end, "false", 5);
  case 'n':
    return valid_literal(p, end, "null", 4);
  default:
    return sb__json_lex_number(p, end, &b, &f);
  }
}

bool sb_json_iter_object_checked(sb_json_iter_t *it, sb_slice_t v,
                                 size_t max_depth)
{
  if (!iter_init(it, v, '{') || *it->end != '}')
    return false;
  it->checked = true;
  if (max_depth == 0)
    max_depth = SB_JSON_DEFAULT_MAX_DEPTH;
  it->depth = max_depth > CHECKED_MAX_DEPTH ? CHECKED_MAX_DEPTH
                                            : (unsigned)max_depth;
  return true;
}

static __attribute__((noinline)) bool next_checked(sb_json_iter_t *it,
                                                   sb_json_member_t *m)
{
  sb__json_fault_t f;
  uptr end = (uptr)it->end;
  uptr p = uskip_ws((uptr)it->p, end);
  if (it->bad)
    return false;
  if (it->started) {
    if (p >= end)
      return false; /* at the closing bracket */
    if (*p != ',')
      goto bad;
    p = uskip_ws(p + 1, end);
    if (p >= end)
      goto bad; /* a comma before the closing bracket */
  } else {
    it->started = true;
    if (p >= end)
      return false; /* {} */
  }
  uptr start = p;
  if (*p != '"')
    goto bad;
  uptr q = sb__json_lex_string(p, end, &m->name_escaped, &f);
  if (q == NULL)
    goto bad;
  m->name = sb_slice((const char *)p + 1, (size_t)(q - p - 2));
  p = uskip_ws(q, end);
  if (p >= end || *p != ':')
    goto bad;
  p = uskip_ws(p + 1, end);
  uptr v = p;
  if ((p = valid_value(p, end, it->depth - 1)) == NULL)
    goto bad;
  m->value = sb_slice((const char *)v, (size_t)(p - v));
  m->member = sb_slice((const char *)start, (size_t)(p - start));
  it->p = (const char *)p;
  return true;
bad:
  it->bad = true;
  return false;
}

/* ---- the walk ---------------------------------------------------------- */

bool sb_json_iter_next(sb_json_iter_t *it, sb_json_member_t *m)
{
  if (it->checked)
    return next_checked(it, m);
  const char *p = skip_ws(it->p, it->end);
  if (p < it->end && *p == ',')
    p = skip_ws(p + 1, it->end);
  if (p >= it->end)
    return false;
  const char *start = p;
  m->name = SB_NULL_SLICE;
  m->name_escaped = false;
  if (!it->array) {
    const char *q = skip_string_body(p + 1, it->end, &m->name_escaped);
    m->name = sb_slice(p + 1, (size_t)(q - p - 1) - (q > p + 1 && q[-1] == '"'));
    p = skip_ws(q, it->end);
    if (p < it->end && *p == ':')
      p = skip_ws(p + 1, it->end);
  }
  const char *v = p;
  p = skip_value(p, it->end);
  m->value = sb_slice(v, (size_t)(p - v));
  m->member = sb_slice(start, (size_t)(p - start));
  it->p = p;
  return true;
}

bool sb_json_name_is_escaped(const sb_json_member_t *m, const char *lit,
                             size_t n)
{
  sb_json_t s;
  memset(&s, 0, sizeof(s));
  s.type = SB_JSON_STRING;
  s.flags = SB_JSON_F_ESCAPED;
  s.raw = sb_slice(m->name.ptr - 1, m->name.len + 2);
  return sb_json_str_eq(&s, lit, n);
}

sb_slice_t sb_json_scan_string(sb_slice_t value)
{
  if (value.len < 2 || value.ptr[0] != '"')
    return SB_NULL_SLICE;
  return sb_slice(value.ptr + 1, value.len - 2);
}
