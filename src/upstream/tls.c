/* SPDX-License-Identifier: MIT */
/*
 * TLS for the native client (h1.c), with OpenSSL's libssl on the worker's
 * loop. Two parts:
 * - profiles: one per worker per distinct provider TLS settings (trusted
 *   CAs, client certificate, verification), each an SSL_CTX built on first
 *   use from the system's CA store plus the provider's; every https host
 *   of the native client belongs to one;
 * - the non-blocking steps of one connection on its socket: handshake,
 *   read, write, the close (close_notify when the connection is sound) and
 *   the probe of an idle connection that became readable.
 * Sessions are resumed per host: OpenSSL hands every new session to
 * new_session_cb (TLS 1.3 tickets arrive after the handshake, with the
 * first response), which keeps the newest on the host. See
 * docs/upstream.md.
 *
 * The error queue is per thread and shared with everything else the
 * worker does with OpenSSL: it is cleared before each call whose errors
 * are read, and left empty after.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/internal.h"

struct sb_up_tls {
  SSL_CTX *ctx;            /* NULL when it could not be built: see error */
  char *ca_file, *ca_path, *cert, *key;
  bool no_verify;
  char error[256];
  sb_up_tls_t *next;
};

/* ALPN: the native client speaks HTTP/1.1 only. */
static const unsigned char alpn_h1[] = "\x08http/1.1";

/* ---- errors ------------------------------------------------------------- */

/* The reason of OpenSSL's last queued error ("wrong version number",
 * "tlsv1 alert unknown ca"), or `dflt`; the queue is emptied. */
static const char *queued_reason(char *buf, size_t n, const char *dflt)
{
  unsigned long e = ERR_peek_last_error();
  const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
  if (r != NULL)
    snprintf(buf, n, "%s", r);
  else if (e != 0)
    ERR_error_string_n(e, buf, n);
  else
    snprintf(buf, n, "%s", dflt);
  ERR_clear_error();
  return buf;
}

/* ---- profiles ------------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_settings(const sb_up_tls_t *p, const sb_upstream_tls_t *s)
{
  return same_str(p->ca_file, s->ca_file) && same_str(p->ca_path, s->ca_path) &&
         same_str(p->cert, s->cert) && same_str(p->key, s->key) &&
         p->no_verify == s->no_verify;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
  sb_h1_host_t *h = SSL_get_app_data(ssl);
  if (h == NULL)
    return 0; /* not kept: OpenSSL frees it */
  if (h->session != NULL)
    SSL_SESSION_free(h->session);
  h->session = sess; /* the reference OpenSSL gave us */
  return 1;
}

/* Builds p->ctx, or says why not in p->error. */
static void ctx_build(sb_up_tls_t *p)
{
  char why[160];
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  ERR_clear_error();
  if (ctx == NULL) {
    snprintf(p->error, sizeof(p->error), "TLS set-up failed: %s",
             queued_reason(why, sizeof(why), "out of memory"));
    return;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  /* Partial writes: SSL_write returns once a record is out, and a write
   * that would block is retried with the same bytes from wherever they
   * are (h1.c gathers them again). Idle connections give their buffers
   * back. */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  /* A server that closes without close_notify: the HTTP framing says
   * whether the response was complete. */
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  /* Read what the socket has in one call, not a record header first. */
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                          SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
  if (SSL_CTX_set_alpn_protos(ctx, alpn_h1, sizeof(alpn_h1) - 1) != 0)
    goto fail_why;
  if (p->no_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      goto fail_why;
    if ((p->ca_file != NULL || p->ca_path != NULL) &&
        SSL_CTX_load_verify_locations(ctx, p->ca_file, p->ca_path) != 1) {
      snprintf(p->error, sizeof(p->error), "TLS set-up failed: tls.%s %s: %s",
               p->ca_file != NULL ? "ca_file" : "ca_path",
               p->ca_file != NULL ? p->ca_file : p->ca_path,
               queued_reason(why, sizeof(why), "no certificate loaded"));
      goto fail;
    }
    /* A CA given here may be an intermediate: trust it as an anchor. */
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
                                X509_V_FLAG_PARTIAL_CHAIN);
  }
  if (p->cert != NULL) {
    const char *key = p->key != NULL ? p->key : p->cert;
    if (SSL_CTX_use_certificate_chain_file(ctx, p->cert) != 1) {
      snprintf(p->error, sizeof(p->error), "TLS set-up failed: tls_cert %s: %s",
               p->cert, queued_reason(why, sizeof(why), "unreadable"));
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      snprintf(p->error, sizeof(p->error), "TLS set-up failed: tls_key %s: %s",
               key, queued_reason(why, sizeof(why), "unreadable"));
      goto fail;
    }
  }
  ERR_clear_error();
  p->ctx = ctx;
  return;
fail_why:
  snprintf(p->error, sizeof(p->error), "TLS set-up failed: %s",
           queued_reason(why, sizeof(why), "unknown error"));
fail:
  SSL_CTX_free(ctx);
  ERR_clear_error();
}

static char *dup_or_null(const char *s, bool *oom)
{
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  if (d == NULL)
    *oom = true;
  return d;
}

static void profile_free(sb_up_tls_t *p)
{
  SSL_CTX_free(p->ctx);
  free(p->ca_file);
  free(p->ca_path);
  free(p->cert);
  free(p->key);
  free(p);
}

sb_up_tls_t *sb_up_tls_profile(sb_upstream_multi_t *m,
                               const sb_upstream_tls_t *s)
{
  static const sb_upstream_tls_t defaults = {0};
  if (s == NULL)
    s = &defaults;
  for (sb_up_tls_t *p = m->tls; p != NULL; p = p->next)
    if (same_settings(p, s))
      return p;
  sb_up_tls_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  bool oom = false;
  p->ca_file = dup_or_null(s->ca_file, &oom);
  p->ca_path = dup_or_null(s->ca_path, &oom);
  p->cert = dup_or_null(s->cert, &oom);
  p->key = dup_or_null(s->key, &oom);
  p->no_verify = s->no_verify;
  if (oom) {
    profile_free(p);
    return NULL;
  }
  ctx_build(p);
  /* Reading the CA store takes milliseconds: the loop's clock, which the
   * transfer's deadlines start from, moves on by as much. */
  uv_update_time(m->loop);
  p->next = m->tls;
  m->tls = p;
  return p;
}

const char *sb_up_tls_profile_error(const sb_up_tls_t *p)
{
  return p->ctx == NULL ? p->error : NULL;
}

void sb_up_tls_free_all(sb_upstream_multi_t *m)
{
  while (m->tls != NULL) {
    sb_up_tls_t *next = m->tls->next;
    profile_free(m->tls);
    m->tls = next;
  }
}

void sb_up_tls_host_free(sb_h1_host_t *h)
{
  if (h->session != NULL)
    SSL_SESSION_free(h->session);
  h->session = NULL;
}

/* ---- one connection ---------------------------------------------------------- */

/* The socket BIO's reads: `*drained` says whether the last one got fewer
 * bytes than it asked for (the socket had no more), so that the caller
 * need not read again to hear EAGAIN. */
static long socket_read_cb(BIO *b, int oper, const char *argp, size_t len,
                           int argi, long argl, int ret, size_t *processed)
{
  (void)argp;
  (void)argi;
  (void)argl;
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    bool *drained = (bool *)BIO_get_callback_arg(b);
    *drained = ret <= 0 || processed == NULL || *processed < len;
  }
  return ret;
}

SSL *sb_up_tls_new(sb_h1_host_t *h, int fd, bool *drained, char *err,
                   size_t errlen)
{
  sb_up_tls_t *p = h->tls;
  char why[160];
  SSL *ssl = SSL_new(p->ctx);
  if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
    goto fail;
  BIO *rbio = SSL_get_rbio(ssl);
  BIO_set_callback_arg(rbio, (char *)drained);
  BIO_set_callback_ex(rbio, socket_read_cb);
  SSL_set_connect_state(ssl);
  SSL_set_app_data(ssl, h);
  /* SNI names a host, never an address (RFC 6066). */
  if (!h->numeric && SSL_set_tlsext_host_name(ssl, h->name) != 1)
    goto fail;
  if (!p->no_verify) {
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = h->numeric ? X509_VERIFY_PARAM_set1_ip_asc(vp, h->name)
                        : X509_VERIFY_PARAM_set1_host(vp, h->name, 0);
    if (ok != 1)
      goto fail;
  }
  if (h->session != NULL)
    SSL_set_session(ssl, h->session); /* a failure only means no resumption */
  ERR_clear_error();
  return ssl;
fail:
  snprintf(err, errlen, "TLS set-up for %.100s failed: %s", h->name,
           queued_reason(why, sizeof(why), "out of memory"));
  SSL_free(ssl);
  return NULL;
}

/* After a call of `ssl` returned `rc` <= 0: what it wants, or the end.
 * `err` (for SB_TLS_ERROR) says why. */
static sb_tls_rc_t outcome(SSL *ssl, int rc, int sys_errno, char *err,
                           size_t errlen)
{
  char why[160];
  switch (SSL_get_error(ssl, rc)) {
  case SSL_ERROR_WANT_READ:
    return SB_TLS_WANT_READ;
  case SSL_ERROR_WANT_WRITE:
    return SB_TLS_WANT_WRITE;
  case SSL_ERROR_ZERO_RETURN:
    ERR_clear_error();
    return SB_TLS_EOF;
  case SSL_ERROR_SYSCALL:
    if (sys_errno == 0) {
      ERR_clear_error();
      return SB_TLS_EOF;
    }
    snprintf(err, errlen, "%s", strerror(sys_errno));
    ERR_clear_error();
    return SB_TLS_ERROR;
  default:
    snprintf(err, errlen, "TLS error: %s",
             queued_reason(why, sizeof(why), "unknown"));
    return SB_TLS_ERROR;
  }
}

sb_tls_rc_t sb_up_tls_handshake(SSL *ssl, const char *peer, char *err,
                                size_t errlen)
{
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl);
  int sys = errno;
  if (rc == 1) {
    const unsigned char *proto = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &proto, &n);
    if (n > 0 && !(n == 8 && memcmp(proto, "http/1.1", 8) == 0)) {
      snprintf(err, errlen, "TLS handshake with %s: the server chose "
               "protocol %.*s (only http/1.1 was offered)", peer,
               (int)SB_MIN(n, 32u), (const char *)proto);
      return SB_TLS_ERROR;
    }
    return SB_TLS_OK;
  }
  long v = SSL_get_verify_result(ssl);
  char why[200];
  sb_tls_rc_t r = outcome(ssl, rc, sys, why, sizeof(why));
  if (r == SB_TLS_WANT_READ || r == SB_TLS_WANT_WRITE)
    return r;
  if (v != X509_V_OK)
    snprintf(err, errlen, "TLS handshake with %s failed: certificate verify "
             "failed: %s", peer, X509_verify_cert_error_string(v));
  else if (r == SB_TLS_EOF)
    snprintf(err, errlen, "TLS handshake with %s failed: the server closed "
             "the connection", peer);
  else
    snprintf(err, errlen, "TLS handshake with %s failed: %s", peer, why);
  ERR_clear_error();
  return SB_TLS_ERROR;
}

sb_tls_rc_t sb_up_tls_read(SSL *ssl, char *buf, size_t cap, size_t *got,
                           char *err, size_t errlen)
{
  size_t n = 0;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_read_ex(ssl, buf, cap, &n);
  int sys = errno;
  *got = n;
  if (rc == 1)
    return SB_TLS_OK;
  return outcome(ssl, rc, sys, err, errlen);
}

sb_tls_rc_t sb_up_tls_write(SSL *ssl, const char *buf, size_t len,
                            size_t *put, char *err, size_t errlen)
{
  size_t n = 0;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_write_ex(ssl, buf, len, &n);
  int sys = errno;
  *put = n;
  if (rc == 1)
    return SB_TLS_OK;
  return outcome(ssl, rc, sys, err, errlen);
}

bool sb_up_tls_pending(SSL *ssl)
{
  return SSL_has_pending(ssl) == 1;
}

bool sb_up_tls_idle_ok(SSL *ssl, char *scratch, size_t cap)
{
  char err[8];
  size_t n;
  /* Session tickets and key updates are read and kept; application bytes
   * (garbage on an idle connection), the close and errors are not. */
  return sb_up_tls_read(ssl, scratch, cap, &n, err, sizeof(err)) ==
         SB_TLS_WANT_READ;
}

void sb_up_tls_free(SSL *ssl, bool notify)
{
  if (ssl == NULL)
    return;
  if (notify) {
    /* One try at close_notify; a full socket buffer only loses it. */
    ERR_clear_error();
    SSL_shutdown(ssl);
    ERR_clear_error();
  }
  SSL_free(ssl);
}
