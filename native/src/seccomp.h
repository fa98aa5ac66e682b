/* The seccomp filter installed in the agent, generated from one syscall table (seccomp.c). */
#pragma once
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct seccomp_support {
	bool notif;      /* SECCOMP_RET_USER_NOTIF is available */
	bool killable;   /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is accepted */
	bool ebusy;      /* a listener already exists on our filter chain (nested gate, WSL2 init) */
	bool sync_wakeup; /* SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) is accepted (6.6+) */
};

/* Probe in a throwaway child (a filter cannot be removed once installed). */
void seccomp_probe(struct seccomp_support *out);

/* Which optional parts of the table a session turns on (RULE_IF in seccomp.c). */
enum seccomp_when {
	/* Landlock seals writes (without its TRUNCATE right, see landlock.c): truncate(2) goes to the supervisor
	 * (which truncates only inside the write grants), open/openat/open_by_handle_at with O_TRUNC but without
	 * write access are refused (EACCES), and openat2 too (ENOSYS: its flags are behind a pointer; callers
	 * fall back to openat). */
	SC_WHEN_WRITES_SEALED = 1u << 0,
	/* Landlock restricts execution: memfd_create(2) goes to the supervisor, which makes every memfd
	 * non-executable (MFD_NOEXEC_SEAL). A memfd lives on an internal mount Landlock does not check, so an
	 * executable one would be a way around the execute set. */
	SC_WHEN_EXEC_SEALED = 1u << 1,
	/* connect(2) and listen(2) go to the supervisor, which performs them on its own reference to the socket
	 * (sockets.c): unix sockets are sealed without Landlock's RESOLVE_UNIX, or [network] seals. */
	SC_WHEN_SOCKETS_MEDIATED = 1u << 2,
	/* [network] seals: only TCP, UDP (with DNS) and unix/netlink sockets can be made; MPTCP, fast open, raw,
	 * packet, SCTP and other families and protocols are refused. */
	SC_WHEN_NET_SEALED = 1u << 3,
	/* … with DNS allowed: UDP sockets exist, so every send that can carry an address goes to the supervisor. */
	SC_WHEN_NET_DNS = 1u << 4,
	/* Unix sockets are sealed by the supervisor: no datagram unix sockets (a sendmsg's address is out of the
	 * filter's sight, and a notification on every sendmsg would cost every program that uses one). */
	SC_WHEN_NO_UNIX_DGRAM = 1u << 5,
	/* Unix sockets are sealed: accept(2) and accept4(2) go to the supervisor, which hands the agent only the
	 * connections the session made (sockets.c: a client outside the gate never reaches the agent). */
	SC_WHEN_ACCEPT_CHECKED = 1u << 6,
	/* Services on this host outside the gate are sealed (sockets.c, red-team R59): connect, listen and accept
	 * are mediated, a send that can carry an address goes to the supervisor (UDP to a local service), and TCP
	 * fast open (data in a SYN connect(2) never checked) is refused. */
	SC_WHEN_LOOPBACK_SEALED = 1u << 7,
	/* A send that can carry an address (sendto with one, sendmsg, sendmmsg) goes to the supervisor: DNS under
	 * a sealed network, or services on this host sealed. */
	SC_WHEN_SENDS_MEDIATED = 1u << 8,
	/* [loopback] seals and [network] does not (red-team R103): only unix, netlink, TCP and UDP sockets are
	 * made; other families go to the supervisor, which refuses them with the family in the record. Never
	 * with NET_SEALED, whose own list ends in an unconditional refusal. */
	SC_WHEN_FAMILIES_CHECKED = 1u << 9,
};

/* The program for one session, built in the supervisor before the fork (so its length is reported). */
struct seccomp_program {
	size_t len;
	struct sock_filter insns[];
};
struct seccomp_program *seccomp_program_new(unsigned when);

/* Build the program into f (cap instructions, at least the table's bound); returns its length. Aborts on an
 * inconsistent table (a programming error, never a run-time condition). */
size_t seccomp_build(unsigned when, struct sock_filter *f, size_t cap);

/* Install the program on the calling thread; returns the listener fd or -errno. Must be called after
 * PR_SET_NO_NEW_PRIVS. */
int seccomp_install(const struct seccomp_program *p, bool killable);

/* Ask the kernel to wake the supervisor synchronously (on the notifying task's CPU) and the target on our
 * answer: saves a cross-CPU wakeup per round trip. Returns 0 or -errno (EINVAL before Linux 6.6). */
int seccomp_set_sync_wakeup(int listener);

/* Name of a syscall in the table (for debug traces), or "?". */
const char *seccomp_syscall_name(int nr);

/* The table and the program's length per kind of session (`agent-gate-supervisor --print-filter`). */
void seccomp_print_table(FILE *out);
