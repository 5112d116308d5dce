/* SPDX-License-Identifier: MIT */
/* The store under the key table: keys and their spend survive a restart,
 * deletions too; schema migration from version 1; retention deletes old
 * ledger rows but keeps the spend totals; group-commit sequence numbers;
 * the bounded queue; the writer's priority; generation ids. */
#include "test_helpers.h"

#include <ctype.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <unistd.h>

#include "ledger_fixture.h"

static void test_restart_keeps_keys_and_spend(void **state)
{
  (void)state;
  char err[256], secret[96], secret2[96];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_keys_t *t = sb_ledger_keys(l);
  int64_t now = now_ms();
  sb_key_record_t r;
  memset(&r, 0, sizeof(r));
  snprintf(r.name, sizeof(r.name), "persisted");
  r.limit_pico = 1000000;
  r.limit_reset = SB_RESET_DAILY;
  r.rpm = 7;
  snprintf(r.models, sizeof(r.models), "a/b,c/d");
  snprintf(r.escalation, sizeof(r.escalation),
           "{\"ladder\":[\"a/cheap\",\"a/strong\"],\"on\":[\"error\"]}");
  r.created_ms = r.updated_ms = now;
  sb_key_t *k = sb_keys_create(t, &r, secret, sizeof(secret));
  assert_non_null(k);
  memset(&r, 0, sizeof(r));
  snprintf(r.name, sizeof(r.name), "doomed");
  r.limit_pico = -1;
  r.created_ms = r.updated_ms = now;
  sb_key_t *gone = sb_keys_create(t, &r, secret2, sizeof(secret2));
  assert_non_null(gone);

  /* spend: 300 today, 200 three days ago (outside the daily period),
   * 50 on the doomed key, 7 by the admin */
  sb_ledger_row_t row;
  row_for(&row, "gen-1", k, now - 1000, 300);
  uint64_t s1 = sb_ledger_record(l, &row);
  row_for(&row, "gen-2", k, now - 3 * DAY, 200);
  uint64_t s2 = sb_ledger_record(l, &row);
  assert_true(s1 > 0 && s2 == s1 + 1);
  row_for(&row, "gen-3", gone, now - 1000, 50);
  sb_ledger_record(l, &row);
  row_for(&row, "gen-4", NULL, now - 1000, 7);
  sb_ledger_record(l, &row);
  /* a second row of the same key and day in the same batch (summed) */
  row_for(&row, "gen-5", k, now - 500, 20);
  sb_ledger_record(l, &row);
  assert_int_equal(sb_keys_revoke(t, sb_slice_z(gone->rec.hash)), SB_OK);
  char hash[65], gone_hash[65];
  snprintf(hash, sizeof(hash), "%s", k->rec.hash);
  snprintf(gone_hash, sizeof(gone_hash), "%s", gone->rec.hash);
  sb_key_unref(k);
  sb_key_unref(gone);
  sb_ledger_close(l); /* drains */

  l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  t = sb_ledger_keys(l);
  k = sb_keys_lookup_secret(t, sb_slice_z(secret));
  assert_non_null(k);
  assert_null(sb_keys_lookup_secret(t, sb_slice_z(secret2)));
  assert_null(sb_keys_lookup_hash(t, sb_slice_z(gone_hash)));
  sb_key_view_t v;
  sb_key_view(k, now, &v);
  assert_string_equal(v.rec.hash, hash);
  assert_string_equal(v.rec.name, "persisted");
  assert_int_equal(v.rec.limit_pico, 1000000);
  assert_int_equal(v.rec.limit_reset, SB_RESET_DAILY);
  assert_int_equal(v.rec.rpm, 7);
  assert_string_equal(v.rec.models, "a/b,c/d");
  assert_string_equal(v.rec.escalation,
                      "{\"ladder\":[\"a/cheap\",\"a/strong\"],\"on\":[\"error\"]}");
  assert_int_equal(v.usage_total, 520);
  assert_int_equal(v.period_used, 320); /* today only: daily reset */
  assert_int_equal(v.usage_day, 320);
  assert_int_equal(v.remaining, 1000000 - 320);
  assert_int_equal(v.requests, 3);
  /* totals: every key, deleted ones and the admin */
  assert_int_equal(sb_keys_total_usage(t), 577);
  /* the stored row answers lookups with its key */
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "gen-1", &got), SB_OK);
  assert_string_equal(got.key_hash, hash);
  assert_int_equal(got.cost_pico, 300);
  assert_int_equal(sb_ledger_get(l, "gen-nope", &got), SB_DECLINED);
  sb_key_unref(k);
  sb_ledger_close(l);

  /* retention: rows older than a day go, the spend stays */
  sb_ledger_options_t o = {false, 1, 0};
  l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  assert_int_equal(sb_ledger_get(l, "gen-2", &got), SB_DECLINED);
  assert_int_equal(sb_ledger_get(l, "gen-1", &got), SB_OK);
  k = sb_keys_lookup_hash(sb_ledger_keys(l), sb_slice_z(hash));
  assert_non_null(k);
  sb_key_view(k, now, &v);
  assert_int_equal(v.usage_total, 520);
  sb_key_unref(k);
  sb_ledger_close(l);
}

/* The store is held (another connection keeps its write lock) while a
 * thread records more rows than the queue holds: the queue stops at its
 * bound and the recorder waits; once the store is free again every row is
 * committed. */
typedef struct {
  sb_ledger_t *l;
  int rows;
  uint64_t most; /* the deepest queue the recorder saw */
} recorder_t;

static void *record_rows(void *arg)
{
  recorder_t *rc = arg;
  sb_ledger_row_t row;
  sb_ledger_stats_t st;
  char id[32];
  int64_t now = now_ms();
  for (int i = 0; i < rc->rows; i++) {
    snprintf(id, sizeof(id), "gen-q%d", i);
    row_for(&row, id, NULL, now, 1);
    if (sb_ledger_record(rc->l, &row) == 0)
      return NULL;
    sb_ledger_stats(rc->l, &st);
    if (st.waiting > rc->most)
      rc->most = st.waiting;
  }
  return NULL;
}

static void test_queue_bounded(void **state)
{
  (void)state;
  char err[256];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_stats_t st;
  sb_ledger_stats(l, &st);
  uint64_t base = st.committed;
  sqlite3 *blocker;
  assert_int_equal(sqlite3_open(dbpath, &blocker), SQLITE_OK);
  assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  recorder_t rc = {l, 8192 + 2000, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, record_rows, &rc), 0);
  /* the writer is stuck on the lock: the recorder must come to wait */
  for (int i = 0; i < 300; i++) {
    sb_ledger_stats(l, &st);
    if (st.full_waits > 0)
      break;
    usleep(10000);
  }
  assert_true(st.full_waits > 0);
  assert_true(st.waiting <= 8192);
  assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(blocker);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_true(rc.most <= 8192);
  sb_ledger_flush(l);
  sb_ledger_stats(l, &st);
  assert_int_equal(st.committed - base, rc.rows);
  assert_int_equal(st.waiting, 0);
  sb_ledger_close(l);
  assert_stored_usage(rc.rows);
}

/* Whether this process may put a thread at idle priority and take it
 * back (CAP_SYS_NICE or RLIMIT_NICE >= 20): the writer yields only then. */
static void *try_idle_and_back(void *arg)
{
  struct sched_param sp = {0};
  bool *ok = arg;
  *ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 &&
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp) == 0;
  return NULL;
}

static bool may_leave_idle(void)
{
  pthread_t t;
  bool ok = false;
  assert_int_equal(pthread_create(&t, NULL, try_idle_and_back, &ok), 0);
  pthread_join(t, NULL);
  return ok;
}

/* The writer runs at idle priority while it keeps up; a backlog raises it
 * to normal priority, and it yields again once the backlog is committed.
 * A durable store's writer never yields. */
static void test_writer_priority(void **state)
{
  (void)state;
  char err[256];
  bool can = may_leave_idle();
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_stats_t st;
  sb_ledger_stats(l, &st);
  assert_int_equal(st.writer_yields, can);
  assert_int_equal(st.writer_boosts, 0);

  /* a backlog: the store is held while 2000 rows wait (the writer takes
   * at most one batch of 512, then waits for the lock with it) */
  sqlite3 *blocker;
  assert_int_equal(sqlite3_open(dbpath, &blocker), SQLITE_OK);
  assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  sb_ledger_row_t row;
  char id[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(id, sizeof(id), "gen-p%d", i);
    row_for(&row, id, NULL, now_ms(), 1);
    assert_true(sb_ledger_record(l, &row) > 0);
  }
  sb_ledger_stats(l, &st);
  assert_false(st.writer_yields);
  assert_int_equal(st.writer_boosts, can ? 1 : 0);
  assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(blocker);
  sb_ledger_flush(l);
  sb_ledger_stats(l, &st);
  assert_int_equal(st.waiting, 0);
  assert_int_equal(st.writer_yields, can);
  sb_ledger_close(l);

  sb_ledger_options_t o = {0};
  o.durable = true;
  l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_stats(l, &st);
  assert_false(st.writer_yields);
  sb_ledger_close(l);
}

/* Generation ids: the documented form, and they sort by creation time
 * (the ledger's id-keyed table appends instead of scattering rows). */
static void test_make_id(void **state)
{
  (void)state;
  char a[48], b[48], c[48];
  int64_t t = 1796040682000000LL; /* a whole second, in µs */
  size_t n = sb_ledger_make_id(a, t + 999999, UINT64_MAX, UINT64_MAX);
  assert_int_equal(n, strlen(a));
  assert_int_equal(n, strlen("gen-1796040682-") + 20);
  assert_memory_equal(a, "gen-1796040682-", 15);
  for (size_t i = 15; i < n; i++)
    assert_true(isalnum((unsigned char)a[i]));
  /* a later microsecond sorts after, whatever the random part */
  sb_ledger_make_id(b, t + 1, UINT64_MAX, UINT64_MAX);
  sb_ledger_make_id(c, t + 2, 0, 0);
  assert_true(strcmp(b, c) < 0);
  assert_true(strcmp(c, a) < 0);
  sb_ledger_make_id(b, t + 1000000, 0, 0); /* the next second */
  assert_true(strcmp(a, b) < 0);
  /* the random part differs with the random input */
  sb_ledger_make_id(b, t + 999999, 12345, 67890);
  assert_string_not_equal(a, b);
  assert_memory_equal(a, b, 19);
}

/* One batch with more (key, day) groups than the writer sums at once:
 * every row still counts, once. */
static void test_batch_usage_many_days(void **state)
{
  (void)state;
  char err[256];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  int64_t now = now_ms();
  sb_ledger_row_t row;
  char id[32];
  int64_t want = 0;
  for (int day = 0; day < 80; day++)
    for (int k = 0; k < 3; k++) {
      snprintf(id, sizeof(id), "gen-d%d-%d", day, k);
      row_for(&row, id, NULL, now - (int64_t)day * DAY, 1 + day * 3 + k);
      want += 1 + day * 3 + k;
      sb_ledger_record(l, &row);
    }
  sb_ledger_close(l);
  assert_stored_usage(want);
}

/* A version-1 database (before keys) is migrated, its spend back-filled. */
static void test_migrate_v1(void **state)
{
  (void)state;
  char err[256];
  sqlite3 *db;
  assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE generations (id TEXT PRIMARY KEY, created_ms "
                   "INTEGER NOT NULL, api TEXT NOT NULL, key_label TEXT, agent "
                   "TEXT, app TEXT, requested_model TEXT, model TEXT, provider "
                   "TEXT, upstream_model TEXT, tokens_prompt INTEGER NOT NULL "
                   "DEFAULT 0, tokens_completion INTEGER NOT NULL DEFAULT 0, "
                   "tokens_cached INTEGER NOT NULL DEFAULT 0, tokens_cache_write "
                   "INTEGER NOT NULL DEFAULT 0, tokens_reasoning INTEGER NOT NULL "
                   "DEFAULT 0, usage_estimated INTEGER NOT NULL DEFAULT 0, "
                   "cost_pico INTEGER NOT NULL DEFAULT 0, latency_ms INTEGER NOT "
                   "NULL DEFAULT 0, ttft_ms INTEGER NOT NULL DEFAULT 0, status "
                   "INTEGER NOT NULL, finish_reason TEXT, native_finish_reason "
                   "TEXT, streamed INTEGER NOT NULL DEFAULT 0, cancelled INTEGER "
                   "NOT NULL DEFAULT 0, error TEXT) WITHOUT ROWID;"
                   "INSERT INTO generations (id, created_ms, api, cost_pico, "
                   "status) VALUES ('old-1', 1000, 'chat', 11, 200), ('old-2', "
                   "2000, 'chat', 22, 200);"
                   "PRAGMA user_version=1;",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  assert_int_equal(sb_keys_total_usage(sb_ledger_keys(l)), 33);
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "old-2", &got), SB_OK);
  assert_string_equal(got.key_hash, "");
  sb_ledger_close(l);
  assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 6);
  sqlite3_finalize(st);
  /* a database from a newer build is refused */
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_null(sb_ledger_open(dbspec, err, sizeof(err)));
  assert_non_null(strstr(err, "newer"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_restart_keeps_keys_and_spend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_usage_many_days, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_priority, setup, teardown),
      cmocka_unit_test(test_make_id),
      cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
