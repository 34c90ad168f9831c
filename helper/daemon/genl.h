/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's "handshake" generic-netlink family, as handoffd speaks it.
 *
 * Written from Documentation/netlink/specs/handshake.yaml as of Linux 6.12
 * (the same in 7.x): the family appeared in 6.4, "peername" and "keyring"
 * in the accept set in 6.7.  Debian 12's linux-libc-dev (6.1) has no
 * <linux/handshake.h>, so the numbers live here, with our own prefix so
 * that they never clash with that header where it exists.  Numbering is
 * ABI: attributes and commands only ever get added at the end.
 */
#ifndef HANDOFFD_GENL_H
#define HANDOFFD_GENL_H

#define HS_FAMILY_NAME		"handshake"
#define HS_FAMILY_VERSION	1
/* Multicast group the kernel announces READY on, one per handler class. */
#define HS_MCGRP_TLSHD		"tlshd"

/* enum handler-class */
enum {
	HS_HANDLER_CLASS_NONE = 0,
	HS_HANDLER_CLASS_TLSHD = 1,
};

/* enum msg-type: which side of the handshake the kernel wants from us. */
enum {
	HS_MSG_TYPE_UNSPEC = 0,
	HS_MSG_TYPE_CLIENTHELLO = 1,
	HS_MSG_TYPE_SERVERHELLO = 2,
};

/* enum auth */
enum {
	HS_AUTH_UNSPEC = 0,
	HS_AUTH_UNAUTH = 1,
	HS_AUTH_PSK = 2,
	HS_AUTH_X509 = 3,
};

/* attribute-set x509: nested in HS_A_ACCEPT_CERTIFICATE. */
enum {
	HS_A_X509_CERT = 1,		/* u32 (s32 in later specs): key serial */
	HS_A_X509_PRIVKEY = 2,		/* u32 (s32 in later specs): key serial */
	HS_A_X509_MAX = HS_A_X509_PRIVKEY,
};

/* attribute-set accept: the ACCEPT request (handler-class) and its reply. */
enum {
	HS_A_ACCEPT_SOCKFD = 1,		/* u32: fd installed in our process */
	HS_A_ACCEPT_HANDLER_CLASS = 2,	/* u32 */
	HS_A_ACCEPT_MESSAGE_TYPE = 3,	/* u32, HS_MSG_TYPE_* */
	HS_A_ACCEPT_TIMEOUT = 4,	/* u32, milliseconds; absent = none */
	HS_A_ACCEPT_AUTH_MODE = 5,	/* u32, HS_AUTH_* */
	HS_A_ACCEPT_PEER_IDENTITY = 6,	/* u32 key serial, repeated */
	HS_A_ACCEPT_CERTIFICATE = 7,	/* nest of x509, repeated */
	HS_A_ACCEPT_PEERNAME = 8,	/* NUL-terminated string (6.7+) */
	HS_A_ACCEPT_KEYRING = 9,	/* u32 key serial (6.7+) */
	HS_A_ACCEPT_MAX = HS_A_ACCEPT_KEYRING,
};

/* attribute-set done */
enum {
	HS_A_DONE_STATUS = 1,		/* u32: 0 or a positive errno */
	HS_A_DONE_SOCKFD = 2,		/* u32: the fd ACCEPT gave us */
	HS_A_DONE_REMOTE_AUTH = 3,	/* u32 key serial, repeated */
	HS_A_DONE_MAX = HS_A_DONE_REMOTE_AUTH,
};

/* Commands. READY is a notification only (multicast). */
enum {
	HS_CMD_READY = 1,
	HS_CMD_ACCEPT = 2,
	HS_CMD_DONE = 3,
};

/*
 * The kernel keeps at most 5 peer identities per request
 * (tls_handshake_req.th_peerid); more in a reply would be damage.
 */
#define HS_MAX_PEER_IDENTITIES	5
/* Only the first certificate nest is used by any kernel consumer today. */
#define HS_MAX_CERTIFICATES	4

/* Key serial the kernel uses for "none" (TLS_NO_* in net/handshake.h). */
#define HS_NO_KEY		0

#endif
