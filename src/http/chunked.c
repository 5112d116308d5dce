/* SPDX-License-Identifier: MIT */
/*
 * The chunked request body (RFC 9112, section 7.1), decoded by switchboard
 * rather than by http_parser, which in its lenient build accepts any two
 * bytes after a chunk's data and reads chunk extensions without limit.
 * A front proxy that reads such a body differently would see another
 * request boundary than switchboard does (request smuggling), so every
 * byte of the framing is checked:
 *
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk = 1*"0" [ chunk-ext ] CRLF
 *   chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] )
 *   body       = *chunk last-chunk *( field-line CRLF ) CRLF
 *
 * Line ends are CRLF (a bare LF or CR is a framing error: 400). A chunk
 * size that does not fit in what is left of the body limit is refused as
 * soon as its digits say so, and a chunk-size line longer than
 * SB_HTTP_CHUNK_LINE_MAX as soon as it passes it (413), never after the
 * request timeout. Trailer fields are checked for form and dropped.
 */
#include "switchboard/http.h"

enum {
  CK_SIZE_START, /* the first hex digit of a chunk size */
  CK_SIZE,       /* more hex digits */
  CK_SIZE_BWS,   /* whitespace after the size: only before ';' */
  CK_EXT,        /* a chunk extension, up to CR */
  CK_SIZE_LF,    /* the LF that ends the chunk-size line */
  CK_DATA,       /* chunk data */
  CK_DATA_CR,    /* the CRLF after the data */
  CK_DATA_LF,
  CK_TRAILER,    /* the start of a trailer line, or the final CRLF */
  CK_TRAILER_NAME,
  CK_TRAILER_VALUE,
  CK_TRAILER_LF,
  CK_END_LF,     /* the LF of the final CRLF */
};

/* A byte a field value or chunk extension may hold: visible ASCII, space,
 * tab, and obs-text. */
static bool is_field_byte(unsigned char c)
{
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static sb_status_t refuse(sb_http_chunked_t *ck, int status, const char *why)
{
  ck->status = status;
  ck->why = why;
  return SB_ERROR;
}

void sb_http_chunked_init(sb_http_chunked_t *ck)
{
  memset(ck, 0, sizeof(*ck));
  ck->state = CK_SIZE_START;
}

sb_status_t sb_http_chunked_feed(sb_http_chunked_t *ck, sb_buf_t *body,
                                 size_t max_trailer, const char *data,
                                 size_t len, size_t *consumed)
{
  size_t max_body = body->max == 0 ? SIZE_MAX : body->max;
  size_t i = 0;
  *consumed = 0;
  if (ck->status != 0)
    return SB_ERROR;
  while (i < len) {
    unsigned char c = (unsigned char)data[i];
    if (ck->state == CK_DATA) {
      size_t n = len - i < ck->left ? len - i : (size_t)ck->left;
      /* The size was checked against the limit: this append fits. */
      if (sb_buf_append(body, data + i, n) != SB_OK)
        return refuse(ck, 413, "request body too large");
      i += n;
      ck->left -= n;
      if (ck->left == 0)
        ck->state = CK_DATA_CR;
      continue;
    }
    i++;
    if (ck->state >= CK_TRAILER) {
      if (++ck->trailer > max_trailer)
        return refuse(ck, 431, "request trailer fields too large");
    } else if (++ck->line > SB_HTTP_CHUNK_LINE_MAX) {
      /* a chunk-size line, or the CRLF after a chunk's data */
      return refuse(ck, 413, "chunk size line too long");
    }
    switch (ck->state) {
    case CK_SIZE_START:
    case CK_SIZE: {
      int d = sb_hex_digit((char)c);
      if (d >= 0) {
        /* 413 as soon as the size is past what the body may still hold
         * (checked before it grows, so it cannot overflow either). */
        uint64_t room = max_body - body->len;
        if ((uint64_t)d > room || ck->left > (room - (uint64_t)d) / 16)
          return refuse(ck, 413, "request body too large");
        ck->left = ck->left * 16 + (uint64_t)d;
        ck->state = CK_SIZE;
      } else if (ck->state == CK_SIZE_START) {
        return refuse(ck, 400, "invalid chunk size");
      } else if (c == ';') {
        ck->state = CK_EXT;
      } else if (c == ' ' || c == '\t') {
        ck->state = CK_SIZE_BWS;
      } else if (c == '\r') {
        ck->state = CK_SIZE_LF;
      } else {
        return refuse(ck, 400, "invalid chunk size");
      }
      break;
    }
    case CK_SIZE_BWS:
      if (c == ';')
        ck->state = CK_EXT;
      else if (c != ' ' && c != '\t')
        return refuse(ck, 400, "invalid chunk size line");
      break;
    case CK_EXT:
      if (c == '\r')
        ck->state = CK_SIZE_LF;
      else if (!is_field_byte(c))
        return refuse(ck, 400, "invalid chunk extension");
      break;
    case CK_SIZE_LF:
      if (c != '\n')
        return refuse(ck, 400, "chunk size line not ended by CRLF");
      ck->state = ck->left == 0 ? CK_TRAILER : CK_DATA;
      ck->line = 0;
      break;
    case CK_DATA_CR:
      if (c != '\r')
        return refuse(ck, 400, "chunk data not followed by CRLF");
      ck->state = CK_DATA_LF;
      break;
    case CK_DATA_LF:
      if (c != '\n')
        return refuse(ck, 400, "chunk data not followed by CRLF");
      ck->state = CK_SIZE_START;
      ck->line = 0;
      break;
    case CK_TRAILER:
      if (c == '\r')
        ck->state = CK_END_LF;
      else if (sb_http_tchar(c))
        ck->state = CK_TRAILER_NAME;
      else
        return refuse(ck, 400, "invalid trailer field");
      break;
    case CK_TRAILER_NAME:
      if (c == ':')
        ck->state = CK_TRAILER_VALUE;
      else if (!sb_http_tchar(c))
        return refuse(ck, 400, "invalid trailer field name");
      break;
    case CK_TRAILER_VALUE:
      if (c == '\r')
        ck->state = CK_TRAILER_LF;
      else if (!is_field_byte(c))
        return refuse(ck, 400, "invalid trailer field value");
      break;
    case CK_TRAILER_LF:
      if (c != '\n')
        return refuse(ck, 400, "trailer field not ended by CRLF");
      ck->state = CK_TRAILER;
      break;
    case CK_END_LF:
      if (c != '\n')
        return refuse(ck, 400, "chunked body not ended by CRLF");
      *consumed = i;
      return SB_OK;
    default:
      return refuse(ck, 500, "chunked decoder in an unknown state");
    }
  }
  *consumed = len;
  return SB_AGAIN;
}
