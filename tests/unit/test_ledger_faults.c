/* SPDX-License-Identifier: MIT */
/* The ledger when its store refuses writes. Writes are made to fail with
 * this process's file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored):
 * past it every write fails with EFBIG, which SQLite reports as a full disk
 * or an I/O error, as a full file system would; lifting it is "freeing the
 * disk". That works for any user, root or not.
 *
 * Refused commits are retried, not dropped; a failing store never makes a
 * recorder wait, and refuses new requests once the queue is full (or at
 * once when durable); durable rows and key changes whose waiters were told
 * "refused" end as the waiters were told; one log line per failure burst;
 * at close the rows are kept in the unsaved file (or the log) and the next
 * open writes them; a store that cannot be written is refused at open. */
#include "test_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <uv.h>

#include "accounts/ledger_spill.h"
#include "ledger_fixture.h"

static struct rlimit fsize_saved;

/* Every write of this process past `bytes` of a file fails from now on. */
static void writes_fail_past(rlim_t bytes)
{
  struct rlimit r = fsize_saved;
  r.rlim_cur = bytes;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static void writes_work(void)
{
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
}

static int teardown_faults(void **state)
{
  setrlimit(RLIMIT_FSIZE, &fsize_saved);
  return teardown(state);
}

/* Wait until the store has refused at least `n` commits. */
static void wait_refusals(sb_ledger_t *l, uint64_t n, sb_ledger_stats_t *st)
{
  for (;;) {
    sb_ledger_stats(l, st);
    if (st->failing && st->errors >= n)
      return;
    usleep(1000);
  }
}

static void noted(void *data)
{
  *(bool *)data = true;
}

/* Wait for the entry `seq` as the gateway does; its outcome. */
static sb_status_t await_commit(sb_ledger_t *l, uint64_t seq)
{
  uv_loop_t loop;
  sb_ledger_waiter_t w;
  bool done = false;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_ledger_when_committed(l, &loop, &w, seq, noted, &done),
                   SB_OK);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(done);
  assert_int_equal(uv_loop_close(&loop), 0);
  return w.status;
}

static sb_key_t *new_key(sb_keys_t *t, const char *name, char secret[96])
{
  sb_key_record_t r;
  memset(&r, 0, sizeof(r));
  snprintf(r.name, sizeof(r.name), "%s", name);
  r.limit_pico = -1;
  r.created_ms = r.updated_ms = now_ms();
  sb_key_t *k = sb_keys_create(t, &r, secret, 96);
  assert_non_null(k);
  return k;
}

/* stderr into a pipe, to read what was logged. */
typedef struct {
  int saved, rd;
} capture_t;

static void capture_begin(capture_t *c)
{
  int p[2];
  assert_int_equal(pipe(p), 0);
  c->saved = dup(STDERR_FILENO);
  assert_true(c->saved >= 0);
  assert_true(dup2(p[1], STDERR_FILENO) >= 0);
  close(p[1]);
  c->rd = p[0];
}

/* What was logged since capture_begin (malloc'd, NUL-terminated). */
static char *capture_end(capture_t *c)
{
  dup2(c->saved, STDERR_FILENO);
  close(c->saved);
  size_t len = 0, cap = 1 << 16;
  char *out = malloc(cap);
  assert_non_null(out);
  for (;;) {
    if (len + 1 == cap) {
      cap *= 2;
      out = realloc(out, cap);
      assert_non_null(out);
    }
    ssize_t n = read(c->rd, out + len, cap - len - 1);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  close(c->rd);
  out[len] = '\0';
  return out;
}

static size_t count(const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p != NULL;
       p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Rows whose commits the store refused stay queued (and readable) and are
 * written once it takes writes again; the key's spend survives a restart. */
static void test_refused_commits_are_retried(void **state)
{
  (void)state;
  char err[256], secret[96], id[32];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_key_t *k = new_key(sb_ledger_keys(l), "spender", secret);
  sb_ledger_flush(l);
  writes_fail_past(1);
  sb_ledger_row_t row;
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "gen-f%d", i);
    row_for(&row, id, k, now_ms(), 7);
    assert_true(sb_ledger_record(l, &row) > 0);
  }
  sb_ledger_stats_t st;
  wait_refusals(l, 2, &st);
  assert_true(st.degraded);
  assert_int_equal(st.waiting, 100);
  assert_non_null(strstr(st.reason, "SQLITE_"));
  assert_true(st.degraded_since_ms > 0);
  assert_false(st.refusing); /* default mode, the queue is far from full */
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "gen-f42", &got), SB_OK);
  writes_work();
  sb_ledger_flush(l);
  sb_ledger_stats(l, &st);
  assert_false(st.failing);
  assert_false(st.degraded);
  assert_int_equal(st.waiting, 0);
  assert_true(st.errors >= 2);
  sb_key_unref(k);
  sb_ledger_close(l);

  l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "gen-f%d", i);
    assert_int_equal(sb_ledger_get(l, id, &got), SB_OK);
    assert_int_equal(got.cost_pico, 7);
  }
  k = sb_keys_lookup_secret(sb_ledger_keys(l), sb_slice_z(secret));
  assert_non_null(k);
  sb_key_view_t v;
  sb_key_view(k, now_ms(), &v);
  assert_int_equal(v.usage_total, 700);
  assert_int_equal(v.requests, 100);
  sb_key_unref(k);
  sb_ledger_close(l);
}

/* A failing store never makes a recorder wait for room: the queue takes
 * what comes, and new requests are refused once it is full. */
static void test_full_queue_refuses_requests(void **state)
{
  (void)state;
  char err[256], why[320], id[32];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  writes_fail_past(1);
  sb_ledger_row_t row;
  int n = 8192 + 100;
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "gen-q%d", i);
    row_for(&row, id, NULL, now_ms(), 1);
    assert_true(sb_ledger_record(l, &row) > 0);
  }
  sb_ledger_stats_t st;
  wait_refusals(l, 1, &st);
  assert_int_equal(st.waiting, n);
  assert_true(st.refusing);
  assert_int_equal(sb_ledger_admit(l, why, sizeof(why)), SB_DECLINED);
  assert_non_null(strstr(why, "ledger unavailable"));
  assert_non_null(strstr(why, "SQLITE_"));
  sb_ledger_stats(l, &st);
  assert_int_equal(st.refused, 1);
  writes_work();
  sb_ledger_flush(l);
  assert_int_equal(sb_ledger_admit(l, why, sizeof(why)), SB_OK);
  sb_ledger_stats(l, &st);
  assert_int_equal(st.waiting, 0);
  assert_false(st.refusing);
  sb_ledger_close(l);
  assert_stored_usage(n);
}

/* Durable: a row the store refuses is answered SB_ERROR and becomes what
 * the client then gets, an undelivered 503 billing nothing, written once
 * the store is back; the spend given back in memory matches the store's
 * after a restart. New requests are refused while the store fails. */
static void test_durable_refused_row_is_not_delivered(void **state)
{
  (void)state;
  char err[256], why[320], secret[96];
  sb_ledger_options_t o = {true, 0, 0};
  sb_ledger_t *l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  sb_keys_t *t = sb_ledger_keys(l);
  sb_key_t *k = new_key(t, "durable", secret);
  assert_int_equal(await_commit(l, k->saved_seq), SB_OK);
  writes_fail_past(1);
  /* the call settles its cost, then queues its row and waits */
  sb_key_settle(t, k, 0, 900, 15, now_ms());
  sb_ledger_row_t row;
  row_for(&row, "gen-d1", k, now_ms(), 900);
  assert_int_equal(await_commit(l, sb_ledger_record(l, &row)), SB_ERROR);
  sb_keys_refund(t, k, 900, now_ms());
  sb_key_view_t v;
  sb_key_view(k, now_ms(), &v);
  assert_int_equal(v.usage_total, 0);
  assert_int_equal(v.usage_day, 0);
  assert_int_equal(v.period_used, 0);
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "gen-d1", &got), SB_OK);
  assert_int_equal(got.status, 503);
  assert_int_equal(got.cost_pico, 0);
  assert_non_null(strstr(got.error, "not delivered"));
  assert_non_null(strstr(got.error, "$0.0000000009 was not billed"));
  assert_int_equal(sb_ledger_admit(l, why, sizeof(why)), SB_DECLINED);
  sb_ledger_stats_t st;
  sb_ledger_stats(l, &st);
  assert_int_equal(st.undelivered, 1);
  writes_work();
  sb_ledger_flush(l);
  assert_int_equal(sb_ledger_admit(l, why, sizeof(why)), SB_OK);
  row_for(&row, "gen-d2", k, now_ms(), 40);
  sb_key_settle(t, k, 0, 40, 15, now_ms());
  assert_int_equal(await_commit(l, sb_ledger_record(l, &row)), SB_OK);
  sb_key_unref(k);
  sb_ledger_close(l);

  l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  assert_int_equal(sb_ledger_get(l, "gen-d1", &got), SB_OK);
  assert_int_equal(got.status, 503);
  assert_int_equal(got.cost_pico, 0);
  assert_int_equal(got.usage.prompt, 10); /* the tokens it used are kept */
  k = sb_keys_lookup_secret(sb_ledger_keys(l), sb_slice_z(secret));
  assert_non_null(k);
  sb_key_view(k, now_ms(), &v);
  assert_int_equal(v.usage_total, 40); /* billed once: the delivered one */
  assert_int_equal(v.requests, 2);
  sb_key_unref(k);
  sb_ledger_close(l);
}

/* Key changes the store refuses are withdrawn (never written), and undone
 * in memory by the caller: a refused creation, update and revocation leave
 * no trace after a restart. */
static void test_refused_key_changes_are_withdrawn(void **state)
{
  (void)state;
  char err[256], secret_a[96], secret_b[96], hash[65];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_keys_t *t = sb_ledger_keys(l);
  sb_key_t *a = new_key(t, "kept", secret_a);
  assert_int_equal(await_commit(l, a->saved_seq), SB_OK);
  snprintf(hash, sizeof(hash), "%s", a->rec.hash);
  writes_fail_past(1);

  sb_key_t *b = new_key(t, "never", secret_b);
  assert_int_equal(await_commit(l, b->saved_seq), SB_ERROR);
  sb_keys_forget(t, b);
  sb_key_unref(b);
  assert_null(sb_keys_lookup_secret(t, sb_slice_z(secret_b)));

  sb_key_record_t before = a->rec, written;
  pthread_mutex_lock(&a->lock);
  a->rec.rpm = 99;
  a->rec.limit_pico = 5;
  written = a->rec;
  pthread_mutex_unlock(&a->lock);
  sb_key_apply_limits(a, now_ms());
  assert_int_equal(await_commit(l, sb_keys_save(t, a)), SB_ERROR);
  sb_key_undo_update(a, &written, &before, now_ms());
  assert_int_equal(a->rec.rpm, 0);
  assert_int_equal(a->budget.limit, -1);

  sb_key_t *gone = sb_keys_remove(t, sb_slice_z(hash));
  assert_ptr_equal(gone, a);
  assert_null(sb_keys_lookup_hash(t, sb_slice_z(hash)));
  assert_int_equal(await_commit(l, gone->saved_seq), SB_ERROR);
  sb_keys_restore(t, gone);
  sb_key_unref(gone);
  sb_key_t *back = sb_keys_lookup_hash(t, sb_slice_z(hash));
  assert_ptr_equal(back, a);
  sb_key_unref(back);

  writes_work();
  sb_ledger_flush(l);
  sb_key_unref(a);
  sb_ledger_close(l);

  l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  t = sb_ledger_keys(l);
  assert_null(sb_keys_lookup_secret(t, sb_slice_z(secret_b)));
  a = sb_keys_lookup_secret(t, sb_slice_z(secret_a));
  assert_non_null(a);
  assert_int_equal(a->rec.rpm, 0);
  assert_int_equal(a->rec.limit_pico, -1);
  sb_key_unref(a);
  sb_ledger_close(l);
}

/* One error line when a burst of refused commits begins, one when the
 * store takes writes again: not one per row or per retry. */
static void test_failure_burst_logs_twice(void **state)
{
  (void)state;
  char err[256], id[32];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  capture_t cap;
  capture_begin(&cap);
  writes_fail_past(1);
  sb_ledger_row_t row;
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "gen-b%d", i);
    row_for(&row, id, NULL, now_ms(), 1);
    sb_ledger_record(l, &row);
  }
  sb_ledger_stats_t st;
  wait_refusals(l, 3, &st);
  writes_work();
  sb_ledger_flush(l);
  char *log = capture_end(&cap);
  assert_int_equal(count(log, "the store refuses writes"), 1);
  assert_int_equal(count(log, "the store takes writes again: 50 entries"), 1);
  assert_int_equal(count(log, "\n"), 2);
  free(log);
  sb_ledger_close(l);
}

/* Closing while the store fails: the rows and key changes it still
 * refuses after the grace period are kept in PATH-unsaved.jsonl, and the
 * next open writes them into the store (once) and removes the file. */
static void test_close_keeps_refused_entries(void **state)
{
  (void)state;
  char err[256], id[32], secret[96], path[256];
  sb_ledger_options_t o = {false, 0, 0};
  sb_ledger_t *l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_row_t row;
  /* a write-ahead log of some size: new commits are appended past it,
   * while the unsaved file, smaller, can still be written */
  for (int i = 0; i < 200; i++) {
    snprintf(id, sizeof(id), "gen-w%d", i);
    row_for(&row, id, NULL, now_ms(), 1);
    sb_ledger_record(l, &row);
    if (i % 10 == 9)
      sb_ledger_flush(l);
  }
  struct stat wal;
  snprintf(path, sizeof(path), "%s-wal", dbpath);
  assert_int_equal(stat(path, &wal), 0);
  assert_true(wal.st_size > 128 * 1024);
  writes_fail_past((rlim_t)wal.st_size);
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "gen-u%d", i);
    row_for(&row, id, NULL, now_ms(), 3);
    sb_ledger_record(l, &row);
  }
  sb_key_t *k = new_key(sb_ledger_keys(l), "late", secret);
  sb_key_unref(k);
  sb_ledger_stats_t st;
  wait_refusals(l, 1, &st);
  sb_ledger_close(l);
  writes_work();

  snprintf(path, sizeof(path), "%s-unsaved.jsonl", dbpath);
  size_t len;
  char *text = read_file(path, &len);
  assert_non_null(text);
  assert_int_equal(count(text, "{\"row\":"), 50);
  assert_int_equal(count(text, "{\"key\":"), 1);
  free(text);

  l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  assert_int_equal(access(path, F_OK), -1);
  sb_ledger_row_t got;
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "gen-u%d", i);
    assert_int_equal(sb_ledger_get(l, id, &got), SB_OK);
    assert_int_equal(got.cost_pico, 3);
  }
  assert_int_equal(sb_keys_total_usage(sb_ledger_keys(l)), 200 + 50 * 3);
  k = sb_keys_lookup_secret(sb_ledger_keys(l), sb_slice_z(secret));
  assert_non_null(k);
  sb_key_unref(k);
  sb_ledger_close(l);
  /* written once: a second start finds nothing more to write */
  assert_stored_usage(200 + 50 * 3);
}

/* When the unsaved file cannot be written either, the entries go to the
 * log, one "ledger: unsaved <json>" line each; those lines, put into the
 * unsaved file, are written at the next open (and a line that is not an
 * entry is left out). */
static void test_close_logs_what_it_cannot_keep(void **state)
{
  (void)state;
  char err[256], id[32], path[256];
  sb_ledger_options_t o = {false, 0, 0};
  sb_ledger_t *l = sb_ledger_open_with(dbspec, &o, err, sizeof(err));
  assert_non_null(l);
  writes_fail_past(1);
  sb_ledger_row_t row;
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof(id), "gen-l%d", i);
    row_for(&row, id, NULL, now_ms(), 5);
    snprintf(row.agent, sizeof(row.agent), "agent \"quoted\"\n%d", i);
    sb_ledger_record(l, &row);
  }
  sb_ledger_stats_t st;
  wait_refusals(l, 1, &st);
  capture_t cap;
  capture_begin(&cap);
  sb_ledger_close(l);
  char *log = capture_end(&cap);
  writes_work();
  assert_non_null(strstr(log, "cannot be written either"));
  assert_int_equal(count(log, "ledger: unsaved {\"row\":"), 3);

  snprintf(path, sizeof(path), "%s-unsaved.jsonl", dbpath);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("not an entry\n", f);
  for (const char *p = strstr(log, "ledger: unsaved {"); p != NULL;
       p = strstr(p + 1, "ledger: unsaved {")) {
    const char *json = p + strlen("ledger: unsaved ");
    fwrite(json, 1, (size_t)(strchr(json, '\n') + 1 - json), f);
  }
  fclose(f);
  free(log);
  l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_row_t got;
  assert_int_equal(sb_ledger_get(l, "gen-l2", &got), SB_OK);
  assert_string_equal(got.agent, "agent \"quoted\"\n2");
  assert_int_equal(sb_keys_total_usage(sb_ledger_keys(l)), 15);
  sb_ledger_close(l);
}

/* Every member survives the unsaved file's JSON line. */
static void test_unsaved_line_round_trip(void **state)
{
  (void)state;
  sb_ledger_row_t r, r2;
  memset(&r, 0, sizeof(r));
  row_for(&r, "gen-1796040682-abcdefghijklmnopqrst", NULL, 1796040682123, 123456789);
  snprintf(r.key_hash, sizeof(r.key_hash), "%064d", 7);
  snprintf(r.key_label, sizeof(r.key_label), "k\xc3\xa9y");
  snprintf(r.agent, sizeof(r.agent), "codex");
  snprintf(r.app, sizeof(r.app), "https://example.test/");
  snprintf(r.requested_model, sizeof(r.requested_model), "switchboard/auto");
  snprintf(r.model, sizeof(r.model), "openai/gpt-4o-mini");
  snprintf(r.provider, sizeof(r.provider), "openai");
  snprintf(r.upstream_model, sizeof(r.upstream_model), "gpt-4o-mini");
  r.usage.cached = 3;
  r.usage.cache_write = 4;
  r.usage.reasoning = 6;
  r.usage_estimated = true;
  r.latency_ms = 1200;
  r.ttft_ms = 300;
  r.status = 502;
  snprintf(r.finish_reason, sizeof(r.finish_reason), "error");
  snprintf(r.native_finish_reason, sizeof(r.native_finish_reason), "boom");
  r.streamed = r.cancelled = true;
  snprintf(r.error, sizeof(r.error), "tab\there \"and\" \\ there");
  r.rung = 2;
  r.escalation_pico = -1;
  r.top_rung_pico = INT64_MAX;
  r.overhead_us = UINT32_MAX;
  sb_key_record_t k, k2;
  memset(&k, 0, sizeof(k));
  snprintf(k.hash, sizeof(k.hash), "%064d", 9);
  snprintf(k.name, sizeof(k.name), "name");
  snprintf(k.label, sizeof(k.label), "sk-sb-v1-abc...def");
  k.limit_pico = 5000000000;
  k.limit_reset = SB_RESET_WEEKLY;
  k.disabled = true;
  k.expires_ms = 1796040682000;
  snprintf(k.models, sizeof(k.models), "a/b,c/d");
  k.rpm = 1;
  k.tpm = 2;
  k.created_ms = 10;
  k.updated_ms = 20;
  snprintf(k.escalation, sizeof(k.escalation), "{\"ladder\":[\"a/b\"]}");

  sb_buf_t b;
  sb_buf_init(&b, 1 << 20);
  assert_int_equal(sb_spill_row(&b, &r), SB_OK);
  size_t first = b.len;
  assert_int_equal(sb_spill_key(&b, &k, true), SB_OK);
  assert_int_equal(b.data[first - 1], '\n');
  sb_spill_kind_t kind;
  memset(&r2, 0, sizeof(r2));
  assert_int_equal(sb_spill_parse(sb_slice(b.data, first - 1), &kind, &r2, &k2),
                   SB_OK);
  assert_int_equal(kind, SB_SPILL_ROW);
  assert_memory_equal(&r, &r2, sizeof(r));
  memset(&k2, 0, sizeof(k2));
  assert_int_equal(sb_spill_parse(sb_slice(b.data + first, b.len - first - 1),
                                  &kind, &r2, &k2),
                   SB_OK);
  assert_int_equal(kind, SB_SPILL_KEY_DELETED);
  assert_memory_equal(&k, &k2, sizeof(k));
  assert_int_equal(sb_spill_parse(SB_SLICE_LIT("{\"row\":{}}"), &kind, &r2, &k2),
                   SB_ERROR);
  assert_int_equal(sb_spill_parse(SB_SLICE_LIT("{\"key\":{\"hash\":\"x\"}}"),
                                  &kind, &r2, &k2),
                   SB_ERROR);
  assert_int_equal(sb_spill_parse(SB_SLICE_LIT("[1]"), &kind, &r2, &k2),
                   SB_ERROR);
  sb_buf_free(&b);
}

/* Open refuses a store it cannot write, with the reason: a full disk
 * (writes failing) and a read-only database file. Root may write any file,
 * so the read-only case runs in a child as an unprivileged user then. */
static void test_unwritable_store_is_refused(void **state)
{
  (void)state;
  char err[256];
  sb_ledger_t *l = sb_ledger_open(dbspec, err, sizeof(err));
  assert_non_null(l);
  sb_ledger_close(l);

  writes_fail_past(1);
  l = sb_ledger_open(dbspec, err, sizeof(err));
  writes_work();
  assert_null(l);
  assert_non_null(strstr(err, "cannot write"));
  assert_non_null(strstr(err, dbpath));
  assert_non_null(strstr(err, "SQLITE_"));

  assert_int_equal(chmod(dbpath, 0444), 0);
  assert_int_equal(chmod(dir, 0777), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
      _exit(2);
    char cerr[256];
    sb_ledger_t *cl = sb_ledger_open(dbspec, cerr, sizeof(cerr));
    _exit(cl == NULL && strstr(cerr, "read-only") != NULL ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
  /* past the limit a write fails (EFBIG) instead of killing the process */
  signal(SIGXFSZ, SIG_IGN);
  getrlimit(RLIMIT_FSIZE, &fsize_saved);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_refused_commits_are_retried, setup,
                                      teardown_faults),
      cmocka_unit_test_setup_teardown(test_full_queue_refuses_requests, setup,
                                      teardown_faults),
      cmocka_unit_test_setup_teardown(test_durable_refused_row_is_not_delivered,
                                      setup, teardown_faults),
      cmocka_unit_test_setup_teardown(test_refused_key_changes_are_withdrawn,
                                      setup, teardown_faults),
      cmocka_unit_test_setup_teardown(test_failure_burst_logs_twice, setup,
                                      teardown_faults),
      cmocka_unit_test_setup_teardown(test_close_keeps_refused_entries, setup,
                                      teardown_faults),
      cmocka_unit_test_setup_teardown(test_close_logs_what_it_cannot_keep,
                                      setup, teardown_faults),
      cmocka_unit_test(test_unsaved_line_round_trip),
      cmocka_unit_test_setup_teardown(test_unwritable_store_is_refused, setup,
                                      teardown_faults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
