// Red team 4: the agent program's very first instructions (static: nothing runs before main) create FILE
// (argv[1], its parent directory made first) holding LINE (argv[2]), then it stays 1.5 s. Under the gate the
// guard's snapshot must already be taken: the file is one the guard puts back (gate-redteam-4.test.ts).
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	char dir[4096];
	strncpy(dir, argv[1], sizeof dir - 1);
	dir[sizeof dir - 1] = 0;
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) return 3;
	size_t n = strlen(argv[2]);
	if (write(fd, argv[2], n) != (ssize_t)n || write(fd, "\n", 1) != 1) return 4;
	close(fd);
	usleep(1500000);
	return 0;
}
