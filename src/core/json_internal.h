/* SPDX-License-Identifier: MIT */
/* Shared by the JSON module's files (src/core/json_*.c); not an API. */
#ifndef SWITCHBOARD_JSON_INTERNAL_H
#define SWITCHBOARD_JSON_INTERNAL_H

#include <locale.h>

#include "switchboard/json.h"

/* Length of the valid UTF-8 sequence at p (*p >= 0x80), 0 if invalid
 * (json_parse.c). */
size_t sb__json_utf8_len(const unsigned char *p, const unsigned char *end);

/* The "C" locale, created once and thread-safely; (locale_t)0 if that
 * failed (json_access.c). */
locale_t sb__json_c_locale(void);

/* Do members `a` and `b` have the same name after unescaping? For names
 * with escapes; no allocation (json_access.c). */
bool sb__json_names_equal(const sb_json_t *a, const sb_json_t *b);
/* A hash of member `m`'s unescaped name: equal names hash equally whether
 * written with escapes or not (json_access.c). */
uint32_t sb__json_name_hash(const sb_json_t *m);

#endif
