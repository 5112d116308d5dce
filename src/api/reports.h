/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's endpoints (docs/dashboard.md) and what they share with
 * the other report endpoints: the dashboard's files (ui.c), the ledger's
 * reports (stats.c), the providers and their health (providers.c), a
 * generation as JSON (generation.c).
 */
#ifndef SWITCHBOARD_API_REPORTS_H
#define SWITCHBOARD_API_REPORTS_H

#include "switchboard/api.h"
#include "switchboard/health.h"
#include "switchboard/ledger.h"

/* GET /: the dashboard for a browser (a request that accepts text/html),
 * otherwise a JSON summary of what the gateway serves. Open, like
 * /health. */
void sb_api_root(sb_http_exchange_t *x);
/* GET /ui/{file}: one of the dashboard's files (`file` follows "/ui/";
 * empty: the page itself). Open: the files hold no data. */
void sb_api_ui(sb_http_exchange_t *x, sb_slice_t file);
/* Once at start (sb_api_open): the files' validators (ETag). */
void sb_api_ui_open(void);

/* GET /api/v1/stats: totals, a series and top groups from the ledger. */
void sb_api_stats(sb_http_exchange_t *x, const sb_identity_t *who);
/* GET /api/v1/generations: the most recent ledger rows. */
void sb_api_generations(sb_http_exchange_t *x, const sb_identity_t *who);
/* GET /api/v1/providers: the configured providers, their keys' states,
 * their endpoints and every endpoint's health. */
void sb_api_providers(sb_http_exchange_t *x, const sb_identity_t *who);

/* A generation's members, as GET /api/v1/generation's "data". */
void sb_api_generation_json(sb_jw_t *w, const sb_ledger_row_t *r);
/* An endpoint's health as switchboard sees it (an object): breaker,
 * usable, requests, failures, error_rate, latency_ms, ttft_ms,
 * tokens_per_second, uptime_30m, samples_30m. */
void sb_api_health_json(sb_jw_t *w, const sb_health_view_t *v);

#endif
