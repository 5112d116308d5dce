/* Member-level rewriting of JSON objects; see json_edit.h. */
#include "switchboard/json_edit.h"

#define MAX_EDITS 32

static bool key_is(const sb_json_t *m, const sb_json_edit_t *e)
{
  if ((m->flags & SB_JSON_F_KEY_ESCAPED) == 0)
    return sb_slice_eq(m->key, sb_slice(e->key, e->key_len));
  /* Rare: an escaped member name; compare its unescaped form. */
  sb_json_t tmp;
  memset(&tmp, 0, sizeof(tmp));
  tmp.type = SB_JSON_STRING;
  tmp.flags = SB_JSON_F_ESCAPED;
  tmp.raw = sb_slice(m->key.ptr - 1, m->key.len + 2);
  return sb_json_str_eq(&tmp, e->key, e->key_len);
}

/* An edit's member name, written without the escaper when it needs none
 * (the usual case: names are short ASCII literals). */
static void edit_key(sb_jw_t *w, const sb_json_edit_t *e)
{
  for (size_t i = 0; i < e->key_len; i++) {
    unsigned char ch = (unsigned char)e->key[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      sb_jw_key(w, e->key, e->key_len);
      return;
    }
  }
  sb_jw_key_raw(w, e->key, e->key_len);
}

void sb_json_rewrite(sb_jw_t *w, const sb_json_t *obj,
                     const sb_json_edit_t *edits, size_t n_edits)
{
  bool seen[MAX_EDITS] = {false};
  if (n_edits > MAX_EDITS || obj == NULL || obj->type != SB_JSON_OBJECT) {
    w->status = SB_ERROR;
    return;
  }
  sb_jw_obj_begin(w);
  for (const sb_json_t *m = obj->child; m != NULL; m = m->next) {
    size_t i;
    for (i = 0; i < n_edits; i++)
      if (key_is(m, &edits[i]))
        break;
    if (i == n_edits) {
      sb_jw_key_raw(w, m->key.ptr, m->key.len);
      sb_jw_value(w, m);
      continue;
    }
    if (seen[i])
      continue; /* a duplicate of an edited member */
    seen[i] = true;
    if (edits[i].mode == SB_EDIT_MODE_DELETE)
      continue;
    if (edits[i].mode == SB_EDIT_MODE_DEFAULT) {
      /* present: kept as it is */
      sb_jw_key_raw(w, m->key.ptr, m->key.len);
      sb_jw_value(w, m);
      continue;
    }
    edit_key(w, &edits[i]);
    sb_jw_raw(w, edits[i].value, edits[i].value_len);
  }
  for (size_t i = 0; i < n_edits; i++) {
    if (seen[i] || (edits[i].mode != SB_EDIT_MODE_SET &&
                    edits[i].mode != SB_EDIT_MODE_DEFAULT))
      continue;
    edit_key(w, &edits[i]);
    sb_jw_raw(w, edits[i].value, edits[i].value_len);
  }
  sb_jw_obj_end(w);
}

void sb_json_write_compact(sb_jw_t *w, const sb_json_t *v)
{
  if (v->type == SB_JSON_OBJECT) {
    sb_jw_obj_begin(w);
    for (const sb_json_t *m = v->child; m != NULL; m = m->next) {
      sb_jw_key_raw(w, m->key.ptr, m->key.len);
      sb_json_write_compact(w, m);
    }
    sb_jw_obj_end(w);
  } else if (v->type == SB_JSON_ARRAY) {
    sb_jw_arr_begin(w);
    for (const sb_json_t *e = v->child; e != NULL; e = e->next)
      sb_json_write_compact(w, e);
    sb_jw_arr_end(w);
  } else {
    sb_jw_value(w, v);
  }
}
