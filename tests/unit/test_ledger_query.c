/* SPDX-License-Identifier: MIT */
/* The ledger's reports (ledger_query.h): totals, percentiles, a series
 * with empty buckets, the top groups per dimension (a client key shown by
 * its name, also once deleted), filters, the range's bounds, limits, and
 * the most recent rows (errors only). The same tests on a SQLite store,
 * then on a Postgres one (a real server started for this program): the
 * same answers from both; Postgres stopped is SB_AGAIN, then it recovers. */
#include "test_helpers.h"

#include <unistd.h>

#include "accounts/ledger_tally.h"
#include "ledger_fixture.h"
#include "servers_fixture.h"
#include "switchboard/ledger_query.h"

#define T0 1764892800000LL /* 2025-12-05T00:00:00Z */
#define MINUTE 60000LL

typedef struct {
  const char *id;
  int64_t at;       /* ms after T0 */
  const char *model, *provider, *agent;
  int key;          /* 0: admin, 1: key "alpha", 2: key "beta" (deleted) */
  uint64_t prompt, completion;
  int64_t cost;
  uint32_t latency, ttft;
  int status;
} fixture_row_t;

/* 8 rows over 3 minutes; 2 errors. */
static const fixture_row_t rows[] = {
    {"gen-a", 0 * MINUTE + 10, "m/one", "p1", "bot", 1, 100, 10, 1000, 100, 40, 200},
    {"gen-b", 0 * MINUTE + 20, "m/one", "p1", "bot", 1, 200, 20, 2000, 200, 0, 200},
    {"gen-c", 0 * MINUTE + 30, "m/two", "p2", NULL, 0, 300, 30, 3000, 300, 60, 200},
    {"gen-d", 2 * MINUTE + 5, "m/two", "p2", "cli", 2, 400, 40, 4000, 400, 0, 502},
    {"gen-e", 2 * MINUTE + 6, "m/one", "p2", "cli", 2, 500, 50, 5000, 500, 80, 200},
    {"gen-f", 2 * MINUTE + 7, "m/three", "p1", "bot", 0, 600, 60, 6000, 600, 0, 200},
    {"gen-g", 2 * MINUTE + 8, NULL, NULL, "bot", 1, 0, 0, 0, 700, 0, 404},
    {"gen-h", 2 * MINUTE + 9, "m/one", "p1", "bot", 1, 800, 80, 8000, 800, 100, 200},
};

static char hash_alpha[65], hash_beta[65];
/* the rows' generation ids, made as the gateway makes them (reports read
 * a range of ids: they begin with the second of the row's time) */
static char ids[SB_ARRAY_LEN(rows)][48];

/* The id of the fixture row named `name` ("gen-a" ...). */
static const char *id_of(const char *name)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(rows); i++)
    if (strcmp(rows[i].id, name) == 0)
      return ids[i];
  fail_msg("no row %s", name);
  return NULL;
}

/* A store holding `rows` (flushed); the caller closes it. */
static sb_ledger_t *store(void)
{
  char err[256], secret[96];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_keys_t *t = sb_ledger_keys(l);
  sb_key_t *keys[3] = {NULL, NULL, NULL};
  const char *names[3] = {NULL, "alpha", "beta"};
  for (int i = 1; i <= 2; i++) {
    sb_key_record_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", names[i]);
    r.limit_pico = -1;
    r.created_ms = r.updated_ms = now_ms();
    keys[i] = sb_keys_create(t, &r, secret, sizeof(secret));
    assert_non_null(keys[i]);
  }
  snprintf(hash_alpha, sizeof(hash_alpha), "%s", keys[1]->rec.hash);
  snprintf(hash_beta, sizeof(hash_beta), "%s", keys[2]->rec.hash);
  for (size_t i = 0; i < SB_ARRAY_LEN(rows); i++) {
    const fixture_row_t *f = &rows[i];
    sb_ledger_row_t r;
    row_for(&r, "", keys[f->key], T0 + f->at, f->cost);
    sb_ledger_make_id(r.id, (T0 + f->at) * 1000, i, i);
    memcpy(ids[i], r.id, sizeof(r.id));
    if (f->key == 0)
      snprintf(r.key_label, sizeof(r.key_label), "admin");
    snprintf(r.model, sizeof(r.model), "%s", f->model ? f->model : "");
    snprintf(r.requested_model, sizeof(r.requested_model), "%s",
             f->model ? f->model : "asked/unknown");
    snprintf(r.provider, sizeof(r.provider), "%s", f->provider ? f->provider : "");
    snprintf(r.agent, sizeof(r.agent), "%s", f->agent ? f->agent : "");
    r.usage.prompt = f->prompt;
    r.usage.completion = f->completion;
    r.usage.cached = f->prompt / 10;
    r.latency_ms = f->latency;
    r.ttft_ms = f->ttft;
    r.status = f->status;
    sb_ledger_record(l, &r);
  }
  /* a deleted key keeps its name in the reports */
  assert_int_equal(sb_keys_revoke(t, sb_slice_z(hash_beta)), SB_OK);
  for (int i = 1; i <= 2; i++)
    sb_key_unref(keys[i]);
  sb_ledger_flush(l);
  return l;
}

static sb_ledger_report_query_t everything(void)
{
  sb_ledger_report_query_t q;
  memset(&q, 0, sizeof(q));
  q.filter.from_ms = T0;
  q.filter.to_ms = T0 + 3 * MINUTE;
  q.bucket_ms = MINUTE;
  q.dims = (1u << SB_DIM_N) - 1;
  q.group_limit = 10;
  return q;
}

static const sb_ledger_group_t *group(const sb_ledger_report_t *r,
                                      sb_ledger_dim_t d, const char *id)
{
  for (size_t i = 0; i < r->n_groups[d]; i++)
    if (strcmp(r->groups[d][i].id, id) == 0)
      return &r->groups[d][i];
  fail_msg("no %s group '%s'", sb_ledger_dim_names[d], id);
  return NULL;
}

static void test_report(void **state)
{
  (void)state;
  sb_ledger_t *l = store();
  sb_ledger_report_query_t q = everything();
  sb_ledger_report_t r;
  char err[256];
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);

  assert_int_equal(r.total.requests, 8);
  assert_int_equal(r.total.errors, 2);
  assert_int_equal(r.total.prompt, 2900);
  assert_int_equal(r.total.completion, 290);
  assert_int_equal(r.total.cached, 290);
  assert_int_equal(r.total.cost_pico, 29000);
  assert_true(r.total.latency_ms == 450.0);          /* 3600 / 8 */
  assert_true(r.total.ttft_ms == 70.0);              /* (40+60+80+100) / 4 */
  assert_int_equal(r.latency_p50_ms, 400);           /* rank 4 of 8 */
  assert_int_equal(r.latency_p95_ms, 800);           /* rank 8 of 8 */

  /* three one-minute buckets, the middle one empty */
  assert_int_equal(r.series_start_ms, T0);
  assert_int_equal(r.n_series, 3);
  assert_int_equal(r.series[0].requests, 3);
  assert_int_equal(r.series[0].cost_pico, 6000);
  assert_int_equal(r.series[1].requests, 0);
  assert_int_equal(r.series[2].requests, 5);
  assert_int_equal(r.series[2].errors, 2);
  assert_int_equal(r.series[2].completion, 230);

  /* models: by cost first; a row without a model counts under the one
   * asked for */
  assert_int_equal(r.n_groups[SB_DIM_MODEL], 4);
  assert_string_equal(r.groups[SB_DIM_MODEL][0].id, "m/one");
  assert_int_equal(r.groups[SB_DIM_MODEL][0].s.requests, 4);
  assert_int_equal(r.groups[SB_DIM_MODEL][0].s.cost_pico, 16000);
  assert_int_equal(group(&r, SB_DIM_MODEL, "asked/unknown")->s.errors, 1);
  assert_int_equal(group(&r, SB_DIM_PROVIDER, "p2")->s.requests, 3);
  assert_int_equal(group(&r, SB_DIM_PROVIDER, "-")->s.requests, 1);
  assert_int_equal(group(&r, SB_DIM_AGENT, "-")->s.requests, 1);
  assert_int_equal(group(&r, SB_DIM_AGENT, "bot")->s.requests, 5);

  /* keys: a client key by hash, shown by name (the deleted one too) */
  const sb_ledger_group_t *alpha = group(&r, SB_DIM_KEY, hash_alpha);
  assert_string_equal(alpha->name, "alpha");
  assert_int_equal(alpha->s.requests, 4);
  assert_int_equal(alpha->s.cost_pico, 11000);
  assert_string_equal(group(&r, SB_DIM_KEY, hash_beta)->name, "beta");
  assert_string_equal(group(&r, SB_DIM_KEY, "admin")->name, "admin");
  assert_int_equal(group(&r, SB_DIM_KEY, "admin")->s.requests, 2);
  sb_ledger_report_free(&r);
  sb_ledger_close(l);
}

static void test_filters_and_bounds(void **state)
{
  (void)state;
  sb_ledger_t *l = store();
  char err[256];
  sb_ledger_report_t r;

  /* a filter on two dimensions */
  sb_ledger_report_query_t q = everything();
  q.filter.match[SB_DIM_MODEL] = "m/one";
  q.filter.match[SB_DIM_KEY] = hash_alpha;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.total.requests, 3);
  assert_int_equal(r.total.cost_pico, 11000);
  assert_int_equal(r.n_groups[SB_DIM_PROVIDER], 1);
  sb_ledger_report_free(&r);

  /* the range is [from, to): gen-a at T0+10 in, gen-h at T0+2m+9 out */
  q = everything();
  q.filter.from_ms = T0 + 10;
  q.filter.to_ms = T0 + 2 * MINUTE + 9;
  q.bucket_ms = 0;
  q.dims = 0;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.total.requests, 7);
  assert_int_equal(r.n_series, 0);
  assert_null(r.groups[SB_DIM_MODEL]);
  sb_ledger_report_free(&r);

  /* times of fewer and of more digits than today's seconds */
  q = everything();
  q.filter.from_ms = 100000000000LL;   /* 1973 */
  q.filter.to_ms = 99999999999999LL;   /* 5138 */
  q.bucket_ms = 0;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.total.requests, 8);
  sb_ledger_report_free(&r);

  /* an unaligned range: buckets start on a multiple of the step */
  q = everything();
  q.filter.from_ms = T0 + 25;
  q.filter.to_ms = T0 + 2 * MINUTE + 30 * 1000;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.series_start_ms, T0);
  assert_int_equal(r.n_series, 3);
  assert_int_equal(r.series[0].requests, 1); /* gen-c only */
  sb_ledger_report_free(&r);

  /* the top group only */
  q = everything();
  q.group_limit = 1;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.n_groups[SB_DIM_AGENT], 1);
  assert_string_equal(r.groups[SB_DIM_AGENT][0].id, "bot");
  sb_ledger_report_free(&r);

  /* values that are not SQL nor UTF-8 are only values: they match nothing */
  const char *hostile[] = {"bot' OR '1'='1", "bot\\", "b\"ot", "bot\xff\xfe"};
  for (size_t i = 0; i < SB_ARRAY_LEN(hostile); i++) {
    q = everything();
    q.filter.match[SB_DIM_AGENT] = hostile[i];
    assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
    assert_int_equal(r.total.requests, 0);
    sb_ledger_report_free(&r);
  }

  /* an empty range has no rows and no percentiles */
  q = everything();
  q.filter.from_ms = q.filter.to_ms = T0 + 10 * MINUTE;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.total.requests, 0);
  assert_int_equal(r.latency_p50_ms, 0);
  assert_int_equal(r.n_series, 0);
  sb_ledger_report_free(&r);

  /* refused: too many buckets, a range that ends before it starts */
  q = everything();
  q.bucket_ms = 1;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_DECLINED);
  assert_non_null(strstr(err, "buckets"));
  sb_ledger_report_free(&r);
  q = everything();
  q.filter.to_ms = q.filter.from_ms - 1;
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_DECLINED);
  sb_ledger_report_free(&r);
  sb_ledger_close(l);
}

static void test_bucket_count(void **state)
{
  (void)state;
  assert_int_equal(sb_ledger_bucket_count(0, 0, MINUTE), 0);
  assert_int_equal(sb_ledger_bucket_count(0, 1, MINUTE), 1);
  assert_int_equal(sb_ledger_bucket_count(0, MINUTE, MINUTE), 1);
  assert_int_equal(sb_ledger_bucket_count(0, MINUTE + 1, MINUTE), 2);
  assert_int_equal(sb_ledger_bucket_count(MINUTE - 1, MINUTE + 1, MINUTE), 2);
  assert_int_equal(sb_ledger_bucket_count(0, MINUTE, 0), 0);
}

static void test_recent(void **state)
{
  (void)state;
  sb_ledger_t *l = store();
  char err[256];
  sb_ledger_filter_t f;
  memset(&f, 0, sizeof(f));
  f.from_ms = T0;
  f.to_ms = T0 + 3 * MINUTE;
  sb_ledger_row_t *got;
  size_t n;
  assert_int_equal(sb_ledger_recent(l, &f, false, 3, &got, &n, err, sizeof(err)), SB_OK);
  assert_int_equal(n, 3);
  assert_string_equal(got[0].id, id_of("gen-h"));
  assert_string_equal(got[1].id, id_of("gen-g"));
  assert_string_equal(got[2].id, id_of("gen-f"));
  assert_int_equal(got[0].usage.prompt, 800);
  free(got);

  assert_int_equal(sb_ledger_recent(l, &f, true, 10, &got, &n, err, sizeof(err)), SB_OK);
  assert_int_equal(n, 2);
  assert_string_equal(got[0].id, id_of("gen-g"));
  assert_int_equal(got[0].status, 404);
  assert_string_equal(got[1].id, id_of("gen-d"));
  assert_string_equal(got[1].provider, "p2");
  free(got);

  f.match[SB_DIM_PROVIDER] = "p2";
  assert_int_equal(sb_ledger_recent(l, &f, true, 10, &got, &n, err, sizeof(err)), SB_OK);
  assert_int_equal(n, 1);
  assert_string_equal(got[0].id, id_of("gen-d"));
  free(got);
  sb_ledger_close(l);
}

/* The tally alone: distinct values past its cap count under "(other)",
 * which competes with the rest; latencies past the histogram (a minute
 * and more) still give exact percentiles. */
static void test_tally_bounds(void **state)
{
  (void)state;
  sb_ledger_report_query_t q;
  memset(&q, 0, sizeof(q));
  q.filter.to_ms = 1000;
  q.dims = 1u << SB_DIM_AGENT;
  q.group_limit = 3;
  sb_tally_t *t = sb_tally_new(&q);
  assert_non_null(t);
  char agent[32];
  sb_tally_row_t r;
  memset(&r, 0, sizeof(r));
  r.status = 200;
  r.dim[SB_DIM_AGENT] = agent;
  size_t n = SB_TALLY_MAX_GROUPS + 1000;
  for (size_t i = 0; i < n; i++) {
    snprintf(agent, sizeof(agent), "agent-%zu", i);
    r.cost_pico = 1;
    /* 1 ms for most; the last 10 rows 70, 80 ... 160 s */
    r.latency_ms = i >= n - 10 ? (uint32_t)(70000 + (i - (n - 10)) * 10000) : 1;
    assert_int_equal(sb_tally_add(t, &r), SB_OK);
  }
  /* one agent that costs the most */
  snprintf(agent, sizeof(agent), "agent-7");
  r.cost_pico = 5000;
  r.latency_ms = 1;
  assert_int_equal(sb_tally_add(t, &r), SB_OK);
  sb_ledger_report_t out;
  memset(&out, 0, sizeof(out));
  assert_int_equal(sb_tally_finish(t, &out), SB_OK);
  assert_int_equal(out.total.requests, n + 1);
  assert_int_equal(out.n_groups[SB_DIM_AGENT], 3);
  assert_string_equal(out.groups[SB_DIM_AGENT][0].id, "agent-7");
  assert_int_equal(out.groups[SB_DIM_AGENT][0].s.requests, 2);
  /* the 1000 agents past the cap: one group of 1000 requests */
  assert_string_equal(out.groups[SB_DIM_AGENT][1].id, SB_TALLY_OTHER);
  assert_int_equal(out.groups[SB_DIM_AGENT][1].s.requests, 1000);
  assert_int_equal(out.groups[SB_DIM_AGENT][1].s.cost_pico, 1000);
  /* p50 among the 1 ms rows; p95 too (10 slow rows of 66537) */
  assert_int_equal(out.latency_p50_ms, 1);
  assert_int_equal(out.latency_p95_ms, 1);
  sb_ledger_report_free(&out);
  sb_tally_free(t);

  /* mostly slow: the percentiles come from the slow ones, in order */
  t = sb_tally_new(&q);
  assert_non_null(t);
  snprintf(agent, sizeof(agent), "one");
  const uint32_t lat[] = {90000, 5, 70000, 200000, 80000};
  const uint32_t ttft[] = {0, 4, 0, 0, 8};
  for (size_t i = 0; i < SB_ARRAY_LEN(lat); i++) {
    r.latency_ms = lat[i];
    r.ttft_ms = ttft[i];
    assert_int_equal(sb_tally_add(t, &r), SB_OK);
  }
  memset(&out, 0, sizeof(out));
  assert_int_equal(sb_tally_finish(t, &out), SB_OK);
  assert_int_equal(out.latency_p50_ms, 80000);  /* rank 3 of 5 */
  assert_int_equal(out.latency_p95_ms, 200000); /* rank 5 */
  assert_true(out.total.ttft_ms == 6.0);         /* the rows that have one */
  assert_int_equal(out.n_series, 0);
  sb_ledger_report_free(&out);
  sb_tally_free(t);
}

/* ---- on Postgres --------------------------------------------------------- */

/* A fresh database for each test: dbspec is its URL. */
static int pg_setup(void **state)
{
  (void)state;
  static int n;
  char name[32];
  snprintf(name, sizeof(name), "q%d", ++n);
  return servers_createdb(name, dbspec, sizeof(dbspec));
}

/* Postgres stopped: both reports are SB_AGAIN (the gateway's 503) and say
 * why; started again, they answer, on a connection made for the call. */
static void test_postgres_down(void **state)
{
  (void)state;
  sb_ledger_t *l = store();
  sb_ledger_report_query_t q = everything();
  sb_ledger_report_t r;
  sb_ledger_row_t *got;
  size_t n;
  char err[256];
  assert_int_equal(servers_run("pg-stop", NULL, NULL, 0), 0);
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_AGAIN);
  assert_non_null(strstr(err, "cannot connect to postgres://"));
  sb_ledger_report_free(&r);
  assert_int_equal(sb_ledger_recent(l, &q.filter, false, 5, &got, &n, err,
                                    sizeof(err)),
                   SB_AGAIN);
  assert_null(got);
  assert_int_equal(n, 0);
  assert_int_equal(servers_run("pg-start", NULL, NULL, 0), 0);
  assert_int_equal(sb_ledger_report(l, &q, &r, err, sizeof(err)), SB_OK);
  assert_int_equal(r.total.requests, 8);
  assert_string_equal(group(&r, SB_DIM_KEY, hash_beta)->name, "beta");
  sb_ledger_report_free(&r);
  assert_int_equal(sb_ledger_recent(l, &q.filter, false, 5, &got, &n, err,
                                    sizeof(err)),
                   SB_OK);
  assert_int_equal(n, 5);
  free(got);
  sb_ledger_close(l);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_report, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters_and_bounds, setup, teardown),
      cmocka_unit_test(test_bucket_count),
      cmocka_unit_test(test_tally_bounds),
      cmocka_unit_test_setup_teardown(test_recent, setup, teardown),
  };
  const struct CMUnitTest on_postgres[] = {
      cmocka_unit_test_setup(test_report, pg_setup),
      cmocka_unit_test_setup(test_filters_and_bounds, pg_setup),
      cmocka_unit_test_setup(test_recent, pg_setup),
      cmocka_unit_test_setup(test_postgres_down, pg_setup),
  };
  int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
  return failed + cmocka_run_group_tests_name("postgres", on_postgres,
                                              servers_group_up,
                                              servers_group_down);
}
