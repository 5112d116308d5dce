/* SPDX-License-Identifier: MIT */
/*
 * Live reload: SIGHUP (`systemctl reload switchboard`) and POST
 * /api/v1/admin/reload re-read the config file while the gateway serves
 * (README, "Live reload").
 *
 * Every reload runs on the thread that runs the server (the one that takes
 * the signals), one at a time. The file is loaded into a new shared config
 * (config.h); settings that only a restart can change (listen, workers,
 * database, the HTTP limits and timeouts, log, otel, catalog) are carried
 * over from the running config, and a change to one of them is logged.
 * The providers are given their state (health.h: a provider of the same
 * name keeps its breaker and its unchanged keys' cool-downs), then the
 * catalog refresher builds a catalog from the new config and publishes it
 * (snapshot.h): a request takes the catalog, and with it the config, when
 * it starts and keeps both until it ends, so connections and streams in
 * flight finish on the old config while new requests get the new one. A
 * file that does not load, or whose catalog cannot be built, changes
 * nothing: the reason is logged and answered.
 *
 * The API asks the same thread by signalling the process (SIGHUP) and
 * waits for the result without holding its worker: a waiter queued here
 * is answered through a libuv async handle on the worker's loop.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "switchboard/catalog_refresh.h"
#include "switchboard/gateway.h"
#include "switchboard/health.h"
#include "switchboard/log.h"

/* ---- the settings a reload cannot change ------------------------------- */

typedef struct {
  char names[400];
  size_t len;
} changed_t;

static void note(changed_t *c, const char *name)
{
  int n = snprintf(c->names + c->len, sizeof(c->names) - c->len, "%s%s",
                   c->len > 0 ? ", " : "", name);
  if (n > 0)
    c->len = SB_MIN(c->len + (size_t)n, sizeof(c->names) - 1);
}

static bool str_differs(const char *a, const char *b)
{
  return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* `next`'s string setting takes the running one's (copied into next's own
 * memory: the running config may go away first). */
static void keep_str(sb_config_t *next, const char **field, const char *cur,
                     const char *name, changed_t *c)
{
  if (!str_differs(*field, cur))
    return;
  note(c, name);
  *field = cur != NULL ? sb_arena_strndup(&next->arena, cur, strlen(cur))
                       : NULL;
}

#define KEEP(field, name)                                                      \
  do {                                                                         \
    if (memcmp(&next->field, &cur->field, sizeof(cur->field)) != 0) {          \
      note(c, name);                                                           \
      next->field = cur->field;                                                \
    }                                                                          \
  } while (0)

static bool headers_differ(const sb_otel_config_t *a, const sb_otel_config_t *b)
{
  if (a->n_headers != b->n_headers)
    return true;
  for (size_t i = 0; i < a->n_headers; i++)
    if (strcmp(a->headers[i].name, b->headers[i].name) != 0 ||
        strcmp(a->headers[i].value, b->headers[i].value) != 0)
      return true;
  return false;
}

static void keep_running(sb_config_t *next, const sb_config_t *cur,
                         changed_t *c)
{
  keep_str(next, &next->database, cur->database, "database", c);
  keep_str(next, &next->redis, cur->redis, "redis", c);
  KEEP(workers, "workers");
  KEEP(durable, "durable");
  KEEP(retention_days, "retention_days");
  KEEP(max_header_bytes, "max_header_bytes");
  KEEP(max_body_bytes, "max_body_bytes");
  KEEP(request_timeout_ms, "request_timeout_ms");
  KEEP(idle_timeout_ms, "idle_timeout_ms");
  KEEP(shutdown_grace_ms, "shutdown_grace_ms");
  /* log and otel: the operations' threads were set up with them */
  KEEP(log.json, "log.format");
  KEEP(log.access, "log.access");
  KEEP(log.level, "log.level");
  keep_str(next, &next->log.file, cur->log.file, "log.file", c);
  keep_str(next, &next->otel.endpoint, cur->otel.endpoint, "otel.endpoint", c);
  keep_str(next, &next->otel.service_name, cur->otel.service_name,
           "otel.service_name", c);
  KEEP(otel.sample, "otel.sample");
  if (headers_differ(&next->otel, &cur->otel)) {
    note(c, "otel.headers");
    sb_kv_t *kv = sb_arena_calloc(&next->arena,
                                  (cur->otel.n_headers + 1) * sizeof(*kv));
    for (size_t i = 0; kv != NULL && i < cur->otel.n_headers; i++) {
      const sb_kv_t *h = &cur->otel.headers[i];
      kv[i].name = sb_arena_strndup(&next->arena, h->name, strlen(h->name));
      kv[i].value = sb_arena_strndup(&next->arena, h->value, strlen(h->value));
    }
    next->otel.headers = kv;
    next->otel.n_headers = kv != NULL ? cur->otel.n_headers : 0;
  }
  /* the catalog refresher's sources and period */
  KEEP(catalog.refresh_s, "catalog.refresh");
  KEEP(catalog.sources, "catalog.sources");
  KEEP(catalog.timeout_ms, "catalog.timeout_ms");
  keep_str(next, &next->catalog.openrouter_url, cur->catalog.openrouter_url,
           "catalog.openrouter_url", c);
}

/* "2 providers (added: groq; removed: local)" */
static void providers_phrase(const sb_config_t *cur, const sb_config_t *next,
                             char *out, size_t cap)
{
  char added[200] = "", removed[200] = "";
  size_t an = 0, rn = 0;
  for (size_t i = 0; i < next->n_providers; i++)
    if (sb_config_provider(cur, sb_slice_z(next->providers[i].name)) == NULL)
      an += (size_t)snprintf(added + an, sizeof(added) - SB_MIN(an, 199),
                             "%s%s", an > 0 ? ", " : "",
                             next->providers[i].name);
  for (size_t i = 0; i < cur->n_providers; i++)
    if (sb_config_provider(next, sb_slice_z(cur->providers[i].name)) == NULL)
      rn += (size_t)snprintf(removed + rn, sizeof(removed) - SB_MIN(rn, 199),
                             "%s%s", rn > 0 ? ", " : "",
                             cur->providers[i].name);
  snprintf(out, cap, "%zu provider%s%s%s%s%s%s%s", next->n_providers,
           next->n_providers == 1 ? "" : "s",
           an + rn > 0 ? " (" : "", an > 0 ? "added: " : "", added,
           an > 0 && rn > 0 ? "; " : "", rn > 0 ? "removed: " : "",
           rn > 0 ? removed : "");
  if (an + rn > 0) {
    size_t n = strlen(out);
    snprintf(out + n, cap - SB_MIN(n, cap), ")");
  }
}

sb_status_t sb_gateway_reload(sb_gateway_t *gw, char *msg, size_t cap)
{
  const sb_config_t *cur = gw->config;
  char err[512], listen[300], providers[480];
  if (cur->source == NULL || strcmp(cur->source, "environment") == 0) {
    snprintf(msg, cap, "reload refused: the gateway was started without a "
                       "config file (from the environment): nothing to "
                       "re-read; restart it to apply a change");
    SB_WARN("%s", msg);
    return SB_DECLINED;
  }
  /* the listen address in use wins over the file's, as at start */
  bool v6 = strchr(cur->listen_host, ':') != NULL;
  snprintf(listen, sizeof(listen), "%s%s%s:%u", v6 ? "[" : "",
           cur->listen_host, v6 ? "]" : "", cur->listen_port);
  sb_config_t *next = sb_config_load_new(cur->source, listen, err, sizeof(err));
  if (next == NULL)
    goto refused;
  changed_t kept = {.len = 0};
  keep_running(next, cur, &kept);
  if (sb_health_attach(gw->health, next) != SB_OK) {
    snprintf(err, sizeof(err), "out of memory");
    goto detach;
  }
  if (sb_catalog_refresher_reconfigure(gw->refresher, next, err,
                                       sizeof(err)) != SB_OK)
    goto detach;
  /* From here new requests run with `next`; the running config goes once
   * the last catalog built from it does (the gateway's own reference is
   * given back here). */
  providers_phrase(cur, next, providers, sizeof(providers));
  gw->config = next;
  sb_config_unref(cur);
  int n = snprintf(msg, cap,
                   "configuration reloaded from %s: %s, %zu models, %s",
                   next->source, providers, sb_gateway_n_models(gw),
                   next->admin_key != NULL ? "admin key required"
                                           : "local mode");
  SB_INFO("%s", msg);
  if (kept.len > 0) {
    SB_WARN("reload: %s changed in %s but take%s effect only with a restart; "
            "the values read at start stay in use",
            kept.names, next->source, strchr(kept.names, ',') ? "" : "s");
    if (n > 0 && (size_t)n < cap)
      snprintf(msg + n, cap - (size_t)n,
               "; only a restart applies the change to %s", kept.names);
  }
  return SB_OK;
detach:
  sb_health_detach(gw->health, next);
refused:
  snprintf(msg, cap, "reload refused, the configuration in use stays: %s",
           err);
  SB_ERR("%s", msg);
  sb_config_unref(next);
  return SB_ERROR;
}

/* ---- the API's requests ------------------------------------------------ */

enum { QUEUED, TAKEN, ANSWERED, GONE };

#define STOPPING_MSG "reload refused: the gateway is stopping"

struct sb_reload_waiter {
  struct sb_reload_waiter *next;
  sb_http_exchange_t *x;
  sb_reload_done_fn done;
  uv_async_t async; /* on the worker's loop */
  int state;        /* under waiters_lock */
  sb_status_t rc;
  char msg[640];
};

/* The queue of gw->reload_waiters (one gateway per process), and whether
 * the server still takes signals. */
static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static bool stopping;

static void waiter_closed(uv_handle_t *h)
{
  free(h->data);
}

/* On the worker: the answer is in. */
static void waiter_cb(uv_async_t *a)
{
  sb_reload_waiter_t *w = a->data;
  /* the API answers (nothing is written when the client went away) */
  w->done(w->x, w->rc, w->msg);
  w->x = NULL;
  uv_close((uv_handle_t *)&w->async, waiter_closed);
}

static void waiter_abort(sb_http_exchange_t *x)
{
  sb_reload_waiter_t *w = x->data;
  sb_gateway_t *gw = x->worker->gw;
  pthread_mutex_lock(&waiters_lock);
  bool queued = w->state == QUEUED;
  if (queued) {
    for (sb_reload_waiter_t **p = &gw->reload_waiters; *p != NULL;
         p = &(*p)->next)
      if (*p == w) {
        *p = w->next;
        break;
      }
    w->state = GONE;
  }
  pthread_mutex_unlock(&waiters_lock);
  /* taken or answered: the async callback finishes the exchange */
  if (queued) {
    sb_http_respond(x, 499, NULL, 0, NULL, SB_NULL_SLICE);
    uv_close((uv_handle_t *)&w->async, waiter_closed);
  }
}

void sb_gateway_reload_request(sb_http_exchange_t *x, sb_reload_done_fn done)
{
  sb_gateway_t *gw = x->worker->gw;
  sb_reload_waiter_t *w = calloc(1, sizeof(*w));
  if (w == NULL || uv_async_init(&x->worker->loop, &w->async, waiter_cb) != 0) {
    free(w);
    done(x, SB_ERROR, "out of memory");
    return;
  }
  w->async.data = w;
  w->x = x;
  w->done = done;
  x->data = w;
  x->on_abort = waiter_abort;
  pthread_mutex_lock(&waiters_lock);
  bool queued = !stopping;
  w->state = queued ? QUEUED : ANSWERED;
  if (queued) {
    w->next = gw->reload_waiters;
    gw->reload_waiters = w;
  } else {
    w->rc = SB_DECLINED;
    snprintf(w->msg, sizeof(w->msg), STOPPING_MSG);
    uv_async_send(&w->async);
  }
  pthread_mutex_unlock(&waiters_lock);
  /* the thread that takes the signals does the reload */
  if (queued)
    kill(getpid(), SIGHUP);
}

/* The waiters queued so far: this reload's. */
static sb_reload_waiter_t *take_waiters(sb_gateway_t *gw)
{
  pthread_mutex_lock(&waiters_lock);
  sb_reload_waiter_t *list = gw->reload_waiters;
  gw->reload_waiters = NULL;
  for (sb_reload_waiter_t *w = list; w != NULL; w = w->next)
    w->state = TAKEN;
  pthread_mutex_unlock(&waiters_lock);
  return list;
}

static void answer(sb_reload_waiter_t *list, sb_status_t rc, const char *msg)
{
  pthread_mutex_lock(&waiters_lock);
  for (sb_reload_waiter_t *w = list, *next; w != NULL; w = next) {
    next = w->next;
    w->rc = rc;
    snprintf(w->msg, sizeof(w->msg), "%s", msg);
    w->state = ANSWERED;
    uv_async_send(&w->async);
  }
  pthread_mutex_unlock(&waiters_lock);
}

void sb_gateway_reload_all(sb_gateway_t *gw)
{
  char msg[640];
  sb_reload_waiter_t *list = take_waiters(gw);
  sb_status_t rc = sb_gateway_reload(gw, msg, sizeof(msg));
  answer(list, rc, msg);
}

void sb_gateway_reload_stop(sb_gateway_t *gw)
{
  pthread_mutex_lock(&waiters_lock);
  stopping = true; /* no SIGHUP is taken from now on */
  pthread_mutex_unlock(&waiters_lock);
  answer(take_waiters(gw), SB_DECLINED, STOPPING_MSG);
}
