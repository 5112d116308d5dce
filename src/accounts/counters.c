/* SPDX-License-Identifier: MIT */
/*
 * The shared counters of one process; see counters.h and
 * counters_internal.h. A thread of its own (its own event loop) keeps the
 * instance alive in Redis (a beat every SB_BEAT_MS), applies the key
 * changes announced on sb:keys, reads every key from the store again when
 * it may have missed some, rebuilds Redis from the store when Redis holds
 * no epoch, and adds what is owed.
 *
 * What is owed, exactly once. Redis's spend in epoch E is what the store
 * held when E's rebuild read it, plus what was settled in E. A settlement
 * Redis did not take is owed; it is added in epoch E only if its ledger
 * row was committed after E's rebuild read the store. The store orders the
 * two: every ledger batch reads the epoch inside its transaction (store.h,
 * SB_STORE_READ_EPOCH) under a lock that the rebuild takes exclusively, so
 * the epoch a row was committed in is the last rebuild that did not see
 * it. The ledger tells this thread that epoch for each batch
 * (sb_ledger_on_commit); an owed settlement of a row committed in epoch E
 * is added while Redis is in E, and dropped once Redis is past E (a later
 * rebuild read the row). A refund of a settlement Redis took is owed to
 * the epoch that took it.
 */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <hiredis/adapters/libuv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counters_internal.h"
#include "ledger_spill.h"
#include "switchboard/clock.h"
#include "switchboard/log.h"

#define TICK_MS 100
#define SEED_CHUNK 100      /* keys per rebuild script */
#define RELOAD_DOWN_MS 1000 /* the keys are read again this often while the
                               announcements cannot be heard */
#define RELOAD_UP_MS 60000  /* ... and this often anyway */
#define OWED_BATCH 256      /* owed settlements sent at once */

int64_t sb_counters_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_counters_int(const redisReply *r, size_t i, int64_t def)
{
  if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
    return def;
  const redisReply *e = r->element[i];
  if (e->type == REDIS_REPLY_INTEGER)
    return e->integer;
  if (e->type == REDIS_REPLY_STRING)
    return strtoll(e->str, NULL, 10);
  return def;
}

/* ---- URLs ------------------------------------------------------------------- */

sb_status_t sb_redis_url_parse(const char *url, sb_redis_url_t *out,
                               char *err, size_t errlen)
{
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  if (strncmp(url, "redis://", 8) != 0) {
    snprintf(err, errlen,
             "redis must be redis://[:PASSWORD@]HOST[:PORT][/DB]%s",
             strncmp(url, "rediss://", 9) == 0
                 ? " (TLS to Redis is not supported: use a local TLS tunnel)"
                 : "");
    return SB_ERROR;
  }
  const char *p = url + 8;
  const char *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q;
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon != NULL ? colon + 1 : p; /* redis://PASSWORD@ too */
    if ((size_t)(at - pw) >= sizeof(out->password)) {
      snprintf(err, errlen, "redis: the password is too long");
      return SB_ERROR;
    }
    memcpy(out->password, pw, (size_t)(at - pw));
    p = at + 1;
  }
  const char *host_end = end;
  if (*p == '[') { /* [v6]:port */
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (close == NULL) {
      snprintf(err, errlen, "redis: bad host in '%s'", url);
      return SB_ERROR;
    }
    memcpy(out->host, p + 1, SB_MIN((size_t)(close - p - 1), sizeof(out->host) - 1));
    p = close + 1;
    host_end = p;
  } else {
    const char *colon = memchr(p, ':', (size_t)(end - p));
    host_end = colon != NULL ? colon : end;
    if ((size_t)(host_end - p) >= sizeof(out->host)) {
      snprintf(err, errlen, "redis: the host name is too long");
      return SB_ERROR;
    }
    memcpy(out->host, p, (size_t)(host_end - p));
    p = host_end;
  }
  if (out->host[0] == '\0') {
    snprintf(err, errlen, "redis: no host in '%s'", url);
    return SB_ERROR;
  }
  if (p < end && *p == ':') {
    char *stop;
    long port = strtol(p + 1, &stop, 10);
    if (stop != end || port <= 0 || port > 65535) {
      snprintf(err, errlen, "redis: bad port in '%s'", url);
      return SB_ERROR;
    }
    out->port = (int)port;
  } else if (p != end) {
    snprintf(err, errlen, "redis: bad address in '%s'", url);
    return SB_ERROR;
  }
  if (*end == '/' && end[1] != '\0') {
    char *stop;
    long db = strtol(end + 1, &stop, 10);
    if (*stop != '\0' || db < 0 || db > 1000000) {
      snprintf(err, errlen, "redis: bad database number in '%s'", url);
      return SB_ERROR;
    }
    out->db = (int)db;
  } else if (*end != '\0' && strcmp(end, "/") != 0) {
    snprintf(err, errlen, "redis: unexpected '%s' in the URL", end);
    return SB_ERROR;
  }
  return SB_OK;
}

void sb_redis_url_redact(const char *url, char *out, size_t cap)
{
  sb_store_redact(url, out, cap);
  /* redis://PASSWORD@host: no user, so no ':' before the '@' */
  const char *at = strchr(out, '@');
  if (strncmp(out, "redis://", 8) == 0 && at != NULL &&
      memchr(out + 8, ':', (size_t)(at - out - 8)) == NULL &&
      at > out + 8) {
    char rest[512];
    snprintf(rest, sizeof(rest), "%s", at);
    snprintf(out, cap, "redis://***%s", rest);
  }
}

/* ---- what is owed ------------------------------------------------------------ */

void sb_counters_owe(sb_counters_t *c, const sb_owed_t *o)
{
  if (o->cost == 0 && o->requests == 0)
    return;
  pthread_mutex_lock(&c->lock);
  sb_owed_t *m = realloc(c->owed, (c->n_owed + 1) * sizeof(*m));
  if (m != NULL) {
    c->owed = m;
    m[c->n_owed] = *o;
    m[c->n_owed].sending = false;
    m[c->n_owed].no = 0;
    c->n_owed++;
  }
  pthread_mutex_unlock(&c->lock);
  if (m == NULL)
    SB_ERR("counters: out of memory: a settlement owed to Redis is lost");
}

/* The ledger's writer committed entries first..last in `epoch`. */
static void on_commit(void *data, uint64_t first, uint64_t last,
                      uint64_t epoch)
{
  sb_counters_t *c = data;
  pthread_mutex_lock(&c->lock);
  if (c->n_seg == 0 || c->seg[c->n_seg - 1].epoch != epoch) {
    if (c->n_seg == SB_ARRAY_LEN(c->seg)) {
      memmove(c->seg, c->seg + 1, (c->n_seg - 1) * sizeof(c->seg[0]));
      c->n_seg--;
    }
    c->seg[c->n_seg].first = first;
    c->seg[c->n_seg].epoch = epoch;
    c->n_seg++;
  }
  c->committed = last;
  pthread_mutex_unlock(&c->lock);
}

/* With the lock held: the epoch `o` is owed to, in *epoch; false while it
 * is not known (its row is not committed yet). */
static bool owed_epoch(const sb_counters_t *c, const sb_owed_t *o,
                       uint64_t *epoch)
{
  if (o->epoch != 0) {
    *epoch = o->epoch;
    return true;
  }
  if (o->seq == 0) {
    /* no row to order it by (it could not be queued): Redis's epoch now */
    *epoch = c->ready_epoch;
    return *epoch != 0;
  }
  if (o->seq > c->committed || c->n_seg == 0)
    return false;
  *epoch = c->seg[0].epoch;
  for (size_t i = 0; i < c->n_seg && c->seg[i].first <= o->seq; i++)
    *epoch = c->seg[i].epoch;
  return true;
}

typedef struct {
  sb_counters_t *c;
  sb_owed_t o; /* to find it again: its row and amount */
} owed_op_t;

/* With the lock held: take `o` (matched by row and amount) off the list. */
static void owed_remove(sb_counters_t *c, const sb_owed_t *o, bool done)
{
  for (size_t i = 0; i < c->n_owed; i++) {
    sb_owed_t *x = &c->owed[i];
    if (x->sending && x->seq == o->seq && x->cost == o->cost &&
        strcmp(x->hash, o->hash) == 0) {
      if (done)
        c->owed[i] = c->owed[--c->n_owed];
      else
        x->sending = false;
      return;
    }
  }
}

static void owed_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_answered(ac);
  owed_op_t *op = data;
  sb_counters_t *c = op->c;
  const redisReply *r = reply;
  int64_t code = r != NULL && r->type == REDIS_REPLY_ARRAY
                     ? sb_counters_int(r, 0, -2)
                     : -2;
  /* -1: Redis is in another epoch; past ours, the row was read by its
   * rebuild and nothing is owed any more */
  int64_t now_epoch = code == -1 ? sb_counters_int(r, 1, 0) : 0;
  bool done = code == 0 ||
              (code == -1 && now_epoch > 0 &&
               (uint64_t)now_epoch > op->o.epoch);
  pthread_mutex_lock(&c->lock);
  owed_remove(c, &op->o, done);
  pthread_mutex_unlock(&c->lock);
  free(op);
}

/* Send what is owed and whose epoch is known. */
static void pay_owed(sb_counters_t *c)
{
  owed_op_t *ops[OWED_BATCH];
  size_t n = 0;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->n_owed && n < OWED_BATCH; i++) {
    sb_owed_t *o = &c->owed[i];
    uint64_t epoch;
    if (o->sending || !owed_epoch(c, o, &epoch))
      continue;
    owed_op_t *op = malloc(sizeof(*op));
    if (op == NULL)
      break;
    op->c = c;
    op->o = *o;
    op->o.epoch = epoch;
    o->sending = true;
    ops[n++] = op;
  }
  pthread_mutex_unlock(&c->lock);
  for (size_t i = 0; i < n; i++) {
    owed_op_t *op = ops[i];
    if (sb_counters_send_owed(c->cmd, &op->o, op->o.epoch, owed_cb, op) !=
        SB_OK) {
      pthread_mutex_lock(&c->lock);
      owed_remove(c, &op->o, false);
      pthread_mutex_unlock(&c->lock);
      free(op);
    }
  }
}

/* ---- rebuilding Redis from the store --------------------------------------- */

typedef struct {
  char hash[65];
  sb_key_spend_t spend;
  int64_t ps;
} seed_key_t;

typedef struct {
  uv_work_t work;
  sb_counters_t *c;
  seed_key_t *keys;
  size_t n, cap;
  uint64_t epoch;
  sb_status_t rc;
  char err[300];
} seed_t;

static sb_status_t seed_collect(void *data, const sb_key_record_t *rec,
                                const sb_key_spend_t *spend)
{
  seed_t *s = data;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    seed_key_t *m = realloc(s->keys, cap * sizeof(*m));
    if (m == NULL)
      return SB_ERROR;
    s->keys = m;
    s->cap = cap;
  }
  seed_key_t *k = &s->keys[s->n++];
  snprintf(k->hash, sizeof(k->hash), "%s", rec->hash);
  k->spend = *spend;
  k->ps = sb_period_start(rec->limit_reset, sb_wall_ms());
  return SB_OK;
}

static void seed_work(uv_work_t *req)
{
  seed_t *s = SB_CONTAINER_OF(req, seed_t, work);
  s->rc = s->c->store->ops->seed(s->c->store, sb_wall_ms(), seed_collect, s,
                                 &s->epoch, s->err, sizeof(s->err));
}

static void seed_reply_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_t *c = sb_counters_answered(ac)->c;
  const redisReply *r = reply;
  uintptr_t final = (uintptr_t)data;
  if (final == 0)
    return;
  c->seeding = false;
  if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
    SB_WARN("counters: Redis at %s was empty: rebuilt from the store "
            "(epoch %" PRIu64 ")",
            c->shown, (uint64_t)(final - 1));
    if (c->cmd != NULL)
      sb_counters_conn_adopt(c->cmd, (uint64_t)(final - 1));
  }
}

static void unlock_seed(sb_counters_t *c)
{
  const char *argv[] = {"sb:seeding", c->inst};
  sb_counters_eval(c->cmd, SB_SCRIPT_UNLOCK, 1, 2, argv, NULL, seed_reply_cb,
                   NULL);
}

static void seed_done(uv_work_t *req, int status)
{
  seed_t *s = SB_CONTAINER_OF(req, seed_t, work);
  sb_counters_t *c = s->c;
  (void)status;
  if (s->rc != SB_OK || c->stopping || c->cmd == NULL || c->cmd->ac == NULL ||
      c->cmd->state != CONN_UNSEEDED) {
    if (s->rc != SB_OK)
      SB_ERR("counters: cannot rebuild Redis from the store: %s (retried)",
             s->err);
    if (c->cmd != NULL && c->cmd->ac != NULL)
      unlock_seed(c);
    c->seeding = false;
    goto out;
  }
  /* the keys in chunks, then the epoch: no admission before it is set */
  for (size_t at = 0; at < s->n; at += SEED_CHUNK) {
    size_t n = SB_MIN(SEED_CHUNK, s->n - at);
    const char **argv = calloc(2 + 2 * n + 1 + 10 * n, sizeof(char *));
    char (*text)[24] = calloc(10 * n, 24);
    char (*names)[80] = calloc(2 * n, 80);
    if (argv == NULL || text == NULL || names == NULL) {
      free(argv);
      free(text);
      free(names);
      unlock_seed(c);
      c->seeding = false;
      goto out;
    }
    size_t a = 0;
    argv[a++] = "sb:seeding";
    argv[a++] = "sb:epoch";
    for (size_t i = 0; i < n; i++) {
      snprintf(names[2 * i], 80, "sb:k:%s", s->keys[at + i].hash);
      snprintf(names[2 * i + 1], 80, "sb:r:%s", s->keys[at + i].hash);
      argv[a++] = names[2 * i];
      argv[a++] = names[2 * i + 1];
    }
    argv[a++] = c->inst;
    int64_t now = sb_wall_ms();
    for (size_t i = 0; i < n; i++) {
      const seed_key_t *k = &s->keys[at + i];
      int64_t v[10] = {k->spend.total,
                       (int64_t)k->spend.requests,
                       k->ps,
                       k->spend.period,
                       sb_period_start(SB_RESET_DAILY, now),
                       k->spend.day,
                       sb_period_start(SB_RESET_WEEKLY, now),
                       k->spend.week,
                       sb_period_start(SB_RESET_MONTHLY, now),
                       k->spend.month};
      for (int j = 0; j < 10; j++) {
        snprintf(text[10 * i + (size_t)j], 24, "%" PRId64, v[j]);
        argv[a++] = text[10 * i + (size_t)j];
      }
    }
    /* hiredis copies the arguments into its buffer at once */
    sb_status_t sent = sb_counters_eval(c->cmd, SB_SCRIPT_SEED,
                                        (int)(2 + 2 * n), (int)a, argv, NULL,
                                        seed_reply_cb, NULL);
    free(argv);
    free(text);
    free(names);
    if (sent != SB_OK) {
      unlock_seed(c);
      c->seeding = false;
      goto out;
    }
  }
  char epoch[24];
  snprintf(epoch, sizeof(epoch), "%" PRIu64, s->epoch);
  const char *argv[] = {"sb:seeding", "sb:epoch", c->inst, epoch};
  if (sb_counters_eval(c->cmd, SB_SCRIPT_SEEDED, 2, 4, argv, NULL,
                       seed_reply_cb, (void *)(uintptr_t)(s->epoch + 1)) !=
      SB_OK)
    c->seeding = false;
out:
  free(s->keys);
  free(s);
}

static void locked_epoch_cb(redisAsyncContext *ac, void *reply, void *data);

static void lock_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_t *c = sb_counters_answered(ac)->c;
  const redisReply *r = reply;
  (void)data;
  if (r == NULL || r->type != REDIS_REPLY_STATUS || c->stopping) {
    c->seeding = false; /* another instance rebuilds it */
    return;
  }
  /* The lock is ours; whoever held it before set the epoch before letting
   * go of it: rebuild only if there is still none. */
  const char *argv[] = {"GET", "sb:epoch"};
  if (sb_counters_cmd(c->cmd, 2, argv, locked_epoch_cb, NULL) != SB_OK)
    c->seeding = false;
}

static void locked_epoch_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_t *c = sb_counters_answered(ac)->c;
  const redisReply *r = reply;
  (void)data;
  if (r == NULL || r->type != REDIS_REPLY_NIL || c->stopping) {
    if (r != NULL)
      unlock_seed(c);
    c->seeding = false;
    return;
  }
  seed_t *s = calloc(1, sizeof(*s));
  if (s != NULL)
    s->c = c;
  if (s == NULL || uv_queue_work(&c->loop, &s->work, seed_work, seed_done)) {
    free(s);
    unlock_seed(c);
    c->seeding = false;
  }
}

static void start_seed(sb_counters_t *c)
{
  char ttl[16];
  snprintf(ttl, sizeof(ttl), "%d", SB_SEED_LOCK_MS);
  const char *argv[] = {"SET", "sb:seeding", c->inst, "NX", "PX", ttl};
  c->seeding = sb_counters_cmd(c->cmd, 6, argv, lock_cb, NULL) == SB_OK;
}

/* ---- reading the keys again ------------------------------------------------- */

typedef struct {
  uv_work_t work;
  sb_counters_t *c;
  sb_key_stored_t *keys;
  size_t n, cap;
  uint64_t gen, committed;
  sb_status_t rc;
  char err[300];
} reload_t;

static sb_status_t reload_collect(void *data, const sb_key_record_t *rec,
                                  const sb_key_spend_t *spend)
{
  reload_t *r = data;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    sb_key_stored_t *m = realloc(r->keys, cap * sizeof(*m));
    if (m == NULL)
      return SB_ERROR;
    r->keys = m;
    r->cap = cap;
  }
  r->keys[r->n].rec = *rec;
  r->keys[r->n].spend = *spend;
  r->n++;
  return SB_OK;
}

static void reload_work(uv_work_t *req)
{
  reload_t *r = SB_CONTAINER_OF(req, reload_t, work);
  r->rc = r->c->store->ops->load_keys(r->c->store, sb_wall_ms(),
                                      reload_collect, r, NULL, r->err,
                                      sizeof(r->err));
}

static void reload_done(uv_work_t *req, int status)
{
  reload_t *r = SB_CONTAINER_OF(req, reload_t, work);
  sb_counters_t *c = r->c;
  (void)status;
  c->reloading = false;
  if (r->rc == SB_OK && !c->stopping)
    sb_keys_sync(c->keys, r->keys, r->n, r->gen, r->committed, sb_wall_ms());
  free(r->keys);
  free(r);
}

static void start_reload(sb_counters_t *c)
{
  reload_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  r->c = c;
  r->gen = c->gen;
  r->committed = sb_ledger_committed(c->ledger);
  c->reloading = true;
  if (uv_queue_work(&c->loop, &r->work, reload_work, reload_done) != 0) {
    c->reloading = false;
    free(r);
  }
}

/* ---- announcements ------------------------------------------------------------ */

static void sub_connect(sb_counters_t *c);

static void on_message(sb_counters_t *c, const char *payload, size_t len)
{
  const char *sp = memchr(payload, ' ', len);
  if (sp == NULL)
    return;
  size_t inst = (size_t)(sp - payload);
  if (inst == strlen(c->inst) && memcmp(payload, c->inst, inst) == 0)
    return; /* this instance's own */
  sb_slice_t body = sb_slice(sp + 1, len - inst - 1);
  if (SB_SLICE_IS(body, "reload")) {
    c->next_reload_ms = 0;
    return;
  }
  sb_spill_kind_t kind;
  sb_ledger_row_t row;
  sb_key_record_t rec;
  while (body.len > 0 && body.ptr[body.len - 1] == '\n')
    body.len--;
  if (sb_spill_parse(body, &kind, &row, &rec) != SB_OK ||
      kind == SB_SPILL_ROW) {
    SB_WARN("counters: an announcement on sb:keys is not a key change; "
            "ignored");
    return;
  }
  c->gen++;
  sb_keys_apply(c->keys, &rec, kind == SB_SPILL_KEY_DELETED, c->gen,
                sb_wall_ms());
}

static void sub_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_t *c = data;
  const redisReply *r = reply;
  (void)ac;
  if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
    return;
  const redisReply *kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING)
    return;
  if (strcmp(kind->str, "subscribe") == 0) {
    c->sub_up = true;
    c->sub_backoff_ms = 100;
    c->next_reload_ms = 0; /* what was missed meanwhile */
  } else if (strcmp(kind->str, "message") == 0 &&
             r->element[2]->type == REDIS_REPLY_STRING) {
    on_message(c, r->element[2]->str, r->element[2]->len);
  }
}

static void sub_connected(const redisAsyncContext *ac, int status)
{
  sb_counters_t *c = ac->data;
  if (status != REDIS_OK)
    c->sub = NULL; /* freed by hiredis */
}

static void sub_disconnected(const redisAsyncContext *ac, int status)
{
  sb_counters_t *c = ac->data;
  (void)status;
  if (c->sub == ac)
    c->sub = NULL;
  c->sub_up = false;
}

static void sub_connect(sb_counters_t *c)
{
  c->sub_next_try_ms = sb_counters_mono_ms() + c->sub_backoff_ms;
  c->sub_backoff_ms = SB_MIN(2000, c->sub_backoff_ms * 2);
  redisAsyncContext *ac = redisAsyncConnect(c->addr.host, c->addr.port);
  if (ac == NULL || ac->err) {
    if (ac != NULL)
      redisAsyncFree(ac);
    return;
  }
  ac->data = c;
  if (redisLibuvAttach(ac, &c->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    return;
  }
  redisAsyncSetConnectCallback(ac, sub_connected);
  redisAsyncSetDisconnectCallback(ac, sub_disconnected);
  c->sub = ac;
  const char *auth[] = {"AUTH", c->addr.password};
  const char *sub[] = {"SUBSCRIBE", "sb:keys"};
  if (c->addr.password[0] != '\0')
    redisAsyncCommandArgv(ac, NULL, NULL, 2, auth, NULL);
  redisAsyncCommandArgv(ac, sub_cb, c, 2, sub, NULL);
}

static void announce_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_t *c = sb_counters_answered(ac)->c;
  (void)data;
  if (reply == NULL) {
    pthread_mutex_lock(&c->lock);
    c->announce = true;
    pthread_mutex_unlock(&c->lock);
  }
}

/* ---- the thread ------------------------------------------------------------------ */

static void beat_cb(redisAsyncContext *ac, void *reply, void *data)
{
  (void)reply;
  (void)data;
  sb_counters_answered(ac);
}

/* The control connection's state, for /health and the log. */
static void note_state(sb_counters_t *c)
{
  sb_counters_conn_t *w = c->cmd;
  bool ready = sb_counters_conn_ready(w);
  pthread_mutex_lock(&c->lock);
  bool was = c->ready_epoch != 0;
  uint64_t epoch = ready ? w->epoch : 0;
  c->ready_epoch = epoch;
  snprintf(c->reason, sizeof(c->reason), "%s", ready ? "" : w->reason);
  pthread_mutex_unlock(&c->lock);
  if (ready && !c->was_ready)
    SB_INFO("counters: Redis at %s is ready (epoch %" PRIu64 ")", c->shown,
            epoch);
  else if (was && !ready)
    SB_ERR("counters: Redis at %s is unavailable (%s): %s", c->shown,
           w->reason,
           c->down_local
               ? "each instance counts budgets and rates alone until it is "
                 "back (redis_down: local)"
               : "keys with a limit or a rate get 503 until it is back "
                 "(redis_down: deny)");
  else if (!was && ready)
    SB_WARN("counters: Redis at %s is back (epoch %" PRIu64 ")", c->shown,
            epoch);
  c->was_ready |= ready;
}

static void tick(uv_timer_t *t)
{
  sb_counters_t *c = t->data;
  int64_t now = sb_counters_mono_ms();
  note_state(c);
  if (c->stopping)
    return;
  bool ready = sb_counters_conn_ready(c->cmd);
  if (ready && now >= c->next_beat_ms) {
    const char *argv[] = {"sb:inst", c->inst};
    sb_counters_eval(c->cmd, SB_SCRIPT_BEAT, 1, 2, argv, NULL, beat_cb, NULL);
    c->next_beat_ms = now + SB_BEAT_MS;
  }
  if (c->cmd->state == CONN_UNSEEDED && c->cmd->ac != NULL && !c->seeding)
    start_seed(c);
  if (ready)
    pay_owed(c);
  pthread_mutex_lock(&c->lock);
  bool announce = c->announce && ready;
  if (announce)
    c->announce = false;
  pthread_mutex_unlock(&c->lock);
  if (announce) {
    char msg[40];
    snprintf(msg, sizeof(msg), "%s reload", c->inst);
    const char *argv[] = {"PUBLISH", "sb:keys", msg};
    if (sb_counters_cmd(c->cmd, 3, argv, announce_cb, NULL) != SB_OK) {
      pthread_mutex_lock(&c->lock);
      c->announce = true;
      pthread_mutex_unlock(&c->lock);
    }
  }
  if (c->sub == NULL && now >= c->sub_next_try_ms)
    sub_connect(c);
  if (!c->reloading && now >= c->next_reload_ms) {
    start_reload(c);
    c->next_reload_ms = now + (c->sub_up ? RELOAD_UP_MS : RELOAD_DOWN_MS);
  }
}

static void closed_cb(uv_handle_t *h)
{
  (void)h;
}

/* Stopping: what is owed gets one more second, then the handles close. */
static void final_tick(uv_timer_t *t)
{
  sb_counters_t *c = t->data;
  static const int64_t grace_ms = 1000;
  pthread_mutex_lock(&c->lock);
  size_t left = c->n_owed;
  bool sending = false;
  for (size_t i = 0; i < c->n_owed; i++)
    sending |= c->owed[i].sending;
  pthread_mutex_unlock(&c->lock);
  if (sb_counters_conn_ready(c->cmd) && left > 0 && !sending)
    pay_owed(c);
  if (left > 0 && sb_counters_mono_ms() - c->stop_ms < grace_ms)
    return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, closed_cb);
  uv_close((uv_handle_t *)&c->stop, closed_cb);
  sb_counters_conn_close(c->cmd);
  c->cmd = NULL;
  if (c->sub != NULL) {
    redisAsyncContext *ac = c->sub;
    c->sub = NULL;
    redisAsyncFree(ac);
  }
}

static void on_stop(uv_async_t *a)
{
  sb_counters_t *c = a->data;
  c->stopping = true;
  c->stop_ms = sb_counters_mono_ms(); /* the grace starts now */
  uv_timer_stop(&c->tick);
  uv_timer_start(&c->tick, final_tick, 0, 50);
}

static void thread_main(void *arg)
{
  sb_counters_t *c = arg;
  pthread_setname_np(pthread_self(), "sb-counters");
  uv_run(&c->loop, UV_RUN_DEFAULT);
}

sb_counters_t *sb_counters_open(const sb_counters_options_t *o, char *err,
                                size_t errlen)
{
  sb_counters_t *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    snprintf(err, errlen, "counters: out of memory");
    return NULL;
  }
  if (sb_redis_url_parse(o->url, &c->addr, err, errlen) != SB_OK) {
    free(c);
    return NULL;
  }
  snprintf(c->url, sizeof(c->url), "%s", o->url);
  sb_redis_url_redact(o->url, c->shown, sizeof(c->shown));
  c->down_local = o->down_local;
  c->ledger = o->ledger;
  c->keys = sb_ledger_keys(o->ledger);
  c->store = sb_ledger_store(o->ledger);
  unsigned char id[8];
  if (RAND_bytes(id, sizeof(id)) != 1) {
    snprintf(err, errlen, "counters: no randomness for the instance id");
    free(c);
    return NULL;
  }
  for (size_t i = 0; i < sizeof(id); i++)
    snprintf(c->inst + 2 * i, 3, "%02x", id[i]);
  for (int i = 0; i < SB_SCRIPT_N; i++) {
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)sb_counters_lua[i], strlen(sb_counters_lua[i]),
         d);
    for (size_t j = 0; j < sizeof(d); j++)
      snprintf(c->sha[i] + 2 * j, 3, "%02x", d[j]);
  }
  pthread_mutex_init(&c->lock, NULL);
  snprintf(c->reason, sizeof(c->reason), "not connected yet");
  c->sub_backoff_ms = 100;
  if (uv_loop_init(&c->loop) != 0) {
    snprintf(err, errlen, "counters: cannot start an event loop");
    goto fail;
  }
  uv_async_init(&c->loop, &c->stop, on_stop);
  c->stop.data = c;
  uv_timer_init(&c->loop, &c->tick);
  c->tick.data = c;
  c->cmd = sb_counters_conn_new(c, &c->loop, "c");
  if (c->cmd == NULL) {
    snprintf(err, errlen, "counters: out of memory");
    goto fail;
  }
  uv_timer_start(&c->tick, tick, 0, TICK_MS);
  sb_ledger_on_commit(o->ledger, on_commit, c);
  if (uv_thread_create(&c->thread, thread_main, c) != 0) {
    sb_ledger_on_commit(o->ledger, NULL, NULL);
    snprintf(err, errlen, "counters: cannot start its thread");
    goto fail;
  }
  return c;
fail:
  /* nothing ran on the loop yet: close what was opened and let it run out */
  if (c->cmd != NULL) {
    sb_counters_conn_close(c->cmd);
    uv_close((uv_handle_t *)&c->tick, closed_cb);
    uv_close((uv_handle_t *)&c->stop, closed_cb);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
  return NULL;
}

void sb_counters_close(sb_counters_t *c)
{
  if (c == NULL)
    return;
  /* the rows committed, so that what is owed knows its epoch: for at most
   * a second, and not at all while the store refuses writes (the ledger's
   * close deals with those) */
  for (int i = 0; i < 100; i++) {
    sb_ledger_stats_t st;
    sb_ledger_stats(c->ledger, &st);
    if (st.waiting == 0 || st.failing)
      break;
    usleep(10 * 1000);
  }
  uv_async_send(&c->stop);
  uv_thread_join(&c->thread);
  sb_ledger_on_commit(c->ledger, NULL, NULL);
  if (uv_loop_close(&c->loop) != 0)
    SB_WARN("counters: handles left open at exit");
  if (c->n_owed > 0)
    SB_ERR("counters: %zu settlements could not be added to Redis before "
           "the exit; its spend is below the store's until it is rebuilt "
           "(docs/scale-out.md)",
           c->n_owed);
  free(c->owed);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

void sb_counters_stats(sb_counters_t *c, sb_counters_stats_t *out)
{
  memset(out, 0, sizeof(*out));
  if (c == NULL)
    return;
  out->configured = true;
  pthread_mutex_lock(&c->lock);
  out->ready = c->ready_epoch != 0;
  out->epoch = c->ready_epoch;
  out->unavailable = c->unavailable;
  out->owed = c->n_owed;
  snprintf(out->reason, sizeof(out->reason), "%s", c->reason);
  pthread_mutex_unlock(&c->lock);
}

sb_status_t sb_counters_probe(const char *url, char *out, size_t cap,
                              char *err, size_t errlen)
{
  sb_redis_url_t a;
  if (sb_redis_url_parse(url, &a, err, errlen) != SB_OK)
    return SB_ERROR;
  struct timeval tv = {2, 0};
  redisContext *rc = redisConnectWithTimeout(a.host, a.port, tv);
  sb_status_t status = SB_ERROR;
  redisReply *r = NULL;
  if (rc == NULL || rc->err) {
    snprintf(err, errlen, "cannot connect: %s",
             rc != NULL ? rc->errstr : "out of memory");
    goto out;
  }
  redisSetTimeout(rc, tv);
  if (a.password[0] != '\0') {
    r = redisCommand(rc, "AUTH %s", a.password);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
      snprintf(err, errlen, "AUTH: %s", r != NULL ? r->str : rc->errstr);
      goto out;
    }
    freeReplyObject(r);
  }
  r = redisCommand(rc, "SELECT %d", a.db);
  if (r == NULL || r->type == REDIS_REPLY_ERROR) {
    snprintf(err, errlen, "SELECT: %s", r != NULL ? r->str : rc->errstr);
    goto out;
  }
  freeReplyObject(r);
  r = redisCommand(rc, "INFO server");
  char version[32] = "?";
  const char *v = r != NULL && r->type == REDIS_REPLY_STRING
                      ? strstr(r->str, "redis_version:")
                      : NULL;
  if (v != NULL)
    snprintf(version, sizeof(version), "%.*s", (int)strcspn(v + 14, "\r\n"),
             v + 14);
  freeReplyObject(r);
  r = redisCommand(rc, "GET sb:epoch");
  if (r == NULL) {
    snprintf(err, errlen, "%s", rc->errstr);
    goto out;
  }
  if (r->type == REDIS_REPLY_STRING)
    snprintf(out, cap, "Redis %s, counters of epoch %s", version, r->str);
  else
    snprintf(out, cap, "Redis %s, counters not built yet (the first serve "
             "builds them)", version);
  status = SB_OK;
out:
  freeReplyObject(r);
  if (rc != NULL)
    redisFree(rc);
  return status;
}
