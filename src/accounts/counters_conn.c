/* SPDX-License-Identifier: MIT */
/*
 * One connection to the shared counters' Redis on one event loop (a
 * worker's, or the counters' own thread's): admission, settlement, views,
 * key announcements; see counters.h and counters_internal.h.
 *
 * The connection (hiredis, async, on the loop) is made again with backoff
 * (100 ms doubling to 2 s) whenever it is lost, and dropped when Redis
 * leaves a command unanswered for SB_REPLY_MS. Until it is READY (scripts
 * loaded, the epoch read), admissions follow `redis_down`.
 *
 * What a lost connection leaves unsure is settled when it is back: each
 * settlement is numbered and Redis keeps the number of the last one it
 * took (sb:ack:F), so those whose answer was lost are known to be taken
 * or not (those not taken are owed); the reservations the connection
 * holds (its field in sb:r:H) are set again to what its calls hold, which
 * it knows. An admission whose answer was lost was refused to its call.
 */
#include <hiredis/adapters/libuv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters_internal.h"
#include "ledger_spill.h"
#include "switchboard/clock.h"
#include "switchboard/log.h"

#define TICK_MS 100
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

static void connect_now(sb_counters_conn_t *w);
static void become_ready(sb_counters_conn_t *w, uint64_t epoch);

bool sb_counters_conn_ready(const sb_counters_conn_t *w)
{
  return w != NULL && w->state == CONN_READY && w->ac != NULL;
}

/* ---- what a connection holds ------------------------------------------------ */

static sb_held_t *held_find(sb_counters_conn_t *w, const char *hash,
                            bool create)
{
  for (size_t i = 0; i < w->n_held; i++)
    if (strcmp(w->held[i].hash, hash) == 0)
      return &w->held[i];
  if (!create)
    return NULL;
  sb_held_t *m = realloc(w->held, (w->n_held + 1) * sizeof(*m));
  if (m == NULL)
    return NULL;
  w->held = m;
  sb_held_t *h = &m[w->n_held++];
  memset(h, 0, sizeof(*h));
  snprintf(h->hash, sizeof(h->hash), "%s", hash);
  return h;
}

/* The reservations of another epoch are gone with the Redis that held
 * them; settlements left unsure are owed. */
static void forget_epoch(sb_counters_conn_t *w, uint64_t epoch)
{
  w->n_held = 0;
  w->held_epoch = epoch;
  for (size_t i = 0; i < w->n_unsure; i++)
    sb_counters_owe(w->c, &w->unsure[i]);
  w->n_unsure = 0;
}

static void unsure_add(sb_counters_conn_t *w, const sb_owed_t *o)
{
  sb_owed_t *m = realloc(w->unsure, (w->n_unsure + 1) * sizeof(*m));
  if (m == NULL) {
    sb_counters_owe(w->c, o); /* counted twice at worst, never lost */
    return;
  }
  w->unsure = m;
  m[w->n_unsure++] = *o;
}

/* ---- the connection ------------------------------------------------------------ */

static void set_down(sb_counters_conn_t *w, const char *why)
{
  if (why != NULL && why[0] != '\0')
    snprintf(w->reason, sizeof(w->reason), "%s", why);
  w->state = CONN_DOWN;
  w->ac = NULL;
  w->pending = 0;
  w->polling = false;
  w->next_try_ms = sb_counters_mono_ms() + w->backoff_ms;
  w->backoff_ms = SB_MIN(BACKOFF_MAX_MS, w->backoff_ms * 2);
}

static void maybe_free(sb_counters_conn_t *w)
{
  if (w->closing && w->ac == NULL && !w->timer_open) {
    for (size_t i = 0; i < w->n_unsure; i++)
      sb_counters_owe(w->c, &w->unsure[i]);
    free(w->unsure);
    free(w->held);
    free(w);
  }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
  sb_counters_conn_t *w = ac->data;
  if (status != REDIS_OK) {
    /* hiredis frees the context next, answering what waits with NULL */
    char why[160];
    snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
    set_down(w, why);
  }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
  sb_counters_conn_t *w = ac->data;
  if (w->ac == ac || w->ac == NULL) {
    char why[160];
    snprintf(why, sizeof(why), "the connection was lost%s%s",
             status != REDIS_OK ? ": " : "",
             status != REDIS_OK ? ac->errstr : "");
    if (w->state != CONN_DOWN || w->ac != NULL)
      set_down(w, w->closing ? NULL : why);
    w->ac = NULL;
  }
  maybe_free(w);
}

sb_counters_conn_t *sb_counters_answered(redisAsyncContext *ac)
{
  sb_counters_conn_t *w = ac->data;
  if (w->pending > 0)
    w->pending--;
  w->last_answer_ms = sb_counters_mono_ms();
  return w;
}

sb_status_t sb_counters_cmd(sb_counters_conn_t *w, int argc, const char **argv,
                            redisCallbackFn *fn, void *data)
{
  if (w->ac == NULL ||
      redisAsyncCommandArgv(w->ac, fn, data, argc, argv, NULL) != REDIS_OK)
    return SB_ERROR;
  if (w->pending++ == 0)
    w->last_answer_ms = sb_counters_mono_ms();
  return SB_OK;
}

sb_status_t sb_counters_eval(sb_counters_conn_t *w, int script, int nkeys,
                             int argc, const char **argv, const size_t *lens,
                             redisCallbackFn *fn, void *data)
{
  const char *small_args[40];
  size_t small_sizes[40];
  const char **args = small_args;
  size_t *sizes = small_sizes;
  char n[12];
  if (w->ac == NULL)
    return SB_ERROR;
  if ((size_t)argc + 3 > SB_ARRAY_LEN(small_args)) {
    args = malloc(((size_t)argc + 3) * sizeof(*args));
    sizes = malloc(((size_t)argc + 3) * sizeof(*sizes));
    if (args == NULL || sizes == NULL) {
      free(args);
      free(sizes);
      return SB_ERROR;
    }
  }
  snprintf(n, sizeof(n), "%d", nkeys);
  args[0] = "EVALSHA";
  args[1] = w->c->sha[script];
  args[2] = n;
  for (int i = 0; i < 3; i++)
    sizes[i] = strlen(args[i]);
  for (int i = 0; i < argc; i++) {
    args[i + 3] = argv[i];
    sizes[i + 3] = lens != NULL ? lens[i] : strlen(argv[i]);
  }
  int sent = redisAsyncCommandArgv(w->ac, fn, data, argc + 3, args, sizes);
  if (args != small_args) {
    free(args);
    free(sizes);
  }
  if (sent != REDIS_OK)
    return SB_ERROR;
  if (w->pending++ == 0)
    w->last_answer_ms = sb_counters_mono_ms();
  return SB_OK;
}

void sb_counters_conn_adopt(sb_counters_conn_t *w, uint64_t epoch)
{
  if (w->state == CONN_UNSEEDED && w->ac != NULL)
    become_ready(w, epoch);
}

static void ignore_cb(redisAsyncContext *ac, void *reply, void *data)
{
  (void)reply;
  (void)data;
  sb_counters_answered(ac);
}

/* Reset the field's value per key to what this connection holds. */
static void reset_held(sb_counters_conn_t *w)
{
  size_t kept = 0;
  for (size_t i = 0; i < w->n_held; i++) {
    sb_held_t *h = &w->held[i];
    char key[80], amount[24];
    snprintf(key, sizeof(key), "sb:r:%s", h->hash);
    snprintf(amount, sizeof(amount), "%" PRId64, h->amount);
    const char *set[] = {"HSET", key, w->field, amount};
    const char *del[] = {"HDEL", key, w->field};
    if (h->amount > 0)
      sb_counters_cmd(w, 4, set, ignore_cb, NULL);
    else
      sb_counters_cmd(w, 3, del, ignore_cb, NULL);
    if (h->amount > 0) {
      h->dirty = false;
      w->held[kept++] = *h;
    }
  }
  w->n_held = kept;
}

static void become_ready(sb_counters_conn_t *w, uint64_t epoch)
{
  if (epoch != w->held_epoch)
    forget_epoch(w, epoch);
  w->epoch = epoch;
  w->state = CONN_READY;
  w->backoff_ms = BACKOFF_FIRST_MS;
  w->reason[0] = '\0';
  if (w->on_ready != NULL)
    w->on_ready(w);
}

static uint64_t reply_epoch(const redisReply *r)
{
  if (r == NULL || r->type != REDIS_REPLY_STRING)
    return 0;
  return strtoull(r->str, NULL, 10);
}

/* The answers of a new connection: its epoch, then its last settlement
 * Redis took (sb:ack:F). */
typedef struct {
  uint64_t epoch;
} hello_t;

static void epoch_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  hello_t *h = data;
  h->epoch = reply_epoch(reply);
  (void)w;
}

static void ack_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  hello_t *h = data;
  uint64_t epoch = h->epoch;
  free(h);
  if (reply == NULL || w->state != CONN_CONNECTING)
    return;
  const redisReply *r = reply;
  uint64_t ack = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
  if (epoch == 0) {
    forget_epoch(w, 0);
    w->state = CONN_UNSEEDED;
    snprintf(w->reason, sizeof(w->reason),
             "Redis holds no counters yet (being rebuilt from the store)");
    return;
  }
  if (epoch == w->held_epoch) {
    /* the same Redis: what it took of the unsure settlements is known */
    for (size_t i = 0; i < w->n_unsure; i++)
      if (w->unsure[i].no > ack)
        sb_counters_owe(w->c, &w->unsure[i]);
    w->n_unsure = 0;
    reset_held(w);
  }
  become_ready(w, epoch);
}

static void script_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  const redisReply *r = reply;
  (void)data;
  if (r != NULL && r->type == REDIS_REPLY_ERROR)
    snprintf(w->reason, sizeof(w->reason), "%s", r->str);
}

static void connect_now(sb_counters_conn_t *w)
{
  const sb_redis_url_t *a = &w->c->addr;
  redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
  if (ac == NULL || ac->err) {
    char why[160];
    snprintf(why, sizeof(why), "cannot connect: %s",
             ac != NULL ? ac->errstr : "out of memory");
    if (ac != NULL)
      redisAsyncFree(ac);
    set_down(w, why);
    return;
  }
  ac->data = w;
  if (redisLibuvAttach(ac, w->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    set_down(w, "cannot watch the connection");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  w->ac = ac;
  w->state = CONN_CONNECTING;
  w->pending = 0;
  hello_t *h = calloc(1, sizeof(*h));
  char db[12], ack[80];
  snprintf(db, sizeof(db), "%d", a->db);
  snprintf(ack, sizeof(ack), "sb:ack:%s", w->field);
  const char *auth[] = {"AUTH", a->password};
  const char *select[] = {"SELECT", db};
  const char *get_epoch[] = {"GET", "sb:epoch"};
  const char *get_ack[] = {"GET", ack};
  bool ok = h != NULL;
  if (ok && a->password[0] != '\0')
    ok = sb_counters_cmd(w, 2, auth, script_cb, NULL) == SB_OK;
  if (ok && a->db != 0)
    ok = sb_counters_cmd(w, 2, select, script_cb, NULL) == SB_OK;
  for (int i = 0; ok && i < SB_SCRIPT_N; i++) {
    const char *load[] = {"SCRIPT", "LOAD", sb_counters_lua[i]};
    ok = sb_counters_cmd(w, 3, load, script_cb, NULL) == SB_OK;
  }
  ok = ok && sb_counters_cmd(w, 2, get_epoch, epoch_cb, h) == SB_OK;
  if (ok && sb_counters_cmd(w, 2, get_ack, ack_cb, h) == SB_OK)
    return;
  /* what was sent is answered NULL now; h was not handed to ack_cb */
  w->ac = NULL;
  redisAsyncFree(ac);
  free(h);
  set_down(w, "cannot send to Redis");
}

static void poll_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  (void)data;
  w->polling = false;
  uint64_t epoch = reply_epoch(reply);
  if (epoch != 0 && w->state == CONN_UNSEEDED)
    become_ready(w, epoch);
}

static void timer_closed(uv_handle_t *h);

static void tick(uv_timer_t *t)
{
  sb_counters_conn_t *w = t->data;
  int64_t now = sb_counters_mono_ms();
  if (w->closing) {
    /* closing: the answers still due, for SB_REPLY_MS at most */
    if (w->ac != NULL && now - w->close_ms > SB_REPLY_MS) {
      redisAsyncContext *ac = w->ac;
      w->ac = NULL;
      redisAsyncFree(ac);
    }
    if (w->ac == NULL && w->timer_open && !uv_is_closing((uv_handle_t *)t))
      uv_close((uv_handle_t *)t, timer_closed);
    return;
  }
  if (w->state == CONN_DOWN && now >= w->next_try_ms) {
    connect_now(w);
    return;
  }
  if (w->ac != NULL && w->pending > 0 && now - w->last_answer_ms > SB_REPLY_MS) {
    /* a server that does not answer is as good as gone; what waits is
     * answered as lost */
    redisAsyncContext *ac = w->ac;
    char why[160];
    snprintf(why, sizeof(why), "Redis did not answer within %d ms",
             SB_REPLY_MS);
    set_down(w, why);
    redisAsyncFree(ac);
    return;
  }
  if (w->state == CONN_UNSEEDED && !w->polling) {
    const char *get[] = {"GET", "sb:epoch"};
    w->polling = sb_counters_cmd(w, 2, get, poll_cb, NULL) == SB_OK;
  }
}

sb_counters_conn_t *sb_counters_conn_new(sb_counters_t *c, uv_loop_t *loop,
                                         const char *name)
{
  sb_counters_conn_t *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return NULL;
  w->c = c;
  w->loop = loop;
  snprintf(w->field, sizeof(w->field), "%s/%s", c->inst, name);
  w->backoff_ms = BACKOFF_FIRST_MS;
  w->state = CONN_DOWN;
  snprintf(w->reason, sizeof(w->reason), "not connected yet");
  uv_timer_init(loop, &w->timer);
  w->timer.data = w;
  w->timer_open = true;
  uv_timer_start(&w->timer, tick, TICK_MS, TICK_MS);
  connect_now(w);
  return w;
}

static void timer_closed(uv_handle_t *h)
{
  sb_counters_conn_t *w = h->data;
  w->timer_open = false;
  maybe_free(w);
}

void sb_counters_conn_close(sb_counters_conn_t *w)
{
  if (w == NULL)
    return;
  w->closing = true;
  w->close_ms = sb_counters_mono_ms();
  redisAsyncContext *ac = w->ac;
  if (ac != NULL && (ac->c.flags & REDIS_CONNECTED)) {
    /* answers still due arrive first (the timer gives up on them after
     * SB_REPLY_MS); then on_disconnect lets go of the context */
    redisAsyncDisconnect(ac);
  } else if (ac != NULL) {
    /* not connected yet: nothing to wait for */
    w->ac = NULL;
    redisAsyncFree(ac);
  }
  /* the timer closes once the context is gone, then `w` is freed */
  uv_timer_start(&w->timer, tick, 0, TICK_MS);
}

sb_counters_conn_t *sb_counters_attach(sb_counters_t *c, uv_loop_t *loop,
                                       unsigned worker)
{
  char name[16];
  if (c == NULL)
    return NULL;
  snprintf(name, sizeof(name), "%u", worker);
  return sb_counters_conn_new(c, loop, name);
}

void sb_counters_detach(sb_counters_conn_t *w)
{
  sb_counters_conn_close(w);
}

/* ---- admission ------------------------------------------------------------------- */

static bool limited(const sb_key_record_t *lim)
{
  return lim->limit_pico >= 0 || lim->rpm > 0 || lim->tpm > 0;
}

/* Redis could not answer: `redis_down` decides. */
static void unavailable(sb_counters_admission_t *a, const char *why)
{
  sb_counters_conn_t *w = a->w;
  if (w->c->down_local) {
    a->result = sb_key_admit(a->k, a->model, a->reserve, a->now_ms,
                             &a->info);
    a->ticket.shared = false;
    a->ticket.reserved = a->result == SB_ADMIT_OK ? a->reserve : 0;
    return;
  }
  pthread_mutex_lock(&w->c->lock);
  w->c->unavailable++;
  pthread_mutex_unlock(&w->c->lock);
  a->result = SB_ADMIT_UNAVAILABLE;
  snprintf(a->why, sizeof(a->why),
           "rate and credit counters unavailable: Redis cannot be reached "
           "(%.100s); keys with a limit or a rate are refused until it is "
           "back",
           why);
}

static void window_info(sb_admit_info_t *info, uint32_t limit, int64_t used,
                        int64_t reset_s)
{
  info->has_limit = true;
  info->limit = limit;
  info->remaining = used >= limit ? 0 : (uint32_t)(limit - used);
  info->reset_s = reset_s > 0 ? (uint32_t)reset_s : 0;
}

/* The epoch changed under a ready connection (Redis was emptied, or
 * rebuilt): follow it. */
static void epoch_moved(sb_counters_conn_t *w, const redisReply *r)
{
  uint64_t epoch = r != NULL && r->type == REDIS_REPLY_ARRAY &&
                           r->elements > 1
                       ? reply_epoch(r->element[1])
                       : 0;
  if (w->state != CONN_READY)
    return;
  if (epoch != 0) {
    become_ready(w, epoch);
  } else {
    forget_epoch(w, 0);
    w->state = CONN_UNSEEDED;
    snprintf(w->reason, sizeof(w->reason),
             "Redis holds no counters (being rebuilt from the store)");
  }
}

/* A script's answer code (its first element); -2 for no answer, an error
 * or anything else. */
static int64_t reply_code(const redisReply *r)
{
  return r != NULL && r->type == REDIS_REPLY_ARRAY ? sb_counters_int(r, 0, -2)
                                                   : -2;
}

static void admit_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  sb_counters_admission_t *a = data;
  const redisReply *r = reply;
  int64_t code = reply_code(r);
  memset(&a->info, 0, sizeof(a->info));
  a->info.remaining_pico = -1;
  switch (code) {
  case 0: {
    int64_t left = sb_counters_int(r, 1, -1);
    sb_held_t *h = held_find(w, a->k->rec.hash, a->reserve > 0 && left >= 0);
    if (h != NULL && left >= 0)
      h->amount += a->reserve;
    a->result = SB_ADMIT_OK;
    a->ticket.shared = left >= 0;
    a->ticket.epoch = w->epoch;
    a->ticket.reserved = left >= 0 ? a->reserve : 0;
    a->info.remaining_pico = left;
    if (a->rpm > 0)
      window_info(&a->info, a->rpm, sb_counters_int(r, 2, 0),
                  sb_counters_int(r, 3, 0));
    break;
  }
  case 1:
  case 2:
    a->result = code == 1 ? SB_ADMIT_RPM : SB_ADMIT_TPM;
    window_info(&a->info, (uint32_t)sb_counters_int(r, 1, 0),
                sb_counters_int(r, 1, 0), sb_counters_int(r, 3, 0));
    a->info.retry_after_s = (uint32_t)SB_MAX(0, sb_counters_int(r, 4, 1));
    break;
  case 3:
    a->result = SB_ADMIT_CREDITS;
    a->info.remaining_pico = sb_counters_int(r, 1, 0);
    break;
  case -1:
    epoch_moved(w, r);
    unavailable(a, "the counters are being rebuilt");
    break;
  default:
    if (r == NULL) {
      /* it may have been taken: what the field holds is set again */
      sb_held_t *h = held_find(w, a->k->rec.hash, true);
      if (h != NULL)
        h->dirty = true;
    }
    unavailable(a, r == NULL ? w->reason
                   : r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "an unexpected answer");
    break;
  }
  a->cb(a, a->data);
}

sb_status_t sb_counters_admit(sb_counters_conn_t *w, sb_key_t *k,
                              sb_slice_t model, int64_t reserve,
                              int64_t now_ms, sb_counters_admission_t *a,
                              sb_counters_admit_fn cb, void *data)
{
  memset(a, 0, sizeof(*a));
  a->w = w;
  a->k = k;
  a->model = model;
  a->reserve = reserve;
  a->now_ms = now_ms;
  a->cb = cb;
  a->data = data;
  sb_key_record_t lim;
  if (w == NULL) {
    a->result = sb_key_admit(k, model, reserve, now_ms, &a->info);
    a->ticket.reserved = a->result == SB_ADMIT_OK ? reserve : 0;
    return SB_OK;
  }
  a->result = sb_key_check(k, model, now_ms, &lim);
  if (a->result != SB_ADMIT_OK)
    return SB_OK;
  if (!limited(&lim)) {
    /* nothing to check across instances: counted locally, settled in
     * Redis for the shared totals */
    a->result = sb_key_admit(k, model, reserve, now_ms, &a->info);
    a->ticket.reserved = a->result == SB_ADMIT_OK ? reserve : 0;
    return SB_OK;
  }
  a->rpm = lim.rpm;
  if (!sb_counters_conn_ready(w)) {
    unavailable(a, w->reason);
    return SB_OK;
  }
  char field_key[80], res_key[80], win_key[80], amount[24], limit[24],
      start[24], rpm[16], tpm[16], live[16], epoch[24];
  snprintf(field_key, sizeof(field_key), "sb:k:%s", k->rec.hash);
  snprintf(res_key, sizeof(res_key), "sb:r:%s", k->rec.hash);
  snprintf(win_key, sizeof(win_key), "sb:w:%s", k->rec.hash);
  snprintf(amount, sizeof(amount), "%" PRId64, reserve);
  snprintf(limit, sizeof(limit), "%" PRId64, lim.limit_pico);
  snprintf(start, sizeof(start), "%" PRId64,
           sb_period_start(lim.limit_reset, now_ms));
  snprintf(rpm, sizeof(rpm), "%" PRIu32, lim.rpm);
  snprintf(tpm, sizeof(tpm), "%" PRIu32, lim.tpm);
  snprintf(live, sizeof(live), "%d", SB_LIVE_MS);
  snprintf(epoch, sizeof(epoch), "%" PRIu64, w->epoch);
  const char *argv[] = {field_key, res_key,  win_key, "sb:inst", "sb:epoch",
                        w->field,  amount,   limit,   start,     rpm,
                        tpm,       live,     epoch};
  if (sb_counters_eval(w, SB_SCRIPT_ADMIT, 5, SB_ARRAY_LEN(argv), argv, NULL,
                       admit_cb, a) != SB_OK) {
    unavailable(a, "cannot send to Redis");
    return SB_OK;
  }
  return SB_AGAIN;
}

/* ---- settlement ------------------------------------------------------------------ */

typedef struct {
  sb_key_t *k; /* a reference */
  sb_owed_t o;
} settle_op_t;

static sb_key_spend_t reply_spend(const redisReply *r)
{
  sb_key_spend_t s;
  s.total = sb_counters_int(r, 1, 0);
  s.requests = (uint64_t)sb_counters_int(r, 2, 0);
  s.period = sb_counters_int(r, 3, 0);
  s.day = sb_counters_int(r, 4, 0);
  s.week = sb_counters_int(r, 5, 0);
  s.month = sb_counters_int(r, 6, 0);
  return s;
}

static void settle_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  settle_op_t *op = data;
  const redisReply *r = reply;
  int64_t code = reply_code(r);
  sb_key_spend_t s;
  if (code == 0)
    s = reply_spend(r);
  sb_key_settle_answered(op->k, code == 0 ? &s : NULL, sb_wall_ms());
  if (r == NULL) {
    unsure_add(w, &op->o); /* taken or not: the reconnection tells */
  } else if (code != 0) {
    if (code == -1)
      epoch_moved(w, r);
    sb_counters_owe(w->c, &op->o);
  }
  sb_key_unref(op->k);
  free(op);
}

/* Send `o` to settle in `epoch`, releasing `reserved`, adding `tokens`. */
static sb_status_t send_settle(sb_counters_conn_t *w, const sb_owed_t *o,
                               int64_t reserved, uint64_t tokens,
                               uint64_t epoch, redisCallbackFn *fn, void *data)
{
  char k_key[80], r_key[80], w_key[80], ack_key[80], res[24], cost[24],
      tok[24], ep[24], ps[24], ds[24], ws[24], ms[24], req[8], no[24];
  snprintf(k_key, sizeof(k_key), "sb:k:%s", o->hash);
  snprintf(r_key, sizeof(r_key), "sb:r:%s", o->hash);
  snprintf(w_key, sizeof(w_key), "sb:w:%s", o->hash);
  snprintf(ack_key, sizeof(ack_key), "sb:ack:%s", w->field);
  snprintf(res, sizeof(res), "%" PRId64, reserved);
  snprintf(cost, sizeof(cost), "%" PRId64, o->cost);
  snprintf(tok, sizeof(tok), "%" PRIu64, tokens);
  snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
  snprintf(ps, sizeof(ps), "%" PRId64, o->ps);
  snprintf(ds, sizeof(ds), "%" PRId64, o->ds);
  snprintf(ws, sizeof(ws), "%" PRId64, o->ws);
  snprintf(ms, sizeof(ms), "%" PRId64, o->ms);
  snprintf(req, sizeof(req), "%" PRIu64, o->requests);
  if (o->no > 0)
    snprintf(no, sizeof(no), "%" PRIu64, o->no);
  else
    no[0] = '\0';
  const char *argv[] = {k_key, r_key, w_key, "sb:epoch", ack_key, w->field,
                        res,   cost,  tok,   ep,         ps,      ds,
                        ws,    ms,    req,   no};
  return sb_counters_eval(w, SB_SCRIPT_SETTLE, 5, SB_ARRAY_LEN(argv), argv,
                          NULL, fn, data);
}

sb_status_t sb_counters_send_owed(sb_counters_conn_t *w, const sb_owed_t *o,
                                  uint64_t epoch, redisCallbackFn *fn,
                                  void *data)
{
  sb_owed_t plain = *o;
  plain.no = 0;
  return send_settle(w, &plain, 0, 0, epoch, fn, data);
}

/* The owed form of a settlement of `k` now. */
static void owed_for(sb_key_t *k, int64_t cost, uint64_t requests,
                     uint64_t seq, int64_t now_ms, sb_owed_t *o)
{
  memset(o, 0, sizeof(*o));
  pthread_mutex_lock(&k->lock);
  sb_reset_t reset = k->rec.limit_reset;
  pthread_mutex_unlock(&k->lock);
  snprintf(o->hash, sizeof(o->hash), "%s", k->rec.hash); /* immutable */
  o->cost = cost;
  o->requests = requests;
  o->ps = sb_period_start(reset, now_ms);
  o->ds = sb_period_start(SB_RESET_DAILY, now_ms);
  o->ws = sb_period_start(SB_RESET_WEEKLY, now_ms);
  o->ms = sb_period_start(SB_RESET_MONTHLY, now_ms);
  o->seq = seq;
}

void sb_counters_settle(sb_counters_conn_t *w, sb_keys_t *keys, sb_key_t *k,
                        sb_counters_ticket_t *t, int64_t cost,
                        uint64_t tokens, uint64_t seq, int64_t now_ms)
{
  sb_key_settle(keys, k, t->shared ? 0 : t->reserved, cost, tokens, now_ms);
  if (w == NULL)
    return;
  settle_op_t *op = malloc(sizeof(*op));
  if (op == NULL) {
    SB_ERR("counters: out of memory: a settlement of key %.12s is lost",
           k->rec.hash);
    return;
  }
  owed_for(k, cost, 1, seq, now_ms, &op->o);
  bool same_epoch = !t->shared || t->epoch == w->epoch;
  int64_t release = t->shared && same_epoch ? t->reserved : 0;
  if (t->shared && same_epoch) {
    sb_held_t *h = held_find(w, k->rec.hash, false);
    if (h != NULL)
      h->amount -= t->reserved;
  }
  pthread_mutex_lock(&k->lock);
  bool tpm = k->rec.tpm > 0;
  pthread_mutex_unlock(&k->lock);
  if (!sb_counters_conn_ready(w) || !same_epoch) {
    sb_counters_owe(w->c, &op->o);
    free(op);
    return;
  }
  op->o.no = ++w->settle_no;
  op->k = k;
  sb_key_ref(k);
  t->settle_sent = true;
  t->settle_epoch = w->epoch;
  if (send_settle(w, &op->o, release, tpm ? tokens : 0, w->epoch, settle_cb,
                  op) != SB_OK) {
    t->settle_sent = false;
    sb_counters_owe(w->c, &op->o);
    sb_key_unref(k);
    free(op);
    return;
  }
  sb_key_settle_sent(k);
}

void sb_counters_refund(sb_counters_conn_t *w, sb_keys_t *keys, sb_key_t *k,
                        const sb_counters_ticket_t *t, int64_t cost,
                        uint64_t seq, int64_t now_ms)
{
  sb_keys_refund(keys, k, cost, now_ms);
  if (w == NULL || k == NULL || cost <= 0)
    return;
  /* a settlement still unsure or owed is made smaller; one Redis took is
   * undone in the epoch it was taken in */
  for (size_t i = 0; i < w->n_unsure; i++)
    if (w->unsure[i].seq == seq && seq != 0) {
      w->unsure[i].cost -= cost;
      return;
    }
  sb_owed_t o;
  owed_for(k, -cost, 0, seq, now_ms, &o);
  o.epoch = t->settle_sent ? t->settle_epoch : 0;
  settle_op_t *op = malloc(sizeof(*op));
  if (op != NULL && t->settle_sent && sb_counters_conn_ready(w) &&
      w->epoch == t->settle_epoch) {
    op->o = o;
    op->o.no = ++w->settle_no;
    op->k = k;
    sb_key_ref(k);
    if (send_settle(w, &op->o, 0, 0, w->epoch, settle_cb, op) == SB_OK) {
      sb_key_settle_sent(k);
      return;
    }
    sb_key_unref(k);
  }
  free(op);
  sb_counters_owe(w->c, &o);
}

/* ---- views and announcements ---------------------------------------------------- */

typedef struct {
  size_t left;
  void (*done)(void *data);
  void *data;
} refresh_t;

typedef struct {
  refresh_t *all;
  sb_key_t *k;     /* a reference */
  uint64_t mark;   /* sb_key_settle_mark's, when the view went out */
  unsigned tries;
} refresh_one_t;

/* A key with settlements of this instance in flight is read again once
 * they are answered (each read takes one round trip), this many times at
 * most; after that each figure is the larger of Redis's and the local
 * one (sb_key_set_shared). */
#define VIEW_TRIES 16

static void view_cb(redisAsyncContext *ac, void *reply, void *data);

static sb_status_t send_view(sb_counters_conn_t *w, refresh_one_t *one)
{
  sb_key_t *k = one->k;
  int64_t now = sb_wall_ms();
  pthread_mutex_lock(&k->lock);
  sb_reset_t reset = k->rec.limit_reset;
  pthread_mutex_unlock(&k->lock);
  char k_key[80], r_key[80], ps[24], ds[24], ws[24], ms[24], live[16];
  snprintf(k_key, sizeof(k_key), "sb:k:%s", k->rec.hash);
  snprintf(r_key, sizeof(r_key), "sb:r:%s", k->rec.hash);
  snprintf(ps, sizeof(ps), "%" PRId64, sb_period_start(reset, now));
  snprintf(ds, sizeof(ds), "%" PRId64, sb_period_start(SB_RESET_DAILY, now));
  snprintf(ws, sizeof(ws), "%" PRId64, sb_period_start(SB_RESET_WEEKLY, now));
  snprintf(ms, sizeof(ms), "%" PRId64, sb_period_start(SB_RESET_MONTHLY, now));
  snprintf(live, sizeof(live), "%d", SB_LIVE_MS);
  const char *argv[] = {k_key, r_key, "sb:inst", "sb:epoch", ps,
                        ds,    ws,    ms,        live};
  one->mark = sb_key_settle_mark(k);
  one->tries++;
  return sb_counters_eval(w, SB_SCRIPT_VIEW, 4, SB_ARRAY_LEN(argv), argv, NULL,
                          view_cb, one);
}

static void view_cb(redisAsyncContext *ac, void *reply, void *data)
{
  sb_counters_conn_t *w = sb_counters_answered(ac);
  refresh_one_t *one = data;
  const redisReply *r = reply;
  if (reply_code(r) == 0) {
    sb_key_spend_t s = reply_spend(r);
    if (!sb_key_set_shared(one->k, &s, sb_counters_int(r, 7, 0), one->mark,
                           sb_wall_ms()) &&
        one->tries < VIEW_TRIES && sb_counters_conn_ready(w) &&
        send_view(w, one) == SB_OK)
      return; /* read again */
  }
  sb_key_unref(one->k);
  refresh_t *all = one->all;
  free(one);
  if (--all->left == 0) {
    all->done(all->data);
    free(all);
  }
}

sb_status_t sb_counters_refresh(sb_counters_conn_t *w, sb_key_t *const *keys,
                                size_t n, void (*done)(void *data),
                                void *data)
{
  if (!sb_counters_conn_ready(w) || n == 0)
    return SB_DECLINED;
  refresh_t *all = malloc(sizeof(*all));
  if (all == NULL)
    return SB_DECLINED;
  all->left = 1; /* until every view is sent */
  all->done = done;
  all->data = data;
  for (size_t i = 0; i < n; i++) {
    refresh_one_t *one = calloc(1, sizeof(*one));
    if (one == NULL)
      break;
    one->all = all;
    one->k = keys[i];
    sb_key_ref(keys[i]);
    all->left++;
    if (send_view(w, one) != SB_OK) {
      all->left--;
      sb_key_unref(keys[i]);
      free(one);
      break;
    }
  }
  if (--all->left == 0) {
    free(all);
    return SB_DECLINED; /* nothing went out */
  }
  return SB_OK;
}

void sb_counters_publish(sb_counters_conn_t *w, const sb_key_record_t *rec,
                         bool deleted)
{
  if (w == NULL)
    return;
  sb_buf_t b;
  sb_buf_init(&b, 64 * 1024);
  bool sent = false;
  if (sb_counters_conn_ready(w) &&
      sb_buf_appendf(&b, "%s ", w->c->inst) == SB_OK &&
      sb_spill_key(&b, rec, deleted) == SB_OK) {
    const char *argv[] = {"PUBLISH", "sb:keys", b.data};
    size_t lens[] = {7, 7, b.len};
    sent = w->ac != NULL &&
           redisAsyncCommandArgv(w->ac, ignore_cb, NULL, 3, argv, lens) ==
               REDIS_OK;
    if (sent && w->pending++ == 0)
      w->last_answer_ms = sb_counters_mono_ms();
  }
  sb_buf_free(&b);
  if (!sent) {
    /* the counters' thread asks every instance to read the keys again
     * once Redis is back */
    pthread_mutex_lock(&w->c->lock);
    w->c->announce = true;
    pthread_mutex_unlock(&w->c->lock);
  }
}
