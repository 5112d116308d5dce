/* SPDX-License-Identifier: MIT */
/*
 * Cheap-first escalation (docs/routing.md): `switchboard/auto` tries a
 * ladder of models, cheap first, and climbs to the next rung when an
 * answer is cut by `length`, has tool arguments that are not JSON or do
 * not fit the tool's schema, or is empty. A whole answer is judged from
 * what the call counted of its events; a stream holds the encoder's bytes
 * until its first output, so that an empty answer can still climb.
 */
#include "call.h"

#include <stdio.h>

#include "switchboard/log.h"
#include "switchboard/schema.h"

size_t sb_escalate_next_rung(const sb_plan_t *pl)
{
  unsigned rung = pl->cands[pl->cur].model_rank;
  size_t next = pl->cur + 1;
  while (next < pl->n && pl->cands[next].model_rank <= rung)
    next++;
  return next;
}

/* The parameters schema of the request's tool `name` (jtext), or NULL. */
static const sb_json_t *tool_schema(sb_call_t *c, sb_slice_t name,
                                    sb_arena_t *a)
{
  const sb_hub_req_t *r = &c->req;
  for (size_t i = 0; i < r->n_tools; i++) {
    const sb_hub_tool_t *t = &r->tools[i];
    if (t->kind != SB_HUB_TOOL_FUNCTION || !sb_slice_eq(t->name, name) ||
        t->parameters.len == 0)
      continue;
    sb_json_t *schema;
    if (sb_json_parse(a, t->parameters.ptr, t->parameters.len, 0, &schema,
                      NULL) == SB_OK)
      return schema;
  }
  return NULL;
}

/* Why this whole answer should climb, or NULL. */
static const char *climb_reason(sb_call_t *c, uint32_t on, char *detail,
                                size_t cap)
{
  if ((on & SB_CLIMB_LENGTH) && c->finish == SB_FINISH_LENGTH)
    return "length";
  if ((on & SB_CLIMB_TOOL_ARGS) && c->has_calls && c->tools != NULL) {
    char why[400] = "";
    if (!c->req.decoded &&
        c->door->door->decode(&c->req, c->arena, why, sizeof(why)) != SB_OK)
      return NULL;
    const char *reason = NULL;
    sb_arena_t a;
    sb_arena_init(&a, 16 * 1024, 64u << 20);
    for (size_t i = 0; i < c->n_calls && reason == NULL; i++) {
      sb_slice_t text;
      sb_json_t *parsed;
      sb_slice_t args = sb_buf_slice(&c->tools[i].args);
      if (sb_json_unescape(&a, args, &text) != SB_OK)
        continue;
      text = sb_slice_trim(text);
      if (text.len == 0)
        text = SB_SLICE_LIT("{}");
      if (sb_json_parse(&a, text.ptr, text.len, 0, &parsed, NULL) != SB_OK) {
        snprintf(detail, cap, "tool arguments are not valid JSON");
        reason = "invalid_tool_args";
        break;
      }
      const sb_json_t *schema = tool_schema(c, c->tools[i].name, &a);
      if (schema != NULL && !sb_schema_check(schema, parsed, detail, cap))
        reason = "invalid_tool_args";
    }
    sb_arena_destroy(&a);
    if (reason != NULL)
      return reason;
  }
  if ((on & SB_CLIMB_EMPTY) && !c->has_calls && !c->has_text)
    return "empty";
  return NULL;
}

static bool climb_to_next(sb_call_t *c, const char *why, const char *detail)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->escalate || !pl->in_attempt || c->committed)
    return false;
  unsigned rung = pl->cands[pl->cur].model_rank;
  size_t next = sb_escalate_next_rung(pl);
  if (next >= pl->n)
    return false;
  sb_record_estimate(c);
  sb_record_cost(c);
  pl->discarded_pico += c->cost_pico;
  sb_attempt_health_success(c);
  SB_INFO("call %s: rung %u (%.*s) answered with %s%s%s; climbing", c->id,
          rung + 1, (int)c->route.model_id.len, c->route.model_id.ptr, why,
          detail[0] ? ": " : "", detail);
  pl->in_attempt = false;
  sb_attempt_drop_upstream(c);
  pl->cur = next;
  pl->retries = 0;
  pl->climbs++;
  return sb_attempt_schedule(c, 0);
}

bool sb_escalate_climb(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  if (pl == NULL || !pl->escalate || c->stream || !pl->in_attempt ||
      sb_escalate_next_rung(pl) >= pl->n)
    return false;
  char detail[256] = "";
  const char *why = climb_reason(c, pl->esc_on, detail, sizeof(detail));
  if (why == NULL)
    return false;
  return climb_to_next(c, why, detail);
}

bool sb_escalate_climb_empty(sb_call_t *c)
{
  return climb_to_next(c, "empty", "");
}

sb_status_t sb_escalate_flush(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  pl->holding = false;
  if (pl->held.len == 0)
    return SB_OK;
  /* what was held goes first, then what the encoder wrote since */
  sb_buf_t later = c->out;
  c->out = pl->held;
  pl->held = later;
  sb_status_t rc = sb_call_flush(c);
  sb_buf_t tmp = c->out;
  c->out = pl->held;
  pl->held = tmp;
  sb_buf_reset(&pl->held);
  return rc == SB_ERROR ? SB_ERROR : SB_OK;
}

void sb_escalate_head(sb_call_t *c)
{
  sb_plan_t *pl = c->plan;
  char cost[40];
  sb_cost_format(pl->discarded_pico, cost, sizeof(cost));
  /* replaces the lines of an earlier rung */
  if (pl->esc_head_set)
    c->x->extra_head.len = pl->esc_head_at;
  pl->esc_head_at = c->x->extra_head.len;
  pl->esc_head_set = true;
  sb_http_add_head(
      c->x, "X-Switchboard-Rung: %u\r\nX-Switchboard-Escalation-Cost: %s\r\n",
      pl->cands[pl->cur].model_rank + 1, cost);
}
