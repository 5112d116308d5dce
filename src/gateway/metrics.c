/* SPDX-License-Identifier: MIT */
/*
 * Request metrics, counted per worker and summed at scrape; see
 * include/switchboard/metrics.h.
 *
 * A label value becomes a small id, interned per label kind in a table
 * that workers read without a lock (an entry is built, then published
 * with a release store; it never changes or goes away). A worker's series
 * table is keyed by the ids of (door, model, provider, key, status class)
 * packed into 64 bits; only the worker writes it, a scrape reads it
 * racily (a count may be one request behind another: fine for counters).
 * Per provider, a worker also keeps the upstream latency and time to
 * first byte as histograms, and its retries and fallbacks.
 */
#include "switchboard/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "switchboard/pricing.h"

enum { DIM_DOOR, DIM_MODEL, DIM_PROVIDER, DIM_KEY, N_DIMS };
static const uint32_t dim_cap[N_DIMS] = {
    SB_METRICS_MAX_DOORS, SB_METRICS_MAX_MODELS, SB_METRICS_MAX_PROVIDERS,
    SB_METRICS_MAX_KEYS};
/* bits of each id in a series key, and where they sit */
static const unsigned dim_shift[N_DIMS] = {0, 8, 24, 32};
#define CLASS_SHIFT 48

#define ID_NONE 0  /* no value: the label is "" */
#define ID_OTHER 1 /* past the cap */
#define LABEL_MAX 200

typedef struct {
  uint32_t id;
  uint32_t len;
  char s[];
} label_t;

typedef struct {
  pthread_mutex_t lock; /* inserts only */
  uint32_t cap;
  _Atomic uint32_t n; /* ids handed out, NONE and OTHER included */
  size_t mask;
  _Atomic(label_t *) *slots;
  _Atomic(label_t *) *by_id;
} dim_t;

/* Upper bounds of the upstream histograms' buckets, in ms, then +Inf. */
static const uint32_t up_bounds_ms[] = {5,     10,    25,    50,    100,
                                        250,   500,   1000,  2500,  5000,
                                        10000, 30000, 60000, 120000};
#define UP_BUCKETS (SB_ARRAY_LEN(up_bounds_ms) + 1)
#define N_PROV (SB_METRICS_MAX_PROVIDERS + 2)

typedef struct {
  uint64_t buckets[UP_BUCKETS]; /* not cumulative */
  uint64_t sum_ns, count;
} hist_t;

typedef struct {
  _Atomic uint64_t key; /* packed ids + 1; 0: free */
  uint64_t requests;
  uint64_t tokens[4]; /* prompt, completion, cached, reasoning */
  int64_t cost_pico;
} series_t;

#define SERIES_SLOTS 1024 /* per worker; a power of two */
#define SERIES_PROBES 32

typedef struct {
  series_t series[SERIES_SLOTS];
  series_t overflow; /* when the table is crowded: every label "other" */
  hist_t latency[N_PROV], ttfb[N_PROV];
  uint64_t retries[N_PROV], fallbacks[N_PROV];
} worker_t;

struct sb_metrics {
  dim_t dims[N_DIMS];
  unsigned n_workers;
  worker_t *workers;
};

/* ---- label ids ------------------------------------------------------------
 */

/* Eight bytes at a time: label values are short, and every request hashes
 * four of them. */
static uint64_t hash(const char *p, size_t n)
{
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  memcpy(&v, p, n);
  h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

static sb_status_t dim_init(dim_t *d, uint32_t cap)
{
  size_t size = 16;
  while (size < (size_t)cap * 4)
    size <<= 1;
  pthread_mutex_init(&d->lock, NULL);
  d->cap = cap;
  d->mask = size - 1;
  atomic_init(&d->n, 2);
  d->slots = calloc(size, sizeof(*d->slots));
  d->by_id = calloc(cap + 2, sizeof(*d->by_id));
  return d->slots != NULL && d->by_id != NULL ? SB_OK : SB_ERROR;
}

static void dim_free(dim_t *d)
{
  if (d->by_id != NULL)
    for (uint32_t i = 0; i < d->cap + 2; i++)
      free(atomic_load_explicit(&d->by_id[i], memory_order_relaxed));
  free(d->slots);
  free(d->by_id);
  pthread_mutex_destroy(&d->lock);
}

/* The slot holding `v`, or the empty slot where it would go; NULL when
 * the table is full (it is sized four times the cap: never). */
static _Atomic(label_t *) *dim_find(dim_t *d, sb_slice_t v, label_t **found)
{
  size_t i = hash(v.ptr, v.len) & d->mask;
  for (size_t probes = 0; probes <= d->mask; probes++, i = (i + 1) & d->mask) {
    label_t *e = atomic_load_explicit(&d->slots[i], memory_order_acquire);
    if (e == NULL || (e->len == v.len && memcmp(e->s, v.ptr, v.len) == 0)) {
      *found = e;
      return &d->slots[i];
    }
  }
  *found = NULL;
  return NULL;
}

static uint32_t intern(dim_t *d, sb_slice_t v)
{
  if (v.len == 0)
    return ID_NONE;
  v.len = SB_MIN(v.len, LABEL_MAX);
  label_t *e;
  if (dim_find(d, v, &e) != NULL && e != NULL)
    return e->id;
  if (atomic_load_explicit(&d->n, memory_order_relaxed) >= d->cap + 2)
    return ID_OTHER;
  /* A value seen for the first time: once per value, under the lock. */
  uint32_t id = ID_OTHER;
  pthread_mutex_lock(&d->lock);
  _Atomic(label_t *) *slot = dim_find(d, v, &e);
  uint32_t n = atomic_load_explicit(&d->n, memory_order_relaxed);
  if (e != NULL) {
    id = e->id;
  } else if (slot != NULL && n < d->cap + 2 &&
             (e = malloc(sizeof(*e) + v.len + 1)) != NULL) {
    e->id = n;
    e->len = (uint32_t)v.len;
    memcpy(e->s, v.ptr, v.len);
    e->s[v.len] = '\0';
    atomic_store_explicit(&d->by_id[n], e, memory_order_release);
    atomic_store_explicit(slot, e, memory_order_release);
    atomic_store_explicit(&d->n, n + 1, memory_order_release);
    id = n;
  }
  pthread_mutex_unlock(&d->lock);
  return id;
}

static sb_slice_t label_of(dim_t *d, uint32_t id)
{
  if (id == ID_OTHER)
    return SB_SLICE_LIT("other");
  label_t *e = id < d->cap + 2
                   ? atomic_load_explicit(&d->by_id[id], memory_order_acquire)
                   : NULL;
  return e != NULL ? sb_slice(e->s, e->len) : SB_SLICE_LIT("");
}

/* ---- the tables -------------------------------------------------------------
 */

sb_metrics_t *sb_metrics_new(unsigned n_workers)
{
  sb_metrics_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  m->n_workers = n_workers;
  m->workers = calloc(n_workers > 0 ? n_workers : 1, sizeof(worker_t));
  bool ok = m->workers != NULL;
  for (int i = 0; i < N_DIMS; i++)
    ok = dim_init(&m->dims[i], dim_cap[i]) == SB_OK && ok;
  if (!ok) {
    sb_metrics_free(m);
    return NULL;
  }
  return m;
}

void sb_metrics_free(sb_metrics_t *m)
{
  if (m == NULL)
    return;
  for (int i = 0; i < N_DIMS; i++)
    dim_free(&m->dims[i]);
  free(m->workers);
  free(m);
}

/* A counter only its worker writes, read by scrapes on other threads. */
static void bump(uint64_t *v, uint64_t by)
{
  __atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + by,
                   __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *v)
{
  return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static unsigned status_class(int status)
{
  return status >= 100 && status <= 599 ? (unsigned)(status / 100) : 0;
}

static series_t *series_for(worker_t *w, uint64_t key)
{
  size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull >> 40) & (SERIES_SLOTS - 1);
  for (unsigned p = 0; p < SERIES_PROBES;
       p++, i = (i + 1) & (SERIES_SLOTS - 1)) {
    series_t *s = &w->series[i];
    uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
    if (k == key)
      return s;
    if (k == 0) {
      /* its counts are zero: publishing the key makes it visible */
      atomic_store_explicit(&s->key, key, memory_order_release);
      return s;
    }
  }
  return &w->overflow;
}

static void hist_note(hist_t *h, uint64_t ns)
{
  size_t i = 0;
  while (i < UP_BUCKETS - 1 && ns > (uint64_t)up_bounds_ms[i] * 1000000u)
    i++;
  bump(&h->buckets[i], 1);
  bump(&h->sum_ns, ns);
  bump(&h->count, 1);
}

void sb_metrics_note(sb_metrics_t *m, unsigned worker, const sb_access_t *a)
{
  if (m == NULL || worker >= m->n_workers)
    return;
  worker_t *w = &m->workers[worker];
  uint32_t door = intern(&m->dims[DIM_DOOR], a->door);
  uint32_t model = intern(&m->dims[DIM_MODEL], a->model);
  uint32_t prov = intern(&m->dims[DIM_PROVIDER], a->provider);
  uint32_t key = intern(&m->dims[DIM_KEY], a->key_label);
  uint64_t k = ((uint64_t)door << dim_shift[DIM_DOOR] |
                (uint64_t)model << dim_shift[DIM_MODEL] |
                (uint64_t)prov << dim_shift[DIM_PROVIDER] |
                (uint64_t)key << dim_shift[DIM_KEY] |
                (uint64_t)status_class(a->status) << CLASS_SHIFT) +
               1;
  series_t *s = series_for(w, k);
  bump(&s->requests, 1);
  const uint64_t tok[4] = {a->usage.prompt, a->usage.completion,
                           a->usage.cached, a->usage.reasoning};
  for (int i = 0; i < 4; i++)
    if (tok[i] != 0)
      bump(&s->tokens[i], tok[i]);
  if (a->cost_pico != 0)
    bump((uint64_t *)&s->cost_pico, (uint64_t)a->cost_pico);
  if (a->provider.len == 0 || prov >= N_PROV)
    return;
  if (a->upstream_ns != 0)
    hist_note(&w->latency[prov], a->upstream_ns);
  if (a->upstream_ttfb_ns != 0)
    hist_note(&w->ttfb[prov], a->upstream_ttfb_ns);
}

void sb_metrics_note_failover(sb_metrics_t *m, unsigned worker,
                              sb_slice_t provider, bool fallback)
{
  if (m == NULL || worker >= m->n_workers)
    return;
  uint32_t prov = intern(&m->dims[DIM_PROVIDER], provider);
  if (prov == ID_NONE || prov >= N_PROV)
    return;
  worker_t *w = &m->workers[worker];
  bump(fallback ? &w->fallbacks[prov] : &w->retries[prov], 1);
}

/* ---- rendering
 * ---------------------------------------------------------------- */

void sb_metrics_label(sb_buf_t *out, sb_slice_t v)
{
  for (size_t i = 0; i < v.len; i++) {
    char c = v.ptr[i];
    if (c == '\\' || c == '"')
      sb_buf_append(out, "\\", 1);
    if (c == '\n')
      sb_buf_append(out, "\\n", 2);
    else
      sb_buf_append(out, &c, 1);
  }
}

typedef struct {
  uint64_t key; /* packed ids, without the +1 */
  uint64_t requests;
  uint64_t tokens[4];
  int64_t cost_pico;
} row_t;

static uint32_t id_of(uint64_t key, int dim)
{
  static const uint64_t width[N_DIMS] = {0xff, 0xffff, 0xff, 0xffff};
  return (uint32_t)((key >> dim_shift[dim]) & width[dim]);
}

static int row_cmp(const void *pa, const void *pb, void *mask)
{
  uint64_t m = *(const uint64_t *)mask;
  uint64_t a = ((const row_t *)pa)->key & m;
  uint64_t b = ((const row_t *)pb)->key & m;
  return a < b ? -1 : a > b;
}

/* Every worker's series, one row each (the overflow with all ids OTHER). */
static row_t *gather(sb_metrics_t *m, size_t *n_out)
{
  size_t cap = (size_t)m->n_workers * (SERIES_SLOTS + 1), n = 0;
  row_t *rows = calloc(cap > 0 ? cap : 1, sizeof(*rows));
  if (rows == NULL) {
    *n_out = 0;
    return NULL;
  }
  uint64_t other = 0;
  for (int d = 0; d < N_DIMS; d++)
    other |= (uint64_t)ID_OTHER << dim_shift[d];
  for (unsigned wi = 0; wi < m->n_workers; wi++) {
    worker_t *w = &m->workers[wi];
    for (size_t i = 0; i <= SERIES_SLOTS; i++) {
      series_t *s = i < SERIES_SLOTS ? &w->series[i] : &w->overflow;
      uint64_t k = i < SERIES_SLOTS
                       ? atomic_load_explicit(&s->key, memory_order_acquire)
                       : other + 1;
      uint64_t req = get(&s->requests);
      if (k == 0 || req == 0)
        continue;
      row_t *r = &rows[n++];
      r->key = k - 1;
      r->requests = req;
      for (int t = 0; t < 4; t++)
        r->tokens[t] = get(&s->tokens[t]);
      r->cost_pico = (int64_t)get((const uint64_t *)&s->cost_pico);
    }
  }
  *n_out = n;
  return rows;
}

/* Copy `all` into `rows`, sort by the labels `mask` keeps and sum runs of
 * equal labels into their first row; returns the number of groups (packed
 * at the front of `rows`). */
static size_t group(const row_t *all, row_t *rows, size_t n, uint64_t mask)
{
  if (n == 0)
    return 0;
  memcpy(rows, all, n * sizeof(*rows));
  qsort_r(rows, n, sizeof(*rows), row_cmp, &mask);
  size_t g = 0;
  for (size_t i = 0; i < n; i++) {
    if (g > 0 && (rows[g - 1].key & mask) == (rows[i].key & mask)) {
      row_t *t = &rows[g - 1];
      t->requests += rows[i].requests;
      for (int k = 0; k < 4; k++)
        t->tokens[k] += rows[i].tokens[k];
      t->cost_pico += rows[i].cost_pico;
    } else {
      rows[g] = rows[i];
      rows[g].key &= mask;
      g++;
    }
  }
  return g;
}

static void labels(sb_metrics_t *m, sb_buf_t *out, uint64_t key,
                   const int *dims, size_t n)
{
  static const char *const names[N_DIMS] = {"door", "model", "provider", "key"};
  for (size_t i = 0; i < n; i++) {
    sb_buf_appendf(out, "%s%s=\"", i > 0 ? "," : "", names[dims[i]]);
    sb_metrics_label(out, label_of(&m->dims[dims[i]], id_of(key, dims[i])));
    sb_buf_append(out, "\"", 1);
  }
}

static uint64_t mask_of(const int *dims, size_t n, bool with_class)
{
  static const uint64_t width[N_DIMS] = {0xff, 0xffff, 0xff, 0xffff};
  uint64_t mask = with_class ? (uint64_t)0xf << CLASS_SHIFT : 0;
  for (size_t i = 0; i < n; i++)
    mask |= width[dims[i]] << dim_shift[dims[i]];
  return mask;
}

static void render_requests(sb_metrics_t *m, const row_t *all, row_t *rows,
                            size_t n, sb_buf_t *out)
{
  static const int dims[] = {DIM_DOOR, DIM_MODEL, DIM_PROVIDER};
  static const char *const classes[] = {"other", "1xx", "2xx",
                                        "3xx",   "4xx", "5xx"};
  sb_buf_appendz(out,
                 "# HELP switchboard_http_requests_total Requests answered, "
                 "by door, the model and provider that answered, and status "
                 "class.\n# TYPE switchboard_http_requests_total counter\n");
  size_t g = group(all, rows, n, mask_of(dims, 3, true));
  for (size_t i = 0; i < g; i++) {
    sb_buf_appendz(out, "switchboard_http_requests_total{");
    labels(m, out, rows[i].key, dims, 3);
    unsigned c = (unsigned)((rows[i].key >> CLASS_SHIFT) & 0xf);
    sb_buf_appendf(out, ",status=\"%s\"} %llu\n", classes[c < 6 ? c : 0],
                   (unsigned long long)rows[i].requests);
  }
}

static void render_tokens(sb_metrics_t *m, const row_t *all, row_t *rows,
                          size_t n, sb_buf_t *out)
{
  static const int dims[] = {DIM_MODEL, DIM_PROVIDER};
  static const char *const kinds[] = {"prompt", "completion", "cached",
                                      "reasoning"};
  sb_buf_appendz(out,
                 "# HELP switchboard_tokens_total Tokens by model, provider "
                 "and kind (prompt and completion include cached and "
                 "reasoning tokens).\n"
                 "# TYPE switchboard_tokens_total counter\n");
  size_t g = group(all, rows, n, mask_of(dims, 2, false));
  for (size_t i = 0; i < g; i++) {
    if (id_of(rows[i].key, DIM_MODEL) == ID_NONE)
      continue;
    for (int k = 0; k < 4; k++) {
      sb_buf_appendz(out, "switchboard_tokens_total{");
      labels(m, out, rows[i].key, dims, 2);
      sb_buf_appendf(out, ",kind=\"%s\"} %llu\n", kinds[k],
                     (unsigned long long)rows[i].tokens[k]);
    }
  }
}

static void render_cost(sb_metrics_t *m, const row_t *all, row_t *rows,
                        size_t n, sb_buf_t *out)
{
  static const int dims[] = {DIM_MODEL, DIM_PROVIDER, DIM_KEY};
  sb_buf_appendz(out,
                 "# HELP switchboard_cost_usd_total Spend in USD by model, "
                 "provider and key (the caller's name).\n"
                 "# TYPE switchboard_cost_usd_total counter\n");
  size_t g = group(all, rows, n, mask_of(dims, 3, false));
  for (size_t i = 0; i < g; i++) {
    if (id_of(rows[i].key, DIM_MODEL) == ID_NONE)
      continue;
    char num[40];
    sb_cost_format(rows[i].cost_pico, num, sizeof(num));
    sb_buf_appendz(out, "switchboard_cost_usd_total{");
    labels(m, out, rows[i].key, dims, 3);
    sb_buf_appendf(out, "} %s\n", num);
  }
}

static void render_hist(sb_metrics_t *m, sb_buf_t *out, const char *name,
                        const char *help, size_t offset)
{
  sb_buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  dim_t *d = &m->dims[DIM_PROVIDER];
  uint32_t n_ids = atomic_load_explicit(&d->n, memory_order_acquire);
  for (uint32_t p = 1; p < n_ids && p < N_PROV; p++) {
    uint64_t b[UP_BUCKETS] = {0}, sum = 0, count = 0;
    for (unsigned wi = 0; wi < m->n_workers; wi++) {
      const hist_t *h =
          (const hist_t *)((const char *)&m->workers[wi] + offset) + p;
      for (size_t i = 0; i < UP_BUCKETS; i++)
        b[i] += get(&h->buckets[i]);
      sum += get(&h->sum_ns);
      count += get(&h->count);
    }
    if (count == 0)
      continue;
    sb_buf_t lab;
    sb_buf_init(&lab, 1024);
    sb_metrics_label(&lab, label_of(d, p));
    uint64_t cum = 0;
    for (size_t i = 0; i < UP_BUCKETS; i++) {
      cum += b[i];
      if (i < UP_BUCKETS - 1)
        sb_buf_appendf(out, "%s_bucket{provider=\"%.*s\",le=\"%g\"} %llu\n",
                       name, (int)lab.len, lab.data, up_bounds_ms[i] / 1000.0,
                       (unsigned long long)cum);
    }
    /* read racily, a bucket may be ahead of the count */
    count = SB_MAX(count, cum);
    sb_buf_appendf(out,
                   "%s_bucket{provider=\"%.*s\",le=\"+Inf\"} %llu\n"
                   "%s_sum{provider=\"%.*s\"} %.9f\n"
                   "%s_count{provider=\"%.*s\"} %llu\n",
                   name, (int)lab.len, lab.data, (unsigned long long)count,
                   name, (int)lab.len, lab.data, (double)sum / 1e9, name,
                   (int)lab.len, lab.data, (unsigned long long)count);
    sb_buf_free(&lab);
  }
}

static void render_per_provider(sb_metrics_t *m, sb_buf_t *out,
                                const char *name, const char *help,
                                size_t offset)
{
  sb_buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
  dim_t *d = &m->dims[DIM_PROVIDER];
  uint32_t n_ids = atomic_load_explicit(&d->n, memory_order_acquire);
  for (uint32_t p = 1; p < n_ids && p < N_PROV; p++) {
    uint64_t v = 0;
    for (unsigned wi = 0; wi < m->n_workers; wi++)
      v += get((const uint64_t *)((const char *)&m->workers[wi] + offset) + p);
    if (v == 0)
      continue;
    sb_buf_appendf(out, "%s{provider=\"", name);
    sb_metrics_label(out, label_of(d, p));
    sb_buf_appendf(out, "\"} %llu\n", (unsigned long long)v);
  }
}

void sb_metrics_render(sb_metrics_t *m, sb_buf_t *out)
{
  size_t n;
  row_t *all = gather(m, &n);
  row_t *rows = calloc(n > 0 ? n : 1, sizeof(*rows));
  if (all != NULL && rows != NULL) {
    render_requests(m, all, rows, n, out);
    render_tokens(m, all, rows, n, out);
    render_cost(m, all, rows, n, out);
  }
  free(all);
  free(rows);
  render_hist(m, out, "switchboard_upstream_latency_seconds",
              "Time of the attempt that answered, from its start to its end, "
              "by provider.",
              offsetof(worker_t, latency));
  render_hist(m, out, "switchboard_upstream_ttft_seconds",
              "Time from the start of the attempt that answered to the "
              "provider's first byte, by provider.",
              offsetof(worker_t, ttfb));
  render_per_provider(m, out, "switchboard_retries_total",
                      "Attempts sent again to the same provider endpoint "
                      "after it failed.",
                      offsetof(worker_t, retries));
  render_per_provider(m, out, "switchboard_fallbacks_total",
                      "Moves from a provider's endpoint to the next "
                      "candidate (another provider or model).",
                      offsetof(worker_t, fallbacks));
}
