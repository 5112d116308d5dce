/* SPDX-License-Identifier: MIT */
/*
 * A call's insides, private to src/gateway/ (doors see the opaque handle
 * of include/switchboard/call.h). One model request's life, split along
 * its seams:
 *   call.c      creating and starting it; the events of its answer on
 *               their way to the door's encoder and the client; its ends
 *   attempt.c   the endpoints to try, attempts, retries and keys, the
 *               upstream transfer and its callbacks
 *   escalate.c  cheap-first escalation (switchboard/auto)
 *   record.c    usage, cost, the ledger row and the key's settlement
 *   admit.c     admission against the caller's key (limits, budget)
 */
#ifndef SB_GATEWAY_CALL_H
#define SB_GATEWAY_CALL_H

#include "switchboard/access.h"
#include "switchboard/call.h"
#include "switchboard/codec.h"
#include "switchboard/gateway.h"
#include "switchboard/http.h"
#include "switchboard/upstream.h"

/* An error for the client, before anything was sent. */
typedef struct {
  int status;               /* 400, 404, 408, 429, 502, 503 ... */
  const char *type;         /* "provider_unavailable", ... */
  sb_slice_t message;
  sb_slice_t retry_after;   /* seconds, from the upstream's 429 */
  sb_slice_t provider_body; /* the upstream's error body, may be empty */
  long upstream_status;     /* 0 when the upstream did not answer */
} sb_call_error_t;

#define SB_CALL_MAX_TOOLS 64 /* tool calls whose arguments escalation checks */

struct sb_plan;

/* One upstream attempt of a traced call: a child span (otlp.h). */
typedef struct {
  uint8_t span_id[8];
  const sb_provider_t *provider;
  sb_slice_t model;                   /* the provider's model name */
  uint64_t start_ns, first_ns, end_ns; /* monotonic; 0: not yet */
  int status;                          /* the provider's HTTP status */
  const char *error_type;              /* NULL: it answered */
} sb_call_try_t;

/* The call's trace context (trace.h; docs/observability.md, "Traces"). */
typedef struct {
  bool on;         /* ids known: a traceparent goes upstream */
  bool own;        /* tracing is on: the gateway's own spans and ids */
  bool exported;   /* ... and sampled: its spans go to the collector */
  bool has_parent; /* the client sent a traceparent */
  uint8_t flags;
  uint8_t trace_id[16];
  uint8_t span_id[8];        /* the request's span (or the client's) */
  uint8_t parent_span_id[8]; /* the client's span */
  sb_call_try_t *tries;      /* SB_ACCESS_MAX_SPANS of them, when exported */
  size_t n_tries;
} sb_call_trace_t;

struct sb_call {
  sb_arena_t *arena; /* the exchange's */
  sb_http_exchange_t *x;
  sb_worker_t *worker;
  const sb_gateway_t *gw;
  const char *api;   /* the ledger's: "chat", "messages", "skill", ... */
  bool embeddings;   /* an embeddings call (ereq), else a chat call (req) */

  /* the door: its format, and the encoder writing the client's answer */
  const sb_codec_t *door;
  const sb_codec_encoder_t *enc;
  void *enc_state;
  sb_hub_req_t req;
  sb_hub_embed_req_t ereq;
  sb_slice_t req_raw;        /* the client's body */
  sb_slice_t requested_model;
  bool stream;
  sb_slice_t agent;          /* X-Agent, or "local" */
  sb_slice_t key_label;      /* who called */
  sb_slice_t app;            /* HTTP-Referer / X-Title */

  /* the attempt's endpoint, and its format */
  sb_route_t route;
  const sb_codec_t *codec;
  bool passthrough;          /* the provider speaks the door's format */
  sb_codec_route_t croute;
  sb_answer_names_t names;
  sb_codec_answer_t an;
  char id[48];               /* gen-... */
  int64_t created;           /* unix seconds */

  /* upstream */
  sb_upstream_t *up;
  sb_buf_t up_body;
  sb_kv_t up_headers[SB_CODEC_MAX_HEADERS + 4];
  size_t n_up_headers;
  long up_status;
  bool up_sse;
  bool up_head_seen;
  sb_buf_t up_resp;          /* a whole body, or an error body */
  char retry_after[32];
  sb_sse_parser_t sse;
  sb_arena_t scratch;        /* per upstream event */
  sb_buf_t out;              /* what the encoder wrote, not yet sent */
  const char *codec_error;   /* why the request could not be built (400) */

  /* progress */
  bool committed;            /* the client has the response head */
  bool saw_done;
  bool saw_finish;
  bool stream_failed;
  int stream_error_code;
  char stream_error[256];
  uint64_t chunks;
  uint64_t content_bytes;    /* output text, for the usage estimate */

  /* the answer, as the gateway counts it */
  sb_finish_t finish;
  char native_finish[64];    /* jtext */
  sb_usage_t usage;
  bool usage_known;
  sb_slice_t usage_json;     /* the provider's usage object, copied */
  int64_t cost_pico;
  /* what escalation looks at in a whole answer */
  bool has_text;             /* text that is not blank */
  bool has_calls;
  struct sb_call_tool {
    sb_slice_t name;
    sb_buf_t args;
  } *tools;                  /* per tool call index (SB_CALL_MAX_TOOLS),
                                when escalation checks arguments */
  size_t n_calls;

  /* keys and budgets (admit.c) */
  struct sb_key *key;        /* the client key, or NULL; the exchange owns it */
  struct sb_counters_admission *admission; /* the key's (in the arena) */
  bool admitting;            /* waiting for the shared counters' answer */
  struct sb_plan *admit_plan; /* the plan, handed over once admitted */
  bool admitted;
  int64_t reserved_pico;
  uint64_t ledger_seq;
  void *commit_wait;         /* sb_ledger_waiter_t while a durable end waits */
  sb_slice_t deferred_body;  /* a whole answer held until its row commits */
  bool deferred;

  /* the endpoints to try, retries, fallbacks (attempt.c); NULL until
   * routed */
  struct sb_plan *plan;

  /* timing */
  uint64_t t_start, t_first_token;
  uint64_t wait_ns;   /* spent waiting: providers, backoffs, a slow client */
  uint64_t wait_from; /* when the current wait began; 0 while working */
  int final_status;
  bool cancelled;
  bool finished;
  uint64_t overhead_ns; /* the gateway's own time, set by sb_record */

  sb_call_trace_t trace;

  /* the door's, told when the call has answered (sb_call_on_answered) */
  sb_call_answered_fn answered;
  void *answered_data;
};

/* The endpoints a call tries and where it is (docs/routing.md). */
typedef struct sb_plan {
  sb_candidate_t *cands; /* SB_PLAN_MAX of them, the first n filled */
  size_t n, cur;          /* candidates, the one being tried */
  unsigned retries;       /* retries of the current candidate so far */
  unsigned attempts;      /* upstream attempts of the call */
  int key;                /* provider key of the current attempt, -1 none */
  uint64_t deadline_ns;   /* no attempt starts after this; 0 = no budget */
  uint64_t att_start_ns, att_first_ns;
  uv_timer_t *timer;      /* backoff / next attempt; freed in its close cb */
  bool in_attempt;        /* failures now are the attempt's, not the call's */
  bool acquired;          /* took the endpoint's breaker */
  /* request-level timeouts (X-Switchboard-*-Timeout-Ms), 0 = none */
  uint32_t req_total_ms, req_first_ms, req_idle_ms;
  /* cheap-first escalation: candidates' model_rank is the rung */
  bool escalate;
  bool holding;           /* a stream's bytes are held until output shows */
  sb_buf_t held;          /* what the encoder wrote meanwhile */
  unsigned climbs;
  int64_t discarded_pico; /* what the rungs that did not answer cost */
  uint32_t esc_on;        /* SB_CLIMB_*: the key's conditions or the config's */
  size_t esc_head_at;     /* where the rung's lines start in extra_head */
  bool esc_head_set;
} sb_plan_t;

/* ---- call.c -------------------------------------------------------------- */

/* Waiting for a provider, a backoff or the client (the overhead clock). */
void sb_call_wait_begin(sb_call_t *c);
void sb_call_wait_end(sb_call_t *c);
/* Fail before anything was sent: a retry or fallback takes over when one
 * is left (attempt.c), else the error is recorded and answered. */
void sb_call_fail_with(sb_call_t *c, const sb_call_error_t *e);
void sb_call_fail(sb_call_t *c, int status, const char *type,
                  const char *message);
/* Refuse before admission, without a ledger row (the ledger cannot take
 * one). */
void sb_call_refuse(sb_call_t *c, const sb_call_error_t *e);
/* The provider reported an error inside its stream (status, message). */
void sb_call_stream_error(sb_call_t *c, int code, sb_slice_t message);
/* A whole answer arrived (its events are in the encoder): finish it. */
void sb_call_respond(sb_call_t *c);
/* The stream ended (the transfer is done): its closing bytes, the row. */
void sb_call_finish_stream(sb_call_t *c);
/* The client went away: bill what was used, give the exchange back. */
void sb_call_finish_cancelled(sb_call_t *c);
/* Start (again) the encoder and the answer's state for a new attempt. */
void sb_call_answer_reset(sb_call_t *c);
/* A whole answer's body goes out (200, with the door's headers). */
void sb_call_respond_body(sb_call_t *c, sb_slice_t body);
/* Send what the encoder wrote (committing the stream on the first bytes).
 * SB_AGAIN: the client is behind; SB_ERROR: it is gone. */
sb_status_t sb_call_flush(sb_call_t *c);

/* ---- attempt.c ------------------------------------------------------------- */

/* Plan the endpoints (with fallbacks and preferences) and start. */
void sb_attempt_plan_and_start(sb_call_t *c);
/* Admitted (at once, or when the shared counters answered): start the
 * plan waiting in c->admit_plan. */
void sb_attempt_admitted(sb_call_t *c);
void sb_attempt_start(sb_call_t *c);
/* A failure before the client saw a byte: true when a retry or a fallback
 * took it over. */
bool sb_attempt_failed(sb_call_t *c, const sb_call_error_t *e);
/* The attempt answered: its endpoint's health hears of it. */
void sb_attempt_health_success(sb_call_t *c);
/* The next attempt, after `delay_ms`. False when it cannot be scheduled. */
bool sb_attempt_schedule(sb_call_t *c, uint32_t delay_ms);
/* Cancel the transfer in flight, if any. */
void sb_attempt_drop_upstream(sb_call_t *c);
void sb_attempt_cleanup(sb_call_t *c);

/* ---- escalate.c --------------------------------------------------------------- */

/* A whole answer that meets a climbing condition, with a stronger rung
 * left: bill it and go up. True when the call goes on. */
bool sb_escalate_climb(sb_call_t *c);
/* A stream that ended without output while its bytes were held. */
bool sb_escalate_climb_empty(sb_call_t *c);
/* X-Switchboard-Rung and -Escalation-Cost. */
void sb_escalate_head(sb_call_t *c);
/* The index of the first candidate of the next rung, or pl->n. */
size_t sb_escalate_next_rung(const sb_plan_t *pl);
/* Stop holding a stream's bytes: what was held goes to the client. */
sb_status_t sb_escalate_flush(sb_call_t *c);

/* ---- record.c ---------------------------------------------------------------- */

/* Usage estimated when the provider reported none; the cost. */
void sb_record_estimate(sb_call_t *c);
void sb_record_cost(sb_call_t *c);
/* The cost as decimal USD text (in the arena). */
sb_slice_t sb_record_cost_text(sb_call_t *c);
/* The ledger row (settling the key first). */
void sb_record(sb_call_t *c, int status, const char *error);
/* `durable`: the end is handed over once the row committed; true when it
 * now waits (`body`: a whole answer to hold, else a stream's end). */
bool sb_record_defer(sb_call_t *c, sb_slice_t body);
/* The exchange's describe hook (http.h) for a call's exchange: its part of
 * the access record (ops.h). */
void sb_record_describe(sb_http_exchange_t *x, struct sb_access *a);

/* ---- call_trace.c: the trace context and the attempts' spans ----------- */

/* A new call: the client's traceparent, a new trace (sampled or not) when
 * tracing is on, or nothing. */
void sb_call_trace_begin(sb_call_t *c);
/* An attempt starts (on the plan's current candidate): its span, and the
 * traceparent header for its request (in the arena), or NULL. */
const char *sb_call_trace_attempt(sb_call_t *c);
/* The attempt failed with `status` (the provider's, 0 none) and `type`. */
void sb_call_trace_attempt_end(sb_call_t *c, long status, const char *type);
/* The call's trace and spans into its access record. */
void sb_call_trace_describe(const sb_call_t *c, struct sb_access *a);

/* ---- admit.c ----------------------------------------------------------------- */

/* After routing, before the upstream request: the key must allow the
 * model, its rates be open, and the worst case fit its budget (reserved).
 * SB_OK: admitted. On refusal the call is answered (401/402/403/429/503),
 * SB_ERROR. SB_AGAIN: the shared counters answer later, and then the call
 * goes on with sb_attempt_admitted() (or is answered). */
sb_status_t sb_admit(sb_call_t *c);
/* The key's hash for the row (empty without a key). */
void sb_admit_key_hash(const sb_call_t *c, char *key_hash, size_t cap);
/* When the call ends, after its row is queued: release the reservation,
 * settle the cost and tokens. */
void sb_admit_settle(sb_call_t *c);
/* The response was not delivered (record.c): give its cost back. */
void sb_admit_refund(sb_call_t *c);

#endif
