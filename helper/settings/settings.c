/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Key/value TLS policy applied to a struct handoff_config, for the CLI's
 * flags and the shim's (and later handoffd's) INI files alike.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "settings.h"

#define PSK_MAX 512		/* bytes; a PSK file is small by nature */
#define PSK_FILE_MAX 4096	/* bytes of text, identity and hex */

struct settings {
	struct handoff_config *cfg;
	bool taken;
	char err[512];
	unsigned timeout_ms;
	/* Keys that only mean something with a partner, applied in settings_finish(). */
	char *cert, *key;
	char *psk_identity, *psk_file;
	char *servername;
	bool has_identity;
	char warn[1024];	/* settings_warnings(): "; " between */
};

static int fail(struct settings *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct settings *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* A config call failed: its own words say why. */
static int config_failed(struct settings *s)
{
	const char *why = handoff_config_error(s->cfg);

	return fail(s, "%s", why ? why : strerror(errno));
}

struct settings *settings_new(void)
{
	struct settings *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = handoff_config_new();
	if (!s->cfg) {
		free(s);
		return NULL;
	}
	s->timeout_ms = SETTINGS_DEFAULT_TIMEOUT_MS;
	return s;
}

void settings_free(struct settings *s)
{
	if (!s)
		return;
	if (!s->taken)
		handoff_config_free(s->cfg);
	free(s->cert);
	free(s->key);
	free(s->psk_identity);
	free(s->psk_file);
	free(s->servername);
	free(s);
}

const char *settings_error(const struct settings *s)
{
	return s->err;
}

struct handoff_config *settings_config(struct settings *s)
{
	return s->cfg;
}

struct handoff_config *settings_take_config(struct settings *s)
{
	s->taken = true;
	return s->cfg;
}

const char *settings_servername(const struct settings *s)
{
	return s->servername;
}

unsigned settings_timeout_ms(const struct settings *s)
{
	return s->timeout_ms;
}

bool settings_has_identity(const struct settings *s)
{
	return s->has_identity;
}

int settings_parse_bool(const char *value)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	if (!value)
		return 1;	/* a bare flag */
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(value, yes[i]))
			return 1;
		if (!strcasecmp(value, no[i]))
			return 0;
	}
	return -1;
}

static int parse_protocols(struct settings *s, const char *list, unsigned *mask)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	copy = strdup(list);
	if (!copy)
		return fail(s, "out of memory");
	*mask = 0;
	for (tok = strtok_r(copy, ",: ", &save); tok; tok = strtok_r(NULL, ",: ", &save)) {
		if (!strcasecmp(tok, "tls1.2") || !strcasecmp(tok, "tlsv1.2") ||
		    !strcmp(tok, "1.2")) {
			*mask |= HANDOFF_PROTOCOL_TLSv1_2;
		} else if (!strcasecmp(tok, "tls1.3") || !strcasecmp(tok, "tlsv1.3") ||
			   !strcmp(tok, "1.3")) {
			*mask |= HANDOFF_PROTOCOL_TLSv1_3;
		} else if (!strcasecmp(tok, "all") || !strcasecmp(tok, "default")) {
			*mask |= HANDOFF_PROTOCOLS_DEFAULT;
		} else {
			ret = fail(s, "unknown or unsupported protocol '%s' (only tls1.2 and tls1.3)",
				   tok);
			break;
		}
	}
	if (!ret && !*mask)
		ret = fail(s, "empty protocol list");
	free(copy);
	return ret;
}

static int parse_ms(struct settings *s, const char *arg, unsigned *ms)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v > 86400000UL || arg[0] == '-')
		return fail(s, "'%s' is not a number of milliseconds (0 to 86400000)", arg);
	*ms = (unsigned)v;
	return 0;
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
static int read_psk_file(struct settings *s, const char *path, uint8_t *key,
			 size_t *key_len, char **identity)
{
	char text[PSK_FILE_MAX + 1];
	const char *hex, *colon;
	size_t len = 0, n = 0;
	ssize_t r;
	int fd, hi, lo, ret = -1;

	*identity = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(s, "psk-file %s: %s", path, strerror(errno));
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
		if (!*identity) {
			fail(s, "out of memory");
			goto out;
		}
		hex = colon + 1;
	}
	while (*hex == ' ' || *hex == '\t')
		hex++;
	for (; hex[0] && hex[0] != ' ' && hex[0] != '\t'; hex += 2) {
		hi = hexval((unsigned char)hex[0]);
		lo = hex[1] ? hexval((unsigned char)hex[1]) : -1;
		if (hi < 0 || lo < 0 || n == PSK_MAX) {
			fail(s, "psk-file %s: not a hex key of at most %d bytes", path, PSK_MAX);
			goto out;
		}
		key[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (n == 0) {
		fail(s, "psk-file %s: no key in the file", path);
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

/* Keep a partner key's value until settings_finish(); a repeat replaces it. */
static int keep(struct settings *s, char **slot, const char *value)
{
	char *copy;

	if (!value || !*value)
		return fail(s, "needs a value");
	copy = strdup(value);
	if (!copy)
		return fail(s, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

bool settings_file_exposed(const char *path, unsigned *mode)
{
	struct stat st;

	if (!path || stat(path, &st) < 0)
		return false;
	*mode = (unsigned)(st.st_mode & 07777);
	return st.st_mode & (S_IROTH | S_IWOTH);
}

const char *settings_warnings(const struct settings *s)
{
	return s->warn[0] ? s->warn : NULL;
}

/* what (a "key", a "psk-file") at path: a warning if every user may read it. */
static void note_exposed(struct settings *s, const char *what, const char *path)
{
	size_t used = strlen(s->warn);
	unsigned mode;

	if (!settings_file_exposed(path, &mode) || used + 1 >= sizeof(s->warn))
		return;
	snprintf(s->warn + used, sizeof(s->warn) - used,
		 "%s%s %s is readable by every user (mode %04o): chmod 600 it and replace the "
		 "key, it may have been copied", used ? "; " : "", what, path, mode);
}

/* Pairs add up: each one more certificate for GnuTLS to choose from by SNI (handoff.h). */
static int apply_keypair(struct settings *s)
{
	int ret = handoff_config_add_keypair_file(s->cfg, s->cert, s->key);

	if (ret == 0)
		note_exposed(s, "key", s->key);
	free(s->cert);
	free(s->key);
	s->cert = s->key = NULL;
	if (ret < 0)
		return config_failed(s);
	s->has_identity = true;
	return 0;
}

/* A flag key: a bare flag or yes/no.  *on gets the answer. */
static int flag(struct settings *s, const char *value, int *on)
{
	*on = settings_parse_bool(value);
	if (*on < 0)
		return fail(s, "'%s' is not yes or no", value);
	return 0;
}

static int need_value(struct settings *s, const char *value)
{
	if (!value || !*value)
		return fail(s, "needs a value");
	return 0;
}

int settings_set(struct settings *s, const char *key, const char *value)
{
	unsigned mask = 0;
	int on;

	s->err[0] = '\0';
	if (!strcmp(key, "cert") || !strcmp(key, "key")) {
		char **slot = !strcmp(key, "cert") ? &s->cert : &s->key;

		/* A missing file is this key's fault, whatever its partner says. */
		if (value && *value && access(value, R_OK) < 0)
			return fail(s, "%s: %s", value, strerror(errno));
		/*
		 * Pairs are repeatable, so a second cert before the first one's
		 * key would leave one of them without a partner: say which.
		 */
		if (*slot)
			return fail(s, "the %s before this one (%s) has no %s yet: cert and key go in pairs",
				    key, *slot, slot == &s->cert ? "key" : "cert");
		if (keep(s, slot, value) < 0)
			return -1;
		/* A pair loads as soon as it is whole, so a bad file is reported where it is named. */
		return s->cert && s->key ? apply_keypair(s) : 0;
	}
	if (!strcmp(key, "psk-identity"))
		return keep(s, &s->psk_identity, value);
	if (!strcmp(key, "psk-file"))
		return keep(s, &s->psk_file, value);
	if (!strcmp(key, "servername"))
		return keep(s, &s->servername, value);

	if (!strcmp(key, "ca-file")) {
		if (need_value(s, value) < 0)
			return -1;
		return handoff_config_add_ca_file(s->cfg, value) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "ca-dir")) {
		if (need_value(s, value) < 0)
			return -1;
		return handoff_config_add_ca_dir(s->cfg, value) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "crl")) {
		if (need_value(s, value) < 0)
			return -1;
		return handoff_config_add_crl_file(s->cfg, value) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "system-ca")) {
		if (flag(s, value, &on) < 0)
			return -1;
		return on && handoff_config_add_system_ca(s->cfg) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "protocols")) {
		if (need_value(s, value) < 0 || parse_protocols(s, value, &mask) < 0)
			return -1;
		return handoff_config_set_protocols(s->cfg, mask) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "ciphers")) {
		if (need_value(s, value) < 0)
			return -1;
		return handoff_config_set_ciphers(s->cfg, value) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "alpn")) {
		if (need_value(s, value) < 0)
			return -1;
		return handoff_config_set_alpn(s->cfg, value) < 0 ? config_failed(s) : 0;
	}
	if (!strcmp(key, "verify-client")) {
		/* A bare flag (the CLI's --verify-client) means required. */
		if (!value || !strcasecmp(value, "required") || settings_parse_bool(value) == 1)
			handoff_config_verify_client(s->cfg);
		else if (!strcasecmp(value, "optional"))
			handoff_config_verify_client_optional(s->cfg);
		else if (strcasecmp(value, "none") && settings_parse_bool(value) != 0)
			return fail(s, "'%s' is not required, optional or none", value);
		return 0;
	}
	if (!strcmp(key, "verify-client-optional")) {
		if (flag(s, value, &on) < 0)
			return -1;
		if (on)
			handoff_config_verify_client_optional(s->cfg);
		return 0;
	}
	if (!strcmp(key, "timeout")) {
		if (need_value(s, value) < 0 || parse_ms(s, value, &s->timeout_ms) < 0)
			return -1;
		handoff_config_set_handshake_timeout(s->cfg, s->timeout_ms);
		return 0;
	}
	if (!strcmp(key, "ticket-key")) {
		if (need_value(s, value) < 0)
			return -1;
		if (handoff_config_set_ticket_key_file(s->cfg, value) < 0)
			return config_failed(s);
		note_exposed(s, "ticket-key", value);
		return 0;
	}
	if (!strcmp(key, "tickets") || !strcmp(key, "no-tickets")) {
		if (flag(s, value, &on) < 0)
			return -1;
		if (on == !strcmp(key, "no-tickets"))
			handoff_config_disable_tickets(s->cfg);
		return 0;
	}

	if (!strcmp(key, "kernel-tx-zerocopy") || !strcmp(key, "kernel-rx-no-pad")) {
		if (flag(s, value, &on) < 0)
			return -1;
		if (on && !strcmp(key, "kernel-tx-zerocopy"))
			handoff_config_kernel_tx_zerocopy(s->cfg);
		else if (on)
			handoff_config_kernel_rx_no_pad(s->cfg);
		return 0;
	}

	if (!strcmp(key, "no-key-update")) {
		if (flag(s, value, &on) < 0)
			return -1;
		if (on)
			handoff_config_no_key_update(s->cfg);
		return 0;
	}

	/* Weaker settings: only ever switched on, and only by their full name. */
	if (!strcmp(key, "insecure-noverifycert") || !strcmp(key, "insecure-noverifyname") ||
	    !strcmp(key, "insecure-noverifytime") ||
	    !strcmp(key, "insecure-userspace-fallback")) {
		if (flag(s, value, &on) < 0)
			return -1;
		if (!on)
			return 0;
		if (!strcmp(key, "insecure-noverifycert"))
			handoff_config_insecure_noverifycert(s->cfg);
		else if (!strcmp(key, "insecure-noverifyname"))
			handoff_config_insecure_noverifyname(s->cfg);
		else if (!strcmp(key, "insecure-noverifytime"))
			handoff_config_insecure_noverifytime(s->cfg);
		else
			handoff_config_insecure_userspace_fallback(s->cfg);
		return 0;
	}
	return 1;
}

static int apply_psk(struct settings *s)
{
	uint8_t key[PSK_MAX];
	size_t key_len = 0;
	char *file_identity = NULL;
	const char *identity;
	int ret;

	if (!s->psk_file) {
		if (s->psk_identity)
			return fail(s, "psk-identity needs psk-file");
		return 0;
	}
	if (read_psk_file(s, s->psk_file, key, &key_len, &file_identity) < 0)
		return -1;
	note_exposed(s, "psk-file", s->psk_file);
	identity = s->psk_identity ? s->psk_identity : file_identity;
	if (!identity || !*identity) {
		ret = fail(s, "psk-file %s: no identity (set psk-identity)", s->psk_file);
	} else {
		ret = handoff_config_set_psk(s->cfg, identity, key, key_len);
		if (ret < 0)
			config_failed(s);
		else
			s->has_identity = true;
	}
	explicit_bzero(key, sizeof(key));
	free(file_identity);
	return ret;
}

int settings_finish(struct settings *s)
{
	s->err[0] = '\0';
	if (s->cert || s->key)
		return fail(s, "cert and key go together (%s %s given alone)", s->cert ? "cert" : "key",
			    s->cert ? s->cert : s->key);
	return apply_psk(s);
}
