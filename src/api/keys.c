/* SPDX-License-Identifier: MIT */
/*
 * Key management and credits, in OpenRouter's shapes (docs/accounts.md):
 *   POST   /api/v1/keys            create; the secret is returned once
 *   GET    /api/v1/keys            list (?include_disabled=true)
 *   GET    /api/v1/keys/{hash}     one key
 *   PATCH  /api/v1/keys/{hash}     change name, limits, disabled, ...
 *   DELETE /api/v1/keys/{hash}     revoke: refused at once on every worker
 *   GET    /api/v1/key, /api/v1/auth/key   the calling key
 *   GET    /api/v1/credits         totals
 * Managing keys needs the admin key (or local mode). Amounts are USD,
 * written from integer picodollars without rounding. A change is answered
 * once the store has it; if the store refuses it, it is undone and the
 * answer is a 503 (docs/accounts.md, "When the store fails"). With shared
 * counters (several instances, counters.h) a stored change is announced
 * to the other instances, and what a key has spent is read from Redis
 * before it is shown.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "endpoint.h"
#include "key_api.h"
#include "switchboard/api.h"
#include "switchboard/counters.h"
#include "switchboard/json.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"
#include "switchboard/pricing.h"

static sb_keys_t *table(sb_http_exchange_t *x)
{
  return sb_ledger_keys(x->worker->gw->ledger);
}

/* ---- waiting for the store ---------------------------------------------- */

typedef enum { CHANGE_CREATE, CHANGE_UPDATE, CHANGE_REVOKE } change_kind_t;

/* A key change waiting for its commit (the wait runs on libuv's pool). */
typedef struct {
  sb_ledger_waiter_t w;
  sb_http_exchange_t *x;
  change_kind_t kind;
  sb_key_t *k;                     /* a reference */
  sb_key_record_t before, written; /* CHANGE_UPDATE */
  char secret[96];                 /* CHANGE_CREATE */
  bool aborted;
} change_t;

static void change_abort(sb_http_exchange_t *x)
{
  change_t *ch = x->data;
  ch->aborted = true;
}

/* The store refused the change: it never happened. */
static void undo_change(change_t *ch)
{
  sb_keys_t *t = table(ch->x);
  switch (ch->kind) {
  case CHANGE_CREATE:
    sb_keys_forget(t, ch->k);
    break;
  case CHANGE_UPDATE:
    sb_key_undo_update(ch->k, &ch->written, &ch->before, sb_wall_ms());
    break;
  case CHANGE_REVOKE:
    sb_keys_restore(t, ch->k);
    break;
  }
}

/* A stored change: the other instances learn of it. */
static void announce(change_t *ch)
{
  sb_key_record_t rec;
  pthread_mutex_lock(&ch->k->lock);
  rec = ch->k->rec;
  pthread_mutex_unlock(&ch->k->lock);
  sb_counters_publish(ch->x->worker->counters, &rec,
                      ch->kind == CHANGE_REVOKE);
}

static void change_done(void *data)
{
  change_t *ch = data;
  sb_http_exchange_t *x = ch->x;
  bool stored = ch->w.status == SB_OK;
  if (!stored)
    undo_change(ch);
  else
    announce(ch);
  if (ch->aborted) {
    /* the client left; the exchange waited for us to finish it */
    sb_http_respond(x, 499, NULL, 0, NULL, SB_NULL_SLICE);
  } else if (!stored) {
    sb_ledger_stats_t st;
    x->on_abort = NULL;
    sb_ledger_stats(x->worker->gw->ledger, &st);
    sb_api_error(x, 503, "ledger_unavailable",
                 "ledger unavailable: the store refuses writes (%s); the key "
                 "was not %s",
                 st.reason[0] != '\0' ? st.reason : "closing",
                 ch->kind == CHANGE_CREATE   ? "created"
                 : ch->kind == CHANGE_UPDATE ? "changed"
                                             : "deleted");
  } else {
    x->on_abort = NULL;
    if (ch->kind == CHANGE_REVOKE)
      sb_api_json(x, 200, SB_SLICE_LIT("{\"deleted\":true}"));
    else
      sb_keyjson_reply_key(x, ch->kind == CHANGE_CREATE ? 201 : 200, ch->k,
                ch->kind == CHANGE_CREATE ? ch->secret : NULL);
  }
  sb_key_unref(ch->k);
  OPENSSL_cleanse(ch->secret, sizeof(ch->secret));
  free(ch);
}

/* Answer `ch` (which owns a reference to its key) once the store has the
 * change with sequence `seq`. */
static void await_store(sb_http_exchange_t *x, change_t *ch, uint64_t seq)
{
  ch->x = x;
  x->data = ch;
  x->on_abort = change_abort;
  if (seq == 0 ||
      sb_ledger_when_committed(x->worker->gw->ledger, &x->worker->loop, &ch->w,
                               seq, change_done, ch) != SB_OK) {
    ch->w.status = SB_ERROR;
    change_done(ch);
  }
}

static change_t *change_new(sb_http_exchange_t *x, change_kind_t kind)
{
  change_t *ch = calloc(1, sizeof(*ch));
  if (ch == NULL)
    sb_api_error(x, 500, "server", "out of memory");
  else
    ch->kind = kind;
  return ch;
}

/* k->saved_seq, read under the key's lock. */
static uint64_t saved_seq(sb_key_t *k)
{
  pthread_mutex_lock(&k->lock);
  uint64_t seq = k->saved_seq;
  pthread_mutex_unlock(&k->lock);
  return seq;
}

/* ---- endpoints ---------------------------------------------------------- */

static void create_key(sb_http_exchange_t *x)
{
  const sb_json_t *body = sb_api_parse_json(x, SB_API_OPENAI);
  if (body == NULL)
    return;
  sb_key_record_t r;
  char err[256];
  memset(&r, 0, sizeof(r));
  r.limit_pico = -1;
  if (sb_keybody_apply(&x->arena, body, &r, true, err, sizeof(err)) != SB_OK) {
    sb_api_error(x, 400, "invalid_request", "%s", err);
    return;
  }
  r.created_ms = r.updated_ms = sb_wall_ms();
  change_t *ch = change_new(x, CHANGE_CREATE);
  if (ch == NULL)
    return;
  sb_key_t *k = sb_keys_create(table(x), &r, ch->secret, sizeof(ch->secret));
  if (k == NULL) {
    free(ch);
    sb_api_error(x, 500, "server", "could not create the key");
    return;
  }
  ch->k = k;
  await_store(x, ch, saved_seq(k));
}

/* ---- what keys spent, across instances ---------------------------------- */

/* An answer that waits for the keys' spend from the shared counters. */
typedef struct fresh {
  sb_http_exchange_t *x;
  sb_key_t **keys; /* references */
  size_t n;
  bool admin;
  void (*answer)(struct fresh *f);
} fresh_t;

static void fresh_done(void *data)
{
  fresh_t *f = data;
  f->answer(f);
  for (size_t i = 0; i < f->n; i++)
    sb_key_unref(f->keys[i]);
  free(f->keys);
  free(f);
}

/* Answer with `answer` once the spend of `keys` (references, taken over;
 * a malloc'd array) is up to date. */
static void when_fresh(sb_http_exchange_t *x, sb_key_t **keys, size_t n,
                       bool admin, void (*answer)(fresh_t *f))
{
  fresh_t *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    for (size_t i = 0; i < n; i++)
      sb_key_unref(keys[i]);
    free(keys);
    sb_api_error(x, 500, "server", "out of memory");
    return;
  }
  *f = (fresh_t){x, keys, n, admin, answer};
  if (sb_counters_refresh(x->worker->counters, keys, n, fresh_done, f) !=
      SB_OK)
    fresh_done(f);
}

/* References to every key (`all`), or to the enabled ones. */
static sb_key_t **every_key(sb_http_exchange_t *x, bool all, size_t *n)
{
  size_t m = 0;
  sb_keys_t *t = table(x);
  sb_key_record_t *recs = sb_keys_snapshot(t, &m);
  sb_key_t **keys = recs != NULL ? calloc(m + 1, sizeof(*keys)) : NULL;
  *n = 0;
  for (size_t i = 0; keys != NULL && i < m; i++) {
    if (recs[i].disabled && !all)
      continue;
    sb_key_t *k = sb_keys_lookup_hash(t, sb_slice_z(recs[i].hash));
    if (k != NULL) /* not deleted meanwhile */
      keys[(*n)++] = k;
  }
  free(recs);
  return keys;
}

static void answer_list(fresh_t *f)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_api_data_begin(&b, &w, 64u << 20);
  sb_jw_arr_begin(&w);
  int64_t now = sb_wall_ms();
  for (size_t i = 0; i < f->n; i++) {
    sb_key_view_t v;
    sb_key_view(f->keys[i], now, &v);
    sb_keyjson_key(&w, &v, false);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  sb_api_data_reply(f->x, 200, &b, &w);
}

static void list_keys(sb_http_exchange_t *x)
{
  sb_slice_t inc = sb_http_query_param(&x->arena, x->req.query, "include_disabled");
  bool include_disabled = SB_SLICE_IS(inc, "true") || SB_SLICE_IS(inc, "1");
  size_t n = 0;
  sb_key_t **keys = every_key(x, include_disabled, &n);
  if (keys == NULL) {
    sb_api_error(x, 500, "server", "out of memory");
    return;
  }
  when_fresh(x, keys, n, true, answer_list);
}

static void answer_key(fresh_t *f)
{
  sb_keyjson_reply_key(f->x, 200, f->keys[0], NULL);
}

/* One key (a reference, taken over), answered up to date. */
static void show_key(sb_http_exchange_t *x, sb_key_t *k)
{
  sb_key_t **keys = malloc(sizeof(*keys));
  if (keys == NULL) {
    sb_key_unref(k);
    sb_api_error(x, 500, "server", "out of memory");
    return;
  }
  keys[0] = k;
  when_fresh(x, keys, 1, true, answer_key);
}

static void update_key(sb_http_exchange_t *x, sb_key_t *k)
{
  const sb_json_t *body = sb_api_parse_json(x, SB_API_OPENAI);
  if (body == NULL)
    return;
  char err[256];
  sb_key_record_t r, before, written;
  int64_t now = sb_wall_ms();
  /* Read, change and write back under the key's lock, so two PATCHes at
   * once cannot undo each other's fields. */
  pthread_mutex_lock(&k->lock);
  r = before = k->rec;
  sb_status_t rc = sb_keybody_apply(&x->arena, body, &r, false, err, sizeof(err));
  if (rc == SB_OK) {
    /* Only the fields a body can change; hash, label and created stay. */
    memcpy(k->rec.name, r.name, sizeof(r.name));
    k->rec.limit_pico = r.limit_pico;
    k->rec.limit_reset = r.limit_reset;
    k->rec.disabled = r.disabled;
    k->rec.expires_ms = r.expires_ms;
    memcpy(k->rec.models, r.models, sizeof(r.models));
    k->rec.rpm = r.rpm;
    k->rec.tpm = r.tpm;
    memcpy(k->rec.escalation, r.escalation, sizeof(r.escalation));
    k->rec.updated_ms = now;
  }
  written = k->rec;
  pthread_mutex_unlock(&k->lock);
  if (rc != SB_OK) {
    sb_api_error(x, 400, "invalid_request", "%s", err);
    return;
  }
  change_t *ch = change_new(x, CHANGE_UPDATE);
  if (ch == NULL) {
    sb_key_undo_update(k, &written, &before, now);
    return;
  }
  sb_key_apply_limits(k, now);
  sb_key_ref(k);
  ch->k = k;
  ch->before = before;
  ch->written = written;
  await_store(x, ch, sb_keys_save(table(x), k));
}

static bool need_admin(sb_http_exchange_t *x, const sb_identity_t *who)
{
  if (who->admin)
    return true;
  sb_api_error(x, 403, "permission_denied",
               "managing keys needs the admin key");
  return false;
}

void sb_api_keys(sb_http_exchange_t *x, const sb_identity_t *who,
                 sb_slice_t rest)
{
  unsigned m = x->req.method;
  if (!need_admin(x, who))
    return;
  if (rest.len > 0 && rest.ptr[rest.len - 1] == '/')
    rest.len--;
  if (rest.len == 0) {
    if (m == HTTP_POST)
      create_key(x);
    else if (m == HTTP_GET || m == HTTP_HEAD)
      list_keys(x);
    else
      sb_api_error(x, 405, "invalid_request", "method not allowed (use GET or POST)");
    return;
  }
  sb_slice_t hash = sb_slice(rest.ptr + 1, rest.len - 1); /* after '/' */
  if (m == HTTP_DELETE) {
    change_t *ch = change_new(x, CHANGE_REVOKE);
    if (ch == NULL)
      return;
    ch->k = sb_keys_remove(table(x), hash);
    if (ch->k == NULL) {
      free(ch);
      sb_api_error(x, 404, "not_found", "no key with hash '%.*s'",
                   (int)SB_MIN(hash.len, 80), hash.ptr);
      return;
    }
    await_store(x, ch, saved_seq(ch->k));
    return;
  }
  if (m != HTTP_GET && m != HTTP_HEAD && m != HTTP_PATCH) {
    sb_api_error(x, 405, "invalid_request",
                 "method not allowed (use GET, PATCH or DELETE)");
    return;
  }
  sb_key_t *k = sb_keys_lookup_hash(table(x), hash);
  if (k == NULL) {
    sb_api_error(x, 404, "not_found", "no key with hash '%.*s'",
                 (int)SB_MIN(hash.len, 80), hash.ptr);
    return;
  }
  if (m == HTTP_PATCH) {
    update_key(x, k);
    sb_key_unref(k);
  } else {
    show_key(x, k);
  }
}

static void answer_self(fresh_t *f)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_api_data_begin(&b, &w, 64 * 1024);
  sb_key_view_t v;
  sb_key_view(f->keys[0], sb_wall_ms(), &v);
  sb_keyjson_key(&w, &v, true);
  sb_jw_obj_end(&w);
  sb_api_data_reply(f->x, 200, &b, &w);
}

void sb_api_key_self(sb_http_exchange_t *x, const sb_identity_t *who)
{
  if (who->key != NULL) {
    sb_key_t **keys = malloc(sizeof(*keys));
    if (keys == NULL) {
      sb_api_error(x, 500, "server", "out of memory");
      return;
    }
    sb_key_ref(who->key);
    keys[0] = who->key;
    when_fresh(x, keys, 1, false, answer_self);
    return;
  }
  sb_buf_t b;
  sb_jw_t w;
  sb_api_data_begin(&b, &w, 64 * 1024);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("label"), who->label.ptr, who->label.len);
  sb_jw_key_lit(&w, "limit");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "limit_remaining");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "limit_reset");
  sb_jw_null(&w);
  sb_keyjson_usd(&w, "usage", sb_keys_total_usage(table(x)));
  sb_jw_key_lit(&w, "is_free_tier");
  sb_jw_bool(&w, false);
  sb_jw_key_lit(&w, "is_management_key");
  sb_jw_bool(&w, who->admin);
  sb_jw_key_lit(&w, "is_provisioning_key");
  sb_jw_bool(&w, who->admin);
  sb_jw_key_lit(&w, "expires_at");
  sb_jw_null(&w);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  sb_api_data_reply(x, 200, &b, &w);
}

static void answer_credits(fresh_t *f)
{
  sb_buf_t b;
  sb_jw_t w;
  int64_t credits, usage;
  if (!f->admin) {
    sb_key_view_t v;
    sb_key_view(f->keys[0], sb_wall_ms(), &v);
    credits = v.rec.limit_pico >= 0 ? v.rec.limit_pico : 0;
    usage = v.rec.limit_pico >= 0 ? v.period_used : v.usage_total;
  } else {
    credits = sb_keys_total_limits(table(f->x));
    usage = sb_keys_total_usage(table(f->x));
  }
  sb_api_data_begin(&b, &w, 4096);
  sb_jw_obj_begin(&w);
  sb_keyjson_usd(&w, "total_credits", credits);
  sb_keyjson_usd(&w, "total_usage", usage);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  sb_api_data_reply(f->x, 200, &b, &w);
}

void sb_api_credits(sb_http_exchange_t *x, const sb_identity_t *who)
{
  size_t n = 1;
  sb_key_t **keys;
  if (who->key != NULL) {
    keys = malloc(sizeof(*keys));
    if (keys != NULL) {
      sb_key_ref(who->key);
      keys[0] = who->key;
    }
  } else {
    keys = every_key(x, true, &n);
  }
  if (keys == NULL) {
    sb_api_error(x, 500, "server", "out of memory");
    return;
  }
  when_fresh(x, keys, n, who->key == NULL, answer_credits);
}
