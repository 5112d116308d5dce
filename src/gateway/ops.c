/* SPDX-License-Identifier: MIT */
/*
 * The operations hub: each request's access record, counted on its
 * worker and queued in the worker's ring, and the operations thread that
 * writes the access log, feeds the live subscribers and hands traced
 * requests to the exporter; see include/switchboard/ops.h.
 *
 * Workers never wake the thread while their rings have room: it looks
 * every TICK_MS (a line reaches the log within that), or at once when a
 * ring is a quarter full. It runs at SCHED_IDLE while it keeps up, so a
 * request never waits for its time slice; a ring half full raises it to
 * normal priority (the worker that sees it does), and it goes back to
 * idle once every ring is nearly empty again.
 */
#include "ops_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "switchboard/clock.h"
#include "switchboard/gateway.h"
#include "switchboard/log.h"
#include "switchboard/priority.h"

#define RING_BYTES (512u << 10)
#define WAKE_AT (RING_BYTES / 4)
#define BOOST_AT (RING_BYTES / 2)
#define RELAX_AT (RING_BYTES / 16)
#define TICK_MS 50
#define OUT_FLUSH (256u << 10)

static int open_log(const char *path, char *err, size_t errlen)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    snprintf(err, errlen, "cannot open the access log %s: %s", path,
             strerror(errno));
  return fd;
}

sb_ops_t *sb_ops_new(const sb_config_t *cfg, unsigned n_workers, char *err,
                     size_t errlen)
{
  sb_ops_t *ops = calloc(1, sizeof(*ops));
  if (ops == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  ops->fd = STDERR_FILENO;
  ops->access = cfg->log.access;
  ops->json = cfg->log.json;
  ops->sample = cfg->otel.sample;
  pthread_mutex_init(&ops->lock, NULL);
  pthread_cond_init(&ops->wake, NULL);
  pthread_mutex_init(&ops->subs_lock, NULL);
  sb_buf_init(&ops->out, 0);
  sb_buf_init(&ops->line, 0);
  ops->n_workers = n_workers;
  ops->workers = calloc(n_workers > 0 ? n_workers : 1, sizeof(*ops->workers));
  ops->metrics = sb_metrics_new(n_workers);
  bool ok = ops->workers != NULL && ops->metrics != NULL;
  for (unsigned i = 0; ok && i < n_workers; i++)
    ok = sb_ring_init(&ops->workers[i].ring, RING_BYTES) == SB_OK;
  if (ok && cfg->otel.endpoint != NULL)
    ok = (ops->otel = sb_otel_new(&cfg->otel)) != NULL;
  if (!ok) {
    snprintf(err, errlen, "out of memory");
    sb_ops_free(ops);
    return NULL;
  }
  if (cfg->log.file != NULL && cfg->log.access) {
    ops->path = strdup(cfg->log.file);
    if (ops->path == NULL || (ops->fd = open_log(ops->path, err, errlen)) < 0) {
      if (ops->path == NULL)
        snprintf(err, errlen, "out of memory");
      ops->fd = -1;
      sb_ops_free(ops);
      return NULL;
    }
  }
  return ops;
}

/* ---- the operations thread
 * --------------------------------------------------- */

static void write_out(sb_ops_t *ops)
{
  const char *p = ops->out.data;
  size_t left = ops->out.len;
  while (left > 0) {
    ssize_t n = write(ops->fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      /* a full disk, a closed stderr: these lines are lost, counted */
      atomic_fetch_add_explicit(&ops->write_errors, 1, memory_order_relaxed);
      break;
    }
    p += n;
    left -= (size_t)n;
  }
  sb_buf_reset(&ops->out);
}

static void reopen(sb_ops_t *ops)
{
  char err[512];
  if (ops->path == NULL)
    return;
  write_out(ops);
  int fd = open_log(ops->path, err, sizeof(err));
  if (fd < 0) {
    SB_ERR("%s; access lines still go to the file opened before", err);
    return;
  }
  close(ops->fd);
  ops->fd = fd;
  SB_INFO("access log reopened: %s", ops->path);
}

static void handle(sb_ops_t *ops, const sb_access_t *a)
{
  sb_slice_t json = SB_NULL_SLICE;
  if (ops->access) {
    size_t at = ops->out.len;
    if ((ops->json ? sb_access_json(a, &ops->out)
                   : sb_access_text(a, &ops->out)) == SB_OK) {
      atomic_fetch_add_explicit(&ops->lines, 1, memory_order_relaxed);
      if (ops->json)
        json = sb_slice(ops->out.data + at, ops->out.len - at);
    }
  }
  if (atomic_load_explicit(&ops->n_subs, memory_order_relaxed) > 0) {
    if (json.ptr == NULL) {
      sb_buf_reset(&ops->line);
      if (sb_access_json(a, &ops->line) == SB_OK)
        json = sb_buf_slice(&ops->line);
    }
    if (json.ptr != NULL)
      sb_live_publish(ops, a, json);
  }
  if (a->traced && ops->otel != NULL)
    sb_otel_add(ops->otel, a);
  if (ops->out.len >= OUT_FLUSH)
    write_out(ops);
}

/* Everything the rings hold; returns the records taken. */
static size_t drain(sb_ops_t *ops)
{
  size_t taken = 0;
  for (unsigned i = 0; i < ops->n_workers; i++) {
    sb_ring_t *r = &ops->workers[i].ring;
    const void *p;
    size_t len;
    while ((p = sb_ring_peek(r, &len)) != NULL) {
      sb_access_t a;
      if (sb_access_unpack(p, len, &a) == SB_OK)
        handle(ops, &a);
      sb_ring_pop(r);
      taken++;
    }
  }
  write_out(ops);
  return taken;
}

static void set_idle(sb_ops_t *ops, bool idle)
{
  if (!ops->can_idle || atomic_load(&ops->idle) == idle)
    return;
  if (sb_thread_set_idle(ops->thread, idle) == SB_OK) {
    atomic_store(&ops->idle, idle);
    if (!idle)
      atomic_fetch_add(&ops->boosts, 1);
  }
}

static bool rings_low(sb_ops_t *ops)
{
  for (unsigned i = 0; i < ops->n_workers; i++)
    if (sb_ring_used(&ops->workers[i].ring) > RELAX_AT)
      return false;
  return true;
}

static void *ops_main(void *arg)
{
  sb_ops_t *ops = arg;
  pthread_setname_np(pthread_self(), "sb-ops");
  for (;;) {
    pthread_mutex_lock(&ops->lock);
    bool stop = ops->stop;
    if (!stop) {
      atomic_store(&ops->sleeping, true);
      struct timespec t = sb_deadline_after_ms(TICK_MS);
      pthread_cond_timedwait(&ops->wake, &ops->lock, &t);
      atomic_store(&ops->sleeping, false);
      stop = ops->stop;
    }
    pthread_mutex_unlock(&ops->lock);
    if (atomic_exchange(&ops->reopen, false))
      reopen(ops);
    drain(ops);
    if (!atomic_load(&ops->idle) && rings_low(ops))
      set_idle(ops, true);
    if (stop)
      break;
  }
  return NULL;
}

sb_status_t sb_ops_start(sb_ops_t *ops)
{
  ops->can_idle = sb_thread_can_idle();
  if (pthread_create(&ops->thread, NULL, ops_main, ops) != 0)
    return SB_ERROR;
  ops->started = true;
  set_idle(ops, true);
  if (ops->otel != NULL && sb_otel_start(ops->otel) != SB_OK)
    return SB_ERROR;
  return SB_OK;
}

void sb_ops_stop(sb_ops_t *ops)
{
  if (ops == NULL || !ops->started)
    return;
  set_idle(ops, false);
  pthread_mutex_lock(&ops->lock);
  ops->stop = true;
  pthread_cond_signal(&ops->wake);
  pthread_mutex_unlock(&ops->lock);
  pthread_join(ops->thread, NULL);
  ops->started = false;
  sb_otel_stop(ops->otel);
}

void sb_ops_free(sb_ops_t *ops)
{
  if (ops == NULL)
    return;
  sb_ops_stop(ops);
  sb_otel_free(ops->otel);
  for (unsigned i = 0; ops->workers != NULL && i < ops->n_workers; i++)
    sb_ring_free(&ops->workers[i].ring);
  free(ops->workers);
  sb_metrics_free(ops->metrics);
  if (ops->path != NULL && ops->fd >= 0)
    close(ops->fd);
  free(ops->path);
  sb_buf_free(&ops->out);
  sb_buf_free(&ops->line);
  pthread_mutex_destroy(&ops->subs_lock);
  pthread_cond_destroy(&ops->wake);
  pthread_mutex_destroy(&ops->lock);
  free(ops);
}

void sb_ops_reopen(sb_ops_t *ops)
{
  if (ops == NULL)
    return;
  atomic_store(&ops->reopen, true);
  pthread_mutex_lock(&ops->lock);
  pthread_cond_signal(&ops->wake);
  pthread_mutex_unlock(&ops->lock);
}

bool sb_ops_tracing(const sb_ops_t *ops)
{
  return ops != NULL && ops->otel != NULL;
}

double sb_ops_sample(const sb_ops_t *ops)
{
  return ops != NULL ? ops->sample : 0;
}

sb_metrics_t *sb_ops_metrics(sb_ops_t *ops)
{
  return ops != NULL ? ops->metrics : NULL;
}

/* ---- a request ends (on its worker)
 * --------------------------------------------- */

/* The door of a request that did not become a model call, by its path:
 * only names from this list, so that a client cannot make up labels. */
static sb_slice_t door_of(sb_slice_t path)
{
  static const struct {
    const char *segment, *door;
  } doors[] = {{"chat", "chat"},           {"messages", "messages"},
               {"responses", "responses"}, {"embeddings", "embeddings"},
               {"models", "models"},       {"generation", "generation"},
               {"keys", "admin"},          {"key", "admin"},
               {"auth", "admin"},          {"credits", "admin"},
               {"admin", "admin"},         {"stats", "admin"},
               {"generations", "admin"},   {"providers", "admin"}};
  if (SB_SLICE_IS(path, "/") || SB_SLICE_IS(path, "/ui") ||
      sb_slice_starts(path, SB_STRLIT("/ui/")))
    return SB_SLICE_LIT("dashboard");
  if (SB_SLICE_IS(path, "/health"))
    return SB_SLICE_LIT("health");
  if (SB_SLICE_IS(path, "/metrics"))
    return SB_SLICE_LIT("metrics");
  if (sb_slice_starts(path, SB_STRLIT("/api/skills")))
    return SB_SLICE_LIT("skill");
  if (sb_slice_starts(path, SB_STRLIT("/v1beta/")))
    return SB_SLICE_LIT("gemini");
  size_t skip = sb_slice_starts(path, SB_STRLIT("/api/v1/")) ? 8
                : sb_slice_starts(path, SB_STRLIT("/v1/"))   ? 4
                                                             : 0;
  if (skip > 0) {
    sb_slice_t rest = sb_slice(path.ptr + skip, path.len - skip);
    const char *slash = memchr(rest.ptr, '/', rest.len);
    if (slash != NULL)
      rest.len = (size_t)(slash - rest.ptr);
    for (size_t i = 0; i < SB_ARRAY_LEN(doors); i++)
      if (sb_slice_eq(rest, sb_slice_z(doors[i].segment)))
        return sb_slice_z(doors[i].door);
  }
  return SB_SLICE_LIT("other");
}

static void describe(sb_http_exchange_t *x, sb_access_t *a)
{
  memset(a, 0, offsetof(sb_access_t, spans));
  uint64_t now = sb_now_ns();
  a->latency_ns = now - x->start_ns;
  a->start_unix_ns = sb_wall_us() * 1000 - (int64_t)a->latency_ns;
  a->method = sb_slice_z(http_method_str((enum http_method)x->req.method));
  a->path = x->req.path;
  a->status = x->status != 0 ? x->status : 499;
  a->door = door_of(x->req.path);
  a->key_label = x->caller;
  a->error_type = sb_slice_z(x->error_type);
  if (x->describe != NULL)
    x->describe(x, a);
}

static void push(sb_ops_t *ops, unsigned worker, const sb_access_t *a)
{
  sb_ops_worker_t *ow = &ops->workers[worker];
  void *p = sb_ring_reserve(&ow->ring, sb_access_pack_bound(a));
  if (p != NULL) {
    sb_ring_commit(&ow->ring, sb_access_pack(a, p));
  } else {
    atomic_fetch_add_explicit(&ow->lost, 1, memory_order_relaxed);
  }
  size_t used = sb_ring_used(&ow->ring);
  if (used >= BOOST_AT &&
      atomic_load_explicit(&ops->idle, memory_order_relaxed))
    set_idle(ops, false);
  if (used >= WAKE_AT &&
      atomic_load_explicit(&ops->sleeping, memory_order_relaxed))
    pthread_cond_signal(&ops->wake);
}

void sb_ops_request_done(sb_http_exchange_t *x)
{
  sb_worker_t *w = x->worker;
  sb_ops_t *ops = w->gw->ops;
  if (ops == NULL || w->id >= ops->n_workers)
    return;
  sb_access_t a;
  describe(x, &a);
  sb_metrics_note(ops->metrics, w->id, &a);
  if (ops->access || a.traced ||
      atomic_load_explicit(&ops->n_subs, memory_order_relaxed) > 0)
    push(ops, w->id, &a);
}

/* ---- its own counters
 * ------------------------------------------------------------- */

void sb_ops_render_metrics(sb_ops_t *ops, sb_buf_t *out)
{
  uint64_t lost = 0;
  for (unsigned i = 0; i < ops->n_workers; i++)
    lost += atomic_load_explicit(&ops->workers[i].lost, memory_order_relaxed);
  sb_buf_appendf(
      out,
      "# HELP switchboard_access_log_lines_total Access log lines written.\n"
      "# TYPE switchboard_access_log_lines_total counter\n"
      "switchboard_access_log_lines_total %llu\n"
      "# HELP switchboard_access_records_lost_total Requests whose access "
      "record found its worker's queue full (no log line, live line or "
      "span).\n"
      "# TYPE switchboard_access_records_lost_total counter\n"
      "switchboard_access_records_lost_total %llu\n"
      "# HELP switchboard_access_log_write_errors_total Writes of access "
      "lines that failed (their lines are lost).\n"
      "# TYPE switchboard_access_log_write_errors_total counter\n"
      "switchboard_access_log_write_errors_total %llu\n"
      "# HELP switchboard_live_log_subscribers Live request feeds open.\n"
      "# TYPE switchboard_live_log_subscribers gauge\n"
      "switchboard_live_log_subscribers %u\n"
      "# HELP switchboard_live_log_lines_total Lines queued for live feeds.\n"
      "# TYPE switchboard_live_log_lines_total counter\n"
      "switchboard_live_log_lines_total %llu\n"
      "# HELP switchboard_live_log_dropped_total Lines a slow live feed "
      "lost.\n"
      "# TYPE switchboard_live_log_dropped_total counter\n"
      "switchboard_live_log_dropped_total %llu\n",
      (unsigned long long)atomic_load(&ops->lines), (unsigned long long)lost,
      (unsigned long long)atomic_load(&ops->write_errors),
      atomic_load(&ops->n_subs),
      (unsigned long long)atomic_load(&ops->live_lines),
      (unsigned long long)atomic_load(&ops->live_dropped));
  if (ops->otel != NULL) {
    sb_otel_stats_t s;
    sb_otel_stats(ops->otel, &s);
    sb_buf_appendf(
        out,
        "# HELP switchboard_otel_spans_exported_total Spans the collector "
        "took.\n"
        "# TYPE switchboard_otel_spans_exported_total counter\n"
        "switchboard_otel_spans_exported_total %llu\n"
        "# HELP switchboard_otel_spans_dropped_total Spans dropped: the "
        "collector failed or did not answer, or the queue was full.\n"
        "# TYPE switchboard_otel_spans_dropped_total counter\n"
        "switchboard_otel_spans_dropped_total %llu\n"
        "# HELP switchboard_otel_export_failures_total Exports the collector "
        "did not take.\n"
        "# TYPE switchboard_otel_export_failures_total counter\n"
        "switchboard_otel_export_failures_total %llu\n"
        "# HELP switchboard_otel_spans_queued Spans waiting for export.\n"
        "# TYPE switchboard_otel_spans_queued gauge\n"
        "switchboard_otel_spans_queued %llu\n",
        (unsigned long long)s.exported, (unsigned long long)s.dropped,
        (unsigned long long)s.failures, (unsigned long long)s.queued);
  }
}
