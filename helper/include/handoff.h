/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff.h - TLS handshake in user space, record layer in the kernel.
 *
 * libhandoff runs a full TLS 1.2 / 1.3 handshake with GnuTLS on a socket you
 * already connected (or accepted), then installs both directions' traffic
 * keys into the kernel's TLS layer (kTLS).  From then on the socket is an
 * ordinary file descriptor: read(2), write(2) and sendfile(2) on it are TLS,
 * and the kernel does the record crypto.
 *
 * A client in five calls:
 *
 *	struct handoff_config *cfg = handoff_config_new();
 *	handoff_config_add_ca_file(cfg, "/etc/ssl/certs/my-ca.pem");
 *	struct handoff *h = handoff_client(cfg, fd, "www.example.com");
 *	if (handoff_handshake(h) == -1)
 *		errx(1, "%s", handoff_error(h));
 *	write(fd, "GET / HTTP/1.0\r\n\r\n", 18);	// encrypted by the kernel
 *	...
 *	handoff_close(h);	// sends close_notify
 *	handoff_free(h);
 *	handoff_config_free(cfg);
 *
 * Return contract (libtls style): functions returning int give 0 on success
 * and -1 on failure, with the reason in handoff_error() or
 * handoff_config_error().  Calls that do I/O may also return
 * HANDOFF_WANT_POLLIN or HANDOFF_WANT_POLLOUT on a non-blocking socket:
 * poll(2) the fd for that event and call again.
 *
 * Defaults are the secure ones: TLS 1.3 and 1.2 only, AEAD ciphers the kernel
 * accepts, the peer certificate verified against the system trust store
 * (unless you set CA files), the server name checked, and no silent fallback
 * to user-space encryption.  Anything weaker has "insecure" in its name.
 *
 * Ownership: the caller owns the file descriptor; handoff never closes it.
 * A connection holds a reference on its config, so a config may be freed
 * while connections made from it are still alive.  Configuring a config
 * while another thread creates connections from it is not supported.
 * Strings returned by the library stay valid until the object that returned
 * them is freed, unless a function says otherwise.
 */
#ifndef HANDOFF_H
#define HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when the API changes incompatibly. */
#define HANDOFF_API_VERSION 1

#define HANDOFF_WANT_POLLIN  (-2)
#define HANDOFF_WANT_POLLOUT (-3)

/* Protocol versions, for handoff_config_set_protocols(). */
#define HANDOFF_PROTOCOL_TLSv1_2 (1u << 0)
#define HANDOFF_PROTOCOL_TLSv1_3 (1u << 1)
#define HANDOFF_PROTOCOLS_DEFAULT (HANDOFF_PROTOCOL_TLSv1_2 | HANDOFF_PROTOCOL_TLSv1_3)

struct handoff_config;
struct handoff;
struct handoff_cache;

/* ---------------------------------------------------------------- config */

/*
 * handoff_config_new - a configuration with secure defaults.
 * Returns NULL with errno set (ENOMEM, or EIO if GnuTLS cannot initialise).
 * Free it with handoff_config_free().
 */
struct handoff_config *handoff_config_new(void);

/* handoff_config_free - drop the caller's reference. NULL is allowed. */
void handoff_config_free(struct handoff_config *cfg);

/*
 * handoff_config_error - text of the last failed config call, or NULL.
 * Valid until the next call on cfg.
 */
const char *handoff_config_error(struct handoff_config *cfg);

/*
 * Trust.  Each call adds trust anchors; several CA files and directories may
 * be combined (federation).  If none is set, the system trust store is used.
 * PEM files; a directory is read like OpenSSL's (every *.pem / *.crt).
 */
int handoff_config_add_ca_file(struct handoff_config *cfg, const char *path);
int handoff_config_add_ca_dir(struct handoff_config *cfg, const char *path);
/* Add the system trust store explicitly (e.g. on top of a private CA). */
int handoff_config_add_system_ca(struct handoff_config *cfg);
/* Add certificate revocation lists (PEM) that peer chains are checked against. */
int handoff_config_add_crl_file(struct handoff_config *cfg, const char *path);

/*
 * handoff_config_set_keypair_file - our certificate chain (PEM, leaf first)
 * and private key (PEM).  Servers need one unless they use PSK only;
 * clients present it when the server asks (mutual TLS).  This is the first
 * pair; a second call fails ("already set"): more pairs are added with
 * handoff_config_add_keypair_file().
 */
int handoff_config_set_keypair_file(struct handoff_config *cfg,
				    const char *cert_file, const char *key_file);

/*
 * handoff_config_add_keypair_file - one more certificate chain and key, for
 * a server that answers to several names (virtual hosts, as nginx's server
 * blocks or stunnel's sni) or that holds an RSA and an ECDSA key for one
 * name.  Call it once per pair, in the order you want them tried; the first
 * call is the same as handoff_config_set_keypair_file().
 *
 * Which pair a client gets is decided per handshake, by the name it sent
 * (SNI), under the rules a client checks the certificate by (RFC 6125), so
 * that the pair chosen is one the client will accept for that name:
 *  - A pair's names are its certificate's DNS subjectAltNames (its subject
 *    CN if it has none).  They are compared with the client's name without
 *    regard to (ASCII) case: "WWW.Example.COM" is "www.example.com".
 *  - A name "*.example.com" is a wildcard for exactly one leftmost label:
 *    it covers "www.example.com", but neither "example.com" nor
 *    "a.www.example.com".  A "*" elsewhere in a name is no wildcard.
 *  - The pairs with the client's name come first, in the order added; then
 *    the pairs with a wildcard covering it, in the order added; the first of
 *    these whose key the client accepts is presented.  An exact name thus
 *    beats a wildcard whatever the order, as long as the client takes its
 *    key: its signature algorithms (in TLS 1.3 an ECDSA key only with its
 *    own curve's algorithm), and in TLS 1.2 also a cipher suite for that
 *    key type.  With an RSA and an ECDSA pair for one name, a client that
 *    takes only RSA gets the RSA pair; one that takes both gets the pair
 *    added first (in TLS 1.2 the key exchanges are put in the order of the
 *    first candidate pair's key type).
 *  - No server name, or a name no pair has or covers, or no such pair whose
 *    key the client accepts: the first pair whose key the client accepts,
 *    whatever its names (in the last cases the client's name check fails).
 *    For ordinary clients that is the first pair added: add the default
 *    site first.
 *  - A resumed session keeps the certificate of the session it resumes.
 * (GnuTLS tries keys whose certificate says RSA-PSS, which are rare,
 * before RSA keys whatever the order: even a wildcard's RSA-PSS key
 * before an exact name's RSA key, for a client that takes both.)  For names where GnuTLS 3.7's own
 * choice (exact bytes, no wildcards) would differ, the library keeps a
 * copy of the matching pairs and of the first pair of each key type for
 * that name, made the first time a client asks for it and kept until the
 * config is freed: at most one such set per name or wildcard.
 *
 * Refused, with the file named in handoff_config_error(): a key that does
 * not match its certificate; a pair with a name (or a wildcard) that an
 * earlier pair with the same key type already has, case aside (the second
 * would never be presented for it; a wildcard and a name under it are
 * fine: the name wins for itself); a pair with no DNS name behind an
 * earlier one of its key type (it could never be chosen).  A refused pair
 * leaves the config as it was.
 *
 * Clients: present one pair (mutual TLS); with several, which one goes out
 * is GnuTLS's guess from the CAs the server names.
 */
int handoff_config_add_keypair_file(struct handoff_config *cfg,
				    const char *cert_file, const char *key_file);

/*
 * handoff_config_set_keypair_mem - the same from memory: a certificate
 * chain and its private key, each PEM or DER (told apart by content; DER
 * is a single certificate, and the key PKCS#8 or PKCS#1), as the kernel
 * keyring hands them over.  Both buffers are copied; the caller keeps
 * (and wipes) its own key bytes.  The first pair only, like
 * handoff_config_set_keypair_file().
 */
int handoff_config_set_keypair_mem(struct handoff_config *cfg,
				   const uint8_t *cert, size_t cert_len,
				   const uint8_t *key, size_t key_len);

/*
 * handoff_config_add_keypair_mem - one more pair from memory, chosen and
 * checked as for handoff_config_add_keypair_file(); errors name the pair
 * by its position ("certificate #2 (DER, in memory)").
 */
int handoff_config_add_keypair_mem(struct handoff_config *cfg,
				   const uint8_t *cert, size_t cert_len,
				   const uint8_t *key, size_t key_len);

/*
 * handoff_config_set_psk - a TLS 1.3 external pre-shared key.  The key is
 * copied (and wiped when the config is freed); identity is an ASCII name.
 * A server with a PSK accepts clients that present this identity and key.
 * With a PSK set and no keypair, a client offers PSK only.
 */
int handoff_config_set_psk(struct handoff_config *cfg, const char *identity,
			   const uint8_t *key, size_t key_len);

/*
 * handoff_psk_lookup_fn - finds the key of a PSK identity a client offers.
 * Write the key (16 to 512 bytes) to key, whose room *key_len gives, set
 * *key_len to its length and return 0; return -1 for an identity you do not
 * know (the client is then told unknown_psk_identity).  Called on the
 * thread running handoff_handshake(), once per identity tried.  The library
 * wipes its copy of the key; wipe yours.
 */
typedef int (*handoff_psk_lookup_fn)(void *arg, const char *identity, uint8_t *key,
				     size_t *key_len);

/*
 * handoff_config_set_psk_lookup - for servers with many PSKs (one per
 * client, as NVMe-TCP has them): each identity a client offers is looked up
 * with fn(arg, ...) during the handshake.  Instead of handoff_config_set_psk()
 * on a server; clients ignore it.  handoff_conn_psk_identity() then says
 * which identity was accepted.
 */
int handoff_config_set_psk_lookup(struct handoff_config *cfg, handoff_psk_lookup_fn fn,
				  void *arg);

/*
 * handoff_config_set_protocols - a mask of HANDOFF_PROTOCOL_*.  Nothing
 * older than TLS 1.2 can be enabled.  Default HANDOFF_PROTOCOLS_DEFAULT.
 */
int handoff_config_set_protocols(struct handoff_config *cfg, unsigned protocols);

/*
 * handoff_config_set_ciphers - the AEAD ciphers to offer, in priority order,
 * separated by ':' or ',': any of "AES-128-GCM", "AES-256-GCM",
 * "CHACHA20-POLY1305", "AES-128-CCM".  Default: all four, in that order.
 * At handshake time a cipher is only offered if the running kernel accepts
 * it for that protocol version (see handoff_kernel_probe()).
 */
int handoff_config_set_ciphers(struct handoff_config *cfg, const char *list);

/* handoff_config_set_alpn - ALPN protocols, comma separated ("h2,http/1.1"). */
int handoff_config_set_alpn(struct handoff_config *cfg, const char *list);

/*
 * Client certificates, for servers.  verify_client requires one (the
 * handshake fails without it); verify_client_optional asks for one and
 * verifies it if sent.  Default: not requested.
 */
void handoff_config_verify_client(struct handoff_config *cfg);
void handoff_config_verify_client_optional(struct handoff_config *cfg);

/*
 * handoff_config_allow_peer_subject - accept only peers whose certificate
 * subject is one of the DNs added (each call adds one; RFC 4514 text as
 * handoff_conn_peer_subject() shows it, e.g. "CN=client.example,O=Org").
 * Checked inside the handshake, once the chain verified, so a refused peer
 * never gets keys into the kernel.  On a server it also requires a client
 * certificate.  Default: no restriction beyond verification.
 */
int handoff_config_allow_peer_subject(struct handoff_config *cfg, const char *dn);

/* handoff_config_set_handshake_timeout - milliseconds; 0 = none. Default 30000. */
void handoff_config_set_handshake_timeout(struct handoff_config *cfg, unsigned ms);

/*
 * Session resumption.
 *
 * Servers issue TLS 1.3 tickets and TLS 1.2 session tickets by default, with
 * a random ticket key made per config.  A fleet of servers behind a load
 * balancer shares one key: load it from a file (64 bytes, as written by
 * handoff_ticket_key_generate()).  GnuTLS derives the key that seals
 * tickets from it and rotates that derived key on its own, so servers that
 * share the file rotate in step.  Setting a new key replaces it for new
 * connections; tickets sealed under the old one then fail to decrypt and
 * those clients fall back to a full handshake.  TLS 1.2 session IDs are
 * served from a per-config in-memory cache.
 *
 * Clients resume through a session cache: attach one to the config and
 * every connection made from it looks up and stores sessions by server name
 * and port.  TLS 1.3 tickets arrive after the hand-off, on the kernel's
 * receive path: handoff_read() stores them.
 */
int handoff_config_set_ticket_key_file(struct handoff_config *cfg, const char *path);
int handoff_config_set_ticket_key(struct handoff_config *cfg, const uint8_t *key,
				  size_t key_len);
/* Writes a fresh 64-byte ticket key to path (mode 0600). */
int handoff_ticket_key_generate(const char *path);
/* Turn off ticket issuing on a server. */
void handoff_config_disable_tickets(struct handoff_config *cfg);
/* The cache is referenced, not copied; it must outlive the config's users. */
void handoff_config_set_session_cache(struct handoff_config *cfg,
				      struct handoff_cache *cache);

/*
 * handoff_cache_new - an in-memory client session cache holding at most
 * max_entries sessions (least recently stored dropped first).  Thread-safe.
 * Returns NULL with errno set.
 */
struct handoff_cache *handoff_cache_new(size_t max_entries);
void handoff_cache_free(struct handoff_cache *cache);

/*
 * Weakening verification, for tests and closed networks only.
 *	noverifycert: accept any peer certificate (implies noverifyname/time);
 *	noverifyname: do not check the server name against the certificate;
 *	noverifytime: accept certificates outside their validity period.
 */
void handoff_config_insecure_noverifycert(struct handoff_config *cfg);
void handoff_config_insecure_noverifyname(struct handoff_config *cfg);
void handoff_config_insecure_noverifytime(struct handoff_config *cfg);

/*
 * handoff_config_insecure_userspace_fallback - when the kernel cannot take
 * the keys (no kTLS, cipher not supported), keep the connection in GnuTLS
 * user space instead of failing.  The connection is still encrypted, but
 * plain read()/write() on the fd no longer work: use handoff_read() and
 * handoff_write(), and check handoff_conn_ktls().  Off by default: without
 * it, handoff_handshake() fails closed when kTLS is missing.
 */
void handoff_config_insecure_userspace_fallback(struct handoff_config *cfg);

/*
 * Kernel data-path options.  Off by default; each is set on the socket at
 * the hand-off where the running kernel has it (tried at the first
 * hand-off and remembered for the process), and silently left out where
 * it does not: they make the path faster, never less safe for the TLS
 * session itself.
 *
 * handoff_config_kernel_tx_zerocopy - TLS_TX_ZEROCOPY_RO (Linux 5.19+):
 * sendfile(2) data is encrypted from the page cache without the kernel's
 * private copy.  Safe only when no file sent on these connections is
 * modified while it is in flight (a change between encryption and a TCP
 * retransmission reaches the peer as a record that fails authentication,
 * and the connection dies).  Up to Linux 7.3 only NIC TLS offload acts on
 * it; software kTLS accepts it and works as before.
 *
 * handoff_config_kernel_rx_no_pad - TLS_RX_EXPECT_NO_PAD (Linux 6.0+,
 * TLS 1.3 only): the kernel decrypts received records straight into the
 * reader's buffer, betting that the peer does not pad them.  Always
 * correct: a padded or non-data record (a ticket, a KeyUpdate, an alert)
 * is decrypted a second time (counted in /proc/net/tls_stat
 * TlsDecryptRetry).  Worth it with peers that do not pad (GnuTLS,
 * OpenSSL and the kernel do not by default); a peer that pads every
 * record doubles the receive cost.
 */
void handoff_config_kernel_tx_zerocopy(struct handoff_config *cfg);
void handoff_config_kernel_rx_no_pad(struct handoff_config *cfg);

/*
 * handoff_config_no_key_update - keep nothing of the TLS 1.3 key schedule
 * after the hand-off.  By default a connection keeps its two current
 * application traffic secrets in memory (wiped when it fails or is freed)
 * so that it can follow the peer's KeyUpdate; with this set they are
 * wiped at the hand-off, and a KeyUpdate from the peer then ends the
 * connection (-1, the error says why).  For deployments that would rather
 * lose long-lived connections whose peer re-keys than hold key material.
 * No effect on a client with a session cache (its GnuTLS session stays
 * for the tickets and holds the keys itself).
 */
void handoff_config_no_key_update(struct handoff_config *cfg);

/* ----------------------------------------------------------- connections */

/*
 * handoff_client / handoff_server - a TLS endpoint on a connected stream
 * socket fd (TCP for kTLS).  The fd may be blocking or non-blocking.
 * servername is sent as SNI and checked against the server's certificate
 * (DNS or IP address SAN); it may be NULL only with noverifyname or PSK.
 * Returns NULL with errno set (ENOMEM, EINVAL).  The fd stays the caller's.
 */
struct handoff *handoff_client(struct handoff_config *cfg, int fd,
			       const char *servername);
struct handoff *handoff_server(struct handoff_config *cfg, int fd);

/*
 * handoff_handshake - run the handshake, then hand the keys to the kernel.
 * Returns 0 once the kernel owns the record layer (or, with the userspace
 * fallback, once GnuTLS does), -1 on failure (handoff_error() says why; a
 * failed handshake has sent the peer an alert where one applies), or
 * HANDOFF_WANT_POLLIN / HANDOFF_WANT_POLLOUT on a non-blocking fd.
 * The handshake timeout counts from the first call.
 */
int handoff_handshake(struct handoff *h);

/*
 * handoff_read - read application data after the hand-off.  Use it instead
 * of read(2) when the peer may send anything but data: it consumes the
 * records the kernel hands back (TLS 1.3 session tickets are stored, a
 * KeyUpdate re-keys the kernel where it can), and maps alerts:
 * close_notify reads as 0 (EOF); a fatal alert or any failure is -1 with
 * the alert named in handoff_error().  A TCP close without close_notify is
 * -1 too ("possible truncation"), never a silent EOF.  May return
 * HANDOFF_WANT_POLLIN.  Zero-length data records (legal in TLS 1.2 and
 * 1.3) read as nothing: a blocking call waits for data, a non-blocking one
 * returns HANDOFF_WANT_POLLIN if nothing else is there.  A TLS 1.2
 * renegotiation (HelloRequest, ClientHello, even cut into fragments) is
 * declined with a warning no_renegotiation alert and reading goes on.
 *
 * What a connection keeps after the hand-off: once the kernel has the
 * keys, the GnuTLS session is released (its keys wiped) on every
 * connection except a client with a session cache, whose session stays to
 * read the tickets.  A TLS 1.3 connection keeps its two current
 * application traffic secrets, from which it follows the peer's KeyUpdate;
 * they are wiped when the connection fails or is freed
 * (handoff_config_no_key_update: at the hand-off).  An idle
 * connection then costs about 0.4 KiB of user-space memory instead of
 * about 11 KiB (measured with 1,000 idle connections on Linux 6.12:
 * tests/bench/idle-shim.sh).
 *
 * A plain read(2) on a kTLS socket fails with EIO when the next record is
 * not data, and returns 0 (a false EOF) when zero-length data records come
 * right before such a record; handoff_read() is the way past both.  With
 * the user-space fallback, GnuTLS may hold decrypted data that poll(2)
 * cannot see: on a non-blocking fd, call handoff_read() until
 * HANDOFF_WANT_POLLIN before polling again.
 */
ssize_t handoff_read(struct handoff *h, void *buf, size_t len);

/*
 * handoff_write - write application data; as write(2), or -1 / WANT_*.
 * len 0 returns 0 and sends nothing (no empty record).
 */
ssize_t handoff_write(struct handoff *h, const void *buf, size_t len);

/*
 * handoff_close - send close_notify (through the kernel once it owns the
 * socket), once; later calls return 0.  It closes our direction only: the
 * peer's remaining data can still be read until its own close_notify.
 * Does not close the fd.  0, -1, or HANDOFF_WANT_POLLOUT.
 */
int handoff_close(struct handoff *h);

/* handoff_free - release everything and wipe key material. NULL allowed. */
void handoff_free(struct handoff *h);

/* handoff_error - why the last call on h failed, or NULL. */
const char *handoff_error(struct handoff *h);

/*
 * handoff_error_code - the class of a connection's failure, as an errno
 * value for callers that must answer in errno terms (a preloaded shim, the
 * kernel's handshake upcall): 0 while the connection has not failed;
 * ETIMEDOUT, the handshake ran out of time; ECONNRESET, the peer closed,
 * reset or sent a fatal alert, or the stream ended without close_notify;
 * EBADMSG, a record failed authentication; ECONNABORTED, we gave up on the
 * peer (verification failed, protocol violation, no kernel TLS for it).
 * The words stay in handoff_error().
 */
int handoff_error_code(struct handoff *h);

/* ------------------------------------------------- what was negotiated */

int handoff_conn_fd(struct handoff *h);
/* "TLSv1.3" or "TLSv1.2"; NULL before the handshake completes. */
const char *handoff_conn_version(struct handoff *h);
/* "AES-128-GCM" etc.; NULL before the handshake completes. */
const char *handoff_conn_cipher(struct handoff *h);
/* 1 if this handshake resumed an earlier session, 0 if not. */
int handoff_conn_resumed(struct handoff *h);
/* The ALPN protocol both sides agreed on, or NULL. */
const char *handoff_conn_alpn(struct handoff *h);
/* Client: the name we asked for; server: the SNI the client sent, or NULL. */
const char *handoff_conn_servername(struct handoff *h);
/* The PSK identity used, or NULL. */
const char *handoff_conn_psk_identity(struct handoff *h);
/* Distinguished name of the peer's certificate, or NULL if it sent none. */
const char *handoff_conn_peer_subject(struct handoff *h);
/* 1 if the kernel does the record crypto, 0 if GnuTLS does (fallback). */
int handoff_conn_ktls(struct handoff *h);

/* ---------------------------------------------------------- the kernel */

enum handoff_cipher {
	HANDOFF_CIPHER_AES_128_GCM,
	HANDOFF_CIPHER_AES_256_GCM,
	HANDOFF_CIPHER_CHACHA20_POLY1305,
	HANDOFF_CIPHER_AES_128_CCM,
	HANDOFF_CIPHER_COUNT
};

enum handoff_tls_version {
	HANDOFF_TLS_1_2,
	HANDOFF_TLS_1_3,
	HANDOFF_TLS_VERSION_COUNT
};

/*
 * What the running kernel offers, as probed (not guessed from a version).
 * Each *_errno is 0 when the feature works, or the errno the kernel gave.
 */
struct handoff_kernel_info {
	char release[65];		/* uname -r */
	int ulp_errno;			/* TCP_ULP "tls" attach */
	int tx_errno[HANDOFF_TLS_VERSION_COUNT][HANDOFF_CIPHER_COUNT]; /* TLS_TX */
	int rx_errno[HANDOFF_TLS_VERSION_COUNT][HANDOFF_CIPHER_COUNT]; /* TLS_RX */
	int handshake_family_errno;	/* generic netlink family "handshake" */
	int tls_stat_errno;		/* /proc/net/tls_stat readable */
};

/*
 * handoff_kernel_probe - probe the kernel (over a loopback TCP pair and a
 * generic-netlink query).  The result is cached for the process; pass
 * refresh=1 to probe again (e.g. after modprobe).  0 or -1 with errno set if
 * the probe itself could not run.
 */
int handoff_kernel_probe(struct handoff_kernel_info *info, int refresh);

/* 1 if the kernel accepts cipher for version in both directions. */
int handoff_kernel_supports(const struct handoff_kernel_info *info,
			    enum handoff_tls_version version,
			    enum handoff_cipher cipher);

/* "AES-128-GCM" ... ; "TLSv1.2" / "TLSv1.3". NULL for out-of-range values. */
const char *handoff_cipher_name(enum handoff_cipher cipher);
const char *handoff_tls_version_name(enum handoff_tls_version version);

#ifdef __cplusplus
}
#endif

#endif /* HANDOFF_H */
