/* SPDX-License-Identifier: MIT */
/*
 * Keeping the catalog current (docs/catalog.md): fetch the model lists the
 * config names (`catalog.sources`: OpenRouter's, each provider's own), keep
 * the last good one of each in the store, build a catalog from them and
 * publish it, never on a request's path.
 *
 * The gateway makes one refresher at start (its first catalog comes from
 * the stored lists, so a restart without network keeps the last good
 * catalog), then starts its thread when `catalog.refresh` is set;
 * `switchboard models --refresh` runs one refresh in the foreground.
 * A failed fetch (timeout, an error status, a body that is not a model
 * list, too many malformed entries) keeps the last good list of that
 * source, and says why in the log.
 */
#ifndef SWITCHBOARD_CATALOG_REFRESH_H
#define SWITCHBOARD_CATALOG_REFRESH_H

#include <stdatomic.h>

#include "switchboard/catalog.h"
#include "switchboard/catalog_feed.h"
#include "switchboard/catalog_store.h"
#include "switchboard/snapshot.h"

struct sb_health;

/* One source of a refresher, as the last refresh left it. */
typedef struct {
  char name[80];      /* "openrouter", "provider:NAME" */
  bool fetched;       /* the last refresh fetched it */
  int64_t fetched_at; /* of the list in use; 0: none yet */
  sb_feed_stats_t st; /* of the last successful fetch */
  char error[320];    /* why the last refresh failed for it, or "" */
} sb_catalog_source_status_t;

typedef struct sb_catalog_refresher sb_catalog_refresher_t;

/*
 * A refresher for cfg's sources, reading and keeping lists in `store`
 * (taken over: closed with the refresher; may be NULL for none). Builds
 * the first catalog from the stored lists into `*first` (a reference for
 * the caller). With `health`, catalogs share its endpoint slots. NULL with
 * the reason in err when the catalog cannot be built (a bad config entry).
 */
sb_catalog_refresher_t *sb_catalog_refresher_new(const sb_config_t *cfg,
                                                 sb_catalog_store_t *store,
                                                 struct sb_health *health,
                                                 sb_catalog_t **first,
                                                 char *err, size_t errlen);
/* Stops the thread (an ongoing fetch is cut short) and frees everything. */
void sb_catalog_refresher_free(sb_catalog_refresher_t *r);

/* The result of one refresh. */
typedef struct {
  size_t fetched, failed; /* sources */
  size_t models;          /* in the catalog now */
  bool rebuilt;           /* a new catalog was built (something fetched) */
  sb_catalog_diff_t diff; /* against the previous catalog */
} sb_catalog_refresh_result_t;

/* Fetch every source now (blocking; the caller's thread), store what came
 * back, build a new catalog and publish it (after sb_catalog_refresher_
 * start). SB_OK when every source was fetched. */
sb_status_t sb_catalog_refresh_once(sb_catalog_refresher_t *r,
                                    sb_catalog_refresh_result_t *res);

/* From now on publish each new catalog to `cell`, and, when
 * cfg->catalog.refresh_s is set, refresh in a thread of its own: when the
 * oldest stored list is that old (at once if a source has none), then
 * every refresh_s; after a failure sooner (1 minute, doubling up to
 * refresh_s). */
sb_status_t sb_catalog_refresher_start(sb_catalog_refresher_t *r,
                                       sb_snap_cell_t *cell);

/* A reloaded config (shared: config.h): build a catalog from it and the
 * lists in hand, publish it, and fetch with it from now on (the sources
 * stay those of the config the refresher was made with). SB_ERROR with
 * the reason in err when it cannot be built: nothing changes then. */
sb_status_t sb_catalog_refresher_reconfigure(sb_catalog_refresher_t *r,
                                             const sb_config_t *cfg, char *err,
                                             size_t errlen);

/* The sources (n in *n); valid until the next refresh. */
const sb_catalog_source_status_t *
sb_catalog_refresher_sources(const sb_catalog_refresher_t *r, size_t *n);

/* ---- fetching one list (catalog_fetch.c) --------------------------------- */

/* The list of `source` ("openrouter" or "provider:NAME") into `feed`'s
 * normal form: GET with cfg's URL and the provider's key, timeouts
 * (catalog.timeout_ms), a SB_FEED_MAX_BODY cap and paging. Cut short when
 * *stop becomes true (may be NULL). SB_ERROR with the reason in err. */
sb_status_t sb_catalog_fetch(const sb_config_t *cfg, const char *source,
                             const atomic_bool *stop, sb_feed_t *feed,
                             char *err, size_t errlen);

/* The URL of OpenRouter's model list cfg names (catalog.openrouter_url,
 * else the openrouter provider's base_url, else OpenRouter's), with
 * "/models" appended. */
void sb_catalog_openrouter_url(const sb_config_t *cfg, char *out, size_t cap);

#endif
