/* SPDX-License-Identifier: MIT */
/*
 * /api/skills: the skills registry (skills/, embedded) and the
 * canonical skill contract endpoint POST /api/skills/{skill}/chat.
 *
 * A skill call becomes an OpenAI-shaped chat request (the skill's rest.body
 * semantics) and runs through the same call machinery as
 * /v1/chat/completions; the skill sink turns the OpenAI-shaped response
 * into the canonical reply (response.transform semantics).
 */
#include <stdio.h>
#include <stdlib.h>

#include "endpoint.h"
#include "switchboard/embedded.h"
#include "switchboard/json_edit.h"
#include "switchboard/skills.h"
#include "switchboard/yaml.h"

/* ---- registry ------------------------------------------------------------ */

sb_skills_t *sb_skills_load(char *err, size_t errlen)
{
  sb_skills_t *s = calloc(1, sizeof(*s));
  size_t n = 0;
  if (s == NULL)
    return NULL;
  sb_arena_init(&s->arena, 16 * 1024, 0);
  for (const sb_embedded_file_t *f = sb_embedded_files; f->path != NULL; f++)
    if (strncmp(f->path, "skills/", 7) == 0)
      n++;
  s->list = sb_arena_calloc(&s->arena, (n + 1) * sizeof(sb_skill_t));
  s->texts = calloc(n + 1, sizeof(sb_buf_t));
  if (s->list == NULL || s->texts == NULL)
    goto fail;
  for (const sb_embedded_file_t *f = sb_embedded_files; f->path != NULL; f++) {
    if (strncmp(f->path, "skills/", 7) != 0)
      continue;
    sb_slice_t yaml;
    char yerr[256];
    sb_buf_t *text = &s->texts[s->n];
    sb_json_t *meta;
    sb_buf_init(text, 4u << 20);
    if (sb_yaml_front_matter(sb_slice(f->data, f->len), &yaml) != SB_OK) {
      snprintf(err, errlen, "%s: no YAML front matter", f->path);
      goto fail;
    }
    if (sb_yaml_to_json(yaml.ptr, yaml.len, 0, text, yerr, sizeof(yerr)) !=
        SB_OK) {
      snprintf(err, errlen, "%s: %s", f->path, yerr);
      goto fail;
    }
    if (sb_json_parse(&s->arena, text->data, text->len, 0, &meta, NULL) !=
            SB_OK ||
        !sb_json_is(sb_json_get(meta, "id"), SB_JSON_STRING)) {
      snprintf(err, errlen, "%s: the front matter needs an id", f->path);
      goto fail;
    }
    sb_slice_t id;
    sb_json_string(&s->arena, sb_json_get(meta, "id"), &id);
    s->list[s->n].id = sb_arena_strndup(&s->arena, id.ptr, id.len);
    s->list[s->n].meta = meta;
    s->n++;
  }
  return s;
fail:
  sb_skills_free(s);
  return NULL;
}

void sb_skills_free(sb_skills_t *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; s->texts != NULL && i < s->n + 1; i++)
    sb_buf_free(&s->texts[i]);
  free(s->texts);
  sb_arena_destroy(&s->arena);
  free(s);
}

const sb_skill_t *sb_skills_find(const sb_skills_t *s, sb_slice_t id)
{
  for (size_t i = 0; s != NULL && i < s->n; i++)
    if (sb_slice_eq(sb_slice_z(s->list[i].id), id))
      return &s->list[i];
  return NULL;
}

/* ---- listing ------------------------------------------------------------- */

static void copy_if(sb_jw_t *w, const sb_json_t *obj, const char *key)
{
  const sb_json_t *v = sb_json_getn(obj, key, strlen(key));
  if (v != NULL) {
    sb_jw_key(w, key, strlen(key));
    sb_json_write_compact(w, v);
  }
}

/* Natively implemented utilities (the rest are described, not served). */
static bool utility_served(sb_slice_t name)
{
  return SB_SLICE_IS(name, "chat");
}

static void write_skill(sb_jw_t *w, const sb_skill_t *sk)
{
  const sb_json_t *utils = sb_json_get(sk->meta, "utilities");
  sb_jw_obj_begin(w);
  copy_if(w, sk->meta, "id");
  copy_if(w, sk->meta, "name");
  copy_if(w, sk->meta, "description");
  copy_if(w, sk->meta, "website");
  copy_if(w, sk->meta, "color");
  copy_if(w, sk->meta, "instructions");
  sb_jw_key_lit(w, "utilities");
  sb_jw_obj_begin(w);
  for (const sb_json_t *u = utils != NULL ? utils->child : NULL; u != NULL;
       u = u->next) {
    char path[256];
    int n = snprintf(path, sizeof(path), "/api/skills/%s/%.*s", sk->id,
                     (int)u->key.len, u->key.ptr);
    bool served = utility_served(u->key);
    sb_jw_key_raw(w, u->key.ptr, u->key.len);
    sb_jw_obj_begin(w);
    copy_if(w, u, "description");
    copy_if(w, u, "params");
    copy_if(w, u, "returns");
    sb_jw_kv_lit(w, "method", "POST");
    sb_jw_kv_str(w, SB_STRLIT("path"), path, (size_t)n);
    sb_jw_kv_raw(w, SB_STRLIT("available"), served ? "true" : "false",
                 served ? 4 : 5);
    sb_jw_obj_end(w);
  }
  sb_jw_obj_end(w);
  sb_jw_obj_end(w);
}

void sb_api_skills_list(sb_http_exchange_t *x)
{
  const sb_skills_t *s = x->worker->gw->skills;
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 4u << 20);
  sb_jw_init(&w, &b);
  sb_jw_obj_begin(&w);
  sb_jw_key_lit(&w, "skills");
  sb_jw_arr_begin(&w);
  for (size_t i = 0; s != NULL && i < s->n; i++) {
    const sb_skill_t *sk = &s->list[i];
    const sb_json_t *utils = sb_json_get(sk->meta, "utilities");
    sb_jw_obj_begin(&w);
    copy_if(&w, sk->meta, "id");
    copy_if(&w, sk->meta, "name");
    copy_if(&w, sk->meta, "description");
    sb_jw_key_lit(&w, "utilities");
    sb_jw_arr_begin(&w);
    for (const sb_json_t *u = utils != NULL ? utils->child : NULL; u != NULL;
         u = u->next)
      sb_jw_str_raw(&w, u->key.ptr, u->key.len);
    sb_jw_arr_end(&w);
    sb_jw_obj_end(&w);
  }
  sb_jw_arr_end(&w);
  sb_jw_obj_end(&w);
  sb_api_json(x, 200, sb_buf_slice(&b));
  sb_buf_free(&b);
}

void sb_api_skill_show(sb_http_exchange_t *x, sb_slice_t id)
{
  const sb_skill_t *sk = sb_skills_find(x->worker->gw->skills, id);
  if (sk == NULL) {
    sb_api_skill_error(x, 404, "unknown skill '%.*s'", (int)SB_MIN(id.len, 100),
                       id.ptr);
    return;
  }
  sb_buf_t b;
  sb_jw_t w;
  sb_buf_init(&b, 4u << 20);
  sb_jw_init(&w, &b);
  write_skill(&w, sk);
  sb_api_json(x, 200, sb_buf_slice(&b));
  sb_buf_free(&b);
}

void sb_api_skill_call(sb_http_exchange_t *x, const sb_identity_t *who,
                       sb_slice_t skill, sb_slice_t utility)
{
  const sb_skill_t *sk = sb_skills_find(x->worker->gw->skills, skill);
  if (sk == NULL) {
    sb_api_skill_error(x, 404, "unknown skill '%.*s'",
                       (int)SB_MIN(skill.len, 100), skill.ptr);
    return;
  }
  if (!utility_served(utility)) {
    sb_api_skill_error(x, 404, "skill '%s' has no utility '%.*s' here", sk->id,
                       (int)SB_MIN(utility.len, 100), utility.ptr);
    return;
  }
  sb_json_t *params = sb_api_parse_json(x, SB_API_SKILL);
  if (params == NULL)
    return;
  sb_call_t *c = sb_api_call(x, who, &sb_codec_skill, "skill", SB_API_SKILL,
                             NULL);
  if (c == NULL || !sb_api_envelope(x, c, &sb_codec_skill, params, SB_API_SKILL))
    return;
  sb_call_start(c);
}
