/*
 * The Gemini codec, request half: an OpenAI chat request becomes a
 * generateContent body (models/{model}:generateContent, or
 * :streamGenerateContent?alt=sse for streams).
 *
 * - system and developer messages -> systemInstruction;
 * - user / assistant / tool -> contents with roles user / model / user,
 *   consecutive same-role contents merged (parallel tool results share one);
 * - tool_calls -> functionCall parts (arguments parsed into `args`), with
 *   the thoughtSignature restored from reasoning_details of format
 *   google-gemini-v1 (matched by tool call id, else by position);
 * - tool messages -> functionResponse parts; the function's name comes from
 *   the assistant tool call with that id;
 * - tools -> one functionDeclarations tool, each schema reduced to the
 *   subset Gemini accepts;
 * - sampling, stop, max tokens, response_format json_schema and reasoning
 *   -> generationConfig (candidateCount is always 1).
 * Answers are decoded in gemini_stream.c.
 */
#include "gemini.h"

#define MAX_SCHEMA_DEPTH 32

typedef struct {
  sb_call_t *c;
  sb_jw_t *w;
  const sb_json_t *messages;
  int role; /* 0 none, 1 user, 2 model */
} req_t;

static void open_role(req_t *q, int role)
{
  if (q->role == role)
    return;
  if (q->role != 0) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_obj_begin(q->w);
  if (role == 1)
    sb_jw_kv_str(q->w, SB_STRLIT("role"), SB_STRLIT("user"));
  else
    sb_jw_kv_str(q->w, SB_STRLIT("role"), SB_STRLIT("model"));
  sb_jw_key_lit(q->w, "parts");
  sb_jw_arr_begin(q->w);
  q->role = role;
}

static void text_part(req_t *q, int role, const sb_json_t *text)
{
  if (!sb_json_is(text, SB_JSON_STRING) || text->raw.len <= 2)
    return;
  if (role != 0)
    open_role(q, role);
  sb_jw_obj_begin(q->w);
  sb_jw_kv_raw(q->w, SB_STRLIT("text"), text->raw.ptr, text->raw.len);
  sb_jw_obj_end(q->w);
}

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

static sb_status_t image_part(req_t *q, const sb_json_t *part)
{
  sb_cu_image_t img;
  if (sb_cu_image(q->c, part, &img) != SB_OK)
    return SB_ERROR;
  sb_jw_t *w = q->w;
  if (img.is_data) {
    open_role(q, 1);
    sb_jw_obj_begin(w);
    sb_jw_key_lit(w, "inlineData");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("mimeType"), img.media_type.ptr, img.media_type.len);
    sb_jw_kv_str(w, SB_STRLIT("data"), img.data.ptr, img.data.len);
    sb_jw_obj_end(w);
    sb_jw_obj_end(w);
    return SB_OK;
  }
  sb_slice_t u = img.url;
  const char *mime = guess_mime(u);
  open_role(q, 1);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "fileData");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("mimeType"), mime, strlen(mime));
  sb_jw_kv_str(w, SB_STRLIT("fileUri"), u.ptr, u.len);
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t user_content(req_t *q, const sb_json_t *content)
{
  if (sb_json_is(content, SB_JSON_STRING)) {
    text_part(q, 1, content);
    return SB_OK;
  }
  if (content == NULL || content->type == SB_JSON_NULL)
    return SB_OK;
  if (!sb_json_is(content, SB_JSON_ARRAY))
    return sb_cu_refuse(q->c, "message content must be a string or an array");
  for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
    const sb_json_t *type = sb_json_get(p, "type");
    if (sb_json_is(p, SB_JSON_STRING)) {
      text_part(q, 1, p);
    } else if (SB_JSON_STR_IS(type, "text")) {
      text_part(q, 1, sb_json_get(p, "text"));
    } else if (SB_JSON_STR_IS(type, "image_url")) {
      if (image_part(q, p) != SB_OK)
        return SB_ERROR;
    } else {
      return sb_cu_refuse(
          q->c,
          "content parts of type %.*s are not supported by the Gemini "
          "provider (text and image_url are)",
          sb_json_is(type, SB_JSON_STRING) ? (int)SB_MIN(type->raw.len, 40) : 4,
          sb_json_is(type, SB_JSON_STRING) ? type->raw.ptr : "none");
    }
  }
  return SB_OK;
}

/* The thoughtSignature for the k-th tool call of an assistant message: the
 * google-gemini-v1 detail naming its id, else the k-th detail without an
 * id. NULL when there is none. */
static const sb_json_t *signature_for(const sb_json_t *details,
                                      const sb_json_t *id, size_t k)
{
  if (!sb_json_is(details, SB_JSON_ARRAY))
    return NULL;
  const sb_json_t *by_pos = NULL;
  size_t pos = 0;
  for (const sb_json_t *d = details->child; d != NULL; d = d->next) {
    if (!SB_JSON_STR_IS(sb_json_get(d, "format"), SB_GEMINI_FORMAT) ||
        !SB_JSON_STR_IS(sb_json_get(d, "type"), "reasoning.encrypted"))
      continue;
    const sb_json_t *data = sb_json_get(d, "data");
    const sb_json_t *did = sb_json_get(d, "id");
    if (!sb_json_is(data, SB_JSON_STRING))
      continue;
    if (sb_json_is(did, SB_JSON_STRING)) {
      if (id != NULL && sb_slice_eq(did->raw, id->raw))
        return data;
    } else {
      if (pos++ == k && by_pos == NULL)
        by_pos = data;
    }
  }
  return by_pos;
}

static sb_status_t assistant(req_t *q, const sb_json_t *m)
{
  const sb_json_t *content = sb_json_get(m, "content");
  const sb_json_t *details = sb_json_get(m, "reasoning_details");
  const sb_json_t *calls = sb_json_get(m, "tool_calls");
  bool has_calls = sb_json_is(calls, SB_JSON_ARRAY) && calls->count > 0;
  /* without calls, a signature belongs to the text */
  const sb_json_t *text_sig =
      has_calls ? NULL : signature_for(details, NULL, 0);
  if (sb_json_is(content, SB_JSON_STRING) && content->raw.len > 2) {
    open_role(q, 2);
    sb_jw_obj_begin(q->w);
    sb_jw_kv_raw(q->w, SB_STRLIT("text"), content->raw.ptr, content->raw.len);
    if (text_sig != NULL)
      sb_jw_kv_raw(q->w, SB_STRLIT("thoughtSignature"), text_sig->raw.ptr,
                   text_sig->raw.len);
    sb_jw_obj_end(q->w);
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      if (SB_JSON_STR_IS(sb_json_get(p, "type"), "text"))
        text_part(q, 2, sb_json_get(p, "text"));
      else if (sb_json_is(p, SB_JSON_STRING))
        text_part(q, 2, p);
    }
  }
  if (!has_calls)
    return SB_OK;
  size_t k = 0;
  for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next, k++) {
    const sb_json_t *id = sb_json_get(tc, "id");
    const sb_json_t *fn = sb_json_get(tc, "function");
    const sb_json_t *name = sb_json_get(fn, "name");
    const sb_json_t *args = sb_json_get(fn, "arguments");
    if (!sb_json_is(name, SB_JSON_STRING))
      return sb_cu_refuse(q->c, "an assistant tool call needs a function name");
    sb_slice_t input;
    sb_status_t st = sb_cu_tool_args(q->c, args, &input);
    if (st == SB_DECLINED)
      return sb_cu_refuse(q->c, "the arguments of a tool call are not a JSON "
                                "object; the Gemini provider needs one");
    if (st != SB_OK)
      return st;
    const sb_json_t *sig =
        signature_for(details, sb_json_is(id, SB_JSON_STRING) ? id : NULL, k);
    open_role(q, 2);
    sb_jw_obj_begin(q->w);
    sb_jw_key_lit(q->w, "functionCall");
    sb_jw_obj_begin(q->w);
    sb_jw_kv_raw(q->w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
    sb_jw_kv_raw(q->w, SB_STRLIT("args"), input.ptr, input.len);
    sb_jw_obj_end(q->w);
    if (sig != NULL)
      sb_jw_kv_raw(q->w, SB_STRLIT("thoughtSignature"), sig->raw.ptr,
                   sig->raw.len);
    sb_jw_obj_end(q->w);
  }
  return SB_OK;
}

/* The function name of tool call `id`: from the nearest assistant message
 * before `upto` that made it. */
static const sb_json_t *call_name(const sb_json_t *messages,
                                  const sb_json_t *upto, const sb_json_t *id)
{
  const sb_json_t *found = NULL;
  for (const sb_json_t *m = messages->child; m != NULL && m != upto;
       m = m->next) {
    const sb_json_t *calls = sb_json_get(m, "tool_calls");
    if (!SB_JSON_STR_IS(sb_json_get(m, "role"), "assistant") ||
        !sb_json_is(calls, SB_JSON_ARRAY))
      continue;
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
      const sb_json_t *tid = sb_json_get(tc, "id");
      const sb_json_t *name = sb_json_get(sb_json_get(tc, "function"), "name");
      if (sb_json_is(tid, SB_JSON_STRING) && sb_slice_eq(tid->raw, id->raw) &&
          sb_json_is(name, SB_JSON_STRING))
        found = name;
    }
  }
  return found;
}

static sb_status_t tool_response(req_t *q, const sb_json_t *m)
{
  const sb_json_t *id = sb_json_get(m, "tool_call_id");
  const sb_json_t *content = sb_json_get(m, "content");
  const sb_json_t *name =
      sb_json_is(id, SB_JSON_STRING) ? call_name(q->messages, m, id) : NULL;
  if (name == NULL)
    name = sb_json_get(m, "name");
  if (!sb_json_is(name, SB_JSON_STRING))
    return sb_cu_refuse(q->c,
                        "a tool message's tool_call_id matches no earlier "
                        "assistant tool call (Gemini needs the function name)");
  /* The response object: the content when it is a JSON object, else
   * {"content": the text}. */
  sb_slice_t text = SB_NULL_SLICE;
  sb_buf_t joined;
  sb_buf_init(&joined, 0);
  if (sb_json_is(content, SB_JSON_STRING)) {
    if (sb_json_string(&q->c->scratch, content, &text) != SB_OK)
      return SB_ERROR;
  } else if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
      const sb_json_t *t = sb_json_get(p, "text");
      sb_slice_t s;
      if (sb_json_is(t, SB_JSON_STRING) &&
          sb_json_string(&q->c->scratch, t, &s) == SB_OK)
        sb_buf_append(&joined, s.ptr, s.len);
    }
    text = sb_arena_slice_dup(&q->c->scratch, sb_buf_slice(&joined));
  }
  sb_buf_free(&joined);
  sb_json_t *obj = NULL;
  sb_slice_t trimmed = sb_slice_trim(text);
  if (trimmed.len > 0 && trimmed.ptr[0] == '{' &&
      sb_json_parse(&q->c->scratch, trimmed.ptr, trimmed.len, 0, &obj, NULL) !=
          SB_OK)
    obj = NULL;
  open_role(q, 1);
  sb_jw_t *w = q->w;
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionResponse");
  sb_jw_obj_begin(w);
  sb_jw_kv_raw(w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
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

static bool is_system(const sb_json_t *m)
{
  const sb_json_t *role = sb_json_get(m, "role");
  return SB_JSON_STR_IS(role, "system") || SB_JSON_STR_IS(role, "developer");
}

static sb_status_t write_contents(req_t *q)
{
  sb_jw_key_lit(q->w, "contents");
  sb_jw_arr_begin(q->w);
  for (const sb_json_t *m = q->messages->child; m != NULL; m = m->next) {
    const sb_json_t *role = sb_json_get(m, "role");
    sb_status_t rc = SB_OK;
    if (is_system(m))
      continue;
    if (SB_JSON_STR_IS(role, "user"))
      rc = user_content(q, sb_json_get(m, "content"));
    else if (SB_JSON_STR_IS(role, "assistant"))
      rc = assistant(q, m);
    else if (SB_JSON_STR_IS(role, "tool"))
      rc = tool_response(q, m);
    else
      rc = sb_cu_refuse(q->c, "unknown message role (system, developer, user, "
                              "assistant and tool are understood)");
    if (rc != SB_OK)
      return rc;
  }
  if (q->role != 0) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_arr_end(q->w);
  return SB_OK;
}

static sb_status_t write_system(req_t *q)
{
  bool any = false;
  for (const sb_json_t *m = q->messages->child; m != NULL; m = m->next)
    any = any || is_system(m);
  if (!any)
    return SB_OK;
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "systemInstruction");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "parts");
  sb_jw_arr_begin(w);
  for (const sb_json_t *m = q->messages->child; m != NULL; m = m->next) {
    if (!is_system(m))
      continue;
    const sb_json_t *content = sb_json_get(m, "content");
    if (sb_json_is(content, SB_JSON_STRING)) {
      text_part(q, 0, content);
    } else if (sb_json_is(content, SB_JSON_ARRAY)) {
      for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
        if (SB_JSON_STR_IS(sb_json_get(p, "type"), "text"))
          text_part(q, 0, sb_json_get(p, "text"));
        else if (sb_json_is(p, SB_JSON_STRING))
          text_part(q, 0, p);
        else
          return sb_cu_refuse(q->c, "system messages may only hold text");
      }
    }
  }
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

/* A JSON schema reduced to the subset Gemini accepts. */
static sb_status_t schema(req_t *q, const sb_json_t *s, int depth)
{
  sb_jw_t *w = q->w;
  if (depth > MAX_SCHEMA_DEPTH)
    return sb_cu_refuse(q->c, "a tool schema is nested too deeply");
  if (!sb_json_is(s, SB_JSON_OBJECT)) {
    sb_jw_raw(w, SB_STRLIT("{}"));
    return SB_OK;
  }
  if (sb_json_get(s, "$ref") != NULL)
    return sb_cu_refuse(q->c,
                        "schemas with $ref are not supported by the Gemini "
                        "provider; inline the definitions");
  sb_jw_obj_begin(w);
  const sb_json_t *type = sb_json_get(s, "type");
  bool nullable = sb_json_is(sb_json_get(s, "nullable"), SB_JSON_TRUE);
  if (sb_json_is(type, SB_JSON_STRING)) {
    sb_jw_kv_raw(w, SB_STRLIT("type"), type->raw.ptr, type->raw.len);
  } else if (sb_json_is(type, SB_JSON_ARRAY)) {
    /* ["string","null"] -> "string" + nullable */
    const sb_json_t *first = NULL;
    for (const sb_json_t *t = type->child; t != NULL; t = t->next) {
      if (SB_JSON_STR_IS(t, "null"))
        nullable = true;
      else if (first == NULL && sb_json_is(t, SB_JSON_STRING))
        first = t;
    }
    if (first != NULL)
      sb_jw_kv_raw(w, SB_STRLIT("type"), first->raw.ptr, first->raw.len);
  }
  const sb_json_t *format = sb_json_get(s, "format");
  static const char *const formats[] = {"date-time", "enum",  "int32",
                                        "int64",     "float", "double"};
  for (size_t i = 0;
       sb_json_is(format, SB_JSON_STRING) && i < SB_ARRAY_LEN(formats); i++)
    if (sb_json_str_eq(format, formats[i], strlen(formats[i])))
      sb_jw_kv_raw(w, SB_STRLIT("format"), format->raw.ptr, format->raw.len);
  static const char *const plain[] = {"title",     "description", "enum",
                                      "required",  "minItems",    "maxItems",
                                      "minimum",   "maximum",     "minLength",
                                      "maxLength", "pattern"};
  for (size_t i = 0; i < SB_ARRAY_LEN(plain); i++) {
    const sb_json_t *v = sb_json_getn(s, plain[i], strlen(plain[i]));
    if (v != NULL && v->type != SB_JSON_NULL)
      sb_jw_kv_raw(w, plain[i], strlen(plain[i]), v->raw.ptr, v->raw.len);
  }
  if (nullable)
    sb_jw_kv_raw(w, SB_STRLIT("nullable"), SB_STRLIT("true"));
  const sb_json_t *props = sb_json_get(s, "properties");
  if (sb_json_is(props, SB_JSON_OBJECT)) {
    sb_jw_key_lit(w, "properties");
    sb_jw_obj_begin(w);
    for (const sb_json_t *p = props->child; p != NULL; p = p->next) {
      sb_jw_key_raw(w, p->key.ptr, p->key.len);
      if (schema(q, p, depth + 1) != SB_OK)
        return SB_ERROR;
    }
    sb_jw_obj_end(w);
  }
  const sb_json_t *items = sb_json_get(s, "items");
  if (sb_json_is(items, SB_JSON_OBJECT)) {
    sb_jw_key_lit(w, "items");
    if (schema(q, items, depth + 1) != SB_OK)
      return SB_ERROR;
  }
  const sb_json_t *any = sb_json_get(s, "anyOf");
  if (sb_json_is(any, SB_JSON_ARRAY)) {
    sb_jw_key_lit(w, "anyOf");
    sb_jw_arr_begin(w);
    for (const sb_json_t *a = any->child; a != NULL; a = a->next)
      if (schema(q, a, depth + 1) != SB_OK)
        return SB_ERROR;
    sb_jw_arr_end(w);
  }
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t write_tools(req_t *q, const sb_json_t *tools,
                               const sb_json_t *choice)
{
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionDeclarations");
  sb_jw_arr_begin(w);
  for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
    const sb_json_t *params;
    if (sb_cu_function_tool_begin(q->c, w, t, "Gemini", &params) != SB_OK)
      return SB_ERROR;
    /* a function without parameters has none: Gemini refuses an empty
     * object schema */
    const sb_json_t *props = sb_json_get(params, "properties");
    if (sb_json_is(params, SB_JSON_OBJECT) &&
        !(sb_json_is(props, SB_JSON_OBJECT) && props->count == 0) &&
        !(props == NULL &&
          SB_JSON_STR_IS(sb_json_get(params, "type"), "object"))) {
      sb_jw_key_lit(w, "parameters");
      if (schema(q, params, 0) != SB_OK)
        return SB_ERROR;
    }
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  sb_jw_arr_end(w);
  static const char *const modes[] = {"AUTO", "NONE", "ANY", "ANY"}; /* by sb_cu_choice_t */
  if (choice == NULL)
    return SB_OK;
  sb_cu_choice_t kind;
  const sb_json_t *name;
  if (sb_cu_tool_choice(q->c, choice, &kind, &name) != SB_OK)
    return SB_ERROR;
  sb_jw_key_lit(w, "toolConfig");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionCallingConfig");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("mode"), modes[kind], strlen(modes[kind]));
  if (kind == SB_CU_CHOICE_FUNCTION) {
    sb_jw_key_lit(w, "allowedFunctionNames");
    sb_jw_arr_begin(w);
    sb_jw_value(w, name);
    sb_jw_arr_end(w);
  }
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

static void copy_number(sb_jw_t *w, const sb_json_t *req, const char *from,
                        const char *to)
{
  const sb_json_t *v = sb_json_getn(req, from, strlen(from));
  if (sb_json_is(v, SB_JSON_NUMBER))
    sb_jw_kv_raw(w, to, strlen(to), v->raw.ptr, v->raw.len);
}

static sb_status_t write_generation_config(req_t *q)
{
  const sb_json_t *req = q->c->req;
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "generationConfig");
  sb_jw_obj_begin(w);
  copy_number(w, req, "temperature", "temperature");
  copy_number(w, req, "top_p", "topP");
  copy_number(w, req, "top_k", "topK");
  int64_t max =
      SB_CU_INT(req, "max_completion_tokens", SB_CU_INT(req, "max_tokens", 0));
  if (max > 0)
    sb_jw_kv_int(w, SB_STRLIT("maxOutputTokens"), max);
  sb_cu_stop_sequences(w, req, SB_STRLIT("stopSequences"));
  sb_jw_kv_int(w, SB_STRLIT("candidateCount"), 1);
  copy_number(w, req, "presence_penalty", "presencePenalty");
  copy_number(w, req, "frequency_penalty", "frequencyPenalty");
  copy_number(w, req, "seed", "seed");
  const sb_json_t *rf = sb_json_get(req, "response_format");
  const sb_json_t *rft = sb_json_get(rf, "type");
  if (SB_JSON_STR_IS(rft, "json_object")) {
    sb_jw_kv_str(w, SB_STRLIT("responseMimeType"),
                 SB_STRLIT("application/json"));
  } else if (SB_JSON_STR_IS(rft, "json_schema")) {
    const sb_json_t *s = sb_json_get(sb_json_get(rf, "json_schema"), "schema");
    sb_jw_kv_str(w, SB_STRLIT("responseMimeType"),
                 SB_STRLIT("application/json"));
    if (sb_json_is(s, SB_JSON_OBJECT)) {
      sb_jw_key_lit(w, "responseSchema");
      if (schema(q, s, 0) != SB_OK)
        return SB_ERROR;
    }
  } else if (rf != NULL && rf->type != SB_JSON_NULL &&
             !SB_JSON_STR_IS(rft, "text")) {
    return sb_cu_refuse(
        q->c, "response_format must be text, json_object or json_schema");
  }
  /* reasoning: {max_tokens} or {effort}; thoughts are returned unless
   * the client asks to exclude them */
  const sb_json_t *r = sb_json_get(req, "reasoning");
  const sb_json_t *effort = sb_json_is(r, SB_JSON_OBJECT)
                                ? sb_json_get(r, "effort")
                                : sb_json_get(req, "reasoning_effort");
  int64_t budget = SB_CU_INT(r, "max_tokens", -1);
  if (budget > SB_CU_MAX_TOKENS)
    return sb_cu_refuse(q->c, "the reasoning budget is out of range");
  if (budget < 0 && sb_json_is(effort, SB_JSON_STRING)) {
    if (SB_JSON_STR_IS(effort, "none"))
      budget = 0;
    else if (SB_JSON_STR_IS(effort, "minimal") || SB_JSON_STR_IS(effort, "low"))
      budget = 1024;
    else if (SB_JSON_STR_IS(effort, "medium"))
      budget = 8192;
    else
      budget = 24576;
  }
  if (sb_json_is(sb_json_get(r, "enabled"), SB_JSON_FALSE))
    budget = 0;
  bool enabled = sb_json_is(sb_json_get(r, "enabled"), SB_JSON_TRUE);
  if (budget >= 0 || enabled) {
    sb_jw_key_lit(w, "thinkingConfig");
    sb_jw_obj_begin(w);
    if (budget >= 0)
      sb_jw_kv_int(w, SB_STRLIT("thinkingBudget"), budget);
    bool include =
        budget != 0 && !sb_json_is(sb_json_get(r, "exclude"), SB_JSON_TRUE);
    sb_jw_kv_raw(w, SB_STRLIT("includeThoughts"), include ? "true" : "false",
                 include ? 4 : 5);
    sb_jw_obj_end(w);
  }
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t write_body(sb_call_t *c, sb_jw_t *w)
{
  const sb_json_t *messages = sb_json_get(c->req, "messages");
  if (!sb_json_is(messages, SB_JSON_ARRAY))
    return sb_cu_refuse(c, "'messages' must be an array");
  if (SB_CU_INT(c->req, "n", 1) != 1)
    return sb_cu_refuse(c, "n > 1 is not supported by the Gemini provider");
  req_t q = {c, w, messages, 0};
  sb_jw_obj_begin(w);
  if (write_contents(&q) != SB_OK || write_system(&q) != SB_OK)
    return SB_ERROR;
  const sb_json_t *tools = sb_json_get(c->req, "tools");
  if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count > 0 &&
      write_tools(&q, tools, sb_json_get(c->req, "tool_choice")) != SB_OK)
    return SB_ERROR;
  if (write_generation_config(&q) != SB_OK)
    return SB_ERROR;
  sb_jw_obj_end(w);
  return SB_OK;
}

/* base_url is the host ("https://generativelanguage.googleapis.com"); one
 * that already names an API version (/v1beta, /v1) is used as it is. */
static const char *request_url(sb_call_t *c)
{
  const char *base = c->route.provider->base_url;
  size_t n = strlen(base);
  const char *slash = strrchr(base, '/');
  bool versioned = slash != NULL && strncmp(slash, "/v1", 3) == 0 &&
                   (size_t)(slash - base) + 3 <= n;
  sb_slice_t model = c->route.upstream_model;
  if (sb_slice_starts(model, SB_STRLIT("models/")))
    model = sb_slice(model.ptr + 7, model.len - 7);
  for (size_t i = 0; i < model.len; i++) {
    char ch = model.ptr[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
      return NULL;
  }
  if (model.len == 0)
    return NULL;
  return sb_arena_printf(c->arena, "%s%s/models/%.*s:%s", base,
                         versioned ? "" : "/v1beta", (int)model.len, model.ptr,
                         c->stream ? "streamGenerateContent?alt=sse"
                                   : "generateContent");
}

sb_status_t sb_gemini_chat_request(sb_call_t *c, sb_upstream_request_t *r)
{
  sb_jw_t w;
  r->url = request_url(c);
  if (r->url == NULL)
    return sb_cu_refuse(c, "the model name is not a valid Gemini model name");
  sb_buf_reset(&c->up_body);
  sb_jw_init(&w, &c->up_body);
  if (write_body(c, &w) != SB_OK)
    return SB_ERROR;
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept",
               c->stream ? "text/event-stream" : "application/json");
  sb_call_up_auth(c);
  r->headers = c->up_headers;
  r->n_headers = c->n_up_headers;
  return SB_OK;
}

const sb_codec_t sb_codec_gemini = {
    .name = "gemini",
    .caps = SB_CODEC_CAP_STREAM | SB_CODEC_CAP_TOOLS,
    .chat_request = sb_gemini_chat_request,
    .chat_response = sb_gemini_chat_response,
    .chat_event = sb_gemini_chat_event,
    .error_info = sb_gemini_error_info,
};
