/* SPDX-License-Identifier: MIT */
/* OpenAI's Responses API through its face, both directions:
 * - provider side (the pass-through path): recorded Responses streams
 *   (tests/fixtures/responses/, .sse) cut at every byte and whole bodies
 *   (.json) -> golden `.passthrough.events`, and through the door's
 *   encoder -> the client's bytes (`.passthrough.stream` / `.response`:
 *   ids and model rewritten, the gateway's cost in the usage); the
 *   request's body (model, previous_response_id, routing members, what
 *   only switchboard reads in `input`);
 * - door side: Responses bodies -> the hub (messages, tools, settings),
 *   the schema's refusals and a Codex-shaped request accepted; events
 *   files (encode_*.events) -> golden streams (`.stream`) and response
 *   objects (`.response`); every golden stream's framing; another
 *   format's reasoning round-tripped through encrypted_content; the
 *   dropped-tools header; what the stored responses keep and continue.
 * JSON in the tables is written with ' for " to stay readable. */
#include "format_harness.h"

#include "formats/openai/responses.h"
#include "switchboard/responses.h"

static const fmt_cfg_t cfg = {
    .format = "openai",
    .display = "OpenAI",
    .base_url = "http://127.0.0.1:9/v1",
    .model_id = "openai/gpt-4.1",
    .upstream_model = "gpt-4.1-2025-04-14",
    .quirks = SB_QUIRK_RESPONSES_API,
};

#define FIX "tests/fixtures/responses/"
#define STREAM_REQ                                                             \
  "{\"model\":\"openai/gpt-4.1\",\"stream\":true,\"messages\":[{\"role\":"     \
  "\"user\",\"content\":\"hi\"}]}"

/* ' -> " in a copy in the arena */
static char *q(sb_arena_t *a, const char *s)
{
  char *d = sb_arena_strndup(a, s, strlen(s));
  for (char *p = d; *p; p++)
    if (*p == '\'')
      *p = '"';
  return d;
}

/* A Responses body (with ') through the door into f->req: its check, its
 * envelope and, with `decode`, the rest. The door's status; `why` says
 * why it refused. */
static sb_status_t door(fmt_t *f, const char *body, bool decode, char *why,
                        size_t whylen)
{
  char *text = q(&f->arena, body);
  sb_json_t *root;
  sb_json_error_t e;
  if (sb_json_parse(&f->arena, text, strlen(text), 0, &root, &e) != SB_OK)
    fail_msg("body JSON invalid at %zu: %s\n%s", e.offset, e.message, text);
  memset(&f->req, 0, sizeof(f->req));
  sb_status_t rc = sb_responses_door.check(root, why, whylen);
  if (rc == SB_OK)
    rc = sb_responses_door.envelope(root, &f->arena, &f->req, why, whylen);
  if (rc == SB_OK && decode)
    rc = sb_responses_door.decode(&f->req, &f->arena, why, whylen);
  return rc;
}

static void door_ok(fmt_t *f, const char *body)
{
  char why[256] = "";
  if (door(f, body, true, why, sizeof(why)) != SB_OK)
    fail_msg("the door refused: %s\n%s", why, body);
}

/* ---- provider side: answers ---------------------------------------------- */

static void test_stream_transcripts(void **state)
{
  (void)state;
  static const char *const files[] = {"plain", "incomplete", "reasoning_tools",
                                      "error_event", "failed"};
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.sse", files[i]);
    fmt_check_stream(&cfg, &sb_responses_provider, path, STREAM_REQ, true);
    fmt_check_chain(&cfg, &sb_responses_provider, &sb_responses_encoder, path,
                    STREAM_REQ, true, true, "passthrough.stream");
  }
}

static void test_whole_answers(void **state)
{
  (void)state;
  static const char *const files[] = {"response_text", "response_tools",
                                      "response_incomplete", "error_body"};
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.json", files[i]);
    fmt_check_response(&cfg, &sb_responses_provider, path, STREAM_REQ, true);
    if (strcmp(files[i], "error_body") != 0)
      fmt_check_chain(&cfg, &sb_responses_provider, &sb_responses_encoder,
                      path, STREAM_REQ, true, true, "passthrough.response");
  }
}

/* Streams that break the rules end with one ERROR event; a provider of
 * Responses answers only its own door. */
static void test_stream_violations(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "data: {not json}\n\n",
      "data: [1,2]\n\n",
      "event: error\ndata: {\"type\":\"error\",\"message\":\"boom\"}\n\n",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, STREAM_REQ);
    assert_int_equal(fmt_feed(&f, &sb_responses_provider, bad[i], true), SB_ERROR);
    assert_non_null(strstr(f.dump.data, "error 502"));
    fmt_free(&f);
  }
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, STREAM_REQ);
  fmt_answer_t t;
  fmt_answer_init(&t, &f, &sb_responses_provider, false);
  sb_sse_event_t ev = {.data = SB_SLICE_LIT("{\"type\":\"x\"}")};
  assert_int_equal(sb_responses_provider.event(&t.an, &ev), SB_ERROR);
  sb_arena_destroy(&t.scratch);
  fmt_free(&f);
}

/* ---- provider side: requests ----------------------------------------------- */

typedef struct {
  const char *name;
  const char *in; /* a Responses body */
  const char *want;
} pt_case_t;

static void test_request_passthrough(void **state)
{
  (void)state;
  static const pt_case_t cases[] = {
      {"model rewritten, unknown members kept, switchboard's members out",
       "{'model':'openai/gpt-4.1','input':'hi','store':false,'include':"
       "['reasoning.encrypted_content'],'prompt_cache_key':'k1','client_metadata':"
       "{'a':'b'},'models':['anthropic/claude-3.5-haiku'],'provider':{'sort':'price'},"
       "'previous_response_id':'resp_1-x','tools':[{'type':'web_search'}]}",
       "{'model':'gpt-4.1-2025-04-14','input':'hi','store':false,'include':"
       "['reasoning.encrypted_content'],'prompt_cache_key':'k1','client_metadata':"
       "{'a':'b'},'tools':[{'type':'web_search'}]}"},
      {"another provider's reasoning and switchboard's ids left out of input",
       "{'model':'x','stream':true,'input':[{'type':'message','role':'user',"
       "'content':'q'},{'type':'reasoning','id':'rs_sb_1-x_0','summary':[{'type':"
       "'summary_text','text':'t'}],'encrypted_content':'sb-rd:{}'},{'type':"
       "'reasoning','id':'rs_abc','summary':[],'encrypted_content':'gAAA'},"
       "{'type':'function_call','id':'fc_sb_1-x_1','call_id':'c1','name':'f',"
       "'arguments':'{}'},{'type':'function_call_output','call_id':'c1','output':"
       "'ok'},{'type':'reasoning','id':'rs_sb_2-y_0','summary':[]}]}",
       "{'model':'gpt-4.1-2025-04-14','stream':true,'input':[{'type':'message',"
       "'role':'user','content':'q'},{'type':'reasoning','id':'rs_abc','summary':"
       "[],'encrypted_content':'gAAA'},{'type':'function_call','call_id':'c1',"
       "'name':'f','arguments':'{}'},{'type':'function_call_output','call_id':"
       "'c1','output':'ok'}]}"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    char why[256] = "";
    if (door(&f, cases[i].in, false, why, sizeof(why)) != SB_OK)
      fail_msg("%s: the door refused: %s", cases[i].name, why);
    sb_codec_request_t r;
    if (fmt_build(&f, &sb_responses_provider, true, &r) != SB_OK)
      fail_msg("%s: refused: %s", cases[i].name, r.error ? r.error : "");
    const char *want = q(&f.arena, cases[i].want);
    if (f.body.len != strlen(want) || memcmp(f.body.data, want, f.body.len) != 0)
      fail_msg("%s: body\n%.*s\nwant\n%s", cases[i].name, (int)f.body.len,
               f.body.data, want);
    assert_string_equal(r.url, "http://127.0.0.1:9/v1/responses");
    assert_string_equal(fmt_header(&r, "Accept"),
                        strstr(want, "'stream'") || strstr(want, "\"stream\"")
                            ? "text/event-stream"
                            : "application/json");
    fmt_free(&f);
  }
  /* not the pass-through path: refused, with the reason */
  fmt_t f;
  fmt_init(&f, &cfg);
  fmt_openai_req(&f, STREAM_REQ);
  sb_codec_request_t r;
  assert_int_equal(fmt_build(&f, &sb_responses_provider, false, &r), SB_ERROR);
  assert_non_null(strstr(r.error, "Responses door"));
  fmt_free(&f);
}

/* ---- the door: requests ------------------------------------------------------- */

static const sb_hub_block_t *block(const sb_hub_req_t *r, size_t m, size_t b)
{
  assert_true(m < r->n_msgs);
  assert_true(b < r->msgs[m].n_blocks);
  return &r->msgs[m].blocks[b];
}

static void test_decode_basic(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  door_ok(&f, "{'model':'anthropic/claude','input':'Hello','instructions':'Be "
              "brief.','max_output_tokens':64,'stream':true,'temperature':0.5,"
              "'top_p':0.9,'user':'u1','metadata':{'k':'v'},'service_tier':'flex',"
              "'models':['a/b'],'provider':{'sort':'price'},'parallel_tool_calls':"
              "false,'reasoning':{'effort':'high','summary':'auto'},'text':{'format':"
              "{'type':'json_schema','name':'out','schema':{'type':'object'},'strict':"
              "true},'verbosity':'low'}}");
  const sb_hub_req_t *r = &f.req;
  assert_slice_equal(r->model, "anthropic/claude");
  assert_true(r->stream);
  assert_int_equal(r->max_tokens, 64);
  assert_non_null(r->models);
  assert_non_null(r->provider);
  assert_int_equal(r->n_msgs, 2);
  assert_int_equal(r->msgs[0].role, SB_HUB_SYSTEM);
  assert_slice_equal(block(r, 0, 0)->text, "Be brief.");
  assert_int_equal(r->msgs[1].role, SB_HUB_USER);
  assert_true(r->msgs[1].plain);
  assert_slice_equal(block(r, 1, 0)->text, "Hello");
  assert_true(r->temperature.set && r->temperature.value == 0.5);
  assert_true(r->top_p.set);
  assert_slice_equal(r->user, "u1");
  assert_slice_equal(r->metadata, "{\"k\":\"v\"}");
  assert_slice_equal(r->service_tier, "flex");
  assert_int_equal(r->parallel_tool_calls, 0);
  assert_int_equal(r->reasoning.enabled, 1);
  assert_int_equal(r->reasoning.effort, SB_HUB_EFFORT_HIGH);
  assert_slice_equal(r->reasoning.summary, "auto");
  assert_int_equal(r->response_format, SB_HUB_FORMAT_JSON_SCHEMA);
  assert_slice_equal(r->schema_name, "out");
  assert_slice_equal(r->schema, "{\"type\":\"object\"}");
  assert_int_equal(r->schema_strict, 1);
  assert_slice_equal(r->verbosity, "low");
  fmt_free(&f);
}

/* A turn of items: an assistant's reasoning, text and parallel calls make
 * one message; each output its own tool message. */
static void test_decode_items(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  door_ok(&f,
          "{'model':'m','input':[{'role':'developer','content':'Rules.'},"
          "{'type':'message','role':'user','content':[{'type':'input_text','text':"
          "'Look:'},{'type':'input_image','image_url':'data:image/png;base64,"
          "iVBORw0=','detail':'low'},{'type':'input_image','file_id':'file-1'},"
          "{'type':'input_file','filename':'a.pdf','file_data':"
          "'data:application/pdf;base64,JVBERi0='},{'type':'input_file','file_url':"
          "'https://x/y.pdf'}]},"
          "{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text','text':"
          "'Plan'}]},{'type':'message','role':'assistant','content':[{'type':"
          "'output_text','text':'Calling.','annotations':[]}]},"
          "{'type':'function_call','call_id':'c1','name':'get','arguments':"
          "'{\\'a\\':1}'},{'type':'custom_tool_call','call_id':'c2','name':"
          "'apply_patch','input':'*** Begin Patch'},"
          "{'type':'function_call_output','call_id':'c1','output':'1'},"
          "{'type':'custom_tool_call_output','call_id':'c2','output':[{'type':"
          "'input_text','text':'done'}]},"
          "{'type':'web_search_call','id':'ws_1','status':'completed'},"
          "{'role':'user','content':'next'}]}");
  const sb_hub_req_t *r = &f.req;
  assert_int_equal(r->n_msgs, 6);
  assert_int_equal(r->msgs[0].role, SB_HUB_DEVELOPER);
  assert_int_equal(r->msgs[1].role, SB_HUB_USER);
  assert_int_equal(r->msgs[1].n_blocks, 5);
  assert_int_equal(block(r, 1, 1)->kind, SB_HUB_IMAGE);
  assert_slice_equal(block(r, 1, 1)->media_type, "image/png");
  assert_slice_equal(block(r, 1, 1)->data, "iVBORw0=");
  assert_slice_equal(block(r, 1, 1)->detail, "low");
  assert_int_equal(block(r, 1, 2)->kind, SB_HUB_FILE);
  assert_slice_equal(block(r, 1, 2)->id, "file-1");
  assert_slice_equal(block(r, 1, 3)->media_type, "application/pdf");
  assert_slice_equal(block(r, 1, 3)->name, "a.pdf");
  assert_slice_equal(block(r, 1, 4)->url, "https://x/y.pdf");
  /* the assistant's turn */
  assert_int_equal(r->msgs[2].role, SB_HUB_ASSISTANT);
  assert_int_equal(r->msgs[2].n_blocks, 4);
  assert_int_equal(block(r, 2, 0)->kind, SB_HUB_REASONING);
  assert_slice_equal(block(r, 2, 0)->text, "Plan");
  assert_int_equal(block(r, 2, 0)->sig_format, SB_HUB_SIG_NONE);
  assert_slice_equal(block(r, 2, 1)->text, "Calling.");
  assert_int_equal(block(r, 2, 2)->kind, SB_HUB_TOOL_CALL);
  assert_slice_equal(block(r, 2, 2)->id, "c1");
  assert_slice_equal(block(r, 2, 2)->args, "{\"a\":1}");
  assert_slice_equal(block(r, 2, 3)->name, "apply_patch");
  assert_slice_equal(block(r, 2, 3)->args, "{\"input\":\"*** Begin Patch\"}");
  /* the outputs, then the user again (the hosted tool's item left out) */
  assert_int_equal(r->msgs[3].role, SB_HUB_TOOL);
  assert_slice_equal(block(r, 3, 0)->id, "c1");
  assert_slice_equal(block(r, 3, 0)->text, "1");
  assert_int_equal(r->msgs[4].role, SB_HUB_TOOL);
  assert_int_equal(block(r, 4, 0)->n_parts, 1);
  assert_slice_equal(block(r, 4, 0)->parts[0].text, "done");
  assert_int_equal(r->msgs[5].role, SB_HUB_USER);
  fmt_free(&f);
}

/* Function and custom tools reach the hub; OpenAI's own tools do not. */
static void test_decode_tools(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  door_ok(&f, "{'model':'m','input':'x','tools':[{'type':'web_search'},{'type':"
              "'function','name':'get','description':'Get it','parameters':{'type':"
              "'object'},'strict':true},{'type':'namespace','name':'ns','tools':[]},"
              "{'type':'custom','name':'apply_patch','description':'Patch files',"
              "'format':{'type':'grammar','syntax':'lark','definition':'start: x'}},"
              "{'type':'file_search','vector_store_ids':['v']}],'tool_choice':{'type':"
              "'custom','name':'apply_patch'}}");
  const sb_hub_req_t *r = &f.req;
  assert_int_equal(r->n_tools, 2);
  assert_true(r->tools_given);
  assert_slice_equal(r->tools[0].name, "get");
  assert_slice_equal(r->tools[0].description, "Get it");
  assert_slice_equal(r->tools[0].parameters, "{\"type\":\"object\"}");
  assert_int_equal(r->tools[0].strict, 1);
  assert_slice_equal(r->tools[1].name, "apply_patch");
  assert_non_null(strstr(r->tools[1].parameters.ptr, "\"input\""));
  sb_slice_t d = r->tools[1].description;
  char *desc = sb_arena_strndup(&f.arena, d.ptr, d.len);
  assert_non_null(strstr(desc, "Patch files"));
  assert_non_null(strstr(desc, "lark grammar:\\nstart: x"));
  assert_int_equal(r->choice, SB_HUB_CHOICE_TOOL);
  assert_slice_equal(r->choice_name, "apply_patch");
  fmt_free(&f);

  static const struct {
    const char *choice;
    sb_hub_choice_t want;
  } choices[] = {
      {"'auto'", SB_HUB_CHOICE_AUTO},
      {"'none'", SB_HUB_CHOICE_NONE},
      {"'required'", SB_HUB_CHOICE_REQUIRED},
      {"{'type':'allowed_tools','mode':'required','tools':[]}",
       SB_HUB_CHOICE_REQUIRED},
      {"{'type':'web_search_preview'}", SB_HUB_CHOICE_AUTO},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(choices); i++) {
    char body[256];
    snprintf(body, sizeof(body), "{'model':'m','input':'x','tool_choice':%s}",
             choices[i].choice);
    fmt_init(&f, &cfg);
    door_ok(&f, body);
    assert_int_equal(f.req.choice, choices[i].want);
    fmt_free(&f);
  }
}

static void test_check_refused(void **state)
{
  (void)state;
  static const struct {
    const char *body, *why;
  } cases[] = {
      {"{'model':1}", "'model' must be a string"},
      {"{'model':'m','input':5}", "'input' must be a string or an array"},
      {"{'model':'m','input':[5]}", "'input[0]' must be an object"},
      {"{'model':'m','input':[{'role':'user','content':5}]}",
       "'input[0].content' must be a string or an array of content parts"},
      {"{'model':'m','input':[{'role':7,'content':'x'}]}", "'input[0].role'"},
      {"{'model':'m','input':[{'type':'function_call','call_id':'c','name':'f'}]}",
       "'input[0].arguments' must be a string"},
      {"{'model':'m','input':[{'type':'function_call_output','output':'x'}]}",
       "'input[0].call_id' must be a string"},
      {"{'model':'m','tools':[{'type':'function'}]}", "'tools[0].name'"},
      {"{'model':'m','tools':[{'name':'f'}]}", "'tools[0]' must be a tool object"},
      {"{'model':'m','tool_choice':'any'}", "'tool_choice'"},
      {"{'model':'m','max_output_tokens':0}", "'max_output_tokens' must be an integer"},
      {"{'model':'m','temperature':3}", "'temperature' must be a number between 0 and 2"},
      {"{'model':'m','top_p':-1}", "'top_p'"},
      {"{'model':'m','text':{'format':{'type':'json_schema','schema':{}}}}",
       "'text.format.name'"},
      {"{'model':'m','reasoning':{'effort':3}}", "'reasoning.effort'"},
      {"{'model':'m','include':'x'}", "'include' must be an array of strings"},
      {"{'model':'m','metadata':{'a':1}}", "'metadata' must be an object of strings"},
      {"{'model':'m','stream':'yes'}", "'stream' must be a boolean"},
      {"{'model':'m','store':1}", "'store' must be a boolean"},
      {"{'model':'m','background':true}", "'background' responses are not supported"},
      {"{'model':'m','conversation':'conv_1'}", "previous_response_id"},
      {"{'model':'m','prompt':{'id':'p'}}", "'prompt' templates"},
      {"{'model':'m','input':[{'type':'item_reference','id':'msg_1'}]}",
       "item_reference"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    fmt_init(&f, &cfg);
    char why[256] = "";
    if (door(&f, cases[i].body, true, why, sizeof(why)) != SB_DECLINED)
      fail_msg("accepted: %s", cases[i].body);
    if (strstr(why, cases[i].why) == NULL)
      fail_msg("%s: '%s' lacks '%s'", cases[i].body, why, cases[i].why);
    fmt_free(&f);
  }
}

/* A request as the Codex CLI sends it: every member accepted, its hosted
 * and namespaced tools left to the header, its reasoning items read. */
static void test_codex_request(void **state)
{
  (void)state;
  size_t n;
  char *body = read_file(FIX "codex_request.json", &n);
  assert_non_null(body);
  fmt_t f;
  fmt_init(&f, &cfg);
  sb_json_t *root;
  assert_int_equal(sb_json_parse(&f.arena, body, n, 0, &root, NULL), SB_OK);
  char why[256] = "";
  if (sb_responses_door.check(root, why, sizeof(why)) != SB_OK)
    fail_msg("refused: %s", why);
  assert_int_equal(sb_responses_door.envelope(root, &f.arena, &f.req, why,
                                              sizeof(why)),
                   SB_OK);
  assert_int_equal(sb_responses_door.decode(&f.req, &f.arena, why, sizeof(why)),
                   SB_OK);
  assert_true(f.req.stream);
  assert_int_equal(f.req.n_tools, 2); /* exec_command and apply_patch */
  void *st = sb_arena_calloc(&f.arena, sb_responses_encoder.state_size);
  sb_responses_encoder.begin(st, &f.arena, &f.req, &f.names, true, false);
  sb_kv_t h[4];
  assert_int_equal(sb_responses_encoder.head(st, h, 4), 1);
  assert_string_equal(h[0].name, "X-Switchboard-Dropped-Tools");
  assert_string_equal(h[0].value, "web_search, namespace");
  /* on the pass-through path the provider runs them: no header */
  sb_responses_encoder.begin(st, &f.arena, &f.req, &f.names, true, true);
  assert_int_equal(sb_responses_encoder.head(st, h, 4), 0);
  fmt_free(&f);
  free(body);
}

/* ---- the door: answers ------------------------------------------------------------ */

static void test_encoder(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    bool whole;
  } files[] = {
      {"encode_text", true},     {"encode_thinking_tools", true},
      {"encode_parallel", true}, {"encode_gemini", true},
      {"encode_redacted", true}, {"encode_length", true},
      {"encode_filter", true},   {"encode_empty", true},
      {"encode_error", false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.events", files[i].name);
    fmt_check_encoder(&cfg, &sb_responses_encoder, path, "stream", true, false);
    if (files[i].whole)
      fmt_check_encoder(&cfg, &sb_responses_encoder, path, "response", false,
                        false);
  }
}

/* The events of `path` through the encoder for the request `body` (with
 * '): the client's bytes. */
static char *encode_for(fmt_t *f, const char *body, const char *path,
                        bool stream, size_t *len)
{
  door_ok(f, body);
  void *st = sb_arena_calloc(&f->arena, sb_responses_encoder.state_size);
  sb_responses_encoder.begin(st, &f->arena, &f->req, &f->names, stream, false);
  size_t n;
  char *d = read_file(path, &n);
  assert_non_null(d);
  sb_buf_t out;
  sb_buf_init(&out, 0);
  sb_usage_t usage = {.prompt = 1, .completion = 2};
  sb_answer_end_t end = {.usage = &usage, .cost = SB_SLICE_LIT("0.5")};
  for (const char *line = d, *stop = d + n; line < stop;) {
    const char *nl = memchr(line, '\n', (size_t)(stop - line));
    const char *le = nl != NULL ? nl : stop;
    sb_hub_event_t ev;
    if (fmt_parse_event(&f->arena, line, le, &ev)) {
      if (ev.kind == SB_HUB_EV_FINISH)
        end.finish = ev.finish;
      assert_int_equal(sb_responses_encoder.event(st, &ev, &out), SB_OK);
    }
    line = le + 1;
  }
  assert_int_equal(sb_responses_encoder.end(st, &end, &out), SB_OK);
  free(d);
  *len = out.len;
  char *r = sb_arena_strndup(&f->arena, out.data, out.len);
  sb_buf_free(&out);
  return r;
}

/* A custom tool's call is a custom_tool_call item whose input is the
 * function's `input` argument, whole at its end; the request's settings
 * are echoed in the object. */
static void test_encoder_custom_tool(void **state)
{
  (void)state;
  static const char body[] =
      "{'model':'m','input':'x','instructions':'Be brief.','max_output_tokens':"
      "99,'tools':[{'type':'custom','name':'apply_patch'},{'type':'function',"
      "'name':'get'}],'store':false,'metadata':{'a':'b'},'temperature':0.2}";
  fmt_t f;
  fmt_init(&f, &cfg);
  size_t n;
  char *s = encode_for(&f, body, FIX "encode_custom.events", true, &n);
  fmt_golden(FIX "encode_custom.events", "stream", &(sb_buf_t){.data = s,
                                                              .len = n});
  fmt_free(&f);
  fmt_init(&f, &cfg);
  s = encode_for(&f, body, FIX "encode_custom.events", false, &n);
  fmt_golden(FIX "encode_custom.events", "response",
             &(sb_buf_t){.data = s, .len = n});
  sb_json_t *v;
  assert_int_equal(sb_json_parse(&f.arena, s, n, 0, &v, NULL), SB_OK);
  const sb_json_t *out = sb_json_get(v, "output");
  assert_int_equal(out->count, 2);
  const sb_json_t *c = sb_json_at(out, 0);
  assert_true(SB_JSON_STR_IS(sb_json_get(c, "type"), "custom_tool_call"));
  assert_true(SB_JSON_STR_IS(sb_json_get(c, "input"), "*** Begin Patch\n"));
  assert_true(SB_JSON_STR_IS(sb_json_get(sb_json_at(out, 1), "type"),
                             "function_call"));
  assert_true(SB_JSON_STR_IS(sb_json_get(v, "instructions"), "Be brief."));
  assert_true(sb_json_is(sb_json_get(v, "store"), SB_JSON_FALSE));
  assert_int_equal(sb_json_get(v, "tools")->count, 2);
  fmt_free(&f);
}

/* Every golden stream: "event: T" and "data: {...}" whose type is T, the
 * sequence numbers 0, 1, 2 ..., the last event terminal. */
static void test_encoder_framing(void **state)
{
  (void)state;
  static const char *const files[] = {
      "encode_text.events.stream",      "encode_thinking_tools.events.stream",
      "encode_parallel.events.stream",  "encode_gemini.events.stream",
      "encode_redacted.events.stream",  "encode_length.events.stream",
      "encode_error.events.stream",     "encode_custom.events.stream",
      "plain.sse.passthrough.stream",   "reasoning_tools.sse.passthrough.stream",
      "incomplete.sse.passthrough.stream", "error_event.sse.passthrough.stream",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    size_t n;
    snprintf(path, sizeof(path), FIX "%s", files[i]);
    char *d = read_file(path, &n);
    if (d == NULL)
      fail_msg("cannot read %s", path);
    sb_arena_t a;
    sb_arena_init(&a, 4096, 0);
    int64_t want_seq = 0;
    bool passthrough = strstr(files[i], ".sse.") != NULL;
    const char *last = NULL;
    for (char *p = d; p < d + n;) {
      char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
      assert_true(strncmp(p, "event: ", 7) == 0 && nl != NULL && end != NULL);
      assert_true(strncmp(nl + 1, "data: ", 6) == 0);
      sb_json_t *v;
      assert_int_equal(sb_json_parse(&a, nl + 7, (size_t)(end - nl - 7), 0, &v,
                                     NULL),
                       SB_OK);
      assert_true(sb_json_str_eq(sb_json_get(v, "type"), p + 7,
                                 (size_t)(nl - p - 7)));
      int64_t seq;
      assert_int_equal(sb_json_int64(sb_json_get(v, "sequence_number"), &seq),
                       SB_OK);
      if (!passthrough)
        assert_int_equal(seq, want_seq);
      want_seq = seq + 1;
      last = p + 7;
      p = end + 2;
    }
    assert_non_null(last);
    assert_true(strncmp(last, "response.completed", 18) == 0 ||
                strncmp(last, "response.incomplete", 19) == 0 ||
                strncmp(last, "response.failed", 15) == 0);
    sb_arena_destroy(&a);
    free(d);
  }
}

/* Another format's reasoning, handed out as encrypted_content, comes back
 * from the client's next turn as it was: Anthropic's thinking with its
 * signature, Gemini's signature with the call it belongs to. */
static void test_opaque_round_trip(void **state)
{
  (void)state;
  static const char *const files[] = {
      FIX "encode_thinking_tools.events.response",
      FIX "encode_gemini.events.response",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    size_t n;
    char *resp = read_file(files[i], &n);
    assert_non_null(resp);
    fmt_t f;
    fmt_init(&f, &cfg);
    sb_json_t *v;
    assert_int_equal(sb_json_parse(&f.arena, resp, n, 0, &v, NULL), SB_OK);
    /* the output items as the next request's input */
    sb_slice_t out = sb_json_get(v, "output")->raw;
    char *body = sb_arena_printf(&f.arena, "{\"model\":\"m\",\"input\":%.*s}",
                                 (int)out.len, out.ptr);
    for (char *p = body; *p; p++) /* door() reads ' as " */
      assert_true(*p != '\'');
    door_ok(&f, body);
    const sb_hub_req_t *r = &f.req;
    assert_int_equal(r->n_msgs, 1);
    assert_int_equal(r->msgs[0].role, SB_HUB_ASSISTANT);
    const sb_hub_block_t *b = block(r, 0, 0);
    if (i == 0) {
      assert_int_equal(b->kind, SB_HUB_REASONING);
      assert_int_equal(b->sig_format, SB_HUB_SIG_ANTHROPIC);
      assert_slice_equal(b->text, "Need the weather.");
      assert_slice_equal(b->signature, "EqQBCkYIB==");
      assert_slice_equal(block(r, 0, 1)->text, "Checking.");
      assert_slice_equal(block(r, 0, 2)->args, "{\"city\": \"Paris\"}");
      assert_slice_equal(block(r, 0, 3)->args, "{}");
    } else {
      assert_int_equal(b->kind, SB_HUB_REASONING);
      assert_slice_equal(b->text, "Thinking about it");
      assert_int_equal(block(r, 0, 1)->kind, SB_HUB_TOOL_CALL);
      const sb_hub_block_t *sig = block(r, 0, 2);
      assert_int_equal(sig->kind, SB_HUB_REDACTED);
      assert_int_equal(sig->sig_format, SB_HUB_SIG_GEMINI);
      assert_slice_equal(sig->id, "gemini-call-0");
      assert_slice_equal(sig->data, "CiQBj3M2sig==");
    }
    fmt_free(&f);
    free(resp);
  }
}

static void test_errors(void **state)
{
  (void)state;
  static const struct {
    int status;
    const char *type;
  } cases[] = {{400, "invalid_request_error"}, {401, "authentication_error"},
               {402, "insufficient_quota"},    {404, "invalid_request_error"},
               {429, "rate_limit_error"},      {502, "server_error"}};
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_buf_t b;
    sb_buf_init(&b, 0);
    sb_answer_error_t e = {.status = cases[i].status, .type = "x_y",
                           .message = SB_SLICE_LIT("went \"wrong\""),
                           .provider_name = i == 5 ? "openai" : NULL,
                           .upstream_status = i == 5 ? 503 : 0};
    int st = e.status;
    sb_responses_encoder.error(&e, &st, &b);
    char want[512];
    snprintf(want, sizeof(want),
             "{\"error\":{\"message\":\"went \\\"wrong\\\"\",\"type\":\"%s\","
             "\"param\":null,\"code\":\"x_y\"%s}}",
             cases[i].type,
             i == 5 ? ",\"metadata\":{\"provider_name\":\"openai\","
                      "\"provider_status\":503}"
                    : "");
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    sb_buf_free(&b);
  }
}

static void test_finish(void **state)
{
  (void)state;
  assert_int_equal(sb_responses_finish_in(SB_SLICE_LIT("completed")),
                   SB_FINISH_STOP);
  assert_int_equal(sb_responses_finish_in(SB_SLICE_LIT("max_output_tokens")),
                   SB_FINISH_LENGTH);
  assert_int_equal(sb_responses_finish_in(SB_SLICE_LIT("content_filter")),
                   SB_FINISH_CONTENT_FILTER);
  assert_int_equal(sb_responses_finish_in(SB_SLICE_LIT("failed")),
                   SB_FINISH_ERROR);
  assert_string_equal(sb_responses_finish_out(SB_FINISH_TOOL_CALLS),
                      "completed");
  assert_string_equal(sb_responses_finish_out(SB_FINISH_LENGTH),
                      "max_output_tokens");
  assert_null(sb_responses_finish_out(SB_FINISH_NONE));
}

/* ---- what the stored responses keep and continue --------------------------------- */

static void test_store_items(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  sb_json_t *v;
  const char *body = q(&f.arena,
                       "{'input':[{'role':'user','content':'hi'},{'type':'message',"
                       "'id':'msg_mine','role':'assistant','content':'yo'},"
                       "{'type':'function_call_output','call_id':'c','output':'1'}]}");
  assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &v, NULL), SB_OK);
  sb_buf_t out;
  sb_buf_init(&out, 0);
  assert_int_equal(sb_responses_input_items(v, SB_SLICE_LIT("resp_1-a"), &out),
                   SB_OK);
  const char *want = q(&f.arena,
      "[{'role':'user','content':[{'type':'input_text','text':'hi'}],'id':"
      "'msg_sb_1-a_in0','type':'message'},{'type':'message','id':'msg_mine',"
      "'role':'assistant','content':[{'type':'output_text','annotations':[],"
      "'text':'yo'}]},{'type':'function_call_output','call_id':'c','output':'1',"
      "'id':'item_sb_1-a_in2'}]");
  if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
    fail_msg("items\n%.*s\nwant\n%s", (int)out.len, out.data, want);
  /* a string input is one user message */
  const char *s = "{\"input\":\"hello\"}";
  assert_int_equal(sb_json_parse(&f.arena, s, strlen(s), 0, &v, NULL), SB_OK);
  sb_buf_reset(&out);
  assert_int_equal(sb_responses_input_items(v, SB_SLICE_LIT("resp_1-a"), &out),
                   SB_OK);
  assert_non_null(strstr(out.data, "\"role\":\"user\""));
  /* the conversation: an earlier response's input and output, then the
   * request's own input, previous_response_id kept for the echo */
  sb_buf_t conv;
  sb_buf_init(&conv, 0);
  assert_int_equal(sb_responses_history_add(&conv, sb_buf_slice(&out),
                                            SB_SLICE_LIT("{\"output\":[{\"type\":"
                                                         "\"message\",\"role\":"
                                                         "\"assistant\",\"content\":"
                                                         "\"hi!\"}]}")),
                   SB_OK);
  s = "{\"model\":\"m\",\"input\":\"again\",\"previous_response_id\":\"resp_1-a\"}";
  assert_int_equal(sb_json_parse(&f.arena, s, strlen(s), 0, &v, NULL), SB_OK);
  sb_json_t *cont;
  assert_int_equal(sb_responses_continue(&f.arena, v, sb_buf_slice(&conv), &cont),
                   SB_OK);
  const sb_json_t *in = sb_json_get(cont, "input");
  assert_int_equal(in->count, 3);
  assert_true(SB_JSON_STR_IS(sb_json_get(sb_json_at(in, 2), "content"), "again"));
  assert_true(SB_JSON_STR_IS(sb_json_get(cont, "previous_response_id"), "resp_1-a"));
  /* stored texts that are not what they should be */
  assert_int_equal(sb_responses_history_add(&conv, SB_SLICE_LIT("{}"),
                                            SB_SLICE_LIT("{\"output\":[]}")),
                   SB_ERROR);
  char id[SB_RESPONSES_ID_MAX];
  assert_int_equal(sb_responses_id("gen-17-abc", id, sizeof(id)), 11);
  assert_string_equal(id, "resp_17-abc");
  sb_buf_free(&conv);
  sb_buf_free(&out);
  fmt_free(&f);
}

static void test_count(void **state)
{
  (void)state;
  fmt_t f;
  fmt_init(&f, &cfg);
  const char *body = "{\"model\":\"m\",\"input\":\"0123456789012345678901234567"
                     "8901234567890123\",\"instructions\":\"abcd\"}";
  sb_json_t *v;
  assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &v, NULL), SB_OK);
  sb_buf_t out;
  sb_buf_init(&out, 0);
  char why[128];
  memset(&f.req, 0, sizeof(f.req));
  assert_int_equal(sb_responses_door.count(v, &f.arena, &f.req, &out, why,
                                           sizeof(why)),
                   SB_OK);
  /* 48 bytes of text (the instructions' too): 12 tokens, and 3 for the
   * user's message */
  assert_int_equal(out.len, strlen("{\"object\":\"response.input_tokens\","
                                   "\"input_tokens\":15}"));
  assert_memory_equal(out.data,
                      "{\"object\":\"response.input_tokens\",\"input_tokens\":15}",
                      out.len);
  sb_buf_free(&out);
  fmt_free(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_transcripts),
      cmocka_unit_test(test_whole_answers),
      cmocka_unit_test(test_stream_violations),
      cmocka_unit_test(test_request_passthrough),
      cmocka_unit_test(test_decode_basic),
      cmocka_unit_test(test_decode_items),
      cmocka_unit_test(test_decode_tools),
      cmocka_unit_test(test_check_refused),
      cmocka_unit_test(test_codex_request),
      cmocka_unit_test(test_encoder),
      cmocka_unit_test(test_encoder_custom_tool),
      cmocka_unit_test(test_encoder_framing),
      cmocka_unit_test(test_opaque_round_trip),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_finish),
      cmocka_unit_test(test_store_items),
      cmocka_unit_test(test_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
