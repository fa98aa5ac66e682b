/* process_vm_readv of 8 bytes of our own stack from the pid in argv[1] (any address: the call is refused
 * before the address matters). */
#include "result.h"
#include <sys/uio.h>

int main(int argc, char **argv)
{
	char buf[8], *probe = buf;
	if (argc < 2)
		return 2;
	struct iovec l = { buf, sizeof(buf) }, r = { &probe, sizeof(buf) };
	ssize_t n = process_vm_readv(atoi(argv[1]), &l, 1, &r, 1, 0);
	return n < 0 ? result_errno("process_vm_readv", errno) : result_ok("process_vm_readv");
}
