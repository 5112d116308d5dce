/*
 * Provider codecs: one const table per wire format. A codec turns a call
 * (an OpenAI-shaped chat request, routed) into the provider's HTTP request,
 * and the provider's response or stream events back into the gateway's
 * output through the call's sink (see call.h).
 *
 * Adding a format = one file in src/providers/, one entry in the table in
 * src/providers/registry.c, one unit test, one fixture folder.
 */
#ifndef SWITCHBOARD_CODEC_H
#define SWITCHBOARD_CODEC_H

#include "switchboard/sse.h"
#include "switchboard/upstream.h"

typedef struct sb_call sb_call_t;

#define SB_CODEC_CAP_STREAM 0x1
#define SB_CODEC_CAP_TOOLS 0x2
#define SB_CODEC_CAP_PASSTHROUGH 0x4 /* speaks OpenAI chat natively */

typedef struct sb_codec {
  const char *name;
  uint32_t caps;
  /* Fill `out` (URL, headers, body) for the routed call. Memory comes from
   * the call's arena or its up_body buffer. SB_DECLINED: the body does not
   * fit; SB_ERROR: the request cannot be expressed for this provider. The
   * caller answers the client in both cases. */
  sb_status_t (*chat_request)(sb_call_t *c, sb_upstream_request_t *out);
  /* A complete 2xx non-stream body: must end in exactly one of
   * sb_call_respond() or sb_call_fail(), after which the call (and its
   * exchange) no longer exists. */
  void (*chat_response)(sb_call_t *c, sb_slice_t body);
  /* One upstream SSE event: emit chunks with sb_call_emit_chunk(). Return
   * SB_OK to go on, SB_DONE when the stream is complete, SB_ERROR when the
   * upstream reported an error in the stream (sb_call_stream_error() was
   * called). */
  sb_status_t (*chat_event)(sb_call_t *c, const sb_sse_event_t *ev);
  /* Pull a human message (and a provider error code) from an error body. */
  void (*error_info)(sb_call_t *c, sb_slice_t body, sb_slice_t *message,
                     sb_slice_t *code);
} sb_codec_t;

/* The codec for a format name ("openai"), or NULL. */
const sb_codec_t *sb_codec_find(const char *format);

extern const sb_codec_t sb_codec_openai;
extern const sb_codec_t sb_codec_anthropic; /* Messages API */
extern const sb_codec_t sb_codec_gemini;    /* generateContent */

#endif
