/*
 * Helpers shared by the translating codecs (anthropic, gemini): upstream
 * headers, the OpenAI-shaped envelopes they write for the call's sink, and
 * usage reporting. Internal to src/providers/.
 */
#ifndef SB_PROVIDERS_CODEC_UTIL_H
#define SB_PROVIDERS_CODEC_UTIL_H

#include "switchboard/call.h"

/* Append one upstream request header (silently dropped past the cap). */
void sb_cu_header(sb_call_t *c, const char *name, const char *value);
/* Authentication (a key picked from the provider's) and the provider's
 * configured extra headers. */
void sb_cu_auth_headers(sb_call_t *c);
/* The provider's configuration sets this header itself. */
bool sb_cu_provider_has_header(const sb_call_t *c, const char *name);

/* Refuse the request with a client-facing 400 message (returns SB_ERROR). */
sb_status_t sb_cu_refuse(sb_call_t *c, const char *fmt, ...) SB_PRINTF(2, 3);

/* The model's largest output from the catalog, or `def`. */
int64_t sb_cu_max_output(const sb_call_t *c, int64_t def);

/* An integer member, or `def` when absent or not an integer. */
int64_t sb_cu_int(const sb_json_t *obj, const char *name, size_t n,
                  int64_t def);
#define SB_CU_INT(obj, lit, def) sb_cu_int((obj), SB_STRLIT(lit), (def))

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

#endif
