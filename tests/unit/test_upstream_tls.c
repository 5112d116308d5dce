/* SPDX-License-Identifier: MIT */
/* What only https has, through the native client (src/upstream/tls.c and
 * h1.c) against the harness's TLS server (tests/unit/upstream_harness.h):
 * certificate checks and their messages, tls_verify off, client
 * certificates, SNI and ALPN, session resumption, bytes held inside TLS
 * with no socket event to announce them (after a pause, after the reads
 * one wake-up allows), TLS housekeeping on an idle connection, a key
 * update mid-response, and settings that cannot be loaded. Every case over
 * plain and TLS alike is in test_upstream_client.c. */
#include "upstream_harness.h"

static int setup(void **state)
{
  harness_tls = true;
  *state = NULL;
  return 0;
}

static int teardown(void **state)
{
  if (*state != NULL)
    fixture_free(*state);
  return 0;
}

/* A fixture whose server presents `cert`. */
static fixture_t *serve(void **state, const tcert_t *cert, bool want_client_cert)
{
  fixture_t *f = fixture_new(tls_server_ctx(cert, want_client_cert));
  *state = f;
  f->srv.on_request = answer_hello;
  return f;
}

/* One request to `host` with `tls`; the loop runs until it ends. */
static void one_request(fixture_t *f, rec_t *r, const char *host,
                        const sb_upstream_tls_t *tls)
{
  rec_init(r, f);
  start_tls(f, r, url_host(f, host, "/v1/x"), SB_SLICE_LIT("{}"), no_to, tls);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r->dones, 1);
}

static void assert_refused_with(const rec_t *r, const char *why)
{
  assert_int_equal(r->o.result, SB_UP_CONNECT_FAILED);
  assert_int_equal(r->heads, 0);
  if (strstr(r->error, why) == NULL)
    fail_msg("expected \"%s\" in \"%s\"", why, r->error);
}

/* ---- certificate checks ------------------------------------------------------- */

static void test_unknown_ca(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  rec_t r;
  one_request(f, &r, "localhost", NULL); /* the system's store only */
  assert_refused_with(&r, "TLS handshake with localhost:");
  assert_refused_with(&r, "certificate verify failed: unable to get local "
                          "issuer certificate");
  assert_int_equal(f->srv.requests, 0);
  rec_free(&r);
}

static void test_wrong_host(void **state)
{
  tcert_t other = tc_make("other.example", "DNS:other.example", false, -1, 30,
                          &harness_ca);
  fixture_t *f = serve(state, &other, false);
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &harness_client_tls);
  assert_refused_with(&r1, "certificate verify failed: hostname mismatch");
  one_request(f, &r2, "127.0.0.1", &harness_client_tls);
  assert_refused_with(&r2, "certificate verify failed: IP address mismatch");
  rec_free(&r1);
  rec_free(&r2);
  tc_free(&other);
}

static void test_expired(void **state)
{
  tcert_t old = tc_make("localhost", "DNS:localhost", false, -30, -1, &harness_ca);
  fixture_t *f = serve(state, &old, false);
  rec_t r;
  one_request(f, &r, "localhost", &harness_client_tls);
  assert_refused_with(&r, "certificate verify failed: certificate has expired");
  rec_free(&r);
  tc_free(&old);
}

/* tls_verify: false takes what the server shows. */
static void test_verify_off(void **state)
{
  tcert_t other = tc_make("other.example", "DNS:other.example", false, -30, -1,
                          &harness_ca);
  fixture_t *f = serve(state, &other, false);
  sb_upstream_tls_t off = {.no_verify = true};
  rec_t r;
  one_request(f, &r, "localhost", &off);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_int_equal(r.body.len, 11);
  rec_free(&r);
  tc_free(&other);
}

/* ---- what the server sees ------------------------------------------------------ */

static void test_sni_and_alpn(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &harness_client_tls);
  assert_int_equal(r1.o.result, SB_UP_OK);
  assert_string_equal(f->srv.conns->seen.sni, "localhost");
  assert_string_equal(f->srv.conns->seen.alpn, "http/1.1");
  /* An address is no server name: no SNI (RFC 6066), still checked. */
  one_request(f, &r2, "127.0.0.1", &harness_client_tls);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(f->srv.accepted, 2); /* another host, another pool */
  assert_string_equal(f->srv.conns->seen.sni, "");
  assert_string_equal(f->srv.conns->seen.alpn, "http/1.1");
  rec_free(&r1);
  rec_free(&r2);
}

static void answer_close(sconn_t *c, const char *req, size_t hl, const char *b,
                         size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  srv_close(c);
}

/* Every request on a new connection: the second resumes the first's
 * session (a TLS 1.3 ticket, which arrives after the handshake). */
static void test_session_resumed(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  f->srv.on_request = answer_close;
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &harness_client_tls);
  assert_int_equal(r1.o.result, SB_UP_OK);
  assert_false(f->srv.conns->seen.resumed);
  one_request(f, &r2, "localhost", &harness_client_tls);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(f->srv.accepted, 2);
  assert_true(f->srv.conns->seen.resumed);
  rec_free(&r1);
  rec_free(&r2);
}

/* tls_cert / tls_key: the server that asks for a client certificate gets
 * one; without them it refuses the client, and the message says so. */
static void test_client_certificate(void **state)
{
  tcert_t client = tc_make("switchboard", "DNS:switchboard.client", false, -1, 30,
                           &harness_ca);
  tc_write(&client, "client.pem", "client.key");
  fixture_t *f = serve(state, &harness_srv, true);
  sb_upstream_tls_t mtls = harness_client_tls;
  mtls.cert = tc_path("client.pem");
  mtls.key = tc_path("client.key");
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &mtls);
  assert_int_equal(r1.o.result, SB_UP_OK);
  assert_true(f->srv.conns->seen.peer_cert);
  one_request(f, &r2, "localhost", &harness_client_tls);
  assert_int_not_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.heads, 0);
  if (strstr(r2.error, "certificate required") == NULL)
    fail_msg("expected the server's alert in \"%s\"", r2.error);
  rec_free(&r1);
  rec_free(&r2);
  tc_free(&client);
}

/* Settings that cannot be loaded: the transfer fails at once and says
 * which file. */
static void test_unusable_settings(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  FILE *g = fopen(tc_path("junk.pem"), "w");
  assert_non_null(g);
  fputs("not a certificate\n", g);
  fclose(g);
  sb_upstream_tls_t bad_ca = {.ca_file = tc_path("junk.pem")};
  sb_upstream_tls_t bad_cert = harness_client_tls;
  bad_cert.cert = tc_path("junk.pem");
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &bad_ca);
  assert_refused_with(&r1, "TLS set-up failed: tls.ca_file");
  one_request(f, &r2, "localhost", &bad_cert);
  assert_refused_with(&r2, "TLS set-up failed: tls_cert");
  assert_int_equal(f->srv.accepted, 0);
  rec_free(&r1);
  rec_free(&r2);
}

/* ---- bytes TLS holds ------------------------------------------------------------- */

/* The whole response as `n` records, sent in one write: the client's TLS
 * reads them off the socket at once, and no socket event comes after. */
static const char *const records[] = {
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "2\r\nr1\r\n", "2\r\nr2\r\n", "2\r\nr3\r\n", "2\r\nr4\r\n", "2\r\nr5\r\n",
    "2\r\nr6\r\n", "2\r\nr7\r\n", "2\r\nr8\r\n", "2\r\nr9\r\n", "2\r\nra\r\n",
    "2\r\nrb\r\n", "2\r\nrc\r\n", "2\r\nrd\r\n", "2\r\nre\r\n", "2\r\nrf\r\n",
    "0\r\n\r\n"};
static const char records_body[] = "r1r2r3r4r5r6r7r8r9rarbrcrdrerf";

static void answer_records(sconn_t *c, const char *req, size_t hl, const char *b,
                           size_t bl)
{
  (void)req;
  (void)hl;
  (void)b;
  (void)bl;
  c->corked = true;
  for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
    srv_write(c, records[i], strlen(records[i]));
  c->corked = false;
  srv_flush(c);
}

/* The idle timeout is what a stall would end in. */
static const sb_upstream_timeouts_t stall_to = {.first_byte_ms = 3000,
                                                .idle_ms = 3000};

/* The records' response, the client pausing on the first piece when
 * `pause_first`; returns how many pieces came again after a pause. */
static int records_case(void **state, bool pause_first)
{
  fixture_t *f = serve(state, &harness_srv, false);
  f->srv.on_request = answer_records;
  rec_t r;
  rec_init(&r, f);
  r.pause_first_only = pause_first;
  start_tls(f, &r, url_host(f, "localhost", "/"), SB_SLICE_LIT("{}"), stall_to,
            &harness_client_tls);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.o.result, SB_UP_OK);
  assert_int_equal(r.body.len, sizeof(records_body) - 1);
  assert_memory_equal(r.body.data, records_body, r.body.len);
  int again = r.redelivered;
  rec_free(&r);
  return again;
}

/* More records than one wake-up reads (the others get their turn): the
 * rest is read on the next turn of the loop, not left for the timeout. */
static void test_records_past_one_wakeup(void **state)
{
  assert_int_equal(records_case(state, false), 0);
}

/* Paused on the first piece while the rest sits inside TLS: resuming
 * delivers it all. */
static void test_pending_after_pause(void **state)
{
  assert_int_equal(records_case(state, true), 1);
}

/* A session ticket that arrives while the connection is idle is TLS
 * housekeeping: the connection stays in the pool and is reused. */
static void ticket_step(sconn_t *c)
{
  uv_timer_stop(&c->timer);
  assert_int_equal(SSL_new_session_ticket(c->ssl), 1);
  assert_int_equal(SSL_do_handshake(c->ssl), 1);
  srv_flush(c);
}

static void answer_then_ticket(sconn_t *c, const char *req, size_t hl,
                               const char *b, size_t bl)
{
  answer_hello(c, req, hl, b, bl);
  if (c->served == 0)
    srv_steps(c, 10);
}

static void test_idle_ticket_keeps_connection(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  f->srv.on_request = answer_then_ticket;
  f->srv.on_step = ticket_step;
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &harness_client_tls);
  assert_int_equal(r1.o.result, SB_UP_OK);
  run_for(f, 60); /* the ticket reaches the idle connection */
  assert_int_equal(f->srv.conns->step, 1);
  one_request(f, &r2, "localhost", &harness_client_tls);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(r2.o.connect_ns, 0);
  assert_int_equal(f->srv.accepted, 1);
  rec_free(&r1);
  rec_free(&r2);
}

/* The server asks for a key update in the middle of a response: the
 * client answers it from inside its read and the connection goes on. */
static void key_update_step(sconn_t *c)
{
  if (c->step == 1) {
    assert_int_equal(SSL_key_update(c->ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    SRV_SEND(c, "4\r\nkey-\r\n");
    return;
  }
  uv_timer_stop(&c->timer);
  SRV_SEND(c, "7\r\nupdated\r\n0\r\n\r\n");
}

static void answer_key_update(sconn_t *c, const char *req, size_t hl,
                              const char *b, size_t bl)
{
  if (c->served > 0) {
    answer_hello(c, req, hl, b, bl);
    return;
  }
  SRV_SEND(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  c->step = 0;
  srv_steps(c, 10);
}

static void test_key_update(void **state)
{
  fixture_t *f = serve(state, &harness_srv, false);
  f->srv.on_request = answer_key_update;
  f->srv.on_step = key_update_step;
  rec_t r1, r2;
  one_request(f, &r1, "localhost", &harness_client_tls);
  assert_int_equal(r1.o.result, SB_UP_OK);
  assert_int_equal(r1.body.len, 11);
  assert_memory_equal(r1.body.data, "key-updated", 11);
  one_request(f, &r2, "localhost", &harness_client_tls);
  assert_int_equal(r2.o.result, SB_UP_OK);
  assert_int_equal(f->srv.accepted, 1);
  rec_free(&r1);
  rec_free(&r2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unknown_ca, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_host, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sni_and_alpn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_resumed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_certificate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unusable_settings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_past_one_wakeup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_after_pause, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_ticket_keeps_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_update, setup, teardown),
  };
  /* The native client's TLS: curl's is the fallback, tested over https
   * by test_upstream_client with SWITCHBOARD_UPSTREAM_CLIENT=curl. */
  unsetenv("SWITCHBOARD_UPSTREAM_CLIENT");
  sb_upstream_global_init();
  harness_tls_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  harness_tls_cleanup();
  sb_upstream_global_cleanup();
  return rc;
}
