/* The embedded catalog and routing: every entry is well formed, and model
 * ids resolve to the endpoint (or error) a user expects. */
#include "test_helpers.h"

#include "switchboard/catalog.h"
#include "switchboard/gateway.h"

static const char *const env_vars[] = {
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY",
    "GROQ_API_KEY", "TOGETHER_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY", "FIREWORKS_API_KEY", "XAI_API_KEY", "OLLAMA_HOST",
    "LLAMACPP_HOST", "VLLM_HOST", "LMSTUDIO_HOST", "OPENAI_BASE_URL"};

static void env_reset(void)
{
  for (size_t i = 0; i < SB_ARRAY_LEN(env_vars); i++)
    unsetenv(env_vars[i]);
}

typedef struct {
  sb_config_t cfg;
  sb_catalog_t *cat;
} fixture_t;

static void open_gw(fixture_t *f, const char *config_path)
{
  char err[256];
  memset(f, 0, sizeof(*f));
  if (sb_config_load(&f->cfg, config_path, NULL, err, sizeof(err)) != SB_OK)
    fail_msg("config: %s", err);
  if ((f->cat = sb_catalog_load(&f->cfg, err, sizeof(err))) == NULL)
    fail_msg("catalog: %s", err);
}

static void close_gw(fixture_t *f)
{
  sb_catalog_release(f->cat);
  sb_config_free(&f->cfg);
}

static void test_catalog_well_formed(void **state)
{
  (void)state;
  fixture_t f;
  env_reset();
  open_gw(&f, NULL);
  assert_true(f.cat->n_models >= 25);
  for (size_t i = 0; i < f.cat->n_models; i++) {
    const sb_model_t *m = &f.cat->models[i];
    assert_non_null(strchr(m->id, '/'));
    assert_true(m->context_length > 0);
    assert_true(m->n_endpoints > 0);
    for (size_t j = 0; j < m->n_endpoints; j++) {
      const sb_endpoint_t *e = &m->endpoints[j];
      assert_non_null(sb_known_provider(e->provider_name, strlen(e->provider_name)));
      /* embedding models have no output tokens, hence no completion price */
      bool embeds = strstr(m->id, "embedding") != NULL;
      if (e->price.prompt <= 0 || (e->price.completion <= 0 && !embeds))
        fail_msg("%s on %s has no price", m->id, e->provider_name);
      /* no provider is configured here */
      assert_null(e->provider);
    }
    assert_ptr_equal(sb_catalog_find(f.cat, sb_slice_z(m->id)), m);
  }
  assert_null(sb_catalog_find(f.cat, SB_SLICE_LIT("openai/gpt-4o-mini ")));
  close_gw(&f);
}

static void test_routes(void **state)
{
  (void)state;
  fixture_t f;
  sb_route_t r;
  env_reset();
  setenv("OPENAI_API_KEY", "sk", 1);
  setenv("GROQ_API_KEY", "gk", 1);
  setenv("TOGETHER_API_KEY", "tk", 1);
  open_gw(&f, NULL);

  /* a catalog id */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("openai/gpt-4o-mini"), &r),
                   SB_ROUTE_OK);
  assert_slice_equal(r.upstream_model, "gpt-4o-mini");
  assert_slice_equal(r.model_id, "openai/gpt-4o-mini");
  assert_string_equal(r.provider->name, "openai");
  assert_int_equal(r.price.prompt, 150000);
  /* the cheapest configured endpoint of a model served by several */
  assert_int_equal(
      sb_route(f.cat, SB_SLICE_LIT("meta-llama/llama-3.1-70b-instruct"), &r),
      SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "groq");
  assert_slice_equal(r.upstream_model, "llama-3.1-70b-versatile");
  /* a bare slug that is unique */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("gpt-4o-mini"), &r), SB_ROUTE_OK);
  assert_slice_equal(r.model_id, "openai/gpt-4o-mini");
  /* pass-through: prefix names a configured provider */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("openai/gpt-9-preview"), &r),
                   SB_ROUTE_OK);
  assert_slice_equal(r.upstream_model, "gpt-9-preview");
  assert_slice_equal(r.model_id, "openai/gpt-9-preview");
  assert_int_equal(r.price.prompt, 0);
  assert_null(r.model);
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("groq/llama-x/with/slashes"), &r),
                   SB_ROUTE_OK);
  assert_slice_equal(r.upstream_model, "llama-x/with/slashes");
  /* known model, no configured provider for it */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("anthropic/claude-3.5-haiku"), &r),
                   SB_ROUTE_NO_PROVIDER);
  /* unknown everything */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("nobody/model"), &r),
                   SB_ROUTE_UNKNOWN_MODEL);
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("no-slash-unknown"), &r),
                   SB_ROUTE_UNKNOWN_MODEL);
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("openai/"), &r),
                   SB_ROUTE_UNKNOWN_MODEL);
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("/x"), &r),
                   SB_ROUTE_UNKNOWN_MODEL);
  close_gw(&f);
  env_reset();
}

static void test_openrouter_serves_everything(void **state)
{
  (void)state;
  fixture_t f;
  sb_route_t r;
  env_reset();
  setenv("OPENROUTER_API_KEY", "or", 1);
  setenv("OPENAI_API_KEY", "sk", 1);
  open_gw(&f, NULL);
  /* the direct provider wins over the implicit OpenRouter route */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("openai/gpt-4o"), &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openai");
  /* without a direct provider, OpenRouter with the full id */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("anthropic/claude-3.5-haiku"), &r),
                   SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openrouter");
  assert_slice_equal(r.upstream_model, "anthropic/claude-3.5-haiku");
  assert_int_equal(r.price.prompt, 800000);
  /* and models the catalog does not know */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("cohere/command-r-plus"), &r),
                   SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openrouter");
  assert_slice_equal(r.upstream_model, "cohere/command-r-plus");
  close_gw(&f);
  env_reset();
}

static void test_config_models(void **state)
{
  (void)state;
  fixture_t f;
  sb_route_t r;
  env_reset();
  setenv("SB_TEST_OPENAI", "sk", 1);
  open_gw(&f, "tests/fixtures/config/full.yaml");
  /* a config entry replaces the catalog's entry of the same id: only groq
   * and together here, and together is not configured */
  const sb_model_t *m = sb_catalog_find(
      f.cat, SB_SLICE_LIT("meta-llama/llama-3.1-70b-instruct"));
  assert_non_null(m);
  assert_int_equal(m->n_endpoints, 3); /* groq, together, implicit openrouter */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("meta-llama/llama-3.1-70b-instruct"),
                            &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "groq");
  assert_int_equal(r.price.completion, 790000);
  /* a new model on a local provider, priced at zero */
  assert_int_equal(sb_route(f.cat, SB_SLICE_LIT("acme/house-model"), &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "local");
  assert_slice_equal(r.upstream_model, "house:latest");
  assert_string_equal(r.model->name, "Acme: House Model");
  close_gw(&f);
  unsetenv("SB_TEST_OPENAI");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalog_well_formed),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_openrouter_serves_everything),
      cmocka_unit_test(test_config_models),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
