/*
 * What the door files in src/api/ share about the calls they start.
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

#endif
