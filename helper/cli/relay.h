/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `handoff connect` and `handoff serve` share after the handshake: the
 * summary of what was negotiated, and the loops that move data over it.
 */
#ifndef HANDOFF_CLI_RELAY_H
#define HANDOFF_CLI_RELAY_H

#include <stddef.h>
#include <sys/types.h>

#include "handoff.h"

/* cli_summary - the negotiated parameters, like openssl s_client, to stderr. */
void cli_summary(struct handoff *h, const char *peer);

/* cli_write_all - handoff_write all of buf, waiting on a non-blocking fd. 0 / -1. */
int cli_write_all(struct handoff *h, const void *buf, size_t len);

/*
 * cli_read - handoff_read, waiting while it says WANT_POLLIN / WANT_POLLOUT
 * (a record that held nothing, or a non-blocking fd).  > 0 data, 0 the
 * peer's close_notify, -1 failed (handoff_error(), or errno if it gave none).
 */
ssize_t cli_read(struct handoff *h, void *buf, size_t len);

/* cli_fd_write_all - write(2) all of buf to a plain fd. 0 / -1 (errno). */
int cli_fd_write_all(int fd, const void *buf, size_t len);

/*
 * cli_relay - move data between the TLS connection and plain fds until done:
 * in_fd -> TLS and TLS -> out_fd.  EOF on in_fd sends close_notify and
 * half-closes; EOF from the peer half-closes out_fd (if it is a socket) and,
 * when stop_on_peer_eof, ends the relay.  Returns 0, or -1 after printing
 * the reason.
 */
int cli_relay(struct handoff *h, int in_fd, int out_fd, int stop_on_peer_eof);

/*
 * cli_finish - send close_notify, half-close, and read until the peer closes
 * too (at most timeout_ms), so the peer sees a clean end and TLS 1.3 tickets
 * that arrive meanwhile reach the session cache.
 */
void cli_finish(struct handoff *h, unsigned timeout_ms);

/* cli_set_nonblock - O_NONBLOCK on or off. 0 / -1 (errno). */
int cli_set_nonblock(int fd, int on);

#endif
