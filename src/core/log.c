/* SPDX-License-Identifier: MIT */
/* Line-oriented stderr logging; see include/switchboard/log.h. */
#include "switchboard/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

sb_log_level_t sb_log_level = SB_LOG_INFO;

void sb_log_init(void)
{
  const char *v = getenv("SWITCHBOARD_LOG");
  if (v == NULL)
    return;
  if (strcasecmp(v, "error") == 0)
    sb_log_level = SB_LOG_ERROR;
  else if (strcasecmp(v, "warn") == 0)
    sb_log_level = SB_LOG_WARN;
  else if (strcasecmp(v, "info") == 0)
    sb_log_level = SB_LOG_INFO;
  else if (strcasecmp(v, "debug") == 0)
    sb_log_level = SB_LOG_DEBUG;
}

void sb_log(sb_log_level_t level, const char *fmt, ...)
{
  static const char *names[] = {"error", "warn", "info", "debug"};
  if (!sb_log_enabled(level))
    return;
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
  if (n < 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
