/* SPDX-License-Identifier: MIT */
/*
 * Upstream HTTP client, one per worker on the worker's libuv loop, with
 * connections pooled and reused per worker. Two transports behind this one
 * API (docs/upstream.md): a native HTTP/1.1 client for http:// and
 * https:// (TLS with OpenSSL) when no proxy applies, and libcurl's multi
 * interface (curl_multi_socket_action) for proxies, and everything when
 * the environment says SWITCHBOARD_UPSTREAM_CLIENT=curl. Either way, a
 * request that fails on a reused connection before any byte of a response
 * (the server had closed it) is sent again at once, once, on a fresh one:
 * the caller sees one transfer.
 *
 * A transfer reports through three callbacks, always on the worker thread:
 *   on_head  once, when the response status and headers are complete;
 *   on_data  for each piece of the body, of any size (one byte or many);
 *            return SB_OK to go on, SB_AGAIN to pause (the same bytes are
 *            delivered again after sb_upstream_resume()), SB_ERROR to abort;
 *   on_done  exactly once at the end (unless sb_upstream_cancel() was
 *            called), with the outcome. The transfer is freed right after
 *            on_done returns.
 * After sb_upstream_cancel() no callback runs again and the transfer is
 * freed; it is safe to call from any of the callbacks.
 */
#ifndef SWITCHBOARD_UPSTREAM_H
#define SWITCHBOARD_UPSTREAM_H

#include <uv.h>

#include "switchboard/buf.h"
#include "switchboard/common.h"
#include "switchboard/provider.h"

typedef struct sb_upstream_multi sb_upstream_multi_t;
typedef struct sb_upstream sb_upstream_t;

typedef enum {
  SB_UP_OK = 0,          /* complete response received */
  SB_UP_CONNECT_FAILED,  /* DNS, refused, TLS handshake ... */
  SB_UP_TIMEOUT_CONNECT,
  SB_UP_TIMEOUT_FIRST_BYTE,
  SB_UP_TIMEOUT_IDLE,
  SB_UP_TIMEOUT_TOTAL,
  SB_UP_CUT,             /* the body ended early (connection lost) */
  SB_UP_ABORTED,         /* on_data returned SB_ERROR */
  SB_UP_FAILED           /* anything else */
} sb_upstream_result_t;

typedef struct {
  sb_upstream_result_t result;
  long status;              /* HTTP status, 0 if none was received */
  const char *error;        /* short human description: static, curl's, or
                             * the transfer's (valid during on_done) */
  uint64_t connect_ns;      /* time to connected (0 if reused) */
  uint64_t first_byte_ns;   /* start to first body byte (0 if none) */
  uint64_t total_ns;
} sb_upstream_outcome_t;

typedef struct {
  long status;
  sb_slice_t content_type;  /* valid during on_head only */
  sb_slice_t retry_after;   /* valid during on_head only; empty if absent */
} sb_upstream_head_t;

typedef struct {
  void (*on_head)(sb_upstream_t *u, void *data, const sb_upstream_head_t *h);
  sb_status_t (*on_data)(sb_upstream_t *u, void *data, const char *p,
                         size_t n);
  void (*on_done)(sb_upstream_t *u, void *data,
                  const sb_upstream_outcome_t *o);
} sb_upstream_callbacks_t;

typedef struct {
  const char *url;          /* NUL-terminated, copied */
  const char *method;       /* NULL = POST when body is set, else GET */
  sb_slice_t body;          /* not copied: must outlive the transfer */
  const sb_kv_t *headers;   /* copied */
  size_t n_headers;
  sb_upstream_timeouts_t timeouts;
  const sb_upstream_tls_t *tls; /* https: trust and client certificate;
                                 * NULL: the system's store. Not copied:
                                 * must outlive the transfer (config) */
  const char *proxy;        /* this request through a proxy (curl), or NULL */
} sb_upstream_request_t;

sb_upstream_multi_t *sb_upstream_multi_new(uv_loop_t *loop);
/* Cancels every transfer still running (without callbacks), then frees the
 * multi handle once its sockets are closed. */
void sb_upstream_multi_free(sb_upstream_multi_t *m);
/* Transfers in flight. */
size_t sb_upstream_multi_active(const sb_upstream_multi_t *m);

/* Start a transfer. NULL if it could not be started (out of memory, bad
 * URL): no callback will run. */
sb_upstream_t *sb_upstream_start(sb_upstream_multi_t *m,
                                 const sb_upstream_request_t *r,
                                 const sb_upstream_callbacks_t *cb,
                                 void *data);
void sb_upstream_pause(sb_upstream_t *u);
void sb_upstream_resume(sb_upstream_t *u);
bool sb_upstream_paused(const sb_upstream_t *u);
void sb_upstream_cancel(sb_upstream_t *u);
/* The caller has all of the response it needs (a stream's end marker) but
 * the body has not ended yet. If the transport can, the transfer goes on
 * alone: it reads the rest of the body and drops it, then keeps the
 * connection for reuse (or closes it), within SB_UPSTREAM_DETACH_MS from
 * now; no callback runs again and the request body may be freed. Returns
 * false, changing nothing, where it cannot: libcurl's transfers, a paused
 * or finished one, one whose request is not all sent. Safe to call from
 * inside on_data. */
#define SB_UPSTREAM_DETACH_MS 1000u
bool sb_upstream_detach(sb_upstream_t *u);

const char *sb_upstream_result_name(sb_upstream_result_t r);

/* How the upstream client reaches a provider, on a libcurl easy handle
 * (`easy`, a CURL *): HTTP/1.1, the provider's TLS settings (NULL: the
 * defaults) and proxy (NULL: the environment's, if any). For the
 * gateway's other transfers to a provider (its model list), which must
 * reach it the same way. */
void sb_upstream_curl_link(void *easy, const sb_upstream_tls_t *tls,
                           const char *proxy);

/* Global set-up (libcurl's, and the environment: proxies and
 * SWITCHBOARD_UPSTREAM_CLIENT are read here); once per process, before any
 * thread starts. */
void sb_upstream_global_init(void);
void sb_upstream_global_cleanup(void);

#endif
