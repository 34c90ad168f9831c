/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdio.h>
#include <string.h>

#include "handshake/priority.h"

static bool kernel_takes(const struct handoff_kernel_info *kinfo, unsigned protocols,
			 enum handoff_cipher c)
{
	if (!kinfo)
		return true;
	if ((protocols & HANDOFF_PROTOCOL_TLSv1_2) &&
	    handoff_kernel_supports(kinfo, HANDOFF_TLS_1_2, c))
		return true;
	if ((protocols & HANDOFF_PROTOCOL_TLSv1_3) &&
	    handoff_kernel_supports(kinfo, HANDOFF_TLS_1_3, c))
		return true;
	return false;
}

/*
 * The key exchanges by key type, ECDSA's first: in TLS 1.2 the suite is
 * chosen before the certificate, so this order decides which key type a
 * client that takes both gets, unless priority_rsa_first() swaps it.
 */
#define KX_ECDSA ":+ECDHE-ECDSA"
#define KX_RSA ":+ECDHE-RSA:+DHE-RSA"

/* Append to buf, reporting overflow instead of truncating silently. */
static int append(char *buf, size_t len, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (*used + n + 1 > len)
		return -1;
	memcpy(buf + *used, s, n + 1);
	*used += n;
	return 0;
}

int priority_build(const struct handoff_config *cfg, const struct handoff_kernel_info *kinfo,
		   bool is_server, char *buf, size_t len, struct errbuf *err)
{
	size_t used = 0, offered = 0, i;
	int r = 0;

	/*
	 * Start from nothing and add only what we mean: the AEAD suites kTLS
	 * can run, forward-secret key exchange, and the two versions.
	 */
	r |= append(buf, len, &used, "NONE");
	if (cfg->protocols & HANDOFF_PROTOCOL_TLSv1_3)
		r |= append(buf, len, &used, ":+VERS-TLS1.3");
	if (cfg->protocols & HANDOFF_PROTOCOL_TLSv1_2)
		r |= append(buf, len, &used, ":+VERS-TLS1.2");
	for (i = 0; i < cfg->n_ciphers; i++) {
		if (!kernel_takes(kinfo, cfg->protocols, cfg->ciphers[i]))
			continue;
		r |= append(buf, len, &used, ":+");
		r |= append(buf, len, &used, handoff_cipher_name(cfg->ciphers[i]));
		offered++;
	}
	r |= append(buf, len, &used,
		    ":+AEAD:+COMP-NULL:+CTYPE-X509:+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-DSA-SHA1"
		    ":+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-X448:+GROUP-SECP521R1"
		    ":+GROUP-FFDHE2048:+GROUP-FFDHE3072" KX_ECDSA KX_RSA);
	if (config_has_psk(cfg, is_server))
		r |= append(buf, len, &used, ":+ECDHE-PSK:+DHE-PSK");
	if (is_server)
		r |= append(buf, len, &used, ":%SERVER_PRECEDENCE");
	if (r)
		return errbuf_set(err, "internal error: priority string too long");
	if (offered == 0)
		return errbuf_set(err,
				  "none of the configured ciphers is accepted by this kernel's TLS layer (see 'handoff check')");
	return 0;
}

int priority_rsa_first(const char *text, char *buf, size_t len)
{
	static const char ours[] = KX_ECDSA KX_RSA, swapped[] = KX_RSA KX_ECDSA;
	const char *at = strstr(text, ours);
	size_t before, n = strlen(text);

	if (!at || n + 1 > len)
		return -1;
	before = (size_t)(at - text);
	memcpy(buf, text, before);
	memcpy(buf + before, swapped, sizeof(swapped) - 1);
	memcpy(buf + before + sizeof(swapped) - 1, at + sizeof(ours) - 1,
	       n - before - (sizeof(ours) - 1) + 1);
	return 0;
}
