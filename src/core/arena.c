/* SPDX-License-Identifier: MIT */
/*
 * Bump allocator with cleanup hooks; see include/switchboard/arena.h.
 *
 * Chunks are singly linked, newest first. An allocation larger than a
 * quarter of the chunk size gets a chunk of its own so that big bodies do
 * not waste the tail of the current chunk.
 */
#include "switchboard/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define ARENA_ALIGN 16

struct sb_arena_chunk {
  sb_arena_chunk_t *next;
  size_t size;
  /* payload follows, aligned */
};

struct sb_arena_cleanup {
  sb_arena_cleanup_t *next;
  void (*fn)(void *data);
  void *data;
};

static size_t round_up(size_t n)
{
  return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

#define CHUNK_HEADER round_up(sizeof(sb_arena_chunk_t))

void sb_arena_init(sb_arena_t *a, size_t chunk_size, size_t max)
{
  memset(a, 0, sizeof(*a));
  a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
  a->max = max;
}

void sb_arena_destroy(sb_arena_t *a)
{
  sb_arena_cleanup_t *c = a->cleanups;
  /* Hooks run newest first: a hook may use memory of the arena but never
   * a resource registered after it. */
  while (c != NULL) {
    sb_arena_cleanup_t *next = c->next;
    c->fn(c->data);
    c = next;
  }
  sb_arena_chunk_t *k = a->head;
  while (k != NULL) {
    sb_arena_chunk_t *next = k->next;
    free(k);
    k = next;
  }
  size_t chunk_size = a->chunk_size, max = a->max;
  sb_arena_init(a, chunk_size, max);
}

void sb_arena_reset(sb_arena_t *a)
{
  sb_arena_cleanup_t *c = a->cleanups;
  while (c != NULL) {
    sb_arena_cleanup_t *next = c->next;
    c->fn(c->data);
    c = next;
  }
  a->cleanups = NULL;
  /* Keep one regular-size chunk; free the rest. */
  sb_arena_chunk_t *keep = NULL, *k = a->head;
  while (k != NULL) {
    sb_arena_chunk_t *next = k->next;
    if (keep == NULL && k->size == a->chunk_size) {
      keep = k;
      keep->next = NULL;
    } else {
      free(k);
    }
    k = next;
  }
  a->head = keep;
  a->used = 0;
  if (keep != NULL) {
    a->pos = (char *)keep + CHUNK_HEADER;
    a->end = a->pos + keep->size;
  } else {
    a->pos = a->end = NULL;
  }
}

static sb_arena_chunk_t *chunk_new(size_t payload)
{
  sb_arena_chunk_t *k = malloc(CHUNK_HEADER + payload);
  if (k == NULL)
    return NULL;
  k->next = NULL;
  k->size = payload;
  return k;
}

void *sb_arena_alloc(sb_arena_t *a, size_t n)
{
  size_t need = round_up(n == 0 ? 1 : n);
  if (need < n)
    return NULL; /* overflow */
  if (a->max != 0 && (need > a->max || a->used > a->max - need))
    return NULL;
  if ((size_t)(a->end - a->pos) >= need) {
    void *p = a->pos;
    a->pos += need;
    a->used += need;
    SB_INVARIANT(a->pos <= a->end);
    return p;
  }
  if (need > a->chunk_size / 4) {
    /* Dedicated chunk, linked behind the current one so the current
     * chunk's free tail stays usable. */
    sb_arena_chunk_t *k = chunk_new(need);
    if (k == NULL)
      return NULL;
    if (a->head != NULL) {
      k->next = a->head->next;
      a->head->next = k;
    } else {
      a->head = k;
      a->pos = a->end = (char *)k + CHUNK_HEADER + need;
    }
    a->used += need;
    return (char *)k + CHUNK_HEADER;
  }
  sb_arena_chunk_t *k = chunk_new(a->chunk_size);
  if (k == NULL)
    return NULL;
  k->next = a->head;
  a->head = k;
  a->pos = (char *)k + CHUNK_HEADER;
  a->end = a->pos + a->chunk_size;
  void *p = a->pos;
  a->pos += need;
  a->used += need;
  return p;
}

void *sb_arena_calloc(sb_arena_t *a, size_t n)
{
  void *p = sb_arena_alloc(a, n);
  if (p != NULL)
    memset(p, 0, n);
  return p;
}

char *sb_arena_join(sb_arena_t *a, const char *x, const char *y)
{
  size_t nx = strlen(x), ny = strlen(y);
  char *d = sb_arena_alloc(a, nx + ny + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, x, nx);
  memcpy(d + nx, y, ny + 1);
  return d;
}

char *sb_arena_strndup(sb_arena_t *a, const char *p, size_t n)
{
  if (n == SIZE_MAX)
    return NULL;
  char *d = sb_arena_alloc(a, n + 1);
  if (d == NULL)
    return NULL;
  if (n > 0)
    memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

sb_slice_t sb_arena_slice_dup(sb_arena_t *a, sb_slice_t s)
{
  char *d = sb_arena_strndup(a, s.ptr, s.len);
  return d != NULL ? sb_slice(d, s.len) : SB_NULL_SLICE;
}

char *sb_arena_printf(sb_arena_t *a, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *d = sb_arena_alloc(a, (size_t)n + 1);
  if (d == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(d, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return d;
}

sb_status_t sb_arena_on_destroy(sb_arena_t *a, void (*fn)(void *data),
                                void *data)
{
  sb_arena_cleanup_t *c = sb_arena_alloc(a, sizeof(*c));
  if (c == NULL)
    return SB_ERROR;
  c->fn = fn;
  c->data = data;
  c->next = a->cleanups;
  a->cleanups = c;
  return SB_OK;
}
