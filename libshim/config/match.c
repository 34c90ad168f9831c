/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which rule, if any, a listening socket or a destination falls under.
 * Called once per accepted or connected socket, never per byte.
 */
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "config/conf.h"

/* The address and port of sa, IPv4-mapped IPv6 seen as the IPv4 it is. */
static int unpack(const struct sockaddr *sa, int *family, const uint8_t **addr, uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		*family = AF_INET;
		*addr = (const uint8_t *)&in->sin_addr;
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		*family = AF_INET6;
		*addr = in6->sin6_addr.s6_addr;
		*port = ntohs(in6->sin6_port);
		if (!memcmp(*addr, mapped, sizeof(mapped))) {
			*family = AF_INET;
			*addr += sizeof(mapped);
		}
		return 0;
	}
	return -1;
}

static bool addr_matches(const struct shim_rule *r, int family, const uint8_t *addr)
{
	if (r->family == AF_UNSPEC)
		return true;
	if (r->family != family)
		return false;
	return !memcmp(r->addr, addr, family == AF_INET ? 4 : 16);
}

/* "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com". */
static bool name_matches(const char *pattern, const char *name)
{
	size_t pl, nl;

	if (!name)
		return false;
	if (pattern[0] != '*')
		return !strcasecmp(pattern, name);
	pl = strlen(pattern + 1);
	nl = strlen(name);
	return nl > pl && !strcasecmp(name + nl - pl, pattern + 1);
}

const struct shim_rule *shim_conf_match_accept(const struct shim_conf *conf,
					       const struct sockaddr *local)
{
	const uint8_t *addr;
	uint16_t port;
	int family;
	size_t i;

	if (!conf || unpack(local, &family, &addr, &port) < 0)
		return NULL;
	for (i = 0; i < conf->n_rules; i++) {
		const struct shim_rule *r = &conf->rules[i];

		if (r->kind != SHIM_RULE_ACCEPT || r->port != port)
			continue;
		/*
		 * A listener on the wildcard address falls under a rule for a
		 * specific address only if it is that address: it is not.
		 */
		if (addr_matches(r, family, addr))
			return r;
	}
	return NULL;
}

const struct shim_rule *shim_conf_match_connect(const struct shim_conf *conf,
						const struct sockaddr *dest, const char *name)
{
	const uint8_t *addr;
	uint16_t port;
	int family;
	size_t i;

	if (!conf || unpack(dest, &family, &addr, &port) < 0)
		return NULL;
	for (i = 0; i < conf->n_rules; i++) {
		const struct shim_rule *r = &conf->rules[i];

		if (r->kind != SHIM_RULE_CONNECT || r->port != port)
			continue;
		if (r->host ? name_matches(r->host, name) : addr_matches(r, family, addr))
			return r;
	}
	return NULL;
}
