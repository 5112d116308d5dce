/* SPDX-License-Identifier: MIT */
/* Capped growable buffer; see include/switchboard/buf.h. */
#include "switchboard/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sb_buf_init(sb_buf_t *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max == 0 ? SIZE_MAX - 1 : max;
}

void sb_buf_free(sb_buf_t *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

sb_status_t sb_buf_grow(sb_buf_t *b, size_t extra)
{
  if (extra > b->max - b->len)
    return SB_ERROR;
  size_t need = b->len + extra;
  /* +1 keeps room for the NUL of sb_buf_cstr() */
  if (need + 1 <= b->cap)
    return SB_OK;
  size_t cap = b->cap < 256 ? 256 : b->cap;
  while (cap < need + 1)
    cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
  if (cap > b->max + 1)
    cap = b->max + 1;
  char *d = realloc(b->data, cap);
  if (d == NULL)
    return SB_ERROR;
  b->data = d;
  b->cap = cap;
  return SB_OK;
}

sb_status_t sb_buf_appendz(sb_buf_t *b, const char *z)
{
  return sb_buf_append(b, z, strlen(z));
}

sb_status_t sb_buf_appendf(sb_buf_t *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || sb_buf_reserve(b, (size_t)n) != SB_OK)
    return SB_ERROR;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SB_OK;
}

sb_status_t sb_buf_append_u64(sb_buf_t *b, uint64_t v)
{
  char tmp[20];
  return sb_buf_append(b, tmp, sb_u64_dec(tmp, v));
}

void sb_buf_consume(sb_buf_t *b, size_t n)
{
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

sb_status_t sb_buf_cstr(sb_buf_t *b)
{
  if (b->len + 1 > b->cap) {
    /* reserve() keeps one spare byte beyond len, unless nothing was
     * allocated yet */
    if (sb_buf_reserve(b, 0) != SB_OK || b->data == NULL) {
      char *d = realloc(b->data, b->len + 1);
      if (d == NULL)
        return SB_ERROR;
      b->data = d;
      b->cap = b->len + 1;
    }
  }
  b->data[b->len] = '\0';
  return SB_OK;
}

char *sb_buf_steal(sb_buf_t *b, size_t *len)
{
  char *d = b->data;
  if (len != NULL)
    *len = b->len;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return d;
}
