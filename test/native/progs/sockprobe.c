/* Socket probes for the sealing tests (gate-unix-sockets, gate-network): one operation per run, one RESULT
 * line per step. Addresses: a path or @abstract for unix; HOST PORT for inet (IPv4 or IPv6 literals).
 *
 *   sockprobe serve stream|seqpacket|dgram NAME   listen (outside the gate, started by the test): prints
 *                                                 READY, then "ACCEPT n" / "DGRAM <text>" per client; sends
 *                                                 "outside" to each stream/seqpacket client
 *   sockprobe unix-connect stream|seqpacket NAME   connect, read what the server says
 *   sockprobe unix-dgram-send NAME TEXT            a datagram socket, sendto NAME
 *   sockprobe unix-dgram-pair                      socketpair(AF_UNIX, SOCK_DGRAM)
 *   sockprobe unix-own stream|seqpacket NAME       bind+listen NAME, fork a client that connects, exchange
 *   sockprobe pair                                 socketpair(AF_UNIX, SOCK_STREAM), exchange
 *   sockprobe tcp-connect HOST PORT                connect, read
 *   sockprobe tcp-fastopen HOST PORT               sendto(MSG_FASTOPEN) on a fresh TCP socket
 *   sockprobe tcp-fastopen-msg HOST PORT           sendmsg(MSG_FASTOPEN)
 *   sockprobe tcp-fastopen-opt HOST PORT           setsockopt(TCP_FASTOPEN_CONNECT), then connect + write
 *   sockprobe mptcp HOST PORT                      socket(…, IPPROTO_MPTCP), connect
 *   sockprobe socket-kind raw|packet|ping|sctp|udplite|vsock|bluetooth|inet-seqpacket|netlink|can|alg
 *   sockprobe udp-sendto HOST PORT TEXT            unconnected socket, sendto
 *   sockprobe udp-connect HOST PORT TEXT           connect, send
 *   sockprobe udp-sendmsg HOST PORT TEXT           sendmsg with msg_name
 *   sockprobe udp-sendmmsg HOST PORT TEXT          sendmmsg, two messages with msg_name
 *   sockprobe udp-redirect HOST PORT1 PORT2 TEXT   connect to PORT1, then sendto PORT2 (an address overrides)
 *   sockprobe listen-unbound                       listen without bind; prints the port it got
 *   sockprobe listen-port0                         bind port 0, listen
 */
#include "result.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static socklen_t unix_addr(const char *name, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n >= sizeof(a->sun_path))
		exit(2);
	memcpy(a->sun_path, name, n);
	if (name[0] == '@') {
		a->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static socklen_t inet_addr6(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)atoi(port));
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)atoi(port));
		return sizeof(*a6);
	}
	exit(2);
}

static int type_of(const char *t)
{
	return strcmp(t, "seqpacket") == 0 ? SOCK_SEQPACKET : strcmp(t, "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM;
}

static int read_some(int fd, const char *what)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return result_errno(what, errno);
	buf[n] = '\0';
	printf("RESULT %s ok read=%s\n", what, buf);
	fflush(stdout);
	return 0;
}

static int serve(const char *type, const char *name)
{
	struct sockaddr_un a;
	socklen_t len = unix_addr(name, &a);
	int t = type_of(type);
	int fd = socket(AF_UNIX, t, 0);
	if (name[0] != '@')
		unlink(name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 || (t != SOCK_DGRAM && listen(fd, 64) < 0))
		return result_errno("serve", errno);
	printf("READY\n");
	fflush(stdout);
	for (unsigned n = 1;; n++) {
		if (t == SOCK_DGRAM) {
			char buf[256];
			ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
			if (got < 0)
				continue;
			buf[got] = '\0';
			printf("DGRAM %s\n", buf);
		} else {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			printf("ACCEPT %u\n", n);
			/* A client may be gone already (the race tests close at once): no SIGPIPE for that. */
			send(c, "outside", 7, MSG_NOSIGNAL);
			close(c);
		}
		fflush(stdout);
	}
}

static int own(const char *type, const char *name)
{
	struct sockaddr_un a;
	socklen_t len = unix_addr(name, &a);
	int t = type_of(type);
	int fd = socket(AF_UNIX, t, 0);
	if (name[0] != '@')
		unlink(name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0)
		return result_errno("bind", errno);
	if (listen(fd, 8) < 0)
		return result_errno("listen", errno);
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, t, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			_exit(result_errno("connect", errno));
		_exit(read_some(c, "connect"));
	}
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		return result_errno("accept", errno);
	if (write(c, "own", 3) < 0)
		return result_errno("write", errno);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int socket_kind(const char *k)
{
	static const struct {
		const char *name;
		int domain, type, proto;
	} kinds[] = {
		{ "raw", AF_INET, SOCK_RAW, IPPROTO_ICMP },
		{ "raw6", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6 },
		{ "packet", AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */ },
		{ "packet-dgram", AF_PACKET, SOCK_DGRAM, 0 },
		{ "ping", AF_INET, SOCK_DGRAM, IPPROTO_ICMP },
		{ "ping6", AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6 },
		{ "sctp", AF_INET, SOCK_STREAM, 132 },
		{ "sctp-seqpacket", AF_INET, SOCK_SEQPACKET, 132 },
		{ "udplite", AF_INET, SOCK_DGRAM, 136 },
		{ "mptcp6", AF_INET6, SOCK_STREAM, IPPROTO_MPTCP },
		{ "smc", AF_INET, SOCK_STREAM, 256 },
		{ "vsock", 40 /* AF_VSOCK */, SOCK_STREAM, 0 },
		{ "bluetooth", 31 /* AF_BLUETOOTH */, SOCK_STREAM, 0 },
		{ "can", 29 /* AF_CAN */, SOCK_RAW, 1 },
		{ "alg", 38 /* AF_ALG */, SOCK_SEQPACKET, 0 },
		{ "tipc", 30 /* AF_TIPC */, SOCK_RDM, 0 },
		{ "inet-seqpacket", AF_INET, SOCK_SEQPACKET, 0 },
		{ "udp", AF_INET, SOCK_DGRAM, 0 },
		{ "tcp", AF_INET, SOCK_STREAM, 0 },
		{ "tcp6", AF_INET6, SOCK_STREAM, IPPROTO_TCP },
		{ "netlink", AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */ },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].name, k) != 0)
			continue;
		/* SOCK_CLOEXEC in the type: the filter must look at the type's low bits only. */
		int fd = socket(kinds[i].domain, kinds[i].type | SOCK_CLOEXEC, kinds[i].proto);
		return fd < 0 ? result_errno("socket", errno) : result_ok("socket");
	}
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *op = argv[1];
	struct sockaddr_un un;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (strcmp(op, "serve") == 0 && argc == 4)
		return serve(argv[2], argv[3]);
	if (strcmp(op, "unix-own") == 0 && argc == 4)
		return own(argv[2], argv[3]);
	if (strcmp(op, "unix-connect") == 0 && argc == 4) {
		len = unix_addr(argv[3], &un);
		fd = socket(AF_UNIX, type_of(argv[2]), 0);
		if (connect(fd, (struct sockaddr *)&un, len) < 0)
			return result_errno("connect", errno);
		return read_some(fd, "connect");
	}
	if (strcmp(op, "unix-dgram-send") == 0 && argc == 4) {
		len = unix_addr(argv[2], &un);
		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (fd < 0)
			return result_errno("socket", errno);
		return sendto(fd, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&un, len) < 0 ? result_errno("sendto", errno)
												: result_ok("sendto");
	}
	if (strcmp(op, "unix-dgram-pair") == 0) {
		int sv[2];
		return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0 ? result_errno("socketpair", errno)
										     : result_ok("socketpair");
	}
	if (strcmp(op, "pair") == 0) {
		int sv[2];
		char buf[8] = "";
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return result_errno("socketpair", errno);
		if (write(sv[0], "pair", 4) != 4 || read(sv[1], buf, 4) != 4 || strcmp(buf, "pair") != 0)
			return result_errno("socketpair", EIO);
		return result_ok("socketpair");
	}
	if (strcmp(op, "socket-kind") == 0 && argc == 3)
		return socket_kind(argv[2]);
	if (strcmp(op, "listen-unbound") == 0 || strcmp(op, "listen-port0") == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (op[7] == 'p' && bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return result_errno("bind", errno);
		if (listen(fd, 8) < 0)
			return result_errno("listen", errno);
		len = sizeof(a);
		getsockname(fd, (struct sockaddr *)&a, &len);
		printf("RESULT listen ok port=%u\n", ntohs(a.sin_port));
		return 0;
	}
	if (argc < 4)
		return 2;
	len = inet_addr6(argv[2], argv[3], &ss);
	int family = ss.ss_family;
	if (strcmp(op, "tcp-connect") == 0) {
		fd = socket(family, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return result_errno("connect", errno);
		return read_some(fd, "connect");
	}
	if (strcmp(op, "mptcp") == 0) {
		fd = socket(family, SOCK_STREAM, IPPROTO_MPTCP);
		if (fd < 0)
			return result_errno("socket", errno);
		return connect(fd, (struct sockaddr *)&ss, len) < 0 ? result_errno("connect", errno) : result_ok("connect");
	}
	if (strcmp(op, "tcp-fastopen") == 0) {
		fd = socket(family, SOCK_STREAM, 0);
		return sendto(fd, "GET", 3, MSG_FASTOPEN, (struct sockaddr *)&ss, len) < 0 ? result_errno("sendto", errno)
											     : result_ok("sendto");
	}
	if (strcmp(op, "tcp-fastopen-msg") == 0) {
		fd = socket(family, SOCK_STREAM, 0);
		struct iovec iov = { "GET", 3 };
		struct msghdr m = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
		return sendmsg(fd, &m, MSG_FASTOPEN) < 0 ? result_errno("sendmsg", errno) : result_ok("sendmsg");
	}
	if (strcmp(op, "tcp-fastopen-opt") == 0) {
		fd = socket(family, SOCK_STREAM, 0);
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) < 0)
			return result_errno("setsockopt", errno);
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return result_errno("connect", errno);
		return write(fd, "GET", 3) < 0 ? result_errno("write", errno) : result_ok("write");
	}
	const char *text = argc > 4 ? argv[argc - 1] : "udp";
	fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return result_errno("socket", errno);
	if (strcmp(op, "udp-sendto") == 0)
		return sendto(fd, text, strlen(text), 0, (struct sockaddr *)&ss, len) < 0 ? result_errno("sendto", errno)
											   : result_ok("sendto");
	if (strcmp(op, "udp-connect") == 0) {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return result_errno("connect", errno);
		return send(fd, text, strlen(text), 0) < 0 ? result_errno("send", errno) : result_ok("send");
	}
	if (strcmp(op, "udp-sendmsg") == 0) {
		struct iovec iov = { (void *)text, strlen(text) };
		struct msghdr m = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
		return sendmsg(fd, &m, 0) < 0 ? result_errno("sendmsg", errno) : result_ok("sendmsg");
	}
	if (strcmp(op, "udp-sendmmsg") == 0) {
		struct iovec iov = { (void *)text, strlen(text) };
		struct mmsghdr mm[2] = {
			{ .msg_hdr = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 } },
			{ .msg_hdr = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 } },
		};
		int n = sendmmsg(fd, mm, 2, 0);
		if (n < 0)
			return result_errno("sendmmsg", errno);
		printf("RESULT sendmmsg ok sent=%d len=%u,%u\n", n, mm[0].msg_len, mm[1].msg_len);
		return 0;
	}
	if (strcmp(op, "udp-redirect") == 0 && argc == 6) {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return result_errno("connect", errno);
		struct sockaddr_storage other;
		socklen_t olen = inet_addr6(argv[2], argv[4], &other);
		return sendto(fd, text, strlen(text), 0, (struct sockaddr *)&other, olen) < 0 ? result_errno("sendto", errno)
											       : result_ok("sendto");
	}
	return 2;
}
