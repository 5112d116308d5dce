/* SPDX-License-Identifier: MIT */
/* The access record: packed and unpacked, rendered as a JSON or text log
 * line and as OTLP spans (src/gateway/access.c, otlp.c). */
#include "test_helpers.h"

#include <jansson.h>

#include "switchboard/access.h"
#include "switchboard/otlp.h"

/* text fields of a record (access.c) */
#define N_TEXT_FIELDS 12

/* 2026-12-05T13:54:25.123Z */
#define T0 1796478865123000000LL

static void sample(sb_access_t *a)
{
  memset(a, 0, sizeof(*a));
  a->start_unix_ns = T0;
  a->id = SB_SLICE_LIT("gen-1796478865-abcdefghijklmnopqrst");
  a->door = SB_SLICE_LIT("chat");
  a->method = SB_SLICE_LIT("POST");
  a->path = SB_SLICE_LIT("/v1/chat/completions");
  a->status = 200;
  a->model_requested = SB_SLICE_LIT("gpt-4o-mini");
  a->model = SB_SLICE_LIT("openai/gpt-4o-mini");
  a->provider = SB_SLICE_LIT("openai");
  a->attempts = 2;
  a->key_label = SB_SLICE_LIT("team \"blue\"");
  a->agent = SB_SLICE_LIT("cursor");
  a->usage.prompt = 120;
  a->usage.completion = 30;
  a->usage.cached = 100;
  a->usage.reasoning = 7;
  a->cost_pico = 123456789; /* $0.000123456789 */
  a->latency_ns = 12345678;
  a->ttft_ns = 2000000;
  a->overhead_ns = 41000;
  a->finish_reason = SB_SLICE_LIT("stop");
  a->stream = true;
  a->traced = true;
  for (int i = 0; i < 16; i++)
    a->trace_id[i] = (uint8_t)(0xa0 + i);
  for (int i = 0; i < 8; i++) {
    a->span_id[i] = (uint8_t)(0x10 + i);
    a->parent_span_id[i] = (uint8_t)(0x20 + i);
  }
  a->has_parent = true;
  a->operation = SB_SLICE_LIT("chat");
  a->n_spans = 2;
  sb_access_attempt_t *s = &a->spans[0];
  for (int i = 0; i < 8; i++)
    s->span_id[i] = (uint8_t)(0x30 + i);
  s->start_ns = 100000;
  s->end_ns = 3000000;
  s->status = 503;
  s->provider = SB_SLICE_LIT("groq");
  s->format = SB_SLICE_LIT("openai");
  s->model = SB_SLICE_LIT("llama-3.3-70b");
  s->host = SB_SLICE_LIT("api.groq.com");
  s->error_type = SB_SLICE_LIT("provider_unavailable");
  s = &a->spans[1];
  for (int i = 0; i < 8; i++)
    s->span_id[i] = (uint8_t)(0x40 + i);
  s->start_ns = 3100000;
  s->first_byte_ns = 5000000;
  s->end_ns = 12000000;
  s->status = 200;
  s->provider = SB_SLICE_LIT("openai");
  s->format = SB_SLICE_LIT("openai");
  s->model = SB_SLICE_LIT("gpt-4o-mini");
  s->host = SB_SLICE_LIT("[::1]:8443");
}

static void test_pack_round_trip(void **state)
{
  (void)state;
  sb_access_t a, b;
  sample(&a);
  unsigned char *buf = malloc(sb_access_pack_bound(&a));
  size_t n = sb_access_pack(&a, buf);
  assert_true(n <= sb_access_pack_bound(&a));
  assert_int_equal(sb_access_unpack(buf, n, &b), SB_OK);
  assert_int_equal(b.start_unix_ns, T0);
  assert_slice_equal(b.id, "gen-1796478865-abcdefghijklmnopqrst");
  assert_slice_equal(b.door, "chat");
  assert_slice_equal(b.path, "/v1/chat/completions");
  assert_slice_equal(b.key_label, "team \"blue\"");
  assert_slice_equal(b.operation, "chat");
  assert_null(b.error_type.ptr);
  assert_int_equal(b.status, 200);
  assert_int_equal(b.attempts, 2);
  assert_int_equal(b.usage.cached, 100);
  assert_int_equal(b.cost_pico, 123456789);
  assert_true(b.stream && b.traced && b.has_parent);
  assert_false(b.usage_estimated);
  assert_memory_equal(b.trace_id, a.trace_id, 16);
  assert_memory_equal(b.parent_span_id, a.parent_span_id, 8);
  assert_int_equal(b.n_spans, 2);
  assert_slice_equal(b.spans[0].error_type, "provider_unavailable");
  assert_slice_equal(b.spans[1].host, "[::1]:8443");
  assert_int_equal(b.spans[1].first_byte_ns, 5000000);
  assert_memory_equal(b.spans[1].span_id, a.spans[1].span_id, 8);
  /* cut short or with bytes past the end: not a record */
  assert_int_equal(sb_access_unpack(buf, n - 1, &b), SB_ERROR);
  assert_int_equal(sb_access_unpack(buf, 10, &b), SB_ERROR);
  free(buf);
}

static void test_fields_are_cut(void **state)
{
  (void)state;
  char path[2000], model[600];
  memset(path, 'p', sizeof(path));
  memset(model, 'm', sizeof(model));
  sb_access_t a, b;
  memset(&a, 0, sizeof(a));
  a.path = sb_slice(path, sizeof(path));
  a.model = sb_slice(model, sizeof(model));
  unsigned char *buf = malloc(sb_access_pack_bound(&a));
  size_t n = sb_access_pack(&a, buf);
  assert_int_equal(n, sb_access_pack_bound(&a) -
                          (N_TEXT_FIELDS - 2) * SB_ACCESS_FIELD_MAX);
  assert_int_equal(sb_access_unpack(buf, n, &b), SB_OK);
  assert_int_equal(b.path.len, SB_ACCESS_PATH_MAX);
  assert_int_equal(b.model.len, SB_ACCESS_FIELD_MAX);
  free(buf);
}

static json_t *parse_line(const sb_buf_t *b)
{
  assert_true(b->len > 0);
  assert_int_equal(b->data[b->len - 1], '\n');
  assert_null(memchr(b->data, '\n', b->len - 1));
  json_error_t err;
  json_t *j = json_loadb(b->data, b->len, 0, &err);
  if (j == NULL)
    fail_msg("not JSON: %s: %.*s", err.text, (int)b->len, b->data);
  return j;
}

static void test_json_line(void **state)
{
  (void)state;
  sb_access_t a;
  sample(&a);
  sb_buf_t b;
  sb_buf_init(&b, 0);
  assert_int_equal(sb_access_json(&a, &b), SB_OK);
  json_t *j = parse_line(&b);
  assert_string_equal(json_string_value(json_object_get(j, "time")),
                      "2026-12-05T13:54:25.123Z");
  assert_string_equal(json_string_value(json_object_get(j, "door")), "chat");
  assert_string_equal(json_string_value(json_object_get(j, "key")),
                      "team \"blue\"");
  assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
  assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 2);
  assert_int_equal(json_integer_value(json_object_get(j, "prompt_tokens")),
                   120);
  assert_int_equal(json_integer_value(json_object_get(j, "reasoning_tokens")),
                   7);
  assert_int_equal(json_integer_value(json_object_get(j, "overhead_us")), 41);
  assert_true(json_real_value(json_object_get(j, "cost")) == 0.000123456789);
  assert_true(json_real_value(json_object_get(j, "latency_ms")) == 12.345);
  assert_true(json_real_value(json_object_get(j, "ttft_ms")) == 2.0);
  assert_true(json_is_null(json_object_get(j, "error_type")));
  assert_true(json_is_true(json_object_get(j, "stream")));
  assert_string_equal(json_string_value(json_object_get(j, "trace_id")),
                      "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  json_decref(j);

  /* a request that was no model call: nulls, no trace */
  sb_access_t o;
  memset(&o, 0, sizeof(o));
  o.start_unix_ns = T0;
  o.door = SB_SLICE_LIT("other");
  o.method = SB_SLICE_LIT("GET");
  o.path = SB_SLICE_LIT("/nope\n\"x");
  o.status = 404;
  o.error_type = SB_SLICE_LIT("not_found");
  sb_buf_reset(&b);
  assert_int_equal(sb_access_json(&o, &b), SB_OK);
  j = parse_line(&b);
  assert_true(json_is_null(json_object_get(j, "id")));
  assert_true(json_is_null(json_object_get(j, "model")));
  assert_true(json_is_null(json_object_get(j, "ttft_ms")));
  assert_string_equal(json_string_value(json_object_get(j, "path")),
                      "/nope\n\"x");
  assert_int_equal(json_integer_value(json_object_get(j, "cost")), 0);
  assert_null(json_object_get(j, "trace_id"));
  json_decref(j);
  sb_buf_free(&b);
}

static void test_text_line(void **state)
{
  (void)state;
  sb_access_t a;
  sample(&a);
  a.agent = SB_NULL_SLICE;
  sb_buf_t b;
  sb_buf_init(&b, 0);
  assert_int_equal(sb_access_text(&a, &b), SB_OK);
  assert_int_equal(sb_buf_cstr(&b), SB_OK);
  const char *want =
      "2026-12-05T13:54:25.123Z status=200 door=chat method=POST "
      "path=/v1/chat/completions id=gen-1796478865-abcdefghijklmnopqrst "
      "model_requested=gpt-4o-mini model=openai/gpt-4o-mini provider=openai "
      "attempts=2 key=\"team \\\"blue\\\"\" agent=- prompt_tokens=120 "
      "completion_tokens=30 cached_tokens=100 reasoning_tokens=7 "
      "cost=0.000123456789 latency_ms=12.345 ttft_ms=2.000 overhead_us=41 "
      "finish_reason=stop error_type=- stream=true "
      "trace_id=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\n";
  assert_string_equal(b.data, want);
  /* control characters are escaped: one line per request */
  a.path = SB_SLICE_LIT("/a b\nc");
  sb_buf_reset(&b);
  assert_int_equal(sb_access_text(&a, &b), SB_OK);
  assert_int_equal(sb_buf_cstr(&b), SB_OK);
  assert_non_null(strstr(b.data, " path=\"/a b\\x0ac\" "));
  assert_int_equal(strchr(b.data, '\n') - b.data, (long)b.len - 1);
  sb_buf_free(&b);
}

static void test_status_class(void **state)
{
  (void)state;
  assert_string_equal(sb_access_status_class(200), "2xx");
  assert_string_equal(sb_access_status_class(499), "4xx");
  assert_string_equal(sb_access_status_class(503), "5xx");
  assert_string_equal(sb_access_status_class(600), "other");
  assert_string_equal(sb_access_status_class(0), "other");
}

/* ---- OTLP
 * --------------------------------------------------------------------- */

static json_t *attr(json_t *span, const char *key)
{
  json_t *attrs = json_object_get(span, "attributes");
  size_t i;
  json_t *a;
  json_array_foreach(attrs, i, a)
  {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
      return json_object_get(a, "value");
  }
  return NULL;
}

static const char *attr_str(json_t *span, const char *key)
{
  json_t *v = attr(span, key);
  return v != NULL ? json_string_value(json_object_get(v, "stringValue"))
                   : NULL;
}

static const char *attr_int(json_t *span, const char *key)
{
  json_t *v = attr(span, key);
  return v != NULL ? json_string_value(json_object_get(v, "intValue")) : NULL;
}

static void test_otlp_spans(void **state)
{
  (void)state;
  sb_access_t a;
  sample(&a);
  sb_buf_t b;
  sb_buf_init(&b, 0);
  assert_int_equal(sb_otlp_open(&b, SB_SLICE_LIT("gw \"one\"")), SB_OK);
  assert_int_equal(sb_otlp_spans(&a, true, &b), SB_OK);
  a.n_spans = 0;
  a.status = 502;
  a.error_type = SB_SLICE_LIT("provider_unavailable");
  a.has_parent = false;
  assert_int_equal(sb_otlp_spans(&a, false, &b), SB_OK);
  assert_int_equal(sb_otlp_close(&b), SB_OK);
  json_error_t err;
  json_t *j = json_loadb(b.data, b.len, 0, &err);
  if (j == NULL)
    fail_msg("not JSON: %s", err.text);
  json_t *rs = json_array_get(json_object_get(j, "resourceSpans"), 0);
  json_t *res_attr = json_array_get(
      json_object_get(json_object_get(rs, "resource"), "attributes"), 0);
  assert_string_equal(json_string_value(json_object_get(res_attr, "key")),
                      "service.name");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(res_attr, "value"), "stringValue")),
                      "gw \"one\"");
  json_t *spans = json_object_get(
      json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
  assert_int_equal(json_array_size(spans), 4);

  json_t *req = json_array_get(spans, 0);
  assert_string_equal(json_string_value(json_object_get(req, "traceId")),
                      "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  assert_string_equal(json_string_value(json_object_get(req, "spanId")),
                      "1011121314151617");
  assert_string_equal(json_string_value(json_object_get(req, "parentSpanId")),
                      "2021222324252627");
  assert_string_equal(json_string_value(json_object_get(req, "name")),
                      "chat gpt-4o-mini");
  assert_int_equal(json_integer_value(json_object_get(req, "kind")), 2);
  assert_string_equal(
      json_string_value(json_object_get(req, "startTimeUnixNano")),
      "1796478865123000000");
  assert_string_equal(
      json_string_value(json_object_get(req, "endTimeUnixNano")),
      "1796478865135345678");
  assert_string_equal(attr_str(req, "gen_ai.operation.name"), "chat");
  assert_string_equal(attr_str(req, "gen_ai.request.model"), "gpt-4o-mini");
  assert_string_equal(attr_str(req, "gen_ai.response.model"),
                      "openai/gpt-4o-mini");
  assert_string_equal(attr_str(req, "gen_ai.provider.name"), "openai");
  assert_string_equal(attr_int(req, "gen_ai.usage.input_tokens"), "120");
  assert_string_equal(attr_int(req, "gen_ai.usage.output_tokens"), "30");
  json_t *fr = json_object_get(attr(req, "gen_ai.response.finish_reasons"),
                               "arrayValue");
  assert_string_equal(
      json_string_value(json_object_get(
          json_array_get(json_object_get(fr, "values"), 0), "stringValue")),
      "stop");
  assert_null(attr(req, "error.type"));
  assert_int_equal(json_integer_value(
                       json_object_get(json_object_get(req, "status"), "code")),
                   0);

  json_t *first = json_array_get(spans, 1);
  assert_string_equal(json_string_value(json_object_get(first, "parentSpanId")),
                      "1011121314151617");
  assert_string_equal(json_string_value(json_object_get(first, "spanId")),
                      "3031323334353637");
  assert_int_equal(json_integer_value(json_object_get(first, "kind")), 3);
  assert_string_equal(json_string_value(json_object_get(first, "name")),
                      "chat llama-3.3-70b");
  assert_string_equal(
      json_string_value(json_object_get(first, "startTimeUnixNano")),
      "1796478865123100000");
  assert_string_equal(attr_str(first, "gen_ai.provider.name"), "groq");
  assert_string_equal(attr_str(first, "server.address"), "api.groq.com");
  assert_null(attr(first, "server.port"));
  assert_string_equal(attr_str(first, "error.type"), "provider_unavailable");
  assert_string_equal(attr_int(first, "http.response.status_code"), "503");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(first, "status"), "code")),
                   2);
  json_t *second = json_array_get(spans, 2);
  assert_string_equal(attr_str(second, "server.address"), "::1");
  assert_string_equal(attr_int(second, "server.port"), "8443");
  assert_null(attr(second, "error.type"));

  /* the second request: a root span that failed */
  json_t *failed = json_array_get(spans, 3);
  assert_null(json_object_get(failed, "parentSpanId"));
  assert_string_equal(attr_str(failed, "error.type"), "provider_unavailable");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(failed, "status"), "code")),
                   2);
  json_decref(j);
  sb_buf_free(&b);
}

static void test_genai_provider_names(void **state)
{
  (void)state;
  assert_slice_equal(sb_otlp_genai_provider(SB_SLICE_LIT("gemini")),
                     "gcp.gemini");
  assert_slice_equal(sb_otlp_genai_provider(SB_SLICE_LIT("mistral")),
                     "mistral_ai");
  assert_slice_equal(sb_otlp_genai_provider(SB_SLICE_LIT("anthropic")),
                     "anthropic");
  assert_slice_equal(sb_otlp_genai_provider(SB_SLICE_LIT("house")), "house");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_round_trip),
      cmocka_unit_test(test_fields_are_cut),
      cmocka_unit_test(test_json_line),
      cmocka_unit_test(test_text_line),
      cmocka_unit_test(test_status_class),
      cmocka_unit_test(test_otlp_spans),
      cmocka_unit_test(test_genai_provider_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
