/* SPDX-License-Identifier: MIT */
/*
 * YAML documents (config files, skill files) converted to JSON text, so the
 * rest of the gateway reads one tree type (switchboard/json.h).
 *
 * Scalars are typed with YAML 1.2's core schema: plain `null`, `~` and empty
 * become null, `true`/`false` booleans, integers and floats numbers; quoted
 * scalars are always strings. Anchors and aliases are refused. Mapping keys
 * must be scalars.
 *
 * With SB_YAML_EXPAND_ENV, `${VAR}` and `${VAR:-default}` in scalars expand
 * from the environment before typing; a scalar that is nothing but `${VAR}`
 * with VAR unset becomes null (so an unset key reads as "absent").
 */
#ifndef SWITCHBOARD_YAML_H
#define SWITCHBOARD_YAML_H

#include "switchboard/buf.h"

#define SB_YAML_EXPAND_ENV 0x1

/* Convert the first document of `data` to JSON appended to `out`.
 * On failure returns SB_ERROR with a message (line and column) in err. */
sb_status_t sb_yaml_to_json(const char *data, size_t len, unsigned flags,
                            sb_buf_t *out, char *err, size_t errlen);

/* The YAML front matter of a Markdown file: the text between a first line
 * `---` and the next line `---`. SB_DECLINED when there is none. */
sb_status_t sb_yaml_front_matter(sb_slice_t file, sb_slice_t *yaml);

#endif
