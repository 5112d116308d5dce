/*
 * A call: one chat request on its way through the gateway, from the
 * decoded inbound request to the finished response and its ledger row.
 *
 * The inbound endpoint creates the call with a sink (how to answer its own
 * client: OpenAI JSON/SSE, the skill contract, ...) and starts it. The call
 * routes the model, has the provider's codec build the upstream request,
 * runs the transfer, and hands the codec's output to the sink. It lives in
 * the exchange's arena; it ends when the sink finishes the exchange.
 *
 * In this version the output handed to sinks is OpenAI-shaped: a
 * chat.completion object, or chat.completion.chunk objects. That makes the
 * OpenAI-in/OpenAI-out path a pass-through (only `id`, `model`, `provider`
 * and `usage` are rewritten).
 */
#ifndef SWITCHBOARD_CALL_H
#define SWITCHBOARD_CALL_H

#include "switchboard/codec.h"
#include "switchboard/gateway.h"
#include "switchboard/http.h"
#include "switchboard/json.h"
#include "switchboard/pricing.h"
#include "switchboard/sse.h"

typedef struct {
  int status;           /* for the client: 400, 404, 408, 429, 502, 503 ... */
  const char *type;     /* error_type: "provider_unavailable", ... */
  sb_slice_t message;
  sb_slice_t retry_after;   /* seconds, from the upstream's 429 */
  sb_slice_t provider_body; /* the upstream's error body, may be empty */
  long upstream_status;     /* 0 when the upstream did not answer */
} sb_call_error_t;

typedef struct {
  /* Non-stream: the complete chat.completion JSON. Must finish the
   * exchange. */
  void (*response)(sb_call_t *c, sb_slice_t json);
  /* Stream: the first chunk is ready; send the response head. */
  sb_status_t (*stream_begin)(sb_call_t *c);
  /* Stream: one chat.completion.chunk JSON. SB_AGAIN = queued but the
   * client is slow (pause the upstream); SB_ERROR = client gone. */
  sb_status_t (*stream_chunk)(sb_call_t *c, sb_slice_t json);
  /* Stream: end of stream (after the usage chunk). Must finish the
   * exchange. */
  void (*stream_end)(sb_call_t *c);
  /* Failure before anything was sent. Must finish the exchange. */
  void (*error)(sb_call_t *c, const sb_call_error_t *e);
  /* True while the client has too many unsent bytes. */
  bool (*backlogged)(sb_call_t *c);
} sb_call_sink_t;

struct sb_call {
  sb_arena_t *arena; /* the exchange's */
  sb_http_exchange_t *x;
  sb_worker_t *worker;
  const sb_gateway_t *gw;
  const sb_call_sink_t *sink;
  void *sink_data;

  /* inbound request, OpenAI chat shape */
  const sb_json_t *req;
  sb_slice_t req_raw;
  sb_slice_t requested_model;
  bool stream;
  /* The provider must not fall back to other models by itself (OpenRouter's
   * `models` is not forwarded): the caller's key limits its models, and
   * only the gateway's own fallbacks are checked against them. */
  bool no_upstream_fallbacks;
  const char *api;       /* "chat", "skill", "messages", "embeddings" */
  /* Endpoints that are not chat (embeddings) replace the codec's request
   * builder and 2xx-body handler with their own; NULL = the codec's. */
  sb_status_t (*build_request)(sb_call_t *c, sb_upstream_request_t *r);
  void (*take_response)(sb_call_t *c, sb_slice_t body);
  /* Likewise for stream events (the Messages pass-through to Anthropic). */
  sb_status_t (*take_event)(sb_call_t *c, const sb_sse_event_t *ev);
  sb_slice_t agent;      /* X-Agent, or "local" */
  sb_slice_t key_label;  /* who called */
  sb_slice_t app;        /* HTTP-Referer / X-Title */
  sb_slice_t referer, title;

  sb_route_t route;
  char id[48];          /* gen-... */
  int64_t created;      /* unix seconds */
  /* JSON forms written into every response and chunk */
  sb_slice_t j_id, j_model, j_provider, j_created;

  /* upstream */
  sb_upstream_t *up;
  sb_buf_t up_body;
  sb_kv_t up_headers[32];
  size_t n_up_headers;
  long up_status;
  bool up_sse;
  bool up_head_seen;
  sb_buf_t up_resp;     /* non-stream body, or an error body */
  char retry_after[32];
  sb_sse_parser_t sse;
  sb_arena_t scratch;   /* per upstream event */
  sb_buf_t out;         /* the chunk being written */
  void *codec_state;    /* a translating codec's per-call state (arena) */
  const char *codec_error; /* why chat_request said SB_ERROR, for the 400 */

  /* progress */
  bool committed;       /* the client has the response head */
  bool saw_done;
  bool saw_finish;
  bool stream_failed;
  int stream_error_code;
  char stream_error[256];
  uint64_t chunks;
  uint64_t content_bytes;

  /* accounting */
  sb_usage_t usage;
  bool usage_known;
  sb_slice_t usage_json; /* the upstream's usage object, copied */
  int64_t cost_pico;
  char finish_reason[32];
  char native_finish_reason[64];

  /* keys and budgets (src/accounts/admit.c) */
  struct sb_key *key;     /* the client key, or NULL; the exchange owns it */
  bool admitted;          /* counted against the key's limits */
  int64_t reserved_pico;  /* reservation to release when the call ends */
  uint64_t ledger_seq;    /* the row's sequence (durable waits) */
  void *commit_wait;      /* sb_ledger_waiter_t while a durable finish waits */
  sb_slice_t deferred_json; /* the response held back until its row commits */

  /* routing: the endpoints to try, retries, fallbacks (src/gateway/call.c,
   * docs/routing.md); NULL until routed */
  struct sb_plan *plan;

  /* timing */
  uint64_t t_start, t_first_token;
  uint64_t wait_ns;   /* spent waiting: providers, backoffs, a slow client */
  uint64_t wait_from; /* when the current wait began; 0 while working */
  int final_status;
  bool cancelled;
  bool finished;
};

/* Create a call for exchange `x` (allocated in its arena). */
sb_call_t *sb_call_new(sb_http_exchange_t *x, const sb_call_sink_t *sink,
                       void *sink_data);

/* Route and start. Every outcome ends in exactly one of the sink's
 * finishing callbacks (response, stream_end, error). */
void sb_call_start(sb_call_t *c);

/* ---- for codecs --------------------------------------------------------- */

/* Append one upstream request header (dropped when the table is full or
 * either part is NULL). */
void sb_call_up_header(sb_call_t *c, const char *name, const char *value);
/* Authentication (one of the provider's keys; routing may switch it per
 * attempt) and the provider's configured extra headers. */
void sb_call_up_auth(sb_call_t *c);

/* Hand a non-stream response (OpenAI chat.completion JSON) to the sink. */
void sb_call_respond(sb_call_t *c, sb_slice_t json);
/* Fail the call before anything was sent. */
void sb_call_fail(sb_call_t *c, int status, const char *type,
                  const char *message);
void sb_call_fail_with(sb_call_t *c, const sb_call_error_t *e);
/* Refuse the call before it was admitted, without a ledger row: the
 * ledger could not take one (sb_ledger_admit). */
void sb_call_refuse(sb_call_t *c, const sb_call_error_t *e);

/* ---- accounts (src/accounts/admit.c) ------------------------------------ */

/* After routing, before the upstream request: the caller's client key (if
 * any) must allow the model, its RPM/TPM windows must be open, and the
 * call's worst-case cost must fit its budget; that cost is reserved. On
 * refusal the call is failed (401/402/403/429) and SB_ERROR returned. */
sb_status_t sb_call_admit(sb_call_t *c);
/* When the call ends (once, with its final cost): release the
 * reservation, settle the cost and tokens on the key, and write the key's
 * hash (empty without a key) for the ledger row. */
void sb_call_settle(sb_call_t *c, char *key_hash, size_t cap);
/* Hand one chunk to the sink, committing the stream on the first one. */
sb_status_t sb_call_emit_chunk(sb_call_t *c, sb_slice_t json);
/* The upstream reported an error inside its stream. */
void sb_call_stream_error(sb_call_t *c, int code, sb_slice_t message);
/* Parse one stream event's data (in the call's scratch arena, reset per
 * event). False when it is not a JSON object: the stream has then failed
 * with a 502 error event. */
bool sb_call_event_root(sb_call_t *c, sb_slice_t data, sb_json_t **root);
/* Record usage from an OpenAI-shaped usage object (keeps a copy of it). */
void sb_call_take_usage(sb_call_t *c, const sb_json_t *usage);
void sb_call_set_finish(sb_call_t *c, sb_slice_t finish, sb_slice_t native);

/* Write the usage object for the client: the upstream's fields plus
 * `cost` (or an estimate when the upstream sent none). */
void sb_call_write_usage(sb_call_t *c, sb_jw_t *w);

#endif
