/* SPDX-License-Identifier: MIT */
/* Readiness notification (src/core/notify.c): what reaches a socket bound
 * where NOTIFY_SOCKET points, a path or an abstract name, and the cases
 * where nothing can be sent. */
#include "test_helpers.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "switchboard/notify.h"

/* A datagram socket bound at `name` ("/path" or "@abstract"), as a service
 * manager binds it; returns the descriptor. */
static int bind_listener(const char *name)
{
  struct sockaddr_un sa;
  size_t n = strlen(name);
  socklen_t len;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  assert_true(n < sizeof(sa.sun_path));
  memcpy(sa.sun_path, name, n);
  if (name[0] == '@') {
    sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (bind(fd, (struct sockaddr *)&sa, len) != 0)
    fail_msg("bind %s: %s", name, strerror(errno));
  return fd;
}

/* The next datagram on `fd`, which must already be there (sb_notify has
 * returned, so it was queued). */
static void expect_datagram(int fd, const char *want)
{
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
  if (n < 0)
    fail_msg("no datagram: %s", strerror(errno));
  buf[n] = '\0';
  assert_string_equal(buf, want);
}

static void test_unset_or_empty_sends_nothing(void **state)
{
  (void)state;
  unsetenv("NOTIFY_SOCKET");
  assert_int_equal(sb_notify("READY=1"), SB_DECLINED);
  setenv("NOTIFY_SOCKET", "", 1);
  assert_int_equal(sb_notify("READY=1"), SB_DECLINED);
  unsetenv("NOTIFY_SOCKET");
}

static void test_path_socket(void **state)
{
  (void)state;
  char dir[] = "/tmp/sb-notify-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/notify", dir);
  int fd = bind_listener(path);
  setenv("NOTIFY_SOCKET", path, 1);

  assert_int_equal(sb_notify("READY=1"), SB_OK);
  expect_datagram(fd, "READY=1");
  /* several assignments travel as one datagram, in order */
  assert_int_equal(sb_notify("RELOADING=1\nSTATUS=reloading"), SB_OK);
  assert_int_equal(sb_notify("STOPPING=1"), SB_OK);
  expect_datagram(fd, "RELOADING=1\nSTATUS=reloading");
  expect_datagram(fd, "STOPPING=1");

  close(fd);
  unlink(path);
  rmdir(dir);
  /* nobody listens there any more: an error, not a crash or a hang */
  assert_int_equal(sb_notify("READY=1"), SB_ERROR);
  unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **state)
{
  (void)state;
  char name[64];
  snprintf(name, sizeof(name), "@sb-notify-test-%ld", (long)getpid());
  int fd = bind_listener(name);
  setenv("NOTIFY_SOCKET", name, 1);
  assert_int_equal(sb_notify("READY=1"), SB_OK);
  expect_datagram(fd, "READY=1");
  close(fd);
  unsetenv("NOTIFY_SOCKET");
}

static void test_malformed_addresses(void **state)
{
  (void)state;
  char longpath[200];
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[0] = '/';
  longpath[sizeof(longpath) - 1] = '\0';
  /* relative paths, a bare '@', a name longer than sun_path */
  const char *bad[] = {"notify.sock", "@", "/", "x@y", longpath};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    setenv("NOTIFY_SOCKET", bad[i], 1);
    if (sb_notify("READY=1") != SB_ERROR)
      fail_msg("NOTIFY_SOCKET='%.40s' was accepted", bad[i]);
  }
  unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unset_or_empty_sends_nothing),
      cmocka_unit_test(test_path_socket),
      cmocka_unit_test(test_abstract_socket),
      cmocka_unit_test(test_malformed_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
