/* SPDX-License-Identifier: MIT */
/*
 * The Gemini door's embeddings: embedContent ({content, taskType?, title?,
 * outputDimensionality?}) and batchEmbedContents ({requests: [...]}) for
 * any embedding model (the body was checked first, door_check.c).
 *
 * Each request's content is one input: its text parts joined with line
 * breaks (an embedding model of another format takes text; a content
 * without text is refused). outputDimensionality (the first request's) is
 * the dimensions asked for. The answer: {"embedding": {"values": [...]}}
 * for embedContent, {"embeddings": [{"values": [...]}, ...]} for the
 * batch, the vectors as the provider wrote them. A Gemini provider gets
 * the client's requests themselves (embed.c).
 */
#include <stdio.h>

#include "gemini.h"

/* The text of one request's content, as a JSON string into `w`. */
static bool content_text(sb_jw_t *w, sb_buf_t *tmp, const sb_json_t *r)
{
  const sb_json_t *parts = sb_json_get(sb_json_get(r, "content"), "parts");
  bool any = false;
  sb_buf_reset(tmp);
  for (const sb_json_t *p = parts != NULL ? parts->child : NULL; p != NULL;
       p = p->next) {
    const sb_json_t *t = sb_json_get(p, "text");
    if (!sb_json_is(t, SB_JSON_STRING))
      continue;
    if (any)
      sb_buf_append(tmp, SB_STRLIT("\\n"));
    sb_buf_append_slice(tmp, sb_json_str_raw(t));
    any = true;
  }
  sb_jw_str_raw(w, tmp->data != NULL ? tmp->data : "", tmp->len);
  return any;
}

static sb_status_t embed_decode(const sb_json_t *body, sb_arena_t *a,
                                sb_hub_embed_req_t *req, char *why,
                                size_t whylen)
{
  const sb_json_t *list = sb_json_get(body, "requests");
  bool batch = sb_json_is(list, SB_JSON_ARRAY);
  const sb_json_t *first = batch ? list->child : body;
  sb_buf_t text, tmp;
  sb_jw_t w;
  sb_json_t *input;
  int64_t dims;
  sb_status_t rc = SB_OK;
  req->door_format = "gemini";
  req->native = body;
  if (sb_json_int64(sb_json_get(first, "outputDimensionality"), &dims) ==
          SB_OK &&
      dims > 0)
    req->dimensions = dims;
  sb_buf_init(&text, 0);
  sb_buf_init(&tmp, 0);
  sb_jw_init(&w, &text);
  if (batch)
    sb_jw_arr_begin(&w);
  size_t i = 0;
  for (const sb_json_t *r = first; r != NULL && rc == SB_OK;
       r = batch ? r->next : NULL, i++)
    if (!content_text(&w, &tmp, r)) {
      if (batch)
        snprintf(why, whylen, "requests[%zu].content: has no text to embed",
                 i);
      else
        snprintf(why, whylen, "content: has no text to embed");
      rc = SB_DECLINED;
    }
  if (batch)
    sb_jw_arr_end(&w);
  char *copy = rc == SB_OK && sb_jw_status(&w) == SB_OK
                   ? sb_arena_strndup(a, text.data, text.len)
                   : NULL;
  if (rc == SB_OK)
    rc = copy != NULL &&
                 sb_json_parse(a, copy, text.len, 0, &input, NULL) == SB_OK
             ? SB_OK
             : SB_ERROR;
  sb_buf_free(&text);
  sb_buf_free(&tmp);
  if (rc != SB_OK)
    return rc;
  req->input = input;
  req->n_inputs = batch ? input->count : 1;
  return SB_OK;
}

static sb_status_t embed_encode(const sb_hub_embed_req_t *req,
                                const sb_answer_names_t *names,
                                const sb_hub_embeddings_t *e,
                                sb_slice_t native, const sb_usage_t *usage,
                                sb_slice_t cost, sb_arena_t *a, sb_buf_t *out)
{
  (void)names;
  (void)native;
  (void)usage;
  (void)cost;
  (void)a;
  bool batch = sb_json_is(sb_json_get(req->native, "requests"), SB_JSON_ARRAY);
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  if (batch) {
    sb_jw_key_lit(&w, "embeddings");
    sb_jw_arr_begin(&w);
  } else {
    sb_jw_key_lit(&w, "embedding");
  }
  for (size_t i = 0; i < e->n && (batch || i == 0); i++) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_raw(&w, SB_STRLIT("values"), e->vectors[i].ptr,
                 e->vectors[i].len);
    sb_jw_obj_end(&w);
  }
  if (!batch && e->n == 0)
    sb_jw_raw(&w, SB_STRLIT("{\"values\":[]}"));
  if (batch)
    sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

const sb_codec_embed_door_t sb_gemini_embed_door = {
    .decode = embed_decode,
    .encode = embed_encode,
};
