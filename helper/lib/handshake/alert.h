/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_HANDSHAKE_ALERT_H
#define HANDOFF_HANDSHAKE_ALERT_H

#include <stddef.h>

/*
 * alert_describe - an alert as an operator reads it: the RFC 8446 name and
 * GnuTLS's words, "handshake_failure (Handshake failed)", or "unknown
 * alert 200".  Writes into buf and returns it.
 */
const char *alert_describe(unsigned desc, char *buf, size_t len);

#endif
