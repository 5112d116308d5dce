/* SPDX-License-Identifier: MIT */
/*
 * The OpenAI / OpenRouter chat request's schema, checked before anything
 * goes upstream (README "Errors", docs/json.md): every member the schema
 * defines must have its type and lie in its range; unknown members pass.
 * Used by the chat door on the client's body and by the skill door on the
 * messages it is given.
 */
#ifndef SB_FORMATS_OPENAI_CHAT_VALIDATE_H
#define SB_FORMATS_OPENAI_CHAT_VALIDATE_H

#include "switchboard/json.h"

/* Check a chat request object's known members. SB_OK, or SB_ERROR with a
 * message for the client's 400 in `why` (`cap` bytes, NUL-terminated)
 * naming the member by its path and what it must be, e.g. "'max_tokens'
 * must be an integer between 1 and 2147483647". `model` is not required
 * here (OpenRouter allows `models` alone); `messages` is. */
sb_status_t sb_chat_validate(const sb_json_t *req, char *why, size_t cap);

/* The same check of a `messages` array alone (a non-empty array of
 * messages). */
sb_status_t sb_chat_validate_messages(const sb_json_t *messages, char *why,
                                      size_t cap);

/* Check `v` as the chat request's member `name` (its rule in the schema;
 * any value passes for a name the schema does not define). */
sb_status_t sb_chat_validate_member(const char *name, const sb_json_t *v,
                                    char *why, size_t cap);

#endif
