/* Opening and closing what the workers share; see gateway.h. */
#include "switchboard/gateway.h"

#include <stdio.h>
#include <stdlib.h>

#include "switchboard/counters.h"
#include "switchboard/health.h"
#include "switchboard/ledger.h"

sb_status_t sb_gateway_open(sb_gateway_t *gw, sb_config_t *cfg, char *err,
                            size_t errlen)
{
  memset(gw, 0, sizeof(*gw));
  gw->config = cfg;
  gw->started_ms = sb_wall_ms();
  if (sb_catalog_load(&gw->catalog, cfg, err, errlen) != SB_OK)
    return SB_ERROR;
  gw->health = sb_health_new(cfg, gw->catalog.n_endpoints);
  if (gw->health == NULL) {
    snprintf(err, errlen, "out of memory");
    return SB_ERROR;
  }
  for (size_t i = 0; i < gw->catalog.n_models; i++) {
    const sb_model_t *m = &gw->catalog.models[i];
    for (size_t j = 0; j < m->n_endpoints; j++)
      sb_health_set_label(gw->health, m->endpoints[j].slot, m->id,
                          m->endpoints[j].provider_name);
  }
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
  return SB_OK;
}

void sb_gateway_close(sb_gateway_t *gw)
{
  sb_counters_close(gw->counters); /* what is owed, before the ledger goes */
  gw->counters = NULL;
  sb_ledger_close(gw->ledger); /* drains the queue */
  gw->ledger = NULL;
  sb_catalog_free(&gw->catalog);
  sb_health_free(gw->health);
  gw->health = NULL;
  free(gw->workers);
  gw->workers = NULL;
}
