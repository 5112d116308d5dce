/* SPDX-License-Identifier: MIT */
/*
 * The hub: the one typed form in which every door and every provider
 * format meet (DESIGN.md, "The hub"). A door's format decodes its client's
 * request into an sb_hub_req_t; the routed provider's format reads that
 * form to build its own request, and turns the provider's answer (a whole
 * response or a stream) into sb_hub_event_t values handed to a sink; the
 * door's format writes its client's answer from those events. No format
 * reads JSON text another format wrote.
 *
 * Strings. Every format switchboard speaks is JSON, so text travels in its
 * JSON-escaped form: a "jtext" slice is the content of a JSON string
 * without its quotes, escapes intact ("say \"hi\"\n"). A format copies it
 * between quotes as it is; sb_hub_unescape() gives the bytes when a format
 * needs them (a data URL's base64, a number). JSON values (schemas, tool
 * arguments, cache_control) are "json" slices: the value's text.
 *
 * Lifetimes. A request and everything it points to live in the arena of
 * the exchange that decoded it, read-only once decoded. An event and its
 * slices are valid during the sink call that receives it.
 */
#ifndef SWITCHBOARD_HUB_H
#define SWITCHBOARD_HUB_H

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/common.h"
#include "switchboard/json.h"
#include "switchboard/provider.h"
#include "switchboard/usage.h"

/* ---- finish reasons ----------------------------------------------------- */

/* Canonical reasons an answer ended. Each format has one table that maps
 * its own reasons to these and back (formats/<name>/finish.c). */
typedef enum {
  SB_FINISH_NONE = 0,      /* not finished (yet) */
  SB_FINISH_STOP,          /* a natural end or a stop sequence */
  SB_FINISH_LENGTH,        /* the output cap (or the context) was reached */
  SB_FINISH_TOOL_CALLS,    /* the model called tools */
  SB_FINISH_CONTENT_FILTER,/* refused or filtered */
  SB_FINISH_ERROR,         /* the provider failed mid-answer */
} sb_finish_t;

/* "stop", "length", "tool_calls", "content_filter", "error" (OpenAI's
 * words, also the ledger's); NULL for SB_FINISH_NONE. */
const char *sb_finish_name(sb_finish_t f);
/* The reverse; SB_FINISH_NONE when `s` is none of them. */
sb_finish_t sb_finish_parse(sb_slice_t s);

/* ---- request ------------------------------------------------------------ */

typedef enum {
  SB_HUB_SYSTEM,
  SB_HUB_DEVELOPER, /* OpenAI's developer role: a system message to others */
  SB_HUB_USER,
  SB_HUB_ASSISTANT,
  SB_HUB_TOOL,      /* tool results (blocks of kind TOOL_RESULT) */
} sb_hub_role_t;

typedef enum {
  SB_HUB_TEXT,       /* text */
  SB_HUB_IMAGE,      /* url, or data + media_type (base64) */
  SB_HUB_FILE,       /* a document: url, data + media_type, or file_id;
                        name when known */
  SB_HUB_AUDIO,      /* data (base64) + media_type ("wav", "mp3") */
  SB_HUB_TOOL_CALL,  /* id, name, args (json: the arguments object) */
  SB_HUB_TOOL_RESULT,/* id (the call's), name when known, parts (text,
                        images ...) or text, is_error */
  SB_HUB_REASONING,  /* text (may be empty), signature + sig_format */
  SB_HUB_REDACTED,   /* opaque reasoning: data + sig_format (Anthropic's
                        redacted_thinking, OpenAI's encrypted content) */
  SB_HUB_NATIVE,     /* a block only its own format knows: json + format;
                        passed to that format, left out elsewhere */
} sb_hub_block_kind_t;

/* Where a reasoning block's signature or opaque data came from; only that
 * format can replay it. */
typedef enum {
  SB_HUB_SIG_NONE = 0,
  SB_HUB_SIG_ANTHROPIC, /* thinking signature / redacted_thinking data */
  SB_HUB_SIG_GEMINI,    /* thoughtSignature */
  SB_HUB_SIG_OPENAI,    /* Responses API encrypted_content */
  SB_HUB_SIG_OTHER,     /* a format named in `format` */
} sb_hub_sig_t;

/* OpenRouter's name of the format reasoning comes in ("anthropic-claude-v1",
 * "google-gemini-v1", "openai-responses-v1"; "unknown" for NONE and
 * OTHER), and back (NONE for "unknown", OTHER for a name it does not
 * know). */
const char *sb_hub_sig_name(sb_hub_sig_t f);
sb_hub_sig_t sb_hub_sig_parse(sb_slice_t name);

typedef struct sb_hub_block sb_hub_block_t;

struct sb_hub_block {
  sb_hub_block_kind_t kind;
  sb_slice_t text;         /* jtext: TEXT, REASONING; TOOL_RESULT's text */
  sb_slice_t id;           /* jtext: TOOL_CALL, TOOL_RESULT; FILE's file_id */
  sb_slice_t name;         /* jtext: TOOL_CALL, TOOL_RESULT, FILE */
  sb_slice_t args;         /* json: TOOL_CALL's arguments object */
  sb_slice_t url;          /* jtext: IMAGE, FILE */
  sb_slice_t data;         /* jtext: base64 of IMAGE/FILE/AUDIO; REDACTED */
  sb_slice_t media_type;   /* jtext: "image/png", "application/pdf", "wav" */
  sb_slice_t detail;       /* jtext: an image's detail ("low", "high") */
  sb_slice_t signature;    /* jtext: REASONING */
  sb_hub_sig_t sig_format;
  sb_slice_t cache_control;/* json: Anthropic-style cache breakpoint */
  sb_slice_t native;       /* json: NATIVE's block */
  const char *format;      /* NATIVE, SIG_OTHER: the format's name */
  const sb_hub_block_t *parts; /* TOOL_RESULT's content blocks */
  size_t n_parts;
  bool is_error;           /* TOOL_RESULT */
};

typedef struct {
  sb_hub_role_t role;
  const sb_hub_block_t *blocks;
  size_t n_blocks;
  sb_slice_t name;         /* jtext: a participant's name, when given */
  bool plain;              /* the client gave the content as a plain string
                              (one TEXT block): a format that has both
                              forms writes it back as one */
} sb_hub_msg_t;

typedef enum {
  SB_HUB_TOOL_FUNCTION,    /* name, description, parameters, strict */
  SB_HUB_TOOL_NATIVE,      /* a provider-run tool (web search, code
                              execution ...): json + format; passed to that
                              format, left out elsewhere */
} sb_hub_tool_kind_t;

typedef struct {
  sb_hub_tool_kind_t kind;
  sb_slice_t name;         /* jtext */
  sb_slice_t description;  /* jtext, may be empty */
  sb_slice_t parameters;   /* json schema object; empty: none given */
  int strict;              /* -1 unset, 0, 1 */
  sb_slice_t cache_control;/* json */
  sb_slice_t native;       /* json: NATIVE's tool */
  const char *format;      /* NATIVE */
} sb_hub_tool_t;

typedef enum {
  SB_HUB_CHOICE_UNSET = 0, /* the provider's default (auto) */
  SB_HUB_CHOICE_AUTO,
  SB_HUB_CHOICE_NONE,
  SB_HUB_CHOICE_REQUIRED,  /* some tool */
  SB_HUB_CHOICE_TOOL,      /* the tool named `choice_name` */
} sb_hub_choice_t;

typedef enum {
  SB_HUB_FORMAT_UNSET = 0,
  SB_HUB_FORMAT_TEXT,
  SB_HUB_FORMAT_JSON,        /* any JSON object */
  SB_HUB_FORMAT_JSON_SCHEMA, /* schema (json), schema_name, schema_strict */
  SB_HUB_FORMAT_OTHER,       /* a kind the door knows and the hub has no
                                form for (OpenRouter's grammar, ...): a
                                provider that cannot honour it refuses */
} sb_hub_format_t;

/* Reasoning effort, as OpenAI names it; a budget of tokens, as Anthropic
 * and Gemini take it, is kept beside it. */
typedef enum {
  SB_HUB_EFFORT_UNSET = 0,
  SB_HUB_EFFORT_NONE,
  SB_HUB_EFFORT_MINIMAL,
  SB_HUB_EFFORT_LOW,
  SB_HUB_EFFORT_MEDIUM,
  SB_HUB_EFFORT_HIGH,
  SB_HUB_EFFORT_XHIGH,
} sb_hub_effort_t;

/* A number as its client wrote it: the text goes to a JSON format as it
 * is (no digits lost), the value serves a format that must convert. */
typedef struct {
  bool set;
  double value;
  sb_slice_t raw;          /* the JSON number's text */
} sb_hub_num_t;

typedef struct {
  /* reasoning wanted: -1 unset, 0 off, 1 on (with effort or budget, or
   * the provider's default when neither is given) */
  int enabled;
  sb_hub_effort_t effort;
  int64_t budget;          /* tokens; 0 = unset */
  bool exclude;            /* reason, but do not show the reasoning */
  sb_slice_t summary;      /* jtext: Responses API's summary setting */
} sb_hub_reasoning_t;

typedef struct sb_hub_req {
  /* The door's own format and its parsed body, for a provider of the same
   * format (the pass-through path: the body is forwarded with only the
   * routed members rewritten) and for the members no other format has. */
  const char *door_format;     /* "openai", "anthropic", "gemini" ... */
  const sb_json_t *native;     /* the client's body, as parsed */
  sb_slice_t native_raw;
  /* The client's attribution headers (HTTP-Referer, X-Title), for the
   * providers that take them. */
  const sb_kv_t *client_headers;
  size_t n_client_headers;

  /* ---- read by the gateway (routing, admission, escalation) ---- */
  sb_slice_t model;            /* the model asked for (unescaped) */
  const sb_json_t *models;     /* OpenRouter's fallbacks, or NULL */
  const sb_json_t *provider;   /* OpenRouter's provider preferences, or NULL */
  bool stream;
  int64_t max_tokens;          /* the output cap asked for; 0 = unset */

  /* ---- the conversation (filled by the door's decode) ---- */
  bool decoded;                /* below is filled in (decode is lazy: a
                                  pass-through call never needs it) */
  const sb_hub_msg_t *msgs;    /* system messages may stand anywhere */
  size_t n_msgs;
  const sb_hub_tool_t *tools;
  size_t n_tools;
  bool tools_given;            /* the client sent a tool list, maybe empty */
  sb_hub_choice_t choice;
  sb_slice_t choice_name;      /* jtext */
  int parallel_tool_calls;     /* -1 unset, 0, 1 */
  sb_hub_format_t response_format;
  sb_slice_t schema;           /* json */
  sb_slice_t schema_name;      /* jtext */
  int schema_strict;           /* -1 unset, 0, 1 */
  sb_hub_reasoning_t reasoning;
  sb_hub_num_t temperature, top_p, top_k, presence_penalty,
      frequency_penalty, seed;
  const sb_slice_t *stop;      /* jtext each */
  size_t n_stop;
  int64_t n;                   /* choices asked for; 0 = unset */
  sb_slice_t user;             /* jtext: the end user's id */
  sb_slice_t verbosity;        /* jtext: "low", "medium", "high" */
  sb_slice_t service_tier;     /* jtext */
  sb_slice_t metadata;         /* json object */

  /* ---- the pass-through path (filled by the door, read only by a
   * provider of the door's own format) ---- */
  /* The client's headers that such a provider forwards (Anthropic's
   * anthropic-version and anthropic-beta), unless the provider's own
   * configuration sets the same header. */
  const sb_kv_t *forward_headers;
  size_t n_forward_headers;
  /* A query string (without '?') it appends to the provider's URL
   * ("beta=true"); empty: none. */
  sb_slice_t forward_query;
} sb_hub_req_t;

/* ---- events ------------------------------------------------------------- */

typedef enum {
  /* The answer begins. usage: what the provider reported at the start
   * (Anthropic's input tokens), when has_usage. */
  SB_HUB_EV_START,
  /* Deltas. text: jtext. A block of output is a run of deltas of one kind
   * (and one index for tool calls); BLOCK_STOP ends it when the provider
   * says so, and a delta of another kind ends it implicitly. */
  SB_HUB_EV_TEXT,
  SB_HUB_EV_REASONING,
  SB_HUB_EV_SIGNATURE,     /* text: the reasoning block's signature;
                              sig_format */
  SB_HUB_EV_REDACTED,      /* text: opaque reasoning data; sig_format */
  SB_HUB_EV_TOOL_START,    /* index, id, name (jtext) */
  SB_HUB_EV_TOOL_ARGS,     /* index; text: a fragment of the arguments'
                              JSON text, escaped as a JSON string's content */
  SB_HUB_EV_BLOCK_STOP,
  /* The end: finish (canonical) and native (the provider's own reason,
   * jtext). Usage may come before or after it. */
  SB_HUB_EV_FINISH,
  SB_HUB_EV_USAGE,         /* usage; usage_json: the provider's own object
                              when it carries more (OpenRouter's cost) */
  /* The answer failed: status, text (the message, unescaped bytes),
   * from_provider. Nothing follows. */
  SB_HUB_EV_ERROR,
  /* Bytes already in the door's format (the pass-through path): text is
   * one stream event's data (name: its SSE event name, if any), or a whole
   * response body. has_output: the event carries output (text that is not
   * blank, a tool call, reasoning); output_bytes: its text's length, for
   * the usage estimate. Formats that translate never see these; the
   * door's format writes them as they are. */
  SB_HUB_EV_NATIVE,
} sb_hub_ev_kind_t;

typedef struct {
  sb_hub_ev_kind_t kind;
  sb_slice_t text;
  sb_slice_t id, name;     /* TOOL_START; name: NATIVE's SSE event */
  int64_t index;           /* tool calls: the call's position in the answer */
  sb_hub_sig_t sig_format;
  sb_finish_t finish;
  sb_slice_t native;       /* FINISH: the provider's reason */
  bool has_usage;          /* START */
  sb_usage_t usage;        /* START, USAGE */
  sb_slice_t usage_json;   /* USAGE */
  int status;              /* ERROR */
  bool from_provider;      /* ERROR: the text is the provider's own report
                              (not the gateway's account of a problem) */
  bool has_output;         /* NATIVE */
  uint64_t output_bytes;   /* NATIVE */
} sb_hub_event_t;

/* Where events go. SB_OK: go on; SB_AGAIN: taken, but the client is behind
 * (pause the provider); SB_ERROR: the client is gone, stop. */
typedef struct {
  sb_status_t (*emit)(void *data, const sb_hub_event_t *ev);
  void *data;
} sb_hub_sink_t;

static inline sb_status_t sb_hub_emit(const sb_hub_sink_t *s,
                                      const sb_hub_event_t *ev)
{
  return s->emit(s->data, ev);
}

/* ---- helpers ------------------------------------------------------------ */

/* The bytes of a jtext (escapes resolved) in `a`. */
sb_status_t sb_hub_unescape(sb_arena_t *a, sb_slice_t jtext, sb_slice_t *out);
/* The JSON string of `n` bytes (escaped, in quotes) in `a`. */
sb_status_t sb_hub_quote(sb_arena_t *a, const char *p, size_t n,
                         sb_slice_t *out);
/* The jtext of `n` bytes (escaped) in `a`. */
sb_status_t sb_hub_escape(sb_arena_t *a, const char *p, size_t n,
                          sb_slice_t *out);
/* A tool call's arguments as a jtext (the object's text, escaped) in `a`:
 * what an OpenAI-style "arguments" string holds. */
sb_status_t sb_hub_args_jtext(sb_arena_t *a, sb_slice_t args, sb_slice_t *out);

/* For doors decoding a client's parsed body: a JSON string's jtext (empty,
 * with a NULL pointer, for anything else); a value's JSON text (empty for
 * absent or null); a number as the client wrote it (unset when it is not
 * one). */
sb_slice_t sb_hub_jtext(const sb_json_t *v);
sb_slice_t sb_hub_json(const sb_json_t *v);
void sb_hub_number(sb_hub_num_t *n, const sb_json_t *v);
/* The jtexts of a string, or of an array's strings (stop sequences), in
 * `a`; none for anything else. SB_ERROR: out of memory. */
sb_status_t sb_hub_strings(sb_arena_t *a, const sb_json_t *v,
                           const sb_slice_t **out, size_t *n);

/* jtexts joined, in `a` (a NULL slice when out of memory). */
sb_slice_t sb_hub_join(sb_arena_t *a, const sb_slice_t *parts, size_t n);

/* A growing array of blocks in an arena, for a door building messages. */
typedef struct {
  sb_hub_block_t *v;
  size_t n, cap;
} sb_hub_blocks_t;

/* A new zeroed block of `kind` at the end of `b`; NULL when out of memory
 * (earlier blocks may have moved: hold indexes, not pointers). */
sb_hub_block_t *sb_hub_blocks_add(sb_arena_t *a, sb_hub_blocks_t *b,
                                  sb_hub_block_kind_t kind);

/* Does a jtext hold anything but spaces, tabs and line breaks (escaped or
 * not)? What counts as output. */
bool sb_hub_nonblank(sb_slice_t jtext);

/* The text of a message: its TEXT blocks' jtext joined (into `a`), or the
 * one block's slice when there is one. */
sb_slice_t sb_hub_msg_text(sb_arena_t *a, const sb_hub_msg_t *m);

/* Opaque reasoning (src/formats/opaque.c): reasoning of another format
 * carried through a format whose clients can hold only opaque data (the
 * Messages API's redacted_thinking, the Responses API's encrypted
 * reasoning): the prefix, then OpenRouter's reasoning_details entry in
 * JSON. The client sends the data back as it got it, and the door
 * restores the reasoning for the provider that made it. */
#define SB_HUB_OPAQUE_PREFIX "sb-rd:"
/* Write, as a JSON string value, the opaque data that carries a REDACTED
 * or SIGNATURE event. */
void sb_hub_opaque_write(sb_jw_t *w, const sb_hub_event_t *ev);
/* The reasoning an opaque data (jtext) carries, as a block in `a`: SB_OK;
 * SB_DECLINED when `data` is not such a payload. */
sb_status_t sb_hub_opaque_read(sb_arena_t *a, sb_slice_t data,
                               sb_hub_block_t *out);

/* Input tokens of a decoded request, estimated (sb_usage_estimate) from
 * the bytes of its text (system messages' included), arguments, tools and
 * schemas, plus a few tokens per conversation message (system and
 * developer messages, the system prompt, add none) and a fixed allowance
 * per image, file or audio part: what the token-counting endpoints answer
 * (docs/messages.md). */
uint64_t sb_hub_estimate_input(const sb_hub_req_t *req);

#endif
