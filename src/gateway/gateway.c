/* SPDX-License-Identifier: MIT */
/* Opening and closing what the workers share; see gateway.h. */
#include "switchboard/gateway.h"

#include <stdio.h>
#include <stdlib.h>

#include "switchboard/catalog_refresh.h"
#include "switchboard/counters.h"
#include "switchboard/health.h"
#include "switchboard/ledger.h"
#include "switchboard/log.h"
#include "switchboard/ops.h"

/* The catalog: the embedded one with the stored refreshed lists and the
 * config's entries, then kept current in the background when configured
 * (catalog_refresh.h). */
static sb_status_t open_catalog(sb_gateway_t *gw, sb_config_t *cfg, char *err,
                                size_t errlen)
{
  sb_catalog_t *first = NULL;
  sb_catalog_store_t *store =
      sb_catalog_store_open(cfg->database, true, err, errlen);
  if (store == NULL)
    SB_WARN("%s: refreshed model lists are not kept across restarts", err);
  gw->refresher = sb_catalog_refresher_new(cfg, store, gw->health, &first, err,
                                           errlen);
  if (gw->refresher == NULL)
    return SB_ERROR;
  sb_snap_cell_init(&gw->catalogs, &first->snap);
  gw->catalogs_ready = true;
  if (sb_catalog_refresher_start(gw->refresher, &gw->catalogs) != SB_OK) {
    snprintf(err, errlen, "cannot start the catalog refresh thread");
    return SB_ERROR;
  }
  return SB_OK;
}

sb_status_t sb_gateway_open(sb_gateway_t *gw, sb_config_t *cfg, char *err,
                            size_t errlen)
{
  memset(gw, 0, sizeof(*gw));
  gw->config = cfg;
  gw->started_ms = sb_wall_ms();
  /* The ledger first: it sets SQLite up before anything else opens the
   * database (the catalog store does, next). */
  sb_ledger_options_t lopts = {cfg->durable, cfg->retention_days,
                               cfg->shutdown_grace_ms};
  gw->ledger = sb_ledger_open_with(cfg->database, &lopts, err, errlen);
  if (gw->ledger == NULL)
    return SB_ERROR;
  if (cfg->redis != NULL) {
    sb_counters_options_t copts = {cfg->redis, cfg->redis_down_local,
                                   gw->ledger};
    gw->counters = sb_counters_open(&copts, err, errlen);
    if (gw->counters == NULL)
      return SB_ERROR;
  }
  /* Endpoint slots are added as catalogs name endpoints, so that every
   * catalog built later shares them. */
  gw->health = sb_health_new(cfg, 0);
  if (gw->health == NULL) {
    snprintf(err, errlen, "out of memory");
    return SB_ERROR;
  }
  if (open_catalog(gw, cfg, err, errlen) != SB_OK)
    return SB_ERROR;
  /* log.level, unless SWITCHBOARD_LOG said otherwise */
  if (cfg->log.level >= 0 && getenv("SWITCHBOARD_LOG") == NULL)
    sb_log_level = (sb_log_level_t)cfg->log.level;
  gw->ops = sb_ops_new(cfg, cfg->workers, err, errlen);
  if (gw->ops == NULL)
    return SB_ERROR;
  return SB_OK;
}

void sb_gateway_close(sb_gateway_t *gw)
{
  sb_ops_free(gw->ops); /* writes what is left of the access log */
  gw->ops = NULL;
  /* The refresh thread first: it may be publishing. */
  sb_catalog_refresher_free(gw->refresher);
  gw->refresher = NULL;
  sb_counters_close(gw->counters); /* what is owed, before the ledger goes */
  gw->counters = NULL;
  sb_ledger_close(gw->ledger); /* drains the queue */
  gw->ledger = NULL;
  for (unsigned i = 0; gw->workers != NULL && i < gw->n_workers; i++)
    sb_snap_reader_drop(&gw->workers[i].catalog_reader);
  if (gw->catalogs_ready)
    sb_snap_cell_destroy(&gw->catalogs);
  gw->catalogs_ready = false;
  sb_health_free(gw->health);
  gw->health = NULL;
  sb_config_unref(gw->config); /* a reloaded one: the gateway's reference */
  free(gw->workers);
  gw->workers = NULL;
}

static void release_catalog(void *cat)
{
  sb_catalog_release(cat);
}

const sb_catalog_t *sb_gateway_catalog(sb_http_exchange_t *x)
{
  if (x->catalog != NULL)
    return x->catalog;
  sb_worker_t *w = x->worker;
  sb_snap_t *s = sb_snap_acquire(&w->gw->catalogs, &w->catalog_reader);
  const sb_catalog_t *cat = SB_CONTAINER_OF(s, sb_catalog_t, snap);
  if (sb_arena_on_destroy(&x->arena, release_catalog, (void *)cat) != SB_OK) {
    sb_snap_release(s); /* the arena is out of memory: so is the request */
    return NULL;
  }
  x->catalog = cat;
  return cat;
}

const sb_config_t *sb_gateway_config(sb_http_exchange_t *x)
{
  const sb_catalog_t *cat = sb_gateway_catalog(x);
  if (cat == NULL) /* out of memory: the worker's reader still holds the
                    * catalog just seen, until this thread's next request */
    cat = SB_CONTAINER_OF(x->worker->catalog_reader.held, sb_catalog_t, snap);
  return cat->config;
}

const sb_catalog_t *sb_gateway_catalog_now(sb_gateway_t *gw)
{
  sb_snap_t *s = sb_snap_acquire(&gw->catalogs, NULL);
  return SB_CONTAINER_OF(s, sb_catalog_t, snap);
}

size_t sb_gateway_n_models(sb_gateway_t *gw)
{
  const sb_catalog_t *cat = sb_gateway_catalog_now(gw);
  size_t n = cat->n_models;
  sb_catalog_release(cat);
  return n;
}
