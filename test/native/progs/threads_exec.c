/* N threads call execve(argv[2]) at the same moment: concurrent notifications from one process.
 * usage: threads_exec N PATH [ARGS...]; prints one RESULT line per thread that got an error. */
#include "result.h"
#include <pthread.h>
#include <unistd.h>

static pthread_barrier_t barrier;
static char **target;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void *run(void *arg)
{
	long i = (long)arg;
	pthread_barrier_wait(&barrier);
	execv(target[0], target);
	int e = errno;
	pthread_mutex_lock(&lock);
	printf("RESULT thread=%ld errno=%s\n", i, errname(e));
	fflush(stdout);
	failures++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int n = atoi(argv[1]);
	pthread_t t[64];
	if (n < 1 || n > 64)
		return 2;
	target = argv + 2;
	pthread_barrier_init(&barrier, NULL, (unsigned)n);
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, run, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("RESULT failures=%d\n", failures);
	return 1;
}
