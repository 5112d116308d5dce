/* SPDX-License-Identifier: MIT */
/* The canonical skill contract through its face: the params decoded into
 * the hub (rest.body's semantics, case by case), the refusals, the reply
 * written from hub events (response.transform's semantics: golden files
 * tests/fixtures/skill/, .events -> .skill), and both directions compared
 * with the seed's own jq programs run by jq: params -> jq -> OpenAI chat
 * body -> the OpenAI door must give the hub the skill door gives, and
 * events -> the OpenAI door's chat.completion -> jq must give the reply
 * the skill door writes. */
#include "format_harness.h"

#include <sys/wait.h>
#include <unistd.h>

#include "formats/openai/openai.h"
#include "formats/skill/skill.h"
#include "switchboard/yaml.h"

static const fmt_cfg_t cfg = {
    .format = "openai",
    .display = "OpenAI",
    .base_url = "http://127.0.0.1:9/v1",
    .model_id = "openai/gpt-4o-mini",
    .upstream_model = "gpt-4o-mini",
};

/* ---- canonical text of JSON values and of a hub request ----------------------- */

/* A JSON value written canonically: strings unescaped and escaped again,
 * numbers by value, no spacing; so two texts of one value compare equal. */
static void canon(sb_buf_t *b, const sb_json_t *v)
{
  sb_arena_t a;
  sb_slice_t s;
  double d;
  switch (v->type) {
  case SB_JSON_STRING:
    sb_arena_init(&a, 4096, 0);
    assert_int_equal(sb_json_string(&a, v, &s), SB_OK);
    sb_json_escape(b, s.ptr, s.len);
    sb_arena_destroy(&a);
    break;
  case SB_JSON_NUMBER:
    assert_int_equal(sb_json_double(v, &d), SB_OK);
    sb_buf_appendf(b, "%.17g", d);
    break;
  case SB_JSON_ARRAY:
  case SB_JSON_OBJECT:
    sb_buf_appendz(b, v->type == SB_JSON_ARRAY ? "[" : "{");
    for (const sb_json_t *c = v->child; c != NULL; c = c->next) {
      if (v->type == SB_JSON_OBJECT) {
        sb_buf_append_slice(b, c->key);
        sb_buf_appendz(b, ":");
      }
      canon(b, c);
      sb_buf_appendz(b, c->next != NULL ? "," : "");
    }
    sb_buf_appendz(b, v->type == SB_JSON_ARRAY ? "]" : "}");
    break;
  default:
    sb_buf_append_slice(b, v->raw);
    break;
  }
}

/* `label` and JSON text canonically; text that is not JSON as it is,
 * marked; "-" when absent. */
static void canon_text(sb_buf_t *b, const char *label, sb_slice_t text)
{
  sb_arena_t a;
  sb_json_t *v;
  sb_buf_appendz(b, label);
  if (text.ptr == NULL) {
    sb_buf_appendz(b, "-");
    return;
  }
  sb_arena_init(&a, 4096, 0);
  if (sb_json_parse(&a, text.ptr, text.len, 0, &v, NULL) == SB_OK)
    canon(b, v);
  else
    sb_buf_appendf(b, "text:%.*s", (int)text.len, text.ptr);
  sb_arena_destroy(&a);
}

/* `label` and a jtext canonically (its bytes, escaped again); "-" when
 * absent. */
static void canon_jtext(sb_buf_t *b, const char *label, sb_slice_t j)
{
  sb_arena_t a;
  sb_slice_t s;
  sb_buf_appendz(b, label);
  if (j.ptr == NULL) {
    sb_buf_appendz(b, "-");
    return;
  }
  sb_arena_init(&a, 4096, 0);
  assert_int_equal(sb_hub_unescape(&a, j, &s), SB_OK);
  sb_json_escape(b, s.ptr, s.len);
  sb_arena_destroy(&a);
}

static void dump_blocks(sb_buf_t *b, const sb_hub_block_t *k, size_t n,
                        const char *indent)
{
  for (size_t i = 0; i < n; i++, k++) {
    sb_buf_appendf(b, "%sblock %d", indent, (int)k->kind);
    canon_jtext(b, " text=", k->text);
    canon_jtext(b, " id=", k->id);
    canon_jtext(b, " name=", k->name);
    canon_text(b, " args=", k->args);
    canon_jtext(b, " url=", k->url);
    canon_jtext(b, " data=", k->data);
    canon_jtext(b, " media=", k->media_type);
    canon_jtext(b, " sig=", k->signature);
    sb_buf_appendf(b, " sigfmt=%d error=%d", (int)k->sig_format, k->is_error);
    canon_text(b, " native=", k->native);
    sb_buf_appendz(b, "\n");
    dump_blocks(b, k->parts, k->n_parts, "    ");
  }
}

/* What a provider format reads of a hub request, one fact a line. */
static void dump_hub(sb_buf_t *b, const sb_hub_req_t *r)
{
  sb_buf_appendf(b, "model %.*s stream=%d max_tokens=%lld\n", (int)r->model.len,
                 r->model.ptr, r->stream, (long long)r->max_tokens);
  for (size_t i = 0; i < r->n_msgs; i++) {
    sb_buf_appendf(b, "msg %d plain=%d", (int)r->msgs[i].role,
                   r->msgs[i].plain);
    canon_jtext(b, " name=", r->msgs[i].name);
    sb_buf_appendz(b, "\n");
    dump_blocks(b, r->msgs[i].blocks, r->msgs[i].n_blocks, "  ");
  }
  for (size_t i = 0; i < r->n_tools; i++) {
    const sb_hub_tool_t *t = &r->tools[i];
    sb_buf_appendf(b, "tool %d strict=%d", (int)t->kind, t->strict);
    canon_jtext(b, " name=", t->name);
    canon_jtext(b, " description=", t->description);
    canon_text(b, " parameters=", t->parameters);
    sb_buf_appendz(b, "\n");
  }
  sb_buf_appendf(b, "choice %d parallel=%d format=%d reasoning=%d/%d/%lld\n",
                 (int)r->choice, r->parallel_tool_calls,
                 (int)r->response_format, r->reasoning.enabled,
                 (int)r->reasoning.effort, (long long)r->reasoning.budget);
  const sb_hub_num_t *nums[] = {&r->temperature,      &r->top_p,
                                &r->top_k,            &r->presence_penalty,
                                &r->frequency_penalty, &r->seed};
  for (size_t i = 0; i < SB_ARRAY_LEN(nums); i++)
    sb_buf_appendf(b, "num %zu %d %.17g\n", i, nums[i]->set,
                   nums[i]->set ? nums[i]->value : 0.0);
  sb_buf_appendf(b, "stop %zu n %lld\n", r->n_stop, (long long)r->n);
}

/* ---- the skill door ----------------------------------------------------------- */

typedef struct {
  sb_arena_t arena;
  sb_hub_req_t req;
  char why[256];
} door_t;

/* The skill door's envelope and decode of `params`. */
static sb_status_t skill_decode(door_t *d, const char *params)
{
  sb_json_t *p;
  memset(d, 0, sizeof(*d));
  sb_arena_init(&d->arena, 4096, 0);
  char *copy = sb_arena_strndup(&d->arena, params, strlen(params));
  if (sb_json_parse(&d->arena, copy, strlen(copy), 0, &p, NULL) != SB_OK)
    fail_msg("params JSON invalid: %s", params);
  const sb_codec_door_t *door = sb_codec_skill.door;
  sb_status_t rc = door->envelope(p, &d->arena, &d->req, d->why, sizeof(d->why));
  if (rc == SB_OK)
    rc = door->decode(&d->req, &d->arena, d->why, sizeof(d->why));
  return rc;
}

/* The params' hub request, dumped, is `want`. */
static void expect_hub(const char *params, const char *want)
{
  door_t d;
  sb_buf_t got;
  sb_buf_init(&got, 0);
  if (skill_decode(&d, params) != SB_OK)
    fail_msg("refused: %s\n%s", d.why, params);
  assert_string_equal(d.req.door_format, "skill");
  dump_hub(&got, &d.req);
  sb_buf_cstr(&got);
  if (strcmp(got.data, want) != 0)
    fail_msg("params %s\ngot:\n%s\nwant:\n%s", params, got.data, want);
  sb_buf_free(&got);
  sb_arena_destroy(&d.arena);
}

#define TAIL(temp)                                                             \
  "choice 0 parallel=-1 format=0 reasoning=-1/0/0\n"                           \
  "num 0 1 " temp "\nnum 1 0 0\nnum 2 0 0\nnum 3 0 0\nnum 4 0 0\nnum 5 0 0\n"  \
  "stop 0 n 0\n"
#define USER_BLOCK(text)                                                       \
  "  block 0 text=\"" text "\" id=- name=- args=- url=- data=- media=- "       \
  "sig=- sigfmt=0 error=0 native=-\n"
#define NO_NAME "name=-\n"

static void test_params(void **state)
{
  (void)state;
  /* defaults: no system, no tools, max_tokens 4096, temperature 0 */
  expect_hub("{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi\"}]}",
             "model openai/gpt-4o-mini stream=0 max_tokens=4096\n"
             "msg 2 plain=1 " NO_NAME USER_BLOCK("hi") TAIL("0"));
  /* system prepended; tools mapped with their defaults; values kept */
  expect_hub("{\"model\":\"m\",\"system\":\"Be brief.\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"x\"}],\"tools\":[{\"name\":\"get\","
             "\"description\":\"Get it\",\"input_schema\":{\"type\":\"object\","
             "\"properties\":{\"q\":{\"type\":\"string\"}}}},{\"name\":\"bare\"}],"
             "\"max_tokens\":100,\"temperature\":0.7}",
             "model m stream=0 max_tokens=100\n"
             "msg 0 plain=1 " NO_NAME USER_BLOCK("Be brief.")
             "msg 2 plain=1 " NO_NAME USER_BLOCK("x")
             "tool 0 strict=-1 name=\"get\" description=\"Get it\" parameters="
             "{type:\"object\",properties:{q:{type:\"string\"}}}\n"
             "tool 0 strict=-1 name=\"bare\" description=\"\" parameters="
             "{type:\"object\",properties:{}}\n" TAIL("0.69999999999999996"));
  /* jq's `//` and `if`: null/false fall back, "" and 0 do not... */
  expect_hub("{\"model\":\"m\",\"messages\":[],\"system\":\"\",\"max_tokens\":1,"
             "\"temperature\":0,\"tools\":null}",
             "model m stream=0 max_tokens=1\n"
             "msg 0 plain=1 " NO_NAME USER_BLOCK("") TAIL("0"));
  /* ...except that false counts as absent */
  expect_hub("{\"model\":\"m\",\"messages\":[],\"system\":false,\"max_tokens\":false}",
             "model m stream=0 max_tokens=4096\n" TAIL("0"));
  /* max_tokens 0 is kept, as jq keeps it (the hub's "no cap asked") */
  expect_hub("{\"model\":\"m\",\"messages\":[],\"max_tokens\":0}",
             "model m stream=0 max_tokens=0\n" TAIL("0"));
  /* nothing outside the contract reaches the hub */
  expect_hub("{\"model\":\"m\",\"messages\":[],\"stream\":true,\"stop\":[\"x\"],"
             "\"tool_choice\":\"required\",\"reasoning\":{\"effort\":\"high\"},"
             "\"top_p\":0.5,\"n\":2,\"models\":[\"a/b\"]}",
             "model m stream=0 max_tokens=4096\n" TAIL("0"));
}

/* The params' declared types (the messages' as the chat door checks
 * them); each refusal names the param. */
static void test_params_refused(void **state)
{
  (void)state;
  static const struct {
    const char *params, *why;
  } bad[] = {
      {"[]", "the body must be a JSON object of params"},
      {"{\"messages\":[]}", "'model' is required and must be a string"},
      {"{\"model\":1,\"messages\":[]}", "'model' is required and must be a string"},
      {"{\"model\":\"m\"}", "'messages' is required and must be an array"},
      {"{\"model\":\"m\",\"messages\":{}}", "'messages' is required and must be an array"},
      {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}",
       "'messages[0].role' is required"},
      {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":7}]}",
       "'messages[0].content' must be a string or an array of content parts"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":\"x\"}",
       "'tools' must be an array of {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":{\"a\":{\"name\":\"x\"}}}",
       "'tools' must be an array of {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[1]}",
       "'tools[0]' must be an object {name, description, input_schema}"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"description\":\"d\"}]}",
       "'tools[0]' must have a string 'name'"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"a\"},{\"name\":\"b\","
       "\"description\":3}]}",
       "'tools[1]' must have a string 'description' (or none)"},
      {"{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"a\",\"input_schema\":"
       "\"{}\"}]}",
       "'tools[0]' must have an object 'input_schema' (or none)"},
      {"{\"model\":\"m\",\"messages\":[],\"system\":[\"s\"]}", "'system' must be a string"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"100\"}",
       "'max_tokens' must be an integer between 0 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":-1}",
       "'max_tokens' must be an integer between 0 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":1.5}",
       "'max_tokens' must be an integer between 0 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":9223372036854775808}",
       "'max_tokens' must be an integer between 0 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":2147483648}",
       "'max_tokens' must be an integer between 0 and 2147483647"},
      {"{\"model\":\"m\",\"messages\":[],\"temperature\":3}",
       "'temperature' must be a number between 0 and 2"},
      {"{\"model\":\"m\",\"messages\":[],\"temperature\":-0.5}",
       "'temperature' must be a number between 0 and 2"},
      {"{\"model\":\"m\",\"messages\":[],\"temperature\":\"hot\"}",
       "'temperature' must be a number between 0 and 2"},
      {"{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
       "'messages[0].role' must be one of \"system\", \"developer\", \"user\", "
       "\"assistant\", \"tool\", \"function\""},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    door_t d;
    if (skill_decode(&d, bad[i].params) != SB_DECLINED)
      fail_msg("accepted: %s", bad[i].params);
    if (strcmp(d.why, bad[i].why) != 0)
      fail_msg("%s:\n got  %s\n want %s", bad[i].params, d.why, bad[i].why);
    sb_arena_destroy(&d.arena);
  }
}

/* ---- the reply -------------------------------------------------------------------- */

/* The answers checked against jq too (see test_reply_against_jq). */
static const char *const reply_files[] = {
    "tests/fixtures/skill/text_stop.events",
    "tests/fixtures/skill/tool_calls.events",
    "tests/fixtures/skill/content_filter.events",
    "tests/fixtures/skill/error_finish.events",
    "tests/fixtures/skill/empty.events",
};

static void test_reply(void **state)
{
  (void)state;
  const sb_codec_encoder_t *enc = sb_codec_skill.door->encoder;
  for (size_t i = 0; i < SB_ARRAY_LEN(reply_files); i++)
    fmt_check_encoder(&cfg, enc, reply_files[i], "skill", false, false);
  /* a provider's empty text is an empty content, not none */
  fmt_check_encoder(&cfg, enc, "tests/fixtures/skill/empty_text_length.events",
                    "skill", false, false);
}

/* The reply of no events with this end. */
static void reply_with(const sb_answer_end_t *end, const char *want)
{
  const sb_codec_encoder_t *enc = sb_codec_skill.door->encoder;
  sb_arena_t a;
  sb_buf_t out;
  sb_arena_init(&a, 4096, 0);
  sb_buf_init(&out, 0);
  void *st = sb_arena_calloc(&a, enc->state_size);
  enc->begin(st, &a, NULL, NULL, false, false);
  assert_int_equal(enc->end(st, end, &out), SB_OK);
  sb_buf_cstr(&out);
  assert_string_equal(out.data, want);
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

/* The gateway's estimate is not the provider's usage: 0 in the contract.
 * A failed answer, and an error before any, are {"error": message}. */
static void test_reply_usage_and_errors(void **state)
{
  (void)state;
  sb_usage_t u = {.prompt = 12, .completion = 3};
  sb_answer_end_t end = {.finish = SB_FINISH_LENGTH, .usage = &u};
  reply_with(&end, "{\"content\":null,\"tool_calls\":[],\"stop_reason\":"
                   "\"max_tokens\",\"usage\":{\"input_tokens\":12,"
                   "\"output_tokens\":3}}");
  end.usage_estimated = true;
  reply_with(&end, "{\"content\":null,\"tool_calls\":[],\"stop_reason\":"
                   "\"max_tokens\",\"usage\":{\"input_tokens\":0,"
                   "\"output_tokens\":0}}");
  end.usage = NULL;
  end.usage_estimated = false;
  reply_with(&end, "{\"content\":null,\"tool_calls\":[],\"stop_reason\":"
                   "\"max_tokens\",\"usage\":{\"input_tokens\":0,"
                   "\"output_tokens\":0}}");
  end.error_status = 502;
  end.error_message = SB_SLICE_LIT("the provider \"x\" failed");
  reply_with(&end, "{\"error\":\"the provider \\\"x\\\" failed\"}");

  sb_buf_t out;
  int status = 429;
  sb_answer_error_t err = {.status = 429, .type = "rate_limited",
                           .message = SB_SLICE_LIT("slow down")};
  sb_buf_init(&out, 0);
  sb_codec_skill.door->encoder->error(&err, &status, &out);
  sb_buf_cstr(&out);
  assert_string_equal(out.data, "{\"error\":\"slow down\"}");
  assert_int_equal(status, 429);
  sb_buf_free(&out);

  assert_int_equal(sb_codec_skill.finish_in(SB_SLICE_LIT("tool_use")),
                   SB_FINISH_TOOL_CALLS);
  assert_int_equal(sb_codec_skill.finish_in(SB_SLICE_LIT("max_tokens")),
                   SB_FINISH_LENGTH);
  assert_int_equal(sb_codec_skill.finish_in(SB_SLICE_LIT("end_turn")),
                   SB_FINISH_STOP);
  assert_string_equal(sb_codec_skill.finish_out(SB_FINISH_ERROR), "end_turn");
  assert_string_equal(sb_codec_skill.finish_out(SB_FINISH_NONE), "end_turn");
  assert_null(sb_codec_skill.provider);
}

/* ---- against the seed's jq ------------------------------------------------------- */

/* jq -c PROGRAM on `input`: its output (malloc'd), or NULL when jq is not
 * installed (exit 127). Anything else jq does wrong fails the test. */
static char *run_jq(const char *program, const char *input, size_t n)
{
  int in[2], out[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execlp("jq", "jq", "-c", program, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  /* jq reads the whole value before it writes: write all, then read */
  for (size_t off = 0; off < n;) {
    ssize_t w = write(in[1], input + off, n - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  close(in[1]);
  sb_buf_t b;
  sb_buf_init(&b, 0);
  char chunk[4096];
  ssize_t r;
  while ((r = read(out[0], chunk, sizeof(chunk))) > 0)
    sb_buf_append(&b, chunk, (size_t)r);
  close(out[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    sb_buf_free(&b);
    return NULL;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("jq failed on %.*s", (int)n, input);
  sb_buf_cstr(&b);
  return b.data;
}

typedef struct {
  sb_arena_t arena;
  sb_buf_t text;
  const sb_json_t *chat; /* the chat utility of the seed's front matter */
} seed_t;

/* The seed skill file (the shared one, else the copy switchboard embeds). */
static void seed_load(seed_t *s)
{
  static const char *const paths[] = {"../shared/seeds/openrouter.md",
                                      "skills/openrouter.md"};
  size_t n = 0;
  char *file = NULL;
  for (size_t i = 0; file == NULL && i < SB_ARRAY_LEN(paths); i++)
    file = read_file(paths[i], &n);
  assert_non_null(file);
  sb_slice_t yaml;
  char err[256];
  sb_json_t *front;
  sb_arena_init(&s->arena, 4096, 0);
  sb_buf_init(&s->text, 0);
  assert_int_equal(sb_yaml_front_matter(sb_slice(file, n), &yaml), SB_OK);
  assert_int_equal(sb_yaml_to_json(yaml.ptr, yaml.len, 0, &s->text, err,
                                   sizeof(err)),
                   SB_OK);
  free(file);
  assert_int_equal(sb_json_parse(&s->arena, s->text.data, s->text.len, 0,
                                 &front, NULL),
                   SB_OK);
  s->chat = sb_json_get(sb_json_get(front, "utilities"), "chat");
  assert_non_null(s->chat);
}

static void seed_free(seed_t *s)
{
  sb_buf_free(&s->text);
  sb_arena_destroy(&s->arena);
}

/* rest.body as one jq program on {"params": ...}: {"field": (expr), ...}. */
static char *body_program(sb_arena_t *a, const sb_json_t *chat)
{
  const sb_json_t *body = sb_json_get(sb_json_get(chat, "rest"), "body");
  sb_buf_t p;
  sb_buf_init(&p, 0);
  sb_buf_appendz(&p, "{");
  for (const sb_json_t *f = body->child; f != NULL; f = f->next) {
    sb_slice_t expr;
    assert_int_equal(sb_json_string(a, f, &expr), SB_OK);
    sb_buf_appendf(&p, "\"%.*s\": (%.*s)%s", (int)f->key.len, f->key.ptr,
                   (int)expr.len, expr.ptr, f->next != NULL ? ", " : "");
  }
  sb_buf_appendz(&p, "}");
  sb_buf_cstr(&p);
  char *r = sb_arena_strndup(a, p.data, p.len);
  sb_buf_free(&p);
  return r;
}

/* The corpus of tests/e2e/skill_contract.test.mjs, and the cases above. */
static const char *const params_corpus[] = {
    "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
    "{\"model\":\"openai/gpt-4o-mini\",\"system\":\"Be brief.\",\"messages\":[{\"role\":"
    "\"user\",\"content\":\"Hi\"}]}",
    "{\"model\":\"openai/gpt-4o-mini\",\"system\":\"\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"Hi\"}]}",
    "{\"model\":\"openai/gpt-4o-mini\",\"system\":false,\"messages\":[{\"role\":\"user\","
    "\"content\":\"Hi\"}],\"max_tokens\":null,\"temperature\":null,\"tools\":null}",
    "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
    "\"Weather?\"}],\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather for a "
    "city\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
    "\"string\"}},\"required\":[\"city\"]}},{\"name\":\"no_details\"},{\"name\":"
    "\"desc_only\",\"description\":\"d\"}]}",
    "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
    "\"tools\":[],\"max_tokens\":256,\"temperature\":0.7}",
    "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
    "\"max_tokens\":1,\"temperature\":0}",
    "{\"model\":\"openai/gpt-4o-mini\",\"system\":\"Use tools. \\u00dcn\\u00efc\\u00f6d\\u00e9 "
    "\\u2713 \\\"quotes\\\" \\\\ back\\nslash\",\"messages\":[{\"role\":\"user\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"Weather in Z\\u00fcrich?\"}]},{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Z\\u00fcrich\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp\\\": 12}\"}],"
    "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],"
    "\"extra_param_not_in_the_contract\":true}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
    "\"max_tokens\":5,\"temperature\":2}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"d\"}],"
    "\"system\":false,\"max_tokens\":false,\"stop\":[\"x\"]}",
};

/* params -> jq's rest.body -> the OpenAI door must give the hub the skill
 * door gives. */
static void test_params_against_jq(void **state)
{
  (void)state;
  seed_t s;
  seed_load(&s);
  const char *program = body_program(&s.arena, s.chat);
  for (size_t i = 0; i < SB_ARRAY_LEN(params_corpus); i++) {
    const char *params = params_corpus[i];
    sb_buf_t in;
    sb_buf_init(&in, 0);
    sb_buf_appendf(&in, "{\"params\":%s}", params);
    char *body = run_jq(program, in.data, in.len);
    sb_buf_free(&in);
    if (body == NULL) {
      seed_free(&s);
      skip(); /* jq is not installed (scripts/install-deps --test has it) */
    }
    fmt_t f;
    fmt_init(&f, &cfg);
    fmt_openai_req(&f, body);
    sb_buf_t want, got;
    sb_buf_init(&want, 0);
    sb_buf_init(&got, 0);
    f.req.stream = false; /* the skill contract has none */
    dump_hub(&want, &f.req);
    door_t d;
    if (skill_decode(&d, params) != SB_OK)
      fail_msg("refused: %s\n%s", d.why, params);
    dump_hub(&got, &d.req);
    sb_buf_cstr(&want);
    sb_buf_cstr(&got);
    if (strcmp(want.data, got.data) != 0)
      fail_msg("params %s\njq's body %s\nthe OpenAI door:\n%s\nthe skill door:\n%s",
               params, body, want.data, got.data);
    free(body);
    sb_buf_free(&want);
    sb_buf_free(&got);
    sb_arena_destroy(&d.arena);
    fmt_free(&f);
  }
  seed_free(&s);
}

/* The events of `path` through `enc` (a whole answer) with the usage and
 * finish of the file, as fmt_check_encoder ends them. */
static void encode_file(const sb_codec_encoder_t *enc, const char *path,
                        sb_buf_t *out)
{
  size_t n = 0;
  char *d = read_file(path, &n);
  assert_non_null(d);
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  fmt_t f;
  fmt_init(&f, &cfg);
  void *st = sb_arena_calloc(&a, enc->state_size);
  enc->begin(st, &a, NULL, &f.names, false, false);
  sb_usage_t usage = {0};
  sb_answer_end_t end = {.usage = &usage, .cost = SB_SLICE_LIT("0")};
  for (const char *line = d, *stop = d + n; line < stop;) {
    const char *nl = memchr(line, '\n', (size_t)(stop - line));
    const char *le = nl != NULL ? nl : stop;
    sb_hub_event_t ev;
    if (fmt_parse_event(&a, line, le, &ev)) {
      if (ev.kind == SB_HUB_EV_USAGE)
        usage = ev.usage;
      if (ev.kind == SB_HUB_EV_FINISH) {
        end.finish = ev.finish;
        end.native_finish = ev.native;
      }
      assert_int_equal(enc->event(st, &ev, out), SB_OK);
    }
    line = le + 1;
  }
  assert_int_equal(enc->end(st, &end, out), SB_OK);
  fmt_free(&f);
  sb_arena_destroy(&a);
  free(d);
}

/* events -> the OpenAI door's chat.completion -> jq's response.transform
 * must be the reply the skill door writes. (An empty text is the one
 * difference, left out here: the OpenAI door writes no content for it,
 * the skill door an empty one, as jq keeps a provider's "".) */
static void test_reply_against_jq(void **state)
{
  (void)state;
  seed_t s;
  seed_load(&s);
  sb_slice_t transform;
  assert_int_equal(sb_json_string(&s.arena,
                                  sb_json_get(sb_json_get(sb_json_get(s.chat,
                                                                      "rest"),
                                                          "response"),
                                              "transform"),
                                  &transform),
                   SB_OK);
  const char *program = sb_arena_strndup(&s.arena, transform.ptr, transform.len);
  for (size_t i = 0; i < SB_ARRAY_LEN(reply_files); i++) {
    sb_buf_t completion, reply;
    sb_buf_init(&completion, 0);
    sb_buf_init(&reply, 0);
    encode_file(&sb_openai_chat_encoder, reply_files[i], &completion);
    encode_file(sb_codec_skill.door->encoder, reply_files[i], &reply);
    char *want = run_jq(program, completion.data, completion.len);
    if (want == NULL) {
      seed_free(&s);
      skip(); /* jq is not installed */
    }
    sb_buf_t cw, cg;
    sb_buf_init(&cw, 0);
    sb_buf_init(&cg, 0);
    canon_text(&cw, "", sb_slice_z(want));
    canon_text(&cg, "", sb_buf_slice(&reply));
    sb_buf_cstr(&cw);
    sb_buf_cstr(&cg);
    if (strcmp(cw.data, cg.data) != 0)
      fail_msg("%s\ncompletion %.*s\njq:    %s\nskill: %s", reply_files[i],
               (int)completion.len, completion.data, cw.data, cg.data);
    free(want);
    sb_buf_free(&cw);
    sb_buf_free(&cg);
    sb_buf_free(&completion);
    sb_buf_free(&reply);
  }
  seed_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_params_refused),
      cmocka_unit_test(test_reply),
      cmocka_unit_test(test_reply_usage_and_errors),
      cmocka_unit_test(test_params_against_jq),
      cmocka_unit_test(test_reply_against_jq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
