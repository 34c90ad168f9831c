/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim_conf_match_accept() / shim_conf_match_connect(): which rule of the
 * shim's config a socket falls under, for addresses the program used and
 * names it resolved (the peer's DNS answers reach this code as names).
 *
 * Input: the config text up to the first NUL byte (parsed with
 * shim_conf_load_string(); inputs that fail to parse stop there), then
 * queries of
 *   flags (1 byte): 0x01 connect (else accept); bits 1-2 the address
 *                   family: 0 IPv4, 1 IPv6, 2 IPv4-mapped IPv6, 3 AF_UNIX
 *   port (2 bytes, big endian), address (16 bytes; IPv4 takes the first 4)
 *   name length (1 byte; 0xff: no name), that many bytes of name
 * (a query cut short by the end of the input is not made).
 *
 * Invariant: the answer is the one a plain reading of conf.h gives, as
 * written again below (the first rule of the right kind and port whose
 * address, or name, matches; "*.domain" matches names under domain, never
 * domain itself; names compare without regard to case); nothing else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "config/conf.h"
#include "fuzz.h"

#define QUERY_FIXED 19	/* flags, port, address */

/* The documented meaning of a host pattern, written without looking at match.c. */
static bool model_name(const char *pattern, const char *name)
{
	size_t nl, dl;
	const char *domain;

	if (!name)
		return false;
	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, name) == 0;
	domain = pattern + 1;	/* ".example.com" */
	dl = strlen(domain);
	nl = strlen(name);
	/* At least one character of label before the domain: "a.example.com". */
	return nl > dl && strcasecmp(name + nl - dl, domain) == 0;
}

static const struct shim_rule *model(const struct shim_conf *conf, bool connect, int family,
				     const uint8_t *addr, uint16_t port, const char *name)
{
	size_t i;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	for (i = 0; i < conf->n_rules; i++) {
		const struct shim_rule *r = &conf->rules[i];

		if (r->kind != (connect ? SHIM_RULE_CONNECT : SHIM_RULE_ACCEPT) || r->port != port)
			continue;
		if (connect && r->host) {
			if (model_name(r->host, name))
				return r;
			continue;
		}
		if (r->family == AF_UNSPEC ||
		    (r->family == family && !memcmp(r->addr, addr, family == AF_INET ? 4 : 16)))
			return r;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shim_conf *conf = NULL;
	const uint8_t *nul;
	char err[512], *text, name[256];
	size_t off;

	nul = memchr(data, 0, size);
	off = nul ? (size_t)(nul - data) : size;
	text = malloc(off + 1);
	FUZZ_CHECK(text);
	memcpy(text, data, off);
	text[off] = '\0';
	/* File loading, not matching (see fuzz_shimconf.c). */
	if (strstr(text, "ca-dir") || strstr(text, "system-ca") ||
	    shim_conf_load_string(text, "f", &conf, err, sizeof(err)) < 0) {
		free(text);
		return 0;
	}
	free(text);

	for (off++; off + QUERY_FIXED < size;) {
		const struct shim_rule *got, *want;
		struct sockaddr_storage ss;
		uint8_t flags = data[off], addr[16];
		uint16_t port = (uint16_t)(data[off + 1] << 8 | data[off + 2]);
		bool connect = flags & 0x01, have_name;
		int family = AF_INET;
		size_t nl;

		memcpy(addr, data + off + 3, 16);
		off += QUERY_FIXED;
		nl = data[off++];
		have_name = nl != 0xff;
		if (!have_name)
			nl = 0;
		if (nl > size - off)
			break;
		memcpy(name, data + off, nl);
		name[nl] = '\0';
		off += nl;

		memset(&ss, 0, sizeof(ss));
		switch ((flags >> 1) & 3) {
		case 0: {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			in->sin_family = AF_INET;
			in->sin_port = htons(port);
			memcpy(&in->sin_addr, addr, 4);
			break;
		}
		case 1:
		case 2: {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			if ((flags >> 1 & 3) == 2) {
				/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d to a rule. */
				memset(addr + 4, 0, 12);
				memset(in6->sin6_addr.s6_addr + 10, 0xff, 2);
				memcpy(in6->sin6_addr.s6_addr + 12, addr, 4);
			} else {
				family = AF_INET6;
				memcpy(in6->sin6_addr.s6_addr, addr, 16);
			}
			break;
		}
		default:
			ss.ss_family = AF_UNIX;
			family = AF_UNIX;
			break;
		}

		if (connect)
			got = shim_conf_match_connect(conf, (struct sockaddr *)&ss,
						      have_name ? name : NULL);
		else
			got = shim_conf_match_accept(conf, (struct sockaddr *)&ss);
		want = model(conf, connect, family, addr, port, have_name ? name : NULL);
		if (got != want) {
			fprintf(stderr, "%s port %u name %s: rule %s, expected %s\n",
				connect ? "connect" : "accept", port, have_name ? name : "(none)",
				got ? got->spec : "(none)", want ? want->spec : "(none)");
			FUZZ_CHECK(got == want);
		}
	}
	shim_conf_free(conf);
	return 0;
}
