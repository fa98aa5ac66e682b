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
 * detects and puts those back.
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
#include <sys/stat.h>
#include <unistd.h>

#define CAP_SYS_ADMIN_BIT 21

bool mountns_possible(void)
{
	const char *off = getenv("AGENT_GATE_NO_MOUNTNS");
	char status[4096];
	const char *p;

	if (off && strcmp(off, "1") == 0)
		return false;
	if (geteuid() != 0)
		return false;
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

int mountns_setup(const struct config *c, const struct landlock_plan *plan, char *err, size_t errlen)
{
	/* unshare(2) CLONE_NEWNS, then mount(2) MS_REC|MS_SLAVE on /: our mounts stay ours. CLONE_NEWIPC with
	 * it: System V shared memory, message queues and semaphores (and POSIX message queues) are found by key
	 * or id, with no path Landlock could check; in an IPC namespace of its own the agent sees only the ones
	 * its session makes, not those of every root process outside (red-team R33). */
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
	 * a root agent keeps CAP_SETGID.) */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=ptraceable") < 0) {
		snprintf(err, errlen, "mounting the session's /proc: %s", strerror(errno));
		return -1;
	}
	int r = landlock_regrant(plan, c, "/proc");
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
		const char *p = c->protect[i];
		/* A bind mount of the path over itself, then read-only (mount(2): MS_BIND, then MS_REMOUNT|MS_BIND|
		 * MS_RDONLY, which changes only this mount's flags). Gone meanwhile: the guard covers it. */
		if (mount(p, p, NULL, MS_BIND, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "bind-mounting %s read-only: %s", p, strerror(errno));
			return -1;
		}
		if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
			snprintf(err, errlen, "making %s read-only: %s", p, strerror(errno));
			return -1;
		}
	}
	return 0;
}
