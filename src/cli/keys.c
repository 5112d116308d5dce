/* SPDX-License-Identifier: MIT */
/*
 * switchboard keys create|list|revoke: manage client keys through a
 * running gateway's key API (so a revoke reaches every worker's memory at
 * once). Reads SWITCHBOARD_URL (default http://127.0.0.1:3456) and
 * SWITCHBOARD_KEY (the admin key; not needed in local mode).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/cli.h"
#include "switchboard/json.h"
#include "switchboard/table.h"

static const char usage[] =
    "switchboard keys create --name NAME [--limit USD] "
    "[--reset daily|weekly|monthly]\n"
    "                        [--rpm N] [--tpm N] [--models a,b,...] "
    "[--expires 2026-12-31T00:00:00Z]\n"
    "                        [--ladder cheap,...,strong]   (default ladder of "
    "switchboard/auto)\n"
    "switchboard keys list\n"
    "switchboard keys revoke HASH      (or a unique prefix of it)\n"
    "\n"
    "Talks to the running gateway at SWITCHBOARD_URL (default "
    "http://127.0.0.1:3456)\nwith SWITCHBOARD_KEY (its admin key).\n";

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
  sb_buf_t *b = data;
  return sb_buf_append(b, p, size * n) == SB_OK ? size * n : 0;
}

/* One API call; the body lands in `out`. Returns the HTTP status, or -1
 * after printing why the gateway could not be reached. */
static long api(const char *method, const char *path, const char *body,
                sb_buf_t *out)
{
  char url[2048], full[2048];
  snprintf(full, sizeof(full), "/api/v1%s", path);
  sb_cli_gateway_url(url, sizeof(url), full);
  CURL *e = curl_easy_init();
  if (e == NULL)
    return -1;
  struct curl_slist *h = sb_cli_gateway_headers();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  if (body != NULL)
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "switchboard-cli/0.1");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
  long status = -1;
  CURLcode rc = curl_easy_perform(e);
  if (rc != CURLE_OK)
    fprintf(stderr, "switchboard: cannot reach the gateway at %s: %s\n", url,
            curl_easy_strerror(rc));
  else
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  return status;
}

/* Parse `b`; on a non-2xx status print the API's error message. */
static const sb_json_t *result(sb_arena_t *a, long status, sb_buf_t *b)
{
  sb_json_t *root = NULL;
  if (status < 0)
    return NULL;
  if (b->len == 0 ||
      sb_json_parse(a, b->data, b->len, 0, &root, NULL) != SB_OK) {
    fprintf(stderr, "switchboard: the gateway answered %ld with no JSON\n",
            status);
    return NULL;
  }
  if (status < 200 || status >= 300) {
    const sb_json_t *m = sb_json_get(sb_json_get(root, "error"), "message");
    sb_slice_t s = SB_SLICE_LIT("unknown error");
    if (sb_json_is(m, SB_JSON_STRING))
      sb_json_string(a, m, &s);
    fprintf(stderr, "switchboard: %ld: %.*s\n", status, (int)s.len, s.ptr);
    return NULL;
  }
  return root;
}

/* A member as text for a table cell ("-" for null / absent). */
static const char *cell(sb_arena_t *a, const sb_json_t *obj, const char *name,
                        const char *prefix)
{
  const sb_json_t *v = sb_json_getn(obj, name, strlen(name));
  sb_slice_t s;
  if (v == NULL || v->type == SB_JSON_NULL)
    return "-";
  if (v->type == SB_JSON_STRING) {
    if (sb_json_string(a, v, &s) != SB_OK)
      return "?";
  } else {
    s = v->raw;
  }
  return sb_arena_printf(a, "%s%.*s", prefix, (int)s.len, s.ptr);
}

/* A comma-separated list as a JSON array of strings (empty items left
 * out). */
static void write_csv(sb_jw_t *w, const char *list)
{
  sb_jw_arr_begin(w);
  for (const char *p = list; *p != '\0';) {
    const char *e = strchr(p, ',');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    if (n > 0)
      sb_jw_str(w, p, n);
    p += n + (e != NULL);
  }
  sb_jw_arr_end(w);
}

static int keys_create(int argc, char **argv)
{
  const char *name = NULL, *limit = NULL, *reset = NULL, *rpm = NULL,
             *tpm = NULL, *models = NULL, *expires = NULL, *ladder = NULL;
  const sb_cli_opt_t opts[] = {
      {"--name", NULL, &name},       {"--limit", NULL, &limit},
      {"--reset", NULL, &reset},     {"--rpm", NULL, &rpm},
      {"--tpm", NULL, &tpm},         {"--models", NULL, &models},
      {"--expires", NULL, &expires}, {"--ladder", NULL, &ladder},
  };
  int bad = sb_cli_options(argc, argv, opts, SB_ARRAY_LEN(opts));
  if (bad > 0) {
    fprintf(stderr, "switchboard: unexpected argument '%s'\nusage:\n%s",
            argv[bad], usage);
    return 2;
  }
  if (name == NULL) {
    fprintf(stderr, "switchboard: keys create needs --name\nusage:\n%s", usage);
    return 2;
  }
  sb_buf_t body;
  sb_jw_t w;
  sb_buf_init(&body, 1 << 20);
  sb_jw_init(&w, &body);
  sb_jw_obj_begin(&w);
  sb_jw_kv_str(&w, SB_STRLIT("name"), name, strlen(name));
  /* Numbers are checked here so a typo is not sent as broken JSON. */
  const char *nums[] = {limit, rpm, tpm};
  const char *num_names[] = {"limit", "rpm", "tpm"};
  for (size_t i = 0; i < 3; i++) {
    if (nums[i] == NULL)
      continue;
    sb_arena_t a;
    sb_json_t *v;
    sb_arena_init(&a, 1024, 0);
    bool ok = sb_json_parse(&a, nums[i], strlen(nums[i]), 0, &v, NULL) == SB_OK &&
              v->type == SB_JSON_NUMBER;
    sb_arena_destroy(&a);
    if (!ok) {
      fprintf(stderr, "switchboard: --%s must be a number\n", num_names[i]);
      sb_buf_free(&body);
      return 2;
    }
    sb_jw_kv_raw(&w, num_names[i], strlen(num_names[i]), nums[i], strlen(nums[i]));
  }
  if (reset != NULL)
    sb_jw_kv_str(&w, SB_STRLIT("limit_reset"), reset, strlen(reset));
  if (expires != NULL)
    sb_jw_kv_str(&w, SB_STRLIT("expires_at"), expires, strlen(expires));
  if (models != NULL) {
    sb_jw_key_lit(&w, "models");
    write_csv(&w, models);
  }
  if (ladder != NULL) {
    /* the key's default ladder for switchboard/auto (docs/routing.md) */
    sb_jw_key_lit(&w, "escalation");
    sb_jw_obj_begin(&w);
    sb_jw_key_lit(&w, "ladder");
    write_csv(&w, ladder);
    sb_jw_obj_end(&w);
  }
  sb_jw_obj_end(&w);
  sb_buf_cstr(&body);

  sb_buf_t out;
  sb_arena_t a;
  sb_buf_init(&out, 16u << 20);
  sb_arena_init(&a, 16 * 1024, 0);
  int rc = 1;
  const sb_json_t *root = result(&a, api("POST", "/keys", body.data, &out), &out);
  if (root != NULL) {
    const sb_json_t *d = sb_json_get(root, "data");
    printf("name    %s\n", cell(&a, d, "name", ""));
    printf("hash    %s\n", cell(&a, d, "hash", ""));
    printf("limit   %s", cell(&a, d, "limit", "$"));
    const char *r = cell(&a, d, "limit_reset", "");
    printf("%s%s\n", strcmp(r, "-") == 0 ? "" : " ", strcmp(r, "-") == 0 ? "" : r);
    const sb_json_t *lad = sb_json_get(sb_json_get(d, "escalation"), "ladder");
    if (sb_json_is(lad, SB_JSON_ARRAY)) {
      printf("ladder ");
      for (const sb_json_t *m = lad->child; m != NULL; m = m->next) {
        sb_slice_t id;
        if (sb_json_string(&a, m, &id) == SB_OK)
          printf(" %.*s", (int)SB_MIN(id.len, 200), id.ptr);
      }
      printf("\n");
    }
    printf("key     %s\n", cell(&a, root, "key", ""));
    fprintf(stderr, "The key is shown only this once: store it now.\n");
    rc = 0;
  }
  sb_arena_destroy(&a);
  sb_buf_free(&out);
  sb_buf_free(&body);
  return rc;
}

static int keys_list(void)
{
  sb_buf_t out;
  sb_arena_t a;
  sb_buf_init(&out, 64u << 20);
  sb_arena_init(&a, 64 * 1024, 0);
  int rc = 1;
  const sb_json_t *root =
      result(&a, api("GET", "/keys?include_disabled=true", NULL, &out), &out);
  if (root != NULL) {
    sb_table_t t;
    sb_table_init(&t, &a);
    sb_table_row(&t, (const char *[]){"HASH", "NAME", "LIMIT", "RESET",
                                      "USED", "REMAINING", "USAGE", "RPM",
                                      "TPM", "STATUS"}, 10);
    const sb_json_t *data = sb_json_get(root, "data");
    for (const sb_json_t *k = sb_json_is(data, SB_JSON_ARRAY) ? data->child : NULL;
         k != NULL; k = k->next) {
      const char *hash = cell(&a, k, "hash", "");
      const char *lim = cell(&a, k, "limit", "$");
      const char *rem = cell(&a, k, "limit_remaining", "$");
      const char *used = "-";
      if (strcmp(lim, "-") != 0) {
        /* used in the current period = limit - remaining - reserved;
         * shown as the gateway reports it */
        const char *reset = cell(&a, k, "limit_reset", "");
        const char *field = strcmp(reset, "daily") == 0     ? "usage_daily"
                            : strcmp(reset, "weekly") == 0  ? "usage_weekly"
                            : strcmp(reset, "monthly") == 0 ? "usage_monthly"
                                                            : "usage";
        used = cell(&a, k, field, "$");
      }
      const sb_json_t *dis = sb_json_get(k, "disabled");
      const char *row[] = {
          sb_arena_printf(&a, "%.16s", hash), cell(&a, k, "name", ""), lim,
          cell(&a, k, "limit_reset", ""), used, rem, cell(&a, k, "usage", "$"),
          cell(&a, k, "rpm", ""), cell(&a, k, "tpm", ""),
          sb_json_is(dis, SB_JSON_TRUE) ? "disabled" : "active"};
      sb_table_row(&t, row, 10);
    }
    sb_table_print(&t, stdout);
    rc = 0;
  }
  sb_arena_destroy(&a);
  sb_buf_free(&out);
  return rc;
}

static int keys_revoke(const char *prefix)
{
  sb_buf_t out;
  sb_arena_t a;
  sb_buf_init(&out, 64u << 20);
  sb_arena_init(&a, 64 * 1024, 0);
  int rc = 1;
  size_t pl = strlen(prefix);
  char hash[65] = "";
  int matches = 0;
  const sb_json_t *root =
      result(&a, api("GET", "/keys?include_disabled=true", NULL, &out), &out);
  if (root == NULL)
    goto out;
  const sb_json_t *data = sb_json_get(root, "data");
  for (const sb_json_t *k = sb_json_is(data, SB_JSON_ARRAY) ? data->child : NULL;
       k != NULL; k = k->next) {
    const char *h = cell(&a, k, "hash", "");
    if (pl > 0 && strncmp(h, prefix, pl) == 0) {
      snprintf(hash, sizeof(hash), "%s", h);
      matches++;
    }
  }
  if (matches != 1) {
    fprintf(stderr, "switchboard: %s key matches '%s'\n",
            matches == 0 ? "no" : "more than one", prefix);
    goto out;
  }
  char path[128];
  snprintf(path, sizeof(path), "/keys/%s", hash);
  sb_buf_reset(&out);
  if (result(&a, api("DELETE", path, NULL, &out), &out) != NULL) {
    printf("revoked %s\n", hash);
    rc = 0;
  }
out:
  sb_arena_destroy(&a);
  sb_buf_free(&out);
  return rc;
}

int sb_cli_keys(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage:\n%s", usage);
    return 2;
  }
  if (strcmp(argv[1], "create") == 0)
    return keys_create(argc - 1, argv + 1);
  if (strcmp(argv[1], "list") == 0 && argc == 2)
    return keys_list();
  if (strcmp(argv[1], "revoke") == 0 && argc == 3)
    return keys_revoke(argv[2]);
  if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "usage:\n%s", usage);
  return 2;
}
