/* A call harness for the translating codecs' unit tests: a call with a
 * capturing sink, transcripts fed through the SSE parser with one cut at
 * every byte boundary, and golden files of the chunks produced.
 *
 * Golden files (`<transcript>.chunks`, one chunk per line, the usage and
 * finish recorded on a last "#" line) are compared byte for byte; run a
 * test with SB_UPDATE_GOLDEN=1 to rewrite them after a deliberate change,
 * then review the diff.
 *
 * The table and file checks are SB_UNUSED: a codec's test uses those that
 * fit it (the pass-through codec has no golden files). */
#ifndef SB_TEST_CODEC_HARNESS_H
#define SB_TEST_CODEC_HARNESS_H

#include "test_helpers.h"

#include <strings.h>

#include "switchboard/call.h"
#include "switchboard/worker.h"
#include "switchboard/catalog.h"

typedef struct {
  sb_buf_t chunks;   /* every chunk, each followed by "\n" */
  sb_buf_t response; /* non-stream response */
  int begun;
  int error_status;
  char error[512];
} capture_t;

static capture_t cap;

static void cap_response(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  sb_buf_append_slice(&cap.response, json);
}
static sb_status_t cap_begin(sb_call_t *c)
{
  (void)c;
  cap.begun++;
  return SB_OK;
}
static sb_status_t cap_chunk(sb_call_t *c, sb_slice_t json)
{
  (void)c;
  sb_buf_append_slice(&cap.chunks, json);
  sb_buf_append(&cap.chunks, "\n", 1);
  return SB_OK;
}
static void cap_end(sb_call_t *c) { (void)c; }
static void cap_error(sb_call_t *c, const sb_call_error_t *e)
{
  (void)c;
  cap.error_status = e->status;
  snprintf(cap.error, sizeof(cap.error), "%.*s", (int)e->message.len, e->message.ptr);
}
static bool cap_backlogged(sb_call_t *c)
{
  (void)c;
  return false;
}

static const sb_call_sink_t capture_sink = {
    .response = cap_response,
    .stream_begin = cap_begin,
    .stream_chunk = cap_chunk,
    .stream_end = cap_end,
    .error = cap_error,
    .backlogged = cap_backlogged,
};

typedef struct {
  sb_arena_t arena;
  sb_config_t cfg;
  sb_gateway_t gw;
  sb_provider_t provider;
  sb_model_t model;
  sb_call_t c;
  sb_worker_t worker;   /* only its counters are used */
  sb_http_exchange_t x; /* only its arena and extra_head are used */
  const char *keys[1];
} harness_t;

typedef struct {
  const sb_codec_t *codec;
  const char *format, *display, *base_url, *auth_header;
  const char *auth_prefix; /* NULL: none */
  const char *model_id, *upstream_model;
  const char *model_json; /* catalog entry, or NULL */
  const char *prompt_price, *completion_price, *cache_read_price, *cache_write_price;
} harness_cfg_t;

static const harness_cfg_t *hcfg;

static sb_slice_t quote_lit(sb_arena_t *a, const char *s)
{
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_json_escape(&b, s, strlen(s));
  sb_slice_t r = sb_arena_slice_dup(a, sb_buf_slice(&b));
  sb_buf_free(&b);
  return r;
}

static void harness_init(harness_t *h, const char *req_json)
{
  memset(h, 0, sizeof(*h));
  memset(&cap, 0, sizeof(cap));
  sb_buf_init(&cap.chunks, 0);
  sb_buf_init(&cap.response, 0);
  sb_arena_init(&h->arena, 4096, 0);
  h->cfg.max_body_bytes = 1 << 20;
  h->gw.config = &h->cfg;
  h->keys[0] = "sk-test";
  h->provider.name = hcfg->format;
  h->provider.display_name = hcfg->display;
  h->provider.format = hcfg->format;
  h->provider.codec = hcfg->codec;
  h->provider.base_url = hcfg->base_url;
  h->provider.keys = h->keys;
  h->provider.n_keys = 1;
  h->provider.auth_header = hcfg->auth_header;
  h->provider.auth_prefix = hcfg->auth_prefix != NULL ? hcfg->auth_prefix : "";
  sb_call_t *c = &h->c;
  c->arena = &h->arena;
  c->gw = &h->gw;
  c->worker = &h->worker;
  c->x = &h->x;
  sb_arena_init(&h->x.arena, 4096, 0);
  c->sink = &capture_sink;
  sb_buf_init(&c->up_body, 1 << 20);
  sb_buf_init(&c->up_resp, 1 << 20);
  sb_buf_init(&c->out, 1 << 20);
  sb_arena_init(&c->scratch, 4096, 0);
  c->route.provider = &h->provider;
  c->route.model_id = sb_slice_z(hcfg->model_id);
  c->route.upstream_model = sb_slice_z(hcfg->upstream_model);
  if (hcfg->model_json != NULL) {
    sb_json_t *mj;
    char *copy = sb_arena_strndup(&h->arena, hcfg->model_json, strlen(hcfg->model_json));
    assert_int_equal(sb_json_parse(&h->arena, copy, strlen(copy), 0, &mj, NULL), SB_OK);
    h->model.id = hcfg->model_id;
    h->model.json = mj;
    c->route.model = &h->model;
  }
  sb_price_parse(sb_slice_z(hcfg->prompt_price), &c->route.price.prompt);
  sb_price_parse(sb_slice_z(hcfg->completion_price), &c->route.price.completion);
  if (hcfg->cache_read_price != NULL) {
    sb_price_parse(sb_slice_z(hcfg->cache_read_price), &c->route.price.cache_read);
    c->route.price.has_cache_read = true;
  }
  if (hcfg->cache_write_price != NULL) {
    sb_price_parse(sb_slice_z(hcfg->cache_write_price), &c->route.price.cache_write);
    c->route.price.has_cache_write = true;
  }
  c->j_id = SB_SLICE_LIT("\"gen-1-test\"");
  c->j_model = quote_lit(&h->arena, hcfg->model_id);
  c->j_provider = quote_lit(&h->arena, hcfg->display);
  c->j_created = SB_SLICE_LIT("1800000000");
  snprintf(c->id, sizeof(c->id), "gen-1-test");
  c->api = "chat";
  if (req_json != NULL) {
    sb_json_t *req;
    char *copy = sb_arena_strndup(&h->arena, req_json, strlen(req_json));
    sb_json_error_t e;
    if (sb_json_parse(&h->arena, copy, strlen(copy), 0, &req, &e) != SB_OK)
      fail_msg("request JSON invalid at %zu: %s\n%s", e.offset, e.message, req_json);
    c->req = req;
    c->req_raw = sb_slice_z(copy);
    c->stream = sb_json_is(sb_json_get(req, "stream"), SB_JSON_TRUE);
  }
}

static void harness_free(harness_t *h)
{
  sb_buf_free(&h->c.up_body);
  sb_buf_free(&h->c.up_resp);
  sb_buf_free(&h->c.out);
  sb_arena_destroy(&h->c.scratch);
  sb_arena_destroy(&h->x.arena);
  sb_arena_destroy(&h->arena);
  sb_buf_free(&cap.chunks);
  sb_buf_free(&cap.response);
}

static const char *header(const sb_upstream_request_t *r, const char *name)
{
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

/* ---- request translation tables ------------------------------------ */

typedef struct {
  const char *name;
  const char *in;   /* OpenAI request */
  const char *want; /* the provider's body, or NULL when refused */
  const char *err;  /* a substring of the 400's message when refused */
} req_case_t;

SB_UNUSED static void check_request_cases(const req_case_t *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    harness_t h;
    harness_init(&h, cases[i].in);
    sb_upstream_request_t r;
    memset(&r, 0, sizeof(r));
    sb_status_t rc = hcfg->codec->chat_request(&h.c, &r);
    if (cases[i].want != NULL) {
      if (rc != SB_OK)
        fail_msg("%s: refused: %s", cases[i].name,
                 h.c.codec_error ? h.c.codec_error : "(no message)");
      if (r.body.len != strlen(cases[i].want) ||
          memcmp(r.body.ptr, cases[i].want, r.body.len) != 0)
        fail_msg("%s: body\n%.*s\nwant\n%s", cases[i].name, (int)r.body.len, r.body.ptr,
                 cases[i].want);
      sb_json_error_t e;
      assert_int_equal(sb_json_validate(r.body.ptr, r.body.len, 0, &e), SB_OK);
    } else {
      if (rc != SB_ERROR)
        fail_msg("%s: accepted, want refused:\n%.*s", cases[i].name, (int)r.body.len,
                 r.body.ptr);
      if (h.c.codec_error == NULL || strstr(h.c.codec_error, cases[i].err) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", cases[i].name,
                 h.c.codec_error ? h.c.codec_error : "(none)", cases[i].err);
    }
    harness_free(&h);
  }
}

/* ---- transcripts at every split --------------------------------------- */

/* Build the upstream request first, as a real call does (a codec may keep
 * state from it). */
static void prepare(harness_t *h)
{
  sb_upstream_request_t r;
  memset(&r, 0, sizeof(r));
  if (hcfg->codec->chat_request(&h->c, &r) != SB_OK)
    fail_msg("the request was refused: %s", h->c.codec_error ? h->c.codec_error : "?");
  h->c.n_up_headers = 0;
}

static sb_status_t feed_event(void *data, const sb_sse_event_t *ev)
{
  harness_t *h = data;
  sb_arena_reset(&h->c.scratch);
  sb_status_t rc = hcfg->codec->chat_event(&h->c, ev);
  if (rc == SB_DONE)
    h->c.saw_done = true;
  return rc == SB_DONE ? SB_OK : rc;
}

static sb_status_t run_stream(harness_t *h, const char *d, size_t n, size_t cut)
{
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  sb_status_t rc = sb_sse_feed(&p, d, cut, feed_event, h);
  if (rc == SB_OK)
    rc = sb_sse_feed(&p, d + cut, n - cut, feed_event, h);
  if (rc == SB_OK)
    rc = sb_sse_feed(&p, "\n\n", 2, feed_event, h); /* flush a last event */
  sb_sse_free(&p);
  return rc;
}

/* The output of one run in golden form: the chunks, then a "#" line with
 * the outcome. */
static void outcome(harness_t *h, sb_status_t rc, sb_buf_t *out)
{
  sb_buf_reset(out);
  sb_buf_append(out, cap.chunks.data, cap.chunks.len);
  sb_call_t *c = &h->c;
  sb_buf_appendf(out,
                 "# rc=%s done=%d finish=%s native=%s usage=%d prompt=%llu "
                 "completion=%llu cached=%llu cache_write=%llu reasoning=%llu",
                 rc == SB_OK ? "ok" : "error", c->saw_done, c->finish_reason,
                 c->native_finish_reason, c->usage_known, (unsigned long long)c->usage.prompt,
                 (unsigned long long)c->usage.completion, (unsigned long long)c->usage.cached,
                 (unsigned long long)c->usage.cache_write,
                 (unsigned long long)c->usage.reasoning);
  if (c->stream_failed)
    sb_buf_appendf(out, " error=%d:%s", c->stream_error_code, c->stream_error);
  sb_buf_append(out, "\n", 1);
}

static void check_golden(const char *path, const sb_buf_t *got)
{
  char gpath[512];
  snprintf(gpath, sizeof(gpath), "%s.chunks", path);
  if (getenv("SB_UPDATE_GOLDEN") != NULL) {
    FILE *f = fopen(gpath, "wb");
    assert_non_null(f);
    fwrite(got->data, 1, got->len, f);
    fclose(f);
    return;
  }
  size_t n = 0;
  char *want = read_file(gpath, &n);
  if (want == NULL)
    fail_msg("%s is missing (run with SB_UPDATE_GOLDEN=1 and review it)", gpath);
  if (n != got->len || memcmp(want, got->data, n) != 0)
    fail_msg("%s: output differs from the golden file:\n%.*s", path, (int)got->len,
             got->data);
  free(want);
}

/* Feed `path` cut at every byte; every cut gives the golden output. */
SB_UNUSED static void check_transcript(const char *path, const char *req)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  sb_buf_t first, again;
  sb_buf_init(&first, 0);
  sb_buf_init(&again, 0);
  for (size_t cut = 0; cut <= n; cut++) {
    harness_t h;
    harness_init(&h, req);
    prepare(&h);
    sb_status_t rc = run_stream(&h, d, n, cut);
    outcome(&h, rc, cut == 0 ? &first : &again);
    if (cut > 0 && (again.len != first.len || memcmp(again.data, first.data, first.len) != 0))
      fail_msg("%s: a cut at byte %zu changes the output:\n%.*s\nvs\n%.*s", path, cut,
               (int)again.len, again.data, (int)first.len, first.data);
    /* every chunk is valid JSON with the gateway's envelope */
    if (cut == 0) {
      sb_arena_t a;
      sb_arena_init(&a, 4096, 0);
      for (char *line = cap.chunks.data, *end = cap.chunks.data + cap.chunks.len;
           line != NULL && line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        sb_json_t *chunk;
        assert_int_equal(sb_json_parse(&a, line, (size_t)(nl - line), 0, &chunk, NULL),
                         SB_OK);
        assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "id"), "gen-1-test"));
        assert_true(SB_JSON_STR_IS(sb_json_get(chunk, "object"), "chat.completion.chunk"));
        line = nl + 1;
      }
      sb_arena_destroy(&a);
    }
    harness_free(&h);
  }
  check_golden(path, &first);
  sb_buf_free(&first);
  sb_buf_free(&again);
  free(d);
}

/* A non-stream body through chat_response: the golden holds the response
 * (or the error). */
SB_UNUSED static void check_response(const char *path, const char *req)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  if (d == NULL)
    fail_msg("cannot read %s", path);
  harness_t h;
  harness_init(&h, req);
  prepare(&h);
  hcfg->codec->chat_response(&h.c, sb_slice(d, n));
  sb_buf_t out;
  sb_buf_init(&out, 0);
  if (cap.response.len > 0) {
    sb_json_error_t e;
    assert_int_equal(sb_json_validate(cap.response.data, cap.response.len, 0, &e), SB_OK);
    sb_buf_append(&out, cap.response.data, cap.response.len);
  } else {
    sb_buf_appendf(&out, "error %d: %s", cap.error_status, cap.error);
  }
  sb_buf_appendf(&out, "\n# finish=%s native=%s cost_pico=%lld\n", h.c.finish_reason,
                 h.c.native_finish_reason, (long long)h.c.cost_pico);
  check_golden(path, &out);
  sb_buf_free(&out);
  harness_free(&h);
  free(d);
}

/* ---- response and error-body tables ---------------------------------- */

typedef struct {
  const char *body, *contains; /* a bad 2xx body; a substring of the 502's message */
} resp_error_case_t;

SB_UNUSED static void check_response_errors(const resp_error_case_t *cases, size_t n, const char *req)
{
  for (size_t i = 0; i < n; i++) {
    harness_t h;
    harness_init(&h, req);
    hcfg->codec->chat_response(&h.c, sb_slice_z(cases[i].body));
    assert_int_equal(cap.error_status, 502);
    assert_int_equal(cap.response.len, 0);
    if (strstr(cap.error, cases[i].contains) == NULL)
      fail_msg("case %zu: %s", i, cap.error);
    harness_free(&h);
  }
}

typedef struct {
  const char *body, *message, *code; /* code "" when the body names none */
} error_info_case_t;

SB_UNUSED static void check_error_info(const error_info_case_t *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    harness_t h;
    sb_slice_t m, c;
    harness_init(&h, NULL);
    hcfg->codec->error_info(&h.c, sb_slice_z(cases[i].body), &m, &c);
    assert_slice_equal(m, cases[i].message);
    assert_slice_equal(c.ptr ? c : SB_SLICE_LIT(""), cases[i].code);
    harness_free(&h);
  }
}

/* Each stream, whole, fails the call with a 502 stream error. */
SB_UNUSED static void check_stream_violations(const char *const *bad, size_t n, const char *req)
{
  for (size_t i = 0; i < n; i++) {
    harness_t h;
    harness_init(&h, req);
    assert_int_equal(run_stream(&h, bad[i], strlen(bad[i]), 0), SB_ERROR);
    assert_true(h.c.stream_failed);
    assert_int_equal(h.c.stream_error_code, 502);
    harness_free(&h);
  }
}

#endif
