/* SPDX-License-Identifier: MIT */
/* A lock-free single-producer single-consumer ring of records; see
 * include/switchboard/ring.h.
 *
 * `head` and `tail` count bytes since the start and only grow; a record
 * sits at offset (position % cap) behind an 8-byte header holding its
 * length. Where a record would cross the end, the producer leaves a wrap
 * marker and the record starts at offset 0. The producer publishes a record
 * with a release store of `head` (after writing it), the consumer frees its
 * room with a release store of `tail` (after reading it). */
#include "switchboard/ring.h"

#include <stdlib.h>

#define HDR 8
#define WRAP UINT32_MAX

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

sb_status_t sb_ring_init(sb_ring_t *r, size_t cap)
{
  memset(r, 0, sizeof(*r));
  cap = round8(SB_MAX(cap, (size_t)64));
  r->mem = malloc(cap);
  if (r->mem == NULL)
    return SB_ERROR;
  r->cap = cap;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  return SB_OK;
}

void sb_ring_free(sb_ring_t *r)
{
  free(r->mem);
  r->mem = NULL;
  r->cap = 0;
}

static void put_len(unsigned char *at, uint32_t len)
{
  memcpy(at, &len, sizeof(len));
}

static uint32_t get_len(const unsigned char *at)
{
  uint32_t len;
  memcpy(&len, at, sizeof(len));
  return len;
}

void *sb_ring_reserve(sb_ring_t *r, size_t len)
{
  size_t need = HDR + round8(len);
  if (len == 0 || len >= WRAP || need > r->cap)
    return NULL;
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t off = head % r->cap, to_end = r->cap - off;
  size_t skip = need <= to_end ? 0 : to_end;
  if (r->cap - (head - tail) < skip + need)
    return NULL;
  if (skip > 0) {
    /* The rest of the memory is too short: a marker sends the reader to
     * the start. `to_end` is a multiple of 8, so the marker fits. */
    put_len(r->mem + off, WRAP);
    off = 0;
  }
  r->skip = skip;
  r->reserved = need;
  return r->mem + off + HDR;
}

void sb_ring_commit(sb_ring_t *r, size_t len)
{
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t need = HDR + round8(len);
  if (r->reserved == 0 || len == 0 || need > r->reserved)
    return;
  /* the record starts where sb_ring_reserve() put it */
  size_t off = r->skip > 0 ? 0 : head % r->cap;
  put_len(r->mem + off, (uint32_t)len);
  atomic_store_explicit(&r->head, head + r->skip + need, memory_order_release);
  r->reserved = 0;
  r->skip = 0;
}

const void *sb_ring_peek(sb_ring_t *r, size_t *len)
{
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  if (tail == head)
    return NULL;
  size_t off = tail % r->cap;
  uint32_t n = get_len(r->mem + off);
  if (n == WRAP) {
    tail += r->cap - off;
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    if (tail == head)
      return NULL;
    off = 0;
    n = get_len(r->mem);
  }
  *len = n;
  return r->mem + off + HDR;
}

void sb_ring_pop(sb_ring_t *r)
{
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  size_t off = tail % r->cap;
  uint32_t n = get_len(r->mem + off);
  if (n == WRAP) {
    tail += r->cap - off;
    n = get_len(r->mem);
  }
  atomic_store_explicit(&r->tail, tail + HDR + round8(n), memory_order_release);
}

size_t sb_ring_used(sb_ring_t *r)
{
  return atomic_load_explicit(&r->head, memory_order_acquire) -
         atomic_load_explicit(&r->tail, memory_order_acquire);
}
