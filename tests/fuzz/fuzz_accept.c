/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hd_nl_parse_accept() (handoffd) on arbitrary netlink datagrams.
 *
 * Input: one flags byte, then the datagram.  With bit 0 set, the sequence
 * number, port id and family id are taken from the datagram's first header
 * (the matching case: libmnl is not instrumented, so the fuzzer could not
 * learn them); otherwise they are fixed values the datagram rarely matches.
 */
#include "common.h"

#include <linux/netlink.h>
#include <string.h>

#include "daemon/netlink.h"
#include "fuzz.h"

#define FLAG_MATCH_HEADER 0x01

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seq = 0x1234, portid = 4242;
	uint16_t family = 0x1f;
	struct hd_request req;
	struct nlmsghdr hdr;
	void *buf;
	size_t len;
	int ret;

	if (size < 1)
		return 0;
	len = size - 1;
	if ((data[0] & FLAG_MATCH_HEADER) && len >= sizeof(hdr)) {
		memcpy(&hdr, data + 1, sizeof(hdr));
		seq = hdr.nlmsg_seq;
		portid = hdr.nlmsg_pid;
		family = hdr.nlmsg_type;
	}
	buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf);
	memcpy(buf, data + 1, len);

	ret = hd_nl_parse_accept(buf, len, seq, portid, family, &req);

	/* The contract in netlink.h. */
	FUZZ_CHECK(ret <= 0 && ret > -4096);
	FUZZ_CHECK(req.sockfd >= -1);
	FUZZ_CHECK(req.n_peerids <= HS_MAX_PEER_IDENTITIES);
	FUZZ_CHECK(req.n_certs <= HS_MAX_CERTIFICATES);
	FUZZ_CHECK(memchr(req.peername, '\0', sizeof(req.peername)) != NULL);
	if (ret == 0) {
		FUZZ_CHECK(req.sockfd >= 0);
		FUZZ_CHECK(req.msg_type == HS_MSG_TYPE_CLIENTHELLO ||
			   req.msg_type == HS_MSG_TYPE_SERVERHELLO);
		FUZZ_CHECK(req.auth_mode == HS_AUTH_UNAUTH || req.auth_mode == HS_AUTH_PSK ||
			   req.auth_mode == HS_AUTH_X509);
		FUZZ_CHECK(req.bad_attr == 0);
	}
	if (ret == -ENODATA)
		FUZZ_CHECK(req.bad_attr > 0);
	if (len == 0)
		FUZZ_CHECK(ret == -EPROTO);
	free(buf);
	return 0;
}
