/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: cmocka's includes and small helpers. */
#ifndef SWITCHBOARD_TEST_HELPERS_H
#define SWITCHBOARD_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "switchboard/common.h"

#define assert_slice_equal(s, lit)                                            \
  do {                                                                         \
    sb_slice_t s_ = (s);                                                       \
    if (!(s_.len == strlen(lit) && memcmp(s_.ptr, (lit), s_.len) == 0))        \
      fail_msg("expected \"%s\", got \"%.*s\"", (lit), (int)s_.len,            \
               s_.ptr ? s_.ptr : "");                                          \
  } while (0)

/* Read a whole file (from the repository root, where ctest runs). */
static inline char *read_file(const char *path, size_t *len)
{
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *d = malloc((size_t)n + 1);
  if (d != NULL && fread(d, 1, (size_t)n, f) != (size_t)n) {
    free(d);
    d = NULL;
  }
  fclose(f);
  if (d != NULL) {
    d[n] = '\0';
    *len = (size_t)n;
  }
  return d;
}

#endif
