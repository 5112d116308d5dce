/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI chat format, provider side, answer half: chat.completion
 * bodies and chat.completion.chunk streams into hub events.
 *
 * - Translation (the client speaks another format): each event is parsed
 *   and turned into typed events (text, reasoning with OpenRouter's
 *   reasoning_details, tool calls, finish, usage).
 * - Pass-through (the client speaks this format): each event is rewritten
 *   without a DOM (passthrough.c) into one NATIVE event, and its finish and
 *   usage reported beside it; a whole body is rewritten once and also told
 *   as typed events (escalation reads the answer's text and tool calls).
 *
 * The usage chunk (empty `choices`) is never forwarded: the door writes
 * its own at the end. After the finish it is the provider's last word
 * before [DONE] ("exactly once, in the final chunk before [DONE]"), so the
 * answer is complete there (SB_DONE) rather than at [DONE].
 */
#include "openai.h"
#include "switchboard/json_edit.h"

typedef struct {
  bool started;
  bool finished;
  uint64_t chunks;
} oa_ans_t;

static oa_ans_t *state(sb_codec_answer_t *an)
{
  if (an->state == NULL)
    an->state = sb_arena_calloc(an->arena, sizeof(oa_ans_t));
  return an->state;
}

static sb_status_t emit(sb_codec_answer_t *an, const sb_hub_event_t *ev)
{
  return sb_hub_emit(&an->sink, ev);
}

/* Emit, and stop unless the sink says go on (SB_AGAIN: taken, but pause). */
#define EMIT(an, ev)                                                           \
  do {                                                                         \
    sb_status_t rc_ = emit((an), (ev));                                        \
    if (rc_ == SB_ERROR)                                                       \
      return SB_ERROR;                                                         \
  } while (0)

static sb_status_t fail(sb_codec_answer_t *an, int status, const char *msg,
                        bool from_provider)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = status,
                       .text = sb_slice_z(msg), .from_provider = from_provider};
  emit(an, &ev);
  return SB_ERROR;
}

/* ---- usage and errors ------------------------------------------------------ */

/* Counts above this are treated as absent (a hostile or broken upstream
 * must not overflow sums or costs). */
#define MAX_TOKENS ((int64_t)1 << 40)

static uint64_t count(const sb_json_t *obj, const char *name, size_t n)
{
  int64_t v;
  if (sb_json_int64(sb_json_getn(obj, name, n), &v) == SB_OK && v > 0 &&
      v <= MAX_TOKENS)
    return (uint64_t)v;
  return 0;
}
#define COUNT(obj, lit) count((obj), SB_STRLIT(lit))

bool sb_openai_usage(const sb_json_t *u, sb_usage_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return false;
  const sb_json_t *pd = sb_json_get(u, "prompt_tokens_details");
  const sb_json_t *cd = sb_json_get(u, "completion_tokens_details");
  out->prompt = COUNT(u, "prompt_tokens");
  out->completion = COUNT(u, "completion_tokens");
  out->cached = COUNT(pd, "cached_tokens");
  out->cache_write = COUNT(pd, "cache_write_tokens");
  out->reasoning = COUNT(cd, "reasoning_tokens");
  return true;
}

static sb_status_t usage_event(sb_codec_answer_t *an, const sb_json_t *u)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_USAGE};
  if (!sb_openai_usage(u, &ev.usage))
    return SB_OK;
  ev.usage_json = u->raw;
  return emit(an, &ev) == SB_ERROR ? SB_ERROR : SB_OK;
}

static void openai_error_info(sb_arena_t *a, sb_slice_t body,
                              sb_slice_t *message, sb_slice_t *code)
{
  sb_json_t *root;
  *message = *code = SB_NULL_SLICE;
  if (sb_json_parse(a, body.ptr, body.len, 0, &root, NULL) != SB_OK) {
    *message = sb_slice(body.ptr, SB_MIN(body.len, 200));
    return;
  }
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = sb_json_get(err, "message");
  if (sb_json_is(err, SB_JSON_STRING))
    msg = err;
  if (msg == NULL)
    msg = sb_json_get(root, "message");
  if (sb_json_is(msg, SB_JSON_STRING))
    sb_json_string(a, msg, message);
  const sb_json_t *cd = sb_json_get(err, "code");
  if (sb_json_is(cd, SB_JSON_STRING))
    sb_json_string(a, cd, code);
  else if (cd != NULL && cd->type == SB_JSON_NUMBER)
    *code = cd->raw;
}

/* An error the provider reported in its answer. */
static sb_status_t provider_error(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_slice_t msg, code;
  openai_error_info(an->scratch, body, &msg, &code);
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = 502,
                       .text = msg.len > 0 ? msg : SB_SLICE_LIT("provider error"),
                       .from_provider = true};
  emit(an, &ev);
  return SB_ERROR;
}

/* ---- typed events of one message or delta ------------------------------------ */

static sb_hub_sig_t detail_format(const sb_json_t *f)
{
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_ANTHROPIC))
    return SB_HUB_SIG_ANTHROPIC;
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_GEMINI))
    return SB_HUB_SIG_GEMINI;
  if (SB_JSON_STR_IS(f, SB_OPENAI_FMT_RESPONSES))
    return SB_HUB_SIG_OPENAI;
  return SB_HUB_SIG_NONE;
}

static sb_slice_t jtext(const sb_json_t *s)
{
  return sb_json_is(s, SB_JSON_STRING) ? sb_json_str_raw(s) : SB_NULL_SLICE;
}

/* Reasoning: reasoning_details when given (text, signature, encrypted
 * data, in their format), else the `reasoning` text. */
static sb_status_t reasoning(sb_codec_answer_t *an, const sb_json_t *m)
{
  const sb_json_t *details = sb_json_get(m, "reasoning_details");
  if (sb_json_is(details, SB_JSON_ARRAY) && details->count > 0) {
    for (const sb_json_t *d = details->child; d != NULL; d = d->next) {
      const sb_json_t *type = sb_json_get(d, "type");
      sb_hub_event_t ev = {.sig_format = detail_format(sb_json_get(d, "format"))};
      if (SB_JSON_STR_IS(type, "reasoning.text")) {
        ev.kind = SB_HUB_EV_REASONING;
        ev.text = jtext(sb_json_get(d, "text"));
        if (ev.text.len > 0)
          EMIT(an, &ev);
        const sb_json_t *sig = sb_json_get(d, "signature");
        if (sb_json_is(sig, SB_JSON_STRING)) {
          ev.kind = SB_HUB_EV_SIGNATURE;
          ev.text = jtext(sig);
          EMIT(an, &ev);
        }
      } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
        ev.kind = SB_HUB_EV_REDACTED;
        ev.text = jtext(sb_json_get(d, "data"));
        ev.id = jtext(sb_json_get(d, "id"));
        EMIT(an, &ev);
      } else if (SB_JSON_STR_IS(type, "reasoning.summary")) {
        ev.kind = SB_HUB_EV_REASONING;
        ev.text = jtext(sb_json_get(d, "summary"));
        if (ev.text.len > 0)
          EMIT(an, &ev);
      }
    }
    return SB_OK;
  }
  const sb_json_t *r = sb_json_get(m, "reasoning");
  if (!sb_json_is(r, SB_JSON_STRING))
    r = sb_json_get(m, "reasoning_content"); /* DeepSeek, vLLM */
  if (sb_json_is(r, SB_JSON_STRING) && r->raw.len > 2) {
    sb_hub_event_t ev = {.kind = SB_HUB_EV_REASONING, .text = jtext(r)};
    EMIT(an, &ev);
  }
  return SB_OK;
}

/* Tool calls of a delta (pieces, by index) or of a whole message. */
static sb_status_t tool_calls(sb_codec_answer_t *an, const sb_json_t *calls,
                              bool whole)
{
  if (!sb_json_is(calls, SB_JSON_ARRAY))
    return SB_OK;
  int64_t pos = 0;
  for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next, pos++) {
    const sb_json_t *fn = sb_json_get(tc, "function");
    const sb_json_t *id = sb_json_get(tc, "id");
    const sb_json_t *name = sb_json_get(fn, "name");
    const sb_json_t *args = sb_json_get(fn, "arguments");
    int64_t index;
    if (whole || sb_json_int64(sb_json_get(tc, "index"), &index) != SB_OK)
      index = pos;
    if (sb_json_is(id, SB_JSON_STRING) || sb_json_is(name, SB_JSON_STRING)) {
      sb_hub_event_t ev = {.kind = SB_HUB_EV_TOOL_START, .index = index,
                           .id = jtext(id), .name = jtext(name)};
      EMIT(an, &ev);
    }
    sb_hub_event_t ev = {.kind = SB_HUB_EV_TOOL_ARGS, .index = index};
    if (sb_json_is(args, SB_JSON_STRING)) {
      ev.text = jtext(args);
    } else if (sb_json_is(args, SB_JSON_OBJECT)) {
      if (sb_hub_escape(an->scratch, args->raw.ptr, args->raw.len,
                        &ev.text) != SB_OK)
        return SB_ERROR;
    }
    if (ev.text.len > 0)
      EMIT(an, &ev);
  }
  return SB_OK;
}

/* The deltas (or the message) of the first choice, then its finish. */
static sb_status_t choice_events(sb_codec_answer_t *an, const sb_json_t *ch,
                                 bool whole)
{
  const sb_json_t *m = whole ? sb_json_get(ch, "message")
                             : sb_json_get(ch, "delta");
  if (reasoning(an, m) != SB_OK)
    return SB_ERROR;
  const sb_json_t *content = sb_json_get(m, "content");
  /* a whole answer's empty text is still its content ("" is not null) */
  if (sb_json_is(content, SB_JSON_STRING) && (whole || content->raw.len > 2)) {
    sb_hub_event_t ev = {.kind = SB_HUB_EV_TEXT, .text = jtext(content)};
    EMIT(an, &ev);
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next)
      if (SB_JSON_STR_IS(sb_json_get(p, "type"), "text")) {
        sb_hub_event_t ev = {.kind = SB_HUB_EV_TEXT,
                             .text = jtext(sb_json_get(p, "text"))};
        EMIT(an, &ev);
      }
  }
  if (tool_calls(an, sb_json_get(m, "tool_calls"), whole) != SB_OK)
    return SB_ERROR;
  const sb_json_t *fr = sb_json_get(ch, "finish_reason");
  if (sb_json_is(fr, SB_JSON_STRING)) {
    const sb_json_t *nat = sb_json_get(ch, "native_finish_reason");
    sb_hub_event_t ev = {.kind = SB_HUB_EV_FINISH,
                         .finish = sb_openai_finish_in(sb_json_str_raw(fr)),
                         .native = sb_json_is(nat, SB_JSON_STRING)
                                       ? sb_json_str_raw(nat)
                                       : sb_json_str_raw(fr)};
    oa_ans_t *s = state(an);
    if (s != NULL)
      s->finished = true;
    EMIT(an, &ev);
  }
  return SB_OK;
}

/* ---- a whole body ------------------------------------------------------------ */

/* The body for the client: the gateway's members in, usage out (the door
 * writes the gateway's), native_finish_reason beside each finish_reason,
 * system_fingerprint kept (null when the provider left it out). */
static sb_status_t rewrite_body(sb_codec_answer_t *an, const sb_json_t *root,
                                sb_slice_t *out)
{
  const sb_answer_names_t *n = an->names;
  const sb_json_t *choices = sb_json_get(root, "choices");
  sb_buf_t cb, ob;
  sb_jw_t w;
  sb_slice_t ch = SB_NULL_SLICE;
  sb_buf_init(&cb, 64u << 20);
  sb_buf_init(&ob, 64u << 20);
  /* room for the rewritten text at once: the source's and a little */
  size_t extra = n->id.len + n->created.len + n->model.len + n->provider.len;
  if (sb_buf_grow(&ob, root->raw.len + extra + 256) != SB_OK)
    return SB_ERROR;
  if (sb_json_is(choices, SB_JSON_ARRAY)) {
    if (sb_buf_grow(&cb, choices->raw.len + 64) != SB_OK) {
      sb_buf_free(&ob);
      return SB_ERROR;
    }
    sb_jw_init(&w, &cb);
    sb_jw_arr_begin(&w);
    for (const sb_json_t *c = choices->child; c != NULL; c = c->next) {
      const sb_json_t *fr = sb_json_get(c, "finish_reason");
      if (c->type == SB_JSON_OBJECT && sb_json_is(fr, SB_JSON_STRING) &&
          sb_json_get(c, "native_finish_reason") == NULL) {
        sb_json_edit_t e[] = {{"native_finish_reason", 20, fr->raw.ptr,
                               fr->raw.len, SB_EDIT_MODE_DEFAULT}};
        sb_json_rewrite(&w, c, e, 1);
      } else {
        sb_jw_value(&w, c);
      }
    }
    sb_jw_arr_end(&w);
    ch = sb_buf_slice(&cb);
  }
  sb_json_edit_t e[7] = {
      {"id", 2, n->id.ptr, n->id.len, SB_EDIT_MODE_SET},
      {"created", 7, n->created.ptr, n->created.len, SB_EDIT_MODE_SET},
      {"model", 5, n->model.ptr, n->model.len, SB_EDIT_MODE_SET},
      {"provider", 8, n->provider.ptr, n->provider.len, SB_EDIT_MODE_SET},
      /* required by OpenRouter's schema; some compatible servers omit it */
      SB_EDIT_DEFAULT("system_fingerprint", "null", 4),
      SB_EDIT_DELETE("usage"),
  };
  size_t ne = 6;
  if (ch.ptr != NULL)
    e[ne++] = (sb_json_edit_t){"choices", 7, ch.ptr, ch.len,
                               SB_EDIT_MODE_REPLACE};
  sb_jw_init(&w, &ob);
  sb_json_rewrite(&w, root, e, ne);
  sb_status_t rc = sb_jw_status(&w);
  if (rc == SB_OK) {
    *out = sb_arena_slice_dup(an->arena, sb_buf_slice(&ob));
    rc = out->ptr != NULL ? SB_OK : SB_ERROR;
  }
  sb_buf_free(&cb);
  sb_buf_free(&ob);
  return rc;
}

static sb_status_t openai_response(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_json_t *root;
  if (sb_json_parse(an->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT)
    return fail(an, 502,
                "the provider returned a response that is not a JSON object",
                false);
  if (sb_json_truthy(sb_json_get(root, "error")))
    return provider_error(an, body);
  const sb_json_t *choices = sb_json_get(root, "choices");
  const sb_json_t *first = sb_json_at(choices, 0);
  sb_hub_event_t start = {.kind = SB_HUB_EV_START};
  EMIT(an, &start);
  if (first != NULL && choice_events(an, first, true) != SB_OK)
    return SB_ERROR;
  if (usage_event(an, sb_json_get(root, "usage")) != SB_OK)
    return SB_ERROR;
  if (an->passthrough) {
    sb_hub_event_t ev = {.kind = SB_HUB_EV_NATIVE, .has_output = true};
    if (rewrite_body(an, root, &ev.text) != SB_OK)
      return fail(an, 502, "the provider's response is too large", false);
    EMIT(an, &ev);
  }
  return SB_OK;
}

/* ---- a stream ------------------------------------------------------------------ */

static sb_status_t passthrough_event(sb_codec_answer_t *an, oa_ans_t *s,
                                     sb_slice_t data)
{
  /* the rewritten event, in the scratch arena the gateway empties after
   * each event: room for the gateway's members and a finish reason each */
  size_t cap = data.len + 1024;
  char *mem = sb_arena_alloc(an->scratch, cap);
  if (mem == NULL)
    return fail(an, 502, "a stream event is too large", false);
  sb_buf_t out;
  sb_buf_init_fixed(&out, mem, cap);
  sb_openai_chunk_t f;
  if (sb_openai_rewrite_chunk(data, an->names, &out, &f) != SB_OK)
    return fail(an, 502, "the provider sent an invalid stream event", false);
  if (f.error)
    return provider_error(an, data);
  if (f.usage.ptr != NULL) {
    sb_json_t *u;
    if (sb_json_parse(an->scratch, f.usage.ptr, f.usage.len, 0, &u, NULL) ==
            SB_OK &&
        usage_event(an, u) != SB_OK)
      return SB_ERROR;
  }
  if (!f.has_choices || f.n_choices == 0)
    /* the usage chunk (ours replaces it at the end), or nothing */
    return f.usage.ptr != NULL && s->finished ? SB_DONE : SB_OK;
  sb_hub_event_t ev = {.kind = SB_HUB_EV_NATIVE, .text = sb_buf_slice(&out),
                       .has_output = f.has_output,
                       .output_bytes = f.output_bytes};
  if (emit(an, &ev) == SB_ERROR)
    return SB_ERROR;
  if (f.finish.ptr != NULL) {
    s->finished = true;
    sb_hub_event_t fin = {.kind = SB_HUB_EV_FINISH,
                          .finish = sb_openai_finish_in(f.finish),
                          .native = f.native.ptr != NULL ? f.native : f.finish};
    EMIT(an, &fin);
  }
  return SB_OK;
}

static sb_status_t openai_event(sb_codec_answer_t *an, const sb_sse_event_t *e)
{
  oa_ans_t *s = state(an);
  if (s == NULL)
    return fail(an, 502, "out of memory", false);
  if (SB_SLICE_IS(e->data, "[DONE]"))
    return SB_DONE;
  s->chunks++;
  if (an->passthrough)
    return passthrough_event(an, s, e->data);
  sb_json_t *root;
  if (sb_json_parse(an->scratch, e->data.ptr, e->data.len, 0, &root, NULL) !=
          SB_OK ||
      root->type != SB_JSON_OBJECT)
    return fail(an, 502, "the provider sent an invalid stream event", false);
  if (sb_json_truthy(sb_json_get(root, "error")))
    return provider_error(an, e->data);
  const sb_json_t *usage = sb_json_get(root, "usage");
  if (sb_json_is(usage, SB_JSON_OBJECT) && usage_event(an, usage) != SB_OK)
    return SB_ERROR;
  const sb_json_t *choices = sb_json_get(root, "choices");
  if (!sb_json_is(choices, SB_JSON_ARRAY) || choices->count == 0)
    return sb_json_is(usage, SB_JSON_OBJECT) && s->finished ? SB_DONE : SB_OK;
  if (!s->started) {
    s->started = true;
    sb_hub_event_t start = {.kind = SB_HUB_EV_START};
    EMIT(an, &start);
  }
  return choice_events(an, choices->child, false);
}

const sb_codec_provider_t sb_openai_chat_provider = {
    .request = sb_openai_request,
    .response = openai_response,
    .event = openai_event,
    .error_info = openai_error_info,
};
