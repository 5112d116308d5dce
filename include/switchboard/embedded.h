/* SPDX-License-Identifier: MIT */
/*
 * Data files compiled into the binary (catalog/, skills/, web/), generated
 * at build time by scripts/embed.cmake. Each file's bytes are followed by a
 * NUL that is not counted in `len`.
 */
#ifndef SWITCHBOARD_EMBEDDED_H
#define SWITCHBOARD_EMBEDDED_H

#include <stddef.h>

typedef struct {
  const char *path; /* relative to the repository root, e.g. "catalog/models.json" */
  const char *data;
  size_t len;
} sb_embedded_file_t;

/* Terminated by an entry whose path is NULL. */
extern const sb_embedded_file_t sb_embedded_files[];

/* The file at `path`, or NULL. */
const sb_embedded_file_t *sb_embedded_find(const char *path);

#endif
