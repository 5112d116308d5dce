/*
 * Helpers shared by the codecs: upstream headers, the OpenAI-shaped
 * envelopes the translating codecs (anthropic, gemini) write for the call's
 * sink, usage reporting, and the steps every codec takes on a provider's
 * body. Internal to src/providers/.
 */
#ifndef SB_PROVIDERS_CODEC_UTIL_H
#define SB_PROVIDERS_CODEC_UTIL_H

#include "switchboard/call.h"

/* The provider's configuration sets this header itself. */
bool sb_cu_provider_has_header(const sb_call_t *c, const char *name);

/* Refuse the request with a client-facing 400 message (returns SB_ERROR). */
sb_status_t sb_cu_refuse(sb_call_t *c, const char *fmt, ...) SB_PRINTF(2, 3);

/* One entry of a client's `tools`: a function with a name, else the
 * request is refused naming `provider`. Opens its object in `w` with
 * "name" and, when given, "description"; *params is its "parameters"
 * (NULL when absent). The caller writes the rest and closes the object. */
sb_status_t sb_cu_function_tool_begin(sb_call_t *c, sb_jw_t *w,
                                      const sb_json_t *tool,
                                      const char *provider,
                                      const sb_json_t **params);

/* A client tool call's "arguments" (a JSON string holding an object, or an
 * object) as the object's text in *out; "{}" when absent or empty.
 * SB_DECLINED when they are not an object (the caller refuses, naming its
 * provider), SB_ERROR when out of memory. */
sb_status_t sb_cu_tool_args(sb_call_t *c, const sb_json_t *args, sb_slice_t *out);

/* A client's image_url content part: a base64 data URL (is_data: its
 * media type and data) or an http(s) URL. */
typedef struct {
  bool is_data;
  sb_slice_t url;              /* the whole URL, unescaped */
  sb_slice_t media_type, data; /* is_data only */
} sb_cu_image_t;
/* Read and check an image_url part; SB_ERROR (refused with a 400) when it
 * has no url or the url is neither kind. */
sb_status_t sb_cu_image(sb_call_t *c, const sb_json_t *part, sb_cu_image_t *img);

/* A client's tool_choice (NULL: auto). */
typedef enum {
  SB_CU_CHOICE_AUTO,
  SB_CU_CHOICE_NONE,
  SB_CU_CHOICE_REQUIRED,
  SB_CU_CHOICE_FUNCTION, /* *name: the function's name (a JSON string) */
} sb_cu_choice_t;
/* Classify tool_choice; SB_ERROR (refused with a 400) when it is none of
 * auto, none, required or {"type":"function","function":{"name":...}}. */
sb_status_t sb_cu_tool_choice(sb_call_t *c, const sb_json_t *choice, sb_cu_choice_t *kind,
                              const sb_json_t **name);

/* The model's largest output from the catalog, or `def`. */
int64_t sb_cu_max_output(const sb_call_t *c, int64_t def);

/* An integer member, or `def` when absent or not an integer. */
int64_t sb_cu_int(const sb_json_t *obj, const char *name, size_t n,
                  int64_t def);
#define SB_CU_INT(obj, lit, def) sb_cu_int((obj), SB_STRLIT(lit), (def))

/* The request's "stop" (a string, or a non-empty array) as an array
 * member named `key`; nothing when absent. */
void sb_cu_stop_sequences(sb_jw_t *w, const sb_json_t *req, const char *key, size_t kn);

/* Token counts above this are treated as absent (hostile or broken
 * upstreams must not overflow sums or costs). */
#define SB_CU_MAX_TOKENS ((int64_t)1 << 40)

/* Record usage given in the gateway's terms (prompt = every input token). */
void sb_cu_usage(sb_call_t *c, uint64_t prompt, uint64_t completion,
                 uint64_t cached, uint64_t cache_write, uint64_t reasoning);

/* Stream chunks. chunk_begin resets c->out and writes the envelope up to
 * `"delta":`; the caller writes the delta object; chunk_end closes it with
 * the finish reason (NULL = null) and hands it to the sink. SB_ERROR when
 * the client is gone or the chunk is too large (stream error recorded). */
void sb_cu_chunk_begin(sb_call_t *c, sb_jw_t *w);
sb_status_t sb_cu_chunk_end(sb_call_t *c, sb_jw_t *w, const char *finish,
                            sb_slice_t native);

/* Non-stream: completion_begin resets c->out and writes the envelope up to
 * `"message":`; the caller writes the message object; completion_end adds
 * the finish reason and the usage (with cost) and responds (or fails). */
void sb_cu_completion_begin(sb_call_t *c, sb_jw_t *w);
void sb_cu_completion_end(sb_call_t *c, sb_jw_t *w, const char *finish,
                          sb_slice_t native);

/* A non-stream body's root: false (the call failed with a 502) when the
 * body is not a JSON object or carries an "error" member (failed as
 * sb_cu_fail_error_body). */
bool sb_cu_response_root(sb_call_t *c, sb_slice_t body, sb_json_t **root);
/* Fail the call with a 502 naming the provider and the message its codec's
 * error_info finds in `body`. */
void sb_cu_fail_error_body(sb_call_t *c, sb_slice_t body);
/* The first step of an error_info: message and code cleared, the body
 * parsed into *root; false (message = a short prefix of the body, an HTML
 * page from a proxy, say) when it is not JSON. */
bool sb_cu_error_root(sb_call_t *c, sb_slice_t body, sb_slice_t *message, sb_slice_t *code,
                      sb_json_t **root);

/* The assistant message of a completion, after sb_cu_completion_begin: opens
 * it with the role, the content (`text` when n_text > 0, else null), a null
 * refusal and the reasoning (when n_reasoning > 0); the caller adds its
 * members and closes it. */
void sb_cu_message_begin(sb_jw_t *w, const sb_buf_t *text, size_t n_text,
                         const sb_buf_t *reasoning, size_t n_reasoning);

/* A stream chunk of one tool call: tool_chunk_begin writes the envelope up
 * to the call's "index"; the caller adds the call's members (id, type,
 * function); tool_chunk_end closes the call and hands the chunk on, as
 * sb_cu_chunk_end. */
void sb_cu_tool_chunk_begin(sb_call_t *c, sb_jw_t *w, int64_t index);
sb_status_t sb_cu_tool_chunk_end(sb_call_t *c, sb_jw_t *w);

#endif
