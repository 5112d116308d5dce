/* SPDX-License-Identifier: MIT */
/*
 * Capped growable byte buffer.
 *
 * Every buffer that holds network data has a maximum size fixed at init:
 * appends past it fail with SB_ERROR and leave the contents unchanged, so a
 * hostile peer can make a request fail but cannot make the process grow.
 * The buffer owns its heap memory; sb_buf_free() releases it.
 */
#ifndef SWITCHBOARD_BUF_H
#define SWITCHBOARD_BUF_H

#include "switchboard/common.h"

typedef struct {
  char *data;
  size_t len;
  size_t cap;
  size_t max; /* hard cap on len; 0 means SIZE_MAX */
} sb_buf_t;

void sb_buf_init(sb_buf_t *b, size_t max);
void sb_buf_free(sb_buf_t *b);

/* A buffer over `cap` bytes (cap > 0) of memory someone else owns, an
 * arena's say: it never grows out of them (an append past cap - 1 bytes
 * fails, as one past a cap does) and is never freed. */
static inline void sb_buf_init_fixed(sb_buf_t *b, char *mem, size_t cap)
{
  b->data = mem;
  b->len = 0;
  b->cap = cap;
  b->max = cap - 1;
}

/* Forget the contents, keep the memory. */
static inline void sb_buf_reset(sb_buf_t *b) { b->len = 0; }

/* The slow path of sb_buf_reserve(): grow the memory. */
sb_status_t sb_buf_grow(sb_buf_t *b, size_t extra);

/* Make room for `extra` more bytes (within the cap). Inline: the JSON
 * writer appends a few bytes at a time, and almost every append fits. */
static inline sb_status_t sb_buf_reserve(sb_buf_t *b, size_t extra)
{
  /* +1 keeps room for the NUL of sb_buf_cstr() */
  if (extra <= b->max - b->len && extra < b->cap - b->len)
    return SB_OK;
  return sb_buf_grow(b, extra);
}

static inline sb_status_t sb_buf_append(sb_buf_t *b, const void *p, size_t n)
{
  if (n == 0)
    return SB_OK;
  if (sb_buf_reserve(b, n) != SB_OK)
    return SB_ERROR;
  SB_INVARIANT(b->len + n < b->cap); /* room for the bytes and a NUL */
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return SB_OK;
}

static inline sb_status_t sb_buf_append_slice(sb_buf_t *b, sb_slice_t s)
{
  return sb_buf_append(b, s.ptr, s.len);
}
sb_status_t sb_buf_appendz(sb_buf_t *b, const char *z);
sb_status_t sb_buf_appendf(sb_buf_t *b, const char *fmt, ...) SB_PRINTF(2, 3);
sb_status_t sb_buf_append_u64(sb_buf_t *b, uint64_t v);

/* Drop the first n bytes (memmove the rest to the front). */
void sb_buf_consume(sb_buf_t *b, size_t n);

/* NUL-terminate without counting the NUL in len (for libraries that need C
 * strings). */
sb_status_t sb_buf_cstr(sb_buf_t *b);

static inline sb_slice_t sb_buf_slice(const sb_buf_t *b)
{
  return sb_slice(b->data, b->len);
}

/* Hand the memory to the caller (who frees it with free()); the buffer is
 * left empty. */
char *sb_buf_steal(sb_buf_t *b, size_t *len);

#endif
