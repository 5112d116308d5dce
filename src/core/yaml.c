/* SPDX-License-Identifier: MIT */
/*
 * YAML to JSON with libyaml's event parser; see include/switchboard/yaml.h.
 *
 * The converter walks the event stream with an explicit stack of
 * "inside a mapping, expecting a key" flags so mapping keys are always
 * written as JSON strings, whatever their YAML type.
 */
#include "switchboard/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

#include "switchboard/json.h"

#define MAX_DEPTH 64

typedef struct {
  sb_jw_t w;
  bool in_map[MAX_DEPTH];
  bool expect_key[MAX_DEPTH];
  int depth;
  unsigned flags;
} conv_t;

/*
 * ${VAR} references are expanded per scalar, after YAML parsing, so a value
 * can never change the document's structure. But `{` and `}` end a plain
 * scalar inside a flow mapping (`{ api_key: ${KEY} }`, the form SPEC.md
 * uses), so before parsing each reference is rewritten to a placeholder
 * made only of characters a plain scalar may hold:
 *   ${NAME}            ->  $SBENV.NAME.n.$
 *   ${NAME:-default}   ->  $SBENV.NAME.d<hex of default>.$
 */
#define PH_OPEN "$SBENV."
#define PH_OPEN_LEN 7

static bool name_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static sb_status_t protect_refs(const char *s, size_t n, sb_buf_t *out)
{
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < n) {
    if (s[i] == '$' && i + 2 < n && s[i + 1] == '{' && name_char(s[i + 2])) {
      size_t j = i + 2;
      while (j < n && name_char(s[j]))
        j++;
      size_t name_end = j;
      const char *dflt = NULL;
      if (j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
        dflt = s + j + 2;
        j += 2;
        while (j < n && s[j] != '}' && s[j] != '\n')
          j++;
      }
      if (j < n && s[j] == '}') {
        if (sb_buf_append(out, PH_OPEN, PH_OPEN_LEN) != SB_OK ||
            sb_buf_append(out, s + i + 2, name_end - i - 2) != SB_OK ||
            sb_buf_append(out, dflt != NULL ? ".d" : ".n", 2) != SB_OK)
          return SB_ERROR;
        for (const char *d = dflt; d != NULL && d < s + j; d++) {
          char h[2] = {hex[(unsigned char)*d >> 4], hex[(unsigned char)*d & 15]};
          if (sb_buf_append(out, h, 2) != SB_OK)
            return SB_ERROR;
        }
        if (sb_buf_append(out, ".$", 2) != SB_OK)
          return SB_ERROR;
        i = j + 1;
        continue;
      }
    }
    if (sb_buf_append(out, s + i, 1) != SB_OK)
      return SB_ERROR;
    i++;
  }
  return SB_OK;
}

static int unhex(char c)
{
  return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Append `s` with placeholders expanded. Sets *all_unset when the whole
 * scalar was a single reference to an unset variable without default. */
static sb_status_t expand_env(const char *s, size_t n, sb_buf_t *out,
                              bool *all_unset)
{
  *all_unset = false;
  size_t i = 0;
  while (i < n) {
    const char *ph = NULL;
    if (s[i] == '$' && n - i > PH_OPEN_LEN &&
        memcmp(s + i, PH_OPEN, PH_OPEN_LEN) == 0)
      ph = s + i + PH_OPEN_LEN;
    const char *dot = ph != NULL ? memchr(ph, '.', n - (size_t)(ph - s)) : NULL;
    const char *close =
        dot != NULL ? memchr(dot + 1, '.', n - (size_t)(dot + 1 - s)) : NULL;
    if (close == NULL || close + 1 >= s + n || close[1] != '$') {
      if (sb_buf_append(out, s + i, 1) != SB_OK)
        return SB_ERROR;
      i++;
      continue;
    }
    char name[256];
    size_t nlen = (size_t)(dot - ph);
    if (nlen == 0 || nlen >= sizeof(name))
      return SB_ERROR;
    memcpy(name, ph, nlen);
    name[nlen] = '\0';
    bool has_default = dot[1] == 'd';
    const char *v = getenv(name);
    if (v != NULL && v[0] != '\0') {
      if (sb_buf_appendz(out, v) != SB_OK)
        return SB_ERROR;
    } else if (has_default) {
      for (const char *h = dot + 2; h + 1 < close; h += 2) {
        char c = (char)(unhex(h[0]) << 4 | unhex(h[1]));
        if (sb_buf_append(out, &c, 1) != SB_OK)
          return SB_ERROR;
      }
    } else if (i == 0 && (size_t)(close + 2 - s) == n) {
      *all_unset = true;
    }
    i = (size_t)(close + 2 - s);
  }
  return SB_OK;
}

static bool is_int(const char *s, size_t n)
{
  size_t i = 0;
  if (n > 0 && (s[0] == '-' || s[0] == '+'))
    i = 1;
  if (i == n || n - i > 18)
    return false;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static bool is_float(const char *s, size_t n)
{
  /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '-' || s[i] == '+'))
    i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    i++;
    digits++;
  }
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      i++;
      digits++;
    }
  }
  if (digits == 0)
    return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
      i++;
    size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      i++;
      e++;
    }
    if (e == 0)
      return false;
  }
  return i == n;
}

/* Is s a number in JSON's own grammar? Then it is copied as written, so a
 * price like 0.00000059 keeps its exact decimal digits. */
static bool is_json_number(const char *s, size_t n)
{
  size_t i = 0;
  if (i < n && s[i] == '-')
    i++;
  if (i == n)
    return false;
  if (s[i] == '0')
    i++;
  else if (s[i] >= '1' && s[i] <= '9')
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  else
    return false;
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return false;
  }
  return i == n;
}

/* Write a YAML number in strict JSON form (no leading '+', no bare '.5'). */
static void write_number(sb_jw_t *w, const char *s, size_t n)
{
  char tmp[64];
  if (is_json_number(s, n)) {
    sb_jw_raw(w, s, n);
    return;
  }
  if (n >= sizeof(tmp)) {
    sb_jw_str(w, s, n);
    return;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  if (is_int(s, n)) {
    sb_jw_int(w, strtoll(tmp, NULL, 10));
    return;
  }
  sb_jw_double(w, strtod(tmp, NULL));
}

static void write_scalar(conv_t *c, const yaml_event_t *ev, sb_buf_t *tmp)
{
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  bool unset = false;
  if (c->flags & SB_YAML_EXPAND_ENV) {
    sb_buf_reset(tmp);
    if (expand_env(s, n, tmp, &unset) != SB_OK) {
      c->w.status = SB_ERROR;
      return;
    }
    s = tmp->data != NULL ? tmp->data : "";
    n = tmp->len;
  }
  int d = c->depth;
  if (d > 0 && c->in_map[d - 1] && c->expect_key[d - 1]) {
    sb_jw_key(&c->w, s, n);
    c->expect_key[d - 1] = false;
    return;
  }
  if (d > 0 && c->in_map[d - 1])
    c->expect_key[d - 1] = true;
  if (unset) {
    sb_jw_null(&c->w);
    return;
  }
  if (plain) {
    sb_slice_t v = sb_slice(s, n);
    if (n == 0 || SB_SLICE_IS(v, "~") || SB_SLICE_IS(v, "null") ||
        SB_SLICE_IS(v, "Null") || SB_SLICE_IS(v, "NULL")) {
      sb_jw_null(&c->w);
      return;
    }
    if (SB_SLICE_IS(v, "true") || SB_SLICE_IS(v, "True") ||
        SB_SLICE_IS(v, "TRUE")) {
      sb_jw_bool(&c->w, true);
      return;
    }
    if (SB_SLICE_IS(v, "false") || SB_SLICE_IS(v, "False") ||
        SB_SLICE_IS(v, "FALSE")) {
      sb_jw_bool(&c->w, false);
      return;
    }
    if (is_int(s, n) || is_float(s, n)) {
      write_number(&c->w, s, n);
      return;
    }
  }
  sb_jw_str(&c->w, s, n);
}

/* Containers as mapping keys are not representable in JSON. */
static bool key_position(const conv_t *c)
{
  return c->depth > 0 && c->in_map[c->depth - 1] &&
         c->expect_key[c->depth - 1];
}

static void open_container(conv_t *c, bool map)
{
  if (c->depth > 0 && c->in_map[c->depth - 1])
    c->expect_key[c->depth - 1] = true;
  if (c->depth >= MAX_DEPTH) {
    c->w.status = SB_ERROR;
    return;
  }
  c->in_map[c->depth] = map;
  c->expect_key[c->depth] = true;
  c->depth++;
  if (map)
    sb_jw_obj_begin(&c->w);
  else
    sb_jw_arr_begin(&c->w);
}

sb_status_t sb_yaml_to_json(const char *data, size_t len, unsigned flags,
                            sb_buf_t *out, char *err, size_t errlen)
{
  yaml_parser_t p;
  yaml_event_t ev;
  conv_t c;
  sb_buf_t tmp;
  sb_status_t rc = SB_ERROR;
  bool done = false, have_root = false;

  memset(&c, 0, sizeof(c));
  sb_jw_init(&c.w, out);
  c.flags = flags;
  sb_buf_init(&tmp, 1 << 20);
  if (!yaml_parser_initialize(&p)) {
    snprintf(err, errlen, "out of memory");
    sb_buf_free(&tmp);
    return SB_ERROR;
  }
  sb_buf_t protected_text;
  sb_buf_init(&protected_text, len * 4 + 64);
  if (flags & SB_YAML_EXPAND_ENV) {
    if (protect_refs(data, len, &protected_text) != SB_OK) {
      snprintf(err, errlen, "document too large");
      yaml_parser_delete(&p);
      sb_buf_free(&protected_text);
      sb_buf_free(&tmp);
      return SB_ERROR;
    }
    data = protected_text.data != NULL ? protected_text.data : "";
    len = protected_text.len;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
  while (!done) {
    if (!yaml_parser_parse(&p, &ev)) {
      snprintf(err, errlen, "line %zu column %zu: %s",
               p.problem_mark.line + 1, p.problem_mark.column + 1,
               p.problem ? p.problem : "syntax error");
      goto out;
    }
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
      have_root = true;
      write_scalar(&c, &ev, &tmp);
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      if (key_position(&c)) {
        snprintf(err, errlen, "line %zu: mapping keys must be scalars",
                 ev.start_mark.line + 1);
        yaml_event_delete(&ev);
        goto out;
      }
      have_root = true;
      open_container(&c, ev.type == YAML_MAPPING_START_EVENT);
      break;
    case YAML_SEQUENCE_END_EVENT:
      c.depth--;
      sb_jw_arr_end(&c.w);
      break;
    case YAML_MAPPING_END_EVENT:
      c.depth--;
      sb_jw_obj_end(&c.w);
      break;
    case YAML_ALIAS_EVENT:
      snprintf(err, errlen, "line %zu: aliases are not supported",
               ev.start_mark.line + 1);
      yaml_event_delete(&ev);
      goto out;
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
    if (sb_jw_status(&c.w) != SB_OK) {
      snprintf(err, errlen, "document too large or too deep");
      goto out;
    }
  }
  if (!have_root)
    sb_jw_null(&c.w);
  rc = SB_OK;
out:
  yaml_parser_delete(&p);
  sb_buf_free(&protected_text);
  sb_buf_free(&tmp);
  return rc;
}

sb_status_t sb_yaml_front_matter(sb_slice_t file, sb_slice_t *yaml)
{
  if (!sb_slice_starts(file, SB_STRLIT("---\n")))
    return SB_DECLINED;
  const char *start = file.ptr + 4, *end = file.ptr + file.len;
  const char *p = start;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t linelen = (size_t)((nl != NULL ? nl : end) - p);
    if (linelen == 3 && memcmp(p, "---", 3) == 0) {
      *yaml = sb_slice(start, (size_t)(p - start));
      return SB_OK;
    }
    if (nl == NULL)
      break;
    p = nl + 1;
  }
  return SB_DECLINED;
}
