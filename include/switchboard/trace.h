/* SPDX-License-Identifier: MIT */
/*
 * Trace context (W3C Trace Context, `traceparent`): the ids a request's
 * spans carry, read from a client's header and written into the headers
 * of the requests the gateway sends upstream (docs/observability.md,
 * "Traces"). Pure functions, no I/O.
 *
 *   traceparent: 00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>
 *
 * Only version 00 is written. A header of a later version is read for its
 * first four fields, as the specification asks; one that is malformed
 * (wrong lengths, upper-case or other non-hex digits, an all-zero trace or
 * span id, version ff) is ignored and the request starts a new trace.
 */
#ifndef SWITCHBOARD_TRACE_H
#define SWITCHBOARD_TRACE_H

#include "switchboard/common.h"

#define SB_TRACE_FLAG_SAMPLED 0x01
/* "00-" + 32 + "-" + 16 + "-" + 2 */
#define SB_TRACEPARENT_LEN 55

typedef struct {
  uint8_t trace_id[16];
  uint8_t span_id[8]; /* the span the header names: the caller's */
  uint8_t flags;      /* SB_TRACE_FLAG_* */
} sb_traceparent_t;

/* Read a traceparent header value (surrounding spaces allowed). SB_OK
 * fills `out`; SB_ERROR when the value is absent or malformed. */
sb_status_t sb_traceparent_parse(sb_slice_t v, sb_traceparent_t *out);

/* Write "00-<trace>-<span>-<flags>" into `out` (SB_TRACEPARENT_LEN bytes
 * and a NUL). */
void sb_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8],
                           uint8_t flags, char out[SB_TRACEPARENT_LEN + 1]);

/* Lower-case hex of `n` bytes into `out` (2n characters, no NUL). */
void sb_trace_hex(const uint8_t *bytes, size_t n, char *out);

/* A random id of `n` bytes from two 64-bit random numbers per 16 bytes
 * (`next` draws one), never all zero. */
void sb_trace_random_id(uint8_t *out, size_t n, uint64_t (*next)(void *),
                        void *rng);

/* Whether a new trace is sampled at `ratio` (0..1) for a random 64-bit
 * draw: ratio 1 always, 0 never. */
bool sb_trace_sample(double ratio, uint64_t draw);

#endif
