/* SPDX-License-Identifier: MIT */
/*
 * The Postgres connection helpers (store_pg.c), private to src/accounts/:
 * shared by the ledger's store, the stored responses' backend
 * (response_store_pg.c), the reports' reader (ledger_query_pg.c) and the
 * catalog's store (catalog_store_pg.c), which keep connections of their
 * own on one database and one schema.
 *
 * No statement waits forever: each result is awaited with poll() for at
 * most SB_PG_QUERY_TIMEOUT_MS; a connection that failed or a server that
 * stopped answering is finished and its pointer set to NULL, so that the
 * next use connects again.
 */
#ifndef SWITCHBOARD_STORE_PG_INTERNAL_H
#define SWITCHBOARD_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "switchboard/common.h"
#include "switchboard/ledger.h"

#define SB_PG_QUERY_TIMEOUT_MS 15000

/* A connection to `url` with the project's defaults (connect timeout,
 * keepalives, TCP user timeout, application name; what the URL sets wins)
 * and the server's notices silenced. NULL with the reason in `err`, which
 * names the database by `shown` (the URL without its password). */
PGconn *sb_pg_connect(const char *url, const char *shown, char *err,
                      size_t errlen);

/* `*cp` as it is when it is connected, else made again (the old one
 * finished): false with the reason in `why` when that fails. `fresh`
 * (may be NULL): whether it was made now. */
bool sb_pg_ensure(PGconn **cp, const char *url, const char *shown,
                  bool *fresh, char *why, size_t cap);

/* Send `sql` (with `n` text parameters, each NUL-terminated or NULL for
 * SQL NULL; none: the simple protocol, which takes several statements)
 * and await its result: the result when its status is `want`, else NULL
 * with the reason in `why` (*cp is NULL when the connection was lost). */
PGresult *sb_pg_run(PGconn **cp, const char *sql, int n,
                    const char *const *vals, ExecStatusType want, char *why,
                    size_t cap);
/* A statement without a result to read. */
bool sb_pg_ok(PGconn **cp, const char *sql, int n, const char *const *vals,
              char *why, size_t cap);
/* An integer column (0 when NULL). */
int64_t sb_pg_i64(const PGresult *r, int row, int col);

/* `s` as Postgres takes text (each byte that is not UTF-8 as '?', as rows
 * are written), malloc'd; NULL when out of memory. */
char *sb_pg_text(const char *s);

/* Row `row` of a result that selected SB_LEDGER_ROW_COLUMNS
 * (ledger_read.h). */
void sb_pg_read_row(const PGresult *r, int row, sb_ledger_row_t *out);

/* Bring the database's schema (table switchboard_schema) to this build's
 * version, under an advisory lock, so that of several gateways starting
 * at once exactly one migrates while the others wait. SB_ERROR with the
 * reason in `err` (a database newer than this build is refused). */
sb_status_t sb_pg_migrate(PGconn **cp, const char *shown, char *err,
                          size_t errlen);

/* The catalog's refreshed lists in the database `url` (catalog_store_pg.c;
 * sb_catalog_store_open() chooses it). */
struct sb_catalog_store *sb_catalog_store_open_pg(const char *url,
                                                  bool writable, char *err,
                                                  size_t errlen);

#endif
