/* SPDX-License-Identifier: MIT */
/* Slice helpers; see include/switchboard/common.h. */
#include "switchboard/common.h"

static inline unsigned char lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool sb_slice_case_eq(sb_slice_t a, sb_slice_t b)
{
  if (a.len != b.len)
    return false;
  for (size_t i = 0; i < a.len; i++)
    if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
      return false;
  return true;
}

sb_status_t sb_slice_to_u64(sb_slice_t s, uint64_t max, uint64_t *out)
{
  if (s.len == 0 || s.len > 20)
    return SB_ERROR;
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    unsigned d = (unsigned)((unsigned char)s.ptr[i] - '0');
    if (d > 9)
      return SB_ERROR;
    if (v > (max - d) / 10)
      return SB_ERROR;
    v = v * 10 + d;
  }
  *out = v;
  return SB_OK;
}

sb_slice_t sb_slice_trim(sb_slice_t s)
{
  while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
    s.ptr++;
    s.len--;
  }
  while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
    s.len--;
  return s;
}

int sb_hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
