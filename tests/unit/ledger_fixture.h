/* SPDX-License-Identifier: MIT */
/* Shared by the store's unit tests (test_keys_store.c,
 * test_ledger_faults.c; include test_helpers.h first): a private ledger
 * directory per test, rows to record, the spend the store keeps. */
#ifndef SWITCHBOARD_LEDGER_FIXTURE_H
#define SWITCHBOARD_LEDGER_FIXTURE_H

#include <time.h>
#include <unistd.h>

#include "switchboard/keys.h"
#include "switchboard/ledger.h"

#define DAY 86400000LL

static char dir[64];
static char dbspec[160];
static char dbpath[128];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/sb-ledger-test-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(dbpath, sizeof(dbpath), "%s/ledger.db", dir);
  snprintf(dbspec, sizeof(dbspec), "sqlite:%s", dbpath);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char path[192];
  const char *suffix[] = {"", "-wal", "-shm", "-unsaved.jsonl"};
  for (size_t i = 0; i < SB_ARRAY_LEN(suffix); i++) {
    snprintf(path, sizeof(path), "%s%s", dbpath, suffix[i]);
    unlink(path);
  }
  rmdir(dir);
  return 0;
}

static inline int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void row_for(sb_ledger_row_t *r, const char *id,
                           const sb_key_t *k, int64_t created, int64_t cost)
{
  memset(r, 0, sizeof(*r));
  snprintf(r->id, sizeof(r->id), "%s", id);
  snprintf(r->api, sizeof(r->api), "chat");
  r->created_ms = created;
  r->cost_pico = cost;
  r->usage.prompt = 10;
  r->usage.completion = 5;
  r->status = 200;
  if (k != NULL) {
    snprintf(r->key_hash, sizeof(r->key_hash), "%s", k->rec.hash);
    snprintf(r->key_label, sizeof(r->key_label), "%s", k->rec.name);
  }
}

/* Open the store again: its total spend is `want` (picodollars). */
static inline void assert_stored_usage(int64_t want)
{
  char err[256];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  assert_int_equal(sb_keys_total_usage(sb_ledger_keys(l)), want);
  sb_ledger_close(l);
}

#endif
