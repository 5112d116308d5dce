/* SPDX-License-Identifier: MIT */
/*
 * A single-producer, single-consumer ring of variable-length records: one
 * thread writes records, another reads them, neither waits for the other
 * nor takes a lock (an acquire/release pair on each side's position).
 * The producer never blocks: a record that does not fit is refused, and the
 * producer counts it as lost.
 *
 * A record is written in place (reserve, fill, commit), so a producer that
 * serializes into the ring copies nothing twice; it is read in place too
 * (peek, use, pop). Records are contiguous: one that would cross the end of
 * the memory starts again at its beginning.
 */
#ifndef SWITCHBOARD_RING_H
#define SWITCHBOARD_RING_H

#include <stdatomic.h>

#include "switchboard/common.h"

typedef struct {
  unsigned char *mem;
  size_t cap;          /* bytes of `mem`, a multiple of 8 */
  _Atomic size_t head; /* next write offset (total bytes written) */
  _Atomic size_t tail; /* next read offset (total bytes read) */
  size_t reserved;     /* the producer's reservation, 0 = none */
  size_t skip;         /* bytes it leaves at the end (a wrap) */
} sb_ring_t;

/* `cap` bytes (rounded up to 8; at least 64). SB_ERROR when out of
 * memory. */
sb_status_t sb_ring_init(sb_ring_t *r, size_t cap);
void sb_ring_free(sb_ring_t *r);

/* Producer: room for a record of `len` bytes (len > 0), or NULL when the
 * ring has no room for it now. Fill it, then sb_ring_commit(). */
void *sb_ring_reserve(sb_ring_t *r, size_t len);
/* Producer: publish the reserved record with its final length (at most
 * what was reserved). */
void sb_ring_commit(sb_ring_t *r, size_t len);

/* Consumer: the oldest record (and its length), or NULL when there is
 * none. It stays valid until sb_ring_pop(). */
const void *sb_ring_peek(sb_ring_t *r, size_t *len);
void sb_ring_pop(sb_ring_t *r);

/* Bytes in use (either side; a snapshot). */
size_t sb_ring_used(sb_ring_t *r);

#endif
