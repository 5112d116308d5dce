/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/generation?id=gen-...: one past request from the ledger, in
 * OpenRouter's generation shape. The lookup may touch the disk, so it runs
 * on libuv's thread pool and the answer is written back on the worker.
 * A client key sees only the generations it made; the admin key (and
 * local mode) sees all.
 */
#include <stdio.h>
#include <stdlib.h>

#include "endpoint.h"
#include "reports.h"
#include "switchboard/api.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"

typedef struct {
  sb_ledger_t *ledger;
  char id[64];
  sb_ledger_row_t row;
  sb_status_t rc;
} lookup_t;

static void lookup_work(void *data)
{
  lookup_t *l = data;
  l->rc = sb_ledger_get(l->ledger, l->id, &l->row);
}

static void kv_text(sb_jw_t *w, const char *k, const char *v)
{
  sb_jw_key(w, k, strlen(k));
  if (v[0] == '\0')
    sb_jw_null(w);
  else
    sb_jw_str(w, v, strlen(v));
}

void sb_api_generation_json(sb_jw_t *w, const sb_ledger_row_t *r)
{
  char cost[40], created[40];
  size_t cn = sb_cost_format(r->cost_pico, cost, sizeof(cost));
  time_t t = (time_t)(r->created_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
  sb_jw_obj_begin(w);
  kv_text(w, "id", r->id);
  kv_text(w, "created_at", created);
  kv_text(w, "model", r->model);
  kv_text(w, "requested_model", r->requested_model);
  kv_text(w, "provider_name", r->provider);
  kv_text(w, "upstream_model", r->upstream_model);
  kv_text(w, "api_type", "completions");
  kv_text(w, "api", r->api);
  kv_text(w, "agent", r->agent);
  kv_text(w, "app", r->app);
  kv_text(w, "key_label", r->key_label);
  kv_text(w, "key_hash", r->key_hash);
  sb_jw_kv_int(w, SB_STRLIT("tokens_prompt"), (int64_t)r->usage.prompt);
  sb_jw_kv_int(w, SB_STRLIT("tokens_completion"), (int64_t)r->usage.completion);
  sb_jw_kv_int(w, SB_STRLIT("native_tokens_prompt"), (int64_t)r->usage.prompt);
  sb_jw_kv_int(w, SB_STRLIT("native_tokens_completion"),
               (int64_t)r->usage.completion);
  sb_jw_kv_int(w, SB_STRLIT("native_tokens_cached"), (int64_t)r->usage.cached);
  sb_jw_kv_int(w, SB_STRLIT("native_tokens_cache_write"),
               (int64_t)r->usage.cache_write);
  sb_jw_kv_int(w, SB_STRLIT("native_tokens_reasoning"),
               (int64_t)r->usage.reasoning);
  sb_jw_kv_raw(w, SB_STRLIT("usage_estimated"),
               r->usage_estimated ? "true" : "false", r->usage_estimated ? 4 : 5);
  sb_jw_kv_raw(w, SB_STRLIT("total_cost"), cost, cn);
  sb_jw_kv_raw(w, SB_STRLIT("usage"), cost, cn);
  sb_jw_kv_int(w, SB_STRLIT("latency"), r->latency_ms);
  sb_jw_kv_int(w, SB_STRLIT("generation_time"), r->latency_ms - SB_MIN(r->ttft_ms, r->latency_ms));
  sb_jw_kv_int(w, SB_STRLIT("time_to_first_token"), r->ttft_ms);
  sb_jw_kv_int(w, SB_STRLIT("gateway_overhead_us"), r->overhead_us);
  sb_jw_kv_int(w, SB_STRLIT("status"), r->status);
  kv_text(w, "finish_reason", r->finish_reason);
  kv_text(w, "native_finish_reason", r->native_finish_reason);
  sb_jw_kv_raw(w, SB_STRLIT("streamed"), r->streamed ? "true" : "false",
               r->streamed ? 4 : 5);
  sb_jw_kv_raw(w, SB_STRLIT("cancelled"), r->cancelled ? "true" : "false",
               r->cancelled ? 4 : 5);
  kv_text(w, "error", r->error);
  sb_jw_obj_end(w);
}

static void lookup_done(sb_http_exchange_t *x, void *data)
{
  lookup_t *l = data;
  if (x == NULL) {
    free(l);
    return;
  }
  sb_key_t *k = x->principal;
  if (l->rc == SB_OK && k != NULL && strcmp(l->row.key_hash, k->rec.hash) != 0)
    l->rc = SB_DECLINED; /* a client key sees only its own generations */
  if (l->rc == SB_DECLINED) {
    sb_api_error(x, 404, "not_found", "generation %s not found", l->id);
  } else if (l->rc != SB_OK) {
    sb_api_error(x, 500, "server", "the ledger could not be read");
  } else {
    sb_buf_t b;
    sb_jw_t jw;
    sb_api_data_begin(&b, &jw, 64 * 1024);
    sb_api_generation_json(&jw, &l->row);
    sb_jw_obj_end(&jw);
    sb_api_data_reply(x, 200, &b, &jw);
  }
  free(l);
}

void sb_api_generation(sb_http_exchange_t *x)
{
  sb_ledger_t *ledger = x->worker->gw->ledger;
  sb_slice_t id = sb_http_query_param(&x->arena, x->req.query, "id");
  if (id.ptr == NULL || id.len == 0 || id.len >= 64) {
    sb_api_error(x, 400, "invalid_request", "query parameter 'id' is required");
    return;
  }
  if (ledger == NULL) {
    sb_api_error(x, 503, "server", "no ledger is configured");
    return;
  }
  lookup_t *l = calloc(1, sizeof(*l));
  if (l == NULL) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }
  memcpy(l->id, id.ptr, id.len);
  l->ledger = ledger;
  if (!sb_api_offload(x, lookup_work, lookup_done, l))
    free(l);
}
