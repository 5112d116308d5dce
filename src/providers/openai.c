/*
 * The OpenAI chat-completions codec, shared by every OpenAI-compatible
 * service. Since the gateway's own output is OpenAI-shaped, this codec is
 * the pass-through ("fast") path:
 * - the request body is the client's, with only the routed fields
 *   rewritten (model, stream_options) and OpenRouter-only fields removed
 *   for services that reject unknown parameters;
 * - responses and stream chunks are forwarded member for member, with the
 *   gateway's id, model, provider and usage (with cost) written in.
 */
#include "codec_util.h"
#include "switchboard/call.h"
#include "switchboard/json_edit.h"
#include "switchboard/log.h"

/* Fields OpenRouter understands and plain OpenAI-compatible APIs reject. */
static const char *const openrouter_only[] = {
    "models", "provider", "route", "transforms", "plugins", "usage", "debug",
    "session_id", "trace", "cache_control", "reasoning", "include_reasoning",
};

#define MAX_EDITS 24

static const char *slice_z(sb_call_t *c, sb_slice_t s)
{
  return sb_arena_strndup(c->arena, s.ptr != NULL ? s.ptr : "", s.len);
}

/* Authentication, the provider's own headers, attribution. Shared by every
 * codec's request builder. */
static void common_headers(sb_call_t *c, const sb_provider_t *p)
{
  sb_call_up_auth(c);
  if (p->quirks & SB_QUIRK_FORWARD_APP_HEADERS) {
    if (c->referer.len > 0)
      sb_call_up_header(c, "HTTP-Referer", slice_z(c, c->referer));
    if (c->title.len > 0)
      sb_call_up_header(c, "X-Title", slice_z(c, c->title));
  }
}

static sb_status_t openai_chat_request(sb_call_t *c, sb_upstream_request_t *r)
{
  const sb_provider_t *p = c->route.provider;
  bool orf = (p->quirks & SB_QUIRK_OPENROUTER_FIELDS) != 0;
  sb_json_edit_t edits[MAX_EDITS];
  size_t n = 0;
  sb_buf_t tmp;
  sb_jw_t w;
  sb_status_t rc = SB_ERROR;

  sb_buf_init(&tmp, 1 << 20);
  sb_slice_t model = sb_slice(NULL, 0);
  {
    /* the upstream's model name, as a JSON string */
    sb_buf_t q;
    sb_buf_init(&q, 4096);
    if (sb_json_escape(&q, c->route.upstream_model.ptr,
                       c->route.upstream_model.len) == SB_OK)
      model = sb_arena_slice_dup(c->arena, sb_buf_slice(&q));
    sb_buf_free(&q);
    if (model.ptr == NULL)
      goto out;
  }
  edits[n++] = (sb_json_edit_t){"model", 5, model.ptr, model.len,
                                SB_EDIT_MODE_SET};

  if (orf && c->no_upstream_fallbacks)
    edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("models");
  if (!orf) {
    for (size_t i = 0; i < SB_ARRAY_LEN(openrouter_only); i++)
      edits[n++] = (sb_json_edit_t){openrouter_only[i],
                                    strlen(openrouter_only[i]), NULL, 0,
                                    SB_EDIT_MODE_DELETE};
    /* OpenRouter's reasoning.effort is OpenAI's reasoning_effort. */
    const sb_json_t *effort = sb_json_get(sb_json_get(c->req, "reasoning"),
                                          "effort");
    if (sb_json_is(effort, SB_JSON_STRING) &&
        sb_json_get(c->req, "reasoning_effort") == NULL)
      edits[n++] = (sb_json_edit_t){"reasoning_effort", 16, effort->raw.ptr,
                                    effort->raw.len, SB_EDIT_MODE_SET};
    /* An empty tool list is meaningless and OpenAI refuses it; so is a
     * tool_choice without tools. */
    const sb_json_t *tools = sb_json_get(c->req, "tools");
    if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count == 0) {
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("tools");
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("tool_choice");
      edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("parallel_tool_calls");
    }
  }

  if (c->stream && (p->quirks & SB_QUIRK_NO_STREAM_OPTIONS) == 0) {
    /* Ask for the usage chunk: a stream always ends with usage here. */
    const sb_json_t *so = sb_json_get(c->req, "stream_options");
    sb_jw_init(&w, &tmp);
    if (sb_json_is(so, SB_JSON_OBJECT)) {
      sb_json_edit_t e[] = {SB_EDIT_SET("include_usage", "true", 4)};
      sb_json_rewrite(&w, so, e, 1);
    } else {
      sb_jw_raw(&w, SB_STRLIT("{\"include_usage\":true}"));
    }
    if (sb_jw_status(&w) != SB_OK)
      goto out;
    sb_slice_t v = sb_arena_slice_dup(c->arena, sb_buf_slice(&tmp));
    edits[n++] = (sb_json_edit_t){"stream_options", 14, v.ptr, v.len,
                                  SB_EDIT_MODE_SET};
  } else {
    edits[n++] = (sb_json_edit_t)SB_EDIT_DELETE("stream_options");
  }

  sb_jw_init(&w, &c->up_body);
  sb_json_rewrite(&w, c->req, edits, n);
  if (sb_jw_status(&w) != SB_OK) {
    rc = SB_DECLINED;
    goto out;
  }
  r->url = sb_arena_join(c->arena, p->base_url, "/chat/completions");
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept", c->stream ? "text/event-stream" : "application/json");
  common_headers(c, p);
  r->headers = c->up_headers;
  r->n_headers = c->n_up_headers;
  rc = r->url != NULL ? SB_OK : SB_ERROR;
out:
  sb_buf_free(&tmp);
  return rc;
}

/* choices with native_finish_reason filled in where the provider did not
 * send one. */
static void write_choices(sb_jw_t *w, const sb_json_t *choices)
{
  sb_jw_arr_begin(w);
  for (const sb_json_t *ch = choices->child; ch != NULL; ch = ch->next) {
    const sb_json_t *fr = sb_json_get(ch, "finish_reason");
    if (ch->type == SB_JSON_OBJECT && sb_json_is(fr, SB_JSON_STRING) &&
        sb_json_get(ch, "native_finish_reason") == NULL) {
      sb_json_edit_t e[] = {{"native_finish_reason", 20, fr->raw.ptr,
                             fr->raw.len, SB_EDIT_MODE_DEFAULT}};
      sb_json_rewrite(w, ch, e, 1);
    } else {
      sb_jw_value(w, ch);
    }
  }
  sb_jw_arr_end(w);
}

static void note_finish(sb_call_t *c, const sb_json_t *choices)
{
  const sb_json_t *ch = sb_json_at(choices, 0);
  const sb_json_t *fr = sb_json_get(ch, "finish_reason");
  if (!sb_json_is(fr, SB_JSON_STRING))
    return;
  const sb_json_t *nat = sb_json_get(ch, "native_finish_reason");
  sb_call_set_finish(c, sb_json_str_raw(fr),
                     sb_json_is(nat, SB_JSON_STRING) ? sb_json_str_raw(nat)
                                                     : SB_NULL_SLICE);
  c->saw_finish = true;
}

/* Nested values are written to a scratch buffer, then spliced in. */
static sb_slice_t render(sb_call_t *c, sb_buf_t *b)
{
  return sb_arena_slice_dup(&c->scratch, sb_buf_slice(b));
}

static void openai_chat_response(sb_call_t *c, sb_slice_t body)
{
  sb_json_t *root;
  if (!sb_cu_response_root(c, body, &root))
    return;
  const sb_json_t *choices = sb_json_get(root, "choices");
  sb_call_take_usage(c, sb_json_get(root, "usage"));
  if (sb_json_is(choices, SB_JSON_ARRAY))
    note_finish(c, choices);
  if (!c->usage_known) {
    const sb_json_t *msg = sb_json_get(sb_json_at(choices, 0), "message");
    const sb_json_t *content = sb_json_get(msg, "content");
    c->usage.prompt = (c->req_raw.len + 3) / 4;
    if (sb_json_is(content, SB_JSON_STRING))
      c->content_bytes = content->raw.len - 2;
    c->usage.completion = (c->content_bytes + 3) / 4;
  }
  /* cost is needed inside the body we are about to write */
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);

  sb_buf_t ub, cb;
  sb_jw_t w;
  sb_buf_init(&ub, 1 << 20);
  sb_buf_init(&cb, 64u << 20);
  sb_jw_init(&w, &ub);
  sb_call_write_usage(c, &w);
  sb_slice_t usage = render(c, &ub);
  sb_slice_t ch = SB_NULL_SLICE;
  if (sb_json_is(choices, SB_JSON_ARRAY)) {
    sb_jw_init(&w, &cb);
    write_choices(&w, choices);
    ch = render(c, &cb);
  }
  sb_buf_free(&ub);
  sb_buf_free(&cb);
  sb_json_edit_t e[7] = {
      {"id", 2, c->j_id.ptr, c->j_id.len, SB_EDIT_MODE_SET},
      {"created", 7, c->j_created.ptr, c->j_created.len, SB_EDIT_MODE_SET},
      {"model", 5, c->j_model.ptr, c->j_model.len, SB_EDIT_MODE_SET},
      {"provider", 8, c->j_provider.ptr, c->j_provider.len, SB_EDIT_MODE_SET},
      /* required by OpenRouter's schema; some compatible servers omit it */
      SB_EDIT_DEFAULT("system_fingerprint", "null", 4),
  };
  size_t n = 5;
  if (ch.ptr != NULL)
    e[n++] = (sb_json_edit_t){"choices", 7, ch.ptr, ch.len, SB_EDIT_MODE_REPLACE};
  /* Without usage from the provider, the estimate is reported (and the
   * ledger row is marked as estimated). */
  e[n++] = (sb_json_edit_t){"usage", 5, usage.ptr, usage.len, SB_EDIT_MODE_SET};
  sb_buf_reset(&c->out);
  sb_jw_init(&w, &c->out);
  sb_json_rewrite(&w, root, e, n);
  if (sb_jw_status(&w) != SB_OK) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response is too large");
    return;
  }
  sb_call_respond(c, sb_buf_slice(&c->out));
}

static sb_status_t openai_chat_event(sb_call_t *c, const sb_sse_event_t *ev)
{
  if (SB_SLICE_IS(ev->data, "[DONE]"))
    return SB_DONE;
  sb_json_t *root;
  if (!sb_call_event_root(c, ev->data, &root))
    return SB_ERROR;
  const sb_json_t *err = sb_json_get(root, "error");
  if (sb_json_truthy(err)) {
    sb_slice_t msg = SB_NULL_SLICE, code = SB_NULL_SLICE;
    c->route.provider->codec->error_info(c, ev->data, &msg, &code);
    sb_call_stream_error(c, 502, msg.len > 0 ? msg
                                             : SB_SLICE_LIT("provider error"));
    return SB_ERROR;
  }
  const sb_json_t *usage = sb_json_get(root, "usage");
  if (sb_json_is(usage, SB_JSON_OBJECT))
    sb_call_take_usage(c, usage);
  const sb_json_t *choices = sb_json_get(root, "choices");
  if (!sb_json_is(choices, SB_JSON_ARRAY) || choices->count == 0) {
    /* The usage chunk; ours replaces it at the end. After the finish it is
     * the provider's last word before [DONE] ("exactly once, in the final
     * chunk before [DONE], with an empty choices array"): the answer is
     * complete, and the client's stream ends now rather than whenever the
     * provider gets to its [DONE]. */
    return sb_json_is(usage, SB_JSON_OBJECT) && c->saw_finish ? SB_DONE
                                                                : SB_OK;
  }
  const sb_json_t *delta = sb_json_get(choices->child, "delta");
  const sb_json_t *content = sb_json_get(delta, "content");
  if (sb_json_is(content, SB_JSON_STRING))
    c->content_bytes += content->raw.len - 2;
  const sb_json_t *fr = sb_json_get(choices->child, "finish_reason");
  sb_slice_t ch = SB_NULL_SLICE;
  if (sb_json_is(fr, SB_JSON_STRING)) {
    note_finish(c, choices);
    sb_buf_t cb;
    sb_jw_t w;
    sb_buf_init(&cb, 1 << 20);
    sb_jw_init(&w, &cb);
    write_choices(&w, choices);
    ch = render(c, &cb);
    sb_buf_free(&cb);
  }
  sb_json_edit_t e[] = {
      {"id", 2, c->j_id.ptr, c->j_id.len, SB_EDIT_MODE_SET},
      {"created", 7, c->j_created.ptr, c->j_created.len, SB_EDIT_MODE_SET},
      {"model", 5, c->j_model.ptr, c->j_model.len, SB_EDIT_MODE_SET},
      {"provider", 8, c->j_provider.ptr, c->j_provider.len, SB_EDIT_MODE_SET},
      SB_EDIT_DELETE("usage"),
      {"choices", 7, ch.ptr, ch.len, SB_EDIT_MODE_REPLACE},
  };
  sb_buf_reset(&c->out);
  sb_jw_t w;
  sb_jw_init(&w, &c->out);
  sb_json_rewrite(&w, root, e, ch.ptr != NULL ? 6 : 5);
  if (sb_jw_status(&w) != SB_OK) {
    sb_call_stream_error(c, 502, SB_SLICE_LIT("a stream event is too large"));
    return SB_ERROR;
  }
  if (sb_call_emit_chunk(c, sb_buf_slice(&c->out)) == SB_ERROR)
    return SB_ERROR; /* the client is gone */
  return SB_OK;
}

static void openai_error_info(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                              sb_slice_t *code)
{
  sb_json_t *root;
  if (!sb_cu_error_root(c, body, message, code, &root))
    return;
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = sb_json_get(err, "message");
  if (sb_json_is(err, SB_JSON_STRING))
    msg = err;
  if (msg == NULL)
    msg = sb_json_get(root, "message");
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(&c->scratch, msg, message);
  const sb_json_t *cd = sb_json_get(err, "code");
  if (sb_json_is(cd, SB_JSON_STRING))
    sb_json_string(&c->scratch, cd, code);
  else if (cd != NULL && cd->type == SB_JSON_NUMBER)
    *code = cd->raw;
}

const sb_codec_t sb_codec_openai = {
    .name = "openai",
    .caps = SB_CODEC_CAP_STREAM | SB_CODEC_CAP_TOOLS | SB_CODEC_CAP_PASSTHROUGH,
    .chat_request = openai_chat_request,
    .chat_response = openai_chat_response,
    .chat_event = openai_chat_event,
    .error_info = openai_error_info,
};
