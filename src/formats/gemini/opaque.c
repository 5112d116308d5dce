/* SPDX-License-Identifier: MIT */
/*
 * Reasoning a Gemini client has no form for, carried through it.
 *
 * A Gemini client keeps thoughtSignature on the parts it got and sends
 * them back with its next turn (it must, for Gemini's own signatures),
 * but it drops thought parts from its history. Another format's reasoning
 * (an Anthropic thinking block with its signature, redacted thinking, a
 * Responses API encrypted item) is therefore handed out as the
 * thoughtSignature of the answer's next part: base64 of
 *
 *   sb-rd:[{"type":"reasoning.text","text":T,"signature":S,"format":F},
 *          {"type":"reasoning.encrypted","data":D,"format":F,"id":I}, ...]
 *
 * (OpenRouter's reasoning_details entries). A signature is bytes in
 * Google's API, base64 in JSON, so it must stay base64: clients with
 * typed bytes decode it. The door opens it when the part comes back and
 * restores the reasoning exactly, for the provider that made it.
 */
#include "gemini.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of "sb-rd:": every payload's signature starts with it */
#define SEALED_MARK "c2ItcmQ6"

static sb_status_t b64_encode(const unsigned char *p, size_t n, sb_buf_t *out)
{
  if (sb_buf_reserve(out, (n + 2) / 3 * 4) != SB_OK)
    return SB_ERROR;
  char q[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    q[0] = alphabet[(v >> 18) & 63];
    q[1] = alphabet[(v >> 12) & 63];
    q[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? alphabet[v & 63] : '=';
    sb_buf_append(out, q, 4);
  }
  return SB_OK;
}

static int b64_value(char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

/* The bytes of base64 text (standard or URL-safe, padding optional), in
 * `a`. SB_DECLINED: not base64. */
static sb_status_t b64_decode(sb_arena_t *a, sb_slice_t s, sb_slice_t *out)
{
  while (s.len > 0 && s.ptr[s.len - 1] == '=')
    s.len--;
  unsigned char *d = sb_arena_alloc(a, s.len / 4 * 3 + 3);
  if (d == NULL)
    return SB_ERROR;
  size_t o = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < s.len; i++) {
    int v = b64_value(s.ptr[i]);
    if (v < 0)
      return SB_DECLINED;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      d[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out = sb_slice((const char *)d, o);
  return SB_OK;
}

void sb_gemini_rd_entry(sb_jw_t *w, bool redacted, sb_slice_t text,
                        sb_slice_t sig, sb_slice_t id, sb_hub_sig_t format)
{
  const char *f = sb_hub_sig_name(format);
  sb_jw_obj_begin(w);
  if (redacted) {
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("reasoning.encrypted"));
    sb_jw_key_lit(w, "data");
    sb_jw_str_raw(w, sig.ptr != NULL ? sig.ptr : "", sig.len);
  } else {
    sb_jw_kv_str(w, SB_STRLIT("type"), SB_STRLIT("reasoning.text"));
    sb_jw_key_lit(w, "text");
    sb_jw_str_raw(w, text.ptr != NULL ? text.ptr : "", text.len);
    sb_jw_key_lit(w, "signature");
    sb_jw_str_raw(w, sig.ptr != NULL ? sig.ptr : "", sig.len);
  }
  sb_jw_kv_str(w, SB_STRLIT("format"), f, strlen(f));
  if (redacted && id.len > 0) {
    sb_jw_key_lit(w, "id");
    sb_jw_str_raw(w, id.ptr, id.len);
  }
  sb_jw_obj_end(w);
}

sb_status_t sb_gemini_rd_seal(sb_slice_t json, sb_buf_t *out)
{
  sb_buf_t plain;
  sb_buf_init(&plain, 0);
  sb_status_t rc = SB_ERROR;
  if (sb_buf_append(&plain, SB_STRLIT(SB_GEMINI_RD_PREFIX)) == SB_OK &&
      sb_buf_append_slice(&plain, json) == SB_OK &&
      sb_buf_append(out, "\"", 1) == SB_OK &&
      b64_encode((const unsigned char *)plain.data, plain.len, out) == SB_OK)
    rc = sb_buf_append(out, "\"", 1);
  sb_buf_free(&plain);
  return rc;
}

sb_status_t sb_gemini_rd_open(sb_arena_t *a, sb_slice_t sig,
                              sb_hub_blocks_t *b)
{
  const size_t plen = sizeof(SB_GEMINI_RD_PREFIX) - 1;
  sb_slice_t text, bytes;
  sb_json_t *list;
  if (!sb_slice_starts(sig, SB_STRLIT(SEALED_MARK)))
    return SB_DECLINED;
  if (sb_hub_unescape(a, sig, &text) != SB_OK)
    return SB_ERROR;
  sb_status_t rc = b64_decode(a, text, &bytes);
  if (rc != SB_OK)
    return rc;
  if (bytes.len < plen || memcmp(bytes.ptr, SB_GEMINI_RD_PREFIX, plen) != 0 ||
      sb_json_parse(a, bytes.ptr + plen, bytes.len - plen, 0, &list, NULL) !=
          SB_OK ||
      list->type != SB_JSON_ARRAY)
    return SB_DECLINED;
  for (const sb_json_t *d = list->child; d != NULL; d = d->next) {
    const sb_json_t *type = sb_json_get(d, "type");
    bool redacted = SB_JSON_STR_IS(type, "reasoning.encrypted");
    if (!redacted && !SB_JSON_STR_IS(type, "reasoning.text"))
      continue; /* not ours to restore */
    sb_hub_block_t *k = sb_hub_blocks_add(
        a, b, redacted ? SB_HUB_REDACTED : SB_HUB_REASONING);
    if (k == NULL)
      return SB_ERROR;
    if (redacted) {
      k->data = sb_hub_jtext(sb_json_get(d, "data"));
      k->id = sb_hub_jtext(sb_json_get(d, "id"));
    } else {
      k->text = sb_hub_jtext(sb_json_get(d, "text"));
      k->signature = sb_hub_jtext(sb_json_get(d, "signature"));
    }
    sb_slice_t f = sb_hub_jtext(sb_json_get(d, "format"));
    k->sig_format = sb_hub_sig_parse(f);
    if (k->sig_format == SB_HUB_SIG_OTHER)
      k->format = sb_arena_strndup(a, f.ptr, f.len);
  }
  return SB_OK;
}
