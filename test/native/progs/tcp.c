/* tcp connect PORT | tcp bind PORT, on 127.0.0.1. */
#include "result.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return result_errno("socket", errno);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (strcmp(argv[1], "bind") == 0)
		return bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? result_errno("bind", errno) : result_ok("bind");
	return connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? result_errno("connect", errno) : result_ok("connect");
}
