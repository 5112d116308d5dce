/* SPDX-License-Identifier: MIT */
/*
 * Token usage: the counts every format reports and the gateway prices,
 * meters and records.
 */
#ifndef SWITCHBOARD_USAGE_H
#define SWITCHBOARD_USAGE_H

#include <stdint.h>

typedef struct {
  uint64_t prompt;      /* all input tokens, cached ones included */
  uint64_t completion;  /* all output tokens, reasoning included */
  uint64_t cached;      /* input tokens read from the provider's cache */
  uint64_t cache_write; /* input tokens written to the cache */
  uint64_t reasoning;   /* output tokens spent reasoning */
} sb_usage_t;

/* Tokens estimated from bytes of text, 4 bytes a token rounded up: the one
 * estimate switchboard makes where a provider reports no usage. Not a
 * tokenizer (docs/accounts.md). */
static inline uint64_t sb_usage_estimate(uint64_t bytes)
{
  return (bytes + 3) / 4;
}

#endif
