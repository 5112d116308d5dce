/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server: request parsing, connections, responses, streams.
 *
 * Lifecycle of one request (an "exchange"):
 *   1. A connection reads bytes and feeds them to its sb_http_parser_t.
 *   2. When a request is complete the server calls the handler with an
 *      sb_http_exchange_t. The exchange owns an arena that lives until the
 *      response is finished; request slices point into it.
 *   3. The handler answers exactly once, now or later (on the same worker
 *      thread): sb_http_respond() for a whole response, or
 *      sb_http_stream_begin() + sb_http_stream_write()* + sb_http_stream_end().
 *      The exchange (and its arena) is freed by the server after that final
 *      call; the handler must not touch it afterwards.
 *   4. If the client goes away first, the server calls the exchange's
 *      on_abort hook (never from inside a handler call, always from the
 *      event loop) and marks it aborted. The handler must still finish it
 *      with sb_http_respond() or sb_http_stream_end(), which then write
 *      nothing and free it. Writes to an aborted exchange are dropped.
 *
 * Backpressure: sb_http_stream_write() returns SB_AGAIN once the client's
 * unsent bytes exceed the high-water mark; the data is still queued, but the
 * producer should pause and wait for on_drain.
 */
#ifndef SWITCHBOARD_HTTP_H
#define SWITCHBOARD_HTTP_H

#include <http_parser.h>
#include <uv.h>

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/common.h"

typedef struct {
  sb_slice_t name;
  sb_slice_t value;
} sb_http_header_t;

typedef struct {
  size_t max_header_bytes; /* request line + headers; 431 past it */
  size_t max_headers;      /* number of header fields; 431 past it */
  size_t max_body_bytes;   /* 413 past it */
  size_t max_target_bytes; /* the request target; 414 past it (0: the
                              same as max_header_bytes) */
} sb_http_limits_t;

typedef struct {
  unsigned method;  /* enum http_method */
  sb_slice_t url;   /* as sent: path and query */
  sb_slice_t path;  /* url without the query */
  sb_slice_t query; /* after '?', without it; empty if none */
  sb_http_header_t *headers;
  size_t n_headers;
  sb_slice_t body; /* de-chunked; empty if none */
  bool keep_alive;
  bool expect_continue;
  unsigned short http_major, http_minor;
} sb_http_request_t;

/* An RFC 9110 token character (field names, transfer codings). */
bool sb_http_tchar(unsigned char c);

/* ---- chunked request bodies (src/http/chunked.c) ---------------------- */

/* A chunk-size line (size and extensions) longer than this is refused with
 * 413 as soon as it passes it. */
#define SB_HTTP_CHUNK_LINE_MAX 4096

/* Incremental, strict decoder of a chunked body (RFC 9112, 7.1): every
 * framing byte is checked (CRLF after each chunk's data, no bare LF),
 * trailer fields are checked for form and dropped. */
typedef struct {
  uint64_t left;    /* the chunk size being read, then its data still due */
  size_t line;      /* bytes of the current chunk-size line */
  size_t trailer;   /* bytes of the trailer section */
  unsigned char state;
  int status;       /* set when the body is refused: 400, 413 or 431 */
  const char *why;
} sb_http_chunked_t;

void sb_http_chunked_init(sb_http_chunked_t *ck);
/*
 * Feed body bytes; the decoded data is appended to `body`, whose cap
 * (b->max) is the body limit. Returns SB_AGAIN (all consumed, the body
 * goes on), SB_OK (the body ended after *consumed bytes; the rest belongs
 * to the next request), or SB_ERROR (ck->status and ck->why say why: 400
 * for a framing error, 413 for a chunk past the body limit or a chunk-size
 * line past SB_HTTP_CHUNK_LINE_MAX, 431 for trailers past `max_trailer`).
 */
sb_status_t sb_http_chunked_feed(sb_http_chunked_t *ck, sb_buf_t *body,
                                 size_t max_trailer, const char *data,
                                 size_t len, size_t *consumed);

/* ---- incremental request parser (no I/O; unit-tested on its own) ------ */

/*
 * http_parser reads the head and Content-Length bodies; switchboard adds
 * what RFC 9112 asks of a server where a lenient reading could differ from
 * a front proxy's (request smuggling). Refused, and the connection closed:
 *   400  a request line that is not METHOD SP TARGET SP HTTP/x.y (no
 *        version, extra spaces, control characters), a field line that
 *        begins with whitespace (obsolete line folding), an HTTP/1.1
 *        request without exactly one valid Host, several Hosts, a
 *        Transfer-Encoding whose last coding is not chunked or that names
 *        chunked twice, Transfer-Encoding in HTTP/1.0, Transfer-Encoding
 *        with Content-Length, and any chunked framing error;
 *   413  a body past max_body_bytes (a chunk as soon as its size says so),
 *        a chunk-size line past SB_HTTP_CHUNK_LINE_MAX;
 *   414  a request target past max_target_bytes, as soon as it passes it;
 *   431  a head past max_header_bytes or max_headers;
 *   501  a transfer coding other than chunked before the final chunked;
 *   505  an HTTP version other than 1.0 and 1.1.
 * Chunked bodies are decoded by sb_http_chunked_feed().
 */
typedef struct {
  http_parser hp;
  http_parser_settings settings;
  const sb_http_limits_t *limits;
  sb_buf_t head; /* url and header bytes, copied as they arrive */
  sb_buf_t body;
  /* offsets into `head` of url and each name/value while parsing */
  size_t url_end;
  size_t n_fields;
  size_t field_cap;
  size_t *field_off; /* 4 offsets per field: name start/end, value start/end */
  bool in_value;
  bool headers_done;
  bool complete;
  bool expect_continue;
  bool body_chunked; /* the body goes to `chunked`, not to http_parser */
  /* the head as switchboard checks it (parser.c, scan_head) */
  unsigned char scan;       /* where in the head */
  unsigned char lead;       /* empty lines before the request line */
  unsigned char words;      /* words of the request line so far */
  unsigned char word_len;   /* bytes of the current word (saturates) */
  char version[8];          /* the current word's first bytes */
  sb_http_chunked_t chunked;
  int error_status; /* 400, 413, 431 ... when the request is refused */
  const char *error;
} sb_http_parser_t;

void sb_http_parser_init(sb_http_parser_t *p, const sb_http_limits_t *limits);
void sb_http_parser_free(sb_http_parser_t *p);
/* Forget the previous request, keep the memory (keep-alive). */
void sb_http_parser_reset(sb_http_parser_t *p);

/*
 * Feed bytes. Returns:
 *   SB_AGAIN  all bytes consumed, the request is not complete yet;
 *   SB_OK     a request is complete: *consumed bytes were used (the rest
 *             belongs to the next, pipelined request);
 *   SB_ERROR  the request is refused: p->error_status and p->error say why.
 * After SB_OK, call sb_http_parser_request() then sb_http_parser_reset().
 * `headers_done` turns true as soon as the head is parsed, which lets the
 * connection answer `Expect: 100-continue` before the body arrives.
 */
sb_status_t sb_http_parser_feed(sb_http_parser_t *p, const char *data,
                                size_t len, size_t *consumed);

/* Copy the complete request into `arena` (headers, url, body). */
sb_status_t sb_http_parser_request(sb_http_parser_t *p, sb_arena_t *arena,
                                   sb_http_request_t *out);

/* Header value by case-insensitive name; empty slice with NULL ptr if
 * absent. */
sb_slice_t sb_http_header(const sb_http_request_t *r, const char *name,
                          size_t n);
#define SB_HTTP_HEADER(r, lit) sb_http_header((r), SB_STRLIT(lit))

/* Value of a query parameter (not percent-decoded beyond %XX and '+'),
 * copied into the arena. NULL ptr if absent. */
sb_slice_t sb_http_query_param(sb_arena_t *a, sb_slice_t query,
                               const char *name);

/* ---- exchanges (server side) ----------------------------------------- */

typedef struct sb_http_conn sb_http_conn_t;
typedef struct sb_http_exchange sb_http_exchange_t;
struct sb_worker;
struct sb_access;

struct sb_http_exchange {
  sb_arena_t arena;
  sb_http_request_t req;
  struct sb_worker *worker;
  sb_http_conn_t *conn;
  struct sockaddr_storage peer;
  bool peer_is_loopback;
  uint64_t start_ns; /* when the request was complete */

  /* Set by the handler. */
  void (*on_abort)(sb_http_exchange_t *x); /* client went away */
  void (*on_drain)(sb_http_exchange_t *x); /* write queue below low water */
  void *data;
  /* Extra response header lines ("Name: value\r\n"...), e.g. rate-limit
   * headers set by admission; added to whatever response ends up being
   * sent. Must live as long as the exchange (its arena). */
  sb_slice_t extra_head; /* append with sb_http_add_head() */
  /* Set by authentication (src/api/auth.c): the client key the request
   * authenticated with (a counted reference dropped with the arena), or
   * NULL for the admin key and local mode. */
  void *principal;
  /* The gateway's catalog this request routes with (sb_gateway_catalog):
   * a counted reference dropped with the arena, or NULL before the first
   * use. */
  const struct sb_catalog *catalog;
  /* What the access log tells of the request (ops.h), set by the layers
   * above as it goes: who called (a key's name, "admin", "local"), the
   * type of the error it was answered with, and for a model call the
   * call's own description (src/gateway/record.c). */
  sb_slice_t caller;
  const char *error_type;
  void (*describe)(sb_http_exchange_t *x, struct sb_access *out);

  /* Owned by the server. */
  bool aborted;
  bool streaming;
  bool finished;
  int status;
};

typedef void (*sb_http_handler_fn)(sb_http_exchange_t *x);

/*
 * A whole response. `headers` are extra headers (Content-Type, Content-Length,
 * Date-free) ; content_type may be NULL for no body type. Finishes the
 * exchange.
 */
/* Append header lines ("Name: value\r\n"..., printf-style) to the
 * exchange's extra_head, in its arena. Ignored when out of memory. */
void sb_http_add_head(sb_http_exchange_t *x, const char *fmt, ...)
    SB_PRINTF(2, 3);
/* The same for one "Name: <decimal>" line, without printf (every
 * response has one). */
void sb_http_add_head_num(sb_http_exchange_t *x, const char *name, uint64_t v);
void sb_http_respond(sb_http_exchange_t *x, int status,
                     const sb_http_header_t *headers, size_t n_headers,
                     const char *content_type, sb_slice_t body);

/* Start a chunked response (e.g. text/event-stream). */
sb_status_t sb_http_stream_begin(sb_http_exchange_t *x, int status,
                                 const char *content_type,
                                 const sb_http_header_t *headers,
                                 size_t n_headers);
/* Write one chunk made of `n` pieces (written together, in one syscall when
 * possible). SB_OK, SB_AGAIN (queued; over high water), SB_ERROR (client
 * gone). */
sb_status_t sb_http_stream_write(sb_http_exchange_t *x, const sb_slice_t *parts,
                                 size_t n);
/* Finish the stream (terminating chunk) and the exchange. */
void sb_http_stream_end(sb_http_exchange_t *x);

/* Unsent bytes queued for this exchange's client. */
size_t sb_http_pending_bytes(const sb_http_exchange_t *x);

/* Reason phrase for a status code ("OK", "Not Found", ...). */
const char *sb_http_status_text(int status);

/* ---- listening sockets (src/http/listen.c) ---------------------------- */

/*
 * `n` listening sockets on one address for the workers, bound with
 * SO_REUSEPORT (the kernel spreads connections across them) and refused
 * when another process listens on the address too. Returns SB_OK with
 * the sockets in fds[0..n) (port 0: `ss` gets the port picked),
 * SB_DECLINED when another process listens there, SB_ERROR otherwise;
 * `err` says why, and nothing is left open.
 */
sb_status_t sb_http_listen(struct sockaddr_storage *ss, socklen_t len,
                           int *fds, unsigned n, char *err, size_t errlen);
/* False when a socket other than fds[0..n) listens on exactly `sa` (read
 * from /proc/net/tcp or tcp6; true when that cannot be read). */
bool sb_http_listeners_exclusive(const struct sockaddr *sa, const int *fds,
                                 unsigned n);

/* ---- connections (used by the server) ------------------------------- */

typedef struct {
  sb_http_limits_t limits;
  uint32_t request_timeout_ms; /* from first byte to complete request */
  uint32_t idle_timeout_ms;    /* keep-alive wait for the next request */
  size_t write_high_water;     /* stream_write returns SB_AGAIN above */
  size_t write_low_water;      /* on_drain fires below */
  size_t max_write_queue;      /* hard cap: the client is dropped above */
  sb_http_handler_fn handler;
  /* Called as each exchange ends (answered, or its client gone), before
   * its memory is freed; may be NULL. */
  void (*on_finish)(sb_http_exchange_t *x);
} sb_http_settings_t;

/* Accept one connection from `server` on the worker's loop. */
void sb_http_conn_accept(struct sb_worker *w, uv_stream_t *server,
                         const sb_http_settings_t *settings);

/* Graceful shutdown: close idle keep-alive connections now; in-flight ones
 * close when their response ends. With `force`, close every connection now
 * (their handlers see on_abort). Returns the connections still open. */
size_t sb_http_conn_shutdown(struct sb_worker *w, bool force);

/* Per worker: the check handle that sends what each connection was given
 * during a loop turn at the end of that turn (init before the loop runs;
 * close with the worker's other handles). */
void sb_http_worker_init(struct sb_worker *w);
void sb_http_worker_close(struct sb_worker *w, uv_close_cb cb);

#endif
