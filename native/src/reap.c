/* Every process of the session ends with it.
 *
 * The supervisor is the session's child subreaper (PR_SET_CHILD_SUBREAPER, prctl(2)): a process of the
 * session whose parent exits is reparented to us, not to init, however it got there (setsid, a double fork,
 * a daemon). Nothing the agent starts can leave our subtree, so when the agent exits, our children are
 * exactly what is left of the session. They are ended layer by layer: SIGKILL to each direct child (a
 * child's pid cannot be reused until we reap it, so no unrelated process can be hit), reap, and the next
 * layer — their children, reparented to us as they die — comes up as our children. Chosen over a cgroup v2
 * (cgroup.kill, Linux 5.14): that needs a writable, delegated cgroup, which an ordinary user seldom has
 * outside systemd's user manager; the subreaper needs no privilege and no setup.
 *
 * With keep_leftovers the session's processes are counted and left running, and the session goes on until
 * the last one exits (notify.c: we stay their subreaper and their gate; red-team R54). */
#include "reap.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void reap_init(void)
{
	/* prctl(2) PR_SET_CHILD_SUBREAPER: orphans of the session come to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_CHILD_SUBREAPER)");
}

/* The children of pid (all of its threads'), from /proc/<pid>/task/<tid>/children (Linux 3.5+,
 * CONFIG_PROC_CHILDREN). Returns how many were stored (at most cap). */
static size_t children_of(pid_t pid, pid_t *out, size_t cap)
{
	char path[64], buf[8192];
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < cap) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
		ssize_t len = read_small_file(AT_FDCWD, path, buf, sizeof(buf));
		for (char *p = buf; len > 0 && *p && n < cap;) {
			char *end;
			long c = strtol(p, &end, 10);
			if (end == p)
				break;
			out[n++] = (pid_t)c;
			p = end;
		}
	}
	closedir(d);
	return n;
}

static size_t count_below(pid_t pid, int depth)
{
	pid_t kids[1024];
	size_t n = children_of(pid, kids, 1024), total = n;

	if (depth < 64)
		for (size_t i = 0; i < n; i++)
			total += count_below(kids[i], depth + 1);
	return total;
}

static void add_name(struct buf *names, pid_t pid, size_t *named);

size_t reap_count(struct buf *names)
{
	pid_t kids[1024];
	size_t n = children_of(getpid(), kids, 1024), named = 0;

	for (size_t i = 0; i < n; i++)
		add_name(names, kids[i], &named);
	return count_below(getpid(), 0);
}

static void add_name(struct buf *names, pid_t pid, size_t *named)
{
	char path[64], comm[64];

	if (*named >= 20)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small_file(AT_FDCWD, path, comm, sizeof(comm)) <= 0)
		return;
	comm[strcspn(comm, "\n")] = '\0';
	buf_puts(names, " leftover=");
	buf_hex(names, comm, strlen(comm));
	(*named)++;
}

size_t reap_all(struct buf *names, int timeout_ms, size_t *remaining)
{
	uint64_t deadline = monotonic_us() + (uint64_t)timeout_ms * 1000u;
	static pid_t seen[4096];
	size_t nseen = 0, killed = 0, named = 0;
	pid_t kids[1024];

	*remaining = 0;
	for (;;) {
		/* Our children, zombies included (they stay on the list until reaped). */
		size_t n = children_of(getpid(), kids, 1024);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			bool known = false;
			for (size_t k = 0; k < nseen && !known; k++)
				known = seen[k] == kids[i];
			if (!known) {
				add_name(names, kids[i], &named);
				if (nseen < 4096)
					seen[nseen++] = kids[i];
				killed++;
			}
			/* kill(2): our own child, not yet reaped, so its pid is still its own (no unrelated process can
			 * be hit). A zombie ignores it. */
			kill(kids[i], SIGKILL);
		}
		/* Reap what died; their children are ours now, the next layer. */
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		if (monotonic_us() >= deadline) {
			*remaining = count_below(getpid(), 0);
			break;
		}
		usleep(500);
	}
	return killed;
}
