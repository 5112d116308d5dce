/* SPDX-License-Identifier: MIT */
/*
 * The trace exporter's thread; see include/switchboard/otel.h.
 *
 * The operations thread renders each traced request's spans straight into
 * the open batch (under the lock; the exporter holds it only to swap
 * batches). A batch is sealed when it holds BATCH_SPANS spans or
 * BATCH_BYTES, or when FLUSH_MS passed, and waits in a queue of at most
 * MAX_BATCHES; the thread POSTs sealed batches one at a time with a
 * blocking libcurl handle (kept alive between exports). Nothing is sent
 * again: a batch that fails is dropped with its spans counted, and one
 * warning marks the start of a failure burst, one line its end.
 */
#include "switchboard/clock.h"
#include "switchboard/otel.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/log.h"
#include "switchboard/otlp.h"

#define BATCH_SPANS 512
#define BATCH_BYTES (1u << 20)
#define MAX_BATCHES 8
#define FLUSH_MS 1000
#define EXPORT_TIMEOUT_MS 5000
#define CONNECT_TIMEOUT_MS 2000
/* a batch's buffer: its bytes plus one request's spans past them */
#define BATCH_CAP (BATCH_BYTES + (4u << 20))

typedef struct {
  sb_buf_t body;
  size_t spans;
} batch_t;

struct sb_otel {
  char *url;
  char *service;
  struct curl_slist *headers;
  CURL *curl;
  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stop;
  batch_t cur;                  /* the open batch */
  batch_t pending[MAX_BATCHES]; /* sealed, oldest first */
  size_t n_pending;
  sb_otel_stats_t stats;
  bool failing; /* the last export failed */
};

static char *dupz(const char *s)
{
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d != NULL)
    memcpy(d, s, n + 1);
  return d;
}

sb_otel_t *sb_otel_new(const sb_otel_config_t *cfg)
{
  sb_otel_t *o = calloc(1, sizeof(*o));
  if (o == NULL)
    return NULL;
  pthread_mutex_init(&o->lock, NULL);
  pthread_cond_init(&o->wake, NULL);
  sb_buf_init(&o->cur.body, BATCH_CAP);
  const char *ep = cfg->endpoint != NULL ? cfg->endpoint : "";
  size_t n = strlen(ep);
  bool full = n >= 10 && strcmp(ep + n - 10, "/v1/traces") == 0;
  o->url = malloc(n + 11);
  o->service =
      dupz(cfg->service_name != NULL ? cfg->service_name : "switchboard");
  if (o->url == NULL || o->service == NULL) {
    sb_otel_free(o);
    return NULL;
  }
  snprintf(o->url, n + 11, "%s%s", ep, full ? "" : "/v1/traces");
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  for (size_t i = 0; h != NULL && i < cfg->n_headers; i++) {
    char line[2048];
    snprintf(line, sizeof(line), "%s: %s", cfg->headers[i].name,
             cfg->headers[i].value);
    struct curl_slist *more = curl_slist_append(h, line);
    if (more == NULL) {
      curl_slist_free_all(h);
      h = NULL;
    } else {
      h = more;
    }
  }
  o->headers = h;
  o->curl = curl_easy_init();
  if (o->headers == NULL || o->curl == NULL) {
    sb_otel_free(o);
    return NULL;
  }
  return o;
}

/* ---- batches (the lock held)
 * ------------------------------------------------- */

/* Close the open batch and queue it; with the queue full it is dropped. */
static void seal(sb_otel_t *o)
{
  if (o->cur.spans == 0)
    return;
  if (sb_otlp_close(&o->cur.body) != SB_OK || o->n_pending == MAX_BATCHES) {
    o->stats.dropped += o->cur.spans;
    o->stats.queued -= o->cur.spans;
    sb_buf_reset(&o->cur.body);
    o->cur.spans = 0;
    return;
  }
  o->pending[o->n_pending++] = o->cur;
  sb_buf_init(&o->cur.body, BATCH_CAP);
  o->cur.spans = 0;
  pthread_cond_signal(&o->wake);
}

void sb_otel_add(sb_otel_t *o, const sb_access_t *a)
{
  size_t spans = 1 + SB_MIN(a->n_spans, SB_ACCESS_MAX_SPANS);
  pthread_mutex_lock(&o->lock);
  for (int tries = 0; tries < 2; tries++) {
    size_t mark = o->cur.body.len;
    bool first = o->cur.spans == 0;
    if (first && sb_otlp_open(&o->cur.body, sb_slice_z(o->service)) != SB_OK)
      break;
    if (sb_otlp_spans(a, first, &o->cur.body) == SB_OK) {
      o->cur.spans += spans;
      o->stats.queued += spans;
      if (o->cur.spans >= BATCH_SPANS || o->cur.body.len >= BATCH_BYTES)
        seal(o);
      pthread_mutex_unlock(&o->lock);
      return;
    }
    /* no room in this batch: seal it and try a fresh one */
    o->cur.body.len = first ? 0 : mark;
    seal(o);
  }
  o->stats.dropped += spans;
  pthread_mutex_unlock(&o->lock);
}

/* ---- the thread
 * ------------------------------------------------------------------- */

static size_t discard_cb(char *p, size_t size, size_t n, void *data)
{
  (void)p;
  (void)data;
  return size * n;
}

/* POST one batch; SB_OK when the collector took it (2xx). */
static sb_status_t post(sb_otel_t *o, const batch_t *b, char *why, size_t cap)
{
  CURL *c = o->curl;
  curl_easy_setopt(c, CURLOPT_URL, o->url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->body.data);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, o->headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)EXPORT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    snprintf(why, cap, "%s", curl_easy_strerror(rc));
    return SB_ERROR;
  }
  if (status < 200 || status > 299) {
    snprintf(why, cap, "the collector answered %ld", status);
    return SB_ERROR;
  }
  return SB_OK;
}

static void note_result(sb_otel_t *o, const batch_t *b, sb_status_t rc,
                        const char *why)
{
  pthread_mutex_lock(&o->lock);
  o->stats.queued -= b->spans;
  if (rc == SB_OK)
    o->stats.exported += b->spans;
  else {
    o->stats.dropped += b->spans;
    o->stats.failures++;
  }
  bool was = o->failing;
  o->failing = rc != SB_OK;
  pthread_mutex_unlock(&o->lock);
  if (rc != SB_OK && !was)
    SB_WARN("otel: cannot export spans to %s: %s; spans are dropped until "
            "it takes them again (switchboard_otel_spans_dropped_total)",
            o->url, why);
  else if (rc == SB_OK && was)
    SB_INFO("otel: %s takes spans again", o->url);
}

static void *exporter_main(void *arg)
{
  sb_otel_t *o = arg;
  pthread_setname_np(pthread_self(), "sb-otel");
  pthread_mutex_lock(&o->lock);
  for (;;) {
    if (o->n_pending == 0 && !o->stop) {
      struct timespec t = sb_deadline_after_ms(FLUSH_MS);
      int w = pthread_cond_timedwait(&o->wake, &o->lock, &t);
      if (w == ETIMEDOUT)
        seal(o);
    }
    if (o->stop)
      seal(o);
    if (o->n_pending == 0) {
      if (o->stop)
        break;
      continue;
    }
    batch_t b = o->pending[0];
    o->n_pending--;
    memmove(&o->pending[0], &o->pending[1], o->n_pending * sizeof(batch_t));
    /* at shutdown, a collector that is failing is not waited for again */
    bool give_up = o->stop && o->failing;
    pthread_mutex_unlock(&o->lock);
    char why[256] = "the gateway is stopping";
    sb_status_t rc = give_up ? SB_ERROR : post(o, &b, why, sizeof(why));
    note_result(o, &b, rc, why);
    sb_buf_free(&b.body);
    pthread_mutex_lock(&o->lock);
  }
  pthread_mutex_unlock(&o->lock);
  return NULL;
}

sb_status_t sb_otel_start(sb_otel_t *o)
{
  if (pthread_create(&o->thread, NULL, exporter_main, o) != 0)
    return SB_ERROR;
  o->started = true;
  return SB_OK;
}

void sb_otel_stop(sb_otel_t *o)
{
  if (o == NULL || !o->started)
    return;
  pthread_mutex_lock(&o->lock);
  o->stop = true;
  pthread_cond_signal(&o->wake);
  pthread_mutex_unlock(&o->lock);
  pthread_join(o->thread, NULL);
  o->started = false;
}

void sb_otel_free(sb_otel_t *o)
{
  if (o == NULL)
    return;
  sb_otel_stop(o);
  for (size_t i = 0; i < o->n_pending; i++)
    sb_buf_free(&o->pending[i].body);
  sb_buf_free(&o->cur.body);
  if (o->curl != NULL)
    curl_easy_cleanup(o->curl);
  curl_slist_free_all(o->headers);
  free(o->url);
  free(o->service);
  pthread_cond_destroy(&o->wake);
  pthread_mutex_destroy(&o->lock);
  free(o);
}

void sb_otel_stats(sb_otel_t *o, sb_otel_stats_t *out)
{
  pthread_mutex_lock(&o->lock);
  *out = o->stats;
  pthread_mutex_unlock(&o->lock);
}
