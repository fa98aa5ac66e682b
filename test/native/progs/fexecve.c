/* fexecve: open argv[1] and run it with execveat(fd, "", argv+1, environ, AT_EMPTY_PATH). */
#include "result.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return result_errno("open", errno);
	syscall(__NR_execveat, fd, "", argv + 2, environ, AT_EMPTY_PATH);
	return result_errno("execveat", errno);
}
