/* SPDX-License-Identifier: MIT */
/*
 * JSON: a validating parser into an arena DOM, and a writer into capped
 * buffers.
 *
 * JSON is the gateway's hot path (every request body, every stream chunk),
 * so this module trades generality for speed:
 * - the DOM lives in the caller's arena and is freed with it;
 * - strings, numbers and whole values are slices of the input (the input
 *   must outlive the DOM); nothing is copied while parsing;
 * - strings are unescaped lazily, only when asked (sb_json_string());
 * - every value keeps its exact raw text (`raw`), so a body can be forwarded
 *   with a few members rewritten and the rest copied byte for byte.
 *
 * Validation is full RFC 8259: the grammar, numbers, escapes (including
 * \u surrogate pairs), UTF-8 in strings (no overlongs, no surrogates, no
 * code points past U+10FFFF), no control characters in strings, a depth
 * cap, and nothing but whitespace after the value.
 */
#ifndef SWITCHBOARD_JSON_H
#define SWITCHBOARD_JSON_H

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/common.h"

typedef enum {
  SB_JSON_NULL = 0,
  SB_JSON_FALSE,
  SB_JSON_TRUE,
  SB_JSON_NUMBER,
  SB_JSON_STRING,
  SB_JSON_ARRAY,
  SB_JSON_OBJECT
} sb_json_type_t;

/* flags */
#define SB_JSON_F_ESCAPED 0x01     /* string value contains backslashes */
#define SB_JSON_F_KEY_ESCAPED 0x02 /* member name contains backslashes */
#define SB_JSON_F_INTEGER 0x04     /* number has no fraction or exponent */

typedef struct sb_json sb_json_t;
struct sb_json {
  sb_json_t *next;  /* next array element / object member, or NULL */
  sb_json_t *child; /* first element / member (arrays and objects) */
  sb_slice_t key;   /* member name as written, without the quotes, escapes
                       intact (object members only; else {NULL,0}) */
  sb_slice_t raw;   /* the exact text of the value; strings include their
                       quotes */
  uint32_t count;   /* number of elements / members */
  uint8_t type;     /* sb_json_type_t */
  uint8_t flags;    /* SB_JSON_F_* */
};

#define SB_JSON_DEFAULT_MAX_DEPTH 128

typedef struct {
  size_t offset;       /* byte offset of the first error */
  const char *message; /* static string, e.g. "invalid UTF-8 in string" */
  sb_slice_t name;     /* SB_JSON_DUPLICATE_MESSAGE: the repeated member's
                          name as written (escapes intact); else {NULL,0} */
} sb_json_error_t;

/* Parse flags. */
/* Refuse an object that has two members with the same name, at any depth.
 * Names are compared after unescaping ("a" and "\u0061" are the same
 * member), as a parser that reads the document would. The error is
 * SB_JSON_DUPLICATE_MESSAGE at the second member's name, with err->name.
 * Client requests are parsed with it: a member the gateway reads (and
 * meters or routes by) must be the one every other reader sees. */
#define SB_JSON_REJECT_DUPLICATES 0x1u
#define SB_JSON_DUPLICATE_MESSAGE "duplicate member name"

/*
 * Parse `len` bytes of `data` into a DOM allocated from `a`.
 * `max_depth` caps nesting of arrays/objects (0 = SB_JSON_DEFAULT_MAX_DEPTH).
 * On success returns SB_OK and the root in *out. On invalid input returns
 * SB_ERROR and fills *err (if non-NULL); on arena exhaustion also SB_ERROR
 * with message "out of memory".
 * `data` must stay valid and unchanged while the DOM is used.
 */
sb_status_t sb_json_parse(sb_arena_t *a, const char *data, size_t len,
                          size_t max_depth, sb_json_t **out,
                          sb_json_error_t *err);

/* sb_json_parse with SB_JSON_* `flags`. */
sb_status_t sb_json_parse_flags(sb_arena_t *a, const char *data, size_t len,
                                size_t max_depth, unsigned flags,
                                sb_json_t **out, sb_json_error_t *err);

/* Validate without building a DOM (no allocation). Takes no flags:
 * duplicate names are a question about the DOM. */
sb_status_t sb_json_validate(const char *data, size_t len, size_t max_depth,
                             sb_json_error_t *err);

/* ---- reading ---------------------------------------------------------- */

static inline bool sb_json_is(const sb_json_t *v, sb_json_type_t t)
{
  return v != NULL && v->type == (uint8_t)t;
}

/* jq truthiness: present and neither null nor false. */
static inline bool sb_json_truthy(const sb_json_t *v)
{
  return v != NULL && v->type != SB_JSON_NULL && v->type != SB_JSON_FALSE;
}

/* Object member by name (the first one with that name; names with escapes
 * are compared after unescaping). NULL when `obj` is not an object or has
 * no such member. */
sb_json_t *sb_json_getn(const sb_json_t *obj, const char *name, size_t n);
/* Is member `m`'s name (decoded) exactly name[0..n)? */
bool sb_json_key_is(const sb_json_t *m, const char *name, size_t n);
#define sb_json_get(obj, lit) sb_json_getn((obj), SB_STRLIT(lit))

/* Array element by index; NULL when out of range or not an array. */
sb_json_t *sb_json_at(const sb_json_t *arr, size_t i);

/* Raw contents of a string value, between the quotes, escapes intact. */
static inline sb_slice_t sb_json_str_raw(const sb_json_t *s)
{
  return sb_slice(s->raw.ptr + 1, s->raw.len - 2);
}

/* Unescaped value of a string. Without escapes this is a slice of the
 * input (no copy); otherwise the unescaped bytes are written to the arena.
 * SB_ERROR if `s` is not a string or the arena is exhausted. */
sb_status_t sb_json_string(sb_arena_t *a, const sb_json_t *s, sb_slice_t *out);

/* Unescaped contents of a JSON string given between its quotes, escapes
 * intact (a slice of parsed, hence valid, JSON, or of text escaped by
 * sb_json_escape). No copy when there is no backslash. */
sb_status_t sb_json_unescape(sb_arena_t *a, sb_slice_t raw, sb_slice_t *out);

/* Unescaped member name (same rules as sb_json_string). */
sb_status_t sb_json_key(sb_arena_t *a, const sb_json_t *member,
                        sb_slice_t *out);

/* Does string `s` equal the given bytes after unescaping? False if `s` is
 * NULL or not a string. No allocation. */
bool sb_json_str_eq(const sb_json_t *s, const char *p, size_t n);
#define SB_JSON_STR_IS(s, lit) sb_json_str_eq((s), SB_STRLIT(lit))

/* Numbers. int64: SB_ERROR unless the number is an integer (no fraction /
 * exponent) that fits. double: strtod semantics on the raw text. */
sb_status_t sb_json_int64(const sb_json_t *n, int64_t *out);
sb_status_t sb_json_double(const sb_json_t *n, double *out);

/* ---- writing ---------------------------------------------------------- */

#define SB_JW_MAX_DEPTH 64

/*
 * Streaming writer into a capped sb_buf_t. Separators are inserted
 * automatically. Errors are sticky: after the buffer cap is hit (or depth
 * is exceeded, or a key is missing/misplaced) every call is a no-op and
 * sb_jw_status() returns SB_ERROR.
 */
typedef struct {
  sb_buf_t *buf;
  uint64_t need_comma; /* bit d set: level d already has an element */
  uint64_t objects;    /* bit d set: level d is an object */
  uint32_t depth;
  bool after_key;
  sb_status_t status;
} sb_jw_t;

void sb_jw_init(sb_jw_t *w, sb_buf_t *buf);
static inline sb_status_t sb_jw_status(const sb_jw_t *w) { return w->status; }

void sb_jw_obj_begin(sb_jw_t *w);
void sb_jw_obj_end(sb_jw_t *w);
void sb_jw_arr_begin(sb_jw_t *w);
void sb_jw_arr_end(sb_jw_t *w);

/* Member name; the bytes are escaped as needed. */
void sb_jw_key(sb_jw_t *w, const char *k, size_t n);
/* A key written in the source: its bytes go as they are (a literal needs
 * no escape), without the escaper's scan. */
#define sb_jw_key_lit(w, lit) sb_jw_key_raw((w), SB_STRLIT(lit))
/* Member name already in escaped JSON form (e.g. sb_json_t.key). */
void sb_jw_key_raw(sb_jw_t *w, const char *k, size_t n);

/* String value from raw bytes; escapes quotes, backslashes and control
 * characters; invalid UTF-8 is replaced with U+FFFD so the output is
 * always valid JSON. */
void sb_jw_str(sb_jw_t *w, const char *s, size_t n);
#define sb_jw_str_lit(w, lit) sb_jw_str((w), SB_STRLIT(lit))
static inline void sb_jw_str_slice(sb_jw_t *w, sb_slice_t s)
{
  sb_jw_str(w, s.ptr, s.len);
}
/* String value whose contents are already escaped JSON (adds quotes). */
void sb_jw_str_raw(sb_jw_t *w, const char *s, size_t n);

void sb_jw_int(sb_jw_t *w, int64_t v);
void sb_jw_uint(sb_jw_t *w, uint64_t v);
/* Finite doubles in shortest round-trip form ("%.17g"-class); non-finite
 * values are written as null. */
void sb_jw_double(sb_jw_t *w, double v);
void sb_jw_bool(sb_jw_t *w, bool v);
void sb_jw_null(sb_jw_t *w);

/* A complete, valid JSON value given as text (not validated here). */
void sb_jw_raw(sb_jw_t *w, const char *json, size_t n);
/* One or more complete members of the open object, already JSON text as
 * they stand in a source object (`"a":1, "b":[2]`; not validated here). */
void sb_jw_members_raw(sb_jw_t *w, const char *json, size_t n);
/* Copy a parsed value's exact raw text. */
static inline void sb_jw_value(sb_jw_t *w, const sb_json_t *v)
{
  sb_jw_raw(w, v->raw.ptr, v->raw.len);
}

/* Shorthands: key followed by a value. */
void sb_jw_kv_str(sb_jw_t *w, const char *k, size_t kn, const char *s,
                  size_t n);
void sb_jw_kv_int(sb_jw_t *w, const char *k, size_t kn, int64_t v);
/* A member whose key and string value are both written in the source:
 * copied as they are. */
#define sb_jw_kv_lit(w, klit, vlit)                                            \
  do {                                                                         \
    sb_jw_key_raw((w), SB_STRLIT(klit));                                       \
    sb_jw_str_raw((w), SB_STRLIT(vlit));                                       \
  } while (0)
void sb_jw_kv_raw(sb_jw_t *w, const char *k, size_t kn, const char *json,
                  size_t n);

/* Append a JSON string literal (with quotes) for raw bytes to a buffer. */
sb_status_t sb_json_escape(sb_buf_t *b, const char *s, size_t n);

#endif
