/* SPDX-License-Identifier: MIT */
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

typedef enum {
  SB_EDIT_MODE_SET,     /* replace the member, or append it */
  SB_EDIT_MODE_REPLACE, /* replace the member only if present */
  SB_EDIT_MODE_DELETE,  /* remove the member */
  SB_EDIT_MODE_DEFAULT  /* append the member only if absent */
} sb_json_edit_mode_t;

typedef struct {
  const char *key;   /* member name (plain, unescaped) */
  size_t key_len;
  const char *value; /* JSON text of the new value (unused for DELETE) */
  size_t value_len;
  sb_json_edit_mode_t mode;
} sb_json_edit_t;

#define SB_EDIT_SET(k, v, vn) {(k), sizeof(k) - 1, (v), (vn), SB_EDIT_MODE_SET}
#define SB_EDIT_REPLACE(k, v, vn)                                              \
  {(k), sizeof(k) - 1, (v), (vn), SB_EDIT_MODE_REPLACE}
#define SB_EDIT_DEFAULT(k, v, vn)                                              \
  {(k), sizeof(k) - 1, (v), (vn), SB_EDIT_MODE_DEFAULT}
#define SB_EDIT_DELETE(k) {(k), sizeof(k) - 1, NULL, 0, SB_EDIT_MODE_DELETE}

/*
 * Write `obj` to `w` with the edits applied, by mode (see above). Later
 * duplicates of an edited name are dropped. Appended members come after
 * the others, in edit order. Other members keep their position and exact
 * bytes, the spacing between neighbours that are both kept included.
 */
void sb_json_rewrite(sb_jw_t *w, const sb_json_t *obj,
                     const sb_json_edit_t *edits, size_t n_edits);

/* Write a parsed value without the insignificant whitespace of its source
 * (strings and numbers are copied as written). */
void sb_json_write_compact(sb_jw_t *w, const sb_json_t *v);

#endif
