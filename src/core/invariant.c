/* SPDX-License-Identifier: MIT */
/* A broken invariant (SB_INVARIANT in include/switchboard/common.h): said
 * on stderr in one line, then abort() for a core dump. Written with
 * write(2) alone: the process is in a state it does not understand. */
#include "switchboard/common.h"

#include <stdlib.h>
#include <unistd.h>

static void say(const char *z)
{
  size_t n = strlen(z);
  while (n > 0) {
    ssize_t w = write(2, z, n);
    if (w <= 0)
      return;
    z += w;
    n -= (size_t)w;
  }
}

void sb_invariant_failed(const char *what, const char *file, int line)
{
  char num[16];
  size_t i = sizeof(num);
  num[--i] = '\0';
  unsigned v = line > 0 ? (unsigned)line : 0;
  do
    num[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0 && i > 0);
  say("switchboard: invariant broken at ");
  say(file);
  say(":");
  say(num + i);
  say(": ");
  say(what);
  say("\n");
  abort();
}
