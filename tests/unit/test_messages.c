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

/* in -> the exact OpenAI-shaped request, with translation flags */
static void expect_request_flags(const char *in, unsigned flags,
                                 const char *want)
{
  sb_arena_t a;
  sb_buf_t out;
  char why[512];
  char *qin = q(in), *qwant = q(want);
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  sb_status_t rc = sb_messages_to_openai(&a, parse(&a, qin), flags, &out, why,
                                         sizeof(why));
  if (rc != SB_OK)
    fail_msg("request %s\nrefused: %s", qin, why);
  sb_buf_cstr(&out);
  if (strcmp(out.data, qwant) != 0) {
    fprintf(stderr, "request %s (flags %u)\ngot:  %s\nwant: %s\n", qin, flags,
            out.data, qwant);
    fail();
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
  free(qin);
  free(qwant);
}

static void expect_request(const char *in, const char *want)
{
  expect_request_flags(in, 0, want);
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
#define ONE_TOOL "'tools':[{'name':'f','input_schema':{'type':'object'}}],"
#define ONE_FUNCTION                                                           \
  "'tools':[{'type':'function','function':{'name':'f','parameters':{'type':"  \
  "'object'}}}],"
  expect_request("{'model':'m','max_tokens':1," ONE_TOOL "'tool_choice':{"
                 "'type':'tool','name':'f'},'thinking':{'type':'disabled'},"
                 "'stream':false,'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1," ONE_FUNCTION "'tool_choice':{'type':"
                 "'function','function':{'name':'f'}}}");
  expect_request("{'model':'m','max_tokens':1," ONE_TOOL "'tool_choice':{"
                 "'type':'none','disable_parallel_tool_use':true},'messages':"
                 "[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1," ONE_FUNCTION "'tool_choice':'none'}");
  expect_request("{'model':'m','max_tokens':1," ONE_TOOL "'tool_choice':{"
                 "'type':'auto'},'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':1," ONE_FUNCTION "'tool_choice':'auto'}");
  /* no tools: no tool_choice (OpenAI refuses one alone); max_tokens 0
   * (Anthropic's cache pre-warming) goes as it is */
  expect_request("{'model':'m','max_tokens':0,'tool_choice':{'type':'any'},"
                 "'messages':[{'role':'user','content':'x'}]}",
                 "{'model':'m','messages':[{'role':'user','content':'x'}],"
                 "'max_tokens':0}");
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

/* What Claude Code sends (its shape, shortened): adaptive thinking with the
 * thinking omitted, an effort, context_management, system blocks with
 * cache_control, a system message inside the conversation, a deferred
 * tool, a thinking block signed in an earlier turn, a tool_result with
 * cache_control. */
#define CLAUDE_CODE_REQUEST                                                    \
  "{'model':'openai/gpt-4o-mini','max_tokens':32000,'stream':true,"           \
  "'metadata':{'user_id':'{\\'session_id\\':\\'s1\\'}'},"                     \
  "'thinking':{'type':'adaptive','display':'omitted'},"                       \
  "'output_config':{'effort':'high'},"                                        \
  "'context_management':{'edits':[{'type':'clear_thinking_20251015',"         \
  "'keep':'all'}]},"                                                          \
  "'system':[{'type':'text','text':'billing'},{'type':'text','text':"         \
  "'You are an agent.','cache_control':{'type':'ephemeral'}}],"               \
  "'tools':[{'name':'Bash','description':'Run','input_schema':{'type':"       \
  "'object','properties':{'command':{'type':'string'}}}},{'name':'Later',"    \
  "'description':'Deferred','input_schema':{'type':'object'},"                \
  "'defer_loading':true,'cache_control':{'type':'ephemeral','ttl':'1h'}}],"   \
  "'messages':[{'role':'user','content':[{'type':'text','text':'run it'}]},"  \
  "{'role':'system','content':[{'type':'text','text':'# Environment',"        \
  "'cache_control':{'type':'ephemeral'}}]},"                                  \
  "{'role':'assistant','content':[{'type':'thinking','thinking':'','signature'" \
  ":'SIG'},{'type':'tool_use','id':'toolu_1','name':'Bash','input':{"         \
  "'command':'ls'}}]},"                                                       \
  "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1',"  \
  "'content':'a.txt','is_error':false,'cache_control':{'type':"               \
  "'ephemeral'}}]}]}"

static void test_request_claude_code(void **state)
{
  (void)state;
  /* the system message stays where it is; adaptive + effort high ->
   * reasoning effort high, excluded (display omitted); context_management
   * has no equivalent and is left out */
  expect_request(
      CLAUDE_CODE_REQUEST,
      "{'model':'openai/gpt-4o-mini','messages':[{'role':'system','content':"
      "[{'type':'text','text':'billing'},{'type':'text','text':"
      "'You are an agent.','cache_control':{'type':'ephemeral'}}]},"
      "{'role':'user','content':[{'type':'text','text':'run it'}]},"
      "{'role':'system','content':[{'type':'text','text':'# Environment',"
      "'cache_control':{'type':'ephemeral'}}]},"
      "{'role':'assistant','content':null,'tool_calls':[{'id':'toolu_1',"
      "'type':'function','function':{'name':'Bash','arguments':"
      "'{\\'command\\':\\'ls\\'}'}}],'reasoning_details':[{'type':"
      "'reasoning.text','text':'','signature':'SIG','format':"
      "'anthropic-claude-v1','index':0}]},"
      "{'role':'tool','tool_call_id':'toolu_1','content':'a.txt'}],"
      "'max_tokens':32000,'tools':[{'type':'function','function':{'name':"
      "'Bash','description':'Run','parameters':{'type':'object','properties':"
      "{'command':{'type':'string'}}}}},{'type':'function','function':{'name':"
      "'Later','description':'Deferred','parameters':{'type':'object'}},"
      "'cache_control':{'type':'ephemeral','ttl':'1h'}}],'reasoning':"
      "{'effort':'high','exclude':true},'user':'{\\'session_id\\':\\'s1\\'}',"
      "'stream':true}");
  /* a service without OpenRouter's extensions: no cache_control, no
   * reasoning_details; a model that does not reason: no reasoning */
  expect_request_flags(
      CLAUDE_CODE_REQUEST, SB_MSG_PLAIN | SB_MSG_NO_REASONING,
      "{'model':'openai/gpt-4o-mini','messages':[{'role':'system','content':"
      "[{'type':'text','text':'billing'},{'type':'text','text':"
      "'You are an agent.'}]},"
      "{'role':'user','content':[{'type':'text','text':'run it'}]},"
      "{'role':'system','content':[{'type':'text','text':'# Environment'}]},"
      "{'role':'assistant','content':null,'tool_calls':[{'id':'toolu_1',"
      "'type':'function','function':{'name':'Bash','arguments':"
      "'{\\'command\\':\\'ls\\'}'}}]},"
      "{'role':'tool','tool_call_id':'toolu_1','content':'a.txt'}],"
      "'max_tokens':32000,'tools':[{'type':'function','function':{'name':"
      "'Bash','description':'Run','parameters':{'type':'object','properties':"
      "{'command':{'type':'string'}}}}},{'type':'function','function':{'name':"
      "'Later','description':'Deferred','parameters':{'type':'object'}}}],"
      "'user':'{\\'session_id\\':\\'s1\\'}','stream':true}");
}

/* thinking and output_config.effort -> reasoning */
static void test_request_reasoning(void **state)
{
  (void)state;
  static const struct {
    const char *params, *reasoning;
  } cases[] = {
      /* adaptive: the target's default, or the effort asked for */
      {"'thinking':{'type':'adaptive'}", "'reasoning':{'enabled':true}"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'low'}",
       "'reasoning':{'effort':'low'}"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'medium'}",
       "'reasoning':{'effort':'medium'}"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'xhigh'}",
       "'reasoning':{'effort':'high'}"},
      {"'thinking':{'type':'adaptive'},'output_config':{'effort':'max'}",
       "'reasoning':{'effort':'high'}"},
      {"'thinking':{'type':'between_tools'}", "'reasoning':{'enabled':true}"},
      {"'thinking':{'type':'adaptive','display':'summarized'}",
       "'reasoning':{'enabled':true}"},
      /* an effort without thinking still asks for that effort */
      {"'output_config':{'effort':'medium'}", "'reasoning':{'effort':'medium'}"},
      /* a budget */
      {"'thinking':{'type':'enabled','budget_tokens':1024,'display':"
       "'omitted'},'output_config':{'effort':'low'}",
       "'reasoning':{'max_tokens':1024,'exclude':true}"},
      /* thinking off: nothing, whatever the effort */
      {"'thinking':{'type':'disabled'},'output_config':{'effort':'high'}", ""},
      {"'thinking':null,'output_config':{'effort':null}", ""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    char in[512], want[512];
    snprintf(in, sizeof(in),
             "{'model':'m','max_tokens':2000,%s,'messages':[{'role':'user',"
             "'content':'x'}]}",
             cases[i].params);
    snprintf(want, sizeof(want),
             "{'model':'m','messages':[{'role':'user','content':'x'}],"
             "'max_tokens':2000%s%s}",
             cases[i].reasoning[0] ? "," : "", cases[i].reasoning);
    expect_request(in, want);
    /* a model that does not reason gets none */
    snprintf(want, sizeof(want),
             "{'model':'m','messages':[{'role':'user','content':'x'}],"
             "'max_tokens':2000}");
    expect_request_flags(in, SB_MSG_NO_REASONING, want);
  }
}

/* What has an equivalent is translated; the rest is left out. */
static void test_request_other_blocks(void **state)
{
  (void)state;
  /* server tools are left out, and a tool_choice naming one; custom tools
   * keep their function form; Anthropic-only request members (container,
   * context_management, mcp_servers, service_tier, top-level cache_control,
   * speed, inference_geo, diagnostics) are left out; output_config.format
   * -> response_format */
  expect_request(
      "{'model':'m','max_tokens':9,'tools':[{'type':'web_search_20250305',"
      "'name':'web_search','max_uses':3},{'type':'bash_20250124','name':"
      "'bash'},{'type':'custom','name':'f','input_schema':{'type':'object'},"
      "'strict':true,'input_examples':[{}]},{'type':'mcp_toolset',"
      "'mcp_server_name':'s'}],'tool_choice':{'type':'tool','name':"
      "'web_search'},'container':'cont_1','context_management':{'edits':[]},"
      "'mcp_servers':[{'type':'url','url':'https://mcp.test','name':'s'}],"
      "'service_tier':'auto','cache_control':{'type':'ephemeral'},'speed':"
      "'fast','inference_geo':'us','diagnostics':{'previous_message_id':"
      "'msg_1'},'output_config':{'format':{'type':'json_schema','schema':"
      "{'type':'object'}}},'messages':[{'role':'user','content':'x'}]}",
      "{'model':'m','messages':[{'role':'user','content':'x'}],'max_tokens':9,"
      "'tools':[{'type':'function','function':{'name':'f','parameters':"
      "{'type':'object'}}}],'response_format':{'type':'json_schema',"
      "'json_schema':{'name':'response','schema':{'type':'object'}}}}");
  /* server tools only: no tools and no tool_choice */
  expect_request(
      "{'model':'m','max_tokens':9,'tools':[{'type':'web_fetch_20250910',"
      "'name':'web_fetch'}],'tool_choice':{'type':'any'},'messages':[{'role':"
      "'user','content':'x'}]}",
      "{'model':'m','messages':[{'role':'user','content':'x'}],"
      "'max_tokens':9}");
  /* the assistant's server-tool blocks are left out; a compaction summary
   * is text; in user turns: search results become text (in a tool result
   * too), a content document its blocks, file sources and
   * container_upload are left out; a system message with only tool
   * changes is left out */
  expect_request(
      "{'model':'m','max_tokens':9,'messages':["
      "{'role':'user','content':[{'type':'search_result','source':"
      "'https://s.test','title':'T','content':[{'type':'text','text':'a'},"
      "{'type':'text','text':'b'}]},{'type':'document','source':{'type':"
      "'content','content':[{'type':'text','text':'c'}]}},{'type':'image',"
      "'source':{'type':'file','file_id':'file_1'}},{'type':'document',"
      "'source':{'type':'file','file_id':'file_2'}},{'type':"
      "'container_upload','file_id':'file_3'}]},"
      "{'role':'assistant','content':[{'type':'compaction','content':"
      "'Earlier: hello. '},{'type':'server_tool_use','id':'srvtoolu_1',"
      "'name':'web_search','input':{'query':'q'}},{'type':"
      "'web_search_tool_result','tool_use_id':'srvtoolu_1','content':[]},"
      "{'type':'mcp_tool_use','id':'mcptoolu_1','name':'n','server_name':'s',"
      "'input':{}},{'type':'mcp_tool_result','tool_use_id':'mcptoolu_1',"
      "'content':'r'},{'type':'text','text':'Found it.'}]},"
      "{'role':'system','content':[{'type':'tool_addition','tool':{'name':"
      "'x'}}]},{'role':'system','output_config':{'effort':'low'}},"
      "{'role':'user','content':[{'type':'tool_result','tool_use_id':'t1',"
      "'content':[{'type':'search_result','source':'u','title':'V','content':"
      "[{'type':'text','text':'d'}]},{'type':'tool_reference','tool_name':"
      "'x'},{'type':'document','source':{'type':'text','media_type':"
      "'text/plain','data':'e'}}]}]}]}",
      "{'model':'m','messages':[{'role':'user','content':[{'type':'text',"
      "'text':'T (https://s.test)\\na\\nb'},{'type':'text','text':'c'}]},"
      "{'role':'assistant','content':'Earlier: hello. Found it.'},"
      "{'role':'tool','tool_call_id':'t1','content':'V (u)\\nd\\ne'}],"
      "'max_tokens':9}");
}

static void test_request_refused(void **state)
{
  (void)state;
#define MSGS "'messages':[{'role':'user','content':'x'}]"
#define REQ(more) "{'model':'m','max_tokens':1," more MSGS "}"
#define USER(block) "{'model':'m','max_tokens':1,'messages':[{'role':'user',"  \
  "'content':[" block "]}]}"
#define ASSISTANT(block) "{'model':'m','max_tokens':1,'messages':[{'role':"    \
  "'assistant','content':[" block "]}]}"
  /* every member of the schema, its type and its range; the message names
   * the member */
  static const struct {
    const char *in, *why;
  } cases[] = {
      {"[]", "the body must be a JSON object"},
      {"{'max_tokens':1," MSGS "}", "model: required"},
      {"{'model':5,'max_tokens':1," MSGS "}", "model: must be a string"},
      {"{'model':'','max_tokens':1," MSGS "}", "model: must have 1 to 256"},
      {"{'model':'m'," MSGS "}", "max_tokens: required"},
      {"{'model':'m','max_tokens':-1," MSGS "}", "max_tokens: must be at least 0"},
      {"{'model':'m','max_tokens':'5'," MSGS "}", "max_tokens: must be an integer"},
      {"{'model':'m','max_tokens':1.5," MSGS "}", "max_tokens: must be an integer"},
      {"{'model':'m','max_tokens':1,'messages':[]}",
       "messages: at least one message is required"},
      {"{'model':'m','max_tokens':1,'messages':{}}", "messages: must be an array"},
      {"{'model':'m','max_tokens':1,'messages':[5]}", "messages.0: must be an object"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'tool','content':'x'}]}",
       "messages.0.role: must be 'user', 'assistant' or 'system'"},
      {"{'model':'m','max_tokens':1,'messages':[{'content':'x'}]}",
       "messages.0.role: required"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user'}]}",
       "messages.0.content: required"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'user','content':5}]}",
       "messages.0.content: must be a string or an array of content blocks"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system','content':"
       "[{'type':'image','source':{'type':'url','url':'u'}}]}]}",
       "messages.0.content.0.type: must be 'text', 'tool_addition' or "
       "'tool_removal'"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system','clear_at':"
       "'soon'}]}", "messages.0.clear_at: must be 'next_user_message' or 'never'"},
      {"{'model':'m','max_tokens':1,'messages':[{'role':'system',"
       "'output_config':{'effort':'huge'}}]}",
       "messages.0.output_config.effort: must be 'low', 'medium', 'high', "
       "'xhigh' or 'max'"},
      /* blocks */
      {USER("{'type':'bogus'}"), "messages.0.content.0: unknown content block type 'bogus'"},
      {USER("{'text':'x'}"), "messages.0.content.0.type: required"},
      {USER("{'type':'text','text':5}"), "messages.0.content.0.text: must be a string"},
      {USER("{'type':'text','text':'x','cache_control':{'type':'persistent'}}"),
       "messages.0.content.0.cache_control.type: must be 'ephemeral'"},
      {USER("{'type':'text','text':'x','cache_control':{'type':'ephemeral',"
            "'ttl':'2h'}}"),
       "messages.0.content.0.cache_control.ttl: must be '5m' or '1h'"},
      {USER("{'type':'text','text':'x','citations':{}}"),
       "messages.0.content.0.citations: must be an array"},
      {USER("{'type':'image','source':{'type':'base64','media_type':"
            "'image/bmp','data':'x'}}"),
       "messages.0.content.0.source.media_type: must be 'image/jpeg', "
       "'image/png', 'image/gif' or 'image/webp'"},
      {USER("{'type':'image','source':{'type':'path','path':'x'}}"),
       "messages.0.content.0.source.type: must be 'base64', 'url' or 'file'"},
      {USER("{'type':'image','source':{'type':'file'}}"),
       "messages.0.content.0.source.file_id: required"},
      {USER("{'type':'document','source':{'type':'base64','media_type':"
            "'text/plain','data':'x'}}"),
       "messages.0.content.0.source.media_type: must be 'application/pdf'"},
      {USER("{'type':'document','source':{'type':'text','media_type':"
            "'text/plain','data':'x'},'title':5}"),
       "messages.0.content.0.title: must be a string"},
      {USER("{'type':'document','source':{'type':'content','content':[{'type':"
            "'text'}]}}"),
       "messages.0.content.0.source.content.0.text: required"},
      {USER("{'type':'search_result','source':'s','title':'t','content':"
            "[{'type':'image'}]}"),
       "messages.0.content.0.content.0.type: must be 'text'"},
      {USER("{'type':'tool_result'}"), "messages.0.content.0.tool_use_id: required"},
      {USER("{'type':'tool_result','tool_use_id':'t','is_error':'yes'}"),
       "messages.0.content.0.is_error: must be a boolean"},
      {USER("{'type':'tool_result','tool_use_id':'t','content':[{'type':"
            "'text','text':1}]}"),
       "messages.0.content.0.content.0.text: must be a string"},
      {ASSISTANT("{'type':'tool_use','id':'a','name':'b','input':[1]}"),
       "messages.0.content.0.input: must be an object"},
      {ASSISTANT("{'type':'tool_use','id':'a','name':'b'}"),
       "messages.0.content.0.input: required"},
      {ASSISTANT("{'type':'thinking','thinking':'t'}"),
       "messages.0.content.0.signature: required"},
      {ASSISTANT("{'type':'redacted_thinking','data':null}"),
       "messages.0.content.0.data: must be a string"},
      {ASSISTANT("{'type':'server_tool_use','id':'a','name':'web_search'}"),
       "messages.0.content.0.input: required"},
      {ASSISTANT("{'type':'web_search_tool_result','content':[]}"),
       "messages.0.content.0.tool_use_id: required"},
      {ASSISTANT("{'type':'mcp_tool_use','id':'a','name':'b','input':{}}"),
       "messages.0.content.0.server_name: required"},
      {ASSISTANT("{'type':'mcp_tool_result','tool_use_id':'a','content':"
                 "[{'type':'image'}]}"),
       "messages.0.content.0.content.0.type: must be 'text'"},
      {USER("{'type':'container_upload'}"), "messages.0.content.0.file_id: required"},
      /* the other members */
      {REQ("'system':5,"), "system: must be a string or an array of text blocks"},
      {REQ("'system':[{'type':'image'}],"), "system.0.type: must be 'text'"},
      {REQ("'temperature':'hot',"), "temperature: must be a number"},
      {REQ("'temperature':1.5,"), "temperature: must be between 0 and 1"},
      {REQ("'top_p':-0.1,"), "top_p: must be between 0 and 1"},
      {REQ("'top_k':-1,"), "top_k: must be at least 0"},
      {REQ("'top_k':2.5,"), "top_k: must be an integer"},
      {REQ("'stop_sequences':'END',"), "stop_sequences: must be an array"},
      {REQ("'stop_sequences':[1],"), "stop_sequences.0: must be a string"},
      {REQ("'stream':'yes',"), "stream: must be a boolean"},
      {REQ("'metadata':[],"), "metadata: must be an object"},
      {REQ("'metadata':{'user_id':5},"), "metadata.user_id: must be a string"},
      {REQ("'tools':{},"), "tools: must be an array"},
      {REQ("'tools':[{'name':'f'}],"), "tools.0.input_schema: required"},
      {REQ("'tools':[{'input_schema':{'type':'object'}}],"), "tools.0.name: required"},
      {REQ("'tools':[{'name':'a b','input_schema':{'type':'object'}}],"),
       "tools.0.name: may hold only letters, digits"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'array'}}],"),
       "tools.0.input_schema.type: must be 'object'"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'object'},"
           "'description':3}],"),
       "tools.0.description: must be a string"},
      {REQ("'tools':[{'name':'f','input_schema':{'type':'object'},"
           "'strict':'yes'}],"),
       "tools.0.strict: must be a boolean"},
      {REQ("'tools':[{'type':'web_search_20250305','name':7}],"),
       "tools.0.name: must be a string"},
      {REQ("'tools':[{'type':7}],"), "tools.0.type: must be a string"},
      {REQ("'tool_choice':'auto',"), "tool_choice: must be an object"},
      {REQ("'tool_choice':{'type':'some'},"),
       "tool_choice.type: must be 'auto', 'any', 'tool' or 'none'"},
      {REQ("'tool_choice':{'type':'tool'},"), "tool_choice.name: required"},
      {REQ("'tool_choice':{'type':'auto','disable_parallel_tool_use':1},"),
       "tool_choice.disable_parallel_tool_use: must be a boolean"},
      {REQ("'thinking':{'type':'enabled'},"), "thinking.budget_tokens: required"},
      {REQ("'thinking':{'type':'enabled','budget_tokens':1023},"),
       "thinking.budget_tokens: must be at least 1024"},
      {REQ("'thinking':{'type':'sometimes'},"),
       "thinking.type: must be 'enabled', 'disabled', 'adaptive' or "
       "'between_tools'"},
      {REQ("'thinking':{'type':'adaptive','display':'full'},"),
       "thinking.display: must be 'summarized' or 'omitted'"},
      {REQ("'output_config':{'effort':'extreme'},"),
       "output_config.effort: must be 'low', 'medium', 'high', 'xhigh' or "
       "'max'"},
      {REQ("'output_config':{'format':{'type':'json_object'}},"),
       "output_config.format.type: must be 'json_schema'"},
      {REQ("'output_config':{'format':{'type':'json_schema'}},"),
       "output_config.format.schema: required"},
      {REQ("'output_config':{'task_budget':{'type':'tokens','total':-5}},"),
       "output_config.task_budget.total: must be at least 0"},
      {REQ("'output_format':{'type':'json_schema','schema':[]},"),
       "output_format.schema: must be an object"},
      {REQ("'service_tier':'priority',"),
       "service_tier: must be 'auto' or 'standard_only'"},
      {REQ("'container':5,"), "container: must be a string or an object"},
      {REQ("'container':{'skills':[{'skill_id':'x','type':'mine'}]},"),
       "container.skills.0.type: must be 'anthropic' or 'custom'"},
      {REQ("'context_management':'clear',"), "context_management: must be an object"},
      {REQ("'context_management':{'edits':[{'keep':'all'}]},"),
       "context_management.edits.0.type: required"},
      {REQ("'mcp_servers':[{'type':'url','name':'s'}],"), "mcp_servers.0.url: required"},
      {REQ("'mcp_servers':[{'type':'stdio','name':'s','url':'u'}],"),
       "mcp_servers.0.type: must be 'url'"},
      {REQ("'mcp_servers':[{'type':'url','name':'s','url':'u',"
           "'tool_configuration':{'enabled':'on'}}],"),
       "mcp_servers.0.tool_configuration.enabled: must be a boolean"},
      {REQ("'cache_control':{'type':'ephemeral','ttl':5},"),
       "cache_control.ttl: must be a string"},
      {REQ("'speed':'ludicrous',"), "speed: must be 'standard' or 'fast'"},
      {REQ("'inference_geo':1,"), "inference_geo: must be a string"},
      {REQ("'diagnostics':{'previous_message_id':1},"),
       "diagnostics.previous_message_id: must be a string"},
      {REQ("'fallbacks':'any',"), "fallbacks: must be an array or 'default'"},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    sb_arena_t a;
    sb_buf_t out;
    char why[512];
    char *in = q(cases[i].in), *want = strdup(cases[i].why);
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&out, 0);
    sb_status_t rc = sb_messages_to_openai(&a, parse(&a, in), 0, &out, why,
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

/* Every shape the API accepts today passes, beta members included. */
static void test_request_accepted(void **state)
{
  (void)state;
  static const char *const ok[] = {
      /* the request members, each in a valid form (null for the optional
       * ones counts as absent) */
      "{'model':'m','max_tokens':0,'system':null,'temperature':null,'top_p':"
      "null,'top_k':null,'stop_sequences':null,'stream':null,'tools':null,"
      "'tool_choice':null,'metadata':null,'thinking':null,'output_config':"
      "null,'service_tier':null,'container':null,'context_management':null,"
      "'mcp_servers':null,'cache_control':null," MSGS "}",
      "{'model':'claude-sonnet-4-6','max_tokens':32000,'temperature':1,"
      "'top_p':0.95,'top_k':40,'stop_sequences':['END'],'stream':false,"
      "'metadata':{'user_id':null},'service_tier':'standard_only',"
      "'container':{'id':'c','skills':[{'skill_id':'pptx','type':'anthropic',"
      "'version':'latest'}]},'context_management':{'edits':[{'type':"
      "'clear_tool_uses_20250919','trigger':{'type':'input_tokens','value':"
      "30000},'keep':{'type':'tool_uses','value':3},'clear_at_least':{'type':"
      "'input_tokens','value':5000},'exclude_tools':['web_search']},{'type':"
      "'compact_20260112'}]},'mcp_servers':[{'type':'url','url':"
      "'https://mcp.test/sse','name':'s','authorization_token':'tok',"
      "'tool_configuration':{'enabled':true,'allowed_tools':['a']}}],"
      "'cache_control':{'type':'ephemeral','ttl':'5m'},'speed':'standard',"
      "'inference_geo':'us','diagnostics':{'previous_message_id':'msg_1'},"
      "'output_config':{'effort':'max','format':{'type':'json_schema',"
      "'schema':{'type':'object'}},'task_budget':{'type':'tokens','total':"
      "1000,'remaining':null}},'output_format':null,'thinking':{'type':"
      "'enabled','budget_tokens':1024,'display':'summarized'},'compaction':"
      "{'type':'summarize'},'fallbacks':'default','fallback_credit_token':"
      "'t','an_unknown_member':{'anything':[1,'x',null]}," MSGS "}",
      REQ("'thinking':{'type':'adaptive'},'output_config':{'effort':'xhigh'},"),
      REQ("'thinking':{'type':'disabled'},'container':'cont_1',"),
      REQ("'thinking':{'type':'between_tools'},"),
      /* tools: custom in every form, server tools of any version */
      REQ("'tools':[{'name':'f-1_x','input_schema':{'type':'object',"
          "'properties':{'a':{'type':'string'}},'required':['a']},"
          "'description':'d','cache_control':{'type':'ephemeral'},'strict':"
          "true,'defer_loading':false,'eager_input_streaming':null,"
          "'input_examples':[{'a':'x'}],'allowed_callers':['direct'],'type':"
          "'custom'},{'type':'web_search_20250305','name':'web_search',"
          "'max_uses':5,'allowed_domains':['a.test']},{'type':"
          "'bash_20250124','name':'bash'},{'type':'text_editor_20250728',"
          "'name':'str_replace_based_edit_tool'},{'type':"
          "'code_execution_20250825','name':'code_execution'},{'type':"
          "'computer_20250124','name':'computer','display_width_px':1024,"
          "'display_height_px':768},{'type':'mcp_toolset','mcp_server_name':"
          "'s'},{'type':'web_search_20990101','name':'web_search'}],"
          "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"),
      REQ("'tool_choice':{'type':'none'},"),
      REQ("'system':[{'type':'text','text':'s','cache_control':{'type':"
          "'ephemeral','ttl':'1h'},'citations':null}],"),
      /* every content block */
      USER("{'type':'text','text':'t','citations':[{'type':'char_location',"
           "'cited_text':'c','document_index':0,'start_char_index':0,"
           "'end_char_index':1}]},{'type':'image','source':{'type':'base64',"
           "'media_type':'image/webp','data':'AA'}},{'type':'image','source':"
           "{'type':'url','url':'https://i.test/a.png'}},{'type':'image',"
           "'source':{'type':'file','file_id':'file_1'},'cache_control':"
           "{'type':'ephemeral'}},{'type':'document','source':{'type':"
           "'base64','media_type':'application/pdf','data':'JVBE'},'title':"
           "'t','context':'c','citations':{'enabled':true}},{'type':"
           "'document','source':{'type':'text','media_type':'text/plain',"
           "'data':'d'}},{'type':'document','source':{'type':'content',"
           "'content':[{'type':'text','text':'a'},{'type':'image','source':"
           "{'type':'url','url':'u'}}]}},{'type':'document','source':{'type':"
           "'content','content':'plain'}},{'type':'document','source':"
           "{'type':'url','url':'https://d.test/a.pdf'}},{'type':'document',"
           "'source':{'type':'file','file_id':'file_2'}},{'type':"
           "'search_result','source':'s','title':'t','content':[{'type':"
           "'text','text':'x'}],'citations':{'enabled':false}},{'type':"
           "'tool_result','tool_use_id':'t','content':[{'type':'text','text':"
           "'r'},{'type':'image','source':{'type':'url','url':'u'}},{'type':"
           "'search_result','source':'s','title':'t','content':[]},{'type':"
           "'tool_reference','tool_name':'x'}],'is_error':true},{'type':"
           "'tool_result','tool_use_id':'t2'},{'type':'container_upload',"
           "'file_id':'f'}"),
      ASSISTANT("{'type':'thinking','thinking':'','signature':'S'},{'type':"
                "'redacted_thinking','data':'D'},{'type':'text','text':'t'},"
                "{'type':'tool_use','id':'a','name':'b','input':{},'caller':"
                "{'type':'direct'}},{'type':'server_tool_use','id':'s','name':"
                "'web_search','input':{'query':'q'}},{'type':"
                "'web_search_tool_result','tool_use_id':'s','content':[]},"
                "{'type':'web_fetch_tool_result','tool_use_id':'s','content':"
                "{}},{'type':'code_execution_tool_result','tool_use_id':'s',"
                "'content':{}},{'type':'bash_code_execution_tool_result',"
                "'tool_use_id':'s','content':{}},{'type':"
                "'text_editor_code_execution_tool_result','tool_use_id':'s',"
                "'content':{}},{'type':'tool_search_tool_result','tool_use_id'"
                ":'s','content':{}},{'type':'mcp_tool_use','id':'m','name':"
                "'n','server_name':'s','input':{}},{'type':'mcp_tool_result',"
                "'tool_use_id':'m','content':[{'type':'text','text':'r'}],"
                "'is_error':false},{'type':'compaction','content':'sum',"
                "'encrypted_content':null},{'type':'fallback','from':{},'to':{}}"),
      /* system messages inside the conversation */
      "{'model':'m','max_tokens':1,'messages':[{'role':'user','content':'x'},"
      "{'role':'system','content':'s'},{'role':'system','content':[{'type':"
      "'text','text':'t'},{'type':'tool_addition','tool':{'type':'tool',"
      "'name':'x'}},{'type':'tool_removal','tool':{'name':'y'}}],'clear_at':"
      "'next_user_message'},{'role':'system','output_config':{'effort':"
      "'low'},'clear_at':null}]}",
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(ok); i++) {
    sb_arena_t a;
    sb_buf_t out;
    char why[512];
    char *in = q(ok[i]);
    sb_json_error_t e;
    sb_arena_init(&a, 4096, 0);
    sb_buf_init(&out, 0);
    sb_json_t *req = parse(&a, in);
    if (sb_messages_validate(req, false, why, sizeof(why)) != SB_OK)
      fail_msg("case %zu refused: %s\n%s", i, why, in);
    /* and it translates into valid JSON */
    assert_int_equal(sb_messages_to_openai(&a, req, 0, &out, why, sizeof(why)),
                     SB_OK);
    assert_int_equal(sb_json_validate(out.data, out.len, 0, &e), SB_OK);
    sb_buf_free(&out);
    sb_arena_destroy(&a);
    free(in);
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
      cmocka_unit_test(test_request_claude_code),
      cmocka_unit_test(test_request_reasoning),
      cmocka_unit_test(test_request_other_blocks),
      cmocka_unit_test(test_request_refused),
      cmocka_unit_test(test_request_accepted),
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
