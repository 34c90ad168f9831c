/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sni-cost - by hand: what choosing a server's pair by RFC 6125 costs per
 * handshake (core/certselect.c).  One config with the six SNI pairs of the
 * test PKI; TLS 1.3 GnuTLS clients ask N times for server.test (GnuTLS's own
 * choice, nothing steered) and N times for x.wild.test (steered to the
 * wildcard's copies), three rounds, over loopback in one process.  Not
 * built by make; from a built tree (after make check made the PKI):
 *
 *   gcc -DHAVE_CONFIG_H -I. -Ihelper/include -Ihelper/lib -Ihelper -include config.h \
 *       -pthread -O2 -c -o sni-cost.o tests/bench/sni-cost.c &&
 *   ./libtool --tag=CC --mode=link gcc -pthread -O2 -o sni-cost sni-cost.o \
 *       libhandoff-core.la -lnettle -lgnutls &&
 *   HANDOFF_PKI=$PWD/tests/pki/out ./sni-cost 500
 */
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "common.h"
#include "core/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
static void *serve(void *arg) { return (void *)(long)handoff_handshake(arg); }
static void pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	bind(l, (void *)&sa, sizeof(sa)); listen(l, 1); getsockname(l, (void *)&sa, &len);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	connect(fds[0], (void *)&sa, sizeof(sa));
	fds[1] = accept(l, NULL, NULL); close(l);
	int one = 1;
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static double run(struct handoff_config *scfg, const char *name, int n)
{
	gnutls_certificate_credentials_t cc;
	double t0 = now();
	gnutls_certificate_allocate_credentials(&cc);
	for (int i = 0; i < n; i++) {
		int fds[2]; gnutls_session_t s; int ret;
		pair(fds);
		struct handoff *srv = handoff_server(scfg, fds[1]);
		conn_set_test_flags(srv, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
		pthread_t t; pthread_create(&t, NULL, serve, srv);
		gnutls_init(&s, GNUTLS_CLIENT);
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cc);
		gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, name, strlen(name));
		gnutls_transport_set_int(s, fds[0]);
		do ret = gnutls_handshake(s); while (ret < 0 && !gnutls_error_is_fatal(ret));
		if (ret < 0) { fprintf(stderr, "%s\n", gnutls_strerror(ret)); exit(1); }
		void *r; pthread_join(t, &r); if (r) exit(1);
		gnutls_deinit(s); handoff_free(srv); close(fds[0]); close(fds[1]);
	}
	gnutls_certificate_free_credentials(cc);
	return (now() - t0) / n * 1000;
}

int main(int argc, char **argv)
{
	static const char *p[][2] = { { "server.pem", "server-key.pem" }, { "server-rsa.pem", "server-rsa-key.pem" },
		{ "wild.pem", "wild-key.pem" }, { "wild-rsa.pem", "wild-rsa-key.pem" },
		{ "wild-exact.pem", "wild-exact-key.pem" }, { "second.pem", "second-key.pem" } };
	int n = argc > 1 ? atoi(argv[1]) : 200;
	struct handoff_config *scfg = handoff_config_new();
	for (size_t i = 0; i < 6; i++) {
		char c[512], k[512];
		snprintf(c, sizeof c, "%s/%s", getenv("HANDOFF_PKI"), p[i][0]);
		snprintf(k, sizeof k, "%s/%s", getenv("HANDOFF_PKI"), p[i][1]);
		if (handoff_config_add_keypair_file(scfg, c, k)) { fprintf(stderr, "%s\n", handoff_config_error(scfg)); return 1; }
	}
	double warm = run(scfg, "server.test", 1);
	double first0 = now(); run(scfg, "x.wild.test", 1); double first = (now() - first0) * 1000;
	double second = run(scfg, "x.wild.test", 1);
	printf("first handshake of all (server.test): %.3f ms; first x.wild.test (copies made): %.3f ms; second x.wild.test: %.3f ms\n", warm, first, second);
	for (int r = 0; r < 3; r++)
		printf("round %d: server.test (GnuTLS's own choice) %.3f ms/handshake; x.wild.test (steered) %.3f ms/handshake\n",
		       r, run(scfg, "server.test", n), run(scfg, "x.wild.test", n));
	handoff_config_free(scfg);
	return 0;
}
