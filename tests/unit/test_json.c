/* SPDX-License-Identifier: MIT */
/*
 * The JSON module: what RFC 8259 accepts and rejects, the DOM's shape
 * (raw, key, count, flags, order), the accessors, and the writer.
 *
 * Every document is copied into a heap block of exactly its length before
 * it is parsed, so that under AddressSanitizer a read past the end (the
 * 16-byte vector loads) is caught. Every parse is checked against
 * sb_json_validate(): same verdict, same message, same offset.
 */
#include "test_helpers.h"

#include <float.h>
#include <locale.h>
#include <math.h>

#include "switchboard/buf.h"
#include "switchboard/json.h"
#include "switchboard/json_scan.h"

#define D(s) (s), (sizeof(s) - 1)
#define ANY_OFFSET ((size_t)-1)

static sb_arena_t arena;

static int setup(void **state)
{
  (void)state;
  sb_arena_init(&arena, 4096, 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  sb_arena_destroy(&arena);
  return 0;
}

/* Parse `len` bytes (copied to an exact-size heap block, which is kept in
 * *copy for the caller to free once done with the DOM). */
static sb_status_t parse_copy(const char *doc, size_t len, size_t max_depth,
                              sb_json_t **root, sb_json_error_t *err,
                              char **copy)
{
  char *c = malloc(len == 0 ? 1 : len);
  sb_json_error_t verr = {0, NULL, SB_NULL_SLICE};
  assert_non_null(c);
  if (len > 0)
    memcpy(c, doc, len);
  sb_status_t rc = sb_json_parse(&arena, c, len, max_depth, root, err);
  sb_status_t vrc = sb_json_validate(c, len, max_depth, &verr);
  if (rc != vrc)
    fail_msg("parse says %d, validate says %d for \"%.*s\"", rc, vrc, (int)len,
             doc);
  if (rc != SB_OK) {
    assert_string_equal(err->message, verr.message);
    assert_int_equal(err->offset, verr.offset);
  }
  *copy = c;
  return rc;
}

static sb_json_t *must_parse(const char *doc, size_t len, char **copy)
{
  sb_json_t *root = NULL;
  sb_json_error_t err = {0, NULL, SB_NULL_SLICE};
  if (parse_copy(doc, len, 0, &root, &err, copy) != SB_OK)
    fail_msg("\"%.*s\" did not parse: %s at %zu", (int)len, doc, err.message,
             err.offset);
  assert_non_null(root);
  return root;
}

static void expect_ok(const char *doc, size_t len)
{
  char *copy;
  sb_json_t *root = must_parse(doc, len, &copy);
  (void)root;
  free(copy);
}

static void expect_bad(const char *doc, size_t len, size_t max_depth,
                       const char *msg, size_t offset)
{
  char *copy;
  sb_json_t *root = (sb_json_t *)&root;
  sb_json_error_t err = {0, NULL, SB_NULL_SLICE};
  if (parse_copy(doc, len, max_depth, &root, &err, &copy) == SB_OK)
    fail_msg("\"%.*s\" parsed but should not", (int)len, doc);
  assert_null(root);
  assert_non_null(err.message);
  if (msg != NULL && strcmp(err.message, msg) != 0)
    fail_msg("\"%.*s\": expected \"%s\", got \"%s\"", (int)len, doc, msg,
             err.message);
  if (offset != ANY_OFFSET && err.offset != offset)
    fail_msg("\"%.*s\": expected the error at %zu, got %zu (%s)", (int)len, doc,
             offset, err.offset, err.message);
  assert_true(err.offset <= len);
  free(copy);
}

/* ---- accepted documents ------------------------------------------------------- */

typedef struct {
  const char *doc;
  size_t len;
} doc_t;

static const doc_t valid_docs[] = {
    /* any value at top level */
    {D("0")}, {D("-0")}, {D("7")}, {D("-7")}, {D("1234567890")},
    {D("1.5")}, {D("-1.5")}, {D("0.0")}, {D("0e0")}, {D("0E+0")},
    {D("1e10")}, {D("1E-10")}, {D("-1.25e+300")}, {D("1e999")},
    {D("123456789012345678901234567890")},
    {D("0.000000000000000000000000000000000000000000000000000000000000000001")},
    {D("true")}, {D("false")}, {D("null")}, {D("\"\"")}, {D("\"a\"")},
    {D("[]")}, {D("{}")}, {D("[[]]")}, {D("[{}]")}, {D("{\"\":{}}")},
    /* whitespace: space, tab, CR, LF, anywhere between tokens */
    {D(" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n")},
    {D(" {\"a\" : 1 , \"b\" :[ ] } ")},
    {D("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n{}"
       "                                                                 ")},
    /* escapes */
    {D("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"")},
    {D("\"\\u0000\"")}, {D("\"\\u001f\"")}, {D("\"\\u00e9\\u00E9\"")},
    {D("\"\\uD83D\\uDE00\"")}, {D("\"\\ud83d\\ude00\"")},
    {D("\"\\uDBFF\\uDFFF\"")}, {D("\"\\uD800\\uDC00\"")},
    {D("\"\\uFFFF\\uFFFE\\uD7FF\\uE000\"")},
    /* raw UTF-8 at each length boundary */
    {D("\"\xC2\x80\"")},             /* U+0080 */
    {D("\"\xDF\xBF\"")},             /* U+07FF */
    {D("\"\xE0\xA0\x80\"")},         /* U+0800 */
    {D("\"\xED\x9F\xBF\"")},         /* U+D7FF */
    {D("\"\xEE\x80\x80\"")},         /* U+E000 */
    {D("\"\xEF\xBF\xBF\"")},         /* U+FFFF */
    {D("\"\xF0\x90\x80\x80\"")},     /* U+10000 */
    {D("\"\xF4\x8F\xBF\xBF\"")},     /* U+10FFFF */
    {D("\"caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x9A\x80\"")},
    {D("\"\x7F\"")}, /* DEL is not a control character for JSON */
    /* duplicates are accepted */
    {D("{\"a\":1,\"a\":2}")},
    {D("[1,\"two\",3.0,true,false,null,{\"k\":[]},[[[]]]]")},
};

static void test_valid(void **state)
{
  (void)state;
  for (size_t i = 0; i < SB_ARRAY_LEN(valid_docs); i++)
    expect_ok(valid_docs[i].doc, valid_docs[i].len);
}

/* ---- rejected documents ------------------------------------------------------- */

typedef struct {
  const char *doc;
  size_t len;
  const char *msg;
  size_t offset;
} bad_t;

#define BAD(s, msg, off) {(s), sizeof(s) - 1, (msg), (off)}

static const char m_utf8[] = "invalid UTF-8 in string";
static const char m_num[] = "invalid number";
static const char m_trail[] = "unexpected data after the value";

static const bad_t invalid_docs[] = {
    /* empty and whitespace-only */
    BAD("", "empty input", 0),
    BAD(" ", "unexpected end of input", 1),
    BAD(" \t\r\n", "unexpected end of input", 4),
    /* only space, tab, CR and LF are whitespace */
    BAD("\f1", "unexpected character", 0),
    BAD("\v1", "unexpected character", 0),
    BAD("\xC2\xA0" "1", "unexpected character", 0), /* NBSP */
    BAD("\xEF\xBB\xBF{}", "unexpected character", 0), /* BOM */
    BAD("1\f", m_trail, 1),
    BAD("[1]\0", m_trail, 3),
    /* bad UTF-8 inside strings */
    BAD("\"\x80\"", m_utf8, 1),             /* lone continuation */
    BAD("\"\xBF\"", m_utf8, 1),
    BAD("\"a\xC0\xAF\"", m_utf8, 2),        /* overlong '/' */
    BAD("\"\xC1\xBF\"", m_utf8, 1),         /* overlong */
    BAD("\"\xE0\x80\x80\"", m_utf8, 1),     /* overlong NUL */
    BAD("\"\xE0\x9F\xBF\"", m_utf8, 1),     /* overlong U+07FF */
    BAD("\"\xED\xA0\x80\"", m_utf8, 1),     /* U+D800 in UTF-8 */
    BAD("\"\xED\xBF\xBF\"", m_utf8, 1),     /* U+DFFF in UTF-8 */
    BAD("\"\xED\xA0\xBD\xED\xB8\x80\"", m_utf8, 1), /* CESU-8 pair */
    BAD("\"\xF0\x80\x80\x80\"", m_utf8, 1), /* overlong */
    BAD("\"\xF0\x8F\xBF\xBF\"", m_utf8, 1), /* overlong U+FFFF */
    BAD("\"\xF4\x90\x80\x80\"", m_utf8, 1), /* U+110000 */
    BAD("\"\xF5\x80\x80\x80\"", m_utf8, 1),
    BAD("\"\xF7\xBF\xBF\xBF\"", m_utf8, 1),
    BAD("\"\xF8\x88\x80\x80\x80\"", m_utf8, 1), /* 5-byte form */
    BAD("\"\xFC\x84\x80\x80\x80\x80\"", m_utf8, 1),
    BAD("\"\xFE\"", m_utf8, 1),
    BAD("\"\xFF\"", m_utf8, 1),
    BAD("\"\xC2\"", m_utf8, 1),             /* truncated by the quote */
    BAD("\"\xC2" "a\"", m_utf8, 1),
    BAD("\"\xC2\xC2\xA9\"", m_utf8, 1),
    BAD("\"\xE2\x82\"", m_utf8, 1),
    BAD("\"\xE2\x82" "a\"", m_utf8, 1),
    BAD("\"\xF0\x9F\x98\"", m_utf8, 1),
    BAD("\"\xF0\x9F\"", m_utf8, 1),
    BAD("\"\xC2", m_utf8, 1),               /* truncated by the end */
    BAD("\"\xE2\x82", m_utf8, 1),
    BAD("\"\xF0\x9F\x98", m_utf8, 1),
    BAD("\"ok \xC3\xA9 then \xE9 latin-1\"", m_utf8, 12),
    /* bad escapes */
    BAD("\"\\x41\"", "invalid escape in string", 1),
    BAD("\"\\'\"", "invalid escape in string", 1),
    BAD("\"\\a\"", "invalid escape in string", 1),
    BAD("\"\\0\"", "invalid escape in string", 1),
    BAD("\"\\U0041\"", "invalid escape in string", 1),
    BAD("\"\\ \"", "invalid escape in string", 1),
    BAD("\"\\\xC3\xA9\"", "invalid escape in string", 1),
    BAD("\"\\u\"", "invalid \\u escape", 1),
    BAD("\"\\u12\"", "invalid \\u escape", 1),
    BAD("\"\\u12G4\"", "invalid \\u escape", 1),
    BAD("\"\\u-123\"", "invalid \\u escape", 1),
    BAD("\"\\u 123\"", "invalid \\u escape", 1),
    BAD("\"\\u123", "invalid \\u escape", 1),
    BAD("\"\\", "unterminated string", 1),
    /* surrogate escapes: lone, reversed, mismatched */
    BAD("\"\\uD800\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uDBFF\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uDC00\"", "unpaired low surrogate in \\u escape", 1),
    BAD("\"\\uDFFF\"", "unpaired low surrogate in \\u escape", 1),
    BAD("\"\\uDE00\\uD83D\"", "unpaired low surrogate in \\u escape", 1),
    BAD("\"\\uD800\\u0041\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800\\uD800\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800\\uE000\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800\\n\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800x\\uDC00\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800\xED\xB0\x80\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800\\uDC0\"", "unpaired high surrogate in \\u escape", 1),
    BAD("\"\\uD800", "unpaired high surrogate in \\u escape", 1),
    BAD("\"a\\uD83D\\uDE00\\uDE00\"", "unpaired low surrogate in \\u escape", 14),
    /* unterminated strings */
    BAD("\"", "unterminated string", 1),
    BAD("\"abc", "unterminated string", 4),
    BAD("[\"abc]", "unterminated string", 6),
    BAD("\"0123456789abcdef0123456789", "unterminated string", 27),
    /* numbers */
    BAD("01", "leading zero in number", 0),
    BAD("-01", "leading zero in number", 0),
    BAD("00", "leading zero in number", 0),
    BAD("[00]", "leading zero in number", 1),
    BAD("1.", "invalid number: digits must follow '.'", 0),
    BAD("1.e5", "invalid number: digits must follow '.'", 0),
    BAD("-1.]", "invalid number: digits must follow '.'", 0),
    BAD(".5", "unexpected character", 0),
    BAD("-", m_num, 1),
    BAD("-a", m_num, 0),
    BAD("--1", m_num, 0),
    BAD("-.5", m_num, 0),
    BAD("1e", "invalid number: bad exponent", 0),
    BAD("1E+", "invalid number: bad exponent", 0),
    BAD("1e-x", "invalid number: bad exponent", 0),
    BAD("1e++1", "invalid number: bad exponent", 0),
    BAD("+1", "unexpected character", 0),
    BAD("NaN", "unexpected character", 0),
    BAD("Infinity", "unexpected character", 0),
    BAD("-Infinity", m_num, 0),
    BAD("0x10", m_trail, 1),
    BAD("1_000", m_trail, 1),
    BAD("1e5.5", m_trail, 3),
    BAD("1.5.5", m_trail, 3),
    BAD("1 2", m_trail, 2),
    BAD("[1 2]", "expected ',' or ']'", 3),
    /* literals */
    BAD("tru", "invalid literal", 0),
    BAD("nul", "invalid literal", 0),
    BAD("fals", "invalid literal", 0),
    BAD("True", "unexpected character", 0),
    BAD("NULL", "unexpected character", 0),
    BAD("nulll", m_trail, 4),
    BAD("falsey", m_trail, 5),
    BAD("[truefalse]", "expected ',' or ']'", 5),
    BAD("undefined", "unexpected character", 0),
    /* trailing and missing commas */
    BAD("[1,]", "unexpected character", 3),
    BAD("{\"a\":1,}", "expected a member name", 7),
    BAD("[,1]", "unexpected character", 1),
    BAD("[,]", "unexpected character", 1),
    BAD("{,}", "expected a member name", 1),
    BAD("[1,,2]", "unexpected character", 3),
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7),
    /* members */
    BAD("{a:1}", "expected a member name", 1),
    BAD("{'a':1}", "expected a member name", 1),
    BAD("['a']", "unexpected character", 1),
    BAD("{1:1}", "expected a member name", 1),
    BAD("{\"a\" 1}", "expected ':' after a member name", 5),
    BAD("{\"a\"}", "expected ':' after a member name", 4),
    BAD("{\"a\":}", "unexpected character", 5),
    BAD("{\"a\"::1}", "unexpected character", 5),
    BAD("{\"a\"=1}", "expected ':' after a member name", 4),
    BAD("{\"a\":1:2}", "expected ',' or '}'", 6),
    /* comments are not JSON */
    BAD("// c\n1", "unexpected character", 0),
    BAD("/* c */ 1", "unexpected character", 0),
    BAD("1 // c", m_trail, 2),
    BAD("[1 /* c */]", "expected ',' or ']'", 3),
    BAD("# c\n1", "unexpected character", 0),
    /* structure */
    BAD("[", "unexpected end of input", 1),
    BAD("{", "expected a member name", 1),
    BAD("]", "unexpected character", 0),
    BAD("}", "unexpected character", 0),
    BAD("[1", "unexpected end of input", 2),
    BAD("[1,", "unexpected end of input", 3),
    BAD("{\"a\"", "expected ':' after a member name", 4),
    BAD("{\"a\":", "unexpected end of input", 5),
    BAD("{\"a\":1", "unexpected end of input", 6),
    BAD("[}", "unexpected character", 1),
    BAD("{]", "expected a member name", 1),
    BAD("[1}", "expected ',' or ']'", 2),
    BAD("{\"a\":1]", "expected ',' or '}'", 6),
    BAD(":", "unexpected character", 0),
    BAD(",", "unexpected character", 0),
    /* trailing garbage */
    BAD("{}x", m_trail, 2),
    BAD("[]]", m_trail, 2),
    BAD("{}}", m_trail, 2),
    BAD("\"a\"\"b\"", m_trail, 3),
    BAD("null null", m_trail, 5),
    BAD("{} {}", m_trail, 3),
    BAD("[] ,", m_trail, 3),
};

static void test_invalid(void **state)
{
  (void)state;
  for (size_t i = 0; i < SB_ARRAY_LEN(invalid_docs); i++) {
    const bad_t *b = &invalid_docs[i];
    expect_bad(b->doc, b->len, 0, b->msg, b->offset);
  }
}

/* ---- the checked member walk (json_scan.h) ------------------------------------ */

/* Does a checked walk over `text` find it valid, walking every member? */
static bool walk_valid(const char *text, size_t len, size_t *members)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  *members = 0;
  if (!sb_json_iter_object_checked(&it, sb_slice(text, len), 0))
    return false;
  while (sb_json_iter_next(&it, &m)) {
    (*members)++;
    if (sb_json_validate(m.value.ptr, m.value.len, 0, NULL) != SB_OK)
      return false; /* a value the walk passed must be JSON on its own */
  }
  return sb_json_iter_valid(&it);
}

/* The walk agrees with the validator on every document of both tables,
 * each as the value of a member between two others, and on each object
 * document as a whole. */
static void check_walk(const char *doc, size_t len)
{
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_buf_append(&b, SB_STRLIT("{\"a\":1, \"v\" :"));
  sb_buf_append(&b, doc, len);
  sb_buf_append(&b, SB_STRLIT(",\"z\":[true]}"));
  size_t n;
  bool want = sb_json_validate(b.data, b.len, 0, NULL) == SB_OK;
  bool got = walk_valid(b.data, b.len, &n);
  if (want != got)
    fail_msg("checked walk says %d, the validator %d: %.*s", got, want,
             (int)b.len, b.data);
  if (want)
    assert_int_equal(n, 3);
  sb_json_t *root;
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  if (sb_json_parse(&a, doc, len, 0, &root, NULL) == SB_OK &&
      root->type == SB_JSON_OBJECT) {
    assert_true(walk_valid(doc, len, &n));
    assert_int_equal(n, root->count);
  }
  sb_arena_destroy(&a);
  sb_buf_free(&b);
}

static void test_checked_walk(void **state)
{
  (void)state;
  for (size_t i = 0; i < SB_ARRAY_LEN(valid_docs); i++)
    check_walk(valid_docs[i].doc, valid_docs[i].len);
  for (size_t i = 0; i < SB_ARRAY_LEN(invalid_docs); i++)
    check_walk(invalid_docs[i].doc, invalid_docs[i].len);
  /* the separators and the ends */
  static const char *const bad[] = {
      "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
      "{\"a\":1}}", "{\"a\":1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1",
      "{\"a\":tru}", "{\"a\":truex}", "{\"a\":01}", "[1]", "{\"a\":\"}",
  };
  size_t n;
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++)
    if (walk_valid(bad[i], strlen(bad[i]), &n))
      fail_msg("checked walk accepts %s", bad[i]);
  /* nesting: as deep as the validator allows, and no deeper */
  for (size_t depth = SB_JSON_DEFAULT_MAX_DEPTH - 2;
       depth <= SB_JSON_DEFAULT_MAX_DEPTH + 1; depth++) {
    sb_buf_t d;
    sb_buf_init(&d, 0);
    sb_buf_append(&d, SB_STRLIT("{\"a\":"));
    for (size_t i = 1; i < depth; i++)
      sb_buf_append(&d, "[", 1);
    for (size_t i = 1; i < depth; i++)
      sb_buf_append(&d, "]", 1);
    sb_buf_append(&d, "}", 1);
    assert_int_equal(walk_valid(d.data, d.len, &n),
                     sb_json_validate(d.data, d.len, 0, NULL) == SB_OK);
    assert_int_equal(walk_valid(d.data, d.len, &n),
                     depth <= SB_JSON_DEFAULT_MAX_DEPTH);
    sb_buf_free(&d);
  }
  assert_true(walk_valid(SB_STRLIT(" { } "), &n));
  assert_int_equal(n, 0);
  /* a name with escapes compares by its decoded bytes */
  sb_json_iter_t it;
  sb_json_member_t m;
  assert_true(sb_json_iter_object_checked(&it, SB_SLICE_LIT("{\"\\u0069d\":1}"), 0));
  assert_true(sb_json_iter_next(&it, &m));
  assert_true(m.name_escaped);
  assert_true(SB_JSON_NAME_IS(&m, "id"));
  assert_false(sb_json_iter_next(&it, &m));
  assert_true(sb_json_iter_valid(&it));
}

static void test_null_input(void **state)
{
  (void)state;
  sb_json_t *root = NULL;
  sb_json_error_t err;
  assert_int_equal(sb_json_parse(&arena, NULL, 0, 0, &root, &err), SB_ERROR);
  assert_string_equal(err.message, "empty input");
  assert_int_equal(sb_json_parse(&arena, NULL, 5, 0, &root, &err), SB_ERROR);
  assert_int_equal(sb_json_validate(NULL, 0, 0, &err), SB_ERROR);
  assert_int_equal(sb_json_parse(NULL, D("1"), 0, &root, &err), SB_ERROR);
  assert_int_equal(sb_json_parse(&arena, D("1"), 0, NULL, &err), SB_ERROR);
  /* err may be NULL */
  assert_int_equal(sb_json_parse(&arena, D("["), 0, &root, NULL), SB_ERROR);
  assert_int_equal(sb_json_validate(D("["), 0, NULL), SB_ERROR);
}

/* Every byte below 0x20, raw in a string, is an error; escaped, it is fine.
 * Outside strings only the four whitespace bytes are allowed. */
static void test_control_chars(void **state)
{
  (void)state;
  for (int c = 0; c < 0x20; c++) {
    char doc[8] = {'[', '"', 'a', (char)c, 'b', '"', ']'};
    expect_bad(doc, 7, 0, "control character in string", 3);
    char esc[16];
    int n = snprintf(esc, sizeof(esc), "\"a\\u%04xb\"", c);
    expect_ok(esc, (size_t)n);
    char outside[3] = {'1', (char)c, ' '};
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      expect_ok(outside, 3);
    else
      expect_bad(outside, 3, 0, m_trail, 1);
  }
}

/* ---- depth -------------------------------------------------------------------- */

static char *nested(size_t depth, bool objects, size_t *len)
{
  /* depth openers, a scalar, depth closers */
  size_t per = objects ? 5 : 1; /* {"a": */
  char *d = malloc(depth * (per + 1) + 1);
  size_t n = 0;
  assert_non_null(d);
  for (size_t i = 0; i < depth; i++) {
    if (objects) {
      memcpy(d + n, "{\"a\":", 5);
      n += 5;
    } else {
      d[n++] = '[';
    }
  }
  d[n++] = '1';
  for (size_t i = 0; i < depth; i++)
    d[n++] = objects ? '}' : ']';
  *len = n;
  return d;
}

static void check_depth(size_t max_depth, size_t effective)
{
  for (int objects = 0; objects < 2; objects++) {
    size_t len;
    char *d = nested(effective, objects, &len);
    char *copy;
    sb_json_t *root = NULL;
    sb_json_error_t err;
    assert_int_equal(parse_copy(d, len, max_depth, &root, &err, &copy), SB_OK);
    /* the innermost value is `effective` levels down */
    sb_json_t *v = root;
    for (size_t i = 0; i < effective; i++) {
      assert_int_equal(v->count, 1);
      v = v->child;
    }
    assert_slice_equal(v->raw, "1");
    free(copy);
    free(d);
    d = nested(effective + 1, objects, &len);
    expect_bad(d, len, max_depth, "nesting too deep",
               effective * (objects ? 5 : 1));
    free(d);
  }
}

static void test_depth(void **state)
{
  (void)state;
  size_t len;
  char *d;
  /* the default cap: exactly 128 levels parse, 129 do not */
  d = nested(SB_JSON_DEFAULT_MAX_DEPTH, false, &len);
  expect_ok(d, len);
  free(d);
  d = nested(SB_JSON_DEFAULT_MAX_DEPTH + 1, false, &len);
  expect_bad(d, len, 0, "nesting too deep", SB_JSON_DEFAULT_MAX_DEPTH);
  free(d);
  /* explicit caps, below and above the explicit stack's first size */
  check_depth(1, 1);
  check_depth(2, 2);
  check_depth(31, 31);
  check_depth(32, 32);
  check_depth(33, 33);
  check_depth(500, 500);
  /* caps past the hard limit are lowered to 4096 */
  check_depth(100000, 4096);
  /* scalars do not count as a level; depth 1 allows one container */
  expect_bad(D("[[]]"), 1, "nesting too deep", 1);
  char *copy;
  sb_json_t *root;
  sb_json_error_t err;
  assert_int_equal(parse_copy(D("\"deep\""), 1, &root, &err, &copy), SB_OK);
  free(copy);
  assert_int_equal(parse_copy(D("[1,[2],3]"), 2, &root, &err, &copy), SB_OK);
  free(copy);
  /* siblings do not add up */
  assert_int_equal(parse_copy(D("[[],[],{},[[]]]"), 3, &root, &err, &copy),
                   SB_OK);
  free(copy);
}

/* ---- strict prefixes ---------------------------------------------------------- */

static void test_prefixes(void **state)
{
  (void)state;
  static const doc_t docs[] = {
      {D("{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":"
         "\"h\\u00e9llo \\uD83D\\uDE00 \xF0\x9F\x9A\x80 w\\\"orld\\n\"}],"
         "\"n\":-12.5e+3,\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[]}")},
      {D("[ 1 , [ \"x\" ] , { \"k\" : [ 0.5 , -0 , 1E9 ] } , null ]")},
      {D("\"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E and more than sixteen bytes\"")},
      {D("[true,false,null]")},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(docs); i++) {
    expect_ok(docs[i].doc, docs[i].len);
    for (size_t n = 0; n < docs[i].len; n++)
      expect_bad(docs[i].doc, n, 0, NULL, ANY_OFFSET);
  }
}

/* ---- 16-byte boundaries ------------------------------------------------------- */

/* A string whose special byte sits at every offset 0..40 from the opening
 * quote's next byte, followed by 0..20 more bytes, so that it falls in the
 * first, second and third vector and in the scalar tail. */
static void test_simd_boundaries(void **state)
{
  (void)state;
  char doc[128];
  for (size_t off = 0; off <= 40; off++) {
    for (size_t tail = 0; tail <= 20; tail++) {
      size_t n = 0;
      char *copy;
      sb_json_t *root;
      sb_json_error_t err;
      /* a closing quote at `off` */
      doc[n++] = '"';
      memset(doc + n, 'a', off);
      n += off;
      doc[n++] = '"';
      memset(doc + n, ' ', tail);
      n += tail;
      assert_int_equal(parse_copy(doc, n, 0, &root, &err, &copy), SB_OK);
      assert_int_equal(root->raw.len, off + 2);
      assert_int_equal(root->flags, 0);
      free(copy);

      /* an escape at `off` */
      n = 1;
      memset(doc + n, 'a', off);
      n += off;
      memcpy(doc + n, "\\n", 2);
      n += 2;
      memset(doc + n, 'b', tail);
      n += tail;
      doc[n++] = '"';
      assert_int_equal(parse_copy(doc, n, 0, &root, &err, &copy), SB_OK);
      assert_int_equal(root->flags, SB_JSON_F_ESCAPED);
      sb_slice_t s;
      assert_int_equal(sb_json_string(&arena, root, &s), SB_OK);
      assert_int_equal(s.len, off + 1 + tail);
      assert_int_equal(s.ptr[off], '\n');
      free(copy);

      /* a control character, a bad UTF-8 byte, a valid 2- and 4-byte
       * sequence, and a sequence cut by the end of the input at `off` */
      static const struct {
        const char *bytes;
        size_t len;
        const char *msg;
      } specials[] = {
          {"\x01", 1, "control character in string"},
          {"\x1f", 1, "control character in string"},
          {"\x80", 1, m_utf8},
          {"\xff", 1, m_utf8},
          {"\xED\xA0\x80", 3, m_utf8},
          {"\xC3\xA9", 2, NULL},
          {"\xF0\x9F\x9A\x80", 4, NULL},
          {"\x7f", 1, NULL},
      };
      for (size_t k = 0; k < SB_ARRAY_LEN(specials); k++) {
        n = 1;
        memset(doc + n, 'a', off);
        n += off;
        memcpy(doc + n, specials[k].bytes, specials[k].len);
        n += specials[k].len;
        memset(doc + n, 'b', tail);
        n += tail;
        doc[n++] = '"';
        if (specials[k].msg == NULL)
          expect_ok(doc, n);
        else
          expect_bad(doc, n, 0, specials[k].msg, 1 + off);
      }
      /* the end of the input in the middle of a sequence or an escape */
      n = 1;
      memset(doc + n, 'a', off);
      n += off;
      memcpy(doc + n, "\xF0\x9F\x9A", 3);
      expect_bad(doc, n + 3, 0, m_utf8, 1 + off);
      memcpy(doc + n, "\\u00", 4);
      expect_bad(doc, n + 4, 0, "invalid \\u escape", 1 + off);
      /* and without a closing quote at all */
      memset(doc + n, 'c', tail);
      expect_bad(doc, n + tail, 0, "unterminated string", n + tail);
    }
  }
}

/* Whitespace runs of every length, between and around values. */
static void test_whitespace_runs(void **state)
{
  (void)state;
  char doc[256];
  for (size_t ws = 0; ws <= 40; ws++) {
    static const char kinds[] = " \t\r\n";
    size_t n = 0;
    for (size_t i = 0; i < ws; i++)
      doc[n++] = kinds[i % 4];
    doc[n++] = '[';
    for (size_t i = 0; i < ws; i++)
      doc[n++] = kinds[(i + 1) % 4];
    doc[n++] = '1';
    for (size_t i = 0; i < ws; i++)
      doc[n++] = ' ';
    doc[n++] = ']';
    for (size_t i = 0; i < ws; i++)
      doc[n++] = '\n';
    expect_ok(doc, n);
    doc[n] = 'x';
    expect_bad(doc, n + 1, 0, m_trail, n);
    /* a stray non-whitespace byte in the middle of a run */
    memset(doc, ' ', ws + 20);
    doc[ws] = '\v';
    doc[ws + 20] = '1';
    expect_bad(doc, ws + 21, 0, "unexpected character", ws);
  }
}

/* ---- DOM shape ------------------------------------------------------------------ */

static void test_dom_shape(void **state)
{
  (void)state;
  static const char doc[] =
      " { \"a\" : 1 , \"b\":[true, false,null ,[]],\"c\" :{\"d\":\"e\\n\"},"
      "\"k\\u0041\":\"x\",\"n\":-1.5e3,\"i\":-0, \"s\":\"plain\" } ";
  char *copy;
  sb_json_t *root = must_parse(doc, sizeof(doc) - 1, &copy);
  sb_json_t *m;

  assert_int_equal(root->type, SB_JSON_OBJECT);
  assert_int_equal(root->count, 7);
  assert_null(root->next);
  assert_null(root->key.ptr);
  assert_int_equal(root->key.len, 0);
  /* the root's raw text excludes the surrounding whitespace */
  assert_ptr_equal(root->raw.ptr, copy + 1);
  assert_int_equal(root->raw.len, sizeof(doc) - 3);

  m = root->child;
  assert_slice_equal(m->key, "a");
  assert_slice_equal(m->raw, "1");
  assert_int_equal(m->type, SB_JSON_NUMBER);
  assert_int_equal(m->flags, SB_JSON_F_INTEGER);
  assert_ptr_equal(m->key.ptr, copy + 4); /* a slice of the input */

  m = m->next;
  assert_slice_equal(m->key, "b");
  assert_slice_equal(m->raw, "[true, false,null ,[]]");
  assert_int_equal(m->type, SB_JSON_ARRAY);
  assert_int_equal(m->count, 4);
  sb_json_t *e = m->child;
  assert_int_equal(e->type, SB_JSON_TRUE);
  assert_slice_equal(e->raw, "true");
  assert_null(e->key.ptr);
  e = e->next;
  assert_int_equal(e->type, SB_JSON_FALSE);
  assert_slice_equal(e->raw, "false");
  e = e->next;
  assert_int_equal(e->type, SB_JSON_NULL);
  assert_slice_equal(e->raw, "null");
  e = e->next;
  assert_int_equal(e->type, SB_JSON_ARRAY);
  assert_int_equal(e->count, 0);
  assert_null(e->child);
  assert_slice_equal(e->raw, "[]");
  assert_null(e->next);

  m = m->next;
  assert_slice_equal(m->key, "c");
  assert_int_equal(m->type, SB_JSON_OBJECT);
  assert_int_equal(m->count, 1);
  assert_slice_equal(m->raw, "{\"d\":\"e\\n\"}");
  assert_slice_equal(m->child->key, "d");
  assert_slice_equal(m->child->raw, "\"e\\n\"");
  assert_int_equal(m->child->flags, SB_JSON_F_ESCAPED);
  assert_slice_equal(sb_json_str_raw(m->child), "e\\n");

  m = m->next;
  assert_slice_equal(m->key, "k\\u0041"); /* escapes intact */
  assert_int_equal(m->flags, SB_JSON_F_KEY_ESCAPED);
  assert_slice_equal(m->raw, "\"x\"");

  m = m->next;
  assert_slice_equal(m->key, "n");
  assert_slice_equal(m->raw, "-1.5e3");
  assert_int_equal(m->flags, 0);

  m = m->next;
  assert_slice_equal(m->raw, "-0");
  assert_int_equal(m->flags, SB_JSON_F_INTEGER);

  m = m->next;
  assert_slice_equal(m->key, "s");
  assert_slice_equal(m->raw, "\"plain\"");
  assert_int_equal(m->type, SB_JSON_STRING);
  assert_int_equal(m->flags, 0);
  assert_null(m->next);
  free(copy);
}

static void test_flags(void **state)
{
  (void)state;
  static const struct {
    const char *doc;
    uint8_t flags;
  } cases[] = {
      {"1", SB_JSON_F_INTEGER},        {"-0", SB_JSON_F_INTEGER},
      {"12345678901234567890", SB_JSON_F_INTEGER},
      {"1.0", 0},                      {"1e2", 0},
      {"1E+2", 0},                     {"-0.0", 0},
      {"\"\"", 0},                     {"\"a/b\"", 0},
      {"\"a\\/b\"", SB_JSON_F_ESCAPED}, {"\"\\u0041\"", SB_JSON_F_ESCAPED},
      {"[]", 0},                       {"{\"\\n\":\"\\n\"}", 0},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char *copy;
    sb_json_t *root = must_parse(cases[i].doc, strlen(cases[i].doc), &copy);
    assert_int_equal(root->flags, cases[i].flags);
    free(copy);
  }
  char *copy;
  sb_json_t *root = must_parse(D("{\"\\n\":\"\\n\",\"p\":\"\\t\",\"\\r\":1}"), &copy);
  assert_int_equal(root->child->flags, SB_JSON_F_KEY_ESCAPED | SB_JSON_F_ESCAPED);
  assert_int_equal(root->child->next->flags, SB_JSON_F_ESCAPED);
  assert_int_equal(root->child->next->next->flags,
                   SB_JSON_F_KEY_ESCAPED | SB_JSON_F_INTEGER);
  free(copy);
}

/* Many siblings: order and count survive the node blocks. */
static void test_many_children(void **state)
{
  (void)state;
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_buf_append(&b, "[", 1);
  for (int i = 0; i < 1000; i++) {
    if (i > 0)
      sb_buf_append(&b, ",", 1);
    sb_buf_appendf(&b, "{\"i\":%d}", i);
  }
  sb_buf_append(&b, "]", 1);
  char *copy;
  sb_json_t *root = must_parse(b.data, b.len, &copy);
  assert_int_equal(root->count, 1000);
  int i = 0;
  for (sb_json_t *c = root->child; c != NULL; c = c->next, i++) {
    int64_t v;
    assert_int_equal(c->count, 1);
    assert_int_equal(sb_json_int64(sb_json_get(c, "i"), &v), SB_OK);
    assert_int_equal(v, i);
  }
  assert_int_equal(i, 1000);
  assert_int_equal(sb_json_at(root, 999)->child->raw.len, 3);
  free(copy);
  sb_buf_free(&b);
}

/* A capped arena: "out of memory", never a crash; and a document parses
 * whenever its nodes fit one by one (blocks fall back to single nodes). */
static void test_out_of_memory(void **state)
{
  (void)state;
  static const char doc[] = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]";
  size_t need = 0;
  for (size_t cap = 16; cap < 8192; cap += 16) {
    sb_arena_t a;
    sb_json_t *root = NULL;
    sb_json_error_t err;
    sb_arena_init(&a, 4096, cap);
    sb_status_t rc = sb_json_parse(&a, D(doc), 0, &root, &err);
    if (rc == SB_OK) {
      assert_int_equal(root->count, 20);
      if (need == 0)
        need = cap;
    } else {
      assert_int_equal(need, 0); /* a bigger cap never fails again */
      assert_string_equal(err.message, "out of memory");
      assert_null(root);
    }
    sb_arena_destroy(&a);
  }
  /* 21 nodes of at most 64 bytes each */
  assert_true(need > 0 && need <= 21 * 64);
}

/* ---- duplicate member names (SB_JSON_REJECT_DUPLICATES) ---------------------- */

/* Parse with the flag (exact-size copy): SB_OK, or the error in *err. The
 * same document always parses without the flag. The error's name, if any,
 * is copied into err_name. */
static char err_name[64];

static sb_status_t parse_unique(const char *doc, size_t len,
                                sb_json_error_t *err)
{
  char *c = malloc(len == 0 ? 1 : len);
  sb_json_t *root = NULL;
  assert_non_null(c);
  memcpy(c, doc, len);
  sb_status_t rc = sb_json_parse_flags(&arena, c, len, 0,
                                       SB_JSON_REJECT_DUPLICATES, &root, err);
  assert_int_equal(sb_json_parse(&arena, c, len, 0, &root, NULL), SB_OK);
  /* the name is reported as written: a slice of the input */
  err_name[0] = '\0';
  if (rc != SB_OK && err->name.ptr != NULL) {
    assert_true(err->name.ptr >= c && err->name.ptr + err->name.len <= c + len);
    assert_true(err->name.len < sizeof(err_name));
    memcpy(err_name, err->name.ptr, err->name.len);
    err_name[err->name.len] = '\0';
  }
  free(c);
  return rc;
}

static void test_duplicates(void **state)
{
  (void)state;
  static const doc_t unique[] = {
      {D("{}")}, {D("{\"a\":1}")}, {D("{\"a\":1,\"b\":2}")},
      {D("{\"a\":{\"a\":1}}")},             /* same name, other object */
      {D("[{\"a\":1},{\"a\":2}]")},
      {D("{\"a\":1,\"A\":2}")},             /* case matters */
      {D("{\"ab\":1,\"a\":2,\"abc\":3}")},  /* prefixes */
      {D("{\"\":1,\"x\":2}")},
      {D("{\"\\u0061b\":1,\"a\":2}")},      /* escaped, longer */
      {D("{\"\\u00e9\":1,\"\\u00e8\":2}")}, /* both escaped, differ */
      {D("{\"\\u00e9\":1,\"\xC3\xA8\":2}")},
      {D("{\"a\\u0000\":1,\"a\":2}")},      /* a NUL is a byte like others */
      {D("{\"\\n\":1,\"n\":2,\"\\\\n\":3}")},
      {D("{\"max_tokens\":1,\"max_completion_tokens\":2}")},
  };
  static const struct {
    const char *doc;
    size_t len;
    size_t offset; /* of the second name's quote */
    const char *name;
  } dup[] = {
      {D("{\"a\":1,\"a\":2}"), 7, "a"},
      {D("{\"max_tokens\":1,\"stream\":false,\"max_tokens\":5000}"), 31,
       "max_tokens"},
      {D("{\"max_tokens\":1,\"max\\u005ftokens\":5000}"), 16,
       "max\\u005ftokens"},
      {D("{\"max\\u005Ftokens\":1,\"max_tokens\":5000}"), 21, "max_tokens"},
      {D("{\"\\u0061\":1,\"\\u0061\":2}"), 12, "\\u0061"},
      {D("{\"\\u00e9\":1,\"\xC3\xA9\":2}"), 12, "\xC3\xA9"},
      {D("{\"\\uD83D\\uDE00\":1,\"\xF0\x9F\x98\x80\":2}"), 18,
       "\xF0\x9F\x98\x80"},
      {D("{\"\\/\":1,\"/\":2}"), 8, "/"},
      {D("{\"\":1,\"\":2}"), 6, ""},
      {D("{\"a\\u0000\":1,\"a\\u0000\":2}"), 13, "a\\u0000"},
      /* at any depth */
      {D("{\"stream_options\":{\"include_usage\":true,\"include_usage\":"
         "false}}"),
       40, "include_usage"},
      {D("{\"provider\":{\"order\":[\"a\"],\"order\":[\"b\"]}}"), 27,
       "order"},
      {D("[{\"x\":1},{\"y\":1,\"z\":2,\"y\":3}]"), 22, "y"},
      {D("{\"m\":[{\"role\":\"user\",\"content\":\"a\",\"role\":\"system\"}]}"),
       35, "role"},
      /* the inner object closes first */
      {D("{\"a\":{\"b\":1,\"b\":2},\"a\":3}"), 12, "b"},
      {D("{\"a\" : 1 , \"a\" : 2}"), 11, "a"},
  };
  sb_json_error_t err;
  for (size_t i = 0; i < SB_ARRAY_LEN(unique); i++)
    if (parse_unique(unique[i].doc, unique[i].len, &err) != SB_OK)
      fail_msg("\"%s\" refused: %s", unique[i].doc, err.message);
  for (size_t i = 0; i < SB_ARRAY_LEN(dup); i++) {
    memset(&err, 0, sizeof(err));
    if (parse_unique(dup[i].doc, dup[i].len, &err) == SB_OK)
      fail_msg("\"%s\" accepted", dup[i].doc);
    assert_string_equal(err.message, SB_JSON_DUPLICATE_MESSAGE);
    if (err.offset != dup[i].offset)
      fail_msg("\"%s\": at %zu, expected %zu", dup[i].doc, err.offset,
               dup[i].offset);
    if (err.name.ptr == NULL || strcmp(err_name, dup[i].name) != 0)
      fail_msg("\"%s\": name \"%s\", expected \"%s\"", dup[i].doc,
               err_name, dup[i].name);
  }
  /* other errors carry no name */
  memset(&err, 0, sizeof(err));
  assert_int_equal(parse_unique(D("{\"a\":1,\"a\":2}"), &err), SB_ERROR);
  char *copy = malloc(3);
  memcpy(copy, "{\"a", 3);
  sb_json_t *root;
  assert_int_equal(sb_json_parse_flags(&arena, copy, 3, 0,
                                       SB_JSON_REJECT_DUPLICATES, &root, &err),
                   SB_ERROR);
  assert_null(err.name.ptr);
  free(copy);
}

/* Objects past the pairwise limit go through the hash table: every
 * position of the repeat, and the heap table of a very large object. */
static void test_duplicates_large(void **state)
{
  (void)state;
  static const size_t sizes[] = {17, 40, 255, 256, 257, 600, 5000};
  for (size_t s = 0; s < SB_ARRAY_LEN(sizes); s++) {
    size_t n = sizes[s];
    for (int variant = 0; variant < 5; variant++) {
      sb_buf_t b;
      sb_buf_init(&b, 0);
      sb_buf_append(&b, "{", 1);
      for (size_t i = 0; i < n; i++)
        sb_buf_appendf(&b, "%s\"k%zu\":%zu", i > 0 ? "," : "", i, i);
      size_t at = b.len + 1;
      switch (variant) {
      case 0: /* no repeat */
        at = 0;
        break;
      case 1: /* the first name again, at the end */
        sb_buf_appendf(&b, ",\"k0\":0");
        break;
      case 2: /* the last, escaped */
        sb_buf_appendf(&b, ",\"\\u006b%zu\":0", n - 1);
        break;
      case 3: { /* a middle one, its first digit escaped too */
        char digits[24];
        snprintf(digits, sizeof(digits), "%zu", n / 2);
        sb_buf_appendf(&b, ",\"\\u006B\\u00%02x%s\":0", digits[0],
                       digits + 1);
        break;
      }
      default: /* names that differ only at the end */
        sb_buf_appendf(&b, ",\"k%zux\":0", n - 1);
        at = 0;
      }
      sb_buf_append(&b, "}", 1);
      sb_json_error_t err;
      memset(&err, 0, sizeof(err));
      sb_status_t rc = parse_unique(b.data, b.len, &err);
      if (at == 0 && rc != SB_OK)
        fail_msg("%zu members, variant %d: refused (%s at %zu)", n, variant,
                 err.message, err.offset);
      if (at != 0 && (rc != SB_ERROR || err.offset != at ||
                      strcmp(err.message, SB_JSON_DUPLICATE_MESSAGE) != 0))
        fail_msg("%zu members, variant %d: rc %d, %s at %zu (expected %zu)", n,
                 variant, rc, err.message, err.offset, at);
      sb_buf_free(&b);
      sb_arena_reset(&arena);
    }
  }
}

/* The gateway reads a member whose name is written with escapes as the
 * member it names (so a request cannot hide `max_tokens` from the
 * reservation). */
static void test_escaped_member_lookup(void **state)
{
  (void)state;
  char *copy;
  sb_json_t *root = must_parse(D("{\"max\\u005ftokens\":5000,\"\\u0073tream\":"
                                 "true}"),
                               &copy);
  int64_t v;
  assert_int_equal(sb_json_int64(sb_json_get(root, "max_tokens"), &v), SB_OK);
  assert_int_equal(v, 5000);
  assert_true(sb_json_is(sb_json_get(root, "stream"), SB_JSON_TRUE));
  free(copy);
}

/* ---- accessors ------------------------------------------------------------------ */

static void test_getn(void **state)
{
  (void)state;
  static const char doc[] =
      "{\"model\":1,\"model\":2,\"mod\\u0065l2\":3,\"n\\u0000ul\":4,"
      "\"\\u00e9t\\u00E9\":5,\"\\uD83D\\uDE00\":6,\"\":7,\"a\\\"b\":8,"
      "\"\\\\\":9,\"mode\":10}";
  char *copy;
  sb_json_t *root = must_parse(D(doc), &copy);
  int64_t v;
  static const struct {
    const char *name;
    size_t n;
    int64_t want; /* 0: absent */
  } cases[] = {
      {D("model"), 1},  /* the first of duplicates */
      {D("model2"), 3}, /* escaped name, compared unescaped */
      {D("n\0ul"), 4},  /* a NUL in the name */
      {D("n"), 0},
      {D("n\0"), 0},
      {D("\xC3\xA9t\xC3\xA9"), 5},
      {D("\xF0\x9F\x98\x80"), 6},
      {D(""), 7},
      {D("a\"b"), 8},
      {D("\\"), 9},
      {D("mode"), 10},
      {D("mod"), 0},
      {D("models"), 0},
      {D("model22"), 0},
      {D("mod\\u0065l2"), 0}, /* the escaped text itself does not match */
      {D("\xC3\xA9t\xC3"), 0},
      {D("\xC3\xA9t\xC3\xA9!"), 0},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_json_t *m = sb_json_getn(root, cases[i].name, cases[i].n);
    if (cases[i].want == 0) {
      if (m != NULL)
        fail_msg("case %zu: found a member that should be absent", i);
      continue;
    }
    if (m == NULL)
      fail_msg("case %zu: member not found", i);
    assert_int_equal(sb_json_int64(m, &v), SB_OK);
    assert_int_equal(v, cases[i].want);
  }
  assert_null(sb_json_get(NULL, "model"));
  assert_null(sb_json_get(root->child, "model")); /* not an object */
  free(copy);
  root = must_parse(D("[{\"a\":1}]"), &copy);
  assert_null(sb_json_get(root, "a"));
  free(copy);
}

static void test_at(void **state)
{
  (void)state;
  char *copy;
  sb_json_t *root = must_parse(D("[10,\"x\",[],{}]"), &copy);
  assert_slice_equal(sb_json_at(root, 0)->raw, "10");
  assert_slice_equal(sb_json_at(root, 1)->raw, "\"x\"");
  assert_slice_equal(sb_json_at(root, 2)->raw, "[]");
  assert_slice_equal(sb_json_at(root, 3)->raw, "{}");
  assert_null(sb_json_at(root, 4));
  assert_null(sb_json_at(root, SIZE_MAX));
  assert_null(sb_json_at(NULL, 0));
  assert_null(sb_json_at(sb_json_at(root, 2), 0));
  assert_null(sb_json_at(sb_json_at(root, 3), 0)); /* objects are not arrays */
  free(copy);
}

static void test_str_eq(void **state)
{
  (void)state;
  char *copy;
  sb_json_t *root =
      must_parse(D("[\"plain\",\"e\\u0301\\n\",\"\\u0000\",\"\",1,\"\\uD83D\\uDE00x\"]"),
                 &copy);
  assert_true(SB_JSON_STR_IS(sb_json_at(root, 0), "plain"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 0), "plai"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 0), "plainx"));
  assert_true(SB_JSON_STR_IS(sb_json_at(root, 1), "e\xCC\x81\n"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 1), "e\\u0301\\n"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 1), "e\xCC\x81"));
  assert_true(sb_json_str_eq(sb_json_at(root, 2), "\0", 1));
  assert_false(sb_json_str_eq(sb_json_at(root, 2), "", 0));
  assert_true(sb_json_str_eq(sb_json_at(root, 3), "", 0));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 4), "1")); /* a number */
  assert_true(SB_JSON_STR_IS(sb_json_at(root, 5), "\xF0\x9F\x98\x80x"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 5), "\xF0\x9F\x98\x80"));
  assert_false(SB_JSON_STR_IS(sb_json_at(root, 5), "\xF0\x9F\x98"));
  assert_false(SB_JSON_STR_IS(NULL, "x"));
  free(copy);
}

static void test_string_unescape(void **state)
{
  (void)state;
  static const struct {
    const char *doc;
    const char *want;
    size_t want_len;
  } cases[] = {
      {"\"plain\"", D("plain")},
      {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", D("\"\\/\b\f\n\r\t")},
      {"\"a\\u0000b\"", D("a\0b")},
      {"\"\\u0041\\u00e9\\u0800\\uFFFF\"", D("A\xC3\xA9\xE0\xA0\x80\xEF\xBF\xBF")},
      {"\"\\u007f\\u0080\\u07FF\"", D("\x7F\xC2\x80\xDF\xBF")},
      {"\"\\uD83D\\uDE00\"", D("\xF0\x9F\x98\x80")},
      {"\"\\uD800\\uDC00\\uDBFF\\uDFFF\"", D("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF")},
      {"\"x\\uD83D\\uDE80y\xC3\xA9z\\n\"", D("x\xF0\x9F\x9A\x80y\xC3\xA9z\n")},
      {"\"\\\\u0041\"", D("\\u0041")},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char *copy;
    sb_json_t *root = must_parse(cases[i].doc, strlen(cases[i].doc), &copy);
    sb_slice_t s;
    assert_int_equal(sb_json_string(&arena, root, &s), SB_OK);
    if (s.len != cases[i].want_len || memcmp(s.ptr, cases[i].want, s.len) != 0)
      fail_msg("case %zu: unescaped to %zu bytes \"%.*s\"", i, s.len, (int)s.len,
               s.ptr);
    if ((root->flags & SB_JSON_F_ESCAPED) == 0)
      assert_ptr_equal(s.ptr, copy + 1); /* no copy without escapes */
    assert_true(sb_json_str_eq(root, cases[i].want, cases[i].want_len));
    free(copy);
  }
  /* keys unescape the same way */
  char *copy;
  sb_json_t *root = must_parse(D("{\"k\\u00e9\\n\":1,\"plain\":2}"), &copy);
  sb_slice_t k;
  assert_int_equal(sb_json_key(&arena, root->child, &k), SB_OK);
  assert_slice_equal(k, "k\xC3\xA9\n");
  assert_int_equal(sb_json_key(&arena, root->child->next, &k), SB_OK);
  assert_slice_equal(k, "plain");
  assert_ptr_equal(k.ptr, root->child->next->key.ptr);
  assert_int_equal(sb_json_key(&arena, root, &k), SB_ERROR); /* not a member */
  assert_int_equal(sb_json_string(&arena, root, &k), SB_ERROR);
  assert_int_equal(sb_json_string(&arena, root->child, &k), SB_ERROR);
  assert_int_equal(sb_json_string(&arena, NULL, &k), SB_ERROR);
  free(copy);
  /* an exhausted arena */
  sb_arena_t tiny;
  sb_arena_init(&tiny, 256, 16);
  root = must_parse(D("\"a long string with an escape\\n in it\""), &copy);
  assert_int_equal(sb_json_string(&tiny, root, &k), SB_ERROR);
  sb_arena_destroy(&tiny);
  free(copy);
}

static void test_int64(void **state)
{
  (void)state;
  static const struct {
    const char *doc;
    sb_status_t rc;
    int64_t want;
  } cases[] = {
      {"0", SB_OK, 0},
      {"-0", SB_OK, 0},
      {"42", SB_OK, 42},
      {"-42", SB_OK, -42},
      {"9223372036854775807", SB_OK, INT64_MAX},
      {"-9223372036854775808", SB_OK, INT64_MIN},
      {"9223372036854775808", SB_ERROR, 0},
      {"-9223372036854775809", SB_ERROR, 0},
      {"10000000000000000000", SB_ERROR, 0},
      {"99999999999999999999999", SB_ERROR, 0},
      {"1.0", SB_ERROR, 0},
      {"1e2", SB_ERROR, 0},
      {"\"1\"", SB_ERROR, 0},
      {"true", SB_ERROR, 0},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char *copy;
    sb_json_t *root = must_parse(cases[i].doc, strlen(cases[i].doc), &copy);
    int64_t v = 12345;
    assert_int_equal(sb_json_int64(root, &v), cases[i].rc);
    if (cases[i].rc == SB_OK)
      assert_true(v == cases[i].want);
    else
      assert_true(v == 12345); /* untouched */
    free(copy);
  }
  int64_t v;
  assert_int_equal(sb_json_int64(NULL, &v), SB_ERROR);
}

static void test_double(void **state)
{
  (void)state;
  static const struct {
    const char *doc;
    double want;
  } cases[] = {
      {"0", 0.0},
      {"1.5", 1.5},
      {"-2.25e2", -225.0},
      {"1E-3", 0.001},
      {"0.1", 0.1},
      {"123456789012345678901234567890", 1.2345678901234568e29},
      {"1.7976931348623157e308", DBL_MAX},
      {"5e-324", 4.9406564584124654e-324},
      {"1e999", HUGE_VAL},
      {"-1e999", -HUGE_VAL},
      {"1e-999", 0.0},
      /* longer than the stack copy */
      {"0.1000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000001",
       0.1},
      {"100000000000000000000000000000000000000000000000000000000000000000000"
       "000000000000000000000000000000",
       1e98},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char *copy;
    sb_json_t *root = must_parse(cases[i].doc, strlen(cases[i].doc), &copy);
    double v;
    assert_int_equal(sb_json_double(root, &v), SB_OK);
    if (v != cases[i].want)
      fail_msg("case %zu: %s gave %.17g", i, cases[i].doc, v);
    free(copy);
  }
  char *copy;
  double v;
  sb_json_t *root = must_parse(D("[-0.0,\"1\",null]"), &copy);
  assert_int_equal(sb_json_double(sb_json_at(root, 0), &v), SB_OK);
  assert_true(v == 0 && signbit(v));
  assert_int_equal(sb_json_double(sb_json_at(root, 1), &v), SB_ERROR);
  assert_int_equal(sb_json_double(sb_json_at(root, 2), &v), SB_ERROR);
  assert_int_equal(sb_json_double(NULL, &v), SB_ERROR);
  free(copy);
  /* whatever the process's locale, "." is the decimal point */
  static const char *const comma_locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8",
                                              "de_DE", "ru_RU.UTF-8"};
  for (size_t i = 0; i < SB_ARRAY_LEN(comma_locales); i++) {
    if (setlocale(LC_NUMERIC, comma_locales[i]) == NULL)
      continue;
    root = must_parse(D("2.5"), &copy);
    assert_int_equal(sb_json_double(root, &v), SB_OK);
    assert_true(v == 2.5);
    free(copy);
    sb_buf_t b;
    sb_jw_t w;
    sb_buf_init(&b, 0);
    sb_jw_init(&w, &b);
    sb_jw_double(&w, 2.5);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "2.5", 3);
    sb_buf_free(&b);
    setlocale(LC_NUMERIC, "C");
    break;
  }
}

/* ---- writer --------------------------------------------------------------------- */

static void expect_written(const sb_buf_t *b, const char *want)
{
  if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
    fail_msg("wrote  %.*s\nwanted %s", (int)b->len, b->data ? b->data : "",
             want);
}

/* A document that uses every writer function. */
static void write_everything(sb_jw_t *w)
{
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "s");
  sb_jw_str_lit(w, "a\"b\\c\n\r\t\b\f\x01\x1f/\x7f");
  sb_jw_key(w, SB_STRLIT("k\"ey"));
  sb_jw_str_raw(w, SB_STRLIT("\\u00e9"));
  sb_jw_key_raw(w, SB_STRLIT("raw\\nkey"));
  sb_jw_arr_begin(w);
  sb_jw_int(w, 0);
  sb_jw_int(w, -1);
  sb_jw_int(w, INT64_MAX);
  sb_jw_int(w, INT64_MIN);
  sb_jw_uint(w, UINT64_MAX);
  sb_jw_uint(w, 0);
  sb_jw_double(w, 0.1);
  sb_jw_double(w, 1.0);
  sb_jw_bool(w, true);
  sb_jw_bool(w, false);
  sb_jw_null(w);
  sb_jw_raw(w, SB_STRLIT("{\"x\":[1]}"));
  sb_jw_arr_begin(w);
  sb_jw_arr_end(w);
  sb_jw_obj_begin(w);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_kv_str(w, SB_STRLIT("kv"), SB_STRLIT("v\xC3\xA9"));
  sb_jw_kv_int(w, SB_STRLIT("n"), -42);
  sb_jw_kv_raw(w, SB_STRLIT("r"), SB_STRLIT("[true]"));
  sb_jw_key_lit(w, "empty");
  sb_jw_str(w, NULL, 0);
  sb_jw_obj_end(w);
}

static const char everything[] =
    "{\"s\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\x7f\","
    "\"k\\\"ey\":\"\\u00e9\",\"raw\\nkey\":[0,-1,9223372036854775807,"
    "-9223372036854775808,18446744073709551615,0,0.1,1,true,false,null,"
    "{\"x\":[1]},[],{}],\"kv\":\"v\xC3\xA9\",\"n\":-42,\"r\":[true],"
    "\"empty\":\"\"}";

static void test_writer_all(void **state)
{
  (void)state;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 0);
  sb_jw_init(&w, &b);
  write_everything(&w);
  assert_int_equal(sb_jw_status(&w), SB_OK);
  assert_int_equal(w.depth, 0);
  expect_written(&b, everything);
  /* and it reads back */
  char *copy;
  sb_json_t *root = must_parse(b.data, b.len, &copy);
  assert_true(SB_JSON_STR_IS(sb_json_get(root, "s"),
                             "a\"b\\c\n\r\t\b\f\x01\x1f/\x7f"));
  assert_true(SB_JSON_STR_IS(sb_json_get(root, "k\"ey"), "\xC3\xA9"));
  sb_json_t *arr = sb_json_get(root, "raw\nkey");
  assert_int_equal(arr->count, 14);
  int64_t v;
  assert_int_equal(sb_json_int64(sb_json_at(arr, 3), &v), SB_OK);
  assert_true(v == INT64_MIN);
  assert_true(SB_JSON_STR_IS(sb_json_get(root, "kv"), "v\xC3\xA9"));
  free(copy);
  sb_buf_free(&b);
}

/* Every cap from 0 to the full size: either the whole document, or an
 * error with the buffer holding a prefix of it and no later call writing
 * anything. */
static void test_writer_cap(void **state)
{
  (void)state;
  size_t full = sizeof(everything) - 1;
  for (size_t cap = 1; cap <= full + 1; cap++) {
    sb_buf_t b;
    sb_jw_t w;
    sb_buf_init(&b, cap);
    sb_jw_init(&w, &b);
    write_everything(&w);
    if (cap >= full) {
      assert_int_equal(sb_jw_status(&w), SB_OK);
      expect_written(&b, everything);
    } else {
      assert_int_equal(sb_jw_status(&w), SB_ERROR);
      assert_true(b.len <= cap);
      assert_true(b.len < full);
      assert_memory_equal(b.data, everything, b.len);
      size_t len = b.len;
      sb_jw_null(&w);
      sb_jw_obj_end(&w);
      sb_jw_str_lit(&w, "x");
      assert_int_equal(b.len, len);
      assert_int_equal(sb_jw_status(&w), SB_ERROR);
    }
    sb_buf_free(&b);
  }
  /* sb_json_escape is all or nothing */
  sb_buf_t b;
  sb_buf_init(&b, 8);
  sb_buf_append(&b, "ab", 2);
  assert_int_equal(sb_json_escape(&b, SB_STRLIT("12\n45")), SB_ERROR);
  assert_int_equal(b.len, 2);
  assert_int_equal(sb_json_escape(&b, SB_STRLIT("1234")), SB_OK);
  assert_int_equal(b.len, 8);
  sb_buf_free(&b);
}

static void test_writer_escapes(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    size_t n;
    const char *want;
  } cases[] = {
      {D(""), "\"\""},
      {D("plain text longer than sixteen bytes"),
       "\"plain text longer than sixteen bytes\""},
      {D("\"\\"), "\"\\\"\\\\\""},
      {D("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\""},
      {D("\x00\x01\x0b\x1f"), "\"\\u0000\\u0001\\u000b\\u001f\""},
      {D("\x7f/"), "\"\x7f/\""},
      /* valid UTF-8 passes through, U+2028/2029 included */
      {D("\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80"),
       "\"\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\""},
      /* invalid UTF-8: one U+FFFD per maximal invalid subpart */
      {D("\x80"), "\"\xEF\xBF\xBD\""},
      {D("a\xFF" "b"), "\"a\xEF\xBF\xBD" "b\""},
      {D("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
      {D("\xE2\x82" "a"), "\"\xEF\xBF\xBD" "a\""},
      {D("\xE2\x82"), "\"\xEF\xBF\xBD\""},
      {D("\xF0\x9F\x98"), "\"\xEF\xBF\xBD\""},
      {D("\xF0\x9F\x98\xF0\x9F\x98\x80"), "\"\xEF\xBF\xBD\xF0\x9F\x98\x80\""},
      {D("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
      {D("\xF4\x90\x80\x80"),
       "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
      {D("\xC2\"") , "\"\xEF\xBF\xBD\\\"\""},
      {D("0123456789abcde\xC3\xA9\xC3"), "\"0123456789abcde\xC3\xA9\xEF\xBF\xBD\""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_buf_t b;
    sb_buf_init(&b, 0);
    assert_int_equal(sb_json_escape(&b, cases[i].in, cases[i].n), SB_OK);
    expect_written(&b, cases[i].want);
    expect_ok(b.data, b.len); /* always valid JSON */
    sb_buf_free(&b);
  }
  /* every control byte, and every byte value at every offset around the
   * 16-byte boundaries: the output always parses and round-trips valid
   * input */
  for (int c = 0; c < 256; c++) {
    for (size_t off = 0; off < 36; off += 7) {
      char in[64];
      memset(in, 'x', sizeof(in));
      in[off] = (char)c;
      sb_buf_t b;
      sb_buf_init(&b, 0);
      assert_int_equal(sb_json_escape(&b, in, off + 20), SB_OK);
      char *copy;
      sb_json_t *root = must_parse(b.data, b.len, &copy);
      sb_slice_t s;
      assert_int_equal(sb_json_string(&arena, root, &s), SB_OK);
      if (c < 0x80)
        assert_true(s.len == off + 20 && memcmp(s.ptr, in, s.len) == 0);
      else
        assert_true(s.len == off + 22 && memcmp(s.ptr + off, "\xEF\xBF\xBD", 3) == 0);
      free(copy);
      sb_buf_free(&b);
    }
  }
}

static void test_writer_double(void **state)
{
  (void)state;
  static const struct {
    double v;
    const char *want;
  } cases[] = {
      {0.0, "0"},
      {-0.0, "-0"},
      {1.0, "1"},
      {-3.0, "-3"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {123456.789, "123456.789"},
      {1e15, "1000000000000000"},
      {9007199254740991.0, "9007199254740991"},
      {9007199254740992.0, "9007199254740992"},
      {1e300, "1e+300"},
      {-1.5e-7, "-1.5e-07"},
      {DBL_MAX, "1.7976931348623157e+308"},
      /* the shortest of 15..17 digits, not the shortest overall (5e-324) */
      {4.9406564584124654e-324, "4.94065645841247e-324"},
      {NAN, "null"},
      {INFINITY, "null"},
      {-INFINITY, "null"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_buf_t b;
    sb_jw_t w;
    sb_buf_init(&b, 0);
    sb_jw_init(&w, &b);
    sb_jw_double(&w, cases[i].v);
    assert_int_equal(sb_jw_status(&w), SB_OK);
    expect_written(&b, cases[i].want);
    /* it reads back as the same double */
    if (isfinite(cases[i].v)) {
      char *copy;
      sb_json_t *root = must_parse(b.data, b.len, &copy);
      double back;
      assert_int_equal(sb_json_double(root, &back), SB_OK);
      assert_true(back == cases[i].v && signbit(back) == signbit(cases[i].v));
      free(copy);
    }
    sb_buf_free(&b);
  }
  /* a pseudo-random sweep: always the shortest form that round-trips */
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double v;
    memcpy(&v, &x, sizeof(v));
    if (!isfinite(v))
      continue;
    sb_buf_t b;
    sb_jw_t w;
    sb_buf_init(&b, 0);
    sb_jw_init(&w, &b);
    sb_jw_double(&w, v);
    char *copy;
    sb_json_t *root = must_parse(b.data, b.len, &copy);
    double back;
    assert_int_equal(sb_json_double(root, &back), SB_OK);
    assert_true(back == v);
    free(copy);
    sb_buf_free(&b);
  }
}

static void test_writer_errors(void **state)
{
  (void)state;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 0);

#define EXPECT_ERROR(calls)                                                    \
  do {                                                                         \
    sb_buf_reset(&b);                                                          \
    sb_jw_init(&w, &b);                                                        \
    calls;                                                                     \
    if (sb_jw_status(&w) != SB_ERROR)                                          \
      fail_msg("no error for: %s", #calls);                                    \
  } while (0)

  /* a value in an object without a key */
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_int(&w, 1));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_str_lit(&w, "v"));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_arr_begin(&w));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_kv_int(&w, SB_STRLIT("a"), 1);
               sb_jw_null(&w));
  /* keys outside objects, two keys in a row, a key with no value */
  EXPECT_ERROR(sb_jw_key_lit(&w, "k"));
  EXPECT_ERROR(sb_jw_arr_begin(&w); sb_jw_key_lit(&w, "k"));
  EXPECT_ERROR(sb_jw_arr_begin(&w); sb_jw_key_raw(&w, SB_STRLIT("k")));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_key_lit(&w, "a");
               sb_jw_key_lit(&w, "b"));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_key_lit(&w, "a"); sb_jw_obj_end(&w));
  /* mismatched and extra closes */
  EXPECT_ERROR(sb_jw_obj_end(&w));
  EXPECT_ERROR(sb_jw_arr_end(&w));
  EXPECT_ERROR(sb_jw_obj_begin(&w); sb_jw_arr_end(&w));
  EXPECT_ERROR(sb_jw_arr_begin(&w); sb_jw_obj_end(&w));
  EXPECT_ERROR(sb_jw_arr_begin(&w); sb_jw_arr_end(&w); sb_jw_arr_end(&w));

  /* depth: SB_JW_MAX_DEPTH levels are fine, one more is not */
  sb_buf_reset(&b);
  sb_jw_init(&w, &b);
  for (int i = 0; i < SB_JW_MAX_DEPTH; i++) {
    if (i % 2 == 0) {
      sb_jw_arr_begin(&w);
    } else {
      sb_jw_obj_begin(&w);
      sb_jw_key_lit(&w, "k");
    }
  }
  assert_int_equal(sb_jw_status(&w), SB_OK);
  sb_jw_null(&w);
  for (int i = SB_JW_MAX_DEPTH - 1; i >= 0; i--) {
    if (i % 2 == 0)
      sb_jw_arr_end(&w);
    else
      sb_jw_obj_end(&w);
  }
  assert_int_equal(sb_jw_status(&w), SB_OK);
  char *copy;
  must_parse(b.data, b.len, &copy);
  free(copy);
  size_t len;
  sb_buf_reset(&b);
  sb_jw_init(&w, &b);
  for (int i = 0; i < SB_JW_MAX_DEPTH; i++)
    sb_jw_arr_begin(&w);
  assert_int_equal(sb_jw_status(&w), SB_OK);
  len = b.len;
  sb_jw_arr_begin(&w);
  assert_int_equal(sb_jw_status(&w), SB_ERROR);
  assert_int_equal(b.len, len);
  sb_jw_arr_end(&w); /* sticky: nothing more is written */
  assert_int_equal(b.len, len);
#undef EXPECT_ERROR
  sb_buf_free(&b);
}

/* Scalars at top level and separators in nested arrays. */
static void test_writer_shapes(void **state)
{
  (void)state;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 0);
  sb_jw_init(&w, &b);
  sb_jw_str_lit(&w, "top");
  assert_int_equal(sb_jw_status(&w), SB_OK);
  expect_written(&b, "\"top\"");
  sb_buf_reset(&b);
  sb_jw_init(&w, &b);
  sb_jw_arr_begin(&w);
  sb_jw_arr_begin(&w);
  sb_jw_int(&w, 1);
  sb_jw_int(&w, 2);
  sb_jw_arr_end(&w);
  sb_jw_arr_begin(&w);
  sb_jw_arr_end(&w);
  sb_jw_obj_begin(&w);
  sb_jw_kv_int(&w, SB_STRLIT("a"), 1);
  sb_jw_kv_int(&w, SB_STRLIT("b"), 2);
  sb_jw_obj_end(&w);
  sb_jw_int(&w, 3);
  sb_jw_arr_end(&w);
  assert_int_equal(sb_jw_status(&w), SB_OK);
  expect_written(&b, "[[1,2],[],{\"a\":1,\"b\":2},3]");
  /* copying parsed values */
  char *copy;
  sb_json_t *root = must_parse(D(" { \"x\" : [ 1 , 2 ] } "), &copy);
  sb_buf_reset(&b);
  sb_jw_init(&w, &b);
  sb_jw_arr_begin(&w);
  sb_jw_value(&w, root);
  sb_jw_value(&w, root->child);
  sb_jw_str_slice(&w, root->child->key);
  sb_jw_arr_end(&w);
  expect_written(&b, "[{ \"x\" : [ 1 , 2 ] },[ 1 , 2 ],\"x\"]");
  free(copy);
  sb_buf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_checked_walk),
      cmocka_unit_test(test_null_input),
      cmocka_unit_test(test_control_chars),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_prefixes),
      cmocka_unit_test(test_simd_boundaries),
      cmocka_unit_test(test_whitespace_runs),
      cmocka_unit_test(test_dom_shape),
      cmocka_unit_test(test_flags),
      cmocka_unit_test(test_many_children),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_duplicates_large),
      cmocka_unit_test(test_escaped_member_lookup),
      cmocka_unit_test(test_getn),
      cmocka_unit_test(test_at),
      cmocka_unit_test(test_str_eq),
      cmocka_unit_test(test_string_unescape),
      cmocka_unit_test(test_int64),
      cmocka_unit_test(test_double),
      cmocka_unit_test(test_writer_all),
      cmocka_unit_test(test_writer_cap),
      cmocka_unit_test(test_writer_escapes),
      cmocka_unit_test(test_writer_double),
      cmocka_unit_test(test_writer_errors),
      cmocka_unit_test(test_writer_shapes),
  };
  return cmocka_run_group_tests_name("json", tests, setup, teardown);
}
