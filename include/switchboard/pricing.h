/* SPDX-License-Identifier: MIT */
/*
 * Token usage and exact cost.
 *
 * Prices are decimal strings in USD per token (as in the catalog and in
 * OpenRouter's API). They are parsed into integer picodollars (1e-12 USD)
 * and every cost is computed and summed in integers, so there is no
 * floating-point drift anywhere between a price and the ledger.
 */
#ifndef SWITCHBOARD_PRICING_H
#define SWITCHBOARD_PRICING_H

#include "switchboard/common.h"
#include "switchboard/usage.h"

#define SB_PICO_PER_USD 1000000000000LL

typedef struct {
  int64_t prompt;      /* picodollars per token */
  int64_t completion;
  int64_t cache_read;  /* used when has_cache_read */
  int64_t cache_write; /* used when has_cache_write */
  int64_t reasoning;   /* used when has_reasoning */
  int64_t request;     /* per request */
  bool has_cache_read;
  bool has_cache_write;
  bool has_reasoning;
  /* No price is known (OpenRouter's "-1", a provider's list without
   * prices, a pass-through id): every amount above is 0, the cost is the
   * provider's own figure when it reports one, and a key with a credit
   * limit may not use it (docs/catalog.md). */
  bool unknown;
} sb_price_t;

/* "0.0000025" -> 2500000. Non-negative decimals with at most 12 fractional
 * digits (more digits must be zeros); SB_ERROR otherwise. Accepts plain
 * integers and numbers like "2.5e-6" too. */
sb_status_t sb_price_parse(sb_slice_t s, int64_t *pico);

/* Cost of `u` at `p`, in picodollars (saturating at INT64_MAX). */
int64_t sb_cost_pico(const sb_price_t *p, const sb_usage_t *u);

/* Picodollars as a decimal USD string without trailing zeros: "0.000014",
 * "0", "12.5". Returns the length written (buf >= 32 bytes). */
size_t sb_cost_format(int64_t pico, char *buf, size_t cap);

#endif
