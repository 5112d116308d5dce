/*
 * switchboard usage [--by model|key|agent|day] [--since 7d|24h|2026-11-01]
 *                   [--config FILE | --database sqlite:PATH]
 * Spend from the ledger, grouped, as an aligned table. Reads the SQLite
 * file directly (read-only; safe while the gateway runs, WAL mode). Costs
 * are summed in integer picodollars, so the total is exact.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "switchboard/cli.h"
#include "switchboard/config.h"
#include "switchboard/pricing.h"
#include "switchboard/table.h"

static const char usage[] =
    "switchboard usage [--by model|key|agent|day] [--since 7d|24h|2026-11-01]\n"
    "                  [--config FILE | --database sqlite:PATH]\n";

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
 * against always using the top rung. Silent without escalated requests, or
 * on a ledger older than schema 3. */
static void print_escalation(sqlite3 *db, int64_t from, sb_arena_t *a)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(
          db,
          "SELECT count(*), coalesce(sum(cost_pico), 0), "
          "coalesce(sum(escalation_cost_pico), 0), "
          "coalesce(sum(top_rung_cost_pico), 0) FROM generations "
          "WHERE rung > 0 AND created_ms >= ?",
          -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, from);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
      int64_t spent = sqlite3_column_int64(st, 1);
      int64_t top = sqlite3_column_int64(st, 3);
      printf("\nESCALATION  %lld requests: spent %s (%s on rungs that did "
             "not answer); the top rung alone: %s; saved %s%s\n",
             (long long)sqlite3_column_int64(st, 0), money(a, spent),
             money(a, sqlite3_column_int64(st, 2)), money(a, top),
             top >= spent ? "" : "-",
             money(a, top >= spent ? top - spent : spent - top));
    }
  }
  sqlite3_finalize(st);
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
  const char *group;
  bool by_day = false;
  if (strcmp(by, "model") == 0)
    group = "coalesce(g.model, g.requested_model, '-')";
  else if (strcmp(by, "key") == 0)
    group = "CASE WHEN g.key_hash IS NULL THEN coalesce(g.key_label, '-') "
            "ELSE coalesce(k.name, g.key_label, '?') || ' (' || "
            "substr(g.key_hash, 1, 8) || ')' END";
  else if (strcmp(by, "agent") == 0)
    group = "coalesce(g.agent, '-')";
  else if (strcmp(by, "day") == 0) {
    group = "strftime('%Y-%m-%d', g.created_ms / 1000, 'unixepoch')";
    by_day = true;
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
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  sb_arena_t a;
  sb_arena_init(&a, 64 * 1024, 0);
  if (strncmp(database, "sqlite:", 7) != 0) {
    fprintf(stderr, "switchboard: usage reads sqlite:PATH databases only\n");
    goto out;
  }
  if (sqlite3_open_v2(database + 7, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "switchboard: cannot open %s: %s\n", database + 7,
            db != NULL ? sqlite3_errmsg(db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  const char *sql = sb_arena_printf(
      &a,
      "SELECT %s AS grp, count(*), sum(g.status <> 200), "
      "sum(g.tokens_prompt), sum(g.tokens_completion), sum(g.cost_pico) "
      "FROM generations g LEFT JOIN keys k ON k.hash = g.key_hash "
      "WHERE g.created_ms >= ? GROUP BY grp ORDER BY %s",
      group, by_day ? "grp" : "sum(g.cost_pico) DESC, grp");
  if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr,
            "switchboard: cannot read the ledger in %s: %s (has a gateway of "
            "this version opened it yet?)\n",
            database + 7, sqlite3_errmsg(db));
    goto out;
  }
  sqlite3_bind_int64(st, 1, from);
  sb_table_t t;
  sb_table_init(&t, &a);
  const char *head[] = {by_day ? "DAY" : by[0] == 'm' ? "MODEL"
                                     : by[0] == 'k'   ? "KEY"
                                                      : "AGENT",
                        "REQUESTS", "ERRORS", "TOKENS IN", "TOKENS OUT",
                        "COST"};
  sb_table_row(&t, head, 6);
  int64_t tot[5] = {0};
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t v[5];
    for (int i = 0; i < 5; i++) {
      v[i] = sqlite3_column_int64(st, i + 1);
      tot[i] += v[i];
    }
    const unsigned char *g = sqlite3_column_text(st, 0);
    const char *row[] = {
        g != NULL ? (const char *)g : "-",
        sb_arena_printf(&a, "%lld", (long long)v[0]),
        sb_arena_printf(&a, "%lld", (long long)v[1]),
        sb_arena_printf(&a, "%lld", (long long)v[2]),
        sb_arena_printf(&a, "%lld", (long long)v[3]), money(&a, v[4])};
    sb_table_row(&t, row, 6);
  }
  if (step != SQLITE_DONE) {
    fprintf(stderr, "switchboard: reading the ledger failed: %s\n",
            sqlite3_errmsg(db));
    goto out;
  }
  const char *total[] = {"TOTAL",
                         sb_arena_printf(&a, "%lld", (long long)tot[0]),
                         sb_arena_printf(&a, "%lld", (long long)tot[1]),
                         sb_arena_printf(&a, "%lld", (long long)tot[2]),
                         sb_arena_printf(&a, "%lld", (long long)tot[3]),
                         money(&a, tot[4])};
  sb_table_row(&t, total, 6);
  sb_table_print(&t, stdout);
  print_escalation(db, from, &a);
  rc = 0;
out:
  sqlite3_finalize(st);
  sqlite3_close(db);
  sb_arena_destroy(&a);
  if (have_cfg)
    sb_config_free(&cfg);
  return rc;
}
