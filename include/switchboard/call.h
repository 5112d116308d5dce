/* SPDX-License-Identifier: MIT */
/*
 * A call: one model request on its way through the gateway, from the
 * door's decoded request to the client's answer and its ledger row.
 *
 * A door (src/api/) parses and checks its client's body, creates a call
 * for its format, fills the call's hub request with its format's envelope
 * and starts it. The call routes, admits, tries endpoints (with retries,
 * fallbacks and escalation), has the provider's format build the request
 * and decode the answer into hub events, and writes the client's answer
 * with the door format's encoder. Every outcome ends the exchange: the
 * door does nothing after sb_call_start(). The call lives in the
 * exchange's arena; its insides are the gateway's (src/gateway/call.h).
 */
#ifndef SWITCHBOARD_CALL_H
#define SWITCHBOARD_CALL_H

#include "switchboard/codec.h"
#include "switchboard/http.h"

typedef struct sb_call sb_call_t;

/* A call for exchange `x`, answered in the format `door` (its encoder and
 * error shape), recorded as `api` ("chat", "messages", "skill",
 * "embeddings"). NULL when out of memory (nothing was answered). */
sb_call_t *sb_call_new(sb_http_exchange_t *x, const sb_codec_t *door,
                       const char *api);

/* The hub request the door fills (chat calls), or the embeddings request
 * (embeddings calls: sb_call_new with api "embeddings"). */
sb_hub_req_t *sb_call_hub(sb_call_t *c);
sb_hub_embed_req_t *sb_call_embed(sb_call_t *c);

/* Who asked: the agent (X-Agent; empty: none), the caller's label, and
 * the app (HTTP-Referer or X-Title), as recorded in the ledger. */
void sb_call_attribute(sb_call_t *c, sb_slice_t agent, sb_slice_t key_label,
                       sb_slice_t app);

/* Route, admit and run; every outcome answers the client. */
void sb_call_start(sb_call_t *c);

/* The call's generation id ("gen-..."). */
const char *sb_call_id(const sb_call_t *c);

/* Told once when the call has answered (a whole answer, or a stream's
 * end, the closing bytes written or about to be): `status` is 200, or the
 * error status a stream ended with; `kept` the door encoder's kept answer
 * (codec.h; empty when it has none). Not told for a failure before any
 * answer, nor when the client left. Runs on the call's worker, before the
 * call's memory goes: copy what is kept. */
typedef void (*sb_call_answered_fn)(void *data, int status, sb_slice_t kept);
void sb_call_on_answered(sb_call_t *c, sb_call_answered_fn fn, void *data);

#endif
