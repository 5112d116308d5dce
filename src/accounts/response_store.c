/* SPDX-License-Identifier: MIT */
/*
 * The stored responses' thread (include/switchboard/response_store.h):
 * jobs queue under a mutex, one thread runs them in order on the backend
 * and hands each answer back to the loop that asked (a uv_async_t per
 * job), and deletes what is past retention at open and then hourly.
 */
#include "switchboard/response_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/clock.h"
#include "switchboard/log.h"
#include "switchboard/store.h"

#define DAY_MS (24 * 3600 * 1000LL)
#define EXPIRE_EVERY_MS (3600 * 1000LL)

struct sb_rstore {
  const sb_rstore_backend_t *backend;
  void *impl;
  uint32_t retention_days;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  sb_rstore_job_t *head, *tail; /* queued, oldest first */
  bool stop;
  int64_t next_expiry_ms;
  sb_rstore_stats_t stats;
  bool failing; /* the last job failed: logged once until one succeeds */
};

/* ---- jobs -------------------------------------------------------------------- */

sb_rstore_job_t *sb_rstore_job_new(sb_rstore_op_t op)
{
  sb_rstore_job_t *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return NULL;
  j->op = op;
  sb_arena_init(&j->arena, 8 * 1024, 0);
  return j;
}

void sb_rstore_job_free(sb_rstore_job_t *j)
{
  if (j == NULL)
    return;
  sb_arena_destroy(&j->arena);
  free(j);
}

static void job_closed(uv_handle_t *h)
{
  sb_rstore_job_free(h->data);
}

/* On the asking loop: the answer, then the job goes. */
static void job_answered(uv_async_t *a)
{
  sb_rstore_job_t *j = a->data;
  j->done(j);
  uv_close((uv_handle_t *)&j->async, job_closed);
}

sb_status_t sb_rstore_submit(sb_rstore_t *s, uv_loop_t *loop,
                             sb_rstore_job_t *j, sb_rstore_done_fn done,
                             void *data)
{
  j->done = done;
  j->data = data;
  j->next = NULL;
  if (done != NULL) {
    if (uv_async_init(loop, &j->async, job_answered) != 0) {
      sb_rstore_job_free(j);
      return SB_ERROR;
    }
    j->async.data = j;
  }
  pthread_mutex_lock(&s->lock);
  if (s->tail != NULL)
    s->tail->next = j;
  else
    s->head = j;
  s->tail = j;
  s->stats.waiting++;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  return SB_OK;
}

/* ---- running them -------------------------------------------------------------- */

/* The response and every earlier one it continues, oldest first. */
static sb_status_t chain(sb_rstore_t *s, sb_rstore_job_t *j)
{
  sb_rstore_entry_t *v = NULL;
  size_t n = 0, cap = 0;
  sb_slice_t id = j->id;
  while (id.len > 0) {
    if (n == SB_RSTORE_MAX_CHAIN)
      return SB_ERROR;
    if (n == cap) {
      cap = cap == 0 ? 8 : cap * 2;
      sb_rstore_entry_t *nv = sb_arena_alloc(&j->arena, cap * sizeof(*nv));
      if (nv == NULL)
        return SB_ERROR;
      if (n > 0)
        memcpy(nv, v, n * sizeof(*nv));
      v = nv;
    }
    sb_status_t rc = s->backend->get(s->impl, id, j->owner, &j->arena, &v[n]);
    /* an earlier response that is gone (deleted, expired) ends the
     * conversation there; the one asked for must be there */
    if (rc == SB_DECLINED && n > 0)
      break;
    if (rc != SB_OK)
      return rc;
    id = v[n].previous_id;
    n++;
  }
  for (size_t i = 0; i < n / 2; i++) {
    sb_rstore_entry_t t = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = t;
  }
  j->chain = v;
  j->n_chain = n;
  return SB_OK;
}

static sb_status_t run(sb_rstore_t *s, sb_rstore_job_t *j)
{
  const sb_rstore_backend_t *b = s->backend;
  switch (j->op) {
  case SB_RSTORE_PUT:
    return b->put(s->impl, &j->entry);
  case SB_RSTORE_GET:
    return b->get(s->impl, j->id, j->owner, &j->arena, &j->entry);
  case SB_RSTORE_DELETE:
    return b->del(s->impl, j->id, j->owner);
  case SB_RSTORE_LIST:
    return b->list_input(s->impl, j->id, j->owner, &j->page, &j->arena,
                         &j->items, &j->n_items, &j->has_more);
  case SB_RSTORE_CHAIN:
    return chain(s, j);
  }
  return SB_ERROR;
}

static void expire(sb_rstore_t *s)
{
  int64_t now = sb_wall_ms();
  if (s->retention_days == 0 || now < s->next_expiry_ms)
    return;
  s->next_expiry_ms = now + EXPIRE_EVERY_MS;
  uint64_t n = 0;
  if (s->backend->expire(s->impl, now - (int64_t)s->retention_days * DAY_MS,
                         &n) != SB_OK)
    SB_ERR("stored responses: retention: the store failed");
  pthread_mutex_lock(&s->lock);
  s->stats.expired += n;
  pthread_mutex_unlock(&s->lock);
}

static void *store_main(void *arg)
{
  sb_rstore_t *s = arg;
  pthread_setname_np(pthread_self(), "sb-responses");
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (s->head == NULL && !s->stop) {
      if (s->retention_days == 0) {
        pthread_cond_wait(&s->wake, &s->lock);
        continue;
      }
      pthread_mutex_unlock(&s->lock);
      expire(s);
      pthread_mutex_lock(&s->lock);
      if (s->head != NULL || s->stop)
        break;
      struct timespec until = sb_deadline_after_ms(EXPIRE_EVERY_MS);
      pthread_cond_timedwait(&s->wake, &s->lock, &until);
    }
    sb_rstore_job_t *j = s->head;
    if (j == NULL)
      break; /* stopped, and nothing left */
    s->head = j->next;
    if (s->head == NULL)
      s->tail = NULL;
    pthread_mutex_unlock(&s->lock);

    j->status = run(s, j);
    bool failed = j->status == SB_ERROR;
    if (failed && !s->failing)
      SB_ERR("stored responses: the %s store failed a request",
             s->backend->name);
    else if (!failed && s->failing)
      SB_INFO("stored responses: the %s store works again", s->backend->name);
    s->failing = failed;

    pthread_mutex_lock(&s->lock);
    s->stats.waiting--;
    s->stats.done++;
    s->stats.failed += failed;
    pthread_mutex_unlock(&s->lock);
    if (j->done != NULL)
      uv_async_send(&j->async);
    else
      sb_rstore_job_free(j);
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- the store ------------------------------------------------------------------- */

sb_rstore_t *sb_rstore_new(const sb_rstore_backend_t *backend, void *impl,
                           uint32_t retention_days)
{
  sb_rstore_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    backend->close(impl);
    return NULL;
  }
  s->backend = backend;
  s->impl = impl;
  s->retention_days = retention_days;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  if (pthread_create(&s->thread, NULL, store_main, s) != 0) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    backend->close(impl);
    free(s);
    return NULL;
  }
  return s;
}

sb_rstore_t *sb_rstore_open(const char *database, uint32_t retention_days,
                            char *err, size_t errlen)
{
  const sb_rstore_backend_t *backend;
  void *impl;
  if (sb_store_is_postgres(database)) {
    backend = &sb_rstore_pg;
    impl = sb_rstore_pg_open(database, err, errlen);
  } else if (strncmp(database, "sqlite:", 7) == 0) {
    backend = &sb_rstore_sqlite;
    impl = sb_rstore_sqlite_open(database + 7, err, errlen);
  } else {
    snprintf(err, errlen, "stored responses: '%s': only sqlite:PATH and "
                          "postgres:// are supported by this build", database);
    return NULL;
  }
  if (impl == NULL)
    return NULL;
  sb_rstore_t *s = sb_rstore_new(backend, impl, retention_days);
  if (s == NULL)
    snprintf(err, errlen, "stored responses: cannot start the store's thread");
  return s;
}

void sb_rstore_close(sb_rstore_t *s)
{
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->stop = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  s->backend->close(s->impl);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  free(s);
}

void sb_rstore_stats(sb_rstore_t *s, sb_rstore_stats_t *out)
{
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  pthread_mutex_unlock(&s->lock);
}
