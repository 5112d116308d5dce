/* SPDX-License-Identifier: MIT */
/* A key in OpenRouter's JSON shape (key_api.h). */
#include <stdio.h>

#include "endpoint.h"
#include "key_api.h"
#include "switchboard/pricing.h"

void sb_keyjson_usd(sb_jw_t *w, const char *k, int64_t pico)
{
  char buf[40];
  size_t n = sb_cost_format(pico < 0 ? 0 : pico, buf, sizeof(buf));
  sb_jw_key(w, k, strlen(k));
  sb_jw_raw(w, buf, n);
}

static void kv_time(sb_jw_t *w, const char *k, int64_t ms)
{
  sb_jw_key(w, k, strlen(k));
  if (ms == 0) {
    sb_jw_null(w);
    return;
  }
  char buf[40];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
  sb_jw_str(w, buf, n);
}

static void kv_strz(sb_jw_t *w, const char *k, const char *v)
{
  sb_jw_key(w, k, strlen(k));
  if (v == NULL)
    sb_jw_null(w);
  else
    sb_jw_str(w, v, strlen(v));
}

static void write_models(sb_jw_t *w, const char *list)
{
  sb_jw_key_lit(w, "models");
  if (list[0] == '\0') {
    sb_jw_null(w);
    return;
  }
  sb_jw_arr_begin(w);
  const char *p = list;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    sb_jw_str(w, p, n);
    if (e == NULL)
      break;
    p = e + 1;
  }
  sb_jw_arr_end(w);
}

/* The key's default escalation (stored as compact JSON), or null. */
static void write_escalation(sb_jw_t *w, const char *text)
{
  size_t n = strlen(text);
  sb_jw_key_lit(w, "escalation");
  if (n == 0 || sb_json_validate(text, n, 4, NULL) != SB_OK)
    sb_jw_null(w);
  else
    sb_jw_raw(w, text, n);
}

/* OpenRouter's KeyInfo, plus switchboard's rpm / tpm / models /
 * escalation. */
void sb_keyjson_key(sb_jw_t *w, const sb_key_view_t *v, bool self)
{
  const sb_key_record_t *r = &v->rec;
  sb_jw_obj_begin(w);
  kv_strz(w, "hash", r->hash);
  kv_strz(w, "name", r->name);
  kv_strz(w, "label", r->label);
  sb_jw_key_lit(w, "disabled");
  sb_jw_bool(w, r->disabled);
  if (r->limit_pico >= 0) {
    sb_keyjson_usd(w, "limit", r->limit_pico);
    sb_keyjson_usd(w, "limit_remaining", v->remaining);
  } else {
    sb_jw_key_lit(w, "limit");
    sb_jw_null(w);
    sb_jw_key_lit(w, "limit_remaining");
    sb_jw_null(w);
  }
  kv_strz(w, "limit_reset", sb_reset_name(r->limit_reset));
  sb_jw_key_lit(w, "include_byok_in_limit");
  sb_jw_bool(w, false);
  sb_keyjson_usd(w, "usage", v->usage_total);
  sb_keyjson_usd(w, "usage_daily", v->usage_day);
  sb_keyjson_usd(w, "usage_weekly", v->usage_week);
  sb_keyjson_usd(w, "usage_monthly", v->usage_month);
  sb_keyjson_usd(w, "limit_reserved", v->reserved);
  sb_jw_kv_int(w, SB_STRLIT("requests"), (int64_t)v->requests);
  sb_jw_key_lit(w, "rpm");
  if (r->rpm > 0)
    sb_jw_uint(w, r->rpm);
  else
    sb_jw_null(w);
  sb_jw_key_lit(w, "tpm");
  if (r->tpm > 0)
    sb_jw_uint(w, r->tpm);
  else
    sb_jw_null(w);
  write_models(w, r->models);
  write_escalation(w, r->escalation);
  kv_time(w, "created_at", r->created_ms);
  kv_time(w, "updated_at", r->updated_ms);
  kv_time(w, "expires_at", r->expires_ms);
  if (self) {
    /* the fields OpenRouter's /key adds */
    sb_jw_key_lit(w, "is_free_tier");
    sb_jw_bool(w, false);
    sb_jw_key_lit(w, "is_management_key");
    sb_jw_bool(w, false);
    sb_jw_key_lit(w, "is_provisioning_key");
    sb_jw_bool(w, false);
  }
  sb_jw_obj_end(w);
}

void sb_keyjson_reply_key(sb_http_exchange_t *x, int status, sb_key_t *k,
                      const char *secret)
{
  sb_key_view_t v;
  sb_key_view(k, sb_wall_ms(), &v);
  sb_buf_t b;
  sb_jw_t w;
  sb_api_data_begin(&b, &w, 64 * 1024);
  sb_keyjson_key(&w, &v, false);
  if (secret != NULL)
    kv_strz(&w, "key", secret);
  sb_jw_obj_end(&w);
  sb_api_data_reply(x, status, &b, &w);
}

