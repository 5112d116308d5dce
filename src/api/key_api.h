/* SPDX-License-Identifier: MIT */
/*
 * The key-management endpoints' pieces (src/api/keys.c): a key as
 * OpenRouter's JSON (key_json.c), and a create / update body read into a
 * key record (key_body.c).
 */
#ifndef SWITCHBOARD_API_KEY_API_H
#define SWITCHBOARD_API_KEY_API_H

#include "switchboard/api.h"
#include "switchboard/keys.h"

/* "key": amount in USD from picodollars, without rounding. */
void sb_keyjson_usd(sb_jw_t *w, const char *k, int64_t pico);
/* The key's members ("data" of the key endpoints); `self`: as the key
 * itself sees it (/api/v1/key). */
void sb_keyjson_key(sb_jw_t *w, const sb_key_view_t *v, bool self);
/* {"data": the key} (with its secret, once, when given). */
void sb_keyjson_reply_key(sb_http_exchange_t *x, int status, sb_key_t *k,
                          const char *secret);

/* Apply the members of `body` to `r`. `creating` requires a name. On error
 * writes a message into `err`. */
sb_status_t sb_keybody_apply(sb_arena_t *a, const sb_json_t *body,
                             sb_key_record_t *r, bool creating, char *err,
                             size_t errlen);

#endif
