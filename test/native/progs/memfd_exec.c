/* Copy argv[1] into a memfd and fexecve it (the classic fileless exec). usage: memfd_exec PATH [ARGS...] */
#include "result.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct stat st;
	if (argc < 2)
		return 2;
	int src = open(argv[1], O_RDONLY | O_CLOEXEC);
	int mfd = memfd_create("payload", MFD_CLOEXEC);
	if (src < 0 || mfd < 0 || fstat(src, &st) < 0)
		return result_errno("setup", errno);
	if (sendfile(mfd, src, NULL, (size_t)st.st_size) != st.st_size)
		return result_errno("sendfile", errno);
	syscall(__NR_execveat, mfd, "", argv + 1, environ, AT_EMPTY_PATH);
	return result_errno("execveat", errno);
}
