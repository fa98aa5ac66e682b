/* The keeper: the session's processes end even when the supervisor is SIGKILLed.
 *
 * The supervisor is the session's child subreaper (reap.c), but a subreaper that dies takes the role with it:
 * its orphans go to the next subreaper above, or init, and live on — unaudited (exec then fails ENOSYS, the
 * listener being gone, but they still write whatever Landlock lets them). A SIGKILL (the OOM killer, a user's
 * kill -9) runs none of the supervisor's code, so the supervisor cannot prevent that itself; PR_SET_PDEATHSIG
 * on the agent would reach only the first process, not a setsid'd grandchild.
 *
 * So the process the broker starts stays above the supervisor, as a child subreaper too: the keeper. It forks
 * the supervisor and only waits. While the supervisor lives, orphans of the session go to the supervisor (the
 * nearest subreaper); once it dies they come to the keeper, which ends its whole subtree the way the
 * supervisor does (reap_all: stop every member, then kill, pass after pass), tells the broker on the link's
 * socket (REAPED, docs/protocol.md) and exits as the supervisor did (its code, or the same signal).
 *
 * Out of the agent's reach: the agent is in a Landlock domain that scopes signals (ABI 6) and ptrace, and the
 * keeper is outside it; it is not dumpable (PR_SET_DUMPABLE 0, inherited from main). It keeps no descriptor
 * but the terminal's and the socket. Chosen over a cgroup (cgroup.kill) because that needs a writable,
 * delegated cgroup v2, which neither a container nor many desktops give (reap.c), and over a /proc walk by the
 * broker because nothing in /proc marks a non-root agent's processes in a way they cannot clear.
 *
 * Signals: the broker's SIGTERM and SIGHUP are for the supervisor (forwarded); SIGINT, SIGQUIT, SIGWINCH
 * and the job-control signals come from the terminal to the whole process group, the supervisor included, so
 * the keeper ignores them. The supervisor gets SIGTERM if the keeper dies (PR_SET_PDEATHSIG): a SIGKILL of
 * the keeper ends the session the ordinary way, through the supervisor. Both killed at once is beyond this. */
#include "keeper.h"
#include "reap.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static NORETURN void keep(pid_t sup, int broker, const sigset_t *mask)
{
	/* Nothing of the supervisor's but the socket (and the terminal on 0-2): the agent's pty, the record pipe
	 * and the rest are the supervisor's alone, and a copy here would keep them open after it. */
	if (broker > 3)
		syscall(SYS_close_range, 3u, (unsigned)broker - 1, 0u);
	if (broker >= 3)
		syscall(SYS_close_range, (unsigned)broker + 1, ~0u, 0u);
	prctl(PR_SET_NAME, "agent-gate-keep", 0, 0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);

	int status = 0;
	for (;;) {
		int sig;
		if (sigwait(mask, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGHUP) {
			kill(sup, sig);
			continue;
		}
		pid_t p;
		bool gone = false;
		while ((p = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
			if (p == sup) {
				gone = true;
				break;
			}
		if (gone)
			break;
	}

	/* What is left of the session below us: nothing when the supervisor ended it. */
	struct buf names = { 0 }, stuck = { 0 };
	size_t remaining = 0;
	size_t ended = reap_all(&names, &remaining, &stuck);
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (ended > 0 || sig) {
		struct buf b = { 0 };
		buf_printf(&b, "REAPED code=%d signal=%d ended=%zu remaining=%zu", WIFEXITED(status) ? WEXITSTATUS(status) : 0,
			   sig, ended - remaining, remaining);
		if (names.len)
			buf_put(&b, names.p, names.len);
		if (stuck.len) {
			buf_puts(&b, " stuck=");
			buf_hex(&b, stuck.p, stuck.len);
		}
		buf_put(&b, "\n", 1);
		send_all(broker, b.p, b.len);
		if (sig)
			fprintf(stderr, "agent-gate-supervisor: the supervisor was killed by signal %d; %zu process%s of the session ended by its keeper%s\n",
				sig, ended - remaining, ended - remaining == 1 ? "" : "es",
				remaining ? " (some could not be ended: in uninterruptible sleep)" : "");
	}
	close(broker);
	if (sig) {
		signal(sig, SIG_DFL);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		kill(getpid(), sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
}

void keeper_start(int broker)
{
	pid_t keeper = getpid();
	sigset_t mask, orig;

	/* Orphans of the session come here once the supervisor is gone (not inherited by the fork). */
	reap_init();
	/* Blocked before the fork: the supervisor's SIGCHLD (its exit) must not come before sigwait is ready. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("fork (the keeper)");
	if (pid > 0) {
		set_die_hook(NULL);
		keep(pid, broker, &mask);
	}
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != keeper)
		die("the keeper ended before the session started");
}
