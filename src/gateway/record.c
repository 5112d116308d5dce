/* SPDX-License-Identifier: MIT */
/*
 * What a call costs and what the ledger keeps of it: the usage (the
 * provider's, or the one estimate when it reported none), the exact cost
 * at the endpoint's prices, the row, the key's settlement, and in
 * `durable` mode the wait for the row's commit before the answer's end
 * goes out (docs/accounts.md). Cost is computed here and nowhere else.
 */
#include "call.h"

#include <stdio.h>

#include "switchboard/access.h"
#include "switchboard/keys.h"
#include "switchboard/ledger.h"
#include "switchboard/pricing.h"

static void copy_z(char *dst, size_t cap, sb_slice_t s)
{
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  if (n > 0)
    memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

void sb_record_estimate(sb_call_t *c)
{
  if (c->usage_known)
    return;
  /* No usage from the provider (it was cut off, or does not report it):
   * about four bytes a token, marked as an estimate in the ledger. */
  c->usage.prompt = sb_usage_estimate(c->req_raw.len);
  c->usage.completion = sb_usage_estimate(c->content_bytes);
}

void sb_record_cost(sb_call_t *c)
{
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);
  if (c->cost_pico == 0 && c->usage_json.len > 0) {
    /* An unpriced pass-through model behind a provider that reports its
     * own cost (OpenRouter): use the provider's figure. */
    sb_arena_t a;
    sb_json_t *u;
    sb_arena_init(&a, 4096, 0);
    if (sb_json_parse(&a, c->usage_json.ptr, c->usage_json.len, 0, &u, NULL) ==
        SB_OK) {
      const sb_json_t *cost = sb_json_get(u, "cost");
      int64_t p;
      if (sb_json_is(cost, SB_JSON_NUMBER) &&
          sb_price_parse(cost->raw, &p) == SB_OK)
        c->cost_pico = p;
    }
    sb_arena_destroy(&a);
  }
}

sb_slice_t sb_record_cost_text(sb_call_t *c)
{
  char buf[40];
  size_t n = sb_cost_format(c->cost_pico, buf, sizeof(buf));
  return sb_arena_slice_dup(c->arena, sb_slice(buf, n));
}

void sb_record(sb_call_t *c, int status, const char *error)
{
  sb_ledger_row_t row;
  memset(&row, 0, sizeof(row));
  copy_z(row.id, sizeof(row.id), sb_slice_z(c->id));
  row.created_ms = c->created * 1000;
  copy_z(row.api, sizeof(row.api), sb_slice_z(c->api));
  copy_z(row.key_label, sizeof(row.key_label), c->key_label);
  copy_z(row.agent, sizeof(row.agent), c->agent);
  copy_z(row.app, sizeof(row.app), c->app);
  copy_z(row.requested_model, sizeof(row.requested_model), c->requested_model);
  copy_z(row.model, sizeof(row.model), c->route.model_id);
  if (c->route.provider != NULL)
    copy_z(row.provider, sizeof(row.provider),
           sb_slice_z(c->route.provider->name));
  copy_z(row.upstream_model, sizeof(row.upstream_model),
         c->route.upstream_model);
  row.usage = c->usage;
  row.usage_estimated = !c->usage_known;
  row.cost_pico = c->cost_pico;
  uint64_t now = sb_now_ns();
  row.latency_ms = (uint32_t)((now - c->t_start) / 1000000);
  row.ttft_ms = c->t_first_token != 0
                    ? (uint32_t)((c->t_first_token - c->t_start) / 1000000)
                    : 0;
  row.status = status;
  sb_call_wait_end(c);
  uint64_t total = now - c->t_start;
  uint64_t own = total > c->wait_ns ? total - c->wait_ns : 0;
  c->overhead_ns = own;
  row.overhead_us = (uint32_t)SB_MIN(own / 1000, UINT32_MAX);
  sb_worker_note_overhead(c->worker, own);
  if (!c->committed)
    sb_http_add_head_num(c->x, "X-Switchboard-Overhead-Us", row.overhead_us);
  const char *finish = c->cancelled ? "cancelled" : sb_finish_name(c->finish);
  copy_z(row.finish_reason, sizeof(row.finish_reason),
         sb_slice_z(finish != NULL ? finish : ""));
  copy_z(row.native_finish_reason, sizeof(row.native_finish_reason),
         sb_slice_z(c->native_finish));
  row.streamed = c->stream;
  row.cancelled = c->cancelled;
  if (error != NULL)
    copy_z(row.error, sizeof(row.error), sb_slice_z(error));
  if (c->plan != NULL && c->plan->escalate && status == 200) {
    const sb_plan_t *pl = c->plan;
    row.rung = pl->cands[pl->cur].model_rank + 1;
    row.escalation_pico = pl->discarded_pico;
    /* the top rung: the plan's last model, at its first endpoint */
    size_t top = pl->n - 1;
    while (top > 0 &&
           pl->cands[top - 1].model_rank == pl->cands[pl->n - 1].model_rank)
      top--;
    row.top_rung_pico = sb_cost_pico(&pl->cands[top].route.price, &c->usage);
  }
  c->final_status = status;
  sb_admit_key_hash(c, row.key_hash, sizeof(row.key_hash));
  if (c->gw->ledger != NULL)
    c->ledger_seq = sb_ledger_record(c->gw->ledger, &row);
  /* after the row: a settlement the shared counters cannot take now waits
   * for the row's commit (counters.h) */
  sb_admit_settle(c);
}

/* `durable`, the store refused the row: the answer is not delivered. The
 * client gets a 503 (a stream: an error event before its end), the row
 * records a 503 that billed nothing (ledger.h), and the spend settled for
 * the call is given back: a retry is a new generation, billed once. */
static void not_delivered(sb_call_t *c)
{
  static const char msg[] =
      "ledger unavailable: the response could not be recorded, so it is "
      "not delivered and not billed; retry later";
  sb_admit_refund(c);
  c->final_status = 503;
  c->x->error_type = "ledger_unavailable";
  if (!c->deferred) {
    /* the stream's end again, now with the error */
    sb_answer_end_t end;
    memset(&end, 0, sizeof(end));
    end.finish = SB_FINISH_ERROR;
    end.usage = &c->usage;
    end.usage_estimated = !c->usage_known;
    end.cost = SB_SLICE_LIT("0");
    end.error_status = 503;
    end.error_type = "ledger_unavailable";
    end.error_message = SB_SLICE_LIT(msg);
    sb_buf_reset(&c->out);
    if (c->enc->end(c->enc_state, &end, &c->out) == SB_OK)
      sb_call_flush(c);
    sb_http_stream_end(c->x);
    return;
  }
  sb_answer_error_t ae = {.status = 503, .type = "ledger_unavailable",
                          .message = SB_SLICE_LIT(msg)};
  int status = 503;
  sb_buf_t b;
  sb_buf_init(&b, 64 * 1024);
  c->door->door->encoder->error(&ae, &status, &b);
  sb_http_header_t h = {SB_SLICE_LIT("X-Generation-Id"), sb_slice_z(c->id)};
  sb_http_respond(c->x, status, &h, 1, "application/json", sb_buf_slice(&b));
  sb_buf_free(&b);
}

/* The row committed (or could not be): the answer's end goes out. */
static void committed_cb(void *data)
{
  sb_call_t *c = data;
  const sb_ledger_waiter_t *w = c->commit_wait;
  if (w->status != SB_OK) {
    not_delivered(c);
  } else if (c->deferred) {
    sb_call_respond_body(c, c->deferred_body);
  } else {
    sb_call_flush(c);
    sb_http_stream_end(c->x);
  }
}

bool sb_record_defer(sb_call_t *c, sb_slice_t body)
{
  if (!sb_ledger_is_durable(c->gw->ledger) || c->ledger_seq == 0)
    return false;
  sb_ledger_waiter_t *w = sb_arena_calloc(c->arena, sizeof(*w));
  if (w == NULL)
    return false;
  if (body.ptr != NULL) {
    c->deferred_body = sb_arena_slice_dup(c->arena, body);
    if (c->deferred_body.ptr == NULL)
      return false;
    c->deferred = true;
  }
  c->commit_wait = w;
  return sb_ledger_when_committed(c->gw->ledger, &c->worker->loop, w,
                                  c->ledger_seq, committed_cb, c) == SB_OK;
}

/* ---- the access record (ops.h) ------------------------------------------ */

void sb_record_describe(sb_http_exchange_t *x, sb_access_t *a)
{
  const sb_call_t *c = x->data;
  if (c == NULL)
    return;
  a->id = sb_slice_z(c->id);
  a->door = sb_slice_z(c->api);
  a->operation = c->embeddings ? SB_SLICE_LIT("embeddings")
                               : SB_SLICE_LIT("chat");
  if (c->final_status != 0)
    a->status = c->final_status;
  a->model_requested = c->requested_model;
  if (c->route.provider != NULL) {
    a->model = c->route.model_id;
    a->provider = sb_slice_z(c->route.provider->name);
  }
  a->key_label = c->key_label.len > 0 ? c->key_label : a->key_label;
  a->agent = c->agent;
  a->stream = c->stream;
  a->usage = c->usage;
  a->usage_estimated = !c->usage_known && c->final_status != 0 &&
                       (c->usage.prompt != 0 || c->usage.completion != 0);
  a->cost_pico = c->cost_pico;
  a->overhead_ns = c->overhead_ns;
  if (c->t_first_token != 0 && c->t_first_token >= c->t_start)
    a->ttft_ns = c->t_first_token - c->t_start;
  const sb_plan_t *pl = c->plan;
  if (pl != NULL) {
    a->attempts = pl->attempts;
    if (pl->attempts > 0) {
      uint64_t now = sb_now_ns();
      a->upstream_ns = now - pl->att_start_ns;
      if (pl->att_first_ns >= pl->att_start_ns)
        a->upstream_ttfb_ns = pl->att_first_ns - pl->att_start_ns;
    }
  }
  const char *finish = c->cancelled ? "cancelled" : sb_finish_name(c->finish);
  if (c->final_status != 0 && finish != NULL)
    a->finish_reason = sb_slice_z(finish);
  sb_call_trace_describe(c, a);
}
