/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libinih does the INI syntax; this file gives the names their meaning.
 * libinih's handler is not told the line number in Debian's build
 * (INI_HANDLER_LINENO is 0), so our reader counts the lines it hands over.
 */
#include "common.h"

#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/custody.h"

#define DEFAULT_WORKERS 8
#define DEFAULT_MAX_HANDSHAKES 64
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_WORKERS 1024

struct parse {
	struct hd_conf *conf;
	const char *name;	/* the file, for messages */
	unsigned line;		/* of the text inih is looking at */
	bool at_line_start;
	hd_conf_note_fn note;
	void *note_ctx;
	char *err;
	size_t err_size;
	int ret;		/* first error, negative errno */
	unsigned err_line;	/* its line */
	/* the input: a FILE or a string */
	FILE *file;
	const char *text;
};

void hd_conf_init(struct hd_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->workers = DEFAULT_WORKERS;
	conf->max_handshakes = DEFAULT_MAX_HANDSHAKES;
	conf->timeout_ms = DEFAULT_TIMEOUT_MS;
}

static void free_side(struct hd_conf_side *side)
{
	for (size_t i = 0; i < side->n_allowed_subjects; i++)
		free(side->allowed_subjects[i]);
	free(side->truststore);
	free(side->crl);
	free(side->certificate);
	free(side->private_key);
}

void hd_conf_free(struct hd_conf *conf)
{
	if (!conf)
		return;
	free(conf->path);
	for (size_t i = 0; i < conf->n_keyrings; i++)
		free(conf->keyrings[i]);
	free_side(&conf->client);
	free_side(&conf->server);
	hd_custody_conf_free(conf->custody);
	hd_conf_init(conf);
}

enum hd_conf_format hd_conf_format_for(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strcmp(base, "handoffd.conf") == 0 ? HD_CONF_HANDOFFD : HD_CONF_TLSHD;
}

/* ------------------------------------------------------------- readers */

/*
 * Counts a line each time inih asks for one after the previous ended.
 * Also: GKeyFile (tlshd) has no inline comments, but Debian's inih takes
 * " ;" inside a value as the start of one, which would cut a keyring list
 * written "a ; b".  Whitespace before a ';' is dropped instead, unless the
 * line is a comment as a whole.
 */
static void count_line(struct parse *p, char *got)
{
	size_t lead = strspn(got, " \t");
	char *out = got + lead, *in = got + lead;

	if (p->at_line_start)
		p->line++;
	p->at_line_start = strchr(got, '\n') != NULL;
	if (*in == ';' || *in == '#')
		return;
	for (; *in; in++) {
		if (*in == ';') {
			while (out > got + lead && (out[-1] == ' ' || out[-1] == '\t'))
				out--;
		}
		*out++ = *in;
	}
	*out = '\0';
}

static char *read_file_line(char *str, int num, void *stream)
{
	struct parse *p = stream;

	if (!fgets(str, num, p->file))
		return NULL;
	count_line(p, str);
	return str;
}

static char *read_text_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t n = 0;

	if (!*p->text || num < 2)
		return NULL;
	while (p->text[n] && p->text[n] != '\n' && n < (size_t)num - 2)
		n++;
	if (p->text[n] == '\n')
		n++;
	memcpy(str, p->text, n);
	str[n] = '\0';
	p->text += n;
	count_line(p, str);
	return str;
}

/* ------------------------------------------------------------ messages */

static void __attribute__((format(printf, 4, 5)))
fail(struct parse *p, const char *section, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (p->ret)
		return;		/* the first error is the one to fix first */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->err_size, "%s:%u: [%s] %s: %s", p->name, p->line, section, key, why);
	p->ret = -EINVAL;
	p->err_line = p->line;
}

static void __attribute__((format(printf, 4, 5)))
note(struct parse *p, const char *section, const char *key, const char *fmt, ...)
{
	char why[256], text[512];
	va_list ap;

	if (!p->note)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%s:%u: [%s] %s: %s", p->name, p->line, section, key, why);
	p->note(p->note_ctx, text);
}

/* An unknown name: skipped in tlshd's file (as tlshd skips it), fatal in ours. */
static void unknown(struct parse *p, const char *section, const char *key)
{
	if (p->conf->format == HD_CONF_TLSHD)
		note(p, section, key, "unknown, ignored");
	else
		fail(p, section, key, "unknown key");
}

/* ------------------------------------------------------------- values */

static bool get_uint(struct parse *p, const char *section, const char *key, const char *value,
		     unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (!*value || *end || errno || value[0] == '-' || v < min || v > max) {
		fail(p, section, key, "\"%s\" is not a number from %u to %u", value, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

static void set_int(struct parse *p, const char *section, const char *key, const char *value,
		    int *out)
{
	unsigned v;

	if (get_uint(p, section, key, value, 0, 1000, &v))
		*out = (int)v;
}

static void set_path(struct parse *p, const char *section, const char *key, const char *value,
		     char **out)
{
	char *copy;

	if (!*value) {
		fail(p, section, key, "empty path");
		return;
	}
	copy = strdup(value);
	if (!copy) {
		p->ret = p->ret ? p->ret : -ENOMEM;
		return;
	}
	free(*out);
	*out = copy;
}

/* tlshd's lists are GKeyFile lists: names separated by ';'. */
static void set_list(struct parse *p, const char *section, const char *key, const char *value,
		     char **items, size_t *n_items, size_t max, const char *what)
{
	const char *s = value;

	while (*s) {
		size_t n = strcspn(s, ";");
		const char *name = s;

		s += n;
		if (*s == ';')
			s++;
		while (n && (*name == ' ' || *name == '\t')) {
			name++;
			n--;
		}
		while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		if (*n_items >= max) {
			fail(p, section, key, "more than %zu %s", max, what);
			return;
		}
		items[*n_items] = strndup(name, n);
		if (!items[*n_items]) {
			p->ret = p->ret ? p->ret : -ENOMEM;
			return;
		}
		(*n_items)++;
	}
}

/* ------------------------------------------------------------ sections */

static void side_key(struct parse *p, const char *section, const char *key, const char *value,
		     struct hd_conf_side *side)
{
	if (strcmp(key, "x509.truststore") == 0)
		set_path(p, section, key, value, &side->truststore);
	else if (strcmp(key, "x509.crl") == 0)
		set_path(p, section, key, value, &side->crl);
	else if (strcmp(key, "x509.certificate") == 0)
		set_path(p, section, key, value, &side->certificate);
	else if (strcmp(key, "x509.private_key") == 0)
		set_path(p, section, key, value, &side->private_key);
	else if (strcmp(key, "x509.allowed_subjects") == 0 && side == &p->conf->server)
		set_list(p, section, key, value, side->allowed_subjects, &side->n_allowed_subjects,
			 HD_CONF_MAX_SUBJECTS, "subjects");
	else if (strcmp(key, "x509.pq.certificate") == 0 ||
		 strcmp(key, "x509.pq.private_key") == 0)
		note(p, section, key,
		     "not supported: post-quantum (ML-DSA) certificates need GnuTLS 3.8.9 or later; "
		     "the classic x509.certificate is used");
	else
		unknown(p, section, key);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct hd_conf *conf = p->conf;
	char why[256];
	int ret;

	if (strcmp(section, "debug") == 0) {
		if (strcmp(key, "loglevel") == 0)
			set_int(p, section, key, value, &conf->loglevel);
		else if (strcmp(key, "tls") == 0)
			set_int(p, section, key, value, &conf->tls_debug);
		else if (strcmp(key, "nl") == 0)
			set_int(p, section, key, value, &conf->nl_debug);
		else if (strcmp(key, "delay_done") == 0)
			note(p, section, key, "not supported (a tlshd test hook), ignored");
		else
			unknown(p, section, key);
	} else if (strcmp(section, "authenticate") == 0) {
		if (strcmp(key, "keyrings") == 0)
			set_list(p, section, key, value, conf->keyrings, &conf->n_keyrings,
				 HD_CONF_MAX_KEYRINGS, "keyrings");
		else
			unknown(p, section, key);
	} else if (strcmp(section, "authenticate.client") == 0) {
		side_key(p, section, key, value, &conf->client);
	} else if (strcmp(section, "authenticate.server") == 0) {
		side_key(p, section, key, value, &conf->server);
	} else if (strcmp(section, "handoffd") == 0) {
		if (strcmp(key, "workers") == 0)
			get_uint(p, section, key, value, 1, MAX_WORKERS, &conf->workers);
		else if (strcmp(key, "max-handshakes") == 0)
			get_uint(p, section, key, value, 1, 65536, &conf->max_handshakes);
		else if (strcmp(key, "timeout") == 0)
			get_uint(p, section, key, value, 100, 3600000, &conf->timeout_ms);
		else
			unknown(p, section, key);
	} else if ((ret = hd_custody_conf_key(&conf->custody, section, key, value, p->line, why,
					      sizeof(why))) <= 0) {
		if (ret < 0)
			fail(p, section, key, "%s", why);
	} else if (!*section) {
		fail(p, "", key, "outside any section");
	} else {
		unknown(p, section, key);
	}
	/* Our errors are in p->ret; inih's return value only reports syntax. */
	return 1;
}

static int finish(struct parse *p, int ini_ret)
{
	struct hd_conf *conf = p->conf;

	/* inih reports syntax only at the end: the earlier error is the first. */
	if (ini_ret > 0 && (!p->ret || (p->ret == -EINVAL && (unsigned)ini_ret <= p->err_line))) {
		snprintf(p->err, p->err_size, "%s:%d: syntax error (not \"key = value\" or \"[section]\")",
			 p->name, ini_ret);
		p->ret = -EINVAL;
	}
	if (!p->ret) {
		char why[512];
		unsigned line = 0;

		if (hd_custody_conf_finish(conf->custody, why, sizeof(why), &line) < 0) {
			snprintf(p->err, p->err_size, "%s:%u: %s", p->name, line, why);
			p->ret = -EINVAL;
		}
	}
	if (!p->ret && conf->max_handshakes < conf->workers)
		conf->max_handshakes = conf->workers;
	if (!p->ret) {
		conf->path = strdup(p->name);
		if (!conf->path)
			p->ret = -ENOMEM;
	}
	if (p->ret == -ENOMEM)
		snprintf(p->err, p->err_size, "%s: out of memory", p->name);
	if (p->ret)
		hd_conf_free(conf);
	return p->ret;
}

int hd_conf_parse_string(struct hd_conf *conf, const char *name, const char *text,
			 enum hd_conf_format format, hd_conf_note_fn note_fn, void *note_ctx,
			 char *err, size_t err_size)
{
	struct parse p = {
		.conf = conf, .name = name, .at_line_start = true, .note = note_fn,
		.note_ctx = note_ctx, .err = err, .err_size = err_size, .text = text,
	};

	hd_conf_init(conf);
	conf->format = format;
	return finish(&p, ini_parse_stream(read_text_line, &p, handler, &p));
}

int hd_conf_load(struct hd_conf *conf, const char *path, enum hd_conf_format format,
		 hd_conf_note_fn note_fn, void *note_ctx, char *err, size_t err_size)
{
	struct parse p = {
		.conf = conf, .name = path, .at_line_start = true, .note = note_fn,
		.note_ctx = note_ctx, .err = err, .err_size = err_size,
	};
	int ret;

	hd_conf_init(conf);
	conf->format = format;
	p.file = fopen(path, "re");
	if (!p.file) {
		ret = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = ini_parse_stream(read_file_line, &p, handler, &p);
	fclose(p.file);
	return finish(&p, ret);
}
