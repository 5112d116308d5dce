/* SPDX-License-Identifier: MIT */
/*
 * loadgen: the HTTP load generator of `make bench` (a test-side tool, not
 * installed).
 *
 * It keeps N keep-alive connections to one loopback address, each POSTing a
 * prepared request, and measures every response:
 *
 *   - closed loop (default): each connection sends its next request as soon as
 *     the previous response ends;
 *   - open loop (--rate R): requests are due at fixed times t0 + i/R across
 *     all connections. A request that finds no free connection waits, and its
 *     latency is measured from the time it was due, not from the time it went
 *     out, so a slow server cannot hide its queueing (no coordinated omission).
 *
 * Responses are parsed incrementally with http_parser (Content-Length and
 * chunked). Bodies are counted, never stored; Server-Sent Events are counted as
 * they arrive (an event is a block of field lines ended by a blank line). Per
 * request it records the latency, the time to the first body byte, the time to
 * the first event and, per event, the time since the previous one (the gap)
 * and, with --sse-interval-ms, how late the event is against the upstream's
 * own schedule. All of them go into log-bucket histograms (no per-sample
 * memory). A request stalls when no event (or no body byte, before the first
 * event) arrives for --stall-ms.
 *
 * The result is one line of key=value pairs on stdout (times in µs).
 *
 * Every input is bounded: the response head by http_parser's own cap, the body
 * by --max-body, the request body file by MAX_BODY_FILE, headers by MAX_HEADERS
 * and MAX_HEADER_LEN.
 */
#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BODIES 8
#define MAX_HEADERS 16
#define MAX_HEADER_LEN 1024
#define MAX_PATH_LEN 2048
#define MAX_BODY_FILE (64u << 20)
#define MAX_CONNS 200000u
#define READ_BUF_SIZE (64u * 1024u)

/* ---- histograms ----------------------------------------------------------
 * Values in nanoseconds. Below 2^SUB_BITS a bucket per value; above, each
 * power of two is split into 2^(SUB_BITS-1) buckets, so a bucket is at most
 * 1/64 (1.6 %) wide relative to its value. Values past 2^MAX_MSB ns (about
 * 18 minutes) land in the last bucket; the exact maximum is kept apart. */
#define SUB_BITS 7
#define HALF (1u << (SUB_BITS - 1))
#define MAX_MSB 40
#define HIST_BUCKETS ((MAX_MSB - SUB_BITS + 2) * HALF + HALF)

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t n;
  uint64_t max;
} hist_t;

static unsigned hist_index(uint64_t v)
{
  if (v < (1u << SUB_BITS))
    return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  if (msb > MAX_MSB)
    return HIST_BUCKETS - 1;
  unsigned shift = msb - (SUB_BITS - 1);
  return shift * HALF + (unsigned)(v >> shift);
}

/* The middle of the bucket's range, as a representative value. */
static uint64_t hist_value(unsigned idx)
{
  if (idx < (1u << SUB_BITS))
    return idx;
  unsigned shift = idx / HALF - 1;
  uint64_t lo = (uint64_t)(idx - shift * HALF) << shift;
  return lo + ((1ull << shift) >> 1);
}

static void hist_add(hist_t *h, uint64_t v)
{
  h->counts[hist_index(v)]++;
  h->n++;
  if (v > h->max)
    h->max = v;
}

static uint64_t hist_quantile(const hist_t *h, double q)
{
  if (h->n == 0)
    return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)h->n);
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = hist_value(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

/* ---- configuration ------------------------------------------------------- */
typedef struct {
  char host[64];
  int port;
  char path[MAX_PATH_LEN];
  const char *body_files[MAX_BODIES];
  unsigned n_bodies;
  const char *headers[MAX_HEADERS];
  unsigned n_headers;
  unsigned conns;
  double rate;           /* requests/s across all connections; 0 = closed loop */
  double duration_s;     /* 0 = until every connection has done its requests */
  double warmup_s;
  unsigned per_conn;     /* requests per connection; 0 = unlimited */
  double ramp_s;         /* spread the connects over this long */
  double timeout_s;      /* hard cap on the whole run */
  uint64_t stall_ns;
  uint64_t max_body;
  uint64_t sse_first_ns;
  uint64_t sse_interval_ns;
  bool have_schedule;
} options_t;

/* ---- connections --------------------------------------------------------- */
enum { C_NEW, C_CONNECTING, C_IDLE, C_BUSY, C_CLOSING, C_DONE };

typedef struct loadgen loadgen_t;

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  http_parser parser;
  loadgen_t *lg;
  struct conn *next; /* idle list, or reconnect list */
  uint64_t t_sched;  /* when the request was due */
  uint64_t t_sent;
  uint64_t t_last;   /* last progress: send, first body byte, each event */
  uint64_t body_bytes;
  uint32_t events;
  uint32_t done;     /* requests completed on this connection */
  uint8_t state;
  bool stalled;      /* the request in flight already counted as stalled */
  bool got_body;
  bool complete;     /* set by on_message_complete, handled after execute */
  bool line_nonempty;
  bool line_comment;
  bool event_fields;
  bool reconnect;    /* reopen after the close */
  bool writing;      /* the request is still being written */
} conn_t;

struct loadgen {
  options_t opt;
  uv_loop_t *loop;
  struct sockaddr_in addr;
  uv_buf_t req[MAX_BODIES][2]; /* head, body */
  unsigned next_body;
  conn_t *conns;
  conn_t *idle;      /* open loop: connections waiting for a due request */
  conn_t *to_reopen; /* connections to reconnect at the next tick */
  unsigned opened;   /* connections started so far (ramp) */
  unsigned finished; /* connections in C_DONE */
  uv_timer_t tick;   /* ramp, stalls, reconnects: every 10 ms */
  uv_timer_t stop_timer;
  uv_timer_t warm_timer;
  uv_poll_t rate_poll;
  int timer_fd;
  uint64_t t0;
  uint64_t t_rec;    /* recording started */
  uint64_t t_end;
  uint64_t next_idx; /* open loop: index of the next due request */
  uint64_t ticks;
  bool recording;
  bool running;
  /* results */
  hist_t lat, ttfb, ttft, chunk, gap;
  uint64_t requests, errors, non2xx, incomplete, stalls, events, bytes;
  uint64_t reconnects, connect_errors;
};

static char read_buf[READ_BUF_SIZE];

static void conn_close(conn_t *c, bool reopen);
static void conn_send(conn_t *c, uint64_t sched);
static void dispatch(loadgen_t *lg);
static void finish(loadgen_t *lg);

static bool in_flight(const conn_t *c) { return c->state == C_BUSY; }

/* A request that ends without a complete response. */
static void request_failed(conn_t *c)
{
  loadgen_t *lg = c->lg;
  if (!in_flight(c))
    return;
  if (lg->recording) {
    lg->errors++;
    lg->incomplete++;
    if (lg->opt.per_conn > 0 && !c->stalled)
      lg->stalls++; /* a stream that did not complete counts as stalled */
  }
  c->stalled = true;
  c->done++; /* an attempt all the same: --requests-per-conn bounds attempts */
  c->state = C_IDLE;
}

/* ---- SSE counting -------------------------------------------------------- */
static void on_event(conn_t *c, uint64_t now)
{
  loadgen_t *lg = c->lg;
  uint64_t gap = now - c->t_last;
  if (lg->recording) {
    lg->events++;
    if (c->events == 0)
      hist_add(&lg->ttft, now - c->t_sched);
    else
      hist_add(&lg->gap, gap);
    if (lg->opt.have_schedule) {
      uint64_t due = c->t_sent + lg->opt.sse_first_ns + (uint64_t)c->events * lg->opt.sse_interval_ns;
      hist_add(&lg->chunk, now > due ? now - due : 0);
    } else if (c->events > 0) {
      hist_add(&lg->chunk, gap);
    }
    if (gap > lg->opt.stall_ns && !c->stalled) {
      lg->stalls++;
      c->stalled = true;
    }
  }
  c->events++;
  c->t_last = now;
}

static void sse_scan(conn_t *c, const char *p, size_t len, uint64_t now)
{
  const char *end = p + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *seg_end = nl != NULL ? nl : end;
    if (!c->line_nonempty) {
      for (const char *q = p; q < seg_end; q++) {
        if (*q != '\r') {
          c->line_nonempty = true;
          c->line_comment = *q == ':';
          break;
        }
      }
    }
    if (nl == NULL)
      break;
    if (!c->line_nonempty) {
      if (c->event_fields)
        on_event(c, now);
      c->event_fields = false;
    } else if (!c->line_comment) {
      c->event_fields = true;
    }
    c->line_nonempty = false;
    c->line_comment = false;
    p = nl + 1;
  }
}

/* ---- http_parser callbacks ------------------------------------------------ */
static uint64_t cb_now; /* the time of the read being parsed */

static int on_message_begin(http_parser *p)
{
  (void)p;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
  conn_t *c = p->data;
  loadgen_t *lg = c->lg;
  if (!c->got_body) {
    c->got_body = true;
    if (lg->recording)
      hist_add(&lg->ttfb, cb_now - c->t_sched);
    c->t_last = cb_now;
  }
  c->body_bytes += len;
  if (c->body_bytes > lg->opt.max_body)
    return -1;
  sse_scan(c, at, len, cb_now);
  return 0;
}

static int on_message_complete(http_parser *p)
{
  conn_t *c = p->data;
  c->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The response ended: record it and start the next request. */
static void response_done(conn_t *c, bool keep_alive)
{
  loadgen_t *lg = c->lg;
  uint64_t now = cb_now;
  if (c->event_fields)
    on_event(c, now); /* a last event without its blank line */
  if (lg->recording) {
    unsigned status = c->parser.status_code;
    lg->requests++;
    lg->bytes += c->body_bytes;
    if (status < 200 || status > 299)
      lg->non2xx++;
    hist_add(&lg->lat, now - c->t_sched);
  }
  c->done++;
  c->state = C_IDLE;
  if (c->writing) /* answered before it read the whole request: start afresh */
    keep_alive = false;
  if (!keep_alive) {
    conn_close(c, lg->opt.per_conn == 0 || c->done < lg->opt.per_conn);
    return;
  }
  if (lg->opt.per_conn > 0 && c->done >= lg->opt.per_conn) {
    conn_close(c, false);
    return;
  }
  if (!lg->running)
    return;
  if (lg->opt.rate > 0) {
    c->next = lg->idle;
    lg->idle = c;
    dispatch(lg);
  } else {
    conn_send(c, now);
  }
}

/* ---- libuv callbacks ------------------------------------------------------ */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  conn_t *c = s->data;
  if (nread == 0)
    return;
  if (c->state == C_CLOSING || c->state == C_DONE)
    return;
  cb_now = uv_hrtime();
  if (nread == UV_EOF && in_flight(c)) {
    /* a body that runs to the end of the connection ends here */
    (void)http_parser_execute(&c->parser, &parser_settings, NULL, 0);
    if (c->complete) {
      c->complete = false;
      http_parser_pause(&c->parser, 0);
      response_done(c, false);
      return;
    }
  }
  if (nread < 0) {
    request_failed(c);
    conn_close(c, true);
    return;
  }
  if (!in_flight(c)) { /* bytes nobody asked for */
    if (c->lg->recording)
      c->lg->errors++;
    conn_close(c, true);
    return;
  }
  size_t n = (size_t)nread;
  size_t used = http_parser_execute(&c->parser, &parser_settings, buf->base, n);
  enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
  if (c->complete) {
    bool keep = http_should_keep_alive(&c->parser) != 0;
    c->complete = false;
    if (used != n) { /* bytes past the end of the response */
      if (c->lg->recording)
        c->lg->errors++;
      keep = false;
    }
    http_parser_pause(&c->parser, 0);
    response_done(c, keep);
    return;
  }
  if (err != HPE_OK || used != n) {
    request_failed(c);
    conn_close(c, true);
  }
}

static void on_write(uv_write_t *w, int status)
{
  conn_t *c = w->data;
  c->writing = false;
  if (status != 0 && status != UV_ECANCELED && c->state == C_BUSY) {
    cb_now = uv_hrtime();
    request_failed(c);
    conn_close(c, true);
  }
}

static void conn_send(conn_t *c, uint64_t sched)
{
  loadgen_t *lg = c->lg;
  unsigned b = lg->next_body;
  lg->next_body = (lg->next_body + 1) % lg->opt.n_bodies;
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  c->t_sched = sched;
  c->t_sent = uv_hrtime();
  c->t_last = c->t_sent;
  c->body_bytes = 0;
  c->events = 0;
  c->stalled = false;
  c->got_body = false;
  c->complete = false;
  c->line_nonempty = c->line_comment = c->event_fields = false;
  c->state = C_BUSY;
  c->write_req.data = c;
  c->writing = true;
  unsigned nbufs = lg->req[b][1].len > 0 ? 2 : 1;
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, lg->req[b], nbufs, on_write) != 0) {
    cb_now = c->t_sent;
    c->writing = false;
    request_failed(c);
    conn_close(c, true);
  }
}

static void conn_ready(conn_t *c)
{
  loadgen_t *lg = c->lg;
  c->state = C_IDLE;
  if (!lg->running) {
    conn_close(c, false);
    return;
  }
  if (lg->opt.rate > 0) {
    c->next = lg->idle;
    lg->idle = c;
    dispatch(lg);
  } else {
    conn_send(c, uv_hrtime());
  }
}

static void on_connect(uv_connect_t *req, int status)
{
  conn_t *c = req->data;
  loadgen_t *lg = c->lg;
  if (c->state != C_CONNECTING)
    return;
  if (status != 0) {
    lg->connect_errors++;
    if (lg->recording)
      lg->errors++;
    if (lg->opt.per_conn > 0) { /* a request that could not even start */
      c->done++;
      if (lg->recording) {
        lg->incomplete++;
        lg->stalls++;
      }
    }
    conn_close(c, true);
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_close(c, true);
    return;
  }
  conn_ready(c);
}

static void conn_open(conn_t *c)
{
  loadgen_t *lg = c->lg;
  if (uv_tcp_init(lg->loop, &c->tcp) != 0) {
    lg->connect_errors++;
    c->state = C_DONE;
    lg->finished++;
    return;
  }
  c->tcp.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  c->connect_req.data = c;
  c->state = C_CONNECTING;
  if (uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&lg->addr, on_connect) != 0) {
    lg->connect_errors++;
    conn_close(c, true);
  }
}

static void on_closed(uv_handle_t *h)
{
  conn_t *c = h->data;
  loadgen_t *lg = c->lg;
  if (c->reconnect && lg->running) {
    c->state = C_NEW;
    c->next = lg->to_reopen;
    lg->to_reopen = c;
    lg->reconnects++;
    return;
  }
  c->state = C_DONE;
  lg->finished++;
  if (lg->running && lg->finished == lg->opt.conns)
    finish(lg);
}

static void conn_close(conn_t *c, bool reopen)
{
  if (c->state == C_CLOSING || c->state == C_DONE || c->state == C_NEW)
    return;
  loadgen_t *lg = c->lg;
  if (lg->opt.per_conn > 0 && c->done >= lg->opt.per_conn)
    reopen = false;
  if (c->state == C_IDLE && lg->opt.rate > 0) { /* unlink from the idle list */
    for (conn_t **pp = &lg->idle; *pp != NULL; pp = &(*pp)->next) {
      if (*pp == c) {
        *pp = c->next;
        break;
      }
    }
  }
  c->state = C_CLOSING;
  c->reconnect = reopen;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- open loop ---------------------------------------------------------- */
static uint64_t due_time(const loadgen_t *lg, uint64_t idx)
{
  return lg->t0 + (uint64_t)((double)idx * 1e9 / lg->opt.rate);
}

static void arm_rate_timer(loadgen_t *lg, uint64_t at)
{
  struct itimerspec its = {0};
  its.it_value.tv_sec = (time_t)(at / 1000000000u);
  its.it_value.tv_nsec = (long)(at % 1000000000u);
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
    its.it_value.tv_nsec = 1;
  (void)timerfd_settime(lg->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void dispatch(loadgen_t *lg)
{
  if (!lg->running)
    return;
  uint64_t now = uv_hrtime();
  while (lg->idle != NULL) {
    uint64_t due = due_time(lg, lg->next_idx);
    if (due > now) {
      arm_rate_timer(lg, due);
      return;
    }
    conn_t *c = lg->idle;
    lg->idle = c->next;
    c->next = NULL;
    lg->next_idx++;
    conn_send(c, due);
  }
  /* Every connection is busy: the next completion dispatches again. */
}

static void on_rate_timer(uv_poll_t *p, int status, int events)
{
  loadgen_t *lg = p->data;
  uint64_t expirations;
  (void)status;
  (void)events;
  if (read(lg->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
    return;
  dispatch(lg);
}

/* ---- housekeeping ------------------------------------------------------- */
static void on_tick(uv_timer_t *t)
{
  loadgen_t *lg = t->data;
  uint64_t now = uv_hrtime();
  if (!lg->running)
    return;
  /* ramp: open the connections due by now */
  unsigned want = lg->opt.conns;
  if (lg->opt.ramp_s > 0) {
    double frac = (double)(now - lg->t0) / (lg->opt.ramp_s * 1e9);
    if (frac < 1.0)
      want = (unsigned)(frac * lg->opt.conns) + 1;
    if (want > lg->opt.conns)
      want = lg->opt.conns;
  }
  while (lg->opened < want)
    conn_open(&lg->conns[lg->opened++]);
  /* reconnects */
  conn_t *r = lg->to_reopen;
  lg->to_reopen = NULL;
  while (r != NULL) {
    conn_t *next = r->next;
    r->next = NULL;
    conn_open(r);
    r = next;
  }
  /* stalls: a request with no progress for too long (every 100 ms) */
  if (lg->recording && ++lg->ticks % 10 == 0) {
    for (unsigned i = 0; i < lg->opened; i++) {
      conn_t *c = &lg->conns[i];
      if (in_flight(c) && !c->stalled && now - c->t_last > lg->opt.stall_ns) {
        c->stalled = true;
        lg->stalls++;
      }
    }
  }
}

static void on_warm(uv_timer_t *t)
{
  loadgen_t *lg = t->data;
  lg->recording = true;
  lg->t_rec = uv_hrtime();
}

static void on_stop(uv_timer_t *t)
{
  finish(t->data);
}

static void close_cb_noop(uv_handle_t *h)
{
  (void)h;
}

static void finish(loadgen_t *lg)
{
  if (!lg->running)
    return;
  lg->t_end = uv_hrtime();
  /* In the per-connection mode, the requests still running never completed. */
  if (lg->opt.per_conn > 0 && lg->recording) {
    for (unsigned i = 0; i < lg->opened; i++) {
      conn_t *c = &lg->conns[i];
      if (in_flight(c)) {
        lg->incomplete++;
        if (!c->stalled)
          lg->stalls++;
        c->stalled = true;
      }
    }
    lg->incomplete += lg->opt.conns - lg->opened; /* never even connected */
    lg->stalls += lg->opt.conns - lg->opened;
  }
  lg->running = false;
  lg->recording = false;
  lg->idle = NULL; /* first: closing must not search it for each connection */
  for (unsigned i = 0; i < lg->opened; i++)
    conn_close(&lg->conns[i], false);
  uv_timer_stop(&lg->tick);
  uv_timer_stop(&lg->stop_timer);
  uv_timer_stop(&lg->warm_timer);
  uv_close((uv_handle_t *)&lg->tick, close_cb_noop);
  uv_close((uv_handle_t *)&lg->stop_timer, close_cb_noop);
  uv_close((uv_handle_t *)&lg->warm_timer, close_cb_noop);
  if (lg->timer_fd >= 0) {
    uv_poll_stop(&lg->rate_poll);
    uv_close((uv_handle_t *)&lg->rate_poll, close_cb_noop);
  }
}

/* ---- set-up -------------------------------------------------------------- */
static void usage(void)
{
  fprintf(stderr,
          "usage: loadgen --url http://127.0.0.1:PORT/PATH --body FILE [--body FILE ...]\n"
          "               [--conns N] [--duration S] [--rate R] [--warmup S] [--requests-per-conn N]\n"
          "               [--ramp S] [--timeout S] [--stall-ms MS] [--max-body BYTES]\n"
          "               [--sse-first-ms MS --sse-interval-ms MS] [-H 'Name: value' ...]\n"
          "  closed loop by default; --rate R sends R requests/s in all (open loop, latency\n"
          "  measured from each request's due time). Prints one key=value line (times in us).\n");
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, uint64_t hi, uint64_t *out)
{
  char *end;
  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > hi)
    return false;
  *out = v;
  return true;
}

static bool parse_url(options_t *o, const char *url)
{
  const char *p = url;
  if (strncmp(p, "http://", 7) != 0)
    return false;
  p += 7;
  const char *colon = strchr(p, ':');
  const char *slash = strchr(p, '/');
  if (colon == NULL || (slash != NULL && slash < colon))
    return false;
  size_t hl = (size_t)(colon - p);
  if (hl == 0 || hl >= sizeof(o->host))
    return false;
  memcpy(o->host, p, hl);
  o->host[hl] = '\0';
  if (strcmp(o->host, "localhost") == 0)
    strcpy(o->host, "127.0.0.1");
  const char *ps = colon + 1;
  const char *pe = slash != NULL ? slash : ps + strlen(ps);
  if (pe == ps || pe - ps > 5)
    return false;
  int port = 0;
  for (const char *q = ps; q < pe; q++) {
    if (*q < '0' || *q > '9')
      return false;
    port = port * 10 + (*q - '0');
  }
  if (port < 1 || port > 65535)
    return false;
  o->port = port;
  const char *path = slash != NULL ? slash : "/";
  size_t pl = strlen(path);
  if (pl >= sizeof(o->path))
    return false;
  for (size_t i = 0; i < pl; i++)
    if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
      return false;
  memcpy(o->path, path, pl + 1);
  return true;
}

static bool header_ok(const char *h)
{
  size_t n = strlen(h);
  const char *colon = strchr(h, ':');
  if (n == 0 || n > MAX_HEADER_LEN || colon == NULL || colon == h)
    return false;
  for (const char *q = h; *q != '\0'; q++)
    if (*q == '\r' || *q == '\n')
      return false;
  return true;
}

static int parse_args(options_t *o, int argc, char **argv)
{
  const char *url = NULL;
  uint64_t u;
  double sse_first = 0, sse_interval = -1;
  o->conns = 1;
  o->stall_ns = 2000000000ull;
  o->max_body = 256u << 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      exit(0);
    }
    if (v == NULL) {
      fprintf(stderr, "loadgen: %s needs a value\n", a);
      return -1;
    }
    i++;
    bool ok = true;
    if (strcmp(a, "--url") == 0) {
      url = v;
      ok = parse_url(o, v);
    } else if (strcmp(a, "--body") == 0) {
      ok = o->n_bodies < MAX_BODIES;
      if (ok)
        o->body_files[o->n_bodies++] = v;
    } else if (strcmp(a, "-H") == 0 || strcmp(a, "--header") == 0) {
      ok = o->n_headers < MAX_HEADERS && header_ok(v);
      if (ok)
        o->headers[o->n_headers++] = v;
    } else if (strcmp(a, "--conns") == 0 || strcmp(a, "-c") == 0) {
      ok = parse_u64(v, MAX_CONNS, &u) && u > 0;
      o->conns = (unsigned)u;
    } else if (strcmp(a, "--duration") == 0 || strcmp(a, "-d") == 0) {
      ok = parse_double(v, 0, 86400, &o->duration_s);
    } else if (strcmp(a, "--rate") == 0) {
      ok = parse_double(v, 0, 10e6, &o->rate);
    } else if (strcmp(a, "--warmup") == 0) {
      ok = parse_double(v, 0, 3600, &o->warmup_s);
    } else if (strcmp(a, "--requests-per-conn") == 0) {
      ok = parse_u64(v, UINT32_MAX, &u);
      o->per_conn = (unsigned)u;
    } else if (strcmp(a, "--ramp") == 0) {
      ok = parse_double(v, 0, 3600, &o->ramp_s);
    } else if (strcmp(a, "--timeout") == 0) {
      ok = parse_double(v, 0, 86400, &o->timeout_s);
    } else if (strcmp(a, "--stall-ms") == 0) {
      ok = parse_u64(v, 3600000, &u) && u > 0;
      o->stall_ns = u * 1000000ull;
    } else if (strcmp(a, "--max-body") == 0) {
      ok = parse_u64(v, UINT64_MAX / 2, &o->max_body);
    } else if (strcmp(a, "--sse-first-ms") == 0) {
      ok = parse_double(v, 0, 3600000, &sse_first);
    } else if (strcmp(a, "--sse-interval-ms") == 0) {
      ok = parse_double(v, 0, 3600000, &sse_interval);
    } else {
      fprintf(stderr, "loadgen: unknown option %s\n", a);
      usage();
      return -1;
    }
    if (!ok) {
      fprintf(stderr, "loadgen: bad value for %s: %s\n", a, v);
      return -1;
    }
  }
  if (url == NULL || o->n_bodies == 0) {
    usage();
    return -1;
  }
  if (o->duration_s <= 0 && o->per_conn == 0) {
    fprintf(stderr, "loadgen: give --duration or --requests-per-conn\n");
    return -1;
  }
  if (o->rate > 0 && o->per_conn > 0) {
    fprintf(stderr, "loadgen: --rate and --requests-per-conn don't go together\n");
    return -1;
  }
  if (sse_interval >= 0) {
    o->have_schedule = true;
    o->sse_first_ns = (uint64_t)(sse_first * 1e6);
    o->sse_interval_ns = (uint64_t)(sse_interval * 1e6);
  }
  return 0;
}

static int load_body(const char *file, uv_buf_t *out)
{
  FILE *f = fopen(file, "rb");
  if (f == NULL) {
    fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
    return -1;
  }
  size_t cap = 1u << 16, len = 0;
  char *b = malloc(cap);
  while (b != NULL) {
    if (len == cap) {
      if (cap >= MAX_BODY_FILE) {
        fprintf(stderr, "loadgen: %s: larger than %u bytes\n", file, MAX_BODY_FILE);
        free(b);
        b = NULL;
        break;
      }
      cap *= 2;
      char *nb = realloc(b, cap);
      if (nb == NULL) {
        free(b);
        b = NULL;
        break;
      }
      b = nb;
    }
    size_t n = fread(b + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  bool err = ferror(f) != 0;
  fclose(f);
  if (b == NULL || err) {
    free(b);
    return -1;
  }
  *out = uv_buf_init(b, (unsigned)len);
  return 0;
}

static int build_requests(loadgen_t *lg)
{
  const options_t *o = &lg->opt;
  for (unsigned i = 0; i < o->n_bodies; i++) {
    if (load_body(o->body_files[i], &lg->req[i][1]) != 0)
      return -1;
    size_t cap = 512 + strlen(o->path) + (size_t)o->n_headers * (MAX_HEADER_LEN + 2);
    char *h = malloc(cap);
    if (h == NULL)
      return -1;
    int n = snprintf(h, cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n",
                     o->path, o->host, o->port, lg->req[i][1].len);
    size_t len = n > 0 ? (size_t)n : 0;
    for (unsigned k = 0; k < o->n_headers; k++) {
      n = snprintf(h + len, cap - len, "%s\r\n", o->headers[k]);
      len += n > 0 ? (size_t)n : 0;
    }
    n = snprintf(h + len, cap - len, "\r\n");
    len += n > 0 ? (size_t)n : 0;
    if (len >= cap) {
      free(h);
      return -1;
    }
    lg->req[i][0] = uv_buf_init(h, (unsigned)len);
  }
  return 0;
}

static void raise_nofile(unsigned conns)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)conns + 32)
    fprintf(stderr, "loadgen: warning: open-file limit %llu is below %u connections\n",
            (unsigned long long)rl.rlim_cur, conns);
}

#define US(ns) ((double)(ns) / 1000.0)

static void print_hist(const char *name, const hist_t *h)
{
  printf(" %s_n=%" PRIu64 " %s_p50_us=%.1f %s_p90_us=%.1f %s_p99_us=%.1f %s_p999_us=%.1f %s_max_us=%.1f",
         name, h->n, name, US(hist_quantile(h, 0.50)), name, US(hist_quantile(h, 0.90)), name,
         US(hist_quantile(h, 0.99)), name, US(hist_quantile(h, 0.999)), name, US(h->max));
}

static void report(const loadgen_t *lg)
{
  double secs = lg->t_end > lg->t_rec ? (double)(lg->t_end - lg->t_rec) / 1e9 : 0;
  printf("loadgen conns=%u rate=%.1f secs=%.3f requests=%" PRIu64 " rps=%.1f errors=%" PRIu64
         " non2xx=%" PRIu64 " incomplete=%" PRIu64 " stalls=%" PRIu64 " events=%" PRIu64
         " bytes=%" PRIu64 " reconnects=%" PRIu64 " connect_errors=%" PRIu64,
         lg->opt.conns, lg->opt.rate, secs, lg->requests, secs > 0 ? (double)lg->requests / secs : 0,
         lg->errors, lg->non2xx, lg->incomplete, lg->stalls, lg->events, lg->bytes, lg->reconnects,
         lg->connect_errors);
  print_hist("lat", &lg->lat);
  print_hist("ttfb", &lg->ttfb);
  print_hist("ttft", &lg->ttft);
  print_hist("chunk", &lg->chunk);
  print_hist("gap", &lg->gap);
  printf("\n");
  fflush(stdout);
}

int main(int argc, char **argv)
{
  static loadgen_t lg_storage; /* histograms are large: not on the stack */
  loadgen_t *lg = &lg_storage;
  lg->timer_fd = -1;
  if (parse_args(&lg->opt, argc, argv) != 0)
    return 2;
  if (uv_ip4_addr(lg->opt.host, lg->opt.port, &lg->addr) != 0) {
    fprintf(stderr, "loadgen: not an IPv4 address: %s\n", lg->opt.host);
    return 2;
  }
  if (build_requests(lg) != 0) {
    fprintf(stderr, "loadgen: cannot prepare the requests\n");
    return 2;
  }
  raise_nofile(lg->opt.conns);
  lg->conns = calloc(lg->opt.conns, sizeof(conn_t));
  if (lg->conns == NULL) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 1;
  }
  for (unsigned i = 0; i < lg->opt.conns; i++)
    lg->conns[i].lg = lg;
  lg->loop = uv_default_loop();
  lg->running = true;
  lg->t0 = uv_hrtime();
  uv_timer_init(lg->loop, &lg->tick);
  uv_timer_init(lg->loop, &lg->stop_timer);
  uv_timer_init(lg->loop, &lg->warm_timer);
  lg->tick.data = lg->stop_timer.data = lg->warm_timer.data = lg;
  if (lg->opt.rate > 0) {
    lg->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (lg->timer_fd < 0 || uv_poll_init(lg->loop, &lg->rate_poll, lg->timer_fd) != 0) {
      fprintf(stderr, "loadgen: timerfd: %s\n", strerror(errno));
      return 1;
    }
    lg->rate_poll.data = lg;
    uv_poll_start(&lg->rate_poll, UV_READABLE, on_rate_timer);
  }
  if (lg->opt.warmup_s > 0)
    uv_timer_start(&lg->warm_timer, on_warm, (uint64_t)(lg->opt.warmup_s * 1000), 0);
  else
    on_warm(&lg->warm_timer);
  double stop_after = lg->opt.duration_s > 0 ? lg->opt.warmup_s + lg->opt.duration_s : lg->opt.timeout_s;
  if (lg->opt.timeout_s > 0 && lg->opt.timeout_s < stop_after)
    stop_after = lg->opt.timeout_s;
  if (stop_after > 0)
    uv_timer_start(&lg->stop_timer, on_stop, (uint64_t)(stop_after * 1000), 0);
  uv_timer_start(&lg->tick, on_tick, 0, 10);

  uv_run(lg->loop, UV_RUN_DEFAULT);
  report(lg);
  int rc = uv_loop_close(lg->loop) == 0 ? 0 : 1;
  if (lg->timer_fd >= 0)
    close(lg->timer_fd);
  for (unsigned i = 0; i < lg->opt.n_bodies; i++) {
    free(lg->req[i][0].base);
    free(lg->req[i][1].base);
  }
  free(lg->conns);
  return rc;
}
