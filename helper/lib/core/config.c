/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The config object: everything about policy, nothing about a connection.
 */
#include "common.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "core/certselect.h"
#include "core/config.h"
#include "core/conn.h"
#include "handshake/session.h"
#include "util/pem.h"
#include "util/wipe.h"

#define TICKET_KEY_SIZE 64	/* GnuTLS's ticket master key */
#define PSK_MAX_LEN 512

static int psk_server_key(gnutls_session_t session, const gnutls_datum_t *identity,
			  gnutls_datum_t *key);
static int psk_key_for(const struct handoff_config *cfg, const char *username,
		       gnutls_datum_t *key);

struct handoff_config *handoff_config_new(void)
{
	struct handoff_config *cfg;
	size_t i;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	cfg->refs = 1;
	cfg->protocols = HANDOFF_PROTOCOLS_DEFAULT;
	for (i = 0; i < HANDOFF_CIPHER_COUNT; i++)
		cfg->ciphers[i] = (enum handoff_cipher)i;
	cfg->n_ciphers = HANDOFF_CIPHER_COUNT;
	cfg->timeout_ms = 30000;
	pthread_mutex_init(&cfg->x509_lock, NULL);
	pthread_mutex_init(&cfg->prio_lock, NULL);

	if (gnutls_certificate_allocate_credentials(&cfg->x509) < 0)
		goto err_free;
	/* A random per-config key: tickets work out of the box on one server. */
	if (gnutls_session_ticket_key_generate(&cfg->ticket_key) < 0)
		goto err_x509;
	cfg->server_db = session_db_new(4096);
	if (!cfg->server_db)
		goto err_ticket;
	cfg->select = certselect_new();
	if (!cfg->select)
		goto err_db;
	return cfg;

err_db:
	session_db_free(cfg->server_db);
err_ticket:
	wipe(cfg->ticket_key.data, cfg->ticket_key.size);
	gnutls_free(cfg->ticket_key.data);
err_x509:
	gnutls_certificate_free_credentials(cfg->x509);
err_free:
	pthread_mutex_destroy(&cfg->x509_lock);
	pthread_mutex_destroy(&cfg->prio_lock);
	free(cfg);
	errno = ENOMEM;
	return NULL;
}

struct handoff_config *config_ref(struct handoff_config *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

void config_unref(struct handoff_config *cfg)
{
	size_t i;

	if (!cfg || __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;

	certselect_free(cfg->select);
	gnutls_certificate_free_credentials(cfg->x509);
	for (i = 0; i < cfg->n_keypairs; i++)
		keypair_clear(&cfg->keypairs[i]);
	free(cfg->keypairs);
	if (cfg->psk_client)
		gnutls_psk_free_client_credentials(cfg->psk_client);
	if (cfg->psk_server)
		gnutls_psk_free_server_credentials(cfg->psk_server);
	free(cfg->psk_identity);
	wipe_free(cfg->psk_key.data, cfg->psk_key.size);
	wipe(cfg->ticket_key.data, cfg->ticket_key.size);
	gnutls_free(cfg->ticket_key.data);
	free(cfg->alpn_buf);
	for (i = 0; i < cfg->n_allowed_subjects; i++)
		free(cfg->allowed_subjects[i]);
	free(cfg->allowed_subjects);
	session_db_free(cfg->server_db);
	errbuf_release(&cfg->err);
	for (i = 0; i < CONFIG_PRIO_SLOTS && cfg->prio_cache[i].text; i++) {
		gnutls_priority_deinit(cfg->prio_cache[i].prio);
		free(cfg->prio_cache[i].text);
	}
	pthread_mutex_destroy(&cfg->x509_lock);
	pthread_mutex_destroy(&cfg->prio_lock);
	free(cfg);
}

int config_priority_set(struct handoff_config *cfg, gnutls_session_t session, const char *text,
			const char **errpos)
{
	gnutls_priority_t prio = NULL;
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&cfg->prio_lock);
	for (i = 0; i < CONFIG_PRIO_SLOTS && cfg->prio_cache[i].text; i++) {
		if (strcmp(cfg->prio_cache[i].text, text) == 0) {
			prio = cfg->prio_cache[i].prio;
			break;
		}
	}
	if (!prio && i < CONFIG_PRIO_SLOTS) {
		char *copy = strdup(text);

		ret = copy ? gnutls_priority_init(&prio, text, errpos) : GNUTLS_E_MEMORY_ERROR;
		if (ret == 0) {
			cfg->prio_cache[i].text = copy;
			cfg->prio_cache[i].prio = prio;
		} else {
			free(copy);
			prio = NULL;
		}
	}
	/* The cache entries live until the config is freed, so a session may keep using one. */
	if (prio)
		ret = gnutls_priority_set(session, prio);
	pthread_mutex_unlock(&cfg->prio_lock);
	if (!prio && ret == 0)	/* every slot taken by other strings: parse for this session only */
		ret = gnutls_priority_set_direct(session, text, errpos);
	return ret;
}

void handoff_config_free(struct handoff_config *cfg)
{
	config_unref(cfg);
}

const char *handoff_config_error(struct handoff_config *cfg)
{
	return cfg ? errbuf_get(&cfg->err) : NULL;
}

/* GnuTLS says "Error while reading file." for a missing file; errno is clearer. */
static int check_readable(struct handoff_config *cfg, const char *what, const char *path)
{
	if (!path || !*path)
		return errbuf_set(&cfg->err, "%s: no path given", what);
	if (access(path, R_OK) < 0)
		return errbuf_set_errno(&cfg->err, errno, "%s %s", what, path);
	return 0;
}

int handoff_config_add_ca_file(struct handoff_config *cfg, const char *path)
{
	int ret;

	if (check_readable(cfg, "CA file", path) < 0)
		return -1;
	ret = gnutls_certificate_set_x509_trust_file(cfg->x509, path, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return errbuf_set(&cfg->err, "CA file %s: %s", path, gnutls_strerror(ret));
	if (ret == 0)
		return errbuf_set(&cfg->err, "CA file %s: no PEM certificates in it", path);
	cfg->n_ca += (unsigned)ret;
	return 0;
}

int handoff_config_add_ca_dir(struct handoff_config *cfg, const char *path)
{
	int ret;

	if (check_readable(cfg, "CA directory", path) < 0)
		return -1;
	ret = gnutls_certificate_set_x509_trust_dir(cfg->x509, path, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return errbuf_set(&cfg->err, "CA directory %s: %s", path, gnutls_strerror(ret));
	if (ret == 0)
		return errbuf_set(&cfg->err, "CA directory %s: no PEM certificates in it", path);
	cfg->n_ca += (unsigned)ret;
	return 0;
}

int handoff_config_add_system_ca(struct handoff_config *cfg)
{
	int ret;

	pthread_mutex_lock(&cfg->x509_lock);
	if (cfg->system_ca) {
		pthread_mutex_unlock(&cfg->x509_lock);
		return 0;
	}
	ret = gnutls_certificate_set_x509_system_trust(cfg->x509);
	if (ret > 0) {
		cfg->system_ca = true;
		cfg->n_ca += (unsigned)ret;
	}
	pthread_mutex_unlock(&cfg->x509_lock);
	if (ret < 0)
		return errbuf_set(&cfg->err, "system trust store: %s", gnutls_strerror(ret));
	if (ret == 0)
		return errbuf_set(&cfg->err,
				  "system trust store is empty (install ca-certificates, or add a CA file)");
	return 0;
}

int config_x509_ready(struct handoff_config *cfg, struct errbuf *err)
{
	if (cfg->n_ca > 0 || cfg->system_ca)
		return 0;
	if (handoff_config_add_system_ca(cfg) < 0) {
		errbuf_set(err, "no trust anchors: %s", errbuf_get(&cfg->err));
		return -ENOENT;
	}
	return 0;
}

int handoff_config_add_crl_file(struct handoff_config *cfg, const char *path)
{
	int ret;

	if (check_readable(cfg, "CRL file", path) < 0)
		return -1;
	ret = gnutls_certificate_set_x509_crl_file(cfg->x509, path, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return errbuf_set(&cfg->err, "CRL file %s: %s", path, gnutls_strerror(ret));
	if (ret == 0)
		return errbuf_set(&cfg->err, "CRL file %s: no PEM CRLs in it", path);
	return 0;
}

#define KEY_FILE_MAX (1 << 20)

/*
 * Reads a private key file into memory that we wipe.  GnuTLS's own file
 * loader frees its copy of the PEM text without wiping it, which left the
 * key readable in freed heap for the life of the process (found by
 * tests/ktls/ktls_keysearch).  On success *buf is ours to wipe_free().
 */
static int read_key_file(struct handoff_config *cfg, const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set_errno(&cfg->err, errno, "key file %s", path);
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return errbuf_set_errno(&cfg->err, err, "key file %s", path);
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		close(fd);
		return errbuf_set(&cfg->err, "key file %s: not a regular file of 1 byte to 1 MiB", path);
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		return errbuf_set_errno(&cfg->err, ENOMEM, "key file %s", path);
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	err = n < 0 ? errno : 0;
	close(fd);
	if (err || !got) {
		wipe_free(*buf, (size_t)st.st_size);
		*buf = NULL;
		return err ? errbuf_set_errno(&cfg->err, err, "key file %s", path) :
			     errbuf_set(&cfg->err, "key file %s: empty", path);
	}
	*len = got;
	return 0;
}

static bool looks_like_pem(const uint8_t *buf, size_t len)
{
	static const char marker[] = "-----BEGIN ";

	return len >= sizeof(marker) - 1 && memmem(buf, len, marker, sizeof(marker) - 1);
}

#define CHAIN_MAX 16	/* GnuTLS's own verification depth */

static void chain_free(gnutls_pcert_st *chain, unsigned n)
{
	while (n)
		gnutls_pcert_deinit(&chain[--n]);
}

/* Our own copy of the (public) chain: core/certselect.c builds its credentials from it. */
static int keep_chain(struct config_keypair *kp, const gnutls_pcert_st *chain, unsigned n)
{
	unsigned i;

	kp->chain = calloc(n, sizeof(*kp->chain));
	if (!kp->chain)
		return -1;
	for (i = 0; i < n; i++) {
		kp->chain[i].data = malloc(chain[i].cert.size);
		if (!kp->chain[i].data)
			return -1;	/* keypair_clear() frees the ones made */
		memcpy(kp->chain[i].data, chain[i].cert.data, chain[i].cert.size);
		kp->chain[i].size = chain[i].cert.size;
		kp->n_chain = i + 1;
	}
	return 0;
}

/*
 * One more pair into the credentials, after the checks GnuTLS does not make
 * first (keypairs.h).  gnutls_certificate_set_x509_key_mem2() appends a pair
 * before it finds that key and certificate do not match, and leaves it
 * there: with several pairs, the refused one would still be chosen by its
 * names.  So we parse the pair ourselves (a PEM key decoded by util/pem.c
 * into memory we wipe, as GnuTLS's PEM decoder leaves the base64 body in
 * freed heap; then GnuTLS's DER parser), refuse a mismatch before GnuTLS
 * holds anything, and hand GnuTLS the parsed pair.  Our list grows first,
 * so once GnuTLS holds the pair nothing can fail and the two lists stay in
 * step.
 */
static int add_keypair(struct handoff_config *cfg, const gnutls_datum_t *cert,
		       const gnutls_datum_t *key, gnutls_x509_crt_fmt_t fmt, const char *cert_label,
		       const char *key_label)
{
	gnutls_pcert_st chain[CHAIN_MAX];
	unsigned n_chain = CHAIN_MAX;
	gnutls_privkey_t pkey = NULL;
	struct config_keypair kp, *grown;
	uint8_t *der = NULL;
	size_t der_len = 0;
	gnutls_datum_t k;
	const char *why;
	int ret;

	grown = realloc(cfg->keypairs, (cfg->n_keypairs + 1) * sizeof(*cfg->keypairs));
	if (!grown)
		return errbuf_set(&cfg->err, "certificate %s: out of memory", cert_label);
	cfg->keypairs = grown;

	ret = gnutls_pcert_list_import_x509_raw(chain, &n_chain, cert, fmt,
						GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
		return errbuf_set(&cfg->err, "certificate %s: a chain of more than %d certificates",
				  cert_label, CHAIN_MAX);
	if (ret < 0)
		return errbuf_set(&cfg->err, "certificate %s: %s", cert_label, gnutls_strerror(ret));
	if (keypair_describe(&chain[0].cert, GNUTLS_X509_FMT_DER, cert_label, &kp, &cfg->err) < 0)
		goto err_chain;
	if (keypair_conflict(cfg->keypairs, cfg->n_keypairs, &kp, &cfg->err) < 0)
		goto err_kp;
	if (keep_chain(&kp, chain, n_chain) < 0) {
		errbuf_set(&cfg->err, "certificate %s: out of memory", cert_label);
		goto err_kp;
	}
	if (looks_like_pem(key->data, key->size)) {
		if (pem_private_key(key->data, key->size, &der, &der_len, &why) < 0) {
			errbuf_set(&cfg->err, "key %s: %s", key_label, why);
			goto err_kp;
		}
		k.data = der;
		k.size = (unsigned)der_len;
	} else {
		k = *key;
	}
	ret = gnutls_privkey_init(&pkey);
	if (ret == 0)
		ret = gnutls_privkey_import_x509_raw(pkey, &k, GNUTLS_X509_FMT_DER, NULL, 0);
	wipe_free(der, der_len);
	if (ret < 0) {
		errbuf_set(&cfg->err, "certificate %s / key %s: %s", cert_label, key_label,
			   gnutls_strerror(ret));
		goto err_key;
	}
	if (!keypair_key_matches(pkey, chain[0].pubkey)) {
		errbuf_set(&cfg->err, "certificate %s / key %s: %s", cert_label, key_label,
			   gnutls_strerror(GNUTLS_E_CERTIFICATE_KEY_MISMATCH));
		goto err_key;
	}
	/* GnuTLS reads the names from the certificate itself (names NULL). */
	ret = gnutls_certificate_set_key(cfg->x509, NULL, 0, chain, (int)n_chain, pkey);
	if (ret < 0) {
		errbuf_set(&cfg->err, "certificate %s / key %s: %s", cert_label, key_label,
			   gnutls_strerror(ret));
		goto err_key;
	}
	/* The chain's contents and the key are GnuTLS's now; the array was copied. */
	kp.key = pkey;
	cfg->keypairs[cfg->n_keypairs++] = kp;
	cfg->have_keypair = true;
	return 0;

err_key:
	gnutls_privkey_deinit(pkey);
err_kp:
	keypair_clear(&kp);
err_chain:
	chain_free(chain, n_chain);
	return -1;
}

int handoff_config_add_keypair_file(struct handoff_config *cfg, const char *cert_file,
				    const char *key_file)
{
	gnutls_datum_t cert = { NULL, 0 }, key;
	uint8_t *key_buf = NULL;
	size_t key_len = 0;
	int ret;

	if (check_readable(cfg, "certificate file", cert_file) < 0 ||
	    check_readable(cfg, "key file", key_file) < 0)
		return -1;
	ret = gnutls_load_file(cert_file, &cert);	/* public: no need to wipe */
	if (ret < 0)
		return errbuf_set(&cfg->err, "certificate %s: %s", cert_file, gnutls_strerror(ret));
	if (read_key_file(cfg, key_file, &key_buf, &key_len) < 0) {
		gnutls_free(cert.data);
		return -1;
	}
	key.data = key_buf;
	key.size = (unsigned)key_len;
	ret = add_keypair(cfg, &cert, &key, GNUTLS_X509_FMT_PEM, cert_file, key_file);
	wipe_free(key_buf, key_len);
	gnutls_free(cert.data);
	return ret;
}

int handoff_config_set_keypair_file(struct handoff_config *cfg, const char *cert_file,
				    const char *key_file)
{
	if (cfg->have_keypair)
		return errbuf_set(&cfg->err, "a certificate and key are already set "
					     "(handoff_config_add_keypair_file() adds more)");
	return handoff_config_add_keypair_file(cfg, cert_file, key_file);
}

int handoff_config_add_keypair_mem(struct handoff_config *cfg, const uint8_t *cert,
				   size_t cert_len, const uint8_t *key, size_t key_len)
{
	gnutls_datum_t c, k;
	gnutls_x509_crt_fmt_t fmt;
	char label[48];

	if (!cert || !cert_len || !key || !key_len || cert_len > UINT_MAX || key_len > UINT_MAX)
		return errbuf_set(&cfg->err, "certificate and key: empty or too large");
	/* Both PEM (as files hold them) or both DER (as a keyring does): a mix is a mistake. */
	if (looks_like_pem(key, key_len) != looks_like_pem(cert, cert_len))
		return errbuf_set(&cfg->err, "certificate and key: one is PEM, the other DER");
	fmt = looks_like_pem(cert, cert_len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
	c.data = (unsigned char *)cert;
	c.size = (unsigned)cert_len;
	k.data = (unsigned char *)key;
	k.size = (unsigned)key_len;
	snprintf(label, sizeof(label), "#%zu (%s, in memory)", cfg->n_keypairs + 1,
		 fmt == GNUTLS_X509_FMT_PEM ? "PEM" : "DER");
	return add_keypair(cfg, &c, &k, fmt, label, "in memory");
}

int handoff_config_set_keypair_mem(struct handoff_config *cfg, const uint8_t *cert,
				   size_t cert_len, const uint8_t *key, size_t key_len)
{
	if (cfg->have_keypair)
		return errbuf_set(&cfg->err, "a certificate and key are already set "
					     "(handoff_config_add_keypair_mem() adds more)");
	return handoff_config_add_keypair_mem(cfg, cert, cert_len, key, key_len);
}

/*
 * Keep the identity a client asked for, so the error can name it.  It is
 * the peer's bytes: printable ASCII only and at most 64 characters, so it
 * cannot forge log lines.
 */
static int psk_unknown(struct handoff *h, const uint8_t *identity, size_t size)
{
	size_t i, n = size < 64 ? size : 64;

	free(h->psk_identity);
	h->psk_identity = malloc(n + 1);
	if (h->psk_identity) {
		for (i = 0; i < n; i++)
			h->psk_identity[i] = identity[i] >= 0x20 && identity[i] < 0x7f ?
					     (char)identity[i] : '?';
		h->psk_identity[n] = '\0';
	}
	h->psk_unknown = true;
	return -1;	/* GnuTLS answers with unknown_psk_identity */
}

/*
 * The identity comes from the ClientHello as bytes.  GnuTLS's string form
 * of it ends at the first NUL, so "alice\0x" would be taken for "alice":
 * an identity that is not a string is nobody's.
 */
static int psk_server_key(gnutls_session_t session, const gnutls_datum_t *identity,
			  gnutls_datum_t *key)
{
	struct handoff *h = gnutls_session_get_ptr(session);
	char *username;
	int ret;

	if (!identity->size || memchr(identity->data, 0, identity->size))
		return psk_unknown(h, identity->data, identity->size);
	username = strndup((const char *)identity->data, identity->size);
	if (!username)
		return -1;
	ret = psk_key_for(h->cfg, username, key);
	free(username);
	if (ret == 1)
		return psk_unknown(h, identity->data, identity->size);
	h->psk_unknown = false;
	return ret;
}

/* 0 and the key, 1 for an identity nobody has, -1 when out of memory. */
static int psk_key_for(const struct handoff_config *cfg, const char *username, gnutls_datum_t *key)
{
	if (cfg->psk_lookup) {
		uint8_t buf[PSK_MAX_LEN];
		size_t len = sizeof(buf);
		int ret = cfg->psk_lookup(cfg->psk_lookup_arg, username, buf, &len);

		if (ret == 0 && (len < 16 || len > sizeof(buf)))
			ret = -1;
		if (ret == 0) {
			key->data = gnutls_malloc(len);
			if (key->data) {
				memcpy(key->data, buf, len);
				key->size = (unsigned)len;
			}
		}
		wipe(buf, sizeof(buf));
		if (ret != 0)
			return 1;
		return key->data ? 0 : -1;
	}
	if (!cfg->psk_identity || strcmp(username, cfg->psk_identity) != 0)
		return 1;
	key->data = gnutls_malloc(cfg->psk_key.size);
	if (!key->data)
		return -1;
	memcpy(key->data, cfg->psk_key.data, cfg->psk_key.size);
	key->size = cfg->psk_key.size;
	return 0;
}

int handoff_config_set_psk(struct handoff_config *cfg, const char *identity,
			   const uint8_t *key, size_t key_len)
{
	gnutls_datum_t k;
	const char *p;
	int ret;

	if (!identity || !*identity || strlen(identity) > 255)
		return errbuf_set(&cfg->err, "PSK identity must be 1 to 255 characters");
	for (p = identity; *p; p++)
		if (!isprint((unsigned char)*p))
			return errbuf_set(&cfg->err, "PSK identity must be printable ASCII");
	if (!key || key_len < 16 || key_len > PSK_MAX_LEN)
		return errbuf_set(&cfg->err, "PSK must be 16 to %d bytes (got %zu)", PSK_MAX_LEN,
				  key_len);
	if (cfg->psk_identity)
		return errbuf_set(&cfg->err, "a PSK is already set");

	cfg->psk_identity = strdup(identity);
	cfg->psk_key.data = malloc(key_len);
	if (!cfg->psk_identity || !cfg->psk_key.data)
		goto err_nomem;
	memcpy(cfg->psk_key.data, key, key_len);
	cfg->psk_key.size = (unsigned)key_len;

	if (gnutls_psk_allocate_client_credentials(&cfg->psk_client) < 0 ||
	    gnutls_psk_allocate_server_credentials(&cfg->psk_server) < 0)
		goto err_nomem;
	k = cfg->psk_key;
	ret = gnutls_psk_set_client_credentials(cfg->psk_client, identity, &k,
						GNUTLS_PSK_KEY_RAW);
	if (ret < 0) {
		errbuf_set(&cfg->err, "PSK: %s", gnutls_strerror(ret));
		goto err_undo;
	}
	gnutls_psk_set_server_credentials_function2(cfg->psk_server, psk_server_key);
	return 0;

err_nomem:
	errbuf_set(&cfg->err, "PSK: out of memory");
err_undo:
	if (cfg->psk_client)
		gnutls_psk_free_client_credentials(cfg->psk_client);
	if (cfg->psk_server)
		gnutls_psk_free_server_credentials(cfg->psk_server);
	cfg->psk_client = NULL;
	cfg->psk_server = NULL;
	free(cfg->psk_identity);
	cfg->psk_identity = NULL;
	wipe_free(cfg->psk_key.data, key_len);
	cfg->psk_key.data = NULL;
	cfg->psk_key.size = 0;
	return -1;
}

int handoff_config_set_psk_lookup(struct handoff_config *cfg, handoff_psk_lookup_fn fn,
				  void *arg)
{
	if (!fn)
		return errbuf_set(&cfg->err, "PSK lookup: no function given");
	if (cfg->psk_identity || cfg->psk_lookup)
		return errbuf_set(&cfg->err, "a PSK is already set");
	if (!cfg->psk_server && gnutls_psk_allocate_server_credentials(&cfg->psk_server) < 0)
		return errbuf_set(&cfg->err, "PSK: out of memory");
	gnutls_psk_set_server_credentials_function2(cfg->psk_server, psk_server_key);
	cfg->psk_lookup = fn;
	cfg->psk_lookup_arg = arg;
	return 0;
}

int handoff_config_set_protocols(struct handoff_config *cfg, unsigned protocols)
{
	if (protocols & ~HANDOFF_PROTOCOLS_DEFAULT)
		return errbuf_set(&cfg->err, "unknown protocol bits 0x%x (only TLS 1.2 and 1.3 exist here)",
				  protocols & ~HANDOFF_PROTOCOLS_DEFAULT);
	if (!protocols)
		return errbuf_set(&cfg->err, "no protocol version enabled");
	cfg->protocols = protocols;
	return 0;
}

int handoff_config_set_ciphers(struct handoff_config *cfg, const char *list)
{
	enum handoff_cipher out[HANDOFF_CIPHER_COUNT];
	size_t n = 0, i, len;
	const char *p = list, *end;
	bool found;

	if (!list || !*list)
		return errbuf_set(&cfg->err, "empty cipher list");
	while (*p) {
		end = p + strcspn(p, ":,");
		len = (size_t)(end - p);
		found = false;
		for (i = 0; i < HANDOFF_CIPHER_COUNT; i++) {
			const char *name = handoff_cipher_name((enum handoff_cipher)i);

			if (strlen(name) == len && strncasecmp(p, name, len) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return errbuf_set(&cfg->err,
					  "unknown cipher \"%.*s\" (kTLS takes AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305, AES-128-CCM)",
					  (int)len, p);
		for (size_t j = 0; j < n; j++)
			if (out[j] == (enum handoff_cipher)i)
				return errbuf_set(&cfg->err, "cipher %s listed twice",
						  handoff_cipher_name((enum handoff_cipher)i));
		out[n++] = (enum handoff_cipher)i;
		p = *end ? end + 1 : end;
	}
	memcpy(cfg->ciphers, out, n * sizeof(out[0]));
	cfg->n_ciphers = n;
	return 0;
}

int handoff_config_set_alpn(struct handoff_config *cfg, const char *list)
{
	gnutls_datum_t alpn[CONFIG_MAX_ALPN];
	size_t n = 0;
	char *buf, *p, *tok, *save = NULL;

	if (!list || !*list)
		return errbuf_set(&cfg->err, "empty ALPN list");
	buf = strdup(list);
	if (!buf)
		return errbuf_set(&cfg->err, "ALPN: out of memory");
	for (p = buf; (tok = strtok_r(p, ",", &save)); p = NULL) {
		size_t len = strlen(tok);

		if (len == 0 || len > 255 || n == CONFIG_MAX_ALPN) {
			free(buf);
			return errbuf_set(&cfg->err,
					  "ALPN list \"%s\": at most %d names of 1 to 255 bytes",
					  list, CONFIG_MAX_ALPN);
		}
		alpn[n].data = (unsigned char *)tok;
		alpn[n].size = (unsigned)len;
		n++;
	}
	if (n == 0) {
		free(buf);
		return errbuf_set(&cfg->err, "ALPN list \"%s\" names no protocol", list);
	}
	free(cfg->alpn_buf);
	cfg->alpn_buf = buf;
	memcpy(cfg->alpn, alpn, n * sizeof(alpn[0]));
	cfg->n_alpn = n;
	return 0;
}

int handoff_config_allow_peer_subject(struct handoff_config *cfg, const char *dn)
{
	char **grown, *copy;

	if (!dn || !*dn)
		return errbuf_set(&cfg->err, "allowed peer subject: empty");
	copy = strdup(dn);
	grown = realloc(cfg->allowed_subjects,
			(cfg->n_allowed_subjects + 1) * sizeof(*cfg->allowed_subjects));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			cfg->allowed_subjects = grown;
		return errbuf_set(&cfg->err, "allowed peer subject: out of memory");
	}
	cfg->allowed_subjects = grown;
	cfg->allowed_subjects[cfg->n_allowed_subjects++] = copy;
	return 0;
}

void handoff_config_verify_client(struct handoff_config *cfg)
{
	cfg->verify_client = VERIFY_CLIENT_REQUIRED;
}

void handoff_config_verify_client_optional(struct handoff_config *cfg)
{
	cfg->verify_client = VERIFY_CLIENT_OPTIONAL;
}

void handoff_config_kernel_tx_zerocopy(struct handoff_config *cfg)
{
	if (cfg)
		cfg->kernel_tx_zerocopy = true;
}

void handoff_config_kernel_rx_no_pad(struct handoff_config *cfg)
{
	if (cfg)
		cfg->kernel_rx_no_pad = true;
}

void handoff_config_no_key_update(struct handoff_config *cfg)
{
	if (cfg)
		cfg->no_key_update = true;
}

void handoff_config_set_handshake_timeout(struct handoff_config *cfg, unsigned ms)
{
	cfg->timeout_ms = ms;
}

int handoff_config_set_ticket_key(struct handoff_config *cfg, const uint8_t *key,
				  size_t key_len)
{
	uint8_t *copy;

	if (!key || key_len != TICKET_KEY_SIZE)
		return errbuf_set(&cfg->err, "ticket key must be exactly %d bytes (got %zu)",
				  TICKET_KEY_SIZE, key_len);
	copy = gnutls_malloc(key_len);
	if (!copy)
		return errbuf_set(&cfg->err, "ticket key: out of memory");
	memcpy(copy, key, key_len);
	wipe(cfg->ticket_key.data, cfg->ticket_key.size);
	gnutls_free(cfg->ticket_key.data);
	cfg->ticket_key.data = copy;
	cfg->ticket_key.size = (unsigned)key_len;
	return 0;
}

int handoff_config_set_ticket_key_file(struct handoff_config *cfg, const char *path)
{
	uint8_t key[TICKET_KEY_SIZE + 1];
	ssize_t n;
	int fd, ret;

	if (check_readable(cfg, "ticket key file", path) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set_errno(&cfg->err, errno, "ticket key file %s", path);
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n < 0)
		return errbuf_set_errno(&cfg->err, errno, "ticket key file %s", path);
	if (n != TICKET_KEY_SIZE) {
		wipe(key, sizeof(key));
		return errbuf_set(&cfg->err, "ticket key file %s: must hold exactly %d bytes",
				  path, TICKET_KEY_SIZE);
	}
	ret = handoff_config_set_ticket_key(cfg, key, TICKET_KEY_SIZE);
	wipe(key, sizeof(key));
	return ret;
}

int handoff_ticket_key_generate(const char *path)
{
	gnutls_datum_t key = { NULL, 0 };
	ssize_t n;
	int fd, err = 0;

	if (gnutls_session_ticket_key_generate(&key) < 0) {
		errno = EIO;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	/* An existing file keeps its mode through O_CREAT: tighten it. */
	if (fchmod(fd, 0600) < 0)
		err = errno;
	else if ((n = write(fd, key.data, key.size)) != (ssize_t)key.size)
		err = n < 0 ? errno : EIO;
	if (close(fd) < 0 && !err)
		err = errno;
out:
	wipe(key.data, key.size);
	gnutls_free(key.data);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void handoff_config_disable_tickets(struct handoff_config *cfg)
{
	cfg->tickets_disabled = true;
}

void handoff_config_set_session_cache(struct handoff_config *cfg, struct handoff_cache *cache)
{
	cfg->client_cache = cache;
}

void handoff_config_insecure_noverifycert(struct handoff_config *cfg)
{
	cfg->insecure_noverifycert = true;
}

void handoff_config_insecure_noverifyname(struct handoff_config *cfg)
{
	cfg->insecure_noverifyname = true;
}

void handoff_config_insecure_noverifytime(struct handoff_config *cfg)
{
	cfg->insecure_noverifytime = true;
	gnutls_certificate_set_verify_flags(cfg->x509, GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
						       GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS);
}

void handoff_config_insecure_userspace_fallback(struct handoff_config *cfg)
{
	cfg->insecure_userspace_fallback = true;
}
