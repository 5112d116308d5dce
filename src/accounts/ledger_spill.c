/* SPDX-License-Identifier: MIT */
/* Ledger entries as JSON lines; see ledger_spill.h. One table per record
 * type names each member, its type and where it lives, and serves both
 * directions. */
#include "ledger_spill.h"

#include <stddef.h>

#include "switchboard/json.h"

typedef enum { F_STR, F_I64, F_U64, F_U32, F_INT, F_BOOL, F_RESET } ftype_t;

typedef struct {
  const char *name;
  ftype_t type;
  size_t off;
  size_t cap; /* F_STR: the field's size */
} field_t;

#define FIELD(T, name, type, member)                                           \
  {name, type, offsetof(T, member), sizeof(((T *)0)->member)}
#define ROW(name, type, member) FIELD(sb_ledger_row_t, name, type, member)
#define KEY(name, type, member) FIELD(sb_key_record_t, name, type, member)

static const field_t row_fields[] = {
    ROW("id", F_STR, id),
    ROW("created_ms", F_I64, created_ms),
    ROW("api", F_STR, api),
    ROW("key_label", F_STR, key_label),
    ROW("key_hash", F_STR, key_hash),
    ROW("agent", F_STR, agent),
    ROW("app", F_STR, app),
    ROW("requested_model", F_STR, requested_model),
    ROW("model", F_STR, model),
    ROW("provider", F_STR, provider),
    ROW("upstream_model", F_STR, upstream_model),
    ROW("tokens_prompt", F_U64, usage.prompt),
    ROW("tokens_completion", F_U64, usage.completion),
    ROW("tokens_cached", F_U64, usage.cached),
    ROW("tokens_cache_write", F_U64, usage.cache_write),
    ROW("tokens_reasoning", F_U64, usage.reasoning),
    ROW("usage_estimated", F_BOOL, usage_estimated),
    ROW("cost_pico", F_I64, cost_pico),
    ROW("latency_ms", F_U32, latency_ms),
    ROW("ttft_ms", F_U32, ttft_ms),
    ROW("status", F_INT, status),
    ROW("finish_reason", F_STR, finish_reason),
    ROW("native_finish_reason", F_STR, native_finish_reason),
    ROW("streamed", F_BOOL, streamed),
    ROW("cancelled", F_BOOL, cancelled),
    ROW("error", F_STR, error),
    ROW("rung", F_U32, rung),
    ROW("escalation_cost_pico", F_I64, escalation_pico),
    ROW("top_rung_cost_pico", F_I64, top_rung_pico),
    ROW("overhead_us", F_U32, overhead_us),
};

static const field_t key_fields[] = {
    KEY("hash", F_STR, hash),
    KEY("name", F_STR, name),
    KEY("label", F_STR, label),
    KEY("limit_pico", F_I64, limit_pico),
    KEY("limit_reset", F_RESET, limit_reset),
    KEY("disabled", F_BOOL, disabled),
    KEY("expires_ms", F_I64, expires_ms),
    KEY("models", F_STR, models),
    KEY("rpm", F_U32, rpm),
    KEY("tpm", F_U32, tpm),
    KEY("created_ms", F_I64, created_ms),
    KEY("updated_ms", F_I64, updated_ms),
    KEY("escalation", F_STR, escalation),
};

static void put_field(sb_jw_t *w, const char *base, const field_t *f)
{
  const void *p = base + f->off;
  const char *reset;
  sb_jw_key(w, f->name, strlen(f->name));
  switch (f->type) {
  case F_STR:
    sb_jw_str(w, p, strnlen(p, f->cap));
    break;
  case F_I64:
    sb_jw_int(w, *(const int64_t *)p);
    break;
  case F_U64:
    sb_jw_uint(w, *(const uint64_t *)p);
    break;
  case F_U32:
    sb_jw_uint(w, *(const uint32_t *)p);
    break;
  case F_INT:
    sb_jw_int(w, *(const int *)p);
    break;
  case F_BOOL:
    sb_jw_bool(w, *(const bool *)p);
    break;
  case F_RESET:
    reset = sb_reset_name(*(const sb_reset_t *)p);
    if (reset != NULL)
      sb_jw_str(w, reset, strlen(reset));
    else
      sb_jw_null(w);
    break;
  }
}

static sb_status_t put_line(sb_buf_t *b, const char *kind, const void *rec,
                            const field_t *fields, size_t n)
{
  size_t mark = b->len;
  sb_jw_t w;
  sb_jw_init(&w, b);
  sb_jw_obj_begin(&w);
  sb_jw_key(&w, kind, strlen(kind));
  sb_jw_obj_begin(&w);
  for (size_t i = 0; i < n; i++)
    put_field(&w, rec, &fields[i]);
  sb_jw_obj_end(&w);
  sb_jw_obj_end(&w);
  if (sb_jw_status(&w) != SB_OK || sb_buf_append(b, "\n", 1) != SB_OK) {
    b->len = mark;
    return SB_ERROR;
  }
  return SB_OK;
}

sb_status_t sb_spill_row(sb_buf_t *b, const sb_ledger_row_t *r)
{
  return put_line(b, "row", r, row_fields, SB_ARRAY_LEN(row_fields));
}

sb_status_t sb_spill_key(sb_buf_t *b, const sb_key_record_t *k, bool deleted)
{
  return put_line(b, deleted ? "key_deleted" : "key", k, key_fields,
                  SB_ARRAY_LEN(key_fields));
}

static sb_status_t get_field(sb_arena_t *a, const sb_json_t *v, char *base,
                             const field_t *f)
{
  void *p = base + f->off;
  sb_slice_t s;
  int64_t n = 0;
  if (v == NULL || v->type == SB_JSON_NULL)
    return SB_OK; /* left zero */
  switch (f->type) {
  case F_STR:
    if (sb_json_string(a, v, &s) != SB_OK)
      return SB_ERROR;
    s.len = SB_MIN(s.len, f->cap - 1);
    memcpy(p, s.ptr, s.len);
    ((char *)p)[s.len] = '\0';
    return SB_OK;
  case F_RESET:
    if (sb_json_string(a, v, &s) != SB_OK)
      return SB_ERROR;
    return sb_reset_parse(s, (sb_reset_t *)p);
  case F_BOOL:
    if (v->type != SB_JSON_TRUE && v->type != SB_JSON_FALSE)
      return SB_ERROR;
    *(bool *)p = v->type == SB_JSON_TRUE;
    return SB_OK;
  default:
    break;
  }
  if (sb_json_int64(v, &n) != SB_OK)
    return SB_ERROR;
  switch (f->type) {
  case F_I64:
    *(int64_t *)p = n;
    return SB_OK;
  case F_U64:
    *(uint64_t *)p = (uint64_t)n;
    return n >= 0 ? SB_OK : SB_ERROR;
  case F_U32:
    *(uint32_t *)p = (uint32_t)n;
    return n >= 0 && n <= UINT32_MAX ? SB_OK : SB_ERROR;
  case F_INT:
    *(int *)p = (int)n;
    return n >= INT32_MIN && n <= INT32_MAX ? SB_OK : SB_ERROR;
  default:
    return SB_ERROR;
  }
}

static sb_status_t get_fields(sb_arena_t *a, const sb_json_t *obj, void *rec,
                              const field_t *fields, size_t n)
{
  if (!sb_json_is(obj, SB_JSON_OBJECT))
    return SB_ERROR;
  for (size_t i = 0; i < n; i++)
    if (get_field(a, sb_json_getn(obj, fields[i].name, strlen(fields[i].name)),
                  rec, &fields[i]) != SB_OK)
      return SB_ERROR;
  return SB_OK;
}

sb_status_t sb_spill_parse(sb_slice_t line, sb_spill_kind_t *kind,
                           sb_ledger_row_t *row, sb_key_record_t *key)
{
  sb_arena_t a;
  sb_json_t *root;
  const sb_json_t *v;
  sb_status_t rc = SB_ERROR;
  sb_arena_init(&a, 16 * 1024, 1u << 20);
  if (sb_json_parse(&a, line.ptr, line.len, 4, &root, NULL) != SB_OK)
    goto out;
  if ((v = sb_json_get(root, "row")) != NULL) {
    *kind = SB_SPILL_ROW;
    memset(row, 0, sizeof(*row));
    rc = get_fields(&a, v, row, row_fields, SB_ARRAY_LEN(row_fields));
    if (rc == SB_OK && row->id[0] == '\0')
      rc = SB_ERROR;
  } else if ((v = sb_json_get(root, "key")) != NULL ||
             (v = sb_json_get(root, "key_deleted")) != NULL) {
    *kind = sb_json_get(root, "key") != NULL ? SB_SPILL_KEY
                                               : SB_SPILL_KEY_DELETED;
    memset(key, 0, sizeof(*key));
    key->limit_pico = -1;
    rc = get_fields(&a, v, key, key_fields, SB_ARRAY_LEN(key_fields));
    if (rc == SB_OK && strlen(key->hash) != 64)
      rc = SB_ERROR;
  }
out:
  sb_arena_destroy(&a);
  return rc;
}
