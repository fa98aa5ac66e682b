/* Where an inet address is, seen from this machine (red-team R105).
 *
 * [loopback] seals the services of this host; the containers and VMs the user runs on it are just as much
 * outside the gate (a Node inspector in a compose service, Jupyter in a Dev Container, a VM's debug port),
 * but they have addresses of their own on subnets that only this machine reaches: behind a bridge
 * (docker0, compose's br-*, podman, cni0, kind, libvirt's virbr0, LXD's lxdbr0), a veth, or a VM's tap. So
 * the kernel is asked, for each destination, which route it takes (RTM_GETROUTE with RTM_F_FIB_MATCH: the
 * route itself, with its prefix length, as `ip route get fibmatch` shows), and the device that route leaves
 * through is classified:
 *
 *   this host   a local or broadcast route (the kernel delivers to this host's sockets: every address of
 *               its interfaces, an AnyIP `local` route)
 *   a guest     a route other than the default one, leaving through a veth (its other end is always on this
 *               machine: a container's network namespace), a tap (the tun driver in layer-2 mode: a VM
 *               monitor here — QEMU, Firecracker, Cloud Hypervisor), macvlan/ipvlan/macvtap/ipvtap (on the
 *               host's side these exist to reach local containers and VMs: the kernel never passes traffic
 *               between a macvlan parent and its children), or a bridge whose ports are all veths, taps or
 *               dummies (an empty docker0 too)
 *   elsewhere   the default route, whatever its device (inside a container eth0 is a veth: the way out is
 *               still the network); a physical NIC, a vlan, bond or team (a LAN); a bridge with such a
 *               port (a host bridge for VMs on the LAN carries the LAN); a tun in layer-3 mode (VPN clients —
 *               OpenVPN, Tailscale, wireguard-go — whose far ends are other machines), wireguard, and
 *               vxlan/geneve/gre/ipip/sit tunnels (other hosts); no route at all (the connect fails anyway)
 *
 * The routes are asked at each call (one netlink round trip, ~10 µs: docs/performance.md), so a container
 * started during the session counts at once; the devices are read again when a route names one not seen yet
 * or the last reading is over a second old (the agent cannot add one: no CAP_NET_ADMIN). */

#include "hostnet.h"
#include "util.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IFF_TUN
#define IFF_TUN 0x0001
#define IFF_TAP 0x0002
#endif

struct link {
	int index, master;
	char name[IF_NAMESIZE];
	char kind[16]; /* IFLA_INFO_KIND; "" for a physical device (and lo) */
	int tun_type;  /* kind "tun": IFF_TUN or IFF_TAP */
};

static struct link *links;
static size_t nlinks, cap_links;
static uint64_t links_at;
static int rt_fd = -1;
static uint32_t rt_seq;

static int rt_socket(void)
{
	if (rt_fd < 0)
		rt_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	return rt_fd;
}

static void parse_linkinfo(struct link *l, struct rtattr *info, int len)
{
	for (struct rtattr *a = info; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_INFO_KIND) {
			size_t n = RTA_PAYLOAD(a) < sizeof(l->kind) ? RTA_PAYLOAD(a) : sizeof(l->kind) - 1;
			memcpy(l->kind, RTA_DATA(a), n);
			l->kind[n] = '\0';
		} else if (a->rta_type == IFLA_INFO_DATA) {
			int dlen = (int)RTA_PAYLOAD(a);
			for (struct rtattr *d = RTA_DATA(a); RTA_OK(d, dlen); d = RTA_NEXT(d, dlen))
				if (d->rta_type == IFLA_TUN_TYPE && RTA_PAYLOAD(d) >= 1)
					l->tun_type = *(const uint8_t *)RTA_DATA(d);
		}
	}
}

/* Every device of this network namespace (an RTM_GETLINK dump). 0, or -errno. */
static int links_read(void)
{
	int fd = rt_socket();
	if (fd < 0)
		return -errno;
	struct {
		struct nlmsghdr nlh;
		struct ifinfomsg i;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			 .nlmsg_seq = ++rt_seq },
		.i = { .ifi_family = AF_UNSPEC },
	};
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return -errno;
	static union {
		char buf[32768];
		struct nlmsghdr align;
	} u;
	nlinks = 0;
	for (;;) {
		ssize_t got = recv(fd, u.buf, sizeof(u.buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != rt_seq)
				continue; /* an answer to an earlier question that was not read to the end */
			if (h->nlmsg_type == NLMSG_DONE) {
				links_at = monotonic_us();
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? e->error : -EIO;
			}
			if (h->nlmsg_type != RTM_NEWLINK)
				continue;
			const struct ifinfomsg *i = NLMSG_DATA(h);
			if (nlinks == cap_links) {
				size_t cap = cap_links ? cap_links * 2 : 64;
				struct link *more = realloc(links, cap * sizeof(*links));
				if (!more)
					return -ENOMEM;
				links = more;
				cap_links = cap;
			}
			struct link *l = &links[nlinks++];
			memset(l, 0, sizeof(*l));
			l->index = i->ifi_index;
			int len = (int)IFLA_PAYLOAD(h);
			for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
				if (a->rta_type == IFLA_IFNAME) {
					size_t n = RTA_PAYLOAD(a) < sizeof(l->name) ? RTA_PAYLOAD(a) : sizeof(l->name) - 1;
					memcpy(l->name, RTA_DATA(a), n);
					l->name[n] = '\0';
				} else if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= 4) {
					l->master = *(const int *)RTA_DATA(a);
				} else if (a->rta_type == IFLA_LINKINFO) {
					parse_linkinfo(l, RTA_DATA(a), (int)RTA_PAYLOAD(a));
				}
			}
		}
	}
}

static const struct link *link_find(int index)
{
	for (size_t i = 0; i < nlinks; i++)
		if (links[i].index == index)
			return &links[i];
	return NULL;
}

/* A device whose other end is on this machine by construction. */
static const char *endpoint_kind(const struct link *l)
{
	static const char *const kinds[] = { "veth", "macvlan", "macvtap", "ipvlan", "ipvtap" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(l->kind, kinds[i]) == 0)
			return kinds[i];
	if (strcmp(l->kind, "tun") == 0 && l->tun_type == IFF_TAP)
		return "tap";
	return NULL;
}

/* What kind of local guest network a device leads to, or NULL when it leads elsewhere. */
static const char *guest_kind(const struct link *l)
{
	const char *k = endpoint_kind(l);
	if (k)
		return k;
	if (strcmp(l->kind, "bridge") != 0)
		return NULL;
	for (size_t i = 0; i < nlinks; i++)
		if (links[i].master == l->index && !endpoint_kind(&links[i]) && strcmp(links[i].kind, "dummy") != 0)
			return NULL; /* a NIC, bond, vlan or tunnel in the bridge: it carries a LAN */
	return "bridge";
}

/* The device (-errno when the devices cannot be read, 0 when it leads elsewhere, 1 when to a guest). */
static int device_is_guest(int index, struct host_route *out)
{
	const struct link *l = link_find(index);
	if (!l || monotonic_us() - links_at > 1000000u) {
		int r = links_read();
		if (r < 0)
			return r;
		l = link_find(index);
	}
	const char *k = l ? guest_kind(l) : NULL;
	if (!k)
		return 0;
	out->kind = k;
	memcpy(out->dev, l->name, sizeof(out->dev));
	return 1;
}

/* plain: the kernel's ordinary lookup (no RTM_F_FIB_MATCH), whose answer names the device it chose. */
static void lookup(int family, const unsigned char *ip, int oif, bool plain, struct host_route *out)
{
	memset(out, 0, sizeof(*out));
	out->where = WHERE_UNKNOWN;
	int fd = rt_socket();
	if (fd < 0) {
		out->err = errno;
		return;
	}
	size_t alen = family == AF_INET ? 4 : 16;
	struct {
		struct nlmsghdr nlh;
		struct rtmsg r;
		char attrs[64];
	} req;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_type = RTM_GETROUTE;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = ++rt_seq;
	req.r.rtm_family = (unsigned char)family;
	req.r.rtm_dst_len = (unsigned char)(alen * 8);
	req.r.rtm_flags = plain ? 0 : RTM_F_FIB_MATCH;
	size_t len = NLMSG_LENGTH(sizeof(struct rtmsg));
	struct rtattr *a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(len));
	a->rta_type = RTA_DST;
	a->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(a), ip, alen);
	len = NLMSG_ALIGN(len) + RTA_ALIGN(a->rta_len);
	if (oif > 0) {
		a = (struct rtattr *)((char *)&req + len);
		a->rta_type = RTA_OIF;
		a->rta_len = (unsigned short)RTA_LENGTH(4);
		memcpy(RTA_DATA(a), &oif, 4);
		len += RTA_ALIGN(a->rta_len);
	}
	req.nlh.nlmsg_len = (uint32_t)len;
	if (send(fd, &req, len, 0) != (ssize_t)len) {
		out->err = errno;
		return;
	}
	union {
		char buf[8192];
		struct nlmsghdr align;
	} u;
	for (;;) {
		ssize_t got = recv(fd, u.buf, sizeof(u.buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			out->err = errno;
			return;
		}
		for (struct nlmsghdr *h = &u.align; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != rt_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error == -ENETUNREACH || e->error == -EHOSTUNREACH || e->error == -ENETDOWN ||
				    e->error == -EACCES /* a prohibit route */ || e->error == -EINVAL /* blackhole */)
					out->where = WHERE_ELSEWHERE; /* the kernel refuses the connect itself */
				else
					out->err = e->error ? -e->error : EIO;
				return;
			}
			if (h->nlmsg_type != RTM_NEWROUTE)
				continue;
			const struct rtmsg *r = NLMSG_DATA(h);
			if (r->rtm_type == RTN_LOCAL || r->rtm_type == RTN_BROADCAST || r->rtm_type == RTN_MULTICAST) {
				out->where = WHERE_SELF;
				return;
			}
			if (!plain && (r->rtm_type != RTN_UNICAST || r->rtm_dst_len == 0)) {
				out->where = WHERE_ELSEWHERE; /* the default route: the way to the network */
				return;
			}
			/* The devices the route leaves through: one, or each of a multipath route's (any guest counts). */
			int dlen = (int)RTM_PAYLOAD(h), devs[32], ndevs = 0;
			bool nh_object = false;
			for (struct rtattr *x = RTM_RTA(r); RTA_OK(x, dlen); x = RTA_NEXT(x, dlen)) {
				if (x->rta_type == RTA_OIF && RTA_PAYLOAD(x) >= 4 && ndevs < 32) {
					memcpy(&devs[ndevs++], RTA_DATA(x), 4);
				} else if (x->rta_type == RTA_MULTIPATH) {
					int mlen = (int)RTA_PAYLOAD(x);
					for (struct rtnexthop *nh = RTA_DATA(x); RTNH_OK(nh, mlen) && ndevs < 32;
					     mlen -= NLMSG_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
						devs[ndevs++] = nh->rtnh_ifindex;
				} else if (x->rta_type == RTA_NH_ID) {
					nh_object = true;
				}
			}
			if (ndevs == 0 && nh_object && !plain) {
				/* A nexthop object (ip nexthop): the match does not name a device; the plain lookup does. */
				lookup(family, ip, oif, true, out);
				return;
			}
			if (ndevs == 0) {
				out->err = ENODEV;
				return;
			}
			for (int i = 0; i < ndevs; i++) {
				int g = device_is_guest(devs[i], out);
				if (g < 0) {
					out->err = -g;
					return;
				}
				if (g > 0) {
					out->where = WHERE_GUEST;
					return;
				}
			}
			out->where = WHERE_ELSEWHERE;
			return;
		}
	}
}

void hostnet_where(int family, const unsigned char *ip, int oif, struct host_route *out)
{
	lookup(family, ip, oif, false, out);
}
