/*
 * The Anthropic Messages codec, request half: an OpenAI chat request (with
 * OpenRouter's reasoning extensions) becomes a POST /v1/messages body.
 *
 * - system and developer messages -> top-level `system` (one string, or
 *   text blocks when a part carries cache_control);
 * - consecutive messages of the same Anthropic role are merged (tool
 *   results are user content, so parallel results share one message);
 * - assistant `reasoning_details` -> thinking / redacted_thinking blocks
 *   (signatures intact) before the message's text and tool_use blocks;
 * - tool_calls -> tool_use with the arguments parsed into `input`;
 * - images: data: URLs -> base64 sources, http(s) URLs -> url sources;
 * - max_tokens is always set (the request's, else the catalog's largest
 *   output for the model, else 4096).
 * - response_format json_schema / json_object -> a forced tool
 *   (SB_ANTHROPIC_JSON_TOOL) whose input the decoder turns into content.
 * What cannot be expressed is refused with a 400 that says why.
 * Answers are decoded in anthropic_stream.c.
 */
#include "anthropic.h"

#include "switchboard/log.h"

#define DEFAULT_MAX_TOKENS 4096
#define MIN_THINKING_BUDGET 1024

enum { ROLE_NONE, ROLE_USER, ROLE_ASSISTANT };

typedef struct {
  sb_call_t *c;
  sb_jw_t *w;
  int role; /* the Anthropic message being written */
} req_t;

static void open_role(req_t *q, int role)
{
  if (q->role == role)
    return;
  if (q->role != ROLE_NONE) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_obj_begin(q->w);
  if (role == ROLE_USER)
    sb_jw_kv_str(q->w, SB_STRLIT("role"), SB_STRLIT("user"));
  else
    sb_jw_kv_str(q->w, SB_STRLIT("role"), SB_STRLIT("assistant"));
  sb_jw_key_lit(q->w, "content");
  sb_jw_arr_begin(q->w);
  q->role = role;
}

static void cache_control(sb_jw_t *w, const sb_json_t *part)
{
  const sb_json_t *cc = sb_json_get(part, "cache_control");
  if (sb_json_is(cc, SB_JSON_OBJECT))
    sb_jw_kv_raw(w, SB_STRLIT("cache_control"), cc->raw.ptr, cc->raw.len);
}

/* {"type":"text","text":...}; empty text is left out (Anthropic refuses
 * empty text blocks). */
static void text_block(req_t *q, int role, const sb_json_t *text,
                       const sb_json_t *part)
{
  if (!sb_json_is(text, SB_JSON_STRING) || text->raw.len <= 2)
    return;
  if (role != ROLE_NONE)
    open_role(q, role);
  sb_jw_obj_begin(q->w);
  sb_jw_kv_str(q->w, SB_STRLIT("type"), SB_STRLIT("text"));
  sb_jw_kv_raw(q->w, SB_STRLIT("text"), text->raw.ptr, text->raw.len);
  cache_control(q->w, part);
  sb_jw_obj_end(q->w);
}

static sb_status_t image_block(req_t *q, int role, const sb_json_t *part)
{
  sb_cu_image_t img;
  if (sb_cu_image(q->c, part, &img) != SB_OK)
    return SB_ERROR;
  if (role != ROLE_NONE)
    open_role(q, role);
  sb_jw_t *w = q->w;
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("image"));
  sb_jw_key_lit(w, "source");
  sb_jw_obj_begin(w);
  if (img.is_data) {
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("base64"));
    sb_jw_kv_str(w, SB_STRLIT("media_type"), img.media_type.ptr, img.media_type.len);
    sb_jw_kv_str(w, SB_STRLIT("data"), img.data.ptr, img.data.len);
  } else {
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("url"));
    sb_jw_kv_str(w, SB_STRLIT("url"), img.url.ptr, img.url.len);
  }
  sb_jw_obj_end(w);
  cache_control(w, part);
  sb_jw_obj_end(w);
  return SB_OK;
}

/* One content part of a user message (or of a tool result when role is
 * ROLE_NONE: written in place). */
static sb_status_t user_part(req_t *q, int role, const sb_json_t *part)
{
  if (sb_json_is(part, SB_JSON_STRING)) {
    text_block(q, role, part, NULL);
    return SB_OK;
  }
  const sb_json_t *type = sb_json_get(part, "type");
  if (SB_JSON_STR_IS(type, "text")) {
    text_block(q, role, sb_json_get(part, "text"), part);
    return SB_OK;
  }
  if (SB_JSON_STR_IS(type, "image_url"))
    return image_block(q, role, part);
  return sb_cu_refuse(
      q->c,
      "content parts of type %.*s are not supported by the "
      "Anthropic provider (text and image_url are)",
      sb_json_is(type, SB_JSON_STRING) ? (int)SB_MIN(type->raw.len, 40) : 4,
      sb_json_is(type, SB_JSON_STRING) ? type->raw.ptr : "none");
}

static sb_status_t user_content(req_t *q, int role, const sb_json_t *content)
{
  if (sb_json_is(content, SB_JSON_STRING)) {
    text_block(q, role, content, NULL);
    return SB_OK;
  }
  if (sb_json_is(content, SB_JSON_ARRAY)) {
    for (const sb_json_t *p = content->child; p != NULL; p = p->next)
      if (user_part(q, role, p) != SB_OK)
        return SB_ERROR;
    return SB_OK;
  }
  if (content == NULL || content->type == SB_JSON_NULL)
    return SB_OK;
  return sb_cu_refuse(q->c, "message content must be a string or an array");
}

/* reasoning_details written back as thinking blocks; details of another
 * provider's format, or text without a signature, cannot be replayed. */
static void thinking_blocks(req_t *q, const sb_json_t *details)
{
  if (!sb_json_is(details, SB_JSON_ARRAY))
    return;
  for (const sb_json_t *d = details->child; d != NULL; d = d->next) {
    const sb_json_t *type = sb_json_get(d, "type");
    const sb_json_t *format = sb_json_get(d, "format");
    if (format != NULL && format->type != SB_JSON_NULL &&
        !SB_JSON_STR_IS(format, "anthropic-claude-v1"))
      continue;
    if (SB_JSON_STR_IS(type, "reasoning.text")) {
      const sb_json_t *text = sb_json_get(d, "text");
      const sb_json_t *sig = sb_json_get(d, "signature");
      if (!sb_json_is(sig, SB_JSON_STRING) || sig->raw.len <= 2)
        continue;
      open_role(q, ROLE_ASSISTANT);
      sb_jw_obj_begin(q->w);
      sb_jw_kv_str(q->w, SB_STRLIT("type"), SB_STRLIT("thinking"));
      if (sb_json_is(text, SB_JSON_STRING))
        sb_jw_kv_raw(q->w, SB_STRLIT("thinking"), text->raw.ptr, text->raw.len);
      else
        sb_jw_kv_str(q->w, SB_STRLIT("thinking"), "", 0);
      sb_jw_kv_raw(q->w, SB_STRLIT("signature"), sig->raw.ptr, sig->raw.len);
      sb_jw_obj_end(q->w);
    } else if (SB_JSON_STR_IS(type, "reasoning.encrypted")) {
      const sb_json_t *data = sb_json_get(d, "data");
      if (!sb_json_is(data, SB_JSON_STRING))
        continue;
      open_role(q, ROLE_ASSISTANT);
      sb_jw_obj_begin(q->w);
      sb_jw_kv_str(q->w, SB_STRLIT("type"), SB_STRLIT("redacted_thinking"));
      sb_jw_kv_raw(q->w, SB_STRLIT("data"), data->raw.ptr, data->raw.len);
      sb_jw_obj_end(q->w);
    }
  }
}

static sb_status_t tool_use_blocks(req_t *q, const sb_json_t *calls)
{
  if (!sb_json_is(calls, SB_JSON_ARRAY))
    return SB_OK;
  for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
    const sb_json_t *id = sb_json_get(tc, "id");
    const sb_json_t *fn = sb_json_get(tc, "function");
    const sb_json_t *name = sb_json_get(fn, "name");
    const sb_json_t *args = sb_json_get(fn, "arguments");
    if (!sb_json_is(id, SB_JSON_STRING) || !sb_json_is(name, SB_JSON_STRING))
      return sb_cu_refuse(q->c, "an assistant tool call needs an id and a "
                                "function name");
    sb_slice_t input;
    sb_status_t st = sb_cu_tool_args(q->c, args, &input);
    if (st == SB_DECLINED)
      return sb_cu_refuse(q->c,
                          "the arguments of tool call %.*s are not a JSON "
                          "object; the Anthropic provider needs one",
                          (int)SB_MIN(id->raw.len, 80), id->raw.ptr);
    if (st != SB_OK)
      return st;
    open_role(q, ROLE_ASSISTANT);
    sb_jw_obj_begin(q->w);
    sb_jw_kv_str(q->w, SB_STRLIT("type"), SB_STRLIT("tool_use"));
    sb_jw_kv_raw(q->w, SB_STRLIT("id"), id->raw.ptr, id->raw.len);
    sb_jw_kv_raw(q->w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
    sb_jw_kv_raw(q->w, SB_STRLIT("input"), input.ptr, input.len);
    sb_jw_obj_end(q->w);
  }
  return SB_OK;
}

static sb_status_t tool_result(req_t *q, const sb_json_t *m)
{
  const sb_json_t *id = sb_json_get(m, "tool_call_id");
  const sb_json_t *content = sb_json_get(m, "content");
  if (!sb_json_is(id, SB_JSON_STRING))
    return sb_cu_refuse(q->c, "a tool message needs a tool_call_id");
  open_role(q, ROLE_USER);
  sb_jw_t *w = q->w;
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("tool_result"));
  sb_jw_kv_raw(w, SB_STRLIT("tool_use_id"), id->raw.ptr, id->raw.len);
  if (sb_json_is(content, SB_JSON_STRING) && content->raw.len > 2) {
    sb_jw_kv_raw(w, SB_STRLIT("content"), content->raw.ptr, content->raw.len);
  } else if (sb_json_is(content, SB_JSON_ARRAY) && content->count > 0) {
    sb_jw_key_lit(w, "content");
    sb_jw_arr_begin(w);
    for (const sb_json_t *p = content->child; p != NULL; p = p->next)
      if (user_part(q, ROLE_NONE, p) != SB_OK)
        return SB_ERROR;
    sb_jw_arr_end(w);
  }
  if (sb_json_truthy(sb_json_get(m, "is_error")))
    sb_jw_kv_raw(w, SB_STRLIT("is_error"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
  return SB_OK;
}

static bool is_system(const sb_json_t *m)
{
  const sb_json_t *role = sb_json_get(m, "role");
  return SB_JSON_STR_IS(role, "system") || SB_JSON_STR_IS(role, "developer");
}

/* `system`: one string when every system message is a string (joined by a
 * blank line), else text blocks (keeping cache_control). */
static sb_status_t write_system(req_t *q, const sb_json_t *messages)
{
  bool any = false, all_strings = true;
  for (const sb_json_t *m = messages->child; m != NULL; m = m->next) {
    if (!is_system(m))
      continue;
    const sb_json_t *content = sb_json_get(m, "content");
    any = true;
    if (!sb_json_is(content, SB_JSON_STRING))
      all_strings = false;
  }
  if (!any)
    return SB_OK;
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "system");
  if (all_strings) {
    sb_buf_t b;
    sb_buf_init(&b, 0);
    bool first = true;
    for (const sb_json_t *m = messages->child; m != NULL; m = m->next) {
      if (!is_system(m))
        continue;
      const sb_json_t *content = sb_json_get(m, "content");
      if (!first)
        sb_buf_append(&b, SB_STRLIT("\\n\\n"));
      sb_buf_append(&b, content->raw.ptr + 1, content->raw.len - 2);
      first = false;
    }
    sb_jw_str_raw(w, b.data != NULL ? b.data : "", b.len);
    sb_buf_free(&b);
    return SB_OK;
  }
  sb_jw_arr_begin(w);
  for (const sb_json_t *m = messages->child; m != NULL; m = m->next) {
    if (!is_system(m))
      continue;
    const sb_json_t *content = sb_json_get(m, "content");
    if (sb_json_is(content, SB_JSON_STRING)) {
      text_block(q, ROLE_NONE, content, NULL);
    } else if (sb_json_is(content, SB_JSON_ARRAY)) {
      for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
        const sb_json_t *type = sb_json_get(p, "type");
        if (sb_json_is(p, SB_JSON_STRING))
          text_block(q, ROLE_NONE, p, NULL);
        else if (SB_JSON_STR_IS(type, "text"))
          text_block(q, ROLE_NONE, sb_json_get(p, "text"), p);
        else
          return sb_cu_refuse(q->c, "system messages may only hold text");
      }
    }
  }
  sb_jw_arr_end(w);
  return SB_OK;
}

static sb_status_t write_messages(req_t *q, const sb_json_t *messages)
{
  sb_jw_key_lit(q->w, "messages");
  sb_jw_arr_begin(q->w);
  for (const sb_json_t *m = messages->child; m != NULL; m = m->next) {
    const sb_json_t *role = sb_json_get(m, "role");
    const sb_json_t *content = sb_json_get(m, "content");
    if (is_system(m))
      continue;
    if (SB_JSON_STR_IS(role, "user")) {
      if (user_content(q, ROLE_USER, content) != SB_OK)
        return SB_ERROR;
    } else if (SB_JSON_STR_IS(role, "assistant")) {
      thinking_blocks(q, sb_json_get(m, "reasoning_details"));
      if (sb_json_is(content, SB_JSON_ARRAY)) {
        for (const sb_json_t *p = content->child; p != NULL; p = p->next) {
          const sb_json_t *type = sb_json_get(p, "type");
          if (sb_json_is(p, SB_JSON_STRING))
            text_block(q, ROLE_ASSISTANT, p, NULL);
          else if (SB_JSON_STR_IS(type, "text"))
            text_block(q, ROLE_ASSISTANT, sb_json_get(p, "text"), p);
          else if (!SB_JSON_STR_IS(type, "refusal"))
            return sb_cu_refuse(q->c, "assistant content parts may only hold "
                                      "text for the Anthropic provider");
        }
      } else {
        text_block(q, ROLE_ASSISTANT, content, NULL);
      }
      if (tool_use_blocks(q, sb_json_get(m, "tool_calls")) != SB_OK)
        return SB_ERROR;
    } else if (SB_JSON_STR_IS(role, "tool")) {
      if (tool_result(q, m) != SB_OK)
        return SB_ERROR;
    } else {
      return sb_cu_refuse(q->c, "unknown message role (system, developer, "
                                "user, assistant and tool are understood)");
    }
  }
  if (q->role != ROLE_NONE) {
    sb_jw_arr_end(q->w);
    sb_jw_obj_end(q->w);
  }
  sb_jw_arr_end(q->w);
  return SB_OK;
}

static sb_status_t write_tools(req_t *q, const sb_json_t *tools)
{
  sb_jw_t *w = q->w;
  sb_jw_key_lit(w, "tools");
  sb_jw_arr_begin(w);
  for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
    const sb_json_t *params;
    if (sb_cu_function_tool_begin(q->c, w, t, "Anthropic", &params) != SB_OK)
      return SB_ERROR;
    if (sb_json_is(params, SB_JSON_OBJECT))
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"), params->raw.ptr,
                   params->raw.len);
    else
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"),
                   SB_STRLIT("{\"type\":\"object\",\"properties\":{}}"));
    cache_control(w, t);
    sb_jw_obj_end(w);
  }
  sb_jw_arr_end(w);
  return SB_OK;
}

static sb_status_t write_tool_choice(req_t *q, const sb_json_t *choice,
                                     bool no_parallel)
{
  static const char *const types[] = {"auto", "none", "any", "tool"}; /* by sb_cu_choice_t */
  sb_jw_t *w = q->w;
  if (choice == NULL && !no_parallel)
    return SB_OK;
  sb_cu_choice_t kind;
  const sb_json_t *name;
  if (sb_cu_tool_choice(q->c, choice, &kind, &name) != SB_OK)
    return SB_ERROR;
  sb_jw_key_lit(w, "tool_choice");
  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("type"), types[kind], strlen(types[kind]));
  if (kind == SB_CU_CHOICE_FUNCTION)
    sb_jw_kv_raw(w, SB_STRLIT("name"), name->raw.ptr, name->raw.len);
  if (no_parallel && kind != SB_CU_CHOICE_NONE)
    sb_jw_kv_raw(w, SB_STRLIT("disable_parallel_tool_use"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
  return SB_OK;
}

/* The thinking budget asked for: `thinking` as Anthropic writes it, or
 * OpenRouter's `reasoning` ({max_tokens} or {effort}, as a share of
 * max_tokens). 0 = no thinking. */
static int64_t thinking_budget(const sb_json_t *req, int64_t max_tokens)
{
  const sb_json_t *th = sb_json_get(req, "thinking");
  if (SB_JSON_STR_IS(sb_json_get(th, "type"), "enabled"))
    return SB_CU_INT(th, "budget_tokens", MIN_THINKING_BUDGET);
  const sb_json_t *r = sb_json_get(req, "reasoning");
  const sb_json_t *effort = sb_json_get(r, "effort");
  if (!sb_json_is(r, SB_JSON_OBJECT))
    effort = sb_json_get(req, "reasoning_effort");
  if (sb_json_is(sb_json_get(r, "enabled"), SB_JSON_FALSE) ||
      SB_JSON_STR_IS(effort, "none"))
    return 0;
  int64_t budget = SB_CU_INT(r, "max_tokens", 0);
  if (budget > 0)
    return budget;
  int pct = 0;
  if (SB_JSON_STR_IS(effort, "high") || SB_JSON_STR_IS(effort, "xhigh"))
    pct = 80;
  else if (SB_JSON_STR_IS(effort, "medium"))
    pct = 50;
  else if (SB_JSON_STR_IS(effort, "low") || SB_JSON_STR_IS(effort, "minimal"))
    pct = 20;
  else if (sb_json_is(sb_json_get(r, "enabled"), SB_JSON_TRUE))
    pct = 50;
  if (pct == 0)
    return 0;
  budget = max_tokens * pct / 100;
  if (budget > 32000)
    budget = 32000;
  return SB_MAX(budget, MIN_THINKING_BUDGET);
}

static sb_status_t write_body(sb_call_t *c, sb_jw_t *w)
{
  const sb_json_t *req = c->req;
  const sb_json_t *messages = sb_json_get(req, "messages");
  req_t q = {c, w, ROLE_NONE};
  if (!sb_json_is(messages, SB_JSON_ARRAY))
    return sb_cu_refuse(c, "'messages' must be an array");
  if (SB_CU_INT(req, "n", 1) != 1)
    return sb_cu_refuse(c, "n > 1 is not supported by the Anthropic provider");
  /* response_format json_object / json_schema: a forced tool whose input
   * is the answer (turned back into content by the decoder) */
  const sb_json_t *rf = sb_json_get(req, "response_format");
  const sb_json_t *rft = sb_json_get(rf, "type");
  const sb_json_t *tools = sb_json_get(req, "tools");
  const sb_json_t *json_schema = NULL;
  bool json_tool = false;
  if (SB_JSON_STR_IS(rft, "json_schema") ||
      SB_JSON_STR_IS(rft, "json_object")) {
    json_schema = sb_json_get(sb_json_get(rf, "json_schema"), "schema");
    const sb_json_t *st = sb_json_get(json_schema, "type");
    if (SB_JSON_STR_IS(rft, "json_schema") &&
        (!sb_json_is(json_schema, SB_JSON_OBJECT) ||
         !SB_JSON_STR_IS(st, "object")))
      return sb_cu_refuse(c,
                          "response_format json_schema needs a schema of type "
                          "object for the Anthropic provider");
    if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count > 0)
      return sb_cu_refuse(c,
                          "response_format json_schema / json_object cannot be "
                          "combined with tools for the Anthropic provider");
    json_tool = true;
  } else if (rf != NULL && rf->type != SB_JSON_NULL &&
             !SB_JSON_STR_IS(rft, "text")) {
    return sb_cu_refuse(
        c, "response_format must be text, json_object or json_schema");
  }

  int64_t asked =
      SB_CU_INT(req, "max_completion_tokens", SB_CU_INT(req, "max_tokens", 0));
  int64_t max_tokens =
      asked > 0 ? asked : sb_cu_max_output(c, DEFAULT_MAX_TOKENS);
  if (asked < 0 || asked > SB_CU_MAX_TOKENS)
    return sb_cu_refuse(c, "max_tokens is out of range");
  int64_t budget = thinking_budget(req, max_tokens);
  if (budget < 0 || budget > SB_CU_MAX_TOKENS)
    return sb_cu_refuse(c, "the reasoning budget is out of range");
  if (budget > 0 && budget >= max_tokens) {
    if (asked > 0 && asked > MIN_THINKING_BUDGET)
      budget = asked - 1;
    else if (asked > 0)
      return sb_cu_refuse(c,
                          "max_tokens must be above %d when reasoning is "
                          "enabled for an Anthropic model",
                          MIN_THINKING_BUDGET);
    else
      max_tokens = budget + DEFAULT_MAX_TOKENS;
  }
  if (json_tool && budget > 0)
    return sb_cu_refuse(c,
                        "response_format json_schema / json_object cannot be "
                        "combined with reasoning for the Anthropic provider "
                        "(it does not force a tool while thinking)");

  sb_jw_obj_begin(w);
  sb_jw_kv_str(w, SB_STRLIT("model"), c->route.upstream_model.ptr,
               c->route.upstream_model.len);
  sb_jw_kv_int(w, SB_STRLIT("max_tokens"), max_tokens);
  if (write_system(&q, messages) != SB_OK ||
      write_messages(&q, messages) != SB_OK)
    return SB_ERROR;
  if (json_tool) {
    an_state_t *st = sb_anthropic_state(c);
    if (st == NULL)
      return SB_ERROR;
    st->json_tool = true;
    sb_jw_key_lit(w, "tools");
    sb_jw_arr_begin(w);
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("name"), SB_STRLIT(SB_ANTHROPIC_JSON_TOOL));
    sb_jw_kv_str(w, SB_STRLIT("description"),
                 SB_STRLIT("Give the answer as this tool's input."));
    if (json_schema != NULL && json_schema->type == SB_JSON_OBJECT)
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"), json_schema->raw.ptr,
                   json_schema->raw.len);
    else
      sb_jw_kv_raw(w, SB_STRLIT("input_schema"),
                   SB_STRLIT("{\"type\":\"object\"}"));
    sb_jw_obj_end(w);
    sb_jw_arr_end(w);
    sb_jw_kv_raw(
        w, SB_STRLIT("tool_choice"),
        SB_STRLIT("{\"type\":\"tool\",\"name\":\"" SB_ANTHROPIC_JSON_TOOL
                  "\"}"));
  } else if (sb_json_is(tools, SB_JSON_ARRAY) && tools->count > 0) {
    if (write_tools(&q, tools) != SB_OK ||
        write_tool_choice(&q, sb_json_get(req, "tool_choice"),
                          sb_json_is(sb_json_get(req, "parallel_tool_calls"),
                                     SB_JSON_FALSE)) != SB_OK)
      return SB_ERROR;
  }
  sb_cu_stop_sequences(w, req, SB_STRLIT("stop_sequences"));
  static const char *const numeric[] = {"temperature", "top_p", "top_k"};
  for (size_t i = 0; i < SB_ARRAY_LEN(numeric); i++) {
    const sb_json_t *v = sb_json_getn(req, numeric[i], strlen(numeric[i]));
    if (sb_json_is(v, SB_JSON_NUMBER))
      sb_jw_kv_raw(w, numeric[i], strlen(numeric[i]), v->raw.ptr, v->raw.len);
  }
  const sb_json_t *user = sb_json_get(req, "user");
  if (sb_json_is(user, SB_JSON_STRING)) {
    sb_jw_key_lit(w, "metadata");
    sb_jw_obj_begin(w);
    sb_jw_kv_raw(w, SB_STRLIT("user_id"), user->raw.ptr, user->raw.len);
    sb_jw_obj_end(w);
  }
  if (budget > 0) {
    sb_jw_key_lit(w, "thinking");
    sb_jw_obj_begin(w);
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("enabled"));
    sb_jw_kv_int(w, SB_STRLIT("budget_tokens"), budget);
    sb_jw_obj_end(w);
  }
  if (c->stream)
    sb_jw_kv_raw(w, SB_STRLIT("stream"), SB_STRLIT("true"));
  sb_jw_obj_end(w);
  return SB_OK;
}

/* base_url is the API root ("https://api.anthropic.com"); one that already
 * ends in /v1 is accepted too. */
static const char *messages_url(sb_call_t *c)
{
  const char *base = c->route.provider->base_url;
  size_t n = strlen(base);
  bool v1 = n >= 3 && strcmp(base + n - 3, "/v1") == 0;
  return sb_arena_printf(c->arena, "%s%s/messages", base, v1 ? "" : "/v1");
}

sb_status_t sb_anthropic_chat_request(sb_call_t *c, sb_upstream_request_t *r)
{
  sb_jw_t w;
  sb_buf_reset(&c->up_body);
  sb_jw_init(&w, &c->up_body);
  if (write_body(c, &w) != SB_OK)
    return SB_ERROR;
  if (sb_jw_status(&w) != SB_OK)
    return SB_DECLINED;
  r->url = messages_url(c);
  r->body = sb_buf_slice(&c->up_body);
  sb_call_up_header(c, "Content-Type", "application/json");
  sb_call_up_header(c, "Accept",
               c->stream ? "text/event-stream" : "application/json");
  if (!sb_cu_provider_has_header(c, "anthropic-version"))
    sb_call_up_header(c, "anthropic-version", "2023-06-01");
  sb_call_up_auth(c);
  r->headers = c->up_headers;
  r->n_headers = c->n_up_headers;
  return r->url != NULL ? SB_OK : SB_ERROR;
}

const sb_codec_t sb_codec_anthropic = {
    .name = "anthropic",
    .caps = SB_CODEC_CAP_STREAM | SB_CODEC_CAP_TOOLS,
    .chat_request = sb_anthropic_chat_request,
    .chat_response = sb_anthropic_chat_response,
    .chat_event = sb_anthropic_chat_event,
    .error_info = sb_anthropic_error_info,
};
