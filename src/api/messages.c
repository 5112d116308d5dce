/*
 * POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages
 * API in front of any model of any provider.
 *
 * The request is validated against the API's schema (messages_validate.c)
 * and translated into the OpenAI-shaped chat request every codec takes
 * (messages_request.c; docs/messages.md has the full mapping), and the
 * call's OpenAI-shaped output is translated back: a `message` object, or
 * the Messages stream events (messages_stream.c). Thinking travels as
 * OpenRouter's `reasoning_details`, so signatures survive the round trip.
 * Once routed, the translation is made again when the endpoint needs less
 * (no OpenRouter extensions, a model that does not reason).
 *
 * Fast path: when the routed provider speaks the Messages API itself
 * (format "anthropic"), nothing is translated. The client's body goes
 * upstream with only `model` rewritten, and the response body or the
 * stream's events come back byte for byte while usage and the stop reason
 * are read from them (the call's build_request / take_response /
 * take_event hooks replace the codec for that call).
 */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "endpoint.h"
#include "switchboard/json_edit.h"

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

/* ---- errors ------------------------------------------------------------- */

const char *sb_anthropic_error_type(int status)
{
  switch (status) {
  case 400:
    return "invalid_request_error";
  case 401:
    return "authentication_error";
  case 402:
    return "billing_error";
  case 403:
    return "permission_error";
  case 404:
    return "not_found_error";
  case 408:
  case 504:
    return "timeout_error";
  case 413:
    return "request_too_large";
  case 429:
    return "rate_limit_error";
  case 529:
    return "overloaded_error";
  default:
    return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

sb_status_t sb_anthropic_error_body(sb_buf_t *b, const char *type,
                                    const char *msg, size_t n)
{
  sb_jw_t w;
  sb_jw_init(&w, b);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("error"));
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_str(&w, SB_STRLIT("message"), msg, n);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- response: OpenAI chat.completion -> Anthropic message ------------- */

const char *sb_messages_stop_reason(sb_slice_t finish, sb_slice_t native)
{
  static const char *const anthropic[] = {"end_turn", "max_tokens",
                                          "stop_sequence", "tool_use",
                                          "pause_turn", "refusal"};
  for (size_t i = 0; i < SB_ARRAY_LEN(anthropic); i++)
    if (sb_slice_eq(native, sb_slice_z(anthropic[i])))
      return anthropic[i];
  if (SB_SLICE_IS(finish, "length"))
    return "max_tokens";
  if (SB_SLICE_IS(finish, "tool_calls") || SB_SLICE_IS(finish, "function_call"))
    return "tool_use";
  if (SB_SLICE_IS(finish, "content_filter"))
    return "refusal";
  return "end_turn";
}

void sb_messages_write_usage(sb_jw_t *w, const sb_usage_t *u)
{
  uint64_t cached = u->cached + u->cache_write;
  uint64_t input = u->prompt > cached ? u->prompt - cached : 0;
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("input_tokens"), (int64_t)input);
  sb_jw_kv_int(w, SB_STRLIT("cache_creation_input_tokens"),
               (int64_t)u->cache_write);
  sb_jw_kv_int(w, SB_STRLIT("cache_read_input_tokens"), (int64_t)u->cached);
  sb_jw_kv_int(w, SB_STRLIT("output_tokens"), (int64_t)u->completion);
  sb_jw_obj_end(w);
}

/* The tool input: the arguments parsed when they are a JSON object, else
 * {} (Anthropic's input is always an object). */
static void write_input(sb_arena_t *a, sb_jw_t *w, const sb_json_t *args)
{
  sb_slice_t text;
  sb_json_t *parsed;
  if (sb_json_is(args, SB_JSON_OBJECT)) {
    sb_jw_value(w, args);
    return;
  }
  if (is_str(args) && sb_json_string(a, args, &text) == SB_OK &&
      sb_json_parse(a, text.ptr, text.len, 0, &parsed, NULL) == SB_OK &&
      parsed->type == SB_JSON_OBJECT) {
    sb_jw_value(w, parsed);
    return;
  }
  sb_jw_raw(w, SB_STRLIT("{}"));
}

/* A reasoning detail this API cannot show natively, carried as a
 * redacted_thinking block whose data is SB_MESSAGES_RD_PREFIX + the detail's JSON. */
void sb_messages_opaque_detail(sb_jw_t *w, sb_buf_t *tmp, const sb_json_t *d)
{
  sb_jw_t dw;
  sb_buf_reset(tmp);
  sb_buf_append(tmp, SB_STRLIT(SB_MESSAGES_RD_PREFIX));
  sb_jw_init(&dw, tmp);
  sb_json_write_compact(&dw, d);
  if (sb_jw_status(&dw) != SB_OK)
    w->status = SB_ERROR;
  sb_jw_str(w, tmp->data != NULL ? tmp->data : "", tmp->len);
}

bool sb_messages_detail_native(const sb_json_t *d)
{
  const sb_json_t *fmt = sb_json_get(d, "format");
  return fmt == NULL || fmt->type == SB_JSON_NULL ||
         SB_JSON_STR_IS(fmt, "anthropic-claude-v1") ||
         SB_JSON_STR_IS(fmt, "unknown");
}

static void write_thinking(sb_jw_t *w, sb_buf_t *text, sb_slice_t sig)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("thinking"));
  sb_jw_key_lit(w, "thinking");
  sb_jw_str_raw(w, text->data != NULL ? text->data : "", text->len);
  sb_jw_key_lit(w, "signature");
  sb_jw_str_raw(w, sig.ptr != NULL ? sig.ptr : "", sig.len);
  sb_jw_obj_end(w);
}

static void write_reasoning_blocks(sb_jw_t *w, const sb_json_t *details,
                                   const sb_json_t *reasoning, size_t cap)
{
  sb_buf_t text;
  sb_buf_init(&text, cap);
  if (!sb_json_is(details, SB_JSON_ARRAY) || details->count == 0) {
    if (is_str(reasoning) && reasoning->raw.len > 2) {
      sb_buf_append_slice(&text, sb_json_str_raw(reasoning));
      write_thinking(w, &text, SB_NULL_SLICE);
    }
    sb_buf_free(&text);
    return;
  }
  /* Consecutive reasoning.text entries with the same index are one block
   * (text concatenated, the last signature kept). */
  bool open = false;
  const sb_json_t *open_index = NULL;
  sb_slice_t sig = SB_NULL_SLICE;
  for (const sb_json_t *d = details->child; d != NULL; d = d->next) {
    const sb_json_t *type = sb_json_get(d, "type");
    const sb_json_t *index = sb_json_get(d, "index");
    bool txt = SB_JSON_STR_IS(type, "reasoning.text") ||
               SB_JSON_STR_IS(type, "reasoning.summary");
    if (open && (!txt || index == NULL || open_index == NULL ||
                 !sb_slice_eq(index->raw, open_index->raw))) {
      write_thinking(w, &text, sig);
      open = false;
    }
    if (txt) {
      const sb_json_t *tx = SB_JSON_STR_IS(type, "reasoning.text")
                                ? sb_json_get(d, "text")
                                : sb_json_get(d, "summary");
      const sb_json_t *s = sb_json_get(d, "signature");
      if (!open) {
        sb_buf_reset(&text);
        sig = SB_NULL_SLICE;
        open = true;
        open_index = index;
      }
      if (is_str(tx))
        sb_buf_append_slice(&text, sb_json_str_raw(tx));
      if (is_str(s) && s->raw.len > 2)
        sig = sb_json_str_raw(s);
    } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
      sb_jw_obj_begin(w);
      sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("redacted_thinking"));
      sb_jw_key_lit(w, "data");
      const sb_json_t *data = sb_json_get(d, "data");
      if (sb_messages_detail_native(d) && is_str(data))
        sb_jw_value(w, data);
      else
        sb_messages_opaque_detail(w, &text, d);
      sb_jw_obj_end(w);
    }
  }
  if (open)
    write_thinking(w, &text, sig);
  sb_buf_free(&text);
}

sb_status_t sb_messages_from_openai(sb_arena_t *a, const sb_json_t *r,
                                    const sb_usage_t *u, sb_slice_t j_id,
                                    sb_slice_t j_model, sb_buf_t *out)
{
  const sb_json_t *choice = sb_json_at(sb_json_get(r, "choices"), 0);
  const sb_json_t *msg = sb_json_get(choice, "message");
  const sb_json_t *content = sb_json_get(msg, "content");
  const sb_json_t *refusal = sb_json_get(msg, "refusal");
  const sb_json_t *calls = sb_json_get(msg, "tool_calls");
  const sb_json_t *fr = sb_json_get(choice, "finish_reason");
  const sb_json_t *nat = sb_json_get(choice, "native_finish_reason");
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("id"), j_id.ptr, j_id.len);
  sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("message"));
  sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  sb_jw_kv_raw(&w, SB_STRLIT("model"), j_model.ptr, j_model.len);
  sb_jw_key_lit(&w, "content");
  sb_jw_arr_begin(&w);
  write_reasoning_blocks(&w, sb_json_get(msg, "reasoning_details"),
                         sb_json_get(msg, "reasoning"),
                         out->max != 0 ? out->max : SIZE_MAX);
  if (is_str(content) && content->raw.len > 2) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
    sb_jw_key_lit(&w, "text");
    sb_jw_value(&w, content);
    sb_jw_obj_end(&w);
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      const sb_json_t *text = sb_json_get(p, "text");
      if (SB_JSON_STR_IS(sb_json_get(p, "type"), "text") && is_str(text)) {
        sb_jw_obj_begin(&w);
        sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
        sb_jw_key_lit(&w, "text");
        sb_jw_value(&w, text);
        sb_jw_obj_end(&w);
      }
    }
  } else if (is_str(refusal) && refusal->raw.len > 2) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("text"));
    sb_jw_key_lit(&w, "text");
    sb_jw_value(&w, refusal);
    sb_jw_obj_end(&w);
  }
  if (sb_json_is(calls, SB_JSON_ARRAY)) {
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
      const sb_json_t *id = sb_json_get(tc, "id");
      const sb_json_t *fn = sb_json_get(tc, "function");
      const sb_json_t *name = sb_json_get(fn, "name");
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("tool_use"));
      sb_jw_key_lit(&w, "id");
      if (is_str(id))
        sb_jw_value(&w, id);
      else
        sb_jw_str_lit(&w, "");
      sb_jw_key_lit(&w, "name");
      if (is_str(name))
        sb_jw_value(&w, name);
      else
        sb_jw_str_lit(&w, "");
      sb_jw_key_lit(&w, "input");
      write_input(a, &w, sb_json_get(fn, "arguments"));
      sb_jw_obj_end(&w);
    }
  }
  sb_jw_arr_end(&w);
  const char *sr = sb_messages_stop_reason(
      is_str(fr) ? sb_json_str_raw(fr) : SB_NULL_SLICE,
      is_str(nat) ? sb_json_str_raw(nat) : SB_NULL_SLICE);
  sb_jw_kv_str(&w, SB_STRLIT("stop_reason"), sr, strlen(sr));
  sb_jw_key_lit(&w, "stop_sequence");
  sb_jw_null(&w);
  sb_jw_key_lit(&w, "usage");
  sb_messages_write_usage(&w, u);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* ---- the sink ------------------------------------------------------------ */

/* The sink's state for one call. */
typedef struct {
  sb_msg_stream_t s;
  bool passthrough;         /* the provider speaks Messages: no translation */
  bool beta_query;          /* the client asked for /v1/messages?beta=true */
  const sb_json_t *orig;    /* the client's Messages request */
  sb_slice_t version, beta; /* the client's anthropic-version / -beta */
  unsigned flags; /* the translation flags of the request in c->req */
  int64_t in, cache_read, cache_write, out; /* Anthropic usage, as read */
} msg_call_t;

/* "msg_" + the generation id, as a JSON string */
static sb_slice_t message_id(sb_call_t *c)
{
  const char *s = sb_arena_printf(c->arena, "\"msg_%s\"", c->id);
  return s != NULL ? sb_slice_z(s) : SB_SLICE_LIT("\"msg_\"");
}

static void messages_response(sb_call_t *c, sb_slice_t json)
{
  sb_arena_t a;
  sb_json_t *root;
  sb_buf_t b;
  sb_http_header_t h = sb_api_gen_header(c);
  msg_call_t *m = c->sink_data;
  if (m->passthrough) {
    sb_http_respond(c->x, 200, &h, 1, "application/json", json);
    return;
  }
  sb_arena_init(&a, 16 * 1024, 0);
  sb_buf_init(&b, 64u << 20);
  if (sb_json_parse(&a, json.ptr, json.len, 0, &root, NULL) != SB_OK ||
      sb_messages_from_openai(&a, root, &c->usage, message_id(c), c->j_model,
                              &b) != SB_OK) {
    sb_buf_reset(&b);
    const char *why = "the provider's response could not be translated";
    sb_anthropic_error_body(&b, "api_error", why, strlen(why));
    sb_http_respond(c->x, 502, &h, 1, "application/json", sb_buf_slice(&b));
  } else {
    sb_http_respond(c->x, 200, &h, 1, "application/json", sb_buf_slice(&b));
  }
  sb_buf_free(&b);
  sb_arena_destroy(&a);
}

static sb_status_t messages_stream_begin(sb_call_t *c)
{
  sb_http_header_t h[] = {
      sb_api_gen_header(c),
      {SB_SLICE_LIT("Cache-Control"), SB_SLICE_LIT("no-cache")},
      {SB_SLICE_LIT("X-Accel-Buffering"), SB_SLICE_LIT("no")},
  };
  sb_msg_stream_t *s = &((msg_call_t *)c->sink_data)->s;
  s->j_id = message_id(c);
  s->j_model = c->j_model;
  return sb_http_stream_begin(c->x, 200, "text/event-stream", h, 3);
}

static sb_status_t messages_stream_chunk(sb_call_t *c, sb_slice_t json)
{
  msg_call_t *m = c->sink_data;
  sb_msg_stream_t *s = &m->s;
  sb_json_t *root;
  if (m->passthrough && json.len > 0 && json.ptr[0] != '{')
    return sb_http_stream_write(c->x, &json, 1); /* upstream event bytes */
  if (sb_json_parse(&c->scratch, json.ptr, json.len, 0, &root, NULL) != SB_OK)
    return SB_OK; /* our own chunk: cannot happen */
  if (m->passthrough) {
    /* the call's closing chunks: only a failure matters (the error event
     * is written at the end) */
    sb_msg_stream_chunk(s, root);
    return SB_OK;
  }
  sb_buf_reset(&s->out);
  if (sb_msg_stream_chunk(s, root) != SB_OK)
    sb_msg_stream_fail(s, 502, SB_SLICE_LIT("a stream event is too large"));
  if (s->out.len == 0)
    return SB_OK;
  sb_slice_t part = sb_buf_slice(&s->out);
  return sb_http_stream_write(c->x, &part, 1);
}

static void messages_stream_end(sb_call_t *c)
{
  msg_call_t *m = c->sink_data;
  sb_msg_stream_t *s = &m->s;
  /* A pass-through stream already has its own ending, unless it failed. */
  if (!c->cancelled && (!m->passthrough || s->failed)) {
    sb_buf_reset(&s->out);
    sb_msg_stream_end(s, &c->usage);
    sb_slice_t part = sb_buf_slice(&s->out);
    if (part.len > 0)
      sb_http_stream_write(c->x, &part, 1);
  }
  sb_http_stream_end(c->x);
}

/* The client-facing status and Anthropic type for a call error. */
static void sb_messages_map_error(const sb_call_error_t *e, int *status,
                           const char **type)
{
  *status = e->status;
  bool overloaded =
      e->upstream_status == 529 || e->upstream_status == 503 ||
      (e->provider_body.len > 0 &&
       memmem(e->provider_body.ptr, e->provider_body.len,
              SB_STRLIT("overloaded_error")) != NULL);
  if (overloaded && e->status >= 500)
    *status = 529;
  *type = sb_anthropic_error_type(*status);
}

static void messages_error(sb_call_t *c, const sb_call_error_t *e)
{
  int status;
  const char *type;
  sb_buf_t b;
  sb_messages_map_error(e, &status, &type);
  sb_buf_init(&b, 64 * 1024);
  sb_anthropic_error_body(&b, type, e->message.ptr != NULL ? e->message.ptr : "",
                          e->message.len);
  sb_api_call_error_reply(c, status, e, sb_buf_slice(&b));
  sb_buf_free(&b);
}

static const sb_call_sink_t messages_sink = {
    .response = messages_response,
    .stream_begin = messages_stream_begin,
    .stream_chunk = messages_stream_chunk,
    .stream_end = messages_stream_end,
    .error = messages_error,
    .backlogged = sb_api_call_backlogged,
};

static void stream_cleanup(void *data) { sb_msg_stream_free(data); }

/* ---- the pass-through to Messages providers ------------------------------ */

static bool provider_has_header(const sb_provider_t *p, const char *name)
{
  for (size_t i = 0; i < p->n_headers; i++)
    if (strcasecmp(p->headers[i].name, name) == 0)
      return true;
  return false;
}

/* Anthropic usage -> the call's (prompt = every input token). */
static void note_usage(sb_call_t *c, msg_call_t *m, const sb_json_t *u)
{
  int64_t v;
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return;
  if (sb_json_int64(sb_json_get(u, "input_tokens"), &v) == SB_OK && v >= 0)
    m->in = v;
  if (sb_json_int64(sb_json_get(u, "cache_read_input_tokens"), &v) == SB_OK &&
      v >= 0)
    m->cache_read = v;
  if (sb_json_int64(sb_json_get(u, "cache_creation_input_tokens"), &v) ==
          SB_OK &&
      v >= 0)
    m->cache_write = v;
  if (sb_json_int64(sb_json_get(u, "output_tokens"), &v) == SB_OK && v >= 0)
    m->out = v;
  c->usage.prompt = (uint64_t)(m->in + m->cache_read + m->cache_write);
  c->usage.cached = (uint64_t)m->cache_read;
  c->usage.cache_write = (uint64_t)m->cache_write;
  c->usage.completion = (uint64_t)m->out;
  c->usage_known = true;
}

/* Anthropic stop_reason -> the canonical finish reason, native kept. */
static void note_stop(sb_call_t *c, const sb_json_t *sr)
{
  if (!sb_json_is(sr, SB_JSON_STRING))
    return;
  sb_slice_t v = sb_json_str_raw(sr);
  sb_slice_t fin = SB_SLICE_LIT("stop");
  if (SB_SLICE_IS(v, "max_tokens"))
    fin = SB_SLICE_LIT("length");
  else if (SB_SLICE_IS(v, "tool_use"))
    fin = SB_SLICE_LIT("tool_calls");
  else if (SB_SLICE_IS(v, "refusal"))
    fin = SB_SLICE_LIT("content_filter");
  sb_call_set_finish(c, fin, v);
}

static void passthrough_response(sb_call_t *c, sb_slice_t body)
{
  msg_call_t *m = c->sink_data;
  sb_json_t *root;
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider returned a response that is not a JSON object");
    return;
  }
  note_usage(c, m, sb_json_get(root, "usage"));
  note_stop(c, sb_json_get(root, "stop_reason"));
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);
  sb_call_respond(c, body);
}

static sb_status_t passthrough_event(sb_call_t *c, const sb_sse_event_t *ev)
{
  msg_call_t *m = c->sink_data;
  sb_json_t *root;
  if (!sb_call_event_root(c, ev->data, &root))
    return SB_ERROR;
  const sb_json_t *type = sb_json_get(root, "type");
  if (SB_JSON_STR_IS(type, "error")) {
    const sb_json_t *err = sb_json_get(root, "error");
    const sb_json_t *msg = sb_json_get(err, "message");
    bool overloaded = SB_JSON_STR_IS(sb_json_get(err, "type"), "overloaded_error");
    sb_call_stream_error(c, overloaded ? 529 : 502,
                         sb_json_is(msg, SB_JSON_STRING)
                             ? sb_json_str_raw(msg)
                             : SB_SLICE_LIT("the provider reported an error"));
    return SB_ERROR;
  }
  if (SB_JSON_STR_IS(type, "message_start"))
    note_usage(c, m, sb_json_get(sb_json_get(root, "message"), "usage"));
  else if (SB_JSON_STR_IS(type, "message_delta")) {
    note_usage(c, m, sb_json_get(root, "usage"));
    note_stop(c, sb_json_get(sb_json_get(root, "delta"), "stop_reason"));
    c->saw_finish = true;
  } else if (SB_JSON_STR_IS(type, "content_block_delta"))
    c->content_bytes += ev->data.len;
  /* the event as it came: `event:` (the stream's, else the data's type)
   * and `data:` */
  sb_slice_t name = ev->event.len > 0 ? ev->event
                    : sb_json_is(type, SB_JSON_STRING) ? sb_json_str_raw(type)
                                                       : SB_SLICE_LIT("message");
  sb_buf_reset(&c->out);
  if (sb_buf_append(&c->out, SB_STRLIT("event: ")) != SB_OK ||
      sb_buf_append_slice(&c->out, name) != SB_OK ||
      sb_buf_append(&c->out, SB_STRLIT("\ndata: ")) != SB_OK ||
      sb_buf_append_slice(&c->out, ev->data) != SB_OK ||
      sb_buf_append(&c->out, SB_STRLIT("\n\n")) != SB_OK) {
    sb_call_stream_error(c, 502, SB_SLICE_LIT("a stream event is too large"));
    return SB_ERROR;
  }
  if (sb_call_emit_chunk(c, sb_buf_slice(&c->out)) == SB_ERROR)
    return SB_ERROR;
  return SB_JSON_STR_IS(type, "message_stop") ? SB_DONE : SB_OK;
}

/* Does the catalog say the model reasons? (A model it lacks, or one
 * without supported_parameters, may.) */
static bool model_reasons(const sb_model_t *model)
{
  const sb_json_t *sp =
      model != NULL ? sb_json_get(model->json, "supported_parameters") : NULL;
  if (!sb_json_is(sp, SB_JSON_ARRAY))
    return true;
  for (const sb_json_t *e = sp->child; e != NULL; e = e->next)
    if (SB_JSON_STR_IS(e, "reasoning") || SB_JSON_STR_IS(e, "reasoning_effort"))
      return true;
  return false;
}

/* The translation flags for a route: what its provider and model take. */
static unsigned route_flags(const sb_route_t *r)
{
  const sb_provider_t *p = r->provider;
  unsigned flags = 0;
  if (strcmp(p->format, "openai") == 0 &&
      (p->quirks & SB_QUIRK_OPENROUTER_FIELDS) == 0)
    flags |= SB_MSG_PLAIN;
  if (!model_reasons(r->model))
    flags |= SB_MSG_NO_REASONING;
  return flags;
}

/* c->req := the translation for the endpoint the call goes to: the door
 * made it for the model's default route; another endpoint that takes less
 * or more gets it made again from the client's request. */
static sb_status_t translation_for(sb_call_t *c, msg_call_t *m)
{
  unsigned flags = route_flags(&c->route);
  if (flags == m->flags)
    return SB_OK;
  char why[256];
  sb_buf_t b;
  sb_json_t *req;
  sb_status_t rc;
  sb_buf_init(&b, c->gw->config->max_body_bytes + (1u << 20));
  rc = sb_messages_to_openai(c->arena, m->orig, flags, &b, why, sizeof(why));
  if (rc == SB_OK) {
    sb_slice_t raw = sb_arena_slice_dup(c->arena, sb_buf_slice(&b));
    if (raw.ptr != NULL &&
        sb_json_parse(c->arena, raw.ptr, raw.len, 0, &req, NULL) == SB_OK) {
      c->req = req;
      c->req_raw = raw;
      m->flags = flags;
    } else {
      rc = SB_ERROR;
    }
  }
  sb_buf_free(&b);
  return rc;
}

/* The call's request builder: the codec's, unless the provider speaks the
 * Messages API, in which case the client's body goes as it is. */
static sb_status_t messages_build(sb_call_t *c, sb_upstream_request_t *r)
{
  msg_call_t *m = c->sink_data;
  const sb_provider_t *p = c->route.provider;
  if (strcmp(p->format, "anthropic") != 0) {
    sb_status_t rc = translation_for(c, m);
    return rc != SB_OK ? rc : p->codec->chat_request(c, r);
  }
  m->passthrough = true;
  m->s.started = true; /* the upstream writes message_start */
  c->take_response = passthrough_response;
  c->take_event = passthrough_event;

  sb_buf_reset(&c->up_body);
  sb_status_t rc = sb_api_up_body_with_model(c, m->orig);
  if (rc != SB_OK)
    return rc;
  /* base_url is the API root; one ending in /v1 is accepted too */
  size_t n = strlen(p->base_url);
  bool v1 = n >= 3 && strcmp(p->base_url + n - 3, "/v1") == 0;
  r->url = sb_arena_printf(c->arena, "%s%s/messages%s", p->base_url,
                           v1 ? "" : "/v1", m->beta_query ? "?beta=true" : "");
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept",
                   c->stream ? "text/event-stream" : "application/json");
  if (!provider_has_header(p, "anthropic-version"))
    sb_call_up_header(c, "anthropic-version",
                     m->version.len > 0
                         ? sb_arena_strndup(c->arena, m->version.ptr,
                                            SB_MIN(m->version.len, 64))
                         : "2023-06-01");
  if (m->beta.len > 0 && !provider_has_header(p, "anthropic-beta"))
    sb_call_up_header(c, "anthropic-beta",
                     sb_arena_strndup(c->arena, m->beta.ptr,
                                      SB_MIN(m->beta.len, 1024)));
  return sb_api_up_finish(c, r);
}

/* ---- the endpoints ------------------------------------------------------ */

/* Validate and translate the client's request (sb_messages_to_openai) for
 * the model's default route (`*flags`: route_flags, or none when the model
 * does not route: the call answers that); the OpenAI body goes to `body` in
 * the exchange's arena. False: the request is answered (400 with why,
 * 413). */
static bool translate(sb_http_exchange_t *x, const sb_json_t *req,
                      sb_slice_t *body, unsigned *flags)
{
  char why[512];
  sb_buf_t b;
  sb_route_t route;
  const sb_json_t *model = sb_json_get(req, "model");
  *flags = 0;
  if (is_str(model) && sb_route(sb_gateway_catalog(x), sb_json_str_raw(model),
                                &route) == SB_ROUTE_OK)
    *flags = route_flags(&route);
  sb_buf_init(&b, x->worker->gw->config->max_body_bytes + (1u << 20));
  sb_status_t rc = sb_messages_to_openai(&x->arena, req, *flags, &b, why,
                                         sizeof(why));
  if (rc == SB_OK)
    *body = sb_arena_slice_dup(&x->arena, sb_buf_slice(&b));
  sb_buf_free(&b);
  if (rc == SB_DECLINED)
    sb_api_anthropic_error(x, 400, "%s", why);
  else if (rc != SB_OK)
    sb_api_anthropic_error(x, 413, "the translated request is too large");
  return rc == SB_OK;
}

void sb_api_messages(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *req = sb_api_parse_object(x, SB_API_ANTHROPIC);
  sb_slice_t body;
  unsigned flags;
  if (req == NULL || !translate(x, req, &body, &flags))
    return;
  sb_json_t *oreq;
  if (body.ptr == NULL ||
      sb_json_parse(&x->arena, body.ptr, body.len, 0, &oreq, NULL) != SB_OK) {
    sb_api_anthropic_error(x, 500, "the request could not be translated");
    return;
  }
  msg_call_t *m = sb_arena_calloc(&x->arena, sizeof(*m));
  if (m == NULL) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  sb_msg_stream_init(&m->s);
  if (sb_arena_on_destroy(&x->arena, stream_cleanup, &m->s) != SB_OK) {
    sb_msg_stream_free(&m->s);
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  m->s.input_estimate = sb_messages_estimate_tokens(req);
  m->orig = req;
  m->version = SB_HTTP_HEADER(&x->req, "anthropic-version");
  m->beta = SB_HTTP_HEADER(&x->req, "anthropic-beta");
  m->beta_query =
      SB_SLICE_IS(sb_http_query_param(&x->arena, x->req.query, "beta"), "true");
  m->flags = flags;
  sb_call_t *c = sb_call_new(x, &messages_sink, m);
  if (c == NULL) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  c->api = "messages";
  c->build_request = messages_build;
  c->req = oreq;
  c->req_raw = body;
  if (sb_json_string(&x->arena, sb_json_get(req, "model"),
                     &c->requested_model) != SB_OK) {
    sb_call_fail(c, 500, "server", "out of memory");
    return;
  }
  c->stream = sb_json_is(sb_json_get(req, "stream"), SB_JSON_TRUE);
  sb_api_attribute(x, who, c);
  sb_call_start(c);
}

void sb_api_messages_count_tokens(sb_http_exchange_t *x,
                                  const sb_identity_t *who)
{
  (void)who;
  sb_json_t *req = sb_api_parse_object(x, SB_API_ANTHROPIC);
  char why[512];
  if (req == NULL)
    return;
  if (sb_messages_validate(req, true, why, sizeof(why)) != SB_OK) {
    sb_api_anthropic_error(x, 400, "%s", why);
    return;
  }
  sb_slice_t model;
  sb_route_t route;
  if (sb_json_string(&x->arena, sb_json_get(req, "model"), &model) != SB_OK) {
    sb_api_anthropic_error(x, 500, "out of memory");
    return;
  }
  if (sb_route(sb_gateway_catalog(x), model, &route) ==
      SB_ROUTE_UNKNOWN_MODEL) {
    sb_api_anthropic_error(x, 404,
                           "model '%.*s' is not in the catalog and its prefix "
                           "names no configured provider",
                           (int)SB_MIN(model.len, 200), model.ptr);
    return;
  }
  char out[64];
  int n = snprintf(out, sizeof(out), "{\"input_tokens\":%llu}",
                   (unsigned long long)sb_messages_estimate_tokens(req));
  sb_http_header_t h = {SB_SLICE_LIT("X-Token-Count"), SB_SLICE_LIT("estimate")};
  sb_http_respond(x, 200, &h, 1, "application/json",
                  sb_slice(out, (size_t)n));
}
