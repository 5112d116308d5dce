/* SPDX-License-Identifier: MIT */
/* SB_INVARIANT: a broken invariant stops the process with SIGABRT after
 * naming the expression, file and line on stderr, in a release build as
 * in a debug one; a kept one costs nothing visible. */
#include "test_helpers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "switchboard/buf.h"

static void test_kept(void **state)
{
  (void)state;
  sb_buf_t b;
  sb_buf_init(&b, 0);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(sb_buf_append(&b, "abc", 3), SB_OK);
  assert_int_equal(b.len, 3000);
  sb_buf_free(&b);
  SB_INVARIANT(1 + 1 == 2);
}

static void test_broken(void **state)
{
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    signal(SIGABRT, SIG_DFL);
    volatile int two = 2;
    SB_INVARIANT(two == 3);
    _exit(0); /* not reached */
  }
  close(fds[1]);
  char out[512];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(fds[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  assert_non_null(strstr(out, "switchboard: invariant broken at "));
  assert_non_null(strstr(out, "test_invariant.c:"));
  assert_non_null(strstr(out, ": two == 3\n"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kept),
      cmocka_unit_test(test_broken),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
