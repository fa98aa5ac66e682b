/* The session's leftover processes (reap.c says how they are found and ended). */
#pragma once
#include <stddef.h>

#include "util.h"

/* Make the supervisor the child subreaper of everything the agent starts. Before the fork. */
void reap_init(void);
/* End every process of the session: the whole subtree below us stopped, then killed, pass after pass until
 * none is left. Returns how many processes were ended; appends " leftover=<hex comm>" for the first 20
 * distinct names to names (may be NULL). *remaining is how many could not be ended: all of them in
 * uninterruptible sleep for seconds (their SIGKILL pending); stuck (may be NULL) then says which, and where. */
size_t reap_all(struct buf *names, size_t *remaining, struct buf *stuck);
/* How many processes of the session are left (keep_leftovers: they are counted, not ended), named as with
 * reap_all. */
size_t reap_count(struct buf *names);
