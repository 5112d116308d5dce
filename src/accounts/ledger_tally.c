/* SPDX-License-Identifier: MIT */
/* A report's figures summed in memory; see ledger_tally.h. */
#include "ledger_tally.h"

#include <stdio.h>
#include <stdlib.h>

/* Latencies below this many ms are counted in the histogram; longer ones
 * (rare: over a minute) are kept one by one. */
#define HIST_MS 65536

typedef struct {
  uint64_t requests, errors, prompt, completion, cached, reasoning;
  int64_t cost_pico;
  uint64_t latency_sum, ttft_sum, ttft_n;
} acc_t;

typedef struct {
  char *value;
  acc_t acc;
} entry_t;

/* One grouping: entries, and an open-addressing index into them. */
typedef struct {
  entry_t *entries;
  size_t n, cap;
  uint32_t *slots; /* entry index + 1; 0: empty */
  size_t mask;
  entry_t *other; /* "(other)", once the table is full */
} table_t;

struct sb_tally {
  const sb_ledger_report_query_t *q;
  acc_t total;
  acc_t *series;
  size_t n_series;
  int64_t series_start;
  uint32_t *hist; /* HIST_MS counts */
  uint32_t *slow; /* latencies of HIST_MS ms and more */
  size_t n_slow, slow_cap;
  table_t tables[SB_DIM_N];
};

static void acc_add(acc_t *a, const sb_tally_row_t *r)
{
  a->requests++;
  a->errors += r->status >= 400;
  a->prompt += r->prompt;
  a->completion += r->completion;
  a->cached += r->cached;
  a->reasoning += r->reasoning;
  a->cost_pico += r->cost_pico;
  a->latency_sum += r->latency_ms;
  if (r->ttft_ms > 0) {
    a->ttft_sum += r->ttft_ms;
    a->ttft_n++;
  }
}

static void acc_sums(const acc_t *a, sb_ledger_sums_t *s)
{
  s->requests = a->requests;
  s->errors = a->errors;
  s->prompt = a->prompt;
  s->completion = a->completion;
  s->cached = a->cached;
  s->reasoning = a->reasoning;
  s->cost_pico = a->cost_pico;
  s->latency_ms = a->requests > 0 ? (double)a->latency_sum / (double)a->requests : 0;
  s->ttft_ms = a->ttft_n > 0 ? (double)a->ttft_sum / (double)a->ttft_n : 0;
}

sb_tally_t *sb_tally_new(const sb_ledger_report_query_t *q)
{
  sb_tally_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->q = q;
  t->hist = calloc(HIST_MS, sizeof(*t->hist));
  if (t->hist == NULL)
    goto fail;
  const sb_ledger_filter_t *f = &q->filter;
  t->n_series = q->bucket_ms > 0
                    ? (size_t)sb_ledger_bucket_count(f->from_ms, f->to_ms, q->bucket_ms)
                    : 0;
  if (t->n_series > 0) {
    t->series_start = f->from_ms / q->bucket_ms * q->bucket_ms;
    t->series = calloc(t->n_series, sizeof(*t->series));
    if (t->series == NULL)
      goto fail;
  }
  return t;
fail:
  sb_tally_free(t);
  return NULL;
}

static uint64_t hash(const char *s)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

static sb_status_t grow(table_t *tb)
{
  size_t cap = tb->cap == 0 ? 64 : tb->cap * 2;
  entry_t *e = realloc(tb->entries, cap * sizeof(*e));
  if (e == NULL)
    return SB_ERROR;
  tb->entries = e;
  tb->cap = cap;
  uint32_t *slots = calloc(cap * 2, sizeof(*slots));
  if (slots == NULL)
    return SB_ERROR;
  free(tb->slots);
  tb->slots = slots;
  tb->mask = cap * 2 - 1;
  for (size_t i = 0; i < tb->n; i++) {
    size_t s = (size_t)hash(tb->entries[i].value) & tb->mask;
    while (tb->slots[s] != 0)
      s = (s + 1) & tb->mask;
    tb->slots[s] = (uint32_t)i + 1;
  }
  return SB_OK;
}

/* The entry of `value`, made when new; NULL when out of memory. */
static entry_t *find(table_t *tb, const char *value)
{
  size_t s = 0;
  if (tb->cap > 0) {
    s = (size_t)hash(value) & tb->mask;
    for (; tb->slots[s] != 0; s = (s + 1) & tb->mask) {
      entry_t *e = &tb->entries[tb->slots[s] - 1];
      if (strcmp(e->value, value) == 0)
        return e;
    }
  }
  if (tb->n == SB_TALLY_MAX_GROUPS) {
    if (tb->other == NULL) {
      tb->other = calloc(1, sizeof(*tb->other));
      if (tb->other == NULL || (tb->other->value = strdup(SB_TALLY_OTHER)) == NULL)
        return NULL;
    }
    return tb->other;
  }
  if (tb->n == tb->cap) {
    if (grow(tb) != SB_OK)
      return NULL;
    s = (size_t)hash(value) & tb->mask;
    while (tb->slots[s] != 0)
      s = (s + 1) & tb->mask;
  }
  entry_t *e = &tb->entries[tb->n];
  memset(e, 0, sizeof(*e));
  e->value = strdup(value);
  if (e->value == NULL)
    return NULL;
  tb->slots[s] = (uint32_t)++tb->n;
  return e;
}

sb_status_t sb_tally_add(sb_tally_t *t, const sb_tally_row_t *r)
{
  acc_add(&t->total, r);
  if (t->n_series > 0 && r->created_ms >= t->series_start) {
    uint64_t b = (uint64_t)(r->created_ms - t->series_start) / (uint64_t)t->q->bucket_ms;
    if (b < t->n_series)
      acc_add(&t->series[b], r);
  }
  if (r->latency_ms < HIST_MS) {
    t->hist[r->latency_ms]++;
  } else {
    if (t->n_slow == t->slow_cap) {
      size_t cap = t->slow_cap == 0 ? 64 : t->slow_cap * 2;
      uint32_t *s = realloc(t->slow, cap * sizeof(*s));
      if (s == NULL)
        return SB_ERROR;
      t->slow = s;
      t->slow_cap = cap;
    }
    t->slow[t->n_slow++] = r->latency_ms;
  }
  for (int d = 0; d < SB_DIM_N; d++) {
    if ((t->q->dims & (1u << d)) == 0)
      continue;
    entry_t *e = find(&t->tables[d], r->dim[d] != NULL ? r->dim[d] : "-");
    if (e == NULL)
      return SB_ERROR;
    acc_add(&e->acc, r);
  }
  return SB_OK;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Nearest rank ceil(p% of n), from the histogram and the slow ones
 * (sorted). */
static uint32_t percentile(const sb_tally_t *t, unsigned p)
{
  uint64_t n = t->total.requests;
  if (n == 0)
    return 0;
  uint64_t rank = (n * p + 99) / 100, seen = 0;
  if (rank == 0)
    rank = 1;
  for (uint32_t ms = 0; ms < HIST_MS; ms++) {
    seen += t->hist[ms];
    if (seen >= rank)
      return ms;
  }
  return t->slow[rank - seen - 1];
}

/* Most expensive first, then the busiest, then by value. */
static int cmp_entry(const void *a, const void *b)
{
  const entry_t *x = a, *y = b;
  if (x->acc.cost_pico != y->acc.cost_pico)
    return x->acc.cost_pico > y->acc.cost_pico ? -1 : 1;
  if (x->acc.requests != y->acc.requests)
    return x->acc.requests > y->acc.requests ? -1 : 1;
  return strcmp(x->value, y->value);
}

static sb_status_t top_groups(table_t *tb, size_t limit, sb_ledger_group_t **out,
                              size_t *n)
{
  /* "(other)" competes with the rest */
  if (tb->other != NULL) {
    if (tb->n == tb->cap && grow(tb) != SB_OK)
      return SB_ERROR;
    tb->entries[tb->n++] = *tb->other;
    free(tb->other);
    tb->other = NULL;
  }
  if (tb->n > 1)
    qsort(tb->entries, tb->n, sizeof(*tb->entries), cmp_entry);
  *n = SB_MIN(tb->n, limit);
  *out = calloc(*n > 0 ? *n : 1, sizeof(**out));
  if (*out == NULL)
    return SB_ERROR;
  for (size_t i = 0; i < *n; i++) {
    sb_ledger_group_t *g = &(*out)[i];
    snprintf(g->id, sizeof(g->id), "%s", tb->entries[i].value);
    snprintf(g->name, sizeof(g->name), "%s", tb->entries[i].value);
    acc_sums(&tb->entries[i].acc, &g->s);
  }
  return SB_OK;
}

sb_status_t sb_tally_finish(sb_tally_t *t, sb_ledger_report_t *out)
{
  acc_sums(&t->total, &out->total);
  if (t->n_slow > 0)
    qsort(t->slow, t->n_slow, sizeof(*t->slow), cmp_u32);
  out->latency_p50_ms = percentile(t, 50);
  out->latency_p95_ms = percentile(t, 95);
  out->series_start_ms = t->series_start;
  if (t->n_series > 0) {
    out->series = calloc(t->n_series, sizeof(*out->series));
    if (out->series == NULL)
      return SB_ERROR;
    out->n_series = t->n_series;
    for (size_t i = 0; i < t->n_series; i++)
      acc_sums(&t->series[i], &out->series[i]);
  }
  size_t limit = SB_MIN(t->q->group_limit, (size_t)SB_LEDGER_MAX_GROUPS);
  for (int d = 0; d < SB_DIM_N; d++)
    if ((t->q->dims & (1u << d)) != 0 && limit > 0 &&
        top_groups(&t->tables[d], limit, &out->groups[d], &out->n_groups[d]) != SB_OK)
      return SB_ERROR;
  return SB_OK;
}

void sb_tally_free(sb_tally_t *t)
{
  if (t == NULL)
    return;
  for (int d = 0; d < SB_DIM_N; d++) {
    table_t *tb = &t->tables[d];
    for (size_t i = 0; i < tb->n; i++)
      free(tb->entries[i].value);
    if (tb->other != NULL)
      free(tb->other->value);
    free(tb->other);
    free(tb->entries);
    free(tb->slots);
  }
  free(t->series);
  free(t->hist);
  free(t->slow);
  free(t);
}
