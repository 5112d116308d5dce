/* SPDX-License-Identifier: MIT */
/*
 * The Responses API's table (include/switchboard/codec.h), its statuses
 * both ways, the ids of an answer and its error shape.
 */
#include <strings.h>

#include "responses.h"

/* ---- statuses -------------------------------------------------------------- */

sb_finish_t sb_responses_finish_in(sb_slice_t native)
{
  if (SB_SLICE_IS(native, "max_output_tokens"))
    return SB_FINISH_LENGTH;
  if (SB_SLICE_IS(native, "content_filter"))
    return SB_FINISH_CONTENT_FILTER;
  if (SB_SLICE_IS(native, "failed") || SB_SLICE_IS(native, "cancelled"))
    return SB_FINISH_ERROR;
  sb_finish_t f = sb_finish_parse(native);
  return f != SB_FINISH_NONE ? f : SB_FINISH_STOP;
}

/* A response that called tools is "completed" too: its output says so. */
const char *sb_responses_finish_out(sb_finish_t f)
{
  switch (f) {
  case SB_FINISH_NONE: return NULL;
  case SB_FINISH_STOP:
  case SB_FINISH_TOOL_CALLS: return "completed";
  case SB_FINISH_LENGTH: return "max_output_tokens";
  case SB_FINISH_CONTENT_FILTER: return "content_filter";
  case SB_FINISH_ERROR: return "failed";
  }
  return NULL;
}

/* ---- ids --------------------------------------------------------------------- */

sb_slice_t sb_responses_tail(sb_slice_t gen_id)
{
  if (gen_id.len >= 2 && gen_id.ptr[0] == '"')
    gen_id = sb_slice(gen_id.ptr + 1, gen_id.len - 2);
  if (sb_slice_starts(gen_id, SB_STRLIT("gen-")))
    gen_id = sb_slice(gen_id.ptr + 4, gen_id.len - 4);
  return gen_id;
}

size_t sb_responses_id(const char *gen_id, char *out, size_t cap)
{
  sb_slice_t tail = sb_responses_tail(sb_slice_z(gen_id));
  size_t n = SB_MIN(tail.len, cap > 6 ? cap - 6 : 0);
  if (cap < 6)
    return 0;
  memcpy(out, "resp_", 5);
  memcpy(out + 5, tail.ptr, n);
  out[5 + n] = '\0';
  return 5 + n;
}

void sb_responses_item_id(sb_buf_t *out, const char *kind, sb_slice_t tail,
                          const char *suffix, uint64_t n)
{
  if (sb_slice_starts(tail, SB_STRLIT("resp_")))
    tail = sb_slice(tail.ptr + 5, tail.len - 5);
  sb_buf_appendz(out, kind);
  sb_buf_append(out, SB_STRLIT("_sb_"));
  sb_buf_append_slice(out, tail);
  sb_buf_append(out, "_", 1);
  sb_buf_appendz(out, suffix);
  sb_buf_append_u64(out, n);
}

bool sb_responses_own_id(sb_slice_t id)
{
  const char *us = memchr(id.ptr, '_', id.len);
  if (us == NULL)
    return false;
  sb_slice_t rest = sb_slice(us, id.len - (size_t)(us - id.ptr));
  return sb_slice_starts(rest, SB_STRLIT("_sb_"));
}

/* ---- errors --------------------------------------------------------------------- */

static const char *error_type(int status)
{
  switch (status) {
  case 401: return "authentication_error";
  case 402: return "insufficient_quota";
  case 403: return "permission_error";
  case 408: return "timeout";
  case 429: return "rate_limit_error";
  default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

void sb_responses_error_body(const sb_answer_error_t *err, sb_buf_t *out)
{
  sb_jw_t w;
  const char *type = error_type(err->status);
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "error");
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("message"), err->message.ptr, err->message.len);
  sb_jw_kv_str(&w, SB_STRLIT("type"), type, strlen(type));
  sb_jw_kv_raw(&w, SB_STRLIT("param"), SB_STRLIT("null"));
  sb_jw_key_lit(&w, "code");
  if (err->type != NULL)
    sb_jw_str(&w, err->type, strlen(err->type));
  else
    sb_jw_null(&w);
  if (err->provider_name != NULL || err->upstream_status != 0 ||
      err->provider_body.len > 0) {
    sb_jw_key_lit(&w, "metadata");
    sb_jw_obj_begin(&w);
    sb_openai_error_metadata(&w, err);
    sb_jw_obj_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
}

/* ---- the table ---------------------------------------------------------------------- */

static bool spoken_by(const sb_provider_t *p)
{
  return (p->quirks & SB_QUIRK_RESPONSES_API) != 0 &&
         strcmp(p->format, "openai") == 0;
}

const sb_codec_t sb_codec_responses = {
    .name = SB_RESPONSES_FORMAT,
    .provider = &sb_responses_provider,
    .door = &sb_responses_door,
    .finish_in = sb_responses_finish_in,
    .finish_out = sb_responses_finish_out,
    .spoken_by = spoken_by,
};
