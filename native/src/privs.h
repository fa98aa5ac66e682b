/* The agent's capabilities: what a root agent keeps (privs.c says which and why). */
#pragma once
#include <stdint.h>

/* Capabilities kept (a subset of Docker's default set); every other one is dropped. */
uint64_t privs_kept(void);

/* In the agent, before NO_NEW_PRIVS: drop every capability outside privs_kept() from the bounding set
 * (where we may: CAP_SETPCAP), and from the effective, permitted and inheritable sets; clear the ambient
 * set. Returns 0, or -errno of the call that failed (the agent must not run then). */
int privs_drop(void);
