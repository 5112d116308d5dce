/* SPDX-License-Identifier: MIT */
/*
 * Admission and settlement of a call against its client key; see call.h
 * (sb_admit, sb_admit_settle) and docs/accounts.md. The accounts answer
 * the questions (may this key, reserve, settle); the call answers the
 * client.
 *
 * The reservation is the call's worst case at the routed endpoint's
 * prices: the estimated prompt tokens (request bytes / 4 plus a margin:
 * an estimate, since the gateway does not run the provider's tokenizer)
 * plus the completion cap (`max_completion_tokens` / `max_tokens`, else
 * the model's context length, else the `default_max_tokens` setting),
 * priced at the higher of the completion and reasoning prices, plus the
 * per-request price.
 *
 * With shared counters (counters.h) the key's windows and budget are
 * checked in Redis: the answer may come later, on the worker's loop, and
 * the call waits for it (a client that leaves meanwhile ends the call
 * once the answer is in, releasing what was reserved).
 */
#include <inttypes.h>
#include <stdio.h>

#include "call.h"
#include "switchboard/counters.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"
#include "switchboard/limits.h"
#include "switchboard/log.h"

static uint64_t completion_cap(const sb_call_t *c)
{
  if (!c->embeddings && c->req.max_tokens > 0)
    return (uint64_t)c->req.max_tokens;
  if (c->embeddings)
    return 0;
  if (c->route.endpoint != NULL && c->route.endpoint->context_length > 0)
    return c->route.endpoint->context_length;
  if (c->route.model != NULL && c->route.model->context_length > 0)
    return c->route.model->context_length;
  return sb_gateway_config(c->x)->default_max_tokens;
}

static int64_t worst_case(const sb_price_t *p, uint64_t prompt,
                          uint64_t completion)
{
  sb_usage_t u;
  memset(&u, 0, sizeof(u));
  u.prompt = prompt;
  u.completion = completion;
  int64_t cost = sb_cost_pico(p, &u);
  if (p->has_reasoning) {
    u.reasoning = completion;
    int64_t r = sb_cost_pico(p, &u);
    if (r > cost)
      cost = r;
  }
  return cost;
}

static void usd(int64_t pico, char *buf, size_t cap)
{
  char tmp[40];
  sb_cost_format(pico < 0 ? 0 : pico, tmp, sizeof(tmp));
  snprintf(buf, cap, "%s", tmp);
}

/* OpenRouter's rate-limit headers, on the 429 only (as OpenRouter does):
 * X-RateLimit-Reset is when the window next frees up, in ms since the
 * epoch. */
static void rate_headers(sb_call_t *c, const sb_admit_info_t *info,
                         int64_t now_ms)
{
  sb_http_add_head(
      c->x,
      "X-RateLimit-Limit: %" PRIu32 "\r\nX-RateLimit-Remaining: %" PRIu32
      "\r\nX-RateLimit-Reset: %" PRId64 "\r\n",
      info->limit, info->remaining,
      (now_ms / 1000 + (int64_t)info->reset_s) * 1000);
}

/* The counters answered `a`: SB_OK when admitted; else the call is
 * answered (SB_ERROR). */
static sb_status_t answer(sb_call_t *c, const sb_counters_admission_t *a,
                          int64_t now)
{
  uint64_t prompt = sb_estimate_prompt_tokens(c->req_raw.len);
  uint64_t completion = completion_cap(c);
  const sb_admit_info_t *info = &a->info;
  char msg[512];
  sb_call_error_t e;
  memset(&e, 0, sizeof(e));
  switch (a->result) {
  case SB_ADMIT_OK:
    c->admitted = true;
    c->reserved_pico = a->ticket.reserved;
    if (c->route.price.unknown && info->remaining_pico >= 0) {
      /* Its worst case cannot be reserved: a key with a credit limit may
       * only use models whose price is known (docs/catalog.md). The call
       * settles as refused, giving the reservation back. */
      snprintf(msg, sizeof(msg),
               "model '%.*s' has no known price, so its cost cannot be "
               "reserved against this key's credit limit; use a model with "
               "a known price (GET /api/v1/models: pricing) or a key without "
               "a limit",
               (int)SB_MIN(c->route.model_id.len, 200), c->route.model_id.ptr);
      sb_call_fail(c, 403, "permission_denied", msg);
      return SB_ERROR;
    }
    return SB_OK;
  case SB_ADMIT_DISABLED:
    sb_call_fail(c, 401, "authentication", "this API key is disabled");
    return SB_ERROR;
  case SB_ADMIT_EXPIRED:
    sb_call_fail(c, 401, "authentication", "this API key has expired");
    return SB_ERROR;
  case SB_ADMIT_MODEL:
    snprintf(msg, sizeof(msg), "this API key may not use model '%.*s'",
             (int)SB_MIN(c->route.model_id.len, 200), c->route.model_id.ptr);
    sb_call_fail(c, 403, "permission_denied", msg);
    return SB_ERROR;
  case SB_ADMIT_RPM:
  case SB_ADMIT_TPM: {
    char ra[16];
    snprintf(ra, sizeof(ra), "%" PRIu32,
             info->retry_after_s > 0 ? info->retry_after_s : 1);
    snprintf(msg, sizeof(msg),
             "Rate limit exceeded: this key allows %" PRIu32 " %s per minute; "
             "retry in %s s",
             info->limit, a->result == SB_ADMIT_RPM ? "requests" : "tokens",
             ra);
    rate_headers(c, info, now);
    e.status = 429;
    e.type = "rate_limit_exceeded";
    e.message = sb_slice_z(msg);
    e.retry_after = sb_arena_slice_dup(c->arena, sb_slice_z(ra));
    sb_call_fail_with(c, &e);
    return SB_ERROR;
  }
  case SB_ADMIT_CREDITS: {
    /* OpenRouter's wording, with what this key can afford. */
    int64_t left = info->remaining_pico < 0 ? 0 : info->remaining_pico;
    int64_t fixed = worst_case(&c->route.price, prompt, 0);
    int64_t per = c->route.price.completion;
    if (c->route.price.has_reasoning && c->route.price.reasoning > per)
      per = c->route.price.reasoning;
    int64_t afford = per > 0 && left > fixed ? (left - fixed) / per : 0;
    char l[40];
    usd(left, l, sizeof(l));
    snprintf(msg, sizeof(msg),
             "This request requires more credits, or fewer max_tokens. You "
             "requested up to %" PRIu64 " tokens, but can only afford %" PRId64
             ". This key has $%s of its credit limit left.",
             completion, afford, l);
    sb_call_fail(c, 402, "payment_required", msg);
    return SB_ERROR;
  }
  case SB_ADMIT_UNAVAILABLE:
    e.status = 503;
    e.type = "counters_unavailable";
    e.message = sb_slice_z(a->why);
    sb_call_fail_with(c, &e);
    return SB_ERROR;
  }
  return SB_ERROR;
}

static void admitted_cb(sb_counters_admission_t *a, void *data)
{
  sb_call_t *c = data;
  c->admitting = false;
  if (c->x->aborted && a->result == SB_ADMIT_OK) {
    /* the client left while the counters answered: the call ends here,
     * and what was reserved is released */
    c->admitted = true;
    c->reserved_pico = a->ticket.reserved;
    sb_call_finish_cancelled(c);
    return;
  }
  if (answer(c, a, sb_wall_ms()) == SB_OK)
    sb_attempt_admitted(c);
}

sb_status_t sb_admit(sb_call_t *c)
{
  char why[320];
  if (c->gw->ledger != NULL &&
      sb_ledger_admit(c->gw->ledger, why, sizeof(why)) != SB_OK) {
    /* Nothing goes upstream; no row is recorded either: the ledger cannot
     * take one (switchboard_ledger_refused_total counts these). */
    sb_call_error_t e;
    memset(&e, 0, sizeof(e));
    e.status = 503;
    e.type = "ledger_unavailable";
    e.message = sb_slice_z(why);
    sb_call_refuse(c, &e);
    return SB_ERROR;
  }
  sb_key_t *k = c->x->principal;
  if (k == NULL)
    return SB_OK;
  c->key = k;
  sb_counters_admission_t *a = sb_arena_calloc(c->arena, sizeof(*a));
  if (a == NULL) {
    sb_call_fail(c, 500, "server", "out of memory");
    return SB_ERROR;
  }
  c->admission = a;
  uint64_t prompt = sb_estimate_prompt_tokens(c->req_raw.len);
  int64_t reserve = worst_case(&c->route.price, prompt, completion_cap(c));
  int64_t now = sb_wall_ms();
  if (sb_counters_admit(c->worker->counters, k, c->route.model_id, reserve,
                        now, a, admitted_cb, c) == SB_AGAIN) {
    c->admitting = true;
    return SB_AGAIN;
  }
  return answer(c, a, now);
}

void sb_admit_key_hash(const sb_call_t *c, char *key_hash, size_t cap)
{
  if (cap > 0)
    key_hash[0] = '\0';
  if (c->key != NULL)
    snprintf(key_hash, cap, "%s", c->key->rec.hash); /* immutable */
}

void sb_admit_settle(sb_call_t *c)
{
  sb_keys_t *keys = sb_ledger_keys(c->gw->ledger);
  int64_t now = sb_wall_ms();
  if (c->key == NULL) {
    if (keys != NULL)
      sb_keys_add_unkeyed(keys, c->cost_pico);
    return;
  }
  sb_counters_ticket_t none;
  memset(&none, 0, sizeof(none));
  if (!c->admitted) {
    /* Refused before going upstream: nothing reserved, nothing spent;
     * still a request (and a ledger row) of the key's. */
    sb_counters_settle(c->worker->counters, keys, c->key, &none, 0, 0,
                       c->ledger_seq, now);
    return;
  }
  uint64_t tokens = c->usage.prompt + c->usage.completion;
  if (c->cost_pico > c->reserved_pico && c->reserved_pico > 0)
    SB_WARN("call %s cost %" PRId64 " pico, more than its reservation of %"
            PRId64 " (the prompt estimate was low)",
            c->id, c->cost_pico, c->reserved_pico);
  sb_counters_settle(c->worker->counters, keys, c->key, &c->admission->ticket,
                     c->cost_pico, tokens, c->ledger_seq, now);
  c->reserved_pico = 0;
  c->admitted = false;
}

void sb_admit_refund(sb_call_t *c)
{
  sb_counters_ticket_t none;
  memset(&none, 0, sizeof(none));
  sb_counters_refund(c->worker->counters, sb_ledger_keys(c->gw->ledger),
                     c->key, c->admission != NULL ? &c->admission->ticket
                                                  : &none,
                     c->cost_pico, c->ledger_seq, sb_wall_ms());
}
