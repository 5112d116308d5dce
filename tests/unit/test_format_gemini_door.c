/* SPDX-License-Identifier: MIT */
/* The Gemini format's door through its face: Gemini bodies checked
 * (refusals named by path) and decoded into the hub (dumped), then built
 * into exact OpenAI and Anthropic requests; the pass-through path (the
 * client's body byte for byte, the model in the URL; Gemini's recorded
 * streams, cut at every byte, relayed as they came); events files into
 * the golden SSE stream, JSON array and response; OpenAI and Anthropic
 * recorded answers, cut at every byte, into Gemini streams; other
 * formats' reasoning carried in thoughtSignature and restored; errors in
 * Google's shape; countTokens; embedContent and batchEmbedContents. */
#include "format_harness.h"

#include "formats/gemini/gemini.h"

#define FIX "tests/fixtures/gemini/"

static const fmt_cfg_t gemini_cfg = {
    .format = "gemini",
    .display = "Google AI Studio",
    .base_url = "http://127.0.0.1:9",
    .model_id = "google/gemini-2.5-flash",
    .upstream_model = "gemini-2.5-flash",
    .max_output = 65535,
    .reasons = 1,
};

static const fmt_cfg_t openai_cfg = {
    .format = "openai",
    .display = "OpenAI",
    .base_url = "http://127.0.0.1:9/v1",
    .model_id = "openai/gpt-4o-mini",
    .upstream_model = "gpt-4o-mini",
    .max_output = 16384,
    .reasons = 0,
};

static const fmt_cfg_t anthropic_cfg = {
    .format = "anthropic",
    .display = "Anthropic",
    .base_url = "http://127.0.0.1:9",
    .model_id = "anthropic/claude-sonnet-4",
    .upstream_model = "claude-sonnet-4-20250514",
    .max_output = 64000,
    .reasons = 1,
};

/* A Gemini body (' for ") through the door: parsed, checked, enveloped
 * and decoded into f->req, for the model of f's route (the door takes it
 * from the URL). SB_OK, or the door's status with its reason in `why`. */
static sb_status_t door_read(fmt_t *f, const char *json, char *why,
                             size_t whylen)
{
  sb_json_t *root;
  sb_json_error_t e;
  char *copy = fmt_q(&f->arena, json);
  if (sb_json_parse(&f->arena, copy, strlen(copy), 0, &root, &e) != SB_OK)
    fail_msg("request JSON invalid at %zu: %s\n%s", e.offset, e.message, copy);
  memset(&f->req, 0, sizeof(f->req));
  why[0] = '\0';
  sb_status_t rc = sb_gemini_door.check(root, why, whylen);
  if (rc == SB_OK)
    rc = sb_gemini_door.envelope(root, &f->arena, &f->req, why, whylen);
  f->req.model = f->route.model_id;
  if (rc == SB_OK)
    rc = sb_gemini_door.decode(&f->req, &f->arena, why, whylen);
  return rc;
}

static void gemini_req(fmt_t *f, const char *json)
{
  char why[512];
  if (door_read(f, json, why, sizeof(why)) != SB_OK)
    fail_msg("the Gemini door refused the request: %s\n%s", why, json);
}

/* ---- decoding ------------------------------------------------------------------ */

static void expect_decode(const char *in, const char *want)
{
  fmt_t f;
  sb_buf_t got;
  fmt_init(&f, &gemini_cfg);
  gemini_req(&f, in);
  sb_buf_init(&got, 0);
  fmt_hub_dump(&got, &f.req);
  sb_buf_cstr(&got);
  const char *w = fmt_q(&f.arena, want);
  if (strcmp(got.data, w) != 0)
    fail_msg("request %s\ngot:\n%s\nwant:\n%s", fmt_q(&f.arena, in), got.data,
             w);
  sb_buf_free(&got);
  fmt_free(&f);
}

#define USER_Q "'contents':[{'role':'user','parts':[{'text':'q'}]}]"

static void test_decode_settings(void **state)
{
  (void)state;
  /* systemInstruction, sampling, stop, JSON output with a schema in
   * Gemini's capitals, thinking with a budget; safety settings are
   * Gemini's alone */
  expect_decode(
      "{'systemInstruction':{'role':'user','parts':[{'text':'Be terse.'},"
      "{'text':''}]},'contents':[{'role':'user','parts':[{'text':'hi'}]}],"
      "'generationConfig':{'temperature':0.5,'topP':0.9,'topK':40,"
      "'maxOutputTokens':100,'stopSequences':['END'],'candidateCount':1,"
      "'seed':7,'responseMimeType':'application/json','responseSchema':"
      "{'type':'OBJECT','properties':{'a':{'type':'STRING','nullable':true,"
      "'enum':['x','y']},'b':{'type':'ARRAY','items':{'type':'INTEGER'}}},"
      "'required':['a'],'propertyOrdering':['a','b']},'thinkingConfig':"
      "{'thinkingBudget':1024,'includeThoughts':true}},'safetySettings':"
      "[{'category':'HARM_CATEGORY_HARASSMENT','threshold':'BLOCK_NONE'}]}",
      "system\n"
      "  text 'Be terse.'\n"
      "user\n"
      "  text 'hi'\n"
      "reasoning 1 effort=unset budget=1024\n"
      "format json_schema 'response' {'type':'object','properties':{'a':"
      "{'type':['string','null'],'enum':['x','y']},'b':{'type':'array',"
      "'items':{'type':'integer'}}},'required':['a']}\n"
      "max_tokens 100\n"
      "stop 'END'\n"
      "temperature 0.5\n"
      "top_p 0.9\n"
      "top_k 40\n");
  /* JSON without a schema; thoughts not shown unless asked */
  expect_decode("{" USER_Q ",'generationConfig':{'responseMimeType':"
                "'application/json','thinkingConfig':{'thinkingBudget':-1}}}",
                "user\n"
                "  text 'q'\n"
                "reasoning 1 effort=unset budget=0 exclude\n"
                "format json\n");
  /* thinking off; an enum answer has no form elsewhere */
  expect_decode("{" USER_Q ",'generationConfig':{'responseMimeType':"
                "'text/x.enum','thinkingConfig':{'thinkingBudget':0}}}",
                "user\n"
                "  text 'q'\n"
                "reasoning 0 effort=unset budget=0\n"
                "format other\n");
}

static void test_decode_tools(void **state)
{
  (void)state;
  /* parameters in Gemini's capitals and as JSON Schema; Gemini's own
   * tools; ANY with one name is that tool; a thinking level */
  expect_decode(
      "{" USER_Q ",'tools':[{'functionDeclarations':[{'name':'get_weather',"
      "'description':'Weather','parameters':{'type':'OBJECT','properties':"
      "{'city':{'type':'STRING'},'type':{'type':'STRING','format':'enum',"
      "'enum':['a']}},'required':['city']}},{'name':'get_time',"
      "'parametersJsonSchema':{'type':'object','properties':{}}},{'name':"
      "'noop'}]},{'googleSearch':{}},{'codeExecution':{}}],'toolConfig':"
      "{'functionCallingConfig':{'mode':'ANY','allowedFunctionNames':"
      "['get_weather']}},'generationConfig':{'thinkingConfig':"
      "{'thinkingLevel':'LOW','includeThoughts':true}}}",
      "user\n"
      "  text 'q'\n"
      "tool function 'get_weather' 'Weather' {'type':'object','properties':"
      "{'city':{'type':'string'},'type':{'type':'string','format':'enum',"
      "'enum':['a']}},'required':['city']}\n"
      "tool function 'get_time' {'type':'object','properties':{}}\n"
      "tool function 'noop'\n"
      "tool native gemini 'googleSearch' {'googleSearch':{}}\n"
      "tool native gemini 'codeExecution' {'codeExecution':{}}\n"
      "choice tool 'get_weather'\n"
      "reasoning 1 effort=low budget=0\n");
  /* ANY with several names narrows the tools; NONE; AUTO */
  expect_decode("{" USER_Q ",'tools':[{'functionDeclarations':[{'name':'a'},"
                "{'name':'b'},{'name':'c'}]}],'toolConfig':"
                "{'functionCallingConfig':{'mode':'ANY',"
                "'allowedFunctionNames':['a','c']}}}",
                "user\n"
                "  text 'q'\n"
                "tool function 'a'\n"
                "tool function 'c'\n"
                "choice required\n");
  expect_decode("{" USER_Q ",'tools':[{'functionDeclarations':[{'name':'a'}]}],"
                "'toolConfig':{'functionCallingConfig':{'mode':'NONE'}}}",
                "user\n"
                "  text 'q'\n"
                "tool function 'a'\n"
                "choice none\n");
  expect_decode("{" USER_Q ",'tools':[],'toolConfig':{'functionCallingConfig':"
                "{'mode':'AUTO'}}}",
                "user\n"
                "  text 'q'\n"
                "choice auto\n");
}

/* Media, calls matched to their results by id and by name, Gemini's
 * signatures, code execution as text, a part of another kind as it is. */
static void test_decode_conversation(void **state)
{
  (void)state;
  expect_decode(
      "{'contents':["
      "{'role':'user','parts':[{'text':'weather in Paris and Rome?'},"
      "{'inlineData':{'mimeType':'image/png','data':'iVBO'}},"
      "{'fileData':{'mimeType':'application/pdf','fileUri':'https://x/a.pdf',"
      "'displayName':'a.pdf'}},{'inlineData':{'mimeType':'audio/mpeg',"
      "'data':'SUQz'}}]},"
      "{'role':'model','parts':[{'text':'Thinking...','thought':true},"
      "{'functionCall':{'name':'get_weather','args':{'city':'Paris'}},"
      "'thoughtSignature':'GSIG'},{'functionCall':{'name':'get_weather',"
      "'args':{'city':'Rome'}}},{'functionCall':{'id':'call_z','name':"
      "'lookup'}}]},"
      "{'role':'user','parts':[{'functionResponse':{'name':'get_weather',"
      "'response':{'output':'18C'}}},{'functionResponse':{'name':"
      "'get_weather','response':{'temp':20}}},{'functionResponse':{'id':"
      "'call_z','name':'lookup','response':{'error':'not found'}}},"
      "{'text':'thanks'}]},"
      "{'role':'model','parts':[{'executableCode':{'language':'PYTHON',"
      "'code':'print(1)'}},{'codeExecutionResult':{'outcome':'OUTCOME_OK',"
      "'output':'1'}},{'toolCall':{'id':'t'}}]}]}",
      "user\n"
      "  text 'weather in Paris and Rome?'\n"
      "  image media='image/png' data='iVBO'\n"
      "  file name='a.pdf' url='https://x/a.pdf' media='application/pdf'\n"
      "  audio media='mp3' data='SUQz'\n"
      "assistant\n"
      "  reasoning gemini 'Thinking...'\n"
      "  tool_call id='call_1_1' name='get_weather' args={'city':'Paris'}\n"
      "  redacted gemini id='call_1_1' data='GSIG'\n"
      "  tool_call id='call_1_2' name='get_weather' args={'city':'Rome'}\n"
      "  tool_call id='call_z' name='lookup' args={}\n"
      "tool\n"
      "  tool_result id='call_1_1' name='get_weather' '18C'\n"
      "  tool_result id='call_1_2' name='get_weather' '{\\'temp\\':20}'\n"
      "  tool_result error id='call_z' name='lookup' 'not found'\n"
      "user\n"
      "  text 'thanks'\n"
      "assistant\n"
      "  text '```python\\nprint(1)\\n```'\n"
      "  text '```output\\n1\\n```'\n"
      "  native gemini name='toolCall' {'toolCall':{'id':'t'}}\n");
  /* a result with media parts; the old role "function"; a result that
   * names no call gets an id of its own */
  expect_decode(
      "{'contents':[{'role':'function','parts':[{'functionResponse':{'name':"
      "'shot','response':{'result':'taken'},'parts':[{'inlineData':"
      "{'mimeType':'image/jpeg','data':'/9j/'}}]}}]}]}",
      "tool\n"
      "  tool_result id='call_0_0' name='shot'\n"
      "    text 'taken'\n"
      "    image media='image/jpeg' data='/9j/'\n");
}

static void test_decode_refused(void **state)
{
  (void)state;
  fmt_t f;
  char why[512];
  fmt_init(&f, &gemini_cfg);
  assert_int_equal(door_read(&f,
                             "{" USER_Q ",'cachedContent':'cachedContents/x'}",
                             why, sizeof(why)),
                   SB_DECLINED);
  assert_non_null(strstr(why, "cachedContent names a Gemini context cache"));
  fmt_free(&f);
}

/* ---- the schema check ---------------------------------------------------------- */

static void test_check(void **state)
{
  (void)state;
  static const struct {
    const char *body, *why;
  } bad[] = {
      {"{}", "contents: must not be empty"},
      {"{'contents':{}}", "contents: must be an array"},
      {"{'contents':[1]}", "contents[0]: must be an object"},
      {"{'contents':[{'role':'assistant','parts':[]}]}",
       "contents[0].role: must be one of user, model, function"},
      {"{'contents':[{'role':'user'}]}", "contents[0].parts: required"},
      {"{'contents':[{'parts':[{'text':1}]}]}",
       "contents[0].parts[0].text: must be a string"},
      {"{'contents':[{'parts':[{'text':'a','inlineData':{'mimeType':'x',"
       "'data':'y'}}]}]}",
       "contents[0].parts[0]: a part holds one of text, inlineData, fileData, "
       "functionCall, functionResponse, executableCode and "
       "codeExecutionResult (both text and inlineData given)"},
      {"{'contents':[{'parts':[{'inlineData':{'mimeType':'image/png'}}]}]}",
       "contents[0].parts[0].inlineData.data: required"},
      {"{'contents':[{'parts':[{'fileData':{'fileUri':3}}]}]}",
       "contents[0].parts[0].fileData.fileUri: must be a string"},
      {"{'contents':[{'parts':[{'functionCall':{'args':{}}}]}]}",
       "contents[0].parts[0].functionCall.name: required"},
      {"{'contents':[{'parts':[{'functionCall':{'name':'f','args':[]}}]}]}",
       "contents[0].parts[0].functionCall.args: must be an object"},
      {"{'contents':[{'parts':[{'functionResponse':{'name':'f','response':"
       "'x'}}]}]}",
       "contents[0].parts[0].functionResponse.response: must be an object"},
      {"{'contents':[{'parts':[{'thought':'yes','text':'a'}]}]}",
       "contents[0].parts[0].thought: must be a boolean"},
      {"{" USER_Q ",'systemInstruction':'be nice'}",
       "systemInstruction: must be an object"},
      {"{" USER_Q ",'generationConfig':{'temperature':3}}",
       "generationConfig.temperature: must be a number between 0 and 2"},
      {"{" USER_Q ",'generationConfig':{'maxOutputTokens':0}}",
       "generationConfig.maxOutputTokens: must be an integer between 1 and "
       "2147483647"},
      {"{" USER_Q ",'generationConfig':{'candidateCount':1.5}}",
       "generationConfig.candidateCount: must be an integer between 1 and 8"},
      {"{" USER_Q ",'generationConfig':{'stopSequences':['a','b','c','d','e',"
       "'f']}}",
       "generationConfig.stopSequences: must have at most 5 items"},
      {"{" USER_Q ",'generationConfig':{'stopSequences':[1]}}",
       "generationConfig.stopSequences: must hold strings only"},
      {"{" USER_Q ",'generationConfig':{'responseSchema':{},"
       "'responseJsonSchema':{'type':'object'}}}",
       "generationConfig: give responseSchema or responseJsonSchema, not both"},
      {"{" USER_Q ",'generationConfig':{'thinkingConfig':{'thinkingBudget':"
       "100,'thinkingLevel':'LOW'}}}",
       "generationConfig.thinkingConfig: give thinkingBudget or "
       "thinkingLevel, not both"},
      {"{" USER_Q ",'generationConfig':{'thinkingConfig':{'thinkingLevel':"
       "'EXTREME'}}}",
       "generationConfig.thinkingConfig.thinkingLevel: must be one of "
       "THINKING_LEVEL_UNSPECIFIED, MINIMAL, LOW, MEDIUM, HIGH"},
      {"{" USER_Q ",'generationConfig':{'thinkingConfig':{'thinkingBudget':"
       "-2}}}",
       "generationConfig.thinkingConfig.thinkingBudget: must be an integer "
       "between -1 and 2147483647"},
      {"{" USER_Q ",'tools':{}}", "tools: must be an array"},
      {"{" USER_Q ",'tools':[{'functionDeclarations':[{'description':'x'}]}]}",
       "tools[0].functionDeclarations[0].name: required"},
      {"{" USER_Q ",'tools':[{'functionDeclarations':[{'name':'f','parameters'"
       ":{},'parametersJsonSchema':{'type':'object'}}]}]}",
       "tools[0].functionDeclarations[0]: give parameters or "
       "parametersJsonSchema, not both"},
      {"{" USER_Q ",'toolConfig':{'functionCallingConfig':{'mode':'SOMETIMES'}"
       "}}",
       "toolConfig.functionCallingConfig.mode: must be one of "
       "MODE_UNSPECIFIED, AUTO, ANY, NONE, VALIDATED"},
      {"{" USER_Q ",'toolConfig':{'functionCallingConfig':{'mode':'AUTO',"
       "'allowedFunctionNames':['f']}}}",
       "toolConfig.functionCallingConfig: allowedFunctionNames may only be "
       "set when mode is ANY or VALIDATED"},
      {"{" USER_Q ",'safetySettings':[1]}", "safetySettings[0]: must be an object"},
      {"{" USER_Q ",'cachedContent':5}", "cachedContent: must be a string"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    fmt_t f;
    char why[512];
    fmt_init(&f, &gemini_cfg);
    if (door_read(&f, bad[i].body, why, sizeof(why)) != SB_DECLINED ||
        strcmp(why, bad[i].why) != 0)
      fail_msg("case %zu: %s\ngot  %s\nwant %s", i, bad[i].body, why,
               bad[i].why);
    fmt_free(&f);
  }
  /* what the Gemini CLI sends passes, unknown members too */
  fmt_t f;
  fmt_init(&f, &gemini_cfg);
  gemini_req(&f, "{'contents':[{'parts':[{'text':'hi'}],'role':'user'}],"
                 "'systemInstruction':{'parts':[{'text':'You are Gemini CLI'}],"
                 "'role':'user'},'tools':[{'functionDeclarations':[{'name':"
                 "'read_file','description':'Reads','parametersJsonSchema':"
                 "{'type':'object','properties':{'path':{'type':'string'}},"
                 "'required':['path']}}]}],'generationConfig':{'temperature':1,"
                 "'topP':0.95,'topK':64,'thinkingConfig':{'includeThoughts':true,"
                 "'thinkingLevel':'HIGH'}},'labels':{'x':'y'}}");
  fmt_free(&f);
}

/* ---- requests for other formats ------------------------------------------------ */

/* The request `in` decodes to, built by `cfg`'s format: `want` (' for "). */
static void expect_built(const fmt_cfg_t *cfg, const char *in,
                         const char *want)
{
  fmt_t f;
  sb_codec_request_t r;
  fmt_init(&f, cfg);
  gemini_req(&f, in);
  const sb_codec_t *codec = sb_codec_find(cfg->format);
  assert_non_null(codec);
  if (fmt_build(&f, codec->provider, false, &r) != SB_OK)
    fail_msg("%s refused: %s", cfg->format, r.error);
  sb_buf_cstr(&f.body);
  const char *w = fmt_q(&f.arena, want);
  if (strcmp(f.body.data, w) != 0)
    fail_msg("%s body\n%s\nwant\n%s", cfg->format, f.body.data, w);
  fmt_free(&f);
}

#define TOOL_TURNS                                                             \
  "'contents':[{'role':'user','parts':[{'text':'weather?'}]},{'role':'model',"  \
  "'parts':[{'text':'Checking.'},{'functionCall':{'name':'get_weather','args'" \
  ":{'city':'Paris'}}}]},{'role':'user','parts':[{'functionResponse':{'name'" \
  ":'get_weather','response':{'output':'18C'}}}]}],'systemInstruction':"       \
  "{'parts':[{'text':'Be brief.'}]},'tools':[{'functionDeclarations':[{'name'" \
  ":'get_weather','parameters':{'type':'OBJECT','properties':{'city':"          \
  "{'type':'STRING'}}}}]},{'googleSearch':{}}],'generationConfig':"            \
  "{'maxOutputTokens':64,'temperature':0.2}"

static void test_requests_built(void **state)
{
  (void)state;
  expect_built(
      &openai_cfg, "{" TOOL_TURNS "}",
      "{'model':'gpt-4o-mini','messages':[{'role':'system','content':"
      "'Be brief.'},{'role':'user','content':'weather?'},{'role':'assistant',"
      "'content':'Checking.','tool_calls':[{'id':'call_1_1','type':'function',"
      "'function':{'name':'get_weather','arguments':'{\\'city\\':"
      "\\'Paris\\'}'}}]},{'role':'tool','tool_call_id':'call_1_1','content':"
      "'18C'}],'max_tokens':64,'temperature':0.2,'tools':[{'type':'function',"
      "'function':{'name':'get_weather','parameters':{'type':'object',"
      "'properties':{'city':{'type':'string'}}}}}]}");
  expect_built(
      &anthropic_cfg, "{" TOOL_TURNS "}",
      "{'model':'claude-sonnet-4-20250514','max_tokens':64,'system':"
      "'Be brief.','messages':[{'role':'user','content':[{'type':'text',"
      "'text':'weather?'}]},{'role':'assistant','content':[{'type':'text',"
      "'text':'Checking.'},{'type':'tool_use','id':'call_1_1','name':"
      "'get_weather','input':{'city':'Paris'}}]},{'role':'user','content':"
      "[{'type':'tool_result','tool_use_id':'call_1_1','content':'18C'}]}],"
      "'tools':[{'name':'get_weather','input_schema':{'type':'object',"
      "'properties':{'city':{'type':'string'}}}}],'temperature':0.2}");
}

/* ---- the pass-through path -------------------------------------------------------- */

/* A Gemini provider gets the client's body byte for byte; only the model
 * in the URL is the route's; a stream is always SSE upstream. */
static void test_passthrough_request(void **state)
{
  (void)state;
  static const char body[] =
      "{\"contents\": [{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
      "\n \"cachedContent\":\"cachedContents/x\",\"newField\":{\"a\":[1,2]}}";
  for (int stream = 0; stream < 2; stream++) {
    fmt_t f;
    sb_codec_request_t r;
    sb_json_t *root;
    char why[256];
    fmt_init(&f, &gemini_cfg);
    f.route.upstream_model = SB_SLICE_LIT("gemini-2.5-flash-001");
    assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &root,
                                   NULL),
                     SB_OK);
    assert_int_equal(sb_gemini_envelope(root, &f.arena, &f.req, why,
                                        sizeof(why)),
                     SB_OK);
    f.req.stream = stream != 0;
    assert_int_equal(fmt_build(&f, sb_codec_gemini.provider, true, &r), SB_OK);
    assert_int_equal(f.body.len, strlen(body));
    assert_memory_equal(f.body.data, body, f.body.len);
    assert_string_equal(r.url, stream ? "http://127.0.0.1:9/v1beta/models/"
                                        "gemini-2.5-flash-001:"
                                        "streamGenerateContent?alt=sse"
                                      : "http://127.0.0.1:9/v1beta/models/"
                                        "gemini-2.5-flash-001:generateContent");
    assert_string_equal(fmt_header(&r, "accept"),
                        stream ? "text/event-stream" : "application/json");
    assert_false(f.req.decoded);
    fmt_free(&f);
  }
}

/* The data of every event of a recorded stream, framed as the door frames
 * them (`data: X\r\n\r\n`). */
static sb_status_t reframe(void *data, const sb_sse_event_t *ev)
{
  sb_buf_t *b = data;
  if (ev->data.len == 0)
    return SB_OK;
  sb_buf_append(b, SB_STRLIT("data: "));
  sb_buf_append_slice(b, ev->data);
  return sb_buf_append(b, SB_STRLIT("\r\n\r\n"));
}

/* Gemini's recorded streams through the provider on the pass-through
 * path, cut at every byte (the events they give: `.passthrough.events`),
 * then through the door's encoder: the client gets every event as it
 * came (`.relay`); a stream that failed ends with the gateway's error. */
static void test_passthrough_stream(void **state)
{
  (void)state;
  static const char *const files[] = {"plain", "tool_call", "thinking",
                                      "cache_hit", "parallel_tool_calls",
                                      "error_midstream"};
  const char *req = "{'contents':[{'role':'user','parts':[{'text':'hi'}]}]}";
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.sse", files[i]);
    fmt_check_stream(&gemini_cfg, sb_codec_gemini.provider, path,
                     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hi\"}]}",
                     true);
    fmt_check_chain_req(&gemini_cfg, sb_codec_gemini.provider,
                        &sb_gemini_encoder, gemini_req, path, req, true, true,
                        "relay");
    /* the relay is the stream as it came */
    size_t n, rn;
    char *d = read_file(path, &n);
    char rpath[300];
    snprintf(rpath, sizeof(rpath), "%s.relay", path);
    char *relay = read_file(rpath, &rn);
    assert_non_null(d);
    assert_non_null(relay);
    sb_buf_t want;
    sb_sse_parser_t p;
    sb_buf_init(&want, 0);
    sb_sse_init(&p, 1 << 20);
    p.data_join = ' ';
    sb_sse_feed(&p, d, n, reframe, &want);
    sb_sse_feed(&p, "\n\n", 2, reframe, &want);
    sb_sse_free(&p);
    if (strcmp(files[i], "error_midstream") == 0) {
      /* up to the provider's error, which the gateway's replaces */
      const char *err = strstr(want.data, "data: {\"error\"");
      assert_non_null(err);
      want.len = (size_t)(err - want.data);
      assert_true(rn > want.len);
      assert_non_null(strstr(relay + want.len, "\"status\":\"UNAVAILABLE\""));
    } else {
      assert_int_equal(rn, want.len);
    }
    assert_memory_equal(relay, want.data, want.len);
    sb_buf_free(&want);
    free(relay);
    free(d);
  }
  /* a whole body is relayed as it came */
  fmt_check_chain_req(&gemini_cfg, sb_codec_gemini.provider, &sb_gemini_encoder,
                      gemini_req, FIX "response_tools_thinking.json", req,
                      true, true, "relay");
  size_t n, rn;
  char *d = read_file(FIX "response_tools_thinking.json", &n);
  char *relay = read_file(FIX "response_tools_thinking.json.relay", &rn);
  assert_non_null(d);
  assert_non_null(relay);
  assert_int_equal(n, rn);
  assert_memory_equal(d, relay, n);
  free(d);
  free(relay);
}

/* ---- answers ---------------------------------------------------------------------- */

/* The request the encoders are begun with: thoughts shown. */
#define THOUGHTS_REQ                                                           \
  "{'contents':[{'role':'user','parts':[{'text':'hi'}]}],'generationConfig':"  \
  "{'thinkingConfig':{'includeThoughts':true}}}"

/* Events files -> the golden SSE stream (`.stream`), JSON array
 * (`.array`) and response (`.response`); a stream that failed has no
 * whole form. */
static void test_encoder(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    bool whole;
  } files[] = {
      {"encode_text", true},      {"encode_tools", true},
      {"encode_parallel", true},  {"encode_thinking", true},
      {"encode_carried", true},   {"encode_length", true},
      {"encode_empty", true},     {"encode_error", false},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.events", files[i].name);
    fmt_check_encoder_req(&openai_cfg, &sb_gemini_encoder, gemini_req,
                          THOUGHTS_REQ, path, "stream", true, false);
    fmt_check_encoder_req(&openai_cfg, &sb_gemini_array_encoder, gemini_req,
                          THOUGHTS_REQ, path, "array", true, false);
    if (files[i].whole)
      fmt_check_encoder_req(&openai_cfg, &sb_gemini_encoder, gemini_req,
                            THOUGHTS_REQ, path, "response", false, false);
  }
  /* thoughts not asked for are not shown; their signatures still ride */
  fmt_check_encoder_req(&openai_cfg, &sb_gemini_encoder, gemini_req,
                        "{'contents':[{'role':'user','parts':[{'text':'hi'}]}]}",
                        FIX "encode_thinking.events", "hidden", true, false);
}

/* Every element of a golden stream is valid JSON: each SSE event's data,
 * and the array as a whole. */
static void test_encoder_framing(void **state)
{
  (void)state;
  static const char *const files[] = {
      "encode_text",     "encode_tools",   "encode_parallel", "encode_thinking",
      "encode_carried",  "encode_length",  "encode_empty",    "encode_error"};
  for (size_t i = 0; i < SB_ARRAY_LEN(files); i++) {
    char path[256];
    size_t n;
    sb_json_error_t e;
    snprintf(path, sizeof(path), FIX "%s.events.array", files[i]);
    char *d = read_file(path, &n);
    assert_non_null(d);
    if (sb_json_validate(d, n, 0, &e) != SB_OK)
      fail_msg("%s: not JSON at %zu: %s", path, e.offset, e.message);
    free(d);
    snprintf(path, sizeof(path), FIX "%s.events.stream", files[i]);
    d = read_file(path, &n);
    assert_non_null(d);
    for (char *p = d; p < d + n;) {
      char *end = strstr(p, "\r\n\r\n");
      assert_true(strncmp(p, "data: ", 6) == 0 && end != NULL);
      if (sb_json_validate(p + 6, (size_t)(end - p - 6), 0, &e) != SB_OK)
        fail_msg("%s: an event is not JSON: %.*s", path, (int)(end - p), p);
      p = end + 4;
    }
    free(d);
  }
}

/* Other formats' answers, recorded, cut at every byte, through their
 * provider side and the Gemini door's encoder: `<fixture>.gemini`. */
static void test_other_formats(void **state)
{
  (void)state;
  static const struct {
    const fmt_cfg_t *cfg;
    const char *path;
  } answers[] = {
      {&openai_cfg, "tests/fixtures/openai/tool_call.sse"},
      {&openai_cfg, "tests/fixtures/openai/parallel_tool_calls.sse"},
      {&openai_cfg, "tests/fixtures/openai/reasoning_cached.sse"},
      {&openai_cfg, "tests/fixtures/openai/error_midstream.sse"},
      {&openai_cfg, "tests/fixtures/openai/response_tools.json"},
      {&anthropic_cfg, "tests/fixtures/anthropic/thinking.sse"},
      {&anthropic_cfg, "tests/fixtures/anthropic/tool_call.sse"},
      {&anthropic_cfg, "tests/fixtures/anthropic/error_midstream.sse"},
      {&anthropic_cfg, "tests/fixtures/anthropic/response_tools_thinking.json"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(answers); i++) {
    const sb_codec_t *codec = sb_codec_find(answers[i].cfg->format);
    fmt_check_chain_req(answers[i].cfg, codec->provider, &sb_gemini_encoder,
                        gemini_req, answers[i].path, THOUGHTS_REQ, false,
                        false, "gemini");
  }
}

/* Reasoning of other formats, handed to the client in thoughtSignature,
 * comes back from the client's next turn as it was. */
static void test_carried_round_trip(void **state)
{
  (void)state;
  size_t n;
  char *resp = read_file(FIX "encode_carried.events.response", &n);
  assert_non_null(resp);
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  sb_json_t *root;
  assert_int_equal(sb_json_parse(&a, resp, n, 0, &root, NULL), SB_OK);
  const sb_json_t *content =
      sb_json_get(sb_json_at(sb_json_get(root, "candidates"), 0), "content");
  assert_non_null(content);
  /* as a client sends its history back (its thought part kept) */
  char *body = sb_arena_printf(
      &a, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"q\"}]},%.*s]}",
      (int)content->raw.len, content->raw.ptr);
  fmt_t f;
  sb_buf_t got;
  fmt_init(&f, &anthropic_cfg);
  gemini_req(&f, body);
  sb_buf_init(&got, 0);
  fmt_hub_dump(&got, &f.req);
  sb_buf_cstr(&got);
  assert_string_equal(
      got.data,
      fmt_q(&f.arena,
            "user\n"
            "  text 'q'\n"
            "assistant\n"
            "  reasoning gemini 'Let me think.'\n"
            "  reasoning anthropic 'Let me think.' sig='SIG=='\n"
            "  redacted openai id='rs_1' data='ENC'\n"
            "  text 'Calling.'\n"
            "  tool_call id='call_g' name='get_weather' args={'city':'Rome'}\n"
            "  redacted gemini id='call_g' data='GSIG'\n"
            "  redacted anthropic data='RED'\n"
            "  text 'Done.'\n"));
  /* an Anthropic provider replays its own */
  sb_codec_request_t r;
  assert_int_equal(fmt_build(&f, sb_codec_anthropic.provider, false, &r),
                   SB_OK);
  sb_buf_cstr(&f.body);
  assert_non_null(strstr(f.body.data,
                         "{\"type\":\"thinking\",\"thinking\":\"Let me think.\","
                         "\"signature\":\"SIG==\"}"));
  assert_non_null(strstr(f.body.data,
                         "{\"type\":\"redacted_thinking\",\"data\":\"RED\"}"));
  sb_buf_free(&got);
  fmt_free(&f);
  sb_arena_destroy(&a);
  free(resp);
}

/* A signature that is not ours stays Gemini's; a sealed one that is not
 * valid JSON stays a signature too. */
static void test_opaque(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_hub_blocks_t b = {0};
  sb_arena_init(&a, 4096, 0);
  assert_int_equal(sb_gemini_rd_open(&a, SB_SLICE_LIT("CiQBcsjafE0="), &b),
                   SB_DECLINED);
  /* "sb-rd:[" with a broken tail */
  assert_int_equal(sb_gemini_rd_open(&a, SB_SLICE_LIT("c2ItcmQ6W3s="), &b),
                   SB_DECLINED);
  assert_int_equal(sb_gemini_rd_open(&a, SB_SLICE_LIT("c2ItcmQ6*"), &b),
                   SB_DECLINED);
  /* sealed, then opened: the same entries */
  sb_buf_t entries, sealed;
  sb_jw_t w;
  sb_buf_init(&entries, 0);
  sb_buf_init(&sealed, 0);
  sb_jw_init(&w, &entries);
  sb_jw_arr_begin(&w);
  sb_gemini_rd_entry(&w, false, SB_SLICE_LIT("t \\\"q\\\""),
                     SB_SLICE_LIT("S1"), SB_NULL_SLICE, SB_HUB_SIG_ANTHROPIC);
  sb_gemini_rd_entry(&w, true, SB_NULL_SLICE, SB_SLICE_LIT("D"),
                     SB_SLICE_LIT("id1"), SB_HUB_SIG_OPENAI);
  sb_jw_arr_end(&w);
  assert_int_equal(sb_gemini_rd_seal(sb_buf_slice(&entries), &sealed), SB_OK);
  assert_true(sealed.len > 10 && sealed.data[0] == '"');
  sb_slice_t sig = sb_slice(sealed.data + 1, sealed.len - 2);
  for (size_t i = 0; i < sig.len; i++)
    assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           "0123456789+/=",
                           sig.ptr[i]));
  assert_int_equal(sb_gemini_rd_open(&a, sig, &b), SB_OK);
  assert_int_equal(b.n, 2);
  assert_int_equal(b.v[0].kind, SB_HUB_REASONING);
  assert_slice_equal(b.v[0].text, "t \\\"q\\\"");
  assert_slice_equal(b.v[0].signature, "S1");
  assert_int_equal(b.v[0].sig_format, SB_HUB_SIG_ANTHROPIC);
  assert_int_equal(b.v[1].kind, SB_HUB_REDACTED);
  assert_slice_equal(b.v[1].data, "D");
  assert_slice_equal(b.v[1].id, "id1");
  assert_int_equal(b.v[1].sig_format, SB_HUB_SIG_OPENAI);
  sb_buf_free(&entries);
  sb_buf_free(&sealed);
  sb_arena_destroy(&a);
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_errors(void **state)
{
  (void)state;
  static const struct {
    int status;
    const char *name;
  } names[] = {{400, "INVALID_ARGUMENT"},   {401, "UNAUTHENTICATED"},
               {402, "FAILED_PRECONDITION"}, {403, "PERMISSION_DENIED"},
               {404, "NOT_FOUND"},          {408, "DEADLINE_EXCEEDED"},
               {413, "INVALID_ARGUMENT"},   {429, "RESOURCE_EXHAUSTED"},
               {499, "CANCELLED"},          {500, "INTERNAL"},
               {502, "UNAVAILABLE"},        {503, "UNAVAILABLE"},
               {504, "DEADLINE_EXCEEDED"},  {418, "INVALID_ARGUMENT"}};
  for (size_t i = 0; i < SB_ARRAY_LEN(names); i++)
    assert_string_equal(sb_gemini_status_name(names[i].status),
                        names[i].name);
  sb_buf_t b;
  sb_buf_init(&b, 0);
  int status = 429;
  sb_answer_error_t e = {.status = 429, .message = SB_SLICE_LIT("slow \"down\"")};
  sb_gemini_encoder.error(&e, &status, &b);
  sb_buf_cstr(&b);
  assert_int_equal(status, 429);
  assert_string_equal(b.data, "{\"error\":{\"code\":429,\"message\":\"slow "
                              "\\\"down\\\"\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
  sb_buf_free(&b);
  assert_string_equal(sb_gemini_encoder.stream_type, "text/event-stream");
  assert_string_equal(sb_gemini_array_encoder.stream_type, "application/json");
  assert_string_equal(sb_codec_gemini_array.name, "gemini");
  assert_ptr_equal(sb_codec_find("gemini"), &sb_codec_gemini);
}

/* ---- countTokens ------------------------------------------------------------------------ */

static void test_count(void **state)
{
  (void)state;
  static const struct {
    const char *body, *out;
  } cases[] = {
      {"{'contents':[{'role':'user','parts':[{'text':'Hello there, how are "
       "you?'}]}]}",
       "{'totalTokens':10,'promptTokensDetails':[{'modality':'TEXT',"
       "'tokenCount':10}]}"},
      {"{'generateContentRequest':{'model':'models/x','contents':[{'role':"
       "'user','parts':[{'text':'Hello there, how are you?'}]}],"
       "'systemInstruction':{'parts':[{'text':'Be brief, please.'}]},'tools':"
       "[{'functionDeclarations':[{'name':'f','description':'does f'}]}]}}",
       "{'totalTokens':16,'promptTokensDetails':[{'modality':'TEXT',"
       "'tokenCount':16}]}"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    fmt_t f;
    sb_json_t *root;
    char why[256];
    fmt_init(&f, &gemini_cfg);
    char *body = fmt_q(&f.arena, cases[i].body);
    assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &root,
                                   NULL),
                     SB_OK);
    assert_int_equal(sb_gemini_door.count(root, &f.arena, &f.req, &f.body, why,
                                          sizeof(why)),
                     SB_OK);
    sb_buf_cstr(&f.body);
    assert_string_equal(f.body.data, fmt_q(&f.arena, cases[i].out));
    assert_int_equal(f.req.model.len, 0); /* the URL's, the door's to set */
    fmt_free(&f);
  }
  static const struct {
    const char *body, *why;
  } bad[] = {
      {"{}", "contents: must not be empty"},
      {"{'contents':[{'parts':[{'text':'a'}]}],'generateContentRequest':"
       "{'contents':[{'parts':[{'text':'a'}]}]}}",
       "contents: give contents or generateContentRequest, not both"},
      {"{'generateContentRequest':{'contents':[{'parts':[{'text':1}]}]}}",
       "generateContentRequest.contents[0].parts[0].text: must be a string"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    fmt_t f;
    sb_json_t *root;
    char why[256];
    fmt_init(&f, &gemini_cfg);
    char *body = fmt_q(&f.arena, bad[i].body);
    assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &root,
                                   NULL),
                     SB_OK);
    assert_int_equal(sb_gemini_door.count(root, &f.arena, &f.req, &f.body, why,
                                          sizeof(why)),
                     SB_DECLINED);
    assert_string_equal(why, bad[i].why);
    fmt_free(&f);
  }
}

/* ---- embeddings --------------------------------------------------------------------------- */

static void embed_door_read(fmt_t *f, const char *json, bool batch,
                            sb_hub_embed_req_t *req)
{
  sb_json_t *root;
  char why[256];
  char *body = fmt_q(&f->arena, json);
  assert_int_equal(sb_json_parse(&f->arena, body, strlen(body), 0, &root, NULL),
                   SB_OK);
  if (sb_gemini_check_embed(root, batch, why, sizeof(why)) != SB_OK)
    fail_msg("refused: %s", why);
  memset(req, 0, sizeof(*req));
  if (sb_gemini_embed_door.decode(root, &f->arena, req, why, sizeof(why)) !=
      SB_OK)
    fail_msg("refused: %s", why);
  req->model = f->route.model_id;
}

static void test_embed(void **state)
{
  (void)state;
  static const char one[] =
      "{'content':{'parts':[{'text':'hello'},{'text':'world'}]},'taskType':"
      "'RETRIEVAL_QUERY','outputDimensionality':8}";
  static const char batch[] =
      "{'requests':[{'model':'models/x','content':{'parts':[{'text':'a'}]},"
      "'title':'T','taskType':'RETRIEVAL_DOCUMENT'},{'model':'models/x',"
      "'content':{'parts':[{'text':'b \\'q\\''}]}}]}";
  fmt_t f;
  sb_hub_embed_req_t req;
  fmt_init(&f, &openai_cfg);
  f.route.upstream_model = SB_SLICE_LIT("text-embedding-3-small");
  /* one content: its texts joined, for an OpenAI model */
  embed_door_read(&f, one, false, &req);
  assert_int_equal(req.n_inputs, 1);
  assert_int_equal(req.dimensions, 8);
  assert_slice_equal(req.input->raw, "\"hello\\nworld\"");
  sb_codec_request_t r;
  memset(&r, 0, sizeof(r));
  r.body = &f.body;
  assert_int_equal(sb_codec_openai.embed_provider->request(&req, &f.route,
                                                           false, &f.arena, &r),
                   SB_OK);
  sb_buf_cstr(&f.body);
  assert_non_null(strstr(f.body.data, "\"input\":\"hello\\nworld\""));
  assert_non_null(strstr(f.body.data, "\"dimensions\":8"));
  /* the answers: embedContent's and batchEmbedContents' shapes */
  static const sb_slice_t vecs[] = {SB_SLICE_LIT("[0.1,-0.2]"),
                                    SB_SLICE_LIT("[1e-3,0]")};
  sb_hub_embeddings_t e = {.vectors = vecs, .n = 1};
  sb_usage_t u = {.prompt = 3};
  sb_buf_t out;
  sb_buf_init(&out, 0);
  assert_int_equal(sb_gemini_embed_door.encode(&req, &f.names, &e,
                                               SB_NULL_SLICE, &u,
                                               SB_SLICE_LIT("0"), &f.arena,
                                               &out),
                   SB_OK);
  sb_buf_cstr(&out);
  assert_string_equal(out.data, "{\"embedding\":{\"values\":[0.1,-0.2]}}");
  embed_door_read(&f, batch, true, &req);
  assert_int_equal(req.n_inputs, 2);
  assert_slice_equal(req.input->raw, "[\"a\",\"b \\\"q\\\"\"]");
  e.n = 2;
  sb_buf_reset(&out);
  assert_int_equal(sb_gemini_embed_door.encode(&req, &f.names, &e,
                                               SB_NULL_SLICE, &u,
                                               SB_SLICE_LIT("0"), &f.arena,
                                               &out),
                   SB_OK);
  sb_buf_cstr(&out);
  assert_string_equal(out.data, "{\"embeddings\":[{\"values\":[0.1,-0.2]},"
                                "{\"values\":[1e-3,0]}]}");
  sb_buf_free(&out);
  fmt_free(&f);

  /* a Gemini provider gets the client's requests, each with its model */
  fmt_init(&f, &gemini_cfg);
  f.route.upstream_model = SB_SLICE_LIT("gemini-embedding-001");
  for (int k = 0; k < 2; k++) {
    embed_door_read(&f, k == 0 ? one : batch, k == 1, &req);
    memset(&r, 0, sizeof(r));
    sb_buf_reset(&f.body);
    r.body = &f.body;
    assert_int_equal(sb_codec_gemini.embed_provider->request(
                         &req, &f.route, true, &f.arena, &r),
                     SB_OK);
    sb_buf_cstr(&f.body);
    assert_string_equal(
        f.body.data,
        fmt_q(&f.arena,
              k == 0 ? "{'requests':[{'content':{'parts':[{'text':'hello'},"
                       "{'text':'world'}]},'taskType':'RETRIEVAL_QUERY',"
                       "'outputDimensionality':8,'model':"
                       "'models/gemini-embedding-001'}]}"
                     : "{'requests':[{'model':'models/gemini-embedding-001',"
                       "'content':{'parts':[{'text':'a'}]},'title':'T',"
                       "'taskType':'RETRIEVAL_DOCUMENT'},{'model':"
                       "'models/gemini-embedding-001','content':{'parts':"
                       "[{'text':'b \\'q\\''}]}}]}"));
    assert_string_equal(r.url, "http://127.0.0.1:9/v1beta/models/"
                               "gemini-embedding-001:batchEmbedContents");
  }
  fmt_free(&f);

  /* refusals */
  static const struct {
    const char *body;
    bool batch;
    const char *why;
  } bad[] = {
      {"{}", false, "content: required"},
      {"{'requests':[]}", true, "requests: must not be empty"},
      {"{'requests':[{'content':{'parts':[{'text':'a'}]}},{'content':"
       "{'parts':[]}}]}",
       true, "requests[1].content: has no text to embed"},
      {"{'content':{'parts':[{'inlineData':{'mimeType':'image/png','data':"
       "'x'}}]}}",
       false, "content: has no text to embed"},
      {"{'content':{'parts':[{'text':'a'}]},'outputDimensionality':0}", false,
       "outputDimensionality: must be an integer between 1 and 65536"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    sb_json_t *root;
    char why[256];
    fmt_init(&f, &gemini_cfg);
    char *body = fmt_q(&f.arena, bad[i].body);
    assert_int_equal(sb_json_parse(&f.arena, body, strlen(body), 0, &root,
                                   NULL),
                     SB_OK);
    sb_status_t rc = sb_gemini_check_embed(root, bad[i].batch, why, sizeof(why));
    if (rc == SB_OK)
      rc = sb_gemini_embed_door.decode(root, &f.arena, &req, why, sizeof(why));
    assert_int_equal(rc, SB_DECLINED);
    if (strcmp(why, bad[i].why) != 0)
      fail_msg("case %zu: %s, want %s", i, why, bad[i].why);
    fmt_free(&f);
  }
}

/* ---- schemas ----------------------------------------------------------------------------- */

static void test_json_schema(void **state)
{
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      /* capitals, nullable, propertyOrdering; nested items and anyOf */
      {"{'type':'OBJECT','nullable':true,'properties':{'a':{'type':'ARRAY',"
       "'items':{'anyOf':[{'type':'STRING'},{'type':'NUMBER','nullable':"
       "true}]}}},'propertyOrdering':['a']}",
       "{'type':['object','null'],'properties':{'a':{'type':'array','items':"
       "{'anyOf':[{'type':'string'},{'type':['number','null']}]}}}}"},
      /* a JSON Schema stays as it is: a type list, $defs, defaults that
       * look like schemas */
      {"{'type':['string','null'],'default':{'type':'OBJECT'},'$defs':{'x':"
       "{'type':'INTEGER'}},'additionalProperties':false}",
       "{'type':['string','null'],'default':{'type':'OBJECT'},'$defs':{'x':"
       "{'type':'integer'}},'additionalProperties':false}"},
      /* a property named "type" */
      {"{'properties':{'type':{'type':'STRING'},'nullable':{'type':"
       "'BOOLEAN'}}}",
       "{'properties':{'type':{'type':'string'},'nullable':{'type':"
       "'boolean'}}}"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_json_t *s;
    sb_buf_t b;
    sb_jw_t w;
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&b, 0);
    char *in = fmt_q(&a, cases[i].in);
    assert_int_equal(sb_json_parse(&a, in, strlen(in), 0, &s, NULL), SB_OK);
    sb_jw_init(&w, &b);
    assert_int_equal(sb_gemini_json_schema(&w, s), SB_OK);
    sb_buf_cstr(&b);
    assert_string_equal(b.data, fmt_q(&a, cases[i].out));
    sb_buf_free(&b);
    sb_arena_destroy(&a);
  }
  /* nested too deeply */
  sb_arena_t a;
  sb_buf_t deep, b;
  sb_json_t *s;
  sb_jw_t w;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&deep, 0);
  sb_buf_init(&b, 0);
  for (int i = 0; i < 40; i++)
    sb_buf_appendz(&deep, "{\"items\":");
  sb_buf_appendz(&deep, "{}");
  for (int i = 0; i < 40; i++)
    sb_buf_appendz(&deep, "}");
  assert_int_equal(sb_json_parse(&a, deep.data, deep.len, 0, &s, NULL), SB_OK);
  sb_jw_init(&w, &b);
  assert_int_equal(sb_gemini_json_schema(&w, s), SB_ERROR);
  sb_buf_free(&deep);
  sb_buf_free(&b);
  sb_arena_destroy(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_settings),
      cmocka_unit_test(test_decode_tools),
      cmocka_unit_test(test_decode_conversation),
      cmocka_unit_test(test_decode_refused),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_requests_built),
      cmocka_unit_test(test_passthrough_request),
      cmocka_unit_test(test_passthrough_stream),
      cmocka_unit_test(test_encoder),
      cmocka_unit_test(test_encoder_framing),
      cmocka_unit_test(test_other_formats),
      cmocka_unit_test(test_carried_round_trip),
      cmocka_unit_test(test_opaque),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_count),
      cmocka_unit_test(test_embed),
      cmocka_unit_test(test_json_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
