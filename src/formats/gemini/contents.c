/* SPDX-License-Identifier: MIT */
/*
 * The conversation as Gemini takes it:
 * - system and developer messages, wherever they stand -> one
 *   systemInstruction (text only);
 * - user / assistant / tool messages -> contents with the roles user /
 *   model / user; consecutive contents of one role are merged (parallel
 *   tool results share one);
 * - text -> text parts (empty ones left out); base64 images, files and
 *   audio -> inlineData; image URLs -> fileData;
 * - tool calls -> functionCall parts with `args` (the client's arguments
 *   must be a JSON object), with the thoughtSignature restored from the
 *   message's Gemini REDACTED blocks (matched by the call's id, else by
 *   position; without calls, the first one without an id belongs to the
 *   text);
 * - tool results -> functionResponse parts named after the earlier call
 *   with that id (else the result's own name): the result itself when it
 *   is a JSON object, else {"content": its text}.
 */
#include <stdio.h>

#include "gemini.h"

typedef struct {
  sb_jw_t *w;
  const sb_hub_req_t *req;
  sb_arena_t *a;
  sb_codec_request_t *out;
  int role; /* the open content: 0 none, 1 user, 2 model */
} ct_t;

enum { ROLE_NONE, ROLE_USER, ROLE_MODEL };

static void open_role(ct_t *q, int role)
{
  if (q->role == role)
    return;
  if (q->role != ROLE_NONE) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_obj_begin(q->w);
  if (role == ROLE_USER)
    sb_jw_kv_lit(q->w, "role", "user");
  else
    sb_jw_kv_lit(q->w, "role", "model");
  sb_jw_key_lit(q->w, "parts");
  sb_jw_arr_begin(q->w);
  q->role = role;
}

/* {"text": ..., "thoughtSignature"?: ...}; nothing for an empty text.
 * `role` ROLE_NONE: a systemInstruction part. */
static bool text_part(ct_t *q, int role, sb_slice_t text, sb_slice_t sig)
{
  if (text.len == 0)
    return false;
  if (role != ROLE_NONE)
    open_role(q, role);
  sb_jw_obj_begin(q->w);
  sb_jw_key_lit(q->w, "text");
  sb_jw_str_raw(q->w, text.ptr, text.len);
  if (sig.ptr != NULL) {
    sb_jw_key_lit(q->w, "thoughtSignature");
    sb_jw_str_raw(q->w, sig.ptr, sig.len);
  }
  sb_jw_obj_end(q->w);
  return true;
}

/* A block only Gemini knows, as it came. */
static void native_part(ct_t *q, int role, const sb_hub_block_t *b)
{
  open_role(q, role);
  sb_jw_raw(q->w, b->native.ptr, b->native.len);
}

static bool is_gemini_native(const sb_hub_block_t *b)
{
  return b->kind == SB_HUB_NATIVE && b->format != NULL &&
         strcmp(b->format, "gemini") == 0 && b->native.len > 0;
}

/* ---- media ----------------------------------------------------------------- */

static const char *guess_mime(sb_slice_t url)
{
  static const struct {
    const char *ext, *mime;
  } map[] = {{".png", "image/png"},   {".jpg", "image/jpeg"},
             {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
             {".webp", "image/webp"}, {".pdf", "application/pdf"}};
  for (size_t i = 0; i < SB_ARRAY_LEN(map); i++) {
    size_t n = strlen(map[i].ext);
    if (url.len >= n && sb_slice_case_eq(sb_slice(url.ptr + url.len - n, n),
                                         sb_slice(map[i].ext, n)))
      return map[i].mime;
  }
  return "image/jpeg";
}

/* The name a client's request gave a part of this kind. */
static sb_slice_t part_type(const sb_hub_block_t *b)
{
  switch (b->kind) {
  case SB_HUB_IMAGE: return SB_SLICE_LIT("image_url");
  case SB_HUB_FILE: return SB_SLICE_LIT("file");
  case SB_HUB_AUDIO: return SB_SLICE_LIT("input_audio");
  case SB_HUB_TOOL_CALL: return SB_SLICE_LIT("tool_call");
  case SB_HUB_REASONING: return SB_SLICE_LIT("reasoning");
  case SB_HUB_REDACTED: return SB_SLICE_LIT("redacted_reasoning");
  case SB_HUB_NATIVE: return b->name.len > 0 ? b->name : SB_SLICE_LIT("none");
  case SB_HUB_TEXT:
  case SB_HUB_TOOL_RESULT: break;
  }
  return SB_SLICE_LIT("none");
}

static sb_status_t unsupported(ct_t *q, const sb_hub_block_t *b)
{
  sb_slice_t t = part_type(b);
  return sb_gemini_refuse(q->a, q->out,
                          "content parts of type \"%.*s\" are not supported "
                          "by the Gemini provider (text, image_url, and file "
                          "and input_audio with base64 data are)",
                          (int)SB_MIN(t.len, 40), t.ptr);
}

/* {"inlineData": {"mimeType", "data"}}; audio formats ("wav") become
 * audio media types. */
static void inline_data(ct_t *q, const sb_hub_block_t *b)
{
  sb_jw_t *w = q->w;
  open_role(q, ROLE_USER);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "inlineData");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "mimeType");
  if (b->kind == SB_HUB_AUDIO &&
      memchr(b->media_type.ptr != NULL ? b->media_type.ptr : "", '/',
             b->media_type.len) == NULL) {
    char mime[64];
    int n = snprintf(mime, sizeof(mime), "audio/%.*s",
                     (int)SB_MIN(b->media_type.len, 40),
                     b->media_type.ptr != NULL ? b->media_type.ptr : "");
    sb_jw_str_raw(w, mime, (size_t)n);
  } else {
    sb_jw_str_raw(w, b->media_type.ptr != NULL ? b->media_type.ptr : "",
                  b->media_type.len);
  }
  sb_jw_key_lit(w, "data");
  sb_jw_str_raw(w, b->data.ptr, b->data.len);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

/* An image by URL: {"fileData": {"mimeType" (guessed), "fileUri"}}. */
static sb_status_t image_url(ct_t *q, const sb_hub_block_t *b)
{
  sb_slice_t u;
  if (b->url.len == 0)
    return sb_gemini_refuse(q->a, q->out, "an image_url part has no url");
  if (sb_slice_starts(b->url, SB_STRLIT("data:")))
    return sb_gemini_refuse(q->a, q->out,
                            "image data URLs must be base64 "
                            "(data:<media type>;base64,<data>)");
  if (sb_hub_unescape(q->a, b->url, &u) != SB_OK)
    return sb_gemini_refuse(q->a, q->out, "out of memory");
  if (!sb_slice_starts(u, SB_STRLIT("https://")) &&
      !sb_slice_starts(u, SB_STRLIT("http://")))
    return sb_gemini_refuse(q->a, q->out,
                            "image URLs must be data: or http(s): URLs");
  const char *mime = guess_mime(u);
  sb_jw_t *w = q->w;
  open_role(q, ROLE_USER);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "fileData");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("mimeType"), mime, strlen(mime));
  sb_jw_kv_str(w, SB_STRLIT("fileUri"), u.ptr, u.len);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t media(ct_t *q, const sb_hub_block_t *b)
{
  if (b->data.len > 0) {
    inline_data(q, b);
    return SB_OK;
  }
  if (b->kind == SB_HUB_IMAGE)
    return image_url(q, b);
  if (b->kind == SB_HUB_FILE && b->text.len > 0 && b->url.len == 0 &&
      b->id.len == 0) {
    text_part(q, ROLE_USER, b->text, SB_NULL_SLICE); /* a text document */
    return SB_OK;
  }
  return unsupported(q, b);
}

/* ---- tool results ------------------------------------------------------------- */

/* The function name of tool call `id`: from the nearest assistant message
 * before message `upto` that made it. */
static sb_slice_t call_name(const sb_hub_req_t *req, size_t upto,
                            sb_slice_t id)
{
  sb_slice_t found = SB_NULL_SLICE;
  for (size_t i = 0; i < upto && i < req->n_msgs; i++) {
    const sb_hub_msg_t *m = &req->msgs[i];
    if (m->role != SB_HUB_ASSISTANT)
      continue;
    for (size_t k = 0; k < m->n_blocks; k++) {
      const sb_hub_block_t *b = &m->blocks[k];
      if (b->kind == SB_HUB_TOOL_CALL && b->id.ptr != NULL &&
          b->name.ptr != NULL && sb_slice_eq(b->id, id))
        found = b->name;
    }
  }
  return found;
}

/* The result's text (bytes): its text, or its text parts joined. */
static sb_status_t result_text(ct_t *q, const sb_hub_block_t *b,
                               sb_slice_t *text)
{
  *text = SB_NULL_SLICE;
  if (b->text.ptr != NULL)
    return sb_hub_unescape(q->a, b->text, text);
  size_t total = 0;
  for (size_t i = 0; i < b->n_parts; i++)
    if (b->parts[i].kind == SB_HUB_TEXT)
      total += b->parts[i].text.len;
  if (b->n_parts == 0)
    return SB_OK;
  char *d = sb_arena_alloc(q->a, total + 1);
  if (d == NULL)
    return SB_ERROR;
  size_t o = 0;
  for (size_t i = 0; i < b->n_parts; i++) {
    sb_slice_t s;
    if (b->parts[i].kind != SB_HUB_TEXT || b->parts[i].text.len == 0)
      continue;
    if (sb_hub_unescape(q->a, b->parts[i].text, &s) != SB_OK)
      return SB_ERROR;
    memcpy(d + o, s.ptr, s.len); /* unescaped is never longer */
    o += s.len;
  }
  *text = sb_slice(d, o);
  return SB_OK;
}

static sb_status_t tool_result(ct_t *q, size_t msg, const sb_hub_block_t *b)
{
  sb_slice_t name = b->id.ptr != NULL ? call_name(q->req, msg, b->id)
                                      : SB_NULL_SLICE;
  if (name.ptr == NULL)
    name = b->name;
  if (name.ptr == NULL)
    return sb_gemini_refuse(q->a, q->out,
                            "a tool message's tool_call_id matches no "
                            "earlier assistant tool call (Gemini needs the "
                            "function name)");
  sb_slice_t text;
  if (result_text(q, b, &text) != SB_OK)
    return sb_gemini_refuse(q->a, q->out, "out of memory");
  /* the response object: the result when it is a JSON object, else
   * {"content": the text} */
  sb_json_t *obj = NULL;
  sb_slice_t trimmed = sb_slice_trim(text);
  if (trimmed.len > 0 && trimmed.ptr[0] == '{' &&
      sb_json_parse(q->a, trimmed.ptr, trimmed.len, 0, &obj, NULL) != SB_OK)
    obj = NULL;
  sb_jw_t *w = q->w;
  open_role(q, ROLE_USER);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionResponse");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "name");
  sb_jw_str_raw(w, name.ptr, name.len);
  sb_jw_key_lit(w, "response");
  if (obj != NULL && obj->type == SB_JSON_OBJECT) {
    sb_jw_raw(w, trimmed.ptr, trimmed.len);
  } else {
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("content"), text.ptr != NULL ? text.ptr : "",
                 text.len);
    sb_jw_obj_end(w);
  }
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

/* ---- messages ---------------------------------------------------------------- */

/* A user or tool message's blocks. */
static sb_status_t user_blocks(ct_t *q, size_t msg, const sb_hub_msg_t *m)
{
  for (size_t i = 0; i < m->n_blocks; i++) {
    const sb_hub_block_t *b = &m->blocks[i];
    sb_status_t rc = SB_OK;
    switch (b->kind) {
    case SB_HUB_TEXT:
      text_part(q, ROLE_USER, b->text, SB_NULL_SLICE);
      break;
    case SB_HUB_IMAGE:
    case SB_HUB_FILE:
    case SB_HUB_AUDIO:
      rc = media(q, b);
      break;
    case SB_HUB_TOOL_RESULT:
      rc = tool_result(q, msg, b);
      break;
    case SB_HUB_NATIVE:
      if (is_gemini_native(b))
        native_part(q, ROLE_USER, b);
      else
        rc = unsupported(q, b);
      break;
    case SB_HUB_REASONING:
    case SB_HUB_REDACTED:
      break; /* nothing to replay on a user's turn */
    case SB_HUB_TOOL_CALL:
      rc = unsupported(q, b);
      break;
    }
    if (rc != SB_OK)
      return rc;
  }
  return SB_OK;
}

/* The thoughtSignature for the k-th tool call of an assistant message:
 * the Gemini REDACTED block naming its id, else the k-th one without an
 * id. Empty when there is none. */
static sb_slice_t signature_for(const sb_hub_msg_t *m, sb_slice_t id, size_t k)
{
  sb_slice_t by_pos = SB_NULL_SLICE;
  size_t pos = 0;
  for (size_t i = 0; i < m->n_blocks; i++) {
    const sb_hub_block_t *b = &m->blocks[i];
    if (b->kind != SB_HUB_REDACTED || b->sig_format != SB_HUB_SIG_GEMINI ||
        b->data.ptr == NULL)
      continue;
    if (b->id.len > 0) {
      if (id.len > 0 && sb_slice_eq(b->id, id))
        return b->data;
    } else if (pos++ == k && by_pos.ptr == NULL) {
      by_pos = b->data;
    }
  }
  return by_pos;
}

static sb_status_t function_call(ct_t *q, const sb_hub_msg_t *m,
                                 const sb_hub_block_t *b, size_t k)
{
  if (b->name.ptr == NULL)
    return sb_gemini_refuse(q->a, q->out,
                            "an assistant tool call needs a function name");
  sb_slice_t args = sb_slice_trim(b->args);
  sb_json_t *parsed;
  if (args.len == 0)
    args = SB_SLICE_LIT("{}");
  else if (sb_json_parse(q->a, args.ptr, args.len, 0, &parsed, NULL) != SB_OK ||
           parsed->type != SB_JSON_OBJECT)
    return sb_gemini_refuse(q->a, q->out,
                            "the arguments of a tool call are not a JSON "
                            "object; the Gemini provider needs one");
  sb_slice_t sig = signature_for(m, b->id, k);
  sb_jw_t *w = q->w;
  open_role(q, ROLE_MODEL);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionCall");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "name");
  sb_jw_str_raw(w, b->name.ptr, b->name.len);
  sb_jw_kv_raw(w, SB_STRLIT("args"), args.ptr, args.len);
  sb_jw_obj_end(w);
  if (sig.ptr != NULL) {
    sb_jw_key_lit(w, "thoughtSignature");
    sb_jw_str_raw(w, sig.ptr, sig.len);
  }
  sb_jw_obj_end(w);
  return SB_OK;
}

/* An assistant message: its text and calls; reasoning is not replayed
 * (Gemini takes back only its signatures). */
static sb_status_t assistant(ct_t *q, const sb_hub_msg_t *m)
{
  size_t n_calls = 0, k = 0;
  for (size_t i = 0; i < m->n_blocks; i++)
    n_calls += m->blocks[i].kind == SB_HUB_TOOL_CALL;
  /* without calls, a signature belongs to the text */
  sb_slice_t text_sig =
      n_calls > 0 ? SB_NULL_SLICE : signature_for(m, SB_NULL_SLICE, 0);
  for (size_t i = 0; i < m->n_blocks; i++) {
    const sb_hub_block_t *b = &m->blocks[i];
    if (b->kind == SB_HUB_TEXT) {
      if (text_part(q, ROLE_MODEL, b->text, text_sig))
        text_sig = SB_NULL_SLICE;
    } else if (b->kind == SB_HUB_TOOL_CALL) {
      if (function_call(q, m, b, k++) != SB_OK)
        return SB_ERROR;
    } else if (is_gemini_native(b)) {
      native_part(q, ROLE_MODEL, b);
    }
  }
  return SB_OK;
}

static bool is_system(const sb_hub_msg_t *m)
{
  return m->role == SB_HUB_SYSTEM || m->role == SB_HUB_DEVELOPER;
}

static sb_status_t system_instruction(ct_t *q)
{
  const sb_hub_req_t *req = q->req;
  bool any = false;
  for (size_t i = 0; i < req->n_msgs; i++)
    any = any || is_system(&req->msgs[i]);
  if (!any)
    return SB_OK;
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "systemInstruction");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "parts");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < req->n_msgs; i++) {
    const sb_hub_msg_t *m = &req->msgs[i];
    if (!is_system(m))
      continue;
    for (size_t k = 0; k < m->n_blocks; k++) {
      if (m->blocks[k].kind != SB_HUB_TEXT)
        return sb_gemini_refuse(q->a, q->out,
                                "system messages may only hold text");
      text_part(q, ROLE_NONE, m->blocks[k].text, SB_NULL_SLICE);
    }
  }
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

sb_status_t sb_gemini_contents(sb_jw_t *w, const sb_hub_req_t *req,
                               sb_arena_t *a, sb_codec_request_t *out)
{
  ct_t q = {w, req, a, out, ROLE_NONE};
  sb_jw_key_lit(w, "contents");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < req->n_msgs; i++) {
    const sb_hub_msg_t *m = &req->msgs[i];
    sb_status_t rc = SB_OK;
    if (m->role == SB_HUB_ASSISTANT)
      rc = assistant(&q, m);
    else if (!is_system(m))
      rc = user_blocks(&q, i, m);
    if (rc != SB_OK)
      return rc;
  }
  if (q.role != ROLE_NONE) {
    sb_jw_arr_end(w);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  return system_instruction(&q);
}
