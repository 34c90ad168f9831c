/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What handoffd keeps once its sockets are open: CAP_NET_ADMIN and
 * nothing else, with no_new_privs set.
 *
 * Why CAP_NET_ADMIN: the handshake family's ACCEPT is admin-only
 * (GENL_ADMIN_PERM in net/handshake/genl.c; DONE is not), and the kernel
 * checks it at every ACCEPT, against the sender as well as the socket's
 * opener, so the main loop needs it for the daemon's whole life.  The
 * workers send only DONE and could do without, but capabilities are per
 * thread and the pool's threads are created from the main one; keeping
 * one set for all is simpler to prove (every /proc/PID/task/N/status).
 * Why nothing else: the keyrings are reached by uid (the kernel's .nfs,
 * .nfsd and .nvme keyrings grant their owner, root, what we use: search,
 * read, link), not by capability; certificate and key files are read per
 * handshake with the ordinary permissions of uid 0, so they must be
 * readable by root as owner or group (root:root 0600 is), not only with
 * CAP_DAC_OVERRIDE.  The bounding and ambient sets are emptied too, so
 * nothing exec'd could win a capability back.
 */
#ifndef HANDOFFD_PRIVS_H
#define HANDOFFD_PRIVS_H

#include <stddef.h>

/*
 * hd_privs_drop - keep only CAP_NET_ADMIN (if held) in the calling thread
 * (call it before any thread is made: threads inherit it) and set
 * no_new_privs.  The bounding set is emptied only when CAP_SETPCAP allows
 * it.  Returns 0, or a negative errno with what failed in why.
 */
int hd_privs_drop(char *why, size_t why_size);

/*
 * hd_privs_describe - the effective set as text ("cap_net_admin", "none"),
 * for the log line that proves what is left.
 */
void hd_privs_describe(char *buf, size_t size);

#endif
