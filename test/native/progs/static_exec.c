/* A statically linked program that execs argv[1] with argv[1...]. */
#include "result.h"
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	execv(argv[1], argv + 1);
	return result_errno("execv", errno);
}
