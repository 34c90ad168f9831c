/*
 * ktls-smoke: proves that the guest kernel's TLS record layer works.
 *
 * Two TCP loopback pairs, both with the same fixed TLS 1.3 AES-128-GCM key:
 *  1. TLS_TX on one end, TLS_RX on the other: data of several sizes must
 *     round-trip unchanged through encryption and decryption.
 *  2. TLS_TX on one end, a plain socket on the other: the bytes on the wire
 *     must be a TLS 1.3 application-data record, not the plaintext.
 * /proc/net/tls_stat must show the software TX/RX contexts appear.
 *
 * Exit 0 on success, 1 on failure, 77 (skip) when the kernel has no kTLS and
 * HANDOFF_TEST_KTLS is not set (so a host without kTLS does not fail).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define EXIT_SKIP 77

static int fail(const char *what)
{
	fprintf(stderr, "ktls-smoke: %s: %s\n", what, strerror(errno));
	return -1;
}

/* Reads counter NAME from /proc/net/tls_stat; -1 if it is not there. */
static long tls_stat(const char *name)
{
	char key[64];
	long value;
	long found = -1;
	FILE *f = fopen("/proc/net/tls_stat", "re");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &value) == 2) {
		if (strcmp(key, name) == 0) {
			found = value;
			break;
		}
	}
	fclose(f);
	return found;
}

static void show_tls_stat(const char *when)
{
	char line[128];
	FILE *f = fopen("/proc/net/tls_stat", "re");

	printf("/proc/net/tls_stat %s:\n", when);
	if (!f) {
		printf("  (absent)\n");
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("  %s", line);
	fclose(f);
}

static int tcp_pair(int fds[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return fail("socket");
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
		goto err_listen;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0)
		goto err_listen;
	if (connect(fds[0], (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto err_connect;
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0)
		goto err_connect;
	close(lfd);
	return 0;

err_connect:
	close(fds[0]);
err_listen:
	fail("loopback pair");
	close(lfd);
	return -1;
}

static void fixed_key(struct tls12_crypto_info_aes_gcm_128 *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_3_VERSION;
	ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memcpy(ci->key, "0123456789abcdef", TLS_CIPHER_AES_GCM_128_KEY_SIZE);
	memcpy(ci->iv, "ivivivIV", TLS_CIPHER_AES_GCM_128_IV_SIZE);
	memcpy(ci->salt, "salt", TLS_CIPHER_AES_GCM_128_SALT_SIZE);
}

/* Returns 0, -1 on error, or -ENOENT when the kernel has no "tls" ULP. */
static int set_ktls(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return fail("setsockopt(TCP_ULP, tls)");
	}
	fixed_key(&ci);
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci)) < 0)
		return fail(dir == TLS_TX ? "setsockopt(TLS_TX)" : "setsockopt(TLS_RX)");
	return 0;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? fail("recv") : (errno = EPIPE, fail("recv: early EOF"));
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const unsigned char *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, buf + put, len - put, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("send");
		put += (size_t)n;
	}
	return 0;
}

/* Pair 1: data must survive TX encryption and RX decryption, and the pair
 * must show up as one more software TX and RX context. */
static int check_round_trip(void)
{
	long curr_tx0 = tls_stat("TlsCurrTxSw"), curr_rx0 = tls_stat("TlsCurrRxSw");
	long curr_tx, curr_rx;
	static const size_t sizes[] = { 1, 100, 16384, 16385, 70000 };
	static unsigned char out[70000], in[70000];
	int fds[2], rc = -1;
	size_t i, j;

	if (tcp_pair(fds) < 0)
		return -1;
	rc = set_ktls(fds[0], TLS_TX);
	if (rc == 0)
		rc = set_ktls(fds[1], TLS_RX);
	if (rc < 0)
		goto out;
	show_tls_stat("with one TX/RX pair open");
	curr_tx = tls_stat("TlsCurrTxSw");
	curr_rx = tls_stat("TlsCurrRxSw");
	if (curr_tx != curr_tx0 + 1 || curr_rx != curr_rx0 + 1) {
		fprintf(stderr, "ktls-smoke: TlsCurrTxSw %ld -> %ld, TlsCurrRxSw %ld -> %ld, want +1 each\n",
			curr_tx0, curr_tx, curr_rx0, curr_rx);
		rc = -1;
		goto out;
	}
	printf("TlsCurrTxSw %ld -> %ld, TlsCurrRxSw %ld -> %ld: ok\n",
	       curr_tx0, curr_tx, curr_rx0, curr_rx);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizes[i]; j++)
			out[j] = (unsigned char)(j * 7 + i);
		memset(in, 0, sizes[i]);
		rc = write_full(fds[0], out, sizes[i]);
		if (rc == 0)
			rc = read_full(fds[1], in, sizes[i]);
		if (rc < 0)
			goto out;
		if (memcmp(in, out, sizes[i]) != 0) {
			fprintf(stderr, "ktls-smoke: %zu bytes came back changed\n", sizes[i]);
			rc = -1;
			goto out;
		}
		printf("round trip of %zu bytes: ok\n", sizes[i]);
	}
out:
	close(fds[0]);
	close(fds[1]);
	return rc;
}

/* Pair 2: what TLS_TX puts on the wire is a TLS 1.3 record, encrypted. */
static int check_wire(void)
{
	static const unsigned char msg[] = "plaintext that must not be seen";
	/* 5 header + data + 1 inner content type + 16 tag */
	unsigned char rec[5 + sizeof(msg) + 1 + 16];
	int fds[2], rc;

	if (tcp_pair(fds) < 0)
		return -1;
	rc = set_ktls(fds[0], TLS_TX);
	if (rc == 0)
		rc = write_full(fds[0], msg, sizeof(msg));
	if (rc == 0)
		rc = read_full(fds[1], rec, sizeof(rec));
	if (rc == 0) {
		unsigned int len = (unsigned int)rec[3] << 8 | rec[4];

		if (rec[0] != 0x17 || rec[1] != 0x03 || rec[2] != 0x03 ||
		    len != sizeof(rec) - 5) {
			fprintf(stderr, "ktls-smoke: not a TLS 1.3 record: %02x %02x %02x len %u\n",
				rec[0], rec[1], rec[2], len);
			rc = -1;
		} else if (memmem(rec, sizeof(rec), msg, 8)) {
			fprintf(stderr, "ktls-smoke: plaintext on the wire\n");
			rc = -1;
		} else {
			printf("wire: one %u-byte application-data record, encrypted: ok\n", len);
		}
	}
	close(fds[0]);
	close(fds[1]);
	return rc;
}

int main(void)
{
	const char *required = getenv("HANDOFF_TEST_KTLS");
	long tx0 = tls_stat("TlsTxSw"), rx0 = tls_stat("TlsRxSw");
	long tx1, rx1;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kernel kTLS smoke test (TLS 1.3, AES-128-GCM)\n");
	rc = check_round_trip();
	if (rc == -ENOENT) {
		printf("the kernel has no kTLS (TCP_ULP \"tls\": ENOENT)\n");
		if (required && strcmp(required, "1") == 0)
			return EXIT_FAILURE;
		return EXIT_SKIP;
	}
	if (rc < 0 || check_wire() < 0)
		return EXIT_FAILURE;

	tx1 = tls_stat("TlsTxSw");
	rx1 = tls_stat("TlsRxSw");
	show_tls_stat("at the end");
	/* The Curr counters are back to their start once the sockets closed;
	 * the totals count every context ever set up. */
	if (tx0 < 0 || tx1 < tx0 + 2 || rx1 < rx0 + 1) {
		fprintf(stderr, "ktls-smoke: tls_stat did not move: TlsTxSw %ld -> %ld, TlsRxSw %ld -> %ld\n",
			tx0, tx1, rx0, rx1);
		return EXIT_FAILURE;
	}
	printf("TlsTxSw %ld -> %ld, TlsRxSw %ld -> %ld: ok\n", tx0, tx1, rx0, rx1);
	return EXIT_SUCCESS;
}
