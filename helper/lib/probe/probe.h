/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel probing: what the running kernel really accepts, found by trying
 * it (feature probes, not version checks).
 */
#ifndef HANDOFF_PROBE_H
#define HANDOFF_PROBE_H

#include "handoff.h"

/*
 * probe_genl_family - resolve a generic-netlink family by name with a
 * CTRL_CMD_GETFAMILY request (libmnl).  Returns the family id (> 0) or a
 * negative errno (-ENOENT when the kernel has no such family).
 */
int probe_genl_family(const char *name);

/*
 * probe_advice - one line an operator can act on for a failed probe item
 * (e.g. "load the module: modprobe tls"), or NULL when nothing is wrong.
 * what is "ulp", "cipher" or "handshake"; err the errno the probe saw.
 */
const char *probe_advice(const char *what, int err);

#endif
