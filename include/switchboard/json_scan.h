/* SPDX-License-Identifier: MIT */
/*
 * Walking the members of a JSON object's text without building a DOM: the
 * pass-through path reads the few members it needs from each stream event
 * this way and copies the rest byte for byte.
 *
 * Either the text is known to be valid JSON and the walk trusts the
 * grammar, only finding where values end (on text that is not, it stays
 * within the bounds it was given and yields nonsense, never more), or the
 * walk is a checked one and validates as it goes.
 */
#ifndef SWITCHBOARD_JSON_SCAN_H
#define SWITCHBOARD_JSON_SCAN_H

#include "switchboard/common.h"

typedef struct {
  sb_slice_t name;   /* as written, without quotes, escapes intact */
  sb_slice_t value;  /* the value's text */
  sb_slice_t member; /* from the name's opening quote to the value's end */
  bool name_escaped; /* the name holds a backslash */
} sb_json_member_t;

typedef struct {
  const char *p, *end;
  bool array;
  bool checked; /* every member validated on the way */
  bool started; /* checked: a member was read */
  bool bad;     /* checked: the text is not valid JSON */
  unsigned depth;
} sb_json_iter_t;

/* Start walking the object (or array) whose text is `v` (leading and
 * trailing whitespace allowed). False when `v` is not one. */
bool sb_json_iter_object(sb_json_iter_t *it, sb_slice_t v);
bool sb_json_iter_array(sb_json_iter_t *it, sb_slice_t v);

/* The same walk over text not known to be valid JSON (a provider's
 * event): every name, value and separator is validated as it is passed,
 * as sb_json_validate() would (UTF-8, escapes, numbers, literals, nesting
 * up to max_depth, 0 for the default; duplicate names allowed), so the
 * text is read once. The walk stops at the first fault;
 * sb_json_iter_valid() says whether all it walked was valid, and after
 * the last member, whether the whole text is. */
bool sb_json_iter_object_checked(sb_json_iter_t *it, sb_slice_t v,
                                 size_t max_depth);
static inline bool sb_json_iter_valid(const sb_json_iter_t *it)
{
  return !it->bad;
}

/* The next member (objects: name and value; arrays: value only). False at
 * the end (and, on a checked walk, at a fault). */
bool sb_json_iter_next(sb_json_iter_t *it, sb_json_member_t *m);

/* Does a member's name (decoded) equal the literal? The common case, a
 * name without escapes, is a length check and a compare the compiler
 * inlines; an escaped name is decoded. */
bool sb_json_name_is_escaped(const sb_json_member_t *m, const char *lit,
                             size_t n);
static inline bool sb_json_name_is(const sb_json_member_t *m, const char *lit,
                                   size_t n)
{
  if (SB_UNLIKELY(m->name_escaped))
    return sb_json_name_is_escaped(m, lit, n);
  return m->name.len == n && memcmp(m->name.ptr, lit, n) == 0;
}
#define SB_JSON_NAME_IS(m, lit) sb_json_name_is((m), SB_STRLIT(lit))

/* A string value's contents (between the quotes, escapes intact), or a
 * NULL slice when the value is not a string. */
sb_slice_t sb_json_scan_string(sb_slice_t value);

#endif
