/* The agent's own terminal and the relay between it and the user's (pty.c says why). */
#pragma once
#include <poll.h>
#include <stdbool.h>

/* Before the fork: when stdin is a terminal, allocate the agent's pty (same mode and size as the user's
 * terminal). false: no pty (no terminal, or it could not be set up: then warn() says why). */
bool pty_open(void (*warn)(const char *msg));
/* The pty's slave path (for the Landlock grant), or NULL without a pty. */
const char *pty_slave_path(void);
/* In the agent, before Landlock and the filter: a session of its own; with a pty, the pty as its
 * controlling terminal and as each of 0, 1, 2 that was the user's terminal. Exits 126 on failure. */
void pty_child(void);
/* In the supervisor after the fork: the user's terminal goes raw, the relay starts. */
void pty_start(void);
/* The relay's two poll entries (p[0] the user's terminal, p[1] the pty); returns how many were filled (0
 * without a pty). An entry with nothing to wait for has fd -1. */
int pty_pollfds(struct pollfd *p);
/* Move what the poll said is ready. */
void pty_on_poll(const struct pollfd *p);
/* TERMINAL owner=broker (true) / agent (false): hold the relay and give the user's terminal its own mode
 * while the broker asks on it, then resume. */
void pty_pause(bool paused);
/* What a hold holds: "own" (the agent has its own pty: the relay is held), "shared" (one of 0, 1, 2 is the
 * user's terminal but the agent got no pty: it writes to the user's terminal directly, nothing to hold),
 * "none" (the agent has no terminal). */
const char *pty_relay(void);
/* SIGWINCH: the user's terminal was resized; the agent's follows. */
void pty_winch(void);
/* SIGCONT: we were stopped and continued; raw mode again. */
void pty_continued(void);
/* The agent exited: show what the pty still holds (up to 2 s), restore the user's terminal. */
void pty_finish(void);
/* Restore the user's terminal mode (every way out, the fatal ones included). */
void pty_restore(void);
