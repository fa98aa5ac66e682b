/* A root agent's private mount namespace.
 *
 * Two things Landlock cannot express, done with mounts in a namespace of the agent's own, before it enters
 * Landlock (which forbids mounting) and while it still has CAP_SYS_ADMIN (privs.c drops it right after):
 *
 * /proc scoped to the session. The agent gets a fresh procfs instance mounted with hidepid=ptraceable
 * (proc(5)): a /proc/<pid> directory exists for it only when it may ptrace that process
 * (PTRACE_MODE_READ_FSCREDS), and Landlock's ptrace scoping refuses that for every process outside the
 * session's domain. So the agent sees only its own processes: no environ, cmdline, maps, fd/ or root/ of
 * anything else — not even their pids. (Without this — a non-root agent — environ, maps, mem, fd/ and root/
 * of outside processes are refused by that same scoping, and cmdline and stat stay readable, as for any
 * process on the machine.)
 *
 * /dev/shm of the session's own: a private tmpfs, so POSIX shared memory and semaphores of processes outside
 * are out of reach by name (red-team R63). (Not /tmp: a workspace, a checkout or the programs the agent runs
 * may be under the host's /tmp, and the supervisor resolves the agent's paths in the host's namespace; the
 * default policy grants no shared /tmp instead, R60.)
 *
 * Workspace files that tools outside the gate run (src/core/protect/guard.ts, sent as PROTECT lines): each
 * one that exists is bind-mounted read-only over itself, so the kernel refuses the write (EROFS) or the
 * replacement (EBUSY) outright. Files that do not exist yet cannot be covered this way: the broker's guard
 * detects and puts those back. One that existed but was not covered (made by the user after the start, or
 * one the agent may change in harmless ways, like a rebase's plan) and that the guard had to put back is
 * bound read-only then, on the broker's READONLY (mountns_readonly_in: red-team R106, a rewrite loop would
 * otherwise race every put-back).
 *
 * The namespace is a slave of the host's (MS_SLAVE, recursively): mounts made outside still reach the agent,
 * nothing made here leaks out. The supervisor stays in the host's namespace; the paths it resolves for an exec
 * are the same files (a bind mount shows the same inode; /proc is only filtered). Only root can do this
 * without a user namespace, and a user namespace would show every other user's files as nobody's: a
 * non-root agent runs without it. AGENT_GATE_NO_MOUNTNS=1 turns it off (tests use it to try the guard as
 * root). */
#include "mountns.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAP_SYS_ADMIN_BIT 21

static int write_small_file(const char *path, const char *text, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, text, n);
	int e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)n ? 0 : -1;
}

/* Whether the agent's namespace is made in a user namespace of its own (a non-root supervisor). */
static bool g_userns;

/* The agent's uid and gid mapped to themselves in a user namespace of their own (user_namespaces(7)): it keeps
 * its ids, and the capabilities it holds there until its execve(2) (which, uid not 0, clears them) are enough
 * to mount in its own mount namespace; files of other users show as the overflow uid. setgroups is denied
 * first, as an unprivileged gid_map requires (its supplementary groups stay as they are). */
static int enter_userns(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char map[64];
	if (unshare(CLONE_NEWUSER) < 0) {
		snprintf(err, errlen, "unshare(CLONE_NEWUSER): %s", strerror(errno));
		return -1;
	}
	/* /proc/self/uid_map of a process that is not dumpable (the supervisor made itself so, and we inherit it)
	 * belongs to root: dumpable for as long as the maps take. */
	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	int n = snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	int r = 0;
	if (write_small_file("/proc/self/uid_map", map, (size_t)n) < 0 ||
	    write_small_file("/proc/self/setgroups", "deny", 4) < 0 ||
	    (n = snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid),
	     write_small_file("/proc/self/gid_map", map, (size_t)n) < 0)) {
		snprintf(err, errlen, "mapping the agent's ids in its user namespace: %s", strerror(errno));
		r = -1;
	}
	if (dumpable >= 0)
		prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	return r;
}

bool mountns_possible(void)
{
	const char *off = getenv("AGENT_GATE_NO_MOUNTNS");
	char status[4096];
	const char *p;

	if (off && strcmp(off, "1") == 0)
		return false;
	if (geteuid() != 0) {
		/* A non-root agent (red-team R106): the same read-only bind mounts through a user namespace, where the
		 * kernel lets unprivileged users make one (kernel.unprivileged_userns_clone, user.max_user_namespaces,
		 * Ubuntu's AppArmor restriction, which lets unshare succeed and then refuses mounts). Tried once in a
		 * child, which changes nothing here; without it the guard's detection holds alone. */
		pid_t pid = fork();
		if (pid == 0) {
			char err[256];
			if (enter_userns(geteuid(), getegid(), err, sizeof(err)) < 0 || unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
				_exit(1);
			_exit(0);
		}
		int st = 0;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return false;
		g_userns = true;
		return true;
	}
	/* Root of the initial user namespace only (uid_map maps all of it): root in a user namespace of its own
	 * may not mount a /proc for a PID namespace it does not own. */
	char map[256];
	if (read_small_file(AT_FDCWD, "/proc/self/uid_map", map, sizeof(map)) < 0 || !strstr(map, "4294967295"))
		return false;
	if (read_small_file(AT_FDCWD, "/proc/self/status", status, sizeof(status)) < 0 ||
	    !(p = strstr(status, "\nCapEff:")))
		return false;
	return (strtoull(p + 8, NULL, 16) >> CAP_SYS_ADMIN_BIT) & 1;
}

bool mountns_in_userns(void)
{
	return g_userns;
}

/* A bind mount of the path over itself, then read-only (mount(2): MS_BIND, then MS_REMOUNT|MS_BIND|MS_RDONLY,
 * which changes only this mount's flags). 0, or -1 with errno and the reason in err. */
static int bind_readonly(const char *p, char *err, size_t errlen)
{
	if (mount(p, p, NULL, MS_BIND, NULL) < 0) {
		int e = errno;
		snprintf(err, errlen, "bind-mounting %s read-only: %s", p, strerror(e));
		errno = e;
		return -1;
	}
	/* mount_setattr(2) (5.12) sets read-only alone; a remount must repeat the flags a user namespace locks
	 * (noexec, atime…) of the mount below, so it is only the fallback. */
	struct {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = { .attr_set = 0x1 /* MOUNT_ATTR_RDONLY */ };
	if (syscall(SYS_mount_setattr, AT_FDCWD, p, 0u, &attr, sizeof(attr)) == 0)
		return 0;
	struct statvfs sv;
	unsigned long keep = statvfs(p, &sv) == 0 ? (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) : 0;
	if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep, NULL) < 0) {
		int e = errno;
		snprintf(err, errlen, "making %s read-only: %s", p, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

int mountns_setup(const struct config *c, const struct landlock_plan *plan, char *err, size_t errlen)
{
	/* unshare(2) CLONE_NEWNS, then mount(2) MS_REC|MS_SLAVE on /: our mounts stay ours. CLONE_NEWIPC with
	 * it: System V shared memory, message queues and semaphores (and POSIX message queues) are found by key
	 * or id, with no path Landlock could check; in an IPC namespace of its own the agent sees only the ones
	 * its session makes, not those of every root process outside (red-team R33). */
	if (g_userns && enter_userns(geteuid(), getegid(), err, errlen) < 0)
		return -1;
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0) {
		snprintf(err, errlen, "unshare(CLONE_NEWNS|CLONE_NEWIPC): %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		snprintf(err, errlen, "making the mount namespace a slave: %s", strerror(errno));
		return -1;
	}
	/* proc(5) hidepid=ptraceable (Linux 5.8): a process is visible only when we may ptrace it, whatever our
	 * groups. (hidepid=invisible would show everything to members of its gid=, root's group 0 by default, and
	 * a root agent keeps CAP_SETGID.) Not in a user namespace: a procfs may be mounted only by the owner of
	 * its PID namespace; a non-root agent's view of other processes is limited by Landlock's ptrace scoping. */
	if (!g_userns && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=ptraceable") < 0) {
		snprintf(err, errlen, "mounting the session's /proc: %s", strerror(errno));
		return -1;
	}
	int r = g_userns ? 0 : landlock_regrant(plan, c, "/proc");
	if (r < 0) {
		snprintf(err, errlen, "granting the session's /proc: %s", strerror(-r));
		return -1;
	}
	/* POSIX shared memory and named semaphores (shm_open, sem_open: files in /dev/shm) of processes outside
	 * the session, found by name (red-team R63): a tmpfs of the session's own over /dev/shm, noexec (what the
	 * agent puts there cannot be run: the supervisor resolves paths in the host's namespace, where /dev/shm is
	 * the shared one) and sticky like the original, with the policy's grants on /dev/shm applied to it. */
	struct stat shm;
	if (stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode)) {
		if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777") < 0) {
			snprintf(err, errlen, "mounting the session's /dev/shm: %s", strerror(errno));
			return -1;
		}
		r = landlock_regrant(plan, c, "/dev/shm");
		if (r < 0) {
			snprintf(err, errlen, "granting the session's /dev/shm: %s", strerror(-r));
			return -1;
		}
	}
	for (size_t i = 0; i < c->nprotect; i++) {
		/* Gone meanwhile: the guard covers it. */
		r = bind_readonly(c->protect[i], err, errlen);
		if (r < 0 && errno != ENOENT)
			return -1;
	}
	return 0;
}

int mountns_readonly_in(pid_t agent, const char *p, char *err, size_t errlen)
{
	char ns[64];
	struct stat theirs, ours;

	int ufd = -1;
	if (g_userns) {
		snprintf(ns, sizeof(ns), "/proc/%d/ns/user", (int)agent);
		ufd = open(ns, O_RDONLY | O_CLOEXEC);
		if (ufd < 0) {
			snprintf(err, errlen, "the agent's user namespace: %s", strerror(errno));
			return -1;
		}
	}
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)agent);
	int fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "the agent's mount namespace: %s", strerror(errno));
		if (ufd >= 0)
			close(ufd);
		return -1;
	}
	if (fstat(fd, &theirs) < 0 || stat("/proc/self/ns/mnt", &ours) < 0 ||
	    (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)) {
		close(fd);
		if (ufd >= 0)
			close(ufd);
		snprintf(err, errlen, "the agent has no mount namespace of its own");
		return -1;
	}
	/* A child joins the namespace and mounts there (setns(2) of a mount namespace is for good, and the
	 * supervisor resolves the agent's paths in the host's); it says why it failed through a pipe. */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		close(fd);
		if (ufd >= 0)
			close(ufd);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char why[512] = "";
		close(pfd[0]);
		/* Its user namespace first (ours owns it: every capability there), then its mount namespace. */
		if (ufd >= 0 && setns(ufd, CLONE_NEWUSER) < 0)
			snprintf(why, sizeof(why), "joining the agent's user namespace: %s", strerror(errno));
		else if (setns(fd, CLONE_NEWNS) < 0)
			snprintf(why, sizeof(why), "joining the agent's mount namespace: %s", strerror(errno));
		else
			bind_readonly(p, why, sizeof(why));
		if (why[0] && write(pfd[1], why, strlen(why)) < 0)
			_exit(2);
		_exit(why[0] ? 1 : 0);
	}
	close(fd);
	if (ufd >= 0)
		close(ufd);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	char why[512];
	ssize_t n = read(pfd[0], why, sizeof(why) - 1);
	close(pfd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	why[n > 0 ? n : 0] = '\0';
	snprintf(err, errlen, "%s", n > 0 ? why : "the helper failed");
	return -1;
}
