/* The session's leftover processes (reap.c says how they are found and ended). */
#pragma once
#include <stddef.h>

#include "util.h"

/* Make the supervisor the child subreaper of everything the agent starts. Before the fork. */
void reap_init(void);
/* After the agent exited: SIGKILL everything left of the session, layer by layer, reaping as it goes, for at
 * most timeout_ms. Returns how many processes were ended; appends " leftover=<hex comm>" for the first 20 to
 * names; *remaining is how many were still there at the deadline (unkillable: a process stuck in the
 * kernel). */
size_t reap_all(struct buf *names, int timeout_ms, size_t *remaining);
/* How many processes of the session are left (keep_leftovers: they are counted, not ended); the names of
 * our direct children go to names as with reap_all. */
size_t reap_count(struct buf *names);
