/* SPDX-License-Identifier: MIT */
/*
 * An incremental HTTP/1.x response parser with no I/O (the native upstream
 * client's, src/upstream/h1.c). The caller feeds whatever bytes it has and
 * pulls one event at a time:
 *   SB_H1_NEED_MORE  every byte given was consumed; feed more (or EOF);
 *   SB_H1_HEAD       the final (>= 200) head is complete: status, flags and
 *                    the copied Content-Type / Retry-After are set;
 *   SB_H1_BODY       `body` is a piece of the decoded body, pointing into
 *                    the input (chunk framing removed);
 *   SB_H1_DONE       the response is complete; bytes after it are not
 *                    consumed (`used` stops at the end of the message);
 *   SB_H1_ERROR      hostile or malformed input; `error` says why.
 * `*used` is always the number of input bytes consumed by the call. 1xx
 * heads are skipped. Every byte is looked at once; nothing is buffered
 * except the two header values kept and a few bytes of the status line, so
 * a response split anywhere gives the same events (body pieces may be cut
 * differently). Header bytes (every head, trailers included) are capped.
 */
#ifndef SWITCHBOARD_UPSTREAM_H1_RESPONSE_H
#define SWITCHBOARD_UPSTREAM_H1_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "switchboard/common.h"

#define SB_H1_MAX_HEAD (64u * 1024u)

typedef enum {
  SB_H1_NEED_MORE = 0,
  SB_H1_HEAD,
  SB_H1_BODY,
  SB_H1_DONE,
  SB_H1_ERROR
} sb_h1_event_t;

typedef struct {
  /* results */
  int status;
  bool keep_alive;        /* the connection may carry another request */
  bool head_done;
  bool any_byte;          /* at least one byte of a response was seen */
  const char *error;      /* static, set with SB_H1_ERROR */
  char content_type[128]; /* truncated if longer */
  char retry_after[64];
  /* state */
  uint8_t state;
  uint8_t hdr;            /* which header is being read */
  uint8_t minor;          /* HTTP/1.x */
  bool no_body;           /* HEAD request: no body whatever the head says */
  bool chunked;
  bool te;                /* a Transfer-Encoding was present */
  bool has_length;
  bool conn_close, conn_keep;
  bool value_trunc;
  bool cr;                /* a CR was seen at the end of the current line */
  uint16_t line_len;      /* bytes in `line` (status line or name/value) */
  char line[128];         /* status line start, header name or value */
  uint32_t head_bytes;    /* bytes of heads and trailers so far */
  uint32_t ext_bytes;     /* chunk-size line bytes */
  uint64_t length;        /* Content-Length */
  uint64_t left;          /* body or chunk bytes still to come */
} sb_h1_response_t;

/* `no_body`: the request was HEAD. */
void sb_h1_response_init(sb_h1_response_t *p, bool no_body);
sb_h1_event_t sb_h1_response_next(sb_h1_response_t *p, const char *in,
                                  size_t len, size_t *used, sb_slice_t *body);
/* The peer closed the connection: SB_H1_DONE if that completes the
 * response (a body delimited by the close), else SB_H1_ERROR. */
sb_h1_event_t sb_h1_response_eof(sb_h1_response_t *p);

#endif
