/*
 * Incremental HTTP/1.1 request parsing on top of http_parser, with caps.
 *
 * http_parser hands out pointers into the caller's read buffer, which is
 * reused between reads, so every byte of the request line and headers is
 * copied into `head` as it arrives (capped by max_header_bytes) and the body
 * into `body` (capped by max_body_bytes). Only when the request is complete
 * are slices made, in the exchange's arena.
 */
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

/* RFC 9110 token characters: what a field name may contain. http_parser
 * in its default (lenient) mode lets some others through. */
static bool is_token(sb_slice_t s)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (s.len == 0)
    return false;
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (c != 0 && strchr(extra, c) != NULL);
    if (!ok)
      return false;
  }
  return true;
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
  if (hp->upgrade && hp->method != HTTP_CONNECT)
    return refuse(p, 400, "protocol upgrade is not supported");
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
  if ((hp->flags & F_CHUNKED) == 0 && hp->content_length != ULLONG_MAX &&
      hp->content_length > p->limits->max_body_bytes)
    return refuse(p, 413, "request body too large");
  return 0;
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
  p->complete = true;
  /* Stop here: bytes after this belong to the next (pipelined) request,
   * which waits until this one is answered. */
  http_parser_pause(hp, 1);
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
  p->error_status = 0;
  p->error = NULL;
  http_parser_init(&p->hp, HTTP_REQUEST);
}

sb_status_t sb_http_parser_feed(sb_http_parser_t *p, const char *data,
                                size_t len, size_t *consumed)
{
  *consumed = 0;
  if (p->error_status != 0)
    return SB_ERROR;
  if (p->complete)
    return SB_OK;
  size_t n = http_parser_execute(&p->hp, &p->settings, data, len);
  *consumed = n;
  if (p->complete)
    return SB_OK;
  if (p->error_status != 0)
    return SB_ERROR;
  enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
  if (e != HPE_OK) {
    if (e == HPE_HEADER_OVERFLOW)
      refuse(p, 431, "request header fields too large");
    else
      refuse(p, 400, http_errno_description(e));
    return SB_ERROR;
  }
  if (len == 0) {
    /* EOF before the request was complete */
    refuse(p, 400, "incomplete request");
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
