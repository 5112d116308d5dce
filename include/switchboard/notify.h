/* SPDX-License-Identifier: MIT */
/*
 * Readiness notification to a service manager: systemd's notify protocol
 * (a service with Type=notify), without libsystemd.
 *
 * When the service manager starts switchboard it sets NOTIFY_SOCKET to a
 * unix datagram socket: a path ("/run/systemd/notify") or an abstract name
 * ("@name"). Each state change is one datagram of newline-separated
 * assignments: "READY=1" once every listener accepts connections,
 * "RELOADING=1" then "READY=1" around a reload, "STOPPING=1" when a
 * shutdown starts. Without NOTIFY_SOCKET nothing is sent.
 */
#ifndef SWITCHBOARD_NOTIFY_H
#define SWITCHBOARD_NOTIFY_H

#include "switchboard/common.h"

/*
 * Send `state` (e.g. "READY=1", or "READY=1\nSTATUS=...") to $NOTIFY_SOCKET.
 * Returns SB_OK when it was sent, SB_DECLINED when NOTIFY_SOCKET is unset or
 * empty, SB_ERROR (after logging why) when it is malformed or the send
 * failed. Thread-safe; blocks at most for one sendto() on a local socket.
 */
sb_status_t sb_notify(const char *state);

#endif
