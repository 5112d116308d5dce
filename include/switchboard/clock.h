/* SPDX-License-Identifier: MIT */
/*
 * Clocks: monotonic time for durations, wall time for what is recorded.
 */
#ifndef SWITCHBOARD_CLOCK_H
#define SWITCHBOARD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds. */
uint64_t sb_now_ns(void);
/* Wall-clock time in milliseconds / microseconds since the epoch. */
int64_t sb_wall_ms(void);
int64_t sb_wall_us(void);
/* The wall-clock time `ms` from now, as pthread_cond_timedwait() takes a
 * deadline. */
struct timespec sb_deadline_after_ms(long ms);

#endif
