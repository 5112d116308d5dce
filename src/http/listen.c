/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets: one per worker on the same address, bound with
 * SO_REUSEPORT so that the kernel spreads connections across the workers,
 * and shared with no other process.
 *
 * SO_REUSEPORT lets any socket of the same user join the group, so a
 * second gateway started on a port the first one serves would get part of
 * its connections, with another config, other keys and another ledger.
 * Two checks keep that from happening:
 *   1. Before binding, a probe socket without SO_REUSEPORT is bound to the
 *      address: the kernel refuses it (EADDRINUSE) while anything listens
 *      there, whatever that socket's options. SO_REUSEADDR on the probe
 *      only lets it past connections in TIME_WAIT (a restart), never past
 *      a listener. Port 0 needs no probe: the kernel never picks a port
 *      that is in use.
 *   2. Two gateways started at the same moment can both pass check 1
 *      before either listens. So once the workers listen, the listening
 *      sockets on the exact address (from /proc/net/tcp or tcp6) must all
 *      be this process's. Of two such gateways the later to listen sees
 *      the other and refuses; if both listened before either looked, both
 *      refuse. Neither ever serves a shared port. The connections the
 *      kernel gave the refusing one in that instant are reset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "switchboard/http.h"
#include "switchboard/log.h"

static uint16_t port_of(const struct sockaddr *sa)
{
  return ntohs(sa->sa_family == AF_INET6
                   ? ((const struct sockaddr_in6 *)sa)->sin6_port
                   : ((const struct sockaddr_in *)sa)->sin_port);
}

/* Check 1: EADDRINUSE when something listens on the address. */
static sb_status_t probe(const struct sockaddr *sa, socklen_t len, char *err,
                         size_t errlen)
{
  int one = 1;
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return SB_ERROR;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sb_status_t rc = SB_OK;
  if (bind(fd, sa, len) != 0) {
    rc = errno == EADDRINUSE ? SB_DECLINED : SB_ERROR;
    snprintf(err, errlen, "cannot listen: %s", strerror(errno));
  }
  close(fd);
  return rc;
}

/* The address as /proc/net/tcp{,6} prints it: the 32-bit words of the
 * address in the host's byte order, in hex. */
static void proc_address(const struct sockaddr *sa, char *out, size_t cap)
{
  uint32_t w[4];
  if (sa->sa_family == AF_INET6) {
    memcpy(w, &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(w));
    snprintf(out, cap, "%08X%08X%08X%08X", w[0], w[1], w[2], w[3]);
  } else {
    memcpy(w, &((const struct sockaddr_in *)sa)->sin_addr, sizeof(w[0]));
    snprintf(out, cap, "%08X", w[0]);
  }
}

bool sb_http_listeners_exclusive(const struct sockaddr *sa, const int *fds,
                                 unsigned n)
{
  const char *path = sa->sa_family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp";
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    SB_DEBUG("cannot read %s (%s): listeners not checked", path, strerror(errno));
    return true;
  }
  char want[40], line[512];
  proc_address(sa, want, sizeof(want));
  unsigned port = port_of(sa);
  bool alone = true;
  while (alone && fgets(line, sizeof(line), f) != NULL) {
    char addr[40];
    unsigned lport, state;
    unsigned long inode;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*u %lu",
               addr, &lport, &state, &inode) != 4)
      continue; /* the heading */
    if (state != 0x0A /* TCP_LISTEN */ || lport != port ||
        strcasecmp(addr, want) != 0)
      continue;
    bool ours = false;
    for (unsigned i = 0; i < n && !ours; i++) {
      struct stat st;
      ours = fstat(fds[i], &st) == 0 && (unsigned long)st.st_ino == inode;
    }
    alone = ours;
  }
  fclose(f);
  return alone;
}

static int open_listener(const struct sockaddr *sa, socklen_t len, char *err,
                         size_t errlen)
{
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, sa, len) != 0 || listen(fd, 4096) != 0) {
    snprintf(err, errlen, "cannot listen: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

sb_status_t sb_http_listen(struct sockaddr_storage *ss, socklen_t len,
                           int *fds, unsigned n, char *err, size_t errlen)
{
  struct sockaddr *sa = (struct sockaddr *)ss;
  unsigned opened = 0;
  sb_status_t rc;
  if (port_of(sa) != 0 && (rc = probe(sa, len, err, errlen)) != SB_OK)
    return rc;
  /* With port 0 the first bind picks the port; the others share it. */
  for (; opened < n; opened++) {
    fds[opened] = open_listener(sa, len, err, errlen);
    if (fds[opened] < 0) {
      rc = SB_ERROR;
      goto fail;
    }
    if (opened == 0) {
      socklen_t l = sizeof(*ss);
      getsockname(fds[0], sa, &l);
    }
  }
  if (!sb_http_listeners_exclusive(sa, fds, n)) {
    snprintf(err, errlen, "another process listens there too");
    rc = SB_DECLINED;
    goto fail;
  }
  return SB_OK;
fail:
  for (unsigned i = 0; i < opened; i++)
    close(fds[i]);
  return rc;
}
