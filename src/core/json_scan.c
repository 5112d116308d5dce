/*
 * Walking a valid JSON object's members without a DOM; see
 * include/switchboard/json_scan.h. Strings are skipped with memchr for the
 * closing quote (a quote preceded by an odd run of backslashes is
 * escaped); containers by counting brackets outside strings.
 */
#include "switchboard/json_scan.h"

#include "switchboard/json.h"

static const char *skip_ws(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* p at an opening quote: just past the closing one. */
static const char *skip_string(const char *p, const char *end)
{
  p++;
  for (;;) {
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (q == NULL)
      return end;
    size_t bs = 0;
    while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
      bs++;
    if (bs % 2 == 0)
      return q + 1;
    p = q + 1;
  }
}

static const char *skip_value(const char *p, const char *end)
{
  if (p >= end)
    return end;
  if (*p == '"')
    return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      char c = *p;
      if (c == '"') {
        p = skip_string(p, end);
        continue;
      }
      if (c == '{' || c == '[')
        depth++;
      else if (c == '}' || c == ']') {
        if (--depth == 0)
          return p + 1;
      }
      p++;
    }
    return end;
  }
  /* a number or a literal */
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
         *p != '\t' && *p != '\n' && *p != '\r')
    p++;
  return p;
}

static bool iter_init(sb_json_iter_t *it, sb_slice_t v, char open)
{
  const char *p = skip_ws(v.ptr, v.ptr + v.len);
  const char *end = v.ptr + v.len;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                     end[-1] == '\r'))
    end--;
  if (p >= end || *p != open)
    return false;
  it->p = p + 1;
  it->end = end - 1; /* at the closing bracket */
  it->array = open == '[';
  return true;
}

bool sb_json_iter_object(sb_json_iter_t *it, sb_slice_t v)
{
  return iter_init(it, v, '{');
}

bool sb_json_iter_array(sb_json_iter_t *it, sb_slice_t v)
{
  return iter_init(it, v, '[');
}

bool sb_json_iter_next(sb_json_iter_t *it, sb_json_member_t *m)
{
  const char *p = skip_ws(it->p, it->end);
  if (p < it->end && *p == ',')
    p = skip_ws(p + 1, it->end);
  if (p >= it->end)
    return false;
  const char *start = p;
  m->name = SB_NULL_SLICE;
  if (!it->array) {
    const char *q = skip_string(p, it->end);
    m->name = sb_slice(p + 1, (size_t)(q - p - 2));
    p = skip_ws(q, it->end);
    if (p < it->end && *p == ':')
      p = skip_ws(p + 1, it->end);
  }
  const char *v = p;
  p = skip_value(p, it->end);
  m->value = sb_slice(v, (size_t)(p - v));
  m->member = sb_slice(start, (size_t)(p - start));
  it->p = p;
  return true;
}

bool sb_json_name_is(const sb_json_member_t *m, const char *lit, size_t n)
{
  if (m->name.len == n && memcmp(m->name.ptr, lit, n) == 0)
    return true;
  if (memchr(m->name.ptr, '\\', m->name.len) == NULL)
    return false;
  /* an escaped name: compare its decoded bytes */
  sb_json_t s;
  memset(&s, 0, sizeof(s));
  s.type = SB_JSON_STRING;
  s.flags = SB_JSON_F_ESCAPED;
  s.raw = sb_slice(m->name.ptr - 1, m->name.len + 2);
  return sb_json_str_eq(&s, lit, n);
}

sb_slice_t sb_json_scan_string(sb_slice_t value)
{
  if (value.len < 2 || value.ptr[0] != '"')
    return SB_NULL_SLICE;
  return sb_slice(value.ptr + 1, value.len - 2);
}
