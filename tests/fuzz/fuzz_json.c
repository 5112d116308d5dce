/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver: the JSON parser, accessors and writer.
 *
 * For any input:
 * - sb_json_validate and sb_json_parse (big arena) agree, message and
 *   offset included; a parse into a tiny arena either agrees too or fails
 *   with "out of memory"; so does a parse with a small depth cap;
 * - every node is well formed: raw inside the input, strings quoted,
 *   containers bracketed, counts equal to the children, accessors agree
 *   with the children (sb_json_at, sb_json_getn first match, str_eq);
 * - the whole DOM written back through the writer (keys and strings
 *   unescaped and escaped again, numbers raw) re-parses into an equal tree,
 *   or the writer reports its depth limit when the tree is deeper;
 * - the input, taken as raw bytes, escapes to a valid JSON string;
 * - a checked member walk (json_scan.h) over it, when it starts as an
 *   object, finds it valid exactly when the validator does, and every
 *   value it passes is valid JSON on its own;
 * - with SB_JSON_REJECT_DUPLICATES the parse fails exactly when the plain
 *   parse fails, or succeeds with some object holding two members whose
 *   unescaped names are equal (found here the slow way); then the error
 *   is the duplicate one, at the later member's name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard/json.h"
#include "switchboard/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks stay on whatever NDEBUG says. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static sb_arena_t scratch; /* unescaped strings */

static bool is_container(const sb_json_t *v)
{
  return v->type == SB_JSON_ARRAY || v->type == SB_JSON_OBJECT;
}

static size_t container_depth(const sb_json_t *v)
{
  size_t d = 0;
  if (!is_container(v))
    return 0;
  for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
    size_t cd = container_depth(c);
    d = cd > d ? cd : d;
  }
  return d + 1;
}

static sb_slice_t unescaped(const sb_json_t *v)
{
  sb_slice_t s;
  CHECK(sb_json_string(&scratch, v, &s) == SB_OK);
  return s;
}

static sb_slice_t key_of(const sb_json_t *m)
{
  sb_slice_t s;
  CHECK(sb_json_key(&scratch, m, &s) == SB_OK);
  return s;
}

/* Structural invariants of a node parsed from [lo, hi). */
static void check_node(const sb_json_t *v, const char *lo, const char *hi)
{
  CHECK(v->raw.ptr >= lo && v->raw.len > 0 && v->raw.len <= (size_t)(hi - v->raw.ptr));
  const char first = v->raw.ptr[0], last = v->raw.ptr[v->raw.len - 1];
  switch (v->type) {
  case SB_JSON_NULL:
    CHECK(v->raw.len == 4 && memcmp(v->raw.ptr, "null", 4) == 0);
    break;
  case SB_JSON_TRUE:
    CHECK(v->raw.len == 4 && memcmp(v->raw.ptr, "true", 4) == 0);
    break;
  case SB_JSON_FALSE:
    CHECK(v->raw.len == 5 && memcmp(v->raw.ptr, "false", 5) == 0);
    break;
  case SB_JSON_NUMBER: {
    double d;
    int64_t i;
    CHECK(first == '-' || (first >= '0' && first <= '9'));
    CHECK(last >= '0' && last <= '9');
    CHECK(sb_json_double(v, &d) == SB_OK);
    if (!(v->flags & SB_JSON_F_INTEGER))
      CHECK(sb_json_int64(v, &i) == SB_ERROR);
    else if (sb_json_int64(v, &i) == SB_OK)
      CHECK((double)i == d || v->raw.len > 15);
    break;
  }
  case SB_JSON_STRING: {
    CHECK(v->raw.len >= 2 && first == '"' && last == '"');
    bool esc = memchr(v->raw.ptr + 1, '\\', v->raw.len - 2) != NULL;
    CHECK(esc == ((v->flags & SB_JSON_F_ESCAPED) != 0));
    sb_slice_t s = unescaped(v);
    CHECK(s.len <= v->raw.len - 2);
    CHECK(sb_json_str_eq(v, s.ptr, s.len));
    if (s.len > 0)
      CHECK(!sb_json_str_eq(v, s.ptr, s.len - 1));
    break;
  }
  case SB_JSON_ARRAY:
  case SB_JSON_OBJECT: {
    bool obj = v->type == SB_JSON_OBJECT;
    CHECK(first == (obj ? '{' : '[') && last == (obj ? '}' : ']'));
    size_t n = 0;
    for (const sb_json_t *c = v->child; c != NULL; c = c->next, n++) {
      CHECK(c->raw.ptr > v->raw.ptr &&
            c->raw.ptr + c->raw.len < v->raw.ptr + v->raw.len);
      if (obj) {
        CHECK(c->key.ptr != NULL && c->key.ptr > v->raw.ptr &&
              c->key.ptr + c->key.len < c->raw.ptr);
        CHECK(c->key.ptr[-1] == '"' && c->key.ptr[c->key.len] == '"');
        bool kesc = memchr(c->key.ptr, '\\', c->key.len) != NULL;
        CHECK(kesc == ((c->flags & SB_JSON_F_KEY_ESCAPED) != 0));
        sb_slice_t k = key_of(c);
        /* getn finds the first member with that name */
        const sb_json_t *g = sb_json_getn(v, k.ptr, k.len);
        CHECK(g != NULL);
        CHECK(sb_slice_eq(key_of(g), k));
        for (const sb_json_t *o = v->child; o != g; o = o->next)
          CHECK(!sb_slice_eq(key_of(o), k));
      } else {
        CHECK(c->key.ptr == NULL && c->key.len == 0);
        if (n < 64)
          CHECK(sb_json_at(v, n) == c);
      }
      check_node(c, lo, hi);
    }
    CHECK(n == v->count);
    if (!obj)
      CHECK(sb_json_at(v, n) == NULL);
    break;
  }
  default:
    CHECK(0);
  }
}

static void rewrite(sb_jw_t *w, const sb_json_t *v)
{
  sb_slice_t s;
  switch (v->type) {
  case SB_JSON_OBJECT:
    sb_jw_obj_begin(w);
    for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
      s = key_of(c);
      sb_jw_key(w, s.ptr, s.len);
      rewrite(w, c);
    }
    sb_jw_obj_end(w);
    return;
  case SB_JSON_ARRAY:
    sb_jw_arr_begin(w);
    for (const sb_json_t *c = v->child; c != NULL; c = c->next)
      rewrite(w, c);
    sb_jw_arr_end(w);
    return;
  case SB_JSON_STRING:
    s = unescaped(v);
    sb_jw_str(w, s.ptr, s.len);
    return;
  case SB_JSON_NUMBER:
    sb_jw_raw(w, v->raw.ptr, v->raw.len);
    return;
  case SB_JSON_TRUE:
    sb_jw_bool(w, true);
    return;
  case SB_JSON_FALSE:
    sb_jw_bool(w, false);
    return;
  default:
    sb_jw_null(w);
  }
}

static void check_equal(const sb_json_t *a, const sb_json_t *b)
{
  CHECK(a->type == b->type);
  CHECK(a->count == b->count);
  switch (a->type) {
  case SB_JSON_NUMBER:
    CHECK(sb_slice_eq(a->raw, b->raw));
    return;
  case SB_JSON_STRING:
    CHECK(sb_slice_eq(unescaped(a), unescaped(b)));
    return;
  case SB_JSON_ARRAY:
  case SB_JSON_OBJECT: {
    const sb_json_t *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
      if (a->type == SB_JSON_OBJECT)
        CHECK(sb_slice_eq(key_of(x), key_of(y)));
      check_equal(x, y);
    }
    CHECK(x == NULL && y == NULL);
    return;
  }
  default:
    return;
  }
}

/* The first member of any object in `v` (depth first, inner objects before
 * their parent's later members, as the parser closes them) whose
 * unescaped name an earlier member of the same object has; NULL if none. */
static const sb_json_t *first_repeat(const sb_json_t *v)
{
  if (!is_container(v))
    return NULL;
  /* children are complete before their parent, so inner objects first;
   * among siblings, in document order */
  for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
    const sb_json_t *r = first_repeat(c);
    if (r != NULL)
      return r;
  }
  if (v->type != SB_JSON_OBJECT)
    return NULL;
  for (const sb_json_t *m = v->child; m != NULL; m = m->next)
    for (const sb_json_t *o = v->child; o != m; o = o->next)
      if (sb_slice_eq(key_of(o), key_of(m)))
        return m;
  return NULL;
}

static void check_duplicates(const char *in, size_t size, sb_status_t plain,
                             const sb_json_t *root)
{
  sb_arena_t a;
  sb_json_t *u = NULL;
  sb_json_error_t e = {0, NULL, SB_NULL_SLICE};
  sb_arena_init(&a, 4096, 256u << 20);
  sb_status_t rc = sb_json_parse_flags(&a, in, size, 0,
                                       SB_JSON_REJECT_DUPLICATES, &u, &e);
  if (plain != SB_OK) {
    CHECK(rc == SB_ERROR);
  } else {
    const sb_json_t *r = first_repeat(root);
    if (r == NULL) {
      CHECK(rc == SB_OK && u != NULL);
    } else {
      CHECK(rc == SB_ERROR);
      CHECK(strcmp(e.message, SB_JSON_DUPLICATE_MESSAGE) == 0);
      CHECK(e.offset == (size_t)(r->key.ptr - 1 - in));
      CHECK(e.name.ptr == r->key.ptr && e.name.len == r->key.len);
    }
  }
  sb_arena_destroy(&a);
}

/* Parse in a capped arena: agrees with validate, or ran out of memory. */
static void parse_capped(const char *in, size_t size, size_t cap,
                         size_t max_depth)
{
  sb_arena_t a;
  sb_json_t *root = NULL;
  sb_json_error_t e = {0, NULL, SB_NULL_SLICE}, ve = {0, NULL, SB_NULL_SLICE};
  sb_status_t vrc = sb_json_validate(in, size, max_depth, &ve);
  sb_arena_init(&a, 256, cap);
  sb_status_t rc = sb_json_parse(&a, in, size, max_depth, &root, &e);
  if (rc == SB_OK) {
    CHECK(vrc == SB_OK && root != NULL);
  } else if (strcmp(e.message, "out of memory") != 0) {
    CHECK(vrc == SB_ERROR && root == NULL);
    CHECK(strcmp(e.message, ve.message) == 0 && e.offset == ve.offset);
  }
  sb_arena_destroy(&a);
}

static void check_walk(const char *in, size_t size, bool valid)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  if (!sb_json_iter_object_checked(&it, sb_slice(in, size), 0))
    return; /* not an object's text: nothing walked */
  while (sb_json_iter_next(&it, &m)) {
    CHECK(m.value.ptr >= in && m.value.ptr + m.value.len <= in + size);
    CHECK(sb_json_validate(m.value.ptr, m.value.len, 0, NULL) == SB_OK);
  }
  CHECK(sb_json_iter_valid(&it) == valid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* an exact-size copy: no slack after the input for the vector loads */
  char *in = malloc(size == 0 ? 1 : size);
  CHECK(in != NULL);
  if (size > 0)
    memcpy(in, data, size);

  sb_arena_t big;
  sb_json_t *root = NULL;
  sb_json_error_t e = {0, NULL, SB_NULL_SLICE}, ve = {0, NULL, SB_NULL_SLICE};
  sb_arena_init(&big, 64 * 1024, 256u << 20);
  sb_arena_init(&scratch, 4096, 0);

  sb_status_t rc = sb_json_parse(&big, in, size, 0, &root, &e);
  sb_status_t vrc = sb_json_validate(in, size, 0, &ve);
  CHECK(rc == vrc);
  check_walk(in, size, vrc == SB_OK);
  if (rc != SB_OK) {
    CHECK(root == NULL && e.message != NULL && e.offset <= size);
    CHECK(strcmp(e.message, ve.message) == 0 && e.offset == ve.offset);
    CHECK(strcmp(e.message, "out of memory") != 0);
  }
  parse_capped(in, size, 1024, 0);
  parse_capped(in, size, 1 << 20, 3);
  check_duplicates(in, size, rc, root);

  if (rc == SB_OK) {
    check_node(root, in, in + size);
    sb_buf_t out;
    sb_jw_t w;
    sb_buf_init(&out, 0);
    sb_jw_init(&w, &out);
    rewrite(&w, root);
    if (container_depth(root) > SB_JW_MAX_DEPTH) {
      CHECK(sb_jw_status(&w) == SB_ERROR);
    } else {
      sb_json_t *again = NULL;
      CHECK(sb_jw_status(&w) == SB_OK);
      CHECK(sb_json_parse(&big, out.data, out.len, 0, &again, &e) == SB_OK);
      check_equal(root, again);
    }
    sb_buf_free(&out);
  }

  /* arbitrary bytes always escape to a valid JSON string */
  {
    sb_buf_t esc;
    sb_buf_init(&esc, 0);
    CHECK(sb_json_escape(&esc, in, size) == SB_OK);
    CHECK(sb_json_validate(esc.data, esc.len, 0, &e) == SB_OK);
    sb_buf_free(&esc);
  }

  sb_arena_destroy(&scratch);
  sb_arena_destroy(&big);
  free(in);
  return 0;
}
