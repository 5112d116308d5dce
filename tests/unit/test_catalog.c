/* SPDX-License-Identifier: MIT */
/* The embedded catalog and routing: every entry is well formed, and model
 * ids resolve to the endpoint (or error) a user expects; the precedence of
 * a catalog's layers (config > refreshed lists > embedded), and catalogs
 * swapped while threads route with them. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test_helpers.h"

#include "switchboard/catalog.h"
#include "switchboard/catalog_refresh.h"
#include "switchboard/catalog_store.h"
#include "switchboard/gateway.h"
#include "switchboard/health.h"

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


/* ---- refreshed lists: the precedence of the layers ------------------------ */

/* A config with openai, openrouter, groq and gemini, and `models`, loaded
 * from a file that stays until config_close (its time dates the config's
 * prices). */
typedef struct {
  sb_config_t cfg;
  char path[32];
} config_file_t;

static void config_open(config_file_t *c, const char *models)
{
  char err[256];
  snprintf(c->path, sizeof(c->path), "/tmp/sb-catalog-XXXXXX");
  int fd = mkstemp(c->path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  assert_non_null(f);
  fprintf(f,
          "providers:\n"
          "  openai:     { format: openai, base_url: http://127.0.0.1:9/v1, api_key: sk }\n"
          "  openrouter: { format: openai, base_url: http://127.0.0.1:9/api/v1, api_key: or }\n"
          "  groq:       { format: openai, base_url: http://127.0.0.1:9/groq, api_key: gk }\n"
          "  gemini:     { format: gemini, base_url: http://127.0.0.1:9, api_key: gm }\n"
          "  anthropic:  { format: anthropic, base_url: http://127.0.0.1:9, api_key: ak }\n"
          "%s",
          models);
  fclose(f);
  env_reset();
  if (sb_config_load(&c->cfg, c->path, NULL, err, sizeof(err)) != SB_OK)
    fail_msg("config: %s", err);
}

static void config_close(config_file_t *c)
{
  sb_config_free(&c->cfg);
  unlink(c->path);
}

#define T0 1796000000 /* when the lists below were fetched */

static const char openrouter_list[] =
    "{\"data\":["
    /* a first-party model with a new price: its direct endpoint too */
    "{\"id\":\"openai/gpt-4.1\",\"name\":\"OpenAI: GPT-4.1 (refreshed)\","
    "\"context_length\":1000000,\"pricing\":{\"prompt\":\"0.0000021\","
    "\"completion\":\"0.0000084\"}},"
    /* a third-party host's model: only OpenRouter's endpoint */
    "{\"id\":\"meta-llama/llama-3.3-70b-instruct\",\"pricing\":{\"prompt\":"
    "\"0.0000001\",\"completion\":\"0.0000002\"}},"
    /* the config replaces this one */
    "{\"id\":\"openai/gpt-4o\",\"pricing\":{\"prompt\":\"0.000001\","
    "\"completion\":\"0.000001\"}},"
    /* new models: one the openai list serves, one only OpenRouter has */
    "{\"id\":\"openai/gpt-5-new\",\"context_length\":400000,\"pricing\":"
    "{\"prompt\":\"0.000004\",\"completion\":\"0.00003\"}},"
    "{\"id\":\"newlab/new-model\",\"name\":\"Newlab: New\",\"pricing\":"
    "{\"prompt\":\"0.0000005\",\"completion\":\"0.0000015\"}},"
    "{\"id\":\"openrouter/auto\",\"pricing\":{\"prompt\":\"-1\",\"completion\":"
    "\"-1\"}},"
    /* Anthropic names its models with a release date */
    "{\"id\":\"anthropic/claude-new-4.5\",\"pricing\":{\"prompt\":\"0.000002\","
    "\"completion\":\"0.00001\"}},"
    /* a second entry with an id already listed is ignored */
    "{\"id\":\"newlab/new-model\",\"pricing\":{\"prompt\":\"9\",\"completion\":"
    "\"9\"}}]}";

/* What the providers' own lists say they serve. */
static const char openai_list[] =
    "{\"data\":[{\"id\":\"gpt-4.1\"},{\"id\":\"gpt-4o\"},{\"id\":\"gpt-5-new\"},"
    "{\"id\":\"gpt-4.1-mini\"}]}";
static const char anthropic_list[] =
    "{\"data\":[{\"id\":\"claude-new-4-5-20250101\"},{\"id\":"
    "\"claude-new-4-5-20260101\"},{\"id\":\"claude-sonnet-4-20250514\"}]}";
static const char groq_list[] =
    "{\"data\":[{\"id\":\"llama-3.3-70b-versatile\"},{\"id\":\"groq-new\"},"
    "{\"id\":\"groq-priced\",\"pricing\":{\"prompt\":\"0.0000003\","
    "\"completion\":\"0.0000004\"}}]}";

static const sb_catalog_source_t refreshed[] = {
    {"provider:openai", T0 + 1, SB_SLICE_LIT(openai_list)},
    {"openrouter", T0, SB_SLICE_LIT(openrouter_list)},
    {"provider:groq", T0 + 2, SB_SLICE_LIT(groq_list)},
    {"provider:anthropic", T0, SB_SLICE_LIT(anthropic_list)},
    {"provider:nobody", T0, SB_SLICE_LIT("{\"data\":[{\"id\":\"x\"}]}")},
    {"provider:gemini", T0, SB_SLICE_LIT("{\"data\": not json")},
};

static const sb_endpoint_t *endpoint_of(const sb_model_t *m, const char *provider)
{
  for (size_t i = 0; i < m->n_endpoints; i++)
    if (strcmp(m->endpoints[i].provider_name, provider) == 0)
      return &m->endpoints[i];
  return NULL;
}

static const sb_model_t *model(const sb_catalog_t *cat, const char *id)
{
  const sb_model_t *m = sb_catalog_find(cat, sb_slice_z(id));
  if (m == NULL)
    fail_msg("%s is not in the catalog", id);
  return m;
}

static void test_refreshed_precedence(void **state)
{
  (void)state;
  char err[256];
  config_file_t cf;
  config_open(&cf,
              "models:\n"
              "  - id: openai/gpt-4o\n"
              "    endpoints: [{ provider: openai, model: gpt-4o, pricing: "
              "{ prompt: \"0.000009\", completion: \"0.00009\" } }]\n");
  const sb_config_t *cfg = &cf.cfg;
  sb_catalog_t *cat = sb_catalog_build(cfg, refreshed, SB_ARRAY_LEN(refreshed),
                                       NULL, err, sizeof(err));
  if (cat == NULL)
    fail_msg("build: %s", err);
  const sb_model_t *m;
  const sb_endpoint_t *e;
  sb_route_t r;

  /* the lists it was built from; the unconfigured provider's and the
   * broken one are left out */
  assert_int_equal(cat->n_sources, 5);
  assert_string_equal(cat->sources[0].name, "openrouter");
  assert_int_equal(cat->sources[0].models, 7);
  assert_int_equal(cat->sources[0].fetched_at, T0);

  /* refreshed > embedded: OpenRouter's name, context and price; the
   * model's own author's direct endpoint gets OpenRouter's price too */
  m = model(cat, "openai/gpt-4.1");
  assert_string_equal(m->name, "OpenAI: GPT-4.1 (refreshed)");
  assert_int_equal(m->context_length, 1000000);
  e = endpoint_of(m, "openai");
  assert_int_equal(e->price.prompt, 2100000);
  assert_int_equal(e->price.completion, 8400000);
  assert_string_equal(e->pricing_source, "openrouter");
  assert_int_equal(e->pricing_updated_at, T0);
  e = endpoint_of(m, "openrouter");
  assert_true(e->implicit);
  assert_int_equal(e->price.prompt, 2100000);
  assert_string_equal(e->pricing_source, "openrouter");
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("openai/gpt-4.1"), &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openai");
  assert_int_equal(r.price.prompt, 2100000);

  /* a third party's price stays its own; OpenRouter's goes to OpenRouter */
  m = model(cat, "meta-llama/llama-3.3-70b-instruct");
  e = endpoint_of(m, "groq");
  assert_int_equal(e->price.prompt, 590000);
  assert_string_equal(e->pricing_source, "embedded");
  assert_int_equal(e->pricing_updated_at, cat->embedded_at);
  assert_true(cat->embedded_at > 0);
  assert_int_equal(endpoint_of(m, "openrouter")->price.prompt, 100000);
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("meta-llama/llama-3.3-70b-instruct"),
                            &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "groq"); /* direct before OpenRouter */

  /* config > everything: its price, its source, no OpenRouter price */
  m = model(cat, "openai/gpt-4o");
  assert_string_equal(m->source, "config");
  e = endpoint_of(m, "openai");
  assert_int_equal(e->price.prompt, 9000000);
  assert_string_equal(e->pricing_source, "config");
  assert_true(e->pricing_updated_at > 0); /* the file's time */
  assert_int_equal(endpoint_of(m, "openrouter")->price.prompt, 9000000);

  /* a new model the author's own list serves: routable directly */
  m = model(cat, "openai/gpt-5-new");
  assert_string_equal(m->source, "openrouter");
  e = endpoint_of(m, "openai");
  assert_non_null(e);
  assert_string_equal(e->upstream_model, "gpt-5-new");
  assert_int_equal(e->price.completion, 30000000);
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("openai/gpt-5-new"), &r), SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openai");

  /* OpenRouter's slug matched to the provider's own name: the newest
   * release of its family; the older one is the provider's own model */
  m = model(cat, "anthropic/claude-new-4.5");
  e = endpoint_of(m, "anthropic");
  assert_non_null(e);
  assert_string_equal(e->upstream_model, "claude-new-4-5-20260101");
  assert_int_equal(e->price.completion, 10000000);
  assert_string_equal(e->pricing_source, "openrouter");
  assert_true(endpoint_of(model(cat, "anthropic/claude-new-4-5-20250101"),
                          "anthropic")->price.unknown);
  assert_non_null(endpoint_of(model(cat, "anthropic/claude-sonnet-4"),
                              "anthropic"));
  assert_null(sb_catalog_find(cat, SB_SLICE_LIT("anthropic/claude-3.5-haiku")));

  /* a new model only OpenRouter has: through OpenRouter, under its id */
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("newlab/new-model"), &r),
                   SB_ROUTE_OK);
  assert_string_equal(r.provider->name, "openrouter");
  assert_slice_equal(r.upstream_model, "newlab/new-model");
  assert_int_equal(r.price.prompt, 500000); /* the first entry, not the dup */
  assert_string_equal(r.model->name, "Newlab: New");

  /* "-1": routable, price unknown */
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("openrouter/auto"), &r), SB_ROUTE_OK);
  assert_true(r.price.unknown);

  /* availability: an endpoint whose provider no longer lists its model is
   * dropped; so is OpenRouter's route to a model its list lacks; a model
   * left with no endpoint is gone (its id passes through, price unknown) */
  assert_null(endpoint_of(model(cat, "meta-llama/llama-3.1-8b-instruct"), "groq"));
  m = model(cat, "openai/gpt-4.1-mini");
  assert_non_null(endpoint_of(m, "openai"));
  assert_null(endpoint_of(m, "openrouter"));
  assert_null(sb_catalog_find(cat, SB_SLICE_LIT("openai/gpt-4o-mini")));
  assert_int_equal(sb_route(cat, SB_SLICE_LIT("openai/gpt-4o-mini"), &r),
                   SB_ROUTE_OK);
  assert_null(r.model);
  assert_true(r.price.unknown);

  /* models only a provider lists: PROVIDER/name, price unknown unless the
   * list has one */
  m = model(cat, "groq/groq-new");
  assert_string_equal(m->source, "provider:groq");
  e = endpoint_of(m, "groq");
  assert_true(e->price.unknown);
  assert_string_equal(e->pricing_source, "provider:groq");
  assert_int_equal(e->pricing_updated_at, T0 + 2);
  assert_null(endpoint_of(m, "openrouter"));
  e = endpoint_of(model(cat, "groq/groq-priced"), "groq");
  assert_false(e->price.unknown);
  assert_int_equal(e->price.prompt, 300000);
  assert_string_equal(e->pricing_source, "provider:groq");

  /* the lists of a provider that is not configured, or that do not parse,
   * change nothing */
  assert_null(sb_catalog_find(cat, SB_SLICE_LIT("nobody/x")));
  assert_non_null(endpoint_of(model(cat, "google/gemini-2.5-flash"), "gemini"));

  /* what changed from the embedded catalog */
  sb_catalog_t *before = sb_catalog_load(cfg, err, sizeof(err));
  assert_non_null(before);
  sb_catalog_diff_t d;
  sb_catalog_diff(before, cat, &d);
  /* gpt-5-new, newlab, auto, claude-new-4.5, 2 groq, 1 anthropic */
  assert_int_equal(d.added, 7);
  assert_true(d.removed > 5);    /* gpt-4o-mini and every model neither
                                    OpenRouter nor its provider lists */
  bool found = false;
  for (size_t i = 0; i < d.repriced && i < SB_CATALOG_DIFF_SHOW; i++)
    found |= strcmp(d.repriced_ids[i], "openai/gpt-4.1") == 0;
  assert_true(found);
  size_t removed = d.removed;
  sb_catalog_diff(cat, before, &d);
  assert_int_equal(d.removed, 7);
  assert_int_equal(d.added, removed);

  /* prices worth a warning: a month on, every routable model with a
   * known price is stale; unknown ones are counted apart */
  sb_catalog_age_t age;
  sb_catalog_age(cat, T0 + 10, 30 * 86400, &age);
  assert_int_equal(age.stale, 0);
  /* openrouter/auto, groq/groq-new, anthropic/claude-new-4-5-20250101 */
  assert_int_equal(age.unknown, 3);
  /* 31 days after the embedded prices: those are stale, OpenRouter's
   * (fetched later) are not */
  sb_catalog_age(cat, cat->embedded_at + 31 * 86400, 30 * 86400, &age);
  assert_true(age.stale >= 3);
  bool mini = false;
  for (size_t i = 0; i < age.stale && i < SB_CATALOG_DIFF_SHOW; i++) {
    mini |= strcmp(age.stale_ids[i], "openai/gpt-4.1-mini") == 0;
    assert_string_not_equal(age.stale_ids[i], "openai/gpt-4.1");
  }
  assert_true(mini);

  sb_catalog_release(before);
  sb_catalog_release(cat);
  config_close(&cf);
}

/* Catalogs built for one gateway share health slots by model and
 * provider: a refresh keeps every breaker and average. */
static void test_health_slots_survive_refresh(void **state)
{
  (void)state;
  char err[256];
  config_file_t cf;
  config_open(&cf, "");
  const sb_config_t *cfg = &cf.cfg;
  sb_health_t *h = sb_health_new(cfg, 0);
  assert_non_null(h);
  sb_catalog_t *a = sb_catalog_build(cfg, NULL, 0, h, err, sizeof(err));
  sb_catalog_t *b = sb_catalog_build(cfg, refreshed, SB_ARRAY_LEN(refreshed),
                                     h, err, sizeof(err));
  assert_non_null(a);
  assert_non_null(b);
  const sb_endpoint_t *ea = endpoint_of(model(a, "openai/gpt-4.1"), "openai");
  const sb_endpoint_t *eb = endpoint_of(model(b, "openai/gpt-4.1"), "openai");
  assert_int_equal(ea->slot, eb->slot);
  /* a breaker opened through one catalog is open in the other */
  for (int i = 0; i < 5; i++)
    sb_health_report(h, ea->slot, false, 1000, 0, 0, 0);
  sb_health_view_t v;
  sb_health_view(h, eb->slot, 1000, &v);
  assert_int_equal(v.state, SB_BREAKER_OPEN);
  /* new endpoints get slots of their own, distinct from every other */
  const sb_endpoint_t *n = endpoint_of(model(b, "newlab/new-model"), "openrouter");
  assert_true(n->slot >= a->n_endpoints);
  assert_true(n->slot < atomic_load(&h->n_slots));
  for (size_t i = 0; i < cfg->n_providers; i++)
    assert_int_not_equal(n->slot, sb_health_provider_slot(h, &cfg->providers[i]));
  sb_catalog_release(a);
  sb_catalog_release(b);
  sb_health_free(h);
  config_close(&cf);
}

/* ---- catalogs swapped while threads route -------------------------------- */

#define SWAPS 40

typedef struct {
  sb_snap_cell_t *cell;
  atomic_bool *done;
  uint64_t routes, bad;
} router_arg_t;

/* Each catalog prices lab/a and lab/b the same (its generation): a request
 * that saw two different prices saw two catalogs, or a broken one. */
static void *router_main(void *arg)
{
  router_arg_t *a = arg;
  sb_snap_reader_t reader = {NULL};
  int64_t last = 0;
  while (!atomic_load(a->done) || a->routes < 2000) {
    const sb_catalog_t *cat =
        SB_CONTAINER_OF(sb_snap_acquire(a->cell, &reader), sb_catalog_t, snap);
    sb_route_t ra, rb;
    if (sb_route(cat, SB_SLICE_LIT("lab/a"), &ra) != SB_ROUTE_OK ||
        sb_route(cat, SB_SLICE_LIT("lab/b"), &rb) != SB_ROUTE_OK ||
        ra.price.prompt != rb.price.prompt || ra.price.prompt < last ||
        sb_catalog_find(cat, SB_SLICE_LIT("openai/gpt-4o")) == NULL)
      a->bad++;
    last = ra.price.prompt;
    sb_catalog_release(cat);
    a->routes++;
  }
  sb_snap_reader_drop(&reader);
  return NULL;
}

/* Catalog number `gen`: lab/a and lab/b at gen picodollars a token. */
static sb_catalog_t *generation(const sb_config_t *cfg, sb_health_t *h, int gen)
{
  char body[512], err[256];
  snprintf(body, sizeof(body),
           "{\"data\":[{\"id\":\"lab/a\",\"pricing\":{\"prompt\":\"0.%012d\","
           "\"completion\":\"0\"}},{\"id\":\"lab/b\",\"pricing\":{\"prompt\":"
           "\"0.%012d\",\"completion\":\"0\"}}]}", gen, gen);
  sb_catalog_source_t src = {"openrouter", T0 + gen, sb_slice_z(body)};
  sb_catalog_t *cat = sb_catalog_build(cfg, &src, 1, h, err, sizeof(err));
  if (cat == NULL)
    fail_msg("build: %s", err);
  return cat;
}

static void test_swap_while_routing(void **state)
{
  (void)state;
  config_file_t cf;
  config_open(&cf, "");
  const sb_config_t *cfg = &cf.cfg;
  sb_health_t *h = sb_health_new(cfg, 0);
  sb_snap_cell_t cell;
  atomic_bool done;
  atomic_init(&done, false);
  sb_snap_cell_init(&cell, &generation(cfg, h, 1)->snap);
  router_arg_t ra[2];
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    ra[i] = (router_arg_t){&cell, &done, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, router_main, &ra[i]), 0);
  }
  for (int gen = 2; gen <= SWAPS + 1; gen++)
    sb_snap_publish(&cell, &generation(cfg, h, gen)->snap);
  atomic_store(&done, true);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    assert_true(ra[i].routes >= 2000);
    if (ra[i].bad != 0)
      fail_msg("router %d: %llu inconsistent lookups", i,
               (unsigned long long)ra[i].bad);
  }
  const sb_catalog_t *last = SB_CONTAINER_OF(sb_snap_acquire(&cell, NULL),
                                             sb_catalog_t, snap);
  sb_route_t r;
  assert_int_equal(sb_route(last, SB_SLICE_LIT("lab/a"), &r), SB_ROUTE_OK);
  assert_int_equal(r.price.prompt, SWAPS + 1);
  sb_catalog_release(last);
  sb_snap_cell_destroy(&cell);
  sb_health_free(h);
  config_close(&cf);
}

/* ---- a reloaded config --------------------------------------------------- */

/* A shared config (a reload's) from `text`, in a file removed at once. */
static sb_config_t *shared_config(const char *text, char *err, size_t errlen)
{
  char path[] = "/tmp/sb-reload-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  sb_config_t *cfg = sb_config_load_new(path, NULL, err, errlen);
  unlink(path);
  return cfg;
}

static const sb_catalog_t *current(sb_snap_cell_t *cell)
{
  return SB_CONTAINER_OF(sb_snap_acquire(cell, NULL), sb_catalog_t, snap);
}

/* The refresher takes a reloaded config: the catalog it publishes is built
 * from it (and holds it), a catalog taken before keeps the old config and
 * routes as before; a config whose catalog cannot be built changes
 * nothing; each config lives exactly as long as its last catalog. */
static void test_reload_reconfigure(void **state)
{
  (void)state;
  char err[256];
  config_file_t cf;
  config_open(&cf, "");
  sb_health_t *h = sb_health_new(&cf.cfg, 0);
  sb_catalog_t *first = NULL;
  sb_catalog_refresher_t *r =
      sb_catalog_refresher_new(&cf.cfg, NULL, h, &first, err, sizeof(err));
  if (r == NULL)
    fail_msg("refresher: %s", err);
  sb_snap_cell_t cell;
  sb_snap_cell_init(&cell, &first->snap);
  assert_int_equal(sb_catalog_refresher_start(r, &cell), SB_OK);
  const sb_catalog_t *before = current(&cell);
  sb_route_t rt;
  /* lab/new: at most openrouter's (it serves every id), never lab's */
  assert_true(sb_route(before, SB_SLICE_LIT("lab/new"), &rt) != SB_ROUTE_OK ||
              strcmp(rt.provider->name, "openrouter") == 0);

  /* a new provider and a model on it */
  sb_config_t *next = shared_config(
      "providers:\n"
      "  openai: { format: openai, base_url: http://127.0.0.1:9/v1, api_key: sk2 }\n"
      "  lab:    { format: openai, base_url: http://127.0.0.1:9/lab }\n"
      "health: { breaker_failures: 9 }\n"
      "models:\n"
      "  - id: lab/new\n"
      "    endpoints: [{ provider: lab, model: new, pricing: "
      "{ prompt: \"0.000001\", completion: \"0.000002\" } }]\n",
      err, sizeof(err));
  if (next == NULL)
    fail_msg("config: %s", err);
  assert_int_equal(sb_health_attach(h, next), SB_OK);
  assert_int_equal(atomic_load(&h->threshold), 9);
  assert_int_equal(sb_catalog_refresher_reconfigure(r, next, err, sizeof(err)),
                   SB_OK);
  const sb_catalog_t *after = current(&cell);
  assert_ptr_equal(after->config, next);
  assert_int_equal(sb_route(after, SB_SLICE_LIT("lab/new"), &rt), SB_ROUTE_OK);
  assert_string_equal(rt.provider->name, "lab");
  assert_int_equal(rt.price.completion, 2000000);
  /* the openai provider kept its slot: the same breaker */
  const sb_provider_t *o1 = sb_config_provider(&cf.cfg, SB_SLICE_LIT("openai"));
  const sb_provider_t *o2 = sb_config_provider(next, SB_SLICE_LIT("openai"));
  assert_int_equal(sb_health_provider_slot(h, o1),
                   sb_health_provider_slot(h, o2));
  /* a request that took the old catalog still routes with the old config */
  assert_ptr_equal(before->config, &cf.cfg);
  assert_true(sb_route(before, SB_SLICE_LIT("lab/new"), &rt) != SB_ROUTE_OK ||
              strcmp(rt.provider->name, "openrouter") == 0);
  assert_int_equal(sb_route(before, SB_SLICE_LIT("groq/llama-3.1-8b-instant"),
                            &rt), SB_ROUTE_OK);
  assert_int_not_equal(sb_route(after,
                                SB_SLICE_LIT("groq/llama-3.1-8b-instant"), &rt),
                       SB_ROUTE_OK); /* groq is gone */
  sb_catalog_release(before);

  /* a model whose price is not a number: refused, nothing changes */
  sb_config_t *bad = shared_config(
      "providers:\n"
      "  openai: { format: openai, base_url: http://127.0.0.1:9/v1, api_key: sk }\n"
      "models:\n"
      "  - id: lab/other\n"
      "    endpoints: [{ provider: openai, model: other, pricing: "
      "{ prompt: \"cheap\", completion: \"0\" } }]\n",
      err, sizeof(err));
  if (bad == NULL)
    fail_msg("config: %s", err);
  assert_int_equal(sb_health_attach(h, bad), SB_OK);
  err[0] = '\0';
  assert_int_equal(sb_catalog_refresher_reconfigure(r, bad, err, sizeof(err)),
                   SB_ERROR);
  assert_non_null(strstr(err, "lab/other"));
  sb_health_detach(h, bad);
  assert_null(bad->providers[0].run);
  sb_config_unref(bad);
  const sb_catalog_t *still = current(&cell);
  assert_ptr_equal(still, after);
  sb_catalog_release(still);

  /* references: the caller's, the refresher's, and the published catalog's */
  assert_int_equal(atomic_load(&next->shared->refs), 3);
  sb_catalog_release(after);
  sb_config_unref(next); /* the caller's */
  sb_catalog_refresher_free(r);
  /* the cell's catalog is the last to hold it */
  assert_int_equal(atomic_load(&next->shared->refs), 1);
  sb_snap_cell_destroy(&cell);
  sb_health_free(h);
  config_close(&cf);
}

/* ---- the store --------------------------------------------------------------- */

static void test_store(void **state)
{
  (void)state;
  char dir[] = "/tmp/sb-store-XXXXXX", db[300], err[256];
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof(db), "sqlite:%s/ledger.db", dir);
  sb_buf_t body;
  int64_t at = 0;
  sb_buf_init(&body, 1 << 20);

  /* read-only, before anything was stored: empty, and no file made */
  sb_catalog_store_t *s = sb_catalog_store_open(db, false, err, sizeof(err));
  assert_non_null(s);
  assert_int_equal(s->ops->load(s, "openrouter", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  sb_catalog_store_close(s);
  assert_int_not_equal(access(db + 7, F_OK), 0);

  s = sb_catalog_store_open(db, true, err, sizeof(err));
  assert_non_null(s);
  assert_int_equal(s->ops->load(s, "openrouter", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  assert_int_equal(s->ops->save(s, "openrouter", 111, SB_SLICE_LIT("{\"data\":[1]}"),
                                err, sizeof(err)), SB_OK);
  assert_int_equal(s->ops->save(s, "provider:groq", 222, SB_SLICE_LIT("{}"), err,
                                sizeof(err)), SB_OK);
  /* a save replaces */
  assert_int_equal(s->ops->save(s, "openrouter", 333, SB_SLICE_LIT("{\"data\":[2]}"),
                                err, sizeof(err)), SB_OK);
  sb_catalog_store_close(s);

  /* another connection (a restart) reads what was stored */
  s = sb_catalog_store_open(db, false, err, sizeof(err));
  assert_non_null(s);
  assert_int_equal(s->ops->load(s, "openrouter", &body, &at, err, sizeof(err)), SB_OK);
  assert_int_equal(at, 333);
  assert_slice_equal(sb_buf_slice(&body), "{\"data\":[2]}");
  sb_buf_reset(&body);
  assert_int_equal(s->ops->load(s, "provider:groq", &body, &at, err, sizeof(err)),
                   SB_OK);
  assert_int_equal(at, 222);
  assert_int_equal(s->ops->load(s, "provider:x", &body, &at, err, sizeof(err)),
                   SB_DECLINED);
  assert_int_equal(s->ops->save(s, "openrouter", 1, SB_SLICE_LIT("{}"), err,
                                sizeof(err)), SB_ERROR); /* read-only */
  sb_catalog_store_close(s);

  /* neither store: refused, and why (Postgres: test_store_pg.c) */
  assert_null(sb_catalog_store_open("mysql://x", true, err, sizeof(err)));
  assert_non_null(strstr(err, "sqlite:PATH or postgres://"));
  sb_buf_free(&body);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalog_well_formed),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_openrouter_serves_everything),
      cmocka_unit_test(test_config_models),
      cmocka_unit_test(test_refreshed_precedence),
      cmocka_unit_test(test_health_slots_survive_refresh),
      cmocka_unit_test(test_swap_while_routing),
      cmocka_unit_test(test_store),
      cmocka_unit_test(test_reload_reconfigure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
