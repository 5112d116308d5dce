/* SPDX-License-Identifier: MIT */
/*
 * Differential test: our parser against jansson (the oracle, a test-only
 * dependency) on generated documents.
 *
 * A seeded generator (no time-based seed: a failure reproduces) writes
 * valid JSON of every shape: nesting near the depth limit, strings with raw
 * and escaped Unicode (astral characters as 4-byte UTF-8 and as surrogate
 * pairs), strings long enough to cross 16-byte boundaries, every number
 * form, random whitespace. Each valid document is then mutated (bit flips,
 * truncation, inserted quotes, backslashes, non-ASCII and control bytes,
 * deletions, duplicated spans) to produce documents that are mostly
 * invalid in interesting places.
 *
 * For each document both parsers must accept or both reject; when both
 * accept, the trees must be equal: types, object members in order,
 * unescaped strings byte for byte, numbers as integers or as doubles read
 * from the text. Our DOM is also written back through the writer and must
 * read back as the same tree, and sb_json_validate must agree with
 * sb_json_parse. Any disagreement fails with the document hex-dumped.
 *
 * Known differences with jansson, each accounted for narrowly below:
 * 1. jansson refuses \u0000 in strings unless JSON_ALLOW_NUL: we pass it.
 * 2. jansson refuses top-level scalars unless JSON_DECODE_ANY: we pass it.
 * 3. jansson refuses integers that do not fit json_int_t ("too big
 *    integer") and reals that overflow a double ("real number overflow"),
 *    both reported as json_error_numeric_overflow; RFC 8259 allows them and
 *    so do we. jansson stops there, so such a document is not compared.
 * 4. jansson refuses NUL bytes in member names (\u0000 in a key,
 *    json_error_null_byte_in_key); we accept them. Not compared.
 * 5. Depth: jansson counts every value, scalars included, against
 *    JSON_PARSER_MAX_DEPTH (2048); we count containers only. We parse with
 *    max_depth 2048, so we reject exactly when some container is deeper
 *    than 2048 (jansson rejects that too), and jansson alone rejects when a
 *    scalar (or empty container) sits at value depth 2049: checked on our
 *    tree when jansson says json_error_stack_overflow and we accept.
 * 6. Duplicate member names: we keep every member (sb_json_get finds the
 *    first); jansson keeps one, at the first one's position, with the last
 *    one's value. Our members are folded the same way before comparing.
 *    With SB_JSON_REJECT_DUPLICATES we must refuse exactly the documents
 *    that jansson refuses with JSON_REJECT_DUPLICATES (both compare names
 *    unescaped), among those both parsers accept otherwise.
 * 7. jansson 2.14 swallows a raw NUL byte that directly follows a number
 *    or a literal ("false\0", "[12\0,3]" and "12\0 " load; "[1]\0" and
 *    "\"s\"\0" do not): its lexer reads one byte past such a token and a
 *    NUL there looks like the end of its internal buffer. We reject the
 *    NUL. When jansson accepts and our error is at such a NUL, the document
 *    without that byte (and any further such NULs) must parse for us into
 *    jansson's tree.
 */
#include "test_helpers.h"

#include <jansson.h>
#include <math.h>

#include "switchboard/json.h"

#define JANSSON_DEPTH 2048 /* JSON_PARSER_MAX_DEPTH in jansson's load.c */
#define VALID_DOCS 10000
#define MUTATIONS_PER_DOC 2

/* ---- deterministic randomness ----------------------------------------------- */

static uint64_t rng = 0x5EED5EED12345678ull;

static uint64_t next64(void)
{
  /* splitmix64 */
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
  return n == 0 ? 0 : (uint32_t)(next64() % n);
}

static bool chance(uint32_t percent)
{
  return rnd(100) < percent;
}

/* ---- the generator --------------------------------------------------------------- */

/* A "wild" document may contain what jansson refuses although it is valid
 * JSON (overflowing numbers, NUL bytes in member names): such documents
 * are not compared, so they are kept to a few percent. */
static bool wild;

static void put(sb_buf_t *b, const void *p, size_t n)
{
  if (sb_buf_append(b, p, n) != SB_OK)
    fail_msg("out of memory");
}

static void putc1(sb_buf_t *b, char c)
{
  put(b, &c, 1);
}

static void ws(sb_buf_t *b)
{
  static const char kinds[] = " \t\r\n";
  if (!chance(25))
    return;
  uint32_t n = chance(90) ? 1 + rnd(3) : 1 + rnd(40);
  for (uint32_t i = 0; i < n; i++)
    putc1(b, kinds[rnd(4)]);
}

static void put_utf8(sb_buf_t *b, uint32_t cp)
{
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | cp >> 12);
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  put(b, u, n);
}

static void put_u_escape(sb_buf_t *b, uint32_t unit)
{
  static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
  const char *h = chance(50) ? lower : upper;
  char e[6] = {'\\', 'u', h[unit >> 12], h[(unit >> 8) & 15], h[(unit >> 4) & 15],
               h[unit & 15]};
  put(b, e, 6);
}

/* A code point that is not a surrogate, biased to the UTF-8 length
 * boundaries. */
static uint32_t code_point(void)
{
  static const uint32_t edges[] = {0x00,   0x01,   0x1F,    0x20,    0x7F,
                                   0x80,   0x7FF,  0x800,   0xD7FF,  0xE000,
                                   0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
  switch (rnd(6)) {
  case 0:
    return edges[rnd((uint32_t)SB_ARRAY_LEN(edges))];
  case 1:
    return 0x80 + rnd(0x800 - 0x80);
  case 2: {
    uint32_t cp = 0x800 + rnd(0x10000 - 0x800);
    return cp >= 0xD800 && cp <= 0xDFFF ? cp + 0x800 : cp;
  }
  case 3:
    return 0x10000 + rnd(0x110000 - 0x10000);
  default:
    return 0x20 + rnd(0x5F);
  }
}

static void gen_string_body(sb_buf_t *b, bool key)
{
  uint32_t len;
  switch (rnd(10)) {
  case 0:
    len = 0;
    break;
  case 1:
  case 2:
    len = 14 + rnd(6); /* around one vector */
    break;
  case 3:
    len = 28 + rnd(40);
    break;
  case 4:
    len = key ? 30 : 200 + rnd(2000);
    break;
  default:
    len = 1 + rnd(12);
  }
  uint32_t ascii_run = chance(50) ? 100 : 5; /* mostly prose, or mixed */
  for (uint32_t i = 0; i < len; i++) {
    uint32_t r = rnd(100);
    if (r < 100 - 100 / (ascii_run + 1) - 8) {
      char c = (char)(0x20 + rnd(0x5F));
      if (c == '"' || c == '\\')
        c = 'q';
      putc1(b, c);
    } else if (r < 100 - 8) {
      uint32_t cp = code_point();
      if (key && cp == 0 && !wild)
        cp = 1; /* difference 4 */
      if (cp < 0x20 || cp == '"' || cp == '\\')
        put_u_escape(b, cp);
      else
        put_utf8(b, cp);
    } else {
      static const char *const short_esc[] = {"\\\"", "\\\\", "\\/", "\\b",
                                              "\\f",  "\\n",  "\\r", "\\t"};
      switch (rnd(4)) {
      case 0:
        put(b, short_esc[rnd(8)], 2);
        break;
      case 1: {
        uint32_t cp = code_point();
        if (key && cp == 0 && !wild)
          cp = 1; /* difference 4 */
        if (cp >= 0x10000) {
          put_u_escape(b, 0xD800 + ((cp - 0x10000) >> 10));
          put_u_escape(b, 0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
          put_u_escape(b, cp);
        }
        break;
      }
      case 2: {
        uint32_t c = rnd(0x20); /* control characters, \u0000 too */
        put_u_escape(b, key && c == 0 && !wild ? 0x1F : c);
        break;
      }
      default:
        put_u_escape(b, 0xD800 + rnd(0x400));
        put_u_escape(b, 0xDC00 + rnd(0x400));
      }
    }
  }
}

static void gen_string(sb_buf_t *b, bool key)
{
  putc1(b, '"');
  gen_string_body(b, key);
  putc1(b, '"');
}

static void digits(sb_buf_t *b, uint32_t n, bool nonzero_first)
{
  for (uint32_t i = 0; i < n; i++)
    putc1(b, (char)((i == 0 && nonzero_first ? '1' + rnd(9) : '0' + rnd(10))));
}

static void gen_number(sb_buf_t *b)
{
  static const char *const fixed[] = {
      "0", "-0", "0.0", "-0.0", "1", "-1", "9223372036854775807",
      "-9223372036854775808", "1e308", "1.7976931348623157e308",
      "2.2250738585072014e-308", "4.9e-324", "1e-400", "0.1", "1E+2",
      "1e-2", "1.5e+0300", "123456789012345678.5",
  };
  /* what jansson cannot load (difference 3), in "wild" documents only */
  static const char *const overflow[] = {
      "9223372036854775808", "-9223372036854775809", "18446744073709551615",
      "123456789012345678901234567890", "1e309", "-1e400",
  };
  if (wild && chance(10)) {
    const char *f = overflow[rnd((uint32_t)SB_ARRAY_LEN(overflow))];
    put(b, f, strlen(f));
    return;
  }
  if (chance(15)) {
    const char *f = fixed[rnd((uint32_t)SB_ARRAY_LEN(fixed))];
    put(b, f, strlen(f));
    return;
  }
  if (chance(30))
    putc1(b, '-');
  if (chance(15))
    putc1(b, '0');
  else
    digits(b, 1 + (chance(90) ? rnd(8) : rnd(18)), true); /* fits int64 */
  if (chance(40)) {
    putc1(b, '.');
    digits(b, 1 + (chance(90) ? rnd(6) : rnd(80)), false);
  }
  if (chance(25)) {
    putc1(b, chance(50) ? 'e' : 'E');
    uint32_t s = rnd(3);
    if (s == 1)
      putc1(b, '+');
    else if (s == 2)
      putc1(b, '-');
    digits(b, 1 + rnd(2), false); /* |exponent| < 100: no overflow */
  }
}

static void gen_value(sb_buf_t *b, uint32_t depth, uint32_t max_depth);

static void gen_container(sb_buf_t *b, bool object, uint32_t depth,
                          uint32_t max_depth)
{
  uint32_t n = chance(15) ? 0 : chance(80) ? 1 + rnd(5) : 1 + rnd(30);
  putc1(b, object ? '{' : '[');
  ws(b);
  for (uint32_t i = 0; i < n; i++) {
    if (i > 0) {
      putc1(b, ',');
      ws(b);
    }
    if (object) {
      gen_string(b, true);
      ws(b);
      putc1(b, ':');
      ws(b);
    }
    gen_value(b, depth + 1, max_depth);
    ws(b);
  }
  putc1(b, object ? '}' : ']');
}

static void gen_value(sb_buf_t *b, uint32_t depth, uint32_t max_depth)
{
  uint32_t r = rnd(100);
  if (depth < max_depth && r < (depth < 2 ? 60u : 30u)) {
    gen_container(b, chance(50), depth, max_depth);
    return;
  }
  r = rnd(100);
  if (r < 40)
    gen_string(b, false);
  else if (r < 75)
    gen_number(b);
  else if (r < 85)
    put(b, "true", 4);
  else if (r < 93)
    put(b, "false", 5);
  else
    put(b, "null", 4);
}

/* Objects with repeated member names, which the generator above makes
 * only by chance. */
static void gen_duplicates(sb_buf_t *b)
{
  /* a few members from five names, or (past the parser's pairwise limit)
   * 17 to 56 members from about n²/2 names, so that about a third of
   * them have no repeat */
  bool large = chance(30);
  uint32_t n = large ? 17 + rnd(40) : 2 + rnd(5);
  uint32_t pool = n * n / 2;
  putc1(b, '{');
  for (uint32_t i = 0; i < n; i++) {
    static const char *const names[] = {"\"a\"", "\"b\"", "\"\\u0061\"",
                                        "\"model\"", "\"mod\\u0065l\""};
    if (i > 0)
      putc1(b, ',');
    if (large) {
      char k[32];
      int kn = snprintf(k, sizeof(k), chance(20) ? "\"\\u006b%u\"" : "\"k%u\"",
                        rnd(pool));
      put(b, k, (size_t)kn);
    } else {
      const char *k = names[rnd((uint32_t)SB_ARRAY_LEN(names))];
      put(b, k, strlen(k));
    }
    putc1(b, ':');
    gen_value(b, 1, 3);
  }
  putc1(b, '}');
}

/* A chain of `depth` containers around a scalar or an empty container. */
static void gen_deep(sb_buf_t *b, uint32_t depth)
{
  sb_buf_t closers;
  sb_buf_init(&closers, 0);
  for (uint32_t i = 0; i < depth; i++) {
    if (chance(50)) {
      put(b, "{\"k\":", 5);
      putc1(&closers, '}');
    } else {
      putc1(b, '[');
      if (chance(10)) {
        put(b, "0,", 2);
      }
      putc1(&closers, ']');
    }
  }
  switch (rnd(3)) {
  case 0:
    put(b, "1", 1);
    break;
  case 1:
    put(b, "[]", 2);
    break;
  default:
    put(b, "\"s\"", 3);
  }
  for (size_t i = closers.len; i > 0; i--)
    putc1(b, closers.data[i - 1]);
  sb_buf_free(&closers);
}

static void gen_document(sb_buf_t *b)
{
  wild = chance(4);
  ws(b);
  uint32_t r = rnd(100);
  if (r < 2)
    gen_deep(b, 2040 + rnd(12)); /* around jansson's limit */
  else if (r < 4)
    gen_deep(b, 100 + rnd(60)); /* around our default */
  else if (r < 8)
    gen_duplicates(b);
  else if (r < 18)
    gen_value(b, 0, 0); /* a scalar */
  else
    gen_value(b, 0, r < 30 ? 12 : 5);
  ws(b);
}

/* ---- mutations ------------------------------------------------------------------- */

static void mutate(const sb_buf_t *in, sb_buf_t *out)
{
  sb_buf_reset(out);
  put(out, in->data, in->len);
  uint32_t ops = 1 + rnd(3);
  for (uint32_t k = 0; k < ops; k++) {
    size_t len = out->len;
    size_t at = len == 0 ? 0 : (size_t)(next64() % (len + 1));
    char ins[4];
    size_t nins = 1;
    switch (rnd(10)) {
    case 0: /* flip a bit */
      if (len > 0) {
        at = at == len ? len - 1 : at;
        out->data[at] ^= (char)(1u << rnd(8));
      }
      continue;
    case 1: /* truncate */
      out->len = at;
      continue;
    case 2: /* delete a byte */
      if (at < len) {
        memmove(out->data + at, out->data + at + 1, len - at - 1);
        out->len--;
      }
      continue;
    case 3:
      ins[0] = '"';
      break;
    case 4:
      ins[0] = '\\';
      break;
    case 5:
      ins[0] = (char)(0x80 + rnd(0x80));
      break;
    case 6:
      ins[0] = (char)rnd(0x20);
      break;
    case 7: {
      static const char tokens[] = ",:[]{}0-.eE tfnu";
      ins[0] = tokens[rnd((uint32_t)sizeof(tokens) - 1)];
      break;
    }
    case 8: {
      /* a 2- to 4-byte sequence whose bytes are each plausible: valid, or
       * overlong, a surrogate, past U+10FFFF, truncated */
      static const uint8_t leads[] = {0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                      0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                                      0xF3, 0xF4, 0xF5, 0xF7, 0xF8};
      static const uint8_t conts[] = {0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                      0xA0, 0xBF, 0xC0};
      ins[0] = (char)leads[rnd((uint32_t)sizeof(leads))];
      nins = 2 + rnd(3);
      for (size_t i = 1; i < nins; i++)
        ins[i] = (char)(chance(70) ? 0x80 + rnd(0x40)
                                   : conts[rnd((uint32_t)sizeof(conts))]);
      break;
    }
    default:
      ins[0] = (char)rnd(256);
    }
    if (sb_buf_reserve(out, nins) != SB_OK)
      fail_msg("out of memory");
    memmove(out->data + at + nins, out->data + at, len - at);
    memcpy(out->data + at, ins, nins);
    out->len += nins;
  }
}

/* ---- comparing --------------------------------------------------------------------- */

static const char *current_doc;
static size_t current_len;

static void hexdump_doc(void)
{
  size_t n = current_len > 65536 ? 65536 : current_len;
  fprintf(stderr, "document (%zu bytes%s):\n", current_len,
          n < current_len ? ", first 64 KiB" : "");
  for (size_t i = 0; i < n; i += 16) {
    fprintf(stderr, "%08zx ", i);
    for (size_t j = i; j < i + 16; j++) {
      if (j < n)
        fprintf(stderr, " %02x", (unsigned char)current_doc[j]);
      else
        fprintf(stderr, "   ");
    }
    fprintf(stderr, "  |");
    for (size_t j = i; j < i + 16 && j < n; j++) {
      unsigned char c = (unsigned char)current_doc[j];
      fputc(c >= 0x20 && c < 0x7F ? c : '.', stderr);
    }
    fprintf(stderr, "|\n");
  }
}

#define DISAGREE(...)                                                          \
  do {                                                                         \
    hexdump_doc();                                                             \
    fail_msg(__VA_ARGS__);                                                     \
  } while (0)

static sb_arena_t arena;

static void compare(const sb_json_t *v, const json_t *j, const char *where);

static void compare_number(const sb_json_t *v, const json_t *j,
                           const char *where)
{
  if (v->flags & SB_JSON_F_INTEGER) {
    int64_t x;
    if (!json_is_integer(j))
      DISAGREE("%s: integer %.*s, jansson has a real", where, (int)v->raw.len,
               v->raw.ptr);
    if (sb_json_int64(v, &x) != SB_OK || x != (int64_t)json_integer_value(j))
      DISAGREE("%s: integer %.*s, jansson says %lld", where, (int)v->raw.len,
               v->raw.ptr, (long long)json_integer_value(j));
    return;
  }
  double x, y = json_real_value(j);
  if (!json_is_real(j))
    DISAGREE("%s: real %.*s, jansson has an integer", where, (int)v->raw.len,
             v->raw.ptr);
  if (sb_json_double(v, &x) != SB_OK ||
      memcmp(&x, &y, sizeof(x)) != 0) /* bit for bit: -0 and 0 differ */
    DISAGREE("%s: real %.*s read as %.17g, jansson says %.17g", where,
             (int)v->raw.len, v->raw.ptr, x, y);
}

static void compare_object(const sb_json_t *v, const json_t *j,
                           const char *where)
{
  /* Fold our members the way jansson does (difference 6): unique names in
   * order of first appearance, each with its last value. */
  size_t unique = 0;
  for (const sb_json_t *m = v->child; m != NULL; m = m->next) {
    sb_slice_t k;
    if (sb_json_key(&arena, m, &k) != SB_OK)
      DISAGREE("%s: sb_json_key failed", where);
    /* is it the first with this name? */
    const sb_json_t *first = v->child;
    for (; first != m; first = first->next) {
      sb_slice_t fk;
      sb_json_key(&arena, first, &fk);
      if (sb_slice_eq(fk, k))
        break;
    }
    if (first != m)
      continue;
    unique++;
    /* sb_json_getn finds the first; jansson keeps the last value */
    if (sb_json_getn(v, k.ptr, k.len) != m)
      DISAGREE("%s: sb_json_getn does not find the first member \"%.*s\"",
               where, (int)k.len, k.ptr);
    const sb_json_t *last = m;
    for (const sb_json_t *o = m->next; o != NULL; o = o->next) {
      sb_slice_t ok;
      sb_json_key(&arena, o, &ok);
      if (sb_slice_eq(ok, k))
        last = o;
    }
    /* jansson's member at the same position */
    void *it = json_object_iter((json_t *)j);
    for (size_t i = 1; i < unique && it != NULL; i++)
      it = json_object_iter_next((json_t *)j, it);
    if (it == NULL)
      DISAGREE("%s: jansson has fewer members", where);
    if (json_object_iter_key_len(it) != k.len ||
        memcmp(json_object_iter_key(it), k.ptr, k.len) != 0)
      DISAGREE("%s: member %zu is \"%.*s\", jansson has \"%s\"", where, unique,
               (int)k.len, k.ptr, json_object_iter_key(it));
    compare(last, json_object_iter_value(it), where);
  }
  if (json_object_size(j) != unique)
    DISAGREE("%s: %zu members, jansson has %zu", where, unique,
             json_object_size(j));
}

static void compare(const sb_json_t *v, const json_t *j, const char *where)
{
  switch (v->type) {
  case SB_JSON_NULL:
    if (!json_is_null(j))
      DISAGREE("%s: null vs jansson type %d", where, json_typeof(j));
    return;
  case SB_JSON_TRUE:
    if (!json_is_true(j))
      DISAGREE("%s: true vs jansson type %d", where, json_typeof(j));
    return;
  case SB_JSON_FALSE:
    if (!json_is_false(j))
      DISAGREE("%s: false vs jansson type %d", where, json_typeof(j));
    return;
  case SB_JSON_NUMBER:
    if (!json_is_number(j))
      DISAGREE("%s: number vs jansson type %d", where, json_typeof(j));
    compare_number(v, j, where);
    return;
  case SB_JSON_STRING: {
    sb_slice_t s;
    if (!json_is_string(j))
      DISAGREE("%s: string vs jansson type %d", where, json_typeof(j));
    if (sb_json_string(&arena, v, &s) != SB_OK)
      DISAGREE("%s: sb_json_string failed", where);
    if (s.len != json_string_length(j) ||
        memcmp(s.ptr, json_string_value(j), s.len) != 0)
      DISAGREE("%s: string \"%.*s\" vs jansson \"%s\"", where, (int)s.len,
               s.ptr, json_string_value(j));
    if (!sb_json_str_eq(v, s.ptr, s.len))
      DISAGREE("%s: sb_json_str_eq disagrees with sb_json_string", where);
    return;
  }
  case SB_JSON_ARRAY: {
    if (!json_is_array(j))
      DISAGREE("%s: array vs jansson type %d", where, json_typeof(j));
    if (v->count != json_array_size(j))
      DISAGREE("%s: %u elements, jansson has %zu", where, v->count,
               json_array_size(j));
    size_t i = 0;
    for (const sb_json_t *c = v->child; c != NULL; c = c->next, i++)
      compare(c, json_array_get(j, i), where);
    if (i != v->count)
      DISAGREE("%s: count %u but %zu children", where, v->count, i);
    return;
  }
  case SB_JSON_OBJECT: {
    if (!json_is_object(j))
      DISAGREE("%s: object vs jansson type %d", where, json_typeof(j));
    size_t n = 0;
    for (const sb_json_t *c = v->child; c != NULL; c = c->next)
      n++;
    if (n != v->count)
      DISAGREE("%s: count %u but %zu members", where, v->count, n);
    compare_object(v, j, where);
    return;
  }
  default:
    DISAGREE("%s: bad node type %d", where, v->type);
  }
}

/* Depth as jansson counts it: every value, the root being 1. */
static size_t value_depth(const sb_json_t *v)
{
  size_t d = 0;
  for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
    size_t cd = value_depth(c);
    if (cd > d)
      d = cd;
  }
  return d + 1;
}

/* Nesting of containers only (what the writer's depth limit counts). */
static size_t container_depth(const sb_json_t *v)
{
  size_t d = 0;
  if (v->type != SB_JSON_ARRAY && v->type != SB_JSON_OBJECT)
    return 0;
  for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
    size_t cd = container_depth(c);
    if (cd > d)
      d = cd;
  }
  return d + 1;
}

/* Write our tree back through the writer: keys and strings unescaped and
 * escaped again, numbers raw. */
static void rewrite(sb_jw_t *w, const sb_json_t *v)
{
  sb_slice_t s;
  switch (v->type) {
  case SB_JSON_OBJECT:
  case SB_JSON_ARRAY:
    if (v->type == SB_JSON_OBJECT)
      sb_jw_obj_begin(w);
    else
      sb_jw_arr_begin(w);
    for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
      if (v->type == SB_JSON_OBJECT) {
        if (sb_json_key(&arena, c, &s) != SB_OK)
          fail_msg("sb_json_key failed");
        sb_jw_key(w, s.ptr, s.len);
      }
      rewrite(w, c);
    }
    if (v->type == SB_JSON_OBJECT)
      sb_jw_obj_end(w);
    else
      sb_jw_arr_end(w);
    return;
  case SB_JSON_STRING:
    if (sb_json_string(&arena, v, &s) != SB_OK)
      fail_msg("sb_json_string failed");
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

typedef struct {
  size_t compared, accepted, rejected, skipped_overflow, skipped_nul_key,
      depth_only_jansson, nul_after_scalar, rewritten, duplicates;
} stats_t;

/* Both accept `doc` as it is: with the duplicate check on, both must still
 * accept it, or both refuse it for a repeated name (difference 6). */
static void check_duplicates(const char *doc, size_t len, stats_t *st)
{
  sb_json_t *root = NULL;
  sb_json_error_t err;
  json_error_t jerr;
  sb_status_t ours = sb_json_parse_flags(&arena, doc, len, JANSSON_DEPTH,
                                         SB_JSON_REJECT_DUPLICATES, &root, &err);
  json_t *j = json_loadb(doc, len,
                         JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
                         &jerr);
  if (j != NULL) {
    json_decref(j);
    if (ours != SB_OK)
      DISAGREE("jansson finds no repeated name; we refuse: %s at %zu",
               err.message, err.offset);
    return;
  }
  if (json_error_code(&jerr) != json_error_duplicate_key)
    DISAGREE("jansson with JSON_REJECT_DUPLICATES: %s", jerr.text);
  if (ours == SB_OK)
    DISAGREE("jansson refuses a repeated name (%s); we accept", jerr.text);
  if (strcmp(err.message, SB_JSON_DUPLICATE_MESSAGE) != 0 || err.name.ptr == NULL)
    DISAGREE("a repeated name refused as: %s", err.message);
  st->duplicates++;
}

static void check_one(const char *doc, size_t len, stats_t *st)
{
  /* an exact-size copy, so that ASan sees any read past the end */
  char *copy = malloc(len == 0 ? 1 : len);
  if (copy == NULL)
    fail_msg("out of memory");
  if (len > 0)
    memcpy(copy, doc, len);
  current_doc = copy;
  current_len = len;

  sb_arena_reset(&arena);
  sb_json_t *root = NULL;
  sb_json_error_t err = {0, NULL, SB_NULL_SLICE}, verr = {0, NULL, SB_NULL_SLICE};
  sb_status_t ours = sb_json_parse(&arena, copy, len, JANSSON_DEPTH, &root, &err);
  sb_status_t vrc = sb_json_validate(copy, len, JANSSON_DEPTH, &verr);
  if (ours != vrc)
    DISAGREE("sb_json_parse says %d, sb_json_validate says %d", ours, vrc);
  if (ours != SB_OK && (err.offset != verr.offset ||
                        strcmp(err.message, verr.message) != 0))
    DISAGREE("parse: %s at %zu; validate: %s at %zu", err.message, err.offset,
             verr.message, verr.offset);
  if (ours != SB_OK && strcmp(err.message, "out of memory") == 0)
    DISAGREE("out of memory with an uncapped arena");

  json_error_t jerr;
  json_t *j = json_loadb(copy, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  st->compared++;
  if (j == NULL) {
    enum json_error_code code = json_error_code(&jerr);
    if (code == json_error_numeric_overflow) { /* difference 3 */
      st->skipped_overflow++;
      goto out;
    }
    if (code == json_error_null_byte_in_key) { /* difference 4 */
      st->skipped_nul_key++;
      goto out;
    }
    if (ours == SB_OK && code == json_error_stack_overflow) { /* 5 */
      if (value_depth(root) <= JANSSON_DEPTH)
        DISAGREE("jansson: %s, but our tree is only %zu values deep",
                 jerr.text, value_depth(root));
      st->depth_only_jansson++;
      goto out;
    }
    if (ours == SB_OK)
      DISAGREE("we accept; jansson rejects: %s (line %d col %d)", jerr.text,
               jerr.line, jerr.column);
    st->rejected++;
    goto out;
  }
  if (ours != SB_OK) { /* difference 7 */
    size_t n = len, removed = 0;
    while (ours != SB_OK && err.offset > 0 && err.offset < n &&
           copy[err.offset] == '\0' &&
           memchr("0123456789el", copy[err.offset - 1], 12) != NULL) {
      memmove(copy + err.offset, copy + err.offset + 1, n - err.offset - 1);
      n--;
      removed++;
      ours = sb_json_parse(&arena, copy, n, JANSSON_DEPTH, &root, &err);
    }
    if (removed > 0 && ours == SB_OK) {
      compare(root, j, "without the NULs");
      st->nul_after_scalar++;
      json_decref(j);
      goto out;
    }
  }
  if (ours != SB_OK)
    DISAGREE("jansson accepts; we reject: %s at offset %zu", err.message,
             err.offset);
  st->accepted++;
  compare(root, j, "tree");
  check_duplicates(copy, len, st);

  /* our writer's rendering of our tree reads back as jansson's tree
   * (within the writer's depth limit) */
  if (container_depth(root) <= SB_JW_MAX_DEPTH) {
    sb_buf_t out;
    sb_jw_t w;
    sb_json_t *again = NULL;
    sb_buf_init(&out, 0);
    sb_jw_init(&w, &out);
    rewrite(&w, root);
    if (sb_jw_status(&w) != SB_OK)
      DISAGREE("the writer failed on our tree (depth %zu)", value_depth(root));
    if (sb_json_parse(&arena, out.data, out.len, JANSSON_DEPTH, &again, &err) !=
        SB_OK)
      DISAGREE("the writer's output does not parse: %s at %zu", err.message,
               err.offset);
    compare(again, j, "rewritten");
    st->rewritten++;
    sb_buf_free(&out);
  }
  json_decref(j);
out:
  free(copy);
  current_doc = NULL;
}

static void test_json_diff(void **state)
{
  (void)state;
  stats_t st;
  sb_buf_t doc, mut;
  memset(&st, 0, sizeof(st));
  sb_arena_init(&arena, 64 * 1024, 0);
  sb_buf_init(&doc, 0);
  sb_buf_init(&mut, 0);

  for (int i = 0; i < VALID_DOCS; i++) {
    sb_buf_reset(&doc);
    gen_document(&doc);
    check_one(doc.data, doc.len, &st);
    for (int k = 0; k < MUTATIONS_PER_DOC; k++) {
      mutate(&doc, &mut);
      check_one(mut.data, mut.len, &st);
    }
  }
  printf("json diff vs jansson %s: %zu documents compared, %zu accepted by "
         "both, %zu rejected by both; not compared: %zu numeric overflow, "
         "%zu NUL in a key, %zu past jansson's depth only, %zu NUL after a "
         "scalar; %zu rewritten through the writer and compared again; %zu "
         "refused by both for a repeated name\n",
         JANSSON_VERSION, st.compared, st.accepted, st.rejected,
         st.skipped_overflow, st.skipped_nul_key, st.depth_only_jansson,
         st.nul_after_scalar, st.rewritten, st.duplicates);
  assert_true(st.compared >= 20000);
  /* the mix is meaningful: plenty of both verdicts */
  assert_true(st.accepted > st.compared / 4);
  assert_true(st.rejected > st.compared / 4);
  assert_true(st.duplicates > 100);
  sb_buf_free(&doc);
  sb_buf_free(&mut);
  sb_arena_destroy(&arena);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_diff),
  };
  return cmocka_run_group_tests_name("json_diff", tests, NULL, NULL);
}
