/* io_uring_setup(8, params). */
#include "result.h"
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	long r = syscall(__NR_io_uring_setup, 8, &p);
	return r < 0 ? result_errno("io_uring_setup", errno) : result_ok("io_uring_setup");
}
