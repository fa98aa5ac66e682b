/* The BPF filter. ONE table below is the single source of truth for every syscall the gate traps; the BPF
 * program and the debug names are generated from it.
 *
 * Program shape:
 *   arch != AUDIT_ARCH_X86_64          -> KILL_PROCESS  (i386 `int 0x80` would otherwise be an ungated execve;
 *                                                         killing is the only answer that can't be misread)
 *   nr & __X32_SYSCALL_BIT             -> ERRNO(ENOSYS) (x32 ABI: the same answer as a kernel built without
 *                                                         x32, so portable programs fall back; execve via x32
 *                                                         can never reach the kernel)
 *   [seal_truncate] truncate           -> USER_NOTIF (the supervisor truncates for the agent inside the
 *                                         write grants: notify.c on_truncate)
 *   [seal_truncate] openat2            -> ERRNO(ENOSYS)
 *   [seal_truncate] open / openat / open_by_handle_at with O_TRUNC and access mode O_RDONLY or 3
 *                                      -> ERRNO(EACCES), other open / openat -> ALLOW
 *   nr in table                        -> the table's action
 *   otherwise                          -> ALLOW
 *
 * The seal_truncate block stands in for Landlock's TRUNCATE right (landlock.c says why it is not handled).
 * Truncation otherwise needs a file opened for writing (ftruncate(2), O_WRONLY/O_RDWR | O_TRUNC, creat(2)):
 * Landlock's WRITE_FILE decides that at open(2).
 */
#include "seccomp.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

enum trap_action { TRAP_NOTIFY, TRAP_EPERM };

static const struct trapped_syscall {
	int nr;
	const char *name;
	enum trap_action action;
} TABLE[] = {
	/* The gate itself: every program image change is decided by the broker. */
	{ __NR_execve, "execve", TRAP_NOTIFY },
	{ __NR_execveat, "execveat", TRAP_NOTIFY },
	/* io_uring runs operations from kernel workers that seccomp never sees (and can open/connect). */
	{ __NR_io_uring_setup, "io_uring_setup", TRAP_EPERM },
	{ __NR_io_uring_enter, "io_uring_enter", TRAP_EPERM },
	{ __NR_io_uring_register, "io_uring_register", TRAP_EPERM },
	/* A tracer can rewrite a tracee's registers/memory after the verdict (the CONTINUE race made easy),
	 * and read other processes' secrets. */
	{ __NR_ptrace, "ptrace", TRAP_EPERM },
	{ __NR_process_vm_readv, "process_vm_readv", TRAP_EPERM },
	{ __NR_process_vm_writev, "process_vm_writev", TRAP_EPERM },
	/* Stealing an fd from another process (e.g. a listener or the broker socket). */
	{ __NR_pidfd_getfd, "pidfd_getfd", TRAP_EPERM },
	/* A chrooted caller would make the supervisor resolve absolute paths against the wrong root
	 * (possible without root inside a user namespace). mount/pivot_root need no entry: Landlock denies
	 * them to any task in a domain. */
	{ __NR_chroot, "chroot", TRAP_EPERM },
};

const char *seccomp_syscall_name(int nr)
{
	for (size_t i = 0; i < ARRAY_LEN(TABLE); i++)
		if (TABLE[i].nr == nr)
			return TABLE[i].name;
	return "?";
}

/* 6 header instructions + the truncate block (4 + 3 × 7) + 2 per table entry + 1 default. */
#define TRUNC_LEN (4 + 3 * 7)
#define PROG_LEN (6 + TRUNC_LEN + 2 * ARRAY_LEN(TABLE) + 1)
_Static_assert(PROG_LEN < BPF_MAXINSNS, "filter too long");
_Static_assert(sizeof(struct seccomp_data) == 64, "seccomp_data layout");

/* The low 32 bits of syscall argument i (x86_64 is little-endian; open flags are an int). */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

static void build_program(struct sock_filter *f, size_t *len, bool seal_truncate)
{
	size_t n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __X32_SYSCALL_BIT, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	if (seal_truncate) {
		size_t start = n;
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_truncate, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat2, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
		/* open(path, flags, mode): flags is argument 1; openat(dirfd, path, flags, mode) and
		 * open_by_handle_at(mount_fd, handle, flags) (a root agent has CAP_DAC_READ_SEARCH): argument 2. A is
		 * the syscall number until a block is entered, and each block returns. O_TRUNC with an access mode
		 * that opens the file without FMODE_WRITE (O_RDONLY, and 3, which opens it for ioctl only) would
		 * truncate without Landlock's WRITE_FILE check: refused. */
		static const int opens[3][2] = { { __NR_open, 1 }, { __NR_openat, 2 }, { __NR_open_by_handle_at, 2 } };
		for (size_t i = 0; i < 3; i++) {
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)opens[i][0], 0, 6);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG_LO(opens[i][1]));
			f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, O_ACCMODE | O_TRUNC);
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, O_RDONLY | O_TRUNC, 2, 0);
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, O_ACCMODE | O_TRUNC, 1, 0);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
							      SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA));
		}
		if (n - start != TRUNC_LEN)
			abort();
	}
	for (size_t i = 0; i < ARRAY_LEN(TABLE); i++) {
		unsigned ret = TABLE[i].action == TRAP_NOTIFY ? SECCOMP_RET_USER_NOTIF
							      : SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)TABLE[i].nr, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	*len = n;
}

static int install(const struct sock_filter *f, size_t len, unsigned flags)
{
	struct sock_fprog prog = { .len = (unsigned short)len, .filter = (struct sock_filter *)f };
	/* seccomp(2): SET_MODE_FILTER with NEW_LISTENER returns the notification fd. */
	long fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);

	return fd < 0 ? -errno : (int)fd;
}

int seccomp_install(bool killable, bool seal_truncate)
{
	struct sock_filter f[PROG_LEN + 1];
	size_t len;
	unsigned flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | (killable ? SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0);

	build_program(f, &len, seal_truncate);
	return install(f, len, flags);
}

/* Linux 6.6 (include/uapi/linux/seccomp.h); older headers lack them. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int seccomp_set_sync_wakeup(int listener)
{
	/* seccomp_unotify(2)/kernel seccomp_notify_set_flags(): only this one flag exists. */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)
		return -errno;
	return 0;
}

void seccomp_probe(struct seccomp_support *out)
{
	unsigned action = SECCOMP_RET_USER_NOTIF;
	int status;

	out->notif = out->killable = out->ebusy = out->sync_wakeup = false;
	/* seccomp(2) SECCOMP_GET_ACTION_AVAIL: is user notification compiled in and allowed? */
	if (syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
		return;
	out->notif = true;

	pid_t pid = fork();
	if (pid < 0)
		die_errno("fork (seccomp probe)");
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		/* prctl(2): required before an unprivileged filter install. */
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		/* Exit status: 0 killable, 1 not killable, 2 EBUSY, 3 no notification; +4 when SYNC_WAKE_UP works. */
		int r = install(&allow, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
		if (r >= 0)
			_exit(seccomp_set_sync_wakeup(r) == 0 ? 4 : 0);
		if (r == -EBUSY)
			_exit(2);
		r = install(&allow, 1, SECCOMP_FILTER_FLAG_NEW_LISTENER);
		if (r >= 0)
			_exit(seccomp_set_sync_wakeup(r) == 0 ? 5 : 1);
		_exit(r == -EBUSY ? 2 : 3);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno("waitpid (seccomp probe)");
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
	if (code == 4 || code == 5) {
		out->sync_wakeup = true;
		code -= 4;
	}
	out->killable = code == 0;
	out->ebusy = code == 2;
	if (code == 3)
		out->notif = false;
}
