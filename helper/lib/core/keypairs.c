/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The names and key type of each keypair, read the way GnuTLS reads them
 * (lib/cert-cred-x509.c, get_x509_name: DNS subjectAltNames, else the CN),
 * how one of them answers a client's name (RFC 6125), and the refusal of a
 * pair that would make that answer ambiguous: found when it is added, not
 * by a client.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "core/keypairs.h"

#define NAME_MAX_LEN 256	/* a DNS name is at most 253 bytes */

const char *keypair_type_name(gnutls_pk_algorithm_t pk)
{
	switch (pk) {
	case GNUTLS_PK_RSA:
		return "RSA";
	case GNUTLS_PK_RSA_PSS:
		return "RSA-PSS";
	case GNUTLS_PK_ECDSA:
		return "ECDSA";
	case GNUTLS_PK_EDDSA_ED25519:
		return "Ed25519";
	case GNUTLS_PK_EDDSA_ED448:
		return "Ed448";
	default: {
		const char *name = gnutls_pk_get_name(pk);

		return name ? name : "unknown";
	}
	}
}

void keypair_clear(struct config_keypair *kp)
{
	size_t i;

	for (i = 0; i < kp->n_names; i++)
		free(kp->names[i]);
	free(kp->names);
	for (i = 0; i < kp->n_chain; i++)
		free(kp->chain[i].data);
	free(kp->chain);
	free(kp->label);
	memset(kp, 0, sizeof(*kp));
}

/* Not strncasecmp(): the locale of a program under the shim must not fold 'I' to a dotless i. */
static bool ascii_caseeq(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

enum keypair_match keypair_name_match(const char *name, const char *host, size_t host_len)
{
	size_t name_len = strlen(name);
	const char *dot;

	if (name_len == host_len && ascii_caseeq(name, host, host_len))
		return KEYPAIR_MATCH_EXACT;
	if (name_len < 3 || name[0] != '*' || name[1] != '.')
		return KEYPAIR_MATCH_NONE;
	/* The host's first label, whole and not empty, stands for the '*'. */
	dot = memchr(host, '.', host_len);
	if (!dot || dot == host)
		return KEYPAIR_MATCH_NONE;
	if ((size_t)(host + host_len - dot) != name_len - 1)
		return KEYPAIR_MATCH_NONE;
	return ascii_caseeq(name + 1, dot, name_len - 1) ? KEYPAIR_MATCH_WILDCARD :
							   KEYPAIR_MATCH_NONE;
}

static int add_name(struct config_keypair *kp, const char *name, size_t len)
{
	char **grown = realloc(kp->names, (kp->n_names + 1) * sizeof(*kp->names));

	if (!grown)
		return -1;
	kp->names = grown;
	kp->names[kp->n_names] = strndup(name, len);
	if (!kp->names[kp->n_names])
		return -1;
	kp->n_names++;
	return 0;
}

/* The leaf's DNS subjectAltNames, or its CN if it has none (as GnuTLS). */
static int read_names(gnutls_x509_crt_t crt, struct config_keypair *kp)
{
	char name[NAME_MAX_LEN];
	size_t len;
	unsigned i;
	int ret;

	for (i = 0;; i++) {
		len = sizeof(name);
		ret = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len, NULL);
		if (ret < 0)
			break;	/* the end, or a name too long to be a DNS name */
		if (ret == GNUTLS_SAN_DNSNAME && add_name(kp, name, len) < 0)
			return -1;
	}
	if (kp->n_names)
		return 0;
	len = sizeof(name);
	ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &len);
	if (ret == 0 && add_name(kp, name, len) < 0)
		return -1;
	return 0;
}

int keypair_describe(const gnutls_datum_t *cert, gnutls_x509_crt_fmt_t fmt, const char *label,
		     struct config_keypair *out, struct errbuf *err)
{
	struct config_keypair kp = { 0 };
	gnutls_x509_crt_t crt;
	int ret;

	ret = gnutls_x509_crt_init(&crt);
	if (ret < 0)
		return errbuf_set(err, "certificate %s: %s", label, gnutls_strerror(ret));
	ret = gnutls_x509_crt_import(crt, cert, fmt);
	if (ret < 0) {
		gnutls_x509_crt_deinit(crt);
		return errbuf_set(err, "certificate %s: %s", label, gnutls_strerror(ret));
	}
	kp.pk = (gnutls_pk_algorithm_t)gnutls_x509_crt_get_pk_algorithm(crt, &kp.bits);
	if (gnutls_x509_crt_get_key_usage(crt, &kp.key_usage, NULL) < 0)
		kp.key_usage = 0;
	kp.label = strdup(label);
	ret = kp.label ? read_names(crt, &kp) : -1;
	gnutls_x509_crt_deinit(crt);
	if (ret < 0) {
		keypair_clear(&kp);
		return errbuf_set(err, "certificate %s: out of memory", label);
	}
	*out = kp;
	return 0;
}

bool keypair_key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub)
{
	unsigned char id_key[64], id_pub[64];
	size_t len_key = sizeof(id_key), len_pub = sizeof(id_pub);
	gnutls_pubkey_t from_key;
	bool same = false;

	if (gnutls_pubkey_init(&from_key) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(from_key, key, 0, 0) == 0 &&
	    gnutls_pubkey_get_key_id(from_key, GNUTLS_KEYID_USE_SHA256, id_key, &len_key) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id_pub, &len_pub) == 0)
		same = len_key == len_pub && !memcmp(id_key, id_pub, len_key);
	gnutls_pubkey_deinit(from_key);
	return same;
}

int keypair_conflict(const struct config_keypair *pairs, size_t n,
		     const struct config_keypair *kp, struct errbuf *err)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		const struct config_keypair *old = &pairs[i];

		if (old->pk != kp->pk)
			continue;	/* another key type: chosen by the client's signature algorithms */
		if (!strcmp(old->label, kp->label))
			return errbuf_set(err, "certificate %s is given twice", kp->label);
		if (!kp->n_names)
			return errbuf_set(err,
					  "certificate %s: it has no DNS name and %s already holds an %s key: "
					  "it could never be chosen",
					  kp->label, old->label, keypair_type_name(kp->pk));
		for (j = 0; j < kp->n_names; j++)
			for (k = 0; k < old->n_names; k++)
				if (keypair_name_match(kp->names[j], old->names[k],
						       strlen(old->names[k])) == KEYPAIR_MATCH_EXACT)
					return errbuf_set(err,
							  "certificate %s: %s already has an %s certificate, %s "
							  "(one certificate per name and key type)",
							  kp->label, kp->names[j],
							  keypair_type_name(kp->pk), old->label);
	}
	return 0;
}
