/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Netlink sockets of the daemon.  One socket listens to the tlshd
 * multicast group (READY notifications); others send ACCEPT and DONE.
 * They are kept apart so that a notification can never be read where the
 * answer to a request is expected.  A socket is used by one thread only.
 */
#ifndef HANDOFFD_NLSOCK_H
#define HANDOFFD_NLSOCK_H

#include <stdint.h>

#include "daemon/netlink.h"

struct mnl_socket;

struct hd_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	uint32_t group;		/* id of the tlshd multicast group, 0 if unknown */
};

/*
 * hd_nl_open - a generic-netlink socket with the handshake family
 * resolved.  -ENOENT when the kernel has no such family (before 6.4, or
 * CONFIG_NET_HANDSHAKE unset), other negative errnos from the socket calls.
 */
int hd_nl_open(struct hd_nl *nl);
void hd_nl_close(struct hd_nl *nl);
int hd_nl_fd(const struct hd_nl *nl);

/* hd_nl_join - listen to READY notifications (non-blocking socket). */
int hd_nl_join(struct hd_nl *nl);

/*
 * hd_nl_drain - read every pending datagram of a joined socket.  Returns
 * how many READY notifications arrived (>= 0), or a negative errno.
 * -ENOBUFS (notifications were dropped) counts as one READY: the caller
 * asks ACCEPT until the kernel says -EAGAIN anyway.
 */
int hd_nl_drain(struct hd_nl *nl);

/* hd_nl_accept - ACCEPT one request; see hd_nl_parse_accept() for results. */
int hd_nl_accept(struct hd_nl *nl, struct hd_request *req);

/* hd_nl_done - DONE for sockfd; 0 or the kernel's negative errno. */
int hd_nl_done(struct hd_nl *nl, int sockfd, uint32_t status,
	       const uint32_t *remote_auth, unsigned n_remote_auth);

#endif
