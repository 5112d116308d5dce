/* SPDX-License-Identifier: MIT */
/*
 * The generateContent request (models/{model}:generateContent, or
 * :streamGenerateContent?alt=sse for streams) for a hub request:
 * contents and systemInstruction (contents.c), then
 * - tools -> one functionDeclarations tool, each schema reduced to the
 *   subset Gemini accepts (schema.c); Gemini's own tools (NATIVE of
 *   format "gemini") are passed as they are, other formats' left out;
 * - tool choice -> toolConfig.functionCallingConfig (AUTO, NONE, ANY, ANY
 *   with allowedFunctionNames);
 * - sampling, stop, the output cap, JSON output and reasoning ->
 *   generationConfig (candidateCount is always 1: Gemini's n > 1 has no
 *   streaming form).
 * Reasoning: a budget, or an effort as one (minimal and low 1024, medium
 * 8192, high 24576, none 0); reasoning asked for without either leaves the
 * budget to Gemini. Thoughts come back unless the client excludes them.
 * A model the catalog says does not reason gets no thinkingConfig.
 *
 * The pass-through path (a Gemini client): the client's body goes byte
 * for byte; only the model in the URL is the route's (and a stream is
 * always asked for as SSE: the door writes Google's JSON array itself).
 * Nothing of the client's query (its key) goes upstream.
 */
#include "gemini.h"

/* ---- tools ------------------------------------------------------------------- */

static bool is_gemini_tool(const sb_hub_tool_t *t)
{
  return t->kind == SB_HUB_TOOL_NATIVE && t->format != NULL &&
         strcmp(t->format, "gemini") == 0 && t->native.len > 0;
}

/* A function's parameters, unless it has none: Gemini refuses an empty
 * object schema. */
static sb_status_t parameters(sb_jw_t *w, const sb_hub_tool_t *t,
                              sb_arena_t *a, sb_codec_request_t *out)
{
  sb_json_t *params;
  if (t->parameters.len == 0 ||
      sb_json_parse(a, t->parameters.ptr, t->parameters.len, 0, &params,
                    NULL) != SB_OK ||
      params->type != SB_JSON_OBJECT)
    return SB_OK;
  const sb_json_t *props = sb_json_get(params, "properties");
  if ((sb_json_is(props, SB_JSON_OBJECT) && props->count == 0) ||
      (props == NULL && SB_JSON_STR_IS(sb_json_get(params, "type"), "object")))
    return SB_OK;
  sb_jw_key_lit(w, "parameters");
  return sb_gemini_schema(w, params, a, out);
}

static sb_status_t declarations(sb_jw_t *w, const sb_hub_req_t *req,
                                sb_arena_t *a, sb_codec_request_t *out)
{
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionDeclarations");
  sb_jw_arr_begin(w);
  for (size_t i = 0; i < req->n_tools; i++) {
    const sb_hub_tool_t *t = &req->tools[i];
    if (t->kind != SB_HUB_TOOL_FUNCTION)
      continue;
    sb_jw_obj_begin(w);
    sb_jw_key_lit(w, "name");
    sb_jw_str_raw(w, t->name.ptr, t->name.len);
    if (t->description.ptr != NULL) {
      sb_jw_key_lit(w, "description");
      sb_jw_str_raw(w, t->description.ptr, t->description.len);
    }
    if (parameters(w, t, a, out) != SB_OK)
      return SB_ERROR;
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  sb_jw_obj_end(w);
  return SB_OK;
}

static void tool_config(sb_jw_t *w, const sb_hub_req_t *req)
{
  static const char *const modes[] = {
      [SB_HUB_CHOICE_AUTO] = "AUTO",
      [SB_HUB_CHOICE_NONE] = "NONE",
      [SB_HUB_CHOICE_REQUIRED] = "ANY",
      [SB_HUB_CHOICE_TOOL] = "ANY",
  };
  if (req->choice == SB_HUB_CHOICE_UNSET ||
      (size_t)req->choice >= SB_ARRAY_LEN(modes))
    return;
  const char *mode = modes[req->choice];
  sb_jw_key_lit(w, "toolConfig");
  sb_jw_obj_begin(w);
  sb_jw_key_lit(w, "functionCallingConfig");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("mode"), mode, strlen(mode));
  if (req->choice == SB_HUB_CHOICE_TOOL) {
    sb_jw_key_lit(w, "allowedFunctionNames");
    sb_jw_arr_begin(w);
    sb_jw_str_raw(w, req->choice_name.ptr, req->choice_name.len);
    sb_jw_arr_end(w);
  }
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

static sb_status_t tools(sb_jw_t *w, const sb_hub_req_t *req, sb_arena_t *a,
                         sb_codec_request_t *out)
{
  size_t functions = 0, natives = 0;
  for (size_t i = 0; i < req->n_tools; i++) {
    functions += req->tools[i].kind == SB_HUB_TOOL_FUNCTION;
    natives += is_gemini_tool(&req->tools[i]);
  }
  if (functions + natives == 0)
    return SB_OK;
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  if (functions > 0 && declarations(w, req, a, out) != SB_OK)
    return SB_ERROR;
  for (size_t i = 0; i < req->n_tools; i++)
    if (is_gemini_tool(&req->tools[i]))
      sb_jw_raw(w, req->tools[i].native.ptr, req->tools[i].native.len);
  sb_jw_arr_end(w);
  if (functions > 0)
    tool_config(w, req);
  return SB_OK;
}

/* ---- generationConfig ------------------------------------------------------------- */

static void number(sb_jw_t *w, const char *key, const sb_hub_num_t *n)
{
  if (n->set && n->raw.len > 0)
    sb_jw_kv_raw(w, key, strlen(key), n->raw.ptr, n->raw.len);
}

static sb_status_t thinking(sb_jw_t *w, const sb_hub_req_t *req,
                            const sb_codec_route_t *route, sb_arena_t *a,
                            sb_codec_request_t *out)
{
  const sb_hub_reasoning_t *r = &req->reasoning;
  int64_t budget = r->budget > 0 ? r->budget : -1;
  if (budget > SB_GEMINI_MAX_TOKENS)
    return sb_gemini_refuse(a, out, "the reasoning budget is out of range");
  if (route->reasons == 0)
    return SB_OK;
  if (budget < 0) {
    switch (r->effort) {
    case SB_HUB_EFFORT_UNSET: break;
    case SB_HUB_EFFORT_NONE: budget = 0; break;
    case SB_HUB_EFFORT_MINIMAL:
    case SB_HUB_EFFORT_LOW: budget = 1024; break;
    case SB_HUB_EFFORT_MEDIUM: budget = 8192; break;
    case SB_HUB_EFFORT_HIGH:
    case SB_HUB_EFFORT_XHIGH: budget = 24576; break;
    }
  }
  if (r->enabled == 0)
    budget = 0;
  if (budget < 0 && r->enabled != 1)
    return SB_OK;
  sb_jw_key_lit(w, "thinkingConfig");
  sb_jw_obj_begin(w);
  if (budget >= 0)
    sb_jw_kv_int(w, SB_STRLIT("thinkingBudget"), budget);
  sb_jw_key_lit(w, "includeThoughts");
  sb_jw_bool(w, budget != 0 && !r->exclude);
  sb_jw_obj_end(w);
  return SB_OK;
}

static sb_status_t generation_config(sb_jw_t *w, const sb_hub_req_t *req,
                                     const sb_codec_route_t *route,
                                     sb_arena_t *a, sb_codec_request_t *out)
{
  sb_jw_key_lit(w, "generationConfig");
  sb_jw_obj_begin(w);
  number(w, "temperature", &req->temperature);
  number(w, "topP", &req->top_p);
  number(w, "topK", &req->top_k);
  if (req->max_tokens > 0)
    sb_jw_kv_int(w, SB_STRLIT("maxOutputTokens"), req->max_tokens);
  if (req->n_stop > 0) {
    sb_jw_key_lit(w, "stopSequences");
    sb_jw_arr_begin(w);
    for (size_t i = 0; i < req->n_stop; i++)
      sb_jw_str_raw(w, req->stop[i].ptr, req->stop[i].len);
    sb_jw_arr_end(w);
  }
  sb_jw_kv_int(w, SB_STRLIT("candidateCount"), 1);
  number(w, "presencePenalty", &req->presence_penalty);
  number(w, "frequencyPenalty", &req->frequency_penalty);
  number(w, "seed", &req->seed);
  if (req->response_format == SB_HUB_FORMAT_JSON ||
      req->response_format == SB_HUB_FORMAT_JSON_SCHEMA)
    sb_jw_kv_str(w, SB_STRLIT("responseMimeType"),
                 SB_STRLIT("application/json"));
  if (req->response_format == SB_HUB_FORMAT_JSON_SCHEMA &&
      req->schema.len > 0) {
    sb_json_t *s;
    if (sb_json_parse(a, req->schema.ptr, req->schema.len, 0, &s, NULL) ==
            SB_OK &&
        s->type == SB_JSON_OBJECT) {
      sb_jw_key_lit(w, "responseSchema");
      if (sb_gemini_schema(w, s, a, out) != SB_OK)
        return SB_ERROR;
    }
  }
  if (thinking(w, req, route, a, out) != SB_OK)
    return SB_ERROR;
  sb_jw_obj_end(w);
  return SB_OK;
}

/* ---- the request ------------------------------------------------------------------ */

static void headers(const sb_hub_req_t *req, sb_codec_request_t *out)
{
  sb_codec_request_header(out, "Content-Type", "application/json");
  sb_codec_request_header(out, "Accept", req->stream ? "text/event-stream"
                                                     : "application/json");
}

sb_status_t sb_gemini_request(const sb_hub_req_t *req,
                              const sb_codec_route_t *route, bool passthrough,
                              sb_arena_t *a, sb_codec_request_t *out)
{
  out->url = sb_gemini_url(a, route,
                           req->stream ? "streamGenerateContent?alt=sse"
                                       : "generateContent",
                           NULL);
  if (out->url == NULL)
    return sb_gemini_refuse(a, out, SB_GEMINI_BAD_MODEL);
  if (passthrough) {
    if (req->native_raw.len == 0)
      return sb_gemini_refuse(a, out, "the request body is empty");
    if (sb_buf_append_slice(out->body, req->native_raw) != SB_OK)
      return SB_DECLINED;
    headers(req, out);
    return SB_OK;
  }
  if (!req->decoded)
    return sb_gemini_refuse(a, out, "the request was not decoded");
  if (req->n > 1)
    return sb_gemini_refuse(a, out,
                            "n > 1 is not supported by the Gemini provider");
  if (req->response_format == SB_HUB_FORMAT_OTHER)
    return sb_gemini_refuse(a, out,
                            "response_format must be text, json_object or "
                            "json_schema");
  sb_jw_t w;
  sb_jw_init(&w, out->body);
  sb_jw_obj_begin(&w);
  if (sb_gemini_contents(&w, req, a, out) != SB_OK ||
      tools(&w, req, a, out) != SB_OK ||
      generation_config(&w, req, route, a, out) != SB_OK)
    return SB_ERROR;
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  headers(req, out);
  return SB_OK;
}
