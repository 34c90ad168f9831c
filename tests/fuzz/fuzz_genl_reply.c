/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe_genl_parse_reply() on arbitrary netlink datagrams.
 *
 * Input: one flags byte, then the datagram.  mnl_cb_run() drops messages
 * whose sequence number or port id is not ours, and libmnl is not
 * instrumented, so the fuzzer could not learn those values: with bit 0 set
 * the harness takes them from the datagram's first header (the matching
 * case, the kernel's real reply); otherwise from the first 8 bytes after
 * the flags (mismatches, port id 0).
 */
#include "common.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <string.h>

#include "fuzz.h"
#include "probe/genl.h"

#define FLAG_MATCH_HEADER 0x01

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seq = 0, portid = 0;
	uint16_t family_id = 0xfffe;
	const uint8_t *dgram;
	void *buf;
	size_t len;
	int ret;

	if (size < 1)
		return 0;
	dgram = data + 1;
	len = size - 1;
	if (data[0] & FLAG_MATCH_HEADER) {
		if (len >= sizeof(struct nlmsghdr)) {
			seq = get_u32(dgram + offsetof(struct nlmsghdr, nlmsg_seq));
			portid = get_u32(dgram + offsetof(struct nlmsghdr, nlmsg_pid));
		}
	} else if (len >= 8) {
		seq = get_u32(dgram);
		portid = get_u32(dgram + 4);
	}

	/* Aligned like the kernel's datagram (malloc's alignment is enough), and exactly its size. */
	buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf);
	memcpy(buf, dgram, len);

	ret = probe_genl_parse_reply(buf, len, seq, portid, &family_id);

	/* The contract in genl.h: 1, 0 or a negative errno, nothing else. */
	FUZZ_CHECK(ret == 0 || ret == 1 || (ret < 0 && ret > -4096));
	/* An id is only ever reported from a valid reply, and never a control id. */
	if (family_id != 0xfffe) {
		FUZZ_CHECK(family_id >= GENL_MIN_ID);
	}
	if (len == 0)
		FUZZ_CHECK(ret == -EPROTO);
	free(buf);
	return 0;
}
