/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webget.c - the client of the shim's benchmark rows (`webbench get`).
 *
 * Why not curl, or a kTLS client: under TCG the receiver's AES-GCM costs as
 * much as the sender's, so any client that decrypts everything runs out of
 * CPU at the same rate as a kTLS server and every kernel-TLS row measures
 * the client.  This one does the handshake with GnuTLS, sends the request,
 * then reads the server's TLS 1.3 records off the socket itself: it
 * decrypts (GnuTLS AEAD) every record until the HTTP header is complete,
 * then one record in SAMPLE (from a phase that differs run to run) and
 * the last, and compares what it decrypted
 * with the file at the same offset.  The records it does not decrypt count
 * as their length less the tag and the content type: a server that pads,
 * sends something else, or loses or repeats a record fails the comparison
 * or the final byte count, so a broken row cannot look fast.  With
 * SAMPLE 1 every byte is decrypted and compared.  Plaintext responses are
 * compared whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webbench.h"

#define REC_MAX (16384 + 256 + 5)	/* a TLS 1.3 record, header included */
#define RBUF (512 * 1024)

/* The file the server serves, mapped: what every response is compared with. */
static const unsigned char *file_map;
static size_t file_len;

struct http {
	char hdr[16385];
	size_t have;
	bool done;
	long long clen, got, checked;
};

static void body_check(struct http *h, const unsigned char *p, size_t n)
{
	if ((unsigned long long)h->got + n > file_len || memcmp(file_map + h->got, p, n)) {
		char at[64];

		snprintf(at, sizeof(at), "differs from the file at offset %lld (+%zu)", h->got, n);
		die("body", at);
	}
	h->got += (long long)n;
	h->checked += (long long)n;
}

static void header_parse(struct http *h, char *end)
{
	char *p;

	if (strncmp(h->hdr, "HTTP/1.1 200 ", 13) && strncmp(h->hdr, "HTTP/1.0 200 ", 13)) {
		*strchr(h->hdr, '\r') = '\0';
		die("response", h->hdr);
	}
	h->clen = -1;
	for (p = h->hdr; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL)
		if (!strncasecmp(p, "Content-Length:", 15))
			h->clen = atoll(p + 15);
	if (h->clen < 0)
		die("response", "no Content-Length");
	h->done = true;
}

/* Application data, decrypted or plain: the header first, then the body (compared). */
static void http_feed(struct http *h, const unsigned char *p, size_t n)
{
	while (!h->done && n) {
		char *end;
		size_t take = sizeof(h->hdr) - 1 - h->have, used;

		if (take == 0)
			die("response", "no end of header in 16 KiB");
		take = n < take ? n : take;
		memcpy(h->hdr + h->have, p, take);
		h->hdr[h->have + take] = '\0';
		end = strstr(h->hdr, "\r\n\r\n");
		if (!end) {
			h->have += take;
			p += take;
			n -= take;
			continue;
		}
		used = (size_t)(end + 4 - h->hdr) - h->have;
		h->have += used;
		header_parse(h, end);
		p += used;
		n -= used;
	}
	if (n)
		body_check(h, p, n);
}

/* ------------------------------------------------------------ plaintext */

static void get_plain(int fd, struct http *h, unsigned char *buf)
{
	while (!h->done || h->got < h->clen) {
		ssize_t n = read(fd, buf, RBUF);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("response", n == 0 ? "EOF" : strerror(errno));
		}
		http_feed(h, buf, (size_t)n);
	}
}

/* ------------------------------------------------------ TLS 1.3 records */

struct reader {
	int fd;
	unsigned char *buf;
	size_t start, end;
};

/* At least n bytes from r->start on, reading more as needed. */
static void need(struct reader *r, size_t n)
{
	if (r->start + n > RBUF) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	while (r->end - r->start < n) {
		ssize_t got = read(r->fd, r->buf + r->end, RBUF - r->end);

		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			die("records", got == 0 ? "EOF in a record" : strerror(errno));
		}
		r->end += (size_t)got;
	}
}

struct rkey {
	gnutls_aead_cipher_hd_t aead;
	unsigned char iv[12];
	uint64_t seq;
};

static void rkey_init(struct rkey *k, const unsigned char *key, const unsigned char *iv, uint64_t seq)
{
	gnutls_datum_t kd = { (unsigned char *)key, 16 };

	if (gnutls_aead_cipher_init(&k->aead, GNUTLS_CIPHER_AES_128_GCM, &kd) < 0)
		die("AEAD", "AES-128-GCM");
	memcpy(k->iv, iv, 12);
	k->seq = seq;
}

/* Decrypts one record (header + ciphertext); returns the inner content type, *len its data. */
static int rec_open(struct rkey *k, const unsigned char *rec, size_t clen, unsigned char *out, size_t *len)
{
	unsigned char nonce[12];
	size_t plen = clen;
	int i;

	memcpy(nonce, k->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(k->seq >> (56 - 8 * i));
	if (gnutls_aead_cipher_decrypt(k->aead, nonce, 12, rec, 5, 16, rec + 5, clen, out, &plen) < 0)
		die("records", "a record does not decrypt (not TLS 1.3 AES-128-GCM with these keys?)");
	while (plen && out[plen - 1] == 0)
		plen--;
	if (!plen)
		die("records", "a record with no content type");
	*len = plen - 1;
	return out[plen - 1];
}

static void get_records(int fd, struct rkey *k, struct http *h, long sample)
{
	struct reader r = { .fd = fd, .buf = malloc(RBUF) };
	unsigned char *pt = malloc(REC_MAX);
	/* A different phase every run: repetitions compare different records. */
	long body_recs = (long)((unsigned long)getpid() * 2654435761u % (unsigned long)sample);

	if (!r.buf || !pt)
		die("records", "out of memory");
	while (!h->done || h->got < h->clen) {
		const unsigned char *rec;
		size_t clen, len;

		need(&r, 5);
		rec = r.buf + r.start;
		clen = (size_t)rec[3] << 8 | rec[4];
		if (rec[0] != 23 || rec[1] != 3 || rec[2] != 3 || clen < 17 || clen > REC_MAX - 5)
			die("records", "not a TLS 1.3 record");
		need(&r, 5 + clen);
		rec = r.buf + r.start;
		/* Decrypt until the header is complete, then one record in SAMPLE and the last. */
		if (!h->done || body_recs++ % sample == 0 ||
		    h->got + (long long)(clen - 17) >= h->clen) {
			int type = rec_open(k, rec, clen, pt, &len);

			if (type == 23)
				http_feed(h, pt, len);
			else if (type == 21)
				die("records", "the server sent an alert");
			else if (type != 22 || h->done)	/* tickets come before the response */
				die("records", "an unexpected record type in the body");
		} else {
			h->got += (long long)(clen - 17);
		}
		k->seq++;
		r.start += 5 + clen;
	}
	if (r.end != r.start)
		die("records", "bytes after the body");
	free(pt);
	free(r.buf);
}

/* ------------------------------------------------------------ handshake */

/*
 * GnuTLS's transport reads one record at a time, so that nothing after the
 * handshake is left in GnuTLS's buffers when the socket is read directly.
 */
struct bounded {
	int fd;
	unsigned char hdr[5];
	size_t hdr_have, body_left;
};

static ssize_t bounded_pull(gnutls_transport_ptr_t p, void *buf, size_t size)
{
	struct bounded *b = p;
	ssize_t n;

	if (b->body_left) {
		n = recv(b->fd, buf, size < b->body_left ? size : b->body_left, 0);
		if (n > 0)
			b->body_left -= (size_t)n;
		return n;
	}
	n = recv(b->fd, buf, size < 5 - b->hdr_have ? size : 5 - b->hdr_have, 0);
	if (n > 0) {
		memcpy(b->hdr + b->hdr_have, buf, (size_t)n);
		b->hdr_have += (size_t)n;
		if (b->hdr_have == 5) {
			b->body_left = (size_t)b->hdr[3] << 8 | b->hdr[4];
			b->hdr_have = 0;
		}
	}
	return n;
}

static ssize_t plain_push(gnutls_transport_ptr_t p, const void *buf, size_t size)
{
	return send(((struct bounded *)p)->fd, buf, size, MSG_NOSIGNAL);
}

static gnutls_session_t tls_open(struct bounded *b, struct rkey *k, const char *ca)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t iv, key;
	unsigned char seq[8];
	gnutls_session_t s;
	uint64_t sq = 0;
	int ret, i;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM) <= 0)
		die("CA", ca);
	gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS);
	if (gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", NULL) < 0)
		die("priority", "TLS 1.3 AES-128-GCM");
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_session_set_verify_cert(s, "localhost", 0);
	gnutls_transport_set_ptr(s, b);
	gnutls_transport_set_pull_function(s, bounded_pull);
	gnutls_transport_set_push_function(s, plain_push);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("handshake", gnutls_strerror(ret));
	if (gnutls_cipher_get(s) != GNUTLS_CIPHER_AES_128_GCM)
		die("handshake", "not AES-128-GCM");
	if (gnutls_record_get_state(s, 1, NULL, &iv, &key, seq) < 0 || iv.size != 12 || key.size != 16)
		die("handshake", "no read keys");
	for (i = 0; i < 8; i++)
		sq = sq << 8 | seq[i];
	rkey_init(k, key.data, iv.data, sq);
	return s;
}

/* ----------------------------------------------------------------- get */

int webget(int port, const char *mode, const char *path, const char *file, const char *ca, long sample)
{
	struct bounded b = { .fd = connect_port(port) };
	struct http *h = calloc(1, sizeof(*h));
	gnutls_session_t s = NULL;
	struct rkey k;
	char req[512];
	struct stat st;
	double t0, t1, c0;
	long tx;
	int ffd;

	if (!h)
		die("get", "out of memory");
	ffd = open(file, O_RDONLY | O_CLOEXEC);
	if (ffd < 0 || fstat(ffd, &st) < 0)
		die(file, strerror(errno));
	file_len = (size_t)st.st_size;
	file_map = file_len ? mmap(NULL, file_len, PROT_READ, MAP_PRIVATE, ffd, 0) : (void *)"";
	if (file_map == MAP_FAILED)
		die(file, strerror(errno));
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
	/* Keep-alive: the server's end stays open while the client reads tls_stat. */
	if (!strcmp(mode, "tls")) {
		s = tls_open(&b, &k, ca);
		t0 = now_mono();
		c0 = self_cpu();
		if (gnutls_record_send(s, req, strlen(req)) != (ssize_t)strlen(req))
			die("request", "GnuTLS send");
		get_records(b.fd, &k, h, sample);
	} else if (!strcmp(mode, "raw")) {
		raw_key(b.fd, TLS_TX);
		rkey_init(&k, raw_key_bytes, raw_iv_bytes, 0);
		t0 = now_mono();
		c0 = self_cpu();
		if (write(b.fd, req, strlen(req)) != (ssize_t)strlen(req))
			die("request", strerror(errno));
		get_records(b.fd, &k, h, sample);
	} else if (!strcmp(mode, "plain")) {
		unsigned char *buf = malloc(RBUF);

		if (!buf)
			die("get", "out of memory");
		t0 = now_mono();
		c0 = self_cpu();
		if (write(b.fd, req, strlen(req)) != (ssize_t)strlen(req))
			die("request", strerror(errno));
		get_plain(b.fd, h, buf);
		free(buf);
	} else {
		die("--mode", mode);
	}
	t1 = now_mono();
	c0 = self_cpu() - c0;
	tx = curr_tx();
	printf("bytes=%lld secs=%.4f checked=%lld curr_tx=%ld client_cpu=%.4f\n", h->got, t1 - t0, h->checked,
	       tx, c0);
	if (h->got != h->clen || h->got != (long long)file_len) {
		fprintf(stderr, "webbench: got %lld bytes, Content-Length %lld, the file has %zu\n", h->got,
			h->clen, file_len);
		return 1;
	}
	if (s)
		gnutls_deinit(s);
	close(b.fd);
	free(h);
	return 0;
}
