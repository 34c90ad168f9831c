/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * settings - the one vocabulary of TLS policy that every front door speaks.
 *
 * `handoff connect --ca-file F`, a `ca-file = F` line in the shim's INI file
 * and (later) handoffd's config all end up here: a key, a value, applied to
 * a struct handoff_config through the public API.  A name means the same
 * thing wherever it is written, and no front door grows its own copy of the
 * rules (which keys pair up, how a PSK file is read, what a protocol list
 * may hold).
 *
 *	struct settings *s = settings_new();
 *	settings_set(s, "ca-file", "/etc/ssl/ca.pem");
 *	settings_set(s, "verify-client", "required");
 *	if (settings_finish(s) < 0)
 *		warnx("%s", settings_error(s));
 *	cfg = settings_take_config(s);
 *	settings_free(s);
 *
 * Keys (values are strings; a flag's value may be NULL, meaning "yes"):
 *   ca-file, ca-dir, system-ca, crl, cert, key, psk-identity, psk-file,
 *   protocols, ciphers, alpn, verify-client (required|optional|none),
 *   verify-client-optional, timeout (ms), ticket-key, tickets (yes|no),
 *   no-tickets, insecure-noverifycert, insecure-noverifyname,
 *   insecure-noverifytime, insecure-userspace-fallback, servername,
 *   kernel-tx-zerocopy, kernel-rx-no-pad (flags: handoff_config_kernel_*),
 *   no-key-update (flag: handoff_config_no_key_update).
 * servername is kept for the caller (settings_servername()); the config
 * has no place for it.
 *
 * cert and key come in pairs (either first), and pairs repeat: each whole
 * pair is one more certificate the server may present, chosen by the
 * client's SNI and signature algorithms (handoff_config_add_keypair_file()).
 */
#ifndef HANDOFF_SETTINGS_H
#define HANDOFF_SETTINGS_H

#include <stdbool.h>

#include "handoff.h"

#define SETTINGS_DEFAULT_TIMEOUT_MS 30000

struct settings;

/* A fresh config with secure defaults behind it; NULL with errno on failure. */
struct settings *settings_new(void);
/* Frees the config too unless it was taken.  NULL allowed. */
void settings_free(struct settings *s);

/*
 * settings_set - apply one key.  0 on success; -1 with settings_error()
 * saying why (the value, in the library's words); 1 if key is not a
 * settings key at all (the caller may own it).  Keys that pair up (cert
 * with key, psk-identity with psk-file) take effect in settings_finish().
 */
int settings_set(struct settings *s, const char *key, const char *value);

/* Apply the paired keys and check the whole.  0 or -1 with settings_error(). */
int settings_finish(struct settings *s);

/* The last error's text (never NULL after a -1). */
const char *settings_error(const struct settings *s);

/* The config built so far; the settings keep ownership. */
struct handoff_config *settings_config(struct settings *s);
/* The config, now owned by the caller (settings_free() leaves it alone). */
struct handoff_config *settings_take_config(struct settings *s);

/* servername's value, or NULL.  Valid until settings_free(). */
const char *settings_servername(const struct settings *s);
/* The handshake timeout in effect, in ms. */
unsigned settings_timeout_ms(const struct settings *s);
/* Whether a certificate/key pair or a PSK was given (servers need one). */
bool settings_has_identity(const struct settings *s);

/*
 * settings_warnings - what was applied that is allowed but unsafe, on one
 * line ("; " between, fit for a log line), or NULL: today a private key,
 * PSK or ticket-key file that every local user may read
 * (settings_file_exposed()).  Valid until settings_free().  Each front
 * door prints or logs them; loading goes on.
 */
const char *settings_warnings(const struct settings *s);

/*
 * settings_file_exposed - whether every local user may read or write the
 * file at path (a private key, a PSK); *mode gets its permission bits.
 * Warned about, not refused, by every front door alike: tlshd (whose files
 * handoffd reads unchanged) takes such keys, so refusing would turn a
 * working host into one whose mounts or services fail at boot, and refusing
 * does not take the key back from whoever read it.  The warning tells the
 * operator to make it private and to replace it.
 */
bool settings_file_exposed(const char *path, unsigned *mode);

/* Whether value spells yes (1), no (0), or neither (-1): yes/no, true/false, on/off, 1/0. */
int settings_parse_bool(const char *value);

#endif
