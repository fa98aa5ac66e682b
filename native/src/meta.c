/* Metadata changes performed for the agent, inside its write grants only.
 *
 * Landlock (up to ABI 7) checks writing a file's content and its directory entries, not its metadata: chmod,
 * chown, utimes and setxattr pass it. A root agent could `chmod 4755` a shell in /usr/bin, chown /etc/shadow,
 * give itself an ACL anywhere; any agent could chmod +x or -r, re-date or tag the user's own files outside its
 * grants. When writes are sealed the filter sends these calls here (seccomp.c, SEALED), and the supervisor
 * does what truncate(2) gets (facts.c): it resolves the path once, as the target would (its cwd or dirfd,
 * symlinks followed or not as asked), or takes the target's descriptor (pidfd_getfd(2)), checks the file's
 * canonical path against the write grants, and performs the change itself on the file it holds (AT_EMPTY_PATH,
 * or /proc/self/fd/N). What is checked is what is changed, whatever the agent does to the path meanwhile;
 * outside the grants the answer is EACCES, as Landlock answers for content. Never continued.
 *
 * The change is made with the supervisor's credentials: the same user, and for a root agent a root that kept
 * CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE and CAP_FSETID (privs.c), so the kernel decides the same way. A caller
 * whose filesystem uid is not ours (it switched user) gets the owner's rules only (owner_rules). What a
 * root supervisor could do that the agent could not is refused here: extended attributes in the security.
 * and trusted. namespaces (CAP_SYS_ADMIN, CAP_SETFCAP: dropped), and setuid/setgid modes never reach us (the
 * filter refuses them first). Descriptors that name no file (pipes, sockets, anonymous inodes) and memfds are
 * the agent's own: changed as asked. setxattrat/removexattrat (6.13) are answered ENOSYS by the filter.
 *
 * Inode flags and attributes (ioctl FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR, FS_IOC_SETVERSION: chattr; red-team
 * R90) go the same way, on the target's descriptor. The kernel's own test for them is a capability as much as
 * ownership (CAP_LINUX_IMMUTABLE for i and a, CAP_SYS_RESOURCE for ext4's j), so the call is made with the
 * agent's effective capabilities, not ours (ioctl_as_caller): +i stays refused to a root agent. */
#include "meta.h"
#include "facts.h"
#include "procmem.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

bool meta_handles(int nr)
{
	switch (nr) {
	case __NR_chmod:
	case __NR_fchmod:
	case __NR_fchmodat:
	case __NR_fchmodat2:
	case __NR_chown:
	case __NR_fchown:
	case __NR_lchown:
	case __NR_fchownat:
	case __NR_utime:
	case __NR_utimes:
	case __NR_futimesat:
	case __NR_utimensat:
	case __NR_setxattr:
	case __NR_lsetxattr:
	case __NR_fsetxattr:
	case __NR_removexattr:
	case __NR_lremovexattr:
	case __NR_fremovexattr:
	case __NR_ioctl: /* the inode-flag commands only (seccomp.c) */
		return true;
	default:
		return false;
	}
}

#ifndef EXT4_IOC_SETVERSION_OLD
#define EXT4_IOC_SETVERSION_OLD _IOW('f', 4, long)
#endif

/* The ioctl commands the filter sends here, and the size of what their argument points to. 0: not one. */
static size_t ioctl_arg_size(unsigned cmd)
{
	switch (cmd) {
	case FS_IOC_SETFLAGS: /* the kernel reads an int, whatever the number says */
	case FS_IOC_SETVERSION:
	case EXT4_IOC_SETVERSION_OLD:
		return sizeof(int);
	case FS_IOC_FSSETXATTR:
		return sizeof(struct fsxattr);
	default:
		return 0;
	}
}

/* The caller's effective capabilities (proc(5) CapEff); 0 when unknown (fail closed: none). */
static uint64_t caller_caps(pid_t tid)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_small_file(AT_FDCWD, path, text, sizeof(text)) < 0)
		return 0;
	const char *p = strstr(text, "\nCapEff:");
	unsigned long long v;
	return p && sscanf(p + 8, "%llx", &v) == 1 ? (uint64_t)v : 0;
}

/* ioctl(fd, cmd, arg) with our effective capabilities cut to the caller's for the call (capset(2) changes the
 * calling thread only), so the kernel decides as it would for the agent. */
static int ioctl_as_caller(pid_t tid, int fd, unsigned cmd, void *arg)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct ours[2], cut[2];
	if (syscall(__NR_capget, &hdr, ours) < 0)
		return -1;
	uint64_t theirs = caller_caps(tid);
	memcpy(cut, ours, sizeof(cut));
	cut[0].effective &= (uint32_t)theirs;
	cut[1].effective &= (uint32_t)(theirs >> 32);
	if (syscall(__NR_capset, &hdr, cut) < 0)
		return -1;
	int res = ioctl(fd, cmd, arg);
	int e = errno;
	if (syscall(__NR_capset, &hdr, ours) < 0)
		die_errno("capset (restoring the supervisor's capabilities after a metadata change)");
	errno = e;
	return res;
}

static bool still_valid(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Our own reference to the target thread's descriptor fd (PIDFD_THREAD: the thread's own table, Linux 6.9;
 * before it, the pid's, which is the thread's for a leader). 0 with *out, a positive errno, or -1: gone. */
static int take_fd(int listener, const struct seccomp_notif *n, int fd, int *out)
{
	int pfd = (int)syscall(SYS_pidfd_open, n->pid, PIDFD_THREAD);
	if (pfd < 0 && errno == EINVAL)
		pfd = (int)syscall(SYS_pidfd_open, n->pid, 0);
	if (pfd < 0)
		return errno == ESRCH ? -1 : EACCES;
	int ours = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	int e = errno;
	close(pfd);
	/* The tid could have been reused between the notification and pidfd_open: trust nothing before this. */
	if (!still_valid(listener, n->id)) {
		if (ours >= 0)
			close(ours);
		return -1;
	}
	if (ours < 0)
		return e == EBADF ? EBADF : e == ESRCH ? -1 : EACCES;
	*out = ours;
	return 0;
}

/* The file a path-based call names: path (target memory at addr) relative to dirfd (AT_FDCWD: the target's
 * cwd), nofollow for the l* forms and AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH: dirfd itself. */
static int resolve(int listener, const struct seccomp_notif *n, int dirfd, uint64_t addr, bool nofollow, bool empty_ok,
		   int *out)
{
	char path[PATH_MAX];
	ssize_t len = procmem_read_str((pid_t)n->pid, addr, path, sizeof(path) - 1);
	if (len < 0)
		return errno == ESRCH ? -1 : errno == ENAMETOOLONG ? ENAMETOOLONG : EFAULT;
	AUTOCLOSE int base = -1;
	if (dirfd != AT_FDCWD && (len == 0 || path[0] != '/')) {
		int r = take_fd(listener, n, dirfd, &base);
		if (r)
			return r;
	}
	if (len == 0) {
		if (!empty_ok)
			return ENOENT;
		if (base >= 0) {
			*out = base;
			base = -1;
			return 0;
		}
		strcpy(path, ".");
	}
	int fd = facts_open_as_target((pid_t)n->pid, base, path, nofollow);
	if (fd < 0)
		return -fd;
	*out = fd;
	return 0;
}

/* Inside the write grants, or no file of a filesystem at all (a pipe, a socket, an anonymous inode, a memfd). */
static bool may_change(int fd, const struct config *c)
{
	char canon[PATH_MAX], proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, canon, sizeof(canon) - 1);
	if (n < 0)
		return false;
	canon[n] = '\0';
	if (canon[0] != '/' || strncmp(canon, "/memfd:", 7) == 0)
		return true;
	return facts_under_write_grant(canon, c);
}

static int read_times(pid_t tid, int nr, uint64_t addr, struct timespec ts[2], bool *now)
{
	*now = addr == 0;
	if (!addr)
		return 0;
	if (nr == __NR_utime) {
		time_t t[2];
		if (procmem_read(tid, addr, t, sizeof(t)) < 0)
			return errno == ESRCH ? -1 : EFAULT;
		ts[0] = (struct timespec){ t[0], 0 };
		ts[1] = (struct timespec){ t[1], 0 };
		return 0;
	}
	if (nr == __NR_utimes || nr == __NR_futimesat) {
		struct timeval tv[2];
		if (procmem_read(tid, addr, tv, sizeof(tv)) < 0)
			return errno == ESRCH ? -1 : EFAULT;
		for (int i = 0; i < 2; i++) {
			if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
				return EINVAL;
			ts[i] = (struct timespec){ tv[i].tv_sec, tv[i].tv_usec * 1000 };
		}
		return 0;
	}
	if (procmem_read(tid, addr, ts, 2 * sizeof(*ts)) < 0)
		return errno == ESRCH ? -1 : EFAULT;
	return 0;
}

/* The caller's filesystem uid and gid and its supplementary groups (proc(5) /proc/<tid>/status). -1 when unknown. */
static int caller_creds(pid_t tid, uid_t *fsuid, gid_t *fsgid, gid_t *groups, size_t *ngroups)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_small_file(AT_FDCWD, path, text, sizeof(text)) < 0)
		return -1;
	const char *u = strstr(text, "\nUid:"), *g = strstr(text, "\nGid:"), *gs = strstr(text, "\nGroups:");
	unsigned long r, e, sv, fs;
	if (!u || !g || sscanf(u + 5, "%lu %lu %lu %lu", &r, &e, &sv, &fs) != 4)
		return -1;
	*fsuid = (uid_t)fs;
	if (sscanf(g + 5, "%lu %lu %lu %lu", &r, &e, &sv, &fs) != 4)
		return -1;
	*fsgid = (gid_t)fs;
	*ngroups = 0;
	if (gs) {
		char *p = (char *)gs + 8, *end;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || *ngroups >= 256)
				break;
			groups[(*ngroups)++] = (gid_t)v;
			p = end;
		}
	}
	return 0;
}

/* The change is made with our credentials (red-team R46): when the caller's filesystem uid is not ours (a root
 * supervisor, an agent that switched to another user with CAP_SETUID), only what the kernel lets a file's
 * owner do without capabilities is done — and only to a file the caller owns: its mode, times and extended
 * attributes; its group, to one of the caller's. Anything else: EPERM, what the kernel answers a non-owner
 * without CAP_FOWNER/CAP_CHOWN (stricter for user.* attributes and "now" times, which write access would do). */
static int owner_rules(int nr, const __u64 *a, pid_t tid, const struct stat *st)
{
	uid_t fsuid;
	gid_t fsgid, groups[256];
	size_t ngroups;
	if (caller_creds(tid, &fsuid, &fsgid, groups, &ngroups) < 0)
		return EPERM;
	if (fsuid == geteuid())
		return 0;
	if (nr == __NR_chown || nr == __NR_fchown || nr == __NR_lchown || nr == __NR_fchownat) {
		bool at = nr == __NR_fchownat;
		uid_t uid = (uid_t)a[at ? 2 : 1];
		gid_t gid = (gid_t)a[at ? 3 : 2];
		bool uid_changes = uid != (uid_t)-1 && uid != st->st_uid;
		bool gid_changes = gid != (gid_t)-1 && gid != st->st_gid;
		if (!uid_changes && !gid_changes)
			return 0;
		if (uid_changes || st->st_uid != fsuid)
			return EPERM;
		if (gid == fsgid)
			return 0;
		for (size_t i = 0; i < ngroups; i++)
			if (groups[i] == gid)
				return 0;
		return EPERM;
	}
	return st->st_uid == fsuid ? 0 : EPERM;
}

/* An xattr name the agent could set itself: not security.* or trusted.* (capabilities it no longer has). */
static int read_name(pid_t tid, uint64_t addr, char name[XATTR_NAME_MAX + 1])
{
	ssize_t len = procmem_read_str(tid, addr, name, XATTR_NAME_MAX);
	if (len < 0)
		return errno == ESRCH ? -1 : errno == ENAMETOOLONG ? ERANGE : EFAULT;
	if (len == 0)
		return ERANGE;
	if (strncmp(name, "security.", 9) == 0 || strncmp(name, "trusted.", 8) == 0)
		return EPERM;
	return 0;
}

int meta_perform(int listener, const struct seccomp_notif *n, const struct config *c)
{
	const __u64 *a = n->data.args;
	const pid_t tid = (pid_t)n->pid;
	const int nr = n->data.nr;
	AUTOCLOSE int fd = -1;
	int r = 0;
	bool fd_call = false; /* the object is a descriptor of the target's, not a path */

	/* The object. */
	switch (nr) {
	case __NR_fchmod:
	case __NR_fchown:
	case __NR_fsetxattr:
	case __NR_fremovexattr:
		fd_call = true;
		r = take_fd(listener, n, (int)a[0], &fd);
		break;
	case __NR_ioctl:
		if (!ioctl_arg_size((unsigned)a[1]))
			return EPERM; /* not one the filter sends here: never performed */
		fd_call = true;
		r = take_fd(listener, n, (int)a[0], &fd);
		break;
	case __NR_chmod:
	case __NR_chown:
	case __NR_utime:
	case __NR_utimes:
	case __NR_setxattr:
	case __NR_removexattr:
		r = resolve(listener, n, AT_FDCWD, a[0], false, false, &fd);
		break;
	case __NR_lchown:
	case __NR_lsetxattr:
	case __NR_lremovexattr:
		r = resolve(listener, n, AT_FDCWD, a[0], true, false, &fd);
		break;
	case __NR_fchmodat:
	case __NR_futimesat:
		r = resolve(listener, n, (int)a[0], a[1], false, false, &fd);
		break;
	case __NR_fchmodat2:
		if (a[3] & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return EINVAL;
		r = resolve(listener, n, (int)a[0], a[1], a[3] & AT_SYMLINK_NOFOLLOW, a[3] & AT_EMPTY_PATH, &fd);
		break;
	case __NR_fchownat:
		if (a[4] & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return EINVAL;
		r = resolve(listener, n, (int)a[0], a[1], a[4] & AT_SYMLINK_NOFOLLOW, a[4] & AT_EMPTY_PATH, &fd);
		break;
	case __NR_utimensat:
		if (a[3] & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return EINVAL;
		if (a[1] == 0) { /* futimens: the descriptor itself */
			if ((int)a[0] == AT_FDCWD)
				return EFAULT;
			fd_call = true;
			r = take_fd(listener, n, (int)a[0], &fd);
		} else {
			r = resolve(listener, n, (int)a[0], a[1], a[3] & AT_SYMLINK_NOFOLLOW, a[3] & AT_EMPTY_PATH, &fd);
		}
		break;
	default:
		return ENOSYS;
	}
	if (r)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errno;
	/* What the kernel answers for these on an O_PATH descriptor. */
	if (fd_call && (fcntl(fd, F_GETFL) & O_PATH) && nr != __NR_utimensat)
		return EBADF;
	if (!may_change(fd, c)) {
		debug("%s by tid %d outside the write grants: refused", nr == __NR_chmod ? "chmod" : nr == __NR_ioctl ? "inode flags" : "metadata change", (int)tid);
		return EACCES;
	}
	r = owner_rules(nr, a, tid, &st);
	if (r)
		return r;

	/* The arguments, copied once. */
	struct timespec ts[2];
	bool now = false;
	char name[XATTR_NAME_MAX + 1];
	static char value[XATTR_SIZE_MAX];
	size_t size = 0;
	switch (nr) {
	case __NR_utime:
	case __NR_utimes:
	case __NR_futimesat:
		r = read_times(tid, nr, a[nr == __NR_futimesat ? 2 : 1], ts, &now);
		break;
	case __NR_utimensat:
		r = read_times(tid, nr, a[2], ts, &now);
		break;
	case __NR_setxattr:
	case __NR_lsetxattr:
	case __NR_fsetxattr:
		r = read_name(tid, a[1], name);
		size = (size_t)a[3];
		if (!r && size > XATTR_SIZE_MAX)
			r = E2BIG;
		if (!r && size && procmem_read(tid, a[2], value, size) < 0)
			r = errno == ESRCH ? -1 : EFAULT;
		break;
	case __NR_removexattr:
	case __NR_lremovexattr:
	case __NR_fremovexattr:
		r = read_name(tid, a[1], name);
		break;
	case __NR_ioctl:
		if (procmem_read(tid, a[2], value, ioctl_arg_size((unsigned)a[1])) < 0)
			r = errno == ESRCH ? -1 : EFAULT;
		break;
	default:
		break;
	}
	if (r)
		return r;
	if (!still_valid(listener, n->id))
		return -1;

	/* The change, on the file we hold. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	bool link = S_ISLNK(st.st_mode);
	int res;
	switch (nr) {
	case __NR_chmod:
	case __NR_fchmod:
	case __NR_fchmodat:
	case __NR_fchmodat2:
		if (link)
			return EOPNOTSUPP; /* what fchmodat2(AT_SYMLINK_NOFOLLOW) answers for a symlink */
		res = (int)syscall(__NR_fchmodat2, fd, "", (mode_t)a[nr == __NR_chmod || nr == __NR_fchmod ? 1 : 2],
				   AT_EMPTY_PATH);
		if (res < 0 && (errno == ENOSYS || errno == EINVAL))
			res = fchmodat(AT_FDCWD, proc, (mode_t)a[nr == __NR_chmod || nr == __NR_fchmod ? 1 : 2], 0);
		break;
	case __NR_chown:
	case __NR_fchown:
	case __NR_lchown:
		res = fchownat(fd, "", (uid_t)a[1], (gid_t)a[2], AT_EMPTY_PATH);
		break;
	case __NR_fchownat:
		res = fchownat(fd, "", (uid_t)a[2], (gid_t)a[3], AT_EMPTY_PATH);
		break;
	case __NR_utime:
	case __NR_utimes:
	case __NR_futimesat:
	case __NR_utimensat:
		res = utimensat(fd, "", now ? NULL : ts, AT_EMPTY_PATH);
		break;
	case __NR_setxattr:
	case __NR_lsetxattr:
	case __NR_fsetxattr:
		if (link)
			return EPERM; /* user.* on a symlink; and /proc/self/fd/N would not name the link itself */
		res = fd_call ? fsetxattr(fd, name, value, size, (int)a[4]) : setxattr(proc, name, value, size, (int)a[4]);
		break;
	case __NR_removexattr:
	case __NR_lremovexattr:
	case __NR_fremovexattr:
		if (link)
			return EPERM;
		res = fd_call ? fremovexattr(fd, name) : removexattr(proc, name);
		break;
	case __NR_ioctl:
		res = ioctl_as_caller(tid, fd, (unsigned)a[1], value);
		break;
	default:
		return ENOSYS;
	}
	return res < 0 ? errno : 0;
}
