/* N × fork, then in the child a thread pelts the exec'ing thread with SIGURG (handler, SA_RESTART) while it
 * waits for the verdict: without WAIT_KILLABLE_RECV each signal interrupts and restarts the execve, so the
 * same logical exec is notified again. usage: sigexec N PATH */
#include "result.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t main_tid;

static void on_urg(int sig)
{
	(void)sig;
}

static void *pelt(void *arg)
{
	(void)arg;
	for (;;) {
		syscall(SYS_tgkill, getpid(), main_tid, SIGURG);
		usleep(500);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[1]);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct sigaction sa = { .sa_handler = on_urg, .sa_flags = SA_RESTART };
			pthread_t t;
			sigaction(SIGURG, &sa, NULL);
			main_tid = (pid_t)syscall(SYS_gettid);
			pthread_create(&t, NULL, pelt, NULL);
			char *args[] = { argv[2], NULL };
			execv(argv[2], args);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("RESULT iteration=%ld status=%d\n", i, st);
			return 1;
		}
	}
	return result_ok("sigexec");
}
