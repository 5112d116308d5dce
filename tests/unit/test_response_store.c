/* SPDX-License-Identifier: MIT */
/* Stored responses (include/switchboard/response_store.h), each case on
 * both backends, SQLite and Postgres (a private server started by
 * scripts/scaleout-servers for this program; those cases are skipped when
 * it cannot start): the backend's calls (put and replace, get, a key's
 * responses seen by it alone, input items a page at a time both ways,
 * delete, retention), and the store's thread (jobs run in the order
 * asked, so a response put is there for the next job; answers come back
 * on the asking loop; a conversation read oldest first, and ended where
 * an earlier response is gone). Postgres alone: two gateways on one
 * database share their responses, and a call made while the server
 * restarted is made again on a new connection. */
#include "test_helpers.h"

#include <unistd.h>

#include "servers_fixture.h"
#include "switchboard/clock.h"
#include "switchboard/response_store.h"

static bool pg_up;      /* the Postgres server started */
static int n_db;

typedef struct {
  const sb_rstore_backend_t *b;
  char path[256]; /* SQLite: the file; Postgres: the database's URL */
  void *impl;
  sb_arena_t a;
} fx_t;

/* The backend `b` on `f->path` again. */
static void *fx_reopen(fx_t *f)
{
  char err[512];
  void *impl = f->b == &sb_rstore_pg
                   ? sb_rstore_pg_open(f->path, err, sizeof(err))
                   : sb_rstore_sqlite_open(f->path, err, sizeof(err));
  if (impl == NULL)
    fail_msg("%s", err);
  return impl;
}

/* A fresh store of the test's backend (its state: &sb_rstore_sqlite or
 * &sb_rstore_pg). */
static void fx_open(fx_t *f, void **state)
{
  memset(f, 0, sizeof(*f));
  f->b = *state;
  if (f->b == &sb_rstore_pg) {
    if (!pg_up)
      skip();
    char name[32];
    snprintf(name, sizeof(name), "r%d", ++n_db);
    if (servers_createdb(name, f->path, sizeof(f->path)) != 0)
      fail_msg("cannot create the database %s", name);
  } else {
    snprintf(f->path, sizeof(f->path), "%s/sb-rstore-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    unlink(f->path);
  }
  f->impl = fx_reopen(f);
  sb_arena_init(&f->a, 4096, 0);
}

static void fx_close(fx_t *f)
{
  if (f->impl != NULL)
    f->b->close(f->impl);
  sb_arena_destroy(&f->a);
  if (f->b == &sb_rstore_pg)
    return;
  char p[300];
  unlink(f->path);
  snprintf(p, sizeof(p), "%s-wal", f->path);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", f->path);
  unlink(p);
}

static sb_rstore_entry_t entry(const char *id, const char *owner,
                               const char *prev, int64_t created,
                               const char *input)
{
  sb_rstore_entry_t e = {
      .id = sb_slice_z(id),
      .owner = sb_slice_z(owner),
      .previous_id = prev != NULL ? sb_slice_z(prev) : SB_NULL_SLICE,
      .created_ms = created,
      .response = SB_SLICE_LIT("{\"object\":\"response\",\"output\":[]}"),
      .input = sb_slice_z(input),
  };
  return e;
}

static const char five_items[] =
    "[{\"id\":\"i0\",\"type\":\"message\"},{\"id\":\"i1\"},{\"id\":\"i2\"},"
    "{\"id\":\"i3\"},{\"id\":\"i4\"}]";

static void test_backend(void **state)
{
  fx_t f;
  fx_open(&f, state);
  const sb_rstore_backend_t *b = f.b;
  sb_rstore_entry_t e = entry("resp_a", "k1", NULL, 1000, five_items);
  assert_int_equal(b->put(f.impl, &e), SB_OK);
  /* replaced whole, items too */
  e.response = SB_SLICE_LIT("{\"object\":\"response\",\"v\":2}");
  assert_int_equal(b->put(f.impl, &e), SB_OK);
  sb_rstore_entry_t got;
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_a"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_OK);
  assert_slice_equal(got.response, "{\"object\":\"response\",\"v\":2}");
  assert_slice_equal(got.input, five_items);
  assert_int_equal(got.created_ms, 1000);
  assert_int_equal(got.previous_id.len, 0);
  /* another key, an unknown id: not found, the same way */
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_a"), SB_SLICE_LIT("k2"),
                          &f.a, &got),
                   SB_DECLINED);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_b"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_DECLINED);
  assert_int_equal(b->del(f.impl, SB_SLICE_LIT("resp_a"), SB_SLICE_LIT("k2")),
                   SB_DECLINED);

  /* pages */
  static const struct {
    const char *after, *before;
    uint32_t limit;
    bool desc;
    const char *first;
    size_t n;
    bool more;
  } pages[] = {
      {NULL, NULL, 20, false, "{\"id\":\"i0\",\"type\":\"message\"}", 5, false},
      {NULL, NULL, 2, false, "{\"id\":\"i0\",\"type\":\"message\"}", 2, true},
      {"i1", NULL, 2, false, "{\"id\":\"i2\"}", 2, true},
      {"i3", NULL, 2, false, "{\"id\":\"i4\"}", 1, false},
      {NULL, NULL, 2, true, "{\"id\":\"i4\"}", 2, true},
      {"i3", NULL, 5, true, "{\"id\":\"i2\"}", 3, false},
      {"i0", "i4", 10, false, "{\"id\":\"i1\"}", 3, false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(pages); i++) {
    sb_rstore_page_t pg = {
        .after = pages[i].after ? sb_slice_z(pages[i].after) : SB_NULL_SLICE,
        .before = pages[i].before ? sb_slice_z(pages[i].before) : SB_NULL_SLICE,
        .limit = pages[i].limit,
        .desc = pages[i].desc};
    sb_slice_t *items;
    size_t n;
    bool more;
    assert_int_equal(b->list_input(f.impl, SB_SLICE_LIT("resp_a"),
                                   SB_SLICE_LIT("k1"), &pg, &f.a, &items, &n,
                                   &more),
                     SB_OK);
    if (n != pages[i].n || more != pages[i].more)
      fail_msg("page %zu: %zu items, more %d", i, n, more);
    assert_slice_equal(items[0], pages[i].first);
  }
  sb_rstore_page_t pg = {.limit = 20};
  sb_slice_t *items;
  size_t n;
  bool more;
  assert_int_equal(b->list_input(f.impl, SB_SLICE_LIT("resp_a"),
                                 SB_SLICE_LIT("k2"), &pg, &f.a, &items, &n,
                                 &more),
                   SB_DECLINED);

  /* retention: what was made before the cutoff goes */
  sb_rstore_entry_t newer = entry("resp_n", "k1", "resp_a", 5000, "[]");
  assert_int_equal(b->put(f.impl, &newer), SB_OK);
  uint64_t gone = 0;
  assert_int_equal(b->expire(f.impl, 2000, &gone), SB_OK);
  assert_int_equal(gone, 1);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_a"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_DECLINED);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_n"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_OK);
  assert_slice_equal(got.previous_id, "resp_a");
  assert_int_equal(b->del(f.impl, SB_SLICE_LIT("resp_n"), SB_SLICE_LIT("k1")),
                   SB_OK);
  assert_int_equal(b->del(f.impl, SB_SLICE_LIT("resp_n"), SB_SLICE_LIT("k1")),
                   SB_DECLINED);
  fx_close(&f);
}

/* ---- the store's thread ------------------------------------------------------ */

typedef struct {
  int answered;
  sb_status_t status;
  size_t n_chain;
  char ids[8][32];
  char response[128];
} seen_t;

static void done(sb_rstore_job_t *j)
{
  seen_t *s = j->data;
  s->answered++;
  s->status = j->status;
  s->n_chain = j->n_chain;
  for (size_t i = 0; i < j->n_chain && i < 8; i++)
    snprintf(s->ids[i], sizeof(s->ids[i]), "%.*s", (int)j->chain[i].id.len,
             j->chain[i].id.ptr);
  snprintf(s->response, sizeof(s->response), "%.*s",
           (int)j->entry.response.len, j->entry.response.ptr);
}

static void put(sb_rstore_t *s, uv_loop_t *loop, const char *id,
                const char *prev)
{
  sb_rstore_job_t *j = sb_rstore_job_new(SB_RSTORE_PUT);
  assert_non_null(j);
  j->entry = entry(id, "k", prev, sb_wall_ms(), "[]");
  j->entry.id = sb_arena_slice_dup(&j->arena, j->entry.id);
  j->entry.previous_id = sb_arena_slice_dup(&j->arena, j->entry.previous_id);
  assert_int_equal(sb_rstore_submit(s, loop, j, NULL, NULL), SB_OK);
}

static void ask(sb_rstore_t *s, uv_loop_t *loop, sb_rstore_op_t op,
                const char *id, seen_t *seen)
{
  sb_rstore_job_t *j = sb_rstore_job_new(op);
  assert_non_null(j);
  j->id = sb_arena_slice_dup(&j->arena, sb_slice_z(id));
  j->owner = SB_SLICE_LIT("k");
  assert_int_equal(sb_rstore_submit(s, loop, j, done, seen), SB_OK);
  int before = seen->answered;
  while (seen->answered == before)
    uv_run(loop, UV_RUN_ONCE);
}

static void test_thread(void **state)
{
  fx_t f;
  fx_open(&f, state);
  sb_rstore_t *s = sb_rstore_new(f.b, f.impl, 30);
  f.impl = NULL; /* the store's now */
  assert_non_null(s);
  uv_loop_t loop;
  uv_loop_init(&loop);
  /* put, then at once get: the put ran first */
  put(s, &loop, "resp_1", NULL);
  seen_t seen = {0};
  ask(s, &loop, SB_RSTORE_GET, "resp_1", &seen);
  assert_int_equal(seen.status, SB_OK);
  assert_string_equal(seen.response, "{\"object\":\"response\",\"output\":[]}");
  /* a conversation of three, oldest first */
  put(s, &loop, "resp_2", "resp_1");
  put(s, &loop, "resp_3", "resp_2");
  ask(s, &loop, SB_RSTORE_CHAIN, "resp_3", &seen);
  assert_int_equal(seen.status, SB_OK);
  assert_int_equal(seen.n_chain, 3);
  assert_string_equal(seen.ids[0], "resp_1");
  assert_string_equal(seen.ids[2], "resp_3");
  /* an earlier one gone: the conversation starts after it */
  ask(s, &loop, SB_RSTORE_DELETE, "resp_1", &seen);
  assert_int_equal(seen.status, SB_OK);
  ask(s, &loop, SB_RSTORE_CHAIN, "resp_3", &seen);
  assert_int_equal(seen.n_chain, 2);
  assert_string_equal(seen.ids[0], "resp_2");
  /* the one asked for gone: not found */
  ask(s, &loop, SB_RSTORE_CHAIN, "resp_1", &seen);
  assert_int_equal(seen.status, SB_DECLINED);
  sb_rstore_stats_t st;
  sb_rstore_stats(s, &st);
  assert_int_equal(st.done, 8);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.waiting, 0);
  /* a put nobody waits for still runs before the store closes */
  put(s, &loop, "resp_9", NULL);
  sb_rstore_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  f.impl = fx_reopen(&f);
  sb_rstore_entry_t got;
  assert_int_equal(f.b->get(f.impl, SB_SLICE_LIT("resp_9"), SB_SLICE_LIT("k"),
                            &f.a, &got),
                   SB_OK);
  fx_close(&f);
}

/* ---- Postgres: shared by gateways, and a connection lost -------------------- */

static void test_pg_shared(void **state)
{
  fx_t f;
  fx_open(&f, state);
  void *other = fx_reopen(&f); /* a second gateway on the same database */
  const sb_rstore_backend_t *b = f.b;
  sb_rstore_entry_t e = entry("resp_s", "k1", NULL, 1000, five_items);
  assert_int_equal(b->put(f.impl, &e), SB_OK);
  sb_rstore_entry_t got;
  assert_int_equal(b->get(other, SB_SLICE_LIT("resp_s"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_OK);
  assert_slice_equal(got.input, five_items);
  assert_int_equal(b->get(other, SB_SLICE_LIT("resp_s"), SB_SLICE_LIT("k2"),
                          &f.a, &got),
                   SB_DECLINED);
  /* deleted by the other: gone for both */
  assert_int_equal(b->del(other, SB_SLICE_LIT("resp_s"), SB_SLICE_LIT("k1")),
                   SB_OK);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_s"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_DECLINED);
  /* client bytes are parameters, never SQL: quotes and a NUL-free
   * injection attempt are stored as they came */
  sb_rstore_entry_t odd = entry("resp_'; DROP TABLE responses; --", "k'1",
                                NULL, 2000, "[{\"id\":\"x'y\"}]");
  assert_int_equal(b->put(f.impl, &odd), SB_OK);
  assert_int_equal(b->get(other, odd.id, odd.owner, &f.a, &got), SB_OK);
  assert_slice_equal(got.input, "[{\"id\":\"x'y\"}]");
  /* a value with a NUL byte cannot be text: refused, not cut short */
  sb_rstore_entry_t nul = entry("resp_nul", "k1", NULL, 3000, "[]");
  nul.response = sb_slice("{\"a\":\"\0\"}", 9);
  assert_int_equal(b->put(f.impl, &nul), SB_ERROR);
  /* input that is not a JSON array is refused whole */
  sb_rstore_entry_t bad = entry("resp_bad", "k1", NULL, 3000, "{\"id\":1}");
  assert_int_equal(b->put(f.impl, &bad), SB_ERROR);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_bad"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_DECLINED);
  b->close(other);
  fx_close(&f);
}

static void test_pg_reconnects(void **state)
{
  fx_t f;
  fx_open(&f, state);
  const sb_rstore_backend_t *b = f.b;
  sb_rstore_entry_t e = entry("resp_r", "k1", NULL, 1000, "[]");
  assert_int_equal(b->put(f.impl, &e), SB_OK);
  /* a restart between two calls: the connection the first used is dead;
   * the second finds out, connects again and is made once more */
  assert_int_equal(servers_run("pg-stop", NULL, NULL, 0), 0);
  assert_int_equal(servers_run("pg-start", NULL, NULL, 0), 0);
  sb_rstore_entry_t got;
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_r"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_OK);
  /* the server gone: the call fails (its reason logged) */
  assert_int_equal(servers_run("pg-stop", NULL, NULL, 0), 0);
  assert_int_equal(b->get(f.impl, SB_SLICE_LIT("resp_r"), SB_SLICE_LIT("k1"),
                          &f.a, &got),
                   SB_ERROR);
  assert_int_equal(servers_run("pg-start", NULL, NULL, 0), 0);
  assert_int_equal(b->del(f.impl, SB_SLICE_LIT("resp_r"), SB_SLICE_LIT("k1")),
                   SB_OK);
  fx_close(&f);
}

static int group_setup(void **state)
{
  (void)state;
  pg_up = servers_start(true) == 0 && srv_pg[0] != '\0';
  if (!pg_up)
    fprintf(stderr, "Postgres could not start: its cases are skipped\n");
  return 0;
}

/* A case on a backend, named by both. */
#define ON(fn, backend)                                                        \
  {#fn " (" #backend ")", fn, NULL, NULL, (void *)&sb_rstore_##backend}

int main(void)
{
  const struct CMUnitTest tests[] = {
      ON(test_backend, sqlite),     ON(test_thread, sqlite),
      ON(test_backend, pg),         ON(test_thread, pg),
      ON(test_pg_shared, pg),       ON(test_pg_reconnects, pg),
  };
  return cmocka_run_group_tests(tests, group_setup, servers_group_down);
}
