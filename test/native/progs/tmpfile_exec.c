/* Copy a program into an unnamed file (O_TMPFILE) in DIR and execute it by descriptor: an executable that
 * never had a name. usage: tmpfile_exec DIR PATH [ARGS...] */
#include "result.h"
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct stat st;
	if (argc < 3)
		return 2;
	int src = open(argv[2], O_RDONLY | O_CLOEXEC);
	int tfd = open(argv[1], O_TMPFILE | O_RDWR | O_CLOEXEC, 0755);
	if (src < 0 || tfd < 0 || fstat(src, &st) < 0)
		return result_errno("setup", errno);
	if (sendfile(tfd, src, NULL, (size_t)st.st_size) != st.st_size)
		return result_errno("sendfile", errno);
	/* A file open for writing cannot be executed (ETXTBSY): reopen it read-only through /proc. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tfd);
	int rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return result_errno("reopen", errno);
	close(tfd);
	syscall(__NR_execveat, rfd, "", argv + 2, environ, AT_EMPTY_PATH);
	return result_errno("execveat", errno);
}
