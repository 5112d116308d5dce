/* SPDX-License-Identifier: MIT */
/*
 * Snapshots: read-mostly state that one thread replaces while the workers
 * keep reading it (the model catalog refreshed in the background; a
 * configuration reloaded on SIGHUP). RCU-like, with reference counts:
 *
 * - A snapshot is an immutable object that embeds an sb_snap_t (its
 *   reference count and how to free it). Build it completely, then publish
 *   it: nobody ever sees one half built.
 * - A cell holds the current snapshot. Readers take a reference when a
 *   request starts and give it back when the request ends, so an old
 *   snapshot stays alive, whole, until the last request that uses it is
 *   over; a request never sees two snapshots.
 * - The hot path is an atomic load and an atomic increment: each reading
 *   thread keeps a reader (sb_snap_reader_t) that holds a reference to the
 *   snapshot it saw last. While that is still the current one (nearly
 *   always), acquiring is "is it still current? count one more". Only the
 *   first acquisition after a publish takes the cell's mutex.
 *
 * An idle thread's reader keeps the snapshot it saw last until its next
 * acquisition (or sb_snap_reader_drop): at most one old snapshot per
 * reading thread stays in memory.
 */
#ifndef SWITCHBOARD_SNAPSHOT_H
#define SWITCHBOARD_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>

#include "switchboard/common.h"

typedef struct sb_snap sb_snap_t;
struct sb_snap {
  _Atomic uint64_t refs;
  /* Frees the object that embeds this header; called once, by whoever
   * drops the last reference (any thread). */
  void (*destroy)(sb_snap_t *s);
};

typedef struct {
  _Atomic(sb_snap_t *) cur; /* holds one reference of its own */
  pthread_mutex_t lock;     /* publish, and a reader catching up */
  _Atomic uint64_t version; /* publications so far (0 for the first) */
} sb_snap_cell_t;

/* One per reading thread; only that thread touches it. Zero-initialised
 * (or {NULL}) before the first use. */
typedef struct {
  sb_snap_t *held; /* a reference to the snapshot last acquired, or NULL */
} sb_snap_reader_t;

/* A new snapshot's header: one reference, the creator's. */
void sb_snap_init(sb_snap_t *s, void (*destroy)(sb_snap_t *s));

/* The cell starts with `first`, taking over the caller's reference. */
void sb_snap_cell_init(sb_snap_cell_t *c, sb_snap_t *first);
/* Drops the cell's reference. Every reader must have been dropped; the
 * snapshot itself lives on while references to it are held. */
void sb_snap_cell_destroy(sb_snap_cell_t *c);

/* A reference to the current snapshot, to be given back with
 * sb_snap_release(). `r` is the calling thread's reader, or NULL for a
 * thread without one (the mutex is taken then). Never fails. */
sb_snap_t *sb_snap_acquire(sb_snap_cell_t *c, sb_snap_reader_t *r);
/* Another reference to a snapshot the caller holds one to. */
sb_snap_t *sb_snap_ref(sb_snap_t *s);
/* Give a reference back; the last one frees the snapshot. NULL is a no-op. */
void sb_snap_release(sb_snap_t *s);

/* Make `next` current, taking over the caller's reference, and drop the
 * cell's reference to the previous one (freed once no reader holds it). */
void sb_snap_publish(sb_snap_cell_t *c, sb_snap_t *next);

/* Give back the reader's reference (a thread that stops reading). */
void sb_snap_reader_drop(sb_snap_reader_t *r);

#endif
