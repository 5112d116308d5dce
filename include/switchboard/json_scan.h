/*
 * Walking the members of a JSON object's text without building a DOM: the
 * pass-through path reads the few members it needs from each stream event
 * this way and copies the rest byte for byte.
 *
 * The text must be valid JSON (sb_json_validate() first): the walk trusts
 * the grammar and only finds where values end.
 */
#ifndef SWITCHBOARD_JSON_SCAN_H
#define SWITCHBOARD_JSON_SCAN_H

#include "switchboard/common.h"

typedef struct {
  sb_slice_t name;   /* as written, without quotes, escapes intact */
  sb_slice_t value;  /* the value's text */
  sb_slice_t member; /* from the name's opening quote to the value's end */
} sb_json_member_t;

typedef struct {
  const char *p, *end;
  bool array;
} sb_json_iter_t;

/* Start walking the object (or array) whose text is `v` (leading and
 * trailing whitespace allowed). False when `v` is not one. */
bool sb_json_iter_object(sb_json_iter_t *it, sb_slice_t v);
bool sb_json_iter_array(sb_json_iter_t *it, sb_slice_t v);

/* The next member (objects: name and value; arrays: value only). False at
 * the end. */
bool sb_json_iter_next(sb_json_iter_t *it, sb_json_member_t *m);

/* Does a member's name (decoded) equal the literal? */
bool sb_json_name_is(const sb_json_member_t *m, const char *lit, size_t n);
#define SB_JSON_NAME_IS(m, lit) sb_json_name_is((m), SB_STRLIT(lit))

/* A string value's contents (between the quotes, escapes intact), or a
 * NULL slice when the value is not a string. */
sb_slice_t sb_json_scan_string(sb_slice_t value);

#endif
