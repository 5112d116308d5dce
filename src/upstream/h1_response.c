/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x response parser; see h1_response.h. A byte-at-a-time state
 * machine for heads (they are small; runs of ordinary bytes in a name or
 * a value are taken at once) and bulk slices for bodies (they are not): the body of a Content-Length or close-delimited response, and the
 * data of each chunk, come out as one slice per call without a copy.
 * Strict where framing is at stake (status line, Content-Length, chunk
 * sizes), lenient where it is not (bare LF line ends, obsolete folding,
 * chunk extensions and trailers are skipped).
 */
#include "upstream/h1_response.h"

#include <string.h>

enum {
  ST_STATUS = 0,    /* the status line */
  ST_LINE_START,    /* the start of a header line */
  ST_NAME,
  ST_VALUE,
  ST_SKIP_LINE,     /* a folded line: ignored */
  ST_HEAD_END_LF,   /* CR seen on an empty line */
  ST_BODY_LEN,
  ST_BODY_EOF,
  ST_CHUNK_SIZE,
  ST_CHUNK_EXT,
  ST_CHUNK_SIZE_LF,
  ST_CHUNK_DATA,
  ST_CHUNK_DATA_CR,
  ST_CHUNK_DATA_LF,
  ST_TRAILER_START,
  ST_TRAILER_SKIP,
  ST_TRAILER_END_LF,
  ST_DONE,
  ST_ERROR
};

enum { H_OTHER = 0, H_CONTENT_TYPE, H_RETRY_AFTER, H_CONTENT_LENGTH,
       H_TRANSFER_ENCODING, H_CONNECTION };

#define MAX_CHUNK_LINE 4096u

static const char status_prefix[] = "HTTP/1.";

void sb_h1_response_init(sb_h1_response_t *p, bool no_body)
{
  memset(p, 0, sizeof(*p));
  p->no_body = no_body;
}

static sb_h1_event_t fail(sb_h1_response_t *p, const char *why)
{
  p->state = ST_ERROR;
  p->error = why;
  return SB_H1_ERROR;
}

/* RFC 9110 token characters (header names): digits, letters and
 * !#$%&'*+-.^_`|~, as bits of the byte's value below 64 and from 64. */
#define BIT(c) (UINT64_C(1) << ((c) & 63))
static const uint64_t tchar_lo =
    UINT64_C(0x03ff000000000000) /* 0-9 */ | BIT('!') | BIT('#') | BIT('$') |
    BIT('%') | BIT('&') | BIT('\'') | BIT('*') | BIT('+') | BIT('-') |
    BIT('.');
static const uint64_t tchar_hi =
    UINT64_C(0x07fffffe07fffffe) /* A-Z, a-z */ | BIT('^') | BIT('_') |
    BIT('`') | BIT('|') | BIT('~');
#undef BIT

static bool is_tchar(unsigned char ch)
{
  if (ch < 64)
    return (tchar_lo >> ch) & 1;
  return ch < 128 && ((tchar_hi >> (ch - 64)) & 1);
}

static int hex_value(unsigned char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch |= 0x20;
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  return -1;
}

static bool lower_eq(const char *a, size_t n, const char *lit)
{
  size_t m = strlen(lit);
  if (n != m)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = a[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch + 32);
    if (ch != lit[i])
      return false;
  }
  return true;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
}

/* Does the comma-separated list `v` hold `tok` (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *tok)
{
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t s = i;
    while (i < n && v[i] != ',')
      i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
      e--;
    if (e > s && lower_eq(v + s, e - s, tok))
      return true;
  }
  return false;
}

static bool status_line_ok(sb_h1_response_t *p)
{
  const char *l = p->line;
  size_t n = p->line_len;
  if (n < 12 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
    return false;
  for (int i = 9; i < 12; i++)
    if (l[i] < '0' || l[i] > '9')
      return false;
  if (n > 12 && l[12] != ' ')
    return false;
  p->minor = (uint8_t)(l[7] - '0');
  p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  return p->status >= 100 && p->status <= 599;
}

/* A header line's value is complete (trailing blanks trimmed). */
static sb_h1_event_t end_value(sb_h1_response_t *p)
{
  size_t n = p->line_len;
  while (n > 0 && (p->line[n - 1] == ' ' || p->line[n - 1] == '\t'))
    n--;
  switch (p->hdr) {
  case H_CONTENT_TYPE:
    copy_value(p->content_type, sizeof(p->content_type), p->line, n);
    break;
  case H_RETRY_AFTER:
    copy_value(p->retry_after, sizeof(p->retry_after), p->line, n);
    break;
  case H_CONTENT_LENGTH: {
    uint64_t v = 0;
    if (n == 0 || n > 18 || p->value_trunc)
      return fail(p, "bad Content-Length in the response");
    for (size_t i = 0; i < n; i++) {
      if (p->line[i] < '0' || p->line[i] > '9')
        return fail(p, "bad Content-Length in the response");
      v = v * 10 + (uint64_t)(p->line[i] - '0');
    }
    if (p->has_length && v != p->length)
      return fail(p, "conflicting Content-Length in the response");
    p->has_length = true;
    p->length = v;
    break;
  }
  case H_TRANSFER_ENCODING: {
    /* Chunked only when it is the last coding; any other coding leaves the
     * body delimited by the connection's close. */
    size_t s = n;
    while (s > 0 && p->line[s - 1] != ',' && p->line[s - 1] != ' ' &&
           p->line[s - 1] != '\t')
      s--;
    p->chunked = !p->value_trunc && lower_eq(p->line + s, n - s, "chunked");
    if (!p->chunked)
      p->conn_close = true;
    p->te = true; /* it overrides a Content-Length */
    break;
  }
  case H_CONNECTION:
    if (has_token(p->line, n, "close"))
      p->conn_close = true;
    if (has_token(p->line, n, "keep-alive"))
      p->conn_keep = true;
    break;
  default:
    break;
  }
  p->hdr = H_OTHER;
  p->value_trunc = false;
  return SB_H1_NEED_MORE;
}

static void reset_head(sb_h1_response_t *p)
{
  p->content_type[0] = '\0';
  p->retry_after[0] = '\0';
  p->chunked = p->has_length = p->conn_close = p->conn_keep = false;
  p->te = false;
  p->length = 0;
  p->status = 0;
}

/* The empty line ending a head. */
static sb_h1_event_t end_head(sb_h1_response_t *p)
{
  if (p->status == 101)
    return fail(p, "unexpected protocol switch in the response");
  if (p->status < 200) {
    /* 1xx: an interim response; the real one follows. */
    reset_head(p);
    p->state = ST_STATUS;
    p->line_len = 0;
    return SB_H1_NEED_MORE;
  }
  bool te = p->te;
  p->ext_bytes = 0;
  p->line_len = 0;
  p->head_done = true;
  p->keep_alive = p->minor >= 1 ? !p->conn_close : p->conn_keep && !p->conn_close;
  if (p->no_body || p->status == 204 || p->status == 304) {
    p->state = ST_DONE;
  } else if (p->chunked) {
    p->state = ST_CHUNK_SIZE;
    p->left = 0;
  } else if (te) {
    p->state = ST_BODY_EOF;
    p->keep_alive = false;
  } else if (p->has_length) {
    p->left = p->length;
    p->state = p->length == 0 ? ST_DONE : ST_BODY_LEN;
  } else {
    p->state = ST_BODY_EOF;
    p->keep_alive = false;
  }
  if (te && p->has_length)
    p->keep_alive = false; /* both framings: do not trust the connection */
  return SB_H1_HEAD;
}

/* One byte of a head (status line or header lines). */
static sb_h1_event_t head_byte(sb_h1_response_t *p, unsigned char ch)
{
  if (++p->head_bytes > SB_H1_MAX_HEAD)
    return fail(p, "response header too large");
  switch (p->state) {
  case ST_STATUS:
    p->any_byte = true;
    if (ch == '\n') {
      if (!status_line_ok(p))
        return fail(p, "malformed status line in the response");
      p->state = ST_LINE_START;
      p->line_len = 0;
      return SB_H1_NEED_MORE;
    }
    if (ch == '\r')
      return SB_H1_NEED_MORE;
    if (p->line_len < sizeof(status_prefix) - 1 &&
        ch != (unsigned char)status_prefix[p->line_len])
      return fail(p, "the response is not HTTP/1.x");
    if (p->line_len < sizeof(p->line))
      p->line[p->line_len++] = (char)ch;
    return SB_H1_NEED_MORE;
  case ST_LINE_START:
    if (ch == '\r') {
      p->state = ST_HEAD_END_LF;
      return SB_H1_NEED_MORE;
    }
    if (ch == '\n')
      return end_head(p);
    if (ch == ' ' || ch == '\t') {
      p->state = ST_SKIP_LINE; /* obsolete folding: the value is dropped */
      return SB_H1_NEED_MORE;
    }
    if (!is_tchar(ch))
      return fail(p, "malformed header in the response");
    p->line_len = 0;
    p->line[p->line_len++] = (char)ch;
    p->state = ST_NAME;
    return SB_H1_NEED_MORE;
  case ST_NAME:
    if (ch == ':') {
      const char *n = p->line;
      size_t k = p->line_len;
      p->hdr = k == sizeof(p->line)           ? H_OTHER
               : lower_eq(n, k, "content-type")      ? H_CONTENT_TYPE
               : lower_eq(n, k, "retry-after")       ? H_RETRY_AFTER
               : lower_eq(n, k, "content-length")    ? H_CONTENT_LENGTH
               : lower_eq(n, k, "transfer-encoding") ? H_TRANSFER_ENCODING
               : lower_eq(n, k, "connection")        ? H_CONNECTION
                                                     : H_OTHER;
      p->line_len = 0;
      p->value_trunc = false;
      p->state = ST_VALUE;
      return SB_H1_NEED_MORE;
    }
    if (!is_tchar(ch))
      return fail(p, "malformed header in the response");
    if (p->line_len < sizeof(p->line))
      p->line[p->line_len++] = (char)ch;
    return SB_H1_NEED_MORE;
  case ST_VALUE:
    if (ch == '\n') {
      p->state = ST_LINE_START;
      return end_value(p);
    }
    if (ch == '\r')
      return SB_H1_NEED_MORE;
    if (ch == '\0')
      return fail(p, "malformed header in the response");
    if (p->hdr == H_OTHER)
      return SB_H1_NEED_MORE;
    if (p->line_len == 0 && (ch == ' ' || ch == '\t'))
      return SB_H1_NEED_MORE; /* leading blanks */
    if (p->line_len < sizeof(p->line))
      p->line[p->line_len++] = (char)ch;
    else
      p->value_trunc = true;
    return SB_H1_NEED_MORE;
  case ST_SKIP_LINE:
    if (ch == '\n')
      p->state = ST_LINE_START;
    return SB_H1_NEED_MORE;
  case ST_HEAD_END_LF:
    if (ch != '\n')
      return fail(p, "malformed header in the response");
    return end_head(p);
  default:
    return fail(p, "internal parser state");
  }
}

static sb_h1_event_t chunk_byte(sb_h1_response_t *p, unsigned char ch)
{
  switch (p->state) {
  case ST_CHUNK_SIZE: {
    if (++p->ext_bytes > MAX_CHUNK_LINE)
      return fail(p, "chunk size line too long");
    int v = hex_value(ch);
    if (v >= 0) {
      if (p->left >> 56 != 0) /* 15 hex digits is plenty */
        return fail(p, "chunk size too large");
      p->left = p->left * 16 + (uint64_t)v;
      p->line_len = 1; /* a digit was seen */
      return SB_H1_NEED_MORE;
    }
    if (p->line_len == 0)
      return fail(p, "malformed chunk size");
    if (ch == ';' || ch == ' ' || ch == '\t') {
      p->state = ST_CHUNK_EXT;
      return SB_H1_NEED_MORE;
    }
    if (ch == '\r') {
      p->state = ST_CHUNK_SIZE_LF;
      return SB_H1_NEED_MORE;
    }
    if (ch != '\n')
      return fail(p, "malformed chunk size");
    break;
  }
  case ST_CHUNK_EXT:
    if (++p->ext_bytes > MAX_CHUNK_LINE)
      return fail(p, "chunk size line too long");
    if (ch != '\n')
      return SB_H1_NEED_MORE;
    break;
  case ST_CHUNK_SIZE_LF:
    if (ch != '\n')
      return fail(p, "malformed chunk size");
    break;
  case ST_CHUNK_DATA_CR:
  case ST_CHUNK_DATA_LF:
    if (ch == '\r' && p->state == ST_CHUNK_DATA_CR) {
      p->state = ST_CHUNK_DATA_LF;
      return SB_H1_NEED_MORE;
    }
    if (ch != '\n') /* a bare LF is accepted */
      return fail(p, "malformed chunk end");
    p->state = ST_CHUNK_SIZE;
    p->left = 0;
    p->line_len = 0;
    p->ext_bytes = 0;
    return SB_H1_NEED_MORE;
  case ST_TRAILER_START:
  case ST_TRAILER_SKIP:
  case ST_TRAILER_END_LF:
    if (++p->head_bytes > SB_H1_MAX_HEAD)
      return fail(p, "response trailers too large");
    if (p->state == ST_TRAILER_END_LF) {
      if (ch != '\n')
        return fail(p, "malformed trailer");
      p->state = ST_DONE;
      return SB_H1_DONE;
    }
    if (p->state == ST_TRAILER_START) {
      if (ch == '\r') {
        p->state = ST_TRAILER_END_LF;
        return SB_H1_NEED_MORE;
      }
      if (ch == '\n') {
        p->state = ST_DONE;
        return SB_H1_DONE;
      }
      p->state = ST_TRAILER_SKIP;
    }
    if (ch == '\n')
      p->state = ST_TRAILER_START;
    return SB_H1_NEED_MORE;
  default:
    return fail(p, "internal parser state");
  }
  /* The end of a chunk-size line. */
  p->line_len = 0;
  p->ext_bytes = 0;
  p->state = p->left == 0 ? ST_TRAILER_START : ST_CHUNK_DATA;
  return SB_H1_NEED_MORE;
}

sb_h1_event_t sb_h1_response_next(sb_h1_response_t *p, const char *in,
                                  size_t len, size_t *used, sb_slice_t *body)
{
  size_t i = 0;
  sb_h1_event_t ev = SB_H1_NEED_MORE;
  *used = 0;
  while (ev == SB_H1_NEED_MORE) {
    switch (p->state) {
    case ST_DONE:
      *used = i;
      return SB_H1_DONE;
    case ST_ERROR:
      *used = i;
      return SB_H1_ERROR;
    case ST_BODY_LEN:
    case ST_CHUNK_DATA:
    case ST_BODY_EOF: {
      if (i == len)
        break;
      size_t n = len - i;
      if (p->state != ST_BODY_EOF && n > p->left)
        n = (size_t)p->left;
      body->ptr = in + i;
      body->len = n;
      i += n;
      if (p->state != ST_BODY_EOF) {
        p->left -= n;
        if (p->left == 0)
          p->state = p->state == ST_BODY_LEN ? ST_DONE : ST_CHUNK_DATA_CR;
      }
      *used = i;
      return SB_H1_BODY;
    }
    default:
      break;
    }
    if (i == len)
      break;
    if (p->state == ST_NAME ||
        (p->state == ST_VALUE && p->hdr != H_OTHER && p->line_len > 0)) {
      /* A name, or a value that is read (past its leading blanks): its
       * ordinary bytes at once, up to the byte head_byte() decides on (a
       * name's end; a value's CR, LF or NUL), minus the calls. */
      bool name = p->state == ST_NAME;
      size_t n = 0;
      while (i + n < len && (name ? is_tchar((unsigned char)in[i + n])
                                  : (unsigned char)in[i + n] > '\r'))
        n++;
      if (n > 0 && p->head_bytes + n <= SB_H1_MAX_HEAD) {
        size_t room = sizeof(p->line) - p->line_len;
        size_t kept = n < room ? n : room;
        memcpy(p->line + p->line_len, in + i, kept);
        p->line_len = (uint16_t)(p->line_len + kept);
        if (!name && kept < n)
          p->value_trunc = true; /* a name too long is simply unknown */
        p->head_bytes += (uint32_t)n;
        i += n;
        continue;
      }
    }
    if ((p->state == ST_VALUE && p->hdr == H_OTHER) ||
        p->state == ST_SKIP_LINE) {
      /* A value nobody reads, or a folded line: up to its LF at once (what
       * head_byte() would do with each of those bytes, minus the calls). */
      const char *nl = memchr(in + i, '\n', len - i);
      size_t n = nl != NULL ? (size_t)(nl - (in + i)) : len - i;
      if (n > 0 && p->head_bytes + n <= SB_H1_MAX_HEAD &&
          (p->state == ST_SKIP_LINE || memchr(in + i, '\0', n) == NULL)) {
        p->head_bytes += (uint32_t)n;
        i += n;
        continue;
      }
    }
    unsigned char ch = (unsigned char)in[i++];
    ev = p->state <= ST_HEAD_END_LF ? head_byte(p, ch) : chunk_byte(p, ch);
  }
  *used = i;
  if (ev == SB_H1_DONE)
    p->state = ST_DONE;
  return ev;
}

sb_h1_event_t sb_h1_response_eof(sb_h1_response_t *p)
{
  if (p->state == ST_DONE || p->state == ST_BODY_EOF) {
    p->state = ST_DONE;
    return SB_H1_DONE;
  }
  if (p->state != ST_ERROR)
    p->error = p->head_done ? "the connection closed before the end of the body"
               : p->any_byte ? "the connection closed inside the response head"
                             : "the server closed the connection without a response";
  p->state = ST_ERROR;
  return SB_H1_ERROR;
}
