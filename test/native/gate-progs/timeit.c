/* Benchmark wrapper: run argv[1...] as a child and print its wall time, so a gated run is timed from inside
 * the sandbox (excluding the gate's own start-up) exactly as an ungated one.
 * Prints "TIMEIT_NS <ns> STATUS <exit status or 128+signal> CPU_US <user + system µs of the child and its
 * descendants>" on stdout. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	int st;
	if (argc < 2)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "timeit: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	struct rusage ru;
	/* wait4: the child's rusage includes its waited-for descendants (the gate's supervisor and the agent). */
	wait4(pid, &st, 0, &ru);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	printf("TIMEIT_NS %lld STATUS %d CPU_US %lld\n", ns, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), cpu);
	return 0;
}
