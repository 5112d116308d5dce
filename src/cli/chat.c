/* SPDX-License-Identifier: MIT */
/*
 * switchboard chat: talk to a running gateway from the terminal. Tokens are
 * printed as they arrive; the model, provider, tokens and cost go to stderr
 * at the end so stdout holds only the answer. Any failure prints a clear
 * message and exits non-zero.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "switchboard/arena.h"
#include "switchboard/cli.h"
#include "switchboard/json.h"
#include "switchboard/sse.h"

typedef struct {
  bool stream;
  sb_sse_parser_t sse;
  sb_buf_t body;     /* non-stream body, or an error body */
  long status;
  bool printed;      /* some content went to stdout */
  bool ended_nl;
  bool failed;
  char error[1024];
  sb_buf_t usage;    /* the final usage chunk */
  sb_buf_t model;
  sb_buf_t provider;
} chat_state_t;

static void print_content(chat_state_t *st, sb_slice_t s)
{
  if (s.len == 0)
    return;
  fwrite(s.ptr, 1, s.len, stdout);
  fflush(stdout);
  st->printed = true;
  st->ended_nl = s.ptr[s.len - 1] == '\n';
}

static void remember(sb_buf_t *b, sb_arena_t *a, const sb_json_t *v)
{
  sb_slice_t s;
  if (sb_json_is(v, SB_JSON_STRING) && sb_json_string(a, v, &s) == SB_OK) {
    sb_buf_reset(b);
    sb_buf_append(b, s.ptr, s.len);
  }
}

static void note_error(chat_state_t *st, sb_arena_t *a, const sb_json_t *err)
{
  const sb_json_t *msg = sb_json_get(err, "message");
  sb_slice_t m = SB_SLICE_LIT("unknown error");
  if (sb_json_is(err, SB_JSON_STRING))
    msg = err;
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(a, msg, &m);
  snprintf(st->error, sizeof(st->error), "%.*s", (int)m.len, m.ptr);
  st->failed = true;
}

static void show_tool_calls(chat_state_t *st, sb_arena_t *a,
                            const sb_json_t *calls, bool streamed)
{
  for (const sb_json_t *tc = sb_json_is(calls, SB_JSON_ARRAY) ? calls->child : NULL;
       tc != NULL; tc = tc->next) {
    const sb_json_t *fn = sb_json_get(tc, "function");
    sb_slice_t name = SB_NULL_SLICE, args = SB_NULL_SLICE;
    if (sb_json_is(sb_json_get(fn, "name"), SB_JSON_STRING))
      sb_json_string(a, sb_json_get(fn, "name"), &name);
    if (sb_json_is(sb_json_get(fn, "arguments"), SB_JSON_STRING))
      sb_json_string(a, sb_json_get(fn, "arguments"), &args);
    if (name.len > 0) {
      char line[512];
      int n = snprintf(line, sizeof(line), "%s[tool call] %.*s(", st->printed && !st->ended_nl ? "\n" : "",
                       (int)name.len, name.ptr);
      print_content(st, sb_slice(line, (size_t)n));
      if (!streamed) {
        print_content(st, args);
        print_content(st, SB_SLICE_LIT(")\n"));
      }
    } else if (streamed) {
      print_content(st, args);
    }
  }
}

static sb_status_t on_event(void *data, const sb_sse_event_t *ev)
{
  chat_state_t *st = data;
  if (SB_SLICE_IS(ev->data, "[DONE]"))
    return SB_OK;
  sb_arena_t a;
  sb_json_t *root;
  sb_arena_init(&a, 8192, 0);
  if (sb_json_parse(&a, ev->data.ptr, ev->data.len, 0, &root, NULL) != SB_OK) {
    snprintf(st->error, sizeof(st->error), "the gateway sent an invalid event");
    st->failed = true;
    sb_arena_destroy(&a);
    return SB_ERROR;
  }
  const sb_json_t *err = sb_json_get(root, "error");
  if (sb_json_truthy(err))
    note_error(st, &a, err);
  remember(&st->model, &a, sb_json_get(root, "model"));
  remember(&st->provider, &a, sb_json_get(root, "provider"));
  const sb_json_t *usage = sb_json_get(root, "usage");
  if (sb_json_is(usage, SB_JSON_OBJECT)) {
    sb_buf_reset(&st->usage);
    sb_buf_append(&st->usage, usage->raw.ptr, usage->raw.len);
  }
  const sb_json_t *delta = sb_json_get(sb_json_at(sb_json_get(root, "choices"), 0), "delta");
  const sb_json_t *content = sb_json_get(delta, "content");
  sb_slice_t s;
  if (sb_json_is(content, SB_JSON_STRING) &&
      sb_json_string(&a, content, &s) == SB_OK)
    print_content(st, s);
  show_tool_calls(st, &a, sb_json_get(delta, "tool_calls"), true);
  sb_arena_destroy(&a);
  return SB_OK;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
  chat_state_t *st = data;
  size_t len = size * n;
  if (st->status == 0)
    return 0;
  if (st->stream && st->status == 200) {
    if (sb_sse_feed(&st->sse, p, len, on_event, st) == SB_ERROR)
      return 0;
    return len;
  }
  return sb_buf_append(&st->body, p, len) == SB_OK ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
  chat_state_t *st = data;
  size_t len = size * n;
  int code;
  if (len > 9 && memcmp(p, "HTTP/", 5) == 0 &&
      sscanf(p, "HTTP/%*s %d", &code) == 1)
    st->status = code;
  return len;
}

static void finish_non_stream(chat_state_t *st)
{
  sb_arena_t a;
  sb_json_t *root;
  sb_arena_init(&a, 8192, 0);
  if (sb_json_parse(&a, st->body.data, st->body.len, 0, &root, NULL) != SB_OK) {
    snprintf(st->error, sizeof(st->error), "HTTP %ld: %.*s", st->status,
             (int)SB_MIN(st->body.len, 300), st->body.data ? st->body.data : "");
    st->failed = true;
    sb_arena_destroy(&a);
    return;
  }
  const sb_json_t *err = sb_json_get(root, "error");
  if (st->status != 200 || sb_json_truthy(err)) {
    note_error(st, &a, err);
    sb_arena_destroy(&a);
    return;
  }
  remember(&st->model, &a, sb_json_get(root, "model"));
  remember(&st->provider, &a, sb_json_get(root, "provider"));
  const sb_json_t *usage = sb_json_get(root, "usage");
  if (usage != NULL)
    sb_buf_append(&st->usage, usage->raw.ptr, usage->raw.len);
  const sb_json_t *msg = sb_json_get(sb_json_at(sb_json_get(root, "choices"), 0), "message");
  sb_slice_t s;
  if (sb_json_is(sb_json_get(msg, "content"), SB_JSON_STRING) &&
      sb_json_string(&a, sb_json_get(msg, "content"), &s) == SB_OK)
    print_content(st, s);
  show_tool_calls(st, &a, sb_json_get(msg, "tool_calls"), false);
  sb_arena_destroy(&a);
}

static void print_summary(chat_state_t *st)
{
  sb_arena_t a;
  sb_json_t *u;
  int64_t in = 0, out = 0;
  sb_arena_init(&a, 4096, 0);
  if (st->usage.len > 0 &&
      sb_json_parse(&a, st->usage.data, st->usage.len, 0, &u, NULL) == SB_OK) {
    sb_json_int64(sb_json_get(u, "prompt_tokens"), &in);
    sb_json_int64(sb_json_get(u, "completion_tokens"), &out);
    const sb_json_t *cost = sb_json_get(u, "cost");
    fprintf(stderr, "(%.*s via %.*s: %lld in, %lld out, $%.*s)\n",
            (int)st->model.len, st->model.data ? st->model.data : "",
            (int)st->provider.len, st->provider.data ? st->provider.data : "",
            (long long)in, (long long)out,
            cost != NULL ? (int)cost->raw.len : 1,
            cost != NULL ? cost->raw.ptr : "0");
  }
  sb_arena_destroy(&a);
}

static const char usage[] =
    "switchboard chat -m MODEL [--system S] [--no-stream] PROMPT...\n"
    "  (PROMPT '-' or none reads standard input)";

int sb_cli_chat(int argc, char **argv)
{
  const char *model = getenv("SWITCHBOARD_MODEL"), *system = NULL;
  bool stream = true;
  sb_buf_t prompt;
  sb_buf_init(&prompt, 64u << 20);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) && i + 1 < argc)
      model = argv[++i];
    else if ((strcmp(a, "-s") == 0 || strcmp(a, "--system") == 0) && i + 1 < argc)
      system = argv[++i];
    else if (strcmp(a, "--no-stream") == 0)
      stream = false;
    else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "switchboard chat: unknown option '%s'\nusage: %s\n", a, usage);
      goto usage_error;
    } else {
      if (prompt.len > 0)
        sb_buf_append(&prompt, " ", 1);
      if (strcmp(a, "-") != 0)
        sb_buf_appendz(&prompt, a);
    }
  }
  if (model == NULL) {
    fprintf(stderr, "switchboard chat: -m MODEL is required\nusage: %s\n", usage);
    goto usage_error;
  }
  if (prompt.len == 0) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
      if (sb_buf_append(&prompt, buf, n) != SB_OK)
        break;
  }
  if (prompt.len == 0) {
    fprintf(stderr, "switchboard chat: no prompt given\n");
    goto usage_error;
  }

  sb_buf_t body;
  sb_jw_t w;
  sb_buf_init(&body, 128u << 20);
  sb_jw_init(&w, &body);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("model"), model, strlen(model));
  sb_jw_key_lit(&w, "messages");
  sb_jw_arr_begin(&w);
  if (system != NULL) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_lit(&w, "role", "system");
    sb_jw_kv_str(&w, SB_STRLIT("content"), system, strlen(system));
    sb_jw_obj_end(&w);
  }
  sb_jw_obj_begin(&w);
  sb_jw_kv_lit(&w, "role", "user");
  sb_jw_kv_str(&w, SB_STRLIT("content"), prompt.data, prompt.len);
  sb_jw_obj_end(&w);
  sb_jw_arr_end(&w);
  sb_jw_key_lit(&w, "stream");
  sb_jw_bool(&w, stream);
  sb_jw_obj_end(&w);
  sb_buf_cstr(&body);

  char url[2048];
  sb_cli_gateway_url(url, sizeof(url), "/v1/chat/completions");

  chat_state_t st;
  memset(&st, 0, sizeof(st));
  st.stream = stream;
  sb_sse_init(&st.sse, 16u << 20);
  sb_buf_init(&st.body, 64u << 20);
  sb_buf_init(&st.usage, 1 << 20);
  sb_buf_init(&st.model, 4096);
  sb_buf_init(&st.provider, 4096);

  CURL *e = curl_easy_init();
  struct curl_slist *h = sb_cli_gateway_headers();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "switchboard-cli/0.1");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(e);
  int exit_code = 0;
  if (rc != CURLE_OK && !st.failed) {
    fprintf(stderr, "switchboard chat: cannot reach the gateway at %s: %s\n",
            url, curl_easy_strerror(rc));
    exit_code = 1;
  } else {
    if (!stream || st.status != 200)
      finish_non_stream(&st);
    if (st.printed && !st.ended_nl)
      fputc('\n', stdout);
    if (st.failed) {
      fprintf(stderr, "switchboard chat: %s\n", st.error);
      exit_code = 1;
    } else {
      print_summary(&st);
    }
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  sb_sse_free(&st.sse);
  sb_buf_free(&st.body);
  sb_buf_free(&st.usage);
  sb_buf_free(&st.model);
  sb_buf_free(&st.provider);
  sb_buf_free(&body);
  sb_buf_free(&prompt);
  return exit_code;

usage_error:
  sb_buf_free(&prompt);
  return 2;
}
