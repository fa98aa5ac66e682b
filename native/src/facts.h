/* Facts about one exec attempt, gathered from the stopped target (see ExecFacts in src/core/exec/facts.ts). */
#pragma once
#include <limits.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "proto.h"
#include "util.h"

#define ARGV_MAX_COUNT 4096
#define ARGV_MAX_BYTES (1u << 20)
#define SHEBANG_MAX 256

/* What identifies a file for the caches: the same (dev, ino, size, mtime, ctime) is the same content
 * unless someone set the clock back and rewrote it in place. */
struct file_id {
	uint64_t dev, ino, size;
	struct timespec mtime, ctime;
};

struct file_facts {
	bool present;
	char path[PATH_MAX];
	size_t path_len;
	struct file_id id;
	uint64_t nlink; /* 0: anonymous or deleted (a memfd, an O_TMPFILE file, an unlinked file) */
	bool has_sha;
	unsigned char sha[32];
	/* An ELF longer than its own end (its section header table, which the linker puts last): the sha256 of
	 * the bytes up to that end, when that size is one the policy names. A named program with bytes appended
	 * runs exactly as that program (nothing past the end is mapped) but hashes differently (red-team R34). */
	bool has_prefix;
	uint64_t prefix_size;
	unsigned char prefix_sha[32];
};

/* The interpreters the kernel loads after the file asked for: the kernel lets a binfmt handler rewrite the
 * image at most this many times (fs/exec.c exec_binprm: past depth 5 the exec fails with ELOOP), plus one
 * ELF interpreter (PT_INTERP) at the end. */
#define CHAIN_MAX 5

enum level_kind {
	LEVEL_SCRIPT,     /* #! */
	LEVEL_MISC,       /* a binfmt_misc handler registered on this machine (its interpreter) */
	LEVEL_ELF_INTERP, /* PT_INTERP naming something other than the system's loader */
};

struct level {
	struct file_facts ff;
	enum level_kind kind;
	char name[PATH_MAX]; /* as written in the #! line or PT_INTERP */
	size_t name_len;
	bool has_arg;
	char arg[SHEBANG_MAX];
	size_t arg_len;
	bool preserve_argv0; /* binfmt_misc flag P: the original argv[0] stays, after the file's name */
};

struct exec_facts {
	uint64_t id;
	pid_t tid, pid, ppid;
	uint64_t uid;
	bool execveat;
	uint64_t flags;
	char path[PATH_MAX + 1];
	size_t path_len;
	char cwd[PATH_MAX];
	size_t cwd_len;
	struct file_facts exe;
	struct buf argv; /* each element followed by NUL */
	size_t argc;
	bool argv_trunc;
	bool has_parent;
	char pexe[PATH_MAX];
	size_t pexe_len;
	struct buf pargv;
	struct level levels[CHAIN_MAX + 1]; /* the interpreters, in the order the kernel loads them */
	size_t nlevels;
	struct file_facts ld; /* what the loader at the end of the chain will load */
	bool ld_unresolved;   /* a loader with a program argument that could not be resolved to one file */
	char ld_why[256];
	bool is_script; /* starts with #! */
	bool is_loader; /* the image at the end of the chain is a dynamic loader (whether or not it has a program) */
	bool opaque;    /* the supervisor could not read the file: whether it is a script is unknown */
	uint64_t t;
	uint64_t fingerprint; /* of path, argv and cwd: recognizes the same logical exec arriving again */
};

/* Once at start-up: learn the identity of the system's dynamic loaders. */
void facts_init(void);

/* facts_gather's answer for a target whose memory we may not read (it made itself non-dumpable). */
#define FACTS_UNREADABLE (-2)

/* Gather facts for a notification. known_plain(id) true means that identity was already seen to be neither a
 * script nor the loader (same identity, same content), so the #! and loader checks are skipped. Returns 0
 * when the exec should be decided, a positive errno when the kernel would fail it anyway (answer with it,
 * tell nobody), -1 when the notification is gone, or FACTS_UNREADABLE. What the kernel will run is resolved
 * first, so an attempt that fails is answered before argv or /proc are read. */
int facts_gather(int listener, const struct seccomp_notif *n, const struct config *c, struct exec_facts *f,
		 bool (*known_plain)(const struct file_id *id));
void facts_free(struct exec_facts *f);
/* Work left for after the kernel has been answered: closes what facts_gather kept open (its pidfd). */
void facts_release(void);
/* truncate(2) on the agent's behalf, inside the write grants only. 0 (done), a positive errno for the agent,
 * or -1 when the notification is gone. */
int facts_truncate(int listener, const struct seccomp_notif *n, const struct config *c);
/* For meta.c: an O_PATH descriptor of path as the target thread tid resolves it (relative to basefd, or to its
 * cwd when basefd < 0; /proc/self as the target's), or -errno; and whether a canonical path is inside the
 * write grants. */
int facts_open_as_target(pid_t tid, int basefd, const char *path, bool nofollow);
bool facts_under_write_grant(const char *canon, const struct config *c);
/* Clear for reuse, keeping the argv buffers allocated. */
void facts_reset(struct exec_facts *f);
