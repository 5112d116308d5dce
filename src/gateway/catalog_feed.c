/* SPDX-License-Identifier: MIT */
/*
 * Model lists into their normal form; see include/switchboard/catalog_feed.h.
 *
 * A body is validated whole first (no allocation), so the scanner below
 * walks text known to be JSON: it only has to find the list and step from
 * one element to the next. Each element is then parsed and checked on its
 * own in a scratch arena.
 */
#include "switchboard/catalog_feed.h"

#include <stdarg.h>
#include <stdio.h>

#include "switchboard/json_edit.h"

/* ---- walking validated JSON text ----------------------------------------- */

static size_t skip_ws(sb_slice_t d, size_t i)
{
  while (i < d.len && (d.ptr[i] == ' ' || d.ptr[i] == '\t' ||
                       d.ptr[i] == '\n' || d.ptr[i] == '\r'))
    i++;
  return i;
}

/* d[i] is the opening quote; returns the index past the closing one. */
static size_t skip_string(sb_slice_t d, size_t i)
{
  for (i++; i < d.len; i++) {
    if (d.ptr[i] == '\\')
      i++;
    else if (d.ptr[i] == '"')
      return i + 1;
  }
  return d.len;
}

/* d[i] starts a value; returns the index past it. */
static size_t skip_value(sb_slice_t d, size_t i)
{
  if (i >= d.len)
    return d.len;
  if (d.ptr[i] == '"')
    return skip_string(d, i);
  if (d.ptr[i] == '{' || d.ptr[i] == '[') {
    size_t depth = 0;
    while (i < d.len) {
      char c = d.ptr[i];
      if (c == '"') {
        i = skip_string(d, i);
        continue;
      }
      if (c == '{' || c == '[')
        depth++;
      else if ((c == '}' || c == ']') && --depth == 0)
        return i + 1;
      i++;
    }
    return d.len;
  }
  while (i < d.len && d.ptr[i] != ',' && d.ptr[i] != ']' && d.ptr[i] != '}' &&
         d.ptr[i] != ' ' && d.ptr[i] != '\t' && d.ptr[i] != '\n' &&
         d.ptr[i] != '\r')
    i++;
  return i;
}

/* The value of the top-level object's first member named `key` (as
 * written: a name with escapes does not match). */
static bool top_member(sb_slice_t d, const char *key, sb_slice_t *out)
{
  size_t i = skip_ws(d, 0), kl = strlen(key);
  if (i >= d.len || d.ptr[i] != '{')
    return false;
  i = skip_ws(d, i + 1);
  while (i < d.len && d.ptr[i] == '"') {
    size_t kend = skip_string(d, i);
    bool match = kend - i - 2 == kl && memcmp(d.ptr + i + 1, key, kl) == 0;
    i = skip_ws(d, skip_ws(d, kend) + 1); /* past the colon */
    size_t vend = skip_value(d, i);
    if (match) {
      *out = sb_slice(d.ptr + i, vend - i);
      return true;
    }
    i = skip_ws(d, vend);
    if (i < d.len && d.ptr[i] == ',')
      i = skip_ws(d, i + 1);
  }
  return false;
}

typedef struct {
  sb_slice_t arr; /* an array's text, brackets included */
  size_t pos;
} elems_t;

static bool elems_next(elems_t *it, sb_slice_t *elem)
{
  size_t i = skip_ws(it->arr, it->pos);
  if (i >= it->arr.len || it->arr.ptr[i] == ']')
    return false;
  size_t end = skip_value(it->arr, i);
  *elem = sb_slice(it->arr.ptr + i, end - i);
  i = skip_ws(it->arr, end);
  it->pos = i < it->arr.len && it->arr.ptr[i] == ',' ? i + 1 : i;
  return true;
}

/* ---- checks ------------------------------------------------------------- */

bool sb_feed_id_ok(sb_slice_t id)
{
  if (id.len == 0 || id.len > SB_FEED_MAX_ID)
    return false;
  for (size_t i = 0; i < id.len; i++)
    if ((unsigned char)id.ptr[i] <= 0x20 || (unsigned char)id.ptr[i] >= 0x7f ||
        id.ptr[i] == '"' || id.ptr[i] == '\\')
      return false;
  return true;
}

/* One amount: absent or null is 0, "-1" unknown. */
static sb_status_t amount(const sb_json_t *pricing, const char *key,
                          int64_t *out, bool *present, bool *unknown)
{
  const sb_json_t *v = sb_json_getn(pricing, key, strlen(key));
  *out = 0;
  if (present != NULL)
    *present = false;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK;
  if (v->type != SB_JSON_STRING && v->type != SB_JSON_NUMBER)
    return SB_ERROR;
  sb_slice_t s = v->type == SB_JSON_STRING ? sb_json_str_raw(v) : v->raw;
  if (SB_SLICE_IS(s, "-1")) {
    *unknown = true;
    return SB_OK;
  }
  if ((v->flags & SB_JSON_F_ESCAPED) != 0 || sb_price_parse(s, out) != SB_OK)
    return SB_ERROR;
  if (present != NULL)
    *present = true;
  return SB_OK;
}

sb_status_t sb_feed_price(const sb_json_t *pricing, sb_price_t *p,
                          const char **why)
{
  static const struct {
    const char *key;
    size_t off, has;
  } fields[] = {
      {"prompt", offsetof(sb_price_t, prompt), 0},
      {"completion", offsetof(sb_price_t, completion), 0},
      {"request", offsetof(sb_price_t, request), 0},
      {"input_cache_read", offsetof(sb_price_t, cache_read),
       offsetof(sb_price_t, has_cache_read)},
      {"input_cache_write", offsetof(sb_price_t, cache_write),
       offsetof(sb_price_t, has_cache_write)},
      {"internal_reasoning", offsetof(sb_price_t, reasoning),
       offsetof(sb_price_t, has_reasoning)},
  };
  static const char *const bad[] = {
      "pricing.prompt is not a price in USD per token",
      "pricing.completion is not a price in USD per token",
      "pricing.request is not a price in USD",
      "pricing.input_cache_read is not a price in USD per token",
      "pricing.input_cache_write is not a price in USD per token",
      "pricing.internal_reasoning is not a price in USD per token"};
  memset(p, 0, sizeof(*p));
  if (pricing == NULL || pricing->type == SB_JSON_NULL)
    return SB_OK;
  if (pricing->type != SB_JSON_OBJECT) {
    *why = "pricing is not an object";
    return SB_ERROR;
  }
  bool unknown = false;
  for (size_t i = 0; i < SB_ARRAY_LEN(fields); i++) {
    char *base = (char *)p;
    if (amount(
            pricing, fields[i].key, (int64_t *)(void *)(base + fields[i].off),
            fields[i].has != 0 ? (bool *)(void *)(base + fields[i].has) : NULL,
            &unknown) != SB_OK) {
      *why = bad[i];
      return SB_ERROR;
    }
  }
  if (unknown) {
    /* One unknown amount makes the whole cost unknown. */
    memset(p, 0, sizeof(*p));
    p->unknown = true;
  }
  return SB_OK;
}

static bool type_ok(const sb_json_t *e, const char *key, sb_json_type_t t)
{
  const sb_json_t *v = sb_json_getn(e, key, strlen(key));
  return v == NULL || v->type == SB_JSON_NULL || v->type == (uint8_t)t;
}

sb_status_t sb_feed_openrouter_entry(const sb_json_t *e, sb_price_t *price,
                                     const char **why)
{
  if (e->type != SB_JSON_OBJECT) {
    *why = "not an object";
    return SB_ERROR;
  }
  const sb_json_t *id = sb_json_get(e, "id");
  if (!sb_json_is(id, SB_JSON_STRING)) {
    *why = "no string id";
    return SB_ERROR;
  }
  sb_slice_t s = sb_json_str_raw(id);
  const char *slash = memchr(s.ptr, '/', s.len);
  if ((id->flags & SB_JSON_F_ESCAPED) != 0 || !sb_feed_id_ok(s) ||
      slash == NULL || slash == s.ptr || slash == s.ptr + s.len - 1) {
    *why = "the id is not like author/slug (printable, at most 256 bytes)";
    return SB_ERROR;
  }
  int64_t n;
  const sb_json_t *ctx = sb_json_get(e, "context_length");
  if (ctx != NULL && ctx->type != SB_JSON_NULL &&
      (sb_json_int64(ctx, &n) != SB_OK || n < 0 || n > UINT32_MAX)) {
    *why = "context_length is not a count of tokens";
    return SB_ERROR;
  }
  const sb_json_t *created = sb_json_get(e, "created");
  if (created != NULL && created->type != SB_JSON_NULL &&
      sb_json_int64(created, &n) != SB_OK) {
    *why = "created is not a time in seconds";
    return SB_ERROR;
  }
  if (!type_ok(e, "name", SB_JSON_STRING) ||
      !type_ok(e, "description", SB_JSON_STRING) ||
      !type_ok(e, "architecture", SB_JSON_OBJECT) ||
      !type_ok(e, "top_provider", SB_JSON_OBJECT) ||
      !type_ok(e, "supported_parameters", SB_JSON_ARRAY)) {
    *why = "name, description, architecture, top_provider or "
           "supported_parameters has the wrong type";
    return SB_ERROR;
  }
  const sb_json_t *tp = sb_json_get(e, "top_provider");
  const sb_json_t *mct =
      tp != NULL ? sb_json_get(tp, "max_completion_tokens") : NULL;
  if (mct != NULL && mct->type != SB_JSON_NULL &&
      (sb_json_int64(mct, &n) != SB_OK || n < 0)) {
    *why = "top_provider.max_completion_tokens is not a count of tokens";
    return SB_ERROR;
  }
  const sb_json_t *pricing = sb_json_get(e, "pricing");
  if (!sb_json_is(pricing, SB_JSON_OBJECT) ||
      sb_json_get(pricing, "prompt") == NULL ||
      sb_json_get(pricing, "completion") == NULL) {
    *why = "no pricing with prompt and completion";
    return SB_ERROR;
  }
  return sb_feed_price(pricing, price, why);
}

/* ---- the normal form ---------------------------------------------------- */

sb_status_t sb_catalog_errf(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return SB_ERROR;
}

void sb_feed_begin(sb_feed_t *f)
{
  memset(f, 0, sizeof(*f));
  sb_buf_init(&f->out, SB_FEED_MAX_BODY);
  sb_jw_init(&f->w, &f->out);
  /* a 256 KB entry of tiny values is at most ~128k nodes of 56 bytes */
  sb_arena_init(&f->scratch, 64 * 1024, 16u << 20);
  sb_jw_obj_begin(&f->w);
  sb_jw_key_lit(&f->w, "data");
  sb_jw_arr_begin(&f->w);
}

void sb_feed_free(sb_feed_t *f)
{
  sb_buf_free(&f->out);
  sb_arena_destroy(&f->scratch);
}

/* An entry left out: counted, and the first one described (with its id
 * when it has a printable one). */
static void skip(sb_feed_t *f, const sb_json_t *e, const char *why)
{
  if (f->st.skipped++ > 0)
    return;
  const sb_json_t *id = e != NULL ? sb_json_get(e, "id") : NULL;
  sb_slice_t s =
      sb_json_is(id, SB_JSON_STRING) ? sb_json_str_raw(id) : SB_NULL_SLICE;
  if (sb_feed_id_ok(s))
    snprintf(f->st.why, sizeof(f->st.why), "entry %zu (%.*s): %s", f->entries,
             (int)SB_MIN(s.len, 100), s.ptr, why);
  else
    snprintf(f->st.why, sizeof(f->st.why), "entry %zu: %s", f->entries, why);
}

/* The whole body is JSON, and the list `key` of its top-level object (or
 * the body itself, when `bare_ok` and it is an array). */
static sb_status_t list_of(sb_slice_t body, const char *key, bool bare_ok,
                           sb_slice_t *arr, char *err, size_t errlen)
{
  sb_json_error_t jerr;
  if (body.len > SB_FEED_MAX_BODY)
    return sb_catalog_errf(err, errlen, "the list is larger than %u MB",
                           SB_FEED_MAX_BODY >> 20);
  if (sb_json_validate(body.ptr, body.len, 0, &jerr) != SB_OK)
    return sb_catalog_errf(err, errlen, "the list is not JSON: %s at byte %zu",
                           jerr.message, jerr.offset);
  size_t i = skip_ws(body, 0);
  if (bare_ok && body.ptr[i] == '[') {
    *arr = sb_slice(body.ptr + i, skip_value(body, i) - i);
    return SB_OK;
  }
  if (!top_member(body, key, arr) || arr->len == 0 || arr->ptr[0] != '[')
    return sb_catalog_errf(err, errlen, "the list has no '%s' array", key);
  return SB_OK;
}

/* Parse one element into the scratch arena (reset first). */
static sb_json_t *entry_dom(sb_feed_t *f, sb_slice_t text)
{
  sb_json_t *e;
  sb_json_error_t jerr;
  f->entries++;
  if (text.len > SB_FEED_MAX_ENTRY) {
    skip(f, NULL, "larger than 256 KB");
    return NULL;
  }
  sb_arena_reset(&f->scratch);
  if (sb_json_parse(&f->scratch, text.ptr, text.len, SB_FEED_MAX_DEPTH, &e,
                    &jerr) != SB_OK) {
    skip(f, NULL, jerr.message); /* nested too deep, or out of memory */
    return NULL;
  }
  return e;
}

static bool room(sb_feed_t *f)
{
  if (f->st.kept < SB_FEED_MAX_MODELS)
    return true;
  f->st.truncated = true;
  return false;
}

sb_status_t sb_feed_openrouter(sb_feed_t *f, sb_slice_t body, char *err,
                               size_t errlen)
{
  /* The members of a model the gateway shows or uses, in this order. */
  static const char *const keep[] = {"id",
                                     "canonical_slug",
                                     "hugging_face_id",
                                     "name",
                                     "created",
                                     "description",
                                     "context_length",
                                     "architecture",
                                     "pricing",
                                     "top_provider",
                                     "per_request_limits",
                                     "supported_parameters",
                                     "default_parameters",
                                     "knowledge_cutoff",
                                     "expiration_date",
                                     "reasoning"};
  elems_t it = {SB_NULL_SLICE, 1};
  if (list_of(body, "data", false, &it.arr, err, errlen) != SB_OK)
    return SB_ERROR;
  sb_slice_t text;
  while (elems_next(&it, &text) && room(f)) {
    sb_json_t *e = entry_dom(f, text);
    sb_price_t price;
    const char *why;
    if (e == NULL)
      continue;
    if (sb_feed_openrouter_entry(e, &price, &why) != SB_OK) {
      skip(f, e, why);
      continue;
    }
    sb_jw_obj_begin(&f->w);
    for (size_t i = 0; i < SB_ARRAY_LEN(keep); i++) {
      const sb_json_t *v = sb_json_getn(e, keep[i], strlen(keep[i]));
      if (v == NULL)
        continue;
      sb_jw_key(&f->w, keep[i], strlen(keep[i]));
      sb_json_write_compact(&f->w, v);
    }
    sb_jw_obj_end(&f->w);
    f->st.kept++;
  }
  return SB_OK;
}

/* Does a Gemini model generate text or embeddings (the methods the
 * gateway calls)? A model that does not say is taken at its word. */
static bool gemini_usable(const sb_json_t *e)
{
  const sb_json_t *m = sb_json_get(e, "supportedGenerationMethods");
  if (!sb_json_is(m, SB_JSON_ARRAY))
    return true;
  for (const sb_json_t *x = m->child; x != NULL; x = x->next)
    if (SB_JSON_STR_IS(x, "generateContent") ||
        SB_JSON_STR_IS(x, "embedContent"))
      return true;
  return false;
}

/* A cursor for the next page (the text of a string value), unescaped and
 * copied when it is printable and fits. */
static sb_status_t cursor(sb_feed_t *f, sb_slice_t text, char *next, size_t cap)
{
  sb_slice_t s;
  sb_json_t *v;
  sb_arena_reset(&f->scratch);
  if (text.len > SB_FEED_MAX_ID * 8 ||
      sb_json_parse(&f->scratch, text.ptr, text.len, 1, &v, NULL) != SB_OK ||
      !sb_json_is(v, SB_JSON_STRING) ||
      sb_json_string(&f->scratch, v, &s) != SB_OK || s.len == 0 || s.len >= cap)
    return SB_ERROR;
  for (size_t i = 0; i < s.len; i++)
    if ((unsigned char)s.ptr[i] <= 0x20 || (unsigned char)s.ptr[i] >= 0x7f)
      return SB_ERROR;
  memcpy(next, s.ptr, s.len);
  next[s.len] = '\0';
  return SB_OK;
}

sb_status_t sb_feed_provider_page(sb_feed_t *f, sb_list_format_t fmt,
                                  sb_slice_t body, char *next, size_t next_cap,
                                  char *err, size_t errlen)
{
  elems_t it = {SB_NULL_SLICE, 1};
  bool gemini = fmt == SB_LIST_GEMINI;
  next[0] = '\0';
  if (list_of(body, gemini ? "models" : "data", fmt == SB_LIST_OPENAI, &it.arr,
              err, errlen) != SB_OK)
    return SB_ERROR;
  sb_slice_t text;
  while (elems_next(&it, &text) && room(f)) {
    sb_json_t *e = entry_dom(f, text);
    sb_slice_t id;
    if (e == NULL)
      continue;
    const sb_json_t *v = gemini ? sb_json_get(e, "name") : sb_json_get(e, "id");
    if (!sb_json_is(v, SB_JSON_STRING) ||
        sb_json_string(&f->scratch, v, &id) != SB_OK) {
      skip(f, e, gemini ? "no string name" : "no string id");
      continue;
    }
    if (gemini && sb_slice_starts(id, SB_STRLIT("models/")))
      id = sb_slice(id.ptr + 7, id.len - 7);
    if (!sb_feed_id_ok(id)) {
      skip(f, e, "the id is not printable or longer than 256 bytes");
      continue;
    }
    if (gemini && !gemini_usable(e))
      continue; /* tuning-only and similar models: not an entry to keep */
    sb_jw_obj_begin(&f->w);
    sb_jw_key_lit(&f->w, "id");
    sb_jw_str(&f->w, id.ptr, id.len);
    /* An OpenAI-compatible list may carry OpenRouter-shaped prices: kept
     * when they check (the price is then the provider's own). */
    const sb_json_t *pricing = sb_json_get(e, "pricing");
    sb_price_t p;
    const char *why;
    if (fmt == SB_LIST_OPENAI && sb_json_is(pricing, SB_JSON_OBJECT) &&
        sb_json_get(pricing, "prompt") != NULL &&
        sb_json_get(pricing, "completion") != NULL &&
        sb_feed_price(pricing, &p, &why) == SB_OK) {
      sb_jw_key_lit(&f->w, "pricing");
      sb_json_write_compact(&f->w, pricing);
    }
    sb_jw_obj_end(&f->w);
    f->st.kept++;
  }
  if (fmt == SB_LIST_OPENAI)
    return SB_OK;
  /* The paging members, found in the text like the list itself. */
  sb_slice_t v;
  if (fmt == SB_LIST_ANTHROPIC) {
    if (top_member(body, "has_more", &v) && SB_SLICE_IS(v, "true") &&
        (!top_member(body, "last_id", &v) ||
         cursor(f, v, next, next_cap) != SB_OK))
      return sb_catalog_errf(err, errlen, "has_more without a usable last_id");
  } else if (top_member(body, "nextPageToken", &v) && v.len > 2 &&
             v.ptr[0] == '"' && cursor(f, v, next, next_cap) != SB_OK) {
    return sb_catalog_errf(err, errlen, "an unusable nextPageToken");
  }
  return SB_OK;
}

sb_status_t sb_feed_end(sb_feed_t *f, sb_slice_t *body, char *err,
                        size_t errlen)
{
  sb_jw_arr_end(&f->w);
  sb_jw_obj_end(&f->w);
  if (sb_jw_status(&f->w) != SB_OK)
    return sb_catalog_errf(err, errlen,
                           "the list is larger than %u MB once read",
                           SB_FEED_MAX_BODY >> 20);
  if (f->st.kept == 0)
    return sb_catalog_errf(err, errlen, "the list has no usable model%s%s",
                           f->st.skipped > 0 ? "; " : "", f->st.why);
  if (f->st.skipped > f->st.kept)
    return sb_catalog_errf(
        err, errlen, "%zu of %zu entries are malformed (%s): not trusted",
        f->st.skipped, f->st.skipped + f->st.kept, f->st.why);
  *body = sb_buf_slice(&f->out);
  return SB_OK;
}
