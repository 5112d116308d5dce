/* SPDX-License-Identifier: MIT */
/* A key's create or update body read into its record (key_api.h). */
#include <stdio.h>
#include <time.h>

#include "endpoint.h"
#include "key_api.h"
#include "switchboard/pricing.h"

/* Apply the members of `body` to `r`. `creating` requires a name. On error
 * writes a message into `err`. */
sb_status_t sb_keybody_apply(sb_arena_t *a, const sb_json_t *body,
                              sb_key_record_t *r, bool creating, char *err,
                              size_t errlen)
{
  static const char *const allowed[] = {
      "name", "limit", "limit_reset", "expires_at", "disabled", "rpm", "tpm",
      "models", "include_byok_in_limit", "workspace_id", "creator_user_id",
      "escalation", NULL};
  if (!sb_json_is(body, SB_JSON_OBJECT)) {
    snprintf(err, errlen, "the body must be a JSON object");
    return SB_ERROR;
  }
  for (const sb_json_t *m = body->child; m != NULL; m = m->next) {
    bool ok = false;
    for (size_t i = 0; allowed[i] != NULL; i++)
      if (sb_slice_eq(m->key, sb_slice_z(allowed[i])))
        ok = true;
    if (!ok) {
      snprintf(err, errlen, "unknown field '%.*s'", (int)SB_MIN(m->key.len, 64),
               m->key.ptr);
      return SB_ERROR;
    }
  }
  const sb_json_t *v;
  sb_slice_t s;
  if ((v = sb_json_get(body, "name")) != NULL) {
    if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
        s.len == 0 || s.len > SB_KEY_MAX_NAME ||
        memchr(s.ptr, '\0', s.len) != NULL) {
      snprintf(err, errlen, "'name' must be a string of 1 to %d bytes",
               SB_KEY_MAX_NAME);
      return SB_ERROR;
    }
    memcpy(r->name, s.ptr, s.len);
    r->name[s.len] = '\0';
  } else if (creating) {
    snprintf(err, errlen, "'name' is required");
    return SB_ERROR;
  }
  if ((v = sb_json_get(body, "limit")) != NULL) {
    int64_t pico;
    if (v->type == SB_JSON_NULL)
      r->limit_pico = -1;
    else if (v->type == SB_JSON_NUMBER && sb_price_parse(v->raw, &pico) == SB_OK)
      r->limit_pico = pico;
    else {
      snprintf(err, errlen,
               "'limit' must be null or a non-negative number of USD (at most "
               "12 decimals)");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "limit_reset")) != NULL) {
    if (v->type == SB_JSON_NULL)
      r->limit_reset = SB_RESET_NONE;
    else if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
             sb_reset_parse(s, &r->limit_reset) != SB_OK) {
      snprintf(err, errlen,
               "'limit_reset' must be null, \"daily\", \"weekly\" or \"monthly\"");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "expires_at")) != NULL) {
    if (v->type == SB_JSON_NULL)
      r->expires_ms = 0;
    else if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
             sb_api_parse_utc(s, &r->expires_ms) != SB_OK) {
      snprintf(err, errlen,
               "'expires_at' must be null or a UTC time like "
               "\"2026-12-31T23:59:59Z\"");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "disabled")) != NULL) {
    if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE) {
      snprintf(err, errlen, "'disabled' must be true or false");
      return SB_ERROR;
    }
    r->disabled = v->type == SB_JSON_TRUE;
  }
  const char *const rate_fields[] = {"rpm", "tpm"};
  uint32_t *rate_out[] = {&r->rpm, &r->tpm};
  for (size_t i = 0; i < 2; i++) {
    int64_t n;
    if ((v = sb_json_getn(body, rate_fields[i], 3)) == NULL)
      continue;
    if (v->type == SB_JSON_NULL)
      *rate_out[i] = 0;
    else if (sb_json_int64(v, &n) == SB_OK && n >= 0 && n <= UINT32_MAX)
      *rate_out[i] = (uint32_t)n;
    else {
      snprintf(err, errlen, "'%s' must be null or an integer >= 0",
               rate_fields[i]);
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "models")) != NULL) {
    char list[SB_KEY_MAX_MODELS + 1];
    size_t len = 0;
    if (v->type != SB_JSON_NULL && v->type != SB_JSON_ARRAY) {
      snprintf(err, errlen, "'models' must be null or a list of model ids");
      return SB_ERROR;
    }
    for (const sb_json_t *m = v->type == SB_JSON_ARRAY ? v->child : NULL;
         m != NULL; m = m->next) {
      if (!sb_json_is(m, SB_JSON_STRING) || sb_json_string(a, m, &s) != SB_OK ||
          s.len == 0 || memchr(s.ptr, ',', s.len) != NULL ||
          memchr(s.ptr, '\0', s.len) != NULL) {
        snprintf(err, errlen, "'models' must hold non-empty model ids");
        return SB_ERROR;
      }
      if (len + s.len + 1 > SB_KEY_MAX_MODELS) {
        snprintf(err, errlen, "'models' is longer than %d bytes in all",
                 SB_KEY_MAX_MODELS);
        return SB_ERROR;
      }
      if (len > 0)
        list[len++] = ',';
      memcpy(list + len, s.ptr, s.len);
      len += s.len;
    }
    memcpy(r->models, list, len);
    r->models[len] = '\0';
  }
  if ((v = sb_json_get(body, "escalation")) != NULL &&
      sb_escalation_normalize(v, r->escalation, sizeof(r->escalation), err,
                              errlen) != SB_OK)
    return SB_ERROR;
  return SB_OK;
}

