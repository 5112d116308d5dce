/* SPDX-License-Identifier: MIT */
/*
 * What the files in src/api/ share: starting a call (the doors), reading
 * a UTC time, and answering from libuv's thread pool (the endpoints that
 * read the ledger).
 */
#ifndef SWITCHBOARD_API_ENDPOINT_H
#define SWITCHBOARD_API_ENDPOINT_H

#include "switchboard/api.h"
#include "switchboard/call.h"

/* A call for this exchange answered in `door`'s format and recorded as
 * `api`, attributed to its caller (X-Agent, the key's label, the app from
 * HTTP-Referer / X-Title) and carrying the client headers a provider may
 * get: attribution, and `extra` (NULL-terminated names: the door format's
 * own, e.g. anthropic-beta), which a provider of that format forwards.
 * NULL: the exchange was answered (out of memory). */
sb_call_t *sb_api_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       const sb_codec_t *door, const char *api,
                       sb_api_shape_t shape, const char *const *extra);

/* Check `body` against the door format's schema, then fill the call's
 * hub request with the format's envelope. False: answered with a 400 in
 * `shape`. */
bool sb_api_envelope(sb_http_exchange_t *x, sb_call_t *c, const sb_codec_t *door,
                     const sb_json_t *body, sb_api_shape_t shape);

/* A token-counting endpoint (count_tokens, input_tokens, countTokens):
 * `door`'s count of `body` for `model` (empty: the model the body names),
 * answered with X-Token-Count: estimate, or the 400 / 404 (a model nothing
 * routes) in `shape`. */
void sb_api_count(sb_http_exchange_t *x, const sb_codec_t *door,
                  const sb_json_t *body, sb_api_shape_t shape,
                  sb_slice_t model);

/* "2026-12-31T23:59:59Z" (a fraction and "+00:00" are accepted too; so is
 * a missing zone, read as UTC) to ms since the epoch. */
sb_status_t sb_api_parse_utc(sb_slice_t s, int64_t *ms);

/* Answer on the worker after work on libuv's thread pool (a read that may
 * block on the store): `work(data)` runs on the pool, then `done(x, data)`
 * on the worker's loop, which answers x. When the client went away
 * meanwhile, the exchange is finished already and `done` gets x NULL (it
 * only frees `data`). False: the work could not be started; x was answered
 * (503) and `data` is the caller's to free. */
bool sb_api_offload(sb_http_exchange_t *x, void (*work)(void *data),
                    void (*done)(sb_http_exchange_t *x, void *data),
                    void *data);

/* An answer {"data": ...} in `b` (capped at `cap`): begin writes up to
 * the value, the caller writes it and closes the object, reply answers
 * (500 when it did not fit) and frees `b`. */
void sb_api_data_begin(sb_buf_t *b, sb_jw_t *w, size_t cap);
void sb_api_data_reply(sb_http_exchange_t *x, int status, sb_buf_t *b,
                       sb_jw_t *w);

/* True for the admin key and local mode; otherwise answers 403 ("`what`
 * needs the admin key") and returns false. */
bool sb_api_need_admin(sb_http_exchange_t *x, const sb_identity_t *who,
                       const char *what);

#endif
