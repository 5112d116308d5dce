/* SPDX-License-Identifier: MIT */
/*
 * Incremental HTTP/1.1 request parsing on top of http_parser, with caps.
 *
 * http_parser hands out pointers into the caller's read buffer, which is
 * reused between reads, so every byte of the request line and headers is
 * copied into `head` as it arrives (capped by max_header_bytes) and the body
 * into `body` (capped by max_body_bytes). Only when the request is complete
 * are slices made, in the exchange's arena.
 *
 * Where http_parser is lenient and a front proxy could read the same bytes
 * differently (request smuggling), switchboard checks for itself: the
 * request line and line folding (scan_head, before http_parser sees the
 * bytes), Host and Transfer-Encoding (on_headers_complete), the target's
 * length (on_url), and chunked bodies, which it decodes itself (chunked.c).
 */
#include <limits.h>
#include <stdlib.h>

#include "switchboard/http.h"

#define FIELD_SLOTS 4 /* name start, name end, value start, value end */

static sb_http_parser_t *parser_of(http_parser *hp)
{
  return SB_CONTAINER_OF(hp, sb_http_parser_t, hp);
}

static int refuse(sb_http_parser_t *p, int status, const char *why)
{
  if (p->error_status == 0) {
    p->error_status = status;
    p->error = why;
  }
  return -1;
}

static int head_append(sb_http_parser_t *p, const char *at, size_t n)
{
  if (sb_buf_append(&p->head, at, n) != SB_OK)
    return refuse(p, 431, "request header fields too large");
  return 0;
}

static int on_message_begin(http_parser *hp)
{
  (void)hp;
  return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
  sb_http_parser_t *p = parser_of(hp);
  size_t cap = p->limits->max_target_bytes != 0 ? p->limits->max_target_bytes
                                                : p->limits->max_header_bytes;
  /* The target is the first thing in `head`. */
  if (n > cap - p->head.len)
    return refuse(p, 414, "request target too long");
  if (head_append(p, at, n) != 0)
    return -1;
  p->url_end = p->head.len;
  return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
  sb_http_parser_t *p = parser_of(hp);
  if (p->n_fields == 0 || p->in_value) {
    /* a new field begins */
    if (p->n_fields >= p->limits->max_headers)
      return refuse(p, 431, "too many header fields");
    if (p->n_fields == p->field_cap) {
      size_t cap = p->field_cap == 0 ? 16 : p->field_cap * 2;
      size_t *f = realloc(p->field_off, cap * FIELD_SLOTS * sizeof(size_t));
      if (f == NULL)
        return refuse(p, 500, "out of memory");
      p->field_off = f;
      p->field_cap = cap;
    }
    size_t *f = p->field_off + p->n_fields * FIELD_SLOTS;
    f[0] = f[1] = f[2] = f[3] = p->head.len;
    p->n_fields++;
    p->in_value = false;
  }
  if (head_append(p, at, n) != 0)
    return -1;
  p->field_off[(p->n_fields - 1) * FIELD_SLOTS + 1] = p->head.len;
  p->field_off[(p->n_fields - 1) * FIELD_SLOTS + 2] = p->head.len;
  p->field_off[(p->n_fields - 1) * FIELD_SLOTS + 3] = p->head.len;
  return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
  sb_http_parser_t *p = parser_of(hp);
  if (p->n_fields == 0)
    return refuse(p, 400, "malformed header");
  p->in_value = true;
  if (head_append(p, at, n) != 0)
    return -1;
  p->field_off[(p->n_fields - 1) * FIELD_SLOTS + 3] = p->head.len;
  return 0;
}

static bool field_is(const sb_http_parser_t *p, size_t i, const char *lit,
                     size_t n)
{
  const size_t *f = p->field_off + i * FIELD_SLOTS;
  return sb_slice_case_eq(sb_slice(p->head.data + f[0], f[1] - f[0]),
                          sb_slice(lit, n));
}

static sb_slice_t field_value(const sb_http_parser_t *p, size_t i)
{
  const size_t *f = p->field_off + i * FIELD_SLOTS;
  return sb_slice_trim(sb_slice(p->head.data + f[2], f[3] - f[2]));
}

bool sb_http_tchar(unsigned char c)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c != 0 && strchr(extra, c) != NULL);
}

/* What a field name may be. http_parser in its default (lenient) mode
 * lets other characters through. */
static bool is_token(sb_slice_t s)
{
  if (s.len == 0)
    return false;
  for (size_t i = 0; i < s.len; i++)
    if (!sb_http_tchar((unsigned char)s.ptr[i]))
      return false;
  return true;
}

/* Host (RFC 9112, 3.2): exactly one in HTTP/1.1, at most one in
 * HTTP/1.0, and a uri-host [":" port] (possibly empty). */
static int check_host(sb_http_parser_t *p, const http_parser *hp)
{
  static const char allowed[] = "-._~%!$&'()*+,;=:[]";
  size_t hosts = 0;
  for (size_t i = 0; i < p->n_fields; i++) {
    if (!field_is(p, i, SB_STRLIT("host")))
      continue;
    if (++hosts > 1)
      return refuse(p, 400, "more than one Host header");
    sb_slice_t v = field_value(p, i);
    for (size_t j = 0; j < v.len; j++) {
      unsigned char c = (unsigned char)v.ptr[j];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || (c != 0 && strchr(allowed, c) != NULL)))
        return refuse(p, 400, "invalid Host header");
    }
  }
  if (hosts == 0 && hp->http_minor == 1)
    return refuse(p, 400, "HTTP/1.1 request without a Host header");
  return 0;
}

/* Transfer-Encoding (RFC 9112, 6.1 and 6.3), over every such field: the
 * codings must end with chunked, which appears once; other codings are
 * not implemented. Sets body_chunked. */
static int check_transfer_encoding(sb_http_parser_t *p, const http_parser *hp)
{
  size_t codings = 0, chunked = 0;
  bool last_chunked = false, present = false;
  for (size_t i = 0; i < p->n_fields; i++) {
    if (!field_is(p, i, SB_STRLIT("transfer-encoding")))
      continue;
    present = true;
    sb_slice_t v = field_value(p, i);
    while (v.len > 0) {
      const char *comma = memchr(v.ptr, ',', v.len);
      size_t n = comma != NULL ? (size_t)(comma - v.ptr) : v.len;
      sb_slice_t coding = sb_slice_trim(sb_slice(v.ptr, n));
      v = comma != NULL ? sb_slice(comma + 1, v.len - n - 1) : sb_slice(v.ptr + n, 0);
      if (coding.len == 0)
        continue; /* an empty list element */
      codings++;
      last_chunked = sb_slice_case_eq(coding, SB_SLICE_LIT("chunked"));
      if (last_chunked)
        chunked++;
    }
  }
  if (!present)
    return 0;
  if (hp->http_minor == 0)
    return refuse(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
  if (!last_chunked)
    return refuse(p, 400, "Transfer-Encoding does not end with chunked");
  if (chunked > 1)
    return refuse(p, 400, "chunked applied more than once");
  if (codings > 1)
    return refuse(p, 501, "transfer coding not implemented");
  p->body_chunked = true;
  return 0;
}

static int on_headers_complete(http_parser *hp)
{
  sb_http_parser_t *p = parser_of(hp);
  p->headers_done = true;
  for (size_t i = 0; i < p->n_fields; i++) {
    const size_t *f = p->field_off + i * FIELD_SLOTS;
    if (!is_token(sb_slice(p->head.data + f[0], f[1] - f[0])))
      return refuse(p, 400, "invalid header field name");
  }
  /* scan_head let only HTTP/1.0 and HTTP/1.1 through */
  if (check_host(p, hp) != 0 || check_transfer_encoding(p, hp) != 0)
    return -1;
  /* 426 at once: a client that tries WebSocket first (the Responses
   * API's WebSocket mode) takes it as "use plain HTTP" and does not retry */
  if (hp->upgrade && hp->method != HTTP_CONNECT)
    return refuse(p, 426, "protocol upgrade (WebSocket) is not supported: "
                          "send plain HTTP requests");
  if (hp->method == HTTP_CONNECT)
    return refuse(p, 405, "CONNECT is not supported");
  for (size_t i = 0; i < p->n_fields; i++) {
    if (field_is(p, i, SB_STRLIT("expect"))) {
      if (sb_slice_case_eq(field_value(p, i), SB_SLICE_LIT("100-continue")))
        p->expect_continue = true;
      else
        return refuse(p, 417, "unsupported Expect value");
    }
  }
  /* http_parser sets content_length to ULLONG_MAX when absent. */
  if (!p->body_chunked && hp->content_length != ULLONG_MAX &&
      hp->content_length > p->limits->max_body_bytes)
    return refuse(p, 413, "request body too large");
  /* 1: http_parser takes the message as bodiless and stops; the chunked
   * body is switchboard's (chunked.c). */
  return p->body_chunked ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
  sb_http_parser_t *p = parser_of(hp);
  if (sb_buf_append(&p->body, at, n) != SB_OK)
    return refuse(p, 413, "request body too large");
  return 0;
}

static int on_message_complete(http_parser *hp)
{
  sb_http_parser_t *p = parser_of(hp);
  /* A chunked request is complete when its body is (sb_http_parser_feed);
   * here only its head is. */
  if (!p->body_chunked)
    p->complete = true;
  /* Stop here: bytes after this belong to the body or to the next
   * (pipelined) request, which waits until this one is answered. */
  http_parser_pause(hp, 1);
  return 0;
}

/* ---- the head as switchboard checks it -------------------------------
 * http_parser (as Debian builds it) accepts a request line without a
 * version (read as HTTP/0.9, headers and all), any one-digit version,
 * several spaces between the words, tabs in the target, and obsolete line
 * folding. scan_head runs over the head's bytes before http_parser does
 * and refuses those at the byte that shows them. */

enum {
  SCAN_LEAD,        /* empty lines before the request line */
  SCAN_WORD,        /* the request line's words */
  SCAN_LINE_CR,     /* the CR that ends the request line */
  SCAN_FIELD_START, /* the first byte of a field line, or the end */
  SCAN_FIELD,       /* the rest of a field line */
  SCAN_END_LF,      /* the LF of the empty line that ends the head */
  SCAN_DONE,
};

#define MAX_LEADING_EOL 4 /* "SHOULD ignore at least one empty line" */

static int request_line_end(sb_http_parser_t *p)
{
  const char *v = p->version;
  if (p->word_len == 0)
    return refuse(p, 400, "malformed request line");
  if (p->words == 2)
    return refuse(p, 400, "request line without an HTTP version");
  if (p->words < 2)
    return refuse(p, 400, "malformed request line");
  if (p->word_len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
      v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
    return refuse(p, 400, "malformed HTTP version");
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
    return refuse(p, 505, "HTTP version not supported (1.0 and 1.1 are)");
  return 0;
}

static int scan_head(sb_http_parser_t *p, const char *data, size_t len)
{
  for (size_t i = 0; i < len && p->scan != SCAN_DONE; i++) {
    unsigned char c = (unsigned char)data[i];
    switch (p->scan) {
    case SCAN_LEAD:
      if (c == '\r' || c == '\n') {
        if (++p->lead > MAX_LEADING_EOL)
          return refuse(p, 400, "empty lines before the request line");
        break;
      }
      p->scan = SCAN_WORD;
      p->words = 1;
      p->word_len = 0;
      /* fall through */
    case SCAN_WORD:
      if (c == ' ') {
        if (p->word_len == 0 || ++p->words > 3)
          return refuse(p, 400, "malformed request line");
        p->word_len = 0;
      } else if (c == '\r') {
        p->scan = SCAN_LINE_CR;
      } else if (c == '\n') {
        if (request_line_end(p) != 0)
          return -1;
        p->scan = SCAN_FIELD_START;
      } else if (c < 0x21 || c == 0x7f) {
        return refuse(p, 400, "invalid character in the request line");
      } else {
        if (p->word_len < sizeof(p->version))
          p->version[p->word_len] = (char)c;
        if (p->word_len < UCHAR_MAX)
          p->word_len++;
      }
      break;
    case SCAN_LINE_CR:
      if (c != '\n')
        return refuse(p, 400, "request line not ended by CRLF");
      if (request_line_end(p) != 0)
        return -1;
      p->scan = SCAN_FIELD_START;
      break;
    case SCAN_FIELD_START:
      if (c == ' ' || c == '\t')
        return refuse(p, 400, "field line begins with whitespace "
                              "(obsolete line folding)");
      p->scan = c == '\r' ? SCAN_END_LF : c == '\n' ? SCAN_DONE : SCAN_FIELD;
      break;
    case SCAN_FIELD: {
      const char *nl = memchr(data + i, '\n', len - i);
      if (nl == NULL)
        return 0;
      i = (size_t)(nl - data);
      p->scan = SCAN_FIELD_START;
      break;
    }
    case SCAN_END_LF:
      if (c != '\n')
        return refuse(p, 400, "head not ended by CRLF");
      p->scan = SCAN_DONE;
      break;
    }
  }
  return 0;
}

void sb_http_parser_init(sb_http_parser_t *p, const sb_http_limits_t *limits)
{
  memset(p, 0, sizeof(*p));
  p->limits = limits;
  http_parser_settings_init(&p->settings);
  p->settings.on_message_begin = on_message_begin;
  p->settings.on_url = on_url;
  p->settings.on_header_field = on_header_field;
  p->settings.on_header_value = on_header_value;
  p->settings.on_headers_complete = on_headers_complete;
  p->settings.on_body = on_body;
  p->settings.on_message_complete = on_message_complete;
  sb_buf_init(&p->head, limits->max_header_bytes);
  sb_buf_init(&p->body, limits->max_body_bytes);
  sb_http_chunked_init(&p->chunked);
  http_parser_init(&p->hp, HTTP_REQUEST);
}

void sb_http_parser_free(sb_http_parser_t *p)
{
  sb_buf_free(&p->head);
  sb_buf_free(&p->body);
  free(p->field_off);
  p->field_off = NULL;
}

void sb_http_parser_reset(sb_http_parser_t *p)
{
  sb_buf_reset(&p->head);
  sb_buf_reset(&p->body);
  /* A big body's memory is not kept for the next request on an idle
   * connection. */
  if (p->body.cap > 64 * 1024) {
    sb_buf_free(&p->body);
    sb_buf_init(&p->body, p->limits->max_body_bytes);
  }
  p->url_end = 0;
  p->n_fields = 0;
  p->in_value = false;
  p->headers_done = false;
  p->complete = false;
  p->expect_continue = false;
  p->body_chunked = false;
  p->scan = SCAN_LEAD;
  p->lead = 0;
  p->words = 0;
  p->word_len = 0;
  sb_http_chunked_init(&p->chunked);
  p->error_status = 0;
  p->error = NULL;
  http_parser_init(&p->hp, HTTP_REQUEST);
}

/* The chunked body, from `data`, once the head is parsed. */
static sb_status_t feed_chunked(sb_http_parser_t *p, const char *data,
                                size_t len, size_t *consumed)
{
  size_t used = 0;
  sb_status_t rc = sb_http_chunked_feed(
      &p->chunked, &p->body, p->limits->max_header_bytes - p->head.len, data,
      len, &used);
  *consumed += used;
  if (rc == SB_ERROR) {
    refuse(p, p->chunked.status, p->chunked.why);
    return SB_ERROR;
  }
  if (rc == SB_OK)
    p->complete = true;
  return rc;
}

sb_status_t sb_http_parser_feed(sb_http_parser_t *p, const char *data,
                                size_t len, size_t *consumed)
{
  *consumed = 0;
  if (p->error_status != 0)
    return SB_ERROR;
  if (p->complete)
    return SB_OK;
  if (len == 0) {
    /* EOF before the request was complete */
    refuse(p, 400, "incomplete request");
    return SB_ERROR;
  }
  if (p->body_chunked && p->headers_done)
    return feed_chunked(p, data, len, consumed);
  if (p->scan != SCAN_DONE && scan_head(p, data, len) != 0)
    return SB_ERROR;
  size_t n = http_parser_execute(&p->hp, &p->settings, data, len);
  *consumed = n;
  if (p->error_status != 0)
    return SB_ERROR;
  if (p->complete)
    return SB_OK;
  enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
  if (p->body_chunked && p->headers_done && e == HPE_PAUSED)
    return feed_chunked(p, data + n, len - n, consumed);
  if (e != HPE_OK) {
    if (e == HPE_HEADER_OVERFLOW)
      refuse(p, 431, "request header fields too large");
    else
      refuse(p, 400, http_errno_description(e));
    return SB_ERROR;
  }
  return SB_AGAIN;
}

sb_status_t sb_http_parser_request(sb_http_parser_t *p, sb_arena_t *arena,
                                   sb_http_request_t *out)
{
  memset(out, 0, sizeof(*out));
  /* One copy of the head: slices point into it. */
  char *head = sb_arena_alloc(arena, p->head.len + 1);
  if (head == NULL)
    return SB_ERROR;
  if (p->head.len > 0)
    memcpy(head, p->head.data, p->head.len);
  head[p->head.len] = '\0';
  out->method = p->hp.method;
  out->http_major = p->hp.http_major;
  out->http_minor = p->hp.http_minor;
  out->keep_alive = http_should_keep_alive(&p->hp) != 0;
  out->expect_continue = p->expect_continue;
  out->url = sb_slice(head, p->url_end);
  const char *q = memchr(head, '?', p->url_end);
  if (q != NULL) {
    out->path = sb_slice(head, (size_t)(q - head));
    out->query = sb_slice(q + 1, p->url_end - (size_t)(q - head) - 1);
  } else {
    out->path = out->url;
    out->query = sb_slice(head + p->url_end, 0);
  }
  if (p->n_fields > 0) {
    out->headers = sb_arena_alloc(arena, p->n_fields * sizeof(sb_http_header_t));
    if (out->headers == NULL)
      return SB_ERROR;
  }
  for (size_t i = 0; i < p->n_fields; i++) {
    const size_t *f = p->field_off + i * FIELD_SLOTS;
    out->headers[i].name = sb_slice(head + f[0], f[1] - f[0]);
    out->headers[i].value =
        sb_slice_trim(sb_slice(head + f[2], f[3] - f[2]));
  }
  out->n_headers = p->n_fields;
  if (p->body.len > 0) {
    char *body = sb_arena_alloc(arena, p->body.len + 1);
    if (body == NULL)
      return SB_ERROR;
    memcpy(body, p->body.data, p->body.len);
    body[p->body.len] = '\0';
    out->body = sb_slice(body, p->body.len);
  } else {
    out->body = sb_slice("", 0);
  }
  return SB_OK;
}

sb_slice_t sb_http_header(const sb_http_request_t *r, const char *name,
                          size_t n)
{
  sb_slice_t want = sb_slice(name, n);
  for (size_t i = 0; i < r->n_headers; i++)
    if (sb_slice_case_eq(r->headers[i].name, want))
      return r->headers[i].value;
  return SB_NULL_SLICE;
}

sb_slice_t sb_http_query_param(sb_arena_t *a, sb_slice_t query,
                               const char *name)
{
  size_t nlen = strlen(name);
  const char *p = query.ptr, *end = query.ptr + query.len;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    const char *kend = eq != NULL ? eq : stop;
    if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
      const char *v = eq != NULL ? eq + 1 : stop;
      size_t vlen = (size_t)(stop - v);
      char *d = sb_arena_alloc(a, vlen + 1);
      if (d == NULL)
        return SB_NULL_SLICE;
      size_t o = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (v[i] == '%' && i + 2 < vlen && sb_hex_digit(v[i + 1]) >= 0 && sb_hex_digit(v[i + 2]) >= 0) {
          d[o++] = (char)(sb_hex_digit(v[i + 1]) * 16 + sb_hex_digit(v[i + 2]));
          i += 2;
        } else if (v[i] == '+') {
          d[o++] = ' ';
        } else {
          d[o++] = v[i];
        }
      }
      d[o] = '\0';
      return sb_slice(d, o);
    }
    p = stop + 1;
  }
  return SB_NULL_SLICE;
}
