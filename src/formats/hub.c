/* SPDX-License-Identifier: MIT */
/*
 * The hub's helpers (include/switchboard/hub.h): canonical finish names,
 * moving text between its escaped and plain forms, and the input estimate
 * the token-counting endpoints answer with.
 */
#include "switchboard/hub.h"

#include "switchboard/codec.h"

static const char *const finish_names[] = {
    [SB_FINISH_NONE] = NULL,
    [SB_FINISH_STOP] = "stop",
    [SB_FINISH_LENGTH] = "length",
    [SB_FINISH_TOOL_CALLS] = "tool_calls",
    [SB_FINISH_CONTENT_FILTER] = "content_filter",
    [SB_FINISH_ERROR] = "error",
};

const char *sb_finish_name(sb_finish_t f)
{
  return (size_t)f < SB_ARRAY_LEN(finish_names) ? finish_names[f] : NULL;
}

sb_finish_t sb_finish_parse(sb_slice_t s)
{
  for (size_t i = 1; i < SB_ARRAY_LEN(finish_names); i++)
    if (sb_slice_eq(s, sb_slice_z(finish_names[i])))
      return (sb_finish_t)i;
  return SB_FINISH_NONE;
}

static const char *const sig_names[] = {
    [SB_HUB_SIG_NONE] = "unknown",
    [SB_HUB_SIG_ANTHROPIC] = "anthropic-claude-v1",
    [SB_HUB_SIG_GEMINI] = "google-gemini-v1",
    [SB_HUB_SIG_OPENAI] = "openai-responses-v1",
    [SB_HUB_SIG_OTHER] = "unknown",
};

const char *sb_hub_sig_name(sb_hub_sig_t f)
{
  return (size_t)f < SB_ARRAY_LEN(sig_names) ? sig_names[f] : "unknown";
}

sb_hub_sig_t sb_hub_sig_parse(sb_slice_t name)
{
  for (size_t i = SB_HUB_SIG_ANTHROPIC; i < SB_HUB_SIG_OTHER; i++)
    if (sb_slice_eq(name, sb_slice_z(sig_names[i])))
      return (sb_hub_sig_t)i;
  return name.len == 0 || SB_SLICE_IS(name, "unknown") ? SB_HUB_SIG_NONE
                                                       : SB_HUB_SIG_OTHER;
}

sb_status_t sb_hub_unescape(sb_arena_t *a, sb_slice_t jtext, sb_slice_t *out)
{
  return sb_json_unescape(a, jtext, out);
}

sb_status_t sb_hub_quote(sb_arena_t *a, const char *p, size_t n,
                         sb_slice_t *out)
{
  sb_buf_t b;
  sb_status_t rc;
  /* short text (names, ids): escaped straight into the arena, whose room
   * for the worst case (6 bytes a byte) is cheap; longer text through a
   * buffer first, so the arena holds only what it takes */
  if (n <= 4096) {
    size_t cap = n * 6 + 3;
    char *mem = sb_arena_alloc(a, cap);
    if (mem == NULL)
      return SB_ERROR;
    sb_buf_init_fixed(&b, mem, cap);
    if (sb_json_escape(&b, p, n) != SB_OK)
      return SB_ERROR;
    *out = sb_buf_slice(&b);
    return SB_OK;
  }
  sb_buf_init(&b, 0);
  rc = sb_json_escape(&b, p, n);
  if (rc == SB_OK) {
    *out = sb_arena_slice_dup(a, sb_buf_slice(&b));
    rc = out->ptr != NULL ? SB_OK : SB_ERROR;
  }
  sb_buf_free(&b);
  return rc;
}

sb_status_t sb_hub_escape(sb_arena_t *a, const char *p, size_t n,
                          sb_slice_t *out)
{
  sb_slice_t q;
  if (sb_hub_quote(a, p, n, &q) != SB_OK)
    return SB_ERROR;
  /* without the quotes */
  *out = sb_slice(q.ptr + 1, q.len - 2);
  return SB_OK;
}

sb_status_t sb_hub_args_jtext(sb_arena_t *a, sb_slice_t args, sb_slice_t *out)
{
  if (args.len == 0)
    args = SB_SLICE_LIT("{}");
  return sb_hub_escape(a, args.ptr, args.len, out);
}

sb_slice_t sb_hub_jtext(const sb_json_t *v)
{
  return sb_json_is(v, SB_JSON_STRING) ? sb_json_str_raw(v) : SB_NULL_SLICE;
}

sb_slice_t sb_hub_json(const sb_json_t *v)
{
  return v != NULL && v->type != SB_JSON_NULL ? v->raw : SB_NULL_SLICE;
}

void sb_hub_number(sb_hub_num_t *n, const sb_json_t *v)
{
  if (!sb_json_is(v, SB_JSON_NUMBER) || sb_json_double(v, &n->value) != SB_OK)
    return;
  n->set = true;
  n->raw = v->raw;
}

sb_status_t sb_hub_strings(sb_arena_t *a, const sb_json_t *v,
                           const sb_slice_t **out, size_t *n)
{
  bool one = sb_json_is(v, SB_JSON_STRING);
  *out = NULL;
  *n = 0;
  if (!one && !(sb_json_is(v, SB_JSON_ARRAY) && v->count > 0))
    return SB_OK;
  sb_slice_t *s = sb_arena_alloc(a, (one ? 1 : v->count) * sizeof(*s));
  if (s == NULL)
    return SB_ERROR;
  for (const sb_json_t *x = one ? v : v->child; x != NULL;
       x = one ? NULL : x->next)
    if (sb_json_is(x, SB_JSON_STRING))
      s[(*n)++] = sb_json_str_raw(x);
  *out = s;
  return SB_OK;
}

sb_slice_t sb_hub_join(sb_arena_t *a, const sb_slice_t *parts, size_t n)
{
  size_t total = 0, o = 0;
  for (size_t i = 0; i < n; i++)
    total += parts[i].len;
  char *p = sb_arena_alloc(a, total + 1);
  if (p == NULL)
    return SB_NULL_SLICE;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].len > 0)
      memcpy(p + o, parts[i].ptr, parts[i].len);
    o += parts[i].len;
  }
  return sb_slice(p, o);
}

sb_hub_block_t *sb_hub_blocks_add(sb_arena_t *a, sb_hub_blocks_t *b,
                                  sb_hub_block_kind_t kind)
{
  if (b->n == b->cap) {
    size_t cap = b->cap == 0 ? 4 : b->cap * 2;
    sb_hub_block_t *v = sb_arena_alloc(a, cap * sizeof(*v));
    if (v == NULL)
      return NULL;
    if (b->n > 0)
      memcpy(v, b->v, b->n * sizeof(*v));
    b->v = v;
    b->cap = cap;
  }
  sb_hub_block_t *k = &b->v[b->n++];
  memset(k, 0, sizeof(*k));
  k->kind = kind;
  return k;
}

bool sb_hub_nonblank(sb_slice_t s)
{
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (c == '\\' && i + 1 < s.len &&
        (s.ptr[i + 1] == 'n' || s.ptr[i + 1] == 't' || s.ptr[i + 1] == 'r')) {
      i++;
      continue;
    }
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return true;
  }
  return false;
}

sb_slice_t sb_hub_msg_text(sb_arena_t *a, const sb_hub_msg_t *m)
{
  size_t n = 0, total = 0;
  const sb_hub_block_t *only = NULL;
  for (size_t i = 0; i < m->n_blocks; i++)
    if (m->blocks[i].kind == SB_HUB_TEXT) {
      only = &m->blocks[i];
      n++;
      total += m->blocks[i].text.len;
    }
  if (n == 0)
    return SB_SLICE_LIT("");
  if (n == 1)
    return only->text;
  char *d = sb_arena_alloc(a, total + 1);
  if (d == NULL)
    return SB_NULL_SLICE;
  size_t o = 0;
  for (size_t i = 0; i < m->n_blocks; i++)
    if (m->blocks[i].kind == SB_HUB_TEXT) {
      memcpy(d + o, m->blocks[i].text.ptr, m->blocks[i].text.len);
      o += m->blocks[i].text.len;
    }
  return sb_slice(d, o);
}

/* An estimate, not a tokenizer (docs/messages.md): escaped lengths are
 * close enough to byte lengths, and need no allocation. */
#define IMAGE_TOKENS 1600
#define MESSAGE_OVERHEAD 3

static void count_blocks(const sb_hub_block_t *b, size_t n, uint64_t *bytes,
                         uint64_t *flat)
{
  for (size_t i = 0; i < n; i++, b++) {
    switch (b->kind) {
    case SB_HUB_TEXT:
    case SB_HUB_REASONING:
      *bytes += b->text.len;
      break;
    case SB_HUB_IMAGE:
    case SB_HUB_AUDIO:
      (*flat)++;
      break;
    case SB_HUB_FILE:
      /* a text document counts as text; anything else at a page's rate */
      if (b->text.len > 0)
        *bytes += b->text.len;
      else
        (*flat)++;
      break;
    case SB_HUB_TOOL_CALL:
      *bytes += b->name.len + b->args.len;
      break;
    case SB_HUB_TOOL_RESULT:
      *bytes += b->text.len;
      count_blocks(b->parts, b->n_parts, bytes, flat);
      break;
    case SB_HUB_REDACTED:
    case SB_HUB_NATIVE:
      break;
    }
  }
}

uint64_t sb_hub_estimate_input(const sb_hub_req_t *req)
{
  uint64_t bytes = 0, flat = 0, turns = 0;
  for (size_t i = 0; i < req->n_msgs; i++) {
    const sb_hub_msg_t *m = &req->msgs[i];
    count_blocks(m->blocks, m->n_blocks, &bytes, &flat);
    turns += m->role != SB_HUB_SYSTEM && m->role != SB_HUB_DEVELOPER;
  }
  for (size_t i = 0; i < req->n_tools; i++) {
    const sb_hub_tool_t *t = &req->tools[i];
    bytes += t->name.len + t->description.len + t->parameters.len;
  }
  return sb_usage_estimate(bytes) + turns * MESSAGE_OVERHEAD +
         flat * IMAGE_TOKENS;
}

void sb_codec_request_header(sb_codec_request_t *r, const char *name,
                             const char *value)
{
  if (name != NULL && value != NULL && r->n_headers < SB_CODEC_MAX_HEADERS) {
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = value;
    r->n_headers++;
  }
}
