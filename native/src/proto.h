/* Wire encode/decode of the supervisor ⇄ broker protocol (docs/protocol.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "util.h"

#define PROTO_VERSION 1
#define PROTO_MAX_LINE (4u << 20)

/* Incremental reader of '\n'-terminated lines from a stream fd. */
struct line_reader {
	int fd;
	char *buf;
	size_t start, len, cap;
};
void lr_init(struct line_reader *r, int fd);
/* One read(2) into the buffer: >0 bytes read, 0 on EOF, -1 on error (errno; EAGAIN when nothing there). */
ssize_t lr_fill(struct line_reader *r);
/* The next complete line (NUL-terminated, '\n' stripped) or NULL. Lines longer than PROTO_MAX_LINE
 * make *too_long true. The pointer is valid until the next lr_fill. */
char *lr_next(struct line_reader *r, bool *too_long);
/* Block until a whole line is there; NULL on EOF/error/too long. */
char *lr_read_line(struct line_reader *r);

/* Token iteration over "TYPE tok tok key=value ...": splits in place. */
struct token {
	const char *key; /* whole token when there is no '=' */
	const char *val; /* NULL when there is no '=' */
	size_t vlen;
};
/* Returns the message type and leaves *cursor at the tokens. */
char *proto_type(char *line, char **cursor);
bool proto_next_token(char **cursor, struct token *t);
/* Parse an unsigned decimal value; false on junk or overflow. */
bool proto_u64(const struct token *t, uint64_t *out);
/* Decode a hex value into a freshly allocated NUL-terminated string (*len bytes). NULL on bad hex. */
char *proto_hex_dup(const struct token *t, size_t *len);

/* The session configuration sent by the broker between CONFIG and START. */
struct grant {
	char rights[6]; /* subset of "rwxls" (l: list directories only; s: the session's socket directory — see
			 * docs/protocol.md and landlock.c) */
	char *path;
};
struct net_port {
	uint16_t port;
	bool connect, bind;
};
/* A resolver the agent may send DNS to when [network] seals (NET_DNS): IPv4 (4 bytes) or IPv6 (16). */
struct dns_server {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	uint16_t port;
};
struct config {
	struct grant *grants;
	size_t ngrants;
	bool fs_handled_set;
	char fs_handled[6];
	bool net_handled_set;
	bool net_connect, net_bind;
	struct net_port *ports;
	size_t nports;
	bool require_fs, require_net, require_unix;
	struct dns_server *dns; /* NET_DNS: with [network], UDP (and TCP) only to these, port 53 */
	size_t ndns;
	bool unix_sealed; /* UNIX_SEALED: a unix socket not made in this session is connected to only on the
			   * broker's word (SOCKET … VERDICT) */
	bool loopback_sealed; /* LOOPBACK_SEALED: connects to this host (loopback and its own addresses) reach only the
			       * session's own listeners, the resolvers (LOOPBACK_DNS) and the ports LOOPBACK_PORT lets through;
			       * accept hands over a connection from this host only when the session made it */
	struct net_port *loop_ports; /* LOOPBACK_PORT: connect = may reach a service outside on it; bind = outside
				      * clients may reach the agent's listener on it */
	size_t nloop_ports;
	struct dns_server *loop_dns; /* LOOPBACK_DNS: resolvers on this host (port 53, UDP and TCP) */
	size_t nloop_dns;
	char **unix_grants; /* UNIX_GRANT: with Landlock's RESOLVE_UNIX (ABI 9), where sockets may be resolved */
	size_t nunix_grants;
	unsigned timeout_ms; /* 0: no supervisor deadline */
	bool timeout_allow;
	char **hash_under;
	size_t nhash_under;
	/* HASH_SIZES: hash a file under hash_under only when its size is one of these (sorted): the sizes of the
	 * programs the policy names, the only contents a hash can match. Without the line, every size. */
	bool hash_sizes_set;
	uint64_t *hash_sizes;
	size_t nhash_sizes;
	bool records; /* RECORDS: the broker reads the record pipe */
	bool keep_leftovers; /* LEFTOVERS keep=1: the session's processes outlive the agent (counted, not ended) */
	char **protect; /* PROTECT: workspace paths tools outside the gate run; read-only in a root agent's
			 * mount namespace (mountns.c) */
	size_t nprotect;
	char **argv; /* ARGV: the agent's command line as raw bytes (NULL-terminated), instead of ours after `--` */
	size_t nargv;
	char **env_unset; /* ENV_UNSET: names removed from the agent's environment (raw bytes, NUL-terminated) */
	size_t nenv_unset;
	char **env_set; /* ENV_SET: "name=value" entries the agent's environment gets (replacing one of that name) */
	size_t nenv_set;
	char *session_json; /* JSON_RECORDS: the session id as a JSON string; cached verdicts are then recorded as
			     * finished audit records (RECORD lines) where the broker gave the verdict's origin */
	struct audit_config audit; /* AUDIT and REDACT: the supervisor writes the audit log */
};
/* Read CONFIG … START from the broker. Dies with a clear message on a protocol error. */
void proto_read_config(struct line_reader *r, struct config *c);

/* Send one complete line (which must end with '\n') with a blocking write. 0 or -1 (errno). */
int proto_send(int fd, const struct buf *line);

struct exec_facts;
/* Append the EXEC line for f (with "cached=… lat=…" when cached is "allow"/"deny"; "piped=…", the records
 * written to the record pipe so far, when piped > 0), '\n' included. */
void proto_exec_line(struct buf *b, const struct exec_facts *f, const char *cached, uint64_t lat_us, uint64_t piped);
/* Append a JSON string for n raw bytes, exactly as JSON.stringify writes the broker's text for them
 * (bytesToText in src/core/exec/facts.ts: a byte that starts no valid UTF-8 sequence is U+DC00+byte). */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* Append the RECORD line of a cached verdict: the decision record the broker would have built for f (same
 * fields, same order, same JSON), with origin ("rule_id":…,"reason":…,"layer":…, from the broker's VERDICT)
 * spliced in; '\n' included. */
void proto_record_line(struct buf *b, const struct exec_facts *f, bool allow, uint64_t lat_us, const char *session_json,
		       const char *origin, size_t origin_len);
/* The same record as JSON alone (no "RECORD verdict " in front, no newline). */
void proto_record_json(struct buf *b, const struct exec_facts *f, bool allow, uint64_t lat_us, const char *session_json,
		       const char *origin, size_t origin_len);
/* Append the current time as Date.prototype.toISOString writes it. */
void buf_iso_time(struct buf *b);
