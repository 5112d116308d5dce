/* SPDX-License-Identifier: MIT */
/* The Postgres store (src/accounts/store_pg.c) against a real server
 * started for this program: migration by several instances at once,
 * rows with any bytes, batches written twice counted once, keys and their
 * spend, the counters' epoch, reconnecting after a restart, `usage`, the
 * ledger on top of it, the migration from the previous schema version,
 * and the catalog's stored lists. */
#include "test_helpers.h"

#include <pthread.h>
#include <time.h>

#include "servers_fixture.h"
#include "switchboard/catalog_store.h"
#include "switchboard/keys.h"
#include "switchboard/store.h"

#define DAY 86400000LL

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A row of key `hash` ("" for none). */
static void row_for(sb_ledger_row_t *r, const char *id, const char *hash,
                    int64_t created, int64_t cost)
{
  memset(r, 0, sizeof(*r));
  snprintf(r->id, sizeof(r->id), "%s", id);
  snprintf(r->api, sizeof(r->api), "chat");
  snprintf(r->key_hash, sizeof(r->key_hash), "%s", hash);
  r->created_ms = created;
  r->cost_pico = cost;
  r->usage.prompt = 10;
  r->usage.completion = 5;
  r->status = 200;
}

static char db[160];
static int n_db;

/* A fresh database for each test. */
static int fresh_db(void **state)
{
  (void)state;
  char name[32];
  snprintf(name, sizeof(name), "t%d", ++n_db);
  return servers_createdb(name, db, sizeof(db));
}

static sb_store_t *open_writer(void)
{
  char err[512];
  sb_ledger_options_t o = {false, 0, 0};
  sb_store_t *s = sb_store_open(db, SB_STORE_WRITER, &o, err, sizeof(err));
  if (s == NULL)
    fail_msg("%s", err);
  return s;
}

static void write_ok(sb_store_t *s, const sb_store_entry_t *e, size_t n,
                     unsigned flags, uint64_t *epoch)
{
  char err[256];
  if (s->ops->write(s, e, n, flags, epoch, err, sizeof(err)) != SB_OK)
    fail_msg("write: %s", err);
}

static void *open_one(void *arg)
{
  char err[512];
  sb_store_t *s = sb_store_open(db, SB_STORE_WRITER, NULL, err, sizeof(err));
  *(bool *)arg = s != NULL;
  if (s == NULL)
    fprintf(stderr, "open: %s\n", err);
  sb_store_close(s);
  return NULL;
}

static void test_migrate_concurrently(void **state)
{
  (void)state;
  pthread_t t[4];
  bool ok[4] = {false};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, open_one, &ok[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_true(ok[i]);
  }
  char err[256], what[256];
  sb_store_t *s = sb_store_open(db, SB_STORE_READER, NULL, err, sizeof(err));
  assert_non_null(s);
  assert_int_equal(s->ops->describe(s, what, sizeof(what), err, sizeof(err)),
                   SB_OK);
  assert_non_null(strstr(what, "PostgreSQL"));
  /* nothing to migrate or refuse: no note after the schema */
  const char *schema = strstr(what, ", schema 3");
  assert_non_null(schema);
  assert_string_equal(schema, ", schema 3");
  sb_store_close(s);
}

static void test_rows_keep_their_bytes(void **state)
{
  (void)state;
  sb_store_t *s = open_writer();
  sb_ledger_row_t r;
  row_for(&r, "gen-bytes", "", 1000, 42);
  snprintf(r.agent, sizeof(r.agent), "tab\there\\back\nline\r");
  snprintf(r.app, sizeof(r.app), "caf\xc3\xa9 \xf0\x9f\x9a\x80 bad\xff\xfe end");
  snprintf(r.error, sizeof(r.error), "over\xe0\x80\xafong \xed\xa0\x80 surrogate");
  r.usage.cached = 7;
  r.overhead_us = 99;
  sb_store_entry_t e = {SB_STORE_ROW, &r, NULL};
  write_ok(s, &e, 1, 0, NULL);
  sb_ledger_row_t got;
  assert_int_equal(s->ops->get(s, "gen-bytes", &got), SB_OK);
  assert_string_equal(got.agent, "tab\there\\back\nline\r");
  assert_string_equal(got.app, "caf\xc3\xa9 \xf0\x9f\x9a\x80 bad?? end");
  assert_string_equal(got.error, "over???ong ??? surrogate");
  assert_int_equal(got.cost_pico, 42);
  assert_int_equal(got.usage.cached, 7);
  assert_int_equal(got.overhead_us, 99);
  assert_string_equal(got.key_hash, "");
  assert_int_equal(s->ops->get(s, "gen-none", &got), SB_DECLINED);
  sb_store_close(s);
}

typedef struct {
  sb_key_record_t rec;
  sb_key_spend_t spend;
  int n;
} found_t;

static sb_status_t find_key(void *data, const sb_key_record_t *rec,
                            const sb_key_spend_t *spend)
{
  found_t *f = data;
  f->n++;
  if (strcmp(rec->hash, f->rec.hash) == 0) {
    f->rec = *rec;
    f->spend = *spend;
  }
  return SB_OK;
}

static sb_key_record_t make_key(const char *hash_char, sb_reset_t reset)
{
  sb_key_record_t k;
  memset(&k, 0, sizeof(k));
  memset(k.hash, hash_char[0], 64);
  snprintf(k.name, sizeof(k.name), "key %s", hash_char);
  snprintf(k.label, sizeof(k.label), "sk-sb-v1-...");
  k.limit_pico = 5000;
  k.limit_reset = reset;
  k.rpm = 3;
  k.created_ms = k.updated_ms = now_ms();
  snprintf(k.models, sizeof(k.models), "a/b,c/d");
  return k;
}

static void test_batch_twice_counts_once(void **state)
{
  (void)state;
  sb_store_t *s = open_writer();
  sb_key_record_t k = make_key("a", SB_RESET_DAILY);
  sb_ledger_row_t rows[3];
  int64_t now = now_ms();
  row_for(&rows[0], "gen-a1", k.hash, now, 100);
  row_for(&rows[1], "gen-a2", k.hash, now, 200);
  row_for(&rows[2], "gen-a3", k.hash, now - 2 * DAY, 400); /* two days ago */
  sb_store_entry_t e[4] = {{SB_STORE_KEY, NULL, &k},
                           {SB_STORE_ROW, &rows[0], NULL},
                           {SB_STORE_ROW, &rows[1], NULL},
                           {SB_STORE_ROW, &rows[2], NULL}};
  write_ok(s, e, 4, 0, NULL);
  /* entries that may be stored already (read back from the unsaved file) */
  write_ok(s, e, 4, SB_STORE_PROBE | SB_STORE_SKIP_STORED, NULL);
  found_t f;
  memset(&f, 0, sizeof(f));
  f.rec = k;
  int64_t others = -1;
  char err[256];
  assert_int_equal(s->ops->load_keys(s, now, find_key, &f, &others, err,
                                     sizeof(err)),
                   SB_OK);
  assert_int_equal(f.n, 1);
  assert_int_equal(f.spend.total, 700);
  assert_int_equal(f.spend.period, 300); /* daily: today's */
  assert_int_equal(f.spend.day, 300);
  assert_int_equal(f.spend.requests, 3);
  assert_int_equal(others, 0);
  assert_string_equal(f.rec.models, "a/b,c/d");
  assert_int_equal(f.rec.limit_pico, 5000);
  assert_int_equal(f.rec.limit_reset, SB_RESET_DAILY);
  assert_int_equal(f.rec.rpm, 3);
  /* deleted: no longer listed; its spend counts among the others */
  sb_store_entry_t del = {SB_STORE_KEY_DELETE, NULL, &k};
  write_ok(s, &del, 1, 0, NULL);
  memset(&f, 0, sizeof(f));
  f.rec = k;
  assert_int_equal(s->ops->load_keys(s, now, find_key, &f, &others, err,
                                     sizeof(err)),
                   SB_OK);
  assert_int_equal(f.n, 0);
  assert_int_equal(others, 700);
  sb_store_close(s);
}

static void test_epoch_orders_batches_and_rebuilds(void **state)
{
  (void)state;
  sb_store_t *s = open_writer();
  sb_key_record_t k = make_key("b", SB_RESET_NONE);
  sb_store_entry_t e = {SB_STORE_KEY, NULL, &k};
  uint64_t epoch = 99;
  write_ok(s, &e, 1, SB_STORE_READ_EPOCH, &epoch);
  assert_int_equal(epoch, 0);
  found_t f;
  memset(&f, 0, sizeof(f));
  f.rec = k;
  char err[256];
  uint64_t seeded = 0;
  assert_int_equal(s->ops->seed(s, now_ms(), find_key, &f, &seeded, err,
                                sizeof(err)),
                   SB_OK);
  assert_int_equal(seeded, 1);
  assert_int_equal(f.n, 1);
  write_ok(s, NULL, 0, SB_STORE_READ_EPOCH | SB_STORE_PROBE, &epoch);
  assert_int_equal(epoch, 1);
  sb_store_close(s);
}

static void test_reconnects_after_a_restart(void **state)
{
  (void)state;
  sb_store_t *s = open_writer();
  sb_ledger_row_t r;
  row_for(&r, "gen-r1", "", now_ms(), 5);
  sb_store_entry_t e = {SB_STORE_ROW, &r, NULL};
  write_ok(s, &e, 1, 0, NULL);
  assert_int_equal(servers_run("pg-stop", NULL, NULL, 0), 0);
  char err[256];
  row_for(&r, "gen-r2", "", now_ms(), 6);
  assert_int_equal(s->ops->write(s, &e, 1, 0, NULL, err, sizeof(err)),
                   SB_ERROR);
  assert_true(err[0] != '\0');
  assert_int_equal(servers_run("pg-start", NULL, NULL, 0), 0);
  /* after a failure the batch is written again, perhaps over rows it
   * stored: with one that is (gen-r1), counted once */
  sb_ledger_row_t again;
  row_for(&again, "gen-r1", "", now_ms(), 5);
  sb_store_entry_t both[2] = {{SB_STORE_ROW, &again, NULL},
                              {SB_STORE_ROW, &r, NULL}};
  write_ok(s, both, 2, 0, NULL);
  sb_ledger_row_t got;
  assert_int_equal(s->ops->get(s, "gen-r2", &got), SB_OK);
  assert_int_equal(got.cost_pico, 6);
  int64_t others = 0;
  char why[256];
  found_t f;
  memset(&f, 0, sizeof(f));
  assert_int_equal(s->ops->load_keys(s, now_ms(), find_key, &f, &others, why,
                                     sizeof(why)),
                   SB_OK);
  assert_int_equal(others, 11); /* 5 + 6, not 5 + 5 + 6 */
  /* written once, a row is not written again: a duplicate is refused */
  assert_int_equal(s->ops->write(s, &e, 1, 0, NULL, why, sizeof(why)),
                   SB_ERROR);
  assert_non_null(strstr(why, "23505"));
  sb_store_close(s);
}

typedef struct {
  char group[4][64];
  int64_t requests[4], cost[4];
  int n;
} lines_t;

static void add_line(void *data, const sb_usage_line_t *l)
{
  lines_t *ls = data;
  if (ls->n < 4) {
    snprintf(ls->group[ls->n], sizeof(ls->group[0]), "%s", l->group);
    ls->requests[ls->n] = l->requests;
    ls->cost[ls->n] = l->cost_pico;
    ls->n++;
  }
}

static void test_ledger_and_usage_on_postgres(void **state)
{
  (void)state;
  char err[512];
  sb_ledger_t *l = sb_ledger_open(db, err, sizeof(err));
  if (l == NULL)
    fail_msg("%s", err);
  sb_keys_t *t = sb_ledger_keys(l);
  sb_key_record_t rec;
  memset(&rec, 0, sizeof(rec));
  snprintf(rec.name, sizeof(rec.name), "pg");
  rec.limit_pico = 1000;
  rec.created_ms = rec.updated_ms = now_ms();
  char secret[96];
  sb_key_t *k = sb_keys_create(t, &rec, secret, sizeof(secret));
  assert_non_null(k);
  char hash[65];
  snprintf(hash, sizeof(hash), "%s", k->rec.hash);
  sb_ledger_row_t row;
  row_for(&row, "gen-l1", hash, now_ms(), 300);
  snprintf(row.model, sizeof(row.model), "x/one");
  sb_ledger_record(l, &row);
  sb_key_settle(t, k, 0, 300, 10, now_ms());
  row_for(&row, "gen-l2", hash, now_ms(), 20);
  snprintf(row.model, sizeof(row.model), "x/two");
  sb_ledger_record(l, &row);
  sb_key_settle(t, k, 0, 20, 10, now_ms());
  sb_key_unref(k);
  sb_ledger_flush(l);
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "gen-l2", &got), SB_OK);
  assert_string_equal(got.model, "x/two");
  sb_ledger_close(l);

  l = sb_ledger_open(db, err, sizeof(err));
  assert_non_null(l);
  k = sb_keys_lookup_hash(sb_ledger_keys(l), sb_slice_z(hash));
  assert_non_null(k);
  sb_key_view_t v;
  sb_key_view(k, now_ms(), &v);
  assert_int_equal(v.usage_total, 320);
  assert_int_equal(v.remaining, 680);
  assert_int_equal(v.requests, 2);
  sb_key_unref(k);
  sb_ledger_close(l);

  sb_store_t *s = sb_store_open(db, SB_STORE_READER, NULL, err, sizeof(err));
  assert_non_null(s);
  lines_t ls;
  memset(&ls, 0, sizeof(ls));
  sb_escalation_sum_t esc;
  assert_int_equal(s->ops->usage(s, SB_USAGE_BY_MODEL, 0, add_line, &ls, &esc,
                                 err, sizeof(err)),
                   SB_OK);
  assert_int_equal(ls.n, 2);
  assert_string_equal(ls.group[0], "x/one"); /* the most spent first */
  assert_int_equal(ls.cost[0], 300);
  assert_string_equal(ls.group[1], "x/two");
  assert_int_equal(esc.requests, 0);
  memset(&ls, 0, sizeof(ls));
  assert_int_equal(s->ops->usage(s, SB_USAGE_BY_KEY, 0, add_line, &ls, &esc,
                                 err, sizeof(err)),
                   SB_OK);
  assert_int_equal(ls.n, 1);
  assert_int_equal(strncmp(ls.group[0], "pg (", 4), 0);
  assert_int_equal(ls.requests[0], 2);
  sb_store_close(s);
}

/* The schema's describe() line, after "schema ". */
static void assert_schema(const char *want)
{
  char err[256], what[256];
  sb_store_t *s = sb_store_open(db, SB_STORE_READER, NULL, err, sizeof(err));
  assert_non_null(s);
  assert_int_equal(s->ops->describe(s, what, sizeof(what), err, sizeof(err)),
                   SB_OK);
  const char *schema = strstr(what, "schema ");
  assert_non_null(schema);
  assert_string_equal(schema + 7, want);
  sb_store_close(s);
}

static sb_catalog_store_t *catalog_open(bool writable)
{
  char err[512];
  sb_catalog_store_t *c = sb_catalog_store_open(db, writable, err, sizeof(err));
  if (c == NULL)
    fail_msg("%s", err);
  return c;
}

/* A database of schema 2 (what the previous version made: this one's
 * without catalog_snapshot), with a row: the catalog's store reads nothing
 * from it read-only and creates nothing; a gateway's open migrates it to
 * 3, keeping the row; then the lists are stored. */
static void test_migrates_from_schema_2(void **state)
{
  (void)state;
  sb_store_t *s = open_writer();
  sb_ledger_row_t r;
  row_for(&r, "gen-old", "", now_ms(), 7);
  sb_store_entry_t e = {SB_STORE_ROW, &r, NULL};
  write_ok(s, &e, 1, 0, NULL);
  sb_store_close(s);
  char sql[320];
  snprintf(sql, sizeof(sql),
           "'DROP TABLE catalog_snapshot; UPDATE switchboard_schema SET "
           "version = 2' '%s'",
           db);
  assert_int_equal(servers_run("psql", sql, NULL, 0), 0);
  assert_schema("2 (migrated by the next serve)");

  sb_catalog_store_t *c = catalog_open(false);
  sb_buf_t body;
  sb_buf_init(&body, 1 << 20);
  int64_t at = 0;
  char err[256];
  assert_int_equal(c->ops->load(c, "openrouter", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  sb_catalog_store_close(c);
  assert_schema("2 (migrated by the next serve)");

  s = open_writer();
  sb_ledger_row_t got;
  assert_int_equal(s->ops->get(s, "gen-old", &got), SB_OK);
  assert_int_equal(got.cost_pico, 7);
  sb_store_close(s);
  assert_schema("3");
  c = catalog_open(true);
  assert_int_equal(c->ops->save(c, "openrouter", 5, SB_SLICE_LIT("{}"), err,
                                sizeof(err)),
                   SB_OK);
  sb_catalog_store_close(c);
  sb_buf_free(&body);
}

/* The catalog's lists: kept with their time, any bytes; a save replaces
 * the list unless it was fetched earlier than the stored one (another
 * gateway's newer fetch stays); another connection (another gateway, a
 * restart) reads them; a read-only store does not write. */
static void test_catalog_lists(void **state)
{
  (void)state;
  char err[256];
  sb_buf_t body;
  sb_buf_init(&body, 1 << 20);
  int64_t at = 0;
  /* `models --refresh` on a database no gateway opened: migrated */
  sb_catalog_store_t *c = catalog_open(true);
  assert_int_equal(c->ops->load(c, "openrouter", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  const char bytes[] = "{\"data\":[\"\x00\xff\\\\x'\"]}";
  sb_slice_t odd = {bytes, sizeof(bytes) - 1};
  assert_int_equal(c->ops->save(c, "openrouter", 100, odd, err, sizeof(err)),
                   SB_OK);
  assert_int_equal(c->ops->save(c, "provider:groq", 200, SB_SLICE_LIT("{}"),
                                err, sizeof(err)),
                   SB_OK);
  assert_int_equal(c->ops->save(c, "provider:groq", 300,
                                SB_SLICE_LIT("{\"data\":[]}"), err,
                                sizeof(err)),
                   SB_OK);
  /* fetched before the stored one: kept out, not an error */
  assert_int_equal(c->ops->save(c, "provider:groq", 250, SB_SLICE_LIT("{\"old\":1}"),
                                err, sizeof(err)),
                   SB_OK);
  sb_catalog_store_close(c);

  c = catalog_open(false);
  assert_int_equal(c->ops->load(c, "openrouter", &body, &at, err, sizeof(err)),
                   SB_OK);
  assert_int_equal(at, 100);
  assert_int_equal(body.len, odd.len);
  assert_memory_equal(body.data, odd.ptr, odd.len);
  sb_buf_reset(&body);
  assert_int_equal(c->ops->load(c, "provider:groq", &body, &at, err,
                                sizeof(err)),
                   SB_OK);
  assert_int_equal(at, 300);
  assert_slice_equal(sb_buf_slice(&body), "{\"data\":[]}");
  sb_buf_reset(&body);
  assert_int_equal(c->ops->load(c, "provider:x", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  assert_int_equal(c->ops->save(c, "openrouter", 999, SB_SLICE_LIT("{}"), err,
                                sizeof(err)),
                   SB_ERROR);
  sb_catalog_store_close(c);

  /* a database that cannot be reached: no store, and why */
  assert_null(sb_catalog_store_open("postgres://switchboard@127.0.0.1:1/none",
                                    false, err, sizeof(err)));
  assert_non_null(strstr(err, "cannot connect"));
  sb_buf_free(&body);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_migrate_concurrently, fresh_db),
      cmocka_unit_test_setup(test_rows_keep_their_bytes, fresh_db),
      cmocka_unit_test_setup(test_batch_twice_counts_once, fresh_db),
      cmocka_unit_test_setup(test_epoch_orders_batches_and_rebuilds, fresh_db),
      cmocka_unit_test_setup(test_reconnects_after_a_restart, fresh_db),
      cmocka_unit_test_setup(test_ledger_and_usage_on_postgres, fresh_db),
      cmocka_unit_test_setup(test_migrates_from_schema_2, fresh_db),
      cmocka_unit_test_setup(test_catalog_lists, fresh_db),
  };
  return cmocka_run_group_tests(tests, servers_group_up, servers_group_down);
}
