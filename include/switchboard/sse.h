/* SPDX-License-Identifier: MIT */
/*
 * Incremental Server-Sent Events parser (the WHATWG event-stream format).
 *
 * Feed it bytes exactly as they arrive, in any split: one byte at a time or
 * whole events; the events dispatched are the same. Lines end with CRLF,
 * LF or CR. Fields: `data` (joined with "\n" when repeated), `event`, `id`,
 * `retry`; lines starting with ':' are comments; other fields are ignored.
 * (`data_join` can make the join a space: see the struct.)
 * An event is dispatched at a blank line if it has data. A UTF-8 BOM at the
 * very start is skipped. Bytes after the last blank line at end of input
 * are an incomplete event and are not dispatched (sb_sse_pending() tells).
 *
 * Every buffer is capped: a line or an event's data longer than `max_event`
 * fails the stream with SB_ERROR.
 */
#ifndef SWITCHBOARD_SSE_H
#define SWITCHBOARD_SSE_H

#include "switchboard/buf.h"

typedef struct {
  sb_slice_t event; /* "" when the stream did not name it */
  sb_slice_t data;
  sb_slice_t id;
} sb_sse_event_t;

/* Return SB_OK to continue, anything else stops sb_sse_feed() with that
 * status. */
typedef sb_status_t (*sb_sse_event_cb)(void *data, const sb_sse_event_t *ev);

typedef struct {
  sb_buf_t line;  /* a line split across feeds */
  sb_buf_t data;  /* the current event's data */
  sb_buf_t event; /* the current event's type */
  sb_buf_t id;
  bool skip_lf;   /* the previous byte was CR: a following LF is its pair */
  bool started;   /* past the optional BOM */
  bool has_data;
  char data_join; /* joins repeated `data` lines: '\n' (the spec's, the
                     default) or ' ' for streams of JSON, where a line
                     break between two data lines is only whitespace and
                     would split the data: line the gateway writes */
  size_t events;  /* dispatched so far */
} sb_sse_parser_t;

void sb_sse_init(sb_sse_parser_t *p, size_t max_event);
void sb_sse_free(sb_sse_parser_t *p);
void sb_sse_reset(sb_sse_parser_t *p);

/* Returns SB_OK when all bytes were consumed, SB_ERROR on overflow, or the
 * callback's non-SB_OK status (the rest of the bytes are not consumed). */
sb_status_t sb_sse_feed(sb_sse_parser_t *p, const char *bytes, size_t n,
                        sb_sse_event_cb cb, void *data);

/* Bytes of an event (or line) received but not yet dispatched. */
bool sb_sse_pending(const sb_sse_parser_t *p);

#endif
