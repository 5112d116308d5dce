/*
 * POST /v1/chat/completions (and /api/v1/...): the OpenAI / OpenRouter
 * chat API. Decodes and checks the request, then runs a call whose sink
 * writes OpenAI JSON or SSE back to the client.
 */
#include <stdio.h>

#include "api/chat_validate.h"
#include "endpoint.h"

/* ---- the OpenAI sink ---------------------------------------------------- */

static void chat_response(sb_call_t *c, sb_slice_t json)
{
  sb_http_header_t h = sb_api_gen_header(c);
  sb_http_respond(c->x, 200, &h, 1, "application/json", json);
}

static sb_status_t chat_stream_begin(sb_call_t *c)
{
  sb_http_header_t h[] = {
      sb_api_gen_header(c),
      {SB_SLICE_LIT("Cache-Control"), SB_SLICE_LIT("no-cache")},
      {SB_SLICE_LIT("X-Accel-Buffering"), SB_SLICE_LIT("no")},
  };
  return sb_http_stream_begin(c->x, 200, "text/event-stream", h, 3);
}

static sb_status_t chat_stream_chunk(sb_call_t *c, sb_slice_t json)
{
  sb_slice_t parts[3] = {SB_SLICE_LIT("data: "), json, SB_SLICE_LIT("\n\n")};
  return sb_http_stream_write(c->x, parts, 3);
}

static void chat_stream_end(sb_call_t *c)
{
  sb_slice_t done = SB_SLICE_LIT("data: [DONE]\n\n");
  sb_http_stream_write(c->x, &done, 1);
  sb_http_stream_end(c->x);
}

static const sb_call_sink_t chat_sink = {
    .response = chat_response,
    .stream_begin = chat_stream_begin,
    .stream_chunk = chat_stream_chunk,
    .stream_end = chat_stream_end,
    .error = sb_api_call_error_openai,
    .backlogged = sb_api_call_backlogged,
};

/* ---- the endpoint -------------------------------------------------------- */

void sb_api_attribute(sb_http_exchange_t *x, const sb_identity_t *who,
                      sb_call_t *c)
{
  sb_slice_t agent = SB_HTTP_HEADER(&x->req, "x-agent");
  if (agent.len > 0)
    c->agent = sb_slice(agent.ptr, SB_MIN(agent.len, 64));
  else if (!who->local)
    c->agent = SB_NULL_SLICE;
  c->key_label = who->label;
  c->referer = SB_HTTP_HEADER(&x->req, "http-referer");
  c->title = SB_HTTP_HEADER(&x->req, "x-title");
  if (c->title.len == 0)
    c->title = SB_HTTP_HEADER(&x->req, "x-openrouter-title");
  c->app = c->title.len > 0 ? c->title : c->referer;
}

void sb_api_chat(sb_http_exchange_t *x, const sb_identity_t *who)
{
  sb_json_t *req = sb_api_parse_object(x, SB_API_OPENAI);
  if (req == NULL)
    return;
  /* Every member the schema defines, before anything goes upstream. */
  char why[512];
  if (sb_chat_validate(req, why, sizeof(why)) != SB_OK) {
    sb_api_error(x, 400, "invalid_request", "%s", why);
    return;
  }
  const sb_json_t *model = sb_json_get(req, "model");
  if (model == NULL || model->type == SB_JSON_NULL) {
    /* OpenRouter allows `models` alone: the first is the primary. */
    const sb_json_t *models = sb_json_get(req, "models");
    model = sb_json_at(models, 0);
  }
  if (!sb_json_is(model, SB_JSON_STRING)) {
    sb_api_error(x, 400, "invalid_request",
                 "'model' is required: a model id (or OpenRouter's 'models')");
    return;
  }
  sb_call_t *c = sb_call_new(x, &chat_sink, NULL);
  if (c == NULL) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }
  c->req = req;
  c->req_raw = x->req.body;
  if (sb_json_string(&x->arena, model, &c->requested_model) != SB_OK) {
    sb_api_error(x, 503, "server", "out of memory");
    return;
  }
  c->stream = sb_json_is(sb_json_get(req, "stream"), SB_JSON_TRUE);
  sb_api_attribute(x, who, c);
  sb_call_start(c);
}
