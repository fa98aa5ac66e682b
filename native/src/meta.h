/* Metadata changes (mode, owner, times, extended attributes) performed for the agent inside its write grants
 * only (meta.c says why). */
#pragma once
#include <linux/seccomp.h>
#include <stdbool.h>

#include "proto.h"

/* Whether the filter sends syscall nr here. */
bool meta_handles(int nr);

/* Perform the notified call n on the agent's behalf when the file it names is inside the write grants: 0
 * (done), a positive errno for the agent, or -1 when the notification is gone. */
int meta_perform(int listener, const struct seccomp_notif *n, const struct config *c);
