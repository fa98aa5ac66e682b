/* PR_SET_DUMPABLE 0, then exec argv[1] (as ssh or gpg-agent do before running helpers). */
#include "result.h"
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	execv(argv[1], argv + 1);
	return result_errno("execv", errno);
}
