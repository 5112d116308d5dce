/* SPDX-License-Identifier: MIT */
/*
 * Budget and rate-limit arithmetic, without locks or I/O (unit-tested on
 * its own). The key table (keys.h) holds one sb_budget_t and two
 * sb_window_t per key and calls these under the key's lock.
 *
 * Budgets: amounts are picodollars (1e-12 USD, pricing.h). A request
 * reserves its worst-case cost before it goes upstream; the reservation
 * fits when settled spend + outstanding reservations + the new one stay
 * within the limit. When the request ends its reservation is released and
 * its actual cost settled. As long as no request costs more than it
 * reserved, the settled spend can never pass the limit, whatever the
 * concurrency.
 *
 * Reset periods start on UTC boundaries: midnight (daily), Monday midnight
 * (weekly), the first of the month (monthly).
 *
 * Rate limits: a sliding 60-second window counted in 60 one-second
 * buckets, so a window is exact to the second: a request at second t
 * counts until second t+60.
 */
#ifndef SWITCHBOARD_LIMITS_H
#define SWITCHBOARD_LIMITS_H

#include "switchboard/common.h"

typedef enum {
  SB_RESET_NONE = 0,
  SB_RESET_DAILY,
  SB_RESET_WEEKLY,
  SB_RESET_MONTHLY
} sb_reset_t;

/* "daily" | "weekly" | "monthly" -> value; SB_ERROR otherwise. */
sb_status_t sb_reset_parse(sb_slice_t s, sb_reset_t *out);
/* NULL for SB_RESET_NONE. */
const char *sb_reset_name(sb_reset_t r);

/* Start (ms since the epoch, UTC) of the period containing `now_ms`.
 * SB_RESET_NONE: 0 (the period is forever). */
int64_t sb_period_start(sb_reset_t r, int64_t now_ms);
/* Start of the next period (INT64_MAX for SB_RESET_NONE). */
int64_t sb_period_next(sb_reset_t r, int64_t now_ms);

typedef struct {
  int64_t limit;        /* picodollars; < 0 = no limit */
  sb_reset_t reset;
  int64_t period_start; /* ms; the period `used` belongs to */
  int64_t used;         /* settled in the current period */
  int64_t reserved;     /* outstanding reservations */
} sb_budget_t;

/* Move to the period containing `now_ms` (used restarts at 0). */
void sb_budget_roll(sb_budget_t *b, int64_t now_ms);
/* Reserve `amount` (>= 0). SB_OK, or SB_DECLINED when it does not fit
 * (nothing changes then). */
sb_status_t sb_budget_reserve(sb_budget_t *b, int64_t amount, int64_t now_ms);
/* Release `reserved` and add `cost` to the period's spend. */
void sb_budget_settle(sb_budget_t *b, int64_t reserved, int64_t cost,
                      int64_t now_ms);
/* Limit minus settled and reserved, never below 0; -1 without a limit. */
int64_t sb_budget_remaining(const sb_budget_t *b);

#define SB_WINDOW_SECONDS 60

typedef struct {
  int64_t second[SB_WINDOW_SECONDS]; /* which second each bucket holds */
  uint64_t count[SB_WINDOW_SECONDS];
} sb_window_t;

/* Sum over the last 60 seconds (now_s - 59 .. now_s). */
uint64_t sb_window_sum(const sb_window_t *w, int64_t now_s);
void sb_window_add(sb_window_t *w, int64_t now_s, uint64_t n);
/* Seconds until the sum drops below `limit` (0 when it already is). */
uint32_t sb_window_retry_after(const sb_window_t *w, int64_t now_s,
                               uint64_t limit);
/* Seconds until the oldest counted bucket leaves the window (0 when the
 * window is empty): when the remaining allowance next grows. */
uint32_t sb_window_reset(const sb_window_t *w, int64_t now_s);

/* Tokens a request may use at most, for its reservation: estimated prompt
 * tokens (request bytes / 4 plus a margin for what the gateway adds) and
 * the completion cap. */
uint64_t sb_estimate_prompt_tokens(size_t request_bytes);

#endif
