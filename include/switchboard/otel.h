/* SPDX-License-Identifier: MIT */
/*
 * The trace exporter: sampled requests' spans (otlp.h) gathered into
 * batches and POSTed to the collector's OTLP/HTTP endpoint
 * (`otel.endpoint`/v1/traces, JSON) by a thread of its own, so that a slow
 * or absent collector costs the gateway nothing but the spans: a batch the
 * collector does not take (an error, no answer within the timeout) is
 * dropped and counted, and so are spans that find the queue full.
 */
#ifndef SWITCHBOARD_OTEL_H
#define SWITCHBOARD_OTEL_H

#include "switchboard/access.h"
#include "switchboard/config.h"

typedef struct sb_otel sb_otel_t;

typedef struct {
  uint64_t exported; /* spans the collector took */
  uint64_t dropped;  /* spans lost: refused, unanswered, or no room */
  uint64_t failures; /* exports that failed */
  uint64_t queued;   /* spans waiting now */
} sb_otel_stats_t;

/* NULL when out of memory. The endpoint is cfg->endpoint, with /v1/traces
 * added unless it ends with it. */
sb_otel_t *sb_otel_new(const sb_otel_config_t *cfg);
sb_status_t sb_otel_start(sb_otel_t *o);
/* Add a traced request's spans (from one thread: the operations one). */
void sb_otel_add(sb_otel_t *o, const sb_access_t *a);
/* Send what is gathered once more (bounded by the timeout), then end the
 * thread. */
void sb_otel_stop(sb_otel_t *o);
void sb_otel_free(sb_otel_t *o);
void sb_otel_stats(sb_otel_t *o, sb_otel_stats_t *out);

#endif
