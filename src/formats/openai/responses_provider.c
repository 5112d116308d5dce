/* SPDX-License-Identifier: MIT */
/*
 * The Responses API, provider side: a provider that speaks it (OpenAI's
 * own API, `responses_api: true`) gets the Responses door's requests
 * untranslated. This side serves the pass-through path only; a provider
 * of the OpenAI format gets the other doors' requests as chat completions.
 *
 * - The request: the client's body with `model` rewritten,
 *   `previous_response_id` left out (the conversation it names was
 *   continued from switchboard's store into `input`), switchboard's and
 *   OpenRouter's routing members left out for a provider that does not
 *   take them, and from `input` what only switchboard can read: reasoning
 *   another provider made (opaque reasoning switchboard handed out) and
 *   the ids switchboard gave items it wrote.
 * - A whole answer: the body with the response's `id`, `model` and
 *   `created_at` rewritten, and the `previous_response_id` the client
 *   named (one NATIVE event), and its output told as typed events too
 *   (escalation reads the text and the calls), its status and usage.
 * - A stream: each event checked and copied with the response's `id`,
 *   `model` and `created_at` rewritten where it has one, without a DOM; output deltas
 *   counted; response.completed / response.incomplete end the answer
 *   (SB_DONE) with its finish and usage; `error` and response.failed are
 *   the provider's error (an ERROR event), so the client gets the
 *   gateway's failure in its own terms.
 */
#include <stdio.h>
#include <strings.h>

#include "responses.h"
#include "switchboard/json_edit.h"
#include "switchboard/json_scan.h"

/* Members OpenRouter and switchboard read that OpenAI refuses. */
static const char *const routing_only[] = {
    "models", "provider", "route", "transforms", "plugins", "usage",
    "debug", "session_id", "trace",
};

#define MAX_EDITS 16

/* ---- the request ------------------------------------------------------------- */

/* Whether the input holds anything only switchboard reads. */
static bool foreign(const sb_json_t *x)
{
  const sb_json_t *id = sb_json_get(x, "id");
  bool own = sb_json_is(id, SB_JSON_STRING) &&
             sb_responses_own_id(sb_json_str_raw(id));
  if (!SB_JSON_STR_IS(sb_json_get(x, "type"), "reasoning"))
    return own;
  sb_slice_t enc = sb_hub_jtext(sb_json_get(x, "encrypted_content"));
  return own || sb_slice_starts(enc, SB_STRLIT(SB_HUB_OPAQUE_PREFIX));
}

/* The input without another provider's reasoning and without the ids
 * switchboard made (OpenAI reads an item's id as a stored item's). */
static sb_status_t own_input(const sb_json_t *input, sb_arena_t *a,
                             sb_slice_t *out)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 256u << 20);
  sb_jw_init(&w, &b);
  sb_jw_arr_begin(&w);
  for (const sb_json_t *x = input->child; x != NULL; x = x->next) {
    if (!foreign(x)) {
      sb_jw_value(&w, x);
      continue;
    }
    if (SB_JSON_STR_IS(sb_json_get(x, "type"), "reasoning")) {
      sb_slice_t enc = sb_hub_jtext(sb_json_get(x, "encrypted_content"));
      if (enc.len == 0 || sb_slice_starts(enc, SB_STRLIT(SB_HUB_OPAQUE_PREFIX)))
        continue; /* not OpenAI's to replay */
    }
    sb_json_edit_t ed[] = {SB_EDIT_DELETE("id")};
    sb_json_rewrite(&w, x, ed, 1);
  }
  sb_jw_arr_end(&w);
  sb_status_t rc = sb_jw_status(&w);
  if (rc == SB_OK) {
    *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
    rc = out->ptr != NULL ? SB_OK : SB_ERROR;
  }
  sb_buf_free(&b);
  return rc;
}

static sb_status_t rs_request(const sb_hub_req_t *req,
                              const sb_codec_route_t *route, bool passthrough,
                              sb_arena_t *a, sb_codec_request_t *out)
{
  const sb_provider_t *p = route->provider;
  const sb_json_t *body = req->native;
  if (!passthrough || body == NULL) {
    out->error = "a Responses API provider takes only the Responses door's "
                 "requests";
    return SB_ERROR;
  }
  bool orf = (p->quirks & SB_QUIRK_OPENROUTER_FIELDS) != 0;
  sb_json_edit_t edits[MAX_EDITS + SB_ARRAY_LEN(routing_only)];
  size_t n = 0;
  sb_slice_t model;
  if (sb_hub_escape(a, route->upstream_model.ptr, route->upstream_model.len,
                    &model) != SB_OK)
    return SB_ERROR;
  char *q = sb_arena_printf(a, "\"%.*s\"", (int)model.len, model.ptr);
  if (q == NULL)
    return SB_ERROR;
  edits[n++] = (sb_json_edit_t){"model", 5, q, model.len + 2, SB_EDIT_MODE_SET};
  edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("previous_response_id");
  if (orf && route->no_fallbacks)
    edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("models");
  if (!orf)
    for (size_t i = 0; i < SB_ARRAY_LEN(routing_only); i++)
      edits[n++] = (sb_json_edit_t){routing_only[i], strlen(routing_only[i]),
                                    NULL, 0, SB_EDIT_MODE_DELETE};
  const sb_json_t *input = sb_json_get(body, "input");
  bool filter = false;
  if (sb_json_is(input, SB_JSON_ARRAY))
    for (const sb_json_t *x = input->child; x != NULL && !filter; x = x->next)
      filter = foreign(x);
  if (filter) {
    sb_slice_t v;
    if (own_input(input, a, &v) != SB_OK)
      return SB_DECLINED;
    edits[n++] = (sb_json_edit_t){"input", 5, v.ptr, v.len, SB_EDIT_MODE_SET};
  }
  sb_jw_t w;
  sb_jw_init(&w, out->body);
  sb_json_rewrite(&w, body, edits, n);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(out, "Accept", req->stream ? "text/event-stream"
                                                     : "application/json");
  if (p->quirks & SB_QUIRK_FORWARD_APP_HEADERS)
    for (size_t i = 0; i < req->n_client_headers; i++)
      sb_codec_request_header(out, req->client_headers[i].name,
                              req->client_headers[i].value);
  out->url = sb_arena_join(a, p->base_url, "/responses");
  return out->url != NULL ? SB_OK : SB_ERROR;
}

/* ---- answers: shared ------------------------------------------------------------ */

typedef struct {
  bool calls;    /* a function or custom tool call was seen */
  bool finished;
} rs_ans_t;

static rs_ans_t *state(sb_codec_answer_t *an)
{
  if (an->state == NULL)
    an->state = sb_arena_calloc(an->arena, sizeof(rs_ans_t));
  return an->state;
}

#define EMIT(an, ev)                                                           \
  do {                                                                         \
    if (sb_hub_emit(&(an)->sink, (ev)) == SB_ERROR)                            \
      return SB_ERROR;                                                         \
  } while (0)

static sb_status_t fail(sb_codec_answer_t *an, int status, sb_slice_t msg,
                        bool from_provider)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = status, .text = msg,
                       .from_provider = from_provider};
  sb_hub_emit(&an->sink, &ev);
  return SB_ERROR;
}
#define FAIL(an, lit) fail((an), 502, SB_SLICE_LIT(lit), false)

#define MAX_TOKENS ((int64_t)1 << 40)

static uint64_t count(const sb_json_t *obj, const char *name)
{
  int64_t v;
  if (sb_json_int64(sb_json_getn(obj, name, strlen(name)), &v) == SB_OK &&
      v > 0 && v <= MAX_TOKENS)
    return (uint64_t)v;
  return 0;
}

bool sb_responses_usage(const sb_json_t *u, sb_usage_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return false;
  const sb_json_t *in = sb_json_get(u, "input_tokens_details");
  const sb_json_t *o = sb_json_get(u, "output_tokens_details");
  out->prompt = count(u, "input_tokens");
  out->completion = count(u, "output_tokens");
  out->cached = count(in, "cached_tokens");
  out->cache_write = count(in, "cache_write_tokens");
  out->reasoning = count(o, "reasoning_tokens");
  return true;
}

/* The previous_response_id the client named (JSON text), which the
 * provider never saw: its answer names it as the client expects. */
static sb_slice_t previous_of(const sb_codec_answer_t *an)
{
  const sb_json_t *p = an->req != NULL
                           ? sb_json_get(an->req->native, "previous_response_id")
                           : NULL;
  return sb_json_is(p, SB_JSON_STRING) ? p->raw : SB_NULL_SLICE;
}

/* The end of a response object: its finish (a response that called tools
 * finished with them) and its usage. */
static sb_status_t ending(sb_codec_answer_t *an, const sb_json_t *resp,
                          bool calls)
{
  const sb_json_t *status = sb_json_get(resp, "status");
  const sb_json_t *reason =
      sb_json_get(sb_json_get(resp, "incomplete_details"), "reason");
  sb_slice_t native = sb_json_is(reason, SB_JSON_STRING) ? sb_json_str_raw(reason)
                      : sb_json_is(status, SB_JSON_STRING)
                          ? sb_json_str_raw(status)
                          : SB_SLICE_LIT("completed");
  sb_finish_t f = sb_responses_finish_in(native);
  if (f == SB_FINISH_STOP && calls)
    f = SB_FINISH_TOOL_CALLS;
  sb_hub_event_t fin = {.kind = SB_HUB_EV_FINISH, .finish = f, .native = native};
  EMIT(an, &fin);
  const sb_json_t *u = sb_json_get(resp, "usage");
  sb_hub_event_t ev = {.kind = SB_HUB_EV_USAGE};
  if (sb_responses_usage(u, &ev.usage)) {
    ev.usage_json = u->raw;
    EMIT(an, &ev);
  }
  return SB_OK;
}

/* The message of an error object ({"message": ...}) or of an error body. */
static void rs_error_info(sb_arena_t *a, sb_slice_t body, sb_slice_t *message,
                          sb_slice_t *code)
{
  sb_openai_chat_provider.error_info(a, body, message, code);
}

static sb_status_t provider_error(sb_codec_answer_t *an, const sb_json_t *err)
{
  sb_slice_t msg = SB_NULL_SLICE;
  const sb_json_t *m = sb_json_get(err, "message");
  if (!sb_json_is(m, SB_JSON_STRING) ||
      sb_json_string(an->scratch, m, &msg) != SB_OK || msg.len == 0)
    msg = SB_SLICE_LIT("the provider reported an error");
  return fail(an, 502, msg, true);
}

/* ---- a whole answer -------------------------------------------------------------- */

static sb_status_t item_events(sb_codec_answer_t *an, const sb_json_t *x,
                               int64_t *calls)
{
  const sb_json_t *type = sb_json_get(x, "type");
  if (SB_JSON_STR_IS(type, "message")) {
    const sb_json_t *c = sb_json_get(x, "content");
    for (const sb_json_t *p = sb_json_is(c, SB_JSON_ARRAY) ? c->child : NULL;
         p != NULL; p = p->next)
      if (SB_JSON_STR_IS(sb_json_get(p, "type"), "output_text")) {
        sb_hub_event_t ev = {.kind = SB_HUB_EV_TEXT,
                             .text = sb_hub_jtext(sb_json_get(p, "text"))};
        EMIT(an, &ev);
      }
  } else if (SB_JSON_STR_IS(type, "function_call") ||
             SB_JSON_STR_IS(type, "custom_tool_call")) {
    sb_hub_event_t ev = {.kind = SB_HUB_EV_TOOL_START, .index = *calls,
                         .id = sb_hub_jtext(sb_json_get(x, "call_id")),
                         .name = sb_hub_jtext(sb_json_get(x, "name"))};
    EMIT(an, &ev);
    sb_slice_t args = sb_hub_jtext(sb_json_get(x, "arguments"));
    if (args.len > 0) {
      sb_hub_event_t a = {.kind = SB_HUB_EV_TOOL_ARGS, .index = *calls,
                          .text = args};
      EMIT(an, &a);
    }
    (*calls)++;
  } else if (SB_JSON_STR_IS(type, "reasoning")) {
    const sb_json_t *s = sb_json_get(x, "summary");
    for (const sb_json_t *p = sb_json_is(s, SB_JSON_ARRAY) ? s->child : NULL;
         p != NULL; p = p->next) {
      sb_hub_event_t ev = {.kind = SB_HUB_EV_REASONING,
                           .sig_format = SB_HUB_SIG_OPENAI,
                           .text = sb_hub_jtext(sb_json_get(p, "text"))};
      if (ev.text.len > 0)
        EMIT(an, &ev);
    }
  }
  return SB_OK;
}

static sb_status_t rs_response(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_json_t *root;
  if (sb_json_parse(an->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT)
    return FAIL(an, "the provider returned a response that is not a JSON "
                    "object");
  if (sb_json_truthy(sb_json_get(root, "error")))
    return provider_error(an, sb_json_get(root, "error"));
  sb_hub_event_t start = {.kind = SB_HUB_EV_START};
  EMIT(an, &start);
  const sb_json_t *output = sb_json_get(root, "output");
  int64_t calls = 0;
  for (const sb_json_t *x = sb_json_is(output, SB_JSON_ARRAY) ? output->child
                                                             : NULL;
       x != NULL; x = x->next)
    if (item_events(an, x, &calls) != SB_OK)
      return SB_ERROR;
  if (ending(an, root, calls > 0) != SB_OK)
    return SB_ERROR;
  const sb_answer_names_t *n = an->names;
  char *id = sb_arena_printf(an->scratch, "\"resp_%.*s\"",
                             (int)sb_responses_tail(n->id).len,
                             sb_responses_tail(n->id).ptr);
  if (id == NULL)
    return FAIL(an, "out of memory");
  sb_slice_t prev = previous_of(an);
  sb_json_edit_t e[4] = {
      {"id", 2, id, strlen(id), SB_EDIT_MODE_SET},
      {"model", 5, n->model.ptr, n->model.len, SB_EDIT_MODE_SET},
  };
  size_t ne = 2;
  if (n->created.len > 0)
    e[ne++] = (sb_json_edit_t){"created_at", 10, n->created.ptr, n->created.len,
                               SB_EDIT_MODE_REPLACE};
  if (prev.len > 0)
    e[ne++] = (sb_json_edit_t){"previous_response_id", 20, prev.ptr, prev.len,
                               SB_EDIT_MODE_SET};
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 256u << 20);
  sb_jw_init(&w, &b);
  sb_json_rewrite(&w, root, e, ne);
  sb_hub_event_t ev = {.kind = SB_HUB_EV_NATIVE, .has_output = true};
  ev.text = sb_jw_status(&w) == SB_OK
                ? sb_arena_slice_dup(an->arena, sb_buf_slice(&b))
                : SB_NULL_SLICE;
  sb_buf_free(&b);
  if (ev.text.ptr == NULL)
    return FAIL(an, "the provider's response is too large");
  EMIT(an, &ev);
  return SB_OK;
}

/* ---- a stream ------------------------------------------------------------------- */

/* What a stream event tells, read while it is copied. */
typedef struct {
  sb_slice_t type;     /* jtext */
  sb_slice_t response; /* the response object's text, rewritten */
  sb_slice_t delta;    /* jtext */
  sb_slice_t item_type;/* output_item.added: the item's type */
  sb_slice_t error;    /* an `error` member's text */
} rs_facts_t;

static sb_status_t put(sb_buf_t *out, bool *comma, sb_slice_t member)
{
  if (*comma)
    sb_buf_append(out, ",", 1);
  *comma = true;
  return sb_buf_append_slice(out, member);
}

/* A response object's members, `id`, `model`, `created_at` the gateway's,
 * `previous_response_id` the client's (`prev`, when it named one). */
static sb_status_t rewrite_response(sb_slice_t v, const sb_answer_names_t *n,
                                    sb_slice_t prev, sb_buf_t *out)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  if (!sb_json_iter_object(&it, v))
    return sb_buf_append_slice(out, v);
  char id[SB_RESPONSES_ID_MAX + 2];
  sb_slice_t tail = sb_responses_tail(n->id);
  int idn = snprintf(id, sizeof(id), "\"resp_%.*s\"", (int)tail.len, tail.ptr);
  bool comma = false, prev_seen = false;
  sb_status_t rc = sb_buf_append(out, "{", 1);
  while (rc == SB_OK && sb_json_iter_next(&it, &m)) {
    if (SB_JSON_NAME_IS(&m, "id"))
      rc = sb_openai_put_member(out, &comma, SB_STRLIT("id"),
                                sb_slice(id, (size_t)SB_MIN(idn, (int)sizeof(id) - 1)));
    else if (SB_JSON_NAME_IS(&m, "model"))
      rc = sb_openai_put_member(out, &comma, SB_STRLIT("model"), n->model);
    else if (SB_JSON_NAME_IS(&m, "created_at") && n->created.len > 0)
      rc = sb_openai_put_member(out, &comma, SB_STRLIT("created_at"),
                                n->created);
    else if (SB_JSON_NAME_IS(&m, "previous_response_id") && prev.len > 0) {
      prev_seen = true;
      rc = sb_openai_put_member(out, &comma, SB_STRLIT("previous_response_id"),
                                prev);
    } else {
      rc = put(out, &comma, m.member);
    }
  }
  if (rc == SB_OK && prev.len > 0 && !prev_seen)
    rc = sb_openai_put_member(out, &comma, SB_STRLIT("previous_response_id"),
                              prev);
  return rc == SB_OK ? sb_buf_append(out, "}", 1) : SB_ERROR;
}

static sb_status_t rewrite_event(sb_slice_t data, const sb_answer_names_t *n,
                                 sb_slice_t prev, sb_buf_t *out, rs_facts_t *f)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  memset(f, 0, sizeof(*f));
  if (sb_json_validate(data.ptr, data.len, 0, NULL) != SB_OK ||
      !sb_json_iter_object(&it, data))
    return SB_ERROR;
  bool comma = false;
  size_t resp_at = 0, resp_len = 0; /* `out` may move as it grows */
  sb_buf_append(out, "{", 1);
  while (sb_json_iter_next(&it, &m)) {
    if (SB_JSON_NAME_IS(&m, "response") && m.value.ptr[0] == '{') {
      if (comma)
        sb_buf_append(out, ",", 1);
      comma = true;
      sb_buf_append(out, SB_STRLIT("\"response\":"));
      resp_at = out->len;
      if (rewrite_response(m.value, n, prev, out) != SB_OK)
        return SB_ERROR;
      resp_len = out->len - resp_at;
      continue;
    }
    if (SB_JSON_NAME_IS(&m, "type"))
      f->type = sb_json_scan_string(m.value);
    else if (SB_JSON_NAME_IS(&m, "delta"))
      f->delta = sb_json_scan_string(m.value);
    else if (SB_JSON_NAME_IS(&m, "error"))
      f->error = m.value;
    else if (SB_JSON_NAME_IS(&m, "item")) {
      sb_json_iter_t ii;
      sb_json_member_t im;
      if (sb_json_iter_object(&ii, m.value))
        while (sb_json_iter_next(&ii, &im))
          if (SB_JSON_NAME_IS(&im, "type"))
            f->item_type = sb_json_scan_string(im.value);
    }
    if (put(out, &comma, m.member) != SB_OK)
      return SB_ERROR;
  }
  if (sb_buf_append(out, "}", 1) != SB_OK)
    return SB_ERROR;
  if (resp_len > 0)
    f->response = sb_slice(out->data + resp_at, resp_len);
  return SB_OK;
}

/* Does the event carry output (text that is not blank, a call, its
 * arguments, reasoning)? */
static bool carries_output(const rs_facts_t *f, rs_ans_t *s)
{
  if (SB_SLICE_IS(f->type, "response.output_item.added") &&
      (SB_SLICE_IS(f->item_type, "function_call") ||
       SB_SLICE_IS(f->item_type, "custom_tool_call"))) {
    s->calls = true;
    return true;
  }
  if (SB_SLICE_IS(f->type, "response.output_text.delta") ||
      SB_SLICE_IS(f->type, "response.refusal.delta"))
    return sb_openai_nonblank(f->delta);
  return f->delta.len > 0 &&
         (SB_SLICE_IS(f->type, "response.function_call_arguments.delta") ||
          SB_SLICE_IS(f->type, "response.custom_tool_call_input.delta") ||
          SB_SLICE_IS(f->type, "response.reasoning_summary_text.delta") ||
          SB_SLICE_IS(f->type, "response.reasoning_text.delta"));
}

static sb_status_t rs_event(sb_codec_answer_t *an, const sb_sse_event_t *e)
{
  rs_ans_t *s = state(an);
  if (s == NULL)
    return FAIL(an, "out of memory");
  if (!an->passthrough)
    return FAIL(an, "a Responses API provider serves only the Responses "
                    "door");
  if (SB_SLICE_IS(e->data, "[DONE]"))
    return SB_DONE;
  sb_buf_t out;
  rs_facts_t f;
  sb_buf_init(&out, e->data.len + 4096);
  if (sb_buf_reserve(&out, e->data.len + 512) != SB_OK) {
    sb_buf_free(&out);
    return FAIL(an, "a stream event is too large");
  }
  if (rewrite_event(e->data, an->names, previous_of(an), &out, &f) != SB_OK) {
    sb_buf_free(&out);
    return FAIL(an, "the provider sent an invalid stream event");
  }
  sb_status_t rc = SB_OK;
  sb_json_t *v = NULL;
  if (SB_SLICE_IS(f.type, "error")) {
    /* {"type":"error","code","message"} */
    if (sb_json_parse(an->scratch, e->data.ptr, e->data.len, 0, &v, NULL) !=
        SB_OK)
      v = NULL;
    rc = provider_error(an, v);
  } else if (SB_SLICE_IS(f.type, "response.failed")) {
    if (sb_json_parse(an->scratch, f.response.ptr, f.response.len, 0, &v,
                      NULL) != SB_OK)
      v = NULL;
    rc = provider_error(an, sb_json_get(v, "error"));
  } else {
    sb_hub_event_t ev = {.kind = SB_HUB_EV_NATIVE,
                         .name = f.type,
                         .text = sb_buf_slice(&out)};
    ev.has_output = carries_output(&f, s);
    if (SB_SLICE_IS(f.type, "response.output_text.delta"))
      ev.output_bytes = f.delta.len;
    if (f.type.len == 0)
      ev.name = e->event;
    if (sb_hub_emit(&an->sink, &ev) == SB_ERROR)
      rc = SB_ERROR;
    else if (SB_SLICE_IS(f.type, "response.completed") ||
             SB_SLICE_IS(f.type, "response.incomplete")) {
      s->finished = true;
      if (sb_json_parse(an->scratch, f.response.ptr, f.response.len, 0, &v,
                        NULL) != SB_OK)
        rc = FAIL(an, "the provider sent an invalid response object");
      else
        rc = ending(an, v, s->calls) == SB_OK ? SB_DONE : SB_ERROR;
    }
  }
  sb_buf_free(&out);
  return rc;
}

const sb_codec_provider_t sb_responses_provider = {
    .request = rs_request,
    .response = rs_response,
    .event = rs_event,
    .error_info = rs_error_info,
};
