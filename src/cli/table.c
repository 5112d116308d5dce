/* SPDX-License-Identifier: MIT */
/* Aligned text tables; see table.h. */
#include "switchboard/table.h"

#include <string.h>

void sb_table_init(sb_table_t *t, sb_arena_t *a)
{
  memset(t, 0, sizeof(*t));
  t->arena = a;
  for (size_t i = 0; i < SB_TABLE_MAX_COLS; i++)
    t->numeric[i] = true;
}

static bool looks_numeric(const char *s)
{
  if (*s == '$')
    s++;
  if (*s == '\0' || strcmp(s, "-") == 0)
    return true; /* empty cells do not decide */
  for (; *s != '\0'; s++)
    if (!(*s >= '0' && *s <= '9') && *s != '.' && *s != ',' && *s != '-')
      return false;
  return true;
}

sb_status_t sb_table_row(sb_table_t *t, const char *const *cells, size_t n)
{
  sb_table_row_t *r = sb_arena_calloc(t->arena, sizeof(*r));
  if (r == NULL)
    return SB_ERROR;
  r->n = SB_MIN(n, (size_t)SB_TABLE_MAX_COLS);
  for (size_t i = 0; i < r->n; i++) {
    const char *c = cells[i] != NULL ? cells[i] : "";
    r->cells[i] = sb_arena_strndup(t->arena, c, strlen(c));
    if (r->cells[i] == NULL)
      return SB_ERROR;
    size_t w = strlen(c);
    if (w > t->width[i])
      t->width[i] = w;
    if (t->rows > 0 && !looks_numeric(c))
      t->numeric[i] = false;
  }
  if (t->tail != NULL)
    t->tail->next = r;
  else
    t->head = r;
  t->tail = r;
  t->rows++;
  return SB_OK;
}

void sb_table_print(const sb_table_t *t, FILE *f)
{
  for (const sb_table_row_t *r = t->head; r != NULL; r = r->next) {
    for (size_t i = 0; i < r->n; i++) {
      int w = (int)t->width[i];
      bool last = i + 1 == r->n;
      if (t->numeric[i])
        fprintf(f, "%*s", w, r->cells[i]);
      else if (last)
        fprintf(f, "%s", r->cells[i]);
      else
        fprintf(f, "%-*s", w, r->cells[i]);
      if (!last)
        fputs("  ", f);
    }
    fputc('\n', f);
  }
}
