/* Helpers shared by the codecs; see codec_util.h. */
#include "codec_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "switchboard/catalog.h"

bool sb_cu_provider_has_header(const sb_call_t *c, const char *name)
{
  const sb_provider_t *p = c->route.provider;
  for (size_t i = 0; i < p->n_headers; i++)
    if (strcasecmp(p->headers[i].name, name) == 0)
      return true;
  return false;
}

sb_status_t sb_cu_refuse(sb_call_t *c, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->codec_error = sb_arena_strndup(c->arena, msg, strlen(msg));
  return SB_ERROR;
}

sb_status_t sb_cu_function_tool_begin(sb_call_t *c, sb_jw_t *w,
                                      const sb_json_t *tool,
                                      const char *provider,
                                      const sb_json_t **params)
{
  const sb_json_t *fn = sb_json_get(tool, "function");
  const sb_json_t *name = sb_json_get(fn, "name");
  if (!SB_JSON_STR_IS(sb_json_get(tool, "type"), "function") ||
      !sb_json_is(name, SB_JSON_STRING))
    return sb_cu_refuse(c, "only function tools (with a name) are supported "
                           "by the %s provider", provider);
  const sb_json_t *desc = sb_json_get(fn, "description");
  *params = sb_json_get(fn, "parameters");
  sb_jw_obj_begin(w);
  sb_jw_kv_raw(w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
  if (sb_json_is(desc, SB_JSON_STRING))
    sb_jw_kv_raw(w, SB_STRLIT("description"), desc->raw.ptr, desc->raw.len);
  return SB_OK;
}

int64_t sb_cu_int(const sb_json_t *obj, const char *name, size_t n, int64_t def)
{
  int64_t v;
  if (sb_json_int64(sb_json_getn(obj, name, n), &v) == SB_OK)
    return v;
  return def;
}

int64_t sb_cu_max_output(const sb_call_t *c, int64_t def)
{
  if (c->route.model == NULL)
    return def;
  int64_t v = SB_CU_INT(sb_json_get(c->route.model->json, "top_provider"),
                        "max_completion_tokens", 0);
  return v > 0 ? v : def;
}

void sb_cu_usage(sb_call_t *c, uint64_t prompt, uint64_t completion,
                 uint64_t cached, uint64_t cache_write, uint64_t reasoning)
{
  char tmp[512];
  int n = snprintf(tmp, sizeof(tmp),
                   "{\"prompt_tokens\":%llu,\"completion_tokens\":%llu,"
                   "\"total_tokens\":%llu,\"prompt_tokens_details\":"
                   "{\"cached_tokens\":%llu,\"cache_write_tokens\":%llu},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":%llu}}",
                   (unsigned long long)prompt, (unsigned long long)completion,
                   (unsigned long long)(prompt + completion),
                   (unsigned long long)cached, (unsigned long long)cache_write,
                   (unsigned long long)reasoning);
  sb_json_t *u;
  char *copy = sb_arena_strndup(&c->scratch, tmp, (size_t)n);
  if (copy != NULL &&
      sb_json_parse(&c->scratch, copy, (size_t)n, 0, &u, NULL) == SB_OK)
    sb_call_take_usage(c, u);
}

static void envelope(sb_call_t *c, sb_jw_t *w, const char *object)
{
  sb_buf_reset(&c->out);
  sb_jw_init(w, &c->out);
  sb_jw_obj_begin(w);
  sb_jw_kv_raw(w, SB_STRLIT("id"), c->j_id.ptr, c->j_id.len);
  sb_jw_kv_str(w, SB_STRLIT("object"), object, strlen(object));
  sb_jw_kv_raw(w, SB_STRLIT("created"), c->j_created.ptr, c->j_created.len);
  sb_jw_kv_raw(w, SB_STRLIT("model"), c->j_model.ptr, c->j_model.len);
  sb_jw_kv_raw(w, SB_STRLIT("provider"), c->j_provider.ptr, c->j_provider.len);
}

static void finish_fields(sb_jw_t *w, const char *finish, sb_slice_t native)
{
  if (finish != NULL) {
    sb_jw_kv_str(w, SB_STRLIT("finish_reason"), finish, strlen(finish));
    sb_jw_kv_str(w, SB_STRLIT("native_finish_reason"), native.ptr, native.len);
  } else {
    sb_jw_kv_raw(w, SB_STRLIT("finish_reason"), SB_STRLIT("null"));
    sb_jw_kv_raw(w, SB_STRLIT("native_finish_reason"), SB_STRLIT("null"));
  }
}

void sb_cu_chunk_begin(sb_call_t *c, sb_jw_t *w)
{
  envelope(c, w, "chat.completion.chunk");
  sb_jw_key_lit(w, "choices");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("index"), 0);
  sb_jw_key_lit(w, "delta");
}

sb_status_t sb_cu_chunk_end(sb_call_t *c, sb_jw_t *w, const char *finish,
                            sb_slice_t native)
{
  finish_fields(w, finish, native);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK) {
    sb_call_stream_error(c, 502, SB_SLICE_LIT("a stream event is too large"));
    return SB_ERROR;
  }
  if (finish != NULL) {
    sb_call_set_finish(c, sb_slice_z(finish), native);
    c->saw_finish = true;
  }
  if (sb_call_emit_chunk(c, sb_buf_slice(&c->out)) == SB_ERROR)
    return SB_ERROR;
  return SB_OK;
}

void sb_cu_completion_begin(sb_call_t *c, sb_jw_t *w)
{
  envelope(c, w, "chat.completion");
  sb_jw_kv_raw(w, SB_STRLIT("system_fingerprint"), SB_STRLIT("null"));
  sb_jw_key_lit(w, "choices");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("index"), 0);
  sb_jw_key_lit(w, "message");
}

void sb_cu_completion_end(sb_call_t *c, sb_jw_t *w, const char *finish,
                          sb_slice_t native)
{
  sb_jw_kv_raw(w, SB_STRLIT("logprobs"), SB_STRLIT("null"));
  finish_fields(w, finish, native);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  if (finish != NULL) {
    sb_call_set_finish(c, sb_slice_z(finish), native);
    c->saw_finish = true;
  }
  if (!c->usage_known) {
    c->usage.prompt = (c->req_raw.len + 3) / 4;
    c->usage.completion = (c->content_bytes + 3) / 4;
  }
  c->cost_pico = sb_cost_pico(&c->route.price, &c->usage);
  sb_jw_key_lit(w, "usage");
  sb_call_write_usage(c, w);
  sb_jw_obj_end(w);
  if (sb_jw_status(w) != SB_OK) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider's response is too large");
    return;
  }
  sb_call_respond(c, sb_buf_slice(&c->out));
}

sb_status_t sb_cu_image(sb_call_t *c, const sb_json_t *part, sb_cu_image_t *img)
{
  memset(img, 0, sizeof(*img));
  const sb_json_t *iu = sb_json_get(part, "image_url");
  const sb_json_t *url = sb_json_is(iu, SB_JSON_STRING) ? iu : sb_json_get(iu, "url");
  sb_slice_t u;
  if (!sb_json_is(url, SB_JSON_STRING) || sb_json_string(&c->scratch, url, &u) != SB_OK)
    return sb_cu_refuse(c, "an image_url part has no url");
  img->url = u;
  if (sb_slice_starts(u, SB_STRLIT("data:"))) {
    const char *comma = memchr(u.ptr, ',', u.len);
    size_t head = comma != NULL ? (size_t)(comma - u.ptr) : 0;
    if (comma == NULL || head < 12 || memcmp(comma - 7, ";base64", 7) != 0)
      return sb_cu_refuse(c, "image data URLs must be base64 "
                             "(data:<media type>;base64,<data>)");
    img->is_data = true;
    img->media_type = sb_slice(u.ptr + 5, head - 5 - 7);
    img->data = sb_slice(comma + 1, u.len - head - 1);
    return SB_OK;
  }
  if (!sb_slice_starts(u, SB_STRLIT("https://")) && !sb_slice_starts(u, SB_STRLIT("http://")))
    return sb_cu_refuse(c, "image URLs must be data: or http(s): URLs");
  return SB_OK;
}

sb_status_t sb_cu_tool_choice(sb_call_t *c, const sb_json_t *choice, sb_cu_choice_t *kind,
                              const sb_json_t **name)
{
  *name = NULL;
  if (choice == NULL || SB_JSON_STR_IS(choice, "auto")) {
    *kind = SB_CU_CHOICE_AUTO;
  } else if (SB_JSON_STR_IS(choice, "none")) {
    *kind = SB_CU_CHOICE_NONE;
  } else if (SB_JSON_STR_IS(choice, "required")) {
    *kind = SB_CU_CHOICE_REQUIRED;
  } else {
    *kind = SB_CU_CHOICE_FUNCTION;
    *name = sb_json_get(sb_json_get(choice, "function"), "name");
    if (!sb_json_is(*name, SB_JSON_STRING))
      return sb_cu_refuse(c, "tool_choice must be auto, none, required or "
                             "{\"type\":\"function\",\"function\":{\"name\":...}}");
  }
  return SB_OK;
}

sb_status_t sb_cu_tool_args(sb_call_t *c, const sb_json_t *args, sb_slice_t *out)
{
  *out = SB_SLICE_LIT("{}");
  if (sb_json_is(args, SB_JSON_OBJECT)) {
    *out = args->raw;
    return SB_OK;
  }
  if (!sb_json_is(args, SB_JSON_STRING))
    return SB_OK;
  sb_slice_t a;
  sb_json_t *parsed;
  if (sb_json_string(&c->scratch, args, &a) != SB_OK)
    return SB_ERROR;
  a = sb_slice_trim(a);
  if (a.len == 0)
    return SB_OK;
  if (sb_json_parse(&c->scratch, a.ptr, a.len, 0, &parsed, NULL) != SB_OK ||
      parsed->type != SB_JSON_OBJECT)
    return SB_DECLINED;
  *out = a;
  return SB_OK;
}

bool sb_cu_response_root(sb_call_t *c, sb_slice_t body, sb_json_t **root)
{
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, root, NULL) != SB_OK ||
      (*root)->type != SB_JSON_OBJECT) {
    sb_call_fail(c, 502, "provider_unavailable",
                 "the provider returned a response that is not a JSON object");
    return false;
  }
  if (sb_json_truthy(sb_json_get(*root, "error"))) {
    sb_cu_fail_error_body(c, body);
    return false;
  }
  return true;
}

void sb_cu_fail_error_body(sb_call_t *c, sb_slice_t body)
{
  sb_slice_t msg = SB_NULL_SLICE, code = SB_NULL_SLICE;
  c->route.provider->codec->error_info(c, body, &msg, &code);
  char text[512];
  snprintf(text, sizeof(text), "provider %s reported an error: %.*s", c->route.provider->name,
           (int)SB_MIN(msg.len, 400), msg.ptr != NULL ? msg.ptr : "");
  sb_call_fail(c, 502, "provider_unavailable", text);
}

bool sb_cu_error_root(sb_call_t *c, sb_slice_t body, sb_slice_t *message, sb_slice_t *code,
                      sb_json_t **root)
{
  *message = SB_NULL_SLICE;
  *code = SB_NULL_SLICE;
  if (sb_json_parse(&c->scratch, body.ptr, body.len, 0, root, NULL) != SB_OK) {
    *message = sb_slice(body.ptr, SB_MIN(body.len, 200));
    return false;
  }
  return true;
}

void sb_cu_message_begin(sb_jw_t *w, const sb_buf_t *text, size_t n_text,
                         const sb_buf_t *reasoning, size_t n_reasoning)
{
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  sb_jw_key_lit(w, "content");
  if (n_text > 0)
    sb_jw_str_raw(w, text->data != NULL ? text->data : "", text->len);
  else
    sb_jw_null(w);
  sb_jw_kv_raw(w, SB_STRLIT("refusal"), SB_STRLIT("null"));
  if (n_reasoning > 0) {
    sb_jw_key_lit(w, "reasoning");
    sb_jw_str_raw(w, reasoning->data != NULL ? reasoning->data : "", reasoning->len);
  }
}

void sb_cu_stop_sequences(sb_jw_t *w, const sb_json_t *req, const char *key, size_t kn)
{
  const sb_json_t *stop = sb_json_get(req, "stop");
  if (sb_json_is(stop, SB_JSON_STRING)) {
    sb_jw_key(w, key, kn);
    sb_jw_arr_begin(w);
    sb_jw_value(w, stop);
    sb_jw_arr_end(w);
  } else if (sb_json_is(stop, SB_JSON_ARRAY) && stop->count > 0) {
    sb_jw_kv_raw(w, key, kn, stop->raw.ptr, stop->raw.len);
  }
}

void sb_cu_tool_chunk_begin(sb_call_t *c, sb_jw_t *w, int64_t index)
{
  sb_cu_chunk_begin(c, w);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "tool_calls");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_kv_int(w, SB_STRLIT("index"), index);
}

sb_status_t sb_cu_tool_chunk_end(sb_call_t *c, sb_jw_t *w)
{
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  return sb_cu_chunk_end(c, w, NULL, SB_NULL_SLICE);
}
