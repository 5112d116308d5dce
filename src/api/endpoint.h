/*
 * What the endpoint files in src/api/ share about the calls they run: the
 * answer's headers, errors in the OpenAI shape, and the parts of an
 * upstream request that do not depend on the endpoint.
 */
#ifndef SWITCHBOARD_API_ENDPOINT_H
#define SWITCHBOARD_API_ENDPOINT_H

#include "switchboard/api.h"
#include "switchboard/call.h"

/* X-Generation-Id: the call's id. */
sb_http_header_t sb_api_gen_header(sb_call_t *c);
/* Answer a failed call with `body` (JSON) and `status`: the generation id,
 * and on a 429 Retry-After (the upstream's, else 1 second). */
void sb_api_call_error_reply(sb_call_t *c, int status, const sb_call_error_t *e,
                             sb_slice_t body);
/* A sink's `error` for the OpenAI shape: {"error":{"code","message",
 * "metadata":{error_type, provider_name, provider_status, raw}}}. */
void sb_api_call_error_openai(sb_call_t *c, const sb_call_error_t *e);
/* A sink's `backlogged`: the client's write queue is over the high water. */
bool sb_api_call_backlogged(sb_call_t *c);

/* c->up_body := `body` with "model" set to the route's upstream model.
 * SB_ERROR: out of memory; SB_DECLINED: the body does not fit. */
sb_status_t sb_api_up_body_with_model(sb_call_t *c, const sb_json_t *body);
/* Finish `r`: the provider's key (one of them, at random) and its own
 * headers after those added so far. SB_ERROR if r->url is missing. */
sb_status_t sb_api_up_finish(sb_call_t *c, sb_upstream_request_t *r);

#endif
