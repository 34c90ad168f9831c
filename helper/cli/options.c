/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flags both commands understand, turned into a struct handoff_config.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"

#define PSK_MAX 512		/* bytes; a PSK file is small by nature */
#define PSK_FILE_MAX 4096	/* bytes of text, identity and hex */

enum {
	OPT_CA_FILE = 0x100,
	OPT_CA_DIR,
	OPT_SYSTEM_CA,
	OPT_CRL,
	OPT_CERT,
	OPT_KEY,
	OPT_PSK_IDENTITY,
	OPT_PSK_FILE,
	OPT_PROTOCOLS,
	OPT_CIPHERS,
	OPT_ALPN,
	OPT_VERIFY_CLIENT,
	OPT_VERIFY_CLIENT_OPTIONAL,
	OPT_TIMEOUT,
	OPT_TICKET_KEY,
	OPT_NO_TICKETS,
	OPT_NOVERIFYCERT,
	OPT_NOVERIFYNAME,
	OPT_NOVERIFYTIME,
	OPT_USERSPACE_FALLBACK,
	OPT_SERVERNAME,
};

static const struct option shared_options[] = {
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "ca-dir", required_argument, NULL, OPT_CA_DIR },
	{ "system-ca", no_argument, NULL, OPT_SYSTEM_CA },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "psk-identity", required_argument, NULL, OPT_PSK_IDENTITY },
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "protocols", required_argument, NULL, OPT_PROTOCOLS },
	{ "ciphers", required_argument, NULL, OPT_CIPHERS },
	{ "alpn", required_argument, NULL, OPT_ALPN },
	{ "verify-client", no_argument, NULL, OPT_VERIFY_CLIENT },
	{ "verify-client-optional", no_argument, NULL, OPT_VERIFY_CLIENT_OPTIONAL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "ticket-key", required_argument, NULL, OPT_TICKET_KEY },
	{ "no-tickets", no_argument, NULL, OPT_NO_TICKETS },
	{ "insecure-noverifycert", no_argument, NULL, OPT_NOVERIFYCERT },
	{ "insecure-noverifyname", no_argument, NULL, OPT_NOVERIFYNAME },
	{ "insecure-noverifytime", no_argument, NULL, OPT_NOVERIFYTIME },
	{ "insecure-userspace-fallback", no_argument, NULL, OPT_USERSPACE_FALLBACK },
	{ "servername", required_argument, NULL, OPT_SERVERNAME },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
};

const char cli_config_usage[] =
	"Trust and identity:\n"
	"  --ca-file FILE          trust the CAs in FILE (PEM; repeatable)\n"
	"  --ca-dir DIR            trust every *.pem / *.crt in DIR (repeatable)\n"
	"  --system-ca             also trust the system store (the default when\n"
	"                          no --ca-file / --ca-dir is given)\n"
	"  --crl FILE              check peers against this CRL (PEM; repeatable)\n"
	"  --cert FILE --key FILE  our certificate chain (leaf first) and key\n"
	"  --psk-identity NAME     TLS 1.3 external PSK identity\n"
	"  --psk-file FILE         the PSK, in hex (or IDENTITY:HEX, as gnutls-serv)\n"
	"Negotiation:\n"
	"  --protocols LIST        tls1.2,tls1.3 (default both)\n"
	"  --ciphers LIST          AES-128-GCM,AES-256-GCM,CHACHA20-POLY1305,AES-128-CCM\n"
	"  --alpn LIST             ALPN protocols, comma separated\n"
	"  --servername NAME       name to send (SNI) and verify (default: HOST)\n"
	"  --verify-client         require a client certificate (serve)\n"
	"  --verify-client-optional  ask for one, verify it if sent (serve)\n"
	"  --timeout MS            handshake timeout in ms (default 30000, 0 = none)\n"
	"  --ticket-key FILE       64-byte session ticket key, shared by a fleet\n"
	"  --no-tickets            issue no session tickets (serve)\n"
	"Weaker, for tests only:\n"
	"  --insecure-noverifycert accept any peer certificate\n"
	"  --insecure-noverifyname do not check the server name\n"
	"  --insecure-noverifytime accept expired / not yet valid certificates\n"
	"  --insecure-userspace-fallback  keep encrypting in user space when the\n"
	"                          kernel cannot take the keys\n"
	"Other:\n"
	"  -q, --quiet             no handshake summary\n"
	"  -h, --help              this text\n";

static void usage_to(FILE *f, const struct cli_command *cmd)
{
	fprintf(f, "%s\n%s", cmd->usage, cli_config_usage);
}

/* The config call failed: say which flag and why, in the library's words. */
static int config_failed(struct cli_common *c, const char *flag, const char *arg)
{
	const char *why = handoff_config_error(c->cfg);

	fprintf(stderr, "handoff: %s %s: %s\n", flag, arg ? arg : "",
		why ? why : strerror(errno));
	return -1;
}

static int parse_protocols(const char *list, unsigned *mask)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	copy = strdup(list);
	if (!copy)
		return -1;
	*mask = 0;
	for (tok = strtok_r(copy, ",:", &save); tok; tok = strtok_r(NULL, ",:", &save)) {
		if (!strcasecmp(tok, "tls1.2") || !strcasecmp(tok, "tlsv1.2") ||
		    !strcmp(tok, "1.2")) {
			*mask |= HANDOFF_PROTOCOL_TLSv1_2;
		} else if (!strcasecmp(tok, "tls1.3") || !strcasecmp(tok, "tlsv1.3") ||
			   !strcmp(tok, "1.3")) {
			*mask |= HANDOFF_PROTOCOL_TLSv1_3;
		} else if (!strcasecmp(tok, "all") || !strcasecmp(tok, "default")) {
			*mask |= HANDOFF_PROTOCOLS_DEFAULT;
		} else {
			fprintf(stderr, "handoff: --protocols: unknown or unsupported "
				"protocol '%s' (only tls1.2 and tls1.3)\n", tok);
			ret = -1;
			break;
		}
	}
	if (!ret && !*mask) {
		fprintf(stderr, "handoff: --protocols: empty list\n");
		ret = -1;
	}
	free(copy);
	return ret;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Read a PSK file: HEX, or IDENTITY:HEX (one line of gnutls-serv's
 * --pskpasswd format).  *identity is malloc'd, or NULL if the file has none.
 * The text buffer is wiped: it is the key.
 */
static int read_psk_file(const char *path, uint8_t *key, size_t *key_len,
			 char **identity)
{
	char text[PSK_FILE_MAX + 1];
	const char *hex, *colon;
	size_t len = 0, n = 0;
	ssize_t r;
	int fd, hi, lo, ret = -1;

	*identity = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "handoff: --psk-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (len < PSK_FILE_MAX) {
		r = read(fd, text + len, PSK_FILE_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	text[len] = '\0';
	/* One line only: a passwd-style file with several users is ambiguous. */
	text[strcspn(text, "\r\n")] = '\0';

	hex = text;
	colon = strrchr(text, ':');
	if (colon) {
		*identity = strndup(text, (size_t)(colon - text));
		if (!*identity)
			goto out;
		hex = colon + 1;
	}
	while (*hex == ' ' || *hex == '\t')
		hex++;
	for (; hex[0] && hex[0] != ' ' && hex[0] != '\t'; hex += 2) {
		hi = hexval((unsigned char)hex[0]);
		lo = hex[1] ? hexval((unsigned char)hex[1]) : -1;
		if (hi < 0 || lo < 0 || n == PSK_MAX) {
			fprintf(stderr, "handoff: --psk-file %s: not a hex key of at most %d bytes\n",
				path, PSK_MAX);
			goto out;
		}
		key[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (n == 0) {
		fprintf(stderr, "handoff: --psk-file %s: no key in the file\n", path);
		goto out;
	}
	*key_len = n;
	ret = 0;
out:
	explicit_bzero(text, sizeof(text));
	if (ret < 0) {
		explicit_bzero(key, PSK_MAX);
		free(*identity);
		*identity = NULL;
	}
	return ret;
}

static int parse_ms(const char *arg, unsigned *ms)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v > 86400000UL || arg[0] == '-') {
		fprintf(stderr, "handoff: --timeout %s: not a number of milliseconds\n", arg);
		return -1;
	}
	*ms = (unsigned)v;
	return 0;
}

/* Flags whose meaning depends on a partner flag are applied after the loop. */
struct pending {
	const char *cert, *key;
	const char *psk_identity, *psk_file;
};

static int apply_shared(struct cli_common *c, struct pending *p, int opt,
			const char *arg)
{
	unsigned mask;

	switch (opt) {
	case OPT_CA_FILE:
		if (handoff_config_add_ca_file(c->cfg, arg) < 0)
			return config_failed(c, "--ca-file", arg);
		return 0;
	case OPT_CA_DIR:
		if (handoff_config_add_ca_dir(c->cfg, arg) < 0)
			return config_failed(c, "--ca-dir", arg);
		return 0;
	case OPT_SYSTEM_CA:
		if (handoff_config_add_system_ca(c->cfg) < 0)
			return config_failed(c, "--system-ca", NULL);
		return 0;
	case OPT_CRL:
		if (handoff_config_add_crl_file(c->cfg, arg) < 0)
			return config_failed(c, "--crl", arg);
		return 0;
	case OPT_CERT:
		p->cert = arg;
		return 0;
	case OPT_KEY:
		p->key = arg;
		return 0;
	case OPT_PSK_IDENTITY:
		p->psk_identity = arg;
		return 0;
	case OPT_PSK_FILE:
		p->psk_file = arg;
		return 0;
	case OPT_PROTOCOLS:
		if (parse_protocols(arg, &mask) < 0)
			return -1;
		if (handoff_config_set_protocols(c->cfg, mask) < 0)
			return config_failed(c, "--protocols", arg);
		return 0;
	case OPT_CIPHERS:
		if (handoff_config_set_ciphers(c->cfg, arg) < 0)
			return config_failed(c, "--ciphers", arg);
		return 0;
	case OPT_ALPN:
		if (handoff_config_set_alpn(c->cfg, arg) < 0)
			return config_failed(c, "--alpn", arg);
		return 0;
	case OPT_VERIFY_CLIENT:
		handoff_config_verify_client(c->cfg);
		return 0;
	case OPT_VERIFY_CLIENT_OPTIONAL:
		handoff_config_verify_client_optional(c->cfg);
		return 0;
	case OPT_TIMEOUT:
		if (parse_ms(arg, &c->timeout_ms) < 0)
			return -1;
		handoff_config_set_handshake_timeout(c->cfg, c->timeout_ms);
		return 0;
	case OPT_TICKET_KEY:
		if (handoff_config_set_ticket_key_file(c->cfg, arg) < 0)
			return config_failed(c, "--ticket-key", arg);
		return 0;
	case OPT_NO_TICKETS:
		handoff_config_disable_tickets(c->cfg);
		return 0;
	case OPT_NOVERIFYCERT:
		handoff_config_insecure_noverifycert(c->cfg);
		return 0;
	case OPT_NOVERIFYNAME:
		handoff_config_insecure_noverifyname(c->cfg);
		return 0;
	case OPT_NOVERIFYTIME:
		handoff_config_insecure_noverifytime(c->cfg);
		return 0;
	case OPT_USERSPACE_FALLBACK:
		handoff_config_insecure_userspace_fallback(c->cfg);
		return 0;
	case OPT_SERVERNAME:
		c->servername = arg;
		return 0;
	case 'q':
		c->quiet = 1;
		return 0;
	}
	return 1;	/* not ours */
}

static int apply_pending(struct cli_common *c, const struct pending *p)
{
	uint8_t key[PSK_MAX];
	size_t key_len = 0;
	char *file_identity = NULL;
	const char *identity;
	int ret;

	if (!!p->cert != !!p->key) {
		fprintf(stderr, "handoff: --cert and --key go together\n");
		return -1;
	}
	if (p->cert && handoff_config_set_keypair_file(c->cfg, p->cert, p->key) < 0)
		return config_failed(c, "--cert/--key", p->cert);

	if (!p->psk_file) {
		if (p->psk_identity) {
			fprintf(stderr, "handoff: --psk-identity needs --psk-file\n");
			return -1;
		}
		return 0;
	}
	if (read_psk_file(p->psk_file, key, &key_len, &file_identity) < 0)
		return -1;
	identity = p->psk_identity ? p->psk_identity : file_identity;
	if (!identity || !*identity) {
		fprintf(stderr, "handoff: --psk-file %s: no identity (use --psk-identity)\n",
			p->psk_file);
		ret = -1;
	} else {
		ret = handoff_config_set_psk(c->cfg, identity, key, key_len);
		if (ret < 0)
			config_failed(c, "--psk-file", p->psk_file);
	}
	explicit_bzero(key, sizeof(key));
	free(file_identity);
	return ret;
}

int cli_parse(int argc, char **argv, const struct cli_command *cmd,
	      struct cli_common *common, int *status)
{
	size_t n_shared = sizeof(shared_options) / sizeof(shared_options[0]);
	size_t n_extra = 0;
	struct option *all;
	struct pending pending = { 0 };
	int opt, ret;

	memset(common, 0, sizeof(*common));
	common->timeout_ms = 30000;
	*status = CLI_EXIT_FAIL;

	while (cmd->longopts && cmd->longopts[n_extra].name)
		n_extra++;
	all = calloc(n_shared + n_extra + 1, sizeof(*all));
	if (!all) {
		fprintf(stderr, "handoff: out of memory\n");
		return -1;
	}
	memcpy(all, shared_options, sizeof(shared_options));
	if (n_extra)
		memcpy(all + n_shared, cmd->longopts, n_extra * sizeof(*all));

	common->cfg = handoff_config_new();
	if (!common->cfg) {
		fprintf(stderr, "handoff: cannot create a TLS config: %s\n", strerror(errno));
		goto err;
	}

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+qh", all, NULL)) != -1) {
		if (opt == 'h') {
			usage_to(stdout, cmd);
			*status = CLI_EXIT_OK;
			goto err;
		}
		if (opt == '?') {
			usage_to(stderr, cmd);
			*status = CLI_EXIT_USAGE;
			goto err;
		}
		ret = apply_shared(common, &pending, opt, optarg);
		if (ret > 0)
			ret = cmd->handle ? cmd->handle(cmd->ctx, opt, optarg) : -1;
		if (ret < 0) {
			/* A bad value is a usage error; a file that fails to load is not. */
			*status = CLI_EXIT_USAGE;
			goto err;
		}
	}
	if (apply_pending(common, &pending) < 0) {
		*status = CLI_EXIT_USAGE;
		goto err;
	}
	free(all);
	return optind;

err:
	handoff_config_free(common->cfg);
	common->cfg = NULL;
	free(all);
	return -1;
}
