/* SPDX-License-Identifier: MIT */
/* A harness for the wire formats' unit tests: each direction of a format
 * driven through its face alone (include/switchboard/codec.h), with no
 * gateway, worker or call.
 *
 * - Provider side, requests: a hub request (decoded from an OpenAI chat
 *   body by the OpenAI door, or built by the test) through a format's
 *   request builder, compared with the exact body wanted.
 * - Provider side, answers: a recorded stream (tests/fixtures/<format>/
 *   *.sse) fed through the SSE parser cut at every byte, or a whole body
 *   (*.json); the hub events it gives are written one per line and
 *   compared with the golden `<fixture>.events` (on the pass-through path,
 *   `<fixture>.passthrough.events`).
 * - Client side, answers: an events file read back into events and fed to
 *   a door's encoder; what it writes is compared with the golden
 *   `<events file>.<suffix>`.
 *
 * Golden files are compared byte for byte; run a test with
 * SB_UPDATE_GOLDEN=1 to rewrite them after a deliberate change, then
 * review the diff.
 *
 * The events file format, one event a line (strings are JSON string
 * literals, whose contents are the events' jtext):
 *   start [usage P C CACHED WRITE REASONING]
 *   text "..."                    reasoning FORMAT "..."
 *   signature FORMAT "..."        redacted FORMAT "id" "..."
 *   tool_start INDEX "id" "name"  tool_args INDEX "..."
 *   block_stop                    finish REASON "native"
 *   usage P C CACHED WRITE REASONING
 *   error STATUS "message"        native "event name" OUTPUT BYTES "data"
 * and a last line `# rc=ok|done|error` with what the decoder returned.
 * FORMAT is none, anthropic, gemini, openai or other. */
#ifndef SB_TEST_FORMAT_HARNESS_H
#define SB_TEST_FORMAT_HARNESS_H

#include "test_helpers.h"

#include <inttypes.h>
#include <strings.h>

#include "switchboard/codec.h"
#include "switchboard/sse.h"

extern const sb_codec_door_t sb_openai_chat_door; /* formats/openai */

/* ---- a route and names ------------------------------------------------------- */

typedef struct {
  const char *format, *display, *base_url;
  const char *model_id, *upstream_model;
  int64_t max_output;
  int reasons;
  uint32_t quirks;
} fmt_cfg_t;

typedef struct {
  sb_arena_t arena;
  sb_provider_t provider;
  sb_codec_route_t route;
  sb_answer_names_t names;
  sb_hub_req_t req;
  sb_buf_t body;       /* the upstream request's body */
  sb_buf_t dump;       /* events, one a line */
} fmt_t;

static sb_slice_t fmt_quote(sb_arena_t *a, const char *s)
{
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_json_escape(&b, s, strlen(s));
  sb_slice_t r = sb_arena_slice_dup(a, sb_buf_slice(&b));
  sb_buf_free(&b);
  return r;
}

static void fmt_init(fmt_t *f, const fmt_cfg_t *cfg)
{
  memset(f, 0, sizeof(*f));
  sb_arena_init(&f->arena, 4096, 0);
  sb_buf_init(&f->body, 1 << 24);
  sb_buf_init(&f->dump, 0);
  f->provider.name = cfg->format;
  f->provider.display_name = cfg->display;
  f->provider.format = cfg->format;
  f->provider.base_url = cfg->base_url;
  f->provider.auth_header = "Authorization";
  f->provider.auth_prefix = "Bearer ";
  f->provider.quirks = cfg->quirks;
  f->route.provider = &f->provider;
  f->route.upstream_model = sb_slice_z(cfg->upstream_model);
  f->route.model_id = sb_slice_z(cfg->model_id);
  f->route.max_output = cfg->max_output;
  f->route.reasons = cfg->reasons;
  f->names.id = SB_SLICE_LIT("\"gen-1-test\"");
  f->names.model = fmt_quote(&f->arena, cfg->model_id);
  f->names.provider = fmt_quote(&f->arena, cfg->display);
  f->names.created = SB_SLICE_LIT("1800000000");
  f->names.created_s = 1800000000;
}

static void fmt_free(fmt_t *f)
{
  sb_buf_free(&f->body);
  sb_buf_free(&f->dump);
  sb_arena_destroy(&f->arena);
}

/* The hub request of an OpenAI chat body, decoded by the OpenAI door. */
static void fmt_openai_req(fmt_t *f, const char *json)
{
  sb_json_t *root;
  sb_json_error_t e;
  char why[256] = "";
  char *copy = sb_arena_strndup(&f->arena, json, strlen(json));
  if (sb_json_parse(&f->arena, copy, strlen(copy), 0, &root, &e) != SB_OK)
    fail_msg("request JSON invalid at %zu: %s\n%s", e.offset, e.message, json);
  memset(&f->req, 0, sizeof(f->req));
  if (sb_openai_chat_door.envelope(root, &f->arena, &f->req, why,
                                   sizeof(why)) != SB_OK ||
      sb_openai_chat_door.decode(&f->req, &f->arena, why, sizeof(why)) != SB_OK)
    fail_msg("the OpenAI door refused the request: %s\n%s", why, json);
}

/* ---- requests ------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *in;   /* an OpenAI chat body */
  const char *want; /* the provider's body, or NULL when refused */
  const char *err;  /* a substring of the refusal's message */
} fmt_req_case_t;

SB_UNUSED static const char *fmt_header(const sb_codec_request_t *r,
                                        const char *name)
{
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

/* Build `f`'s request with `codec`; SB_OK and the body in f->body, or the
 * builder's status (r->error then says why). */
static sb_status_t fmt_build(fmt_t *f, const sb_codec_provider_t *codec,
                             bool passthrough, sb_codec_request_t *r)
{
  memset(r, 0, sizeof(*r));
  sb_buf_reset(&f->body);
  r->body = &f->body;
  return codec->request(&f->req, &f->route, passthrough, &f->arena, r);
}

SB_UNUSED static void fmt_request_cases(const fmt_cfg_t *cfg,
                                        const sb_codec_provider_t *codec,
                                        const fmt_req_case_t *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    fmt_t f;
    fmt_init(&f, cfg);
    fmt_openai_req(&f, cases[i].in);
    sb_codec_request_t r;
    sb_status_t rc = fmt_build(&f, codec, false, &r);
    if (cases[i].want != NULL) {
      if (rc != SB_OK)
        fail_msg("%s: refused: %s", cases[i].name,
                 r.error != NULL ? r.error : "(no message)");
      if (f.body.len != strlen(cases[i].want) ||
          memcmp(f.body.data, cases[i].want, f.body.len) != 0)
        fail_msg("%s: body\n%.*s\nwant\n%s", cases[i].name, (int)f.body.len,
                 f.body.data, cases[i].want);
      sb_json_error_t e;
      assert_int_equal(sb_json_validate(f.body.data, f.body.len, 0, &e), SB_OK);
    } else {
      if (rc != SB_ERROR)
        fail_msg("%s: accepted, want refused:\n%.*s", cases[i].name,
                 (int)f.body.len, f.body.data);
      if (r.error == NULL || strstr(r.error, cases[i].err) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", cases[i].name,
                 r.error ? r.error : "(none)", cases[i].err);
    }
    fmt_free(&f);
  }
}

/* ---- the events file -------------------------------------------------------------- */

static const char *const fmt_sig_names[] = {"none", "anthropic", "gemini",
                                            "openai", "other"};

static void fmt_jstr(sb_buf_t *b, sb_slice_t jtext)
{
  sb_buf_append(b, "\"", 1);
  sb_buf_append_slice(b, jtext);
  sb_buf_append(b, "\"", 1);
}

static void fmt_usage_line(sb_buf_t *b, const sb_usage_t *u)
{
  sb_buf_appendf(b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                 u->prompt, u->completion, u->cached, u->cache_write,
                 u->reasoning);
}

/* One event as a line of the events file. */
static void fmt_dump_event(sb_buf_t *b, const sb_hub_event_t *ev)
{
  const char *sig = fmt_sig_names[(size_t)ev->sig_format < 5 ? ev->sig_format : 0];
  switch (ev->kind) {
  case SB_HUB_EV_START:
    sb_buf_appendz(b, "start");
    if (ev->has_usage) {
      sb_buf_appendz(b, " usage ");
      fmt_usage_line(b, &ev->usage);
    }
    break;
  case SB_HUB_EV_TEXT:
    sb_buf_appendz(b, "text ");
    fmt_jstr(b, ev->text);
    break;
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_SIGNATURE:
    sb_buf_appendf(b, "%s %s ",
                   ev->kind == SB_HUB_EV_REASONING ? "reasoning" : "signature",
                   sig);
    fmt_jstr(b, ev->text);
    break;
  case SB_HUB_EV_REDACTED:
    sb_buf_appendf(b, "redacted %s ", sig);
    fmt_jstr(b, ev->id);
    sb_buf_appendz(b, " ");
    fmt_jstr(b, ev->text);
    break;
  case SB_HUB_EV_TOOL_START:
    sb_buf_appendf(b, "tool_start %" PRId64 " ", ev->index);
    fmt_jstr(b, ev->id);
    sb_buf_appendz(b, " ");
    fmt_jstr(b, ev->name);
    break;
  case SB_HUB_EV_TOOL_ARGS:
    sb_buf_appendf(b, "tool_args %" PRId64 " ", ev->index);
    fmt_jstr(b, ev->text);
    break;
  case SB_HUB_EV_BLOCK_STOP:
    sb_buf_appendz(b, "block_stop");
    break;
  case SB_HUB_EV_FINISH: {
    const char *name = sb_finish_name(ev->finish);
    sb_buf_appendf(b, "finish %s ", name != NULL ? name : "none");
    fmt_jstr(b, ev->native);
    break;
  }
  case SB_HUB_EV_USAGE:
    sb_buf_appendz(b, "usage ");
    fmt_usage_line(b, &ev->usage);
    break;
  case SB_HUB_EV_ERROR: {
    sb_buf_appendf(b, "error %d ", ev->status);
    sb_buf_t esc;
    sb_buf_init(&esc, 0);
    sb_json_escape(&esc, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
    sb_buf_append_slice(b, sb_buf_slice(&esc));
    sb_buf_free(&esc);
    break;
  }
  case SB_HUB_EV_NATIVE: {
    sb_buf_appendz(b, "native ");
    fmt_jstr(b, ev->name);
    sb_buf_appendf(b, " %d %" PRIu64 " ", ev->has_output ? 1 : 0,
                   ev->output_bytes);
    sb_buf_t esc;
    sb_buf_init(&esc, 0);
    sb_json_escape(&esc, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
    sb_buf_append_slice(b, sb_buf_slice(&esc));
    sb_buf_free(&esc);
    break;
  }
  }
  sb_buf_append(b, "\n", 1);
}

/* The sink of a decoding test: every event into f->dump, and checks that
 * hold for every format. */
static sb_status_t fmt_sink_emit(void *data, const sb_hub_event_t *ev)
{
  fmt_t *f = data;
  if (ev->kind == SB_HUB_EV_TEXT || ev->kind == SB_HUB_EV_REASONING ||
      ev->kind == SB_HUB_EV_TOOL_ARGS) {
    /* a jtext is the content of a JSON string */
    sb_buf_t q;
    sb_buf_init(&q, 0);
    sb_buf_append(&q, "\"", 1);
    sb_buf_append_slice(&q, ev->text);
    sb_buf_append(&q, "\"", 1);
    sb_json_error_t e;
    if (sb_json_validate(q.data, q.len, 0, &e) != SB_OK)
      fail_msg("an event's text is not a JSON string's content: %.*s",
               (int)q.len, q.data);
    sb_buf_free(&q);
  }
  fmt_dump_event(&f->dump, ev);
  return SB_OK;
}

/* Read a JSON string literal at *p (up to end): its contents (jtext). */
static sb_slice_t fmt_read_jstr(const char **p, const char *end)
{
  const char *s = *p;
  while (s < end && *s == ' ')
    s++;
  if (s >= end || *s != '"')
    fail_msg("events file: a string expected at '%.*s'", (int)(end - s), s);
  const char *q = s + 1;
  while (q < end && *q != '"')
    q += *q == '\\' ? 2 : 1;
  *p = q + 1;
  return sb_slice(s + 1, (size_t)(q - s - 1));
}

static int64_t fmt_read_int(const char **p, const char *end)
{
  const char *s = *p;
  while (s < end && *s == ' ')
    s++;
  char *e;
  long long v = strtoll(s, &e, 10);
  *p = e;
  return v;
}

static sb_hub_sig_t fmt_read_sig(const char **p, const char *end)
{
  const char *s = *p;
  while (s < end && *s == ' ')
    s++;
  for (size_t i = 0; i < 5; i++) {
    size_t n = strlen(fmt_sig_names[i]);
    if ((size_t)(end - s) >= n && memcmp(s, fmt_sig_names[i], n) == 0 &&
        (s + n == end || s[n] == ' ')) {
      *p = s + n;
      return (sb_hub_sig_t)i;
    }
  }
  fail_msg("events file: a format expected at '%.*s'", (int)(end - s), s);
  return SB_HUB_SIG_NONE;
}

static void fmt_read_usage(const char **p, const char *end, sb_usage_t *u)
{
  u->prompt = (uint64_t)fmt_read_int(p, end);
  u->completion = (uint64_t)fmt_read_int(p, end);
  u->cached = (uint64_t)fmt_read_int(p, end);
  u->cache_write = (uint64_t)fmt_read_int(p, end);
  u->reasoning = (uint64_t)fmt_read_int(p, end);
}

/* Parse one line of an events file; false for a comment line. The slices
 * point into the line (and, for error and native, into `a`). */
static bool fmt_parse_event(sb_arena_t *a, const char *line, const char *end,
                            sb_hub_event_t *ev)
{
  memset(ev, 0, sizeof(*ev));
  if (line >= end || *line == '#')
    return false;
  const char *sp = memchr(line, ' ', (size_t)(end - line));
  sb_slice_t word = sb_slice(line, sp != NULL ? (size_t)(sp - line)
                                              : (size_t)(end - line));
  const char *p = line + word.len;
  if (SB_SLICE_IS(word, "start")) {
    ev->kind = SB_HUB_EV_START;
    if (p < end) {
      p += 7; /* " usage " */
      ev->has_usage = true;
      fmt_read_usage(&p, end, &ev->usage);
    }
  } else if (SB_SLICE_IS(word, "text")) {
    ev->kind = SB_HUB_EV_TEXT;
    ev->text = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "reasoning") || SB_SLICE_IS(word, "signature")) {
    ev->kind = SB_SLICE_IS(word, "reasoning") ? SB_HUB_EV_REASONING
                                              : SB_HUB_EV_SIGNATURE;
    ev->sig_format = fmt_read_sig(&p, end);
    ev->text = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "redacted")) {
    ev->kind = SB_HUB_EV_REDACTED;
    ev->sig_format = fmt_read_sig(&p, end);
    ev->id = fmt_read_jstr(&p, end);
    ev->text = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "tool_start")) {
    ev->kind = SB_HUB_EV_TOOL_START;
    ev->index = fmt_read_int(&p, end);
    ev->id = fmt_read_jstr(&p, end);
    ev->name = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "tool_args")) {
    ev->kind = SB_HUB_EV_TOOL_ARGS;
    ev->index = fmt_read_int(&p, end);
    ev->text = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "block_stop")) {
    ev->kind = SB_HUB_EV_BLOCK_STOP;
  } else if (SB_SLICE_IS(word, "finish")) {
    ev->kind = SB_HUB_EV_FINISH;
    const char *s = p + 1;
    const char *sp2 = memchr(s, ' ', (size_t)(end - s));
    sb_slice_t reason = sb_slice(s, (size_t)(sp2 - s));
    ev->finish = sb_finish_parse(reason);
    p = sp2;
    ev->native = fmt_read_jstr(&p, end);
  } else if (SB_SLICE_IS(word, "usage")) {
    ev->kind = SB_HUB_EV_USAGE;
    fmt_read_usage(&p, end, &ev->usage);
  } else if (SB_SLICE_IS(word, "error") || SB_SLICE_IS(word, "native")) {
    bool native = SB_SLICE_IS(word, "native");
    ev->kind = native ? SB_HUB_EV_NATIVE : SB_HUB_EV_ERROR;
    if (native) {
      ev->name = fmt_read_jstr(&p, end);
      ev->has_output = fmt_read_int(&p, end) != 0;
      ev->output_bytes = (uint64_t)fmt_read_int(&p, end);
    } else {
      ev->status = (int)fmt_read_int(&p, end);
    }
    sb_slice_t j = fmt_read_jstr(&p, end);
    if (sb_json_unescape(a, j, &ev->text) != SB_OK)
      fail_msg("events file: out of memory");
  } else {
    fail_msg("events file: unknown event '%.*s'", (int)word.len, word.ptr);
  }
  return true;
}

/* ---- golden files -------------------------------------------------------------------- */

static void fmt_golden(const char *path, const char *suffix, const sb_buf_t *got)
{
  char gpath[512];
  snprintf(gpath, sizeof(gpath), "%s.%s", path, suffix);
  if (getenv("SB_UPDATE_GOLDEN") != NULL) {
    FILE *fp = fopen(gpath, "wb");
    assert_non_null(fp);
    fwrite(got->data, 1, got->len, fp);
    fclose(fp);
    return;
  }
  size_t n = 0;
  char *want = read_file(gpath, &n);
  if (want == NULL)
    fail_msg("%s is missing (run with SB_UPDATE_GOLDEN=1 and review it)", gpath);
  if (n != got->len || memcmp(want, got->data, n) != 0)
    fail_msg("%s: output differs from %s:\n%.*s", path, gpath, (int)got->len,
             got->data);
  free(want);
}

/* ---- answers, provider side ------------------------------------------------------------ */

typedef struct {
  fmt_t *f;
  const sb_codec_provider_t *codec;
  sb_codec_answer_t an;
  sb_arena_t scratch;
  bool done;
} fmt_answer_t;

static void fmt_answer_init(fmt_answer_t *t, fmt_t *f,
                            const sb_codec_provider_t *codec, bool passthrough)
{
  memset(t, 0, sizeof(*t));
  t->f = f;
  t->codec = codec;
  sb_arena_init(&t->scratch, 4096, 0);
  t->an.req = &f->req;
  t->an.route = &f->route;
  t->an.names = &f->names;
  t->an.arena = &f->arena;
  t->an.scratch = &t->scratch;
  t->an.sink.emit = fmt_sink_emit;
  t->an.sink.data = f;
  t->an.passthrough = passthrough;
}

static sb_status_t fmt_feed_event(void *data, const sb_sse_event_t *ev)
{
  fmt_answer_t *t = data;
  if (t->done)
    return SB_OK; /* nothing after the end marker matters */
  sb_arena_reset(&t->scratch);
  sb_status_t rc = t->codec->event(&t->an, ev);
  if (rc == SB_DONE)
    t->done = true;
  return rc == SB_DONE ? SB_OK : rc;
}

static void fmt_outcome(fmt_answer_t *t, sb_status_t rc)
{
  sb_buf_appendf(&t->f->dump, "# rc=%s\n",
                 rc != SB_OK ? "error" : t->done ? "done" : "ok");
}

/* `text` fed whole to `codec` as a provider's stream; the decoder's
 * status, the events in f->dump. */
SB_UNUSED static sb_status_t fmt_feed(fmt_t *f, const sb_codec_provider_t *codec,
                                      const char *text, bool passthrough)
{
  fmt_answer_t t;
  fmt_answer_init(&t, f, codec, passthrough);
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  p.data_join = ' ';
  sb_status_t rc = sb_sse_feed(&p, text, strlen(text), fmt_feed_event, &t);
  sb_sse_free(&p);
  sb_arena_destroy(&t.scratch);
  return rc;
}

/* The request `req_json` (an OpenAI chat body) is decoded for each run;
 * the stream at `path` is fed cut at every byte; each cut gives the same
 * events, which are the golden `<path>.events`. */
SB_UNUSED static void fmt_check_stream(const fmt_cfg_t *cfg,
                                       const sb_codec_provider_t *codec,
                                       const char *path, const char *req_json,
                                       bool passthrough)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  sb_buf_t first;
  sb_buf_init(&first, 0);
  for (size_t cut = 0; cut <= n; cut++) {
    fmt_t f;
    fmt_init(&f, cfg);
    fmt_openai_req(&f, req_json);
    fmt_answer_t t;
    fmt_answer_init(&t, &f, codec, passthrough);
    sb_sse_parser_t p;
    sb_sse_init(&p, 1 << 20);
    p.data_join = ' ';
    sb_status_t rc = sb_sse_feed(&p, d, cut, fmt_feed_event, &t);
    if (rc == SB_OK)
      rc = sb_sse_feed(&p, d + cut, n - cut, fmt_feed_event, &t);
    if (rc == SB_OK)
      rc = sb_sse_feed(&p, "\n\n", 2, fmt_feed_event, &t); /* a last event */
    sb_sse_free(&p);
    fmt_outcome(&t, rc);
    if (cut == 0)
      sb_buf_append_slice(&first, sb_buf_slice(&f.dump));
    else if (f.dump.len != first.len ||
             memcmp(f.dump.data, first.data, first.len) != 0)
      fail_msg("%s: a cut at byte %zu changes the events:\n%.*s\nvs\n%.*s",
               path, cut, (int)f.dump.len, f.dump.data, (int)first.len,
               first.data);
    sb_arena_destroy(&t.scratch);
    fmt_free(&f);
  }
  fmt_golden(path, passthrough ? "passthrough.events" : "events", &first);
  sb_buf_free(&first);
  free(d);
}

/* A whole body at `path` through the format's response decoder. */
SB_UNUSED static void fmt_check_response(const fmt_cfg_t *cfg,
                                         const sb_codec_provider_t *codec,
                                         const char *path, const char *req_json,
                                         bool passthrough)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  fmt_t f;
  fmt_init(&f, cfg);
  fmt_openai_req(&f, req_json);
  fmt_answer_t t;
  fmt_answer_init(&t, &f, codec, passthrough);
  sb_status_t rc = codec->response(&t.an, sb_slice(d, n));
  fmt_outcome(&t, rc);
  fmt_golden(path, passthrough ? "passthrough.events" : "events", &f.dump);
  sb_arena_destroy(&t.scratch);
  fmt_free(&f);
  free(d);
}

/* ---- answers, client side --------------------------------------------------------------- */

/* How a test makes its hub request from a body: a door's decoding
 * (fmt_openai_req for the OpenAI door's). */
typedef void (*fmt_req_fn)(fmt_t *f, const char *json);

/* The events of `events_path` through `enc`, begun with the request
 * `decode` makes of `json` (none when `decode` is NULL); the bytes it
 * writes (each event's, then the end's) are the golden
 * `<events_path>.<suffix>`. The end reports the last usage and finish of
 * the file and a cost of 0.000123 USD. fmt_check_encoder: without a
 * request. */
SB_UNUSED static void fmt_check_encoder_req(const fmt_cfg_t *cfg,
                                            const sb_codec_encoder_t *enc,
                                            fmt_req_fn decode,
                                            const char *json,
                                            const char *events_path,
                                            const char *suffix, bool stream,
                                            bool passthrough)
{
  size_t n = 0;
  char *d = read_file(events_path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", events_path);
  fmt_t f;
  fmt_init(&f, cfg);
  if (decode != NULL)
    decode(&f, json);
  void *st = sb_arena_calloc(&f.arena, enc->state_size);
  assert_non_null(st);
  enc->begin(st, &f.arena, &f.req, &f.names, stream, passthrough);
  sb_buf_t out;
  sb_buf_init(&out, 0);
  sb_usage_t usage;
  memset(&usage, 0, sizeof(usage));
  sb_answer_end_t end;
  memset(&end, 0, sizeof(end));
  end.usage = &usage;
  end.cost = SB_SLICE_LIT("0.000123");
  for (const char *line = d, *stop = d + n; line < stop;) {
    const char *nl = memchr(line, '\n', (size_t)(stop - line));
    const char *le = nl != NULL ? nl : stop;
    sb_hub_event_t ev;
    if (fmt_parse_event(&f.arena, line, le, &ev)) {
      if (ev.kind == SB_HUB_EV_USAGE)
        usage = ev.usage;
      if (ev.kind == SB_HUB_EV_FINISH) {
        end.finish = ev.finish;
        end.native_finish = ev.native;
      }
      if (ev.kind == SB_HUB_EV_ERROR) {
        end.error_status = ev.status;
        end.error_message = ev.text;
      }
      assert_int_equal(enc->event(st, &ev, &out), SB_OK);
    }
    line = le + 1;
  }
  assert_int_equal(enc->end(st, &end, &out), SB_OK);
  fmt_golden(events_path, suffix, &out);
  sb_buf_free(&out);
  fmt_free(&f);
  free(d);
}

SB_UNUSED static void fmt_check_encoder(const fmt_cfg_t *cfg,
                                        const sb_codec_encoder_t *enc,
                                        const char *events_path,
                                        const char *suffix, bool stream,
                                        bool passthrough)
{
  fmt_check_encoder_req(cfg, enc, NULL, NULL, events_path, suffix, stream,
                        passthrough);
}

/* ---- a provider's answer through a door's encoder ------------------------------------ */

/* A sink that hands every event to an encoder at once, keeping the usage
 * and finish for the end, as the gateway's call does. */
typedef struct {
  const sb_codec_encoder_t *enc;
  void *st;
  sb_buf_t out;
  sb_usage_t usage;
  sb_answer_end_t end;
  sb_arena_t *a;
} fmt_pipe_t;

static sb_status_t fmt_pipe_emit(void *data, const sb_hub_event_t *ev)
{
  fmt_pipe_t *p = data;
  if (ev->kind == SB_HUB_EV_USAGE) {
    p->usage = ev->usage;
    p->end.usage_json = sb_arena_slice_dup(p->a, ev->usage_json);
  }
  if (ev->kind == SB_HUB_EV_FINISH) {
    p->end.finish = ev->finish;
    p->end.native_finish = sb_arena_slice_dup(p->a, ev->native);
  }
  if (ev->kind == SB_HUB_EV_ERROR) {
    p->end.error_status = ev->status;
    p->end.error_message = sb_arena_slice_dup(p->a, ev->text);
  }
  return p->enc->event(p->st, ev, &p->out);
}

/* One run of the chain below, a stream fed cut at byte `cut`; the
 * client's bytes in `out`. */
static void fmt_chain_run(const fmt_cfg_t *cfg, const sb_codec_provider_t *codec,
                          const sb_codec_encoder_t *enc, fmt_req_fn decode,
                          const char *req_json, const char *d, size_t n,
                          bool stream, size_t cut, bool passthrough,
                          bool keep_usage_json, sb_buf_t *out)
{
  fmt_t f;
  fmt_init(&f, cfg);
  decode(&f, req_json);
  f.req.stream = stream;
  fmt_pipe_t pipe;
  memset(&pipe, 0, sizeof(pipe));
  pipe.enc = enc;
  pipe.a = &f.arena;
  pipe.st = sb_arena_calloc(&f.arena, enc->state_size);
  sb_buf_init(&pipe.out, 0);
  pipe.end.usage = &pipe.usage;
  pipe.end.cost = SB_SLICE_LIT("0.000123");
  enc->begin(pipe.st, &f.arena, &f.req, &f.names, stream, passthrough);
  fmt_answer_t t;
  fmt_answer_init(&t, &f, codec, passthrough);
  t.an.sink.emit = fmt_pipe_emit;
  t.an.sink.data = &pipe;
  sb_status_t rc;
  if (stream) {
    sb_sse_parser_t p;
    sb_sse_init(&p, 1 << 20);
    p.data_join = ' ';
    rc = sb_sse_feed(&p, d, cut, fmt_feed_event, &t);
    if (rc == SB_OK)
      rc = sb_sse_feed(&p, d + cut, n - cut, fmt_feed_event, &t);
    if (rc == SB_OK)
      rc = sb_sse_feed(&p, "\n\n", 2, fmt_feed_event, &t);
    sb_sse_free(&p);
  } else {
    rc = codec->response(&t.an, sb_slice(d, n));
  }
  (void)rc;
  if (!keep_usage_json)
    pipe.end.usage_json = SB_NULL_SLICE;
  assert_int_equal(enc->end(pipe.st, &pipe.end, &pipe.out), SB_OK);
  sb_buf_append_slice(out, sb_buf_slice(&pipe.out));
  sb_buf_free(&pipe.out);
  sb_arena_destroy(&t.scratch);
  fmt_free(&f);
}

/* The answer at `path` (a stream when it ends in .sse, else a body) through
 * `codec` and then `enc`, for the request `decode` makes of `req_json`; a
 * stream is fed cut at every byte, and each cut gives the same bytes,
 * which are the golden `<path>.<suffix>`. `keep_usage_json`: the
 * provider's usage object goes to the end (the door's format is the
 * provider's). Cost: 0.000123. fmt_check_chain: for an OpenAI chat body. */
SB_UNUSED static void fmt_check_chain_req(const fmt_cfg_t *cfg,
                                          const sb_codec_provider_t *codec,
                                          const sb_codec_encoder_t *enc,
                                          fmt_req_fn decode,
                                          const char *path,
                                          const char *req_json,
                                          bool passthrough,
                                          bool keep_usage_json,
                                          const char *suffix)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  size_t pl = strlen(path);
  bool stream = pl > 4 && strcmp(path + pl - 4, ".sse") == 0;
  sb_buf_t first, out;
  sb_buf_init(&first, 0);
  sb_buf_init(&out, 0);
  for (size_t cut = 0; cut <= (stream ? n : 0); cut++) {
    sb_buf_t *into = cut == 0 ? &first : &out;
    sb_buf_reset(into);
    fmt_chain_run(cfg, codec, enc, decode, req_json, d, n, stream, cut,
                  passthrough, keep_usage_json, into);
    if (cut > 0 && (out.len != first.len ||
                    memcmp(out.data, first.data, first.len) != 0))
      fail_msg("%s: a cut at byte %zu changes the client's bytes:\n%.*s\nvs\n"
               "%.*s",
               path, cut, (int)out.len, out.data, (int)first.len, first.data);
  }
  fmt_golden(path, suffix, &first);
  sb_buf_free(&first);
  sb_buf_free(&out);
  free(d);
}

SB_UNUSED static void fmt_check_chain(const fmt_cfg_t *cfg,
                                      const sb_codec_provider_t *codec,
                                      const sb_codec_encoder_t *enc,
                                      const char *path, const char *req_json,
                                      bool passthrough, bool keep_usage_json,
                                      const char *suffix)
{
  fmt_check_chain_req(cfg, codec, enc, fmt_openai_req, path, req_json,
                      passthrough, keep_usage_json, suffix);
}

/* ---- decoded requests, dumped --------------------------------------------------- */

/* A door's decoding is checked as the hub request it gives, dumped a line
 * per message, block, tool and setting (fmt_hub_dump); fmt_q writes the
 * JSON in tests with ' for ". */

/* ' -> " in a copy in the arena */
SB_UNUSED static char *fmt_q(sb_arena_t *a, const char *s)
{
  char *d = sb_arena_strndup(a, s, strlen(s));
  for (char *p = d; *p; p++)
    if (*p == '\'')
      *p = '"';
  return d;
}

SB_UNUSED static const char *const fmt_role_names[] = {"system", "developer", "user",
                                         "assistant", "tool"};

SB_UNUSED static void fmt_dump_str(sb_buf_t *b, const char *label, sb_slice_t s)
{
  if (s.ptr == NULL)
    return;
  sb_buf_appendf(b, " %s\"%.*s\"", label, (int)s.len, s.ptr);
}

SB_UNUSED static void fmt_dump_raw(sb_buf_t *b, const char *label, sb_slice_t s)
{
  if (s.len > 0)
    sb_buf_appendf(b, " %s%.*s", label, (int)s.len, s.ptr);
}

/* One block a line: its kind and what it holds. */
SB_UNUSED static void fmt_dump_block(sb_buf_t *b, const sb_hub_block_t *k, int depth)
{
  static const char *const kinds[] = {
      "text", "image", "file", "audio", "tool_call", "tool_result",
      "reasoning", "redacted", "native"};
  sb_buf_appendf(b, "%*s%s", depth * 2, "", kinds[k->kind]);
  if (k->kind == SB_HUB_REASONING || k->kind == SB_HUB_REDACTED)
    sb_buf_appendf(b, " %s", fmt_sig_names[k->sig_format]);
  if (k->format != NULL)
    sb_buf_appendf(b, " %s", k->format);
  if (k->is_error)
    sb_buf_appendz(b, " error");
  fmt_dump_str(b, "id=", k->id);
  fmt_dump_str(b, "name=", k->name);
  fmt_dump_str(b, "", k->text);
  fmt_dump_str(b, "url=", k->url);
  fmt_dump_str(b, "media=", k->media_type);
  fmt_dump_str(b, "data=", k->data);
  fmt_dump_str(b, "sig=", k->signature);
  fmt_dump_raw(b, "args=", k->args);
  fmt_dump_raw(b, "", k->native);
  fmt_dump_raw(b, "cc=", k->cache_control);
  sb_buf_appendz(b, "\n");
  for (size_t i = 0; i < k->n_parts; i++)
    fmt_dump_block(b, &k->parts[i], depth + 1);
}

SB_UNUSED static void fmt_dump_num(sb_buf_t *b, const char *name, const sb_hub_num_t *n)
{
  if (n->set)
    sb_buf_appendf(b, "%s %.*s\n", name, (int)n->raw.len, n->raw.ptr);
}

/* The decoded request, a line per message, block, tool and setting (the
 * settings only when set). */
SB_UNUSED static void fmt_hub_dump(sb_buf_t *b, const sb_hub_req_t *r)
{
  static const char *const choices[] = {"unset", "auto", "none", "required",
                                        "tool"};
  static const char *const efforts[] = {"unset", "none", "minimal", "low",
                                        "medium", "high", "xhigh"};
  for (size_t i = 0; i < r->n_msgs; i++) {
    sb_buf_appendf(b, "%s\n", fmt_role_names[r->msgs[i].role]);
    for (size_t k = 0; k < r->msgs[i].n_blocks; k++)
      fmt_dump_block(b, &r->msgs[i].blocks[k], 1);
  }
  for (size_t i = 0; i < r->n_tools; i++) {
    const sb_hub_tool_t *t = &r->tools[i];
    sb_buf_appendz(b, t->kind == SB_HUB_TOOL_FUNCTION ? "tool function"
                                                      : "tool native");
    if (t->format != NULL)
      sb_buf_appendf(b, " %s", t->format);
    fmt_dump_str(b, "", t->name);
    fmt_dump_str(b, "", t->description);
    fmt_dump_raw(b, "", t->parameters);
    fmt_dump_raw(b, "", t->native);
    fmt_dump_raw(b, "cc=", t->cache_control);
    if (t->strict >= 0)
      sb_buf_appendf(b, " strict=%d", t->strict);
    sb_buf_appendz(b, "\n");
  }
  if (r->choice != SB_HUB_CHOICE_UNSET) {
    sb_buf_appendf(b, "choice %s", choices[r->choice]);
    fmt_dump_str(b, "", r->choice_name);
    sb_buf_appendz(b, "\n");
  }
  if (r->parallel_tool_calls >= 0)
    sb_buf_appendf(b, "parallel %d\n", r->parallel_tool_calls);
  const sb_hub_reasoning_t *re = &r->reasoning;
  if (re->enabled >= 0)
    sb_buf_appendf(b, "reasoning %d effort=%s budget=%lld%s\n", re->enabled,
                   efforts[re->effort], (long long)re->budget,
                   re->exclude ? " exclude" : "");
  if (r->response_format != SB_HUB_FORMAT_UNSET) {
    static const char *const formats[] = {"unset", "text", "json",
                                          "json_schema", "other"};
    sb_buf_appendf(b, "format %s", formats[r->response_format]);
    fmt_dump_str(b, "", r->schema_name);
    fmt_dump_raw(b, "", r->schema);
    sb_buf_appendz(b, "\n");
  }
  if (r->max_tokens > 0)
    sb_buf_appendf(b, "max_tokens %lld\n", (long long)r->max_tokens);
  if (r->stream)
    sb_buf_appendz(b, "stream\n");
  for (size_t i = 0; i < r->n_stop; i++)
    sb_buf_appendf(b, "stop \"%.*s\"\n", (int)r->stop[i].len, r->stop[i].ptr);
  fmt_dump_num(b, "temperature", &r->temperature);
  fmt_dump_num(b, "top_p", &r->top_p);
  fmt_dump_num(b, "top_k", &r->top_k);
  if (r->user.ptr != NULL)
    sb_buf_appendf(b, "user \"%.*s\"\n", (int)r->user.len, r->user.ptr);
}

#endif
