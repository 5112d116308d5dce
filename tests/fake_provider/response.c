/* SPDX-License-Identifier: MIT */
/*
 * The response engine shared by every wire format: it writes the status
 * line and headers, waits as the scenario says (latency_ms, first_token_ms,
 * token_interval_ms) on the connection's timer, pulls SSE events from the
 * format's generator one at a time, frames each as an HTTP chunk, injects
 * the faults (garbage, cut, keep-alive comments, dropped connection) and
 * keeps the stats.
 *
 * Events produced without a delay between them are gathered into one
 * write (each still its own HTTP chunk); before any wait, everything
 * produced so far is flushed, so a slow stream delivers each event when it
 * is due.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"

struct fp_job {
  fp_conn_t *conn;
  const fp_format_t *fmt;
  fp_scn_t *sc;
  int status;
  bool drop;    /* drop_connection */
  bool stream;
  bool started; /* the stream head was written (counted in active_streams) */
  const char *ctype;
  fp_buf_t body; /* non-stream */
  const fp_stream_ops_t *ops;
  void *state;
  long counted;    /* counted chunks written */
  long cut_at;     /* -1: never */
  long garbage_at; /* -1: no garbage */
  unsigned long events;
  uint64_t due; /* loop time the last wait was due at */
  fp_buf_t out; /* framed bytes not yet written */
  fp_buf_t ev;  /* the event being produced */
};

fp_job_t *fp_job_new(fp_conn_t *c, const fp_format_t *fmt, fp_scn_t *sc)
{
  fp_job_t *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return NULL;
  j->conn = c;
  j->fmt = fmt;
  j->sc = sc;
  j->status = sc->status;
  j->ctype = "application/json";
  j->cut_at = j->garbage_at = -1;
  return j;
}

void fp_job_free(fp_job_t *j)
{
  if (j->ops != NULL && j->ops->destroy != NULL)
    j->ops->destroy(j->state);
  fp_buf_free(&j->body);
  fp_buf_free(&j->out);
  fp_buf_free(&j->ev);
  fp_scn_unref(j->sc);
  free(j);
}

void fp_job_set_body(fp_job_t *j, fp_buf_t *body, const char *ctype)
{
  fp_buf_free(&j->body);
  j->body = *body;
  memset(body, 0, sizeof(*body));
  j->ctype = ctype;
  j->stream = false;
}

void fp_job_set_stream(fp_job_t *j, const fp_stream_ops_t *ops, void *state, long counted)
{
  const fp_scn_t *sc = j->sc;
  j->ops = ops;
  j->state = state;
  j->stream = true;
  j->ctype = "text/event-stream";
  /* A fault placed after more chunks than the stream has happens after
   * the last one, so `cut_after: 99` still cuts before the finish. */
  if (sc->cut_after >= 0)
    j->cut_at = sc->cut_after < counted ? sc->cut_after : counted;
  if (sc->has_garbage)
    j->garbage_at = sc->garbage_after < counted ? sc->garbage_after : counted;
}

/* A raw body given by the scenario: a string is sent as its bytes, any
 * other JSON value as compact JSON. */
static void raw_body(fp_job_t *j, const json_t *v, const char *string_ctype)
{
  fp_buf_t b = {0};
  if (json_is_string(v)) {
    fp_buf_add(&b, json_string_value(v), json_string_length(v));
    j->ctype = string_ctype;
  } else {
    fp_buf_json(&b, v);
  }
  fp_job_set_body(j, &b, j->ctype);
}

bool fp_job_prepare(fp_job_t *j, const fp_request_t *r, const fp_chat_req_t *q, uint64_t seq)
{
  const fp_scn_t *sc = j->sc;
  if (sc->drop_connection) {
    j->drop = true;
    return true;
  }
  if (sc->body != NULL) {
    raw_body(j, sc->body, "application/json");
  } else if (j->status >= 400) {
    if (sc->error_body != NULL) {
      raw_body(j, sc->error_body, "text/plain; charset=utf-8");
    } else {
      fp_buf_t b = {0};
      j->fmt->error_body(&b, j->status);
      fp_job_set_body(j, &b, "application/json");
    }
  } else {
    return j->fmt->build(j, r, q, sc, seq) && !j->body.failed;
  }
  return !j->body.failed;
}

/* ---- writing ---------------------------------------------------------------- */

static bool has_header(const json_t *headers, const char *name)
{
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)headers, k, v)
  {
    if (strcasecmp(k, name) == 0)
      return true;
  }
  return false;
}

static void add_number(fp_buf_t *b, const json_t *v)
{
  if (json_is_integer(v))
    fp_buf_printf(b, "%lld", (long long)json_integer_value(v));
  else
    fp_buf_printf(b, "%g", json_number_value(v));
}

/* content_length < 0: a chunked stream. */
static void write_head(fp_job_t *j, long long content_length)
{
  const fp_scn_t *sc = j->sc;
  fp_buf_t *b = &j->out;
  fp_buf_printf(b, "HTTP/1.1 %d %s\r\n", j->status, fp_http_reason(j->status));
  if (sc->headers == NULL || !has_header(sc->headers, "content-type"))
    fp_buf_printf(b, "Content-Type: %s\r\n", j->ctype);
  if (content_length >= 0)
    fp_buf_printf(b, "Content-Length: %lld\r\n", content_length);
  else
    fp_buf_adds(b, "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
  if (sc->retry_after != NULL) {
    fp_buf_adds(b, "Retry-After: ");
    add_number(b, sc->retry_after);
    fp_buf_adds(b, "\r\n");
  }
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)sc->headers, k, v)
  {
    fp_buf_printf(b, "%s: ", k);
    if (json_is_string(v))
      fp_buf_add(b, json_string_value(v), json_string_length(v));
    else
      add_number(b, v);
    fp_buf_adds(b, "\r\n");
  }
  fp_buf_printf(b, "Connection: %s\r\n\r\n", fp_conn_keep_alive(j->conn) ? "keep-alive" : "close");
}

static void add_chunk(fp_job_t *j, const char *data, size_t len)
{
  if (len == 0)
    return; /* a zero-size chunk would end the body */
  fp_buf_printf(&j->out, "%zx\r\n", len);
  fp_buf_add(&j->out, data, len);
  fp_buf_add(&j->out, "\r\n", 2);
}

/* Returns -1 when the connection is gone (and the job with it). */
static int flush(fp_job_t *j)
{
  if (j->out.failed) {
    fp_conn_cut(j->conn, false); /* out of memory: end it visibly */
    return -1;
  }
  if (j->out.len == 0)
    return 0;
  /* fp_conn_write sends or copies the bytes before returning, so the
   * buffer is free for the next events afterwards (the job may be gone). */
  uv_buf_t b = uv_buf_init(j->out.data, (unsigned)j->out.len);
  j->out.len = 0;
  return fp_conn_write(j->conn, &b, 1);
}

/* ---- running ------------------------------------------------------------------ */

static void job_end(void *job, fp_end_t how)
{
  fp_job_t *j = job;
  if (j->started)
    fp_stats.active_streams--;
  if (how == FP_END_COMPLETED)
    fp_stats.completed++;
  else if (how == FP_END_CANCELLED)
    fp_stats.cancelled++;
  else
    fp_stats.dropped++;
  fp_job_free(j);
}

/* Waits are measured from when the previous one was due, not from when
 * its callback ran: under load (10,000 streams) a callback runs a little
 * late, and relative waits would add that lateness up at every event. */
static void wait_then(fp_job_t *j, uint64_t ms, uv_timer_cb cb)
{
  uv_timer_t *t = fp_conn_timer(j->conn);
  uint64_t now = uv_now(t->loop);
  j->due += ms;
  t->data = j;
  uv_timer_start(t, cb, j->due > now ? j->due - now : 0, 0);
}

static void on_tick(uv_timer_t *t);

/* Write events until one is due later, the stream ends, or a fault cuts
 * it. Every exit after fp_conn_* ends the job: return at once. */
static void pump(fp_job_t *j)
{
  const fp_scn_t *sc = j->sc;
  for (;;) {
    if (j->garbage_at >= 0 && j->counted >= j->garbage_at) {
      add_chunk(j, sc->garbage.data, sc->garbage.len);
      j->garbage_at = -1;
    }
    if (j->cut_at >= 0 && j->counted >= j->cut_at) {
      if (flush(j) == 0)
        fp_conn_cut(j->conn, sc->reset);
      return;
    }
    bool counted = false;
    fp_buf_reset(&j->ev);
    if (!j->ops->next(j->state, &j->ev, &counted)) {
      if (sc->no_end) { /* the body stays open until the client leaves */
        flush(j);
        return;
      }
      fp_buf_add(&j->out, "0\r\n\r\n", 5); /* the last chunk */
      if (flush(j) == 0)
        fp_conn_finish(j->conn);
      return;
    }
    if (j->ev.failed)
      j->out.failed = true;
    if (sc->sse_comments && j->events > 0)
      add_chunk(j, ": keep-alive\n\n", 14);
    add_chunk(j, j->ev.data, j->ev.len);
    j->events++;
    if (counted)
      j->counted++;
    if (sc->token_interval_ms > 0) {
      if (flush(j) == 0)
        wait_then(j, sc->token_interval_ms, on_tick);
      return;
    }
  }
}

static void on_tick(uv_timer_t *t) { pump(t->data); }

static void respond(fp_job_t *j)
{
  const fp_scn_t *sc = j->sc;
  if (j->drop) {
    fp_conn_cut(j->conn, sc->reset);
    return;
  }
  if (!j->stream) {
    write_head(j, (long long)j->body.len);
    if (j->out.failed) {
      fp_conn_cut(j->conn, false);
      return;
    }
    uv_buf_t bufs[2] = {uv_buf_init(j->out.data, (unsigned)j->out.len),
                        uv_buf_init(j->body.data, (unsigned)j->body.len)};
    if (fp_conn_write(j->conn, bufs, 2) == 0)
      fp_conn_finish(j->conn);
    return;
  }
  write_head(j, -1);
  j->started = true;
  fp_stats.active_streams++;
  if (sc->first_token_ms > 0) {
    if (flush(j) == 0)
      wait_then(j, sc->first_token_ms, on_tick);
    return;
  }
  pump(j);
}

static void on_latency(uv_timer_t *t) { respond(t->data); }

void fp_job_start(fp_job_t *j)
{
  fp_conn_attach(j->conn, j, job_end);
  j->due = uv_now(fp_conn_timer(j->conn)->loop);
  if (j->sc->latency_ms > 0)
    wait_then(j, j->sc->latency_ms, on_latency);
  else
    respond(j);
}
