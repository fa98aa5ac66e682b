/* Socket mediation: connect/listen (and, with DNS under a sealed network, the sends) performed by the
 * supervisor on its own reference to the target's socket, with its own copy of the address (sockets.c). */
#pragma once
#include <linux/seccomp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

/* What the session mediates, decided in main.c from the policy (CONFIG) and the kernel. */
struct sockets_mode {
	bool mediated;   /* connect and listen are notified (SC_WHEN_SOCKETS_MEDIATED) */
	bool net_sealed; /* [network]: TCP ports, UDP only to the resolvers, listen only on a bound allowed port */
	bool unix_sealed; /* unix sockets not made in this session need the broker's word */
	bool loop_sealed; /* connects to this host reach only the session's listeners (and LOOPBACK_PORT, resolvers);
			   * accept hands over only the session's own connections from this host */
	bool diag;       /* sock_diag for unix sockets works (CONFIG_UNIX_DIAG): the session's listeners are known */
};

/* Probe what mediation needs (pidfd_getfd, unix sock_diag). Returns NULL when it works, else what is missing. */
const char *sockets_probe(bool *diag);

/* send_line: write one complete line to the broker (fails closed itself). new_id: a request id from the
 * exec requests' sequence (one id space for VERDICT). */
void sockets_init(int listener, const struct config *c, const struct sockets_mode *m, void (*send_line)(struct buf *line),
		  uint64_t (*new_id)(void));

/* A notification for connect, listen, sendto, sendmsg or sendmmsg. */
void sockets_on_notification(const struct seccomp_notif *n);
/* A VERDICT for a SOCKET request: false when the id is not one of ours (the caller tries its own). */
bool sockets_on_verdict(uint64_t id, bool allow);

/* The descriptors operations wait on (POLLOUT), at most max; their count. */
size_t sockets_pollfds(struct pollfd *out, size_t max);
/* After poll: the entries sockets_pollfds filled, then deadlines and retries. */
void sockets_after_poll(const struct pollfd *fds, size_t n);
/* Milliseconds until the next deadline or retry, or -1. */
int sockets_timeout_ms(void);
