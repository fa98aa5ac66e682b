/* Socket mediation (docs/protocol.md, "Sockets"; SECURITY.md).
 *
 * Landlock (before ABI 9) does not see connect(2) to a pathname unix socket, and nothing in Landlock sees
 * UDP, so the filter sends connect(2) and listen(2) here (and, when [network] seals with DNS allowed, the
 * sends that can carry an address). A seccomp CONTINUE would let the kernel re-read what we checked: another
 * thread could rewrite the sockaddr or msghdr, or dup2() another socket onto the descriptor number, after
 * the check. So nothing here is continued. The supervisor takes its own reference to the target's socket
 * (pidfd_getfd(2): the socket *object*, whatever the number names later), copies the address once, checks
 * that copy and performs the call itself on its reference, then answers with the result:
 *
 *   connect  AF_UNIX pathname: the path is resolved as the target would (its cwd; RESOLVE_NO_MAGICLINKS so
 *            a /proc/self/… path cannot name our own descriptors), held O_PATH, and connected to through
 *            /proc/self/fd/N — the inode checked is the inode connected to. Allowed when that inode is bound
 *            to a socket this session made listen (below), else only on the broker's word ([unix_sockets]
 *            allow); refused EACCES, as Landlock's RESOLVE_UNIX would.
 *            AF_UNIX abstract: the same, by name (refused EPERM, as Landlock's scoping would).
 *            AF_INET/AF_INET6 when [network] seals: TCP to an allowed port (what Landlock checks; we do it
 *            because our connect is not the agent's and Landlock does not see it), TCP and UDP to a
 *            resolver on port 53 when DNS is allowed; else EACCES.
 *            Everything else: performed as asked.
 *   listen   performed on our reference. AF_UNIX: the socket is a session listener from now on (its
 *            cookie, and the inode or abstract name it is bound to, from sock_diag — exact, and ours).
 *            AF_INET/AF_INET6 when [network] seals: only on a socket bound to a port (an unbound one would
 *            get an ephemeral port Landlock never checked) unless port 0 is allowed, and not on a port where
 *            a TCP socket this session did not make listens (inet sock_diag; SO_REUSEPORT or the other
 *            address would take that service's connections).
 *   setsockopt SO_REUSEADDR/SO_REUSEPORT (when [network] seals with DNS allowed): refused on UDP sockets,
 *            performed on our reference otherwise.
 *   sendto with an address, sendmsg, sendmmsg (only when [network] seals with DNS allowed: UDP sockets exist
 *            and an address in the call could name anyone): the message is copied (data, address, control
 *            with SCM_RIGHTS descriptors taken by pidfd_getfd), the UDP destination checked, and sent by us.
 *
 * What is not the same as the kernel doing it for the agent (SECURITY.md): a server sees the supervisor as
 * its peer (SO_PEERCRED/SO_PEERPIDFD pid; the uid is the same), and an agent-made listener has the
 * supervisor's credentials as its own (listen(2) records them); DAC on a socket file is checked with the
 * supervisor's credentials; a blocking connect is emulated (O_NONBLOCK for the duration of the call on the
 * shared file description, then a wait for the result here, honouring SO_SNDTIMEO), and a non-fatal signal
 * to the target does not interrupt it. A blocking send waits the same way. */
#include "sockets.h"
#include "audit.h"
#include "hostnet.h"
#include "procmem.h"
#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static int g_listener = -1;
static const struct config *g_cfg;
static struct sockets_mode g_mode;
static void (*g_send)(struct buf *line);
static uint64_t (*g_new_id)(void);
static struct buf g_out;

/* ---- answers ---- */

static bool id_valid(uint64_t cookie)
{
	/* seccomp_unotify(2): the target is still blocked in this very syscall. */
	return ioctl(g_listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &cookie) == 0;
}

/* NOTIF_SEND with a result (err 0: the syscall returns val), never CONTINUE. */
static void answer(uint64_t cookie, int err, int64_t val)
{
	struct seccomp_notif_resp resp = { .id = cookie, .val = err ? 0 : val, .error = err ? -err : 0, .flags = 0 };

	if (ioctl(g_listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
		debug("NOTIF_SEND (socket) %llu: %s", (unsigned long long)cookie, strerror(errno));
}

/* ---- the target's socket ---- */

static pid_t tgid_of(pid_t tid)
{
	char path[64], text[2048];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_small_file(AT_FDCWD, path, text, sizeof(text)) < 0)
		return tid;
	const char *p = strstr(text, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : tid;
}

/* A pidfd whose file table is the target thread's. PIDFD_THREAD (Linux 6.9) names the thread itself; before
 * it, the process's pidfd is used when the thread shares the leader's descriptor table (kcmp(2) KCMP_FILES;
 * pthreads always do), else nothing: fail closed. */
static int thread_pidfd(pid_t tid)
{
	int pfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pfd >= 0 || errno != EINVAL)
		return pfd;
	pid_t tgid = tgid_of(tid);
	if (tgid != tid && syscall(SYS_kcmp, tid, tgid, 2 /* KCMP_FILES */, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_pidfd_open, tgid, 0);
}

/* pidfd_getfd(2): our own reference to what the target calls fd, checked to be a socket. Returns the
 * descriptor, or -1 with *err: an errno for the agent, or 0 when the notification is gone. */
static int take_socket(const struct seccomp_notif *n, int fd, int *err)
{
	AUTOCLOSE int pfd = thread_pidfd((pid_t)n->pid);
	if (pfd < 0) {
		*err = errno == ESRCH ? 0 : EACCES;
		return -1;
	}
	int sfd = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	int e = errno;
	/* The tid could have been reused between the notification and pidfd_open: trust nothing before this. */
	if (!id_valid(n->id)) {
		if (sfd >= 0)
			close(sfd);
		*err = 0;
		return -1;
	}
	if (sfd < 0) {
		*err = e == EBADF ? EBADF : e == ESRCH ? 0 : EACCES;
		return -1;
	}
	struct stat st;
	if (fstat(sfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(sfd);
		*err = ENOTSOCK;
		return -1;
	}
	return sfd;
}

static int sockopt_int(int sfd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);
	if (getsockopt(sfd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

struct target_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Copy a sockaddr from the target once (move_addr_to_kernel's limits). 0 or an errno. */
static int read_addr(pid_t tid, uint64_t ptr, uint64_t len, struct target_addr *a)
{
	memset(a, 0, sizeof(*a));
	if ((int64_t)(int32_t)len < 0 || (int32_t)len > (int32_t)sizeof(a->ss))
		return EINVAL;
	a->len = (socklen_t)(int32_t)len;
	if (a->len == 0)
		return 0;
	if (procmem_read(tid, ptr, &a->ss, a->len) < 0)
		return errno == ESRCH ? ESRCH : EFAULT;
	return 0;
}

/* ---- unix names ---- */

enum unix_kind { UN_UNNAMED, UN_PATH, UN_ABSTRACT };

static enum unix_kind unix_name(const struct target_addr *a, char *name, size_t *len)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	const char *p = ((const struct sockaddr_un *)&a->ss)->sun_path;

	*len = 0;
	if (a->len <= off || a->ss.ss_family != AF_UNIX)
		return UN_UNNAMED;
	size_t n = a->len - off;
	if (p[0] == '\0') {
		*len = n - 1;
		memcpy(name, p + 1, *len);
		return UN_ABSTRACT;
	}
	*len = strnlen(p, n);
	memcpy(name, p, *len);
	name[*len] = '\0';
	return UN_PATH;
}

/* Resolve a socket path as the target would: relative to its cwd, symlinks followed, but never through a
 * magic link (/proc/N/fd/M, /proc/N/cwd…: here they would name the supervisor's own). O_PATH fd or -errno. */
static int open_as_target(pid_t tid, const char *path)
{
	AUTOCLOSE int dirfd = -1;
	if (path[0] != '/') {
		char cwd[64];
		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", (int)tid);
		dirfd = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -ENOENT;
	}
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS };
	/* openat2(2); chroot and new namespaces are refused in the sandbox, so our root is the target's. */
	int fd = (int)syscall(SYS_openat2, path[0] == '/' ? AT_FDCWD : dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* ---- the session's listeners (sock_diag, unix_diag(7)) ---- */

static bool same_file(uint32_t vfs_dev, uint32_t vfs_ino, const struct stat *file);

struct listener {
	uint64_t cookie; /* SO_COOKIE: never reused while the system runs */
	uint32_t ino;    /* the socket's inode (sockfs) */
	bool has_vfs;
	uint32_t vfs_dev, vfs_ino; /* the socket file it is bound to (as sock_diag reports: 32 bits each) */
	size_t name_len;
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool abstract;
};
static struct listener *listeners;
static size_t nlisteners, cap_listeners;
static int diag_fd = -1;
static uint32_t diag_seq;

/* One socket's bound name and file, by inode and cookie. 0, ENOENT (gone), or another errno. */
static int diag_query(uint32_t ino, uint64_t cookie, struct listener *out)
{
	if (diag_fd < 0) {
		diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (diag_fd < 0)
			return errno;
	}
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST,
			 .nlmsg_seq = ++diag_seq },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = ino,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS,
		       .udiag_cookie = { (uint32_t)cookie, (uint32_t)(cookie >> 32) } },
	};
	if (send(diag_fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return errno;
	union {
		char buf[8192];
		struct nlmsghdr align;
	} u;
	for (;;) {
		ssize_t got = recv(diag_fd, u.buf, sizeof(u.buf), 0);
		if (got < 0)
			return errno == EINTR ? EINTR : errno;
		for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != diag_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? -e->error : ENOENT;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			const struct unix_diag_msg *m = NLMSG_DATA(h);
			if (m->udiag_ino != ino)
				return ENOENT;
			out->has_vfs = false;
			out->name_len = 0;
			out->abstract = false;
			size_t alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == UNIX_DIAG_VFS && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_vfs)) {
					const struct unix_diag_vfs *v = RTA_DATA(a);
					out->has_vfs = true;
					out->vfs_dev = v->udiag_vfs_dev;
					out->vfs_ino = v->udiag_vfs_ino;
				} else if (a->rta_type == UNIX_DIAG_NAME) {
					size_t n = RTA_PAYLOAD(a);
					const char *p = RTA_DATA(a);
					if (n > 0 && p[0] == '\0') {
						out->abstract = true;
						p++;
						n--;
					}
					if (n > sizeof(out->name))
						n = sizeof(out->name);
					memcpy(out->name, p, n);
					out->name_len = n;
				}
			}
			return 0;
		}
	}
}

/* Is any socket bound to this socket file (a dump of every unix socket, UDIAG_SHOW_VFS)? 1 yes, 0 no, -errno
 * when the dump fails. Only for a file that is not one of ours: a stale file (its server gone) must give
 * ECONNREFUSED as the kernel would, since tmux, ssh's ControlMaster or an editor's server start a new server
 * on exactly that, and would fail on EACCES. */
static int bound_to(const struct stat *file)
{
	static char buf[65536];
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			 .nlmsg_seq = 1 },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = UDIAG_SHOW_VFS },
	};
	int found = -EIO;
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		found = -errno;
		goto out;
	}
	found = 0;
	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			found = -errno;
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				found = -EIO;
				goto out;
			}
			const struct unix_diag_msg *m = NLMSG_DATA(h);
			size_t alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type != UNIX_DIAG_VFS || RTA_PAYLOAD(a) < sizeof(struct unix_diag_vfs))
					continue;
				const struct unix_diag_vfs *v = RTA_DATA(a);
				if (same_file(v->udiag_vfs_dev, v->udiag_vfs_ino, file))
					found = 1; /* keep reading to the end of the dump */
			}
		}
	}
out:
	close(fd);
	return found;
}

static void listener_add(int sfd)
{
	struct stat st;
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	if (fstat(sfd, &st) < 0 || getsockopt(sfd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return;
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].cookie == cookie)
			return;
	struct listener l = { .cookie = cookie, .ino = (uint32_t)st.st_ino };
	int r = diag_query(l.ino, cookie, &l);
	if (r != 0) {
		debug("sock_diag of a session listener: %s", strerror(r));
		return;
	}
	if (nlisteners == cap_listeners) {
		cap_listeners = cap_listeners ? cap_listeners * 2 : 16;
		listeners = xrealloc(listeners, cap_listeners * sizeof(*listeners));
	}
	listeners[nlisteners++] = l;
	debug("session listener ino %u %s%.*s", l.ino, l.abstract ? "@" : "", (int)l.name_len, l.name);
}

/* Whether a socket file (pathname) or abstract name belongs to a listener of this session. Each candidate is
 * asked again (alive, same cookie, same file — and since we hold that file open, an inode number names it
 * alone). A listener that has closed since is remembered by its file: a socket file is bound once, so
 * connecting to it can only be refused (ECONNREFUSED, as the kernel says), never reach anyone else. */
enum owner { NOT_OURS, OURS, OURS_CLOSED };

#define CLOSED_MAX 256
static struct {
	uint32_t vfs_dev, vfs_ino;
} closed_files[CLOSED_MAX];
static size_t nclosed, closed_next;

static bool same_file(uint32_t vfs_dev, uint32_t vfs_ino, const struct stat *file)
{
	/* sock_diag reports the kernel's dev_t (major << 20 | minor), stat(2) the user-space encoding. */
	return vfs_ino == (uint32_t)file->st_ino && vfs_dev >> 20 == major(file->st_dev) &&
	       (vfs_dev & 0xfffff) == minor(file->st_dev);
}

static enum owner session_listener(const struct stat *file, const char *name, size_t name_len)
{
	for (size_t i = 0; i < nlisteners;) {
		struct listener *l = &listeners[i];
		bool candidate = file ? l->has_vfs && same_file(l->vfs_dev, l->vfs_ino, file)
				      : l->abstract && l->name_len == name_len && memcmp(l->name, name, name_len) == 0;
		if (!candidate) {
			i++;
			continue;
		}
		struct listener now = *l;
		int r = diag_query(l->ino, l->cookie, &now);
		if (r == ENOENT || r == ESTALE) {
			if (l->has_vfs) {
				closed_files[closed_next].vfs_dev = l->vfs_dev;
				closed_files[closed_next].vfs_ino = l->vfs_ino;
				closed_next = (closed_next + 1) % CLOSED_MAX;
				if (nclosed < CLOSED_MAX)
					nclosed++;
			}
			listeners[i] = listeners[--nlisteners];
			continue;
		}
		if (r == 0 && now.has_vfs == l->has_vfs && now.vfs_ino == l->vfs_ino && now.vfs_dev == l->vfs_dev &&
		    now.abstract == l->abstract && now.name_len == l->name_len &&
		    memcmp(now.name, l->name, l->name_len) == 0)
			return OURS;
		i++;
	}
	for (size_t i = 0; file && i < nclosed; i++)
		if (same_file(closed_files[i].vfs_dev, closed_files[i].vfs_ino, file))
			return OURS_CLOSED;
	return NOT_OURS;
}

/* ---- network checks ([network] seals) ---- */

/* The TCP listeners this session made (SO_COOKIE of the sockets we made listen: never reused). */
static uint64_t *inet_ours;
static size_t ninet_ours, cap_inet_ours;

static void inet_listener_add(int sfd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	if (getsockopt(sfd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return;
	if (ninet_ours == cap_inet_ours) {
		cap_inet_ours = cap_inet_ours ? cap_inet_ours * 2 : 8;
		inet_ours = xrealloc(inet_ours, cap_inet_ours * sizeof(*inet_ours));
	}
	inet_ours[ninet_ours++] = cookie;
}

/* Does a TCP socket this session did not make listen on this port, on any address of either family
 * (inet_diag dumps, inet_diag(7) via sock_diag(7))? 1 yes, 0 no, -errno when the dump fails. Such a
 * listener is a service outside the gate: a listen of ours beside it would take a share of its connections
 * (SO_REUSEPORT: the kernel spreads them over the group) or the clients that try the other address first
 * ("localhost" is ::1 first for many resolvers, and the service may listen on 127.0.0.1 only). */
static int foreign_tcp_listener(uint16_t port)
{
	static char buf[65536];
	const int families[] = { AF_INET, AF_INET6 };
	int found = 0;
	for (size_t f = 0; f < 2 && found >= 0; f++) {
		int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (fd < 0)
			return -errno;
		struct {
			struct nlmsghdr nlh;
			struct inet_diag_req_v2 r;
		} req = {
			.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
				 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
			.r = { .sdiag_family = (uint8_t)families[f], .sdiag_protocol = IPPROTO_TCP,
			       .idiag_states = 1u << 10 /* TCP_LISTEN */ },
		};
		if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
			found = -errno;
			close(fd);
			break;
		}
		bool done = false;
		while (!done && found >= 0) {
			ssize_t got = recv(fd, buf, sizeof(buf), 0);
			if (got < 0) {
				if (errno != EINTR)
					found = -errno;
				continue;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
				if (h->nlmsg_type == NLMSG_DONE) {
					done = true;
					break;
				}
				if (h->nlmsg_type == NLMSG_ERROR) {
					found = -EIO;
					break;
				}
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				if (ntohs(m->id.idiag_sport) != port)
					continue;
				uint64_t cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
				bool ours = false;
				for (size_t i = 0; i < ninet_ours && !ours; i++)
					ours = inet_ours[i] == cookie;
				if (!ours && found == 0)
					found = 1; /* keep reading to the end of the dump */
			}
		}
		close(fd);
	}
	return found;
}

/* Port and address of an inet sockaddr (v4-mapped IPv6 as IPv4). false for other families. */
static bool inet_dest(const struct target_addr *a, int *family, unsigned char ip[16], uint16_t *port)
{
	if (a->ss.ss_family == AF_INET && a->len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
		*family = AF_INET;
		memcpy(ip, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		return true;
	}
	if (a->ss.ss_family == AF_INET6 && a->len >= 24 /* SIN6_LEN_RFC2133 */) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		*port = ntohs(s->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			*family = AF_INET;
			memcpy(ip, s->sin6_addr.s6_addr + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(ip, s->sin6_addr.s6_addr, 16);
		}
		return true;
	}
	return false;
}

static bool is_resolver(int family, const unsigned char ip[16], uint16_t port)
{
	for (size_t i = 0; i < g_cfg->ndns; i++) {
		const struct dns_server *d = &g_cfg->dns[i];
		if (d->family == family && d->port == port && memcmp(d->addr, ip, family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

static bool port_allowed(uint16_t port, bool connect)
{
	for (size_t i = 0; i < g_cfg->nports; i++)
		if (g_cfg->ports[i].port == port && (connect ? g_cfg->ports[i].connect : g_cfg->ports[i].bind))
			return true;
	return false;
}

static const char *family_word(int family)
{
	switch (family) {
	case AF_UNIX:
		return "unix";
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_NETLINK:
		return "netlink";
	case AF_VSOCK:
		return "vsock";
	case AF_TIPC:
		return "tipc";
	case AF_RDS:
		return "rds";
	case AF_CAN:
		return "can";
	case AF_BLUETOOTH:
		return "bluetooth";
	case AF_PACKET:
		return "packet";
#ifdef AF_SMC
	case AF_SMC:
		return "smc";
#endif
#ifdef AF_XDP
	case AF_XDP:
		return "xdp";
#endif
	case AF_ALG:
		return "alg";
	case AF_KEY:
		return "key";
#ifdef AF_QIPCRTR
	case AF_QIPCRTR:
		return "qipcrtr";
#endif
	case AF_RXRPC:
		return "rxrpc";
#ifdef AF_KCM
	case AF_KCM:
		return "kcm";
#endif
	case AF_LLC:
		return "llc";
	case AF_APPLETALK:
		return "appletalk";
	case AF_X25:
		return "x25";
	case AF_AX25:
		return "ax25";
	case AF_NFC:
		return "nfc";
	case AF_IEEE802154:
		return "ieee802154";
	case AF_PPPOX:
		return "pppox";
	case AF_ISDN:
		return "isdn";
	case AF_PHONET:
		return "phonet";
	case AF_CAIF:
		return "caif";
#ifdef AF_IB
	case AF_IB:
		return "ib";
#endif
#ifdef AF_MCTP
	case AF_MCTP:
		return "mctp";
#endif
	default:
		return "other";
	}
}

static const char *type_word(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	case SOCK_RAW:
		return "raw";
	default:
		return "other";
	}
}

/* SOCKET_REFUSED: the broker records what the supervisor refused by itself (docs/protocol.md). */
static void report_refused(pid_t tid, const char *op, int family, const struct target_addr *a, const char *why)
{
	int fam = 0;
	unsigned char ip[16];
	uint16_t port = 0;
	char text[INET6_ADDRSTRLEN] = "";

	buf_printf(&g_out, "SOCKET_REFUSED tid=%d pid=%d op=%s family=%s", (int)tid, (int)tgid_of(tid), op,
		   family_word(family));
	if (a && inet_dest(a, &fam, ip, &port) && inet_ntop(fam, ip, text, sizeof(text))) {
		buf_puts(&g_out, " addr=");
		buf_hex(&g_out, text, strlen(text));
		buf_printf(&g_out, " port=%u", port);
	}
	buf_puts(&g_out, " reason=");
	buf_hex(&g_out, why, strlen(why));
	buf_put(&g_out, "\n", 1);
	g_send(&g_out);
	g_out.len = 0;
}

/* ---- services on this host ([loopback] seals; red-team R59) ----
 *
 * A process outside the gate that listens on a TCP port of this host (a Node inspector, Jupyter, code-server,
 * VS Code's Remote-SSH server, a Gradle or Bazel daemon, Chrome's remote debugging, docker on tcp) runs code
 * for whoever connects, outside the gate. Landlock's TCP rules name ports, not hosts, and see no UDP. So a
 * connect (or a datagram) to an address of this host — 127.0.0.0/8, ::1, the wildcard, v4-mapped forms, the
 * addresses of its interfaces (a listener on 0.0.0.0 is reached through them too), their broadcast addresses
 * and multicast — goes through only when every socket on the destination port is the session's own: a TCP
 * listener this session made listen (its SO_COOKIE, recorded in on_listen), a UDP socket a session process
 * holds. Else the resolvers (DNS) and the ports the policy names ([loopback] connect_ports). The check is
 * on the port, whatever local address the outside socket is bound to: stricter than the kernel's lookup,
 * never looser. The other way, accept (below) hands the agent a connection from an address of this host only
 * when the client socket is one the session connected (its cookie, recorded here), unless [loopback]
 * accept_ports names the port: a browser outside the gate cannot reach a port the agent squats (an OAuth
 * callback). */

static bool loop_port(uint16_t port, bool connect)
{
	for (size_t i = 0; i < g_cfg->nloop_ports; i++)
		if (g_cfg->loop_ports[i].port == port && (connect ? g_cfg->loop_ports[i].connect : g_cfg->loop_ports[i].bind))
			return true;
	return false;
}

static bool loop_resolver(int family, const unsigned char ip[16], uint16_t port)
{
	for (size_t i = 0; i < g_cfg->nloop_dns; i++) {
		const struct dns_server *d = &g_cfg->loop_dns[i];
		if (d->family == family && d->port == port && memcmp(d->addr, ip, family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

/* This host's interface addresses (and broadcast addresses), read again at most once a second: the agent
 * cannot add one (no CAP_NET_ADMIN), and a DHCP change is not its doing. */
#define HOST_ADDRS_MAX 256
static struct {
	int family;
	unsigned char ip[16];
} host_addrs[HOST_ADDRS_MAX];
static size_t nhost_addrs;
static uint64_t host_addrs_at;

static void host_addr_add(const struct sockaddr *sa)
{
	if (!sa || nhost_addrs >= HOST_ADDRS_MAX)
		return;
	if (sa->sa_family == AF_INET) {
		host_addrs[nhost_addrs].family = AF_INET;
		memcpy(host_addrs[nhost_addrs++].ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		host_addrs[nhost_addrs].family = AF_INET6;
		memcpy(host_addrs[nhost_addrs++].ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* -1 when the addresses cannot be read (then every address counts as this host's: fail closed). */
static int host_addrs_refresh(void)
{
	uint64_t now = monotonic_us();
	if (host_addrs_at && now - host_addrs_at < 1000000u)
		return 0;
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) < 0)
		return -1;
	nhost_addrs = 0;
	for (struct ifaddrs *i = list; i; i = i->ifa_next) {
		host_addr_add(i->ifa_addr);
		if (i->ifa_flags & IFF_BROADCAST)
			host_addr_add(i->ifa_broadaddr);
	}
	freeifaddrs(list);
	host_addrs_at = now;
	return 0;
}

/* Whether a destination (inet_dest's form: v4-mapped as IPv4) is this host. */
static bool is_this_host(int family, const unsigned char ip[16])
{
	static const unsigned char zero[16] = { 0 };
	if (family == AF_INET) {
		if (ip[0] == 127 || ip[0] == 0 || (ip[0] & 0xf0) == 0xe0 || memcmp(ip, "\xff\xff\xff\xff", 4) == 0)
			return true; /* loopback, 0.0.0.0/8 (this host), multicast, broadcast */
	} else {
		if (memcmp(ip, zero, 16) == 0 || (memcmp(ip, zero, 15) == 0 && ip[15] == 1) || ip[0] == 0xff)
			return true; /* ::, ::1, multicast */
		if (memcmp(ip, zero, 12) == 0)
			return true; /* IPv4-compatible ::a.b.c.d (deprecated; kernels treat some as v4): never a remote host here */
	}
	if (host_addrs_refresh() < 0)
		return true;
	for (size_t i = 0; i < nhost_addrs; i++)
		if (host_addrs[i].family == family && memcmp(host_addrs[i].ip, ip, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

/* One inet sock_diag dump (inet_diag(7)) of a protocol's sockets in the given states, both families, only
 * those with this local port (and this remote port, when dport is not 0: an inet_diag bytecode filter, so the
 * kernel sends only them): fn is called for each socket until it returns false. 0, or -errno when the dump
 * fails. */
static int inet_dump(int protocol, uint32_t states, uint16_t sport, uint16_t dport,
		     bool (*fn)(const struct inet_diag_msg *m, void *ctx), void *ctx)
{
	static char buf[65536];
	const int families[] = { AF_INET, AF_INET6 };
	for (size_t f = 0; f < 2; f++) {
		int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (fd < 0)
			return -errno;
		/* The bytecode: "sport == S" then, optionally, "dport == D"; each test is two ops (the port rides in
		 * the second's `no`), and a failed test jumps 4 bytes past the end: rejected (inet_diag_bc_run). */
		struct inet_diag_bc_op bc[4];
		uint16_t bclen = dport ? 16 : 8;
		bc[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_EQ, 8, (uint16_t)(bclen + 4) };
		bc[1] = (struct inet_diag_bc_op){ 0, 0, sport };
		bc[2] = (struct inet_diag_bc_op){ INET_DIAG_BC_D_EQ, 8, 12 };
		bc[3] = (struct inet_diag_bc_op){ 0, 0, dport };
		struct {
			struct nlmsghdr nlh;
			struct inet_diag_req_v2 r;
			struct rtattr rta;
			struct inet_diag_bc_op bc[4];
		} req = {
			.nlh = { .nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)) + RTA_LENGTH(bclen)),
				 .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
			.r = { .sdiag_family = (uint8_t)families[f], .sdiag_protocol = (uint8_t)protocol, .idiag_states = states },
			.rta = { .rta_len = (unsigned short)RTA_LENGTH(bclen), .rta_type = INET_DIAG_REQ_BYTECODE },
		};
		_Static_assert(offsetof(__typeof__(req), rta) == NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)), "no padding before the attribute");
		memcpy(req.bc, bc, bclen);
		if (send(fd, &req, req.nlh.nlmsg_len, 0) != (ssize_t)req.nlh.nlmsg_len) {
			int e = errno;
			close(fd);
			return -e;
		}
		bool done = false;
		while (!done) {
			ssize_t got = recv(fd, buf, sizeof(buf), 0);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				int e = errno;
				close(fd);
				return -e;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
				if (h->nlmsg_type == NLMSG_DONE) {
					done = true;
					break;
				}
				if (h->nlmsg_type == NLMSG_ERROR) {
					close(fd);
					return -EIO;
				}
				if (!fn(NLMSG_DATA(h), ctx)) {
					close(fd);
					return 0;
				}
			}
		}
		close(fd);
	}
	return 0;
}

static uint64_t diag_cookie(const struct inet_diag_msg *m)
{
	return (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
}

static bool inet_ours_has(uint64_t cookie)
{
	for (size_t i = 0; i < ninet_ours; i++)
		if (inet_ours[i] == cookie)
			return true;
	return false;
}

/* Inodes of sockets some process of the session holds (every process that is the supervisor's descendant:
 * /proc/PID/fd/N → socket:[INODE]). Whether any of `want` is among them. */
static bool in_session(pid_t pid);
static bool session_holds(const uint32_t *want, size_t nwant)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return false;
	bool found = false;
	struct dirent *d;
	while (!found && (d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !in_session((pid_t)pid))
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *f;
		while (!found && (f = readdir(fds))) {
			char text[64];
			ssize_t n = readlinkat(dirfd(fds), f->d_name, text, sizeof(text) - 1);
			if (n <= 8 || memcmp(text, "socket:[", 8) != 0)
				continue;
			text[n] = '\0';
			uint32_t ino = (uint32_t)strtoul(text + 8, NULL, 10);
			for (size_t i = 0; i < nwant && !found; i++)
				found = want[i] == ino;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

struct port_scan {
	uint16_t port;
	int protocol;
	bool foreign;    /* a TCP listener not ours */
	bool seen;       /* any TCP listener on the port */
	uint32_t ino[64]; /* UDP sockets on the port (checked against the session's after the dump) */
	size_t nino;
};

static bool port_scan_one(const struct inet_diag_msg *m, void *ctx)
{
	struct port_scan *s = ctx;
	if (ntohs(m->id.idiag_sport) != s->port)
		return true;
	if (s->protocol == IPPROTO_TCP) {
		s->seen = true;
		if (!inet_ours_has(diag_cookie(m)))
			s->foreign = true;
		return !s->foreign;
	}
	if (m->idiag_inode == 0 || s->nino == sizeof(s->ino) / sizeof(s->ino[0])) {
		s->foreign = true; /* no file (nobody we could name holds it), or too many to check: outside */
		return false;
	}
	s->ino[s->nino++] = m->idiag_inode;
	return true;
}

/* Whether a socket outside the session serves this port of this host: 1 yes, 0 no, 2 no TCP listener at all,
 * -errno when it cannot be told. TCP: a listener this session did not make listen. UDP: a bound socket no
 * session process holds. */
static int outside_service(int protocol, uint16_t port)
{
	struct port_scan s = { .port = port, .protocol = protocol };
	int r = inet_dump(protocol, protocol == IPPROTO_TCP ? 1u << 10 /* TCP_LISTEN */ : ~0u, port, 0, port_scan_one, &s);
	if (r < 0)
		return r;
	if (s.foreign)
		return 1;
	if (protocol == IPPROTO_TCP && !s.seen)
		return 2;
	for (size_t i = 0; i < s.nino; i++)
		if (!session_holds(&s.ino[i], 1))
			return 1;
	return 0;
}

/* The device a socket's packets to this address must leave through, or 0: an IPv6 link-local or multicast
 * address's scope (the kernel binds the socket to it), else the device the socket is bound to
 * (SO_BINDTODEVICE, which needs no privilege on an unbound socket). sfd -1: none. */
static int dest_oif(int sfd, const struct target_addr *a)
{
	if (a->ss.ss_family == AF_INET6 && a->len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		if (s->sin6_scope_id && (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) || IN6_IS_ADDR_MULTICAST(&s->sin6_addr)))
			return (int)s->sin6_scope_id;
	}
	int oif = 0;
	socklen_t len = sizeof(oif);
	if (sfd >= 0 && getsockopt(sfd, SOL_SOCKET, SO_BINDTOIFINDEX, &oif, &len) < 0)
		oif = 0;
	return oif;
}

/* Where a destination is (inet_dest's form): this host (its own addresses, quickly from the interface list,
 * else by the route the kernel takes), a container or VM on this machine (red-team R105: hostnet.c), or
 * elsewhere. */
static enum host_where where_is(int family, const unsigned char ip[16], int oif, struct host_route *g)
{
	memset(g, 0, sizeof(*g));
	if (is_this_host(family, ip))
		return g->where = WHERE_SELF;
	hostnet_where(family, ip, oif, g);
	return g->where;
}

/* Why a connect or datagram to this destination is refused, or NULL. sfd: the socket (-1: unknown); type,
 * proto: its. A ping socket (ICMP echo) reaches the kernel, not a service: let through. SCTP, UDP-Lite and the
 * rest have no check here (their services are not in the TCP or UDP tables): refused on this host. */
/* The TCP ports of this host a "nobody listens" refusal was recorded for (each once: a client polling for its
 * server to start would fill the log). */
static uint16_t nobody_ports[64];
static size_t nnobody_ports;

static bool nobody_recorded(uint16_t port)
{
	for (size_t i = 0; i < nnobody_ports; i++)
		if (nobody_ports[i] == port)
			return true;
	if (nnobody_ports < sizeof(nobody_ports) / sizeof(nobody_ports[0]))
		nobody_ports[nnobody_ports++] = port;
	return false;
}

static const char *loop_refusal(int sfd, const struct target_addr *a, int type, int proto, char *why, size_t len, int *err,
				bool *quiet)
{
	*err = EACCES;
	*quiet = false;
	int fam;
	unsigned char ip[16];
	uint16_t port;
	struct host_route g;
	char text[INET6_ADDRSTRLEN] = "?";
	if (!inet_dest(a, &fam, ip, &port) || where_is(fam, ip, dest_oif(sfd, a), &g) == WHERE_ELSEWHERE)
		return NULL;
	if (type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6))
		return NULL;
	if (loop_port(port, true) || loop_resolver(fam, ip, port) || (g_mode.net_sealed && port == 53 && is_resolver(fam, ip, port)))
		return NULL;
	inet_ntop(fam, ip, text, sizeof(text));
	if (g.where == WHERE_UNKNOWN) {
		snprintf(why, len,
			 "cannot tell whether %s is this machine or a container or VM on it (the routing table or the network "
			 "devices could not be read: %s): refused",
			 text, strerror(g.err));
		return why;
	}
	if (!(type == SOCK_STREAM && (proto == IPPROTO_TCP || proto == 262 /* MPTCP: a TCP listener serves it */)) &&
	    !(type == SOCK_DGRAM && proto == IPPROTO_UDP)) {
		snprintf(why, len, "only TCP and UDP to this host's own addresses and its containers and VMs ([loopback])");
		return why;
	}
	if (g.where == WHERE_GUEST) {
		/* Nothing of the session listens there (its processes live in this network namespace). */
		snprintf(why, len,
			 "%s is a container or VM on this machine (reached through %s, a local %s): its services act for the agent "
			 "outside the gate; [loopback] connect_ports names the ports an agent may use",
			 text, g.dev, g.kind);
		return why;
	}
	int r = outside_service(type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP, port);
	if (r == 0)
		return NULL;
	if (r == 2) {
		/* Without a listener the kernel answers ECONNREFUSED, unless a NAT rule passes the connect on: a port
		 * published to a container or VM without a proxy process (docker with userland-proxy off, rootful podman,
		 * LXD's nat proxies) — its service acts for the agent as much as one listening here. */
		*err = ECONNREFUSED;
		*quiet = nobody_recorded(port);
		snprintf(why, len,
			 "nothing on this host listens on TCP port %u: refused with ECONNREFUSED, what the kernel answers, since a "
			 "NAT rule could pass the connect on to a container or VM (a port published without a proxy); "
			 "[loopback] connect_ports names the ports an agent may use",
			 port);
		return why;
	}
	if (r < 0)
		snprintf(why, len, "cannot tell who serves %s port %u of this host (inet sock_diag failed: %s): refused",
			 type == SOCK_STREAM ? "TCP" : "UDP", port, strerror(-r));
	else
		snprintf(why, len,
			 "a process outside the gate serves %s port %u on this host (the agent's own servers are reached; a "
			 "service outside would act for the agent outside the gate): [loopback] connect_ports names the ports "
			 "an agent may use",
			 type == SOCK_STREAM ? "TCP" : "UDP", port);
	return why;
}

/* The TCP sockets the session connected to this host (their cookies), for accept: the last CONNECTED_MAX. */
#define CONNECTED_MAX 4096
static uint64_t connected[CONNECTED_MAX];
static size_t nconnected, connected_next;

static void connected_add(int sfd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	if (getsockopt(sfd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return;
	connected[connected_next] = cookie;
	connected_next = (connected_next + 1) % CONNECTED_MAX;
	if (nconnected < CONNECTED_MAX)
		nconnected++;
}

static bool connected_has(uint64_t cookie)
{
	for (size_t i = 0; i < nconnected; i++)
		if (connected[i] == cookie)
			return true;
	return false;
}

/* The client end of an accepted connection: the socket whose local address is the peer's and whose remote
 * address is our end (v4-mapped as IPv4: a dual-stack socket talking IPv4 is found in the IPv4 table). */
struct client_find {
	int fam_src, fam_dst;
	unsigned char src[16], dst[16];
	uint16_t sport, dport;
	uint64_t cookie;
	bool found;
};

/* One exact inet sock_diag lookup by the 4-tuple (inet_diag_find_one_icsk: a hash lookup, not a walk of every
 * socket). 0 (c->found, c->cookie), or -errno. */
static int client_find(struct client_find *c)
{
	if (c->fam_src != c->fam_dst)
		return -EAFNOSUPPORT;
	if (diag_fd < 0) {
		diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (diag_fd < 0)
			return -errno;
	}
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST,
			 .nlmsg_seq = ++diag_seq },
		.r = { .sdiag_family = (uint8_t)c->fam_src, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
		       .id = { .idiag_sport = htons(c->sport), .idiag_dport = htons(c->dport),
			       .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	memcpy(req.r.id.idiag_src, c->src, c->fam_src == AF_INET ? 4 : 16);
	memcpy(req.r.id.idiag_dst, c->dst, c->fam_dst == AF_INET ? 4 : 16);
	if (send(diag_fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return -errno;
	union {
		char buf[8192];
		struct nlmsghdr align;
	} u;
	for (;;) {
		ssize_t got = recv(diag_fd, u.buf, sizeof(u.buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != diag_seq)
				continue; /* an answer to an earlier question that was not read to the end */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error == -ENOENT || e->error == 0 ? 0 : e->error;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			/* The lookup falls back to a listener on the address: only the connected socket counts. */
			if (ntohs(m->id.idiag_sport) == c->sport && ntohs(m->id.idiag_dport) == c->dport) {
				c->cookie = diag_cookie(m);
				c->found = true;
			}
			return 0;
		}
	}
}

/* Whether an accepted inet connection may go to the agent: from another host (the network's, which [network]
 * governs), from a socket the session connected, or on a port [loopback] accept_ports names. */
static bool loop_peer_ok(int nfd, const struct sockaddr_storage *peer, socklen_t plen, char *why, size_t len)
{
	struct target_addr p = { .len = plen }, me = { .len = sizeof(me.ss) };
	memcpy(&p.ss, peer, plen);
	struct client_find c = { 0 };
	if (!inet_dest(&p, &c.fam_src, c.src, &c.sport) || getsockname(nfd, (struct sockaddr *)&me.ss, &me.len) < 0 ||
	    !inet_dest(&me, &c.fam_dst, c.dst, &c.dport)) {
		snprintf(why, len, "the peer's address cannot be read: refused");
		return false;
	}
	struct host_route g;
	enum host_where where = where_is(c.fam_src, c.src, 0, &g);
	if (where == WHERE_ELSEWHERE || loop_port(c.dport, false))
		return true;
	char text[INET6_ADDRSTRLEN] = "?";
	inet_ntop(c.fam_src, c.src, text, sizeof(text));
	if (where == WHERE_UNKNOWN) {
		snprintf(why, len,
			 "cannot tell whether the client %s is this machine or a container or VM on it (%s): closed before the "
			 "agent could accept it",
			 text, strerror(g.err));
		return false;
	}
	if (where == WHERE_GUEST) {
		/* A container's or VM's program (Xdebug connecting back to the IDE's port) talking to the agent. */
		snprintf(why, len,
			 "a container or VM on this machine (%s port %u, through %s, a local %s) connected to the agent's TCP "
			 "port %u: closed before the agent could accept it (a program outside must never talk to the agent "
			 "through a port it thinks is another's); [loopback] accept_ports names the ports outside clients may reach",
			 text, c.sport, g.dev, g.kind, c.dport);
		return false;
	}
	int r = client_find(&c);
	if (r == 0 && c.found && connected_has(c.cookie))
		return true;
	snprintf(why, len,
		 "a process outside the gate (from %s port %u) connected to the agent's TCP port %u: closed before the agent "
		 "could accept it (a program outside must never talk to the agent through a port it thinks is another's); "
		 "[loopback] accept_ports names the ports outside clients may reach",
		 text, c.sport, c.dport);
	return false;
}

/* ---- operations that wait ---- */

enum wait_kind { WAIT_VERDICT, WAIT_CONNECT, WAIT_RETRY, WAIT_SEND, WAIT_ACCEPT };

struct send_msg {
	struct msghdr h;
	struct sockaddr_storage name;
	struct iovec iov;
	char *data, *control;
	int *fds; /* our references to SCM_RIGHTS descriptors */
	size_t nfds;
};

struct sock_op {
	enum wait_kind wait;
	uint64_t cookie, req_id;
	pid_t tid;
	int nr;
	int sfd, pathfd;
	struct target_addr addr; /* what we connect to (a pathname is rewritten to /proc/self/fd/<pathfd>) */
	bool abstract;
	uint64_t deadline_us; /* 0: none */
	uint64_t retry_at_us;
	/* send */
	struct send_msg *msgs;
	unsigned nmsgs, sent;
	int flags; /* the agent's send flags */
	uint64_t vec;   /* sendmmsg: where the mmsghdr array is, for msg_len */
	int64_t total;  /* bytes (sendto/sendmsg) */
	/* accept */
	uint64_t addr_ptr, len_ptr; /* where the peer's address and its length go (0: nowhere) */
};

static struct sock_op *ops;
static size_t nops, cap_ops;

static void free_msgs(struct sock_op *op)
{
	for (unsigned i = 0; i < op->nmsgs; i++) {
		free(op->msgs[i].data);
		free(op->msgs[i].control);
		for (size_t k = 0; k < op->msgs[i].nfds; k++)
			close(op->msgs[i].fds[k]);
		free(op->msgs[i].fds);
	}
	free(op->msgs);
	op->msgs = NULL;
	op->nmsgs = 0;
}

static void op_release(struct sock_op *op)
{
	if (op->sfd >= 0)
		close(op->sfd);
	if (op->pathfd >= 0)
		close(op->pathfd);
	free_msgs(op);
}

static struct sock_op *op_push(const struct sock_op *op)
{
	if (nops == cap_ops) {
		cap_ops = cap_ops ? cap_ops * 2 : 8;
		ops = xrealloc(ops, cap_ops * sizeof(*ops));
	}
	ops[nops] = *op;
	return &ops[nops++];
}

static void op_drop(size_t i)
{
	op_release(&ops[i]);
	ops[i] = ops[--nops];
}

/* SO_SNDTIMEO of the socket, as a deadline from now (0: none): a blocking connect or send gives up then. */
static uint64_t send_deadline(int sfd)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);
	if (getsockopt(sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
		return 0;
	return monotonic_us() + (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static bool blocking(int sfd)
{
	int fl = fcntl(sfd, F_GETFL);
	return fl >= 0 && !(fl & O_NONBLOCK);
}

#define RETRY_US 5000u

/* connect(2) on our reference. Answers and returns false, or returns true when the op must wait (a blocking
 * connect in progress, or a unix listener whose backlog is full). The descriptor is blocking for the agent:
 * O_NONBLOCK is set on the shared file description for the duration of the call so that we never block, and
 * the wait is ours. */
static bool do_connect(struct sock_op *op)
{
	int fl = fcntl(op->sfd, F_GETFL);
	bool block = fl >= 0 && !(fl & O_NONBLOCK);
	if (block)
		fcntl(op->sfd, F_SETFL, fl | O_NONBLOCK);
	int r = connect(op->sfd, (struct sockaddr *)&op->addr.ss, op->addr.len);
	int e = r < 0 ? errno : 0;
	if (block)
		fcntl(op->sfd, F_SETFL, fl);
	if (!block || (e != EINPROGRESS && e != EAGAIN)) {
		answer(op->cookie, e, 0);
		return false;
	}
	if (!op->deadline_us)
		op->deadline_us = send_deadline(op->sfd);
	op->wait = e == EINPROGRESS ? WAIT_CONNECT : WAIT_RETRY;
	op->retry_at_us = monotonic_us() + RETRY_US;
	return true;
}

/* ---- connect ---- */

static void on_connect(const struct seccomp_notif *n)
{
	pid_t tid = (pid_t)n->pid;
	struct sock_op op = { .cookie = n->id, .tid = tid, .nr = (int)n->data.nr, .sfd = -1, .pathfd = -1 };
	int err = read_addr(tid, n->data.args[1], n->data.args[2], &op.addr);
	if (err) {
		if (err != ESRCH)
			answer(n->id, err, 0);
		return;
	}
	op.sfd = take_socket(n, (int)n->data.args[0], &err);
	if (op.sfd < 0) {
		if (err)
			answer(n->id, err, 0);
		return;
	}
	int family = sockopt_int(op.sfd, SOL_SOCKET, SO_DOMAIN);
	int type = sockopt_int(op.sfd, SOL_SOCKET, SO_TYPE);
	int proto = sockopt_int(op.sfd, SOL_SOCKET, SO_PROTOCOL);
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	size_t name_len = 0;

	if (family == AF_UNIX && g_mode.unix_sealed && op.addr.ss.ss_family == AF_UNIX) {
		enum unix_kind kind = unix_name(&op.addr, name, &name_len);
		struct stat st;
		char canon[PATH_MAX] = "";
		ssize_t canon_len = -1;
		if (kind == UN_PATH) {
			int fd = open_as_target(tid, name);
			if (fd < 0) {
				op_release(&op);
				answer(n->id, -fd, 0);
				return;
			}
			op.pathfd = fd;
			if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
				op_release(&op);
				answer(n->id, ECONNREFUSED, 0); /* what unix_find_bsd answers for a file that is no socket */
				return;
			}
			char proc[64];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			canon_len = readlink(proc, canon, sizeof(canon) - 1);
			if (canon_len >= 0)
				canon[canon_len] = '\0';
			/* From now on the inode we hold is what we connect to, whatever the path names meanwhile. */
			struct sockaddr_un *un = (struct sockaddr_un *)&op.addr.ss;
			memset(un, 0, sizeof(*un));
			un->sun_family = AF_UNIX;
			int m = snprintf(un->sun_path, sizeof(un->sun_path), "/proc/self/fd/%d", fd);
			op.addr.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)m + 1);
		}
		if (kind != UN_UNNAMED) {
			enum owner who = g_mode.diag ? session_listener(kind == UN_PATH ? &st : NULL, name, name_len) : NOT_OURS;
			if (who == OURS_CLOSED || (who == NOT_OURS && kind == UN_PATH && bound_to(&st) == 0)) {
				/* Nobody listens there: what the kernel answers, without asking anyone. */
				op_release(&op);
				answer(n->id, ECONNREFUSED, 0);
				return;
			}
			if (who == NOT_OURS) {
				/* Not made in this session: the broker decides ([unix_sockets] allow), and records it. */
				op.abstract = kind == UN_ABSTRACT;
				op.req_id = g_new_id();
				op.wait = WAIT_VERDICT;
				op.deadline_us = g_cfg->timeout_ms ? monotonic_us() + (uint64_t)g_cfg->timeout_ms * 1000u : 0;
				buf_printf(&g_out, "SOCKET id=%llu tid=%d pid=%d op=connect family=unix type=%s abstract=%d name=",
					   (unsigned long long)op.req_id, (int)tid, (int)tgid_of(tid), type_word(type),
					   kind == UN_ABSTRACT);
				buf_hex(&g_out, name, name_len);
				if (canon_len > 0) {
					buf_puts(&g_out, " canon=");
					buf_hex(&g_out, canon, (size_t)canon_len);
				}
				buf_put(&g_out, "\n", 1);
				g_send(&g_out);
				g_out.len = 0;
				op_push(&op);
				return;
			}
			debug("connect by tid %d to a session listener: %s%s", (int)tid, kind == UN_ABSTRACT ? "@" : "", name);
		}
	} else if ((family == AF_INET || family == AF_INET6) && (g_mode.net_sealed || g_mode.loop_sealed) &&
		   op.addr.ss.ss_family != AF_UNSPEC) {
		int fam;
		unsigned char ip[16];
		uint16_t port;
		const char *why = NULL;
		char text[512];
		int refuse_err = EACCES;
		bool quiet = false;
		bool tcp = type == SOCK_STREAM && proto == IPPROTO_TCP;
		bool udp = type == SOCK_DGRAM && proto == IPPROTO_UDP;
		if (!inet_dest(&op.addr, &fam, ip, &port) || !g_mode.net_sealed) {
			why = NULL; /* a malformed address: the kernel says what is wrong with it */
		} else if (tcp) {
			if (!port_allowed(port, true) && !(port == 53 && is_resolver(fam, ip, port)))
				why = "TCP port not in [network] connect_tcp_ports";
		} else if (udp) {
			if (!is_resolver(fam, ip, port))
				why = g_cfg->ndns ? "UDP only to the DNS resolvers ([network] dns)" : "UDP is sealed ([network])";
		} else {
			why = "only TCP, and UDP to the resolvers, when [network] seals";
		}
		/* Services on this host outside the gate (MPTCP's too: its type is SOCK_STREAM). */
		if (!why && g_mode.loop_sealed)
			why = loop_refusal(op.sfd, &op.addr, type, proto, text, sizeof(text), &refuse_err, &quiet);
		if (!why && g_mode.loop_sealed && type == SOCK_STREAM && inet_dest(&op.addr, &fam, ip, &port) && is_this_host(fam, ip))
			connected_add(op.sfd); /* the session's own client: accept hands its connection over */
		if (why) {
			if (!quiet)
				report_refused(tid, "connect", family, &op.addr, why);
			op_release(&op);
			answer(n->id, refuse_err, 0);
			return;
		}
	} else if ((g_mode.net_sealed || g_mode.loop_sealed) && family != AF_UNIX && family != AF_NETLINK && family != AF_INET &&
		   family != AF_INET6) {
		/* A family the filter refuses to create (the descriptor came from elsewhere). */
		report_refused(tid, "connect", family, NULL,
			       g_mode.net_sealed ? "socket family sealed by [network]"
						 : "socket family sealed by [loopback]: only unix, netlink, TCP and UDP, whose "
						   "connects and sends the gate checks");
		op_release(&op);
		answer(n->id, EACCES, 0);
		return;
	}
	if (do_connect(&op))
		op_push(&op);
	else
		op_release(&op);
}

/* ---- accept (unix sockets sealed) ----
 *
 * A client outside the gate that finds the agent's listener — through a symlink the agent made where the
 * client looks (/tmp/ssh-X/agent.N → $TMPDIR/s), a /proc/PID/fd link, or an abstract name the agent took —
 * would be talking to the agent (red-team R31: `ssh-add` sent it a key). Landlock sees no symlink being
 * followed and no process outside its domain. So the supervisor performs accept(2) on its own reference to the
 * listener and hands the agent only connections made by the session: a unix peer whose SO_PEERCRED pid is
 * the supervisor (every connect of the session's processes is performed by it, see connect above) or one of
 * the session's processes (with Landlock's RESOLVE_UNIX they connect themselves). A connection from anyone
 * else is closed before the agent sees it — and what the client sent with it: nothing of a pending connection
 * can be read without accept — and recorded as refused. The new socket is put into the agent with
 * SECCOMP_IOCTL_NOTIF_ADDFD (its number is the call's result), with the flags of accept4(2); the address is
 * written back as the kernel would. Other families are accepted and handed over as they are. */

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

/* SO_RCVTIMEO of the listener, as a deadline from now (0: none): a blocking accept gives up then. */
static uint64_t recv_deadline(int sfd)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);
	if (getsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
		return 0;
	return monotonic_us() + (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Whether pid is the supervisor or one of the processes it started (they are its descendants: it is their
 * child subreaper). The parent chain is read from /proc; a pid 0 (a peer in another pid namespace) is not. */
static bool in_session(pid_t pid)
{
	pid_t self = getpid();
	for (int depth = 0; pid > 0 && depth < 1024; depth++) {
		if (pid == self)
			return true;
		if (pid == 1)
			return false;
		char path[64], text[1024];
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if (read_small_file(AT_FDCWD, path, text, sizeof(text)) < 0)
			return false;
		const char *p = strstr(text, "\nPPid:");
		if (!p)
			return false;
		pid = (pid_t)strtol(p + 6, NULL, 10);
	}
	return false;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Whether the process that connected (SO_PEERCRED's pid, taken at connect time) is the supervisor or in the
 * session. The pid alone is not enough: once the client has exited, the agent can fork until one of its own
 * processes has that number (red-team R76). So a peer other than the supervisor itself (every connect the
 * supervisor mediates is its own) counts only while SO_PEERPIDFD gives a pidfd of that very process and it
 * is still alive after the parent walk: a live process keeps its pid, so the walk read the right one. A
 * client that has exited, or a kernel without SO_PEERPIDFD (before 6.5), counts as outside. */
static bool peer_in_session(int nfd, pid_t pid)
{
	if (pid <= 0)
		return false;
	if (pid == getpid())
		return true;
	int pidfd = -1;
	socklen_t l = sizeof(pidfd);
	if (getsockopt(nfd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &l) < 0 || pidfd < 0)
		return false;
	bool ok = in_session(pid) && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
	close(pidfd);
	return ok;
}

/* A connection the agent may not have: a unix peer outside the session, or a TCP peer on this host that the
 * session did not connect (recorded). */
static bool outside_peer(const struct sock_op *op, int nfd, const struct sockaddr_storage *ss, socklen_t len)
{
	int family = sockopt_int(nfd, SOL_SOCKET, SO_DOMAIN);
	if ((family == AF_INET || family == AF_INET6) && g_mode.loop_sealed) {
		char why[512];
		if (loop_peer_ok(nfd, ss, len, why, sizeof(why)))
			return false;
		report_refused(op->tid, "accept", family, NULL, why);
		return true;
	}
	if (!g_mode.unix_sealed || family != AF_UNIX)
		return false;
	struct ucred cr = { 0, 0, 0 };
	socklen_t l = sizeof(cr);
	if (getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && peer_in_session(nfd, cr.pid))
		return false;
	struct target_addr me = { .len = sizeof(me.ss) };
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = "";
	size_t n = 0;
	enum unix_kind k = getsockname(op->sfd, (struct sockaddr *)&me.ss, &me.len) == 0 ? unix_name(&me, name, &n) : UN_UNNAMED;
	char why[512];
	snprintf(why, sizeof(why),
		 "a process outside the gate (pid %d, uid %u) connected to the agent's socket %s%.*s: closed before the agent "
		 "could accept it (a program outside must never talk to the agent through a socket it thinks is another's)",
		 (int)cr.pid, (unsigned)cr.uid, k == UN_ABSTRACT ? "@" : "", (int)n, name);
	report_refused(op->tid, "accept", AF_UNIX, NULL, why);
	return true;
}

/* Put the accepted socket into the agent as the call's result. */
static void hand_over(const struct sock_op *op, int nfd, const struct sockaddr_storage *ss, socklen_t len)
{
	if (!(op->flags & SOCK_NONBLOCK)) {
		int fl = fcntl(nfd, F_GETFL);
		if (fl >= 0)
			fcntl(nfd, F_SETFL, fl & ~O_NONBLOCK);
	}
	if (op->addr_ptr) {
		/* The kernel's move_addr_to_user: at most *addrlen bytes, and *addrlen set to the full length. */
		int32_t alen = 0;
		if (procmem_read(op->tid, op->len_ptr, &alen, sizeof(alen)) < 0) {
			answer(op->cookie, EFAULT, 0);
			return;
		}
		if (alen < 0) {
			answer(op->cookie, EINVAL, 0);
			return;
		}
		int32_t full = (int32_t)len;
		size_t n = (size_t)alen < (size_t)len ? (size_t)alen : (size_t)len;
		if ((n && procmem_write(op->tid, op->addr_ptr, ss, n) < 0) ||
		    procmem_write(op->tid, op->len_ptr, &full, sizeof(full)) < 0) {
			answer(op->cookie, EFAULT, 0);
			return;
		}
	}
	struct seccomp_notif_addfd add = {
		.id = op->cookie,
		.flags = SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)nfd,
		.newfd = 0,
		.newfd_flags = (op->flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0,
	};
	/* seccomp_unotify(2): with FLAG_SEND the descriptor's number is the call's result, atomically. */
	if (ioctl(g_listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) >= 0 || errno == ENOENT)
		return;
	if (errno == EINVAL) {
		/* Before Linux 5.14 (no ADDFD_FLAG_SEND): add the descriptor, then answer with its number. */
		add.flags = 0;
		int fd = ioctl(g_listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
		if (fd >= 0) {
			answer(op->cookie, 0, fd);
			return;
		}
	}
	answer(op->cookie, errno == EMFILE ? EMFILE : ENOMEM, 0);
}

/* accept4(2) on our reference, non-blocking (O_NONBLOCK on the shared listener for the length of the call:
 * every accept of the agent comes here, one at a time). Answers and returns false, or returns true when a
 * blocking accept must wait for a connection. Connections from outside are closed and the next one taken. */
static bool do_accept(struct sock_op *op)
{
	for (;;) {
		int fl = fcntl(op->sfd, F_GETFL);
		bool block = fl >= 0 && !(fl & O_NONBLOCK);
		if (block)
			fcntl(op->sfd, F_SETFL, fl | O_NONBLOCK);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int nfd = accept4(op->sfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int e = nfd < 0 ? errno : 0;
		if (block)
			fcntl(op->sfd, F_SETFL, fl);
		if (nfd < 0) {
			if (block && (e == EAGAIN || e == EWOULDBLOCK)) {
				if (!op->deadline_us)
					op->deadline_us = recv_deadline(op->sfd);
				op->wait = WAIT_ACCEPT;
				return true;
			}
			answer(op->cookie, e, 0);
			return false;
		}
		if (outside_peer(op, nfd, &ss, len)) {
			close(nfd);
			continue;
		}
		hand_over(op, nfd, &ss, len);
		close(nfd);
		return false;
	}
}

static void on_accept(const struct seccomp_notif *n)
{
	struct sock_op op = { .cookie = n->id, .tid = (pid_t)n->pid, .nr = (int)n->data.nr, .sfd = -1, .pathfd = -1 };
	op.flags = n->data.nr == __NR_accept4 ? (int)n->data.args[3] : 0;
	if (op.flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		answer(n->id, EINVAL, 0);
		return;
	}
	op.addr_ptr = n->data.args[1];
	op.len_ptr = op.addr_ptr ? n->data.args[2] : 0;
	int err = 0;
	op.sfd = take_socket(n, (int)n->data.args[0], &err);
	if (op.sfd < 0) {
		if (err)
			answer(n->id, err, 0);
		return;
	}
	if (do_accept(&op))
		op_push(&op);
	else
		op_release(&op);
}

/* ---- listen ---- */

static void on_listen(const struct seccomp_notif *n)
{
	pid_t tid = (pid_t)n->pid;
	int err = 0;
	AUTOCLOSE int sfd = take_socket(n, (int)n->data.args[0], &err);
	if (sfd < 0) {
		if (err)
			answer(n->id, err, 0);
		return;
	}
	int family = sockopt_int(sfd, SOL_SOCKET, SO_DOMAIN);
	if ((family == AF_INET || family == AF_INET6) && (g_mode.net_sealed || g_mode.loop_sealed)) {
		struct target_addr a = { .len = sizeof(a.ss) };
		int fam;
		unsigned char ip[16];
		uint16_t port = 0;
		if (getsockname(sfd, (struct sockaddr *)&a.ss, &a.len) == 0)
			inet_dest(&a, &fam, ip, &port);
		/* Unbound, listen(2) would bind an ephemeral port that no Landlock bind rule ever saw. */
		if (g_mode.net_sealed && port == 0 && !port_allowed(0, false)) {
			report_refused(tid, "listen", family, NULL, "listen on a socket not bound to an allowed port ([network] bind_tcp_ports)");
			answer(n->id, EACCES, 0);
			return;
		}
		/* A granted port is the agent's to serve on, not to share with a service outside the gate. A
		 * listen that is already on (a second call) changes nothing and is let through. */
		int f = sockopt_int(sfd, SOL_SOCKET, SO_ACCEPTCONN) == 1 ? 0 : port ? foreign_tcp_listener(port) : 0;
		if (f != 0) {
			report_refused(tid, "listen", family, &a,
				       f > 0 ? "a process outside the session listens on this port: a listener beside it "
					       "would take its connections"
					     : "cannot tell who else listens on this port (inet sock_diag failed)");
			answer(n->id, f > 0 ? EADDRINUSE : EACCES, 0);
			return;
		}
	}
	/* listen(2) on our reference: the socket checked is the socket that listens. */
	int r = listen(sfd, (int)n->data.args[1]);
	int e = r < 0 ? errno : 0;
	if (r == 0 && family == AF_UNIX && g_mode.unix_sealed)
		listener_add(sfd);
	if (r == 0 && (family == AF_INET || family == AF_INET6) && (g_mode.net_sealed || g_mode.loop_sealed))
		inet_listener_add(sfd);
	answer(n->id, e, 0);
}

/* ---- SO_REUSEADDR / SO_REUSEPORT (only when [network] seals with DNS allowed) ----
 *
 * Landlock never checks a UDP bind(2), and two UDP sockets that both set SO_REUSEADDR (any users), or
 * SO_REUSEPORT (the same user), share a port: the agent's socket would then receive what is sent to a service
 * outside the gate. UDP sockets exist only for DNS, which needs neither option: refused on them. On other
 * sockets the option is set by us on our reference (the descriptor number could name another socket by the
 * time the kernel re-read it); a TCP listen beside an outside listener is refused by on_listen. */
static void on_setsockopt(const struct seccomp_notif *n)
{
	pid_t tid = (pid_t)n->pid;
	int err = 0;
	AUTOCLOSE int sfd = take_socket(n, (int)n->data.args[0], &err);
	if (sfd < 0) {
		if (err)
			answer(n->id, err, 0);
		return;
	}
	int family = sockopt_int(sfd, SOL_SOCKET, SO_DOMAIN);
	int type = sockopt_int(sfd, SOL_SOCKET, SO_TYPE);
	int level = (int)n->data.args[1], name = (int)n->data.args[2];
	if ((family == AF_INET || family == AF_INET6) && type == SOCK_DGRAM) {
		report_refused(tid, "setsockopt", family, NULL,
			       name == SO_REUSEPORT ? "SO_REUSEPORT on a UDP socket: it would share a port with a socket outside the session"
						    : "SO_REUSEADDR on a UDP socket: it would share a port with a socket outside the session");
		answer(n->id, EPERM, 0);
		return;
	}
	/* The options are ints (sk_setsockopt reads at most an int; a shorter optlen is EINVAL there). */
	char val[16] = { 0 };
	uint64_t len = n->data.args[4];
	if ((int64_t)(int32_t)len < 0) {
		answer(n->id, EINVAL, 0);
		return;
	}
	size_t copy = (uint32_t)len < sizeof(val) ? (uint32_t)len : sizeof(val);
	if (copy && procmem_read(tid, n->data.args[3], val, copy) < 0) {
		if (errno != ESRCH)
			answer(n->id, EFAULT, 0);
		return;
	}
	int r = setsockopt(sfd, level, name, val, (socklen_t)copy);
	answer(n->id, r < 0 ? errno : 0, 0);
}

/* ---- sends (only when [network] seals with DNS allowed) ---- */

#define SEND_MAX (1u << 20)
#define CONTROL_MAX (64u * 1024u)
#define IOV_MAX_COUNT 1024u

struct user_msghdr64 {
	uint64_t name;
	int32_t namelen;
	int32_t pad0;
	uint64_t iov;
	uint64_t iovlen;
	uint64_t control;
	uint64_t controllen;
	int32_t flags;
	int32_t pad1;
};
_Static_assert(sizeof(struct user_msghdr64) == 56, "x86_64 struct msghdr");

/* Copy one message from the target. 0 or an errno for the agent (ESRCH: gone). */
static int copy_msg(pid_t tid, int pidfd, const struct user_msghdr64 *u, int type, struct send_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (u->name && u->namelen) {
		if (u->namelen < 0 || (size_t)u->namelen > sizeof(m->name))
			return EINVAL;
		if (procmem_read(tid, u->name, &m->name, (size_t)u->namelen) < 0)
			return errno == ESRCH ? ESRCH : EFAULT;
		m->h.msg_name = &m->name;
		m->h.msg_namelen = (socklen_t)u->namelen;
	}
	if (u->iovlen > IOV_MAX_COUNT)
		return EMSGSIZE;
	struct iovec *iov = NULL;
	if (u->iovlen) {
		iov = xmalloc(u->iovlen * sizeof(*iov));
		if (procmem_read(tid, u->iov, iov, u->iovlen * sizeof(*iov)) < 0) {
			free(iov);
			return errno == ESRCH ? ESRCH : EFAULT;
		}
	}
	size_t total = 0;
	for (uint64_t i = 0; i < u->iovlen; i++) {
		if (iov[i].iov_len > SEND_MAX || total + iov[i].iov_len > SEND_MAX) {
			if (type != SOCK_STREAM) {
				free(iov);
				return EMSGSIZE;
			}
			total = SEND_MAX; /* a stream send may be partial: send the first SEND_MAX bytes */
			break;
		}
		total += iov[i].iov_len;
	}
	m->data = xmalloc(total ? total : 1);
	size_t at = 0;
	for (uint64_t i = 0; i < u->iovlen && at < total; i++) {
		size_t len = iov[i].iov_len < total - at ? iov[i].iov_len : total - at;
		if (len && procmem_read(tid, (uint64_t)(uintptr_t)iov[i].iov_base, m->data + at, len) < 0) {
			free(iov);
			return errno == ESRCH ? ESRCH : EFAULT;
		}
		at += len;
	}
	free(iov);
	m->iov = (struct iovec){ m->data, total };
	m->h.msg_iov = &m->iov;
	m->h.msg_iovlen = 1;
	if (u->control && u->controllen) {
		if (u->controllen > CONTROL_MAX)
			return ENOBUFS;
		m->control = xmalloc(u->controllen);
		if (procmem_read(tid, u->control, m->control, u->controllen) < 0)
			return errno == ESRCH ? ESRCH : EFAULT;
		m->h.msg_control = m->control;
		m->h.msg_controllen = u->controllen;
		/* SCM_RIGHTS names the target's descriptors: pass our references to the same files instead. */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m->h); c; c = CMSG_NXTHDR(&m->h, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k == 0)
				continue;
			int *fds = (int *)CMSG_DATA(c);
			m->fds = xrealloc(m->fds, (m->nfds + k) * sizeof(int));
			for (size_t j = 0; j < k; j++) {
				int theirs;
				memcpy(&theirs, &fds[j], sizeof(int));
				int ours = (int)syscall(SYS_pidfd_getfd, pidfd, theirs, 0);
				if (ours < 0)
					return EBADF;
				m->fds[m->nfds++] = ours;
				memcpy(&fds[j], &ours, sizeof(int));
			}
		}
	}
	return 0;
}

/* The destination a message may not have: with [network] sealed, a UDP datagram with an address goes only
 * to a resolver (a connected socket's peer was checked at connect). NULL when it may be sent. */
static const char *send_refusal(int sfd, int family, int type, int proto, const struct send_msg *m, char *why, size_t len)
{
	if (!m->h.msg_name || !m->h.msg_namelen)
		return NULL;
	if ((family == AF_INET || family == AF_INET6) && type == SOCK_DGRAM) {
		struct target_addr a = { .len = m->h.msg_namelen };
		memcpy(&a.ss, m->h.msg_name, m->h.msg_namelen);
		int fam;
		unsigned char ip[16];
		uint16_t port;
		if (g_mode.net_sealed && inet_dest(&a, &fam, ip, &port) && !is_resolver(fam, ip, port))
			return "UDP only to the DNS resolvers ([network] dns)";
		int err;
		bool quiet;
		if (g_mode.loop_sealed)
			return loop_refusal(sfd, &a, type, proto, why, len, &err, &quiet); /* UDP: always EACCES, recorded */
	}
	if (family == AF_UNIX && type == SOCK_DGRAM && g_mode.unix_sealed)
		return "datagrams to unix sockets are sealed";
	if (g_mode.loop_sealed && family != AF_UNIX && family != AF_NETLINK && family != AF_INET && family != AF_INET6)
		return "socket family sealed by [loopback]"; /* a descriptor from elsewhere: the filter creates none */
	return NULL;
}

/* Send what is left of op's messages. Answers and returns false, or returns true to wait for POLLOUT. */
static bool do_send(struct sock_op *op)
{
	bool block = !(op->flags & MSG_DONTWAIT) && blocking(op->sfd);
	while (op->sent < op->nmsgs) {
		struct send_msg *m = &op->msgs[op->sent];
		ssize_t r = sendmsg(op->sfd, &m->h, (op->flags & ~MSG_FASTOPEN) | MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0) {
			int e = errno;
			if (e == EAGAIN && block && op->sent == 0) {
				if (!op->deadline_us)
					op->deadline_us = send_deadline(op->sfd);
				op->wait = WAIT_SEND;
				return true;
			}
			if (op->sent > 0)
				break; /* sendmmsg: what went out counts */
			if (e == EPIPE && !(op->flags & MSG_NOSIGNAL))
				syscall(SYS_tgkill, tgid_of(op->tid), op->tid, SIGPIPE); /* what the kernel would raise */
			answer(op->cookie, e, 0);
			return false;
		}
		op->total = r;
		if (op->nr == __NR_sendmmsg) {
			uint32_t len = (uint32_t)r;
			procmem_write(op->tid, op->vec + (uint64_t)op->sent * 64u + 56u, &len, sizeof(len));
		}
		op->sent++;
		if (op->nr != __NR_sendmmsg)
			break;
	}
	answer(op->cookie, 0, op->nr == __NR_sendmmsg ? (int64_t)op->sent : op->total);
	return false;
}

static void on_send(const struct seccomp_notif *n)
{
	pid_t tid = (pid_t)n->pid;
	struct sock_op op = { .cookie = n->id, .tid = tid, .nr = (int)n->data.nr, .sfd = -1, .pathfd = -1 };
	int err = 0;
	op.sfd = take_socket(n, (int)n->data.args[0], &err);
	if (op.sfd < 0) {
		if (err)
			answer(n->id, err, 0);
		return;
	}
	int family = sockopt_int(op.sfd, SOL_SOCKET, SO_DOMAIN);
	int type = sockopt_int(op.sfd, SOL_SOCKET, SO_TYPE);
	int proto = sockopt_int(op.sfd, SOL_SOCKET, SO_PROTOCOL);
	AUTOCLOSE int pidfd = thread_pidfd(tid);
	struct user_msghdr64 u;
	unsigned count = 1;

	if (op.nr == __NR_sendto) {
		/* sendto(fd, buf, len, flags, addr, addrlen): one message, copied straight from the target. */
		op.flags = (int)n->data.args[3];
		op.msgs = xcalloc(1, sizeof(*op.msgs));
		op.nmsgs = 1;
		struct send_msg *m = &op.msgs[0];
		int32_t namelen = (int32_t)n->data.args[5];
		size_t len = (size_t)n->data.args[2];
		if (n->data.args[4] && namelen) {
			if (namelen < 0 || (size_t)namelen > sizeof(m->name))
				err = EINVAL;
			else if (procmem_read(tid, n->data.args[4], &m->name, (size_t)namelen) < 0)
				err = EFAULT;
			m->h.msg_name = &m->name;
			m->h.msg_namelen = (socklen_t)namelen;
		}
		if (!err && len > SEND_MAX) {
			if (type != SOCK_STREAM)
				err = EMSGSIZE;
			len = SEND_MAX; /* a stream send may be partial */
		}
		if (!err) {
			m->data = xmalloc(len ? len : 1);
			if (len && procmem_read(tid, n->data.args[1], m->data, len) < 0)
				err = EFAULT;
			m->iov = (struct iovec){ m->data, len };
			m->h.msg_iov = &m->iov;
			m->h.msg_iovlen = 1;
		}
	} else {
		op.flags = (int)n->data.args[op.nr == __NR_sendmmsg ? 3 : 2];
		if (op.nr == __NR_sendmmsg) {
			count = (unsigned)n->data.args[2];
			if (count > IOV_MAX_COUNT)
				count = IOV_MAX_COUNT; /* the kernel caps vlen at UIO_MAXIOV too */
			op.vec = n->data.args[1];
		}
		op.msgs = xcalloc(count ? count : 1, sizeof(*op.msgs));
		for (unsigned i = 0; i < count && !err; i++) {
			uint64_t at = op.nr == __NR_sendmmsg ? op.vec + (uint64_t)i * 64u : n->data.args[1];
			if (procmem_read(tid, at, &u, sizeof(u)) < 0) {
				err = errno == ESRCH ? ESRCH : EFAULT;
				break;
			}
			op.nmsgs = i + 1;
			err = copy_msg(tid, pidfd, &u, type, &op.msgs[i]);
		}
	}
	if (!err && !id_valid(n->id))
		err = ESRCH;
	for (unsigned i = 0; i < op.nmsgs && !err; i++) {
		char text[512];
		const char *why = send_refusal(op.sfd, family, type, proto, &op.msgs[i], text, sizeof(text));
		if (why) {
			struct target_addr a = { .len = op.msgs[i].h.msg_namelen };
			memcpy(&a.ss, op.msgs[i].h.msg_name, a.len);
			report_refused(tid, "send", family, &a, why);
			err = EACCES;
		}
	}
	if (err) {
		op_release(&op);
		if (err != ESRCH)
			answer(n->id, err, 0);
		return;
	}
	if (do_send(&op))
		op_push(&op);
	else
		op_release(&op);
}

/* ---- public ---- */

const char *sockets_probe(bool *diag)
{
	int sv[2];
	*diag = false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return "socketpair";
	/* pidfd_getfd(2) (Linux 5.6) on ourselves: what taking the target's socket needs. */
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	int got = pfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pfd, sv[0], 0);
	const char *missing = got < 0 ? "pidfd_getfd (Linux 5.6)" : NULL;
	if (got >= 0)
		close(got);
	if (pfd >= 0)
		close(pfd);
	struct stat st;
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	struct listener l;
	if (fstat(sv[0], &st) == 0 && getsockopt(sv[0], SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0)
		*diag = diag_query((uint32_t)st.st_ino, cookie, &l) == 0;
	close(sv[0]);
	close(sv[1]);
	return missing;
}

void sockets_init(int listener, const struct config *c, const struct sockets_mode *m, void (*send_line)(struct buf *line),
		  uint64_t (*new_id)(void))
{
	g_listener = listener;
	g_cfg = c;
	g_mode = *m;
	g_send = send_line;
	g_new_id = new_id;
}

/* socket(2) of a family the filter does not create while [loopback] seals (red-team R103): refused as a kernel
 * without it would, and recorded with the family's name. */
static void on_socket(const struct seccomp_notif *n)
{
	int family = (int)(uint32_t)n->data.args[0];
	char why[200];
	snprintf(why, sizeof(why),
		 "socket family %s (%d) sealed by [loopback]: only unix, netlink, TCP and UDP, whose connects and "
		 "sends the gate checks (vsock and the like reach services outside the gate)",
		 family_word(family), family);
	report_refused((pid_t)n->pid, "socket", family, NULL, why);
	answer(n->id, EAFNOSUPPORT, 0);
}

void sockets_on_notification(const struct seccomp_notif *n)
{
	switch (n->data.nr) {
	case __NR_socket:
		on_socket(n);
		break;
	case __NR_connect:
		on_connect(n);
		break;
	case __NR_listen:
		on_listen(n);
		break;
	case __NR_accept:
	case __NR_accept4:
		on_accept(n);
		break;
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg:
		on_send(n);
		break;
	case __NR_setsockopt:
		on_setsockopt(n);
		break;
	default:
		answer(n->id, ENOSYS, 0);
	}
}

bool sockets_on_verdict(uint64_t id, bool allow)
{
	for (size_t i = 0; i < nops; i++) {
		struct sock_op *op = &ops[i];
		if (op->wait != WAIT_VERDICT || op->req_id != id)
			continue;
		if (!allow) {
			answer(op->cookie, op->abstract ? EPERM : EACCES, 0);
			op_drop(i);
		} else {
			op->deadline_us = 0;
			if (!do_connect(op))
				op_drop(i);
		}
		return true;
	}
	return false;
}

size_t sockets_pollfds(struct pollfd *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < nops && k < max; i++)
		if (ops[i].wait == WAIT_CONNECT || ops[i].wait == WAIT_SEND || ops[i].wait == WAIT_ACCEPT)
			out[k++] = (struct pollfd){ .fd = ops[i].sfd, .events = ops[i].wait == WAIT_ACCEPT ? POLLIN : POLLOUT };
	return k;
}

void sockets_after_poll(const struct pollfd *fds, size_t n)
{
	uint64_t now = monotonic_us();
	for (size_t i = 0; i < nops;) {
		struct sock_op *op = &ops[i];
		bool ready = false;
		for (size_t k = 0; k < n; k++)
			if (fds[k].fd == op->sfd && fds[k].revents)
				ready = true;
		bool keep = true;
		if (op->wait == WAIT_VERDICT) {
			if (op->deadline_us && now >= op->deadline_us) {
				/* No verdict in time: refused, recorded first when we write the log (as for execs), and the
				 * broker told (its late VERDICT is ignored). */
				if (audit_active()) {
					struct buf json = { 0 };
					buf_puts(&json, "{\"type\":\"supervisor_timeout\",\"time\":\"");
					buf_iso_time(&json);
					buf_puts(&json, "\",\"session\":");
					buf_puts(&json, g_cfg->session_json ? g_cfg->session_json : "\"\"");
					buf_printf(&json,
						   ",\"request\":%llu,\"verdict\":\"deny\",\"reason\":\"no verdict on a unix "
						   "socket connect within on_supervisor_timeout_ms = %u: refused\"}",
						   (unsigned long long)op->req_id, g_cfg->timeout_ms);
					int r = audit_append(json.p, json.len, NULL);
					buf_free(&json);
					if (r < 0)
						die_errno("cannot write the audit log %s", audit_path());
				}
				buf_printf(&g_out, "TIMEOUT id=%llu action=deny\n", (unsigned long long)op->req_id);
				g_send(&g_out);
				g_out.len = 0;
				answer(op->cookie, EACCES, 0);
				keep = false;
			}
		} else if (!id_valid(op->cookie)) {
			keep = false; /* the target died or was interrupted: nobody waits for the answer */
		} else if (op->wait == WAIT_CONNECT && ready) {
			int e = sockopt_int(op->sfd, SOL_SOCKET, SO_ERROR);
			answer(op->cookie, e < 0 ? EIO : e, 0);
			keep = false;
		} else if (op->wait == WAIT_SEND && ready) {
			keep = do_send(op);
		} else if (op->wait == WAIT_ACCEPT && ready) {
			keep = do_accept(op);
		} else if (op->wait == WAIT_RETRY && now >= op->retry_at_us) {
			keep = do_connect(op);
		}
		if (keep && op->wait != WAIT_VERDICT && op->deadline_us && now >= op->deadline_us) {
			/* SO_SNDTIMEO (SO_RCVTIMEO for accept) ran out: what the kernel's blocking wait answers. */
			answer(op->cookie, op->wait == WAIT_CONNECT ? EINPROGRESS : EAGAIN, 0);
			keep = false;
		}
		if (keep)
			i++;
		else
			op_drop(i);
	}
}

int sockets_timeout_ms(void)
{
	if (!nops)
		return -1;
	uint64_t now = monotonic_us(), next = now + 100000u; /* check waiting targets are alive every 100 ms */
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].deadline_us && ops[i].deadline_us < next)
			next = ops[i].deadline_us;
		if (ops[i].wait == WAIT_RETRY && ops[i].retry_at_us < next)
			next = ops[i].retry_at_us;
	}
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}
