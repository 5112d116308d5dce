/*
 * Worker threads. Each worker owns an event loop, its own SO_REUSEPORT
 * listener, its own upstream (libcurl multi) handle and its connections;
 * a request lives on one worker from accept to the ledger hand-off, so the
 * request path takes no locks.
 */
#ifndef SWITCHBOARD_WORKER_H
#define SWITCHBOARD_WORKER_H

#include <uv.h>

#include "switchboard/http.h"

struct sb_gateway;
struct sb_upstream_multi;
struct sb_http_conn;

typedef struct sb_worker {
  unsigned id;
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wakeup; /* asks the loop to stop accepting and drain */
  uv_timer_t drain_timer;
  uv_thread_t thread;
  struct sb_gateway *gw;
  struct sb_upstream_multi *upstream;
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
  /* counters, read by /metrics without locks (monotonic, per worker) */
  uint64_t n_requests;
  uint64_t n_active_streams;
} sb_worker_t;

/* Fast non-cryptographic randomness for ids (per worker, no locks). */
uint64_t sb_worker_rand(sb_worker_t *w);

/* Monotonic time in nanoseconds. */
uint64_t sb_now_ns(void);
/* Wall-clock time in milliseconds since the epoch. */
int64_t sb_wall_ms(void);

#endif
