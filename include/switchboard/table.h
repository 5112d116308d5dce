/* SPDX-License-Identifier: MIT */
/*
 * Aligned text tables for the command line (`switchboard keys list`,
 * `switchboard usage`): rows of cells collected first, then printed with
 * every column as wide as its widest cell. Columns whose cells look like
 * numbers or amounts are right-aligned. Cells are copied into the arena.
 */
#ifndef SWITCHBOARD_TABLE_H
#define SWITCHBOARD_TABLE_H

#include <stdio.h>

#include "switchboard/arena.h"

#define SB_TABLE_MAX_COLS 12

typedef struct sb_table_row {
  struct sb_table_row *next;
  const char *cells[SB_TABLE_MAX_COLS];
  size_t n;
} sb_table_row_t;

typedef struct {
  sb_arena_t *arena;
  sb_table_row_t *head, *tail;
  size_t width[SB_TABLE_MAX_COLS];
  bool numeric[SB_TABLE_MAX_COLS]; /* every non-header cell is a number */
  size_t rows;
} sb_table_t;

void sb_table_init(sb_table_t *t, sb_arena_t *a);
/* The first row is the header. */
sb_status_t sb_table_row(sb_table_t *t, const char *const *cells, size_t n);
void sb_table_print(const sb_table_t *t, FILE *f);

#endif
