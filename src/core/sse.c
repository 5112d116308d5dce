/* SPDX-License-Identifier: MIT */
/*
 * Incremental SSE parsing; see include/switchboard/sse.h.
 *
 * Lines are processed in place when they lie entirely inside the bytes
 * just fed (the common case: a provider writes whole events), and go
 * through the `line` buffer only when a feed ends mid-line.
 */
#include "switchboard/sse.h"

void sb_sse_init(sb_sse_parser_t *p, size_t max_event)
{
  memset(p, 0, sizeof(*p));
  p->data_join = '\n';
  sb_buf_init(&p->line, max_event);
  sb_buf_init(&p->data, max_event);
  sb_buf_init(&p->event, 256);
  sb_buf_init(&p->id, 1024);
}

void sb_sse_free(sb_sse_parser_t *p)
{
  sb_buf_free(&p->line);
  sb_buf_free(&p->data);
  sb_buf_free(&p->event);
  sb_buf_free(&p->id);
}

void sb_sse_reset(sb_sse_parser_t *p)
{
  sb_buf_reset(&p->line);
  sb_buf_reset(&p->data);
  sb_buf_reset(&p->event);
  sb_buf_reset(&p->id);
  p->skip_lf = false;
  p->started = false;
  p->has_data = false;
  p->events = 0;
}

bool sb_sse_pending(const sb_sse_parser_t *p)
{
  return p->line.len > 0 || p->has_data || p->event.len > 0;
}

static sb_status_t dispatch(sb_sse_parser_t *p, sb_sse_event_cb cb, void *ud)
{
  sb_status_t rc = SB_OK;
  if (p->has_data) {
    sb_sse_event_t ev;
    ev.event = sb_buf_slice(&p->event);
    ev.data = sb_buf_slice(&p->data);
    ev.id = sb_buf_slice(&p->id);
    if (ev.event.ptr == NULL)
      ev.event = sb_slice("", 0);
    if (ev.data.ptr == NULL)
      ev.data = sb_slice("", 0);
    p->events++;
    rc = cb(ud, &ev);
  }
  sb_buf_reset(&p->data);
  sb_buf_reset(&p->event);
  p->has_data = false;
  /* `id` persists across events, as the spec says */
  return rc;
}

static sb_status_t process_line(sb_sse_parser_t *p, const char *s, size_t n,
                                sb_sse_event_cb cb, void *ud)
{
  if (n == 0)
    return dispatch(p, cb, ud);
  if (s[0] == ':')
    return SB_OK; /* comment */
  const char *colon = memchr(s, ':', n);
  size_t flen = colon != NULL ? (size_t)(colon - s) : n;
  const char *v = colon != NULL ? colon + 1 : s + n;
  size_t vlen = (size_t)(s + n - v);
  if (vlen > 0 && v[0] == ' ') {
    v++;
    vlen--;
  }
  sb_slice_t field = sb_slice(s, flen);
  if (SB_SLICE_IS(field, "data")) {
    if (p->has_data && sb_buf_append(&p->data, &p->data_join, 1) != SB_OK)
      return SB_ERROR;
    if (sb_buf_append(&p->data, v, vlen) != SB_OK)
      return SB_ERROR;
    p->has_data = true;
  } else if (SB_SLICE_IS(field, "event")) {
    sb_buf_reset(&p->event);
    if (sb_buf_append(&p->event, v, vlen) != SB_OK)
      return SB_ERROR;
  } else if (SB_SLICE_IS(field, "id")) {
    if (memchr(v, '\0', vlen) == NULL) {
      sb_buf_reset(&p->id);
      if (sb_buf_append(&p->id, v, vlen) != SB_OK)
        return SB_ERROR;
    }
  }
  /* `retry` and unknown fields are ignored */
  return SB_OK;
}

sb_status_t sb_sse_feed(sb_sse_parser_t *p, const char *bytes, size_t n,
                        sb_sse_event_cb cb, void *ud)
{
  size_t i = 0;
  if (!p->started) {
    /* Skip a UTF-8 BOM, which may itself arrive split. */
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    while (i < n && p->line.len < 3 && bytes[i] == bom[p->line.len]) {
      if (sb_buf_append(&p->line, bytes + i, 1) != SB_OK)
        return SB_ERROR;
      i++;
    }
    if (i == n && p->line.len < 3)
      return SB_OK;
    if (p->line.len != 3 && p->line.len > 0) {
      /* Not a BOM after all: those bytes start the first line. */
    } else {
      sb_buf_reset(&p->line);
    }
    p->started = true;
  }
  /* Lines end in LF almost always: memchr finds the next one (vectorised)
   * and only the bytes before it are searched for a CR. The LF found is
   * kept until the scan passes it, so a run of CR-only lines costs one
   * pass, not one per line. */
  size_t lf_at = 0;
  bool lf_known = false;
  while (i < n) {
    if (p->skip_lf) {
      p->skip_lf = false;
      if (bytes[i] == '\n') {
        i++;
        continue;
      }
    }
    /* find the end of the line */
    const char *s = bytes + i;
    size_t left = n - i;
    if (!lf_known || lf_at < i) {
      const char *lf = memchr(s, '\n', left);
      lf_at = lf != NULL ? (size_t)(lf - bytes) : n;
      lf_known = true;
    }
    const char *cr = memchr(s, '\r', lf_at - i);
    size_t j = cr != NULL ? (size_t)(cr - s) : lf_at - i;
    if (j == left) {
      /* no terminator yet: keep the partial line */
      if (sb_buf_append(&p->line, s, left) != SB_OK)
        return SB_ERROR;
      return SB_OK;
    }
    SB_INVARIANT(j < left && (s[j] == '\r' || s[j] == '\n'));
    sb_status_t rc;
    if (p->line.len > 0) {
      if (sb_buf_append(&p->line, s, j) != SB_OK)
        return SB_ERROR;
      rc = process_line(p, p->line.data, p->line.len, cb, ud);
      sb_buf_reset(&p->line);
    } else {
      rc = process_line(p, s, j, cb, ud);
    }
    if (s[j] == '\r')
      p->skip_lf = true;
    i += j + 1;
    if (rc != SB_OK)
      return rc;
  }
  return SB_OK;
}
