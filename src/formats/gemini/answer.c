/* SPDX-License-Identifier: MIT */
/*
 * What Gemini's answers share, whole or streamed: a GenerateContentResponse
 * (each stream event is one, complete in itself) becomes hub events.
 *
 * - Thought parts are reasoning, other text parts text.
 * - Gemini gives function calls no ids (unless the part has one): each gets
 *   "call_<generation>_<n>", unique across the conversation's turns, so a
 *   tool result, and the thought signature that names the call, can be
 *   matched back.
 * - A part's thoughtSignature is opaque reasoning (REDACTED, Gemini's),
 *   after the part's own events, its id the call's when the part is one:
 *   sent back with that call, or with the text when there are no calls
 *   (contents.c).
 * - usageMetadata: prompt = promptTokenCount + toolUsePromptTokenCount,
 *   completion = candidatesTokenCount + thoughtsTokenCount, cached =
 *   cachedContentTokenCount, reasoning = thoughtsTokenCount.
 */
#include "gemini.h"

sb_gemini_state_t *sb_gemini_state(sb_codec_answer_t *an)
{
  if (an->state == NULL)
    an->state = sb_arena_calloc(an->arena, sizeof(sb_gemini_state_t));
  return an->state;
}

sb_status_t sb_gemini_emit(sb_codec_answer_t *an, const sb_hub_event_t *ev)
{
  sb_gemini_state_t *st = an->state;
  if (st != NULL)
    st->output |= ev->kind == SB_HUB_EV_TEXT
                      ? sb_hub_nonblank(ev->text)
                      : ev->kind == SB_HUB_EV_REASONING ||
                            ev->kind == SB_HUB_EV_REDACTED ||
                            ev->kind == SB_HUB_EV_TOOL_START;
  return sb_hub_emit(&an->sink, ev) == SB_ERROR ? SB_ERROR : SB_OK;
}

sb_status_t sb_gemini_native(sb_codec_answer_t *an, sb_slice_t data)
{
  sb_gemini_state_t *st = an->state;
  sb_hub_event_t ev = {.kind = SB_HUB_EV_NATIVE, .text = data,
                       .has_output = st != NULL && st->output};
  if (st != NULL)
    st->output = false;
  return sb_gemini_emit(an, &ev);
}

sb_status_t sb_gemini_fail(sb_codec_answer_t *an, int status,
                           sb_slice_t message)
{
  sb_hub_event_t ev = {.kind = SB_HUB_EV_ERROR, .status = status,
                       .text = message};
  (void)sb_gemini_emit(an, &ev);
  return SB_ERROR;
}

/* ---- parts --------------------------------------------------------------------- */

/* The id of function call `n` of this answer: the part's own, else
 * "call_<generation id without gen->_<n>". */
static sb_slice_t call_id(sb_codec_answer_t *an, const sb_json_t *fc, int64_t n)
{
  const sb_json_t *id = sb_json_get(fc, "id");
  if (sb_json_is(id, SB_JSON_STRING) && id->raw.len > 2)
    return sb_json_str_raw(id);
  sb_slice_t gen = SB_NULL_SLICE;
  if (an->names != NULL && an->names->id.len >= 2)
    gen = sb_slice(an->names->id.ptr + 1, an->names->id.len - 2);
  if (sb_slice_starts(gen, SB_STRLIT("gen-")))
    gen = sb_slice(gen.ptr + 4, gen.len - 4);
  /* the generation id is jtext already: so is this */
  const char *s = sb_arena_printf(an->scratch, "call_%.*s_%lld", (int)gen.len,
                                  gen.ptr != NULL ? gen.ptr : "", (long long)n);
  return s != NULL ? sb_slice_z(s) : SB_NULL_SLICE;
}

static sb_status_t call_events(sb_codec_answer_t *an, sb_gemini_state_t *st,
                               const sb_json_t *fc, sb_slice_t id)
{
  const sb_json_t *name = sb_json_get(fc, "name");
  const sb_json_t *args = sb_json_get(fc, "args");
  if (!sb_json_is(name, SB_JSON_STRING))
    return sb_gemini_fail(an, 502, SB_SLICE_LIT("the provider sent a function "
                                                "call without a name"));
  sb_hub_event_t ev = {.kind = SB_HUB_EV_TOOL_START, .index = st->n_calls,
                       .id = id, .name = sb_json_str_raw(name)};
  if (id.ptr == NULL || sb_gemini_emit(an, &ev) != SB_OK)
    return SB_ERROR;
  /* the arguments object as OpenAI-style text ("{}" when not an object) */
  sb_hub_event_t args_ev = {.kind = SB_HUB_EV_TOOL_ARGS, .index = st->n_calls};
  if (sb_json_is(args, SB_JSON_OBJECT)) {
    if (sb_hub_escape(an->scratch, args->raw.ptr, args->raw.len,
                      &args_ev.text) != SB_OK)
      return SB_ERROR;
  } else {
    args_ev.text = SB_SLICE_LIT("{}");
  }
  st->any_calls = true;
  return sb_gemini_emit(an, &args_ev);
}

static const sb_json_t *parts_of(const sb_json_t *root)
{
  const sb_json_t *cand = sb_json_at(sb_json_get(root, "candidates"), 0);
  return sb_json_get(sb_json_get(cand, "content"), "parts");
}

sb_status_t sb_gemini_parts(sb_codec_answer_t *an, sb_gemini_state_t *st,
                            const sb_json_t *root)
{
  const sb_json_t *parts = parts_of(root);
  if (!sb_json_is(parts, SB_JSON_ARRAY))
    return SB_OK;
  for (const sb_json_t *p = parts->child; p != NULL; p = p->next) {
    const sb_json_t *t = sb_json_get(p, "text");
    const sb_json_t *fc = sb_json_get(p, "functionCall");
    const sb_json_t *sig = sb_json_get(p, "thoughtSignature");
    bool is_call = sb_json_is(fc, SB_JSON_OBJECT);
    sb_slice_t id = SB_NULL_SLICE;
    if (is_call) {
      id = call_id(an, fc, st->n_calls);
      if (call_events(an, st, fc, id) != SB_OK)
        return SB_ERROR;
    } else if (sb_json_is(t, SB_JSON_STRING) && t->raw.len > 2) {
      bool thought = sb_json_truthy(sb_json_get(p, "thought"));
      sb_hub_event_t ev = {
          .kind = thought ? SB_HUB_EV_REASONING : SB_HUB_EV_TEXT,
          .text = sb_json_str_raw(t),
          .sig_format = thought ? SB_HUB_SIG_GEMINI : SB_HUB_SIG_NONE};
      if (sb_gemini_emit(an, &ev) != SB_OK)
        return SB_ERROR;
    }
    if (sb_json_is(sig, SB_JSON_STRING)) {
      sb_hub_event_t ev = {.kind = SB_HUB_EV_REDACTED,
                           .sig_format = SB_HUB_SIG_GEMINI,
                           .id = id,
                           .text = sb_json_str_raw(sig)};
      if (sb_gemini_emit(an, &ev) != SB_OK)
        return SB_ERROR;
    }
    if (is_call)
      st->n_calls++;
  }
  return SB_OK;
}

/* ---- usage and the end --------------------------------------------------------- */

static int64_t count(const sb_json_t *u, const char *name)
{
  int64_t v;
  return sb_json_int64(sb_json_getn(u, name, strlen(name)), &v) == SB_OK ? v
                                                                         : 0;
}

sb_status_t sb_gemini_usage(sb_codec_answer_t *an, sb_gemini_state_t *st,
                            const sb_json_t *root)
{
  const sb_json_t *u = sb_json_get(root, "usageMetadata");
  if (!sb_json_is(u, SB_JSON_OBJECT))
    return SB_OK;
  int64_t v[5] = {count(u, "promptTokenCount"),
                  count(u, "toolUsePromptTokenCount"),
                  count(u, "candidatesTokenCount"),
                  count(u, "thoughtsTokenCount"),
                  count(u, "cachedContentTokenCount")};
  for (size_t i = 0; i < SB_ARRAY_LEN(v); i++)
    if (v[i] < 0 || v[i] > SB_GEMINI_MAX_TOKENS)
      return SB_OK; /* hostile or broken: ignored, not summed */
  sb_usage_t now = {
      .prompt = (uint64_t)(v[0] + v[1]),
      .completion = (uint64_t)(v[2] + v[3]),
      .cached = (uint64_t)v[4],
      .reasoning = (uint64_t)v[3],
  };
  if (st->usage_seen && memcmp(&now, &st->usage, sizeof(now)) == 0)
    return SB_OK; /* each stream event repeats it */
  st->usage = now;
  st->usage_seen = true;
  sb_hub_event_t ev = {.kind = SB_HUB_EV_USAGE, .usage = now};
  return sb_gemini_emit(an, &ev);
}

sb_slice_t sb_gemini_block_reason(const sb_json_t *root)
{
  const sb_json_t *br =
      sb_json_get(sb_json_get(root, "promptFeedback"), "blockReason");
  if (sb_json_is(br, SB_JSON_STRING) && sb_json_get(root, "candidates") == NULL)
    return sb_json_str_raw(br);
  return SB_NULL_SLICE;
}

sb_status_t sb_gemini_end(sb_codec_answer_t *an, sb_gemini_state_t *st,
                          const sb_json_t *root, sb_slice_t fallback)
{
  const sb_json_t *fr = sb_json_get(
      sb_json_at(sb_json_get(root, "candidates"), 0), "finishReason");
  sb_hub_event_t ev = {.kind = SB_HUB_EV_FINISH};
  ev.native = sb_gemini_block_reason(root);
  if (ev.native.len > 0) {
    ev.finish = SB_FINISH_CONTENT_FILTER; /* whatever the prompt's reason */
  } else {
    ev.native = sb_json_is(fr, SB_JSON_STRING) ? sb_json_str_raw(fr) : fallback;
    if (ev.native.len == 0)
      return SB_OK; /* not the end yet */
    ev.finish = sb_gemini_finish_in(ev.native);
    if (ev.finish == SB_FINISH_STOP && st->any_calls)
      ev.finish = SB_FINISH_TOOL_CALLS;
  }
  st->finished = true;
  return sb_gemini_emit(an, &ev);
}

/* ---- error bodies ------------------------------------------------------------ */

void sb_gemini_error_info(sb_arena_t *a, sb_slice_t body, sb_slice_t *message,
                          sb_slice_t *code)
{
  sb_json_t *root;
  *message = SB_NULL_SLICE;
  *code = SB_NULL_SLICE;
  if (sb_json_parse(a, body.ptr, body.len, 0, &root, NULL) != SB_OK) {
    /* not JSON (an HTML page from a proxy, say): its start */
    *message = sb_slice(body.ptr, SB_MIN(body.len, 200));
    return;
  }
  /* {"error":{...}}, or a list of them as some Google front ends send */
  if (sb_json_is(root, SB_JSON_ARRAY))
    root = sb_json_at(root, 0);
  const sb_json_t *err = sb_json_get(root, "error");
  const sb_json_t *msg = sb_json_get(err, "message");
  const sb_json_t *status = sb_json_get(err, "status");
  if (sb_json_is(msg, SB_JSON_STRING) &&
      sb_json_string(a, msg, message) != SB_OK)
    *message = SB_NULL_SLICE;
  if (sb_json_is(status, SB_JSON_STRING) &&
      sb_json_string(a, status, code) != SB_OK)
    *code = SB_NULL_SLICE;
}
