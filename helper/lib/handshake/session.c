/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resumption state.  Both stores keep serialised GnuTLS sessions, which
 * hold the master secret: entries are wiped when dropped.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "handshake/session.h"
#include "util/wipe.h"

/* How long a TLS 1.2 session ID stays resumable on the server. */
#define SERVER_SESSION_LIFETIME (2 * 60 * 60)

struct entry {
	char *key;		/* client: "name:port"; server: hex of the session ID */
	size_t key_len;
	gnutls_datum_t data;
	time_t stored;
	bool single_use;	/* TLS 1.3 tickets are not reused (RFC 8446 C.4) */
};

/* A small LRU list: newest first.  Sizes are modest (thousands), lookups rare. */
struct store {
	pthread_mutex_t lock;
	struct entry *v;
	size_t n, max;
};

struct handoff_cache {
	struct store s;
};

struct session_db {
	struct store s;
};

static int store_init(struct store *s, size_t max)
{
	if (max == 0)
		max = 1;
	s->v = calloc(max, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	s->max = max;
	s->n = 0;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

static void entry_clear(struct entry *e)
{
	free(e->key);
	wipe(e->data.data, e->data.size);
	free(e->data.data);
	memset(e, 0, sizeof(*e));
}

static void store_fini(struct store *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		entry_clear(&s->v[i]);
	free(s->v);
	pthread_mutex_destroy(&s->lock);
}

static void store_remove_at(struct store *s, size_t i)
{
	entry_clear(&s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

static ssize_t store_find(struct store *s, const void *key, size_t key_len)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].key_len == key_len && memcmp(s->v[i].key, key, key_len) == 0)
			return (ssize_t)i;
	return -1;
}

/* Insert (replacing an entry with the same key); the oldest falls off. */
static int store_put(struct store *s, const void *key, size_t key_len,
		     const gnutls_datum_t *data, bool single_use)
{
	struct entry e = { 0 };
	ssize_t at;

	e.key = malloc(key_len + 1);
	e.data.data = malloc(data->size);
	if (!e.key || !e.data.data) {
		free(e.key);
		free(e.data.data);
		return -ENOMEM;
	}
	memcpy(e.key, key, key_len);
	e.key[key_len] = '\0';
	e.key_len = key_len;
	memcpy(e.data.data, data->data, data->size);
	e.data.size = data->size;
	e.stored = time(NULL);
	e.single_use = single_use;

	pthread_mutex_lock(&s->lock);
	at = store_find(s, key, key_len);
	if (at >= 0)
		store_remove_at(s, (size_t)at);
	if (s->n == s->max)
		store_remove_at(s, s->n - 1);
	memmove(&s->v[1], &s->v[0], s->n * sizeof(s->v[0]));
	s->v[0] = e;
	s->n++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Copy out an entry younger than max_age (0 = any) into a gnutls_malloc'd datum. */
static int store_get(struct store *s, const void *key, size_t key_len, time_t max_age,
		     gnutls_datum_t *out)
{
	ssize_t at;
	struct entry *e;
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	at = store_find(s, key, key_len);
	if (at < 0)
		goto out;
	e = &s->v[at];
	if (max_age && time(NULL) - e->stored > max_age) {
		store_remove_at(s, (size_t)at);
		goto out;
	}
	out->data = gnutls_malloc(e->data.size);
	if (!out->data) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(out->data, e->data.data, e->data.size);
	out->size = e->data.size;
	if (e->single_use)
		store_remove_at(s, (size_t)at);
	ret = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void store_del(struct store *s, const void *key, size_t key_len)
{
	ssize_t at;

	pthread_mutex_lock(&s->lock);
	at = store_find(s, key, key_len);
	if (at >= 0)
		store_remove_at(s, (size_t)at);
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------- client cache */

struct handoff_cache *handoff_cache_new(size_t max_entries)
{
	struct handoff_cache *c = calloc(1, sizeof(*c));

	if (!c || store_init(&c->s, max_entries) < 0) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void handoff_cache_free(struct handoff_cache *cache)
{
	if (!cache)
		return;
	store_fini(&cache->s);
	free(cache);
}

/* Sessions are keyed by the name we verified and the port: never shared across names. */
static char *client_cache_key(struct handoff *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "";
	unsigned port = 0;
	char *key;

	if (getpeername(h->fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
			port = ntohs(in6->sin6_port);
		}
	}
	if (asprintf(&key, "%s|%s|%u", h->servername ? h->servername : "", addr, port) < 0)
		return NULL;
	return key;
}

int session_client_setup(struct handoff *h)
{
	struct handoff_cache *cache = h->cfg->client_cache;
	gnutls_datum_t data = { NULL, 0 };
	int ret;

	if (!cache)
		return 0;
	h->cache_key = client_cache_key(h);
	if (!h->cache_key)
		return conn_fail(h, "session cache: out of memory");
	if (store_get(&cache->s, h->cache_key, strlen(h->cache_key), 0, &data) < 0)
		return 0;
	ret = gnutls_session_set_data(h->session, data.data, data.size);
	wipe(data.data, data.size);
	gnutls_free(data.data);
	/* A stale or foreign entry only costs a full handshake. */
	(void)ret;
	return 0;
}

void session_client_store(struct handoff *h)
{
	struct handoff_cache *cache = h->cfg->client_cache;
	gnutls_datum_t data = { NULL, 0 };
	bool tls13 = gnutls_protocol_get_version(h->session) == GNUTLS_TLS1_3;

	if (!cache || !h->cache_key)
		return;
	/* In TLS 1.3 there is nothing to resume until a ticket arrived. */
	if (tls13 && !(gnutls_session_get_flags(h->session) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	if (!gnutls_session_is_resumed(h->session) || tls13) {
		if (gnutls_session_get_data2(h->session, &data) < 0)
			return;
		store_put(&cache->s, h->cache_key, strlen(h->cache_key), &data, tls13);
		wipe(data.data, data.size);
		gnutls_free(data.data);
	}
}

/* ------------------------------------------------ server session IDs */

struct session_db *session_db_new(size_t max_entries)
{
	struct session_db *db = calloc(1, sizeof(*db));

	if (!db || store_init(&db->s, max_entries) < 0) {
		free(db);
		return NULL;
	}
	return db;
}

void session_db_free(struct session_db *db)
{
	if (!db)
		return;
	store_fini(&db->s);
	free(db);
}

static int db_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
	struct session_db *db = ptr;

	return store_put(&db->s, key.data, key.size, &data, false) < 0 ? -1 : 0;
}

static gnutls_datum_t db_retrieve(void *ptr, gnutls_datum_t key)
{
	struct session_db *db = ptr;
	gnutls_datum_t out = { NULL, 0 };

	if (store_get(&db->s, key.data, key.size, SERVER_SESSION_LIFETIME, &out) < 0)
		out.data = NULL, out.size = 0;
	return out;
}

static int db_remove(void *ptr, gnutls_datum_t key)
{
	struct session_db *db = ptr;

	store_del(&db->s, key.data, key.size);
	return 0;
}

int session_server_setup(struct handoff *h)
{
	struct handoff_config *cfg = h->cfg;
	int ret;

	if (!cfg->tickets_disabled) {
		ret = gnutls_session_ticket_enable_server(h->session, &cfg->ticket_key);
		if (ret < 0)
			return conn_fail(h, "session tickets: %s", gnutls_strerror(ret));
	}
	gnutls_db_set_ptr(h->session, cfg->server_db);
	gnutls_db_set_store_function(h->session, db_store);
	gnutls_db_set_retrieve_function(h->session, db_retrieve);
	gnutls_db_set_remove_function(h->session, db_remove);
	gnutls_db_set_cache_expiration(h->session, SERVER_SESSION_LIFETIME);
	return 0;
}
