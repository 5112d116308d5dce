/* SPDX-License-Identifier: MIT */
/* W3C trace context; see include/switchboard/trace.h. */
#include "switchboard/trace.h"

static const char hexdig[] = "0123456789abcdef";

void sb_trace_hex(const uint8_t *bytes, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdig[bytes[i] >> 4];
    out[2 * i + 1] = hexdig[bytes[i] & 15];
  }
}

/* `n` bytes from 2n lower-case hex digits (the specification forbids
 * upper case). */
static bool unhex(const char *p, size_t n, uint8_t *out)
{
  for (size_t i = 0; i < n; i++) {
    int v = 0;
    for (size_t k = 0; k < 2; k++) {
      char c = p[2 * i + k];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : -1;
      if (d < 0)
        return false;
      v = v * 16 + d;
    }
    out[i] = (uint8_t)v;
  }
  return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0)
      return false;
  return true;
}

sb_status_t sb_traceparent_parse(sb_slice_t v, sb_traceparent_t *out)
{
  v = sb_slice_trim(v);
  if (v.ptr == NULL || v.len < SB_TRACEPARENT_LEN)
    return SB_ERROR;
  const char *p = v.ptr;
  uint8_t version;
  if (!unhex(p, 1, &version) || version == 0xff || p[2] != '-' ||
      p[35] != '-' || p[52] != '-')
    return SB_ERROR;
  /* Version 00 is exactly 55 bytes; a later version may add fields after
   * another dash. */
  if (v.len > SB_TRACEPARENT_LEN && (version == 0 || p[55] != '-'))
    return SB_ERROR;
  sb_traceparent_t t;
  if (!unhex(p + 3, 16, t.trace_id) || !unhex(p + 36, 8, t.span_id) ||
      !unhex(p + 53, 1, &t.flags) || all_zero(t.trace_id, 16) ||
      all_zero(t.span_id, 8))
    return SB_ERROR;
  *out = t;
  return SB_OK;
}

void sb_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8],
                           uint8_t flags, char out[SB_TRACEPARENT_LEN + 1])
{
  memcpy(out, "00-", 3);
  sb_trace_hex(trace_id, 16, out + 3);
  out[35] = '-';
  sb_trace_hex(span_id, 8, out + 36);
  out[52] = '-';
  sb_trace_hex(&flags, 1, out + 53);
  out[SB_TRACEPARENT_LEN] = '\0';
}

void sb_trace_random_id(uint8_t *out, size_t n, uint64_t (*next)(void *),
                        void *rng)
{
  do {
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = next(rng);
      memcpy(out + i, &r, SB_MIN(8, n - i));
    }
  } while (all_zero(out, n));
}

bool sb_trace_sample(double ratio, uint64_t draw)
{
  if (!(ratio > 0))
    return false;
  if (ratio >= 1)
    return true;
  /* the top 53 bits as a uniform number in [0, 1) */
  return (double)(draw >> 11) * (1.0 / 9007199254740992.0) < ratio;
}
