/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shim's configuration: one INI file (libinih), read once at program
 * start, never changed after.  Sections:
 *
 *   [shim]                     log = syslog | stderr | /path/file; debug = yes
 *   [accept PORT]              a listener (any local address) becomes a TLS server
 *   [accept ADDR:PORT]         ... only on that local address
 *   [accept ADDR PORT]         the same; the form for IPv6 ([accept ::1 8443])
 *   [connect HOST:PORT]        connects there become TLS clients; HOST is a
 *                              name (matched against the name the program
 *                              resolved), *.domain, or an address
 *   [connect PORT]             any destination on that port
 *
 * Inside accept/connect sections every settings key (helper/settings:
 * cert, key, ca-file, verify-client, protocols, ...) plus:
 *   insecure-plaintext = yes   pass the connections through untouched
 *   servername = NAME          (connect) the name to send and verify
 *   verify-address = yes       (connect) with no name known, verify the
 *                              address against the certificate's IP SANs
 *   delegate = /run/handoffd/custody.sock
 *   identity = NAME            delegated mode: handoffd does the handshake
 *                              with its [identity NAME] and the program
 *                              never holds the key; the rule then takes no
 *                              TLS keys but timeout (and servername)
 * The first section that matches a connection wins.
 */
#ifndef SHIM_CONFIG_CONF_H
#define SHIM_CONFIG_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "handoff.h"

enum shim_rule_kind { SHIM_RULE_ACCEPT, SHIM_RULE_CONNECT };

struct shim_rule {
	enum shim_rule_kind kind;
	char *spec;		/* what followed the kind in the section name */
	unsigned line;		/* where the section starts */
	/* What it matches. */
	int family;		/* AF_UNSPEC: any address */
	uint8_t addr[16];
	char *host;		/* connect: a name or "*.domain"; NULL when none */
	uint16_t port;
	/* What it does. */
	bool plaintext;
	bool verify_address;
	char *servername;
	unsigned timeout_ms;	/* handshake timeout (0: none) */
	char *delegate;		/* handoffd's custody socket: delegated mode (cfg is NULL) */
	char *identity;		/* the identity asked of handoffd */
	unsigned delegate_line;	/* where delegate was set, for messages */
	unsigned tls_key_line;	/* where the first TLS key (cert, ca-file, ...) was set */
	struct handoff_config *cfg;	/* NULL for plaintext and delegated rules */
	struct handoff_cache *cache;	/* connect rules: resumption */
	char *warnings;		/* settings_warnings() of its keys, or NULL (logged at start) */
};

enum shim_log_target { SHIM_LOG_SYSLOG, SHIM_LOG_STDERR, SHIM_LOG_FILE };

struct shim_conf {
	struct shim_rule *rules;
	size_t n_rules;
	unsigned n_accept, n_connect;
	enum shim_log_target log;
	char *log_path;
	bool debug;
};

/*
 * shim_conf_load_file / shim_conf_load_string - parse and build every rule
 * (certificates and keys are loaded now, so a bad one fails here and not
 * at the first connection).  0 and *out, or -1 with err holding
 * "NAME:LINE: [section] key: why".  name labels the string in messages.
 */
int shim_conf_load_file(const char *path, struct shim_conf **out, char *err, size_t errlen);
int shim_conf_load_string(const char *text, const char *name, struct shim_conf **out,
			  char *err, size_t errlen);
void shim_conf_free(struct shim_conf *conf);

/* The first accept rule for a listening socket bound to local, or NULL. */
const struct shim_rule *shim_conf_match_accept(const struct shim_conf *conf,
					       const struct sockaddr *local);
/*
 * The first connect rule for a destination address and the name the
 * program resolved it from (NULL if unknown), or NULL.
 */
const struct shim_rule *shim_conf_match_connect(const struct shim_conf *conf,
						const struct sockaddr *dest, const char *name);

#endif
