/* SPDX-License-Identifier: MIT */
/*
 * fake_provider [--port N] [--host 127.0.0.1] [--max-recorded N]
 *               [--max-recorded-mb N]
 *
 * Listens on the given host only (loopback by default), prints exactly one
 * line "listening on HOST:PORT" once it accepts connections, and exits 0 on
 * SIGTERM or SIGINT after closing every connection and freeing everything
 * (so leak checkers see a clean exit).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fake_provider.h"

static uv_tcp_t server;
static uv_signal_t sig_int, sig_term;

static void usage(FILE *f)
{
  fprintf(f, "usage: fake_provider [--port N] [--host ADDR] [--max-recorded N] "
             "[--max-recorded-mb N]\n"
             "  --port N             TCP port, 0 (default) picks a free one\n"
             "  --host ADDR          address to bind (default 127.0.0.1)\n"
             "  --max-recorded N     requests kept for /_fake/requests (default 1000)\n"
             "  --max-recorded-mb N  and at most this many MB of them (default 256)\n");
}

static bool parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
    return false;
  *out = v;
  return true;
}

static void on_signal(uv_signal_t *s, int signum)
{
  /* Close everything; uv_run returns once the last handle is closed. A
   * second signal in the same loop turn must not close them twice. */
  static bool stopping;
  if (stopping)
    return;
  stopping = true;
  uv_close((uv_handle_t *)&server, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  fp_http_close_all();
}

/* Many slow streams at once need many descriptors. */
static void raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      perror("fake_provider: setrlimit");
  }
}

int main(int argc, char **argv)
{
  const char *host = "127.0.0.1";
  unsigned long long port = 0, max_recorded = 1000, max_mb = 256;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool ok = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (ok && strcmp(a, "--port") == 0) {
      ok = parse_num(argv[++i], 65535, &port);
    } else if (ok && strcmp(a, "--host") == 0) {
      host = argv[++i];
    } else if (ok && strcmp(a, "--max-recorded") == 0) {
      ok = parse_num(argv[++i], 100000000, &max_recorded) && max_recorded > 0;
    } else if (ok && strcmp(a, "--max-recorded-mb") == 0) {
      ok = parse_num(argv[++i], 1 << 20, &max_mb);
    } else {
      ok = false;
    }
    if (!ok) {
      fprintf(stderr, "fake_provider: bad argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }

  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN); /* a write to a gone client must not kill us */
  uv_loop_t *loop = uv_default_loop();
  fp_http_init(loop);
  fp_script_init();
  fp_recorder_init((size_t)max_recorded, (size_t)max_mb << 20);

  struct sockaddr_storage addr;
  bool v6 = strchr(host, ':') != NULL;
  int rc = v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr)
              : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr);
  uv_tcp_init(loop, &server);
  server.data = NULL; /* tells the listener apart from connections */
  if (rc == 0)
    rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&server, 4096, fp_http_on_connection);
  if (rc != 0) {
    fprintf(stderr, "fake_provider: cannot listen on %s:%llu: %s\n", host, port, uv_strerror(rc));
    return 1;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  int bound_port = ntohs(bound.ss_family == AF_INET6
                             ? ((struct sockaddr_in6 *)&bound)->sin6_port
                             : ((struct sockaddr_in *)&bound)->sin_port);
  printf(v6 ? "listening on [%s]:%d\n" : "listening on %s:%d\n", host, bound_port);
  fflush(stdout);

  uv_signal_init(loop, &sig_int);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);

  fp_script_free();
  fp_recorder_free();
  fp_models_free();
  uv_loop_close(loop);
  return 0;
}
