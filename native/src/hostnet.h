/* Where an inet address is, seen from this machine: one of its own, a container or VM it runs (behind a
 * virtual device it owns), or elsewhere. Facts for [loopback] (red-team R59, R105); sockets.c decides. */
#ifndef AGENT_GATE_HOSTNET_H
#define AGENT_GATE_HOSTNET_H

#include <net/if.h>
#include <stdbool.h>

enum host_where {
	WHERE_ELSEWHERE = 0, /* another host, or no route at all (the kernel refuses the connect itself) */
	WHERE_SELF,	     /* delivered to this host's own sockets (a local or broadcast route) */
	WHERE_GUEST,	     /* a container or VM on this machine: the route leaves through a local virtual device */
	WHERE_UNKNOWN,	     /* the routing table or the devices could not be read (callers fail closed) */
};

struct host_route {
	enum host_where where;
	char dev[IF_NAMESIZE]; /* WHERE_GUEST: the device the route leaves through */
	const char *kind;      /* WHERE_GUEST: what it is ("bridge", "veth", "tap", "macvlan"…) */
	int err;	       /* WHERE_UNKNOWN: the errno */
};

/* Where ip (family AF_INET: 4 bytes, AF_INET6: 16) is for a socket whose packets leave through device oif
 * (0: any; a socket's SO_BINDTODEVICE, an IPv6 link-local address's scope): the route the kernel would take,
 * asked of it (RTM_GETROUTE with RTM_F_FIB_MATCH, what `ip route get fibmatch` asks) at each call, so a
 * container started after the session began counts at once. */
void hostnet_where(int family, const unsigned char *ip, int oif, struct host_route *out);

#endif
