/* SPDX-License-Identifier: MIT */
/*
 * A small JSON Schema validator for the subset tool definitions use:
 * `type` (a name or a list of names), `required`, `properties`, `enum`,
 * `items`, and `additionalProperties: false`. Anything else in a schema
 * is ignored (accepted). Used by cheap-first escalation to tell whether a
 * model's tool-call arguments fit the tool (docs/routing.md).
 */
#ifndef SWITCHBOARD_SCHEMA_H
#define SWITCHBOARD_SCHEMA_H

#include "switchboard/json.h"

/* True when `v` fits `schema` (NULL or non-object schema: anything fits).
 * On false, `why` (may be NULL) says where, e.g. "$.city: expected string".
 * Recursion is bounded (deeper than 64 levels fails). */
bool sb_schema_check(const sb_json_t *schema, const sb_json_t *v, char *why,
                     size_t cap);

#endif
