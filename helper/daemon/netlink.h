/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bytes of the handshake family: building ACCEPT and DONE requests and
 * parsing the kernel's replies.  No sockets here (nlsock.c has them), so
 * every function can be tested and fuzzed against crafted datagrams.
 */
#ifndef HANDOFFD_NETLINK_H
#define HANDOFFD_NETLINK_H

#include <stddef.h>
#include <stdint.h>

#include "genl.h"

/* Longer than any DNS name (253) or IPv6 literal with a scope. */
#define HD_PEERNAME_MAX 256

struct hd_cert_ids {
	uint32_t cert;		/* key serial, HS_NO_KEY when absent */
	uint32_t privkey;
};

/* One handshake request as the kernel handed it over. */
struct hd_request {
	int sockfd;		/* -1 when the reply carried none */
	uint32_t msg_type;	/* HS_MSG_TYPE_* */
	uint32_t auth_mode;	/* HS_AUTH_* */
	uint32_t timeout_ms;	/* 0: the kernel set none */
	uint32_t peerids[HS_MAX_PEER_IDENTITIES];
	unsigned n_peerids;
	struct hd_cert_ids certs[HS_MAX_CERTIFICATES];
	unsigned n_certs;
	char peername[HD_PEERNAME_MAX];	/* "" when absent */
	uint32_t keyring;	/* HS_NO_KEY when absent */
	/* On failure: the attribute that was missing or bad, 0 if none. */
	int bad_attr;
};

/*
 * hd_nl_build_accept - an ACCEPT request for handler class tlshd.
 * Returns its length, or -ENOSPC.
 */
int hd_nl_build_accept(void *buf, size_t size, uint16_t family, uint32_t seq);

/*
 * hd_nl_build_done - a DONE request (with NLM_F_ACK) for sockfd, carrying
 * status (0 or a positive errno) and up to HS_MAX_PEER_IDENTITIES
 * remote-auth key serials.  Returns its length, -EINVAL for a negative fd
 * or too many serials, -ENOSPC if buf is too small.
 */
int hd_nl_build_done(void *buf, size_t size, uint16_t family, uint32_t seq,
		     int sockfd, uint32_t status, const uint32_t *remote_auth,
		     unsigned n_remote_auth);

/*
 * hd_nl_parse_accept - the datagram answering our ACCEPT.
 * Returns 0 with *req filled, or a negative errno:
 *   -EAGAIN   nothing queued (the kernel's answer when another handler won);
 *   other kernel errors as the kernel gave them (-EPERM without CAP_NET_ADMIN);
 *   -EPROTO   malformed, truncated, a wrong type or length, a repeated
 *             single attribute, a foreign message;
 *   -ENODATA  a required attribute (sockfd, message-type, auth-mode) missing;
 *   -EOPNOTSUPP  a message type or auth mode this daemon does not know;
 *   -E2BIG    more peer identities or certificates than the kernel sends;
 *   -ENAMETOOLONG  a peername longer than HD_PEERNAME_MAX - 1.
 * req->bad_attr names the attribute behind -ENODATA, -EPROTO (when one
 * attribute is to blame), -EOPNOTSUPP, -E2BIG and -ENAMETOOLONG.
 * req->sockfd is >= 0 whenever the kernel installed an fd for us, errors
 * included: the caller then owes the kernel a DONE and a close().
 */
int hd_nl_parse_accept(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		       uint16_t family, struct hd_request *req);

/*
 * hd_nl_parse_family - a datagram answering CTRL_CMD_GETFAMILY "handshake":
 * stores the family id and the id of multicast group HS_MCGRP_TLSHD when
 * the reply carries them.  Returns 1 while the ACK is still to come, 0 at
 * the end, or a negative errno (-ENOENT: no such family; -EPROTO: damage).
 */
int hd_nl_parse_family(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		       uint16_t *family, uint32_t *group);

/*
 * hd_nl_parse_ack - the answer to DONE: 0 for an ACK, the kernel's
 * negative errno, or -EPROTO.
 */
int hd_nl_parse_ack(const void *buf, size_t len, uint32_t seq, uint32_t portid);

/* "clienthello", "serverhello", ... ; "unknown" outside the enum. */
const char *hd_msg_type_name(uint32_t msg_type);
const char *hd_auth_name(uint32_t auth_mode);
/* The attribute's name in the spec ("sockfd", "peer-identity", ...). */
const char *hd_accept_attr_name(int attr);

#endif
