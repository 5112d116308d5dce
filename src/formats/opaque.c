/* SPDX-License-Identifier: MIT */
/*
 * Reasoning carried through a format that has no form for it
 * (include/switchboard/hub.h, "opaque reasoning").
 *
 * A Messages client can hold only Anthropic's reasoning (thinking blocks
 * with Anthropic's signatures, redacted_thinking data), a Responses client
 * only OpenAI's encrypted reasoning. Another format's (a Gemini thought
 * signature tied to a tool call, an Anthropic signature) is handed to the
 * client as the opaque data those formats have (redacted_thinking's data,
 * a reasoning item's encrypted_content): SB_HUB_OPAQUE_PREFIX and the
 * reasoning as OpenRouter's reasoning_details entry:
 *
 *   sb-rd:{"type":"reasoning.encrypted","data":D,"format":F,"id":I}
 *   sb-rd:{"type":"reasoning.text","text":"","signature":S,"format":F}
 *
 * The client sends it back with its next turn, as it sends any opaque
 * reasoning, and the door restores the reasoning exactly, so the provider
 * that made it can replay it. (This is also the form switchboard wrote
 * before the hub, so blocks held by clients since then still read.)
 */
#include "switchboard/hub.h"

void sb_hub_opaque_write(sb_jw_t *w, const sb_hub_event_t *ev)
{
  sb_buf_t tmp;
  sb_jw_t dw;
  sb_buf_init(&tmp, w->buf->max);
  sb_buf_append(&tmp, SB_STRLIT(SB_HUB_OPAQUE_PREFIX));
  sb_jw_init(&dw, &tmp);
  sb_jw_obj_begin(&dw);
  if (ev->kind == SB_HUB_EV_REDACTED) {
    sb_jw_kv_lit(&dw, "type", "reasoning.encrypted");
    sb_jw_key_lit(&dw, "data");
    sb_jw_str_raw(&dw, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
  } else {
    sb_jw_kv_lit(&dw, "type", "reasoning.text");
    sb_jw_kv_str(&dw, SB_STRLIT("text"), "", 0);
    sb_jw_key_lit(&dw, "signature");
    sb_jw_str_raw(&dw, ev->text.ptr != NULL ? ev->text.ptr : "", ev->text.len);
  }
  const char *f = sb_hub_sig_name(ev->sig_format);
  sb_jw_kv_str(&dw, SB_STRLIT("format"), f, strlen(f));
  if (ev->kind == SB_HUB_EV_REDACTED && ev->id.len > 0) {
    sb_jw_key_lit(&dw, "id");
    sb_jw_str_raw(&dw, ev->id.ptr, ev->id.len);
  }
  sb_jw_obj_end(&dw);
  if (sb_jw_status(&dw) != SB_OK)
    w->status = SB_ERROR;
  sb_jw_str(w, tmp.data != NULL ? tmp.data : "", tmp.len);
  sb_buf_free(&tmp);
}

sb_status_t sb_hub_opaque_read(sb_arena_t *a, sb_slice_t data,
                                 sb_hub_block_t *out)
{
  const size_t plen = sizeof(SB_HUB_OPAQUE_PREFIX) - 1;
  sb_slice_t bytes;
  sb_json_t *d;
  if (!sb_slice_starts(data, SB_HUB_OPAQUE_PREFIX, plen) ||
      sb_hub_unescape(a, data, &bytes) != SB_OK ||
      sb_json_parse(a, bytes.ptr + plen, bytes.len - plen, 0, &d, NULL) !=
          SB_OK ||
      d->type != SB_JSON_OBJECT)
    return SB_DECLINED;
  const sb_json_t *type = sb_json_get(d, "type");
  memset(out, 0, sizeof(*out));
  if (SB_JSON_STR_IS(type, "reasoning.encrypted") &&
      sb_json_is(sb_json_get(d, "data"), SB_JSON_STRING)) {
    out->kind = SB_HUB_REDACTED;
    out->data = sb_hub_jtext(sb_json_get(d, "data"));
    out->id = sb_hub_jtext(sb_json_get(d, "id"));
  } else if (SB_JSON_STR_IS(type, "reasoning.text")) {
    out->kind = SB_HUB_REASONING;
    out->text = sb_hub_jtext(sb_json_get(d, "text"));
    out->signature = sb_hub_jtext(sb_json_get(d, "signature"));
  } else {
    return SB_DECLINED;
  }
  /* OpenRouter's name of the format; one the hub has no value for is kept */
  sb_slice_t f = sb_hub_jtext(sb_json_get(d, "format"));
  out->sig_format = sb_hub_sig_parse(f);
  if (out->sig_format == SB_HUB_SIG_OTHER)
    out->format = sb_arena_strndup(a, f.ptr, f.len);
  return SB_OK;
}
