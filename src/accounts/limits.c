/* SPDX-License-Identifier: MIT */
/* Budget and rate-limit arithmetic; see limits.h. */
#include "switchboard/limits.h"

#define DAY_MS 86400000LL

sb_status_t sb_reset_parse(sb_slice_t s, sb_reset_t *out)
{
  if (SB_SLICE_IS(s, "daily"))
    *out = SB_RESET_DAILY;
  else if (SB_SLICE_IS(s, "weekly"))
    *out = SB_RESET_WEEKLY;
  else if (SB_SLICE_IS(s, "monthly"))
    *out = SB_RESET_MONTHLY;
  else
    return SB_ERROR;
  return SB_OK;
}

const char *sb_reset_name(sb_reset_t r)
{
  switch (r) {
  case SB_RESET_DAILY:
    return "daily";
  case SB_RESET_WEEKLY:
    return "weekly";
  case SB_RESET_MONTHLY:
    return "monthly";
  default:
    return NULL;
  }
}

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = floor_div(z, 146097);
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int64_t sb_period_start(sb_reset_t r, int64_t now_ms)
{
  int64_t day = floor_div(now_ms, DAY_MS);
  switch (r) {
  case SB_RESET_DAILY:
    return day * DAY_MS;
  case SB_RESET_WEEKLY: {
    /* 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7. */
    int64_t wd = (day + 3) % 7;
    if (wd < 0)
      wd += 7;
    return (day - wd) * DAY_MS;
  }
  case SB_RESET_MONTHLY: {
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    return days_from_civil(y, m, 1) * DAY_MS;
  }
  default:
    return 0;
  }
}

int64_t sb_period_next(sb_reset_t r, int64_t now_ms)
{
  int64_t start = sb_period_start(r, now_ms);
  switch (r) {
  case SB_RESET_DAILY:
    return start + DAY_MS;
  case SB_RESET_WEEKLY:
    return start + 7 * DAY_MS;
  case SB_RESET_MONTHLY: {
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(start, DAY_MS), &y, &m, &d);
    if (m == 12) {
      y++;
      m = 1;
    } else {
      m++;
    }
    return days_from_civil(y, m, 1) * DAY_MS;
  }
  default:
    return INT64_MAX;
  }
}

void sb_budget_roll(sb_budget_t *b, int64_t now_ms)
{
  int64_t start = sb_period_start(b->reset, now_ms);
  if (start > b->period_start) {
    b->period_start = start;
    b->used = 0;
  }
}

static int64_t sat_add(int64_t a, int64_t b)
{
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

sb_status_t sb_budget_reserve(sb_budget_t *b, int64_t amount, int64_t now_ms)
{
  if (amount < 0)
    amount = 0;
  sb_budget_roll(b, now_ms);
  if (b->limit >= 0 &&
      sat_add(sat_add(b->used, b->reserved), amount) > b->limit)
    return SB_DECLINED;
  b->reserved = sat_add(b->reserved, amount);
  return SB_OK;
}

void sb_budget_settle(sb_budget_t *b, int64_t reserved, int64_t cost,
                      int64_t now_ms)
{
  b->reserved -= reserved < 0 ? 0 : reserved;
  if (b->reserved < 0)
    b->reserved = 0;
  sb_budget_roll(b, now_ms);
  b->used = sat_add(b->used, cost < 0 ? 0 : cost);
}

int64_t sb_budget_remaining(const sb_budget_t *b)
{
  if (b->limit < 0)
    return -1;
  int64_t left = b->limit - sat_add(b->used, b->reserved);
  return left > 0 ? left : 0;
}

static bool bucket_live(const sb_window_t *w, unsigned i, int64_t now_s)
{
  return w->count[i] > 0 && w->second[i] <= now_s &&
         now_s - w->second[i] < SB_WINDOW_SECONDS;
}

static unsigned slot(int64_t s)
{
  int64_t m = s % SB_WINDOW_SECONDS;
  return (unsigned)(m < 0 ? m + SB_WINDOW_SECONDS : m);
}

uint64_t sb_window_sum(const sb_window_t *w, int64_t now_s)
{
  uint64_t sum = 0;
  for (unsigned i = 0; i < SB_WINDOW_SECONDS; i++)
    if (bucket_live(w, i, now_s))
      sum += w->count[i];
  return sum;
}

void sb_window_add(sb_window_t *w, int64_t now_s, uint64_t n)
{
  unsigned i = slot(now_s);
  if (w->second[i] != now_s) {
    w->second[i] = now_s;
    w->count[i] = 0;
  }
  w->count[i] = n > UINT64_MAX - w->count[i] ? UINT64_MAX : w->count[i] + n;
}

uint32_t sb_window_retry_after(const sb_window_t *w, int64_t now_s,
                               uint64_t limit)
{
  uint64_t sum = sb_window_sum(w, now_s);
  /* Walk the buckets oldest first: each leaves the window 60 s after its
   * second. */
  for (int64_t s = now_s - SB_WINDOW_SECONDS + 1; s <= now_s; s++) {
    if (sum < limit)
      return (uint32_t)(s - (now_s - SB_WINDOW_SECONDS + 1));
    unsigned i = slot(s);
    if (bucket_live(w, i, now_s) && w->second[i] == s)
      sum -= w->count[i];
  }
  return SB_WINDOW_SECONDS;
}

uint32_t sb_window_reset(const sb_window_t *w, int64_t now_s)
{
  for (int64_t s = now_s - SB_WINDOW_SECONDS + 1; s <= now_s; s++) {
    unsigned i = slot(s);
    if (bucket_live(w, i, now_s) && w->second[i] == s)
      return (uint32_t)(s + SB_WINDOW_SECONDS - now_s);
  }
  return 0;
}

uint64_t sb_estimate_prompt_tokens(size_t request_bytes)
{
  /* About four bytes a token for English text and JSON; the margin covers
   * the few fields the gateway adds upstream (stream_options, ...). */
  return ((uint64_t)request_bytes + 3) / 4 + 32;
}
