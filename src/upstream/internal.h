/* SPDX-License-Identifier: MIT */
/*
 * Inside the upstream client: one transfer struct and one per-worker multi
 * struct shared by the two transports, libcurl (curl.c: proxies, and
 * everything when SWITCHBOARD_UPSTREAM_CLIENT=curl) and the native
 * HTTP/1.1 client (h1.c: http and https, TLS in tls.c). client.c holds
 * what they share: the public API, callbacks delivery, timers and the end
 * of a transfer.
 */
#ifndef SWITCHBOARD_UPSTREAM_INTERNAL_H
#define SWITCHBOARD_UPSTREAM_INTERNAL_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

#include "switchboard/upstream.h"
#include "upstream/h1_response.h"

#define SB_UP_EASY_POOL_MAX 32
#define SB_H1_MAX_ADDRS 4
#define SB_H1_MAX_HOSTS 256
#define SB_H1_READ_BUF (16u * 1024u)
#define SB_H1_TLS_WRITE (16u * 1024u) /* one TLS record's worth of request */

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} sb_h1_addr_t;

typedef struct sb_h1_conn sb_h1_conn_t;
typedef struct sb_h1_resolve sb_h1_resolve_t;
/* The TLS settings of some providers, as one worker uses them (tls.c). */
typedef struct sb_up_tls sb_up_tls_t;

/* One upstream scheme://host:port (and TLS profile) of the native client:
 * its pooled idle connections, its resolved addresses (the per-worker DNS
 * cache) and, for https, the TLS session to resume. */
typedef struct sb_h1_host {
  char name[256];            /* without brackets for IPv6 */
  char authority[264];       /* Host header value: host[:port] */
  uint16_t port;
  bool numeric;              /* an address: never expires, no SNI */
  sb_up_tls_t *tls;          /* https: its TLS profile; NULL: http */
  SSL_SESSION *session;      /* https: the newest session, or NULL */
  sb_h1_addr_t addrs[SB_H1_MAX_ADDRS];
  uint8_t n_addrs;
  uint64_t expires_ms;       /* loop time */
  sb_h1_conn_t *idle;        /* newest first */
} sb_h1_host_t;

struct sb_upstream_multi {
  uv_loop_t *loop;
  sb_upstream_t *transfers;
  size_t active;
  bool closing;
  unsigned open_handles;     /* close callbacks still due (at free) */
  /* ---- curl.c ---- */
  CURLM *multi;
  uv_timer_t curl_timer;
  CURL *pool[SB_UP_EASY_POOL_MAX];
  size_t n_pool;
  /* Poll handles by socket: they outlive the transfers that use them, so a
   * kept-alive connection is not re-registered with the loop per request. */
  struct sock_ctx **socks;
  size_t n_socks;
  /* ---- h1.c ---- */
  sb_h1_host_t *hosts[SB_H1_MAX_HOSTS];
  size_t n_hosts;
  sb_h1_conn_t *idle_head, *idle_tail; /* every idle connection, newest first */
  size_t n_idle;
  uv_timer_t idle_timer;
  char rbuf[SB_H1_READ_BUF]; /* reads land here; one worker, one reader */
  char wbuf[SB_H1_TLS_WRITE]; /* a request's bytes gathered for SSL_write */
  /* ---- tls.c ---- */
  sb_up_tls_t *tls;          /* the TLS profiles in use on this worker */
};

struct sb_upstream {
  sb_upstream_multi_t *m;
  const sb_upstream_callbacks_t *cb;
  void *data;
  uv_timer_t timer;          /* the nearest deadline, or a deferred step */
  uint64_t timer_due;        /* loop time the timer fires; 0: not armed */
  sb_upstream_timeouts_t to;
  uint64_t start_ns;
  uint64_t first_byte_ns;
  uint64_t connect_ns;       /* native: start to connected, 0 if reused */
  uint64_t start_ms;         /* loop time at start */
  uint64_t connect_from_ms;  /* native: loop time the connection was begun */
  uint64_t activity_ms;      /* loop time of the start or the last delivery */
  long status;
  sb_upstream_result_t forced; /* set by our timers / aborts */
  bool forced_set;
  bool native;
  bool head_done;
  bool paused;
  bool cancelled;
  bool in_callback;
  bool finished;
  bool kick;                 /* native: run the deferred step on the timer */
  bool retried;              /* sent again once: a reused connection failed */
  bool connected;            /* native: the connection is up */
  char content_type[128];    /* curl: the head being received */
  char retry_after[64];
  char errbuf[CURL_ERROR_SIZE];
  sb_upstream_t *prev, *next;
  /* ---- curl.c ---- */
  CURL *easy;
  struct curl_slist *headers;
  char *url;
  /* ---- h1.c ---- */
  sb_h1_host_t *host;
  sb_h1_conn_t *conn;
  sb_h1_resolve_t *resolving;
  sb_h1_response_t resp;
  char *req;                 /* the request head (same allocation) */
  size_t req_len;
  sb_slice_t body;
  size_t sent;               /* bytes of head + body written */
  sb_h1_addr_t addrs[SB_H1_MAX_ADDRS];
  uint8_t n_addrs, addr_i;
  bool starting;             /* inside sb_upstream_start: no callbacks */
  bool write_failed;
  bool pend_set;             /* a failure waiting for the deferred step */
  sb_upstream_result_t pend_result;
  const char *pend_why;
};

/* client.c */
void sb_up_deliver_head(sb_upstream_t *u, long status, const char *ct,
                        const char *ra);
/* SB_OK, SB_AGAIN (now paused) or SB_ERROR (aborted: forced is set, or
 * cancelled). */
sb_status_t sb_up_deliver_data(sb_upstream_t *u, const char *p, size_t n);
void sb_up_finish(sb_upstream_t *u, sb_upstream_result_t r, const char *why);
void sb_up_release(sb_upstream_t *u);
void sb_up_arm(sb_upstream_t *u);
void sb_up_handle_closed(sb_upstream_multi_t *m);

/* curl.c */
bool sb_up_curl_init(sb_upstream_multi_t *m);
void sb_up_curl_free(sb_upstream_multi_t *m);
bool sb_up_curl_start(sb_upstream_t *u, const sb_upstream_request_t *r);
void sb_up_curl_release(sb_upstream_t *u);
void sb_up_curl_pause(sb_upstream_t *u);
void sb_up_curl_resume(sb_upstream_t *u);
uint64_t sb_up_curl_connect_ns(sb_upstream_t *u);
void sb_up_curl_global_init(void);
void sb_up_curl_global_cleanup(void);

/* h1.c */
void sb_up_h1_init(sb_upstream_multi_t *m);
void sb_up_h1_free(sb_upstream_multi_t *m);
/* NULL when the native client does not take this URL (curl does: odd
 * URLs, and http or https when told not to take that scheme); otherwise a
 * transfer allocated with room for the request head, or `*failed` is set
 * when it cannot be started at all. */
sb_upstream_t *sb_up_h1_alloc(sb_upstream_multi_t *m,
                              const sb_upstream_request_t *r, bool http,
                              bool https, bool *failed);
bool sb_up_h1_start(sb_upstream_t *u);
void sb_up_h1_release(sb_upstream_t *u);
void sb_up_h1_pause(sb_upstream_t *u);
void sb_up_h1_resume(sb_upstream_t *u);
void sb_up_h1_step(sb_upstream_t *u);

/* tls.c: profiles (per worker, per distinct settings; NULL settings are
 * the defaults: the system's store, verification on) */
typedef enum {
  SB_TLS_OK = 0,
  SB_TLS_WANT_READ,   /* call again once the socket is readable */
  SB_TLS_WANT_WRITE,  /* ... writable */
  SB_TLS_EOF,         /* the peer closed (close_notify or not) */
  SB_TLS_ERROR        /* `err` says why; the connection is unusable */
} sb_tls_rc_t;
/* NULL only when out of memory. A profile whose SSL_CTX could not be built
 * is returned too: sb_up_tls_profile_error says why, and its transfers
 * fail with that. */
sb_up_tls_t *sb_up_tls_profile(sb_upstream_multi_t *m,
                               const sb_upstream_tls_t *s);
const char *sb_up_tls_profile_error(const sb_up_tls_t *p);
void sb_up_tls_free_all(sb_upstream_multi_t *m);
void sb_up_tls_host_free(sb_h1_host_t *h);
/* tls.c: one connection of host `h` (which has a usable profile) on the
 * connected socket `fd`: SNI, host name check, the host's session.
 * `*drained` (the caller's, as long as the connection lives) is set after
 * each read of the socket: true when it got less than it asked for. */
SSL *sb_up_tls_new(sb_h1_host_t *h, int fd, bool *drained, char *err,
                   size_t errlen);
/* `peer` ("host:port") names the server in `err`. */
sb_tls_rc_t sb_up_tls_handshake(SSL *ssl, const char *peer, char *err,
                                size_t errlen);
sb_tls_rc_t sb_up_tls_read(SSL *ssl, char *buf, size_t cap, size_t *got,
                           char *err, size_t errlen);
/* Partial writes: `*put` may be less than `len`. After SB_TLS_WANT_*, call
 * again with the same bytes (they may be elsewhere in memory). */
sb_tls_rc_t sb_up_tls_write(SSL *ssl, const char *buf, size_t len,
                            size_t *put, char *err, size_t errlen);
/* Bytes received and held inside TLS: no poll event will announce them. */
bool sb_up_tls_pending(SSL *ssl);
/* An idle connection has bytes to read: true when they were only TLS
 * housekeeping (session tickets, a key update), so it may be reused. */
bool sb_up_tls_idle_ok(SSL *ssl, char *scratch, size_t cap);
/* `notify`: send close_notify first (only on a sound connection). */
void sb_up_tls_free(SSL *ssl, bool notify);

#endif
