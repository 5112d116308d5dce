/* SPDX-License-Identifier: MIT */
/*
 * OpenAI's Responses API beyond the face every format has (codec.h): what
 * its door (src/api/responses.c) keeps of a request and its answer, and a
 * request continued from a stored conversation (`previous_response_id`).
 * These only move JSON; the store itself is accounts' (response_store.h),
 * and the format is src/formats/openai/responses_*.c.
 */
#ifndef SWITCHBOARD_RESPONSES_H
#define SWITCHBOARD_RESPONSES_H

#include "switchboard/json.h"

#define SB_RESPONSES_ID_MAX 64

/* The response id ("resp_...") of generation `gen_id` ("gen-...") into
 * `out` (SB_RESPONSES_ID_MAX bytes, NUL-terminated); its length. */
size_t sb_responses_id(const char *gen_id, char *out, size_t cap);

/* The request's input as the items it stands for, as a JSON array into
 * `out`: a string input is one user message; an item without an id gets
 * one made from `resp_id`; a message's string content becomes one text
 * part. SB_ERROR: `out` is full or the input is not a string or an array. */
sb_status_t sb_responses_input_items(const sb_json_t *body, sb_slice_t resp_id,
                                     sb_buf_t *out);

/* Append an earlier response of a conversation to `conv` (the items of a
 * JSON array being written, comma-separated, without the brackets): its
 * input items (`input_items`, a JSON array), then the output items of its
 * response object (`response`). SB_ERROR: `conv` is full, or the stored
 * texts are not what they should be. */
sb_status_t sb_responses_history_add(sb_buf_t *conv, sb_slice_t input_items,
                                     sb_slice_t response);

/* The request `body` continued from `conv` (sb_responses_history_add):
 * the same body with `input` made of the conversation's items and then
 * its own, parsed into `a` (`previous_response_id` stays, for the answer
 * to echo; no provider gets it). SB_ERROR: out of memory. */
sb_status_t sb_responses_continue(sb_arena_t *a, const sb_json_t *body,
                                  sb_slice_t conv, sb_json_t **out);

#endif
