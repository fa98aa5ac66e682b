/* The BPF filter. ONE table below is the single source of truth for every syscall the gate traps; the BPF
 * program and the debug names are generated from it.
 *
 * Program shape:
 *   arch != AUDIT_ARCH_X86_64          -> KILL_PROCESS  (i386 `int 0x80` would otherwise be an ungated execve;
 *                                                         killing is the only answer that can't be misread)
 *   nr & __X32_SYSCALL_BIT             -> ERRNO(ENOSYS) (x32 ABI: the same answer as a kernel built without
 *                                                         x32, so portable programs fall back; execve via x32
 *                                                         can never reach the kernel)
 *   then one group per syscall of the table, in table order:
 *     nr == N ?  entry 1: its argument conditions (ANDed) all hold -> its action
 *                entry 2: …
 *                no entry matched -> ALLOW
 *   otherwise                          -> ALLOW
 *
 * How to add an entry (CONTRIBUTING.md, "To trap another syscall"):
 *   RULE(ioctl, DENY(EPERM), ARG_EQ(1, TIOCSTI)),
 * names the syscall (without __NR_), the action — NOTIFY (the supervisor answers: add a case to notify.c's
 * dispatch), DENY(errno), KILL (SIGSYS, the whole process), ALLOW (an exception before a broader entry of
 * the same syscall) — and up to two argument conditions that must all hold:
 *   ARG_EQ(i, v)               argument i == v
 *   ARG_MASKED_EQ(i, m, v)     (argument i & m) == v
 *   ARG_ANY_BITS(i, m)         (argument i & m) != 0
 * These compare the LOW 32 BITS of the argument, which is what the kernel uses of an int or unsigned int
 * argument (ioctl's cmd, socket's domain/type/protocol, send's and clone's flags): a caller cannot dodge a
 * 32-bit compare by setting the high bits the kernel then ignores (the flatpak TIOCSTI bypass,
 * CVE-2019-10063). ARG64_EQ, ARG64_MASKED_EQ and ARG64_ANY_BITS compare all 64 bits, for arguments the
 * kernel takes whole (unsigned long, pointers: ARG64_EQ(i, 0) tests a NULL pointer).
 * RULE_IF(WHEN, …) enables an entry only in sessions whose install asked for WHEN (SC_WHEN_* in seccomp.h).
 * Entries of one syscall must be adjacent (first match wins within the group); an entry without conditions
 * answers every call that reached it, so it must be the group's last. build_program aborts otherwise.
 *
 * Cost: the kernel runs the program for every syscall whose answer depends on its arguments or that the
 * table names with a conditional group; for the others it emulates the program once at install and caches a
 * constant ALLOW per syscall (SECCOMP_FILTER_FLAG / seccomp_cache_prepare, Linux 5.11+), so read, write,
 * mmap… never run it. A syscall with argument conditions runs the program up to and through its group on
 * every call: keep frequent ones (open, openat, ioctl, clone, socket) first.
 */
#include "seccomp.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/fscrypt.h>
#include <linux/fsverity.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
#ifndef __NR_open_tree_attr
#define __NR_open_tree_attr 467 /* Linux 6.15; Debian 12's headers predate it */
#endif
/* The kernel's __O_TMPFILE bit alone (libc's includes O_DIRECTORY): the kernel reads the mode when O_CREAT or
 * this bit is set (build_open_flags). */
#define O_TMPFILE_BIT 020000000
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6 */
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463 /* Linux 6.13 */
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif
#ifndef __NR_file_setattr
#define __NR_file_setattr 469 /* Linux 6.17 */
#endif
#ifndef EXT4_IOC_SETVERSION_OLD
#define EXT4_IOC_SETVERSION_OLD _IOW('f', 4, long) /* ext4 still answers it (FS_IOC_SETVERSION's old number) */
#define EXT4_IOC32_SETVERSION_OLD _IOW('f', 4, int)
#endif
/* A btrfs ioctl by its direction, type and number, whatever the size of its argument (v1/v2, 32-bit layouts). */
#define BTRFS_CMD_MASK 0xc000ffffu
#define BTRFS_CMD(dir, nr) (((unsigned)(dir) << 30) | 0x9400u | (nr))
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

enum sc_action { SC_ALLOW, SC_NOTIFY, SC_ERRNO, SC_KILL };
enum sc_op { SC_NONE, SC_EQ, SC_MASKED_EQ, SC_ANY_BITS };

struct sc_cond {
	enum sc_op op;
	unsigned char arg; /* 0..5 */
	bool wide;         /* all 64 bits; else the low 32 */
	uint64_t mask, value;
};

struct sc_entry {
	int nr;
	const char *name;
	unsigned when; /* 0: always; else SC_WHEN_* bits that must all be asked for */
	enum sc_action action;
	int err;                 /* SC_ERRNO */
	struct sc_cond cond[2]; /* ANDed; SC_NONE (zero) ends the list */
};

#define RULE(sys, act, ...) { .nr = __NR_##sys, .name = #sys, act, .cond = { __VA_ARGS__ } }
#define RULE_IF(w, sys, act, ...) { .nr = __NR_##sys, .name = #sys, .when = (w), act, .cond = { __VA_ARGS__ } }
#define NOTIFY .action = SC_NOTIFY
#define DENY(e) .action = SC_ERRNO, .err = (e)
#define KILL .action = SC_KILL
#define ALLOW .action = SC_ALLOW
#define ARG_EQ(i, v) { SC_EQ, (i), false, 0xffffffffu, (uint32_t)(v) }
#define ARG_MASKED_EQ(i, m, v) { SC_MASKED_EQ, (i), false, (uint32_t)(m), (uint32_t)(v) }
#define ARG_ANY_BITS(i, m) { SC_ANY_BITS, (i), false, (uint32_t)(m), 0 }
#define ARG64_EQ(i, v) { SC_EQ, (i), true, ~0ull, (uint64_t)(v) }
#define ARG64_MASKED_EQ(i, m, v) { SC_MASKED_EQ, (i), true, (uint64_t)(m), (uint64_t)(v) }
#define ARG64_ANY_BITS(i, m) { SC_ANY_BITS, (i), true, (uint64_t)(m), 0 }

#define SEALED SC_WHEN_WRITES_SEALED
#define MEDIATED SC_WHEN_SOCKETS_MEDIATED
#define NET SC_WHEN_NET_SEALED
#define DNS SC_WHEN_NET_DNS
#define NODGRAM SC_WHEN_NO_UNIX_DGRAM
#define ACCEPTS SC_WHEN_ACCEPT_CHECKED
#define LOOP SC_WHEN_LOOPBACK_SEALED
#define SENDS SC_WHEN_SENDS_MEDIATED
#define FAMILIES SC_WHEN_FAMILIES_CHECKED

static const struct sc_entry TABLE[] = {
	/* Truncation, when Landlock seals writes (it stands in for Landlock's TRUNCATE right, which landlock.c
	 * says why it does not handle). truncate(2) goes to the supervisor (notify.c on_truncate), which
	 * truncates only inside the write grants. open(path, flags) and openat(dirfd, path, flags) with O_TRUNC
	 * and an access mode that opens the file without FMODE_WRITE (O_RDONLY, and 3, which opens it for ioctl
	 * only) would truncate without Landlock's WRITE_FILE check: refused (open_by_handle_at is refused
	 * whole, below). openat2's flags are behind a
	 * pointer: ENOSYS, so callers fall back to openat. Every other truncation needs a file opened for
	 * writing (ftruncate(2), O_WRONLY/O_RDWR | O_TRUNC, creat(2)): WRITE_FILE decides that at open(2).
	 * First in the table: open and openat are the most frequent syscalls that run the program. */
	RULE_IF(SEALED, openat, DENY(EACCES), ARG_MASKED_EQ(2, O_ACCMODE | O_TRUNC, O_RDONLY | O_TRUNC)),
	RULE_IF(SEALED, openat, DENY(EACCES), ARG_MASKED_EQ(2, O_ACCMODE | O_TRUNC, O_ACCMODE | O_TRUNC)),
	RULE(openat, DENY(EPERM), ARG_ANY_BITS(2, O_CREAT | O_TMPFILE_BIT), ARG_ANY_BITS(3, S_ISUID | S_ISGID)), /* setuid, below */
	RULE_IF(SEALED, open, DENY(EACCES), ARG_MASKED_EQ(1, O_ACCMODE | O_TRUNC, O_RDONLY | O_TRUNC)),
	RULE_IF(SEALED, open, DENY(EACCES), ARG_MASKED_EQ(1, O_ACCMODE | O_TRUNC, O_ACCMODE | O_TRUNC)),
	RULE(open, DENY(EPERM), ARG_ANY_BITS(1, O_CREAT | O_TMPFILE_BIT), ARG_ANY_BITS(2, S_ISUID | S_ISGID)),
	RULE_IF(SEALED, truncate, NOTIFY),
	RULE_IF(SEALED, openat2, DENY(ENOSYS)),

	/* Typing into a terminal: TIOCSTI pushes bytes into a terminal's input queue, as if typed (into the
	 * user's shell, which runs them after the agent exits, or into an approval prompt); TIOCLINUX's
	 * selection paste does the same on a virtual console. The cmd is an unsigned int: compared on its low
	 * 32 bits, so ioctl(fd, TIOCSTI | 1ul << 32, …) is refused too (CVE-2019-10063). TIOCSCTTY with arg 1
	 * steals a terminal that is another session's controlling terminal (CAP_SYS_ADMIN, dropped anyway). */
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, TIOCSTI)),
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, TIOCLINUX)),
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, TIOCSCTTY), ARG_EQ(2, 1)),
	/* Inode flags and attributes outside the write grants, when writes are sealed (red-team R90): Landlock
	 * checks no ioctl of a regular file, and these change a file the agent may only read (open O_RDONLY: the
	 * kernel asks ownership or CAP_FOWNER, not write access): chattr's S, A, d (dump skips the file), D, t, C;
	 * the project id and extent size hints; the generation. The supervisor performs them inside the grants
	 * only, with the agent's capabilities (meta.c). Their 32-bit numbers mean nothing to a 64-bit caller
	 * (only compat_ioctl translates them): ENOTTY, what the kernel answers. fs-verity makes a file read-only
	 * for good and an encryption policy claims an empty directory: refused inside the grants too (EOPNOTSUPP:
	 * what a filesystem without the feature answers; no build needs them). btrfs subvolumes are made, removed and set read-only by ioctl
	 * past Landlock's directory checks: refused. file_setattr(2) (6.17) takes its attributes behind a
	 * pointer: ENOSYS, like setxattrat; chattr uses the ioctl. */
	RULE_IF(SEALED, ioctl, NOTIFY, ARG_EQ(1, FS_IOC_SETFLAGS)),
	RULE_IF(SEALED, ioctl, NOTIFY, ARG_EQ(1, FS_IOC_FSSETXATTR)),
	RULE_IF(SEALED, ioctl, NOTIFY, ARG_EQ(1, FS_IOC_SETVERSION)),
	RULE_IF(SEALED, ioctl, NOTIFY, ARG_EQ(1, EXT4_IOC_SETVERSION_OLD)),
	RULE_IF(SEALED, ioctl, DENY(ENOTTY), ARG_EQ(1, FS_IOC32_SETFLAGS)),
	RULE_IF(SEALED, ioctl, DENY(ENOTTY), ARG_EQ(1, FS_IOC32_SETVERSION)),
	RULE_IF(SEALED, ioctl, DENY(ENOTTY), ARG_EQ(1, EXT4_IOC32_SETVERSION_OLD)),
	RULE_IF(SEALED, ioctl, DENY(EOPNOTSUPP), ARG_EQ(1, FS_IOC_ENABLE_VERITY)),
	RULE_IF(SEALED, ioctl, DENY(EOPNOTSUPP), ARG_EQ(1, FS_IOC_SET_ENCRYPTION_POLICY)),
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 1))),  /* SNAP_CREATE */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 14))), /* SUBVOL_CREATE */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 15))), /* SNAP_DESTROY */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 23))), /* SNAP_CREATE_V2 */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 24))), /* SUBVOL_CREATE_V2 */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 26))), /* SUBVOL_SETFLAGS */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_READ | _IOC_WRITE, 37))), /* SET_RECEIVED_SUBVOL */
	RULE_IF(SEALED, ioctl, DENY(EPERM), ARG_MASKED_EQ(1, BTRFS_CMD_MASK, BTRFS_CMD(_IOC_WRITE, 63))), /* SNAP_DESTROY_V2 */
	/* The user's fscrypt keys are the filesystem's, not the session's (as the keyrings, below): removing the
	 * user's claim locks the user's encrypted directories. */
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, FS_IOC_ADD_ENCRYPTION_KEY)),
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, FS_IOC_REMOVE_ENCRYPTION_KEY)),
	RULE(ioctl, DENY(EPERM), ARG_EQ(1, FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS)),
	/* New namespaces (Docker's profile): a user namespace gives back every capability inside it, a network
	 * namespace hides traffic from the network rules, and the others change what paths and processes mean
	 * to the supervisor. clone's flags are an unsigned long of which the kernel reads the low 32 bits
	 * (CLONE_NEWTIME, 0x80, is part of the exit signal there); clone3's are behind a pointer: ENOSYS, so libc
	 * falls back to clone (glibc does, per call). */
	RULE(clone, DENY(EPERM),
	     ARG_ANY_BITS(0, CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
				     CLONE_NEWNET)),
	RULE(clone3, DENY(ENOSYS)),
	RULE(unshare, DENY(EPERM),
	     ARG_ANY_BITS(0, CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
				     CLONE_NEWNET | CLONE_NEWTIME)),
	RULE(setns, DENY(EPERM)),
	/* Device nodes (with CAP_MKNOD dropped and Landlock's MAKE_CHAR/MAKE_BLOCK never granted, a third
	 * wall): a block device node in a writable directory is a raw write to a whole filesystem. */
	RULE(mknod, DENY(EPERM), ARG_MASKED_EQ(1, S_IFMT, S_IFBLK)),
	RULE(mknod, DENY(EPERM), ARG_MASKED_EQ(1, S_IFMT, S_IFCHR)),
	RULE(mknod, DENY(EPERM), ARG_ANY_BITS(1, S_ISUID | S_ISGID)), /* a setuid file, below */
	RULE(mknodat, DENY(EPERM), ARG_MASKED_EQ(2, S_IFMT, S_IFBLK)),
	RULE(mknodat, DENY(EPERM), ARG_MASKED_EQ(2, S_IFMT, S_IFCHR)),
	RULE(mknodat, DENY(EPERM), ARG_ANY_BITS(2, S_ISUID | S_ISGID)), /* a setuid file, below */
	/* Setuid and setgid files: a root agent could leave a setuid-root program behind (in its workspace,
	 * where it may write), run later by anyone, outside the gate (NO_NEW_PRIVS holds only inside it); a
	 * non-root agent one that lends its uid to other users. The mode is an int (umode_t): 32 bits. Build
	 * tools set neither bit (`git init --shared`, group-setgid directories and `tar -p` of a setuid file
	 * are what is refused). */
	RULE(chmod, DENY(EPERM), ARG_ANY_BITS(1, S_ISUID | S_ISGID)),
	RULE_IF(SEALED, chmod, NOTIFY),
	RULE(fchmod, DENY(EPERM), ARG_ANY_BITS(1, S_ISUID | S_ISGID)),
	RULE_IF(SEALED, fchmod, NOTIFY),
	RULE(fchmodat, DENY(EPERM), ARG_ANY_BITS(2, S_ISUID | S_ISGID)),
	RULE_IF(SEALED, fchmodat, NOTIFY),
	RULE(fchmodat2, DENY(EPERM), ARG_ANY_BITS(2, S_ISUID | S_ISGID)),
	RULE_IF(SEALED, fchmodat2, NOTIFY),
	RULE(creat, DENY(EPERM), ARG_ANY_BITS(1, S_ISUID | S_ISGID)),
	/* Metadata outside the write grants, when writes are sealed: Landlock checks none of it (owner, times,
	 * extended attributes; the modes above). The supervisor performs each inside the grants only (meta.c).
	 * setxattrat/removexattrat (6.13) take their arguments behind a pointer: ENOSYS, libc falls back. */
	RULE_IF(SEALED, chown, NOTIFY),
	RULE_IF(SEALED, fchown, NOTIFY),
	RULE_IF(SEALED, lchown, NOTIFY),
	RULE_IF(SEALED, fchownat, NOTIFY),
	RULE_IF(SEALED, utime, NOTIFY),
	RULE_IF(SEALED, utimes, NOTIFY),
	RULE_IF(SEALED, futimesat, NOTIFY),
	RULE_IF(SEALED, utimensat, NOTIFY),
	RULE_IF(SEALED, setxattr, NOTIFY),
	RULE_IF(SEALED, lsetxattr, NOTIFY),
	RULE_IF(SEALED, fsetxattr, NOTIFY),
	RULE_IF(SEALED, removexattr, NOTIFY),
	RULE_IF(SEALED, lremovexattr, NOTIFY),
	RULE_IF(SEALED, fremovexattr, NOTIFY),
	RULE_IF(SEALED, setxattrat, DENY(ENOSYS)),
	RULE_IF(SEALED, removexattrat, DENY(ENOSYS)),
	RULE_IF(SEALED, file_setattr, DENY(ENOSYS)), /* inode flags (6.17), with the ioctls above */
	/* personality: the values Docker's profile allows (PER_LINUX, PER_LINUX32, UNAME26, both, and the
	 * query); others (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE…) are old, little-tested kernel paths. */
	RULE(personality, ALLOW, ARG_EQ(0, 0)),
	RULE(personality, ALLOW, ARG_EQ(0, 0x0008)),
	RULE(personality, ALLOW, ARG_EQ(0, 0x20000)),
	RULE(personality, ALLOW, ARG_EQ(0, 0x20008)),
	RULE(personality, ALLOW, ARG_EQ(0, 0xffffffff)),
	RULE(personality, DENY(EPERM)),

	/* Sockets (sockets.c says how each notified call is performed; SECURITY.md what it seals). socket(2)'s
	 * domain, type and protocol are ints: compared on 32 bits; the type's SOCK_NONBLOCK/SOCK_CLOEXEC are
	 * masked off (0xf is the type). When [network] seals, a whitelist: unix and netlink (the kernel, not the
	 * network), TCP, and UDP when DNS is allowed; the errno is what a kernel without the feature answers, so
	 * programs fall back (Go and curl try MPTCP, then TCP). Protocols other than 0-7 and 16-23 (MPTCP 262,
	 * SCTP 132, UDP-Lite 136, SMC 256, ICMPv6 58) go first; of those left, only 0, TCP (6) and UDP (17)
	 * are valid for a stream or datagram inet socket, and ICMP (1, a "ping" socket to anywhere) is refused. */
	/* A unix SOCK_RAW is a datagram socket (unix_create makes it SOCK_DGRAM): both are refused. */
	RULE_IF(NODGRAM, socket, DENY(EACCES), ARG_EQ(0, AF_UNIX), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(NODGRAM, socket, DENY(EACCES), ARG_EQ(0, AF_UNIX), ARG_MASKED_EQ(1, 0xf, SOCK_RAW)),
	RULE_IF(NET, socket, ALLOW, ARG_EQ(0, AF_UNIX)),
	RULE_IF(NET, socket, ALLOW, ARG_EQ(0, AF_NETLINK)),
	RULE_IF(NET, socket, DENY(EPERM), ARG_EQ(0, AF_PACKET)),
	RULE_IF(NET, socket, DENY(EPERM), ARG_MASKED_EQ(1, 0xf, SOCK_RAW)),
	RULE_IF(NET, socket, DENY(EPERM), ARG_MASKED_EQ(1, 0xf, SOCK_PACKET)),
	RULE_IF(NET, socket, DENY(EPROTONOSUPPORT), ARG_ANY_BITS(2, ~0x17u)),
	RULE_IF(NET, socket, DENY(EACCES), ARG_EQ(2, IPPROTO_ICMP)),
	RULE_IF(NET, socket, ALLOW, ARG_EQ(0, AF_INET), ARG_MASKED_EQ(1, 0xf, SOCK_STREAM)),
	RULE_IF(NET, socket, ALLOW, ARG_EQ(0, AF_INET6), ARG_MASKED_EQ(1, 0xf, SOCK_STREAM)),
	RULE_IF(NET | DNS, socket, ALLOW, ARG_EQ(0, AF_INET), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(NET | DNS, socket, ALLOW, ARG_EQ(0, AF_INET6), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(NET, socket, DENY(EACCES), ARG_EQ(0, AF_INET)),  /* UDP without DNS; SEQPACKET, RDM */
	RULE_IF(NET, socket, DENY(EACCES), ARG_EQ(0, AF_INET6)),
	RULE_IF(NET, socket, DENY(EAFNOSUPPORT)), /* vsock, bluetooth, CAN, TIPC, RDS, SMC, XDP, ALG, key… */
	/* With services on this host sealed and the network open (FAMILIES, red-team R103): only the families whose
	 * connects and sends the supervisor checks. vsock reaches services of this machine (CID 1) and of its
	 * hypervisor host (CID 2: WSL2, Docker Desktop, Lima, Firecracker and Kata agents, Nitro's vsock-proxy)
	 * outside the gate; TIPC, RDS, CAN, Bluetooth, SMC… are other transports to other endpoints. inet only as
	 * TCP or UDP (a root agent's raw or packet socket writes datagrams to this host's ports with no send
	 * check; SCTP's one-to-many sends by address). The other families are notified: the supervisor refuses
	 * them (EAFNOSUPPORT, what a kernel without the family answers) with the family in the record. */
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_UNIX)),
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_NETLINK)),
	RULE_IF(FAMILIES, socket, DENY(EPERM), ARG_MASKED_EQ(1, 0xf, SOCK_RAW)),
	RULE_IF(FAMILIES, socket, DENY(EPERM), ARG_MASKED_EQ(1, 0xf, SOCK_PACKET)),
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_INET), ARG_MASKED_EQ(1, 0xf, SOCK_STREAM)),
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_INET6), ARG_MASKED_EQ(1, 0xf, SOCK_STREAM)),
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_INET), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(FAMILIES, socket, ALLOW, ARG_EQ(0, AF_INET6), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(FAMILIES, socket, DENY(EACCES), ARG_EQ(0, AF_INET)), /* SEQPACKET (SCTP one-to-many), RDM */
	RULE_IF(FAMILIES, socket, DENY(EACCES), ARG_EQ(0, AF_INET6)),
	RULE_IF(FAMILIES, socket, NOTIFY),
	RULE_IF(NODGRAM, socketpair, DENY(EACCES), ARG_EQ(0, AF_UNIX), ARG_MASKED_EQ(1, 0xf, SOCK_DGRAM)),
	RULE_IF(NODGRAM, socketpair, DENY(EACCES), ARG_EQ(0, AF_UNIX), ARG_MASKED_EQ(1, 0xf, SOCK_RAW)),
	/* connect and listen are performed by the supervisor (never continued: the address is behind a pointer,
	 * and the descriptor number can be re-pointed with dup2 after a check). */
	RULE_IF(MEDIATED, connect, NOTIFY),
	RULE_IF(MEDIATED, listen, NOTIFY),
	/* accept is performed by the supervisor, which hands over only the session's own connections (a client
	 * outside the gate that found the agent's listener, by a symlink or a name, never reaches it). */
	RULE_IF(ACCEPTS, accept, NOTIFY),
	RULE_IF(ACCEPTS, accept4, NOTIFY),
	/* TCP fast open sends data in the SYN of a connection connect(2) never made: MSG_FASTOPEN on a send
	 * (flags are an int), and the TCP_FASTOPEN_CONNECT option that makes the next write do it. With DNS
	 * allowed, a send that can carry an address (sendto with one, every sendmsg and sendmmsg) is sent by the
	 * supervisor after it checked the destination; sendto without one goes to the connected peer, which
	 * connect(2) checked. */
	/* With services on this host sealed (LOOP, red-team R59) the same: fast open is refused (its SYN could go
	 * to a service outside the gate on this host), and a send that can carry an address is sent by the
	 * supervisor (a UDP datagram to a local service outside the gate is refused there). */
	RULE_IF(NET, sendto, DENY(EOPNOTSUPP), ARG_ANY_BITS(3, MSG_FASTOPEN)),
	RULE_IF(LOOP, sendto, DENY(EOPNOTSUPP), ARG_ANY_BITS(3, MSG_FASTOPEN)),
	RULE_IF(SENDS, sendto, NOTIFY, ARG64_ANY_BITS(4, ~0ull)),
	RULE_IF(NET, sendmsg, DENY(EOPNOTSUPP), ARG_ANY_BITS(2, MSG_FASTOPEN)),
	RULE_IF(LOOP, sendmsg, DENY(EOPNOTSUPP), ARG_ANY_BITS(2, MSG_FASTOPEN)),
	RULE_IF(SENDS, sendmsg, NOTIFY),
	RULE_IF(NET, sendmmsg, DENY(EOPNOTSUPP), ARG_ANY_BITS(3, MSG_FASTOPEN)),
	RULE_IF(LOOP, sendmmsg, DENY(EOPNOTSUPP), ARG_ANY_BITS(3, MSG_FASTOPEN)),
	RULE_IF(SENDS, sendmmsg, NOTIFY),
	RULE_IF(NET, setsockopt, DENY(ENOPROTOOPT), ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_FASTOPEN_CONNECT)),
	RULE_IF(LOOP, setsockopt, DENY(ENOPROTOOPT), ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_FASTOPEN_CONNECT)),
	/* Sharing a port with a socket outside the session: SO_REUSEADDR/SO_REUSEPORT are refused on UDP sockets
	 * (Landlock does not check a UDP bind) and set by the supervisor on others (sockets.c on_setsockopt). A
	 * TCP listen beside an outside listener is refused at listen(2). The level and name are ints. */
	RULE_IF(NET | DNS, setsockopt, NOTIFY, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_REUSEADDR)),
	RULE_IF(NET | DNS, setsockopt, NOTIFY, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_REUSEPORT)),

	/* The gate itself: every program image change is decided by the broker. */
	RULE(execve, NOTIFY),
	RULE(execveat, NOTIFY),
	/* When execution is sealed: the supervisor creates the memfd itself, non-executable (notify.c
	 * on_memfd_create). */
	RULE_IF(SC_WHEN_EXEC_SEALED, memfd_create, NOTIFY),
	/* io_uring runs operations from kernel workers that seccomp never sees (and can open/connect). */
	RULE(io_uring_setup, DENY(EPERM)),
	RULE(io_uring_enter, DENY(EPERM)),
	RULE(io_uring_register, DENY(EPERM)),
	/* A tracer can rewrite a tracee's registers/memory after the verdict (the CONTINUE race made easy),
	 * and read other processes' secrets. */
	RULE(ptrace, DENY(EPERM)),
	RULE(process_vm_readv, DENY(EPERM)),
	RULE(process_vm_writev, DENY(EPERM)),
	/* Stealing an fd from another process (e.g. a listener or the broker socket). */
	RULE(pidfd_getfd, DENY(EPERM)),
	/* A chrooted caller would make the supervisor resolve absolute paths against the wrong root
	 * (possible without root inside a user namespace). mount/pivot_root need no entry: Landlock denies
	 * them to any task in a domain. */
	RULE(chroot, DENY(EPERM)),
	/* Typing into a terminal, continued: vhangup(2) hangs up the caller's controlling terminal, i.e. kills
	 * the user's shell when the agent shares its terminal (CAP_SYS_TTY_CONFIG, dropped anyway). */
	RULE(vhangup, DENY(EPERM)),

	/* Root's privileges (Docker's default profile is the anchor; most are also gated by a capability that
	 * the agent no longer has, see privs.c: the filter holds whatever the capabilities are). The kernel
	 * itself: programs and probes loaded into it, modules, a new kernel, reboot, swap. */
	RULE(bpf, DENY(EPERM)),
	RULE(perf_event_open, DENY(EPERM)),
	RULE(userfaultfd, DENY(EPERM)), /* stalls the kernel mid-copy at a chosen page: a race amplifier */
	RULE(kexec_load, DENY(EPERM)),
	RULE(kexec_file_load, DENY(EPERM)),
	RULE(init_module, DENY(EPERM)),
	RULE(finit_module, DENY(EPERM)),
	RULE(delete_module, DENY(EPERM)),
	RULE(reboot, DENY(EPERM)),
	RULE(swapon, DENY(EPERM)),
	RULE(swapoff, DENY(EPERM)),
	RULE(acct, DENY(EPERM)),
	RULE(iopl, DENY(EPERM)),
	RULE(ioperm, DENY(EPERM)),
	RULE(modify_ldt, DENY(EPERM)),
	/* The kernel keyrings are not per session: the user's keys (kerberos, fscrypt, …) live there. */
	RULE(add_key, DENY(EPERM)),
	RULE(request_key, DENY(EPERM)),
	RULE(keyctl, DENY(EPERM)),
	/* Mounts (Landlock also refuses them inside a domain that handles the filesystem, which every session's
	 * does where Landlock has REFER; the filter holds without it). */
	RULE(mount, DENY(EPERM)),
	RULE(umount2, DENY(EPERM)),
	RULE(pivot_root, DENY(EPERM)),
	RULE(fsopen, DENY(EPERM)),
	RULE(fsconfig, DENY(EPERM)),
	RULE(fsmount, DENY(EPERM)),
	RULE(fspick, DENY(EPERM)),
	RULE(move_mount, DENY(EPERM)),
	RULE(open_tree, DENY(EPERM)),
	RULE(open_tree_attr, DENY(EPERM)),
	RULE(mount_setattr, DENY(EPERM)),
	RULE(quotactl, DENY(EPERM)),
	RULE(quotactl_fd, DENY(EPERM)),
	/* Files by handle bypass path checks (the "shocker" container escape; CAP_DAC_READ_SEARCH). */
	RULE(open_by_handle_at, DENY(EPERM)),
	RULE(name_to_handle_at, DENY(EPERM)),
	/* Host-wide state: the clock, the host name, the kernel log. */
	RULE(settimeofday, DENY(EPERM)),
	RULE(clock_settime, DENY(EPERM)),
	RULE(sethostname, DENY(EPERM)),
	RULE(setdomainname, DENY(EPERM)),
	RULE(syslog, DENY(EPERM)),
	/* Process inspection (kcmp compares other processes' files and memory), fanotify (observing or
	 * blocking other processes' file accesses), and obsolete calls. */
	RULE(kcmp, DENY(EPERM)),
	/* Other processes' limits and scheduling. Landlock scopes signals and ptrace-mode access, not these: the
	 * kernel lets a caller change them for any process of its uid (root: every root process, the supervisor
	 * and the CLI included), so RLIMIT_NOFILE 0 or RLIMIT_FSIZE on the supervisor, the user's editor or shell,
	 * nice 19 or SCHED_IDLE for every process of the user (PRIO_USER) all worked. Only the caller's own (pid
	 * 0, the usual form: setrlimit, nice, ulimit, os.setPriority()) is allowed; a pid, even the caller's own
	 * or one of the session's, is refused (the filter cannot tell which process a pid is). prlimit64 with a
	 * NULL new limit only reads. sched_setaffinity stays: where another process runs, not whether. */
	RULE(prlimit64, DENY(EPERM), ARG_ANY_BITS(0, 0xffffffffu), ARG64_ANY_BITS(2, ~0ull)),
	RULE(setpriority, DENY(EPERM), ARG_ANY_BITS(1, 0xffffffffu)),
	RULE(setpriority, DENY(EPERM), ARG_EQ(0, PRIO_USER)),
	RULE(ioprio_set, DENY(EPERM), ARG_ANY_BITS(1, 0xffffffffu)),
	RULE(ioprio_set, DENY(EPERM), ARG_EQ(0, 3)), /* IOPRIO_WHO_USER */
	RULE(sched_setscheduler, DENY(EPERM), ARG_ANY_BITS(0, 0xffffffffu)),
	RULE(sched_setparam, DENY(EPERM), ARG_ANY_BITS(0, 0xffffffffu)),
	RULE(sched_setattr, DENY(EPERM), ARG_ANY_BITS(0, 0xffffffffu)),
	RULE(fanotify_init, DENY(EPERM)),
	RULE(lookup_dcookie, DENY(EPERM)),
	RULE(nfsservctl, DENY(EPERM)),
	RULE(uselib, DENY(EPERM)),
	RULE(ustat, DENY(EPERM)),
	RULE(sysfs, DENY(EPERM)),
	RULE(_sysctl, DENY(EPERM)),
};

/* Upper bound of the program's length, whatever the table and the session: a 6-instruction header, per
 * entry at most 2 conditions of 6 instructions (a 64-bit masked compare: load, and, compare, per word) and
 * its return, per group a compare, a long jump and the group's ALLOW, and the final ALLOW. */
#define HEADER_LEN 6
#define COND_MAX 6
#define ENTRY_MAX (2 * COND_MAX + 1)
#define GROUP_MAX 3
#define PROG_MAX (HEADER_LEN + ARRAY_LEN(TABLE) * (ENTRY_MAX + GROUP_MAX) + 1)
_Static_assert(PROG_MAX <= BPF_MAXINSNS, "the seccomp table makes a program longer than the kernel takes");
_Static_assert(sizeof(struct seccomp_data) == 64, "seccomp_data layout");

const char *seccomp_syscall_name(int nr)
{
	for (size_t i = 0; i < ARRAY_LEN(TABLE); i++)
		if (TABLE[i].nr == nr)
			return TABLE[i].name;
	return "?";
}

/* Word w (0 low, 1 high) of syscall argument i (x86_64 is little-endian). */
#define ARG_WORD(i, w) (offsetof(struct seccomp_data, args) + 8 * (i) + 4 * (w))

static NORETURN void table_error(const struct sc_entry *e, const char *what)
{
	/* A programming error in the table: no session may run with a filter other than the one written. */
	fprintf(stderr, "agent-gate: seccomp table entry %s (%d): %s\n", e->name, e->nr, what);
	abort();
}

static unsigned ret_of(const struct sc_entry *e)
{
	switch (e->action) {
	case SC_ALLOW:
		return SECCOMP_RET_ALLOW;
	case SC_NOTIFY:
		return SECCOMP_RET_USER_NOTIF;
	case SC_ERRNO:
		if (e->err <= 0 || e->err > 4095)
			table_error(e, "errno out of range");
		return SECCOMP_RET_ERRNO | ((unsigned)e->err & SECCOMP_RET_DATA);
	case SC_KILL:
		return SECCOMP_RET_KILL_PROCESS;
	}
	table_error(e, "unknown action");
}

struct emitter {
	struct sock_filter *f;
	size_t n, cap;
	/* Jumps to patch to the end of the current entry (a failed condition): index, and whether the
	 * jump-if-true (1) or jump-if-false (0) offset is the one to patch. */
	size_t fail[8];
	bool fail_jt[8];
	size_t nfail;
};

static void emit(struct emitter *e, struct sock_filter insn)
{
	if (e->n >= e->cap)
		abort(); /* PROG_MAX is wrong */
	e->f[e->n++] = insn;
}

static void emit_jump_to_fail(struct emitter *e, uint16_t code, uint32_t k, bool on_true)
{
	if (e->nfail >= ARRAY_LEN(e->fail))
		abort();
	e->fail[e->nfail] = e->n;
	e->fail_jt[e->nfail++] = on_true;
	emit(e, (struct sock_filter)BPF_JUMP(code, k, 0, 0));
}

/* An equality test on one 32-bit word of an argument (after the mask): jump to the entry's end when it does
 * not hold. */
static void emit_word(struct emitter *e, const struct sc_cond *c, unsigned word, uint32_t mask, uint32_t value)
{
	emit(e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG_WORD(c->arg, word)));
	if (c->op == SC_MASKED_EQ && mask != 0xffffffffu)
		emit(e, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask));
	emit_jump_to_fail(e, BPF_JMP | BPF_JEQ | BPF_K, c->op == SC_EQ ? value : value & mask, false);
}

static void emit_cond(struct emitter *e, const struct sc_entry *en, const struct sc_cond *c)
{
	if (c->arg > 5)
		table_error(en, "argument index over 5");
	uint32_t mlo = (uint32_t)c->mask, mhi = (uint32_t)(c->mask >> 32);
	uint32_t vlo = (uint32_t)c->value, vhi = (uint32_t)(c->value >> 32);

	if (c->op == SC_EQ || c->op == SC_MASKED_EQ) {
		if ((c->value & ~c->mask) != 0)
			table_error(en, "value has bits outside the mask: the condition never holds");
		emit_word(e, c, 0, mlo, vlo);
		if (c->wide)
			emit_word(e, c, 1, mhi, vhi);
		return;
	}
	if (c->op != SC_ANY_BITS || c->mask == 0)
		table_error(en, "bad condition");
	if (!c->wide || mhi == 0) {
		emit(e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG_WORD(c->arg, 0)));
		emit_jump_to_fail(e, BPF_JMP | BPF_JSET | BPF_K, mlo, false);
		return;
	}
	if (mlo) {
		/* Any bit of the low word: the condition holds, skip the high word's test (2 instructions). */
		emit(e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG_WORD(c->arg, 0)));
		emit(e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mlo, 2, 0));
	}
	emit(e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG_WORD(c->arg, 1)));
	emit_jump_to_fail(e, BPF_JMP | BPF_JSET | BPF_K, mhi, false);
}

static bool enabled(const struct sc_entry *en, unsigned when)
{
	return (en->when & when) == en->when;
}

size_t seccomp_build(unsigned when, struct sock_filter *f, size_t cap)
{
	struct emitter e = { .f = f, .cap = cap };
	struct sock_filter body[ARRAY_LEN(TABLE) * (ENTRY_MAX + GROUP_MAX)];

	if (cap < PROG_MAX)
		abort();
	emit(&e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	emit(&e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	emit(&e, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	emit(&e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	emit(&e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __X32_SYSCALL_BIT, 0, 1));
	emit(&e, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)));

	for (size_t i = 0; i < ARRAY_LEN(TABLE);) {
		const int nr = TABLE[i].nr;
		size_t end = i;
		while (end < ARRAY_LEN(TABLE) && TABLE[end].nr == nr)
			end++;
		for (size_t j = end; j < ARRAY_LEN(TABLE); j++)
			if (TABLE[j].nr == nr)
				table_error(&TABLE[j], "entries of one syscall must be adjacent");

		/* The group's body, then its header: the compare must know how far to skip. A is the syscall
		 * number when a group is entered, and every path through a group returns. */
		struct emitter g = { .f = body, .cap = ARRAY_LEN(body) };
		bool open_end = true; /* the last entry may not match: the group ends with ALLOW */
		for (size_t k = i; k < end; k++) {
			const struct sc_entry *en = &TABLE[k];
			if (!enabled(en, when))
				continue;
			if (!open_end)
				table_error(en, "unreachable: an earlier entry of this syscall has no conditions");
			g.nfail = 0;
			for (size_t c = 0; c < ARRAY_LEN(en->cond) && en->cond[c].op != SC_NONE; c++)
				emit_cond(&g, en, &en->cond[c]);
			emit(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret_of(en)));
			open_end = g.nfail > 0;
			for (size_t p = 0; p < g.nfail; p++) {
				size_t off = g.n - (g.fail[p] + 1);
				if (off > 255)
					table_error(en, "entry too long");
				if (g.fail_jt[p])
					g.f[g.fail[p]].jt = (uint8_t)off;
				else
					g.f[g.fail[p]].jf = (uint8_t)off;
			}
		}
		if (g.n == 0) {
			i = end;
			continue; /* every entry of this syscall is off in this session */
		}
		if (open_end)
			emit(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
		if (g.n <= 255) {
			emit(&e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, (uint8_t)g.n));
		} else {
			emit(&e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 1, 0));
			emit(&e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (unsigned)g.n, 0, 0));
		}
		for (size_t k = 0; k < g.n; k++)
			emit(&e, body[k]);
		i = end;
	}
	emit(&e, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	return e.n;
}

static int install(const struct sock_filter *f, size_t len, unsigned flags)
{
	struct sock_fprog prog = { .len = (unsigned short)len, .filter = (struct sock_filter *)f };
	/* seccomp(2): SET_MODE_FILTER with NEW_LISTENER returns the notification fd. */
	long fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);

	return fd < 0 ? -errno : (int)fd;
}

struct seccomp_program *seccomp_program_new(unsigned when)
{
	struct seccomp_program *p = xmalloc(sizeof(*p) + PROG_MAX * sizeof(struct sock_filter));

	p->len = seccomp_build(when, p->insns, PROG_MAX);
	return p;
}

int seccomp_install(const struct seccomp_program *p, bool killable)
{
	unsigned flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | (killable ? SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0);

	return install(p->insns, p->len, flags);
}

static const char *action_name(const struct sc_entry *en, char *buf, size_t n)
{
	switch (en->action) {
	case SC_ALLOW:
		return "allow";
	case SC_NOTIFY:
		return "notify";
	case SC_KILL:
		return "kill";
	case SC_ERRNO:
		snprintf(buf, n, "errno %s", strerrorname_np(en->err) ? strerrorname_np(en->err) : "?");
		return buf;
	}
	return "?";
}

void seccomp_print_table(FILE *out)
{
	static const struct {
		unsigned when;
		const char *what;
	} sessions[] = { { 0, "nothing sealed" },
			{ SC_WHEN_WRITES_SEALED, "writes sealed" },
			{ SC_WHEN_EXEC_SEALED, "execution sealed" },
			{ ~SC_WHEN_FAMILIES_CHECKED, "everything on" } }; /* FAMILIES: never with NET, whose list is longer */
	char buf[64];

	for (size_t i = 0; i < ARRAY_LEN(TABLE); i++) {
		const struct sc_entry *en = &TABLE[i];
		fprintf(out, "%-20s %3d %-14s when=%#x", en->name, en->nr, action_name(en, buf, sizeof(buf)), en->when);
		for (size_t c = 0; c < ARRAY_LEN(en->cond) && en->cond[c].op != SC_NONE; c++) {
			const struct sc_cond *k = &en->cond[c];
			static const char *const ops[] = { "", "==", "&mask==", "&mask!=0" };
			fprintf(out, " arg%u%s%s mask=%#llx value=%#llx", k->arg, k->wide ? "(64)" : "(32)", ops[k->op],
				(unsigned long long)k->mask, (unsigned long long)k->value);
		}
		fputc('\n', out);
	}
	for (size_t s = 0; s < ARRAY_LEN(sessions); s++) {
		struct seccomp_program *p = seccomp_program_new(sessions[s].when);
		fprintf(out, "program: %zu instructions (%s; at most %zu)\n", p->len, sessions[s].what, (size_t)PROG_MAX);
		free(p);
	}
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
