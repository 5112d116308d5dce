/* SPDX-License-Identifier: MIT */
/*
 * Request metrics by door, model, provider, key and status class, for
 * /metrics (docs/observability.md, "Metrics").
 *
 * Each worker counts into its own tables, written by its thread alone
 * (relaxed atomics, no lock); a scrape sums the workers'. Label values are
 * interned once per gateway: a value seen for the first time takes a
 * mutex (once), every later request finds it without one. The number of
 * distinct values per label is capped (SB_METRICS_MAX_*); values past the
 * cap count under "other", so a client cannot grow the series without
 * bound (sending a thousand model names, say).
 */
#ifndef SWITCHBOARD_METRICS_H
#define SWITCHBOARD_METRICS_H

#include "switchboard/access.h"
#include "switchboard/buf.h"

#define SB_METRICS_MAX_DOORS 32
#define SB_METRICS_MAX_MODELS 200
#define SB_METRICS_MAX_PROVIDERS 64
#define SB_METRICS_MAX_KEYS 200

typedef struct sb_metrics sb_metrics_t;

/* Tables for `n_workers` workers; NULL when out of memory. */
sb_metrics_t *sb_metrics_new(unsigned n_workers);
void sb_metrics_free(sb_metrics_t *m);

/* On worker `worker`'s thread: count a finished request. */
void sb_metrics_note(sb_metrics_t *m, unsigned worker, const sb_access_t *a);

/* On worker `worker`'s thread: an attempt on `provider` failed and the
 * call tries it again (a retry) or moves to the next candidate (a
 * fallback). */
void sb_metrics_note_failover(sb_metrics_t *m, unsigned worker,
                              sb_slice_t provider, bool fallback);

/* Append the request families in Prometheus text (any thread). */
void sb_metrics_render(sb_metrics_t *m, sb_buf_t *out);

/* Append `v` as a Prometheus label value (\\, \" and \n escaped). */
void sb_metrics_label(sb_buf_t *out, sb_slice_t v);

#endif
