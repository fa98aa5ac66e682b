/* The approval swap (red-team R47): one thread execs PATH with argv {NAME, "--version"} from writable buffers;
 * a second thread, DELAY_MS later (while the user reads the question), rewrites the path and argv in place to
 * NEWPATH NEWARG. usage: askswap DELAY_MS PATH NEWPATH NEWARG */
#include "result.h"
#include <pthread.h>
#include <unistd.h>

extern char **environ;

static char path[256], a0[256], a1[256];
static char *args[] = { a0, a1, NULL };
static const char *newpath, *newarg;
static unsigned delay_ms;

static void *swapper(void *arg)
{
	(void)arg;
	usleep(delay_ms * 1000u);
	const char *slash = strrchr(newpath, '/');
	snprintf(a0, sizeof(a0), "%s", slash ? slash + 1 : newpath);
	snprintf(a1, sizeof(a1), "%s", newarg);
	snprintf(path, sizeof(path), "%s", newpath);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	delay_ms = (unsigned)atoi(argv[1]);
	newpath = argv[3];
	newarg = argv[4];
	snprintf(path, sizeof(path), "%s", argv[2]);
	const char *slash = strrchr(argv[2], '/');
	snprintf(a0, sizeof(a0), "%s", slash ? slash + 1 : argv[2]);
	snprintf(a1, sizeof(a1), "--version");
	pthread_t t;
	if (pthread_create(&t, NULL, swapper, NULL) != 0)
		return result_errno("pthread_create", errno);
	execve(path, args, environ);
	return result_errno("execve", errno);
}
