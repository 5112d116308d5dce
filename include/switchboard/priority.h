/* SPDX-License-Identifier: MIT */
/*
 * Background threads that yield to the workers: a thread at SCHED_IDLE
 * runs only on CPU time the workers leave, so a request that arrives
 * while it works does not wait for its time slice. Raised back to normal
 * priority when its backlog grows (by whoever sees the backlog), lowered
 * again once it caught up.
 */
#ifndef SWITCHBOARD_PRIORITY_H
#define SWITCHBOARD_PRIORITY_H

#include <pthread.h>

#include "switchboard/common.h"

/* Whether threads of this process may go to SCHED_IDLE and come back
 * (CAP_SYS_NICE or an RLIMIT_NICE of 20 or more): decided once by a probe
 * thread, then remembered. */
bool sb_thread_can_idle(void);
/* Thread `t` to SCHED_IDLE (`idle`) or SCHED_OTHER. */
sb_status_t sb_thread_set_idle(pthread_t t, bool idle);

#endif
