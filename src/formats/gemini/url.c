/* SPDX-License-Identifier: MIT */
/*
 * Gemini's request URLs: "<base>/v1beta/models/<model>:<method>", for
 * generateContent, streamGenerateContent?alt=sse and batchEmbedContents,
 * and the refusals every Gemini request shares.
 */
#include <stdarg.h>
#include <stdio.h>

#include "gemini.h"

sb_status_t sb_gemini_refuse(sb_arena_t *a, sb_codec_request_t *out,
                             const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  out->error = sb_arena_strndup(a, msg, strlen(msg));
  if (out->error == NULL)
    out->error = "out of memory";
  return SB_ERROR;
}

static bool model_char(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

const char *sb_gemini_url(sb_arena_t *a, const sb_codec_route_t *route,
                          const char *method, sb_slice_t *model_out)
{
  const char *base = route->provider->base_url;
  sb_slice_t model = route->upstream_model;
  if (sb_slice_starts(model, SB_STRLIT("models/")))
    model = sb_slice(model.ptr + 7, model.len - 7);
  if (model.len == 0 || base == NULL)
    return NULL;
  for (size_t i = 0; i < model.len; i++)
    if (!model_char(model.ptr[i]))
      return NULL;
  if (model_out != NULL)
    *model_out = model;
  /* the host ("https://generativelanguage.googleapis.com"), or a base
   * that already ends in an API version */
  const char *slash = strrchr(base, '/');
  bool versioned = slash != NULL && strncmp(slash, "/v1", 3) == 0;
  return sb_arena_printf(a, "%s%s/models/%.*s:%s", base,
                         versioned ? "" : "/v1beta", (int)model.len,
                         model.ptr, method);
}
