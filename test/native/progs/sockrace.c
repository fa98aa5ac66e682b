/* A hostile multi-threaded agent against socket mediation: while one thread connects (or sends), others
 * rewrite the address in memory and re-point the descriptor number at another socket, as fast as they can.
 * A check that let the kernel re-read either (a seccomp CONTINUE) would lose some of these races.
 *
 *   sockrace addr ALLOWED OUTSIDE SECONDS      connect to a sockaddr_un flipping between two paths
 *   sockrace fd HOST PORT OUTSIDE SECONDS      connect(100, addr): fd 100 flips between a TCP and a unix
 *                                              socket (dup2), addr between HOST:PORT and OUTSIDE
 *   sockrace udp HOST PORT1 PORT2 SECONDS      sendmsg whose msg_name flips between PORT1 and PORT2
 *   sockrace tcp HOST PORT1 PORT2 SECONDS      connect to a sockaddr_in flipping between PORT1 and PORT2
 *
 * Prints "RESULT race ok tries=N connected=M": the tests count what reached each server themselves. */
#include "result.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FD 100

static atomic_bool stop;
static union {
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	struct sockaddr_in in;
} shared;
static struct sockaddr_un un_a, un_b;
static struct sockaddr_in in_a, in_b;
static const char *mode;

static void set_un(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof(a->sun_path) - 1);
}

static void set_in(struct sockaddr_in *a, const char *host, const char *port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(port));
	inet_pton(AF_INET, host, &a->sin_addr);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Rewrite the shared address, byte by byte and whole, without pause. */
static void *flip_addr(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
		if (strcmp(mode, "addr") == 0)
			memcpy(&shared.un, i & 1 ? &un_b : &un_a, sizeof(shared.un));
		else if (strcmp(mode, "fd") == 0)
			i & 1 ? memcpy(&shared.un, &un_b, sizeof(un_b)) : (void)memcpy(&shared.in, &in_a, sizeof(in_a));
		else
			memcpy(&shared.in, i & 1 ? &in_b : &in_a, sizeof(shared.in));
	}
	return NULL;
}

/* Re-point descriptor FD at a fresh TCP or unix socket, alternately. */
static void *flip_fd(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
		int s = socket(i & 1 ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
		if (s >= 0) {
			dup2(s, FD);
			close(s);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	mode = argv[1];
	double seconds;
	if (strcmp(mode, "addr") == 0 && argc == 5) {
		set_un(&un_a, argv[2]);
		set_un(&un_b, argv[3]);
		memcpy(&shared.un, &un_a, sizeof(un_a));
		seconds = atof(argv[4]);
	} else if (strcmp(mode, "fd") == 0 && argc == 6) {
		set_in(&in_a, argv[2], argv[3]);
		set_un(&un_b, argv[4]);
		memcpy(&shared.in, &in_a, sizeof(in_a));
		seconds = atof(argv[5]);
	} else if ((strcmp(mode, "udp") == 0 || strcmp(mode, "tcp") == 0) && argc == 6) {
		set_in(&in_a, argv[2], argv[3]);
		set_in(&in_b, argv[2], argv[4]);
		memcpy(&shared.in, &in_a, sizeof(in_a));
		seconds = atof(argv[5]);
	} else {
		return 2;
	}
	pthread_t t1, t2;
	pthread_create(&t1, NULL, flip_addr, NULL);
	bool fdrace = strcmp(mode, "fd") == 0;
	if (fdrace)
		pthread_create(&t2, NULL, flip_fd, NULL);
	unsigned long tries = 0, ok = 0;
	int udp = strcmp(mode, "udp") == 0 ? socket(AF_INET, SOCK_DGRAM, 0) : -1;
	double end = now() + seconds;
	while (now() < end) {
		tries++;
		if (udp >= 0) {
			struct iovec iov = { "race", 4 };
			struct msghdr m = { .msg_name = &shared, .msg_namelen = sizeof(struct sockaddr_in), .msg_iov = &iov, .msg_iovlen = 1 };
			ok += sendmsg(udp, &m, 0) == 4;
		} else if (fdrace) {
			ok += connect(FD, (struct sockaddr *)&shared, sizeof(shared.ss)) == 0;
		} else if (strcmp(mode, "tcp") == 0) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			ok += connect(s, (struct sockaddr *)&shared, sizeof(shared.in)) == 0;
			close(s);
		} else {
			int s = socket(AF_UNIX, SOCK_STREAM, 0);
			ok += connect(s, (struct sockaddr *)&shared, sizeof(shared.un)) == 0;
			close(s);
		}
	}
	atomic_store(&stop, true);
	pthread_join(t1, NULL);
	if (fdrace)
		pthread_join(t2, NULL);
	printf("RESULT race ok tries=%lu connected=%lu\n", tries, ok);
	return 0;
}
