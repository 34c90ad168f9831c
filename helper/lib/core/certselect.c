/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The server's certificate by name (certselect.h).
 *
 * The rule: the pairs one of whose names is the client's name (case aside),
 * in the order added; then those with a wildcard for it; then every pair
 * (the default).  The first of these whose key the client accepts is
 * presented: its signature algorithms (in TLS 1.3 with the ECDSA curve), in
 * TLS 1.2 also a cipher suite of ours for that key type (whose order we
 * then set by the first candidate's key type: tls12_key_order()).
 *
 * How, among the options GnuTLS 3.7.9 leaves:
 *  - A certificate callback (gnutls_certificate_set_retrieve_function3)
 *    would make the whole choice ours, key checks included.  But in TLS 1.2
 *    GnuTLS calls it once, before it has picked a cipher suite, and tells it
 *    neither the client's suites nor the candidate suite; we would have to
 *    parse the ClientHello ourselves to know whether the client takes an
 *    ECDSA or an RSA key.  It would also take over the client side's choice
 *    (mutual TLS), and the pcert and key objects would be ours to own.
 *  - What we do: GnuTLS keeps choosing, with its own key checks, among
 *    credentials we pick by name.  Its choice within one credentials object
 *    is the first pair, in their order, whose key the client accepts, once
 *    no pair has the client's name byte for byte.  So when the ClientHello
 *    is in (the post-client-hello hook: the SNI is parsed, the cipher suite
 *    and certificate not yet chosen) and GnuTLS's byte comparison would
 *    choose otherwise than the rule (a wildcard covers the name, or a name
 *    matches only with its case folded), the session gets, for the time of
 *    the choice, credentials that hold the matching pairs first and
 *    registered under no name at all.  When the ServerHello goes out (the
 *    choice is made) the config's own credentials come back: they hold the
 *    trust anchors, CRLs and CA names that the client's certificate is
 *    checked against.  Names GnuTLS already gets right (most: an exact
 *    name in the case the certificate has, no wildcard over it) cost only
 *    the comparison.
 *
 * The price is copies: each steering credentials object holds its own
 * copies of the matching pairs and, for the default, of the first pair of
 * each key kind (type, size and usage: a later pair of the same kind is
 * accepted exactly when the first is).  They are made from the pairs
 * already loaded (the chain we keep, the key exported from GnuTLS's object
 * into another GnuTLS object, never through a buffer of ours), the first
 * time a client asks for a name that needs them, and kept until the config
 * is freed.  There is at most one per name or wildcard the pairs have.
 * (So the private keys of a config with several pairs are also found,
 * after such a first request, in these credentials: a key-residue search
 * takes its baseline after them.  A config with one pair makes none.)
 *
 * GnuTLS itself puts a pair whose certificate says RSA-PSS before every RSA
 * pair of a credentials object, so an RSA-PSS wildcard pair goes before an
 * exact name's RSA pair for a client that takes both; such certificates
 * are rare, and handoff.h says so.
 *
 * A resumed session presents no certificate: a TLS 1.2 one by session ID
 * is not looked at; for a ticket (1.2 or 1.3) the choice is made but unused.
 */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "core/certselect.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/keypairs.h"
#include "handshake/engine.h"
#include "handshake/priority.h"

#define SNI_MAX 256	/* GnuTLS keeps at most 255 bytes of a server name */

struct steer {
	size_t n_pairs;		/* the config's pair count when built: a later pair makes it stale */
	size_t *order;		/* the matching pairs: exact ones, then wildcard ones */
	size_t n_exact, n_wild;
	size_t n_copies;	/* pairs in cred */
	gnutls_certificate_credentials_t cred;
};

struct certselect {
	pthread_mutex_t lock;	/* guards steer[] */
	struct steer *steer;
	size_t n_steer;
};

struct certselect *certselect_new(void)
{
	struct certselect *cs = calloc(1, sizeof(*cs));

	if (cs)
		pthread_mutex_init(&cs->lock, NULL);
	return cs;
}

void certselect_free(struct certselect *cs)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < cs->n_steer; i++) {
		gnutls_certificate_free_credentials(cs->steer[i].cred);
		free(cs->steer[i].order);
	}
	free(cs->steer);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

size_t certselect_count(const struct handoff_config *cfg, size_t *pairs)
{
	struct certselect *cs = cfg->select;
	size_t i, n, copies = 0;

	pthread_mutex_lock(&cs->lock);
	n = cs->n_steer;
	for (i = 0; i < n; i++)
		copies += cs->steer[i].n_copies;
	pthread_mutex_unlock(&cs->lock);
	if (pairs)
		*pairs = copies;
	return n;
}

/*
 * The pairs the client's name matches, exact ones then wildcard ones, each
 * in the order added, into order[] (room for every pair).  Returns whether
 * GnuTLS's own byte-for-byte choice would be the same: no wildcard
 * matched, and every exact match has the name byte for byte.
 */
static bool match_pairs(const struct handoff_config *cfg, const char *host, size_t len,
			size_t *order, size_t *n_exact, size_t *n_wild)
{
	bool gnutls_agrees = true;
	size_t i, j, ne = 0, nw = 0;

	for (i = 0; i < cfg->n_keypairs; i++) {
		const struct config_keypair *kp = &cfg->keypairs[i];
		bool exact = false, bytes = false;

		for (j = 0; j < kp->n_names; j++) {
			if (keypair_name_match(kp->names[j], host, len) != KEYPAIR_MATCH_EXACT)
				continue;
			exact = true;
			if (!memcmp(kp->names[j], host, len))
				bytes = true;
		}
		if (exact) {
			order[ne++] = i;
			gnutls_agrees &= bytes;
		}
	}
	for (i = 0; i < cfg->n_keypairs; i++) {
		const struct config_keypair *kp = &cfg->keypairs[i];
		enum keypair_match best = KEYPAIR_MATCH_NONE;

		for (j = 0; j < kp->n_names; j++) {
			enum keypair_match m = keypair_name_match(kp->names[j], host, len);

			if (m > best)
				best = m;
		}
		if (best == KEYPAIR_MATCH_WILDCARD) {
			order[ne + nw++] = i;
			gnutls_agrees = false;
		}
	}
	*n_exact = ne;
	*n_wild = nw;
	return gnutls_agrees;
}

/* Whether b's key is accepted by exactly the clients that accept a's. */
static bool same_kind(const struct config_keypair *a, const struct config_keypair *b)
{
	/* An RSA-PSS key may be bound to one hash: each is its own kind. */
	return a->pk == b->pk && a->pk != GNUTLS_PK_RSA_PSS && a->bits == b->bits &&
	       a->key_usage == b->key_usage;
}

/* A copy of pair kp into cred, under no name. */
static int add_copy(gnutls_certificate_credentials_t cred, const struct config_keypair *kp)
{
	static const char *no_names[1];
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_privkey_t key = NULL;
	gnutls_pcert_st *pc;
	unsigned i, n = 0;
	int ret;

	pc = calloc(kp->n_chain, sizeof(*pc));
	if (!pc)
		return GNUTLS_E_MEMORY_ERROR;
	for (ret = 0; n < kp->n_chain; n++) {
		ret = gnutls_pcert_import_x509_raw(&pc[n], &kp->chain[n], GNUTLS_X509_FMT_DER, 0);
		if (ret < 0)
			goto err;
	}
	ret = gnutls_privkey_export_x509(kp->key, &xkey);
	if (ret < 0)
		goto err;
	ret = gnutls_privkey_init(&key);
	if (ret < 0)
		goto err;
	ret = gnutls_privkey_import_x509(key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (ret < 0)
		goto err;
	xkey = NULL;	/* key's now */
	/* A names array of size 0: GnuTLS then reads none from the certificate. */
	ret = gnutls_certificate_set_key(cred, no_names, 0, pc, (int)n, key);
	if (ret < 0)
		goto err;
	free(pc);	/* the array was copied; the certificates and key are cred's */
	return 0;

err:
	gnutls_privkey_deinit(key);
	if (xkey)
		gnutls_x509_privkey_deinit(xkey);
	for (i = 0; i < n; i++)
		gnutls_pcert_deinit(&pc[i]);
	free(pc);
	return ret;
}

/* Credentials for the matching pairs in order[], then the default's candidates. */
static int build(const struct handoff_config *cfg, struct steer *st)
{
	size_t n = st->n_exact + st->n_wild, i, j;
	int ret;

	ret = gnutls_certificate_allocate_credentials(&st->cred);
	if (ret < 0)
		return ret;
	/* Each pair was checked against its key when it was added. */
	gnutls_certificate_set_flags(st->cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	for (i = 0; i < n; i++) {
		ret = add_copy(st->cred, &cfg->keypairs[st->order[i]]);
		if (ret < 0)
			return ret;
		st->n_copies++;
	}
	for (i = 0; i < cfg->n_keypairs; i++) {
		bool skip = false;

		for (j = 0; j < n && !skip; j++)
			skip = st->order[j] == i;
		/* An earlier pair of its kind is tried before it, with the same answer. */
		for (j = 0; j < i && !skip; j++)
			skip = same_kind(&cfg->keypairs[j], &cfg->keypairs[i]);
		if (skip)
			continue;
		ret = add_copy(st->cred, &cfg->keypairs[i]);
		if (ret < 0)
			return ret;
		st->n_copies++;
	}
	return 0;
}

static bool same_order(const struct steer *st, size_t n_pairs, const size_t *order, size_t ne,
		       size_t nw)
{
	return st->n_pairs == n_pairs && st->n_exact == ne && st->n_wild == nw &&
	       !memcmp(st->order, order, (ne + nw) * sizeof(*order));
}

/* The credentials for this order, made the first time.  NULL with *err set on failure. */
static gnutls_certificate_credentials_t steer_for(const struct handoff_config *cfg,
						  const size_t *order, size_t ne, size_t nw, int *err)
{
	struct certselect *cs = cfg->select;
	gnutls_certificate_credentials_t cred = NULL;
	struct steer st = { 0 }, *grown;
	size_t i;

	pthread_mutex_lock(&cs->lock);
	for (i = 0; i < cs->n_steer; i++)
		if (same_order(&cs->steer[i], cfg->n_keypairs, order, ne, nw)) {
			cred = cs->steer[i].cred;
			goto out;
		}
	*err = GNUTLS_E_MEMORY_ERROR;
	grown = realloc(cs->steer, (cs->n_steer + 1) * sizeof(*cs->steer));
	if (!grown)
		goto out;
	cs->steer = grown;
	st.n_pairs = cfg->n_keypairs;
	st.n_exact = ne;
	st.n_wild = nw;
	st.order = malloc((ne + nw) * sizeof(*order));
	if (!st.order)
		goto out;
	memcpy(st.order, order, (ne + nw) * sizeof(*order));
	*err = build(cfg, &st);
	if (*err < 0) {
		gnutls_certificate_free_credentials(st.cred);
		free(st.order);
		goto out;
	}
	cs->steer[cs->n_steer++] = st;
	cred = st.cred;
out:
	pthread_mutex_unlock(&cs->lock);
	return cred;
}

/* The client's DNS name (NUL-terminated in host), or false if it sent none we can hold. */
static bool client_name(gnutls_session_t session, char *host, size_t *len)
{
	unsigned type, i;
	size_t room;

	for (i = 0;; i++) {
		room = *len;
		if (gnutls_server_name_get(session, host, &room, &type, i) < 0)
			return false;
		if (type == GNUTLS_NAME_DNS && room > 0) {
			*len = room;
			return true;
		}
	}
}

/* The choice is made when the ServerHello goes out: the config's own credentials come back. */
static int restore(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
		   const gnutls_datum_t *msg)
{
	struct handoff *h = gnutls_session_get_ptr(session);

	(void)htype;
	(void)when;
	(void)incoming;
	(void)msg;
	return gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, h->cfg->x509);
}

/*
 * TLS 1.2 chooses the cipher suite first, each suite its key type, and
 * then the first pair that fits it: with our order (ECDHE-ECDSA first) a
 * client that takes both key types would get an ECDSA pair even where the
 * name's first pair, or the default, is RSA.  So the key exchanges go in
 * the order of the first candidate pair's type.  (Left over: a pair of
 * the first type that the client refuses for another reason, such as a
 * curve, lets a later pair of that type go before the other type's.)
 */
static int tls12_key_order(struct handoff *h, gnutls_session_t session,
			   gnutls_pk_algorithm_t first)
{
	char text[512], swapped[512];

	if (first != GNUTLS_PK_RSA && first != GNUTLS_PK_RSA_PSS)
		return 0;	/* already ours */
	if (engine_priority(h, text, sizeof(text)) < 0 ||
	    priority_rsa_first(text, swapped, sizeof(swapped)) < 0)
		return GNUTLS_E_INTERNAL_ERROR;
	return config_priority_set(h->cfg, session, swapped, NULL);
}

static int on_client_hello(gnutls_session_t session)
{
	struct handoff *h = gnutls_session_get_ptr(session);
	const struct handoff_config *cfg = h->cfg;
	bool tls12 = gnutls_protocol_get_version(session) == GNUTLS_TLS1_2;
	gnutls_certificate_credentials_t cred;
	char host[SNI_MAX];
	size_t len = sizeof(host), ne = 0, nw = 0, *order;
	int ret = 0;

	/* TLS 1.2 resumption by session ID: no certificate is sent. */
	if (gnutls_session_is_resumed(session))
		return 0;
	if (!client_name(session, host, &len))
		return tls12 ? tls12_key_order(h, session, cfg->keypairs[0].pk) : 0;
	order = malloc(cfg->n_keypairs * sizeof(*order));
	if (!order)
		return GNUTLS_E_MEMORY_ERROR;
	if (match_pairs(cfg, host, len, order, &ne, &nw))
		goto out;	/* GnuTLS chooses the same pair by itself */
	cred = steer_for(cfg, order, ne, nw, &ret);
	if (!cred)
		goto out;
	ret = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
	if (ret == 0)
		gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_SERVER_HELLO,
						   GNUTLS_HOOK_PRE, restore);
out:
	if (ret == 0 && tls12)
		ret = tls12_key_order(h, session, cfg->keypairs[ne + nw ? order[0] : 0].pk);
	free(order);
	return ret;
}

void certselect_attach(struct handoff *h)
{
	gnutls_handshake_set_post_client_hello_function(h->session, on_client_hello);
}
