/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * getaddrinfo: remember which name the program resolved to which address,
 * so that connect() can send and verify that name (core/names.c).  Only
 * names: a numeric host says nothing a certificate could be checked for.
 */
#include <arpa/inet.h>
#include <netdb.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

static bool numeric(const char *node)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			    struct addrinfo **res)
{
	const struct addrinfo *ai;
	int ret = SHIM_REAL(getaddrinfo)(node, service, hints, res);

	if (ret != 0 || !node || shim_busy || !shim_conf || !shim_conf->n_connect || numeric(node))
		return ret;
	for (ai = *res; ai; ai = ai->ai_next)
		if (ai->ai_addr && (ai->ai_family == AF_INET || ai->ai_family == AF_INET6))
			names_remember(ai->ai_addr, node);
	return ret;
}
