/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading the shim's INI file.  libinih does the parsing; this file says
 * what the sections and keys mean, and where a mistake is.
 *
 * libinih (Debian's build) neither reports line numbers to the handler nor
 * calls it for a section that has no keys, and `[connect example.com:443]`
 * alone is a complete rule.  So the lines reach libinih through our reader,
 * which counts them and notices section headers as they pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/conf.h"
#include "settings/settings.h"

#define CONF_CACHE_ENTRIES 256

struct loader {
	const char *name;	/* file name for messages */
	struct shim_conf *conf;
	unsigned line;		/* the line libinih is on */
	char section[256];	/* the section being filled */
	struct shim_rule *rule;	/* its rule, NULL for [shim] */
	struct settings *set;	/* the rule's settings, until the section ends */
	bool failed;
	char *err;
	size_t errlen;
	/* The source: a FILE or a string. */
	FILE *file;
	const char *text;
};

static void lfail(struct loader *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void lfail(struct loader *l, const char *key, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	if (l->failed)
		return;	/* the first mistake is the one to fix */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(l->err, l->errlen, "%s:%u: [%s] %s: %s", l->name, l->line, l->section,
			 key, why);
	else
		snprintf(l->err, l->errlen, "%s:%u: [%s]: %s", l->name, l->line, l->section, why);
	l->failed = true;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 65535 || s[0] == '-' || s[0] == '+')
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * "PORT", "HOST:PORT", "HOST PORT", "*:PORT".  An IPv6 address takes the
 * space form ([accept ::1 8443]): INI section names end at the first ']',
 * so the usual [::1]:8443 cannot be written inside one.  HOST is an
 * address, or for connect a name or *.domain.
 */
static int parse_spec(struct loader *l, struct shim_rule *r, const char *spec)
{
	char host[256];
	const char *sep, *port;
	size_t hl;

	if (!*spec) {
		lfail(l, NULL, "needs a port: [%s PORT] or [%s HOST:PORT]",
		      r->kind == SHIM_RULE_ACCEPT ? "accept" : "connect",
		      r->kind == SHIM_RULE_ACCEPT ? "accept" : "connect");
		return -1;
	}
	r->family = AF_UNSPEC;
	if (spec[0] == '[') {
		lfail(l, NULL, "'%s': write an IPv6 address without brackets, then a space and "
			       "the port ([accept ::1 8443])", spec);
		return -1;
	}
	sep = strchr(spec, ' ');
	if (!sep && strchr(spec, ':') != strrchr(spec, ':')) {
		lfail(l, NULL, "'%s': an IPv6 address is followed by a space and the port "
			       "([accept ::1 8443])", spec);
		return -1;
	}
	if (!sep)
		sep = strrchr(spec, ':');
	if (sep) {
		hl = (size_t)(sep - spec);
		if (hl == 0 || hl >= sizeof(host)) {
			lfail(l, NULL, "'%s': the host before the port is empty or too long", spec);
			return -1;
		}
		memcpy(host, spec, hl);
		host[hl] = '\0';
		port = sep + 1;
		while (*port == ' ')
			port++;
		if (!strcmp(host, "*")) {
			/* any address */
		} else if (inet_pton(AF_INET, host, r->addr) == 1) {
			r->family = AF_INET;
		} else if (inet_pton(AF_INET6, host, r->addr) == 1) {
			r->family = AF_INET6;
		} else if (strchr(host, ':')) {
			lfail(l, NULL, "'%s' is not an IPv6 address", host);
			return -1;
		} else if (r->kind == SHIM_RULE_ACCEPT) {
			lfail(l, NULL, "'%s' is not a local address (accept takes ADDR:PORT or PORT)",
			      host);
			return -1;
		} else if (strchr(host, '*') &&
			   (strncmp(host, "*.", 2) != 0 || !host[2] || strchr(host + 1, '*'))) {
			/* "*example.com" would otherwise match "badexample.com". */
			lfail(l, NULL, "'%s': a wildcard is '*.' and then a domain (*.example.com)",
			      host);
			return -1;
		} else if (!(r->host = strdup(host))) {
			lfail(l, NULL, "out of memory");
			return -1;
		}
	} else {
		port = spec;
	}
	if (parse_port(port, &r->port) < 0) {
		lfail(l, NULL, "'%s' is not a port (1-65535)", port);
		return -1;
	}
	return 0;
}

/* The section that just ended: turn its settings into the rule's config. */
static void end_section(struct loader *l)
{
	struct shim_rule *r = l->rule;
	unsigned line = l->line;

	/* What is wrong with a section as a whole is reported at its header. */
	if (r)
		l->line = r->line;

	if (r && !l->failed && r->plaintext && r->delegate) {
		lfail(l, NULL, "insecure-plaintext and delegate contradict each other");
	} else if (r && !l->failed && r->delegate) {
		if (!r->identity)
			lfail(l, NULL, "delegate needs identity = NAME (an [identity NAME] of handoffd)");
		else if (settings_finish(l->set) < 0)
			lfail(l, NULL, "%s", settings_error(l->set));
		else {
			r->timeout_ms = settings_timeout_ms(l->set);
			if (settings_servername(l->set) && !(r->servername = strdup(settings_servername(l->set))))
				lfail(l, NULL, "out of memory");
		}
	} else if (r && !l->failed && r->identity) {
		lfail(l, NULL, "identity is handoffd's: it needs delegate = SOCKET");
	} else if (r && !l->failed && !r->plaintext) {
		if (settings_finish(l->set) < 0) {
			lfail(l, NULL, "%s", settings_error(l->set));
		} else if (r->kind == SHIM_RULE_ACCEPT && !settings_has_identity(l->set)) {
			lfail(l, NULL, "a TLS server needs cert and key (or psk-file)");
		} else {
			if (settings_warnings(l->set) &&
			    !(r->warnings = strdup(settings_warnings(l->set))))
				lfail(l, NULL, "out of memory");
			r->cfg = settings_take_config(l->set);
			r->timeout_ms = settings_timeout_ms(l->set);
			if (settings_servername(l->set) && !(r->servername = strdup(settings_servername(l->set))))
				lfail(l, NULL, "out of memory");
			if (r->kind == SHIM_RULE_CONNECT) {
				r->cache = handoff_cache_new(CONF_CACHE_ENTRIES);
				if (!r->cache)
					lfail(l, NULL, "out of memory");
				else
					handoff_config_set_session_cache(r->cfg, r->cache);
			}
		}
	}
	settings_free(l->set);
	l->set = NULL;
	l->rule = NULL;
	l->line = line;
}

static void begin_section(struct loader *l, const char *section)
{
	struct shim_conf *c = l->conf;
	struct shim_rule *r, *grown;
	const char *spec;
	enum shim_rule_kind kind;

	end_section(l);
	snprintf(l->section, sizeof(l->section), "%s", section);
	if (l->failed)
		return;
	if (!strcmp(section, "shim"))
		return;
	if (!strncmp(section, "accept", 6) && (section[6] == ' ' || !section[6])) {
		kind = SHIM_RULE_ACCEPT;
		spec = section + 6;
	} else if (!strncmp(section, "connect", 7) && (section[7] == ' ' || !section[7])) {
		kind = SHIM_RULE_CONNECT;
		spec = section + 7;
	} else {
		lfail(l, NULL, "unknown section (the sections are [shim], [accept ...] and "
			       "[connect ...])");
		return;
	}
	while (*spec == ' ')
		spec++;
	grown = realloc(c->rules, (c->n_rules + 1) * sizeof(*c->rules));
	if (!grown) {
		lfail(l, NULL, "out of memory");
		return;
	}
	c->rules = grown;
	r = &c->rules[c->n_rules++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->line = l->line;
	r->spec = strdup(spec);
	l->set = settings_new();
	if (!r->spec || !l->set) {
		lfail(l, NULL, "out of memory");
		return;
	}
	l->rule = r;
	if (kind == SHIM_RULE_ACCEPT)
		c->n_accept++;
	else
		c->n_connect++;
	parse_spec(l, r, spec);
}

static int shim_key(struct loader *l, const char *key, const char *value)
{
	struct shim_conf *c = l->conf;
	int on;

	if (!strcmp(key, "log")) {
		free(c->log_path);
		c->log_path = NULL;
		if (!strcmp(value, "syslog")) {
			c->log = SHIM_LOG_SYSLOG;
		} else if (!strcmp(value, "stderr")) {
			c->log = SHIM_LOG_STDERR;
		} else if (value[0] == '/') {
			c->log = SHIM_LOG_FILE;
			if (!(c->log_path = strdup(value)))
				lfail(l, key, "out of memory");
		} else {
			lfail(l, key, "'%s': syslog, stderr or an absolute file path", value);
		}
		return 1;
	}
	if (!strcmp(key, "debug")) {
		if ((on = settings_parse_bool(value)) < 0)
			lfail(l, key, "'%s' is not yes or no", value);
		c->debug = on == 1;
		return 1;
	}
	lfail(l, key, "unknown key (the [shim] keys are log and debug)");
	return 1;
}

/* delegate = SOCKET, identity = NAME: the handshake is handoffd's (key custody). */
static int delegate_key(struct loader *l, const char *key, const char *value)
{
	struct shim_rule *r = l->rule;
	const char *s;
	char **slot = !strcmp(key, "delegate") ? &r->delegate : &r->identity;

	if (!strcmp(key, "delegate")) {
		if (value[0] != '/' || strlen(value) >= 108) {
			lfail(l, key, "'%s': the absolute path of handoffd's custody socket "
				      "(shorter than 108 bytes)", value);
			return 1;
		}
		if (r->tls_key_line) {
			lfail(l, key, "this rule loads TLS keys into the program (line %u); delegated "
				      "mode keeps them in handoffd: remove one or the other",
			      r->tls_key_line);
			return 1;
		}
		r->delegate_line = l->line;
	} else {
		for (s = value; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
				break;
		if (!*value || *s || strlen(value) > 64) {
			lfail(l, key, "'%s': an identity name is 1 to 64 of A-Z a-z 0-9 . _ -", value);
			return 1;
		}
	}
	free(*slot);
	if (!(*slot = strdup(value)))
		lfail(l, key, "out of memory");
	return 1;
}

static int rule_key(struct loader *l, const char *key, const char *value)
{
	struct shim_rule *r = l->rule;
	int on, ret;

	if (!strcmp(key, "insecure-plaintext") || !strcmp(key, "verify-address")) {
		if ((on = settings_parse_bool(value)) < 0) {
			lfail(l, key, "'%s' is not yes or no", value);
			return 1;
		}
		if (!strcmp(key, "insecure-plaintext"))
			r->plaintext = on;
		else if (r->kind == SHIM_RULE_CONNECT)
			r->verify_address = on;
		else
			lfail(l, key, "only [connect ...] sections verify a server's address");
		return 1;
	}
	/*
	 * The program reads and writes the socket itself: records encrypted in
	 * user space would reach it as ciphertext.  Kernel TLS or nothing.
	 */
	if (!strcmp(key, "insecure-userspace-fallback")) {
		lfail(l, key, "not possible under the shim (the program reads the socket itself); "
			      "load the tls module instead");
		return 1;
	}
	if (!strcmp(key, "servername") && r->kind == SHIM_RULE_ACCEPT) {
		lfail(l, key, "only [connect ...] sections send a server name");
		return 1;
	}
	if (!strcmp(key, "delegate") || !strcmp(key, "identity"))
		return delegate_key(l, key, value);
	/*
	 * In delegated mode the TLS policy is handoffd's identity: a key (or a
	 * CA, a cipher list...) here would load into the program exactly what
	 * delegation keeps out of it, or be silently ignored.  Either way: no.
	 */
	if (strcmp(key, "timeout") != 0 && strcmp(key, "servername") != 0) {
		if (r->delegate) {
			lfail(l, key, "this rule is delegated (delegate on line %u): the key and the "
				      "TLS policy are handoffd's [identity %s]; remove %s or delegate",
			      r->delegate_line, r->identity ? r->identity : "NAME", key);
			return 1;
		}
		if (!r->tls_key_line)
			r->tls_key_line = l->line;
	}
	ret = settings_set(l->set, key, value);
	if (ret < 0)
		lfail(l, key, "%s", settings_error(l->set));
	else if (ret > 0)
		lfail(l, key, "unknown key");
	return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct loader *l = user;

	/* Our reader saw every header already; this catches what it could not. */
	if (strcmp(section, l->section))
		begin_section(l, section);
	if (l->failed)
		return 1;	/* keep libinih going; the first error is reported */
	if (!*section) {
		lfail(l, key, "a key before any section");
		return 1;
	}
	if (!l->rule)
		return shim_key(l, key, value);
	return rule_key(l, key, value);
}

/* One line to libinih, noticing section headers on the way. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	char *p, *end;
	size_t n;

	if (l->file) {
		if (!fgets(str, num, l->file))
			return NULL;
	} else {
		if (!*l->text)
			return NULL;
		n = strcspn(l->text, "\n");
		if (l->text[n] == '\n')
			n++;
		if (n > (size_t)num - 1)
			n = (size_t)num - 1;
		memcpy(str, l->text, n);
		str[n] = '\0';
		l->text += n;
	}
	l->line++;
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[' && (end = strchr(p, ']'))) {
		char name[256];
		size_t len = (size_t)(end - p - 1);

		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		/* libinih trims the name the same way before it calls the handler. */
		while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			name[--len] = '\0';
		for (p = name; *p == ' ' || *p == '\t'; p++)
			;
		if (strcmp(p, l->section))
			begin_section(l, p);
	}
	return str;
}

static int load(struct loader *l, struct shim_conf **out)
{
	int ret;

	l->conf = calloc(1, sizeof(*l->conf));
	if (!l->conf) {
		snprintf(l->err, l->errlen, "%s: out of memory", l->name);
		return -1;
	}
	ret = ini_parse_stream(reader, l, handler, l);
	end_section(l);
	if (ret < 0 && !l->failed)
		snprintf(l->err, l->errlen, "%s: cannot read it", l->name);
	else if (ret > 0 && !l->failed)
		snprintf(l->err, l->errlen, "%s:%d: not an INI line (or longer than %d characters)",
			 l->name, ret, INI_MAX_LINE);
	else if (!ret && !l->failed && !l->conf->n_rules)
		snprintf(l->err, l->errlen, "%s: no [accept ...] or [connect ...] section: "
			 "nothing would be protected", l->name);
	else if (!ret && !l->failed) {
		*out = l->conf;
		return 0;
	}
	shim_conf_free(l->conf);
	return -1;
}

int shim_conf_load_file(const char *path, struct shim_conf **out, char *err, size_t errlen)
{
	struct loader l = { .name = path, .err = err, .errlen = errlen };
	int ret;

	l.file = fopen(path, "re");
	if (!l.file) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ret = load(&l, out);
	fclose(l.file);
	return ret;
}

int shim_conf_load_string(const char *text, const char *name, struct shim_conf **out,
			  char *err, size_t errlen)
{
	struct loader l = { .name = name, .err = err, .errlen = errlen, .text = text };

	return load(&l, out);
}

void shim_conf_free(struct shim_conf *conf)
{
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->n_rules; i++) {
		struct shim_rule *r = &conf->rules[i];

		handoff_config_free(r->cfg);
		handoff_cache_free(r->cache);
		free(r->spec);
		free(r->host);
		free(r->servername);
		free(r->warnings);
		free(r->delegate);
		free(r->identity);
	}
	free(conf->rules);
	free(conf->log_path);
	free(conf);
}
