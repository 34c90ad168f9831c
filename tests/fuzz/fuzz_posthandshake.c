/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * posthandshake_record() on arbitrary records, after a real handshake.
 *
 * Each input gets a fresh connection: two struct handoff (PSK, keys not
 * installed, no kernel probe) over TCP on loopback, handshaking in this
 * thread by taking turns on non-blocking sockets.  One side is the target;
 * the input's records are handed to it as the kernel would hand over what
 * it decrypted.  What the target sends back (alerts, its KeyUpdate) goes
 * out as plaintext on the plain TCP socket; a thread reads and discards it
 * so a long run of replies can never fill the socket and block.
 *
 * Input: one byte of set-up, then records of
 *   type (1 byte), length (2 bytes, big endian), that many bytes
 * (the last record takes what is left when the input ends early).
 * Application data records with bytes in them are the application's, as
 * in core/io.c, and skipped; the zero-length ones are handed over (they
 * are nothing).  So data can sit between the fragments of a message.
 * Set-up bits: 0x01 TLS 1.2 (else 1.3), 0x02 the target is the server
 * (else the client, which then has a session cache so tickets are stored),
 * 0x04 the lean path: the target's session is released at the hand-off and
 * our own parser takes the messages (a client then has no cache).
 */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "fuzz.h"
#include "pair.h"
#include "handshake/posthandshake.h"
#include "ktls/ktls.h"

#define SETUP_TLS12 0x01
#define SETUP_TARGET_SERVER 0x02
#define SETUP_LEAN 0x04

/* The kernel never hands over more plaintext than a record can hold. */
#define MAX_RECORD 16384
#define HANDSHAKE_WAIT_MS 10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned protocols;
	struct handoff_cache *cache;
	struct handoff_config *ccfg, *scfg;
	struct handoff *c, *s, *target;
	pthread_t drainer;
	int fds[2], peer_fd;
	size_t off, len;
	uint8_t type;
	unsigned lean;
	int ret = 0;

	if (size < 1)
		return 0;
	protocols = (data[0] & SETUP_TLS12) ? HANDOFF_PROTOCOL_TLSv1_2 : HANDOFF_PROTOCOL_TLSv1_3;

	lean = data[0] & SETUP_LEAN ? CONN_TEST_LEAN : 0;
	cache = handoff_cache_new(4);
	FUZZ_CHECK(cache);
	ccfg = fuzz_psk_config(protocols, lean ? NULL : cache, HANDSHAKE_WAIT_MS);
	scfg = fuzz_psk_config(protocols, NULL, HANDSHAKE_WAIT_MS);
	fuzz_tcp_pair(fds);
	c = handoff_client(ccfg, fds[0], "localhost");
	s = handoff_server(scfg, fds[1]);
	FUZZ_CHECK(c && s);
	conn_set_test_flags(c, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | lean);
	conn_set_test_flags(s, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | lean);
	fuzz_handshake_both(c, s, fds, HANDSHAKE_WAIT_MS);
	FUZZ_CHECK(c->state == CONN_KTLS && s->state == CONN_KTLS);
	FUZZ_CHECK(c->lean == !!lean && s->lean == !!lean);

	target = (data[0] & SETUP_TARGET_SERVER) ? s : c;
	peer_fd = target == c ? fds[1] : fds[0];
	FUZZ_CHECK(pthread_create(&drainer, NULL, fuzz_drain, &peer_fd) == 0);

	for (off = 1; off < size && ret == 0;) {
		type = data[off++];
		len = 0;
		if (off < size)
			len = (size_t)data[off++] << 8;
		if (off < size)
			len |= data[off++];
		if (len > size - off)
			len = size - off;
		if (len > MAX_RECORD)
			len = MAX_RECORD;
		if (type == KTLS_RECORD_APPLICATION_DATA && len) {
			off += len;
			continue;
		}
		ret = posthandshake_record(target, type, len ? data + off : NULL, len);
		off += len;

		/* posthandshake.h: 0 keep going, 1 close_notify, -1 failed (reason on h). */
		FUZZ_CHECK(ret == 0 || ret == 1 || ret == -1);
		if (ret == 0)
			FUZZ_CHECK(target->state == CONN_KTLS);
		if (ret == 1)
			FUZZ_CHECK(target->state == CONN_CLOSED);
		if (ret == -1)
			FUZZ_CHECK(target->state == CONN_FAILED && handoff_error(target) &&
				   *handoff_error(target));
	}

	/* The target's end goes quiet: the drain thread sees EOF and ends. */
	shutdown(target == c ? fds[0] : fds[1], SHUT_WR);
	pthread_join(drainer, NULL);
	handoff_free(c);
	handoff_free(s);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
	handoff_cache_free(cache);
	fuzz_close_pair(fds);
	return 0;
}
