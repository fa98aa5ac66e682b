/* kill(argv[1], argv[2] or 0). */
#include "result.h"
#include <signal.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int sig = argc > 2 ? atoi(argv[2]) : 0;
	return kill(atoi(argv[1]), sig) < 0 ? result_errno("kill", errno) : result_ok("kill");
}
