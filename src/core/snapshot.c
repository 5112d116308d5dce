/* SPDX-License-Identifier: MIT */
/* Reference-counted snapshots swapped atomically; see
 * include/switchboard/snapshot.h. */
#include "switchboard/snapshot.h"

void sb_snap_init(sb_snap_t *s, void (*destroy)(sb_snap_t *s))
{
  atomic_init(&s->refs, 1);
  s->destroy = destroy;
}

void sb_snap_cell_init(sb_snap_cell_t *c, sb_snap_t *first)
{
  atomic_init(&c->cur, first);
  atomic_init(&c->version, 0);
  pthread_mutex_init(&c->lock, NULL);
}

void sb_snap_cell_destroy(sb_snap_cell_t *c)
{
  sb_snap_release(atomic_load_explicit(&c->cur, memory_order_acquire));
  atomic_store_explicit(&c->cur, NULL, memory_order_relaxed);
  pthread_mutex_destroy(&c->lock);
}

sb_snap_t *sb_snap_ref(sb_snap_t *s)
{
  /* The caller holds a reference: the count cannot reach 0 meanwhile. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void sb_snap_release(sb_snap_t *s)
{
  if (s == NULL)
    return;
  /* acq_rel: every use of the snapshot by this thread happens before the
   * destroy that another thread's last release may run. */
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
    s->destroy(s);
}

sb_snap_t *sb_snap_acquire(sb_snap_cell_t *c, sb_snap_reader_t *r)
{
  sb_snap_t *cur = atomic_load_explicit(&c->cur, memory_order_acquire);
  /* The reader's own reference keeps `held` alive (so its address cannot
   * be reused by a newer snapshot): when the cell still points at it, one
   * more reference is safe to take without the lock. */
  if (SB_LIKELY(r != NULL && cur == r->held))
    return sb_snap_ref(cur);
  /* Otherwise the snapshot may be dropped by a publish at any moment:
   * take the reference under the lock that publish holds while it
   * replaces the cell's. */
  pthread_mutex_lock(&c->lock);
  cur = atomic_load_explicit(&c->cur, memory_order_relaxed);
  atomic_fetch_add_explicit(&cur->refs, r != NULL ? 2 : 1,
                            memory_order_relaxed);
  pthread_mutex_unlock(&c->lock);
  if (r != NULL) {
    sb_snap_t *old = r->held;
    r->held = cur;
    sb_snap_release(old);
  }
  return cur;
}

void sb_snap_publish(sb_snap_cell_t *c, sb_snap_t *next)
{
  pthread_mutex_lock(&c->lock);
  sb_snap_t *old = atomic_load_explicit(&c->cur, memory_order_relaxed);
  atomic_store_explicit(&c->cur, next, memory_order_release);
  atomic_fetch_add_explicit(&c->version, 1, memory_order_relaxed);
  pthread_mutex_unlock(&c->lock);
  sb_snap_release(old);
}

void sb_snap_reader_drop(sb_snap_reader_t *r)
{
  sb_snap_release(r->held);
  r->held = NULL;
}
