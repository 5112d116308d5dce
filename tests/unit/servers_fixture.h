/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests of the Postgres store and the shared counters
 * (include test_helpers.h first): a private Postgres and Redis started by
 * scripts/scaleout-servers for the test program (ctest runs it from the
 * repository root), stopped at its end. */
#ifndef SWITCHBOARD_SERVERS_FIXTURE_H
#define SWITCHBOARD_SERVERS_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static char srv_dir[64];
static char srv_pg[160];    /* postgres://...; "" without Postgres */
static char srv_redis[80];  /* redis://... */

/* A loopback port nothing listens on now. */
static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

/* Run scripts/scaleout-servers CMD on our servers with `args`; its first
 * line of output into `out` (if given). 0 on success. */
static int servers_run(const char *cmd, const char *args, char *out,
                       size_t cap)
{
  char line[512];
  snprintf(line, sizeof(line), "scripts/scaleout-servers %s %s %s", cmd,
           srv_dir, args != NULL ? args : "");
  FILE *p = popen(line, "r");
  if (p == NULL)
    return -1;
  char buf[512] = "";
  if (fgets(buf, sizeof(buf), p) == NULL)
    buf[0] = '\0';
  char rest[256];
  while (fgets(rest, sizeof(rest), p) != NULL)
    ;
  int status = pclose(p);
  buf[strcspn(buf, "\n")] = '\0';
  if (out != NULL)
    snprintf(out, cap, "%s", buf);
  return status;
}

/* Start Redis, and Postgres when `postgres`. */
static int servers_start(bool postgres)
{
  snprintf(srv_dir, sizeof(srv_dir), "/tmp/sb-servers-XXXXXX");
  if (mkdtemp(srv_dir) == NULL)
    return -1;
  char ports[64], urls[512];
  snprintf(ports, sizeof(ports), "%d %d", postgres ? free_port() : 0,
           free_port());
  if (servers_run("start", ports, urls, sizeof(urls)) != 0)
    return -1;
  char pg[sizeof(srv_pg)], redis[sizeof(srv_redis)];
  if (sscanf(urls, "%159s %79s", pg, redis) != 2)
    return -1;
  snprintf(srv_pg, sizeof(srv_pg), "%s", strcmp(pg, "-") == 0 ? "" : pg);
  snprintf(srv_redis, sizeof(srv_redis), "%s", redis);
  return 0;
}

static void servers_stop(void)
{
  char cmd[160];
  servers_run("stop", NULL, NULL, 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", srv_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", srv_dir);
}

/* cmocka group fixtures: Postgres and Redis (or Redis alone) started for
 * a group of tests, stopped after it. */
static inline int servers_group_up(void **state)
{
  (void)state;
  return servers_start(true);
}

static inline int servers_group_up_redis(void **state)
{
  (void)state;
  return servers_start(false);
}

static inline int servers_group_down(void **state)
{
  (void)state;
  servers_stop();
  return 0;
}

/* A fresh database; its URL into `url`. */
static inline int servers_createdb(const char *name, char *url, size_t cap)
{
  return servers_run("createdb", name, url, cap);
}

#endif
