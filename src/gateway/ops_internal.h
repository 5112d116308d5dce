/* SPDX-License-Identifier: MIT */
/*
 * The operations hub's insides, shared by ops.c (the rings and the
 * operations thread) and live.c (the live request feed); see
 * include/switchboard/ops.h.
 */
#ifndef SB_GATEWAY_OPS_INTERNAL_H
#define SB_GATEWAY_OPS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "switchboard/ops.h"
#include "switchboard/otel.h"
#include "switchboard/ring.h"

typedef struct sb_live_sub sb_live_sub_t;

typedef struct {
  sb_ring_t ring;
  _Atomic uint64_t lost; /* records its ring had no room for */
} sb_ops_worker_t;

struct sb_ops {
  /* the access log */
  bool access;
  bool json;
  char *path; /* NULL: stderr */
  int fd;
  sb_buf_t out;  /* lines not yet written */
  sb_buf_t line; /* a record's JSON for the live feed */

  sb_ops_worker_t *workers;
  unsigned n_workers;
  sb_metrics_t *metrics;
  sb_otel_t *otel; /* NULL: no tracing */
  double sample;

  /* the operations thread */
  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stop;
  _Atomic bool sleeping;
  _Atomic bool reopen;
  bool can_idle;
  _Atomic bool idle; /* at SCHED_IDLE now */
  _Atomic uint64_t boosts;

  /* the live feed's subscribers (live.c) */
  pthread_mutex_t subs_lock;
  sb_live_sub_t *subs;
  _Atomic unsigned n_subs;

  /* counters: written by the operations thread, read by scrapes */
  _Atomic uint64_t lines, write_errors, live_lines, live_dropped;
};

/* live.c: on the operations thread, hand a record to every subscriber
 * whose filter it passes (`json`: its JSON line, with the newline). */
void sb_live_publish(sb_ops_t *ops, const sb_access_t *a, sb_slice_t json);

#endif
