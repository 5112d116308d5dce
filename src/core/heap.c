/* SPDX-License-Identifier: MIT */
/*
 * The allocator's settings and when to give freed memory back to the OS;
 * see include/switchboard/heap.h.
 *
 * malloc_trim() walks the free lists of every arena (each worker thread
 * has its own) and releases the whole pages of free chunks
 * (MADV_DONTNEED). It takes each arena's lock while it walks, so it runs
 * only when there is a lot to give back. The allocator counts released
 * pages as free all the same, and a free chunk that shares its pages with
 * live ones cannot be released, so the estimate can stay high after a
 * trim: the tick after one reads the resident set again, and a trim that
 * gave back little makes the next wait longer. Reading the figures
 * (mallinfo2, a walk of the bins, and /proc/self/statm) is cheap next to
 * a trim.
 */
#include "switchboard/heap.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "switchboard/log.h"

void sb_heap_tune(void)
{
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

/* Resident pages not backed by a file, from /proc/self/statm
 * ("size resident shared ...", in pages). */
static size_t anon_rss(void)
{
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  unsigned long size, resident, shared;
  if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3 ||
      resident < shared)
    return 0;
  return (size_t)(resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

void sb_heap_stats(sb_heap_stats_t *s)
{
  struct mallinfo2 mi = mallinfo2();
  s->in_use = mi.uordblks + mi.hblkhd;
  s->free = mi.fordblks;
  s->anon_rss = anon_rss();
}

size_t sb_heap_reclaimable(const sb_heap_stats_t *s)
{
  size_t beyond = s->anon_rss > s->in_use ? s->anon_rss - s->in_use : 0;
  return beyond < s->free ? beyond : s->free;
}

bool sb_heap_should_trim(const sb_heap_stats_t *s, bool quiet)
{
  size_t r = sb_heap_reclaimable(s);
  if (quiet)
    return r >= SB_HEAP_TRIM_QUIET_MIN;
  return r >= SB_HEAP_TRIM_MIN && r > s->in_use;
}

void sb_heap_trim(void)
{
  malloc_trim(0);
}

bool sb_heap_decide(sb_heap_trim_t *t, const sb_heap_stats_t *s, bool quiet)
{
  t->ticks++;
  if (t->measure) {
    t->measure = false;
    size_t gained =
        t->rss_before > s->anon_rss ? t->rss_before - s->anon_rss : 0;
    if (gained >= SB_HEAP_TRIM_PAYS)
      t->backoff = 1;
    else if (t->backoff < SB_HEAP_MAX_BACKOFF)
      t->backoff = t->backoff == 0 ? 2 : t->backoff * 2;
    t->next_tick = t->ticks + t->backoff;
  }
  if (t->ticks < t->next_tick || !sb_heap_should_trim(s, quiet))
    return false;
  t->trims++;
  t->measure = true;
  t->rss_before = s->anon_rss;
  return true;
}

bool sb_heap_tick(sb_heap_trim_t *t, uint64_t requests, uint64_t streams)
{
  bool quiet = requests == t->last_requests && streams == 0;
  t->last_requests = requests;
  sb_heap_stats_t s;
  sb_heap_stats(&s);
  if (!sb_heap_decide(t, &s, quiet))
    return false;
  sb_heap_trim();
  SB_DEBUG("memory: handed back up to %zu KB (resident %zu KB, in use %zu KB)",
           sb_heap_reclaimable(&s) >> 10, s.anon_rss >> 10, s.in_use >> 10);
  return true;
}
