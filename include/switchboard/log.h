/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr: one line per message, with a UTC timestamp, the level
 * and the worker that logged it. The level comes from SWITCHBOARD_LOG
 * (error, warn, info, debug; default info) and can be set by sb_log_init().
 * Thread-safe (each line is one write()).
 */
#ifndef SWITCHBOARD_LOG_H
#define SWITCHBOARD_LOG_H

#include "switchboard/common.h"

typedef enum {
  SB_LOG_ERROR = 0,
  SB_LOG_WARN = 1,
  SB_LOG_INFO = 2,
  SB_LOG_DEBUG = 3
} sb_log_level_t;

extern sb_log_level_t sb_log_level;

/* Read SWITCHBOARD_LOG; call once at start-up. */
void sb_log_init(void);
void sb_log(sb_log_level_t level, const char *fmt, ...) SB_PRINTF(2, 3);

#define sb_log_enabled(l) ((l) <= sb_log_level)
#define SB_ERR(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)
#define SB_WARN(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define SB_INFO(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define SB_DEBUG(...)                                                          \
  do {                                                                         \
    if (sb_log_enabled(SB_LOG_DEBUG))                                          \
      sb_log(SB_LOG_DEBUG, __VA_ARGS__);                                       \
  } while (0)

#endif
