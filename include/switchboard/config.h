/* SPDX-License-Identifier: MIT */
/*
 * Configuration: a YAML file (SPEC.md, "Config file") or, without one, the
 * well-known environment variables. Loading resolves everything the
 * gateway needs (listen address, limits, providers with their keys) and
 * keeps the parsed tree for the parts other modules read themselves (extra
 * catalog models).
 *
 * An sb_config_t owns all its memory (one arena); it is immutable after
 * load and shared read-only by every worker.
 */
#ifndef SWITCHBOARD_CONFIG_H
#define SWITCHBOARD_CONFIG_H

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/json.h"
#include "switchboard/provider.h"
#include "switchboard/snapshot.h"

/* What makes cheap-first escalation climb to the next rung. */
#define SB_CLIMB_ERROR 0x1     /* upstream error (always falls back) */
#define SB_CLIMB_LENGTH 0x2    /* finish_reason "length" */
#define SB_CLIMB_TOOL_ARGS 0x4 /* tool arguments: bad JSON or not the schema */
#define SB_CLIMB_EMPTY 0x8     /* no content and no tool calls */
#define SB_CLIMB_ALL 0xf

/* The conditions by name ("error", "length", "invalid_tool_args",
 * "empty"), in bit order; SB_CLIMB_N of them. */
#define SB_CLIMB_N 4
typedef struct {
  const char *name;
  uint32_t bit;
} sb_climb_cond_t;
extern const sb_climb_cond_t sb_climb_conds[SB_CLIMB_N];
/* The SB_CLIMB_* bits an `on` list names, always with SB_CLIMB_ERROR;
 * SB_ERROR when it is not a list of known condition names. Shared by the
 * config's `escalation` and a client key's. */
sb_status_t sb_climb_bits(const sb_json_t *on, uint32_t *bits);

/* Where the catalog is refreshed from (docs/catalog.md). */
#define SB_CATALOG_SRC_OPENROUTER 0x1 /* OpenRouter's GET /api/v1/models */
#define SB_CATALOG_SRC_PROVIDERS 0x2  /* each provider's own model list */

/* `catalog: {refresh, sources, openrouter_url, timeout_ms}` */
typedef struct {
  uint32_t refresh_s;         /* background refresh period; 0 = off */
  uint32_t sources;           /* SB_CATALOG_SRC_*; default OpenRouter */
  const char *openrouter_url; /* NULL: the openrouter provider's base_url,
                                 else https://openrouter.ai/api/v1 */
  uint32_t timeout_ms;        /* per list fetch */
} sb_catalog_config_t;

/* `log: {format, level, access, file}` (docs/observability.md) */
typedef struct {
  bool json;        /* access lines as JSON (the default) or as text */
  bool access;      /* one line per request (default true) */
  const char *file; /* where access lines go; NULL: stderr */
  int level;        /* the messages' sb_log_level_t; -1: not set */
} sb_log_config_t;

/* `otel: {endpoint, headers, sample, service_name}`: OTLP/HTTP traces */
typedef struct {
  const char *endpoint;     /* the collector's URL; NULL: no tracing */
  const sb_kv_t *headers;   /* sent with every export */
  size_t n_headers;
  double sample;            /* share of new traces kept, 0..1 (default 1) */
  const char *service_name; /* default "switchboard" */
} sb_otel_config_t;

typedef struct sb_config {
  /* A config loaded again while the gateway runs (sb_config_load_new) is
   * shared: every catalog built from it holds a reference, so that it
   * lives until the last request that uses it is over. NULL for a config
   * its owner frees itself (sb_config_load: serve's first, the CLI's). */
  sb_snap_t *shared;
  sb_arena_t arena;
  sb_buf_t json;       /* the config as JSON text; `root` points into it */
  sb_json_t *root;     /* NULL when built from the environment only */
  const char *source;  /* file path, or "environment" */

  const char *listen_host;
  uint16_t listen_port;
  bool listen_loopback; /* the listen address is a loopback address */
  unsigned workers;     /* resolved: never 0 */
  const char *database; /* "sqlite:PATH" or "postgres://..." */
  const char *redis;    /* "redis://...": shared counters; NULL when unset */
  bool redis_down_local; /* redis_down: local (each instance alone while
                            Redis is down); false: deny */
  const char *admin_key; /* NULL: local mode */
  bool local_trust;      /* /api/skills from loopback without a key */

  /* accounts (docs/accounts.md) */
  bool durable;            /* a row commits before its response's last byte */
  uint32_t retention_days; /* ledger rows kept this long; 0 = forever */
  uint32_t default_max_tokens; /* budget reservation without max_tokens */

  /* client side */
  size_t max_header_bytes;
  size_t max_body_bytes;
  uint32_t request_timeout_ms;
  uint32_t idle_timeout_ms;
  uint32_t shutdown_grace_ms;

  /* upstream defaults (a provider entry may override) */
  sb_upstream_timeouts_t upstream_timeouts;
  size_t max_upstream_body_bytes; /* non-stream response / error bodies */
  sb_upstream_tls_t tls;          /* `tls: {ca_file, ca_path}` for every provider */

  /* routing (docs/routing.md); a provider entry may override `retry` */
  sb_retry_policy_t retry;
  uint32_t breaker_failures;    /* consecutive failures that open a breaker */
  uint32_t breaker_cooldown_ms; /* open this long before a half-open probe */
  uint32_t key_auth_cooldown_ms; /* a key refused with 401/402/403; 0 = forever */
  /* cheap-first escalation for the model id `switchboard/auto`: the
   * ladder of model ids (array, cheap first) or NULL, and the conditions
   * that climb it (SB_CLIMB_*) */
  const sb_json_t *escalation_ladder;
  uint32_t escalation_on;

  sb_provider_t *providers;
  size_t n_providers;
  const sb_json_t *models; /* extra catalog entries (array) or NULL */
  sb_catalog_config_t catalog;

  sb_log_config_t log;
  sb_otel_config_t otel;
} sb_config_t;

/*
 * Load from a YAML file, or from the environment when `path` is NULL.
 * `listen_override` ("HOST:PORT", may be NULL) wins over the file.
 * On failure returns SB_ERROR with a message for the user in `err`.
 */
sb_status_t sb_config_load(sb_config_t *cfg, const char *path,
                           const char *listen_override, char *err,
                           size_t errlen);
void sb_config_free(sb_config_t *cfg);

/* The same, into a new shared config (one reference, the caller's). NULL
 * with the reason in `err` on failure. */
sb_config_t *sb_config_load_new(const char *path, const char *listen_override,
                                char *err, size_t errlen);
/* A reference to a shared config (any config: a no-op when not shared),
 * and giving it back (the last one frees it). */
const sb_config_t *sb_config_ref(const sb_config_t *cfg);
void sb_config_unref(const sb_config_t *cfg);

/* How to add a provider, in one sentence: what `serve` logs, a model call
 * answers (503) and GET / says when no provider is configured. */
#define SB_NO_PROVIDER_HINT                                                    \
  "No provider is configured: set a provider's key variable such as "         \
  "OPENAI_API_KEY or OPENROUTER_API_KEY, start a local model server "          \
  "(Ollama, llama.cpp, LM Studio or vLLM) on its default port, or pass "      \
  "--config FILE, then restart switchboard."

/* Add a keyless provider for the known service `k` at `base_url` (what
 * `serve` does for a local model server it finds). SB_ERROR when the
 * provider table is full. */
sb_status_t sb_config_add_known(sb_config_t *cfg, const sb_known_provider_t *k,
                                const char *base_url);

/* Provider by name; NULL if not configured. */
const sb_provider_t *sb_config_provider(const sb_config_t *cfg,
                                        sb_slice_t name);

/* Parse "HOST:PORT" / "[V6]:PORT" / ":PORT" / "PORT". */
sb_status_t sb_parse_listen(const char *s, char *host, size_t hostlen,
                            uint16_t *port);

#endif
