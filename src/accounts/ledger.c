/* SPDX-License-Identifier: MIT */
/*
 * Ledger queue and writer thread over a store (store.h: SQLite or
 * Postgres); see ledger.h.
 *
 * An idle writer is woken by the first row of a batch (or every 50 ms),
 * lets the batch gather for BATCH_WINDOW_MS (unless it is full, a flush
 * is waiting, or the store is durable), then takes the queue (at most
 * BATCH_MAX rows) and has the store commit it in one transaction (rows,
 * the per-key daily totals they add to, and key changes, in queue order).
 * After a commit it looks again one window later before it sleeps, so
 * steady traffic never has to signal it. Its priority: see writer_yield.
 * With `durable`, the store syncs every commit and the gateway holds each
 * response's last byte until its row's batch is committed (group commit:
 * one sync covers every row of the batch).
 *
 * When the store fails. A batch is one transaction: if any statement or
 * the commit fails, it is rolled back and the batch goes back to the head
 * of the queue, to be retried after a pause (RETRY_FIRST_MS, doubling to
 * RETRY_MAX_MS); later rows queue behind it, so the store still receives
 * everything in queue order. Every error counts as the store's (the
 * gateway's own rows break no constraint of its schema; one that a changed
 * schema rejects waits, loudly, until the schema is fixed). The first
 * failure of a burst is logged with the store's reason, and the burst's
 * end (once every row queued before the last failure is committed) with
 * how many rows waited and for how long. While the last commit failed: workers never wait for room in the
 * queue (sb_ledger_admit refuses new requests instead once it is full),
 * and waiters (durable responses, key changes) are answered SB_ERROR at
 * once, their entries made final under the lock so that the answer and
 * the store agree: a key change is withdrawn (NODE_VOID), a durable row
 * becomes an undelivered, unbilled 503. Every retry also rewrites the
 * schema version, so that a batch with nothing left to write still tells
 * whether the store takes writes again. At close a failing store is
 * retried for close_grace_ms; what it still refuses is spilled to the
 * store's unsaved file (ledger_spill.h), which open() writes into the
 * store.
 */
#include "switchboard/clock.h"
#include "switchboard/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ledger_read.h"
#include "ledger_spill.h"
#include "switchboard/common.h"
#include "switchboard/log.h"
#include "switchboard/store.h"

#define DAY_MS 86400000LL
/* How long a batch may gather before it is committed, and how many rows
 * commit at once without waiting for the window: under load one commit
 * (and one wake-up of this thread) covers many requests instead of one.
 * Each commit rewrites the pages its rows touch, the half-filled last
 * ones included, so a longer window means fewer WAL frames per row: at
 * one connection (~12k requests/s) the added p99 was ~90 µs with 5 ms,
 * ~75 with 20 ms and ~65 with 50 ms. But a row becomes visible, and safe
 * from a crash of the process, only when committed: after kill -9 at
 * ~1,100 requests/s, 50 ms lost 74 rows where 5 ms lost almost none.
 * 20 ms is the compromise; `durable` does not wait at all. */
#define BATCH_WINDOW_MS 20
#define BATCH_MAX 512
/* Rows queued and not yet committed, at most. A worker that would queue
 * more waits for the writer's next commit (of at most BATCH_MAX rows): under an overload the writer
 * cannot keep up with, the gateway slows down to the store's pace instead
 * of growing without bound (and no row is ever dropped). */
#define QUEUE_MAX 8192
/* The pause before a refused batch is retried: doubling from the first to
 * the last, so a store that is back is used again within a second. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 1000

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

size_t sb_ledger_make_id(char *out, int64_t wall_us, uint64_t r1, uint64_t r2)
{
  size_t n = 4;
  memcpy(out, "gen-", 4);
  n += sb_u64_dec(out + n, (uint64_t)(wall_us / 1000000));
  out[n++] = '-';
  uint64_t sub = (uint64_t)(wall_us % 1000000);
  for (int i = 3; i >= 0; i--) {
    out[n + (size_t)i] = base62[sub % 62];
    sub /= 62;
  }
  n += 4;
  for (int i = 0; i < 16; i++) {
    uint64_t *src = i < 8 ? &r1 : &r2;
    out[n++] = base62[*src % 62];
    *src /= 62;
  }
  out[n] = '\0';
  return n;
}

/* NODE_VOID: a key change withdrawn after the store refused it (its
 * waiter was answered SB_ERROR): skipped, but still counted in sequence. */
typedef enum { NODE_ROW, NODE_KEY, NODE_KEY_DELETE, NODE_VOID } node_kind_t;

typedef struct row_node {
  struct row_node *next;
  uint64_t seq;
  node_kind_t kind;
  bool awaited; /* a waiter waits for it (sb_ledger_when_committed) */
  union {
    sb_ledger_row_t row;
    sb_key_record_t key;
  } u;
} row_node_t;

struct sb_ledger {
  sb_store_t *store;
  char database[4096]; /* as opened (sqlite:PATH, postgres://...) */
  sb_keys_t *keys;
  sb_ledger_options_t opts;
  int64_t last_prune_ms;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t flushed;
  row_node_t *head, *tail; /* queued, oldest first */
  row_node_t *writing;     /* taken by the writer, not yet committed */
  uint64_t queued_seq;     /* rows ever queued */
  uint64_t committed_seq;  /* rows ever committed (or dropped on error) */
  size_t n_queued;         /* rows in head..tail */
  bool urgent;             /* a flush waits: commit without the window */
  uint64_t full_waits;     /* times a worker waited for room in the queue */
  bool stop;
  bool sleeping;           /* the writer waits for a wake-up (idle) */
  bool can_yield;          /* the writer may run at idle priority */
  bool yielding;           /* ... and does now */
  uint64_t boosts;         /* times it was raised back to normal */
  /* the writer's own: why the store refused the last batch */
  char batch_err[160];
  /* told of every commit, with the counters' epoch (sb_ledger_on_commit) */
  sb_ledger_commit_fn on_commit;
  void *on_commit_data;
  /* failures (see "When the store fails" above), under `lock` */
  bool failing;            /* the last commit failed (also read without the
                              lock, atomically, by sb_ledger_admit) */
  bool degraded;           /* a burst: until what it held back is written */
  int64_t degraded_since_ms;
  uint64_t degraded_until; /* the burst ends once this seq is committed */
  uint64_t burst_from;     /* committed_seq when the burst began */
  uint64_t burst_errors;   /* failed commits in the burst */
  uint64_t errors;         /* failed commits since open */
  uint64_t refused;        /* requests refused by sb_ledger_admit */
  uint64_t undelivered;    /* durable rows made undelivered */
  char reason[192];        /* the store's last error */
  int64_t stop_deadline_ms; /* close: a failing store is retried until then */
  bool tried_after_stop;   /* ... and at least once after close began */
  bool closed;             /* the writer is gone: waits end */
};

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Retention: delete ledger rows older than the window, at most once a
 * minute. */
static void prune(sb_ledger_t *l)
{
  if (l->opts.retention_days == 0)
    return;
  int64_t now = wall_ms();
  if (now - l->last_prune_ms < 60000)
    return;
  l->last_prune_ms = now;
  l->store->ops->prune(l->store,
                       now - (int64_t)l->opts.retention_days * DAY_MS);
}

/* ---- the writer's priority ---------------------------------------------
 *
 * A commit is a burst of CPU (~10 µs per row), and the scheduler lets a
 * running thread finish its time slice before a woken one runs: a request
 * that arrives during a commit waits for it (the 1-connection p99 was
 * ~0.5 ms with the writer at the workers' priority and ~0.25 ms at idle
 * priority, docs/accounts.md). So while it keeps up, the writer runs at
 * SCHED_IDLE, on whatever CPU time requests leave. Once BOOST_AT rows
 * wait, or anyone waits for a commit (a flush, a full queue, shutdown),
 * it is raised to normal priority until a commit leaves at most RELAX_AT.
 * The kernel lets a thread leave SCHED_IDLE only with CAP_SYS_NICE or an
 * RLIMIT_NICE of 20 or more; without either the writer stays at normal
 * priority throughout (decided once, by a probe thread), and durable
 * stores, whose responses wait for their commits, never yield. A fixed
 * lower priority does not work: at nice 10 a commit still finished its
 * slice before a woken worker ran, and under a load that kept the CPU
 * busy the writer starved until the queue was full and every worker
 * stalled on it at once (p99 30 ms instead of 9 ms at 64 connections). */
#define BOOST_AT BATCH_MAX
#define RELAX_AT (BATCH_MAX / 8)

static void *probe_main(void *arg)
{
  struct sched_param sp = {0};
  bool *ok = arg;
  *ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 &&
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp) == 0;
  return NULL;
}

/* Whether a thread may go to SCHED_IDLE and come back. */
static bool can_leave_idle(void)
{
  pthread_t t;
  bool ok = false;
  if (pthread_create(&t, NULL, probe_main, &ok) != 0)
    return false;
  pthread_join(t, NULL);
  return ok;
}

/* With the lock held. */
static void writer_yield(sb_ledger_t *l, bool yield)
{
  if (!l->can_yield || l->yielding == yield)
    return;
  struct sched_param sp = {0};
  if (pthread_setschedparam(l->thread, yield ? SCHED_IDLE : SCHED_OTHER,
                            &sp) != 0)
    return;
  l->yielding = yield;
  if (!yield)
    l->boosts++;
}

/* With the lock held: wait for a signal or until `ms` from now. */
static void wait_ms(sb_ledger_t *l, long ms)
{
  struct timespec deadline = sb_deadline_after_ms(ms);
  pthread_cond_timedwait(&l->wake, &l->lock, &deadline);
}

/* Called with the lock held and rows queued: wait up to BATCH_WINDOW_MS
 * for more, unless the batch is full or someone waits for a commit. */
static void gather(sb_ledger_t *l)
{
  struct timespec deadline = sb_deadline_after_ms(BATCH_WINDOW_MS);
  while (!l->stop && !l->urgent && l->n_queued < BATCH_MAX)
    if (pthread_cond_timedwait(&l->wake, &l->lock, &deadline) != 0)
      break; /* the window is over */
}

/* Called with the lock held and the queue empty, after a commit: traffic
 * tends to go on, so the writer looks again one window later before it
 * asks the workers to wake it. While requests keep coming, no worker
 * signals it (a futex call and a context switch in the request path,
 * before the response is written); the rows found then have gathered for
 * the window already. Returns whether rows were found. */
static bool poll_once(sb_ledger_t *l)
{
  if (l->stop || l->opts.durable)
    return false;
  wait_ms(l, BATCH_WINDOW_MS);
  return l->head != NULL;
}

/* The entries of `batch` as the store takes them, into `e` (room for
 * `cap`); their number. */
static size_t batch_entries(const row_node_t *batch, sb_store_entry_t *e,
                            size_t cap)
{
  size_t n = 0;
  for (const row_node_t *r = batch; r != NULL && n < cap; r = r->next) {
    switch (r->kind) {
    case NODE_ROW:
      e[n++] = (sb_store_entry_t){SB_STORE_ROW, &r->u.row, NULL};
      break;
    case NODE_KEY:
      e[n++] = (sb_store_entry_t){SB_STORE_KEY, NULL, &r->u.key};
      break;
    case NODE_KEY_DELETE:
      e[n++] = (sb_store_entry_t){SB_STORE_KEY_DELETE, NULL, &r->u.key};
      break;
    case NODE_VOID:
      break;
    }
  }
  return n;
}

/* Write one batch (at most BATCH_MAX entries) in one transaction. False
 * if the store refused any of it: then nothing of it is kept (rolled
 * back) and `l->batch_err` says why. `probe`: also write when every entry
 * was withdrawn, so that the commit tells whether the store takes writes.
 * `*epoch`: the counters' epoch the batch committed in (when asked). */
static bool write_batch(sb_ledger_t *l, row_node_t *batch, bool probe,
                        uint64_t *epoch)
{
  sb_store_entry_t e[BATCH_MAX];
  size_t n = batch_entries(batch, e, BATCH_MAX);
  unsigned flags = (probe ? SB_STORE_PROBE : 0) |
                   (l->on_commit != NULL ? SB_STORE_READ_EPOCH : 0);
  return l->store->ops->write(l->store, e, n, flags, epoch, l->batch_err,
                              sizeof(l->batch_err)) == SB_OK;
}

static uint64_t count_entries(const row_node_t *n, node_kind_t kind)
{
  uint64_t c = 0;
  for (; n != NULL; n = n->next)
    c += n->kind == kind;
  return c;
}

/* With the lock held: the store took a batch of `n` entries. Ends the
 * failure burst once every entry it held back is committed; the line to
 * log then is written into `note`. */
static void batch_committed(sb_ledger_t *l, uint64_t n, char *note,
                            size_t cap)
{
  l->committed_seq += n;
  __atomic_store_n(&l->failing, false, __ATOMIC_RELAXED);
  if (!l->degraded || l->committed_seq < l->degraded_until)
    return;
  l->degraded = false;
  int64_t ms = wall_ms() - l->degraded_since_ms;
  snprintf(note, cap,
           "ledger: the store takes writes again: %llu entries that waited "
           "are written, after %lld.%03lld s and %llu refused commits",
           (unsigned long long)(l->committed_seq - l->burst_from),
           (long long)(ms / 1000), (long long)(ms % 1000),
           (unsigned long long)l->burst_errors);
}

/* With the lock held: the store refused the batch `batch`..`last` (`n`
 * entries, taken from the head of the queue): put it back there. The line
 * to log if a burst begins is written into `note`. */
static void batch_refused(sb_ledger_t *l, row_node_t *batch, row_node_t *last,
                          size_t n, char *note, size_t cap)
{
  last->next = l->head;
  l->head = batch;
  if (l->tail == NULL)
    l->tail = last;
  l->n_queued += n;
  l->errors++;
  __atomic_store_n(&l->failing, true, __ATOMIC_RELAXED);
  if (l->stop)
    l->tried_after_stop = true;
  snprintf(l->reason, sizeof(l->reason), "%s", l->batch_err);
  if (!l->degraded) {
    l->degraded = true;
    l->degraded_since_ms = wall_ms();
    l->burst_from = l->committed_seq;
    l->burst_errors = 0;
    snprintf(note, cap,
             "ledger: the store refuses writes: %s; %llu entries wait in "
             "memory and are retried (GET /health, "
             "switchboard_ledger_errors_total)",
             l->reason, (unsigned long long)(l->queued_seq - l->committed_seq));
  }
  l->burst_errors++;
  l->degraded_until = l->queued_seq;
  /* waiters decide now (see wait_work); full-queue waits end */
  pthread_cond_broadcast(&l->flushed);
}

/* With the lock held, after a refused batch: wait before the retry,
 * RETRY_FIRST_MS doubling to RETRY_MAX_MS, or until close's deadline. New
 * rows do not cut the pause short. */
static void retry_pause(sb_ledger_t *l)
{
  uint64_t shift = l->burst_errors > 5 ? 5 : l->burst_errors - 1;
  long ms = SB_MIN(RETRY_MAX_MS, RETRY_FIRST_MS << shift);
  int64_t until = wall_ms() + ms;
  for (;;) {
    int64_t end = l->stop ? SB_MIN(until, l->stop_deadline_ms) : until;
    int64_t left = end - wall_ms();
    if (left <= 0)
      return;
    wait_ms(l, (long)left);
  }
}

/* With the lock held: the queued entry with sequence `seq`, or NULL (it is
 * being written, or no longer queued). */
static row_node_t *find_seq(row_node_t *n, uint64_t seq)
{
  for (; n != NULL && n->seq <= seq; n = n->next)
    if (n->seq == seq)
      return n;
  return NULL;
}

/* With the lock held: the store refused the entry a waiter waits for, and
 * the waiter is told so; make that final. A key change is withdrawn. A
 * row becomes what the client got: a 503 that billed nothing (the cost
 * the upstream charged is named in its error), written once the store
 * takes it. */
static void refuse_entry(sb_ledger_t *l, row_node_t *n)
{
  if (n->kind != NODE_ROW) {
    n->kind = NODE_VOID;
    return;
  }
  sb_ledger_row_t *r = &n->u.row;
  char cost[40];
  sb_cost_format(r->cost_pico, cost, sizeof(cost));
  snprintf(r->error, sizeof(r->error),
           "ledger unavailable: the response was not delivered and $%s was "
           "not billed (%.120s)",
           cost, l->reason);
  r->status = 503;
  r->cost_pico = 0;
  snprintf(r->finish_reason, sizeof(r->finish_reason), "error");
  l->undelivered++;
}

/* Append `list`'s entries as JSON lines to `b`. */
static void spill_lines(sb_buf_t *b, const row_node_t *list)
{
  for (const row_node_t *n = list; n != NULL; n = n->next) {
    sb_status_t rc = SB_OK;
    if (n->kind == NODE_ROW)
      rc = sb_spill_row(b, &n->u.row);
    else if (n->kind != NODE_VOID)
      rc = sb_spill_key(b, &n->u.key, n->kind == NODE_KEY_DELETE);
    if (rc != SB_OK)
      SB_ERR("ledger: out of memory: an unsaved entry is lost");
  }
}

/* Append `b` to `path` and sync it; errno on failure, else 0. A failed
 * append is taken back whole (the file is cut to its former size, or
 * removed if it is new), so the file never holds half an entry. */
static int append_file(const char *path, sb_slice_t b)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  int e = 0;
  off_t was = lseek(fd, 0, SEEK_END);
  for (size_t off = 0; off < b.len && e == 0 && was >= 0;) {
    ssize_t w = write(fd, b.ptr + off, b.len - off);
    if (w < 0 && errno != EINTR)
      e = errno;
    else if (w > 0)
      off += (size_t)w;
  }
  if (was < 0)
    e = errno;
  if (e == 0 && fsync(fd) != 0)
    e = errno;
  if (e != 0 && was >= 0 && ftruncate(fd, was) == 0 && was == 0)
    unlink(path);
  if (close(fd) != 0 && e == 0)
    e = errno;
  return e;
}

/* The file a failing store's last entries are kept in. */
static void unsaved_path(const sb_ledger_t *l, char *out, size_t cap)
{
  l->store->ops->unsaved_path(l->store, out, cap);
}

/* Write each line of `lines` to the log as "ledger: unsaved <line>", whole
 * (log lines are cut at 2 KB; a row can be longer). */
static void log_unsaved(sb_slice_t lines)
{
  static const char prefix[] = "ledger: unsaved ";
  while (lines.len > 0) {
    const char *nl = memchr(lines.ptr, '\n', lines.len);
    size_t n = nl != NULL ? (size_t)(nl - lines.ptr) + 1 : lines.len;
    struct iovec iov[2] = {{(void *)prefix, sizeof(prefix) - 1},
                           {(void *)lines.ptr, n}};
    ssize_t w = writev(STDERR_FILENO, iov, 2);
    (void)w;
    lines = sb_slice(lines.ptr + n, lines.len - n);
  }
}

/* Close: the store still refuses what is queued. Keep it in the unsaved
 * file, or else in the log. Called with the lock held; takes the queue. */
static void spill(sb_ledger_t *l)
{
  row_node_t *list = l->head;
  /* Their waiters are answered SB_ERROR (l->closed): make that final, as
   * wait_work does. */
  for (row_node_t *n = list; n != NULL; n = n->next)
    if (n->awaited)
      refuse_entry(l, n);
  l->head = l->tail = NULL;
  l->n_queued = 0;
  char reason[sizeof(l->reason)], path[4096];
  memcpy(reason, l->reason, sizeof(reason));
  pthread_mutex_unlock(&l->lock);
  uint64_t rows = count_entries(list, NODE_ROW);
  uint64_t keys = count_entries(list, NODE_KEY) +
                  count_entries(list, NODE_KEY_DELETE);
  unsaved_path(l, path, sizeof(path));
  sb_buf_t b;
  sb_buf_init(&b, 0); /* no cap */
  spill_lines(&b, list);
  int e = append_file(path, sb_buf_slice(&b));
  if (e == 0) {
    SB_ERR("ledger: at shutdown the store still refuses writes (%s): %llu "
           "rows and %llu key changes are kept in %s and will be written "
           "into the store at the next start",
           reason, (unsigned long long)rows, (unsigned long long)keys, path);
  } else {
    SB_ERR("ledger: at shutdown the store still refuses writes (%s) and %s "
           "cannot be written either (%s): the %llu rows and %llu key "
           "changes follow, one JSON line each after \"ledger: unsaved \"; "
           "put those lines into %s to have them written at the next start",
           reason, path, strerror(e), (unsigned long long)rows,
           (unsigned long long)keys, path);
    log_unsaved(sb_buf_slice(&b));
  }
  sb_buf_free(&b);
  while (list != NULL) {
    row_node_t *next = list->next;
    free(list);
    list = next;
  }
  pthread_mutex_lock(&l->lock);
}

/* The writer; its priority is set from outside (writer_yield). */
static void *writer_main(void *arg)
{
  sb_ledger_t *l = arg;
  char note[512];
  pthread_setname_np(pthread_self(), "sb-ledger");
  pthread_mutex_lock(&l->lock);
  for (;;) {
    bool gathered = l->head == NULL && poll_once(l);
    while (l->head == NULL && !l->stop) {
      if (l->opts.retention_days > 0 &&
          wall_ms() - l->last_prune_ms >= 60000) {
        pthread_mutex_unlock(&l->lock);
        prune(l);
        pthread_mutex_lock(&l->lock);
        continue;
      }
      l->sleeping = true;
      wait_ms(l, 50);
    }
    l->sleeping = false;
    if (l->head == NULL && l->stop)
      break;
    if (l->failing && l->stop && l->tried_after_stop &&
        wall_ms() >= l->stop_deadline_ms) {
      spill(l);
      break;
    }
    if (!l->opts.durable && !gathered && !l->failing)
      gather(l);
    /* At most BATCH_MAX rows per transaction: a worker waiting for room
     * in a full queue waits for one such commit, not for all of it. */
    row_node_t *batch = l->head, *last = batch;
    size_t taken = 1;
    while (last->next != NULL && taken < BATCH_MAX) {
      last = last->next;
      taken++;
    }
    l->head = last->next;
    last->next = NULL;
    if (l->head == NULL) {
      l->tail = NULL;
      l->n_queued = 0;
      l->urgent = false;
    } else {
      l->n_queued -= taken;
    }
    l->writing = batch;
    bool probe = l->degraded;
    pthread_mutex_unlock(&l->lock);

    uint64_t epoch = 0;
    bool ok = write_batch(l, batch, probe, &epoch);

    note[0] = '\0';
    pthread_mutex_lock(&l->lock);
    l->writing = NULL;
    if (!ok) {
      batch_refused(l, batch, last, taken, note, sizeof(note));
      if (note[0] != '\0') {
        pthread_mutex_unlock(&l->lock);
        SB_ERR("%s", note);
        pthread_mutex_lock(&l->lock);
      }
      retry_pause(l);
      continue;
    }
    batch_committed(l, taken, note, sizeof(note));
    if (note[0] != '\0') {
      /* before anyone learns of the commit: the burst's last word */
      pthread_mutex_unlock(&l->lock);
      SB_WARN("%s", note);
      pthread_mutex_lock(&l->lock);
    }
    if (l->n_queued <= RELAX_AT && !l->urgent && !l->stop)
      writer_yield(l, true);
    pthread_cond_broadcast(&l->flushed);
    pthread_mutex_unlock(&l->lock);
    if (l->on_commit != NULL)
      l->on_commit(l->on_commit_data, batch->seq, last->seq, epoch);
    while (batch != NULL) {
      row_node_t *next = batch->next;
      free(batch);
      batch = next;
    }
    pthread_mutex_lock(&l->lock);
  }
  l->closed = true;
  pthread_cond_broadcast(&l->flushed);
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

static sb_status_t load_key(void *data, const sb_key_record_t *rec,
                            const sb_key_spend_t *sp)
{
  sb_ledger_t *l = data;
  return sb_keys_load(l->keys, rec, sp->total, sp->period, sp->day, sp->week,
                      sp->month, sp->requests, wall_ms());
}

/* Load the live keys with their spend into the key table. */
static sb_status_t load_keys(sb_ledger_t *l, char *err, size_t errlen)
{
  int64_t others = 0;
  if (l->store->ops->load_keys(l->store, wall_ms(), load_key, l, &others, err,
                               errlen) != SB_OK)
    return SB_ERROR;
  sb_keys_set_unkeyed_usage(l->keys, others);
  return SB_OK;
}

/* Read all of `path` into `b`; errno on failure, else 0. */
static int read_file(const char *path, sb_buf_t *b)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int e = 0;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      e = errno;
    else if (n > 0 && sb_buf_append(b, chunk, (size_t)n) != SB_OK)
      e = ENOMEM;
    if (n <= 0 || e != 0)
      break;
  }
  close(fd);
  return e;
}

/* One entry read back from the unsaved file. */
typedef struct {
  sb_spill_kind_t kind;
  union {
    sb_ledger_row_t row;
    sb_key_record_t key;
  } u;
} unsaved_t;

/* Write the entries a failing store left in the unsaved file at its last
 * close into the store, in one transaction, then remove the file. A row
 * that is already stored is not written (nor counted) twice; a line that
 * is not an entry is logged and left out. */
static sb_status_t replay_unsaved(sb_ledger_t *l, char *err, size_t errlen)
{
  char path[4096];
  unsaved_path(l, path, sizeof(path));
  sb_buf_t b;
  sb_buf_init(&b, 0); /* no cap */
  int e = read_file(path, &b);
  if (e == ENOENT) {
    sb_buf_free(&b);
    return SB_OK;
  }
  sb_status_t rc = SB_ERROR;
  unsaved_t *got = NULL;
  sb_store_entry_t *entries = NULL;
  if (e != 0) {
    snprintf(err, errlen, "ledger: cannot read %s: %s", path, strerror(e));
    goto out;
  }
  size_t lines = 1;
  for (size_t i = 0; i < b.len; i++)
    lines += b.data[i] == '\n';
  got = calloc(lines, sizeof(*got));
  entries = calloc(lines, sizeof(*entries));
  if (got == NULL || entries == NULL) {
    snprintf(err, errlen, "ledger: out of memory reading %s", path);
    goto out;
  }
  uint64_t rows = 0, keys = 0, bad = 0, line_no = 0;
  size_t n = 0;
  sb_slice_t rest = sb_buf_slice(&b);
  while (rest.len > 0) {
    const char *nl = memchr(rest.ptr, '\n', rest.len);
    size_t len = nl != NULL ? (size_t)(nl - rest.ptr) : rest.len;
    sb_slice_t line = sb_slice(rest.ptr, len);
    rest = sb_slice(rest.ptr + len + (nl != NULL),
                    rest.len - len - (nl != NULL));
    line_no++;
    if (line.len == 0)
      continue;
    unsaved_t *u = &got[n];
    if (sb_spill_parse(line, &u->kind, &u->u.row, &u->u.key) != SB_OK) {
      SB_ERR("ledger: %s line %llu is not a ledger entry; left out: %.*s",
             path, (unsigned long long)line_no, (int)SB_MIN(line.len, 4096),
             line.ptr);
      bad++;
    } else if (u->kind == SB_SPILL_ROW) {
      entries[n++] = (sb_store_entry_t){SB_STORE_ROW, &u->u.row, NULL};
      rows++;
    } else {
      entries[n++] = (sb_store_entry_t){
          u->kind == SB_SPILL_KEY ? SB_STORE_KEY : SB_STORE_KEY_DELETE, NULL,
          &u->u.key};
      keys++;
    }
  }
  char why[160];
  if (l->store->ops->write(l->store, entries, n, SB_STORE_SKIP_STORED, NULL,
                           why, sizeof(why)) != SB_OK) {
    snprintf(err, errlen, "ledger: cannot write the entries of %s: %s", path,
             why);
    goto out;
  }
  if (unlink(path) != 0) {
    snprintf(err, errlen,
             "ledger: wrote the entries of %s but cannot remove it (%s); "
             "remove it before the next start",
             path, strerror(errno));
    goto out;
  }
  SB_WARN("ledger: wrote %llu rows (those not stored already) and %llu key "
          "changes kept in %s at the last shutdown into the store%s",
          (unsigned long long)rows, (unsigned long long)keys, path,
          bad > 0 ? " (lines that were not entries are in the log)" : "");
  rc = SB_OK;
out:
  free(got);
  free(entries);
  sb_buf_free(&b);
  return rc;
}

sb_ledger_t *sb_ledger_open(const char *database, char *err, size_t errlen)
{
  sb_ledger_options_t opts = {false, 0, 0};
  return sb_ledger_open_with(database, &opts, err, errlen);
}

sb_ledger_t *sb_ledger_open_with(const char *database,
                                 const sb_ledger_options_t *opts, char *err,
                                 size_t errlen)
{
  sb_ledger_t *l = calloc(1, sizeof(*l));
  if (l == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    return NULL;
  }
  l->opts = *opts;
  l->keys = sb_keys_new();
  if (l->keys == NULL) {
    snprintf(err, errlen, "ledger: out of memory");
    goto fail;
  }
  l->store = sb_store_open(database, SB_STORE_WRITER, opts, err, errlen);
  if (l->store == NULL)
    goto fail;
  snprintf(l->database, sizeof(l->database), "%s", database);
  if (replay_unsaved(l, err, errlen) != SB_OK ||
      load_keys(l, err, errlen) != SB_OK)
    goto fail;
  sb_keys_set_store(l->keys, l);
  prune(l);
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->wake, NULL);
  pthread_cond_init(&l->flushed, NULL);
  l->can_yield = !l->opts.durable && can_leave_idle();
  if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
    snprintf(err, errlen, "ledger: cannot start the writer thread");
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->flushed);
    goto fail;
  }
  pthread_mutex_lock(&l->lock);
  writer_yield(l, true);
  pthread_mutex_unlock(&l->lock);
  return l;
fail:
  sb_store_close(l->store);
  sb_keys_free(l->keys);
  free(l);
  return NULL;
}

void sb_ledger_on_commit(sb_ledger_t *l, sb_ledger_commit_fn fn, void *data)
{
  pthread_mutex_lock(&l->lock);
  l->on_commit = fn;
  l->on_commit_data = data;
  pthread_mutex_unlock(&l->lock);
}

bool sb_ledger_is_durable(const sb_ledger_t *l)
{
  return l != NULL && l->opts.durable;
}

struct sb_store *sb_ledger_store(sb_ledger_t *l)
{
  return l != NULL ? l->store : NULL;
}

sb_keys_t *sb_ledger_keys(sb_ledger_t *l)
{
  return l != NULL ? l->keys : NULL;
}

void sb_ledger_close(sb_ledger_t *l)
{
  if (l == NULL)
    return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  l->stop_deadline_ms = wall_ms() + l->opts.close_grace_ms;
  l->urgent = true;
  writer_yield(l, false);
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  sb_keys_free(l->keys);
  sb_store_close(l->store);
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->wake);
  pthread_cond_destroy(&l->flushed);
  free(l);
}

/* With the lock held: no room for another entry while the store keeps up
 * (a failing store gets its entries anyway: the wait could be endless;
 * sb_ledger_admit keeps their number bounded instead). */
static bool must_wait_for_room(const sb_ledger_t *l)
{
  return l->queued_seq - l->committed_seq >= QUEUE_MAX && !l->stop &&
         !l->failing;
}

static uint64_t enqueue(sb_ledger_t *l, row_node_t *n)
{
  n->next = NULL;
  pthread_mutex_lock(&l->lock);
  if (must_wait_for_room(l)) {
    if (l->full_waits++ == 0)
      SB_WARN("ledger: %d rows wait for the store; requests now wait for "
              "its commits (switchboard_ledger_full_waits_total)",
              QUEUE_MAX);
    while (must_wait_for_room(l)) {
      l->urgent = true;
      writer_yield(l, false);
      pthread_cond_signal(&l->wake);
      pthread_cond_wait(&l->flushed, &l->lock);
    }
  }
  bool first = l->head == NULL;
  if (l->tail != NULL)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
  uint64_t seq = n->seq = ++l->queued_seq;
  n->awaited = false;
  /* Wake the writer for the first row of a batch if it sleeps (or a
   * durable response waits for it) and for a full batch; other rows join
   * the batch without a wake-up. */
  l->n_queued = first ? 1 : l->n_queued + 1;
  if ((first && (l->sleeping || l->opts.durable)) || l->n_queued >= BATCH_MAX)
    pthread_cond_signal(&l->wake);
  if (l->n_queued >= BOOST_AT)
    writer_yield(l, false);
  pthread_mutex_unlock(&l->lock);
  return seq;
}

uint64_t sb_ledger_record(sb_ledger_t *l, const sb_ledger_row_t *row)
{
  row_node_t *n = malloc(sizeof(row_node_t));
  if (n == NULL) {
    SB_ERR("ledger: out of memory, row %s not recorded", row->id);
    return 0;
  }
  n->kind = NODE_ROW;
  memcpy(&n->u.row, row, sizeof(*row));
  return enqueue(l, n);
}

uint64_t sb_ledger_save_key(sb_ledger_t *l, const sb_key_record_t *rec,
                            bool deleted)
{
  row_node_t *n = malloc(sizeof(row_node_t));
  if (n == NULL) {
    SB_ERR("ledger: out of memory, key %s not saved", rec->hash);
    return 0;
  }
  n->kind = deleted ? NODE_KEY_DELETE : NODE_KEY;
  memcpy(&n->u.key, rec, sizeof(*rec));
  return enqueue(l, n);
}

static void wait_work(uv_work_t *req)
{
  sb_ledger_waiter_t *w = SB_CONTAINER_OF(req, sb_ledger_waiter_t, work);
  sb_ledger_t *l = w->l;
  pthread_mutex_lock(&l->lock);
  for (;;) {
    if (l->committed_seq >= w->seq) {
      w->status = SB_OK;
      break;
    }
    /* The store refused the last commit: an entry that waits in the queue
     * (not one being written now) is refused. */
    row_node_t *n = l->failing ? find_seq(l->head, w->seq) : NULL;
    if (n != NULL || l->closed) {
      if (n != NULL)
        refuse_entry(l, n);
      w->status = SB_ERROR;
      break;
    }
    pthread_cond_wait(&l->flushed, &l->lock);
  }
  pthread_mutex_unlock(&l->lock);
}

static void wait_done(uv_work_t *req, int status)
{
  sb_ledger_waiter_t *w = SB_CONTAINER_OF(req, sb_ledger_waiter_t, work);
  (void)status;
  w->cb(w->data);
}

sb_status_t sb_ledger_when_committed(sb_ledger_t *l, uv_loop_t *loop,
                                     sb_ledger_waiter_t *w, uint64_t seq,
                                     void (*cb)(void *data), void *data)
{
  w->l = l;
  w->seq = seq;
  w->status = SB_ERROR;
  w->cb = cb;
  w->data = data;
  /* Mark the entry (usually the last one queued), so that whoever takes
   * it off the queue without committing it (spill) knows its waiter will
   * be told it failed. */
  pthread_mutex_lock(&l->lock);
  row_node_t *n = l->tail != NULL && l->tail->seq == seq
                      ? l->tail
                      : find_seq(l->head, seq);
  if (n == NULL)
    n = find_seq(l->writing, seq);
  if (n != NULL)
    n->awaited = true;
  pthread_mutex_unlock(&l->lock);
  return uv_queue_work(loop, &w->work, wait_work, wait_done) == 0 ? SB_OK
                                                                 : SB_ERROR;
}

void sb_ledger_flush(sb_ledger_t *l)
{
  pthread_mutex_lock(&l->lock);
  uint64_t target = l->queued_seq;
  l->urgent = true;
  writer_yield(l, false);
  pthread_cond_signal(&l->wake);
  while (l->committed_seq < target)
    pthread_cond_wait(&l->flushed, &l->lock);
  pthread_mutex_unlock(&l->lock);
}

uint64_t sb_ledger_committed(sb_ledger_t *l)
{
  pthread_mutex_lock(&l->lock);
  uint64_t n = l->committed_seq;
  pthread_mutex_unlock(&l->lock);
  return n;
}

/* With the lock held. */
static bool refusing(const sb_ledger_t *l)
{
  return l->failing &&
         (l->opts.durable || l->queued_seq - l->committed_seq >= QUEUE_MAX);
}

sb_status_t sb_ledger_admit(sb_ledger_t *l, char *why, size_t cap)
{
  /* every model request asks: no lock while the store takes writes */
  if (!__atomic_load_n(&l->failing, __ATOMIC_RELAXED))
    return SB_OK;
  pthread_mutex_lock(&l->lock);
  bool no = refusing(l);
  if (no) {
    l->refused++;
    if (l->opts.durable)
      snprintf(why, cap, "ledger unavailable: the store refuses writes (%s)",
               l->reason);
    else
      snprintf(why, cap,
               "ledger unavailable: %llu rows wait for the store, which "
               "refuses writes (%s)",
               (unsigned long long)(l->queued_seq - l->committed_seq),
               l->reason);
  }
  pthread_mutex_unlock(&l->lock);
  return no ? SB_DECLINED : SB_OK;
}

void sb_ledger_stats(sb_ledger_t *l, sb_ledger_stats_t *out)
{
  pthread_mutex_lock(&l->lock);
  out->committed = l->committed_seq;
  out->waiting = l->queued_seq - l->committed_seq;
  out->full_waits = l->full_waits;
  out->writer_yields = l->yielding;
  out->writer_boosts = l->boosts;
  out->errors = l->errors;
  out->refused = l->refused;
  out->undelivered = l->undelivered;
  out->failing = l->failing;
  out->degraded = l->degraded;
  out->refusing = refusing(l);
  out->degraded_since_ms = l->degraded ? l->degraded_since_ms : 0;
  snprintf(out->reason, sizeof(out->reason), "%s",
           l->degraded ? l->reason : "");
  pthread_mutex_unlock(&l->lock);
}

static bool find_queued(row_node_t *n, const char *id, sb_ledger_row_t *out)
{
  for (; n != NULL; n = n->next)
    if (n->kind == NODE_ROW && strcmp(n->u.row.id, id) == 0) {
      *out = n->u.row;
      return true;
    }
  return false;
}

const char *sb_ledger_database(const sb_ledger_t *l)
{
  return l->database;
}

sb_status_t sb_ledger_get(sb_ledger_t *l, const char *id, sb_ledger_row_t *out)
{
  /* Rows not committed yet are answered from memory, so a client can look
   * up a generation right after its response. */
  pthread_mutex_lock(&l->lock);
  bool hit = find_queued(l->head, id, out) || find_queued(l->writing, id, out);
  pthread_mutex_unlock(&l->lock);
  if (hit)
    return SB_OK;
  return l->store->ops->get(l->store, id, out);
}
