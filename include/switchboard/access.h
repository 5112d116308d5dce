/* SPDX-License-Identifier: MIT */
/*
 * The access record: what the gateway tells about one request when it
 * ends, for the access log, the live request feed, the metrics and the
 * traces (docs/observability.md). Model calls get it from their record
 * step (src/gateway/record.c), other requests from the HTTP exchange.
 *
 * A worker fills an sb_access_t whose slices point into the request's
 * memory, then packs it into its ring (ops.h) in one compact copy; the
 * operations thread unpacks it (slices now point into the ring) and
 * renders it as a line of JSON or text, or as an OTLP span.
 */
#ifndef SWITCHBOARD_ACCESS_H
#define SWITCHBOARD_ACCESS_H

#include "switchboard/buf.h"
#include "switchboard/usage.h"

/* Upstream attempts kept for a traced request (its child spans); later
 * ones are counted in `attempts` but have no span. */
#define SB_ACCESS_MAX_SPANS 16
/* Each text field is cut to this many bytes (a request's path: 512). */
#define SB_ACCESS_FIELD_MAX 256
#define SB_ACCESS_PATH_MAX 512

/* One upstream attempt, as a child span. Times are nanoseconds since the
 * request started (its start_unix_ns). */
typedef struct {
  uint8_t span_id[8];
  uint64_t start_ns, first_byte_ns, end_ns; /* first_byte_ns 0: none */
  int status;            /* the provider's HTTP status; 0: none */
  sb_slice_t provider;   /* configured name ("openai") */
  sb_slice_t format;     /* its wire format ("openai", "anthropic") */
  sb_slice_t model;      /* the provider's own model name */
  sb_slice_t host;       /* host[:port] of its base URL */
  sb_slice_t error_type; /* empty when it answered */
} sb_access_attempt_t;

typedef struct sb_access {
  int64_t start_unix_ns; /* when the request was read (wall clock) */
  sb_slice_t id;         /* generation id; empty when not a model call */
  sb_slice_t door;       /* chat, messages, embeddings, skill, admin ... */
  sb_slice_t method;
  sb_slice_t path; /* without the query (it may hold a key) */
  int status;      /* 499: the client went away first */
  sb_slice_t model_requested;
  sb_slice_t model;     /* the catalog id that answered */
  sb_slice_t provider;  /* the provider that answered */
  uint32_t attempts;    /* upstream attempts (retries, fallbacks) */
  sb_slice_t key_label; /* the caller's name: a key's, "admin", "local" */
  sb_slice_t agent;
  sb_usage_t usage;
  bool usage_estimated;
  bool stream;
  int64_t cost_pico;
  uint64_t latency_ns;       /* read to answered (a stream: to its end) */
  uint64_t ttft_ns;          /* to the first byte of the answer; 0: none */
  uint64_t overhead_ns;      /* the gateway's own time (observability.md) */
  uint64_t upstream_ns;      /* the answering attempt: start to end */
  uint64_t upstream_ttfb_ns; /* ... to its first byte; 0: none */
  sb_slice_t finish_reason;
  sb_slice_t error_type;
  /* trace (trace.h); traced: a sampled span is to be exported */
  bool traced;
  uint8_t trace_id[16];
  uint8_t span_id[8];
  bool has_parent;
  uint8_t parent_span_id[8];
  sb_slice_t operation; /* gen_ai.operation.name: chat, embeddings */
  size_t n_spans;
  sb_access_attempt_t spans[SB_ACCESS_MAX_SPANS];
} sb_access_t;

/* The most sb_access_pack() may write for `a` (every field at its cut). */
size_t sb_access_pack_bound(const sb_access_t *a);
/* Pack into `dst` (sb_access_pack_bound() bytes of room); returns the
 * bytes written. */
size_t sb_access_pack(const sb_access_t *a, unsigned char *dst);
/* Unpack `len` bytes: slices point into `src`. SB_ERROR when they are not
 * a packed record. */
sb_status_t sb_access_unpack(const unsigned char *src, size_t len,
                             sb_access_t *out);

/* The status class, "2xx" ... "5xx" (and "1xx"; "other" past 599). */
const char *sb_access_status_class(int status);

/* One line (with its '\n') for the access log: JSON or `key=value` text. */
sb_status_t sb_access_json(const sb_access_t *a, sb_buf_t *out);
sb_status_t sb_access_text(const sb_access_t *a, sb_buf_t *out);

#endif
