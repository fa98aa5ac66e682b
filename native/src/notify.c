/* The NOTIF loop. One thread, poll(2) on: the seccomp listener, the broker socket, a signalfd (SIGCHLD and
 * the signals we forward), with the nearest request deadline as the poll timeout.
 *
 * Per notification: gather facts (facts.c); attempts the kernel would fail anyway are answered with that
 * errno and never reach the broker; identity-cache hits are recorded to the broker first (blocking write,
 * fail closed) and then answered; everything else becomes a pending request answered on VERDICT, or on
 * its deadline with the TIMEOUT action. */
#include "notify.h"
#include "mountns.h"
#include "meta.h"
#include "audit.h"
#include "facts.h"
#include "procmem.h"
#include "pty.h"
#include "reap.h"
#include "seccomp.h"
#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct pending {
	uint64_t req_id;
	uint64_t t0; /* when the notification was received */
	uint64_t cookie; /* the kernel's notification id */
	pid_t tid;
	uint64_t deadline_us; /* 0: none (held, or no timeout configured) */
	bool cacheable;       /* not a script, not the loader, readable */
	struct file_id id;
	uint64_t fingerprint;
	uint64_t images;         /* what else the kernel will load: the chain's and the loader program's identities */
	struct seccomp_notif n;  /* to read the exec again before an allow is continued (R47) */
};

_Static_assert(sizeof(struct seccomp_notif) == 80, "seccomp_notif layout (id, pid, flags, seccomp_data)");
_Static_assert(sizeof(struct seccomp_notif_resp) == 24, "seccomp_notif_resp layout");

static struct pending *pending;
static size_t npending, cap_pending;

/* Identity cache: direct-mapped, a collision just evicts. */
#define VERDICT_SLOTS 4096
static struct {
	bool used, allow;
	struct file_id id;
	/* The broker's "rule_id":…,"reason":…,"layer":… for this verdict (VERDICT origin=), for RECORD lines;
	 * NULL: hits are sent as cached EXEC lines and the broker builds their records. */
	char *origin;
	size_t origin_len;
} verdicts[VERDICT_SLOTS];

/* Longest origin kept (a policy's rule id and reason); a longer one is not kept (EXEC lines then). */
#define ORIGIN_MAX 16384

/* Per-thread memory of an answer the kernel refused with ENOENT (the target was interrupted): when the same
 * logical exec comes back from the same thread it gets the same answer without a second decision. */
#define RETRY_SLOTS 64
#define RETRY_WINDOW_US 2000000u /* a restart comes at once; after this the tid may have been reused */
static struct {
	pid_t tid;
	uint64_t fingerprint;
	uint64_t at;
	bool allow;
	bool has_id; /* an answer to a request: the same files are required too (R47) */
	struct file_id id;
	uint64_t images;
} retries[RETRY_SLOTS];

static uint64_t next_req_id = 1, first_req_id;

/* Decision latency samples (µs from NOTIF_RECV to just before NOTIF_SEND; the send itself is not timed:
 * the woken target preempts us inside it). Reported on the EXIT line. */
#define LAT_SAMPLES 65536
struct latencies {
	uint32_t v[LAT_SAMPLES];
	size_t n;
	uint64_t count;
};
static struct latencies lat_slow, lat_cached;
static uint64_t n_local;     /* answered without the broker (the kernel would fail them anyway) */
static uint64_t n_records;   /* cached verdicts recorded here, as RECORD lines (the rest as cached EXEC lines) */
static uint64_t n_piped;     /* records written to the record pipe: the broker drains before a line that says more */
static uint64_t n_restarted; /* the same logical exec notified again (interrupted and restarted) */
static uint64_t n_unreadable; /* execs by non-dumpable processes (denied) */

static void lat_add(struct latencies *l, uint64_t us)
{
	l->v[l->count % LAT_SAMPLES] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	l->count++;
	if (l->n < LAT_SAMPLES)
		l->n++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void lat_fields(struct buf *b, const char *name, struct latencies *l)
{
	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(l->v[0]), cmp_u32);
	buf_printf(b, " %s_p50_us=%u %s_p99_us=%u", name, l->v[l->n / 2], name, l->v[(l->n * 99) / 100]);
}
static struct session *cur;
static struct buf out;

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static size_t verdict_slot(const struct file_id *id)
{
	return (size_t)((id->dev * 0x9e3779b97f4a7c15ull) ^ (id->ino * 0xff51afd7ed558ccdull)) % VERDICT_SLOTS;
}

/* Only plain files (no script, no loader, readable) ever enter the verdict cache. */
static bool in_verdict_cache(const struct file_id *id)
{
	size_t slot = verdict_slot(id);
	return verdicts[slot].used && same_file(&verdicts[slot].id, id);
}

void session_kill_agent(struct session *s)
{
	if (s->listener >= 0) {
		/* Closing the listener makes the kernel fail every pending and later notified syscall. */
		close(s->listener);
		s->listener = -1;
	}
	if (s->agent > 0) {
		kill(-s->agent, SIGKILL);
		kill(s->agent, SIGKILL);
		/* And every other process of the session (we are its subreaper). */
		size_t remaining;
		reap_all(NULL, &remaining, NULL);
	}
}

static NORETURN PRINTF_LIKE(1, 2) void fail_closed(const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	session_kill_agent(cur);
	pty_restore();
	/* The broker hears why (FATAL), so it can say so and end its records; best effort. */
	struct buf b = { 0 };
	buf_puts(&b, "FATAL msg=");
	buf_hex(&b, msg, strlen(msg));
	buf_put(&b, "\n", 1);
	if (cur->broker >= 0)
		proto_send(cur->broker, &b);
	audit_finish();
	fprintf(stderr, "agent-gate: %s; the agent was stopped (fail closed)\n", msg);
	_exit(EXIT_GATE_FAILURE);
}

/* A record the broker made (LOG and VERDICT record=<hex JSON>) into the audit log. */
static int log_record(const struct token *t, char *err, size_t errlen)
{
	size_t len;
	char *json = proto_hex_dup(t, &len);
	if (!json) {
		snprintf(err, errlen, "protocol error: record= is not hex");
		return -1;
	}
	int r = audit_append(json, len, NULL);
	int e = errno;
	free(json);
	if (r < 0) {
		if (e == EINVAL)
			snprintf(err, errlen, "protocol error: a record is not one JSON object on one line");
		else
			snprintf(err, errlen, "cannot write the audit log %s: %s", audit_path(), strerror(e));
		return -1;
	}
	return 0;
}

int session_log(char *cursor, char *err, size_t errlen)
{
	struct token t;
	while (proto_next_token(&cursor, &t))
		if (t.val && strcmp(t.key, "record") == 0)
			return audit_active() ? log_record(&t, err, errlen) : 0;
	snprintf(err, errlen, "protocol error: LOG without record=");
	return -1;
}

/* NOTIF_SEND: err, or (err 0) CONTINUE the syscall or report it done with result 0. Returns false when the
 * target is gone (ENOENT: it died or was interrupted — normal, seccomp_unotify(2)). */
static bool respond(uint64_t cookie, int err, bool cont)
{
	struct seccomp_notif_resp resp = {
		.id = cookie,
		.val = 0,
		.error = err ? -err : 0,
		.flags = !err && cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0,
	};

	if (ioctl(cur->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0)
		return true;
	if (errno != ENOENT)
		debug("NOTIF_SEND %llu: %s", (unsigned long long)cookie, strerror(errno));
	return false;
}

/* Answer an exec. err 0 = CONTINUE (allow). Returns false when the target is gone. */
static bool answer(uint64_t cookie, int err)
{
	return respond(cookie, err, true);
}

/* truncate(2), sent here by the filter when writes are sealed (seccomp.c): done by us or refused, never
 * continued (the kernel would re-read a path the agent can change). */
static void on_truncate(struct seccomp_notif *n)
{
	int r = facts_truncate(cur->listener, n, cur->cfg);
	if (r < 0)
		return; /* the target is gone */
	debug("truncate by tid %u: %s", n->pid, r ? strerror(r) : "done");
	respond(n->id, r, false);
}

/* memfd_create(2), sent here by the filter when Landlock seals execution (seccomp.c SC_WHEN_EXEC_SEALED). A
 * memfd is on an internal mount that Landlock's execute right never looks at, so an executable one would run
 * whatever the agent wrote into it. We create the memfd ourselves with MFD_NOEXEC_SEAL (Linux 6.3+: mode
 * without x, and F_SEAL_EXEC so it can never get one), the name and flags as asked, and put it into the
 * target as the call's result (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND, seccomp_unotify(2)).
 * MFD_EXEC, which asks for an executable memfd, is refused as vm.memfd_noexec=2 refuses it (EACCES). The
 * flags are a register (not racy); the name is only a label. */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

static void on_memfd_create(struct seccomp_notif *n)
{
	char name[250]; /* MFD_NAME_MAX_LEN (249) + NUL */
	unsigned flags = (unsigned)n->data.args[1];

	ssize_t len = procmem_read_str((pid_t)n->pid, n->data.args[0], name, sizeof(name) - 1);
	if (len < 0) {
		respond(n->id, errno == ENAMETOOLONG ? EINVAL : errno == ESRCH ? ENOENT : EFAULT, false);
		return;
	}
	if (flags & MFD_EXEC) {
		respond(n->id, EACCES, false);
		return;
	}
	/* memfd_create(2): the same call, non-executable; CLOEXEC is the target's, set by ADDFD below. */
	AUTOCLOSE int fd = (int)syscall(__NR_memfd_create, name, (flags & ~(unsigned)MFD_CLOEXEC) | MFD_NOEXEC_SEAL);
	if (fd < 0) {
		respond(n->id, errno, false);
		return;
	}
	struct seccomp_notif_addfd add = {
		.id = n->id,
		.flags = SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)fd,
		.newfd = 0,
		.newfd_flags = (flags & MFD_CLOEXEC) ? O_CLOEXEC : 0,
	};
	/* Returns the descriptor number in the target, which the call returns: the syscall is answered. */
	if (ioctl(cur->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) >= 0 || errno == ENOENT)
		return;
	if (errno == EINVAL) {
		/* Before Linux 5.14 (no ADDFD_FLAG_SEND): add the descriptor, then answer with its number. */
		add.flags = 0;
		int nfd = ioctl(cur->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
		if (nfd >= 0) {
			struct seccomp_notif_resp resp = { .id = n->id, .val = nfd, .error = 0, .flags = 0 };
			ioctl(cur->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
			return;
		}
	}
	debug("NOTIF_ADDFD: %s", strerror(errno));
	respond(n->id, errno == EMFILE ? EMFILE : ENOMEM, false);
}

void notify_warn(const char *msg)
{
	struct buf b = { 0 };
	buf_puts(&b, "WARN msg=");
	buf_hex(&b, msg, strlen(msg));
	buf_put(&b, "\n", 1);
	if (cur && cur->broker >= 0 && proto_send(cur->broker, &b) < 0)
		debug("WARN not delivered: %s", strerror(errno));
	buf_free(&b);
}

/* A line the broker may no longer be there for (the session's end). */
static void send_line_quiet(void)
{
	if (proto_send(cur->broker, &out) < 0)
		debug("not delivered: %s", strerror(errno));
	out.len = 0;
}

static void send_line(void)
{
	if (proto_send(cur->broker, &out) < 0)
		fail_closed("lost the broker while sending (%s)", strerror(errno));
	out.len = 0;
}

/* For sockets.c: its SOCKET requests and reports go out on the same socket, in order with the rest. */
static void send_socket_line(struct buf *line)
{
	if (proto_send(cur->broker, line) < 0)
		fail_closed("lost the broker while sending (%s)", strerror(errno));
}

static uint64_t new_request_id(void)
{
	return next_req_id++;
}

static void remember_retry(pid_t tid, uint64_t fingerprint, bool allow)
{
	size_t k = (size_t)tid % RETRY_SLOTS;
	retries[k].tid = tid;
	retries[k].fingerprint = fingerprint;
	retries[k].at = monotonic_us();
	retries[k].allow = allow;
	retries[k].has_id = false;
}

static uint64_t images_of(const struct exec_facts *f);

/* The same for a pending request: its restart gets the answer only if it is the same exec of the same files. */
static void remember_retry_of(const struct pending *p, bool allow)
{
	size_t k = (size_t)p->tid % RETRY_SLOTS;
	remember_retry(p->tid, p->fingerprint, allow);
	retries[k].has_id = true;
	retries[k].id = p->id;
	retries[k].images = p->images;
}

static uint64_t mix_id(uint64_t h, const struct file_id *id)
{
	uint64_t v[6] = { id->dev, id->ino, id->size, (uint64_t)id->mtime.tv_nsec ^ (uint64_t)id->mtime.tv_sec,
			  (uint64_t)id->ctime.tv_nsec ^ (uint64_t)id->ctime.tv_sec, 0 };
	for (size_t i = 0; i < 5; i++)
		h = (h ^ v[i]) * 0x100000001b3ull;
	return h;
}

/* The identities of every image past the first (#! and binfmt_misc interpreters, PT_INTERP, the loader's
 * program) and whether there is one: a re-pointed interpreter changes it. */
static uint64_t images_of(const struct exec_facts *f)
{
	uint64_t h = 0xcbf29ce484222325ull ^ f->nlevels;
	for (size_t i = 0; i < f->nlevels; i++)
		h = mix_id(h, &f->levels[i].ff.id);
	if (f->ld.present)
		h = mix_id(h, &f->ld.id);
	return (h ^ (uint64_t)f->ld_unresolved) * 0x100000001b3ull;
}

static bool no_identity_known(const struct file_id *id)
{
	(void)id;
	return false;
}

/* R47: an allow that took the broker a while (the user reading a question: seconds) would let the kernel run
 * whatever another thread of the target wrote into the path and argv meanwhile, since CONTINUE makes the kernel
 * read them again. So before an allow is continued, the exec is read again, as at first (path resolved, argv,
 * cwd, the chain): the same logical exec and the same files, or it is refused. What is left is the window
 * between this read and the answer (microseconds), the documented CONTINUE race. Returns 0 (the same), a
 * positive errno with why in `why`, or -1 when the target is gone. */
static int recheck(struct pending *p, char *why, size_t cap)
{
	static struct exec_facts g;

	facts_reset(&g);
	int r = facts_gather(cur->listener, &p->n, cur->cfg, &g, no_identity_known);
	if (r == -1)
		return -1;
	if (r == FACTS_UNREADABLE)
		r = EACCES;
	if (r > 0) {
		snprintf(why, cap, "reading the exec again before running it failed (%s)", strerror(r));
		return EACCES;
	}
	if (g.fingerprint != p->fingerprint) {
		snprintf(why, cap, "its path, arguments or working directory changed while it was being decided "
				   "(now %.200s)", g.path);
		return EACCES;
	}
	if (!same_file(&g.exe.id, &p->id) || images_of(&g) != p->images) {
		snprintf(why, cap, "the file it runs changed while it was being decided (now %.200s)", g.exe.path);
		return EACCES;
	}
	return 0;
}

static void apply(struct pending *p, bool allow);

/* An allowed exec that changed before it could run: refused, recorded (after the broker's allow record: this is
 * what the kernel was told) and the broker told, as for a supervisor timeout. */
static void refuse_changed(struct pending *p, const char *why)
{
	if (audit_active()) {
		static struct buf json;
		json.len = 0;
		buf_puts(&json, "{\"type\":\"exec_changed\",\"time\":\"");
		buf_iso_time(&json);
		buf_puts(&json, "\",\"session\":");
		buf_puts(&json, cur->cfg->session_json ? cur->cfg->session_json : "\"\"");
		buf_printf(&json, ",\"request\":%llu,\"verdict\":\"deny\",\"reason\":", (unsigned long long)p->req_id);
		char reason[768];
		int m = snprintf(reason, sizeof(reason), "refused after it was allowed: %s", why);
		buf_json_str(&json, reason, m < 0 ? 0 : (size_t)m < sizeof(reason) ? (size_t)m : sizeof(reason) - 1);
		buf_puts(&json, "}");
		if (audit_append(json.p, json.len, NULL) < 0) {
			int e = errno;
			answer(p->cookie, EACCES);
			fail_closed("cannot write the audit log %s: %s", audit_path(), strerror(e));
		}
	}
	char msg[768];
	snprintf(msg, sizeof(msg), "request %llu refused after it was allowed: %s", (unsigned long long)p->req_id, why);
	buf_puts(&out, "WARN msg=");
	buf_hex(&out, msg, strlen(msg));
	buf_put(&out, "\n", 1);
	send_line();
	apply(p, false);
}

static void apply(struct pending *p, bool allow)
{
	lat_add(&lat_slow, monotonic_us() - p->t0);
	if (!answer(p->cookie, allow ? 0 : EACCES))
		remember_retry_of(p, allow);
}

static void drop_pending(size_t i)
{
	pending[i] = pending[--npending];
}

static struct pending *find_pending(uint64_t req_id, size_t *index)
{
	for (size_t i = 0; i < npending; i++)
		if (pending[i].req_id == req_id) {
			*index = i;
			return &pending[i];
		}
	return NULL;
}

/* Whether a record of f could hold a secret the broker would redact (the prefilter's literals, REDACT): the
 * strings that come from the agent. */
static bool facts_may_secret(const struct exec_facts *f)
{
	if (audit_may_secret(f->path, f->path_len) || audit_may_secret(f->exe.path, f->exe.path_len) ||
	    audit_may_secret(f->cwd, f->cwd_len))
		return true;
	return f->argv.p && audit_may_secret(f->argv.p, f->argv.len);
}

static void on_notification(struct seccomp_notif *n, struct exec_facts *f)
{
	uint64_t t0 = monotonic_us();

	facts_reset(f);
	f->t = t0;
	int r = facts_gather(cur->listener, n, cur->cfg, f, in_verdict_cache);
	if (r == FACTS_UNREADABLE) {
		/* Nothing to decide on: fail closed, and say so (a few times) so the user knows why. */
		n_local++;
		answer(n->id, EACCES);
		if (n_unreadable++ < 10) {
			char comm[64] = "?", path[64], msg[256];
			snprintf(path, sizeof(path), "/proc/%u/comm", n->pid);
			if (read_small_file(AT_FDCWD, path, comm, sizeof(comm)) > 0)
				comm[strcspn(comm, "\n")] = '\0';
			snprintf(msg, sizeof(msg),
				 "denied an exec by pid %u (%s): it made itself non-dumpable, so its arguments cannot be "
				 "read without CAP_SYS_PTRACE",
				 n->pid, comm);
			buf_puts(&out, "WARN msg=");
			buf_hex(&out, msg, strlen(msg));
			buf_put(&out, "\n", 1);
			send_line();
		}
		return;
	}
	if (r < 0)
		return; /* target gone */
	if (r > 0) {
		debug("tid %u %s: answered %s without asking", n->pid, seccomp_syscall_name(n->data.nr), strerror(r));
		n_local++;
		answer(n->id, r);
		return;
	}

	debug("notification tid %d %s path=%.200s exe=%.200s", f->tid, f->execveat ? "execveat" : "execve", f->path,
	      f->exe.path);

	/* The same thread can only be in one syscall: an older pending request of this tid is dead. */
	for (size_t i = 0; i < npending; i++) {
		if (pending[i].tid != f->tid)
			continue;
		if (pending[i].fingerprint == f->fingerprint) {
			debug("tid %d: request %llu arrived again (restarted syscall): same decision pending", f->tid,
			      (unsigned long long)pending[i].req_id);
			pending[i].cookie = n->id;
			pending[i].n = *n; /* the live notification, for the re-read before an allow (R47) */
			n_restarted++;
			return;
		}
		drop_pending(i);
		break;
	}
	size_t k = (size_t)f->tid % RETRY_SLOTS;
	if (retries[k].tid == f->tid) {
		bool hit = retries[k].fingerprint == f->fingerprint && t0 - retries[k].at < RETRY_WINDOW_US;
		bool allow = retries[k].allow;
		if (hit && allow && retries[k].has_id &&
		    (!same_file(&retries[k].id, &f->exe.id) || images_of(f) != retries[k].images))
			hit = false; /* the same words, other files: decided afresh */
		retries[k].tid = 0;
		if (hit) {
			debug("tid %d: same exec again after an interrupted answer: %s", f->tid, allow ? "allow" : "deny");
			n_restarted++;
			answer(n->id, allow ? 0 : EACCES);
			return;
		}
	}

	f->id = next_req_id++;
	if (!first_req_id)
		first_req_id = f->id;
	bool cacheable = !f->is_script && !f->is_loader && !f->opaque;

	if (cacheable) {
		size_t slot = verdict_slot(&f->exe.id);
		if (verdicts[slot].used && same_file(&verdicts[slot].id, &f->exe.id)) {
			bool allow = verdicts[slot].allow;
			/* The decision record goes out before the kernel is answered; a failed write fails closed. Through
			 * the record pipe when there is one: the broker drains it in batches. */
			bool record = verdicts[slot].origin && cur->cfg->session_json && f->exe.present;
			if (audit_active()) {
				/* We write the log: the record goes there first (chained), then to the broker. A hit we cannot
				 * record ourselves — no origin, or a string the broker would redact — is asked instead. */
				if (!record || facts_may_secret(f))
					goto ask;
				static struct buf json, line;
				json.len = 0;
				proto_record_json(&json, f, allow, monotonic_us() - t0, cur->cfg->session_json,
						  verdicts[slot].origin, verdicts[slot].origin_len);
				if (audit_append(json.p, json.len, &line) < 0) {
					int e = errno;
					answer(n->id, EACCES);
					fail_closed("cannot write the audit log %s: %s", audit_path(), strerror(e));
				}
				buf_puts(&out, allow ? "RECORD allow " : "RECORD deny ");
				buf_put(&out, line.p, line.len);
				buf_put(&out, "\n", 1);
			} else if (record) {
				proto_record_line(&out, f, allow, monotonic_us() - t0, cur->cfg->session_json,
						  verdicts[slot].origin, verdicts[slot].origin_len);
			} else {
				proto_exec_line(&out, f, allow ? "allow" : "deny", monotonic_us() - t0, 0);
			}
			if (cur->records >= 0) {
				if (proto_send(cur->records, &out) < 0)
					fail_closed("lost the broker's record pipe (%s)", strerror(errno));
				out.len = 0;
				n_piped++;
			} else {
				send_line();
			}
			lat_add(&lat_cached, monotonic_us() - t0);
			n_records += record;
			debug("request %llu (tid %d) %s from the identity cache (%s)", (unsigned long long)f->id, f->tid,
			      allow ? "allowed" : "denied", record ? "RECORD" : "EXEC");
			if (!answer(n->id, allow ? 0 : EACCES))
				remember_retry(f->tid, f->fingerprint, allow);
			return;
		}
	}

ask:
	proto_exec_line(&out, f, NULL, 0, n_piped);
	send_line();
	if (npending == cap_pending) {
		cap_pending = cap_pending ? cap_pending * 2 : 16;
		pending = xrealloc(pending, cap_pending * sizeof(*pending));
	}
	struct pending *p = &pending[npending++];
	p->req_id = f->id;
	p->t0 = t0;
	p->cookie = n->id;
	p->tid = f->tid;
	p->deadline_us = cur->cfg->timeout_ms ? t0 + (uint64_t)cur->cfg->timeout_ms * 1000u : 0;
	p->cacheable = cacheable;
	p->id = f->exe.id;
	p->fingerprint = f->fingerprint;
	p->images = images_of(f);
	p->n = *n;
	debug("request %llu (tid %d) sent to the broker", (unsigned long long)f->id, f->tid);
}

/* TERMINAL owner=broker|agent: the broker (the CLI) asks the user on the user's terminal. While it does, the
 * relay holds (nothing of the agent's is shown, nothing typed goes to the agent) and the terminal has the
 * user's own mode; the answer comes from keys only the user can type (pty.c). Acknowledged with the same
 * line once done, so the broker shows its question only after the agent's last output. */
static void on_terminal(char *cursor)
{
	struct token t;
	int to_broker = -1;

	while (proto_next_token(&cursor, &t))
		if (t.val && strcmp(t.key, "owner") == 0)
			to_broker = strcmp(t.val, "broker") == 0 ? 1 : strcmp(t.val, "agent") == 0 ? 0 : -1;
	if (to_broker < 0)
		fail_closed("protocol error: TERMINAL needs owner=broker|agent");
	pty_pause(to_broker);
	buf_printf(&out, "TERMINAL owner=%s relay=%s\n", to_broker ? "broker" : "agent", pty_relay());
	send_line();
}

/* READONLY path=<hex>: the broker's guard put a protected path back (red-team R106): bind it read-only in the
 * agent's mount namespace, so the agent cannot write it again (mountns.c). Answered with the same line and
 * ok=1, or ok=0 and why=<hex>: the broker then ends the session at the next change instead. */
static void on_readonly(char *cursor)
{
	struct token t;
	char *p = NULL;
	size_t len = 0;

	while (proto_next_token(&cursor, &t))
		if (t.val && strcmp(t.key, "path") == 0 && !p)
			p = proto_hex_dup(&t, &len);
	if (!p || len == 0 || strlen(p) != len || p[0] != '/')
		fail_closed("protocol error: READONLY needs path=<hex of an absolute path>");
	char err[PATH_MAX + 128];
	int r = mountns_readonly_in(cur->agent, p, err, sizeof(err));
	buf_puts(&out, "READONLY path=");
	buf_hex(&out, p, len);
	if (r == 0) {
		buf_puts(&out, " ok=1\n");
	} else {
		buf_puts(&out, " ok=0 why=");
		buf_hex(&out, err, strlen(err));
		buf_puts(&out, "\n");
	}
	free(p);
	send_line();
}

static void on_broker_line(char *line)
{
	char *cursor;
	struct token t;
	char *type = proto_type(line, &cursor);
	uint64_t id = 0;
	int action = -1; /* 0 deny, 1 allow */
	bool cache = false, have_id = false;
	struct token origin = { 0 }, record = { 0 };

	if (strcmp(type, "LOG") == 0) {
		char err[PATH_MAX + 128];
		if (session_log(cursor, err, sizeof(err)) < 0)
			fail_closed("%s", err);
		return;
	}
	if (strcmp(type, "TERMINAL") == 0) {
		on_terminal(cursor);
		return;
	}
	if (strcmp(type, "READONLY") == 0) {
		on_readonly(cursor);
		return;
	}
	if (strcmp(type, "FLUSH") == 0) {
		/* The broker's policy changed: no cached verdict may outlive the policy that gave it. */
		for (size_t k = 0; k < VERDICT_SLOTS; k++) {
			free(verdicts[k].origin);
			verdicts[k].origin = NULL;
			verdicts[k].used = false;
		}
		return;
	}
	if (strcmp(type, "VERDICT") != 0 && strcmp(type, "HOLD") != 0)
		fail_closed("protocol error: unexpected message '%.40s' from the broker", type);
	while (proto_next_token(&cursor, &t)) {
		if (!t.val)
			continue;
		if (strcmp(t.key, "id") == 0)
			have_id = proto_u64(&t, &id);
		else if (strcmp(t.key, "action") == 0)
			action = strcmp(t.val, "allow") == 0 ? 1 : strcmp(t.val, "deny") == 0 ? 0 : -2;
		else if (strcmp(t.key, "cache") == 0)
			cache = strcmp(t.val, "1") == 0;
		else if (strcmp(t.key, "origin") == 0)
			origin = t;
		else if (strcmp(t.key, "record") == 0)
			record = t;
	}
	if (!have_id)
		fail_closed("protocol error: %s without id", type);
	size_t i = 0;
	struct pending *p = find_pending(id, &i);
	if (type[0] == 'V' && audit_active()) {
		/* The decision's record first, then the answer: an exec never runs without it. */
		char err[PATH_MAX + 128];
		if (!record.val)
			fail_closed("protocol error: VERDICT without its record (this supervisor writes the audit log)");
		if (log_record(&record, err, sizeof(err)) < 0) {
			if (p)
				answer(p->cookie, EACCES);
			fail_closed("%s", err);
		}
	}
	if (type[0] == 'H') {
		if (p)
			p->deadline_us = 0;
		return;
	}
	if (action < 0)
		fail_closed("protocol error: VERDICT needs action=allow|deny");
	if (!p) {
		if (type[0] == 'V' && sockets_on_verdict(id, action == 1))
			return;
		debug("VERDICT for %llu ignored (already answered)", (unsigned long long)id);
		return;
	}
	if (cache && p->cacheable) {
		size_t slot = verdict_slot(&p->id);
		verdicts[slot].used = true;
		verdicts[slot].allow = action == 1;
		verdicts[slot].id = p->id;
		free(verdicts[slot].origin);
		verdicts[slot].origin = NULL;
		size_t len = 0;
		char *o = origin.val && origin.vlen <= 2 * ORIGIN_MAX ? proto_hex_dup(&origin, &len) : NULL;
		/* A record line must stay one line: an origin with a newline or a NUL is not used. */
		if (o && len > 0 && !memchr(o, '\n', len) && !memchr(o, '\0', len)) {
			verdicts[slot].origin = o;
			verdicts[slot].origin_len = len;
		} else {
			free(o);
		}
	}
	if (action == 1) {
		char why[512];
		int r = recheck(p, why, sizeof(why));
		if (r == -1) {
			/* Interrupted meanwhile (or gone): a restart of the same exec of the same files gets the allow. */
			remember_retry_of(p, true);
			drop_pending(i);
			return;
		}
		if (r > 0) {
			refuse_changed(p, why);
			drop_pending(i);
			return;
		}
	}
	apply(p, action == 1);
	drop_pending(i);
	facts_release(); /* the re-read's pidfd, now that the kernel has its answer */
}

static void on_deadlines(void)
{
	uint64_t now = monotonic_us();

	for (size_t i = 0; i < npending;) {
		struct pending *p = &pending[i];
		if (!p->deadline_us || p->deadline_us > now) {
			i++;
			continue;
		}
		bool allow = cur->cfg->timeout_allow;
		if (audit_active()) {
			/* What the kernel is about to be told is recorded first, as for every answer. */
			static struct buf json;
			json.len = 0;
			buf_puts(&json, "{\"type\":\"supervisor_timeout\",\"time\":\"");
			buf_iso_time(&json);
			buf_puts(&json, "\",\"session\":");
			buf_puts(&json, cur->cfg->session_json ? cur->cfg->session_json : "\"\"");
			buf_printf(&json,
				   ",\"request\":%llu,\"verdict\":\"%s\",\"reason\":\"no verdict within "
				   "on_supervisor_timeout_ms = %u: the supervisor applied %s\"}",
				   (unsigned long long)p->req_id, allow ? "allow" : "deny", cur->cfg->timeout_ms,
				   allow ? "allow" : "deny");
			if (audit_append(json.p, json.len, NULL) < 0) {
				int e = errno;
				answer(p->cookie, EACCES);
				fail_closed("cannot write the audit log %s: %s", audit_path(), strerror(e));
			}
		}
		buf_printf(&out, "TIMEOUT id=%llu action=%s piped=%llu\n", (unsigned long long)p->req_id,
			   allow ? "allow" : "deny", (unsigned long long)n_piped);
		send_line();
		if (!answer(p->cookie, allow ? 0 : EACCES))
			remember_retry_of(p, allow);
		drop_pending(i);
	}
}

static int poll_timeout_ms(void)
{
	uint64_t now = monotonic_us(), next = 0;

	for (size_t i = 0; i < npending; i++)
		if (pending[i].deadline_us && (!next || pending[i].deadline_us < next))
			next = pending[i].deadline_us;
	if (!next)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

/* After EXIT, when we write the audit log: the broker's last records (the outcome, the session's end) come as
 * LOG lines, then BYE, which we answer with the chain's head once the log is closed. EOF, or nothing for
 * 10 s, ends it too. Nothing runs any more (the listener is closed): a record that cannot be written is
 * reported, and the log ends where it is. */
static void end_of_log(struct session *s)
{
	if (!audit_active())
		return;
	uint64_t until = monotonic_us() + 10 * 1000000u;
	for (;;) {
		for (;;) {
			bool too_long;
			char *line = lr_next(s->rd, &too_long);
			if (!line)
				break;
			char *cursor;
			char *type = proto_type(line, &cursor);
			if (strcmp(type, "LOG") == 0) {
				char err[PATH_MAX + 128];
				if (session_log(cursor, err, sizeof(err)) < 0)
					warn_msg("%s", err);
			} else if (strcmp(type, "BYE") == 0) {
				char hex[65];
				uint64_t size;
				audit_finish();
				audit_head(hex, &size);
				buf_printf(&out, "BYE head=%s size=%llu\n", hex, (unsigned long long)size);
				send_line_quiet();
				return;
			}
		}
		uint64_t now = monotonic_us();
		struct pollfd pfd = { .fd = s->broker, .events = POLLIN };
		if (now >= until || poll(&pfd, 1, (int)((until - now) / 1000) + 1) <= 0 || lr_fill(s->rd) <= 0)
			break;
	}
	audit_finish();
}

/* Kept leftovers after the agent exited (keep_leftovers): the session goes on until they are gone. */
static struct {
	bool gone;  /* the agent exited and kept processes remain */
	bool stop;  /* a terminating signal came meanwhile: end them */
	int code, sig;
	size_t count;
	struct buf names;
} kept;

/* Returns true when the agent has exited (its status in *status). */
static bool on_signal(int *status)
{
	struct signalfd_siginfo si;
	bool exited = false;

	while (read(cur->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			pty_winch();
			continue;
		}
		if (si.ssi_signo == SIGCONT) {
			pty_continued();
			continue;
		}
		if (si.ssi_signo != SIGCHLD && kept.gone) {
			if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP || si.ssi_signo == SIGQUIT)
				kept.stop = true;
			continue;
		}
		if (si.ssi_signo != SIGCHLD) {
			debug("forwarding signal %u to the agent's process group", si.ssi_signo);
			if (kill(-cur->agent, (int)si.ssi_signo) < 0)
				kill(cur->agent, (int)si.ssi_signo);
			/* A stopped group keeps a terminating signal pending until it is continued (signal(7)): a
			 * stopped agent must still end on HUP/INT/TERM/QUIT, as a shell's `kill` of a stopped job does. */
			kill(-cur->agent, SIGCONT);
		}
	}
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG | WUNTRACED);
		if (pid <= 0)
			break;
		if (pid == cur->agent && WIFSTOPPED(st)) {
			/* ^Z: there is no job-control shell above the agent to `fg` it, so a stopped agent would be a
			 * hung terminal. Continue it (^Z is a no-op); an explicit SIGSTOP is left alone. */
			if (WSTOPSIG(st) == SIGTSTP)
				kill(-cur->agent, SIGCONT);
			continue;
		}
		if (pid == cur->agent) {
			*status = st;
			exited = true;
		}
	}
	return exited;
}

/* EXIT: the agent's status, what it left running, the counters. */
static void send_exit(struct session *s, int code, int sig, size_t leftovers, size_t remaining, const struct buf *names)
{
	buf_printf(&out, "EXIT id=%llu code=%d signal=%d n_asked=%llu n_cached=%llu n_local=%llu n_restarted=%llu n_records=%llu",
		   (unsigned long long)first_req_id, code, sig, (unsigned long long)lat_slow.count,
		   (unsigned long long)lat_cached.count, (unsigned long long)n_local, (unsigned long long)n_restarted,
		   (unsigned long long)n_records);
	buf_printf(&out, " leftovers=%zu leftovers_kept=%d leftovers_remaining=%zu", leftovers, s->cfg->keep_leftovers,
		   remaining);
	if (names->len)
		buf_put(&out, names->p, names->len);
	lat_fields(&out, "asked", &lat_slow);
	lat_fields(&out, "cached", &lat_cached);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		unsigned long long user = (unsigned long long)ru.ru_utime.tv_sec * 1000000ull +
					  (unsigned long long)ru.ru_utime.tv_usec;
		unsigned long long sys = (unsigned long long)ru.ru_stime.tv_sec * 1000000ull +
					 (unsigned long long)ru.ru_stime.tv_usec;
		buf_printf(&out, " cpu_us=%llu cpu_user_us=%llu", user + sys, user);
	}
	buf_put(&out, "\n", 1);
	if (proto_send(s->broker, &out) < 0)
		debug("EXIT not delivered: %s", strerror(errno));
	out.len = 0;
}

int notify_loop(struct session *s)
{
	struct seccomp_notif_sizes sizes;
	static struct exec_facts facts;
	bool listener_hup = false;

	cur = s;
	/* seccomp(2) SECCOMP_GET_NOTIF_SIZES: the kernel's struct sizes may be larger than our headers'. */
	if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		fail_closed("SECCOMP_GET_NOTIF_SIZES: %s", strerror(errno));
	size_t nsize = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif
									   : sizeof(struct seccomp_notif);
	struct seccomp_notif *notif = xmalloc(nsize);
	sockets_init(s->listener, s->cfg, &s->sockets, send_socket_line, new_request_id);

	for (;;) {
		/* The listener, the broker, the signalfd, the pty relay (two), then the sockets whose connect or send
		 * we wait on. */
		struct pollfd pfd[5 + 64] = {
			{ .fd = listener_hup ? -1 : s->listener, .events = POLLIN },
			{ .fd = s->broker, .events = POLLIN },
			{ .fd = s->sigfd, .events = POLLIN },
		};
		int nfds = 3 + pty_pollfds(&pfd[3]);
		size_t nsock = sockets_pollfds(pfd + nfds, ARRAY_LEN(pfd) - (size_t)nfds);
		int timeout = poll_timeout_ms(), st_ms = sockets_timeout_ms();
		if (st_ms >= 0 && (timeout < 0 || st_ms < timeout))
			timeout = st_ms;
		int r = poll(pfd, (nfds_t)nfds + nsock, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail_closed("poll: %s", strerror(errno));
		}
		if (pfd[2].revents && kept.gone) {
			int st;
			on_signal(&st);
			if (kept.stop) {
				/* A terminating signal: the user ends the session, and the kept processes with it. */
				size_t remaining;
				reap_all(NULL, &remaining, NULL);
			}
			struct buf none = { 0 };
			size_t left = reap_count(&none);
			buf_free(&none);
			if (left == 0) {
				send_exit(s, kept.code, kept.sig, kept.count, 0, &kept.names);
				buf_free(&kept.names);
				end_of_log(s);
				return kept.sig ? 128 + kept.sig : kept.code;
			}
			continue;
		}
		if (pfd[2].revents) {
			int st;
			if (on_signal(&st)) {
				/* What the agent wrote last is still in the pty: show it, and give the user's terminal
				 * its mode back, before the broker hears of the end (and the CLI writes its summary). */
				pty_finish();
				int code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
				int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
				/* What the agent left running: ended (its listener stays open meanwhile, so a leftover's
				 * exec is still decided until it dies), or counted and kept. */
				struct buf names = { 0 }, stuck = { 0 };
				size_t remaining = 0, leftovers;
				if (s->cfg->keep_leftovers)
					leftovers = reap_count(&names);
				else
					leftovers = reap_all(&names, &remaining, &stuck);
				if (stuck.len) {
					buf_puts(&names, " leftovers_stuck=");
					buf_hex(&names, stuck.p, stuck.len);
				}
				buf_free(&stuck);
				if (s->cfg->keep_leftovers && leftovers > 0) {
					/* Kept (red-team R54): the session goes on while any of them lives — we stay their
					 * subreaper and their gate (every exec still judged), the broker keeps guarding the
					 * workspace files — and ends when the last one exits, or on a terminating signal. */
					kept.gone = true;
					kept.code = code;
					kept.sig = sig;
					kept.count = leftovers;
					kept.names = names;
					char msg[512];
					snprintf(msg, sizeof(msg),
						 "the agent exited (%s %d); %zu process%s it started %s kept (keep_leftovers): the session goes on "
						 "— their programs still judged, the workspace files still guarded — until the last one exits "
						 "(end them, or interrupt agent-gate, to end it)",
						 sig ? "signal" : "status", sig ? sig : code, leftovers, leftovers == 1 ? "" : "es",
						 leftovers == 1 ? "is" : "are");
					notify_warn(msg);
					continue;
				}
				send_exit(s, code, sig, leftovers, remaining, &names);
				buf_free(&names);
				if (!s->cfg->keep_leftovers)
					session_kill_agent(s);
				end_of_log(s);
				return sig ? 128 + sig : code;
			}
		}
		if (pfd[1].revents) {
			ssize_t n = lr_fill(s->rd);
			if (n == 0)
				fail_closed("the broker closed the connection");
			if (n < 0 && errno != EAGAIN)
				fail_closed("reading from the broker: %s", strerror(errno));
			for (;;) {
				bool too_long;
				char *line = lr_next(s->rd, &too_long);
				if (too_long)
					fail_closed("protocol error: line too long from the broker");
				if (!line)
					break;
				on_broker_line(line);
			}
		}
		if (pfd[0].revents & POLLIN) {
			memset(notif, 0, nsize);
			/* seccomp_unotify(2) NOTIF_RECV; ENOENT: the target died before we got it — normal. */
			if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, notif) == 0) {
				/* One case per NOTIFY entry of the filter's table (seccomp.c). */
				switch (notif->data.nr) {
				case __NR_execve:
				case __NR_execveat:
					on_notification(notif, &facts);
					break;
				case __NR_truncate:
					on_truncate(notif);
					break;
				case __NR_memfd_create:
					on_memfd_create(notif);
					break;
				case __NR_socket:
				case __NR_connect:
				case __NR_listen:
				case __NR_accept:
				case __NR_accept4:
				case __NR_sendto:
				case __NR_sendmsg:
				case __NR_sendmmsg:
				case __NR_setsockopt:
					sockets_on_notification(notif);
					break;
				default:
					if (meta_handles(notif->data.nr)) {
						int mr = meta_perform(cur->listener, notif, cur->cfg);
						if (mr >= 0)
							respond(notif->id, mr, false);
						break;
					}
					/* A NOTIFY entry without a handler: a programming error; refuse, never continue. */
					warn_msg("no handler for notified syscall %d (%s): refused", notif->data.nr,
						 seccomp_syscall_name(notif->data.nr));
					respond(notif->id, ENOSYS, false);
				}
				facts_release();
			} else if (errno != ENOENT && errno != EINTR) {
				fail_closed("SECCOMP_IOCTL_NOTIF_RECV: %s", strerror(errno));
			}
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			/* Every task under the filter is gone; wait for SIGCHLD only. */
			listener_hup = true;
		}
		if (nfds > 3)
			pty_on_poll(&pfd[3]);
		on_deadlines();
		sockets_after_poll(pfd + nfds, nsock);
	}
}
