/* The audit log while a session runs (audit.h; docs/protocol.md "The audit log"). */
#include "audit.h"
#include "proto.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool active;
	int fd;
	bool regular;
	char *path;
	char *head_file;
	uint64_t size;         /* end of the log: where the next line goes */
	uint64_t reserved_end; /* space is allocated up to here (0: no reservation) */
	uint64_t reserve;
	bool warned_full;
	unsigned char head[32]; /* sha256 of the last line (zeros: none yet) */
	char **redact;
	size_t nredact;
	bool lit_first[256];   /* first bytes (lowercased) of the literals: the scan's filter */
	bool finished;
} g = { .fd = -1 };

static void (*g_warn)(const char *msg);

void audit_set_warn(void (*warn)(const char *msg))
{
	g_warn = warn;
}

bool audit_active(void)
{
	return g.active;
}

const char *audit_state(void)
{
	return !g.active ? "broker" : !g.regular ? "stream" : g.reserve ? "reserved" : "unreserved";
}

const char *audit_path(void)
{
	return g.path ? g.path : "";
}

static const char HEX[] = "0123456789abcdef";

void audit_head(char hex[65], uint64_t *size)
{
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = HEX[g.head[i] >> 4];
		hex[2 * i + 1] = HEX[g.head[i] & 15];
	}
	hex[64] = '\0';
	*size = g.size;
}

static void warnf(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void warnf(const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_warn)
		g_warn(msg);
}

/* The log's last line: cut back a partial one (no newline at the end: a write cut short), then hash the last
 * whole line, read backwards from the end in chunks, into g.head. */
static void read_tail(int rfd)
{
	static unsigned char chunk[1 << 16];
	uint64_t end = g.size;

	if (end == 0)
		return;
	/* Where the last '\n' is, and the one before it. */
	uint64_t nl[2] = { UINT64_MAX, UINT64_MAX };
	size_t found = 0;
	for (uint64_t pos = end; pos > 0 && found < 2;) {
		size_t n = pos > sizeof(chunk) ? sizeof(chunk) : (size_t)pos;
		pos -= n;
		if (pread(rfd, chunk, n, (off_t)pos) != (ssize_t)n)
			die_errno("reading the audit log %s", g.path);
		for (size_t i = n; i-- > 0 && found < 2;)
			if (chunk[i] == '\n')
				nl[found++] = pos + i;
	}
	if (nl[0] != end - 1) {
		/* A partial last line: nothing answered depends on it (records are written before the answer). */
		uint64_t keep = nl[0] == UINT64_MAX ? 0 : nl[0] + 1;
		if (ftruncate(g.fd, (off_t)keep) < 0)
			die_errno("cutting back a partial last line of the audit log %s", g.path);
		warnf("the audit log %s ended in a partial line (%llu bytes, a write cut short): it was removed", g.path,
		      (unsigned long long)(end - keep));
		g.size = keep;
		if (keep == 0)
			return;
		nl[1] = UINT64_MAX;
		nl[0] = keep - 1;
		/* Find the newline before the (now) last line. */
		for (uint64_t pos = nl[0]; pos > 0 && nl[1] == UINT64_MAX;) {
			size_t n = pos > sizeof(chunk) ? sizeof(chunk) : (size_t)pos;
			pos -= n;
			if (pread(rfd, chunk, n, (off_t)pos) != (ssize_t)n)
				die_errno("reading the audit log %s", g.path);
			for (size_t i = n; i-- > 0;)
				if (chunk[i] == '\n') {
					nl[1] = pos + i;
					break;
				}
		}
	}
	uint64_t start = nl[1] == UINT64_MAX ? 0 : nl[1] + 1;
	struct sha256 s;
	sha256_init(&s);
	for (uint64_t pos = start; pos < nl[0];) {
		size_t n = nl[0] - pos > sizeof(chunk) ? sizeof(chunk) : (size_t)(nl[0] - pos);
		if (pread(rfd, chunk, n, (off_t)pos) != (ssize_t)n)
			die_errno("reading the audit log %s", g.path);
		sha256_update(&s, chunk, n);
		pos += n;
	}
	sha256_final(&s, g.head);
}

/* fallocate(2) FALLOC_FL_KEEP_SIZE: allocate blocks past the end without changing the size, so appends into
 * them cannot fail for want of space (ext4, xfs, btrfs, tmpfs). */
static int reserve_from(uint64_t at)
{
	if (fallocate(g.fd, FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)g.reserve) < 0)
		return -1;
	g.reserved_end = at + g.reserve;
	return 0;
}

void audit_open(const struct audit_config *c, void (*warn)(const char *msg))
{
	struct stat st;

	g_warn = warn;
	g.path = c->path;
	g.head_file = c->head_file;
	g.reserve = c->reserve;
	g.redact = c->redact;
	g.nredact = c->nredact;
	for (size_t i = 0; i < g.nredact; i++)
		g.lit_first[(unsigned char)(g.redact[i][0] | (g.redact[i][0] >= 'A' && g.redact[i][0] <= 'Z' ? 0x20 : 0))] = true;
	/* O_APPEND: every line goes at the end, whatever else happened to the file; O_NOFOLLOW: not through a
	 * symlink planted at the path. */
	g.fd = open(c->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (g.fd < 0)
		die_errno("cannot open the audit log %s", c->path);
	if (fstat(g.fd, &st) < 0)
		die_errno("fstat of the audit log %s", c->path);
	if ((uint64_t)st.st_dev != c->dev || (uint64_t)st.st_ino != c->ino)
		die("the audit log %s is not the file the broker opened (it was replaced meanwhile)", c->path);
	g.regular = S_ISREG(st.st_mode);
	g.active = true;
	if (!g.regular) {
		if (c->require_reserve)
			die("the audit log %s is not a regular file, so no space can be reserved for it, and the agent can "
			    "write to its filesystem",
			    c->path);
		return; /* a character device or a FIFO: written as it is */
	}
	g.size = (uint64_t)st.st_size;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", g.fd);
	AUTOCLOSE int rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		die_errno("cannot read the audit log %s", c->path);
	read_tail(rfd);
	if (g.reserve == 0)
		return;
	if (reserve_from(g.size) < 0) {
		if (c->require_reserve)
			die("cannot reserve %llu KiB for the audit log %s (fallocate: %s), and the agent can write to its "
			    "filesystem, so it could fill it and stop the log: put the log on another filesystem",
			    (unsigned long long)(g.reserve >> 10), c->path, strerror(errno));
		warnf("cannot reserve space for the audit log %s (fallocate: %s): a full disk would stop the session",
		      c->path, strerror(errno));
		g.reserve = 0;
	}
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

bool audit_may_secret(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!g.lit_first[(unsigned char)lower(s[i])])
			continue;
		for (size_t k = 0; k < g.nredact; k++) {
			const char *lit = g.redact[k];
			size_t j = 0;
			while (lit[j] && i + j < n && lower(s[i + j]) == lower(lit[j]))
				j++;
			if (!lit[j])
				return true;
		}
	}
	return false;
}

int audit_append(const char *json, size_t len, struct buf *finished)
{
	static struct buf line;

	if (len < 2 || json[len - 1] != '}' || memchr(json, '\n', len)) {
		errno = EINVAL;
		return -1;
	}
	line.len = 0;
	buf_put(&line, json, len - 1);
	buf_puts(&line, len > 2 ? ",\"prev\":\"" : "\"prev\":\"");
	buf_hex(&line, g.head, 32);
	buf_puts(&line, "\"}\n");
	size_t body = line.len - 1; /* the line without its newline: what the next line's prev hashes */
	if (g.regular && g.reserve && g.size + line.len + g.reserve / 4 > g.reserved_end) {
		/* Keep a reservation ahead. If the filesystem is full now, the rest of the last one still holds
		 * records; the user is told once, and the session fails closed when it is used up. */
		if (reserve_from(g.size) < 0 && !g.warned_full) {
			g.warned_full = true;
			uint64_t left = g.reserved_end > g.size ? g.reserved_end - g.size : 0;
			warnf("the filesystem of the audit log %s is full (%s): %llu KiB of reserved space left; the session "
			      "stops when it is used up",
			      g.path, strerror(errno), (unsigned long long)(left >> 10));
		}
	}
	if (write_all(g.fd, line.p, line.len) < 0) {
		int e = errno;
		/* Never leave part of a line: cut the log back to where it was. */
		if (g.regular && ftruncate(g.fd, (off_t)g.size) < 0)
			debug("ftruncate of the audit log: %s", strerror(errno));
		errno = e;
		return -1;
	}
	g.size += line.len;
	struct sha256 s;
	sha256_init(&s);
	sha256_update(&s, line.p, body);
	sha256_final(&s, g.head);
	if (finished) {
		finished->len = 0;
		buf_put(finished, line.p, body);
	}
	return 0;
}

/* The head file: where `agent-gate audit verify` finds the hash the log must end with, outside the agent's
 * reach. Written whole (a temporary file renamed over it). */
static void write_head_file(void)
{
	char tmp[PATH_MAX + 16], hex[65];
	uint64_t size;

	if (!g.head_file)
		return;
	/* Every missing directory on the way (a fresh machine has no ~/.local/state/agent-gate yet, and a log
	 * given with --audit elsewhere does not make it; R36), private to the user. */
	for (char *slash = strchr(g.head_file + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(g.head_file, 0700);
		*slash = '/';
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", g.head_file, (int)getpid()) >= sizeof(tmp))
		return;
	audit_head(hex, &size);
	struct buf b = { 0 };
	buf_puts(&b, "{\"log\":");
	buf_json_str(&b, g.path, strlen(g.path));
	buf_printf(&b, ",\"head\":\"%s\",\"size\":%llu,\"time\":%lld}\n", hex, (unsigned long long)size,
		   (long long)time(NULL));
	AUTOCLOSE int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.p, b.len) < 0 || rename(tmp, g.head_file) < 0) {
		warn_msg("cannot keep the audit log's last hash in %s: %s", g.head_file, strerror(errno));
		unlink(tmp);
	}
	buf_free(&b);
}

void audit_finish(void)
{
	if (!g.active || g.finished)
		return;
	g.finished = true;
	/* Give the unused reservation back: truncating to the same size frees the blocks past the end. */
	if (g.regular && g.reserve && ftruncate(g.fd, (off_t)g.size) < 0)
		debug("releasing the audit log's reservation: %s", strerror(errno));
	write_head_file();
	close(g.fd);
	g.fd = -1;
}
