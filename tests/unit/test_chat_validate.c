/* SPDX-License-Identifier: MIT */
/* The chat request's schema (src/api/chat_validate.c): every member it
 * defines, with good and bad values; the message names the member by its
 * path; unknown members pass. */
#include "test_helpers.h"

#include "formats/openai/chat_validate.h"

static sb_arena_t arena;

static int setup(void **state)
{
  (void)state;
  sb_arena_init(&arena, 4096, 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  sb_arena_destroy(&arena);
  return 0;
}

static sb_json_t *parse(const char *text)
{
  sb_json_t *v;
  sb_json_error_t e;
  if (sb_json_parse(&arena, text, strlen(text), 0, &v, &e) != SB_OK)
    fail_msg("test document does not parse: %s at %zu: %s", e.message,
             e.offset, text);
  return v;
}

/* A request with one user message and `extra` members. */
static sb_status_t check_extra(const char *extra, char *why, size_t cap)
{
  char body[4096];
  snprintf(body, sizeof(body),
           "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"hi\"}]%s%s}",
           extra[0] != '\0' ? "," : "", extra);
  return sb_chat_validate(parse(body), why, cap);
}

typedef struct {
  const char *member; /* members added to a valid request */
  const char *error;  /* NULL: accepted; else the exact message */
} member_case_t;

#define INT_RANGE(lo, hi) "an integer between " #lo " and " #hi
#define TOKENS "must be " INT_RANGE(1, 2147483647)

static const member_case_t member_cases[] = {
    {"", NULL},
    /* unknown members pass, whatever they hold */
    {"\"x_custom\":{\"a\":[1,2]},\"safe_prompt\":true", NULL},
    /* null stands for absent */
    {"\"max_tokens\":null,\"temperature\":null,\"tools\":null,\"stop\":null,"
     "\"response_format\":null,\"tool_choice\":null,\"stream_options\":null",
     NULL},
    /* model and models */
    {"\"model\":7", "'model' must be a string"},
    {"\"models\":[\"a\",\"b\"]", NULL},
    {"\"models\":\"a\"", "'models' must be an array of strings"},
    {"\"models\":[\"a\",1]", "'models[1]' must be a string"},
    /* max_tokens, max_completion_tokens */
    {"\"max_tokens\":1", NULL},
    {"\"max_tokens\":2147483647", NULL},
    {"\"max_tokens\":0", "'max_tokens' " TOKENS},
    {"\"max_tokens\":-1", "'max_tokens' " TOKENS},
    {"\"max_tokens\":2147483648", "'max_tokens' " TOKENS},
    {"\"max_tokens\":9223372036854775808", "'max_tokens' " TOKENS},
    {"\"max_tokens\":\"str\"", "'max_tokens' " TOKENS},
    {"\"max_tokens\":[]", "'max_tokens' " TOKENS},
    {"\"max_tokens\":1.5", "'max_tokens' " TOKENS},
    {"\"max_tokens\":1e3", "'max_tokens' " TOKENS},
    {"\"max_tokens\":true", "'max_tokens' " TOKENS},
    {"\"max_completion_tokens\":100", NULL},
    {"\"max_completion_tokens\":0", "'max_completion_tokens' " TOKENS},
    {"\"max\\u005ftokens\":-1", "'max_tokens' " TOKENS},
    /* sampling */
    {"\"temperature\":0,\"top_p\":1,\"presence_penalty\":-2,"
     "\"frequency_penalty\":2,\"min_p\":0.5,\"top_a\":0,"
     "\"repetition_penalty\":1.1,\"top_k\":40",
     NULL},
    {"\"temperature\":2.0001", "'temperature' must be a number between 0 and 2"},
    {"\"temperature\":-0.1", "'temperature' must be a number between 0 and 2"},
    {"\"temperature\":\"0.5\"", "'temperature' must be a number between 0 and 2"},
    {"\"temperature\":1e999", "'temperature' must be a number between 0 and 2"},
    {"\"top_p\":1.5", "'top_p' must be a number between 0 and 1"},
    {"\"top_p\":false", "'top_p' must be a number between 0 and 1"},
    {"\"presence_penalty\":3", "'presence_penalty' must be a number between -2 and 2"},
    {"\"frequency_penalty\":-2.5",
     "'frequency_penalty' must be a number between -2 and 2"},
    {"\"top_k\":-1", "'top_k' must be " INT_RANGE(0, 2147483647)},
    {"\"min_p\":2", "'min_p' must be a number between 0 and 1"},
    {"\"top_a\":-1", "'top_a' must be a number between 0 and 1"},
    {"\"repetition_penalty\":3", "'repetition_penalty' must be a number between 0 and 2"},
    /* n, seed, logprobs */
    {"\"n\":1", NULL},
    {"\"n\":128", NULL},
    {"\"n\":0", "'n' must be " INT_RANGE(1, 128)},
    {"\"n\":129", "'n' must be " INT_RANGE(1, 128)},
    {"\"n\":\"2\"", "'n' must be " INT_RANGE(1, 128)},
    {"\"seed\":-9223372036854775808", NULL},
    {"\"seed\":9223372036854775808", "'seed' must be an integer (64 bits)"},
    {"\"seed\":1.5", "'seed' must be an integer (64 bits)"},
    {"\"logprobs\":true,\"top_logprobs\":20", NULL},
    {"\"logprobs\":1", "'logprobs' must be a boolean"},
    {"\"top_logprobs\":21", "'top_logprobs' must be " INT_RANGE(0, 20)},
    {"\"logit_bias\":{\"50256\":-100,\"11\":2.5}", NULL},
    {"\"logit_bias\":{\"50256\":-101}",
     "'logit_bias' must be an object of token ids to numbers between -100 and 100"},
    {"\"logit_bias\":{\"1\":\"x\"}",
     "'logit_bias' must be an object of token ids to numbers between -100 and 100"},
    {"\"logit_bias\":[1]",
     "'logit_bias' must be an object of token ids to numbers between -100 and 100"},
    /* stop */
    {"\"stop\":\"\\n\"", NULL},
    {"\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", NULL}, /* counts vary by provider */
    {"\"stop\":7", "'stop' must be a string or an array of strings"},
    {"\"stop\":[\"a\",null]", "'stop[1]' must be a string"},
    /* user and friends */
    {"\"user\":\"u-1\",\"session_id\":\"s\",\"prompt_cache_key\":\"k\","
     "\"safety_identifier\":\"x\",\"service_tier\":\"flex\","
     "\"reasoning_effort\":\"xhigh\",\"verbosity\":\"low\",\"route\":\"fallback\"",
     NULL},
    {"\"user\":42", "'user' must be a string"},
    {"\"reasoning_effort\":1", "'reasoning_effort' must be a string"},
    {"\"service_tier\":[]", "'service_tier' must be a string"},
    /* stream */
    {"\"stream\":true,\"stream_options\":{\"include_usage\":true}", NULL},
    {"\"stream\":\"yes\"", "'stream' must be a boolean"},
    {"\"stream_options\":true", "'stream_options' must be an object"},
    {"\"stream_options\":{\"include_usage\":\"yes\"}",
     "'stream_options.include_usage' must be a boolean"},
    {"\"stream_options\":{\"include_usage\":true,\"other\":1}", NULL},
    /* tools */
    {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"description\":\"d\",\"parameters\":{\"type\":\"object\"},\"strict\":true}},"
     "{\"type\":\"custom\",\"custom\":{\"name\":\"c\"}},"
     "{\"type\":\"openrouter:web_search\",\"parameters\":{\"max_results\":3}}]",
     NULL},
    {"\"tools\":[]", NULL},
    {"\"tools\":{}", "'tools' must be an array of tools"},
    {"\"tools\":[1]", "'tools[0]' must be a tool object with a 'type'"},
    {"\"tools\":[{\"function\":{\"name\":\"f\"}}]", "'tools[0].type' is required"},
    {"\"tools\":[{\"type\":1}]", "'tools[0].type' must be a string"},
    {"\"tools\":[{\"type\":\"function\"}]", "'tools[0].function' is required"},
    {"\"tools\":[{\"type\":\"function\",\"function\":\"f\"}]",
     "'tools[0].function' must be an object"},
    {"\"tools\":[{\"type\":\"function\",\"function\":{\"description\":\"d\"}}]",
     "'tools[0].function.name' is required"},
    {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
     "{\"type\":\"function\",\"function\":{\"name\":\"g\",\"parameters\":\"{}\"}}]",
     "'tools[1].function.parameters' must be an object"},
    {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"strict\":\"y\"}}]",
     "'tools[0].function.strict' must be a boolean"},
    {"\"tools\":[{\"type\":\"custom\",\"custom\":{}}]",
     "'tools[0].custom.name' is required"},
    /* tool_choice */
    {"\"tool_choice\":\"auto\"", NULL},
    {"\"tool_choice\":\"none\"", NULL},
    {"\"tool_choice\":\"required\"", NULL},
    {"\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}", NULL},
    {"\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":"
     "\"auto\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}}",
     NULL},
    {"\"tool_choice\":{\"type\":\"openrouter:web_search\"}", NULL},
    {"\"tool_choice\":\"always\"",
     "'tool_choice' must be \"none\", \"auto\", \"required\" or an object naming a tool"},
    {"\"tool_choice\":3",
     "'tool_choice' must be \"none\", \"auto\", \"required\" or an object naming a tool"},
    {"\"tool_choice\":{\"type\":\"function\"}", "'tool_choice.function' is required"},
    {"\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":1}}",
     "'tool_choice.function.name' must be a string"},
    {"\"tool_choice\":{\"function\":{\"name\":\"f\"}}", "'tool_choice.type' is required"},
    {"\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":\"auto\"}}",
     "'tool_choice.allowed_tools.tools' is required"},
    {"\"parallel_tool_calls\":false", NULL},
    {"\"parallel_tool_calls\":\"no\"", "'parallel_tool_calls' must be a boolean"},
    /* response_format */
    {"\"response_format\":{\"type\":\"json_object\"}", NULL},
    {"\"response_format\":{\"type\":\"text\"}", NULL},
    {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\","
     "\"schema\":{\"type\":\"object\"},\"strict\":true}}",
     NULL},
    {"\"response_format\":\"json\"", "'response_format' must be an object with a 'type'"},
    {"\"response_format\":{}", "'response_format.type' is required"},
    {"\"response_format\":{\"type\":\"json_schema\"}",
     "'response_format.json_schema' is required"},
    {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{}}}",
     "'response_format.json_schema.name' is required"},
    {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\","
     "\"schema\":[]}}",
     "'response_format.json_schema.schema' must be an object"},
    {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\","
     "\"strict\":1}}",
     "'response_format.json_schema.strict' must be a boolean"},
    {"\"response_format\":{\"type\":\"grammar\",\"grammar\":\"root ::= x\"}", NULL},
    {"\"response_format\":{\"type\":\"grammar\"}", "'response_format.grammar' is required"},
    /* the rest of OpenAI's */
    {"\"store\":true,\"metadata\":{\"a\":\"b\"},\"modalities\":[\"text\",\"audio\"],"
     "\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"},"
     "\"prediction\":{\"type\":\"content\",\"content\":\"x\"},"
     "\"web_search_options\":{\"search_context_size\":\"low\",\"user_location\":null}",
     NULL},
    {"\"audio\":{\"voice\":{\"id\":\"v1\"},\"format\":\"mp3\"}", NULL},
    {"\"store\":\"yes\"", "'store' must be a boolean"},
    {"\"metadata\":{\"a\":1}", "'metadata' must be an object of strings"},
    {"\"modalities\":\"text\"", "'modalities' must be an array of strings"},
    {"\"audio\":{\"voice\":3}", "'audio.voice' must be a voice name or {\"id\": ...}"},
    {"\"prediction\":{\"content\":\"x\"}", "'prediction.type' is required"},
    {"\"prediction\":{\"type\":\"content\",\"content\":[{\"type\":\"text\"}]}",
     "'prediction.content[0].text' is required"},
    {"\"web_search_options\":{\"user_location\":\"here\"}",
     "'web_search_options.user_location' must be an object"},
    {"\"function_call\":\"auto\",\"functions\":[{\"name\":\"f\"}]", NULL},
    {"\"function_call\":\"sometimes\"",
     "'function_call' must be \"none\", \"auto\" or {\"name\": ...}"},
    {"\"functions\":[{\"description\":\"d\"}]", "'functions[0].name' is required"},
    /* OpenRouter's */
    {"\"provider\":{\"order\":[\"openai\"],\"zdr\":true,\"data_collection\":\"deny\"},"
     "\"transforms\":[\"middle-out\"],\"usage\":{\"include\":true},"
     "\"plugins\":[{\"id\":\"web\",\"max_results\":3}],"
     "\"reasoning\":{\"effort\":\"high\",\"exclude\":false},\"include_reasoning\":true,"
     "\"structured_outputs\":true,\"debug\":{\"echo_upstream_body\":true}",
     NULL},
    {"\"provider\":\"openai\"", "'provider' must be an object"},
    {"\"provider\":{\"zdr\":\"yes\"}", "'provider.zdr' must be a boolean"},
    {"\"transforms\":\"middle-out\"", "'transforms' must be an array of strings"},
    {"\"usage\":{\"include\":1}", "'usage.include' must be a boolean"},
    {"\"plugins\":[{\"enabled\":true}]", "'plugins[0].id' is required"},
    {"\"plugins\":{}", "'plugins' must be an array of objects"},
    {"\"reasoning\":{\"max_tokens\":-5}",
     "'reasoning.max_tokens' must be " INT_RANGE(0, 2147483647)},
    {"\"reasoning\":\"high\"", "'reasoning' must be an object"},
    {"\"include_reasoning\":\"yes\"", "'include_reasoning' must be a boolean"},
};

static void test_members(void **state)
{
  (void)state;
  char why[512];
  for (size_t i = 0; i < SB_ARRAY_LEN(member_cases); i++) {
    const member_case_t *c = &member_cases[i];
    sb_status_t rc = check_extra(c->member, why, sizeof(why));
    if (c->error == NULL && rc != SB_OK)
      fail_msg("refused {%s}: %s", c->member, why);
    if (c->error != NULL && rc == SB_OK)
      fail_msg("accepted {%s}", c->member);
    if (c->error != NULL && strcmp(why, c->error) != 0)
      fail_msg("{%s}:\n got  %s\n want %s", c->member, why, c->error);
    sb_arena_reset(&arena);
  }
}

typedef struct {
  const char *messages; /* the `messages` member's value */
  const char *error;
} messages_case_t;

static const messages_case_t message_cases[] = {
    {"[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"developer\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"d\"}]},{\"role\":\"user\",\"name\":\"ann\","
     "\"content\":[{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"https://x/y.png\",\"detail\":\"high\"}},"
     "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAA=\",\"format\":\"wav\"}},"
     "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":\"data:...\"}},"
     "{\"type\":\"video_url\",\"video_url\":{\"url\":\"v\"}}]},"
     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
     "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
     "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"},"
     "{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}],"
     "\"refusal\":null,\"reasoning\":\"r\"}]",
     NULL},
    {"[]", "'messages' must be a non-empty array of messages"},
    {"{}", "'messages' must be a non-empty array of messages"},
    {"\"hi\"", "'messages' must be a non-empty array of messages"},
    {"null", "'messages' must be a non-empty array of messages"},
    {"[1]", "'messages[0]' must be an object with a 'role'"},
    {"[{\"content\":\"x\"}]", "'messages[0].role' is required"},
    {"[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"robot\",\"content\":\"x\"}]",
     "'messages[1].role' must be one of \"system\", \"developer\", \"user\", "
     "\"assistant\", \"tool\", \"function\""},
    {"[{\"role\":7}]",
     "'messages[0].role' must be one of \"system\", \"developer\", \"user\", "
     "\"assistant\", \"tool\", \"function\""},
    {"[{\"role\":\"user\",\"content\":5}]",
     "'messages[0].content' must be a string or an array of content parts"},
    {"[{\"role\":\"user\",\"content\":{\"text\":\"x\"}}]",
     "'messages[0].content' must be a string or an array of content parts"},
    {"[{\"role\":\"user\",\"content\":[\"x\"]}]",
     "'messages[0].content[0]' must be a content part object with a 'type'"},
    {"[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]",
     "'messages[0].content[0].type' is required"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]",
     "'messages[0].content[0].text' is required"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]",
     "'messages[0].content[0].text' must be a string"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":\"u\"}]}]",
     "'messages[0].content[0].image_url' must be an object"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]",
     "'messages[0].content[0].image_url.url' is required"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":"
     "{\"data\":\"x\"}}]}]",
     "'messages[0].content[0].input_audio.format' is required"},
    {"[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":3}}]}]",
     "'messages[0].content[0].file.file_id' must be a string"},
    {"[{\"role\":\"user\",\"content\":\"x\",\"name\":[]}]",
     "'messages[0].name' must be a string"},
    {"[{\"role\":\"assistant\",\"tool_calls\":{}}]",
     "'messages[0].tool_calls' must be an array of objects"},
    {"[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
     "\"function\":{\"name\":\"f\",\"arguments\":{\"a\":1}}}]}]",
     "'messages[0].tool_calls[0].function.arguments' must be a string"},
    {"[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"function\":"
     "{\"name\":\"f\",\"arguments\":\"{}\"}}]}]",
     "'messages[0].tool_calls[0].type' is required"},
    {"[{\"role\":\"tool\",\"tool_call_id\":5,\"content\":\"x\"}]",
     "'messages[0].tool_call_id' must be a string"},
};

static void test_messages(void **state)
{
  (void)state;
  char why[512], body[4096];
  for (size_t i = 0; i < SB_ARRAY_LEN(message_cases); i++) {
    const messages_case_t *c = &message_cases[i];
    snprintf(body, sizeof(body), "{\"model\":\"m\",\"messages\":%s}", c->messages);
    sb_json_t *req = parse(body);
    sb_status_t rc = sb_chat_validate(req, why, sizeof(why));
    /* the messages alone: the same verdict and message */
    char why2[512];
    sb_status_t rc2 = sb_chat_validate_messages(sb_json_get(req, "messages"),
                                                why2, sizeof(why2));
    if (c->error == NULL && rc != SB_OK)
      fail_msg("refused %s: %s", c->messages, why);
    if (c->error != NULL && rc == SB_OK)
      fail_msg("accepted %s", c->messages);
    if (c->error != NULL && strcmp(why, c->error) != 0)
      fail_msg("%s:\n got  %s\n want %s", c->messages, why, c->error);
    assert_int_equal(rc, rc2);
    if (rc != SB_OK)
      assert_string_equal(why, why2);
    sb_arena_reset(&arena);
  }
}

static void test_request_shape(void **state)
{
  (void)state;
  char why[256];
  assert_int_equal(sb_chat_validate(parse("[1]"), why, sizeof(why)), SB_ERROR);
  assert_string_equal(why, "the body must be a JSON object");
  assert_int_equal(sb_chat_validate(parse("{\"model\":\"m\"}"), why, sizeof(why)),
                   SB_ERROR);
  assert_string_equal(why, "'messages' is required");
  assert_int_equal(sb_chat_validate_messages(NULL, why, sizeof(why)), SB_ERROR);
  assert_string_equal(why, "'messages' is required");
  /* one member alone, by its rule; names the schema lacks pass */
  assert_int_equal(sb_chat_validate_member("max_tokens", parse("0"), why,
                                           sizeof(why)),
                   SB_ERROR);
  assert_string_equal(why, "'max_tokens' " TOKENS);
  assert_int_equal(sb_chat_validate_member("temperature", parse("0.7"), why,
                                           sizeof(why)),
                   SB_OK);
  assert_int_equal(sb_chat_validate_member("no_such", parse("[]"), why,
                                           sizeof(why)),
                   SB_OK);
  /* a small buffer gets a truncated, terminated message */
  char tiny[8];
  assert_int_equal(check_extra("\"temperature\":9", tiny, sizeof(tiny)), SB_ERROR);
  assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
  sb_arena_reset(&arena);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_members),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_request_shape),
  };
  return cmocka_run_group_tests_name("chat_validate", tests, setup, teardown);
}
