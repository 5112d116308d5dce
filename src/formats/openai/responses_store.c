/* SPDX-License-Identifier: MIT */
/*
 * What the Responses door keeps of a request and continues a conversation
 * from (include/switchboard/responses.h): the request's input as items
 * with ids (what GET /v1/responses/{id}/input_items lists), an earlier
 * response's items added to a conversation, and a request's input
 * continued from that conversation.
 */
#include "responses.h"
#include "switchboard/json_edit.h"

/* One input item, as stored: with an id, a type, and its content as
 * parts. */
static void stored_item(sb_jw_t *w, const sb_json_t *x, sb_slice_t resp_id,
                        size_t n, sb_buf_t *id)
{
  const sb_json_t *type = sb_json_get(x, "type");
  const sb_json_t *content = sb_json_get(x, "content");
  bool message = type == NULL || type->type == SB_JSON_NULL ||
                 SB_JSON_STR_IS(type, "message");
  sb_json_edit_t ed[3];
  size_t ne = 0;
  if (!sb_json_is(sb_json_get(x, "id"), SB_JSON_STRING)) {
    const char *kind = message                               ? "msg"
                       : SB_JSON_STR_IS(type, "function_call") ? "fc"
                       : SB_JSON_STR_IS(type, "reasoning")     ? "rs"
                                                               : "item";
    sb_buf_reset(id);
    sb_buf_append(id, "\"", 1);
    sb_responses_item_id(id, kind, resp_id, "in", n);
    sb_buf_append(id, "\"", 1);
    ed[ne++] = (sb_json_edit_t){"id", 2, id->data, id->len, SB_EDIT_MODE_SET};
  }
  if (message && (type == NULL || type->type == SB_JSON_NULL))
    ed[ne++] = (sb_json_edit_t)SB_EDIT_SET("type", "\"message\"", 9);
  sb_buf_t parts;
  sb_buf_init(&parts, 0);
  if (message && sb_json_is(content, SB_JSON_STRING)) {
    bool assistant = SB_JSON_STR_IS(sb_json_get(x, "role"), "assistant");
    sb_jw_t pw;
    sb_jw_init(&pw, &parts);
    sb_jw_arr_begin(&pw);
    sb_jw_obj_begin(&pw);
    if (assistant) {
      sb_jw_kv_str(&pw, SB_STRLIT("type"), SB_STRLIT("output_text"));
      sb_jw_kv_raw(&pw, SB_STRLIT("annotations"), SB_STRLIT("[]"));
    } else {
      sb_jw_kv_str(&pw, SB_STRLIT("type"), SB_STRLIT("input_text"));
    }
    sb_jw_kv_raw(&pw, SB_STRLIT("text"), content->raw.ptr, content->raw.len);
    sb_jw_obj_end(&pw);
    sb_jw_arr_end(&pw);
    ed[ne++] = (sb_json_edit_t){"content", 7, parts.data, parts.len,
                                SB_EDIT_MODE_SET};
  }
  if (x->type == SB_JSON_OBJECT)
    sb_json_rewrite(w, x, ed, ne);
  else
    sb_jw_value(w, x);
  sb_buf_free(&parts);
}

sb_status_t sb_responses_input_items(const sb_json_t *body, sb_slice_t resp_id,
                                     sb_buf_t *out)
{
  const sb_json_t *input = sb_json_get(body, "input");
  sb_buf_t id;
  sb_jw_t w;
  sb_buf_init(&id, 512);
  sb_jw_init(&w, out);
  sb_jw_arr_begin(&w);
  if (sb_json_is(input, SB_JSON_STRING)) {
    sb_buf_append(&id, "\"", 1);
    sb_responses_item_id(&id, "msg", resp_id, "in", 0);
    sb_buf_append(&id, "\"", 1);
    sb_jw_obj_begin(&w);
    sb_jw_kv_raw(&w, SB_STRLIT("id"), id.data, id.len);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("message"));
    sb_jw_kv_str(&w, SB_STRLIT("role"), SB_STRLIT("user"));
    sb_jw_key_lit(&w, "content");
    sb_jw_arr_begin(&w);
    sb_jw_obj_begin(&w);
    sb_jw_kv_str(&w, SB_STRLIT("type"), SB_STRLIT("input_text"));
    sb_jw_kv_raw(&w, SB_STRLIT("text"), input->raw.ptr, input->raw.len);
    sb_jw_obj_end(&w);
    sb_jw_arr_end(&w);
    sb_jw_obj_end(&w);
  } else if (sb_json_is(input, SB_JSON_ARRAY)) {
    size_t n = 0;
    for (const sb_json_t *x = input->child; x != NULL; x = x->next, n++)
      stored_item(&w, x, resp_id, n, &id);
  } else if (input != NULL && input->type != SB_JSON_NULL) {
    sb_buf_free(&id);
    return SB_ERROR;
  }
  sb_jw_arr_end(&w);
  sb_buf_free(&id);
  return sb_jw_status(&w);
}

/* The items of the JSON array `arr`, appended to `conv` (a list being
 * written: comma-separated). */
static sb_status_t append_items(sb_buf_t *conv, const sb_json_t *arr)
{
  if (!sb_json_is(arr, SB_JSON_ARRAY))
    return SB_ERROR;
  for (const sb_json_t *x = arr->child; x != NULL; x = x->next) {
    if (conv->len > 0 && sb_buf_append(conv, ",", 1) != SB_OK)
      return SB_ERROR;
    if (sb_buf_append_slice(conv, x->raw) != SB_OK)
      return SB_ERROR;
  }
  return SB_OK;
}

sb_status_t sb_responses_history_add(sb_buf_t *conv, sb_slice_t input_items,
                                     sb_slice_t response)
{
  sb_arena_t a;
  sb_json_t *in, *resp;
  sb_arena_init(&a, 16 * 1024, 0);
  sb_status_t rc = SB_ERROR;
  if (sb_json_parse(&a, input_items.ptr, input_items.len, 0, &in, NULL) ==
          SB_OK &&
      sb_json_parse(&a, response.ptr, response.len, 0, &resp, NULL) == SB_OK &&
      append_items(conv, in) == SB_OK &&
      append_items(conv, sb_json_get(resp, "output")) == SB_OK)
    rc = SB_OK;
  sb_arena_destroy(&a);
  return rc;
}

sb_status_t sb_responses_continue(sb_arena_t *a, const sb_json_t *body,
                                  sb_slice_t conv, sb_json_t **out)
{
  sb_buf_t items, b;
  sb_jw_t w;
  sb_status_t rc = SB_ERROR;
  sb_buf_init(&items, 0);
  sb_buf_init(&b, 0);
  /* the conversation's items, then the request's own */
  sb_buf_append(&items, "[", 1);
  sb_buf_append_slice(&items, conv);
  const sb_json_t *input = sb_json_get(body, "input");
  if (sb_json_is(input, SB_JSON_ARRAY)) {
    for (const sb_json_t *x = input->child; x != NULL; x = x->next) {
      if (items.len > 1)
        sb_buf_append(&items, ",", 1);
      sb_buf_append_slice(&items, x->raw);
    }
  } else if (sb_json_is(input, SB_JSON_STRING)) {
    if (items.len > 1)
      sb_buf_append(&items, ",", 1);
    sb_buf_append(&items, SB_STRLIT("{\"type\":\"message\",\"role\":\"user\","
                                    "\"content\":"));
    sb_buf_append_slice(&items, input->raw);
    sb_buf_append(&items, "}", 1);
  }
  if (sb_buf_append(&items, "]", 1) != SB_OK)
    goto out;
  sb_json_edit_t ed[] = {{"input", 5, items.data, items.len, SB_EDIT_MODE_SET}};
  sb_jw_init(&w, &b);
  sb_json_rewrite(&w, body, ed, 1);
  if (sb_jw_status(&w) != SB_OK)
    goto out;
  sb_slice_t text = sb_arena_slice_dup(a, sb_buf_slice(&b));
  if (text.ptr == NULL ||
      sb_json_parse(a, text.ptr, text.len, 0, out, NULL) != SB_OK)
    goto out;
  rc = SB_OK;
out:
  sb_buf_free(&items);
  sb_buf_free(&b);
  return rc;
}
