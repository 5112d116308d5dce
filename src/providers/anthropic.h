/* The Anthropic Messages codec's two halves (internal to src/providers/):
 * anthropic.c builds the request, anthropic_stream.c decodes answers. */
#ifndef SB_PROVIDERS_ANTHROPIC_H
#define SB_PROVIDERS_ANTHROPIC_H

#include "codec_util.h"

sb_status_t sb_anthropic_chat_request(sb_call_t *c, sb_upstream_request_t *r);
void sb_anthropic_chat_response(sb_call_t *c, sb_slice_t body);
sb_status_t sb_anthropic_chat_event(sb_call_t *c, const sb_sse_event_t *ev);
void sb_anthropic_error_info(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                             sb_slice_t *code);

#define SB_ANTHROPIC_MAX_BLOCKS 1024
/* The tool that carries a json_schema response_format (see anthropic.c). */
#define SB_ANTHROPIC_JSON_TOOL "json_response"

/* Per-call state, in the call's arena (c->codec_state). */
typedef struct {
  uint8_t kind[SB_ANTHROPIC_MAX_BLOCKS];
  uint16_t
      slot[SB_ANTHROPIC_MAX_BLOCKS]; /* tool call index, or reasoning index */
  unsigned n_tools, n_reasoning;
  bool started;
  bool json_tool; /* the request forced SB_ANTHROPIC_JSON_TOOL */
  uint64_t input, cache_read, cache_write, output;
  uint64_t reported[4]; /* the usage last handed to the call */
  bool reported_any;
} an_state_t;

an_state_t *sb_anthropic_state(sb_call_t *c);

/* stop_reason -> canonical finish reason */
const char *sb_anthropic_finish(sb_slice_t stop_reason);

#endif
