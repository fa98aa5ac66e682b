/* Every process of the session ends with it.
 *
 * The supervisor is the session's child subreaper (PR_SET_CHILD_SUBREAPER, prctl(2)): a process of the
 * session whose parent exits is reparented to us, not to init, however it got there (setsid, a double fork,
 * a daemon). Nothing the agent starts can leave our subtree, so when the agent exits, our descendants are
 * exactly what is left of the session.
 *
 * They are ended as a whole, not one layer per pass (red-team R88: a chain that deepened faster than layers
 * were killed outlived a 5 s deadline and wrote .git/config once the guard had stopped). Each pass reads every
 * process's parent from /proc/<pid>/stat and walks the tree down from us; first every member is sent SIGSTOP
 * (a stopped process cannot fork, nor reap a child, so the tree below it holds still), pass after pass until
 * one finds no new member; then every member gets SIGKILL, we reap, and start over until no descendant is
 * left. There is no deadline while a member can still be ended: only processes in uninterruptible sleep (D,
 * read from /proc) for STUCK_MS stop it, and they are reported as such — SIGKILL stays pending on them, so
 * none can run its own code again.
 *
 * A pid can be reused (pid_max may be 32768; a forking agent wraps it in seconds), so a number read from
 * /proc is never signalled as is: the process is pinned with pidfd_open(2), its stat read again, and it is a
 * member only if, after that read, it is still alive (so the stat was its own) and its parent is a member
 * still alive (so the parent number was that member's). Signals go through the pidfd. Members are counted
 * once each by (pid, start time).
 *
 * Chosen over a cgroup v2 (cgroup.kill, Linux 5.14) as the mechanism: that needs a writable, delegated
 * cgroup, which an ordinary user seldom has outside systemd's user manager; this needs no privilege and no
 * setup, and covers the same set (our subtree is the session).
 *
 * With keep_leftovers the session's processes are counted and left running, and the session goes on until
 * the last one exits (notify.c: we stay their subreaper and their gate; red-team R54). */
#include "reap.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

/* How long every remaining member may sit in uninterruptible sleep before the reap says they cannot be ended. */
#define STUCK_MS 3000

void reap_init(void)
{
	/* prctl(2) PR_SET_CHILD_SUBREAPER: orphans of the session come to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_CHILD_SUBREAPER)");
}

/* One process as /proc/<pid>/stat shows it. */
struct pstat {
	pid_t pid, ppid;
	char state;
	unsigned long long start;
};

/* stat(5): "pid (comm) state ppid … starttime(22nd field)"; comm may hold spaces and parentheses, so the
 * fields are read after its last ')'. */
static bool read_stat(pid_t pid, struct pstat *st)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return false;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return false;
	p += 2;
	st->pid = pid;
	st->state = *p;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	 * priority nice num_threads itrealvalue starttime */
	int field = 3;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 4)
			st->ppid = (pid_t)strtol(tok, NULL, 10);
		else if (field == 20 && st->state == 'Z' && strtol(tok, NULL, 10) > 1)
			st->state = 'R'; /* its main thread exited, the others run on: alive */
		else if (field == 22) {
			st->start = strtoull(tok, NULL, 10);
			return true;
		}
	}
	return false;
}

/* Every process on the system with its parent: the candidates a pass walks. */
struct snapshot {
	struct pstat *v;
	size_t n, cap;
};

static int by_ppid(const void *a, const void *b)
{
	pid_t x = ((const struct pstat *)a)->ppid, y = ((const struct pstat *)b)->ppid;
	return x < y ? -1 : x > y;
}

static void take_snapshot(struct snapshot *s)
{
	s->n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		struct pstat st;
		if (!read_stat((pid_t)pid, &st))
			continue; /* gone meanwhile */
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 1024;
			s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
		}
		s->v[s->n++] = st;
	}
	closedir(d);
	qsort(s->v, s->n, sizeof(*s->v), by_ppid);
}

/* The first index of the snapshot (sorted by parent) whose parent is ppid. */
static size_t first_child(const struct snapshot *s, pid_t ppid)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid].ppid < ppid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The members one pass found: each pinned by a pidfd (-1 where the kernel has no pidfd_open: then the pid
 * itself, the window of a reuse between our read and the signal left open). */
struct member {
	struct pstat st;
	int fd;
};
struct tree {
	struct member *v;
	size_t n, cap;
};

static int signal_member(const struct member *m, int sig)
{
	if (m->fd >= 0)
		return (int)syscall(__NR_pidfd_send_signal, m->fd, sig, NULL, 0);
	return kill(m->st.pid, sig);
}

static void tree_clear(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].fd >= 0)
			close(t->v[i].fd);
	t->n = 0;
}

/* Walk the snapshot down from us: a candidate whose parent is a member is pinned, read again, and kept if
 * it still is that member's child (see the top of the file). Breadth first, so every member's parent is
 * pinned before it. */
static void find_tree(const struct snapshot *s, struct tree *t)
{
	static bool no_pidfd;
	pid_t self = getpid();

	tree_clear(t);
	/* Index -1 stands for us: never signalled, always alive. */
	for (ssize_t parent = -1; parent < (ssize_t)t->n; parent++) {
		pid_t ppid = parent < 0 ? self : t->v[parent].st.pid;
		for (size_t i = first_child(s, ppid); i < s->n && s->v[i].ppid == ppid; i++) {
			pid_t pid = s->v[i].pid;
			int fd = -1;
			if (!no_pidfd) {
				fd = (int)syscall(__NR_pidfd_open, pid, 0);
				if (fd < 0 && errno == ENOSYS)
					no_pidfd = true;
				else if (fd < 0)
					continue; /* gone (ESRCH), or no descriptor left: the next pass tries again */
			}
			struct pstat now;
			bool ok = read_stat(pid, &now) && now.ppid == ppid && now.start == s->v[i].start;
			/* Alive after the read: the stat was the pinned process's own, and the parent number its
			 * member's (a live parent keeps its number). */
			if (ok && fd >= 0)
				ok = syscall(__NR_pidfd_send_signal, fd, 0, NULL, 0) == 0;
			if (ok && parent >= 0)
				ok = signal_member(&t->v[parent], 0) == 0;
			if (!ok) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			if (t->n == t->cap) {
				t->cap = t->cap ? t->cap * 2 : 256;
				t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
			}
			t->v[t->n++] = (struct member){ .st = now, .fd = fd };
		}
	}
}

/* The processes counted so far, by (pid, start time): a reused pid is a new process. Open addressing. */
struct seen {
	struct pstat *v; /* pid 0: a free slot */
	size_t n, cap;
};

static size_t seen_slot(const struct seen *s, const struct pstat *st)
{
	size_t h = ((size_t)st->pid * 0x9e3779b97f4a7c15ull ^ (size_t)st->start * 0xff51afd7ed558ccdull) & (s->cap - 1);
	while (s->v[h].pid && !(s->v[h].pid == st->pid && s->v[h].start == st->start))
		h = (h + 1) & (s->cap - 1);
	return h;
}

static bool seen_add(struct seen *s, const struct pstat *st)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct seen bigger = { .v = xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(*s->v)), .cap = s->cap ? s->cap * 2 : 1024 };
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i].pid)
				bigger.v[seen_slot(&bigger, &s->v[i])] = s->v[i];
		bigger.n = s->n;
		free(s->v);
		*s = bigger;
	}
	size_t h = seen_slot(s, st);
	if (s->v[h].pid)
		return false;
	s->v[h] = *st;
	s->n++;
	return true;
}

/* " leftover=<hex comm>" for the first 20 distinct names. */
static void add_name(struct buf *names, pid_t pid, size_t *named)
{
	char path[64], comm[64];

	if (!names || *named >= 20)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small_file(AT_FDCWD, path, comm, sizeof(comm)) <= 0)
		return;
	comm[strcspn(comm, "\n")] = '\0';
	struct buf one = { 0 };
	buf_puts(&one, " leftover=");
	buf_hex(&one, comm, strlen(comm));
	bool dup = false;
	for (const char *p = names->p; p && !dup && (p = memmem(p, names->len - (size_t)(p - names->p), one.p, one.len));
	     p += one.len)
		dup = p + one.len == names->p + names->len || p[one.len] == ' ';
	if (!dup) {
		buf_put(names, one.p, one.len);
		(*named)++;
	}
	buf_free(&one);
}

/* Count the new members of t (zombies have already ended: not counted), naming them. */
static size_t count_new(const struct tree *t, struct seen *seen, struct buf *names, size_t *named)
{
	size_t added = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].st.state != 'Z' && t->v[i].st.state != 'X' && seen_add(seen, &t->v[i].st)) {
			add_name(names, t->v[i].st.pid, named);
			added++;
		}
	return added;
}

static struct snapshot snap;
static struct tree tree;

size_t reap_count(struct buf *names)
{
	struct seen seen = { 0 };
	size_t named = 0;

	take_snapshot(&snap);
	find_tree(&snap, &tree);
	size_t n = count_new(&tree, &seen, names, &named);
	tree_clear(&tree);
	free(seen.v);
	return n;
}

/* Reap what died (ours: our children, and the orphans of the dead that came to us). True when we have no
 * child left at all: then, as their subreaper, no descendant either. */
static bool reap_children(void)
{
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG | __WALL);
		if (p > 0)
			continue;
		return p < 0 && errno == ECHILD;
	}
}

size_t reap_all(struct buf *names, size_t *remaining, struct buf *stuck)
{
	struct seen seen = { 0 };
	size_t named = 0;
	uint64_t stuck_since = 0;

	*remaining = 0;
	/* A member may be pinned by a descriptor for the length of a pass: as many as the hard limit allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	while (!reap_children()) {
		/* Freeze: stop every member, again until a pass finds none it had not seen (what forked between our
		 * read and its stop is found by the next pass, stopped in turn). A member continued by another
		 * (SIGCONT) is stopped again. */
		for (int round = 0, quiet = 0; round < 1000; round++) {
			take_snapshot(&snap);
			find_tree(&snap, &tree);
			size_t added = count_new(&tree, &seen, names, &named);
			bool running = false;
			for (size_t i = 0; i < tree.n; i++) {
				char st = tree.v[i].st.state;
				if (st != 'T' && st != 't' && st != 'Z' && st != 'X') {
					running = true;
					signal_member(&tree.v[i], SIGSTOP);
				}
			}
			/* Done when no pass finds anything new and all are stopped; a member that does not stop (in
			 * the kernel: a vfork parent, a D sleep) has its SIGSTOP pending, a few quiet passes do. */
			quiet = added ? 0 : quiet + 1;
			if (quiet && (!running || quiet >= 3))
				break;
			if (!added)
				sched_yield(); /* let the stops land */
		}
		/* Kill: every member of the last pass, still pinned; then the next pass finds what is left. */
		bool all_stuck = tree.n > 0;
		size_t alive = 0;
		for (size_t i = 0; i < tree.n; i++) {
			char st = tree.v[i].st.state;
			if (st == 'Z' || st == 'X')
				continue;
			alive++;
			if (st != 'D')
				all_stuck = false;
			signal_member(&tree.v[i], SIGKILL);
		}
		if (alive == 0)
			all_stuck = false;
		if (reap_children())
			break;
		if (!all_stuck) {
			stuck_since = 0;
		} else if (!stuck_since) {
			stuck_since = monotonic_us();
		} else if (monotonic_us() - stuck_since >= (uint64_t)STUCK_MS * 1000u) {
			/* Every one left has been in uninterruptible sleep all this time: say which, and stop. */
			*remaining = alive;
			for (size_t i = 0, told = 0; i < tree.n && stuck && told < 10; i++) {
				char path[64], wchan[64] = "";
				if (tree.v[i].st.state != 'D')
					continue;
				snprintf(path, sizeof(path), "/proc/%d/wchan", (int)tree.v[i].st.pid);
				if (read_small_file(AT_FDCWD, path, wchan, sizeof(wchan)) < 0)
					wchan[0] = '\0';
				buf_printf(stuck, "%spid %d in %s", told ? ", " : "", (int)tree.v[i].st.pid,
					   wchan[0] && strcmp(wchan, "0") != 0 ? wchan : "the kernel");
				told++;
			}
			break;
		}
		/* What was killed needs a moment to exit and be reparented to us. */
		usleep(alive ? 1000 : 200);
	}
	tree_clear(&tree);
	size_t n = seen.n;
	free(seen.v);
	return n;
}
