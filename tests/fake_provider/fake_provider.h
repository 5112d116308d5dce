/* SPDX-License-Identifier: MIT */
/*
 * The fake provider: a scripted model provider on loopback, used by
 * switchboard's tests and benchmarks instead of any real provider.
 * README.md in this folder is the scripting reference.
 *
 * Module map (one libuv loop, no threads):
 *   main.c      command line, listener, signals, clean shutdown
 *   http.c      connections: request parsing, keep-alive, pipelining, writes
 *   routes.c    which handler serves a request; the chat entry point
 *   scenario.c  a scenario JSON object, checked and compiled to fp_scn_t
 *   script.c    the scenario queue, the default, the /_fake/ control API
 *   recorder.c  the ring of recorded requests and its JSON rendering
 *   response.c  the response engine: timing, faults, HTTP framing, stats
 *   openai.c    the OpenAI chat completions wire format
 *   anthropic.c the Anthropic Messages wire format
 *   gemini.c    the Gemini generateContent wire format
 *   events.c    pre-rendered event lists and splitting for those two
 *   models_list.c  OpenRouter's and the providers' model lists
 *   jscan.c     a validating JSON scanner that finds top-level members
 *   util.c      growable buffers, JSON string writing, UTF-8
 *
 * A wire format (OpenAI, Anthropic, Gemini) is an fp_format_t:
 * it reads the request, then either fills a non-stream body or hands the
 * engine a generator of SSE events. Timing, faults and framing are shared.
 */
#ifndef FAKE_PROVIDER_H
#define FAKE_PROVIDER_H

#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FP_MAX_BODY ((size_t)64 << 20)  /* request body cap */
#define FP_MAX_HEAD ((size_t)64 << 10)  /* request line + headers cap */
#define FP_JSON_MAX_DEPTH 2048           /* same nesting limit as jansson */

/* ---- util.c ------------------------------------------------------------- */

/* A growable byte buffer. Errors are sticky: after a failed allocation
 * every append is a no-op and `failed` stays set, so a builder checks once
 * at the end. `data` is always NUL-terminated when non-NULL. */
typedef struct {
  char *data;
  size_t len, cap;
  bool failed;
} fp_buf_t;

bool fp_buf_reserve(fp_buf_t *b, size_t extra);
void fp_buf_add(fp_buf_t *b, const void *p, size_t n);
void fp_buf_adds(fp_buf_t *b, const char *s);
void fp_buf_printf(fp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quoted and escaped) for n bytes of valid UTF-8. */
void fp_buf_json_str(fp_buf_t *b, const char *s, size_t n);
/* Any JSON value, compact, keys in insertion order. */
void fp_buf_json(fp_buf_t *b, const json_t *v);
void fp_buf_reset(fp_buf_t *b); /* len = 0, failed = false, keeps memory */
void fp_buf_free(fp_buf_t *b);  /* back to all zeroes */

/* Length of the UTF-8 sequence at p (1..4), 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF rejected). */
size_t fp_utf8_seq(const unsigned char *p, const unsigned char *end);
bool fp_utf8_valid(const char *s, size_t n);
/* A JSON string for bytes that may not be UTF-8: invalid bytes become the
 * text \xNN (lossy, for headers and paths only). */
json_t *fp_json_string_lossy(const char *s, size_t n);

/* ---- jscan.c ------------------------------------------------------------ */

typedef struct {
  const char *p; /* NULL when absent */
  size_t n;
} fp_span_t;

/* Validates [s, s+n) as exactly one JSON text (RFC 8259, UTF-8). When it is
 * an object, spans[i] receives the raw text of the value of the last member
 * whose key is exactly keys[i] (keys written with escapes are not matched).
 * Returns false for invalid JSON (spans are then unreliable). */
bool fp_json_scan(const char *s, size_t n, const char *const *keys, size_t nkeys,
                  fp_span_t *spans);
/* Calls fn with the span of each element of a JSON array (the span of the
 * whole array, as fp_json_scan gives it). False when it is not an array. */
bool fp_json_array_each(fp_span_t array, void (*fn)(fp_span_t item, void *arg), void *arg);
/* The span is the literal `true`. */
bool fp_span_is_true(fp_span_t sp);

/* ---- http.c: connections and requests ------------------------------------ */

typedef struct fp_conn fp_conn_t;

/* A parsed request. `head` holds "path\0query\0" followed by
 * "name\0value\0" pairs with lower-cased names, in arrival order. */
typedef struct {
  const char *method; /* static string */
  fp_buf_t head;
  size_t query_off;   /* offset of the query in head */
  size_t headers_off; /* offset of the first header name */
  fp_buf_t body;
} fp_request_t;

static inline const char *fp_req_path(const fp_request_t *r) { return r->head.data; }
static inline const char *fp_req_query(const fp_request_t *r)
{
  return r->head.data + r->query_off;
}
/* Header lookup by lower-case name (first occurrence); NULL when absent. */
const char *fp_req_header(const fp_request_t *r, const char *name);

typedef enum {
  FP_END_COMPLETED, /* every byte was handed to the kernel */
  FP_END_CANCELLED, /* the client went away first */
  FP_END_CUT        /* the response cut the connection on purpose */
} fp_end_t;
typedef void (*fp_end_cb)(void *job, fp_end_t how);

/* A response that completes later attaches itself; the connection calls
 * `cb` exactly once when the response is over, however it ends, and the
 * job frees itself there. The connection's timer is stopped first. */
void fp_conn_attach(fp_conn_t *c, void *job, fp_end_cb cb);
uv_timer_t *fp_conn_timer(fp_conn_t *c);
bool fp_conn_keep_alive(const fp_conn_t *c);
/* Write bytes (copied when the kernel cannot take them at once). Returns 0,
 * or -1 when the connection is gone: the attached job has then already been
 * ended (and freed), so the caller must return without touching it. */
int fp_conn_write(fp_conn_t *c, const uv_buf_t *bufs, unsigned n);
/* The response is fully written: completes once the writes drain, then the
 * next pipelined request (if any) is served. */
void fp_conn_finish(fp_conn_t *c);
/* End the connection now, without finishing the response: after what was
 * written is flushed a FIN, or with `reset` an RST. */
void fp_conn_cut(fp_conn_t *c, bool reset);
/* A complete response with Content-Length, for handlers without a job. */
void fp_conn_respond(fp_conn_t *c, int status, const char *ctype, const char *body,
                     size_t len);
const char *fp_http_reason(int status);

void fp_http_init(uv_loop_t *loop);
void fp_http_on_connection(uv_stream_t *server, int status);
/* Close every connection (attached jobs end as cancelled). */
void fp_http_close_all(void);

/* ---- routes.c ----------------------------------------------------------- */

/* Serve one complete request (called by http.c). */
void fp_dispatch(fp_conn_t *c, fp_request_t *r);
/* An OpenAI-shaped error response with Content-Length. */
void fp_respond_error(fp_conn_t *c, int status, const char *type, const char *msg);
void fp_respond_json(fp_conn_t *c, int status, json_t *v); /* steals v */

/* ---- scenario.c ---------------------------------------------------------- */

enum { FP_USAGE_REQUESTED, FP_USAGE_ALWAYS, FP_USAGE_NEVER, FP_USAGE_IN_FINISH };

/* A checked scenario. Fields point into `json`, which it keeps alive; the
 * JSON is never modified after compilation. Reference counted because the
 * default scenario may be replaced while responses still use it. */
typedef struct {
  int refs;
  json_t *json;
  /* selection */
  const char *match_model, *match_path; /* NULL = any */
  size_t match_model_len;
  long times; /* -1 = forever */
  /* answer */
  int status;
  const json_t *headers;     /* object or NULL */
  const json_t *retry_after; /* number or NULL */
  const json_t *error_body, *body;
  const json_t *content;     /* string, null, or NULL when absent */
  const json_t *chunks;      /* array of strings or NULL */
  const json_t *reasoning;   /* string or NULL */
  const json_t *signature;   /* string or NULL: thinking / thought signature */
  const json_t *tool_calls;  /* array of {id, name, arguments} or NULL */
  size_t arg_chunk;
  bool parallel;
  const json_t *finish_reason; /* string, null, or NULL when absent */
  const json_t *usage;         /* object or NULL */
  int usage_mode;
  const json_t *raw_events;    /* array of strings or NULL */
  const json_t *id, *model, *fingerprint; /* NULL = default */
  json_int_t created;
  /* timing */
  uint64_t latency_ms, first_token_ms, token_interval_ms;
  /* faults */
  long cut_after, garbage_after; /* cut_after -1 = never */
  bool has_garbage;
  fp_buf_t garbage; /* raw bytes */
  bool no_done, no_end, drop_connection, sse_comments, reset;
} fp_scn_t;

/* NULL on error, with a message naming the field in err. */
fp_scn_t *fp_scn_compile(json_t *json, char *err, size_t errlen);
fp_scn_t *fp_scn_ref(fp_scn_t *s);
void fp_scn_unref(fp_scn_t *s);

/* ---- script.c ------------------------------------------------------------ */

typedef struct {
  uint64_t requests, active_streams, completed, cancelled, dropped;
} fp_stats_t;
extern fp_stats_t fp_stats;

void fp_script_init(void);
void fp_script_free(void);
/* The scenario for a chat request: the first queued one that matches,
 * else the default. Returns a new reference; *index is its position in the
 * script since the last reset, or -1 for the default. */
fp_scn_t *fp_script_take(const char *model, size_t model_len, const char *path, int *index);
/* Serve a /_fake/... request. */
void fp_control(fp_conn_t *c, fp_request_t *r);

/* ---- recorder.c ---------------------------------------------------------- */

#define FP_NO_SCENARIO (-2) /* a request that is not a chat request */

void fp_recorder_init(size_t max_records, size_t max_bytes);
void fp_recorder_free(void);
/* The seq the next recorded request will get. */
uint64_t fp_recorder_next_seq(void);
/* Records r, taking its head and body buffers (r's are left empty). */
void fp_recorder_add(fp_request_t *r, int scenario);
void fp_recorder_reset(void);
/* {"requests":[...]} with the records whose seq > since. */
void fp_recorder_render(fp_buf_t *out, uint64_t since);

/* ---- response.c: the engine shared by every wire format ------------------ */

typedef struct fp_job fp_job_t;

typedef struct {
  /* Append the next SSE event, framed ("data: ...\n\n"), to out. Set
   * *counted for an output chunk (reasoning, content or tool-argument
   * delta, or a raw event): the unit of cut_after and garbage_after.
   * Return false when the stream has no more events. */
  bool (*next)(void *state, fp_buf_t *out, bool *counted);
  void (*destroy)(void *state);
} fp_stream_ops_t;

/* What a format reads from a chat request before a scenario is chosen. */
typedef struct {
  const char *model; /* NULL when absent; kept alive by `own` */
  size_t model_len;
  bool stream;
  bool include_usage; /* OpenAI stream_options.include_usage */
  fp_span_t messages; /* raw JSON of the conversation, for the echo reply */
  json_t *own;        /* released by the caller */
} fp_chat_req_t;

typedef struct {
  const char *name;
  /* Read what the format needs from the request (a body that is not valid
   * JSON leaves everything empty). */
  void (*parse)(const fp_request_t *r, fp_chat_req_t *q);
  /* Build the answer under scenario sc (status < 400, no `body` override):
   * call fp_job_set_body or fp_job_set_stream. Runs before the request is
   * recorded; copies whatever it keeps. False on failure (answered 500). */
  bool (*build)(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q,
                const fp_scn_t *sc, uint64_t seq);
  /* The format's own error body for a status without error_body. */
  void (*error_body)(fp_buf_t *out, int status);
} fp_format_t;

/* A job answers one chat request on c under scenario sc (referenced). */
fp_job_t *fp_job_new(fp_conn_t *c, const fp_format_t *fmt, fp_scn_t *sc);
/* Decide the answer: drop, error body, `body` override, or the format's
 * build. False on failure. */
bool fp_job_prepare(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q, uint64_t seq);
/* Non-stream answer: the body (taken from *body) and its content type. */
void fp_job_set_body(fp_job_t *j, fp_buf_t *body, const char *ctype);
/* Stream answer: the generator and its state (destroyed by the engine),
 * and how many counted chunks it will produce. */
void fp_job_set_stream(fp_job_t *j, const fp_stream_ops_t *ops, void *state, long counted);
/* Attach to the connection and run: latency, then the answer. */
void fp_job_start(fp_job_t *j);
void fp_job_free(fp_job_t *j); /* only for a job that was never started */

/* ---- openai.c ------------------------------------------------------------ */

extern const fp_format_t fp_openai_chat;
extern const fp_format_t fp_openai_embeddings; /* embeddings.c */
extern const fp_format_t fp_gemini_embeddings; /* embeddings.c */
/* The text of the last user message in a raw JSON messages array (string
 * content, or the text parts of array content) into out; false when there
 * is none. Only that message is parsed. Shared by formats whose messages
 * have the OpenAI/Anthropic shape. */
bool fp_last_user_text(fp_span_t messages, fp_buf_t *out);

/* ---- events.c: helpers the formats share -------------------------------- */

/* A stream rendered up front: append an event's bytes to fp_ev_buf(), then
 * fp_ev_mark() it. Hand it to fp_job_set_stream with fp_evlist_ops. */
typedef struct fp_evlist fp_evlist_t;
fp_evlist_t *fp_ev_new(void);
fp_buf_t *fp_ev_buf(fp_evlist_t *l);
void fp_ev_mark(fp_evlist_t *l, bool counted);
bool fp_ev_failed(const fp_evlist_t *l);
long fp_ev_counted(const fp_evlist_t *l);
void fp_ev_free(void *state);
extern const fp_stream_ops_t fp_evlist_ops;

size_t fp_word_end(const char *s, size_t n, size_t off);
size_t fp_piece_end(const char *s, size_t n, size_t off, size_t size);
const json_t *fp_call_field(const fp_scn_t *sc, size_t m, const char *key);
const char *fp_call_args(const fp_scn_t *sc, size_t m, size_t *len);
/* The reply text (content, joined chunks, or the echo of `user`); false
 * when the reply has no text (content null, or tool calls alone). When
 * true, text->data is set even for an empty text. */
bool fp_reply_text(const fp_scn_t *sc, const char *user, size_t user_len, fp_buf_t *text);
/* The i-th text piece of a stream (a scenario chunk, or the next word of
 * text from *off); 0 when there is none left. */
size_t fp_text_pieces(const fp_scn_t *sc, const char *text, size_t n, size_t i, size_t *off,
                      const char **piece, size_t *len);
/* How many pieces fp_text_pieces gives for the text. */
size_t fp_text_piece_count(const fp_scn_t *sc, const char *text, size_t n);
/* The request's "model" member (a span from fp_json_scan) into q->model
 * when it is a string; q owns the copy. */
void fp_req_model(fp_chat_req_t *q, fp_span_t model);
/* The reply's id and model as JSON: the scenario's, else "<id_prefix><seq>"
 * and the request's model (else "fake-model"). */
void fp_reply_id_model(const fp_scn_t *sc, const fp_chat_req_t *q, const char *id_prefix,
                       uint64_t seq, fp_buf_t *id, fp_buf_t *model);
/* Error bodies in OpenAI's shape ({"error":{"message","type","param",
 * "code"}}, `kind` as type and code) and in Google's ({"error":{"code",
 * "message","status"}}). */
void fp_openai_error_body(fp_buf_t *out, int status, const char *kind);
void fp_google_error_body(fp_buf_t *out, int status, const char *st);

/* ---- anthropic.c, gemini.c ---------------------------------------------- */

extern const fp_format_t fp_anthropic_messages;
extern const fp_format_t fp_gemini_generate;
extern const fp_format_t fp_openai_responses; /* responses.c */

/* ---- models_list.c: OpenRouter's and the providers' model lists ---------- */

/* Serve a GET of a model list POST /_fake/models set up (OpenRouter's at
 * .../api/v1/models, a provider's at a path of `lists`); false when the
 * path is none of them (the default /models answer then applies). */
bool fp_models_list(fp_conn_t *c, fp_request_t *r);
/* POST /_fake/models: replace the lists and their faults. */
void fp_models_control(fp_conn_t *c, fp_request_t *r);
/* Forget them (reset, exit). */
void fp_models_free(void);

#endif
