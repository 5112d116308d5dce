/* SPDX-License-Identifier: MIT */
/* Request metrics: per-worker counts summed at scrape, label values capped
 * (src/gateway/metrics.c). */
#include "test_helpers.h"

#include <pthread.h>

#include "switchboard/metrics.h"

static sb_access_t req(const char *door, const char *model,
                       const char *provider, const char *key, int status)
{
  sb_access_t a;
  memset(&a, 0, sizeof(a));
  a.door = sb_slice_z(door);
  a.model = sb_slice_z(model);
  a.provider = sb_slice_z(provider);
  a.key_label = sb_slice_z(key);
  a.status = status;
  return a;
}

static char *scrape(sb_metrics_t *m)
{
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_metrics_render(m, &b);
  sb_buf_cstr(&b);
  size_t n;
  return sb_buf_steal(&b, &n);
}

/* The value of the series whose line starts with `series` + " ". */
static const char *value_of(const char *text, const char *series)
{
  size_t n = strlen(series);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, series, n) == 0 && p[n] == ' ')
      return p + n + 1;
    p = strchr(p, '\n');
    if (p != NULL)
      p++;
  }
  return NULL;
}

#define assert_series(text, series, want)                                      \
  do {                                                                         \
    const char *v_ = value_of((text), (series));                               \
    if (v_ == NULL)                                                            \
      fail_msg("no series %s in:\n%s", (series), (text));                      \
    size_t w_ = strlen(want);                                                  \
    if (strncmp(v_, (want), w_) != 0 || v_[w_] != '\n')                        \
      fail_msg("%s: want %s, got %.*s", (series), (want),                      \
               (int)strcspn(v_, "\n"), v_);                                    \
  } while (0)

static void test_summed_over_workers(void **state)
{
  (void)state;
  sb_metrics_t *m = sb_metrics_new(2);
  assert_non_null(m);
  sb_access_t a = req("chat", "openai/gpt-4o-mini", "openai", "team", 200);
  a.usage.prompt = 10;
  a.usage.completion = 5;
  a.usage.cached = 4;
  a.usage.reasoning = 1;
  a.cost_pico = 1500000; /* $0.0000015 */
  a.upstream_ns = 30 * 1000000ull; /* 30 ms: the 50 ms bucket */
  a.upstream_ttfb_ns = 7 * 1000000ull;
  sb_metrics_note(m, 0, &a);
  sb_metrics_note(m, 1, &a);
  sb_metrics_note(m, 1, &a);
  sb_access_t b = req("chat", "openai/gpt-4o-mini", "openai", "other-team", 502);
  b.cost_pico = 0;
  sb_metrics_note(m, 0, &b);
  sb_access_t c = req("other", "", "", "", 404);
  sb_metrics_note(m, 1, &c);
  sb_metrics_note_failover(m, 0, SB_SLICE_LIT("openai"), false);
  sb_metrics_note_failover(m, 1, SB_SLICE_LIT("openai"), false);
  sb_metrics_note_failover(m, 1, SB_SLICE_LIT("groq"), true);
  /* a worker that does not exist is ignored */
  sb_metrics_note(m, 7, &a);

  char *t = scrape(m);
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model=\"openai/"
                "gpt-4o-mini\",provider=\"openai\",status=\"2xx\"}",
                "3");
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model=\"openai/"
                "gpt-4o-mini\",provider=\"openai\",status=\"5xx\"}",
                "1");
  assert_series(t,
                "switchboard_http_requests_total{door=\"other\",model=\"\","
                "provider=\"\",status=\"4xx\"}",
                "1");
  assert_series(t,
                "switchboard_tokens_total{model=\"openai/gpt-4o-mini\","
                "provider=\"openai\",kind=\"prompt\"}",
                "30");
  assert_series(t,
                "switchboard_tokens_total{model=\"openai/gpt-4o-mini\","
                "provider=\"openai\",kind=\"cached\"}",
                "12");
  assert_series(t,
                "switchboard_tokens_total{model=\"openai/gpt-4o-mini\","
                "provider=\"openai\",kind=\"reasoning\"}",
                "3");
  assert_series(t,
                "switchboard_cost_usd_total{model=\"openai/gpt-4o-mini\","
                "provider=\"openai\",key=\"team\"}",
                "0.0000045");
  assert_series(t,
                "switchboard_cost_usd_total{model=\"openai/gpt-4o-mini\","
                "provider=\"openai\",key=\"other-team\"}",
                "0");
  /* requests without a model count no tokens or cost */
  assert_null(strstr(t, "switchboard_tokens_total{model=\"\""));
  assert_series(t,
                "switchboard_upstream_latency_seconds_bucket{provider="
                "\"openai\",le=\"0.025\"}",
                "0");
  assert_series(t,
                "switchboard_upstream_latency_seconds_bucket{provider="
                "\"openai\",le=\"0.05\"}",
                "3");
  assert_series(t,
                "switchboard_upstream_latency_seconds_bucket{provider="
                "\"openai\",le=\"+Inf\"}",
                "3");
  assert_series(t, "switchboard_upstream_latency_seconds_count{provider=\"openai\"}",
                "3");
  assert_series(t, "switchboard_upstream_latency_seconds_sum{provider=\"openai\"}",
                "0.090000000");
  assert_series(t,
                "switchboard_upstream_ttft_seconds_bucket{provider=\"openai\","
                "le=\"0.01\"}",
                "3");
  assert_series(t, "switchboard_retries_total{provider=\"openai\"}", "2");
  assert_series(t, "switchboard_fallbacks_total{provider=\"groq\"}", "1");
  assert_null(strstr(t, "switchboard_fallbacks_total{provider=\"openai\"}"));
  free(t);
  sb_metrics_free(m);
}

static void test_labels_capped_and_escaped(void **state)
{
  (void)state;
  sb_metrics_t *m = sb_metrics_new(1);
  char model[160];
  for (int i = 0; i < SB_METRICS_MAX_MODELS + 50; i++) {
    snprintf(model, sizeof(model), "groq/made-up-%d", i);
    sb_access_t a = req("chat", model, "groq", "k", 404);
    sb_metrics_note(m, 0, &a);
  }
  sb_access_t q = req("chat", "a\"b\\c\nd", "groq", "k", 200);
  sb_metrics_note(m, 0, &q);
  char *t = scrape(m);
  /* the first SB_METRICS_MAX_MODELS values have their own series, the
   * rest (and the odd name past the cap) count as "other" */
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model=\"groq/"
                "made-up-0\",provider=\"groq\",status=\"4xx\"}",
                "1");
  snprintf(model, sizeof(model),
           "switchboard_http_requests_total{door=\"chat\",model=\"groq/"
           "made-up-%d\"",
           SB_METRICS_MAX_MODELS - 1);
  assert_non_null(strstr(t, model));
  snprintf(model, sizeof(model), "model=\"groq/made-up-%d\"",
           SB_METRICS_MAX_MODELS);
  assert_null(strstr(t, model));
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model=\"other\","
                "provider=\"groq\",status=\"4xx\"}",
                "50");
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model=\"other\","
                "provider=\"groq\",status=\"2xx\"}",
                "1");
  free(t);
  sb_metrics_free(m);

  /* escaping, below the cap */
  m = sb_metrics_new(1);
  sb_metrics_note(m, 0, &q);
  t = scrape(m);
  assert_series(t,
                "switchboard_http_requests_total{door=\"chat\",model="
                "\"a\\\"b\\\\c\\nd\",provider=\"groq\",status=\"2xx\"}",
                "1");
  free(t);
  sb_metrics_free(m);
}

typedef struct {
  sb_metrics_t *m;
  unsigned worker;
} noter_t;

#define PER_THREAD 50000

static void *noter(void *arg)
{
  noter_t *n = arg;
  char model[32];
  for (int i = 0; i < PER_THREAD; i++) {
    /* both threads meet the same new label values at the same time */
    snprintf(model, sizeof(model), "m/%d", i % 40);
    sb_access_t a = req("chat", model, "p", "k", 200);
    a.usage.prompt = 1;
    sb_metrics_note(n->m, n->worker, &a);
  }
  return NULL;
}

static void test_workers_and_scrapes_at_once(void **state)
{
  (void)state;
  sb_metrics_t *m = sb_metrics_new(2);
  noter_t n[2] = {{m, 0}, {m, 1}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, noter, &n[i]), 0);
  for (int i = 0; i < 20; i++)
    free(scrape(m)); /* racing the writers: must not crash or tear */
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  char *text = scrape(m);
  /* every value interned once: 40 series, each counted by both workers */
  char series[160];
  unsigned long long total = 0;
  for (int i = 0; i < 40; i++) {
    snprintf(series, sizeof(series),
             "switchboard_tokens_total{model=\"m/%d\",provider=\"p\",kind="
             "\"prompt\"}",
             i);
    const char *v = value_of(text, series);
    assert_non_null(v);
    total += strtoull(v, NULL, 10);
  }
  assert_int_equal(total, 2ull * PER_THREAD);
  free(text);
  sb_metrics_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_summed_over_workers),
      cmocka_unit_test(test_labels_capped_and_escaped),
      cmocka_unit_test(test_workers_and_scrapes_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
