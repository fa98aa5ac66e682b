/* Landlock: filesystem grants, TCP ports and IPC scoping for the agent's domain. */
#pragma once
#include <stdbool.h>

#include "proto.h"
#include "util.h"

struct landlock_plan {
	int abi;          /* ABI in use (after AGENT_GATE_LANDLOCK_ABI_MAX), 0 when absent */
	int ruleset_fd;   /* -1 when nothing is restricted */
	const char *fs, *net;                     /* enforced|partial|off|unsupported */
	const char *scope_signal, *scope_unix;    /* enforced|unsupported */
	const char *devices;                      /* sealed|unsupported: device nodes can never be made */
	const char *sockets;                      /* sealed|partial|unsupported: sockets and FIFOs are made only in
						   * the session's socket directory ('s' grant); partial: a directory
						   * holding one can be moved (writes not sealed) */
	const char *fs_gap, *net_gap;             /* what the kernel lacks, for REQUIRE messages */
	bool seal_truncate;                       /* writes are sealed: the filter refuses truncate(2) etc. */
	uint64_t handled_fs;                      /* the filesystem rights the ruleset handles */
	bool unix_landlock;                       /* RESOLVE_UNIX handled (ABI 9): pathname unix sockets sealed */
	bool seal_exec;                           /* execution is sealed: memfds are made non-executable */
};

/* Highest supported ABI (0 when Landlock is absent or disabled). */
int landlock_probe_abi(void);

/* Build the ruleset in the supervisor (so warnings reach the broker before the fork). Grant paths that do
 * not exist are skipped and reported through warn(). */
void landlock_build(const struct config *c, int abi, struct landlock_plan *plan, void (*warn)(const char *msg));

/* In the child, after a mount namespace of its own (mountns.c) replaced what is mounted at prefix: the grants
 * at or under prefix again, on what the paths now lead to (Landlock rules hold inodes, and a new /proc is
 * another inode than the supervisor's). 0 or -errno. */
int landlock_regrant(const struct landlock_plan *plan, const struct config *c, const char *prefix);

/* In the child, after PR_SET_NO_NEW_PRIVS: enter the domain. -1 with errno on failure. */
int landlock_enter(const struct landlock_plan *plan);
