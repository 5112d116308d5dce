/* SPDX-License-Identifier: MIT */
/* The shared counters (src/accounts/counters*.c) against a real Redis
 * started for this program, with a SQLite ledger as the store: Redis URLs;
 * a budget shared by two connections (as two workers, or two instances)
 * admits exactly what fits, concurrently; settlement releases and adds;
 * an RPM window shared; reservations of an instance that is gone do not
 * count; a view does not lose a settlement still on its way; Redis
 * killed and restarted empty is rebuilt from the store and what was
 * settled meanwhile is added once; the views read Redis. */
#include "test_helpers.h"

#include <time.h>
#include <uv.h>

#include "ledger_fixture.h"
#include "servers_fixture.h"
#include "switchboard/counters.h"

/* A private ledger and an empty Redis for each test. */
static int fresh(void **state)
{
  if (servers_run("redis-cli", "flushall", NULL, 0) != 0)
    return -1;
  return setup(state);
}

static void test_redis_url(void **state)
{
  (void)state;
  sb_redis_url_t u;
  char err[200], shown[200];
  assert_int_equal(sb_redis_url_parse("redis://127.0.0.1:6380/2", &u, err, sizeof(err)), SB_OK);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 2);
  assert_string_equal(u.password, "");
  assert_int_equal(sb_redis_url_parse("redis://:s3cret@cache", &u, err, sizeof(err)), SB_OK);
  assert_string_equal(u.host, "cache");
  assert_int_equal(u.port, 6379);
  assert_string_equal(u.password, "s3cret");
  assert_int_equal(sb_redis_url_parse("redis://user:pw@[::1]:7000/", &u, err, sizeof(err)), SB_OK);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
  assert_string_equal(u.password, "pw");
  assert_int_equal(sb_redis_url_parse("rediss://h", &u, err, sizeof(err)), SB_ERROR);
  assert_non_null(strstr(err, "TLS"));
  assert_int_equal(sb_redis_url_parse("redis://h:99999", &u, err, sizeof(err)), SB_ERROR);
  assert_int_equal(sb_redis_url_parse("redis://h/x", &u, err, sizeof(err)), SB_ERROR);
  assert_int_equal(sb_redis_url_parse("redis://", &u, err, sizeof(err)), SB_ERROR);
  sb_redis_url_redact("redis://:s3cret@cache:1/0", shown, sizeof(shown));
  assert_string_equal(shown, "redis://:***@cache:1/0");
  sb_redis_url_redact("redis://s3cret@cache", shown, sizeof(shown));
  assert_string_equal(shown, "redis://***@cache");
}

/* ---- a running instance -------------------------------------------------- */

typedef struct {
  sb_ledger_t *l;
  sb_counters_t *c;
  uv_loop_t loop;
  sb_counters_conn_t *w[2]; /* two workers */
} inst_t;

static void run_until(uv_loop_t *loop, bool *done)
{
  int64_t end = now_ms() + 20000;
  while (!*done && now_ms() < end)
    uv_run(loop, UV_RUN_NOWAIT), usleep(200);
  assert_true(*done);
}

static void inst_open(inst_t *in, const char *spec)
{
  char err[512];
  memset(in, 0, sizeof(*in));
  in->l = sb_ledger_open(spec, err, sizeof(err));
  if (in->l == NULL)
    fail_msg("%s", err);
  sb_counters_options_t o = {srv_redis, false, in->l};
  in->c = sb_counters_open(&o, err, sizeof(err));
  if (in->c == NULL)
    fail_msg("%s", err);
  assert_int_equal(uv_loop_init(&in->loop), 0);
  for (unsigned i = 0; i < 2; i++)
    in->w[i] = sb_counters_attach(in->c, &in->loop, i);
}

static void inst_close(inst_t *in)
{
  for (unsigned i = 0; i < 2; i++)
    sb_counters_detach(in->w[i]);
  uv_run(&in->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&in->loop), 0);
  sb_counters_close(in->c);
  sb_ledger_close(in->l);
}

typedef struct {
  sb_counters_admission_t a;
  bool done;
} adm_t;

static void noted(void *data)
{
  *(bool *)data = true;
}

static void answered(sb_counters_admission_t *a, void *data)
{
  (void)a;
  ((adm_t *)data)->done = true;
}

/* Start an admission; `x->done` once answered. */
static void admit(sb_counters_conn_t *w, sb_key_t *k, int64_t reserve, adm_t *x)
{
  x->done = false;
  if (sb_counters_admit(w, k, SB_SLICE_LIT("m/x"), reserve, now_ms(), &x->a,
                        answered, x) == SB_OK)
    x->done = true;
}

static sb_admit_t admit_now(inst_t *in, unsigned wi, sb_key_t *k,
                            int64_t reserve, adm_t *x)
{
  admit(in->w[wi], k, reserve, x);
  run_until(&in->loop, &x->done);
  return x->a.result;
}

/* An admission on `w` (run by `loop`) once Redis is ready for it: tried
 * again while refused as unavailable (not yet rebuilt). */
static sb_admit_t admit_when_ready(uv_loop_t *loop, sb_counters_conn_t *w,
                                   sb_key_t *k, int64_t reserve, adm_t *x)
{
  int64_t end = now_ms() + 20000;
  for (;;) {
    admit(w, k, reserve, x);
    run_until(loop, &x->done);
    if (x->a.result != SB_ADMIT_UNAVAILABLE)
      return x->a.result;
    assert_true(now_ms() < end);
    for (int i = 0; i < 50; i++)
      uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
  }
}

/* Wait until both connections admit (Redis rebuilt and ready). */
static void wait_ready(inst_t *in, sb_key_t *k)
{
  for (unsigned wi = 0; wi < 2; wi++) {
    adm_t x;
    assert_int_equal(admit_when_ready(&in->loop, in->w[wi], k, 0, &x),
                     SB_ADMIT_OK);
    sb_counters_settle(in->w[wi], sb_ledger_keys(in->l), k, &x.a.ticket, 0, 0,
                       0, now_ms());
  }
}

/* The key as a view through connection `wi` reads it from Redis. */
static void view_on(inst_t *in, unsigned wi, sb_key_t *k, sb_key_view_t *v)
{
  sb_key_t *keys[] = {k};
  bool viewed = false;
  assert_int_equal(sb_counters_refresh(in->w[wi], keys, 1, noted, &viewed),
                   SB_OK);
  run_until(&in->loop, &viewed);
  sb_key_view(k, now_ms(), v);
}

static sb_key_t *new_key(inst_t *in, int64_t limit, uint32_t rpm)
{
  sb_key_record_t r;
  char secret[96];
  memset(&r, 0, sizeof(r));
  snprintf(r.name, sizeof(r.name), "shared");
  r.limit_pico = limit;
  r.rpm = rpm;
  r.created_ms = r.updated_ms = now_ms();
  sb_key_t *k = sb_keys_create(sb_ledger_keys(in->l), &r, secret,
                               sizeof(secret));
  assert_non_null(k);
  sb_ledger_flush(in->l);
  return k;
}

static void test_budget_shared_by_connections(void **state)
{
  (void)state;
  inst_t in;
  inst_open(&in, dbspec);
  sb_key_t *k = new_key(&in, 1000, 0);
  wait_ready(&in, k);
  /* 50 admissions of 100 at once on two connections: 10 fit */
  adm_t x[50];
  for (int i = 0; i < 50; i++)
    admit(in.w[i % 2], k, 100, &x[i]);
  bool all = false;
  int64_t end = now_ms() + 20000;
  while (!all && now_ms() < end) {
    uv_run(&in.loop, UV_RUN_NOWAIT);
    all = true;
    for (int i = 0; i < 50; i++)
      all &= x[i].done;
  }
  assert_true(all);
  int ok = 0, credits = 0;
  for (int i = 0; i < 50; i++) {
    ok += x[i].a.result == SB_ADMIT_OK;
    credits += x[i].a.result == SB_ADMIT_CREDITS;
    if (x[i].a.result == SB_ADMIT_OK)
      assert_true(x[i].a.ticket.shared);
  }
  assert_int_equal(ok, 10);
  assert_int_equal(credits, 40);
  /* five settle at 50 each: 250 spent, 500 still reserved, 250 left */
  int settled = 0;
  for (int i = 0; i < 50 && settled < 5; i++)
    if (x[i].a.result == SB_ADMIT_OK && !x[i].a.ticket.settle_sent) {
      sb_counters_settle(in.w[i % 2], sb_ledger_keys(in.l), k, &x[i].a.ticket,
                         50, 0, 0, now_ms());
      settled++;
    }
  adm_t y;
  assert_int_equal(admit_now(&in, 0, k, 200, &y), SB_ADMIT_OK);
  adm_t z;
  assert_int_equal(admit_now(&in, 1, k, 100, &z), SB_ADMIT_CREDITS);
  assert_int_equal(z.a.info.remaining_pico, 50);
  /* what the other connection sees of it, through a view */
  sb_key_view_t v;
  view_on(&in, 1, k, &v);
  assert_int_equal(v.usage_total, 250);
  assert_int_equal(v.requests, 7); /* five settled, two readiness probes */
  assert_int_equal(v.reserved, 700);
  assert_int_equal(v.remaining, 50);
  inst_close(&in);
  sb_key_unref(k);
}

static void test_rpm_window_shared(void **state)
{
  (void)state;
  inst_t in;
  inst_open(&in, dbspec);
  sb_key_t *k = new_key(&in, -1, 3);
  /* readiness without counting a request: a key without limits */
  sb_key_t *probe = new_key(&in, 5, 0);
  wait_ready(&in, probe);
  int ok = 0, limited = 0;
  for (int i = 0; i < 5; i++) {
    adm_t x;
    sb_admit_t rc = admit_now(&in, (unsigned)i % 2, k, 0, &x);
    if (rc == SB_ADMIT_OK) {
      ok++;
      assert_int_equal(x.a.info.limit, 3);
      assert_int_equal(x.a.info.remaining, 3 - (uint32_t)ok);
    } else {
      assert_int_equal(rc, SB_ADMIT_RPM);
      limited++;
      assert_int_equal(x.a.info.remaining, 0);
      assert_true(x.a.info.retry_after_s >= 1 && x.a.info.retry_after_s <= 60);
    }
  }
  assert_int_equal(ok, 3);
  assert_int_equal(limited, 2);
  inst_close(&in);
  sb_key_unref(k);
  sb_key_unref(probe);
}

static void test_dead_instance_reservations_do_not_count(void **state)
{
  (void)state;
  inst_t in;
  inst_open(&in, dbspec);
  sb_key_t *k = new_key(&in, 1000, 0);
  wait_ready(&in, k);
  char key[96];
  snprintf(key, sizeof(key), "sb:r:%s 0123456789abcdef/0 900", k->rec.hash);
  char args[160];
  snprintf(args, sizeof(args), "hset %s", key);
  assert_int_equal(servers_run("redis-cli", args, NULL, 0), 0);
  adm_t x;
  /* 900 held by an instance never seen alive: dropped, 800 fits */
  assert_int_equal(admit_now(&in, 0, k, 800, &x), SB_ADMIT_OK);
  inst_close(&in);
  sb_key_unref(k);
}

static void test_rebuilt_from_the_store_and_owed_once(void **state)
{
  (void)state;
  inst_t in;
  inst_open(&in, dbspec);
  sb_keys_t *t = sb_ledger_keys(in.l);
  sb_key_t *k = new_key(&in, 100000, 0);
  wait_ready(&in, k);
  /* one call settled in Redis, with its row */
  adm_t x;
  assert_int_equal(admit_now(&in, 0, k, 1000, &x), SB_ADMIT_OK);
  sb_ledger_row_t row;
  row_for(&row, "gen-c1", k, now_ms(), 700);
  uint64_t seq = sb_ledger_record(in.l, &row);
  sb_counters_settle(in.w[0], t, k, &x.a.ticket, 700, 0, seq, now_ms());
  /* Redis dies; two calls end meanwhile (their settlements are owed) */
  adm_t y[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(admit_now(&in, 1, k, 1000, &y[i]), SB_ADMIT_OK);
  assert_int_equal(servers_run("redis-kill", NULL, NULL, 0), 0);
  for (int i = 0; i < 2; i++) {
    char id[16];
    snprintf(id, sizeof(id), "gen-c%d", i + 2);
    row_for(&row, id, k, now_ms(), 100 + i);
    seq = sb_ledger_record(in.l, &row);
    sb_counters_settle(in.w[1], t, k, &y[i].a.ticket, 100 + i, 0, seq,
                       now_ms());
  }
  adm_t z;
  assert_int_equal(admit_now(&in, 0, k, 1, &z), SB_ADMIT_UNAVAILABLE);
  assert_non_null(strstr(z.a.why, "Redis cannot be reached"));
  sb_counters_stats_t cs;
  sb_counters_stats(in.c, &cs);
  /* back, empty: rebuilt from the store, then what is owed, once */
  assert_int_equal(servers_run("redis-start", NULL, NULL, 0), 0);
  wait_ready(&in, k);
  int64_t end = now_ms() + 20000;
  do {
    for (int i = 0; i < 20; i++)
      uv_run(&in.loop, UV_RUN_NOWAIT), usleep(1000);
    sb_counters_stats(in.c, &cs);
  } while (cs.owed > 0 && now_ms() < end);
  assert_int_equal(cs.owed, 0);
  assert_true(cs.ready);
  char out[64];
  char args[120];
  snprintf(args, sizeof(args), "hget sb:k:%s tot", k->rec.hash);
  assert_int_equal(servers_run("redis-cli", args, out, sizeof(out)), 0);
  assert_string_equal(out, "901");
  snprintf(args, sizeof(args), "hget sb:k:%s req", k->rec.hash);
  assert_int_equal(servers_run("redis-cli", args, out, sizeof(out)), 0);
  /* the three calls and the two readiness probes */
  assert_string_equal(out, "5");
  inst_close(&in);
  sb_key_unref(k);
}

static unsigned in_flight(sb_key_t *k)
{
  pthread_mutex_lock(&k->lock);
  unsigned n = k->settling;
  pthread_mutex_unlock(&k->lock);
  return n;
}

/* A worker's settlement can reach Redis after another worker's view of
 * the key (each has its own connection): the view keeps this instance's
 * figures, which count it, until Redis has it too. The settling
 * connection runs on a loop of its own, held still while the view runs. */
static void test_a_view_keeps_this_instances_settlements(void **state)
{
  (void)state;
  inst_t in;
  inst_open(&in, dbspec);
  sb_key_t *k = new_key(&in, 100000, 0);
  wait_ready(&in, k);
  uv_loop_t held;
  assert_int_equal(uv_loop_init(&held), 0);
  sb_counters_conn_t *late = sb_counters_attach(in.c, &held, 2);
  adm_t x;
  assert_int_equal(admit_when_ready(&held, late, k, 1000, &x), SB_ADMIT_OK);
  /* settled: counted here at once, queued for Redis on the held loop */
  sb_counters_settle(late, sb_ledger_keys(in.l), k, &x.a.ticket, 300, 0, 0,
                     now_ms());
  sb_key_view_t v;
  view_on(&in, 1, k, &v);
  assert_int_equal(v.usage_total, 300);
  assert_int_equal(v.requests, 3); /* the call and two readiness probes */
  /* Redis takes it; a view now reads Redis's figures, the same */
  int64_t end = now_ms() + 20000;
  while (in_flight(k) > 0 && now_ms() < end)
    uv_run(&held, UV_RUN_NOWAIT), uv_run(&in.loop, UV_RUN_NOWAIT), usleep(200);
  assert_int_equal(in_flight(k), 0);
  char out[64], args[120];
  snprintf(args, sizeof(args), "hincrby sb:k:%s tot 5", k->rec.hash);
  assert_int_equal(servers_run("redis-cli", args, out, sizeof(out)), 0);
  view_on(&in, 1, k, &v);
  assert_int_equal(v.usage_total, 305); /* read from Redis */
  assert_int_equal(v.requests, 3);
  assert_int_equal(v.reserved, 0);
  sb_counters_detach(late);
  uv_run(&held, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&held), 0);
  inst_close(&in);
  sb_key_unref(k);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_redis_url),
      cmocka_unit_test_setup_teardown(test_budget_shared_by_connections, fresh, teardown),
      cmocka_unit_test_setup_teardown(test_rpm_window_shared, fresh, teardown),
      cmocka_unit_test_setup_teardown(test_dead_instance_reservations_do_not_count, fresh, teardown),
      cmocka_unit_test_setup_teardown(test_a_view_keeps_this_instances_settlements, fresh, teardown),
      cmocka_unit_test_setup_teardown(test_rebuilt_from_the_store_and_owed_once, fresh, teardown),
  };
  return cmocka_run_group_tests(tests, servers_group_up_redis,
                                servers_group_down);
}
