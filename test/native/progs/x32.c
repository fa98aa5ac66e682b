/* An x32 ABI syscall (getpid | __X32_SYSCALL_BIT). */
#include "result.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long r = syscall(0x40000000 | __NR_getpid);
	return r < 0 ? result_errno("x32", errno) : result_ok("x32");
}
