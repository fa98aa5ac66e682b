/* Fact gathering: what the kernel will run for a stopped execve/execveat, read from /proc and the target's
 * memory. Every read of target state is followed by SECCOMP_IOCTL_NOTIF_ID_VALID before it is trusted (the
 * tid could have died and been reused). These facts are policy input, not a boundary: another thread of a
 * hostile target can change argv after we read it (see docs/protocol.md, "Boundary vs verdict"). */
#include "facts.h"
#include "procmem.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static bool id_valid(int listener, uint64_t id)
{
	/* seccomp_unotify(2): the target is still blocked in this very syscall. */
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* ---- sha256 cache keyed by identity ---- */

#define HASH_CACHE_SLOTS 1024
#define HASH_MAX_BYTES (1ull << 30)
static struct {
	bool used;
	struct file_id id;
	unsigned char sha[32];
} hash_cache[HASH_CACHE_SLOTS];

/* The same for the ELF prefix hash (file_facts.has_prefix), with its answer "none" kept too. */
static struct {
	bool used, has;
	struct file_id id;
	uint64_t size;
	unsigned char sha[32];
} prefix_cache[HASH_CACHE_SLOTS];

static uint16_t le16(const unsigned char *p);
static uint32_t le32(const unsigned char *p);
static uint64_t le64(const unsigned char *p);

static bool same_id(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static size_t id_slot(const struct file_id *id)
{
	return (size_t)((id->dev * 0x9e3779b97f4a7c15ull) ^ id->ino) % HASH_CACHE_SLOTS;
}

/* path is dir or below it (both canonical, no trailing slash except "/" itself). */
static bool path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Whether a file of this size could match a program the policy names by content (HASH_SIZES): a hash is
 * compared only with programs of the same size, so any other size is never worth reading (a 400 MB agent
 * binary in a writable place costs nothing to identify). */
static bool loader_size(uint64_t size);
static bool size_wanted(uint64_t size, const struct config *c)
{
	size_t lo = 0, hi = c->nhash_sizes;

	/* A copy of the dynamic loader is recognised by its content too (is_loader), whatever the policy names. */
	if (!c->hash_sizes_set || loader_size(size))
		return true;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->hash_sizes[mid] == size)
			return true;
		if (c->hash_sizes[mid] < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool under_prefix(const char *path, const struct config *c)
{
	for (size_t i = 0; i < c->nhash_under; i++)
		if (path_is_under(path, c->hash_under[i]))
			return true;
	return false;
}

/* A memfd, a deleted file, or anything else without an honest path: its content is all there is to go by
 * (and it was almost certainly written by the agent), so it is hashed wherever it lives. */
static bool is_unnamed(const char *path)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(path), d = sizeof(deleted) - 1;

	return path[0] != '/' || strncmp(path, "/memfd:", 7) == 0 || (n > d && strcmp(path + n - d, deleted) == 0);
}

/* An O_PATH descriptor opened again for I/O, through /proc/self/fd (the same file, whatever its name now). */
static int reopen_fd(int pathfd, int flags)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	return open(proc, flags | O_CLOEXEC);
}

/* The canonical path of what a descriptor names (readlink of /proc/self/fd/N), NUL-terminated; its length or -1. */
static ssize_t fd_path(int fd, char *out, size_t cap)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, out, cap - 1);
	if (n >= 0)
		out[n] = '\0';
	return n;
}

static void hash_file(int pathfd, struct file_facts *ff)
{
	size_t slot = id_slot(&ff->id);

	/* A planted multi-GB file must not stall every exec of the session: no hash then, and identity rules
	 * by hash simply do not match it. */
	if (ff->id.size > HASH_MAX_BYTES)
		return;
	if (hash_cache[slot].used && same_id(&hash_cache[slot].id, &ff->id)) {
		memcpy(ff->sha, hash_cache[slot].sha, 32);
		ff->has_sha = true;
		return;
	}
	AUTOCLOSE int fd = reopen_fd(pathfd, O_RDONLY | O_NOCTTY);
	if (fd < 0 || sha256_fd(fd, ff->sha) < 0)
		return;
	ff->has_sha = true;
	hash_cache[slot].used = true;
	hash_cache[slot].id = ff->id;
	memcpy(hash_cache[slot].sha, ff->sha, 32);
}

/* R34: an ELF with bytes appended past its end (e_shoff + e_shnum * e_shentsize: the section header table,
 * which the linker writes last) runs as the ELF it was, so it is recognised by the hash of the bytes up to that
 * end, when the policy names a program of that size. Two preads and a hash of that prefix, once per identity. */
static void prefix_hash(int pathfd, struct file_facts *ff, const struct config *c)
{
	size_t slot = id_slot(&ff->id);

	ff->has_prefix = false;
	if (ff->id.size < 64 || ff->id.size > HASH_MAX_BYTES)
		return;
	if (prefix_cache[slot].used && same_id(&prefix_cache[slot].id, &ff->id)) {
		ff->has_prefix = prefix_cache[slot].has;
		ff->prefix_size = prefix_cache[slot].size;
		memcpy(ff->prefix_sha, prefix_cache[slot].sha, 32);
		return;
	}
	AUTOCLOSE int fd = reopen_fd(pathfd, O_RDONLY | O_NOCTTY);
	unsigned char h[64];
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return; /* not cached: a transient failure is tried again */
	uint64_t end = 0;
	if (memcmp(h, "\x7f" "ELF", 4) == 0 && h[5] == 1 /* little-endian */) {
		if (h[4] == 2)
			end = le64(h + 0x28) + (uint64_t)le16(h + 0x3c) * le16(h + 0x3a);
		else if (h[4] == 1)
			end = le32(h + 0x20) + (uint64_t)le16(h + 0x30) * le16(h + 0x2e);
	}
	bool has = false;
	unsigned char sha[32];
	if (end >= 64 && end < ff->id.size && size_wanted(end, c)) {
		static unsigned char chunk[1 << 16];
		struct sha256 st;
		uint64_t off = 0;
		sha256_init(&st);
		while (off < end) {
			size_t want = end - off < sizeof(chunk) ? (size_t)(end - off) : sizeof(chunk);
			ssize_t got = pread(fd, chunk, want, (off_t)off);
			if (got <= 0)
				return;
			sha256_update(&st, chunk, (size_t)got);
			off += (uint64_t)got;
		}
		sha256_final(&st, sha);
		has = true;
	}
	prefix_cache[slot].used = true;
	prefix_cache[slot].id = ff->id;
	prefix_cache[slot].has = has;
	prefix_cache[slot].size = end;
	memcpy(prefix_cache[slot].sha, sha, 32);
	ff->has_prefix = has;
	ff->prefix_size = end;
	memcpy(ff->prefix_sha, sha, 32);
}

/* ---- path resolution ---- */

/* What the kernel would open for a path the target gives it, resolved in the *target's* context (red-team R5).
 * /proc/self and /proc/thread-self name whoever resolves them, and the magic links under /proc/<pid>/ (exe, cwd,
 * root, fd/N, map_files/…) jump to an object instead of naming a path: resolved by the supervisor, a symlink to
 * /proc/self/fd/3 (or /dev/fd/3, /proc/./self/…, a relative chain climbing to /proc, a #! line naming one)
 * would name the supervisor's descriptor, its cwd, its program. Two steps:
 *   1. openat2(RESOLVE_NO_MAGICLINKS): one syscall, and the answer for almost every exec. A path that reaches
 *      no magic link resolves the same for anyone: what differs for the supervisor is only which /proc/<pid>
 *      a "self" names, and without a magic link nothing under a /proc/<pid> directory leads out of procfs,
 *      whose files are never executable.
 *   2. ELOOP there (a magic link on the way, or a real loop): the path is walked one component at a time, as
 *      the kernel walks it, with "self" and "thread-self" at a procfs root read as the target's pid and thread
 *      (not ours), and every other procfs link followed by the kernel itself (a magic link jumps to the object
 *      of the /proc/<pid> it is in, whoever follows it). Symlinks count against the kernel's limit of 40.
 * The supervisor and the target share the root (chroot is refused in the sandbox; a root agent's mount
 * namespace differs from ours only by its own /proc and read-only bind mounts of the same files). */

/* basefd meaning "the target's cwd", opened only when a relative path needs it (most paths are absolute).
 * Through an fd on /proc/<tid>/cwd, which works even when the cwd is deleted or not reachable by path. */
#define TARGET_CWD (-2)
#define MAXSYMLINKS 40
#define PROC_SUPER_MAGIC_ 0x9fa0
#define PROC_ROOT_INO_ 1
#define WALK_MAX (PATH_MAX * 4)

/* Whom a path is resolved for. IN_EXEC: the exec's own path and the interpreters the kernel opens during the
 * exec (open_exec runs in the calling thread: "self" is its thread group, "thread-self" the thread). AFTER_EXEC:
 * a name the dynamic loader opens once the new image runs (its fds are those left after close-on-exec, its
 * /proc/self/exe is the loader): a magic link there is refused instead of guessed. */
enum resolve_ctx { IN_EXEC, AFTER_EXEC };
/* open_as_target's answer (negated) for a magic link met in AFTER_EXEC. */
#define EMAGIC 4095

static pid_t tgid_of(pid_t tid)
{
	char path[64], text[2048];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	const char *p = strstr(text, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

static bool in_procfs(int fd)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC_;
}

/* Replace `fd` (owned) by `next`. */
static void step(int *fd, int next)
{
	if (*fd >= 0)
		close(*fd);
	*fd = next;
}

/* Step 2 above. O_PATH fd or -errno. */
static int walk_as_target(pid_t tid, int startfd, const char *path, bool nofollow, enum resolve_ctx ctx)
{
	static char text[WALK_MAX], tmp[WALK_MAX];
	size_t len = strlen(path);
	int links = 0, cur = -1, err = 0;
	pid_t tgid = 0;

	if (len >= WALK_MAX)
		return -ENAMETOOLONG;
	memcpy(text, path, len + 1);
	cur = path[0] == '/' ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : fcntl(startfd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	char *p = text;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return cur; /* "/" or a trailing slash: the directory itself */
		char *q = p;
		while (*q && *q != '/')
			q++;
		size_t clen = (size_t)(q - p);
		bool last = *q == '\0';
		char comp[NAME_MAX + 1];
		if (clen > NAME_MAX) {
			err = ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, clen);
		comp[clen] = '\0';
		p = q;
		if (strcmp(comp, ".") == 0) {
			if (last)
				return cur;
			continue;
		}
		/* ".." at the root stays there, for the kernel's walk and for openat alike. */
		int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			err = errno;
			break;
		}
		struct stat st;
		if (fstat(next, &st) < 0) {
			err = errno;
			close(next);
			break;
		}
		if (S_ISLNK(st.st_mode) && !(last && nofollow)) {
			if (++links > MAXSYMLINKS) {
				err = ELOOP;
				close(next);
				break;
			}
			char target[PATH_MAX];
			ssize_t tl;
			struct stat cst;
			bool proc = in_procfs(next);
			if (proc && fstat(cur, &cst) == 0 && cst.st_ino == PROC_ROOT_INO_ &&
			    (strcmp(comp, "self") == 0 || strcmp(comp, "thread-self") == 0)) {
				/* The procfs root's own links: their text is the resolver's pid. Ours must be what they
				 * say (the same pid namespace as the procfs we look at), and the target's goes instead. */
				char ours[64];
				tl = readlinkat(next, "", target, sizeof(target) - 1);
				if (comp[0] == 's')
					snprintf(ours, sizeof(ours), "%d", (int)getpid());
				else
					snprintf(ours, sizeof(ours), "%d/task/%d", (int)getpid(), (int)gettid());
				if (tl < 0 || (size_t)tl != strlen(ours) || memcmp(target, ours, (size_t)tl) != 0) {
					err = EACCES; /* a procfs of another pid namespace: fail closed */
					close(next);
					break;
				}
				if (!tgid && (tgid = tgid_of(tid)) <= 0) {
					err = ESRCH;
					close(next);
					break;
				}
				if (comp[0] == 's')
					tl = snprintf(target, sizeof(target), "%d", (int)tgid);
				else
					tl = snprintf(target, sizeof(target), "%d/task/%d", (int)tgid, (int)tid);
			} else if (proc && !(fstat(cur, &cst) == 0 && cst.st_ino == PROC_ROOT_INO_)) {
				/* Below the procfs root: the kernel follows it (a magic link jumps to the object of the
				 * /proc/<pid> it is in, which we have resolved for the target already). */
				close(next);
				if (ctx == AFTER_EXEC) {
					err = EMAGIC;
					break;
				}
				next = openat(cur, comp, O_PATH | O_CLOEXEC);
				if (next < 0) {
					err = errno;
					break;
				}
				if (fstat(next, &st) < 0) {
					err = errno;
					close(next);
					break;
				}
				if (last) {
					step(&cur, next);
					return cur;
				}
				if (!S_ISDIR(st.st_mode)) {
					err = ENOTDIR;
					close(next);
					break;
				}
				step(&cur, next);
				continue;
			} else {
				tl = readlinkat(next, "", target, sizeof(target) - 1);
			}
			close(next);
			if (tl < 0) {
				err = errno;
				break;
			}
			if (tl == 0) {
				err = ENOENT;
				break;
			}
			size_t rest = strlen(p);
			if ((size_t)tl + 1 + rest >= WALK_MAX) {
				err = ENAMETOOLONG;
				break;
			}
			memcpy(tmp, target, (size_t)tl);
			tmp[tl] = '/';
			memcpy(tmp + tl + 1, p, rest + 1);
			if (rest == 0)
				tmp[tl] = '\0'; /* no trailing slash where there was none */
			memcpy(text, tmp, (size_t)tl + 1 + rest + 1);
			p = text;
			if (target[0] == '/') {
				int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (root < 0) {
					err = errno;
					break;
				}
				step(&cur, root);
			}
			continue;
		}
		if (last) {
			step(&cur, next);
			return cur;
		}
		if (!S_ISDIR(st.st_mode)) {
			err = ENOTDIR;
			close(next);
			break;
		}
		step(&cur, next);
	}
	close(cur);
	return -err;
}

/* Open (O_PATH) what the kernel would open for `path` relative to basefd, in the target's context. -errno on
 * failure (-EMAGIC: a magic link in AFTER_EXEC). */
static int open_as_target_ctx(pid_t tid, int basefd, const char *path, bool nofollow, enum resolve_ctx ctx)
{
	char buf[64];
	AUTOCLOSE int cwdfd = -1;

	if (path[0] != '/' && basefd == TARGET_CWD) {
		snprintf(buf, sizeof(buf), "/proc/%d/cwd", (int)tid);
		cwdfd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwdfd < 0)
			return -ENOENT;
		basefd = cwdfd;
	}
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	int dirfd = path[0] == '/' ? AT_FDCWD : basefd;
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	int err = errno;
	/* A failure is the target's too only when it came before the walk entered procfs, where "self" would
	 * have named us (our /proc/self/fd/10 may not exist where the target's does): the same failure without
	 * crossing a mount says so (a PATH probe: one more syscall). */
	if (err != ELOOP && !(dirfd != AT_FDCWD && in_procfs(dirfd))) {
		how.resolve |= RESOLVE_NO_XDEV;
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			close(fd); /* it exists now: the path changed meanwhile */
		else if (errno == err)
			return -err;
	}
	return walk_as_target(tid, basefd, path, nofollow, ctx);
}

static int open_as_target(pid_t tid, int basefd, const char *path, bool nofollow)
{
	return open_as_target_ctx(tid, basefd, path, nofollow, IN_EXEC);
}

/* Fill identity facts from an O_PATH fd. Returns 0 or the errno the kernel's exec would give (exec false: a
 * file ld.so would map, which needs no execute bit). */
static int file_facts_of(int fd, const struct config *c, struct file_facts *ff, bool exec)
{
	struct stat st;

	ff->present = false;
	if (fstat(fd, &st) < 0)
		return errno;
	if (S_ISLNK(st.st_mode))
		return ELOOP; /* AT_SYMLINK_NOFOLLOW on a symlink */
	if (!S_ISREG(st.st_mode))
		return EACCES; /* execve(2): directories and special files are EACCES */
	if (exec && !(st.st_mode & 0111))
		return EACCES;
	ssize_t n = fd_path(fd, ff->path, sizeof(ff->path));
	if (n < 0)
		return errno;
	ff->path_len = (size_t)n;
	ff->id.dev = st.st_dev;
	ff->id.ino = st.st_ino;
	ff->id.size = (uint64_t)st.st_size;
	ff->id.mtime = st.st_mtim;
	ff->id.ctime = st.st_ctim;
	ff->nlink = (uint64_t)st.st_nlink;
	ff->has_sha = false;
	ff->has_prefix = false;
	ff->present = true;
	bool placed = under_prefix(ff->path, c) || is_unnamed(ff->path);
	if ((placed && size_wanted(ff->id.size, c)) || is_unnamed(ff->path))
		hash_file(fd, ff);
	if (placed)
		prefix_hash(fd, ff, c);
	return 0;
}

static int file_facts_from_fd(int fd, const struct config *c, struct file_facts *ff)
{
	return file_facts_of(fd, c, ff, true);
}

/* ---- truncate(2) for the agent ----
 * Landlock's TRUNCATE right is not handled (landlock.c), so the filter sends truncate(2) here. We resolve the
 * path once, as the target would (its cwd, symlinks followed), hold the file by an O_PATH fd, check the file's
 * canonical path against the write grants, and truncate that very file through the fd: what is checked is
 * what is truncated, whatever the agent does to the path meanwhile. Reopening through /proc/self/fd applies
 * the usual permission checks (same uid as the agent). */
static bool under_write_grant(const char *canon, const struct config *c)
{
	static char **roots; /* canonical paths of the write grants, made on first use */
	static size_t nroots;
	static bool made;

	if (!made) {
		made = true;
		roots = xmalloc((c->ngrants + 1) * sizeof(*roots));
		for (size_t i = 0; i < c->ngrants; i++) {
			if (!strchr(c->grants[i].rights, 'w'))
				continue;
			char *r = realpath(c->grants[i].path, NULL);
			if (r)
				roots[nroots++] = r;
		}
	}
	for (size_t i = 0; i < nroots; i++)
		if (path_is_under(canon, roots[i]))
			return true;
	return false;
}

int facts_open_as_target(pid_t tid, int basefd, const char *path, bool nofollow)
{
	return open_as_target(tid, basefd < 0 ? TARGET_CWD : basefd, path, nofollow);
}

bool facts_under_write_grant(const char *canon, const struct config *c)
{
	return under_write_grant(canon, c);
}

/* A thread's file-system credentials: fsuid, fsgid and supplementary groups (setfsuid(2), per thread: a root
 * supervisor's DAC capabilities leave its effective set while the fsuid is not 0, and come back with it). */
#define GROUPS_MAX 256
struct fs_creds {
	bool changed;
	uid_t fsuid;
	gid_t fsgid;
	int ngroups;
	gid_t groups[GROUPS_MAX];
};

static void restore_creds(const struct fs_creds *saved)
{
	if (!saved->changed)
		return;
	syscall(SYS_setfsuid, saved->fsuid);
	syscall(SYS_setfsgid, saved->fsgid);
	syscall(SYS_setgroups, saved->ngroups, saved->groups);
}

/* Take on the target thread's fsuid, fsgid and groups (from /proc/<tid>/status) when we are root and they
 * differ; `saved` gets ours back. 0, or -1 when they cannot be read or taken (fail closed). */
static int as_target_creds(pid_t tid, struct fs_creds *saved)
{
	char path[64], text[4096];
	saved->changed = false;
	if (geteuid() != 0)
		return 0; /* the agent's own user: the kernel checks us as it would check it */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_small_file(AT_FDCWD, path, text, sizeof(text)) <= 0)
		return -1;
	const char *u = strstr(text, "\nUid:"), *g = strstr(text, "\nGid:"), *gs = strstr(text, "\nGroups:");
	unsigned long uv[4], gv[4];
	if (!u || !g || !gs || sscanf(u + 5, "%lu %lu %lu %lu", &uv[0], &uv[1], &uv[2], &uv[3]) != 4 ||
	    sscanf(g + 5, "%lu %lu %lu %lu", &gv[0], &gv[1], &gv[2], &gv[3]) != 4)
		return -1;
	gid_t groups[GROUPS_MAX];
	int ng = 0;
	for (const char *q = gs + 8; *q && *q != '\n';) {
		char *end;
		unsigned long v = strtoul(q, &end, 10);
		if (end == q) {
			q++;
			continue;
		}
		if (ng == GROUPS_MAX)
			return -1;
		groups[ng++] = (gid_t)v;
		q = end;
	}
	if (uv[3] == 0)
		return 0; /* a root agent: its capabilities are a subset of ours for files (privs.c keeps DAC ones) */
	saved->ngroups = getgroups(GROUPS_MAX, saved->groups);
	if (saved->ngroups < 0)
		return -1;
	saved->fsuid = (uid_t)syscall(SYS_setfsuid, -1);
	saved->fsgid = (gid_t)syscall(SYS_setfsgid, -1);
	saved->changed = true;
	if (syscall(SYS_setgroups, ng, groups) < 0) {
		restore_creds(saved);
		return -1;
	}
	syscall(SYS_setfsgid, (gid_t)gv[3]);
	syscall(SYS_setfsuid, (uid_t)uv[3]);
	if ((uid_t)syscall(SYS_setfsuid, -1) != (uid_t)uv[3] || (gid_t)syscall(SYS_setfsgid, -1) != (gid_t)gv[3]) {
		restore_creds(saved);
		return -1;
	}
	return 0;
}

int facts_truncate(int listener, const struct seccomp_notif *n, const struct config *c)
{
	pid_t tid = (pid_t)n->pid;
	char path[PATH_MAX], canon[PATH_MAX];
	int64_t length = (int64_t)n->data.args[1];

	ssize_t len = procmem_read_str(tid, n->data.args[0], path, sizeof(path) - 1);
	if (len < 0)
		return errno == ESRCH ? -1 : errno == ENAMETOOLONG ? ENAMETOOLONG : errno == EPERM ? EACCES : EFAULT;
	if (len == 0)
		return ENOENT;
	if (length < 0)
		return EINVAL;
	AUTOCLOSE int fd = open_as_target(tid, TARGET_CWD, path, false);
	if (fd < 0)
		return -fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	if (fd_path(fd, canon, sizeof(canon)) < 0)
		return errno;
	if (!under_write_grant(canon, c))
		return EACCES; /* what Landlock's TRUNCATE would have answered */
	if (!id_valid(listener, n->id))
		return -1;
	/* Opened for writing with the target's own file-system credentials, so the kernel's permission check is
	 * the one it would have made for the target (R46: a root supervisor would otherwise truncate root's or
	 * another user's files for an unprivileged agent, inside the write grants). */
	struct fs_creds saved;
	if (as_target_creds(tid, &saved) < 0)
		return EACCES;
	int wfd = reopen_fd(fd, O_WRONLY | O_NOCTTY | O_NONBLOCK);
	int open_err = errno;
	restore_creds(&saved);
	if (wfd < 0)
		return open_err;
	AUTOCLOSE int wfd_closer = wfd;
	if (ftruncate(wfd, (off_t)length) < 0)
		return errno;
	return 0;
}

/* ---- path cache ----
 * An absolute path as requested → what it resolved to (canonical path, identity, hash). The path is resolved
 * in the target's context every time (open_as_target: one openat2 for nearly all paths); a hit saves the
 * readlink of /proc/self/fd and the hash. It is used only when the file resolved now has the identity the
 * entry has (dev, ino, size, mtime, ctime): the same file, the same content. A statx(2) of the path by the
 * supervisor would be cheaper, but would resolve /proc/self (and a symlink to /proc/self/cwd/…) as the
 * supervisor, so a path re-pointed that way would find an entry that is not what the target runs (R5).
 * Relative paths, execveat with a dirfd and AT_SYMLINK_NOFOLLOW are never cached. */
#define PATH_SLOTS 1024
static struct {
	char *path; /* requested path (malloc), NULL: empty */
	size_t len;
	struct file_facts ff;
} path_cache[PATH_SLOTS];

static size_t path_slot(const char *path, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 0x100000001b3ull;
	return (size_t)(h % PATH_SLOTS);
}

/* fd: what the path resolved to, for the target, just now. */
static bool path_cache_lookup(const char *path, size_t len, int fd, struct file_facts *out)
{
	if (path[0] != '/')
		return false;
	size_t k = path_slot(path, len);
	if (!path_cache[k].path || path_cache[k].len != len || memcmp(path_cache[k].path, path, len) != 0)
		return false;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return false;
	const struct file_id *id = &path_cache[k].ff.id;
	if ((uint64_t)st.st_dev != id->dev || (uint64_t)st.st_ino != id->ino || (uint64_t)st.st_size != id->size ||
	    st.st_mtim.tv_sec != id->mtime.tv_sec || st.st_mtim.tv_nsec != id->mtime.tv_nsec ||
	    st.st_ctim.tv_sec != id->ctime.tv_sec || st.st_ctim.tv_nsec != id->ctime.tv_nsec)
		return false;
	*out = path_cache[k].ff;
	return true;
}

static void path_cache_store(const char *path, size_t len, const struct file_facts *ff)
{
	if (path[0] != '/')
		return;
	size_t k = path_slot(path, len);
	free(path_cache[k].path);
	path_cache[k].path = xmalloc(len + 1);
	memcpy(path_cache[k].path, path, len + 1);
	path_cache[k].len = len;
	path_cache[k].ff = *ff;
}

/* ---- /proc readers ---- */

/* One read(2): procfs fills the whole buffer in one call when the file fits (seq_file single_open for
 * status; cmdline copies page by page inside one call), so the read that would return 0 is skipped.
 * A file larger than the buffer is truncated, as read_small_file would. */
static ssize_t read_proc_file(const char *path, char *out, size_t cap)
{
	AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, out, cap - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return n;
}

/* pidfd_open(2) PIDFD_THREAD (Linux 6.9) and ioctl PIDFD_GET_INFO (Linux 6.13, include/uapi/linux/pidfd.h):
 * tgid, ppid and the real uid as numbers, without formatting and parsing the ~1.5 KB of /proc/<tid>/status
 * (~10 µs of the supervisor's time per exec). Older kernels: /proc/<tid>/status, as before. */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
struct pidfd_info_v0 {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0[1];
};
_Static_assert(sizeof(struct pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0");
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_PID 1ull
#define PIDFD_INFO_CREDS 2ull

static int pidfd_info_works = 1; /* cleared for good when the kernel lacks it */

/* A descriptor whose close waits until the exec has been answered (see facts_release). */
static int deferred_fd = -1;

void facts_release(void)
{
	if (deferred_fd >= 0) {
		close(deferred_fd);
		deferred_fd = -1;
	}
}

/* true: f->pid/ppid/uid filled. false: use /proc/<tid>/status. */
static bool read_pidfd_info(pid_t tid, struct exec_facts *f)
{
	if (!pidfd_info_works)
		return false;
	int pfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pfd < 0) {
		if (errno == EINVAL || errno == ENOSYS)
			pidfd_info_works = 0;
		return false;
	}
	struct pidfd_info_v0 info = { .mask = PIDFD_INFO_PID | PIDFD_INFO_CREDS };
	int r = ioctl(pfd, PIDFD_GET_INFO_V0, &info);
	int err = errno;
	/* Closed after the answer (facts_release): closing a pidfd frees its pidfs file, ~3 µs the target need
	 * not wait for. */
	facts_release();
	deferred_fd = pfd;
	if (r < 0) {
		if (err == ENOTTY || err == EINVAL || err == EOPNOTSUPP)
			pidfd_info_works = 0;
		return false;
	}
	if ((info.mask & (PIDFD_INFO_PID | PIDFD_INFO_CREDS)) != (PIDFD_INFO_PID | PIDFD_INFO_CREDS) ||
	    info.pid != (uint32_t)tid)
		return false;
	f->pid = (pid_t)info.tgid;
	f->ppid = (pid_t)info.ppid;
	f->uid = info.ruid;
	return true;
}

static void read_status(pid_t tid, struct exec_facts *f)
{
	char path[64], text[4096];

	f->pid = tid;
	f->ppid = 0;
	f->uid = 0;
	if (read_pidfd_info(tid, f))
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_proc_file(path, text, sizeof(text)) < 0)
		return;
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "Tgid:", 5) == 0)
			f->pid = (pid_t)strtol(line + 5, NULL, 10);
		else if (strncmp(line, "PPid:", 5) == 0)
			f->ppid = (pid_t)strtol(line + 5, NULL, 10);
		else if (strncmp(line, "Uid:", 4) == 0)
			f->uid = strtoull(line + 4, NULL, 10);
	}
}

static void read_parent(struct exec_facts *f)
{
	char path[64];
	static char cmdline[64 * 1024];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)f->pid);
	ssize_t n = readlink(path, f->pexe, sizeof(f->pexe) - 1);
	if (n < 0)
		return;
	f->pexe_len = (size_t)n;
	f->pexe[n] = '\0';
	f->has_parent = true;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)f->pid);
	ssize_t len = read_proc_file(path, cmdline, sizeof(cmdline));
	if (len > 0) {
		buf_put(&f->pargv, cmdline, (size_t)len);
		if (cmdline[len - 1] != '\0')
			buf_put(&f->pargv, "", 1);
	}
}

/* ---- argv ---- */

/* Strings are first read speculatively, up to STR_PREFETCH bytes each (never across a page), all the strings
 * of a window of pointers in one process_vm_readv: a typical argv costs one syscall instead of one per
 * element. What did not fit (longer, unreadable, or beyond the first fault) is read again one by one, exactly
 * as before. */
#define STR_PREFETCH 256u
#define PTR_WINDOW 64

static size_t page_chunk(uint64_t a, size_t max)
{
	size_t c = 4096 - (size_t)(a % 4096);
	return c < max ? c : max;
}

/* How many argv pointers to read at addr: up to the page boundary, at most PTR_WINDOW, at least one. */
static size_t ptr_window(uint64_t addr)
{
	size_t cnt = (4096 - (size_t)(addr % 4096)) / 8;
	if (cnt > PTR_WINDOW)
		cnt = PTR_WINDOW;
	return cnt ? cnt : 1;
}

/* path_addr: where f->path was read from (0: not known). An argv string that is the path, or its tail (argv[0]
 * is often the very pointer given as the path), is taken from f->path instead of being read again. */
static int read_argv(pid_t tid, uint64_t addr, struct exec_facts *f, const uint64_t *first, size_t first_cnt,
		     uint64_t path_addr)
{
	static char arg[ARGV_MAX_BYTES + 1];
	static char pre[PTR_WINDOW][STR_PREFETCH];
	uint64_t ptrs[PTR_WINDOW];
	size_t base = 0, count = 0, total = 0;
	size_t pre_len[PTR_WINDOW]; /* bytes of each prefetched string that arrived (0: none) */
	bool in_path[PTR_WINDOW];   /* the string is (the tail of) the path already read */

	if (addr == 0)
		return 0; /* Linux accepts a NULL argv as empty */
	for (size_t i = 0;; i++) {
		if (i >= base + count) {
			/* A window of pointers up to the page boundary, never across it. */
			uint64_t a = addr + i * 8;
			size_t cnt = ptr_window(a);
			if (i == 0 && first) {
				memcpy(ptrs, first, first_cnt * 8);
				cnt = first_cnt;
			} else if (procmem_read(tid, a, ptrs, cnt * 8) < 0) {
				return errno == ESRCH ? -1 : errno == EPERM ? FACTS_UNREADABLE : EFAULT;
			}
			base = i;
			count = cnt;
			/* Prefetch the strings of this window (up to its NULL) in one call. */
			struct iovec local[PTR_WINDOW], remote[PTR_WINDOW];
			size_t slot[PTR_WINDOW]; /* which pointer each iovec is for */
			size_t n = 0, k = 0;
			for (; k < cnt && ptrs[k] != 0; k++) {
				in_path[k] = path_addr && ptrs[k] >= path_addr && ptrs[k] <= path_addr + f->path_len;
				pre_len[k] = 0;
				if (in_path[k])
					continue;
				size_t c = page_chunk(ptrs[k], STR_PREFETCH);
				local[n] = (struct iovec){ pre[k], c };
				remote[n] = (struct iovec){ (void *)(uintptr_t)ptrs[k], c };
				slot[n++] = k;
			}
			for (; k < cnt; k++)
				in_path[k] = false, pre_len[k] = 0;
			ssize_t got = n ? procmem_readv(tid, local, remote, n) : 0;
			for (size_t j = 0; j < n && got > 0 && (size_t)got >= local[j].iov_len; j++) {
				pre_len[slot[j]] = local[j].iov_len;
				got -= (ssize_t)local[j].iov_len;
			}
		}
		uint64_t p = ptrs[i - base];
		if (p == 0)
			return 0;
		if (f->argc >= ARGV_MAX_COUNT || total >= ARGV_MAX_BYTES) {
			f->argv_trunc = true;
			return 0;
		}
		size_t max = ARGV_MAX_BYTES - total;
		const char *s = arg;
		ssize_t n = -1;
		const char *nul = pre_len[i - base] ? memchr(pre[i - base], '\0', pre_len[i - base]) : NULL;
		size_t off = (size_t)(p - path_addr);
		if (in_path[i - base] && f->path_len - off <= max) {
			s = f->path + off;
			n = (ssize_t)(f->path_len - off);
		} else if (nul && (size_t)(nul - pre[i - base]) <= max) {
			s = pre[i - base];
			n = nul - s;
		} else {
			n = procmem_read_str(tid, p, arg, max);
			if (n < 0 && errno == ENAMETOOLONG) {
				f->argv_trunc = true;
				return 0;
			}
			if (n < 0)
				return errno == ESRCH ? -1 : errno == EPERM ? FACTS_UNREADABLE : EFAULT;
		}
		buf_put(&f->argv, s, (size_t)n + 1);
		f->argc++;
		total += (size_t)n + 1;
	}
}

/* The path and the first window of argv pointers in one process_vm_readv. Returns 0 when both arrived (the
 * path complete), else 1: the caller reads them the ordinary way (which reports errors precisely). */
static int prefetch_path_ptrs(pid_t tid, uint64_t path_addr, uint64_t argv_addr, struct exec_facts *f,
			      uint64_t *ptrs, size_t *cnt)
{
	if (path_addr == 0 || argv_addr == 0)
		return 1;
	size_t pc = page_chunk(path_addr, PATH_MAX - 1 + 1);
	*cnt = ptr_window(argv_addr);
	struct iovec local[2] = { { f->path, pc }, { ptrs, *cnt * 8 } };
	struct iovec remote[2] = { { (void *)(uintptr_t)path_addr, pc }, { (void *)(uintptr_t)argv_addr, *cnt * 8 } };
	if (procmem_readv(tid, local, remote, 2) != (ssize_t)(pc + *cnt * 8))
		return 1;
	char *nul = memchr(f->path, '\0', pc);
	if (!nul)
		return 1;
	f->path_len = (size_t)(nul - f->path);
	return 0;
}

/* ---- what the kernel loads: #! chains, ELF interpreters, the dynamic loader ---- */

/* The system's dynamic loaders, by identity and content: a hard link or a copy of ld.so under another name
 * is still the loader (`cp /lib64/ld-linux-x86-64.so.2 ./x; ./x /usr/bin/curl`). */
#define MAX_LOADERS 8
static struct {
	struct file_id id;
	unsigned char sha[32];
	bool has_sha;
} loaders[MAX_LOADERS];
static size_t nloaders;

static void read_binfmt_misc(void);

void facts_init(void)
{
	const char *nopidfd = getenv("AGENT_GATE_NO_PIDFD_INFO");
	if (nopidfd && strcmp(nopidfd, "1") == 0)
		pidfd_info_works = 0; /* as on a kernel before 6.13 (tests the /proc/<tid>/status path) */

	static const char *const paths[] = {
		"/lib64/ld-linux-x86-64.so.2",         "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/usr/lib64/ld-linux-x86-64.so.2",     "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/lib/ld-musl-x86_64.so.1",            "/usr/lib/ld-linux-x86-64.so.2",
	};

	for (size_t i = 0; i < ARRAY_LEN(paths) && nloaders < MAX_LOADERS; i++) {
		AUTOCLOSE int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		bool dup = false;
		for (size_t k = 0; k < nloaders; k++)
			dup |= loaders[k].id.dev == st.st_dev && loaders[k].id.ino == st.st_ino;
		if (dup)
			continue;
		loaders[nloaders].id.dev = st.st_dev;
		loaders[nloaders].id.ino = st.st_ino;
		loaders[nloaders].id.size = (uint64_t)st.st_size;
		loaders[nloaders].has_sha = sha256_fd(fd, loaders[nloaders].sha) == 0;
		nloaders++;
	}
	read_binfmt_misc();
}

static bool loader_size(uint64_t size)
{
	for (size_t i = 0; i < nloaders; i++)
		if (loaders[i].id.size == size)
			return true;
	return false;
}

/* ---- binfmt_misc ----
 * Handlers the administrator registered (qemu-user for other architectures, wine, Java archives…): the kernel
 * tries them before #! and ELF (binfmt_misc inserts itself first), and runs the handler's interpreter with the
 * file's name in front of its arguments — one more image to judge, like a #! interpreter. Read once at start
 * from /proc/sys/fs/binfmt_misc (when it is mounted; the agent cannot register one: Landlock forbids mount, and
 * register is outside its write grants). */
#define MISC_MAX 32
static struct misc_entry {
	bool magic;    /* a magic number at an offset (else an extension) */
	unsigned offset;
	unsigned char bytes[128], mask[128];
	size_t len;
	bool has_mask;
	char ext[64];
	char interp[PATH_MAX];
	bool preserve; /* P */
} miscs[MISC_MAX];
static size_t nmiscs;

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
	size_t n = 0;
	for (; h[0] && h[1] && n < cap; h += 2) {
		int hi = h[0] >= 'a' ? h[0] - 'a' + 10 : h[0] - '0', lo = h[1] >= 'a' ? h[1] - 'a' + 10 : h[1] - '0';
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return n;
}

static void read_binfmt_misc(void)
{
	const char *dir = getenv("AGENT_GATE_BINFMT_MISC"); /* tests: another mount of it */
	if (!dir || !*dir)
		dir = "/proc/sys/fs/binfmt_misc";
	char path[PATH_MAX], text[4096];
	snprintf(path, sizeof(path), "%s/status", dir);
	if (read_small_file(AT_FDCWD, path, text, sizeof(text)) <= 0 || strncmp(text, "enabled", 7) != 0)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d)) && nmiscs < MISC_MAX;) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "status") == 0 || strcmp(e->d_name, "register") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (read_small_file(AT_FDCWD, path, text, sizeof(text)) <= 0 || strncmp(text, "enabled", 7) != 0)
			continue;
		struct misc_entry *m = &miscs[nmiscs];
		memset(m, 0, sizeof(*m));
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			if (strncmp(line, "interpreter ", 12) == 0)
				snprintf(m->interp, sizeof(m->interp), "%s", line + 12);
			else if (strncmp(line, "flags: ", 7) == 0)
				m->preserve = strchr(line + 7, 'P') != NULL;
			else if (strncmp(line, "offset ", 7) == 0)
				m->offset = (unsigned)strtoul(line + 7, NULL, 10);
			else if (strncmp(line, "magic ", 6) == 0) {
				m->magic = true;
				m->len = unhex(line + 6, m->bytes, sizeof(m->bytes));
			} else if (strncmp(line, "mask ", 5) == 0) {
				m->has_mask = true;
				unhex(line + 5, m->mask, sizeof(m->mask));
			} else if (strncmp(line, "extension .", 11) == 0)
				snprintf(m->ext, sizeof(m->ext), "%s", line + 11);
		}
		if (m->interp[0] && (m->magic ? m->len > 0 && m->offset + m->len <= 256 : m->ext[0] != '\0'))
			nmiscs++;
	}
	closedir(d);
}

/* fs/binfmt_misc.c check_file: the first entry whose magic (under its mask) is at its offset in the file's
 * first 256 bytes, or whose extension is that of the name the exec was given. */
static const struct misc_entry *misc_match(const unsigned char *head, size_t n, const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; i < nmiscs; i++) {
		const struct misc_entry *m = &miscs[i];
		if (!m->magic) {
			if (dot && strcmp(dot + 1, m->ext) == 0)
				return m;
			continue;
		}
		if (m->offset + m->len > n)
			continue;
		size_t j = 0;
		for (; j < m->len; j++)
			if ((head[m->offset + j] ^ m->bytes[j]) & (m->has_mask ? m->mask[j] : 0xff))
				break;
		if (j == m->len)
			return m;
	}
	return NULL;
}

static bool is_system_loader(const struct file_facts *ff)
{
	for (size_t i = 0; i < nloaders; i++)
		if (loaders[i].id.dev == ff->id.dev && loaders[i].id.ino == ff->id.ino)
			return true;
	return false;
}

/* What the first bytes of a file say about it. The kernel's binfmt handlers look at the first BINPRM_BUF_SIZE
 * (256) bytes; the ELF program headers usually follow the 64-byte header, so 1 KiB holds them. */
#define HEAD_MAX 1024
#define ELF_PHNUM_MAX 256 /* more program headers than anything real; the kernel caps them at 64 KiB */

struct shape {
	bool script;       /* starts with #! */
	bool elf;          /* a 64-bit little-endian x86-64 ELF */
	bool et_dyn;       /* ET_DYN (PIE, shared object, ld.so, static-pie) */
	bool has_interp;   /* PT_INTERP */
	bool pie;          /* DT_FLAGS_1 has DF_1_PIE: a position-independent *executable* (static-pie), not ld.so */
	uint64_t entry;
	char interp[PATH_MAX]; /* PT_INTERP's path, NUL-terminated */
	size_t interp_len;
};

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Read the head of an open file and classify it. -1 when it cannot be read (execute-only: the kernel can run
 * it, we cannot look inside). */
static int read_shape(int rfd, unsigned char *head, size_t *n_out, struct shape *s)
{
	memset(s, 0, offsetof(struct shape, interp));
	s->interp_len = 0;
	ssize_t n = pread(rfd, head, HEAD_MAX, 0);
	if (n < 0)
		return -1;
	*n_out = (size_t)n;
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		s->script = true;
		return 0;
	}
	/* ELF64, little-endian, EM_X86_64 (62): what this kernel's binfmt_elf loads for an x86-64 task. */
	if (n < 64 || memcmp(head, "\177ELF", 4) != 0 || head[4] != 2 || head[5] != 1 || le16(head + 18) != 62)
		return 0;
	s->elf = true;
	s->et_dyn = le16(head + 16) == 3;
	s->entry = le64(head + 24);
	uint64_t phoff = le64(head + 32);
	size_t phnum = le16(head + 56), phentsize = le16(head + 54);
	if (phentsize != 56 || phnum == 0)
		return 0;
	if (phnum > ELF_PHNUM_MAX)
		phnum = ELF_PHNUM_MAX;
	static unsigned char ph[ELF_PHNUM_MAX * 56];
	const unsigned char *phdrs = ph;
	size_t want = phnum * 56;
	if (phoff + want <= (uint64_t)n)
		phdrs = head + phoff;
	else if (pread(rfd, ph, want, (off_t)phoff) != (ssize_t)want)
		return 0;
	uint64_t dyn_off = 0, dyn_len = 0;
	for (size_t i = 0; i < phnum; i++) {
		const unsigned char *p = phdrs + i * 56;
		if (le32(p) == 2 /* PT_DYNAMIC */) {
			dyn_off = le64(p + 8);
			dyn_len = le64(p + 32);
		}
	}
	if (dyn_len >= 16) {
		/* DT_FLAGS_1 (0x6ffffffb) & DF_1_PIE (0x08000000): what ld and static-pie builds mark an executable with;
		 * ld.so and shared libraries have no such flag. */
		static unsigned char dyn[4096];
		size_t dlen = dyn_len > sizeof(dyn) ? sizeof(dyn) : (size_t)dyn_len;
		ssize_t got = dyn_off + dlen <= (uint64_t)n ? (memcpy(dyn, head + dyn_off, dlen), (ssize_t)dlen)
							    : pread(rfd, dyn, dlen, (off_t)dyn_off);
		for (ssize_t k = 0; k + 16 <= got; k += 16) {
			uint64_t tag = le64(dyn + k);
			if (tag == 0)
				break;
			if (tag == 0x6ffffffbu && (le64(dyn + k + 8) & 0x08000000u))
				s->pie = true;
		}
	}
	for (size_t i = 0; i < phnum; i++) {
		const unsigned char *p = phdrs + i * 56;
		if (le32(p) != 3 /* PT_INTERP */)
			continue;
		uint64_t off = le64(p + 8), len = le64(p + 32);
		s->has_interp = true;
		/* binfmt_elf: 2 <= p_filesz <= PATH_MAX and NUL-terminated, else the exec fails (ENOEXEC). */
		if (len < 2 || len > PATH_MAX)
			return 0;
		if (off + len <= (uint64_t)n)
			memcpy(s->interp, head + off, len); /* usually right after the program headers */
		else if (pread(rfd, s->interp, len, (off_t)off) != (ssize_t)len)
			return 0;
		if (s->interp[len - 1] != '\0')
			return 0;
		s->interp_len = strlen(s->interp);
		break;
	}
	return 0;
}

/* A dynamic loader, recognised by what it is. LOADER_KNOWN: the system's (by identity or content) or anything
 * named like one — its program must resolve to one file, or the exec is refused. LOADER_SHAPED: an ELF shaped
 * like an ELF interpreter — position-independent, no interpreter of its own, an entry point, and not marked
 * as an executable (DF_1_PIE, which static-pie programs such as ripgrep carry and ld.so does not): a copy of
 * ld.so with a byte changed is still that, and so is libc.so.6; its first argument is judged too when it
 * resolves to a file, and nothing is refused when it does not. */
enum loader_kind { LOADER_NONE, LOADER_SHAPED, LOADER_KNOWN };

static enum loader_kind is_loader(const struct file_facts *ff, const struct shape *s)
{
	const char *b = strrchr(ff->path, '/');
	b = b ? b + 1 : ff->path;
	if (strcmp(b, "ld.so") == 0 || (strncmp(b, "ld-", 3) == 0 && strstr(b, ".so")))
		return LOADER_KNOWN;
	for (size_t i = 0; i < nloaders; i++) {
		if (loaders[i].id.dev == ff->id.dev && loaders[i].id.ino == ff->id.ino)
			return LOADER_KNOWN;
		if (ff->has_sha && loaders[i].has_sha && memcmp(ff->sha, loaders[i].sha, 32) == 0)
			return LOADER_KNOWN;
	}
	if (s->elf && s->et_dyn && !s->has_interp && !s->pie && s->entry != 0)
		return LOADER_SHAPED;
	return LOADER_NONE;
}

/* binfmt_script: "#!" then optional blanks, the interpreter up to a blank, then one optional argument (the
 * rest of the line, trimmed). Fills the level's name and arg; false when the line names no interpreter (the
 * kernel then fails the exec with ENOEXEC). */
static bool parse_shebang(unsigned char *head, size_t n, struct level *lv)
{
	char line[SHEBANG_MAX + 1];
	size_t len = n < SHEBANG_MAX ? n : SHEBANG_MAX;
	memcpy(line, head, len);
	line[len] = '\0';
	char *nl = memchr(line, '\n', len);
	if (nl)
		*nl = '\0';
	char *p = line + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	char *name = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (p == name)
		return false;
	lv->has_arg = false;
	if (*p) {
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		char *end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p) {
			lv->has_arg = true;
			lv->arg_len = (size_t)(end - p);
			memcpy(lv->arg, p, lv->arg_len + 1);
		}
	}
	lv->name_len = strlen(name);
	memcpy(lv->name, name, lv->name_len + 1);
	return true;
}

/* ---- the dynamic loader's program argument ----
 * ld.so [OPTIONS] PROGRAM ARGS… (glibc elf/rtld.c dl_main): options are only these words, each taking the
 * next argument where marked; any other word starting with "--" is a usage error (nothing runs); --help,
 * --version, --list-tunables and --list-diagnostics print and exit. PROGRAM with a '/' is opened as a path
 * (relative to the cwd); without one, ld.so looks it up like a library: glibc 2.36 only in ld.so.cache in
 * this mode, other versions and loaders also in LD_LIBRARY_PATH (or --library-path) and the default
 * directories. Every place one of them would look is tried here: one file found is the target; none, or
 * several different files, and the exec is refused (the record says why). */
static const struct {
	const char *opt;
	bool takes_arg;
	bool nothing_runs;
} ld_opts[] = {
	{ "--list", false, false },          { "--verify", false, false },        { "--inhibit-cache", false, false },
	{ "--library-path", true, false },   { "--inhibit-rpath", true, false },  { "--audit", true, false },
	{ "--preload", true, false },        { "--argv0", true, false },          { "--glibc-hwcaps-prepend", true, false },
	{ "--glibc-hwcaps-mask", true, false }, { "--list-tunables", false, true }, { "--list-diagnostics", false, true },
	{ "--help", false, true },           { "--version", false, true },
};

#define LD_CANDIDATES 8
struct ld_search {
	pid_t tid;
	const struct config *c;
	struct exec_facts *f;
	const char *name;
	struct file_facts found[LD_CANDIDATES];
	size_t nfound;
	bool overflow;
	bool magic; /* a candidate's path went through a /proc magic link */
};

/* dir/name as a candidate (dir empty: the cwd, as an empty LD_LIBRARY_PATH entry means). */
static void ld_try(struct ld_search *s, const char *dir, size_t dlen)
{
	char path[PATH_MAX];
	int m = dlen ? snprintf(path, sizeof(path), "%.*s/%s", (int)dlen, dir, s->name) : snprintf(path, sizeof(path), "%s", s->name);
	if (m < 0 || (size_t)m >= sizeof(path))
		return;
	int fd = open_as_target_ctx(s->tid, TARGET_CWD, path, false, AFTER_EXEC);
	if (fd == -EMAGIC)
		s->magic = true;
	if (fd < 0)
		return;
	struct file_facts ff;
	int err = file_facts_of(fd, s->c, &ff, false); /* ld.so maps it: no execute bit needed */
	close(fd);
	if (err || !ff.present)
		return;
	for (size_t i = 0; i < s->nfound; i++)
		if (s->found[i].id.dev == ff.id.dev && s->found[i].id.ino == ff.id.ino)
			return;
	if (s->nfound == LD_CANDIDATES) {
		s->overflow = true;
		return;
	}
	s->found[s->nfound++] = ff;
}

/* A directory and its glibc-hwcaps subdirectories (searched first by glibc 2.33+). */
static void ld_try_dir(struct ld_search *s, const char *dir, size_t dlen)
{
	static const char *const hwcaps[] = { "x86-64-v4", "x86-64-v3", "x86-64-v2" };
	char sub[PATH_MAX];
	for (size_t i = 0; dlen && i < ARRAY_LEN(hwcaps); i++) {
		int m = snprintf(sub, sizeof(sub), "%.*s/glibc-hwcaps/%s", (int)dlen, dir, hwcaps[i]);
		if (m > 0 && (size_t)m < sizeof(sub))
			ld_try(s, sub, (size_t)m);
	}
	ld_try(s, dir, dlen);
}

/* The entries of /etc/ld.so.cache for a name (the "new" format, glibc 2.32+'s only one): header "glibc-ld.so.
 * cache1.1", nlibs, then 24-byte entries {flags, key, value, osversion, hwcap} whose key and value are
 * offsets of NUL-terminated strings from the start of the file. */
static void ld_try_cache(struct ld_search *s)
{
	AUTOCLOSE int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 48 || st.st_size > (16 << 20))
		return;
	size_t size = (size_t)st.st_size;
	unsigned char *data = xmalloc(size + 1);
	if (pread(fd, data, size, 0) != (ssize_t)size || memcmp(data, "glibc-ld.so.cache1.1", 20) != 0) {
		free(data);
		return;
	}
	data[size] = '\0';
	uint32_t nlibs = le32(data + 20);
	for (uint32_t i = 0; i < nlibs && 48 + (size_t)(i + 1) * 24 <= size; i++) {
		const unsigned char *e = data + 48 + (size_t)i * 24;
		uint32_t key = le32(e + 4), value = le32(e + 8);
		if (key >= size || value >= size || strcmp((const char *)data + key, s->name) != 0)
			continue;
		const char *v = (const char *)data + value;
		const char *slash = strrchr(v, '/');
		if (v[0] == '/' && slash && strcmp(slash + 1, s->name) == 0)
			ld_try(s, v, (size_t)(slash - v));
		else if (v[0] == '/') {
			/* The value names the file itself under another name: try it as it is. */
			struct ld_search one = *s;
			one.name = v;
			one.nfound = 0;
			ld_try(&one, "", 0);
			s->magic |= one.magic;
			for (size_t k = 0; k < one.nfound && s->nfound < LD_CANDIDATES; k++)
				s->found[s->nfound++] = one.found[k];
		}
	}
	free(data);
}

/* LD_LIBRARY_PATH from the environment the exec passes (not the caller's own): envp is read like argv.
 * Returns 1 found (its value in out), 0 absent, -1 unknown (unreadable, too long, or cut). */
static int read_env_var(pid_t tid, uint64_t envp, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	char buf[PATH_MAX * 4];
	for (size_t i = 0; envp; i++) {
		uint64_t p;
		if (i >= ARGV_MAX_COUNT || procmem_read(tid, envp + i * 8, &p, 8) < 0)
			return -1;
		if (p == 0)
			return 0;
		ssize_t n = procmem_read_str(tid, p, buf, sizeof(buf) - 1);
		if (n < 0 && errno == ENAMETOOLONG) {
			/* Too long for us: whether it is the variable we look for decides. */
			if (procmem_read(tid, p, buf, nlen + 1) < 0)
				return -1;
			if (memcmp(buf, name, nlen) == 0 && buf[nlen] == '=')
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		if ((size_t)n > nlen && memcmp(buf, name, nlen) == 0 && buf[nlen] == '=') {
			if ((size_t)n - nlen - 1 >= cap)
				return -1;
			memcpy(out, buf + nlen + 1, (size_t)n - nlen);
			return 1;
		}
	}
	return 0;
}

static PRINTF_LIKE(2, 3) void ld_unresolved(struct exec_facts *f, const char *fmt, ...)
{
	va_list ap;

	f->ld_unresolved = true;
	va_start(ap, fmt);
	vsnprintf(f->ld_why, sizeof(f->ld_why), fmt, ap);
	va_end(ap);
}

/* Resolve what the loader at the end of the chain will load, given the argv it is started with (vargv). */
static void loader_target(pid_t tid, uint64_t envp, const struct config *c, struct exec_facts *f, const char **vargv,
			  size_t vargc, bool cut)
{
	const char *library_path = NULL;
	bool inhibit_cache = false;
	size_t i = 1;

	while (i < vargc) {
		const char *a = vargv[i];
		size_t k = 0;
		for (; k < ARRAY_LEN(ld_opts); k++)
			if (strcmp(a, ld_opts[k].opt) == 0)
				break;
		if (k == ARRAY_LEN(ld_opts)) {
			if (strncmp(a, "--", 2) != 0)
				break;
			if (a[2] == '\0') { /* glibc 2.36 refuses it; a loader that takes it as the end of options */
				i++;
				break;
			}
			return; /* an unknown option: ld.so prints its usage and runs nothing */
		}
		if (ld_opts[k].nothing_runs)
			return;
		if (ld_opts[k].takes_arg) {
			if (i + 1 >= vargc)
				return; /* a missing value: usage error */
			if (strcmp(a, "--library-path") == 0)
				library_path = vargv[i + 1];
			i += 2;
			continue;
		}
		if (strcmp(a, "--inhibit-cache") == 0)
			inhibit_cache = true;
		i++;
	}
	if (i >= vargc) {
		if (cut)
			ld_unresolved(f, "argv was cut before the program the dynamic loader would run");
		return; /* no program: ld.so prints its usage */
	}
	const char *name = vargv[i];
	if (strchr(name, '/')) {
		/* ld.so opens it as a path, relative to the cwd (no search). */
		int fd = open_as_target_ctx(tid, TARGET_CWD, name, false, AFTER_EXEC);
		if (fd == -EMAGIC) {
			ld_unresolved(f, "the program the dynamic loader would load (%s) is reached through a /proc magic link, "
					 "which the loader follows only after the exec (its own descriptors and program)", name);
			return;
		}
		if (fd < 0) {
			ld_unresolved(f, "the program the dynamic loader would load (%s) does not resolve", name);
			return;
		}
		int err = file_facts_of(fd, c, &f->ld, false); /* ld.so maps it: no execute bit needed */
		close(fd);
		if (err || !f->ld.present) {
			f->ld.present = false;
			ld_unresolved(f, "the program the dynamic loader would load (%s) is not a file it can map", name);
		}
		return;
	}
	struct ld_search s = { .tid = tid, .c = c, .f = f, .name = name };
	char lib_path[PATH_MAX * 4];
	if (!library_path) {
		int r = read_env_var(tid, envp, "LD_LIBRARY_PATH", lib_path, sizeof(lib_path));
		if (r < 0) {
			ld_unresolved(f, "the dynamic loader would search for %s, and LD_LIBRARY_PATH cannot be read", name);
			return;
		}
		if (r > 0)
			library_path = lib_path;
	}
	if (library_path) {
		/* ':' and ';' separate entries (glibc fillin_rpath); an empty entry is the cwd; $ORIGIN and
		 * friends are expanded by ld.so in ways not followed here: refused. */
		if (strchr(library_path, '$')) {
			ld_unresolved(f, "the dynamic loader would search for %s in a library path with $-substitutions", name);
			return;
		}
		const char *p = library_path;
		for (;;) {
			size_t len = strcspn(p, ":;");
			ld_try_dir(&s, p, len);
			if (!p[len])
				break;
			p += len + 1;
		}
	}
	if (!inhibit_cache)
		ld_try_cache(&s);
	static const char *const defaults[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
						"/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib" };
	for (size_t d = 0; d < ARRAY_LEN(defaults); d++)
		ld_try_dir(&s, defaults[d], strlen(defaults[d]));
	if (s.magic) {
		ld_unresolved(f, "the dynamic loader would search for %s through a /proc magic link, which it follows only after the exec", name);
		return;
	}
	if (s.nfound == 1 && !s.overflow) {
		f->ld = s.found[0];
		return;
	}
	if (s.nfound == 0)
		ld_unresolved(f, "the dynamic loader would search for %s and find nothing", name);
	else
		ld_unresolved(f, "the dynamic loader would search for %s and could load any of several different files", name);
}

/* Follow what the kernel will load for this exec (fs/exec.c exec_binprm): a #! script's interpreter, whose
 * own #! is followed in turn, up to the kernel's limit; for the ELF image at the end, an interpreter other
 * than the system's loader (PT_INTERP: the kernel maps it and jumps to it), and when that image is a
 * dynamic loader itself, the program it will load. Each level's interpreter is resolved as the kernel does
 * (open_exec of the name as written: an absolute path, or relative to the cwd). Returns 0, or the errno
 * the kernel would fail the exec with (ELOOP past the limit, ENOENT for a missing interpreter…). */
static int follow_chain(pid_t tid, uint64_t envp, int exefd, const struct config *c, struct exec_facts *f)
{
	static unsigned char head[HEAD_MAX];
	static struct shape sh;
	AUTOCLOSE int held = -1; /* the current level's O_PATH fd, when it is not exefd */
	const struct file_facts *cur = &f->exe;
	const char *given = f->path; /* bprm->interp: the name this level was given (an extension handler looks at it) */
	int fd = exefd;

	for (size_t depth = 0;; depth++) {
		AUTOCLOSE int rfd = reopen_fd(fd, O_RDONLY | O_NOCTTY);
		size_t n = 0;
		if (rfd < 0 || read_shape(rfd, head, &n, &sh) < 0) {
			f->opaque = true; /* e.g. execute-only: the kernel can run it, we cannot look inside */
			return 0;
		}
		const struct misc_entry *misc = nmiscs ? misc_match(head, n < 256 ? n : 256, given) : NULL;
		if (misc) {
			if (depth == 0)
				f->is_script = true; /* an interpreter runs it: never answered from the cache */
			if (depth >= CHAIN_MAX)
				return ELOOP;
			struct level *lv = &f->levels[f->nlevels];
			lv->kind = LEVEL_MISC;
			lv->name_len = strlen(misc->interp);
			memcpy(lv->name, misc->interp, lv->name_len + 1);
			lv->has_arg = false;
			lv->preserve_argv0 = misc->preserve;
			int ifd = open_as_target(tid, TARGET_CWD, lv->name, false);
			if (ifd < 0)
				return -ifd;
			int err = file_facts_from_fd(ifd, c, &lv->ff);
			if (err) {
				close(ifd);
				return err;
			}
			f->nlevels++;
			if (held >= 0)
				close(held);
			held = fd = ifd;
			cur = &lv->ff;
			given = lv->name;
			continue;
		}
		if (sh.script) {
			if (depth == 0)
				f->is_script = true;
			/* exec_binprm: a handler may rewrite the image at depth 0..5; a sixth rewrite is ELOOP. */
			if (depth >= CHAIN_MAX)
				return ELOOP;
			struct level *lv = &f->levels[f->nlevels];
			lv->kind = LEVEL_SCRIPT;
			if (!parse_shebang(head, n, lv))
				return ENOEXEC;
			int ifd = open_as_target(tid, TARGET_CWD, lv->name, false);
			if (ifd < 0)
				return -ifd;
			int err = file_facts_from_fd(ifd, c, &lv->ff);
			if (err) {
				close(ifd);
				return err;
			}
			f->nlevels++;
			if (held >= 0)
				close(held);
			held = fd = ifd;
			cur = &lv->ff;
			given = lv->name;
			continue;
		}
		enum loader_kind loader = is_loader(cur, &sh);
		if (sh.elf && sh.has_interp && sh.interp_len > 0) {
			/* binfmt_elf opens PT_INTERP like an exec path (open_exec, relative to the cwd). The system's
			 * loader is the usual case and says nothing new; anything else is one more image to judge. */
			struct level *lv = &f->levels[f->nlevels];
			{
				AUTOCLOSE int ifd = open_as_target(tid, TARGET_CWD, sh.interp, false);
				if (ifd < 0)
					return -ifd;
				if (!path_cache_lookup(sh.interp, sh.interp_len, ifd, &lv->ff)) {
					int err = file_facts_from_fd(ifd, c, &lv->ff);
					if (err)
						return err;
					path_cache_store(sh.interp, sh.interp_len, &lv->ff);
				}
			}
			if (!is_system_loader(&lv->ff)) {
				lv->kind = LEVEL_ELF_INTERP;
				lv->name_len = sh.interp_len;
				memcpy(lv->name, sh.interp, sh.interp_len + 1);
				lv->has_arg = false;
				lv->preserve_argv0 = false;
				f->nlevels++;
			}
		}
		if (loader == LOADER_NONE)
			return 0;
		/* The loader's argv as the kernel builds it: each #! level puts its interpreter name, its
		 * argument and then the previous level's name (the script: the path as given to exec) in front
		 * of argv[1…]. */
		f->is_loader = true;
		/* The loader's argv as the kernel builds it, level by level: a #! level makes it name [arg] file
		 * argv[1…], a binfmt_misc level name file [argv[0]] argv[1…] (argv[0] kept with its P flag), where
		 * file is the name the level before was given (the exec's path for the first). */
		enum { VMAX = ARGV_MAX_COUNT + 2 * CHAIN_MAX + 2 };
		static const char *bufs[2][VMAX];
		const char **vargv = bufs[0];
		size_t vargc = 0;
		for (const char *a = f->argv.p, *end = f->argv.p + f->argv.len; a < end && vargc < VMAX; a += strlen(a) + 1)
			vargv[vargc++] = a;
		const char *file = f->path;
		for (size_t k = 0; k < f->nlevels; k++) {
			const struct level *lv = &f->levels[k];
			if (lv->kind == LEVEL_ELF_INTERP)
				continue;
			const char **next = vargv == bufs[0] ? bufs[1] : bufs[0];
			size_t m = 0;
			next[m++] = lv->name;
			if (lv->kind == LEVEL_SCRIPT && lv->has_arg)
				next[m++] = lv->arg;
			next[m++] = file;
			for (size_t i = lv->kind == LEVEL_MISC && lv->preserve_argv0 ? 0 : 1; i < vargc && m < VMAX; i++)
				next[m++] = vargv[i];
			vargv = next;
			vargc = m;
			file = lv->name;
		}
		loader_target(tid, envp, c, f, vargv, vargc, f->argv_trunc);
		if (loader == LOADER_SHAPED && f->ld_unresolved) {
			/* Not the loader by identity: a first argument that names no one file is just an argument. */
			f->ld_unresolved = false;
			f->ld.present = false;
		}
		return 0;
	}
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* ---- entry point ---- */

int facts_gather(int listener, const struct seccomp_notif *n, const struct config *c, struct exec_facts *f,
		 bool (*known_plain)(const struct file_id *id))
{
	pid_t tid = (pid_t)n->pid;
	uint64_t path_addr, argv_addr, envp_addr;
	int dirfd = AT_FDCWD;
	char proc[64];
	int err;

	f->tid = tid;
	f->execveat = n->data.nr == __NR_execveat;
	if (f->execveat) {
		dirfd = (int)n->data.args[0];
		path_addr = n->data.args[1];
		argv_addr = n->data.args[2];
		envp_addr = n->data.args[3];
		f->flags = n->data.args[4];
	} else {
		path_addr = n->data.args[0];
		argv_addr = n->data.args[1];
		envp_addr = n->data.args[2];
		f->flags = 0;
	}

	uint64_t ptrs[PTR_WINDOW];
	size_t nptrs = 0;
	ssize_t len;
	bool prefetched = prefetch_path_ptrs(tid, path_addr, argv_addr, f, ptrs, &nptrs) == 0;
	if (!prefetched) {
		len = procmem_read_str(tid, path_addr, f->path, PATH_MAX - 1);
		if (len < 0)
			return errno == ESRCH ? -1 : errno == EPERM ? FACTS_UNREADABLE : errno;
		f->path_len = (size_t)len;
	}
	/* What the kernel will run, first: most attempts that fail are PATH probes (execvp tries each PATH entry),
	 * and they are answered from the path alone, without reading argv or /proc. */
	AUTOCLOSE int basefd = -1;
	AUTOCLOSE int exefd = -1;
	bool nofollow = f->execveat && (f->flags & AT_SYMLINK_NOFOLLOW);

	if (f->execveat && dirfd != AT_FDCWD) {
		snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)tid, dirfd);
		if (f->path_len == 0 && (f->flags & AT_EMPTY_PATH)) {
			exefd = open(proc, O_PATH | O_CLOEXEC); /* fexecve: the fd itself */
			if (exefd < 0)
				return errno == ENOENT ? EBADF : errno;
		} else if (f->path[0] != '/') {
			basefd = open(proc, O_PATH | O_CLOEXEC);
			if (basefd < 0)
				return errno == ENOENT ? EBADF : errno;
			struct stat st;
			if (fstat(basefd, &st) < 0 || !S_ISDIR(st.st_mode))
				return ENOTDIR;
		}
	} else if (f->path_len == 0 && f->execveat && (f->flags & AT_EMPTY_PATH)) {
		snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)tid);
		exefd = open(proc, O_PATH | O_CLOEXEC); /* execveat(AT_FDCWD, "", AT_EMPTY_PATH): the cwd */
	}
	bool from_cache = false, cacheable = false;
	if (exefd < 0) {
		if (f->path_len == 0)
			return ENOENT;
		int fd = open_as_target(tid, basefd >= 0 ? basefd : TARGET_CWD, f->path, nofollow);
		if (fd < 0)
			return -fd;
		exefd = fd;
		cacheable = basefd < 0 && !nofollow;
		from_cache = cacheable && path_cache_lookup(f->path, f->path_len, exefd, &f->exe);
	}
	if (!from_cache) {
		err = file_facts_from_fd(exefd, c, &f->exe);
		if (err)
			return err;
		if (cacheable)
			path_cache_store(f->path, f->path_len, &f->exe);
	}

	err = read_argv(tid, argv_addr, f, prefetched ? ptrs : NULL, nptrs, path_addr);
	if (err)
		return err;
	/* No NOTIF_ID_VALID here: the one after the /proc reads below covers these reads too (the target was
	 * blocked in this syscall throughout, so every read was of it). */

	read_status(tid, f);
	snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)tid);
	len = readlink(proc, f->cwd, sizeof(f->cwd) - 1);
	f->cwd_len = len < 0 ? 0 : (size_t)len;
	f->cwd[f->cwd_len] = '\0';

	/* A file with a cached verdict is a plain program whose verdict depends on nothing but its identity:
	 * the caller's exe and argv (4 /proc syscalls) are only gathered when the broker has to decide. */
	if (!known_plain(&f->exe.id)) {
		read_parent(f);
		err = follow_chain(tid, envp_addr, exefd, c, f);
		if (err)
			return err;
	}

	/* /proc/<tid>/... were read for this tid: make sure it is still the same blocked task. */
	if (!id_valid(listener, n->id))
		return -1;

	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv1a(h, f->path, f->path_len + 1);
	h = fnv1a(h, f->argv.p ? f->argv.p : "", f->argv.len);
	h = fnv1a(h, f->cwd, f->cwd_len);
	f->fingerprint = h;
	return 0;
}

void facts_free(struct exec_facts *f)
{
	buf_free(&f->argv);
	buf_free(&f->pargv);
}

void facts_reset(struct exec_facts *f)
{
	struct buf argv = f->argv, pargv = f->pargv;

	/* Field by field: a memset of everything before exe would clear the 8 KB of the path and cwd buffers on
	 * every exec; each is written up to its NUL before it is read. */
	f->id = 0;
	f->tid = f->pid = f->ppid = 0;
	f->uid = 0;
	f->execveat = false;
	f->flags = 0;
	f->path[0] = '\0';
	f->path_len = 0;
	f->cwd[0] = '\0';
	f->cwd_len = 0;
	f->exe.present = f->ld.present = false;
	f->exe.has_sha = f->ld.has_sha = false;
	f->nlevels = 0;
	f->ld_unresolved = false;
	f->is_script = f->is_loader = f->opaque = false;
	f->argc = 0;
	f->argv_trunc = false;
	f->has_parent = false;
	f->pexe_len = 0;
	f->t = 0;
	f->fingerprint = 0;
	f->argv = argv;
	f->pargv = pargv;
	f->argv.len = 0;
	f->pargv.len = 0;
}
