/* SPDX-License-Identifier: MIT */
/*
 * The gateway-overhead metric (docs/observability.md): for each request,
 * the time switchboard itself spent on it, i.e. its latency minus the time
 * it waited for providers, for retry backoffs and for a slow client. The
 * call measures it (src/gateway/call.c); here each worker counts it into a
 * fixed histogram that /metrics sums over the workers.
 *
 * A worker's counters are written by its own thread only and read by
 * whichever thread renders /metrics: relaxed atomics, no locks.
 */
#include "switchboard/gateway.h"
#include "switchboard/worker.h"

static const uint32_t bounds_us[SB_OVERHEAD_BUCKETS - 1] = {
    SB_OVERHEAD_BOUNDS_US};

void sb_worker_note_overhead(sb_worker_t *w, uint64_t ns)
{
  size_t i = 0;
  while (i < SB_OVERHEAD_BUCKETS - 1 && ns > (uint64_t)bounds_us[i] * 1000)
    i++;
  sb_worker_count(&w->overhead_buckets[i], 1);
  sb_worker_count(&w->overhead_sum_ns, ns);
  sb_worker_count(&w->overhead_count, 1);
}

void sb_overhead_metrics(const sb_gateway_t *gw, sb_buf_t *out)
{
  uint64_t buckets[SB_OVERHEAD_BUCKETS] = {0}, sum_ns = 0, count = 0;
  for (unsigned k = 0; k < gw->n_workers; k++) {
    const sb_worker_t *w = &gw->workers[k];
    for (size_t i = 0; i < SB_OVERHEAD_BUCKETS; i++)
      buckets[i] += __atomic_load_n(&w->overhead_buckets[i], __ATOMIC_RELAXED);
    sum_ns += __atomic_load_n(&w->overhead_sum_ns, __ATOMIC_RELAXED);
    count += __atomic_load_n(&w->overhead_count, __ATOMIC_RELAXED);
  }
  sb_buf_appendz(out,
                 "# HELP switchboard_gateway_overhead_seconds Time the gateway "
                 "spent on a request itself: latency minus waiting for the "
                 "provider, retry backoffs and a slow client.\n"
                 "# TYPE switchboard_gateway_overhead_seconds histogram\n");
  /* Read racily, a bucket may be ahead of the total: keep +Inf >= every
   * bucket so the series stays a valid histogram. */
  uint64_t cum = 0;
  for (size_t i = 0; i < SB_OVERHEAD_BUCKETS - 1; i++) {
    cum += buckets[i];
    sb_buf_appendf(out,
                   "switchboard_gateway_overhead_seconds_bucket{le=\"%g\"} "
                   "%llu\n",
                   bounds_us[i] / 1e6, (unsigned long long)cum);
  }
  cum += buckets[SB_OVERHEAD_BUCKETS - 1];
  if (count < cum)
    count = cum;
  sb_buf_appendf(out,
                 "switchboard_gateway_overhead_seconds_bucket{le=\"+Inf\"} "
                 "%llu\n"
                 "switchboard_gateway_overhead_seconds_sum %.9f\n"
                 "switchboard_gateway_overhead_seconds_count %llu\n",
                 (unsigned long long)count, (double)sum_ns / 1e9,
                 (unsigned long long)count);
}
