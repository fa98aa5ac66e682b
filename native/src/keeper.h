/* The keeper: the supervisor's parent, which ends the session's processes if the supervisor dies (keeper.c). */
#pragma once

/* Fork: the keeper stays in this process (and never returns), the supervisor goes on in the child. After the
 * broker's socket is connected (the keeper reports on it), before anything of the session exists. */
void keeper_start(int broker);
