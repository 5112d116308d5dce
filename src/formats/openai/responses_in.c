/* SPDX-License-Identifier: MIT */
/*
 * The Responses door, request half: a Responses body into the hub request
 * (include/switchboard/hub.h).
 *
 * The envelope (model, OpenRouter's `models` and `provider`, stream, the
 * output cap) is read for every request; the rest only when a provider of
 * another format needs it (a provider that speaks Responses gets the body
 * itself). `instructions` is a system message ahead of the input
 * (responses_items.c reads the input); tools are function tools (a custom
 * tool becomes a function taking {"input": string}, its grammar in the
 * description); the tools only OpenAI runs (web_search, file_search,
 * code_interpreter, computer use, image generation, local_shell, mcp,
 * namespaces ...) are left out: the encoder names them in
 * X-Switchboard-Dropped-Tools.
 */
#include <stdio.h>

#include "responses.h"

/* ---- envelope ------------------------------------------------------------ */

static sb_status_t rs_envelope(const sb_json_t *body, sb_arena_t *a,
                               sb_hub_req_t *req, char *why, size_t whylen)
{
  sb_status_t rc =
      sb_openai_envelope(body, SB_RESPONSES_FORMAT, a, req, why, whylen);
  if (rc != SB_OK)
    return rc;
  int64_t v;
  if (sb_json_int64(sb_json_get(body, "max_output_tokens"), &v) == SB_OK &&
      v > 0)
    req->max_tokens = v;
  return SB_OK;
}

/* ---- tools ----------------------------------------------------------------- */

bool sb_responses_tool_is_function(const sb_json_t *t)
{
  const sb_json_t *type = sb_json_get(t, "type");
  return (SB_JSON_STR_IS(type, "function") || SB_JSON_STR_IS(type, "custom")) &&
         sb_json_is(sb_json_get(t, "name"), SB_JSON_STRING);
}

bool sb_responses_custom_tool(const sb_json_t *body, sb_slice_t name)
{
  const sb_json_t *list = sb_json_get(body, "tools");
  if (!sb_json_is(list, SB_JSON_ARRAY))
    return false;
  for (const sb_json_t *t = list->child; t != NULL; t = t->next)
    if (SB_JSON_STR_IS(sb_json_get(t, "type"), "custom") &&
        sb_slice_eq(sb_hub_jtext(sb_json_get(t, "name")), name))
      return true;
  return false;
}

/* What a custom tool takes, as a function. */
static const char custom_parameters[] =
    "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\","
    "\"description\":\"The tool's whole input, as free-form text\"}},"
    "\"required\":[\"input\"],\"additionalProperties\":false}";

/* A custom tool's description (jtext) for a model that sees a function:
 * its own, what the function takes, and the grammar its input follows. */
static sb_status_t custom_description(sb_arena_t *a, const sb_json_t *t,
                                      sb_slice_t *out)
{
  const sb_json_t *fmt = sb_json_get(t, "format");
  sb_slice_t desc = sb_hub_jtext(sb_json_get(t, "description"));
  sb_buf_t b;
  sb_buf_init(&b, 0);
  sb_buf_append_slice(&b, desc);
  if (desc.len > 0)
    sb_buf_append(&b, SB_STRLIT("\\n\\n"));
  sb_buf_appendz(&b, "Give the tool's whole input as the string argument "
                     "`input`.");
  if (SB_JSON_STR_IS(sb_json_get(fmt, "type"), "grammar")) {
    sb_slice_t syntax = sb_hub_jtext(sb_json_get(fmt, "syntax"));
    sb_slice_t def = sb_hub_jtext(sb_json_get(fmt, "definition"));
    sb_buf_appendz(&b, " The input must follow this ");
    sb_buf_append_slice(&b, syntax.len > 0 ? syntax : SB_SLICE_LIT("formal"));
    sb_buf_appendz(&b, " grammar:\\n");
    sb_buf_append_slice(&b, def);
  }
  *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
  sb_buf_free(&b);
  return out->ptr != NULL ? SB_OK : SB_ERROR;
}

static sb_status_t tools(sb_arena_t *a, sb_hub_req_t *req, const sb_json_t *list)
{
  if (!sb_json_is(list, SB_JSON_ARRAY) || list->count == 0)
    return SB_OK;
  sb_hub_tool_t *t = sb_arena_calloc(a, list->count * sizeof(*t));
  if (t == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next) {
    if (!sb_responses_tool_is_function(x))
      continue; /* OpenAI's own tools: left out */
    sb_hub_tool_t *k = &t[n++];
    k->kind = SB_HUB_TOOL_FUNCTION;
    k->name = sb_hub_jtext(sb_json_get(x, "name"));
    k->strict = -1;
    if (SB_JSON_STR_IS(sb_json_get(x, "type"), "custom")) {
      k->parameters = SB_SLICE_LIT(custom_parameters);
      if (custom_description(a, x, &k->description) != SB_OK)
        return SB_ERROR;
      continue;
    }
    const sb_json_t *strict = sb_json_get(x, "strict");
    k->description = sb_hub_jtext(sb_json_get(x, "description"));
    k->parameters = sb_hub_json(sb_json_get(x, "parameters"));
    if (sb_json_is(strict, SB_JSON_TRUE) || sb_json_is(strict, SB_JSON_FALSE))
      k->strict = sb_json_is(strict, SB_JSON_TRUE);
  }
  req->tools = t;
  req->n_tools = n;
  req->tools_given = n > 0;
  return SB_OK;
}

/* "auto", "none", "required", a named function or custom tool; allowed
 * tools as their mode; one of OpenAI's own tools: the model's choice. */
static void tool_choice(sb_hub_req_t *req, const sb_json_t *c)
{
  const sb_json_t *type = sb_json_get(c, "type");
  if (SB_JSON_STR_IS(c, "auto"))
    req->choice = SB_HUB_CHOICE_AUTO;
  else if (SB_JSON_STR_IS(c, "none"))
    req->choice = SB_HUB_CHOICE_NONE;
  else if (SB_JSON_STR_IS(c, "required"))
    req->choice = SB_HUB_CHOICE_REQUIRED;
  else if ((SB_JSON_STR_IS(type, "function") || SB_JSON_STR_IS(type, "custom")) &&
           sb_json_is(sb_json_get(c, "name"), SB_JSON_STRING)) {
    req->choice = SB_HUB_CHOICE_TOOL;
    req->choice_name = sb_hub_jtext(sb_json_get(c, "name"));
  } else if (SB_JSON_STR_IS(type, "allowed_tools")) {
    req->choice = SB_JSON_STR_IS(sb_json_get(c, "mode"), "required")
                      ? SB_HUB_CHOICE_REQUIRED
                      : SB_HUB_CHOICE_AUTO;
  } else if (type != NULL) {
    req->choice = SB_HUB_CHOICE_AUTO;
  }
}

/* text.format: text, json_object or json_schema (name, schema, strict at
 * the format's own level); text.verbosity. */
static void text_format(sb_hub_req_t *req, const sb_json_t *text)
{
  const sb_json_t *f = sb_json_get(text, "format");
  req->verbosity = sb_hub_jtext(sb_json_get(text, "verbosity"));
  /* the schema's name and strictness stand in the format itself */
  sb_openai_output_format(req, sb_json_get(f, "type"), f);
}

/* reasoning: {effort, summary}; an effort asks for reasoning ("none":
 * none), a summary alone leaves it to the model. */
static void reasoning(sb_hub_req_t *req, const sb_json_t *ro)
{
  sb_hub_reasoning_t *r = &req->reasoning;
  r->enabled = -1;
  if (!sb_json_is(ro, SB_JSON_OBJECT))
    return;
  r->effort = sb_openai_effort(sb_json_get(ro, "effort"));
  r->summary = sb_hub_jtext(sb_json_get(ro, "summary"));
  if (r->summary.ptr == NULL)
    r->summary = sb_hub_jtext(sb_json_get(ro, "generate_summary"));
  if (r->effort == SB_HUB_EFFORT_NONE)
    r->enabled = 0;
  else if (r->effort != SB_HUB_EFFORT_UNSET)
    r->enabled = 1;
}

static sb_status_t rs_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                             size_t whylen)
{
  const sb_json_t *body = req->native;
  if (req->decoded)
    return SB_OK;
  sb_rs_items_t d;
  memset(&d, 0, sizeof(d));
  d.a = a;
  d.why = why;
  d.whylen = whylen;
  const sb_json_t *ins = sb_json_get(body, "instructions");
  sb_status_t rc = sb_responses_items(&d, ins);
  if (rc == SB_OK && sb_json_is(ins, SB_JSON_STRING)) {
    /* a string is the system prompt, not a user's words */
    d.msgs[d.n - 1].role = SB_HUB_SYSTEM;
  }
  if (rc == SB_OK)
    rc = sb_responses_items(&d, sb_json_get(body, "input"));
  if (rc == SB_OK)
    rc = sb_responses_end_turn(&d);
  if (rc != SB_OK)
    return rc;
  req->msgs = d.msgs;
  req->n_msgs = d.n;
  if (tools(a, req, sb_json_get(body, "tools")) != SB_OK)
    return SB_ERROR;
  tool_choice(req, sb_json_get(body, "tool_choice"));
  const sb_json_t *ptc = sb_json_get(body, "parallel_tool_calls");
  req->parallel_tool_calls =
      sb_json_is(ptc, SB_JSON_TRUE) ? 1 : sb_json_is(ptc, SB_JSON_FALSE) ? 0 : -1;
  req->schema_strict = -1;
  text_format(req, sb_json_get(body, "text"));
  reasoning(req, sb_json_get(body, "reasoning"));
  sb_hub_number(&req->temperature, sb_json_get(body, "temperature"));
  sb_hub_number(&req->top_p, sb_json_get(body, "top_p"));
  req->user = sb_hub_jtext(sb_json_get(body, "user"));
  if (req->user.ptr == NULL)
    req->user = sb_hub_jtext(sb_json_get(body, "safety_identifier"));
  req->service_tier = sb_hub_jtext(sb_json_get(body, "service_tier"));
  req->metadata = sb_hub_json(sb_json_get(body, "metadata"));
  req->decoded = true;
  return SB_OK;
}

/* POST /v1/responses/input_tokens: the same body, an estimate. */
static sb_status_t rs_count(const sb_json_t *body, sb_arena_t *a,
                            sb_hub_req_t *req, sb_buf_t *out, char *why,
                            size_t whylen)
{
  sb_status_t rc = sb_responses_check(body, why, whylen);
  if (rc == SB_OK)
    rc = rs_envelope(body, a, req, why, whylen);
  if (rc == SB_OK)
    rc = rs_decode(req, a, why, whylen);
  if (rc != SB_OK)
    return rc;
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("object"), SB_STRLIT("response.input_tokens"));
  sb_jw_kv_int(&w, SB_STRLIT("input_tokens"),
               (int64_t)sb_hub_estimate_input(req));
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

const sb_codec_door_t sb_responses_door = {
    .check = sb_responses_check,
    .envelope = rs_envelope,
    .decode = rs_decode,
    .encoder = &sb_responses_encoder,
    .count = rs_count,
};
