/* SPDX-License-Identifier: MIT */
/*
 * Stored responses (the Responses API's `store`, on by default): each
 * answer a Responses request asked to keep, with its input items, by
 * response id and owner (the client key that made it: a key sees only
 * its own), for GET and DELETE /v1/responses/{id}, its input_items, and
 * `previous_response_id`, which continues a conversation on any model.
 *
 * Two layers:
 * - a backend (sb_rstore_backend_t): a few blocking calls on one store.
 *   The SQLite one (response_store_sqlite.c) keeps its tables in the
 *   ledger's database file; the Postgres one (response_store_pg.c) keeps
 *   the same tables in the Postgres store's database, shared by every
 *   gateway on it.
 * - the store (sb_rstore_t, response_store.c): one thread runs every call
 *   in the order they were asked, so an answer put before its last byte
 *   went out is there for the next request that names it, whichever
 *   worker takes that one. Workers never touch the disk: they queue a job
 *   and hear back on their own loop. The thread also deletes responses
 *   older than `retention_days` (at open, then hourly).
 */
#ifndef SWITCHBOARD_RESPONSE_STORE_H
#define SWITCHBOARD_RESPONSE_STORE_H

#include <uv.h>

#include "switchboard/arena.h"
#include "switchboard/common.h"

/* One stored response. */
typedef struct {
  sb_slice_t id;          /* "resp_..." */
  sb_slice_t owner;       /* the client key's hash; empty: the admin key or
                             local mode */
  sb_slice_t previous_id; /* the response it continued; empty: none */
  int64_t created_ms;
  sb_slice_t response;    /* the response object (JSON) */
  sb_slice_t input;       /* its own input items, a JSON array, each with an
                             `id` */
} sb_rstore_entry_t;

/* A page of input items (OpenAI's list parameters). */
typedef struct {
  sb_slice_t after;  /* an item id: the items after it; empty: the first */
  sb_slice_t before; /* an item id: the items before it; empty: to the end */
  uint32_t limit;    /* 1..100 */
  bool desc;         /* newest first */
} sb_rstore_page_t;

/* A backend. Every call blocks and is made from the store's thread only.
 * SB_DECLINED: no such response for that owner; SB_ERROR: the store
 * failed. Answers live in `a`. */
typedef struct {
  const char *name;
  /* Keep `e` (a response with the same id is replaced). */
  sb_status_t (*put)(void *impl, const sb_rstore_entry_t *e);
  sb_status_t (*get)(void *impl, sb_slice_t id, sb_slice_t owner,
                     sb_arena_t *a, sb_rstore_entry_t *out);
  sb_status_t (*del)(void *impl, sb_slice_t id, sb_slice_t owner);
  /* A page of the response's input items, in order: each item's JSON in
   * items[i]; *has_more when more lie beyond the page. */
  sb_status_t (*list_input)(void *impl, sb_slice_t id, sb_slice_t owner,
                            const sb_rstore_page_t *pg, sb_arena_t *a,
                            sb_slice_t **items, size_t *n, bool *has_more);
  /* Delete the responses created before `before_ms`; how many in *n. */
  sb_status_t (*expire)(void *impl, int64_t before_ms, uint64_t *n);
  void (*close)(void *impl);
} sb_rstore_backend_t;

/* The SQLite backend on the database `path` (the ledger's file; the
 * tables are created when missing). NULL with `err` when it cannot be
 * opened. */
void *sb_rstore_sqlite_open(const char *path, char *err, size_t errlen);
extern const sb_rstore_backend_t sb_rstore_sqlite;

/* The Postgres backend on the database `url` (postgres://...; its schema
 * is migrated when older than this build's). NULL with `err` when it
 * cannot be opened. */
void *sb_rstore_pg_open(const char *url, char *err, size_t errlen);
extern const sb_rstore_backend_t sb_rstore_pg;

typedef struct sb_rstore sb_rstore_t;

/* The store on `backend` (`impl` is then the store's: it is closed with
 * it), keeping responses `retention_days` (0: forever). NULL when out of
 * memory or the thread cannot start (`impl` is closed). */
sb_rstore_t *sb_rstore_new(const sb_rstore_backend_t *backend, void *impl,
                           uint32_t retention_days);
/* The store named by `database` ("sqlite:PATH" or a postgres:// URL).
 * NULL with `err`. */
sb_rstore_t *sb_rstore_open(const char *database, uint32_t retention_days,
                            char *err, size_t errlen);
/* Run what is queued, stop the thread, close the backend. Every job with
 * a callback must have been answered (no request is in flight). */
void sb_rstore_close(sb_rstore_t *s);

/* ---- jobs ---------------------------------------------------------------- */

typedef enum {
  SB_RSTORE_PUT,    /* entry */
  SB_RSTORE_GET,    /* id, owner -> entry */
  SB_RSTORE_DELETE, /* id, owner */
  SB_RSTORE_LIST,   /* id, owner, page -> items, has_more */
  SB_RSTORE_CHAIN,  /* id, owner -> chain: the response and every earlier
                       one it continues, oldest first */
} sb_rstore_op_t;

/* The longest conversation SB_RSTORE_CHAIN follows. */
#define SB_RSTORE_MAX_CHAIN 1024

typedef struct sb_rstore_job sb_rstore_job_t;
typedef void (*sb_rstore_done_fn)(sb_rstore_job_t *j);

struct sb_rstore_job {
  sb_rstore_op_t op;
  sb_arena_t arena; /* the job's memory: what it asks and its answer */
  /* asked (copied into the arena by sb_rstore_job_new's caller) */
  sb_rstore_entry_t entry; /* PUT */
  sb_slice_t id, owner;
  sb_rstore_page_t page;
  /* answered: SB_OK, SB_DECLINED (no such response), SB_ERROR */
  sb_status_t status;
  sb_rstore_entry_t *chain; /* CHAIN (with GET's entry the last) */
  size_t n_chain;
  sb_slice_t *items;        /* LIST */
  size_t n_items;
  bool has_more;
  /* the caller's */
  sb_rstore_done_fn done;
  void *data;
  /* the store's */
  uv_async_t async;
  sb_rstore_job_t *next;
};

/* A job for `op`; its arena holds what it asks (sb_arena_slice_dup).
 * NULL when out of memory. */
sb_rstore_job_t *sb_rstore_job_new(sb_rstore_op_t op);
/* Free a job that was never submitted. */
void sb_rstore_job_free(sb_rstore_job_t *j);
/* Queue `j`. With `done`, it is called on `loop` (the caller's thread)
 * once the job ran; the job is freed after it returns. Without, the job
 * runs and is freed by the store (a PUT nobody waits for). SB_ERROR: the
 * job could not be queued (it is freed). */
sb_status_t sb_rstore_submit(sb_rstore_t *s, uv_loop_t *loop,
                             sb_rstore_job_t *j, sb_rstore_done_fn done,
                             void *data);

/* Jobs run and failed since open (for tests and /metrics). */
typedef struct {
  uint64_t done, failed, expired, waiting;
} sb_rstore_stats_t;
void sb_rstore_stats(sb_rstore_t *s, sb_rstore_stats_t *out);

#endif
