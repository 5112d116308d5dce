/* SPDX-License-Identifier: MIT */
/*
 * switchboard usage [--by model|key|agent|day] [--since 7d|24h|2026-11-01]
 *                   [--config FILE | --database URL]
 * Spend from the ledger, grouped, as an aligned table. Reads the store
 * directly (store.h: the SQLite file read-only, safe while the gateway
 * runs in WAL mode; or Postgres). Costs are summed in integer
 * picodollars, so the total is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "switchboard/cli.h"
#include "switchboard/config.h"
#include "switchboard/pricing.h"
#include "switchboard/store.h"
#include "switchboard/table.h"

static const char usage[] =
    "switchboard usage [--by model|key|agent|day] [--since 7d|24h|2026-11-01]\n"
    "                  [--config FILE | --database sqlite:PATH|postgres://...]\n";

/* "7d", "24h", "30m", or a UTC date "YYYY-MM-DD" -> ms since the epoch. */
static int parse_since(const char *s, int64_t now_ms, int64_t *out)
{
  size_t n = strlen(s);
  if (n >= 2 && n <= 8 && strspn(s, "0123456789") == n - 1) {
    long v = strtol(s, NULL, 10);
    int64_t unit = s[n - 1] == 'd'   ? 86400000LL
                   : s[n - 1] == 'h' ? 3600000LL
                   : s[n - 1] == 'm' ? 60000LL
                                     : 0;
    if (unit == 0)
      return -1;
    *out = now_ms - (int64_t)v * unit;
    return 0;
  }
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (n == 10 && sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) == 3 &&
      tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
  }
  return -1;
}

static const char *money(sb_arena_t *a, int64_t pico)
{
  char buf[40];
  sb_cost_format(pico, buf, sizeof(buf));
  return sb_arena_printf(a, "$%s", buf);
}

/* Cheap-first escalation (docs/routing.md): what `switchboard/auto` spent
 * against always using the top rung. Silent without escalated requests. */
static void print_escalation(const sb_escalation_sum_t *e, sb_arena_t *a)
{
  if (e->requests == 0)
    return;
  printf("\nESCALATION  %lld requests: spent %s (%s on rungs that did "
         "not answer); the top rung alone: %s; saved %s%s\n",
         (long long)e->requests, money(a, e->spent_pico),
         money(a, e->discarded_pico), money(a, e->top_rung_pico),
         e->top_rung_pico >= e->spent_pico ? "" : "-",
         money(a, e->top_rung_pico >= e->spent_pico
                      ? e->top_rung_pico - e->spent_pico
                      : e->spent_pico - e->top_rung_pico));
}

typedef struct {
  sb_table_t *t;
  sb_arena_t *a;
  int64_t tot[5];
} lines_t;

static void add_line(void *data, const sb_usage_line_t *l)
{
  lines_t *ls = data;
  sb_arena_t *a = ls->a;
  int64_t v[5] = {l->requests, l->errors, l->tokens_in, l->tokens_out,
                  l->cost_pico};
  for (int i = 0; i < 5; i++)
    ls->tot[i] += v[i];
  const char *row[] = {sb_arena_printf(a, "%s", l->group),
                       sb_arena_printf(a, "%lld", (long long)v[0]),
                       sb_arena_printf(a, "%lld", (long long)v[1]),
                       sb_arena_printf(a, "%lld", (long long)v[2]),
                       sb_arena_printf(a, "%lld", (long long)v[3]),
                       money(a, v[4])};
  sb_table_row(ls->t, row, 6);
}

int sb_cli_usage(int argc, char **argv)
{
  const char *by = "model", *since = NULL, *config = NULL, *database = NULL;
  const sb_cli_opt_t opts[] = {
      {"--by", NULL, &by},
      {"--since", NULL, &since},
      {"--config", "-c", &config},
      {"--database", NULL, &database},
  };
  int bad = sb_cli_options(argc, argv, opts, SB_ARRAY_LEN(opts));
  if (bad > 0) {
    fprintf(stderr, "switchboard: unexpected argument '%s'\nusage: %s",
            argv[bad], usage);
    return 2;
  }
  sb_usage_by_t group;
  if (strcmp(by, "model") == 0)
    group = SB_USAGE_BY_MODEL;
  else if (strcmp(by, "key") == 0)
    group = SB_USAGE_BY_KEY;
  else if (strcmp(by, "agent") == 0)
    group = SB_USAGE_BY_AGENT;
  else if (strcmp(by, "day") == 0) {
    group = SB_USAGE_BY_DAY;
  } else {
    fprintf(stderr, "switchboard: --by must be model, key, agent or day\n");
    return 2;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, from = 0;
  if (since != NULL && parse_since(since, now, &from) != 0) {
    fprintf(stderr, "switchboard: --since takes 7d, 24h, 30m or YYYY-MM-DD\n");
    return 2;
  }

  sb_config_t cfg;
  char err[512];
  bool have_cfg = false;
  if (database == NULL) {
    if (config == NULL && getenv("SWITCHBOARD_CONFIG") != NULL &&
        getenv("SWITCHBOARD_CONFIG")[0] != '\0')
      config = getenv("SWITCHBOARD_CONFIG");
    if (sb_config_load(&cfg, config, NULL, err, sizeof(err)) != SB_OK) {
      fprintf(stderr, "switchboard: %s\n", err);
      sb_config_free(&cfg);
      return 1;
    }
    have_cfg = true;
    database = cfg.database;
  }
  int rc = 1;
  sb_arena_t a;
  sb_arena_init(&a, 64 * 1024, 0);
  sb_store_t *store = sb_store_open(database, SB_STORE_READER, NULL, err,
                                    sizeof(err));
  if (store == NULL) {
    fprintf(stderr, "switchboard: %s\n", err);
    goto out;
  }
  sb_table_t t;
  sb_table_init(&t, &a);
  const char *head[] = {group == SB_USAGE_BY_DAY     ? "DAY"
                        : group == SB_USAGE_BY_MODEL ? "MODEL"
                        : group == SB_USAGE_BY_KEY   ? "KEY"
                                                     : "AGENT",
                        "REQUESTS", "ERRORS", "TOKENS IN", "TOKENS OUT",
                        "COST"};
  sb_table_row(&t, head, 6);
  lines_t ls = {&t, &a, {0}};
  sb_escalation_sum_t esc;
  if (store->ops->usage(store, group, from, add_line, &ls, &esc, err,
                        sizeof(err)) != SB_OK) {
    fprintf(stderr, "switchboard: %s\n", err);
    goto out;
  }
  const char *total[] = {"TOTAL",
                         sb_arena_printf(&a, "%lld", (long long)ls.tot[0]),
                         sb_arena_printf(&a, "%lld", (long long)ls.tot[1]),
                         sb_arena_printf(&a, "%lld", (long long)ls.tot[2]),
                         sb_arena_printf(&a, "%lld", (long long)ls.tot[3]),
                         money(&a, ls.tot[4])};
  sb_table_row(&t, total, 6);
  sb_table_print(&t, stdout);
  print_escalation(&esc, &a);
  rc = 0;
out:
  sb_store_close(store);
  sb_arena_destroy(&a);
  if (have_cfg)
    sb_config_free(&cfg);
  return rc;
}
