/* SPDX-License-Identifier: MIT */
/*
 * Fetching the model lists a catalog is refreshed from; see
 * include/switchboard/catalog_refresh.h.
 *
 * Blocking libcurl, on the refresher's thread (or a CLI command), with an
 * easy handle per list: never on a worker's loop. Every transfer has a
 * connect and a total timeout and a byte cap, and stops when asked to.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <strings.h>

#include "switchboard/catalog_refresh.h"
#include "switchboard/upstream.h"
#include "switchboard/version.h"

#define OPENROUTER_DEFAULT "https://openrouter.ai/api/v1"
#define MAX_PAGES 50 /* of a paged list (1000 models a page) */

void sb_catalog_openrouter_url(const sb_config_t *cfg, char *out, size_t cap)
{
  const char *base = cfg->catalog.openrouter_url;
  const sb_provider_t *p = sb_config_provider(cfg, SB_SLICE_LIT("openrouter"));
  if (base == NULL)
    base = p != NULL ? p->base_url : OPENROUTER_DEFAULT;
  snprintf(out, cap, "%s/models", base);
}

typedef struct {
  sb_buf_t *body;
  const atomic_bool *stop;
  bool too_big;
} transfer_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
  transfer_t *t = arg;
  if (sb_buf_append(t->body, p, size * n) != SB_OK) {
    t->too_big = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
  (void)dt, (void)dn, (void)ut, (void)un;
  transfer_t *t = arg;
  return t->stop != NULL && atomic_load(t->stop) ? 1 : 0;
}

/* The printable start of an error body, for the log. */
static void body_excerpt(const sb_buf_t *b, char *out, size_t cap)
{
  size_t n = 0;
  for (size_t i = 0; i < b->len && n + 1 < cap && n < 160; i++)
    out[n++] = b->data[i] >= 0x20 && b->data[i] < 0x7f ? b->data[i] : '.';
  out[n] = '\0';
}

/* GET `url` with `headers` into `body`, reaching the server as provider
 * `p` is reached (its TLS settings and proxy; NULL: the global TLS
 * settings). SB_OK for a 2xx answer. */
static sb_status_t http_get(const sb_config_t *cfg, const sb_provider_t *p,
                            const char *url, struct curl_slist *headers,
                            const atomic_bool *stop, sb_buf_t *body, char *err,
                            size_t errlen)
{
  CURL *e = curl_easy_init();
  char cerr[CURL_ERROR_SIZE] = "";
  transfer_t t = {body, stop, false};
  long status = 0;
  if (e == NULL)
    return sb_catalog_errf(err, errlen, "out of memory");
  sb_buf_reset(body);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, SB_USER_AGENT);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
                   ""); /* the cap counts decoded bytes */
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(
      e, CURLOPT_CONNECTTIMEOUT_MS,
      (long)SB_MIN(cfg->upstream_timeouts.connect_ms, cfg->catalog.timeout_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->catalog.timeout_ms);
  sb_upstream_curl_link(e, p != NULL ? &p->tls : &cfg->tls,
                        p != NULL ? p->proxy : NULL);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  if (t.too_big)
    return sb_catalog_errf(err, errlen, "the list is larger than %u MB",
                           SB_FEED_MAX_BODY >> 20);
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return sb_catalog_errf(err, errlen, "stopped");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return sb_catalog_errf(err, errlen, "no complete answer within %u ms",
                           cfg->catalog.timeout_ms);
  if (rc != CURLE_OK)
    return sb_catalog_errf(err, errlen, "%s",
                           cerr[0] ? cerr : curl_easy_strerror(rc));
  if (status < 200 || status > 299) {
    char ex[168];
    body_excerpt(body, ex, sizeof(ex));
    return sb_catalog_errf(err, errlen, "HTTP %ld: %s", status, ex);
  }
  return SB_OK;
}

/* The headers a provider's own requests carry: its key (the first) and
 * its extra headers; Anthropic's version header unless it sets one. */
static struct curl_slist *provider_headers(const sb_provider_t *p)
{
  struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
  char line[1024];
  bool version = false;
  if (p == NULL)
    return h;
  if (p->n_keys > 0 && p->auth_header != NULL) {
    snprintf(line, sizeof(line), "%s: %s%s", p->auth_header,
             p->auth_prefix != NULL ? p->auth_prefix : "", p->keys[0]);
    h = curl_slist_append(h, line);
  }
  for (size_t i = 0; i < p->n_headers; i++) {
    snprintf(line, sizeof(line), "%s: %s", p->headers[i].name,
             p->headers[i].value);
    h = curl_slist_append(h, line);
    version |= strcasecmp(p->headers[i].name, "anthropic-version") == 0;
  }
  if (strcmp(p->format, "anthropic") == 0 && !version)
    h = curl_slist_append(h, "anthropic-version: 2023-06-01");
  return h;
}

/* The first page's URL of a provider's list, and the format it is in. */
static void list_url(const sb_provider_t *p, char *url, size_t cap,
                     sb_list_format_t *fmt)
{
  const char *base = p->base_url;
  size_t n = strlen(base);
  const char *slash = strrchr(base, '/');
  if (strcmp(p->format, "anthropic") == 0) {
    /* as the Messages URL is made: /v1 unless the base names it */
    bool v1 = n >= 3 && strcmp(base + n - 3, "/v1") == 0;
    snprintf(url, cap, "%s%s/models?limit=1000", base, v1 ? "" : "/v1");
    *fmt = SB_LIST_ANTHROPIC;
  } else if (strcmp(p->format, "gemini") == 0) {
    bool versioned = slash != NULL && strncmp(slash, "/v1", 3) == 0;
    snprintf(url, cap, "%s%s/models?pageSize=1000", base,
             versioned ? "" : "/v1beta");
    *fmt = SB_LIST_GEMINI;
  } else {
    snprintf(url, cap, "%s/models", base);
    *fmt = SB_LIST_OPENAI;
  }
}

static sb_status_t fetch_provider(const sb_config_t *cfg,
                                  const sb_provider_t *p,
                                  const atomic_bool *stop, sb_feed_t *feed,
                                  char *err, size_t errlen)
{
  char first[2048], url[4096], next[1024] = "";
  sb_list_format_t fmt;
  sb_buf_t body;
  sb_status_t rc = SB_OK;
  struct curl_slist *h = provider_headers(p);
  list_url(p, first, sizeof(first), &fmt);
  sb_buf_init(&body, SB_FEED_MAX_BODY);
  for (int page = 0; rc == SB_OK; page++) {
    if (page == MAX_PAGES) {
      rc = sb_catalog_errf(err, errlen, "more than %d pages", MAX_PAGES);
      break;
    }
    if (next[0] == '\0') {
      snprintf(url, sizeof(url), "%s", first);
    } else {
      char *esc = curl_easy_escape(NULL, next, 0);
      snprintf(url, sizeof(url), "%s&%s=%s", first,
               fmt == SB_LIST_ANTHROPIC ? "after_id" : "pageToken",
               esc != NULL ? esc : "");
      curl_free(esc);
    }
    rc = http_get(cfg, p, url, h, stop, &body, err, errlen);
    if (rc == SB_OK)
      rc = sb_feed_provider_page(feed, fmt, sb_buf_slice(&body), next,
                                 sizeof(next), err, errlen);
    if (next[0] == '\0')
      break;
  }
  sb_buf_free(&body);
  curl_slist_free_all(h);
  return rc;
}

sb_status_t sb_catalog_fetch(const sb_config_t *cfg, const char *source,
                             const atomic_bool *stop, sb_feed_t *feed,
                             char *err, size_t errlen)
{
  if (strcmp(source, "openrouter") == 0) {
    char url[2048];
    sb_buf_t body;
    /* The list is public; the configured key, if any, is sent along (it
     * may see models the anonymous list does not). */
    const sb_provider_t *orp =
        sb_config_provider(cfg, SB_SLICE_LIT("openrouter"));
    struct curl_slist *h = provider_headers(orp);
    sb_catalog_openrouter_url(cfg, url, sizeof(url));
    sb_buf_init(&body, SB_FEED_MAX_BODY);
    sb_status_t rc = http_get(cfg, orp, url, h, stop, &body, err, errlen);
    if (rc == SB_OK)
      rc = sb_feed_openrouter(feed, sb_buf_slice(&body), err, errlen);
    sb_buf_free(&body);
    curl_slist_free_all(h);
    return rc;
  }
  const sb_provider_t *p = strncmp(source, "provider:", 9) == 0
                               ? sb_config_provider(cfg, sb_slice_z(source + 9))
                               : NULL;
  if (p == NULL)
    return sb_catalog_errf(err, errlen, "no such source");
  return fetch_provider(cfg, p, stop, feed, err, errlen);
}
