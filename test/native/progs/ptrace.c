/* PTRACE_ATTACH to the pid in argv[1]. */
#include "result.h"
#include <sys/ptrace.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	long r = ptrace(PTRACE_ATTACH, atoi(argv[1]), 0, 0);
	return r < 0 ? result_errno("ptrace", errno) : result_ok("ptrace");
}
