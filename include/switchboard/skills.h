/* SPDX-License-Identifier: MIT */
/*
 * Skills: the canonical contract agents speak (seeds/openrouter.md).
 *
 * Skill files (the .md files in skills/, embedded at build time) describe each skill and
 * its utilities in YAML front matter. The `chat` utility is served natively
 * with exactly the semantics of the skill file's jq programs: `rest.body`
 * (canonical params -> the request) and `response.transform` (the answer ->
 * canonical reply), by the skill door (src/formats/skill/). The
 * differential tests run those jq programs with jq and compare
 * (tests/unit/test_format_skill.c, tests/e2e/skill_contract.test.mjs).
 */
#ifndef SWITCHBOARD_SKILLS_H
#define SWITCHBOARD_SKILLS_H

#include "switchboard/arena.h"
#include "switchboard/buf.h"
#include "switchboard/json.h"

typedef struct {
  const char *id;          /* "openrouter" */
  const sb_json_t *meta;   /* the front matter */
} sb_skill_t;

typedef struct sb_skills {
  sb_arena_t arena;
  sb_skill_t *list;
  size_t n;
  sb_buf_t *texts; /* JSON text of each front matter (DOMs point here) */
} sb_skills_t;

sb_skills_t *sb_skills_load(char *err, size_t errlen);
void sb_skills_free(sb_skills_t *s);
const sb_skill_t *sb_skills_find(const sb_skills_t *s, sb_slice_t id);

#endif
