/* SPDX-License-Identifier: MIT */
/*
 * HTTP endpoints. sb_api_handle() is the server's handler: it routes by
 * method and path to one endpoint family per file in src/api/.
 * Every endpoint answers in its API's own error shape (DESIGN.md, "Errors").
 */
#ifndef SWITCHBOARD_API_H
#define SWITCHBOARD_API_H

#include "switchboard/gateway.h"
#include "switchboard/http.h"
#include "switchboard/json.h"
#include "switchboard/codec.h"
#include "switchboard/pricing.h"

/* Who is calling (set by authentication). */
typedef struct {
  bool admin;       /* the admin key, or local mode */
  bool local;       /* local mode or trusted loopback */
  sb_slice_t label; /* shown in the ledger */
  struct sb_key *key; /* a client key (keys.h), else NULL; owned by the
                         exchange (x->principal) */
} sb_identity_t;

void sb_api_handle(sb_http_exchange_t *x);

/* Which API's error shape an endpoint answers in (DESIGN.md, "Errors"). */
typedef enum {
  SB_API_OPENAI,    /* {"error":{"code","message","metadata"}} */
  SB_API_ANTHROPIC, /* {"type":"error","error":{"type","message"}} */
  SB_API_SKILL,     /* {"error":"message"} */
  SB_API_RESPONSES, /* OpenAI's: {"error":{"message","type","param","code"}} */
  SB_API_GEMINI,    /* {"error":{"code","message","status"}} */
} sb_api_shape_t;

/* Authenticate the request. SB_OK fills `who`; SB_ERROR means it was
 * answered already (401, in `shape`). A presented key is always judged;
 * skill paths that present none may be trusted from loopback
 * (local_trust). The Gemini API's requests may also present it as
 * ?key=KEY, as Google's clients do. */
sb_status_t sb_api_auth(sb_http_exchange_t *x, sb_api_shape_t shape,
                        sb_identity_t *who);

/* ---- responses ------------------------------------------------------- */

void sb_api_json(sb_http_exchange_t *x, int status, sb_slice_t body);
/* OpenAI / OpenRouter error: {"error":{"code","message","metadata"?}}. */
void sb_api_error(sb_http_exchange_t *x, int status, const char *type,
                  const char *fmt, ...) SB_PRINTF(4, 5);
/* Skill contract error: {"error":"message"}. */
void sb_api_skill_error(sb_http_exchange_t *x, int status, const char *fmt,
                        ...) SB_PRINTF(3, 4);
/* An error in `shape`: `type` is the OpenAI shape's metadata.error_type
 * (the Anthropic type follows the status; the skill shape has none). */
void sb_api_fail(sb_http_exchange_t *x, sb_api_shape_t shape, int status,
                 const char *type, const char *fmt, ...) SB_PRINTF(5, 6);
/* The request body parsed as JSON (any value) or as a JSON object. NULL:
 * it was empty or invalid and the 400 is answered in `shape`. Every door
 * parses its client's body here: an object with a repeated member name
 * (at any depth) is invalid. */
sb_json_t *sb_api_parse_json(sb_http_exchange_t *x, sb_api_shape_t shape);
sb_json_t *sb_api_parse_object(sb_http_exchange_t *x, sb_api_shape_t shape);

/* ---- endpoint families ------------------------------------------------ */

void sb_api_chat(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_models(sb_http_exchange_t *x);
/* GET /api/v1/models/{author}/{slug}/endpoints: `id` is author/slug. */
void sb_api_model_endpoints(sb_http_exchange_t *x, sb_slice_t id);
void sb_api_health(sb_http_exchange_t *x);
void sb_api_metrics(sb_http_exchange_t *x);
void sb_api_generation(sb_http_exchange_t *x);
void sb_api_skills_list(sb_http_exchange_t *x);
void sb_api_skill_show(sb_http_exchange_t *x, sb_slice_t skill);
void sb_api_skill_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       sb_slice_t skill, sb_slice_t utility);

/* Keys and credits (src/api/keys.c): `rest` is what follows "/keys". */
void sb_api_keys(sb_http_exchange_t *x, const sb_identity_t *who,
                 sb_slice_t rest);
void sb_api_key_self(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_credits(sb_http_exchange_t *x, const sb_identity_t *who);

/* What the doors keep beside the gateway: the skills (gw->skills). Once,
 * after sb_gateway_open; sb_api_close before sb_gateway_close. (The model
 * lists are rendered once per catalog, with it: models.c.) */
sb_status_t sb_api_open(sb_gateway_t *gw, char *err, size_t errlen);
void sb_api_close(sb_gateway_t *gw);

/* The admin API under /api/v1/admin (admin.c): `rest` is what follows
 * "/admin" ("/logs/live", "/reload"). The admin key, or local mode. */
void sb_api_admin(sb_http_exchange_t *x, const sb_identity_t *who,
                  sb_slice_t rest);

/* ---- the other doors --------------------------------------------------- */

/* POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages
 * API (messages.c). */
void sb_api_messages(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_messages_count_tokens(sb_http_exchange_t *x,
                                  const sb_identity_t *who);
/* POST /v1/embeddings (embeddings.c). */
void sb_api_embeddings(sb_http_exchange_t *x, const sb_identity_t *who);
/* /v1/responses and what follows it (`rest`: "", "/input_tokens",
 * "/{id}", "/{id}/input_items", "/{id}/cancel"): OpenAI's Responses API
 * and its stored responses (responses.c); authenticates itself. */
void sb_api_responses(sb_http_exchange_t *x, sb_slice_t rest);

/* The Gemini API (gemini.c): POST .../models/{model}:{method}, `target`
 * being what follows "models/" ("gemini-2.5-flash:generateContent"). */
void sb_api_gemini(sb_http_exchange_t *x, const sb_identity_t *who,
                   sb_slice_t target);
/* The catalog id a Gemini client's model name (as in its URL: maybe
 * percent-encoded, bare or a catalog id) stands for, in the exchange's
 * arena; empty when it is not a name. */
sb_slice_t sb_api_gemini_model_id(sb_http_exchange_t *x, sb_slice_t name);
/* GET .../models and .../models/{model} in Google's shape
 * (gemini_models.c), rendered once per catalog. */
void sb_api_gemini_models(sb_http_exchange_t *x);
void sb_api_gemini_model(sb_http_exchange_t *x, sb_slice_t name);

#endif
