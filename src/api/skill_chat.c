/*
 * The canonical `chat` contract, natively. Each function mirrors one jq
 * program of seeds/openrouter.md; the comments quote the part they
 * implement. jq semantics that matter here:
 * - `a // b` is `a` unless `a` is null or false (so 0 and "" are kept);
 * - `if x then` is taken unless x is null or false;
 * - `.[]` on an object iterates its values;
 * - `fromjson?` yields nothing on invalid JSON, and `// {}` turns that (and
 *   null / false results) into {}.
 *
 * The params are checked against the seed's declared types first (model
 * and messages required; tools an array of {name, description,
 * input_schema}; max_tokens an integer; temperature a number; system a
 * string), with the chat door's ranges for max_tokens and temperature
 * and its schema for the messages. What jq's `//` and `if` treat as
 * absent (null, false) is absent here too.
 */
#include <stdio.h>

#include "api/chat_validate.h"
#include "switchboard/skills.h"

/* Iterate an array's elements or an object's values, as jq's .[] does. */
static bool iterable(const sb_json_t *v)
{
  return sb_json_is(v, SB_JSON_ARRAY) || sb_json_is(v, SB_JSON_OBJECT);
}

/* A canonical tool: {name (a string), description (a string, or absent),
 * input_schema (an object, or absent)}. */
static const char *tool_problem(const sb_json_t *t)
{
  if (t->type != SB_JSON_OBJECT)
    return "must be an object {name, description, input_schema}";
  if (!sb_json_is(sb_json_get(t, "name"), SB_JSON_STRING))
    return "must have a string 'name'";
  const sb_json_t *d = sb_json_get(t, "description");
  if (sb_json_truthy(d) && d->type != SB_JSON_STRING)
    return "must have a string 'description' (or none)";
  const sb_json_t *s = sb_json_get(t, "input_schema");
  if (sb_json_truthy(s) && s->type != SB_JSON_OBJECT)
    return "must have an object 'input_schema' (or none)";
  return NULL;
}

/* The params' types; NULL when they are fine, else the message (in `a`). */
static const char *params_problem(sb_arena_t *a, const sb_json_t *params)
{
  char msg[512];
  msg[0] = '\0';
  const sb_json_t *messages = sb_json_get(params, "messages");
  const sb_json_t *system = sb_json_get(params, "system");
  const sb_json_t *tools = sb_json_get(params, "tools");
  if (!sb_json_is(sb_json_get(params, "model"), SB_JSON_STRING))
    return "'model' is required and must be a string";
  if (!sb_json_is(messages, SB_JSON_ARRAY))
    return "'messages' is required and must be an array";
  if (messages->count > 0 &&
      sb_chat_validate_messages(messages, msg, sizeof(msg)) != SB_OK)
    goto out;
  if (sb_json_truthy(system) && system->type != SB_JSON_STRING)
    return "'system' must be a string";
  if (sb_json_truthy(tools)) {
    if (tools->type != SB_JSON_ARRAY)
      return "'tools' must be an array of {name, description, input_schema}";
    size_t i = 0;
    for (const sb_json_t *t = tools->child; t != NULL; t = t->next, i++) {
      const char *p = tool_problem(t);
      if (p != NULL) {
        snprintf(msg, sizeof(msg), "'tools[%zu]' %s", i, p);
        goto out;
      }
    }
  }
  static const char *const limits[] = {"max_tokens", "temperature"};
  for (size_t i = 0; i < SB_ARRAY_LEN(limits); i++) {
    const sb_json_t *v = sb_json_getn(params, limits[i], strlen(limits[i]));
    if (sb_json_truthy(v) &&
        sb_chat_validate_member(limits[i], v, msg, sizeof(msg)) != SB_OK)
      goto out;
  }
  return NULL;
out:;
  const char *copy = sb_arena_strndup(a, msg, strlen(msg));
  return copy != NULL ? copy : "invalid params";
}

sb_status_t sb_skill_chat_body(sb_arena_t *a, const sb_json_t *params,
                               sb_buf_t *out, const char **why)
{
  sb_jw_t w;
  *why = NULL;
  if (!sb_json_is(params, SB_JSON_OBJECT)) {
    *why = "the body must be a JSON object of params";
    return SB_DECLINED;
  }
  if ((*why = params_problem(a, params)) != NULL)
    return SB_DECLINED;
  const sb_json_t *model = sb_json_get(params, "model");
  const sb_json_t *messages = sb_json_get(params, "messages");
  const sb_json_t *system = sb_json_get(params, "system");
  const sb_json_t *tools = sb_json_get(params, "tools");
  const sb_json_t *max_tokens = sb_json_get(params, "max_tokens");
  const sb_json_t *temperature = sb_json_get(params, "temperature");

  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  /* model: .params.model */
  sb_jw_key_lit(&w, "model");
  sb_jw_value(&w, model);
  /* messages: if .params.system then ([{role: "system", content:
   * .params.system}] + .params.messages) else .params.messages end */
  sb_jw_key_lit(&w, "messages");
  if (sb_json_truthy(system)) {
    sb_jw_arr_begin(&w);
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("system"));
    sb_jw_key_lit(&w, "content");
    sb_jw_value(&w, system);
    sb_jw_obj_end(&w);
    for (const sb_json_t *m = messages->child; m != NULL; m = m->next)
      sb_jw_value(&w, m);
    sb_jw_arr_end(&w);
  } else {
    sb_jw_value(&w, messages);
  }
  /* tools: (.params.tools // []) | map({type: "function", function: {name:
   * .name, description: (.description // ""), parameters: (.input_schema //
   * {type: "object", properties: {}})}}) */
  sb_jw_key_lit(&w, "tools");
  sb_jw_arr_begin(&w);
  if (sb_json_truthy(tools)) {
    for (const sb_json_t *t = tools->child; t != NULL; t = t->next) {
      const sb_json_t *name = sb_json_get(t, "name");
      const sb_json_t *desc = sb_json_get(t, "description");
      const sb_json_t *schema = sb_json_get(t, "input_schema");
      sb_jw_obj_begin(&w);
      sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("function"));
      sb_jw_key_lit(&w, "function");
      sb_jw_obj_begin(&w);
      sb_jw_key_lit(&w, "name");
      if (name != NULL)
        sb_jw_value(&w, name);
      else
        sb_jw_null(&w);
      sb_jw_key_lit(&w, "description");
      if (sb_json_truthy(desc))
        sb_jw_value(&w, desc);
      else
        sb_jw_str_lit(&w, "");
      sb_jw_key_lit(&w, "parameters");
      if (sb_json_truthy(schema))
        sb_jw_value(&w, schema);
      else
        sb_jw_raw(&w, SB_STRLIT("{\"type\":\"object\",\"properties\":{}}"));
      sb_jw_obj_end(&w);
      sb_jw_obj_end(&w);
    }
  }
  sb_jw_arr_end(&w);
  /* max_tokens: .params.max_tokens // 4096 */
  sb_jw_key_lit(&w, "max_tokens");
  if (sb_json_truthy(max_tokens))
    sb_jw_value(&w, max_tokens);
  else
    sb_jw_int(&w, 4096);
  /* temperature: .params.temperature // 0 */
  sb_jw_key_lit(&w, "temperature");
  if (sb_json_truthy(temperature))
    sb_jw_value(&w, temperature);
  else
    sb_jw_int(&w, 0);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}

/* input: (((.function.arguments // "{}") | (if type == "string" then
 * (fromjson? // {}) else . end)) // {}) */
static void write_input(sb_arena_t *a, sb_jw_t *w, const sb_json_t *args)
{
  if (!sb_json_truthy(args)) {
    sb_jw_raw(w, SB_STRLIT("{}")); /* "{}" | fromjson */
    return;
  }
  if (args->type != SB_JSON_STRING) {
    sb_jw_value(w, args); /* an object (or any non-string) is kept */
    return;
  }
  sb_slice_t text;
  sb_json_t *parsed;
  if (sb_json_string(a, args, &text) != SB_OK ||
      sb_json_parse(a, text.ptr, text.len, 0, &parsed, NULL) != SB_OK ||
      !sb_json_truthy(parsed)) {
    sb_jw_raw(w, SB_STRLIT("{}"));
    return;
  }
  sb_jw_value(w, parsed);
}

sb_status_t sb_skill_chat_reply(sb_arena_t *a, const sb_json_t *r,
                                const sb_json_t *usage, sb_buf_t *out)
{
  const sb_json_t *choice = sb_json_at(sb_json_get(r, "choices"), 0);
  const sb_json_t *message = sb_json_get(choice, "message");
  const sb_json_t *content = sb_json_get(message, "content");
  const sb_json_t *calls = sb_json_get(message, "tool_calls");
  const sb_json_t *finish = sb_json_get(choice, "finish_reason");
  const sb_json_t *pt = sb_json_get(usage, "prompt_tokens");
  const sb_json_t *ct = sb_json_get(usage, "completion_tokens");
  sb_jw_t w;
  sb_jw_init(&w, out);
  sb_jw_obj_begin(&w);
  /* content: (.choices[0].message.content // null) */
  sb_jw_key_lit(&w, "content");
  if (sb_json_truthy(content))
    sb_jw_value(&w, content);
  else
    sb_jw_null(&w);
  /* tool_calls: [(.choices[0].message.tool_calls // [])[] | {id: .id, name:
   * .function.name, input: ...}] */
  sb_jw_key_lit(&w, "tool_calls");
  sb_jw_arr_begin(&w);
  if (sb_json_truthy(calls) && iterable(calls)) {
    for (const sb_json_t *tc = calls->child; tc != NULL; tc = tc->next) {
      const sb_json_t *id = sb_json_get(tc, "id");
      const sb_json_t *fn = sb_json_get(tc, "function");
      const sb_json_t *name = sb_json_get(fn, "name");
      sb_jw_obj_begin(&w);
      sb_jw_key_lit(&w, "id");
      if (id != NULL)
        sb_jw_value(&w, id);
      else
        sb_jw_null(&w);
      sb_jw_key_lit(&w, "name");
      if (name != NULL)
        sb_jw_value(&w, name);
      else
        sb_jw_null(&w);
      sb_jw_key_lit(&w, "input");
      write_input(a, &w, sb_json_get(fn, "arguments"));
      sb_jw_obj_end(&w);
    }
  }
  sb_jw_arr_end(&w);
  /* stop_reason: tool_calls -> tool_use, length -> max_tokens, else
   * end_turn */
  sb_jw_key_lit(&w, "stop_reason");
  if (SB_JSON_STR_IS(finish, "tool_calls"))
    sb_jw_str_lit(&w, "tool_use");
  else if (SB_JSON_STR_IS(finish, "length"))
    sb_jw_str_lit(&w, "max_tokens");
  else
    sb_jw_str_lit(&w, "end_turn");
  /* usage: {input_tokens: (.usage.prompt_tokens // 0), output_tokens:
   * (.usage.completion_tokens // 0)} */
  sb_jw_key_lit(&w, "usage");
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "input_tokens");
  if (sb_json_truthy(pt))
    sb_jw_value(&w, pt);
  else
    sb_jw_int(&w, 0);
  sb_jw_key_lit(&w, "output_tokens");
  if (sb_json_truthy(ct))
    sb_jw_value(&w, ct);
  else
    sb_jw_int(&w, 0);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  return sb_jw_status(&w);
}
