/* SPDX-License-Identifier: MIT */
/*
 * The version the binary reports (`switchboard --version`). Both strings
 * live in a small file generated at build time (scripts/version.cmake)
 * that only the switchboard executable links: a new commit recompiles that
 * file alone.
 */
#ifndef SWITCHBOARD_VERSION_H
#define SWITCHBOARD_VERSION_H

/* "0.3.0": project()'s VERSION in CMakeLists.txt. */
extern const char sb_version[];
/* The source tree's git revision: an abbreviated commit ("abc1234"),
 * with "-dirty" when tracked files had uncommitted changes at build time;
 * "unknown" when built without git metadata (a release tarball); or
 * whatever -DSB_REVISION=... set. */
extern const char sb_revision[];

/* What switchboard sends providers and catalog sources as its User-Agent
 * (project()'s VERSION, known to every target at compile time). */
#define SB_USER_AGENT "switchboard/" SB_PROJECT_VERSION

#endif
