/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared helpers for the Check unit tests. */
#ifndef HANDOFF_TESTUTIL_H
#define HANDOFF_TESTUTIL_H

#include <check.h>
#include <gnutls/gnutls.h>
#include <pthread.h>

/* A connected TCP pair over 127.0.0.1: fds[0] the client end, fds[1] the server end. */
void tu_tcp_pair(int fds[2]);

/*
 * tu_pki - full path of a file of the throw-away test PKI (the directory in
 * $HANDOFF_PKI, made by tests/pki/mkcerts.sh).  Returns a string owned by
 * a small rotating buffer: valid for the next 16 calls.
 */
const char *tu_pki(const char *name);

/* Run fn(arg) in a new thread; tu_join returns fn's result. */
pthread_t tu_spawn(int (*fn)(void *), void *arg);
int tu_join(pthread_t t);

struct handoff;
struct handoff_config;

/* Our client and our server, handshaken against each other over loopback. */
struct tu_pair {
	struct handoff *cli, *srv;
	int fds[2];		/* client end, server end */
	int cli_ret, srv_ret;	/* what handoff_handshake() returned on each side */
};

/*
 * tu_handshake_pair - a fresh tu_tcp_pair, handoff_client(ccfg, servername)
 * on one end and handoff_server(scfg) on the other with test_flags
 * (CONN_TEST_*) set on both, the server's handshake in a thread.  If the
 * client fails, its end is shut down so the server cannot wait forever.
 * Results are in p; release with tu_pair_free().
 */
void tu_handshake_pair(struct tu_pair *p, struct handoff_config *ccfg,
		       struct handoff_config *scfg, const char *servername, unsigned test_flags);
void tu_pair_free(struct tu_pair *p);

/*
 * tu_cork_before_finished - a GnuTLS handshake hook (GNUTLS_HANDSHAKE_FINISHED,
 * GNUTLS_HOOK_PRE) for a peer whose session pointer is its fd: corks the
 * socket just before the peer's own Finished goes out, so that data the peer
 * sends right after the handshake (then uncorks) shares Finished's segment.
 */
int tu_cork_before_finished(gnutls_session_t session, unsigned htype, unsigned when,
			    unsigned incoming, const gnutls_datum_t *msg);

/*
 * tu_send_record - make GnuTLS session s (a peer, on socket fd) send one
 * record of content type type holding data/len, sealed under its current
 * write key, and move the session's write sequence number past it: the
 * session keeps working.  For records GnuTLS will not send itself: a
 * zero-length application data record (legal, RFC 8446 5.1 and RFC 5246
 * 6.2.1; GnuTLS 3.7 calls gnutls_record_send(s, "", 0) invalid), or a
 * handshake message cut into fragments.  TLS 1.2 and 1.3 (inner type).
 */
void tu_send_record(gnutls_session_t s, int fd, unsigned char type, const void *data,
		    size_t len);

/* srunner boilerplate: run suite s, return the process exit status. */
int tu_run(Suite *s);

#endif
