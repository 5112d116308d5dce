/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/models (and /api/v1/models) in OpenRouter's model shape (which
 * the OpenAI SDK also reads: `object`, `id`, `created`, `owned_by`), plus
 * /health and /metrics. A catalog is immutable, so both model lists are
 * rendered once per catalog (by the first request that wants them after a
 * refresh) and kept with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "reports.h"
#include "switchboard/codec.h"
#include "switchboard/api.h"
#include "switchboard/health.h"
#include "switchboard/json_edit.h"
#include "switchboard/counters.h"
#include "switchboard/ledger.h"
#include "switchboard/ops.h"
#include "switchboard/upstream.h"

typedef struct {
  sb_catalog_extra_t base;
  sb_buf_t routable; /* models some configured provider serves */
  sb_buf_t all;      /* the whole catalog (?all=true) */
} model_lists_t;

static void copy_member(sb_jw_t *w, const sb_json_t *obj, const char *key,
                        const char *fallback)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  sb_jw_key(w, key, strlen(key));
  if (v != NULL)
    sb_json_write_compact(w, v);
  else
    sb_jw_raw(w, fallback, strlen(fallback));
}

/* `pricing` as written where it came from, then where and when that was:
 * `pricing_source` ("embedded", "openrouter", "config", "provider:NAME")
 * and `pricing_updated_at` (unix seconds, like `created`; null when not
 * known). */
static void write_pricing(sb_jw_t *w, const sb_endpoint_t *ep)
{
  static const char *const keys[] = {"prompt", "completion", "request",
                                     "image", "input_cache_read",
                                     "input_cache_write", "internal_reasoning"};
  bool unknown = ep == NULL || ep->price.unknown;
  sb_jw_key_lit(w, "pricing");
  sb_jw_obj_begin(w);
  for (size_t i = 0; i < SB_ARRAY_LEN(keys); i++) {
    const sb_json_t *v = ep != NULL ? sb_json_getn(ep->pricing, keys[i],
                                                   strlen(keys[i]))
                                    : NULL;
    if (v != NULL && v->type == SB_JSON_STRING) {
      sb_jw_key(w, keys[i], strlen(keys[i]));
      sb_jw_value(w, v);
    } else if (i < 4) {
      /* required by the model schema: "0" means free / not charged, "-1"
       * (OpenRouter's convention) that the price is not known */
      sb_jw_key(w, keys[i], strlen(keys[i]));
      sb_jw_str(w, unknown ? "-1" : "0", unknown ? 2 : 1);
    }
  }
  sb_jw_obj_end(w);
  const char *src = ep != NULL && ep->pricing_source != NULL
                        ? ep->pricing_source
                        : NULL;
  sb_jw_key_lit(w, "pricing_source");
  if (src != NULL)
    sb_jw_str(w, src, strlen(src));
  else
    sb_jw_null(w);
  sb_jw_key_lit(w, "pricing_updated_at");
  if (ep != NULL && ep->pricing_updated_at > 0)
    sb_jw_int(w, ep->pricing_updated_at);
  else
    sb_jw_null(w);
}

static void write_model(sb_jw_t *w, const sb_model_t *m)
{
  const sb_endpoint_t *ep = sb_model_default_endpoint(m);
  if (ep == NULL && m->n_endpoints > 0)
    ep = &m->endpoints[0];
  const char *slash = strchr(m->id, '/');
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("id"), m->id, strlen(m->id));
  sb_jw_kv_str(w, SB_STRLIT("canonical_slug"), m->id, strlen(m->id));
  sb_jw_kv_lit(w, "object", "model");
  sb_jw_kv_str(w, SB_STRLIT("owned_by"), m->id, (size_t)(slash - m->id));
  sb_jw_kv_str(w, SB_STRLIT("name"), m->name, strlen(m->name));
  copy_member(w, m->json, "created", "0");
  copy_member(w, m->json, "description", "\"\"");
  sb_jw_kv_int(w, SB_STRLIT("context_length"), m->context_length);
  copy_member(w, m->json, "architecture",
              "{\"modality\":\"text->text\",\"input_modalities\":[\"text\"],"
              "\"output_modalities\":[\"text\"],\"tokenizer\":\"Other\","
              "\"instruct_type\":null}");
  write_pricing(w, ep);
  copy_member(w, m->json, "top_provider", "{\"context_length\":null,"
              "\"max_completion_tokens\":null,\"is_moderated\":false}");
  sb_jw_kv_raw(w, SB_STRLIT("per_request_limits"), SB_STRLIT("null"));
  copy_member(w, m->json, "supported_parameters", "[]");
  sb_jw_kv_raw(w, SB_STRLIT("default_parameters"), SB_STRLIT("{}"));
  sb_jw_kv_raw(w, SB_STRLIT("supported_voices"), SB_STRLIT("null"));
  sb_jw_key_lit(w, "links");
  sb_jw_obj_begin(w);
  char link[512];
  int n = snprintf(link, sizeof(link), "/api/v1/models/%s/endpoints", m->id);
  sb_jw_kv_str(w, SB_STRLIT("details"), link, (size_t)n);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

static sb_status_t render(const sb_catalog_t *cat, bool all, sb_buf_t *out)
{
  sb_jw_t w;
  size_t count = 0;
  sb_buf_init(out, 64u << 20);
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_lit(&w, "object", "list");
  sb_jw_key_lit(&w, "data");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < cat->n_models; i++) {
    if (!all && sb_model_default_endpoint(&cat->models[i]) == NULL)
      continue;
    write_model(&w, &cat->models[i]);
    count++;
  }
  sb_jw_arr_end(&w);
  sb_jw_kv_int(&w, SB_STRLIT("total_count"), (int64_t)count);
  sb_jw_key_lit(&w, "links");
  sb_jw_raw(&w, SB_STRLIT("{\"next\":null}"));
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

static void lists_free(sb_catalog_extra_t *e)
{
  model_lists_t *l = (model_lists_t *)e;
  sb_buf_free(&l->routable);
  sb_buf_free(&l->all);
  free(l);
}

/* The lists of `cat`, rendered by whichever request asks first (two that
 * race both render; one copy is kept). NULL when out of memory. */
static const model_lists_t *lists_of(const sb_catalog_t *cat)
{
  model_lists_t *l = (model_lists_t *)sb_catalog_extra(cat, SB_CATALOG_EXTRA_MODELS);
  if (l != NULL)
    return l;
  l = calloc(1, sizeof(*l));
  if (l == NULL)
    return NULL;
  l->base.free = lists_free;
  if (render(cat, false, &l->routable) != SB_OK ||
      render(cat, true, &l->all) != SB_OK) {
    lists_free(&l->base);
    return NULL;
  }
  if (!sb_catalog_attach(cat, SB_CATALOG_EXTRA_MODELS, &l->base)) {
    lists_free(&l->base);
    l = (model_lists_t *)sb_catalog_extra(cat, SB_CATALOG_EXTRA_MODELS);
  }
  return l;
}

void sb_api_models(sb_http_exchange_t *x)
{
  sb_slice_t all = sb_http_query_param(&x->arena, x->req.query, "all");
  bool want_all = all.ptr != NULL && (SB_SLICE_IS(all, "true") || SB_SLICE_IS(all, "1"));
  const model_lists_t *l = lists_of(sb_gateway_catalog(x));
  if (l == NULL) {
    sb_api_error(x, 500, "server", "the model list could not be rendered");
    return;
  }
  sb_api_json(x, 200, sb_buf_slice(want_all ? &l->all : &l->routable));
}

/* A percentile object from the moving average switchboard keeps: p50 is
 * the EWMA, the higher percentiles are not tracked (null). */
static void percentiles(sb_jw_t *w, bool known, double v)
{
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "p50");
  if (known)
    sb_jw_double(w, v);
  else
    sb_jw_null(w);
  sb_jw_kv_raw(w, SB_STRLIT("p75"), SB_STRLIT("null"));
  sb_jw_kv_raw(w, SB_STRLIT("p90"), SB_STRLIT("null"));
  sb_jw_kv_raw(w, SB_STRLIT("p99"), SB_STRLIT("null"));
  sb_jw_obj_end(w);
}

void sb_api_model_endpoints(sb_http_exchange_t *x, sb_slice_t id)
{
  const sb_gateway_t *gw = x->worker->gw;
  const sb_model_t *m = sb_catalog_find(sb_gateway_catalog(x), id);
  if (m == NULL) {
    sb_api_error(x, 404, "not_found", "model '%.*s' is not in the catalog",
                 (int)SB_MIN(id.len, 200), id.ptr);
    return;
  }
  int64_t now = sb_wall_ms();
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 4u << 20);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "data");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("id"), m->id, strlen(m->id));
  sb_jw_kv_str(&w, SB_STRLIT("name"), m->name, strlen(m->name));
  copy_member(&w, m->json, "created", "0");
  copy_member(&w, m->json, "description", "\"\"");
  copy_member(&w, m->json, "architecture", "null");
  sb_jw_key_lit(&w, "endpoints");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < m->n_endpoints; i++) {
    const sb_endpoint_t *e = &m->endpoints[i];
    if (e->provider == NULL || sb_codec_find(e->provider->format) == NULL)
      continue;
    sb_health_view_t v;
    sb_health_view(gw->health, e->slot, now, &v);
    const char *disp = e->provider->display_name;
    sb_jw_obj_begin(&w);
    char name[512];
    int n = snprintf(name, sizeof(name), "%s | %s", disp, e->upstream_model);
    sb_jw_kv_str(&w, SB_STRLIT("name"), name,
                 (size_t)SB_MIN((size_t)n, sizeof(name) - 1));
    sb_jw_kv_str(&w, SB_STRLIT("model_id"), m->id, strlen(m->id));
    sb_jw_kv_str(&w, SB_STRLIT("model_name"), m->name, strlen(m->name));
    sb_jw_kv_str(&w, SB_STRLIT("provider_name"), disp, strlen(disp));
    sb_jw_kv_str(&w, SB_STRLIT("tag"), e->provider_name,
                 strlen(e->provider_name));
    sb_jw_kv_int(&w, SB_STRLIT("context_length"),
                 e->context_length > 0 ? e->context_length : m->context_length);
    sb_jw_kv_raw(&w, SB_STRLIT("max_completion_tokens"), SB_STRLIT("null"));
    sb_jw_kv_raw(&w, SB_STRLIT("max_prompt_tokens"), SB_STRLIT("null"));
    write_pricing(&w, e);
    sb_jw_kv_raw(&w, SB_STRLIT("quantization"), SB_STRLIT("null"));
    copy_member(&w, m->json, "supported_parameters", "[]");
    sb_jw_kv_raw(&w, SB_STRLIT("supports_implicit_caching"), SB_STRLIT("false"));
    /* OpenRouter's status: 0 serving; negative when degraded. Here -1 is
     * a half-open breaker (one probe at a time), -2 an open one. */
    sb_jw_kv_int(&w, SB_STRLIT("status"),
                 v.state == SB_BREAKER_OPEN        ? -2
                 : v.state == SB_BREAKER_HALF_OPEN ? -1
                                                   : 0);
    sb_jw_key_lit(&w, "uptime_last_30m");
    if (v.samples_30m > 0)
      sb_jw_double(&w, v.uptime_30m * 100.0);
    else
      sb_jw_null(&w);
    sb_jw_key_lit(&w, "latency_last_30m");
    percentiles(&w, v.seeded, v.ttft_ms);
    sb_jw_key_lit(&w, "throughput_last_30m");
    percentiles(&w, v.tps > 0, v.tps);
    /* switchboard's own view of the endpoint */
    sb_jw_key_lit(&w, "health");
    sb_api_health_json(&w, &v);
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) == SB_OK)
    sb_api_json(x, 200, sb_buf_slice(&b));
  else
    sb_api_error(x, 500, "server", "the endpoint list could not be rendered");
  sb_buf_free(&b);
}

/* "2026-11-30T15:13:00Z" */
static size_t utc_time(int64_t ms, char *out, size_t cap)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The ledger's part of /health. */
static void health_ledger(sb_jw_t *w, const sb_ledger_stats_t *ls,
                          const char *since, size_t since_len)
{
  const char *state = ls->failing    ? "failing"
                      : ls->degraded ? "catching_up"
                                     : "ok";
  sb_jw_key_lit(w, "ledger");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("status"), state, strlen(state));
  sb_jw_key_lit(w, "waiting");
  sb_jw_uint(w, ls->waiting);
  sb_jw_key_lit(w, "errors");
  sb_jw_uint(w, ls->errors);
  sb_jw_key_lit(w, "refusing_requests");
  sb_jw_bool(w, ls->refusing);
  if (ls->degraded) {
    sb_jw_kv_str(w, SB_STRLIT("since"), since, since_len);
    sb_jw_kv_str(w, SB_STRLIT("error"), ls->reason, strlen(ls->reason));
  }
  sb_jw_obj_end(w);
}

/* The shared counters' part of /health (docs/scale-out.md). */
static void health_counters(sb_jw_t *w, const sb_counters_stats_t *cs)
{
  const char *state = cs->ready ? "ok" : "unavailable";
  sb_jw_key_lit(w, "counters");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("status"), state, strlen(state));
  sb_jw_kv_int(w, SB_STRLIT("epoch"), (int64_t)cs->epoch);
  sb_jw_kv_int(w, SB_STRLIT("owed"), (int64_t)cs->owed);
  sb_jw_kv_int(w, SB_STRLIT("refused"), (int64_t)cs->unavailable);
  if (!cs->ready)
    sb_jw_kv_str(w, SB_STRLIT("error"), cs->reason, strlen(cs->reason));
  sb_jw_obj_end(w);
}

/* 200 {"status": "ok"} while all is well; "degraded" with its reason while
 * the ledger's store fails or catches up, or the shared counters cannot be
 * reached: 200 while the gateway still serves, 503 while it refuses model
 * requests (docs/observability.md). */
void sb_api_health(sb_http_exchange_t *x)
{
  const sb_gateway_t *gw = x->worker->gw;
  sb_ledger_stats_t ls;
  memset(&ls, 0, sizeof(ls));
  if (gw->ledger != NULL)
    sb_ledger_stats(gw->ledger, &ls);
  char since[32] = "", reason[512];
  size_t since_len = ls.degraded
                         ? utc_time(ls.degraded_since_ms, since, sizeof(since))
                         : 0;
  sb_counters_stats_t cs;
  sb_counters_stats(gw->counters, &cs);
  bool degraded = ls.degraded || (cs.configured && !cs.ready);
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 8192);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("status"), degraded ? "degraded" : "ok",
               degraded ? 8 : 2);
  if (!ls.degraded && degraded) {
    int n = snprintf(reason, sizeof(reason),
                     "counters: Redis is unavailable (%s)", cs.reason);
    sb_jw_kv_str(&w, SB_STRLIT("reason"), reason,
                 SB_MIN((size_t)n, sizeof(reason) - 1));
  }
  if (ls.degraded) {
    int n = snprintf(reason, sizeof(reason), "ledger: %s since %s; %llu rows wait%s",
                     ls.reason, since, (unsigned long long)ls.waiting,
                     ls.failing ? "" : " (the store takes writes again)");
    sb_jw_kv_str(&w, SB_STRLIT("reason"), reason,
                 SB_MIN((size_t)n, sizeof(reason) - 1));
  }
  sb_jw_kv_int(&w, SB_STRLIT("uptime_s"),
               (sb_wall_ms() - gw->started_ms) / 1000);
  sb_jw_kv_int(&w, SB_STRLIT("workers"), gw->n_workers);
  sb_jw_kv_int(&w, SB_STRLIT("providers"),
               (int64_t)sb_gateway_config(x)->n_providers);
  sb_jw_kv_int(&w, SB_STRLIT("models"), (int64_t)sb_gateway_catalog(x)->n_models);
  if (gw->ledger != NULL)
    health_ledger(&w, &ls, since, since_len);
  if (cs.configured)
    health_counters(&w, &cs);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) == SB_OK)
    sb_api_json(x, ls.refusing ? 503 : 200, sb_buf_slice(&b));
  else
    sb_api_error(x, 500, "server", "the health report could not be rendered");
  sb_buf_free(&b);
}

void sb_api_metrics(sb_http_exchange_t *x)
{
  /* Counters are per worker and only ever increase (or, for gauges, are
   * read racily): good enough for monitoring, no locks on the hot path. */
  const sb_gateway_t *gw = x->worker->gw;
  sb_buf_t b;
  sb_buf_init(&b, 1 << 20);
  sb_buf_appendz(&b, "# HELP switchboard_requests_total HTTP requests received.\n"
                     "# TYPE switchboard_requests_total counter\n");
  for (unsigned i = 0; i < gw->n_workers; i++)
    sb_buf_appendf(&b, "switchboard_requests_total{worker=\"%u\"} %llu\n", i,
                   (unsigned long long)__atomic_load_n(
                       &gw->workers[i].n_requests, __ATOMIC_RELAXED));
  sb_buf_appendz(&b, "# HELP switchboard_active_streams Streams in flight.\n"
                     "# TYPE switchboard_active_streams gauge\n");
  for (unsigned i = 0; i < gw->n_workers; i++)
    sb_buf_appendf(&b, "switchboard_active_streams{worker=\"%u\"} %llu\n", i,
                   (unsigned long long)__atomic_load_n(
                       &gw->workers[i].n_active_streams, __ATOMIC_RELAXED));
  sb_overhead_metrics(gw, &b);
  if (gw->ledger != NULL) {
    sb_ledger_stats_t ls;
    sb_ledger_stats(gw->ledger, &ls);
    sb_buf_appendf(
        &b,
        "# HELP switchboard_ledger_rows_total Ledger rows committed.\n"
        "# TYPE switchboard_ledger_rows_total counter\n"
        "switchboard_ledger_rows_total %llu\n"
        "# HELP switchboard_ledger_queue Ledger rows waiting for the store.\n"
        "# TYPE switchboard_ledger_queue gauge\n"
        "switchboard_ledger_queue %llu\n"
        "# HELP switchboard_ledger_full_waits_total Times a request waited "
        "because the store was 8192 rows behind.\n"
        "# TYPE switchboard_ledger_full_waits_total counter\n"
        "switchboard_ledger_full_waits_total %llu\n"
        "# HELP switchboard_ledger_writer_idle_priority Whether the ledger "
        "writer runs at idle priority now (1) or at the workers' (0).\n"
        "# TYPE switchboard_ledger_writer_idle_priority gauge\n"
        "switchboard_ledger_writer_idle_priority %d\n"
        "# HELP switchboard_ledger_writer_boosts_total Times the ledger "
        "writer was raised from idle to normal priority to catch up.\n"
        "# TYPE switchboard_ledger_writer_boosts_total counter\n"
        "switchboard_ledger_writer_boosts_total %llu\n"
        "# HELP switchboard_ledger_errors_total Commits the ledger's store "
        "refused (their rows are kept and retried).\n"
        "# TYPE switchboard_ledger_errors_total counter\n"
        "switchboard_ledger_errors_total %llu\n"
        "# HELP switchboard_ledger_failing Whether the store refused the "
        "ledger's last commit (1) or took it (0).\n"
        "# TYPE switchboard_ledger_failing gauge\n"
        "switchboard_ledger_failing %d\n"
        "# HELP switchboard_ledger_refused_total Model requests refused with "
        "503 because the ledger could not take their rows.\n"
        "# TYPE switchboard_ledger_refused_total counter\n"
        "switchboard_ledger_refused_total %llu\n"
        "# HELP switchboard_ledger_undelivered_total Durable responses not "
        "delivered (503) because their rows could not be committed.\n"
        "# TYPE switchboard_ledger_undelivered_total counter\n"
        "switchboard_ledger_undelivered_total %llu\n",
        (unsigned long long)ls.committed, (unsigned long long)ls.waiting,
        (unsigned long long)ls.full_waits, ls.writer_yields ? 1 : 0,
        (unsigned long long)ls.writer_boosts, (unsigned long long)ls.errors,
        ls.failing ? 1 : 0, (unsigned long long)ls.refused,
        (unsigned long long)ls.undelivered);
  }
  sb_ops_scrape(x->worker->gw, &b);
  sb_http_respond(x, 200, NULL, 0, "text/plain; version=0.0.4",
                  sb_buf_slice(&b));
  sb_buf_free(&b);
}
