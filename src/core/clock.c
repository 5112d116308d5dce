/* SPDX-License-Identifier: MIT */
/* Clocks; see include/switchboard/clock.h. */
#include "switchboard/clock.h"

#include <time.h>

uint64_t sb_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t sb_wall_ms(void)
{
  return sb_wall_us() / 1000;
}

int64_t sb_wall_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
