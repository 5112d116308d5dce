/*
 * The fake provider: a scripted model provider on loopback for switchboard's
 * tests and benchmarks. See README.md for the scripting reference.
 */
#ifndef FAKE_PROVIDER_H
#define FAKE_PROVIDER_H

#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- server.c: connections --------------------------------------------- */

typedef struct fake_conn fake_conn_t;

typedef struct {
  char method[16];
  char *path;     /* without the query */
  char *query;    /* "" when none */
  json_t *headers; /* lower-cased name -> value */
  char *body;
  size_t body_len;
} fake_request_t;

/* Response writing, used by the handlers. */
void fake_respond(fake_conn_t *c, int status, const char *content_type,
                  json_t *extra_headers, const char *body, size_t len);
/* Streams: chunked transfer encoding. */
void fake_stream_begin(fake_conn_t *c, json_t *extra_headers);
void fake_stream_write(fake_conn_t *c, const char *data, size_t len);
void fake_stream_end(fake_conn_t *c);
/* Close the TCP connection now, mid-response, without ending it. */
void fake_conn_drop(fake_conn_t *c);
/* True when the client went away. */
bool fake_conn_gone(const fake_conn_t *c);
uv_loop_t *fake_loop(void);

/* A handler that completes later keeps the connection until it calls one of
 * the finishing functions above (respond, stream_end, drop). It is told
 * through this hook when the client disconnects first. */
void fake_conn_set_abort(fake_conn_t *c, void (*fn)(void *), void *data);

/* ---- script.c: scenarios, recorder, control API -------------------------- */

typedef struct {
  uint64_t requests, active_streams, completed, cancelled;
} fake_stats_t;

extern fake_stats_t fake_stats;

void script_init(size_t max_recorded);
/* Route a complete request. */
void script_handle(fake_conn_t *c, fake_request_t *r);
/* The scenario for a chat request (queue or default); returns a new
 * reference and its index (-1 for the default). */
json_t *script_take(const json_t *req_json, const char *path, int *index);

/* ---- openai.c: the OpenAI chat completions format ------------------------ */

void openai_chat(fake_conn_t *c, fake_request_t *r, json_t *req, json_t *scenario);

#endif
