/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PSK identity a client offers, as our server side takes it: the
 * engine's key callback (core/config.c), a lookup function of the
 * caller's (handoffd's keyring search takes this path), and what
 * handoff_conn_psk_identity() reports afterwards.  Also
 * handoff_config_set_psk() on the same bytes, the identity an operator
 * hands a front door.
 *
 * Each input is one real handshake over TCP on loopback: the client is
 * plain GnuTLS (it can offer any bytes: gnutls_psk_set_client_credentials2),
 * the server a struct handoff (keys not installed, no kernel probe), taking
 * turns in this thread on non-blocking sockets.
 *
 * Input: one byte of set-up, then the identity's bytes.
 * Set-up bits: 0x01 the server has a lookup function (else one identity,
 * "fuzz-identity", set with handoff_config_set_psk()); 0x02 TLS 1.2 (else
 * 1.3).
 *
 * Invariants: the handshake succeeds exactly when the offered identity is
 * one the server knows: "fuzz-identity" itself, or for the lookup anything
 * that starts with "ok-"; never for a different identity that merely
 * starts like one (a NUL inside cut short).  The lookup sees the whole
 * identity, and handoff_conn_psk_identity() says exactly what was offered.
 * handoff_config_set_psk() takes an identity iff it is 1 to 255 printable
 * ASCII characters.
 */
#include "common.h"

#include <gnutls/gnutls.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "fuzz.h"
#include "pair.h"

#define SETUP_LOOKUP 0x01
#define SETUP_TLS12 0x02
#define WAIT_MS 10000
#define KNOWN "fuzz-identity"
#define LOOKUP_PREFIX "ok-"

static const uint8_t psk_key[32] = "fuzz-psk-fuzz-psk-fuzz-psk-fuzz";
/* What the lookup was asked, for the checks after the handshake. */
struct lookup_seen {
	unsigned calls;
	bool whole;		/* every identity it saw was the whole offered one */
	const uint8_t *offered;
	size_t offered_len;
};

static int lookup(void *arg, const char *identity, uint8_t *key, size_t *key_len)
{
	struct lookup_seen *seen = arg;

	seen->calls++;
	FUZZ_CHECK(identity);
	if (strlen(identity) != seen->offered_len ||
	    memcmp(identity, seen->offered, seen->offered_len) != 0)
		seen->whole = false;
	if (strncmp(identity, LOOKUP_PREFIX, strlen(LOOKUP_PREFIX)) != 0)
		return -1;
	FUZZ_CHECK(*key_len >= sizeof(psk_key));
	memcpy(key, psk_key, sizeof(psk_key));
	*key_len = sizeof(psk_key);
	return 0;
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)	/* isprint() in the C locale: NVMe identities have spaces */
			return false;
	return true;
}

/* handoff_config_set_psk() on the identity as a C string. */
static void check_set_psk(const uint8_t *id, size_t n)
{
	struct handoff_config *cfg = handoff_config_new();
	char *s = malloc(n + 1);
	size_t len;
	int ret;

	FUZZ_CHECK(cfg && s);
	memcpy(s, id, n);
	s[n] = '\0';
	len = strlen(s);
	ret = handoff_config_set_psk(cfg, s, psk_key, sizeof(psk_key));
	FUZZ_CHECK(ret == 0 || ret == -1);
	FUZZ_CHECK((ret == 0) == (len >= 1 && len <= 255 && printable((const uint8_t *)s, len)));
	if (ret == -1)
		FUZZ_CHECK(handoff_config_error(cfg) && *handoff_config_error(cfg));
	handoff_config_free(cfg);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lookup_seen seen = { .whole = true };
	gnutls_psk_client_credentials_t ccred;
	gnutls_session_t cs;
	gnutls_datum_t id, key = { (unsigned char *)psk_key, sizeof(psk_key) };
	struct handoff_config *scfg;
	struct handoff *s;
	struct pollfd pfd[2];
	const char *prio;
	bool use_lookup, known;
	int fds[2], rc = 1, rs = 1, s_want = 0, ret;

	if (size < 1)
		return 0;
	use_lookup = data[0] & SETUP_LOOKUP;
	id.data = (unsigned char *)data + 1;
	id.size = (unsigned)(size - 1);
	check_set_psk(id.data, id.size);
	/* Beyond what a ClientHello can carry: GnuTLS refuses it before we see it. */
	if (id.size == 0 || id.size > 0xffff)
		return 0;
	seen.offered = id.data;
	seen.offered_len = id.size;
	if (use_lookup)
		known = id.size >= strlen(LOOKUP_PREFIX) && !memchr(id.data, 0, id.size) &&
			!memcmp(id.data, LOOKUP_PREFIX, strlen(LOOKUP_PREFIX));
	else
		known = id.size == strlen(KNOWN) && !memcmp(id.data, KNOWN, id.size);

	scfg = handoff_config_new();
	FUZZ_CHECK(scfg);
	if (use_lookup)
		FUZZ_CHECK(handoff_config_set_psk_lookup(scfg, lookup, &seen) == 0);
	else
		FUZZ_CHECK(handoff_config_set_psk(scfg, KNOWN, psk_key, sizeof(psk_key)) == 0);
	FUZZ_CHECK(handoff_config_set_protocols(scfg, (data[0] & SETUP_TLS12) ?
						HANDOFF_PROTOCOL_TLSv1_2 :
						HANDOFF_PROTOCOL_TLSv1_3) == 0);
	handoff_config_set_handshake_timeout(scfg, WAIT_MS);

	fuzz_tcp_pair(fds);
	s = handoff_server(scfg, fds[1]);
	FUZZ_CHECK(s);
	conn_set_test_flags(s, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);

	FUZZ_CHECK(gnutls_psk_allocate_client_credentials(&ccred) == 0);
	FUZZ_CHECK(gnutls_psk_set_client_credentials2(ccred, &id, &key, GNUTLS_PSK_KEY_RAW) == 0);
	FUZZ_CHECK(gnutls_init(&cs, GNUTLS_CLIENT | GNUTLS_NONBLOCK) == 0);
	prio = (data[0] & SETUP_TLS12) ?
		       "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+DHE-PSK:+ECDHE-PSK" :
		       "NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK:+DHE-PSK:+ECDHE-PSK";
	FUZZ_CHECK(gnutls_priority_set_direct(cs, prio, NULL) == 0);
	FUZZ_CHECK(gnutls_credentials_set(cs, GNUTLS_CRD_PSK, ccred) == 0);
	gnutls_transport_set_int(cs, fds[0]);

	/* Both sides in this thread, each taking a turn until both are done. */
	pfd[0].fd = fds[0];
	pfd[1].fd = fds[1];
	for (;;) {
		if (rc > 0) {
			int r = gnutls_handshake(cs);

			rc = r == 0 ? 0 : gnutls_error_is_fatal(r) ? -1 : 1;
		}
		if (rs > 0) {
			s_want = handoff_handshake(s);
			rs = s_want == 0 ? 0 : s_want == -1 ? -1 : 1;
		}
		/* One side failed: the other gets its alert or the close next. */
		if (rs == -1 && rc > 0)
			shutdown(fds[1], SHUT_RDWR);
		if (rc == -1 && rs > 0)
			shutdown(fds[0], SHUT_RDWR);
		if (rc <= 0 && rs <= 0)
			break;
		pfd[0].events = rc > 0 ? (gnutls_record_get_direction(cs) ? POLLOUT : POLLIN) : 0;
		pfd[1].events = rs > 0 ? (s_want == HANDOFF_WANT_POLLOUT ? POLLOUT : POLLIN) : 0;
		ret = poll(pfd, 2, WAIT_MS);
		FUZZ_CHECK(ret > 0 || (ret < 0 && errno == EINTR));	/* libFuzzer's alarm */
	}

	FUZZ_CHECK((rs == 0) == known);
	if (rs == 0) {
		const char *got = handoff_conn_psk_identity(s);

		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(got && strlen(got) == id.size && !memcmp(got, id.data, id.size));
	} else {
		FUZZ_CHECK(handoff_error(s) && *handoff_error(s));
	}
	if (use_lookup)
		FUZZ_CHECK(seen.whole);

	gnutls_deinit(cs);
	gnutls_psk_free_client_credentials(ccred);
	handoff_free(s);
	handoff_config_free(scfg);
	fuzz_close_pair(fds);
	return 0;
}
