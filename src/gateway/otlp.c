/* SPDX-License-Identifier: MIT */
/*
 * OTLP/HTTP JSON spans from access records; see include/switchboard/otlp.h.
 */
#include "switchboard/otlp.h"

#include <stdio.h>

#include "switchboard/json.h"
#include "switchboard/pricing.h"
#include "switchboard/trace.h"

#define SPAN_KIND_SERVER 2
#define SPAN_KIND_CLIENT 3
#define STATUS_UNSET 0
#define STATUS_ERROR 2

/* The longest spans of one request: a request span and every attempt's,
 * each with its fields at their cut. */
#define SPANS_MAX_BYTES ((SB_ACCESS_MAX_SPANS + 1) * 8192)

sb_slice_t sb_otlp_genai_provider(sb_slice_t p)
{
  static const struct {
    const char *name, *genai;
  } known[] = {{"gemini", "gcp.gemini"},
               {"mistral", "mistral_ai"},
               {"xai", "x_ai"},
               {"vertex", "gcp.vertex_ai"},
               {"bedrock", "aws.bedrock"}};
  for (size_t i = 0; i < SB_ARRAY_LEN(known); i++)
    if (sb_slice_eq(p, sb_slice_z(known[i].name)))
      return sb_slice_z(known[i].genai);
  return p;
}

sb_status_t sb_otlp_open(sb_buf_t *b, sb_slice_t service_name)
{
  sb_buf_appendz(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                    "{\"key\":\"service.name\",\"value\":{\"stringValue\":");
  sb_json_escape(b, service_name.ptr, service_name.len);
  return sb_buf_appendz(b, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
                           "\"switchboard\"},\"spans\":[");
}

sb_status_t sb_otlp_close(sb_buf_t *b) { return sb_buf_appendz(b, "]}]}]}"); }

/* ---- attributes ------------------------------------------------------------
 */

static void attr_str(sb_jw_t *w, const char *k, sb_slice_t v)
{
  if (v.len == 0)
    return;
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("key"), k, strlen(k));
  sb_jw_key_lit(w, "value");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("stringValue"), v.ptr, v.len);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

/* OTLP's JSON writes int64 values as decimal strings. */
static void attr_int(sb_jw_t *w, const char *k, int64_t v)
{
  char num[24];
  int n = snprintf(num, sizeof(num), "%lld", (long long)v);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("key"), k, strlen(k));
  sb_jw_key_lit(w, "value");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("intValue"), num, (size_t)n);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

static void attr_double(sb_jw_t *w, const char *k, double v)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("key"), k, strlen(k));
  sb_jw_key_lit(w, "value");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "doubleValue");
  sb_jw_double(w, v);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

/* A string array of one element (gen_ai.response.finish_reasons). */
static void attr_str_list1(sb_jw_t *w, const char *k, sb_slice_t v)
{
  if (v.len == 0)
    return;
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("key"), k, strlen(k));
  sb_jw_key_lit(w, "value");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "arrayValue");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "values");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("stringValue"), v.ptr, v.len);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

/* ---- spans
 * --------------------------------------------------------------------- */

static void hex_member(sb_jw_t *w, const char *k, const uint8_t *id, size_t n)
{
  char hex[32];
  sb_trace_hex(id, n, hex);
  sb_jw_kv_str(w, k, strlen(k), hex, 2 * n);
}

static void time_member(sb_jw_t *w, const char *k, uint64_t unix_ns)
{
  char num[24];
  sb_jw_kv_str(w, k, strlen(k), num, sb_u64_dec(num, unix_ns));
}

/* The opening of a span object, up to its attributes' array. */
static void span_begin(sb_jw_t *w, const sb_access_t *a, const uint8_t *span_id,
                       const uint8_t *parent, sb_slice_t op, sb_slice_t model,
                       int kind, uint64_t start_unix_ns, uint64_t end_unix_ns)
{
  char name[300];
  int n = snprintf(name, sizeof(name), "%.*s%s%.*s", (int)op.len,
                   op.ptr ? op.ptr : "", model.len > 0 ? " " : "",
                   (int)SB_MIN(model.len, 256), model.ptr ? model.ptr : "");
  sb_jw_obj_begin(w);
  hex_member(w, "traceId", a->trace_id, 16);
  hex_member(w, "spanId", span_id, 8);
  if (parent != NULL)
    hex_member(w, "parentSpanId", parent, 8);
  sb_jw_kv_str(w, SB_STRLIT("name"), name,
               (size_t)SB_MIN(n, (int)sizeof(name) - 1));
  sb_jw_kv_int(w, SB_STRLIT("kind"), kind);
  time_member(w, "startTimeUnixNano", start_unix_ns);
  time_member(w, "endTimeUnixNano", end_unix_ns);
  sb_jw_key_lit(w, "attributes");
  sb_jw_arr_begin(w);
}

static void span_end(sb_jw_t *w, bool error, sb_slice_t why)
{
  sb_jw_arr_end(w);
  sb_jw_key_lit(w, "status");
  sb_jw_obj_begin(w);
  if (error && why.len > 0)
    sb_jw_kv_str(w, SB_STRLIT("message"), why.ptr, why.len);
  sb_jw_kv_int(w, SB_STRLIT("code"), error ? STATUS_ERROR : STATUS_UNSET);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

/* "host:port" or "[v6]:port" into address and port (0: none). */
static void split_host(sb_slice_t h, sb_slice_t *addr, int64_t *port)
{
  *addr = h;
  *port = 0;
  const char *end = h.ptr + h.len;
  const char *colon = NULL;
  for (const char *p = h.ptr; p != NULL && p < end; p++)
    if (*p == ':')
      colon = p;
  if (h.len > 0 && h.ptr[0] == '[') {
    const char *close = memchr(h.ptr, ']', h.len);
    if (close == NULL)
      return;
    *addr = sb_slice(h.ptr + 1, (size_t)(close - h.ptr - 1));
    if (colon == NULL || colon < close)
      return;
  } else if (colon == NULL) {
    return;
  } else {
    *addr = sb_slice(h.ptr, (size_t)(colon - h.ptr));
  }
  uint64_t v;
  if (sb_slice_to_u64(sb_slice(colon + 1, (size_t)(end - colon - 1)), 65535,
                      &v) == SB_OK)
    *port = (int64_t)v;
}

static void attempt_span(sb_jw_t *w, const sb_access_t *a,
                         const sb_access_attempt_t *s)
{
  uint64_t t0 = (uint64_t)a->start_unix_ns;
  span_begin(w, a, s->span_id, a->span_id, a->operation, s->model,
             SPAN_KIND_CLIENT, t0 + s->start_ns, t0 + s->end_ns);
  attr_str(w, "gen_ai.operation.name", a->operation);
  attr_str(w, "gen_ai.provider.name", sb_otlp_genai_provider(s->provider));
  attr_str(w, "gen_ai.request.model", s->model);
  sb_slice_t addr;
  int64_t port;
  split_host(s->host, &addr, &port);
  attr_str(w, "server.address", addr);
  if (port > 0)
    attr_int(w, "server.port", port);
  if (s->status > 0)
    attr_int(w, "http.response.status_code", s->status);
  attr_str(w, "error.type", s->error_type);
  attr_str(w, "switchboard.provider", s->provider);
  attr_str(w, "switchboard.provider.format", s->format);
  if (s->first_byte_ns != 0)
    attr_int(w, "switchboard.time_to_first_byte_ns",
             (int64_t)(s->first_byte_ns - s->start_ns));
  span_end(w, s->error_type.len > 0, s->error_type);
}

static void request_span(sb_jw_t *w, const sb_access_t *a)
{
  uint64_t t0 = (uint64_t)a->start_unix_ns;
  span_begin(w, a, a->span_id, a->has_parent ? a->parent_span_id : NULL,
             a->operation, a->model_requested, SPAN_KIND_SERVER, t0,
             t0 + a->latency_ns);
  attr_str(w, "gen_ai.operation.name", a->operation);
  attr_str(w, "gen_ai.request.model", a->model_requested);
  attr_str(w, "gen_ai.response.model", a->model);
  attr_str(w, "gen_ai.response.id", a->id);
  if (a->provider.len > 0)
    attr_str(w, "gen_ai.provider.name", sb_otlp_genai_provider(a->provider));
  attr_str_list1(w, "gen_ai.response.finish_reasons", a->finish_reason);
  attr_int(w, "gen_ai.usage.input_tokens", (int64_t)a->usage.prompt);
  attr_int(w, "gen_ai.usage.output_tokens", (int64_t)a->usage.completion);
  attr_str(w, "http.request.method", a->method);
  attr_str(w, "url.path", a->path);
  attr_int(w, "http.response.status_code", a->status);
  char st[8];
  int sn = snprintf(st, sizeof(st), "%d", a->status);
  sb_slice_t err = a->error_type.len > 0 ? a->error_type
                   : a->status >= 500    ? sb_slice(st, (size_t)sn)
                                         : SB_NULL_SLICE;
  attr_str(w, "error.type", err);
  attr_str(w, "switchboard.door", a->door);
  attr_str(w, "switchboard.provider", a->provider);
  attr_str(w, "switchboard.key", a->key_label);
  attr_str(w, "switchboard.agent", a->agent);
  attr_int(w, "switchboard.attempts", a->attempts);
  attr_int(w, "switchboard.usage.cached_tokens", (int64_t)a->usage.cached);
  attr_int(w, "switchboard.usage.reasoning_tokens",
           (int64_t)a->usage.reasoning);
  attr_double(w, "switchboard.cost_usd",
              (double)a->cost_pico / (double)SB_PICO_PER_USD);
  attr_int(w, "switchboard.overhead_us", (int64_t)(a->overhead_ns / 1000));
  if (a->stream) {
    attr_int(w, "switchboard.stream", 1);
    if (a->ttft_ns != 0)
      attr_int(w, "switchboard.time_to_first_token_ns", (int64_t)a->ttft_ns);
  }
  span_end(w, a->status >= 500, err);
}

sb_status_t sb_otlp_spans(const sb_access_t *a, bool first, sb_buf_t *b)
{
  size_t start = b->len;
  sb_jw_t w;
  if (sb_buf_reserve(b, SPANS_MAX_BYTES) != SB_OK)
    return SB_ERROR;
  if (!first)
    sb_buf_append(b, ",", 1);
  sb_jw_init(&w, b);
  request_span(&w, a);
  sb_status_t rc = sb_jw_status(&w);
  for (size_t i = 0; i < a->n_spans && i < SB_ACCESS_MAX_SPANS; i++) {
    sb_buf_append(b, ",", 1);
    sb_jw_init(&w, b);
    attempt_span(&w, a, &a->spans[i]);
    if (sb_jw_status(&w) != SB_OK)
      rc = SB_ERROR;
  }
  if (rc != SB_OK) {
    b->len = start;
    return SB_ERROR;
  }
  return SB_OK;
}
