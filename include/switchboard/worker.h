/* SPDX-License-Identifier: MIT */
/*
 * Worker threads. Each worker owns an event loop, its own SO_REUSEPORT
 * listener, its own upstream (libcurl multi) handle and its connections;
 * a request lives on one worker from accept to the ledger hand-off, so the
 * request path takes no locks.
 */
#ifndef SWITCHBOARD_WORKER_H
#define SWITCHBOARD_WORKER_H

#include <uv.h>

#include "switchboard/clock.h"
#include "switchboard/http.h"
#include "switchboard/snapshot.h"

struct sb_gateway;

/* Upper bounds of the overhead histogram's buckets, in µs, and +Inf. */
#define SB_OVERHEAD_BOUNDS_US \
  10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000
#define SB_OVERHEAD_BUCKETS 13
/* Add `by` (wrapping: (uint64_t)-1 takes one away) to one of a worker's
 * counters below. Only the worker writes them; other threads (/metrics,
 * the trim tick) read them with relaxed atomic loads, so the store is
 * atomic too, yet needs no locked instruction. */
static inline void sb_worker_count(uint64_t *v, uint64_t by)
{
  __atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + by,
                   __ATOMIC_RELAXED);
}

struct sb_upstream_multi;
struct sb_http_conn;
struct sb_counters_conn;

typedef struct sb_worker {
  unsigned id;
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wakeup; /* asks the loop to stop accepting and drain */
  uv_timer_t drain_timer;
  uv_thread_t thread;
  struct sb_gateway *gw;
  struct sb_upstream_multi *upstream;
  struct sb_counters_conn *counters; /* the shared counters (counters.h) */
  sb_http_settings_t http;
  char read_buf[64 * 1024]; /* shared by the worker's connections */
  bool read_buf_busy;
  struct sb_http_conn *conns; /* open connections (doubly linked) */
  uv_check_t flush_check;          /* send gathered writes, see conn.c */
  uv_prepare_t flush_prepare;
  struct sb_http_conn *flush_list; /* connections with gathered writes */
  size_t n_conns;
  bool stopping;
  uint64_t rng[2]; /* xorshift128+ state, seeded from the OS */
  sb_snap_reader_t catalog_reader; /* the gateway's catalogs, this thread */
  /* counters, read by /metrics without locks (monotonic, per worker) */
  uint64_t n_requests;
  uint64_t n_active_streams;
  /* the gateway's own time per request, as a histogram (overhead.c) */
  uint64_t overhead_buckets[SB_OVERHEAD_BUCKETS]; /* not cumulative */
  uint64_t overhead_sum_ns;
  uint64_t overhead_count;
} sb_worker_t;

/* Count one request's overhead (ns; src/gateway/overhead.c). */
void sb_worker_note_overhead(sb_worker_t *w, uint64_t ns);
/* The overhead histogram of every worker, summed, in Prometheus text. */
void sb_overhead_metrics(const struct sb_gateway *gw, sb_buf_t *out);

/* Fast non-cryptographic randomness for ids (per worker, no locks). */
uint64_t sb_worker_rand(sb_worker_t *w);


#endif
