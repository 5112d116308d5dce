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

#endif
