/* SPDX-License-Identifier: MIT */
/* Readiness notification (systemd's notify protocol); see
 * include/switchboard/notify.h. */
#include "switchboard/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "switchboard/log.h"

/* The socket's address from NOTIFY_SOCKET: "/path" or "@abstract" (the '@'
 * stands for the leading NUL of an abstract name, which is not
 * NUL-terminated: its length is the address length). */
static sb_status_t notify_address(const char *name, struct sockaddr_un *sa,
                                  socklen_t *len)
{
  size_t n = strlen(name);
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
    return SB_ERROR;
  memcpy(sa->sun_path, name, n);
  if (name[0] == '@') {
    sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  return SB_OK;
}

sb_status_t sb_notify(const char *state)
{
  const char *name = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa;
  socklen_t len;
  sb_status_t rc = SB_ERROR;
  int fd = -1;
  if (name == NULL || name[0] == '\0')
    return SB_DECLINED;
  if (notify_address(name, &sa, &len) != SB_OK) {
    SB_WARN("NOTIFY_SOCKET '%s' is neither an absolute path nor an abstract "
            "name (@name) that fits a unix socket address; not notifying",
            name);
    return SB_ERROR;
  }
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    SB_WARN("notify: socket: %s", strerror(errno));
    goto out;
  }
  size_t n = strlen(state);
  ssize_t sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
  if (sent < 0 || (size_t)sent != n) {
    SB_WARN("notify: cannot send '%s' to %s: %s", state, name,
            sent < 0 ? strerror(errno) : "short write");
    goto out;
  }
  rc = SB_OK;
out:
  if (fd >= 0)
    close(fd);
  return rc;
}
