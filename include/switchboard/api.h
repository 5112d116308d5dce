/*
 * HTTP endpoints. sb_api_handle() is the server's handler: it routes by
 * method and path to one endpoint family per file in src/api/.
 * Every endpoint answers in its API's own error shape (DESIGN.md, "Errors").
 */
#ifndef SWITCHBOARD_API_H
#define SWITCHBOARD_API_H

#include "switchboard/gateway.h"
#include "switchboard/http.h"
#include "switchboard/json.h"
#include "switchboard/pricing.h"

/* Who is calling (set by authentication). */
typedef struct {
  bool admin;       /* the admin key, or local mode */
  bool local;       /* local mode or trusted loopback */
  sb_slice_t label; /* shown in the ledger */
  struct sb_key *key; /* a client key (keys.h), else NULL; owned by the
                         exchange (x->principal) */
} sb_identity_t;

void sb_api_handle(sb_http_exchange_t *x);

/* Which API's error shape an endpoint answers in (DESIGN.md, "Errors"). */
typedef enum {
  SB_API_OPENAI,    /* {"error":{"code","message","metadata"}} */
  SB_API_ANTHROPIC, /* {"type":"error","error":{"type","message"}} */
  SB_API_SKILL,     /* {"error":"message"} */
} sb_api_shape_t;

/* Authenticate the request. SB_OK fills `who`; SB_ERROR means it was
 * answered already (401, in `shape`). Skill paths may be trusted from
 * loopback (local_trust). */
sb_status_t sb_api_auth(sb_http_exchange_t *x, sb_api_shape_t shape,
                        sb_identity_t *who);

/* ---- responses ------------------------------------------------------- */

void sb_api_json(sb_http_exchange_t *x, int status, sb_slice_t body);
/* OpenAI / OpenRouter error: {"error":{"code","message","metadata"?}}. */
void sb_api_error(sb_http_exchange_t *x, int status, const char *type,
                  const char *fmt, ...) SB_PRINTF(4, 5);
/* Skill contract error: {"error":"message"}. */
void sb_api_skill_error(sb_http_exchange_t *x, int status, const char *fmt,
                        ...) SB_PRINTF(3, 4);
/* An error in `shape`: `type` is the OpenAI shape's metadata.error_type
 * (the Anthropic type follows the status; the skill shape has none). */
void sb_api_fail(sb_http_exchange_t *x, sb_api_shape_t shape, int status,
                 const char *type, const char *fmt, ...) SB_PRINTF(5, 6);
/* The request body parsed as JSON (any value) or as a JSON object. NULL:
 * it was empty or invalid and the 400 is answered in `shape`. */
sb_json_t *sb_api_parse_json(sb_http_exchange_t *x, sb_api_shape_t shape);
sb_json_t *sb_api_parse_object(sb_http_exchange_t *x, sb_api_shape_t shape);

/* ---- endpoint families ------------------------------------------------ */

void sb_api_chat(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_models(sb_http_exchange_t *x);
/* GET /api/v1/models/{author}/{slug}/endpoints: `id` is author/slug. */
void sb_api_model_endpoints(sb_http_exchange_t *x, sb_slice_t id);
void sb_api_health(sb_http_exchange_t *x);
void sb_api_metrics(sb_http_exchange_t *x);
void sb_api_generation(sb_http_exchange_t *x);
void sb_api_skills_list(sb_http_exchange_t *x);
void sb_api_skill_show(sb_http_exchange_t *x, sb_slice_t skill);
void sb_api_skill_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       sb_slice_t skill, sb_slice_t utility);

/* Keys and credits (src/api/keys.c): `rest` is what follows "/keys". */
void sb_api_keys(sb_http_exchange_t *x, const sb_identity_t *who,
                 sb_slice_t rest);
void sb_api_key_self(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_credits(sb_http_exchange_t *x, const sb_identity_t *who);

/* Attribution headers shared by endpoints that create calls. */
struct sb_call;
void sb_api_attribute(sb_http_exchange_t *x, const sb_identity_t *who,
                      struct sb_call *c);

/* ---- the Anthropic Messages API (messages.c, messages_stream.c) ------- */

void sb_api_messages(sb_http_exchange_t *x, const sb_identity_t *who);
void sb_api_messages_count_tokens(sb_http_exchange_t *x,
                                  const sb_identity_t *who);
/* POST /v1/embeddings (embeddings.c). */
void sb_api_embeddings(sb_http_exchange_t *x, const sb_identity_t *who);

/* Anthropic error: {"type":"error","error":{"type":T,"message":M}}, with
 * the type that goes with `status` (sb_anthropic_error_type). */
void sb_api_anthropic_error(sb_http_exchange_t *x, int status,
                            const char *fmt, ...) SB_PRINTF(3, 4);
const char *sb_anthropic_error_type(int status);
sb_status_t sb_anthropic_error_body(sb_buf_t *b, const char *type,
                                    const char *msg, size_t n);

/* Check a Messages request against the API's schema (messages_validate.c):
 * the type and range of every member the API defines; members it does not
 * define are not looked at. SB_DECLINED: `why` names the member (a 400).
 * `for_count`: count_tokens, where max_tokens is optional. */
sb_status_t sb_messages_validate(const sb_json_t *req, bool for_count,
                                 char *why, size_t whylen);

/* sb_messages_to_openai's flags */
#define SB_MSG_FOR_COUNT 0x1    /* count_tokens: max_tokens is optional */
#define SB_MSG_NO_REASONING 0x2 /* the model does not reason: no `reasoning` */
#define SB_MSG_PLAIN 0x4        /* no OpenRouter extensions: no cache_control,
                                   no reasoning_details */

/* Validate a Messages request (sb_messages_validate) and translate it into
 * the OpenAI-shaped chat request the call takes (messages_request.c).
 * SB_DECLINED: the request is invalid, `why` says how (a 400); SB_ERROR:
 * `out` is full. */
sb_status_t sb_messages_to_openai(sb_arena_t *a, const sb_json_t *req,
                                  unsigned flags, sb_buf_t *out, char *why,
                                  size_t whylen);
/* count_tokens' estimate: ceil(text bytes / 4) + 3 per message + 1600 per
 * image or binary document. Not a tokenizer (docs/messages.md). */
uint64_t sb_messages_estimate_tokens(const sb_json_t *req);
/* A chat.completion (OpenAI shape, with reasoning_details) -> a Messages
 * `message`. `j_id` and `j_model` are JSON strings. */
sb_status_t sb_messages_from_openai(sb_arena_t *a, const sb_json_t *completion,
                                    const sb_usage_t *u, sb_slice_t j_id,
                                    sb_slice_t j_model, sb_buf_t *out);
/* OpenAI finish_reason (+ the provider's own) -> Anthropic stop_reason. */
const char *sb_messages_stop_reason(sb_slice_t finish, sb_slice_t native);
/* {input_tokens (uncached only), cache_creation_input_tokens,
 *  cache_read_input_tokens, output_tokens} */
void sb_messages_write_usage(sb_jw_t *w, const sb_usage_t *u);
/* Reasoning details whose format this API shows natively (Anthropic's). */
bool sb_messages_detail_native(const sb_json_t *d);
/* Write any other detail as an opaque string (SB_MESSAGES_RD_PREFIX + its
 * JSON) for a redacted_thinking block; a request restores it exactly. */
#define SB_MESSAGES_RD_PREFIX "sb-rd:"
void sb_messages_opaque_detail(sb_jw_t *w, sb_buf_t *tmp, const sb_json_t *d);

/* OpenAI chat.completion.chunk objects -> Messages stream events. Blocks
 * get dense indexes in order of appearance; thinking, text and each tool
 * call open and close their own blocks. Tool calls stream their
 * arguments live while they come one after another; pieces of a call that
 * is not the open block (interleaved parallel calls) wait in `pending` and
 * are sent when that call's block opens. */
#define SB_MSG_MAX_TOOLS 128

typedef struct {
  int64_t oa_index;
  int32_t block;   /* -1 until its block is opened */
  bool closed;
  sb_slice_t id, name; /* JSON strings, in the stream's arena */
  sb_buf_t pending;    /* escaped argument bytes not yet sent */
} sb_msg_tool_t;

enum { SB_MSG_NONE, SB_MSG_TEXT, SB_MSG_THINKING, SB_MSG_TOOL };

typedef struct {
  sb_arena_t arena;
  sb_buf_t out;          /* the events for the client (reset per chunk) */
  sb_buf_t tmp;
  sb_slice_t j_id, j_model; /* JSON strings, set before the first chunk */
  uint64_t input_estimate;  /* message_start's input_tokens */
  bool started, ended;
  int open;                 /* SB_MSG_* */
  size_t open_tool;
  sb_slice_t think_index;   /* raw `index` of the open thinking block */
  uint32_t next_block;
  sb_msg_tool_t *tools;     /* SB_MSG_MAX_TOOLS, in the arena */
  size_t n_tools;
  size_t pending_total;     /* argument bytes held, all calls */
  char finish[32], native[64];
  bool failed;
  int error_code;
  char error[256];
} sb_msg_stream_t;

void sb_msg_stream_init(sb_msg_stream_t *s);
void sb_msg_stream_free(sb_msg_stream_t *s);
/* Translate one chunk, appending events to s->out. SB_ERROR: out of room. */
sb_status_t sb_msg_stream_chunk(sb_msg_stream_t *s, const sb_json_t *chunk);
/* The stream failed: the end writes an `error` event instead of
 * message_delta / message_stop. */
void sb_msg_stream_fail(sb_msg_stream_t *s, int code, sb_slice_t message);
/* Close what is open, then message_delta (stop_reason, usage) and
 * message_stop, or the error event. */
void sb_msg_stream_end(sb_msg_stream_t *s, const sb_usage_t *u);

#endif
