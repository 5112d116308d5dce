/* SPDX-License-Identifier: MIT */
/* Member-level rewriting of JSON objects; see json_edit.h. */
#include "switchboard/json_edit.h"

#define MAX_EDITS 32

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

/* Where a parsed member's text starts (its name's opening quote) and ends
 * (its value's last byte): the parser's slices point into the source. */
static const char *member_start(const sb_json_t *m)
{
  return m->key.ptr - 1;
}

static const char *member_end(const sb_json_t *m)
{
  return m->raw.ptr + m->raw.len;
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
  /* Members kept as they are gather into runs, each copied with one
   * append from the source text, separators and spacing included. */
  const char *run = NULL, *run_end = NULL;
  for (const sb_json_t *m = obj->child; m != NULL; m = m->next) {
    size_t i;
    for (i = 0; i < n_edits; i++)
      if (sb_json_key_is(m, edits[i].key, edits[i].key_len))
        break;
    const sb_json_edit_t *e = i < n_edits ? &edits[i] : NULL;
    bool keep = e == NULL, drop = false;
    if (e != NULL) {
      drop = seen[i] || e->mode == SB_EDIT_MODE_DELETE; /* or a duplicate */
      keep = !seen[i] && e->mode == SB_EDIT_MODE_DEFAULT; /* present: kept */
      seen[i] = true;
    }
    if (keep) {
      if (run == NULL)
        run = member_start(m);
      run_end = member_end(m);
      continue;
    }
    if (run != NULL)
      sb_jw_members_raw(w, run, (size_t)(run_end - run));
    run = NULL;
    if (!drop) {
      edit_key(w, e);
      sb_jw_raw(w, e->value, e->value_len);
    }
  }
  if (run != NULL)
    sb_jw_members_raw(w, run, (size_t)(run_end - run));
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
