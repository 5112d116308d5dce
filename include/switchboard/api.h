/*
 * HTTP endpoints. sb_api_handle() is the server's handler: it routes by
 * method and path to one endpoint family per file in src/api/.
 * Every endpoint answers in its API's own error shape (DESIGN.md, "Errors").
 */
#ifndef SWITCHBOARD_API_H
#define SWITCHBOARD_API_H

#include "switchboard/gateway.h"
#include "switchboard/http.h"

/* Who is calling (set by authentication). */
typedef struct {
  bool admin;       /* the admin key, or local mode */
  bool local;       /* local mode or trusted loopback */
  sb_slice_t label; /* shown in the ledger */
} sb_identity_t;

void sb_api_handle(sb_http_exchange_t *x);

/* Authenticate the request. SB_OK fills `who`; SB_ERROR means it was
 * answered with 401 already (in the shape `skills_shape` selects). */
sb_status_t sb_api_auth(sb_http_exchange_t *x, bool skills_path,
                        sb_identity_t *who);

/* ---- responses ------------------------------------------------------- */

void sb_api_json(sb_http_exchange_t *x, int status, sb_slice_t body);
/* OpenAI / OpenRouter error: {"error":{"code","message","metadata"?}}. */
void sb_api_error(sb_http_exchange_t *x, int status, const char *type,
                  const char *fmt, ...) SB_PRINTF(4, 5);
/* Skill contract error: {"error":"message"}. */
void sb_api_skill_error(sb_http_exchange_t *x, int status, const char *fmt,
                        ...) SB_PRINTF(3, 4);

/* ---- endpoint families ------------------------------------------------ */

void sb_api_chat(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_models(sb_http_exchange_t *x);
void sb_api_health(sb_http_exchange_t *x);
void sb_api_metrics(sb_http_exchange_t *x);
void sb_api_generation(sb_http_exchange_t *x);
void sb_api_skills_list(sb_http_exchange_t *x);
void sb_api_skill_show(sb_http_exchange_t *x, sb_slice_t skill);
void sb_api_skill_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       sb_slice_t skill, sb_slice_t utility);

/* Precomputed model lists (the catalog is immutable). */
sb_status_t sb_api_models_build(sb_gateway_t *gw);

/* Attribution headers shared by endpoints that create calls. */
struct sb_call;
void sb_api_attribute(sb_http_exchange_t *x, const sb_identity_t *who,
                      struct sb_call *c);

#endif
