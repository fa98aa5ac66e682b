/* What an agent can reach outside its session besides exec (red-team R1, R2, R3), one RESULT line per try:
 *   reach fds              every descriptor above 2 it holds: what it is, and a write to it
 *   reach procs PID [user] limits, priority and scheduling of process PID (user: also PRIO_USER, which
 *                          renices every process of the caller's uid; the tests ask for it only as uid
 *                          65534), a signal 0 to it; then the caller's own forms, which must keep working
 *   reach meta FILE        metadata of FILE: mode, owner (to itself), times, extended attributes and an
 *                          ACL, by path and through a read-only descriptor; then the setuid bit on FILE
 *   reach setuid DIR       a setuid file made in DIR (open, creat, mknod with S_ISUID; chmod u+s)
 *   reach flags FILE [i]   inode flags of FILE through a read-only descriptor (chattr's ioctls: S, A, d; the
 *                          xflags' nodump; the generation; the 32-bit number), file_setattr(2) by path, then
 *                          the ioctls refused whole, on a pipe (where the kernel answers ENOTTY); i: also +i
 *   reach flagsof FILE     FILE's inode flags (RESULT flags 0x…)
 * Exit status 0 (the tests read the lines). */
#include "result.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/fscrypt.h>
#include <linux/fsverity.h>
#include <linux/ioprio.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

static void report(const char *what, int r)
{
	if (r < 0)
		result_errno(what, errno);
	else
		result_ok(what);
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return result_errno("fds", errno);
	int self = dirfd(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd <= 2 || fd == self)
			continue;
		char link[256] = "", what[300];
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		printf("FD %d %s\n", fd, link);
		snprintf(what, sizeof(what), "write-fd-%d", fd);
		report(what, (int)write(fd, "LEAKED\n", 7));
	}
	closedir(d);
	return result_ok("fds-listed");
}

static int procs(pid_t pid, int user)
{
	struct rlimit one = { 1, 1 }, core;
	char what[64];
	report("prlimit-nofile", prlimit(pid, RLIMIT_NOFILE, &one, NULL));
	getrlimit(RLIMIT_CORE, &core);
	report("prlimit-core", prlimit(pid, RLIMIT_CORE, &core, NULL));
	report("prlimit-read", prlimit(pid, RLIMIT_NOFILE, NULL, &one));
	report("setpriority", setpriority(PRIO_PROCESS, (id_t)pid, 19));
	if (user)
		report("setpriority-user", setpriority(PRIO_USER, 0, 19));
	struct sched_param sp = { 0 };
	report("sched-setscheduler", sched_setscheduler(pid, SCHED_IDLE, &sp));
	report("sched-setparam", sched_setparam(pid, &sp));
	report("ioprio-set", (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)));
	report("kill", kill(pid, 0));
	/* The caller's own, as programs do it (pid 0): still allowed. */
	getrlimit(RLIMIT_CORE, &core);
	report("own-setrlimit", setrlimit(RLIMIT_CORE, &core));
	report("own-prlimit", prlimit(0, RLIMIT_CORE, &core, NULL));
	report("own-setpriority", setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0)));
	snprintf(what, sizeof(what), "own-sched-setscheduler");
	report(what, sched_setscheduler(0, SCHED_OTHER, &sp));
	return 0;
}

static int meta(const char *file)
{
	struct stat st;
	if (stat(file, &st) < 0)
		return result_errno("stat", errno);
	report("chmod", chmod(file, 0777));
	report("chown", chown(file, st.st_uid, st.st_gid));
	report("utimes", utimes(file, (struct timeval[2]){ { 1, 0 }, { 1, 0 } }));
	report("setxattr-user", setxattr(file, "user.agent", "1", 1, 0));
	report("removexattr", removexattr(file, "user.outside"));
	/* system.posix_acl_access, version 2: user::rwx, group::r--, other::rwx (world-writable). */
	static const unsigned char acl[] = { 2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 4, 0, 0xff, 0xff,
					     0xff, 0xff, 0x20, 0, 7, 0, 0xff, 0xff, 0xff, 0xff };
	report("setxattr-acl", setxattr(file, "system.posix_acl_access", acl, sizeof(acl), 0));
	report("setxattr-security", setxattr(file, "security.agent", "1", 1, 0));
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return result_errno("open", errno);
	report("fchmod", fchmod(fd, 0777));
	report("fchown", fchown(fd, st.st_uid, st.st_gid));
	report("futimens", futimens(fd, (struct timespec[2]){ { 2, 0 }, { 2, 0 } }));
	report("fsetxattr", fsetxattr(fd, "user.agent2", "1", 1, 0));
	report("chmod-setuid", chmod(file, 04755));
	close(fd);
	return 0;
}

static int setuid_files(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/open-suid", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 04755);
	report("open-setuid", fd);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/creat-suid", dir);
	fd = creat(p, 06755);
	report("creat-setuid", fd);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/mknod-suid", dir);
	report("mknod-setuid", mknod(p, S_IFREG | 04755, 0));
	snprintf(p, sizeof(p), "%s/plain", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0755);
	report("open-plain", fd);
	report("fchmod-setuid", fd < 0 ? -1 : fchmod(fd, 04755));
	report("chmod-setgid", chmod(p, 02755));
	report("fchmodat-setuid", fchmodat(AT_FDCWD, p, 04755, 0));
	report("chmod-plain", chmod(p, 0700));
	if (fd >= 0)
		close(fd);
	return 0;
}

/* file_setattr(2), Linux 6.17 (include/uapi/linux/fs.h struct file_attr, FILE_ATTR_SIZE_VER0). */
struct file_attr_v0 {
	uint64_t fa_xflags;
	uint32_t fa_extsize, fa_nextents, fa_projid, fa_cowextsize;
};

static int flags(const char *file, int immutable)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return result_errno("open", errno);
	int f = 0;
	report("getflags", ioctl(fd, FS_IOC_GETFLAGS, &f));
	int set = f | FS_SYNC_FL | FS_NOATIME_FL | FS_NODUMP_FL;
	report("setflags", ioctl(fd, FS_IOC_SETFLAGS, &set));
	struct fsxattr fa;
	memset(&fa, 0, sizeof(fa));
	report("fsgetxattr", ioctl(fd, FS_IOC_FSGETXATTR, &fa));
	fa.fsx_xflags |= FS_XFLAG_NODUMP | FS_XFLAG_NOATIME;
	report("fssetxattr", ioctl(fd, FS_IOC_FSSETXATTR, &fa));
	int gen = 7;
	report("setversion", ioctl(fd, FS_IOC_SETVERSION, &gen));
	report("setflags32", ioctl(fd, FS_IOC32_SETFLAGS, &set));
	struct file_attr_v0 attr = { .fa_xflags = FS_XFLAG_NODUMP | FS_XFLAG_SYNC };
	report("file-setattr", (int)syscall(469, AT_FDCWD, file, &attr, sizeof(attr), 0));
	if (immutable) {
		int imm = f | FS_IMMUTABLE_FL;
		report("setflags-immutable", ioctl(fd, FS_IOC_SETFLAGS, &imm));
		int app = f | FS_APPEND_FL;
		report("setflags-append", ioctl(fd, FS_IOC_SETFLAGS, &app));
	}
	close(fd);
	/* Refused by the filter whatever the file: tried on a pipe, which the kernel answers ENOTTY. */
	int p[2];
	if (pipe(p) < 0)
		return result_errno("pipe", errno);
	char buf[256] = { 0 };
	struct fsverity_enable_arg va = { .version = 1, .hash_algorithm = FS_VERITY_HASH_ALG_SHA256, .block_size = 4096 };
	report("verity-pipe", ioctl(p[0], FS_IOC_ENABLE_VERITY, &va));
	report("encpolicy-pipe", ioctl(p[0], FS_IOC_SET_ENCRYPTION_POLICY, buf));
	report("fscrypt-add-key-pipe", ioctl(p[0], FS_IOC_ADD_ENCRYPTION_KEY, buf));
	report("fscrypt-remove-key-pipe", ioctl(p[0], FS_IOC_REMOVE_ENCRYPTION_KEY, buf));
	/* btrfs: SUBVOL_CREATE (v1, 4096-byte args), SNAP_DESTROY_V2, SUBVOL_SETFLAGS, by their numbers. */
	static char big[4096];
	report("btrfs-subvol-create-pipe", ioctl(p[0], _IOW(0x94, 14, char[4096]), big));
	report("btrfs-snap-destroy-v2-pipe", ioctl(p[0], _IOW(0x94, 63, char[4096]), big));
	report("btrfs-subvol-setflags-pipe", ioctl(p[0], _IOW(0x94, 26, uint64_t), buf));
	return 0;
}

static int flagsof(const char *file)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK), f = 0;
	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &f) < 0)
		return result_errno("flags", errno);
	printf("RESULT flags %#x\n", (unsigned)f);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "flags"))
		return flags(argv[2], argc == 4);
	if (argc == 3 && !strcmp(argv[1], "flagsof"))
		return flagsof(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "fds"))
		return fds();
	if (argc >= 3 && !strcmp(argv[1], "procs"))
		return procs(atoi(argv[2]), argc == 4 && !strcmp(argv[3], "user"));
	if (argc == 3 && !strcmp(argv[1], "meta"))
		return meta(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "setuid"))
		return setuid_files(argv[2]);
	fprintf(stderr, "usage: reach fds | procs PID [user] | meta FILE | setuid DIR | flags FILE [i] | flagsof FILE\n");
	return 2;
}
