/* execveat(dirfd of DIR, NAME, {NAME}, environ, flags): usage execat DIR NAME [nofollow] */
#include "result.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int dfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return result_errno("open", errno);
	int flags = argc > 3 && strcmp(argv[3], "nofollow") == 0 ? AT_SYMLINK_NOFOLLOW : 0;
	char *args[] = { argv[2], NULL };
	syscall(__NR_execveat, dfd, argv[2], args, environ, flags);
	return result_errno("execveat", errno);
}
