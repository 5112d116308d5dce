/* SPDX-License-Identifier: MIT */
/*
 * JSON parse speed on a realistic OpenAI chat-completions request body.
 *
 * The body (~130 KB) is built in memory from a fixed seed: a long system
 * prompt, 40 user/assistant turns of prose (some non-ASCII UTF-8, escaped
 * newlines and quotes, code blocks), tool definitions with JSON schemas and
 * assistant tool calls whose arguments are JSON-in-a-string. Two encodings
 * are measured: compact with raw UTF-8 (what JSON.stringify sends) and the
 * Python SDK's (", " / ": " separators, non-ASCII as \u escapes).
 *
 * Each measure is the median of 7 runs of at least 0.3 s each; a parse
 * iteration resets the arena (one kept chunk, as a request arena would be
 * reused). Build: see docs/json.md. With -DWITH_JANSSON (and -ljansson),
 * jansson is timed on the same body for comparison.
 *
 * bench/run.sh greps the first "json parse" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "switchboard/json.h"

#if defined(WITH_JANSSON)
#include <jansson.h>
#endif

#define RUNS 7
#define MIN_RUN_SECONDS 0.3

/* ---- a deterministic body -------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
  /* xorshift64*: deterministic, good enough for picking words */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static const char *const words[] = {
    "the", "gateway", "request", "model", "latency", "stream", "token",
    "provider", "budget", "configuration", "should", "return", "a", "of",
    "and", "with", "for", "response", "function", "value", "error",
    "retry", "upstream", "client", "because", "which", "when", "is",
    "message", "content", "system", "user", "assistant", "tool", "schema",
    "between", "every", "parser", "buffer", "memory", "thread", "queue",
    "café", "naïve", "façade", "Grüße", "日本語", "кириллица", "ελληνικά",
    "emoji 🚀", "résumé", "São Paulo", "Zürich", "—", "…",
};

/* Prose of about `n` bytes: words, punctuation, now and then a quote, a
 * newline or a code block, which the encoder escapes. */
static void prose(sb_buf_t *b, size_t n)
{
  size_t start = b->len;
  while (b->len - start < n) {
    uint32_t r = rnd(100);
    const char *w = words[rnd((uint32_t)SB_ARRAY_LEN(words))];
    sb_buf_appendz(b, w);
    if (r < 70)
      sb_buf_append(b, " ", 1);
    else if (r < 82)
      sb_buf_append(b, ", ", 2);
    else if (r < 90)
      sb_buf_append(b, ". ", 2);
    else if (r < 94)
      sb_buf_append(b, ".\n\n", 3);
    else if (r < 97)
      sb_buf_append(b, " \"quoted\" ", 10);
    else if (r < 99)
      sb_buf_appendz(b, "\n```c\nint main(void) {\n\treturn 0;\n}\n```\n");
    else
      sb_buf_appendz(b, " C:\\path\\to\\file ");
  }
}

static void text_member(sb_jw_t *w, const char *key, size_t n)
{
  sb_buf_t t;
  sb_buf_init(&t, 0);
  prose(&t, n);
  sb_jw_key(w, key, strlen(key));
  sb_jw_str(w, t.data, t.len);
  sb_buf_free(&t);
}

static void param(sb_jw_t *w, const char *name, const char *type,
                  const char *desc)
{
  sb_jw_key(w, name, strlen(name));
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_str(w, SB_STRLIT("description"), desc, strlen(desc));
  if (strcmp(type, "array") == 0) {
    sb_jw_key_lit(w, "items");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("string"));
    sb_jw_obj_end(w);
  }
  sb_jw_obj_end(w);
}

static void tools(sb_jw_t *w)
{
  static const char *const names[] = {
      "get_weather", "search_web", "run_sql_query", "create_calendar_event",
      "read_file", "send_email",
  };
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < SB_ARRAY_LEN(names); i++) {
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("function"));
    sb_jw_key_lit(w, "function");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("name"), names[i], strlen(names[i]));
    text_member(w, "description", 300);
    sb_jw_key_lit(w, "parameters");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("object"));
    sb_jw_key_lit(w, "properties");
    sb_jw_obj_begin(w);
    param(w, "query", "string", "What to look for, in natural language.");
    param(w, "limit", "integer", "Maximum number of results (1-100).");
    param(w, "tags", "array", "Labels to filter by.");
    param(w, "strict", "boolean", "Fail instead of guessing.");
    sb_jw_key_lit(w, "range");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("object"));
    sb_jw_key_lit(w, "properties");
    sb_jw_obj_begin(w);
    param(w, "from", "string", "ISO 8601 start, e.g. 2024-01-01T00:00:00Z");
    param(w, "to", "string", "ISO 8601 end");
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
    sb_jw_key_lit(w, "required");
    sb_jw_arr_begin(w);
    sb_jw_str_lit(w, "query");
    sb_jw_arr_end(w);
    sb_jw_key_lit(w, "additionalProperties");
    sb_jw_bool(w, false);
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
}

static void build_body(sb_buf_t *out)
{
  sb_jw_t w;
  char id[32];
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("model"), SB_STRLIT("openai/gpt-4o"));
  sb_jw_key_lit(&w, "messages");
  sb_jw_arr_begin(&w);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("system"));
  text_member(&w, "content", 8000);
  sb_jw_obj_end(&w);
  for (int turn = 0; turn < 40; turn++) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("user"));
    text_member(&w, "content", 700 + rnd(900));
    sb_jw_obj_end(&w);
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("assistant"));
    if (turn % 8 == 3) {
      /* a tool call and its result */
      snprintf(id, sizeof(id), "call_%08x", rnd(0x7fffffff));
      sb_jw_key_lit(&w, "content");
      sb_jw_null(&w);
      sb_jw_key_lit(&w, "tool_calls");
      sb_jw_arr_begin(&w);
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("id"), id, strlen(id));
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
      sb_jw_key_lit(&w, "function");
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("name"), SB_STRLIT("search_web"));
      sb_jw_kv_str(&w, SB_STRLIT("arguments"),
                   SB_STRLIT("{\"query\":\"latency of gateways in Zürich\","
                             "\"limit\":10,\"tags\":[\"perf\",\"c\"],"
                             "\"range\":{\"from\":\"2024-01-01\"}}"));
      sb_jw_obj_end(&w);
      sb_jw_obj_end(&w);
      sb_jw_arr_end(&w);
      sb_jw_obj_end(&w);
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("tool"));
      sb_jw_kv_str(&w, SB_STRLIT("tool_call_id"), id, strlen(id));
      text_member(&w, "content", 600);
    } else {
      text_member(&w, "content", 1000 + rnd(1300));
    }
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  tools(&w);
  sb_jw_kv_str(&w, SB_STRLIT("tool_choice"), SB_STRLIT("auto"));
  sb_jw_key_lit(&w, "temperature");
  sb_jw_double(&w, 0.7);
  sb_jw_kv_int(&w, SB_STRLIT("max_tokens"), 4096);
  sb_jw_key_lit(&w, "stream");
  sb_jw_bool(&w, true);
  sb_jw_key_lit(&w, "stream_options");
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "include_usage");
  sb_jw_bool(&w, true);
  sb_jw_obj_end(&w);
  sb_jw_kv_str(&w, SB_STRLIT("user"), SB_STRLIT("user-1234"));
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK) {
    fprintf(stderr, "json_bench: building the body failed\n");
    exit(1);
  }
}

/* The same document re-encoded the way Python's json.dumps does it by
 * default: ", " and ": " separators, non-ASCII as \uXXXX (surrogate pairs
 * for astral characters). Walks the DOM; strings are unescaped first. */
static void python_style(sb_arena_t *a, const sb_json_t *v, sb_buf_t *b)
{
  static const char hexd[] = "0123456789abcdef";
  switch (v->type) {
  case SB_JSON_OBJECT:
  case SB_JSON_ARRAY: {
    bool obj = v->type == SB_JSON_OBJECT;
    sb_buf_append(b, obj ? "{" : "[", 1);
    for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
      if (c != v->child)
        sb_buf_append(b, ", ", 2);
      if (obj) {
        sb_buf_append(b, "\"", 1);
        sb_buf_append_slice(b, c->key);
        sb_buf_append(b, "\": ", 3);
      }
      python_style(a, c, b);
    }
    sb_buf_append(b, obj ? "}" : "]", 1);
    return;
  }
  case SB_JSON_STRING: {
    sb_slice_t s;
    sb_buf_t tmp;
    if (sb_json_string(a, v, &s) != SB_OK)
      exit(1);
    sb_buf_init(&tmp, 0);
    sb_json_escape(&tmp, s.ptr, s.len);
    /* re-encode the non-ASCII of the escaped literal as \u escapes */
    const unsigned char *p = (const unsigned char *)tmp.data;
    const unsigned char *end = p + tmp.len;
    while (p < end) {
      if (*p < 0x80) {
        sb_buf_append(b, p++, 1);
        continue;
      }
      uint32_t cp;
      int k = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
      cp = *p & (0x7F >> k);
      for (int i = 1; i < k; i++)
        cp = cp << 6 | (p[i] & 0x3F);
      p += k;
      uint32_t units[2] = {cp, 0};
      int nu = 1;
      if (cp >= 0x10000) {
        units[0] = 0xD800 + ((cp - 0x10000) >> 10);
        units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
        nu = 2;
      }
      for (int i = 0; i < nu; i++) {
        char e[6] = {'\\', 'u', hexd[units[i] >> 12], hexd[(units[i] >> 8) & 15],
                     hexd[(units[i] >> 4) & 15], hexd[units[i] & 15]};
        sb_buf_append(b, e, 6);
      }
    }
    sb_buf_free(&tmp);
    return;
  }
  default:
    sb_buf_append_slice(b, v->raw);
    return;
  }
}

/* ---- timing ------------------------------------------------------------------ */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef enum { M_PARSE, M_PARSE_UNIQUE, M_VALIDATE, M_JANSSON } measure_t;

static sb_arena_t bench_arena;

static void once(measure_t m, const char *body, size_t len)
{
  sb_json_t *root;
  switch (m) {
  case M_PARSE:
    sb_arena_reset(&bench_arena);
    if (sb_json_parse(&bench_arena, body, len, 0, &root, NULL) != SB_OK)
      exit(1);
    break;
  case M_PARSE_UNIQUE: /* as the doors parse client requests */
    sb_arena_reset(&bench_arena);
    if (sb_json_parse_flags(&bench_arena, body, len, 0,
                            SB_JSON_REJECT_DUPLICATES, &root, NULL) != SB_OK)
      exit(1);
    break;
  case M_VALIDATE:
    if (sb_json_validate(body, len, 0, NULL) != SB_OK)
      exit(1);
    break;
  case M_JANSSON:
#if defined(WITH_JANSSON)
  {
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    if (j == NULL)
      exit(1);
    json_decref(j);
  }
#endif
    break;
  }
}

/* Median MB/s (10^6 bytes per second) over RUNS runs. */
static double measure(measure_t m, const char *body, size_t len)
{
  double rates[RUNS];
  for (int i = 0; i < 20; i++)
    once(m, body, len); /* warm caches and the arena's chunk */
  for (int r = 0; r < RUNS; r++) {
    size_t iters = 0;
    double t0 = now(), t;
    do {
      for (int i = 0; i < 16; i++)
        once(m, body, len);
      iters += 16;
      t = now() - t0;
    } while (t < MIN_RUN_SECONDS);
    rates[r] = (double)len * (double)iters / t / 1e6;
  }
  qsort(rates, RUNS, sizeof(rates[0]), cmp_double);
  return rates[RUNS / 2];
}

static void report(const char *what, const char *body, size_t len, measure_t m)
{
  printf("%s: %.1f KB body, median %.0f MB/s (%d runs)\n", what,
         (double)len / 1024.0, measure(m, body, len), RUNS);
  fflush(stdout);
}

int main(void)
{
  sb_buf_t body, py;
  sb_arena_t a;
  sb_json_t *root;
  sb_json_error_t err;

  sb_buf_init(&body, 0);
  build_body(&body);
  sb_arena_init(&a, 64 * 1024, 0);
  if (sb_json_parse(&a, body.data, body.len, 0, &root, &err) != SB_OK) {
    fprintf(stderr, "json_bench: the body does not parse: %s at %zu\n",
            err.message, err.offset);
    return 1;
  }
  sb_buf_init(&py, 0);
  python_style(&a, root, &py);

  /* 16 KB chunks: what a connection's request arena uses */
  sb_arena_init(&bench_arena, 16 * 1024, 0);
  report("json parse", body.data, body.len, M_PARSE);
  report("json parse, duplicate names refused", body.data, body.len,
         M_PARSE_UNIQUE);
  report("json validate", body.data, body.len, M_VALIDATE);
  report("json parse (python-sdk style)", py.data, py.len, M_PARSE);
  report("json parse, duplicate names refused (python-sdk style)", py.data,
         py.len, M_PARSE_UNIQUE);
  report("json validate (python-sdk style)", py.data, py.len, M_VALIDATE);
#if defined(WITH_JANSSON)
  report("jansson json_loadb", body.data, body.len, M_JANSSON);
#endif
  if (getenv("JSON_BENCH_DUMP") != NULL) {
    FILE *f = fopen(getenv("JSON_BENCH_DUMP"), "wb");
    if (f != NULL) {
      fwrite(body.data, 1, body.len, f);
      fclose(f);
    }
  }
  sb_arena_destroy(&bench_arena);
  sb_arena_destroy(&a);
  sb_buf_free(&py);
  sb_buf_free(&body);
  return 0;
}
