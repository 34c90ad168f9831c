/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One upcall: the kernel's request turned into a libhandoff handshake on
 * the socket it gave us, with the keys handed to kernel TLS by the library.
 * The result is what DONE reports and what the log line says.
 */
#ifndef HANDOFFD_HANDSHAKE_H
#define HANDOFFD_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"

#include "daemon/config.h"
#include "daemon/netlink.h"

struct hd_result {
	uint32_t status;	/* DONE status: 0 or a positive errno */
	uint32_t remote_auth[HS_MAX_PEER_IDENTITIES];
	unsigned n_remote_auth;
	char consumer[16];	/* "nfs", "nvme", or "?" (guessed from the ports) */
	char peer[HD_PEERNAME_MAX + 8];
	char cause[320];	/* why it failed, in words; "" on success */
	char detail[320];	/* on success: version, cipher, peer identity */
};

struct hd_credcache;

/*
 * hd_handshake - run the handshake req asks for, within budget_ms.
 * Never closes req->sockfd and never talks to netlink: the caller sends
 * DONE with res->status and closes the fd.  cache is the calling worker's
 * (credcache.h), or NULL to build the config from the files every time.
 * Returns res->status.
 */
uint32_t hd_handshake(const struct hd_request *req, const struct hd_conf *conf,
		      struct hd_credcache *cache, unsigned budget_ms, struct hd_result *res);

/*
 * The engine calls every front door of handoffd shares (the upcalls here,
 * custody.c for local callers): drive h's handshake to its end within
 * budget_ms, blocking or not (0, -ETIMEDOUT, or -1 with handoff_error());
 * and the success line's words (version, cipher, peer identity).
 */
int hd_handshake_drive(struct handoff *h, unsigned budget_ms);
void hd_handshake_describe(struct handoff *h, char *buf, size_t size);

#endif
