/* SPDX-License-Identifier: MIT */
/* The upstream client's test bench: an in-process loopback HTTP server,
 * scripted per case, on a real libuv loop, speaking plain HTTP or, with
 * `harness_tls`, HTTPS (OpenSSL server side over memory BIOs, with a
 * certificate authority and certificates the test makes in memory); and
 * the client side that records what a transfer reports. Shared by
 * test_upstream_client.c (every case over http and https) and
 * test_upstream_tls.c (what only TLS has).
 *
 * The functions are SB_UNUSED: a test file uses those it needs. */
#ifndef SB_TEST_UPSTREAM_HARNESS_H
#define SB_TEST_UPSTREAM_HARNESS_H

#include "test_helpers.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <uv.h>

#include "switchboard/buf.h"
#include "switchboard/upstream.h"

#define HARNESS_FN static SB_UNUSED

/* ---- certificates ------------------------------------------------------------- */

typedef struct {
  EVP_PKEY *key;
  X509 *cert;
} tcert_t;

HARNESS_FN void tc_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  assert_non_null(e);
  assert_int_equal(X509_add_ext(x, e, -1), 1);
  X509_EXTENSION_free(e);
}

/* A P-256 key and a certificate for it: a CA when `ca`, else a server or
 * client certificate naming `san` ("DNS:localhost,IP:127.0.0.1"), valid
 * from `from_days` to `to_days` from now, signed by `issuer` (NULL: self). */
HARNESS_FN tcert_t tc_make(const char *cn, const char *san, bool ca,
                           long from_days, long to_days, const tcert_t *issuer)
{
  static long serial = 1;
  tcert_t t;
  t.key = EVP_EC_gen("P-256");
  assert_non_null(t.key);
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
  X509_set_pubkey(x, t.key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509 *by = issuer != NULL ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(by));
  tc_ext(x, by, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  tc_ext(x, by, NID_key_usage, ca ? "critical,keyCertSign,cRLSign"
                                  : "critical,digitalSignature");
  tc_ext(x, by, NID_subject_key_identifier, "hash");
  if (issuer != NULL)
    tc_ext(x, by, NID_authority_key_identifier, "keyid");
  if (!ca) {
    tc_ext(x, by, NID_ext_key_usage, "serverAuth,clientAuth");
    tc_ext(x, by, NID_subject_alt_name, san);
  }
  assert_true(X509_sign(x, issuer != NULL ? issuer->key : t.key, EVP_sha256()) > 0);
  t.cert = x;
  return t;
}

HARNESS_FN void tc_free(tcert_t *t)
{
  X509_free(t->cert);
  EVP_PKEY_free(t->key);
  t->cert = NULL;
  t->key = NULL;
}

/* The PEM files the client reads: written into a private temp directory. */
static char harness_dir[64];

HARNESS_FN const char *tc_path(const char *name)
{
  static char paths[8][128];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof(paths[0]), "%s/%s", harness_dir, name);
  return p;
}

/* Writes `t`'s certificate (and its key, when `key` is set) as PEM. */
HARNESS_FN void tc_write(const tcert_t *t, const char *cert_name,
                         const char *key_name)
{
  FILE *f = fopen(tc_path(cert_name), "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, t->cert), 1);
  fclose(f);
  if (key_name != NULL) {
    f = fopen(tc_path(key_name), "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, t->key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
  }
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* ---- TLS on the server side ---------------------------------------------------- */

/* The test's certificate authority and the server's certificate for
 * localhost and 127.0.0.1; the CA's PEM is tls.ca_file for the client. */
static tcert_t harness_ca, harness_srv;
static bool harness_tls;               /* the server speaks TLS */
static sb_upstream_tls_t harness_client_tls;

HARNESS_FN void harness_tls_init(void)
{
  snprintf(harness_dir, sizeof(harness_dir), "/tmp/sb-tls-test-XXXXXX");
  assert_non_null(mkdtemp(harness_dir));
  harness_ca = tc_make("switchboard test CA", NULL, true, -1, 30, NULL);
  harness_srv = tc_make("localhost", "DNS:localhost,IP:127.0.0.1", false, -1, 30,
                        &harness_ca);
  tc_write(&harness_ca, "ca.pem", NULL);
  memset(&harness_client_tls, 0, sizeof(harness_client_tls));
  harness_client_tls.ca_file = strdup(tc_path("ca.pem"));
}

HARNESS_FN void harness_tls_cleanup(void)
{
  tc_free(&harness_ca);
  tc_free(&harness_srv);
  free((char *)harness_client_tls.ca_file);
  harness_client_tls.ca_file = NULL;
  nftw(harness_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* What the TLS server saw of the client. */
typedef struct {
  char sni[256];          /* the server name asked for, "" if none */
  char alpn[64];          /* the protocols offered, comma-separated */
  bool resumed;           /* the session was resumed */
  bool peer_cert;         /* the client presented a certificate */
} tls_seen_t;

static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg)
{
  tls_seen_t *seen = SSL_get_app_data(ssl);
  (void)arg;
  size_t n = 0;
  for (unsigned int i = 0; i < inlen && n + 1 < sizeof(seen->alpn);) {
    unsigned int len = in[i++];
    if (n > 0)
      seen->alpn[n++] = ',';
    for (unsigned int k = 0; k < len && i < inlen && n + 1 < sizeof(seen->alpn); k++)
      seen->alpn[n++] = (char)in[i++];
  }
  seen->alpn[n] = '\0';
  *out = in + 1;
  *outlen = in[0];
  return SSL_TLSEXT_ERR_OK;
}

/* A server context with `cert` (signed by the harness CA, sent alone as
 * servers do: the client must know the CA), asking for a client
 * certificate when `want_client_cert`. */
HARNESS_FN SSL_CTX *tls_server_ctx(const tcert_t *cert, bool want_client_cert)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  assert_non_null(ctx);
  assert_int_equal(SSL_CTX_use_certificate(ctx, cert->cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(ctx, cert->key), 1);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sb", 2);
  if (want_client_cert) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), harness_ca.cert);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
  }
  return ctx;
}

/* ---- the scripted server ------------------------------------------------------- */

typedef struct server server_t;

typedef struct sconn {
  uv_tcp_t tcp;
  server_t *s;
  int id;                /* 1, 2, ... in accept order */
  int served;            /* requests answered on this connection */
  sb_buf_t in;           /* bytes of the request being received */
  uv_timer_t timer;      /* staged writes */
  int step;
  bool closed;
  SSL *ssl;              /* TLS: the server side, over memory BIOs */
  BIO *rbio, *wbio;
  bool hs_done;
  bool corked;           /* TLS: records are kept until srv_flush */
  tls_seen_t seen;
  struct sconn *next;
} sconn_t;

struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  int accepted;
  int requests;
  sconn_t *conns;
  SSL_CTX *tls;          /* set: every connection speaks TLS */
  /* what the case does with a complete request (head + body) */
  void (*on_request)(sconn_t *c, const char *req, size_t head_len,
                     const char *body, size_t body_len);
  void (*on_step)(sconn_t *c); /* staged writes, on c->timer */
  char last_req[2048];
  size_t last_body_len;
  bool body_ok;          /* the 1 MB case: the body was intact */
};

typedef struct {
  uv_write_t req;
  char data[];
} wreq_t;

static void write_done(uv_write_t *w, int status)
{
  (void)status;
  free(w);
}

static void raw_write(sconn_t *c, const char *s, size_t n)
{
  wreq_t *w = malloc(sizeof(*w) + n);
  assert_non_null(w);
  memcpy(w->data, s, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0)
    free(w);
}

/* TLS: what OpenSSL wrote goes out, in one write. */
HARNESS_FN void srv_flush(sconn_t *c)
{
  if (c->ssl == NULL || c->closed)
    return;
  char buf[64 * 1024];
  size_t pend;
  while ((pend = BIO_ctrl_pending(c->wbio)) > 0) {
    int n = BIO_read(c->wbio, buf, (int)SB_MIN(pend, sizeof(buf)));
    if (n <= 0)
      break;
    raw_write(c, buf, (size_t)n);
  }
}

HARNESS_FN void srv_write(sconn_t *c, const char *s, size_t n)
{
  if (c->closed)
    return;
  if (c->ssl == NULL) {
    raw_write(c, s, n);
    return;
  }
  size_t put;
  assert_int_equal(SSL_write_ex(c->ssl, s, n, &put), 1); /* one record */
  assert_int_equal(put, n);
  if (!c->corked)
    srv_flush(c);
}

#define SRV_SEND(c, lit) srv_write((c), (lit), sizeof(lit) - 1)

static void sconn_close_cb(uv_handle_t *h)
{
  (void)h; /* freed when the server goes */
}

/* Closes the connection, as a server does: with close_notify over TLS. */
HARNESS_FN void srv_close(sconn_t *c)
{
  if (c->closed)
    return;
  if (c->ssl != NULL && c->hs_done) {
    SSL_shutdown(c->ssl);
    c->corked = false;
    srv_flush(c);
  }
  c->closed = true;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, sconn_close_cb);
  uv_close((uv_handle_t *)&c->tcp, sconn_close_cb);
}

/* Resets the connection (RST), as a crashed or overloaded server does. */
HARNESS_FN void srv_reset(sconn_t *c)
{
  if (c->closed)
    return;
  c->closed = true;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, sconn_close_cb);
  if (uv_tcp_close_reset(&c->tcp, sconn_close_cb) != 0)
    uv_close((uv_handle_t *)&c->tcp, sconn_close_cb);
}

static void srv_step_cb(uv_timer_t *t)
{
  sconn_t *c = t->data;
  c->step++;
  c->s->on_step(c);
}

/* Call on_step every `ms` (until srv_stop_steps). */
HARNESS_FN void srv_steps(sconn_t *c, uint64_t ms)
{
  uv_timer_start(&c->timer, srv_step_cb, ms, ms);
}

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
  static char buf[65536];
  (void)h;
  (void)hint;
  *b = uv_buf_init(buf, sizeof(buf));
}

static size_t content_length(const char *head, size_t n)
{
  const char *p = head;
  while ((p = memmem(p, n - (size_t)(p - head), "\r\nContent-Length: ", 18)) != NULL)
    return (size_t)strtoul(p + 18, NULL, 10);
  return 0;
}

/* Complete requests in c->in go to on_request. */
static void srv_requests(sconn_t *c)
{
  for (;;) {
    const char *d = c->in.data;
    const char *end = c->in.len > 0 ? memmem(d, c->in.len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
      return;
    size_t head = (size_t)(end - d) + 4;
    size_t blen = content_length(d, head);
    if (c->in.len < head + blen)
      return;
    server_t *s = c->s;
    s->requests++;
    snprintf(s->last_req, sizeof(s->last_req), "%.*s", (int)head, d);
    s->last_body_len = blen;
    s->on_request(c, d, head, d + head, blen);
    c->served++;
    if (c->closed)
      return;
    memmove(c->in.data, c->in.data + head + blen, c->in.len - head - blen);
    c->in.len -= head + blen;
  }
}

/* TLS: `n` bytes from the socket into OpenSSL; the handshake, then the
 * plaintext into c->in. False when the connection is over. */
static bool srv_tls_in(sconn_t *c, const char *p, size_t n)
{
  BIO_write(c->rbio, p, (int)n);
  if (!c->hs_done) {
    int rc = SSL_do_handshake(c->ssl);
    srv_flush(c);
    if (rc != 1) {
      int e = SSL_get_error(c->ssl, rc);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ;
    }
    c->hs_done = true;
    c->seen.resumed = SSL_session_reused(c->ssl) == 1;
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(c->seen.sni, sizeof(c->seen.sni), "%s", sni != NULL ? sni : "");
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    c->seen.peer_cert = peer != NULL;
    X509_free(peer);
  }
  char buf[16384];
  size_t got;
  while (SSL_read_ex(c->ssl, buf, sizeof(buf), &got) == 1)
    sb_buf_append(&c->in, buf, got);
  int e = SSL_get_error(c->ssl, 0);
  bool open = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  ERR_clear_error();
  srv_flush(c); /* tickets, key updates */
  return open;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
  sconn_t *c = st->data;
  if (n < 0) {
    srv_close(c);
    return;
  }
  if (c->ssl != NULL) {
    if (!srv_tls_in(c, b->base, (size_t)n)) {
      srv_close(c);
      return;
    }
  } else {
    sb_buf_append(&c->in, b->base, (size_t)n);
  }
  srv_requests(c);
}

static void srv_accept(uv_stream_t *l, int status)
{
  server_t *s = l->data;
  assert_int_equal(status, 0);
  sconn_t *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  c->s = s;
  c->id = ++s->accepted;
  sb_buf_init(&c->in, 0);
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->next = s->conns;
  s->conns = c;
  if (s->tls != NULL) {
    c->ssl = SSL_new(s->tls);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    assert_non_null(c->ssl);
    SSL_set_bio(c->ssl, c->rbio, c->wbio); /* owned by the SSL now */
    SSL_set_accept_state(c->ssl);
    SSL_set_app_data(c->ssl, &c->seen);
  }
  assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
  uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

/* `tls`: a server context (the server owns it), or NULL for plain HTTP. */
HARNESS_FN void srv_start(server_t *s, uv_loop_t *loop, SSL_CTX *tls)
{
  struct sockaddr_in a;
  s->loop = loop;
  s->tls = tls;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 64, srv_accept), 0);
  int len = sizeof(a);
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&a, &len);
  s->port = ntohs(a.sin_port);
}

HARNESS_FN void srv_stop(server_t *s)
{
  for (sconn_t *c = s->conns; c != NULL; c = c->next)
    srv_close(c);
  uv_close((uv_handle_t *)&s->listener, NULL);
}

HARNESS_FN void srv_free(server_t *s)
{
  sconn_t *c = s->conns;
  while (c != NULL) {
    sconn_t *next = c->next;
    sb_buf_free(&c->in);
    SSL_free(c->ssl);
    free(c);
    c = next;
  }
  s->conns = NULL;
  SSL_CTX_free(s->tls);
  s->tls = NULL;
}

/* ---- the client side ---------------------------------------------------------- */

typedef struct rec rec_t;
struct rec {
  uv_loop_t *loop;
  sb_upstream_multi_t *m;
  sb_upstream_t *u;
  int heads, dones, datas;
  long status;
  char ct[128];
  char ra[64];
  char error[512];          /* the outcome's error, copied */
  sb_buf_t body;
  sb_upstream_outcome_t o;
  /* behaviours */
  bool ignore;              /* left to the multi's free: record nothing */
  bool cancel_on_data;
  bool detach_on_data;      /* detach at the first piece */
  bool detached;            /* ... and the transfer took over */
  bool pause_every_other;   /* refuse each new piece once */
  bool pause_first_only;    /* ... only the first piece */
  bool refused_pending;
  sb_buf_t refused;         /* the piece refused last */
  int redelivered;
  uv_timer_t resume_timer;
  void (*then)(rec_t *r);   /* from on_done */
  rec_t *next_rec;
};

static void on_head(sb_upstream_t *u, void *data, const sb_upstream_head_t *h)
{
  rec_t *r = data;
  (void)u;
  if (r->ignore)
    return;
  r->heads++;
  r->status = h->status;
  snprintf(r->ct, sizeof(r->ct), "%.*s", (int)h->content_type.len,
           h->content_type.ptr ? h->content_type.ptr : "");
  snprintf(r->ra, sizeof(r->ra), "%.*s", (int)h->retry_after.len,
           h->retry_after.ptr ? h->retry_after.ptr : "");
}

static void resume_cb(uv_timer_t *t)
{
  rec_t *r = t->data;
  if (r->u != NULL)
    sb_upstream_resume(r->u);
}

static sb_status_t on_data(sb_upstream_t *u, void *data, const char *p, size_t n)
{
  rec_t *r = data;
  if (r->ignore)
    return SB_OK;
  assert_int_equal(r->dones, 0);
  r->datas++;
  if (r->cancel_on_data) {
    sb_upstream_cancel(u);
    r->u = NULL;
    uv_stop(r->loop);
    return SB_OK;
  }
  if (r->detach_on_data) {
    sb_buf_append(&r->body, p, n);
    r->detached = sb_upstream_detach(u);
    r->u = NULL;
    return SB_OK;
  }
  if (r->pause_every_other || (r->pause_first_only && r->redelivered == 0)) {
    if (r->refused_pending) {
      /* The same bytes again, exactly. */
      assert_int_equal(n, r->refused.len);
      assert_memory_equal(p, r->refused.data, n);
      r->refused_pending = false;
      r->redelivered++;
    } else {
      r->refused.len = 0;
      sb_buf_append(&r->refused, p, n);
      r->refused_pending = true;
      sb_upstream_resume(u); /* a no-op inside a callback */
      uv_timer_start(&r->resume_timer, resume_cb, 1, 0);
      return SB_AGAIN;
    }
  }
  sb_buf_append(&r->body, p, n);
  return SB_OK;
}

static void on_done(sb_upstream_t *u, void *data, const sb_upstream_outcome_t *o)
{
  rec_t *r = data;
  (void)u;
  if (r->ignore)
    return;
  r->dones++;
  r->o = *o;
  snprintf(r->error, sizeof(r->error), "%s", o->error != NULL ? o->error : "");
  r->u = NULL;
  uv_timer_stop(&r->resume_timer);
  if (r->then != NULL)
    r->then(r);
  else
    uv_stop(r->loop);
}

static const sb_upstream_callbacks_t harness_cbs = {on_head, on_data, on_done};

typedef struct {
  uv_loop_t loop;
  server_t srv;
  sb_upstream_multi_t *m;
  uv_timer_t guard;
} fixture_t;

HARNESS_FN void rec_init(rec_t *r, fixture_t *f)
{
  memset(r, 0, sizeof(*r));
  r->loop = &f->loop;
  r->m = f->m;
  sb_buf_init(&r->body, 0);
  sb_buf_init(&r->refused, 0);
  uv_timer_init(&f->loop, &r->resume_timer);
  r->resume_timer.data = r;
}

HARNESS_FN void rec_free(rec_t *r)
{
  sb_buf_free(&r->body);
  sb_buf_free(&r->refused);
  uv_close((uv_handle_t *)&r->resume_timer, NULL);
  uv_run(r->loop, UV_RUN_NOWAIT); /* the handle is on the caller's stack */
}

static void guard_cb(uv_timer_t *t)
{
  (void)t;
  /* Not fail_msg: a longjmp out of the loop would hang the teardown. */
  fprintf(stderr, "the case took more than 10 s\n");
  abort();
}

/* A loop, the server (TLS with `tls`, a server context it then owns) and
 * a multi on it. */
HARNESS_FN fixture_t *fixture_new(SSL_CTX *tls)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  uv_loop_init(&f->loop);
  srv_start(&f->srv, &f->loop, tls);
  f->m = sb_upstream_multi_new(&f->loop);
  assert_non_null(f->m);
  uv_timer_init(&f->loop, &f->guard);
  uv_timer_start(&f->guard, guard_cb, 10000, 0);
  uv_unref((uv_handle_t *)&f->guard);
  return f;
}

HARNESS_FN void fixture_free(fixture_t *f)
{
  sb_upstream_multi_free(f->m);
  srv_stop(&f->srv);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  srv_free(&f->srv);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

/* The server's URL for `path`: https when the harness speaks TLS. */
HARNESS_FN const char *url_host(fixture_t *f, const char *host, const char *path)
{
  static char buf[256];
  snprintf(buf, sizeof(buf), "%s://%s:%d%s", harness_tls ? "https" : "http",
           host, f->srv.port, path);
  return buf;
}

HARNESS_FN const char *url(fixture_t *f, const char *path)
{
  return url_host(f, "127.0.0.1", path);
}

/* Starts a transfer with `tls` as its TLS settings. */
HARNESS_FN sb_upstream_t *start_tls(fixture_t *f, rec_t *r, const char *u,
                                    sb_slice_t body, sb_upstream_timeouts_t to,
                                    const sb_upstream_tls_t *tls)
{
  static const sb_kv_t hdrs[] = {{"X-Test", "1"}, {"Content-Type", "application/json"}};
  sb_upstream_request_t req;
  memset(&req, 0, sizeof(req));
  req.url = u;
  req.body = body;
  req.headers = hdrs;
  req.n_headers = 2;
  req.timeouts = to;
  req.tls = tls;
  r->u = sb_upstream_start(f->m, &req, &harness_cbs, r);
  assert_non_null(r->u);
  return r->u;
}

/* Starts a transfer trusting the harness CA. */
HARNESS_FN sb_upstream_t *start(fixture_t *f, rec_t *r, const char *u,
                                sb_slice_t body, sb_upstream_timeouts_t to)
{
  return start_tls(f, r, u, body, to, harness_tls ? &harness_client_tls : NULL);
}

static const sb_upstream_timeouts_t no_to = {0};

static void stop_cb(uv_timer_t *t)
{
  uv_stop(t->loop);
}

/* Runs the loop for `ms` (the server's handles keep it alive otherwise). */
HARNESS_FN void run_for(fixture_t *f, uint64_t ms)
{
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  uv_timer_start(&t, stop_cb, ms, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Runs the loop until no transfer is left (the server's handles keep it
 * alive otherwise). */
static void until_idle_cb(uv_timer_t *t)
{
  fixture_t *f = t->data;
  if (sb_upstream_multi_active(f->m) == 0)
    uv_stop(t->loop);
}

HARNESS_FN void run_until_idle(fixture_t *f)
{
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = f;
  uv_timer_start(&t, until_idle_cb, 5, 5);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Every transfer goes through curl (SWITCHBOARD_UPSTREAM_CLIENT=curl). */
HARNESS_FN bool curl_forced(void)
{
  const char *v = getenv("SWITCHBOARD_UPSTREAM_CLIENT");
  return v != NULL && strcmp(v, "curl") == 0;
}

/* ---- common answers ------------------------------------------------------------ */

HARNESS_FN void answer_hello(sconn_t *c, const char *req, size_t hl,
                             const char *b, size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Retry-After: 3\r\nContent-Length: 11\r\n\r\nhello world");
}

HARNESS_FN void answer_nothing(sconn_t *c, const char *req, size_t hl,
                               const char *b, size_t bl)
{
  (void)c;
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
}

#endif
