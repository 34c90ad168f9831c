/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's configuration: our own /etc/handoff/handoffd.conf, and
 * tlshd's file (/etc/tlshd/config, /etc/tlshd.conf) read unchanged.  Both
 * are INI files parsed with libinih and share one vocabulary: tlshd's
 * sections and keys, plus a [handoffd] section of our own.
 *
 * tlshd's keys (ktls-utils 1.x, tlshd.conf(5)):
 *	[debug]			loglevel, tls, nl, delay_done
 *	[authenticate]		keyrings = name;name;...
 *	[authenticate.client]	x509.truststore, x509.crl,
 *	[authenticate.server]	x509.certificate, x509.private_key,
 *				x509.pq.certificate, x509.pq.private_key
 * Ours:
 *	[handoffd]		workers, max-handshakes, timeout (ms)
 *	[authenticate.server]	x509.allowed_subjects = DN;DN;...  (tlshd has
 *				no way to say which clients a server accepts)
 *	[custody], [identity NAME]	key custody for local processes (custody.h)
 *
 * In a tlshd file an unknown section or key is reported and skipped, as
 * tlshd itself skips it; in handoffd.conf it is an error.  Keys tlshd
 * honours and we cannot are reported by name either way, never dropped
 * silently.
 */
#ifndef HANDOFFD_CONFIG_H
#define HANDOFFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum hd_conf_format {
	HD_CONF_HANDOFFD,	/* strict: unknown names are errors */
	HD_CONF_TLSHD,		/* tlshd's: unknown names are notes */
};

#define HD_CONF_MAX_KEYRINGS 16
#define HD_CONF_MAX_SUBJECTS 32

struct hd_custody_conf;

struct hd_conf_side {
	char *truststore;	/* PEM CA bundle; NULL: the system store */
	char *crl;
	char *certificate;	/* PEM chain, used when the kernel sends none */
	char *private_key;
	/*
	 * Servers: when set, a client must present a certificate whose
	 * subject is one of these DNs (RFC 4514, as "CN=host,O=org").
	 */
	char *allowed_subjects[HD_CONF_MAX_SUBJECTS];
	size_t n_allowed_subjects;
};

struct hd_conf {
	char *path;
	enum hd_conf_format format;
	int loglevel;		/* [debug] loglevel */
	int tls_debug;		/* [debug] tls: GnuTLS's own log level */
	int nl_debug;		/* [debug] nl */
	char *keyrings[HD_CONF_MAX_KEYRINGS];
	size_t n_keyrings;
	struct hd_conf_side client, server;
	/*
	 * Set by the daemon: 1 at start, one more per successful reload.  The
	 * workers' credential caches (credcache.h) and the status socket's
	 * config-generation both go by it.
	 */
	unsigned long generation;
	unsigned workers;	/* threads doing handshakes */
	unsigned max_handshakes;	/* accepted and not yet done */
	unsigned timeout_ms;	/* when the kernel sets none */
	struct hd_custody_conf *custody;	/* [custody], [identity NAME]; NULL: none (custody.h) */
};

/*
 * A note about a name we skip or cannot honour: text like
 * "/etc/tlshd.conf:7: [authenticate.client] x509.pq.certificate: not
 * supported: ..." for the caller to log.
 */
typedef void (*hd_conf_note_fn)(void *ctx, const char *text);

/* hd_conf_init - the defaults, no file.  hd_conf_free() releases. */
void hd_conf_init(struct hd_conf *conf);
void hd_conf_free(struct hd_conf *conf);

/*
 * hd_conf_load - parse path into conf (initialised here; on failure it is
 * freed again and holds nothing).  Returns 0, or a negative errno with a
 * one-line reason naming file, line, section and key in err:
 * -ENOENT/-EACCES (cannot open), -EINVAL (a bad value, an unknown name in
 * a strict file, a syntax error).  note may be NULL.
 */
int hd_conf_load(struct hd_conf *conf, const char *path, enum hd_conf_format format,
		 hd_conf_note_fn note, void *note_ctx, char *err, size_t err_size);

/* hd_conf_parse_string - the same on text in memory (tests, fuzzing). */
int hd_conf_parse_string(struct hd_conf *conf, const char *name, const char *text,
			 enum hd_conf_format format, hd_conf_note_fn note, void *note_ctx,
			 char *err, size_t err_size);

/* The format a file is read in: handoffd.conf is ours, anything else tlshd's. */
enum hd_conf_format hd_conf_format_for(const char *path);

#endif
