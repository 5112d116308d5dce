/* SPDX-License-Identifier: MIT */
/*
 * The catalog refresher; see include/switchboard/catalog_refresh.h.
 *
 * One thread, woken by its period or by the gateway's shutdown. Everything
 * slow happens here: the fetches, the parsing, the store, the build. The
 * workers only ever see the finished catalog, swapped in atomically
 * (snapshot.h).
 */
#include "switchboard/catalog_refresh.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/codec.h"
#include "switchboard/health.h"
#include "switchboard/log.h"

#define RETRY_FIRST_S 60 /* after a failed refresh, then doubling */

typedef struct {
  sb_catalog_source_status_t status;
  sb_buf_t body; /* the last good list, normal form; empty: none */
} source_t;

struct sb_catalog_refresher {
  const sb_config_t *cfg;
  sb_catalog_store_t *store;
  sb_health_t *health;
  sb_catalog_t *current; /* the last catalog built (a reference) */
  source_t src[SB_CATALOG_MAX_SOURCES];
  sb_catalog_source_status_t view[SB_CATALOG_MAX_SOURCES];
  size_t n_src;
  sb_snap_cell_t *cell; /* where new catalogs go, once started */
  pthread_t thread;
  bool running;
  /* cfg, the lists in hand and their status, current and publishing: the
   * refresh thread and a reload (sb_catalog_refresher_reconfigure) */
  pthread_mutex_t build_lock;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  atomic_bool stop;
};

static int64_t now_s(void)
{
  return (int64_t)time(NULL);
}

/* "2026-12-05T14:00:00Z" */
static void utc(int64_t t, char *out, size_t cap)
{
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void add_source(sb_catalog_refresher_t *r, const char *name)
{
  if (r->n_src == SB_CATALOG_MAX_SOURCES)
    return;
  source_t *s = &r->src[r->n_src++];
  snprintf(s->status.name, sizeof(s->status.name), "%s", name);
  sb_buf_init(&s->body, SB_FEED_MAX_BODY);
}

/* Build from the embedded catalog, the lists in hand and the config. */
static sb_catalog_t *build(sb_catalog_refresher_t *r, char *err, size_t errlen)
{
  sb_catalog_source_t in[SB_CATALOG_MAX_SOURCES];
  size_t n = 0;
  for (size_t i = 0; i < r->n_src; i++)
    if (r->src[i].body.len > 0)
      in[n++] = (sb_catalog_source_t){r->src[i].status.name,
                                      r->src[i].status.fetched_at,
                                      sb_buf_slice(&r->src[i].body)};
  return sb_catalog_build(r->cfg, in, n, r->health, err, errlen);
}

sb_catalog_refresher_t *sb_catalog_refresher_new(const sb_config_t *cfg,
                                                 sb_catalog_store_t *store,
                                                 sb_health_t *health,
                                                 sb_catalog_t **first,
                                                 char *err, size_t errlen)
{
  sb_catalog_refresher_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    snprintf(err, errlen, "out of memory");
    sb_catalog_store_close(store);
    return NULL;
  }
  r->cfg = sb_config_ref(cfg);
  r->store = store;
  r->health = health;
  atomic_init(&r->stop, false);
  pthread_mutex_init(&r->build_lock, NULL);
  pthread_mutex_init(&r->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->wake, &ca);
  pthread_condattr_destroy(&ca);
  if (cfg->catalog.sources & SB_CATALOG_SRC_OPENROUTER)
    add_source(r, "openrouter");
  if (cfg->catalog.sources & SB_CATALOG_SRC_PROVIDERS)
    for (size_t i = 0; i < cfg->n_providers; i++) {
      const sb_provider_t *p = &cfg->providers[i];
      char name[80];
      /* OpenRouter's list is the openrouter source */
      if (sb_codec_find(p->format) == NULL ||
          strcmp(p->name, "openrouter") == 0)
        continue;
      snprintf(name, sizeof(name), "provider:%s", p->name);
      add_source(r, name);
    }
  for (size_t i = 0; store != NULL && i < r->n_src; i++) {
    source_t *s = &r->src[i];
    char why[256];
    sb_status_t rc = store->ops->load(store, s->status.name, &s->body,
                                      &s->status.fetched_at, why, sizeof(why));
    if (rc == SB_ERROR)
      SB_WARN("catalog: %s", why);
    if (rc != SB_OK)
      sb_buf_reset(&s->body);
  }
  r->current = build(r, err, errlen);
  if (r->current == NULL) {
    sb_catalog_refresher_free(r);
    return NULL;
  }
  for (size_t i = 0; i < r->current->n_sources; i++) {
    char at[32];
    utc(r->current->sources[i].fetched_at, at, sizeof(at));
    SB_INFO("catalog: the stored %s list of %s (%zu models)",
            r->current->sources[i].name, at, r->current->sources[i].models);
  }
  *first = (sb_catalog_t *)sb_snap_ref(&r->current->snap);
  return r;
}

/* "3 added (a, b, c)" into out. */
static void ids_phrase(char *out, size_t cap, size_t n, const char *what,
                       const char *const *ids)
{
  size_t k = (size_t)snprintf(out, cap, "%zu %s", n, what);
  for (size_t i = 0; i < n && i < SB_CATALOG_DIFF_SHOW && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%s", i == 0 ? " (" : ", ",
                          ids[i]);
  if (n > 0 && k < cap)
    snprintf(out + k, cap - k, "%s)", n > SB_CATALOG_DIFF_SHOW ? ", ..." : "");
}

/* Fetch one source with `cfg`; on success its list is replaced (and
 * stored). The fetch runs without the build lock, the replacement under
 * it. */
static bool refresh_source(sb_catalog_refresher_t *r, const sb_config_t *cfg,
                           source_t *s)
{
  sb_feed_t feed;
  sb_slice_t body;
  char why[256];
  int64_t at = now_s();
  sb_catalog_source_status_t *st = &s->status;
  sb_feed_begin(&feed);
  if (sb_catalog_fetch(cfg, st->name, &r->stop, &feed, why, sizeof(why)) !=
          SB_OK ||
      sb_feed_end(&feed, &body, why, sizeof(why)) != SB_OK) {
    char was[40];
    pthread_mutex_lock(&r->build_lock);
    st->fetched = false;
    utc(st->fetched_at, was, sizeof(was));
    snprintf(st->error, sizeof(st->error), "%s", why);
    bool have = s->body.len > 0;
    pthread_mutex_unlock(&r->build_lock);
    if (!atomic_load(&r->stop))
      SB_WARN("catalog: %s: refresh failed: %s; %s%s", st->name, why,
              have ? "keeping the list of "
                   : "no list yet (the "
                     "embedded catalog stays in use)",
              have ? was : "");
    sb_feed_free(&feed);
    return false;
  }
  pthread_mutex_lock(&r->build_lock);
  st->fetched = true;
  st->error[0] = '\0';
  st->fetched_at = at;
  st->st = feed.st;
  sb_buf_reset(&s->body);
  if (sb_buf_append_slice(&s->body, body) != SB_OK)
    SB_WARN("catalog: %s: out of memory", st->name); /* cannot be: same cap */
  pthread_mutex_unlock(&r->build_lock);
  if (feed.st.skipped > 0)
    SB_WARN("catalog: %s: %zu models, %zu malformed entries left out (%s)",
            st->name, feed.st.kept, feed.st.skipped, feed.st.why);
  else
    SB_INFO("catalog: %s: %zu models", st->name, feed.st.kept);
  if (feed.st.truncated)
    SB_WARN("catalog: %s: only the first %d models are kept", st->name,
            SB_FEED_MAX_MODELS);
  if (r->store != NULL && r->store->ops->save(r->store, st->name, at, body, why,
                                              sizeof(why)) != SB_OK)
    SB_WARN("catalog: %s: not stored (%s); in use until a restart", st->name,
            why);
  sb_feed_free(&feed);
  return true;
}

sb_status_t sb_catalog_refresh_once(sb_catalog_refresher_t *r,
                                    sb_catalog_refresh_result_t *res)
{
  char err[512];
  memset(res, 0, sizeof(*res));
  /* the config of the fetches: the one in use now, kept while they run
   * even if a reload replaces it meanwhile */
  pthread_mutex_lock(&r->build_lock);
  const sb_config_t *cfg = sb_config_ref(r->cfg);
  pthread_mutex_unlock(&r->build_lock);
  for (size_t i = 0; i < r->n_src && !atomic_load(&r->stop); i++) {
    if (refresh_source(r, cfg, &r->src[i]))
      res->fetched++;
    else
      res->failed++;
  }
  sb_config_unref(cfg);
  pthread_mutex_lock(&r->build_lock);
  res->models = r->current->n_models;
  if (res->fetched > 0) {
    sb_catalog_t *next = build(r, err, sizeof(err));
    if (next == NULL) {
      SB_WARN("catalog: the refreshed catalog cannot be built (%s); keeping "
              "the one in use",
              err);
    } else {
      char a[400], d[400], p[400];
      sb_catalog_diff(r->current, next, &res->diff);
      res->rebuilt = true;
      res->models = next->n_models;
      ids_phrase(a, sizeof(a), res->diff.added, "added", res->diff.added_ids);
      ids_phrase(d, sizeof(d), res->diff.removed, "removed",
                 res->diff.removed_ids);
      ids_phrase(p, sizeof(p), res->diff.repriced, "with new prices",
                 res->diff.repriced_ids);
      SB_INFO("catalog: refreshed: %zu models; %s; %s; %s", next->n_models, a,
              d, p);
      if (r->cell != NULL)
        sb_snap_publish(r->cell, sb_snap_ref(&next->snap));
      sb_catalog_release(r->current);
      r->current = next;
    }
  }
  pthread_mutex_unlock(&r->build_lock);
  return res->failed == 0 && res->rebuilt ? SB_OK : SB_ERROR;
}

sb_status_t sb_catalog_refresher_reconfigure(sb_catalog_refresher_t *r,
                                             const sb_config_t *cfg, char *err,
                                             size_t errlen)
{
  pthread_mutex_lock(&r->build_lock);
  const sb_config_t *old = r->cfg;
  r->cfg = cfg;
  sb_catalog_t *next = build(r, err, errlen);
  if (next == NULL) {
    r->cfg = old;
    pthread_mutex_unlock(&r->build_lock);
    return SB_ERROR;
  }
  sb_config_ref(cfg);
  if (r->cell != NULL)
    sb_snap_publish(r->cell, sb_snap_ref(&next->snap));
  sb_catalog_release(r->current);
  r->current = next;
  pthread_mutex_unlock(&r->build_lock);
  sb_config_unref(old);
  return SB_OK;
}

const sb_catalog_source_status_t *
sb_catalog_refresher_sources(const sb_catalog_refresher_t *r, size_t *n)
{
  sb_catalog_refresher_t *w = (sb_catalog_refresher_t *)r;
  pthread_mutex_lock(&w->build_lock);
  for (size_t i = 0; i < r->n_src; i++)
    w->view[i] = r->src[i].status;
  pthread_mutex_unlock(&w->build_lock);
  *n = r->n_src;
  return r->view;
}

/* Milliseconds on the monotonic clock, which the wake-up condition waits
 * on too (a wall-clock second is coarse, and the wall clock may jump). */
static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep until `until_ms` (mono_ms) or a stop; true when stopped. */
static bool wait_until(sb_catalog_refresher_t *r, int64_t until_ms)
{
  struct timespec ts = {(time_t)(until_ms / 1000),
                        (long)(until_ms % 1000) * 1000000};
  pthread_mutex_lock(&r->lock);
  while (!atomic_load(&r->stop) && mono_ms() < until_ms)
    if (pthread_cond_timedwait(&r->wake, &r->lock, &ts) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&r->lock);
  return atomic_load(&r->stop);
}

static void *refresher_main(void *arg)
{
  sb_catalog_refresher_t *r = arg;
  pthread_mutex_lock(&r->build_lock);
  int64_t period_ms = (int64_t)r->cfg->catalog.refresh_s * 1000;
  pthread_mutex_unlock(&r->build_lock);
  /* The first refresh is due when the oldest list in hand is a period old
   * (at once when a source has none yet). */
  int64_t age_ms = INT64_MAX / 2, now = now_s();
  for (size_t i = 0; i < r->n_src; i++)
    age_ms = SB_MIN(age_ms, r->src[i].body.len > 0
                                ? (now - r->src[i].status.fetched_at) * 1000
                                : period_ms);
  int64_t due = mono_ms() + SB_MAX(period_ms - age_ms, 0);
  int64_t backoff = SB_MIN(RETRY_FIRST_S * 1000, period_ms);
  while (!wait_until(r, due)) {
    sb_catalog_refresh_result_t res;
    if (sb_catalog_refresh_once(r, &res) == SB_OK) {
      due = mono_ms() + period_ms;
      backoff = SB_MIN(RETRY_FIRST_S * 1000, period_ms);
    } else {
      due = mono_ms() + backoff;
      backoff = SB_MIN(backoff * 2, period_ms);
    }
  }
  return NULL;
}

sb_status_t sb_catalog_refresher_start(sb_catalog_refresher_t *r,
                                       sb_snap_cell_t *cell)
{
  r->cell = cell;
  if (r->cfg->catalog.refresh_s == 0 || r->n_src == 0)
    return SB_OK;
  if (pthread_create(&r->thread, NULL, refresher_main, r) != 0)
    return SB_ERROR;
  r->running = true;
  char url[512];
  sb_catalog_openrouter_url(r->cfg, url, sizeof(url));
  SB_INFO("catalog: refreshing every %us from %zu source%s (openrouter: %s)",
          r->cfg->catalog.refresh_s, r->n_src, r->n_src == 1 ? "" : "s",
          (r->cfg->catalog.sources & SB_CATALOG_SRC_OPENROUTER) ? url : "off");
  return SB_OK;
}

void sb_catalog_refresher_free(sb_catalog_refresher_t *r)
{
  if (r == NULL)
    return;
  pthread_mutex_lock(&r->lock);
  atomic_store(&r->stop, true);
  pthread_cond_signal(&r->wake);
  pthread_mutex_unlock(&r->lock);
  if (r->running)
    pthread_join(r->thread, NULL);
  sb_catalog_release(r->current);
  sb_config_unref(r->cfg);
  for (size_t i = 0; i < r->n_src; i++)
    sb_buf_free(&r->src[i].body);
  sb_catalog_store_close(r->store);
  pthread_cond_destroy(&r->wake);
  pthread_mutex_destroy(&r->build_lock);
  pthread_mutex_destroy(&r->lock);
  free(r);
}
