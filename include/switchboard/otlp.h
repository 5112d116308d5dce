/* SPDX-License-Identifier: MIT */
/*
 * OpenTelemetry traces as OTLP/HTTP JSON (docs/observability.md,
 * "Traces"): a request's spans rendered from its access record, following
 * the GenAI semantic conventions. Pure rendering; the export is ops.c's.
 *
 * One model request is one SERVER span ("chat openai/gpt-4o-mini"), with
 * one CLIENT child span per upstream attempt ("chat gpt-4o-mini"). Ids are
 * lower-case hex and 64-bit integers decimal strings, as OTLP's JSON
 * encoding asks.
 */
#ifndef SWITCHBOARD_OTLP_H
#define SWITCHBOARD_OTLP_H

#include "switchboard/access.h"
#include "switchboard/buf.h"

/* An ExportTraceServiceRequest is opened (resource with service.name,
 * one scope), spans are added, and it is closed. */
sb_status_t sb_otlp_open(sb_buf_t *b, sb_slice_t service_name);
/* The request's spans; `first`: no span was added to this batch yet. */
sb_status_t sb_otlp_spans(const sb_access_t *a, bool first, sb_buf_t *b);
sb_status_t sb_otlp_close(sb_buf_t *b);

/* gen_ai.provider.name for a configured provider: the conventions' name
 * of a known service ("gcp.gemini" for gemini, "mistral_ai" for mistral),
 * else the provider's own name. */
sb_slice_t sb_otlp_genai_provider(sb_slice_t provider);

#endif
