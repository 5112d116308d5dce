/* SPDX-License-Identifier: MIT */
/*
 * Wire formats: one const table per format (src/formats/<name>/), holding
 * both directions on the hub (hub.h):
 *
 *   provider side: the hub request -> the provider's HTTP request
 *                  the provider's response or stream -> hub events
 *   client side:   the client's request -> the hub request (a door)
 *                  hub events -> the client's response or stream
 *
 * A format sees the hub request, the route (the upstream model, the
 * provider's data), an arena and a sink. It never sees the call, never
 * computes money and never touches a connection: the gateway's call
 * (src/gateway/) drives it, counts what it reports and writes what it
 * encodes.
 *
 * The pass-through path: when the door's format is the provider's, the
 * provider side forwards the client's body with only the routed members
 * rewritten, and the answer's events as they are (NATIVE events) with
 * only the gateway's members rewritten; it scans them for the few facts
 * the gateway needs (finish, usage, output) without building a DOM.
 */
#ifndef SWITCHBOARD_CODEC_H
#define SWITCHBOARD_CODEC_H

#include "switchboard/hub.h"
#include "switchboard/provider.h"
#include "switchboard/sse.h"

/* ---- provider side ------------------------------------------------------ */

/* The route as a format sees it. */
typedef struct {
  const sb_provider_t *provider; /* base URL, quirks, extra headers (the
                                    gateway adds authentication) */
  sb_slice_t upstream_model;     /* the provider's name for the model */
  sb_slice_t model_id;           /* the catalog id, which answers carry */
  int64_t max_output;            /* the model's largest output; 0 unknown */
  int reasons;                   /* the model reasons: -1 unknown, 0, 1 */
  bool no_fallbacks;             /* the provider must not fall back to other
                                    models by itself (the caller's key may
                                    not use them) */
} sb_codec_route_t;

/* What the gateway calls an answer, as JSON texts (quoted strings, and the
 * creation time as a number), for formats that write them. */
typedef struct {
  sb_slice_t id;       /* "gen-..." */
  sb_slice_t model;    /* the catalog id */
  sb_slice_t provider; /* the provider's display name */
  sb_slice_t created;  /* unix seconds */
  int64_t created_s;
} sb_answer_names_t;

#define SB_CODEC_MAX_HEADERS 24

/* The upstream request a format builds. The body goes into `body` (the
 * caller's capped buffer); strings live in the arena passed. */
typedef struct {
  const char *url;
  sb_buf_t *body;
  sb_kv_t headers[SB_CODEC_MAX_HEADERS];
  size_t n_headers;
  const char *error; /* SB_ERROR: why the request cannot be expressed for
                        this provider (the client gets a 400 with it) */
} sb_codec_request_t;

/* Add a header (dropped when the table is full or either part is NULL). */
void sb_codec_request_header(sb_codec_request_t *r, const char *name,
                             const char *value);

/* One answer being decoded: a whole response, or a stream event by event. */
typedef struct sb_codec_answer {
  const sb_hub_req_t *req;
  const sb_codec_route_t *route;
  const sb_answer_names_t *names;
  sb_arena_t *arena;     /* lives as long as the answer */
  sb_arena_t *scratch;   /* reset by the caller before each event */
  sb_hub_sink_t sink;
  bool passthrough;      /* the door speaks this format: NATIVE events */
  void *state;           /* the format's own, NULL at first */
} sb_codec_answer_t;

typedef struct {
  /* The provider's request for `req` routed by `route`. `passthrough`:
   * the door speaks this format (req->native is the client's body).
   * SB_OK; SB_DECLINED: the body does not fit its buffer; SB_ERROR: it
   * cannot be expressed (out->error says why). */
  sb_status_t (*request)(const sb_hub_req_t *req, const sb_codec_route_t *route,
                         bool passthrough, sb_arena_t *a,
                         sb_codec_request_t *out);
  /* A complete 2xx non-stream body: emits the answer's events (with a
   * final FINISH and USAGE) and, on the pass-through path, one NATIVE
   * event with the body rewritten. SB_ERROR: the body is not an answer
   * (an ERROR event was emitted). */
  sb_status_t (*response)(sb_codec_answer_t *an, sb_slice_t body);
  /* One stream event. SB_OK: go on; SB_DONE: the provider's end marker
   * (the answer is complete); SB_ERROR: the provider reported an error or
   * sent garbage (an ERROR event was emitted), or the sink said stop. */
  sb_status_t (*event)(sb_codec_answer_t *an, const sb_sse_event_t *ev);
  /* A human message (and the provider's error code) from an error body,
   * in `a`. */
  void (*error_info)(sb_arena_t *a, sb_slice_t body, sb_slice_t *message,
                     sb_slice_t *code);
} sb_codec_provider_t;

/* ---- client side -------------------------------------------------------- */

/* How an answer ended, for the encoder's closing bytes. */
typedef struct {
  sb_finish_t finish;
  sb_slice_t native_finish;  /* jtext */
  const sb_usage_t *usage;
  bool usage_estimated;
  sb_slice_t usage_json;     /* the provider's usage object, when its format
                                is the door's (kept member for member) */
  sb_slice_t cost;           /* the cost in USD, as decimal text ("0.0014") */
  /* a stream that failed after its first byte: the error to end it with */
  int error_status;          /* 0: none */
  sb_slice_t error_message;  /* bytes */
  const char *error_type;
} sb_answer_end_t;

/* An error before anything was sent. */
typedef struct {
  int status;
  const char *type;          /* "provider_unavailable", ... */
  sb_slice_t message;        /* bytes */
  sb_slice_t provider_body;  /* the provider's error body, may be empty */
  long upstream_status;
  const char *provider_name;
} sb_answer_error_t;

typedef struct {
  size_t state_size;
  /* A new answer (again after an escalation discards one). `passthrough`:
   * the provider speaks this format and sends NATIVE events. */
  void (*begin)(void *st, sb_arena_t *a, const sb_hub_req_t *req,
                const sb_answer_names_t *names, bool stream,
                bool passthrough);
  /* The response head's Content-Type for a stream / a whole answer. */
  const char *stream_type, *body_type;
  /* One event. A stream appends what the client gets for it to `out`; a
   * whole answer gathers it. SB_ERROR: out of room. */
  sb_status_t (*event)(void *st, const sb_hub_event_t *ev, sb_buf_t *out);
  /* The end: a stream's closing bytes, or the whole answer. */
  sb_status_t (*end)(void *st, const sb_answer_end_t *end, sb_buf_t *out);
  /* An error before anything was sent: its body; *status may be changed
   * to what this API uses for it. */
  void (*error)(const sb_answer_error_t *e, int *status, sb_buf_t *out);
  /* Optional. Headers of the answer's head beside the gateway's (written
   * when the head goes out, after begin): up to `cap` into `out`, their
   * count; strings in the state's arena. */
  size_t (*head)(void *st, sb_kv_t *out, size_t cap);
  /* Optional. After end: the answer as one object, for a door that keeps
   * answers (the Responses API's stored responses); empty: none. Lives as
   * long as the state's arena. */
  sb_slice_t (*kept)(void *st);
} sb_codec_encoder_t;

typedef struct {
  /* The client's body against the format's schema: the type and range of
   * every member it defines (unknown members pass). SB_DECLINED: `why`
   * names the member (a 400). The door runs it before the envelope. */
  sb_status_t (*check)(const sb_json_t *body, char *why, size_t whylen);
  /* The members the gateway needs to route and admit (model, models,
   * provider, stream, max tokens), from the client's parsed body.
   * SB_DECLINED: `why` says what is wrong (a 400). */
  sb_status_t (*envelope)(const sb_json_t *body, sb_arena_t *a,
                          sb_hub_req_t *req, char *why, size_t whylen);
  /* The rest of the request (req->decoded afterwards), when a provider of
   * another format needs it. SB_DECLINED: `why` (a 400). */
  sb_status_t (*decode)(sb_hub_req_t *req, sb_arena_t *a, char *why,
                        size_t whylen);
  const sb_codec_encoder_t *encoder;
  /* The format's token-counting endpoint (Anthropic's count_tokens,
   * Gemini's countTokens ...): check `body` as such a request, fill `req`
   * (its model, at least), and write the answer with the input estimate
   * (sb_hub_estimate_input). NULL: the format has none. SB_DECLINED: `why`
   * (a 400). */
  sb_status_t (*count)(const sb_json_t *body, sb_arena_t *a, sb_hub_req_t *req,
                       sb_buf_t *out, char *why, size_t whylen);
} sb_codec_door_t;

/* ---- embeddings ------------------------------------------------------------ */

/* An embeddings request as the door decoded it. */
typedef struct {
  const char *door_format;
  const sb_json_t *native;   /* the client's body */
  sb_slice_t model;          /* unescaped */
  const sb_json_t *input;    /* a string, strings, tokens or lists of tokens */
  size_t n_inputs;
  int64_t dimensions;        /* 0: unset */
  bool base64;               /* the client wants base64 vectors */
  sb_slice_t user;           /* jtext */
} sb_hub_embed_req_t;

/* The vectors of an answer, in input order. */
typedef struct {
  const sb_slice_t *vectors; /* each a JSON array of numbers */
  size_t n;
  bool has_usage;            /* the provider reported it (else `usage` is
                                the format's estimate, or zero) */
  sb_usage_t usage;
  sb_slice_t usage_json;     /* the provider's usage object, if any */
} sb_hub_embeddings_t;

typedef struct {
  sb_status_t (*request)(const sb_hub_embed_req_t *req,
                         const sb_codec_route_t *route, bool passthrough,
                         sb_arena_t *a, sb_codec_request_t *out);
  /* A 2xx body -> the vectors (in `a`); on the pass-through path *native
   * is the body itself, for the door to rewrite. SB_ERROR: not an answer
   * (*why says what is wrong). */
  sb_status_t (*response)(const sb_hub_embed_req_t *req, sb_slice_t body,
                          bool passthrough, sb_arena_t *a,
                          sb_hub_embeddings_t *out, sb_slice_t *native,
                          const char **why);
} sb_codec_embed_provider_t;

typedef struct {
  sb_status_t (*decode)(const sb_json_t *body, sb_arena_t *a,
                        sb_hub_embed_req_t *req, char *why, size_t whylen);
  /* The client's answer: from the vectors, or from the provider's own body
   * (*native, same format) with the gateway's members rewritten. */
  sb_status_t (*encode)(const sb_hub_embed_req_t *req,
                        const sb_answer_names_t *names,
                        const sb_hub_embeddings_t *e, sb_slice_t native,
                        const sb_usage_t *usage, sb_slice_t cost,
                        sb_arena_t *a, sb_buf_t *out);
} sb_codec_embed_door_t;

/* ---- the table ------------------------------------------------------------ */

typedef struct sb_codec {
  const char *name;                  /* "openai", "anthropic", "gemini" */
  const sb_codec_provider_t *provider; /* NULL: not a provider format */
  const sb_codec_door_t *door;       /* NULL: no door speaks it (yet) */
  const sb_codec_embed_provider_t *embed_provider; /* NULL: no embeddings */
  const sb_codec_embed_door_t *embed_door;
  /* The format's finish table: its reason -> canonical, and back. */
  sb_finish_t (*finish_in)(sb_slice_t native);
  const char *(*finish_out)(sb_finish_t f);
  /* Optional: a format some providers of another format speak beside it
   * (OpenAI's Responses API beside its chat API). True when `p` speaks
   * it: a call whose door is this format then uses this format's
   * provider side for `p` (the pass-through path). */
  bool (*spoken_by)(const sb_provider_t *p);
} sb_codec_t;

/* The format named `name` ("openai"), or NULL. */
const sb_codec_t *sb_codec_find(const char *name);

extern const sb_codec_t sb_codec_openai;
extern const sb_codec_t sb_codec_anthropic;
extern const sb_codec_t sb_codec_gemini;
extern const sb_codec_t sb_codec_skill; /* the skill contract (a door) */
/* OpenAI's Responses API: a door, and the provider side of the providers
 * that speak it (pass-through only) */
extern const sb_codec_t sb_codec_responses;

#endif
