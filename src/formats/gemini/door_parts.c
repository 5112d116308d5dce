/* SPDX-License-Identifier: MIT */
/*
 * The Gemini door, request half: a client's systemInstruction and
 * contents as hub messages (the body was checked first, door_check.c).
 *
 * - systemInstruction -> a SYSTEM message of its text parts (a message of
 *   one text is marked plain, for formats with a plain-string form);
 * - a `user` content -> its functionResponse parts as one TOOL message,
 *   then the rest as a USER message (results answer the calls just
 *   before); a `model` content -> an ASSISTANT message;
 * - text -> TEXT; a thought part -> REASONING (Gemini's);
 * - inlineData: images -> IMAGE, audio -> AUDIO (its format: "wav",
 *   "mp3" ...), anything else -> FILE (named by displayName); fileData
 *   alike by URL;
 * - functionCall -> TOOL_CALL with its id, or one made from its place
 *   ("call_<content>_<part>") when the client kept none;
 * - functionResponse -> TOOL_RESULT whose id is its own, else the id of
 *   the earliest call of that name in the model turns before it that no
 *   result answered yet; its text is the one string member of
 *   {"output"|"result"|"content": ...}, else the response object's JSON
 *   text; {"error": ...} alone is an error result; its parts (images
 *   ...) become the result's parts;
 * - executableCode and codeExecutionResult (Gemini's code execution) ->
 *   TEXT a model of another format can read: the code fenced in its
 *   language, the output fenced as output;
 * - a part's thoughtSignature -> the reasoning it carries (opaque.c),
 *   before the part, or Gemini's own signature as a REDACTED block after
 *   it (its id the call's, for a functionCall);
 * - parts this door has no form for -> NATIVE blocks of format "gemini".
 */
#include <stdio.h>

#include "gemini.h"

typedef sb_hub_blocks_t blocks_t;

/* A call seen in a model turn, for matching results by name. */
typedef struct {
  sb_slice_t id, name; /* jtext */
  bool answered;
} call_t;

typedef struct {
  sb_arena_t *a;
  char *why;
  size_t whylen;
  call_t *calls;
  size_t n_calls, cap_calls;
} dp_t;

static bool is_str(const sb_json_t *v) { return sb_json_is(v, SB_JSON_STRING); }

/* ---- calls and their results ------------------------------------------------------ */

static sb_status_t remember_call(dp_t *d, sb_slice_t id, sb_slice_t name)
{
  if (d->n_calls == d->cap_calls) {
    size_t cap = d->cap_calls == 0 ? 16 : d->cap_calls * 2;
    call_t *v = sb_arena_alloc(d->a, cap * sizeof(*v));
    if (v == NULL)
      return SB_ERROR;
    if (d->n_calls > 0)
      memcpy(v, d->calls, d->n_calls * sizeof(*v));
    d->calls = v;
    d->cap_calls = cap;
  }
  d->calls[d->n_calls++] = (call_t){id, name, false};
  return SB_OK;
}

/* The id a result answers: its own (marking that call answered), else
 * the earliest unanswered call of its name. */
static sb_slice_t answer_id(dp_t *d, sb_slice_t id, sb_slice_t name)
{
  if (id.len > 0) {
    for (size_t i = 0; i < d->n_calls; i++)
      if (!d->calls[i].answered && sb_slice_eq(d->calls[i].id, id)) {
        d->calls[i].answered = true;
        break;
      }
    return id;
  }
  for (size_t i = 0; i < d->n_calls; i++)
    if (!d->calls[i].answered && sb_slice_eq(d->calls[i].name, name)) {
      d->calls[i].answered = true;
      return d->calls[i].id;
    }
  return SB_NULL_SLICE;
}

/* "call_<content>_<part>": the same for a call and, through its name, its
 * result in the same request. */
static sb_slice_t place_id(dp_t *d, size_t content, size_t part)
{
  const char *s = sb_arena_printf(d->a, "call_%zu_%zu", content, part);
  return s != NULL ? sb_slice_z(s) : SB_NULL_SLICE;
}

/* ---- media ------------------------------------------------------------------------ */

/* "audio/wav" -> "wav", "audio/mpeg" -> "mp3" (the hub's audio formats). */
static sb_slice_t audio_format(sb_slice_t mime)
{
  sb_slice_t sub = sb_slice(mime.ptr + 6, mime.len - 6);
  if (SB_SLICE_IS(sub, "mpeg") || SB_SLICE_IS(sub, "mp3"))
    return SB_SLICE_LIT("mp3");
  if (SB_SLICE_IS(sub, "x-wav") || SB_SLICE_IS(sub, "wave"))
    return SB_SLICE_LIT("wav");
  return sub;
}

/* inlineData / fileData -> IMAGE, AUDIO or FILE. */
static sb_status_t media(dp_t *d, blocks_t *b, const sb_json_t *blob,
                         bool file)
{
  sb_slice_t mime = sb_hub_jtext(sb_json_get(blob, "mimeType"));
  sb_hub_block_kind_t kind = SB_HUB_FILE;
  if (sb_slice_starts(mime, SB_STRLIT("image/")))
    kind = SB_HUB_IMAGE;
  else if (!file && sb_slice_starts(mime, SB_STRLIT("audio/")))
    kind = SB_HUB_AUDIO;
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, kind);
  if (k == NULL)
    return SB_ERROR;
  k->media_type = kind == SB_HUB_AUDIO ? audio_format(mime) : mime;
  if (file)
    k->url = sb_hub_jtext(sb_json_get(blob, "fileUri"));
  else
    k->data = sb_hub_jtext(sb_json_get(blob, "data"));
  if (kind == SB_HUB_FILE) {
    sb_slice_t name = sb_hub_jtext(sb_json_get(blob, "displayName"));
    k->name = name.len > 0 ? name : SB_SLICE_LIT("document.pdf");
  }
  return SB_OK;
}

/* ---- parts ------------------------------------------------------------------------ */

static sb_status_t add_text(dp_t *d, blocks_t *b, sb_slice_t text)
{
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, SB_HUB_TEXT);
  if (k == NULL)
    return SB_ERROR;
  k->text = text;
  return SB_OK;
}

/* executableCode: the code fenced in its language ("PYTHON" -> python). */
static sb_status_t executable_code(dp_t *d, blocks_t *b, const sb_json_t *ec)
{
  sb_slice_t lang = sb_hub_jtext(sb_json_get(ec, "language"));
  char *low = sb_arena_alloc(d->a, lang.len + 1);
  if (low == NULL)
    return SB_ERROR;
  for (size_t i = 0; i < lang.len; i++)
    low[i] = (char)(lang.ptr[i] >= 'A' && lang.ptr[i] <= 'Z' ? lang.ptr[i] + 32
                                                             : lang.ptr[i]);
  sb_slice_t name = sb_slice(low, lang.len);
  if (SB_SLICE_IS(name, "language_unspecified"))
    name = SB_SLICE_LIT("");
  sb_slice_t parts[] = {SB_SLICE_LIT("```"), name, SB_SLICE_LIT("\\n"),
                        sb_hub_jtext(sb_json_get(ec, "code")),
                        SB_SLICE_LIT("\\n```")};
  sb_slice_t text = sb_hub_join(d->a, parts, SB_ARRAY_LEN(parts));
  return text.ptr != NULL ? add_text(d, b, text) : SB_ERROR;
}

/* codeExecutionResult: its output fenced, after its outcome unless OK. */
static sb_status_t execution_result(dp_t *d, blocks_t *b, const sb_json_t *r)
{
  const sb_json_t *outcome = sb_json_get(r, "outcome");
  bool ok = outcome == NULL || SB_JSON_STR_IS(outcome, "OUTCOME_OK");
  sb_slice_t parts[] = {ok ? SB_SLICE_LIT("") : sb_hub_jtext(outcome),
                        ok ? SB_SLICE_LIT("") : SB_SLICE_LIT("\\n"),
                        SB_SLICE_LIT("```output\\n"),
                        sb_hub_jtext(sb_json_get(r, "output")),
                        SB_SLICE_LIT("\\n```")};
  sb_slice_t text = sb_hub_join(d->a, parts, SB_ARRAY_LEN(parts));
  return text.ptr != NULL ? add_text(d, b, text) : SB_ERROR;
}

/* A functionResponse's result; `place`: the id it gets when it names no
 * call. */
static sb_status_t function_response(dp_t *d, blocks_t *b,
                                     const sb_json_t *fr, sb_slice_t place)
{
  static const char *const text_members[] = {"output", "result", "content"};
  const sb_json_t *resp = sb_json_get(fr, "response");
  const sb_json_t *parts = sb_json_get(fr, "parts");
  sb_slice_t name = sb_hub_jtext(sb_json_get(fr, "name"));
  sb_slice_t id = answer_id(d, sb_hub_jtext(sb_json_get(fr, "id")), name);
  sb_slice_t text = SB_NULL_SLICE;
  bool is_error = false;
  const sb_json_t *only = sb_json_is(resp, SB_JSON_OBJECT) && resp->count == 1
                              ? resp->child
                              : NULL;
  for (size_t i = 0; only != NULL && i < SB_ARRAY_LEN(text_members); i++)
    if (is_str(only) &&
        sb_json_key_is(only, text_members[i], strlen(text_members[i])))
      text = sb_hub_jtext(only);
  if (only != NULL && sb_json_key_is(only, SB_STRLIT("error"))) {
    is_error = true;
    if (is_str(only))
      text = sb_hub_jtext(only);
    else if (sb_hub_escape(d->a, only->raw.ptr, only->raw.len, &text) != SB_OK)
      return SB_ERROR;
  }
  if (text.ptr == NULL && sb_json_is(resp, SB_JSON_OBJECT) &&
      sb_hub_escape(d->a, resp->raw.ptr, resp->raw.len, &text) != SB_OK)
    return SB_ERROR;
  blocks_t media_parts = {0};
  if (sb_json_is(parts, SB_JSON_ARRAY) && parts->count > 0) {
    /* the text first, then the media */
    if (text.len > 0 && add_text(d, &media_parts, text) != SB_OK)
      return SB_ERROR;
    text = SB_NULL_SLICE;
    for (const sb_json_t *p = parts->child; p != NULL; p = p->next) {
      const sb_json_t *in = sb_json_get(p, "inlineData");
      const sb_json_t *fd = sb_json_get(p, "fileData");
      if ((in != NULL && media(d, &media_parts, in, false) != SB_OK) ||
          (fd != NULL && media(d, &media_parts, fd, true) != SB_OK))
        return SB_ERROR;
    }
  }
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, SB_HUB_TOOL_RESULT);
  if (k == NULL)
    return SB_ERROR;
  k->name = name;
  k->id = id.len > 0 ? id : place;
  k->text = text;
  k->is_error = is_error;
  k->parts = media_parts.v;
  k->n_parts = media_parts.n;
  return k->id.ptr != NULL ? SB_OK : SB_ERROR;
}

/* A block only Gemini knows, as it came (its first member names it). */
static sb_status_t add_native(dp_t *d, blocks_t *b, const sb_json_t *p)
{
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, SB_HUB_NATIVE);
  if (k == NULL)
    return SB_ERROR;
  k->native = p->raw;
  k->format = "gemini";
  k->name = p->child != NULL ? p->child->key : SB_SLICE_LIT("part");
  return SB_OK;
}

/* A part's thoughtSignature: the reasoning it carries, before the part's
 * own block (which `b` then holds from `at` on), or Gemini's own after
 * it. */
static sb_status_t signature(dp_t *d, blocks_t *b, size_t at, sb_slice_t sig,
                             sb_slice_t call_id)
{
  blocks_t carried = {0};
  sb_status_t rc = sb_gemini_rd_open(d->a, sig, &carried);
  if (rc == SB_ERROR)
    return SB_ERROR;
  if (rc == SB_OK && carried.n > 0) {
    size_t own = b->n - at;
    for (size_t i = 0; i < carried.n; i++)
      if (sb_hub_blocks_add(d->a, b, SB_HUB_TEXT) == NULL)
        return SB_ERROR;
    memmove(&b->v[at + carried.n], &b->v[at], own * sizeof(*b->v));
    memcpy(&b->v[at], carried.v, carried.n * sizeof(*b->v));
    return SB_OK;
  }
  if (rc == SB_OK)
    return SB_OK; /* it carried nothing */
  sb_hub_block_t *k = sb_hub_blocks_add(d->a, b, SB_HUB_REDACTED);
  if (k == NULL)
    return SB_ERROR;
  k->data = sig;
  k->sig_format = SB_HUB_SIG_GEMINI;
  k->id = call_id;
  return SB_OK;
}

/* One part of contents[ci].parts[pi] into `results` (function responses)
 * or `rest`. */
static sb_status_t part(dp_t *d, const sb_json_t *p, size_t ci, size_t pi,
                        bool model, blocks_t *results, blocks_t *rest)
{
  const sb_json_t *v;
  size_t at = rest->n;
  sb_slice_t call_id = SB_NULL_SLICE;
  sb_status_t rc = SB_OK;
  if ((v = sb_json_get(p, "text")) != NULL && is_str(v)) {
    if (sb_json_truthy(sb_json_get(p, "thought"))) {
      sb_hub_block_t *k = sb_hub_blocks_add(d->a, rest, SB_HUB_REASONING);
      if (k == NULL)
        return SB_ERROR;
      k->text = sb_hub_jtext(v);
      k->sig_format = SB_HUB_SIG_GEMINI;
    } else if (v->raw.len > 2) {
      rc = add_text(d, rest, sb_hub_jtext(v));
    }
  } else if ((v = sb_json_get(p, "inlineData")) != NULL) {
    rc = media(d, rest, v, false);
  } else if ((v = sb_json_get(p, "fileData")) != NULL) {
    rc = media(d, rest, v, true);
  } else if ((v = sb_json_get(p, "functionCall")) != NULL) {
    sb_hub_block_t *k = sb_hub_blocks_add(d->a, rest, SB_HUB_TOOL_CALL);
    if (k == NULL)
      return SB_ERROR;
    const sb_json_t *args = sb_json_get(v, "args");
    k->name = sb_hub_jtext(sb_json_get(v, "name"));
    k->id = sb_hub_jtext(sb_json_get(v, "id"));
    if (k->id.len == 0)
      k->id = place_id(d, ci, pi);
    k->args = sb_json_is(args, SB_JSON_OBJECT) ? args->raw : SB_SLICE_LIT("{}");
    call_id = k->id;
    if (k->id.ptr == NULL)
      return SB_ERROR;
    if (model)
      rc = remember_call(d, k->id, k->name);
  } else if ((v = sb_json_get(p, "functionResponse")) != NULL) {
    return function_response(d, results, v, place_id(d, ci, pi));
  } else if ((v = sb_json_get(p, "executableCode")) != NULL) {
    rc = executable_code(d, rest, v);
  } else if ((v = sb_json_get(p, "codeExecutionResult")) != NULL) {
    rc = execution_result(d, rest, v);
  } else if (p->count > 0 && !(p->count == 1 &&
                               sb_json_get(p, "thoughtSignature") != NULL)) {
    rc = add_native(d, rest, p);
  }
  if (rc != SB_OK)
    return rc;
  const sb_json_t *sig = sb_json_get(p, "thoughtSignature");
  return is_str(sig) ? signature(d, rest, at, sb_hub_jtext(sig), call_id)
                     : SB_OK;
}

/* ---- messages --------------------------------------------------------------------- */

static void put_msg(sb_hub_msg_t *m, size_t *n, sb_hub_role_t role,
                    const blocks_t *b)
{
  sb_hub_msg_t *out = &m[(*n)++];
  memset(out, 0, sizeof(*out));
  out->role = role;
  out->blocks = b->v;
  out->n_blocks = b->n;
  /* Gemini has no plain-string form: one text is written as one */
  out->plain = b->n == 1 && b->v[0].kind == SB_HUB_TEXT;
}

/* contents[ci]: a model turn, or a user turn's results then the rest. */
static sb_status_t turn(dp_t *d, const sb_json_t *c, size_t ci,
                        sb_hub_msg_t *m, size_t *n)
{
  bool model = SB_JSON_STR_IS(sb_json_get(c, "role"), "model");
  const sb_json_t *parts = sb_json_get(c, "parts");
  blocks_t results = {0}, rest = {0};
  size_t pi = 0;
  for (const sb_json_t *p = parts != NULL ? parts->child : NULL; p != NULL;
       p = p->next, pi++)
    if (part(d, p, ci, pi, model, &results, &rest) != SB_OK)
      return SB_ERROR;
  if (model) {
    put_msg(m, n, SB_HUB_ASSISTANT, &rest);
    return SB_OK;
  }
  if (results.n > 0)
    put_msg(m, n, SB_HUB_TOOL, &results);
  if (rest.n > 0 || results.n == 0)
    put_msg(m, n, SB_HUB_USER, &rest);
  return SB_OK;
}

/* systemInstruction's text parts, as one SYSTEM message. */
static sb_status_t system(dp_t *d, const sb_json_t *si, sb_hub_msg_t *m,
                          size_t *n)
{
  const sb_json_t *parts = sb_json_get(si, "parts");
  blocks_t b = {0};
  for (const sb_json_t *p = parts != NULL ? parts->child : NULL; p != NULL;
       p = p->next) {
    const sb_json_t *t = sb_json_get(p, "text");
    if (is_str(t) && t->raw.len > 2 && add_text(d, &b, sb_hub_jtext(t)) != SB_OK)
      return SB_ERROR;
  }
  if (b.n > 0)
    put_msg(m, n, SB_HUB_SYSTEM, &b);
  return SB_OK;
}

sb_status_t sb_gemini_door_contents(const sb_json_t *body, sb_arena_t *a,
                                    sb_hub_req_t *req, char *why,
                                    size_t whylen)
{
  dp_t d = {a, why, whylen, NULL, 0, 0};
  const sb_json_t *contents = sb_json_get(body, "contents");
  size_t count = sb_json_is(contents, SB_JSON_ARRAY) ? contents->count : 0;
  /* a user turn may become two (its results, the rest) */
  sb_hub_msg_t *m = sb_arena_calloc(a, (2 * count + 1) * sizeof(*m));
  if (m == NULL)
    return SB_ERROR;
  size_t n = 0, ci = 0;
  if (system(&d, sb_json_get(body, "systemInstruction"), m, &n) != SB_OK)
    return SB_ERROR;
  for (const sb_json_t *c = count > 0 ? contents->child : NULL; c != NULL;
       c = c->next, ci++)
    if (turn(&d, c, ci, m, &n) != SB_OK)
      return SB_ERROR;
  req->msgs = m;
  req->n_msgs = n;
  return SB_OK;
}
