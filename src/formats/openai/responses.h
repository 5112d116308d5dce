/* SPDX-License-Identifier: MIT */
/*
 * OpenAI's Responses API (POST /v1/responses), internal to
 * src/formats/openai/:
 *   responses_codec.c     the table, statuses both ways, ids, the error shape
 *   responses_check.c     the request's schema (the door's check)
 *   responses_in.c        the door: the envelope; tools and settings -> hub
 *   responses_items.c     the door: input items -> hub messages
 *   responses_out.c       the door: hub events -> the response's event
 *                         stream, or the response object
 *   responses_object.c    the response object and its output items, written
 *   responses_provider.c  the provider side of the providers that speak it
 *                         (the pass-through path only)
 *   responses_store.c     what the door keeps of a request and continues a
 *                         conversation from (switchboard/responses.h)
 *
 * Ids. A response's id is "resp_" and its generation id without "gen-"
 * (X-Generation-Id names the same request). Output items switchboard
 * writes get "<kind>_sb_<that tail>_<n>" (msg, rs, fc, ctc); input items a
 * client sent without an id get "<kind>_sb_<tail>_in<n>". The "_sb_" tells
 * items switchboard made from those a provider made, which matters when a
 * conversation moves to a provider that speaks Responses itself.
 */
#ifndef SB_FORMATS_OPENAI_RESPONSES_H
#define SB_FORMATS_OPENAI_RESPONSES_H

#include "openai.h"
#include "switchboard/responses.h"

extern const sb_codec_door_t sb_responses_door;
extern const sb_codec_encoder_t sb_responses_encoder;
extern const sb_codec_provider_t sb_responses_provider;

/* The door's format name (the ledger's api is "responses" too). */
#define SB_RESPONSES_FORMAT "responses"

/* ---- responses_codec.c ---------------------------------------------------- */

/* Status and incomplete reason <-> canonical finish. `native` is the
 * reason of an incomplete response ("max_output_tokens",
 * "content_filter"), or the status ("completed", "failed"). */
sb_finish_t sb_responses_finish_in(sb_slice_t native);
const char *sb_responses_finish_out(sb_finish_t f);

/* The tail every id of an answer shares: a generation id ("gen-..." or
 * its JSON text with the quotes) without "gen-" and the quotes. */
sb_slice_t sb_responses_tail(sb_slice_t gen_id);
/* An item id made by switchboard: "<kind>_sb_" + tail + "_" + suffix. */
void sb_responses_item_id(sb_buf_t *out, const char *kind, sb_slice_t tail,
                          const char *suffix, uint64_t n);
/* Whether an item id is one switchboard made (the "_sb_" after the
 * kind). */
bool sb_responses_own_id(sb_slice_t id);

/* {"error":{"message","type","param","code"}}: OpenAI's shape, with the
 * gateway's type as `code` and the provider's details in `metadata`. */
void sb_responses_error_body(const sb_answer_error_t *err, sb_buf_t *out);

/* ---- responses_check.c ------------------------------------------------------ */

/* The request against the Responses schema: types and ranges of the
 * members it defines (unknown members pass). SB_DECLINED with `why`. */
sb_status_t sb_responses_check(const sb_json_t *body, char *why, size_t whylen);

/* ---- responses_in.c / responses_items.c ---------------------------------------- */

/* A tool the hub has a form for (function and custom tools); the others
 * are the provider's own (web_search, file_search, code_interpreter,
 * computer use, image generation, local_shell, mcp, namespaces ...). */
bool sb_responses_tool_is_function(const sb_json_t *tool);
/* Is `name` (jtext) the name of one of the request's custom tools? */
bool sb_responses_custom_tool(const sb_json_t *body, sb_slice_t name);

typedef struct {
  sb_arena_t *a;
  char *why;
  size_t whylen;
  sb_hub_msg_t *msgs;
  size_t n, cap;
  sb_hub_blocks_t turn; /* the assistant turn being gathered */
  bool in_turn;
} sb_rs_items_t;

/* Input items (`instructions` given as items too) into hub messages:
 * consecutive assistant-side items (assistant messages, function and
 * custom tool calls, reasoning) make one assistant message; each tool
 * output one tool message. SB_DECLINED with a message for a 400. */
sb_status_t sb_responses_items(sb_rs_items_t *d, const sb_json_t *items);
/* A message of one role with `blocks` (plain: its content was a string). */
sb_status_t sb_responses_add_msg(sb_rs_items_t *d, sb_hub_role_t role,
                                 const sb_hub_blocks_t *blocks, bool plain);
/* Ends the assistant turn being gathered, if any. */
sb_status_t sb_responses_end_turn(sb_rs_items_t *d);

/* A custom tool's input (jtext) from the arguments a model gave the
 * function it was offered as ({"input": "..."}, jtext of its JSON text);
 * the arguments themselves when they are not that. In `a`. */
sb_slice_t sb_responses_custom_input(sb_arena_t *a, sb_slice_t args);

/* ---- responses_object.c ------------------------------------------------------ */

typedef enum {
  SB_RS_MESSAGE,
  SB_RS_REASONING,
  SB_RS_CALL,   /* function_call */
  SB_RS_CUSTOM, /* custom_tool_call */
} sb_rs_kind_t;

/* An output item as the encoder gathers it. */
typedef struct {
  sb_rs_kind_t kind;
  unsigned n;          /* its number in the answer, for its id */
  sb_buf_t text;       /* jtext: message text, reasoning summary, arguments */
  bool has_summary;    /* reasoning: a summary part was opened */
  sb_slice_t call_id;  /* jtext */
  sb_slice_t name;     /* jtext */
  sb_slice_t opaque;   /* reasoning: encrypted_content as a JSON value */
  int64_t tool;        /* the hub's tool index, -1 */
  bool open;           /* added, not yet done */
} sb_rs_item_t;

/* The item's id into `out` (reset first). */
void sb_responses_write_item_id(sb_buf_t *out, const sb_rs_item_t *it,
                                sb_slice_t tail);
/* The item as the API shows it; `done`: its final form (else as added). */
void sb_responses_write_item(sb_jw_t *w, sb_arena_t *a, const sb_rs_item_t *it,
                             sb_slice_t tail, bool done, bool failed);

/* What the response object says besides what the request echoes. */
typedef struct {
  sb_slice_t id;        /* jtext: "resp_..." */
  int64_t created_s;
  sb_slice_t model;     /* JSON text (a quoted string) */
  const char *status;   /* "in_progress", "completed", "incomplete", "failed" */
  const char *incomplete; /* incomplete_details.reason, or NULL */
  int error_status;     /* failed: the error's status, message and code */
  sb_slice_t error_message; /* bytes */
  const char *error_code;
  const sb_json_t *req; /* the request, whose settings the object echoes */
  /* output: the items, or (pass-through) none */
  const sb_rs_item_t *items;
  size_t n_items;
  sb_slice_t tail;
  bool with_usage;
  const sb_answer_end_t *end; /* usage and cost, when with_usage */
} sb_rs_object_t;

void sb_responses_write_object(sb_jw_t *w, sb_arena_t *a, const sb_rs_object_t *o);
/* `usage` with switchboard's `cost`: the provider's own object (its
 * format is the door's) or one made from the counts. */
void sb_responses_write_usage(sb_jw_t *w, const sb_answer_end_t *end);

/* ---- responses_provider.c ------------------------------------------------------ */

/* The canonical counts of a Responses usage object. False when `v` is
 * not an object. */
bool sb_responses_usage(const sb_json_t *v, sb_usage_t *u);

#endif
