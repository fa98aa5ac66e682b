/* The audit log, written by the supervisor while a session runs (docs/protocol.md, "The audit log"). Every
 * decision record is on disk before the kernel is answered, whoever decided (the broker, the identity cache,
 * a timeout); each line is chained to the one before it (its sha256 in "prev"); space is reserved ahead so a
 * full filesystem cannot stop the log mid-session; a line that cannot be written whole is cut back and the
 * session fails closed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct audit_config {
	char *path;          /* NULL: the broker writes the log itself (no AUDIT line) */
	uint64_t dev, ino;   /* the file the broker opened: the same file must be found at path */
	uint64_t reserve;    /* bytes to keep allocated ahead of the end of the log (0: none) */
	bool require_reserve; /* the agent can write to the log's filesystem: no reservation, no session */
	char *head_file;     /* where the last line's hash is kept for `agent-gate audit verify` (NULL: nowhere) */
	char **redact;       /* REDACT literals: a record holding one goes to the broker, which redacts */
	size_t nredact;
};

/* Where warnings go from now on (at start they are collected for the handshake; once the agent runs they go to
 * the broker as WARN lines at once). */
void audit_set_warn(void (*warn)(const char *msg));

/* Whether this session's log is written here. */
bool audit_active(void);

/* For REPORT audit=: "broker" (not written here), "reserved", "unreserved" (a regular file without a
 * reservation), "stream" (a character device or a FIFO). */
const char *audit_state(void);

/* At START: open the log, cut a partial last line back (a write cut short by a crash), learn the chain's head
 * from the last line, reserve space. Dies with a message (FATAL) when the log cannot be used. warn() gets
 * what the user should know (a repaired log, a reservation that could not be made). */
void audit_open(const struct audit_config *c, void (*warn)(const char *msg));

/* Append one record: json is one JSON object (no newline, no "prev"); the line written is json with
 * ,"prev":"<sha256 of the previous line>" before its final '}'. finished (when not NULL) gets that JSON,
 * without the newline. 0, or -1 with errno and nothing of the line left in the log. */
int audit_append(const char *json, size_t len, struct buf *finished);

/* Whether one of the REDACT literals (case-insensitive, ASCII) occurs in these bytes. */
bool audit_may_secret(const char *s, size_t n);

/* The path, for messages. */
const char *audit_path(void);

/* The chain's head now (hex, 64 characters and a NUL) and the log's size. */
void audit_head(char hex[65], uint64_t *size);

/* End of the session: give back the unused reservation and keep the head in the head file. Safe to call more
 * than once, and from the fail-closed path. */
void audit_finish(void);
