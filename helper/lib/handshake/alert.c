/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <ctype.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#include "handshake/alert.h"

const char *alert_describe(unsigned desc, char *buf, size_t len)
{
	const char *words = gnutls_alert_get_name((gnutls_alert_description_t)desc);
	const char *sym = gnutls_alert_get_strname((gnutls_alert_description_t)desc);
	char rfc[64];
	size_t i;

	if (!words || !sym || strncmp(sym, "GNUTLS_A_", 9) != 0) {
		snprintf(buf, len, "unknown alert %u", desc);
		return buf;
	}
	/* GNUTLS_A_HANDSHAKE_FAILURE -> handshake_failure, the name in the RFC. */
	for (i = 0; sym[9 + i] && i < sizeof(rfc) - 1; i++)
		rfc[i] = (char)tolower((unsigned char)sym[9 + i]);
	rfc[i] = '\0';
	snprintf(buf, len, "%s (%s)", rfc, words);
	return buf;
}
