/* Exec through /proc magic links in ways a shell cannot (red-team R5):
 *   magicexec thread-files LEADER THREAD [ARGS...]
 *       the leader holds LEADER at fd 10; a second thread unshares its descriptor table, puts THREAD at its own
 *       fd 10 and execs /proc/self/fd/10 — which the kernel resolves through /proc/<tgid>: the leader's table.
 *   magicexec memfd-link SRC LINK [ARGS...]
 *       SRC copied into a memfd (not close-on-exec), LINK made a symlink to /proc/self/fd/<memfd>, execve(LINK).
 *   magicexec at-open DIR NAME [ARGS...]
 *       execveat(open(DIR), NAME) with a dirfd the caller opened for reading (not O_PATH). */
#include "result.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static char **thread_argv;
static const char *thread_file;

static void *thread_main(void *arg)
{
	(void)arg;
	if (unshare(CLONE_FILES) < 0) {
		result_errno("unshare", errno);
		exit(1);
	}
	int fd = open(thread_file, O_RDONLY);
	if (fd < 0 || dup2(fd, 10) < 0) {
		result_errno("thread-open", errno);
		exit(1);
	}
	execve("/proc/self/fd/10", thread_argv, environ);
	result_errno("execve", errno);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	if (strcmp(argv[1], "thread-files") == 0) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0 || dup2(fd, 10) < 0)
			return result_errno("open", errno);
		thread_file = argv[3];
		thread_argv = argv + 3;
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, NULL) != 0)
			return result_errno("pthread_create", errno);
		pthread_join(t, NULL);
		return 1;
	}
	if (strcmp(argv[1], "memfd-link") == 0) {
		struct stat st;
		int src = open(argv[2], O_RDONLY | O_CLOEXEC);
		int mfd = memfd_create("payload", 0);
		if (src < 0 || mfd < 0 || fstat(src, &st) < 0)
			return result_errno("setup", errno);
		if (sendfile(mfd, src, NULL, (size_t)st.st_size) != st.st_size || fchmod(mfd, 0755) < 0)
			return result_errno("copy", errno);
		char target[64];
		snprintf(target, sizeof(target), "/proc/self/fd/%d", mfd);
		unlink(argv[3]);
		if (symlink(target, argv[3]) < 0)
			return result_errno("symlink", errno);
		execve(argv[3], argv + 3, environ);
		return result_errno("execve", errno);
	}
	if (strcmp(argv[1], "at-open") == 0) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return result_errno("open", errno);
		syscall(__NR_execveat, dfd, argv[3], argv + 3, environ, 0);
		return result_errno("execveat", errno);
	}
	return 2;
}
