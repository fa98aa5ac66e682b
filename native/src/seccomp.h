/* The seccomp filter installed in the agent, built from one syscall table. */
#pragma once
#include <stdbool.h>

struct seccomp_support {
	bool notif;      /* SECCOMP_RET_USER_NOTIF is available */
	bool killable;   /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is accepted */
	bool ebusy;      /* a listener already exists on our filter chain (nested gate, WSL2 init) */
	bool sync_wakeup; /* SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) is accepted (6.6+) */
};

/* Probe in a throwaway child (a filter cannot be removed once installed). */
void seccomp_probe(struct seccomp_support *out);

/* Install the gate's filter on the calling thread; returns the listener fd or -errno. Must be called
 * after PR_SET_NO_NEW_PRIVS. seal_truncate: Landlock seals writes (without its TRUNCATE right, see
 * landlock.c): truncate(2) goes to the supervisor (which truncates only inside the write grants), open and
 * openat with O_TRUNC but without write access are refused (EACCES), and openat2 too (ENOSYS: its flags are
 * behind a pointer; callers fall back to openat). */
int seccomp_install(bool killable, bool seal_truncate);

/* Ask the kernel to wake the supervisor synchronously (on the notifying task's CPU) and the target on our
 * answer: saves a cross-CPU wakeup per round trip. Returns 0 or -errno (EINVAL before Linux 6.6). */
int seccomp_set_sync_wakeup(int listener);

/* Name of a syscall in the table (for debug traces), or "?". */
const char *seccomp_syscall_name(int nr);
