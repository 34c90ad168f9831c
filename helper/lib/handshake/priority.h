/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_HANDSHAKE_PRIORITY_H
#define HANDOFF_HANDSHAKE_PRIORITY_H

#include <stddef.h>

#include "core/config.h"

/*
 * priority_build - the GnuTLS priority string for cfg: only TLS 1.2/1.3,
 * only AEAD ciphers, forward-secret key exchange (plus PSK if configured),
 * ciphers in the configured order.  When kinfo is given, a cipher is left
 * out unless the kernel takes it for at least one enabled version.
 * 0, or -1 with the reason in err (e.g. nothing left to offer).
 */
int priority_build(const struct handoff_config *cfg,
		   const struct handoff_kernel_info *kinfo, bool is_server,
		   char *buf, size_t len, struct errbuf *err);

/*
 * priority_rsa_first - text (from priority_build()) with the RSA key
 * exchanges before ECDHE-ECDSA, into buf: for a TLS 1.2 server whose pairs
 * for the client's name start with an RSA key (core/certselect.c).  0, or
 * -1 if text lacks our key exchanges or buf is too small.
 */
int priority_rsa_first(const char *text, char *buf, size_t len);

#endif
