/* agent-gate-supervisor: orchestration and CLI.
 *
 *   agent-gate-supervisor [--version | --print-filter] --socket PATH -- PROGRAM [ARGS…]
 *
 * 1. connect to the broker (before anything is forked), fork the keeper off (keeper.c), HELLO, read CONFIG … START;
 * 2. probe the kernel, build the Landlock ruleset, REPORT/WARN, refuse gaps the policy requires;
 * 3. fork the agent: own session on its own pty (pty.c), capabilities dropped, NO_NEW_PRIVS, Landlock, seccomp filter
 *    with a listener that comes back to us over SCM_RIGHTS; READY pid=…, and on the broker's GO the agent
 *    is released to execvp;
 * 4. the notification loop (notify.c) until the agent exits; exit with its status. */
#include "audit.h"
#include "facts.h"
#include "keeper.h"
#include "landlock.h"
#include "mountns.h"
#include "notify.h"
#include "privs.h"
#include "pty.h"
#include "reap.h"
#include "proto.h"
#include "seccomp.h"
#include "sockets.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define VERSION "0.1.0"

static int g_broker = -1;
static bool g_mountns;                /* the agent gets a mount namespace of its own (mountns.c) */
static const struct config *g_cfg;    /* the broker's CONFIG, for the agent's set-up */
static bool g_started;
static struct session g_session = {
	.listener = -1, .broker = -1, .records = -1, .sigfd = -1, .agent = 0,
};
static struct buf g_warnings;

/* die() during the handshake tells the broker why (FATAL); after the fork it also stops the agent. */
static void on_die(const char *msg)
{
	if (g_broker >= 0 && !g_started) {
		struct buf b = { 0 };
		buf_puts(&b, "FATAL msg=");
		buf_hex(&b, msg, strlen(msg));
		buf_put(&b, "\n", 1);
		proto_send(g_broker, &b);
	}
	session_kill_agent(&g_session);
	pty_restore();
}

static void send_or_die(struct buf *b)
{
	if (proto_send(g_broker, b) < 0)
		die_errno("writing to the broker");
	b->len = 0;
}

static void collect_warning(const char *msg)
{
	buf_puts(&g_warnings, "WARN msg=");
	buf_hex(&g_warnings, msg, strlen(msg));
	buf_put(&g_warnings, "\n", 1);
}

/* The record pipe (docs/protocol.md, "Record pipe"): a FIFO next to the socket, made before we connect so
 * the broker can open its read end before it removes the directory. Cached decision records go through it
 * so that the broker drains them in batches instead of waking once per exec. We hold a reader of our own
 * only until the broker says (RECORDS in CONFIG) that it has one: from then on, a broker that goes away
 * makes our next write fail (EPIPE) and the session fail closed. Any failure here just means no pipe: the
 * records then go over the socket. */
static int g_records_reader = -1, g_records = -1;

static void make_record_pipe(const char *socket_path)
{
	char path[4096];
	const char *slash = strrchr(socket_path, '/');
	size_t dir = slash ? (size_t)(slash - socket_path) : 0;

	if (!slash || dir + sizeof("/records") > sizeof(path))
		return;
	memcpy(path, socket_path, dir);
	strcpy(path + dir, "/records");
	if (mkfifo(path, 0600) < 0) {
		debug("mkfifo %s: %s", path, strerror(errno));
		return;
	}
	g_records_reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	g_records = g_records_reader < 0 ? -1 : open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (g_records < 0) {
		debug("opening the record pipe: %s", strerror(errno));
		if (g_records_reader >= 0)
			close(g_records_reader);
		g_records_reader = -1;
		unlink(path);
		return;
	}
	/* Blocking writes: a full pipe makes the agent wait for the broker (back-pressure), never drops. */
	fcntl(g_records, F_SETFL, 0);
	/* fcntl(2) F_SETPIPE_SZ: up to /proc/sys/fs/pipe-max-size (1 MiB by default) without privileges; ~4000
	 * records. Smaller is fine, only less slack. */
	for (int size = 1 << 20; size >= 1 << 16; size >>= 2)
		if (fcntl(g_records, F_SETPIPE_SZ, size) >= 0)
			break;
}

static int connect_broker(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path))
		die("socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die_errno("cannot connect to the broker at %s", path);
	return fd;
}

/* Child → supervisor: one message, either 'L' with the listener fd (SCM_RIGHTS), or 'E' + error text. */
static void send_listener(int sock, int listener)
{
	char byte = 'L';
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener, sizeof(int));
	/* sendmsg(2)/unix(7) SCM_RIGHTS: the supervisor gets its own reference to the listener. */
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		_exit(EXIT_GATE_FAILURE);
}

static NORETURN PRINTF_LIKE(2, 3) void child_fail(int sock, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	msg[0] = 'E';
	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (send(sock, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		_exit(EXIT_GATE_FAILURE);
	_exit(EXIT_GATE_FAILURE);
}

static int receive_listener(int sock, pid_t child, char *err, size_t errlen)
{
	char data[512];
	struct iovec iov = { data, sizeof(data) - 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		snprintf(err, errlen, "the agent process died before installing the gate");
		return -1;
	}
	if (data[0] == 'E') {
		data[n] = '\0';
		snprintf(err, errlen, "%s", data + 1);
		return -1;
	}
	if (data[0] == 'P') {
		/* The child says which descriptor the listener is: take our own reference (pidfd_getfd(2), close-on-exec). */
		data[n] = '\0';
		int theirs = atoi(data + 1);
		AUTOCLOSE int pfd = (int)syscall(SYS_pidfd_open, child, 0);
		int fd = pfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pfd, theirs, 0);
		if (fd < 0)
			snprintf(err, errlen, "cannot take the listener from the agent process: %s", strerror(errno));
		return fd;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		snprintf(err, errlen, "no listener fd received from the agent process");
		return -1;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The agent side of the fork. Nothing here may return.
 *
 * Syscalls made after the filter is installed and before execve: sendmsg (or, when the filter notifies sendmsg,
 * prctl and write), close, read (waiting for GO), prctl, execve (execvp's PATH walk, each attempt notified and
 * answered by the supervisor), write/_exit on failure. None of them is notified but execve itself, which is
 * exactly the first gated exec — the supervisor is already receiving by then, so nothing can trap itself or
 * deadlock. */
static NORETURN void run_agent(int sock, const struct landlock_plan *plan, const struct seccomp_program *filter,
			       bool killable, const sigset_t *mask, char **argv, char **env, bool filter_notifies_sendmsg)
{
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	signal(SIGTTIN, SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* A session of its own (and so a process group of its own), on its own pty when we have a terminal. */
	pty_child();
	close(g_broker);
	close(g_session.sigfd);
	/* Every descriptor but 0, 1 and 2 (each the agent's own pty when it was the user's terminal) is closed
	 * when the agent execs: whatever the launcher leaked to us (libuv passes any descriptor without
	 * close-on-exec, and VS Code's extension host, a shell's `3<>` or a tool harness leak some) may lead out of
	 * the gate: a socket connected to a daemon, the broker's pipes, the user's terminal, a directory outside
	 * the grants (Landlock checks paths at open, not what is already open). close_range(2) CLOSE_RANGE_CLOEXEC
	 * (5.11) keeps our socket to the supervisor usable until then; before 5.11, one fcntl per descriptor. */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		struct rlimit rl;
		int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (int)rl.rlim_cur : 1 << 20;
		for (int fd = 3; fd < max; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}

	/* A root agent: a mount namespace of its own (/proc scoped to the session, protected files read-only). */
	if (g_mountns) {
		char merr[PATH_MAX + 128];
		if (mountns_setup(g_cfg, plan, merr, sizeof(merr)) < 0)
			child_fail(sock, "%s", merr);
	}
	int perr = privs_drop();
	if (perr < 0)
		child_fail(sock, "dropping capabilities: %s", strerror(-perr));
	/* prctl(2) PR_SET_NO_NEW_PRIVS: required for an unprivileged seccomp filter and Landlock; setuid
	 * binaries (sudo) no longer gain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(sock, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	if (landlock_enter(plan) < 0)
		child_fail(sock, "landlock_restrict_self: %s", strerror(errno));
	int listener = seccomp_install(filter, killable);
	if (listener == -EBUSY)
		child_fail(sock, "cannot install the exec gate: seccomp says EBUSY, another seccomp listener already "
				 "watches this process (a gate inside a gate, or WSL2's init); refusing to run ungated");
	if (listener < 0)
		child_fail(sock, "cannot install the seccomp filter: %s", strerror(-listener));
	if (filter_notifies_sendmsg) {
		/* sendmsg(2) is notified in this session (DNS under a sealed network): handing the listener over with
		 * SCM_RIGHTS would wait for the supervisor's answer, which needs the listener. Say which descriptor
		 * it is instead (write(2) is not notified), and the supervisor takes it with pidfd_getfd(2); that needs
		 * ptrace access to us, so we are dumpable from here on (as we are after GO anyway). */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "P%d", listener);
		if (write(sock, msg, (size_t)n) != n)
			_exit(EXIT_GATE_FAILURE);
	} else {
		send_listener(sock, listener);
		close(listener);
	}
	/* Wait for the supervisor's word (the broker's GO). EOF: the supervisor is gone or gave up: run nothing. */
	char go;
	ssize_t r;
	do
		r = read(sock, &go, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1 || go != 'G')
		_exit(EXIT_GATE_FAILURE);
	close(sock);
	if (filter_notifies_sendmsg)
		close(listener);
	/* prctl(2): we inherited the supervisor's PR_SET_DUMPABLE 0; without undoing it an unprivileged
	 * supervisor could not read this very first exec's path and argv (process_vm_readv and /proc/<pid>/mem
	 * need ptrace access). Done only now that the listener and the broker socket are closed. execve resets
	 * dumpability anyway. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	/* execvp searches the agent's PATH (an [env] set of PATH applies to the search too). */
	environ = env;
	execvp(argv[0], argv);
	int e = errno;
	dprintf(STDERR_FILENO, "agent-gate: cannot run %s: %s\n", argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : EXIT_GATE_FAILURE);
}

/* HELLO's env=: the names of our environment (the agent's, unless the broker's CONFIG changes it), raw bytes
 * NUL-separated, in hex. Names only: values never leave this process. An entry without '=' is all name. */
static void hello_env_names(struct buf *b)
{
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		if (e != environ)
			buf_hex(b, "", 1);
		buf_hex(b, *e, n);
	}
}

static bool name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && (entry[n] == '=' || entry[n] == '\0');
}

/* The agent's environment: ours without the ENV_UNSET names and without the names ENV_SET replaces, then the
 * ENV_SET entries ([env] in the policy; the broker decided, docs/protocol.md). */
static char **agent_environ(const struct config *c)
{
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **out = xmalloc((n + c->nenv_set + 1) * sizeof(char *));
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		bool drop = false;
		for (size_t i = 0; i < c->nenv_unset && !drop; i++)
			drop = name_is(*e, c->env_unset[i]);
		for (size_t i = 0; i < c->nenv_set && !drop; i++) {
			size_t len = (size_t)(strchr(c->env_set[i], '=') - c->env_set[i]);
			drop = strncmp(*e, c->env_set[i], len + 1) == 0;
		}
		if (!drop)
			out[k++] = *e;
	}
	for (size_t i = 0; i < c->nenv_set; i++)
		out[k++] = c->env_set[i];
	out[k] = NULL;
	return out;
}

/* The supervisor's effective capabilities (the agent keeps at most these, of privs_kept()). */
static uint64_t effective_caps(void)
{
	char status[4096];
	const char *p;

	if (read_small_file(AT_FDCWD, "/proc/self/status", status, sizeof(status)) < 0 ||
	    !(p = strstr(status, "\nCapEff:")))
		return 0;
	return strtoull(p + 8, NULL, 16);
}

/* What an inherited descriptor is, when it leads out of the gate: a socket or a terminal. NULL otherwise. */
static const char *leads_out(int fd, char *tty, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	if (S_ISSOCK(st.st_mode))
		return "a socket";
	if (isatty(fd) && ttyname_r(fd, tty, len) == 0)
		return tty;
	return isatty(fd) ? "a terminal" : NULL;
}

/* Descriptors above 2 that we were started with are never passed to the agent (run_agent closes them on
 * exec). Those that lead somewhere (a socket, a terminal) are named in one warning, so that a launcher that
 * leaks them is found. */
static void report_inherited(void)
{
	char msg[512], tty[128];
	size_t len = 0;
	int n = 0;
	for (int fd = 3; fd < 1024; fd++) {
		const char *what = leads_out(fd, tty, sizeof(tty));
		if (!what || len >= sizeof(msg) - 64)
			continue;
		if (n++ == 0)
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "descriptors inherited from the launcher are not passed to the agent:");
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s %d (%s)", n > 1 ? "," : "", fd, what);
	}
	if (n)
		collect_warning(msg);
}

/* What the supervisor does about sockets (sockets.c), the filter's parts it needs (when), and the REPORT's
 * unix= value. */
static const char *plan_sockets(const struct config *c, const struct landlock_plan *plan, unsigned *when)
{
	bool diag = false;
	const char *missing = sockets_probe(&diag);
	struct sockets_mode m = { .net_sealed = c->net_handled_set, .unix_sealed = c->unix_sealed, .diag = diag };
	m.loop_sealed = !missing && c->loopback_sealed;
	m.mediated = !missing && (m.net_sealed || m.loop_sealed || (c->unix_sealed && !plan->unix_landlock));
	if (m.mediated)
		*when |= SC_WHEN_SOCKETS_MEDIATED;
	if (m.net_sealed)
		*when |= SC_WHEN_NET_SEALED;
	if (m.net_sealed && m.mediated && c->ndns)
		*when |= SC_WHEN_NET_DNS;
	if (m.mediated && c->unix_sealed)
		*when |= SC_WHEN_NO_UNIX_DGRAM;
	/* Clients from outside the gate never reach the agent's listeners (sockets.c, accept): whenever unix
	 * sockets are sealed and we can take the agent's socket (also with Landlock's RESOLVE_UNIX). */
	if (!missing && (c->unix_sealed || m.loop_sealed))
		*when |= SC_WHEN_ACCEPT_CHECKED;
	if (m.loop_sealed)
		*when |= SC_WHEN_LOOPBACK_SEALED;
	if (m.loop_sealed || (*when & SC_WHEN_NET_DNS))
		*when |= SC_WHEN_SENDS_MEDIATED;
	if (m.loop_sealed && !m.net_sealed)
		*when |= SC_WHEN_FAMILIES_CHECKED;
	g_session.sockets = m;
	char msg[256];
	if (missing && (m.net_sealed || c->unix_sealed || c->loopback_sealed)) {
		snprintf(msg, sizeof(msg), "the kernel lacks %s: connect(2) cannot be mediated, so %s", missing,
			 m.net_sealed ? "UDP is refused and listen(2) is not checked"
			 : c->unix_sealed ? "unix sockets and services on this host are not sealed"
					  : "services on this host are not sealed");
		collect_warning(msg);
	}
	if (m.mediated && c->unix_sealed && !diag)
		collect_warning("the kernel lacks unix sock_diag (CONFIG_UNIX_DIAG): the agent's own unix sockets cannot "
				"be recognised, so they are refused too unless [unix_sockets] allow names them");
	if (!c->unix_sealed)
		return "off";
	if (m.mediated)
		return diag ? "mediated" : "partial";
	return plan->unix_landlock ? "landlock" : "unsupported";
}

static void usage(void)
{
	fprintf(stderr, "usage: agent-gate-supervisor [--version | --print-filter] --socket PATH -- PROGRAM [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("agent-gate-supervisor %s protocol %d\n", VERSION, PROTO_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--print-filter") == 0) {
			seccomp_print_table(stdout);
			return 0;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			usage();
		}
	}
	if (!socket_path || i >= argc)
		usage();
	char **agent_argv = argv + i;
	const char *dbg = getenv("AGENT_GATE_DEBUG");
	g_debug = dbg && strcmp(dbg, "1") == 0;
	set_die_hook(on_die);
	signal(SIGPIPE, SIG_IGN);
	/* prctl(2) PR_SET_DUMPABLE 0: no ptrace, /proc/<pid>/mem or core dump of the supervisor by same-uid
	 * processes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_DUMPABLE)");

	report_inherited(); /* before we open anything ourselves */
	/* The link's secret (docs/protocol.md, AUTH): the broker accepts only a peer that knows it. Out of our
	 * environment at once, so neither HELLO's names nor the agent ever see it. */
	char token[72] = "";
	const char *tok = getenv("AGENT_GATE_LINK_TOKEN");
	if (tok && strlen(tok) < sizeof(token))
		strcpy(token, tok);
	unsetenv("AGENT_GATE_LINK_TOKEN");

	make_record_pipe(socket_path);
	g_broker = connect_broker(socket_path);
	g_session.broker = g_broker;
	struct line_reader rd;
	lr_init(&rd, g_broker);
	if (token[0]) {
		struct buf a = { 0 };
		buf_printf(&a, "AUTH token=%s\n", token);
		send_or_die(&a);
		explicit_bzero(token, sizeof(token));
		explicit_bzero(a.p, a.cap);
		buf_free(&a);
	}
	/* From here on the process the broker started is the keeper, and the supervisor its child (keeper.c): the
	 * session's processes end even if the supervisor is SIGKILLed. */
	keeper_start(g_broker);

	struct seccomp_support sc;
	seccomp_probe(&sc);
	const char *nokill = getenv("AGENT_GATE_NO_WAIT_KILLABLE");
	if (nokill && strcmp(nokill, "1") == 0)
		sc.killable = false; /* behave as on a kernel before 5.19 (tests the idempotency paths) */
	/* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP is opt-in: it pulls the supervisor and the answered target onto one
	 * CPU, which measured neutral for serial exec loops and ~4% slower for `make -j2` (native/README.md). */
	const char *sync = getenv("AGENT_GATE_SYNC_WAKEUP");
	if (!sync || strcmp(sync, "1") != 0)
		sc.sync_wakeup = false;
	int abi = landlock_probe_abi();
	struct buf b = { 0 };
	/* pid: the process the broker started and the socket's peer (the keeper, our parent; supervisor= is us). */
	buf_printf(&b, "HELLO %d pid=%d supervisor=%d abi=%d notif=%d killable=%d env=", PROTO_VERSION, (int)getppid(), (int)getpid(), abi,
		   sc.notif && !sc.ebusy, sc.killable);
	hello_env_names(&b);
	buf_put(&b, "\n", 1);
	send_or_die(&b);

	static struct config cfg;
	proto_read_config(&rd, &cfg);

	if (g_records_reader >= 0) {
		close(g_records_reader);
		g_records_reader = -1;
	}
	if (g_records >= 0 && !cfg.records) {
		close(g_records);
		g_records = -1;
	}
	g_session.records = g_records;
	facts_init();
	/* The audit log, when the broker hands it over (AUDIT): opened, repaired and reserved before the agent
	 * exists, so a log that cannot be written stops the session here (FATAL), not mid-way. */
	if (cfg.audit.path)
		audit_open(&cfg.audit, collect_warning);
	/* The agent's own terminal, and only it granted (read, write, ioctl) when Landlock seals files. */
	if (pty_open(collect_warning) && cfg.fs_handled_set) {
		cfg.grants = xrealloc(cfg.grants, (cfg.ngrants + 1) * sizeof(*cfg.grants));
		cfg.grants[cfg.ngrants++] = (struct grant){ .rights = "rw", .path = xstrndup(pty_slave_path(), 64) };
	}
	struct landlock_plan plan;
	landlock_build(&cfg, abi, &plan, collect_warning);
	g_cfg = &cfg;
	g_mountns = mountns_possible();
	unsigned when = plan.seal_truncate && plan.ruleset_fd >= 0 ? SC_WHEN_WRITES_SEALED : 0;
	if (plan.seal_exec && plan.ruleset_fd >= 0)
		when |= SC_WHEN_EXEC_SEALED;
	const char *unix_state = plan_sockets(&cfg, &plan, &when);
	struct seccomp_program *filter = seccomp_program_new(when);
	buf_printf(&b,
		   "REPORT landlock_abi=%d fs=%s net=%s scope_signal=%s scope_abstract_unix=%s notif=%s "
		   "wait_killable=%d sync_wakeup=%d io_uring=denied truncate=%s memfd=%s arch=x86_64 filter_insns=%zu "
		   "devices=%s sockets=%s accept=%s caps=%#llx audit=%s unix=%s net_filter=%s dns=%s proc=%s protect=%s metadata=%s "
		   "loopback=%s\n",
		   abi, plan.fs, plan.net, plan.scope_signal, plan.scope_unix,
		   !sc.notif ? "unsupported" : sc.ebusy ? "ebusy" : "ok", sc.killable, sc.sync_wakeup,
		   when & SC_WHEN_WRITES_SEALED ? "sealed" : "off", when & SC_WHEN_EXEC_SEALED ? "noexec" : "any",
		   filter->len, plan.devices, plan.sockets, when & SC_WHEN_ACCEPT_CHECKED ? "session" : "any", (unsigned long long)(privs_kept() & effective_caps()), audit_state(),
		   unix_state, when & SC_WHEN_NET_SEALED ? "sealed" : "off", when & SC_WHEN_NET_DNS ? "resolvers" : "off",
		   g_mountns ? "session" : "shared", g_mountns && cfg.nprotect ? "readonly" : "detect",
		   when & SC_WHEN_WRITES_SEALED ? "mediated" : "owner",
		   when & SC_WHEN_LOOPBACK_SEALED ? "sealed" : cfg.loopback_sealed ? "unsupported" : "off");
	send_or_die(&b);
	if (g_warnings.len)
		send_or_die(&g_warnings);

	if (!sc.notif)
		die("this kernel lacks seccomp user notification (SECCOMP_RET_USER_NOTIF, Linux 5.0+); "
		    "refusing to run ungated");
	if (sc.ebusy)
		die("cannot install the exec gate: seccomp says EBUSY, another seccomp listener already watches this "
		    "process (a gate inside a gate, or WSL2's init); refusing to run ungated");
	if (cfg.require_fs && strcmp(plan.fs, "enforced") != 0)
		die("the policy requires filesystem enforcement but the kernel lacks %s (filesystem sealing is %s)",
		    plan.fs_gap ? plan.fs_gap : "it", plan.fs);
	if (cfg.require_net && strcmp(plan.net, "enforced") != 0)
		die("the policy requires network enforcement but the kernel lacks %s (network sealing is %s)",
		    plan.net_gap ? plan.net_gap : "it", plan.net);
	if (cfg.require_unix && strcmp(unix_state, "mediated") != 0 && strcmp(unix_state, "landlock") != 0)
		die("the policy requires unix sockets to be sealed but the kernel lacks pidfd_getfd (Linux 5.6) and unix "
		    "sock_diag (CONFIG_UNIX_DIAG), or Landlock's RESOLVE_UNIX (ABI 9) (unix socket sealing is %s)",
		    unix_state);

	/* Signals we forward or wait for arrive through a signalfd(2), so the loop is one poll. */
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGCONT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	g_session.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (g_session.sigfd < 0)
		die_errno("signalfd");
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);

	char **agent_env = agent_environ(&cfg);
	if (cfg.argv)
		agent_argv = cfg.argv; /* ARGV: the command line's exact bytes (ours may have been re-encoded) */
	/* Everything the agent starts stays in our subtree, however it detaches (reap.c). */
	reap_init();
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		die_errno("socketpair");

	pid_t pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		close(sp[0]);
		run_agent(sp[1], &plan, filter, sc.killable, &old, agent_argv, agent_env, (when & SC_WHEN_SENDS_MEDIATED) != 0);
	}
	close(sp[1]);
	if (plan.ruleset_fd >= 0)
		close(plan.ruleset_fd);
	g_session.agent = pid;

	char err[512];
	int listener = receive_listener(sp[0], pid, err, sizeof(err));
	if (listener < 0)
		die("%s", err);
	g_session.listener = listener;
	/* Asked for, and the probe said the kernel takes it; failing now would only cost speed, not a guarantee. */
	if (sc.sync_wakeup && seccomp_set_sync_wakeup(listener) < 0)
		debug("SECCOMP_IOCTL_NOTIF_SET_FLAGS: %s", strerror(errno));
	g_session.killable = sc.killable;
	g_session.cfg = &cfg;
	g_session.rd = &rd;

	/* READY, then wait for GO. The agent exists, inside the gate, but waits for our word before it runs
	 * anything: the broker finishes its own start (the session record, its callers' set-up) first, so the
	 * agent's first exec finds it idle rather than queued behind that work. */
	buf_printf(&b, "READY pid=%d\n", (int)pid);
	send_or_die(&b);
	for (;;) {
		/* The broker's start record (LOG) comes before GO when we write the audit log. */
		char *line = lr_read_line(&rd);
		char *cursor;
		if (!line)
			die("the broker closed the connection during the handshake");
		const char *type = proto_type(line, &cursor);
		if (strcmp(type, "LOG") == 0) {
			char why[PATH_MAX + 128];
			if (session_log(cursor, why, sizeof(why)) < 0)
				die("%s", why);
			continue;
		}
		if (strcmp(type, "GO") != 0)
			die("protocol error: expected GO, got %s", type);
		break;
	}
	if (write(sp[0], "G", 1) != 1)
		die_errno("releasing the agent");
	/* The user's terminal goes raw, the relay starts (the agent's first output waits in the pty meanwhile). */
	pty_start();
	close(sp[0]);

	buf_printf(&b, "STARTED pid=%d\n", (int)pid);
	send_or_die(&b);
	g_started = true;
	audit_set_warn(notify_warn); /* from now on a warning about the log goes to the broker at once */
	debug("agent %d started (landlock abi %d, killable %d)", (int)pid, abi, sc.killable);
	return notify_loop(&g_session);
}
