/* SPDX-License-Identifier: MIT */
/*
 * OpenAI's embeddings API, both sides: the door's request (checked and
 * read into the hub's embeddings request), its answer (OpenAI's list, from
 * another format's vectors or from an OpenAI-compatible provider's own
 * body with the gateway's members written in), and the provider side for
 * every OpenAI-compatible service (the client's body with `model`
 * rewritten).
 */
#include <stdio.h>

#include "openai.h"
#include "switchboard/json_edit.h"

#define MAX_INPUTS 2048

/* ---- the door ------------------------------------------------------------------ */

/* input: a string, an array of strings, an array of tokens (integers), or
 * an array of token arrays; never empty. */
static const char *check_input(const sb_json_t *in)
{
  if (sb_json_is(in, SB_JSON_STRING))
    return NULL;
  if (!sb_json_is(in, SB_JSON_ARRAY) || in->count == 0)
    return "'input' must be a string, or a non-empty array of strings, of "
           "tokens or of token arrays";
  if (in->count > MAX_INPUTS)
    return "'input' has more than 2048 items";
  uint8_t kind = in->child->type;
  for (const sb_json_t *v = in->child; v != NULL; v = v->next) {
    if (v->type != kind)
      return "'input' mixes item types";
    if (kind == SB_JSON_NUMBER) {
      int64_t t;
      if (sb_json_int64(v, &t) != SB_OK || t < 0)
        return "token ids in 'input' must be non-negative integers";
    } else if (kind == SB_JSON_ARRAY) {
      if (v->count == 0)
        return "token arrays in 'input' must not be empty";
      for (const sb_json_t *t = v->child; t != NULL; t = t->next) {
        int64_t n;
        if (sb_json_int64(t, &n) != SB_OK || n < 0)
          return "token ids in 'input' must be non-negative integers";
      }
    } else if (kind != SB_JSON_STRING) {
      return "'input' items must be strings, tokens or token arrays";
    }
  }
  return NULL;
}

static sb_status_t refuse(char *why, size_t whylen, const char *msg)
{
  snprintf(why, whylen, "%s", msg);
  return SB_DECLINED;
}

static sb_status_t embed_decode(const sb_json_t *body, sb_arena_t *a,
                                sb_hub_embed_req_t *req, char *why,
                                size_t whylen)
{
  const sb_json_t *model = sb_json_get(body, "model");
  if (!sb_json_is(model, SB_JSON_STRING))
    return refuse(why, whylen, "'model' must be a string");
  const sb_json_t *in = sb_json_get(body, "input");
  const char *bad = check_input(in);
  if (bad != NULL)
    return refuse(why, whylen, bad);
  const sb_json_t *fmt = sb_json_get(body, "encoding_format");
  if (fmt != NULL && fmt->type != SB_JSON_NULL &&
      !SB_JSON_STR_IS(fmt, "float") && !SB_JSON_STR_IS(fmt, "base64"))
    return refuse(why, whylen,
                  "'encoding_format' must be \"float\" or \"base64\"");
  const sb_json_t *dims = sb_json_get(body, "dimensions");
  int64_t d = 0;
  if (dims != NULL && dims->type != SB_JSON_NULL &&
      (sb_json_int64(dims, &d) != SB_OK || d < 1))
    return refuse(why, whylen, "'dimensions' must be a positive integer");
  if (sb_json_string(a, model, &req->model) != SB_OK)
    return SB_ERROR;
  const sb_json_t *user = sb_json_get(body, "user");
  req->door_format = "openai";
  req->native = body;
  req->input = in;
  req->n_inputs = sb_json_is(in, SB_JSON_STRING) ? 1 : in->count;
  req->dimensions = d;
  req->base64 = SB_JSON_STR_IS(fmt, "base64");
  req->user = sb_json_is(user, SB_JSON_STRING) ? sb_json_str_raw(user)
                                               : SB_NULL_SLICE;
  return SB_OK;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A vector as OpenAI's base64 string: float32 little-endian bytes. */
static sb_status_t write_base64(sb_buf_t *b, const sb_json_t *values)
{
  sb_buf_t raw;
  sb_status_t rc = SB_OK;
  sb_buf_init(&raw, 64u << 20);
  for (const sb_json_t *v = values->child; v != NULL && rc == SB_OK;
       v = v->next) {
    double d;
    if (sb_json_double(v, &d) != SB_OK) {
      rc = SB_ERROR;
      break;
    }
    float f = (float)d;
    uint32_t u;
    unsigned char le[4];
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
      le[i] = (unsigned char)(u >> (8 * i));
    rc = sb_buf_append(&raw, le, 4);
  }
  if (rc == SB_OK)
    rc = sb_buf_append(b, SB_STRLIT("\""));
  const unsigned char *p = (const unsigned char *)raw.data;
  for (size_t i = 0; rc == SB_OK && i < raw.len; i += 3) {
    size_t left = raw.len - i;
    uint32_t x = (uint32_t)p[i] << 16 |
                 (left > 1 ? (uint32_t)p[i + 1] << 8 : 0) |
                 (left > 2 ? (uint32_t)p[i + 2] : 0);
    char o[4] = {b64[(x >> 18) & 63], b64[(x >> 12) & 63],
                 left > 1 ? b64[(x >> 6) & 63] : '=',
                 left > 2 ? b64[x & 63] : '='};
    rc = sb_buf_append(b, o, 4);
  }
  if (rc == SB_OK)
    rc = sb_buf_append(b, SB_STRLIT("\""));
  sb_buf_free(&raw);
  return rc;
}

/* {prompt_tokens, total_tokens, cost}, or the provider's object with cost */
static sb_status_t usage_text(const sb_hub_embeddings_t *e,
                              const sb_usage_t *u, sb_slice_t cost,
                              sb_arena_t *a, sb_slice_t *out)
{
  sb_buf_t b;
  sb_jw_t w;
  sb_json_t *obj;
  sb_buf_init(&b, 1 << 20);
  sb_jw_init(&w, &b);
  if (e->usage_json.len > 0 &&
      sb_json_parse(a, e->usage_json.ptr, e->usage_json.len, 0, &obj, NULL) ==
          SB_OK &&
      obj->type == SB_JSON_OBJECT) {
    sb_json_edit_t ed[] = {{"cost", 4, cost.ptr, cost.len, SB_EDIT_MODE_SET}};
    sb_json_rewrite(&w, obj, ed, 1);
  } else {
    sb_jw_obj_begin(&w);
    sb_jw_kv_int(&w, SB_STRLIT("prompt_tokens"), (int64_t)u->prompt);
    sb_jw_kv_int(&w, SB_STRLIT("completion_tokens"), (int64_t)u->completion);
    sb_jw_kv_int(&w, SB_STRLIT("total_tokens"),
                 (int64_t)(u->prompt + u->completion));
    sb_jw_kv_raw(&w, SB_STRLIT("cost"), cost.ptr, cost.len);
    sb_jw_obj_end(&w);
  }
  sb_status_t rc = sb_jw_status(&w);
  if (rc == SB_OK) {
    *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
    rc = out->ptr != NULL ? SB_OK : SB_ERROR;
  }
  sb_buf_free(&b);
  return rc;
}

static sb_status_t embed_encode(const sb_hub_embed_req_t *req,
                                const sb_answer_names_t *names,
                                const sb_hub_embeddings_t *e, sb_slice_t native,
                                const sb_usage_t *u, sb_slice_t cost,
                                sb_arena_t *a, sb_buf_t *out)
{
  sb_slice_t usage;
  sb_jw_t w;
  if (usage_text(e, u, cost, a, &usage) != SB_OK)
    return SB_ERROR;
  sb_jw_init(&w, out);
  if (native.len > 0) {
    /* the provider's own list: the gateway's members in */
    sb_json_t *root;
    if (sb_json_parse(a, native.ptr, native.len, 0, &root, NULL) != SB_OK)
      return SB_ERROR;
    sb_json_edit_t ed[] = {
        {"id", 2, names->id.ptr, names->id.len, SB_EDIT_MODE_SET},
        {"model", 5, names->model.ptr, names->model.len, SB_EDIT_MODE_SET},
        {"provider", 8, names->provider.ptr, names->provider.len,
         SB_EDIT_MODE_SET},
        {"usage", 5, usage.ptr, usage.len, SB_EDIT_MODE_SET},
    };
    sb_json_rewrite(&w, root, ed, 4);
    return sb_jw_status(&w);
  }
  sb_jw_obj_begin(&w);
  sb_jw_kv_lit(&w, "object", "list");
  sb_jw_key_lit(&w, "data");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; i < e->n; i++) {
    sb_jw_obj_begin(&w);
    sb_jw_kv_lit(&w, "object", "embedding");
    sb_jw_kv_int(&w, SB_STRLIT("index"), (int64_t)i);
    sb_jw_key_lit(&w, "embedding");
    if (req->base64) {
      sb_json_t *values;
      sb_buf_t tmp;
      sb_buf_init(&tmp, 64u << 20);
      sb_status_t rc = sb_json_parse(a, e->vectors[i].ptr, e->vectors[i].len, 0,
                                     &values, NULL);
      if (rc == SB_OK)
        rc = write_base64(&tmp, values);
      if (rc == SB_OK)
        sb_jw_raw(&w, tmp.data, tmp.len);
      sb_buf_free(&tmp);
      if (rc != SB_OK)
        return SB_ERROR;
    } else {
      sb_jw_raw(&w, e->vectors[i].ptr, e->vectors[i].len);
    }
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_kv_raw(&w, SB_STRLIT("model"), names->model.ptr, names->model.len);
  sb_jw_kv_raw(&w, SB_STRLIT("usage"), usage.ptr, usage.len);
  sb_jw_kv_raw(&w, SB_STRLIT("id"), names->id.ptr, names->id.len);
  sb_jw_kv_raw(&w, SB_STRLIT("provider"), names->provider.ptr,
               names->provider.len);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

const sb_codec_embed_door_t sb_openai_embed_door = {
    .decode = embed_decode,
    .encode = embed_encode,
};

/* ---- the provider --------------------------------------------------------------- */

static sb_status_t embed_request(const sb_hub_embed_req_t *req,
                                 const sb_codec_route_t *route,
                                 bool passthrough, sb_arena_t *a,
                                 sb_codec_request_t *out)
{
  sb_jw_t w;
  sb_jw_init(&w, out->body);
  if (passthrough) {
    sb_buf_t q;
    sb_buf_init(&q, 4096);
    sb_status_t rc = sb_json_escape(&q, route->upstream_model.ptr,
                                    route->upstream_model.len);
    sb_json_edit_t ed[] = {{"model", 5, q.data, q.len, SB_EDIT_MODE_SET}};
    if (rc == SB_OK)
      sb_json_rewrite(&w, req->native, ed, 1);
    sb_buf_free(&q);
    if (rc != SB_OK)
      return SB_ERROR;
  } else {
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("model"), route->upstream_model.ptr,
                 route->upstream_model.len);
    sb_jw_key_lit(&w, "input");
    sb_jw_value(&w, req->input);
    if (req->dimensions > 0)
      sb_jw_kv_int(&w, SB_STRLIT("dimensions"), req->dimensions);
    if (req->user.len > 0) {
      sb_jw_key_lit(&w, "user");
      sb_jw_str_raw(&w, req->user.ptr, req->user.len);
    }
    sb_jw_obj_end(&w);
  }
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  out->url = sb_arena_join(a, route->provider->base_url, "/embeddings");
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(out, "Accept", "application/json");
  return out->url != NULL ? SB_OK : SB_ERROR;
}

static sb_status_t embed_response(const sb_hub_embed_req_t *req,
                                  sb_slice_t body, bool passthrough,
                                  sb_arena_t *a, sb_hub_embeddings_t *out,
                                  sb_slice_t *native, const char **why)
{
  sb_json_t *root;
  const sb_json_t *data;
  (void)req;
  if (sb_json_parse(a, body.ptr, body.len, 0, &root, NULL) != SB_OK ||
      root->type != SB_JSON_OBJECT ||
      !sb_json_is(data = sb_json_get(root, "data"), SB_JSON_ARRAY)) {
    *why = "the provider's embeddings response is not a JSON object with a "
           "'data' array";
    return SB_ERROR;
  }
  const sb_json_t *u = sb_json_get(root, "usage");
  out->has_usage = sb_openai_usage(u, &out->usage);
  if (out->has_usage)
    out->usage_json = u->raw;
  if (passthrough) {
    *native = body;
    return SB_OK;
  }
  sb_slice_t *v = sb_arena_alloc(a, (data->count + 1) * sizeof(*v));
  if (v == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *d = data->child; d != NULL; d = d->next) {
    const sb_json_t *e = sb_json_get(d, "embedding");
    if (!sb_json_is(e, SB_JSON_ARRAY)) {
      *why = "an embedding in the provider's response is not a list of "
             "numbers";
      return SB_ERROR;
    }
    v[n++] = e->raw;
  }
  out->vectors = v;
  out->n = n;
  return SB_OK;
}

const sb_codec_embed_provider_t sb_openai_embed_provider = {
    .request = embed_request,
    .response = embed_response,
};
