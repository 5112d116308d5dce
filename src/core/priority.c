/* SPDX-License-Identifier: MIT */
/* Idle-priority background threads; see include/switchboard/priority.h. */
#include "switchboard/priority.h"

#include <sched.h>

static void *probe_main(void *arg)
{
  struct sched_param sp = {0};
  bool *ok = arg;
  *ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 &&
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp) == 0;
  return NULL;
}

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool can_idle;

static void probe(void)
{
  pthread_t t;
  bool ok = false;
  if (pthread_create(&t, NULL, probe_main, &ok) == 0) {
    pthread_join(t, NULL);
    can_idle = ok;
  }
}

bool sb_thread_can_idle(void)
{
  pthread_once(&probe_once, probe);
  return can_idle;
}

sb_status_t sb_thread_set_idle(pthread_t t, bool idle)
{
  struct sched_param sp = {0};
  return pthread_setschedparam(t, idle ? SCHED_IDLE : SCHED_OTHER, &sp) == 0
             ? SB_OK
             : SB_ERROR;
}
