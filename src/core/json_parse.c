/*
 * JSON parsing: full RFC 8259 validation into an arena DOM; see
 * include/switchboard/json.h.
 *
 * The parser is iterative (an explicit stack bounded by the depth cap), so
 * hostile nesting cannot overflow the C stack. Strings, which are most of a
 * chat body, are scanned 16 bytes at a time with SSE2: one compare finds
 * quotes, backslashes, control characters and non-ASCII bytes together
 * (bytes >= 0x80 are negative as signed chars, so "less than 0x20" catches
 * both), and only those stop the fast loop. Nothing is copied: values are
 * slices of the input.
 */
#include <stdlib.h>

#include "json_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH_LIMIT 4096

typedef struct {
  const unsigned char *p;
  const unsigned char *end;
  const unsigned char *start;
  sb_arena_t *arena; /* NULL: validate only */
  const char *error;
  const unsigned char *error_at;
} parser_t;

static bool fail(parser_t *ps, const unsigned char *at, const char *msg)
{
  if (ps->error == NULL) {
    ps->error = msg;
    ps->error_at = at;
  }
  return false;
}

static inline void skip_ws(parser_t *ps)
{
  const unsigned char *p = ps->p, *end = ps->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  ps->p = p;
}

/* ---- strings ------------------------------------------------------------ */

static inline int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static bool hex4(const unsigned char *p, uint32_t *out)
{
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return false;
    v = (v << 4) | (uint32_t)h;
  }
  *out = v;
  return true;
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0. */
size_t sb__json_utf8_len(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0];
  size_t avail = (size_t)(end - p);
  if (c >= 0xC2 && c <= 0xDF) {
    return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  }
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
  return 0;
}

/* Validate an escape at p (p[0] == '\\'); returns bytes consumed or 0. */
static size_t escape_len(parser_t *ps, const unsigned char *p)
{
  const unsigned char *end = ps->end;
  if (p + 1 >= end)
    return fail(ps, p, "unterminated string"), 0;
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
    if (end - p < 6 || !hex4(p + 2, &cp))
      return fail(ps, p, "invalid \\u escape"), 0;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return fail(ps, p, "unpaired low surrogate in \\u escape"), 0;
    if (cp < 0xD800 || cp > 0xDBFF)
      return 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
      return fail(ps, p, "unpaired high surrogate in \\u escape"), 0;
    return 12;
  }
  default:
    return fail(ps, p, "invalid escape in string"), 0;
  }
}

/* Scan a string starting at the opening quote. On success ps->p is past the
 * closing quote and *escaped says whether it had backslashes. */
static bool scan_string(parser_t *ps, bool *escaped)
{
  const unsigned char *p = ps->p + 1, *end = ps->end;
  bool esc = false;
  for (;;) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
      __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                            _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmplt_epi8(v, space));
      int mask = _mm_movemask_epi8(m);
      if (mask != 0) {
        p += __builtin_ctz((unsigned)mask);
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
    if (p >= end)
      return fail(ps, p, "unterminated string");
    unsigned char c = *p;
    if (c == '"') {
      ps->p = p + 1;
      *escaped = esc;
      return true;
    }
    if (c == '\\') {
      size_t n = escape_len(ps, p);
      if (n == 0)
        return false;
      esc = true;
      p += n;
    } else if (c < 0x20) {
      return fail(ps, p, "control character in string");
    } else {
      size_t n = sb__json_utf8_len(p, end);
      if (n == 0)
        return fail(ps, p, "invalid UTF-8 in string");
      p += n;
    }
  }
}

/* ---- numbers ------------------------------------------------------------ */

static bool scan_number(parser_t *ps, bool *integer)
{
  const unsigned char *p = ps->p, *end = ps->end, *start = p;
  *integer = true;
  if (p < end && *p == '-')
    p++;
  if (p >= end)
    return fail(ps, p, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9')
      return fail(ps, start, "leading zero in number");
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return fail(ps, start, "invalid number");
  }
  if (p < end && *p == '.') {
    p++;
    *integer = false;
    if (p >= end || *p < '0' || *p > '9')
      return fail(ps, start, "invalid number: digits must follow '.'");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    *integer = false;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return fail(ps, start, "invalid number: bad exponent");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  ps->p = p;
  return true;
}

/* ---- the value grammar ---------------------------------------------------- */

typedef struct {
  sb_json_t *node;  /* NULL when validating only */
  sb_json_t **tail; /* where the next child goes */
  uint32_t count;
  bool object;
} frame_t;

static sb_json_t *new_node(parser_t *ps, const unsigned char *at)
{
  sb_json_t *n = sb_arena_alloc(ps->arena, sizeof(*n));
  if (n == NULL) {
    fail(ps, at, "out of memory");
    return NULL;
  }
  n->next = NULL;
  n->child = NULL;
  n->key.ptr = NULL;
  n->key.len = 0;
  n->count = 0;
  n->flags = 0;
  return n;
}

static sb_status_t parse(parser_t *ps, size_t max_depth, sb_json_t **out)
{
  frame_t small[32];
  frame_t *stack = small;
  size_t depth = 0, cap = SB_ARRAY_LEN(small);
  sb_json_t *root = NULL;
  sb_status_t rc = SB_ERROR;
  bool build = ps->arena != NULL;

  skip_ws(ps);
  for (;;) {
    /* ---- one value at ps->p ---- */
    const unsigned char *vstart = ps->p;
    sb_slice_t key = SB_NULL_SLICE;
    bool key_escaped = false;
    if (depth > 0 && stack[depth - 1].object) {
      /* a member: "key" : value */
      if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, ps->p, "expected a member name");
        goto out;
      }
      const unsigned char *kq = ps->p;
      if (!scan_string(ps, &key_escaped))
        goto out;
      key = sb_slice((const char *)kq + 1, (size_t)(ps->p - kq - 2));
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        fail(ps, ps->p, "expected ':' after a member name");
        goto out;
      }
      ps->p++;
      skip_ws(ps);
      vstart = ps->p;
    }
    if (ps->p >= ps->end) {
      fail(ps, ps->p, ps->p == ps->start ? "empty input" : "unexpected end of input");
      goto out;
    }
    sb_json_t *n = NULL;
    if (build && (n = new_node(ps, vstart)) == NULL)
      goto out;
    if (n != NULL && key.ptr != NULL) {
      n->key = key;
      if (key_escaped)
        n->flags |= SB_JSON_F_KEY_ESCAPED;
    }
    unsigned char c = *ps->p;
    switch (c) {
    case '{':
    case '[':
      if (depth >= max_depth) {
        fail(ps, ps->p, "nesting too deep");
        goto out;
      }
      if (depth == cap) {
        size_t ncap = cap * 2;
        frame_t *s = malloc(ncap * sizeof(frame_t));
        if (s == NULL) {
          fail(ps, ps->p, "out of memory");
          goto out;
        }
        memcpy(s, stack, depth * sizeof(frame_t));
        if (stack != small)
          free(stack);
        stack = s;
        cap = ncap;
      }
      if (n != NULL) {
        n->type = c == '{' ? SB_JSON_OBJECT : SB_JSON_ARRAY;
        n->raw.ptr = (const char *)ps->p;
      }
      /* link before descending; raw.len is set when it closes */
      if (depth > 0 && n != NULL) {
        *stack[depth - 1].tail = n;
        stack[depth - 1].tail = &n->next;
      }
      if (depth > 0)
        stack[depth - 1].count++;
      if (depth == 0)
        root = n;
      stack[depth].node = n;
      stack[depth].tail = n != NULL ? &n->child : NULL;
      stack[depth].count = 0;
      stack[depth].object = c == '{';
      depth++;
      ps->p++;
      skip_ws(ps);
      if (ps->p < ps->end && *ps->p == (c == '{' ? '}' : ']'))
        goto close_container; /* empty */
      continue;
    case '"': {
      bool esc;
      if (!scan_string(ps, &esc))
        goto out;
      if (n != NULL) {
        n->type = SB_JSON_STRING;
        if (esc)
          n->flags |= SB_JSON_F_ESCAPED;
      }
      break;
    }
    case 't':
      if (ps->end - ps->p < 4 || memcmp(ps->p, "true", 4) != 0) {
        fail(ps, ps->p, "invalid literal");
        goto out;
      }
      ps->p += 4;
      if (n != NULL)
        n->type = SB_JSON_TRUE;
      break;
    case 'f':
      if (ps->end - ps->p < 5 || memcmp(ps->p, "false", 5) != 0) {
        fail(ps, ps->p, "invalid literal");
        goto out;
      }
      ps->p += 5;
      if (n != NULL)
        n->type = SB_JSON_FALSE;
      break;
    case 'n':
      if (ps->end - ps->p < 4 || memcmp(ps->p, "null", 4) != 0) {
        fail(ps, ps->p, "invalid literal");
        goto out;
      }
      ps->p += 4;
      if (n != NULL)
        n->type = SB_JSON_NULL;
      break;
    default: {
      bool integer;
      if (c != '-' && (c < '0' || c > '9')) {
        fail(ps, ps->p, "unexpected character");
        goto out;
      }
      if (!scan_number(ps, &integer))
        goto out;
      if (n != NULL) {
        n->type = SB_JSON_NUMBER;
        if (integer)
          n->flags |= SB_JSON_F_INTEGER;
      }
      break;
    }
    }
    /* a scalar is complete */
    if (n != NULL) {
      n->raw = sb_slice((const char *)vstart, (size_t)(ps->p - vstart));
      if (depth > 0) {
        *stack[depth - 1].tail = n;
        stack[depth - 1].tail = &n->next;
      }
    }
    if (depth > 0)
      stack[depth - 1].count++;
    if (depth == 0) {
      root = n;
      goto done;
    }

    /* ---- after a value inside a container: ',' or the close ---- */
    for (;;) {
      skip_ws(ps);
      frame_t *f = &stack[depth - 1];
      if (ps->p >= ps->end) {
        fail(ps, ps->p, "unexpected end of input");
        goto out;
      }
      if (*ps->p == ',') {
        ps->p++;
        skip_ws(ps);
        break; /* next value */
      }
      if (*ps->p != (f->object ? '}' : ']')) {
        fail(ps, ps->p, f->object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto out;
      }
    close_container:
      f = &stack[depth - 1];
      ps->p++;
      if (f->node != NULL) {
        f->node->raw.len = (size_t)((const char *)ps->p - f->node->raw.ptr);
        f->node->count = f->count;
      }
      depth--;
      if (depth == 0)
        goto done;
    }
  }
done:
  skip_ws(ps);
  if (ps->p != ps->end) {
    fail(ps, ps->p, "unexpected data after the value");
    goto out;
  }
  if (out != NULL)
    *out = root;
  rc = SB_OK;
out:
  if (stack != small)
    free(stack);
  return rc;
}

static sb_status_t run(sb_arena_t *a, const char *data, size_t len,
                       size_t max_depth, sb_json_t **out, sb_json_error_t *err)
{
  parser_t ps;
  ps.start = ps.p = (const unsigned char *)data;
  ps.end = ps.p + len;
  ps.arena = a;
  ps.error = NULL;
  ps.error_at = NULL;
  if (max_depth == 0)
    max_depth = SB_JSON_DEFAULT_MAX_DEPTH;
  if (max_depth > MAX_DEPTH_LIMIT)
    max_depth = MAX_DEPTH_LIMIT;
  if (data == NULL && len > 0)
    return SB_ERROR;
  sb_status_t rc = parse(&ps, max_depth, out);
  if (rc != SB_OK && err != NULL) {
    err->message = ps.error != NULL ? ps.error : "invalid JSON";
    err->offset = ps.error_at != NULL ? (size_t)(ps.error_at - ps.start) : 0;
  }
  return rc;
}

sb_status_t sb_json_parse(sb_arena_t *a, const char *data, size_t len,
                          size_t max_depth, sb_json_t **out,
                          sb_json_error_t *err)
{
  return run(a, data, len, max_depth, out, err);
}

sb_status_t sb_json_validate(const char *data, size_t len, size_t max_depth,
                             sb_json_error_t *err)
{
  return run(NULL, data, len, max_depth, NULL, err);
}
