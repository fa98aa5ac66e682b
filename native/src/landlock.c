/* Landlock ruleset built from the FS/NET lines of the CONFIG block (landlock(7)).
 *
 * Handled rights per ABI: 1 base fs rights, 2 REFER, 4 TCP bind/connect, 5 IOCTL_DEV, 6 scoping of signals
 * and abstract unix sockets. Adding a rule for a right the ruleset does not handle, or a directory-only right
 * on a file, is EINVAL, so every rule is masked by both.
 *
 * TRUNCATE (ABI 3) is deliberately not handled. Landlock checks it, as an optional right, on every open(2) —
 * of any file or directory, read-only included — and the check walks the path up to the root: on this
 * project's VM that was 10% of `find /usr`'s wall time (native/README.md). The ways to truncate a file that
 * WRITE_FILE does not already cover are taken by the seccomp filter instead (seccomp.c, `seal_truncate`):
 * truncate(2) goes to the supervisor, which truncates only inside the write grants (facts.c facts_truncate),
 * and open(2), openat(2) and open_by_handle_at(2) with O_TRUNC but without write access are refused.
 * ftruncate(2), creat(2) and open with O_WRONLY/O_RDWR | O_TRUNC need a file opened for writing, which
 * WRITE_FILE seals.
 *
 * Sockets and FIFOs (red-team R31: the agent replaced the user's ssh-agent socket in /tmp with its own, and
 * `ssh-add` outside the gate sent it a key). Whoever connects to a socket, or opens a FIFO, by a path in a
 * directory the agent may write could be reaching the agent. So MAKE_SOCK and MAKE_FIFO are handled whenever
 * the domain handles anything of the filesystem, and granted in one directory only: the session's own ('s',
 * the broker makes it where the agent cannot write its parent, and points TMPDIR at it). Every way to put a
 * socket or FIFO at a path needs that right on the destination directory — bind(2) and mknod(2) make one,
 * rename(2) and link(2) of one check MAKE_SOCK/MAKE_FIFO there (landlock(7)) — but one: moving a *directory*
 * that holds one. Landlock allows that when the directory gains no right by the move (the destination's rights
 * are a subset of the source's), so a directory under the socket directory could be moved to /tmp with a
 * listening socket in it. The socket directory therefore lacks one right every other writable directory has:
 * IOCTL_DEV (it has no device files: none can be made), or, before ABI 5, REFER (nothing crosses its border).
 * Moving a directory out of it then gains that right, moving one in gains MAKE_SOCK: both EXDEV, as between
 * filesystems; renames inside it work. Its own rule moves with it, so its parent must be out of the agent's
 * reach (the broker checks that). When writes are not sealed, REFER is granted on `/` and the directory move
 * stays possible (so does everything else: SECURITY.md). */
#include "landlock.h"

#include <errno.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)
#define FS_RESOLVE_UNIX (1ULL << 16) /* ABI 9 (Linux 7.1): connect/sendmsg to a pathname unix socket */
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)
#define SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)

/* Our own copies of the uapi structs: Debian 12's headers predate ABI 4. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};
struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};
_Static_assert(sizeof(struct ll_ruleset_attr) == 24, "landlock_ruleset_attr v6 size");
_Static_assert(sizeof(struct ll_path_beneath) == 12, "landlock_path_beneath_attr is packed");
_Static_assert(sizeof(struct ll_net_port) == 16, "landlock_net_port_attr size");

#define FS_WRITE_BASE                                                                                        \
	(FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_CHAR | FS_MAKE_DIR | FS_MAKE_REG |         \
	 FS_MAKE_SOCK | FS_MAKE_FIFO | FS_MAKE_BLOCK | FS_MAKE_SYM)
/* Made only in the session's socket directory (the 's' grant, see the top of this file). */
#define FS_MAKE_IPC (FS_MAKE_SOCK | FS_MAKE_FIFO)
/* Device nodes: handled whenever Landlock can without side effects, granted nowhere (a block device node in a
 * writable directory is a raw write to a whole filesystem; privs.c drops CAP_MKNOD too). */
#define FS_MAKE_DEV (FS_MAKE_CHAR | FS_MAKE_BLOCK)
/* Rights that make sense on a file (not a directory). */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV | FS_RESOLVE_UNIX)

int landlock_probe_abi(void)
{
	/* landlock_create_ruleset(2) with LANDLOCK_CREATE_RULESET_VERSION returns the highest ABI. */
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	const char *cap = getenv("AGENT_GATE_LANDLOCK_ABI_MAX");

	if (abi < 0)
		abi = 0;
	if (cap && *cap) {
		long m = strtol(cap, NULL, 10);
		if (m >= 0 && m < abi)
			abi = m;
	}
	return (int)abi;
}

/* Every right a letter stands for with the newest ABI we know, and the subset this ABI has. */
static uint64_t fs_rights(const char *letters, int abi)
{
	uint64_t m = 0;

	if (strchr(letters, 'r'))
		m |= FS_READ_FILE | FS_READ_DIR;
	if (strchr(letters, 'l'))
		m |= FS_READ_DIR;
	if (strchr(letters, 'x'))
		m |= FS_EXECUTE;
	if (strchr(letters, 'w')) {
		m |= FS_WRITE_BASE;
		if (abi >= 2)
			m |= FS_REFER;
		if (abi >= 5)
			m |= FS_IOCTL_DEV;
	}
	return m;
}

/* What a grant's letters give (handled rights as letters: fs_rights; grants: this). 'w' makes no socket or
 * FIFO; 's' does, without the right that keeps its directories from being moved out (top of this file). */
static uint64_t grant_rights(const char *letters, int abi, uint64_t handled)
{
	uint64_t m = fs_rights(letters, abi) & ~FS_MAKE_IPC;
	if (strchr(letters, 's'))
		m = (m | FS_MAKE_IPC) & ~((handled & FS_IOCTL_DEV) ? FS_IOCTL_DEV : FS_REFER);
	return m & handled;
}

/* The write grants' paths, listed once per ruleset: each grant looks for the outermost one above it, and with
 * the execute set split into ~900 grants a scan of every grant per grant was ~850 000 strchr/strlen, ~8 ms of
 * the supervisor's start. */
struct write_roots {
	const char **path;
	size_t *len;
	size_t n;
};

static void write_roots_of(const struct config *c, struct write_roots *w)
{
	w->n = 0;
	w->path = calloc(c->ngrants ? c->ngrants : 1, sizeof(*w->path));
	w->len = calloc(c->ngrants ? c->ngrants : 1, sizeof(*w->len));
	if (!w->path || !w->len)
		die("out of memory");
	for (size_t i = 0; i < c->ngrants; i++) {
		size_t n = strlen(c->grants[i].path);
		if (!strchr(c->grants[i].rights, 'w') || n == 0)
			continue;
		w->path[w->n] = c->grants[i].path;
		w->len[w->n++] = n;
	}
}

static void write_roots_free(struct write_roots *w)
{
	free(w->path);
	free(w->len);
}

/* The outermost write grant strictly above path, or NULL. */
static const char *enclosing_write_grant(const struct write_roots *w, const char *path)
{
	const char *best = NULL;
	size_t best_n = 0;
	for (size_t i = 0; i < w->n; i++) {
		const char *r = w->path[i];
		size_t n = w->len[i];
		bool under = (n == 1 && r[0] == '/') ? path[1] != '\0' : strncmp(path, r, n) == 0 && path[n] == '/';
		if (under && (!best || n < best_n)) {
			best = r;
			best_n = n;
		}
	}
	return best;
}

/* A grant's path, opened O_PATH. Below another write grant every component is the agent's to make, in this
 * session or an earlier one (red-team R50: `~/.cache/agent-gate/shell` replaced by a symlink to the home
 * directory turned the next session's grant into a grant of the home directory): from that grant down no
 * symlink is followed (openat2(2) RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH; ELOOP then, and the grant is
 * skipped with a warning). Above it, the user's own symlinks are followed as before. */
static int open_grant(const struct write_roots *w, const char *path)
{
	const char *root = enclosing_write_grant(w, path);
	if (!root)
		return open(path, O_PATH | O_CLOEXEC);
	AUTOCLOSE int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -1;
	const char *rel = path + strlen(root);
	while (*rel == '/')
		rel++;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH };
	int fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		return open(path, O_PATH | O_CLOEXEC); /* before Linux 5.6 */
	return fd;
}

/* One path-beneath rule for a grant, resolved in the calling process's mount namespace. -errno when the path
 * cannot be opened (skipped); a refused rule is fatal. */
static int add_grant(const struct landlock_plan *plan, const struct grant *g, const struct write_roots *w)
{
	uint64_t access = grant_rights(g->rights, plan->abi, plan->handled_fs) & ~FS_MAKE_DEV;
	AUTOCLOSE int pfd = open_grant(w, g->path);
	struct stat st;

	if (pfd < 0)
		return -errno;
	/* A directory-only right on a file is EINVAL: rights beyond a file's need the file's type. Rights a file
	 * can have (the execute set's ~900 'x' grants) are valid on either, so those need no fstat. */
	if (access & ~FS_FILE_RIGHTS) {
		if (fstat(pfd, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			access &= FS_FILE_RIGHTS;
	}
	if (!access)
		return 0;
	struct ll_path_beneath pb = { .allowed_access = access, .parent_fd = pfd };
	/* landlock_add_rule(2): a path-beneath grant. */
	if (syscall(__NR_landlock_add_rule, plan->ruleset_fd, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
		die_errno("landlock_add_rule for '%s'", g->path);
	return 0;
}

int landlock_regrant(const struct landlock_plan *plan, const struct config *c, const char *prefix)
{
	size_t n = strlen(prefix);
	struct write_roots w;
	int r = 0;

	if (plan->ruleset_fd < 0 || !plan->handled_fs)
		return 0;
	write_roots_of(c, &w);
	for (size_t i = 0; i < c->ngrants && (r == 0 || r == -ENOENT); i++) {
		const char *p = c->grants[i].path;
		if (strncmp(p, prefix, n) == 0 && (p[n] == '\0' || p[n] == '/'))
			r = add_grant(plan, &c->grants[i], &w);
	}
	write_roots_free(&w);
	return r == -ENOENT ? 0 : r;
}

void landlock_build(const struct config *c, int abi, struct landlock_plan *plan, void (*warn)(const char *msg))
{
	struct ll_ruleset_attr attr = { 0, 0, 0 };
	char msg[PATH_MAX + 200];

	plan->abi = abi;
	plan->ruleset_fd = -1;
	plan->handled_fs = 0;
	plan->seal_truncate = false;
	plan->seal_exec = false;
	plan->fs = c->fs_handled_set ? "unsupported" : "off";
	plan->net = c->net_handled_set ? "unsupported" : "off";
	plan->scope_signal = plan->scope_unix = "unsupported";
	plan->devices = "unsupported";
	plan->sockets = "unsupported";
	plan->unix_landlock = false;
	plan->fs_gap = abi == 0 ? "Landlock (Linux 5.13+, CONFIG_SECURITY_LANDLOCK, and 'landlock' in the lsm= boot list)"
				: NULL;
	plan->net_gap = plan->fs_gap ? plan->fs_gap : abi < 4 ? "Landlock ABI 4 TCP port rules (Linux 6.7+)" : NULL;
	if (abi == 0)
		return;

	if (c->fs_handled_set && c->fs_handled[0]) {
		attr.handled_access_fs = fs_rights(c->fs_handled, abi);
		bool full = attr.handled_access_fs == fs_rights(c->fs_handled, 7);
		plan->fs = full ? "enforced" : "partial";
		if (!full)
			plan->fs_gap = abi < 2 ? "Landlock ABI 2 REFER right (Linux 5.19+)"
					       : "Landlock ABI 5 IOCTL_DEV right (Linux 6.10+)";
		plan->seal_truncate = (attr.handled_access_fs & FS_WRITE_FILE) != 0;
		plan->seal_exec = (attr.handled_access_fs & FS_EXECUTE) != 0;
	} else if (c->fs_handled_set) {
		plan->fs = "off";
	}
	if (c->net_handled_set && abi >= 4 && (c->net_connect || c->net_bind)) {
		attr.handled_access_net = (c->net_connect ? NET_CONNECT_TCP : 0) | (c->net_bind ? NET_BIND_TCP : 0);
		plan->net = "enforced";
	} else if (c->net_handled_set && abi >= 4) {
		plan->net = "off";
	}
	/* Device nodes are never made, whatever the policy: MAKE_CHAR and MAKE_BLOCK are handled and no grant
	 * carries them. When writes are not otherwise sealed, handling any filesystem right would also deny
	 * every rename or link across directories (REFER is denied by default once a domain handles the
	 * filesystem): REFER is then handled too and granted on `/`, which leaves renames as they were (they
	 * need no other right that is handled). ABI 1 has no REFER: there, CAP_MKNOD's drop holds alone. */
	bool refer_everywhere = false;
	if (attr.handled_access_fs & FS_WRITE_FILE) {
		attr.handled_access_fs |= FS_MAKE_DEV;
		plan->devices = "sealed";
		plan->sockets = "sealed";
	} else if (abi >= 2) {
		refer_everywhere = !(attr.handled_access_fs & FS_REFER);
		/* Sockets and FIFOs only in the session's directory here too: no bind(2) or mknod(2) where a client
		 * outside looks. With REFER on `/` a directory holding one can still be moved: "partial". */
		attr.handled_access_fs |= FS_MAKE_DEV | FS_REFER | FS_MAKE_IPC;
		plan->devices = "sealed";
		plan->sockets = refer_everywhere ? "partial" : "sealed";
	}
	/* Pathname unix sockets (ABI 9): a socket made outside this domain is resolved by connect(2) and
	 * sendmsg(2) only beneath a UNIX_GRANT; one made inside it always. The supervisor's mediation
	 * (sockets.c) is then not needed for them, unless [network] has it perform connect(2) anyway. */
	if (abi >= 9 && c->unix_sealed) {
		attr.handled_access_fs |= FS_RESOLVE_UNIX;
		plan->unix_landlock = true;
	}
	if (abi >= 6) {
		attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX;
		plan->scope_signal = plan->scope_unix = "enforced";
	}
	if (!attr.handled_access_fs && !attr.handled_access_net && !attr.scoped)
		return;

	/* The attr size tells the kernel which fields we use: v1 has only fs, v4 adds net, v6 scoped. */
	size_t size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
	/* landlock_create_ruleset(2). */
	int fd = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		die_errno("landlock_create_ruleset (ABI %d)", abi);
	plan->ruleset_fd = fd;
	plan->handled_fs = attr.handled_access_fs;

	struct write_roots w;
	write_roots_of(c, &w);
	for (size_t i = 0; attr.handled_access_fs && i < c->ngrants; i++) {
		const struct grant *g = &c->grants[i];
		int r = add_grant(plan, g, &w);
		if (r == -ELOOP || r == -EXDEV) {
			snprintf(msg, sizeof(msg), "filesystem grant '%s' (%s) skipped: a symlink on its way inside another write "
				 "grant, which the agent could have made (an earlier session?), is not followed", g->path, g->rights);
			warn(msg);
		} else if (r < 0) {
			snprintf(msg, sizeof(msg), "filesystem grant '%s' (%s) skipped: %s", g->path, g->rights, strerror(-r));
			warn(msg);
		}
	}
	write_roots_free(&w);
	if (refer_everywhere) {
		AUTOCLOSE int root = open("/", O_PATH | O_CLOEXEC);
		struct ll_path_beneath pb = { .allowed_access = FS_REFER, .parent_fd = root };
		/* landlock_add_rule(2): renames and links anywhere, as without a domain. */
		if (root < 0 || syscall(__NR_landlock_add_rule, fd, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
			die_errno("landlock_add_rule for REFER on /");
	}
	for (size_t i = 0; plan->unix_landlock && i < c->nunix_grants; i++) {
		AUTOCLOSE int pfd = open(c->unix_grants[i], O_PATH | O_CLOEXEC);
		if (pfd < 0)
			continue; /* an allowed socket that does not exist (yet): nothing to grant */
		struct ll_path_beneath pb = { .allowed_access = FS_RESOLVE_UNIX, .parent_fd = pfd };
		/* landlock_add_rule(2): unix sockets beneath this path may be connected to (ABI 9). */
		if (syscall(__NR_landlock_add_rule, fd, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
			die_errno("landlock_add_rule (RESOLVE_UNIX) for '%s'", c->unix_grants[i]);
	}
	for (size_t i = 0; attr.handled_access_net && i < c->nports; i++) {
		uint64_t access = ((c->ports[i].connect ? NET_CONNECT_TCP : 0) | (c->ports[i].bind ? NET_BIND_TCP : 0)) &
				  attr.handled_access_net;
		if (!access)
			continue;
		struct ll_net_port np = { .allowed_access = access, .port = c->ports[i].port };
		/* landlock_add_rule(2): a TCP port grant (ABI 4). */
		if (syscall(__NR_landlock_add_rule, fd, LL_RULE_NET_PORT, &np, 0) < 0)
			die_errno("landlock_add_rule for TCP port %u", c->ports[i].port);
	}
}

int landlock_enter(const struct landlock_plan *plan)
{
	if (plan->ruleset_fd < 0)
		return 0;
	/* landlock_restrict_self(2): irrevocable for this task and its future children. */
	if (syscall(__NR_landlock_restrict_self, plan->ruleset_fd, 0) < 0)
		return -1;
	close(plan->ruleset_fd);
	return 0;
}
