/* A root agent's private mount namespace: /proc scoped to the session, protected workspace files read-only
 * (mountns.c says why and how). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "landlock.h"
#include "proto.h"

/* Whether this supervisor can give the agent a mount namespace of its own (root with CAP_SYS_ADMIN, and not
 * turned off with AGENT_GATE_NO_MOUNTNS=1). */
bool mountns_possible(void);

/* In the agent, before its capabilities are dropped and Landlock is entered: a private mount namespace, a
 * /proc of its own that shows only the processes it may ptrace (the session's), and each PROTECT path
 * bind-mounted read-only over itself; then the Landlock grants under /proc again. 0, or -1 with the reason
 * in err. */
int mountns_setup(const struct config *c, const struct landlock_plan *plan, char *err, size_t errlen);
