/* posix_spawn or vfork+exec of argv[2...]; prints the child's exit status.
 * usage: spawn posix_spawn|vfork PATH [ARGS...] */
#include "result.h"
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "posix_spawn") == 0) {
		int e = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
		if (e)
			return result_errno("posix_spawn", e);
	} else {
		pid = vfork();
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(errno == EACCES ? 126 : 127);
		}
	}
	waitpid(pid, &st, 0);
	printf("RESULT %s status=%d\n", argv[1], WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}
