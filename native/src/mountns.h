/* A root agent's private mount namespace: /proc scoped to the session, protected workspace files read-only
 * (mountns.c says why and how). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "landlock.h"
#include "proto.h"

/* Whether this supervisor can give the agent a mount namespace of its own (root with CAP_SYS_ADMIN; not root:
 * where the kernel lets it make a user namespace; not turned off with AGENT_GATE_NO_MOUNTNS=1). */
bool mountns_possible(void);

/* Whether that namespace is made in a user namespace of the agent's own (a non-root supervisor: no /proc of
 * its own then). */
bool mountns_in_userns(void);

/* In the agent, before its capabilities are dropped and Landlock is entered: a private mount namespace, a
 * /proc of its own that shows only the processes it may ptrace (the session's), and each PROTECT path
 * bind-mounted read-only over itself; then the Landlock grants under /proc again. 0, or -1 with the reason
 * in err. */
int mountns_setup(const struct config *c, const struct landlock_plan *plan, char *err, size_t errlen);

/* From the supervisor, while the agent runs: bind p read-only over itself in the agent's mount namespace (that of
 * process `agent`), so its next write or replacement fails. 0, or -1 with the reason in err (the agent has no
 * mount namespace of its own, p is gone, …). */
int mountns_readonly_in(pid_t agent, const char *p, char *err, size_t errlen);
