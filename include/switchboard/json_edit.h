/*
 * Rewriting a parsed JSON object with a few members changed, removed or
 * added, copying every other member byte for byte from its raw text.
 *
 * This is how the pass-through path forwards a body with only the routed
 * fields rewritten (`model`, `stream_options`), and how stream chunks get
 * the gateway's `id`, `model` and `provider` without being re-serialised.
 */
#ifndef SWITCHBOARD_JSON_EDIT_H
#define SWITCHBOARD_JSON_EDIT_H

#include "switchboard/json.h"

typedef struct {
  const char *key;   /* member name (plain, unescaped) */
  size_t key_len;
  const char *value; /* JSON text of the new value; NULL removes the member */
  size_t value_len;
  bool add;          /* append the member when the object lacks it */
} sb_json_edit_t;

#define SB_EDIT_SET(k, v, vn) {(k), sizeof(k) - 1, (v), (vn), true}
#define SB_EDIT_REPLACE(k, v, vn) {(k), sizeof(k) - 1, (v), (vn), false}
#define SB_EDIT_DELETE(k) {(k), sizeof(k) - 1, NULL, 0, false}

/*
 * Write `obj` to `w` with the edits applied: a member named by an edit is
 * replaced by the edit's value (or dropped); later duplicates of an edited
 * name are dropped; edits with `add` whose name did not occur are appended
 * in order. Other members keep their position and exact bytes.
 */
void sb_json_rewrite(sb_jw_t *w, const sb_json_t *obj,
                     const sb_json_edit_t *edits, size_t n_edits);

/* Write a parsed value without the insignificant whitespace of its source
 * (strings and numbers are copied as written). */
void sb_json_write_compact(sb_jw_t *w, const sb_json_t *v);

#endif
