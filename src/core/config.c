/* SPDX-License-Identifier: MIT */
/*
 * Configuration loading; see include/switchboard/config.h.
 *
 * The YAML file is converted to JSON and read with the JSON accessors, so
 * there is one tree type in the program. Unknown keys are errors: a typo
 * in a config should be found by `switchboard check`, not in production.
 */
#include "switchboard/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "switchboard/log.h"
#include "switchboard/yaml.h"

#define MAX_CONFIG_BYTES (4u << 20)
#define MAX_PROVIDERS 256

typedef struct {
  sb_config_t *cfg;
  char *err;
  size_t errlen;
} loader_t;

static sb_status_t fail(loader_t *l, const char *fmt, ...) SB_PRINTF(2, 3);
static sb_status_t fail(loader_t *l, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->err, l->errlen, fmt, ap);
  va_end(ap);
  return SB_ERROR;
}

static const char *dup_slice(loader_t *l, sb_slice_t s)
{
  return sb_arena_strndup(&l->cfg->arena, s.ptr, s.len);
}

static const char *dupz(loader_t *l, const char *z)
{
  return z == NULL ? NULL : sb_arena_strndup(&l->cfg->arena, z, strlen(z));
}

/* A string member (NULL if absent or null). */
static sb_status_t get_str(loader_t *l, const sb_json_t *obj, const char *key,
                           const char **out)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  sb_slice_t s;
  if (v->type == SB_JSON_NUMBER) {
    s = v->raw;
  } else if (v->type != SB_JSON_STRING ||
             sb_json_string(&l->cfg->arena, v, &s) != SB_OK) {
    return fail(l, "'%s' must be a string", key);
  }
  *out = dup_slice(l, s);
  return *out != NULL ? SB_OK : fail(l, "out of memory");
}

static sb_status_t get_u64(loader_t *l, const sb_json_t *obj, const char *key,
                           uint64_t max, uint64_t *out)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  int64_t n;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_NUMBER || sb_json_int64(v, &n) != SB_OK || n < 0 ||
      (uint64_t)n > max)
    return fail(l, "'%s' must be an integer between 0 and %llu", key,
                (unsigned long long)max);
  *out = (uint64_t)n;
  return SB_OK;
}

static sb_status_t get_u32(loader_t *l, const sb_json_t *obj, const char *key,
                           uint32_t *out)
{
  uint64_t v = *out;
  if (get_u64(l, obj, key, UINT32_MAX, &v) != SB_OK)
    return SB_ERROR;
  *out = (uint32_t)v;
  return SB_OK;
}

static sb_status_t get_size(loader_t *l, const sb_json_t *obj, const char *key,
                            size_t *out)
{
  uint64_t v = *out;
  if (get_u64(l, obj, key, (uint64_t)1 << 40, &v) != SB_OK)
    return SB_ERROR;
  *out = (size_t)v;
  return SB_OK;
}

/* `retry: {attempts, base_ms, max_ms, budget_ms}` over `r`'s current
 * values (docs/routing.md). */
static sb_status_t get_retry(loader_t *l, const sb_json_t *obj,
                             const char *where, sb_retry_policy_t *r);

static sb_status_t get_bool(loader_t *l, const sb_json_t *obj, const char *key,
                            bool *out)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE)
    return fail(l, "'%s' must be true or false", key);
  *out = v->type == SB_JSON_TRUE;
  return SB_OK;
}

/* Every member of `obj` must be one of `allowed` (NULL-terminated). */
static sb_status_t check_keys(loader_t *l, const sb_json_t *obj,
                              const char *where, const char *const *allowed)
{
  for (const sb_json_t *m = obj->child; m != NULL; m = m->next) {
    bool ok = false;
    for (const char *const *a = allowed; *a != NULL && !ok; a++)
      ok = sb_slice_eq(m->key, sb_slice_z(*a));
    if (!ok)
      return fail(l, "%s: unknown key '%.*s'", where, (int)m->key.len,
                  m->key.ptr);
  }
  return SB_OK;
}

sb_status_t sb_parse_listen(const char *s, char *host, size_t hostlen,
                            uint16_t *port)
{
  const char *colon;
  size_t hl;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      return SB_ERROR;
    hl = (size_t)(close - s - 1);
    s++;
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL) {
      /* a bare port */
      colon = s - 1;
      hl = 0;
    } else {
      hl = (size_t)(colon - s);
    }
  }
  uint64_t p;
  if (sb_slice_to_u64(sb_slice_z(colon + 1), 65535, &p) != SB_OK)
    return SB_ERROR;
  if (hl == 0) {
    snprintf(host, hostlen, "127.0.0.1");
  } else {
    if (hl >= hostlen)
      return SB_ERROR;
    memcpy(host, s, hl);
    host[hl] = '\0';
  }
  *port = (uint16_t)p;
  return SB_OK;
}

static bool host_is_loopback(const char *host)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (strcmp(host, "localhost") == 0)
    return true;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

static const char *strip_slash(loader_t *l, const char *url)
{
  size_t n = strlen(url);
  while (n > 0 && url[n - 1] == '/')
    n--;
  return sb_arena_strndup(&l->cfg->arena, url, n);
}

/* "host:port" (as OLLAMA_HOST is often written) gets a scheme. */
static const char *with_scheme(loader_t *l, const char *url)
{
  if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
    return url;
  return sb_arena_printf(&l->cfg->arena, "http://%s", url);
}

static void provider_defaults(loader_t *l, sb_provider_t *p,
                              const sb_known_provider_t *k)
{
  memset(p, 0, sizeof(*p));
  p->auth_header = "Authorization";
  p->auth_prefix = "Bearer ";
  p->timeouts = l->cfg->upstream_timeouts;
  p->tls = l->cfg->tls;
  p->retry = l->cfg->retry;
  p->weight = 1;
  if (k != NULL) {
    p->display_name = k->display_name;
    p->format = k->format;
    p->base_url = k->base_url;
    p->quirks = k->quirks;
  }
}

/* Format-specific authentication defaults. */
static void provider_auth_for_format(sb_provider_t *p)
{
  if (strcmp(p->format, "anthropic") == 0) {
    p->auth_header = "x-api-key";
    p->auth_prefix = "";
  } else if (strcmp(p->format, "gemini") == 0) {
    p->auth_header = "x-goog-api-key";
    p->auth_prefix = "";
  }
}

static sb_status_t add_provider(loader_t *l, sb_provider_t *p)
{
  sb_config_t *c = l->cfg;
  if (c->n_providers >= MAX_PROVIDERS)
    return fail(l, "too many providers (at most %d)", MAX_PROVIDERS);
  p->index = (unsigned)c->n_providers;
  c->providers[c->n_providers++] = *p;
  return SB_OK;
}

/* ---- how providers are reached: TLS and proxies (docs/upstream.md) ---- */

/* A file the gateway must read later (per worker, on first use): checked
 * now so that `switchboard check` finds a typo. */
static sb_status_t check_path(loader_t *l, const char *where, const char *key,
                              const char *path, bool dir)
{
  struct stat st;
  if (path == NULL)
    return SB_OK;
  if (stat(path, &st) != 0 || access(path, R_OK) != 0)
    return fail(l, "%s%s: cannot read %s: %s", where, key, path, strerror(errno));
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return fail(l, "%s%s: %s is not a %s", where, key, path,
                dir ? "directory" : "file");
  return SB_OK;
}

/* `tls: {ca_file, ca_path}`, over `t`'s current values (a provider's
 * start from the global ones). `where` is "" or "providers.NAME.". */
static sb_status_t get_tls(loader_t *l, const sb_json_t *obj, const char *where,
                           sb_upstream_tls_t *t)
{
  static const char *const keys[] = {"ca_file", "ca_path", NULL};
  const sb_json_t *v = sb_json_get(obj, "tls");
  char at[200];
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  snprintf(at, sizeof(at), "%stls", where);
  if (v->type != SB_JSON_OBJECT)
    return fail(l, "'%s' must be a mapping (ca_file, ca_path)", at);
  snprintf(at, sizeof(at), "%stls.", where);
  if (check_keys(l, v, at, keys) != SB_OK ||
      get_str(l, v, "ca_file", &t->ca_file) != SB_OK ||
      get_str(l, v, "ca_path", &t->ca_path) != SB_OK ||
      check_path(l, at, "ca_file", t->ca_file, false) != SB_OK ||
      check_path(l, at, "ca_path", t->ca_path, true) != SB_OK)
    return SB_ERROR;
  return SB_OK;
}

/* A provider's `tls`, `tls_verify`, `tls_cert`, `tls_key` and `proxy`. */
static sb_status_t get_provider_link(loader_t *l, const sb_json_t *m,
                                     const char *name, sb_provider_t *p)
{
  char where[200];
  snprintf(where, sizeof(where), "providers.%s.", name);
  bool verify = true;
  if (get_tls(l, m, where, &p->tls) != SB_OK ||
      get_bool(l, m, "tls_verify", &verify) != SB_OK ||
      get_str(l, m, "tls_cert", &p->tls.cert) != SB_OK ||
      get_str(l, m, "tls_key", &p->tls.key) != SB_OK ||
      get_str(l, m, "proxy", &p->proxy) != SB_OK ||
      check_path(l, where, "tls_cert", p->tls.cert, false) != SB_OK ||
      check_path(l, where, "tls_key", p->tls.key, false) != SB_OK)
    return SB_ERROR;
  if (p->tls.key != NULL && p->tls.cert == NULL)
    return fail(l, "%stls_key needs tls_cert", where);
  if (p->proxy != NULL && p->proxy[0] == '\0')
    p->proxy = NULL; /* an unset ${VAR} */
  if (p->proxy != NULL && strstr(p->proxy, "://") == NULL)
    return fail(l, "%sproxy must be a URL (http://host:port)", where);
  p->tls.no_verify = !verify;
  if (p->tls.no_verify)
    SB_WARN("provider %s: tls_verify is false: its TLS certificate and host "
            "name are NOT checked; anyone on the path can read and change "
            "its traffic", name);
  return SB_OK;
}

static sb_status_t load_provider(loader_t *l, const sb_json_t *m)
{
  static const char *const keys[] = {
      "format", "base_url", "api_key", "api_keys", "headers", "timeout_ms",
      "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms",
      "weight", "display_name", "auth_header", "auth_prefix",
      "openrouter_fields", "stream_options", "forward_app_headers",
      "responses_api", "retry", "tls", "tls_verify", "tls_cert", "tls_key", "proxy", NULL};
  sb_provider_t p;
  const char *name = dup_slice(l, m->key);
  char where[160];
  snprintf(where, sizeof(where), "providers.%s", name);
  if (m->type != SB_JSON_OBJECT)
    return fail(l, "%s must be a mapping", where);
  if (check_keys(l, m, where, keys) != SB_OK)
    return SB_ERROR;
  const sb_known_provider_t *k = sb_known_provider(m->key.ptr, m->key.len);
  provider_defaults(l, &p, k);
  p.name = name;
  if (get_str(l, m, "format", &p.format) != SB_OK ||
      get_str(l, m, "base_url", &p.base_url) != SB_OK ||
      get_str(l, m, "display_name", &p.display_name) != SB_OK)
    return SB_ERROR;
  if (p.format == NULL)
    return fail(l, "%s: 'format' is required (openai, anthropic, gemini)", where);
  if (!sb_wire_format_known(p.format))
    return fail(l, "%s: unknown format '%s' (openai, anthropic, gemini)", where,
                p.format);
  if (p.base_url == NULL)
    return fail(l, "%s: 'base_url' is required", where);
  if (strncmp(p.base_url, "http://", 7) != 0 &&
      strncmp(p.base_url, "https://", 8) != 0)
    return fail(l, "%s: base_url must start with http:// or https://", where);
  p.base_url = strip_slash(l, p.base_url);
  if (p.display_name == NULL)
    p.display_name = name;
  provider_auth_for_format(&p);
  if (get_str(l, m, "auth_header", &p.auth_header) != SB_OK ||
      get_str(l, m, "auth_prefix", &p.auth_prefix) != SB_OK)
    return SB_ERROR;

  /* keys: api_key and/or api_keys; entries that expand to nothing are
   * dropped (an unset ${VAR}). */
  const sb_json_t *one = sb_json_get(m, "api_key");
  const sb_json_t *many = sb_json_get(m, "api_keys");
  bool key_declared = one != NULL || many != NULL;
  size_t cap = 1 + (many != NULL && many->type == SB_JSON_ARRAY ? many->count : 0);
  const char **keys_out = sb_arena_calloc(&l->cfg->arena, cap * sizeof(char *));
  if (keys_out == NULL)
    return fail(l, "out of memory");
  const char *k1 = NULL;
  if (get_str(l, m, "api_key", &k1) != SB_OK)
    return SB_ERROR;
  if (k1 != NULL && k1[0] != '\0')
    keys_out[p.n_keys++] = k1;
  if (many != NULL && many->type != SB_JSON_NULL) {
    if (many->type != SB_JSON_ARRAY)
      return fail(l, "%s: api_keys must be a list", where);
    for (const sb_json_t *e = many->child; e != NULL; e = e->next) {
      sb_slice_t s;
      if (e->type == SB_JSON_NULL)
        continue;
      if (e->type != SB_JSON_STRING ||
          sb_json_string(&l->cfg->arena, e, &s) != SB_OK)
        return fail(l, "%s: api_keys entries must be strings", where);
      if (s.len > 0)
        keys_out[p.n_keys++] = dup_slice(l, s);
    }
  }
  p.keys = keys_out;
  if (key_declared && p.n_keys == 0) {
    SB_INFO("provider %s: its api_key is empty (variable unset?); provider "
            "disabled", name);
    return SB_OK;
  }

  const sb_json_t *h = sb_json_get(m, "headers");
  if (h != NULL && h->type != SB_JSON_NULL) {
    if (h->type != SB_JSON_OBJECT)
      return fail(l, "%s: headers must be a mapping", where);
    sb_kv_t *kv = sb_arena_calloc(&l->cfg->arena, (h->count + 1) * sizeof(*kv));
    if (kv == NULL)
      return fail(l, "out of memory");
    for (const sb_json_t *e = h->child; e != NULL; e = e->next) {
      sb_slice_t v;
      if (e->type != SB_JSON_STRING ||
          sb_json_string(&l->cfg->arena, e, &v) != SB_OK)
        return fail(l, "%s: header values must be strings", where);
      kv[p.n_headers].name = dup_slice(l, e->key);
      kv[p.n_headers].value = dup_slice(l, v);
      p.n_headers++;
    }
    p.headers = kv;
  }
  if (get_u32(l, m, "timeout_ms", &p.timeouts.total_ms) != SB_OK ||
      get_u32(l, m, "connect_timeout_ms", &p.timeouts.connect_ms) != SB_OK ||
      get_u32(l, m, "first_byte_timeout_ms", &p.timeouts.first_byte_ms) != SB_OK ||
      get_u32(l, m, "idle_timeout_ms", &p.timeouts.idle_ms) != SB_OK ||
      get_u32(l, m, "weight", &p.weight) != SB_OK ||
      get_retry(l, m, where, &p.retry) != SB_OK ||
      get_provider_link(l, m, name, &p) != SB_OK)
    return SB_ERROR;
  bool orf = (p.quirks & SB_QUIRK_OPENROUTER_FIELDS) != 0;
  bool so = (p.quirks & SB_QUIRK_NO_STREAM_OPTIONS) == 0;
  bool fah = (p.quirks & SB_QUIRK_FORWARD_APP_HEADERS) != 0;
  bool rsp = (p.quirks & SB_QUIRK_RESPONSES_API) != 0;
  if (get_bool(l, m, "openrouter_fields", &orf) != SB_OK ||
      get_bool(l, m, "stream_options", &so) != SB_OK ||
      get_bool(l, m, "forward_app_headers", &fah) != SB_OK ||
      get_bool(l, m, "responses_api", &rsp) != SB_OK)
    return SB_ERROR;
  p.quirks = (orf ? SB_QUIRK_OPENROUTER_FIELDS : 0) |
             (so ? 0 : SB_QUIRK_NO_STREAM_OPTIONS) |
             (fah ? SB_QUIRK_FORWARD_APP_HEADERS : 0) |
             (rsp ? SB_QUIRK_RESPONSES_API : 0);
  return add_provider(l, &p);
}

/* Providers from the well-known environment variables. */
static sb_status_t providers_from_env(loader_t *l)
{
  for (const sb_known_provider_t *k = sb_known_providers; k->name != NULL; k++) {
    const char *key = k->key_env != NULL ? getenv(k->key_env) : NULL;
    const char *base = k->base_env != NULL ? getenv(k->base_env) : NULL;
    if (key != NULL && key[0] == '\0')
      key = NULL;
    if (base != NULL && base[0] == '\0')
      base = NULL;
    if (k->key_env != NULL ? key == NULL : base == NULL)
      continue;
    sb_provider_t p;
    provider_defaults(l, &p, k);
    p.name = k->name;
    if (base != NULL) {
      const char *b = with_scheme(l, base);
      size_t n = strlen(b);
      size_t sl = strlen(k->base_suffix);
      /* OLLAMA_HOST=http://h:11434 means the API is under /v1. */
      if (sl > 0 && !(n >= sl && strcmp(b + n - sl, k->base_suffix) == 0))
        b = sb_arena_printf(&l->cfg->arena, "%s%s", b, k->base_suffix);
      p.base_url = strip_slash(l, b);
    }
    provider_auth_for_format(&p);
    if (key != NULL) {
      const char **keys = sb_arena_alloc(&l->cfg->arena, sizeof(char *));
      if (keys == NULL)
        return fail(l, "out of memory");
      keys[0] = dupz(l, key);
      p.keys = keys;
      p.n_keys = 1;
    }
    if (add_provider(l, &p) != SB_OK)
      return SB_ERROR;
  }
  return SB_OK;
}

sb_status_t sb_config_add_known(sb_config_t *c, const sb_known_provider_t *k,
                                const char *base_url)
{
  char err[128];
  loader_t l = {c, err, sizeof(err)};
  sb_provider_t p;
  provider_defaults(&l, &p, k);
  p.name = k->name;
  p.base_url = strip_slash(&l, base_url);
  provider_auth_for_format(&p);
  return add_provider(&l, &p);
}

static sb_status_t apply_listen(loader_t *l, const char *listen)
{
  char host[256];
  uint16_t port;
  if (sb_parse_listen(listen, host, sizeof(host), &port) != SB_OK)
    return fail(l, "invalid listen address '%s' (want HOST:PORT)", listen);
  l->cfg->listen_host = dupz(l, host);
  l->cfg->listen_port = port;
  return SB_OK;
}

static sb_status_t apply_redis_down(loader_t *l, const char *v)
{
  if (strcmp(v, "deny") != 0 && strcmp(v, "local") != 0)
    return fail(l, "redis_down must be deny or local");
  l->cfg->redis_down_local = strcmp(v, "local") == 0;
  return SB_OK;
}

static void set_defaults(sb_config_t *c)
{
  c->listen_host = "127.0.0.1";
  c->listen_port = 3456;
  c->workers = 0;
  c->database = "sqlite:switchboard.db";
  c->max_header_bytes = 32 * 1024;
  c->max_body_bytes = 32u << 20;
  c->request_timeout_ms = 30000;
  c->idle_timeout_ms = 75000;
  c->shutdown_grace_ms = 30000;
  c->durable = false;
  c->retention_days = 0;
  c->default_max_tokens = 4096;
  c->upstream_timeouts.connect_ms = 10000;
  c->upstream_timeouts.first_byte_ms = 300000;
  c->upstream_timeouts.idle_ms = 120000;
  c->upstream_timeouts.total_ms = 900000;
  c->max_upstream_body_bytes = 64u << 20;
  /* Two more tries on 408/429/5xx and transport errors, within 30 s: a
   * provider's passing hiccup should not reach the app (docs/routing.md). */
  c->retry.attempts = 2;
  c->retry.base_ms = 250;
  c->retry.max_ms = 5000;
  c->retry.budget_ms = 30000;
  c->breaker_failures = 5;
  c->breaker_cooldown_ms = 30000;
  c->key_auth_cooldown_ms = 0;
  c->escalation_on = SB_CLIMB_ALL;
  c->log.json = true;
  c->log.access = true;
  c->log.level = -1;
  c->otel.sample = 1.0;
  c->otel.service_name = "switchboard";
  c->catalog.sources = SB_CATALOG_SRC_OPENROUTER;
  c->catalog.timeout_ms = 30000;
}

const sb_climb_cond_t sb_climb_conds[SB_CLIMB_N] = {
    {"error", SB_CLIMB_ERROR},
    {"length", SB_CLIMB_LENGTH},
    {"invalid_tool_args", SB_CLIMB_TOOL_ARGS},
    {"empty", SB_CLIMB_EMPTY}};

sb_status_t sb_climb_bits(const sb_json_t *on, uint32_t *bits)
{
  if (!sb_json_is(on, SB_JSON_ARRAY))
    return SB_ERROR;
  *bits = SB_CLIMB_ERROR;
  for (const sb_json_t *m = on->child; m != NULL; m = m->next) {
    size_t i;
    for (i = 0; i < SB_CLIMB_N; i++)
      if (sb_json_is(m, SB_JSON_STRING) &&
          sb_slice_eq(sb_json_str_raw(m), sb_slice_z(sb_climb_conds[i].name)))
        break;
    if (i == SB_CLIMB_N)
      return SB_ERROR;
    *bits |= sb_climb_conds[i].bit;
  }
  return SB_OK;
}

static sb_status_t get_escalation(loader_t *l, const sb_json_t *r)
{
  static const char *const keys[] = {"ladder", "on", NULL};
  const sb_json_t *e = sb_json_get(r, "escalation");
  if (e == NULL || e->type == SB_JSON_NULL)
    return SB_OK;
  if (e->type != SB_JSON_OBJECT)
    return fail(l, "'escalation' must be a mapping");
  if (check_keys(l, e, "escalation", keys) != SB_OK)
    return SB_ERROR;
  const sb_json_t *ladder = sb_json_get(e, "ladder");
  if (ladder != NULL && ladder->type != SB_JSON_NULL) {
    if (ladder->type != SB_JSON_ARRAY || ladder->count == 0)
      return fail(l, "'escalation.ladder' must be a list of model ids");
    for (const sb_json_t *m = ladder->child; m != NULL; m = m->next)
      if (m->type != SB_JSON_STRING)
        return fail(l, "'escalation.ladder' must be a list of model ids");
    l->cfg->escalation_ladder = ladder;
  }
  const sb_json_t *on = sb_json_get(e, "on");
  if (on != NULL && on->type != SB_JSON_NULL) {
    if (on->type != SB_JSON_ARRAY)
      return fail(l, "'escalation.on' must be a list (error, length, "
                     "invalid_tool_args, empty)");
    if (sb_climb_bits(on, &l->cfg->escalation_on) != SB_OK)
      return fail(l, "'escalation.on': unknown condition (error, length, "
                     "invalid_tool_args, empty)");
  }
  return SB_OK;
}

static sb_status_t get_retry(loader_t *l, const sb_json_t *obj,
                             const char *where, sb_retry_policy_t *r)
{
  static const char *const keys[] = {"attempts", "base_ms", "max_ms",
                                     "budget_ms", NULL};
  const sb_json_t *v = sb_json_get(obj, "retry");
  char path[200];
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  snprintf(path, sizeof(path), "%s%sretry", where, where[0] ? "." : "");
  if (v->type != SB_JSON_OBJECT)
    return fail(l, "'%s' must be a mapping", path);
  if (check_keys(l, v, path, keys) != SB_OK ||
      get_u32(l, v, "attempts", &r->attempts) != SB_OK ||
      get_u32(l, v, "base_ms", &r->base_ms) != SB_OK ||
      get_u32(l, v, "max_ms", &r->max_ms) != SB_OK ||
      get_u32(l, v, "budget_ms", &r->budget_ms) != SB_OK)
    return SB_ERROR;
  if (r->attempts > 10)
    return fail(l, "'%s.attempts' is at most 10", path);
  return SB_OK;
}

/* ---- catalog: {refresh, sources, openrouter_url, timeout_ms} ----------- */

/* A period: seconds as a number, or "90s", "30m", "24h", "7d". */
static sb_status_t catalog_period(const sb_json_t *v, uint32_t *out)
{
  sb_slice_t s = v->type == SB_JSON_STRING ? sb_json_str_raw(v) : v->raw;
  uint64_t unit = 1, n;
  if (v->type != SB_JSON_NUMBER && v->type != SB_JSON_STRING)
    return SB_ERROR;
  if (v->type == SB_JSON_STRING && s.len > 1) {
    const char units[] = "smhd";
    const uint64_t secs[] = {1, 60, 3600, 86400};
    const char *u = memchr(units, s.ptr[s.len - 1], 4);
    if (u != NULL) {
      unit = secs[u - units];
      s.len--;
    }
  }
  if (sb_slice_to_u64(s, 366u * 86400, &n) != SB_OK || n * unit > 366u * 86400)
    return SB_ERROR;
  *out = (uint32_t)(n * unit);
  return SB_OK;
}

static sb_status_t get_catalog(loader_t *l, const sb_json_t *r)
{
  static const char *const keys[] = {"refresh", "sources", "openrouter_url",
                                     "timeout_ms", NULL};
  sb_catalog_config_t *c = &l->cfg->catalog;
  const sb_json_t *cat = sb_json_get(r, "catalog");
  if (cat == NULL || cat->type == SB_JSON_NULL)
    return SB_OK;
  if (cat->type != SB_JSON_OBJECT)
    return fail(l, "'catalog' must be a mapping (refresh, sources, "
                   "openrouter_url, timeout_ms)");
  if (check_keys(l, cat, "catalog", keys) != SB_OK ||
      get_str(l, cat, "openrouter_url", &c->openrouter_url) != SB_OK ||
      get_u32(l, cat, "timeout_ms", &c->timeout_ms) != SB_OK)
    return SB_ERROR;
  const sb_json_t *v = sb_json_get(cat, "refresh");
  if (v != NULL && v->type != SB_JSON_NULL &&
      catalog_period(v, &c->refresh_s) != SB_OK)
    return fail(l, "'catalog.refresh' must be a period like 24h, 30m, 90s "
                   "or 0 (off), at most 366d");
  v = sb_json_get(cat, "sources");
  if (v != NULL && v->type != SB_JSON_NULL) {
    if (v->type != SB_JSON_ARRAY || v->count == 0)
      return fail(l, "'catalog.sources' must be a list of openrouter, "
                     "providers");
    c->sources = 0;
    for (const sb_json_t *e = v->child; e != NULL; e = e->next) {
      if (SB_JSON_STR_IS(e, "openrouter"))
        c->sources |= SB_CATALOG_SRC_OPENROUTER;
      else if (SB_JSON_STR_IS(e, "providers"))
        c->sources |= SB_CATALOG_SRC_PROVIDERS;
      else
        return fail(l, "'catalog.sources': unknown source (openrouter, "
                       "providers)");
    }
  }
  if (c->openrouter_url != NULL) {
    if (strncmp(c->openrouter_url, "http://", 7) != 0 &&
        strncmp(c->openrouter_url, "https://", 8) != 0)
      return fail(l, "'catalog.openrouter_url' must start with http:// or "
                     "https://");
    c->openrouter_url = strip_slash(l, c->openrouter_url);
  }
  if (c->timeout_ms == 0)
    return fail(l, "'catalog.timeout_ms' must be at least 1");
  if (c->refresh_s > 0 && c->refresh_s < 60)
    SB_WARN("catalog.refresh is %us: the lists are fetched that often (a "
            "period this short is meant for tests)", c->refresh_s);
  return SB_OK;
}

/* ---- operations: log and otel (docs/observability.md) ------------------ */

static sb_status_t get_log(loader_t *l, const sb_json_t *r)
{
  static const char *const keys[] = {"format", "level", "access", "file", NULL};
  static const char *const levels[] = {"error", "warn", "info", "debug"};
  sb_log_config_t *g = &l->cfg->log;
  const sb_json_t *v = sb_json_get(r, "log");
  const char *format = NULL, *level = NULL;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_OBJECT)
    return fail(l, "'log' must be a mapping (format, level, access, file)");
  if (check_keys(l, v, "log", keys) != SB_OK ||
      get_str(l, v, "format", &format) != SB_OK ||
      get_str(l, v, "level", &level) != SB_OK ||
      get_bool(l, v, "access", &g->access) != SB_OK ||
      get_str(l, v, "file", &g->file) != SB_OK)
    return SB_ERROR;
  if (format != NULL && strcmp(format, "json") != 0 &&
      strcmp(format, "text") != 0)
    return fail(l, "'log.format' must be json or text");
  if (format != NULL)
    g->json = strcmp(format, "json") == 0;
  if (level != NULL) {
    for (g->level = 0; g->level < 4; g->level++)
      if (strcmp(level, levels[g->level]) == 0)
        break;
    if (g->level == 4)
      return fail(l, "'log.level' must be error, warn, info or debug");
  }
  if (g->file != NULL && g->file[0] == '\0')
    g->file = NULL; /* an unset ${VAR}: stderr */
  return SB_OK;
}

/* A character of an HTTP field name (RFC 9110's tchar). */
static bool header_name_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static sb_status_t get_otel(loader_t *l, const sb_json_t *r)
{
  static const char *const keys[] = {"endpoint", "headers", "sample",
                                     "service_name", NULL};
  sb_otel_config_t *o = &l->cfg->otel;
  const sb_json_t *v = sb_json_get(r, "otel");
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_OBJECT)
    return fail(l, "'otel' must be a mapping (endpoint, headers, sample, "
                   "service_name)");
  if (check_keys(l, v, "otel", keys) != SB_OK ||
      get_str(l, v, "endpoint", &o->endpoint) != SB_OK ||
      get_str(l, v, "service_name", &o->service_name) != SB_OK)
    return SB_ERROR;
  if (o->endpoint != NULL && o->endpoint[0] == '\0')
    o->endpoint = NULL; /* an unset ${VAR}: tracing off */
  if (o->endpoint != NULL) {
    if (strncmp(o->endpoint, "http://", 7) != 0 &&
        strncmp(o->endpoint, "https://", 8) != 0)
      return fail(l, "'otel.endpoint' must start with http:// or https://");
    o->endpoint = strip_slash(l, o->endpoint);
  }
  const sb_json_t *s = sb_json_get(v, "sample");
  if (s != NULL && s->type != SB_JSON_NULL &&
      (s->type != SB_JSON_NUMBER || sb_json_double(s, &o->sample) != SB_OK ||
       !(o->sample >= 0 && o->sample <= 1)))
    return fail(l, "'otel.sample' must be a number from 0 to 1");
  const sb_json_t *h = sb_json_get(v, "headers");
  if (h != NULL && h->type != SB_JSON_NULL) {
    if (h->type != SB_JSON_OBJECT)
      return fail(l, "'otel.headers' must be a mapping of name to value");
    if (h->count == 0)
      return SB_OK;
    sb_kv_t *kv = sb_arena_calloc(&l->cfg->arena, (h->count + 1) * sizeof(*kv));
    if (kv == NULL)
      return fail(l, "out of memory");
    size_t n = 0;
    for (const sb_json_t *e = h->child; e != NULL; e = e->next) {
      sb_slice_t val;
      if (e->type != SB_JSON_STRING ||
          sb_json_string(&l->cfg->arena, e, &val) != SB_OK)
        return fail(l, "'otel.headers' values must be strings");
      if (e->key.len == 0)
        return fail(l, "'otel.headers': a header name is empty");
      for (size_t i = 0; i < e->key.len; i++)
        if (!header_name_char((unsigned char)e->key.ptr[i]))
          return fail(l, "'otel.headers': '%.*s' is not a header name",
                      (int)e->key.len, e->key.ptr);
      for (size_t i = 0; i < val.len; i++)
        if ((unsigned char)val.ptr[i] < ' ' && val.ptr[i] != '\t')
          return fail(l, "'otel.headers.%.*s' holds a control character",
                      (int)e->key.len, e->key.ptr);
      kv[n].name = dup_slice(l, e->key);
      kv[n].value = dup_slice(l, val);
      n++;
    }
    o->headers = kv;
    o->n_headers = n;
  }
  return SB_OK;
}

static sb_status_t load_file(loader_t *l, const char *path)
{
  static const char *const keys[] = {
      "listen", "workers", "database", "redis", "redis_down", "admin_key",
      "local_trust",
      "providers", "models", "max_header_bytes", "max_body_bytes",
      "request_timeout_ms", "idle_timeout_ms", "shutdown_grace_ms", "upstream",
      "durable", "retention_days", "default_max_tokens", "retry", "health",
      "escalation", "tls", "catalog", "log", "otel", NULL};
  static const char *const health_keys[] = {
      "breaker_failures", "breaker_cooldown_ms", "key_auth_cooldown_ms", NULL};
  static const char *const upstream_keys[] = {
      "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms",
      "timeout_ms", "max_body_bytes", NULL};
  sb_config_t *c = l->cfg;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fail(l, "cannot open config %s: %s", path, strerror(errno));
  sb_buf_t text;
  sb_buf_init(&text, MAX_CONFIG_BYTES);
  char chunk[8192];
  size_t n;
  sb_status_t rc = SB_OK;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if (sb_buf_append(&text, chunk, n) != SB_OK) {
      rc = fail(l, "config %s is larger than %u bytes", path, MAX_CONFIG_BYTES);
      break;
    }
  fclose(f);
  char yerr[256];
  if (rc == SB_OK &&
      sb_yaml_to_json(text.data ? text.data : "", text.len, SB_YAML_EXPAND_ENV,
                      &c->json, yerr, sizeof(yerr)) != SB_OK)
    rc = fail(l, "%s: %s", path, yerr);
  sb_buf_free(&text);
  if (rc != SB_OK)
    return rc;
  sb_json_error_t jerr;
  if (sb_json_parse(&c->arena, c->json.data, c->json.len, 0, &c->root, &jerr) !=
      SB_OK)
    return fail(l, "%s: %s", path, jerr.message);
  if (c->root->type == SB_JSON_NULL)
    return SB_OK; /* empty file: defaults */
  if (c->root->type != SB_JSON_OBJECT)
    return fail(l, "%s: the top level must be a mapping", path);
  const sb_json_t *r = c->root;
  if (check_keys(l, r, path, keys) != SB_OK)
    return SB_ERROR;
  const char *listen = NULL, *redis_down = NULL;
  uint64_t workers = 0;
  if (get_str(l, r, "listen", &listen) != SB_OK ||
      get_str(l, r, "redis_down", &redis_down) != SB_OK ||
      get_u64(l, r, "workers", 1024, &workers) != SB_OK ||
      get_str(l, r, "database", &c->database) != SB_OK ||
      get_str(l, r, "redis", &c->redis) != SB_OK ||
      get_str(l, r, "admin_key", &c->admin_key) != SB_OK ||
      get_size(l, r, "max_header_bytes", &c->max_header_bytes) != SB_OK ||
      get_size(l, r, "max_body_bytes", &c->max_body_bytes) != SB_OK ||
      get_u32(l, r, "request_timeout_ms", &c->request_timeout_ms) != SB_OK ||
      get_u32(l, r, "idle_timeout_ms", &c->idle_timeout_ms) != SB_OK ||
      get_u32(l, r, "shutdown_grace_ms", &c->shutdown_grace_ms) != SB_OK ||
      get_bool(l, r, "durable", &c->durable) != SB_OK ||
      get_u32(l, r, "retention_days", &c->retention_days) != SB_OK ||
      get_u32(l, r, "default_max_tokens", &c->default_max_tokens) != SB_OK)
    return SB_ERROR;
  c->workers = (unsigned)workers;
  if (listen != NULL && apply_listen(l, listen) != SB_OK)
    return SB_ERROR;
  if (redis_down != NULL && apply_redis_down(l, redis_down) != SB_OK)
    return SB_ERROR;
  const sb_json_t *up = sb_json_get(r, "upstream");
  if (up != NULL && up->type != SB_JSON_NULL) {
    if (up->type != SB_JSON_OBJECT)
      return fail(l, "'upstream' must be a mapping");
    if (check_keys(l, up, "upstream", upstream_keys) != SB_OK ||
        get_u32(l, up, "connect_timeout_ms", &c->upstream_timeouts.connect_ms) != SB_OK ||
        get_u32(l, up, "first_byte_timeout_ms", &c->upstream_timeouts.first_byte_ms) != SB_OK ||
        get_u32(l, up, "idle_timeout_ms", &c->upstream_timeouts.idle_ms) != SB_OK ||
        get_u32(l, up, "timeout_ms", &c->upstream_timeouts.total_ms) != SB_OK ||
        get_size(l, up, "max_body_bytes", &c->max_upstream_body_bytes) != SB_OK)
      return SB_ERROR;
  }
  if (get_retry(l, r, "", &c->retry) != SB_OK ||
      get_tls(l, r, "", &c->tls) != SB_OK ||
      get_escalation(l, r) != SB_OK || get_catalog(l, r) != SB_OK ||
      get_log(l, r) != SB_OK || get_otel(l, r) != SB_OK)
    return SB_ERROR;
  const sb_json_t *hl = sb_json_get(r, "health");
  if (hl != NULL && hl->type != SB_JSON_NULL) {
    if (hl->type != SB_JSON_OBJECT)
      return fail(l, "'health' must be a mapping");
    if (check_keys(l, hl, "health", health_keys) != SB_OK ||
        get_u32(l, hl, "breaker_failures", &c->breaker_failures) != SB_OK ||
        get_u32(l, hl, "breaker_cooldown_ms", &c->breaker_cooldown_ms) != SB_OK ||
        get_u32(l, hl, "key_auth_cooldown_ms", &c->key_auth_cooldown_ms) != SB_OK)
      return SB_ERROR;
    if (c->breaker_failures == 0)
      return fail(l, "'health.breaker_failures' must be at least 1");
  }
  const sb_json_t *models = sb_json_get(r, "models");
  if (models != NULL && models->type != SB_JSON_NULL) {
    if (models->type != SB_JSON_ARRAY)
      return fail(l, "'models' must be a list");
    c->models = models;
  }
  const sb_json_t *providers = sb_json_get(r, "providers");
  if (providers != NULL && providers->type != SB_JSON_NULL) {
    if (providers->type != SB_JSON_OBJECT)
      return fail(l, "'providers' must be a mapping of name to settings");
    for (const sb_json_t *m = providers->child; m != NULL; m = m->next) {
      if (memchr(m->key.ptr, '/', m->key.len) != NULL || m->key.len == 0)
        return fail(l, "provider names may not be empty or contain '/'");
      if (load_provider(l, m) != SB_OK)
        return SB_ERROR;
    }
  }
  /* local_trust defaults to "listening on loopback", so it is read after
   * the listen address is known. */
  c->local_trust = host_is_loopback(c->listen_host);
  return get_bool(l, r, "local_trust", &c->local_trust);
}

sb_status_t sb_config_load(sb_config_t *c, const char *path,
                           const char *listen_override, char *err,
                           size_t errlen)
{
  loader_t l = {c, err, errlen};
  memset(c, 0, sizeof(*c));
  sb_arena_init(&c->arena, 16 * 1024, 0);
  sb_buf_init(&c->json, MAX_CONFIG_BYTES * 2);
  set_defaults(c);
  err[0] = '\0';
  c->providers = sb_arena_calloc(&c->arena, MAX_PROVIDERS * sizeof(sb_provider_t));
  if (c->providers == NULL)
    return fail(&l, "out of memory");
  if (path != NULL) {
    c->source = dupz(&l, path);
    if (load_file(&l, path) != SB_OK)
      return SB_ERROR;
  } else {
    c->source = "environment";
    const char *v;
    if ((v = getenv("SWITCHBOARD_LISTEN")) != NULL && v[0] != '\0' &&
        apply_listen(&l, v) != SB_OK)
      return SB_ERROR;
    if ((v = getenv("SWITCHBOARD_ADMIN_KEY")) != NULL && v[0] != '\0')
      c->admin_key = dupz(&l, v);
    if ((v = getenv("SWITCHBOARD_DATABASE")) != NULL && v[0] != '\0')
      c->database = dupz(&l, v);
    if ((v = getenv("SWITCHBOARD_REDIS")) != NULL && v[0] != '\0')
      c->redis = dupz(&l, v);
    if ((v = getenv("SWITCHBOARD_REDIS_DOWN")) != NULL && v[0] != '\0' &&
        apply_redis_down(&l, v) != SB_OK)
      return SB_ERROR;
    if ((v = getenv("SWITCHBOARD_DURABLE")) != NULL && v[0] != '\0')
      c->durable = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
    if ((v = getenv("SWITCHBOARD_RETENTION_DAYS")) != NULL && v[0] != '\0') {
      uint64_t n;
      if (sb_slice_to_u64(sb_slice_z(v), UINT32_MAX, &n) != SB_OK)
        return fail(&l, "SWITCHBOARD_RETENTION_DAYS must be a number");
      c->retention_days = (uint32_t)n;
    }
    if ((v = getenv("SWITCHBOARD_WORKERS")) != NULL && v[0] != '\0') {
      uint64_t n;
      if (sb_slice_to_u64(sb_slice_z(v), 1024, &n) != SB_OK)
        return fail(&l, "SWITCHBOARD_WORKERS must be a number");
      c->workers = (unsigned)n;
    }
    if (providers_from_env(&l) != SB_OK)
      return SB_ERROR;
    c->local_trust = host_is_loopback(c->listen_host);
  }
  if (listen_override != NULL && apply_listen(&l, listen_override) != SB_OK)
    return SB_ERROR;
  c->listen_loopback = host_is_loopback(c->listen_host);
  if (c->workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = n > 0 ? (unsigned)n : 1;
  }
  if (c->admin_key != NULL && c->admin_key[0] == '\0')
    c->admin_key = NULL;
  if (c->admin_key == NULL && !c->listen_loopback)
    return fail(&l, "refusing to listen on %s without admin_key: local mode "
                "(no key) is only allowed on a loopback address",
                c->listen_host);
  if (strncmp(c->database, "sqlite:", 7) != 0 &&
      strncmp(c->database, "postgres://", 11) != 0 &&
      strncmp(c->database, "postgresql://", 13) != 0)
    return fail(&l, "database must be sqlite:PATH or postgres://...");
  if (c->redis != NULL && c->redis[0] == '\0')
    c->redis = NULL;
  if (c->redis != NULL && strncmp(c->redis, "redis://", 8) != 0)
    return fail(&l, "redis must be redis://[:PASSWORD@]HOST[:PORT][/DB]");
  if (c->max_header_bytes < 1024)
    return fail(&l, "max_header_bytes must be at least 1024");
  return SB_OK;
}

void sb_config_free(sb_config_t *c)
{
  sb_buf_free(&c->json);
  sb_arena_destroy(&c->arena);
}

const sb_provider_t *sb_config_provider(const sb_config_t *c, sb_slice_t name)
{
  for (size_t i = 0; i < c->n_providers; i++)
    if (sb_slice_eq(sb_slice_z(c->providers[i].name), name))
      return &c->providers[i];
  return NULL;
}

/* ---- shared configs (a reload's) --------------------------------------- */

typedef struct {
  sb_snap_t snap;
  sb_config_t cfg;
} shared_t;

static void shared_destroy(sb_snap_t *s)
{
  shared_t *b = SB_CONTAINER_OF(s, shared_t, snap);
  sb_config_free(&b->cfg);
  free(b);
}

sb_config_t *sb_config_load_new(const char *path, const char *listen_override,
                                char *err, size_t errlen)
{
  shared_t *b = malloc(sizeof(*b));
  if (b == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (sb_config_load(&b->cfg, path, listen_override, err, errlen) != SB_OK) {
    sb_config_free(&b->cfg);
    free(b);
    return NULL;
  }
  sb_snap_init(&b->snap, shared_destroy);
  b->cfg.shared = &b->snap;
  return &b->cfg;
}

const sb_config_t *sb_config_ref(const sb_config_t *cfg)
{
  if (cfg != NULL && cfg->shared != NULL)
    sb_snap_ref(cfg->shared);
  return cfg;
}

void sb_config_unref(const sb_config_t *cfg)
{
  if (cfg != NULL && cfg->shared != NULL)
    sb_snap_release(cfg->shared);
}
