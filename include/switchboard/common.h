/* SPDX-License-Identifier: MIT */
/*
 * switchboard: the vocabulary every module shares.
 *
 * - sb_status_t: the one status vocabulary. Functions that can need more
 *   input return SB_AGAIN; SB_DONE means a stream or parser reached its end;
 *   SB_DECLINED means "not mine, try the next handler"; SB_ERROR is failure.
 * - sb_slice_t: a length-carrying view of bytes that someone else owns.
 *   Wire data is always handled as slices: never strlen() on network bytes.
 */
#ifndef SWITCHBOARD_COMMON_H
#define SWITCHBOARD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
  SB_ERROR = -1,
  SB_OK = 0,
  SB_AGAIN = 1,
  SB_DONE = 2,
  SB_DECLINED = 3
} sb_status_t;

typedef struct {
  const char *ptr;
  size_t len;
} sb_slice_t;

/* A slice of a string literal, without its terminating NUL. */
#define SB_SLICE_LIT(s) ((sb_slice_t){(s), sizeof(s) - 1})
/* Literal as "pointer, length" argument pair. */
#define SB_STRLIT(s) (s), (sizeof(s) - 1)
#define SB_NULL_SLICE ((sb_slice_t){NULL, 0})

#define SB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SB_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define SB_LIKELY(x) __builtin_expect(!!(x), 1)
#define SB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SB_UNUSED __attribute__((unused))
#else
#define SB_LIKELY(x) (x)
#define SB_UNLIKELY(x) (x)
#define SB_PRINTF(f, a)
#define SB_UNUSED
#endif

/* An invariant: a fact that holds unless switchboard's own code is wrong
 * (a buffer within its bounds, a state machine in a state it can reach).
 * Checked in every build, release included: one compare, and a broken
 * invariant stops the process with the file and line instead of going on
 * with memory it no longer understands. Never for what the network sends:
 * hostile input is an error answered, not an invariant. */
#if defined(__GNUC__)
__attribute__((noreturn, cold))
#endif
void sb_invariant_failed(const char *what, const char *file, int line);
#define SB_INVARIANT(c)                                                        \
  (SB_LIKELY(c) ? (void)0 : sb_invariant_failed(#c, __FILE__, __LINE__))

/* Container-of: from a pointer to a member back to its struct. */
#define SB_CONTAINER_OF(ptr, type, member)                                     \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline sb_slice_t sb_slice(const char *p, size_t n)
{
  sb_slice_t s = {p, n};
  return s;
}

/* A slice of a NUL-terminated string that we own (never wire data). */
static inline sb_slice_t sb_slice_z(const char *z)
{
  sb_slice_t s = {z, z ? strlen(z) : 0};
  return s;
}

static inline bool sb_slice_eq(sb_slice_t a, sb_slice_t b)
{
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool sb_slice_eq_lit(sb_slice_t a, const char *lit, size_t n)
{
  return a.len == n && memcmp(a.ptr, lit, n) == 0;
}
#define SB_SLICE_IS(s, lit) sb_slice_eq_lit((s), SB_STRLIT(lit))

/* v in decimal into dst (at least 20 bytes, not NUL-terminated); returns
 * the length. printf without the format parsing, for hot paths. */
static inline size_t sb_u64_dec(char *dst, uint64_t v)
{
  char tmp[20];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  memcpy(dst, tmp + i, sizeof(tmp) - i);
  return sizeof(tmp) - i;
}

static inline bool sb_slice_starts(sb_slice_t a, const char *lit, size_t n)
{
  return a.len >= n && memcmp(a.ptr, lit, n) == 0;
}

/* ASCII case-insensitive equality (header names, schemes, hosts). */
bool sb_slice_case_eq(sb_slice_t a, sb_slice_t b);

/*
 * Parse a decimal unsigned integer occupying the whole slice.
 * Returns SB_ERROR on empty input, a non-digit, or overflow past `max`.
 */
sb_status_t sb_slice_to_u64(sb_slice_t s, uint64_t max, uint64_t *out);

/* The value of a hex digit (either case), -1 if `c` is none. */
int sb_hex_digit(char c);

/* Trim ASCII spaces and tabs at both ends. */
sb_slice_t sb_slice_trim(sb_slice_t s);

#endif
