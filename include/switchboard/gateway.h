/* SPDX-License-Identifier: MIT */
/*
 * The gateway: what every worker shares (config, catalog, ledger, skills),
 * and routing a requested model id to a provider endpoint.
 */
#ifndef SWITCHBOARD_GATEWAY_H
#define SWITCHBOARD_GATEWAY_H

#include <signal.h>

#include "switchboard/catalog.h"
#include "switchboard/config.h"
#include "switchboard/snapshot.h"
#include "switchboard/worker.h"

struct sb_ledger;
struct sb_counters;
struct sb_skills;
struct sb_health;
struct sb_catalog_refresher;
struct sb_rstore;
struct sb_ops;
typedef struct sb_reload_waiter sb_reload_waiter_t;

typedef struct sb_gateway {
  sb_config_t *config;
  /* The current catalog (catalog.h): a snapshot a refresh replaces while
   * requests run. A request takes it with sb_gateway_catalog(). */
  sb_snap_cell_t catalogs;
  bool catalogs_ready;
  struct sb_catalog_refresher *refresher; /* catalog_refresh.h */
  struct sb_ledger *ledger;
  struct sb_counters *counters; /* shared with other instances (counters.h);
                                   NULL without `redis` */
  struct sb_skills *skills; /* the doors' (src/api/, sb_api_open) */
  struct sb_rstore *responses; /* the Responses door's stored responses
                                  (src/api/, sb_api_open) */
  struct sb_health *health; /* endpoint health and key states (health.h) */
  struct sb_ops *ops;       /* access log, metrics, traces (ops.h) */
  sb_worker_t *workers;
  unsigned n_workers;
  int64_t started_ms;
  struct sb_reload_waiter *reload_waiters; /* API reloads queued (reload.c) */
} sb_gateway_t;

/* Open the ledger, the shared counters, the catalog (and its refresh) and
 * health for a loaded config. */
sb_status_t sb_gateway_open(sb_gateway_t *gw, sb_config_t *cfg, char *err,
                            size_t errlen);
void sb_gateway_close(sb_gateway_t *gw);

/* The catalog a request routes with: the current one when the request
 * first asks (the API router asks as each request starts), kept until the
 * exchange ends even if a refresh replaces it meanwhile. On the worker's
 * thread; costs an atomic load and increment. NULL only on that first
 * call, when the exchange's arena is out of memory. */
const sb_catalog_t *sb_gateway_catalog(sb_http_exchange_t *x);
/* The configuration a request runs with: its catalog's (a reload replaces
 * both together, and a request keeps the pair it started with). */
const sb_config_t *sb_gateway_config(sb_http_exchange_t *x);
/* A reference to the current catalog for code outside a request (give it
 * back with sb_catalog_release). Takes a mutex. */
const sb_catalog_t *sb_gateway_catalog_now(sb_gateway_t *gw);
/* The number of models in the current catalog. */
size_t sb_gateway_n_models(sb_gateway_t *gw);

/* The listening sockets, one per worker (src/gateway/server.c). */
typedef struct {
  int *fds;
  unsigned n;
  struct sockaddr_storage addr; /* with the port bound (port 0: picked) */
} sb_listeners_t;

/* Open cfg's listening sockets before the gateway opens, so that an
 * address another process serves is refused (with a message on stderr)
 * before anything else is touched. */
sb_status_t sb_server_listen(const sb_config_t *cfg, sb_listeners_t *l);
void sb_server_listeners_close(sb_listeners_t *l);

/* Run the workers on `l` (which it closes) until SIGINT/SIGTERM, then
 * drain gracefully; every request goes to `handler` (the doors:
 * sb_api_handle, wired by `serve`). Tells the service manager (notify.h) READY=1 once
 * listening and STOPPING=1 at the shutdown; SIGHUP calls
 * sb_gateway_reload_all() between RELOADING=1 and READY=1, SIGUSR1 reopens
 * the access log. */
sb_status_t sb_server_run(sb_gateway_t *gw, sb_listeners_t *l,
                          sb_http_handler_fn handler);

/* Block SIGINT/SIGTERM/SIGHUP (and ignore SIGPIPE) in the calling thread and
 * every thread it creates afterwards: call before starting any thread. */
void sb_server_block_signals(sigset_t *set);

/* ---- live reload (src/gateway/reload.c) -------------------------------- */

/* Re-read the config file: on the thread that runs the server (SIGHUP).
 * SB_OK: new requests run with it; SB_ERROR: the file is invalid (nothing
 * changed); SB_DECLINED: there is no file to re-read. `msg` says what was
 * reloaded or why not (and is logged). */
sb_status_t sb_gateway_reload(sb_gateway_t *gw, char *msg, size_t cap);
/* SIGHUP: a reload, then the answer to every API request queued before it. */
void sb_gateway_reload_all(sb_gateway_t *gw);
/* At shutdown: every API request still waiting is answered SB_DECLINED. */
void sb_gateway_reload_stop(sb_gateway_t *gw);

/* The answer to POST /api/v1/admin/reload, on the request's worker. */
typedef void (*sb_reload_done_fn)(sb_http_exchange_t *x, sb_status_t rc,
                                  const char *msg);
/* On a worker: have the server's thread reload, and call `done` with the
 * outcome (the worker is not held meanwhile; a client gone is fine). */
void sb_gateway_reload_request(sb_http_exchange_t *x, sb_reload_done_fn done);

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
 * Resolve a requested model id in catalog `cat` (and the providers of the
 * config it was built with): a catalog id (or a catalog slug without its
 * author, when unique) goes to its default endpoint; an id whose prefix
 * names a configured provider ("groq/llama-3.3-70b-specdec") passes through
 * with the rest of the id as the upstream model name (price unknown).
 */
sb_route_status_t sb_route(const sb_catalog_t *cat, sb_slice_t model,
                           sb_route_t *out);

/* ---- routing plans: fallbacks and provider preferences ---------------- */

#define SB_PLAN_MAX 16   /* endpoints tried per request, at most */
#define SB_PREFS_MAX 8   /* entries of order / only / ignore */
#define SB_MODELS_MAX 8  /* the requested model plus `models` */

typedef enum {
  SB_SORT_DEFAULT = 0, /* healthy first, cheapest first, weight breaks ties */
  SB_SORT_PRICE,
  SB_SORT_LATENCY,
  SB_SORT_THROUGHPUT
} sb_sort_t;

/* OpenRouter's `provider` object (docs/routing.md). Slices point into the
 * request. */
typedef struct {
  sb_slice_t order[SB_PREFS_MAX];
  size_t n_order;
  sb_slice_t only[SB_PREFS_MAX];
  size_t n_only;
  sb_slice_t ignore[SB_PREFS_MAX];
  size_t n_ignore;
  bool allow_fallbacks;    /* default true */
  bool require_parameters; /* default false */
  sb_sort_t sort;
  bool has_max_prompt, has_max_completion;
  int64_t max_prompt_pico;     /* per token */
  int64_t max_completion_pico; /* per token */
} sb_prefs_t;

typedef struct {
  sb_route_t route;
  size_t slot;          /* health slot */
  unsigned model_rank;  /* position in the model list */
  unsigned order_rank;  /* position in prefs.order; SB_PREFS_MAX if absent */
  bool usable;          /* its breaker lets requests through */
  bool seeded;          /* health averages known */
  double latency_ms, tps;
  uint32_t weight;
} sb_candidate_t;

void sb_prefs_init(sb_prefs_t *p);
/* Read a `provider` object (NULL or null: defaults). On a bad shape
 * returns SB_ERROR with a message for a 400 in `*err`. */
sb_status_t sb_prefs_parse(const sb_json_t *obj, sb_prefs_t *p,
                           const char **err);
/* Strip a `:floor` / `:nitro` routing suffix from `*model`, setting the
 * sort it stands for (unless `provider.sort` set one). */
void sb_prefs_suffix(sb_slice_t *model, sb_prefs_t *p);

/* Order candidates: by model rank, usable before open breakers, listed
 * providers in `order` first, then by the sort (stable). Pure. */
void sb_candidates_sort(sb_candidate_t *c, size_t n, const sb_prefs_t *p);

/*
 * Every endpoint worth trying, in order, for the model ids `ids` (the
 * requested one first, then the fallbacks) in catalog `cat`, honouring the
 * preferences and the endpoints' health. `req` (may be NULL) is the
 * request, for require_parameters. Returns the number of candidates; when
 * 0, `*why` is the first model's route status (or SB_ROUTE_NO_PROVIDER
 * when the preferences filtered everything out).
 */
size_t sb_route_plan(const sb_gateway_t *gw, const sb_catalog_t *cat,
                     const sb_slice_t *ids, size_t n_ids, const sb_prefs_t *p,
                     const sb_json_t *req, int64_t now_ms, sb_candidate_t *out,
                     size_t cap, sb_route_status_t *why);

#endif
