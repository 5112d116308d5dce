/* SPDX-License-Identifier: MIT */
/* switchboard serve / check / models: the commands that read a config. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "switchboard/api.h"
#include "switchboard/catalog_refresh.h"
#include "switchboard/cli.h"
#include "switchboard/gateway.h"
#include "switchboard/heap.h"
#include "switchboard/counters.h"
#include "switchboard/log.h"
#include "switchboard/store.h"

int sb_cli_parse_common(int argc, char **argv, const char *usage,
                        sb_cli_common_t *out)
{
  memset(out, 0, sizeof(*out));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc)
      out->config = argv[++i];
    else if (strncmp(a, "--config=", 9) == 0)
      out->config = a + 9;
    else if (strcmp(a, "--listen") == 0 && i + 1 < argc && strstr(usage, "--listen"))
      out->listen = argv[++i];
    else if (strncmp(a, "--listen=", 9) == 0 && strstr(usage, "--listen"))
      out->listen = a + 9;
    else if (strcmp(a, "--all") == 0 && strstr(usage, "--all"))
      out->all = true;
    else if (strcmp(a, "--refresh") == 0 && strstr(usage, "--refresh"))
      out->refresh = true;
    else {
      fprintf(stderr, "switchboard: unexpected argument '%s'\nusage: %s\n", a,
              usage);
      return -1;
    }
  }
  if (out->config == NULL) {
    const char *env = getenv("SWITCHBOARD_CONFIG");
    if (env != NULL && env[0] != '\0')
      out->config = env;
  }
  return 0;
}

int sb_cli_serve(int argc, char **argv)
{
  static const char usage[] = "switchboard serve [--config FILE] [--listen HOST:PORT]";
  sb_cli_common_t opt;
  sb_config_t cfg;
  sb_gateway_t gw;
  char err[512];
  if (sb_cli_parse_common(argc, argv, usage, &opt) != 0)
    return 2;
  if (sb_config_load(&cfg, opt.config, opt.listen, err, sizeof(err)) != SB_OK) {
    fprintf(stderr, "switchboard: %s\n", err);
    sb_config_free(&cfg);
    return 1;
  }
  int rc = 1;
  sigset_t signals;
  sb_listeners_t listeners;
  if (sb_server_listen(&cfg, &listeners) != SB_OK) {
    sb_config_free(&cfg);
    return 1;
  }
  if (cfg.n_providers == 0)
    sb_cli_find_local_servers(&cfg);
  if (cfg.n_providers == 0)
    SB_WARN("%s", SB_NO_PROVIDER_HINT);
  sb_heap_tune();
  sb_server_block_signals(&signals); /* before the ledger's thread starts */
  /* A write past a file-size limit (RLIMIT_FSIZE) then fails with EFBIG,
   * which the ledger handles like a full disk, instead of killing the
   * process. */
  signal(SIGXFSZ, SIG_IGN);
  /* the gateway, then the doors on it, then the workers serving them */
  if (sb_gateway_open(&gw, &cfg, err, sizeof(err)) != SB_OK ||
      sb_api_open(&gw, err, sizeof(err)) != SB_OK) {
    fprintf(stderr, "switchboard: %s\n", err);
    sb_server_listeners_close(&listeners);
  } else if (sb_server_run(&gw, &listeners, sb_api_handle) == SB_OK) {
    rc = 0;
  }
  sb_api_close(&gw);
  sb_gateway_close(&gw);
  sb_config_free(&cfg);
  if (rc == 0)
    SB_INFO("stopped");
  return rc;
}

static void print_provider(const sb_provider_t *p)
{
  printf("  %-12s format=%s base_url=%s keys=%zu", p->name, p->format,
         p->base_url, p->n_keys);
  if (p->n_keys > 0) {
    const char *k = p->keys[0];
    size_t n = strlen(k);
    printf(" (%.4s...%s)", k, n > 8 ? k + n - 4 : "");
  }
  printf("\n               timeouts: connect=%ums first_byte=%ums idle=%ums "
         "total=%ums\n",
         p->timeouts.connect_ms, p->timeouts.first_byte_ms, p->timeouts.idle_ms,
         p->timeouts.total_ms);
}

/* `check`'s line about the store: which one, and whether it answers.
 * False when it does not (a SQLite file not created yet is fine: the
 * first serve creates it). */
static bool check_store(const sb_config_t *cfg)
{
  char shown[256], what[256], err[512];
  sb_store_redact(cfg->database, shown, sizeof(shown));
  if (strncmp(cfg->database, "sqlite:", 7) == 0 &&
      access(cfg->database + 7, F_OK) != 0) {
    printf("database:  %s (SQLite; not created yet: the first serve creates "
           "it)\n", shown);
    return true;
  }
  sb_store_t *s = sb_store_open(cfg->database, SB_STORE_READER, NULL, err,
                                sizeof(err));
  bool ok = s != NULL &&
            s->ops->describe(s, what, sizeof(what), err, sizeof(err)) == SB_OK;
  sb_store_close(s);
  if (ok)
    printf("database:  %s (%s; reachable)\n", shown, what);
  else
    printf("database:  %s (NOT reachable: %s)\n", shown, err);
  return ok;
}

/* `check`'s line about the shared counters. False when Redis does not
 * answer. */
static bool check_redis(const sb_config_t *cfg)
{
  char shown[512], what[256], err[512];
  if (cfg->redis == NULL) {
    printf("redis:     none (budgets and rates are this instance's own)\n");
    return true;
  }
  sb_redis_url_redact(cfg->redis, shown, sizeof(shown));
  bool ok = sb_counters_probe(cfg->redis, what, sizeof(what), err,
                              sizeof(err)) == SB_OK;
  if (ok)
    printf("redis:     %s (%s; reachable; redis_down: %s)\n", shown, what,
           cfg->redis_down_local ? "local" : "deny");
  else
    printf("redis:     %s (NOT reachable: %s)\n", shown, err);
  return ok;
}

/* "2026-12-05T14:00:00Z" */
static void utc(int64_t t, char *out, size_t cap)
{
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The catalog as `serve` would start with it: the embedded one, the lists
 * stored in cfg's database (opened read-only unless `writable`) and the
 * config's entries. NULL with the reason printed. */
static sb_catalog_refresher_t *open_catalog(const sb_config_t *cfg,
                                            bool writable, sb_catalog_t **cat)
{
  char err[512];
  sb_catalog_store_t *store =
      sb_catalog_store_open(cfg->database, writable, err, sizeof(err));
  if (store == NULL) {
    if (writable) {
      fprintf(stderr, "switchboard: %s\n", err);
      return NULL;
    }
    fprintf(stderr, "switchboard: %s (the stored lists are left out)\n", err);
  }
  sb_catalog_refresher_t *r =
      sb_catalog_refresher_new(cfg, store, NULL, cat, err, sizeof(err));
  if (r == NULL)
    fprintf(stderr, "switchboard: config invalid: %s\n", err);
  return r;
}

/* Up to SB_CATALOG_DIFF_SHOW ids, comma-separated, "..." when more. */
static void print_ids(const char *const *ids, size_t n)
{
  for (size_t i = 0; i < n && i < SB_CATALOG_DIFF_SHOW; i++)
    printf("%s%s", i == 0 ? "" : ", ", ids[i]);
  if (n > SB_CATALOG_DIFF_SHOW)
    printf(", ...");
}

static void print_catalog_config(const sb_config_t *cfg,
                                 const sb_catalog_t *cat)
{
  const sb_catalog_config_t *c = &cfg->catalog;
  char url[512];
  sb_catalog_openrouter_url(cfg, url, sizeof(url));
  if (c->refresh_s > 0)
    printf("catalog:   refreshed every %us", c->refresh_s);
  else
    printf("catalog:   no background refresh (`switchboard models --refresh` "
           "updates the stored lists)");
  printf("; sources:");
  if (c->sources & SB_CATALOG_SRC_OPENROUTER)
    printf(" openrouter (%s)", url);
  if (c->sources & SB_CATALOG_SRC_PROVIDERS)
    printf(" providers");
  printf("; fetch timeout %ums\n", c->timeout_ms);
  for (size_t i = 0; i < cat->n_sources; i++) {
    char at[32];
    utc(cat->sources[i].fetched_at, at, sizeof(at));
    printf("           stored %s list of %s: %zu models\n",
           cat->sources[i].name, at, cat->sources[i].models);
  }
  if (cat->n_sources == 0)
    printf("           no stored list: the embedded catalog's prices\n");
}

int sb_cli_check(int argc, char **argv)
{
  static const char usage[] = "switchboard check [--config FILE]";
  sb_cli_common_t opt;
  sb_config_t cfg;
  sb_catalog_t *cat = NULL;
  char err[512];
  if (sb_cli_parse_common(argc, argv, usage, &opt) != 0)
    return 2;
  if (sb_config_load(&cfg, opt.config, NULL, err, sizeof(err)) != SB_OK) {
    fprintf(stderr, "switchboard: config invalid: %s\n", err);
    sb_config_free(&cfg);
    return 1;
  }
  sb_catalog_refresher_t *r = open_catalog(&cfg, false, &cat);
  if (r == NULL) {
    sb_config_free(&cfg);
    return 1;
  }
  size_t routable = 0;
  for (size_t i = 0; i < cat->n_models; i++)
    if (sb_model_default_endpoint(&cat->models[i]) != NULL)
      routable++;
  printf("config:    %s\n", cfg.source);
  printf("listen:    %s:%u\n", cfg.listen_host, cfg.listen_port);
  printf("workers:   %u\n", cfg.workers);
  bool reachable = check_store(&cfg);
  reachable &= check_redis(&cfg);
  printf("auth:      %s\n", cfg.admin_key ? "admin key required"
                                          : "local mode (no key; loopback only)");
  printf("limits:    body %zu bytes, headers %zu bytes, request timeout %ums, "
         "idle %ums\n",
         cfg.max_body_bytes, cfg.max_header_bytes, cfg.request_timeout_ms,
         cfg.idle_timeout_ms);
  printf("providers: %zu\n", cfg.n_providers);
  for (size_t i = 0; i < cfg.n_providers; i++)
    print_provider(&cfg.providers[i]);
  print_catalog_config(&cfg, cat);
  printf("models:    %zu in the catalog, %zu routable with these providers\n",
         cat->n_models, routable);
  sb_catalog_age_t age;
  sb_catalog_age(cat, (int64_t)time(NULL), 30 * 86400, &age);
  if (age.stale > 0) {
    printf("warning:   %zu routable models have prices older than 30 days (",
           age.stale);
    print_ids(age.stale_ids, age.stale);
    printf("): run `switchboard models --refresh` or set catalog.refresh\n");
  }
  if (age.unknown > 0) {
    printf("warning:   %zu routable models have no known price (", age.unknown);
    print_ids(age.unknown_ids, age.unknown);
    printf("): their cost is what the provider reports, and keys with a "
           "credit limit cannot use them\n");
  }
  if (cfg.n_providers == 0)
    printf("warning:   no providers: every chat request will fail\n");
  sb_catalog_release(cat);
  sb_catalog_refresher_free(r);
  sb_config_free(&cfg);
  if (!reachable) {
    printf("error:     the config is valid, but what it names does not "
           "answer: serve would not start\n");
    return 1;
  }
  printf("ok\n");
  return 0;
}

/* USD per token as USD per million tokens, for people. */
static void per_million(const sb_endpoint_t *ep, bool completion, char *buf,
                        size_t cap)
{
  int64_t pico = completion ? ep->price.completion : ep->price.prompt;
  char s[40];
  if (ep->price.unknown) {
    snprintf(buf, cap, "?");
    return;
  }
  sb_cost_format(pico * 1000000, s, sizeof(s));
  snprintf(buf, cap, "$%s", s);
}

/* `models --refresh`: fetch every source now, store, and say what changed. */
static int refresh_now(sb_catalog_refresher_t *r)
{
  sb_catalog_refresh_result_t res;
  sb_status_t rc = sb_catalog_refresh_once(r, &res);
  size_t n;
  const sb_catalog_source_status_t *src = sb_catalog_refresher_sources(r, &n);
  for (size_t i = 0; i < n; i++) {
    if (src[i].fetched) {
      printf("%-24s %zu models", src[i].name, src[i].st.kept);
      if (src[i].st.skipped > 0)
        printf(", %zu malformed entries left out (%s)", src[i].st.skipped,
               src[i].st.why);
      printf("\n");
    } else if (src[i].fetched_at > 0) {
      char at[32];
      utc(src[i].fetched_at, at, sizeof(at));
      printf("%-24s FAILED: %s (keeping the list of %s)\n", src[i].name,
             src[i].error, at);
    } else {
      printf("%-24s FAILED: %s\n", src[i].name, src[i].error);
    }
  }
  if (n == 0)
    printf("no source: catalog.sources names none that is configured\n");
  if (res.rebuilt) {
    printf("catalog: %zu models; %zu added", res.models, res.diff.added);
    if (res.diff.added > 0) {
      printf(" (");
      print_ids(res.diff.added_ids, res.diff.added);
      printf(")");
    }
    printf(", %zu removed", res.diff.removed);
    if (res.diff.removed > 0) {
      printf(" (");
      print_ids(res.diff.removed_ids, res.diff.removed);
      printf(")");
    }
    printf(", %zu with new prices", res.diff.repriced);
    if (res.diff.repriced > 0) {
      printf(" (");
      print_ids(res.diff.repriced_ids, res.diff.repriced);
      printf(")");
    }
    printf("\n");
  }
  return rc == SB_OK ? 0 : 1;
}

int sb_cli_models(int argc, char **argv)
{
  static const char usage[] =
      "switchboard models [--config FILE] [--all] [--refresh]";
  sb_cli_common_t opt;
  sb_config_t cfg;
  sb_catalog_t *cat = NULL;
  char err[512];
  if (sb_cli_parse_common(argc, argv, usage, &opt) != 0)
    return 2;
  if (sb_config_load(&cfg, opt.config, NULL, err, sizeof(err)) != SB_OK) {
    fprintf(stderr, "switchboard: %s\n", err);
    sb_config_free(&cfg);
    return 1;
  }
  sb_catalog_refresher_t *r = open_catalog(&cfg, opt.refresh, &cat);
  if (r == NULL) {
    sb_config_free(&cfg);
    return 1;
  }
  if (opt.refresh) {
    int rc = refresh_now(r);
    sb_catalog_release(cat);
    sb_catalog_refresher_free(r);
    sb_config_free(&cfg);
    return rc;
  }
  printf("%-40s %9s %10s %10s  %s\n", "MODEL", "CONTEXT", "IN $/M", "OUT $/M",
         "PROVIDERS (* = configured, first = default)");
  size_t shown = 0;
  for (size_t i = 0; i < cat->n_models; i++) {
    const sb_model_t *m = &cat->models[i];
    const sb_endpoint_t *def = sb_model_default_endpoint(m);
    if (def == NULL && !opt.all)
      continue;
    const sb_endpoint_t *ep = def != NULL ? def : &m->endpoints[0];
    char in[48], out[48], providers[256];
    size_t pn = 0;
    per_million(ep, false, in, sizeof(in));
    per_million(ep, true, out, sizeof(out));
    providers[0] = '\0';
    if (def != NULL)
      pn += (size_t)snprintf(providers, sizeof(providers), "%s*",
                             def->provider_name);
    for (size_t j = 0; j < m->n_endpoints && pn < sizeof(providers) - 1; j++) {
      const sb_endpoint_t *e = &m->endpoints[j];
      if (e == def)
        continue;
      pn += (size_t)snprintf(providers + pn, sizeof(providers) - pn, "%s%s%s",
                             pn > 0 ? ", " : "", e->provider_name,
                             e->provider != NULL ? "*" : "");
    }
    printf("%-40s %9u %10s %10s  %s\n", m->id, m->context_length, in, out,
           providers);
    shown++;
  }
  if (shown == 0)
    printf("(no model is routable: configure a provider, or use --all)\n");
  sb_catalog_release(cat);
  sb_catalog_refresher_free(r);
  sb_config_free(&cfg);
  return 0;
}
