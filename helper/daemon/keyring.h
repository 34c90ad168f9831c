/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel keyrings (libkeyutils): the keys a request names by serial, and
 * the keyrings that make them ours to read.
 */
#ifndef HANDOFFD_KEYRING_H
#define HANDOFFD_KEYRING_H

#include <stddef.h>
#include <stdint.h>

/*
 * hd_keyring_link - link the request's keyring (serial; 0 = none) and the
 * named keyrings (".nfs", ".nfsd", ".nvme" and the configured ones) into
 * our process keyring, so that their keys are possessed and readable.
 * Done at every request, so keyrings made after start are seen.  Returns
 * 0 or the negative errno of the request keyring's link, or of a named
 * keyring that could not be looked for (no fd to read /proc/keys with);
 * a named keyring that does not exist is not an error.
 */
int hd_keyring_link(uint32_t request_keyring, char *const *names, size_t n_names);

/*
 * hd_keyring_read - the payload of key serial into a new buffer (*data,
 * *len).  The caller wipes and frees it (hd_keyring_free).  Negative
 * errno: -ENOKEY (no such key), -EKEYREVOKED, -EKEYEXPIRED, -EACCES.
 */
int hd_keyring_read(uint32_t serial, uint8_t **data, size_t *len);
void hd_keyring_free(uint8_t *data, size_t len);

/*
 * hd_keyring_search - the serial of the key of this type and description
 * in the keyrings hd_keyring_link() linked, or a negative errno (-ENOKEY).
 */
int hd_keyring_search(const char *type, const char *desc);

/*
 * hd_keyring_describe - the key's type and description ("psk",
 * "NVMe0R01 ..."), into buffers of the given sizes.  0 or negative errno.
 */
int hd_keyring_describe(uint32_t serial, char *type, size_t type_size, char *desc,
			size_t desc_size);

/*
 * hd_keyring_add_peer_cert - the peer's certificate (DER) as an
 * "asymmetric" key described "TLS x509 PEER" in our user keyring, as
 * tlshd makes it: its serial is the remote identity DONE reports.  The
 * key can be viewed and read by its owner (root) only.  A second
 * handshake with the same peer replaces the key (a new serial).
 * Returns the serial (> 0) or a negative errno: -EBADMSG when the kernel
 * cannot parse the certificate, -ENODEV without the asymmetric key type.
 */
int hd_keyring_add_peer_cert(const uint8_t *der, size_t len, const char *peer);

#endif
