/* SPDX-License-Identifier: MIT */
/* The workers' listening sockets: shared among themselves with
 * SO_REUSEPORT, refused when another socket (another process) listens on
 * the same address, even one that set SO_REUSEPORT as the same user. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_helpers.h"

#include "switchboard/http.h"

static struct sockaddr_storage loopback(uint16_t port)
{
  struct sockaddr_storage ss;
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  memset(&ss, 0, sizeof(ss));
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ss;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
  return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* What another gateway's worker holds: a listener with SO_REUSEPORT. */
static int other_listener(const struct sockaddr_storage *ss)
{
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  assert_int_equal(bind(fd, (const struct sockaddr *)ss, sizeof(struct sockaddr_in)), 0);
  assert_int_equal(listen(fd, 16), 0);
  return fd;
}

static void close_all(int *fds, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    close(fds[i]);
}

/* Port 0: the first socket picks the port, the others share it; then the
 * same port again, explicitly, is refused while they listen and taken
 * once they are gone. */
static void test_workers_share_others_refused(void **state)
{
  (void)state;
  char err[256];
  int fds[3], again[2];
  struct sockaddr_storage ss = loopback(0);
  assert_int_equal(sb_http_listen(&ss, sizeof(struct sockaddr_in), fds, 3, err,
                                   sizeof(err)),
                   SB_OK);
  uint16_t port = port_of(&ss);
  assert_true(port != 0);
  for (unsigned i = 0; i < 3; i++) {
    struct sockaddr_storage b;
    socklen_t l = sizeof(b);
    assert_int_equal(getsockname(fds[i], (struct sockaddr *)&b, &l), 0);
    assert_int_equal(port_of(&b), port);
  }
  struct sockaddr_storage same = loopback(port);
  assert_int_equal(sb_http_listen(&same, sizeof(struct sockaddr_in), again, 2,
                                  err, sizeof(err)),
                   SB_DECLINED);
  close_all(fds, 3);
  /* free again (TIME_WAIT or not): the workers of a restart may bind */
  assert_int_equal(sb_http_listen(&same, sizeof(struct sockaddr_in), again, 2,
                                  err, sizeof(err)),
                   SB_OK);
  close_all(again, 2);
}

/* Another process's SO_REUSEPORT listener: the probe refuses the address
 * before anything is bound. */
static void test_reuseport_listener_refused(void **state)
{
  (void)state;
  char err[256];
  int fds[2];
  struct sockaddr_storage ss = loopback(0);
  int other = other_listener(&ss);
  socklen_t l = sizeof(ss);
  assert_int_equal(getsockname(other, (struct sockaddr *)&ss, &l), 0);
  assert_int_equal(sb_http_listen(&ss, sizeof(struct sockaddr_in), fds, 2, err,
                                  sizeof(err)),
                   SB_DECLINED);
  close(other);
}

/* The check after listening, which closes the race of two gateways that
 * both pass the probe: a listener on the address that is not among ours
 * is seen, from /proc/net/tcp. */
static void test_foreign_listener_seen(void **state)
{
  (void)state;
  struct sockaddr_storage ss = loopback(0);
  int other = other_listener(&ss);
  socklen_t l = sizeof(ss);
  assert_int_equal(getsockname(other, (struct sockaddr *)&ss, &l), 0);
  int ours[2] = {other_listener(&ss), other_listener(&ss)};
  if (access("/proc/net/tcp", R_OK) != 0)
    skip();
  assert_false(sb_http_listeners_exclusive((struct sockaddr *)&ss, ours, 2));
  int all[3] = {ours[0], ours[1], other};
  assert_true(sb_http_listeners_exclusive((struct sockaddr *)&ss, all, 3));
  /* a listener on another address (the wildcard) is no concern */
  struct sockaddr_storage any = ss;
  ((struct sockaddr_in *)&any)->sin_addr.s_addr = htonl(INADDR_ANY);
  assert_true(sb_http_listeners_exclusive((struct sockaddr *)&any, NULL, 0));
  close_all(all, 3);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_workers_share_others_refused),
      cmocka_unit_test(test_reuseport_listener_refused),
      cmocka_unit_test(test_foreign_listener_seen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
