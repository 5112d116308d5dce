/* SPDX-License-Identifier: MIT */
/*
 * Operations: what the gateway tells its operator about the requests it
 * serves (docs/observability.md) — the access log, the live request feed,
 * the request metrics and the traces.
 *
 * Every request, when its exchange ends, is described once (an access
 * record, access.h) on its worker's thread: the metrics count it there
 * (metrics.h), and when anyone wants the record (the access log is on, a
 * live feed is open, or the request is traced) it is packed into the
 * worker's ring (ring.h). Nothing on a worker writes to a file, a socket
 * or takes a lock: one operations thread drains the rings, writes the
 * access log, feeds the live subscribers and hands sampled requests to the
 * trace exporter's thread (otel.h). When a ring is full, the record is
 * lost and counted; a request never waits.
 */
#ifndef SWITCHBOARD_OPS_H
#define SWITCHBOARD_OPS_H

#include "switchboard/access.h"
#include "switchboard/config.h"
#include "switchboard/http.h"
#include "switchboard/metrics.h"

typedef struct sb_ops sb_ops_t;

/* For `n_workers` workers, as `cfg` says (log, otel). Opens the access
 * log's file (so that a path it cannot write is refused at start); NULL
 * with the reason in `err` on failure. */
sb_ops_t *sb_ops_new(const sb_config_t *cfg, unsigned n_workers, char *err,
                     size_t errlen);
/* Start the operations thread (and the exporter's, with `otel`). */
sb_status_t sb_ops_start(sb_ops_t *ops);
/* After the workers stopped: every record left is written, the last
 * spans are offered to the collector once; the threads end. */
void sb_ops_stop(sb_ops_t *ops);
void sb_ops_free(sb_ops_t *ops);

/* The exchange-finish hook (the workers' sb_http_settings_t.on_finish):
 * describe the request, count it, and queue its record. */
void sb_ops_request_done(sb_http_exchange_t *x);

/* SIGUSR1: reopen the access log's file (logrotate moved it). Done by the
 * operations thread; returns at once. */
void sb_ops_reopen(sb_ops_t *ops);

/* Traces: on (otel.endpoint set), and the share of new traces kept. */
bool sb_ops_tracing(const sb_ops_t *ops);
double sb_ops_sample(const sb_ops_t *ops);

sb_metrics_t *sb_ops_metrics(sb_ops_t *ops);
/* The operations' own counters (access log, live feed, exporter) in
 * Prometheus text. */
void sb_ops_render_metrics(sb_ops_t *ops, sb_buf_t *out);

/* Everything /metrics adds to the gateway's older families
 * (docs/observability.md, "Metrics"): requests, tokens and cost by model
 * and provider, upstream histograms, retries and fallbacks, breakers by
 * endpoint, the process's memory and open files, and the operations'
 * own counters (src/gateway/scrape.c). */
struct sb_gateway;
void sb_ops_scrape(struct sb_gateway *gw, sb_buf_t *out);

/* ---- the live request feed (GET /api/v1/admin/logs/live) -------------- */

/* Which records a subscriber gets: each given field must equal the
 * record's; `status` holds a bit per status class (1 << 2 for 2xx ...),
 * 0 for every class. Strings are copied. */
typedef struct {
  sb_slice_t door, model, provider, key;
  unsigned status;
} sb_live_filter_t;

/* Answer exchange `x` (a GET the caller may make) with the feed: an
 * event stream, each `data:` line one access record as JSON (the access
 * log's fields). It ends when the client goes away or the gateway stops. */
void sb_live_start(sb_http_exchange_t *x, const sb_live_filter_t *f);
/* At shutdown, before the workers drain: end every feed. */
void sb_live_close_all(sb_ops_t *ops);

#endif
