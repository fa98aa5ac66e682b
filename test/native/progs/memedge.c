/* execve with arguments placed at awkward addresses.
 *   memedge edge     path and argv[0] end exactly at the end of a page followed by an unmapped page
 *                    (a read that runs past the NUL would fault): runs /usr/bin/true
 *   memedge badpath  path pointer is unmapped: EFAULT
 *   memedge badargv  argv pointer is unmapped: EFAULT
 *   memedge longpath a path longer than PATH_MAX: ENAMETOOLONG */
#include "result.h"
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	long page = sysconf(_SC_PAGESIZE);
	char *two = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two == MAP_FAILED)
		return result_errno("mmap", errno);
	munmap(two + page, (size_t)page);
	char *unmapped = two + page;
	const char *target = "/usr/bin/true";
	if (strcmp(argv[1], "edge") == 0) {
		size_t n = strlen(target) + 1;
		char *path = unmapped - n;
		memcpy(path, target, n);
		/* argv = { path, NULL }, just below the path */
		char **args = (char **)(path - 64);
		args = (char **)((uintptr_t)args & ~(uintptr_t)7);
		args[0] = path;
		args[1] = NULL;
		syscall(SYS_execve, path, args, environ);
		return result_errno("execve", errno);
	}
	if (strcmp(argv[1], "badpath") == 0) {
		char *args[] = { "x", NULL };
		syscall(SYS_execve, unmapped, args, environ);
		return result_errno("execve", errno);
	}
	if (strcmp(argv[1], "badargv") == 0) {
		syscall(SYS_execve, target, (char **)unmapped, environ);
		return result_errno("execve", errno);
	}
	if (strcmp(argv[1], "longpath") == 0) {
		static char path[PATH_MAX + 100];
		memset(path, 'a', sizeof(path) - 1);
		path[0] = '/';
		char *args[] = { path, NULL };
		syscall(SYS_execve, path, args, environ);
		return result_errno("execve", errno);
	}
	return 2;
}
