/* SPDX-License-Identifier: MIT */
/* Routing plans: `provider` preferences parsed, candidates ordered, and
 * plans over catalog models with several endpoints (src/gateway/route.c). */
#include "test_helpers.h"

#include "switchboard/gateway.h"
#include "switchboard/health.h"

static sb_json_t *parse(sb_arena_t *a, const char *text)
{
  sb_json_t *v = NULL;
  if (sb_json_parse(a, text, strlen(text), 0, &v, NULL) != SB_OK)
    fail_msg("bad test JSON: %s", text);
  return v;
}

static void test_prefs_parse(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  sb_prefs_t p;
  const char *err = NULL;
  assert_int_equal(sb_prefs_parse(NULL, &p, &err), SB_OK);
  assert_true(p.allow_fallbacks);
  assert_int_equal(p.sort, SB_SORT_DEFAULT);
  assert_int_equal(
      sb_prefs_parse(parse(&a, "{\"order\":[\"groq\",\"together\"],"
                               "\"only\":[\"a\"],\"ignore\":[\"b\",\"c\"],"
                               "\"allow_fallbacks\":false,"
                               "\"require_parameters\":true,"
                               "\"sort\":\"throughput\","
                               "\"max_price\":{\"prompt\":0.5,\"completion\":\"2\"}}"),
                     &p, &err),
      SB_OK);
  assert_int_equal(p.n_order, 2);
  assert_slice_equal(p.order[1], "together");
  assert_int_equal(p.n_only, 1);
  assert_int_equal(p.n_ignore, 2);
  assert_false(p.allow_fallbacks);
  assert_true(p.require_parameters);
  assert_int_equal(p.sort, SB_SORT_THROUGHPUT);
  assert_true(p.has_max_prompt);
  /* USD per million tokens -> picodollars per token */
  assert_int_equal(p.max_prompt_pico, 500000);
  assert_int_equal(p.max_completion_pico, 2000000);
  assert_int_equal(sb_prefs_parse(parse(&a, "{\"sort\":{\"by\":\"latency\"}}"),
                                  &p, &err),
                   SB_OK);
  assert_int_equal(p.sort, SB_SORT_LATENCY);
  const char *bad[] = {"[]", "{\"order\":\"groq\"}", "{\"only\":[1]}",
                       "{\"allow_fallbacks\":\"no\"}", "{\"sort\":\"cheap\"}",
                       "{\"max_price\":5}", "{\"max_price\":{\"prompt\":-1}}",
                       "{\"require_parameters\":1}"};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    err = NULL;
    assert_int_equal(sb_prefs_parse(parse(&a, bad[i]), &p, &err), SB_ERROR);
    assert_non_null(err);
  }
  sb_arena_destroy(&a);
}

static void test_suffixes(void **state)
{
  (void)state;
  sb_prefs_t p;
  sb_prefs_init(&p);
  sb_slice_t m = SB_SLICE_LIT("meta-llama/llama-3.3-70b-instruct:nitro");
  sb_prefs_suffix(&m, &p);
  assert_slice_equal(m, "meta-llama/llama-3.3-70b-instruct");
  assert_int_equal(p.sort, SB_SORT_THROUGHPUT);
  sb_prefs_init(&p);
  m = SB_SLICE_LIT("x/y:floor");
  sb_prefs_suffix(&m, &p);
  assert_slice_equal(m, "x/y");
  assert_int_equal(p.sort, SB_SORT_PRICE);
  /* an explicit provider.sort wins; other suffixes stay */
  p.sort = SB_SORT_LATENCY;
  m = SB_SLICE_LIT("x/y:floor");
  sb_prefs_suffix(&m, &p);
  assert_int_equal(p.sort, SB_SORT_LATENCY);
  m = SB_SLICE_LIT("x/y:free");
  sb_prefs_suffix(&m, &p);
  assert_slice_equal(m, "x/y:free");
  m = SB_SLICE_LIT(":floor");
  sb_prefs_suffix(&m, &p);
  assert_slice_equal(m, ":floor");
}

static sb_provider_t provs[4];

static sb_candidate_t cand(unsigned prov, int64_t price, bool usable,
                           double lat, double tps)
{
  sb_candidate_t c;
  memset(&c, 0, sizeof(c));
  c.route.provider = &provs[prov];
  c.route.price.prompt = price;
  c.usable = usable;
  c.seeded = lat > 0;
  c.latency_ms = lat;
  c.tps = tps;
  c.order_rank = SB_PREFS_MAX;
  c.weight = 1;
  c.slot = prov;
  return c;
}

static void order_is(const sb_candidate_t *c, size_t n, const unsigned *want)
{
  for (size_t i = 0; i < n; i++)
    if (c[i].slot != want[i])
      fail_msg("position %zu: provider %zu, want %u", i, c[i].slot, want[i]);
}

static void test_sort(void **state)
{
  (void)state;
  sb_prefs_t p;
  sb_prefs_init(&p);
  sb_candidate_t c[4];
  /* default: cheapest first, open breakers last */
  c[0] = cand(0, 300, true, 10, 50);
  c[1] = cand(1, 100, false, 5, 90);
  c[2] = cand(2, 200, true, 50, 10);
  c[3] = cand(3, 100, true, 0, 0);
  sb_candidates_sort(c, 4, &p);
  order_is(c, 4, (unsigned[]){3, 2, 0, 1});
  /* latency: known latencies first, fastest first */
  p.sort = SB_SORT_LATENCY;
  sb_candidates_sort(c, 4, &p);
  order_is(c, 4, (unsigned[]){0, 2, 3, 1});
  /* throughput: fastest generation first */
  p.sort = SB_SORT_THROUGHPUT;
  sb_candidates_sort(c, 4, &p);
  order_is(c, 4, (unsigned[]){0, 2, 3, 1});
  /* order beats the sort; model rank beats everything */
  p.sort = SB_SORT_PRICE;
  for (int i = 0; i < 4; i++)
    if (c[i].slot == 0)
      c[i].order_rank = 0;
  sb_candidates_sort(c, 4, &p);
  order_is(c, 4, (unsigned[]){0, 3, 2, 1});
  c[0].model_rank = 1;
  sb_candidates_sort(c, 4, &p);
  order_is(c, 4, (unsigned[]){3, 2, 1, 0});
  /* equal price: higher weight first; stable otherwise */
  sb_prefs_init(&p);
  c[0] = cand(0, 100, true, 0, 0);
  c[1] = cand(1, 100, true, 0, 0);
  c[2] = cand(2, 100, true, 0, 0);
  c[2].weight = 5;
  sb_candidates_sort(c, 3, &p);
  order_is(c, 3, (unsigned[]){2, 0, 1});
}

/* Plans over the embedded catalog with groq, together and fireworks set
 * from the environment (no health table: every endpoint usable). */
typedef struct {
  sb_config_t cfg;
  sb_gateway_t gw;
  sb_catalog_t *cat;
} fixture_t;

static void open_gw(fixture_t *f)
{
  char err[256];
  const char *unset[] = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                         "OPENROUTER_API_KEY", "GEMINI_API_KEY",
                         "MISTRAL_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY",
                         "OLLAMA_HOST", "LLAMACPP_HOST", "VLLM_HOST",
                         "LMSTUDIO_HOST", "OPENAI_BASE_URL"};
  for (size_t i = 0; i < SB_ARRAY_LEN(unset); i++)
    unsetenv(unset[i]);
  setenv("GROQ_API_KEY", "g", 1);
  setenv("TOGETHER_API_KEY", "t", 1);
  setenv("FIREWORKS_API_KEY", "f", 1);
  memset(f, 0, sizeof(*f));
  if (sb_config_load(&f->cfg, NULL, NULL, err, sizeof(err)) != SB_OK)
    fail_msg("config: %s", err);
  f->gw.config = &f->cfg;
  if ((f->cat = sb_catalog_load(&f->cfg, err, sizeof(err))) == NULL)
    fail_msg("catalog: %s", err);
  f->gw.health = sb_health_new(&f->cfg, f->cat->n_endpoints);
  assert_non_null(f->gw.health);
}

static void close_gw(fixture_t *f)
{
  sb_health_free(f->gw.health);
  sb_catalog_release(f->cat);
  sb_config_free(&f->cfg);
}

static size_t plan(fixture_t *f, const char *const *ids, size_t n,
                   const sb_prefs_t *p, sb_candidate_t *out,
                   sb_route_status_t *why)
{
  sb_slice_t s[SB_MODELS_MAX];
  for (size_t i = 0; i < n; i++)
    s[i] = sb_slice_z(ids[i]);
  return sb_route_plan(&f->gw, f->cat, s, n, p, NULL, 1000000, out,
                       SB_PLAN_MAX, why);
}

static void providers_are(const sb_candidate_t *c, size_t n,
                          const char *const *want, size_t n_want)
{
  if (n != n_want)
    fail_msg("%zu candidates, want %zu", n, n_want);
  for (size_t i = 0; i < n; i++)
    if (strcmp(c[i].route.provider->name, want[i]) != 0)
      fail_msg("position %zu: %s, want %s", i, c[i].route.provider->name,
               want[i]);
}

static void test_plans(void **state)
{
  (void)state;
  fixture_t f;
  open_gw(&f);
  sb_candidate_t c[SB_PLAN_MAX];
  sb_route_status_t why;
  sb_prefs_t p;
  const char *llama[] = {"meta-llama/llama-3.3-70b-instruct"};
  sb_prefs_init(&p);
  size_t n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"groq", "together", "fireworks"}, 3);
  assert_slice_equal(c[1].route.upstream_model,
                     "meta-llama/Llama-3.3-70B-Instruct-Turbo");
  assert_slice_equal(c[0].route.model_id, "meta-llama/llama-3.3-70b-instruct");
  /* order, only, ignore */
  p.order[0] = SB_SLICE_LIT("fireworks");
  p.n_order = 1;
  n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"fireworks", "groq", "together"}, 3);
  p.allow_fallbacks = false;
  n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"fireworks"}, 1);
  sb_prefs_init(&p);
  p.only[0] = SB_SLICE_LIT("Together"); /* display names match too */
  p.only[1] = SB_SLICE_LIT("fireworks");
  p.n_only = 2;
  n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"together", "fireworks"}, 2);
  sb_prefs_init(&p);
  p.ignore[0] = SB_SLICE_LIT("groq");
  p.n_ignore = 1;
  n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"together", "fireworks"}, 2);
  /* max_price: 0.6 USD per million prompt tokens keeps groq only */
  sb_prefs_init(&p);
  p.has_max_prompt = true;
  p.max_prompt_pico = 600000;
  n = plan(&f, llama, 1, &p, c, &why);
  providers_are(c, n, (const char *[]){"groq"}, 1);
  p.max_prompt_pico = 1000;
  n = plan(&f, llama, 1, &p, c, &why);
  assert_int_equal(n, 0);
  assert_int_equal(why, SB_ROUTE_NO_PROVIDER);
  /* fallback models keep their order; unknown ids are skipped */
  sb_prefs_init(&p);
  const char *two[] = {"nobody/nothing", "qwen/qwen-2.5-72b-instruct",
                       "groq/some-new-model"};
  n = plan(&f, two, 3, &p, c, &why);
  providers_are(c, n, (const char *[]){"fireworks", "together", "groq"}, 3);
  assert_int_equal(why, SB_ROUTE_UNKNOWN_MODEL);
  assert_slice_equal(c[2].route.upstream_model, "some-new-model");
  assert_null(c[2].route.model);
  assert_int_equal(c[2].slot, sb_health_provider_slot(f.gw.health,
                                                      c[2].route.provider));
  /* an open breaker moves its endpoint last */
  int64_t now = 1000000;
  for (unsigned i = 0; i < f.cfg.breaker_failures; i++) {
    assert_true(sb_health_acquire(f.gw.health, c[0].slot, now));
    sb_health_report(f.gw.health, c[0].slot, false, now, 0, 0, 0);
  }
  n = plan(&f, two, 3, &p, c, &why);
  providers_are(c, n, (const char *[]){"together", "fireworks", "groq"}, 3);
  /* an unknown first model with nothing else: its status */
  n = plan(&f, two, 1, &p, c, &why);
  assert_int_equal(n, 0);
  assert_int_equal(why, SB_ROUTE_UNKNOWN_MODEL);
  close_gw(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prefs_parse),
      cmocka_unit_test(test_suffixes),
      cmocka_unit_test(test_sort),
      cmocka_unit_test(test_plans),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
