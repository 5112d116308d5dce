/* SPDX-License-Identifier: MIT */
/* Exact integer pricing; see include/switchboard/pricing.h. */
#include "switchboard/pricing.h"

#include <stdio.h>

#define FRAC_DIGITS 12

sb_status_t sb_price_parse(sb_slice_t s, int64_t *pico)
{
  size_t i = 0;
  int64_t whole = 0, frac = 0;
  int frac_digits = 0;
  bool any = false;
  while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
    if (whole > 9000000)
      return SB_ERROR; /* prices above $9M per token are not prices */
    whole = whole * 10 + (s.ptr[i] - '0');
    i++;
    any = true;
  }
  if (i < s.len && s.ptr[i] == '.') {
    i++;
    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
      if (frac_digits < FRAC_DIGITS) {
        frac = frac * 10 + (s.ptr[i] - '0');
        frac_digits++;
      } else if (s.ptr[i] != '0') {
        return SB_ERROR; /* finer than a picodollar */
      }
      i++;
      any = true;
    }
  }
  if (!any)
    return SB_ERROR;
  int exp10 = 0;
  if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
    i++;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) {
      neg = s.ptr[i] == '-';
      i++;
    }
    if (i == s.len)
      return SB_ERROR;
    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
      exp10 = exp10 * 10 + (s.ptr[i] - '0');
      if (exp10 > 40)
        return SB_ERROR;
      i++;
    }
    if (neg)
      exp10 = -exp10;
  }
  if (i != s.len)
    return SB_ERROR;
  while (frac_digits < FRAC_DIGITS) {
    frac *= 10;
    frac_digits++;
  }
  int64_t v = whole * SB_PICO_PER_USD + frac;
  for (; exp10 > 0; exp10--) {
    if (v > INT64_MAX / 10)
      return SB_ERROR;
    v *= 10;
  }
  for (; exp10 < 0; exp10++) {
    if (v % 10 != 0)
      return SB_ERROR;
    v /= 10;
  }
  *pico = v;
  return SB_OK;
}

static int64_t mul_sat(uint64_t tokens, int64_t price)
{
  if (price <= 0 || tokens == 0)
    return 0;
  if (tokens > (uint64_t)(INT64_MAX / price))
    return INT64_MAX;
  return (int64_t)tokens * price;
}

static int64_t add_sat(int64_t a, int64_t b)
{
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

int64_t sb_cost_pico(const sb_price_t *p, const sb_usage_t *u)
{
  uint64_t cached = u->cached > u->prompt ? u->prompt : u->cached;
  uint64_t writes = u->cache_write > u->prompt - cached ? u->prompt - cached
                                                        : u->cache_write;
  uint64_t plain_in = u->prompt - cached - writes;
  uint64_t reasoning = u->reasoning > u->completion ? u->completion
                                                    : u->reasoning;
  int64_t c = mul_sat(plain_in, p->prompt);
  c = add_sat(c, mul_sat(cached, p->has_cache_read ? p->cache_read : p->prompt));
  c = add_sat(c,
              mul_sat(writes, p->has_cache_write ? p->cache_write : p->prompt));
  if (p->has_reasoning) {
    c = add_sat(c, mul_sat(u->completion - reasoning, p->completion));
    c = add_sat(c, mul_sat(reasoning, p->reasoning));
  } else {
    c = add_sat(c, mul_sat(u->completion, p->completion));
  }
  return add_sat(c, p->request > 0 ? p->request : 0);
}

size_t sb_cost_format(int64_t pico, char *buf, size_t cap)
{
  /* by hand, not snprintf: every response carries a cost */
  char out[64];
  size_t n = 0;
  bool neg = pico < 0;
  uint64_t v = neg ? (uint64_t)0 - (uint64_t)pico : (uint64_t)pico;
  uint64_t whole = v / (uint64_t)SB_PICO_PER_USD;
  uint64_t frac = v % (uint64_t)SB_PICO_PER_USD;
  if (neg)
    out[n++] = '-';
  n += sb_u64_dec(out + n, whole);
  if (frac != 0) {
    char f[FRAC_DIGITS];
    for (int i = FRAC_DIGITS - 1; i >= 0; i--) {
      f[i] = (char)('0' + frac % 10);
      frac /= 10;
    }
    int len = FRAC_DIGITS;
    while (len > 0 && f[len - 1] == '0')
      len--;
    out[n++] = '.';
    memcpy(out + n, f, (size_t)len);
    n += (size_t)len;
  }
  if (cap == 0)
    return 0;
  if (n >= cap)
    n = cap - 1;
  memcpy(buf, out, n);
  buf[n] = '\0';
  return n;
}
