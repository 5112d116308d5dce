/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's files (web/, embedded at build time by
 * scripts/embed.cmake) and GET /. docs/dashboard.md.
 *
 * GET / answers a browser (a request that accepts text/html) with the
 * dashboard's page and anyone else with a JSON summary of what the gateway
 * serves; GET /ui/{file} serves the page's scripts and styles. They are
 * open: they hold no data, and every figure the page shows comes from the
 * API with the caller's key. Each file has a strong ETag (a hash of its
 * bytes, computed once at start) and `Cache-Control: no-cache`: a browser
 * keeps the files and asks again with If-None-Match, answered 304 until
 * a new build changes them.
 */
#include <stdio.h>

#include "reports.h"
#include "switchboard/embedded.h"

#define WEB_DIR "web/"
#define MAX_FILES 64

typedef struct {
  const sb_embedded_file_t *file;
  char etag[20]; /* "\"" + 16 hex digits + "\"" */
} asset_t;

static asset_t assets[MAX_FILES];
static size_t n_assets;

/* Only the page itself may be framed by nothing and run nothing foreign. */
#define CSP                                                                    \
  "default-src 'self'; script-src 'self'; style-src 'self'; "                 \
  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "               \
  "form-action 'none'; frame-ancestors 'none'"

static uint64_t fnv1a(const char *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

void sb_api_ui_open(void)
{
  n_assets = 0;
  for (const sb_embedded_file_t *f = sb_embedded_files;
       f->path != NULL && n_assets < MAX_FILES; f++) {
    if (strncmp(f->path, WEB_DIR, sizeof(WEB_DIR) - 1) != 0)
      continue;
    asset_t *a = &assets[n_assets++];
    a->file = f;
    snprintf(a->etag, sizeof(a->etag), "\"%016llx\"",
             (unsigned long long)fnv1a(f->data, f->len));
  }
}

/* The file named `name` (below web/), or NULL. */
static const asset_t *find(sb_slice_t name)
{
  if (name.len == 0 || name.len > 64 || name.ptr[0] == '.')
    return NULL;
  for (size_t i = 0; i < name.len; i++) {
    char c = name.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
      return NULL;
  }
  for (size_t i = 0; i < n_assets; i++) {
    const char *p = assets[i].file->path + sizeof(WEB_DIR) - 1;
    if (strlen(p) == name.len && memcmp(p, name.ptr, name.len) == 0)
      return &assets[i];
  }
  return NULL;
}

static const char *content_type(const char *path)
{
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot != NULL && i < SB_ARRAY_LEN(types); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  return "application/octet-stream";
}

/* If-None-Match names the file's current version (or is "*"). A weak
 * validator (W/"...") matches too: RFC 9110 compares weakly here. */
static bool not_modified(const sb_http_exchange_t *x, const asset_t *a)
{
  sb_slice_t inm = SB_HTTP_HEADER(&x->req, "if-none-match");
  if (inm.len == 0)
    return false;
  if (SB_SLICE_IS(sb_slice_trim(inm), "*"))
    return true;
  size_t n = strlen(a->etag);
  for (size_t i = 0; i + n <= inm.len; i++)
    if (memcmp(inm.ptr + i, a->etag, n) == 0)
      return true;
  return false;
}

static void serve(sb_http_exchange_t *x, const asset_t *a, bool negotiated)
{
  sb_http_header_t h[6];
  size_t n = 0;
  h[n++] = (sb_http_header_t){SB_SLICE_LIT("ETag"), sb_slice_z(a->etag)};
  h[n++] = (sb_http_header_t){SB_SLICE_LIT("Cache-Control"),
                              SB_SLICE_LIT("no-cache")};
  h[n++] = (sb_http_header_t){SB_SLICE_LIT("X-Content-Type-Options"),
                              SB_SLICE_LIT("nosniff")};
  h[n++] = (sb_http_header_t){SB_SLICE_LIT("Referrer-Policy"),
                              SB_SLICE_LIT("no-referrer")};
  if (negotiated)
    h[n++] = (sb_http_header_t){SB_SLICE_LIT("Vary"), SB_SLICE_LIT("Accept")};
  const char *type = content_type(a->file->path);
  if (strncmp(type, "text/html", 9) == 0)
    h[n++] = (sb_http_header_t){SB_SLICE_LIT("Content-Security-Policy"),
                                SB_SLICE_LIT(CSP)};
  if (not_modified(x, a))
    sb_http_respond(x, 304, h, n, NULL, SB_NULL_SLICE);
  else
    sb_http_respond(x, 200, h, n, type, sb_slice(a->file->data, a->file->len));
}

static bool method_ok(sb_http_exchange_t *x)
{
  unsigned m = x->req.method;
  if (m == HTTP_GET || m == HTTP_HEAD)
    return true;
  sb_api_error(x, 405, "invalid_request", "method not allowed (use GET)");
  return false;
}

void sb_api_ui(sb_http_exchange_t *x, sb_slice_t file)
{
  if (!method_ok(x))
    return;
  const asset_t *a = find(file.len == 0 ? SB_SLICE_LIT("index.html") : file);
  if (a == NULL) {
    sb_api_error(x, 404, "not_found", "no dashboard file '%.*s'",
                 (int)SB_MIN(file.len, 100), file.ptr);
    return;
  }
  serve(x, a, false);
}

/* Does the request accept an HTML page (a browser's navigation)? */
static bool wants_html(const sb_http_exchange_t *x)
{
  sb_slice_t accept = SB_HTTP_HEADER(&x->req, "accept");
  static const char html[] = "text/html";
  for (size_t i = 0; i + sizeof(html) - 1 <= accept.len; i++)
    if (memcmp(accept.ptr + i, html, sizeof(html) - 1) == 0)
      return true;
  return false;
}

/* What the gateway serves, whether the API needs a key ("auth": "key",
 * or "none" in local mode: a 401 would tell as much) and, with no
 * provider configured, how to add one. */
static void summary(sb_http_exchange_t *x)
{
  const sb_config_t *cfg = sb_gateway_config(x); /* the request's */
  size_t providers = cfg->n_providers;
  char body[2048];
  int n = snprintf(
      body, sizeof(body),
      "{\"name\":\"switchboard\",\"providers\":%zu,%s%s%s\"auth\":\"%s\","
      "\"dashboard\":\"/\",\"endpoints\":["
      "\"POST /v1/chat/completions\",\"POST /v1/messages\","
      "\"POST /v1/responses\","
      "\"POST /v1/embeddings\",\"GET /v1/models\","
      "\"POST /v1beta/models/{model}:generateContent\","
      "\"POST /api/skills/openrouter/chat\",\"GET /health\",\"GET /metrics\"]}",
      providers, providers == 0 ? "\"setup\":\"" : "",
      providers == 0 ? SB_NO_PROVIDER_HINT : "", providers == 0 ? "\"," : "",
      cfg->admin_key != NULL ? "key" : "none");
  sb_http_add_head(x, "Vary: Accept\r\n");
  sb_api_json(x, 200, sb_slice(body, (size_t)n));
}

void sb_api_root(sb_http_exchange_t *x)
{
  if (!method_ok(x))
    return;
  const asset_t *page = find(SB_SLICE_LIT("index.html"));
  if (page != NULL && wants_html(x))
    serve(x, page, true);
  else
    summary(x);
}
