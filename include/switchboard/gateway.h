/*
 * The gateway: what every worker shares (config, catalog, ledger, skills),
 * and routing a requested model id to a provider endpoint.
 */
#ifndef SWITCHBOARD_GATEWAY_H
#define SWITCHBOARD_GATEWAY_H

#include <signal.h>

#include "switchboard/catalog.h"
#include "switchboard/config.h"
#include "switchboard/worker.h"

struct sb_ledger;
struct sb_skills;

typedef struct sb_gateway {
  sb_config_t *config;
  sb_catalog_t catalog;
  struct sb_ledger *ledger;
  struct sb_skills *skills;
  sb_worker_t *workers;
  unsigned n_workers;
  int64_t started_ms;
} sb_gateway_t;

/* Open the catalog, ledger and skills for a loaded config. */
sb_status_t sb_gateway_open(sb_gateway_t *gw, sb_config_t *cfg, char *err,
                            size_t errlen);
void sb_gateway_close(sb_gateway_t *gw);

/* Run the workers until SIGINT/SIGTERM, then drain gracefully. */
sb_status_t sb_server_run(sb_gateway_t *gw);

/* Block SIGINT/SIGTERM (and ignore SIGPIPE) in the calling thread and every
 * thread it creates afterwards: call before starting any thread. */
void sb_server_block_signals(sigset_t *set);

/* ---- routing ---------------------------------------------------------- */

typedef enum {
  SB_ROUTE_OK = 0,
  SB_ROUTE_UNKNOWN_MODEL,   /* 404: neither in the catalog nor a provider prefix */
  SB_ROUTE_NO_PROVIDER,     /* 503: known model, no configured provider serves it */
  SB_ROUTE_UNSUPPORTED      /* 503: its provider's format is not supported */
} sb_route_status_t;

typedef struct {
  const sb_model_t *model;       /* NULL for a pass-through id */
  const sb_endpoint_t *endpoint; /* NULL for a pass-through id */
  const sb_provider_t *provider;
  sb_slice_t model_id;           /* the id reported to the client */
  sb_slice_t upstream_model;     /* the provider's own model name */
  sb_price_t price;
} sb_route_t;

/*
 * Resolve a requested model id: a catalog id (or a catalog slug without its
 * author, when unique) goes to its default endpoint; an id whose prefix
 * names a configured provider ("groq/llama-3.3-70b-specdec") passes through
 * with the rest of the id as the upstream model name (price unknown: 0).
 */
sb_route_status_t sb_route(const sb_gateway_t *gw, sb_slice_t model,
                           sb_route_t *out);

#endif
