/* Workload for benchmarks: N × (fork, execv PATH, wait). usage: forkexec N PATH */
#include "result.h"
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[1]);
	char *args[] = { argv[2], NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return result_errno("fork", errno);
		if (pid == 0) {
			execv(argv[2], args);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("RESULT iteration=%ld status=%d\n", i, st);
			return 1;
		}
	}
	return result_ok("forkexec");
}
