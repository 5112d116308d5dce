/* SPDX-License-Identifier: MIT */
/* Snapshots swapped while threads read them (snapshot.h): reference
 * counts, the reader's fast path, old snapshots alive while in use, and
 * threads hammering acquisitions while another publishes. */
#include <pthread.h>
#include <stdatomic.h>

#include "test_helpers.h"

#include "switchboard/snapshot.h"

#define WORDS 64

typedef struct {
  sb_snap_t snap;
  uint64_t gen;
  uint64_t words[WORDS]; /* every word is gen: a torn or freed one is not */
} payload_t;

static atomic_uint_fast64_t created, destroyed;

static void payload_destroy(sb_snap_t *s)
{
  payload_t *p = SB_CONTAINER_OF(s, payload_t, snap);
  for (size_t i = 0; i < WORDS; i++)
    p->words[i] = 0xdeadbeefdeadbeefull; /* a use after this shows */
  atomic_fetch_add(&destroyed, 1);
  free(p);
}

static payload_t *payload_new(uint64_t gen)
{
  payload_t *p = malloc(sizeof(*p));
  assert_non_null(p);
  sb_snap_init(&p->snap, payload_destroy);
  p->gen = gen;
  for (size_t i = 0; i < WORDS; i++)
    p->words[i] = gen;
  atomic_fetch_add(&created, 1);
  return p;
}

static bool intact(const payload_t *p)
{
  for (size_t i = 0; i < WORDS; i++)
    if (p->words[i] != p->gen)
      return false;
  return true;
}

static payload_t *as_payload(sb_snap_t *s)
{
  return SB_CONTAINER_OF(s, payload_t, snap);
}

static void reset_counts(void)
{
  atomic_store(&created, 0);
  atomic_store(&destroyed, 0);
}

static void test_lifetimes(void **state)
{
  (void)state;
  reset_counts();
  sb_snap_cell_t cell;
  sb_snap_reader_t reader = {NULL};
  sb_snap_cell_init(&cell, &payload_new(1)->snap);

  /* without a reader: the locked path */
  sb_snap_t *a = sb_snap_acquire(&cell, NULL);
  assert_int_equal(as_payload(a)->gen, 1);
  assert_int_equal(atomic_load(&a->refs), 2);
  sb_snap_release(a);
  assert_int_equal(atomic_load(&a->refs), 1);

  /* with a reader: it keeps a reference of its own */
  a = sb_snap_acquire(&cell, &reader);
  assert_ptr_equal(reader.held, a);
  assert_int_equal(atomic_load(&a->refs), 3); /* cell, reader, request */
  sb_snap_t *b = sb_snap_acquire(&cell, &reader); /* the fast path */
  assert_ptr_equal(a, b);
  assert_int_equal(atomic_load(&a->refs), 4);
  sb_snap_release(b);

  /* a publish while a request still uses generation 1 */
  sb_snap_publish(&cell, &payload_new(2)->snap);
  assert_int_equal(atomic_load(&cell.version), 1);
  assert_int_equal(atomic_load(&destroyed), 0);
  assert_true(intact(as_payload(a)));
  sb_snap_release(a); /* the request ends; the reader still holds 1 */
  assert_int_equal(atomic_load(&destroyed), 0);

  /* the reader's next acquisition moves it on and frees generation 1 */
  b = sb_snap_acquire(&cell, &reader);
  assert_int_equal(as_payload(b)->gen, 2);
  assert_int_equal(atomic_load(&destroyed), 1);
  assert_int_equal(atomic_load(&b->refs), 3);
  sb_snap_release(b);

  /* publishing twice with no reader on the middle one frees it at once */
  sb_snap_publish(&cell, &payload_new(3)->snap);
  assert_int_equal(atomic_load(&destroyed), 1); /* the reader holds 2 */
  sb_snap_reader_drop(&reader);
  assert_null(reader.held);
  assert_int_equal(atomic_load(&destroyed), 2);
  sb_snap_publish(&cell, &payload_new(4)->snap);
  assert_int_equal(atomic_load(&destroyed), 3);

  /* a reference outliving the cell */
  a = sb_snap_acquire(&cell, NULL);
  sb_snap_cell_destroy(&cell);
  assert_int_equal(atomic_load(&destroyed), 3);
  assert_true(intact(as_payload(a)));
  sb_snap_release(a);
  assert_int_equal(atomic_load(&destroyed), 4);
  assert_int_equal(atomic_load(&created), 4);
}

/* ---- threads ------------------------------------------------------------ */

#define READERS 4
#define PUBLISHES 3000
#define MIN_READS 20000
#define HOLD 8 /* requests a reader keeps open at once */

typedef struct {
  sb_snap_cell_t *cell;
  atomic_bool *writer_done;
  uint64_t reads, bad, went_back;
} reader_arg_t;

static void *reader_main(void *arg)
{
  reader_arg_t *a = arg;
  sb_snap_reader_t reader = {NULL};
  sb_snap_t *open[HOLD] = {NULL};
  uint64_t last_gen = 0;
  size_t i = 0;
  while (!atomic_load(a->writer_done) || a->reads < MIN_READS) {
    /* a request ends (the one opened HOLD acquisitions ago) ... */
    sb_snap_release(open[i % HOLD]);
    open[i % HOLD] = NULL;
    /* ... and a new one starts */
    sb_snap_t *s = sb_snap_acquire(a->cell, &reader);
    payload_t *p = as_payload(s);
    if (!intact(p))
      a->bad++;
    if (p->gen < last_gen)
      a->went_back++;
    last_gen = p->gen;
    /* the requests still open are whole too */
    for (size_t k = 0; k < HOLD; k++)
      if (open[k] != NULL && !intact(as_payload(open[k])))
        a->bad++;
    open[i % HOLD] = s;
    a->reads++;
    i++;
  }
  for (size_t k = 0; k < HOLD; k++)
    sb_snap_release(open[k]);
  sb_snap_reader_drop(&reader);
  return NULL;
}

typedef struct {
  sb_snap_cell_t *cell;
  atomic_bool *done;
} writer_arg_t;

static void *writer_main(void *arg)
{
  writer_arg_t *w = arg;
  for (uint64_t g = 2; g <= PUBLISHES + 1; g++) {
    sb_snap_publish(w->cell, &payload_new(g)->snap);
    /* a reader without a reader slot (a background thread) now and then */
    if (g % 64 == 0)
      sb_snap_release(sb_snap_acquire(w->cell, NULL));
  }
  atomic_store(w->done, true);
  return NULL;
}

static void test_hammer(void **state)
{
  (void)state;
  reset_counts();
  sb_snap_cell_t cell;
  atomic_bool done;
  atomic_init(&done, false);
  sb_snap_cell_init(&cell, &payload_new(1)->snap);
  pthread_t readers[READERS], writer;
  reader_arg_t ra[READERS];
  memset(ra, 0, sizeof(ra));
  for (int i = 0; i < READERS; i++) {
    ra[i].cell = &cell;
    ra[i].writer_done = &done;
    assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &ra[i]), 0);
  }
  writer_arg_t wa = {&cell, &done};
  assert_int_equal(pthread_create(&writer, NULL, writer_main, &wa), 0);
  pthread_join(writer, NULL);
  for (int i = 0; i < READERS; i++) {
    pthread_join(readers[i], NULL);
    assert_true(ra[i].reads >= MIN_READS);
    if (ra[i].bad != 0 || ra[i].went_back != 0)
      fail_msg("reader %d: %llu torn or freed snapshots, %llu went back", i,
               (unsigned long long)ra[i].bad,
               (unsigned long long)ra[i].went_back);
  }
  /* every snapshot but the current one is gone once the readers are */
  assert_int_equal(atomic_load(&created), PUBLISHES + 1);
  assert_int_equal(atomic_load(&destroyed), PUBLISHES);
  sb_snap_t *last = sb_snap_acquire(&cell, NULL);
  assert_int_equal(as_payload(last)->gen, PUBLISHES + 1);
  sb_snap_release(last);
  sb_snap_cell_destroy(&cell);
  assert_int_equal(atomic_load(&destroyed), PUBLISHES + 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lifetimes),
      cmocka_unit_test(test_hammer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
