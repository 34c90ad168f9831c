/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Handing a socket's record layer to the kernel: attach the "tls" ULP,
 * then give it one crypto_info per direction.
 */
#include "common.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ktls/ktls.h"
#include "util/wipe.h"

/* Older libc headers predate kTLS; the numbers are kernel ABI and fixed. */
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef SOL_TCP
#define SOL_TCP IPPROTO_TCP
#endif

int ktls_attach_ulp(int fd)
{
	/* The kernel reads the name up to its NUL; sizeof includes it. */
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	return 0;
}

/*
 * An on/off socket option of the TLS layer, once the keys are in.  The
 * first ENOPROTOOPT (a kernel older than the option) is remembered for the
 * process, so later connections do not ask again.
 */
#ifndef TLS_TX_ZEROCOPY_RO
#define TLS_TX_ZEROCOPY_RO 3
#endif
#ifndef TLS_RX_EXPECT_NO_PAD
#define TLS_RX_EXPECT_NO_PAD 4
#endif
static int option_absent[2];	/* [0] zerocopy, [1] no-pad; atomic */

static int set_flag(int fd, int opt, int *absent)
{
	int one = 1;

	if (__atomic_load_n(absent, __ATOMIC_RELAXED))
		return -ENOPROTOOPT;
	if (setsockopt(fd, SOL_TLS, opt, &one, sizeof(one)) == 0)
		return 0;
	if (errno == ENOPROTOOPT)
		__atomic_store_n(absent, 1, __ATOMIC_RELAXED);
	return -errno;
}

int ktls_set_tx_zerocopy(int fd)
{
	return set_flag(fd, TLS_TX_ZEROCOPY_RO, &option_absent[0]);
}

int ktls_set_rx_no_pad(int fd)
{
	return set_flag(fd, TLS_RX_EXPECT_NO_PAD, &option_absent[1]);
}

int ktls_set_crypto(int fd, int dir, const struct ktls_crypto_info *info)
{
	if (dir != TLS_TX && dir != TLS_RX)
		return -EINVAL;
	if (!info || info->len < sizeof(info->u.base) || info->len > sizeof(info->u))
		return -EINVAL;
	if (setsockopt(fd, SOL_TLS, dir, &info->u, (socklen_t)info->len) < 0)
		return -errno;
	return 0;
}

int ktls_get_params(int fd, int dir, enum handoff_tls_version *version,
		    enum handoff_cipher *cipher)
{
	struct tls_crypto_info info;
	socklen_t len = sizeof(info);

	/* The kernel says EBUSY for a direction that has no key yet. */
	if (getsockopt(fd, SOL_TLS, dir, &info, &len) < 0)
		return errno == EBUSY ? -ENOKEY : -errno;
	if (len < sizeof(info) || info.cipher_type == 0)
		return -ENOKEY;
	switch (info.version) {
	case TLS_1_2_VERSION:
		*version = HANDOFF_TLS_1_2;
		break;
	case TLS_1_3_VERSION:
		*version = HANDOFF_TLS_1_3;
		break;
	default:
		return -EOPNOTSUPP;
	}
	switch (info.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		*cipher = HANDOFF_CIPHER_AES_128_GCM;
		break;
	case TLS_CIPHER_AES_GCM_256:
		*cipher = HANDOFF_CIPHER_AES_256_GCM;
		break;
	case TLS_CIPHER_AES_CCM_128:
		*cipher = HANDOFF_CIPHER_AES_128_CCM;
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		*cipher = HANDOFF_CIPHER_CHACHA20_POLY1305;
		break;
	default:
		return -EOPNOTSUPP;
	}
	return 0;
}

int ktls_install_infos(int fd, struct ktls_crypto_info *tx,
		       struct ktls_crypto_info *rx, const char **step)
{
	const char *failed;
	int ret;

	ret = ktls_attach_ulp(fd);
	/* Attached already, by us, when the handshake started (core/conn.c). */
	if (ret == -EEXIST)
		ret = 0;
	if (ret < 0) {
		failed = "TCP_ULP";
		goto out;
	}
	/* Each copy goes as soon as the kernel has taken it. */
	ret = ktls_set_crypto(fd, TLS_TX, tx);
	wipe(tx, sizeof(*tx));
	if (ret < 0) {
		failed = "TLS_TX";
		goto out;
	}
	ret = ktls_set_crypto(fd, TLS_RX, rx);
	if (ret < 0)
		failed = "TLS_RX";
out:
	wipe(tx, sizeof(*tx));
	wipe(rx, sizeof(*rx));
	if (ret < 0 && step)
		*step = failed;
	return ret;
}

int ktls_install(int fd, gnutls_session_t session, const char **step)
{
	struct ktls_crypto_info tx, rx;
	int ret;

	/*
	 * Extract both directions before touching the socket: once the ULP is
	 * attached there is no way back to plain TCP, so anything that can
	 * fail without the kernel fails first.
	 */
	ret = ktls_keys_from_session(session, 0, &tx);
	if (ret < 0) {
		if (step)
			*step = "TLS_TX";
		return ret;
	}
	ret = ktls_keys_from_session(session, 1, &rx);
	if (ret < 0) {
		wipe(&tx, sizeof(tx));
		if (step)
			*step = "TLS_RX";
		return ret;
	}
	return ktls_install_infos(fd, &tx, &rx, step);
}
