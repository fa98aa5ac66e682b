/* The CONTINUE race: a second thread swaps the path after the supervisor read it. Each try forks a child
 * whose flipper thread keeps rewriting one path buffer between ALLOWED and DENIED while the main thread
 * execs that buffer. The supervisor reads one of the two; the kernel re-reads the buffer after a CONTINUE and
 * may find the other. The child's stdout goes through a pipe: a try "ran the denied program" when MARKER
 * appears in it.
 *
 *   execrace TRIES ALLOWED DENIED MARKER [ARGS...]
 *   RESULT tries=N ran_denied=K exec_failed=F other=O
 *
 * The flipper stores whole 8-byte words: with paths that differ in one word (e.g. /usr/bin/true and
 * /usr/bin/curl) no read is ever torn. */
#include "result.h"
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define WORDS (PATH_MAX / 8)
static uint64_t path[WORDS];      /* the buffer execve reads */
static uint64_t image[2][WORDS];  /* ALLOWED and DENIED, NUL-padded */
static const char *paths[2];
static size_t nwords;

static int delay_us = -1; /* RACE_DELAY_US: swap once, this long after the exec starts (else keep flipping) */
static volatile int go;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *flipper(void *arg)
{
	(void)arg;
	if (delay_us >= 0) {
		while (!go)
			;
		uint64_t until = now_us() + (uint64_t)delay_us;
		while (now_us() < until)
			;
		for (size_t k = 0; k < nwords; k++)
			__atomic_store_n(&path[k], image[1][k], __ATOMIC_RELAXED);
		return NULL;
	}
	for (unsigned i = 0;; i++) {
		/* Whole 8-byte words, atomically: "/usr/bin/true" and "/usr/bin/curl" differ in one word, so every
		 * read finds one path or the other, never a torn mix. */
		for (size_t k = 0; k < nwords; k++)
			if (image[0][k] != image[1][k])
				__atomic_store_n(&path[k], image[i & 1][k], __ATOMIC_RELAXED);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	int tries = atoi(argv[1]);
	const char *d = getenv("RACE_DELAY_US");
	if (d && *d)
		delay_us = atoi(d);
	paths[0] = argv[2];
	paths[1] = argv[3];
	for (int k = 0; k < 2; k++) {
		size_t n = strlen(paths[k]) + 1;
		if (n > sizeof(image[k]))
			return 2;
		memcpy(image[k], paths[k], n);
		if ((n + 7) / 8 > nwords)
			nwords = (n + 7) / 8;
	}
	const char *marker = argv[4];
	char **args = argv + 4; /* args[0] is overwritten with the program name below */
	int ran_denied = 0, failed = 0, other = 0;

	for (int t = 0; t < tries; t++) {
		int fds[2];
		if (pipe(fds) < 0)
			return result_errno("pipe", errno);
		pid_t pid = fork();
		if (pid < 0)
			return result_errno("fork", errno);
		if (pid == 0) {
			close(fds[0]);
			dup2(fds[1], STDOUT_FILENO);
			dup2(fds[1], STDERR_FILENO);
			close(fds[1]);
			memcpy(path, image[0], sizeof(path));
			pthread_t th;
			if (pthread_create(&th, NULL, flipper, NULL) != 0)
				_exit(98);
			usleep(100); /* let the flipper run */
			args[0] = (char *)"racer";
			go = 1;
			syscall(SYS_execve, (char *)path, args, environ);
			_exit(99);
		}
		close(fds[1]);
		char out[4096];
		size_t len = 0;
		ssize_t n;
		while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
			len += (size_t)n;
		out[len] = '\0';
		close(fds[0]);
		int st;
		waitpid(pid, &st, 0);
		if (strstr(out, marker))
			ran_denied++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 99)
			failed++;
		else
			other++;
	}
	printf("RESULT tries=%d ran_denied=%d exec_failed=%d other=%d\n", tries, ran_denied, failed, other);
	return 0;
}
