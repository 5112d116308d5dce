/* SPDX-License-Identifier: MIT */
/*
 * The skill's params -> the hub request, as `rest.body` builds an OpenAI
 * chat body from them:
 *
 *   model:       .params.model
 *   messages:    if .params.system then ([{role: "system", content:
 *                .params.system}] + .params.messages) else .params.messages end
 *   tools:       (.params.tools // []) | map({type: "function", function:
 *                {name: .name, description: (.description // ""),
 *                parameters: (.input_schema // {type: "object",
 *                properties: {}})}})
 *   max_tokens:  .params.max_tokens // 4096
 *   temperature: .params.temperature // 0
 *
 * Nothing else in the params reaches the hub. The params are checked
 * against the seed's declared types first (model and messages required,
 * the messages as the chat door checks them; system a string; tools an
 * array of {name, description, input_schema}; max_tokens an integer,
 * temperature a number in the chat door's range); what jq's `//` and `if`
 * take as absent (null, false) is absent here too. The messages are
 * decoded by the OpenAI chat door. max_tokens 0 is kept, as jq keeps it
 * (the chat door refuses it): the hub's 0 is "no cap asked", so the
 * provider's default applies.
 */
#include <stdarg.h>
#include <stdio.h>

#include "formats/openai/chat_validate.h"
#include "skill.h"

#define MAX_TOKENS_CAP 2147483647

static sb_status_t refuse(char *why, size_t whylen, const char *fmt, ...)
    SB_PRINTF(3, 4);

static sb_status_t refuse(char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return SB_DECLINED;
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

static sb_status_t check(const sb_json_t *params, char *why, size_t whylen)
{
  if (!sb_json_is(params, SB_JSON_OBJECT))
    return refuse(why, whylen, "the body must be a JSON object of params");
  const sb_json_t *system = sb_json_get(params, "system");
  const sb_json_t *tools = sb_json_get(params, "tools");
  const sb_json_t *max_tokens = sb_json_get(params, "max_tokens");
  const sb_json_t *temperature = sb_json_get(params, "temperature");
  if (!sb_json_is(sb_json_get(params, "model"), SB_JSON_STRING))
    return refuse(why, whylen, "'model' is required and must be a string");
  const sb_json_t *messages = sb_json_get(params, "messages");
  if (!sb_json_is(messages, SB_JSON_ARRAY))
    return refuse(why, whylen, "'messages' is required and must be an array");
  if (messages->count > 0 &&
      sb_chat_validate_messages(messages, why, whylen) != SB_OK)
    return SB_DECLINED;
  if (sb_json_truthy(system) && system->type != SB_JSON_STRING)
    return refuse(why, whylen, "'system' must be a string");
  if (sb_json_truthy(tools)) {
    if (tools->type != SB_JSON_ARRAY)
      return refuse(why, whylen, "'tools' must be an array of {name, "
                                 "description, input_schema}");
    size_t i = 0;
    for (const sb_json_t *t = tools->child; t != NULL; t = t->next, i++) {
      const char *p = tool_problem(t);
      if (p != NULL)
        return refuse(why, whylen, "'tools[%zu]' %s", i, p);
    }
  }
  int64_t n;
  if (sb_json_truthy(max_tokens) &&
      (sb_json_int64(max_tokens, &n) != SB_OK || n < 0 || n > MAX_TOKENS_CAP))
    return refuse(why, whylen,
                  "'max_tokens' must be an integer between 0 and %d",
                  MAX_TOKENS_CAP);
  if (sb_json_truthy(temperature) &&
      sb_chat_validate_member("temperature", temperature, why, whylen) != SB_OK)
    return SB_DECLINED;
  return SB_OK;
}

sb_status_t sb_skill_envelope(const sb_json_t *params, sb_arena_t *a,
                              sb_hub_req_t *req, char *why, size_t whylen)
{
  sb_status_t rc = check(params, why, whylen);
  if (rc != SB_OK)
    return rc;
  const sb_json_t *max_tokens = sb_json_get(params, "max_tokens");
  int64_t n = SB_SKILL_MAX_TOKENS;
  if (sb_json_truthy(max_tokens) && sb_json_int64(max_tokens, &n) != SB_OK)
    return SB_ERROR; /* checked above */
  if (sb_json_string(a, sb_json_get(params, "model"), &req->model) != SB_OK)
    return SB_ERROR;
  req->door_format = "skill";
  req->native = params;
  req->native_raw = params->raw;
  req->models = NULL;
  req->provider = NULL;
  req->stream = false;
  req->max_tokens = n;
  return SB_OK;
}

/* ---- decode ------------------------------------------------------------------ */

/* The messages, decoded by the OpenAI chat door from a body that holds
 * them alone (so that nothing else in the params is read as a chat
 * member), after the system message when there is one. */
static sb_status_t messages(sb_hub_req_t *req, sb_arena_t *a, char *why,
                            size_t whylen)
{
  const sb_json_t *params = req->native;
  const sb_json_t *list = sb_json_get(params, "messages");
  const sb_json_t *system = sb_json_get(params, "system");
  char *text = sb_arena_alloc(a, list->raw.len + 16);
  sb_json_t *body;
  if (text == NULL)
    return SB_ERROR;
  size_t n = 0;
  memcpy(text, "{\"messages\":", 12);
  n += 12;
  memcpy(text + n, list->raw.ptr, list->raw.len);
  n += list->raw.len;
  text[n++] = '}';
  if (sb_json_parse(a, text, n, 0, &body, NULL) != SB_OK)
    return SB_ERROR;
  sb_hub_req_t chat;
  memset(&chat, 0, sizeof(chat));
  chat.door_format = "openai";
  chat.native = body;
  chat.native_raw = sb_slice(text, n);
  sb_status_t rc = sb_codec_openai.door->decode(&chat, a, why, whylen);
  if (rc != SB_OK)
    return rc;
  bool has_system = sb_json_truthy(system);
  sb_hub_msg_t *m =
      sb_arena_calloc(a, (chat.n_msgs + 1) * sizeof(*m));
  if (m == NULL)
    return SB_ERROR;
  if (has_system) {
    sb_hub_block_t *b = sb_arena_calloc(a, sizeof(*b));
    if (b == NULL)
      return SB_ERROR;
    b->kind = SB_HUB_TEXT;
    b->text = sb_json_str_raw(system);
    m[0].role = SB_HUB_SYSTEM;
    m[0].blocks = b;
    m[0].n_blocks = 1;
    m[0].plain = true; /* {role: "system", content: .params.system} */
  }
  if (chat.n_msgs > 0)
    memcpy(m + has_system, chat.msgs, chat.n_msgs * sizeof(*m));
  req->msgs = m;
  req->n_msgs = chat.n_msgs + has_system;
  return SB_OK;
}

static sb_status_t tools(sb_hub_req_t *req, sb_arena_t *a)
{
  req->tools_given = true; /* (.params.tools // []): always a list */
  const sb_json_t *list = sb_json_get(req->native, "tools");
  if (!sb_json_truthy(list) || list->count == 0)
    return SB_OK;
  sb_hub_tool_t *t = sb_arena_calloc(a, list->count * sizeof(*t));
  if (t == NULL)
    return SB_ERROR;
  size_t n = 0;
  for (const sb_json_t *x = list->child; x != NULL; x = x->next, n++) {
    const sb_json_t *desc = sb_json_get(x, "description");
    const sb_json_t *schema = sb_json_get(x, "input_schema");
    t[n].kind = SB_HUB_TOOL_FUNCTION;
    t[n].name = sb_json_str_raw(sb_json_get(x, "name"));
    t[n].description =
        sb_json_truthy(desc) ? sb_json_str_raw(desc) : SB_SLICE_LIT("");
    t[n].parameters = sb_json_truthy(schema)
                          ? schema->raw
                          : SB_SLICE_LIT("{\"type\":\"object\",\"properties\":{}}");
    t[n].strict = -1;
  }
  req->tools = t;
  req->n_tools = n;
  return SB_OK;
}

sb_status_t sb_skill_decode(sb_hub_req_t *req, sb_arena_t *a, char *why,
                            size_t whylen)
{
  if (req->decoded)
    return SB_OK;
  sb_status_t rc = messages(req, a, why, whylen);
  if (rc != SB_OK)
    return rc;
  if (tools(req, a) != SB_OK)
    return SB_ERROR;
  const sb_json_t *temperature = sb_json_get(req->native, "temperature");
  req->temperature.set = true;
  if (sb_json_truthy(temperature)) {
    req->temperature.raw = temperature->raw;
    if (sb_json_double(temperature, &req->temperature.value) != SB_OK)
      return SB_ERROR; /* checked by the envelope */
  } else {
    req->temperature.raw = SB_SLICE_LIT("0");
    req->temperature.value = 0;
  }
  req->choice = SB_HUB_CHOICE_UNSET;
  req->parallel_tool_calls = -1;
  req->response_format = SB_HUB_FORMAT_UNSET;
  req->schema_strict = -1;
  req->reasoning.enabled = -1;
  req->decoded = true;
  return SB_OK;
}
