/* SPDX-License-Identifier: MIT */
/*
 * The lexical layer of JSON, shared by the parser (json_parse.c) and the
 * checked member walk (json_scan.c): a string and a number validated in
 * place, with nothing allocated. Private to src/core/json_*.c; inline so
 * each user's hot loop keeps them.
 *
 * Strings are scanned 16 bytes at a time with SSE2: one compare finds
 * quotes, backslashes, control characters and non-ASCII bytes together
 * (bytes >= 0x80 are negative as signed chars, so "less than 0x20" catches
 * both), and only those stop the fast loop; a stretch of non-ASCII text or
 * of escapes is then checked in one scalar pass. Vector loads happen only
 * while 16 bytes remain: the input is not padded.
 */
#ifndef SWITCHBOARD_JSON_LEX_H
#define SWITCHBOARD_JSON_LEX_H

#include "switchboard/common.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Where and why a lexeme is not valid JSON. */
typedef struct {
  const unsigned char *at;
  const char *why;
} sb__json_fault_t;

static inline const unsigned char *sb__json_fault(sb__json_fault_t *f,
                                                  const unsigned char *at,
                                                  const char *why)
{
  f->at = at;
  f->why = why;
  return NULL;
}

/* Hex digit value plus one; 0 for any other byte (so the table needs no
 * initializer for the 234 bytes that are not digits). */
static const uint8_t sb__json_hex_digit1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline bool sb__json_hex4(const unsigned char *p, uint32_t *out)
{
  int a = sb__json_hex_digit1[p[0]] - 1, b = sb__json_hex_digit1[p[1]] - 1;
  int c = sb__json_hex_digit1[p[2]] - 1, d = sb__json_hex_digit1[p[3]] - 1;
  if ((a | b | c | d) < 0)
    return false;
  *out = (uint32_t)(a << 12 | b << 8 | c << 4 | d);
  return true;
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0: no
 * overlong forms, no UTF-16 surrogates (U+D800..DFFF), nothing past
 * U+10FFFF, no truncated sequence (the check never reads past `end`). */
static inline size_t sb__json_utf8_seq(const unsigned char *p,
                                       const unsigned char *end)
{
  unsigned char c = p[0];
  size_t avail = (size_t)(end - p);
  if (c >= 0xC2 && c <= 0xDF)
    return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
      return 0;
    if (c == 0xE0 && p[1] < 0xA0)
      return 0; /* overlong */
    if (c == 0xED && p[1] >= 0xA0)
      return 0; /* UTF-16 surrogate */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
        (p[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && p[1] < 0x90)
      return 0; /* overlong */
    if (c == 0xF4 && p[1] >= 0x90)
      return 0; /* past U+10FFFF */
    return 4;
  }
  return 0; /* 0x80..0xC1 (continuation or overlong lead), 0xF5..0xFF */
}

/* Bytes of the escape at p (p[0] == '\\'), or 0 (f says why). */
static inline size_t sb__json_escape_len(const unsigned char *p,
                                         const unsigned char *end,
                                         sb__json_fault_t *f)
{
  if (p + 1 >= end)
    return sb__json_fault(f, p, "unterminated string"), 0;
  switch (p[1]) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't':
    return 2;
  case 'u': {
    uint32_t cp, lo;
    if (end - p < 6 || !sb__json_hex4(p + 2, &cp))
      return sb__json_fault(f, p, "invalid \\u escape"), 0;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return sb__json_fault(f, p, "unpaired low surrogate in \\u escape"), 0;
    if (cp < 0xD800 || cp > 0xDBFF)
      return 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
        !sb__json_hex4(p + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
      return sb__json_fault(f, p, "unpaired high surrogate in \\u escape"), 0;
    return 12;
  }
  default:
    return sb__json_fault(f, p, "invalid escape in string"), 0;
  }
}

/* The string whose opening quote is at p: just past its closing quote, or
 * NULL (f says where and why). *escaped: whether it had backslashes. */
static inline __attribute__((always_inline)) const unsigned char *
sb__json_lex_string(const unsigned char *p, const unsigned char *end,
                    bool *escaped, sb__json_fault_t *f)
{
  bool esc = false;
  p++;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
#endif
  for (;;) {
#if defined(__SSE2__)
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
      __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                            _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmplt_epi8(v, space));
      unsigned mask = (unsigned)_mm_movemask_epi8(m);
      if (mask != 0) {
        p += __builtin_ctz(mask);
        goto special;
      }
      p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
      p++;
#if defined(__SSE2__)
  special:
#endif
    if (SB_UNLIKELY(p >= end))
      return sb__json_fault(f, p, "unterminated string");
    unsigned char c = *p;
    if (c == '"') {
      *escaped = esc;
      return p + 1;
    }
    if (c == '\\') {
      /* escapes come in runs too (\u escapes of non-ASCII text) */
      do {
        size_t n = sb__json_escape_len(p, end, f);
        if (n == 0)
          return NULL;
        p += n;
      } while (p < end && *p == '\\');
      esc = true;
    } else if (c < 0x20) {
      return sb__json_fault(f, p, "control character in string");
    } else {
      do {
        size_t n = sb__json_utf8_seq(p, end);
        if (n == 0)
          return sb__json_fault(f, p, "invalid UTF-8 in string");
        p += n;
      } while (p < end && *p >= 0x80);
    }
  }
}

/* The number at p: just past it, or NULL (f says where and why).
 * *integer: no fraction and no exponent. */
static inline const unsigned char *
sb__json_lex_number(const unsigned char *p, const unsigned char *end,
                    bool *integer, sb__json_fault_t *f)
{
  const unsigned char *start = p;
  *integer = true;
  if (p < end && *p == '-')
    p++;
  if (p >= end)
    return sb__json_fault(f, p, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9')
      return sb__json_fault(f, start, "leading zero in number");
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return sb__json_fault(f, start, "invalid number");
  }
  if (p < end && *p == '.') {
    p++;
    *integer = false;
    if (p >= end || *p < '0' || *p > '9')
      return sb__json_fault(f, start, "invalid number: digits must follow '.'");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    *integer = false;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return sb__json_fault(f, start, "invalid number: bad exponent");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  return p;
}

#endif
