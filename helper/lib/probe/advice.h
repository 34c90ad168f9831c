/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The operator's words for a failed probe item, behind probe_advice().
 * Kept inline in a header because the CLI prints them too and links only
 * the library's public ABI, where probe_advice() is hidden; one copy of the
 * text either way.
 */
#ifndef HANDOFF_PROBE_ADVICE_H
#define HANDOFF_PROBE_ADVICE_H

#include <errno.h>
#include <string.h>

static inline const char *probe_advice_ulp(int err)
{
	switch (err) {
	case ENOENT:
		return "the tls module is not loaded: run 'modprobe tls' (kernel option CONFIG_TLS)";
	case EEXIST:
		return "another upper-layer protocol already owns the socket (e.g. MPTCP): use plain TCP";
	case ENOTCONN:
		return "the kernel refused the tls ULP on an established socket: check dmesg";
	default:
		return "the kernel refused the tls ULP: kTLS is unusable on this kernel (check CONFIG_TLS and dmesg)";
	}
}

static inline const char *probe_advice_cipher(int err)
{
	switch (err) {
	case ENOENT:
		return "the kernel lacks the cipher: load its module (e.g. 'modprobe gcm', 'modprobe ccm', 'modprobe chacha20poly1305')";
	case EINVAL:
	case EOPNOTSUPP:
		return "this kernel does not support this cipher for this TLS version: a newer kernel is needed";
	case ENOMEM:
		return "the kernel ran out of memory setting up the cipher: try again";
	default:
		return "the kernel refused the key for this cipher: check dmesg";
	}
}

static inline const char *probe_advice_handshake(int err)
{
	switch (err) {
	case ENOENT:
		return "no handshake netlink family: needs Linux 6.4+ with CONFIG_NET_HANDSHAKE=y (in-kernel TLS consumers like NFS and NVMe-TCP cannot ask for handshakes)";
	case EPROTONOSUPPORT:
	case EAFNOSUPPORT:
		return "generic netlink is unavailable here (sandbox or seccomp?): the handshake family cannot be queried";
	case EPERM:
	case EACCES:
		return "not allowed to query generic netlink: run with more privileges or outside the sandbox";
	default:
		return "the generic netlink query for the handshake family failed";
	}
}

static inline const char *probe_advice_tls_stat(int err)
{
	if (err == ENOENT)
		return "no /proc/net/tls_stat: the tls module is not loaded in this network namespace ('modprobe tls')";
	return "/proc/net/tls_stat is not readable";
}

/* probe_advice_words - as probe_advice() in probe.h (what: "ulp", "cipher",
 * "handshake" or "tls_stat"; err of either sign); NULL when err is 0 or
 * what is unknown. */
static inline const char *probe_advice_words(const char *what, int err)
{
	/* Callers hold either sign; the words depend only on the value. */
	if (err < 0)
		err = -err;
	if (!what || err == 0)
		return NULL;
	if (strcmp(what, "ulp") == 0)
		return probe_advice_ulp(err);
	if (strcmp(what, "cipher") == 0)
		return probe_advice_cipher(err);
	if (strcmp(what, "handshake") == 0)
		return probe_advice_handshake(err);
	if (strcmp(what, "tls_stat") == 0)
		return probe_advice_tls_stat(err);
	return NULL;
}

#endif
