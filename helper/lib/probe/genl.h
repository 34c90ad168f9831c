/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The generic-netlink controller query behind probe_genl_family(), split so
 * that the bytes going out and the parsing of the bytes coming back can be
 * tested (and fuzzed) without a kernel.
 */
#ifndef HANDOFF_PROBE_GENL_H
#define HANDOFF_PROBE_GENL_H

#include <stddef.h>
#include <stdint.h>

/*
 * probe_genl_build_request - write a CTRL_CMD_GETFAMILY request for name
 * (with NLM_F_ACK) into buf.  Returns its length, or -EINVAL for an empty
 * or over-long name, -ENOSPC if buf is too small.
 */
int probe_genl_build_request(void *buf, size_t size, const char *name,
			     uint32_t seq);

/*
 * probe_genl_check_datagram - whether a datagram read from a netlink
 * socket is whole, padded messages that libmnl can walk without reading
 * past it (and no NLMSG_ERROR with a positive error).  0 or -EPROTO.
 * Every parser of kernel netlink replies (the probe, handoffd) runs it first.
 */
int probe_genl_check_datagram(const void *buf, size_t len);

/*
 * probe_genl_parse_reply - one datagram read from the controller, checked
 * against our sequence number and port id (mnl_cb_run).  Stores the family
 * id in *family_id when a reply message carries it.
 * Returns 1 when more datagrams are expected (the ACK has not come yet),
 * 0 when the exchange is complete, or a negative errno: the kernel's own
 * error (-ENOENT: no such family), -EPROTO for a malformed or truncated
 * message or a reply without CTRL_ATTR_FAMILY_ID, -ESRCH for a foreign
 * port id.
 */
int probe_genl_parse_reply(const void *buf, size_t len, uint32_t seq,
			   uint32_t portid, uint16_t *family_id);

#endif
