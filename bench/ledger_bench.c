/* SPDX-License-Identifier: MIT */
/*
 * What one ledger row costs the writer thread: CPU time per row committed
 * through the real store (sb_ledger_record, the writer's batches, SQLite in
 * WAL mode), on a temporary database.
 *
 * Rows look like a busy gateway's: a few keys, agents and models, ids as
 * the gateway makes them. The rows are queued at a steady pace (a batch of
 * 64 every 5 ms), as requests would arrive, so the writer commits in its
 * usual batches; then the process CPU time per row is the writer's cost
 * (queuing a row is a malloc and a memcpy). Median of 5 runs.
 *
 * With a DATABASE (a postgres:// URL, or sqlite:PATH), the throughput of
 * the store instead: ROWS rows queued as fast as the bounded queue takes
 * them, then the wall time until the last is committed; rows per second,
 * median of 3 runs (the rows stay in that database).
 *
 * Usage: ledger_bench [ROWS per run, default 50000] [DATABASE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "switchboard/ledger.h"
#include "switchboard/store.h"
#include "switchboard/worker.h"

#define RUNS 5

static double cpu_seconds(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void make_row(sb_ledger_row_t *r, unsigned i, uint64_t *rng)
{
  static const char *const models[] = {"openai/gpt-4o-mini",
                                       "anthropic/claude-3.5-haiku",
                                       "google/gemini-2.0-flash-001"};
  memset(r, 0, sizeof(*r));
  int64_t wall_us = sb_wall_us();
  *rng ^= *rng << 13;
  *rng ^= *rng >> 7;
  *rng ^= *rng << 17;
  sb_ledger_make_id(r->id, wall_us, *rng, *rng * 0x9E3779B97F4A7C15ull);
  r->created_ms = wall_us / 1000;
  snprintf(r->api, sizeof(r->api), "chat");
  snprintf(r->key_label, sizeof(r->key_label), "team-%u", i % 4);
  if (i % 4 != 0)
    snprintf(r->key_hash, sizeof(r->key_hash),
             "%064x", i % 4);
  snprintf(r->agent, sizeof(r->agent), "agent-%u", i % 7);
  const char *m = models[i % 3];
  snprintf(r->requested_model, sizeof(r->requested_model), "%s", m);
  snprintf(r->model, sizeof(r->model), "%s", m);
  snprintf(r->provider, sizeof(r->provider), "%.*s",
           (int)(strchr(m, '/') - m), m);
  snprintf(r->upstream_model, sizeof(r->upstream_model), "%s",
           strchr(m, '/') + 1);
  r->usage.prompt = 100 + i % 900;
  r->usage.completion = 20 + i % 300;
  r->cost_pico = 1000000 + i;
  r->latency_ms = 200 + i % 50;
  r->ttft_ms = 80;
  r->status = 200;
  snprintf(r->finish_reason, sizeof(r->finish_reason), "stop");
  snprintf(r->native_finish_reason, sizeof(r->native_finish_reason), "stop");
  r->streamed = i % 2;
  r->overhead_us = 40;
}

/* Queue `rows` rows into `l` (a pause of 5 ms every 64 when `paced`, as
 * requests would arrive), then wait for their commit. */
static void fill(sb_ledger_t *l, unsigned rows, uint64_t *rng, bool paced)
{
  sb_ledger_row_t r;
  for (unsigned i = 0; i < rows; i++) {
    make_row(&r, i, rng);
    sb_ledger_record(l, &r);
    if (paced && i % 64 == 63)
      usleep(5000);
  }
  sb_ledger_flush(l);
}

/* Rows per second into `database`: queued at once, committed by the
 * writer's batches. */
static int throughput(const char *database, unsigned rows)
{
  double rate[3];
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  char shown[256];
  sb_store_redact(database, shown, sizeof(shown));
  for (int run = 0; run < 3; run++) {
    char err[512];
    sb_ledger_t *l = sb_ledger_open(database, err, sizeof(err));
    if (l == NULL) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    double c0 = cpu_seconds(), w0 = wall_seconds();
    fill(l, rows, &rng, false);
    double c1 = cpu_seconds(), w1 = wall_seconds();
    sb_ledger_close(l);
    rate[run] = rows / (w1 - w0);
    fprintf(stderr, "run %d: %u rows in %.2f s: %.0f rows/s, %.2f µs CPU per row\n",
            run + 1, rows, w1 - w0, rate[run], (c1 - c0) / rows * 1e6);
  }
  qsort(rate, 3, sizeof(rate[0]), cmp_double);
  printf("ledger rows into %s: %.0f rows/s (median of 3 runs of %u rows)\n",
         shown, rate[1], rows);
  return 0;
}

int main(int argc, char **argv)
{
  unsigned rows = argc > 1 ? (unsigned)atoi(argv[1]) : 50000;
  if (rows == 0)
    rows = 50000;
  if (argc > 2)
    return throughput(argv[2], rows);
  char dir[] = "/tmp/ledger-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  double per_row[RUNS];
  uint64_t rng = 0x2545F4914F6CDD1Dull;
  for (int run = 0; run < RUNS; run++) {
    char db[64], err[256];
    snprintf(db, sizeof(db), "sqlite:%s/run%d.db", dir, run);
    sb_ledger_t *l = sb_ledger_open(db, err, sizeof(err));
    if (l == NULL) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    double c0 = cpu_seconds(), w0 = wall_seconds();
    fill(l, rows, &rng, true);
    double c1 = cpu_seconds(), w1 = wall_seconds();
    sb_ledger_close(l);
    per_row[run] = (c1 - c0) / rows * 1e6;
    fprintf(stderr, "run %d: %u rows, %.2f µs CPU per row, %.1f s\n", run + 1,
            rows, per_row[run], w1 - w0);
    snprintf(db, sizeof(db), "%s/run%d.db", dir, run);
    unlink(db);
    char aux[80];
    snprintf(aux, sizeof(aux), "%s-wal", db);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", db);
    unlink(aux);
  }
  rmdir(dir);
  qsort(per_row, RUNS, sizeof(per_row[0]), cmp_double);
  printf("ledger row: %.2f µs CPU per row (median of %d runs of %u rows)\n",
         per_row[RUNS / 2], RUNS, rows);
  return 0;
}
