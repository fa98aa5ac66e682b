/* Workload for benchmarks: N × (fork, execv PATH, wait); prints the loop's own wall time so that supervisor
 * start-up is not counted. usage: forkexec N PATH */
#include "result.h"
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[1]);
	char *args[] = { argv[2], NULL };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("RESULT forkexec ok elapsed_us=%lld\n",
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	return 0;
}
