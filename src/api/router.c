/* SPDX-License-Identifier: MIT */
/*
 * Request routing: method + path -> endpoint. Every path that has a /v1
 * form also answers under /api/v1 (SPEC.md). The Gemini API's paths are
 * Google's: everything under /v1beta, and under /v1 a model method
 * (models/{model}:generateContent ...) or, for a Gemini client (one that
 * sends x-goog-api-key, x-goog-api-client or ?key=), the model list.
 */
#include <stdarg.h>
#include <stdio.h>

#include "reports.h"
#include "switchboard/api.h"
#include "switchboard/json.h"
#include "switchboard/response_store.h"
#include "switchboard/skills.h"

/* "/api/v1/x" and "/v1/x" both become "/x"; anything else is returned
 * unchanged with *versioned false. */
static sb_slice_t strip_version(sb_slice_t path, bool *versioned)
{
  *versioned = true;
  if (sb_slice_starts(path, SB_STRLIT("/api/v1/")))
    return sb_slice(path.ptr + 7, path.len - 7);
  if (sb_slice_starts(path, SB_STRLIT("/v1/")))
    return sb_slice(path.ptr + 3, path.len - 3);
  *versioned = false;
  return path;
}

static void method_not_allowed(sb_http_exchange_t *x, const char *allow)
{
  sb_api_error(x, 405, "invalid_request", "method not allowed (use %s)", allow);
}

/* What every authenticated endpoint starts with: a 405 unless `method_ok`,
 * then authentication, both answered in `shape`. False: answered. */
static bool enter(sb_http_exchange_t *x, bool method_ok, const char *allow,
                  sb_api_shape_t shape, sb_identity_t *who)
{
  if (!method_ok) {
    sb_api_fail(x, shape, 405, "invalid_request", "method not allowed (use %s)",
                allow);
    return false;
  }
  if (sb_api_auth(x, shape, who) != SB_OK)
    return false;
  x->caller = who->label;
  return true;
}

static void route_skills(sb_http_exchange_t *x, sb_slice_t rest)
{
  /* rest: "" | "/" | "/{skill}" | "/{skill}/{utility}" */
  if (rest.len > 0 && rest.ptr[0] == '/') {
    rest.ptr++;
    rest.len--;
  }
  if (rest.len > 0 && rest.ptr[rest.len - 1] == '/')
    rest.len--;
  const char *slash = memchr(rest.ptr, '/', rest.len);
  sb_slice_t skill = slash ? sb_slice(rest.ptr, (size_t)(slash - rest.ptr)) : rest;
  sb_slice_t utility = slash ? sb_slice(slash + 1, rest.len - skill.len - 1)
                             : SB_NULL_SLICE;
  bool post = x->req.method == HTTP_POST;
  sb_identity_t who;
  if (sb_api_auth(x, SB_API_SKILL, &who) != SB_OK)
    return;
  x->caller = who.label;
  if (skill.len == 0) {
    if (post) {
      sb_api_skill_error(x, 405, "method not allowed (use GET)");
      return;
    }
    sb_api_skills_list(x);
    return;
  }
  if (utility.len == 0) {
    if (post) {
      sb_api_skill_error(x, 405, "method not allowed (use GET)");
      return;
    }
    sb_api_skill_show(x, skill);
    return;
  }
  if (!post) {
    sb_api_skill_error(x, 405, "method not allowed (use POST)");
    return;
  }
  sb_api_skill_call(x, &who, skill, utility);
}

/* ---- the Gemini API ------------------------------------------------------ */

/* The methods of a Gemini model path ("models/{model}:{method}"). */
static bool gemini_method(sb_slice_t target)
{
  static const char *const methods[] = {
      ":generateContent", ":streamGenerateContent", ":countTokens",
      ":embedContent", ":batchEmbedContents"};
  for (size_t i = 0; i < SB_ARRAY_LEN(methods); i++) {
    size_t n = strlen(methods[i]);
    if (target.len > n &&
        memcmp(target.ptr + target.len - n, methods[i], n) == 0)
      return true;
  }
  return false;
}

static bool google_client(sb_http_exchange_t *x)
{
  const sb_http_request_t *r = &x->req;
  return SB_HTTP_HEADER(r, "x-goog-api-key").ptr != NULL ||
         SB_HTTP_HEADER(r, "x-goog-api-client").ptr != NULL ||
         sb_http_query_param(&x->arena, r->query, "key").ptr != NULL;
}

/* A Gemini API path: answered (true), or not one (false). */
static bool route_gemini(sb_http_exchange_t *x, sb_slice_t path)
{
  bool beta = SB_SLICE_IS(path, "/v1beta") ||
              sb_slice_starts(path, SB_STRLIT("/v1beta/"));
  if (!beta && !sb_slice_starts(path, SB_STRLIT("/v1/models")))
    return false;
  sb_slice_t rest = beta ? sb_slice(path.ptr + 7, path.len - 7)
                         : sb_slice(path.ptr + 3, path.len - 3);
  bool all = SB_SLICE_IS(rest, "/models");
  bool one = rest.len > 8 && sb_slice_starts(rest, SB_STRLIT("/models/"));
  sb_slice_t target = one ? sb_slice(rest.ptr + 8, rest.len - 8)
                          : SB_NULL_SLICE;
  bool call = one && (beta ? memchr(target.ptr, ':', target.len) != NULL
                           : gemini_method(target));
  bool endpoints = target.len > 10 &&
                   memcmp(target.ptr + target.len - 10, "/endpoints", 10) == 0;
  if (!beta && !call && !((all || (one && !endpoints)) && google_client(x)))
    return false;
  unsigned m = x->req.method;
  bool get = m == HTTP_GET || m == HTTP_HEAD;
  sb_identity_t who;
  if (call) {
    if (enter(x, m == HTTP_POST, "POST", SB_API_GEMINI, &who))
      sb_api_gemini(x, &who, target);
  } else if (all || one) {
    if (enter(x, get, "GET", SB_API_GEMINI, &who)) {
      if (all)
        sb_api_gemini_models(x);
      else
        sb_api_gemini_model(x, target);
    }
  } else {
    sb_api_fail(x, SB_API_GEMINI, 404, "not_found", "no endpoint %s %.*s",
                http_method_str((enum http_method)m),
                (int)SB_MIN(path.len, 200), path.ptr);
  }
  return true;
}

sb_status_t sb_api_open(sb_gateway_t *gw, char *err, size_t errlen)
{
  gw->skills = sb_skills_load(err, errlen);
  if (gw->skills == NULL)
    return SB_ERROR;
  sb_api_ui_open();
  gw->responses = sb_rstore_open(gw->config->database,
                                 gw->config->retention_days, err, errlen);
  return gw->responses != NULL ? SB_OK : SB_ERROR;
}

void sb_api_close(sb_gateway_t *gw)
{
  sb_rstore_close(gw->responses); /* runs what is queued */
  gw->responses = NULL;
  sb_skills_free(gw->skills);
  gw->skills = NULL;
}

void sb_api_handle(sb_http_exchange_t *x)
{
  sb_slice_t path = x->req.path;
  unsigned m = x->req.method;
  bool get = m == HTTP_GET || m == HTTP_HEAD, post = m == HTTP_POST;

  /* The catalog this request will route with, taken before anything else
   * ties itself to the exchange: it is given back last, after every
   * cleanup that may still read the model it routed to. */
  if (sb_gateway_catalog(x) == NULL) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }

  if (SB_SLICE_IS(path, "/")) {
    sb_api_root(x);
    return;
  }
  if (SB_SLICE_IS(path, "/ui") || sb_slice_starts(path, SB_STRLIT("/ui/"))) {
    sb_api_ui(x, path.len > 4 ? sb_slice(path.ptr + 4, path.len - 4)
                              : SB_NULL_SLICE);
    return;
  }
  if (SB_SLICE_IS(path, "/health")) {
    if (!get)
      return method_not_allowed(x, "GET");
    sb_api_health(x);
    return;
  }
  if (SB_SLICE_IS(path, "/api/skills") ||
      sb_slice_starts(path, SB_STRLIT("/api/skills/"))) {
    route_skills(x, sb_slice(path.ptr + 11, path.len - 11));
    return;
  }

  if (route_gemini(x, path))
    return;
  bool versioned;
  sb_slice_t p = strip_version(path, &versioned);
  sb_identity_t who;
  if (versioned && SB_SLICE_IS(p, "/chat/completions")) {
    if (enter(x, post, "POST", SB_API_OPENAI, &who))
      sb_api_chat(x, &who);
    return;
  }
  if (versioned && (SB_SLICE_IS(p, "/messages") ||
                    SB_SLICE_IS(p, "/messages/count_tokens"))) {
    if (!enter(x, post, "POST", SB_API_ANTHROPIC, &who))
      return;
    if (p.len > 9)
      sb_api_messages_count_tokens(x, &who);
    else
      sb_api_messages(x, &who);
    return;
  }
  if (versioned && (SB_SLICE_IS(p, "/responses") ||
                    sb_slice_starts(p, SB_STRLIT("/responses/")))) {
    sb_api_responses(x, sb_slice(p.ptr + 10, p.len - 10));
    return;
  }
  if (versioned && SB_SLICE_IS(p, "/embeddings")) {
    if (enter(x, post, "POST", SB_API_OPENAI, &who))
      sb_api_embeddings(x, &who);
    return;
  }
  if (versioned && SB_SLICE_IS(p, "/models")) {
    if (enter(x, get, "GET", SB_API_OPENAI, &who))
      sb_api_models(x);
    return;
  }
  if (versioned && p.len > 18 && sb_slice_starts(p, SB_STRLIT("/models/")) &&
      memcmp(p.ptr + p.len - 10, "/endpoints", 10) == 0) {
    if (enter(x, get, "GET", SB_API_OPENAI, &who))
      sb_api_model_endpoints(x, sb_slice(p.ptr + 8, p.len - 18));
    return;
  }
  if (versioned && SB_SLICE_IS(p, "/generation")) {
    if (enter(x, get, "GET", SB_API_OPENAI, &who))
      sb_api_generation(x);
    return;
  }
  if (versioned && (SB_SLICE_IS(p, "/stats") || SB_SLICE_IS(p, "/generations") ||
                    SB_SLICE_IS(p, "/providers"))) {
    if (!enter(x, get, "GET", SB_API_OPENAI, &who))
      return;
    if (SB_SLICE_IS(p, "/stats"))
      sb_api_stats(x, &who);
    else if (SB_SLICE_IS(p, "/generations"))
      sb_api_generations(x, &who);
    else
      sb_api_providers(x, &who);
    return;
  }
  if (versioned && (SB_SLICE_IS(p, "/keys") ||
                    sb_slice_starts(p, SB_STRLIT("/keys/")))) {
    if (enter(x, true, NULL, SB_API_OPENAI, &who))
      sb_api_keys(x, &who, sb_slice(p.ptr + 5, p.len - 5));
    return;
  }
  if (versioned && (SB_SLICE_IS(p, "/key") || SB_SLICE_IS(p, "/auth/key") ||
                    SB_SLICE_IS(p, "/credits"))) {
    if (!enter(x, get, "GET", SB_API_OPENAI, &who))
      return;
    if (SB_SLICE_IS(p, "/credits"))
      sb_api_credits(x, &who);
    else
      sb_api_key_self(x, &who);
    return;
  }
  if (versioned && sb_slice_starts(p, SB_STRLIT("/admin/"))) {
    if (enter(x, true, NULL, SB_API_OPENAI, &who))
      sb_api_admin(x, &who, sb_slice(p.ptr + 6, p.len - 6));
    return;
  }
  if (SB_SLICE_IS(path, "/metrics")) {
    if (enter(x, get, "GET", SB_API_OPENAI, &who))
      sb_api_metrics(x);
    return;
  }
  sb_api_error(x, 404, "not_found", "no endpoint %s %.*s",
               http_method_str((enum http_method)m),
               (int)SB_MIN(path.len, 200), path.ptr);
}

/* ---- shared response helpers -------------------------------------------- */

void sb_api_json(sb_http_exchange_t *x, int status, sb_slice_t body)
{
  sb_http_respond(x, status, NULL, 0, "application/json", body);
}
