/* SPDX-License-Identifier: MIT */
/*
 * JSON parsing: full RFC 8259 validation into an arena DOM; see
 * include/switchboard/json.h and docs/json.md.
 *
 * The parser is iterative (an explicit stack bounded by the depth cap), so
 * hostile nesting cannot overflow the C stack. Strings, which are most of a
 * chat body, are scanned 16 bytes at a time with SSE2: one compare finds
 * quotes, backslashes, control characters and non-ASCII bytes together
 * (bytes >= 0x80 are negative as signed chars, so "less than 0x20" catches
 * both), and only those stop the fast loop; a stretch of non-ASCII text or
 * of escapes is then checked in one scalar pass. Whitespace is skipped with
 * a one-compare fast path (compact JSON has none). Nodes come from the
 * arena in blocks. Nothing is copied: values are slices of the input, and
 * no byte past data + len is ever read (vector loads only while 16 bytes
 * remain).
 *
 * sb_json_validate() runs the same code with no arena: the two cannot
 * disagree except on "out of memory".
 */
#include <stdlib.h>

#include "json_internal.h"
#include "json_lex.h"

/* A larger max_depth is lowered to this: the explicit stack is heap memory
 * (24 bytes a level), and no legitimate document nests deeper. */
#define MAX_DEPTH_LIMIT 4096

typedef struct {
  const unsigned char *p;
  const unsigned char *end;
  const unsigned char *start;
  sb_arena_t *arena; /* NULL: validate only */
  sb_json_t *blk;    /* unused nodes of the current block */
  size_t blk_left;
  size_t blk_next;   /* size of the next block, in nodes */
  unsigned flags;     /* SB_JSON_* */
  const char *error;
  const unsigned char *error_at;
  sb_slice_t error_name; /* the repeated member's name */
} parser_t;

static bool fail(parser_t *ps, const unsigned char *at, const char *msg)
{
  if (ps->error == NULL) {
    ps->error = msg;
    ps->error_at = at;
  }
  return false;
}

static inline bool is_ws(unsigned char c)
{
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Whitespace runs longer than a byte or two only occur in pretty-printed
 * documents (indentation); they are skipped 16 bytes at a time. */
static const unsigned char *skip_ws_run(const unsigned char *p,
                                        const unsigned char *end)
{
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i nl = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i tab = _mm_set1_epi8('\t');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i ws = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
        _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
    unsigned other = ~(unsigned)_mm_movemask_epi8(ws) & 0xFFFFu;
    if (other != 0)
      return p + __builtin_ctz(other);
    p += 16;
  }
#endif
  while (p < end && is_ws(*p))
    p++;
  return p;
}

static inline void skip_ws(parser_t *ps)
{
  const unsigned char *p = ps->p, *end = ps->end;
  /* Fast paths: no whitespace at all (compact JSON), or the single space
   * of ", " and ": " separators. Any byte above ' ' is not whitespace. */
  if (SB_LIKELY(p < end && *p > ' '))
    return;
  if (p + 1 < end && *p == ' ' && p[1] > ' ') {
    ps->p = p + 1;
    return;
  }
  ps->p = skip_ws_run(p, end);
}

/* ---- strings and numbers (json_lex.h) ----------------------------------- */

/* The writer shares the validator (json_internal.h). */
size_t sb__json_utf8_len(const unsigned char *p, const unsigned char *end)
{
  return sb__json_utf8_seq(p, end);
}

/* A string at ps->p (its opening quote): ps->p past the closing quote,
 * *escaped whether it had backslashes. */
static inline bool scan_string(parser_t *ps, bool *escaped)
{
  sb__json_fault_t f;
  const unsigned char *q = sb__json_lex_string(ps->p, ps->end, escaped, &f);
  if (q == NULL)
    return fail(ps, f.at, f.why);
  ps->p = q;
  return true;
}

static inline bool scan_number(parser_t *ps, bool *integer)
{
  sb__json_fault_t f;
  const unsigned char *q = sb__json_lex_number(ps->p, ps->end, integer, &f);
  if (q == NULL)
    return fail(ps, f.at, f.why);
  ps->p = q;
  return true;
}

/* ---- duplicate member names (SB_JSON_REJECT_DUPLICATES) ------------------ */

/* Objects up to this many members are checked pairwise (a request's
 * objects have a handful: the pairs cost less than setting up a table);
 * larger ones through an open-addressing table of member pointers. */
#define DUP_PAIRWISE_MAX 16
/* Tables up to this many slots live on the stack; larger ones (objects of
 * more than 256 members, which no request has) on the heap. */
#define DUP_STACK_SLOTS 512

static inline bool same_name(const sb_json_t *a, const sb_json_t *b)
{
  if (SB_LIKELY(((a->flags | b->flags) & SB_JSON_F_KEY_ESCAPED) == 0))
    return a->key.len == b->key.len &&
           (a->key.len == 0 || (a->key.ptr[0] == b->key.ptr[0] &&
                                memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0));
  /* An unescaped name is never longer than its escaped form. */
  if ((a->flags & SB_JSON_F_KEY_ESCAPED) == 0 && b->key.len < a->key.len)
    return false;
  if ((b->flags & SB_JSON_F_KEY_ESCAPED) == 0 && a->key.len < b->key.len)
    return false;
  return sb__json_names_equal(a, b);
}

static bool duplicate(parser_t *ps, const sb_json_t *m)
{
  fail(ps, (const unsigned char *)m->key.ptr - 1, SB_JSON_DUPLICATE_MESSAGE);
  if (ps->error_name.ptr == NULL)
    ps->error_name = m->key;
  return false;
}

static bool unique_hashed(parser_t *ps, const sb_json_t *obj)
{
  const sb_json_t *small[DUP_STACK_SLOTS];
  const sb_json_t **slots = small;
  size_t cap = 64;
  while (cap < (size_t)obj->count * 2)
    cap *= 2;
  if (cap > DUP_STACK_SLOTS &&
      (slots = malloc(cap * sizeof(*slots))) == NULL)
    return fail(ps, (const unsigned char *)obj->raw.ptr, "out of memory");
  memset(slots, 0, cap * sizeof(*slots));
  bool ok = true;
  for (const sb_json_t *m = obj->child; m != NULL && ok; m = m->next) {
    size_t i = sb__json_name_hash(m) & (cap - 1);
    for (; slots[i] != NULL; i = (i + 1) & (cap - 1))
      if (same_name(slots[i], m)) {
        ok = duplicate(ps, m);
        break;
      }
    slots[i] = m;
  }
  if (slots != small)
    free(slots);
  return ok;
}

/* Does every member of `obj` (count > 1) have its own name? */
static bool unique_names(parser_t *ps, const sb_json_t *obj)
{
  if (obj->count > DUP_PAIRWISE_MAX)
    return unique_hashed(ps, obj);
  for (const sb_json_t *m = obj->child->next; m != NULL; m = m->next)
    for (const sb_json_t *o = obj->child; o != m; o = o->next)
      if (same_name(o, m))
        return duplicate(ps, m);
  return true;
}

/* ---- the value grammar ---------------------------------------------------- */

typedef struct {
  sb_json_t *node;  /* NULL when validating only */
  sb_json_t **tail; /* where the next child goes */
  uint32_t count;
  bool object;
} frame_t;

/* Nodes are carved from blocks of 8, 16, 32, then 64 nodes (one arena call
 * per block instead of per node, and no 16-byte rounding per node). At most
 * one partly used block is wasted. When the arena cannot give a block (a
 * small cap), fall back to one node at a time so that a document fits
 * whenever its nodes do. */
#define NODE_BLOCK_MIN 8
#define NODE_BLOCK_MAX 64

static sb_json_t *new_node(parser_t *ps, const unsigned char *at)
{
  sb_json_t *n;
  if (SB_LIKELY(ps->blk_left > 0)) {
    n = ps->blk++;
    ps->blk_left--;
  } else {
    size_t want = ps->blk_next;
    n = sb_arena_alloc(ps->arena, want * sizeof(*n));
    if (n != NULL) {
      ps->blk = n + 1;
      ps->blk_left = want - 1;
      if (want < NODE_BLOCK_MAX)
        ps->blk_next = want * 2;
    } else if ((n = sb_arena_alloc(ps->arena, sizeof(*n))) == NULL) {
      fail(ps, at, "out of memory");
      return NULL;
    }
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
        if ((ps->flags & SB_JSON_REJECT_DUPLICATES) != 0 && f->object &&
            f->count > 1 && !unique_names(ps, f->node))
          goto out;
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
                       size_t max_depth, unsigned flags, sb_json_t **out,
                       sb_json_error_t *err)
{
  parser_t ps;
  if (data == NULL) {
    if (len > 0) {
      if (err != NULL) {
        err->message = "no input";
        err->offset = 0;
        err->name = SB_NULL_SLICE;
      }
      return SB_ERROR;
    }
    data = ""; /* no arithmetic on a null pointer */
  }
  ps.start = ps.p = (const unsigned char *)data;
  ps.end = ps.p + len;
  ps.arena = a;
  ps.blk = NULL;
  ps.blk_left = 0;
  ps.blk_next = NODE_BLOCK_MIN;
  ps.flags = flags;
  ps.error = NULL;
  ps.error_at = NULL;
  ps.error_name = SB_NULL_SLICE;
  if (max_depth == 0)
    max_depth = SB_JSON_DEFAULT_MAX_DEPTH;
  if (max_depth > MAX_DEPTH_LIMIT)
    max_depth = MAX_DEPTH_LIMIT;
  sb_status_t rc = parse(&ps, max_depth, out);
  if (rc != SB_OK && err != NULL) {
    err->message = ps.error != NULL ? ps.error : "invalid JSON";
    err->offset = ps.error_at != NULL ? (size_t)(ps.error_at - ps.start) : 0;
    err->name = ps.error_name;
  }
  return rc;
}

sb_status_t sb_json_parse_flags(sb_arena_t *a, const char *data, size_t len,
                                size_t max_depth, unsigned flags,
                                sb_json_t **out, sb_json_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (a == NULL || out == NULL) {
    if (err != NULL) {
      err->message = "no arena or no result pointer";
      err->offset = 0;
      err->name = SB_NULL_SLICE;
    }
    return SB_ERROR;
  }
  return run(a, data, len, max_depth, flags, out, err);
}

sb_status_t sb_json_parse(sb_arena_t *a, const char *data, size_t len,
                          size_t max_depth, sb_json_t **out,
                          sb_json_error_t *err)
{
  return sb_json_parse_flags(a, data, len, max_depth, 0, out, err);
}

sb_status_t sb_json_validate(const char *data, size_t len, size_t max_depth,
                             sb_json_error_t *err)
{
  return run(NULL, data, len, max_depth, 0, NULL, err);
}
