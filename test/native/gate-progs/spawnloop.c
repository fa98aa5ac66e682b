/* Benchmark workload: N × posix_spawn(PATH) + wait. usage: spawnloop N PATH */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[1]);
	char *args[] = { argv[2], NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int e = posix_spawn(&pid, argv[2], NULL, NULL, args, environ);
		if (e) {
			fprintf(stderr, "spawnloop: posix_spawn %s: %s\n", argv[2], strerror(e));
			return 1;
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	}
	return 0;
}
