/* SPDX-License-Identifier: MIT */
/*
 * The model lists the catalog is refreshed from (docs/catalog.md), read
 * from a provider's bytes (hostile, like any network input) into a normal
 * form: the form that is stored and that catalogs are built from.
 *
 * - OpenRouter's GET /api/v1/models, `{"data": [model, ...]}`: each model
 *   is parsed and checked on its own (an id like author/slug, a pricing
 *   object of exact decimal prices or "-1" for unknown, members of the
 *   right types, at most SB_FEED_MAX_ENTRY bytes); a malformed one is left
 *   out and counted, the others are kept. The normal form is
 *   `{"data": [model, ...]}` with the members switchboard uses, compact.
 * - A provider's own list, for availability: OpenAI-format
 *   `{"data": [{"id"}, ...]}` (or a bare array), Anthropic's (paged with
 *   `has_more` / `last_id`), Gemini's `{"models": [{"name": "models/x",
 *   "supportedGenerationMethods"}], "nextPageToken"}`. The normal form is
 *   `{"data": [{"id": "x"}, ...]}`, with `pricing` when an OpenAI-format
 *   entry carries OpenRouter-shaped prices.
 *
 * The whole body is validated first (no DOM); then each entry is parsed
 * into a scratch arena reset per entry, so memory stays bounded by the
 * largest entry, not by the body.
 */
#ifndef SWITCHBOARD_CATALOG_FEED_H
#define SWITCHBOARD_CATALOG_FEED_H

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/json.h"
#include "switchboard/pricing.h"

#define SB_FEED_MAX_BODY (32u << 20)   /* a list body, and a normal form */
#define SB_FEED_MAX_ENTRY (256u << 10) /* one model entry */
#define SB_FEED_MAX_MODELS 20000       /* entries kept per list */
#define SB_FEED_MAX_ID 256             /* bytes of a model id */
#define SB_FEED_MAX_DEPTH 32           /* nesting inside one entry */

typedef enum {
  SB_LIST_OPENAI = 0, /* GET {base_url}/models */
  SB_LIST_ANTHROPIC,  /* GET /v1/models?limit=&after_id= */
  SB_LIST_GEMINI      /* GET /v1beta/models?pageSize=&pageToken= */
} sb_list_format_t;

typedef struct {
  size_t kept;    /* entries in the normal form */
  size_t skipped; /* malformed entries left out */
  bool truncated; /* entries past SB_FEED_MAX_MODELS were dropped */
  char why[256];  /* the first entry left out and why */
} sb_feed_stats_t;

/* A normal form being written: sb_feed_begin, one or more bodies (a paged
 * list gives several), sb_feed_end; sb_feed_free in every case. */
typedef struct {
  sb_buf_t out;
  sb_jw_t w;
  sb_arena_t scratch; /* one entry at a time */
  sb_feed_stats_t st;
  size_t entries; /* entries seen, for the messages (data[N]) */
} sb_feed_t;

void sb_feed_begin(sb_feed_t *f);
void sb_feed_free(sb_feed_t *f);

/* OpenRouter's model list. SB_ERROR (reason in err) when the body is not
 * JSON or has no `data` list; malformed entries only count. */
sb_status_t sb_feed_openrouter(sb_feed_t *f, sb_slice_t body, char *err,
                               size_t errlen);

/* One page of a provider's model list. `next` (next_cap bytes) receives
 * the cursor of the next page, "" after the last one (always "" for the
 * OpenAI format, which is not paged). */
sb_status_t sb_feed_provider_page(sb_feed_t *f, sb_list_format_t fmt,
                                  sb_slice_t body, char *next, size_t next_cap,
                                  char *err, size_t errlen);

/* Close the normal form; `*body` points into f->out. SB_ERROR when it
 * holds no model, or when more entries were malformed than kept (a list
 * that broken is not trusted over the last good one). */
sb_status_t sb_feed_end(sb_feed_t *f, sb_slice_t *body, char *err,
                        size_t errlen);

/* ---- checks shared with catalog building (catalog.c) ---- */

/* Prices from an OpenRouter-shaped pricing object (NULL or null: free).
 * Each amount is a decimal string (or number) in USD per token; "-1"
 * marks the price unknown. SB_ERROR with the reason in *why otherwise. */
sb_status_t sb_feed_price(const sb_json_t *pricing, sb_price_t *p,
                          const char **why);

/* Check one OpenRouter model entry; fills its price. SB_ERROR with the
 * reason in *why (a static string). */
sb_status_t sb_feed_openrouter_entry(const sb_json_t *e, sb_price_t *price,
                                     const char **why);

/* Write a reason into err (errlen bytes) and return SB_ERROR: how the
 * catalog's modules fail with a message for the log or the user. */
sb_status_t sb_catalog_errf(char *err, size_t errlen, const char *fmt, ...)
    SB_PRINTF(3, 4);

/* A model id as switchboard accepts one from a list: 1..SB_FEED_MAX_ID
 * printable ASCII bytes without spaces, quotes or backslashes (so its
 * JSON text is the id itself). */
bool sb_feed_id_ok(sb_slice_t id);

#endif
