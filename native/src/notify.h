/* The notification loop: receive exec notifications, ask the broker, answer the kernel. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "proto.h"
#include "sockets.h"

struct session {
	int listener;
	int broker;
	int records; /* the record pipe's write end (cached decision records), or -1: they go to broker */
	int sigfd;
	pid_t agent;
	bool killable;
	const struct config *cfg;
	struct line_reader *rd;
	struct sockets_mode sockets; /* what socket calls the supervisor performs for the agent (sockets.c) */
};

/* Run until the agent exits; returns the supervisor's exit status (code, or 128+signal). On broker loss
 * or a protocol error it fails closed and exits 126 itself. */
int notify_loop(struct session *s);

/* A LOG line's record (cursor: its tokens) into the audit log, when we write it. 0, or -1 and why in err. */
int session_log(char *cursor, char *err, size_t errlen);

/* A warning for the user, to the broker now (a WARN line). */
void notify_warn(const char *msg);

/* Fail closed: close the listener, SIGKILL the agent's process group. Safe to call twice. */
void session_kill_agent(struct session *s);
