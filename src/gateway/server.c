/* SPDX-License-Identifier: MIT */
/*
 * The server: one listening socket per worker (SO_REUSEPORT, so the kernel
 * spreads connections across workers; listen.c refuses an address that
 * another process serves), worker threads each running their own loop,
 * SIGHUP handed to the reload hook, and a graceful shutdown on SIGINT /
 * SIGTERM:
 *   1. every worker stops accepting and closes idle connections;
 *   2. in-flight requests run to completion, up to shutdown_grace_ms;
 *   3. what is left is closed; workers exit; the ledger drains (in
 *      sb_gateway_close).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "switchboard/counters.h"
#include "switchboard/gateway.h"
#include "switchboard/heap.h"
#include "switchboard/log.h"
#include "switchboard/notify.h"
#include "switchboard/ops.h"
#include "switchboard/upstream.h"

typedef struct {
  sb_worker_t *w;
  int fd;
  uint64_t drain_deadline_ns;
  uv_timer_t trim_timer; /* worker 0: free memory back to the OS (heap.h) */
  sb_heap_trim_t trim;
} worker_ctx_t;

/* Every TRIM_EVERY_MS worker 0 asks whether the allocator holds enough
 * free memory to hand back, and does (include/switchboard/heap.h). */
#define TRIM_EVERY_MS 5000

/* The longest request target (path and query) taken; 414 past it. Every
 * path switchboard serves is short. */
#define MAX_TARGET_BYTES 8192

static void trim_tick(uv_timer_t *t)
{
  worker_ctx_t *ctx = t->data;
  const sb_gateway_t *gw = ctx->w->gw;
  uint64_t requests = 0, streams = 0;
  for (unsigned i = 0; i < gw->n_workers; i++) {
    requests += __atomic_load_n(&gw->workers[i].n_requests, __ATOMIC_RELAXED);
    streams +=
        __atomic_load_n(&gw->workers[i].n_active_streams, __ATOMIC_RELAXED);
  }
  sb_heap_tick(&ctx->trim, requests, streams);
}

static void on_connection(uv_stream_t *server, int status)
{
  sb_worker_t *w = server->data;
  if (status < 0) {
    SB_WARN("accept failed: %s", uv_strerror(status));
    return;
  }
  sb_http_conn_accept(w, server, &w->http);
}

static void noop_close_cb(uv_handle_t *h)
{
  (void)h;
}

static void drain_tick(uv_timer_t *t)
{
  worker_ctx_t *ctx = t->data;
  sb_worker_t *w = ctx->w;
  size_t open = sb_http_conn_shutdown(w, sb_now_ns() > ctx->drain_deadline_ns);
  if (open > 0 || sb_upstream_multi_active(w->upstream) > 0)
    return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, noop_close_cb);
  if (w->id == 0)
    uv_close((uv_handle_t *)&ctx->trim_timer, noop_close_cb);
  uv_close((uv_handle_t *)&w->wakeup, noop_close_cb);
  sb_http_worker_close(w, noop_close_cb);
  sb_upstream_multi_free(w->upstream);
  w->upstream = NULL;
  sb_counters_detach(w->counters);
  w->counters = NULL;
}

static void listener_closed(uv_handle_t *h)
{
  (void)h;
}

static void on_wakeup(uv_async_t *a)
{
  worker_ctx_t *ctx = a->data;
  sb_worker_t *w = ctx->w;
  if (w->stopping)
    return;
  w->stopping = true;
  uv_close((uv_handle_t *)&w->listener, listener_closed);
  ctx->drain_deadline_ns =
      sb_now_ns() + (uint64_t)w->gw->config->shutdown_grace_ms * 1000000ull;
  sb_http_conn_shutdown(w, false);
  uv_timer_start(&w->drain_timer, drain_tick, 0, 50);
}

static void worker_main(void *arg)
{
  worker_ctx_t *ctx = arg;
  /* named for top -H, perf and the benchmark's CPU placement */
  char name[16];
  snprintf(name, sizeof(name), "sb-worker-%u", ctx->w->id);
  pthread_setname_np(pthread_self(), name);
  uv_run(&ctx->w->loop, UV_RUN_DEFAULT);
}

static sb_status_t worker_init(sb_gateway_t *gw, sb_worker_t *w, unsigned id,
                               worker_ctx_t *ctx, int fd,
                               sb_http_handler_fn handler)
{
  const sb_config_t *cfg = gw->config;
  w->id = id;
  w->gw = gw;
  if (uv_loop_init(&w->loop) != 0)
    return SB_ERROR;
  if (RAND_bytes((unsigned char *)w->rng, sizeof(w->rng)) != 1) {
    w->rng[0] = sb_now_ns() ^ ((uint64_t)id << 32);
    w->rng[1] = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
  }
  w->http.limits.max_header_bytes = cfg->max_header_bytes;
  w->http.limits.max_headers = 128;
  w->http.limits.max_body_bytes = cfg->max_body_bytes;
  w->http.limits.max_target_bytes = SB_MIN(MAX_TARGET_BYTES, cfg->max_header_bytes);
  w->http.request_timeout_ms = cfg->request_timeout_ms;
  w->http.idle_timeout_ms = cfg->idle_timeout_ms;
  w->http.write_high_water = 256 * 1024;
  w->http.write_low_water = 64 * 1024;
  w->http.max_write_queue = 16u << 20;
  w->http.handler = handler;
  w->http.on_finish = gw->ops != NULL ? sb_ops_request_done : NULL;
  w->upstream = sb_upstream_multi_new(&w->loop);
  if (w->upstream == NULL)
    return SB_ERROR;
  w->counters = sb_counters_attach(gw->counters, &w->loop, id);
  if (gw->counters != NULL && w->counters == NULL)
    return SB_ERROR;
  ctx->w = w;
  ctx->fd = fd;
  uv_async_init(&w->loop, &w->wakeup, on_wakeup);
  w->wakeup.data = ctx;
  uv_timer_init(&w->loop, &w->drain_timer);
  w->drain_timer.data = ctx;
  if (id == 0) {
    uv_timer_init(&w->loop, &ctx->trim_timer);
    ctx->trim_timer.data = ctx;
    uv_timer_start(&ctx->trim_timer, trim_tick, TRIM_EVERY_MS, TRIM_EVERY_MS);
  }
  sb_http_worker_init(w);
  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  if (uv_tcp_open(&w->listener, fd) != 0 ||
      uv_listen((uv_stream_t *)&w->listener, 4096, on_connection) != 0)
    return SB_ERROR;
  return SB_OK;
}

void sb_server_block_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGHUP);
  sigaddset(set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void print_address(FILE *f, const sb_config_t *cfg, unsigned port)
{
  bool v6 = strchr(cfg->listen_host, ':') != NULL;
  fprintf(f, "%s%s%s:%u", v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "", port);
}

sb_status_t sb_server_listen(const sb_config_t *cfg, sb_listeners_t *l)
{
  char err[256], port[8];
  struct addrinfo hints, *ai = NULL;
  memset(l, 0, sizeof(*l));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(port, sizeof(port), "%u", cfg->listen_port);
  int gai = getaddrinfo(cfg->listen_host, port, &hints, &ai);
  if (gai != 0) {
    SB_ERR("cannot resolve listen address %s: %s", cfg->listen_host,
           gai_strerror(gai));
    return SB_ERROR;
  }
  sb_status_t rc = SB_ERROR;
  l->fds = calloc(cfg->workers, sizeof(int));
  if (l->fds == NULL)
    goto out;
  memcpy(&l->addr, ai->ai_addr, ai->ai_addrlen);
  rc = sb_http_listen(&l->addr, (socklen_t)ai->ai_addrlen, l->fds,
                      cfg->workers, err, sizeof(err));
  if (rc == SB_DECLINED) {
    fputs("switchboard: ", stderr);
    print_address(stderr, cfg, cfg->listen_port);
    fputs(" is already in use by another process\n", stderr);
  } else if (rc != SB_OK) {
    fputs("switchboard: ", stderr);
    print_address(stderr, cfg, cfg->listen_port);
    fprintf(stderr, ": %s\n", err);
  } else {
    l->n = cfg->workers;
  }
out:
  if (rc != SB_OK) {
    free(l->fds);
    l->fds = NULL;
  }
  freeaddrinfo(ai);
  return rc;
}

void sb_server_listeners_close(sb_listeners_t *l)
{
  for (unsigned i = 0; i < l->n; i++)
    if (l->fds[i] >= 0)
      close(l->fds[i]);
  free(l->fds);
  l->fds = NULL;
  l->n = 0;
}

sb_status_t sb_server_run(sb_gateway_t *gw, sb_listeners_t *l,
                          sb_http_handler_fn handler)
{
  const sb_config_t *cfg = gw->config;
  sb_status_t rc = SB_ERROR;
  unsigned n = l->n;
  worker_ctx_t *ctx = NULL;
  unsigned started = 0;

  raise_fd_limit();
  gw->workers = calloc(n, sizeof(sb_worker_t));
  ctx = calloc(n, sizeof(worker_ctx_t));
  if (gw->workers == NULL || ctx == NULL)
    goto out;
  gw->n_workers = n;
  const struct sockaddr_storage *ss = &l->addr;
  uint16_t bound = ntohs(ss->ss_family == AF_INET6
                             ? ((const struct sockaddr_in6 *)ss)->sin6_port
                             : ((const struct sockaddr_in *)ss)->sin_port);

  /* SIGINT, SIGTERM and SIGHUP are taken by sigwait() below. They must be
   * blocked in every thread, which sb_server_block_signals() did before any
   * thread (the ledger writer, libuv's pool) was created. */
  sigset_t set;
  sb_server_block_signals(&set);
  if (gw->ops != NULL && sb_ops_start(gw->ops) != SB_OK) {
    SB_ERR("cannot start the operations thread");
    goto out;
  }

  for (unsigned i = 0; i < n; i++) {
    int fd = l->fds[i];
    l->fds[i] = -1; /* the worker's listener owns it from here */
    if (worker_init(gw, &gw->workers[i], i, &ctx[i], fd, handler) != SB_OK) {
      SB_ERR("worker %u could not start", i);
      goto stop;
    }
    if (uv_thread_create(&gw->workers[i].thread, worker_main,
                         &ctx[i]) != 0) {
      SB_ERR("worker %u: cannot create its thread", i);
      goto stop;
    }
    started++;
  }
  fputs("switchboard listening on http://", stdout);
  print_address(stdout, cfg, bound);
  printf(" (%u workers, %zu providers, %zu models, %s)\n", n,
         cfg->n_providers, sb_gateway_n_models(gw),
         cfg->admin_key ? "admin key required" : "local mode");
  fflush(stdout);
  sb_notify("READY=1");
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
    if (sig == SIGUSR1) {
      sb_ops_reopen(gw->ops); /* logrotate moved the access log */
      continue;
    }
    sb_notify("RELOADING=1");
    sb_gateway_reload_all(gw);
    sb_notify("READY=1");
  }
  sb_notify("STOPPING=1");
  SB_INFO("%s: shutting down (finishing in-flight requests, at most %u ms)",
          sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->shutdown_grace_ms);
  rc = SB_OK;
stop:
  sb_gateway_reload_stop(gw); /* API reloads still waiting get their answer */
  sb_live_close_all(gw->ops); /* live feeds end now, not at the grace's end */
  for (unsigned i = 0; i < started; i++)
    uv_async_send(&gw->workers[i].wakeup);
  for (unsigned i = 0; i < started; i++) {
    uv_thread_join(&gw->workers[i].thread);
    uv_loop_close(&gw->workers[i].loop);
  }
  sb_ops_stop(gw->ops); /* every access line of the drained requests */
out:
  free(ctx);
  sb_server_listeners_close(l);
  return rc;
}
