/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/providers (admin key): every configured provider with its
 * format, base URL (without credentials), its keys' states (counts, never
 * the keys), its own health (requests to ids the catalog does not list go
 * to the provider as a whole) and the endpoints the current catalog lists
 * for it, each with its health: breaker, error rate, latency, throughput.
 * docs/dashboard.md.
 */
#include <stdio.h>

#include "endpoint.h"
#include "reports.h"
#include "switchboard/codec.h"

static const char *breaker_name(sb_breaker_state_t s)
{
  return s == SB_BREAKER_OPEN        ? "open"
         : s == SB_BREAKER_HALF_OPEN ? "half_open"
                                     : "closed";
}

void sb_api_health_json(sb_jw_t *w, const sb_health_view_t *v)
{
  const char *bn = breaker_name(v->state);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("breaker"), bn, strlen(bn));
  sb_jw_key_lit(w, "usable");
  sb_jw_bool(w, v->usable);
  sb_jw_kv_int(w, SB_STRLIT("requests"), (int64_t)v->requests);
  sb_jw_kv_int(w, SB_STRLIT("failures"), (int64_t)v->failures);
  sb_jw_key_lit(w, "error_rate");
  sb_jw_double(w, v->error_rate);
  sb_jw_key_lit(w, "latency_ms");
  sb_jw_double(w, v->latency_ms);
  sb_jw_key_lit(w, "ttft_ms");
  sb_jw_double(w, v->ttft_ms);
  sb_jw_key_lit(w, "tokens_per_second");
  sb_jw_double(w, v->tps);
  sb_jw_key_lit(w, "uptime_30m");
  if (v->samples_30m > 0)
    sb_jw_double(w, v->uptime_30m);
  else
    sb_jw_null(w);
  sb_jw_kv_int(w, SB_STRLIT("samples_30m"), v->samples_30m);
  sb_jw_obj_end(w);
}

/* The base URL without "user:password@" (a proxy's or a private
 * server's credentials may be written there). */
static void write_base_url(sb_jw_t *w, const char *url)
{
  const char *scheme = strstr(url, "://");
  const char *host = scheme != NULL ? scheme + 3 : url;
  size_t auth_end = strcspn(host, "/?#");
  const char *at = memchr(host, '@', auth_end);
  sb_jw_key_lit(w, "base_url");
  if (at == NULL) {
    sb_jw_str(w, url, strlen(url));
    return;
  }
  char clean[1024];
  int n = snprintf(clean, sizeof(clean), "%.*s%s", (int)(host - url), url, at + 1);
  sb_jw_str(w, clean, (size_t)SB_MIN((size_t)n, sizeof(clean) - 1));
}

static void write_keys(sb_jw_t *w, sb_health_t *h, const sb_provider_t *p)
{
  unsigned usable = 0, cooling = 0, set_aside = 0;
  for (size_t k = 0; k < p->n_keys; k++) {
    int64_t until = sb_health_key_until(h, p, (int)k);
    if (until == 0)
      usable++;
    else if (until == INT64_MAX)
      set_aside++;
    else
      cooling++;
  }
  sb_jw_key_lit(w, "keys");
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("total"), (int64_t)p->n_keys);
  sb_jw_kv_int(w, SB_STRLIT("usable"), usable);
  sb_jw_kv_int(w, SB_STRLIT("cooling_down"), cooling);
  sb_jw_kv_int(w, SB_STRLIT("set_aside"), set_aside);
  sb_jw_obj_end(w);
}

static void write_endpoints(sb_jw_t *w, const sb_gateway_t *gw,
                            const sb_catalog_t *cat, const sb_provider_t *p,
                            int64_t now)
{
  sb_jw_key_lit(w, "endpoints");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < cat->n_models; i++) {
    const sb_model_t *m = &cat->models[i];
    const sb_endpoint_t *def = sb_model_default_endpoint(m);
    for (size_t j = 0; j < m->n_endpoints; j++) {
      const sb_endpoint_t *e = &m->endpoints[j];
      if (e->provider != p)
        continue;
      sb_health_view_t v;
      sb_health_view(gw->health, e->slot, now, &v);
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("model"), m->id, strlen(m->id));
      sb_jw_kv_str(w, SB_STRLIT("upstream_model"), e->upstream_model,
                   strlen(e->upstream_model));
      sb_jw_key_lit(w, "default");
      sb_jw_bool(w, e == def);
      sb_jw_key_lit(w, "health");
      sb_api_health_json(w, &v);
      sb_jw_obj_end(w);
    }
  }
  sb_jw_arr_end(w);
}

void sb_api_providers(sb_http_exchange_t *x, const sb_identity_t *who)
{
  if (!sb_api_need_admin(x, who, "the provider list"))
    return;
  const sb_gateway_t *gw = x->worker->gw;
  /* The catalog this request took as it started (the router takes it
   * first), and the config it was built from: a refresh or a reload that
   * replaces them meanwhile does not free them. */
  const sb_catalog_t *cat = sb_gateway_catalog(x);
  const sb_config_t *cfg = sb_gateway_config(x);
  int64_t now = sb_wall_ms();
  sb_buf_t b;
  sb_jw_t w;
  sb_api_data_begin(&b, &w, 16u << 20);
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < cfg->n_providers; i++) {
    const sb_provider_t *p = &cfg->providers[i];
    sb_health_view_t v;
    sb_health_view(gw->health, sb_health_provider_slot(gw->health, p), now, &v);
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("name"), p->name, strlen(p->name));
    sb_jw_kv_str(&w, SB_STRLIT("display_name"), p->display_name,
                 strlen(p->display_name));
    sb_jw_kv_str(&w, SB_STRLIT("format"), p->format, strlen(p->format));
    sb_jw_key_lit(&w, "supported");
    sb_jw_bool(&w, sb_codec_find(p->format) != NULL);
    write_base_url(&w, p->base_url);
    sb_jw_key_lit(&w, "proxy");
    sb_jw_bool(&w, p->proxy != NULL);
    write_keys(&w, gw->health, p);
    sb_jw_key_lit(&w, "health");
    sb_api_health_json(&w, &v);
    write_endpoints(&w, gw, cat, p, now);
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  sb_api_data_reply(x, 200, &b, &w);
}
