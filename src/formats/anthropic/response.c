/* SPDX-License-Identifier: MIT */
/*
 * The Anthropic format, provider side, answers: a Messages response, or
 * its stream of events, becomes hub events (see request.c for the
 * request).
 *
 * The stream is decoded one event at a time with a small state per
 * answer: which kind each content block index is, the tool call index it
 * was given, the usage so far. Each event is parsed once. On the
 * pass-through path (the client speaks the Messages API) every event also
 * goes to the client as it came, as a NATIVE event, beside the typed
 * events the gateway counts and records (finish, usage).
 *
 * A whole response gives the same events as its stream would, and the
 * body itself as one NATIVE event on the pass-through path.
 */
#include <stdio.h>

#include "anthropic.h"

#define MAX_BLOCKS 1024

enum { B_NONE, B_TEXT, B_TOOL, B_THINKING, B_REDACTED, B_JSON, B_OTHER };

typedef struct {
  uint8_t kind[MAX_BLOCKS];
  uint16_t slot[MAX_BLOCKS]; /* B_TOOL: the call's index in the answer */
  unsigned n_tools;
  bool started;
  bool json_tool; /* the request forced SB_ANTHROPIC_JSON_TOOL */
  uint64_t input, cache_read, cache_write, output;
} an_state_t;

/* One provider event (or body) being decoded: what it gave the client. */
typedef struct {
  sb_codec_answer_t *an;
  an_state_t *s;
  bool output;    /* text that is not blank, a tool call, reasoning */
  uint64_t bytes; /* the output's text */
} dec_t;

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

/* Hand an event on, noting the output it carries. The sink's SB_AGAIN
 * (the client is behind) is the gateway's to act on. */
static sb_status_t put(dec_t *d, sb_hub_event_t *ev)
{
  switch (ev->kind) {
  case SB_HUB_EV_TEXT:
    d->output = d->output || sb_hub_nonblank(ev->text);
    d->bytes += ev->text.len;
    break;
  case SB_HUB_EV_REASONING:
  case SB_HUB_EV_TOOL_ARGS:
    d->bytes += ev->text.len;
    /* fall through */
  case SB_HUB_EV_TOOL_START:
  case SB_HUB_EV_REDACTED:
    d->output = true;
    break;
  default:
    break;
  }
  return sb_hub_emit(&d->an->sink, ev) == SB_ERROR ? SB_ERROR : SB_OK;
}

static sb_status_t put_text(dec_t *d, sb_hub_ev_kind_t kind, sb_slice_t text)
{
  sb_hub_event_t ev = {.kind = kind, .text = text};
  if (kind != SB_HUB_EV_TEXT)
    ev.sig_format = SB_HUB_SIG_ANTHROPIC;
  return put(d, &ev);
}

/* The provider broke the stream's rules: one ERROR event. */
static sb_status_t fail(sb_codec_answer_t *an, int status, sb_slice_t why)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = status, .text = why};
  sb_hub_emit(&an->sink, &ev);
  return SB_ERROR;
}

/* What snprintf wrote into a buffer of `cap` bytes. */
static sb_slice_t printed(const char *buf, int n, size_t cap)
{
  return sb_slice(buf, n < 0 ? 0 : SB_MIN((size_t)n, cap - 1));
}

static sb_status_t bad(sb_codec_answer_t *an, const char *why)
{
  return fail(an, 502, sb_slice_z(why));
}

static an_state_t *state(sb_codec_answer_t *an)
{
  if (an->state == NULL) {
    an_state_t *s = sb_arena_calloc(an->arena, sizeof(*s));
    if (s == NULL)
      return NULL;
    s->json_tool =
        an->req != NULL && sb_anthropic_json_tool(an->req, an->passthrough);
    an->state = s;
  }
  return an->state;
}

/* ---- usage and finish --------------------------------------------------- */

static void read_count(const sb_json_t *u, const char *name, uint64_t *out)
{
  int64_t v;
  if (sb_json_int64(sb_json_getn(u, name, strlen(name)), &v) == SB_OK &&
      v >= 0 && v <= SB_ANTHROPIC_MAX_TOKENS)
    *out = (uint64_t)v;
}

static void read_usage(an_state_t *s, const sb_json_t *u)
{
  read_count(u, "input_tokens", &s->input);
  read_count(u, "cache_read_input_tokens", &s->cache_read);
  read_count(u, "cache_creation_input_tokens", &s->cache_write);
  read_count(u, "output_tokens", &s->output);
}

/* The gateway's terms: prompt is every input token. */
static sb_usage_t usage_of(const an_state_t *s)
{
  sb_usage_t u = {
      .prompt = s->input + s->cache_read + s->cache_write,
      .completion = s->output,
      .cached = s->cache_read,
      .cache_write = s->cache_write,
  };
  return u;
}

static sb_status_t put_usage(dec_t *d, const sb_json_t *u)
{
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return SB_OK;
  read_usage(d->s, u);
  sb_hub_event_t ev = {.kind = SB_HUB_EV_USAGE, .usage = usage_of(d->s)};
  return put(d, &ev);
}

/* With the json tool, its tool_use stop is the answer's end. */
static sb_status_t put_finish(dec_t *d, sb_slice_t native)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_FINISH, .native = native};
  ev.finish = d->s->json_tool && SB_SLICE_IS(native, "tool_use")
                  ? SB_FINISH_STOP
                  : sb_anthropic_finish_in(native);
  return put(d, &ev);
}

/* ---- content blocks ----------------------------------------------------- */

static bool is_json_tool(const an_state_t *s, const sb_json_t *block)
{
  return s->json_tool &&
         SB_JSON_STR_IS(sb_json_get(block, "name"), SB_ANTHROPIC_JSON_TOOL);
}

/* A tool_use block's input, whole (a response's), as the arguments'
 * text escaped: a jtext in the scratch arena. */
static sb_status_t input_jtext(dec_t *d, const sb_json_t *input,
                               sb_slice_t *out)
{
  sb_slice_t text = input != NULL ? input->raw : SB_SLICE_LIT("{}");
  return sb_hub_escape(d->an->scratch, text.ptr, text.len, out);
}

/* A block begins (content_block_start's, or a response's whole block:
 * then its input comes with it). The block at `i` takes its kind. */
static sb_status_t block_start(dec_t *d, size_t i, const sb_json_t *b,
                               bool whole)
{
  an_state_t *s = d->s;
  const sb_json_t *type = sb_json_get(b, "type");
  s->slot[i] = 0;
  if (SB_JSON_STR_IS(type, "text")) {
    s->kind[i] = B_TEXT;
    sb_slice_t t = sb_hub_jtext(sb_json_get(b, "text"));
    return t.len > 0 ? put_text(d, SB_HUB_EV_TEXT, t) : SB_OK;
  }
  if (SB_JSON_STR_IS(type, "tool_use") && is_json_tool(s, b)) {
    s->kind[i] = B_JSON; /* its input is the answer's text */
    sb_slice_t t;
    if (!whole)
      return SB_OK;
    if (input_jtext(d, sb_json_get(b, "input"), &t) != SB_OK)
      return bad(d->an, "out of memory");
    return put_text(d, SB_HUB_EV_TEXT, t);
  }
  if (SB_JSON_STR_IS(type, "tool_use")) {
    const sb_json_t *id = sb_json_get(b, "id");
    const sb_json_t *name = sb_json_get(b, "name");
    if (!is_str(id) || !is_str(name))
      return bad(d->an,
                 "the provider sent a tool_use block without id or name");
    s->kind[i] = B_TOOL;
    s->slot[i] = (uint16_t)s->n_tools++;
    sb_hub_event_t ev = {.kind = SB_HUB_EV_TOOL_START,
                         .index = s->slot[i],
                         .id = sb_hub_jtext(id),
                         .name = sb_hub_jtext(name)};
    if (put(d, &ev) != SB_OK)
      return SB_ERROR;
    if (!whole)
      return SB_OK;
    sb_hub_event_t args = {.kind = SB_HUB_EV_TOOL_ARGS, .index = s->slot[i]};
    if (input_jtext(d, sb_json_get(b, "input"), &args.text) != SB_OK)
      return bad(d->an, "out of memory");
    return put(d, &args);
  }
  if (SB_JSON_STR_IS(type, "thinking")) {
    s->kind[i] = B_THINKING;
    sb_slice_t t = sb_hub_jtext(sb_json_get(b, "thinking"));
    sb_slice_t sig = sb_hub_jtext(sb_json_get(b, "signature"));
    if (t.len > 0 && put_text(d, SB_HUB_EV_REASONING, t) != SB_OK)
      return SB_ERROR;
    return sig.len > 0 ? put_text(d, SB_HUB_EV_SIGNATURE, sig) : SB_OK;
  }
  if (SB_JSON_STR_IS(type, "redacted_thinking")) {
    const sb_json_t *data = sb_json_get(b, "data");
    s->kind[i] = B_REDACTED;
    if (!is_str(data))
      return bad(d->an, "the provider sent redacted thinking without data");
    return put_text(d, SB_HUB_EV_REDACTED, sb_hub_jtext(data));
  }
  /* server tools' calls and results, ...: Anthropic's own work, not part
   * of the conversation another format holds (output all the same, for a
   * Messages client that gets it as it came) */
  s->kind[i] = B_OTHER;
  d->output = true;
  return SB_OK;
}

static sb_status_t block_delta(dec_t *d, size_t i, const sb_json_t *delta)
{
  const sb_json_t *type = sb_json_get(delta, "type");
  sb_slice_t t;
  if (SB_JSON_STR_IS(type, "text_delta")) {
    t = sb_hub_jtext(sb_json_get(delta, "text"));
    return t.len > 0 ? put_text(d, SB_HUB_EV_TEXT, t) : SB_OK;
  }
  if (SB_JSON_STR_IS(type, "thinking_delta")) {
    t = sb_hub_jtext(sb_json_get(delta, "thinking"));
    return t.len > 0 ? put_text(d, SB_HUB_EV_REASONING, t) : SB_OK;
  }
  if (SB_JSON_STR_IS(type, "signature_delta")) {
    t = sb_hub_jtext(sb_json_get(delta, "signature"));
    return t.len > 0 ? put_text(d, SB_HUB_EV_SIGNATURE, t) : SB_OK;
  }
  if (SB_JSON_STR_IS(type, "input_json_delta")) {
    t = sb_hub_jtext(sb_json_get(delta, "partial_json"));
    if (t.len == 0)
      return SB_OK;
    if (d->s->kind[i] == B_JSON)
      return put_text(d, SB_HUB_EV_TEXT, t);
    if (d->s->kind[i] != B_TOOL)
      return SB_OK;
    sb_hub_event_t ev = {
        .kind = SB_HUB_EV_TOOL_ARGS, .index = d->s->slot[i], .text = t};
    return put(d, &ev);
  }
  return SB_OK; /* citations and delta types added later */
}

static sb_status_t block_stop(dec_t *d, size_t i)
{
  if (d->s->kind[i] == B_OTHER)
    return SB_OK;
  sb_hub_event_t ev = {.kind = SB_HUB_EV_BLOCK_STOP};
  return put(d, &ev);
}

/* ---- a stream ----------------------------------------------------------- */

/* An `error` event: the provider's type and message. The Messages door's
 * client (the pass-through path) gets Anthropic's own words back, with
 * 529 for overload as Anthropic answers it; other clients get the type
 * named in the message. */
static sb_status_t stream_error(sb_codec_answer_t *an, const sb_json_t *root)
{
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *type = sb_json_get(err, "type");
  const sb_json_t *msg = sb_json_get(err, "message");
  sb_slice_t m = SB_SLICE_LIT("the provider reported an error in the stream");
  if (is_str(msg) && sb_json_string(an->scratch, msg, &m) != SB_OK)
    m = SB_SLICE_LIT("the provider reported an error in the stream");
  bool overloaded = SB_JSON_STR_IS(type, "overloaded_error");
  if (an->passthrough)
    return fail(an, overloaded ? 529 : 502, m);
  int status = overloaded                                 ? 503
               : SB_JSON_STR_IS(type, "rate_limit_error") ? 429
                                                          : 502;
  sb_slice_t t = sb_hub_jtext(type);
  char text[256];
  int n = snprintf(text, sizeof(text), "%.*s%s%.*s", (int)SB_MIN(t.len, 60),
                   t.len > 0 ? t.ptr : "", t.len > 0 ? ": " : "",
                   (int)SB_MIN(m.len, 180), m.ptr);
  return fail(an, status, printed(text, n, sizeof(text)));
}

/* The event's content block index, checked. */
static sb_status_t block_index(sb_codec_answer_t *an, const sb_json_t *root,
                               size_t *i)
{
  int64_t idx;
  if (sb_json_int64(sb_json_get(root, "index"), &idx) != SB_OK || idx < 0 ||
      idx >= MAX_BLOCKS)
    return bad(an, "the provider sent a content block index out of range");
  *i = (size_t)idx;
  return SB_OK;
}

/* The typed events of one stream event. */
static sb_status_t translate(dec_t *d, const sb_json_t *root,
                             const sb_json_t *type)
{
  an_state_t *s = d->s;
  sb_codec_answer_t *an = d->an;
  if (SB_JSON_STR_IS(type, "ping"))
    return SB_OK;
  if (SB_JSON_STR_IS(type, "message_start")) {
    if (s->started)
      return bad(an, "the provider started its message twice");
    s->started = true;
    sb_hub_event_t ev = {.kind = SB_HUB_EV_START};
    const sb_json_t *u = sb_json_get(sb_json_get(root, "message"), "usage");
    if (sb_json_is(u, SB_JSON_OBJECT)) {
      read_usage(s, u);
      ev.has_usage = true;
      ev.usage = usage_of(s);
    }
    return put(d, &ev);
  }
  if (!s->started)
    return bad(an, "the provider's stream did not start with message_start");
  if (SB_JSON_STR_IS(type, "message_delta")) {
    const sb_json_t *sr =
        sb_json_get(sb_json_get(root, "delta"), "stop_reason");
    if (is_str(sr) && put_finish(d, sb_json_str_raw(sr)) != SB_OK)
      return SB_ERROR;
    return put_usage(d, sb_json_get(root, "usage"));
  }
  bool start = SB_JSON_STR_IS(type, "content_block_start");
  bool delta = SB_JSON_STR_IS(type, "content_block_delta");
  if (!start && !delta && !SB_JSON_STR_IS(type, "content_block_stop"))
    return SB_OK; /* message_stop, and event types added later */
  size_t i = 0;
  if (block_index(an, root, &i) != SB_OK)
    return SB_ERROR;
  if (start) {
    if (s->kind[i] != B_NONE)
      return bad(an, "the provider started a content block twice");
    return block_start(d, i, sb_json_get(root, "content_block"), false);
  }
  if (s->kind[i] == B_NONE)
    return bad(an, "the provider sent a delta for a block it did not start");
  return delta ? block_delta(d, i, sb_json_get(root, "delta"))
               : block_stop(d, i);
}

sb_status_t sb_anthropic_event(sb_codec_answer_t *an, const sb_sse_event_t *ev)
{
  an_state_t *s = state(an);
  if (s == NULL)
    return bad(an, "out of memory");
  if (ev->data.len == 0)
    return SB_OK;
  sb_json_t *root;
  if (sb_json_parse(an->scratch, ev->data.ptr, ev->data.len, 0, &root, NULL) !=
          SB_OK ||
      root->type != SB_JSON_OBJECT)
    return bad(an, "the provider sent an invalid stream event");
  const sb_json_t *type = sb_json_get(root, "type");
  if (!is_str(type))
    return bad(an, "the provider sent a stream event without a type");
  if (SB_JSON_STR_IS(type, "error"))
    return stream_error(an, root);
  dec_t d = {an, s, false, 0};
  if (translate(&d, root, type) != SB_OK)
    return SB_ERROR;
  if (an->passthrough) {
    /* the event as it came: its `event:` name (the stream's, else its
     * data's type) and its data */
    sb_hub_event_t nat = {.kind = SB_HUB_EV_NATIVE,
                          .text = ev->data,
                          .name = ev->event.len > 0 ? ev->event
                                                    : sb_json_str_raw(type),
                          .has_output = d.output,
                          .output_bytes = d.bytes};
    if (sb_hub_emit(&an->sink, &nat) == SB_ERROR)
      return SB_ERROR;
  }
  return SB_JSON_STR_IS(type, "message_stop") ? SB_DONE : SB_OK;
}

/* ---- a whole response --------------------------------------------------- */

static sb_status_t error_body(sb_codec_answer_t *an, sb_slice_t body)
{
  sb_slice_t msg, code;
  sb_anthropic_error_info(an->scratch, body, &msg, &code);
  char text[512];
  int n = snprintf(text, sizeof(text), "provider %s reported an error: %.*s",
                   an->route->provider->name, (int)SB_MIN(msg.len, 400),
                   msg.ptr != NULL ? msg.ptr : "");
  return fail(an, 502, printed(text, n, sizeof(text)));
}

sb_status_t sb_anthropic_response(sb_codec_answer_t *an, sb_slice_t body)
{
  an_state_t *s = state(an);
  sb_json_t *root;
  if (s == NULL)
    return bad(an, "out of memory");
  if (sb_json_parse(an->scratch, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT)
    return bad(an,
               "the provider returned a response that is not a JSON object");
  if (sb_json_truthy(sb_json_get(root, "error")) ||
      SB_JSON_STR_IS(sb_json_get(root, "type"), "error"))
    return error_body(an, body);
  const sb_json_t *content = sb_json_get(root, "content");
  if (!sb_json_is(content, SB_JSON_ARRAY))
    return bad(an, "the provider's response has no content");
  dec_t d = {an, s, false, 0};
  sb_hub_event_t start = {.kind = SB_HUB_EV_START};
  if (put(&d, &start) != SB_OK)
    return SB_ERROR;
  s->started = true;
  size_t i = 0;
  for (const sb_json_t *b = content->child; b != NULL && i < MAX_BLOCKS;
       b = b->next, i++)
    if (block_start(&d, i, b, true) != SB_OK || block_stop(&d, i) != SB_OK)
      return SB_ERROR;
  const sb_json_t *sr = sb_json_get(root, "stop_reason");
  if (put_finish(&d, is_str(sr) ? sb_json_str_raw(sr)
                                : SB_SLICE_LIT("end_turn")) != SB_OK ||
      put_usage(&d, sb_json_get(root, "usage")) != SB_OK)
    return SB_ERROR;
  if (an->passthrough) {
    sb_hub_event_t nat = {.kind = SB_HUB_EV_NATIVE,
                          .text = body,
                          .has_output = d.output,
                          .output_bytes = d.bytes};
    if (sb_hub_emit(&an->sink, &nat) == SB_ERROR)
      return SB_ERROR;
  }
  return SB_OK;
}

void sb_anthropic_error_info(sb_arena_t *a, sb_slice_t body,
                             sb_slice_t *message, sb_slice_t *code)
{
  sb_json_t *root;
  *message = *code = SB_NULL_SLICE;
  if (sb_json_parse(a, body.ptr, body.len, 0, &root, NULL) != SB_OK) {
    /* not JSON (an HTML page from a proxy, say): its beginning */
    *message = sb_slice(body.ptr, SB_MIN(body.len, 200));
    return;
  }
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = is_str(err) ? err : sb_json_get(err, "message");
  const sb_json_t *type = sb_json_get(err, "type");
  if (is_str(msg) && sb_json_string(a, msg, message) != SB_OK)
    *message = SB_NULL_SLICE;
  if (is_str(type) && sb_json_string(a, type, code) != SB_OK)
    *code = SB_NULL_SLICE;
}
