/*
 * Skills: the canonical contract agents speak (seeds/openrouter.md).
 *
 * Skill files (the .md files in skills/, embedded at build time) describe each skill and
 * its utilities in YAML front matter. The `chat` utility is implemented
 * natively with exactly the semantics of the skill file's jq programs:
 * `rest.body` (canonical params -> OpenAI chat body) and
 * `response.transform` (OpenAI chat response -> canonical reply). The
 * differential test (tests/e2e/skill_contract.test.mjs) runs those jq
 * programs with jq and compares.
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

/*
 * rest.body: canonical chat params -> OpenAI chat-completions body.
 * On a params error returns SB_DECLINED with a message for the caller's
 * 400 in *why; SB_ERROR when the output buffer is full.
 */
sb_status_t sb_skill_chat_body(sb_arena_t *a, const sb_json_t *params,
                               sb_buf_t *out, const char **why);

/* response.transform: OpenAI chat response -> {content, tool_calls,
 * stop_reason, usage}. `usage` is the usage object the provider reported
 * (NULL when it reported none: the gateway's own estimate is not part of
 * the contract). */
sb_status_t sb_skill_chat_reply(sb_arena_t *a, const sb_json_t *response,
                                const sb_json_t *usage, sb_buf_t *out);

#endif
