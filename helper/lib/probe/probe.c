/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the running kernel accepts, found by trying it: attach the "tls"
 * ULP to a loopback TCP socket and hand it a (zero) key for every cipher,
 * version and direction.  A kernel version number says little: distributions
 * backport, build without CONFIG_TLS, or leave the cipher modules unloaded.
 */
#include "common.h"

#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe/advice.h"
#include "probe/probe.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* Only the type and size matter to the kernel here, never the key. */
union probe_key {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 aes_gcm_128;
	struct tls12_crypto_info_aes_gcm_256 aes_gcm_256;
	struct tls12_crypto_info_chacha20_poly1305 chacha20_poly1305;
	struct tls12_crypto_info_aes_ccm_128 aes_ccm_128;
};

static const struct {
	const char *name;
	uint16_t type;
	socklen_t len;
} ciphers[HANDOFF_CIPHER_COUNT] = {
	[HANDOFF_CIPHER_AES_128_GCM] = { "AES-128-GCM", TLS_CIPHER_AES_GCM_128,
		sizeof(struct tls12_crypto_info_aes_gcm_128) },
	[HANDOFF_CIPHER_AES_256_GCM] = { "AES-256-GCM", TLS_CIPHER_AES_GCM_256,
		sizeof(struct tls12_crypto_info_aes_gcm_256) },
	[HANDOFF_CIPHER_CHACHA20_POLY1305] = { "CHACHA20-POLY1305",
		TLS_CIPHER_CHACHA20_POLY1305,
		sizeof(struct tls12_crypto_info_chacha20_poly1305) },
	[HANDOFF_CIPHER_AES_128_CCM] = { "AES-128-CCM", TLS_CIPHER_AES_CCM_128,
		sizeof(struct tls12_crypto_info_aes_ccm_128) },
};

static const struct {
	const char *name;
	uint16_t wire;
} versions[HANDOFF_TLS_VERSION_COUNT] = {
	[HANDOFF_TLS_1_2] = { "TLSv1.2", TLS_1_2_VERSION },
	[HANDOFF_TLS_1_3] = { "TLSv1.3", TLS_1_3_VERSION },
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handoff_kernel_info cache;
static bool cache_valid;

const char *handoff_cipher_name(enum handoff_cipher cipher)
{
	if ((unsigned)cipher >= HANDOFF_CIPHER_COUNT)
		return NULL;
	return ciphers[cipher].name;
}

const char *handoff_tls_version_name(enum handoff_tls_version version)
{
	if ((unsigned)version >= HANDOFF_TLS_VERSION_COUNT)
		return NULL;
	return versions[version].name;
}

int handoff_kernel_supports(const struct handoff_kernel_info *info,
			    enum handoff_tls_version version,
			    enum handoff_cipher cipher)
{
	if (!info || (unsigned)version >= HANDOFF_TLS_VERSION_COUNT ||
	    (unsigned)cipher >= HANDOFF_CIPHER_COUNT)
		return 0;
	return info->tx_errno[version][cipher] == 0 &&
	       info->rx_errno[version][cipher] == 0;
}

/* A listener on 127.0.0.1, any port; every probe pair connects to it. */
static int listener_open(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A fresh established connection: the ULP attaches only to an established
 * socket, and a socket that once refused a key is not trusted for the next.
 * Returns the client end; *peer is the accepted end.
 */
static int pair_open(int listener, const struct sockaddr_in *addr, int *peer)
{
	int fd, accepted, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
		goto err_connect;
	accepted = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (accepted < 0)
		goto err_connect;
	*peer = accepted;
	return fd;

err_connect:
	ret = -errno;
	close(fd);
	return ret;
}

static int try_ulp(int fd)
{
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return errno;
	return 0;
}

static int try_key(int fd, enum handoff_tls_version version,
		   enum handoff_cipher cipher, int dir)
{
	union probe_key key;

	memset(&key, 0, sizeof(key));
	key.base.version = versions[version].wire;
	key.base.cipher_type = ciphers[cipher].type;
	if (setsockopt(fd, SOL_TLS, dir, &key, ciphers[cipher].len) < 0)
		return errno;
	return 0;
}

/*
 * One cell of the table: 0 or the positive errno of the first step that
 * failed (the ULP, then the key).  Negative errno if no socket pair could
 * be made at all, which means the probe itself cannot run.
 */
static int probe_one(int listener, const struct sockaddr_in *addr,
		     enum handoff_tls_version version,
		     enum handoff_cipher cipher, int dir, int *ulp_errno,
		     int *result)
{
	int fd, peer = -1, err;

	fd = pair_open(listener, addr, &peer);
	if (fd < 0)
		return fd;
	err = try_ulp(fd);
	if (*ulp_errno < 0)
		*ulp_errno = err;
	if (err == 0)
		err = try_key(fd, version, cipher, dir);
	*result = err;
	close(peer);
	close(fd);
	return 0;
}

static void fill_all(struct handoff_kernel_info *info, int err)
{
	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
			info->tx_errno[v][c] = err;
			info->rx_errno[v][c] = err;
		}
	}
}

static int probe_ciphers(struct handoff_kernel_info *info)
{
	struct sockaddr_in addr;
	int listener, ret = 0;
	int ulp_errno = -1;	/* not tried yet */

	listener = listener_open(&addr);
	if (listener < 0)
		return listener;

	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
			ret = probe_one(listener, &addr, v, c, TLS_TX,
					&ulp_errno, &info->tx_errno[v][c]);
			if (ret < 0)
				goto out_listener;
			/* Without the ULP no key can be tried: one answer for all. */
			if (ulp_errno > 0) {
				fill_all(info, ulp_errno);
				goto out_listener;
			}
			ret = probe_one(listener, &addr, v, c, TLS_RX,
					&ulp_errno, &info->rx_errno[v][c]);
			if (ret < 0)
				goto out_listener;
		}
	}

out_listener:
	close(listener);
	info->ulp_errno = ulp_errno;
	return ret;
}

static int probe_tls_stat(void)
{
	int fd;

	fd = open("/proc/net/tls_stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int probe_run(struct handoff_kernel_info *info)
{
	struct utsname uts;
	int ret;

	memset(info, 0, sizeof(*info));
	if (uname(&uts) < 0)
		return -errno;
	/* utsname.release is 65 bytes on Linux, as is ours; never overrun. */
	snprintf(info->release, sizeof(info->release), "%s", uts.release);

	ret = probe_ciphers(info);
	if (ret < 0)
		return ret;

	ret = probe_genl_family("handshake");
	info->handshake_family_errno = ret > 0 ? 0 : -ret;
	info->tls_stat_errno = probe_tls_stat();
	return 0;
}

int handoff_kernel_probe(struct handoff_kernel_info *info, int refresh)
{
	struct handoff_kernel_info fresh;
	int ret = 0;

	if (!info) {
		errno = EINVAL;
		return -1;
	}

	pthread_mutex_lock(&cache_lock);
	if (refresh || !cache_valid) {
		ret = probe_run(&fresh);
		/* A failed probe keeps the last good answer for other callers. */
		if (ret == 0) {
			cache = fresh;
			cache_valid = true;
		}
	}
	if (ret == 0)
		*info = cache;
	pthread_mutex_unlock(&cache_lock);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

const char *probe_advice(const char *what, int err)
{
	return probe_advice_words(what, err);
}
