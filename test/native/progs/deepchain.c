/* Red-team R88: a chain of processes, each the child of the one before (depth, not width), detached (setsid)
 * and deaf to the pty's hang-up. Once DEPTH deep it says so (the file GO.ready) and forks on: its deepest
 * process adds layers as fast as it can up to MAX, then a short-lived child every 10 ms, while the session lasts
 * (the supervisor there, no file GO); then it writes what the workspace guard would have put back. Every
 * process stays alive afterwards, so a test sees whether any outlived the session.
 * usage: deepchain DEPTH MAX SUPERVISOR_PID GO DIR_TO_MAKE|- FILE TEXT [TOKEN…] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* kill(2) says EPERM while the supervisor lives (Landlock scopes signals), ESRCH once it is gone. */
static int session_lasts(pid_t sup, const char *go)
{
	return (kill(sup, 0) == 0 || errno == EPERM) && access(go, F_OK) != 0;
}

int main(int argc, char **argv)
{
	if (argc < 8)
		return 2;
	int depth = atoi(argv[1]), max = atoi(argv[2]);
	pid_t sup = (pid_t)atoi(argv[3]);
	const char *go = argv[4];

	signal(SIGHUP, SIG_IGN);
	setsid();
	for (int i = 0; i < depth; i++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p > 0)
			for (;;)
				pause();
	}
	char ready[4096];
	snprintf(ready, sizeof(ready), "%s.ready", go);
	close(open(ready, O_WRONLY | O_CREAT, 0644));
	while (session_lasts(sup, go)) {
		if (depth < max) {
			pid_t p = fork();
			if (p > 0)
				for (;;)
					pause();
			if (p == 0)
				depth++;
			continue;
		}
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		if (c > 0)
			waitpid(c, NULL, 0);
		usleep(10000);
	}
	usleep(200000);
	if (strcmp(argv[5], "-") != 0)
		mkdir(argv[5], 0755);
	int fd = open(argv[6], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		(void)!write(fd, argv[7], strlen(argv[7]));
		close(fd);
	}
	for (;;)
		pause();
}
