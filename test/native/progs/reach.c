/* What an agent can reach outside its session besides exec (red-team R1, R2, R3), one RESULT line per try:
 *   reach fds              every descriptor above 2 it holds: what it is, and a write to it
 *   reach procs PID [user] limits, priority and scheduling of process PID (user: also PRIO_USER, which
 *                          renices every process of the caller's uid; the tests ask for it only as uid
 *                          65534), a signal 0 to it; then the caller's own forms, which must keep working
 *   reach meta FILE        metadata of FILE: mode, owner (to itself), times, extended attributes and an
 *                          ACL, by path and through a read-only descriptor; then the setuid bit on FILE
 *   reach setuid DIR       a setuid file made in DIR (open, creat, mknod with S_ISUID; chmod u+s)
 * Exit status 0 (the tests read the lines). */
#include "result.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/ioprio.h>
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

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "fds"))
		return fds();
	if (argc >= 3 && !strcmp(argv[1], "procs"))
		return procs(atoi(argv[2]), argc == 4 && !strcmp(argv[3], "user"));
	if (argc == 3 && !strcmp(argv[1], "meta"))
		return meta(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "setuid"))
		return setuid_files(argv[2]);
	fprintf(stderr, "usage: reach fds | procs PID [user] | meta FILE | setuid DIR\n");
	return 2;
}
