/* SPDX-License-Identifier: MIT */
/*
 * Per-request arena: a bump allocator whose memory is freed all at once.
 *
 * A request's parsed JSON, header slices, translated bodies and stream state
 * live in one arena; sb_arena_destroy() frees them together and runs the
 * cleanup hooks (LIFO) that tie external resources to the request.
 *
 * An arena has a hard cap on the bytes it will hand out (`max`, 0 = no cap):
 * past it sb_arena_alloc() returns NULL and the request fails, the process
 * does not. Not thread-safe: an arena belongs to one worker thread.
 */
#ifndef SWITCHBOARD_ARENA_H
#define SWITCHBOARD_ARENA_H

#include "switchboard/common.h"

typedef struct sb_arena_chunk sb_arena_chunk_t;
typedef struct sb_arena_cleanup sb_arena_cleanup_t;

typedef struct {
  sb_arena_chunk_t *head; /* current chunk; older chunks follow */
  char *pos;              /* next free byte in head */
  char *end;              /* end of head */
  size_t chunk_size;      /* default size for new chunks */
  size_t used;            /* bytes handed out or reserved so far */
  size_t max;             /* cap on `used`; 0 = unlimited */
  sb_arena_cleanup_t *cleanups;
} sb_arena_t;

/* Initialise an empty arena; the first chunk is allocated lazily. */
void sb_arena_init(sb_arena_t *a, size_t chunk_size, size_t max);

/* Run cleanup hooks (last registered first), then free every chunk.
 * The arena may be initialised again afterwards. */
void sb_arena_destroy(sb_arena_t *a);

/* Run the cleanup hooks and free everything but one chunk, which is kept
 * for reuse: for scratch arenas reset once per stream event. */
void sb_arena_reset(sb_arena_t *a);

/* 16-byte aligned memory, valid until sb_arena_destroy(). NULL when the cap
 * is reached or malloc fails. */
void *sb_arena_alloc(sb_arena_t *a, size_t n);

/* Same, zero-filled. */
void *sb_arena_calloc(sb_arena_t *a, size_t n);

/* Copy bytes into the arena and NUL-terminate them (the NUL is not counted
 * in the returned slice). */
char *sb_arena_strndup(sb_arena_t *a, const char *p, size_t n);
/* x and y joined, NUL-terminated (printf's "%s%s" without parsing a
 * format, for paths run on every request). */
char *sb_arena_join(sb_arena_t *a, const char *x, const char *y);

/* Copy a slice into the arena; returns a slice of the copy (NULL ptr on
 * failure). */
sb_slice_t sb_arena_slice_dup(sb_arena_t *a, sb_slice_t s);

/* printf into the arena; NULL on failure. */
char *sb_arena_printf(sb_arena_t *a, const char *fmt, ...) SB_PRINTF(2, 3);

/* Register `fn(data)` to run when the arena is destroyed. */
sb_status_t sb_arena_on_destroy(sb_arena_t *a, void (*fn)(void *data),
                                void *data);

#endif
