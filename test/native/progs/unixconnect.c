/* connect() to a unix socket: a path, or @name for the abstract namespace.
 * `unixconnect --listen NAME` instead listens there, prints READY, and accepts until killed. */
#include "result.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	int listening = argc > 2 && strcmp(argv[1], "--listen") == 0;
	if (listening)
		argv++;
	if (argc < 2 || strlen(argv[1]) >= sizeof(a.sun_path))
		return 2;
	strcpy(a.sun_path, argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + strlen(argv[1]) + (argv[1][0] == '@' ? 0 : 1);
	if (argv[1][0] == '@')
		a.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return result_errno("socket", errno);
	if (listening) {
		if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 8) < 0)
			return result_errno("listen", errno);
		printf("READY\n");
		fflush(stdout);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0)
				close(c);
		}
	}
	return connect(fd, (struct sockaddr *)&a, len) < 0 ? result_errno("connect", errno) : result_ok("connect");
}
