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
 * answer is a 503 (docs/accounts.md, "When the store fails").
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "switchboard/api.h"
#include "switchboard/json.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"
#include "switchboard/pricing.h"

static sb_keys_t *table(sb_http_exchange_t *x)
{
  return sb_ledger_keys(x->worker->gw->ledger);
}

static void kv_usd(sb_jw_t *w, const char *k, int64_t pico)
{
  char buf[40];
  size_t n = sb_cost_format(pico < 0 ? 0 : pico, buf, sizeof(buf));
  sb_jw_key(w, k, strlen(k));
  sb_jw_raw(w, buf, n);
}

static void kv_time(sb_jw_t *w, const char *k, int64_t ms)
{
  sb_jw_key(w, k, strlen(k));
  if (ms == 0) {
    sb_jw_null(w);
    return;
  }
  char buf[40];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
  sb_jw_str(w, buf, n);
}

static void kv_strz(sb_jw_t *w, const char *k, const char *v)
{
  sb_jw_key(w, k, strlen(k));
  if (v == NULL)
    sb_jw_null(w);
  else
    sb_jw_str(w, v, strlen(v));
}

static void write_models(sb_jw_t *w, const char *list)
{
  sb_jw_key_lit(w, "models");
  if (list[0] == '\0') {
    sb_jw_null(w);
    return;
  }
  sb_jw_arr_begin(w);
  const char *p = list;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    sb_jw_str(w, p, n);
    if (e == NULL)
      break;
    p = e + 1;
  }
  sb_jw_arr_end(w);
}

/* The key's default escalation (stored as compact JSON), or null. */
static void write_escalation(sb_jw_t *w, const char *text)
{
  size_t n = strlen(text);
  sb_jw_key_lit(w, "escalation");
  if (n == 0 || sb_json_validate(text, n, 4, NULL) != SB_OK)
    sb_jw_null(w);
  else
    sb_jw_raw(w, text, n);
}

/* OpenRouter's KeyInfo, plus switchboard's rpm / tpm / models /
 * escalation. */
static void write_key(sb_jw_t *w, const sb_key_view_t *v, bool self)
{
  const sb_key_record_t *r = &v->rec;
  sb_jw_obj_begin(w);
  kv_strz(w, "hash", r->hash);
  kv_strz(w, "name", r->name);
  kv_strz(w, "label", r->label);
  sb_jw_key_lit(w, "disabled");
  sb_jw_bool(w, r->disabled);
  if (r->limit_pico >= 0) {
    kv_usd(w, "limit", r->limit_pico);
    kv_usd(w, "limit_remaining", v->remaining);
  } else {
    sb_jw_key_lit(w, "limit");
    sb_jw_null(w);
    sb_jw_key_lit(w, "limit_remaining");
    sb_jw_null(w);
  }
  kv_strz(w, "limit_reset", sb_reset_name(r->limit_reset));
  sb_jw_key_lit(w, "include_byok_in_limit");
  sb_jw_bool(w, false);
  kv_usd(w, "usage", v->usage_total);
  kv_usd(w, "usage_daily", v->usage_day);
  kv_usd(w, "usage_weekly", v->usage_week);
  kv_usd(w, "usage_monthly", v->usage_month);
  kv_usd(w, "limit_reserved", v->reserved);
  sb_jw_kv_int(w, SB_STRLIT("requests"), (int64_t)v->requests);
  sb_jw_key_lit(w, "rpm");
  if (r->rpm > 0)
    sb_jw_uint(w, r->rpm);
  else
    sb_jw_null(w);
  sb_jw_key_lit(w, "tpm");
  if (r->tpm > 0)
    sb_jw_uint(w, r->tpm);
  else
    sb_jw_null(w);
  write_models(w, r->models);
  write_escalation(w, r->escalation);
  kv_time(w, "created_at", r->created_ms);
  kv_time(w, "updated_at", r->updated_ms);
  kv_time(w, "expires_at", r->expires_ms);
  if (self) {
    /* the fields OpenRouter's /key adds */
    sb_jw_key_lit(w, "is_free_tier");
    sb_jw_bool(w, false);
    sb_jw_key_lit(w, "is_management_key");
    sb_jw_bool(w, false);
    sb_jw_key_lit(w, "is_provisioning_key");
    sb_jw_bool(w, false);
  }
  sb_jw_obj_end(w);
}

/* Start an answer {"data": ... in `b` (capped at `cap`); the caller writes
 * the value, closes the object and answers with reply(). */
static void begin_data(sb_buf_t *b, sb_jw_t *w, size_t cap)
{
  sb_buf_init(b, cap);
  sb_jw_init(w, b);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "data");
}

static void reply(sb_http_exchange_t *x, int status, sb_buf_t *b, sb_jw_t *w)
{
  if (sb_jw_status(w) != SB_OK)
    sb_api_error(x, 500, "server", "response too large");
  else
    sb_api_json(x, status, sb_buf_slice(b));
  sb_buf_free(b);
}

static void reply_key(sb_http_exchange_t *x, int status, sb_key_t *k,
                      const char *secret)
{
  sb_key_view_t v;
  sb_key_view(k, sb_wall_ms(), &v);
  sb_buf_t b;
  sb_jw_t w;
  begin_data(&b, &w, 64 * 1024);
  write_key(&w, &v, false);
  if (secret != NULL)
    kv_strz(&w, "key", secret);
  sb_jw_obj_end(&w);
  reply(x, status, &b, &w);
}

/* ---- request bodies ----------------------------------------------------- */

/* "2026-12-31T23:59:59Z", with optional fraction and "Z" / "+00:00". */
static sb_status_t parse_time(sb_slice_t s, int64_t *ms)
{
  unsigned v[6] = {0};
  static const char seps[] = "--T::";
  const unsigned widths[6] = {4, 2, 2, 2, 2, 2};
  size_t i = 0;
  for (unsigned f = 0; f < 6; f++) {
    if (f > 0) {
      if (i >= s.len || (s.ptr[i] != seps[f - 1] && !(f == 3 && s.ptr[i] == ' ')))
        return SB_ERROR;
      i++;
    }
    for (unsigned d = 0; d < widths[f]; d++, i++) {
      if (i >= s.len || s.ptr[i] < '0' || s.ptr[i] > '9')
        return SB_ERROR;
      v[f] = v[f] * 10 + (unsigned)(s.ptr[i] - '0');
    }
  }
  unsigned frac = 0, fd = 0;
  if (i < s.len && s.ptr[i] == '.') {
    for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
      if (fd < 3) {
        frac = frac * 10 + (unsigned)(s.ptr[i] - '0');
        fd++;
      }
    while (fd < 3) {
      frac *= 10;
      fd++;
    }
  }
  sb_slice_t tz = sb_slice(s.ptr + i, s.len - i);
  if (!(SB_SLICE_IS(tz, "Z") || SB_SLICE_IS(tz, "+00:00") || tz.len == 0))
    return SB_ERROR;
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
      v[4] > 59 || v[5] > 60)
    return SB_ERROR;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = (int)v[0] - 1900;
  tm.tm_mon = (int)v[1] - 1;
  tm.tm_mday = (int)v[2];
  tm.tm_hour = (int)v[3];
  tm.tm_min = (int)v[4];
  tm.tm_sec = (int)v[5];
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return SB_ERROR;
  *ms = (int64_t)t * 1000 + frac;
  return SB_OK;
}

/* Apply the members of `body` to `r`. `creating` requires a name. On error
 * writes a message into `err`. */
static sb_status_t apply_body(sb_arena_t *a, const sb_json_t *body,
                              sb_key_record_t *r, bool creating, char *err,
                              size_t errlen)
{
  static const char *const allowed[] = {
      "name", "limit", "limit_reset", "expires_at", "disabled", "rpm", "tpm",
      "models", "include_byok_in_limit", "workspace_id", "creator_user_id",
      "escalation", NULL};
  if (!sb_json_is(body, SB_JSON_OBJECT)) {
    snprintf(err, errlen, "the body must be a JSON object");
    return SB_ERROR;
  }
  for (const sb_json_t *m = body->child; m != NULL; m = m->next) {
    bool ok = false;
    for (size_t i = 0; allowed[i] != NULL; i++)
      if (sb_slice_eq(m->key, sb_slice_z(allowed[i])))
        ok = true;
    if (!ok) {
      snprintf(err, errlen, "unknown field '%.*s'", (int)SB_MIN(m->key.len, 64),
               m->key.ptr);
      return SB_ERROR;
    }
  }
  const sb_json_t *v;
  sb_slice_t s;
  if ((v = sb_json_get(body, "name")) != NULL) {
    if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
        s.len == 0 || s.len > SB_KEY_MAX_NAME ||
        memchr(s.ptr, '\0', s.len) != NULL) {
      snprintf(err, errlen, "'name' must be a string of 1 to %d bytes",
               SB_KEY_MAX_NAME);
      return SB_ERROR;
    }
    memcpy(r->name, s.ptr, s.len);
    r->name[s.len] = '\0';
  } else if (creating) {
    snprintf(err, errlen, "'name' is required");
    return SB_ERROR;
  }
  if ((v = sb_json_get(body, "limit")) != NULL) {
    int64_t pico;
    if (v->type == SB_JSON_NULL)
      r->limit_pico = -1;
    else if (v->type == SB_JSON_NUMBER && sb_price_parse(v->raw, &pico) == SB_OK)
      r->limit_pico = pico;
    else {
      snprintf(err, errlen,
               "'limit' must be null or a non-negative number of USD (at most "
               "12 decimals)");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "limit_reset")) != NULL) {
    if (v->type == SB_JSON_NULL)
      r->limit_reset = SB_RESET_NONE;
    else if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
             sb_reset_parse(s, &r->limit_reset) != SB_OK) {
      snprintf(err, errlen,
               "'limit_reset' must be null, \"daily\", \"weekly\" or \"monthly\"");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "expires_at")) != NULL) {
    if (v->type == SB_JSON_NULL)
      r->expires_ms = 0;
    else if (!sb_json_is(v, SB_JSON_STRING) || sb_json_string(a, v, &s) != SB_OK ||
             parse_time(s, &r->expires_ms) != SB_OK) {
      snprintf(err, errlen,
               "'expires_at' must be null or a UTC time like "
               "\"2026-12-31T23:59:59Z\"");
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "disabled")) != NULL) {
    if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE) {
      snprintf(err, errlen, "'disabled' must be true or false");
      return SB_ERROR;
    }
    r->disabled = v->type == SB_JSON_TRUE;
  }
  const char *const rate_fields[] = {"rpm", "tpm"};
  uint32_t *rate_out[] = {&r->rpm, &r->tpm};
  for (size_t i = 0; i < 2; i++) {
    int64_t n;
    if ((v = sb_json_getn(body, rate_fields[i], 3)) == NULL)
      continue;
    if (v->type == SB_JSON_NULL)
      *rate_out[i] = 0;
    else if (sb_json_int64(v, &n) == SB_OK && n >= 0 && n <= UINT32_MAX)
      *rate_out[i] = (uint32_t)n;
    else {
      snprintf(err, errlen, "'%s' must be null or an integer >= 0",
               rate_fields[i]);
      return SB_ERROR;
    }
  }
  if ((v = sb_json_get(body, "models")) != NULL) {
    char list[SB_KEY_MAX_MODELS + 1];
    size_t len = 0;
    if (v->type != SB_JSON_NULL && v->type != SB_JSON_ARRAY) {
      snprintf(err, errlen, "'models' must be null or a list of model ids");
      return SB_ERROR;
    }
    for (const sb_json_t *m = v->type == SB_JSON_ARRAY ? v->child : NULL;
         m != NULL; m = m->next) {
      if (!sb_json_is(m, SB_JSON_STRING) || sb_json_string(a, m, &s) != SB_OK ||
          s.len == 0 || memchr(s.ptr, ',', s.len) != NULL ||
          memchr(s.ptr, '\0', s.len) != NULL) {
        snprintf(err, errlen, "'models' must hold non-empty model ids");
        return SB_ERROR;
      }
      if (len + s.len + 1 > SB_KEY_MAX_MODELS) {
        snprintf(err, errlen, "'models' is longer than %d bytes in all",
                 SB_KEY_MAX_MODELS);
        return SB_ERROR;
      }
      if (len > 0)
        list[len++] = ',';
      memcpy(list + len, s.ptr, s.len);
      len += s.len;
    }
    memcpy(r->models, list, len);
    r->models[len] = '\0';
  }
  if ((v = sb_json_get(body, "escalation")) != NULL &&
      sb_escalation_normalize(v, r->escalation, sizeof(r->escalation), err,
                              errlen) != SB_OK)
    return SB_ERROR;
  return SB_OK;
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

static void change_done(void *data)
{
  change_t *ch = data;
  sb_http_exchange_t *x = ch->x;
  bool stored = ch->w.status == SB_OK;
  if (!stored)
    undo_change(ch);
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
      reply_key(x, ch->kind == CHANGE_CREATE ? 201 : 200, ch->k,
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
  if (apply_body(&x->arena, body, &r, true, err, sizeof(err)) != SB_OK) {
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

static void list_keys(sb_http_exchange_t *x)
{
  sb_slice_t inc = sb_http_query_param(&x->arena, x->req.query, "include_disabled");
  bool include_disabled = SB_SLICE_IS(inc, "true") || SB_SLICE_IS(inc, "1");
  size_t n = 0;
  sb_keys_t *t = table(x);
  sb_key_record_t *recs = sb_keys_snapshot(t, &n);
  if (recs == NULL) {
    sb_api_error(x, 500, "server", "out of memory");
    return;
  }
  sb_buf_t b;
  sb_jw_t w;
  begin_data(&b, &w, 64u << 20);
  sb_jw_arr_begin(&w);
  int64_t now = sb_wall_ms();
  for (size_t i = 0; i < n; i++) {
    if (recs[i].disabled && !include_disabled)
      continue;
    sb_key_t *k = sb_keys_lookup_hash(t, sb_slice_z(recs[i].hash));
    if (k == NULL)
      continue; /* deleted meanwhile */
    sb_key_view_t v;
    sb_key_view(k, now, &v);
    sb_key_unref(k);
    write_key(&w, &v, false);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  free(recs);
  reply(x, 200, &b, &w);
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
  sb_status_t rc = apply_body(&x->arena, body, &r, false, err, sizeof(err));
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
  if (m == HTTP_PATCH)
    update_key(x, k);
  else
    reply_key(x, 200, k, NULL);
  sb_key_unref(k);
}

void sb_api_key_self(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_buf_t b;
  sb_jw_t w;
  begin_data(&b, &w, 64 * 1024);
  if (who->key != NULL) {
    sb_key_view_t v;
    sb_key_view(who->key, sb_wall_ms(), &v);
    write_key(&w, &v, true);
  } else {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("label"), who->label.ptr, who->label.len);
    sb_jw_key_lit(&w, "limit");
    sb_jw_null(&w);
    sb_jw_key_lit(&w, "limit_remaining");
    sb_jw_null(&w);
    sb_jw_key_lit(&w, "limit_reset");
    sb_jw_null(&w);
    kv_usd(&w, "usage", sb_keys_total_usage(table(x)));
    sb_jw_key_lit(&w, "is_free_tier");
    sb_jw_bool(&w, false);
    sb_jw_key_lit(&w, "is_management_key");
    sb_jw_bool(&w, who->admin);
    sb_jw_key_lit(&w, "is_provisioning_key");
    sb_jw_bool(&w, who->admin);
    sb_jw_key_lit(&w, "expires_at");
    sb_jw_null(&w);
    sb_jw_obj_end(&w);
  }
  sb_jw_obj_end(&w);
  reply(x, 200, &b, &w);
}

void sb_api_credits(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_buf_t b;
  sb_jw_t w;
  int64_t credits, usage;
  if (who->key != NULL) {
    sb_key_view_t v;
    sb_key_view(who->key, sb_wall_ms(), &v);
    credits = v.rec.limit_pico >= 0 ? v.rec.limit_pico : 0;
    usage = v.rec.limit_pico >= 0 ? v.period_used : v.usage_total;
  } else {
    credits = sb_keys_total_limits(table(x));
    usage = sb_keys_total_usage(table(x));
  }
  begin_data(&b, &w, 4096);
  sb_jw_obj_begin(&w);
  kv_usd(&w, "total_credits", credits);
  kv_usd(&w, "total_usage", usage);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  reply(x, 200, &b, &w);
}
