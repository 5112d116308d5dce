/* SPDX-License-Identifier: MIT */
/*
 * Providers are data, not code: a name, a wire format (codec), a base URL,
 * how to authenticate, keys (several, rotated), extra headers, timeouts and
 * quirk flags. Every OpenAI-compatible service (OpenAI, OpenRouter, Groq,
 * Together, DeepSeek, Mistral, Fireworks, xAI, Ollama, llama.cpp, vLLM, LM
 * Studio) is the same codec with different data.
 */
#ifndef SWITCHBOARD_PROVIDER_H
#define SWITCHBOARD_PROVIDER_H

#include "switchboard/common.h"

typedef struct {
  uint32_t connect_ms;    /* TCP + TLS handshake */
  uint32_t first_byte_ms; /* request sent to first response byte */
  uint32_t idle_ms;       /* longest silence between two chunks */
  uint32_t total_ms;      /* whole transfer */
} sb_upstream_timeouts_t;

/* How a provider's https connections are checked (docs/upstream.md). CAs
 * named here are trusted besides the system's store. */
typedef struct {
  const char *ca_file;  /* PEM file of CA certificates, or NULL */
  const char *ca_path;  /* directory of hashed CA certificates, or NULL */
  const char *cert;     /* client certificate (PEM) for mutual TLS, or NULL */
  const char *key;      /* its private key (PEM); NULL: in `cert` */
  bool no_verify;       /* tls_verify: false (no certificate or host check) */
} sb_upstream_tls_t;

/* Retries of one endpoint (docs/routing.md): how many extra attempts after
 * the first, the exponential backoff's base and cap, and the time budget
 * of the whole request across every attempt and fallback. */
typedef struct {
  uint32_t attempts;  /* extra attempts on the same endpoint; 0 = none */
  uint32_t base_ms;   /* first backoff (before jitter) */
  uint32_t max_ms;    /* cap of one backoff, and of an honoured Retry-After */
  uint32_t budget_ms; /* no new attempt starts after this, since the start */
} sb_retry_policy_t;

/* Quirks: behaviour differences between services sharing a codec. */
#define SB_QUIRK_OPENROUTER_FIELDS 0x1 /* accepts models/provider/plugins... */
#define SB_QUIRK_NO_STREAM_OPTIONS 0x2 /* rejects stream_options */
#define SB_QUIRK_FORWARD_APP_HEADERS 0x4 /* pass HTTP-Referer / X-Title */
#define SB_QUIRK_RESPONSES_API 0x8 /* also serves POST /responses (OpenAI's
                                      Responses API): the Responses door's
                                      requests pass through to it */

typedef struct {
  const char *name;
  const char *value;
} sb_kv_t;

typedef struct sb_provider {
  const char *name;         /* config key: "openai", "groq", "local" */
  const char *display_name; /* "OpenAI" (the response's `provider`) */
  const char *format;       /* "openai", "anthropic", "gemini" */
  const char *base_url;     /* no trailing slash */
  const char **keys;        /* may be empty (local servers) */
  size_t n_keys;
  const char *auth_header;  /* "Authorization" */
  const char *auth_prefix;  /* "Bearer " */
  const sb_kv_t *headers;   /* extra headers sent upstream */
  size_t n_headers;
  sb_upstream_timeouts_t timeouts;
  sb_upstream_tls_t tls;
  const char *proxy;        /* HTTP(S) proxy URL for this provider, or NULL */
  sb_retry_policy_t retry;
  uint32_t weight;
  uint32_t quirks;
  unsigned index;           /* position in the config's provider table */
  /* Its state in a running gateway (health.h: its slot, its keys'
   * cool-downs), attached when the config is loaded into one. */
  struct sb_provider_run *run;
} sb_provider_t;

/* A service switchboard knows by name: used to build providers from the
 * environment and to fill in defaults for config entries. */
typedef struct {
  const char *name;
  const char *display_name;
  const char *format;
  const char *base_url;
  const char *key_env;  /* e.g. "OPENAI_API_KEY"; NULL for keyless */
  const char *base_env; /* e.g. "OLLAMA_HOST" / "OPENAI_BASE_URL" */
  const char *base_suffix; /* appended to base_env's value ("/v1") */
  uint32_t quirks;
} sb_known_provider_t;

/* The table of known services, terminated by a NULL name
 * (src/core/services.c). */
extern const sb_known_provider_t sb_known_providers[];
const sb_known_provider_t *sb_known_provider(const char *name, size_t n);

/* The wire formats a provider may speak, NULL-terminated; is `name` one? */
extern const char *const sb_wire_formats[];
bool sb_wire_format_known(const char *name);

#endif
