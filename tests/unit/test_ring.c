/* SPDX-License-Identifier: MIT */
/* The single-producer single-consumer record ring (src/core/ring.c). */
#include "test_helpers.h"

#include <pthread.h>

#include "switchboard/ring.h"

static bool push(sb_ring_t *r, const char *s, size_t n)
{
  void *p = sb_ring_reserve(r, n);
  if (p == NULL)
    return false;
  memcpy(p, s, n);
  sb_ring_commit(r, n);
  return true;
}

static void expect(sb_ring_t *r, const char *s)
{
  size_t len = 0;
  const void *p = sb_ring_peek(r, &len);
  assert_non_null(p);
  assert_int_equal(len, strlen(s));
  assert_memory_equal(p, s, len);
  sb_ring_pop(r);
}

static void test_in_order(void **state)
{
  (void)state;
  sb_ring_t r;
  size_t len;
  assert_int_equal(sb_ring_init(&r, 256), SB_OK);
  assert_null(sb_ring_peek(&r, &len));
  assert_true(push(&r, "one", 3));
  assert_true(push(&r, "two!", 4));
  assert_true(push(&r, "three", 5));
  expect(&r, "one");
  expect(&r, "two!");
  expect(&r, "three");
  assert_null(sb_ring_peek(&r, &len));
  assert_int_equal(sb_ring_used(&r), 0);
  sb_ring_free(&r);
}

static void test_full_and_wrap(void **state)
{
  (void)state;
  sb_ring_t r;
  char rec[40];
  assert_int_equal(sb_ring_init(&r, 128), SB_OK);
  /* a record needs 8 bytes of header: 40 bytes take 48; two fit, a third
   * does not (no room: refused, not blocked) */
  memset(rec, 'a', sizeof(rec));
  assert_true(push(&r, rec, 40));
  memset(rec, 'b', sizeof(rec));
  assert_true(push(&r, rec, 40));
  assert_false(push(&r, rec, 40));
  /* too large for the ring at all, or empty */
  assert_null(sb_ring_reserve(&r, 200));
  assert_null(sb_ring_reserve(&r, 0));
  /* one read frees room; the next record does not fit before the end
   * (32 bytes left there), so it goes to the start */
  size_t len;
  const char *p = sb_ring_peek(&r, &len);
  assert_int_equal(len, 40);
  assert_int_equal(p[0], 'a');
  sb_ring_pop(&r);
  memset(rec, 'c', sizeof(rec));
  assert_true(push(&r, rec, 40));
  p = sb_ring_peek(&r, &len);
  assert_int_equal(p[39], 'b');
  sb_ring_pop(&r);
  p = sb_ring_peek(&r, &len);
  assert_int_equal(len, 40);
  assert_int_equal(p[0], 'c');
  assert_int_equal(p[39], 'c');
  sb_ring_pop(&r);
  assert_null(sb_ring_peek(&r, &len));
  /* a commit shorter than the reservation */
  char *q = sb_ring_reserve(&r, 30);
  assert_non_null(q);
  memcpy(q, "short", 5);
  sb_ring_commit(&r, 5);
  expect(&r, "short");
  sb_ring_free(&r);
}

#define N_RECORDS 200000

static void *producer(void *arg)
{
  sb_ring_t *r = arg;
  for (uint32_t i = 0; i < N_RECORDS;) {
    /* lengths from 4 to 67 bytes, each record its number then filler */
    size_t n = 4 + i % 64;
    unsigned char *p = sb_ring_reserve(r, n);
    if (p == NULL) {
      sched_yield();
      continue;
    }
    memcpy(p, &i, 4);
    memset(p + 4, (int)(i & 0xff), n - 4);
    sb_ring_commit(r, n);
    i++;
  }
  return NULL;
}

static void test_two_threads(void **state)
{
  (void)state;
  sb_ring_t r;
  assert_int_equal(sb_ring_init(&r, 1024), SB_OK);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, producer, &r), 0);
  uint32_t next = 0;
  while (next < N_RECORDS) {
    size_t len;
    const unsigned char *p = sb_ring_peek(&r, &len);
    if (p == NULL) {
      sched_yield();
      continue;
    }
    uint32_t i;
    memcpy(&i, p, 4);
    assert_int_equal(i, next);
    assert_int_equal(len, 4 + i % 64);
    for (size_t k = 4; k < len; k++)
      if (p[k] != (i & 0xff))
        fail_msg("record %u byte %zu is %u", i, k, p[k]);
    sb_ring_pop(&r);
    next++;
  }
  pthread_join(t, NULL);
  assert_int_equal(sb_ring_used(&r), 0);
  sb_ring_free(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_order),
      cmocka_unit_test(test_full_and_wrap),
      cmocka_unit_test(test_two_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
