/* SPDX-License-Identifier: MIT */
/*
 * The pass-through path's rewrite of one chat.completion.chunk (the
 * provider speaks the client's format): the event is copied member by
 * member without a DOM, each member validated as JSON as it is passed
 * (one read of the text), with
 * - `id`, `created`, `model` and `provider` set to the gateway's;
 * - `usage` left out (the gateway's usage chunk ends the stream);
 * - `native_finish_reason` added beside a `finish_reason` that has none;
 * and the few facts the gateway needs read on the way: the finish, the
 * usage object, the error, and how much output the event carries.
 */
#include "openai.h"
#include "switchboard/json_scan.h"

bool sb_openai_nonblank(sb_slice_t s)
{
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (c == ' ' || c == '\t')
      continue;
    if (c == '\\' && i + 1 < s.len &&
        (s.ptr[i + 1] == 'n' || s.ptr[i + 1] == 't' || s.ptr[i + 1] == 'r')) {
      i++;
      continue;
    }
    return true;
  }
  return false;
}

/* One choice: copied, with native_finish_reason added after a string
 * finish_reason; the first choice's facts noted. */
static sb_status_t choice(sb_slice_t v, bool first, sb_buf_t *out,
                          sb_openai_chunk_t *f)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  sb_slice_t finish = SB_NULL_SLICE;
  bool native = false;
  if (!sb_json_iter_object(&it, v))
    return sb_buf_append_slice(out, v);
  while (sb_json_iter_next(&it, &m)) {
    if (SB_JSON_NAME_IS(&m, "finish_reason"))
      finish = sb_json_scan_string(m.value);
    else if (SB_JSON_NAME_IS(&m, "native_finish_reason")) {
      native = true;
      if (first)
        f->native = sb_json_scan_string(m.value);
    } else if (first && SB_JSON_NAME_IS(&m, "delta")) {
      sb_json_iter_t d;
      sb_json_member_t dm;
      if (sb_json_iter_object(&d, m.value))
        while (sb_json_iter_next(&d, &dm)) {
          sb_slice_t s = sb_json_scan_string(dm.value);
          if (SB_JSON_NAME_IS(&dm, "content") && s.ptr != NULL) {
            f->output_bytes += s.len;
            f->has_output |= sb_openai_nonblank(s);
          } else if (SB_JSON_NAME_IS(&dm, "tool_calls")) {
            f->has_output |= dm.value.len > 0 && dm.value.ptr[0] == '[' &&
                             dm.value.len > 2;
          } else if (SB_JSON_NAME_IS(&dm, "reasoning") && s.ptr != NULL) {
            f->has_output |= s.len > 0;
          }
        }
    }
  }
  if (first)
    f->finish = finish;
  if (finish.ptr == NULL || native)
    return sb_buf_append_slice(out, v);
  /* up to the closing brace, then the member */
  const char *close = v.ptr + v.len - 1;
  while (close > v.ptr && *close != '}')
    close--;
  if (sb_buf_append(out, v.ptr, (size_t)(close - v.ptr)) != SB_OK ||
      sb_buf_append(out, SB_STRLIT(",\"native_finish_reason\":\"")) != SB_OK ||
      sb_buf_append_slice(out, finish) != SB_OK)
    return SB_ERROR;
  return sb_buf_append(out, SB_STRLIT("\"}"));
}

static sb_status_t choices(sb_slice_t v, sb_buf_t *out, sb_openai_chunk_t *f)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  if (!sb_json_iter_array(&it, v))
    return sb_buf_append_slice(out, v);
  sb_buf_append(out, "[", 1);
  bool first = true;
  while (sb_json_iter_next(&it, &m)) {
    if (!first)
      sb_buf_append(out, ",", 1);
    if (choice(m.value, first, out, f) != SB_OK)
      return SB_ERROR;
    f->n_choices++;
    first = false;
  }
  return sb_buf_append(out, "]", 1);
}

sb_status_t sb_openai_put_member(sb_buf_t *out, bool *comma, const char *name,
                                 size_t nn, sb_slice_t value)
{
  if (*comma)
    sb_buf_append(out, ",", 1);
  *comma = true;
  sb_buf_append(out, "\"", 1);
  sb_buf_append(out, name, nn);
  sb_buf_append(out, "\":", 2);
  return sb_buf_append_slice(out, value);
}

sb_status_t sb_openai_rewrite_chunk(sb_slice_t data,
                                    const sb_answer_names_t *names,
                                    sb_buf_t *out, sb_openai_chunk_t *f)
{
  sb_json_iter_t it;
  sb_json_member_t m;
  memset(f, 0, sizeof(*f));
  if (!sb_json_iter_object_checked(&it, data, 0))
    return SB_ERROR;
  /* which of ours the event names: those are replaced where they stand,
   * the others added at the end */
  enum { ID = 1, CREATED = 2, MODEL = 4, PROVIDER = 8 };
  unsigned seen = 0;
  bool comma = false;
  sb_buf_append(out, "{", 1);
  while (sb_json_iter_next(&it, &m)) {
    sb_status_t rc = SB_OK;
    if (SB_JSON_NAME_IS(&m, "id")) {
      if (!(seen & ID))
        rc = sb_openai_put_member(out, &comma, SB_STRLIT("id"), names->id);
      seen |= ID;
    } else if (SB_JSON_NAME_IS(&m, "created")) {
      if (!(seen & CREATED))
        rc = sb_openai_put_member(out, &comma, SB_STRLIT("created"), names->created);
      seen |= CREATED;
    } else if (SB_JSON_NAME_IS(&m, "model")) {
      if (!(seen & MODEL))
        rc = sb_openai_put_member(out, &comma, SB_STRLIT("model"), names->model);
      seen |= MODEL;
    } else if (SB_JSON_NAME_IS(&m, "provider")) {
      if (!(seen & PROVIDER))
        rc = sb_openai_put_member(out, &comma, SB_STRLIT("provider"), names->provider);
      seen |= PROVIDER;
    } else if (SB_JSON_NAME_IS(&m, "usage")) {
      if (m.value.len > 0 && m.value.ptr[0] == '{')
        f->usage = m.value;
    } else if (SB_JSON_NAME_IS(&m, "error")) {
      if (m.value.len > 0 && m.value.ptr[0] != 'n' && m.value.ptr[0] != 'f')
        f->error = true;
      if (comma)
        sb_buf_append(out, ",", 1);
      comma = true;
      rc = sb_buf_append_slice(out, m.member);
    } else if (SB_JSON_NAME_IS(&m, "choices")) {
      f->has_choices = true;
      if (comma)
        sb_buf_append(out, ",", 1);
      comma = true;
      sb_buf_append(out, SB_STRLIT("\"choices\":"));
      rc = choices(m.value, out, f);
    } else {
      if (comma)
        sb_buf_append(out, ",", 1);
      comma = true;
      rc = sb_buf_append_slice(out, m.member);
    }
    if (rc != SB_OK)
      return SB_ERROR;
  }
  if (!sb_json_iter_valid(&it))
    return SB_ERROR;
  if (!(seen & ID))
    sb_openai_put_member(out, &comma, SB_STRLIT("id"), names->id);
  if (!(seen & CREATED))
    sb_openai_put_member(out, &comma, SB_STRLIT("created"), names->created);
  if (!(seen & MODEL))
    sb_openai_put_member(out, &comma, SB_STRLIT("model"), names->model);
  if (!(seen & PROVIDER))
    sb_openai_put_member(out, &comma, SB_STRLIT("provider"), names->provider);
  return sb_buf_append(out, "}", 1);
}
