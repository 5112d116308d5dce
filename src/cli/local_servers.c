/* SPDX-License-Identifier: MIT */
/*
 * A first run with no provider configured: `serve` looks for a local
 * OpenAI-compatible model server on the loopback address, at the default
 * port of each keyless service it knows (src/providers/known.c: Ollama
 * 11434, llama.cpp 8080, vLLM 8000, LM Studio 1234), and adds each one
 * that answers GET /v1/models with 200 and a model list as a provider of
 * that name. All are asked at once; the whole look takes at most
 * PROBE_MS, and only happens when no provider is configured at all.
 *
 * SWITCHBOARD_LOCAL_PROBE_PORTS replaces the ports, for tests:
 * "ollama=41234,vllm=41235" asks only those; an empty value asks none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "switchboard/cli.h"
#include "switchboard/config.h"
#include "switchboard/log.h"

#define PROBE_MS 300
#define MAX_PROBES 8
#define LOOPBACK_URL "http://127.0.0.1:"

typedef struct {
  const sb_known_provider_t *k;
  unsigned port;
  int fd;       /* -1 once decided */
  bool sent;
  bool found;
  size_t len;
  char buf[4096];
} probe_t;

/* The port of a known keyless service whose default is on loopback, or 0. */
static unsigned default_port(const sb_known_provider_t *k)
{
  size_t n = sizeof(LOOPBACK_URL) - 1;
  if (k->key_env != NULL || strncmp(k->base_url, LOOPBACK_URL, n) != 0)
    return 0;
  return (unsigned)strtoul(k->base_url + n, NULL, 10);
}

/* The services and ports to ask: the defaults, or the variable's list. */
static size_t plan(probe_t *probes)
{
  size_t n = 0;
  const char *env = getenv("SWITCHBOARD_LOCAL_PROBE_PORTS");
  if (env == NULL) {
    for (const sb_known_provider_t *k = sb_known_providers; k->name != NULL; k++)
      if (n < MAX_PROBES && default_port(k) != 0)
        probes[n++] = (probe_t){.k = k, .port = default_port(k), .fd = -1};
    return n;
  }
  const char *p = env;
  while (*p != '\0' && n < MAX_PROBES) {
    const char *eq = strchr(p, '=');
    if (eq == NULL)
      break;
    const sb_known_provider_t *k = sb_known_provider(p, (size_t)(eq - p));
    char *end;
    unsigned long port = strtoul(eq + 1, &end, 10);
    if (k == NULL || default_port(k) == 0 || port == 0 || port > 65535 ||
        (*end != ',' && *end != '\0')) {
      SB_WARN("SWITCHBOARD_LOCAL_PROBE_PORTS: '%s' is not a list of "
              "name=port (names: ollama, llamacpp, vllm, lmstudio)", env);
      return n;
    }
    probes[n++] = (probe_t){.k = k, .port = (unsigned)port, .fd = -1};
    p = *end == ',' ? end + 1 : end;
  }
  return n;
}

static void probe_close(probe_t *pr)
{
  if (pr->fd >= 0)
    close(pr->fd);
  pr->fd = -1;
}

static void probe_start(probe_t *pr)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)pr->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  pr->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (pr->fd >= 0 && connect(pr->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
      errno != EINPROGRESS)
    probe_close(pr);
}

/* Connected: send the request (a few bytes; a short write is a failure). */
static void probe_send(probe_t *pr)
{
  char req[160];
  int err = 0;
  socklen_t el = sizeof(err);
  if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
    probe_close(pr);
    return;
  }
  int n = snprintf(req, sizeof(req),
                   "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Accept: application/json\r\nConnection: close\r\n\r\n",
                   pr->port);
  if (write(pr->fd, req, (size_t)n) != n)
    probe_close(pr);
  else
    pr->sent = true;
}

/* Read the answer; decided (and closed) once it shows a 200 with a model
 * list, anything else, or ends. */
static void probe_read(probe_t *pr)
{
  ssize_t r = read(pr->fd, pr->buf + pr->len, sizeof(pr->buf) - 1 - pr->len);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r > 0)
    pr->len += (size_t)r;
  pr->buf[pr->len] = '\0';
  bool ok200 = pr->len >= 12 && memcmp(pr->buf, "HTTP/1.", 7) == 0 &&
               memcmp(pr->buf + 8, " 200", 4) == 0;
  const char *body = strstr(pr->buf, "\r\n\r\n");
  if (pr->len >= 12 && !ok200) {
    probe_close(pr);
  } else if (ok200 && body != NULL && strstr(body, "\"data\"") != NULL) {
    pr->found = true;
    probe_close(pr);
  } else if (r <= 0 || pr->len == sizeof(pr->buf) - 1) {
    probe_close(pr);
  }
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sb_cli_find_local_servers(sb_config_t *cfg)
{
  probe_t probes[MAX_PROBES];
  size_t planned = plan(probes), n = 0;
  for (size_t i = 0; i < planned; i++) /* never ask ourselves */
    if (!cfg->listen_loopback || probes[i].port != cfg->listen_port)
      probes[n++] = probes[i];
  for (size_t i = 0; i < n; i++)
    probe_start(&probes[i]);
  int64_t deadline = now_ms() + PROBE_MS;
  for (;;) {
    struct pollfd pfd[MAX_PROBES];
    probe_t *of[MAX_PROBES];
    nfds_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (probes[i].fd < 0)
        continue;
      pfd[m] = (struct pollfd){.fd = probes[i].fd,
                               .events = probes[i].sent ? POLLIN : POLLOUT};
      of[m++] = &probes[i];
    }
    int64_t left = deadline - now_ms();
    if (m == 0 || left <= 0)
      break;
    if (poll(pfd, m, (int)left) < 0 && errno != EINTR)
      break;
    for (nfds_t j = 0; j < m; j++) {
      if (pfd[j].revents == 0)
        continue;
      if (!of[j]->sent)
        probe_send(of[j]);
      else
        probe_read(of[j]);
    }
  }
  for (size_t i = 0; i < n; i++) {
    probe_t *pr = &probes[i];
    probe_close(pr);
    if (!pr->found)
      continue;
    char url[64];
    snprintf(url, sizeof(url), LOOPBACK_URL "%u/v1", pr->port);
    if (sb_config_add_known(cfg, pr->k, url) != SB_OK)
      break;
    SB_INFO("no provider configured; found %s on 127.0.0.1:%u: added as "
            "provider '%s' (%s; model ids '%s/MODEL')",
            pr->k->display_name, pr->port, pr->k->name, url, pr->k->name);
  }
}
