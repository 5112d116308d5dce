/* SPDX-License-Identifier: MIT */
/*
 * The allocator's settings, and giving freed memory back to the OS.
 *
 * sb_heap_tune() makes glibc keep freed memory for reuse: by default it
 * serves buffers of a few hundred KB and more from fresh mappings and trims
 * freed heap tops, so every large request body (a long agent context) paid
 * a page fault per 4 KB for each buffer it passed through (~15 ms for a
 * 1 MB body). Kept, the pages stay mapped under steady traffic.
 *
 * Kept for good, though, a burst of thousands of streams would leave its
 * high-water mark resident after the load is gone. So worker 0 calls
 * sb_heap_tick() on a timer, which hands the free memory back when the
 * free memory still resident is large next to what is in use (the load has
 * fallen since a peak), or when the gateway is quiet. A trickle of requests
 * (health checks, a metrics scrape) does not stop it; steady load never
 * triggers it.
 */
#ifndef SWITCHBOARD_HEAP_H
#define SWITCHBOARD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t in_use;    /* bytes handed out by the allocator */
  size_t free;      /* bytes the allocator holds free, resident or not */
  size_t anon_rss;  /* resident memory not backed by a file */
} sb_heap_stats_t;

typedef struct {
  uint64_t last_requests; /* the request count at the previous tick */
  uint64_t ticks;
  uint64_t trims;         /* how many times memory was handed back */
  /* A trim that gave back little (the free memory was in pages that live
   * chunks share, or already given back) makes the next one wait twice as
   * many ticks, up to SB_HEAP_MAX_BACKOFF; one that pays resets it. */
  uint64_t next_tick;
  unsigned backoff;
  size_t rss_before;      /* at the last trim */
  bool measure;           /* the tick after a trim sees what it gave back */
} sb_heap_trim_t;

/* Free resident memory worth handing back under load: at least this much,
 * and more than what is in use. When quiet, any amount past the floor. A
 * trim that gives back less than SB_HEAP_TRIM_PAYS backs off. */
#define SB_HEAP_TRIM_MIN (4u << 20)
#define SB_HEAP_TRIM_QUIET_MIN (256u << 10)
#define SB_HEAP_TRIM_PAYS (1u << 20)
#define SB_HEAP_MAX_BACKOFF 64u

/* Set the allocator's thresholds; once, at start-up, before threads. */
void sb_heap_tune(void);

/* The allocator's and the process's current figures. */
void sb_heap_stats(sb_heap_stats_t *s);

/* What a trim could give back: the free memory that is still resident,
 * estimated as the smaller of the allocator's free bytes and the anonymous
 * resident memory beyond what is in use. */
size_t sb_heap_reclaimable(const sb_heap_stats_t *s);

/* The decision alone (pure, for tests): quiet = no request since the
 * previous tick and no open stream. */
bool sb_heap_should_trim(const sb_heap_stats_t *s, bool quiet);

/* The pacing and the decision of one tick, given the figures (pure, for
 * tests): true = trim now. */
bool sb_heap_decide(sb_heap_trim_t *t, const sb_heap_stats_t *s, bool quiet);

/* One tick: read the figures, decide, and hand the free memory back when
 * it pays. `requests` is the gateway's request count so far, `streams` its
 * open streams. True when memory was handed back. */
bool sb_heap_tick(sb_heap_trim_t *t, uint64_t requests, uint64_t streams);

/* Hand back the free pages of every heap of the process, now. */
void sb_heap_trim(void);

#endif
