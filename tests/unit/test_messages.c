/* The Anthropic Messages API translation, case by case: requests in ->
 * the exact OpenAI-shaped request; chat.completion -> the exact message;
 * chunk sequences -> the exact stream events. JSON in these tables is
 * written with ' for " (no apostrophes in the texts) to stay readable. */
#include "test_helpers.h"

#include "switchboard/api.h"

/* ' -> " in a fresh heap copy */
static char *q(const char *s)
{
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'')
      *p = '"';
  return d;
}

static sb_json_t *parse(sb_arena_t *a, const char *text)
{
  sb_json_t *v;
  sb_json_error_t e;
  if (sb_json_parse(a, text, strlen(text), 0, &v, &e) != SB_OK)
    fail_msg("bad test JSON at %zu (%s): %s", e.offset, e.message, text);
  return v;
}

/* ---- requests ------------------------------------------------------------ */

static void expect_request(const char *in, const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  char why[512];
  char *qin = q(in), *qwant = q(want);
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  sb_status_t rc = sb_messages_to_openai(&a, parse(&a, qin), false, &out, why,
                                         sizeof(why));
  if (rc != SB_OK)
    fail_msg("request %s\nrefused: %s", qin, why);
  sb_buf_cstr(&out);
  if (strcmp(out.data, qwant) != 0)
  {
    fprintf(stderr, "request %s\ngot:  %s\nwant: %s\n", qin, out.data, qwant);
    fail();
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
  free(qin);
  free(qwant);
}

static void test_request_basic(void **state)
{
  (void)state;
  expect_request("{'model':'m','max_tokens':10,'messages':[{'role':'user',"
                 "'content':'hi'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'hi'}],"
                 "'max_tokens':10}");
  /* every parameter, in the OpenAI order */
  expect_request(
      "{'model':'openai/gpt-4o-mini','system':'Be terse.','max_tokens':64,"
      "'stop_sequences':['END'],'temperature':0.5,'top_p':0.9,'top_k':40,"
      "'metadata':{'user_id':'u-1'},'stream':true,"
      "'thinking':{'type':'enabled','budget_tokens':2048},"
      "'tools':[{'name':'get_weather','description':'Weather','input_schema':"
      "{'type':'object','properties':{'city':{'type':'string'}}}}],"
      "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"
      "'messages':[{'role':'user','content':'go'}]}",
      "{'model':'openai/gpt-4o-mini','messages':[{'role':'system','content':"
      "'Be terse.'},{'role':'user','content':'go'}],'max_tokens':64,'stop':"
      "['END'],'temperature':0.5,'top_p':0.9,'top_k':40,'tools':[{'type':"
      "'function','function':{'name':'get_weather','description':'Weather',"
      "'parameters':{'type':'object','properties':{'city':{'type':'string'}}}"
      "}}],'tool_choice':'required','parallel_tool_calls':false,'reasoning':"
      "{'max_tokens':2048},'user':'u-1','stream':true}");
  /* tool_choice forms; thinking disabled and stream false leave nothing */
  expect_request("{'model':'m','max_tokens':1,'tool_choice':{'type':'tool',"
                 "'name':'f'},'thinking':{'type':'disabled'},'stream':false,"
                 "'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1,'tool_choice':{'type':'function','function':"
                 "{'name':'f'}}}");
  expect_request("{'model':'m','max_tokens':1,'tool_choice':{'type':'none'},"
                 "'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1,'tool_choice':'none'}");
  expect_request("{'model':'m','max_tokens':1,'tool_choice':{'type':'auto'},"
                 "'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1,'tool_choice':'auto'}");
}

static void test_request_blocks(void **state)
{
  (void)state;
  /* system blocks keep cache_control; images as image_url (data URL or
   * URL); text parts keep theirs */
  expect_request(
      "{'model':'m','max_tokens':5,'system':[{'type':'text','text':'A'},"
      "{'type':'text','text':'B','cache_control':{'type':'ephemeral'}}],"
      "'messages':[{'role':'user','content':[{'type':'text','text':'look',"
      "'cache_control':{'type':'ephemeral'}},{'type':'image','source':{'type':"
      "'base64','media_type':'image/png','data':'iVBOR'}},{'type':'image',"
      "'source':{'type':'url','url':'https://x.test/a.png'}}]}]}",
      "{'model':'m','messages':[{'role':'system','content':[{'type':'text',"
      "'text':'A'},{'type':'text','text':'B','cache_control':{'type':"
      "'ephemeral'}}]},{'role':'user','content':[{'type':'text','text':"
      "'look','cache_control':{'type':'ephemeral'}},{'type':'image_url',"
      "'image_url':{'url':'data:image/png;base64,iVBOR'}},{'type':'image_url',"
      "'image_url':{'url':'https://x.test/a.png'}}]}],'max_tokens':5}");
  /* a full tool turn: thinking (signature kept), text, two tool_use blocks;
   * then two results (one an error, one in blocks) and trailing text */
  expect_request(
      "{'model':'m','max_tokens':5,'messages':["
      "{'role':'user','content':'weather?'},"
      "{'role':'assistant','content':[{'type':'thinking','thinking':'Let me "
      "check.','signature':'SIG1'},{'type':'redacted_thinking','data':'ENC'},"
      "{'type':'text','text':'Checking.'},{'type':'tool_use','id':'toolu_1',"
      "'name':'get_weather','input':{'city':'Paris', 'n': [1, 2]}},{'type':"
      "'tool_use','id':'toolu_2','name':'now','input':{}}]},"
      "{'role':'user','content':[{'type':'tool_result','tool_use_id':"
      "'toolu_1','content':'sunny','is_error':true},{'type':'tool_result',"
      "'tool_use_id':'toolu_2','content':[{'type':'text','text':'12:00'},"
      "{'type':'text','text':'UTC'}]},{'type':'text','text':'thanks'}]}]}",
      "{'model':'m','messages':[{'role':'user','content':'weather?'},"
      "{'role':'assistant','content':'Checking.','tool_calls':[{'id':"
      "'toolu_1','type':'function','function':{'name':'get_weather',"
      "'arguments':'{\\'city\\':\\'Paris\\',\\'n\\':[1,2]}'}},{'id':'toolu_2',"
      "'type':'function','function':{'name':'now','arguments':'{}'}}],"
      "'reasoning_details':[{'type':'reasoning.text','text':'Let me check.',"
      "'signature':'SIG1','format':'anthropic-claude-v1','index':0},{'type':"
      "'reasoning.encrypted','data':'ENC','format':'anthropic-claude-v1',"
      "'index':1}]},{'role':'tool','tool_call_id':'toolu_1','content':"
      "'Error: sunny'},{'role':'tool','tool_call_id':'toolu_2','content':"
      "'12:00\\nUTC'},{'role':'user','content':[{'type':'text','text':"
      "'thanks'}]}],'max_tokens':5}");
  /* tool calls only: content null; results only: no user message */
  expect_request(
      "{'model':'m','max_tokens':5,'messages':[{'role':'assistant','content':"
      "[{'type':'tool_use','id':'t','name':'f','input':{}}]},{'role':'user',"
      "'content':[{'type':'tool_result','tool_use_id':'t'}]}]}",
      "{'model':'m','messages':[{'role':'assistant','content':null,"
      "'tool_calls':[{'id':'t','type':'function','function':{'name':'f',"
      "'arguments':'{}'}}]},{'role':'tool','tool_call_id':'t','content':''}],"
      "'max_tokens':5}");
  /* a detail of another format comes back exactly from its opaque form */
  expect_request(
      "{'model':'m','max_tokens':5,'messages':[{'role':'assistant','content':"
      "[{'type':'redacted_thinking','data':'sb-rd:{\\'type\\':\\'reasoning."
      "encrypted\\',\\'data\\':\\'G\\',\\'format\\':\\'google-gemini-v1\\',"
      "\\'id\\':\\'c1\\',\\'index\\':0}'}]}]}",
      "{'model':'m','messages':[{'role':'assistant','content':'',"
      "'reasoning_details':[{'type':'reasoning.encrypted','data':'G',"
      "'format':'google-gemini-v1','id':'c1','index':0}]}],'max_tokens':5}");
  /* documents as file parts: base64 (named by the title, else
   * document.pdf), URL, and plain text; cache_control kept */
  expect_request(
      "{'model':'m','max_tokens':5,'messages':[{'role':'user','content':["
      "{'type':'document','title':'r.pdf','source':{'type':'base64',"
      "'media_type':'application/pdf','data':'JVBE'}},{'type':'document',"
      "'source':{'type':'base64','media_type':'application/pdf','data':'QQ'},"
      "'cache_control':{'type':'ephemeral'}},{'type':'document','source':"
      "{'type':'url','url':'https://x.test/a.pdf'}},{'type':'document',"
      "'source':{'type':'text','media_type':'text/plain','data':'plain'}}]}]}",
      "{'model':'m','messages':[{'role':'user','content':[{'type':'file',"
      "'file':{'filename':'r.pdf','file_data':'data:application/pdf;base64,"
      "JVBE'}},{'type':'file','file':{'filename':'document.pdf','file_data':"
      "'data:application/pdf;base64,QQ'},'cache_control':{'type':'ephemeral'}},"
      "{'type':'file','file':{'file_data':'https://x.test/a.pdf'}},{'type':"
      "'text','text':'plain'}]}],'max_tokens':5}");
}

static void test_request_refused(void **state)
{
  (void)state;
  static const struct {
    const char *in, *why;
  } cases[] = {
      {"[]", "JSON object"},
      {"{'max_tokens':1,'messages':[{'role':'user','content':'x'}]}", "model"},
      {"{'model':'m','messages':[{'role':'user','content':'x'}]}",
       "max_tokens"},
      {"{'model':'m','max_tokens':0,'messages':[{'role':'user','content':'x'}]}",
       "max_tokens"},
      {"{'model':'m','max_tokens':1,'messages':[]}", "messages"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system','content':"
       "'x'}]}", "role"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':5}]}",
       "content"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':"
       "[{'type':'tool_use','id':'a','name':'b','input':{}}]}]}",
       "not supported in a user message"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'assistant','content':"
       "[{'type':'tool_use','id':'a','name':'b','input':[1]}]}]}",
       "must be an object"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':"
       "[{'type':'image','source':{'type':'file','file_id':'f'}}]}]}",
       "source type"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':"
       "[{'type':'tool_result'}]}]}", "tool_use_id"},
      {"{'model':'m','max_tokens':1,'tools':[{'type':'web_search_20250305',"
       "'name':'web_search'}],'messages':[{'role':'user','content':'x'}]}",
       "not supported"},
      {"{'model':'m','max_tokens':1,'tools':[{'name':'f'}],'messages':[{'role':"
       "'user','content':'x'}]}", "input_schema"},
      {"{'model':'m','max_tokens':1,'tool_choice':{'type':'some'},'messages':"
       "[{'role':'user','content':'x'}]}", "tool_choice"},
      {"{'model':'m','max_tokens':1,'thinking':{'type':'enabled'},'messages':"
       "[{'role':'user','content':'x'}]}", "budget_tokens"},
      {"{'model':'m','max_tokens':1,'stream':'yes','messages':[{'role':"
       "'user','content':'x'}]}", "stream"},
      {"{'model':'m','max_tokens':1,'stop_sequences':[1],'messages':[{'role':"
       "'user','content':'x'}]}", "stop_sequences"},
      {"{'model':'m','max_tokens':1,'system':[{'type':'image'}],'messages':"
       "[{'role':'user','content':'x'}]}", "system"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_buf_t out;
    char why[512];
    char *in = q(cases[i].in), *want = q(cases[i].why);
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&out, 0);
    sb_status_t rc = sb_messages_to_openai(&a, parse(&a, in), false, &out, why,
                                           sizeof(why));
    if (rc != SB_DECLINED || strstr(why, want) == NULL)
      fail_msg("case %zu %s: rc %d, why '%s' (want '%s')", i, in, rc, why,
               want);
    sb_buf_free(&out);
    sb_arena_destroy(&a);
    free(in);
    free(want);
  }
}

static void test_count_tokens(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  char *in = q("{'model':'m','system':'12345678','messages':[{'role':'user',"
               "'content':[{'type':'text','text':'abcd'},{'type':'image',"
               "'source':{'type':'url','url':'u'}}]},{'role':'assistant',"
               "'content':'ab'}]}");
  /* (8 + 4 + 2) bytes -> 4 tokens, 2 messages x 3, one image 1600 */
  assert_int_equal(sb_messages_estimate_tokens(parse(&a, in)), 4 + 6 + 1600);
  /* count_tokens does not need max_tokens */
  sb_buf_t out;
  char why[256];
  sb_buf_init(&out, 0);
  assert_int_equal(sb_messages_to_openai(&a, parse(&a, in), true, &out, why,
                                         sizeof(why)),
                   SB_OK);
  sb_buf_free(&out);
  free(in);
  sb_arena_destroy(&a);
}

/* ---- responses ----------------------------------------------------------- */

static void expect_response(const char *completion, const sb_usage_t *u,
                            const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  char *in = q(completion), *qwant = q(want);
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  assert_int_equal(sb_messages_from_openai(&a, parse(&a, in), u,
                                           SB_SLICE_LIT("\"msg_1\""),
                                           SB_SLICE_LIT("\"m\""), &out),
                   SB_OK);
  sb_buf_cstr(&out);
  if (strcmp(out.data, qwant) != 0)
  {
    fprintf(stderr, "completion %s\ngot:  %s\nwant: %s\n", in, out.data, qwant);
    fail();
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
  free(in);
  free(qwant);
}

static void test_response(void **state)
{
  (void)state;
  /* input_tokens excludes cache reads and writes */
  sb_usage_t u = {.prompt = 100, .completion = 7, .cached = 60,
                  .cache_write = 10};
  expect_response(
      "{'choices':[{'message':{'role':'assistant','content':'Hello'},"
      "'finish_reason':'stop'}]}",
      &u,
      "{'id':'msg_1','type':'message','role':'assistant','model':'m',"
      "'content':[{'type':'text','text':'Hello'}],'stop_reason':'end_turn',"
      "'stop_sequence':null,'usage':{'input_tokens':30,"
      "'cache_creation_input_tokens':10,'cache_read_input_tokens':60,"
      "'output_tokens':7}}");
  sb_usage_t u2 = {.prompt = 5, .completion = 2};
  /* tool calls: arguments parsed (invalid -> {}); thinking first, with
   * signature; an encrypted detail of another format made opaque */
  expect_response(
      "{'choices':[{'message':{'role':'assistant','content':null,"
      "'reasoning':'hmm','reasoning_details':[{'type':'reasoning.text',"
      "'text':'hm','format':'anthropic-claude-v1','index':0},{'type':"
      "'reasoning.text','text':'m','signature':'S','format':"
      "'anthropic-claude-v1','index':0},{'type':'reasoning.encrypted','data':"
      "'R','format':'anthropic-claude-v1','index':1},{'type':"
      "'reasoning.encrypted','data':'G','format':'google-gemini-v1','id':"
      "'c1','index':2}],'tool_calls':[{'id':'c1','type':'function',"
      "'function':{'name':'f','arguments':'{\\'a\\': 1}'}},{'id':'c2','type':"
      "'function','function':{'name':'g','arguments':'not json'}}]},"
      "'finish_reason':'tool_calls'}]}",
      &u2,
      "{'id':'msg_1','type':'message','role':'assistant','model':'m',"
      "'content':[{'type':'thinking','thinking':'hmm','signature':'S'},"
      "{'type':'redacted_thinking','data':'R'},{'type':'redacted_thinking',"
      "'data':'sb-rd:{\\'type\\':\\'reasoning.encrypted\\',\\'data\\':\\'G\\',"
      "\\'format\\':\\'google-gemini-v1\\',\\'id\\':\\'c1\\',\\'index\\':2}'},"
      "{'type':'tool_use','id':'c1','name':'f','input':{'a': 1}},{'type':"
      "'tool_use','id':'c2','name':'g','input':{}}],'stop_reason':'tool_use',"
      "'stop_sequence':null,'usage':{'input_tokens':5,"
      "'cache_creation_input_tokens':0,'cache_read_input_tokens':0,"
      "'output_tokens':2}}");
  /* reasoning without details; length -> max_tokens */
  expect_response(
      "{'choices':[{'message':{'content':'x','reasoning':'r'},"
      "'finish_reason':'length'}]}",
      &u2,
      "{'id':'msg_1','type':'message','role':'assistant','model':'m',"
      "'content':[{'type':'thinking','thinking':'r','signature':''},{'type':"
      "'text','text':'x'}],'stop_reason':'max_tokens','stop_sequence':null,"
      "'usage':{'input_tokens':5,'cache_creation_input_tokens':0,"
      "'cache_read_input_tokens':0,'output_tokens':2}}");
}

static void test_stop_reasons(void **state)
{
  (void)state;
  static const char *const t[][3] = {
      {"stop", "", "end_turn"},
      {"stop", "stop_sequence", "stop_sequence"},
      {"length", "", "max_tokens"},
      {"tool_calls", "", "tool_use"},
      {"content_filter", "", "refusal"},
      {"stop", "refusal", "refusal"},
      {"error", "", "end_turn"},
      {"", "", "end_turn"},
      {"stop", "STOP", "end_turn"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(t); i++)
    assert_string_equal(
        sb_messages_stop_reason(sb_slice_z(t[i][0]), sb_slice_z(t[i][1])),
        t[i][2]);
}

/* ---- streams ------------------------------------------------------------- */

/* Feed chunks (one string each, NULL-terminated), end with usage, and
 * compare with the events: each "name {json}". */
static void expect_stream(const char *const *chunks, const sb_usage_t *u,
                          const char *const *events)
{
  sb_msg_stream_t s;
  sb_buf_t all, want;
  sb_msg_stream_init(&s);
  s.j_id = SB_SLICE_LIT("\"msg_1\"");
  s.j_model = SB_SLICE_LIT("\"m\"");
  s.input_estimate = 9;
  sb_buf_init(&all, 0);
  sb_buf_init(&want, 0);
  for (size_t i = 0; chunks[i] != NULL; i++) {
    sb_arena_t a;
    char *c = q(chunks[i]);
    sb_arena_init(&a, 4096, 0);
    sb_buf_reset(&s.out);
    assert_int_equal(sb_msg_stream_chunk(&s, parse(&a, c)), SB_OK);
    sb_buf_append(&all, s.out.data, s.out.len);
    sb_arena_destroy(&a);
    free(c);
  }
  sb_buf_reset(&s.out);
  sb_msg_stream_end(&s, u);
  sb_buf_append(&all, s.out.data, s.out.len);
  for (size_t i = 0; events[i] != NULL; i++) {
    char *e = q(events[i]);
    char *sp = strchr(e, ' ');
    assert_non_null(sp);
    *sp = '\0';
    sb_buf_appendf(&want, "event: %s\ndata: %s\n\n", e, sp + 1);
    free(e);
  }
  sb_buf_cstr(&all);
  sb_buf_cstr(&want);
  if (strcmp(all.data, want.data) != 0)
  {
    fprintf(stderr, "stream\ngot:\n%s\nwant:\n%s", all.data, want.data);
    fail();
  }
  sb_buf_free(&all);
  sb_buf_free(&want);
  sb_msg_stream_free(&s);
}

#define START                                                                  \
  "message_start {'type':'message_start','message':{'id':'msg_1','type':"     \
  "'message','role':'assistant','model':'m','content':[],'stop_reason':null,"  \
  "'stop_sequence':null,'usage':{'input_tokens':9,"                            \
  "'cache_creation_input_tokens':0,'cache_read_input_tokens':0,"               \
  "'output_tokens':0}}}"
#define CH(delta, finish)                                                      \
  "{'id':'g','object':'chat.completion.chunk','choices':[{'index':0,"          \
  "'delta':" delta ",'finish_reason':" finish "}]}"
#define USAGE_CHUNK                                                            \
  "{'id':'g','choices':[],'usage':{'prompt_tokens':12,'completion_tokens':3}}"
#define STOP_EV(i) "content_block_stop {'type':'content_block_stop','index':" #i "}"
#define BLOCK_EV(i, block)                                                     \
  "content_block_start {'type':'content_block_start','index':" #i              \
  ",'content_block':" block "}"
#define TEXT_EV(i) BLOCK_EV(i, "{'type':'text','text':''}")
#define THINK_EV(i)                                                            \
  BLOCK_EV(i, "{'type':'thinking','thinking':'','signature':''}")
#define TOOL_EV(i, id, name)                                                   \
  BLOCK_EV(i, "{'type':'tool_use','id':'" id "','name':'" name "','input':{}}")
#define DELTA_EV(i, type, field, v)                                            \
  "content_block_delta {'type':'content_block_delta','index':" #i            \
  ",'delta':{'type':'" type "','" field "':'" v "'}}"
#define END_EV(reason, in, out)                                                \
  "message_delta {'type':'message_delta','delta':{'stop_reason':'" reason    \
  "','stop_sequence':null},'usage':{'input_tokens':" #in                     \
  ",'cache_creation_input_tokens':0,'cache_read_input_tokens':0,"             \
  "'output_tokens':" #out "}}",                                              \
      "message_stop {'type':'message_stop'}"

static void test_stream_text(void **state)
{
  (void)state;
  sb_usage_t u = {.prompt = 12, .completion = 3};
  const char *chunks[] = {
      CH("{'role':'assistant','content':''}", "null"),
      CH("{'content':'Hel'}", "null"),
      CH("{'content':'lo \\'q\\''}", "null"),
      CH("{}", "'stop'"),
      USAGE_CHUNK,
      NULL,
  };
  const char *events[] = {
      START,
      TEXT_EV(0),
      DELTA_EV(0, "text_delta", "text", "Hel"),
      DELTA_EV(0, "text_delta", "text", "lo \\'q\\'"),
      STOP_EV(0),
      END_EV("end_turn", 12, 3),
      NULL,
  };
  expect_stream(chunks, &u, events);
}

static void test_stream_thinking_text_tools(void **state)
{
  (void)state;
  sb_usage_t u = {.prompt = 15, .completion = 9};
  const char *chunks[] = {
      CH("{'role':'assistant','content':''}", "null"),
      CH("{'reasoning':'Think','reasoning_details':[{'type':'reasoning.text',"
         "'text':'Think','format':'anthropic-claude-v1','index':0}]}",
         "null"),
      CH("{'reasoning':'ing','reasoning_details':[{'type':'reasoning.text',"
         "'text':'ing','format':'anthropic-claude-v1','index':0}]}",
         "null"),
      CH("{'reasoning_details':[{'type':'reasoning.text','text':'',"
         "'signature':'SIG','format':'anthropic-claude-v1','index':0}]}",
         "null"),
      CH("{'content':'Sure.'}", "null"),
      CH("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
         "'function':{'name':'get','arguments':''}}]}",
         "null"),
      CH("{'tool_calls':[{'index':0,'function':{'arguments':'{\\'ci'}}]}",
         "null"),
      CH("{'tool_calls':[{'index':0,'function':{'arguments':'ty\\': 1}'}}]}",
         "null"),
      CH("{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
         "'function':{'name':'put','arguments':'{}'}}]}",
         "null"),
      CH("{}", "'tool_calls'"),
      USAGE_CHUNK,
      NULL,
  };
  const char *events[] = {
      START,
      THINK_EV(0),
      DELTA_EV(0, "thinking_delta", "thinking", "Think"),
      DELTA_EV(0, "thinking_delta", "thinking", "ing"),
      DELTA_EV(0, "signature_delta", "signature", "SIG"),
      STOP_EV(0),
      TEXT_EV(1),
      DELTA_EV(1, "text_delta", "text", "Sure."),
      STOP_EV(1),
      TOOL_EV(2, "call_a", "get"),
      DELTA_EV(2, "input_json_delta", "partial_json", "{\\'ci"),
      DELTA_EV(2, "input_json_delta", "partial_json", "ty\\': 1}"),
      STOP_EV(2),
      /* the second call waited for the first to end */
      TOOL_EV(3, "call_b", "put"),
      DELTA_EV(3, "input_json_delta", "partial_json", "{}"),
      STOP_EV(3),
      END_EV("tool_use", 15, 9),
      NULL,
  };
  expect_stream(chunks, &u, events);
}

static void test_stream_parallel_and_redacted(void **state)
{
  (void)state;
  sb_usage_t u = {.prompt = 1, .completion = 1};
  /* interleaved parallel calls: the second's pieces wait, in order */
  const char *chunks[] = {
      CH("{'reasoning_details':[{'type':'reasoning.encrypted','data':'ENC',"
         "'format':'anthropic-claude-v1','index':0}]}",
         "null"),
      CH("{'tool_calls':[{'index':0,'id':'a','type':'function','function':"
         "{'name':'f','arguments':'{\\'x'}}]}",
         "null"),
      CH("{'tool_calls':[{'index':1,'id':'b','type':'function','function':"
         "{'name':'g','arguments':'{\\'y'}}]}",
         "null"),
      CH("{'tool_calls':[{'index':0,'function':{'arguments':'\\':1}'}}]}",
         "null"),
      CH("{'tool_calls':[{'index':1,'function':{'arguments':'\\':2}'}}]}",
         "null"),
      CH("{}", "'tool_calls'"),
      NULL,
  };
  const char *events[] = {
      START,
      BLOCK_EV(0, "{'type':'redacted_thinking','data':'ENC'}"),
      STOP_EV(0),
      TOOL_EV(1, "a", "f"),
      DELTA_EV(1, "input_json_delta", "partial_json", "{\\'x"),
      DELTA_EV(1, "input_json_delta", "partial_json", "\\':1}"),
      STOP_EV(1),
      TOOL_EV(2, "b", "g"),
      DELTA_EV(2, "input_json_delta", "partial_json", "{\\'y\\':2}"),
      STOP_EV(2),
      END_EV("tool_use", 1, 1),
      NULL,
  };
  expect_stream(chunks, &u, events);
}

static void test_stream_errors(void **state)
{
  (void)state;
  sb_usage_t u = {.prompt = 1, .completion = 1};
  /* an error after some text: the error event ends the stream */
  const char *chunks[] = {
      CH("{'content':'par'}", "null"),
      "{'id':'g','error':{'code':502,'message':'provider cut'},'choices':"
      "[{'index':0,'delta':{'content':''},'finish_reason':'error'}]}",
      USAGE_CHUNK,
      NULL,
  };
  const char *events[] = {
      START,
      TEXT_EV(0),
      DELTA_EV(0, "text_delta", "text", "par"),
      "error {'type':'error','error':{'type':'api_error','message':"
      "'provider cut'}}",
      NULL,
  };
  expect_stream(chunks, &u, events);
  const char *chunks2[] = {
      CH("{'reasoning':'r'}", "null"),
      "{'error':{'code':502,'message':'Overloaded'}}",
      NULL,
  };
  const char *events2[] = {
      START,
      THINK_EV(0),
      DELTA_EV(0, "thinking_delta", "thinking", "r"),
      "error {'type':'error','error':{'type':'overloaded_error','message':"
      "'Overloaded'}}",
      NULL,
  };
  expect_stream(chunks2, &u, events2);
  /* nothing at all: still a well-formed empty message */
  const char *chunks3[] = {CH("{}", "'length'"), NULL};
  const char *events3[] = {START, END_EV("max_tokens", 1, 1), NULL};
  expect_stream(chunks3, &u, events3);
}

static void test_error_types(void **state)
{
  (void)state;
  assert_string_equal(sb_anthropic_error_type(400), "invalid_request_error");
  assert_string_equal(sb_anthropic_error_type(401), "authentication_error");
  assert_string_equal(sb_anthropic_error_type(404), "not_found_error");
  assert_string_equal(sb_anthropic_error_type(413), "request_too_large");
  assert_string_equal(sb_anthropic_error_type(429), "rate_limit_error");
  assert_string_equal(sb_anthropic_error_type(500), "api_error");
  assert_string_equal(sb_anthropic_error_type(502), "api_error");
  assert_string_equal(sb_anthropic_error_type(529), "overloaded_error");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_basic),
      cmocka_unit_test(test_request_blocks),
      cmocka_unit_test(test_request_refused),
      cmocka_unit_test(test_count_tokens),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_stop_reasons),
      cmocka_unit_test(test_stream_text),
      cmocka_unit_test(test_stream_thinking_text_tools),
      cmocka_unit_test(test_stream_parallel_and_redacted),
      cmocka_unit_test(test_stream_errors),
      cmocka_unit_test(test_error_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
